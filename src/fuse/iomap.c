/* fuse/iomap.c - the read-only "system.daxfs.iomap" attribute: a file's extent map as text */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuse/dfuse.h"

/*
 * FUSE has no FIEMAP, yet tools and tests need to know where a file's bytes
 * live on the mapped device (to follow them down the dm chain to the backing
 * files). The filesystem never stores a system.* attribute, so the name cannot
 * collide with one.
 *
 * One line per extent, in file order, up to i_size:
 *   "<file offset> <length> mapped <device offset>\n"
 *   "<file offset> <length> unwritten <device offset>\n"
 *   "<file offset> <length> hole -\n"
 * Offsets and lengths in bytes; the device offset is on the mapped device.
 */

bool dfuse_is_iomap_xattr(const char *name)
{
	return strcmp(name, DFUSE_IOMAP_XATTR) == 0;
}

static const char *type_name(uint16_t type)
{
	switch (type) {
	case DFS_IOMAP_HOLE:
		return "hole";
	case DFS_IOMAP_MAPPED:
		return "mapped";
	case DFS_IOMAP_UNWRITTEN:
		return "unwritten";
	default:
		return "unknown";
	}
}

ssize_t dfuse_iomap_text(struct dfs *fs, uint64_t ino, char **out)
{
	struct stat st;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int err;

	*out = NULL;
	err = dfs_getattr(fs, ino, &st);
	if (err < 0)
		return err;
	if (!S_ISREG(st.st_mode))
		return -ENODATA;
	f = open_memstream(&text, &len);
	if (!f)
		return -ENOMEM;
	for (uint64_t pos = 0; pos < (uint64_t) st.st_size;) {
		struct dfs_iomap m;

		err = dfs_iomap_begin(fs, ino, pos, (uint64_t) st.st_size - pos, DFS_IOMAP_REPORT, &m);
		if (err < 0)
			break;
		dfs_iomap_end(fs, ino, pos, (uint64_t) st.st_size - pos, 0, DFS_IOMAP_REPORT, &m);
		/* A map must cover pos and move forward, or the loop never ends. */
		if (m.offset > pos || m.offset + m.length <= pos) {
			err = -EIO;
			fuse_log(FUSE_LOG_ERR, "daxfs-fuse: iomap of inode %llu at %llu returned "
				 "[%llu, +%llu)\n", (unsigned long long) ino,
				 (unsigned long long) pos, (unsigned long long) m.offset,
				 (unsigned long long) m.length);
			break;
		}
		if (m.type == DFS_IOMAP_HOLE)
			fprintf(f, "%llu %llu hole -\n", (unsigned long long) m.offset,
				(unsigned long long) m.length);
		else
			fprintf(f, "%llu %llu %s %llu\n", (unsigned long long) m.offset,
				(unsigned long long) m.length, type_name(m.type),
				(unsigned long long) m.addr);
		pos = m.offset + m.length;
	}
	if (fclose(f) != 0 && err == 0)
		err = -ENOMEM;
	if (err < 0) {
		free(text);
		return err;
	}
	*out = text;
	return (ssize_t) len;
}
