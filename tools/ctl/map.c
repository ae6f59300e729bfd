/* tools/ctl/map.c - daxfs-ctl map: where a file's bytes live, down to the backing files */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "cli.h"
#include "ctl/ctl.h"
#include "daxfs/err.h"
#include "util/mountinfo.h"
#include "util/json.h"

#define IOMAP_XATTR "system.daxfs.iomap"
#define MAP_XATTR "system.daxfs.map"

static const struct ctl_command *const cmd = &ctl_map_command;

/* The file's extent map as the daemon's attribute name gives it. */
static char *read_attr(const char *file, const char *name)
{
	char *buf = NULL;
	int tries;

	/* the map may grow between the size query and the read: retry */
	for (tries = 0; tries < 8; tries++) {
		ssize_t size = getxattr(file, name, NULL, 0), got;

		if (size < 0)
			break;
		free(buf);
		buf = malloc((size_t)size + 1);
		if (!buf) {
			ctl_error(cmd, "out of memory");
			return NULL;
		}
		got = getxattr(file, name, buf, (size_t)size);
		if (got >= 0) {
			buf[got] = '\0';
			return buf;
		}
		if (errno != ERANGE)
			break;
	}
	free(buf);
	if (errno == ENODATA || errno == ENOTSUP)
		ctl_error(cmd, "%s: no extent map: not a regular file on a daxfs-fuse mount", file);
	else
		ctl_error(cmd, "%s: %s: %s", file, name, strerror(errno));
	return NULL;
}

/* Where the last "extent O L ..." line of text ends in the file, or 0 */
static uint64_t last_extent_end(const char *text)
{
	const char *line = NULL;
	uint64_t off, len;

	for (const char *p = text; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, "extent ", 7) == 0)
			line = p;
	if (!line || sscanf(line, "extent %" SCNu64 " %" SCNu64, &off, &len) != 2 ||
	    len > UINT64_MAX - off)
		return 0;
	return off + len;
}

/* The whole map, a page at a time (NAME@OFFSET, each but the last ending in
 * "more <offset>"): one attribute value holds at most 64 KiB, and a file of
 * thousands of extents has more. A page that ended inside an extent's pieces
 * is followed by one that shows that extent again from there: its line goes,
 * the pieces join the extent's. */
static char *read_map(const char *file, const char *name)
{
	char *all = NULL, *page = NULL;
	size_t len = 0;
	uint64_t from = 0, inside = 0;
	FILE *f = open_memstream(&all, &len);

	if (!f) {
		ctl_error(cmd, "out of memory");
		return NULL;
	}
	for (;;) {
		char paged[96], *more;
		uint64_t next;

		snprintf(paged, sizeof(paged), "%s@%" PRIu64, name, from);
		if (!(page = read_attr(file, paged)))
			break;
		char *text = page;

		if (from < inside && strncmp(text, "extent ", 7) == 0) {
			char *nl = strchr(text, '\n');

			text = nl ? nl + 1 : text + strlen(text);
		}
		more = strncmp(text, "more ", 5) == 0 ? text : strstr(text, "\nmore ");
		more = more && more != text ? more + 1 : more;
		if (!more) {
			fputs(text, f);
			free(page);
			if (fclose(f) != 0) {
				ctl_error(cmd, "out of memory");
				free(all);
				return NULL;
			}
			return all;
		}
		*more = '\0';
		fputs(text, f);
		if (cli_parse_u64(strtok(more + 5, "\n"), &next) || next <= from) {
			ctl_error(cmd, "%s: %s: a page of the map does not go forward", file, paged);
			break;
		}
		inside = last_extent_end(page);
		from = next;
		free(page);
		page = NULL;
	}
	free(page);
	fclose(f);
	free(all);
	return NULL;
}

struct source_search {
	const char *file;
	dev_t dev;
	char *source;
	bool found;            /* a mount of dev, daxfs-fuse's or not */
};

static int match_dev(void *ctx, const struct mountinfo_entry *e)
{
	struct source_search *s = ctx;

	if (e->major != major(s->dev) || e->minor != minor(s->dev))
		return 0;
	s->found = true;
	if (strncmp(e->fstype, "fuse", 4) != 0) {
		ctl_error(cmd, "%s: not on a daxfs-fuse mount (%s)", s->file, e->fstype);
		return 1;
	}
	s->source = strdup(e->source);
	if (!s->source)
		ctl_error(cmd, "out of memory");
	return 1;
}

