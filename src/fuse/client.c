/* fuse/client.c - the daemon side of libdaxfs: leases per open file, extent maps down the chain, allocation */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daxfs/ioctl.h"
#include "fuse/client.h"
#include "util/err.h"

#define PAGE 4096ull

/*
 * Who holds leases: one record per open file (handle) and inode. The daemon
 * serves one mount, so the table is process-wide rather than hung off struct
 * dfuse. Handles are numbered here, at open, so that two opens of one file
 * are told apart when one of them is released.
 */
struct holder {
	uint64_t fh, ino;
	unsigned count;
};

static struct {
	pthread_mutex_t lock;
	struct holder *h;       /* protected by lock */
	size_t n, cap;
	uint64_t next_fh;
} holders = { .lock = PTHREAD_MUTEX_INITIALIZER, .next_fh = 1 };

/* lock held */
static struct holder *holder_find(uint64_t fh, uint64_t ino)
{
	for (size_t i = 0; i < holders.n; i++)
		if (holders.h[i].fh == fh && holders.h[i].ino == ino)
			return &holders.h[i];
	return NULL;
}

void dfuse_client_open(struct dfuse *df, uint64_t ino, struct fuse_file_info *fi)
{
	pthread_mutex_lock(&holders.lock);
	fi->fh = holders.next_fh++;
	pthread_mutex_unlock(&holders.lock);
	/* An open without keep_cache drops the inode's cached pages, and the
	 * mapping may have changed them since they were read. */
	if (dfs_lease_count(df->fs, ino) > 0)
		fi->keep_cache = 0;
}

void dfuse_client_release(struct dfuse *df, uint64_t ino, struct fuse_file_info *fi)
{
	unsigned count = 0;

	pthread_mutex_lock(&holders.lock);
	struct holder *h = holder_find(fi->fh, ino);
	if (h) {
		count = h->count;
		*h = holders.h[--holders.n];
	}
	pthread_mutex_unlock(&holders.lock);
	while (count--)
		if (dfs_lease_put(df->fs, ino) < 0)
			fuse_log(FUSE_LOG_ERR, "daxfs-fuse: release (inode %" PRIu64 "): %s\n", ino,
				 daxfs_errormsg());
}

int dfuse_client_check_swap(struct dfuse *df)
{
	uint64_t ino = 0;
	size_t n;

	(void)df;
	pthread_mutex_lock(&holders.lock);
	n = holders.n;
	if (n)
		ino = holders.h[0].ino;
	pthread_mutex_unlock(&holders.lock);
	if (n)
		return daxfs_err(-EBUSY, "inode %" PRIu64 " is mapped directly by an application "
				 "(libdaxfs); a new table could move its blocks under the mapping: "
				 "unmap first", ino);
	return 0;
}

/* ---- the requests ----------------------------------------------------------- */

static int lease_get(struct dfuse *df, uint64_t ino, uint64_t fh)
{
	int err;

	if (!dfs_uses_dax(df->fs))
		return -EOPNOTSUPP;
	pthread_mutex_lock(&holders.lock);
	struct holder *h = holder_find(fh, ino);
	if (!h) {
		if (holders.n == holders.cap) {
			size_t ncap = holders.cap ? holders.cap * 2 : 16;
			struct holder *nh = realloc(holders.h, ncap * sizeof(*nh));

			if (!nh) {
				pthread_mutex_unlock(&holders.lock);
				return -ENOMEM;
			}
			holders.h = nh;
			holders.cap = ncap;
		}
		h = &holders.h[holders.n++];
		*h = (struct holder){ .fh = fh, .ino = ino };
	}
	err = dfs_lease_get(df->fs, ino);
	if (err == 0)
		h->count++;
	else if (h->count == 0)
		*h = holders.h[--holders.n];
	pthread_mutex_unlock(&holders.lock);
	if (err < 0)
		return err;
	/* 1: the first lease, whose caller drops the inode's cached pages. */
	return dfs_lease_count(df->fs, ino) == 1;
}

