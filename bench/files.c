/* bench/files.c - the command line daxfs-bench-meta and daxfs-bench-cache share: OP DIR N [SIZE] */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "files.h"

static int usage(const struct bench_helper *h, FILE *out, int status)
{
	int width = 0;

	for (size_t i = 0; i < h->nops; i++)
		if ((int)strlen(h->ops[i].name) > width)
			width = (int)strlen(h->ops[i].name);
	fprintf(out, "usage: %s OP DIR N%s\n\nOP is one of:\n", h->prog, h->max_size ? " SIZE" : "");
	for (size_t i = 0; i < h->nops; i++)
		fprintf(out, "    %-*s %s\n", width + 1, h->ops[i].name, h->ops[i].help);
	fprintf(out, "\nFiles are named DIR/f0000000 ... Prints \"OP N SECONDS OPS_PER_SEC\".\n"
		"Exit status: 0 done, 1 an operation failed, 2 usage error.\n");
	return status;
}

int bench_main(const struct bench_helper *h, int argc, char **argv)
{
	const struct bench_op *op = NULL;
	uint64_t n, size = 0;
	char *buf = NULL;
	double start, secs;
	int ret;

	if (argc == 2 && strcmp(argv[1], "--help") == 0)
		return usage(h, stdout, 0);
	if (argc != (h->max_size ? 5 : 4))
		return usage(h, stderr, 2);
	for (size_t i = 0; i < h->nops; i++)
		if (strcmp(argv[1], h->ops[i].name) == 0)
			op = &h->ops[i];
	if (!op) {
		fprintf(stderr, "%s: unknown operation '%s'\n", h->prog, argv[1]);
		return usage(h, stderr, 2);
	}
	if (parse_u64(argv[3], 1, MAX_FILES, &n) != 0) {
		fprintf(stderr, "%s: invalid count '%s': expected 1 to %llu\n", h->prog, argv[3],
			MAX_FILES);
		return 2;
	}
	if (h->max_size) {
		if (parse_u64(argv[4], 1, h->max_size, &size) != 0) {
			fprintf(stderr, "%s: invalid size '%s': expected 1 to %" PRIu64 " bytes\n",
				h->prog, argv[4], h->max_size);
			return 2;
		}
		buf = malloc(size);
		if (!buf) {
			fprintf(stderr, "%s: out of memory\n", h->prog);
			return 1;
		}
	}
	start = now();
	ret = h->max_size ? op->run_sized(argv[2], n, size, buf) : op->run(argv[2], n);
	secs = now() - start;
	free(buf);
	if (ret != 0)
		return 1;
	printf("%s %" PRIu64 " %.6f %.1f\n", op->name, n, secs, secs > 0 ? (double) n / secs : 0.0);
	return 0;
}

int bench_readdir(const char *prog, const char *op, const char *dir, uint64_t n,
		  int (*each)(int dirfd, const char *name))
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
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
			dots++;
			continue;
		}
		if (each && each(dirfd(d), de->d_name) != 0) {
			closedir(d);
			return -1;
		}
		files++;
	}
	if (errno != 0) {
		fprintf(stderr, "%s: readdir %s: %s\n", prog, dir, strerror(errno));
		closedir(d);
		return -1;
	}
	closedir(d);
	if (files != n || dots != 2) {
		fprintf(stderr, "%s: %s %s: %" PRIu64 " entries and %" PRIu64
			" dot entries, expected %" PRIu64 " and 2\n", prog, op, dir, files, dots, n);
		return -1;
	}
	return 0;
}
