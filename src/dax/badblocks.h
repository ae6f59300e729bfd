/* dax/badblocks.h - a sorted, merged list of bad sector ranges (private) */
#ifndef DAXFS_DAX_BADBLOCKS_H
#define DAXFS_DAX_BADBLOCKS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daxfs/dax.h"

/* Like the kernel's badblocks table, bounded so that injection cannot grow
 * memory without limit. */
#define DAX_BADBLOCKS_MAX 512

/*
 * ranges[0..count) are sorted by sector, non-empty, and neither overlap nor
 * touch (adjacent ranges are merged). Protected by lock; lock order: leaf.
 * count is also published atomically so that the common case, a device with
 * no bad blocks, is checked without taking the lock.
 */
struct dax_badblocks {
	pthread_rwlock_t lock;
	atomic_size_t count;
	struct dax_badblock ranges[DAX_BADBLOCKS_MAX];
};

int dax_bb_init(struct dax_badblocks *bb);
void dax_bb_destroy(struct dax_badblocks *bb);

/* Callers have checked that [sector, sector+nr) is a non-empty range that does
 * not overflow. add returns -ENOSPC when the table is full. */
int dax_bb_add(struct dax_badblocks *bb, uint64_t sector, uint64_t nr);
int dax_bb_clear(struct dax_badblocks *bb, uint64_t sector, uint64_t nr);
bool dax_bb_check(struct dax_badblocks *bb, uint64_t sector, uint64_t nr, uint64_t *first_bad);

static inline bool dax_bb_any(struct dax_badblocks *bb)
{
	return atomic_load_explicit(&bb->count, memory_order_acquire) != 0;
}

#endif
