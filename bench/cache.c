/* bench/cache.c - daxfs-bench-cache: times the file accesses bench/caching.sh compares the daemon's caching options on */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "files.h"

/*
 * The files are named as files.h says, as daxfs-bench-meta names them. Each
 * command prints one line
 *	<op> <count> <seconds> <ops per second>
 * and exits 0, or prints why it failed and exits 1 (2 for usage errors).
 */

#define MAX_SIZE (64ULL << 20)
#define PAGE 4096

static const char prog[] = "daxfs-bench-cache";

static int fail(const char *what, const char *path)
{
	fprintf(stderr, "%s: %s %s: %s\n", prog, what, path, strerror(errno));
	return -1;
}

/* Creates the N files with SIZE bytes each (not zero: a hole reads without
 * touching the data path). */
static int do_fill(const char *dir, uint64_t n, uint64_t size, char *buf)
{
	char path[PATH_MAX];

	memset(buf, 'd', size);
	for (uint64_t i = 0; i < n; i++) {
		int fd;

		name_of(path, sizeof(path), dir, i);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0)
			return fail("create", path);
		if (write(fd, buf, size) != (ssize_t) size) {
			close(fd);
			return fail("write", path);
		}
		if (close(fd) != 0)
			return fail("close", path);
	}
	return 0;
}

/* open, read SIZE bytes (the whole file), close. */
static int do_read(const char *dir, uint64_t n, uint64_t size, char *buf)
{
	char path[PATH_MAX];

	for (uint64_t i = 0; i < n; i++) {
		uint64_t got = 0;
		ssize_t r = 1;
		int fd;

		name_of(path, sizeof(path), dir, i);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return fail("open", path);
		while (got < size && (r = read(fd, buf + got, size - got)) > 0)
			got += (uint64_t) r;
		close(fd);
		if (r < 0)
			return fail("read", path);
		if (got != size) {
			fprintf(stderr, "%s: read %s: %" PRIu64 " bytes, expected %" PRIu64 "\n",
				prog, path, got, size);
			return -1;
		}
	}
	return 0;
}

/* open, mmap the whole file, read one byte of every page, munmap, close: the
 * first touch of each page is a page fault. */
static int do_mmap(const char *dir, uint64_t n, uint64_t size, char *buf)
{
	char path[PATH_MAX];
	volatile unsigned sum = 0;

	(void) buf;
	for (uint64_t i = 0; i < n; i++) {
		const unsigned char *p;
		int fd;

		name_of(path, sizeof(path), dir, i);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return fail("open", path);
		p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED) {
			close(fd);
			return fail("mmap", path);
		}
		for (uint64_t off = 0; off < size; off += PAGE)
			sum += p[off];
		munmap((void *) p, size);
		close(fd);
	}
	(void) sum;	/* the reads are the point: volatile keeps them */
	return 0;
}

static int lstat_one(int dirfd, const char *name)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return fail("lstat", name);
	return 0;
}

/* ls -l: readdir DIR and lstat each entry, checking exactly the N files were
 * seen. */
static int do_lsl(const char *dir, uint64_t n, uint64_t size, char *buf)
{
	(void) size;
	(void) buf;
	return bench_readdir(prog, "lsl", dir, n, lstat_one);
}

static const struct bench_op ops[] = {
	{ .name = "fill", .run_sized = do_fill, .help = "create the N files with SIZE bytes each" },
	{ .name = "read", .run_sized = do_read, .help = "open, read SIZE bytes, close each file" },
	{ .name = "mmap", .run_sized = do_mmap,
	  .help = "open, mmap SIZE bytes, read a byte per page, close" },
	{ .name = "lsl", .run_sized = do_lsl,
	  .help = "readdir DIR (exactly the N files) and lstat each (SIZE unused)" },
};

int main(int argc, char **argv)
{
	static const struct bench_helper h = {
		.prog = prog, .ops = ops, .nops = sizeof(ops) / sizeof(ops[0]),
		.max_size = MAX_SIZE,
	};

	return bench_main(&h, argc, argv);
}
