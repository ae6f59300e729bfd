/* test_poison.c - injected bad blocks seen through the pmem DAX ops (kernel-chain.md 7.13) */
#include <errno.h>
#include <string.h>

#include "daxfs/err.h"
#include "fixture.h"

/* A 16-page device with page 5 poisoned. */
static struct dax_device *poisoned_dev(void)
{
	struct dax_device *dev = fixture_dev("pmem", 16, 0x11);

	if (dev && dax_badblocks_add(dev, 5 * DAX_PAGE_SECTORS, DAX_PAGE_SECTORS) < 0)
		return NULL;
	return dev;
}

static int test_poison_access_across_bad_page_ehwpoison(void)
{
	struct dax_device *dev = poisoned_dev();

	CHECK(dev);
	CHECK_EQ(dax_direct_access(dev, 0, 10, DAX_ACCESS, NULL, NULL), -EHWPOISON);
	CHECK_MSG_HAS("poisoned");
	return T_PASS;
}

static int test_poison_access_of_bad_page_ehwpoison(void)
{
	struct dax_device *dev = poisoned_dev();

	CHECK(dev);
	CHECK_EQ(dax_direct_access(dev, 5, 1, DAX_ACCESS, NULL, NULL), -EHWPOISON);
	return T_PASS;
}

static int test_poison_recovery_mode_returns_good_pages_before(void)
{
	struct dax_device *dev = poisoned_dev();

	CHECK(dev);
	CHECK_EQ(dax_direct_access(dev, 0, 10, DAX_RECOVERY_WRITE, NULL, NULL), 5);
	return T_PASS;
}

static int test_poison_recovery_mode_at_bad_page_returns_one(void)
{
	struct dax_device *dev = poisoned_dev();

	CHECK(dev);
	CHECK_EQ(dax_direct_access(dev, 5, 10, DAX_RECOVERY_WRITE, NULL, NULL), 1);
	return T_PASS;
}

static int test_poison_recovery_mode_rounds_partial_page_up(void)
{
	struct dax_device *dev = fixture_dev("pmem", 16, 0);

	CHECK(dev);
	/* sector 43 lies in page 5: PAGE_ALIGN counts page 5 as good */
	CHECK_EQ(dax_badblocks_add(dev, 43, 1), 0);
	CHECK_EQ(dax_direct_access(dev, 0, 10, DAX_RECOVERY_WRITE, NULL, NULL), 6);
	return T_PASS;
}

static int test_poison_clean_range_clamped_to_nr_while_poison_exists(void)
{
	struct dax_device *dev = poisoned_dev();

	CHECK(dev);
	CHECK_EQ(dax_direct_access(dev, 0, 5, DAX_ACCESS, NULL, NULL), 5);
	CHECK_EQ(dax_direct_access(dev, 6, 100, DAX_ACCESS, NULL, NULL), 10);
	return T_PASS;
}

static int test_poison_zero_page_clears_it(void)
{
	struct dax_device *dev = poisoned_dev();
	unsigned char *k;

	CHECK(dev);
	CHECK_EQ(dax_zero_page_range(dev, 5, 1), 0);
	CHECK_EQ(dax_direct_access(dev, 0, 10, DAX_ACCESS, (void **)&k, NULL), 10);
	CHECK_EQ(k[5 * PG], 0);
	CHECK_EQ(k[4 * PG], 0x11);
	CHECK(!dax_badblocks_check(dev, 0, 16 * DAX_PAGE_SECTORS, NULL));
	return T_PASS;
}

static int test_poison_recovery_write_unaligned_returns_zero(void)
{
	struct dax_device *dev = poisoned_dev();
	char buf[PG];
	char *k;

	CHECK(dev);
	memset(buf, 0x22, sizeof(buf));
	CHECK_EQ(dax_direct_access(dev, 5, 1, DAX_RECOVERY_WRITE, (void **)&k, NULL), 1);
	CHECK_EQ(dax_recovery_write(dev, 5, k + 8, buf, 512), 0);
	CHECK_MSG_HAS("page-aligned");
	CHECK_EQ(dax_recovery_write(dev, 5, k, buf, 512), 0);
	CHECK(dax_badblocks_check(dev, 40, 8, NULL));
	return T_PASS;
}

static int test_poison_recovery_write_aligned_clears_it(void)
{
	struct dax_device *dev = poisoned_dev();
	char buf[PG];
	char *k;

	CHECK(dev);
	memset(buf, 0x22, sizeof(buf));
	CHECK_EQ(dax_direct_access(dev, 5, 1, DAX_RECOVERY_WRITE, (void **)&k, NULL), 1);
	CHECK_EQ(dax_recovery_write(dev, 5, k, buf, PG), PG);
	CHECK(!dax_badblocks_check(dev, 40, 8, NULL));
	CHECK_EQ(dax_direct_access(dev, 5, 1, DAX_ACCESS, (void **)&k, NULL), 1);
	CHECK_EQ(k[PG - 1], 0x22);
	return T_PASS;
}

static int test_poison_recovery_write_clean_page_any_alignment(void)
{
	struct dax_device *dev = poisoned_dev();
	char *k;

	CHECK(dev);
	CHECK_EQ(dax_direct_access(dev, 2, 1, DAX_ACCESS, (void **)&k, NULL), 1);
	CHECK_EQ(dax_recovery_write(dev, 2, k + 3, "abc", 3), 3);
	CHECK(memcmp(k + 3, "abc", 3) == 0);
	return T_PASS;
}

static int test_poison_recovery_write_outside_page_returns_zero(void)
{
	struct dax_device *dev = poisoned_dev();
	char *k;

	CHECK(dev);
	CHECK_EQ(dax_direct_access(dev, 2, 1, DAX_ACCESS, (void **)&k, NULL), 1);
	CHECK_EQ(dax_recovery_write(dev, 3, k, "abc", 3), 0);
	CHECK_MSG_HAS("outside");
	/* running off the device end */
	CHECK_EQ(dax_direct_access(dev, 15, 1, DAX_ACCESS, (void **)&k, NULL), 1);
	CHECK_EQ(dax_recovery_write(dev, 15, k, k, 2 * PG), 0);
	return T_PASS;
}

static int test_poison_zero_page_range_on_bad_page_succeeds(void)
{
	struct dax_device *dev = poisoned_dev();

	CHECK(dev);
	CHECK_EQ(dax_zero_page_range(dev, 5, 1), 0);
	CHECK_EQ(dax_direct_access(dev, 5, 1, DAX_ACCESS, NULL, NULL), 1);
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_poison_access_across_bad_page_ehwpoison),
	T_CASE(test_poison_access_of_bad_page_ehwpoison),
	T_CASE(test_poison_recovery_mode_returns_good_pages_before),
	T_CASE(test_poison_recovery_mode_at_bad_page_returns_one),
	T_CASE(test_poison_recovery_mode_rounds_partial_page_up),
	T_CASE(test_poison_clean_range_clamped_to_nr_while_poison_exists),
	T_CASE(test_poison_zero_page_clears_it),
	T_CASE(test_poison_recovery_write_unaligned_returns_zero),
	T_CASE(test_poison_recovery_write_aligned_clears_it),
	T_CASE(test_poison_recovery_write_clean_page_any_alignment),
	T_CASE(test_poison_recovery_write_outside_page_returns_zero),
	T_CASE(test_poison_zero_page_range_on_bad_page_succeeds),
};

T_MAIN(cases)
