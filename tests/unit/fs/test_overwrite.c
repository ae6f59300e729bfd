/* test_overwrite.c - on a synchronous mount a write commits what finds its bytes; the times of an overwrite wait */
#include <pthread.h>
#include <stdatomic.h>

#include "fixture.h"
#include "fs/internal.h"
#include "peek.h"

#define MB (1024ull * 1024)
#define BLK 4096

/*
 * fs.h's rule: a write on a commit=0 mount is O_DSYNC. Its bytes are
 * persisted and whatever a reader needs to find them (allocation, unwritten
 * extents made written, the size) is committed before it
 * returns; a write that changed only mtime and ctime leaves them to the next
 * commit. "Committed" is seen two ways: the commit counter, and what a
 * remount after dfs_abandon (the process dying with the fs) finds.
 *
 * The committer of a synchronous mount takes leftovers every
 * DFS_COMMIT_INTERVAL_MS. A test that needs the times to be still pending
 * when it crashes retries if the committer happened to commit in between
 * (seen by the commit hook running on another thread), so that no outcome
 * depends on timing.
 */

static pthread_t test_thread;
static atomic_bool committer_ran;

static void note_commit(struct dfs *fs, uint64_t tid)
{
	(void)fs;
	(void)tid;
	if (!pthread_equal(pthread_self(), test_thread))
		atomic_store(&committer_ran, true);
}

static void watch(struct dfs *fs)
{
	test_thread = pthread_self();
	atomic_store(&committer_ran, false);
	fs->commit_hook = note_commit;
}

/* A file of 4 written blocks, committed, whose mtime is set to 1000 s. */
static uint64_t old_file(struct dfs *fs, const char *name)
{
	static uint8_t buf[4 * BLK];
	struct stat attr = { .st_mtim = { 1000, 0 } }, st;
	uint64_t ino = t_create(fs, DFS_ROOT_INO, name);

	memset(buf, 'o', sizeof(buf));
	if (!ino || dfs_pwrite(fs, ino, buf, sizeof(buf), 0, 0) != (ssize_t)sizeof(buf) ||
	    dfs_setattr(fs, ino, &attr, DFS_SET_MTIME, &st) != 0)
		return 0;
	return ino;
}

static int mtime_sec(struct dfs *fs, uint64_t ino, long *sec)
{
	struct stat st;
	int err = dfs_getattr(fs, ino, &st);

	*sec = st.st_mtim.tv_sec;
	return err;
}

static int test_overwrite_commits_nothing_and_its_bytes_survive(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	char buf[BLK];
	long sec;

	CHECK(fs);
	uint64_t ino = old_file(*fs, "f");
	CHECK(ino);
	uint64_t before = t_commits(*fs);
	memset(buf, 'n', sizeof(buf));
	for (int i = 0; i < 20; i++)
		CHECK_EQ(dfs_pwrite(*fs, ino, buf, BLK, (i % 4) * BLK, 0), BLK);
	CHECK_EQ(t_commits(*fs) - before, 0);
	/* the times are new where the kernel asks for them */
	CHECK_EQ(mtime_sec(*fs, ino, &sec), 0);
	CHECK(sec > 1000);
	CHECK_EQ(t_crash_remount(md, fs), 0);
	char back[4 * BLK];
	CHECK_EQ(dfs_pread(*fs, ino, back, sizeof(back), 0), sizeof(back));
	for (size_t i = 0; i < sizeof(back); i++)
		CHECK_EQ(back[i], 'n');
	return T_PASS;
}

static int test_overwrite_times_are_lost_with_a_crash_before_any_commit(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	long sec = 0;

	CHECK(fs);
	for (int attempt = 0; attempt < 5; attempt++) {
		char name[16];

		snprintf(name, sizeof(name), "f%d", attempt);
		uint64_t ino = old_file(*fs, name);
		CHECK(ino);
		watch(*fs);
		CHECK_EQ(dfs_pwrite(*fs, ino, "new", 3, 100, 0), 3);
		CHECK_EQ(t_crash_remount(md, fs), 0);
		if (atomic_load(&committer_ran))
			continue;      /* the committer took the times: not this case */
		CHECK_EQ(mtime_sec(*fs, ino, &sec), 0);
		CHECK_EQ(sec, 1000);
		char back[3];
		CHECK_EQ(dfs_pread(*fs, ino, back, 3, 100), 3);
		CHECK(memcmp(back, "new", 3) == 0);
		return T_PASS;
	}
	CHECK(!"the committer ran during every attempt");
	return T_FAIL;
}

/* How an overwrite's pending times reach the media. */
enum times_commit { BY_FSYNC, BY_NEXT_CHANGE, BY_UNMOUNT, BY_SYNC_WRITE };

