/* test_fsck.c - damaged metadata gives -EIO or a clear refusal, never a crash; fsck reports it */
#include "fixture.h"
#include "fs/internal.h"
#include "peek.h"

#define MB (1024ull * 1024)

static void quiet(void *ctx, const struct dfs_fsck_problem *p)
{
	(void)p;
	(*(unsigned *)ctx)++;
}

/* A small tree: dirs, files with data and several extents, a symlink, xattrs. */
static int populate(struct dfs *fs)
{
	static uint8_t buf[4096];
	struct stat d, st;

	memset(buf, 0x3c, sizeof(buf));
	if (dfs_mkdir(fs, DFS_ROOT_INO, "dir", 0755, &t_cred, &d))
		return -1;
	for (int i = 0; i < 40; i++) {
		if (dfs_mknod(fs, d.st_ino, t_fmt("file-%d", i), S_IFREG | 0644, 0, &t_cred, &st))
			return -1;
		for (int k = 0; k < 6; k++)
			if (dfs_pwrite(fs, st.st_ino, buf, sizeof(buf), (off_t)k * 8192, 0) != 4096)
				return -1;
		if (i % 7 == 0 && dfs_setxattr(fs, st.st_ino, "user.k", "v", 1, 0))
			return -1;
	}
	return dfs_symlink(fs, d.st_ino, "link", "file-1", &t_cred, &st);
}

struct walk {
	uint64_t inos[256];
	unsigned n;
};

/* readdir's callback runs under the filesystem's lock: only collect here */
static int collect(void *ctx, const char *name, const struct stat *st, off_t next)
{
	struct walk *w = ctx;

	(void)next;
	if (strcmp(name, ".") && strcmp(name, "..") && w->n < 256)
		w->inos[w->n++] = st->st_ino;
	return 0;
}

/* Reads everything reachable; whatever fails must fail cleanly. */
static void walk_all(struct dfs *fs)
{
	uint64_t dirs[64] = { DFS_ROOT_INO };
	unsigned ndirs = 1;

	for (unsigned i = 0; i < ndirs; i++) {
		struct walk w = { .n = 0 };
		(void)dfs_readdir(fs, dirs[i], 0, true, collect, &w);
		for (unsigned k = 0; k < w.n; k++) {
			uint8_t buf[8192];
			char link[64];
			struct stat st;

			if (dfs_getattr(fs, w.inos[k], &st) == 0 && S_ISDIR(st.st_mode) && ndirs < 64)
				dirs[ndirs++] = w.inos[k];
			(void)dfs_pread(fs, w.inos[k], buf, sizeof(buf), 0);
			(void)dfs_readlink(fs, w.inos[k], link, sizeof(link));
			(void)dfs_listxattr(fs, w.inos[k], (char *)buf, sizeof(buf));
		}
	}
	struct stat st;
	(void)dfs_mknod(fs, DFS_ROOT_INO, "after", S_IFREG | 0644, 0, &t_cred, &st);
	(void)dfs_unlink(fs, DFS_ROOT_INO, "after");
}

static int test_damaged_directory_block_gives_eio_and_fsck_reports_it(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	struct dfs_inode *ip;
	struct stat st;
	uint8_t blk[4096];
	unsigned n = 0;

	CHECK(fs);
	CHECK_EQ(populate(*fs), 0);
	CHECK_EQ(dfs_lookup(*fs, DFS_ROOT_INO, "dir", &st), 0);
	pthread_mutex_lock(&(*fs)->meta);
	CHECK_EQ(dfs_iget(*fs, st.st_ino, &ip), 0);
	uint64_t pblk = ip->ext[0].pblk;
	pthread_mutex_unlock(&(*fs)->meta);
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(dm_submit_bio(md, DAX_REQ_READ, 0, pblk * 4096, blk, 4096), 0);
	blk[40] ^= 0x10;
	CHECK_EQ(dm_submit_bio(md, DAX_REQ_WRITE, DM_BIO_FUA, pblk * 4096, blk, 4096), 0);
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	CHECK_EQ(dfs_lookup(*fs, st.st_ino, "file-3", &st), -EIO);
	CHECK_EQ(dfs_unmount(fs), 0);
	struct dfs_fsck_result r;
	CHECK_EQ(dfs_fsck(md, DFS_FSCK_CHECK, quiet, &n, &r), 0);
	CHECK(r.problems > 0);
	CHECK_EQ(n, r.problems);
	return T_PASS;
}

