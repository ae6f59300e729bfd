/* test_data.c - file data: holes, writes, truncate, fallocate, seek, copy_file_range, ENOSPC */
#include <linux/falloc.h>

#include "fixture.h"

#define MB (1024ull * 1024)

static int test_hole_reads_zero_without_device(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	struct stat st, attr = { .st_size = 1 << 20 };
	struct dfs_read rd;

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK_EQ(dfs_setattr(*fs, ino, &attr, DFS_SET_SIZE, &st), 0);
	CHECK_EQ(st.st_blocks, 0);
	CHECK_EQ(dfs_read_begin(*fs, ino, 0, 1 << 20, &rd), 1 << 20);
	for (unsigned i = 0; i < rd.niov; i++)
		for (size_t k = 0; k < rd.iov[i].iov_len; k++)
			CHECK_EQ(((uint8_t *)rd.iov[i].iov_base)[k], 0);
	dfs_read_end(*fs, &rd);
	return T_PASS;
}

static int test_write_read_roundtrip_unaligned(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	static uint8_t in[300000], out[300000];

	CHECK(fs);
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 7 + 3);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK_EQ(dfs_pwrite(*fs, ino, in, sizeof(in), 12345, 0), (ssize_t)sizeof(in));
	CHECK_EQ(dfs_pread(*fs, ino, out, sizeof(out), 12345), (ssize_t)sizeof(out));
	CHECK(memcmp(in, out, sizeof(in)) == 0);
	CHECK_EQ(dfs_pread(*fs, ino, out, 100, 0), 100);
	for (int i = 0; i < 100; i++)
		CHECK_EQ(out[i], 0);
	return T_PASS;
}

static int test_read_clips_at_eof(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	char buf[64];

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK_EQ(dfs_pwrite(*fs, ino, "abcdef", 6, 0, 0), 6);
	CHECK_EQ(dfs_pread(*fs, ino, buf, sizeof(buf), 2), 4);
	CHECK_EQ(dfs_pread(*fs, ino, buf, sizeof(buf), 6), 0);
	CHECK_EQ(dfs_pread(*fs, ino, buf, sizeof(buf), 100), 0);
	return T_PASS;
}

static int test_append_writes_at_eof(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	char buf[16] = { 0 };

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK_EQ(dfs_pwrite(*fs, ino, "abc", 3, 0, 0), 3);
	CHECK_EQ(dfs_pwrite(*fs, ino, "def", 3, 0, DFS_WRITE_APPEND), 3);
	CHECK_EQ(dfs_pread(*fs, ino, buf, sizeof(buf), 0), 6);
	CHECK(memcmp(buf, "abcdef", 6) == 0);
	return T_PASS;
}

static int test_write_to_directory_gives_eisdir(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);

	CHECK(fs);
	CHECK_EQ(dfs_pwrite(*fs, DFS_ROOT_INO, "x", 1, 0, 0), -EISDIR);
	return T_PASS;
}

static int test_truncate_shrink_zeroes_partial_tail(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	struct stat st, attr = { .st_size = 100 };
	uint8_t buf[8192];

	CHECK(fs);
	memset(buf, 0xAB, sizeof(buf));
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK_EQ(dfs_pwrite(*fs, ino, buf, sizeof(buf), 0, 0), (ssize_t)sizeof(buf));
	CHECK_EQ(dfs_setattr(*fs, ino, &attr, DFS_SET_SIZE, &st), 0);
	CHECK_EQ(st.st_size, 100);
	CHECK_EQ(st.st_blocks, 8);
	attr.st_size = 8192;
	CHECK_EQ(dfs_setattr(*fs, ino, &attr, DFS_SET_SIZE, &st), 0);
	CHECK_EQ(dfs_pread(*fs, ino, buf, sizeof(buf), 0), 8192);
	CHECK_EQ(buf[99], 0xAB);
	for (size_t i = 100; i < sizeof(buf); i++)
		CHECK_EQ(buf[i], 0);
	return T_PASS;
}

