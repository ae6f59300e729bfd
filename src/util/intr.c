/* util/intr.c - the calling thread's interruption */
#include <stddef.h>
#include <time.h>

#include "util/deadline.h"
#include "util/intr.h"

static _Thread_local const struct daxfs_intr_ops *intr_ops;
static _Thread_local void *intr_arg;
static _Thread_local bool intr_armed;
static void (*wait_hook)(bool waiting);

void daxfs_intr_set(const struct daxfs_intr_ops *ops, void *arg)
{
	intr_ops = ops;
	intr_arg = ops ? arg : NULL;
	intr_armed = false;
}

bool daxfs_intr_pending(void)
{
	return intr_ops && intr_ops->pending(intr_arg);
}

void daxfs_intr_arm(void)
{
	if (intr_ops && intr_ops->arm && !intr_armed) {
		intr_armed = true;
		intr_ops->arm(intr_arg);
	}
}

void daxfs_intr_deadline(struct timespec *ts)
{
	daxfs_deadline(ts, CLOCK_REALTIME, DAXFS_INTR_POLL_MS * 1000000ull);
}

void daxfs_intr_set_wait_hook(void (*hook)(bool waiting))
{
	wait_hook = hook;
}

void daxfs_intr_waiting(bool waiting)
{
	if (wait_hook)
		wait_hook(waiting);
}
