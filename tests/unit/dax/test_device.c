/* test_device.c - opening by path, bad paths, refcounting, lock, read-only */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daxfs/err.h"
#include "fixture.h"

/* Opens path and expects err with path and what in the message. */
static int open_fails(const char *path, int err, const char *what)
{
	struct dax_device *dev = (struct dax_device *)1;

	CHECK_EQ(dax_device_open(path, 0, &dev), err);
	CHECK(dev == NULL);
	CHECK_MSG_HAS(path);
	CHECK_MSG_HAS(what);
	return T_PASS;
}

static int test_open_missing_file_enoent(void)
{
	return open_fails(t_path("nope"), -ENOENT, "No such file");
}

static int test_open_directory_eisdir(void)
{
	return open_fails(t_tmpdir(), -EISDIR, "directory");
}

static int test_open_empty_file_einval(void)
{
	return open_fails(t_file("empty", 0, 0), -EINVAL, "empty file");
}

static int test_open_file_shorter_than_page_einval(void)
{
	return open_fails(t_file("short", 4095, 1), -EINVAL, "too small (4095 bytes)");
}

static int test_open_path_through_a_file_enotdir(void)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/below", t_file("plain", PG, 0));
	return open_fails(path, -ENOTDIR, "cannot open");
}

static int test_open_fifo_einval(void)
{
	const char *path = t_path("fifo");

	CHECK_EQ(mkfifo(path, 0600), 0);
	return open_fails(path, -EINVAL, "not a regular file, block device or device-dax");
}

static int test_open_non_dax_char_device_fails(void)
{
	struct dax_device *dev = NULL;

	/* the reason, not libpmem's empty message after a colon */
	CHECK_EQ(dax_device_open("/dev/null", 0, &dev), -ENODEV);
	CHECK(dev == NULL);
	CHECK_MSG("/dev/null: a character device that is not device-dax (1:3 is not in "
		  "/sys/class/dax): a member is a pmem file or a /dev/daxX.Y");
	return T_PASS;
}

static int test_open_bad_arguments_einval(void)
{
	struct dax_device *dev = NULL;

	CHECK_EQ(dax_device_open(NULL, 0, &dev), -EINVAL);
	CHECK_EQ(dax_device_open("", 0, &dev), -EINVAL);
	CHECK_EQ(dax_device_open(t_file("f", PG, 0), 0x100, &dev), -EINVAL);
	CHECK_MSG_HAS("unknown open flags");
	CHECK_EQ(dax_device_open("x", 0, NULL), -EINVAL);
	return T_PASS;
}

/* Child of test_open_unreadable_path_eacces: open as an unprivileged user. */
static int child_open_as_nobody(const char *path)
{
	struct dax_device *dev = NULL;
	int ret;

	if (setgid(65534) < 0 || setuid(65534) < 0)
		return 100;
	ret = dax_device_open(path, 0, &dev);
	if (ret < 0 && !strstr(daxfs_errormsg(), path))
		return 101;
	dax_device_put(&dev);
	return -ret;
}

static int test_open_unreadable_path_eacces(void)
{
	const char *path = t_file("secret", PG, 0);
	struct dax_device *dev = NULL;

	CHECK(path);
	CHECK_EQ(chmod(path, 0), 0);
	if (geteuid() == 0) {
		const char *args[] = { "open-as-nobody", path, NULL };

		/* the temporary directory is 0700, so nobody cannot even reach it */
		CHECK_EQ(t_reexec(NULL, args), EACCES);
		return T_PASS;
	}
	CHECK_EQ(dax_device_open(path, 0, &dev), -EACCES);
	CHECK_MSG_HAS(path);
	return T_PASS;
}

