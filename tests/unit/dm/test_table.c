/* test_table.c - the table parser, target constructors, lookup and table/status text */
#include "fixture.h"
#include "dm/table.h"

static const char *A, *B;

/* Two 64-page backing files, A and B. */
static void devs(void)
{
	t_pmem_pair(&A, &B);
}

/* Parses text; expects failure with exactly msg. */
static int parse_fails(const char *text, const char *msg)
{
	struct mapped_device *md = t_md();
	struct dm_table *t = NULL;

	CHECK_EQ(dm_table_parse(md, text, "test", &t), -EINVAL);
	CHECK(t == NULL);
	CHECK_MSG(msg);
	return T_PASS;
}

static struct dm_table *parse_ok(struct mapped_device *md, const char *text)
{
	struct dm_table *t = NULL;

	if (dm_table_parse(md, text, "test", &t)) {
		fprintf(stderr, "parse of \"%s\" failed: %s\n", text, daxfs_errormsg());
		return NULL;
	}
	return t;
}

static void put_table(void *arg)
{
	struct dm_table *t = arg;

	dm_table_put(&t);
}

static int test_parse_gap_between_targets_fails(void)
{
	devs();
	return parse_fails(t_fmt("0 8 linear %s 0\n16 8 linear %s 8\n", A, A),
			   "test:2: linear: Gap in table");
}

static int test_parse_lines_out_of_order_fail(void)
{
	devs();
	return parse_fails(t_fmt("8 8 linear %s 8\n0 8 linear %s 0\n", A, A),
			   "test:1: linear: Gap in table");
}

static int test_parse_overlapping_targets_fail(void)
{
	devs();
	return parse_fails(t_fmt("0 16 linear %s 0\n8 8 linear %s 8\n", A, A),
			   "test:2: linear: Gap in table");
}

static int test_parse_zero_length_target_fails(void)
{
	return parse_fails("0 8 zero\n8 0 zero\n", "test:2: zero: zero-length target");
}

static int test_parse_too_large_target_fails(void)
{
	return parse_fails("0 18014398509481984 zero\n", "test:1: zero: too large device");
}

static int test_parse_overflowing_end_fails(void)
{
	return parse_fails("0 8 zero\n8 18446744073709551615 zero\n",
			   "test:2: zero: too large device");
}

static int test_parse_unknown_type_fails(void)
{
	return parse_fails("0 8 mirror a b\n", "test:1: mirror: unknown target type");
}

static int test_parse_empty_text_has_no_targets(void)
{
	return parse_fails("", "test: no targets specified");
}

static int test_parse_only_comments_has_no_targets(void)
{
	return parse_fails("# nothing\n\n   \n  # indented\n", "test: no targets specified");
}

static int test_parse_short_line_is_invalid_format(void)
{
	return parse_fails("0 8\n", "test:1: Invalid format: expected "
			   "\"<start> <length> <type> [<args>...]\"");
}

static int test_parse_signed_start_fails(void)
{
	return parse_fails("-0 8 zero\n", "test:1: zero: Invalid start sector \"-0\"");
}

static int test_parse_junk_length_fails(void)
{
	return parse_fails("0 8k zero\n", "test:1: zero: Invalid length \"8k\"");
}

static int test_parse_comments_and_blank_lines_keep_line_numbers(void)
{
	return parse_fails("# header\n\n   0 8 zero   \n\t# more\n8 8 zero x\n",
			   "test:5: zero: No arguments required");
}

static int test_linear_one_argument_fails(void)
{
	devs();
	return parse_fails(t_fmt("0 8 linear %s\n", A), "test:1: linear: Invalid argument count");
}

static int test_linear_three_arguments_fail(void)
{
	devs();
	return parse_fails(t_fmt("0 8 linear %s 0 0\n", A), "test:1: linear: Invalid argument count");
}

static int test_linear_offset_with_junk_fails(void)
{
	devs();
	return parse_fails(t_fmt("0 8 linear %s 8x\n", A), "test:1: linear: Invalid device sector");
}

static int test_linear_negative_offset_fails(void)
{
	devs();
	return parse_fails(t_fmt("0 8 linear %s -8\n", A), "test:1: linear: Invalid device sector");
}

static int test_linear_overflowing_offset_fails(void)
{
	devs();
	return parse_fails(t_fmt("0 8 linear %s 18446744073709551616\n", A),
			   "test:1: linear: Invalid device sector");
}

