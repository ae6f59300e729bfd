/* dax/persist.c - the one place where stores become durable */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <libpmem.h>

#include "dax/device.h"
#include "dax/recorder.h"
#include "dax/seam.h"
#include "util/err.h"

/*
 * Every durability point of the stack funnels through flush and drain, so a
 * tracer or a power-loss recorder needs to hook only this file. Keep it small:
 * anything else that wants data durable calls dax_device_persist.
 *
 * With DAXFS_PERSIST_TRACE set, each flush and drain is first recorded
 * (recorder.c): the flush with the bytes it writes back, because stores reach
 * pmem through pointers and only the flush tells which bytes may be durable.
 * A flush is recorded before it is issued and a drain before it waits, so a
 * trace never claims less than what reached the media.
 */

int dax_unfenced_init(struct dax_unfenced *u)
{
	u->n = 0;
	return -pthread_mutex_init(&u->lock, NULL);
}

void dax_unfenced_destroy(struct dax_unfenced *u)
{
	pthread_mutex_destroy(&u->lock);
}

/* Notes a PMEM-mode flush of this thread; false when the table is full and
 * nothing was noted, in which case the caller drains. */
static bool unfenced_note(struct dax_device *dev, uint64_t pos, uint64_t len)
{
	struct dax_unfenced *u = &dev->unfenced;
	pid_t me = gettid();
	bool noted = true;

	pthread_mutex_lock(&u->lock);
	if (u->n && u->r[u->n - 1].tid == me && u->r[u->n - 1].pos + u->r[u->n - 1].len == pos)
		u->r[u->n - 1].len += len;   /* a sequential writer keeps one entry */
	else if (u->n < DAX_UNFENCED_MAX)
		u->r[u->n++] = (struct dax_unfenced_range){ .pos = pos, .len = len, .tid = me };
	else
		noted = false;
	pthread_mutex_unlock(&u->lock);
	return noted;
}

/*
 * Before a PMEM-mode drain: flushes again, from this CPU, what other threads
 * flushed since the last drain, since this thread's sfence does not wait for
 * their CPUs' flushes. Re-flushing clean lines is cheap; the recorder sees
 * the re-flushes as this thread's, with the bytes they write back now.
 * Lock order: the table's lock before the recorder's.
 */
static int reflush_others(struct dax_device *dev)
{
	struct dax_unfenced *u = &dev->unfenced;
	pid_t me = gettid();
	int ret = 0;

	pthread_mutex_lock(&u->lock);
	for (unsigned i = 0; i < u->n && ret == 0; i++) {
		if (u->r[i].tid == me)
			continue;
		if (dax_rec_active())
			ret = dax_rec_flush(dev, u->r[i].pos, u->r[i].len);
		if (ret == 0)
			ret = dax_mc(dev, DAX_MC_FLUSH, u->r[i].pos, NULL, u->r[i].len, NULL);
	}
	if (ret == 0)
		u->n = 0;
	pthread_mutex_unlock(&u->lock);
	return ret;
}

/* The fault build's durability bug (dax/seam.h): every second flush is
 * neither issued nor recorded, so that the crash checker has a real one to
 * find. */
static _Atomic unsigned long fault_flushes;

static bool fault_drop_flush(void)
{
	return dax_persist_fault == DAX_FAULT_DROP_FLUSH &&
	       atomic_fetch_add_explicit(&fault_flushes, 1, memory_order_relaxed) % 2 == 1;
}

static int check(struct dax_device *dev, const char *what, uint64_t pos, uint64_t len)
{
	if (!dev)
		return daxfs_err(-EINVAL, "%s: no device", what);
	if (!dax_alive(dev))
		return daxfs_err(-EIO, "%s: %s: device is dead", dev->path, what);
	if (pos > dev->size || len > dev->size - pos)
		return daxfs_err(-EINVAL, "%s: %s: bytes %llu+%llu beyond device end (%llu bytes)",
				 dev->path, what, (unsigned long long)pos, (unsigned long long)len,
				 (unsigned long long)dev->size);
	return 0;
}

int dax_flush_range(struct dax_device *dev, uint64_t pos, uint64_t len)
{
	dax_stat_add(dev, flushes, 1);
	if (len == 0 || fault_drop_flush())
		return 0;
	if (dax_rec_active()) {
		int ret = dax_rec_flush(dev, pos, len);

		if (ret < 0)
			return ret;
	}
	switch (dev->persist) {
	case DAX_PERSIST_PMEM: {
		int ret = dax_mc(dev, DAX_MC_FLUSH, pos, NULL, len, NULL);

		if (ret < 0)
			return ret;
		return unfenced_note(dev, pos, len) ? 0 : dax_drain(dev);
	}
	case DAX_PERSIST_MSYNC:
		/* pmem_msync rounds the start down to a page itself */
		if (pmem_msync(dev->addr + pos, len) < 0) {
			int err = errno;

			return daxfs_err(-err, "%s: msync: %s", dev->path, strerror(err));
		}
		return 0;
	case DAX_PERSIST_FSYNC:
		/* pwrite already handed the data to the kernel; the drain syncs it */
		atomic_store_explicit(&dev->fsync_pending, true, memory_order_release);
		return 0;
	case DAX_PERSIST_MEMORY:
		return 0;   /* the stores are in the file already (device.c) */
	}
	return daxfs_err(-EINVAL, "%s: unknown persist mode %d", dev->path, (int)dev->persist);
}

