/* tools/mkfs.daxfs.c - create a daxfs filesystem on a table or a list of pmem files */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "daxfs/err.h"
#include "daxfs/fs.h"
#include "probe.h"
#include "source.h"

#ifndef DAXFS_VERSION
#define DAXFS_VERSION "unknown"
#endif

#define LABEL_MAX 63

static const char *progname = "mkfs.daxfs";
#define usage_error(...) cli_usage_error(progname, CLI_EXIT_USAGE, __VA_ARGS__)

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s [-f] [-n] [-L label] [-U uuid] [-s SIZE] [--prealloc] SOURCE\n"
		"\n"
		"Creates an empty daxfs filesystem on SOURCE: a table file, or a comma-separated\n"
		"list of pmem files concatenated with one linear target each.\n"
		"\n"
		"  -f        overwrite what the members hold: a daxfs, another filesystem or\n"
		"            partition table, or any data (busy devices are refused anyway)\n"
		"  -n        show what would be made, write nothing\n"
		"  -L label  volume label, at most %d bytes (default: none)\n"
		"  -U uuid   filesystem uuid (default: random)\n"
		"  -s SIZE   create missing pmem files as sparse files of SIZE bytes and grow\n"
		"            smaller ones to it (suffixes K, M, G, T; a multiple of 4096)\n"
		"  --prealloc\n"
		"            allocate the pmem files whole (posix_fallocate), so that no\n"
		"            store into them can fail for want of space (default: warn\n"
		"            when their holes exceed their filesystem's free space)\n"
		"  -h, --help     show this help\n"
		"  -V, --version  show the version\n"
		"\n"
		"Exit status: 0 created (or would be, with -n), 1 failed, 2 usage error.\n",
		progname, LABEL_MAX);
}

static const char *failure_text(int err)
{
	const char *msg = daxfs_errormsg();

	return msg[0] ? msg : strerror(-err);
}

/* Mounts the new filesystem read-only: proves it is usable and gives the real
 * block count rather than an estimate. */
static int print_summary(struct mapped_device *md, const uint8_t uuid[16], const char *label,
			 unsigned members)
{
	struct dfs_mount_opts opts = { .rdonly = true, .dax = DFS_DAX_INODE };
	struct statvfs sv;
	struct dfs *fs;
	struct dm_table *t;
	uint64_t sectors = 0;
	char uuid_text[37];
	int ret;

	ret = dfs_mount(md, &opts, &fs);
	if (ret) {
		fprintf(stderr, "%s: the new filesystem does not mount: %s\n", progname,
			failure_text(ret));
		return ret;
	}
	ret = dfs_statfs(fs, &sv);
	dfs_unmount(&fs);
	if (ret) {
		fprintf(stderr, "%s: statfs of the new filesystem: %s\n", progname,
			failure_text(ret));
		return ret;
	}
	t = dm_md_get_live_table(md);
	if (t) {
		sectors = dm_table_size(t);
		dm_table_put(&t);
	}
	cli_format_uuid(uuid, uuid_text);
	printf("size: %" PRIu64 " bytes (%" PRIu64 " sectors)\n", sectors * DAX_SECTOR_SIZE,
	       sectors);
	printf("blocks: %llu of %lu bytes\n", (unsigned long long)sv.f_blocks, sv.f_frsize);
	printf("uuid: %s\n", uuid_text);
	printf("label: %s\n", label ? label : "");
	printf("members: %u\n", members);
	return 0;
}

/* The summary of -n: what dfs_mkfs would make (or, with files still to be
 * made, what their sizes give). */
static void print_plan(uint64_t bytes, uint64_t blocks, const uint8_t uuid[16], const char *label,
		       unsigned members)
{
	char uuid_text[37];

	cli_format_uuid(uuid, uuid_text);
	printf("size: %" PRIu64 " bytes (%" PRIu64 " sectors)\n", bytes, bytes / DAX_SECTOR_SIZE);
	printf("blocks: %" PRIu64 " of 4096 bytes\n", blocks);
	printf("uuid: %s\n", uuid_text);
	printf("label: %s\n", label ? label : "");
	printf("members: %u\n", members);
	printf("nothing written (-n)\n");
}

