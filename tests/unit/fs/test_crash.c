/* test_crash.c - journal replay, torn commits, abandoned mounts, orphans, and fsck after each */
#include <sys/wait.h>

#include "fixture.h"
#include "fs/internal.h"
#include "peek.h"

#define MB (1024ull * 1024)

static int test_journal_committed_transaction_is_replayed(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	struct stat st;

	CHECK(fs);
	CHECK_EQ(t_crash_in_commit(md, fs, DFS_FAIL_BEFORE_CHECKPOINT, NULL), 0);
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	CHECK_EQ(dfs_lookup(*fs, DFS_ROOT_INO, "new", &st), 0);
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(t_fsck_problems(md), 0);
	return T_PASS;
}

static int test_journal_without_commit_record_is_ignored(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	struct stat st;

	CHECK(fs);
	CHECK_EQ(t_crash_in_commit(md, fs, DFS_FAIL_BEFORE_COMMIT_RECORD, NULL), 0);
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	CHECK_EQ(dfs_lookup(*fs, DFS_ROOT_INO, "new", &st), -ENOENT);
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(t_fsck_problems(md), 0);
	return T_PASS;
}

/* A committed transaction whose logged block changed after its commit
 * record was written is damage, not a torn write: the mount refuses it and
 * writes nothing; fsck drops it and says so. */
static int test_journal_with_damaged_logged_block_refuses_the_mount(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	uint8_t blk[4096], before[4096], after[4096];
	struct dfs_fsck_result r;
	struct stat st;

	CHECK(fs);
	uint64_t js = (*fs)->sb.journal_start;
	CHECK_EQ(t_crash_in_commit(md, fs, DFS_FAIL_BEFORE_CHECKPOINT, NULL), 0);
	/* the first logged block follows the first descriptor */
	CHECK_EQ(dm_submit_bio(md, DAX_REQ_READ, 0, (js + 2) * 4096, blk, 4096), 0);
	blk[100] ^= 0xff;
	CHECK_EQ(dm_submit_bio(md, DAX_REQ_WRITE, DM_BIO_FUA, (js + 2) * 4096, blk, 4096), 0);
	CHECK_EQ(dm_submit_bio(md, DAX_REQ_READ, 0, js * 4096, before, 4096), 0);
	CHECK_EQ(dfs_mount(md, NULL, fs), -EIO);
	CHECK_MSG_HAS("journal checksum error");
	CHECK_MSG_HAS("run fsck.daxfs -y");
	CHECK_EQ(dm_submit_bio(md, DAX_REQ_READ, 0, js * 4096, after, 4096), 0);
	CHECK(memcmp(before, after, sizeof(before)) == 0);
	CHECK_EQ(t_fsck_problems(md), 1);
	CHECK_EQ(dfs_fsck(md, DFS_FSCK_REPAIR, t_fsck_print, NULL, &r), 0);
	CHECK_EQ(r.problems, 1);
	CHECK_EQ(r.repaired, 1);
	CHECK_EQ(t_fsck_problems(md), 0);
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	CHECK_EQ(dfs_lookup(*fs, DFS_ROOT_INO, "new", &st), -ENOENT);
	return T_PASS;
}

static int test_abandoned_process_mounts_and_fscks_clean(void)
{
	const char *path = t_backing("pmem", 64 * MB);
	const char *table = t_fmt("0 %llu linear %s 0\n", 64 * MB / 512, path);
	char tab[512];

	snprintf(tab, sizeof(tab), "%s", table);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct mapped_device *md = NULL;
		struct dm_table *t;
		struct dfs *fs;
		static char buf[100000];
		if (dm_md_create("child", &md) || dm_table_parse(md, tab, "t", &t) ||
		    dm_md_load(md, t) || dm_md_resume(md, DM_SUSPEND_NOLOCKFS) ||
		    dfs_mkfs(md, NULL) || dfs_mount(md, NULL, &fs))
			_exit(2);
		for (int i = 0; i < 200; i++) {
			struct stat st;
			char name[32];
			snprintf(name, sizeof(name), "f%d", i);
			if (dfs_mknod(fs, DFS_ROOT_INO, name, S_IFREG | 0644, 0, &t_cred, &st) ||
			    dfs_pwrite(fs, st.st_ino, buf, (size_t)(i * 500), 0, 0) < 0)
				_exit(3);
			if (i == 99 && dfs_sync(fs))
				_exit(4);
			if (i % 3 == 0 && i > 0)
				dfs_unlink(fs, DFS_ROOT_INO, t_fmt("f%d", i - 1));
		}
		_exit(0);      /* no unmount: whatever was not committed is lost */
	}
	int status;
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	struct mapped_device *md = t_md_text(tab);
	struct dfs **fs = t_mount(md);
	struct stat st;
	CHECK(fs);
	CHECK_EQ(dfs_lookup(*fs, DFS_ROOT_INO, "f99", &st), 0);
	CHECK_EQ(st.st_size, 99 * 500);
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(t_fsck_problems(md), 0);
	return T_PASS;
}

