/* bench/meta.c - daxfs-bench-meta: times create, stat, unlink and readdir of many files in one directory */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "files.h"

/*
 * The files are named as files.h says. Each command prints one line
 *	<op> <count> <seconds> <ops per second>
 * and exits 0, or prints why it failed and exits 1 (2 for usage errors).
 */

static const char prog[] = "daxfs-bench-meta";

static int fail(const char *what, const char *dir, uint64_t i)
{
	int err = errno;

	fprintf(stderr, "%s: %s %s/" NAME_FMT ": %s\n", prog, what, dir, i, strerror(err));
	return -1;
}

static int do_create(const char *dir, uint64_t n)
{
	char path[PATH_MAX];

	for (uint64_t i = 0; i < n; i++) {
		int fd;

		name_of(path, sizeof(path), dir, i);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0)
			return fail("create", dir, i);
		if (close(fd) != 0)
			return fail("close", dir, i);
	}
	return 0;
}

static int do_stat(const char *dir, uint64_t n)
{
	char path[PATH_MAX];
	struct stat st;

	for (uint64_t i = 0; i < n; i++) {
		name_of(path, sizeof(path), dir, i);
		if (stat(path, &st) != 0)
			return fail("stat", dir, i);
		if (!S_ISREG(st.st_mode)) {
			fprintf(stderr, "%s: stat %s: not a regular file\n", prog, path);
			return -1;
		}
	}
	return 0;
}

static int do_unlink(const char *dir, uint64_t n)
{
	char path[PATH_MAX];

	for (uint64_t i = 0; i < n; i++) {
		name_of(path, sizeof(path), dir, i);
		if (unlink(path) != 0)
			return fail("unlink", dir, i);
	}
	return 0;
}

static int do_readdir(const char *dir, uint64_t n)
{
	return bench_readdir(prog, "readdir", dir, n, NULL);
}

static const struct bench_op ops[] = {
	{ .name = "create",  .run = do_create,  .help = "create N empty files (O_CREAT|O_EXCL)" },
	{ .name = "stat",    .run = do_stat,    .help = "stat the N files" },
	{ .name = "unlink",  .run = do_unlink,  .help = "unlink the N files" },
	{ .name = "readdir", .run = do_readdir, .help = "read DIR, which must hold exactly the N files" },
};

int main(int argc, char **argv)
{
	static const struct bench_helper h = {
		.prog = prog, .ops = ops, .nops = sizeof(ops) / sizeof(ops[0]),
	};

	return bench_main(&h, argc, argv);
}
