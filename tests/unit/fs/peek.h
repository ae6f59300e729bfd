/* peek.h - the white-box fs tests' reach into struct dfs: counters read under its lock, crashes */
#ifndef DAXFS_TEST_FS_PEEK_H
#define DAXFS_TEST_FS_PEEK_H

#include <pthread.h>

#include "fixture.h"
#include "fs/internal.h"

/* Commits the filesystem has done. */
static inline uint64_t t_commits(struct dfs *fs)
{
	pthread_mutex_lock(&fs->meta);
	uint64_t n = fs->commits;
	pthread_mutex_unlock(&fs->meta);
	return n;
}

/* Calls waiting for a commit in flight. */
static inline unsigned t_commit_waiters(struct dfs *fs)
{
	pthread_mutex_lock(&fs->meta);
	unsigned n = fs->commit_waiters;
	pthread_mutex_unlock(&fs->meta);
	return n;
}

/* The first block of inode ino's data, 0 if it has none. */
static inline uint64_t t_first_block(struct dfs *fs, uint64_t ino)
{
	struct dfs_inode *ip;

	pthread_mutex_lock(&fs->meta);
	const uint64_t pblk = dfs_iget(fs, ino, &ip) || !ip->next ? 0 : ip->ext[0].pblk;
	pthread_mutex_unlock(&fs->meta);
	return pblk;
}

/* Points inode ino's first extent at block pblk, as damage would. */
static inline int t_set_first_block(struct dfs *fs, uint64_t ino, uint64_t pblk)
{
	struct dfs_inode *ip;
	int err;

	pthread_mutex_lock(&fs->meta);
	if (!(err = dfs_iget(fs, ino, &ip))) {
		ip->ext[0].pblk = pblk;
		ip->ext_dirty_from = 0;
		err = dfs_extents_store(fs, ip);
	}
	pthread_mutex_unlock(&fs->meta);
	return err;
}

/* Drops the mount as a killed process would (nothing more is written) and
 * mounts md again with the default options. */
static inline int t_crash_remount(struct mapped_device *md, struct dfs **fs)
{
	dfs_abandon(fs);
	return dfs_mount(md, NULL, fs);
}

/* Remounts batched, so that a new file "new" waits in the running
 * transaction, lets change() (if any) add to it under meta, then stops the
 * commit at fail point point and drops the fs unwritten, as a crash would. */
static inline int t_crash_in_commit(struct mapped_device *md, struct dfs **fs, int point,
				    int (*change)(struct dfs *fs))
{
	const struct dfs_mount_opts batched = { .commit_interval_ms = DFS_COMMIT_MAX_MS };
	struct stat st;
	int err;

	if ((err = dfs_unmount(fs)) || (err = dfs_mount(md, &batched, fs)))
		return err;
	if ((err = dfs_mknod(*fs, DFS_ROOT_INO, "new", S_IFREG | 0644, 0, &t_cred, &st)))
		return err;
	pthread_mutex_lock(&(*fs)->meta);
	err = change ? change(*fs) : 0;
	(*fs)->fail_point = point;
	if (!err && dfs_commit(*fs) != -EIO)
		err = -1;
	pthread_mutex_unlock(&(*fs)->meta);
	dfs_abandon(fs);
	return err;
}

#endif
