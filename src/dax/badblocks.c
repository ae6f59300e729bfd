/* dax/badblocks.c - injected poison: a sorted, merged list of bad sector ranges */
#include <errno.h>
#include <string.h>

#include "dax/badblocks.h"
#include "dax/device.h"
#include "util/err.h"

static uint64_t range_end(const struct dax_badblock *r)
{
	return r->sector + r->nr_sectors;
}

/* First range whose end lies after sector, i.e. the first that can contain
 * sector or lie behind it. Caller holds the lock. */
static size_t first_ending_after(const struct dax_badblocks *bb, size_t count, uint64_t sector)
{
	size_t lo = 0, hi = count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (range_end(&bb->ranges[mid]) <= sector)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int dax_bb_init(struct dax_badblocks *bb)
{
	int ret;

	atomic_init(&bb->count, 0);
	ret = pthread_rwlock_init(&bb->lock, NULL);
	return ret ? -ret : 0;
}

void dax_bb_destroy(struct dax_badblocks *bb)
{
	pthread_rwlock_destroy(&bb->lock);
}

int dax_bb_add(struct dax_badblocks *bb, uint64_t sector, uint64_t nr)
{
	uint64_t start = sector, end = sector + nr;
	size_t count, i, j;

	pthread_rwlock_wrlock(&bb->lock);
	count = atomic_load_explicit(&bb->count, memory_order_relaxed);
	/* ranges [i, j) overlap or touch [start, end) and merge into one */
	i = first_ending_after(bb, count, start > 0 ? start - 1 : 0);
	for (j = i; j < count && bb->ranges[j].sector <= end; j++) {
		if (bb->ranges[j].sector < start)
			start = bb->ranges[j].sector;
		if (range_end(&bb->ranges[j]) > end)
			end = range_end(&bb->ranges[j]);
	}
	if (i == j && count == DAX_BADBLOCKS_MAX) {
		pthread_rwlock_unlock(&bb->lock);
		return daxfs_err(-ENOSPC, "bad block table full (%d ranges)", DAX_BADBLOCKS_MAX);
	}
	/* replace [i, j) by one range: shift the tail by 1 - (j - i) */
	memmove(&bb->ranges[i + 1], &bb->ranges[j], (count - j) * sizeof(bb->ranges[0]));
	bb->ranges[i] = (struct dax_badblock){ .sector = start, .nr_sectors = end - start };
	atomic_store_explicit(&bb->count, count + 1 - (j - i), memory_order_release);
	pthread_rwlock_unlock(&bb->lock);
	return 0;
}

int dax_bb_clear(struct dax_badblocks *bb, uint64_t sector, uint64_t nr)
{
	uint64_t start = sector, end = sector + nr;
	size_t count, i;

	if (!dax_bb_any(bb))
		return 0;
	pthread_rwlock_wrlock(&bb->lock);
	count = atomic_load_explicit(&bb->count, memory_order_relaxed);
	i = first_ending_after(bb, count, start);
	while (i < count && bb->ranges[i].sector < end) {
		struct dax_badblock *r = &bb->ranges[i];
		uint64_t r_end = range_end(r);

		if (r->sector < start && r_end > end) {
			/* clearing the middle splits the range in two */
			if (count == DAX_BADBLOCKS_MAX) {
				pthread_rwlock_unlock(&bb->lock);
				return daxfs_err(-ENOSPC, "bad block table full (%d ranges)",
						 DAX_BADBLOCKS_MAX);
			}
			memmove(&bb->ranges[i + 2], &bb->ranges[i + 1],
				(count - i - 1) * sizeof(bb->ranges[0]));
			r->nr_sectors = start - r->sector;
			bb->ranges[i + 1] = (struct dax_badblock){ .sector = end, .nr_sectors = r_end - end };
			count++;
			break;
		} else if (r->sector < start) {
			r->nr_sectors = start - r->sector;
			i++;
		} else if (r_end > end) {
			r->sector = end;
			r->nr_sectors = r_end - end;
			break;
		} else {
			memmove(&bb->ranges[i], &bb->ranges[i + 1],
				(count - i - 1) * sizeof(bb->ranges[0]));
			count--;
		}
	}
	atomic_store_explicit(&bb->count, count, memory_order_release);
	pthread_rwlock_unlock(&bb->lock);
	return 0;
}

bool dax_bb_check(struct dax_badblocks *bb, uint64_t sector, uint64_t nr, uint64_t *first_bad)
{
	bool bad = false;
	size_t count, i;

	if (!dax_bb_any(bb) || nr == 0)
		return false;
	pthread_rwlock_rdlock(&bb->lock);
	count = atomic_load_explicit(&bb->count, memory_order_relaxed);
	i = first_ending_after(bb, count, sector);
	if (i < count && bb->ranges[i].sector < sector + nr) {
		bad = true;
		if (first_bad)
			*first_bad = bb->ranges[i].sector > sector ? bb->ranges[i].sector : sector;
	}
	pthread_rwlock_unlock(&bb->lock);
	return bad;
}

/* The public interface checks the range against the device once, here. */
static int check_range(struct dax_device *dev, const char *what, uint64_t sector, uint64_t nr)
{
	uint64_t dev_sectors;

	if (!dev)
		return daxfs_err(-EINVAL, "%s: no device", what);
	dev_sectors = dev->size >> DAX_SECTOR_SHIFT;
	if (nr == 0)
		return daxfs_err(-EINVAL, "%s: %s: empty sector range", dev->path, what);
	if (sector >= dev_sectors || nr > dev_sectors - sector)
		return daxfs_err(-EINVAL,
				 "%s: %s: sectors %llu+%llu beyond device end (%llu sectors)",
				 dev->path, what, (unsigned long long)sector,
				 (unsigned long long)nr, (unsigned long long)dev_sectors);
	return 0;
}

/* badblocks add or clear (what) of a range checked against the device. */
static int change(struct dax_device *dev, const char *what,
		  int (*op)(struct dax_badblocks *, uint64_t, uint64_t), uint64_t sector,
		  uint64_t nr_sectors)
{
	int ret = check_range(dev, what, sector, nr_sectors);

	if (!ret) {
		ret = op(&dev->bb, sector, nr_sectors);
		if (ret < 0)
			daxfs_err_prefix(ret, "%s", dev->path);
	}
	return ret < 0 ? dax_fail(dev, ret) : 0;
}

int dax_badblocks_add(struct dax_device *dev, uint64_t sector, uint64_t nr_sectors)
{
	return change(dev, "badblocks add", dax_bb_add, sector, nr_sectors);
}

int dax_badblocks_clear(struct dax_device *dev, uint64_t sector, uint64_t nr_sectors)
{
	return change(dev, "badblocks clear", dax_bb_clear, sector, nr_sectors);
}

bool dax_badblocks_check(struct dax_device *dev, uint64_t sector, uint64_t nr_sectors,
			 uint64_t *first_bad)
{
	if (!dev || sector + nr_sectors < sector)
		return false;
	return dax_bb_check(&dev->bb, sector, nr_sectors, first_bad);
}

size_t dax_badblocks_list(struct dax_device *dev, struct dax_badblock *out, size_t max)
{
	size_t count;

	if (!dev)
		return 0;
	pthread_rwlock_rdlock(&dev->bb.lock);
	count = atomic_load_explicit(&dev->bb.count, memory_order_relaxed);
	if (out)
		memcpy(out, dev->bb.ranges, (count < max ? count : max) * sizeof(*out));
	pthread_rwlock_unlock(&dev->bb.lock);
	return count;
}
