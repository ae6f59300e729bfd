/* dax/pmem.c - the DAX ops of a libpmem-mapped device (drivers/nvdimm/pmem.c) */
#include <errno.h>
#include <string.h>

#include "dax/device.h"
#include "util/err.h"

static uint64_t nr_pages_of(const struct dax_device *dev)
{
	return dev->size >> DAX_PAGE_SHIFT;
}

/*
 * __pmem_direct_access. Two deliberate differences from the kernel: the
 * answer never runs past the device end (the kernel returns nr_pages when any
 * bad block exists, trusting the caller), and a pgoff beyond the end returns
 * 0, which the wrapper reports as -ERANGE.
 */
static long pmem_direct_access(struct dax_device *dev, uint64_t pgoff, long nr_pages,
			       enum dax_access_mode mode, void **kaddr, uint64_t *pfn)
{
	uint64_t avail, want, first_bad, sector = pgoff << (DAX_PAGE_SHIFT - DAX_SECTOR_SHIFT);

	if (pgoff >= nr_pages_of(dev))
		return 0;
	avail = nr_pages_of(dev) - pgoff;
	want = (uint64_t)nr_pages < avail ? (uint64_t)nr_pages : avail;
	if (kaddr)
		*kaddr = dev->addr + (pgoff << DAX_PAGE_SHIFT);
	if (pfn)
		*pfn = dev->pfn_base + pgoff;

	if (dax_bb_check(&dev->bb, sector, want * DAX_PAGE_SECTORS, &first_bad)) {
		uint64_t good;

		if (mode != DAX_RECOVERY_WRITE)
			return daxfs_err(-EHWPOISON, "%s: page %llu: poisoned (bad sector %llu)",
					 dev->path, (unsigned long long)(first_bad / DAX_PAGE_SECTORS),
					 (unsigned long long)first_bad);
		/*
		 * The recovery stride is one page. Like the kernel, the good
		 * length is rounded *up* to a page (PAGE_ALIGN), so a bad
		 * sector in the middle of a page makes that page part of the
		 * answer; recovery_write then clears it.
		 */
		good = (first_bad - sector + DAX_PAGE_SECTORS - 1) / DAX_PAGE_SECTORS;
		return good ? (long)good : 1;
	}
	if (dax_bb_any(&dev->bb))
		return (long)want;
	return (long)avail;
}

/* pmem_dax_zero_page_range: one write of zeroes, which clears the poison. */
static int pmem_zero_page_range(struct dax_device *dev, uint64_t pgoff, size_t nr_pages)
{
	uint64_t pos = pgoff << DAX_PAGE_SHIFT, len = (uint64_t)nr_pages << DAX_PAGE_SHIFT;
	int ret;

	if (pgoff >= nr_pages_of(dev) || nr_pages > nr_pages_of(dev) - pgoff)
		return daxfs_err(-EINVAL, "%s: zero pages %llu+%zu beyond device end (%llu pages)",
				 dev->path, (unsigned long long)pgoff, nr_pages,
				 (unsigned long long)nr_pages_of(dev));
	if (dax_rdonly(dev))
		return daxfs_err(-EROFS, "%s: device opened read-only", dev->path);
	ret = dax_mc(dev, DAX_MC_ZERO, pos, NULL, len, NULL);
	if (ret == 0)
		ret = dax_persist_range(dev, pos, len);
	if (ret < 0)
		return ret;
	/* cleared only once the zeroes are durable, so a reader never sees a
	 * good page with stale content */
	return dax_bb_clear(&dev->bb, pos >> DAX_SECTOR_SHIFT, len >> DAX_SECTOR_SHIFT);
}

/* pmem_recovery_write. addr must lie in page pgoff, as fs/dax.c passes it. */
static size_t pmem_recovery_write(struct dax_device *dev, uint64_t pgoff, void *addr,
				  const void *src, size_t bytes)
{
	char *page, *dst = addr;
	uint64_t off, pos, len;

	if (pgoff >= nr_pages_of(dev)) {
		daxfs_err(-EINVAL, "%s: recovery write at page %llu beyond device end", dev->path,
			  (unsigned long long)pgoff);
		return 0;
	}
	page = dev->addr + (pgoff << DAX_PAGE_SHIFT);
	if (dst < page || dst >= page + DAX_PAGE_SIZE ||
	    bytes > (size_t)(dev->addr + dev->size - dst)) {
		daxfs_err(-EINVAL, "%s: recovery write of %zu bytes at %p outside page %llu or "
			  "the device", dev->path, bytes, addr, (unsigned long long)pgoff);
		return 0;
	}
	if (dax_rdonly(dev)) {
		daxfs_err(-EROFS, "%s: device opened read-only", dev->path);
		return 0;
	}
	if (bytes == 0)
		return 0;
	off = (uint64_t)(dst - page);
	pos = (pgoff << DAX_PAGE_SHIFT) + off;
	/* the poison check covers the whole pages the write touches */
	len = (off + bytes + DAX_PAGE_SIZE - 1) & ~(uint64_t)(DAX_PAGE_SIZE - 1);
	if (dax_bb_check(&dev->bb, pgoff << (DAX_PAGE_SHIFT - DAX_SECTOR_SHIFT),
			 len >> DAX_SECTOR_SHIFT, NULL)) {
		if (off || bytes % DAX_PAGE_SIZE) {
			daxfs_err(-EINVAL, "%s: poisoned page %llu needs a page-aligned recovery "
				  "write (offset %llu, %zu bytes)", dev->path,
				  (unsigned long long)pgoff, (unsigned long long)off, bytes);
			return 0;
		}
		if (dax_mc(dev, DAX_MC_STORE, pos, (void *)src, bytes, NULL) < 0 ||
		    dax_persist_range(dev, pos, bytes) < 0)
			return 0;
		if (dax_bb_clear(&dev->bb, pos >> DAX_SECTOR_SHIFT, bytes >> DAX_SECTOR_SHIFT) < 0)
			return 0;
		return bytes;
	}
	if (dax_mc(dev, DAX_MC_STORE, pos, (void *)src, bytes, NULL) < 0)
		return 0;
	return dax_persist_range(dev, pos, bytes) < 0 ? 0 : bytes;
}

const struct dax_operations pmem_dax_ops = {
	.direct_access   = pmem_direct_access,
	.zero_page_range = pmem_zero_page_range,
	.recovery_write  = pmem_recovery_write,
};
