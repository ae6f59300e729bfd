/* test_dax.c - dm_dax_direct_access and friends: clamping, errors, poison, resolve */
#include "fixture.h"
#include "dm/table.h"

static void put_table(void *arg)
{
	struct dm_table *t = arg;

	dm_table_put(&t);
}

/* §3.1: pgoff 300 -> target 2, off 352 -> B pgoff 44, clamp (2048-352)/8 = 212. */
static int test_linear_clamp_example_of_3_1(void)
{
	struct mapped_device *md;
	void *kaddr = NULL;

	t_devs(264);
	md = t_live(t_fmt("0 2048 linear %s 8\n2048 2048 linear %s 0\n", A, B));
	CHECK_EQ(dm_dax_direct_access(md, 300, 1000, DAX_ACCESS, &kaddr, NULL), 212);
	CHECK_EQ(*(uint64_t *)kaddr, t_word(2, 44 * 4096));
	return T_PASS;
}

/* §3.2: S = 3000 -> chunk 2, stripe 0 (A), pgoff 375 -> A pgoff 247, 9 pages. */
static int test_striped_clamp_example_of_3_2(void)
{
	struct mapped_device *md;
	void *kaddr = NULL;

	t_devs(512);
	md = t_live(t_fmt("0 8192 striped 2 1024 %s 0 %s 0\n", A, B));
	CHECK_EQ(dm_dax_direct_access(md, 375, 100, DAX_ACCESS, &kaddr, NULL), 9);
	CHECK_EQ(*(uint64_t *)kaddr, t_word(1, 247 * 4096));
	return T_PASS;
}

/* §7 item 8: two linear targets of 1000 pages; 600 pages at page 700 -> 300. */
static int test_request_is_clamped_at_target_boundary(void)
{
	struct mapped_device *md;

	t_devs(1000);
	md = t_live(t_fmt("0 8000 linear %s 0\n8000 8000 linear %s 0\n", A, B));
	CHECK_EQ(dm_dax_direct_access(md, 700, 600, DAX_ACCESS, NULL, NULL), 300);
	CHECK_EQ(dm_dax_direct_access(md, 1000, 600, DAX_ACCESS, NULL, NULL), 600);
	CHECK_EQ(dm_dax_direct_access(md, 1999, 600, DAX_ACCESS, NULL, NULL), 1);
	return T_PASS;
}

static int test_request_is_clamped_to_nr_pages(void)
{
	struct mapped_device *md;

	t_devs(64);
	md = t_live(t_fmt("0 512 linear %s 0\n", A));
	CHECK_EQ(dm_dax_direct_access(md, 10, 5, DAX_ACCESS, NULL, NULL), 5);
	return T_PASS;
}

/* §7 item 9: a page straddling a non-page-aligned boundary is -EIO. Such a
 * table cannot be loaded as DAX, so the snapshot is driven directly. */
static int test_page_straddling_target_boundary_is_eio(void)
{
	struct mapped_device *md = t_md();
	struct dm_table *t;

	t_devs(64);
	CHECK_EQ(dm_table_parse(md, t_fmt("0 12 linear %s 0\n12 12 linear %s 16\n", A, A),
				"test", &t), 0);
	t_defer(put_table, t);
	CHECK_EQ(dm_table_direct_access(t, 0, 4, DAX_ACCESS, NULL, NULL, NULL), 1);
	CHECK_EQ(dm_table_direct_access(t, 1, 1, DAX_ACCESS, NULL, NULL, NULL), -EIO);
	CHECK_MSG("target 0 (linear): page 1 straddles a target or chunk boundary (4 sectors left)");
	return T_PASS;
}

static int test_page_straddling_chunk_boundary_is_eio(void)
{
	struct mapped_device *md = t_md();
	struct dm_table *t;

	t_devs(64);
	CHECK_EQ(dm_table_parse(md, t_fmt("0 48 striped 2 12 %s 0 %s 0\n", A, B), "test", &t), 0);
	t_defer(put_table, t);
	CHECK_EQ(dm_table_direct_access(t, 1, 1, DAX_ACCESS, NULL, NULL, NULL), -EIO);
	return T_PASS;
}

/* §7 item 11: an unaligned linear offset is -EINVAL, as bdev_dax_pgoff was
 * up to 5.16 (and the table is refused at load, see test_md). */
