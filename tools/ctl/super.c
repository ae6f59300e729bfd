/* tools/ctl/super.c - daxfs-ctl super, label and uuid: dumpe2fs -h, e2label and tune2fs -U */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#include "cli.h"
#include "ctl/ctl.h"
#include "daxfs/err.h"
#include "daxfs/fs.h"
#include "util/mountinfo.h"
#include "util/json.h"

static const char *failure_text(int err)
{
	const char *msg = daxfs_errormsg();

	return msg[0] ? msg : strerror(-err);
}

/*
 * Opens SOURCE and takes every device's lock, as fsck does. A device locked
 * by a mount (-EBUSY) is not an error here: *busy is then the reason, and the
 * filesystem may only be read where a mount keeps it current (superblock).
 */
static int open_source(const struct ctl_command *cmd, const char *source,
		       struct mapped_device **md, char *busy, size_t busy_size)
{
	/* named after SOURCE: the library's messages then name it */
	int ret = dm_md_open_source(source, source, md);

	busy[0] = '\0';
	if (ret) {
		ctl_error(cmd, "%s", failure_text(ret));
		return ret;
	}
	ret = dm_md_lock_devices(*md);
	if (ret == -EBUSY) {
		snprintf(busy, busy_size, "%s", failure_text(ret));
		return 0;
	}
	if (ret) {
		ctl_error(cmd, "%s", failure_text(ret));
		dm_md_destroy(md);
	}
	return ret;
}

/* Whether two SOURCE strings name the same files, component by component
 * (a mount's fsname is SOURCE as it was typed). */
static bool same_source(const char *a, const char *b)
{
	char *ca = strdup(a), *cb = strdup(b), *sa = NULL, *sb = NULL, *pa, *pb;
	char ra[PATH_MAX], rb[PATH_MAX];
	bool same = ca && cb;

	for (pa = same ? strtok_r(ca, ",", &sa) : NULL, pb = same ? strtok_r(cb, ",", &sb) : NULL;
	     same && (pa || pb); pa = strtok_r(NULL, ",", &sa), pb = strtok_r(NULL, ",", &sb)) {
		if (!pa || !pb)
			same = false;
		else if (realpath(pa, ra) && realpath(pb, rb))
			same = strcmp(ra, rb) == 0;
		else
			same = strcmp(pa, pb) == 0;
	}
	free(ca);
	free(cb);
	return same;
}

struct mount_search {
	const char *source;
	char *mountpoint;       /* the last match: the one on top */
};

static int match_source(void *ctx, const struct mountinfo_entry *e)
{
	struct mount_search *s = ctx;

	if (strcmp(e->fstype, MOUNTINFO_DAXFS_TYPE) == 0 && same_source(e->source, s->source)) {
		free(s->mountpoint);
		s->mountpoint = strdup(e->mountpoint);
	}
	return 0;
}

static void print_time(FILE *out, const char *what, int64_t t)
{
	char buf[64];
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || !localtime_r(&tt, &tm) ||
	    !strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S %z", &tm))
		snprintf(buf, sizeof(buf), "never");
	fprintf(out, "%-26s%s\n", what, buf);
}

/*
 * The members as the member table lists them, with the file the table maps
 * in each one's place; when the member table cannot be read, only the files
 * the table names (identity unknown).
 */
