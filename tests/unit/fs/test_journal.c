/* test_journal.c - a torn write of the journal header is recovered from the log it was retiring */
#include "fixture.h"
#include "fs/internal.h"
#include "peek.h"

#define MB (1024ull * 1024)

/* What power loss in the middle of advancing the header from seq-1 to seq
 * leaves: pmem persists aligned 8-byte words independently, here the old
 * sequence word next to the new crc word. */
static int tear_header(struct mapped_device *md, uint64_t js)
{
	uint8_t b[4096];
	int err;

	if ((err = t_rw_block(md, DAX_REQ_READ, js, b)))
		return err;
	if (dfs_get32(b + DFS_BLK_MAGIC) != DFS_MAGIC_JHEAD || !dfs_block_crc_ok(js, b))
		return -1;      /* must be whole before it is torn */
	dfs_put64(b + DFS_JBLK_SEQ, dfs_get64(b + DFS_JBLK_SEQ) - 1);
	return t_rw_block(md, DAX_REQ_WRITE, js, b);
}

/* The header's sequence if it is whole, else 0. */
static uint64_t header_seq(struct mapped_device *md, uint64_t js)
{
	uint8_t b[4096];

	if (t_rw_block(md, DAX_REQ_READ, js, b) || dfs_get32(b + DFS_BLK_MAGIC) != DFS_MAGIC_JHEAD ||
	    !dfs_block_crc_ok(js, b))
		return 0;
	return dfs_get64(b + DFS_JBLK_SEQ);
}

/* A file "f" of 3 blocks of pattern c, durable (every call commits). */
static uint64_t make_file(struct dfs *fs, const char *name, int c)
{
	static uint8_t buf[3 * 4096];
	uint64_t ino = t_create(fs, DFS_ROOT_INO, name);

	memset(buf, c, sizeof(buf));
	if (!ino || dfs_pwrite(fs, ino, buf, sizeof(buf), 0, 0) != (ssize_t)sizeof(buf))
		return 0;
	return ino;
}

static bool file_holds(struct dfs *fs, const char *name, int c)
{
	static uint8_t buf[3 * 4096 + 1];
	struct stat st;

	if (dfs_lookup(fs, DFS_ROOT_INO, name, &st) || st.st_size != 3 * 4096 ||
	    dfs_pread(fs, st.st_ino, buf, sizeof(buf), 0) != 3 * 4096)
		return false;
	for (size_t i = 0; i < 3 * 4096; i++)
		if (buf[i] != c)
			return false;
	return true;
}

/* A fresh fs dropped unwritten, as by power loss, once its file "f" of
 * pattern c is durable: *js the journal's first block, *next the sequence
 * of the header's last advance. */
static struct dfs **lost_power_after_a_file(struct mapped_device **md, int c, uint64_t *js,
					    uint64_t *next)
{
	struct dfs **fs = t_newfs(64 * MB, md);

	if (!fs)
		return NULL;
	*js = (*fs)->sb.journal_start;
	if (!make_file(*fs, "f", c))
		return NULL;
	*next = (*fs)->jseq;
	dfs_abandon(fs);
	return fs;
}

static int test_torn_header_after_a_commit_mounts_with_data_intact(void)
{
	struct mapped_device *md;
	uint64_t js, next;
	struct dfs **fs = lost_power_after_a_file(&md, 0x5a, &js, &next);

	CHECK(fs);
	CHECK_EQ(header_seq(md, js), next);
	CHECK_EQ(tear_header(md, js), 0);
	CHECK_EQ(header_seq(md, js), 0);
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	CHECK(file_holds(*fs, "f", 0x5a));
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(t_fsck_problems(md), 0);
	return T_PASS;
}

static int test_recovered_header_continues_the_sequence(void)
{
	struct mapped_device *md;
	uint64_t js, next;
	struct dfs **fs = lost_power_after_a_file(&md, 0x11, &js, &next);

	CHECK(fs);
	CHECK_EQ(tear_header(md, js), 0);
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	/* the mount rewrote the header with the seq the torn write carried,
	 * then committed its own transaction under it */
	CHECK_EQ((*fs)->committed_tid, next);
	CHECK_EQ(header_seq(md, js), next + 1);
	/* later transactions log and replay as usual */
	CHECK(make_file(*fs, "g", 0x22));
	CHECK_EQ(t_crash_remount(md, fs), 0);
	CHECK(file_holds(*fs, "f", 0x11));
	CHECK(file_holds(*fs, "g", 0x22));
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(t_fsck_problems(md), 0);
	return T_PASS;
}

