/* fs/space.c - a file's allocation: truncate, fallocate, SEEK_DATA/SEEK_HOLE, copy_file_range */
#include <errno.h>
#include <linux/falloc.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/file.h"
#include "fs/internal.h"
#include "util/array.h"
#include "util/err.h"

#define BATCH_EXTENTS 64

static int spec_take(struct dfs *fs, struct dfs_inode *ip, uint64_t first, uint64_t end,
		     bool unmap);

int dfs_unmap_range(struct dfs *fs, struct dfs_inode *ip, uint64_t lblk, uint64_t count)
{
	bool done = false;
	int err;

	while (!done) {
		if ((err = dfs_txn_reserve(fs, DATA_RESERVE + 2 * ip->nchain)))
			return err;
		err = dfs_extent_remove(fs, ip, lblk, count, BATCH_EXTENTS, &done);
		if (err == -ENOSPC)
			return dfs_zero_written(fs, ip, lblk << DFS_BLOCK_SHIFT, (lblk + count) << DFS_BLOCK_SHIFT);
		if (err)
			return err;
	}
	return 0;
}

int dfs_free_all_data(struct dfs *fs, struct dfs_inode *ip)
{
	return dfs_unmap_range(fs, ip, 0, UINT64_MAX >> DFS_BLOCK_SHIFT);
}

int dfs_truncate_finish(struct dfs *fs, struct dfs_inode *ip)
{
	uint64_t size = ip->d.size, keep = (size + DFS_BLOCK_SIZE - 1) >> DFS_BLOCK_SHIFT;
	int err;

	/* the blocks past the end go below, those allocated ahead with them */
	if ((err = spec_take(fs, ip, keep, UINT64_MAX >> DFS_BLOCK_SHIFT, false)))
		return err;

	while (ip->next && ip->ext[ip->next - 1].lblk + ip->ext[ip->next - 1].len > keep) {
		const struct dfs_extent *last = &ip->ext[ip->next - 1];
		uint64_t from = last->lblk > keep ? last->lblk : keep;
		bool done;

		if ((err = dfs_txn_reserve(fs, DATA_RESERVE + 2 * ip->nchain)) ||
		    (err = dfs_extent_remove(fs, ip, from, UINT64_MAX / 2, BATCH_EXTENTS, &done)))
			return err;
	}
	if (size % DFS_BLOCK_SIZE == 0)
		return 0;
	size_t i = dfs_extent_search(ip, size >> DFS_BLOCK_SHIFT);
	if (i == ip->next || ip->ext[i].lblk > size >> DFS_BLOCK_SHIFT ||
	    (ip->ext[i].flags & DFS_EXT_UNWRITTEN))
		return 0;
	/* the new size must be durable before the bytes it cut are zeroed, or a
	 * crash could show the old size with a zeroed tail */
	if ((err = dfs_commit_inode(fs, ip)))
		return err;
	return dfs_zero_written(fs, ip, size, keep << DFS_BLOCK_SHIFT);
}

bool dfs_blocks_past_eof(const struct dfs_inode *ip)
{
	uint64_t keep = (ip->d.size + DFS_BLOCK_SIZE - 1) >> DFS_BLOCK_SHIFT;

	return ip->next && ip->ext[ip->next - 1].lblk + ip->ext[ip->next - 1].len > keep;
}

