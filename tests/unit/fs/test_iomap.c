/* test_iomap.c - iomap types and flags, and reads through an error target */
#include <linux/falloc.h>

#include "fixture.h"

#define MB (1024ull * 1024)

static int test_iomap_hole_reports_hole(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	struct stat st, attr = { .st_size = 1 << 20 };
	struct dfs_iomap m;

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK_EQ(dfs_setattr(*fs, ino, &attr, DFS_SET_SIZE, &st), 0);
	CHECK_EQ(dfs_iomap_begin(*fs, ino, 4096, 8192, DFS_IOMAP_REPORT, &m), 0);
	CHECK_EQ(m.type, DFS_IOMAP_HOLE);
	CHECK_EQ(m.offset, 4096);
	CHECK_EQ(m.length, 8192);
	return T_PASS;
}

static int test_iomap_write_allocates_new_and_dirty(void)
{
	const struct dfs_mount_opts batched = { .commit_interval_ms = DFS_COMMIT_MAX_MS };
	struct dfs **fs = t_newfs_opts(64 * MB, NULL, &batched);   /* allocations wait for a commit */
	struct dfs_iomap m, again;

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK_EQ(dfs_iomap_begin(*fs, ino, 0, 16384, DFS_IOMAP_WRITE, &m), 0);
	CHECK_EQ(m.type, DFS_IOMAP_MAPPED);
	CHECK(m.flags & DFS_IOMAP_F_NEW);
	CHECK(m.flags & DFS_IOMAP_F_DIRTY);
	CHECK_EQ(m.length, 16384);
	CHECK_EQ(dfs_iomap_end(*fs, ino, 0, 16384, 16384, DFS_IOMAP_WRITE, &m), 0);
	CHECK_EQ(dfs_fsync(*fs, ino, false), 0);
	CHECK_EQ(dfs_iomap_begin(*fs, ino, 0, 16384, DFS_IOMAP_WRITE, &again), 0);
	CHECK_EQ(again.addr, m.addr);
	CHECK(!(again.flags & DFS_IOMAP_F_NEW));
	CHECK(!(again.flags & DFS_IOMAP_F_DIRTY));
	struct stat st;
	CHECK_EQ(dfs_getattr(*fs, ino, &st), 0);
	CHECK_EQ(st.st_size, 16384);
	return T_PASS;
}

static int test_iomap_write_on_synchronous_mount_is_committed(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);     /* commit=0, the default */
	struct dfs_iomap m;

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK_EQ(dfs_iomap_begin(*fs, ino, 0, 16384, DFS_IOMAP_WRITE, &m), 0);
	CHECK(m.flags & DFS_IOMAP_F_NEW);
	CHECK(!(m.flags & DFS_IOMAP_F_DIRTY));        /* MAP_SYNC needs no fsync */
	return T_PASS;
}

static int test_iomap_fallocated_range_is_unwritten_until_written(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	struct dfs_iomap m;

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK_EQ(dfs_fallocate(*fs, ino, 0, 0, 4 * 4096), 0);
	CHECK_EQ(dfs_iomap_begin(*fs, ino, 0, 4 * 4096, DFS_IOMAP_REPORT, &m), 0);
	CHECK_EQ(m.type, DFS_IOMAP_UNWRITTEN);
	CHECK_EQ(dfs_pwrite(*fs, ino, "z", 1, 4096, 0), 1);
	CHECK_EQ(dfs_iomap_begin(*fs, ino, 4096, 4096, DFS_IOMAP_REPORT, &m), 0);
	CHECK_EQ(m.type, DFS_IOMAP_MAPPED);
	CHECK_EQ(dfs_iomap_begin(*fs, ino, 0, 4096, DFS_IOMAP_REPORT, &m), 0);
	CHECK_EQ(m.type, DFS_IOMAP_UNWRITTEN);
	CHECK_EQ(m.length, 4096);
	return T_PASS;
}

static int test_iomap_zero_length_gives_einval(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	struct dfs_iomap m;

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK_EQ(dfs_iomap_begin(*fs, ino, 0, 0, DFS_IOMAP_REPORT, &m), -EINVAL);
	CHECK_EQ(dfs_iomap_begin(*fs, DFS_ROOT_INO, 0, 1, DFS_IOMAP_REPORT, &m), -EISDIR);
	return T_PASS;
}

static int swap_table(struct mapped_device *md, const char *text)
{
	struct dm_table *t;
	int err = dm_table_parse(md, text, "t", &t);

	if (err)
		return err;
	if ((err = dm_md_load(md, t))) {
		dm_table_put(&t);
		return err;
	}
	return dm_md_resume(md, DM_SUSPEND_NOLOCKFS);
}

