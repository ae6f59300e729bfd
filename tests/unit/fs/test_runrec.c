/* test_runrec.c - size records: which ones the next mount applies, and that nothing else counts */
#include <sys/stat.h>

#include "fixture.h"
#include "fs/format.h"
#include "fs/internal.h"

#define MB (1024ull * 1024)
#define BLK 4096ull

/* A file "f" holding "head", with [0, blocks) allocated as written blocks
 * past its size (as daxfs-run's allocation ahead); the fs unmounted, the
 * area and the file's stamp in *a, *ino, *gen, *epoch. */
static int setup(struct mapped_device **md, struct dfs_runrec_area *a, uint64_t *ino,
		 uint32_t *gen, uint32_t *epoch, uint64_t blocks)
{
	struct dfs **fs = t_newfs(16 * MB, md);

	if (!fs || !(*ino = t_create(*fs, DFS_ROOT_INO, "f")) ||
	    dfs_pwrite(*fs, *ino, "head", 4, 0, 0) != 4 ||
	    t_alloc_keep_size(*fs, *ino, 0, blocks * BLK))
		return -1;
	if (dfs_runrec_area(*fs, a) || dfs_size_stamp(*fs, *ino, gen, epoch) || dfs_sync(*fs) ||
	    dfs_unmount(fs))
		return -1;
	*fs = NULL;
	return 0;
}

/* Writes record i of the area (unmounted). */
static int put(struct mapped_device *md, const struct dfs_runrec_area *a, unsigned i,
	       const struct dfs_runrec *r)
{
	uint8_t b[BLK];
	unsigned off = dfs_runrec_offset(i, a->label_sector);

	if (t_rw_block(md, DAX_REQ_READ, a->pos / BLK, b))
		return -1;
	dfs_runrec_encode(r, a->pos + off, b + off);
	return t_rw_block(md, DAX_REQ_WRITE, a->pos / BLK, b);
}

static uint64_t size_after_mount(struct mapped_device *md, uint64_t ino, bool rdonly)
{
	struct dfs_mount_opts o = { .rdonly = rdonly };
	struct dfs **fs = t_mount_opts(md, &o);
	uint64_t size = fs ? t_size_of(*fs, ino) : UINT64_MAX;

	if (fs && dfs_unmount(fs) == 0)
		*fs = NULL;
	return size;
}

static int test_a_record_that_holds_gives_the_file_its_size_at_the_next_mount(void)
{
	struct mapped_device *md;
	struct dfs_runrec_area a;
	uint64_t ino;
	uint32_t gen, epoch;

	CHECK_EQ(setup(&md, &a, &ino, &gen, &epoch, 4), 0);
	CHECK_EQ(a.pairs, DFS_RUNREC_PAIRS);
	/* every place of the area, both of a pair's records */
	for (unsigned i = 0; i < DFS_RUNRECS; i += 11) {
		struct dfs_runrec r = { .ino = ino, .size = 100 + i, .generation = gen,
					.epoch = epoch, .mount_count = a.mount_count };
		CHECK_EQ(put(md, &a, i, &r), 0);
	}
	/* the label beside them still says which member this is */
	CHECK_EQ(size_after_mount(md, ino, false), 100 + 55);
	/* applied once: the next mount's count makes them void, the size stays */
	CHECK_EQ(size_after_mount(md, ino, false), 100 + 55);
	CHECK_EQ(t_fsck_problems(md), 0);
	return T_PASS;
}

static int test_a_record_that_does_not_hold_changes_nothing(void)
{
	struct mapped_device *md;
	struct dfs_runrec_area a;
	uint64_t ino;
	uint32_t gen, epoch;

	CHECK_EQ(setup(&md, &a, &ino, &gen, &epoch, 2), 0);
	const struct dfs_runrec good = { .ino = ino, .size = 5000, .generation = gen, .epoch = epoch,
					 .mount_count = a.mount_count };
	struct dfs_runrec bad[] = { good, good, good, good, good, good, good, good };

	bad[0].mount_count--;            /* an earlier mount's */
	bad[1].generation++;             /* another file in the same slot */
	bad[2].epoch++;                  /* from before a cut, or made up */
	bad[3].size = 3 * BLK;           /* over a hole */
	bad[4].size = 2;                 /* smaller than the size */
	bad[5].ino = DFS_ROOT_INO;       /* a directory */
	bad[6].ino = 9999;               /* a free inode */
	bad[7].size = UINT64_MAX;        /* past any file */
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ(put(md, &a, i, &bad[i]), 0);
	CHECK_EQ(size_after_mount(md, ino, false), 4);
	CHECK_EQ(t_fsck_problems(md), 0);
	return T_PASS;
}

