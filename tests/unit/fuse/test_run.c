/* test_run.c - the daemon's daxfs-run table (fuse/run.c): pending sizes and layout changes, against a real fs */
#include "fixture.h"
#include "fuse/run_internal.h"

#define MB (1024ull * 1024)
#define BLK 4096ull

/* A daemon on a fresh 16 MiB filesystem (in *dfp) and its file "f" as a
 * daxfs-run writer holds it: a lease, its slot (in *slot, served through
 * open file fh 4) and blocks [0, blocks) allocated ahead. Its inode, 0 on
 * failure. */
static uint64_t served_file(struct dfuse **dfp, uint64_t blocks, uint32_t *slot)
{
	struct dfuse *df = *dfp = t_dfuse(16 * MB);
	uint64_t ino = df ? t_create(df->fs, DFS_ROOT_INO, "f") : 0;

	if (!ino || dfs_lease_get(df->fs, ino) || dfuse_run_attach(df, ino, 4, true, slot) ||
	    (blocks && t_alloc_keep_size(df->fs, ino, 0, blocks * BLK)))
		return 0;
	return ino;
}

/* What a daxfs-run write that extends the file to end leaves behind: the
 * pending end raised, the write counted. */
static void pending_write(struct dfuse *df, uint32_t slot, uint64_t end)
{
	struct daxfs_run_pending *pe = &df->run->pend[slot];

	__atomic_store_n(&pe->end, end, __ATOMIC_SEQ_CST);
	__atomic_fetch_add(&pe->writes, 1, __ATOMIC_SEQ_CST);
}

static int truncate_to(struct dfs *fs, uint64_t ino, uint64_t size)
{
	struct stat attr = { .st_size = (off_t)size }, st;

	return dfs_setattr(fs, ino, &attr, DFS_SET_SIZE | DFS_SET_MTIME_NOW, &st);
}

/* A truncate that cuts into the last block keeps its blocks: a request
 * folded on another thread while the truncate has not ended (a RELEASE, a
 * GETATTR) found the claim the truncate's own fold had taken still in the
 * record, took it for a new one and raised the size again. */
static int test_a_fold_during_a_truncate_leaves_the_size_it_set(void)
{
	struct dfuse *df;
	uint32_t slot;
	uint64_t ino = served_file(&df, 4, &slot);

	CHECK(ino);
	pending_write(df, slot, 3 * BLK + 100);
	dfuse_run_fold(df, ino);
	CHECK_EQ(t_size_of(df->fs, ino), 3 * BLK + 100);

	uint64_t gen = __atomic_load_n(&df->run->slots[slot].gen, __ATOMIC_SEQ_CST);
	dfuse_run_layout_begin(df, ino);
	CHECK_EQ(truncate_to(df->fs, ino, 3 * BLK + 50), 0);
	dfuse_run_fold(df, ino);
	CHECK_EQ(t_size_of(df->fs, ino), 3 * BLK + 50);
	dfuse_run_layout_end(df, ino);
	CHECK_EQ(t_size_of(df->fs, ino), 3 * BLK + 50);
	CHECK_EQ(df->run->slots[slot].size, 3 * BLK + 50);
	CHECK_EQ(df->run->slots[slot].gen, gen + 2);
	CHECK_EQ(df->run->pend[slot].end, 0);
	CHECK_STR(t_warnings, "");
	return T_PASS;
}

/* ... and one that cuts blocks away: the stale claim is of blocks the file
 * no longer has, which the fold reported as stores through an out-of-date
 * mapping. */
static int test_a_fold_during_a_truncate_reports_no_stale_claim(void)
{
	struct dfuse *df;
	uint32_t slot;
	uint64_t ino = served_file(&df, 4, &slot);

	CHECK(ino);
	pending_write(df, slot, 3035);
	dfuse_run_fold(df, ino);
	CHECK_EQ(t_size_of(df->fs, ino), 3035);

	dfuse_run_layout_begin(df, ino);
	CHECK_EQ(truncate_to(df->fs, ino, 0), 0);
	dfuse_run_fold(df, ino);
	dfuse_run_layout_end(df, ino);
	CHECK_EQ(t_size_of(df->fs, ino), 0);
	CHECK_STR(t_warnings, "");
	return T_PASS;
}

