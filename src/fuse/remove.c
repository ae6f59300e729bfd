/* fuse/remove.c - dmsetup remove on the mounted daemon's device: EBUSY while mounted, --deferred, --force */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daxfs/dm.h"
#include "fuse/ctl.h"
#include "util/err.h"

/*
 * dmsetup's _error_device, which remove --force runs first: an all-error
 * table is loaded and resumed without lockfs (and without flush), so that
 * nothing waits for a device about to go. dmsetup loads one "0 N error"; the
 * filesystem refuses a table whose layout differs from the one it was made
 * on (dfs_check_table), so each live target becomes an error target with
 * the same boundaries, which fails every access just as well. Answers c
 * and returns its error.
 */
static int wipe(struct dfuse *df, struct daxfs_ioc_ctl *c)
{
	struct dm_table *live = dm_md_get_live_table(df->md), *t = NULL;
	unsigned n = live ? dm_table_num_targets(live) : 0;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int err;

	if (!f) {
		dm_table_put(&live);
		dfuse_ctl_answer(c, daxfs_err(-ENOMEM, "out of memory"));
		return c->error;
	}
	for (unsigned i = 0; i < n; i++) {
		struct dm_target_info ti;

		if (dm_table_target_info(live, i, &ti) == 0)
			fprintf(f, "%" PRIu64 " %" PRIu64 " error\n", ti.begin, ti.len);
	}
	dm_table_put(&live);
	if (fclose(f) != 0 || !text) {
		free(text);
		dfuse_ctl_answer(c, daxfs_err(-ENOMEM, "out of memory"));
		return c->error;
	}
	err = dm_table_parse(df->md, text, "remove --force", &t);
	free(text);
	if (err == 0 && (err = dm_md_load(df->md, t)) < 0)
		dm_table_put(&t);
	if (err < 0) {
		dfuse_ctl_answer(c, err);
		return err;
	}
	c->flags |= DAXFS_IOC_F_NOLOCKFS;
	dfuse_ctl_resume(df, c);
	return c->error;
}

void dfuse_ctl_remove(struct dfuse *df, struct daxfs_ioc_ctl *c)
{
	int err;

	if ((c->flags & DAXFS_IOC_F_WIPE) && wipe(df, c) < 0)
		return;
	err = dm_md_remove(df->md, (c->flags & DAXFS_IOC_F_DEFERRED) ? DM_REMOVE_DEFERRED : 0);
	if (err == -EBUSY) {
		char msg[512];

		snprintf(msg, sizeof(msg), "%s", daxfs_errormsg());
		err = daxfs_err(err, "%s: the mounted filesystem holds it; unmount it, or remove "
				"with --deferred to have it removed at unmount", msg);
	}
	dfuse_ctl_answer(c, err);
}
