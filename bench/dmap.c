/* bench/dmap.c - daxfs-bench-dmap: 4 KiB copies through a libdaxfs direct mapping, a page-cache mmap and a plain mapped file */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "daxfs/client.h"

/*
 * usage: daxfs-bench-dmap FILE TMPDIR SIZE_MIB [PASSES]
 *
 * FILE is on a daxfs-fuse mount (created or grown to SIZE). Three mappings of
 * SIZE bytes are timed alike:
 *   direct     daxfs_map(FILE): the pmem pieces themselves
 *   pagecache  mmap(FILE, MAP_SHARED): the kernel's page cache, filled by FUSE
 *   memcpy     mmap of a new, unlinked file in TMPDIR (on /dev/shm: the same
 *              kind of pages as the pmem file): the ceiling
 * For each: 4 KiB memcpy into (write) or out of (read) the mapping, in
 * order (seq) or in a random permutation of the blocks (rand), PASSES passes
 * after untimed passes that fault every page in. The three mappings take
 * turns, ROUNDS times; one line per mapping and access, with the median:
 *   <mapping> <seq|rand> <read|write> <bytes> <passes> <MiB/s>
 */

#define BLOCK 4096u

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void copy_pass(char *map, const uint32_t *order, size_t nblocks, char *buf, int write)
{
	for (size_t i = 0; i < nblocks; i++) {
		char *p = map + (size_t)(order ? order[i] : i) * BLOCK;

		if (write)
			memcpy(p, buf, BLOCK);
		else
			memcpy(buf, p, BLOCK);
		__asm__ __volatile__("" : : "r"(buf), "r"(p) : "memory");
	}
}

#define ROUNDS 5

static const char *const names[3] = { "direct", "pagecache", "memcpy" };

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Runs every access on each of the three mappings back to back, ROUNDS
 * times, so that a busy machine disturbs the three figures of a row alike;
 * prints the median of each. */
static void measure(char *const maps[3], size_t size, const uint32_t *perm, unsigned passes)
{
	static char buf[BLOCK] __attribute__((aligned(4096)));
	double mibs[2][2][3][ROUNDS];
	size_t nblocks = size / BLOCK;

	memset(buf, 0x5a, sizeof(buf));
	for (int m = 0; m < 3; m++) {       /* fault every page in, both ways */
		copy_pass(maps[m], NULL, nblocks, buf, 0);
		copy_pass(maps[m], NULL, nblocks, buf, 1);
	}
	for (int r = 0; r < ROUNDS; r++)
		for (int rnd = 0; rnd < 2; rnd++)
			for (int write = 0; write < 2; write++)
				for (int m = 0; m < 3; m++) {
					double t0 = now();

					for (unsigned p = 0; p < passes; p++)
						copy_pass(maps[m], rnd ? perm : NULL, nblocks, buf, write);
					mibs[rnd][write][m][r] = (double)size * passes /
								 (1024.0 * 1024.0) / (now() - t0);
				}
	for (int m = 0; m < 3; m++)
		for (int rnd = 0; rnd < 2; rnd++)
			for (int write = 0; write < 2; write++) {
				qsort(mibs[rnd][write][m], ROUNDS, sizeof(double), cmp_double);
				printf("%s %s %s %zu %u %.1f\n", names[m], rnd ? "rand" : "seq",
				       write ? "write" : "read", size, passes,
				       mibs[rnd][write][m][ROUNDS / 2]);
			}
}

static int die(const char *what)
{
	fprintf(stderr, "daxfs-bench-dmap: %s: %s\n", what, strerror(errno));
	return 1;
}

int main(int argc, char **argv)
{
	size_t size;
	unsigned passes = argc > 4 ? (unsigned)atoi(argv[4]) : 8;
	uint32_t *perm;
	char tmpl[4096];
	void *direct;
	char *pc, *plain;
	int fd, tfd, err;

	if (argc < 4 || argc > 5 || atoi(argv[3]) <= 0 || passes == 0) {
		fprintf(stderr, "usage: daxfs-bench-dmap FILE TMPDIR SIZE_MIB [PASSES]\n");
		return 2;
	}
	size = (size_t)atoi(argv[3]) << 20;
	if (!(perm = malloc(size / BLOCK * sizeof(*perm))))
		return die("malloc");
	/* A fixed seed: every run copies in the same order. */
	srand(1);
	for (size_t i = 0; i < size / BLOCK; i++)
		perm[i] = (uint32_t)i;
	for (size_t i = size / BLOCK - 1; i > 0; i--) {
		size_t j = (size_t)rand() % (i + 1);
		uint32_t t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}

	if ((fd = open(argv[1], O_RDWR | O_CREAT, 0644)) < 0)
		return die(argv[1]);
	if ((err = daxfs_map(fd, 0, size, PROT_READ | PROT_WRITE, DAXFS_MAP_ALLOC, &direct)) < 0) {
		fprintf(stderr, "daxfs-bench-dmap: %s\n", daxfs_errormsg());
		return 1;
	}
	pc = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (pc == MAP_FAILED)
		return die("mmap of FILE");
	snprintf(tmpl, sizeof(tmpl), "%s/daxfs-bench-dmap.XXXXXX", argv[2]);
	if ((tfd = mkstemp(tmpl)) < 0)
		return die(tmpl);
	unlink(tmpl);
	if (ftruncate(tfd, (off_t)size) < 0)
		return die("ftruncate");
	plain = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, tfd, 0);
	if (plain == MAP_FAILED)
		return die("mmap of the TMPDIR file");

	measure((char *const[3]){ direct, pc, plain }, size, perm, passes);

	munmap(plain, size);
	close(tfd);
	munmap(pc, size);
	daxfs_persist(direct, size);
	daxfs_unmap(direct, size);
	close(fd);
	free(perm);
	return 0;
}