/* A write that raced the change (its end raised after the change's own
 * fold) is taken back by its writer, which then asks the daemon: a fold
 * meanwhile must not take it over the size the change set. */
static int test_a_claim_raised_during_a_change_waits_for_its_writer(void)
{
	struct dfuse *df;
	uint32_t slot;
	uint64_t ino = served_file(&df, 4, &slot);

	CHECK(ino);
	CHECK_EQ(dfs_write_extend(df->fs, ino, 0, 3 * BLK, DFS_EXTEND_SIZE), 0);
	dfuse_run_publish(df, ino, false);

	dfuse_run_layout_begin(df, ino);
	pending_write(df, slot, 3 * BLK + 10);
	CHECK_EQ(truncate_to(df->fs, ino, 3 * BLK - 10), 0);
	dfuse_run_fold(df, ino);
	CHECK_EQ(t_size_of(df->fs, ino), 3 * BLK - 10);
	dfuse_run_layout_end(df, ino);
	CHECK_EQ(t_size_of(df->fs, ino), 3 * BLK - 10);
	CHECK_STR(t_warnings, "");
	return T_PASS;
}

static uint64_t gen_of(struct dfuse *df, uint32_t slot)
{
	return __atomic_load_n(&df->run->slots[slot].gen, __ATOMIC_SEQ_CST);
}

/* The last lease put while a truncate is in progress (a RELEASE on another
 * thread) frees the slot before the truncate ends: the end must still be
 * counted, or every later change of the inode looks nested in that one and
 * moves no slot's gen, and daxfs-run keeps mapping blocks a truncate took. */
static int test_a_change_whose_slot_went_still_ends(void)
{
	struct dfuse *df;
	uint32_t slot;
	uint64_t ino = served_file(&df, 0, &slot);

	CHECK(ino);
	dfuse_run_layout_begin(df, ino);
	CHECK(gen_of(df, slot) & 1);
	CHECK_EQ(dfs_lease_put(df->fs, ino), 0);
	dfuse_run_released(df, ino, 4, true);
	CHECK_EQ(df->run->slots[slot].ino, 0);
	CHECK_EQ(truncate_to(df->fs, ino, 0), 0);
	dfuse_run_layout_end(df, ino);
	CHECK(!run_find(df->run, ino));         /* nothing needs the record now */

	CHECK_EQ(dfs_lease_get(df->fs, ino), 0);
	CHECK_EQ(dfuse_run_attach(df, ino, 8, true, &slot), 0);
	uint64_t gen = gen_of(df, slot);
	CHECK_EQ(gen & 1, 0);
	dfuse_run_layout_begin(df, ino);
	CHECK_EQ(gen_of(df, slot), gen + 1);
	dfuse_run_layout_end(df, ino);
	CHECK_EQ(gen_of(df, slot), gen + 2);
	CHECK_EQ(dfs_lease_put(df->fs, ino), 0);
	dfuse_run_released(df, ino, 8, true);
	CHECK_STR(t_warnings, "");
	return T_PASS;
}

/* A slot handed out while a change that began on the inode's previous slot
 * is in progress shows the change (gen odd), and its end makes gen even:
 * the other way round every later change would look like none. */
static int test_a_slot_handed_out_during_a_change_shows_it(void)
{
	struct dfuse *df;
	uint32_t slot;
	uint64_t ino = served_file(&df, 0, &slot);

	CHECK(ino);
	dfuse_run_layout_begin(df, ino);
	CHECK_EQ(dfs_lease_put(df->fs, ino), 0);
	dfuse_run_released(df, ino, 4, true);

	CHECK_EQ(dfs_lease_get(df->fs, ino), 0);
	CHECK_EQ(dfuse_run_attach(df, ino, 8, true, &slot), 0);
	CHECK(gen_of(df, slot) & 1);
	CHECK_EQ(truncate_to(df->fs, ino, 0), 0);
	dfuse_run_layout_end(df, ino);
	uint64_t gen = gen_of(df, slot);
	CHECK_EQ(gen & 1, 0);
	dfuse_run_layout_begin(df, ino);
	CHECK_EQ(gen_of(df, slot), gen + 1);
	dfuse_run_layout_end(df, ino);
	CHECK_EQ(gen_of(df, slot), gen + 2);
	CHECK_STR(t_warnings, "");
	return T_PASS;
}