static int test_damaged_inode_gives_eio(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	uint8_t blk[4096];
	struct stat st;

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	uint64_t pblk = (*fs)->sb.itable[0].pblk + ino / 16;
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(dm_submit_bio(md, DAX_REQ_READ, 0, pblk * 4096, blk, 4096), 0);
	blk[(ino % 16) * 256 + 16] ^= 1;     /* the size */
	CHECK_EQ(dm_submit_bio(md, DAX_REQ_WRITE, DM_BIO_FUA, pblk * 4096, blk, 4096), 0);
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	CHECK_EQ(dfs_lookup(*fs, DFS_ROOT_INO, "f", &st), -EIO);
	CHECK_MSG_HAS("checksum");
	return T_PASS;
}

static int test_fsck_removes_entry_naming_free_inode(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	struct dfs_fsck_result r;
	struct dfs_inode *root;

	CHECK(fs);
	CHECK(t_create(*fs, DFS_ROOT_INO, "f"));
	pthread_mutex_lock(&(*fs)->meta);
	CHECK_EQ(dfs_iget(*fs, DFS_ROOT_INO, &root), 0);
	CHECK_EQ(dfs_dir_add(*fs, root, "dangling", 100, S_IFREG), 0);   /* slot 100 is free */
	pthread_mutex_unlock(&(*fs)->meta);
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(dfs_fsck(md, DFS_FSCK_CHECK, NULL, NULL, &r), 0);
	CHECK_EQ(r.problems, 1);
	CHECK_EQ(dfs_fsck(md, DFS_FSCK_REPAIR, NULL, NULL, &r), 0);
	CHECK_EQ(r.repaired, 1);
	CHECK_EQ(dfs_fsck(md, DFS_FSCK_CHECK, NULL, NULL, &r), 0);
	CHECK_EQ(r.problems, 0);
	return T_PASS;
}

static int test_fsck_reconnects_unreachable_inodes_under_lost_found(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	struct dfs_fsck_result r;
	struct dfs_inode *root;
	struct stat d, st;

	CHECK(fs);
	CHECK_EQ(dfs_mkdir(*fs, DFS_ROOT_INO, "d", 0755, &t_cred, &d), 0);
	uint64_t x = t_create(*fs, d.st_ino, "x");
	uint64_t f = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK_EQ(dfs_pwrite(*fs, x, "kept", 4, 0, 0), 4);
	pthread_mutex_lock(&(*fs)->meta);
	CHECK_EQ(dfs_iget(*fs, DFS_ROOT_INO, &root), 0);
	CHECK_EQ(dfs_dir_remove(*fs, root, "d"), 0);     /* entries lost, inodes not */
	CHECK_EQ(dfs_dir_remove(*fs, root, "f"), 0);
	pthread_mutex_unlock(&(*fs)->meta);
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(dfs_fsck(md, DFS_FSCK_CHECK, NULL, NULL, &r), 0);
	CHECK(r.problems >= 3);
	CHECK_EQ(dfs_fsck(md, DFS_FSCK_REPAIR, NULL, NULL, &r), 0);
	CHECK_EQ(r.repaired, r.problems);
	CHECK_EQ(dfs_fsck(md, DFS_FSCK_CHECK, NULL, NULL, &r), 0);
	CHECK_EQ(r.problems, 0);
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	CHECK_EQ(dfs_lookup(*fs, DFS_ROOT_INO, "lost+found", &st), 0);
	uint64_t lf = st.st_ino;
	CHECK_EQ(dfs_lookup(*fs, lf, t_fmt("#%llu", (unsigned long long)f), &st), 0);
	CHECK_EQ(dfs_lookup(*fs, lf, t_fmt("#%llu", (unsigned long long)d.st_ino), &st), 0);
	CHECK_EQ(dfs_lookup(*fs, st.st_ino, "x", &st), 0);
	char buf[4];
	CHECK_EQ(dfs_pread(*fs, x, buf, 4, 0), 4);
	CHECK(memcmp(buf, "kept", 4) == 0);
	return T_PASS;
}

static int test_fsck_reports_block_used_twice(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	struct dfs_fsck_result r;
	unsigned n = 0;

	CHECK(fs);
	uint64_t ia = t_create(*fs, DFS_ROOT_INO, "a"), ib = t_create(*fs, DFS_ROOT_INO, "b");
	CHECK_EQ(dfs_pwrite(*fs, ia, "a", 1, 0, 0), 1);
	CHECK_EQ(dfs_pwrite(*fs, ib, "b", 1, 0, 0), 1);
	/* b's block leaks, a's is shared */
	CHECK_EQ(t_set_first_block(*fs, ib, t_first_block(*fs, ia)), 0);
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(dfs_fsck(md, DFS_FSCK_CHECK, quiet, &n, &r), 0);
	CHECK_EQ(r.problems, 2);     /* the shared block, the leaked one */
	return T_PASS;
}