static int test_orphan_is_freed_at_next_mount(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	static uint8_t buf[1 << 20];
	struct statvfs before, after;
	struct stat st;

	CHECK(fs);
	CHECK(t_create(*fs, DFS_ROOT_INO, "first"));
	CHECK_EQ(dfs_sync(*fs), 0);
	CHECK_EQ(dfs_statfs(*fs, &before), 0);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "open");
	CHECK_EQ(dfs_pwrite(*fs, ino, buf, sizeof(buf), 0, 0), (ssize_t)sizeof(buf));
	CHECK_EQ(dfs_unlink(*fs, DFS_ROOT_INO, "open"), 0);   /* still looked up: an orphan */
	CHECK_EQ(dfs_getattr(*fs, ino, &st), 0);
	CHECK_EQ(dfs_sync(*fs), 0);
	CHECK_EQ((*fs)->sb.orphan_head, ino);
	dfs_abandon(fs);
	CHECK_EQ(t_fsck_problems(md), 0);
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	CHECK_EQ(dfs_getattr(*fs, ino, &st), -ESTALE);
	CHECK_EQ(dfs_statfs(*fs, &after), 0);
	CHECK_EQ(after.f_bfree, before.f_bfree);
	CHECK_EQ((*fs)->sb.orphan_head, 0);
	return T_PASS;
}

static int test_truncate_cut_short_by_a_crash_is_finished_at_mount(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	static uint8_t buf[4096];
	struct dfs_inode *ip;
	struct stat st;

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	memset(buf, 0xEE, sizeof(buf));
	for (int k = 0; k < 100; k++)      /* 100 one-block extents: several batches */
		CHECK_EQ(dfs_pwrite(*fs, ino, buf, sizeof(buf), (off_t)k * 2 * 4096, 0), 4096);
	/* what a truncate to 5000 bytes commits first, then the crash */
	pthread_mutex_lock(&(*fs)->meta);
	CHECK_EQ(dfs_iget(*fs, ino, &ip), 0);
	CHECK_EQ(dfs_orphan_add(*fs, ip), 0);
	ip->d.size = 5000;
	CHECK_EQ(dfs_inode_write(*fs, ip), 0);
	CHECK_EQ(dfs_commit(*fs), 0);
	pthread_mutex_unlock(&(*fs)->meta);
	CHECK_EQ(t_crash_remount(md, fs), 0);
	CHECK_EQ(dfs_getattr(*fs, ino, &st), 0);
	CHECK_EQ(st.st_size, 5000);
	CHECK_EQ(st.st_blocks, 8);     /* only block 0 is left */
	/* extending again shows zeros past the cut, never the old bytes */
	struct stat attr = { .st_size = 3 * 4096 };
	CHECK_EQ(dfs_setattr(*fs, ino, &attr, DFS_SET_SIZE, &st), 0);
	CHECK_EQ(dfs_pread(*fs, ino, buf, sizeof(buf), 4096), 4096);
	for (size_t i = 0; i < sizeof(buf); i++)
		CHECK_EQ(buf[i], 0);
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(t_fsck_problems(md), 0);
	return T_PASS;
}

static int test_truncate_of_unlinked_open_file_keeps_it_orphan(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	struct stat st, attr = { .st_size = 0 };

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK_EQ(dfs_pwrite(*fs, ino, "abc", 3, 0, 0), 3);
	CHECK_EQ(dfs_unlink(*fs, DFS_ROOT_INO, "f"), 0);
	CHECK_EQ(dfs_setattr(*fs, ino, &attr, DFS_SET_SIZE, &st), 0);
	CHECK_EQ((*fs)->sb.orphan_head, ino);
	return T_PASS;
}