static int test_write_beyond_eof_leaves_zero_gap(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	uint8_t buf[3 * 4096];

	CHECK(fs);
	memset(buf, 0xCD, sizeof(buf));
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK_EQ(dfs_pwrite(*fs, ino, buf, 10, 0, 0), 10);
	CHECK_EQ(dfs_pwrite(*fs, ino, buf, 10, 9000, 0), 10);
	CHECK_EQ(dfs_pread(*fs, ino, buf, sizeof(buf), 0), 9010);
	for (size_t i = 10; i < 9000; i++)
		CHECK_EQ(buf[i], 0);
	return T_PASS;
}

static int test_fallocate_keep_size_reads_zero_and_allocates(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	struct stat st;

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK_EQ(dfs_fallocate(*fs, ino, FALLOC_FL_KEEP_SIZE, 0, 1 << 20), 0);
	CHECK_EQ(dfs_getattr(*fs, ino, &st), 0);
	CHECK_EQ(st.st_size, 0);
	CHECK_EQ(st.st_blocks, (1 << 20) / 512);
	CHECK_EQ(dfs_fallocate(*fs, ino, 0, 0, 8192), 0);
	CHECK_EQ(dfs_getattr(*fs, ino, &st), 0);
	CHECK_EQ(st.st_size, 8192);
	return T_PASS;
}

