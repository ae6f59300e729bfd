/* tools/ctl/common.c - messages and table set-up shared by the daxfs-ctl commands */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ctl/ctl.h"
#include "daxfs/err.h"

const char *ctl_progname = "daxfs-ctl";

static void vmessage(const struct ctl_command *cmd, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s %s: ", ctl_progname, cmd->name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void ctl_error(const struct ctl_command *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(cmd, fmt, ap);
	va_end(ap);
}

int ctl_usage_error(const struct ctl_command *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(cmd, fmt, ap);
	va_end(ap);
	fprintf(stderr, "usage: %s %s %s\n", ctl_progname, cmd->name, cmd->usage);
	fprintf(stderr, "Try '%s %s --help' for more information.\n", ctl_progname, cmd->name);
	return CLI_EXIT_USAGE;
}

/* The library message, or the errno's text when the library left none. */
static const char *failure_text(int err)
{
	const char *msg = daxfs_errormsg();

	return msg[0] ? msg : strerror(-err);
}

/* Table messages already start with the file name ("t.table:3: ..."); others
 * get it in front so that every message says which table it is about. */
static void table_error(const struct ctl_command *cmd, const char *path, int err)
{
	const char *msg = failure_text(err);
	size_t n = strlen(path);

	if (strncmp(msg, path, n) == 0 && msg[n] == ':')
		ctl_error(cmd, "%s", msg);
	else
		ctl_error(cmd, "%s: %s", path, msg);
}

int ctl_open_table(const struct ctl_command *cmd, const char *path, bool live,
		   struct mapped_device **mdp, struct dm_table **tp)
{
	struct mapped_device *md = NULL;
	struct dm_table *t = NULL;
	int ret;

	*mdp = NULL;
	if (tp)
		*tp = NULL;
	ret = dm_md_create(cmd->name, &md);
	if (ret) {
		ctl_error(cmd, "cannot create a mapped device: %s", failure_text(ret));
		return ret;
	}
	ret = dm_table_parse_file(md, path, &t);
	if (ret) {
		table_error(cmd, path, ret);
		goto fail;
	}
	/* load takes our reference: t belongs to the device from here on */
	ret = dm_md_load(md, t);
	if (ret) {
		dm_table_put(&t);
		table_error(cmd, path, ret);
		goto fail;
	}
	if (live) {
		ret = dm_md_resume(md, DM_SUSPEND_NOLOCKFS);
		if (ret) {
			table_error(cmd, path, ret);
			goto fail;
		}
	}
	if (tp)
		*tp = live ? dm_md_get_live_table(md) : dm_md_get_inactive_table(md);
	*mdp = md;
	return 0;
fail:
	dm_md_destroy(&md);
	return ret;
}
