/* util/mountinfo.c - reading /proc/self/mountinfo, for every layer and tool that looks for a mount */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/mountinfo.h"

/* Undoes mountinfo's \ooo escapes of space, tab, newline and backslash. */
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

int mountinfo_each(int (*fn)(void *ctx, const struct mountinfo_entry *e), void *ctx)
{
	char *line = NULL;
	size_t cap = 0;
	int ret = 0;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return -errno;
	/* "36 35 0:48 / /mnt rw,relatime shared:1 - fuse.daxfs-fuse /src rw,..." */
	while (!ret && getline(&line, &cap, f) > 0) {
		struct mountinfo_entry e;
		char *save = NULL, *sep, *mnt;
		int n;

		if (sscanf(line, "%*u %*u %u:%u %*s %n", &e.major, &e.minor, &n) != 2)
			continue;
		mnt = strtok_r(line + n, " \n", &save);
		sep = strstr(mnt ? mnt + strlen(mnt) + 1 : line, " - ");
		if (!mnt || !sep)
			continue;
		save = NULL;
		e.fstype = strtok_r(sep + 3, " \n", &save);
		e.source = e.fstype ? strtok_r(NULL, " \n", &save) : NULL;
		if (!e.source)
			continue;
		unescape(mnt);
		unescape((char *)e.source);
		e.mountpoint = mnt;
		ret = fn(ctx, &e);
	}
	free(line);
	fclose(f);
	return ret;
}
