/* dax/device.c - opening a dax device by path, its lifetime, kill and stats */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <libpmem.h>

#include "dax/device.h"
#include "util/err.h"

/*
 * Each device gets its own pseudo-PFN range, 2^36 pages (256 TiB) apart, so
 * PFNs of different devices never collide and page 0 of every device is
 * 2 MiB (and 1 GiB) aligned, as on a real pmem namespace. Base 0 is skipped
 * so that a PFN of 0 never looks valid.
 */
#define DAX_PFN_SPAN_SHIFT 36
static atomic_uint_fast64_t next_pfn_slot = 1;

static const char block_reason[] = "block device: served through the bio path";

/*
 * A file not taken for pmem is persisted with msync, unless it lives in
 * memory: on tmpfs and ramfs the mapping is the file's own page cache, so a
 * store is in the file at once (any reader and the next mount see it, also
 * after this process dies) and no call can carry it further (shmem's fsync
 * is noop_fsync; the machine going down takes the file with it). msync there
 * costs a system call per flush and buys nothing.
 */
static enum dax_persist_mode unforced_mode(const struct dax_device *dev)
{
	struct statfs sfs;

	if (fstatfs(dev->fd, &sfs) == 0 &&
	    (sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC))
		return DAX_PERSIST_MEMORY;
	return DAX_PERSIST_MSYNC;
}

/* Whether a character device is device-dax (/dev/daxX.Y): its class in
 * sysfs, as libpmem and ndctl look it up. */
static bool is_device_dax(const struct stat *st)
{
	char link[64], target[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/sys/dev/char/%u:%u/subsystem", major(st->st_rdev),
		 minor(st->st_rdev));
	if ((n = readlink(link, target, sizeof(target) - 1)) < 0)
		return false;
	target[n] = '\0';
	const char *base = strrchr(target, '/');

	return base && strcmp(base + 1, "dax") == 0;
}

static int open_mapped(struct dax_device *dev, const struct stat *st)
{
	size_t map_len = 0;
	int is_pmem = 0;
	void *addr;

	if (S_ISREG(st->st_mode)) {
		if (st->st_size == 0)
			return daxfs_err(-EINVAL, "%s: empty file; a dax device needs at least one "
					 "%u-byte page", dev->path, DAX_PAGE_SIZE);
		if (st->st_size < (off_t)DAX_PAGE_SIZE)
			return daxfs_err(-EINVAL, "%s: too small (%lld bytes); a dax device needs at "
					 "least one %u-byte page", dev->path,
					 (long long)st->st_size, DAX_PAGE_SIZE);
		if ((uint64_t)st->st_size > SIZE_MAX)
			return daxfs_err(-EFBIG, "%s: too large to map (%lld bytes)", dev->path,
					 (long long)st->st_size);
	}
	if (S_ISCHR(st->st_mode) && !is_device_dax(st))
		return daxfs_err(-ENODEV, "%s: a character device that is not device-dax (%u:%u is "
				 "not in /sys/class/dax): a member is a pmem file or a /dev/daxX.Y",
				 dev->path, major(st->st_rdev), minor(st->st_rdev));
	if (dax_rdonly(dev) && S_ISREG(st->st_mode)) {
		/* pmem_map_file always opens read-write; map our own fd instead */
		map_len = (size_t)st->st_size;
		addr = mmap(NULL, map_len, PROT_READ, MAP_SHARED, dev->fd, 0);
		if (addr == MAP_FAILED) {
			int err = errno;

			return daxfs_err(-err, "%s: mmap: %s", dev->path, strerror(err));
		}
		is_pmem = pmem_is_pmem(addr, map_len);
		dev->mapped_by_pmem = false;
	} else {
		/* length 0 maps the whole file, or the whole device-dax region */
		addr = pmem_map_file(dev->path, 0, 0, 0, &map_len, &is_pmem);
		if (!addr) {
			int err = errno ? errno : EINVAL;

			if (S_ISCHR(st->st_mode))
				return daxfs_err(-err, "%s: not a usable device-dax character device: %s",
						 dev->path, pmem_errormsg()[0] ? pmem_errormsg() :
						 strerror(err));
			if (err == ENOMEM)
				return daxfs_err(-err, "%s: cannot map its %lld bytes: %s: the "
						 "address space this process may use (ulimit -v, "
						 "vm.overcommit_memory) has no room for a mapping "
						 "this large", dev->path, (long long)st->st_size,
						 pmem_errormsg());
			return daxfs_err(-err, "%s: cannot map: %s", dev->path, pmem_errormsg());
		}
		dev->mapped_by_pmem = true;
	}
	dev->addr = addr;
	dev->map_len = map_len;
	/* DAX works in whole pages; a tail shorter than a page is not used */
	dev->size = (uint64_t)map_len & ~(uint64_t)(DAX_PAGE_SIZE - 1);
	if (dev->size == 0)
		return daxfs_err(-EINVAL, "%s: too small (%zu bytes); a dax device needs at least "
				 "one %u-byte page", dev->path, map_len, DAX_PAGE_SIZE);
	dev->is_pmem = is_pmem != 0;
	dev->persist = dev->is_pmem ? DAX_PERSIST_PMEM :
		       S_ISREG(st->st_mode) ? unforced_mode(dev) : DAX_PERSIST_MSYNC;
	dev->ops = &pmem_dax_ops;
	return 0;
}