static void print_members_text(FILE *out, struct mapped_device *md)
{
	struct dfs_member_info *m = NULL;
	unsigned n = 0;
	char uuid[37];

	if (dfs_read_members(md, &m, &n)) {
		fprintf(out, "%-26s%u (the member table cannot be read)\n", "Members:",
			dm_md_num_devices(md));
		for (unsigned i = 0; i < dm_md_num_devices(md); i++) {
			struct dax_device *dev = dm_md_device(md, i);

			fprintf(out, "  %s  %" PRIu64 " bytes\n", dax_device_path(dev),
				dax_device_size(dev));
		}
		return;
	}
	fprintf(out, "%-26s%u\n", "Members:", n);
	for (unsigned k = 0; k < n; k++) {
		cli_format_uuid(m[k].uuid, uuid);
		if (m[k].path)
			fprintf(out, "  member %u: %s (%" PRIu64 " bytes), offset %" PRIu64 ", length %"
				PRIu64 ", uuid %s\n", k, m[k].path, m[k].file_size, m[k].offset,
				m[k].length, uuid);
		else
			fprintf(out, "  member %u: not in this table, offset %" PRIu64 ", length %" PRIu64
				", uuid %s\n", k, m[k].offset, m[k].length, uuid);
	}
	free(m);
}

static void print_members_json(FILE *out, struct mapped_device *md)
{
	struct dfs_member_info *m = NULL;
	unsigned n = 0;
	char uuid[37];

	if (dfs_read_members(md, &m, &n)) {
		for (unsigned i = 0; i < dm_md_num_devices(md); i++) {
			struct dax_device *dev = dm_md_device(md, i);

			fprintf(out, "%s{\"index\": null, \"path\": ", i ? ", " : "");
			daxfs_json_string(out, dax_device_path(dev));
			fprintf(out, ", \"bytes\": %" PRIu64 ", \"offset\": null, \"length\": null, "
				"\"uuid\": null}", dax_device_size(dev));
		}
		return;
	}
	for (unsigned k = 0; k < n; k++) {
		cli_format_uuid(m[k].uuid, uuid);
		fprintf(out, "%s{\"index\": %u, \"path\": ", k ? ", " : "", k);
		if (m[k].path) {
			daxfs_json_string(out, m[k].path);
			fprintf(out, ", \"bytes\": %" PRIu64, m[k].file_size);
		} else {
			fprintf(out, "null, \"bytes\": null");
		}
		fprintf(out, ", \"offset\": %" PRIu64 ", \"length\": %" PRIu64 ", \"uuid\": \"%s\"}",
			m[k].offset, m[k].length, uuid);
	}
	free(m);
}

static void print_text(FILE *out, const char *source, struct mapped_device *md,
		       const struct dfs_info *in, const char *busy, const char *mountpoint)
{
	char uuid[37];

	cli_format_uuid(in->uuid, uuid);
	fprintf(out, "%-26s%s\n", "Source:", source);
	fprintf(out, "%-26s%s\n", "Filesystem label:", in->label[0] ? in->label : "<none>");
	fprintf(out, "%-26s%s\n", "Filesystem UUID:", uuid);
	fprintf(out, "%-26s%u.%u\n", "Filesystem version:", in->major, in->minor);
	if (in->clean)
		fprintf(out, "%-26s%s\n", "Filesystem state:", "clean");
	else if (busy[0])
		fprintf(out, "%-26s%s\n", "Filesystem state:", "not clean (mounted)");
	else
		fprintf(out, "%-26s%s\n", "Filesystem state:", "not clean (not unmounted cleanly: the "
		        "journal replays at the next mount)");
	if (!busy[0])
		fprintf(out, "%-26s%s\n", "Mounted:", "no");
	else if (mountpoint)
		fprintf(out, "%-26syes, on %s\n", "Mounted:", mountpoint);
	else
		fprintf(out, "%-26syes (%s)\n", "Mounted:", busy);
	fprintf(out, "%-26s%" PRIu32 "\n", "Block size:", in->block_size);
	fprintf(out, "%-26s%" PRIu64 "\n", "Block count:", in->total_blocks);
	if (in->counted) {
		fprintf(out, "%-26s%" PRIu64 "\n", "Free blocks:", in->free_blocks);
		fprintf(out, "%-26s%" PRIu64 "\n", "Inodes in use:", in->inodes_used);
		fprintf(out, "%-26s%" PRIu64 "\n", "Free inodes:", in->free_inodes);
	} else {
		fprintf(out, "%-26s%s\n", "Free blocks:", "unknown (mounted elsewhere)");
	}
	fprintf(out, "%-26s%" PRIu64 "\n", "Journal blocks:", in->journal_blocks);
	fprintf(out, "%-26s%" PRIu64 " of %" PRIu64 " blocks\n", "Block groups:", in->ngroups,
	        in->blocks_per_group);
	fprintf(out, "%-26s%" PRIu64 "\n", "First data block:", in->data_start);
	if (!in->layout_matches)
		fprintf(out, "%-26s%s\n", "Table:", "not the layout the filesystem was made on: it "
		        "cannot be mounted from this SOURCE");
	fprintf(out, "%-26s%s\n", "Superblock:", in->from_backup ?
	        "backup (the primary is damaged; the next mount rewrites it)" : "primary");
	print_time(out, "Created:", in->mkfs_time);
	print_time(out, "Last mounted:", in->mount_time);
	print_time(out, "Last written:", in->write_time);
	fprintf(out, "%-26s%" PRIu32 "\n", "Mount count:", in->mount_count);
	print_members_text(out, md);
}

