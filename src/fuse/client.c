/* fuse/client.c - the daemon side of libdaxfs: leases per open file, extent maps down the chain, allocation */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daxfs/ioctl.h"
#include "fuse/client.h"
#include "fuse/extmap.h"
#include "fuse/holders.h"
#include "fuse/run.h"
#include "util/err.h"

#define PAGE 4096ull

/*
 * Handles are numbered here, at open, so that two opens of one file are told
 * apart when one of them is released, and carry the open's access mode in
 * their low bits: the kernel sends only the handle with an ioctl, and the
 * handle comes from the kernel's open file, so the caller cannot forge it.
 * The next bit says the open was given FOPEN_DIRECT_IO (dfuse_client_direct).
 */
#define FH_MODE(fh) ((unsigned)(fh) & O_ACCMODE)
#define FH_DIRECT 4u

static atomic_uint_fast64_t next_fh = 1;

static bool fh_readable(uint64_t fh)
{
	return FH_MODE(fh) == O_RDONLY || FH_MODE(fh) == O_RDWR;
}

static bool fh_writable(uint64_t fh)
{
	return FH_MODE(fh) == O_RDWR;
}

void dfuse_client_open(struct dfuse *df, uint64_t ino, struct fuse_file_info *fi)
{
	fi->fh = (atomic_fetch_add(&next_fh, 1) << 3) | (fi->direct_io ? FH_DIRECT : 0) |
		 (unsigned)(fi->flags & O_ACCMODE);
	/* An open without keep_cache drops the inode's cached pages, and the
	 * mapping may have changed them since they were read. */
	if (dfs_lease_count(df->fs, ino) > 0)
		fi->keep_cache = 0;
	dfuse_run_opened(df, ino, fi->fh, FH_MODE(fi->fh) != O_RDONLY);
}

bool dfuse_client_direct(uint64_t fh)
{
	return fh & FH_DIRECT;
}

void dfuse_client_release(struct dfuse *df, uint64_t ino, struct fuse_file_info *fi)
{
	dfuse_holders_release(df, fi->fh, ino);
	dfuse_run_released(df, ino, fi->fh, FH_MODE(fi->fh) != O_RDONLY);
}

int dfuse_client_check_swap(struct dfuse *df, bool force)
{
	uint64_t ino = dfuse_holders_live(df);

	if (!ino)
		return 0;
	if (!force)
		return daxfs_err(-EBUSY, "inode %" PRIu64 " is mapped directly by an application "
				 "(libdaxfs); a new table could move its blocks under the mapping: "
				 "unmap first, or force the swap (which revokes the mappings)", ino);
	fuse_log(FUSE_LOG_WARNING, "daxfs-fuse: forced table swap: revoked %zu direct-access "
		 "lease holders; their blocks stay held until they unmap\n", dfuse_holders_revoke(df));
	dfuse_run_changed_all(df, true);
	return 0;
}

/* ---- who may ask ------------------------------------------------------------ */

enum need {
	NEED_READ = 1u << 0,    /* open for reading, and the caller's read permission */
	NEED_WRITE = 1u << 1,   /* open for reading and writing, and write permission */
};

/* The open file and the caller, as the kernel checks fds and modes: 0, or
 * -EBADF or -EACCES, for ioctl(2) itself to fail with. */
static int check_caller(struct dfuse *df, const struct dfuse_ioctl_req *rq, unsigned need)
{
	uint64_t ino = rq->ino, fh = rq->fh;
	struct stat st;
	int err;

	if ((need & NEED_READ) && !fh_readable(fh))
		return daxfs_err(-EBADF, "the file is not open for reading");
	if ((need & NEED_WRITE) && !fh_writable(fh))
		return daxfs_err(-EBADF, "the file is not open for reading and writing");
	if ((err = dfs_getattr(df->fs, ino, &st)) < 0)
		return err;
	if (dfuse_may_access(rq->who, &st, ((need & NEED_READ) ? R_OK : 0) |
			     ((need & NEED_WRITE) ? W_OK : 0)) < 0)
		return daxfs_err(-EACCES, "uid %u may not %s inode %" PRIu64,
				 (unsigned)rq->who->uid,
				 (need & NEED_WRITE) ? "write" : "read", ino);
	return 0;
}