static int lease_put(struct dfuse *df, uint64_t ino, uint64_t fh)
{
	int err = 0;

	pthread_mutex_lock(&holders.lock);
	struct holder *h = holder_find(fh, ino);
	if (!h)
		err = -ENOENT;
	else if (--h->count == 0)
		*h = holders.h[--holders.n];
	pthread_mutex_unlock(&holders.lock);
	return err ? err : dfs_lease_put(df->fs, ino);
}

static bool holds_lease(uint64_t ino, uint64_t fh)
{
	bool held;

	pthread_mutex_lock(&holders.lock);
	held = holder_find(fh, ino) != NULL;
	pthread_mutex_unlock(&holders.lock);
	return held;
}

static int check_range(uint64_t off, uint64_t len)
{
	if (len == 0 || off % PAGE || off > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - off)
		return -EINVAL;
	return 0;
}

/* Holes become zeroed blocks, unwritten extents written ones; i_size covers
 * the range; all of it durable before the reply. */
static int alloc_range(struct dfuse *df, uint64_t ino, uint64_t off, uint64_t len)
{
	uint64_t end = off + len;
	struct dfs_iomap m;
	int err;

	for (uint64_t pos = off; pos < end; pos = m.offset + m.length) {
		if ((err = dfs_iomap_begin(df->fs, ino, pos, end - pos, DFS_IOMAP_WRITE, &m)) < 0)
			return err;
		dfs_iomap_end(df->fs, ino, pos, end - pos, 0, DFS_IOMAP_WRITE, &m);
		if (m.offset != pos || m.length == 0)
			return daxfs_err(-EIO, "iomap of inode %" PRIu64 " at %" PRIu64 " did not "
					 "advance", ino, pos);
	}
	/* iomap_end with the whole range written grows i_size to its end. */
	if ((err = dfs_iomap_end(df->fs, ino, off, len, (ssize_t)len, DFS_IOMAP_WRITE, &m)) < 0)
		return err;
	if ((err = dfs_fsync(df->fs, ino, false)) < 0)
		return err;
	/* The kernel's size is stale now. Its cached pages are not: the holes
	 * they were read from read as the zeroes the new blocks hold. */
	(void)dfuse_inval_inode(df, ino, -1, 0);
	return 0;
}

static int device_index(struct mapped_device *md, const char *path)
{
	unsigned n = dm_md_num_devices(md);

	for (unsigned i = 0; i < n; i++) {
		struct dax_device *d = dm_md_device(md, i);

		if (d && strcmp(dax_device_path(d), path) == 0)
			return (int)i;
	}
	return -1;
}

__attribute__((format(printf, 3, 4)))
static int fail(struct daxfs_ioc_extents *x, int err, const char *fmt, ...)
{
	va_list ap;

	x->error = err;
	va_start(ap, fmt);
	vsnprintf(x->message, sizeof(x->message), fmt, ap);
	va_end(ap);
	return err;
}

/* Follows [pos, pos+len) of the mapped device down the chain, appending
 * pieces for file offset foff on. Returns the bytes done (stops early when
 * the piece array is full) or -1 after fail(). */
static int64_t resolve(struct dfuse *df, struct daxfs_ioc_extents *x, uint64_t foff, uint64_t pos,
		       uint64_t len)
{
	uint64_t done = 0;
	bool single = false;

	while (done < len) {
		struct dm_resolution r;
		long want = single ? 1 : (long)((len - done) / PAGE);
		long got = dm_dax_resolve(df->md, (pos + done) / PAGE, want, &r);

		/* A bad block anywhere in the range fails the whole call, as
		 * in the kernel: go page by page to name the poisoned one. */
		if (got == -EHWPOISON && !single) {
			single = true;
			continue;
		}
		if (got <= 0) {
			const char *why = got == -EHWPOISON ? "poisoned page" : strerror((int)-got);

			fail(x, -EIO, "file offset %" PRIu64 " (device byte %" PRIu64 "): %s%s%s: %s",
			     foff + done, pos + done, why, r.target_type ? " on target " : "",
			     r.target_type ? r.target_type : "", daxfs_errormsg());
			return -1;
		}
		int idx = device_index(df->md, r.device_path);
		if (idx < 0) {
			fail(x, -EIO, "file offset %" PRIu64 ": device %s is not open", foff + done,
			     r.device_path);
			return -1;
		}
		uint64_t bytes = (uint64_t)got * PAGE, doff = r.device_pgoff * PAGE;
		struct daxfs_ioc_piece *last = x->npieces ? &x->pieces[x->npieces - 1] : NULL;

		if (last && last->device_index == (uint32_t)idx &&
		    last->file_offset + last->length == foff + done &&
		    last->device_offset + last->length == doff) {
			last->length += bytes;
		} else if (x->npieces == DAXFS_IOC_MAX_PIECES) {
			break;
		} else {
			x->pieces[x->npieces++] = (struct daxfs_ioc_piece){
				.file_offset = foff + done, .length = bytes,
				.device_offset = doff, .device_index = (uint32_t)idx,
			};
		}
		done += bytes;
	}
	return (int64_t)done;
}

