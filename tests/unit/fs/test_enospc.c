/* test_enospc.c - a full filesystem: all-or-nothing allocation, shrinking always works, exact counts */
#include <linux/falloc.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>

#include "fixture.h"
#include "fs/format.h"
#include "fs/internal.h"

#define MB (1024ull * 1024)
#define BLK 4096ull

/* Writes the file "fill" until ENOSPC, as an application filling the disk. */
static uint64_t fill(struct dfs *fs)
{
	static uint8_t chunk[1 << 20];
	uint64_t ino = t_create(fs, DFS_ROOT_INO, "fill");
	off_t at = 0;
	ssize_t n;

	memset(chunk, 'F', sizeof(chunk));
	if (!ino)
		return 0;
	for (size_t sz = sizeof(chunk); sz >= BLK; sz /= 2)
		while ((n = dfs_pwrite(fs, ino, chunk, sz, at, 0)) > 0)
			at += n;
	return n == -ENOSPC ? ino : 0;
}

static struct statvfs counts(struct dfs *fs)
{
	struct statvfs sv;

	dfs_sync(fs);     /* blocks freed by the running transaction come back */
	dfs_statfs(fs, &sv);
	return sv;
}

/* Shortens the filler so that exactly n blocks are available for growth. */
static int leave(struct dfs *fs, uint64_t filler, uint64_t n)
{
	struct stat st, attr = { 0 };
	uint64_t have = counts(fs).f_bavail;

	if (n < have || dfs_getattr(fs, filler, &st))
		return -1;
	attr.st_size = st.st_size - (off_t)((n - have) * BLK);
	if (dfs_setattr(fs, filler, &attr, DFS_SET_SIZE, &st))
		return -1;
	return counts(fs).f_bavail == n ? 0 : -1;
}

/* Takes the reserve away too, down to no free block at all. */
static int drain(struct dfs *fs)
{
	uint64_t pblk, len;
	int err;

	dfs_sync(fs);
	pthread_mutex_lock(&fs->meta);
	while ((err = dfs_alloc(fs, 0, 1024, 1, DFS_ALLOC_RESERVE, &pblk, &len)) == 0)
		;
	pthread_mutex_unlock(&fs->meta);
	/* the drained blocks stay taken: tests that drain do not fsck */
	return err == -ENOSPC && fs->free_blocks == 0 ? 0 : -1;
}

/* A file of one-block extents at blocks 0, 2, 4, ..., 2(n-1): n extents. */
static uint64_t striped(struct dfs *fs, const char *name, unsigned n, uint8_t byte)
{
	uint8_t b[BLK];
	uint64_t ino = t_create(fs, DFS_ROOT_INO, name);

	memset(b, byte, sizeof(b));
	for (unsigned k = 0; ino && k < n; k++)
		if (dfs_pwrite(fs, ino, b, BLK, (off_t)(2 * k * BLK), 0) != (ssize_t)BLK)
			return 0;
	return ino;
}

static int nextents(struct dfs *fs, uint64_t ino)
{
	struct dfs_inode *ip;
	int n;

	pthread_mutex_lock(&fs->meta);
	n = dfs_iget(fs, ino, &ip) ? -1 : (int)ip->next;
	pthread_mutex_unlock(&fs->meta);
	return n;
}

static uint64_t blocks(struct dfs *fs, uint64_t ino)
{
	struct stat st;

	return dfs_getattr(fs, ino, &st) ? UINT64_MAX : (uint64_t)st.st_blocks / 8;
}

/* Every byte of [off, off+len) of ino is byte. */
static bool reads(struct dfs *fs, uint64_t ino, off_t off, size_t len, uint8_t byte)
{
	uint8_t *b = malloc(len);
	bool ok = b && dfs_pread(fs, ino, b, len, off) == (ssize_t)len;

	for (size_t i = 0; ok && i < len; i++)
		ok = b[i] == byte;
	free(b);
	return ok;
}

/* Unmounts and checks; the drained blocks of drain() show as leaked. */
static int fsck_problems(struct dfs **fs, struct mapped_device *md)
{
	if (dfs_unmount(fs))
		return -1;
	return t_fsck_problems(md);
}

