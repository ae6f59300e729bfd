/* tools/daxfs-ctl.c - the daxfs control tool: a table of subcommands over the dm layer */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ctl/ctl.h"

#ifndef DAXFS_VERSION
#define DAXFS_VERSION "unknown"
#endif

static const struct ctl_command *const commands[] = {
	/* on table files */
	&ctl_check_command,
	&ctl_resolve_command,
	/* on a filesystem's SOURCE */
	&ctl_super_command,
	&ctl_label_command,
	&ctl_uuid_command,
	/* on a mounted filesystem */
	&ctl_map_command,
	&ctl_table_command,
	&ctl_info_command,
	&ctl_status_command,
	&ctl_load_command,
	&ctl_reload_command,
	&ctl_suspend_command,
	&ctl_resume_command,
	&ctl_clear_command,
	&ctl_remove_command,
	&ctl_badblocks_command,
	&ctl_trace_command,
	&ctl_workers_command,
	&ctl_export_command,
};

#define NUM_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void print_usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: %s COMMAND [ARGS...]\n", ctl_progname);
	fprintf(f, "       %s --help | --version\n", ctl_progname);
	fprintf(f, "       %s COMMAND --help\n\n", ctl_progname);
	fprintf(f, "Inspects and controls daxfs mapped devices and their tables.\n\n");
	fprintf(f, "Commands:\n");
	for (i = 0; i < NUM_COMMANDS; i++)
		fprintf(f, "  %s %s\n", commands[i]->name, commands[i]->usage);
	fprintf(f, "\nExit status: 0 success, 1 failure, 2 usage error.\n");
}

static void print_command_help(const struct ctl_command *cmd)
{
	printf("usage: %s %s %s\n\n%s", ctl_progname, cmd->name, cmd->usage, cmd->help);
}

static bool wants_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	}
	return false;
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		print_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		if (argc > 2 && strcmp(argv[1], "help") == 0) {
			for (i = 0; i < NUM_COMMANDS; i++) {
				if (strcmp(argv[2], commands[i]->name) == 0) {
					print_command_help(commands[i]);
					return CLI_EXIT_OK;
				}
			}
			fprintf(stderr, "%s: unknown command '%s'\n", ctl_progname, argv[2]);
			return CLI_EXIT_USAGE;
		}
		print_usage(stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("%s (daxfs-fuse) %s\n", ctl_progname, DAXFS_VERSION);
		return CLI_EXIT_OK;
	}
	for (i = 0; i < NUM_COMMANDS; i++) {
		if (strcmp(argv[1], commands[i]->name) != 0)
			continue;
		if (wants_help(argc - 1, argv + 1)) {
			print_command_help(commands[i]);
			return CLI_EXIT_OK;
		}
		return commands[i]->run(argc - 1, argv + 1);
	}
	fprintf(stderr, "%s: unknown command '%s'\n", ctl_progname, argv[1]);
	fprintf(stderr, "Try '%s --help' for the list of commands.\n", ctl_progname);
	return CLI_EXIT_USAGE;
}
