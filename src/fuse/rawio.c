/* fuse/rawio.c - the session's reads and writes of /dev/fuse, and the INIT and OPEN flags libfuse 3.14 cannot ask for */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/fuse.h>

#include "fuse/dfuse.h"

/*
 * Before every buffered or O_DIRECT write the kernel asks whether the file
 * has a security.capability attribute to remove (kiocb_modified ->
 * file_remove_privs -> cap_inode_need_killpriv), a GETXATTR round trip per
 * write() on FUSE, unless the inode is S_NOSEC. It latches S_NOSEC after a
 * write only on a superblock with SB_NOSEC, which FUSE sets when the server
 * accepts FUSE_HANDLE_KILLPRIV_V2 in its INIT reply; libfuse 3.14 has no
 * capability bit for it and builds the reply's flags from its own list. The
 * reply goes through the session's writev, which a custom I/O replaces: the
 * flag is added there, to the INIT reply alone, when the kernel offered it.
 *
 * With KILLPRIV_V2 the kernel no longer turns a lost set-id bit into a mode
 * change; the server clears set-user-ID, and set-group-ID with group
 * execute, where the kernel says so (entry.c, file.c):
 *  - SETATTR with FATTR_KILL_SUIDGID (a chown, a truncate by a caller without
 *    CAP_FSETID), which libfuse 3.14 passes on as FUSE_SET_ATTR_KILL_SUID;
 *  - a SETATTR with no attribute at all: what notify_change becomes when
 *    file_remove_privs (a write or fallocate by a caller without CAP_FSETID)
 *    asks to drop the bits and fuse_setattr strips the mode change, leaving
 *    ATTR_FORCE; the WRITE that follows also carries FUSE_WRITE_KILL_SUIDGID,
 *    which libfuse drops, and finds the bits gone;
 *  - a WRITE to a file opened with FOPEN_DIRECT_IO (below) by a caller
 *    without CAP_FSETID: fuse_direct_write_iter calls no file_remove_privs,
 *    and the FUSE_WRITE_KILL_SUIDGID it sends is dropped by libfuse, so the
 *    daemon asks the caller's capabilities itself (access.c, file.c);
 *  - OPEN and CREATE with O_TRUNC carry FUSE_OPEN_KILL_SUIDGID, which libfuse
 *    also drops; the daemon never cleared set-id bits on O_TRUNC (with
 *    atomic_o_trunc the kernel's own truncate sends nothing), and still does
 *    not.
 * security.capability itself is never there: the daemon supports no
 * security.* attribute (EOPNOTSUPP), so there is nothing to remove.
 *
 * Two O_DIRECT writers of one file take turns on the inode's lock for each
 * whole WRITE round trip (fuse_cache_write_iter), unless the open file has
 * FOPEN_DIRECT_IO and FOPEN_PARALLEL_DIRECT_WRITES: then writes inside EOF
 * take it shared while no open file of the inode caches (fs/fuse/iomode.c)
 * and run side by side. FOPEN_DIRECT_IO alone would refuse mmap(MAP_SHARED)
 * with ENODEV, so O_DIRECT opens get it only on a connection that accepted
 * FUSE_DIRECT_IO_ALLOW_MMAP (INIT flags2, 7.39); a shared mapping then puts
 * the inode back in caching mode, and the kernel writes back and drops the
 * pages a direct write covers. libfuse 3.14 knows neither flag: the INIT
 * reply gets the first here, and the OPEN and CREATE replies the second
 * (dfuse_reply_open/create mark the reply for this thread's writev).
 *
 * Reads stay plain read(2) and splice(2), so that libfuse still splices
 * large WRITEs where it can grow its pipe.
 */

/* Debian 12's linux/fuse.h is 7.38; the flag is 7.39's (INIT flags2 bit 4). */
#ifndef FUSE_DIRECT_IO_ALLOW_MMAP
#define FUSE_DIRECT_IO_ALLOW_MMAP (1ULL << 36)
#endif

static ssize_t raw_read(int fd, void *buf, size_t len, void *userdata)
{
	struct dfuse *df = userdata;
	ssize_t n = read(fd, buf, len);

	if (n >= (ssize_t)(sizeof(struct fuse_in_header) + sizeof(struct fuse_init_in))) {
		const struct fuse_in_header *in = buf;

		if (in->opcode == FUSE_INIT) {
			const struct fuse_init_in *arg = (const void *)(in + 1);
			bool ext = arg->major == 7 && (arg->flags & FUSE_INIT_EXT);

			__atomic_store_n(&df->killpriv_offered,
					 arg->major == 7 && (arg->flags & FUSE_HANDLE_KILLPRIV_V2),
					 __ATOMIC_RELAXED);
			__atomic_store_n(&df->direct_io_mmap_offered,
					 ext && (arg->flags2 & (FUSE_DIRECT_IO_ALLOW_MMAP >> 32)),
					 __ATOMIC_RELAXED);
			__atomic_store_n(&df->init_unique, in->unique, __ATOMIC_RELEASE);
		}
	}
	return n;
}

