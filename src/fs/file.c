/* fs/file.c - file data: the dax_iomap_rw-style read and write loops, truncate, fallocate, seek */
#include <errno.h>
#include <linux/falloc.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/internal.h"
#include "util/err.h"

/*
 * Reads and writes loop over dfs_iomap_begin_locked (kernel-chain.md B.5.2):
 * holes and unwritten extents read as a shared zero page without touching
 * the device; mapped extents are reached through dm_dax_direct_access, whose
 * clamped answers (target and stripe-chunk boundaries) are looped; a table
 * that is not DAX (or dax=never) goes through a bounce buffer and the bio
 * path. An error after some bytes gives a short count, at the first byte the
 * error itself. No meta lock is held while the caller copies.
 *
 * The caller of a read hands the pmem pointers to the kernel (a FUSE reply),
 * where a page the backing file lost would be an EFAULT in writev rather than
 * a SIGBUS here: each piece is probed first (dax_probe_mc), which turns such
 * a page into a recorded bad block and the read's error, like poison.
 */

#define ZERO_CHUNK (64u * 1024)
static uint8_t zero_page[ZERO_CHUNK];     /* never written: read-only by contract */

#define BATCH_EXTENTS 64
#define DATA_RESERVE 96

static int unmap_range(struct dfs *fs, struct dfs_inode *ip, uint64_t lblk, uint64_t count);


static int check_reg(struct dfs_inode *ip)
{
	if (dfs_is_dir(ip))
		return daxfs_err(-EISDIR, "inode %llu is a directory", (unsigned long long)ip->ino);
	if (!dfs_is_reg(ip))
		return daxfs_err(-EINVAL, "inode %llu is not a regular file", (unsigned long long)ip->ino);
	return 0;
}

/* One direct_access resolution: at most len bytes at device address addr. */
static long dax_piece_once(struct dfs *fs, uint64_t addr, uint64_t len, void **kaddr)
{
	uint64_t in = addr & (DFS_BLOCK_SIZE - 1);
	long pages = (long)((in + len + DFS_BLOCK_SIZE - 1) >> DFS_BLOCK_SHIFT);
	void *k;
	long got = dm_dax_direct_access(fs->md, addr >> DFS_BLOCK_SHIFT, pages, DAX_ACCESS, &k, NULL);

	if (got < 0)
		return got;
	if (got == 0)
		return -EIO;
	uint64_t bytes = ((uint64_t)got << DFS_BLOCK_SHIFT) - in;
	*kaddr = (uint8_t *)k + in;
	return (long)(bytes < len ? bytes : len);
}

/* A failing range may still have a good prefix (a bad page in the middle):
 * halve until the first page, so the caller gets a short count before the
 * error instead of the error for the whole extent. */
static long dax_piece(struct dfs *fs, uint64_t addr, uint64_t len, void **kaddr)
{
	for (;;) {
		long r = dax_piece_once(fs, addr, len, kaddr);
		uint64_t first = DFS_BLOCK_SIZE - (addr & (DFS_BLOCK_SIZE - 1));

		if (r >= 0 || len <= first)
			return r;
		uint64_t half = ((len / 2 + (addr & (DFS_BLOCK_SIZE - 1))) & ~(uint64_t)(DFS_BLOCK_SIZE - 1)) -
				(addr & (DFS_BLOCK_SIZE - 1));
		len = half >= first ? half : first;
	}
}

static int bio_read_prefix(struct dfs *fs, uint64_t addr, void *buf, uint64_t *len)
{
	for (;;) {
		int err = dm_submit_bio(fs->md, DAX_REQ_READ, DM_BIO_KILLABLE, addr, buf, *len);
		uint64_t first = DFS_BLOCK_SIZE - (addr & (DFS_BLOCK_SIZE - 1));

		if (!err || *len <= first)
			return err;
		uint64_t half = ((*len / 2 + (addr & (DFS_BLOCK_SIZE - 1))) & ~(uint64_t)(DFS_BLOCK_SIZE - 1)) -
				(addr & (DFS_BLOCK_SIZE - 1));
		*len = half >= first ? half : first;
	}
}