int dfs_truncate_locked(struct dfs *fs, struct dfs_inode *ip, uint64_t size)
{
	int err;

	if (size > (uint64_t)INT64_MAX)
		return daxfs_err(-EFBIG, "truncate: beyond the maximum file size");
	if (size > ip->d.size) {
		if ((err = dfs_zero_gap_locked(fs, ip, ip->d.size, size)))
			return err;
		ip->d.size = size;
		return dfs_inode_write(fs, ip);
	}
	/* the new size and the orphan entry commit together; the blocks past
	 * it are freed in as many transactions as needed, and a crash in
	 * between is finished by the orphan pass at the next mount: the
	 * truncate is atomic as seen after any crash */
	bool was_orphan = ip->d.flags & DFS_IFLAG_ORPHAN;     /* unlinked but open */
	if (!was_orphan && (err = dfs_orphan_add(fs, ip)))
		return err;
	/* size records of the old size (runrec.c) no longer count, from the
	 * transaction that makes the cut */
	if (size < ip->d.size)
		ip->d.size_epoch++;
	ip->d.size = size;
	if ((err = dfs_inode_write(fs, ip)) || (err = dfs_truncate_finish(fs, ip)))
		return err;
	if (was_orphan)
		return 0;
	if ((err = dfs_txn_reserve(fs, 8)))
		return err;
	return dfs_orphan_del(fs, ip);
}

/* Blocks of [first, end) that no extent maps. */
static uint64_t hole_blocks(const struct dfs_inode *ip, uint64_t first, uint64_t end)
{
	uint64_t holes = end - first;

	for (size_t i = dfs_extent_search(ip, first); i < ip->next && ip->ext[i].lblk < end; i++) {
		uint64_t s = ip->ext[i].lblk > first ? ip->ext[i].lblk : first;
		uint64_t e = ip->ext[i].lblk + ip->ext[i].len < end ? ip->ext[i].lblk + ip->ext[i].len : end;
		holes -= e - s;
	}
	return holes;
}

static int runs_add(struct dfs_blkruns *runs, uint64_t lblk, uint64_t len)
{
	int err = DAXFS_GROW(runs->r, runs->cap, runs->n + 1, 16, "block runs");

	if (!err)
		runs->r[runs->n++] = (struct dfs_blkrun){ lblk, len };
	return err;
}

/* Takes [first, end) out of ip->spec; with unmap, unmaps what it takes. On
 * an error of the unmap the record stays as it was (unmapping a hole again
 * is nothing); without, it never fails. */
static int spec_take(struct dfs *fs, struct dfs_inode *ip, uint64_t first, uint64_t end, bool unmap)
{
	struct dfs_blkruns keep = { NULL, 0, 0 };
	int err = 0;

	for (size_t i = 0; i < ip->spec.n && !err; i++) {
		uint64_t s = ip->spec.r[i].lblk, e = s + ip->spec.r[i].len;
		uint64_t ms = s > first ? s : first, me = e < end ? e : end;

		if (ms >= me) {
			err = runs_add(&keep, s, e - s);
			continue;
		}
		if (s < ms)
			err = runs_add(&keep, s, ms - s);
		if (!err && me < e)
			err = runs_add(&keep, me, e - me);
		if (!err && unmap)
			err = dfs_unmap_range(fs, ip, ms, me - ms);
	}
	if (err) {
		free(keep.r);
		if (unmap)
			return err;
		/* no memory to keep the rest: forgotten, its blocks stay */
		keep = (struct dfs_blkruns){ NULL, 0, 0 };
	}
	free(ip->spec.r);
	ip->spec = keep;
	return 0;
}

/* Allocates the holes of [first, first+count) as extents of ext_flags
 * (DFS_EXT_UNWRITTEN: preallocated; 0: zeroed written blocks), all or
 * nothing: a request that cannot fit fails before it allocates, and one
 * that runs out on the way (others allocate meanwhile, the extent blocks
 * take their share) unmaps what it mapped. */
