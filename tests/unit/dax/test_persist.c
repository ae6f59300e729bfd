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
	const char *args[] = { "persist-mode", t_disk_file("pmem", PG), NULL };

	if (!args[1])
		SKIP("no writable directory outside tmpfs");
	CHECK_EQ(t_reexec(env, args), DAX_PERSIST_MSYNC);
	return T_PASS;
}

static int test_persist_mode_msync_when_forced_off(void)
{
	const char *env[] = { "PMEM_IS_PMEM_FORCE=0", NULL };
	const char *args[] = { "persist-mode", t_disk_file("pmem", PG), NULL };

	if (!args[1])
		SKIP("no writable directory outside tmpfs");
	CHECK_EQ(t_reexec(env, args), DAX_PERSIST_MSYNC);
	return T_PASS;
}

/* A file on tmpfs: nothing to write back, so no msync either. */
static int test_persist_mode_memory_on_tmpfs(void)
{
	const char *env[] = { "PMEM_IS_PMEM_FORCE", NULL };
	const char *args[] = { "persist-mode", t_file("pmem", PG, 0), NULL };

	CHECK(args[1]);
	if (!t_on_memory_fs(args[1]))
		SKIP("the test directory %s is not on tmpfs", t_tmpdir());
	CHECK_EQ(t_reexec(env, args), DAX_PERSIST_MEMORY);
	return T_PASS;
}

/* The crash checker forces pmem mode on its tmpfs files: forcing wins. */
static int test_persist_mode_pmem_when_forced_on_tmpfs(void)
{
	const char *env[] = { "PMEM_IS_PMEM_FORCE=1", NULL };
	const char *args[] = { "persist-mode", t_file("pmem", PG, 0), NULL };

	CHECK(args[1]);
	if (!t_on_memory_fs(args[1]))
		SKIP("the test directory %s is not on tmpfs", t_tmpdir());
	CHECK_EQ(t_reexec(env, args), DAX_PERSIST_PMEM);
	return T_PASS;
}

static int test_persist_mode_names(void)
{
	CHECK(strcmp(dax_persist_mode_name(DAX_PERSIST_PMEM), "pmem") == 0);
	CHECK(strcmp(dax_persist_mode_name(DAX_PERSIST_MSYNC), "msync") == 0);
	CHECK(strcmp(dax_persist_mode_name(DAX_PERSIST_FSYNC), "fsync") == 0);
	CHECK(strcmp(dax_persist_mode_name(DAX_PERSIST_MEMORY), "memory") == 0);
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
	CHECK_MSG_HAS("beyond device end");
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
	CHECK_MSG_HAS("dead");
	return T_PASS;
}

static int test_copy_flushcache_stores_and_flushes_once(void)
{
	struct dax_device *dev = fixture_dev("pmem", 4, 0);
	struct dax_device_stats st;
	char *k;

	CHECK(dev);
	CHECK_EQ(dax_direct_access(dev, 0, 4, DAX_ACCESS, (void **)&k, NULL), 4);
	CHECK_EQ(dax_device_copy_flushcache(dev, PG + 7, "copied", 6), 0);
	CHECK(memcmp(k + PG + 7, "copied", 6) == 0);
	dax_device_get_stats(dev, &st);
	CHECK_EQ(st.flushes, 1);
	CHECK_EQ(st.drains, 0);
	CHECK_EQ(st.nt_copies, 0);     /* msync or memory mode: a copy and a flush */
	return T_PASS;
}

static int test_copy_flushcache_beyond_end_or_dead_fails(void)
{
	struct dax_device *dev = fixture_dev("pmem", 4, 0);

	CHECK(dev);
	CHECK_EQ(dax_device_copy_flushcache(dev, 4 * PG - 1, "ab", 2), -EINVAL);
	CHECK_MSG_HAS("beyond device end");
	dax_device_kill(dev);
	CHECK_EQ(dax_device_copy_flushcache(dev, 0, "ab", 2), -EIO);
	CHECK_MSG_HAS("dead");
	return T_PASS;
}

/* Child: in PMEM mode the copy is non-temporal and counts as one flush;
 * exits 0, or the number of the check that failed. */
static int child_nt_copy(const char *path)
{
	struct dax_device *dev = NULL;
	struct dax_device_stats st;
	static char src[3 * PG + 5];
	char *k;

	if (dax_device_open(path, 0, &dev) < 0)
		return 1;
	if (dax_device_persist_mode(dev) != DAX_PERSIST_PMEM)
		return 2;
	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (char)(i * 7 + 1);
	if (dax_direct_access(dev, 0, 4, DAX_ACCESS, (void **)&k, NULL) != 4)
		return 3;
	/* unaligned both ends: the copy's head and tail are not whole lines */
	if (dax_device_copy_flushcache(dev, 3, src, sizeof(src)) != 0 ||
	    memcmp(k + 3, src, sizeof(src)) != 0)
		return 4;
	if (dax_device_drain(dev) != 0)
		return 5;
	dax_device_get_stats(dev, &st);
	if (st.nt_copies != 1 || st.flushes != 1 || st.drains != 1)
		return 6;
	dax_device_put(&dev);
	return 0;
}

static int test_copy_flushcache_is_non_temporal_on_pmem(void)
{
	const char *env[] = { "PMEM_IS_PMEM_FORCE=1", NULL };
	const char *args[] = { "nt-copy", t_file("pmem", 4 * PG, 0), NULL };

	CHECK_EQ(t_reexec(env, args), 0);
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_copy_flushcache_stores_and_flushes_once),
	T_CASE(test_copy_flushcache_beyond_end_or_dead_fails),
	T_CASE(test_copy_flushcache_is_non_temporal_on_pmem),
	T_CASE(test_persist_mode_pmem_when_forced),
	T_CASE(test_persist_mode_msync_without_force),
	T_CASE(test_persist_mode_msync_when_forced_off),
	T_CASE(test_persist_mode_memory_on_tmpfs),
	T_CASE(test_persist_mode_pmem_when_forced_on_tmpfs),
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
	if (argc == 4 && strcmp(argv[1], "--child") == 0 && strcmp(argv[2], "nt-copy") == 0)
		return child_nt_copy(argv[3]);
	return T_RUN(cases);
}