static int open_block(struct dax_device *dev)
{
	uint64_t bytes = 0;

	if (ioctl(dev->fd, BLKGETSIZE64, &bytes) < 0) {
		int err = errno;

		return daxfs_err(-err, "%s: BLKGETSIZE64: %s", dev->path, strerror(err));
	}
	dev->size = bytes & ~(uint64_t)(DAX_SECTOR_SIZE - 1);
	if (dev->size == 0)
		return daxfs_err(-EINVAL, "%s: empty block device", dev->path);
	dev->is_pmem = false;
	dev->persist = DAX_PERSIST_FSYNC;
	dev->ops = NULL;
	dev->not_dax_reason = block_reason;
	return 0;
}

static void dev_free(struct dax_device *dev)
{
	if (dev->addr) {
		dax_mc_unregister(dev);
		if (dev->mapped_by_pmem)
			pmem_unmap(dev->addr, dev->map_len);
		else
			munmap(dev->addr, dev->map_len);
	}
	if (dev->fd >= 0) {
		/* The flock goes first: a closing descriptor drops its OFD locks
		 * (the mounted mark) before its flock, and a mount starting in
		 * between would see a held lock with no mark and be refused. */
		flock(dev->fd, LOCK_UN);
		close(dev->fd);
	}
	dax_bb_destroy(&dev->bb);
	dax_unfenced_destroy(&dev->unfenced);
	free(dev->path);
	free(dev);
}

