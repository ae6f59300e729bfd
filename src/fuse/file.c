/* fuse/file.c - regular files: create, open, read, write_buf, flush, release, fsync, fallocate, lseek, copy_file_range */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>

#include "daxfs/dax.h"

#include "fuse/client.h"
#include "fuse/dfuse.h"
#include "fuse/run.h"
#include "util/err.h"

/* What every open of a regular file does after the inode is known. */
static int open_file(struct dfuse *df, uint64_t ino, struct fuse_file_info *fi, bool created)
{
	/* Counted first: a store of the inode must not overlap the truncate. */
	dfuse_store_open(df, ino);
	/* FUSE_CAP_ATOMIC_O_TRUNC: the truncate is ours. Linux truncates on
	 * O_TRUNC whatever the access mode (the kernel checked write access). */
	if ((fi->flags & O_TRUNC) && !created) {
		struct stat attr = { .st_size = 0 }, st;

		dfuse_run_layout_begin(df, ino);
		int err = dfs_setattr(df->fs, ino, &attr, DFS_SET_SIZE | DFS_SET_MTIME_NOW, &st);

		dfuse_run_layout_end(df, ino);
		dfuse_run_recall(df, ino, false);

		if (err < 0) {
			dfuse_store_release(df, ino);
			return err;
		}
	}
	/* Every open shares the page cache, which is what makes mmap work and
	 * stay coherent with read()/write(). An O_DIRECT open gets
	 * FOPEN_DIRECT_IO where the connection still lets it be mapped shared
	 * (rawio.c): its writes inside EOF then run side by side instead of
	 * one round trip at a time, and the kernel writes back and drops the
	 * cached pages they cover. Elsewhere the kernel serves O_DIRECT through
	 * fuse_direct_IO, which does the same one writer at a time. The cache
	 * survives across opens because nothing but this kernel changes the
	 * data (a table swap invalidates it explicitly), unless the mount
	 * asked for no_keep_cache.
	 *
	 * An O_APPEND writer gets FOPEN_DIRECT_IO too where daxfs-run may serve
	 * the file. Its writes land at the daemon's end of the file, and
	 * daxfs-run's direct appends move that end without the kernel seeing
	 * it: the kernel's i_size can be behind, and a write through the page
	 * cache is copied into the cached pages at that i_size before the
	 * request goes out, where they would show the record in the wrong
	 * place to every reader until dropped (and dropping them after the
	 * reply can wait for a writer that waits for a worker). A direct write
	 * leaves the cached pages alone. */
	bool append = (fi->flags & O_APPEND) && (fi->flags & O_ACCMODE) != O_RDONLY &&
		      df->run != NULL;
	fi->direct_io = ((fi->flags & O_DIRECT) || append) && dfuse_direct_io_mmap(df);
	fi->keep_cache = df->keep_cache;
	fi->noflush = 1;	/* close has nothing to write back here */
	dfuse_client_open(df, ino, fi);	/* a handle per open, for leases */
	return 0;
}

void dfuse_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		  struct fuse_file_info *fi)
{
	struct dfuse *df = dfuse_of(req);
	struct dfs_cred cred = dfuse_cred(req);
	struct fuse_entry_param e;
	struct stat st;
	bool created = true;
	int err;

	dfuse_intr_begin(req);		/* the create, or an O_TRUNC, may wait for a thaw */
	err = dfs_mknod(df->fs, parent, name, S_IFREG | (mode & 07777), 0, &cred, &st);
	if (err == -EEXIST && !(fi->flags & O_EXCL)) {
		/* Created by someone else since the kernel's lookup missed:
		 * open(2) without O_EXCL opens the existing file. */
		created = false;
		err = dfs_lookup(df->fs, parent, name, &st);
		if (err == 0 && !S_ISREG(st.st_mode)) {
			dfs_forget(df->fs, st.st_ino, 1);
			err = S_ISDIR(st.st_mode) ? -EISDIR : -EEXIST;
		}
	}
	const bool found = err == 0;	/* then we hold a lookup reference */
	if (found)
		err = open_file(df, st.st_ino, fi, created);
	dfuse_intr_end();
	if (!found) {
		fuse_reply_err(req, dfuse_errno(err, "create", parent));
		return;
	}
	if (err < 0) {
		dfs_forget(df->fs, st.st_ino, 1);
		fuse_reply_err(req, dfuse_errno(err, "create", st.st_ino));
		return;
	}
	if (!created)
		dfs_getattr(df->fs, st.st_ino, &st);	/* the size after O_TRUNC */
	dfuse_fill_entry(df, &st, &e);
	if (dfuse_reply_create(req, &e, fi) == -ENOENT) {
		dfs_forget(df->fs, st.st_ino, 1);
		dfuse_store_release(df, st.st_ino);
	}
}

