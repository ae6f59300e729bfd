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
	__attribute__((format(printf, 2, 0)));
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

/* The line of the file that holds target index (0-based), counting lines as
 * the table parser does (blank and '#' lines hold no target); 0 if unknown. */
static unsigned target_line(const char *path, unsigned index)
{
	char buf[4096];
	unsigned lineno = 0, seen = 0;
	bool at_start = true;
	FILE *f;

	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(buf, sizeof(buf), f)) {
		const char *p = buf;
		bool whole = strchr(buf, '\n') != NULL;

		/* a line longer than buf continues in the next read */
		if (at_start) {
			lineno++;
			p += strspn(p, " \t\r\v\f");
			if (*p && *p != '\n' && *p != '#') {
				if (seen++ == index) {
					fclose(f);
					return lineno;
				}
			}
		}
		at_start = whole;
	}
	fclose(f);
	return 0;
}

/*
 * Parse errors already read "<file>:<line>: <type>: <reason>". Load errors
 * (alignment, device ranges) come from the mapped device, named after the
 * file, as "<file>: ...: target N (<type>): <reason>": they get the line of
 * target N, so that every message points at a line of the file.
 */
static void table_error(const struct ctl_command *cmd, const char *path, int err)
{
	const char *msg = failure_text(err), *rest, *tgt;
	size_t n = strlen(path);
	unsigned index, line = 0;

	rest = msg;
	if (strncmp(msg, path, n) == 0 && msg[n] == ':') {
		if (msg[n + 1] != ' ') {
			ctl_error(cmd, "%s", msg);          /* already "<file>:<line>:" */
			return;
		}
		rest = msg + n + 2;
	}
	tgt = strstr(rest, "target ");
	if (tgt && sscanf(tgt, "target %u (", &index) == 1)
		line = target_line(path, index);
	if (line)
		ctl_error(cmd, "%s:%u: %s", path, line, rest);
	else
		ctl_error(cmd, "%s: %s", path, rest);
}

int ctl_read_table(const struct ctl_command *cmd, const char *path, char **text, size_t *len)
{
	int ret = dm_table_read_file(path, text, len);

	if (ret)
		table_error(cmd, path, ret);
	return ret;
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
	ret = dm_md_create(path, &md);
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