ssize_t dfs_read_begin(struct dfs *fs, uint64_t ino, off_t off, size_t size, struct dfs_read *rd)
{
	struct dfs_inode *ip;
	struct dfs_rw_state *p = &rd->state;
	int err;

	memset(rd, 0, offsetof(struct dfs_read, state));
	memset(p, 0, offsetof(struct dfs_rw_state, addr));
	if (off < 0)
		return daxfs_err(-EINVAL, "read: negative offset");
	if ((err = dfs_inode_lock_data(fs, ino, false, &ip)))
		return err;
	if ((err = check_reg(ip)))
		goto fail;
	if ((uint64_t)off >= ip->d.size || size == 0) {
		dfs_inode_unlock_data(fs, ip, false);
		return 0;
	}
	if (size > ip->d.size - (uint64_t)off)
		size = ip->d.size - (uint64_t)off;
	p->ip = ip;
	rd->priv = p;
	uint64_t pos = (uint64_t)off;
	size_t got = 0;
	while (got < size && rd->niov < DFS_READ_MAX_IOV) {
		struct dfs_iomap m;
		void *base;
		uint64_t n;

		if ((err = dfs_iomap_begin_locked(fs, ip, pos, size - got, DFS_IOMAP_REPORT, &m)))
			break;
		if (m.type != DFS_IOMAP_MAPPED) {
			n = m.length < ZERO_CHUNK ? m.length : ZERO_CHUNK;
			base = zero_page;
		} else if (fs->dax) {
			long r = dax_piece(fs, m.addr, m.length, &base);
			if (r < 0) {
				/* poison reads as EIO, as dax_iomap_iter's dax_mem2blk_err */
				err = daxfs_err(r == -EHWPOISON ? -EIO : (int)r,
						"read: direct_access at device byte %llu failed%s",
						(unsigned long long)m.addr,
						r == -EHWPOISON ? ": poisoned page" : "");
				break;
			}
			size_t good;
			if ((err = dax_probe_mc(base, (size_t)r, &good))) {
				if (good)
					rd->iov[rd->niov++] = (struct iovec){ base, good };
				got += good;
				daxfs_err_prefix(err, "read at device byte %llu",
						 (unsigned long long)(m.addr + good));
				break;
			}
			n = (uint64_t)r;
		} else {
			if (!p->bounce && !(p->bounce = malloc(size))) {
				err = daxfs_err(-ENOMEM, "read: out of memory");
				break;
			}
			base = p->bounce + got;
			n = m.length;
			if ((err = bio_read_prefix(fs, m.addr, base, &n)))
				break;
		}
		rd->iov[rd->niov++] = (struct iovec){ base, n };
		got += n;
		pos += n;
	}
	rd->bytes = got;
	rd->err = got < size ? err : 0;
	rd->iov_full = got < size && !err;
	if (got == 0) {
		dfs_read_end(fs, rd);
		return err ? err : 0;
	}
	return (ssize_t)got;
fail:
	dfs_inode_unlock_data(fs, ip, false);
	return err;
}

void dfs_read_end(struct dfs *fs, struct dfs_read *rd)
{
	struct dfs_rw_state *p = rd->priv;

	if (!p)
		return;
	rd->priv = NULL;
	dfs_inode_unlock_data(fs, p->ip, false);
	free(p->bounce);
	p->bounce = NULL;
}

int dfs_zero_written(struct dfs *fs, struct dfs_inode *ip, uint64_t from, uint64_t to)
{
	while (from < to) {
		size_t i = dfs_extent_search(ip, from >> DFS_BLOCK_SHIFT);
		if (i == ip->next)
			return 0;
		const struct dfs_extent *e = &ip->ext[i];
		uint64_t es = e->lblk << DFS_BLOCK_SHIFT, ee = es + ((uint64_t)e->len << DFS_BLOCK_SHIFT);
		uint64_t s = from > es ? from : es, t = to < ee ? to : ee;
		if (s >= to)
			return 0;
		if (!(e->flags & DFS_EXT_UNWRITTEN)) {
			uint64_t addr = (e->pblk << DFS_BLOCK_SHIFT) + (s - es);
			for (uint64_t done = 0; done < t - s; ) {
				size_t n = t - s - done < ZERO_CHUNK ? (size_t)(t - s - done) : ZERO_CHUNK;
				int err = dm_submit_bio(fs->md, DAX_REQ_WRITE, DM_BIO_FUA, addr + done,
							zero_page, n);
				if (err)
					return err;
				done += n;
			}
		}
		from = t;
	}
	return 0;
}