void dfuse_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dfuse *df = dfuse_of(req);
	int err;

	dfuse_intr_begin(req);		/* O_TRUNC may wait for a thaw */
	err = open_file(df, ino, fi, false);
	dfuse_intr_end();

	if (err < 0) {
		fuse_reply_err(req, dfuse_errno(err, "open", ino));
		return;
	}
	/* Before the reply, while the opener cannot touch the pages yet (see
	 * dfuse.h). An open without keep_cache would drop them at once, O_TRUNC
	 * leaves nothing to store, and O_DIRECT asks for no cache. */
	if (fi->keep_cache && !(fi->flags & (O_TRUNC | O_DIRECT)))
		dfuse_store_fill(df, ino);
	/* -ENOENT: interrupted, the kernel will not release this open file. */
	if (dfuse_reply_open(req, fi) == -ENOENT) {
		dfuse_client_release(df, ino, fi);
		dfuse_store_release(df, ino);
	}
}

/*
 * How the kernel's FUSE client takes a READ reply shorter than asked
 * (fs/fuse/file.c, 6.x) decides what a failed read may answer:
 *
 * - A page-cache READ (readahead, read_folio, a page fault) takes a short
 *   reply for EOF: fuse_short_read shrinks the cached i_size to its end
 *   (without writeback_cache), and the pages past it are zero-filled and
 *   marked uptodate (with it as well), so a later partial write would store
 *   those zeroes. Such a READ therefore gets every byte to EOF or the error,
 *   never a short count. The kernel then reads the pages one at a time
 *   (filemap_read_folio) and the application gets the bytes before the bad
 *   page, then EIO, as from DAX; nothing is zeroed and the size stays.
 * - A direct READ (an O_DIRECT read, served by fuse_direct_IO) takes a short
 *   reply as a short count (dax_iomap_rw's rule: the bytes before the bad
 *   page, then EIO at it); it falls back to the page cache for the rest,
 *   which meets the error there.
 *
 * The two are told apart by the lock owner: fuse_send_read, the only sender
 * of direct READs, sets FUSE_READ_LOCKOWNER with the caller's files pointer
 * (never 0), while fuse_do_readfolio and fuse_send_readpages leave it 0; the
 * open flags cannot tell, a page fault on an O_DIRECT file carries O_DIRECT.
 * A direct READ sent without an owner is taken for a page-cache one, which
 * costs only a short count turned into EIO.
 */
static bool direct_read(const struct fuse_file_info *fi)
{
	return fi->lock_owner != 0;
}

/* Whether a read of n bytes that stopped short for err (0: at EOF) is
 * answered with the error instead of the bytes. */
static bool answer_error(ssize_t n, int err, const struct fuse_file_info *fi)
{
	return err && (n == 0 || !direct_read(fi));
}

/* The reply's writev met a page the backing file lost since the read
 * probed it: the kernel failed the request with EIO (and libfuse printed
 * "writing device"); probing again records the page. */