static void print_u64_or_null(FILE *out, const char *key, bool have, uint64_t v)
{
	if (have)
		fprintf(out, ", \"%s\": %" PRIu64, key, v);
	else
		fprintf(out, ", \"%s\": null", key);
}

static void print_json(FILE *out, const char *source, struct mapped_device *md,
		       const struct dfs_info *in, const char *busy, const char *mountpoint)
{
	char uuid[37];

	cli_format_uuid(in->uuid, uuid);
	fprintf(out, "{\"source\": ");
	daxfs_json_string(out, source);
	fprintf(out, ", \"label\": ");
	daxfs_json_string(out, in->label);
	fprintf(out, ", \"uuid\": \"%s\", \"version\": \"%u.%u\", \"state\": \"%s\", \"mounted\": %s, "
	        "\"mountpoint\": ", uuid, in->major, in->minor, in->clean ? "clean" : "not clean",
	        daxfs_json_bool(busy[0]));
	if (mountpoint)
		daxfs_json_string(out, mountpoint);
	else
		fprintf(out, "null");
	fprintf(out, ", \"block_size\": %" PRIu32 ", \"blocks\": %" PRIu64, in->block_size,
	        in->total_blocks);
	print_u64_or_null(out, "free_blocks", in->counted, in->free_blocks);
	print_u64_or_null(out, "inodes_used", in->counted, in->inodes_used);
	print_u64_or_null(out, "free_inodes", in->counted, in->free_inodes);
	fprintf(out, ", \"layout_matches\": %s", daxfs_json_bool(in->layout_matches));
	fprintf(out, ", \"journal_blocks\": %" PRIu64 ", \"groups\": %" PRIu64 ", \"blocks_per_group\": %"
	        PRIu64 ", \"data_start\": %" PRIu64 ", \"superblock\": \"%s\"", in->journal_blocks,
	        in->ngroups, in->blocks_per_group, in->data_start,
	        in->from_backup ? "backup" : "primary");
	fprintf(out, ", \"mkfs_time\": %" PRId64 ", \"mount_time\": %" PRId64 ", \"write_time\": %" PRId64
	        ", \"mount_count\": %" PRIu32 ", \"members\": [", in->mkfs_time, in->mount_time,
	        in->write_time, in->mount_count);
	print_members_json(out, md);
	fprintf(out, "]}\n");
}

void ctl_super_print(FILE *out, const char *source, struct mapped_device *md,
		     const struct dfs_info *in, const char *busy, const char *mountpoint, bool json)
{
	if (json)
		print_json(out, source, md, in, busy, mountpoint);
	else
		print_text(out, source, md, in, busy, mountpoint);
}

