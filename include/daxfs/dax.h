/* daxfs/dax.h - dax devices: the pmem (and block) devices at the bottom of the stack */
#ifndef DAXFS_DAX_H
#define DAXFS_DAX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * A dax_device is one underlying device opened by path, the equivalent of the
 * kernel's block_device plus (when DAX-capable) its dax_device:
 *
 *   - a regular file or a /dev/daxX.Y, mapped with libpmem: DAX-capable, with
 *     the direct_access / zero_page_range / recovery_write ops;
 *   - a block device (loop device, partition): not DAX-capable, served only
 *     through the bio path (pread/pwrite).
 *
 * Every device has the bio path (dax_device_rw). Units: a sector is 512 bytes,
 * a page 4096 bytes; a pgoff is a page offset from the start of the device.
 */

#define DAX_SECTOR_SHIFT 9
#define DAX_SECTOR_SIZE  512u
#define DAX_PAGE_SHIFT   12
#define DAX_PAGE_SIZE    4096u
#define DAX_PAGE_SECTORS 8u

struct dax_device;

enum dax_access_mode {
	DAX_ACCESS = 0,
	DAX_RECOVERY_WRITE = 1,  /* return the good pages before a bad one (at least 1) */
};

/* How a device makes stores durable; chosen at open, reported by status. */
enum dax_persist_mode {
	DAX_PERSIST_PMEM = 0,   /* is_pmem: CPU cache flush + drain (pmem_flush/pmem_drain) */
	DAX_PERSIST_MSYNC = 1,  /* mapped but not pmem: pmem_msync of the range */
	DAX_PERSIST_FSYNC = 2,  /* block device, bio path only: fdatasync */
	/* a file on tmpfs or ramfs that is not forced to pmem: its mapping is
	 * the file's page cache, which no flush can make more durable (it
	 * survives the process at once and never survives the machine), so a
	 * flush and a drain only count and trace */
	DAX_PERSIST_MEMORY = 3,
};

/* The ops of a DAX-capable device. A missing capability is a NULL op. The
 * dax_* wrappers below add the kernel's argument checks; call those. */
struct dax_operations {
	long (*direct_access)(struct dax_device *dev, uint64_t pgoff, long nr_pages,
			      enum dax_access_mode mode, void **kaddr, uint64_t *pfn);
	int (*zero_page_range)(struct dax_device *dev, uint64_t pgoff, size_t nr_pages);
	size_t (*recovery_write)(struct dax_device *dev, uint64_t pgoff, void *addr,
				 const void *src, size_t bytes);
};

enum dax_open_flags {
	DAX_OPEN_RDONLY = 1u << 0,
	/* a block device is opened O_EXCL: one that is mounted or held by
	 * another exclusive opener (a filesystem, dm, md, mkfs) is refused with
	 * -EBUSY, naming what holds it. No effect on files and /dev/dax. */
	DAX_OPEN_EXCL = 1u << 1,
};

/*
 * Opens the device at path. Regular files and /dev/dax character devices are
 * mapped whole with pmem_map_file (DAX-capable); block devices are opened for
 * pread/pwrite (not DAX-capable). The persist mode follows pmem_is_pmem, which
 * honours PMEM_IS_PMEM_FORCE; a mapped file that is not pmem is in MSYNC mode,
 * or in MEMORY mode when its filesystem is tmpfs or ramfs. Returns 0 and a
 * device with one reference, or a negative errno (message in
 * daxfs_errormsg()).
 */
int dax_device_open(const char *path, unsigned flags, struct dax_device **out);

/* Reference counting; the last put unmaps and closes. put sets *dev to NULL. */
struct dax_device *dax_device_get(struct dax_device *dev);
void dax_device_put(struct dax_device **dev);
/* Puts *dev only if it is the last reference (closing the device): true, and
 * *dev NULL. While anyone else holds one: false, and *dev is untouched. */
bool dax_device_put_last(struct dax_device **dev);

const char *dax_device_path(const struct dax_device *dev);
uint64_t dax_device_size(const struct dax_device *dev);          /* bytes */
/* The bytes of it the backing file still holds now, in whole pages: less
 * than dax_device_size when a regular file shrank under the mapping (its
 * pages past the end then raise SIGBUS). One fstat; for tools, not I/O. */
uint64_t dax_device_backed_size(const struct dax_device *dev);
bool dax_device_is_dax(const struct dax_device *dev);           /* has DAX ops */
bool dax_device_is_pmem(const struct dax_device *dev);
enum dax_persist_mode dax_device_persist_mode(const struct dax_device *dev);
/* "pmem", "msync", "fsync", "memory" */
const char *dax_persist_mode_name(enum dax_persist_mode mode);
/* Why the device is not DAX-capable ("block device: served through the bio
 * path"), or NULL when it is. */
