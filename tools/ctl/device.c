/* tools/ctl/device.c - daxfs-ctl commands on a mounted daemon's mapped device (the ioctl channel) */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "ctl/answer.h"

/* What a device-control command sends: the ioctl, its flags, and how to read
 * its positional arguments. */
struct devcmd {
	const struct ctl_command *cmd;
	unsigned long request;
	unsigned allowed_flags;      /* daxfs_ioc_flags the options may set */
	ctl_render_fn render;        /* of its result; NULL: it has none */
};

static const struct option devcmd_longopts[] = {
	{ "json", no_argument, NULL, 'j' },
	{ "inactive", no_argument, NULL, 'i' },
	{ "nolockfs", no_argument, NULL, 'n' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "deferred", no_argument, NULL, 'd' },
	{ "force", no_argument, NULL, 'f' },
	{ 0 },
};

static unsigned option_flag(int c)
{
	switch (c) {
	case 'j': return DAXFS_IOC_F_JSON;
	case 'i': return DAXFS_IOC_F_INACTIVE;
	case 'n': return DAXFS_IOC_F_NOLOCKFS;
	case 'v': return DAXFS_IOC_F_VERBOSE;
	case 'd': return DAXFS_IOC_F_DEFERRED;
	/* --force: resume/reload swap past mappings, remove wipes first; each
	 * command allows only its own meaning */
	case 'f': return DAXFS_IOC_F_FORCE | DAXFS_IOC_F_WIPE;
	default:  return 0;
	}
}

/* Parses the options; leaves optind at the first positional argument.
 * Returns 0 or CLI_EXIT_USAGE. */
static int parse_flags(const struct devcmd *d, int argc, char **argv, unsigned *flags)
{
	int c;

	*flags = 0;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", devcmd_longopts, NULL)) != -1) {
		unsigned f = option_flag(c);

		if (!f || !(f & d->allowed_flags))
			return ctl_usage_error(d->cmd, "unknown option '%s'", argv[optind - 1]);
		*flags |= f & d->allowed_flags;
	}
	return 0;
}

/* Opens the mount's root directory, where device control ioctls go. */
static int open_mount(const struct ctl_command *cmd, const char *mnt)
{
	int fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		ctl_error(cmd, "%s: %s", mnt, strerror(errno));
	return fd;
}

static struct daxfs_ioc_ctl *new_request(const struct ctl_command *cmd, unsigned flags)
{
	struct daxfs_ioc_ctl *c = calloc(1, sizeof(*c));

	if (!c) {
		ctl_error(cmd, "out of memory");
		return NULL;
	}
	c->version = DAXFS_IOC_CTL_VERSION;
	c->flags = flags;
	return c;
}

/* One request with no argument but the mount point: table, info, status,
 * suspend, resume, clear, remove, workers. */
static int simple_run(const struct devcmd *d, int argc, char **argv)
{
	struct daxfs_ioc_ctl *c;
	unsigned flags;
	int fd, ret;

	ret = parse_flags(d, argc, argv, &flags);
	if (ret)
		return ret;
	if (argc - optind != 1)
		return ctl_usage_error(d->cmd, argc - optind < 1 ? "missing MOUNTPOINT" :
				       "too many arguments");
	fd = open_mount(d->cmd, argv[optind]);
	if (fd < 0)
		return CLI_EXIT_FAIL;
	c = new_request(d->cmd, flags);
	ret = CLI_EXIT_FAIL;
	if (c)
		ret = ctl_ask(d->cmd, fd, argv[optind], d->request, d->render, c);
	free(c);
	close(fd);
	return ret;
}

/* The daemon names the text it parsed "load" ("load:3: linear: ..."); the
 * user knows it as the file they gave, so say that. */
static int load_failed(const struct ctl_command *cmd, const char *mnt, const char *table,
		       struct daxfs_ioc_ctl *c)
{
	const char *p = strstr(c->text, "load:");

	if (p && (p == c->text || p[-1] == ' ') && isdigit((unsigned char)p[5])) {
		ctl_error(cmd, "%s: %.*s%s:%s", mnt, (int)(p - c->text), c->text, table, p + 5);
		return CLI_EXIT_FAIL;
	}
	return ctl_answer(cmd, -1, mnt, DAXFS_IOC_LOAD, NULL, c);
}

