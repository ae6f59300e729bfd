/* dax/device.h - the dax_device object shared by the files of the dax layer (private) */
#ifndef DAXFS_DAX_DEVICE_H
#define DAXFS_DAX_DEVICE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "daxfs/dax.h"
#include "dax/badblocks.h"

/* Counters are relaxed atomics: they are read for status only and never order
 * anything. */
struct dax_stats_atomic {
	_Atomic uint64_t direct_accesses;
	_Atomic uint64_t reads, read_bytes;
	_Atomic uint64_t writes, write_bytes;
	_Atomic uint64_t flushes, drains;
	_Atomic uint64_t nt_copies;
	_Atomic uint64_t errors;
};

/*
 * PMEM mode: the ranges flushed since the device's last drain, with the
 * thread that flushed each. An sfence (pmem_drain) orders only the calling
 * CPU's cache flushes, yet dax.h promises that a drain covers every flush
 * issued before it; so a drain flushes the other threads' ranges again from
 * its own CPU first (persist.c). When the table is full, the flush drains.
 * Protected by lock (a leaf lock).
 */
#define DAX_UNFENCED_MAX 128
struct dax_unfenced_range {
	uint64_t pos, len;
	pid_t tid;
};
struct dax_unfenced {
	pthread_mutex_t lock;
	unsigned n;
	struct dax_unfenced_range r[DAX_UNFENCED_MAX];
};

/*
 * Everything but refs, alive, fsync_pending, unfenced, bb and stats is set by
 * dax_device_open and read-only afterwards, so it needs no lock.
 */
struct dax_device {
	char *path;
	int fd;                          /* kept open for flock and fdatasync */
	unsigned flags;                  /* enum dax_open_flags */
	atomic_long refs;
	atomic_bool alive;               /* cleared by dax_device_kill */

	char *addr;                      /* the whole mapping; NULL on block devices */
	size_t map_len;
	bool mapped_by_pmem;             /* pmem_map_file (pmem_unmap) or mmap (munmap) */

	uint64_t size;                   /* usable bytes: whole pages when mapped */
	bool is_pmem;
	enum dax_persist_mode persist;
	const struct dax_operations *ops;  /* NULL: not DAX-capable */
	const char *not_dax_reason;
	dev_t st_dev;
	ino_t st_ino;
	uint64_t pfn_base;               /* pseudo-PFN of page 0, 2 MiB aligned */

	atomic_bool fsync_pending;       /* FSYNC mode: a flush awaits its drain */
	struct dax_unfenced unfenced;    /* PMEM mode: flushes awaiting a drain */
	struct dax_badblocks bb;
	struct dax_stats_atomic stats;
};

/* What holds a busy block device, for the message of a refused exclusive
 * open (holder.c): "mounted at /mnt (ext4)", "held by dm-0", ... */
void dax_holder_describe(dev_t rdev, char *buf, size_t size);

/* The ops of the libpmem-mapped backend (pmem.c). */
extern const struct dax_operations pmem_dax_ops;

/* persist.c, for the other files of the layer: range and liveness already
 * checked by the caller, errors not counted (the public entry point does). */
int dax_flush_range(struct dax_device *dev, uint64_t pos, uint64_t len);
int dax_drain(struct dax_device *dev);
int dax_copy_flushcache(struct dax_device *dev, uint64_t pos, const void *src, uint64_t len);
int dax_unfenced_init(struct dax_unfenced *u);
void dax_unfenced_destroy(struct dax_unfenced *u);

static inline int dax_persist_range(struct dax_device *dev, uint64_t pos, uint64_t len)
{
	int ret = dax_flush_range(dev, pos, len);

	return ret < 0 ? ret : dax_drain(dev);
}

/* mc.c: the guarded access every load and store through dev->addr goes
 * through (dax.h, "Machine-check-safe access"). pos and len must lie in the
 * device; buf is the other side of a copy (LOAD: its destination, STORE: its
 * source), unused otherwise. Returns 0, or -EIO after recording the bad page;
 * *done (when non-NULL) = bytes done before that page. */
enum dax_mc_op {
	DAX_MC_LOAD,       /* buf <- device */
	DAX_MC_STORE,      /* device <- buf */
	DAX_MC_STORE_NT,   /* device <- buf with non-temporal stores (PMEM mode) */
	DAX_MC_ZERO,       /* device <- zeroes */
	DAX_MC_FLUSH,      /* write the CPU cache lines back (PMEM mode) */
	DAX_MC_PROBE,      /* one load per page */
};
int dax_mc(struct dax_device *dev, enum dax_mc_op op, uint64_t pos, void *buf, size_t len,
	   size_t *done);
/* A mapped device is registered from open until freed, so that the calls
 * that take bare pointers find their device; the first registration installs
 * the SIGBUS handler. */
int dax_mc_register(struct dax_device *dev);
void dax_mc_unregister(struct dax_device *dev);

#define dax_stat_add(dev, field, n) \
	atomic_fetch_add_explicit(&(dev)->stats.field, (n), memory_order_relaxed)

/* Counts a failed call and returns err, so that failures are one line. */
static inline int dax_fail(struct dax_device *dev, int err)
{
	if (dev)
		dax_stat_add(dev, errors, 1);
	return err;
}

static inline bool dax_alive(const struct dax_device *dev)
{
	return atomic_load_explicit(&dev->alive, memory_order_acquire);
}

static inline bool dax_rdonly(const struct dax_device *dev)
{
	return dev->flags & DAX_OPEN_RDONLY;
}

#endif