static int extents(struct dfuse *df, uint64_t ino, struct daxfs_ioc_extents *x)
{
	uint64_t off = x->offset, end;
	bool write = x->flags & DAXFS_IOC_EXTENTS_WRITE, converted = false;
	struct stat st;
	int err;

	if (!dfs_uses_dax(df->fs))
		return fail(x, -EOPNOTSUPP, "the filesystem does not use DAX (dax=never, or a table "
			    "that is not DAX-capable)");
	if ((err = dfs_getattr(df->fs, ino, &st)) < 0)
		return fail(x, err, "%s", daxfs_errormsg());
	end = off + (x->length + PAGE - 1) / PAGE * PAGE;
	if (end > ((uint64_t)st.st_size + PAGE - 1) / PAGE * PAGE)
		return fail(x, -ENXIO, "range [%" PRIu64 ", %" PRIu64 ") goes past the end of the "
			    "file (size %jd): map with DAXFS_MAP_ALLOC", off, end, (intmax_t)st.st_size);
	uint64_t pos = off;
	while (pos < end) {
		struct dfs_iomap m;

		if ((err = dfs_iomap_begin(df->fs, ino, pos, end - pos, DFS_IOMAP_REPORT, &m)) < 0)
			return fail(x, err, "file offset %" PRIu64 ": %s", pos, daxfs_errormsg());
		dfs_iomap_end(df->fs, ino, pos, end - pos, 0, DFS_IOMAP_REPORT, &m);
		if (m.type == DFS_IOMAP_HOLE)
			return fail(x, -ENXIO, "file offset %" PRIu64 " is a hole: map with "
				    "DAXFS_MAP_ALLOC", pos);
		if (m.type == DFS_IOMAP_UNWRITTEN && write) {
			/* Stores must read back: convert (the blocks were
			 * zeroed when preallocated). */
			if ((err = dfs_iomap_begin(df->fs, ino, pos, m.length, DFS_IOMAP_WRITE, &m)) < 0)
				return fail(x, err, "file offset %" PRIu64 ": %s", pos, daxfs_errormsg());
			dfs_iomap_end(df->fs, ino, pos, m.length, 0, DFS_IOMAP_WRITE, &m);
			converted = true;
		}
		if (m.offset != pos || m.length == 0 || m.addr % PAGE || m.length % PAGE)
			return fail(x, -EIO, "file offset %" PRIu64 ": unaligned extent", pos);
		int64_t done = resolve(df, x, pos, m.addr, m.length);
		if (done < 0)
			return x->error;
		pos += (uint64_t)done;
		if ((uint64_t)done < m.length)
			break;          /* the piece array is full */
	}
	x->covered = pos - off;
	/* MAP_SYNC: the metadata that makes the mapping reachable is durable
	 * before the application stores through it. */
	if (converted && (err = dfs_fsync(df->fs, ino, true)) < 0)
		return fail(x, err, "fsync: %s", daxfs_errormsg());
	return 0;
}

static void device(struct dfuse *df, struct daxfs_ioc_device *d)
{
	struct dax_device *dev = d->index < dm_md_num_devices(df->md) ? dm_md_device(df->md, d->index)
								      : NULL;

	if (!dev) {
		d->error = -ENXIO;
		return;
	}
	d->error = 0;
	d->size = dax_device_size(dev);
	d->flags = dax_device_is_pmem(dev) ? DAXFS_IOC_DEVICE_PMEM : 0;
	snprintf(d->path, sizeof(d->path), "%s", dax_device_path(dev));
}

