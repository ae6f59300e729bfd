/* test_member.c - member ranges: listing, mapping, reading through a table, overlap refusal, paths */
#include "fixture.h"

static struct dm_table *parse(struct mapped_device *md, const char *text)
{
	struct dm_table *t = NULL;

	if (dm_table_parse(md, text, "test", &t))
		fprintf(stderr, "parse: %s\n", daxfs_errormsg());
	return t;
}

static void put_table(void *arg)
{
	struct dm_table *t = arg;

	dm_table_put(&t);
}

/* A parsed table dropped after the test. */
static struct dm_table *t_table(struct mapped_device *md, const char *text)
{
	struct dm_table *t = parse(md, text);

	if (t)
		t_defer(put_table, t);
	return t;
}

static int test_members_are_listed_in_table_order(void)
{
	const char *a = t_pmem("a", 64, 1), *b = t_pmem("b", 64, 2), *c = t_pmem("c", 64, 3);
	struct dm_table *t = t_table(t_md(), t_fmt("0 64 linear %s 8\n"
						  "64 256 striped 2 16 %s 0 %s 32\n"
						  "320 8 error\n", a, b, c));
	struct dm_member m;
	unsigned first, count;

	CHECK(t);
	CHECK_EQ(dm_table_num_members(t), 3);
	CHECK_EQ(dm_table_get_member(t, 0, &m), 0);
	CHECK_STR(m.path, a);
	CHECK_STR(m.type, "linear");
	CHECK(m.target == 0 && m.stripe == 0 && m.nstripes == 1 && m.chunk == 0);
	CHECK(m.offset == 8 && m.length == 64 && m.device_size == 64 * 4096);
	CHECK(m.first_sector == 0 && m.last_sector == 63);
	CHECK_EQ(dm_table_get_member(t, 2, &m), 0);
	CHECK_STR(m.path, c);
	CHECK(m.target == 1 && m.stripe == 1 && m.nstripes == 2 && m.chunk == 16);
	CHECK(m.offset == 32 && m.length == 128);
	CHECK(m.target_begin == 64 && m.target_len == 256);
	/* stripe 1 holds chunks 1, 3, ... of the target: sectors 80-95 first,
	 * 304-319 last */
	CHECK(m.first_sector == 80 && m.last_sector == 319);
	CHECK_EQ(dm_table_get_member(t, 3, &m), -ERANGE);
	CHECK_EQ(dm_table_target_members(t, 1, &first, &count), 0);
	CHECK(first == 1 && count == 2);
	CHECK_EQ(dm_table_target_members(t, 2, &first, &count), 0);
	CHECK_EQ(count, 0);
	return T_PASS;
}

static int test_error_with_a_device_and_zero_have_no_members(void)
{
	const char *a = t_pmem("a", 16, 1);
	struct dm_table *t = t_table(t_md(), t_fmt("0 64 error %s 0\n64 64 zero\n", a));
	unsigned index;
	uint64_t off, run;

	CHECK(t);
	CHECK_EQ(dm_table_num_members(t), 0);
	CHECK_EQ(dm_table_map_member(t, 70, &index, &off, &run), -ENOENT);
	CHECK_MSG("sector 70: target 1 (zero) maps no device");
	CHECK_EQ(dm_table_map_member(t, 128, &index, &off, &run), -ERANGE);
	return T_PASS;
}

static int test_map_member_gives_the_area_offset_and_run(void)
{
	const char *a = t_pmem("a", 64, 1), *b = t_pmem("b", 64, 2);
	struct dm_table *t = t_table(t_md(), t_fmt("0 16 linear %s 100\n"
						  "16 64 striped 2 8 %s 0 %s 40\n", a, a, b));
	unsigned index;
	uint64_t off, run;

	CHECK(t);
	CHECK_EQ(dm_table_map_member(t, 5, &index, &off, &run), 0);
	CHECK(index == 0 && off == 5 && run == 11);
	/* chunk 3 of the striped target is stripe 1's second chunk */
	CHECK_EQ(dm_table_map_member(t, 16 + 3 * 8 + 2, &index, &off, &run), 0);
	CHECK(index == 2 && off == 8 + 2 && run == 6);
	return T_PASS;
}