const char *dax_device_not_dax_reason(const struct dax_device *dev);
/* The same underlying file as st (same st_dev and st_ino)? */
bool dax_device_same_file(const struct dax_device *dev, dev_t st_dev, ino_t st_ino);
/* The file's st_dev and st_ino as the device opened it. */
void dax_device_file_id(const struct dax_device *dev, dev_t *st_dev, ino_t *st_ino);
/* lseek's SEEK_DATA (data) or SEEK_HOLE from byte pos, clamped to the
 * device's size: where the next data (or hole) begins; the size when there
 * is none. A device that knows no holes is data throughout. */
uint64_t dax_device_seek(const struct dax_device *dev, uint64_t pos, bool data);

/* Takes an exclusive advisory lock (flock) on the device so that a second
 * mount of the same files is refused: -EBUSY "<path>: in use by another
 * daxfs mount". Released by the last put. When the holder is a daemon whose
 * mount is already gone (it holds the mounted mark, below, and its FUSE
 * connection has ended) and that is only writing the filesystem back, this
 * waits until the holder closes the device instead of failing. */
int dax_device_lock(struct dax_device *dev);
/* Says that the process holding dev's lock serves a mount whose FUSE
 * connection it keeps open (a /dev/fuse descriptor) until it has closed dev:
 * what lets dax_device_lock elsewhere tell a daemon finishing an unmount from
 * a live mount. Released with the lock. 0 or a negative errno. */
int dax_device_mark_mounted(struct dax_device *dev);

/*
 * What backs a device that is a regular file: a sparse file provides a hole's
 * page only when its filesystem has a block for it, at the first store (a
 * fault that fails with -EIO, see "Machine-check-safe access"). file is false
 * for block devices and device-dax, which are whole; then the rest is 0.
 */
struct dax_backing {
	bool file;
	uint64_t unallocated;   /* bytes of the file without blocks (st_size - st_blocks * 512) */
	uint64_t fs_free;       /* free bytes of its filesystem for an unprivileged writer (statvfs) */
	dev_t fs_dev;           /* its filesystem: files on one share fs_free */
};
int dax_device_backing(struct dax_device *dev, struct dax_backing *out);
/* Allocates every block of a file-backed device (posix_fallocate over the
 * file), so that no store into it can fail for want of space: -ENOSPC "<path>:
 * cannot allocate N bytes: No space left on device" when its filesystem
 * cannot hold it. A no-op for block devices and device-dax. */
int dax_device_prealloc(struct dax_device *dev);

/* Marks the device dead (kill_dax): later DAX calls return -ENXIO, bio -EIO. */
void dax_device_kill(struct dax_device *dev);

/*
 * The DAX wrappers, with the kernel's contract (drivers/dax/super.c):
 *   dev == NULL or not DAX-capable -> -EOPNOTSUPP; dead -> -ENXIO;
 *   nr_pages < 0 -> -EINVAL; the driver reporting 0 pages -> -ERANGE;
 *   else min(available, nr_pages) with *kaddr and *pfn (when non-NULL) set for
 *   pgoff. Pages [pgoff, pgoff + ret) are contiguous in memory. A range that
 *   touches an injected bad block gives -EHWPOISON in DAX_ACCESS mode and the
 *   good pages before it (at least 1) in DAX_RECOVERY_WRITE mode.
 * kaddr stays valid while the caller holds a reference on dev.
 */
long dax_direct_access(struct dax_device *dev, uint64_t pgoff, long nr_pages,
		       enum dax_access_mode mode, void **kaddr, uint64_t *pfn);
/* nr_pages must be 1 (else -EIO); zeroes and persists the page, clears its
 * poison; -EHWPOISON is reported as -EIO. */
int dax_zero_page_range(struct dax_device *dev, uint64_t pgoff, size_t nr_pages);
/* Copies bytes from src to addr (inside the device's mapping at pgoff) and
 * persists them. Over poisoned pages addr and bytes must be page-aligned (else
 * 0 is returned); the poison is cleared. Returns the bytes written. */
size_t dax_recovery_write(struct dax_device *dev, uint64_t pgoff, void *addr,
			  const void *src, size_t bytes);

/* The bio path, on every device. pos and len in bytes. */
enum dax_req_op {
	DAX_REQ_READ = 0,
	DAX_REQ_WRITE = 1,
	DAX_REQ_WRITE_ZEROES = 2,  /* buf unused */
};
enum dax_req_flags {
	DAX_REQ_FUA = 1u << 0,     /* durable before returning */
};
/* Reads/writes [pos, pos+len). Out of range -> -EINVAL (with message); a read
 * touching a bad sector -> -EIO; a write clears the poison of every sector it
 * covers whole (as pmem_do_write does). */
