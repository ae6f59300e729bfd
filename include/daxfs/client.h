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
 * chain to the backing devices, opens those backing files (with the
 * application's rights, or through the daemon on a dax_users mount: see "What
 * a mapping process can reach" below) and maps each piece MAP_SHARED
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
 * Who may map what. The daemon checks every request as the kernel checks the
 * equivalent system call, with the credentials of the calling process (not
 * those of whoever opened fd): a read mapping needs fd open for reading and
 * read permission on the file; a writable mapping, DAXFS_MAP_ALLOC and the
 * conversion of preallocated extents need fd open O_RDWR and write
 * permission. Nothing tells a process that may not read a file where its
 * data lives.
 *
 * What a mapping process can reach: a mapping is made of the backing files
 * (the mount's member files) themselves, mapped at the file's extents. The
 * process holds a descriptor of each backing file it maps from, and with it
 * every file's data on that member, not only the file it mapped:
 *   - by default the library opens the backing files with the process's own
 *     rights, so only processes that may read (for PROT_WRITE, write) the
 *     member files can map at all, and those can read (write) everything;
 *   - on a mount with -o dax_users=GROUP, a process in GROUP that cannot open
 *     a backing file gets a descriptor of it from the daemon (over a Unix
 *     socket, after the checks above; open for writing only for a writable
 *     mapping). dax_users is thus a trust grant: a member of GROUP who may
 *     read one file can read every file's data on the members, and with a
 *     file it may write, write it.
 * Each user may hold at most the mount's max_leases leases (one per
 * daxfs_map not yet unmapped; root and the user who mounted are not limited).
 *
 * Table reloads: while any file is mapped, the daemon refuses to swap in a
 * new table (EBUSY, "... is mapped directly by an application"), because a
 * new table could move the blocks under a mapping it cannot take away.
 * Root's `daxfs-ctl reload --force` swaps anyway and revokes every mapping:
 * the holder's next daxfs_persist or daxfs_map through the same open file
 * fails with -ESTALE, until every mapping made through that open file is
 * unmapped (or the file is opened again). A revoked mapping still shows the
 * bytes it did, and its blocks stay held from other files until it is
 * unmapped, so it never shows another file's data; but stores through it are
 * no longer guaranteed to reach the file.
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
 *   -EACCES     fd's access mode does not allow prot; the caller may not read
 *               (write) the file; a backing file cannot be opened (the message
 *               names it)
 *   -EPERM      the mount hands out backing files (dax_users) but not to this
 *               caller, who is not in its group
 *   -EDQUOT     the user holds as many leases as the mount allows (max_leases)
 *   -ESTALE     mappings made through this open file were revoked by a forced
 *               table swap: unmap them first
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
 * (-EINVAL otherwise). -ESTALE: the mapping was revoked (see above); the
 * stores were flushed, but may not be the file's.
 */
int daxfs_persist(const void *addr, size_t length);

/* Unmaps a whole mapping made by daxfs_map (addr as returned, length as
 * given) and ends its lease. -EINVAL if it is not one. */
int daxfs_unmap(void *addr, size_t length);

#endif
