/* test_badblocks.c - the sorted, merged bad sector list */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include "daxfs/err.h"
#include "fixture.h"

/* The list must be exactly want[0..n). */
static int list_is(struct dax_device *dev, const struct dax_badblock *want, size_t n)
{
	struct dax_badblock got[8];
	size_t count = dax_badblocks_list(dev, got, 8);

	if (count != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (got[i].sector != want[i].sector || got[i].nr_sectors != want[i].nr_sectors)
			return 0;
	return 1;
}

static int test_badblocks_add_keeps_ranges_sorted(void)
{
	struct dax_device *dev = fixture_dev("pmem", 16, 0);
	const struct dax_badblock want[] = { { 10, 2 }, { 30, 1 }, { 50, 5 } };

	CHECK(dev);
	CHECK_EQ(dax_badblocks_add(dev, 50, 5), 0);
	CHECK_EQ(dax_badblocks_add(dev, 10, 2), 0);
	CHECK_EQ(dax_badblocks_add(dev, 30, 1), 0);
	CHECK(list_is(dev, want, 3));
	return T_PASS;
}

static int test_badblocks_add_merges_overlapping_ranges(void)
{
	struct dax_device *dev = fixture_dev("pmem", 16, 0);
	const struct dax_badblock want[] = { { 8, 20 } };

	CHECK(dev);
	CHECK_EQ(dax_badblocks_add(dev, 10, 5), 0);
	CHECK_EQ(dax_badblocks_add(dev, 20, 8), 0);
	CHECK_EQ(dax_badblocks_add(dev, 8, 14), 0);
	CHECK(list_is(dev, want, 1));
	return T_PASS;
}

static int test_badblocks_add_merges_adjacent_ranges(void)
{
	struct dax_device *dev = fixture_dev("pmem", 16, 0);
	const struct dax_badblock want[] = { { 0, 24 } };

	CHECK(dev);
	CHECK_EQ(dax_badblocks_add(dev, 0, 8), 0);
	CHECK_EQ(dax_badblocks_add(dev, 16, 8), 0);
	CHECK_EQ(dax_badblocks_add(dev, 8, 8), 0);
	CHECK(list_is(dev, want, 1));
	return T_PASS;
}

static int test_badblocks_clear_middle_splits_range(void)
{
	struct dax_device *dev = fixture_dev("pmem", 16, 0);
	const struct dax_badblock want[] = { { 10, 5 }, { 20, 10 } };

	CHECK(dev);
	CHECK_EQ(dax_badblocks_add(dev, 10, 20), 0);
	CHECK_EQ(dax_badblocks_clear(dev, 15, 5), 0);
	CHECK(list_is(dev, want, 2));
	return T_PASS;
}

static int test_badblocks_clear_trims_and_removes_ranges(void)
{
	struct dax_device *dev = fixture_dev("pmem", 16, 0);
	const struct dax_badblock want[] = { { 10, 2 }, { 44, 6 } };

	CHECK(dev);
	CHECK_EQ(dax_badblocks_add(dev, 10, 10), 0);
	CHECK_EQ(dax_badblocks_add(dev, 25, 5), 0);
	CHECK_EQ(dax_badblocks_add(dev, 40, 10), 0);
	CHECK_EQ(dax_badblocks_clear(dev, 12, 32), 0);
	CHECK(list_is(dev, want, 2));
	return T_PASS;
}

static int test_badblocks_clear_everything_empties_list(void)
{
	struct dax_device *dev = fixture_dev("pmem", 16, 0);

	CHECK(dev);
	CHECK_EQ(dax_badblocks_add(dev, 3, 1), 0);
	CHECK_EQ(dax_badblocks_add(dev, 60, 4), 0);
	CHECK_EQ(dax_badblocks_clear(dev, 0, 16 * DAX_PAGE_SECTORS), 0);
	CHECK(list_is(dev, NULL, 0));
	return T_PASS;
}

static int test_badblocks_check_reports_first_bad_sector(void)
{
	struct dax_device *dev = fixture_dev("pmem", 16, 0);
	uint64_t first = 0;

	CHECK(dev);
	CHECK_EQ(dax_badblocks_add(dev, 20, 4), 0);
	CHECK_EQ(dax_badblocks_add(dev, 40, 4), 0);
	CHECK(dax_badblocks_check(dev, 0, 100, &first));
	CHECK_EQ(first, 20);
	CHECK(dax_badblocks_check(dev, 22, 100, &first));
	CHECK_EQ(first, 22);
	CHECK(!dax_badblocks_check(dev, 24, 16, NULL));
	CHECK(!dax_badblocks_check(dev, 0, 20, NULL));
	return T_PASS;
}

static int test_badblocks_range_beyond_device_einval(void)
{
	struct dax_device *dev = fixture_dev("pmem", 1, 0);

	CHECK(dev);
	CHECK_EQ(dax_badblocks_add(dev, 7, 2), -EINVAL);
	CHECK_MSG_HAS("beyond device end");
	CHECK_EQ(dax_badblocks_add(dev, UINT64_MAX, 2), -EINVAL);
	return T_PASS;
}

static int test_badblocks_empty_range_einval(void)
{
	struct dax_device *dev = fixture_dev("pmem", 1, 0);

	CHECK(dev);
	CHECK_EQ(dax_badblocks_add(dev, 0, 0), -EINVAL);
	CHECK_EQ(dax_badblocks_add(NULL, 0, 1), -EINVAL);
	return T_PASS;
}

static int test_badblocks_full_table_enospc(void)
{
	struct dax_device *dev = fixture_dev("pmem", 256, 0);
	uint64_t s;

	CHECK(dev);
	for (s = 0; s < 512; s++)
		CHECK_EQ(dax_badblocks_add(dev, s * 2, 1), 0);
	CHECK_EQ(dax_badblocks_add(dev, s * 2, 1), -ENOSPC);
	CHECK_MSG_HAS("full");
	/* merging into an existing range still works when full */
	CHECK_EQ(dax_badblocks_add(dev, 1, 1), 0);
	return T_PASS;
}

struct hammer {
	struct dax_device *dev;
	atomic_bool stop;
	atomic_long checks;
};

static void *reader(void *arg)
{
	struct hammer *h = arg;
	uint64_t first;

	while (!atomic_load(&h->stop)) {
		/* sector 0 is never bad; 100 always is: any other answer is torn */
		if (dax_badblocks_check(h->dev, 0, 1, NULL) ||
		    !dax_badblocks_check(h->dev, 100, 1, &first) || first != 100)
			return (void *)1;
		atomic_fetch_add(&h->checks, 1);
	}
	return NULL;
}

static int test_badblocks_concurrent_check_sees_consistent_list(void)
{
	struct hammer h = { .dev = fixture_dev("pmem", 16, 0) };
	pthread_t th[2];
	void *res[2];

	CHECK(h.dev);
	CHECK_EQ(dax_badblocks_add(h.dev, 100, 1), 0);
	for (int i = 0; i < 2; i++)
		CHECK_EQ(pthread_create(&th[i], NULL, reader, &h), 0);
	for (int i = 0; i < 2000; i++) {
		dax_badblocks_add(h.dev, 50 + (uint64_t)(i % 40), 3);
		dax_badblocks_clear(h.dev, 50 + (uint64_t)(i % 40), 2);
	}
	atomic_store(&h.stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], &res[i]);
	CHECK(res[0] == NULL && res[1] == NULL);
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_badblocks_add_keeps_ranges_sorted),
	T_CASE(test_badblocks_add_merges_overlapping_ranges),
	T_CASE(test_badblocks_add_merges_adjacent_ranges),
	T_CASE(test_badblocks_clear_middle_splits_range),
	T_CASE(test_badblocks_clear_trims_and_removes_ranges),
	T_CASE(test_badblocks_clear_everything_empties_list),
	T_CASE(test_badblocks_check_reports_first_bad_sector),
	T_CASE(test_badblocks_range_beyond_device_einval),
	T_CASE(test_badblocks_empty_range_einval),
	T_CASE(test_badblocks_full_table_enospc),
	T_CASE(test_badblocks_concurrent_check_sees_consistent_list),
};

T_MAIN(cases)
