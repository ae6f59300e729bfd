/* fs/direct.c - what a process that stores through its own mapping of a file's blocks asks of the filesystem */
#include <errno.h>
#include <stdint.h>

#include "fs/file.h"
#include "util/err.h"

bool dfs_all_written(const struct dfs_inode *ip, uint64_t off, uint64_t len)
{
	uint64_t l = off >> DFS_BLOCK_SHIFT, end = (off + len + DFS_BLOCK_SIZE - 1) >> DFS_BLOCK_SHIFT;

	while (l < end) {
		size_t i = dfs_extent_search(ip, l);
		if (i == ip->next || ip->ext[i].lblk > l || (ip->ext[i].flags & DFS_EXT_UNWRITTEN))
			return false;
		l = ip->ext[i].lblk + ip->ext[i].len;
	}
	return true;
}

int dfs_write_extend(struct dfs *fs, uint64_t ino, uint64_t off, uint64_t len, unsigned flags)
{
	const bool size = flags & DFS_EXTEND_SIZE;
	struct dfs_inode *ip;
	int err;

	if (size && (len == 0 || off > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - off))
		return daxfs_err(-EINVAL, "extend: bad range %llu+%llu", (unsigned long long)off,
				 (unsigned long long)len);
	if ((err = dfs_start_write(fs)))
		return err;
	if ((err = dfs_inode_lock_data(fs, ino, true, &ip))) {
		dfs_end_write(fs);
		return err;
	}
	if (!dfs_is_reg(ip)) {
		err = daxfs_err(-EINVAL, "extend: inode %llu is not a regular file",
				(unsigned long long)ino);
		goto out;
	}
	/* A stale mapping stored into blocks the file no longer has: growing
	 * the size over them would show zeroes for data the caller thinks is
	 * written. */
	if (size && !dfs_all_written(ip, off, len)) {
		err = daxfs_err(-ESTALE, "extend: [%llu, +%llu) of inode %llu is not all written "
				"blocks: the stores went through an out-of-date mapping",
				(unsigned long long)off, (unsigned long long)len,
				(unsigned long long)ino);
		goto out;
	}
	/* a write past EOF shows zeroes in the gap as dfs_write_begin does; the
	 * caller holds a lease, so that is what the file's own blocks hold */
	if (size && off > ip->d.size && (err = dfs_zero_gap(fs, ip, ip->d.size, off)))
		goto out;
	pthread_mutex_lock(&fs->meta);
	if (!(err = dfs_txn_reserve(fs, 4))) {
		if (size && off + len > ip->d.size)
			ip->d.size = off + len;
		if (flags & DFS_EXTEND_TIME) {
			dfs_now(&ip->d.mtime);
			ip->d.ctime = ip->d.mtime;
		}
		err = dfs_inode_write(fs, ip);
	}
	if (!err && (flags & DFS_EXTEND_SYNC))
		err = dfs_commit_inode(fs, ip);
	err = dfs_txn_end(fs, err);
	pthread_mutex_unlock(&fs->meta);
out:
	dfs_inode_unlock_data(fs, ip, true);
	dfs_end_write(fs);
	return err;
}
