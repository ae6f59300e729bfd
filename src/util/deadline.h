/* util/deadline.h - an absolute time some nanoseconds from now, for pthread's timed waits (internal) */
#ifndef DAXFS_UTIL_DEADLINE_H
#define DAXFS_UTIL_DEADLINE_H

#include <stdint.h>
#include <time.h>

/* *ts = now on clock + ns: CLOCK_REALTIME for a condition variable with
 * default attributes, the clock set with pthread_condattr_setclock else. */
static inline void daxfs_deadline(struct timespec *ts, clockid_t clock, uint64_t ns)
{
	clock_gettime(clock, ts);
	ns += (uint64_t)ts->tv_nsec;
	ts->tv_sec += (time_t)(ns / 1000000000u);
	ts->tv_nsec = (long)(ns % 1000000000u);
}

#endif