static int test_member_read_reads_the_area_on_its_device(void)
{
	const char *a = t_pmem("a", 64, 1), *b = t_pmem("b", 64, 2);
	struct dm_table *t = t_table(t_md(), t_fmt("0 64 linear %s 0\n"
						  "64 64 linear %s 16\n", a, b));
	uint64_t w[2];

	CHECK(t);
	CHECK_EQ(dm_table_member_read(t, 1, 4096, w, sizeof(w)), 0);
	CHECK_EQ(w[0], t_word(2, 16 * 512 + 4096));
	CHECK_EQ(w[1], t_word(2, 16 * 512 + 4104));
	CHECK_EQ(dm_table_member_read(t, 1, 64 * 512 - 8, w, 16), -ERANGE);
	CHECK_MSG(t_fmt("member 1 (%s): bytes 32760+16 are past its 32768 bytes", b));
	CHECK_EQ(dm_table_member_read(t, 2, 0, w, 8), -ERANGE);
	return T_PASS;
}

static int test_table_read_goes_through_a_staged_table(void)
{
	const char *a = t_pmem("a", 16, 1), *b = t_pmem("b", 16, 2);
	struct mapped_device *md = t_md();
	struct dm_table *staged;
	uint64_t w;

	CHECK_EQ(t_make_live(md, t_fmt("0 128 linear %s 0\n", a)), 0);
	staged = parse(md, t_fmt("0 128 linear %s 0\n", b));
	CHECK(staged);
	CHECK_EQ(dm_md_load(md, staged), 0);
	staged = dm_md_get_inactive_table(md);
	CHECK(staged);
	t_defer(put_table, staged);
	CHECK_EQ(dm_table_read(staged, 4096, &w, sizeof(w)), 0);
	CHECK_EQ(w, t_word(2, 4096));
	CHECK_EQ(dm_submit_bio(md, DAX_REQ_READ, 0, 4096, &w, sizeof(w)), 0);
	CHECK_EQ(w, t_word(1, 4096));       /* the live table still maps a */
	CHECK_EQ(dm_table_read(staged, 128 * 512 - 4, &w, sizeof(w)), -EIO);
	return T_PASS;
}

static int test_table_read_of_an_error_target_fails(void)
{
	struct dm_table *t = t_table(t_md(), "0 64 error\n");
	char buf[512];

	CHECK(t);
	CHECK_EQ(dm_table_read(t, 0, buf, sizeof(buf)), -EIO);
	return T_PASS;
}

static int load_text(struct mapped_device *md, const char *text)
{
	struct dm_table *t = parse(md, text);
	int r;

	if (!t)
		return -EINVAL;
	r = dm_md_load(md, t);
	if (r)
		dm_table_put(&t);
	return r;
}

static int test_load_refuses_a_range_of_a_device_mapped_twice(void)
{
	const char *f = t_pmem("f", 64, 1);

	/* the shape of the bug report: a 64 KiB target and a small one on the
	 * same first sectors */
	CHECK_EQ(load_text(t_md(), t_fmt("0 128 linear %s 0\n128 8 linear %s 0\n", f, f)), -EINVAL);
	CHECK_MSG(t_fmt("test: target 1 (linear): sectors 0-7 of %s are mapped twice: target 0 "
			"(linear) maps them too; a table must not map a byte of a device twice", f));
	return T_PASS;
}

static int test_load_refuses_overlapping_ranges_in_either_order(void)
{
	const char *f = t_pmem("f", 64, 1);

	CHECK_EQ(load_text(t_md(), t_fmt("0 64 linear %s 104\n64 64 linear %s 48\n", f, f)), -EINVAL);
	CHECK_MSG_HAS(t_fmt("target 1 (linear): sectors 104-111 of %s are mapped twice: target 0 "
			    "(linear) maps them too", f));
	return T_PASS;
}

static int test_load_refuses_two_stripes_on_one_range(void)
{
	const char *f = t_pmem("f", 64, 1), *g = t_pmem("g", 64, 2);

	CHECK_EQ(load_text(t_md(), t_fmt("0 64 linear %s 0\n64 128 striped 2 8 %s 0 %s 32\n",
					 g, f, f)), -EINVAL);
	CHECK_MSG_HAS(t_fmt("target 1 (striped) stripe 1: sectors 32-63 of %s are mapped twice: "
			    "target 1 (striped) stripe 0 maps them too", f));
	return T_PASS;
}

