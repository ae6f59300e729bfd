/* dax/lock.c - the lock a daxfs mount holds on its devices, and telling a live mount from one that is going */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "dax/device.h"
#include "util/err.h"

/*
 * A FUSE unmount does not wait for the daemon: umount(2) ends the connection
 * and returns, and the daemon learns of it afterwards, then writes the
 * filesystem back and only then closes its devices (dropping the flock). A
 * mount of the same files started right after the unmount would find the
 * lock still held and be refused although nothing uses the files any more.
 *
 * So a mounting process that finds the lock held looks at the holder: if it
 * is a daemon that has been serving a mount (it holds the "mounted" mark, an
 * OFD lock on one byte far past any data) and the FUSE connection of that
 * mount is gone (a /dev/fuse descriptor of the holder polls POLLERR, which
 * umount(2) sets before it returns; libfuse's fuse_kern_unmount relies on the
 * same fact), the holder is only finishing its write-back and will close the
 * devices: wait for the lock. Anything else (a live mount, a lazily unmounted
 * one still in use, a daemon still starting, mkfs or fsck) is refused at once.
 * A daemon keeps a /dev/fuse descriptor open until it has closed its devices
 * (daxfs-fuse does), so the connection stays visible for the whole time.
 *
 * Looking at another process's descriptor needs pidfd_getfd, that is ptrace
 * rights over it (root, or the same user): without them the lock is refused
 * as before.
 */
#define MOUNTED_MARK_OFF ((off_t)1 << 62)

static bool mounted_mark_held(int fd)
{
	struct flock fl = {
		.l_type = F_WRLCK,
		.l_whence = SEEK_SET,
		.l_start = MOUNTED_MARK_OFF,
		.l_len = 1,
	};

	/* OFD locks conflict between open file descriptions, even ours */
	return fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
}

/* The pid holding the flock on (st_dev, st_ino), from /proc/locks, or 0. */
static pid_t flock_holder(dev_t st_dev, ino_t st_ino)
{
	char line[256], want[64];
	pid_t pid = 0;
	FILE *f = fopen("/proc/locks", "re");

	if (!f)
		return 0;
	/* "1: FLOCK  ADVISORY  WRITE 1234 00:1f:5678 0 EOF"; waiters have "->" */
	snprintf(want, sizeof(want), "%02x:%02x:%" PRIu64, major(st_dev), minor(st_dev),
		 (uint64_t)st_ino);
	while (fgets(line, sizeof(line), f)) {
		char kind[16], id[64];
		long p;

		if (strstr(line, "->"))
			continue;
		if (sscanf(line, "%*s %15s %*s %*s %ld %63s", kind, &p, id) == 3 &&
		    strcmp(kind, "FLOCK") == 0 && strcmp(id, want) == 0 && p > 0) {
			pid = (pid_t)p;
			break;
		}
	}
	fclose(f);
	return pid;
}

/* Whether pid has a /dev/fuse descriptor and all of them are disconnected. */
static bool fuse_connection_gone(pid_t pid)
{
	char dir[64], link[320], target[32];
	bool seen = false, gone = true;
	struct dirent *de;
	DIR *d;
	int pidfd;

	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return false;
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	if (!d) {
		close(pidfd);
		return false;
	}
	while (gone && (de = readdir(d))) {
		struct pollfd pfd = { .events = POLLIN };
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", dir, de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (strcmp(target, "/dev/fuse") != 0)
			continue;
		pfd.fd = (int)syscall(SYS_pidfd_getfd, pidfd, atoi(de->d_name), 0);
		if (pfd.fd < 0 && errno == EBADF)
			continue;       /* closed since readlink: a leaving daemon's */
		if (pfd.fd < 0) {
			gone = false;   /* no right to look: assume it is live */
			break;
		}
		seen = true;
		if (poll(&pfd, 1, 0) != 1 || !(pfd.revents & POLLERR))
			gone = false;
		close(pfd.fd);
	}
	closedir(d);
	close(pidfd);
	return seen && gone;
}

enum holder {
	HOLDER_LIVE,        /* refuse */
	HOLDER_LEAVING,     /* a daemon whose mount is gone: wait for it */
	HOLDER_NONE,        /* released meanwhile: try again */
};

static enum holder lock_holder(struct dax_device *dev)
{
	bool marked = mounted_mark_held(dev->fd);
	pid_t pid = flock_holder(dev->st_dev, dev->st_ino);

	/* the holder may have let go since our flock failed: a leaving daemon
	 * drops its flock before its mark, so no flock means try again, and a
	 * flock with no mark is someone that never served a mount */
	if (pid == 0)
		return HOLDER_NONE;
	if (marked && fuse_connection_gone(pid))
		return HOLDER_LEAVING;
	/* a holder that let go while we looked at its descriptors holds
	 * nothing either (a leaving daemon closes its last /dev/fuse
	 * descriptor right after its devices) */
	return flock_holder(dev->st_dev, dev->st_ino) == pid ? HOLDER_LIVE : HOLDER_NONE;
}

/* Each retry follows a holder that let go between two looks: a few are
 * plenty, and the bound keeps a pathological churn from spinning. */
#define LOCK_RETRIES 100

int dax_device_lock(struct dax_device *dev)
{
	bool wait = false;
	int retries = 0;

	if (!dev)
		return daxfs_err(-EINVAL, "dax_device_lock: no device");
	/* flock belongs to our open file description: a second open of the same
	 * file, in this process or another, conflicts; the same device relocking
	 * does not */
	while (flock(dev->fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB) < 0) {
		int err = errno;

		if (err == EINTR)
			continue;
		if (err != EWOULDBLOCK)
			return dax_fail(dev, daxfs_err(-err, "%s: flock: %s", dev->path,
						       strerror(err)));
		switch (lock_holder(dev)) {
		case HOLDER_LEAVING:
			wait = true;
			continue;
		case HOLDER_NONE:
			if (++retries < LOCK_RETRIES)
				continue;
			/* fall through */
		case HOLDER_LIVE:
			break;
		}
		return dax_fail(dev, daxfs_err(-EBUSY, "%s: in use by another daxfs mount",
					       dev->path));
	}
	return 0;
}

int dax_device_mark_mounted(struct dax_device *dev)
{
	struct flock fl = {
		.l_type = F_RDLCK,      /* a read lock: the device may be open read-only */
		.l_whence = SEEK_SET,
		.l_start = MOUNTED_MARK_OFF,
		.l_len = 1,
	};

	if (!dev)
		return daxfs_err(-EINVAL, "dax_device_mark_mounted: no device");
	if (fcntl(dev->fd, F_OFD_SETLK, &fl) < 0) {
		int err = errno;

		return daxfs_err(-err, "%s: cannot mark the device mounted: %s", dev->path,
				 strerror(err));
	}
	return 0;
}
