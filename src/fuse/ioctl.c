/* fuse/ioctl.c - the daemon's ioctl handler: who may ask, which number does what, one reply */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daxfs/ioctl.h"
#include "fuse/client.h"
#include "fuse/ctl.h"

/* The device-control numbers (0x00-0x3f), each a command of ctl.c. */
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
};

/* Returns 0 once it has replied, or the errno to reply with. */
static int device_control(fuse_req_t req, fuse_ino_t ino, unsigned int cmd,
			  const void *in_buf, size_t in_bufsz, size_t out_bufsz)
{
	struct daxfs_ioc_ctl *c;
	dfuse_ctl_fn fn = NULL;

	for (size_t i = 0; i < sizeof(device_commands) / sizeof(device_commands[0]); i++)
		if (device_commands[i].cmd == cmd)
			fn = device_commands[i].fn;
	if (!fn)
		return ENOTTY;
	if (!dfuse_may_control(req))
		return EPERM;
	/* Device control is asked of the mount's root directory, so that a
	 * file's ioctl numbers stay free for per-file requests. */
	if (ino != FUSE_ROOT_ID)
		return ENOTTY;
	if (in_bufsz != sizeof(*c) || out_bufsz < sizeof(*c))
		return EINVAL;
	/* The request buffer belongs to libfuse: answer in a copy of our own. */
	c = malloc(sizeof(*c));
	if (!c)
		return ENOMEM;
	memcpy(c, in_buf, sizeof(*c));
	if (c->version != DAXFS_IOC_VERSION) {
		free(c);
		return EPROTO;
	}
	c->error = 0;
	c->text[sizeof(c->text) - 1] = '\0';
	dfuse_ctl_run(dfuse_of(req), fn, c);
	fuse_reply_ioctl(req, 0, c, sizeof(*c));
	free(c);
	return 0;
}

void dfuse_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
		 struct fuse_file_info *fi, unsigned flags, const void *in_buf, size_t in_bufsz,
		 size_t out_bufsz)
{
	unsigned nr = _IOC_NR(cmd);
	int err = ENOTTY;

	(void) arg;
	(void) fi;
	/* Restricted ioctls only: the size in the number is the transfer. */
	if (_IOC_TYPE(cmd) != DAXFS_IOC_MAGIC || (flags & FUSE_IOCTL_UNRESTRICTED))
		err = ENOTTY;
	else if (flags & FUSE_IOCTL_COMPAT)
		err = ENOSYS;
	else if (nr <= 0x3f)
		err = device_control(req, ino, cmd, in_buf, in_bufsz, out_bufsz);
	else if (nr <= 0x7f && cmd == DAXFS_IOC_LEASE_GET && dfuse_of(req)->writeback) {
		/* Dirty pages of the writeback cache are invisible to a direct
		 * mapping, and write() would no longer reach the pmem it shows:
		 * no mapping can be coherent on such a mount. */
		fuse_log(FUSE_LOG_ERR, "daxfs-fuse: direct access (inode %llu) refused: the mount "
			 "uses writeback_cache, whose dirty pages a direct mapping cannot see\n",
			 (unsigned long long) ino);
		err = EOPNOTSUPP;
	} else if (nr <= 0x7f) {	/* direct access for applications: replies itself */
		dfuse_client_ioctl(req, ino, cmd, arg, fi, flags, in_buf, in_bufsz, out_bufsz);
		return;
	}
	if (err)
		fuse_reply_err(req, err);
}
