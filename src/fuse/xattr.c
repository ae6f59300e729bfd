/* fuse/xattr.c - extended attributes: set, get, list, remove */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuse/extmap.h"

/* The daemon's own attributes (system.daxfs.*) describe where the data
 * lives: read-only, and readable only by those who may read the data. The
 * kernel leaves system.* attributes to the filesystem, so the check is
 * ours. */
static bool is_daemon_xattr(const char *name)
{
	return strncmp(name, DFUSE_XATTR_PREFIX, strlen(DFUSE_XATTR_PREFIX)) == 0;
}

void dfuse_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		    size_t size, int flags)
{
	int err = -EPERM;

	if (!is_daemon_xattr(name)) {
		dfuse_intr_begin(req);
		err = dfs_setxattr(dfuse_of(req)->fs, ino, name, value, size, flags);
		dfuse_intr_end();
	}

	fuse_reply_err(req, err < 0 ? dfuse_errno(err, "setxattr", ino) : 0);
}

/* getxattr and listxattr share the protocol: size 0 asks for the length,
 * otherwise the value is returned or ERANGE if it does not fit. */
static void reply_sized(fuse_req_t req, fuse_ino_t ino, size_t size, const char *op,
			ssize_t (*get)(struct dfuse *df, uint64_t ino, const char *name, void *buf,
				       size_t size),
			const char *name)
{
	struct dfuse *df = dfuse_of(req);
	void *buf = NULL;
	ssize_t n;

	if (size) {
		buf = malloc(size);
		if (!buf) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
	}
	n = get(df, ino, name, buf, size);
	if (n < 0)
		fuse_reply_err(req, dfuse_errno((int) n, op, ino));
	else if (size == 0)
		fuse_reply_xattr(req, (size_t) n);
	else
		fuse_reply_buf(req, buf, (size_t) n);
	free(buf);
}

static ssize_t get_value(struct dfuse *df, uint64_t ino, const char *name, void *buf,
			 size_t size)
{
	return dfs_getxattr(df->fs, ino, name, buf, size);
}

static ssize_t get_list(struct dfuse *df, uint64_t ino, const char *name, void *buf, size_t size)
{
	(void) name;
	return dfs_listxattr(df->fs, ino, buf, size);
}

/* FUSE has no FIEMAP, yet tools and tests need to know where a file's bytes
 * live. The filesystem never stores a system.* attribute, so these names
 * cannot collide with one. */
/* NAME, or NAME@OFFSET: a page of the map from a file offset (extmap.h), as
 * a map of thousands of extents passes the kernel's 64 KiB per value. */
static bool map_name(const char *name, const char *base, bool *paged, uint64_t *from)
{
	const size_t n = strlen(base);
	char *end;

	if (strncmp(name, base, n) != 0)
		return false;
	*paged = name[n] == '@';
	*from = 0;
	if (!*paged)
		return name[n] == '\0';
	if (name[n + 1] < '0' || name[n + 1] > '9')
		return false;
	errno = 0;
	*from = strtoull(name + n + 1, &end, 10);
	return errno == 0 && *end == '\0';
}

static ssize_t get_map(struct dfuse *df, uint64_t ino, const char *name, void *buf, size_t size)
{
	bool paged;
	uint64_t from;
	char *text;
	ssize_t n;
	const bool iomap = map_name(name, DFUSE_IOMAP_XATTR, &paged, &from);

	if (!iomap && !map_name(name, DFUSE_MAP_XATTR, &paged, &from))
		return -ENODATA;
	if ((n = dfuse_extmap_text(df, ino, !iomap, from, paged ? DFUSE_MAP_PAGE : 0, &text)) < 0)
		return n;
	if (size && (size_t) n > size)
		n = -ERANGE;
	else if (size)
		memcpy(buf, text, (size_t) n);
	free(text);
	return n;
}

void dfuse_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct dfuse_caller who;
	struct stat st;
	int err;

	if (!is_daemon_xattr(name)) {
		reply_sized(req, ino, size, "getxattr", get_value, name);
		return;
	}
	dfuse_caller_init(&who, req);
	if ((err = dfs_getattr(dfuse_of(req)->fs, ino, &st)) == 0)
		err = dfuse_may_access(&who, &st, R_OK);
	dfuse_caller_fini(&who);
	if (err < 0) {
		fuse_reply_err(req, dfuse_errno(err, "getxattr", ino));
		return;
	}
	reply_sized(req, ino, size, "getxattr", get_map, name);
}

void dfuse_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	reply_sized(req, ino, size, "listxattr", get_list, NULL);
}

void dfuse_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	int err = -EPERM;

	if (!is_daemon_xattr(name)) {
		dfuse_intr_begin(req);
		err = dfs_removexattr(dfuse_of(req)->fs, ino, name);
		dfuse_intr_end();
	}

	fuse_reply_err(req, err < 0 ? dfuse_errno(err, "removexattr", ino) : 0);
}