static int test_a_torn_record_is_none_and_its_pair_still_counts(void)
{
	struct mapped_device *md;
	struct dfs_runrec_area a;
	uint64_t ino;
	uint32_t gen, epoch;
	uint8_t b[BLK];

	CHECK_EQ(setup(&md, &a, &ino, &gen, &epoch, 2), 0);
	struct dfs_runrec r = { .ino = ino, .size = 3000, .generation = gen, .epoch = epoch,
				.mount_count = a.mount_count };
	CHECK_EQ(put(md, &a, 0, &r), 0);
	r.size = 6000;
	CHECK_EQ(put(md, &a, 1, &r), 0);
	/* the newer one torn: half of it never reached the media */
	CHECK_EQ(t_rw_block(md, DAX_REQ_READ, a.pos / BLK, b), 0);
	memset(b + dfs_runrec_offset(1, a.label_sector) + 32, 0, 32);
	CHECK_EQ(t_rw_block(md, DAX_REQ_WRITE, a.pos / BLK, b), 0);
	CHECK_EQ(size_after_mount(md, ino, false), 3000);
	return T_PASS;
}

static int test_a_truncate_voids_the_records_before_it(void)
{
	struct mapped_device *md;
	struct dfs_runrec_area a;
	uint64_t ino;
	uint32_t gen, epoch, epoch2;

	CHECK_EQ(setup(&md, &a, &ino, &gen, &epoch, 2), 0);
	struct dfs **fs = t_mount(md);
	struct stat st, attr = { .st_size = 2 };

	CHECK(fs);
	CHECK_EQ(dfs_runrec_area(*fs, &a), 0);
	CHECK_EQ(dfs_setattr(*fs, ino, &attr, DFS_SET_SIZE, &st), 0);
	CHECK_EQ(dfs_size_stamp(*fs, ino, &gen, &epoch2), 0);
	CHECK_EQ(epoch2, epoch + 1);
	/* growing is no cut */
	attr.st_size = 10;
	CHECK_EQ(dfs_setattr(*fs, ino, &attr, DFS_SET_SIZE, &st), 0);
	CHECK_EQ(dfs_size_stamp(*fs, ino, &gen, &epoch2), 0);
	CHECK_EQ(epoch2, epoch + 1);
	CHECK_EQ(dfs_unmount(fs), 0);
	*fs = NULL;
	struct dfs_runrec old = { .ino = ino, .size = 4000, .generation = gen, .epoch = epoch,
				  .mount_count = a.mount_count };
	CHECK_EQ(put(md, &a, 0, &old), 0);
	CHECK_EQ(size_after_mount(md, ino, false), 10);
	return T_PASS;
}

static int test_a_read_only_mount_leaves_them_to_the_next_read_write_one(void)
{
	struct mapped_device *md;
	struct dfs_runrec_area a;
	uint64_t ino;
	uint32_t gen, epoch;

	CHECK_EQ(setup(&md, &a, &ino, &gen, &epoch, 2), 0);
	struct dfs_runrec r = { .ino = ino, .size = 7000, .generation = gen, .epoch = epoch,
				.mount_count = a.mount_count };
	CHECK_EQ(put(md, &a, 5, &r), 0);
	CHECK_EQ(size_after_mount(md, ino, true), 4);
	CHECK_EQ(size_after_mount(md, ino, false), 7000);
	return T_PASS;
}

