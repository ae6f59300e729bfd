/* test_sync.c - commit_interval_ms: durable at return (0, the default) or batched (N ms) */
#include <sys/wait.h>
#include <time.h>

#include "fixture.h"
#include "daxfs/dax.h"
#include "fs/internal.h"
#include "peek.h"

#define MB (1024ull * 1024)

static const struct dfs_mount_opts batched = { .commit_interval_ms = DFS_COMMIT_MAX_MS };

static int test_sync_mount_metadata_is_durable_at_return(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	struct stat st, attr = { .st_mode = 0600 };

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK(ino);
	CHECK_EQ(dfs_mkdir(*fs, DFS_ROOT_INO, "d", 0755, &t_cred, &st), 0);
	CHECK_EQ(dfs_setattr(*fs, ino, &attr, DFS_SET_MODE, &st), 0);
	CHECK_EQ(dfs_setxattr(*fs, ino, "user.k", "v", 1, 0), 0);
	CHECK_EQ(dfs_rename(*fs, DFS_ROOT_INO, "f", DFS_ROOT_INO, "g", 0), 0);
	CHECK_EQ(t_crash_remount(md, fs), 0);
	CHECK_EQ(dfs_lookup(*fs, DFS_ROOT_INO, "d", &st), 0);
	CHECK(S_ISDIR(st.st_mode));
	CHECK_EQ(dfs_lookup(*fs, DFS_ROOT_INO, "f", &st), -ENOENT);
	CHECK_EQ(dfs_lookup(*fs, DFS_ROOT_INO, "g", &st), 0);
	CHECK_EQ(st.st_ino, ino);
	CHECK_EQ(st.st_mode & 07777, 0600);
	char v[4];
	CHECK_EQ(dfs_getxattr(*fs, ino, "user.k", v, sizeof(v)), 1);
	return T_PASS;
}

static int test_sync_mount_write_size_is_durable_at_return(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	struct stat st;
	char buf[8];

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK_EQ(dfs_pwrite(*fs, ino, "abcdefgh", 8, 3 * 4096 + 100, 0), 8);
	CHECK_EQ(t_crash_remount(md, fs), 0);
	CHECK_EQ(dfs_getattr(*fs, ino, &st), 0);
	CHECK_EQ(st.st_size, 3 * 4096 + 108);
	CHECK_EQ(dfs_pread(*fs, ino, buf, 8, 3 * 4096 + 100), 8);
	CHECK(memcmp(buf, "abcdefgh", 8) == 0);
	return T_PASS;
}

static int test_sync_mount_fallocate_is_durable_at_return(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	struct stat st;

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK_EQ(dfs_fallocate(*fs, ino, 0, 0, 5 * 4096), 0);
	CHECK_EQ(t_crash_remount(md, fs), 0);
	CHECK_EQ(dfs_getattr(*fs, ino, &st), 0);
	CHECK_EQ(st.st_size, 5 * 4096);
	CHECK_EQ(st.st_blocks, 5 * 8);
	return T_PASS;
}

static int test_batched_mount_keeps_changes_until_a_commit(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	struct stat st;

	CHECK(fs);
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(dfs_mount(md, &batched, fs), 0);
	CHECK(t_create(*fs, DFS_ROOT_INO, "synced"));
	CHECK_EQ(dfs_sync(*fs), 0);
	CHECK(t_create(*fs, DFS_ROOT_INO, "pending"));
	CHECK_EQ(t_crash_remount(md, fs), 0);
	CHECK_EQ(dfs_lookup(*fs, DFS_ROOT_INO, "synced", &st), 0);
	CHECK_EQ(dfs_lookup(*fs, DFS_ROOT_INO, "pending", &st), -ENOENT);
	return T_PASS;
}

static bool nothing_dirty(struct dfs *fs)
{
	pthread_mutex_lock(&fs->meta);
	bool clean = fs->ndirty == 0;
	pthread_mutex_unlock(&fs->meta);
	return clean;
}