/* The SOURCE the filesystem holding st was mounted from (its fsname), or NULL. */
static char *mount_source(const char *file, const struct stat *st)
{
	struct source_search s = { .file = file, .dev = st->st_dev };
	int err = mountinfo_each(match_dev, &s);

	if (err < 0)
		ctl_error(cmd, "/proc/self/mountinfo: %s", strerror(-err));
	else if (!s.found)
		ctl_error(cmd, "%s: no mount found for its device %u:%u", file,
			  major(st->st_dev), minor(st->st_dev));
	return s.source;
}

struct extent {
	uint64_t offset, length, md_offset;
	char type[16];
	bool has_addr;
};

/* "OFFSET LENGTH TYPE ADDR|-", numbers without a sign (sscanf's %lu would
 * take "-4096" for 2^64 - 4096) and ranges that do not wrap. */
static int parse_extent(const char *line, struct extent *e)
{
	char off[32], len[32], addr[32];
	int n = 0;

	if (sscanf(line, "%31s %31s %15s %31s%n", off, len, e->type, addr, &n) != 4 ||
	    line[n] != '\0' || cli_parse_u64(off, &e->offset) || cli_parse_u64(len, &e->length) ||
	    e->length > UINT64_MAX - e->offset)
		return -EINVAL;
	e->has_addr = strcmp(addr, "-") != 0;
	if (e->has_addr && (cli_parse_u64(addr, &e->md_offset) ||
			    e->length > UINT64_MAX - e->md_offset))
		return -EINVAL;
	return 0;
}

/* One contiguous run of an extent on one device, or a failing run. */
struct piece {
	uint64_t offset, length;
	int error;
	int target, stripe;
	char type[32];
	uint64_t device_offset;
	const char *path;
};

static int parse_int(const char *s, int min, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > INT_MAX)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

/* "OFFSET LENGTH ERROR TARGET TYPE|- STRIPE DEVICE DEVICE_OFFSET PATH|-"
 * after "piece " (the daemon's system.daxfs.map, fuse/extmap.h). */
static int parse_piece(const char *line, struct piece *p)
{
	char off[32], len[32], err[16], target[16], stripe[16], device[16], doff[32];
	int n = 0, index;

	memset(p, 0, sizeof(*p));
	if (sscanf(line, "%31s %31s %15s %15s %31s %15s %15s %31s %n", off, len, err, target,
		   p->type, stripe, device, doff, &n) != 8 || n == 0 || !line[n] ||
	    cli_parse_u64(off, &p->offset) || cli_parse_u64(len, &p->length) ||
	    p->length == 0 || p->length > UINT64_MAX - p->offset ||
	    parse_int(err, -4095, &p->error) || p->error > 0 || parse_int(target, -1, &p->target) ||
	    parse_int(stripe, -1, &p->stripe) || parse_int(device, -1, &index) ||
	    cli_parse_u64(doff, &p->device_offset))
		return -EINVAL;
	p->path = line + n;
	if (!p->error && (index < 0 || p->target < 0 || strcmp(p->path, "-") == 0))
		return -EINVAL;
	return 0;
}

/* The piece of e from file offset pos on, resolved through md (--table). */
static void resolve_piece(struct mapped_device *md, const struct extent *e, uint64_t pos,
			  struct dm_resolution *r, struct piece *p)
{
	memset(p, 0, sizeof(*p));
	p->offset = pos;
	p->length = dm_dax_report_range(md, e->md_offset + (pos - e->offset),
					 e->offset + e->length - pos, r);
	p->error = r->error;
	p->target = r->target_index;
	p->stripe = r->stripe;
	snprintf(p->type, sizeof(p->type), "%s", r->target_type ? r->target_type : "-");
	p->device_offset = r->device_offset;
	p->path = r->device_path;
}

/* Why a piece failed, from what the chain reached: the map carries no
 * message, but the target and the device say enough. */