/* Sends the table text in chunks: every chunk but the last has F_MORE. */
static int send_load(const struct ctl_command *cmd, int fd, const char *mnt, const char *table,
		     const char *text, size_t len, unsigned flags)
{
	const size_t chunk = DAXFS_IOC_TEXT_MAX - 1;
	struct daxfs_ioc_ctl *c = new_request(cmd, 0);
	size_t off = 0;
	int ret = CLI_EXIT_FAIL;

	if (!c)
		return CLI_EXIT_FAIL;
	do {
		size_t n = len - off < chunk ? len - off : chunk;

		memset(c, 0, sizeof(*c));
		c->version = DAXFS_IOC_CTL_VERSION;
		c->flags = flags | (off + n < len ? DAXFS_IOC_F_MORE : 0);
		c->text_len = (uint32_t)n;
		memcpy(c->text, text + off, n);
		if (ctl_send(cmd, fd, mnt, DAXFS_IOC_LOAD, c))
			goto out;
		if (c->error) {
			ret = load_failed(cmd, mnt, table, c);
			goto out;
		}
		off += n;
	} while (off < len);
	ret = ctl_answer(cmd, fd, mnt, DAXFS_IOC_LOAD, NULL, c);
out:
	free(c);
	return ret;
}

/* load MOUNTPOINT TABLE, and reload (load, then resume). */
static int load_run(const struct devcmd *d, int argc, char **argv, bool then_resume)
{
	struct daxfs_ioc_ctl *c;
	const char *mnt;
	unsigned flags;
	size_t len;
	char *text;
	int fd, ret;

	ret = parse_flags(d, argc, argv, &flags);
	if (ret)
		return ret;
	if (argc - optind != 2)
		return ctl_usage_error(d->cmd, argc - optind < 1 ? "missing MOUNTPOINT" :
				       argc - optind < 2 ? "missing TABLE" : "too many arguments");
	mnt = argv[optind];
	if (ctl_read_table(d->cmd, argv[optind + 1], &text, &len))
		return CLI_EXIT_FAIL;
	fd = open_mount(d->cmd, mnt);
	if (fd < 0) {
		free(text);
		return CLI_EXIT_FAIL;
	}
	ret = send_load(d->cmd, fd, mnt, argv[optind + 1], text, len, 0);
	if (ret == CLI_EXIT_OK && then_resume) {
		c = new_request(d->cmd, flags & (DAXFS_IOC_F_NOLOCKFS | DAXFS_IOC_F_FORCE));
		ret = CLI_EXIT_FAIL;
		if (c)
			ret = ctl_ask(d->cmd, fd, mnt, DAXFS_IOC_RESUME, NULL, c);
		free(c);
	}
	close(fd);
	free(text);
	return ret;
}

/* badblocks MOUNTPOINT DEVICE [list | add SECTOR [COUNT] | clear SECTOR [COUNT]] */
static int badblocks_run(const struct devcmd *d, int argc, char **argv)
{
	struct daxfs_ioc_ctl *c;
	const char *mnt, *dev, *opname = "list";
	uint64_t start = 0, count = 1;
	unsigned flags, op = DAXFS_IOC_OP_LIST;
	int fd, ret, nargs;

	ret = parse_flags(d, argc, argv, &flags);
	if (ret)
		return ret;
	nargs = argc - optind;
	if (nargs < 2)
		return ctl_usage_error(d->cmd, nargs < 1 ? "missing MOUNTPOINT" : "missing DEVICE");
	mnt = argv[optind];
	dev = argv[optind + 1];
	if (nargs > 2)
		opname = argv[optind + 2];
	if (strcmp(opname, "list") == 0) {
		if (nargs > 3)
			return ctl_usage_error(d->cmd, "too many arguments");
	} else if (strcmp(opname, "add") == 0 || strcmp(opname, "clear") == 0) {
		op = opname[0] == 'a' ? DAXFS_IOC_OP_ADD : DAXFS_IOC_OP_CLEAR;
		if (nargs < 4)
			return ctl_usage_error(d->cmd, "%s needs a SECTOR", opname);
		if (nargs > 5)
			return ctl_usage_error(d->cmd, "too many arguments");
		if (cli_parse_u64(argv[optind + 3], &start))
			return ctl_usage_error(d->cmd, "SECTOR '%s' is not a sector number",
					       argv[optind + 3]);
		if (nargs == 5 && (cli_parse_u64(argv[optind + 4], &count) || count == 0))
			return ctl_usage_error(d->cmd, "COUNT '%s' is not a positive sector count",
					       argv[optind + 4]);
	} else {
		return ctl_usage_error(d->cmd, "unknown operation '%s' (list, add or clear)",
				       opname);
	}
	if (strlen(dev) >= DAXFS_IOC_TEXT_MAX)
		return ctl_usage_error(d->cmd, "DEVICE path is too long");

	fd = open_mount(d->cmd, mnt);
	if (fd < 0)
		return CLI_EXIT_FAIL;
	c = new_request(d->cmd, flags);
	ret = CLI_EXIT_FAIL;
	if (c) {
		c->op = op;
		c->start = start;
		c->len = count;
		c->text_len = (uint32_t)strlen(dev);
		memcpy(c->text, dev, c->text_len);
		ret = ctl_ask(d->cmd, fd, mnt, DAXFS_IOC_BADBLOCKS,
			      op == DAXFS_IOC_OP_LIST ? d->render : NULL, c);
	}
	free(c);
	close(fd);
	return ret;
}