static int test_batched_mount_commits_within_its_interval(void)
{
	const struct dfs_mount_opts o = { .commit_interval_ms = 20 };
	const struct timespec tick = { 0, 1000000 };
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	struct stat st;

	CHECK(fs);
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(dfs_mount(md, &o, fs), 0);
	CHECK(t_create(*fs, DFS_ROOT_INO, "f"));
	/* the committer's, within 20 ms; 10 s is only the give-up point */
	for (int i = 0; i < 10000 && !nothing_dirty(*fs); i++)
		nanosleep(&tick, NULL);
	CHECK(nothing_dirty(*fs));
	CHECK_EQ(t_crash_remount(md, fs), 0);
	CHECK_EQ(dfs_lookup(*fs, DFS_ROOT_INO, "f", &st), 0);
	return T_PASS;
}

static int test_mount_refuses_commit_interval_over_the_maximum(void)
{
	const struct dfs_mount_opts o = { .commit_interval_ms = DFS_COMMIT_MAX_MS + 1 };
	struct mapped_device *md = t_md_file("pmem", 64 * MB);
	struct dfs *fs = NULL;

	CHECK_EQ(dfs_mkfs(md, NULL), 0);
	CHECK_EQ(dfs_mount(md, &o, &fs), -EINVAL);
	CHECK_MSG_HAS("commit interval");
	return T_PASS;
}

/*
 * Data durability is not visible after dfs_abandon (the backing file's page
 * cache keeps every store), so a child process records its persist calls
 * (docs/CRASH.md) in PMEM mode, where a flush is durable only at a drain:
 * it writes a block and syncs (so the file and block exist after the crash
 * on any mount), then overwrites the bytes between two marks; the record
 * must flush them and drain between the marks. The child is this program run again, so that
 * libpmem reads PMEM_IS_PMEM_FORCE afresh.
 */
#define CHILD_ARG "--traced-write-child"
#define DATA_OFF (2 * 4096 + 100)

static int traced_write_child(const char *table, unsigned commit_ms)
{
	const struct dfs_mount_opts o = { .commit_interval_ms = commit_ms };
	struct mapped_device *md = NULL;
	struct dm_table *t;
	struct dfs *fs;
	struct stat st;

	if (dm_md_create("child", &md) || dm_table_parse(md, table, "t", &t) ||
	    dm_md_load(md, t) || dm_md_resume(md, DM_SUSPEND_NOLOCKFS) ||
	    dfs_mkfs(md, NULL) || dfs_mount(md, &o, &fs) ||
	    dfs_mknod(fs, DFS_ROOT_INO, "f", S_IFREG | 0644, 0, &t_cred, &st) ||
	    dfs_pwrite(fs, st.st_ino, "abcdefgh", 8, DATA_OFF, 0) != 8 || dfs_sync(fs) ||
	    dax_persist_mark("write start") ||
	    dfs_pwrite(fs, st.st_ino, "ABCDEFGH", 8, DATA_OFF, 0) != 8 ||
	    dax_persist_mark("write returned"))
		return 2;
	return 0;      /* no unmount */
}

/* Whether the trace flushes [addr, addr+8) and then drains between the marks. */
static bool trace_drains_data(const char *trace, uint64_t addr)
{
	FILE *f = fopen(trace, "r");
	static char line[1 << 16];
	bool started = false, flushed = false, drained = false;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long off, len;

		if (line[0] == 'M' && strstr(line, "write%20start"))
			started = true;
		if (line[0] == 'M' && strstr(line, "write%20returned"))
			break;
		if (started && line[0] == 'F' &&
		    sscanf(line, "F %*s %*s %*s %*s %*s %llu %llu", &off, &len) == 2 &&
		    off <= addr && addr + 8 <= off + len)
			flushed = true, drained = false;
		if (line[0] == 'S' && flushed)
			drained = true;
	}
	fclose(f);
	return flushed && drained;
}

static bool exe_path_ok;
static char exe_path[4096];

static int traced_write(unsigned commit_ms, bool *durable)
{
	const char *path = t_backing("pmem", 64 * MB);
	const char *trace = t_path(t_fmt("trace-%u", commit_ms));
	char table[512], ms[16];

	if (!exe_path_ok || !path)
		return -1;
	snprintf(table, sizeof(table), "0 %llu linear %s 0\n", 64 * MB / 512, path);
	snprintf(ms, sizeof(ms), "%u", commit_ms);
	unlink(trace);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		setenv("DAXFS_PERSIST_TRACE", trace, 1);
		setenv("PMEM_IS_PMEM_FORCE", "1", 1);
		execl(exe_path, exe_path, CHILD_ARG, table, ms, (char *)NULL);
		_exit(127);
	}
	int status;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		return -1;
	struct mapped_device *md = t_md_text(table);
	struct dfs **fs = t_mount(md);
	struct dfs_iomap m;
	struct stat st;
	if (!fs || dfs_lookup(*fs, DFS_ROOT_INO, "f", &st) ||
	    dfs_iomap_begin(*fs, st.st_ino, DATA_OFF, 8, DFS_IOMAP_REPORT, &m) ||
	    m.type != DFS_IOMAP_MAPPED)
		return -1;
	*durable = trace_drains_data(trace, m.addr);
	return 0;
}