static int test_open_file_is_dax_capable(void)
{
	struct dax_device *dev = fixture_dev("pmem", 4, 0);

	CHECK(dev);
	CHECK(dax_device_is_dax(dev));
	CHECK(dax_device_not_dax_reason(dev) == NULL);
	CHECK_EQ(dax_device_size(dev), 4 * PG);
	CHECK(strstr(dax_device_path(dev), "/pmem") != NULL);
	return T_PASS;
}

static int test_open_unaligned_size_rounds_down_to_pages(void)
{
	const char *path = t_file("odd", 3 * PG + 100, 0);
	struct dax_device *dev = NULL;
	char buf[8];

	CHECK_EQ(dax_device_open(path, 0, &dev), 0);
	t_defer(fixture_put, dev);
	CHECK_EQ(dax_device_size(dev), 3 * PG);
	CHECK_EQ(dax_direct_access(dev, 0, 100, DAX_ACCESS, NULL, NULL), 3);
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_READ, 0, 3 * PG, buf, 8), -EINVAL);
	return T_PASS;
}

static int test_same_file_matches_stat_of_path(void)
{
	struct dax_device *dev = fixture_dev("pmem", 1, 0);
	const char *other = t_file("other", PG, 0);
	struct stat st;

	CHECK(dev);
	CHECK_EQ(stat(dax_device_path(dev), &st), 0);
	CHECK(dax_device_same_file(dev, st.st_dev, st.st_ino));
	CHECK_EQ(stat(other, &st), 0);
	CHECK(!dax_device_same_file(dev, st.st_dev, st.st_ino));
	return T_PASS;
}

static int test_refcount_get_keeps_device_after_first_put(void)
{
	const char *path = t_file("pmem", 2 * PG, 0x44);
	struct dax_device *dev = NULL, *ref;
	unsigned char *k;

	CHECK_EQ(dax_device_open(path, 0, &dev), 0);
	ref = dax_device_get(dev);
	CHECK(ref == dev);
	dax_device_put(&dev);
	CHECK(dev == NULL);
	/* still mapped: under ASan a premature free would be reported here */
	CHECK_EQ(dax_direct_access(ref, 1, 1, DAX_ACCESS, (void **)&k, NULL), 1);
	CHECK_EQ(k[0], 0x44);
	dax_device_put(&ref);
	CHECK(ref == NULL);
	dax_device_put(&ref);   /* putting NULL is a no-op */
	dax_device_put(NULL);
	return T_PASS;
}

static int test_put_last_closes_only_an_unshared_device(void)
{
	const char *path = t_file("pmem", 2 * PG, 0x44);
	struct dax_device *dev = NULL, *ref;

	CHECK_EQ(dax_device_open(path, 0, &dev), 0);
	ref = dax_device_get(dev);
	CHECK(!dax_device_put_last(&dev));
	CHECK(dev == ref);
	dax_device_put(&ref);
	CHECK(dax_device_put_last(&dev));
	CHECK(dev == NULL);
	CHECK(!dax_device_put_last(&dev));
	return T_PASS;
}

static int test_lock_second_open_ebusy(void)
{
	const char *path = t_file("pmem", PG, 0);
	struct dax_device *a = NULL, *b = NULL;

	CHECK_EQ(dax_device_open(path, 0, &a), 0);
	t_defer(fixture_put, a);
	CHECK_EQ(dax_device_open(path, 0, &b), 0);
	t_defer(fixture_put, b);
	CHECK_EQ(dax_device_lock(a), 0);
	CHECK_EQ(dax_device_lock(b), -EBUSY);
	CHECK_MSG_HAS(path);
	CHECK_MSG_HAS("in use by another daxfs mount");
	return T_PASS;
}

static int test_lock_twice_on_same_device_succeeds(void)
{
	struct dax_device *dev = fixture_dev("pmem", 1, 0);

	CHECK(dev);
	CHECK_EQ(dax_device_lock(dev), 0);
	CHECK_EQ(dax_device_lock(dev), 0);
	return T_PASS;
}

