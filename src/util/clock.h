/* util/clock.h - reading a clock in nanoseconds (internal) */
#ifndef DAXFS_UTIL_CLOCK_H
#define DAXFS_UTIL_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Now on clock, in nanoseconds. Out of line on purpose: its timespec lives
 * in its own frame, never in a caller's that a thread cancellation leaves
 * without its epilogue (fuse/pool.c's workers, under AddressSanitizer). */
uint64_t daxfs_clock_ns(clockid_t clock);

#define DAXFS_NS_PER_S 1000000000ull

/* Now on clock, in whole seconds. */
static inline int64_t daxfs_clock_s(clockid_t clock)
{
	return (int64_t)(daxfs_clock_ns(clock) / DAXFS_NS_PER_S);
}

#endif
