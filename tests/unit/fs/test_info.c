/* test_info.c - reading the superblock off line, and changing the label */
#include "fixture.h"
#include "fs/format.h"
#include "fs/internal.h"

#define MIB (1ull << 20)

static struct mapped_device *made(const char *label)
{
	static const uint8_t uuid[16] = "0123456789abcdef";
	struct dfs_mkfs_opts o = { .label = label, .uuid = uuid };
	struct mapped_device *md = t_md_file("pmem", 64 * MIB);

	if (dfs_mkfs(md, &o))
		abort();
	return md;
}

static int test_info_of_a_fresh_fs_reads_the_superblock(void)
{
	struct mapped_device *md = made("scratch");
	struct dfs_info in;

	CHECK_EQ(dfs_read_info(md, false, &in), 0);
	CHECK(strcmp(in.label, "scratch") == 0);
	CHECK(memcmp(in.uuid, "0123456789abcdef", 16) == 0);
	CHECK_EQ(in.major, 2);
	CHECK_EQ(in.block_size, 4096);
	CHECK_EQ(in.total_blocks, 64 * MIB / 4096);
	CHECK(in.clean);
	CHECK(!in.from_backup);
	CHECK(!in.counted);
	CHECK_EQ(in.mount_count, 0);
	CHECK(in.mkfs_time > 0);
	return T_PASS;
}

static int test_info_counts_match_statfs_of_a_mount(void)
{
	struct mapped_device *md = made("");
	struct statvfs st;
	struct dfs_info in;
	struct dfs **fs = t_mount(md);

	CHECK(fs);
	CHECK(t_create(*fs, DFS_ROOT_INO, "a") && t_create(*fs, DFS_ROOT_INO, "b"));
	CHECK_EQ(dfs_statfs(*fs, &st), 0);
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(dfs_read_info(md, true, &in), 0);
	CHECK(in.counted);
	CHECK_EQ(in.free_blocks, st.f_bfree);
	CHECK_EQ(in.inodes_used, st.f_files - st.f_ffree);
	CHECK_EQ(in.inodes_used, 3);         /* the root and two files */
	CHECK_EQ(in.free_inodes, st.f_ffree);
	CHECK_EQ(in.mount_count, 1);
	CHECK(in.clean);
	return T_PASS;
}

static int test_info_says_dirty_after_a_crash(void)
{
	struct mapped_device *md = made("x");
	struct dfs *fs;
	struct dfs_info in;

	CHECK_EQ(dfs_mount(md, NULL, &fs), 0);
	dfs_abandon(&fs);
	CHECK_EQ(dfs_read_info(md, true, &in), 0);
	CHECK(!in.clean);
	CHECK(in.counted);
	return T_PASS;
}

static int test_info_falls_back_to_the_backup_superblock(void)
{
	struct mapped_device *md = made("backup");
	uint8_t junk[4096];
	struct dfs_info in;

	memset(junk, 0xa5, sizeof(junk));
	CHECK_EQ(dm_submit_bio(md, DAX_REQ_WRITE, 0, 0, junk, sizeof(junk)), 0);
	CHECK_EQ(dfs_read_info(md, false, &in), 0);
	CHECK(in.from_backup);
	CHECK(strcmp(in.label, "backup") == 0);
	return T_PASS;
}

static int test_info_of_something_else_names_both_superblocks(void)
{
	struct mapped_device *md = t_md_file("blank", 64 * MIB);
	struct dfs_info in;

	CHECK_EQ(dfs_read_info(md, false, &in), -EINVAL);
	CHECK_MSG_HAS("no valid superblock");
	CHECK_MSG_HAS("backup: ");
	return T_PASS;
}

