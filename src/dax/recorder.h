/* dax/recorder.h - the persistence recorder: a trace of every flush, drain and mark (private) */
#ifndef DAXFS_DAX_RECORDER_H
#define DAXFS_DAX_RECORDER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "dax/device.h"

/*
 * When the environment variable DAXFS_PERSIST_TRACE names a file (read once,
 * at the first flush, drain or mark of the process), persist.c reports every
 * flush with the bytes it writes back, every drain and every mark to it; the
 * line format is docs/CRASH.md's. Records are written whole with one write()
 * each on an O_APPEND descriptor, under one lock, so that the file order is
 * the order in which the persist calls happened, also when another process
 * (a workload writing its own markers) appends to the same file.
 *
 * Off, the cost is one load and one predictable branch per call.
 */

enum dax_rec_state {
	DAX_REC_UNKNOWN = 0,   /* environment not read yet */
	DAX_REC_OFF = 1,
	DAX_REC_ON = 2,
	DAX_REC_BROKEN = 3,    /* asked for, but the trace cannot be written */
};

extern _Atomic int dax_rec_state;

/* Reads the environment on first use; returns the settled state. */
int dax_rec_init(void);

/* true when the calls below must be made. */
static inline bool dax_rec_active(void)
{
	int s = atomic_load_explicit(&dax_rec_state, memory_order_acquire);

	if (__builtin_expect(s == DAX_REC_OFF, 1))
		return false;
	if (s == DAX_REC_UNKNOWN)
		s = dax_rec_init();
	return s != DAX_REC_OFF;
}

/* Each returns 0, or -EIO with a message when the trace was asked for but
 * cannot be written: a persist point that goes unrecorded would make every
 * crash state built from the trace a lie, so the persist call fails instead. */
int dax_rec_flush(struct dax_device *dev, uint64_t pos, uint64_t len);
int dax_rec_drain(struct dax_device *dev);

#endif
