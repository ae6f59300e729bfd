/* test_scale.c - a 100,000-entry directory and a multi-TiB sparse device */
#include <time.h>

#include "fixture.h"

#define MB (1024ull * 1024)
#define TB (1024ull * 1024 * MB)

static int test_directory_of_100000_entries_lookups_work(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(256 * MB, &md);
	const int n = 100000;
	struct stat st, d;

	CHECK(fs);
	CHECK_EQ(dfs_mkdir(*fs, DFS_ROOT_INO, "big", 0755, &t_cred, &d), 0);
	for (int i = 0; i < n; i++) {
		CHECK_EQ(dfs_mknod(*fs, d.st_ino, t_fmt("entry-%06d", i), S_IFREG | 0644, 0, &t_cred, &st), 0);
		dfs_forget(*fs, st.st_ino, 1);
	}
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	for (int i = 0; i < n; i += 997) {
		CHECK_EQ(dfs_lookup(*fs, d.st_ino, t_fmt("entry-%06d", i), &st), 0);
		dfs_forget(*fs, st.st_ino, 1);
	}
	CHECK_EQ(dfs_lookup(*fs, d.st_ino, "entry-100000", &st), -ENOENT);
	CHECK_EQ(dfs_unlink(*fs, d.st_ino, "entry-050000"), 0);
	CHECK_EQ(dfs_lookup(*fs, d.st_ino, "entry-050000", &st), -ENOENT);
	CHECK_EQ(dfs_lookup(*fs, d.st_ino, "entry-050001", &st), 0);
	return T_PASS;
}

static uint64_t allocated_bytes(const char *path)
{
	struct stat st;

	return stat(path, &st) ? UINT64_MAX : (uint64_t)st.st_blocks * 512;
}

static int test_four_tib_sparse_device_mkfs_and_mount_write_little(void)
{
	const char *a = t_backing("a", 2 * TB), *b = t_backing("b", 2 * TB);

	if (!a || !b)
		return T_SKIP;      /* the tmp filesystem cannot hold sparse files this big */
	struct mapped_device *md = t_md_text(t_fmt("0 %llu linear %s 0\n%llu %llu linear %s 0\n",
						   2 * TB / 512, a, 2 * TB / 512, 2 * TB / 512, b));
	CHECK_EQ(dfs_mkfs(md, NULL), 0);
	struct dfs **fs = t_mount(md);
	CHECK(fs);
	struct statvfs sv;
	CHECK_EQ(dfs_statfs(*fs, &sv), 0);
	CHECK_EQ(sv.f_blocks, 4 * TB / 4096);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "far");
	CHECK_EQ(dfs_pwrite(*fs, ino, "end", 3, (off_t)(3 * TB), 0), 3);
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	char buf[4];
	CHECK_EQ(dfs_pread(*fs, ino, buf, 3, (off_t)(3 * TB)), 3);
	CHECK(memcmp(buf, "end", 3) == 0);
	CHECK_EQ(dfs_unmount(fs), 0);
	/* a full bitmap of 4 TiB would be 128 MiB; the metadata written is tiny */
	CHECK(allocated_bytes(a) + allocated_bytes(b) < 64 * MB);
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_directory_of_100000_entries_lookups_work),
	T_CASE(test_four_tib_sparse_device_mkfs_and_mount_write_little),
};

T_MAIN(cases)