static int test_fsck_rewrites_damaged_journal_header(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	struct dfs_fsck_result r;
	uint8_t blk[4096];
	struct stat st;

	CHECK(fs);
	CHECK(t_create(*fs, DFS_ROOT_INO, "f"));
	uint64_t js = (*fs)->sb.journal_start;
	CHECK_EQ(dfs_unmount(fs), 0);
	memset(blk, 0xA5, sizeof(blk));
	CHECK_EQ(dm_submit_bio(md, DAX_REQ_WRITE, DM_BIO_FUA, js * 4096, blk, 4096), 0);
	/* and the log, which would otherwise recover the header (test_journal.c) */
	CHECK_EQ(dm_submit_bio(md, DAX_REQ_WRITE, DM_BIO_FUA, (js + 1) * 4096, blk, 4096), 0);
	CHECK_EQ(dfs_mount(md, NULL, fs), -EIO);
	CHECK_MSG_HAS("journal header");
	CHECK_EQ(dfs_fsck(md, DFS_FSCK_CHECK, NULL, NULL, &r), 0);
	CHECK_EQ(r.problems, 1);
	CHECK_EQ(r.repaired, 0);
	CHECK_EQ(dfs_fsck(md, DFS_FSCK_REPAIR, NULL, NULL, &r), 0);
	CHECK_EQ(r.problems, 1);
	CHECK_EQ(r.repaired, 1);
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	CHECK_EQ(dfs_lookup(*fs, DFS_ROOT_INO, "f", &st), 0);
	return T_PASS;
}

/* Flips bytes in random metadata blocks: every call must return, and fsck
 * must finish, whatever the damage. Deterministic (fixed seed). */
static int test_random_metadata_damage_never_crashes(void)
{
	srand(12345);
	for (int round = 0; round < 24; round++) {
		const char *path = t_backing("pmem", 32 * MB);
		struct mapped_device *md = NULL;
		struct dm_table *t;
		struct dfs *fs = NULL;

		CHECK(path);
		CHECK_EQ(dm_md_create("fuzz", &md), 0);
		CHECK_EQ(dm_table_parse(md, t_fmt("0 %llu linear %s 0\n", 32 * MB / 512, path), "t", &t), 0);
		CHECK_EQ(dm_md_load(md, t), 0);
		CHECK_EQ(dm_md_resume(md, DM_SUSPEND_NOLOCKFS), 0);
		struct dfs_fsck_result r;
		unsigned n = 0;

		CHECK_EQ(dfs_mkfs(md, NULL), 0);
		CHECK_EQ(dfs_mount(md, NULL, &fs), 0);
		CHECK_EQ(populate(fs), 0);
		uint64_t data_start = fs->sb.data_start;
		CHECK_EQ(dfs_unmount(&fs), 0);
		/* a block of the metadata area or of the first data blocks */
		uint64_t blk = 2 + (uint64_t)rand() % (data_start + 400 - 2);
		uint8_t b[4096];
		CHECK_EQ(dm_submit_bio(md, DAX_REQ_READ, 0, blk * 4096, b, 4096), 0);
		for (int k = 0; k < 16; k++)
			b[rand() % 4096] ^= (uint8_t)(1 + rand() % 255);
		CHECK_EQ(dm_submit_bio(md, DAX_REQ_WRITE, DM_BIO_FUA, blk * 4096, b, 4096), 0);
		if (dfs_mount(md, NULL, &fs) == 0) {
			walk_all(fs);
			(void)dfs_unmount(&fs);
		}
		(void)dfs_fsck(md, DFS_FSCK_CHECK, quiet, &n, &r);
		(void)dfs_fsck(md, DFS_FSCK_REPAIR, quiet, &n, &r);
		if (dfs_mount(md, NULL, &fs) == 0) {
			walk_all(fs);
			(void)dfs_unmount(&fs);
		}
		dm_md_destroy(&md);
	}
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_damaged_directory_block_gives_eio_and_fsck_reports_it),
	T_CASE(test_damaged_inode_gives_eio),
	T_CASE(test_fsck_removes_entry_naming_free_inode),
	T_CASE(test_fsck_reconnects_unreachable_inodes_under_lost_found),
	T_CASE(test_fsck_reports_block_used_twice),
	T_CASE(test_fsck_rewrites_damaged_journal_header),
	T_CASE(test_random_metadata_damage_never_crashes),
};

T_MAIN(cases)