static int test_fsck_clean_after_workload(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	static uint8_t buf[300000];
	struct stat d, st;

	CHECK(fs);
	CHECK_EQ(dfs_mkdir(*fs, DFS_ROOT_INO, "d", 0755, &t_cred, &d), 0);
	for (int i = 0; i < 50; i++) {
		uint64_t ino = t_create(*fs, d.st_ino, t_fmt("f%d", i));
		CHECK(ino);
		/* interleaved writes fragment the files into several extents */
		for (int k = 0; k < 6; k++)
			CHECK_EQ(dfs_pwrite(*fs, ino, buf, 4096, (off_t)(k * 2 * 4096), 0), 4096);
	}
	CHECK_EQ(dfs_symlink(*fs, d.st_ino, "l", "f1", &t_cred, &st), 0);
	CHECK_EQ(dfs_setxattr(*fs, d.st_ino, "user.a", "v", 1, 0), 0);
	CHECK_EQ(dfs_link(*fs, 2 + 1, DFS_ROOT_INO, "hard", &st), 0);
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(t_fsck_problems(md), 0);
	return T_PASS;
}

static int test_fsck_repairs_link_count(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	struct dfs_fsck_result r;

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	struct dfs_inode *ip;
	pthread_mutex_lock(&(*fs)->meta);
	CHECK_EQ(dfs_iget(*fs, ino, &ip), 0);
	ip->d.nlink = 5;
	CHECK_EQ(dfs_inode_write(*fs, ip), 0);
	pthread_mutex_unlock(&(*fs)->meta);
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(dfs_fsck(md, DFS_FSCK_CHECK, NULL, NULL, &r), 0);
	CHECK_EQ(r.problems, 1);
	CHECK_EQ(r.repaired, 0);
	CHECK_EQ(dfs_fsck(md, DFS_FSCK_REPAIR, NULL, NULL, &r), 0);
	CHECK_EQ(r.repaired, 1);
	CHECK_EQ(t_fsck_problems(md), 0);
	return T_PASS;
}

static int test_fsck_repairs_leaked_block(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	struct dfs_fsck_result r;
	uint64_t pblk, len;

	CHECK(fs);
	pthread_mutex_lock(&(*fs)->meta);
	CHECK_EQ(dfs_alloc(*fs, 0, 3, 3, false, &pblk, &len), 0);
	pthread_mutex_unlock(&(*fs)->meta);
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(dfs_fsck(md, DFS_FSCK_CHECK, NULL, NULL, &r), 0);
	CHECK_EQ(r.problems, 1);
	CHECK_EQ(dfs_fsck(md, DFS_FSCK_REPAIR, NULL, NULL, &r), 0);
	CHECK_EQ(r.repaired, r.problems);
	CHECK_EQ(t_fsck_problems(md), 0);
	return T_PASS;
}

static int test_fsck_check_mode_never_writes(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(16 * MB, &md);
	struct dfs_fsck_result r;
	static uint8_t before[16 * MB], after[16 * MB];

	CHECK(fs);
	CHECK_EQ(t_crash_in_commit(md, fs, DFS_FAIL_BEFORE_CHECKPOINT, NULL), 0);
	CHECK_EQ(dm_submit_bio(md, DAX_REQ_READ, 0, 0, before, sizeof(before)), 0);
	CHECK_EQ(dfs_fsck(md, DFS_FSCK_CHECK, t_fsck_print, NULL, &r), 0);
	CHECK_EQ(r.problems, 0);     /* the log is replayed in memory first */
	CHECK_EQ(dm_submit_bio(md, DAX_REQ_READ, 0, 0, after, sizeof(after)), 0);
	CHECK(memcmp(before, after, sizeof(before)) == 0);
	return T_PASS;
}

