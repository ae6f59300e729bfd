/* preload/recall.c - libdaxfs-run: mappings follow another process's truncate before it returns */
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "preload/run.h"

/*
 * The kernel's DAX truncate unmaps the pages past the new end (and a punched
 * range) from every process before it returns, so that a later access raises
 * SIGBUS instead of reaching blocks the file no longer owns. The daemon cannot
 * touch our page tables: when a truncate, O_TRUNC or hole punch takes blocks
 * from a file that some open file of ours has mmap regions of
 * (DAXFS_IOC_RUN_MAPPED), it bumps the slot's recall and the table's
 * recall word, wakes the word's futex, and waits (at most ten seconds) until
 * every such open file acknowledged. A thread per mount, started with the
 * first region, waits on the word and does the remapping. The blocks
 * themselves stay out of the allocator while we hold the leases whatever
 * this thread does: the recall is about what the program sees, never about
 * another file's data.
 */

struct watcher {
	struct watcher *next;
	volatile struct daxfs_run_head *head;   /* of the mount it follows */
	pid_t pid;              /* the process it runs in (not a forked child) */
};

static pthread_mutex_t wlock = PTHREAD_MUTEX_INITIALIZER;
static struct watcher *watchers;

#define RECALL_BATCH 64
#define IDLE_SECONDS 5

void run_recall(volatile struct daxfs_run_head *head)
{
	struct rino *ris[RECALL_BATCH];
	size_t n;

	do {
		n = run_to_recall(head, ris, RECALL_BATCH);
		for (size_t i = 0; i < n; i++) {
			struct rino *ri = ris[i];
			struct rfile *rfs[RECALL_BATCH];
			uint32_t want;
			size_t nf;

			pthread_rwlock_wrlock(&ri->lock);
			want = __atomic_load_n(&ri->slot->recall, __ATOMIC_SEQ_CST);
			if (!run_remap_regions(ri))
				run_log("inode %llu: a region keeps pages of the old layout (their "
					"blocks stay held until it is unmapped)",
					(unsigned long long)ri->ino);
			ri->recall_seen = want;
			pthread_rwlock_unlock(&ri->lock);
			nf = run_mapped_files(ri, rfs, RECALL_BATCH);
			for (size_t j = 0; j < nf; j++) {
				(void)run_ioc(rfs[j]->kfd, DAXFS_IOC_RUN_MAPPED,
					      DAXFS_IOC_MAPPED_RECALLED, want, 0);
				run_put(rfs[j]);
			}
			run_log("inode %llu: mappings follow the daemon's recall %u",
				(unsigned long long)ri->ino, want);
			run_rino_release(ri);
		}
	} while (n == RECALL_BATCH);
}

static void *watch(void *arg)
{
	struct watcher *w = arg;
	volatile uint32_t *word = &w->head->recall;

	for (;;) {
		uint32_t seen = __atomic_load_n(word, __ATOMIC_SEQ_CST);
		struct timespec idle = { IDLE_SECONDS, 0 };

		run_recall(w->head);
		/* shared, not private: the daemon wakes it through its own
		 * mapping of the table */
		syscall(SYS_futex, word, FUTEX_WAIT, seen, &idle, NULL, 0);
		/* nothing mapped of the mount any more (or the mount is
		 * gone): the next region starts a watcher again */
		pthread_mutex_lock(&wlock);
		if (__atomic_load_n(word, __ATOMIC_SEQ_CST) == seen && !run_has_regions(w->head)) {
			w->pid = 0;
			pthread_mutex_unlock(&wlock);
			return NULL;
		}
		pthread_mutex_unlock(&wlock);
	}
}

void run_watch(struct rino *ri)
{
	struct watcher *w;

	pthread_mutex_lock(&wlock);
	for (w = watchers; w; w = w->next)
		if (w->head == ri->head && w->pid == run_pid)
			break;
	if (w) {
		pthread_mutex_unlock(&wlock);
		return;
	}
	/* a forked child's watcher of the same mount is started anew */
	for (w = watchers; w && w->head != ri->head; w = w->next)
		;
	if (!w && !(w = calloc(1, sizeof(*w)))) {
		pthread_mutex_unlock(&wlock);
		return;
	}
	if (!w->head) {
		w->head = ri->head;
		w->next = watchers;
		watchers = w;
	}
	w->pid = run_pid;
	/* run_thread_start blocks the program's signals in it */
	int err = run_thread_start(watch, w, 256 << 10);

	if (err) {
		w->pid = -1;
		run_log("inode %llu: no thread to follow truncates by other processes: %s",
			(unsigned long long)ri->ino, strerror(err));
	}
	pthread_mutex_unlock(&wlock);
}