static int alloc_holes(struct dfs *fs, struct dfs_inode *ip, uint64_t first, uint64_t count,
		       uint32_t ext_flags, bool speculative)
{
	uint64_t l = first, end = first + count;
	struct dfs_blkruns done = { NULL, 0, 0 };
	int err = 0;

	/* a commit may make the pending frees allocatable, nothing more */
	if (hole_blocks(ip, first, end) > (fs->free_blocks > fs->resv_blocks ?
					   fs->free_blocks - fs->resv_blocks : 0))
		return daxfs_err(-ENOSPC, "allocation: %llu blocks do not fit in the free space",
				 (unsigned long long)hole_blocks(ip, first, end));
	while (l < end) {
		size_t i = dfs_extent_search(ip, l);
		if (i < ip->next && ip->ext[i].lblk <= l) {
			l = ip->ext[i].lblk + ip->ext[i].len;
			continue;
		}
		uint64_t hole_end = i < ip->next && ip->ext[i].lblk < end ? ip->ext[i].lblk : end;
		struct dfs_extent e;
		if ((err = DAXFS_GROW(done.r, done.cap, done.n + 1, 16, "fallocate")))
			break;
		if ((err = dfs_txn_reserve(fs, DATA_RESERVE + 2 * ip->nchain)) ||
		    (err = dfs_extent_alloc(fs, ip, l, hole_end - l, ext_flags, &e)))
			break;
		done.r[done.n].lblk = e.lblk;
		done.r[done.n++].len = e.len;
		l = e.lblk + e.len;
	}
	/* what a speculative allocation took: the give-back's to free (no
	 * memory for the record: the blocks stay, as a reservation would) */
	for (size_t k = 0; !err && speculative && k < done.n; k++)
		if (runs_add(&ip->spec, done.r[k].lblk, done.r[k].len))
			break;
	/* unmapping what this call mapped only frees; its message is the one
	 * worth keeping */
	for (size_t k = 0; err && k < done.n; k++) {
		char msg[256];
		snprintf(msg, sizeof(msg), "%s", daxfs_errormsg());
		int e2 = dfs_unmap_range(fs, ip, done.r[k].lblk, done.r[k].len);
		daxfs_err(err, "%s", msg);
		if (e2) {
			err = e2;
			break;
		}
	}
	free(done.r);
	return err;
}

int dfs_fallocate(struct dfs *fs, uint64_t ino, int mode, off_t off, off_t len)
{
	struct dfs_inode *ip;
	int err;

	if (mode != 0 && mode != FALLOC_FL_KEEP_SIZE &&
	    mode != (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE) &&
	    (mode & ~FALLOC_FL_KEEP_SIZE) != FALLOC_FL_ZERO_RANGE)
		return daxfs_err(-EOPNOTSUPP, "fallocate: mode 0x%x is not supported", mode);
	if (off < 0 || len <= 0)
		return daxfs_err(-EINVAL, "fallocate: bad range");
	if (len > INT64_MAX - off)
		return daxfs_err(-EFBIG, "fallocate: beyond the maximum file size");
	if ((err = dfs_inode_change_begin(fs, ino, &ip)))
		return err;
	if (dfs_is_dir(ip) || !dfs_is_reg(ip)) {
		err = daxfs_err(dfs_is_dir(ip) ? -EISDIR : -ENODEV, "fallocate: not a regular file");
		dfs_inode_change_end(fs, ip);
		return err;
	}
	uint64_t s = (uint64_t)off, e = s + (uint64_t)len;
	uint64_t fs_blk = (s + DFS_BLOCK_SIZE - 1) >> DFS_BLOCK_SHIFT, fe_blk = e >> DFS_BLOCK_SHIFT;
	pthread_mutex_lock(&fs->meta);
	/* blocks allocated ahead in the range are the user's from now on
	 * (a reservation keeps them, a punch frees them) */
	(void)spec_take(fs, ip, s >> DFS_BLOCK_SHIFT, (e + DFS_BLOCK_SIZE - 1) >> DFS_BLOCK_SHIFT,
			false);
	if (mode & FALLOC_FL_PUNCH_HOLE) {
		/* partial blocks at the edges are zeroed in place, whole ones unmapped */
		uint64_t lim = ip->d.size > e ? e : ip->d.size;
		if (fs_blk > fe_blk) {
			err = dfs_zero_written(fs, ip, s, lim > s ? lim : s);
		} else {
			err = dfs_zero_written(fs, ip, s, fs_blk << DFS_BLOCK_SHIFT);
			if (!err)
				err = dfs_zero_written(fs, ip, fe_blk << DFS_BLOCK_SHIFT, e);
			if (!err && fe_blk > fs_blk)
				err = dfs_unmap_range(fs, ip, fs_blk, fe_blk - fs_blk);
		}
	} else if (mode & FALLOC_FL_ZERO_RANGE) {
		/* the holes get their blocks first, so that running out of space
		 * leaves the data as it was; then the written bytes are zeroed in
		 * place, which needs no space at all */
		if (fe_blk > fs_blk)
			err = alloc_holes(fs, ip, fs_blk, fe_blk - fs_blk, DFS_EXT_UNWRITTEN, false);
		if (!err)
			err = dfs_zero_written(fs, ip, s, e);
	} else {
		uint64_t first = s >> DFS_BLOCK_SHIFT, last = (e + DFS_BLOCK_SIZE - 1) >> DFS_BLOCK_SHIFT;
		err = alloc_holes(fs, ip, first, last - first, DFS_EXT_UNWRITTEN, false);
	}
	if (!err && !(mode & (FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)) && e > ip->d.size) {
		err = dfs_zero_gap_locked(fs, ip, ip->d.size, e);
		if (!err)
			ip->d.size = e;
	}
	if (!err) {
		if (!(err = dfs_txn_reserve(fs, 4))) {
			dfs_now(&ip->d.ctime);
			if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE))
				ip->d.mtime = ip->d.ctime;
			err = dfs_inode_write(fs, ip);
		}
	}
	err = dfs_txn_end(fs, err);
	pthread_mutex_unlock(&fs->meta);
	dfs_inode_change_end(fs, ip);
	return err;
}

