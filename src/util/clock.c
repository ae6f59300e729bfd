/* util/clock.c - reading a clock in nanoseconds */
#include "util/clock.h"

uint64_t daxfs_clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * DAXFS_NS_PER_S + (uint64_t)ts.tv_nsec;
}