static int test_sync_mount_write_data_is_drained_before_return(void)
{
	bool durable = false;

	CHECK_EQ(traced_write(0, &durable), 0);
	CHECK(durable);
	return T_PASS;
}

/* The other side, so that the trace check is known to tell the two apart. */
static int test_batched_mount_write_data_waits_for_a_drain(void)
{
	bool durable = true;

	CHECK_EQ(traced_write(DFS_COMMIT_MAX_MS, &durable), 0);
	CHECK(!durable);
	return T_PASS;
}

/* An unlinked file whose last reference goes (a FORGET) is released in the
 * running transaction without a commit of its own: the next call's commit
 * takes it. If that never comes, the next mount releases the orphan. */
static int test_sync_mount_release_of_an_orphan_joins_the_next_commit(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	struct statvfs before, after;
	struct stat st;
	char data[4 * 4096];

	CHECK(fs);
	memset(data, 'd', sizeof(data));
	CHECK(t_create(*fs, DFS_ROOT_INO, "keep"));     /* the directory's block */
	dfs_statfs(*fs, &before);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");      /* looked up once */
	CHECK(ino);
	CHECK_EQ(dfs_pwrite(*fs, ino, data, sizeof(data), 0, 0), (ssize_t)sizeof(data));
	CHECK_EQ(dfs_unlink(*fs, DFS_ROOT_INO, "f"), 0);
	CHECK(nothing_dirty(*fs));
	uint64_t commits = (*fs)->commits;

	dfs_forget(*fs, ino, 1);
	CHECK_EQ((*fs)->commits, commits);
	CHECK(!nothing_dirty(*fs));
	/* a crash now: the orphan is released at mount */
	CHECK_EQ(t_crash_remount(md, fs), 0);
	dfs_statfs(*fs, &after);
	CHECK_EQ(after.f_bfree, before.f_bfree);
	CHECK_EQ(after.f_ffree, before.f_ffree);
	CHECK_EQ(t_fsck_problems(md), 0);

	/* and without one, the next synchronous call commits it */
	ino = t_create(*fs, DFS_ROOT_INO, "g");
	CHECK(ino);
	CHECK_EQ(dfs_unlink(*fs, DFS_ROOT_INO, "g"), 0);
	dfs_forget(*fs, ino, 1);
	CHECK(!nothing_dirty(*fs));
	CHECK_EQ(dfs_mkdir(*fs, DFS_ROOT_INO, "d", 0755, &t_cred, &st), 0);
	CHECK(nothing_dirty(*fs));
	CHECK_EQ(t_crash_remount(md, fs), 0);
	dfs_statfs(*fs, &after);
	CHECK_EQ(after.f_ffree, before.f_ffree - 1);    /* d */
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_sync_mount_metadata_is_durable_at_return),
	T_CASE(test_sync_mount_write_size_is_durable_at_return),
	T_CASE(test_sync_mount_fallocate_is_durable_at_return),
	T_CASE(test_sync_mount_write_data_is_drained_before_return),
	T_CASE(test_batched_mount_write_data_waits_for_a_drain),
	T_CASE(test_batched_mount_keeps_changes_until_a_commit),
	T_CASE(test_batched_mount_commits_within_its_interval),
	T_CASE(test_mount_refuses_commit_interval_over_the_maximum),
	T_CASE(test_sync_mount_release_of_an_orphan_joins_the_next_commit),
};

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], CHILD_ARG) == 0)
		return traced_write_child(argv[2], (unsigned)strtoul(argv[3], NULL, 10));
	ssize_t n = readlink("/proc/self/exe", exe_path, sizeof(exe_path) - 1);
	exe_path_ok = n > 0;
	if (exe_path_ok)
		exe_path[n] = '\0';
	return T_RUN(cases);
}
