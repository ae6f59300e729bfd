/* fuse/inval.c - after a table swap, the kernel's cached pages of open files are dropped */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fuse/dfuse.h"
#include "util/deadline.h"
#include "util/intr.h"

/* The mapped device's swap hook runs with its control lock held: notifying
 * the kernel from there could block on the kernel (a dirty page to write
 * back comes to us as a WRITE), so a thread does it. */
struct dfuse_inval {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond, done_cond;
	uint64_t requested, done;      /* swaps seen, swaps whose pages are dropped */
	bool stop;
};

#define INVAL_WAIT_SECONDS 10

static void *inval_main(void *arg)
{
	struct dfuse *df = arg;
	struct dfuse_inval *iv = df->inval;

	pthread_mutex_lock(&iv->lock);
	for (;;) {
		while (!iv->stop && iv->done == iv->requested)
			pthread_cond_wait(&iv->cond, &iv->lock);
		if (iv->stop)
			break;
		uint64_t gen = iv->requested;
		uint64_t *inos = NULL;
		size_t n = 0;

		pthread_mutex_unlock(&iv->lock);
		if (dfs_cached_files(df->fs, &inos, &n) < 0)
			fuse_log(FUSE_LOG_ERR, "daxfs-fuse: after a table swap: %s\n",
				 daxfs_errormsg());
		for (size_t i = 0; i < n; i++) {
			int err = dfuse_inval_inode(df, inos[i], 0, 0);

			/* ENOENT: the kernel has forgotten it meanwhile */
			if (err < 0 && err != -ENOENT)
				fuse_log(FUSE_LOG_WARNING, "daxfs-fuse: dropping cached pages of "
					 "inode %" PRIu64 ": %s\n", inos[i], strerror(-err));
		}
		free(inos);
		pthread_mutex_lock(&iv->lock);
		iv->done = gen;
		pthread_cond_broadcast(&iv->done_cond);
	}
	pthread_mutex_unlock(&iv->lock);
	return NULL;
}

void dfuse_inval_swapped(void *data)
{
	struct dfuse_inval *iv = data;

	pthread_mutex_lock(&iv->lock);
	iv->requested++;
	pthread_cond_signal(&iv->cond);
	pthread_mutex_unlock(&iv->lock);
}

int dfuse_inval_start(struct dfuse *df)
{
	struct dfuse_inval *iv = calloc(1, sizeof(*iv));

	if (!iv)
		return -ENOMEM;
	pthread_mutex_init(&iv->lock, NULL);
	pthread_cond_init(&iv->cond, NULL);
	pthread_cond_init(&iv->done_cond, NULL);
	df->inval = iv;
	if (pthread_create(&iv->thread, NULL, inval_main, df) != 0) {
		pthread_cond_destroy(&iv->cond);
		pthread_cond_destroy(&iv->done_cond);
		pthread_mutex_destroy(&iv->lock);
		free(iv);
		df->inval = NULL;
		return -EAGAIN;
	}
	return 0;
}

void dfuse_inval_stop(struct dfuse *df)
{
	struct dfuse_inval *iv = df->inval;

	if (!iv)
		return;
	pthread_mutex_lock(&iv->lock);
	iv->stop = true;
	pthread_cond_signal(&iv->cond);
	pthread_mutex_unlock(&iv->lock);
	pthread_join(iv->thread, NULL);
	pthread_cond_destroy(&iv->cond);
	pthread_cond_destroy(&iv->done_cond);
	pthread_mutex_destroy(&iv->lock);
	free(iv);
	df->inval = NULL;
}

/* Bounded: a single-threaded server cannot answer the WRITE that writing
 * back a dirty page needs while the command that waits runs. */
void dfuse_inval_wait(struct dfuse *df)
{
	struct dfuse_inval *iv = df->inval;
	struct timespec ts;

	daxfs_deadline(&ts, CLOCK_REALTIME, INVAL_WAIT_SECONDS * 1000000000ull);
	/* the kernel may write dirty pages back to us before it lets go */
	daxfs_intr_waiting(true);
	pthread_mutex_lock(&iv->lock);
	uint64_t want = iv->requested;
	while (iv->done < want)
		if (pthread_cond_timedwait(&iv->done_cond, &iv->lock, &ts) == ETIMEDOUT) {
			fuse_log(FUSE_LOG_WARNING, "daxfs-fuse: resume: cached pages not yet "
				 "dropped after %d s\n", INVAL_WAIT_SECONDS);
			break;
		}
	pthread_mutex_unlock(&iv->lock);
	daxfs_intr_waiting(false);
}
