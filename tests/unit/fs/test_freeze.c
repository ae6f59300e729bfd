/* test_freeze.c - the write gate of lockfs: writers wait before any copy, readers go on, waits are interruptible */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "fixture.h"
#include "util/intr.h"

#define MB (1024ull * 1024)

/* Polls cond (a state no thread can leave on its own) for up to ~10 s. */
#define WAIT_FOR(cond) do { \
	for (unsigned w_ = 0; !(cond); w_++) { \
		CHECK(w_ < 100000); \
		usleep(100); \
	} \
} while (0)

static unsigned waiting(struct dfs *fs)
{
	struct dfs_freeze_state st;

	dfs_freeze_state(fs, &st);
	return st.writers_waiting;
}

static bool gate_closed(struct dfs *fs)
{
	struct dfs_freeze_state st;

	dfs_freeze_state(fs, &st);
	return st.frozen;
}

struct writer {
	struct dfs *fs;
	uint64_t ino;
	const char *data;
	atomic_bool interrupted;
	bool interruptible;
	ssize_t result;
};

static bool writer_interrupted(void *arg)
{
	return atomic_load(&((struct writer *)arg)->interrupted);
}

static const struct daxfs_intr_ops writer_intr = { .pending = writer_interrupted };

static bool always_interrupted(void *arg)
{
	(void)arg;
	return true;
}

static const struct daxfs_intr_ops interrupted_intr = { .pending = always_interrupted };

static void *write_main(void *arg)
{
	struct writer *w = arg;

	if (w->interruptible)
		daxfs_intr_set(&writer_intr, w);
	w->result = dfs_pwrite(w->fs, w->ino, w->data, strlen(w->data), 0, 0);
	daxfs_intr_set(NULL, NULL);
	return NULL;
}

static void *freeze_main(void *arg)
{
	return (void *)(intptr_t)dfs_freeze(arg);
}

/* f holding "AAAA", the filesystem frozen, and w's writer of f started and
 * waiting at the gate. */
static int frozen_writer(struct dfs *fs, struct writer *w, pthread_t *t)
{
	w->fs = fs;
	w->ino = t_create(fs, DFS_ROOT_INO, "f");
	CHECK_EQ(dfs_pwrite(fs, w->ino, "AAAA", 4, 0, 0), 4);
	CHECK_EQ(dfs_freeze(fs), 0);
	CHECK(pthread_create(t, NULL, write_main, w) == 0);
	WAIT_FOR(waiting(fs) == 1);
	return T_PASS;
}

static int test_freeze_holds_a_writer_before_it_copies_and_reads_go_on(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	struct writer w = { .data = "BBBB" };
	pthread_t t;
	char buf[5] = "";

	CHECK(fs);
	CHECK_EQ(frozen_writer(*fs, &w, &t), T_PASS);
	/* the read takes the inode lock the writer would hold */
	CHECK_EQ(dfs_pread(*fs, w.ino, buf, 4, 0), 4);
	CHECK(memcmp(buf, "AAAA", 4) == 0);
	dfs_thaw(*fs);
	pthread_join(t, NULL);
	CHECK_EQ(w.result, 4);
	CHECK_EQ(dfs_pread(*fs, w.ino, buf, 4, 0), 4);
	CHECK(memcmp(buf, "BBBB", 4) == 0);
	CHECK_EQ(waiting(*fs), 0);
	return T_PASS;
}

static int test_freeze_waits_for_the_writers_past_the_gate(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	pthread_t t;
	void *ret;

	CHECK(fs);
	CHECK_EQ(dfs_start_write(*fs), 0);
	CHECK(pthread_create(&t, NULL, freeze_main, *fs) == 0);
	WAIT_FOR(gate_closed(*fs));
	/* a nested entry by a thread inside passes the closed gate */
	CHECK_EQ(dfs_start_write(*fs), 0);
	dfs_end_write(*fs);
	struct dfs_freeze_state st;
	dfs_freeze_state(*fs, &st);
	CHECK_EQ(st.writers, 1);
	dfs_end_write(*fs);
	pthread_join(t, &ret);
	CHECK_EQ((intptr_t)ret, 0);
	dfs_thaw(*fs);
	return T_PASS;
}

static int test_interrupted_writer_gives_up_with_eintr_and_changes_nothing(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	struct writer w = { .data = "CCCC", .interruptible = true };
	struct stat st;
	pthread_t t;
	char buf[5] = "";

	CHECK(fs);
	CHECK_EQ(frozen_writer(*fs, &w, &t), T_PASS);
	atomic_store(&w.interrupted, true);
	dfs_interrupt_waits(*fs);
	pthread_join(t, NULL);
	CHECK_EQ(w.result, -EINTR);
	CHECK_EQ(waiting(*fs), 0);
	dfs_thaw(*fs);
	CHECK_EQ(dfs_pread(*fs, w.ino, buf, 4, 0), 4);
	CHECK(memcmp(buf, "AAAA", 4) == 0);
	CHECK_EQ(dfs_getattr(*fs, w.ino, &st), 0);
	CHECK_EQ(st.st_size, 4);
	return T_PASS;
}

static int test_interrupted_namespace_change_on_a_frozen_fs_changes_nothing(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	struct stat st;

	CHECK(fs);
	CHECK(t_create(*fs, DFS_ROOT_INO, "f"));
	CHECK_EQ(dfs_freeze(*fs), 0);
	/* from a thread whose request is already interrupted: it must not
	 * wait, and must leave everything as it was */
	daxfs_intr_set(&interrupted_intr, NULL);
	int err = dfs_mkdir(*fs, DFS_ROOT_INO, "d", 0755, &t_cred, &st);
	int err2 = dfs_unlink(*fs, DFS_ROOT_INO, "f");
	daxfs_intr_set(NULL, NULL);
	CHECK_EQ(err, -EINTR);
	CHECK_EQ(err2, -EINTR);
	CHECK_EQ(dfs_lookup(*fs, DFS_ROOT_INO, "d", &st), -ENOENT);
	CHECK_EQ(dfs_lookup(*fs, DFS_ROOT_INO, "f", &st), 0);
	dfs_forget(*fs, st.st_ino, 1);
	dfs_thaw(*fs);
	return T_PASS;
}

static int test_read_only_fs_refuses_a_writer_at_once_while_frozen(void)
{
	const struct dfs_mount_opts ro = { .rdonly = true };
	struct dfs **fs = t_newfs_opts(64 * MB, NULL, &ro);
	struct stat st;

	CHECK(fs);
	CHECK_EQ(dfs_freeze(*fs), 0);
	CHECK_EQ(dfs_mkdir(*fs, DFS_ROOT_INO, "d", 0755, &t_cred, &st), -EROFS);
	dfs_thaw(*fs);
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_freeze_holds_a_writer_before_it_copies_and_reads_go_on),
	T_CASE(test_freeze_waits_for_the_writers_past_the_gate),
	T_CASE(test_interrupted_writer_gives_up_with_eintr_and_changes_nothing),
	T_CASE(test_interrupted_namespace_change_on_a_frozen_fs_changes_nothing),
	T_CASE(test_read_only_fs_refuses_a_writer_at_once_while_frozen),
};

T_MAIN(cases)