/* fuse/dfuse.h - the daxfs-fuse server: shared state and the low-level handlers, one group per file */
#ifndef DAXFS_FUSE_DFUSE_H
#define DAXFS_FUSE_DFUSE_H

#define FUSE_USE_VERSION 314

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stdint.h>

#include "daxfs/err.h"
#include "daxfs/fs.h"

/* The kernel asks for at most this much per READ/WRITE (conn->max_write,
 * max_read, and max_pages = 256 pages which libfuse 3.14 derives from
 * max_write). */
#define DFUSE_MAX_IO (1u << 20)
_Static_assert(DFUSE_MAX_IO <= DFS_RW_MAX_BYTES, "a request must fit one read or write iov");

/*
 * One per mount; the session's userdata. Every field is set before the session
 * loop starts and never changes while it runs, so handlers read it without a
 * lock.
 */
struct dfuse {
	struct dfs *fs;
	struct mapped_device *md;
	/* Reachable so that cached pages can be invalidated after a table swap
	 * (fuse_lowlevel_notify_inval_inode, see dfuse_inval_inode). */
	struct fuse_session *se;
	/* Entry, negative-entry and attribute timeout in seconds (-o timeout).
	 * Long by default, because this server is the only path to the data:
	 * every change goes through the kernel that caches it. */
	double timeout;
	/* Opens keep the inode's cached pages (FOPEN_KEEP_CACHE); -o
	 * no_keep_cache makes every open drop them. */
	bool keep_cache;
	/* -o readdirplus=yes|no|auto: the FUSE_CAP_READDIRPLUS(_AUTO) asked. */
	enum dfuse_readdirplus { DFUSE_RDP_YES, DFUSE_RDP_NO, DFUSE_RDP_AUTO } readdirplus;
	/* -o writeback_cache: the kernel caches writes and owns size and
	 * mtime; data is durable at fsync, not when write() returns. */
	bool writeback;
	/* -o notify_store=BYTES: opens of regular files up to this size push
	 * the contents into the page cache (store.c); 0 = off. */
	uint64_t notify_store;
	struct dfuse_store *store;	/* store.c's state; NULL when off */
	/* Live device control (ctl.c): set up before the loop, torn down after. */
	struct dfuse_ctl *ctl;
	struct dfuse_inval *inval;	/* inval.c, with ctl */
	/* -o max_leases=N: direct-access leases one user may hold at once
	 * (root and the user who mounted are not limited). */
	unsigned max_leases;
	/* -o dax_users=GROUP: the group whose members get descriptors of the
	 * backing devices from the daemon (grant.c); NULL grant when off. */
	gid_t dax_group;
	struct dfuse_grant *grant;
	/* Who holds direct-access leases (holders.c), with ctl. */
	struct dfuse_holders *holders;
	struct dfuse_trace *trace;	/* trace.c, with ctl */
	/* run.c: the table shared with daxfs-run processes; NULL without DAX
	 * or with the writeback cache. */
	struct dfuse_run *run;
	/* The log goes to syslog, which nobody listens to on this machine:
	 * a trace without a file of its own would be lost. */
	bool log_lost;
	/* rawio.c: the INIT request's unique and whether it offered
	 * FUSE_HANDLE_KILLPRIV_V2 and FUSE_DIRECT_IO_ALLOW_MMAP; killpriv_v2
	 * and direct_io_mmap once the reply accepted them. Atomics: set by the
	 * thread that serves INIT, before any other request. */
	uint64_t init_unique;
	bool killpriv_offered, direct_io_mmap_offered;
	bool killpriv_v2, direct_io_mmap;
};

static inline struct dfuse *dfuse_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* rawio.c: after fuse_session_mount, routes the session's device I/O
 * through the daemon, which accepts FUSE_HANDLE_KILLPRIV_V2 in the INIT reply
 * when the kernel offers it (libfuse 3.14 cannot). 0 or a negative errno.
 * killpriv_v2: whether the connection has it; then set-id bits are the
 * daemon's to clear where the kernel says so (see rawio.c). */