ssize_t dfs_write_begin(struct dfs *fs, uint64_t ino, off_t off, size_t size, unsigned flags,
			struct dfs_write *wr)
{
	struct dfs_inode *ip;
	struct dfs_rw_state *p = &wr->state;
	int err;

	memset(wr, 0, offsetof(struct dfs_write, state));
	memset(p, 0, offsetof(struct dfs_rw_state, addr));
	if (off < 0 && !(flags & DFS_WRITE_APPEND))
		return daxfs_err(-EINVAL, "write: negative offset");
	/* before the inode lock, before a byte is copied: a frozen fs holds
	 * the writer here, and nothing it would change is touched yet */
	if ((err = dfs_start_write(fs)))
		return err;
	if ((err = dfs_inode_lock_data(fs, ino, true, &ip))) {
		dfs_end_write(fs);
		return err;
	}
	if ((err = check_reg(ip)))
		goto fail;
	uint64_t pos = (flags & DFS_WRITE_APPEND) ? ip->d.size : (uint64_t)off;
	wr->off = (off_t)pos;
	if (pos > (uint64_t)INT64_MAX || size > (uint64_t)INT64_MAX - pos) {
		err = daxfs_err(-EFBIG, "write: beyond the maximum file size");
		goto fail;
	}
	if (size == 0) {
		dfs_inode_unlock_data(fs, ip, true);
		dfs_end_write(fs);
		return 0;
	}
	if (pos > ip->d.size && (err = dfs_zero_written(fs, ip, ip->d.size, pos)))
		goto fail;
	p->ip = ip;
	p->flags = flags;
	p->nfresh = 0;
	wr->priv = p;
	size_t got = 0;
	while (got < size && wr->niov < DFS_READ_MAX_IOV) {
		struct dfs_iomap m;
		void *base;
		uint64_t n;

		if ((err = dfs_iomap_begin_locked(fs, ip, pos, size - got, DFS_IOMAP_WRITE, &m)))
			break;
		if (m.flags & DFS_IOMAP_F_NEW) {
			uint64_t first = m.offset >> DFS_BLOCK_SHIFT;
			p->fresh[p->nfresh].lblk = first;
			p->fresh[p->nfresh++].len = ((m.offset + m.length - 1) >> DFS_BLOCK_SHIFT) - first + 1;
		}
		if (fs->dax) {
			long r = dax_piece(fs, m.addr, m.length, &base);
			/* A write of a whole poisoned page clears the poison (the
			 * kernel's dax_recovery_write): the page is zeroed, which
			 * clears it, and then overwritten; a partial one is EIO. */
			if (r == -EHWPOISON && !(m.addr & (DFS_BLOCK_SIZE - 1)) &&
			    m.length >= DFS_BLOCK_SIZE &&
			    dm_dax_zero_page_range(fs->md, m.addr >> DFS_BLOCK_SHIFT, 1) == 0)
				r = dax_piece(fs, m.addr, m.length, &base);
			if (r < 0) {
				err = daxfs_err(r == -EHWPOISON ? -EIO : (int)r,
						"write: direct_access at device byte %llu failed%s",
						(unsigned long long)m.addr,
						r == -EHWPOISON ? ": poisoned page" : "");
				break;
			}
			n = (uint64_t)r;
		} else {
			if (!p->bounce && !(p->bounce = malloc(size))) {
				err = daxfs_err(-ENOMEM, "write: out of memory");
				break;
			}
			base = p->bounce + got;
			n = m.length;
		}
		p->addr[wr->niov] = m.addr;
		wr->iov[wr->niov++] = (struct iovec){ base, n };
		got += n;
		pos += n;
	}
	wr->bytes = got;
	if (got == 0) {
		dfs_write_end(fs, wr, 0);
		return err;
	}
	return (ssize_t)got;
fail:
	dfs_inode_unlock_data(fs, ip, true);
	dfs_end_write(fs);
	return err;
}

/* A short write keeps exactly the blocks it filled: the blocks begin
 * allocated that no copied byte reached are unmapped again. meta held. */