/* A filesystem needs every sector to keep what is written to it: zero drops
 * writes (the fs would only notice when its checksums fail, or never, for a
 * data block) and error fails them. Refuse such a table up front, naming the
 * target, rather than let dfs_mkfs fail on a symptom. */
static int check_table_usable(struct mapped_device *md, const char *source)
{
	struct dm_table *t = dm_md_get_live_table(md);
	struct dm_target_info ti;
	int ret = 0;

	for (unsigned i = 0; t && !ret && i < dm_table_num_targets(t); i++) {
		if (dm_table_target_info(t, i, &ti))
			continue;
		if (strcmp(ti.type, "zero") == 0 || strcmp(ti.type, "error") == 0) {
			fprintf(stderr, "%s: %s: target %u (%s) at sector %" PRIu64 " %s; every "
				"target of a daxfs must store data\n", progname, source, i, ti.type,
				ti.begin, ti.type[0] == 'z' ? "drops writes" : "fails every access");
			ret = -EINVAL;
		}
	}
	dm_table_put(&t);
	return ret;
}

/* Without -f, every member must hold nothing worth keeping (probe.c). */
static int probe_members(struct mapped_device *md)
{
	struct dm_table *t = dm_md_get_live_table(md);
	int ret = 0;

	for (unsigned i = 0; t && !ret && i < dm_table_num_members(t); i++)
		ret = probe_member(progname, t, i);
	dm_table_put(&t);
	return ret;
}

/* -n with files still to create or grow: each file that exists is probed on
 * its own, and the sizes give the layout (a list is linear targets of whole
 * pages). The checks that need the whole table wait for the real run. */
static int plan_from_files(const char *source, uint64_t size, const struct source_files *sf,
			   const struct dfs_mkfs_opts *opts)
{
	char *copy = strdup(source), *p, *save = NULL;
	uint64_t bytes = 0;
	unsigned n = 0;
	int ret = 0;

	if (!copy)
		return -ENOMEM;
	for (p = strtok_r(copy, ",", &save); p && !ret; p = strtok_r(NULL, ",", &save), n++) {
		struct mapped_device *md = NULL;
		struct dm_table *t;
		bool planned = false;

		for (size_t i = 0; i < sf->ncreated && !planned; i++)
			planned = strcmp(sf->created[i], p) == 0;
		if (planned) {
			bytes += size;
			continue;
		}
		for (size_t i = 0; i < sf->ngrown && !planned; i++)
			planned = strcmp(sf->grown[i].path, p) == 0;
		if ((ret = source_open(progname, p, DAX_OPEN_EXCL, &md)))
			break;
		if (!opts->force)
			ret = probe_members(md);
		t = dm_md_get_live_table(md);
		bytes += planned ? size : (t ? dm_table_size(t) << 9 : 0);
		dm_table_put(&t);
		dm_md_destroy(&md);
	}
	free(copy);
	if (!ret)
		print_plan(bytes, bytes / 4096, opts->uuid, opts->label, n);
	return ret;
}

/* Sparse files whose filesystem cannot hold them fail stores with EIO when
 * it fills: allocated whole with --prealloc, else a warning (an overcommit
 * may be meant, as with a thin pool). */