/* EXTENTS and DEVICE: the answer goes back in a structure of the same size
 * (*out, malloc'd); their own failures are in the structure. */
static int query(struct dfuse *df, uint64_t ino, unsigned int cmd, uint64_t fh, const void *in_buf,
		 size_t in_bufsz, size_t out_bufsz, void **out, size_t *outsz)
{
	size_t size = cmd == DAXFS_IOC_EXTENTS ? sizeof(struct daxfs_ioc_extents)
					       : sizeof(struct daxfs_ioc_device);
	void *buf;

	if (in_bufsz != size || out_bufsz < size)
		return -EINVAL;
	/* The request buffer belongs to libfuse: answer in a copy. */
	if (!(buf = malloc(size)))
		return -ENOMEM;
	memcpy(buf, in_buf, size);
	if (*(const uint32_t *)buf != DAXFS_IOC_VERSION) {
		free(buf);
		return -EPROTO;
	}
	if (cmd == DAXFS_IOC_DEVICE) {
		device(df, buf);
	} else {
		struct daxfs_ioc_extents *x = buf;

		/* Every answer, a refusal too, says what it covers: the
		 * caller's own values must not come back as pieces. */
		x->error = 0;
		x->message[0] = '\0';
		x->npieces = 0;
		x->covered = 0;
		if (!holds_lease(ino, fh))
			fail(x, -ENOLCK, "no lease on this open file (DAXFS_IOC_LEASE_GET first)");
		else if (check_range(x->offset, x->length) < 0)
			fail(x, -EINVAL, "bad range: offset %" PRIu64 " length %" PRIu64
			     " (the offset must be page-aligned)", x->offset, x->length);
		else
			(void)extents(df, ino, x);
	}
	*out = buf;
	*outsz = size;
	return 0;
}

/* LEASE_GET, LEASE_PUT, ALLOC, SYNC: a range in, nothing out. Returns 1
 * when the inode's cached pages are to be dropped after the reply. */
static int range_command(struct dfuse *df, uint64_t ino, unsigned int cmd, uint64_t fh,
			 const void *in_buf, size_t in_bufsz)
{
	struct daxfs_ioc_range r;
	int err;

	if (cmd != DAXFS_IOC_LEASE_GET && cmd != DAXFS_IOC_LEASE_PUT && cmd != DAXFS_IOC_ALLOC &&
	    cmd != DAXFS_IOC_SYNC)
		return -ENOTTY;
	if (in_bufsz != sizeof(r))
		return -EINVAL;
	memcpy(&r, in_buf, sizeof(r));
	if (r.version != DAXFS_IOC_VERSION)
		return -EPROTO;
	switch (cmd) {
	case DAXFS_IOC_LEASE_GET:
		return lease_get(df, ino, fh);
	case DAXFS_IOC_LEASE_PUT:
		return lease_put(df, ino, fh);
	case DAXFS_IOC_ALLOC:
		if (!holds_lease(ino, fh))
			return -ENOLCK;
		if ((err = check_range(r.offset, r.length)))
			return err;
		return alloc_range(df, ino, r.offset, r.length);
	case DAXFS_IOC_SYNC:
		if (!holds_lease(ino, fh))
			return -ENOLCK;
		if ((err = check_range(r.offset, r.length)))
			return err;
		err = dfuse_inval_inode(df, ino, (off_t)r.offset, (off_t)r.length);
		return err == -ENOENT ? 0 : err;     /* -ENOENT: nothing of it is cached */
	}
	abort();        /* every command was checked above */
}

int dfuse_client_request(struct dfuse *df, fuse_ino_t ino, unsigned int cmd, uint64_t fh,
			 const void *in_buf, size_t in_bufsz, size_t out_bufsz, void **out,
			 size_t *outsz)
{
	int err;

	if (cmd == DAXFS_IOC_EXTENTS || cmd == DAXFS_IOC_DEVICE)
		err = query(df, ino, cmd, fh, in_buf, in_bufsz, out_bufsz, out, outsz);
	else
		err = range_command(df, ino, cmd, fh, in_buf, in_bufsz);
	return err < 0 ? -dfuse_errno(err, "direct access", ino) : err;
}
