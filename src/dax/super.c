/* dax/super.c - the dax_* wrappers with the kernel's argument checks (drivers/dax/super.c) */
#include <errno.h>

#include "dax/device.h"
#include "util/err.h"

/* Checks shared by the three wrappers, in the kernel's order. op is the op the
 * caller is about to use, so a device without it is "not supported". */
static int dax_usable(struct dax_device *dev, bool has_op, const char *what)
{
	if (!dev)
		return daxfs_err(-EOPNOTSUPP, "%s: no dax device", what);
	if (!dev->ops || !has_op)
		return dax_fail(dev, daxfs_err(-EOPNOTSUPP, "%s: %s: not supported (%s)", dev->path,
					       what, dev->not_dax_reason ? dev->not_dax_reason
								 : "no such dax op"));
	if (!dax_alive(dev))
		return dax_fail(dev, daxfs_err(-ENXIO, "%s: %s: dax device is dead", dev->path, what));
	return 0;
}

long dax_direct_access(struct dax_device *dev, uint64_t pgoff, long nr_pages,
		       enum dax_access_mode mode, void **kaddr, uint64_t *pfn)
{
	long avail;
	int ret = dax_usable(dev, dev && dev->ops && dev->ops->direct_access,
			     "direct_access");

	if (ret < 0)
		return ret;
	if (nr_pages < 0)
		return dax_fail(dev, daxfs_err(-EINVAL, "%s: direct_access: negative page count %ld",
					       dev->path, nr_pages));
	if (mode != DAX_ACCESS && mode != DAX_RECOVERY_WRITE)
		return dax_fail(dev, daxfs_err(-EINVAL, "%s: direct_access: unknown mode %d",
					       dev->path, (int)mode));
	dax_stat_add(dev, direct_accesses, 1);
	avail = dev->ops->direct_access(dev, pgoff, nr_pages, mode, kaddr, pfn);
	if (avail == 0)
		return dax_fail(dev, daxfs_err(-ERANGE, "%s: direct_access: no page at pgoff %llu "
					       "(device has %llu pages)", dev->path,
					       (unsigned long long)pgoff,
					       (unsigned long long)(dev->size >> DAX_PAGE_SHIFT)));
	if (avail < 0)
		return dax_fail(dev, (int)avail);
	return avail < nr_pages ? avail : nr_pages;
}

int dax_zero_page_range(struct dax_device *dev, uint64_t pgoff, size_t nr_pages)
{
	int ret = dax_usable(dev, dev && dev->ops && dev->ops->zero_page_range,
			     "zero_page_range");

	if (ret < 0)
		return ret;
	/* no caller zeroes more than one page, so dm need not split ranges */
	if (nr_pages != 1)
		return dax_fail(dev, daxfs_err(-EIO, "%s: zero_page_range: %zu pages, only 1 "
					       "supported", dev->path, nr_pages));
	ret = dev->ops->zero_page_range(dev, pgoff, nr_pages);
	/* dax_mem2blk_err: poison is an I/O error to block-level callers */
	if (ret == -EHWPOISON)
		ret = -EIO;
	return ret < 0 ? dax_fail(dev, ret) : 0;
}

size_t dax_recovery_write(struct dax_device *dev, uint64_t pgoff, void *addr,
			  const void *src, size_t bytes)
{
	size_t done;

	if (dax_usable(dev, dev && dev->ops && dev->ops->recovery_write,
		       "recovery_write") < 0)
		return 0;
	if (!addr || (!src && bytes)) {
		daxfs_err(-EINVAL, "%s: recovery_write: NULL buffer", dev->path);
		dax_fail(dev, -EINVAL);
		return 0;
	}
	done = dev->ops->recovery_write(dev, pgoff, addr, src, bytes);
	if (done < bytes)
		dax_fail(dev, -EIO);
	return done;
}