static void reply_faulted(uint64_t ino, const struct dfs_read *rd)
{
	int err = 0;

	for (unsigned i = 0; i < rd->niov && !err; i++)
		err = dfs_probe(rd->iov[i].iov_base, rd->iov[i].iov_len);
	if (!err)
		err = daxfs_err(-EIO, "the reply's data faulted in the kernel");
	dfuse_errno(err, "read", ino);
}

/* A read the iov could not describe whole (a file in more pieces than
 * DFS_READ_MAX_IOV per request): copied, so that the reply is never short
 * for that reason. */
static void read_bounced(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			 struct fuse_file_info *fi)
{
	struct dfs *fs = dfuse_of(req)->fs;
	char *buf = malloc(size);
	ssize_t n;
	int err;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = dfs_pread_err(fs, ino, buf, size, off, &err);
	if (n < 0 || answer_error(n, err, fi))
		fuse_reply_err(req, dfuse_errno(n < 0 ? (int) n : err, "read", ino));
	else
		fuse_reply_buf(req, buf, (size_t) n);
	free(buf);
}

void dfuse_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct dfs *fs = dfuse_of(req)->fs;
	struct dfs_read rd;
	ssize_t n;
	int ret;

	dfuse_trace(dfuse_of(req), "read", ino, off, size);
	/* before the data is read: daxfs-run drops what the kernel keeps,
	 * and the size its writers left pending is the file's */
	dfuse_run_cached(dfuse_of(req), ino, false);
	dfuse_run_fold(dfuse_of(req), ino);
	/* The reply is built from the iov alone, so its length always matches
	 * the memory it describes. A read of the bio path waits while the
	 * device is suspended, interruptibly. */
	dfuse_intr_begin(req);
	n = dfs_read_begin(fs, ino, off, size, &rd);
	dfuse_intr_end();
	if (n < 0) {
		fuse_reply_err(req, dfuse_errno((int) n, "read", ino));
		return;
	}
	if (answer_error(n, rd.err, fi)) {
		fuse_reply_err(req, dfuse_errno(rd.err, "read", ino));
		dfs_read_end(fs, &rd);
		return;
	}
	if (rd.iov_full) {
		dfs_read_end(fs, &rd);
		read_bounced(req, ino, size, off, fi);
		return;
	}
	/* Zero copy both ways: the iov points into pmem (or the zero page, or
	 * the bio bounce buffer) and writev on /dev/fuse copies it straight
	 * into the request. libfuse 3.14 bounces a fuse_bufvec of more than one
	 * buffer through a malloc'd copy, so a scattered result goes out as an
	 * iovec instead. */
	if (rd.niov <= 1) {
		struct fuse_bufvec bv = FUSE_BUFVEC_INIT(rd.niov ? rd.iov[0].iov_len : 0);

		bv.buf[0].mem = rd.niov ? rd.iov[0].iov_base : NULL;
		ret = fuse_reply_data(req, &bv, FUSE_BUF_NO_SPLICE);
	} else {
		ret = fuse_reply_iov(req, rd.iov, (int) rd.niov);
	}
	if (ret == -EFAULT)
		reply_faulted(ino, &rd);
	/* The data had to stay stable until the reply was written. */
	dfs_read_end(fs, &rd);
}

static unsigned write_flags(const struct dfuse *df, const struct fuse_file_info *fi)
{
	unsigned flags = 0;

	if (fi->flags & O_DSYNC)	/* O_SYNC includes O_DSYNC */
		flags |= DFS_WRITE_SYNC;
	/* Write-back of mmap'd pages carries the page's own offset. With the
	 * writeback cache the kernel owns the size and appends itself: its
	 * EOF may be past ours while dirty pages wait, so the offset it sends
	 * is the one to write at, O_DIRECT writes included. */
	if ((fi->flags & O_APPEND) && !fi->writepage && !df->writeback)
		flags |= DFS_WRITE_APPEND;
	if (fi->writepage)
		flags |= DFS_WRITE_CACHED_PAGES;
	return flags;
}