int dax_device_rw(struct dax_device *dev, enum dax_req_op op, unsigned flags,
		  uint64_t pos, void *buf, size_t len);

/*
 * Persistence: the one place where stores become durable, so it can be traced
 * and faults injected. flush starts write-back of [pos, pos+len) (pmem_flush,
 * or pmem_msync in MSYNC mode, or remembers the range in FSYNC mode); drain
 * waits for every flush issued before it (pmem_drain, fdatasync), in any
 * thread: an sfence orders only its own CPU's flushes, so a PMEM-mode drain
 * first flushes again what other threads flushed since the last drain. Store
 * via a kaddr, then flush its range, then drain once: that is the ordering
 * contract.
 */
int dax_device_flush(struct dax_device *dev, uint64_t pos, uint64_t len);
int dax_device_drain(struct dax_device *dev);
/* flush + drain */
int dax_device_persist(struct dax_device *dev, uint64_t pos, uint64_t len);
/* Stores len bytes of src at pos and flushes them (durable at the next
 * drain), as the kernel's copy_from_iter_flushcache: with non-temporal stores
 * in PMEM mode, a copy and a flush otherwise. -EOPNOTSUPP on a device that is
 * not mapped (a block device). */
int dax_device_copy_flushcache(struct dax_device *dev, uint64_t pos, const void *src, size_t len);

/*
 * The persistence trace, for power-loss simulation (docs/CRASH.md). With
 * DAXFS_PERSIST_TRACE=<file> in the environment (read once, at the first
 * flush, drain or mark of the process), every flush is appended to <file>
 * with the bytes it writes back, then every drain and every mark, in call
 * order. When the variable is set but the file cannot be written, flushes,
 * drains and marks fail with -EIO rather than go unrecorded.
 *
 * dax_persist_mark adds a marker line (operation start/end, fsync returned)
 * that the crash checker reads as a point in the sequence of persist calls;
 * any text, escaped in the file. A no-op returning 0 when not tracing.
 */
bool dax_persist_tracing(void);
int dax_persist_mark(const char *label);

/*
 * Machine-check-safe access to device memory (mc.c), the kernel's copy_mc
 * family. A load or store through a device's mapping raises SIGBUS when the
 * backing file cannot provide the page (truncated under the device, or a hole
 * of a sparse file whose filesystem is full). Every access the dax layer makes
 * through a mapping (the bio path, zeroing, recovery writes, flushcache copies,
 * flushes) is guarded, and these two calls guard the accesses of the layers
 * above through a kaddr: such a fault fails the access with -EIO, records the
 * page as a bad block of its device (dax_badblocks_list; direct_access then
 * answers -EHWPOISON for it) and leaves a message naming the device, the page
 * and why. A SIGBUS anywhere else still takes the handler installed before
 * this layer's (at the first open of a mapped device), or the default action.
 * Calls do not nest; a range must lie wholly inside one device's mapping or
 * outside all of them (-EINVAL otherwise).
 */
/* memmove of len bytes, either side in a mapping or not; *done (when non-NULL)
 * = bytes copied before the page that failed, or len. */
int dax_copy_mc(void *dst, const void *src, size_t len, size_t *done);
/* Loads one byte of every page of [addr, addr+len): 0 if all are backed, else
 * -EIO with *good (when non-NULL) = the bytes before the first bad page. For
 * memory the kernel will copy (a FUSE reply), where a bad page would be an
 * EFAULT there rather than a SIGBUS here. */
int dax_probe_mc(const void *addr, size_t len, size_t *good);

/* Injected bad blocks (poison), in 512-byte sectors like the kernel's badblocks. */
int dax_badblocks_add(struct dax_device *dev, uint64_t sector, uint64_t nr_sectors);
int dax_badblocks_clear(struct dax_device *dev, uint64_t sector, uint64_t nr_sectors);
/* true if any sector of [sector, sector+nr) is bad; *first_bad set to the first. */
bool dax_badblocks_check(struct dax_device *dev, uint64_t sector, uint64_t nr_sectors,
			 uint64_t *first_bad);
struct dax_badblock {
	uint64_t sector;
	uint64_t nr_sectors;
};
/* Copies up to max merged ranges in ascending order; returns how many exist. */
size_t dax_badblocks_list(struct dax_device *dev, struct dax_badblock *out, size_t max);

/* Counters, for status. */
struct dax_device_stats {
	uint64_t direct_accesses;
	uint64_t reads, read_bytes;
	uint64_t writes, write_bytes;
	uint64_t flushes, drains;
	uint64_t nt_copies;         /* flushes made by non-temporal copies (PMEM mode) */
	uint64_t errors;            /* calls that returned an error */
};
void dax_device_get_stats(struct dax_device *dev, struct dax_device_stats *out);

#endif