static int test_hole_write_short_of_space_keeps_exactly_the_blocks_it_filled(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(16 * MB, &md);
	static uint8_t b[5 * BLK];

	CHECK(fs);
	uint64_t ino = striped(*fs, "sparse", 4, 'a');     /* the inode's extents are full */
	uint64_t filler = fill(*fs);
	CHECK(ino && filler);
	CHECK_EQ(leave(*fs, filler, 3), 0);
	memset(b, 'b', sizeof(b));
	/* the fifth extent needs a chain block: it comes first, the data gets
	 * the other two, and the write is short by exactly the rest */
	CHECK_EQ(dfs_pwrite(*fs, ino, b, sizeof(b), 10 * BLK, 0), (ssize_t)(2 * BLK));
	CHECK_EQ(blocks(*fs, ino), 6);
	CHECK_EQ(nextents(*fs, ino), 5);
	CHECK_EQ(counts(*fs).f_bavail, 0);
	CHECK_EQ(dfs_pwrite(*fs, ino, b, BLK, 20 * BLK, 0), -ENOSPC);
	CHECK_EQ(fsck_problems(fs, md), 0);
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	CHECK(reads(*fs, ino, 10 * BLK, 2 * BLK, 'b'));
	CHECK(reads(*fs, ino, 6 * BLK, BLK, 'a'));
	return T_PASS;
}

static int test_hole_write_without_room_for_its_extent_block_changes_nothing(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(16 * MB, &md);
	uint8_t b[BLK];
	struct stat st;

	CHECK(fs);
	uint64_t ino = striped(*fs, "sparse", 4, 'a');
	uint64_t filler = fill(*fs);
	CHECK(ino && filler);
	CHECK_EQ(leave(*fs, filler, 1), 0);
	uint64_t bfree = counts(*fs).f_bfree;
	memset(b, 'b', sizeof(b));
	CHECK_EQ(dfs_pwrite(*fs, ino, b, BLK, 10 * BLK, 0), -ENOSPC);
	CHECK_EQ(counts(*fs).f_bfree, bfree);
	CHECK_EQ(blocks(*fs, ino), 4);
	CHECK_EQ(nextents(*fs, ino), 4);
	CHECK_EQ(dfs_getattr(*fs, ino, &st), 0);
	CHECK_EQ(st.st_size, 7 * BLK);
	CHECK_EQ(fsck_problems(fs, md), 0);
	return T_PASS;
}

static int test_short_write_end_unmaps_the_blocks_no_byte_reached(void)
{
	struct dfs **fs = t_newfs(16 * MB, NULL);
	struct dfs_write wr;
	struct stat st;

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	uint64_t bfree = counts(*fs).f_bfree;
	CHECK_EQ(dfs_write_begin(*fs, ino, 100, 3 * BLK, 0, &wr), (ssize_t)(3 * BLK));
	CHECK_EQ(dfs_write_copy(*fs, &wr, "x", 1), 1);
	CHECK_EQ(dfs_write_end(*fs, &wr, 1), 1);
	CHECK_EQ(blocks(*fs, ino), 1);
	CHECK_EQ(dfs_getattr(*fs, ino, &st), 0);
	CHECK_EQ(st.st_size, 101);
	CHECK_EQ(dfs_write_begin(*fs, ino, 5 * BLK + 7, 2 * BLK, 0, &wr), (ssize_t)(2 * BLK));
	CHECK_EQ(dfs_write_end(*fs, &wr, 0), 0);
	CHECK_EQ(blocks(*fs, ino), 1);
	CHECK_EQ(counts(*fs).f_bfree, bfree - 1);
	return T_PASS;
}

static int test_write_into_preallocated_space_on_a_full_fs_takes_the_reserve(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(16 * MB, &md);
	uint8_t b[BLK];

	CHECK(fs);
	uint64_t ino = striped(*fs, "pre", 3, 'a');
	CHECK(ino);
	CHECK_EQ(dfs_fallocate(*fs, ino, FALLOC_FL_KEEP_SIZE, 100 * BLK, 64 * BLK), 0);
	CHECK(fill(*fs));
	CHECK_EQ(counts(*fs).f_bavail, 0);
	uint64_t bfree = counts(*fs).f_bfree;
	memset(b, 'w', sizeof(b));
	/* the split makes six extents: a chain block from the reserve */
	CHECK_EQ(dfs_pwrite(*fs, ino, b, BLK, 130 * BLK, 0), (ssize_t)BLK);
	CHECK_EQ(nextents(*fs, ino), 6);
	CHECK_EQ(counts(*fs).f_bfree, bfree - 1);
	CHECK(reads(*fs, ino, 129 * BLK, BLK, 0));
	CHECK(reads(*fs, ino, 130 * BLK, BLK, 'w'));
	CHECK_EQ(fsck_problems(fs, md), 0);
	return T_PASS;
}