void dfuse_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in_buf, off_t off,
		     struct fuse_file_info *fi)
{
	struct dfuse *df = dfuse_of(req);
	struct dfs *fs = df->fs;
	struct dfs_write wr;
	unsigned flags = write_flags(df, fi);
	const size_t size = fuse_buf_size(in_buf);
	size_t copied = 0;
	struct dfuse_run_extend ext;
	ssize_t n = 0;

	/* Only the waits at the write gate may give up: once past it, the
	 * write finishes. */
	dfuse_run_cached(df, ino, fi->writepage);
	dfuse_intr_begin(req);
	n = dfuse_run_extend_begin(df, ino, (flags & DFS_WRITE_APPEND) ? DFUSE_RUN_APPEND :
				   (uint64_t)off, &ext);
	if (n == 0)
		n = dfs_write_begin(fs, ino, off, size, flags, &wr);
	dfuse_intr_end();
	if (n < 0)
		goto out;
	/* fuse_direct_write_iter drops no privileges: the server does, for a
	 * caller without CAP_FSETID (rawio.c); its capabilities are looked up
	 * only for a file that has set-id bits. */
	if (wr.setid && !fi->writepage && dfuse_client_direct(fi->fh))
		wr.kill_setid = !dfuse_req_fsetid(req);
	/* A request in memory is stored with the flushcache copy (non-temporal
	 * on pmem), so that end only drains. */
	if (in_buf->count == 1 && !(in_buf->buf[0].flags & FUSE_BUF_IS_FD)) {
		n = dfs_write_copy(fs, &wr, (const char *) in_buf->buf[0].mem + in_buf->off,
				   wr.bytes);
		if (n < 0) {
			dfs_write_end(fs, &wr, 0);
			goto out;
		}
		copied = (size_t) n;
		goto end;
	}
	/* From a pipe (splice): straight into the blocks dfs_write_begin
	 * mapped; fuse_buf_copy advances in_buf. */
	for (unsigned i = 0; i < wr.niov; i++) {
		struct fuse_bufvec dst = FUSE_BUFVEC_INIT(wr.iov[i].iov_len);
		ssize_t c;

		dst.buf[0].mem = wr.iov[i].iov_base;
		c = fuse_buf_copy(&dst, in_buf, FUSE_BUF_NO_SPLICE);
		if (c >= 0)
			copied += (size_t) c;
		if (c == (ssize_t) wr.iov[i].iov_len)
			continue;
		/* read(2) from the pipe stops at a page the backing file lost,
		 * with EFAULT there rather than SIGBUS here: the probe records
		 * the page. The bytes before it are written (a short count). */
		size_t at = c > 0 ? (size_t) c : 0;
		int err = dfs_probe((char *) wr.iov[i].iov_base + at, wr.iov[i].iov_len - at);

		if (c < 0 && copied == 0) {
			if (c == -EFAULT)
				c = err ? err : daxfs_err(-EIO, "write: the pipe's data faulted");
			dfs_write_end(fs, &wr, 0);
			n = c;
			goto out;
		}
		break;
	}
end:
	n = dfs_write_end(fs, &wr, copied);
	/* The kernel's write-back takes a short count as done: the pages past
	 * it would be dropped without a word, and msync and fsync succeed. An
	 * error reaches them instead (mapping_set_error); the bytes before it
	 * are in the file. A write() takes the short count, as POSIX has it. */
	if (fi->writepage && n >= 0 && (size_t)n < size)
		n = wr.err < 0 ? wr.err : daxfs_err(-EIO, "write-back at byte %lld: %zd of %zu "
						     "bytes written", (long long)off, n, size);
out:
	dfuse_run_extend_end(df, ino, &ext);
	if (n < 0) {
		fuse_reply_err(req, dfuse_errno((int) n, "write", ino));
		return;
	}
	/* The WRITE reply carries no attributes and the kernel keeps its
	 * cached mode: it is dropped before the writer can stat. Attributes
	 * only, which waits for no page lock the writer holds. */
	if (wr.kill_setid && n > 0)
		fuse_lowlevel_notify_inval_inode(df->se, ino, -1, 0);
	dfuse_trace(df, "write", ino, wr.off, (size_t) n);
	fuse_reply_write(req, (size_t) n);
}