static int test_linear_missing_device_names_it(void)
{
	struct mapped_device *md = t_md();
	struct dm_table *t;
	const char *missing = t_path("missing");

	CHECK(dm_table_parse(md, t_fmt("0 8 linear %s 0\n", missing), "test", &t) < 0);
	CHECK(strncmp(daxfs_errormsg(), "test:1: linear: Device lookup failed: ", 38) == 0);
	CHECK_MSG_HAS(missing);
	return T_PASS;
}

static int test_striped_non_power_of_two_chunk_is_accepted(void)
{
	struct mapped_device *md = t_md();
	struct dm_table *t;

	devs();
	t = parse_ok(md, t_fmt("0 3000 striped 2 500 %s 0 %s 0\n", A, B));
	CHECK(t);
	CHECK_EQ(dm_table_size(t), 3000);
	dm_table_put(&t);
	return T_PASS;
}

static int test_striped_width_not_multiple_of_chunk_fails(void)
{
	devs();
	return parse_fails(t_fmt("0 3000 striped 2 1024 %s 0 %s 0\n", A, B),
			   "test:1: striped: Target length not divisible by chunk size");
}

static int test_striped_too_few_destinations_fail(void)
{
	devs();
	return parse_fails(t_fmt("0 4096 striped 2 1024 %s 0\n", A),
			   "test:1: striped: Not enough destinations specified");
}

static int test_striped_length_not_multiple_of_stripes_fails(void)
{
	devs();
	return parse_fails(t_fmt("0 3001 striped 2 1 %s 0 %s 0\n", A, B),
			   "test:1: striped: Target length not divisible by number of stripes");
}

static int test_striped_zero_stripes_fails(void)
{
	return parse_fails("0 8 striped 0 8\n", "test:1: striped: Invalid stripe count");
}

static int test_striped_zero_chunk_fails(void)
{
	devs();
	return parse_fails(t_fmt("0 8 striped 1 0 %s 0\n", A), "test:1: striped: Invalid chunk_size");
}

static int test_striped_one_argument_fails(void)
{
	return parse_fails("0 8 striped 1\n", "test:1: striped: Not enough arguments");
}

static int test_striped_bad_offset_fails(void)
{
	devs();
	return parse_fails(t_fmt("0 16 striped 2 8 %s 0 %s 0x8\n", A, B),
			   "test:1: striped: Couldn't parse stripe destination");
}

/* kstrtouint takes one leading '+' for the stripe count and chunk size, and
 * dmsetup's sscanf("%llu") one for start and length; the sectors the
 * constructors read with the kernel's sscanf("%llu%c") take none. */
static int test_plus_sign_accepted_where_the_kernel_parsers_take_it(void)
{
	struct mapped_device *md = t_md();
	struct dm_table *t;
	char *text;

	devs();
	t = parse_ok(md, t_fmt("+0 +16 striped +2 +8 %s 0 %s 0\n+16 8 zero\n", A, B));
	CHECK(t);
	text = dm_table_text(t);
	CHECK_STR(text, t_fmt("0 16 striped 2 8 %s 0 %s 0\n16 8 zero\n", A, B));
	free(text);
	dm_table_put(&t);
	return T_PASS;
}

static int test_plus_sign_on_a_linear_offset_fails(void)
{
	devs();
	return parse_fails(t_fmt("0 8 linear %s +8\n", A), "test:1: linear: Invalid device sector");
}

static int test_plus_sign_on_a_stripe_offset_fails(void)
{
	devs();
	return parse_fails(t_fmt("0 16 striped 2 8 %s 0 %s +0\n", A, B),
			   "test:1: striped: Couldn't parse stripe destination");
}

static int test_plus_sign_on_an_error_sector_fails(void)
{
	devs();
	return parse_fails(t_fmt("0 8 error %s +0\n", A), "test:1: error: Invalid device sector");
}

static int test_double_sign_or_minus_stripe_count_fails(void)
{
	devs();
	CHECK_EQ(parse_fails(t_fmt("0 8 striped ++1 8 %s 0\n", A),
			     "test:1: striped: Invalid stripe count"), T_PASS);
	CHECK_EQ(parse_fails(t_fmt("0 8 striped -1 8 %s 0\n", A),
			     "test:1: striped: Invalid stripe count"), T_PASS);
	return parse_fails("+-0 8 zero\n", "test:1: zero: Invalid start sector \"+-0\"");
}

