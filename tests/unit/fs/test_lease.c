/* test_lease.c - leases: blocks a leased file drops are held back until its last lease is put */
#include "fixture.h"

#define MB (1024ull * 1024)
#define BLK 4096ull

/* The device offset of the file's first byte. */
static uint64_t first_addr(struct dfs *fs, uint64_t ino)
{
	struct dfs_iomap m;

	if (dfs_iomap_begin(fs, ino, 0, BLK, DFS_IOMAP_REPORT, &m) != 0 || m.type != DFS_IOMAP_MAPPED)
		return UINT64_MAX;
	return m.addr;
}

/* Fills the filesystem with one-block files until ENOSPC; returns how many. */
static unsigned fill(struct dfs *fs, uint64_t *addrs, unsigned max, uint64_t needle, bool *seen)
{
	unsigned n = 0;

	*seen = false;
	for (; n < max; n++) {
		uint64_t ino = t_create(fs, DFS_ROOT_INO, t_fmt("fill%u", n));
		char b = 'f';

		if (dfs_pwrite(fs, ino, &b, 1, 0, 0) != 1)
			break;
		if (addrs)
			addrs[n] = first_addr(fs, ino);
		if (first_addr(fs, ino) == needle)
			*seen = true;
	}
	return n;
}

/* A file of one written block, its address in *addr, leased once. */
static int leased_file(struct dfs *fs, uint64_t *ino, uint64_t *addr)
{
	*ino = t_create(fs, DFS_ROOT_INO, "mapped");
	CHECK_EQ(dfs_pwrite(fs, *ino, "abcd", 4, 0, 0), 4);
	*addr = first_addr(fs, *ino);
	CHECK_EQ(dfs_lease_get(fs, *ino), 0);
	return T_PASS;
}

static int test_truncate_of_leased_file_defers_its_blocks(void)
{
	struct dfs **fs = t_newfs(16 * MB, NULL);
	uint64_t ino, addr;
	bool seen;

	CHECK(fs);
	CHECK_EQ(leased_file(*fs, &ino, &addr), T_PASS);
	struct stat attr = { .st_size = 0 }, st;
	CHECK_EQ(dfs_setattr(*fs, ino, &attr, DFS_SET_SIZE, &st), 0);
	CHECK_EQ(dfs_sync(*fs), 0);
	CHECK_EQ(dfs_lease_deferred(*fs), 1);
	fill(*fs, NULL, 100000, addr / BLK * BLK, &seen);
	CHECK(!seen);
	return T_PASS;
}

static int test_put_of_last_lease_releases_deferred_blocks(void)
{
	struct dfs **fs = t_newfs(16 * MB, NULL);
	uint64_t ino, addr;
	bool seen;

	CHECK(fs);
	CHECK_EQ(leased_file(*fs, &ino, &addr), T_PASS);
	CHECK_EQ(dfs_lease_get(*fs, ino), 0);
	CHECK_EQ(dfs_lease_count(*fs, ino), 2);
	CHECK_EQ(dfs_fallocate(*fs, ino, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, BLK), 0);
	CHECK_EQ(dfs_sync(*fs), 0);
	CHECK_EQ(dfs_lease_put(*fs, ino), 0);
	CHECK_EQ(dfs_lease_deferred(*fs), 1);       /* one lease is left */
	CHECK_EQ(dfs_lease_put(*fs, ino), 0);
	CHECK_EQ(dfs_lease_deferred(*fs), 0);
	fill(*fs, NULL, 100000, addr, &seen);
	CHECK(seen);
	return T_PASS;
}

static int test_unleased_file_frees_at_once(void)
{
	struct dfs **fs = t_newfs(16 * MB, NULL);

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "plain");
	CHECK_EQ(dfs_pwrite(*fs, ino, "abcd", 4, 0, 0), 4);
	struct stat attr = { .st_size = 0 }, st;
	CHECK_EQ(dfs_setattr(*fs, ino, &attr, DFS_SET_SIZE, &st), 0);
	CHECK_EQ(dfs_lease_deferred(*fs), 0);
	return T_PASS;
}

