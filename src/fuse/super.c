/* fuse/super.c - connection setup, statfs, the ops table and the helpers every handler group shares */
#include <errno.h>
#include <string.h>

#include "fuse/dfuse.h"
#include "fuse/run.h"
#include "util/intr.h"

int dfuse_errno(int err, const char *op, uint64_t ino)
{
	int e = -err;

	/* Ordinary outcomes of a request are the caller's business; only a
	 * failure of the storage or of the server itself is worth a log line. */
	if (e == EIO || e == ENOMEM || e == EUCLEAN || e == EHWPOISON)
		fuse_log(FUSE_LOG_ERR, "daxfs-fuse: %s (inode %llu): %s: %s\n", op,
			 (unsigned long long) ino, strerror(e), daxfs_errormsg());
	else
		fuse_log(FUSE_LOG_DEBUG, "daxfs-fuse: %s (inode %llu): %s: %s\n", op,
			 (unsigned long long) ino, strerror(e), daxfs_errormsg());
	return e;
}

void dfuse_fill_entry(const struct dfuse *df, const struct stat *st, struct fuse_entry_param *e)
{
	uint32_t gen = 0;

	memset(e, 0, sizeof(*e));
	e->ino = st->st_ino;
	/* File handles carry (ino, generation) and the kernel refuses one
	 * whose generation differs from the inode's: it must be the on-media
	 * one from the first entry on, or a handle made before the kernel
	 * forgot the inode would not match the one made after. The root's is
	 * 0 by FUSE's rule (the kernel makes the root inode itself). A number
	 * freed meanwhile has none; such an entry is never instantiated. */
	if (st->st_ino != FUSE_ROOT_ID && st->st_ino != 0)
		(void)dfs_generation(df->fs, st->st_ino, &gen);
	e->generation = gen;
	e->attr = *st;
	e->attr_timeout = dfuse_run_attr_timeout(df, st->st_ino, df->timeout);
	e->entry_timeout = df->timeout;
}

void dfuse_reply_entry(fuse_req_t req, const struct stat *st)
{
	struct dfuse *df = dfuse_of(req);
	struct fuse_entry_param e;

	dfuse_fill_entry(df, st, &e);
	/* -ENOENT: the request was interrupted and the kernel never saw the
	 * entry, so it will never forget it either. */
	if (fuse_reply_entry(req, &e) == -ENOENT)
		dfs_forget(df->fs, st->st_ino, 1);
}

void dfuse_reply_entry_or_err(fuse_req_t req, int err, const char *op, uint64_t ino,
			      const struct stat *st)
{
	if (err < 0)
		fuse_reply_err(req, dfuse_errno(err, op, ino));
	else
		dfuse_reply_entry(req, st);
}

struct dfs_cred dfuse_cred(fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	return (struct dfs_cred){
		.uid = ctx->uid,
		.gid = ctx->gid,
		.umask = ctx->umask,
	};
}

/* The thread's interruption (util/intr.h) while a request runs: the
 * kernel's INTERRUPT for it, or the end of the session (SIGTERM, unmount),
 * after which nobody would ever thaw or resume for it. */
static bool req_interrupted(void *arg)
{
	fuse_req_t req = arg;

	return fuse_req_interrupted(req) || fuse_session_exited(dfuse_of(req)->se);
}

/* Runs in the thread that read the INTERRUPT, with libfuse's lock on req
 * held, possibly after req was answered (or at once, in the waiter's thread,
 * if req was interrupted before it armed): it touches only the long-lived
 * filesystem and device, whose waits then look at their requests again. */
static void wake_waits(fuse_req_t req, void *data)
{
	struct dfuse *df = data;

	(void) req;
	dfs_interrupt_waits(df->fs);
}

static void req_arm(void *arg)
{
	fuse_req_t req = arg;

	fuse_req_interrupt_func(req, wake_waits, dfuse_of(req));
}

static const struct daxfs_intr_ops req_intr = {
	.pending = req_interrupted,
	.arm = req_arm,
};

void dfuse_intr_begin(fuse_req_t req)
{
	daxfs_intr_set(&req_intr, req);
}

void dfuse_intr_end(void)
{
	daxfs_intr_set(NULL, NULL);
}

int dfuse_inval_inode(struct dfuse *df, uint64_t ino, off_t off, off_t len)
{
	return fuse_lowlevel_notify_inval_inode(df->se, ino, off, len);
}