static int test_load_refuses_overlap_through_another_path_to_the_file(void)
{
	const char *f = t_pmem("f", 64, 1);
	char hard[256], sym[256];

	snprintf(hard, sizeof(hard), "%s", t_path("hard"));
	snprintf(sym, sizeof(sym), "%s", t_path("sym"));
	CHECK(link(f, hard) == 0);
	CHECK(symlink(f, sym) == 0);
	CHECK_EQ(load_text(t_md(), t_fmt("0 64 linear %s 0\n64 64 linear %s 32\n", f, hard)),
		 -EINVAL);
	CHECK_MSG_HAS(t_fmt("target 1 (linear): sectors 32-63 of %s are mapped twice: target 0 "
			    "(linear) maps them too, as %s (the same file)", hard, f));
	CHECK_EQ(load_text(t_md(), t_fmt("0 64 linear %s 0\n64 64 linear %s 0\n", sym, f)),
		 -EINVAL);
	CHECK_MSG_HAS(t_fmt("as %s (the same file)", sym));
	return T_PASS;
}

static int test_load_accepts_adjacent_ranges_of_one_device(void)
{
	const char *f = t_pmem("f", 64, 1);

	CHECK_EQ(load_text(t_md(), t_fmt("0 64 linear %s 64\n64 64 linear %s 0\n"
					 "128 128 striped 2 8 %s 128 %s 192\n", f, f, f, f)), 0);
	return T_PASS;
}

static int test_reload_with_overlap_keeps_the_live_table(void)
{
	const char *f = t_pmem("f", 64, 1);
	struct mapped_device *md = t_md();
	struct dm_md_info info;

	CHECK_EQ(t_make_live(md, t_fmt("0 64 linear %s 0\n64 64 linear %s 64\n", f, f)), 0);
	CHECK_EQ(load_text(md, t_fmt("0 64 linear %s 0\n64 64 linear %s 56\n", f, f)), -EINVAL);
	dm_md_get_info(md, &info);
	CHECK(info.live_present && !info.inactive_present);
	return T_PASS;
}

static int test_relative_device_path_is_recorded_absolute(void)
{
	const char *f = t_pmem("f", 16, 1);
	struct mapped_device *md = t_md();
	char *cwd = getcwd(NULL, 0), *text;
	struct dm_table *t;

	CHECK(cwd && chdir(t_tmpdir()) == 0);
	t = parse(md, "0 64 linear ./f 0\n64 64 linear f 64\n");
	CHECK(chdir(cwd) == 0);
	free(cwd);
	CHECK(t);
	t_defer(put_table, t);
	text = dm_table_text(t);
	CHECK_STR(text, t_fmt("0 64 linear %s 0\n64 64 linear %s 64\n", f, f));
	free(text);
	return T_PASS;
}

static int test_source_absolute_makes_every_name_absolute(void)
{
	char *cwd = getcwd(NULL, 0), *out = NULL;

	CHECK(cwd && chdir(t_tmpdir()) == 0);
	CHECK_EQ(dm_source_absolute("a,./b,/x/c", &out), 0);
	CHECK(chdir(cwd) == 0);
	free(cwd);
	CHECK_STR(out, t_fmt("%s/a,%s/b,/x/c", t_tmpdir(), t_tmpdir()));
	free(out);
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_members_are_listed_in_table_order),
	T_CASE(test_error_with_a_device_and_zero_have_no_members),
	T_CASE(test_map_member_gives_the_area_offset_and_run),
	T_CASE(test_member_read_reads_the_area_on_its_device),
	T_CASE(test_table_read_goes_through_a_staged_table),
	T_CASE(test_table_read_of_an_error_target_fails),
	T_CASE(test_load_refuses_a_range_of_a_device_mapped_twice),
	T_CASE(test_load_refuses_overlapping_ranges_in_either_order),
	T_CASE(test_load_refuses_two_stripes_on_one_range),
	T_CASE(test_load_refuses_overlap_through_another_path_to_the_file),
	T_CASE(test_load_accepts_adjacent_ranges_of_one_device),
	T_CASE(test_reload_with_overlap_keeps_the_live_table),
	T_CASE(test_relative_device_path_is_recorded_absolute),
	T_CASE(test_source_absolute_makes_every_name_absolute),
};

T_MAIN(cases)