/* The file as the daemon must open it: absolute, since the daemon's working
 * directory is not ours. Returns 0 or CLI_EXIT_USAGE / CLI_EXIT_FAIL. */
static int absolute_path(const struct ctl_command *cmd, const char *path, char *out, size_t size)
{
	char cwd[4096];
	int n;

	if (!path[0])
		return ctl_usage_error(cmd, "--file needs a file name");
	if (path[0] == '/') {
		n = snprintf(out, size, "%s", path);
	} else {
		if (!getcwd(cwd, sizeof(cwd))) {
			ctl_error(cmd, "cannot find the current directory: %s", strerror(errno));
			return CLI_EXIT_FAIL;
		}
		n = snprintf(out, size, "%s/%s", cwd, path);
	}
	if (n < 0 || (size_t)n >= size) {
		ctl_error(cmd, "%s: path too long", path);
		return CLI_EXIT_FAIL;
	}
	return 0;
}

/* trace MOUNTPOINT on [--file PATH] | off */
static int trace_run(const struct devcmd *d, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ 0 },
	};
	struct daxfs_ioc_ctl *c;
	const char *file = NULL;
	unsigned op;
	int fd, ret, opt;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (opt != 'f' && optopt == 'f')
			return ctl_usage_error(d->cmd, "--file needs a file name");
		if (opt != 'f')
			return ctl_usage_error(d->cmd, "unknown option '%s'", argv[optind - 1]);
		file = optarg;
	}
	if (argc - optind != 2)
		return ctl_usage_error(d->cmd, argc - optind < 1 ? "missing MOUNTPOINT" :
				       argc - optind < 2 ? "missing on|off" : "too many arguments");
	if (strcmp(argv[optind + 1], "on") == 0)
		op = DAXFS_IOC_OP_ON;
	else if (strcmp(argv[optind + 1], "off") == 0)
		op = DAXFS_IOC_OP_OFF;
	else
		return ctl_usage_error(d->cmd, "'%s' is neither on nor off", argv[optind + 1]);
	if (file && op == DAXFS_IOC_OP_OFF)
		return ctl_usage_error(d->cmd, "--file goes with on");
	c = new_request(d->cmd, 0);
	if (!c)
		return CLI_EXIT_FAIL;
	c->op = op;
	if (file && (ret = absolute_path(d->cmd, file, c->text, sizeof(c->text)))) {
		free(c);
		return ret;
	}
	c->text_len = (uint32_t)strlen(c->text);
	fd = open_mount(d->cmd, argv[optind]);
	ret = CLI_EXIT_FAIL;
	if (fd >= 0)
		ret = ctl_ask(d->cmd, fd, argv[optind], DAXFS_IOC_TRACE, NULL, c);
	if (fd >= 0)
		close(fd);
	free(c);
	return ret;
}

/* ---- the command table entries ------------------------------------------ */

#define DEVCMD(var, ioc, flags_ok, render_fn)                             \
	static const struct devcmd var##_dev = {                           \
		.cmd = &ctl_##var##_command, .request = (ioc),             \
		.allowed_flags = (flags_ok), .render = (render_fn),        \
	}

