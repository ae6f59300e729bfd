/* fixture.h - the daemon modules' unit tests' fixtures: a struct dfuse over a fresh filesystem, its log */
#ifndef DAXFS_TEST_FUSE_FIXTURE_H
#define DAXFS_TEST_FUSE_FIXTURE_H

#include <stdarg.h>

#include "../fs/fixture.h"
#include "fuse/dfuse.h"
#include "fuse/run.h"

/* What the daemon logged at warning level or worse since t_dfuse. */
static char t_warnings[4096];

static inline void t_keep_warnings(enum fuse_log_level level, const char *fmt, va_list ap)
{
	size_t n = strlen(t_warnings);

	if (level <= FUSE_LOG_WARNING && n < sizeof(t_warnings) - 1)
		vsnprintf(t_warnings + n, sizeof(t_warnings) - n, fmt, ap);
}

static inline void t_dfuse_stop(void *arg)
{
	dfuse_run_stop(arg);
	free(arg);
}

/* The kernel's side of dfuse_inval_inode (fuse/super.c, not linked here):
 * each call, and the attribute timeout a GETATTR answered at that moment
 * would have carried (dfuse_run_attr_timeout, with 60 s as the mount's). */
static struct {
	unsigned calls;
	uint64_t ino;
	off_t off;
	double attr_timeout;
} t_inval;

int dfuse_inval_inode(struct dfuse *df, uint64_t ino, off_t off, off_t len)
{
	(void)len;
	t_inval.calls++;
	t_inval.ino = ino;
	t_inval.off = off;
	t_inval.attr_timeout = dfuse_run_attr_timeout(df, ino, 60);
	return 0;
}

/* A daemon's state over a fresh DAX filesystem of bytes bytes, as far as
 * the modules under test need it (no FUSE session): the fs, its device and
 * the daxfs-run table. Its warnings are kept in t_warnings. NULL on error. */
static inline struct dfuse *t_dfuse(uint64_t bytes)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(bytes, &md);
	struct dfuse *df;

	if (!fs || !(df = calloc(1, sizeof(*df))))
		return NULL;
	df->fs = *fs;
	df->md = md;
	if (dfuse_run_start(df) || !df->run) {
		fprintf(stderr, "harness: daxfs-run table: %s\n", daxfs_errormsg());
		free(df);
		return NULL;
	}
	t_defer(t_dfuse_stop, df);
	t_warnings[0] = '\0';
	memset(&t_inval, 0, sizeof(t_inval));
	fuse_set_log_func(t_keep_warnings);
	return df;
}

#endif