static int test_lock_released_by_last_put(void)
{
	const char *path = t_file("pmem", PG, 0);
	struct dax_device *a = NULL, *b = NULL, *extra;

	CHECK_EQ(dax_device_open(path, 0, &a), 0);
	CHECK_EQ(dax_device_lock(a), 0);
	extra = dax_device_get(a);
	CHECK_EQ(dax_device_open(path, 0, &b), 0);
	t_defer(fixture_put, b);
	dax_device_put(&a);
	CHECK_EQ(dax_device_lock(b), -EBUSY);   /* extra still holds it */
	dax_device_put(&extra);
	CHECK_EQ(dax_device_lock(b), 0);
	return T_PASS;
}

static int test_kill_makes_device_dead_for_all_paths(void)
{
	struct dax_device *dev = fixture_dev("pmem", 1, 0);

	CHECK(dev);
	dax_device_kill(dev);
	CHECK_EQ(dax_direct_access(dev, 0, 1, DAX_ACCESS, NULL, NULL), -ENXIO);
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_WRITE_ZEROES, 0, 0, NULL, 1), -EIO);
	CHECK_EQ(dax_device_persist(dev, 0, 1), -EIO);
	return T_PASS;
}

static int test_rdonly_device_reads_but_refuses_writes(void)
{
	const char *path = t_file("pmem", 2 * PG, 0x66);
	struct dax_device *dev = NULL;
	unsigned char *k, buf[4];

	CHECK_EQ(dax_device_open(path, DAX_OPEN_RDONLY, &dev), 0);
	t_defer(fixture_put, dev);
	CHECK(dax_device_is_dax(dev));
	CHECK_EQ(dax_direct_access(dev, 1, 1, DAX_ACCESS, (void **)&k, NULL), 1);
	CHECK_EQ(k[7], 0x66);
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_READ, 0, 0, buf, 4), 0);
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_WRITE, 0, 0, buf, 4), -EROFS);
	CHECK_MSG_HAS("read-only");
	CHECK_EQ(dax_zero_page_range(dev, 0, 1), -EROFS);
	CHECK_EQ(dax_recovery_write(dev, 1, k, buf, 4), 0);
	return T_PASS;
}

static int test_rdonly_open_of_readonly_file_succeeds(void)
{
	const char *path = t_file("ro", PG, 0);
	struct dax_device *dev = NULL;

	CHECK_EQ(chmod(path, 0400), 0);
	CHECK_EQ(dax_device_open(path, DAX_OPEN_RDONLY, &dev), 0);
	dax_device_put(&dev);
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_open_missing_file_enoent),
	T_CASE(test_open_directory_eisdir),
	T_CASE(test_open_empty_file_einval),
	T_CASE(test_open_file_shorter_than_page_einval),
	T_CASE(test_open_path_through_a_file_enotdir),
	T_CASE(test_open_fifo_einval),
	T_CASE(test_open_non_dax_char_device_fails),
	T_CASE(test_open_bad_arguments_einval),
	T_CASE(test_open_unreadable_path_eacces),
	T_CASE(test_open_file_is_dax_capable),
	T_CASE(test_open_unaligned_size_rounds_down_to_pages),
	T_CASE(test_same_file_matches_stat_of_path),
	T_CASE(test_refcount_get_keeps_device_after_first_put),
	T_CASE(test_put_last_closes_only_an_unshared_device),
	T_CASE(test_lock_second_open_ebusy),
	T_CASE(test_lock_twice_on_same_device_succeeds),
	T_CASE(test_lock_released_by_last_put),
	T_CASE(test_kill_makes_device_dead_for_all_paths),
	T_CASE(test_rdonly_device_reads_but_refuses_writes),
	T_CASE(test_rdonly_open_of_readonly_file_succeeds),
};

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--child") == 0 && strcmp(argv[2], "open-as-nobody") == 0)
		return child_open_as_nobody(argv[3]);
	return T_RUN(cases);
}