static int test_write_into_preallocated_space_with_no_block_left_converts_the_extent(void)
{
	struct dfs **fs = t_newfs(16 * MB, NULL);
	uint8_t b[BLK];

	CHECK(fs);
	uint64_t ino = striped(*fs, "pre", 3, 'a');
	CHECK(ino);
	CHECK_EQ(dfs_fallocate(*fs, ino, FALLOC_FL_KEEP_SIZE, 100 * BLK, 64 * BLK), 0);
	CHECK_EQ(drain(*fs), 0);
	memset(b, 'w', sizeof(b));
	CHECK_EQ(dfs_pwrite(*fs, ino, b, BLK, 130 * BLK, 0), (ssize_t)BLK);
	CHECK_EQ(nextents(*fs, ino), 4);       /* no split: the whole extent is written */
	CHECK_EQ(dfs_lseek(*fs, ino, 100 * BLK, SEEK_DATA), 100 * BLK);
	CHECK(reads(*fs, ino, 100 * BLK, 30 * BLK, 0));
	CHECK(reads(*fs, ino, 130 * BLK, BLK, 'w'));
	CHECK_EQ((*fs)->free_blocks, 0);
	return T_PASS;
}

static int test_punch_inside_an_extent_on_a_full_fs_takes_the_reserve(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(16 * MB, &md);
	static uint8_t b[16 * BLK];

	CHECK(fs);
	uint64_t ino = striped(*fs, "p", 3, 'a');
	CHECK(ino);
	memset(b, 'c', sizeof(b));
	CHECK_EQ(dfs_pwrite(*fs, ino, b, sizeof(b), 10 * BLK, 0), (ssize_t)sizeof(b));
	CHECK_EQ(nextents(*fs, ino), 4);
	CHECK(fill(*fs));
	CHECK_EQ(counts(*fs).f_bavail, 0);
	CHECK_EQ(dfs_fallocate(*fs, ino, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 15 * BLK, 2 * BLK), 0);
	CHECK_EQ(nextents(*fs, ino), 5);
	CHECK_EQ(blocks(*fs, ino), 3 + 14);
	CHECK(reads(*fs, ino, 15 * BLK, 2 * BLK, 0));
	CHECK(reads(*fs, ino, 17 * BLK, 9 * BLK, 'c'));
	CHECK_EQ(fsck_problems(fs, md), 0);
	return T_PASS;
}

static int test_punch_inside_an_extent_with_no_block_left_zeroes_in_place(void)
{
	struct dfs **fs = t_newfs(16 * MB, NULL);
	static uint8_t b[16 * BLK];

	CHECK(fs);
	uint64_t ino = striped(*fs, "p", 3, 'a');
	CHECK(ino);
	memset(b, 'c', sizeof(b));
	CHECK_EQ(dfs_pwrite(*fs, ino, b, sizeof(b), 10 * BLK, 0), (ssize_t)sizeof(b));
	CHECK_EQ(drain(*fs), 0);
	CHECK_EQ(dfs_fallocate(*fs, ino, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 15 * BLK, 2 * BLK), 0);
	CHECK_EQ(nextents(*fs, ino), 4);
	CHECK_EQ(blocks(*fs, ino), 3 + 16);
	CHECK(reads(*fs, ino, 15 * BLK, 2 * BLK, 0));
	CHECK(reads(*fs, ino, 10 * BLK, 5 * BLK, 'c'));
	CHECK(reads(*fs, ino, 17 * BLK, 9 * BLK, 'c'));
	/* a punch of whole extents still frees them */
	CHECK_EQ(dfs_fallocate(*fs, ino, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 6 * BLK), 0);
	CHECK_EQ(blocks(*fs, ino), 16);
	return T_PASS;
}

/* A file with exactly one full chain block of extents: the next split needs a
 * second chain block, from the reserve. */
