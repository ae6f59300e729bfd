/* fuse/pool.c - the worker threads that serve the session: a few kept hot, more only when they all wait */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include "fuse/pool.h"
#include "util/clock.h"
#include "util/deadline.h"

/*
 * Why not libfuse's fuse_session_loop_mt: it starts a worker whenever none is
 * idle and keeps up to max_threads of them. The kernel wakes the reader that
 * has waited longest, so a burst of the kernel's write-back WRITEs or two
 * O_DIRECT writers spread over all of them: each request lands on a cold
 * thread, and on two CPUs ten threads take turns on one inode's lock. A
 * request that waits is why more than a few are ever needed (a truncate for
 * the recall's acknowledgement, which comes as another request; a writer at a
 * frozen filesystem while reads go on), and a wait is long. So the pool keeps
 * as many workers as it has CPUs and a watchdog starts one more only when all
 * of them have been busy for a whole stall period.
 *
 * A program that waits for each request before it sends the next (a read at
 * a time, a page fault, an unlink loop) pays two wake-ups per request: the
 * worker's and its own. On a virtual machine whose idle vCPUs halt, each is
 * an interrupt to another CPU and an exit to the host, and they cost more
 * than serving the request. So a worker that has just replied, with no other
 * request in service, looks for the next one before it sleeps in read(2):
 * the next request of such a program comes within microseconds and finds a
 * worker awake. One worker at a time looks, and it yields between looks, so
 * that it runs only where the CPU would otherwise idle; when requests overlap
 * (two programs at once) the condition fails and nobody polls.
 *
 * How long it looks follows the gaps between the pool going idle and the next
 * request, as Linux's haltpoll cpuidle governor sizes a guest's halt polling:
 * a gap up to poll_us that the look missed doubles the look (from
 * POOL_LOOK_GROW_START_NS), a gap longer than poll_us halves it (to none
 * below that). A program that thinks for 100 us between its requests (SQLite
 * between the calls of a commit) gets a look that long; an idle mount, or one
 * whose requests come far apart, soon gets none, and costs no CPU time for it.
 */

struct pool_worker {
	struct pool_worker *next;
	struct dfuse_pool *pool;
	pthread_t thread;
	struct fuse_buf buf;
};

struct dfuse_pool {
	struct fuse_session *se;
	struct dfuse_pool_config cfg;
	sem_t finish;                   /* posted by a worker that saw the session end */
	pthread_mutex_t lock;
	pthread_cond_t watch;           /* wakes the watchdog */
	pthread_t watchdog;
	/* protected by lock */
	struct pool_worker *workers;
	unsigned nworker, navail;       /* workers, and those waiting for a request */
	unsigned nwaiting;              /* workers in a wait another request ends */
	unsigned long long all_busy;    /* times navail reached 0 */
	/* requests, polls, polled; the rest is in the fields above and below */
	struct dfuse_pool_stats stats;
	/* The worker that looks for the next request, if one does (written
	 * under lock, read by the looker without). Whoever receives the next
	 * request ends the look: the look that saw it coming is over even if
	 * a worker woken in read(2) took it, so that the reply to it starts
	 * the next look. */
	struct pool_worker *looker;
	uint64_t look_ns;               /* how long the next look lasts, <= poll_us */
	uint64_t idle_since;            /* the reply that left the pool idle, or 0 */
	bool watchdog_asleep, exit;
	int error;
};

/* Workers in such waits are not counted against max, up to this many, so
 * that a hundred writers at a frozen filesystem leave room for the resume. */
#define POOL_WAITING_MAX 1024

static _Thread_local struct pool_worker *pool_self;

/* The pool being served, for dfuse_pool_stats. */
static struct dfuse_pool *pool_active;
static pthread_mutex_t pool_active_lock = PTHREAD_MUTEX_INITIALIZER;

/* The watchdog goes to sleep after this many stall periods in which the
 * workers were never all busy, so that an idle daemon does not wake. */
#define POOL_QUIET_PERIODS 200

/* The shortest look: the first after gaps that left none, as haltpoll's
 * grow_start. */
#define POOL_LOOK_GROW_START_NS 10000ull

