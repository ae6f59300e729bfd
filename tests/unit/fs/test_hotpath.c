/* test_hotpath.c - a READ or WRITE of a cached file allocates no memory in the filesystem */
#include <stdatomic.h>

#include "fixture.h"

#define MB (1024ull * 1024)

/*
 * Linked with --wrap=malloc,calloc,realloc (meson.build): every allocation
 * the fs, dm and dax libraries make goes through these, and is counted
 * while counting is on.
 */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);

static atomic_bool counting;
static atomic_uint allocations;

void *__wrap_malloc(size_t n)
{
	if (atomic_load(&counting))
		atomic_fetch_add(&allocations, 1);
	return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	if (atomic_load(&counting))
		atomic_fetch_add(&allocations, 1);
	return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	if (atomic_load(&counting))
		atomic_fetch_add(&allocations, 1);
	return __real_realloc(p, n);
}

static void count_from_zero(void)
{
	atomic_store(&allocations, 0);
	atomic_store(&counting, true);
}

static unsigned counted(void)
{
	atomic_store(&counting, false);
	return atomic_load(&allocations);
}

/* A file of 1 MiB, written once so that its blocks and inode are cached. */
static uint64_t warm_file(struct dfs *fs, uint8_t *buf)
{
	uint64_t ino = t_create(fs, DFS_ROOT_INO, "f");

	for (size_t i = 0; i < MB; i++)
		buf[i] = (uint8_t)(i * 3);
	if (!ino || dfs_pwrite(fs, ino, buf, MB, 0, 0) != (ssize_t)MB)
		return 0;
	return ino;
}

static int test_read_allocates_nothing(void)
{
	static uint8_t buf[MB];
	struct dfs **fs = t_newfs(64 * MB, NULL);
	struct dfs_read rd;

	CHECK(fs);
	uint64_t ino = warm_file(*fs, buf);
	CHECK(ino);
	count_from_zero();
	for (int i = 0; i < 100; i++) {
		ssize_t n = dfs_read_begin(*fs, ino, (off_t)(i * 4096) % MB, 64 * 1024, &rd);

		if (n != 64 * 1024) {
			counted();
			CHECK_EQ(n, 64 * 1024);
		}
		dfs_read_end(*fs, &rd);
	}
	CHECK_EQ(counted(), 0);
	return T_PASS;
}

/* An overwrite on a batched mount: the copy, the times, no commit. */
static int test_overwrite_allocates_nothing(void)
{
	static uint8_t buf[MB];
	struct mapped_device *md = t_md_file("pmem", 64 * MB);
	const struct dfs_mount_opts o = { .commit_interval_ms = 60000 };
	struct dfs_write wr;

	CHECK_EQ(dfs_mkfs(md, NULL), 0);
	struct dfs **fs = t_mount_opts(md, &o);
	CHECK(fs);
	uint64_t ino = warm_file(*fs, buf);
	CHECK(ino);
	count_from_zero();
	for (int i = 0; i < 100; i++) {
		ssize_t n = dfs_write_begin(*fs, ino, (off_t)(i * 4096) % MB, 64 * 1024, 0, &wr);

		if (n != 64 * 1024) {
			counted();
			CHECK_EQ(n, 64 * 1024);
		}
		CHECK_EQ(dfs_write_copy(*fs, &wr, buf, (size_t)n), n);
		CHECK_EQ(dfs_write_end(*fs, &wr, (size_t)n), n);
	}
	CHECK_EQ(counted(), 0);
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_read_allocates_nothing),
	T_CASE(test_overwrite_allocates_nothing),
};

T_MAIN(cases)