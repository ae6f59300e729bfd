/* fuse/client.h - the daemon side of libdaxfs: leases per open file, extent maps, allocation */
#ifndef DAXFS_FUSE_CLIENT_H
#define DAXFS_FUSE_CLIENT_H

#include "fuse/dfuse.h"

/*
 * Direct access for applications (daxfs/client.h). A lease belongs to one
 * open file (FUSE file handle): open gives every open file a handle of its
 * own (dfuse_client_open), and release puts whatever leases it still holds
 * (dfuse_client_release), which is how a lease ends when its holder closes
 * the file or dies, SIGKILL included.
 *
 * Coherence while an inode has a lease: the first lease drops the kernel's
 * cached pages and attributes of the inode; opens made while it is leased
 * do not keep the cache; DAXFS_IOC_SYNC (daxfs_persist) drops the cached
 * pages of the persisted range. So read() and page-cache mmaps see direct
 * stores from the daxfs_persist that covers them on; write() (write-through,
 * no writeback cache) reaches the pmem the mapping shows at once, and
 * stores into a page-cache mmap once msync writes them back.
 *
 * Known limit: DAXFS_IOC_SYNC drops cached pages before it replies, and the
 * kernel writes a dirty page of a page-cache mmap back (a WRITE to this
 * daemon) before dropping it; a single-threaded daemon (-s) cannot serve that
 * WRITE while the SYNC waits, so a persist racing another process's unsynced
 * page-cache mmap stores to the same file hangs there. The default
 * multi-threaded daemon serves it on another thread.
 */

/* The ioctls 0x40-0x7f of daxfs/ioctl.h (dfuse_ioctl_answer's contract), on
 * rq->ino through the open file rq->fh, every check against rq->who: a
 * negative errno to reply with; or 0 or 1 (the first lease: drop the inode's
 * cached pages after the reply) with the answer, if the command has one, in
 * *out (malloc'd, *outsz bytes). */
int dfuse_client_request(struct dfuse *df, const struct dfuse_ioctl_req *rq, void **out,
			 size_t *outsz);

/* For open/create of a regular file: sets fi->fh to a handle unique to this
 * open that also records its access mode (fi->flags & O_ACCMODE: an ioctl
 * carries only the handle) and fi->direct_io, and clears fi->keep_cache
 * while ino has a lease. */
void dfuse_client_open(struct dfuse *df, uint64_t ino, struct fuse_file_info *fi);
/* Whether the open file of handle fh was given FOPEN_DIRECT_IO. */
bool dfuse_client_direct(uint64_t fh);
/* For release: puts the leases the open file still holds. */
void dfuse_client_release(struct dfuse *df, uint64_t ino, struct fuse_file_info *fi);

/* Before a table swap: while any file is direct-mapped (an unrevoked lease),
 * -EBUSY with a message naming a mapped inode, because a new table may move
 * its extents under the application's mapping and the daemon cannot take
 * that mapping away; with force, revokes every lease instead (the holders
 * learn it from their next request, ESTALE; their blocks stay held until they
 * put their leases) and returns 0. */
int dfuse_client_check_swap(struct dfuse *df, bool force);

/* grant.c: -o dax_users=GROUP. start binds an abstract Unix socket with a
 * random name and starts the thread that hands out descriptors; stop ends it.
 * issue records a one-time token for a caller the ioctl channel checked (uid,
 * open file fh on ino holding a lease, device index, write) and gives it with
 * the socket's name (see DAXFS_IOC_GRANT). All return 0 or a negative errno
 * with a message. */
struct dfuse_grant;
/* devices: -o dax_users (else the socket serves only daxfs-run's table). */
int dfuse_grant_start(struct dfuse *df, gid_t group, bool devices, struct dfuse_grant **out);
bool dfuse_grant_devices(const struct dfuse_grant *g);
/* The index of a token for the daxfs-run table rather than a device. */
#define DFUSE_GRANT_TABLE 0xffffffffu
void dfuse_grant_stop(struct dfuse_grant **g);
int dfuse_grant_issue(struct dfuse_grant *g, uint64_t fh, uint64_t ino, uid_t uid, unsigned index,
		      bool write, uint8_t token[16], char *socket, size_t socket_size);

#endif