static int test_lease_put_without_lease_is_enoent(void)
{
	struct dfs **fs = t_newfs(16 * MB, NULL);

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "plain");
	CHECK_EQ(dfs_lease_put(*fs, ino), -ENOENT);
	CHECK_MSG_HAS("no lease");
	return T_PASS;
}

static int test_lease_on_directory_is_eisdir(void)
{
	struct dfs **fs = t_newfs(16 * MB, NULL);

	CHECK(fs);
	CHECK_EQ(dfs_lease_get(*fs, DFS_ROOT_INO), -EISDIR);
	return T_PASS;
}

/* A file of 6 bytes and 4 blocks preallocated past them; its st_blocks. */
static uint64_t with_blocks_past_eof(struct dfs *fs, uint64_t *ino)
{
	struct stat st;

	*ino = t_create(fs, DFS_ROOT_INO, "ahead");
	if (dfs_pwrite(fs, *ino, "abcdef", 6, 0, 0) != 6 ||
	    dfs_alloc_written(fs, *ino, BLK, 4 * BLK, true) != 0 ||
	    dfs_getattr(fs, *ino, &st) != 0)
		return 0;
	return (uint64_t)st.st_blocks;
}

static uint64_t blocks_of(struct dfs *fs, uint64_t ino)
{
	struct stat st;

	return dfs_getattr(fs, ino, &st) == 0 ? (uint64_t)st.st_blocks : UINT64_MAX;
}

static int test_trim_leaves_blocks_past_eof_to_another_lease_holder(void)
{
	struct dfs **fs = t_newfs(16 * MB, NULL);
	uint64_t ino;

	CHECK(fs);
	CHECK_EQ(with_blocks_past_eof(*fs, &ino), 5 * BLK / 512);
	CHECK_EQ(dfs_lease_get(*fs, ino), 0);
	/* a caller without a lease of its own: the holder may store there */
	CHECK_EQ(dfs_trim_unshared(*fs, ino, 0, 5 * BLK, 0), 0);
	CHECK_EQ(blocks_of(*fs, ino), 5 * BLK / 512);
	/* the holder itself, the only one */
	CHECK_EQ(dfs_trim_unshared(*fs, ino, 0, 5 * BLK, 1), 1);
	CHECK_EQ(blocks_of(*fs, ino), BLK / 512);
	CHECK_EQ(dfs_lease_put(*fs, ino), 0);
	char buf[8];
	CHECK_EQ(dfs_pread(*fs, ino, buf, sizeof(buf), 0), 6);
	CHECK(memcmp(buf, "abcdef", 6) == 0);
	return T_PASS;
}

/* The give-back frees only what a speculative allocation took from holes:
 * blocks past EOF the user reserved (fallocate), also over blocks allocated
 * ahead before, stay with the file. */
static int test_trim_keeps_what_the_user_reserved(void)
{
	struct dfs **fs = t_newfs(16 * MB, NULL);
	uint64_t ino;

	CHECK(fs);
	CHECK_EQ(with_blocks_past_eof(*fs, &ino), 5 * BLK / 512);     /* ahead: blocks 1-4 */
	CHECK_EQ(dfs_fallocate(*fs, ino, FALLOC_FL_KEEP_SIZE, 3 * BLK, 4 * BLK), 0);
	CHECK_EQ(blocks_of(*fs, ino), 7 * BLK / 512);
	CHECK_EQ(dfs_trim_unshared(*fs, ino, 0, 16 * BLK, 0), 1);
	/* blocks 1-2 were only allocated ahead; 3-4 the fallocate took over */
	CHECK_EQ(blocks_of(*fs, ino), 5 * BLK / 512);
	CHECK_EQ(dfs_trim_unshared(*fs, ino, 0, 16 * BLK, 0), 1);
	CHECK_EQ(blocks_of(*fs, ino), 5 * BLK / 512);
	/* a truncate past blocks allocated ahead forgets them with their blocks */
	struct stat attr = { .st_size = 0 }, st;
	CHECK_EQ(dfs_alloc_written(*fs, ino, 8 * BLK, 2 * BLK, true), 0);
	CHECK_EQ(dfs_setattr(*fs, ino, &attr, DFS_SET_SIZE, &st), 0);
	CHECK_EQ(st.st_blocks, 0);
	CHECK_EQ(dfs_fallocate(*fs, ino, FALLOC_FL_KEEP_SIZE, 8 * BLK, 2 * BLK), 0);
	CHECK_EQ(dfs_trim_unshared(*fs, ino, 0, 16 * BLK, 0), 1);
	CHECK_EQ(blocks_of(*fs, ino), 2 * BLK / 512);
	return T_PASS;
}