static int test_zero_with_arguments_fails(void)
{
	return parse_fails("0 8 zero 1\n", "test:1: zero: No arguments required");
}

static int test_error_with_other_argument_counts_is_accepted(void)
{
	struct mapped_device *md = t_md();
	struct dm_table *t = parse_ok(md, "0 8 error\n8 8 error a\n16 8 error a b c\n");

	CHECK(t);
	CHECK_EQ(dm_table_num_targets(t), 3);
	CHECK_EQ(dm_md_num_devices(md), 0);
	dm_table_put(&t);
	return T_PASS;
}

static int test_error_with_bad_sector_fails(void)
{
	devs();
	return parse_fails(t_fmt("0 8 error %s 1x\n", A), "test:1: error: Invalid device sector");
}

static int test_split_args_handles_escapes(void)
{
	char in[] = "  a\\ b\tc\\\\d  e\\";
	unsigned argc;
	char **argv;

	CHECK_EQ(dm_split_args(in, &argc, &argv), 0);
	CHECK_EQ(argc, 3);
	CHECK_STR(argv[0], "a b");
	CHECK_STR(argv[1], "c\\d");
	CHECK_STR(argv[2], "e\\");
	CHECK(argv[3] == NULL);
	free(argv);
	return T_PASS;
}

static int test_escaped_path_with_space_opens_device(void)
{
	struct mapped_device *md = t_md();
	const char *spaced = t_pmem("with space", 8, 3);
	char esc[300];
	struct dm_table *t;
	char *text;
	size_t j = 0;

	for (const char *p = spaced; *p; p++) {
		if (*p == ' ')
			esc[j++] = '\\';
		esc[j++] = *p;
	}
	esc[j] = '\0';
	t = parse_ok(md, t_fmt("0 64 linear %s 0\n", esc));
	CHECK(t);
	t_defer(put_table, t);
	CHECK(dm_md_find_device(md, spaced) != NULL);
	text = dm_table_text(t);
	CHECK_STR(text, t_fmt("0 64 linear %s 0\n", esc));
	free(text);
	return T_PASS;
}

static int test_table_text_round_trips(void)
{
	struct mapped_device *md = t_md();
	struct dm_table *t, *t2;
	const char *canon;
	char *text, *text2;

	devs();
	/* error has no status: its arguments are not printed back */
	canon = t_fmt("0 16 linear %s 8\n16 32 striped 2 8 %s 0 %s 16\n48 8 error\n"
		      "56 8 error\n64 8 zero\n72 8 error\n", A, A, B);
	t = parse_ok(md, t_fmt("# a comment\n0   16 linear %s 8\n\n16 32 striped 2 8 %s 0 %s 16\n"
			       "48 8 error\n56 8 error %s 0\n64 8 zero\n72 8 error x  y z\n",
			       A, A, B, B));
	CHECK(t);
	t_defer(put_table, t);
	text = dm_table_text(t);
	CHECK_STR(text, canon);
	t2 = parse_ok(md, text);
	CHECK(t2);
	t_defer(put_table, t2);
	text2 = dm_table_text(t2);
	CHECK_STR(text2, canon);
	free(text);
	free(text2);
	return T_PASS;
}

static int test_status_text_prints_target_info(void)
{
	struct mapped_device *md = t_md();
	struct dm_table *t;
	char *text;

	devs();
	t = parse_ok(md, t_fmt("0 8 linear %s 0\n8 16 striped 2 8 %s 0 %s 0\n24 8 zero\n",
			       A, A, B));
	CHECK(t);
	text = dm_table_status_text(t);
	CHECK_STR(text, t_fmt("0 8 linear\n8 16 striped 2 %s %s 1 AA\n24 8 zero\n", A, B));
	free(text);
	dm_table_put(&t);
	return T_PASS;
}