int dfuse_rawio_start(struct dfuse *df);
bool dfuse_killpriv_v2(const struct dfuse *df);
/* Whether the connection has FUSE_DIRECT_IO_ALLOW_MMAP: then a file opened
 * with FOPEN_DIRECT_IO can still be mapped shared, and an O_DIRECT open gets
 * FOPEN_DIRECT_IO (file.c). */
bool dfuse_direct_io_mmap(const struct dfuse *df);
/* fuse_reply_open and fuse_reply_create, which also set
 * FOPEN_PARALLEL_DIRECT_WRITES when fi->direct_io is set (libfuse 3.14's
 * fuse_file_info has no field for it). */
int dfuse_reply_open(fuse_req_t req, const struct fuse_file_info *fi);
int dfuse_reply_create(fuse_req_t req, const struct fuse_entry_param *e,
		       const struct fuse_file_info *fi);

/* super.c: init, statfs, the ops table, helpers shared by the handlers */
extern const struct fuse_lowlevel_ops dfuse_ops;

/* The errno to reply with for a negative err from the fs library; logs the
 * library's message for failures an administrator should see (EIO and the
 * like), not for the ordinary ones (ENOENT, EEXIST, ENOSPC...). */
int dfuse_errno(int err, const char *op, uint64_t ino);

/* Replies with the entry for st (taken with one lookup reference by the fs);
 * if the kernel did not get the reply (request interrupted), the reference is
 * dropped again so lookup counts stay balanced. */
void dfuse_reply_entry(fuse_req_t req, const struct stat *st);
/* Ends a call that found or made an entry: st's, or when err < 0 the error
 * of op on ino. */
void dfuse_reply_entry_or_err(fuse_req_t req, int err, const char *op, uint64_t ino,
			      const struct stat *st);
void dfuse_fill_entry(const struct dfuse *df, const struct stat *st, struct fuse_entry_param *e);

/*
 * Around an fs call that may wait for a frozen filesystem to thaw or a
 * suspended device to resume: while it runs, a FUSE INTERRUPT of req (a
 * signal to the caller: kill, timeout, ^C) or the end of the session makes
 * those waits give up with -EINTR, which the handler replies, so that the
 * caller returns (EINTR, or dies of its signal) instead of waiting for
 * resume. end must come before the reply: req is gone after it.
 */
void dfuse_intr_begin(fuse_req_t req);
void dfuse_intr_end(void);

/* The credentials of the request's caller, for new inodes. */
struct dfs_cred dfuse_cred(fuse_req_t req);

/*
 * access.c: who asked, and what they may do. The caller's identity is taken
 * from the request once (dfuse_caller_init) and the checks use only that,
 * so that they decide the same without a FUSE session (the ioctl fuzz
 * target fills a dfuse_caller itself, req NULL and groups given). The
 * supplementary groups, which the kernel does not send, are read from req
 * (fuse_req_getgroups: /proc) on the first check that needs them, because
 * most requests need none; fini frees what that read.
 */
struct dfuse_caller {
	uid_t uid;
	gid_t gid;
	int ngroups;                /* -1: not read yet (from req) */
	const gid_t *groups;        /* ngroups of them */
	fuse_req_t req;             /* NULL: groups is the whole list */
	gid_t *owned;               /* what fini frees */
};
void dfuse_caller_init(struct dfuse_caller *c, fuse_req_t req);
void dfuse_caller_fini(struct dfuse_caller *c);
/* may_control: root or the user who mounted (the daemon's uid), who may use
 * device control. in_group: gid is the caller's group or one of its
 * supplementary groups. may_access: 0 or -EACCES, the caller's R_OK/W_OK
 * mask against st's owner, group and mode as the kernel's
 * generic_permission decides it (root may read and write). */
bool dfuse_may_control(const struct dfuse_caller *c);
bool dfuse_in_group(struct dfuse_caller *c, gid_t gid);
int dfuse_may_access(struct dfuse_caller *c, const struct stat *st, int mask);
/* Whether mode has bits a change by a caller without CAP_FSETID clears:
 * set-user-ID, and set-group-ID with group execute (DFS_SET_KILL_SUIDGID). */