static int test_damaged_primary_superblock_uses_backup(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	uint8_t junk[4096];
	struct stat st;

	CHECK(fs);
	CHECK(t_create(*fs, DFS_ROOT_INO, "f"));
	CHECK_EQ(dfs_unmount(fs), 0);
	memset(junk, 0x5a, sizeof(junk));
	CHECK_EQ(dm_submit_bio(md, DAX_REQ_WRITE, DM_BIO_FUA, 0, junk, sizeof(junk)), 0);
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	CHECK_EQ(dfs_lookup(*fs, DFS_ROOT_INO, "f", &st), 0);
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(t_fsck_problems(md), 0);    /* the mount rewrote the primary */
	return T_PASS;
}

static int test_both_superblocks_damaged_refuses_mount(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	uint8_t blk[4096];

	CHECK(fs);
	CHECK_EQ(dfs_unmount(fs), 0);
	for (int i = 0; i < 2; i++) {
		CHECK_EQ(dm_submit_bio(md, DAX_REQ_READ, 0, (uint64_t)i * 4096, blk, 4096), 0);
		blk[20] ^= 1;
		CHECK_EQ(dm_submit_bio(md, DAX_REQ_WRITE, DM_BIO_FUA, (uint64_t)i * 4096, blk, 4096), 0);
	}
	CHECK_EQ(dfs_mount(md, NULL, fs), -EIO);
	CHECK_MSG_HAS("checksum");
	return T_PASS;
}

static int test_mount_refuses_reordered_members(void)
{
	const char *a = t_backing("a", 32 * MB), *b = t_backing("b", 16 * MB);
	const char *c = t_backing("c", 48 * MB);
	/* the first member stays first, so the superblock is found; the label
	 * of the member now second says which one it is */
	struct mapped_device *md = t_md_text(t_fmt("0 65536 linear %s 0\n65536 32768 linear %s 0\n"
						   "98304 98304 linear %s 0\n", a, b, c));
	struct mapped_device *md2 = t_md_text(t_fmt("0 65536 linear %s 0\n65536 98304 linear %s 0\n"
						    "163840 32768 linear %s 0\n", a, c, b));
	struct dfs *fs = NULL;

	const uint8_t uuid[16] = { 0x3f, 0x2a, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14 };
	struct dfs_mkfs_opts o = { .uuid = uuid };

	CHECK_EQ(dfs_mkfs(md, &o), 0);
	CHECK_EQ(dfs_mount(md2, NULL, &fs), -EINVAL);
	CHECK_MSG(t_fmt("mount fs: %s holds member 2 of filesystem 3f2a0102-0304-0506-0708-"
			"090a0b0c0d0e, expected member 1; did you reorder the files?", c));
	return T_PASS;
}

static int test_mkfs_refuses_existing_without_force(void)
{
	struct mapped_device *md = t_md_file("pmem", 64 * MB);
	struct dfs_mkfs_opts force = { .force = true, .label = "again" };

	CHECK_EQ(dfs_mkfs(md, NULL), 0);
	CHECK_EQ(dfs_mkfs(md, NULL), -EEXIST);
	CHECK_EQ(dfs_mkfs(md, &force), 0);
	return T_PASS;
}

static int test_mkfs_refuses_too_small_device(void)
{
	struct mapped_device *md = t_md_file("pmem", 4 * MB);

	CHECK_EQ(dfs_mkfs(md, NULL), -EINVAL);
	CHECK_MSG_HAS("too small");
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_journal_committed_transaction_is_replayed),
	T_CASE(test_journal_without_commit_record_is_ignored),
	T_CASE(test_journal_with_damaged_logged_block_refuses_the_mount),
	T_CASE(test_abandoned_process_mounts_and_fscks_clean),
	T_CASE(test_orphan_is_freed_at_next_mount),
	T_CASE(test_truncate_cut_short_by_a_crash_is_finished_at_mount),
	T_CASE(test_truncate_of_unlinked_open_file_keeps_it_orphan),
	T_CASE(test_fsck_clean_after_workload),
	T_CASE(test_fsck_repairs_link_count),
	T_CASE(test_fsck_repairs_leaked_block),
	T_CASE(test_fsck_check_mode_never_writes),
	T_CASE(test_damaged_primary_superblock_uses_backup),
	T_CASE(test_both_superblocks_damaged_refuses_mount),
	T_CASE(test_mount_refuses_reordered_members),
	T_CASE(test_mkfs_refuses_existing_without_force),
	T_CASE(test_mkfs_refuses_too_small_device),
};

T_MAIN(cases)