static int test_punch_hole_frees_and_reads_zero(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	uint8_t buf[16 * 4096];
	struct stat st;

	CHECK(fs);
	memset(buf, 0x11, sizeof(buf));
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK_EQ(dfs_pwrite(*fs, ino, buf, sizeof(buf), 0, 0), (ssize_t)sizeof(buf));
	CHECK_EQ(dfs_fallocate(*fs, ino, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 100, 8 * 4096), 0);
	CHECK_EQ(dfs_getattr(*fs, ino, &st), 0);
	CHECK_EQ(st.st_size, (off_t)sizeof(buf));
	CHECK_EQ(st.st_blocks, 9 * 8);     /* blocks 1..7 gone */
	CHECK_EQ(dfs_pread(*fs, ino, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	CHECK_EQ(buf[99], 0x11);
	for (size_t i = 100; i < 100 + 8 * 4096; i++)
		CHECK_EQ(buf[i], 0);
	CHECK_EQ(buf[100 + 8 * 4096], 0x11);
	return T_PASS;
}

static int test_zero_range_reads_zero(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	uint8_t buf[4 * 4096];

	CHECK(fs);
	memset(buf, 0x22, sizeof(buf));
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK_EQ(dfs_pwrite(*fs, ino, buf, sizeof(buf), 0, 0), (ssize_t)sizeof(buf));
	CHECK_EQ(dfs_fallocate(*fs, ino, FALLOC_FL_ZERO_RANGE, 10, 3 * 4096), 0);
	CHECK_EQ(dfs_pread(*fs, ino, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	CHECK_EQ(buf[9], 0x22);
	for (size_t i = 10; i < 10 + 3 * 4096; i++)
		CHECK_EQ(buf[i], 0);
	CHECK_EQ(buf[10 + 3 * 4096], 0x22);
	return T_PASS;
}

static int test_fallocate_bad_mode_gives_eopnotsupp(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK_EQ(dfs_fallocate(*fs, ino, FALLOC_FL_COLLAPSE_RANGE, 0, 4096), -EOPNOTSUPP);
	CHECK_EQ(dfs_fallocate(*fs, ino, 0, 0, 0), -EINVAL);
	return T_PASS;
}

static int test_seek_data_and_hole(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	struct stat st, attr = { .st_size = 10 * 4096 };

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK_EQ(dfs_setattr(*fs, ino, &attr, DFS_SET_SIZE, &st), 0);
	CHECK_EQ(dfs_pwrite(*fs, ino, "x", 1, 3 * 4096 + 5, 0), 1);
	CHECK_EQ(dfs_lseek(*fs, ino, 0, SEEK_DATA), 3 * 4096);
	CHECK_EQ(dfs_lseek(*fs, ino, 3 * 4096, SEEK_HOLE), 4 * 4096);
	CHECK_EQ(dfs_lseek(*fs, ino, 0, SEEK_HOLE), 0);
	CHECK_EQ(dfs_lseek(*fs, ino, 5 * 4096, SEEK_DATA), -ENXIO);
	CHECK_EQ(dfs_lseek(*fs, ino, 5 * 4096, SEEK_HOLE), 5 * 4096);
	CHECK_EQ(dfs_lseek(*fs, ino, 10 * 4096, SEEK_HOLE), -ENXIO);
	return T_PASS;
}

static int test_copy_file_range_copies(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	static uint8_t in[100000], out[100000];

	CHECK(fs);
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i ^ (i >> 8));
	uint64_t a = t_create(*fs, DFS_ROOT_INO, "a"), b = t_create(*fs, DFS_ROOT_INO, "b");
	CHECK_EQ(dfs_pwrite(*fs, a, in, sizeof(in), 0, 0), (ssize_t)sizeof(in));
	CHECK_EQ(dfs_copy_file_range(*fs, a, 0, b, 4096, sizeof(in)), (ssize_t)sizeof(in));
	CHECK_EQ(dfs_pread(*fs, b, out, sizeof(out), 4096), (ssize_t)sizeof(out));
	CHECK(memcmp(in, out, sizeof(in)) == 0);
	CHECK_EQ(dfs_copy_file_range(*fs, a, 0, a, 10, 100), -EINVAL);
	return T_PASS;
}

static int test_enospc_is_clean_and_space_returns(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(16 * MB, &md);
	static uint8_t buf[1 << 20];
	struct statvfs sv0, sv1;

	CHECK(fs);
	CHECK(t_create(*fs, DFS_ROOT_INO, "first"));
	CHECK_EQ(dfs_statfs(*fs, &sv0), 0);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "big");
	ssize_t r = 0;
	off_t off = 0;
	while ((r = dfs_pwrite(*fs, ino, buf, sizeof(buf), off, 0)) == (ssize_t)sizeof(buf))
		off += r;
	CHECK(r == -ENOSPC || (r >= 0 && r < (ssize_t)sizeof(buf)));
	if (r > 0)
		CHECK_EQ(dfs_pwrite(*fs, ino, buf, sizeof(buf), off + r, 0), -ENOSPC);
	struct stat st;
	CHECK_EQ(dfs_mknod(*fs, DFS_ROOT_INO, "more", S_IFREG | 0644, 0, &t_cred, &st), 0);
	CHECK_EQ(dfs_unlink(*fs, DFS_ROOT_INO, "big"), 0);
	dfs_forget(*fs, ino, 1);
	CHECK_EQ(dfs_sync(*fs), 0);
	CHECK_EQ(dfs_statfs(*fs, &sv1), 0);
	CHECK(sv1.f_bfree + 2 >= sv0.f_bfree);
	uint64_t again = t_create(*fs, DFS_ROOT_INO, "again");
	CHECK_EQ(dfs_pwrite(*fs, again, buf, sizeof(buf), 0, 0), (ssize_t)sizeof(buf));
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(t_fsck_problems(md), 0);
	return T_PASS;
}

static int test_enospc_while_creating_leaves_fs_consistent(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(8 * MB, &md);
	static uint8_t buf[1 << 20];
	struct stat st;
	int err = 0;

	CHECK(fs);
	uint64_t big = t_create(*fs, DFS_ROOT_INO, "big");
	for (off_t off = 0; dfs_pwrite(*fs, big, buf, sizeof(buf), off, 0) == (ssize_t)sizeof(buf); off += sizeof(buf))
		;
	for (int i = 0; i < 100000 && !err; i++) {
		err = dfs_mknod(*fs, DFS_ROOT_INO, t_fmt("n%d", i), S_IFREG | 0644, 0, &t_cred, &st);
		if (!err)
			err = dfs_pwrite(*fs, st.st_ino, "x", 1, 0, 0) == 1 ? 0 : -ENOSPC;
	}
	CHECK_EQ(err, -ENOSPC);
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(t_fsck_problems(md), 0);
	return T_PASS;
}

static int test_fragmented_file_survives_remount_and_truncates(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	struct stat st, attr = { .st_size = 4096 * 1000 + 17 };
	uint8_t b[4096];

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "frag");
	uint64_t other = t_create(*fs, DFS_ROOT_INO, "other");
	/* interleaving two files gives each one extent per block */
	for (int k = 0; k < 3000; k++) {
		memset(b, (uint8_t)k, sizeof(b));
		CHECK_EQ(dfs_pwrite(*fs, ino, b, sizeof(b), (off_t)k * 4096, 0), 4096);
		CHECK_EQ(dfs_pwrite(*fs, other, b, sizeof(b), (off_t)k * 4096, 0), 4096);
	}
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	for (int k = 0; k < 3000; k += 111) {
		CHECK_EQ(dfs_pread(*fs, ino, b, sizeof(b), (off_t)k * 4096), 4096);
		CHECK_EQ(b[0], (uint8_t)k);
	}
	/* changes in the middle of the extent chain, then from disk again */
	CHECK_EQ(dfs_fallocate(*fs, ino, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 1500 * 4096, 4096), 0);
	CHECK_EQ(dfs_fallocate(*fs, ino, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 170 * 4096, 4096), 0);
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	for (int k = 0; k < 3000; k++) {
		CHECK_EQ(dfs_pread(*fs, ino, b, sizeof(b), (off_t)k * 4096), 4096);
		CHECK_EQ(b[0], k == 1500 || k == 170 ? 0 : (uint8_t)k);
	}
	CHECK_EQ(dfs_setattr(*fs, ino, &attr, DFS_SET_SIZE, &st), 0);
	CHECK_EQ(st.st_blocks, 1000 * 8);     /* 1001 kept, block 170 punched */
	CHECK_EQ(dfs_pread(*fs, ino, b, sizeof(b), 4096 * 1000), 17);
	CHECK_EQ(b[16], (uint8_t)1000);
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(t_fsck_problems(md), 0);
	return T_PASS;
}

static int test_fsync_and_sync_succeed(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK_EQ(dfs_pwrite(*fs, ino, "abc", 3, 0, DFS_WRITE_SYNC), 3);
	CHECK_EQ(dfs_fsync(*fs, ino, false), 0);
	CHECK_EQ(dfs_fsync(*fs, ino, true), 0);
	CHECK_EQ(dfs_sync(*fs), 0);
	return T_PASS;
}

static int test_write_copy_stores_a_short_copy_and_flushes_it(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	struct dax_device_stats before, after;
	static uint8_t in[3 * 4096 + 11], out[sizeof(in)];
	struct dfs_write wr;
	struct stat st;

	CHECK(fs);
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 5 + 1);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	struct dax_device *dev = dm_md_device(dfs_md(*fs), 0);
	dax_device_get_stats(dev, &before);
	CHECK_EQ(dfs_write_begin(*fs, ino, 77, sizeof(in), 0, &wr), (ssize_t)sizeof(in));
	/* the caller may store less than begin mapped: a short write */
	CHECK_EQ(dfs_write_copy(*fs, &wr, in, 4096), 4096);
	CHECK_EQ(dfs_write_end(*fs, &wr, 4096), 4096);
	dax_device_get_stats(dev, &after);
	CHECK(after.flushes > before.flushes);
	CHECK_EQ(dfs_getattr(*fs, ino, &st), 0);
	CHECK_EQ(st.st_size, 77 + 4096);
	CHECK_EQ(dfs_pread(*fs, ino, out, sizeof(out), 77), 4096);
	CHECK(memcmp(in, out, 4096) == 0);
	/* no write begun: refused, nothing touched */
	CHECK_EQ(dfs_write_copy(*fs, &wr, in, 1), -EINVAL);
	CHECK_MSG_HAS("no write in progress");
	return T_PASS;
}

