/* test_source.c - opening a SOURCE: table files and lists of pmem files */
#include "fixture.h"

static void md_destroy(void *arg)
{
	struct mapped_device *md = arg;

	dm_md_destroy(&md);
}

static const char *write_file(const char *name, const char *text)
{
	const char *path = t_path(name);
	FILE *f = fopen(path, "w");

	if (!f)
		return NULL;
	fputs(text, f);
	fclose(f);
	return path;
}

static int test_single_pmem_file_is_one_linear_target(void)
{
	const char *a = t_pmem("A", 16, 1);
	struct mapped_device *md;
	struct dm_md_info info;
	char *text;

	CHECK_EQ(dm_md_open_source(a, "pmem", &md), 0);
	t_defer(md_destroy, md);
	text = t_live_text(md);
	CHECK_STR(text, t_fmt("0 128 linear %s 0\n", a));
	free(text);
	dm_md_get_info(md, &info);
	CHECK(info.dax);
	CHECK(!info.suspended);
	CHECK_STR(dm_md_name(md), "pmem");
	return T_PASS;
}

static int test_list_concatenates_files_in_order(void)
{
	const char *a = t_pmem("A", 16, 1), *b = t_pmem("B", 8, 2);
	struct mapped_device *md;
	char *text;
	void *kaddr;

	CHECK_EQ(dm_md_open_source(t_fmt("%s,%s", b, a), NULL, &md), 0);
	t_defer(md_destroy, md);
	text = t_live_text(md);
	CHECK_STR(text, t_fmt("0 64 linear %s 0\n64 128 linear %s 0\n", b, a));
	free(text);
	CHECK_EQ(dm_dax_direct_access(md, 8, 1, DAX_ACCESS, &kaddr, NULL), 1);
	CHECK_EQ(*(uint64_t *)kaddr, t_word(1, 0));
	CHECK_STR(dm_md_name(md), "daxfs");
	return T_PASS;
}

static int test_list_rounds_sizes_down_to_pages(void)
{
	const char *a = t_pmem("A", 4, 1);
	struct mapped_device *md;
	char *text;

	CHECK(truncate(a, 4 * 4096 + 1000) == 0);
	CHECK_EQ(dm_md_open_source(a, NULL, &md), 0);
	t_defer(md_destroy, md);
	text = t_live_text(md);
	CHECK_STR(text, t_fmt("0 32 linear %s 0\n", a));
	free(text);
	return T_PASS;
}

static int test_table_file_is_parsed(void)
{
	const char *a = t_pmem("A", 16, 1);
	const char *table = write_file("pmem.table", t_fmt("# two halves\n0 64 linear %s 64\n"
							   "64 64 linear %s 0\n", a, a));
	struct mapped_device *md;
	char *text;

	CHECK(table);
	CHECK_EQ(dm_md_open_source(table, NULL, &md), 0);
	t_defer(md_destroy, md);
	text = t_live_text(md);
	CHECK_STR(text, t_fmt("0 64 linear %s 64\n64 64 linear %s 0\n", a, a));
	free(text);
	return T_PASS;
}

static int test_table_file_error_names_file_and_line(void)
{
	const char *table = write_file("bad.table", "0 8 zero\n16 8 zero\n");
	struct mapped_device *md;

	CHECK(table);
	CHECK_EQ(dm_md_open_source(table, NULL, &md), -EINVAL);
	CHECK(md == NULL);
	CHECK_MSG(t_fmt("%s:2: zero: Gap in table", table));
	return T_PASS;
}

static int test_missing_source_names_file(void)
{
	const char *missing = t_path("missing");
	struct mapped_device *md;

	CHECK_EQ(dm_md_open_source(missing, NULL, &md), -ENOENT);
	CHECK_MSG(t_fmt("%s: No such file or directory", missing));
	return T_PASS;
}

static int test_missing_file_in_list_names_it(void)
{
	const char *a = t_pmem("A", 4, 1);
	const char *missing = t_path("missing");
	struct mapped_device *md;

	CHECK(dm_md_open_source(t_fmt("%s,%s", a, missing), NULL, &md) < 0);
	CHECK_MSG_HAS(missing);
	return T_PASS;
}

static int test_empty_name_in_list_fails(void)
{
	const char *a = t_pmem("A", 4, 1);
	struct mapped_device *md;
	const char *src = t_fmt("%s,,%s", a, a);

	CHECK_EQ(dm_md_open_source(src, NULL, &md), -EINVAL);
	CHECK_MSG(t_fmt("%s: empty file name in the device list", src));
	return T_PASS;
}

