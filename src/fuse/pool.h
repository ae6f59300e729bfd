/* fuse/pool.h - the worker threads that serve the session: a few kept hot, more only when they all wait */
#ifndef DAXFS_FUSE_POOL_H
#define DAXFS_FUSE_POOL_H

#include <stdbool.h>

struct fuse_session;

struct dfuse_pool_config {
	unsigned hot;        /* workers kept: the pool shrinks back to this many */
	unsigned max;        /* never more than this many at once (>= hot) */
	unsigned stall_us;   /* all workers busy this long: one more is started */
	unsigned poll_us;    /* after a reply, with no other request in service, one
			      * worker looks for the next up to this long before
			      * it sleeps, as long as recent gaps between requests
			      * need (0: never) */
};

struct dfuse_pool_stats {
	struct dfuse_pool_config cfg;   /* as the pool was started */
	unsigned workers;               /* threads now */
	unsigned idle;                  /* of them, waiting for a request */
	unsigned waiting;               /* of them, in a wait only another request ends */
	unsigned long long requests;    /* served by the pool's workers */
	unsigned long long all_busy;    /* times a request left no worker free */
	unsigned long long polls;       /* looks for the next request after a reply */
	unsigned long long polled;      /* of them, found one in time */
	unsigned polling;               /* workers looking right now (0 or 1) */
	unsigned look_us;               /* how long the next look lasts */
};

/* Serves se with worker threads until the session exits (an unmount, a
 * signal from fuse_set_signal_handlers, a fatal read error). Starts cfg->hot
 * workers. A worker that enters a wait only another request ends (a writer
 * at a frozen filesystem, a truncate for the acknowledgement of its recall:
 * dfuse_pool_waiting) is not counted, and one is started at once if none is
 * left to read requests. When every worker has been busy for a whole stall
 * period otherwise (one waits for a lock that such a waiter holds), a
 * watchdog starts one more, up to cfg->max. Workers beyond hot retire when
 * they are idle and another is too.
 * Returns 0 or the negative errno of the read that failed. */
int dfuse_pool_serve(struct fuse_session *se, const struct dfuse_pool_config *cfg);

/* The counters of the pool being served, or -ENOENT if none is. */
int dfuse_pool_stats(struct dfuse_pool_stats *out);

/* The daemon's hook for daxfs_intr_waiting (util/intr.h): a worker of the
 * pool that enters such a wait is not counted against max, and if no worker
 * is left to take requests, one is started at once. Other threads: nothing. */
void dfuse_pool_waiting(bool waiting);

#endif
