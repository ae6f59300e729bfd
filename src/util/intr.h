/* util/intr.h - interruptible waits: whether the calling thread's request was interrupted (internal) */
#ifndef DAXFS_UTIL_INTR_H
#define DAXFS_UTIL_INTR_H

#include <stdbool.h>

/*
 * The kernel's signal_pending(current) for a server thread. A request that
 * may wait for something outside its control (a frozen filesystem, a
 * suspended device) names, while it runs, how to tell that it was
 * interrupted (pending) and how to ask to be woken when it is (arm). The
 * waits that can give up cleanly, before anything was changed, arm once
 * before they first sleep, with no lock held that a wake-up takes, then ask
 * pending each time they wake and return -EINTR. Both are called from the
 * waiting thread only, so they may look at the request they were given.
 * Arming is left to the first wait because requests almost never wait, and
 * asking for a wake-up costs locks of the server's. A wait also looks again
 * every DAXFS_INTR_POLL_MS, for an interruption that came without a wake-up.
 */
struct daxfs_intr_ops {
	bool (*pending)(void *arg);
	void (*arm)(void *arg);         /* may be NULL: polling only */
};

/* Sets (ops non-NULL) or clears the calling thread's interruption. */
void daxfs_intr_set(const struct daxfs_intr_ops *ops, void *arg);
/* true if the calling thread has a request and it was interrupted. */
bool daxfs_intr_pending(void);
/* Before a wait: asks for a wake-up, once per daxfs_intr_set. */
void daxfs_intr_arm(void);

#define DAXFS_INTR_POLL_MS 200

/* A wait that only another request or a command can end (a thaw, a resumed
 * device, processes acknowledging a recall) begins (true) or ends (false)
 * on the calling thread. The server then does not count the thread among
 * its busy workers, so that one is free to take the request that ends the
 * wait. The hook is set once by the server, before it serves; without one
 * this does nothing. */
void daxfs_intr_set_wait_hook(void (*hook)(bool waiting));
void daxfs_intr_waiting(bool waiting);

struct timespec;
/* The absolute CLOCK_REALTIME time DAXFS_INTR_POLL_MS from now, for
 * pthread_cond_timedwait. */
void daxfs_intr_deadline(struct timespec *ts);

#endif
