/* fuse/recall.c - a truncate that reaches daxfs-run's mappings: the open files that map, the recall and its wait */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "fuse/run.h"
#include "fuse/run_internal.h"
#include "util/err.h"
#include "util/intr.h"

#define RECALL_TIMEOUT_NS 10000000000ll

/* ---- recalls: mappings other processes must change before the reply ------- */

int dfuse_run_mapped(struct dfuse *df, uint64_t ino, uint64_t fh, uint32_t flags, uint64_t value)
{
	struct dfuse_run *r = df->run;
	struct run_ino *p;
	struct run_mapper *m = NULL;
	int err = 0;

	if (!r)
		return daxfs_err(-EOPNOTSUPP, "this mount shares no daxfs-run table");
	if (flags != DAXFS_IOC_MAPPED_ADD && flags != DAXFS_IOC_MAPPED_DROP &&
	    flags != DAXFS_IOC_MAPPED_RECALLED)
		return daxfs_err(-EINVAL, "DAXFS_IOC_RUN_MAPPED: flags %#x: exactly one of ADD, "
				 "DROP, RECALLED", flags);
	pthread_rwlock_wrlock(&r->lock);
	if (!(p = flags == DAXFS_IOC_MAPPED_ADD ? run_get(r, ino) : run_find(r, ino))) {
		err = flags == DAXFS_IOC_MAPPED_ADD ? daxfs_err(-ENOMEM, "out of memory") :
			daxfs_err(-ENOENT, "inode %" PRIu64 " is not mapped", ino);
		goto out;
	}
	for (unsigned i = 0; i < p->nmap && !m; i++)
		if (p->map[i].fh == fh)
			m = &p->map[i];
	if (!m && flags != DAXFS_IOC_MAPPED_ADD) {
		err = daxfs_err(-ENOENT, "inode %" PRIu64 ": the open file has no mappings", ino);
		goto out;
	}
	if (!m) {
		struct run_mapper *n = realloc(p->map, (p->nmap + 1) * sizeof(*n));

		if (!n) {
			err = daxfs_err(-ENOMEM, "out of memory");
			run_maybe_drop(r, p);
			goto out;
		}
		p->map = n;
		m = &p->map[p->nmap++];
		/* whatever was recalled before, this mapping was made after */
		*m = (struct run_mapper){ .fh = fh, .acked = p->slot >= 0 ?
				__atomic_load_n(&r->slots[p->slot].recall, __ATOMIC_SEQ_CST) : 0 };
	}
	if (flags == DAXFS_IOC_MAPPED_ADD) {
		m->count++;
	} else if (flags == DAXFS_IOC_MAPPED_RECALLED) {
		if ((int32_t)((uint32_t)value - m->acked) > 0)
			m->acked = (uint32_t)value;
	} else if (--m->count == 0) {
		*m = p->map[--p->nmap];
		run_maybe_drop(r, p);
	}
out:
	pthread_rwlock_unlock(&r->lock);
	return err;
}

/* Whether every open file with mappings of ino acknowledged recall want
 * (or went away). */
static bool recalled(struct dfuse_run *r, uint64_t ino, uint32_t want)
{
	struct run_ino *p;
	bool done = true;

	pthread_rwlock_rdlock(&r->lock);
	if ((p = run_find(r, ino)))
		for (unsigned i = 0; i < p->nmap && done; i++)
			done = (int32_t)(p->map[i].acked - want) >= 0;
	pthread_rwlock_unlock(&r->lock);
	return done;
}

void dfuse_run_recall(struct dfuse *df, uint64_t ino, bool blocks_gone)
{
	struct dfuse_run *r = df->run;
	struct timespec nap = { 0, 20000 };
	long long waited = 0;
	struct run_ino *p;
	uint32_t want = 0;
	bool wait = false;

	if (!r || atomic_load(&r->used) == 0)
		return;
	pthread_rwlock_rdlock(&r->lock);
	if ((p = run_find(r, ino)) && p->slot >= 0) {
		pthread_mutex_lock(&p->pub);
		if ((blocks_gone || p->shrunk) && p->nmap) {
			want = __atomic_add_fetch(&r->slots[p->slot].recall, 1, __ATOMIC_SEQ_CST);
			wait = true;
		}
		p->shrunk = false;
		pthread_mutex_unlock(&p->pub);
	}
	pthread_rwlock_unlock(&r->lock);
	if (!wait)
		return;
	__atomic_fetch_add(&r->head->recall, 1, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, &r->head->recall, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
	/* The blocks stay out of the allocator while any lease is held
	 * whatever happens here; this wait is for the processes' view: pages
	 * past the new EOF raise SIGBUS by the time truncate returns. */
	/* the acknowledgements come as requests */
	daxfs_intr_waiting(true);
	while (!recalled(r, ino, want)) {
		if (waited >= RECALL_TIMEOUT_NS) {
			fuse_log(FUSE_LOG_WARNING, "daxfs-fuse: inode %" PRIu64 ": a daxfs-run process "
				 "did not update its mappings within %lld ms of a truncate\n", ino,
				 waited / 1000000);
			break;
		}
		nanosleep(&nap, NULL);
		waited += nap.tv_nsec;
		if (nap.tv_nsec < 1000000)
			nap.tv_nsec *= 2;
	}
	daxfs_intr_waiting(false);
}
