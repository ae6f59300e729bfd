/* bench/files.h - what daxfs-bench-meta and daxfs-bench-cache share: the file names, the clock, the numbers */
#ifndef DAXFS_BENCH_FILES_H
#define DAXFS_BENCH_FILES_H

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/*
 * The files are DIR/f0000000 ... DIR/f<N-1>: fixed-width names, so every
 * filesystem compares the same name lengths, a readdir can check that it saw
 * exactly the files it should, and both helpers work on the same directories.
 */
#define NAME_FMT "f%07" PRIu64
#define MAX_FILES 10000000ULL	/* fits NAME_FMT's seven digits */

static inline void name_of(char *buf, size_t size, const char *dir, uint64_t i)
{
	snprintf(buf, size, "%s/" NAME_FMT, dir, i);
}

static inline double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* A decimal number in [min, max] (no sign, no suffix) into *out; -1 if not. */
static inline int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* One operation of a helper on the files DIR/f0000000 ... DIR/f<N-1>: run, or
 * run_sized for a helper that takes SIZE (buf holds SIZE bytes). 0 when
 * done, -1 (having said why) otherwise. */
struct bench_op {
	const char *name;
	int (*run)(const char *dir, uint64_t n);
	int (*run_sized)(const char *dir, uint64_t n, uint64_t size, char *buf);
	const char *help;
};

struct bench_helper {
	const char *prog;
	const struct bench_op *ops;
	size_t nops;
	uint64_t max_size;      /* 0: no SIZE argument */
};

/* Reads dir whole and checks it holds exactly the n files and the two dot
 * entries: a readdir that returned early or twice would look fast. each, if
 * not NULL, is called on every file and fails the walk with -1 (having said
 * why). 0, or -1 having said why ("PROG: OP DIR: ..."). */
int bench_readdir(const char *prog, const char *op, const char *dir, uint64_t n,
		  int (*each)(int dirfd, const char *name));

/* main of a helper: "OP DIR N [SIZE]", --help; times the op and prints
 * "OP N SECONDS OPS_PER_SEC". Exit status 0, 1 (the op failed), 2 (usage). */
int bench_main(const struct bench_helper *h, int argc, char **argv);

#endif