static int super_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ 0 },
	};
	const struct ctl_command *cmd = &ctl_super_command;
	struct mount_search search = { 0 };
	struct mapped_device *md = NULL;
	struct dfs_info in;
	char busy[512];
	bool json = false;
	int c, ret;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c != 'j')
			return ctl_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
		json = true;
	}
	if (argc - optind != 1)
		return ctl_usage_error(cmd, argc - optind < 1 ? "missing SOURCE" :
				       "too many arguments");
	search.source = argv[optind];
	if (open_source(cmd, search.source, &md, busy, sizeof(busy)))
		return CLI_EXIT_FAIL;
	/* counted only when no mount can be writing under us */
	ret = dfs_read_info(md, !busy[0], &in);
	if (ret) {
		ctl_error(cmd, "%s", failure_text(ret));
		dm_md_destroy(&md);
		return CLI_EXIT_FAIL;
	}
	if (busy[0]) {
		struct statvfs st;

		/* a mount of it here: its statfs is the live count */
		mountinfo_each(match_source, &search);
		if (search.mountpoint && statvfs(search.mountpoint, &st) == 0) {
			in.counted = true;
			in.free_blocks = st.f_bfree;
			in.inodes_used = st.f_files - st.f_ffree;
			in.free_inodes = st.f_ffree;
		}
	}
	ctl_super_print(stdout, search.source, md, &in, busy, search.mountpoint, json);
	free(search.mountpoint);
	dm_md_destroy(&md);
	return CLI_EXIT_OK;
}

/* The SOURCE [ARG] of a command that takes no option: 0, or the exit
 * status of the usage error it printed. */
static int source_and_arg(const struct ctl_command *cmd, int argc, char **argv,
			  const char **source, const char **arg)
{
	optind = 0;
	opterr = 0;
	if (getopt(argc, argv, "") != -1)
		return ctl_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
	if (argc - optind < 1 || argc - optind > 2)
		return ctl_usage_error(cmd, argc - optind < 1 ? "missing SOURCE" :
				       "too many arguments");
	*source = argv[optind];
	*arg = argc - optind == 2 ? argv[optind + 1] : NULL;
	return 0;
}