/* A write through an O_DIRECT open by a caller without CAP_FSETID: begin
 * says whether the file has bits to lose, end clears them only when asked,
 * with the times, durably (they survive a remount). */
static int test_write_clears_set_id_bits_only_when_asked(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	const struct stat set = { .st_mode = 06777 }, gid_only = { .st_mode = 06767 };
	struct dfs_write wr;
	struct stat st;

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK_EQ(dfs_setattr(*fs, ino, &set, DFS_SET_MODE, &st), 0);
	/* not asked: kept */
	CHECK_EQ(dfs_write_begin(*fs, ino, 0, 10, 0, &wr), 10);
	CHECK(wr.setid);
	CHECK_EQ(dfs_write_copy(*fs, &wr, "0123456789", 10), 10);
	CHECK_EQ(dfs_write_end(*fs, &wr, 10), 10);
	CHECK_EQ(dfs_getattr(*fs, ino, &st), 0);
	CHECK_EQ(st.st_mode & 07777, 06777);
	/* asked, but nothing written: kept */
	CHECK_EQ(dfs_write_begin(*fs, ino, 0, 10, 0, &wr), 10);
	wr.kill_setid = true;
	CHECK_EQ(dfs_write_end(*fs, &wr, 0), 0);
	CHECK_EQ(dfs_getattr(*fs, ino, &st), 0);
	CHECK_EQ(st.st_mode & 07777, 06777);
	/* asked: set-user-ID and set-group-ID (group may execute) go */
	CHECK_EQ(dfs_write_begin(*fs, ino, 0, 10, 0, &wr), 10);
	wr.kill_setid = true;
	CHECK_EQ(dfs_write_copy(*fs, &wr, "abcdefghij", 10), 10);
	CHECK_EQ(dfs_write_end(*fs, &wr, 10), 10);
	CHECK_EQ(dfs_getattr(*fs, ino, &st), 0);
	CHECK_EQ(st.st_mode & 07777, 0777);
	/* nothing left to lose: begin says so */
	CHECK_EQ(dfs_write_begin(*fs, ino, 0, 1, 0, &wr), 1);
	CHECK(!wr.setid);
	CHECK_EQ(dfs_write_end(*fs, &wr, 0), 0);
	/* set-group-ID without group execute is not a privilege: it stays */
	CHECK_EQ(dfs_setattr(*fs, ino, &gid_only, DFS_SET_MODE, &st), 0);
	CHECK_EQ(dfs_write_begin(*fs, ino, 0, 1, 0, &wr), 1);
	CHECK(wr.setid);
	wr.kill_setid = true;
	CHECK_EQ(dfs_write_copy(*fs, &wr, "z", 1), 1);
	CHECK_EQ(dfs_write_end(*fs, &wr, 1), 1);
	CHECK_EQ(dfs_getattr(*fs, ino, &st), 0);
	CHECK_EQ(st.st_mode & 07777, 02767);
	/* committed with the write: a remount keeps the cleared mode */
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	CHECK_EQ(dfs_getattr(*fs, ino, &st), 0);
	CHECK_EQ(st.st_mode & 07777, 02767);
	return T_PASS;
}