/* A bio-based device (the zero target keeps it so), the data through the bio path. */
static int test_bio_read_across_error_target_is_short_then_eio(void)
{
	const char *a = t_backing("a", 64 * MB);
	const unsigned long long secs = 64 * MB / 512 - 8;
	struct mapped_device *md = t_md_text(t_fmt("0 %llu linear %s 0\n%llu 8 zero\n", secs, a, secs));
	static uint8_t buf[64 * 4096];
	struct dfs_iomap m;

	CHECK_EQ(dfs_mkfs(md, NULL), 0);
	struct dfs **fs = t_mount(md);
	CHECK(fs);
	CHECK(!dfs_uses_dax(*fs));
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	memset(buf, 0x77, sizeof(buf));
	CHECK_EQ(dfs_pwrite(*fs, ino, buf, sizeof(buf), 0, 0), (ssize_t)sizeof(buf));
	CHECK_EQ(dfs_iomap_begin(*fs, ino, 0, sizeof(buf), DFS_IOMAP_REPORT, &m), 0);
	CHECK_EQ(m.length, sizeof(buf));
	/* page 10 of the file now goes through an error target */
	unsigned long long bad = (m.addr + 10 * 4096) / 512;
	CHECK_EQ(swap_table(md, t_fmt("0 %llu linear %s 0\n%llu 8 error\n%llu %llu linear %s %llu\n"
				      "%llu 8 zero\n", bad, a, bad, bad + 8, secs - bad - 8, a, bad + 8,
				      secs)), 0);
	CHECK_EQ(dfs_pread(*fs, ino, buf, sizeof(buf), 0), 10 * 4096);
	CHECK_EQ(dfs_pread(*fs, ino, buf, 4096, 10 * 4096), -EIO);
	CHECK_EQ(dfs_pread(*fs, ino, buf, 4096, 11 * 4096), 4096);
	CHECK_EQ(buf[0], 0x77);
	/* a working table again: the data is intact */
	CHECK_EQ(swap_table(md, t_fmt("0 %llu linear %s 0\n%llu 8 zero\n", secs, a, secs)), 0);
	CHECK_EQ(dfs_pread(*fs, ino, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	return T_PASS;
}

/* On DAX, a poisoned page stops direct_access: a short read, then the error. */
static int test_dax_read_across_bad_block_is_short_then_error(void)
{
	const char *a = t_backing("a", 64 * MB);
	struct mapped_device *md = t_md_text(t_fmt("0 %llu linear %s 0\n", 64 * MB / 512, a));
	static uint8_t buf[64 * 4096];
	struct dfs_iomap m;

	CHECK_EQ(dfs_mkfs(md, NULL), 0);
	struct dfs **fs = t_mount(md);
	CHECK(fs);
	CHECK(dfs_uses_dax(*fs));
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK_EQ(dfs_pwrite(*fs, ino, buf, sizeof(buf), 0, 0), (ssize_t)sizeof(buf));
	CHECK_EQ(dfs_iomap_begin(*fs, ino, 0, sizeof(buf), DFS_IOMAP_REPORT, &m), 0);
	struct dax_device *dev = dm_md_find_device(md, a);
	CHECK(dev);
	CHECK_EQ(dax_badblocks_add(dev, (m.addr + 10 * 4096) / 512, 8), 0);
	CHECK_EQ(dfs_pread(*fs, ino, buf, sizeof(buf), 0), 10 * 4096);
	CHECK(dfs_pread(*fs, ino, buf, 4096, 10 * 4096) < 0);
	CHECK_EQ(dfs_pread(*fs, ino, buf, 4096, 11 * 4096), 4096);
	return T_PASS;
}

/*
 * A backing file cut under the mount (truncate -s of a member): the pages it
 * lost fail like poison, through DAX (the read probes the pmem it returns)
 * and through the bio path, and become bad blocks of the device.
 */
static int read_of_cut_file(enum dfs_dax_mode dax)
{
	const char *a = t_backing("a", 64 * MB);
	struct mapped_device *md = t_md_text(t_fmt("0 %llu linear %s 0\n", 64 * MB / 512, a));
	struct dfs_mount_opts o = { .dax = dax };
	static uint8_t buf[64 * 4096];
	struct dax_badblock bb[4];
	struct dfs_iomap m;
	struct dfs_read rd;
	int err;

	CHECK_EQ(dfs_mkfs(md, NULL), 0);
	struct dfs **fs = t_mount_opts(md, &o);
	CHECK(fs);
	CHECK_EQ(dfs_uses_dax(*fs), dax != DFS_DAX_NEVER);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	memset(buf, 0x5a, sizeof(buf));
	CHECK_EQ(dfs_pwrite(*fs, ino, buf, sizeof(buf), 0, 0), (ssize_t)sizeof(buf));
	CHECK_EQ(dfs_iomap_begin(*fs, ino, 0, sizeof(buf), DFS_IOMAP_REPORT, &m), 0);
	CHECK_EQ(m.length, sizeof(buf));
	CHECK_EQ(truncate(a, (off_t)(m.addr + 10 * 4096)), 0);

	CHECK_EQ(dfs_read_begin(*fs, ino, 0, sizeof(buf), &rd), 10 * 4096);
	CHECK_EQ(rd.err, -EIO);
	CHECK(!rd.iov_full);
	/* the bio path finds the prefix by halving: its last try meets the
	 * bad block the first one recorded */
	CHECK_MSG_HAS(dax == DFS_DAX_NEVER ? "read of bad sector" :
		      "SIGBUS on access: the backing file was truncated");
	dfs_read_end(*fs, &rd);
	CHECK_EQ(dfs_pread_err(*fs, ino, buf, 4096, 10 * 4096, &err), -EIO);
	CHECK_EQ(dfs_pread_err(*fs, ino, buf, sizeof(buf), 0, &err), 10 * 4096);
	CHECK_EQ(err, -EIO);
	CHECK_EQ(buf[0], 0x5a);
	CHECK_EQ(dax_badblocks_list(dm_md_find_device(md, a), bb, 4), 1);
	CHECK_EQ(bb[0].sector, (m.addr + 10 * 4096) / 512);
	/* the device is whole again (the cut bytes read as zeroes): the lost
	 * pages stay bad until cleared or rewritten, as poison does */
	CHECK_EQ(truncate(a, (off_t)(64 * MB)), 0);
	CHECK_EQ(dfs_pread(*fs, ino, buf, 4096, 10 * 4096), -EIO);
	return T_PASS;
}

static int test_dax_read_of_cut_backing_file_is_short_then_eio(void)
{
	return read_of_cut_file(DFS_DAX_INODE);
}

static int test_bio_read_of_cut_backing_file_is_short_then_eio(void)
{
	return read_of_cut_file(DFS_DAX_NEVER);
}

/* A file of more extents than a read's iov holds: the read says so, and
 * dfs_pread goes on to the end. */
static int test_read_of_many_extents_reports_a_full_iov(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	static uint8_t buf[2 * DFS_READ_MAX_IOV * 4096], out[sizeof(buf)];
	struct dfs_read rd;
	int err;

	CHECK(fs);
	uint64_t f = t_create(*fs, DFS_ROOT_INO, "f"), g = t_create(*fs, DFS_ROOT_INO, "g");
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i / 4096 + 1);
	/* one-block writes from the end back, in turn with g: every block of f
	 * is its own extent (a file growing at its end would keep room ahead) */
	for (size_t k = sizeof(buf) / 4096; k-- > 0;) {
		CHECK_EQ(dfs_pwrite(*fs, f, buf + k * 4096, 4096, (off_t)(k * 4096), 0), 4096);
		CHECK_EQ(dfs_pwrite(*fs, g, buf, 4096, (off_t)(k * 4096), 0), 4096);
	}
	CHECK_EQ(dfs_read_begin(*fs, f, 0, sizeof(buf), &rd), DFS_READ_MAX_IOV * 4096);
	CHECK(rd.iov_full);
	CHECK_EQ(rd.err, 0);
	dfs_read_end(*fs, &rd);
	CHECK_EQ(dfs_pread_err(*fs, f, out, sizeof(out), 0, &err), (ssize_t)sizeof(out));
	CHECK_EQ(err, 0);
	CHECK(memcmp(out, buf, sizeof(buf)) == 0);
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_iomap_hole_reports_hole),
	T_CASE(test_iomap_write_allocates_new_and_dirty),
	T_CASE(test_iomap_write_on_synchronous_mount_is_committed),
	T_CASE(test_iomap_fallocated_range_is_unwritten_until_written),
	T_CASE(test_iomap_zero_length_gives_einval),
	T_CASE(test_bio_read_across_error_target_is_short_then_eio),
	T_CASE(test_dax_read_across_bad_block_is_short_then_error),
	T_CASE(test_dax_read_of_cut_backing_file_is_short_then_eio),
	T_CASE(test_bio_read_of_cut_backing_file_is_short_then_eio),
	T_CASE(test_read_of_many_extents_reports_a_full_iov),
};

T_MAIN(cases)