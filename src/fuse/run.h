/* fuse/run.h - the table the daemon shares with daxfs-run (daxfs/ioctl.h, struct daxfs_run_slot) */
#ifndef DAXFS_FUSE_RUN_H
#define DAXFS_FUSE_RUN_H

#include "fuse/dfuse.h"

/*
 * One slot per inode that a daxfs-run process took a lease on with
 * DAXFS_IOC_RUN_OPEN, from that lease until the inode's last lease is put.
 * The handlers that change what the slot describes tell it here, before they
 * reply: every function below does nothing when the mount shares no table
 * (no DAX, or a writeback cache) or the inode has no slot, and none of them
 * waits for a client, except dfuse_run_opened and dfuse_run_extend_begin (see
 * there).
 *
 * Lock order: the table's lock, then a record's publishing lock, then the
 * filesystem's inode locks (publishing reads the size).
 */

/* Creates the table when the mount uses DAX without a writeback cache
 * (df->run stays NULL otherwise); stop frees it. 0 or a negative errno. */
int dfuse_run_start(struct dfuse *df);
void dfuse_run_stop(struct dfuse *df);
/* A new read-only descriptor of the table, for the grant socket, or a
 * negative errno. */
int dfuse_run_table_fd(struct dfuse *df);
unsigned dfuse_run_nslots(const struct dfuse *df);
uint32_t dfuse_run_table_id(const struct dfuse *df);
/* A new descriptor of the table of pending sizes (struct
 * daxfs_run_pending), read-write for a holder of a write lease. */
int dfuse_run_pending_fd(struct dfuse *df, bool write);

/* Before a request that can observe or change ino's size or times: the
 * sizes and times daxfs-run writers left pending become the inode's. */
void dfuse_run_fold(struct dfuse *df, uint64_t ino);
/* The attribute timeout for ino: 0 while a daxfs-run process holds a write
 * lease of it (its size may move without a request), else timeout. */
double dfuse_run_attr_timeout(const struct dfuse *df, uint64_t ino, double timeout);

/* Every open and release of a regular file. A new writer of an inode that
 * has a slot is counted under the extend lock (DAXFS_RUN_LOCK_BASE): it may
 * wait up to 2 s for a daxfs-run process that extends the file. */
void dfuse_run_opened(struct dfuse *df, uint64_t ino, uint64_t fh, bool writable);
void dfuse_run_released(struct dfuse *df, uint64_t ino, uint64_t fh, bool writable);
/* After a lease of ino was put: frees its slot if that was the last one. */
void dfuse_run_unleased(struct dfuse *df, uint64_t ino);
/* A holder of ino allocated ahead past EOF up to end (DAXFS_IOC_ALLOC_AHEAD)
 * and will give back what lies past EOF at its last close. If the last
 * lease goes without that (the holder died first), dfuse_run_released and
 * dfuse_run_unleased give it back themselves. 0 or -ENOMEM. */
int dfuse_run_ahead(struct dfuse *df, uint64_t ino, uint64_t end);
/* A holder gave back what lies past EOF up to end itself. */
void dfuse_run_ahead_trimmed(struct dfuse *df, uint64_t ino, uint64_t end);

/* DAXFS_IOC_RUN_OPEN, after its lease is taken: ino's slot (assigned if it
 * has none: -ENOSPC when the table is full) in *slot; serve marks the
 * writable open file fh as served by daxfs-run (not a plain writer). */
int dfuse_run_attach(struct dfuse *df, uint64_t ino, uint64_t fh, bool serve, uint32_t *slot);
/* Marks a write-only open file of ino whose writes daxfs-run makes through
 * another open file. */
int dfuse_run_mark(struct dfuse *df, uint64_t ino, uint64_t fh);

/* Around a request that may move ino's EOF: an append (gap_end is
 * DFUSE_RUN_APPEND), or a write, truncate, fallocate or copy that makes the
 * bytes from EOF up to gap_end read as zeroes when gap_end lies past it (a
 * write's offset, a truncate's new size, the end of an allocated range).
 * Folds first; when daxfs-run processes may append to ino, or a lease
 * holder may be storing in such a gap, enters the write gate (a wait the
 * caller's request may interrupt: a negative errno), counts the request as
 * a plain writer and takes the extend lock, waiting up to 2 s like
 * dfuse_run_opened, until the end has published the size; with the lock, a
 * gap's stores through mappings past EOF are zeroed (dfs_lease_fence). The
 * end publishes (allocated) in every case. */
#define DFUSE_RUN_APPEND UINT64_MAX
struct dfuse_run_extend {
	bool gated;                 /* inside the write gate */
	bool counted;               /* in plain_writers */
	bool fenced;                /* dfs_lease_fence up */
	int lockfd;                 /* the extend lock's descriptor, or -1 */
};
int dfuse_run_extend_begin(struct dfuse *df, uint64_t ino, uint64_t gap_end,
			   struct dfuse_run_extend *a);
void dfuse_run_extend_end(struct dfuse *df, uint64_t ino, const struct dfuse_run_extend *a);
/* The size (and set-id bits) changed; allocated: holes may have got blocks
 * (alloc_gen moves first). */
void dfuse_run_publish(struct dfuse *df, uint64_t ino, bool allocated);
/* Before a READ or WRITE through the page cache (writeback: of a shared
 * mapping's dirty page). */
void dfuse_run_cached(struct dfuse *df, uint64_t ino, bool writeback);
/* Clears the CACHED flag before the caller drops the cached pages; whether
 * it was set. */
bool dfuse_run_uncache(struct dfuse *df, uint64_t ino);
/* Around a change of the file's layout: truncate, fallocate, O_TRUNC. Also
 * counted for an inode that has no slot but writable open files, whose
 * slot, if one is handed out before the end, shows the change. */
void dfuse_run_layout_begin(struct dfuse *df, uint64_t ino);
void dfuse_run_layout_end(struct dfuse *df, uint64_t ino);
/* DAXFS_IOC_RUN_MAPPED of open file fh (flags: exactly one of
 * daxfs_ioc_run_mapped_flags; value: the recall acknowledged). 0 or a
 * negative errno with a message. Released open files drop out by
 * dfuse_run_released. */
int dfuse_run_mapped(struct dfuse *df, uint64_t ino, uint64_t fh, uint32_t flags, uint64_t value);
/* After a layout change of ino, before its reply, with no lock held: when
 * the change cut the size (or blocks_gone: it took blocks away) and some
 * open file has direct mappings, bumps the slot's recall, wakes the
 * daxfs-run processes and waits (at most 10 s) until each acknowledged. */
void dfuse_run_recall(struct dfuse *df, uint64_t ino, bool blocks_gone);
/* A table swap or a change of bad blocks: every mapping must look again;
 * revoke: a forced swap revoked every lease. */
void dfuse_run_changed_all(struct dfuse *df, bool revoke);

#endif
