/* fuse/identity.c - what dmsetup info shows of the mapped device that a kernel device has: uuid, major:minor */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "daxfs/dm.h"
#include "fuse/dfuse.h"
#include "util/mountinfo.h"

struct devt_lookup {
	const char *mnt;
	unsigned major, minor;
	bool found;
};

static int devt_of_mount(void *ctx, const struct mountinfo_entry *e)
{
	struct devt_lookup *l = ctx;

	if (strcmp(e->mountpoint, l->mnt) == 0) {
		l->major = e->major;
		l->minor = e->minor;
		l->found = true;
	}
	return 0;       /* on: the last line wins when mounts are stacked */
}

/* The device number of the mount at mnt (its st_dev), from mountinfo, the
 * last one if mounts are stacked there. Read rather than stat'ed: a stat of
 * our own mount would be a request to ourselves before the session serves
 * any. */
static int mount_devt(const char *mnt, unsigned *major, unsigned *minor)
{
	struct devt_lookup l = { .mnt = mnt };
	int err = mountinfo_each(devt_of_mount, &l);

	if (err < 0)
		return err;
	if (!l.found)
		return -ENOENT;
	*major = l.major;
	*minor = l.minor;
	return 0;
}

void dfuse_identify(struct dfuse *df, const char *mountpoint)
{
	uint8_t u[16];
	char uuid[64];
	unsigned major, minor;
	int err;

	/* The prefix names the owner, as LVM's "LVM-" and cryptsetup's
	 * "CRYPT-" do; the rest is the filesystem's uuid. */
	dfs_uuid(df->fs, u);
	snprintf(uuid, sizeof(uuid), "DAXFS-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8],
		 u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
	if (dfuse_dm(df, &(struct dm_ioctl_req){ .cmd = DM_IOC_DEV_RENAME, .flags = DM_IOC_F_UUID,
						 .text = uuid }) < 0)
		fuse_log(FUSE_LOG_WARNING, "daxfs-fuse: device uuid: %s\n", daxfs_errormsg());
	err = mount_devt(mountpoint, &major, &minor);
	if (err == 0)
		(void)dfuse_dm(df, &(struct dm_ioctl_req){ .cmd = DM_IOC_DEV_SET_DEVT,
							   .major = major, .minor = minor });
	else
		fuse_log(FUSE_LOG_WARNING, "daxfs-fuse: %s: no device number in "
			 "/proc/self/mountinfo (%s); info shows 0, 0\n", mountpoint, strerror(-err));
}