static int test_punch_at_a_chain_block_boundary_on_a_full_fs_succeeds(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(16 * MB, &md);
	static uint8_t b[4 * BLK];

	CHECK(fs);
	uint64_t ino = striped(*fs, "chain", DFS_EXTBLK_MAX - 1, 'a');
	CHECK(ino);
	memset(b, 'c', sizeof(b));
	CHECK_EQ(dfs_pwrite(*fs, ino, b, sizeof(b), 1000 * BLK, 0), (ssize_t)sizeof(b));
	CHECK_EQ(nextents(*fs, ino), DFS_EXTBLK_MAX);
	CHECK(fill(*fs));
	CHECK_EQ(dfs_fallocate(*fs, ino, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 1001 * BLK, BLK), 0);
	CHECK_EQ(nextents(*fs, ino), DFS_EXTBLK_MAX + 1);
	CHECK(reads(*fs, ino, 1001 * BLK, BLK, 0));
	CHECK(reads(*fs, ino, 1002 * BLK, 2 * BLK, 'c'));
	CHECK_EQ(fsck_problems(fs, md), 0);
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	CHECK(reads(*fs, ino, 1000 * BLK, BLK, 'c'));
	CHECK(reads(*fs, ino, 1001 * BLK, BLK, 0));
	return T_PASS;
}

static int test_truncate_down_with_no_block_left_succeeds(void)
{
	struct dfs **fs = t_newfs(16 * MB, NULL);
	static uint8_t b[16 * BLK];
	struct stat st, attr = { .st_size = 12 * BLK + 5 };

	CHECK(fs);
	uint64_t ino = striped(*fs, "t", 4, 'a');
	CHECK(ino);
	memset(b, 'c', sizeof(b));
	CHECK_EQ(dfs_pwrite(*fs, ino, b, sizeof(b), 10 * BLK, 0), (ssize_t)sizeof(b));
	CHECK_EQ(nextents(*fs, ino), 5);
	CHECK_EQ(drain(*fs), 0);
	CHECK_EQ(dfs_setattr(*fs, ino, &attr, DFS_SET_SIZE, &st), 0);
	CHECK_EQ(st.st_size, 12 * BLK + 5);
	CHECK_EQ(blocks(*fs, ino), 4 + 3);
	CHECK_EQ(nextents(*fs, ino), 5);
	CHECK_EQ(counts(*fs).f_bfree, 13);
	CHECK_EQ(dfs_alloc_avail(*fs, DFS_ALLOC_RESERVE), 13);
	return T_PASS;
}

static int test_removals_with_no_block_left_succeed(void)
{
	struct dfs **fs = t_newfs(16 * MB, NULL);
	struct stat st;

	CHECK(fs);
	uint64_t a = striped(*fs, "a", 6, 'a');
	uint64_t b = striped(*fs, "b", 2, 'b');
	CHECK(a && b);
	CHECK_EQ(dfs_mkdir(*fs, DFS_ROOT_INO, "d", 0755, &t_cred, &st), 0);
	CHECK_EQ(dfs_setxattr(*fs, a, "user.one", "1", 1, 0), 0);
	CHECK_EQ(dfs_setxattr(*fs, a, "user.two", "2", 1, 0), 0);
	CHECK_EQ(drain(*fs), 0);
	CHECK_EQ(dfs_removexattr(*fs, a, "user.one"), 0);
	CHECK_EQ(dfs_removexattr(*fs, a, "user.two"), 0);
	CHECK_EQ(dfs_rename(*fs, DFS_ROOT_INO, "a", DFS_ROOT_INO, "b", 0), 0);
	CHECK_EQ(dfs_getattr(*fs, b, &st), 0);     /* replaced; looked up, so an orphan */
	CHECK_EQ(st.st_nlink, 0);
	dfs_forget(*fs, b, 1);
	CHECK_EQ(dfs_unlink(*fs, DFS_ROOT_INO, "b"), 0);
	CHECK_EQ(dfs_rmdir(*fs, DFS_ROOT_INO, "d"), 0);
	dfs_forget(*fs, a, 1);      /* the last reference: the orphan goes */
	CHECK_EQ(counts(*fs).f_bfree, 6 + 2 + 1 + 1);    /* data, xattr, chain */
	return T_PASS;
}