static int drop_unfilled(struct dfs *fs, struct dfs_write *wr, size_t copied)
{
	struct dfs_rw_state *p = wr->priv;
	uint64_t end = (uint64_t)wr->off + copied;
	uint64_t cut = copied ? (end + DFS_BLOCK_SIZE - 1) >> DFS_BLOCK_SHIFT
			      : (uint64_t)wr->off >> DFS_BLOCK_SHIFT;
	int err = 0;

	for (unsigned i = 0; i < p->nfresh && !err; i++) {
		uint64_t from = p->fresh[i].lblk > cut ? p->fresh[i].lblk : cut;
		uint64_t to = p->fresh[i].lblk + p->fresh[i].len;

		if (from < to)
			err = unmap_range(fs, p->ip, from, to - from);
	}
	return err;
}

static bool has_unfilled(const struct dfs_write *wr, size_t copied)
{
	const struct dfs_rw_state *p = wr->priv;
	uint64_t end = (uint64_t)wr->off + copied;
	uint64_t cut = copied ? (end + DFS_BLOCK_SIZE - 1) >> DFS_BLOCK_SHIFT
			      : (uint64_t)wr->off >> DFS_BLOCK_SHIFT;

	for (unsigned i = 0; i < p->nfresh; i++)
		if (p->fresh[i].lblk + p->fresh[i].len > cut)
			return true;
	return false;
}

ssize_t dfs_write_end(struct dfs *fs, struct dfs_write *wr, size_t copied)
{
	struct dfs_rw_state *p = wr->priv;
	struct dfs_inode *ip;
	int err = 0;

	if (!p)
		return 0;
	ip = p->ip;
	if (copied > wr->bytes)
		copied = wr->bytes;
	/* a synchronous mount persists every write, so that the WRITE requests
	 * a kernel syncfs sends are durable when they are answered */
	const bool osync = p->flags & DFS_WRITE_SYNC;
	const bool sync = osync || dfs_sync_mode(fs);
	size_t left = copied;
	if (p->copied) {
		/* dfs_write_copy flushed as it stored: one drain for the request,
		 * of the devices directly (a dm_flush would wait out a suspend,
		 * which stores through pointers do not) */
		if (sync && copied)
			err = dm_persist_range(fs->md, 0, 0, true);
		left = 0;
	}
	for (unsigned i = 0; i < wr->niov && left && !err; i++) {
		size_t n = wr->iov[i].iov_len < left ? wr->iov[i].iov_len : left;

		if (fs->dax)
			err = dm_persist_range(fs->md, p->addr[i], n, sync && n == left);
		else
			err = dm_submit_bio(fs->md, DAX_REQ_WRITE, sync ? DM_BIO_FUA : 0,
					    p->addr[i], p->bounce + (copied - left), n);
		left -= n;
	}
	const bool unfilled = has_unfilled(wr, copied);
	if (copied > 0 || unfilled) {
		pthread_mutex_lock(&fs->meta);
		int e2 = unfilled ? drop_unfilled(fs, wr, copied) : 0;
		if (!e2 && copied > 0)
			e2 = dfs_txn_reserve(fs, 4);
		if (!e2 && copied > 0) {
			if ((uint64_t)wr->off + copied > ip->d.size)
				ip->d.size = (uint64_t)wr->off + copied;
			dfs_now(&ip->d.mtime);
			ip->d.ctime = ip->d.mtime;
			e2 = dfs_inode_write(fs, ip);
		}
		if (!e2 && osync)
			e2 = dfs_commit_inode(fs, ip);
		e2 = dfs_txn_end(fs, e2);     /* not while suspended, see there */
		pthread_mutex_unlock(&fs->meta);
		err = err ? err : e2;
	} else if (dfs_sync_mode(fs)) {
		/* blocks write_begin allocated for a copy that did not happen */
		pthread_mutex_lock(&fs->meta);
		int e2 = dfs_txn_end(fs, 0);
		pthread_mutex_unlock(&fs->meta);
		err = err ? err : e2;
	}
	wr->priv = NULL;
	dfs_inode_unlock_data(fs, ip, true);
	dfs_end_write(fs);
	free(p->bounce);
	p->bounce = NULL;
	return err ? err : (ssize_t)copied;
}

