/* test_super.c - the dax_* wrappers: errnos, clamping, kaddr and pfn */
#include <errno.h>
#include <string.h>

#include "daxfs/err.h"
#include "fixture.h"

static int test_direct_access_null_device_eopnotsupp(void)
{
	void *kaddr;

	CHECK_EQ(dax_direct_access(NULL, 0, 1, DAX_ACCESS, &kaddr, NULL), -EOPNOTSUPP);
	return T_PASS;
}

static int test_direct_access_dead_device_enxio(void)
{
	struct dax_device *dev = fixture_dev("pmem", 4, 0);

	CHECK(dev);
	dax_device_kill(dev);
	CHECK_EQ(dax_direct_access(dev, 0, 1, DAX_ACCESS, NULL, NULL), -ENXIO);
	CHECK_MSG_HAS("dead");
	return T_PASS;
}

static int test_direct_access_negative_nr_einval(void)
{
	struct dax_device *dev = fixture_dev("pmem", 4, 0);

	CHECK(dev);
	CHECK_EQ(dax_direct_access(dev, 0, -1, DAX_ACCESS, NULL, NULL), -EINVAL);
	CHECK_MSG_HAS("negative");
	return T_PASS;
}

static int test_direct_access_beyond_end_erange(void)
{
	struct dax_device *dev = fixture_dev("pmem", 4, 0);

	CHECK(dev);
	CHECK_EQ(dax_direct_access(dev, 4, 1, DAX_ACCESS, NULL, NULL), -ERANGE);
	CHECK_EQ(dax_direct_access(dev, UINT64_MAX, 1, DAX_ACCESS, NULL, NULL), -ERANGE);
	return T_PASS;
}

static int test_direct_access_unknown_mode_einval(void)
{
	struct dax_device *dev = fixture_dev("pmem", 4, 0);

	CHECK(dev);
	CHECK_EQ(dax_direct_access(dev, 0, 1, (enum dax_access_mode)7, NULL, NULL), -EINVAL);
	return T_PASS;
}

static int test_direct_access_clamps_to_nr(void)
{
	struct dax_device *dev = fixture_dev("pmem", 16, 0);

	CHECK(dev);
	CHECK_EQ(dax_direct_access(dev, 2, 3, DAX_ACCESS, NULL, NULL), 3);
	return T_PASS;
}

static int test_direct_access_returns_pages_to_device_end(void)
{
	struct dax_device *dev = fixture_dev("pmem", 16, 0);

	CHECK(dev);
	CHECK_EQ(dax_direct_access(dev, 10, 100, DAX_ACCESS, NULL, NULL), 6);
	CHECK_EQ(dax_direct_access(dev, 15, 100, DAX_ACCESS, NULL, NULL), 1);
	return T_PASS;
}

static int test_direct_access_zero_pages_returns_zero(void)
{
	struct dax_device *dev = fixture_dev("pmem", 4, 0);

	CHECK(dev);
	CHECK_EQ(dax_direct_access(dev, 1, 0, DAX_ACCESS, NULL, NULL), 0);
	return T_PASS;
}

static int test_direct_access_kaddr_and_pfn_follow_pgoff(void)
{
	struct dax_device *dev = fixture_dev("pmem", 1024, 0);
	void *k0, *k;
	uint64_t p0, p;

	CHECK(dev);
	CHECK_EQ(dax_direct_access(dev, 0, 1, DAX_ACCESS, &k0, &p0), 1);
	CHECK_EQ(dax_direct_access(dev, 513, 1, DAX_ACCESS, &k, &p), 1);
	CHECK((char *)k == (char *)k0 + 513 * (size_t)PG);
	CHECK_EQ(p, p0 + 513);
	CHECK(p0 != 0);
	CHECK_EQ(p0 % 512, 0);   /* page 0 is 2 MiB aligned, as on a namespace */
	return T_PASS;
}

static int test_direct_access_sees_file_contents(void)
{
	struct dax_device *dev = fixture_dev("pmem", 4, 0x5a);
	unsigned char *k;

	CHECK(dev);
	CHECK_EQ(dax_direct_access(dev, 3, 1, DAX_ACCESS, (void **)&k, NULL), 1);
	CHECK_EQ(k[0], 0x5a);
	CHECK_EQ(k[PG - 1], 0x5a);
	return T_PASS;
}

static int test_direct_access_pfns_of_two_devices_differ(void)
{
	struct dax_device *a = fixture_dev("a", 4, 0), *b = fixture_dev("b", 4, 0);
	uint64_t pa, pb;

	CHECK(a && b);
	CHECK_EQ(dax_direct_access(a, 0, 4, DAX_ACCESS, NULL, &pa), 4);
	CHECK_EQ(dax_direct_access(b, 0, 4, DAX_ACCESS, NULL, &pb), 4);
	CHECK(pa + 4 <= pb || pb + 4 <= pa);
	return T_PASS;
}

