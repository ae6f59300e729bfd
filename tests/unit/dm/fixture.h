/* fixture.h - the dm unit tests' fixtures: patterned backing files and mapped devices */
#ifndef DAXFS_TEST_DM_FIXTURE_H
#define DAXFS_TEST_DM_FIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daxfs/dm.h"
#include "daxfs/err.h"
#include "harness.h"
#include "md.h"

/*
 * The pattern of a backing file: every 8-byte word holds the file's tag in
 * the top 16 bits and its own byte offset below, so any byte read back tells
 * which device and which offset it came from.
 */
static inline uint64_t t_word(unsigned tag, uint64_t off)
{
	return ((uint64_t)tag << 48) | (off & ~7ull);
}

static inline uint8_t t_byte(unsigned tag, uint64_t off)
{
	uint64_t w = t_word(tag, off);

	return (uint8_t)(w >> (8 * (off & 7)));
}

/* Creates a file of pages pages filled with the pattern of tag (tag 0: all
 * zeroes); returns its path, NULL on error. */
static inline const char *t_pmem(const char *name, uint64_t pages, unsigned tag)
{
	const char *path = t_path(name);
	uint64_t size = pages * DAX_PAGE_SIZE;
	uint64_t buf[512];
	int fd = open(path, O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0600);

	if (fd < 0 || ftruncate(fd, (off_t)size)) {
		perror(path);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	for (uint64_t off = 0; tag && off < size; off += sizeof(buf)) {
		for (unsigned i = 0; i < 512; i++)
			buf[i] = t_word(tag, off + 8 * i);
		if (pwrite(fd, buf, sizeof(buf), (off_t)off) != (ssize_t)sizeof(buf)) {
			perror(path);
			close(fd);
			return NULL;
		}
	}
	close(fd);
	return path;
}

static inline void t_free_result(void *arg)
{
	dm_ioctl_result_free(arg);
	free(arg);
}

/* A result of the command layer, freed after the test. */
static inline struct dm_ioctl_result *t_result(void)
{
	struct dm_ioctl_result *res = calloc(1, sizeof(*res));

	if (!res)
		abort();
	t_defer(t_free_result, res);
	return res;
}

/* Two patterned backing files of pages pages each: A (tag 1) and B (tag 2). */
static const char *A __attribute__((unused)), *B __attribute__((unused));

static inline void t_devs(uint64_t pages)
{
	A = t_pmem("A", pages, 1);
	B = t_pmem("B", pages, 2);
	if (!A || !B)
		abort();
}

/* A mapped device with text live, or abort. */
static inline struct mapped_device *t_live(const char *text)
{
	struct mapped_device *md = t_md();

	if (t_make_live(md, text)) {
		fprintf(stderr, "live: %s\n", daxfs_errormsg());
		abort();
	}
	return md;
}

/* Two 64-page files, A (tag 1) and B (tag 2), for tables of two devices. */
static inline void t_pmem_pair(const char **a, const char **b)
{
	*a = t_pmem("A", 64, 1);
	*b = t_pmem("B", 64, 2);
	if (!*a || !*b)
		abort();
}

#endif
