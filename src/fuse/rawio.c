/* fuse/rawio.c - the session's reads and writes of /dev/fuse, and the INIT flag libfuse 3.14 cannot ask for */
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
 *  - OPEN and CREATE with O_TRUNC carry FUSE_OPEN_KILL_SUIDGID, which libfuse
 *    also drops; the daemon never cleared set-id bits on O_TRUNC (with
 *    atomic_o_trunc the kernel's own truncate sends nothing), and still does
 *    not.
 * security.capability itself is never there: the daemon supports no
 * security.* attribute (EOPNOTSUPP), so there is nothing to remove.
 *
 * Reads stay plain read(2) and splice(2), so that libfuse still splices
 * large WRITEs where it can grow its pipe.
 */

static ssize_t raw_read(int fd, void *buf, size_t len, void *userdata)
{
	struct dfuse *df = userdata;
	ssize_t n = read(fd, buf, len);

	if (n >= (ssize_t)(sizeof(struct fuse_in_header) + sizeof(struct fuse_init_in))) {
		const struct fuse_in_header *in = buf;

		if (in->opcode == FUSE_INIT) {
			const struct fuse_init_in *arg = (const void *)(in + 1);

			__atomic_store_n(&df->killpriv_offered,
					 arg->major == 7 && (arg->flags & FUSE_HANDLE_KILLPRIV_V2),
					 __ATOMIC_RELAXED);
			__atomic_store_n(&df->init_unique, in->unique, __ATOMIC_RELEASE);
		}
	}
	return n;
}

static ssize_t raw_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	struct dfuse *df = userdata;
	const size_t flags_end = offsetof(struct fuse_init_out, flags) + sizeof(uint32_t);
	struct fuse_init_out out;

	if (count == 2 && iov[0].iov_len == sizeof(struct fuse_out_header) &&
	    iov[1].iov_len >= flags_end && iov[1].iov_len <= sizeof(out)) {
		const struct fuse_out_header *h = iov[0].iov_base;

		if (h->unique == __atomic_load_n(&df->init_unique, __ATOMIC_ACQUIRE) &&
		    h->error == 0 && __atomic_load_n(&df->killpriv_offered, __ATOMIC_RELAXED)) {
			memcpy(&out, iov[1].iov_base, iov[1].iov_len);
			if (out.major == 7) {
				out.flags |= FUSE_HANDLE_KILLPRIV_V2;
				iov[1].iov_base = &out;
				__atomic_store_n(&df->killpriv_v2, true, __ATOMIC_RELEASE);
			}
		}
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
