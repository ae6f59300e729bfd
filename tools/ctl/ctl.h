/* tools/ctl/ctl.h - the daxfs-ctl command table and what its commands share */
#ifndef DAXFS_TOOLS_CTL_H
#define DAXFS_TOOLS_CTL_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>

#include "daxfs/dm.h"

/*
 * One daxfs-ctl subcommand. run gets argv with argv[0] = the command name and
 * returns the process exit code: CLI_EXIT_OK, CLI_EXIT_FAIL (the command ran
 * and the answer is "no" or something failed) or CLI_EXIT_USAGE. "--help" is
 * handled before run is called.
 */
struct ctl_command {
	const char *name;
	const char *usage;   /* the arguments after the name: "TABLE PGOFF [NR_PAGES] [--json]" */
	const char *help;    /* what it does, one paragraph, lines end in '\n' */
	int (*run)(int argc, char **argv);
};

extern const struct ctl_command ctl_check_command;
extern const struct ctl_command ctl_resolve_command;
extern const struct ctl_command ctl_map_command;
/* on a filesystem's SOURCE (ctl/super.c) */
extern const struct ctl_command ctl_super_command;
extern const struct ctl_command ctl_label_command;
extern const struct ctl_command ctl_uuid_command;
/* on a mounted daemon, through the ioctl channel (ctl/device.c) */
extern const struct ctl_command ctl_table_command;
extern const struct ctl_command ctl_info_command;
extern const struct ctl_command ctl_status_command;
extern const struct ctl_command ctl_load_command;
extern const struct ctl_command ctl_reload_command;
extern const struct ctl_command ctl_suspend_command;
extern const struct ctl_command ctl_resume_command;
extern const struct ctl_command ctl_clear_command;
extern const struct ctl_command ctl_badblocks_command;
extern const struct ctl_command ctl_trace_command;
extern const struct ctl_command ctl_remove_command;
extern const struct ctl_command ctl_workers_command;
/* serving a mount over NFS (ctl/export.c) */
extern const struct ctl_command ctl_export_command;

/* The program name for messages ("daxfs-ctl"). */
extern const char *ctl_progname;

/* Prints "daxfs-ctl CMD: <formatted>" to stderr. */
void ctl_error(const struct ctl_command *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Prints the usage line of cmd and a hint to stderr; returns CLI_EXIT_USAGE. */
int ctl_usage_error(const struct ctl_command *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Builds a fresh mapped device whose table is the file at path, exactly as a
 * mount would: parse, first load (alignment and device range checks), and,
 * when live is true, resume so the table becomes LIVE. On failure prints the
 * library's message and returns its negative errno; *md is then NULL.
 * On success the caller owns *md (dm_md_destroy) and, if t is non-NULL, a
 * reference to the table in *t (dm_table_put).
 */
int ctl_open_table(const struct ctl_command *cmd, const char *path, bool live,
		   struct mapped_device **md, struct dm_table **t);

/* Reads the table file at path as check and a mount read it
 * (dm_table_read_file: a regular file of bounded size, never a device). On
 * failure prints the library's message and returns its negative errno. On
 * success the caller frees *text. */
int ctl_read_table(const struct ctl_command *cmd, const char *path, char **text, size_t *len);

/*
 * The printers of map, resolve and super, on a stream of the caller's (the print
 * fuzz target checks their output).
 *
 * ctl_map_print: file (size in st) on the daemon mounted from source, its
 * extent map map (cut into lines in place): without md, as the daemon's
 * system.daxfs.map attribute gives it, every extent followed by its pieces
 * through the live table; with md, as system.daxfs.iomap gives it, each
 * extent resolved through md here. Returns the number of pieces that failed
 * to resolve, or -1 (after ctl_error) for a line that is neither. ctl_resolve_print: one dm_dax_resolve of nr_pages
 * that returned ret and recorded r.
 */
int ctl_map_print(FILE *out, struct mapped_device *md, const char *file, const char *source,
		  const struct stat *st, char *map, bool json);
void ctl_resolve_print(FILE *out, const struct dm_resolution *r, long nr_pages, long ret,
		       bool json);
/* ctl_super_print: `daxfs-ctl super` of the filesystem read into in from md
 * (named source), busy the reason a mount holds it ("" if none), mountpoint
 * where (NULL if unknown). */
struct dfs_info;
void ctl_super_print(FILE *out, const char *source, struct mapped_device *md,
		     const struct dfs_info *in, const char *busy, const char *mountpoint, bool json);

#endif