static int test_find_target_returns_owner_of_every_sector(void)
{
	struct mapped_device *md = t_md();
	char text[8192];
	uint64_t begins[101], start = 0;
	size_t n = 0;
	struct dm_table *t;

	for (unsigned i = 0; i < 100; i++) {
		uint64_t len = 1 + (i * 7919) % 13;

		begins[i] = start;
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%llu %llu zero\n",
				      (unsigned long long)start, (unsigned long long)len);
		start += len;
	}
	begins[100] = start;
	t = parse_ok(md, text);
	CHECK(t);
	t_defer(put_table, t);
	CHECK_EQ(dm_table_size(t), start);
	for (unsigned i = 0; i < 100; i++) {
		for (uint64_t s = begins[i]; s < begins[i + 1]; s++) {
			struct dm_target *ti = dm_table_find_target(t, s);

			CHECK(ti);
			CHECK_EQ(ti->index, i);
		}
	}
	CHECK(dm_table_find_target(t, start) == NULL);
	CHECK(dm_table_find_target(t, UINT64_MAX) == NULL);
	return T_PASS;
}

static int test_fingerprint_depends_only_on_lengths(void)
{
	struct mapped_device *md = t_md();
	struct dm_table *a, *b, *c;

	devs();
	a = parse_ok(md, t_fmt("0 8 linear %s 0\n8 16 zero\n", A));
	b = parse_ok(md, t_fmt("0 8 linear %s 8\n8 16 linear %s 0\n", B, A));
	c = parse_ok(md, t_fmt("0 16 linear %s 0\n16 8 zero\n", A));
	CHECK(a && b && c);
	t_defer(put_table, a);
	t_defer(put_table, b);
	t_defer(put_table, c);
	CHECK(dm_table_layout_fingerprint(a) == dm_table_layout_fingerprint(b));
	CHECK(dm_table_layout_fingerprint(a) != dm_table_layout_fingerprint(c));
	return T_PASS;
}

static int test_zero_target_makes_table_not_dax(void)
{
	struct mapped_device *md = t_md();
	struct dm_table *t;

	devs();
	t = parse_ok(md, t_fmt("0 8 linear %s 0\n8 8 zero\n", A));
	CHECK(t);
	CHECK(!dm_table_supports_dax(t));
	CHECK_STR(dm_table_not_dax_reason(t), "target 1 (zero): no direct_access");
	dm_table_put(&t);
	return T_PASS;
}

static int test_error_target_counts_as_dax_capable(void)
{
	struct mapped_device *md = t_md();
	struct dm_table *t;

	devs();
	t = parse_ok(md, t_fmt("0 8 linear %s 0\n8 8 error\n16 8 error %s 0\n", A, B));
	CHECK(t);
	CHECK(dm_table_supports_dax(t));
	CHECK(dm_table_not_dax_reason(t) == NULL);
	dm_table_put(&t);
	return T_PASS;
}

static int test_target_info_describes_target(void)
{
	struct mapped_device *md = t_md();
	struct dm_target_info info;
	struct dm_table *t;

	devs();
	t = parse_ok(md, t_fmt("0 8 linear %s 0\n8 16 zero\n", A));
	CHECK(t);
	t_defer(put_table, t);
	CHECK_EQ(dm_table_target_info(t, 1, &info), 0);
	CHECK_EQ(info.index, 1);
	CHECK_STR(info.type, "zero");
	CHECK_EQ(info.begin, 8);
	CHECK_EQ(info.len, 16);
	CHECK(!info.dax);
	CHECK_EQ(dm_table_target_info(t, 0, &info), 0);
	CHECK(info.dax);
	CHECK_EQ(dm_table_target_info(t, 2, &info), -ERANGE);
	return T_PASS;
}

static int test_same_file_is_opened_once(void)
{
	struct mapped_device *md = t_md();
	struct dm_table *t;
	char link[300];

	devs();
	snprintf(link, sizeof(link), "%s", t_path("A-link"));
	CHECK(symlink(A, link) == 0);
	t = parse_ok(md, t_fmt("0 8 linear %s 0\n8 8 linear %s 8\n16 8 linear %s 16\n",
			       A, link, B));
	CHECK(t);
	CHECK_EQ(dm_md_num_devices(md), 2);
	CHECK_EQ(t->num_devs, 2);
	dm_table_put(&t);
	return T_PASS;
}

static int test_parse_file_names_file_and_line(void)
{
	struct mapped_device *md = t_md();
	const char *path = t_path("table");
	struct dm_table *t;
	FILE *f = fopen(path, "w");

	CHECK(f);
	fputs("0 8 zero\n8 8 zero extra\n", f);
	fclose(f);
	CHECK_EQ(dm_table_parse_file(md, path, &t), -EINVAL);
	CHECK_MSG(t_fmt("%s:2: zero: No arguments required", path));
	return T_PASS;
}

