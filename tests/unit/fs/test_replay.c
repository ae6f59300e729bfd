/* test_replay.c - replay installs nothing that fails its check; a read-only mount never writes */
#include "fixture.h"
#include "util/crc32c.h"
#include "fs/internal.h"
#include "peek.h"

#define MB (1024ull * 1024)

/* Block blk, read as kind, goes into the log with a byte changed and plain:
 * its own checksum is not made again, although the commit record covers it. */
static int log_changed_plain(struct dfs *fs, uint64_t blk, enum dfs_buf_kind kind)
{
	struct dfs_buf *b;
	int err = dfs_buf_read(fs, blk, kind, &b);

	if (err)
		return err;
	b->kind = DFS_BUF_PLAIN;
	b->data[4000] ^= 1;
	dfs_buf_dirty(fs, b);
	return 0;
}

/* The root's directory block goes into the log unsealed. */
static int log_unsealed_dir_block(struct dfs *fs)
{
	struct dfs_inode *root;
	int err = dfs_iget(fs, DFS_ROOT_INO, &root);

	return err ? err : log_changed_plain(fs, root->ext[0].pblk, DFS_BUF_SEALED);
}

/* The bitmap goes into the log without its descriptor's crc following it. */
static int log_bitmap_behind_its_descriptor(struct dfs *fs)
{
	return log_changed_plain(fs, fs->gds[0].bitmap_blk, DFS_BUF_BITMAP);
}

/* An inode table block with a slot whose checksum fails. */
static int log_damaged_inode_slot(struct dfs *fs)
{
	struct dfs_buf *b;
	uint8_t *slot;
	int err;

	if ((err = dfs_inode_slot(fs, DFS_ROOT_INO, &b, &slot)))
		return err;
	slot[8] ^= 1;
	dfs_buf_dirty(fs, b);
	return 0;
}

/* A block that is never logged goes into the log: home, a label block or
 * the member table, holding zeroes (sealed: its own checksum holds). */
static int log_block_at(struct dfs *fs, uint64_t home)
{
	struct dfs_buf *b;
	int err;

	if ((err = dfs_buf_new(fs, home, DFS_BUF_SEALED, &b)))
		return err;
	dfs_buf_dirty(fs, b);
	return 0;
}

static int log_a_label_block(struct dfs *fs)
{
	return log_block_at(fs, fs->members[0].label_sector >> 3);
}

static int log_a_member_table_block(struct dfs *fs)
{
	return log_block_at(fs, fs->sb.gdt_start + fs->sb.gdt_blocks);
}

static int refused_then_dropped_by_fsck(int (*change)(struct dfs *fs), const char *why)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	struct dfs_fsck_result r;
	struct t_report rep;
	struct stat st;

	CHECK(fs);
	CHECK(t_create(*fs, DFS_ROOT_INO, "old"));
	CHECK_EQ(t_crash_in_commit(md, fs, DFS_FAIL_BEFORE_CHECKPOINT, change), 0);
	CHECK_EQ(dfs_mount(md, NULL, fs), -EIO);
	CHECK_MSG_HAS("journal checksum error: transaction ");
	CHECK_MSG_HAS(why);
	CHECK_MSG_HAS("; run fsck.daxfs -y");
	CHECK_EQ(t_fsck_report(md, DFS_FSCK_CHECK, &rep, &r), 0);
	CHECK_EQ(r.problems, 1);
	CHECK(strstr(rep.text, "is not replayed: ") && strstr(rep.text, why));
	CHECK_EQ(t_fsck_report(md, DFS_FSCK_REPAIR, &rep, &r), 0);
	CHECK_EQ(r.repaired, 1);
	CHECK_EQ(t_fsck_problems(md), 0);
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	CHECK_EQ(dfs_lookup(*fs, DFS_ROOT_INO, "old", &st), 0);
	CHECK_EQ(dfs_lookup(*fs, DFS_ROOT_INO, "new", &st), -ENOENT);   /* dropped whole */
	return T_PASS;
}

static int test_replay_refuses_a_logged_block_that_fails_its_checksum(void)
{
	return refused_then_dropped_by_fsck(log_unsealed_dir_block, "fails its checksum");
}

static int test_replay_refuses_a_logged_bitmap_its_descriptor_does_not_match(void)
{
	return refused_then_dropped_by_fsck(log_bitmap_behind_its_descriptor,
					    "does not match its group descriptor");
}

static int test_replay_refuses_a_logged_inode_table_block_with_a_damaged_slot(void)
{
	return refused_then_dropped_by_fsck(log_damaged_inode_slot,
					    "its copy of inode table block");
}