static int label_run(int argc, char **argv)
{
	const struct ctl_command *cmd = &ctl_label_command;
	struct mapped_device *md = NULL;
	struct dfs_info in;
	const char *source = NULL, *label = NULL;     /* -O3 cannot see them always set */
	char busy[512];
	int ret;

	/* a label that starts with '-' goes after "--" */
	if ((ret = source_and_arg(cmd, argc, argv, &source, &label)))
		return ret;
	if (label && strlen(label) > sizeof(in.label) - 1)
		return ctl_usage_error(cmd, "label '%s' is longer than %zu bytes", label,
				       sizeof(in.label) - 1);
	if (open_source(cmd, source, &md, busy, sizeof(busy)))
		return CLI_EXIT_FAIL;
	if (!label) {
		ret = dfs_read_info(md, false, &in);
		if (!ret)
			printf("%s\n", in.label);
	} else if (busy[0]) {
		/* the daemon keeps the superblock in memory and writes it back */
		ctl_error(cmd, "%s; unmount it to change the label (its daemon writes its own "
			  "copy of the superblock back)", busy);
		dm_md_destroy(&md);
		return CLI_EXIT_FAIL;
	} else {
		ret = dfs_set_label(md, label);
	}
	if (ret)
		ctl_error(cmd, "%s", failure_text(ret));
	dm_md_destroy(&md);
	return ret ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

static int uuid_run(int argc, char **argv)
{
	const struct ctl_command *cmd = &ctl_uuid_command;
	struct mapped_device *md = NULL;
	struct dfs_info in;
	const char *source = NULL, *arg = NULL;       /* as in label_run */
	uint8_t uuid[16];
	char busy[512], text[37];
	int ret;

	if ((ret = source_and_arg(cmd, argc, argv, &source, &arg)))
		return ret;
	if (arg && strcmp(arg, "random") == 0)
		ret = cli_random_uuid(uuid);
	else if (arg && strcmp(arg, "time") == 0)
		ret = cli_time_uuid(uuid);
	else if (arg && cli_parse_uuid(arg, uuid))
		return ctl_usage_error(cmd, "'%s' is not a uuid (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, "
				       "random or time)", arg);
	else
		ret = 0;
	if (ret) {
		ctl_error(cmd, "no uuid generated: %s", strerror(-ret));
		return CLI_EXIT_FAIL;
	}
	if (open_source(cmd, source, &md, busy, sizeof(busy)))
		return CLI_EXIT_FAIL;
	if (!arg) {
		ret = dfs_read_info(md, false, &in);
		if (!ret) {
			cli_format_uuid(in.uuid, text);
			printf("%s\n", text);
		}
	} else if (busy[0]) {
		/* the daemon keeps the superblock in memory and stamps the journal */
		ctl_error(cmd, "%s; unmount it to change the uuid (its daemon writes its own "
			  "copy of the superblock back)", busy);
		dm_md_destroy(&md);
		return CLI_EXIT_FAIL;
	} else if (!(ret = dfs_set_uuid(md, uuid))) {
		cli_format_uuid(uuid, text);
		printf("%s\n", text);
	}
	if (ret)
		ctl_error(cmd, "%s", failure_text(ret));
	dm_md_destroy(&md);
	return ret ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

const struct ctl_command ctl_super_command = {
	.name = "super",
	.usage = "SOURCE [--json]",
	.help =
	"Prints the superblock of the daxfs filesystem on SOURCE (a table file, or a\n"
	"comma-separated list of pmem files), as dumpe2fs -h does: label, uuid,\n"
	"version, state, whether it is mounted, sizes, block and inode counts,\n"
	"journal, times, mount count and the members (index, file, area, member\n"
	"uuid). On a mounted filesystem the counts come from the mount (statfs), when\n"
	"it is mounted here; otherwise from reading the whole filesystem, with its\n"
	"journal replayed in memory only: nothing is ever written. --json prints one\n"
	"JSON object.\n"
	"\n"
	"Exit status: 0 printed, 1 no daxfs on SOURCE or it cannot be read, 2 usage\n"
	"error.\n",
	.run = super_run,
};

const struct ctl_command ctl_label_command = {
	.name = "label",
	.usage = "SOURCE [NEWLABEL]",
	.help =
	"Prints the label of the daxfs filesystem on SOURCE or, with NEWLABEL, sets it\n"
	"(at most 63 bytes; \"\" clears it), as e2label does. Setting it needs the\n"
	"filesystem unmounted (its daemon keeps the superblock and would write the old\n"
	"label back): it is refused while a mount holds the files. The journal is\n"
	"replayed first, then the new label written through it.\n"
	"\n"
	"Exit status: 0 done, 1 failed (no daxfs, mounted, cannot write), 2 usage\n"
	"error.\n",
	.run = label_run,
};

const struct ctl_command ctl_uuid_command = {
	.name = "uuid",
	.usage = "SOURCE [NEWUUID|random|time]",
	.help =
	"Prints the uuid of the daxfs filesystem on SOURCE or sets it, as tune2fs -U\n"
	"does: to NEWUUID, to a random one (random) or a time-based one (time); the\n"
	"uuid set is printed. Setting it needs the filesystem unmounted: it is\n"
	"refused while a mount holds the files. The journal is replayed, every\n"
	"member's label re-stamped, then the superblock written through the journal:\n"
	"if this is interrupted, the uuid is still the old one and mount and fsck\n"
	"refuse the filesystem naming the change; running it again with the same\n"
	"NEWUUID finishes it, with the old uuid undoes it.\n"
	"\n"
	"Exit status: 0 done, 1 failed (no daxfs, mounted, cannot write), 2 usage\n"
	"error.\n",
	.run = uuid_run,
};
