/* fs/export.c - finding inodes by number alone, for file handles that outlive the server's caches */
#include <errno.h>

#include "fs/internal.h"
#include "util/err.h"

/*
 * An NFS server hands out (inode number, generation) and expects them back
 * after the kernel above us has forgotten the inode, or after a restart.
 * The number alone finds the slot; the generation tells a slot freed and
 * given to a new file apart from the file the handle named. The caller (the
 * kernel, through FUSE) compares it, so both calls report the on-media one.
 */

int dfs_lookup_ino(struct dfs *fs, uint64_t ino, struct stat *out)
{
	struct dfs_inode *ip;
	int err = dfs_iget_pin(fs, ino, &ip);

	if (err)
		return err;
	pthread_rwlock_rdlock(&ip->lock);
	/* Removed but still open somewhere: as ext4 refuses an unlinked inode
	 * to a handle, so that a handle never resurrects a removed file. */
	if (ip->d.nlink == 0) {
		err = daxfs_err(-ESTALE, "inode %llu has been removed", (unsigned long long)ino);
	} else {
		dfs_inode_stat(fs, ip, out);
		dfs_inode_ref(fs, ip, 1);
	}
	pthread_rwlock_unlock(&ip->lock);
	dfs_iput(fs, ip);
	return err;
}

int dfs_generation(struct dfs *fs, uint64_t ino, uint32_t *gen)
{
	uint32_t epoch;

	return dfs_size_stamp(fs, ino, gen, &epoch);
}
