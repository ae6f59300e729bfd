/* fs/setattr.c - changing an inode's attributes: size, mode, owner, times */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/internal.h"
#include "fs/namei.h"
#include "util/err.h"

int dfs_setattr(struct dfs *fs, uint64_t ino, const struct stat *attr, unsigned to_set,
		struct stat *out)
{
	struct dfs_inode *ip;
	uint64_t tid;
	int err;

	if ((err = dfs_inode_change_begin(fs, ino, &ip)))
		return err;
	pthread_mutex_lock(&fs->meta);
	if ((err = dfs_txn_reserve(fs, DFS_NS_RESERVE)))
		goto out;
	if (to_set & DFS_SET_SIZE) {
		if (dfs_is_dir(ip)) {
			err = daxfs_err(-EISDIR, "cannot change the size of a directory");
			goto out;
		}
		if (!dfs_is_reg(ip)) {
			err = daxfs_err(-EINVAL, "only regular files have a settable size");
			goto out;
		}
		if (attr->st_size < 0) {
			err = daxfs_err(-EINVAL, "negative size");
			goto out;
		}
		if ((uint64_t)attr->st_size != ip->d.size) {
			if ((err = dfs_truncate_locked(fs, ip, (uint64_t)attr->st_size)))
				goto out;
			dfs_ns_touch(ip, true);
		} else if (dfs_blocks_past_eof(ip)) {
			/* the size stays and the blocks past EOF go, as ext4's
			 * truncate to the same size gives back preallocated
			 * ones (fallocate KEEP_SIZE, daxfs-run's ahead) */
			if ((err = dfs_truncate_locked(fs, ip, ip->d.size)))
				goto out;
		}
	}
	if (to_set & DFS_SET_MODE)
		ip->d.mode = (ip->d.mode & 0170000) | (attr->st_mode & 07777);
	if ((to_set & DFS_SET_KILL_SUIDGID) && !dfs_is_dir(ip))
		ip->d.mode = dfs_mode_kill_suidgid(ip->d.mode);
	if (to_set & DFS_SET_UID)
		ip->d.uid = attr->st_uid;
	if (to_set & DFS_SET_GID)
		ip->d.gid = attr->st_gid;
	struct dfs_timespec now;
	dfs_now(&now);
	if (to_set & DFS_SET_ATIME)
		ip->d.atime = (struct dfs_timespec){ attr->st_atim.tv_sec, (uint32_t)attr->st_atim.tv_nsec };
	if (to_set & DFS_SET_ATIME_NOW)
		ip->d.atime = now;
	if (to_set & DFS_SET_MTIME)
		ip->d.mtime = (struct dfs_timespec){ attr->st_mtim.tv_sec, (uint32_t)attr->st_mtim.tv_nsec };
	if (to_set & DFS_SET_MTIME_NOW)
		ip->d.mtime = now;
	if (to_set & DFS_SET_CTIME)
		ip->d.ctime = (struct dfs_timespec){ attr->st_ctim.tv_sec, (uint32_t)attr->st_ctim.tv_nsec };
	else
		ip->d.ctime = now;
	if (ip->d.atime.nsec >= 1000000000u || ip->d.mtime.nsec >= 1000000000u ||
	    ip->d.ctime.nsec >= 1000000000u) {
		err = daxfs_err(-EINVAL, "nanoseconds out of range");
		goto out;
	}
	if ((err = dfs_inode_write(fs, ip)))
		goto out;
	if (out)
		dfs_inode_stat(fs, ip, out);
out:
	/* the commit is waited for with the inode unlocked, as namespace calls do */
	tid = dfs_txn_stop(fs);
	pthread_mutex_unlock(&fs->meta);
	dfs_inode_unlock_data(fs, ip, true);
	err = dfs_txn_wait(fs, tid, err);
	dfs_end_write(fs);
	return err;
}