static int test_unaligned_linear_offset_is_einval(void)
{
	struct mapped_device *md = t_md();
	struct dm_table *t;

	t_devs(64);
	CHECK_EQ(dm_table_parse(md, t_fmt("0 16 linear %s 1\n", A), "test", &t), 0);
	t_defer(put_table, t);
	CHECK_EQ(dm_table_direct_access(t, 0, 1, DAX_ACCESS, NULL, NULL, NULL), -EINVAL);
	return T_PASS;
}

static int test_no_live_table_is_eio(void)
{
	struct mapped_device *md = t_md();

	CHECK_EQ(dm_dax_direct_access(md, 0, 1, DAX_ACCESS, NULL, NULL), -EIO);
	CHECK_MSG("no live table");
	return T_PASS;
}

static int test_page_past_end_is_eio(void)
{
	struct mapped_device *md;

	t_devs(64);
	md = t_live(t_fmt("0 512 linear %s 0\n", A));
	CHECK_EQ(dm_dax_direct_access(md, 64, 1, DAX_ACCESS, NULL, NULL), -EIO);
	CHECK_EQ(dm_dax_direct_access(md, UINT64_MAX, 1, DAX_ACCESS, NULL, NULL), -EIO);
	return T_PASS;
}

static int test_zero_target_has_no_direct_access(void)
{
	struct mapped_device *md = t_live("0 512 zero\n");

	CHECK_EQ(dm_dax_direct_access(md, 0, 1, DAX_ACCESS, NULL, NULL), -EIO);
	CHECK_MSG("target 0 (zero): no direct_access");
	return T_PASS;
}

static int test_error_target_direct_access_is_eio(void)
{
	struct mapped_device *md;

	t_devs(64);
	md = t_live(t_fmt("0 256 linear %s 0\n256 256 error\n", A));
	CHECK_EQ(dm_dax_direct_access(md, 31, 10, DAX_ACCESS, NULL, NULL), 1);
	CHECK_EQ(dm_dax_direct_access(md, 32, 1, DAX_ACCESS, NULL, NULL), -EIO);
	return T_PASS;
}

static int test_negative_nr_pages_is_einval(void)
{
	struct mapped_device *md;

	t_devs(64);
	md = t_live(t_fmt("0 512 linear %s 0\n", A));
	CHECK_EQ(dm_dax_direct_access(md, 0, -1, DAX_ACCESS, NULL, NULL), -EINVAL);
	return T_PASS;
}

/* §7 item 13 through dm: poison at page 5 -> EHWPOISON, recovery mode -> 5
 * good pages, zeroing the page clears it. */
static int test_poison_passes_through_and_zeroing_clears_it(void)
{
	struct mapped_device *md;
	struct dax_device *dev;

	t_devs(64);
	md = t_live(t_fmt("0 256 linear %s 0\n256 256 linear %s 0\n", B, A));
	dev = dm_md_find_device(md, A);
	CHECK(dev);
	CHECK_EQ(dax_badblocks_add(dev, 5 * 8, 8), 0);
	CHECK_EQ(dm_dax_direct_access(md, 32, 10, DAX_ACCESS, NULL, NULL), -EHWPOISON);
	CHECK_EQ(dm_dax_direct_access(md, 32, 10, DAX_RECOVERY_WRITE, NULL, NULL), 5);
	CHECK_EQ(dm_dax_zero_page_range(md, 37, 1), 0);
	CHECK_EQ(dm_dax_direct_access(md, 32, 10, DAX_ACCESS, NULL, NULL), 10);
	return T_PASS;
}

static int test_zero_page_range_zeroes_mapped_page(void)
{
	struct mapped_device *md;
	void *kaddr;

	t_devs(64);
	md = t_live(t_fmt("0 512 striped 2 8 %s 0 %s 0\n", A, B));
	CHECK_EQ(dm_dax_zero_page_range(md, 3, 1), 0);
	/* page 3 is chunk 3: stripe 1 (B), its chunk 1 */
	CHECK_EQ(dm_dax_direct_access(md, 3, 1, DAX_ACCESS, &kaddr, NULL), 1);
	for (unsigned i = 0; i < 512; i++)
		CHECK_EQ(((uint64_t *)kaddr)[i], 0);
	CHECK_EQ(dm_dax_direct_access(md, 2, 1, DAX_ACCESS, &kaddr, NULL), 1);
	CHECK_EQ(*(uint64_t *)kaddr, t_word(1, 4096));
	return T_PASS;
}

static int test_zero_page_range_on_error_target_is_eio(void)
{
	struct mapped_device *md = t_live("0 512 error\n");

	CHECK_EQ(dm_dax_zero_page_range(md, 0, 1), -EIO);
	CHECK_EQ(dm_dax_zero_page_range(md, 64, 1), -EIO);
	return T_PASS;
}

