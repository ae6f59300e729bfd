/* test_persist.c - persist mode selection and the flush/drain interface */
#include <errno.h>
#include <string.h>

#include "daxfs/err.h"
#include "fixture.h"

/* Child: exit with the persist mode of the device at path (10 + errno on
 * failure). libpmem reads PMEM_IS_PMEM_FORCE once at load, which is why the
 * mode is observed in a fresh process. */
static int child_persist_mode(const char *path)
{
	struct dax_device *dev = NULL;
	int ret = dax_device_open(path, 0, &dev);

	if (ret < 0)
		return 10 + (-ret & 0x7f);
	ret = (int)dax_device_persist_mode(dev);
	if (dax_device_is_pmem(dev) != (ret == DAX_PERSIST_PMEM))
		ret = 9;
	dax_device_put(&dev);
	return ret;
}

static int test_persist_mode_pmem_when_forced(void)
{
	const char *env[] = { "PMEM_IS_PMEM_FORCE=1", NULL };
	const char *args[] = { "persist-mode", t_file("pmem", PG, 0), NULL };

	CHECK_EQ(t_reexec(env, args), DAX_PERSIST_PMEM);
	return T_PASS;
}

static int test_persist_mode_msync_without_force(void)
{
	const char *env[] = { "PMEM_IS_PMEM_FORCE", NULL };   /* unset */
	const char *args[] = { "persist-mode", t_file("pmem", PG, 0), NULL };

	CHECK_EQ(t_reexec(env, args), DAX_PERSIST_MSYNC);
	return T_PASS;
}

static int test_persist_mode_msync_when_forced_off(void)
{
	const char *env[] = { "PMEM_IS_PMEM_FORCE=0", NULL };
	const char *args[] = { "persist-mode", t_file("pmem", PG, 0), NULL };

	CHECK_EQ(t_reexec(env, args), DAX_PERSIST_MSYNC);
	return T_PASS;
}

static int test_persist_mode_names(void)
{
	CHECK(strcmp(dax_persist_mode_name(DAX_PERSIST_PMEM), "pmem") == 0);
	CHECK(strcmp(dax_persist_mode_name(DAX_PERSIST_MSYNC), "msync") == 0);
	CHECK(strcmp(dax_persist_mode_name(DAX_PERSIST_FSYNC), "fsync") == 0);
	CHECK(strcmp(dax_persist_mode_name((enum dax_persist_mode)42), "unknown") == 0);
	return T_PASS;
}

static int test_flush_of_unaligned_range_succeeds(void)
{
	struct dax_device *dev = fixture_dev("pmem", 4, 0);
	char *k;

	CHECK(dev);
	CHECK_EQ(dax_direct_access(dev, 0, 4, DAX_ACCESS, (void **)&k, NULL), 4);
	memcpy(k + PG + 100, "data", 4);
	CHECK_EQ(dax_device_flush(dev, PG + 100, 4), 0);
	CHECK_EQ(dax_device_drain(dev), 0);
	CHECK_EQ(dax_device_persist(dev, 3, 2 * PG), 0);
	return T_PASS;
}

static int test_flush_beyond_device_end_einval(void)
{
	struct dax_device *dev = fixture_dev("pmem", 4, 0);

	CHECK(dev);
	CHECK_EQ(dax_device_flush(dev, 4 * PG - 1, 2), -EINVAL);
	CHECK_MSG("beyond device end");
	CHECK_EQ(dax_device_flush(dev, UINT64_MAX, 2), -EINVAL);
	CHECK_EQ(dax_device_flush(NULL, 0, 1), -EINVAL);
	return T_PASS;
}

static int test_persist_counts_one_flush_and_one_drain(void)
{
	struct dax_device *dev = fixture_dev("pmem", 4, 0);
	struct dax_device_stats st;

	CHECK(dev);
	CHECK_EQ(dax_device_persist(dev, 0, PG), 0);
	dax_device_get_stats(dev, &st);
	CHECK_EQ(st.flushes, 1);
	CHECK_EQ(st.drains, 1);
	return T_PASS;
}

static int test_persist_on_dead_device_eio(void)
{
	struct dax_device *dev = fixture_dev("pmem", 4, 0);

	CHECK(dev);
	dax_device_kill(dev);
	CHECK_EQ(dax_device_flush(dev, 0, 1), -EIO);
	CHECK_EQ(dax_device_drain(dev), -EIO);
	CHECK_MSG("dead");
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_persist_mode_pmem_when_forced),
	T_CASE(test_persist_mode_msync_without_force),
	T_CASE(test_persist_mode_msync_when_forced_off),
	T_CASE(test_persist_mode_names),
	T_CASE(test_flush_of_unaligned_range_succeeds),
	T_CASE(test_flush_beyond_device_end_einval),
	T_CASE(test_persist_counts_one_flush_and_one_drain),
	T_CASE(test_persist_on_dead_device_eio),
};

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--child") == 0 && strcmp(argv[2], "persist-mode") == 0)
		return child_persist_mode(argv[3]);
	return T_MAIN(cases);
}