static void piece_reason(const struct piece *p, char *buf, size_t size)
{
	struct stat st;

	if (p->target < 0)
		snprintf(buf, size, "no target maps it");
	else if (strcmp(p->type, "error") == 0)
		snprintf(buf, size, "target %d is an error target", p->target);
	else if (!p->path || !p->path[0] || strcmp(p->path, "-") == 0)
		snprintf(buf, size, "target %d (%s)", p->target, p->type);
	else if (p->error == -EHWPOISON)
		snprintf(buf, size, "a bad block of %s at byte %" PRIu64, p->path, p->device_offset);
	else if (stat(p->path, &st) == 0 && S_ISREG(st.st_mode) &&
		 (uint64_t)st.st_size <= p->device_offset)
		snprintf(buf, size, "byte %" PRIu64 " of %s is past its end (%lld bytes)",
			 p->device_offset, p->path, (long long)st.st_size);
	else
		snprintf(buf, size, "byte %" PRIu64 " of %s", p->device_offset, p->path);
}

static void print_piece_text(FILE *out, const struct piece *p)
{
	if (p->error) {
		char why[4200];

		piece_reason(p, why, sizeof(why));
		fprintf(out, "    %" PRIu64 "+%" PRIu64 " error: %s (%s)\n", p->offset, p->length,
		        cli_errno_name(p->error), why);
		return;
	}
	fprintf(out, "    %" PRIu64 "+%" PRIu64 " -> %s offset %" PRIu64 " (target %d %s", p->offset,
	        p->length, p->path, p->device_offset, p->target, strcmp(p->type, "-") ? p->type : "?");
	if (p->stripe >= 0)
		fprintf(out, ", stripe %d", p->stripe);
	fprintf(out, ")\n");
}

static void print_piece_json(FILE *out, const struct piece *p, bool first)
{
	fprintf(out, "%s{\"offset\": %" PRIu64 ", \"length\": %" PRIu64 ", ", first ? "" : ", ",
	        p->offset, p->length);
	if (p->error) {
		char why[4200];

		piece_reason(p, why, sizeof(why));
		fprintf(out, "\"error\": ");
		daxfs_json_string(out, cli_errno_name(p->error));
		fprintf(out, ", \"reason\": ");
		daxfs_json_string(out, why);
		fprintf(out, "}");
		return;
	}
	fprintf(out, "\"target\": %d, \"stripe\": ", p->target);
	if (p->stripe >= 0)
		fprintf(out, "%d", p->stripe);
	else
		fprintf(out, "null");
	fprintf(out, ", \"device\": {\"path\": ");
	daxfs_json_string(out, p->path);
	fprintf(out, ", \"offset\": %" PRIu64 "}}", p->device_offset);
}

/* Prints p, the n-th piece of its extent; counts it in *failed when it
 * did not resolve. */
static void print_piece(FILE *out, const struct piece *p, unsigned n, bool json, int *failed)
{
	*failed += p->error != 0;
	if (json)
		print_piece_json(out, p, n == 0);
	else
		print_piece_text(out, p);
}

static void print_extent(FILE *out, const struct extent *e, bool first, bool json)
{
	if (json) {
		fprintf(out, "%s{\"offset\": %" PRIu64 ", \"length\": %" PRIu64 ", \"type\": ",
		        first ? "" : "]}, ", e->offset, e->length);
		daxfs_json_string(out, e->type);
		if (e->has_addr)
			fprintf(out, ", \"md_offset\": %" PRIu64 ", \"pieces\": [", e->md_offset);
		else
			fprintf(out, ", \"md_offset\": null, \"pieces\": [");
	} else if (e->has_addr) {
		fprintf(out, "  %" PRIu64 "+%" PRIu64 " %s at %" PRIu64 "\n", e->offset, e->length,
		        e->type, e->md_offset);
	} else {
		fprintf(out, "  %" PRIu64 "+%" PRIu64 " %s\n", e->offset, e->length, e->type);
	}
}

