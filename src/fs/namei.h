/* fs/namei.h - what the namespace calls share: name checks, the lock set, the meta section */
#ifndef DAXFS_FS_NAMEI_H
#define DAXFS_FS_NAMEI_H

#include "fs/internal.h"

#define DFS_NS_RESERVE 64      /* blocks one namespace operation may dirty */

/*
 * Locking (internal.h has the order): a read-only call pins the inodes it
 * uses and holds one inode lock at a time, shared; it never takes meta. A
 * modifying call pins and locks (exclusively, ascending inode number) every
 * inode it changes, then takes meta for the change and its commit.
 */

/* Up to four inodes locked exclusively, kept in ascending inode order. */
#define DFS_LOCKSET_MAX 4
struct dfs_lockset {
	struct dfs_inode *ip[DFS_LOCKSET_MAX];
	unsigned n;
};

/* Adds ip (NULL: nothing) to a set not yet locked, in order; aborts past
 * four inodes, which no call changes. */
void dfs_lockset_add(struct dfs_lockset *l, struct dfs_inode *ip);
void dfs_lockset_lock(struct dfs_lockset *l);
void dfs_lockset_unlock(struct dfs_lockset *l);
/* Drops ip (whose lock is held) from the set and unlocks it. */
void dfs_lockset_drop(struct dfs_lockset *l, struct dfs_inode *ip);
/* Adds a and b (either may be NULL) to the held set l. When one comes
 * before a lock already held, every lock is dropped and the whole set taken
 * again in order: returns true, and what was looked up under the old locks
 * has to be checked again. */
bool dfs_lockset_lock_more(struct dfs_lockset *l, struct dfs_inode *a, struct dfs_inode *b);

/* After the inode locks: meta and a transaction reservation. 0 or -errno
 * (meta not held then). */
int dfs_ns_meta_begin(struct dfs *fs);
/* Ends the in-memory change and drops meta; *tid: the transaction to wait
 * for once every inode lock is dropped (dfs_txn_wait), so that other calls
 * in the same directories join it instead of queueing behind its commit.
 * Returns err. */
int dfs_ns_meta_end(struct dfs *fs, int err, uint64_t *tid);

/* 0, or -EINVAL / -ENAMETOOLONG with a message for a name no entry may have. */
int dfs_ns_check_name(const char *name);
bool dfs_ns_is_dot(const char *name);
/* ctime (and mtime) to now. */
void dfs_ns_touch(struct dfs_inode *ip, bool mtime);
/* A link count from media that an unlink or rename is about to lower: at
 * least at_least, or -EIO (it would wrap, and be written so). */
int dfs_nlink_check(const struct dfs_inode *ip, uint32_t at_least);
/* -ENOTDIR with a message naming ino. */
int dfs_ns_not_dir(uint64_t ino);
/* Looks name up in dp, whose lock is held. */
int dfs_ns_dir_lookup(struct dfs *fs, struct dfs_inode *dp, const char *name, uint64_t *ino);
/* The attributes of ino, with its lock shared; ref: take a lookup reference. */
int dfs_ns_stat(struct dfs *fs, uint64_t ino, bool ref, struct stat *out);

#endif
