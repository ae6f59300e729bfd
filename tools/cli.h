/* tools/cli.h - number, size and uuid parsing, usage errors and errno names shared by the daxfs tools */
#ifndef DAXFS_TOOLS_CLI_H
#define DAXFS_TOOLS_CLI_H

#include <stdint.h>
#include <stdio.h>

/* Exit codes shared by daxfs-ctl and mkfs.daxfs (fsck.daxfs uses e2fsck's). */
enum {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAIL = 1,
	CLI_EXIT_USAGE = 2,
};

/*
 * Parses an unsigned 64-bit number: decimal, or hexadecimal with a 0x prefix.
 * The whole string must be the number (no sign, no blanks, no trailing junk).
 * Returns 0, -EINVAL (not a number) or -ERANGE (does not fit).
 */
int cli_parse_u64(const char *s, uint64_t *out);

/*
 * Parses a size in bytes: a number as cli_parse_u64 takes it, optionally
 * followed by one binary suffix K, M, G or T (either case, an optional
 * trailing "iB" or "B"). Returns 0, -EINVAL or -ERANGE.
 */
int cli_parse_size(const char *s, uint64_t *out);

/* Parses "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (hex, either case). 0 or -EINVAL. */
int cli_parse_uuid(const char *s, uint8_t out[16]);
/* A random (version 4) uuid, or a time-based one (version 1, with a random
 * node and clock sequence, as RFC 4122 allows without a MAC address):
 * 0 or -errno. */
int cli_random_uuid(uint8_t out[16]);
int cli_time_uuid(uint8_t out[16]);
/* Formats a uuid in lower case into out (37 bytes with the NUL). */
void cli_format_uuid(const uint8_t uuid[16], char out[37]);

/* A command line a tool refuses: prints "PROG: MESSAGE" and "Try 'PROG
 * --help' for more information." on stderr; returns status, the tool's
 * exit code for a usage error. */
int cli_usage_error(const char *prog, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The symbolic name of an errno ("EIO"), for a positive or negative value;
 * "E<number>" style text for an unknown one (in a static buffer). */
const char *cli_errno_name(int err);

#endif
