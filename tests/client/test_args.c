/* test_args.c - libdaxfs refuses bad arguments with -errno and a message, without a daemon */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "daxfs/client.h"

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: CHECK(%s) failed (message: \"%s\")\n", __FILE__, __LINE__, \
			#cond, daxfs_errormsg()); \
		return 1; \
	} \
} while (0)

static char path[64];

/* A regular file outside any daxfs-fuse mount, open O_RDWR. */
static int plain_file(void)
{
	int fd;

	snprintf(path, sizeof(path), "/tmp/daxfs-client-test.XXXXXX");
	fd = mkstemp(path);
	if (fd >= 0) {
		unlink(path);
		if (ftruncate(fd, 65536) < 0) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

static int test_map_unaligned_offset_is_einval(void)
{
	int fd = plain_file();
	void *a;

	CHECK(fd >= 0);
	CHECK(daxfs_map(fd, 100, 4096, PROT_READ, 0, &a) == -EINVAL);
	CHECK(strstr(daxfs_errormsg(), "page-aligned"));
	close(fd);
	return 0;
}

static int test_map_zero_length_is_einval(void)
{
	int fd = plain_file();
	void *a;

	CHECK(fd >= 0);
	CHECK(daxfs_map(fd, 0, 0, PROT_READ, 0, &a) == -EINVAL);
	close(fd);
	return 0;
}

static int test_map_bad_prot_is_einval(void)
{
	int fd = plain_file();
	void *a;

	CHECK(fd >= 0);
	CHECK(daxfs_map(fd, 0, 4096, PROT_EXEC, 0, &a) == -EINVAL);
	CHECK(strstr(daxfs_errormsg(), "prot"));
	close(fd);
	return 0;
}

static int test_map_unknown_flag_is_einval(void)
{
	int fd = plain_file();
	void *a;

	CHECK(fd >= 0);
	CHECK(daxfs_map(fd, 0, 4096, PROT_READ, 0x80, &a) == -EINVAL);
	CHECK(strstr(daxfs_errormsg(), "flags"));
	close(fd);
	return 0;
}

static int test_map_null_addr_is_einval(void)
{
	int fd = plain_file();

	CHECK(fd >= 0);
	CHECK(daxfs_map(fd, 0, 4096, PROT_READ, 0, NULL) == -EINVAL);
	close(fd);
	return 0;
}

static int test_map_bad_fd_is_ebadf(void)
{
	void *a;

	CHECK(daxfs_map(-1, 0, 4096, PROT_READ, 0, &a) == -EBADF);
	return 0;
}

static int test_map_directory_is_einval(void)
{
	int fd = open("/tmp", O_RDONLY | O_DIRECTORY);
	void *a;

	CHECK(fd >= 0);
	CHECK(daxfs_map(fd, 0, 4096, PROT_READ, 0, &a) == -EINVAL);
	CHECK(strstr(daxfs_errormsg(), "not a regular file"));
	close(fd);
	return 0;
}

static int test_map_writable_on_readonly_fd_is_eacces(void)
{
	int fd = plain_file(), ro;
	char proc[64];
	void *a;

	CHECK(fd >= 0);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);   /* the file is unlinked */
	ro = open(proc, O_RDONLY);
	CHECK(ro >= 0);
	CHECK(daxfs_map(ro, 0, 4096, PROT_READ | PROT_WRITE, 0, &a) == -EACCES);
	CHECK(strstr(daxfs_errormsg(), "O_RDWR"));
	close(ro);
	close(fd);
	return 0;
}

static int test_map_file_outside_daxfs_is_enotty(void)
{
	int fd = plain_file();
	void *a;

	CHECK(fd >= 0);
	CHECK(daxfs_map(fd, 0, 4096, PROT_READ, 0, &a) == -ENOTTY);
	CHECK(strstr(daxfs_errormsg(), "daxfs-fuse"));
	close(fd);
	return 0;
}

static int test_persist_outside_any_mapping_is_einval(void)
{
	static char buf[4096];

	CHECK(daxfs_persist(buf, sizeof(buf)) == -EINVAL);
	CHECK(strstr(daxfs_errormsg(), "not inside one mapping"));
	return 0;
}

static int test_unmap_of_unknown_address_is_einval(void)
{
	static char buf[4096];

	CHECK(daxfs_unmap(buf, sizeof(buf)) == -EINVAL);
	CHECK(strstr(daxfs_errormsg(), "not a mapping made by daxfs_map"));
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(void);
} cases[] = {
#define T(fn) { #fn, fn }
	T(test_map_unaligned_offset_is_einval),
	T(test_map_zero_length_is_einval),
	T(test_map_bad_prot_is_einval),
	T(test_map_unknown_flag_is_einval),
	T(test_map_null_addr_is_einval),
	T(test_map_bad_fd_is_ebadf),
	T(test_map_directory_is_einval),
	T(test_map_writable_on_readonly_fd_is_eacces),
	T(test_map_file_outside_daxfs_is_enotty),
	T(test_persist_outside_any_mapping_is_einval),
	T(test_unmap_of_unknown_address_is_einval),
#undef T
};

int main(void)
{
	int failed = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = cases[i].fn();

		printf("%s %s\n", r ? "FAIL" : "PASS", cases[i].name);
		failed += r != 0;
	}
	printf("%zu passed, %d failed\n", sizeof(cases) / sizeof(cases[0]) - (size_t)failed, failed);
	return failed ? 1 : 0;
}
