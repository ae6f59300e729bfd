/* util/mountinfo.h - reading /proc/self/mountinfo, for every layer and tool that looks for a mount (internal) */
#ifndef DAXFS_UTIL_MOUNTINFO_H
#define DAXFS_UTIL_MOUNTINFO_H

#include <sys/types.h>

/* The type of every daxfs-fuse mount: FUSE's "fuse." and the daemon's subtype. */
#define MOUNTINFO_DAXFS_TYPE "fuse.daxfs-fuse"

/* One line of mountinfo, fields unescaped (\ooo undone). Valid during the
 * callback only. */
struct mountinfo_entry {
	unsigned major, minor;      /* st_dev of the mounted filesystem */
	const char *mountpoint;
	const char *fstype;
	const char *source;         /* for daxfs-fuse, the fsname: its SOURCE */
};

/*
 * Calls fn for every mount of this process's namespace, in mountinfo order
 * (later lines are mounted over earlier ones), until fn returns non-zero.
 * Returns what fn returned, 0 when every line was seen, or a negative errno
 * when mountinfo cannot be read.
 */
int mountinfo_each(int (*fn)(void *ctx, const struct mountinfo_entry *e), void *ctx);

#endif
