/* fs/fsck.c - checking (and repairing) a daxfs against the invariants of FORMAT.md */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/internal.h"
#include "util/err.h"

struct fsck {
	struct dfs *fs;
	enum dfs_fsck_mode mode;
	dfs_fsck_report_t report;
	void *ctx;
	struct dfs_fsck_result res;
};

static void problem(struct fsck *c, bool repaired, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void problem(struct fsck *c, bool repaired, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->res.problems++;
	c->res.repaired += repaired;
	if (c->report)
		c->report(c->ctx, msg, repaired);
}

static int check_supers(struct fsck *c, struct mapped_device *md)
{
	uint8_t *b = malloc(DFS_BLOCK_SIZE);
	struct dfs_super sb[2];
	int ok[2];

	if (!b)
		return daxfs_err(-ENOMEM, "out of memory");
	for (int i = 0; i < 2; i++) {
		int err = dm_submit_bio(md, DAX_REQ_READ, 0, (uint64_t)i << DFS_BLOCK_SHIFT, b,
					DFS_BLOCK_SIZE);
		ok[i] = err ? err : dfs_super_decode(b, (uint64_t)i, &sb[i]);
		if (ok[i])
			problem(c, false, "%s superblock: %s", i ? "backup" : "primary", daxfs_errormsg());
	}
	free(b);
	if (ok[0] && ok[1])
		return daxfs_err(-EINVAL, "no valid superblock: not a daxfs, or damaged beyond repair");
	return 0;
}

int dfs_fsck(struct mapped_device *md, enum dfs_fsck_mode mode, dfs_fsck_report_t report,
	     void *ctx, struct dfs_fsck_result *out)
{
	struct fsck c = { .mode = mode, .report = report, .ctx = ctx };
	int err = check_supers(&c, md);

	if (out)
		*out = c.res;
	return err;
}