/* The open file's leases: 0, or -ENOLCK, -ESTALE, -EPERM with a message. */
static int check_lease(struct dfuse *df, uint64_t ino, uint64_t fh, bool write)
{
	struct dfuse_holding h;

	dfuse_holders_state(df, fh, ino, &h);
	if (h.reads + h.writes == 0)
		return daxfs_err(-ENOLCK, "no lease on this open file (DAXFS_IOC_LEASE_GET first)");
	if (h.revoked)
		return daxfs_err(-ESTALE, "the direct mappings of this open file were revoked by a "
				 "forced table swap (daxfs-ctl reload --force): unmap them all, "
				 "then map again");
	if (write && h.writes == 0)
		return daxfs_err(-EPERM, "a read lease: this needs a write lease");
	return 0;
}

/* ---- the requests ----------------------------------------------------------- */

static int check_range(uint64_t off, uint64_t len)
{
	if (len == 0 || off % PAGE || off > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - off)
		return -EINVAL;
	return 0;
}

/* Holes become zeroed blocks, unwritten extents written ones; i_size covers
 * the range unless keep_size; all of it durable before the reply. */
static int alloc_range(struct dfuse *df, uint64_t ino, uint64_t off, uint64_t len, bool keep_size,
		       bool ahead)
{
	struct dfs_iomap m;
	int err;

	/* all or nothing: a mapping of a large sparse file that does not fit
	 * falls back to the page cache without filling the filesystem */
	if ((err = dfs_alloc_written(df->fs, ino, off, len, ahead)) < 0)
		return err;
	/* iomap_end with the whole range written grows i_size to its end. */
	if (!keep_size &&
	    (err = dfs_iomap_end(df->fs, ino, off, len, (ssize_t)len, DFS_IOMAP_WRITE, &m)) < 0)
		return err;
	if ((err = dfs_fsync(df->fs, ino, false)) < 0)
		return err;
	dfuse_run_publish(df, ino, true);
	if (keep_size)
		return 0;
	/* The kernel's size is stale now. Its cached pages are not: the holes
	 * they were read from read as the zeroes the new blocks hold. */
	(void)dfuse_inval_inode(df, ino, -1, 0);
	return 0;
}

/* A refusal covers nothing (daxfs/ioctl.h), also when it comes after the
 * range's first extents were resolved into pieces. */
__attribute__((format(printf, 3, 4)))
static int fail(struct daxfs_ioc_extents *x, int err, const char *fmt, ...)
{
	va_list ap;

	x->error = err;
	x->npieces = 0;
	x->covered = 0;
	va_start(ap, fmt);
	vsnprintf(x->message, sizeof(x->message), fmt, ap);
	va_end(ap);
	return err;
}

/* Appends a piece, merging it into the last one where it continues it.
 * Returns false when the array is full. */
static bool add_piece(struct daxfs_ioc_extents *x, uint64_t foff, uint64_t len, uint64_t doff,
		      uint32_t idx, uint32_t kind)
{
	struct daxfs_ioc_piece *last = x->npieces ? &x->pieces[x->npieces - 1] : NULL;

	if (last && last->kind == kind && last->file_offset + last->length == foff &&
	    (idx == DAXFS_IOC_NO_DEVICE ? last->device_index == idx :
	     last->device_index == idx && last->device_offset + last->length == doff)) {
		last->length += len;
		return true;
	}
	if (x->npieces == DAXFS_IOC_MAX_PIECES)
		return false;
	x->pieces[x->npieces++] = (struct daxfs_ioc_piece){
		.file_offset = foff, .length = len, .device_offset = doff, .device_index = idx,
		.kind = kind,
	};
	return true;
}

/* Follows [pos, pos+len) of the mapped device down the chain, appending
 * pieces for file offset foff on. Returns the bytes done (stops early when
 * the piece array is full) or -1 after fail(). With all, a page that cannot
 * be reached (poison, an error target) becomes a BAD piece instead. */
