/* tools/daxfs-run.c - runs a program with libdaxfs-run preloaded: its data on daxfs-fuse mounts goes straight to pmem */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#ifndef DAXFS_RUN_LIB
#define DAXFS_RUN_LIB "libdaxfs-run.so"
#endif

static void usage(FILE *f)
{
	fprintf(f, "usage: daxfs-run [--sync] [--debug] COMMAND [ARGS...]\n"
		"  Runs COMMAND with libdaxfs-run preloaded (LD_PRELOAD): read, write and\n"
		"  mmap of files on daxfs-fuse mounts become loads and stores to their pmem.\n"
		"  --sync    every write is durable when it returns (DAXFS_RUN_SYNC=1)\n"
		"  --debug   say on stderr which files are served and why others are not\n"
		"            (DAXFS_RUN_DEBUG=1)\n"
		"  DAXFS_RUN_LIB names the library to preload instead of %s.\n", DAXFS_RUN_LIB);
}

/* Whether the first entry of an LD_PRELOAD list is a sanitizer's runtime
 * (libasan.so, libtsan.so.2, ...), which insists on being loaded first. */
static bool sanitizer_runtime_first(const char *list)
{
	static const char *const runtimes[] = { "libasan.so", "libtsan.so", "liblsan.so",
						"libhwasan.so" };
	size_t len = strcspn(list, ": ");
	const char *name = list;

	for (const char *p = list; p < list + len; p++)
		if (*p == '/')
			name = p + 1;
	for (size_t i = 0; i < sizeof(runtimes) / sizeof(runtimes[0]); i++)
		if (strncmp(name, runtimes[i], strlen(runtimes[i])) == 0)
			return true;
	return false;
}

/* The library: $DAXFS_RUN_LIB, else the build tree's when this program runs
 * from one, else the installed one. */
static const char *library(void)
{
	static char path[4096];
	const char *env = getenv("DAXFS_RUN_LIB");
	ssize_t n;
	char *slash;

	if (env && *env)
		return env;
	n = readlink("/proc/self/exe", path, sizeof(path) - 64);
	if (n > 0) {
		path[n] = '\0';
		if ((slash = strrchr(path, '/'))) {
			strcpy(slash, "/../src/preload/libdaxfs-run.so");
			if (access(path, R_OK) == 0)
				return path;
		}
	}
	return DAXFS_RUN_LIB;
}

int main(int argc, char **argv)
{
	const char *lib, *old;
	char *preload, *with = NULL;
	int err;
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--sync") == 0) {
			setenv("DAXFS_RUN_SYNC", "1", 1);
		} else if (strcmp(argv[i], "--debug") == 0) {
			setenv("DAXFS_RUN_DEBUG", "1", 1);
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return CLI_EXIT_OK;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("daxfs-run %s\n", DAXFS_VERSION);
			return CLI_EXIT_OK;
		} else if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else {
			fprintf(stderr, "daxfs-run: unknown option %s\n", argv[i]);
			usage(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "daxfs-run: no command given\n");
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	lib = library();
	old = getenv("LD_PRELOAD");
#ifdef DAXFS_RUN_SANITIZER_RUNTIME
	/* this build's library needs the sanitizer's runtime loaded first, and
	 * without it the program dies at its first call into it */
	if ((!old || !sanitizer_runtime_first(old)) &&
	    asprintf(&with, "%s%s%s", DAXFS_RUN_SANITIZER_RUNTIME, old && *old ? ":" : "",
		     old ? old : "") < 0)
		return CLI_EXIT_FAIL;
	if (with)
		old = with;
#endif
	if (old && *old) {
		if (!(preload = malloc(strlen(lib) + strlen(old) + 2))) {
			free(with);
			return CLI_EXIT_FAIL;
		}
		/* ours first, so that its read and write are the ones called;
		 * but a sanitizer runtime refuses to start unless it is first */
		if (sanitizer_runtime_first(old))
			sprintf(preload, "%s:%s", old, lib);
		else
			sprintf(preload, "%s:%s", lib, old);
	} else {
		preload = (char *)lib;
	}
	setenv("LD_PRELOAD", preload, 1);
	execvp(argv[i], argv + i);
	err = errno;
	if (preload != lib)
		free(preload);
	free(with);
	/* as the shells say it: 127 not found, 126 found but not runnable */
	fprintf(stderr, "daxfs-run: %s: %s\n", argv[i], strerror(err));
	return err == ENOENT ? 127 : 126;
}
