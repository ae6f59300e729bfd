/* fs/file.c - file data: the dax_iomap_rw-style read and write loops, fsync */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fs/file.h"
#include "fs/internal.h"
#include "util/err.h"

_Static_assert(DFS_READ_MAX_IOV == DFS_RW_MAX_BYTES / DFS_BLOCK_SIZE + 1,
	       "one iov entry per block of the largest request, and one for a partial block");

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

int dfs_probe(const void *addr, size_t len)
{
	return dax_probe_mc(addr, len, NULL);
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

/*
 * A size change that opens a gap past EOF, [from, to), shows zeroes there,
 * whatever the blocks held (xfs_file_write_zero_eof): stores through a
 * mapping past EOF, which POSIX never lets become the file's, or a tail a
 * crash left. But the holders of a lease store into the file's blocks
 * themselves and tell the size only after (daxfs-run's writes past EOF,
 * each in its own process): unless the caller fenced those off
 * (dfs_lease_fence), the gap may hold another holder's write in flight,
 * which zeroing would lose although that write returns success. Then the
 * gap keeps what the file's own blocks hold: zeroes from their allocation,
 * a holder's data, or its stores past EOF; never another file's data, since
 * blocks come to a file zeroed or written.
 */
int dfs_zero_gap_locked(struct dfs *fs, struct dfs_inode *ip, uint64_t from, uint64_t to)
{
	return dfs_lease_stores_past_eof(fs, ip->ino) ? 0 : dfs_zero_written(fs, ip, from, to);
}

int dfs_zero_gap(struct dfs *fs, struct dfs_inode *ip, uint64_t from, uint64_t to)
{
	int err;

	pthread_mutex_lock(&fs->meta);
	err = dfs_zero_gap_locked(fs, ip, from, to);
	pthread_mutex_unlock(&fs->meta);
	return err;
}

static bool ts_before(const struct dfs_timespec *a, const struct timespec *b)
{
	return a->sec < b->tv_sec || (a->sec == b->tv_sec && a->nsec < b->tv_nsec);
}

/* mtime and ctime both set within the coarse clock's current tick (a clock
 * set back makes them differ, and they are set again) */
static bool times_current(const struct dfs_inode *ip)
{
	struct timespec tick, res, next;

	if (clock_gettime(CLOCK_REALTIME_COARSE, &tick) || clock_getres(CLOCK_REALTIME_COARSE, &res))
		return false;
	next.tv_sec = tick.tv_sec + res.tv_sec + (tick.tv_nsec + res.tv_nsec) / 1000000000;
	next.tv_nsec = (tick.tv_nsec + res.tv_nsec) % 1000000000;
	return !ts_before(&ip->d.mtime, &tick) && ts_before(&ip->d.mtime, &next) &&
	       !ts_before(&ip->d.ctime, &tick) && ts_before(&ip->d.ctime, &next);
}

/*
 * DFS_WRITE_CACHED_PAGES: the kernel writes a dirty page back once at a time
 * and reads into its cache only a page it does not hold, so such a write
 * and the reads of the file's other pages need not wait for each other,
 * as tmpfs's reads never wait for its writes. What an exclusive lock
 * protects stays out: allocation, unwritten extents, i_size, poison
 * recovery, O_SYNC and the bio path's bounce all take the ordinary path.
 * Returns the bytes mapped, 0 for "take the ordinary path", or an error.
 */
static ssize_t write_begin_shared(struct dfs *fs, uint64_t ino, uint64_t pos, size_t size,
				  unsigned flags, struct dfs_write *wr)
{
	struct dfs_rw_state *p = &wr->state;
	struct dfs_inode *ip;
	int err;

	if (!fs->dax || size == 0)
		return 0;
	if ((err = dfs_start_write(fs)))
		return err;
	if ((err = dfs_inode_lock_data(fs, ino, false, &ip))) {
		dfs_end_write(fs);
		return err;
	}
	if (check_reg(ip) || pos > ip->d.size || size > ip->d.size - pos)
		goto ordinary;
	size_t got = 0;
	while (got < size) {
		struct dfs_iomap m;
		void *base;

		/* a lookup only (no WRITE flag): allocates and converts nothing */
		if (wr->niov == DFS_READ_MAX_IOV ||
		    dfs_iomap_begin_locked(fs, ip, pos + got, size - got, 0, &m) ||
		    m.type != DFS_IOMAP_MAPPED)
			goto ordinary;
		long r = dax_piece(fs, m.addr, m.length, &base);

		if (r <= 0)
			goto ordinary;
		p->addr[wr->niov] = m.addr;
		wr->iov[wr->niov++] = (struct iovec){ base, (size_t)r };
		got += (size_t)r;
	}
	wr->off = (off_t)pos;
	wr->bytes = got;
	wr->setid = dfs_mode_kill_suidgid(ip->d.mode) != ip->d.mode;
	p->ip = ip;
	p->flags = flags;
	p->shared = true;
	wr->priv = p;
	return (ssize_t)got;
ordinary:
	wr->niov = 0;
	dfs_inode_unlock_data(fs, ip, false);
	dfs_end_write(fs);
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
	if ((flags & (DFS_WRITE_CACHED_PAGES | DFS_WRITE_APPEND | DFS_WRITE_SYNC)) ==
	    DFS_WRITE_CACHED_PAGES) {
		ssize_t n = write_begin_shared(fs, ino, (uint64_t)off, size, flags, wr);

		if (n != 0)
			return n;
	}
	/* before the inode lock, before a byte is copied: a frozen fs holds
	 * the writer here, and nothing it would change is touched yet */
	if ((err = dfs_inode_change_begin(fs, ino, &ip)))
		return err;
	if ((err = check_reg(ip)))
		goto fail;
	uint64_t pos = (flags & DFS_WRITE_APPEND) ? ip->d.size : (uint64_t)off;
	wr->off = (off_t)pos;
	wr->setid = dfs_mode_kill_suidgid(ip->d.mode) != ip->d.mode;
	if (pos > (uint64_t)INT64_MAX || size > (uint64_t)INT64_MAX - pos) {
		err = daxfs_err(-EFBIG, "write: beyond the maximum file size");
		goto fail;
	}
	if (size == 0) {
		dfs_inode_change_end(fs, ip);
		return 0;
	}
	if (pos > ip->d.size && (err = dfs_zero_gap(fs, ip, ip->d.size, pos)))
		goto fail;
	p->ip = ip;
	p->flags = flags;
	wr->priv = p;
	size_t got = 0;
	while (got < size && wr->niov < DFS_READ_MAX_IOV) {
		struct dfs_iomap m;
		void *base = NULL;      /* -O3 cannot see that a failed piece breaks out */
		uint64_t n;

		if ((err = dfs_iomap_begin_locked(fs, ip, pos, size - got, DFS_IOMAP_WRITE, &m)))
			break;
		p->converted |= (m.flags & DFS_IOMAP_F_CONVERTED) != 0;
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
	wr->err = err;
	return (ssize_t)got;
fail:
	dfs_inode_change_end(fs, ip);
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
			err = dfs_unmap_range(fs, p->ip, from, to - from);
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
	if (p->shared && copied > 0) {
		/* As the kernel's file_update_time: times already set within
		 * the clock's current tick are left alone. Otherwise they are
		 * set as every write's, under the lock taken exclusively (the
		 * bytes are stored and persisted already). */
		if (times_current(ip) && !(wr->kill_setid && wr->setid))
			goto out;
		pthread_rwlock_unlock(&ip->lock);
		pthread_rwlock_wrlock(&ip->lock);
	}
	const bool unfilled = has_unfilled(wr, copied);
	if (copied > 0 || unfilled) {
		/* what a reader needs to find the bytes changed: it commits */
		bool found = unfilled || p->nfresh || p->converted;

		pthread_mutex_lock(&fs->meta);
		int e2 = unfilled ? drop_unfilled(fs, wr, copied) : 0;
		if (!e2 && copied > 0)
			e2 = dfs_txn_reserve(fs, 4);
		if (!e2 && copied > 0) {
			/* a shared write began inside EOF; a truncate since
			 * then keeps its size */
			if (!p->shared && (uint64_t)wr->off + copied > ip->d.size) {
				ip->d.size = (uint64_t)wr->off + copied;
				found = true;
			}
			if (wr->kill_setid && wr->setid) {
				ip->d.mode = dfs_mode_kill_suidgid(ip->d.mode);
				found = true;   /* a mode change commits as setattr's */
			}
			dfs_now(&ip->d.mtime);
			ip->d.ctime = ip->d.mtime;
			e2 = dfs_inode_write(fs, ip);
		}
		if (!e2 && osync)
			e2 = dfs_commit_inode(fs, ip);
		/* The times alone wait for the next commit, as jbd2's do on a
		 * -o sync mount, where a write is O_DSYNC (fs.h). */
		if (found || e2)
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
out:
	wr->priv = NULL;
	dfs_inode_change_end(fs, ip);
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

int dfs_flush_stored(struct dfs *fs, uint64_t addr, uint64_t len, bool drain)
{
	return dm_persist_range(fs->md, addr, len, drain);
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