/* The mount that follows the drop checks every label and the member
 * table: they were not written over. */
static int test_replay_refuses_a_logged_block_whose_home_is_a_label(void)
{
	return refused_then_dropped_by_fsck(log_a_label_block, "which is a member label's block");
}

static int test_replay_refuses_a_logged_block_whose_home_is_the_member_table(void)
{
	return refused_then_dropped_by_fsck(log_a_member_table_block, "which is in the member table");
}

static int test_replay_refuses_a_log_damaged_before_its_commit_record(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	uint8_t blk[4096] = { 0 };

	CHECK(fs);
	const uint64_t js = (*fs)->sb.journal_start;
	CHECK_EQ(t_crash_in_commit(md, fs, DFS_FAIL_BEFORE_CHECKPOINT, NULL), 0);
	CHECK_EQ(t_rw_block(md, DAX_REQ_WRITE, js + 1, blk), 0);      /* its first descriptor */
	CHECK_EQ(dfs_mount(md, NULL, fs), -EIO);
	CHECK_MSG_HAS(t_fmt("its log is damaged at block %llu before its commit record",
			    (unsigned long long)js + 1));
	return T_PASS;
}

static int test_a_damaged_commit_record_is_a_transaction_that_never_committed(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	uint8_t blk[4096];
	struct stat st;

	CHECK(fs);
	const uint64_t js = (*fs)->sb.journal_start;
	CHECK_EQ(t_crash_in_commit(md, fs, DFS_FAIL_BEFORE_CHECKPOINT, NULL), 0);
	uint64_t at = js + 1;
	for (; at < js + 64; at++) {       /* the commit record follows the logged blocks */
		CHECK_EQ(t_rw_block(md, DAX_REQ_READ, at, blk), 0);
		if (dfs_get32(blk + DFS_BLK_MAGIC) == DFS_MAGIC_JCOMMIT)
			break;
	}
	blk[40] ^= 1;      /* its data crc: as torn as a commit record cut short */
	CHECK_EQ(t_rw_block(md, DAX_REQ_WRITE, at, blk), 0);
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	CHECK_EQ(dfs_lookup(*fs, DFS_ROOT_INO, "new", &st), -ENOENT);
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(t_fsck_problems(md), 0);
	return T_PASS;
}

/* crc32c of the whole device: any write changes it. */
static uint32_t device_crc(struct mapped_device *md, uint64_t bytes)
{
	static uint8_t buf[1 << 20];
	uint32_t crc = CRC32C_INIT;

	for (uint64_t off = 0; off < bytes; off += sizeof(buf)) {
		if (dm_submit_bio(md, DAX_REQ_READ, 0, off, buf, sizeof(buf)))
			return 0;
		crc = crc32c_update(crc, buf, sizeof(buf));
	}
	return crc32c_final(crc);
}

static int test_a_read_only_mount_replays_into_memory_and_writes_nothing(void)
{
	const struct dfs_mount_opts ro = { .rdonly = true };
	struct mapped_device *md;
	struct dfs **fs = t_newfs(16 * MB, &md);
	struct stat st;

	CHECK(fs);
	CHECK_EQ(t_crash_in_commit(md, fs, DFS_FAIL_BEFORE_CHECKPOINT, NULL), 0);
	const uint32_t before = device_crc(md, 16 * MB);
	CHECK_EQ(dfs_mount(md, &ro, fs), 0);
	CHECK_EQ(dfs_lookup(*fs, DFS_ROOT_INO, "new", &st), 0);      /* replayed, in memory */
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(device_crc(md, 16 * MB), before);
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);                          /* replayed, for real */
	CHECK_EQ(dfs_lookup(*fs, DFS_ROOT_INO, "new", &st), 0);
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK(device_crc(md, 16 * MB) != before);
	CHECK_EQ(t_fsck_problems(md), 0);
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_replay_refuses_a_logged_block_that_fails_its_checksum),
	T_CASE(test_replay_refuses_a_logged_bitmap_its_descriptor_does_not_match),
	T_CASE(test_replay_refuses_a_logged_inode_table_block_with_a_damaged_slot),
	T_CASE(test_replay_refuses_a_logged_block_whose_home_is_a_label),
	T_CASE(test_replay_refuses_a_logged_block_whose_home_is_the_member_table),
	T_CASE(test_replay_refuses_a_log_damaged_before_its_commit_record),
	T_CASE(test_a_damaged_commit_record_is_a_transaction_that_never_committed),
	T_CASE(test_a_read_only_mount_replays_into_memory_and_writes_nothing),
};

T_MAIN(cases)