/* The INIT reply, with the flags the kernel offered that libfuse cannot ask
 * for. libfuse sets FUSE_INIT_EXT in its reply when the kernel did, and
 * sends the whole fuse_init_out then, flags2 included. */
static void patch_init(struct dfuse *df, struct iovec *iov, struct fuse_init_out *out)
{
	const size_t flags2_end = offsetof(struct fuse_init_out, flags2) + sizeof(uint32_t);

	memcpy(out, iov[1].iov_base, iov[1].iov_len);
	if (out->major != 7)
		return;
	if (__atomic_load_n(&df->killpriv_offered, __ATOMIC_RELAXED)) {
		out->flags |= FUSE_HANDLE_KILLPRIV_V2;
		__atomic_store_n(&df->killpriv_v2, true, __ATOMIC_RELEASE);
	}
	if (__atomic_load_n(&df->direct_io_mmap_offered, __ATOMIC_RELAXED) &&
	    iov[1].iov_len >= flags2_end && (out->flags & FUSE_INIT_EXT)) {
		out->flags2 |= (uint32_t)(FUSE_DIRECT_IO_ALLOW_MMAP >> 32);
		__atomic_store_n(&df->direct_io_mmap, true, __ATOMIC_RELEASE);
	}
	iov[1].iov_base = out;
}

/* Set by dfuse_reply_open/create around their reply, which the same thread
 * writes: its fuse_open_out, the last of the reply, gets
 * FOPEN_PARALLEL_DIRECT_WRITES. Nothing else can tell an OPEN reply from a
 * READ reply of the same length. */
static __thread bool reply_parallel_dio;

static void patch_open(struct iovec *iov, char *copy)
{
	struct fuse_open_out open;
	size_t at = iov[1].iov_len - sizeof(open);

	memcpy(copy, iov[1].iov_base, iov[1].iov_len);
	memcpy(&open, copy + at, sizeof(open));
	if (!(open.open_flags & FOPEN_DIRECT_IO))  /* the kernel drops it without */
		return;
	open.open_flags |= FOPEN_PARALLEL_DIRECT_WRITES;
	memcpy(copy + at, &open, sizeof(open));
	iov[1].iov_base = copy;
}

static ssize_t raw_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	struct dfuse *df = userdata;
	const size_t flags_end = offsetof(struct fuse_init_out, flags) + sizeof(uint32_t);
	union {
		struct fuse_init_out init;
		char open[sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out)];
	} out;
	const struct fuse_out_header *h = count == 2 &&
		iov[0].iov_len == sizeof(struct fuse_out_header) ? iov[0].iov_base : NULL;

	if (reply_parallel_dio) {
		reply_parallel_dio = false;
		if (h && h->error == 0 && iov[1].iov_len >= sizeof(struct fuse_open_out) &&
		    iov[1].iov_len <= sizeof(out.open))
			patch_open(iov, out.open);
	} else if (h && h->error == 0 && iov[1].iov_len >= flags_end &&
		   iov[1].iov_len <= sizeof(out.init) &&
		   h->unique == __atomic_load_n(&df->init_unique, __ATOMIC_ACQUIRE) &&
		   (__atomic_load_n(&df->killpriv_offered, __ATOMIC_RELAXED) ||
		    __atomic_load_n(&df->direct_io_mmap_offered, __ATOMIC_RELAXED))) {
		patch_init(df, iov, &out.init);
	}
	return writev(fd, iov, count);
}

static ssize_t raw_splice_receive(int fdin, off_t *offin, int fdout, off_t *offout, size_t len,
				  unsigned flags, void *userdata)
{
	(void)userdata;
	return splice(fdin, offin, fdout, offout, len, flags);
}

int dfuse_rawio_start(struct dfuse *df)
{
	/* no splice_send: replies carry pmem pointers (super.c's init) */
	static const struct fuse_custom_io io = {
		.read = raw_read,
		.writev = raw_writev,
		.splice_receive = raw_splice_receive,
	};

	return fuse_session_custom_io(df->se, &io, fuse_session_fd(df->se));
}

bool dfuse_killpriv_v2(const struct dfuse *df)
{
	return __atomic_load_n(&df->killpriv_v2, __ATOMIC_ACQUIRE);
}

bool dfuse_direct_io_mmap(const struct dfuse *df)
{
	return __atomic_load_n(&df->direct_io_mmap, __ATOMIC_ACQUIRE);
}

int dfuse_reply_open(fuse_req_t req, const struct fuse_file_info *fi)
{
	reply_parallel_dio = fi->direct_io;
	int ret = fuse_reply_open(req, fi);

	reply_parallel_dio = false;     /* in case the reply never got to writev */
	return ret;
}

int dfuse_reply_create(fuse_req_t req, const struct fuse_entry_param *e,
		       const struct fuse_file_info *fi)
{
	reply_parallel_dio = fi->direct_io;
	int ret = fuse_reply_create(req, e, fi);

	reply_parallel_dio = false;
	return ret;
}
