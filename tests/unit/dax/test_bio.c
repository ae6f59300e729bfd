/* test_bio.c - the bio path (dax_device_rw) of a mapped device */
#include <errno.h>
#include <string.h>

#include "daxfs/err.h"
#include "fixture.h"

static int test_bio_write_then_read_round_trips(void)
{
	struct dax_device *dev = fixture_dev("pmem", 4, 0);
	char out[1000], in[1000];

	CHECK(dev);
	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (char)(i * 7);
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_WRITE, 0, 4000, out, sizeof(out)), 0);
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_READ, 0, 4000, in, sizeof(in)), 0);
	CHECK(memcmp(in, out, sizeof(in)) == 0);
	return T_PASS;
}

static int test_bio_write_is_visible_through_direct_access(void)
{
	struct dax_device *dev = fixture_dev("pmem", 4, 0);
	char *k;

	CHECK(dev);
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_WRITE, DAX_REQ_FUA, 2 * PG + 5, "hello", 5), 0);
	CHECK_EQ(dax_direct_access(dev, 2, 1, DAX_ACCESS, (void **)&k, NULL), 1);
	CHECK(memcmp(k + 5, "hello", 5) == 0);
	return T_PASS;
}

static int test_bio_write_zeroes_zeroes_range(void)
{
	struct dax_device *dev = fixture_dev("pmem", 4, 0x33);
	unsigned char buf[PG + 2];

	CHECK(dev);
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_WRITE_ZEROES, 0, PG, NULL, PG), 0);
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_READ, 0, PG - 1, buf, sizeof(buf)), 0);
	CHECK_EQ(buf[0], 0x33);
	for (size_t i = 1; i <= PG; i++)
		CHECK_EQ(buf[i], 0);
	CHECK_EQ(buf[PG + 1], 0x33);
	return T_PASS;
}

static int test_bio_read_of_bad_sector_eio(void)
{
	struct dax_device *dev = fixture_dev("pmem", 4, 0);
	char buf[16];

	CHECK(dev);
	CHECK_EQ(dax_badblocks_add(dev, 9, 1), 0);
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_READ, 0, 9 * 512 + 500, buf, 16), -EIO);
	CHECK_MSG_HAS("bad sector 9");
	return T_PASS;
}

static int test_bio_read_next_to_bad_sector_succeeds(void)
{
	struct dax_device *dev = fixture_dev("pmem", 4, 0);
	char buf[512];

	CHECK(dev);
	CHECK_EQ(dax_badblocks_add(dev, 9, 1), 0);
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_READ, 0, 8 * 512, buf, 512), 0);
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_READ, 0, 10 * 512, buf, 512), 0);
	return T_PASS;
}

static int test_bio_write_clears_sectors_it_covers_whole(void)
{
	struct dax_device *dev = fixture_dev("pmem", 4, 0);
	char buf[1024 + 256] = { 0 };
	uint64_t first;

	CHECK(dev);
	CHECK_EQ(dax_badblocks_add(dev, 8, 5), 0);
	/* covers sectors 9 and 10 whole, 8 in part; 11 and 12 not at all */
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_WRITE, 0, 8 * 512 + 256, buf, sizeof(buf)), 0);
	CHECK(dax_badblocks_check(dev, 8, 4, &first));
	CHECK_EQ(first, 8);
	CHECK(!dax_badblocks_check(dev, 9, 2, NULL));
	CHECK(dax_badblocks_check(dev, 11, 2, &first));
	CHECK_EQ(first, 11);
	return T_PASS;
}

static int test_bio_write_zeroes_clears_poison(void)
{
	struct dax_device *dev = fixture_dev("pmem", 4, 0);

	CHECK(dev);
	CHECK_EQ(dax_badblocks_add(dev, 8, 8), 0);
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_WRITE_ZEROES, 0, PG, NULL, PG), 0);
	CHECK_EQ(dax_direct_access(dev, 1, 1, DAX_ACCESS, NULL, NULL), 1);
	return T_PASS;
}

static int test_bio_beyond_device_end_einval(void)
{
	struct dax_device *dev = fixture_dev("pmem", 2, 0);
	char buf[2];

	CHECK(dev);
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_READ, 0, 2 * PG - 1, buf, 2), -EINVAL);
	CHECK_MSG_HAS("beyond device end");
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_READ, 0, UINT64_MAX, buf, 2), -EINVAL);
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_WRITE_ZEROES, 0, 0, NULL, 3 * PG), -EINVAL);
	return T_PASS;
}

