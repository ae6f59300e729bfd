/* tools/ctl/check.c - daxfs-ctl check: validate a table as a first load would */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "ctl/ctl.h"

static int check_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ 0 },
	};
	struct mapped_device *md;
	struct dm_table *t;
	const char *reason;
	char *text;
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1)
		return ctl_usage_error(&ctl_check_command, "unknown option '%s'", argv[optind - 1]);
	if (argc - optind != 1)
		return ctl_usage_error(&ctl_check_command, argc - optind < 1 ?
				       "missing TABLE" : "too many arguments");

	if (ctl_open_table(&ctl_check_command, argv[optind], false, &md, &t))
		return CLI_EXIT_FAIL;

	text = dm_table_text(t);
	if (!text) {
		ctl_error(&ctl_check_command, "out of memory");
		dm_table_put(&t);
		dm_md_destroy(&md);
		return CLI_EXIT_FAIL;
	}
	fputs(text, stdout);
	free(text);
	printf("size: %" PRIu64 " sectors\n", dm_table_size(t));
	printf("type: %s\n", dm_md_type_name(md));
	reason = dm_table_not_dax_reason(t);
	if (reason)
		printf("dax: no (%s)\n", reason);
	else
		printf("dax: yes\n");
	dm_table_put(&t);
	dm_md_destroy(&md);
	return CLI_EXIT_OK;
}

const struct ctl_command ctl_check_command = {
	.name = "check",
	.usage = "TABLE",
	.help =
	"Parses and validates the table file TABLE as the first load of a fresh\n"
	"mapped device would: every target constructor rule, the page alignment a\n"
	"DAX table needs, and that every target fits its device. A valid table is\n"
	"printed back as `table` prints it, followed by its size in sectors, the\n"
	"device type its first load fixes (\"type: dax\" or \"type: bio\", the kernel's\n"
	"rule: a later reload may go from bio to dax, never back), and whether the\n"
	"filesystem may use DAX on it (\"dax: yes\", or \"dax: no (<reason>)\" naming\n"
	"the first target or device at fault). The two differ for the error target,\n"
	"which daxfs counts as DAX-capable but the kernel's type rule does not when a\n"
	"device sits beside it.\n"
	"\n"
	"Exit status: 0 valid, 1 invalid (the reason, with the file name and line,\n"
	"on stderr), 2 usage error.\n",
	.run = check_run,
};
