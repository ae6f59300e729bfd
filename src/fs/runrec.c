/* fs/runrec.c - size records: file sizes a process storing through its own mapping made durable itself */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs/file.h"
#include "util/err.h"

/*
 * A daxfs-run process that extends a file with its own stores leaves the new
 * size for the daemon to fold in (src/fuse/run.c); fdatasync must make that
 * size durable, which would cost a request each time. Instead the process
 * writes a size record (FORMAT.md "Size records") into the rest of member 0's
 * label block, a block nothing else uses, and persists it. At the next
 * read-write mount, before anything else changes the filesystem, every record
 * that still holds is applied, as the daemon's fold would have been:
 *
 * - it was written in the mount that crashed (mount_count), so that a record
 *   from an earlier mount, or one an implementation that does not know records
 *   left behind, never counts;
 * - its inode is the same file (generation) and no cut of its size committed
 *   since (size_epoch: every truncate that shrinks bumps it in the cut's
 *   transaction), so that an acknowledged truncate is never undone;
 * - the size only grows, and only over written blocks of the file (as the
 *   fold checks): the blocks past the old size were allocated, zeroed and
 *   made durable before the process stored into them, so nothing of another
 *   file, or from before, shows.
 */

static void area(const struct dfs *fs, uint64_t *pos, unsigned *label_sector)
{
	uint64_t s = fs->members[0].label_sector;

	*pos = (s >> 3) * DFS_BLOCK_SIZE;
	*label_sector = (unsigned)(s & 7);
}

int dfs_runrec_area(struct dfs *fs, struct dfs_runrec_area *out)
{
	memset(out, 0, sizeof(*out));
	if (fs->rdonly)
		return daxfs_err(-EROFS, "size records: the filesystem is mounted read-only");
	if (!fs->members || fs->sb.nmembers == 0)
		return daxfs_err(-EINVAL, "size records: no member table");
	area(fs, &out->pos, &out->label_sector);
	out->pairs = DFS_RUNREC_PAIRS;
	out->mount_count = fs->sb.mount_count;
	return 0;
}

int dfs_size_stamp(struct dfs *fs, uint64_t ino, uint32_t *generation, uint32_t *epoch)
{
	struct dfs_inode *ip;
	int err = dfs_iget_pin(fs, ino, &ip);

	if (err)
		return err;
	pthread_rwlock_rdlock(&ip->lock);
	*generation = ip->d.generation;
	*epoch = ip->d.size_epoch;
	pthread_rwlock_unlock(&ip->lock);
	dfs_iput(fs, ip);
	return 0;
}

/* Applies r if it holds; whether it did. */
static bool apply(struct dfs *fs, const struct dfs_runrec *r)
{
	struct dfs_inode *ip;
	bool done = false;

	if (r->mount_count != fs->sb.mount_count || r->ino == 0 || r->size > (uint64_t)INT64_MAX ||
	    dfs_inode_lock_data(fs, r->ino, true, &ip))
		return false;
	if (dfs_is_reg(ip) && ip->d.nlink > 0 && ip->d.generation == r->generation &&
	    ip->d.size_epoch == r->epoch && r->size > ip->d.size &&
	    dfs_all_written(ip, ip->d.size, r->size - ip->d.size)) {
		pthread_mutex_lock(&fs->meta);
		int err = dfs_txn_reserve(fs, 4);

		if (!err) {
			ip->d.size = r->size;
			err = dfs_inode_write(fs, ip);
		}
		done = dfs_txn_end(fs, err) == 0;
		pthread_mutex_unlock(&fs->meta);
	}
	dfs_inode_unlock_data(fs, ip, true);
	return done;
}

int dfs_runrec_replay(struct dfs *fs, unsigned *applied)
{
	uint64_t pos;
	unsigned ls;
	uint8_t *b;
	int err;

	*applied = 0;
	if (!fs->members || fs->sb.nmembers == 0)
		return 0;
	area(fs, &pos, &ls);
	if (!(b = malloc(DFS_BLOCK_SIZE)))
		return daxfs_err(-ENOMEM, "out of memory");
	/* an unreadable block (an error target, a bad page) holds no record
	 * anyone can use: the sizes are then the ones the daemon committed */
	if ((err = dm_submit_bio(fs->md, DAX_REQ_READ, 0, pos, b, DFS_BLOCK_SIZE))) {
		free(b);
		return 0;
	}
	for (unsigned i = 0; i < DFS_RUNRECS; i++) {
		unsigned off = dfs_runrec_offset(i, ls);
		struct dfs_runrec r;

		if (dfs_runrec_decode(b + off, pos + off, &r) == 0 && apply(fs, &r))
			(*applied)++;
	}
	free(b);
	return 0;
}