static void dfuse_init(void *userdata, struct fuse_conn_info *conn)
{
	struct dfuse *df = userdata;
	/* EXPORT_SUPPORT: file handles (NFS servers, open_by_handle_at)
	 * resolve inodes the kernel has forgotten by LOOKUP of "." and "..". */
	unsigned want = FUSE_CAP_ATOMIC_O_TRUNC | FUSE_CAP_CACHE_SYMLINKS |
			FUSE_CAP_PARALLEL_DIROPS | FUSE_CAP_ASYNC_READ | FUSE_CAP_EXPORT_SUPPORT;

	/* readdirplus: yes = every READDIR carries attributes; auto = only
	 * once the kernel sees the listing followed by lookups (ls -l), and
	 * plain READDIR otherwise. */
	conn->want &= ~(FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO);
	if (df->readdirplus != DFUSE_RDP_NO)
		want |= FUSE_CAP_READDIRPLUS;
	if (df->readdirplus == DFUSE_RDP_AUTO)
		want |= FUSE_CAP_READDIRPLUS_AUTO;
	conn->want |= want & conn->capable;
	/* The page cache only changes through this kernel, so a changed mtime
	 * does not mean stale pages; a table swap invalidates explicitly. */
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	/* Direct I/O one request after the other, as dax_iomap_rw does it: an
	 * O_DIRECT read then returns the bytes before a bad page and stops
	 * there. With async DIO the kernel sends the requests of one read at
	 * once and fails the whole read for an error in any of them
	 * (fuse_get_res_by_io). O_DIRECT opens are served by fuse_direct_IO
	 * (file.c), where this is the only switch. */
	conn->want &= ~FUSE_CAP_ASYNC_DIO;
	/* Not KILLPRIV (v1), which leaves every write's set-id bits to the
	 * server without saying whether the writer has CAP_FSETID: rawio.c
	 * accepts KILLPRIV_V2, where the kernel says when to clear them. */
	conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
	/* Replies carry pmem pointers; writev copies them into the request,
	 * vmsplice would pin pages of the device mapping in a pipe. */
	conn->want &= ~(FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
	/* By default the kernel writes through to us, so that every write()
	 * is durable at return and a direct mapping sees it at once; it keeps
	 * mtime/ctime from our replies. -o writeback_cache trades both for
	 * fewer, larger WRITEs. */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	if (df->writeback) {
		if (conn->capable & FUSE_CAP_WRITEBACK_CACHE)
			conn->want |= FUSE_CAP_WRITEBACK_CACHE;
		else
			fuse_log(FUSE_LOG_ERR, "daxfs-fuse: the kernel offers no writeback cache; "
				 "writing through\n");
	}
	conn->max_write = DFUSE_MAX_IO;
	conn->max_read = DFUSE_MAX_IO;
	if (conn->max_readahead > DFUSE_MAX_IO)
		conn->max_readahead = DFUSE_MAX_IO;
	conn->time_gran = 1;
	fuse_log(FUSE_LOG_DEBUG, "daxfs-fuse: init: protocol 7.%u, max_write %u, %s, timeout %gs, "
		 "%skeep_cache, readdirplus %s, %swriteback_cache, notify_store %llu\n",
		 conn->proto_minor, conn->max_write, dfs_uses_dax(df->fs) ? "DAX" : "bio path",
		 df->timeout, df->keep_cache ? "" : "no_",
		 (conn->want & FUSE_CAP_READDIRPLUS_AUTO) ? "auto" :
		 (conn->want & FUSE_CAP_READDIRPLUS) ? "yes" : "no",
		 (conn->want & FUSE_CAP_WRITEBACK_CACHE) ? "" : "no_",
		 (unsigned long long)df->notify_store);
}

static void dfuse_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs st;
	int err = dfs_statfs(dfuse_of(req)->fs, &st);

	if (err < 0) {
		fuse_reply_err(req, dfuse_errno(err, "statfs", ino));
		return;
	}
	fuse_reply_statfs(req, &st);
}

const struct fuse_lowlevel_ops dfuse_ops = {
	.init = dfuse_init,
	.lookup = dfuse_lookup,
	.forget = dfuse_forget,
	.forget_multi = dfuse_forget_multi,
	.getattr = dfuse_getattr,
	.setattr = dfuse_setattr,
	.readlink = dfuse_readlink,
	.mknod = dfuse_mknod,
	.mkdir = dfuse_mkdir,
	.unlink = dfuse_unlink,
	.rmdir = dfuse_rmdir,
	.symlink = dfuse_symlink,
	.rename = dfuse_rename,
	.link = dfuse_link,
	.open = dfuse_open,
	.read = dfuse_read,
	.write_buf = dfuse_write_buf,
	.flush = dfuse_flush,
	.release = dfuse_release,
	.fsync = dfuse_fsync,
	.opendir = dfuse_opendir,
	.readdir = dfuse_readdir,
	.readdirplus = dfuse_readdirplus,
	.releasedir = dfuse_releasedir,
	.fsyncdir = dfuse_fsyncdir,
	.statfs = dfuse_statfs,
	.setxattr = dfuse_setxattr,
	.getxattr = dfuse_getxattr,
	.listxattr = dfuse_listxattr,
	.removexattr = dfuse_removexattr,
	.create = dfuse_create,
	.fallocate = dfuse_fallocate,
	.lseek = dfuse_lseek,
	.copy_file_range = dfuse_copy_file_range,
	.ioctl = dfuse_ioctl,
};