static int test_garbage_in_the_area_is_no_record(void)
{
	struct mapped_device *md;
	struct dfs_runrec_area a;
	uint64_t ino;
	uint32_t gen, epoch;
	uint8_t b[BLK];

	CHECK_EQ(setup(&md, &a, &ino, &gen, &epoch, 2), 0);
	CHECK_EQ(t_rw_block(md, DAX_REQ_READ, a.pos / BLK, b), 0);
	srand(7);
	for (unsigned i = 0; i < DFS_RUNRECS; i++) {
		uint8_t *p = b + dfs_runrec_offset(i, a.label_sector);

		for (unsigned k = 0; k < DFS_RUNREC_SIZE; k++)
			p[k] = (uint8_t)rand();
		dfs_put32(p + DFS_RUNREC_MAGIC, DFS_RUNREC_MAGIC_V);
	}
	CHECK_EQ(t_rw_block(md, DAX_REQ_WRITE, a.pos / BLK, b), 0);
	CHECK_EQ(size_after_mount(md, ino, false), 4);
	CHECK_EQ(t_fsck_problems(md), 0);
	return T_PASS;
}

static int test_a_read_only_mount_has_no_area(void)
{
	struct mapped_device *md;
	struct dfs_runrec_area a;
	uint64_t ino;
	uint32_t gen, epoch;
	struct dfs_mount_opts o = { .rdonly = true };

	CHECK_EQ(setup(&md, &a, &ino, &gen, &epoch, 1), 0);
	struct dfs **fs = t_mount_opts(md, &o);

	CHECK(fs);
	CHECK_EQ(dfs_runrec_area(*fs, &a), -EROFS);
	return T_PASS;
}

static int test_mkfs_leaves_no_record_of_the_filesystem_made_before(void)
{
	struct mapped_device *md;
	struct dfs_runrec_area a;
	uint64_t ino;
	uint32_t gen, epoch;
	uint8_t b[BLK];

	CHECK_EQ(setup(&md, &a, &ino, &gen, &epoch, 2), 0);
	struct dfs_runrec r = { .ino = ino, .size = 7000, .generation = gen, .epoch = epoch,
				.mount_count = a.mount_count };
	CHECK_EQ(put(md, &a, 3, &r), 0);
	CHECK_EQ(dfs_mkfs(md, &(struct dfs_mkfs_opts){ .force = true }), 0);
	CHECK_EQ(t_rw_block(md, DAX_REQ_READ, a.pos / BLK, b), 0);
	for (unsigned i = 0; i < DFS_RUNRECS; i++)
		for (unsigned k = 0; k < DFS_RUNREC_SIZE; k++)
			CHECK_EQ(b[dfs_runrec_offset(i, a.label_sector) + k], 0);
	return T_PASS;
}

static int test_a_repairing_fsck_applies_them_and_a_checking_one_does_not(void)
{
	struct mapped_device *md;
	struct dfs_runrec_area a;
	struct dfs_fsck_result res;
	uint64_t ino;
	uint32_t gen, epoch;

	CHECK_EQ(setup(&md, &a, &ino, &gen, &epoch, 2), 0);
	struct dfs_runrec r = { .ino = ino, .size = 6000, .generation = gen, .epoch = epoch,
				.mount_count = a.mount_count };
	CHECK_EQ(put(md, &a, 9, &r), 0);
	CHECK_EQ(dfs_fsck(md, DFS_FSCK_CHECK, t_fsck_print, NULL, &res), 0);
	CHECK_EQ(res.problems, 0);
	CHECK_EQ(size_after_mount(md, ino, true), 4);
	CHECK_EQ(dfs_fsck(md, DFS_FSCK_REPAIR, t_fsck_print, NULL, &res), 0);
	CHECK_EQ(res.problems, 0);
	/* applied by fsck: a read-only mount, which applies nothing, sees it */
	CHECK_EQ(size_after_mount(md, ino, true), 6000);
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_a_repairing_fsck_applies_them_and_a_checking_one_does_not),
	T_CASE(test_mkfs_leaves_no_record_of_the_filesystem_made_before),
	T_CASE(test_a_record_that_holds_gives_the_file_its_size_at_the_next_mount),
	T_CASE(test_a_record_that_does_not_hold_changes_nothing),
	T_CASE(test_a_torn_record_is_none_and_its_pair_still_counts),
	T_CASE(test_a_truncate_voids_the_records_before_it),
	T_CASE(test_a_read_only_mount_leaves_them_to_the_next_read_write_one),
	T_CASE(test_garbage_in_the_area_is_no_record),
	T_CASE(test_a_read_only_mount_has_no_area),
};

T_MAIN(cases)
