/* test_direct.c - dfs_write_extend: the metadata of stores a process made through its own mapping */
#include "fixture.h"

#define MB (1024ull * 1024)
#define BLK 4096ull

static int test_size_grows_over_written_blocks_and_the_gap_reads_zero(void)
{
	struct dfs **fs = t_newfs(16 * MB, NULL);
	char buf[3 * BLK];

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK_EQ(dfs_pwrite(*fs, ino, "head", 4, 0, 0), 4);
	CHECK_EQ(t_alloc_keep_size(*fs, ino, 0, 4 * BLK), 0);
	CHECK_EQ(t_size_of(*fs, ino), 4);
	CHECK_EQ(dfs_write_extend(*fs, ino, 2 * BLK, 100, DFS_EXTEND_SIZE | DFS_EXTEND_SYNC), 0);
	CHECK_EQ(t_size_of(*fs, ino), 2 * BLK + 100);
	CHECK_EQ(dfs_pread(*fs, ino, buf, sizeof(buf), 0), (ssize_t)(2 * BLK + 100));
	CHECK(memcmp(buf, "head", 4) == 0);
	for (size_t i = 4; i < 2 * BLK; i++)
		CHECK_EQ(buf[i], 0);
	/* a range inside the size leaves it */
	CHECK_EQ(dfs_write_extend(*fs, ino, 0, 10, DFS_EXTEND_SIZE), 0);
	CHECK_EQ(t_size_of(*fs, ino), 2 * BLK + 100);
	return T_PASS;
}

static int test_a_range_that_is_not_written_blocks_is_estale(void)
{
	struct dfs **fs = t_newfs(16 * MB, NULL);

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK_EQ(dfs_write_extend(*fs, ino, 0, 10, DFS_EXTEND_SIZE), -ESTALE);
	CHECK_MSG_HAS("out-of-date mapping");
	CHECK_EQ(t_size_of(*fs, ino), 0);
	/* preallocated (unwritten) blocks are not written ones either */
	CHECK_EQ(dfs_fallocate(*fs, ino, FALLOC_FL_KEEP_SIZE, 0, 2 * BLK), 0);
	CHECK_EQ(dfs_write_extend(*fs, ino, 0, 10, DFS_EXTEND_SIZE), -ESTALE);
	CHECK_EQ(t_size_of(*fs, ino), 0);
	return T_PASS;
}

static int test_times_only_and_bad_arguments(void)
{
	struct dfs **fs = t_newfs(16 * MB, NULL);
	struct stat before, after, attr = { 0 };

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	attr.st_mtim.tv_sec = attr.st_atim.tv_sec = 1000;
	CHECK_EQ(dfs_setattr(*fs, ino, &attr, DFS_SET_MTIME | DFS_SET_ATIME, &before), 0);
	CHECK_EQ(dfs_write_extend(*fs, ino, 0, 0, DFS_EXTEND_TIME), 0);
	CHECK_EQ(dfs_getattr(*fs, ino, &after), 0);
	CHECK(after.st_mtim.tv_sec > 1000 && after.st_ctim.tv_sec >= after.st_mtim.tv_sec);
	CHECK_EQ(after.st_size, 0);
	CHECK_EQ(dfs_write_extend(*fs, ino, 0, 0, DFS_EXTEND_SIZE), -EINVAL);
	CHECK_EQ(dfs_write_extend(*fs, ino, UINT64_MAX - 5, 10, DFS_EXTEND_SIZE), -EINVAL);
	CHECK_EQ(dfs_write_extend(*fs, DFS_ROOT_INO, 0, 0, DFS_EXTEND_TIME), -EINVAL);
	CHECK_MSG_HAS("not a regular file");
	return T_PASS;
}

static int test_blocks_past_eof_leave_fsck_clean(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(16 * MB, &md);

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK_EQ(dfs_pwrite(*fs, ino, "x", 1, 0, 0), 1);
	CHECK_EQ(t_alloc_keep_size(*fs, ino, BLK, 8 * BLK), 0);
	CHECK_EQ(dfs_sync(*fs), 0);
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(t_fsck_problems(md), 0);
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_size_grows_over_written_blocks_and_the_gap_reads_zero),
	T_CASE(test_a_range_that_is_not_written_blocks_is_estale),
	T_CASE(test_times_only_and_bad_arguments),
	T_CASE(test_blocks_past_eof_leave_fsck_clean),
};

T_MAIN(cases)