static int64_t resolve(struct dfuse *df, struct daxfs_ioc_extents *x, uint64_t foff, uint64_t pos,
		       uint64_t len, bool all)
{
	uint64_t done = 0;

	while (done < len) {
		struct dm_resolution r;
		uint64_t bytes = dfuse_extmap_piece(df, pos + done, len - done, &r);

		if (r.error && all) {
			if (!add_piece(x, foff + done, bytes, 0, DAXFS_IOC_NO_DEVICE,
				       DAXFS_IOC_PIECE_BAD))
				break;
			done += bytes;
			continue;
		}
		/* A bad block fails its page alone, named by its own piece. */
		if (r.error) {
			const char *why = r.error == -EHWPOISON ? "poisoned page" : strerror(-r.error);

			fail(x, -EIO, "file offset %" PRIu64 " (device byte %" PRIu64 "): %s%s%s: %s",
			     foff + done, pos + done, why, r.target_type ? " on target " : "",
			     r.target_type ? r.target_type : "", daxfs_errormsg());
			return -1;
		}
		int idx = r.device_index;
		if (idx < 0) {
			fail(x, -EIO, "file offset %" PRIu64 ": device %s is not open", foff + done,
			     r.device_path);
			return -1;
		}
		if (!add_piece(x, foff + done, bytes, r.device_offset, (uint32_t)idx,
			       DAXFS_IOC_PIECE_DATA))
			break;
		done += bytes;
	}
	return (int64_t)done;
}