ssize_t dfs_write_copy(struct dfs *fs, struct dfs_write *wr, const void *src, size_t len)
{
	struct dfs_rw_state *p = wr->priv;
	const uint8_t *from = src;
	size_t done = 0;
	int err = 0;

	if (!p)
		return daxfs_err(-EINVAL, "write copy: no write in progress");
	if (len > wr->bytes)
		len = wr->bytes;
	for (unsigned i = 0; i < wr->niov && done < len; i++) {
		size_t n = wr->iov[i].iov_len < len - done ? wr->iov[i].iov_len : len - done;

		if (!fs->dax)
			memcpy(wr->iov[i].iov_base, from + done, n);   /* end writes the bounce */
		else if ((err = dm_copy_flushcache(fs->md, p->addr[i], from + done, n)))
			break;
		done += n;
	}
	/* a piece the device failed (a page the backing file lost): the pieces
	 * before it are written, as dax_iomap_rw's short count */
	if (err && !done)
		return err;
	p->copied = fs->dax;
	return (ssize_t)done;
}

ssize_t dfs_pread_err(struct dfs *fs, uint64_t ino, void *buf, size_t size, off_t off, int *err)
{
	size_t done = 0;
	int e = 0;

	while (done < size && !e) {
		struct dfs_read rd;
		ssize_t n = dfs_read_begin(fs, ino, off + (off_t)done, size - done, &rd);

		if (n <= 0) {
			e = (int)n;
			break;
		}
		/* the pieces were probed, but the file behind them may be cut
		 * since: copy as carefully as the probe read */
		for (unsigned i = 0; i < rd.niov && !e; i++) {
			size_t c;

			e = dax_copy_mc((uint8_t *)buf + done, rd.iov[i].iov_base, rd.iov[i].iov_len, &c);
			done += c;
		}
		if (!e)
			e = rd.err;
		bool more = rd.iov_full;
		dfs_read_end(fs, &rd);
		if (!more)
			break;      /* EOF, or an error after some bytes */
	}
	if (err)
		*err = e;
	return done ? (ssize_t)done : e;
}

ssize_t dfs_pread(struct dfs *fs, uint64_t ino, void *buf, size_t size, off_t off)
{
	return dfs_pread_err(fs, ino, buf, size, off, NULL);
}

ssize_t dfs_pwrite(struct dfs *fs, uint64_t ino, const void *buf, size_t size, off_t off,
		   unsigned flags)
{
	size_t done = 0;

	while (done < size || (size == 0 && done == 0)) {
		struct dfs_write wr;
		ssize_t n = dfs_write_begin(fs, ino, off + (off_t)done, size - done, flags, &wr);

		if (n <= 0)
			return done ? (ssize_t)done : n;
		ssize_t c = dfs_write_copy(fs, &wr, (const uint8_t *)buf + done, (size_t)n);
		ssize_t e = dfs_write_end(fs, &wr, c < 0 ? 0 : (size_t)c);
		if (c < 0)
			return done ? (ssize_t)done : c;
		if (e < 0)
			return e;
		if (flags & DFS_WRITE_APPEND)
			off = wr.off - (off_t)done;
		done += (size_t)c;
		if (c < n)
			break;
	}
	return (ssize_t)done;
}

int dfs_fsync(struct dfs *fs, uint64_t ino, bool datasync)
{
	struct dfs_inode *ip;
	int err;

	(void)datasync;
	pthread_mutex_lock(&fs->meta);
	err = dfs_iget(fs, ino, &ip);
	if (!err && !fs->rdonly)
		err = dfs_commit_inode(fs, ip);
	pthread_mutex_unlock(&fs->meta);
	if (!err && !fs->rdonly)
		err = dfs_dev_flush(fs);
	return err;
}

/* ---- truncate and fallocate ---- */

/* Unmaps [lblk, lblk+count) in transaction-sized batches. Never fails for
 * space: a range inside one extent needs a block for the extent that splits
 * off (from the reserve), and with not even that left the blocks stay mapped
 * and are zeroed instead, which reads the same. */
static int unmap_range(struct dfs *fs, struct dfs_inode *ip, uint64_t lblk, uint64_t count)
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
	return unmap_range(fs, ip, 0, UINT64_MAX >> DFS_BLOCK_SHIFT);
}

