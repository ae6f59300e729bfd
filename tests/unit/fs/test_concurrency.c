/* test_concurrency.c - parallel I/O and namespace operations keep data and metadata consistent */
#include <pthread.h>

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

static const struct t_case cases[] = {
	T_CASE(test_parallel_writers_readers_and_creators_stay_consistent),
};

T_MAIN(cases)