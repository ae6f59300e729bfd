/* tools/mount.daxfs.c - the mount(8) helper for type daxfs: resolves LABEL=/UUID=, then runs daxfs-fuse */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daxfs/err.h"
#include "daxfs/dm.h"
#include "cli.h"
#include "findfs.h"

#ifndef DAXFS_VERSION
#define DAXFS_VERSION "unknown"
#endif
#ifndef DAXFS_FUSE_PATH
#define DAXFS_FUSE_PATH "/usr/sbin/daxfs-fuse"
#endif

/* mount(8)'s exit codes, which a helper returns */
enum {
	MOUNT_OK = 0,
	MOUNT_USAGE = 1,
	MOUNT_SYSERR = 2,
	MOUNT_FAIL = 32,
};

static const char *progname = "mount.daxfs";
#define usage_error(...) cli_usage_error(progname, MOUNT_USAGE, __VA_ARGS__)

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s SOURCE MOUNTPOINT [-fnsv] [-o OPTIONS]\n"
		"\n"
		"Mounts the daxfs on SOURCE at MOUNTPOINT with daxfs-fuse; mount(8) runs it for\n"
		"type daxfs (mount -t daxfs, fstab). SOURCE is a table file, a comma-separated\n"
		"list of pmem files, or LABEL=name / UUID=uuid (in fstab and with mount(8):\n"
		"daxfs:LABEL=name / daxfs:UUID=uuid), looked up among the sources listed in\n"
		"%s (or the file $DAXFS_SOURCES names).\n"
		"\n"
		"  -o OPTIONS  daxfs-fuse's options; mount(8)'s own (nofail, auto, noauto,\n"
		"              defaults, _netdev, user, users, owner, group, x-*, comment=)\n"
		"              are not passed on; with nofail a SOURCE that does not exist\n"
		"              is not an error\n"
		"  -f          fake: print the daxfs-fuse command, run nothing\n"
		"  -v          verbose: print the command and how SOURCE was found\n"
		"  -n, -s      accepted and ignored (mount(8) passes them)\n"
		"  -h, --help     show this help\n"
		"  -V, --version  show the version\n"
		"\n"
		"Exit status (mount(8)'s): 0 mounted, 1 usage error, 2 system error,\n"
		"32 mount failure.\n",
		progname, FINDFS_SOURCES_FILE);
}

/* mount(8)'s options, which mean nothing to daxfs-fuse (libfuse refuses
 * unknown ones). x-* never reach a helper from mount(8), but do from a user. */
static bool mount_only_option(const char *o)
{
	static const char *const names[] = {
		"nofail", "auto", "noauto", "defaults", "_netdev", "user", "nouser", "users",
		"owner", "group",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(o, names[i]) == 0)
			return true;
	return strncmp(o, "x-", 2) == 0 || strncmp(o, "X-", 2) == 0 ||
	       strncmp(o, "comment=", 8) == 0;
}

/* Appends the options of list that daxfs-fuse takes to out (comma-separated);
 * notes nofail. */
static int filter_options(const char *list, char **out, bool *nofail)
{
	char *copy = strdup(list), *save = NULL, *o;
	size_t len = *out ? strlen(*out) : 0;

	if (!copy)
		return -ENOMEM;
	for (o = strtok_r(copy, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
		if (strcmp(o, "nofail") == 0)
			*nofail = true;
		if (mount_only_option(o))
			continue;
		char *grown = realloc(*out, len + strlen(o) + 2);

		if (!grown) {
			free(copy);
			return -ENOMEM;
		}
		*out = grown;
		len += (size_t)sprintf(*out + len, "%s%s", len ? "," : "", o);
	}
	free(copy);
	return 0;
}

/* daxfs-fuse next to this program's real file (an installed pair, however
 * mount(8) reached it: /sbin/mount.daxfs may be a link), else where it is
 * installed. */
static const char *daxfs_fuse_path(void)
{
	static char path[PATH_MAX];
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		self[n] = '\0';
		if (snprintf(path, sizeof(path), "%s/daxfs-fuse", dirname(self)) <
		    (int)sizeof(path) && access(path, X_OK) == 0)
			return path;
	}
	return DAXFS_FUSE_PATH;
}