DEVCMD(table, DAXFS_IOC_TABLE, DAXFS_IOC_F_JSON | DAXFS_IOC_F_INACTIVE, ctl_render_table);
DEVCMD(info, DAXFS_IOC_INFO, DAXFS_IOC_F_JSON | DAXFS_IOC_F_VERBOSE, ctl_render_info);
DEVCMD(status, DAXFS_IOC_STATUS, DAXFS_IOC_F_JSON | DAXFS_IOC_F_VERBOSE, ctl_render_status);
DEVCMD(suspend, DAXFS_IOC_SUSPEND, DAXFS_IOC_F_NOLOCKFS, NULL);
DEVCMD(resume, DAXFS_IOC_RESUME, DAXFS_IOC_F_NOLOCKFS | DAXFS_IOC_F_FORCE, NULL);
DEVCMD(clear, DAXFS_IOC_CLEAR, 0, NULL);
DEVCMD(load, DAXFS_IOC_LOAD, 0, NULL);
DEVCMD(reload, DAXFS_IOC_LOAD, DAXFS_IOC_F_NOLOCKFS | DAXFS_IOC_F_FORCE, NULL);
DEVCMD(badblocks, DAXFS_IOC_BADBLOCKS, DAXFS_IOC_F_JSON, ctl_render_badblocks);
DEVCMD(trace, DAXFS_IOC_TRACE, 0, NULL);
DEVCMD(remove, DAXFS_IOC_REMOVE, DAXFS_IOC_F_DEFERRED | DAXFS_IOC_F_WIPE, NULL);
/* the daemon's own answer, already text or JSON */
DEVCMD(workers, DAXFS_IOC_WORKERS, DAXFS_IOC_F_JSON, NULL);

static int table_run(int argc, char **argv) { return simple_run(&table_dev, argc, argv); }
static int info_run(int argc, char **argv) { return simple_run(&info_dev, argc, argv); }
static int status_run(int argc, char **argv) { return simple_run(&status_dev, argc, argv); }
static int suspend_run(int argc, char **argv) { return simple_run(&suspend_dev, argc, argv); }
static int resume_run(int argc, char **argv) { return simple_run(&resume_dev, argc, argv); }
static int clear_run(int argc, char **argv) { return simple_run(&clear_dev, argc, argv); }
static int load_cmd_run(int argc, char **argv) { return load_run(&load_dev, argc, argv, false); }
static int reload_run(int argc, char **argv) { return load_run(&reload_dev, argc, argv, true); }
static int bb_run(int argc, char **argv) { return badblocks_run(&badblocks_dev, argc, argv); }
static int tr_run(int argc, char **argv) { return trace_run(&trace_dev, argc, argv); }
static int remove_run(int argc, char **argv) { return simple_run(&remove_dev, argc, argv); }
static int workers_run(int argc, char **argv) { return simple_run(&workers_dev, argc, argv); }

#define MOUNT_HELP \
	"MOUNTPOINT is the root of a mounted daxfs-fuse; the request goes to its\n" \
	"daemon's mapped device. Exit status: 0 done, 1 refused or failed (the\n"   \
	"reason on stderr), 2 usage error.\n"

const struct ctl_command ctl_table_command = {
	.name = "table",
	.usage = "MOUNTPOINT [--inactive] [--json]",
	.help = "Prints the LIVE table (or, with --inactive, the staged one) as `dmsetup\n"
		"table` does, one target a line with devices as paths.\n\n" MOUNT_HELP,
	.run = table_run,
};

const struct ctl_command ctl_info_command = {
	.name = "info",
	.usage = "MOUNTPOINT [--verbose] [--json]",
	.help = "Prints the mapped device's state as `dmsetup info` does: Name, State\n"
		"(ACTIVE or SUSPENDED, DEFERRED REMOVE), Read Ahead, Tables present, Open\n"
		"count, Event number, Major, minor (the mount's device number), Number of\n"
		"targets, UUID (DAXFS- and the filesystem's uuid), then a blank line.\n\n"
		"  --verbose  also the size, device type, DAX and the filesystem's state\n"
		"  --json     everything as one JSON object\n\n" MOUNT_HELP,
	.run = info_run,
};

const struct ctl_command ctl_status_command = {
	.name = "status",
	.usage = "MOUNTPOINT [--verbose] [--json]",
	.help = "Prints each target's status line as `dmsetup status` does:\n"
		"`<start> <len> <type> <status>` (linear, error, zero: none; striped:\n"
		"`<#stripes> <dev>... 1 <A|D per stripe>`).\n\n"
		"  --verbose  also the per-target and per-device counters, bad blocks and\n"
		"             the filesystem's state\n"
		"  --json     everything as one JSON object\n\n" MOUNT_HELP,
	.run = status_run,
};

const struct ctl_command ctl_load_command = {
	.name = "load",
	.usage = "MOUNTPOINT TABLE",
	.help = "Parses the table file TABLE and stages it in the INACTIVE slot (replacing\n"
		"a staged table). Nothing changes for the filesystem until resume. The\n"
		"table must keep the filesystem's layout (target count and lengths) to be\n"
		"resumed.\n\n" MOUNT_HELP,
	.run = load_cmd_run,
};

