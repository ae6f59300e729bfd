/* fuse/access.c - who the caller of a request is, and what it may do with a file or the device */
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuse/dfuse.h"

void dfuse_caller_init(struct dfuse_caller *c, fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	*c = (struct dfuse_caller){ .uid = ctx->uid, .gid = ctx->gid, .ngroups = -1, .req = req };
}

void dfuse_caller_fini(struct dfuse_caller *c)
{
	free(c->owned);
	c->owned = NULL;
}

/* The kernel does not send supplementary groups: libfuse reads them from
 * /proc. Failing to read them counts as belonging to none. */
static void read_groups(struct dfuse_caller *c)
{
	gid_t *list = NULL;
	int n = 0, want = 64;

	c->ngroups = 0;
	c->groups = NULL;
	if (!c->req)
		return;
	for (int tries = 0; tries < 3; tries++) {
		gid_t *bigger = realloc(list, (size_t)want * sizeof(*list));

		if (!bigger)
			break;
		list = bigger;
		n = fuse_req_getgroups(c->req, want, list);
		if (n <= want)
			break;
		want = n;       /* the list grew: ask again with room for it */
	}
	if (n < 0 || n > want) {
		free(list);
		return;
	}
	c->owned = list;
	c->groups = list;
	c->ngroups = n;
}

bool dfuse_may_control(const struct dfuse_caller *c)
{
	return c->uid == 0 || c->uid == getuid();
}

bool dfuse_in_group(struct dfuse_caller *c, gid_t gid)
{
	if (c->gid == gid)
		return true;
	if (c->ngroups < 0)
		read_groups(c);
	for (int i = 0; i < c->ngroups; i++)
		if (c->groups[i] == gid)
			return true;
	return false;
}

int dfuse_may_access(struct dfuse_caller *c, const struct stat *st, int mask)
{
	mode_t bits;

	/* CAP_DAC_OVERRIDE: root reads and writes any regular file. */
	if (c->uid == 0)
		return 0;
	/* generic_permission: the owner class decides for the owner even when
	 * the group or others would be allowed more (daxfs has no ACLs). */
	if (c->uid == st->st_uid)
		bits = (st->st_mode >> 6) & 7;
	else if (dfuse_in_group(c, st->st_gid))
		bits = (st->st_mode >> 3) & 7;
	else
		bits = st->st_mode & 7;
	return (bits & (unsigned)mask) == (unsigned)mask ? 0 : -EACCES;
}

/* The kernel does not say whether the caller has CAP_FSETID; /proc does,
 * for the thread that sent the request (its pid). capable() asks about the
 * initial user namespace: a task in another namespace than the daemon's has
 * the capability only there, when the daemon may see that. A thread that
 * cannot be read (gone, another pid namespace: pid 0) counts as without,
 * which clears bits the kernel might have kept, never keeps bits it clears. */
bool dfuse_req_fsetid(fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	char path[64], line[128];
	struct stat mine, theirs;
	bool has = false;
	FILE *f;

	if (ctx->pid <= 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)ctx->pid);
	if (stat(path, &theirs) == 0 && stat("/proc/self/ns/user", &mine) == 0 &&
	    (theirs.st_ino != mine.st_ino || theirs.st_dev != mine.st_dev))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)ctx->pid);
	if (!(f = fopen(path, "re")))
		return false;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long eff;

		if (sscanf(line, "CapEff: %llx", &eff) == 1) {
			has = eff & (1ULL << CAP_FSETID);
			break;
		}
	}
	fclose(f);
	return has;
}