void dfuse_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void) ino;
	(void) fi;
	/* Data is in the filesystem once WRITE returns; durability is fsync's. */
	fuse_reply_err(req, 0);
}

void dfuse_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	/* The last reference to the open file is gone (close, exit, SIGKILL):
	 * its leases end with it. */
	dfuse_client_release(dfuse_of(req), ino, fi);
	dfuse_store_release(dfuse_of(req), ino);
	fuse_reply_err(req, 0);
}

void dfuse_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	int err;

	(void) fi;
	dfuse_run_fold(dfuse_of(req), ino);
	err = dfs_fsync(dfuse_of(req)->fs, ino, datasync != 0);
	fuse_reply_err(req, err < 0 ? dfuse_errno(err, "fsync", ino) : 0);
}

void dfuse_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
		     struct fuse_file_info *fi)
{
	struct dfuse_run_extend ext;
	int err;

	(void) fi;
	dfuse_intr_begin(req);
	/* a range past EOF that grows the file (an overflow fails below) */
	err = dfuse_run_extend_begin(dfuse_of(req), ino, (mode & FALLOC_FL_KEEP_SIZE) ||
				     off < 0 || len <= 0 || off > INT64_MAX - len ? 0 :
				     (uint64_t)(off + len), &ext);
	if (err == 0) {
		dfuse_run_layout_begin(dfuse_of(req), ino);
		err = dfs_fallocate(dfuse_of(req)->fs, ino, mode, off, len);
		dfuse_run_layout_end(dfuse_of(req), ino);
	}
	dfuse_run_extend_end(dfuse_of(req), ino, &ext);
	dfuse_intr_end();
	dfuse_run_recall(dfuse_of(req), ino, err == 0 && (mode & (FALLOC_FL_PUNCH_HOLE |
				FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_INSERT_RANGE)));
	fuse_reply_err(req, err < 0 ? dfuse_errno(err, "fallocate", ino) : 0);
}

void dfuse_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi)
{
	off_t res;

	(void) fi;
	/* With the writeback cache, data may sit in dirty pages over what is
	 * a hole here: ENOSYS makes the kernel answer from its own size
	 * (all data up to EOF), which is never wrong about data. */
	if (dfuse_of(req)->writeback) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	/* The kernel answers SEEK_SET/CUR/END itself; DATA and HOLE come here. */
	dfuse_run_fold(dfuse_of(req), ino);
	res = dfs_lseek(dfuse_of(req)->fs, ino, off, whence);
	if (res < 0) {
		fuse_reply_err(req, dfuse_errno((int) res, "lseek", ino));
		return;
	}
	fuse_reply_lseek(req, res);
}

void dfuse_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			   struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
			   struct fuse_file_info *fi_out, size_t len, int flags)
{
	struct dfuse_run_extend ext;
	ssize_t n;

	(void) fi_in;
	(void) fi_out;
	if (flags != 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	dfuse_intr_begin(req);
	dfuse_run_cached(dfuse_of(req), ino_out, false);
	dfuse_run_fold(dfuse_of(req), ino_in);
	n = dfuse_run_extend_begin(dfuse_of(req), ino_out, (uint64_t)off_out, &ext);
	if (n == 0)
		n = dfs_copy_file_range(dfuse_of(req)->fs, ino_in, off_in, ino_out, off_out, len);
	dfuse_run_extend_end(dfuse_of(req), ino_out, &ext);
	dfuse_intr_end();
	if (n < 0) {
		fuse_reply_err(req, dfuse_errno((int) n, "copy_file_range", ino_in));
		return;
	}
	fuse_reply_write(req, (size_t) n);
}