int dax_device_open(const char *path, unsigned flags, struct dax_device **out)
{
	struct dax_device *dev;
	struct stat st;
	int ret;

	if (!out)
		return daxfs_err(-EINVAL, "dax_device_open: NULL result pointer");
	*out = NULL;
	if (!path || !*path)
		return daxfs_err(-EINVAL, "dax_device_open: empty device path");
	if (flags & ~(unsigned)(DAX_OPEN_RDONLY | DAX_OPEN_EXCL))
		return daxfs_err(-EINVAL, "%s: unknown open flags %#x", path, flags);

	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return daxfs_err(-ENOMEM, "%s: out of memory", path);
	dev->fd = -1;
	dev->flags = flags;
	atomic_init(&dev->refs, 1);
	atomic_init(&dev->alive, true);
	atomic_init(&dev->fsync_pending, false);
	ret = dax_bb_init(&dev->bb);
	if (ret < 0) {
		free(dev);
		return daxfs_err(ret, "%s: cannot initialise bad block table", path);
	}
	ret = dax_unfenced_init(&dev->unfenced);
	if (ret < 0) {
		dax_bb_destroy(&dev->bb);
		free(dev);
		return daxfs_err(ret, "%s: cannot initialise the flush table", path);
	}
	dev->path = strdup(path);
	if (!dev->path) {
		ret = daxfs_err(-ENOMEM, "%s: out of memory", path);
		goto fail;
	}

	/* O_EXCL means "claim it" for a block device only (and "create" for
	 * anything else), so it is asked for when the path names one */
	bool excl = (flags & DAX_OPEN_EXCL) && stat(path, &st) == 0 && S_ISBLK(st.st_mode);

	/* O_NONBLOCK so that a FIFO named by mistake cannot hang the open */
	dev->fd = open(path, (dax_rdonly(dev) ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK |
		       (excl ? O_EXCL : 0));
	if (dev->fd < 0) {
		int err = errno;

		if (err == EBUSY && excl) {
			char why[4200];

			dax_holder_describe(st.st_rdev, why, sizeof(why));
			ret = daxfs_err(-EBUSY, "%s: in use: %s", path, why);
		} else if (err == EISDIR)
			ret = daxfs_err(-EISDIR, "%s: is a directory, not a file or device", path);
		else
			ret = daxfs_err(-err, "%s: cannot open: %s", path, strerror(err));
		goto fail;
	}
	if (fstat(dev->fd, &st) < 0) {
		int err = errno;

		ret = daxfs_err(-err, "%s: stat: %s", path, strerror(err));
		goto fail;
	}
	if (fcntl(dev->fd, F_SETFL, 0) < 0) {
		int err = errno;

		ret = daxfs_err(-err, "%s: fcntl: %s", path, strerror(err));
		goto fail;
	}
	dev->st_dev = st.st_dev;
	dev->st_ino = st.st_ino;

	if (S_ISDIR(st.st_mode))
		ret = daxfs_err(-EISDIR, "%s: is a directory, not a file or device", path);
	else if (S_ISREG(st.st_mode) || S_ISCHR(st.st_mode))
		ret = open_mapped(dev, &st);
	else if (S_ISBLK(st.st_mode))
		ret = open_block(dev);
	else
		ret = daxfs_err(-EINVAL, "%s: not a regular file, block device or device-dax "
				"character device", path);
	if (ret == 0 && dev->addr)
		ret = dax_mc_register(dev);
	if (ret < 0)
		goto fail;

	dev->pfn_base = atomic_fetch_add(&next_pfn_slot, 1) << DAX_PFN_SPAN_SHIFT;
	daxfs_err_clear();
	*out = dev;
	return 0;

fail:
	dev_free(dev);
	return ret;
}

struct dax_device *dax_device_get(struct dax_device *dev)
{
	if (dev)
		atomic_fetch_add_explicit(&dev->refs, 1, memory_order_relaxed);
	return dev;
}

void dax_device_put(struct dax_device **devp)
{
	struct dax_device *dev;
	long old;

	if (!devp || !*devp)
		return;
	dev = *devp;
	*devp = NULL;
	old = atomic_fetch_sub_explicit(&dev->refs, 1, memory_order_acq_rel);
	if (old <= 0)
		abort();   /* put without a matching get: the device is already freed */
	if (old == 1)
		dev_free(dev);
}

bool dax_device_put_last(struct dax_device **devp)
{
	long one = 1;

	if (!devp || !*devp ||
	    !atomic_compare_exchange_strong_explicit(&(*devp)->refs, &one, 0, memory_order_acq_rel,
						     memory_order_relaxed))
		return false;
	dev_free(*devp);
	*devp = NULL;
	return true;
}

const char *dax_device_path(const struct dax_device *dev)
{
	return dev ? dev->path : NULL;
}

uint64_t dax_device_size(const struct dax_device *dev)
{
	return dev ? dev->size : 0;
}

uint64_t dax_device_backed_size(const struct dax_device *dev)
{
	struct stat st;

	if (!dev || !dev->addr || fstat(dev->fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size >= dev->size)
		return dax_device_size(dev);
	return (uint64_t)st.st_size & ~(uint64_t)(DAX_PAGE_SIZE - 1);
}

bool dax_device_is_dax(const struct dax_device *dev)
{
	return dev && dev->ops;
}

bool dax_device_is_pmem(const struct dax_device *dev)
{
	return dev && dev->is_pmem;
}

enum dax_persist_mode dax_device_persist_mode(const struct dax_device *dev)
{
	return dev ? dev->persist : DAX_PERSIST_FSYNC;
}

const char *dax_device_not_dax_reason(const struct dax_device *dev)
{
	if (!dev)
		return "no device";
	return dev->ops ? NULL : dev->not_dax_reason;
}

bool dax_device_same_file(const struct dax_device *dev, dev_t st_dev, ino_t st_ino)
{
	return dev && dev->st_dev == st_dev && dev->st_ino == st_ino;
}

void dax_device_file_id(const struct dax_device *dev, dev_t *st_dev, ino_t *st_ino)
{
	*st_dev = dev->st_dev;
	*st_ino = dev->st_ino;
}

uint64_t dax_device_seek(const struct dax_device *dev, uint64_t pos, bool data)
{
	const uint64_t size = dax_device_size(dev);
	off_t at;

	if (pos >= size)
		return size;
	at = lseek(dev->fd, (off_t)pos, data ? SEEK_DATA : SEEK_HOLE);
	if (at < 0)     /* ENXIO: no data from pos on; else no holes known here */
		return errno == ENXIO || !data ? size : pos;
	return (uint64_t)at < size ? (uint64_t)at : size;
}

int dax_device_backing(struct dax_device *dev, struct dax_backing *out)
{
	struct statvfs sv;
	struct stat st;

	memset(out, 0, sizeof(*out));
	if (!dev)
		return daxfs_err(-EINVAL, "dax_device_backing: no device");
	if (fstat(dev->fd, &st) < 0)
		return daxfs_err(-errno, "%s: stat: %s", dev->path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return 0;
	if (fstatvfs(dev->fd, &sv) < 0)
		return daxfs_err(-errno, "%s: statvfs: %s", dev->path, strerror(errno));
	out->file = true;
	/* st_blocks may count the file's own metadata: never more holes than
	 * the file has bytes, and none below zero */
	uint64_t allocated = (uint64_t)st.st_blocks * 512;
	out->unallocated = (uint64_t)st.st_size > allocated ? (uint64_t)st.st_size - allocated : 0;
	out->fs_free = (uint64_t)sv.f_bavail * sv.f_frsize;
	out->fs_dev = st.st_dev;
	return 0;
}

int dax_device_prealloc(struct dax_device *dev)
{
	struct stat st;
	int err;

	if (!dev)
		return daxfs_err(-EINVAL, "dax_device_prealloc: no device");
	if (fstat(dev->fd, &st) < 0)
		return daxfs_err(-errno, "%s: stat: %s", dev->path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return 0;
	if (dax_rdonly(dev))
		return daxfs_err(-EROFS, "%s: cannot allocate a device opened read-only", dev->path);
	err = posix_fallocate(dev->fd, 0, st.st_size);
	if (err)
		return dax_fail(dev, daxfs_err(-err, "%s: cannot allocate %lld bytes: %s", dev->path,
					       (long long)st.st_size, strerror(err)));
	return 0;
}

void dax_device_kill(struct dax_device *dev)
{
	if (dev)
		atomic_store_explicit(&dev->alive, false, memory_order_release);
}

void dax_device_get_stats(struct dax_device *dev, struct dax_device_stats *out)
{
	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	if (!dev)
		return;
#define LOAD(f) out->f = atomic_load_explicit(&dev->stats.f, memory_order_relaxed)
	LOAD(direct_accesses);
	LOAD(reads);
	LOAD(read_bytes);
	LOAD(writes);
	LOAD(write_bytes);
	LOAD(flushes);
	LOAD(drains);
	LOAD(nt_copies);
	LOAD(errors);
#undef LOAD
}