/* Whether source names files that do not exist (what nofail forgives). */
static bool source_missing(const char *source)
{
	struct mapped_device *md = NULL;
	int err = dm_md_open_source(source, NULL, &md);

	dm_md_destroy(&md);
	return err == -ENOENT;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	bool fake = false, verbose = false, nofail = false;
	const char *spec, *mountpoint, *value;
	char *options = NULL, *source = NULL;
	enum findfs_tag tag;
	int c, ret = MOUNT_FAIL, err, status;
	pid_t pid;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "fnsvo:t:N:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			fake = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'n':
		case 's':
		case 't':
			break;
		case 'o':
			if (filter_options(optarg, &options, &nofail)) {
				fprintf(stderr, "%s: out of memory\n", progname);
				return MOUNT_SYSERR;
			}
			break;
		case 'N':
			free(options);
			return usage_error("-N (another mount namespace) is not supported");
		case 'h':
			usage(stdout);
			free(options);
			return MOUNT_OK;
		case 'V':
			printf("%s (daxfs-fuse) %s\n", progname, DAXFS_VERSION);
			free(options);
			return MOUNT_OK;
		default:
			free(options);
			if (optopt)
				fprintf(stderr, "%s: -%c needs an argument\n", progname, optopt);
			return usage_error("unknown option or missing argument");
		}
	}
	if (argc - optind != 2) {
		free(options);
		return usage_error(argc - optind < 2 ? "missing SOURCE or MOUNTPOINT" :
				   "too many arguments");
	}
	spec = argv[optind];
	mountpoint = argv[optind + 1];

	tag = findfs_parse_tag(spec, &value);
	if (tag == FINDFS_NONE) {
		source = strdup(spec);
	} else {
		err = findfs_resolve(progname, tag, value, verbose, &source);
		if (err == -ENXIO && nofail) {
			if (verbose)
				fprintf(stderr, "%s: %s: not found; nofail: nothing mounted\n",
					progname, spec);
			ret = MOUNT_OK;
			goto out;
		}
		if (err == -ENXIO)
			fprintf(stderr, "%s: %s: no daxfs with that %s among the sources listed in "
				"%s\n", progname, spec, tag == FINDFS_LABEL ? "label" : "uuid",
				findfs_sources_file());
		if (err)
			goto out;
		if (verbose)
			fprintf(stderr, "%s: %s is %s\n", progname, spec, source);
	}
	if (!source) {
		fprintf(stderr, "%s: out of memory\n", progname);
		ret = MOUNT_SYSERR;
		goto out;
	}
	if (nofail && source_missing(source)) {
		if (verbose)
			fprintf(stderr, "%s: %s does not exist; nofail: nothing mounted\n", progname,
				source);
		ret = MOUNT_OK;
		goto out;
	}

	const char *daemon = daxfs_fuse_path();
	char *args[] = {
		(char *)daemon, source, (char *)mountpoint,
		options ? "-o" : NULL, options, NULL,
	};

	if (verbose || fake)
		fprintf(fake ? stdout : stderr, "%s %s %s%s%s\n", daemon, source, mountpoint,
			options ? " -o " : "", options ? options : "");
	if (fake) {
		ret = MOUNT_OK;
		goto out;
	}
	fflush(NULL);
	/* posix_spawn reports a failed exec itself: a daemon that cannot run
	 * is a system error, not a mount that failed */
	if ((err = posix_spawn(&pid, daemon, NULL, NULL, args, environ))) {
		fprintf(stderr, "%s: cannot run %s: %s\n", progname, daemon, strerror(err));
		ret = MOUNT_SYSERR;
		goto out;
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "%s: waiting for daxfs-fuse: %s\n", progname, strerror(errno));
			ret = MOUNT_SYSERR;
			goto out;
		}
	}
	/* daxfs-fuse returns once the mount is up, or has said why not */
	ret = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? MOUNT_OK : MOUNT_FAIL;
out:
	free(source);
	free(options);
	return ret;
}
