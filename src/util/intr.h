/* util/intr.h - interruptible waits: whether the calling thread's request was interrupted (internal) */
#ifndef DAXFS_UTIL_INTR_H
#define DAXFS_UTIL_INTR_H

#include <stdbool.h>

/*
 * The kernel's signal_pending(current) for a server thread. A request that
 * may wait for something outside its control (a frozen filesystem, a
 * suspended device) names a test of its interruption while it runs; the
 * waits that can give up cleanly, before anything was changed, ask it and
 * return -EINTR. The test is called from the waiting thread only, so it may
 * look at the request it was given. Nothing here wakes a waiter: whoever
 * learns of the interruption (the FUSE server's interrupt callback) wakes
 * the waits itself, and every interruptible wait also looks again now and
 * then (DAXFS_INTR_POLL_MS) for tests that change without a wake-up.
 */
typedef bool (*daxfs_intr_test_fn)(void *arg);

/* Sets (fn non-NULL) or clears the calling thread's test. */
void daxfs_intr_set(daxfs_intr_test_fn fn, void *arg);
/* true if the calling thread has a test and it says interrupted. */
bool daxfs_intr_pending(void);

#define DAXFS_INTR_POLL_MS 200

struct timespec;
/* The absolute CLOCK_REALTIME time DAXFS_INTR_POLL_MS from now, for
 * pthread_cond_timedwait. */
void daxfs_intr_deadline(struct timespec *ts);

#endif