static inline bool dfuse_mode_setid(mode_t mode)
{
	return (mode & S_ISUID) || ((mode & S_ISGID) && (mode & S_IXGRP));
}
/* Whether the thread behind req has CAP_FSETID, which keeps set-id bits
 * through a write (read from /proc: only worth it for a set-id file). */
bool dfuse_req_fsetid(fuse_req_t req);

/* Drops the kernel's cached pages (and attributes) of ino in [off, off+len)
 * (len 0: to the end; off < 0: attributes only). Must not be called from a
 * handler working on ino. Returns 0 or a negative errno (-ENOENT if the
 * kernel does not know ino). */
int dfuse_inval_inode(struct dfuse *df, uint64_t ino, off_t off, off_t len);

/* store.c: pre-filling the page cache of small files on open
 * (fuse_lowlevel_notify_store). The store happens in the OPEN handler before
 * its reply, and only while no other open file of the inode exists: then no
 * process can hold a page of the inode locked while it waits for a request
 * (a READ or WRITE needs an open file, and the opener itself is still
 * waiting for OPEN), which is what the kernel's fuse_notify_store would
 * wait on (it locks each page), and no write can race the store and leave
 * older data in the cache. Opens and size changes wait while a store runs.
 * All return nothing and do nothing when notify_store is 0. */
int dfuse_store_new(struct dfuse *df);
void dfuse_store_delete(struct dfuse *df);
/* Every open of a regular file, before anything else, counts the open;
 * release uncounts it. */
void dfuse_store_open(struct dfuse *df, uint64_t ino);
void dfuse_store_release(struct dfuse *df, uint64_t ino);
/* Before replying to an open (not a create) of ino that keeps the cache:
 * pushes the file's contents if it is small enough and this is its only
 * open file. Failures are logged, never fatal: the data is read on demand. */
void dfuse_store_fill(struct dfuse *df, uint64_t ino);
/* Around a size change by SETATTR (truncate(2)), which needs no open file:
 * excludes a store, which would otherwise push pages beyond the new size. */
void dfuse_store_lock(struct dfuse *df);
void dfuse_store_unlock(struct dfuse *df);

/* ctl.c: live device control. start starts the thread that drops cached
 * pages after a swap, gives the mapped device the daemon's hooks (lockfs,
 * resume check, swap) and opens it for the mount; stop resumes a device left
 * suspended, thaws, and undoes start. */
int dfuse_ctl_start(struct dfuse *df);
void dfuse_ctl_stop(struct dfuse *df);
/* One request of the dm command layer whose result is only its outcome:
 * 0 or a negative errno with daxfs_errormsg(). dfuse_dm_destroy is the
 * daemon's last request (DEV_REMOVE, F_DESTROY): df->md is gone after it. */
int dfuse_dm(struct dfuse *df, const struct dm_ioctl_req *rq);
void dfuse_dm_destroy(struct dfuse *df);
/* inval.c: after every table swap, the cached pages of every file the
 * kernel knows are dropped, by a thread (the swap hook runs under the
 * device's control lock, and dropping a dirty page writes it back through
 * this daemon). start starts the thread, to which dfuse_inval_swapped, the
 * device's swap hook (data: df->inval), hands each swap; wait waits (at most
 * 10 s) until the pages of every swap so far are dropped. With ctl. */
int dfuse_inval_start(struct dfuse *df);
void dfuse_inval_swapped(void *data);
void dfuse_inval_stop(struct dfuse *df);
void dfuse_inval_wait(struct dfuse *df);

/* identity.c: after the mount, gives the mapped device what dmsetup info
 * shows of a kernel device: a uuid ("DAXFS-" and the filesystem's uuid) and
 * the mount's device number (st_dev of its files). Failures are logged. */
void dfuse_identify(struct dfuse *df, const char *mountpoint);

/* trace.c: with `daxfs-ctl trace MNT on`, logs how [off, off+size) of ino
 * resolves (iomap -> md pgoff -> target -> device), to the trace's own file
 * or the daemon's log. Cheap when off. start/stop are called by the ctl
 * start/stop above. */
