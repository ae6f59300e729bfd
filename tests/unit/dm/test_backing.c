/* test_backing.c - sparse backing files against their filesystem's free space; preallocation */
#include <sys/statvfs.h>

#include "fixture.h"

#define TIB (1ull << 40)

static int test_backing_of_written_files_fits(void)
{
	struct mapped_device *md = t_md();
	const char *a = t_pmem("a", 16, 1), *b = t_pmem("b", 16, 2);

	CHECK(a && b);
	CHECK_EQ(t_make_live(md, t_fmt("0 128 linear %s 0\n128 128 linear %s 0\n", a, b)), 0);
	CHECK_EQ(dm_md_check_backing(md), 0);
	return T_PASS;
}

/* A sparse file larger than any free space here: 1 TiB. */
static int test_backing_of_a_huge_sparse_file_is_enospc_naming_it(void)
{
	struct mapped_device *md = t_md();
	const char *a = t_file("a", TIB, 0);
	char want[512];

	CHECK(a);
	CHECK_EQ(t_make_live(md, t_fmt("0 %llu linear %s 0\n", TIB / 512, a)), 0);
	CHECK_EQ(dm_md_check_backing(md), -ENOSPC);
	snprintf(want, sizeof(want), "%s: 1048576 MiB of the file is not allocated, and its "
		 "filesystem has ", a);
	CHECK_MSG_HAS(want);
	CHECK_MSG_HAS("free: stores into the rest will fail with EIO");
	return T_PASS;
}

/* Files on one filesystem share its free space: their holes add up. */
static int test_backing_sums_the_holes_of_files_on_one_filesystem(void)
{
	struct mapped_device *md = t_md();
	struct statvfs sv;
	const char *a = t_pmem("a", 16, 1);
	uint64_t half;

	CHECK(a);
	CHECK_EQ(statvfs(a, &sv), 0);
	/* each file's holes fit the free space alone, both together do not;
	 * 5/8 of it each leaves room for other writers on this filesystem */
	half = ((uint64_t)sv.f_bavail * sv.f_frsize / 8 * 5) & ~(uint64_t)4095;
	const char *b = t_file("b", half, 0), *c = t_file("c", half, 0);
	CHECK(b && c);
	CHECK_EQ(t_make_live(md, t_fmt("0 128 linear %s 0\n128 %llu linear %s 0\n"
				       "%llu %llu linear %s 0\n", a, (unsigned long long)half / 512,
				       b, 128 + (unsigned long long)half / 512,
				       (unsigned long long)half / 512, c)), 0);
	CHECK_EQ(dm_md_check_backing(md), -ENOSPC);
	CHECK_MSG_HAS(t_fmt("%s, %s: ", b, c));
	CHECK_MSG_HAS("of the files are not allocated, and their filesystem has");
	return T_PASS;
}

static int test_prealloc_allocates_a_sparse_file_whole(void)
{
	struct mapped_device *md = t_md();
	const char *a = t_file("a", 64 * DAX_PAGE_SIZE, 0);
	struct stat st;

	CHECK(a);
	CHECK_EQ(t_make_live(md, t_fmt("0 512 linear %s 0\n", a)), 0);
	CHECK_EQ(stat(a, &st), 0);
	CHECK_EQ(st.st_blocks, 0);
	CHECK_EQ(dm_md_prealloc(md), 0);
	CHECK_EQ(stat(a, &st), 0);
	CHECK((uint64_t)st.st_blocks * 512 >= 64 * DAX_PAGE_SIZE);
	CHECK_EQ(st.st_size, 64 * DAX_PAGE_SIZE);
	CHECK_EQ(dm_md_check_backing(md), 0);
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_backing_of_written_files_fits),
	T_CASE(test_backing_of_a_huge_sparse_file_is_enospc_naming_it),
	T_CASE(test_backing_sums_the_holes_of_files_on_one_filesystem),
	T_CASE(test_prealloc_allocates_a_sparse_file_whole),
};

T_MAIN(cases)
