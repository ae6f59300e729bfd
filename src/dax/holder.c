/* dax/holder.c - who holds a busy block device: its mounts (mountinfo) and holders (sysfs) */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "dax/device.h"
#include "util/mountinfo.h"

/* The device numbers of rdev and of its partitions (sysfs lists a disk's
 * partitions as subdirectories with a "partition" file). */
static size_t family(dev_t rdev, dev_t *out, size_t max)
{
	char dir[64], path[512];
	struct dirent *e;
	size_t n = 0;
	DIR *d;

	out[n++] = rdev;
	snprintf(dir, sizeof(dir), "/sys/dev/block/%u:%u", major(rdev), minor(rdev));
	d = opendir(dir);
	if (!d)
		return n;
	while ((e = readdir(d)) && n < max) {
		unsigned ma, mi;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/partition", dir, e->d_name);
		if (access(path, F_OK))
			continue;
		snprintf(path, sizeof(path), "%s/%s/dev", dir, e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fscanf(f, "%u:%u", &ma, &mi) == 2)
			out[n++] = makedev(ma, mi);
		fclose(f);
	}
	closedir(d);
	return n;
}

struct mount_of_devs {
	const dev_t *devs;
	size_t n;
	char *buf;
	size_t size;
};

static int mount_of_devs_visit(void *ctx, const struct mountinfo_entry *e)
{
	struct mount_of_devs *m = ctx;

	for (size_t i = 0; i < m->n; i++)
		if (m->devs[i] == makedev(e->major, e->minor)) {
			snprintf(m->buf, m->size, "mounted at %s (%s)", e->mountpoint, e->fstype);
			return 1;
		}
	return 0;
}

static bool find_mount(const dev_t *devs, size_t n, char *buf, size_t size)
{
	struct mount_of_devs m = { devs, n, buf, size };

	return mountinfo_each(mount_of_devs_visit, &m) == 1;
}

static bool find_holder(dev_t rdev, char *buf, size_t size)
{
	char dir[80];
	struct dirent *e;
	bool found = false;
	DIR *d;

	snprintf(dir, sizeof(dir), "/sys/dev/block/%u:%u/holders", major(rdev), minor(rdev));
	d = opendir(dir);
	if (!d)
		return false;
	while (!found && (e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(buf, size, "held by %s", e->d_name);
			found = true;
		}
	closedir(d);
	return found;
}

void dax_holder_describe(dev_t rdev, char *buf, size_t size)
{
	dev_t devs[64];
	size_t n = family(rdev, devs, sizeof(devs) / sizeof(devs[0]));

	if (!find_mount(devs, n, buf, size) && !find_holder(rdev, buf, size))
		snprintf(buf, size, "opened exclusively by another program");
}