const struct ctl_command ctl_reload_command = {
	.name = "reload",
	.usage = "MOUNTPOINT TABLE [--nolockfs] [--force]",
	.help = "load followed by resume: swaps TABLE in as the LIVE table in one step.\n"
		"(dmsetup's reload is only a load; this one also resumes.)\n\n"
		"  --nolockfs  do not freeze the filesystem around the swap\n"
		"  --force     swap even while files are mapped directly (libdaxfs):\n"
		"              their mappings are revoked\n\n" MOUNT_HELP,
	.run = reload_run,
};

const struct ctl_command ctl_suspend_command = {
	.name = "suspend",
	.usage = "MOUNTPOINT [--nolockfs]",
	.help = "Suspends the mapped device: new bio-path I/O waits until resume. By\n"
		"default the filesystem is frozen first (synced, writers held).\n\n"
		"  --nolockfs  do not freeze the filesystem\n\n" MOUNT_HELP,
	.run = suspend_run,
};

const struct ctl_command ctl_resume_command = {
	.name = "resume",
	.usage = "MOUNTPOINT [--nolockfs] [--force]",
	.help = "Swaps in the staged table if there is one (it must still fit its devices\n"
		"and hold the filesystem), then resumes I/O and thaws the filesystem.\n\n"
		"  --nolockfs  do not freeze the filesystem for the swap\n"
		"  --force     swap even while files are mapped directly (libdaxfs):\n"
		"              their mappings are revoked\n\n" MOUNT_HELP,
	.run = resume_run,
};

const struct ctl_command ctl_clear_command = {
	.name = "clear",
	.usage = "MOUNTPOINT",
	.help = "Drops the staged (INACTIVE) table; nothing staged is no error.\n\n" MOUNT_HELP,
	.run = clear_run,
};

const struct ctl_command ctl_remove_command = {
	.name = "remove",
	.usage = "MOUNTPOINT [--deferred] [--force]",
	.help = "Removes the mapped device as `dmsetup remove` does. The mounted\n"
		"filesystem holds it open, so without --deferred this fails (EBUSY).\n\n"
		"  --deferred  mark it for removal at its last close: the unmount\n"
		"  --force     first swap in a table whose every target is `error` (same\n"
		"              boundaries), without freezing: every access fails from then\n"
		"              on, and the first metadata write shuts the filesystem down.\n"
		"              `reload` of the old table brings the data back; after a\n"
		"              shutdown, unmount and mount again (the journal replays).\n\n"
		MOUNT_HELP,
	.run = remove_run,
};

const struct ctl_command ctl_badblocks_command = {
	.name = "badblocks",
	.usage = "MOUNTPOINT DEVICE [list | add SECTOR [COUNT] | clear SECTOR [COUNT]] [--json]",
	.help = "Lists, injects or clears bad blocks (poison) on DEVICE, a backing device\n"
		"of the mounted table named by its path. SECTOR and COUNT are 512-byte\n"
		"sectors of that device (COUNT defaults to 1). A DAX access touching a bad\n"
		"block fails with EHWPOISON; a write of the whole page clears it.\n\n"
		MOUNT_HELP,
	.run = bb_run,
};

const struct ctl_command ctl_trace_command = {
	.name = "trace",
	.usage = "MOUNTPOINT on [--file PATH] | off",
	.help = "Turns on or off the daemon's log of every direct_access resolution of\n"
		"file I/O. With --file the lines are appended to PATH (created if\n"
		"missing, opened by the daemon, as the user it runs as); without, they go\n"
		"to the daemon's log: its stderr with -f, its -o logfile, or syslog, and\n"
		"the daemon refuses when that is syslog on a machine without one.\n\n"
		MOUNT_HELP,
	.run = tr_run,
};

const struct ctl_command ctl_workers_command = {
	.name = "workers",
	.usage = "MOUNTPOINT [--json]",
	.help = "Prints the daemon's worker threads and their counters, to tune\n"
		"-o poll_us, max_idle_threads and max_threads (daxfs-fuse(8)): threads\n"
		"now (idle, and held in a wait only another request ends, such as a\n"
		"writer at a frozen filesystem), how many are kept and the most, requests\n"
		"served, how often a request left no worker free, and the looks for the\n"
		"next request after a reply: how many, how many found it, how long the\n"
		"next one lasts. With -s (one thread) there are no workers to show.\n\n"
		"  --json     everything as one JSON object\n\n" MOUNT_HELP,
	.run = workers_run,
};
