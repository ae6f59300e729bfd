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

struct op {
	const char *name;
	int (*run)(const char *dir, uint64_t n);
	const char *help;
};

static const char *prog = "daxfs-bench-meta";

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

/* Reads the whole directory and checks it holds exactly f0..f<n-1> (and the
 * dot entries): a readdir that returned early or twice would look fast. */
static int do_readdir(const char *dir, uint64_t n)
{
	DIR *d = opendir(dir);
	uint64_t files = 0, dots = 0;
	struct dirent *de;

	if (!d) {
		fprintf(stderr, "%s: opendir %s: %s\n", prog, dir, strerror(errno));
		return -1;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de)
			break;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			dots++;
		else
			files++;
	}
	if (errno != 0) {
		fprintf(stderr, "%s: readdir %s: %s\n", prog, dir, strerror(errno));
		closedir(d);
		return -1;
	}
	closedir(d);
	if (files != n || dots != 2) {
		fprintf(stderr, "%s: readdir %s: %" PRIu64 " entries and %" PRIu64
			" dot entries, expected %" PRIu64 " and 2\n", prog, dir, files, dots, n);
		return -1;
	}
	return 0;
}

static const struct op ops[] = {
	{ .name = "create",  .run = do_create,  .help = "create N empty files (O_CREAT|O_EXCL)" },
	{ .name = "stat",    .run = do_stat,    .help = "stat the N files" },
	{ .name = "unlink",  .run = do_unlink,  .help = "unlink the N files" },
	{ .name = "readdir", .run = do_readdir, .help = "read DIR, which must hold exactly the N files" },
};

static int usage(FILE *out, int status)
{
	fprintf(out, "usage: %s OP DIR N\n\nOP is one of:\n", prog);
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		fprintf(out, "    %-8s %s\n", ops[i].name, ops[i].help);
	fprintf(out, "\nFiles are named DIR/f0000000 ... Prints \"OP N SECONDS OPS_PER_SEC\".\n"
		"Exit status: 0 done, 1 an operation failed, 2 usage error.\n");
	return status;
}

int main(int argc, char **argv)
{
	const struct op *op = NULL;
	double start, secs;
	uint64_t n;

	if (argc == 2 && strcmp(argv[1], "--help") == 0)
		return usage(stdout, 0);
	if (argc != 4)
		return usage(stderr, 2);
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(argv[1], ops[i].name) == 0)
			op = &ops[i];
	if (!op) {
		fprintf(stderr, "%s: unknown operation '%s'\n", prog, argv[1]);
		return usage(stderr, 2);
	}
	if (parse_u64(argv[3], 1, MAX_FILES, &n) != 0) {
		fprintf(stderr, "%s: invalid count '%s': expected 1 to %llu\n", prog, argv[3],
			MAX_FILES);
		return 2;
	}
	start = now();
	if (op->run(argv[2], n) != 0)
		return 1;
	secs = now() - start;
	printf("%s %" PRIu64 " %.6f %.1f\n", op->name, n, secs, secs > 0 ? (double) n / secs : 0.0);
	return 0;
}
