/* test_bio.c - the bio path: remapping, splitting, zero/error semantics, flush and persist */
#include "fixture.h"
#include "dm/table.h"

/* buf[0..len) must be the pattern of tag from device byte off. */
static int is_pattern(const unsigned char *buf, size_t len, unsigned tag, uint64_t off)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] != t_byte(tag, off + i)) {
			fprintf(stderr, "byte %zu: %#x, expected %#x (tag %u, offset %llu)\n", i,
				buf[i], t_byte(tag, off + i), tag, (unsigned long long)(off + i));
			return 0;
		}
	}
	return 1;
}

static int test_linear_read_is_remapped(void)
{
	struct mapped_device *md;
	static unsigned char buf[8192];

	t_devs(64);
	md = t_live(t_fmt("0 16 linear %s 8\n", A));
	CHECK_EQ(dm_submit_bio(md, DAX_REQ_READ, 0, 0, buf, sizeof(buf)), 0);
	CHECK(is_pattern(buf, sizeof(buf), 1, 4096));
	return T_PASS;
}

static int test_read_spanning_targets_is_split(void)
{
	struct mapped_device *md;
	static unsigned char buf[4096];

	t_devs(64);
	md = t_live(t_fmt("0 8 linear %s 16\n8 8 linear %s 40\n", A, B));
	CHECK_EQ(dm_submit_bio(md, DAX_REQ_READ, 0, 2048, buf, sizeof(buf)), 0);
	CHECK(is_pattern(buf, 2048, 1, 16 * 512 + 2048));
	CHECK(is_pattern(buf + 2048, 2048, 2, 40 * 512));
	return T_PASS;
}

static int test_unaligned_byte_range_is_remapped(void)
{
	struct mapped_device *md;
	unsigned char buf[1000];

	t_devs(64);
	md = t_live(t_fmt("0 8 linear %s 3\n8 5 zero\n", A));
	CHECK_EQ(dm_submit_bio(md, DAX_REQ_READ, 0, 777, buf, sizeof(buf)), 0);
	CHECK(is_pattern(buf, sizeof(buf), 1, 3 * 512 + 777));
	return T_PASS;
}

static int test_striped_write_lands_on_mapped_sectors(void)
{
	struct mapped_device *md;
	static unsigned char buf[6 * 512], back[512];
	struct dax_device *a, *b;

	t_devs(64);
	/* chunk 3 sectors (not a power of two; the zero target keeps it off DAX) */
	md = t_live(t_fmt("0 12 striped 2 3 %s 0 %s 30\n12 4 zero\n", A, B));
	memset(buf, 0xab, 3 * 512);
	memset(buf + 3 * 512, 0xcd, 3 * 512);
	/* sectors 3..8: chunk 1 (B, its chunk 0) and chunk 2 (A, its chunk 1) */
	CHECK_EQ(dm_submit_bio(md, DAX_REQ_WRITE, 0, 3 * 512, buf, sizeof(buf)), 0);
	a = dm_md_find_device(md, A);
	b = dm_md_find_device(md, B);
	CHECK_EQ(dax_device_rw(b, DAX_REQ_READ, 0, 30 * 512, back, 512), 0);
	CHECK_EQ(back[0], 0xab);
	CHECK_EQ(dax_device_rw(b, DAX_REQ_READ, 0, 33 * 512, back, 512), 0);
	CHECK(is_pattern(back, 512, 2, 33 * 512));
	CHECK_EQ(dax_device_rw(a, DAX_REQ_READ, 0, 3 * 512, back, 512), 0);
	CHECK_EQ(back[511], 0xcd);
	CHECK_EQ(dax_device_rw(a, DAX_REQ_READ, 0, 2 * 512, back, 512), 0);
	CHECK(is_pattern(back, 512, 1, 2 * 512));
	return T_PASS;
}

