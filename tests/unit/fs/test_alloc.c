/* test_alloc.c - the block allocator: contiguity, 2 MiB alignment, ENOSPC, reuse after commit,
 * freed blocks before untouched ones */
#include "fixture.h"
#include "peek.h"
#include "fs/internal.h"

#define MB (1024ull * 1024)

static int alloc(struct dfs *fs, uint64_t goal, uint64_t want, uint64_t min, unsigned flags,
		 uint64_t *pblk, uint64_t *len)
{
	pthread_mutex_lock(&fs->meta);
	int err = dfs_alloc(fs, goal, want, min, flags, pblk, len);
	pthread_mutex_unlock(&fs->meta);
	return err;
}

static int test_alloc_consecutive_requests_are_contiguous(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	uint64_t a, al, b, bl;

	CHECK(fs);
	CHECK_EQ(alloc(*fs, 0, 10, 10, 0, &a, &al), 0);
	CHECK_EQ(alloc(*fs, a + al, 10, 10, 0, &b, &bl), 0);
	CHECK_EQ(al, 10);
	CHECK_EQ(b, a + 10);
	return T_PASS;
}

static int test_alloc_aligned_start_is_2mib_aligned(void)
{
	struct dfs **fs = t_newfs(256 * MB, NULL);
	uint64_t p, l, q, m;

	CHECK(fs);
	CHECK_EQ(alloc(*fs, 0, 3, 3, 0, &q, &m), 0);    /* break alignment first */
	CHECK_EQ(alloc(*fs, 0, 1024, 1024, DFS_ALLOC_ALIGN, &p, &l), 0);
	CHECK_EQ(l, 1024);
	CHECK_EQ(p % 512, 0);
	return T_PASS;
}

static int test_large_file_extents_are_2mib_aligned(void)
{
	struct dfs **fs = t_newfs(256 * MB, NULL);
	struct dfs_iomap m;

	CHECK(fs);
	uint64_t small = t_create(*fs, DFS_ROOT_INO, "small");
	CHECK_EQ(dfs_pwrite(*fs, small, "x", 1, 0, 0), 1);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "big");
	CHECK_EQ(dfs_fallocate(*fs, ino, 0, 0, 8 * MB), 0);
	CHECK_EQ(dfs_iomap_begin(*fs, ino, 0, 8 * MB, DFS_IOMAP_REPORT, &m), 0);
	CHECK_EQ(m.addr % (2 * MB), 0);
	CHECK_EQ(m.length, 8 * MB);     /* one extent */
	return T_PASS;
}

static int test_alloc_exhausted_gives_enospc(void)
{
	struct dfs **fs = t_newfs(16 * MB, NULL);
	uint64_t p, l, total = 0;
	int err;

	CHECK(fs);
	while ((err = alloc(*fs, 0, 1024, 1, 0, &p, &l)) == 0)
		total += l;
	CHECK_EQ(err, -ENOSPC);
	CHECK(total > 2000);
	/* what is left is the reserve: 2% of 4096 blocks */
	CHECK_EQ((*fs)->resv_blocks, 4096 / 50);
	CHECK_EQ((*fs)->free_blocks, (*fs)->resv_blocks);
	while ((err = alloc(*fs, 0, 1024, 1, DFS_ALLOC_RESERVE, &p, &l)) == 0)
		total += l;
	CHECK_EQ(err, -ENOSPC);
	CHECK_EQ((*fs)->free_blocks, 0);
	return T_PASS;
}

static int test_freed_blocks_reusable_only_after_commit(void)
{
	struct dfs **fs = t_newfs(16 * MB, NULL);
	uint64_t p, l, q, m;

	CHECK(fs);
	while (alloc(*fs, 0, 1024, 1, 0, &p, &l) == 0)
		;
	pthread_mutex_lock(&(*fs)->meta);
	CHECK_EQ(dfs_free(*fs, p, l), 0);
	pthread_mutex_unlock(&(*fs)->meta);
	/* freed by the running transaction: not yet reusable */
	CHECK_EQ(alloc(*fs, 0, 1, 1, 0, &q, &m), -ENOSPC);
	CHECK_EQ(dfs_sync(*fs), 0);
	CHECK_EQ(alloc(*fs, 0, l, 1, 0, &q, &m), 0);
	CHECK_EQ(q, p);
	return T_PASS;
}

static int test_file_larger_than_a_group_spans_groups_and_fscks_clean(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(512 * MB, &md);
	struct stat st, attr = { .st_size = 0 };

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "huge");
	CHECK_EQ(dfs_fallocate(*fs, ino, 0, 0, 300 * MB), 0);
	CHECK_EQ(dfs_pwrite(*fs, ino, "tail", 4, 300 * MB - 4, 0), 4);
	CHECK_EQ(dfs_getattr(*fs, ino, &st), 0);
	CHECK_EQ(st.st_blocks, 300 * MB / 512);
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(t_fsck_problems(md), 0);
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	CHECK_EQ(dfs_setattr(*fs, ino, &attr, DFS_SET_SIZE, &st), 0);
	CHECK_EQ(st.st_blocks, 0);
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(t_fsck_problems(md), 0);
	return T_PASS;
}

/* A sparse member stays as large as the filesystem was at its fullest: a
 * new file goes where a removed one was, not past the groups it spanned. */
static int test_freed_blocks_are_taken_before_untouched_ones(void)
{
	struct dfs **fs = t_newfs(512 * MB, NULL);
	struct stat st, attr = { .st_size = 0 };

	CHECK(fs);
	uint64_t a = t_create(*fs, DFS_ROOT_INO, "a");
	CHECK_EQ(dfs_fallocate(*fs, a, 0, 0, 300 * MB), 0);     /* groups 0 to 2 */
	uint64_t first = t_first_block(*fs, a);
	CHECK_EQ(dfs_setattr(*fs, a, &attr, DFS_SET_SIZE, &st), 0);
	CHECK_EQ(dfs_sync(*fs), 0);
	uint64_t b = t_create(*fs, DFS_ROOT_INO, "b");
	CHECK_EQ(dfs_fallocate(*fs, b, 0, 0, 64 * MB), 0);
	CHECK_EQ(t_first_block(*fs, b), first);
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_alloc_consecutive_requests_are_contiguous),
	T_CASE(test_alloc_aligned_start_is_2mib_aligned),
	T_CASE(test_large_file_extents_are_2mib_aligned),
	T_CASE(test_alloc_exhausted_gives_enospc),
	T_CASE(test_freed_blocks_reusable_only_after_commit),
	T_CASE(test_file_larger_than_a_group_spans_groups_and_fscks_clean),
	T_CASE(test_freed_blocks_are_taken_before_untouched_ones),
};

T_MAIN(cases)