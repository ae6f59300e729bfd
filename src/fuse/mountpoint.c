/* fuse/mountpoint.c - a mount point left behind by a daemon that died: saying so, and clearing it */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fuse/dfuse.h"
#include "util/mountinfo.h"

#define OUR_FSTYPE "fuse.daxfs-fuse"

/* The absolute path of mnt without touching mnt itself, whose stat fails on
 * a dead mount: the parent resolved, then the last component. */
static char *absolute_mountpoint(const char *mnt)
{
	char *copy = strdup(mnt), *slash, *parent, *out = NULL;
	const char *base;
	char real[PATH_MAX];

	if (!copy)
		return NULL;
	while (strlen(copy) > 1 && copy[strlen(copy) - 1] == '/')
		copy[strlen(copy) - 1] = '\0';
	slash = strrchr(copy, '/');
	if (!slash) {
		parent = ".";
		base = copy;
	} else if (slash == copy) {
		parent = "/";
		base = slash + 1;
	} else {
		*slash = '\0';
		parent = copy;
		base = slash + 1;
	}
	if (realpath(parent, real)) {
		size_t n = strlen(real) + strlen(base) + 2;

		out = malloc(n);
		if (out)
			snprintf(out, n, "%s%s%s", real, strcmp(real, "/") ? "/" : "", base);
	}
	free(copy);
	return out;
}

struct mount_at {
	const char *path;
	char *fstype, *source;
	int found;
};

/* Later lines are mounted on top of earlier ones: keep the last. */
static int mount_at_visit(void *ctx, const struct mountinfo_entry *e)
{
	struct mount_at *m = ctx;

	if (strcmp(e->mountpoint, m->path) != 0)
		return 0;
	free(m->fstype);
	free(m->source);
	m->fstype = strdup(e->fstype);
	m->source = strdup(e->source);
	m->found = m->fstype && m->source ? 0 : -1;
	return 0;
}

/* The type and source of the topmost mount at path (mallocs both), or -1. */
static int find_mount(const char *path, char **fstype, char **source)
{
	struct mount_at m = { path, *fstype, *source, -1 };

	if (mountinfo_each(mount_at_visit, &m) < 0)
		m.found = -1;
	*fstype = m.fstype;
	*source = m.source;
	return m.found;
}

/* A lazy unmount, as root directly, otherwise through fusermount3 (which
 * lets a user unmount what they mounted). */
static int detach(const char *path)
{
	pid_t pid;
	int status;

	if (geteuid() == 0)
		return umount2(path, MNT_DETACH) == 0 ? 0 : -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execlp("fusermount3", "fusermount3", "-u", "-z", "--", path, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EPERM;
}

int dfuse_mountpoint_prepare(const char *mnt, const char *source, bool recover)
{
	char *path, *fstype = NULL, *mounted = NULL;
	struct statfs st;
	int ret = -1, err;

	/* statfs, not stat: the kernel answers a stat of the root from its
	 * cache after the daemon died; a statfs always asks the daemon. */
	if (statfs(mnt, &st) == 0 || errno != ENOTCONN)
		return 0;	/* other errors are the mount's to report */
	path = absolute_mountpoint(mnt);
	if (!path || find_mount(path, &fstype, &mounted) != 0) {
		fprintf(stderr, "daxfs-fuse: %s: Transport endpoint is not connected (the FUSE "
			"daemon that served it has died): unmount it with 'fusermount3 -u %s'\n",
			mnt, mnt);
		goto out;
	}
	if (strcmp(fstype, OUR_FSTYPE) != 0) {
		fprintf(stderr, "daxfs-fuse: %s: the %s daemon that served this mount point has "
			"died (Transport endpoint is not connected); it is not a daxfs-fuse mount, "
			"so it is left alone: unmount it with 'fusermount3 -u %s'\n", mnt, fstype,
			mnt);
		goto out;
	}
	/* The same filesystem again is what anyone mounting it wants after a
	 * crash; another one over a dead mount of something else is the
	 * administrator's call. */
	if (!recover && strcmp(mounted, source) != 0) {
		fprintf(stderr, "daxfs-fuse: %s: the daxfs-fuse daemon that served %s there has "
			"died (Transport endpoint is not connected). Mount with -o recover to "
			"unmount it and mount %s in its place, or unmount it with "
			"'fusermount3 -u %s'\n", mnt, mounted, source, mnt);
		goto out;
	}
	err = detach(path);
	if (err) {
		fprintf(stderr, "daxfs-fuse: %s: cannot unmount the mount of %s left by a daemon "
			"that died: %s\n", mnt, mounted, strerror(-err));
		goto out;
	}
	/* The filesystem needs nothing else: its journal replays at the mount. */
	fprintf(stderr, "daxfs-fuse: %s: unmounted %s, left by a daemon that died; mounting "
		"again\n", mnt, mounted);
	ret = 0;
out:
	free(path);
	free(fstype);
	free(mounted);
	return ret;
}
