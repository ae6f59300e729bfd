/* test_concurrency.c - parallel I/O and namespace operations keep data and metadata consistent */
#include <pthread.h>
#include <semaphore.h>
#include <time.h>

#include "fixture.h"

#define MB (1024ull * 1024)
#define ROUNDS 200

struct worker {
	struct dfs *fs;
	uint64_t ino;
	int id;
	int failed;
};

static void *writer(void *arg)
{
	struct worker *w = arg;
	uint8_t buf[8192];

	for (int r = 0; r < ROUNDS && !w->failed; r++) {
		memset(buf, (uint8_t)(w->id * 16 + r % 16), sizeof(buf));
		if (dfs_pwrite(w->fs, w->ino, buf, sizeof(buf), (off_t)r * 8192, 0) != (ssize_t)sizeof(buf))
			w->failed = 1;
	}
	return NULL;
}

static void *reader(void *arg)
{
	struct worker *w = arg;
	uint8_t buf[65536];

	for (int r = 0; r < ROUNDS && !w->failed; r++) {
		if (dfs_pread(w->fs, w->ino, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
			w->failed = 1;
		for (size_t i = 0; i < sizeof(buf) && !w->failed; i++)
			if (buf[i] != 0x5a)
				w->failed = 2;
	}
	return NULL;
}

static void *namer(void *arg)
{
	struct worker *w = arg;
	struct stat st;

	for (int r = 0; r < ROUNDS && !w->failed; r++) {
		char name[32];
		snprintf(name, sizeof(name), "t%d-%d", w->id, r);
		if (dfs_mknod(w->fs, DFS_ROOT_INO, name, S_IFREG | 0644, 0, &t_cred, &st))
			w->failed = 1;
		else if (r % 2 && dfs_unlink(w->fs, DFS_ROOT_INO, name))
			w->failed = 3;
		else
			dfs_forget(w->fs, st.st_ino, 1);
	}
	return NULL;
}

static int test_parallel_writers_readers_and_creators_stay_consistent(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(128 * MB, &md);
	static uint8_t shared[65536];
	struct worker w[6];
	pthread_t th[6];

	CHECK(fs);
	memset(shared, 0x5a, sizeof(shared));
	uint64_t s = t_create(*fs, DFS_ROOT_INO, "shared");
	CHECK_EQ(dfs_pwrite(*fs, s, shared, sizeof(shared), 0, 0), (ssize_t)sizeof(shared));
	for (int i = 0; i < 6; i++) {
		w[i] = (struct worker){ .fs = *fs, .id = i };
		if (i < 2)
			w[i].ino = t_create(*fs, DFS_ROOT_INO, t_fmt("w%d", i));
		else if (i < 4)
			w[i].ino = s;
		CHECK_EQ(pthread_create(&th[i], NULL, i < 2 ? writer : i < 4 ? reader : namer, &w[i]), 0);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(th[i], NULL);
		CHECK_EQ(w[i].failed, 0);
	}
	for (int i = 0; i < 2; i++) {
		uint8_t buf[8192];
		for (int r = 0; r < ROUNDS; r++) {
			CHECK_EQ(dfs_pread(*fs, w[i].ino, buf, sizeof(buf), (off_t)r * 8192), (ssize_t)sizeof(buf));
			CHECK_EQ(buf[0], (uint8_t)(i * 16 + r % 16));
			CHECK_EQ(buf[8191], (uint8_t)(i * 16 + r % 16));
		}
	}
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(t_fsck_problems(md), 0);
	return T_PASS;
}

struct cached_write {
	struct dfs *fs;
	uint64_t ino;
	off_t off;
	sem_t copied;
	ssize_t begun, ended;
};

/* a write-back of one cached page: begin, copy, say so, end */
static void *cached_page_writer(void *arg)
{
	struct cached_write *c = arg;
	struct dfs_write wr;
	char page[4096];

	memset(page, 'W', sizeof(page));
	c->begun = dfs_write_begin(c->fs, c->ino, c->off, sizeof(page), DFS_WRITE_CACHED_PAGES, &wr);
	if (c->begun == (ssize_t)sizeof(page))
		c->begun = dfs_write_copy(c->fs, &wr, page, sizeof(page));
	sem_post(&c->copied);
	c->ended = c->begun > 0 ? dfs_write_end(c->fs, &wr, (size_t)c->begun) : c->begun;
	return NULL;
}

/* A read in progress (its reply not yet sent) holds the file shared: the
 * kernel's write-back of another page stores its bytes meanwhile, and then
 * waits only to set the times, which it does. */
static int test_cached_page_write_back_overlaps_a_read_in_progress(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	static uint8_t data[65536];
	const struct stat old = { .st_mtim = { 1000, 0 }, .st_ctim = { 1000, 0 } };
	struct cached_write c = { .off = 8192 };
	struct dfs_read rd;
	struct timespec deadline;
	pthread_t th;
	struct stat st;
	uint8_t back[4096];

	CHECK(fs);
	memset(data, 'r', sizeof(data));
	c.fs = *fs;
	c.ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK_EQ(dfs_pwrite(*fs, c.ino, data, sizeof(data), 0, 0), (ssize_t)sizeof(data));
	CHECK_EQ(dfs_setattr(*fs, c.ino, &old, DFS_SET_MTIME | DFS_SET_CTIME, &st), 0);
	CHECK_EQ(sem_init(&c.copied, 0, 0), 0);
	CHECK_EQ(dfs_read_begin(*fs, c.ino, 0, 4096, &rd), 4096);
	CHECK_EQ(pthread_create(&th, NULL, cached_page_writer, &c), 0);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 10;
	int waited = sem_timedwait(&c.copied, &deadline);
	/* released either way, so that a writer that waited can finish */
	dfs_read_end(*fs, &rd);
	if (waited != 0)
		sem_wait(&c.copied);
	pthread_join(th, NULL);
	sem_destroy(&c.copied);
	CHECK_EQ(waited, 0);
	CHECK_EQ(c.begun, 4096);
	CHECK_EQ(c.ended, 4096);
	CHECK_EQ(dfs_pread(*fs, c.ino, back, sizeof(back), 8192), (ssize_t)sizeof(back));
	CHECK_EQ(back[0], 'W');
	CHECK_EQ(back[4095], 'W');
	CHECK_EQ(dfs_getattr(*fs, c.ino, &st), 0);
	CHECK_EQ(st.st_size, (off_t)sizeof(data));
	CHECK(st.st_mtim.tv_sec > 1000);
	CHECK(st.st_ctim.tv_sec > 1000);
	CHECK_EQ(dfs_unmount(fs), 0);
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_parallel_writers_readers_and_creators_stay_consistent),
	T_CASE(test_cached_page_write_back_overlaps_a_read_in_progress),
};

T_MAIN(cases)