static int test_dax_never_uses_bio_path(void)
{
	const struct dfs_mount_opts o = { .dax = DFS_DAX_NEVER };
	struct dfs **fs = t_newfs_opts(64 * MB, NULL, &o);
	uint8_t buf[10000], out[10000];

	CHECK(fs);
	CHECK(!dfs_uses_dax(*fs));
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)i;
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK_EQ(dfs_pwrite(*fs, ino, buf, sizeof(buf), 1, 0), (ssize_t)sizeof(buf));
	CHECK_EQ(dfs_pread(*fs, ino, out, sizeof(out), 1), (ssize_t)sizeof(out));
	CHECK(memcmp(buf, out, sizeof(buf)) == 0);
	return T_PASS;
}

static int test_dax_always_on_zero_target_gives_einval(void)
{
	const char *a = t_backing("a", 32 * MB);
	struct mapped_device *md = t_md_text(t_fmt("0 %llu linear %s 0\n%llu 2048 zero\n",
						   32 * MB / 512, a, 32 * MB / 512));
	struct dfs_mount_opts o = { .dax = DFS_DAX_ALWAYS };
	struct dfs *fs = NULL;

	CHECK_EQ(dfs_mkfs(md, NULL), 0);
	CHECK_EQ(dfs_mount(md, &o, &fs), -EINVAL);
	CHECK_MSG_HAS("zero");
	return T_PASS;
}