int dfs_alloc_written(struct dfs *fs, uint64_t ino, uint64_t off, uint64_t len, bool speculative)
{
	struct dfs_inode *ip;
	int err;

	if (len == 0 || off > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - off)
		return daxfs_err(-EINVAL, "allocation: bad range");
	if ((err = dfs_inode_change_begin(fs, ino, &ip)))
		return err;
	if (!dfs_is_reg(ip)) {
		dfs_inode_change_end(fs, ip);
		return daxfs_err(dfs_is_dir(ip) ? -EISDIR : -EINVAL,
				 "allocation: inode %llu is not a regular file", (unsigned long long)ino);
	}
	uint64_t first = off >> DFS_BLOCK_SHIFT;
	uint64_t last = (off + len + DFS_BLOCK_SIZE - 1) >> DFS_BLOCK_SHIFT;

	pthread_mutex_lock(&fs->meta);
	if (!(err = dfs_check_writable(fs)))
		err = alloc_holes(fs, ip, first, last - first, 0, speculative);
	/* then the unwritten extents: converting needs no space (whole
	 * extents where a split would need a block) */
	if (!err && !dfs_all_written(ip, off, len) &&
	    !(err = dfs_txn_reserve(fs, DATA_RESERVE + 2 * ip->nchain)))
		err = dfs_extent_mark_written(fs, ip, first, last - first);
	err = dfs_txn_end(fs, err);
	pthread_mutex_unlock(&fs->meta);
	dfs_inode_change_end(fs, ip);
	return err;
}