static int pool_start_worker(struct dfuse_pool *pl);

/* Called with pl->lock held. */
static bool pool_may_grow(const struct dfuse_pool *pl)
{
	return pl->nworker - pl->nwaiting < pl->cfg.max && pl->nwaiting <= POOL_WAITING_MAX;
}

void dfuse_pool_waiting(bool waiting)
{
	struct dfuse_pool *pl = pool_self ? pool_self->pool : NULL;

	if (!pl)
		return;
	pthread_mutex_lock(&pl->lock);
	if (!waiting) {
		pl->nwaiting--;
	} else {
		pl->nwaiting++;
		/* a known wait: no need to watch a stall period go by */
		if (pl->navail == 0 && pool_may_grow(pl) && !pl->exit &&
		    pool_start_worker(pl) < 0)
			fuse_log(FUSE_LOG_ERR, "daxfs-fuse: cannot start a worker thread: "
				 "%u wait\n", pl->nwaiting);
	}
	pthread_mutex_unlock(&pl->lock);
}

static void pool_retire(struct dfuse_pool *pl, struct pool_worker *w)
{
	struct pool_worker **pp = &pl->workers;

	while (*pp != w)
		pp = &(*pp)->next;
	*pp = w->next;
	pl->nworker--;
	pl->navail--;
	pthread_detach(w->thread);
	pthread_mutex_unlock(&pl->lock);
	free(w->buf.mem);
	free(w);
}

/* Called with pl->lock held when a request arrives gap_ns after the pool
 * went idle: sizes the next look (above). */
static void pool_size_look(struct dfuse_pool *pl, uint64_t gap_ns)
{
	uint64_t max_ns = pl->cfg.poll_us * 1000ull;

	if (gap_ns > max_ns) {
		pl->look_ns /= 2;
		if (pl->look_ns < POOL_LOOK_GROW_START_NS)
			pl->look_ns = 0;
	} else if (gap_ns > pl->look_ns) {
		pl->look_ns *= 2;
		if (pl->look_ns < POOL_LOOK_GROW_START_NS)
			pl->look_ns = POOL_LOOK_GROW_START_NS;
		if (pl->look_ns > max_ns)
			pl->look_ns = max_ns;
	}
}

/* Called after a reply by the worker w that became pl->looker: looks for the
 * next request for look_ns, or until another worker received one, then lets
 * the caller read it (or sleep). Never inlined: a worker cancelled in
 * read(2) leaves pool_work's frame without its epilogue, and this function's
 * variables there, out of scope at that moment, would stay marked so for
 * AddressSanitizer when the thread's exit reuses that stack. */
__attribute__((noinline))
static void pool_poll(struct dfuse_pool *pl, struct pool_worker *w, uint64_t look_ns)
{
	struct pollfd pfd = { .fd = fuse_session_fd(pl->se), .events = POLLIN };
	uint64_t end = daxfs_clock_ns(CLOCK_MONOTONIC) + look_ns;
	bool found;
	int n;

	while ((n = poll(&pfd, 1, 0)) == 0 && !fuse_session_exited(pl->se) &&
	       __atomic_load_n(&pl->looker, __ATOMIC_RELAXED) == w &&
	       daxfs_clock_ns(CLOCK_MONOTONIC) < end)
		sched_yield();
	found = n > 0 && (pfd.revents & POLLIN);
	pthread_mutex_lock(&pl->lock);
	/* one that saw a request stays the looker until whoever reads it
	 * ends the look */
	if (!found && pl->looker == w)
		__atomic_store_n(&pl->looker, NULL, __ATOMIC_RELAXED);
	pl->stats.polls++;
	if (found)
		pl->stats.polled++;
	pthread_mutex_unlock(&pl->lock);
}

/* Nothing in this frame may have its address taken, nor in what is inlined
 * into it (see pool_poll). */