int ctl_map_print(FILE *out, struct mapped_device *md, const char *file, const char *source,
		     const struct stat *st, char *map, bool json)
{
	char *line, *save = NULL;
	unsigned n_ext = 0, n_pieces = 0;
	int failed = 0;

	if (json) {
		fprintf(out, "{\"file\": ");
		daxfs_json_string(out, file);
		fprintf(out, ", \"source\": ");
		daxfs_json_string(out, source);
		fprintf(out, ", \"size\": %lld, \"extents\": [", (long long)st->st_size);
	} else {
		fprintf(out, "%s: %lld bytes on %s\n", file, (long long)st->st_size, source);
	}
	for (line = strtok_r(map, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct extent e;
		struct piece p;

		if (!md && strncmp(line, "piece ", 6) == 0 && n_ext && parse_piece(line + 6, &p) == 0) {
			print_piece(out, &p, n_pieces++, json, &failed);
			continue;
		}
		if ((!md && strncmp(line, "extent ", 7) != 0) ||
		    parse_extent(md ? line : line + 7, &e)) {
			if (json)
				fprintf(out, n_ext ? "]}]}\n" : "]}\n");
			ctl_error(cmd, "%s: unexpected extent line '%s'", file, line);
			return -1;
		}
		print_extent(out, &e, n_ext == 0, json);
		n_ext++;
		n_pieces = 0;
		for (uint64_t pos = e.offset; md && e.has_addr && pos < e.offset + e.length;) {
			struct dm_resolution r;

			resolve_piece(md, &e, pos, &r, &p);
			pos += p.length;
			print_piece(out, &p, n_pieces++, json, &failed);
		}
	}
	if (json)
		fprintf(out, n_ext ? "]}]}\n" : "]}\n");
	return failed;
}

static int map_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "table", required_argument, NULL, 't' },
		{ 0 },
	};
	struct mapped_device *md = NULL;
	const char *file, *table = NULL;
	char *source = NULL, *iomap = NULL;
	bool json = false;
	struct stat st;
	int c, ret = CLI_EXIT_FAIL, failed;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 'j')
			json = true;
		else if (c == 't')
			table = optarg;
		else if (c == ':' || (c == '?' && optopt == 't'))
			return ctl_usage_error(cmd, "--table needs a TABLE");
		else
			return ctl_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
	}
	if (argc - optind != 1)
		return ctl_usage_error(cmd, argc - optind < 1 ? "missing FILE" : "too many arguments");
	file = argv[optind];

	if (stat(file, &st) < 0) {
		ctl_error(cmd, "%s: %s", file, strerror(errno));
		return CLI_EXIT_FAIL;
	}
	/* Without a table of the caller's, the daemon follows each extent
	 * down the table that is live now, reloads included. */
	iomap = read_map(file, table ? IOMAP_XATTR : MAP_XATTR);
	if (!iomap)
		return CLI_EXIT_FAIL;
	if (table) {
		source = strdup(table);
		if (!source || ctl_open_table(cmd, table, true, &md, NULL))
			goto out;
	} else if (!(source = mount_source(file, &st))) {
		goto out;
	}
	failed = ctl_map_print(stdout, md, file, source, &st, iomap, json);
	if (failed > 0)
		ctl_error(cmd, "%s: %d piece%s did not resolve", file, failed, failed == 1 ? "" : "s");
	ret = failed == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
out:
	dm_md_destroy(&md);
	free(source);
	free(iomap);
	return ret;
}

const struct ctl_command ctl_map_command = {
	.name = "map",
	.usage = "FILE [--table TABLE] [--json]",
	.help =
	"Shows where the bytes of FILE, a regular file on a mounted daxfs, live: its\n"
	"extents (from the daemon's system.daxfs.iomap attribute) with their offsets\n"
	"on the mapped device, and each extent followed down the direct_access chain\n"
	"to the backing files, split where a target or a stripe chunk ends. The table\n"
	"is the one live in the daemon now (its system.daxfs.map attribute), or TABLE.\n"
	"\n"
	"  --table TABLE  resolve through TABLE instead of the daemon's live table\n"
	"  --json         print one JSON object:\n"
	"                 {\"file\": F, \"source\": S, \"size\": N, \"extents\": [\n"
	"                  {\"offset\": O, \"length\": L, \"type\": \"mapped\", \"md_offset\": A,\n"
	"                   \"pieces\": [{\"offset\": O, \"length\": L, \"target\": I,\n"
	"                     \"stripe\": K or null, \"device\": {\"path\": P, \"offset\": B}}]},\n"
	"                  {\"offset\": O, \"length\": L, \"type\": \"hole\", \"md_offset\": null,\n"
	"                   \"pieces\": []}]}\n"
	"                 a piece that fails is {\"offset\": O, \"length\": L, \"error\": \"EIO\"}.\n"
	"\n"
	"Offsets and lengths are in bytes. Exit status: 0 every extent resolved, 1 a\n"
	"failure (or a piece that did not resolve), 2 usage error.\n",
	.run = map_run,
};