int dfs_trim_unshared(struct dfs *fs, uint64_t ino, uint64_t off, uint64_t len, unsigned own)
{
	struct dfs_inode *ip;
	bool trim;
	int err = 0;

	if (off > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - off)
		return daxfs_err(-EINVAL, "trim: bad range");
	if ((err = dfs_inode_change_begin(fs, ino, &ip)))
		return err;
	if (!dfs_is_reg(ip)) {
		dfs_inode_change_end(fs, ip);
		return daxfs_err(-EINVAL, "trim: inode %llu is not a regular file",
				 (unsigned long long)ino);
	}
	uint64_t start = off > ip->d.size ? off : ip->d.size;
	uint64_t first = (start + DFS_BLOCK_SIZE - 1) >> DFS_BLOCK_SHIFT;
	uint64_t end = (off + len) >> DFS_BLOCK_SHIFT;

	pthread_mutex_lock(&fs->meta);
	trim = dfs_lease_count_locked(fs, ino) <= own;
	if (end > first && trim) {
		err = spec_take(fs, ip, first, end, true);
		if (!err && !(err = dfs_txn_reserve(fs, 4)))
			err = dfs_inode_write(fs, ip);
		err = dfs_txn_end(fs, err);
	}
	pthread_mutex_unlock(&fs->meta);
	dfs_inode_change_end(fs, ip);
	return err < 0 ? err : trim;
}

off_t dfs_lseek(struct dfs *fs, uint64_t ino, off_t off, int whence)
{
	struct dfs_inode *ip;
	off_t ret;
	int err;

	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return daxfs_err(-EINVAL, "lseek: only SEEK_DATA and SEEK_HOLE");
	if ((err = dfs_inode_lock_data(fs, ino, false, &ip)))
		return err;
	uint64_t size = ip->d.size, pos = off < 0 ? 0 : (uint64_t)off;
	if (off < 0 || pos >= size) {
		ret = daxfs_err(-ENXIO, "lseek: offset beyond end of file");
		goto out;
	}
	size_t i = dfs_extent_search(ip, pos >> DFS_BLOCK_SHIFT);
	if (whence == SEEK_DATA) {
		for (; i < ip->next && (ip->ext[i].flags & DFS_EXT_UNWRITTEN); i++)
			;
		if (i == ip->next) {
			ret = daxfs_err(-ENXIO, "lseek: no data after offset");
			goto out;
		}
		uint64_t d = ip->ext[i].lblk << DFS_BLOCK_SHIFT;
		d = d > pos ? d : pos;
		ret = d >= size ? daxfs_err(-ENXIO, "lseek: no data after offset") : (off_t)d;
	} else {
		uint64_t h = pos;
		while (i < ip->next && !(ip->ext[i].flags & DFS_EXT_UNWRITTEN) &&
		       ip->ext[i].lblk << DFS_BLOCK_SHIFT <= h) {
			h = (ip->ext[i].lblk + ip->ext[i].len) << DFS_BLOCK_SHIFT;
			i++;
		}
		ret = (off_t)(h < size ? h : size);
	}
out:
	dfs_inode_unlock_data(fs, ip, false);
	return ret;
}

ssize_t dfs_copy_file_range(struct dfs *fs, uint64_t ino_in, off_t off_in, uint64_t ino_out,
			    off_t off_out, size_t len)
{
	const size_t chunk = 1u << 20;
	size_t done = 0;

	if (off_in < 0 || off_out < 0)
		return daxfs_err(-EINVAL, "copy_file_range: negative offset");
	if (ino_in == ino_out && (uint64_t)off_in < (uint64_t)off_out + len &&
	    (uint64_t)off_out < (uint64_t)off_in + len)
		return daxfs_err(-EINVAL, "copy_file_range: overlapping ranges in one file");
	uint8_t *buf = malloc(len < chunk ? (len ? len : 1) : chunk);
	if (!buf)
		return daxfs_err(-ENOMEM, "copy_file_range: out of memory");
	while (done < len) {
		size_t want = len - done < chunk ? len - done : chunk;
		ssize_t r = dfs_pread(fs, ino_in, buf, want, off_in + (off_t)done);
		if (r <= 0) {
			if (r < 0 && done == 0) {
				free(buf);
				return r;
			}
			break;
		}
		ssize_t w = dfs_pwrite(fs, ino_out, buf, (size_t)r, off_out + (off_t)done, 0);
		if (w < 0) {
			free(buf);
			return done ? (ssize_t)done : w;
		}
		done += (size_t)w;
		if (w < r)
			break;
	}
	free(buf);
	return (ssize_t)done;
}
