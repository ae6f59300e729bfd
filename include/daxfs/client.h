/* daxfs/client.h - libdaxfs: load/store access to the pmem of files on a daxfs-fuse mount */
#ifndef DAXFS_CLIENT_H
#define DAXFS_CLIENT_H

#include <stddef.h>
#include <sys/types.h>

#include "daxfs/err.h"

/*
 * On this kernel an mmap of a FUSE file is backed by the page cache. libdaxfs
 * gives the application the pmem pages themselves instead: it asks the daemon
 * (through ioctls on the file) for the file's extents followed down the dm
 * chain to the backing devices, opens those backing files itself (the
 * application needs permission to open them) and maps each piece MAP_SHARED
 * at consecutive addresses of one reserved region, MAP_SHARED_VALIDATE |
 * MAP_SYNC where the backing file supports it, plain MAP_SHARED otherwise.
 *
 * Errors: every call returns 0 or a negative errno and leaves a message in
 * daxfs_errormsg(). The library never prints.
 *
 * Lifetime and leases: daxfs_map takes a lease held by a duplicate of fd
 * that the library keeps until daxfs_unmap, so the caller may close fd. While
 * the lease lasts, the blocks under the mapping are never given to another
 * file: a truncate, hole punch or unlink of the file meanwhile leaves the
 * mapping on blocks nobody else gets until the lease ends (stores into them
 * are lost, never seen by another file). The lease ends at daxfs_unmap or
 * when the process exits, even by SIGKILL. After fork the child must not use
 * the parent's mappings through this library.
 *
 * Coherence: write() by anyone is visible through the mapping at once. Stores
 * through the mapping are visible to read() and to page-cache mmaps (in any
 * process) after the daxfs_persist that covers them; stores into a
 * page-cache mmap after its msync.
 *
 * Table reloads: while any file is mapped, the daemon refuses to swap in a
 * new table (EBUSY, "... is mapped directly by an application"), because a
 * new table could move the blocks under a mapping it cannot revoke.
 */

enum daxfs_map_flags {
	/* Allocate [offset, offset+length) first: holes become zeroed blocks,
	 * the file grows to cover the range, and the allocation is durable
	 * before daxfs_map returns (what MAP_SYNC promises). Without it a hole
	 * or a range past EOF is refused with -ENXIO. */
	DAXFS_MAP_ALLOC = 1u << 0,
};

/*
 * Maps [offset, offset+length) of the open daxfs-fuse file fd; *addr gets the
 * start. offset must be page-aligned; length is rounded up to whole pages.
 * prot: PROT_READ and/or PROT_WRITE (fd must be open for reading, and for
 * writing with PROT_WRITE). Returns 0 or:
 *   -EINVAL     bad arguments, fd not a regular file
 *   -EACCES     fd's access mode does not allow prot; a backing file cannot be
 *               opened (the message names it)
 *   -ENOTTY     fd is not on a daxfs-fuse mount
 *   -EOPNOTSUPP the mount does not use DAX (dax=never, or a table that is not
 *               DAX-capable)
 *   -ENXIO      a hole or past EOF without DAXFS_MAP_ALLOC
 *   -EIO        part of the range is on an error target or a poisoned page
 *   -ENOSPC     DAXFS_MAP_ALLOC ran out of space
 */
int daxfs_map(int fd, off_t offset, size_t length, int prot, unsigned flags, void **addr);

/*
 * Makes stores to [addr, addr+length) durable (CPU cache flush and drain on
 * pmem, msync on other backing files, per piece) and visible to read() and
 * page-cache mmaps of the file. The range must lie inside one mapping
 * (-EINVAL otherwise).
 */
int daxfs_persist(const void *addr, size_t length);

/* Unmaps a whole mapping made by daxfs_map (addr as returned, length as
 * given) and ends its lease. -EINVAL if it is not one. */
int daxfs_unmap(void *addr, size_t length);

#endif
