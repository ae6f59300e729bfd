/* fs/iomap.c - iomap_begin/end: where a file range lives on the mapped device */
#include <errno.h>
#include <stdint.h>

#include "fs/file.h"
#include "fs/internal.h"
#include "util/err.h"

/*
 * As the kernel's ->iomap_begin: one call maps the extent containing pos
 * (clipped to length) as HOLE, MAPPED or UNWRITTEN. A WRITE (or a write
 * FAULT) over a hole allocates zeroed blocks (F_NEW) and over an unwritten
 * extent converts it (the blocks were zeroed when preallocated); F_DIRTY says
 * the metadata making the range reachable is not durable yet, which is what
 * a MAP_SYNC fault has to fsync before it may proceed.
 */

#define IOMAP_WRITE_RESERVE 48

int dfs_iomap_begin_locked(struct dfs *fs, struct dfs_inode *ip, uint64_t pos, uint64_t length,
			   unsigned flags, struct dfs_iomap *out)
{
	const bool write = flags & DFS_IOMAP_WRITE;
	uint64_t lblk = pos >> DFS_BLOCK_SHIFT;
	int err = 0;

	if (length == 0)
		return daxfs_err(-EINVAL, "iomap: zero length");
	if (pos > (uint64_t)INT64_MAX || length > (uint64_t)INT64_MAX - pos)
		return daxfs_err(-EFBIG, "iomap: range beyond the maximum file size");
	*out = (struct dfs_iomap){ .offset = pos, .addr = UINT64_MAX };

	size_t i = dfs_extent_search(ip, lblk);
	if (i < ip->next && ip->ext[i].lblk <= lblk) {
		const struct dfs_extent *e = &ip->ext[i];
		uint64_t in = pos - (e->lblk << DFS_BLOCK_SHIFT);
		uint64_t avail = ((uint64_t)e->len << DFS_BLOCK_SHIFT) - in;

		out->length = length < avail ? length : avail;
		out->addr = (e->pblk << DFS_BLOCK_SHIFT) + in;
		out->type = (e->flags & DFS_EXT_UNWRITTEN) ? DFS_IOMAP_UNWRITTEN : DFS_IOMAP_MAPPED;
		if (write && out->type == DFS_IOMAP_UNWRITTEN) {
			uint64_t first = pos >> DFS_BLOCK_SHIFT;
			uint64_t last = (pos + out->length - 1) >> DFS_BLOCK_SHIFT;

			pthread_mutex_lock(&fs->meta);
			if (!(err = dfs_check_writable(fs)) &&
			    !(err = dfs_txn_reserve(fs, IOMAP_WRITE_RESERVE + ip->nchain)))
				err = dfs_extent_mark_written(fs, ip, first, last - first + 1);
			pthread_mutex_unlock(&fs->meta);
			if (err)
				return err;
			out->type = DFS_IOMAP_MAPPED;
			out->flags |= DFS_IOMAP_F_CONVERTED;
		}
	} else {
		uint64_t hole_end = i < ip->next ? ip->ext[i].lblk << DFS_BLOCK_SHIFT : UINT64_MAX;

		out->length = length < hole_end - pos ? length : hole_end - pos;
		out->type = DFS_IOMAP_HOLE;
		if (write) {
			uint64_t first = pos >> DFS_BLOCK_SHIFT;
			uint64_t last = (pos + out->length - 1) >> DFS_BLOCK_SHIFT;
			struct dfs_extent e;

			pthread_mutex_lock(&fs->meta);
			if (!(err = dfs_check_writable(fs)) &&
			    !(err = dfs_txn_reserve(fs, IOMAP_WRITE_RESERVE + ip->nchain)))
				err = dfs_extent_alloc(fs, ip, first, last - first + 1, 0, &e);
			pthread_mutex_unlock(&fs->meta);
			if (err)
				return err;
			uint64_t in = pos - (e.lblk << DFS_BLOCK_SHIFT);
			uint64_t avail = ((uint64_t)e.len << DFS_BLOCK_SHIFT) - in;
			out->length = out->length < avail ? out->length : avail;
			out->addr = (e.pblk << DFS_BLOCK_SHIFT) + in;
			out->type = DFS_IOMAP_MAPPED;
			out->flags |= DFS_IOMAP_F_NEW;
		}
	}
	/* only writes and faults care (MAP_SYNC); plain reads skip meta */
	if (flags & (DFS_IOMAP_WRITE | DFS_IOMAP_FAULT)) {
		pthread_mutex_lock(&fs->meta);
		if (ip->dirty_tid > fs->committed_tid)
			out->flags |= DFS_IOMAP_F_DIRTY;
		pthread_mutex_unlock(&fs->meta);
	}
	return 0;
}

static bool needs_write_lock(unsigned flags)
{
	return flags & (DFS_IOMAP_WRITE | DFS_IOMAP_ZERO);
}

int dfs_iomap_begin(struct dfs *fs, uint64_t ino, uint64_t pos, uint64_t length,
		    unsigned flags, struct dfs_iomap *out)
{
	struct dfs_inode *ip;
	int err;

	/* an allocation for a direct mapping changes the fs like a write */
	if ((flags & DFS_IOMAP_WRITE) && (err = dfs_start_write(fs)))
		return err;
	if ((err = dfs_inode_lock_data(fs, ino, needs_write_lock(flags), &ip))) {
		if (flags & DFS_IOMAP_WRITE)
			dfs_end_write(fs);
		return err;
	}
	if (!dfs_is_reg(ip))
		err = daxfs_err(dfs_is_dir(ip) ? -EISDIR : -EINVAL, "iomap: inode %llu is not a regular file",
				(unsigned long long)ino);
	else
		err = dfs_iomap_begin_locked(fs, ip, pos, length, flags, out);
	if (flags & DFS_IOMAP_WRITE) {
		/* an allocation is durable before the caller stores through it */
		pthread_mutex_lock(&fs->meta);
		err = dfs_txn_end(fs, err);
		if (!err && !(ip->dirty_tid > fs->committed_tid))
			out->flags &= (uint16_t)~DFS_IOMAP_F_DIRTY;
		pthread_mutex_unlock(&fs->meta);
	}
	dfs_inode_unlock_data(fs, ip, needs_write_lock(flags));
	if (flags & DFS_IOMAP_WRITE)
		dfs_end_write(fs);
	return err;
}

int dfs_iomap_end(struct dfs *fs, uint64_t ino, uint64_t pos, uint64_t length,
		  ssize_t written, unsigned flags, struct dfs_iomap *iomap)
{
	struct dfs_inode *ip;
	int err;

	(void)length;
	(void)iomap;
	if (!(flags & DFS_IOMAP_WRITE) || (flags & DFS_IOMAP_FAULT) || written <= 0)
		return 0;
	if ((err = dfs_inode_change_begin(fs, ino, &ip)))
		return err;
	pthread_mutex_lock(&fs->meta);
	/* a write past EOF shows zeroes before it, as dfs_write_begin does */
	if (pos > ip->d.size)
		err = dfs_zero_gap_locked(fs, ip, ip->d.size, pos);
	if (!err && !(err = dfs_txn_reserve(fs, 4))) {
		if (pos + (uint64_t)written > ip->d.size)
			ip->d.size = pos + (uint64_t)written;
		dfs_now(&ip->d.mtime);
		ip->d.ctime = ip->d.mtime;
		err = dfs_inode_write(fs, ip);
	}
	err = dfs_txn_end(fs, err);
	pthread_mutex_unlock(&fs->meta);
	dfs_inode_change_end(fs, ip);
	return err;
}