int dfs_truncate_finish(struct dfs *fs, struct dfs_inode *ip)
{
	uint64_t size = ip->d.size, keep = (size + DFS_BLOCK_SIZE - 1) >> DFS_BLOCK_SHIFT;
	int err;

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

int dfs_truncate_locked(struct dfs *fs, struct dfs_inode *ip, uint64_t size)
{
	int err;

	if (size > (uint64_t)INT64_MAX)
		return daxfs_err(-EFBIG, "truncate: beyond the maximum file size");
	if (size > ip->d.size) {
		if ((err = dfs_zero_written(fs, ip, ip->d.size, size)))
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

struct runs {
	struct { uint64_t lblk, len; } *r;
	size_t n, cap;
};

/* Preallocates the holes of [first, first+count) as unwritten extents, all
 * or nothing: a request that cannot fit fails before it allocates, and one
 * that runs out on the way (others allocate meanwhile, the extent blocks
 * take their share) unmaps what it mapped. */
static int prealloc(struct dfs *fs, struct dfs_inode *ip, uint64_t first, uint64_t count)
{
	uint64_t l = first, end = first + count;
	struct runs done = { NULL, 0, 0 };
	int err = 0;

	/* a commit may make the pending frees allocatable, nothing more */
	if (hole_blocks(ip, first, end) > (fs->free_blocks > fs->resv_blocks ?
					   fs->free_blocks - fs->resv_blocks : 0))
		return daxfs_err(-ENOSPC, "fallocate: %llu blocks do not fit in the free space",
				 (unsigned long long)hole_blocks(ip, first, end));
	while (l < end) {
		size_t i = dfs_extent_search(ip, l);
		if (i < ip->next && ip->ext[i].lblk <= l) {
			l = ip->ext[i].lblk + ip->ext[i].len;
			continue;
		}
		uint64_t hole_end = i < ip->next && ip->ext[i].lblk < end ? ip->ext[i].lblk : end;
		struct dfs_extent e;
		if (done.n == done.cap) {
			size_t ncap = done.cap ? done.cap * 2 : 16;
			void *nr = realloc(done.r, ncap * sizeof(*done.r));
			if (!nr) {
				err = daxfs_err(-ENOMEM, "fallocate: out of memory");
				break;
			}
			done.r = nr;
			done.cap = ncap;
		}
		if ((err = dfs_txn_reserve(fs, DATA_RESERVE + 2 * ip->nchain)) ||
		    (err = dfs_extent_alloc(fs, ip, l, hole_end - l, DFS_EXT_UNWRITTEN, &e)))
			break;
		done.r[done.n].lblk = e.lblk;
		done.r[done.n++].len = e.len;
		l = e.lblk + e.len;
	}
	/* unmapping what this call mapped only frees; its message is the one
	 * worth keeping */
	for (size_t k = 0; err && k < done.n; k++) {
		char msg[256];
		snprintf(msg, sizeof(msg), "%s", daxfs_errormsg());
		int e2 = unmap_range(fs, ip, done.r[k].lblk, done.r[k].len);
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
	if ((err = dfs_start_write(fs)))
		return err;
	if ((err = dfs_inode_lock_data(fs, ino, true, &ip))) {
		dfs_end_write(fs);
		return err;
	}
	if (dfs_is_dir(ip) || !dfs_is_reg(ip)) {
		err = daxfs_err(dfs_is_dir(ip) ? -EISDIR : -ENODEV, "fallocate: not a regular file");
		dfs_inode_unlock_data(fs, ip, true);
		dfs_end_write(fs);
		return err;
	}
	uint64_t s = (uint64_t)off, e = s + (uint64_t)len;
	uint64_t fs_blk = (s + DFS_BLOCK_SIZE - 1) >> DFS_BLOCK_SHIFT, fe_blk = e >> DFS_BLOCK_SHIFT;
	pthread_mutex_lock(&fs->meta);
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
				err = unmap_range(fs, ip, fs_blk, fe_blk - fs_blk);
		}
	} else if (mode & FALLOC_FL_ZERO_RANGE) {
		/* the holes get their blocks first, so that running out of space
		 * leaves the data as it was; then the written bytes are zeroed in
		 * place, which needs no space at all */
		if (fe_blk > fs_blk)
			err = prealloc(fs, ip, fs_blk, fe_blk - fs_blk);
		if (!err)
			err = dfs_zero_written(fs, ip, s, e);
	} else {
		uint64_t first = s >> DFS_BLOCK_SHIFT, last = (e + DFS_BLOCK_SIZE - 1) >> DFS_BLOCK_SHIFT;
		err = prealloc(fs, ip, first, last - first);
	}
	if (!err && !(mode & (FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)) && e > ip->d.size) {
		err = dfs_zero_written(fs, ip, ip->d.size, e);
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
	dfs_inode_unlock_data(fs, ip, true);
	dfs_end_write(fs);
	return err;
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
