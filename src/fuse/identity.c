/* fuse/identity.c - what dmsetup info shows of the mapped device that a kernel device has: uuid, major:minor */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daxfs/dm.h"
#include "fuse/dfuse.h"

/* /proc/self/mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/* The device number of the mount at mnt (its st_dev): field 3 of its line of
 * mountinfo, the last one if mounts are stacked there. Read rather than
 * stat'ed: a stat of our own mount would be a request to ourselves before
 * the session serves any. */
static int mount_devt(const char *mnt, unsigned *major, unsigned *minor)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	int found = -ENOENT;

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		unsigned maj, min;
		char point[4096];

		if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &maj, &min, point) != 3)
			continue;
		unescape(point);
		if (strcmp(point, mnt) == 0) {
			*major = maj;
			*minor = min;
			found = 0;
		}
	}
	free(line);
	fclose(f);
	return found;
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