static int test_zero_page_range_null_device_eopnotsupp(void)
{
	CHECK_EQ(dax_zero_page_range(NULL, 0, 1), -EOPNOTSUPP);
	return T_PASS;
}

static int test_zero_page_range_dead_device_enxio(void)
{
	struct dax_device *dev = fixture_dev("pmem", 4, 0);

	CHECK(dev);
	dax_device_kill(dev);
	CHECK_EQ(dax_zero_page_range(dev, 0, 1), -ENXIO);
	return T_PASS;
}

static int test_zero_page_range_more_than_one_page_eio(void)
{
	struct dax_device *dev = fixture_dev("pmem", 4, 0);

	CHECK(dev);
	CHECK_EQ(dax_zero_page_range(dev, 0, 2), -EIO);
	CHECK_EQ(dax_zero_page_range(dev, 0, 0), -EIO);
	return T_PASS;
}

static int test_zero_page_range_beyond_end_einval(void)
{
	struct dax_device *dev = fixture_dev("pmem", 4, 0);

	CHECK(dev);
	CHECK_EQ(dax_zero_page_range(dev, 4, 1), -EINVAL);
	CHECK_MSG_HAS("beyond device end");
	return T_PASS;
}

static int test_zero_page_range_zeroes_only_that_page(void)
{
	struct dax_device *dev = fixture_dev("pmem", 4, 0xff);
	unsigned char *k;

	CHECK(dev);
	CHECK_EQ(dax_zero_page_range(dev, 1, 1), 0);
	CHECK_EQ(dax_direct_access(dev, 0, 4, DAX_ACCESS, (void **)&k, NULL), 4);
	CHECK_EQ(k[PG - 1], 0xff);
	for (size_t i = PG; i < 2 * PG; i++)
		CHECK_EQ(k[i], 0);
	CHECK_EQ(k[2 * PG], 0xff);
	return T_PASS;
}

static int test_recovery_write_dead_device_returns_zero(void)
{
	struct dax_device *dev = fixture_dev("pmem", 4, 0);
	char buf[16] = "x";
	void *k;

	CHECK(dev);
	CHECK_EQ(dax_direct_access(dev, 0, 1, DAX_ACCESS, &k, NULL), 1);
	dax_device_kill(dev);
	CHECK_EQ(dax_recovery_write(dev, 0, k, buf, sizeof(buf)), 0);
	return T_PASS;
}

static int test_recovery_write_null_device_returns_zero(void)
{
	char buf[16] = "x";

	CHECK_EQ(dax_recovery_write(NULL, 0, buf, buf, sizeof(buf)), 0);
	return T_PASS;
}

static int test_stats_count_direct_accesses_and_errors(void)
{
	struct dax_device *dev = fixture_dev("pmem", 4, 0);
	struct dax_device_stats st;

	CHECK(dev);
	CHECK_EQ(dax_direct_access(dev, 0, 1, DAX_ACCESS, NULL, NULL), 1);
	CHECK_EQ(dax_direct_access(dev, 9, 1, DAX_ACCESS, NULL, NULL), -ERANGE);
	CHECK_EQ(dax_direct_access(dev, 0, -3, DAX_ACCESS, NULL, NULL), -EINVAL);
	dax_device_get_stats(dev, &st);
	CHECK_EQ(st.direct_accesses, 2);
	CHECK_EQ(st.errors, 2);
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_direct_access_null_device_eopnotsupp),
	T_CASE(test_direct_access_dead_device_enxio),
	T_CASE(test_direct_access_negative_nr_einval),
	T_CASE(test_direct_access_beyond_end_erange),
	T_CASE(test_direct_access_unknown_mode_einval),
	T_CASE(test_direct_access_clamps_to_nr),
	T_CASE(test_direct_access_returns_pages_to_device_end),
	T_CASE(test_direct_access_zero_pages_returns_zero),
	T_CASE(test_direct_access_kaddr_and_pfn_follow_pgoff),
	T_CASE(test_direct_access_sees_file_contents),
	T_CASE(test_direct_access_pfns_of_two_devices_differ),
	T_CASE(test_zero_page_range_null_device_eopnotsupp),
	T_CASE(test_zero_page_range_dead_device_enxio),
	T_CASE(test_zero_page_range_more_than_one_page_eio),
	T_CASE(test_zero_page_range_beyond_end_einval),
	T_CASE(test_zero_page_range_zeroes_only_that_page),
	T_CASE(test_recovery_write_dead_device_returns_zero),
	T_CASE(test_recovery_write_null_device_returns_zero),
	T_CASE(test_stats_count_direct_accesses_and_errors),
};

T_MAIN(cases)
