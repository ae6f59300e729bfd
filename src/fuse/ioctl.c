/* fuse/ioctl.c - the daemon's ioctl handler: who may ask, which number does what, one reply */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daxfs/ioctl.h"
#include "fuse/client.h"
#include "fuse/ctl.h"

/* The device-control numbers (0x00-0x3f), each a command of ctl.c, trace.c or
 * workers.c. */
static const struct {
	unsigned int cmd;
	dfuse_ctl_fn fn;
} device_commands[] = {
	{ DAXFS_IOC_TABLE, dfuse_ctl_table },
	{ DAXFS_IOC_INFO, dfuse_ctl_info },
	{ DAXFS_IOC_STATUS, dfuse_ctl_status },
	{ DAXFS_IOC_LOAD, dfuse_ctl_load },
	{ DAXFS_IOC_SUSPEND, dfuse_ctl_suspend },
	{ DAXFS_IOC_RESUME, dfuse_ctl_resume },
	{ DAXFS_IOC_CLEAR, dfuse_ctl_clear },
	{ DAXFS_IOC_BADBLOCKS, dfuse_ctl_badblocks },
	{ DAXFS_IOC_TRACE, dfuse_ctl_trace },
	{ DAXFS_IOC_REMOVE, dfuse_ctl_remove },
	{ DAXFS_IOC_WORKERS, dfuse_ctl_workers },
};

/* The answer in *out (malloc'd), or the negative errno to reply with. */
static int device_control(struct dfuse *df, const struct dfuse_ioctl_req *rq, void **out,
			  size_t *outsz)
{
	struct daxfs_ioc_ctl *c;
	dfuse_ctl_fn fn = NULL;

	for (size_t i = 0; i < sizeof(device_commands) / sizeof(device_commands[0]); i++)
		if (device_commands[i].cmd == rq->cmd)
			fn = device_commands[i].fn;
	if (!fn)
		return -ENOTTY;
	if (!dfuse_may_control(rq->who))
		return -EPERM;
	/* Device control is asked of the mount's root directory, so that a
	 * file's ioctl numbers stay free for per-file requests. */
	if (rq->ino != FUSE_ROOT_ID)
		return -ENOTTY;
	if (rq->in_size != sizeof(*c) || rq->out_size < sizeof(*c))
		return -EINVAL;
	/* The request buffer belongs to libfuse: answer in a copy of our own. */
	c = malloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	memcpy(c, rq->in, sizeof(*c));
	if (c->version != DAXFS_IOC_CTL_VERSION) {
		free(c);
		return -EPROTO;
	}
	c->error = 0;
	c->text[sizeof(c->text) - 1] = '\0';
	dfuse_ctl_run(df, fn, c);
	*out = c;
	*outsz = sizeof(*c);
	return 0;
}

int dfuse_ioctl_answer(struct dfuse *df, const struct dfuse_ioctl_req *rq, void **out,
		       size_t *outsz)
{
	unsigned nr = _IOC_NR(rq->cmd);

	*out = NULL;
	*outsz = 0;
	/* Restricted ioctls only: the size in the number is the transfer. */
	if (_IOC_TYPE(rq->cmd) != DAXFS_IOC_MAGIC || (rq->flags & FUSE_IOCTL_UNRESTRICTED))
		return -ENOTTY;
	if (rq->flags & FUSE_IOCTL_COMPAT)
		return -ENOSYS;
	if (nr <= 0x3f)
		return device_control(df, rq, out, outsz);
	if (nr > 0x7f)
		return -ENOTTY;
	if (rq->cmd == DAXFS_IOC_LEASE_GET && df->writeback) {
		/* Dirty pages of the writeback cache are invisible to a direct
		 * mapping, and write() would no longer reach the pmem it shows:
		 * no mapping can be coherent on such a mount. */
		fuse_log(FUSE_LOG_ERR, "daxfs-fuse: direct access (inode %llu) refused: the mount "
			 "uses writeback_cache, whose dirty pages a direct mapping cannot see\n",
			 (unsigned long long) rq->ino);
		return -EOPNOTSUPP;
	}
	/* direct access for applications */
	return dfuse_client_request(df, rq, out, outsz);
}

void dfuse_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
		 struct fuse_file_info *fi, unsigned flags, const void *in_buf, size_t in_bufsz,
		 size_t out_bufsz)
{
	struct dfuse *df = dfuse_of(req);
	struct dfuse_caller who;
	const struct dfuse_ioctl_req rq = {
		.ino = ino, .cmd = cmd, .flags = flags, .who = &who,
		.fh = fi->fh, .in = in_buf, .in_size = in_bufsz, .out_size = out_bufsz,
	};
	void *out;
	size_t outsz;
	int ret;

	(void) arg;
	dfuse_caller_init(&who, req);
	/* A client's request that waits at a frozen filesystem's gate (an
	 * allocation, daxfs-run's write) gives up when the caller's syscall is
	 * interrupted, as a write does. */
	if (_IOC_NR(cmd) >= 0x40)
		dfuse_intr_begin(req);
	ret = dfuse_ioctl_answer(df, &rq, &out, &outsz);
	if (_IOC_NR(cmd) >= 0x40)
		dfuse_intr_end();
	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_ioctl(req, 0, out, outsz);
	free(out);
	dfuse_caller_fini(&who);
	/*
	 * The first lease: whatever the kernel cached was read before the
	 * mapping existed. Dropped after the reply, because dropping a dirty
	 * page of a page-cache mmap writes it back through this daemon, which
	 * a single-threaded daemon could not serve while this request waits.
	 * The contract only promises coherence from daxfs_persist on, and
	 * DAXFS_IOC_SYNC drops the range again before it replies.
	 */
	if (ret == 1)
		(void)dfuse_inval_inode(df, ino, 0, 0);
}
