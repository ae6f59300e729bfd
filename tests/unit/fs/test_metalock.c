/* test_metalock.c - the namespace without a global lock: who waits for whom, a stress run, directory scaling, group commit */
#include <linux/fs.h>
#include <pthread.h>
#include <sys/xattr.h>
#include <time.h>

#include "fixture.h"
#include "fs/internal.h"
#include "peek.h"

#define MB (1024ull * 1024)

static const struct dfs_mount_opts batched = { .commit_interval_ms = DFS_COMMIT_MAX_MS };

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Polls *flag until it is set or deadline_ms pass; true if it was set. */
static bool wait_flag(int *flag, int64_t deadline_ms)
{
	const int64_t end = now_ms() + deadline_ms;
	struct timespec tick = { 0, 1000000 };

	while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE)) {
		if (now_ms() > end)
			return false;
		nanosleep(&tick, NULL);
	}
	return true;
}

/* ---- read-only calls do not take meta ------------------------------------ */

struct reader_job {
	struct dfs *fs;
	uint64_t dir, file, link;
	int done, err;
};

static int count_fill(void *ctx, const char *name, const struct stat *st, off_t next)
{
	(void)name; (void)st; (void)next;
	(*(int *)ctx)++;
	return 0;
}

static void *read_only_calls(void *arg)
{
	struct reader_job *j = arg;
	struct stat st;
	struct statvfs sv;
	char buf[64];
	int n = 0;

	if (dfs_lookup(j->fs, j->dir, "f", &st) || st.st_ino != j->file)
		j->err = 1;
	else if (dfs_getattr(j->fs, j->file, &st))
		j->err = 2;
	else if (dfs_readdir(j->fs, j->dir, 0, false, count_fill, &n) || n != 4)
		j->err = 3;
	else if (dfs_readlink(j->fs, j->link, buf, sizeof(buf)) != 6)
		j->err = 4;
	else if (dfs_getxattr(j->fs, j->file, "user.k", buf, sizeof(buf)) != 1)
		j->err = 5;
	else if (dfs_listxattr(j->fs, j->file, buf, sizeof(buf)) != 7)
		j->err = 6;
	else if (dfs_statfs(j->fs, &sv))
		j->err = 7;
	__atomic_store_n(&j->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static int test_read_only_calls_finish_while_meta_is_held(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	struct stat st;
	pthread_t th;

	CHECK(fs);
	CHECK_EQ(dfs_mkdir(*fs, DFS_ROOT_INO, "d", 0755, &t_cred, &st), 0);
	struct reader_job j = { .fs = *fs, .dir = (uint64_t)st.st_ino };
	CHECK((j.file = t_create(*fs, j.dir, "f")));
	CHECK_EQ(dfs_symlink(*fs, j.dir, "l", "target", &t_cred, &st), 0);
	j.link = (uint64_t)st.st_ino;
	CHECK_EQ(dfs_setxattr(*fs, j.file, "user.k", "v", 1, 0), 0);

	/* a commit in progress holds meta: nothing here may wait for it */
	pthread_mutex_lock(&(*fs)->meta);
	CHECK_EQ(pthread_create(&th, NULL, read_only_calls, &j), 0);
	bool finished = wait_flag(&j.done, 20000);
	pthread_mutex_unlock(&(*fs)->meta);
	pthread_join(th, NULL);
	CHECK(finished);
	CHECK_EQ(j.err, 0);
	return T_PASS;
}

struct lookup_job {
	struct dfs *fs;
	uint64_t dir;
	const char *name;
	int done, err;
};

static void *lookup_one(void *arg)
{
	struct lookup_job *j = arg;
	struct stat st;

	j->err = dfs_lookup(j->fs, j->dir, j->name, &st);
	__atomic_store_n(&j->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static int test_lookup_in_one_directory_does_not_wait_for_a_writer_of_another(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	struct stat a, b;
	struct dfs_inode *ap;
	pthread_t th;

	CHECK(fs);
	CHECK_EQ(dfs_mkdir(*fs, DFS_ROOT_INO, "a", 0755, &t_cred, &a), 0);
	CHECK_EQ(dfs_mkdir(*fs, DFS_ROOT_INO, "b", 0755, &t_cred, &b), 0);
	CHECK(t_create(*fs, (uint64_t)a.st_ino, "x"));
	CHECK(t_create(*fs, (uint64_t)b.st_ino, "y"));
	CHECK_EQ(dfs_iget_pin(*fs, (uint64_t)a.st_ino, &ap), 0);

	/* a modifying call in a holds a's lock exclusively */
	pthread_rwlock_wrlock(&ap->lock);
	struct lookup_job jb = { .fs = *fs, .dir = (uint64_t)b.st_ino, .name = "y" };
	CHECK_EQ(pthread_create(&th, NULL, lookup_one, &jb), 0);
	bool other = wait_flag(&jb.done, 20000);
	pthread_join(th, NULL);

	/* and a lookup in a itself waits until a's writer is done */
	struct lookup_job ja = { .fs = *fs, .dir = (uint64_t)a.st_ino, .name = "x" };
	CHECK_EQ(pthread_create(&th, NULL, lookup_one, &ja), 0);
	struct timespec pause = { 0, 50 * 1000000 };
	nanosleep(&pause, NULL);    /* only to give a wrong lookup the chance to finish */
	const bool early = __atomic_load_n(&ja.done, __ATOMIC_ACQUIRE);
	pthread_rwlock_unlock(&ap->lock);
	pthread_join(th, NULL);
	dfs_iput(*fs, ap);
	CHECK(other);
	CHECK_EQ(jb.err, 0);
	CHECK(!early);
	CHECK_EQ(ja.err, 0);
	return T_PASS;
}

/* ---- stress: many threads, shared and own directories --------------------- */

#define WORKERS 4
#define OPS 300

struct stress {
	struct dfs *fs;
	uint64_t shared[2];         /* two shared directories */
	uint64_t own[WORKERS];
	int stop;
};

struct worker {
	struct stress *s;
	int id;
	int failed;
	char why[160];
	/* where each of this worker's files ended up: 0 none, else the directory */
	uint64_t where[OPS];
	uint64_t subdir;            /* the worker's subdirectory, moved between shared dirs */
	uint64_t subdir_parent;
	uint64_t readers_seen;
};

#define FAIL(w, ...) do { snprintf((w)->why, sizeof((w)->why), __VA_ARGS__); (w)->failed = 1; return NULL; } while (0)

static void *stress_worker(void *arg)
{
	struct worker *w = arg;
	struct stress *s = w->s;
	struct stat st;
	char name[48], other[48];
	unsigned seed = (unsigned)w->id * 7919u + 1;

	snprintf(name, sizeof(name), "w%d-sub", w->id);
	if (dfs_mkdir(s->fs, s->shared[0], name, 0755, &t_cred, &st))
		FAIL(w, "mkdir %s: %s", name, daxfs_errormsg());
	w->subdir = (uint64_t)st.st_ino;
	w->subdir_parent = s->shared[0];
	dfs_forget(s->fs, w->subdir, 1);
	for (int i = 0; i < OPS; i++) {
		seed = seed * 1103515245u + 12345u;
		const uint64_t dir = (seed >> 8) % 3 == 0 ? s->own[w->id] : s->shared[(seed >> 12) % 2];

		snprintf(name, sizeof(name), "w%d-f%d", w->id, i);
		if (dfs_mknod(s->fs, dir, name, S_IFREG | 0644, 0, &t_cred, &st))
			FAIL(w, "mknod %s: %s", name, daxfs_errormsg());
		dfs_forget(s->fs, (uint64_t)st.st_ino, 1);
		w->where[i] = dir;
		if (dfs_getattr(s->fs, (uint64_t)st.st_ino, &st))
			FAIL(w, "getattr %s: %s", name, daxfs_errormsg());
		/* move an earlier file: across the shared directories, into the
		 * own one, or over another of this worker's files */
		int j = (int)((seed >> 4) % (unsigned)(i + 1));
		if (w->where[j] && (seed & 3) == 1) {
			const uint64_t to = w->where[j] == s->shared[0] ? s->shared[1] : s->shared[0];
			snprintf(other, sizeof(other), "w%d-f%d", w->id, j);
			if (dfs_rename(s->fs, w->where[j], other, to, other, 0))
				FAIL(w, "rename %s: %s", other, daxfs_errormsg());
			w->where[j] = to;
		} else if (w->where[j] && j != i && (seed & 3) == 2) {
			/* replace file i with file j: i's inode is freed */
			snprintf(other, sizeof(other), "w%d-f%d", w->id, j);
			if (dfs_rename(s->fs, w->where[j], other, dir, name, 0))
				FAIL(w, "rename %s over %s: %s", other, name, daxfs_errormsg());
			w->where[j] = 0;
		} else if (w->where[j] && (seed & 3) == 3) {
			snprintf(other, sizeof(other), "w%d-f%d", w->id, j);
			if (dfs_unlink(s->fs, w->where[j], other))
				FAIL(w, "unlink %s: %s", other, daxfs_errormsg());
			w->where[j] = 0;
		}
		if (i % 16 == 0) {
			/* the subdirectory goes to the other shared directory */
			const uint64_t to = w->subdir_parent == s->shared[0] ? s->shared[1] : s->shared[0];
			snprintf(other, sizeof(other), "w%d-sub", w->id);
			if (dfs_rename(s->fs, w->subdir_parent, other, to, other, 0))
				FAIL(w, "rename %s: %s", other, daxfs_errormsg());
			w->subdir_parent = to;
		}
		if (i % 8 == 0) {
			snprintf(other, sizeof(other), "w%d-sub", w->id);
			if (dfs_lookup(s->fs, w->subdir_parent, other, &st) || (uint64_t)st.st_ino != w->subdir)
				FAIL(w, "lookup %s: %s", other, daxfs_errormsg());
			dfs_forget(s->fs, w->subdir, 1);
		}
	}
	return NULL;
}

struct rd_ctx {
	struct dfs *fs;
	uint64_t n;
};

static int plus_fill(void *ctx, const char *name, const struct stat *st, off_t next)
{
	struct rd_ctx *c = ctx;

	(void)next;
	if (strcmp(name, ".") && strcmp(name, ".."))
		dfs_forget(c->fs, (uint64_t)st->st_ino, 1);
	c->n++;
	return 0;
}

/* Lists and stats the shared directories while the workers change them. */
static void *stress_reader(void *arg)
{
	struct worker *w = arg;
	struct stress *s = w->s;
	struct statvfs sv;
	struct stat st;

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		for (int d = 0; d < 2; d++) {
			struct rd_ctx c = { s->fs, 0 };
			int err = dfs_readdir(s->fs, s->shared[d], 0, true, plus_fill, &c);

			if (err)
				FAIL(w, "readdirplus: %s", daxfs_errormsg());
			w->readers_seen += c.n;
			err = dfs_lookup(s->fs, s->shared[d], "w0-f1", &st);
			if (err == 0)
				dfs_forget(s->fs, (uint64_t)st.st_ino, 1);
			else if (err != -ENOENT)
				FAIL(w, "lookup: %d %s", err, daxfs_errormsg());
			if (dfs_getattr(s->fs, s->shared[d], &st) || dfs_statfs(s->fs, &sv))
				FAIL(w, "getattr/statfs: %s", daxfs_errormsg());
		}
	}
	return NULL;
}

struct names {
	char (*v)[48];
	size_t n, cap;
};

static int collect_fill(void *ctx, const char *name, const struct stat *st, off_t next)
{
	struct names *n = ctx;

	(void)st; (void)next;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return 0;
	if (n->n == n->cap) {
		n->cap = n->cap ? 2 * n->cap : 256;
		n->v = realloc(n->v, n->cap * sizeof(*n->v));
		if (!n->v)
			abort();
	}
	snprintf(n->v[n->n++], sizeof(n->v[0]), "%s", name);
	return 0;
}

static bool has_name(const struct names *n, const char *name)
{
	for (size_t i = 0; i < n->n; i++)
		if (!strcmp(n->v[i], name))
			return true;
	return false;
}

/* The names each worker left in dir, counted. */
static size_t expected_in(const struct worker *w, size_t nw, uint64_t dir)
{
	size_t n = 0;

	for (size_t k = 0; k < nw; k++) {
		for (int i = 0; i < OPS; i++)
			n += w[k].where[i] == dir;
		n += w[k].subdir_parent == dir;
	}
	return n;
}

static int check_dir(struct dfs *fs, const struct worker *w, size_t nw, uint64_t dir)
{
	struct names got = { 0 };
	char name[48];

	CHECK_EQ(dfs_readdir(fs, dir, 0, false, collect_fill, &got), 0);
	CHECK_EQ(got.n, expected_in(w, nw, dir));
	for (size_t k = 0; k < nw; k++) {
		for (int i = 0; i < OPS; i++) {
			snprintf(name, sizeof(name), "w%d-f%d", w[k].id, i);
			CHECK_EQ(has_name(&got, name), w[k].where[i] == dir);
		}
		snprintf(name, sizeof(name), "w%d-sub", w[k].id);
		CHECK_EQ(has_name(&got, name), w[k].subdir_parent == dir);
	}
	free(got.v);
	return T_PASS;
}

static int stress(const struct dfs_mount_opts *o)
{
	struct mapped_device *md = t_md_file("pmem", 256 * MB);
	struct stress s = { 0 };
	struct worker w[WORKERS + 2];
	pthread_t th[WORKERS + 2];
	struct stat st;

	CHECK_EQ(dfs_mkfs(md, NULL), 0);
	struct dfs **fs = t_mount_opts(md, o);
	CHECK(fs);
	s.fs = *fs;
	for (int d = 0; d < 2; d++) {
		CHECK_EQ(dfs_mkdir(*fs, DFS_ROOT_INO, t_fmt("shared%d", d), 0755, &t_cred, &st), 0);
		s.shared[d] = (uint64_t)st.st_ino;
	}
	for (int k = 0; k < WORKERS; k++) {
		CHECK_EQ(dfs_mkdir(*fs, DFS_ROOT_INO, t_fmt("own%d", k), 0755, &t_cred, &st), 0);
		s.own[k] = (uint64_t)st.st_ino;
	}
	for (int k = 0; k < WORKERS + 2; k++) {
		memset(&w[k], 0, sizeof(w[k]));
		w[k].s = &s;
		w[k].id = k;
		CHECK_EQ(pthread_create(&th[k], NULL, k < WORKERS ? stress_worker : stress_reader, &w[k]), 0);
	}
	for (int k = 0; k < WORKERS; k++)
		pthread_join(th[k], NULL);
	__atomic_store_n(&s.stop, 1, __ATOMIC_RELEASE);
	for (int k = WORKERS; k < WORKERS + 2; k++)
		pthread_join(th[k], NULL);
	for (int k = 0; k < WORKERS + 2; k++) {
		if (w[k].failed)
			fprintf(stderr, "thread %d: %s\n", k, w[k].why);
		CHECK_EQ(w[k].failed, 0);
	}
	for (int d = 0; d < 2; d++)
		CHECK_EQ(check_dir(*fs, w, WORKERS, s.shared[d]), T_PASS);
	for (int k = 0; k < WORKERS; k++)
		CHECK_EQ(check_dir(*fs, w, WORKERS, s.own[k]), T_PASS);
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(t_fsck_problems(md), 0);
	return T_PASS;
}

static int test_parallel_namespace_changes_leave_the_expected_tree_and_a_clean_fsck(void)
{
	return stress(NULL);
}

static int test_parallel_namespace_changes_on_a_batched_mount_stay_consistent(void)
{
	return stress(&batched);
}

/* Renames that cross each other in both directions, plus lookups of the
 * parents, must not deadlock (the daemon may be called so, whatever the
 * kernel's rename mutex does). */
struct cross_job {
	struct dfs *fs;
	uint64_t a, b;
	int dir;
	int failed;
};

static void *cross_renamer(void *arg)
{
	struct cross_job *j = arg;
	char n[32];

	for (int i = 0; i < 200 && !j->failed; i++) {
		snprintf(n, sizeof(n), "c%d", j->dir);
		uint64_t from = (i % 2) ^ j->dir ? j->b : j->a, to = from == j->a ? j->b : j->a;
		if (dfs_rename(j->fs, from, n, to, n, 0))
			j->failed = 1;
	}
	return NULL;
}

static int test_crossing_renames_between_two_directories_do_not_deadlock(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	struct stat a, b;
	struct cross_job j[2];
	pthread_t th[2];

	CHECK(fs);
	CHECK_EQ(dfs_mkdir(*fs, DFS_ROOT_INO, "a", 0755, &t_cred, &a), 0);
	CHECK_EQ(dfs_mkdir(*fs, DFS_ROOT_INO, "b", 0755, &t_cred, &b), 0);
	CHECK(t_create(*fs, (uint64_t)a.st_ino, "c0"));
	CHECK_EQ(dfs_mkdir(*fs, (uint64_t)b.st_ino, "c1", 0755, &t_cred, &a), 0);
	CHECK_EQ(dfs_lookup(*fs, DFS_ROOT_INO, "a", &a), 0);
	for (int k = 0; k < 2; k++) {
		j[k] = (struct cross_job){ .fs = *fs, .a = (uint64_t)a.st_ino, .b = (uint64_t)b.st_ino, .dir = k };
		CHECK_EQ(pthread_create(&th[k], NULL, cross_renamer, &j[k]), 0);
	}
	for (int k = 0; k < 2; k++) {
		pthread_join(th[k], NULL);
		CHECK_EQ(j[k].failed, 0);
	}
	struct stat st;
	CHECK_EQ(dfs_lookup(*fs, (uint64_t)a.st_ino, "c0", &st), 0);
	CHECK_EQ(dfs_lookup(*fs, (uint64_t)b.st_ino, "c1", &st), 0);
	return T_PASS;
}

/* ---- a large directory: work per lookup and per resumed listing ----------- */

struct scan {
	off_t cookie;       /* next of the entry at index `at` */
	uint64_t at, seen, stop_after;
};

static int cookie_fill(void *ctx, const char *name, const struct stat *st, off_t next)
{
	struct scan *s = ctx;

	(void)name; (void)st;
	if (s->stop_after && s->seen == s->stop_after)
		return 1;
	if (s->seen++ == s->at)
		s->cookie = next;
	return 0;
}

struct work {
	uint64_t lookup_blocks, lookup_probes, miss_probes, list_blocks;
};

static uint64_t counter(uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

/* A directory of n entries; what one lookup (hit and miss) and one resumed
 * listing of 10 entries near its end cost. */
static int measure(uint64_t n, struct work *out)
{
	struct mapped_device *md = t_md_file(t_fmt("pmem-%llu", (unsigned long long)n),
					     n > 10000 ? 1024 * MB : 64 * MB);
	struct stat st;

	CHECK_EQ(dfs_mkfs(md, NULL), 0);
	/* batched: this measures the directory, not 100,000 commits */
	struct dfs **fs = t_mount_opts(md, &batched);
	CHECK(fs);
	CHECK_EQ(dfs_mkdir(*fs, DFS_ROOT_INO, "big", 0755, &t_cred, &st), 0);
	const uint64_t dir = (uint64_t)st.st_ino;
	for (uint64_t i = 0; i < n; i++) {
		char name[32];

		snprintf(name, sizeof(name), "entry-%06llu", (unsigned long long)i);
		CHECK_EQ(dfs_mknod(*fs, dir, name, S_IFREG | 0644, 0, &t_cred, &st), 0);
		dfs_forget(*fs, (uint64_t)st.st_ino, 1);
	}
	CHECK_EQ(dfs_sync(*fs), 0);
	/* the index is built on the first use after mount: warm it */
	CHECK_EQ(dfs_lookup(*fs, dir, "entry-000000", &st), 0);
	dfs_forget(*fs, (uint64_t)st.st_ino, 1);

	char probe[32];
	snprintf(probe, sizeof(probe), "entry-%06llu", (unsigned long long)(n * 9 / 10));
	uint64_t b0 = counter(&(*fs)->count_dir_blocks), p0 = counter(&(*fs)->count_dir_probes);
	CHECK_EQ(dfs_lookup(*fs, dir, probe, &st), 0);
	dfs_forget(*fs, (uint64_t)st.st_ino, 1);
	out->lookup_blocks = counter(&(*fs)->count_dir_blocks) - b0;
	out->lookup_probes = counter(&(*fs)->count_dir_probes) - p0;
	p0 = counter(&(*fs)->count_dir_probes);
	CHECK_EQ(dfs_lookup(*fs, dir, "not-there", &st), -ENOENT);
	out->miss_probes = counter(&(*fs)->count_dir_probes) - p0;

	/* a cookie near the end, then a listing resumed from it */
	struct scan all = { .at = 2 + n * 9 / 10 };
	CHECK_EQ(dfs_readdir(*fs, dir, 0, false, cookie_fill, &all), 0);
	CHECK_EQ(all.seen, n + 2);
	CHECK(all.cookie > 0);
	struct scan part = { .at = UINT64_MAX, .stop_after = 10 };
	b0 = counter(&(*fs)->count_dir_blocks);
	CHECK_EQ(dfs_readdir(*fs, dir, all.cookie, false, cookie_fill, &part), 0);
	CHECK_EQ(part.seen, 10);
	out->list_blocks = counter(&(*fs)->count_dir_blocks) - b0;
	return T_PASS;
}

static int test_lookup_and_resumed_readdir_cost_the_same_in_1000_and_100000_entries(void)
{
	struct work small, big;

	CHECK_EQ(measure(1000, &small), T_PASS);
	CHECK_EQ(measure(100000, &big), T_PASS);
	fprintf(stderr, "lookup: %llu/%llu blocks, %llu/%llu probes; miss: %llu/%llu probes; "
		"resumed listing: %llu/%llu blocks\n",
		(unsigned long long)small.lookup_blocks, (unsigned long long)big.lookup_blocks,
		(unsigned long long)small.lookup_probes, (unsigned long long)big.lookup_probes,
		(unsigned long long)small.miss_probes, (unsigned long long)big.miss_probes,
		(unsigned long long)small.list_blocks, (unsigned long long)big.list_blocks);
	/* a hash lookup reads no block and compares a few slots; a listing
	 * resumes at its cookie's block (a batch spans at most a few blocks) */
	CHECK_EQ(small.lookup_blocks, 0);
	CHECK_EQ(big.lookup_blocks, 0);
	CHECK(small.lookup_probes <= 8 && big.lookup_probes <= 8);
	CHECK(small.miss_probes <= 8 && big.miss_probes <= 8);
	CHECK(small.list_blocks <= 4 && big.list_blocks <= 4);
	CHECK(big.list_blocks <= small.list_blocks + 2);
	return T_PASS;
}

/* ---- group commit ---------------------------------------------------------- */

/* The hook holds the commit of gate_tid until released, and makes the commit
 * of fail_tid fail before its commit record. */
static struct {
	uint64_t gate_tid, fail_tid;
	int entered, released;
} gc;

static void gc_hook(struct dfs *fs, uint64_t tid)
{
	if (tid == gc.fail_tid)
		fs->fail_point = DFS_FAIL_BEFORE_COMMIT_RECORD;
	if (tid != gc.gate_tid)
		return;
	__atomic_store_n(&gc.entered, 1, __ATOMIC_RELEASE);
	if (!wait_flag(&gc.released, 60000))
		abort();     /* the test is stuck: fail loudly rather than hang */
}

struct creator {
	struct dfs *fs;
	const char *name;
	int err;
};

static void *create_one(void *arg)
{
	struct creator *c = arg;
	struct stat st;

	c->err = dfs_mknod(c->fs, DFS_ROOT_INO, c->name, S_IFREG | 0644, 0, &t_cred, &st);
	return NULL;
}

/* a's commit is held at its start; b and c change the next transaction
 * meanwhile and wait for it. Returns after all three calls returned. */
static int three_creates(struct dfs *fs, bool fail_second, struct creator c[3], uint64_t *ncommits)
{
	pthread_t th[3];
	const char *names[3] = { "a", "b", "c" };

	pthread_mutex_lock(&fs->meta);
	gc.gate_tid = fs->running_tid;
	gc.fail_tid = fail_second ? fs->running_tid + 1 : 0;
	gc.entered = gc.released = 0;
	fs->commit_hook = gc_hook;
	pthread_mutex_unlock(&fs->meta);
	const uint64_t before = t_commits(fs);
	for (int i = 0; i < 3; i++) {
		c[i] = (struct creator){ .fs = fs, .name = names[i] };
		CHECK_EQ(pthread_create(&th[i], NULL, create_one, &c[i]), 0);
		if (i == 0)
			CHECK(wait_flag(&gc.entered, 20000));
	}
	/* b and c joined the next transaction: both wait for a's commit */
	const int64_t end = now_ms() + 20000;
	while (t_commit_waiters(fs) < 2 && now_ms() < end) {
		struct timespec tick = { 0, 1000000 };
		nanosleep(&tick, NULL);
	}
	const unsigned joined = t_commit_waiters(fs);
	__atomic_store_n(&gc.released, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	CHECK_EQ(joined, 2);
	*ncommits = t_commits(fs) - before;
	fs->commit_hook = NULL;
	return T_PASS;
}

static bool exists(struct dfs *fs, const char *name)
{
	struct stat st;

	return dfs_lookup(fs, DFS_ROOT_INO, name, &st) == 0;
}

static int test_group_commit_two_callers_return_after_one_commit_that_holds_both(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	struct creator c[3];
	uint64_t n;

	CHECK(fs);
	CHECK_EQ(three_creates(*fs, false, c, &n), T_PASS);
	CHECK_EQ(c[0].err, 0);
	CHECK_EQ(c[1].err, 0);
	CHECK_EQ(c[2].err, 0);
	CHECK_EQ(n, 2);     /* a's, then one for b and c together */
	CHECK_EQ(t_crash_remount(md, fs), 0);    /* a crash: what returned is durable */
	CHECK(exists(*fs, "a"));
	CHECK(exists(*fs, "b"));
	CHECK(exists(*fs, "c"));
	return T_PASS;
}

static int test_group_commit_crash_before_the_commit_record_loses_both_joined_changes(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	struct creator c[3];
	uint64_t n;

	CHECK(fs);
	CHECK_EQ(three_creates(*fs, true, c, &n), T_PASS);
	CHECK_EQ(c[0].err, 0);
	CHECK_EQ(c[1].err, -EIO);
	CHECK_EQ(c[2].err, -EIO);
	CHECK_EQ(n, 2);
	CHECK_EQ(t_crash_remount(md, fs), 0);
	CHECK(exists(*fs, "a"));
	CHECK(!exists(*fs, "b"));
	CHECK(!exists(*fs, "c"));
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(t_fsck_problems(md), 0);
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_read_only_calls_finish_while_meta_is_held),
	T_CASE(test_lookup_in_one_directory_does_not_wait_for_a_writer_of_another),
	T_CASE(test_parallel_namespace_changes_leave_the_expected_tree_and_a_clean_fsck),
	T_CASE(test_parallel_namespace_changes_on_a_batched_mount_stay_consistent),
	T_CASE(test_crossing_renames_between_two_directories_do_not_deadlock),
	T_CASE(test_lookup_and_resumed_readdir_cost_the_same_in_1000_and_100000_entries),
	T_CASE(test_group_commit_two_callers_return_after_one_commit_that_holds_both),
	T_CASE(test_group_commit_crash_before_the_commit_record_loses_both_joined_changes),
};

T_MAIN(cases)