static int test_zero_target_reads_zeroes_after_write(void)
{
	struct mapped_device *md = t_live("0 64 zero\n");
	unsigned char buf[4096];

	memset(buf, 0x77, sizeof(buf));
	CHECK_EQ(dm_submit_bio(md, DAX_REQ_WRITE, 0, 4096, buf, sizeof(buf)), 0);
	CHECK_EQ(dm_submit_bio(md, DAX_REQ_READ, 0, 4096, buf, sizeof(buf)), 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		CHECK_EQ(buf[i], 0);
	return T_PASS;
}

static int test_error_target_read_is_eio(void)
{
	struct mapped_device *md = t_live("0 64 error\n");
	unsigned char buf[512];

	CHECK_EQ(dm_submit_bio(md, DAX_REQ_READ, 0, 0, buf, sizeof(buf)), -EIO);
	CHECK_MSG("target 0 (error): I/O error at sector 0");
	return T_PASS;
}

static int test_error_target_write_is_eio(void)
{
	struct mapped_device *md;
	unsigned char buf[512] = { 0 };

	t_devs(64);
	md = t_live(t_fmt("0 8 linear %s 0\n8 8 error\n", A));
	CHECK_EQ(dm_submit_bio(md, DAX_REQ_WRITE, 0, 3584, buf, 1024), -EIO);
	CHECK_EQ(dm_submit_bio(md, DAX_REQ_WRITE_ZEROES, 0, 4096, NULL, 512), -EIO);
	return T_PASS;
}

static int test_write_zeroes_zeroes_device_range(void)
{
	struct mapped_device *md;
	unsigned char buf[1024];

	t_devs(64);
	md = t_live(t_fmt("0 64 linear %s 8\n", A));
	CHECK_EQ(dm_submit_bio(md, DAX_REQ_WRITE_ZEROES, 0, 512, NULL, 512), 0);
	CHECK_EQ(dm_submit_bio(md, DAX_REQ_READ, 0, 0, buf, sizeof(buf)), 0);
	CHECK(is_pattern(buf, 512, 1, 4096));
	for (size_t i = 512; i < sizeof(buf); i++)
		CHECK_EQ(buf[i], 0);
	return T_PASS;
}

static int test_bio_past_end_is_eio(void)
{
	struct mapped_device *md;
	unsigned char buf[1024];

	t_devs(64);
	md = t_live(t_fmt("0 16 linear %s 0\n", A));
	CHECK_EQ(dm_submit_bio(md, DAX_REQ_READ, 0, 7680, buf, sizeof(buf)), -EIO);
	CHECK_MSG("bytes 7680+1024: beyond the end of the device (8192 bytes)");
	CHECK_EQ(dm_submit_bio(md, DAX_REQ_READ, 0, UINT64_MAX, buf, sizeof(buf)), -EIO);
	return T_PASS;
}

static int test_bio_without_live_table_is_eio(void)
{
	struct mapped_device *md = t_md();
	unsigned char buf[512];

	CHECK_EQ(dm_submit_bio(md, DAX_REQ_READ, 0, 0, buf, sizeof(buf)), -EIO);
	CHECK_MSG("test: no live table");
	return T_PASS;
}

static int test_unknown_bio_op_is_einval(void)
{
	struct mapped_device *md = t_live("0 8 zero\n");
	unsigned char buf[512];

	CHECK_EQ(dm_submit_bio(md, (enum dax_req_op)7, 0, 0, buf, sizeof(buf)), -EINVAL);
	return T_PASS;
}

static int test_fua_write_and_flush_succeed(void)
{
	struct mapped_device *md;
	unsigned char buf[512] = { 1 }, back[512];

	t_devs(64);
	md = t_live(t_fmt("0 64 linear %s 0\n64 64 linear %s 0\n", A, B));
	CHECK_EQ(dm_submit_bio(md, DAX_REQ_WRITE, DM_BIO_FUA, 64 * 512, buf, sizeof(buf)), 0);
	CHECK_EQ(dm_flush(md), 0);
	CHECK_EQ(dax_device_rw(dm_md_find_device(md, B), DAX_REQ_READ, 0, 0, back, 512), 0);
	CHECK_EQ(back[0], 1);
	return T_PASS;
}

static int test_persist_range_flushes_every_device(void)
{
	struct mapped_device *md;
	struct dax_device_stats sa, sb;

	t_devs(64);
	md = t_live(t_fmt("0 64 linear %s 0\n64 64 linear %s 0\n128 8 error\n", A, B));
	CHECK_EQ(dm_persist_range(md, 0, 136 * 512, true), 0);
	dax_device_get_stats(dm_md_find_device(md, A), &sa);
	dax_device_get_stats(dm_md_find_device(md, B), &sb);
	CHECK(sa.flushes >= 1 && sa.drains >= 1);
	CHECK(sb.flushes >= 1 && sb.drains >= 1);
	CHECK(dm_persist_range(md, 130 * 512, 8 * 512, false) < 0);
	return T_PASS;
}

static int test_copy_flushcache_is_split_at_targets_and_chunks(void)
{
	struct mapped_device *md;
	struct dax_device_stats sa, sb;
	unsigned char src[24 * 512], back[512];

	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (unsigned char)(i / 512 + 1);
	t_devs(64);
	/* linear A then 2-way striped (8-sector chunks) over A and B */
	md = t_live(t_fmt("0 16 linear %s 0\n16 32 striped 2 8 %s 16 %s 0\n", A, A, B));
	CHECK_EQ(dm_copy_flushcache(md, 12 * 512, src, sizeof(src)), 0);
	/* md sector 12 + k holds src sector k, wherever it was remapped */
	for (unsigned k = 0; k < 24; k++) {
		CHECK_EQ(dm_submit_bio(md, DAX_REQ_READ, 0, (12 + k) * 512, back, 512), 0);
		CHECK(memcmp(back, src + k * 512, 512) == 0);
	}
	dax_device_get_stats(dm_md_find_device(md, A), &sa);
	dax_device_get_stats(dm_md_find_device(md, B), &sb);
	CHECK(sa.flushes >= 2 && sb.flushes >= 1);   /* one per slice, no drain */
	CHECK_EQ(sa.drains + sb.drains, 0);
	return T_PASS;
}

static int test_copy_flushcache_to_error_target_or_past_end_fails(void)
{
	struct mapped_device *md;
	unsigned char src[512] = { 0 };

	t_devs(64);
	md = t_live(t_fmt("0 8 linear %s 0\n8 8 error\n", A));
	CHECK_EQ(dm_copy_flushcache(md, 8 * 512, src, 512), -EIO);
	CHECK_MSG_HAS("no memory to copy to");
	CHECK(dm_copy_flushcache(md, 15 * 512, src, 1024) < 0);
	return T_PASS;
}

static int test_striped_status_marks_failed_stripe(void)
{
	struct mapped_device *md;
	struct dm_table *t;
	unsigned char buf[512];
	char *text;

	t_devs(64);
	md = t_live(t_fmt("0 32 striped 2 8 %s 0 %s 0\n", A, B));
	CHECK_EQ(dax_badblocks_add(dm_md_find_device(md, B), 0, 1), 0);
	CHECK_EQ(dm_submit_bio(md, DAX_REQ_READ, 0, 8 * 512, buf, sizeof(buf)), -EIO);
	t = dm_md_get_live_table(md);
	text = dm_table_status_text(t);
	dm_table_put(&t);
	CHECK_STR(text, t_fmt("0 32 striped 2 %s %s 1 AD\n", A, B));
	free(text);
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_linear_read_is_remapped),
	T_CASE(test_read_spanning_targets_is_split),
	T_CASE(test_unaligned_byte_range_is_remapped),
	T_CASE(test_striped_write_lands_on_mapped_sectors),
	T_CASE(test_zero_target_reads_zeroes_after_write),
	T_CASE(test_error_target_read_is_eio),
	T_CASE(test_error_target_write_is_eio),
	T_CASE(test_write_zeroes_zeroes_device_range),
	T_CASE(test_bio_past_end_is_eio),
	T_CASE(test_bio_without_live_table_is_eio),
	T_CASE(test_unknown_bio_op_is_einval),
	T_CASE(test_fua_write_and_flush_succeed),
	T_CASE(test_persist_range_flushes_every_device),
	T_CASE(test_copy_flushcache_is_split_at_targets_and_chunks),
	T_CASE(test_copy_flushcache_to_error_target_or_past_end_fails),
	T_CASE(test_striped_status_marks_failed_stripe),
};

T_MAIN(cases)
