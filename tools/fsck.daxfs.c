/* tools/fsck.daxfs.c - check and repair a daxfs filesystem, with e2fsck's exit codes */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daxfs/err.h"
#include "daxfs/fs.h"
#include "cli.h"
#include "source.h"

#ifndef DAXFS_VERSION
#define DAXFS_VERSION "unknown"
#endif

/* e2fsck(8)'s exit codes, which fsck(8) front ends and scripts expect */
enum {
	FSCK_OK = 0,
	FSCK_NONDESTRUCT = 1,    /* errors corrected */
	FSCK_UNCORRECTED = 4,    /* errors left */
	FSCK_ERROR = 8,          /* operational error */
	FSCK_USAGE = 16,
};

static const char *progname = "fsck.daxfs";
#define usage_error(...) cli_usage_error(progname, FSCK_USAGE, __VA_ARGS__)

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s [-n|-y|-p|-a] [-f] SOURCE\n"
		"\n"
		"Checks the daxfs filesystem on SOURCE (a table file, or a comma-separated list\n"
		"of pmem files) and prints each problem. The filesystem must not be mounted.\n"
		"\n"
		"  -n   check only, never write (the default): the problems -y repairs\n"
		"  -y   repair every problem found\n"
		"  -p   preen, as at boot: repair without asking if every problem found is\n"
		"       safe to (counts, bitmaps, checksums, link counts); otherwise repair\n"
		"       nothing and exit 4 (\"UNEXPECTED INCONSISTENCY\")\n"
		"  -a   the same as -p\n"
		"  -f   accepted for fsck(8): every check is a full one, clean or not\n"
		"  -h, --help     show this help\n"
		"  -V, --version  show the version\n"
		"\n"
		"Exit status: 0 clean, 1 problems corrected, 4 problems left uncorrected,\n"
		"8 operational error, 16 usage error.\n",
		progname);
}

/* -p prefixes each line with SOURCE, as e2fsck -p does for fsck -A's
 * parallel runs, and names only what stops it. */
struct out {
	const char *source;
	bool preen;
};

static void report(void *ctx, const struct dfs_fsck_problem *p)
{
	const struct out *o = ctx;

	if (!o->preen)
		printf("%s%s\n", p->text, p->repaired ? " (repaired)" : "");
	else if (p->repaired || !p->preen)
		printf("%s: %s%s\n", o->source, p->text, p->repaired ? " (repaired)" : "");
}

/*
 * When the table holds the filesystem's members in another order (or some not
 * at all), says where each one is, and for a list of whole files the list
 * in the filesystem's order. Nothing is changed: -y never reorders.
 */
static void show_order(struct mapped_device *md, const char *source)
{
	struct dm_table *t = dm_md_get_live_table(md);
	struct dfs_member_place *p = NULL;
	unsigned n = 0, misplaced = 0;
	bool whole_files;

	if (!t || dfs_members_order(t, &p, &n)) {
		dm_table_put(&t);
		return;
	}
	for (unsigned k = 0; k < n; k++)
		misplaced += !p[k].in_place;
	whole_files = strchr(source, ',') != NULL;
	if (misplaced) {
		fprintf(stderr, "%s: the filesystem's members are, in the order it was made with:\n",
			progname);
		for (unsigned k = 0; k < n; k++) {
			struct dm_member m;

			if (p[k].found < 0 || dm_table_get_member(t, (unsigned)p[k].found, &m)) {
				fprintf(stderr, "  member %u (target %u, stripe %u): on no file of %s\n",
					k, p[k].target, p[k].stripe, source);
				whole_files = false;
				continue;
			}
			fprintf(stderr, "  member %u (target %u, stripe %u): %s from sector %llu\n", k,
				p[k].target, p[k].stripe, m.path, (unsigned long long)p[k].offset);
			whole_files &= m.nstripes == 1 && p[k].offset == 0 && m.offset == 0 &&
				       m.length << 9 == m.device_size;
		}
		if (whole_files) {
			fprintf(stderr, "%s: as a list of files in that order: ", progname);
			for (unsigned k = 0; k < n; k++) {
				struct dm_member m;

				dm_table_get_member(t, (unsigned)p[k].found, &m);
				fprintf(stderr, "%s%s", k ? "," : "", m.path);
			}
			fputc('\n', stderr);
		}
		fprintf(stderr, "%s: nothing was checked or changed\n", progname);
	}
	free(p);
	dm_table_put(&t);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	enum dfs_fsck_mode mode = DFS_FSCK_CHECK;
	struct dfs_fsck_result res = { 0 };
	struct mapped_device *md = NULL;
	char saw_mode = 0;
	const char *source, *msg;
	int c, ret;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "nypafhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
		case 'y':
		case 'p':
		case 'a':
			/* -a and -p are one mode, as in e2fsck */
			if (saw_mode && saw_mode != c && !(strchr("ap", saw_mode) && strchr("ap", c)))
				return usage_error("-%c and -%c exclude each other", saw_mode, c);
			saw_mode = (char)c;
			mode = c == 'n' ? DFS_FSCK_CHECK : c == 'y' ? DFS_FSCK_REPAIR : DFS_FSCK_PREEN;
			break;
		case 'f':
			/* the state a clean unmount records is shown by daxfs-ctl
			 * super, never trusted to skip a check */
			break;
		case 'h':
			usage(stdout);
			return FSCK_OK;
		case 'V':
			printf("%s (daxfs-fuse) %s\n", progname, DAXFS_VERSION);
			return FSCK_OK;
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return usage_error("%s", argc - optind < 1 ? "missing SOURCE" : "too many arguments");
	source = argv[optind];

	if (source_open(progname, source, mode != DFS_FSCK_CHECK ? DAX_OPEN_EXCL : 0, &md))
		return FSCK_ERROR;
	struct out o = { .source = source, .preen = mode == DFS_FSCK_PREEN };
	ret = dfs_fsck(md, mode, report, &o, &res);
	if (ret < 0) {
		msg = daxfs_errormsg();
		fprintf(stderr, "%s: %s: %s\n", progname, source, msg[0] ? msg : strerror(-ret));
		show_order(md, source);
		dm_md_destroy(&md);
		return FSCK_ERROR;
	}
	dm_md_destroy(&md);
	if (res.problems == 0) {
		printf("%s: clean\n", source);
		return FSCK_OK;
	}
	printf("%s: %u problem%s found, %u repaired", source, res.problems,
	       res.problems == 1 ? "" : "s", res.repaired);
	if (o.preen && res.repaired == 0 && res.unsafe)
		printf(" (%u not safe to repair without asking)", res.unsafe);
	putchar('\n');
	if (res.repaired >= res.problems)
		return FSCK_NONDESTRUCT;
	if (o.preen)
		printf("%s: UNEXPECTED INCONSISTENCY; RUN %s MANUALLY.\n"
		       "\t(i.e., without -a or -p options)\n", source, progname);
	return FSCK_UNCORRECTED;
}