static int test_file_listed_twice_fails(void)
{
	const char *a = t_pmem("A", 4, 1);
	struct mapped_device *md;
	const char *src = t_fmt("%s,%s", a, a);

	CHECK_EQ(dm_md_open_source(src, NULL, &md), -EINVAL);
	CHECK_MSG(t_fmt("%s: listed twice in %s", a, src));
	return T_PASS;
}

static int test_file_smaller_than_a_page_fails(void)
{
	const char *a = t_pmem("A", 1, 1);
	struct mapped_device *md;

	CHECK(truncate(a, 100) == 0);
	CHECK(dm_md_open_source(t_fmt("%s,%s", a, a), NULL, &md) < 0);
	CHECK_MSG_HAS(a);
	return T_PASS;
}

static int test_source_table_text_describes_list(void)
{
	const char *a = t_pmem("A", 2, 1), *b = t_pmem("B", 3, 2);
	char *text;

	CHECK_EQ(dm_source_table_text(t_fmt("%s,%s", a, b), &text), 0);
	CHECK_STR(text, t_fmt("0 16 linear %s 0\n16 24 linear %s 0\n", a, b));
	free(text);
	return T_PASS;
}

static int test_table_file_with_a_nul_byte_is_a_broken_table(void)
{
	const char *a = t_pmem("A", 16, 1);
	const char *table = write_file("nul.table", t_fmt("0 128 linear %s 0\n# x", a));
	struct mapped_device *md;
	FILE *f = fopen(table, "a");

	CHECK(f);
	fputc('\0', f);
	fclose(f);
	CHECK_EQ(dm_md_open_source(table, NULL, &md), -EINVAL);
	CHECK(md == NULL);
	CHECK_MSG(t_fmt("%s: not a text table (contains NUL bytes)", table));
	return T_PASS;
}

static int test_file_starting_with_binary_magic_is_a_pmem_file(void)
{
	const char *a = t_pmem("A", 16, 0);
	struct mapped_device *md;
	char *text;
	FILE *f = fopen(a, "r+");

	CHECK(f);
	/* a daxfs superblock begins so; no NUL byte in the first page either */
	fputs("DAXFXFS1", f);
	for (int i = 8; i < 4096; i++)
		fputc('x', f);
	fclose(f);
	CHECK_EQ(dm_md_open_source(a, NULL, &md), 0);
	t_defer(md_destroy, md);
	text = t_live_text(md);
	CHECK_STR(text, t_fmt("0 128 linear %s 0\n", a));
	free(text);
	return T_PASS;
}

static int test_file_listed_twice_by_another_name_names_both(void)
{
	const char *a = t_pmem("A", 4, 1);
	char b[256];
	struct mapped_device *md;

	snprintf(b, sizeof(b), "%s", t_path("B"));
	CHECK(link(a, b) == 0);
	const char *src = t_fmt("%s,%s", a, b);
	CHECK_EQ(dm_md_open_source(src, NULL, &md), -EINVAL);
	CHECK_MSG(t_fmt("%s: the same file as %s, listed twice in %s", b, a, src));
	return T_PASS;
}

static int test_relative_list_is_recorded_absolute(void)
{
	const char *a = t_pmem("A", 4, 1);
	struct mapped_device *md;
	char *cwd = getcwd(NULL, 0), *text;

	CHECK(cwd && chdir(t_tmpdir()) == 0);
	CHECK_EQ(dm_md_open_source("A", NULL, &md), 0);
	CHECK(chdir(cwd) == 0);
	free(cwd);
	t_defer(md_destroy, md);
	text = t_live_text(md);
	CHECK_STR(text, t_fmt("0 32 linear %s 0\n", a));
	free(text);
	return T_PASS;
}

static int test_empty_source_fails(void)
{
	struct mapped_device *md;

	CHECK_EQ(dm_md_open_source("", NULL, &md), -EINVAL);
	CHECK_MSG("no source given");
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_single_pmem_file_is_one_linear_target),
	T_CASE(test_list_concatenates_files_in_order),
	T_CASE(test_list_rounds_sizes_down_to_pages),
	T_CASE(test_table_file_is_parsed),
	T_CASE(test_table_file_error_names_file_and_line),
	T_CASE(test_missing_source_names_file),
	T_CASE(test_missing_file_in_list_names_it),
	T_CASE(test_empty_name_in_list_fails),
	T_CASE(test_file_listed_twice_fails),
	T_CASE(test_file_smaller_than_a_page_fails),
	T_CASE(test_source_table_text_describes_list),
	T_CASE(test_empty_source_fails),
	T_CASE(test_table_file_with_a_nul_byte_is_a_broken_table),
	T_CASE(test_file_starting_with_binary_magic_is_a_pmem_file),
	T_CASE(test_file_listed_twice_by_another_name_names_both),
	T_CASE(test_relative_list_is_recorded_absolute),
};

T_MAIN(cases)
