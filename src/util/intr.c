/* util/intr.c - the calling thread's interruption test */
#include <time.h>

#include "util/intr.h"

static _Thread_local daxfs_intr_test_fn intr_fn;
static _Thread_local void *intr_arg;

void daxfs_intr_set(daxfs_intr_test_fn fn, void *arg)
{
	intr_fn = fn;
	intr_arg = fn ? arg : NULL;
}

bool daxfs_intr_pending(void)
{
	return intr_fn && intr_fn(intr_arg);
}

void daxfs_intr_deadline(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_nsec += DAXFS_INTR_POLL_MS * 1000L * 1000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}
