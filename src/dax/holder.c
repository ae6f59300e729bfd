/* dax/holder.c - who holds a busy block device: its mounts (mountinfo) and holders (sysfs) */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "dax/device.h"

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

/* mountinfo escapes blanks and backslashes as \ooo */
static void unescape(char *s)
{
	char *d = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '7' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 4;
		} else {
			*d++ = *s++;
		}
	}
	*d = '\0';
}

static bool find_mount(const dev_t *devs, size_t n, char *buf, size_t size)
{
	char *line = NULL;
	size_t cap = 0;
	bool found = false;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return false;
	while (!found && getline(&line, &cap, f) > 0) {
		unsigned ma, mi;
		char *mnt, *sep, *fstype, *save = NULL;

		if (sscanf(line, "%*u %*u %u:%u", &ma, &mi) != 2)
			continue;
		for (size_t i = 0; i < n && !found; i++)
			found = devs[i] == makedev(ma, mi);
		if (!found)
			continue;
		/* id parent maj:min root mountpoint ... - fstype source ... */
		strtok_r(line, " ", &save);
		for (int k = 0; k < 3; k++)
			strtok_r(NULL, " ", &save);
		mnt = strtok_r(NULL, " ", &save);
		sep = mnt ? strstr(mnt + strlen(mnt) + 1, " - ") : NULL;
		fstype = sep ? strtok_r(sep + 3, " \n", &save) : NULL;
		if (mnt)
			unescape(mnt);
		snprintf(buf, size, "mounted at %s (%s)", mnt ? mnt : "?", fstype ? fstype : "?");
	}
	free(line);
	fclose(f);
	return found;
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