/* What a shared write may not do, a cached page's write-back still does,
 * on the ordinary path: fill a hole, write preallocated blocks, extend the
 * file; and every case survives a remount and fsck. */
static int test_cached_page_write_allocates_converts_and_extends(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	const struct stat grow = { .st_size = 64 * 1024 };
	char page[4096], back[4096];
	struct stat st;

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK_EQ(dfs_setattr(*fs, ino, &grow, DFS_SET_SIZE, &st), 0);
	CHECK_EQ(dfs_fallocate(*fs, ino, FALLOC_FL_KEEP_SIZE, 16384, 8192), 0);
	CHECK_EQ(dfs_pwrite(*fs, ino, "written", 7, 32768, 0), 7);
	for (int k = 0; k < 4; k++) {
		/* a hole; preallocated; written then a hole; past EOF */
		static const off_t at[4] = { 0, 16384, 32768 + 2048, 65536 + 100 };

		memset(page, 'a' + k, sizeof(page));
		CHECK_EQ(dfs_pwrite(*fs, ino, page, sizeof(page), at[k], DFS_WRITE_CACHED_PAGES),
			 (ssize_t)sizeof(page));
	}
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(t_fsck_problems(md), 0);
	CHECK((fs = t_mount(md)));
	CHECK_EQ(dfs_getattr(*fs, ino, &st), 0);
	CHECK_EQ(st.st_size, 65536 + 100 + 4096);
	for (int k = 0; k < 4; k++) {
		static const off_t at[4] = { 0, 16384, 32768 + 2048, 65536 + 100 };

		CHECK_EQ(dfs_pread(*fs, ino, back, sizeof(back), at[k]), (ssize_t)sizeof(back));
		CHECK_EQ(back[0], 'a' + k);
		CHECK_EQ(back[4095], 'a' + k);
	}
	CHECK_EQ(dfs_pread(*fs, ino, back, 7, 32768), 7);
	CHECK(memcmp(back, "written", 7) == 0);
	CHECK_EQ(dfs_pread(*fs, ino, back, 100, 65536), 100);
	for (int i = 0; i < 100; i++)
		CHECK_EQ(back[i], 0);
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_hole_reads_zero_without_device),
	T_CASE(test_write_read_roundtrip_unaligned),
	T_CASE(test_read_clips_at_eof),
	T_CASE(test_append_writes_at_eof),
	T_CASE(test_write_to_directory_gives_eisdir),
	T_CASE(test_truncate_shrink_zeroes_partial_tail),
	T_CASE(test_write_beyond_eof_leaves_zero_gap),
	T_CASE(test_fallocate_keep_size_reads_zero_and_allocates),
	T_CASE(test_punch_hole_frees_and_reads_zero),
	T_CASE(test_zero_range_reads_zero),
	T_CASE(test_fallocate_bad_mode_gives_eopnotsupp),
	T_CASE(test_seek_data_and_hole),
	T_CASE(test_copy_file_range_copies),
	T_CASE(test_enospc_is_clean_and_space_returns),
	T_CASE(test_enospc_while_creating_leaves_fs_consistent),
	T_CASE(test_fragmented_file_survives_remount_and_truncates),
	T_CASE(test_fsync_and_sync_succeed),
	T_CASE(test_write_copy_stores_a_short_copy_and_flushes_it),
	T_CASE(test_write_clears_set_id_bits_only_when_asked),
	T_CASE(test_cached_page_write_allocates_converts_and_extends),
	T_CASE(test_dax_never_uses_bio_path),
	T_CASE(test_dax_always_on_zero_target_gives_einval),
};

T_MAIN(cases)