/* An overwrite's times, committed by `by`, are found by the next mount
 * (after a crash, unless by is the unmount). */
static int overwrite_times_commit(enum times_commit by)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	long sec;

	CHECK(fs);
	uint64_t ino = old_file(*fs, "f");
	CHECK(ino);
	uint64_t before = t_commits(*fs);
	CHECK_EQ(dfs_pwrite(*fs, ino, "new", 3, 100, by == BY_SYNC_WRITE ? DFS_WRITE_SYNC : 0), 3);
	switch (by) {
	case BY_FSYNC:
		CHECK_EQ(dfs_fsync(*fs, ino, false), 0);
		CHECK(t_commits(*fs) - before <= 1);
		break;
	case BY_NEXT_CHANGE:
		CHECK(t_create(*fs, DFS_ROOT_INO, "other"));    /* any call that commits */
		break;
	case BY_UNMOUNT:
		CHECK_EQ(dfs_unmount(fs), 0);
		CHECK_EQ(dfs_mount(md, NULL, fs), 0);
		break;
	case BY_SYNC_WRITE:
		CHECK_EQ(t_commits(*fs) - before, 1);
		break;
	}
	if (by != BY_UNMOUNT)
		CHECK_EQ(t_crash_remount(md, fs), 0);
	CHECK_EQ(mtime_sec(*fs, ino, &sec), 0);
	CHECK(sec > 1000);
	return T_PASS;
}

static int test_overwrite_times_commit_with_fsync(void)
{
	return overwrite_times_commit(BY_FSYNC);
}

static int test_overwrite_times_commit_with_the_next_change(void)
{
	return overwrite_times_commit(BY_NEXT_CHANGE);
}

static int test_overwrite_times_commit_at_unmount(void)
{
	return overwrite_times_commit(BY_UNMOUNT);
}

static int test_sync_write_commits_its_times(void)
{
	return overwrite_times_commit(BY_SYNC_WRITE);
}

/* Writing the len bytes of s at off commits exactly once, and a crash then
 * finds them. */
static int write_commits_once(struct mapped_device *md, struct dfs **fs, uint64_t ino, const char *s,
			      size_t len, off_t off)
{
	char back[16];

	uint64_t before = t_commits(*fs);
	CHECK_EQ(dfs_pwrite(*fs, ino, s, len, off, 0), (ssize_t)len);
	CHECK_EQ(t_commits(*fs) - before, 1);
	CHECK_EQ(t_crash_remount(md, fs), 0);
	CHECK_EQ(dfs_pread(*fs, ino, back, len, off), (ssize_t)len);
	CHECK(memcmp(back, s, len) == 0);
	return T_PASS;
}

static int test_write_that_extends_commits_its_size(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	struct stat st;

	CHECK(fs);
	uint64_t ino = old_file(*fs, "f");
	CHECK(ino);
	/* inside the last block: no allocation, only the size */
	CHECK_EQ(write_commits_once(md, fs, ino, "tail", 4, 4 * BLK - 2), T_PASS);
	CHECK_EQ(dfs_getattr(*fs, ino, &st), 0);
	CHECK_EQ(st.st_size, 4 * BLK + 2);
	return T_PASS;
}

static int test_write_into_a_hole_commits_its_block(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	struct stat attr = { .st_size = 8 * BLK }, st;

	CHECK(fs);
	uint64_t ino = old_file(*fs, "f");
	CHECK(ino);
	CHECK_EQ(dfs_setattr(*fs, ino, &attr, DFS_SET_SIZE, &st), 0);
	return write_commits_once(md, fs, ino, "hole", 4, 6 * BLK);
}

/* Without the commit, the extent would still read as unwritten: zeroes. */
static int test_write_into_preallocated_blocks_commits_them_written(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK(ino);
	CHECK_EQ(dfs_fallocate(*fs, ino, 0, 0, 4 * BLK), 0);
	return write_commits_once(md, fs, ino, "pre!", 4, BLK);
}

static const struct t_case cases[] = {
	T_CASE(test_overwrite_commits_nothing_and_its_bytes_survive),
	T_CASE(test_overwrite_times_are_lost_with_a_crash_before_any_commit),
	T_CASE(test_overwrite_times_commit_with_fsync),
	T_CASE(test_overwrite_times_commit_with_the_next_change),
	T_CASE(test_overwrite_times_commit_at_unmount),
	T_CASE(test_sync_write_commits_its_times),
	T_CASE(test_write_that_extends_commits_its_size),
	T_CASE(test_write_into_a_hole_commits_its_block),
	T_CASE(test_write_into_preallocated_blocks_commits_them_written),
};

T_MAIN(cases)