static int test_torn_header_over_a_committed_log_replays_it(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	struct stat st;

	CHECK(fs);
	uint64_t js = (*fs)->sb.journal_start;
	/* committed, never written home: only the log has "new" */
	CHECK_EQ(t_crash_in_commit(md, fs, DFS_FAIL_BEFORE_CHECKPOINT, NULL), 0);
	/* not a state a crash leaves (the header is rewritten after the
	 * checkpoint), but the log must win over whatever the header lost */
	CHECK_EQ(tear_header(md, js), 0);
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	CHECK_EQ(dfs_lookup(*fs, DFS_ROOT_INO, "new", &st), 0);
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(t_fsck_problems(md), 0);
	return T_PASS;
}

static int test_torn_header_over_a_log_without_commit_record_mounts(void)
{
	struct mapped_device *md;
	uint64_t js, next;
	uint8_t b[4096];
	struct dfs **fs = lost_power_after_a_file(&md, 0x33, &js, &next);

	CHECK(fs);
	/* damage the commit record: nothing to redo, the sequence still holds */
	uint64_t pos = js + 1;
	for (;;) {
		CHECK_EQ(t_rw_block(md, DAX_REQ_READ, pos, b), 0);
		if (dfs_get32(b + DFS_BLK_MAGIC) == DFS_MAGIC_JCOMMIT)
			break;
		CHECK_EQ(dfs_get32(b + DFS_BLK_MAGIC), DFS_MAGIC_JDESC);
		pos += 1 + dfs_get32(b + DFS_JDESC_COUNT);
	}
	b[40] ^= 0xff;
	CHECK_EQ(t_rw_block(md, DAX_REQ_WRITE, pos, b), 0);
	CHECK_EQ(tear_header(md, js), 0);
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	CHECK_EQ((*fs)->committed_tid, next);
	CHECK(file_holds(*fs, "f", 0x33));
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(t_fsck_problems(md), 0);
	return T_PASS;
}

static int test_damaged_header_without_a_log_refuses_the_mount(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	uint8_t b[4096];

	CHECK(fs);
	uint64_t js = (*fs)->sb.journal_start;
	CHECK(t_create(*fs, DFS_ROOT_INO, "f"));
	dfs_abandon(fs);
	CHECK_EQ(tear_header(md, js), 0);
	memset(b, 0, sizeof(b));
	CHECK_EQ(t_rw_block(md, DAX_REQ_WRITE, js + 1, b), 0);
	CHECK_EQ(dfs_mount(md, NULL, fs), -EIO);
	CHECK_MSG_HAS("journal header (block 2) is damaged");
	CHECK_EQ(header_seq(md, js), 0);       /* a refused mount writes nothing */
	return T_PASS;
}

static int test_fsck_check_reports_a_torn_header_and_writes_nothing(void)
{
	struct mapped_device *md;
	uint64_t js, next;
	struct dfs_fsck_result r;
	uint8_t before[4096], after[4096];
	struct dfs **fs = lost_power_after_a_file(&md, 0x44, &js, &next);

	CHECK(fs);
	CHECK_EQ(tear_header(md, js), 0);
	CHECK_EQ(t_rw_block(md, DAX_REQ_READ, js, before), 0);
	CHECK_EQ(dfs_fsck(md, DFS_FSCK_CHECK, t_fsck_print, NULL, &r), 0);
	CHECK_EQ(r.problems, 1);
	CHECK_EQ(r.repaired, 0);
	CHECK_EQ(t_rw_block(md, DAX_REQ_READ, js, after), 0);
	CHECK(memcmp(before, after, sizeof(before)) == 0);
	CHECK_EQ(dfs_fsck(md, DFS_FSCK_REPAIR, t_fsck_print, NULL, &r), 0);
	CHECK_EQ(r.problems, 1);
	CHECK_EQ(r.repaired, 1);
	CHECK(header_seq(md, js) != 0);
	CHECK_EQ(t_fsck_problems(md), 0);
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	CHECK(file_holds(*fs, "f", 0x44));
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_torn_header_after_a_commit_mounts_with_data_intact),
	T_CASE(test_recovered_header_continues_the_sequence),
	T_CASE(test_torn_header_over_a_committed_log_replays_it),
	T_CASE(test_torn_header_over_a_log_without_commit_record_mounts),
	T_CASE(test_damaged_header_without_a_log_refuses_the_mount),
	T_CASE(test_fsck_check_reports_a_torn_header_and_writes_nothing),
};

T_MAIN(cases)