static int test_label_change_keeps_everything_else(void)
{
	struct mapped_device *md = made("old");
	struct dfs_info before, after;
	struct dfs **fs = t_mount(md);

	CHECK(fs && t_create(*fs, DFS_ROOT_INO, "kept"));
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(dfs_read_info(md, true, &before), 0);
	CHECK_EQ(dfs_set_label(md, "new label"), 0);
	CHECK_EQ(dfs_read_info(md, true, &after), 0);
	CHECK(strcmp(after.label, "new label") == 0);
	CHECK(memcmp(after.uuid, before.uuid, 16) == 0);
	CHECK_EQ(after.mount_count, before.mount_count);
	CHECK_EQ(after.mount_time, before.mount_time);
	CHECK_EQ(after.inodes_used, before.inodes_used);
	CHECK(after.clean);
	CHECK_EQ(t_fsck_problems(md), 0);
	/* and the files are still there */
	fs = t_mount(md);
	struct stat st;
	CHECK(fs);
	CHECK_EQ(dfs_lookup(*fs, DFS_ROOT_INO, "kept", &st), 0);
	dfs_forget(*fs, st.st_ino, 1);
	return T_PASS;
}

static int test_label_change_after_a_crash_replays_the_journal_first(void)
{
	struct mapped_device *md = made("old");
	struct dfs *fs;
	struct dfs_info in;
	struct stat st;

	CHECK_EQ(dfs_mount(md, NULL, &fs), 0);
	CHECK(t_create(fs, DFS_ROOT_INO, "committed"));
	dfs_abandon(&fs);                    /* power loss */
	CHECK_EQ(dfs_set_label(md, "after crash"), 0);
	CHECK_EQ(dfs_read_info(md, false, &in), 0);
	CHECK(strcmp(in.label, "after crash") == 0);
	CHECK(in.clean);
	CHECK_EQ(t_fsck_problems(md), 0);
	CHECK_EQ(dfs_mount(md, NULL, &fs), 0);
	CHECK_EQ(dfs_lookup(fs, DFS_ROOT_INO, "committed", &st), 0);
	dfs_forget(fs, st.st_ino, 1);
	CHECK_EQ(dfs_unmount(&fs), 0);
	return T_PASS;
}

static int test_label_longer_than_63_bytes_is_refused(void)
{
	struct mapped_device *md = made("keep");
	struct dfs_info in;
	char label[65];

	memset(label, 'l', 64);
	label[64] = '\0';
	CHECK_EQ(dfs_set_label(md, label), -EINVAL);
	CHECK_MSG_HAS("longer than 63 bytes");
	CHECK_EQ(dfs_read_info(md, false, &in), 0);
	CHECK(strcmp(in.label, "keep") == 0);
	label[63] = '\0';
	CHECK_EQ(dfs_set_label(md, label), 0);
	CHECK_EQ(dfs_read_info(md, false, &in), 0);
	CHECK(strcmp(in.label, label) == 0);
	CHECK_EQ(dfs_set_label(md, ""), 0);
	CHECK_EQ(dfs_read_info(md, false, &in), 0);
	CHECK(strcmp(in.label, "") == 0);
	return T_PASS;
}

static int test_mkfs_with_the_nil_uuid_is_refused(void)
{
	static const uint8_t nil[16];
	struct dfs_mkfs_opts o = { .uuid = nil };
	struct mapped_device *md = t_md_file("pmem", 64 * MIB);
	struct dfs_info in;

	CHECK_EQ(dfs_mkfs(md, &o), -EINVAL);
	CHECK_MSG("the nil uuid names no filesystem");
	CHECK(dfs_read_info(md, false, &in) < 0);     /* nothing was written */
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_info_of_a_fresh_fs_reads_the_superblock),
	T_CASE(test_info_counts_match_statfs_of_a_mount),
	T_CASE(test_info_says_dirty_after_a_crash),
	T_CASE(test_info_falls_back_to_the_backup_superblock),
	T_CASE(test_info_of_something_else_names_both_superblocks),
	T_CASE(test_label_change_keeps_everything_else),
	T_CASE(test_label_change_after_a_crash_replays_the_journal_first),
	T_CASE(test_label_longer_than_63_bytes_is_refused),
	T_CASE(test_mkfs_with_the_nil_uuid_is_refused),
};

T_MAIN(cases)