static int test_growth_on_a_full_fs_gives_enospc_and_leaks_nothing(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(16 * MB, &md);
	char name[256];
	struct stat st;
	int err = 0;

	CHECK(fs);
	CHECK_EQ(dfs_mkdir(*fs, DFS_ROOT_INO, "d", 0755, &t_cred, &st), 0);
	uint64_t dir = st.st_ino, f = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK(f);
	/* fourteen 255-byte names fill a directory block */
	memset(name, 'n', 255);
	name[255] = '\0';
	for (char c = 'a'; c < 'a' + 14; c++) {
		name[0] = c;
		CHECK_EQ(dfs_link(*fs, f, dir, name, &st), 0);
	}
	CHECK(fill(*fs));
	uint64_t bfree = counts(*fs).f_bfree;
	name[0] = 'z';
	CHECK_EQ(dfs_link(*fs, f, dir, name, &st), -ENOSPC);
	CHECK_EQ(dfs_symlink(*fs, DFS_ROOT_INO, "s", "target", &t_cred, &st), -ENOSPC);
	CHECK_EQ(dfs_setxattr(*fs, f, "user.x", "v", 1, 0), -ENOSPC);
	CHECK_EQ(dfs_fallocate(*fs, f, 0, 0, BLK), -ENOSPC);
	/* creates use free inode slots until the table has to grow */
	for (unsigned i = 0; i < 100000 && !err; i++) {
		snprintf(name, sizeof(name), "c%u", i);
		err = dfs_mknod(*fs, DFS_ROOT_INO, name, S_IFREG | 0644, 0, &t_cred, &st);
	}
	CHECK_EQ(err, -ENOSPC);
	CHECK_EQ(counts(*fs).f_bfree, bfree);
	CHECK_EQ(dfs_getattr(*fs, f, &st), 0);
	CHECK_EQ(st.st_nlink, 15);
	CHECK_EQ(fsck_problems(fs, md), 0);
	return T_PASS;
}

/* The two all-or-nothing allocations, fallocate's and DAXFS_IOC_ALLOC's. */
typedef int (*alloc_fn)(struct dfs *fs, uint64_t ino, uint64_t off, uint64_t len);

static int fallocate_grow(struct dfs *fs, uint64_t ino, uint64_t off, uint64_t len)
{
	return dfs_fallocate(fs, ino, 0, (off_t)off, (off_t)len);
}

static int fallocate_keep(struct dfs *fs, uint64_t ino, uint64_t off, uint64_t len)
{
	return dfs_fallocate(fs, ino, FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len);
}

static int alloc_written(struct dfs *fs, uint64_t ino, uint64_t off, uint64_t len)
{
	return dfs_alloc_written(fs, ino, off, len, false);
}

static int does_not_fit_allocates_nothing(alloc_fn alloc)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(16 * MB, &md);
	struct stat st;

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	uint64_t filler = fill(*fs);
	CHECK(ino && filler);
	CHECK_EQ(leave(*fs, filler, 10), 0);
	CHECK_EQ(alloc(*fs, ino, 0, 20 * BLK), -ENOSPC);
	CHECK_MSG_HAS("do not fit");
	CHECK_EQ(blocks(*fs, ino), 0);
	CHECK_EQ(dfs_getattr(*fs, ino, &st), 0);
	CHECK_EQ(st.st_size, 0);
	CHECK_EQ(counts(*fs).f_bavail, 10);
	CHECK_EQ(fsck_problems(fs, md), 0);
	return T_PASS;
}

static int runs_out_on_the_way_gives_back_what_it_took(alloc_fn alloc)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(16 * MB, &md);

	CHECK(fs);
	uint64_t ino = striped(*fs, "f", 4, 'a');
	uint64_t filler = fill(*fs);
	CHECK(ino && filler);
	/* four holes and four blocks, but the fifth extent takes a chain block */
	CHECK_EQ(leave(*fs, filler, 4), 0);
	uint64_t bfree = counts(*fs).f_bfree;
	CHECK_EQ(alloc(*fs, ino, 0, 8 * BLK), -ENOSPC);
	CHECK_EQ(nextents(*fs, ino), 4);
	CHECK_EQ(blocks(*fs, ino), 4);
	CHECK_EQ(counts(*fs).f_bfree, bfree);
	CHECK(reads(*fs, ino, 6 * BLK, BLK, 'a'));
	CHECK_EQ(fsck_problems(fs, md), 0);
	return T_PASS;
}

