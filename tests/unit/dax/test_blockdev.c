/* test_blockdev.c - a block device (loop device) is served through the bio path only */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daxfs/err.h"
#include "fixture.h"

extern char **environ;

static int run(char *const argv[])
{
	int status;
	pid_t pid;

	if (posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ) != 0)
		return -1;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void loop_detach(void *arg)
{
	char *const argv[] = { "losetup", "-d", arg, NULL };

	if (run(argv) != 0)
		fprintf(stderr, "cannot detach %s\n", (char *)arg);
	free(arg);
}

/* Attaches a loop device over a new file of size bytes; NULL if loop devices
 * are unavailable. Detached after the test. */
static const char *loop_attach(const char *name, uint64_t size, int fill)
{
	const char *file = t_file(name, size, fill);
	char cmd[600], dev[64] = "";
	FILE *p;

	if (!file)
		return NULL;
	snprintf(cmd, sizeof(cmd), "losetup -f --show '%s' 2>/dev/null", file);
	p = popen(cmd, "r");
	if (!p)
		return NULL;
	if (!fgets(dev, sizeof(dev), p))
		dev[0] = '\0';
	if (pclose(p) != 0 || strncmp(dev, "/dev/", 5) != 0)
		return NULL;
	dev[strcspn(dev, "\n")] = '\0';
	char *copy = strdup(dev);
	if (!copy)
		abort();
	t_defer(loop_detach, copy);
	return copy;
}

static struct dax_device *open_loop(const char *name, uint64_t size, int fill)
{
	const char *path = loop_attach(name, size, fill);
	struct dax_device *dev = NULL;

	if (!path)
		return NULL;
	if (dax_device_open(path, 0, &dev) < 0) {
		fprintf(stderr, "open %s: %s\n", path, daxfs_errormsg());
		return NULL;
	}
	t_defer(fixture_put, dev);
	return dev;
}

#define LOOP_OR_SKIP(dev, name, size, fill) \
	struct dax_device *dev = open_loop(name, size, fill); \
	if (!dev) \
		SKIP("loop devices unavailable")

static int test_blockdev_is_not_dax_capable(void)
{
	LOOP_OR_SKIP(dev, "img", 8 * PG, 0);
	CHECK(!dax_device_is_dax(dev));
	CHECK(!dax_device_is_pmem(dev));
	CHECK_EQ(dax_device_persist_mode(dev), DAX_PERSIST_FSYNC);
	CHECK(strstr(dax_device_not_dax_reason(dev), "bio path") != NULL);
	CHECK_EQ(dax_device_size(dev), 8 * PG);
	return T_PASS;
}

static int test_blockdev_dax_ops_eopnotsupp(void)
{
	char buf[8] = { 0 };

	LOOP_OR_SKIP(dev, "img", 8 * PG, 0);
	CHECK_EQ(dax_direct_access(dev, 0, 1, DAX_ACCESS, NULL, NULL), -EOPNOTSUPP);
	CHECK_MSG_HAS("bio path");
	CHECK_EQ(dax_zero_page_range(dev, 0, 1), -EOPNOTSUPP);
	CHECK_EQ(dax_recovery_write(dev, 0, buf, buf, 8), 0);
	return T_PASS;
}

static int test_blockdev_size_keeps_sector_granularity(void)
{
	LOOP_OR_SKIP(dev, "img", 3 * PG + 512, 0);
	CHECK_EQ(dax_device_size(dev), 3 * PG + 512);
	return T_PASS;
}

static int test_blockdev_write_then_read_round_trips(void)
{
	char out[3000], in[3000];

	LOOP_OR_SKIP(dev, "img", 8 * PG, 0);
	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (char)(i * 13);
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_WRITE, 0, 1000, out, sizeof(out)), 0);
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_READ, 0, 1000, in, sizeof(in)), 0);
	CHECK(memcmp(in, out, sizeof(in)) == 0);
	return T_PASS;
}

static int test_blockdev_fua_write_reaches_backing_file(void)
{
	char buf[5] = { 0 };
	int fd;

	LOOP_OR_SKIP(dev, "img", 8 * PG, 0);
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_WRITE, DAX_REQ_FUA, 2 * PG, "fuaok", 5), 0);
	fd = open(t_path("img"), O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK_EQ(pread(fd, buf, 5, 2 * PG), 5);
	close(fd);
	CHECK(memcmp(buf, "fuaok", 5) == 0);
	return T_PASS;
}

static int test_blockdev_write_zeroes_zeroes_range(void)
{
	unsigned char buf[3 * PG];

	LOOP_OR_SKIP(dev, "img", 8 * PG, 0x77);
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_WRITE_ZEROES, 0, PG, NULL, PG), 0);
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_READ, 0, 0, buf, sizeof(buf)), 0);
	CHECK_EQ(buf[PG - 1], 0x77);
	CHECK_EQ(buf[PG], 0);
	CHECK_EQ(buf[2 * PG - 1], 0);
	CHECK_EQ(buf[2 * PG], 0x77);
	return T_PASS;
}

static int test_blockdev_read_of_bad_sector_eio(void)
{
	char buf[512];

	LOOP_OR_SKIP(dev, "img", 8 * PG, 0);
	CHECK_EQ(dax_badblocks_add(dev, 3, 1), 0);
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_READ, 0, 3 * 512, buf, 512), -EIO);
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_WRITE, 0, 3 * 512, buf, 512), 0);
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_READ, 0, 3 * 512, buf, 512), 0);
	return T_PASS;
}

static int test_blockdev_beyond_device_end_einval(void)
{
	char buf[2];

	LOOP_OR_SKIP(dev, "img", 8 * PG, 0);
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_READ, 0, 8 * PG - 1, buf, 2), -EINVAL);
	return T_PASS;
}

static int test_blockdev_lock_second_open_ebusy(void)
{
	struct dax_device *other = NULL;

	LOOP_OR_SKIP(dev, "img", 8 * PG, 0);
	CHECK_EQ(dax_device_open(dax_device_path(dev), 0, &other), 0);
	t_defer(fixture_put, other);
	CHECK_EQ(dax_device_lock(dev), 0);
	CHECK_EQ(dax_device_lock(other), -EBUSY);
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_blockdev_is_not_dax_capable),
	T_CASE(test_blockdev_dax_ops_eopnotsupp),
	T_CASE(test_blockdev_size_keeps_sector_granularity),
	T_CASE(test_blockdev_write_then_read_round_trips),
	T_CASE(test_blockdev_fua_write_reaches_backing_file),
	T_CASE(test_blockdev_write_zeroes_zeroes_range),
	T_CASE(test_blockdev_read_of_bad_sector_eio),
	T_CASE(test_blockdev_beyond_device_end_einval),
	T_CASE(test_blockdev_lock_second_open_ebusy),
};

T_MAIN(cases)
