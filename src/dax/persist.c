/* dax/persist.c - the one place where stores become durable */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <libpmem.h>

#include "dax/device.h"
#include "util/err.h"

/*
 * Every durability point of the stack funnels through flush and drain, so a
 * tracer or a power-loss recorder needs to hook only this file. Keep it small:
 * anything else that wants data durable calls dax_device_persist.
 */

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
	if (len == 0)
		return 0;
	switch (dev->persist) {
	case DAX_PERSIST_PMEM:
		pmem_flush(dev->addr + pos, len);
		return 0;
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
	}
	return daxfs_err(-EINVAL, "%s: unknown persist mode %d", dev->path, (int)dev->persist);
}

int dax_drain(struct dax_device *dev)
{
	dax_stat_add(dev, drains, 1);
	switch (dev->persist) {
	case DAX_PERSIST_PMEM:
		pmem_drain();
		return 0;
	case DAX_PERSIST_MSYNC:
		/* msync in flush was synchronous; nothing is in flight */
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
	}
	return "unknown";
}
