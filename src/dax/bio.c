/* dax/bio.c - the block I/O path of every dax device (pmem_do_read/pmem_do_write, blkdev) */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "dax/device.h"
#include "util/err.h"

/* All len bytes at pos, through a signal or a short transfer; buf is only
 * read for a write. */
static int io_full(struct dax_device *dev, enum dax_req_op op, void *buf, size_t len, uint64_t pos)
{
	const bool wr = op != DAX_REQ_READ;
	char *p = buf;

	while (len) {
		ssize_t n = wr ? pwrite(dev->fd, p, len, (off_t)pos) : pread(dev->fd, p, len, (off_t)pos);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno;

			return daxfs_err(-err, "%s: %s at byte %llu: %s", dev->path, wr ? "write" : "read",
					 (unsigned long long)pos, strerror(err));
		}
		if (n == 0)
			return daxfs_err(-EIO, "%s: %s at byte %llu: %s", dev->path, wr ? "write" : "read",
					 (unsigned long long)pos,
					 wr ? "no progress" : "unexpected end of device");
		p += n;
		pos += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

static int write_zeroes(struct dax_device *dev, uint64_t pos, size_t len)
{
	static const char zeroes[64 * 1024];

	if (dev->addr)
		return dax_mc(dev, DAX_MC_ZERO, pos, NULL, len, NULL);
	while (len) {
		size_t n = len < sizeof(zeroes) ? len : sizeof(zeroes);
		int ret = io_full(dev, DAX_REQ_WRITE, (void *)zeroes, n, pos);

		if (ret < 0)
			return ret;
		pos += n;
		len -= n;
	}
	return 0;
}

static int do_read(struct dax_device *dev, uint64_t pos, void *buf, size_t len)
{
	uint64_t first = pos >> DAX_SECTOR_SHIFT;
	uint64_t end = (pos + len + DAX_SECTOR_SIZE - 1) >> DAX_SECTOR_SHIFT;
	uint64_t bad;

	if (dax_bb_check(&dev->bb, first, end - first, &bad))
		return daxfs_err(-EIO, "%s: read of bad sector %llu", dev->path,
				 (unsigned long long)bad);
	if (dev->addr)   /* buf may itself point into a device's mapping */
		return dax_mc(dev, DAX_MC_LOAD, pos, buf, len, NULL);
	return io_full(dev, DAX_REQ_READ, buf, len, pos);
}

static int do_write(struct dax_device *dev, enum dax_req_op op, unsigned flags, uint64_t pos,
		    const void *buf, size_t len)
{
	/* only sectors covered whole are cleared: a partial write cannot
	 * restore the rest of a poisoned sector */
	uint64_t clear_first = (pos + DAX_SECTOR_SIZE - 1) >> DAX_SECTOR_SHIFT;
	uint64_t clear_end = (pos + len) >> DAX_SECTOR_SHIFT;
	int ret;

	if (op == DAX_REQ_WRITE_ZEROES) {
		ret = write_zeroes(dev, pos, len);
	} else if (dev->addr) {
		ret = dax_mc(dev, DAX_MC_STORE, pos, (void *)buf, len, NULL);
	} else {
		ret = io_full(dev, DAX_REQ_WRITE, (void *)buf, len, pos);
	}
	if (ret < 0)
		return ret;
	/* pmem writes go out with flushcache stores: pushed now, ordered by
	 * the next drain (REQ_PREFLUSH) or by FUA below */
	ret = dax_flush_range(dev, pos, len);
	if (ret == 0 && (flags & DAX_REQ_FUA))
		ret = dax_drain(dev);
	if (ret == 0 && clear_end > clear_first)
		ret = dax_bb_clear(&dev->bb, clear_first, clear_end - clear_first);
	return ret;
}

int dax_device_rw(struct dax_device *dev, enum dax_req_op op, unsigned flags,
		  uint64_t pos, void *buf, size_t len)
{
	int ret;

	if (!dev)
		return daxfs_err(-EINVAL, "dax_device_rw: no device");
	if (op != DAX_REQ_READ && op != DAX_REQ_WRITE && op != DAX_REQ_WRITE_ZEROES)
		return dax_fail(dev, daxfs_err(-EINVAL, "%s: unknown request op %d", dev->path,
					       (int)op));
	if (flags & ~(unsigned)DAX_REQ_FUA)
		return dax_fail(dev, daxfs_err(-EINVAL, "%s: unknown request flags %#x", dev->path,
					       flags));
	if (!dax_alive(dev))
		return dax_fail(dev, daxfs_err(-EIO, "%s: device is dead", dev->path));
	if (pos > dev->size || len > dev->size - pos)
		return dax_fail(dev, daxfs_err(-EINVAL,
			"%s: I/O at byte %llu, %zu bytes, beyond device end (%llu bytes)",
			dev->path, (unsigned long long)pos, len, (unsigned long long)dev->size));
	if (op != DAX_REQ_WRITE_ZEROES && len && !buf)
		return dax_fail(dev, daxfs_err(-EINVAL, "%s: NULL I/O buffer", dev->path));
	if (op != DAX_REQ_READ && dax_rdonly(dev))
		return dax_fail(dev, daxfs_err(-EROFS, "%s: device opened read-only", dev->path));

	if (op == DAX_REQ_READ) {
		ret = len ? do_read(dev, pos, buf, len) : 0;
		if (ret == 0) {
			dax_stat_add(dev, reads, 1);
			dax_stat_add(dev, read_bytes, len);
		}
	} else {
		/* an empty FUA write is a cache flush */
		ret = len ? do_write(dev, op, flags, pos, buf, len)
			  : (flags & DAX_REQ_FUA) ? dax_drain(dev) : 0;
		if (ret == 0) {
			dax_stat_add(dev, writes, 1);
			dax_stat_add(dev, write_bytes, len);
		}
	}
	return ret < 0 ? dax_fail(dev, ret) : 0;
}