static int extents(struct dfuse *df, uint64_t ino, struct daxfs_ioc_extents *x)
{
	uint64_t off = x->offset, end;
	bool write = x->flags & DAXFS_IOC_EXTENTS_WRITE, converted = false;
	bool all = x->flags & DAXFS_IOC_EXTENTS_ALL;
	struct stat st;
	int err;

	if (!dfs_uses_dax(df->fs))
		return fail(x, -EOPNOTSUPP, "the filesystem does not use DAX (dax=never, or a table "
			    "that is not DAX-capable)");
	if ((err = dfs_getattr(df->fs, ino, &st)) < 0)
		return fail(x, err, "%s", daxfs_errormsg());
	end = off + (x->length + PAGE - 1) / PAGE * PAGE;
	if (!all && end > ((uint64_t)st.st_size + PAGE - 1) / PAGE * PAGE)
		return fail(x, -ENXIO, "range [%" PRIu64 ", %" PRIu64 ") goes past the end of the "
			    "file (size %jd): map with DAXFS_MAP_ALLOC", off, end, (intmax_t)st.st_size);
	uint64_t pos = off;
	while (pos < end) {
		struct dfs_iomap m;

		if ((err = dfs_iomap_begin(df->fs, ino, pos, end - pos, DFS_IOMAP_REPORT, &m)) < 0)
			return fail(x, err, "file offset %" PRIu64 ": %s", pos, daxfs_errormsg());
		dfs_iomap_end(df->fs, ino, pos, end - pos, 0, DFS_IOMAP_REPORT, &m);
		if (all && (m.type == DFS_IOMAP_HOLE || (m.type == DFS_IOMAP_UNWRITTEN && !write))) {
			/* nothing to map: holes and preallocated blocks read as
			 * zeroes, and a store needs DAXFS_IOC_ALLOC first */
			uint64_t n = (m.offset + m.length + PAGE - 1) / PAGE * PAGE - pos;

			if (m.offset != pos || m.length == 0 || pos % PAGE)
				return fail(x, -EIO, "file offset %" PRIu64 ": unaligned extent", pos);
			if (!add_piece(x, pos, n, 0, DAXFS_IOC_NO_DEVICE, m.type == DFS_IOMAP_HOLE ?
				       DAXFS_IOC_PIECE_HOLE : DAXFS_IOC_PIECE_UNWRITTEN))
				break;
			pos += n;
			continue;
		}
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
		int64_t done = resolve(df, x, pos, m.addr, m.length, all);
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
	struct dm_ioctl_req rq = { .cmd = DM_IOC_DEVICE, .index = d->index };
	struct dm_ioctl_result res;

	d->error = dm_ioctl(df->md, &rq, &res);
	if (d->error == 0) {
		d->size = res.devices[0].size;
		d->st_dev = res.devices[0].st_dev;
		d->st_ino = res.devices[0].st_ino;
		d->flags = res.devices[0].is_pmem ? DAXFS_IOC_DEVICE_PMEM : 0;
		snprintf(d->path, sizeof(d->path), "%s", res.devices[0].path);
	}
	dm_ioctl_result_free(&res);
}

/* Grants are part of the channel's answer to a caller who passed the
 * checks; the socket that hands the descriptor over lives in grant.c. */
static void grant(struct dfuse *df, const struct dfuse_ioctl_req *rq, struct daxfs_ioc_grant *g)
{
	uid_t uid = rq->who->uid;
	bool write = g->flags & DAXFS_IOC_GRANT_WRITE;
	struct dm_ioctl_result res = { .fd = -1 };
	int err;

	if (!dfuse_grant_devices(df->grant))
		err = daxfs_err(-EOPNOTSUPP, "this mount hands out no descriptors of its devices "
				"(daxfs-fuse -o dax_users=GROUP)");
	else if (uid != 0 && !dfuse_in_group(rq->who, df->dax_group))
		err = daxfs_err(-EPERM, "uid %u is not in group %u, which this mount lets map its "
				"devices (-o dax_users)", (unsigned)uid,
				(unsigned)df->dax_group);
	else if ((err = dm_ioctl(df->md, &(struct dm_ioctl_req){ .cmd = DM_IOC_DEVICE,
							       .index = g->index }, &res)) == 0)
		err = dfuse_grant_issue(df->grant, rq->fh, rq->ino, uid, g->index, write, g->token,
					g->socket, sizeof(g->socket));
	dm_ioctl_result_free(&res);
	g->error = err;
}

/* Copies the thread's message into an answer's message field. */
static void set_message(char *msg, size_t size, int err)
{
	snprintf(msg, size, "%s", err < 0 ? daxfs_errormsg() : "");
}

/* EXTENTS, DEVICE, GRANT: the answer goes back in a structure of the same
 * size (*out, malloc'd). Who may ask is ioctl(2)'s error; what the daemon
 * could not do is the structure's, with a message. */
static int query(struct dfuse *df, const struct dfuse_ioctl_req *rq, void **out, size_t *outsz)
{
	uint64_t ino = rq->ino, fh = rq->fh;
	unsigned int cmd = rq->cmd;
	size_t size = cmd == DAXFS_IOC_EXTENTS ? sizeof(struct daxfs_ioc_extents)
		      : cmd == DAXFS_IOC_DEVICE ? sizeof(struct daxfs_ioc_device)
		      : sizeof(struct daxfs_ioc_grant);
	void *buf;
	int err;

	if (rq->in_size != size || rq->out_size < size)
		return -EINVAL;
	/* The request buffer belongs to libfuse: answer in a copy. */
	if (!(buf = malloc(size)))
		return -ENOMEM;
	memcpy(buf, rq->in, size);
	if (*(const uint32_t *)buf != DAXFS_IOC_VERSION) {
		free(buf);
		return -EPROTO;
	}
	if (cmd == DAXFS_IOC_DEVICE) {
		struct daxfs_ioc_device *d = buf;

		d->flags = 0;
		d->size = d->st_dev = d->st_ino = 0;
		d->path[0] = '\0';
		if (!(err = check_caller(df, rq, NEED_READ)) &&
		    (d->error = check_lease(df, ino, fh, false)) == 0) {
			device(df, d);
			if (dfuse_grant_devices(df->grant) && d->error == 0)
				d->flags |= DAXFS_IOC_DEVICE_GRANT;
		}
	} else if (cmd == DAXFS_IOC_GRANT) {
		struct daxfs_ioc_grant *g = buf;
		bool write = g->flags & DAXFS_IOC_GRANT_WRITE;

		memset(g->token, 0, sizeof(g->token));
		g->socket[0] = '\0';
		if (!(err = check_caller(df, rq, NEED_READ | (write ? NEED_WRITE : 0)))) {
			if ((g->error = check_lease(df, ino, fh, write)) == 0)
				grant(df, rq, g);
			set_message(g->message, sizeof(g->message), g->error);
		}
	} else {
		struct daxfs_ioc_extents *x = buf;
		bool write = x->flags & DAXFS_IOC_EXTENTS_WRITE;

		/* Every answer, a refusal too, says what it covers: the
		 * caller's own values must not come back as pieces. */
		x->error = 0;
		x->message[0] = '\0';
		x->npieces = 0;
		x->covered = 0;
		if (!(err = check_caller(df, rq, NEED_READ | (write ? NEED_WRITE : 0)))) {
			if ((err = check_lease(df, ino, fh, write)) < 0)
				fail(x, err, "%s", daxfs_errormsg());
			else if (check_range(x->offset, x->length) < 0)
				fail(x, -EINVAL, "bad range: offset %" PRIu64 " length %" PRIu64
				     " (the offset must be page-aligned)", x->offset, x->length);
			else
				(void)extents(df, ino, x);
			err = 0;
		}
	}
	if (err < 0) {
		free(buf);
		return err;
	}
	*out = buf;
	*outsz = size;
	return 0;
}

/*
 * fallocate's file_modified: a caller without CAP_FSETID who changes a
 * set-id file drops its set-id bits. The kernel asks for that with a SETATTR
 * before a write or fallocate, but never sees ALLOC.
 */
/* Whether an ALLOC is what a store through a mapping allocates (MAPPED),
 * which drops no set-id bits, as page_mkwrite drops none: such a store
 * reaches no page past EOF's (SIGBUS), so a range past it is an allocation
 * like fallocate's, which drops them. */
static bool mapped_store(struct dfuse *df, uint64_t ino, const struct daxfs_ioc_range *r)
{
	struct stat st;

	return (r->flags & DAXFS_IOC_ALLOC_MAPPED) && dfs_getattr(df->fs, ino, &st) == 0 &&
	       r->offset + r->length <= ((uint64_t)st.st_size + PAGE - 1) / PAGE * PAGE;
}

static int kill_priv(struct dfuse *df, const struct dfuse_caller *who, uint64_t ino)
{
	const struct stat none = { 0 };
	struct stat st;
	int err;

	if ((err = dfs_getattr(df->fs, ino, &st)) < 0)
		return err;
	if (!dfuse_mode_setid(st.st_mode) ||
	    (who->req ? dfuse_req_fsetid(who->req) : who->uid == 0))
		return 0;
	return dfs_setattr(df->fs, ino, &none, DFS_SET_KILL_SUIDGID, &st);
}

/* DAXFS_IOC_WRITTEN_FLUSH: each written extent of the range flushed. */
struct flush_walk {
	struct dfuse *df;
	uint64_t off, end;
};

static int flush_extent(void *arg, const struct dfs_iomap *m)
{
	const struct flush_walk *w = arg;
	uint64_t from = m->offset > w->off ? m->offset : w->off;
	uint64_t to = m->offset + m->length < w->end ? m->offset + m->length : w->end;

	if (m->type != DFS_IOMAP_MAPPED || from >= to)
		return 0;
	return dfs_flush_stored(w->df->fs, m->addr + (from - m->offset), to - from, false);
}

static int flush_range(struct dfuse *df, uint64_t ino, uint64_t off, uint64_t len)
{
	const struct dfuse_extmap_ops ops = { .extent = flush_extent };
	struct flush_walk w = { df, off, off + len };

	return len ? dfuse_extmap_walk(df, ino, off, len, &ops, &w) : 0;
}

/* DAXFS_IOC_RUN_WRITTEN: what a write() daxfs-run served with stores does
 * to the file's metadata and to the kernel's caches. */
static int run_written(struct dfuse *df, const struct dfuse_caller *who, uint64_t ino,
		       const struct daxfs_ioc_range *r)
{
	const uint32_t known = DAXFS_IOC_WRITTEN_SIZE | DAXFS_IOC_WRITTEN_TIME |
			       DAXFS_IOC_WRITTEN_INVAL | DAXFS_IOC_WRITTEN_SYNC |
			       DAXFS_IOC_WRITTEN_FLUSH | DAXFS_IOC_WRITTEN_DRAIN |
			       DAXFS_IOC_WRITTEN_MAPPED | DAXFS_IOC_WRITTEN_TRIM;
	unsigned ext = 0;
	int err;

	if ((r->flags & ~known) || r->offset > (uint64_t)INT64_MAX ||
	    r->length > (uint64_t)INT64_MAX - r->offset ||
	    ((r->flags & DAXFS_IOC_WRITTEN_SIZE) && r->length == 0))
		return -EINVAL;
	if ((r->flags & DAXFS_IOC_WRITTEN_FLUSH) &&
	    (err = flush_range(df, ino, r->offset, r->length)) < 0)
		return err;
	if ((r->flags & DAXFS_IOC_WRITTEN_DRAIN) && (err = dfs_flush_stored(df->fs, 0, 0, true)) < 0)
		return err;
	if (r->flags & DAXFS_IOC_WRITTEN_SIZE)
		ext |= DFS_EXTEND_SIZE;
	if (r->flags & DAXFS_IOC_WRITTEN_TIME)
		ext |= DFS_EXTEND_TIME;
	if (r->flags & DAXFS_IOC_WRITTEN_SYNC)
		ext |= DFS_EXTEND_SYNC;
	/* a write drops set-id bits, as file_remove_privs does */
	if ((r->flags & DAXFS_IOC_WRITTEN_TIME) && !(r->flags & DAXFS_IOC_WRITTEN_MAPPED) &&
	    (err = kill_priv(df, who, ino)))
		return err;
	/* daxfs-run extends under the extend lock (daxfs/ioctl.h): no other
	 * holder's write past EOF is on its way, so the gap before the
	 * caller's is zeroed (a malicious caller could only zero data of a
	 * file it may write anyway) */
	if (ext & DFS_EXTEND_SIZE)
		dfs_lease_fence(df->fs, ino, true);
	err = ext ? dfs_write_extend(df->fs, ino, r->offset, r->length, ext) : 0;
	if (ext & DFS_EXTEND_SIZE)
		dfs_lease_fence(df->fs, ino, false);
	if (err < 0)
		return err;
	if (ext & (DFS_EXTEND_SIZE | DFS_EXTEND_TIME)) {
		dfuse_run_publish(df, ino, false);
		/* other processes' stat and page-cache reads see the new
		 * size and times from the reply on */
		(void)dfuse_inval_inode(df, ino, -1, 0);
	}
	if (r->flags & DAXFS_IOC_WRITTEN_INVAL) {
		dfuse_run_uncache(df, ino);
		err = dfuse_inval_inode(df, ino, 0, 0);
		if (err < 0 && err != -ENOENT)
			return err;
	}
	if (r->flags & DAXFS_IOC_WRITTEN_TRIM) {
		if ((err = dfs_trim_unshared(df->fs, ino, r->offset, r->length, 1)) < 0)
			return err;
		if (err == 1)
			dfuse_run_ahead_trimmed(df, ino, r->offset + r->length);
	}
	return 0;
}

/* DAXFS_IOC_RUN_OPEN: a lease and the inode's slot of the daxfs-run table.
 * Returns 1 when this was the inode's first lease (its cached pages are to
 * be dropped after the reply, as for LEASE_GET), 0, or ioctl(2)'s error. */
static int run_open(struct dfuse *df, const struct dfuse_ioctl_req *rq, struct daxfs_ioc_run_open *o)
{
	uint64_t ino = rq->ino, fh = rq->fh;
	uid_t uid = rq->who->uid;
	bool write = o->flags & DAXFS_IOC_RUN_WRITE;
	uint32_t slot = 0;
	int err, first;

	o->error = 0;
	o->slot = o->nslots = o->table_id = 0;
	memset(o->token, 0, sizeof(o->token));
	o->socket[0] = o->message[0] = '\0';
	if (o->flags & ~(uint32_t)(DAXFS_IOC_RUN_WRITE | DAXFS_IOC_RUN_TABLE))
		return -EINVAL;
	if ((err = check_caller(df, rq, NEED_READ | (write ? NEED_WRITE : 0))))
		return err;
	if (!df->run || !df->grant) {
		err = daxfs_err(-EOPNOTSUPP, "the mount does not use DAX (dax=never, or its table is "
				"not DAX-capable) or caches writes in the kernel (writeback_cache)");
		goto out;
	}
	if ((first = dfuse_holders_get(df, fh, ino, uid, write,
				       dfuse_may_control(rq->who) ? UINT_MAX : df->max_leases)) < 0) {
		err = first;
		goto out;
	}
	if ((err = dfuse_run_attach(df, ino, fh, write, &slot)) < 0)
		goto put;
	if (o->flags & DAXFS_IOC_RUN_TABLE) {
		err = dfuse_grant_issue(df->grant, fh, ino, uid, DFUSE_GRANT_TABLE, write, o->token,
					o->socket, sizeof(o->socket));
		if (err < 0)
			goto put;
	}
	o->slot = slot;
	o->nslots = dfuse_run_nslots(df);
	o->table_id = dfuse_run_table_id(df);
	/* attributes the kernel cached before may go stale without a
	 * request from now on (dfuse_run_attr_timeout) */
	if (write)
		(void)dfuse_inval_inode(df, ino, -1, 0);
	return first;
put:
	{
		char msg[DAXFS_IOC_MSG_LEN];

		snprintf(msg, sizeof(msg), "%s", daxfs_errormsg());
		(void)dfuse_holders_put(df, fh, ino, uid, write);
		dfuse_run_unleased(df, ino);
		daxfs_err(err, "%s", msg);
	}
out:
	o->error = err;
	set_message(o->message, sizeof(o->message), err);
	return 0;
}

/* DAXFS_IOC_RUN_OPEN's answer goes back in a structure of the same size
 * (*out, malloc'd), as for query(). */
static int run_open_request(struct dfuse *df, const struct dfuse_ioctl_req *rq, void **out,
			    size_t *outsz)
{
	struct daxfs_ioc_run_open *o;
	int err;

	if (rq->in_size != sizeof(*o) || rq->out_size < sizeof(*o))
		return -EINVAL;
	if (!(o = malloc(sizeof(*o))))
		return -ENOMEM;
	memcpy(o, rq->in, sizeof(*o));
	if (o->version != DAXFS_IOC_VERSION) {
		free(o);
		return -EPROTO;
	}
	if ((err = run_open(df, rq, o)) < 0) {
		free(o);
		return err;
	}
	*out = o;
	*outsz = sizeof(*o);
	return err;
}

/* LEASE_GET, LEASE_PUT, ALLOC, SYNC, RUN_WRITTEN, RUN_MARK, RUN_MAPPED: a range in, nothing out. Returns 1
 * when the inode's cached pages are to be dropped after the reply. */
static int range_command(struct dfuse *df, const struct dfuse_ioctl_req *rq)
{
	uint64_t ino = rq->ino, fh = rq->fh;
	unsigned int cmd = rq->cmd;
	uid_t uid = rq->who->uid;
	struct daxfs_ioc_range r;
	bool write;
	int err;

	if (cmd != DAXFS_IOC_LEASE_GET && cmd != DAXFS_IOC_LEASE_PUT && cmd != DAXFS_IOC_ALLOC &&
	    cmd != DAXFS_IOC_SYNC && cmd != DAXFS_IOC_RUN_WRITTEN && cmd != DAXFS_IOC_RUN_MARK &&
	    cmd != DAXFS_IOC_RUN_MAPPED)
		return -ENOTTY;
	if (rq->in_size != sizeof(r))
		return -EINVAL;
	memcpy(&r, rq->in, sizeof(r));
	if (r.version != DAXFS_IOC_VERSION)
		return -EPROTO;
	write = r.flags & DAXFS_IOC_LEASE_WRITE;
	switch (cmd) {
	case DAXFS_IOC_LEASE_GET:
		if (r.flags & ~(uint32_t)DAXFS_IOC_LEASE_WRITE)
			return -EINVAL;
		if (!dfs_uses_dax(df->fs))
			return -EOPNOTSUPP;
		if ((err = check_caller(df, rq, NEED_READ | (write ? NEED_WRITE : 0))))
			return err;
		/* Root and the user who mounted can revoke leases (a forced
		 * swap), so only other users are limited. */
		return dfuse_holders_get(df, fh, ino, uid, write,
					 dfuse_may_control(rq->who) ? UINT_MAX : df->max_leases);
	case DAXFS_IOC_LEASE_PUT:
		err = dfuse_holders_put(df, fh, ino, uid, write);
		dfuse_run_unleased(df, ino);
		return err;
	case DAXFS_IOC_ALLOC:
		/* a store through a mapping never changes the size */
		if ((r.flags & ~(uint32_t)(DAXFS_IOC_ALLOC_KEEP_SIZE | DAXFS_IOC_ALLOC_MAPPED |
					   DAXFS_IOC_ALLOC_AHEAD)) ||
		    ((r.flags & (DAXFS_IOC_ALLOC_AHEAD | DAXFS_IOC_ALLOC_MAPPED)) &&
		     !(r.flags & DAXFS_IOC_ALLOC_KEEP_SIZE)))
			return -EINVAL;
		if ((err = check_caller(df, rq, NEED_READ | NEED_WRITE)) ||
		    (err = check_lease(df, ino, fh, true)) || (err = check_range(r.offset, r.length)) ||
		    (!mapped_store(df, ino, &r) && (err = kill_priv(df, rq->who, ino))))
			return err;
		/* before the blocks exist: the lease cannot go with them unknown */
		if ((r.flags & DAXFS_IOC_ALLOC_AHEAD) &&
		    (err = dfuse_run_ahead(df, ino, r.offset + r.length)) < 0)
			return err;
		if (r.flags & DAXFS_IOC_ALLOC_KEEP_SIZE)
			return alloc_range(df, ino, r.offset, r.length, true,
					   r.flags & DAXFS_IOC_ALLOC_AHEAD);
		/* libdaxfs's: never daxfs-run's, which extends under the extend
		 * lock and would wait here for itself */
		{
			struct dfuse_run_extend ext;

			if ((err = dfuse_run_extend_begin(df, ino, r.offset, &ext)) == 0)
				err = alloc_range(df, ino, r.offset, r.length, false, false);
			dfuse_run_extend_end(df, ino, &ext);
			return err;
		}
	case DAXFS_IOC_RUN_MARK: {
		struct stat st;

		if (FH_MODE(fh) == O_RDONLY)
			return daxfs_err(-EBADF, "the file is not open for writing");
		if ((err = dfs_getattr(df->fs, ino, &st)) < 0)
			return err;
		if (dfuse_may_access(rq->who, &st, W_OK) < 0)
			return -EACCES;
		if (!dfuse_holders_writer(df, ino, uid))
			return daxfs_err(-ENOLCK, "no write lease of inode %" PRIu64 " by uid %u", ino,
					 (unsigned)uid);
		return dfuse_run_mark(df, ino, fh);
	}
	case DAXFS_IOC_RUN_WRITTEN:
		/* persisting what is there changes nothing: a reader may */
		write = r.flags & ~(uint32_t)(DAXFS_IOC_WRITTEN_FLUSH | DAXFS_IOC_WRITTEN_DRAIN);
		if ((err = check_caller(df, rq, NEED_READ | (write ? NEED_WRITE : 0))) ||
		    (err = check_lease(df, ino, fh, write)))
			return err;
		return run_written(df, rq->who, ino, &r);
	case DAXFS_IOC_RUN_MAPPED:
		/* DROP and RECALLED only undo what an ADD under a lease did,
		 * also once a forced swap revoked it */
		if (r.flags == DAXFS_IOC_MAPPED_ADD && (err = check_lease(df, ino, fh, false)))
			return err;
		return dfuse_run_mapped(df, ino, fh, r.flags, r.offset);
	case DAXFS_IOC_SYNC:
		if ((err = check_lease(df, ino, fh, false)) || (err = check_range(r.offset, r.length)))
			return err;
		err = dfuse_inval_inode(df, ino, (off_t)r.offset, (off_t)r.length);
		return err == -ENOENT ? 0 : err;     /* -ENOENT: nothing of it is cached */
	}
	abort();        /* every command was checked above */
}

int dfuse_client_request(struct dfuse *df, const struct dfuse_ioctl_req *rq, void **out,
			 size_t *outsz)
{
	int err;

	daxfs_err_clear();
	/* every command sees (and a size change starts from) the size
	 * daxfs-run's writers left pending */
	dfuse_run_fold(df, rq->ino);
	if (rq->cmd == DAXFS_IOC_EXTENTS || rq->cmd == DAXFS_IOC_DEVICE || rq->cmd == DAXFS_IOC_GRANT)
		err = query(df, rq, out, outsz);
	else if (rq->cmd == DAXFS_IOC_RUN_OPEN)
		err = run_open_request(df, rq, out, outsz);
	else
		err = range_command(df, rq);
	return err < 0 ? -dfuse_errno(err, "direct access", rq->ino) : err;
}