static int test_fallocate_that_does_not_fit_allocates_nothing(void)
{
	return does_not_fit_allocates_nothing(fallocate_grow);
}

static int test_fallocate_that_runs_out_on_the_way_unmaps_what_it_mapped(void)
{
	return runs_out_on_the_way_gives_back_what_it_took(fallocate_keep);
}

/* DAXFS_IOC_ALLOC (a direct mapping of a sparse file, a daxfs-run write):
 * holes become zeroed written blocks and unwritten extents written ones,
 * the size stays; a range that does not fit allocates nothing, and one that
 * runs out on the way gives back what it took, so that a mapping too large
 * for the free space falls back without filling the filesystem. */
static int test_alloc_written_fills_holes_and_converts_unwritten(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(16 * MB, &md);
	struct stat st;

	CHECK(fs);
	uint64_t ino = striped(*fs, "f", 4, 'a');       /* a, hole, a, hole, ... */
	CHECK(ino);
	CHECK_EQ(dfs_fallocate(*fs, ino, FALLOC_FL_KEEP_SIZE, 8 * BLK, 4 * BLK), 0);
	CHECK_EQ(alloc_written(*fs, ino, 0, 12 * BLK), 0);
	CHECK_EQ(blocks(*fs, ino), 12);
	struct dfs_iomap m;
	for (uint64_t pos = 0; pos < 12 * BLK; pos = m.offset + m.length) {
		CHECK_EQ(dfs_iomap_begin(*fs, ino, pos, 12 * BLK - pos, 0, &m), 0);
		CHECK_EQ(m.type, DFS_IOMAP_MAPPED);
	}
	CHECK(reads(*fs, ino, 2 * BLK, BLK, 'a'));
	CHECK(reads(*fs, ino, 3 * BLK, BLK, 0));
	CHECK_EQ(dfs_getattr(*fs, ino, &st), 0);
	CHECK_EQ(st.st_size, 7 * BLK);                  /* size and data as they were */
	CHECK_EQ(alloc_written(*fs, ino, 0, 0), -EINVAL);
	CHECK_EQ(alloc_written(*fs, DFS_ROOT_INO, 0, BLK), -EISDIR);
	CHECK_EQ(fsck_problems(fs, md), 0);
	return T_PASS;
}

static int test_alloc_written_that_does_not_fit_allocates_nothing(void)
{
	return does_not_fit_allocates_nothing(alloc_written);
}

static int test_alloc_written_that_runs_out_on_the_way_gives_back_what_it_took(void)
{
	return runs_out_on_the_way_gives_back_what_it_took(alloc_written);
}

static int test_zero_range_that_does_not_fit_keeps_the_data(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(16 * MB, &md);
	static uint8_t b[4 * BLK];

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "z");
	memset(b, 0x55, sizeof(b));
	CHECK_EQ(dfs_pwrite(*fs, ino, b, sizeof(b), 0, 0), (ssize_t)sizeof(b));
	CHECK_EQ(dfs_pwrite(*fs, ino, b, BLK, 19 * BLK, 0), (ssize_t)BLK);
	uint64_t filler = fill(*fs);
	CHECK(filler);
	CHECK_EQ(leave(*fs, filler, 2), 0);
	CHECK_EQ(dfs_fallocate(*fs, ino, FALLOC_FL_ZERO_RANGE, 0, 20 * BLK), -ENOSPC);
	CHECK(reads(*fs, ino, 0, 4 * BLK, 0x55));
	CHECK(reads(*fs, ino, 19 * BLK, BLK, 0x55));
	CHECK_EQ(blocks(*fs, ino), 5);
	CHECK_EQ(counts(*fs).f_bavail, 2);
	CHECK_EQ(fsck_problems(fs, md), 0);
	return T_PASS;
}

static int test_zero_range_over_written_data_needs_no_space(void)
{
	struct dfs **fs = t_newfs(16 * MB, NULL);
	static uint8_t b[8 * BLK];

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "z");
	memset(b, 0x55, sizeof(b));
	CHECK_EQ(dfs_pwrite(*fs, ino, b, sizeof(b), 0, 0), (ssize_t)sizeof(b));
	CHECK_EQ(drain(*fs), 0);
	CHECK_EQ(dfs_fallocate(*fs, ino, FALLOC_FL_ZERO_RANGE, 100, 6 * BLK), 0);
	CHECK(reads(*fs, ino, 0, 100, 0x55));
	CHECK(reads(*fs, ino, 100, 6 * BLK, 0));
	CHECK(reads(*fs, ino, 100 + 6 * BLK, 2 * BLK - 100, 0x55));
	return T_PASS;
}