static int test_truncate_to_the_same_size_gives_back_blocks_past_eof(void)
{
	struct dfs **fs = t_newfs(16 * MB, NULL);
	struct stat attr = { .st_size = 6 }, st;
	uint64_t ino;
	char buf[8];

	CHECK(fs);
	CHECK_EQ(with_blocks_past_eof(*fs, &ino), 5 * BLK / 512);
	CHECK_EQ(dfs_setattr(*fs, ino, &attr, DFS_SET_SIZE, &st), 0);
	CHECK_EQ(st.st_size, 6);
	CHECK_EQ(st.st_blocks, BLK / 512);
	CHECK_EQ(dfs_pread(*fs, ino, buf, sizeof(buf), 0), 6);
	CHECK(memcmp(buf, "abcdef", 6) == 0);
	/* nothing past EOF: nothing changes */
	CHECK_EQ(dfs_setattr(*fs, ino, &attr, DFS_SET_SIZE, &st), 0);
	CHECK_EQ(st.st_blocks, BLK / 512);
	return T_PASS;
}

/* Stores "X" past EOF into the block of EOF of a leased 4-byte file of a new
 * filesystem, as a holder's mapping can, then grows the file to two blocks;
 * *shown: how many of those bytes the file shows then. */
static int grown_over_stores_past_eof(bool fence, int *shown)
{
	struct dfs **fs = t_newfs(16 * MB, NULL);
	struct stat attr = { .st_size = 2 * BLK }, st;
	char junk[BLK - 4], buf[BLK];
	uint64_t ino, addr;

	CHECK(fs);
	CHECK_EQ(leased_file(*fs, &ino, &addr), T_PASS);
	memset(junk, 'X', sizeof(junk));
	CHECK_EQ(dm_submit_bio(dfs_md(*fs), DAX_REQ_WRITE, DM_BIO_FUA, addr + 4, junk,
			       sizeof(junk)), 0);
	if (fence)
		dfs_lease_fence(*fs, ino, true);
	CHECK_EQ(dfs_setattr(*fs, ino, &attr, DFS_SET_SIZE, &st), 0);
	if (fence)
		dfs_lease_fence(*fs, ino, false);
	CHECK_EQ(dfs_pread(*fs, ino, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	CHECK(memcmp(buf, "abcd", 4) == 0);
	*shown = 0;
	for (size_t i = 4; i < sizeof(buf); i++)
		*shown += buf[i] == 'X';
	CHECK_EQ(dfs_lease_put(*fs, ino), 0);
	return T_PASS;
}

static int test_a_fenced_lease_lets_a_size_change_zero_stores_past_eof(void)
{
	int shown;

	/* a holder's write past EOF may be on its way: what is there stays */
	CHECK_EQ(grown_over_stores_past_eof(false, &shown), T_PASS);
	CHECK_EQ(shown, (int)(BLK - 4));
	/* the caller keeps the holders' writes out: only mapped stores are
	 * there, and they never become the file's */
	CHECK_EQ(grown_over_stores_past_eof(true, &shown), T_PASS);
	CHECK_EQ(shown, 0);
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_truncate_of_leased_file_defers_its_blocks),
	T_CASE(test_trim_leaves_blocks_past_eof_to_another_lease_holder),
	T_CASE(test_trim_keeps_what_the_user_reserved),
	T_CASE(test_truncate_to_the_same_size_gives_back_blocks_past_eof),
	T_CASE(test_a_fenced_lease_lets_a_size_change_zero_stores_past_eof),
	T_CASE(test_put_of_last_lease_releases_deferred_blocks),
	T_CASE(test_unleased_file_frees_at_once),
	T_CASE(test_lease_put_without_lease_is_enoent),
	T_CASE(test_lease_on_directory_is_eisdir),
};

T_MAIN(cases)