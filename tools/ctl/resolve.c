/* tools/ctl/resolve.c - daxfs-ctl resolve: show every step of one direct_access through a table */
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ctl/ctl.h"
#include "daxfs/err.h"
#include "util/json.h"

static void print_json(FILE *out, const struct dm_resolution *r, long ret)
{
	if (ret < 0) {
		fprintf(out, "{\"pgoff\": %" PRIu64 ", \"error\": ", r->pgoff);
		daxfs_json_string(out, cli_errno_name((int)ret));
		fprintf(out, "}\n");
		return;
	}
	fprintf(out, "{\"pgoff\": %" PRIu64 ", \"sector\": %" PRIu64 ", ", r->pgoff, r->sector);
	fprintf(out, "\"target\": {\"index\": %d, \"type\": ", r->target_index);
	daxfs_json_string(out, r->target_type);
	fprintf(out, ", \"begin\": %" PRIu64 ", \"len\": %" PRIu64 "}, ", r->target_begin, r->target_len);
	if (r->stripe >= 0)
		fprintf(out, "\"stripe\": %d, ", r->stripe);
	else
		fprintf(out, "\"stripe\": null, ");
	fprintf(out, "\"device\": {\"path\": ");
	daxfs_json_string(out, r->device_path);
	fprintf(out, ", \"sector\": %" PRIu64 ", \"pgoff\": %" PRIu64 "}, ", r->device_sector,
	        r->device_pgoff);
	fprintf(out, "\"pages\": %ld}\n", ret);
}

/* One line per step of the chain, as far as it got. */
static void print_text(FILE *out, const struct dm_resolution *r, long nr_pages, long ret)
{
	fprintf(out, "pgoff %" PRIu64 " -> sector %" PRIu64 "\n", r->pgoff, r->sector);
	if (r->target_index < 0) {
		fprintf(out, "  no target maps sector %" PRIu64 "\n", r->sector);
	} else {
		fprintf(out, "  target %d: %s, begin %" PRIu64 ", len %" PRIu64 ", offset %" PRIu64 "\n",
		        r->target_index, r->target_type ? r->target_type : "?", r->target_begin,
		        r->target_len, r->sector - r->target_begin);
		if (r->stripe >= 0)
			fprintf(out, "  stripe %d\n", r->stripe);
		if (r->device_path[0])
			fprintf(out, "  device %s: sector %" PRIu64 ", pgoff %" PRIu64 "\n", r->device_path,
			        r->device_sector, r->device_pgoff);
	}
	if (ret >= 0)
		fprintf(out, "  pages %ld of %ld requested\n", ret, nr_pages);
	else
		fprintf(out, "error: %s (%s)\n", cli_errno_name((int)ret), strerror((int)-ret));
}

void ctl_resolve_print(FILE *out, const struct dm_resolution *r, long nr_pages, long ret,
		       bool json)
{
	if (json)
		print_json(out, r, ret);
	else
		print_text(out, r, nr_pages, ret);
}

static int resolve_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ 0 },
	};
	const struct ctl_command *cmd = &ctl_resolve_command;
	struct dm_resolution r;
	struct mapped_device *md;
	uint64_t pgoff, nr = 1;
	bool json = false;
	long ret;
	int c, nargs;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 'j')
			json = true;
		else
			return ctl_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
	}
	nargs = argc - optind;
	if (nargs < 2)
		return ctl_usage_error(cmd, nargs < 1 ? "missing TABLE" : "missing PGOFF");
	if (nargs > 3)
		return ctl_usage_error(cmd, "too many arguments");
	if (cli_parse_u64(argv[optind + 1], &pgoff) || pgoff > UINT64_MAX / DAX_PAGE_SECTORS)
		return ctl_usage_error(cmd, "PGOFF '%s' is not a page offset", argv[optind + 1]);
	if (nargs == 3 && (cli_parse_u64(argv[optind + 2], &nr) || nr > LONG_MAX))
		return ctl_usage_error(cmd, "NR_PAGES '%s' is not a page count", argv[optind + 2]);

	memset(&r, 0, sizeof(r));
	r.pgoff = pgoff;
	r.sector = pgoff * DAX_PAGE_SECTORS;
	r.target_index = -1;
	r.stripe = -1;
	ret = ctl_open_table(cmd, argv[optind], true, &md, NULL);
	if (ret) {
		if (json)
			print_json(stdout, &r, ret);
		return CLI_EXIT_FAIL;
	}
	ret = dm_dax_resolve(md, pgoff, (long)nr, &r);
	ctl_resolve_print(stdout, &r, (long)nr, ret, json);
	if (ret < 0 && daxfs_errormsg()[0])
		ctl_error(cmd, "%s", daxfs_errormsg());
	dm_md_destroy(&md);
	return ret < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

const struct ctl_command ctl_resolve_command = {
	.name = "resolve",
	.usage = "TABLE PGOFF [NR_PAGES] [--json]",
	.help =
	"Creates a mapped device whose live table is the table file TABLE and runs\n"
	"dm_dax_direct_access for NR_PAGES pages (default 1) at page offset PGOFF of\n"
	"it, printing each step of the chain: the sector on the mapped device, the\n"
	"target that owns it, the stripe, the underlying device with its sector and\n"
	"page offset, and how many pages the chain returned (never more than the\n"
	"rest of the target or stripe chunk).\n"
	"\n"
	"  --json  print exactly one JSON object:\n"
	"          {\"pgoff\": P, \"sector\": S, \"target\": {\"index\": I, \"type\": T,\n"
	"           \"begin\": B, \"len\": L}, \"stripe\": K or null,\n"
	"           \"device\": {\"path\": D, \"sector\": DS, \"pgoff\": DP}, \"pages\": N}\n"
	"          or, when the chain fails, {\"pgoff\": P, \"error\": \"EIO\"}.\n"
	"\n"
	"PGOFF and NR_PAGES are decimal or 0x-prefixed hexadecimal.\n"
	"Exit status: 0 resolved, 1 the chain (or the table) failed, 2 usage error.\n",
	.run = resolve_run,
};