/* ... also when the change began while the inode had no slot, only an open
 * file that can write it (which daxfs-run then takes a lease through). */
static int test_a_slot_handed_out_during_a_change_begun_without_one_shows_it(void)
{
	struct dfuse *df = t_dfuse(16 * MB);
	uint32_t slot;

	CHECK(df);
	uint64_t ino = t_create(df->fs, DFS_ROOT_INO, "f");
	dfuse_run_opened(df, ino, 4, true);
	dfuse_run_layout_begin(df, ino);
	CHECK_EQ(dfs_lease_get(df->fs, ino), 0);
	CHECK_EQ(dfuse_run_attach(df, ino, 4, true, &slot), 0);
	CHECK(gen_of(df, slot) & 1);
	CHECK_EQ(truncate_to(df->fs, ino, 0), 0);
	dfuse_run_layout_end(df, ino);
	CHECK_EQ(gen_of(df, slot) & 1, 0);
	CHECK_EQ(dfs_lease_put(df->fs, ino), 0);
	dfuse_run_released(df, ino, 4, true);
	CHECK_STR(t_warnings, "");
	return T_PASS;
}

/* A writer that dies holding blocks allocated ahead past EOF: at its last
 * lease the daemon gives them back. st_blocks changes with no request of
 * the kernel's about the file, so a GETATTR answered meanwhile must not be
 * cached (timeout 0), and the kernel's copy is dropped once they are back:
 * else stat showed the old st_blocks for the mount's whole attribute
 * timeout (a day by default). */
static int test_blocks_given_back_at_the_last_lease_drop_the_cached_attributes(void)
{
	struct dfuse *df;
	uint32_t slot;
	uint64_t ino = served_file(&df, 0, &slot);
	struct stat st;

	CHECK(ino);
	CHECK_EQ(dfs_alloc_written(df->fs, ino, 0, 512 * BLK, true), 0);
	CHECK_EQ(dfuse_run_ahead(df, ino, 512 * BLK), 0);
	CHECK_EQ(dfs_getattr(df->fs, ino, &st), 0);
	CHECK_EQ(st.st_blocks, 512 * BLK / 512);
	CHECK_EQ(dfuse_run_attr_timeout(df, ino, 60), 0);      /* served: never cached */

	CHECK_EQ(dfs_lease_put(df->fs, ino), 0);
	dfuse_run_released(df, ino, 4, true);
	CHECK_EQ(t_inval.calls, 1);
	CHECK_EQ(t_inval.ino, ino);
	CHECK_EQ(t_inval.off, -1);                              /* the attributes */
	CHECK_EQ(t_inval.attr_timeout, 0);                      /* still giving back */
	CHECK_EQ(dfs_getattr(df->fs, ino, &st), 0);
	CHECK_EQ(st.st_blocks, 0);
	CHECK_EQ(dfuse_run_attr_timeout(df, ino, 60), 60);
	CHECK(!run_find(df->run, ino));         /* nothing needs the record now */
	CHECK_STR(t_warnings, "");
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_a_fold_during_a_truncate_leaves_the_size_it_set),
	T_CASE(test_a_fold_during_a_truncate_reports_no_stale_claim),
	T_CASE(test_a_claim_raised_during_a_change_waits_for_its_writer),
	T_CASE(test_a_change_whose_slot_went_still_ends),
	T_CASE(test_a_slot_handed_out_during_a_change_shows_it),
	T_CASE(test_a_slot_handed_out_during_a_change_begun_without_one_shows_it),
	T_CASE(test_blocks_given_back_at_the_last_lease_drop_the_cached_attributes),
};

T_MAIN(cases)