/*
 * A store and its flush in one: the kernel's copy_from_iter_flushcache, which
 * dax_copy_from_iter uses on pmem (DAXDEV_NOCACHE). On pmem the copy uses
 * non-temporal stores (pmem_memcpy_nodrain), so no cache line has to be
 * written back one by one afterwards; otherwise it is a copy and a flush. To
 * the recorder and the fault build it is a flush of the range, recorded once
 * the bytes are there: nothing is durable before the next drain anyway.
 */
int dax_copy_flushcache(struct dax_device *dev, uint64_t pos, const void *src, uint64_t len)
{
	if (dev->persist != DAX_PERSIST_PMEM) {
		int ret = dax_mc(dev, DAX_MC_STORE, pos, (void *)src, len, NULL);

		return ret < 0 ? ret : dax_flush_range(dev, pos, len);
	}
	dax_stat_add(dev, flushes, 1);
	dax_stat_add(dev, nt_copies, 1);
	if (fault_drop_flush()) {
		/* the fault build: a copy whose write-back is lost stays cached */
		return dax_mc(dev, DAX_MC_STORE, pos, (void *)src, len, NULL);
	}
	int ret = dax_mc(dev, DAX_MC_STORE_NT, pos, (void *)src, len, NULL);

	if (ret == 0 && dax_rec_active())
		ret = dax_rec_flush(dev, pos, len);
	if (ret < 0)
		return ret;
	return unfenced_note(dev, pos, len) ? 0 : dax_drain(dev);
}

int dax_drain(struct dax_device *dev)
{
	dax_stat_add(dev, drains, 1);
	if (dev->persist == DAX_PERSIST_PMEM) {
		int ret = reflush_others(dev);

		if (ret < 0)
			return ret;
	}
	if (dax_rec_active()) {
		int ret = dax_rec_drain(dev);

		if (ret < 0)
			return ret;
	}
	switch (dev->persist) {
	case DAX_PERSIST_PMEM:
		pmem_drain();
		return 0;
	case DAX_PERSIST_MSYNC:
	case DAX_PERSIST_MEMORY:
		/* msync in flush was synchronous; in memory nothing was in flight */
		return 0;
	case DAX_PERSIST_FSYNC:
		if (!atomic_exchange_explicit(&dev->fsync_pending, false, memory_order_acq_rel))
			return 0;
		if (fdatasync(dev->fd) < 0) {
			int err = errno;

			/* keep the flush pending so that a retry syncs again */
			atomic_store_explicit(&dev->fsync_pending, true, memory_order_release);
			return daxfs_err(-err, "%s: fdatasync: %s", dev->path, strerror(err));
		}
		return 0;
	}
	return daxfs_err(-EINVAL, "%s: unknown persist mode %d", dev->path, (int)dev->persist);
}

int dax_device_flush(struct dax_device *dev, uint64_t pos, uint64_t len)
{
	int ret = check(dev, "flush", pos, len);

	if (ret == 0)
		ret = dax_flush_range(dev, pos, len);
	return ret < 0 ? dax_fail(dev, ret) : 0;
}

int dax_device_copy_flushcache(struct dax_device *dev, uint64_t pos, const void *src, size_t len)
{
	int ret = check(dev, "copy", pos, len);

	if (ret == 0 && !dev->addr)
		ret = daxfs_err(-EOPNOTSUPP, "%s: copy: the device is not mapped", dev->path);
	if (ret == 0)
		ret = dax_copy_flushcache(dev, pos, src, len);
	return ret < 0 ? dax_fail(dev, ret) : 0;
}

int dax_device_drain(struct dax_device *dev)
{
	int ret = check(dev, "drain", 0, 0);

	if (ret == 0)
		ret = dax_drain(dev);
	return ret < 0 ? dax_fail(dev, ret) : 0;
}

int dax_device_persist(struct dax_device *dev, uint64_t pos, uint64_t len)
{
	int ret = dax_device_flush(dev, pos, len);

	return ret < 0 ? ret : dax_device_drain(dev);
}

const char *dax_persist_mode_name(enum dax_persist_mode mode)
{
	switch (mode) {
	case DAX_PERSIST_PMEM:
		return "pmem";
	case DAX_PERSIST_MSYNC:
		return "msync";
	case DAX_PERSIST_FSYNC:
		return "fsync";
	case DAX_PERSIST_MEMORY:
		return "memory";
	}
	return "unknown";
}