void dfuse_trace(struct dfuse *df, const char *op, uint64_t ino, off_t off, size_t size);
/* Opens a log or trace file for appending (created with mode), refusing
 * what is neither a regular file nor a character device (a FIFO, whose
 * open could block): the fd, or a negative errno, described by
 * dfuse_open_log_error. */
int dfuse_open_log(const char *path, mode_t mode);
const char *dfuse_open_log_error(int err);
int dfuse_trace_start(struct dfuse *df);
void dfuse_trace_stop(struct dfuse *df);

/* mountpoint.c: called before mounting. When stat of mnt fails with
 * ENOTCONN (the daemon of a mount there died), unmounts that mount lazily if
 * it is daxfs-fuse's and served source, or another source when recover is
 * set, and says so on stderr; otherwise prints why not and what to do.
 * Returns 0 when mnt may be mounted on, -1 otherwise. */
int dfuse_mountpoint_prepare(const char *mnt, const char *source, bool recover);

/* ioctl.c: the control channel (daxfs/ioctl.h). dfuse_ioctl takes the
 * request apart into a dfuse_ioctl_req, which dfuse_ioctl_answer decodes and
 * carries out without the session (the ioctl fuzz target calls it), and
 * replies with its outcome. */
struct dfuse_ioctl_req {
	fuse_ino_t ino;
	unsigned int cmd;
	unsigned int flags;         /* FUSE_IOCTL_* */
	struct dfuse_caller *who;   /* who asked: every check of the commands uses it */
	uint64_t fh;                /* the open file's handle (dfuse_client_open) */
	const void *in;             /* the request's bytes, in_size of them */
	size_t in_size, out_size;
};
/* Returns a negative errno to reply with; or 0, or 1 when the inode's cached
 * pages are to be dropped after the reply (dfuse_inval_inode, which must not
 * run before it), with the answer in *out (malloc'd, *outsz bytes; NULL and
 * 0 for a command without one). */
int dfuse_ioctl_answer(struct dfuse *df, const struct dfuse_ioctl_req *rq, void **out,
		       size_t *outsz);
void dfuse_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
		 struct fuse_file_info *fi, unsigned flags, const void *in_buf, size_t in_bufsz,
		 size_t out_bufsz);

/* entry.c */
void dfuse_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void dfuse_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void dfuse_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets);
void dfuse_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void dfuse_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		   struct fuse_file_info *fi);

/* namei.c */
void dfuse_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev);
void dfuse_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void dfuse_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name);
void dfuse_readlink(fuse_req_t req, fuse_ino_t ino);
void dfuse_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname);
void dfuse_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void dfuse_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void dfuse_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		  const char *newname, unsigned int flags);

/* file.c */
void dfuse_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		  struct fuse_file_info *fi);
void dfuse_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void dfuse_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void dfuse_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in_buf, off_t off,
		     struct fuse_file_info *fi);
void dfuse_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void dfuse_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void dfuse_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void dfuse_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
		     struct fuse_file_info *fi);
void dfuse_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi);
void dfuse_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			   struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
			   struct fuse_file_info *fi_out, size_t len, int flags);

/* dir.c */
void dfuse_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void dfuse_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi);
void dfuse_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi);
void dfuse_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void dfuse_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);

/* The daemon's own read-only attributes, DFUSE_XATTR_PREFIX: a regular
 * file's extent map (DFUSE_IOMAP_XATTR) and the same followed down the live
 * table (DFUSE_MAP_XATTR), as extmap.h describes them. */
#define DFUSE_XATTR_PREFIX "system.daxfs."
#define DFUSE_IOMAP_XATTR DFUSE_XATTR_PREFIX "iomap"
#define DFUSE_MAP_XATTR DFUSE_XATTR_PREFIX "map"
/* NAME@OFFSET: a page of the map, at most this much text before its last
 * extent's lines and the "more" line (a value holds at most 64 KiB) */
#define DFUSE_MAP_PAGE 48000u

/* xattr.c */
void dfuse_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		    size_t size, int flags);
void dfuse_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void dfuse_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void dfuse_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

#endif
