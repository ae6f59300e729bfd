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

/* What dax_direct_access answers for a range of poisoned_dev() in a mode. */
static const struct access_case {
	const char *name;
	uint64_t pgoff;
	long nr;
	enum dax_access_mode mode;
	long ret;
} access_cases[] = {
	{ "access across the bad page", 0, 10, DAX_ACCESS, -EHWPOISON },
	{ "access of the bad page", 5, 1, DAX_ACCESS, -EHWPOISON },
	{ "recovery mode: the good pages before it", 0, 10, DAX_RECOVERY_WRITE, 5 },
	{ "recovery mode at the bad page: one", 5, 10, DAX_RECOVERY_WRITE, 1 },
	/* while poison exists a clean range is clamped to nr, as pmem's */
	{ "clean range before the bad page", 0, 5, DAX_ACCESS, 5 },
	{ "clean range after the bad page", 6, 100, DAX_ACCESS, 10 },
};

static int test_poison_direct_access_cases(void)
{
	struct dax_device *dev = poisoned_dev();

	CHECK(dev);
	for (size_t i = 0; i < sizeof(access_cases) / sizeof(access_cases[0]); i++) {
		const struct access_case *c = &access_cases[i];
		long ret = dax_direct_access(dev, c->pgoff, c->nr, c->mode, NULL, NULL);

		if (ret != c->ret || (ret < 0 && !t_msg_has("poisoned"))) {
			t_report(__FILE__, __LINE__, "%s: pages %llu+%ld: %ld, expected %ld (\"%s\")",
				 c->name, (unsigned long long)c->pgoff, c->nr, ret, c->ret, t_msg());
			return T_FAIL;
		}
	}
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

/* poisoned_dev() with its bad page mapped for a recovery write at *k, and
 * buf (a page) filled with 0x22 to write there. */
static struct dax_device *recovering(char *buf, char **k)
{
	struct dax_device *dev = poisoned_dev();

	memset(buf, 0x22, PG);
	if (dev && dax_direct_access(dev, 5, 1, DAX_RECOVERY_WRITE, (void **)k, NULL) != 1)
		return NULL;
	return dev;
}

static int test_poison_recovery_write_unaligned_returns_zero(void)
{
	char buf[PG];
	char *k;
	struct dax_device *dev = recovering(buf, &k);

	CHECK(dev);
	CHECK_EQ(dax_recovery_write(dev, 5, k + 8, buf, 512), 0);
	CHECK_MSG_HAS("page-aligned");
	CHECK_EQ(dax_recovery_write(dev, 5, k, buf, 512), 0);
	CHECK(dax_badblocks_check(dev, 40, 8, NULL));
	return T_PASS;
}

static int test_poison_recovery_write_aligned_clears_it(void)
{
	char buf[PG];
	char *k;
	struct dax_device *dev = recovering(buf, &k);

	CHECK(dev);
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
	T_CASE(test_poison_direct_access_cases),
	T_CASE(test_poison_recovery_mode_rounds_partial_page_up),
	T_CASE(test_poison_zero_page_clears_it),
	T_CASE(test_poison_recovery_write_unaligned_returns_zero),
	T_CASE(test_poison_recovery_write_aligned_clears_it),
	T_CASE(test_poison_recovery_write_clean_page_any_alignment),
	T_CASE(test_poison_recovery_write_outside_page_returns_zero),
	T_CASE(test_poison_zero_page_range_on_bad_page_succeeds),
};

T_MAIN(cases)