static int test_bio_up_to_device_end_succeeds(void)
{
	struct dax_device *dev = fixture_dev("pmem", 2, 0);
	char buf[2];

	CHECK(dev);
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_READ, 0, 2 * PG - 2, buf, 2), 0);
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_READ, 0, 2 * PG, buf, 0), 0);
	return T_PASS;
}

static int test_bio_dead_device_eio(void)
{
	struct dax_device *dev = fixture_dev("pmem", 2, 0);
	char buf[2];

	CHECK(dev);
	dax_device_kill(dev);
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_READ, 0, 0, buf, 2), -EIO);
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_WRITE, 0, 0, buf, 2), -EIO);
	return T_PASS;
}

static int test_bio_bad_arguments_einval(void)
{
	struct dax_device *dev = fixture_dev("pmem", 2, 0);
	char buf[2];

	CHECK(dev);
	CHECK_EQ(dax_device_rw(NULL, DAX_REQ_READ, 0, 0, buf, 2), -EINVAL);
	CHECK_EQ(dax_device_rw(dev, (enum dax_req_op)9, 0, 0, buf, 2), -EINVAL);
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_READ, 0x80, 0, buf, 2), -EINVAL);
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_WRITE, 0, 0, NULL, 2), -EINVAL);
	return T_PASS;
}

static int test_bio_fua_write_drains(void)
{
	struct dax_device *dev = fixture_dev("pmem", 2, 0);
	struct dax_device_stats before, after;

	CHECK(dev);
	dax_device_get_stats(dev, &before);
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_WRITE, 0, 0, "ab", 2), 0);
	dax_device_get_stats(dev, &after);
	CHECK_EQ(after.flushes, before.flushes + 1);
	CHECK_EQ(after.drains, before.drains);
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_WRITE, DAX_REQ_FUA, 0, "ab", 2), 0);
	dax_device_get_stats(dev, &after);
	CHECK_EQ(after.drains, before.drains + 1);
	return T_PASS;
}

static int test_bio_stats_count_requests_and_bytes(void)
{
	struct dax_device *dev = fixture_dev("pmem", 2, 0);
	struct dax_device_stats st;
	char buf[100];

	CHECK(dev);
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_WRITE, 0, 0, buf, 100), 0);
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_READ, 0, 0, buf, 30), 0);
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_READ, 0, 0, buf, 40), 0);
	dax_device_get_stats(dev, &st);
	CHECK_EQ(st.writes, 1);
	CHECK_EQ(st.write_bytes, 100);
	CHECK_EQ(st.reads, 2);
	CHECK_EQ(st.read_bytes, 70);
	CHECK_EQ(st.errors, 0);
	return T_PASS;
}

static int test_bio_write_from_overlapping_mapping_copies_exactly(void)
{
	struct dax_device *dev = fixture_dev("pmem", 2, 0);
	char *k;

	CHECK(dev);
	CHECK_EQ(dax_direct_access(dev, 0, 1, DAX_ACCESS, (void **)&k, NULL), 1);
	memcpy(k, "abcdefgh", 8);
	/* source and destination overlap inside the device */
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_WRITE, 0, 2, k, 6), 0);
	CHECK(memcmp(k, "ababcdef", 8) == 0);
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_bio_write_then_read_round_trips),
	T_CASE(test_bio_write_is_visible_through_direct_access),
	T_CASE(test_bio_write_zeroes_zeroes_range),
	T_CASE(test_bio_read_of_bad_sector_eio),
	T_CASE(test_bio_read_next_to_bad_sector_succeeds),
	T_CASE(test_bio_write_clears_sectors_it_covers_whole),
	T_CASE(test_bio_write_zeroes_clears_poison),
	T_CASE(test_bio_beyond_device_end_einval),
	T_CASE(test_bio_up_to_device_end_succeeds),
	T_CASE(test_bio_dead_device_eio),
	T_CASE(test_bio_bad_arguments_einval),
	T_CASE(test_bio_fua_write_drains),
	T_CASE(test_bio_stats_count_requests_and_bytes),
	T_CASE(test_bio_write_from_overlapping_mapping_copies_exactly),
};

T_MAIN(cases)