static int test_statfs_keeps_the_reserve_out_of_bavail(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);

	CHECK(fs);
	CHECK_EQ((*fs)->resv_blocks, 64 * MB / BLK / 50);
	struct statvfs sv = counts(*fs);
	CHECK_EQ(sv.f_bavail, sv.f_bfree - (*fs)->resv_blocks);
	CHECK(fill(*fs));
	sv = counts(*fs);
	CHECK_EQ(sv.f_bavail, 0);
	CHECK_EQ(sv.f_bfree, (*fs)->resv_blocks);
	CHECK(sv.f_bfree <= sv.f_blocks);
	CHECK_EQ(sv.f_favail, (*fs)->nfree_inos);     /* no room to grow the inode table */
	CHECK_EQ(sv.f_ffree, (*fs)->nfree_inos + (*fs)->resv_blocks * DFS_INODES_PER_BLOCK);
	return T_PASS;
}

/* Rewrites group 0's descriptor on media with its free count moved by delta,
 * or set to it when absolute (and a valid checksum), as damage fsck has not
 * seen yet would. */
static int skew_group_count(const struct dfs_super *sb, int delta, bool absolute)
{
	uint8_t blk[BLK];
	struct dfs_gd gd;
	int fd = open(t_path("pmem"), O_RDWR);
	bool ok = fd >= 0 && pread(fd, blk, BLK, (off_t)(sb->gdt_start * BLK)) == (ssize_t)BLK &&
		  dfs_gd_decode(blk, 0, sb->total_blocks, &gd) == 0;

	if (ok) {
		gd.free = absolute ? (uint32_t)delta : (uint32_t)((int64_t)gd.free + delta);
		dfs_gd_encode(&gd, 0, blk);
		ok = pwrite(fd, blk, BLK, (off_t)(sb->gdt_start * BLK)) == (ssize_t)BLK;
	}
	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

static int group_count_wrong(int delta)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(16 * MB, &md);
	struct statvfs sv;

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK_EQ(dfs_pwrite(*fs, ino, "x", 1, 0, 0), 1);
	struct dfs_super sb = (*fs)->sb;
	const uint32_t truth = (*fs)->gds[0].free;
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(skew_group_count(&sb, delta, false), 0);
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	CHECK_EQ(dfs_pwrite(*fs, ino, "y", 1, 10 * BLK, 0), -EIO);
	CHECK_MSG_HAS(t_fmt("group 0: free count %u, but its bitmap has %u free blocks",
			    (unsigned)((int)truth + delta), (unsigned)truth));
	CHECK_MSG_HAS("run fsck.daxfs -y");
	CHECK_EQ(dfs_statfs(*fs, &sv), 0);
	CHECK(sv.f_bfree <= sv.f_blocks);
	CHECK(sv.f_bavail <= sv.f_bfree);
	/* the filesystem is not shut down: reads and shrinking still work */
	CHECK(reads(*fs, ino, 0, 1, 'x'));
	return T_PASS;
}

static int test_group_free_count_below_its_bitmap_is_refused_not_wrapped(void)
{
	return group_count_wrong(-10);
}

static int test_group_free_count_above_its_bitmap_is_refused(void)
{
	return group_count_wrong(10);
}

static void abandon(void *arg)
{
	struct dfs *fs = arg;

	dfs_abandon(&fs);      /* nothing of the test's to keep */
}

/* fsck's mount compares a count with its bitmap as every mount does: fsck
 * rebuilds a group before it allocates from it, and nothing else may wrap. */