static int test_parse_file_with_nul_byte_fails(void)
{
	struct mapped_device *md = t_md();
	const char *path = t_path("table");
	struct dm_table *t;
	FILE *f = fopen(path, "w");

	CHECK(f);
	fwrite("0 8 zero\n\0", 1, 10, f);
	fclose(f);
	CHECK_EQ(dm_table_parse_file(md, path, &t), -EINVAL);
	CHECK_MSG(t_fmt("%s: not a text table (contains NUL bytes)", path));
	return T_PASS;
}

static int test_parse_file_missing_names_file(void)
{
	struct mapped_device *md = t_md();
	const char *path = t_path("nope");
	struct dm_table *t;

	CHECK_EQ(dm_table_parse_file(md, path, &t), -ENOENT);
	CHECK_MSG(t_fmt("%s: No such file or directory", path));
	return T_PASS;
}

static int test_parse_without_device_fails(void)
{
	struct dm_table *t;

	CHECK_EQ(dm_table_parse(NULL, "0 8 zero\n", "test", &t), -EINVAL);
	CHECK_MSG("dm_table_parse: no mapped device");
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_parse_gap_between_targets_fails),
	T_CASE(test_parse_lines_out_of_order_fail),
	T_CASE(test_parse_overlapping_targets_fail),
	T_CASE(test_parse_zero_length_target_fails),
	T_CASE(test_parse_too_large_target_fails),
	T_CASE(test_parse_overflowing_end_fails),
	T_CASE(test_parse_unknown_type_fails),
	T_CASE(test_parse_empty_text_has_no_targets),
	T_CASE(test_parse_only_comments_has_no_targets),
	T_CASE(test_parse_short_line_is_invalid_format),
	T_CASE(test_parse_signed_start_fails),
	T_CASE(test_parse_junk_length_fails),
	T_CASE(test_parse_comments_and_blank_lines_keep_line_numbers),
	T_CASE(test_linear_one_argument_fails),
	T_CASE(test_linear_three_arguments_fail),
	T_CASE(test_linear_offset_with_junk_fails),
	T_CASE(test_linear_negative_offset_fails),
	T_CASE(test_linear_overflowing_offset_fails),
	T_CASE(test_linear_missing_device_names_it),
	T_CASE(test_striped_non_power_of_two_chunk_is_accepted),
	T_CASE(test_striped_width_not_multiple_of_chunk_fails),
	T_CASE(test_striped_too_few_destinations_fail),
	T_CASE(test_striped_length_not_multiple_of_stripes_fails),
	T_CASE(test_striped_zero_stripes_fails),
	T_CASE(test_striped_zero_chunk_fails),
	T_CASE(test_striped_one_argument_fails),
	T_CASE(test_striped_bad_offset_fails),
	T_CASE(test_plus_sign_accepted_where_the_kernel_parsers_take_it),
	T_CASE(test_plus_sign_on_a_linear_offset_fails),
	T_CASE(test_plus_sign_on_a_stripe_offset_fails),
	T_CASE(test_plus_sign_on_an_error_sector_fails),
	T_CASE(test_double_sign_or_minus_stripe_count_fails),
	T_CASE(test_zero_with_arguments_fails),
	T_CASE(test_error_with_other_argument_counts_is_accepted),
	T_CASE(test_error_with_bad_sector_fails),
	T_CASE(test_split_args_handles_escapes),
	T_CASE(test_escaped_path_with_space_opens_device),
	T_CASE(test_table_text_round_trips),
	T_CASE(test_status_text_prints_target_info),
	T_CASE(test_find_target_returns_owner_of_every_sector),
	T_CASE(test_fingerprint_depends_only_on_lengths),
	T_CASE(test_zero_target_makes_table_not_dax),
	T_CASE(test_error_target_counts_as_dax_capable),
	T_CASE(test_target_info_describes_target),
	T_CASE(test_same_file_is_opened_once),
	T_CASE(test_parse_file_names_file_and_line),
	T_CASE(test_parse_file_with_nul_byte_fails),
	T_CASE(test_parse_file_missing_names_file),
	T_CASE(test_parse_without_device_fails),
};

T_MAIN(cases)