static int test_recovery_write_on_error_target_writes_nothing(void)
{
	struct mapped_device *md = t_live("0 512 error\n");
	char buf[4096] = { 0 };

	CHECK_EQ(dm_dax_recovery_write(md, 0, buf, buf, sizeof(buf)), 0);
	return T_PASS;
}

static int test_recovery_write_clears_poisoned_page(void)
{
	struct mapped_device *md;
	struct dax_device *dev;
	static char src[4096];
	void *kaddr;

	t_devs(64);
	md = t_live(t_fmt("0 512 linear %s 0\n", A));
	dev = dm_md_find_device(md, A);
	CHECK_EQ(dax_badblocks_add(dev, 16, 8), 0);
	memset(src, 0x5a, sizeof(src));
	CHECK_EQ(dm_dax_direct_access(md, 2, 1, DAX_RECOVERY_WRITE, &kaddr, NULL), 1);
	CHECK_EQ(dm_dax_recovery_write(md, 2, kaddr, src, sizeof(src)), 4096);
	CHECK_EQ(dm_dax_direct_access(md, 2, 1, DAX_ACCESS, &kaddr, NULL), 1);
	CHECK_EQ(((unsigned char *)kaddr)[100], 0x5a);
	return T_PASS;
}

static int test_resolve_records_striped_steps(void)
{
	struct mapped_device *md;
	struct dm_resolution r;
	void *kaddr;
	uint64_t pfn;

	t_devs(512);
	md = t_live(t_fmt("0 8192 striped 2 1024 %s 0 %s 0\n", A, B));
	CHECK_EQ(dm_dax_resolve(md, 375, 100, &r), 9);
	CHECK_EQ(r.pgoff, 375);
	CHECK_EQ(r.sector, 3000);
	CHECK_EQ(r.error, 0);
	CHECK_EQ(r.target_index, 0);
	CHECK_STR(r.target_type, "striped");
	CHECK_EQ(r.target_begin, 0);
	CHECK_EQ(r.target_len, 8192);
	CHECK_EQ(r.stripe, 0);
	CHECK_STR(r.device_path, A);
	CHECK_EQ(r.device_sector, 1976);
	CHECK_EQ(r.device_pgoff, 247);
	CHECK_EQ(r.pages, 9);
	CHECK_EQ(dm_dax_direct_access(md, 375, 100, DAX_ACCESS, &kaddr, &pfn), 9);
	CHECK(r.kaddr == kaddr);
	CHECK(r.pfn == pfn);
	return T_PASS;
}

static int test_resolve_records_error_target(void)
{
	struct mapped_device *md;
	struct dm_resolution r;

	t_devs(64);
	md = t_live(t_fmt("0 256 linear %s 0\n256 256 error\n", A));
	CHECK_EQ(dm_dax_resolve(md, 40, 1, &r), -EIO);
	CHECK_EQ(r.error, -EIO);
	CHECK_EQ(r.target_index, 1);
	CHECK_STR(r.target_type, "error");
	CHECK_EQ(r.target_begin, 256);
	CHECK_STR(r.device_path, "");
	CHECK_EQ(r.stripe, -1);
	return T_PASS;
}

static int test_resolve_records_missing_target(void)
{
	struct mapped_device *md;
	struct dm_resolution r;

	t_devs(64);
	md = t_live(t_fmt("0 512 linear %s 0\n", A));
	CHECK_EQ(dm_dax_resolve(md, 64, 1, &r), -EIO);
	CHECK_EQ(r.error, -EIO);
	CHECK_EQ(r.target_index, -1);
	CHECK(r.target_type == NULL);
	return T_PASS;
}

/* The piece names the device itself: its index among md's devices. */
static int test_resolve_range_names_the_device_by_index(void)
{
	struct mapped_device *md;
	struct dm_resolution r;

	t_devs(64);
	md = t_live(t_fmt("0 256 linear %s 0\n256 256 linear %s 8\n", A, B));
	/* byte 100 of page 33: target 1 at sector 264 -> B sector 16 */
	CHECK_EQ(dm_dax_resolve_range(md, 33 * 4096 + 100, 1 << 20, &r), 31 * 4096 - 100);
	CHECK_EQ(r.error, 0);
	CHECK(r.device == dm_md_device(md, (unsigned)r.device_index));
	CHECK_STR(dax_device_path(r.device), B);
	CHECK_EQ(r.device_offset, 2 * 4096 + 100);
	return T_PASS;
}