static int check_backing(struct mapped_device *md, bool prealloc)
{
	int ret;

	if (prealloc) {
		ret = dm_md_prealloc(md);
		if (ret)
			fprintf(stderr, "%s: --prealloc: %s\n", progname, failure_text(ret));
		return ret;
	}
	ret = dm_md_check_backing(md);
	if (ret)
		fprintf(stderr, "%s: warning: %s%s\n", progname, failure_text(ret),
			ret == -ENOSPC ? "; --prealloc allocates the files" : "");
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "prealloc", no_argument, NULL, 'P' },
		{ 0 },
	};
	struct dfs_mkfs_opts opts = { 0 };
	struct mapped_device *md = NULL;
	const char *source, *label = NULL;
	uint64_t size = 0;
	uint8_t uuid[16];
	struct source_files sf = { 0 };
	struct dfs_mkfs_result res = { 0 };
	bool have_uuid = false, have_size = false, dry = false, prealloc = false;
	int c, ret, err;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":fnL:U:s:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			opts.force = true;
			break;
		case 'n':
			dry = true;
			break;
		case 'L':
			if (strlen(optarg) > LABEL_MAX)
				return usage_error("label '%s' is longer than 63 bytes", optarg);
			label = optarg;
			break;
		case 'U':
			if (cli_parse_uuid(optarg, uuid))
				return usage_error("'%s' is not a uuid "
						   "(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", optarg);
			have_uuid = true;
			break;
		case 's':
			if ((err = cli_parse_size(optarg, &size)) == -ERANGE)
				return usage_error("SIZE '%s' is too large (more than 16 EiB)", optarg);
			if (err || size == 0 || size % DAX_PAGE_SIZE)
				return usage_error("SIZE '%s' is not a positive multiple of 4096 bytes",
						   optarg);
			have_size = true;
			break;
		case 'P':
			prealloc = true;
			break;
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		case 'V':
			printf("%s (daxfs-fuse) %s\n", progname, DAXFS_VERSION);
			return CLI_EXIT_OK;
		case ':':
			return usage_error("option '%s' needs an argument", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return usage_error("%s", argc - optind < 1 ? "missing SOURCE" : "too many arguments");
	source = argv[optind];

	if (have_uuid && dfs_uuid_check(uuid)) {
		fprintf(stderr, "%s: %s\n", progname, daxfs_errormsg());
		return CLI_EXIT_FAIL;
	}
	if (!have_uuid && (ret = cli_random_uuid(uuid))) {
		fprintf(stderr, "%s: cannot generate a uuid: %s\n", progname, strerror(-ret));
		return CLI_EXIT_FAIL;
	}
	opts.uuid = uuid;
	opts.label = label;
	opts.dry_run = dry;
	opts.result = &res;

	if (have_size && (ret = source_prepare(progname, source, size, dry, &sf)))
		goto out;
	if (dry && (sf.ncreated || sf.ngrown)) {
		ret = plan_from_files(source, size, &sf, &opts);
		goto out;
	}
	/* block devices exclusively: a mounted or otherwise busy one is refused */
	if ((ret = source_open(progname, source, DAX_OPEN_EXCL, &md)))
		goto out;
	ret = check_table_usable(md, source);
	if (!ret && !opts.force)
		ret = probe_members(md);
	if (ret)
		goto out;
	ret = check_backing(md, prealloc && !dry);
	if (ret)
		goto out;
	ret = dfs_mkfs(md, &opts);
	if (ret == -EEXIST) {
		fprintf(stderr, "%s: %s already holds a daxfs filesystem; use -f to overwrite it\n",
			progname, source);
	} else if (ret) {
		fprintf(stderr, "%s: cannot make a daxfs on %s: %s\n", progname, source,
			failure_text(ret));
	} else if (dry) {
		struct dm_table *t = dm_md_get_live_table(md);

		print_plan(t ? dm_table_size(t) << 9 : 0, res.total_blocks, uuid, label, res.nmembers);
		dm_table_put(&t);
	} else {
		ret = print_summary(md, uuid, label, res.nmembers);
	}
out:
	dm_md_destroy(&md);
	/* a failed mkfs leaves the files as it found them */
	if (ret && !dry)
		source_undo(&sf);
	source_files_free(&sf);
	return ret ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