static int test_alloc_never_wraps_a_count_it_did_not_check(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(256 * MB, &md);     /* group 1 keeps the total high */
	struct dfs *fsck;
	uint64_t pblk, len;

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK_EQ(dfs_pwrite(*fs, ino, "x", 1, 0, 0), 1);
	struct dfs_super sb = (*fs)->sb;
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(skew_group_count(&sb, 3, true), 0);
	CHECK_EQ(dfs_mount_fsck(md, false, &sb, NULL, &fsck), 0);
	t_defer(abandon, fsck);
	pthread_mutex_lock(&fsck->meta);
	uint64_t total = fsck->free_blocks;
	int err = dfs_alloc(fsck, 0, 100, 1, 0, &pblk, &len);
	pthread_mutex_unlock(&fsck->meta);
	CHECK_EQ(err, -EIO);
	CHECK_MSG_HAS("group 0: free count 3, but its bitmap has");
	CHECK_EQ(fsck->free_blocks, total);
	CHECK_EQ(fsck->gds[0].free, 3);
	return T_PASS;
}

static int test_unalloc_is_reusable_at_once_unless_its_buffer_is_dirty(void)
{
	struct dfs **fs = t_newfs(16 * MB, NULL);
	uint64_t a = 0, b = 0, len, avail[4], bfree[2];
	struct dfs_buf *buf;
	int err[4];

	CHECK(fs);
	dfs_sync(*fs);
	pthread_mutex_lock(&(*fs)->meta);
	avail[0] = dfs_alloc_avail(*fs, 0);
	bfree[0] = (*fs)->free_blocks;
	err[0] = dfs_alloc(*fs, 0, 1, 1, 0, &a, &len) || dfs_alloc(*fs, 0, 1, 1, 0, &b, &len);
	err[1] = dfs_unalloc(*fs, a, 1);
	avail[1] = dfs_alloc_avail(*fs, 0);
	/* a dirty buffer would reach the block at the checkpoint: it waits */
	err[2] = dfs_buf_new(*fs, b, DFS_BUF_SEALED, &buf);
	if (!err[2])
		dfs_buf_dirty(*fs, buf);
	err[3] = dfs_unalloc(*fs, b, 1);
	avail[2] = dfs_alloc_avail(*fs, 0);
	bfree[1] = (*fs)->free_blocks;
	pthread_mutex_unlock(&(*fs)->meta);
	dfs_sync(*fs);
	avail[3] = dfs_alloc_avail(*fs, 0);
	CHECK(!err[0] && !err[1] && !err[2] && !err[3]);
	CHECK_EQ(avail[1], avail[0] - 1);
	CHECK_EQ(avail[2], avail[0] - 1);
	CHECK_EQ(bfree[1], bfree[0]);
	CHECK_EQ(avail[3], avail[0]);
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_hole_write_short_of_space_keeps_exactly_the_blocks_it_filled),
	T_CASE(test_hole_write_without_room_for_its_extent_block_changes_nothing),
	T_CASE(test_short_write_end_unmaps_the_blocks_no_byte_reached),
	T_CASE(test_write_into_preallocated_space_on_a_full_fs_takes_the_reserve),
	T_CASE(test_write_into_preallocated_space_with_no_block_left_converts_the_extent),
	T_CASE(test_punch_inside_an_extent_on_a_full_fs_takes_the_reserve),
	T_CASE(test_punch_inside_an_extent_with_no_block_left_zeroes_in_place),
	T_CASE(test_punch_at_a_chain_block_boundary_on_a_full_fs_succeeds),
	T_CASE(test_truncate_down_with_no_block_left_succeeds),
	T_CASE(test_removals_with_no_block_left_succeed),
	T_CASE(test_growth_on_a_full_fs_gives_enospc_and_leaks_nothing),
	T_CASE(test_fallocate_that_does_not_fit_allocates_nothing),
	T_CASE(test_fallocate_that_runs_out_on_the_way_unmaps_what_it_mapped),
	T_CASE(test_alloc_written_fills_holes_and_converts_unwritten),
	T_CASE(test_alloc_written_that_does_not_fit_allocates_nothing),
	T_CASE(test_alloc_written_that_runs_out_on_the_way_gives_back_what_it_took),
	T_CASE(test_zero_range_that_does_not_fit_keeps_the_data),
	T_CASE(test_zero_range_over_written_data_needs_no_space),
	T_CASE(test_statfs_keeps_the_reserve_out_of_bavail),
	T_CASE(test_group_free_count_below_its_bitmap_is_refused_not_wrapped),
	T_CASE(test_group_free_count_above_its_bitmap_is_refused),
	T_CASE(test_alloc_never_wraps_a_count_it_did_not_check),
	T_CASE(test_unalloc_is_reusable_at_once_unless_its_buffer_is_dirty),
};

T_MAIN(cases)