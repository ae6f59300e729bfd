/* fuse/access.c - who the caller of a request is, and what it may do with a file or the device */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuse/dfuse.h"

bool dfuse_may_control(fuse_req_t req)
{
	uid_t uid = fuse_req_ctx(req)->uid;

	return uid == 0 || uid == getuid();
}

bool dfuse_in_group(fuse_req_t req, gid_t gid)
{
	gid_t small[64], *list = small;
	bool in = false;
	int n;

	if (fuse_req_ctx(req)->gid == gid)
		return true;
	/* The kernel does not send supplementary groups: libfuse reads them
	 * from /proc. Failing to read them counts as not a member. */
	n = fuse_req_getgroups(req, 64, small);
	if (n > 64) {
		if (!(list = malloc((size_t)n * sizeof(*list))))
			return false;
		n = fuse_req_getgroups(req, n, list);
	}
	for (int i = 0; i < n && !in; i++)
		in = list[i] == gid;
	if (list != small)
		free(list);
	return in;
}

int dfuse_may_access(fuse_req_t req, const struct stat *st, int mask)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	mode_t bits;

	/* CAP_DAC_OVERRIDE: root reads and writes any regular file. */
	if (ctx->uid == 0)
		return 0;
	/* generic_permission: the owner class decides for the owner even when
	 * the group or others would be allowed more (daxfs has no ACLs). */
	if (ctx->uid == st->st_uid)
		bits = (st->st_mode >> 6) & 7;
	else if (dfuse_in_group(req, st->st_gid))
		bits = (st->st_mode >> 3) & 7;
	else
		bits = st->st_mode & 7;
	return (bits & (unsigned)mask) == (unsigned)mask ? 0 : -EACCES;
}