static void *pool_work(void *arg)
{
	struct pool_worker *w = arg;
	struct dfuse_pool *pl = w->pool;
	struct fuse_session *se = pl->se;
	uint64_t look_ns = 0;   /* this worker looks next, this long */

	pool_self = w;
	while (!fuse_session_exited(se)) {
		int res;

		if (look_ns) {
			pool_poll(pl, w, look_ns);
			look_ns = 0;
		}
		/* at exit the main thread cancels the workers that wait for a
		 * request, never one that is serving one */
		pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
		res = fuse_session_receive_buf(se, &w->buf);
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
		if (res == -EINTR)
			continue;
		if (res <= 0) {
			if (res < 0) {
				pthread_mutex_lock(&pl->lock);
				if (!pl->error)
					pl->error = res;
				pthread_mutex_unlock(&pl->lock);
				fuse_session_exit(se);
			}
			break;
		}
		pthread_mutex_lock(&pl->lock);
		if (pl->exit) {
			pthread_mutex_unlock(&pl->lock);
			return NULL;
		}
		/* the clock only after a gap: not for requests that overlap */
		if (pl->idle_since) {
			pool_size_look(pl, daxfs_clock_ns(CLOCK_MONOTONIC) - pl->idle_since);
			pl->idle_since = 0;
		}
		__atomic_store_n(&pl->looker, NULL, __ATOMIC_RELAXED);
		if (--pl->navail == 0) {
			pl->all_busy++;
			if (pl->watchdog_asleep && pool_may_grow(pl))
				pthread_cond_signal(&pl->watch);
		}
		pthread_mutex_unlock(&pl->lock);

		fuse_session_process_buf(se, &w->buf);

		pthread_mutex_lock(&pl->lock);
		pl->navail++;
		pl->stats.requests++;
		if (pl->nworker > pl->cfg.hot && pl->navail > 1 && !pl->exit) {
			pool_retire(pl, w);     /* unlocks */
			return NULL;
		}
		if (pl->cfg.poll_us && pl->navail == pl->nworker - pl->nwaiting && !pl->exit) {
			/* the pool is idle: the gap to the next request starts */
			pl->idle_since = daxfs_clock_ns(CLOCK_MONOTONIC);
			if (pl->look_ns && !pl->looker) {
				__atomic_store_n(&pl->looker, w, __ATOMIC_RELAXED);
				look_ns = pl->look_ns;
			}
		}
		pthread_mutex_unlock(&pl->lock);
	}
	sem_post(&pl->finish);
	return NULL;
}

/* One more worker when every worker was busy at two looks a stall period
 * apart with none of them free in between (all_busy did not move). */
static void *pool_watch(void *arg)
{
	struct dfuse_pool *pl = arg;
	unsigned long long seen = 0;
	bool was_stalled = false;
	unsigned quiet = 0;

	pthread_mutex_lock(&pl->lock);
	while (!pl->exit) {
		struct timespec ts;
		bool stalled;

		if (quiet >= POOL_QUIET_PERIODS) {
			pl->watchdog_asleep = true;
			while (!pl->exit && !(pl->navail == 0 && pool_may_grow(pl)))
				pthread_cond_wait(&pl->watch, &pl->lock);
			pl->watchdog_asleep = false;
			quiet = 0;
			seen = pl->all_busy;
			was_stalled = true;
			continue;
		}
		daxfs_deadline(&ts, CLOCK_MONOTONIC, pl->cfg.stall_us * 1000ull);
		pthread_cond_timedwait(&pl->watch, &pl->lock, &ts);
		if (pl->exit)
			break;
		stalled = pl->navail == 0;
		if (stalled && was_stalled && pl->all_busy == seen && pool_may_grow(pl)) {
			/* the new worker is free: the next look starts afresh */
			if (pool_start_worker(pl) < 0)
				fuse_log(FUSE_LOG_ERR, "daxfs-fuse: cannot start a worker thread: "
					 "all %u are busy\n", pl->nworker);
			stalled = false;
		}
		quiet = stalled || pl->all_busy != seen ? 0 : quiet + 1;
		seen = pl->all_busy;
		was_stalled = stalled;
	}
	pthread_mutex_unlock(&pl->lock);
	return NULL;
}

/* The signals that stop the daemon: every thread but main blocks them, so
 * that they interrupt main's wait. */
static const int stop_signals[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT };

/* Called with pl->lock held or before any thread runs. The new thread
 * inherits the caller's signal mask. */
static int pool_start_worker(struct dfuse_pool *pl)
{
	struct pool_worker *w = calloc(1, sizeof(*w));
	int err;

	if (!w)
		return -ENOMEM;
	w->pool = pl;
	if ((err = pthread_create(&w->thread, NULL, pool_work, w)) != 0) {
		free(w);
		return -err;
	}
	w->next = pl->workers;
	pl->workers = w;
	pl->nworker++;
	pl->navail++;
	return 0;
}

int dfuse_pool_stats(struct dfuse_pool_stats *out)
{
	struct dfuse_pool *pl;
	int err = -ENOENT;

	pthread_mutex_lock(&pool_active_lock);
	if ((pl = pool_active) != NULL) {
		pthread_mutex_lock(&pl->lock);
		*out = pl->stats;
		out->cfg = pl->cfg;
		out->workers = pl->nworker;
		out->idle = pl->navail;
		out->waiting = pl->nwaiting;
		out->all_busy = pl->all_busy;
		out->polling = pl->looker != NULL;
		out->look_us = (unsigned)(pl->look_ns / 1000);
		pthread_mutex_unlock(&pl->lock);
		err = 0;
	}
	pthread_mutex_unlock(&pool_active_lock);
	return err;
}

int dfuse_pool_serve(struct fuse_session *se, const struct dfuse_pool_config *cfg)
{
	struct dfuse_pool pl = { .se = se, .cfg = *cfg, .look_ns = cfg->poll_us * 1000ull };
	pthread_condattr_t ca;
	sigset_t stop, old;
	bool watching = false;
	int err = 0;

	if (pl.cfg.hot == 0)
		pl.cfg.hot = 1;
	if (pl.cfg.max < pl.cfg.hot)
		pl.cfg.max = pl.cfg.hot;
	sem_init(&pl.finish, 0, 0);
	pthread_mutex_init(&pl.lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&pl.watch, &ca);
	pthread_condattr_destroy(&ca);

	/* not SIGBUS and the like: a worker that touches a lost page of a
	 * member catches its own (dax's fault handling) */
	sigemptyset(&stop);
	for (unsigned i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++)
		sigaddset(&stop, stop_signals[i]);
	pthread_sigmask(SIG_BLOCK, &stop, &old);
	pthread_mutex_lock(&pl.lock);
	for (unsigned i = 0; i < pl.cfg.hot && !err; i++)
		err = pool_start_worker(&pl);
	/* with max == hot there is nothing to watch for */
	if (!err && pl.cfg.max > pl.cfg.hot &&
	    (err = -pthread_create(&pl.watchdog, NULL, pool_watch, &pl)) == 0)
		watching = true;
	pthread_mutex_unlock(&pl.lock);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		fuse_log(FUSE_LOG_ERR, "daxfs-fuse: cannot start the worker threads: %s\n",
			 strerror(-err));
		fuse_session_exit(se);
	}

	pthread_mutex_lock(&pool_active_lock);
	pool_active = &pl;
	pthread_mutex_unlock(&pool_active_lock);
	while (!fuse_session_exited(se))
		sem_wait(&pl.finish);
	pthread_mutex_lock(&pool_active_lock);
	pool_active = NULL;
	pthread_mutex_unlock(&pool_active_lock);

	pthread_mutex_lock(&pl.lock);
	pl.exit = true;
	for (struct pool_worker *w = pl.workers; w; w = w->next)
		pthread_cancel(w->thread);
	pthread_cond_signal(&pl.watch);
	pthread_mutex_unlock(&pl.lock);
	if (watching)
		pthread_join(pl.watchdog, NULL);
	while (pl.workers) {
		struct pool_worker *w = pl.workers;

		pl.workers = w->next;
		pthread_join(w->thread, NULL);
		free(w->buf.mem);
		free(w);
	}
	pthread_cond_destroy(&pl.watch);
	pthread_mutex_destroy(&pl.lock);
	sem_destroy(&pl.finish);
	return err ? err : pl.error;
}