/* A bad page fails alone: the pages before it are a piece of their own. */
static int test_resolve_range_stops_before_a_poisoned_page(void)
{
	struct mapped_device *md;
	struct dm_resolution r;

	t_devs(64);
	md = t_live(t_fmt("0 512 linear %s 0\n", A));
	CHECK_EQ(dax_badblocks_add(dm_md_device(md, 0), 5 * 8, 8), 0);
	CHECK_EQ(dm_dax_resolve_range(md, 2 * 4096, 20 * 4096, &r), 3 * 4096);
	CHECK_EQ(r.error, 0);
	CHECK_EQ(r.device_offset, 2 * 4096);
	CHECK_EQ(dm_dax_resolve_range(md, 5 * 4096, 17 * 4096, &r), 4096);
	CHECK_EQ(r.error, -EHWPOISON);
	CHECK_EQ(dm_dax_resolve_range(md, 6 * 4096, 16 * 4096, &r), 16 * 4096);
	CHECK_EQ(r.error, 0);
	return T_PASS;
}

/* Any other failure is the target's: the piece runs to its end. */
static int test_resolve_range_fails_to_the_targets_end(void)
{
	struct mapped_device *md;
	struct dm_resolution r;

	t_devs(64);
	md = t_live(t_fmt("0 256 linear %s 0\n256 256 error\n512 256 linear %s 0\n", A, B));
	CHECK_EQ(dm_dax_resolve_range(md, 40 * 4096, 40 * 4096, &r), 24 * 4096);
	CHECK_EQ(r.error, -EIO);
	CHECK_EQ(r.target_index, 1);
	CHECK_EQ(r.device_index, -1);
	CHECK_EQ(dm_dax_resolve_range(md, 100 * 4096, 8 * 4096, &r), 8 * 4096);
	CHECK_EQ(r.target_index, -1);
	CHECK_EQ(r.error, -EIO);
	return T_PASS;
}

static int test_target_counters_count_accesses_and_errors(void)
{
	struct mapped_device *md;
	struct dm_target_info info;
	struct dm_table *t;

	t_devs(64);
	md = t_live(t_fmt("0 256 linear %s 0\n256 256 error\n", A));
	for (int i = 0; i < 3; i++)
		dm_dax_direct_access(md, 1, 1, DAX_ACCESS, NULL, NULL);
	dm_dax_direct_access(md, 40, 1, DAX_ACCESS, NULL, NULL);
	t = dm_md_get_live_table(md);
	t_defer(put_table, t);
	CHECK_EQ(dm_table_target_info(t, 0, &info), 0);
	CHECK_EQ(info.ios, 3);
	CHECK_EQ(info.errors, 0);
	CHECK_EQ(dm_table_target_info(t, 1, &info), 0);
	CHECK_EQ(info.errors, 1);
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_linear_clamp_example_of_3_1),
	T_CASE(test_striped_clamp_example_of_3_2),
	T_CASE(test_request_is_clamped_at_target_boundary),
	T_CASE(test_request_is_clamped_to_nr_pages),
	T_CASE(test_page_straddling_target_boundary_is_eio),
	T_CASE(test_page_straddling_chunk_boundary_is_eio),
	T_CASE(test_unaligned_linear_offset_is_einval),
	T_CASE(test_no_live_table_is_eio),
	T_CASE(test_page_past_end_is_eio),
	T_CASE(test_zero_target_has_no_direct_access),
	T_CASE(test_error_target_direct_access_is_eio),
	T_CASE(test_negative_nr_pages_is_einval),
	T_CASE(test_poison_passes_through_and_zeroing_clears_it),
	T_CASE(test_zero_page_range_zeroes_mapped_page),
	T_CASE(test_zero_page_range_on_error_target_is_eio),
	T_CASE(test_recovery_write_on_error_target_writes_nothing),
	T_CASE(test_recovery_write_clears_poisoned_page),
	T_CASE(test_resolve_records_striped_steps),
	T_CASE(test_resolve_records_error_target),
	T_CASE(test_resolve_records_missing_target),
	T_CASE(test_resolve_range_names_the_device_by_index),
	T_CASE(test_resolve_range_stops_before_a_poisoned_page),
	T_CASE(test_resolve_range_fails_to_the_targets_end),
	T_CASE(test_target_counters_count_accesses_and_errors),
};

T_MAIN(cases)
