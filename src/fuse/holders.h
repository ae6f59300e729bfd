/* fuse/holders.h - who holds direct-access leases: per open file and user, limited per user, revocable */
#ifndef DAXFS_FUSE_HOLDERS_H
#define DAXFS_FUSE_HOLDERS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "fuse/dfuse.h"

/*
 * A lease (daxfs/ioctl.h) belongs to an open file, named by its FUSE file
 * handle; the user who took it is its account for the per-user limit. Every
 * lease recorded here is also a lease of the filesystem (dfs_lease_get), so
 * the blocks under it stay out of the allocator for as long as the record
 * exists, revoked or not.
 *
 * Revoking (a forced table swap) marks every open file that holds leases: its
 * leases stay (the mapping still addresses their blocks, which must not go to
 * another file) but it gets no further service (-ESTALE) and no new lease
 * until all of them are put.
 *
 * All functions may be called from any thread.
 */

/* The mount's table of holders (df->holders), set up with device control
 * (dfuse_ctl_start) and freed with it. */
int dfuse_holders_new(struct dfuse *df);
void dfuse_holders_delete(struct dfuse *df);

/* What an open file holds on its inode. */
struct dfuse_holding {
	unsigned reads, writes;      /* leases of each kind */
	bool revoked;
};

/* Takes a lease of the filesystem on ino and records it for fh and uid.
 * limit: the most leases uid may hold (UINT_MAX: no limit). Returns 1 when
 * it is the inode's first lease (the caller drops the inode's cached pages),
 * 0, or -EDQUOT (limit reached), -ESTALE (fh was revoked), -ENOMEM, or the
 * filesystem's error. */
int dfuse_holders_get(struct dfuse *df, uint64_t fh, uint64_t ino, uid_t uid, bool write,
		      unsigned limit);
/* Puts one lease of the kind through fh: uid's own first, else any of fh's
 * (a process may change its uid between map and unmap). -ENOENT if fh holds
 * none of that kind. */
int dfuse_holders_put(struct dfuse *df, uint64_t fh, uint64_t ino, uid_t uid, bool write);
/* At release of fh: puts every lease it still holds. */
void dfuse_holders_release(struct dfuse *df, uint64_t fh, uint64_t ino);
void dfuse_holders_state(struct dfuse *df, uint64_t fh, uint64_t ino, struct dfuse_holding *out);
/* Whether uid holds an unrevoked write lease of ino through any open file. */
bool dfuse_holders_writer(struct dfuse *df, uint64_t ino, uid_t uid);
/* Revokes every lease; returns how many holders (open file and user) were
 * not revoked before. */
size_t dfuse_holders_revoke(struct dfuse *df);
/* An inode that holds an unrevoked lease, or 0 when there is none. */
uint64_t dfuse_holders_live(struct dfuse *df);

#endif
