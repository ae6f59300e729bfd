/* test_member.c - member identity: labels, the member table, and tables refused or accepted by them */
#include "fixture.h"
#include "fs/internal.h"

#define MB (1ull << 20)
#define UUID_TEXT "3f2a0102-0304-0506-0708-090a0b0c0d0e"
static const uint8_t uuid[16] = { 0x3f, 0x2a, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14 };

/* n linear targets, one per file, each file bytes long, in the order given. */
static const char *linear(const char *const *files, unsigned n, uint64_t bytes)
{
	static char text[8192];
	size_t len = 0;

	for (unsigned i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, "%llu %llu linear %s 0\n",
					(unsigned long long)(i * bytes / 512),
					(unsigned long long)(bytes / 512), files[i]);
	return text;
}

/* Three equal 16 MiB members: the quick start's shape. */
static void three(const char **f)
{
	f[0] = t_backing("a", 16 * MB);
	f[1] = t_backing("b", 16 * MB);
	f[2] = t_backing("c", 16 * MB);
}

static int mkfs_on(const char *text)
{
	struct dfs_mkfs_opts o = { .uuid = uuid, .label = "scratch" };

	return dfs_mkfs(t_md_text(text), &o);
}

/* A filesystem made on three() and mounted; NULL if either failed. */
static struct dfs **mounted_three(const char **f, struct mapped_device **md)
{
	struct dfs_mkfs_opts o = { .uuid = uuid };

	three(f);
	*md = t_md_text(linear(f, 3, 16 * MB));
	if (dfs_mkfs(*md, &o)) {
		fprintf(stderr, "mkfs: %s\n", daxfs_errormsg());
		return NULL;
	}
	return t_mount(*md);
}

/* dfs_mount on text must fail with exactly msg (after "mount fs: "). */
static int mount_refused(const char *text, const char *msg)
{
	struct dfs *fs = NULL;
	int err = dfs_mount(t_md_text(text), NULL, &fs);

	if (err != -EINVAL || strcmp(daxfs_errormsg(), t_fmt("mount fs: %s", msg))) {
		fprintf(stderr, "mount: %d\n  got      \"%s\"\n  expected \"mount fs: %s\"\n", err,
			daxfs_errormsg(), msg);
		if (fs)
			dfs_unmount(&fs);
		return T_FAIL;
	}
	return T_PASS;
}

/* The three members mounted in order (member order[k] at position k) are
 * refused, naming the file at position pos, the first out of place. */
static int reordered_is_refused(const int order[3], int pos)
{
	const char *f[3], *g[3];

	three(f);
	CHECK_EQ(mkfs_on(linear(f, 3, 16 * MB)), 0);
	for (int k = 0; k < 3; k++)
		g[k] = f[order[k]];
	return mount_refused(linear(g, 3, 16 * MB), t_fmt("%s holds member %d of filesystem "
			     UUID_TEXT ", expected member %d; did you reorder the files?",
			     g[pos], order[pos], pos));
}

static int test_equal_members_swapped_are_refused_at_mount(void)
{
	return reordered_is_refused((const int[]){ 0, 2, 1 }, 1);
}

static int test_first_member_swapped_is_named_without_a_superblock(void)
{
	return reordered_is_refused((const int[]){ 1, 0, 2 }, 0);
}

static int test_duplicated_member_is_called_a_copy(void)
{
	const char *f[3], *g[3], *copy = t_backing("copy", 16 * MB);
	static uint8_t buf[1 << 20];

	three(f);
	CHECK_EQ(mkfs_on(linear(f, 3, 16 * MB)), 0);
	FILE *in = fopen(f[1], "rb"), *out = fopen(copy, "r+b");
	CHECK(in && out);
	for (size_t n; (n = fread(buf, 1, sizeof(buf), in)) > 0;)
		CHECK_EQ(fwrite(buf, 1, n, out), n);
	fclose(in);
	fclose(out);
	g[0] = f[0], g[1] = f[1], g[2] = copy;
	return mount_refused(linear(g, 3, 16 * MB), t_fmt("%s holds member 1 of filesystem "
			     UUID_TEXT ", expected member 2; %s holds member 1 too: is one a copy "
			     "of the other?", copy, f[1]));
}

static int test_missing_member_is_refused(void)
{
	const char *f[3], *g[2];

	three(f);
	CHECK_EQ(mkfs_on(linear(f, 3, 16 * MB)), 0);
	g[0] = f[0], g[1] = f[2];
	return mount_refused(linear(g, 2, 16 * MB), t_fmt("%s holds member 2 of filesystem "
			     UUID_TEXT ", expected member 1; is a member missing?", f[2]));
}

static int test_member_of_another_filesystem_is_refused(void)
{
	const char *f[3], *o[2] = { t_backing("o0", 16 * MB), t_backing("o1", 16 * MB) }, *g[3];
	uint8_t other[16] = { 0xaa };
	struct dfs_mkfs_opts oo = { .uuid = other };

	three(f);
	CHECK_EQ(mkfs_on(linear(f, 3, 16 * MB)), 0);
	CHECK_EQ(dfs_mkfs(t_md_text(linear(o, 2, 16 * MB)), &oo), 0);
	g[0] = f[0], g[1] = o[1], g[2] = f[2];
	return mount_refused(linear(g, 3, 16 * MB), t_fmt("%s holds member 1 of filesystem "
			     "aa000000-0000-0000-0000-000000000000, not of " UUID_TEXT " (expected "
			     "member 1)", o[1]));
}

static int test_unrelated_file_is_refused(void)
{
	const char *f[3], *g[3], *zero = t_backing("zero", 16 * MB);

	three(f);
	CHECK_EQ(mkfs_on(linear(f, 3, 16 * MB)), 0);
	g[0] = f[0], g[1] = zero, g[2] = f[2];
	return mount_refused(linear(g, 3, 16 * MB), t_fmt("%s is not member 1 of filesystem "
			     UUID_TEXT ": it holds no member label (expected at byte 0 of it); is "
			     "it the right file?", zero));
}

static int test_shrunk_member_is_refused(void)
{
	const char *f[3];

	three(f);
	CHECK_EQ(mkfs_on(linear(f, 3, 16 * MB)), 0);
	/* as a list SOURCE gives it after a truncate: the target is shorter */
	CHECK(truncate(f[2], 8 * MB) == 0);
	return mount_refused(t_fmt("0 32768 linear %s 0\n32768 32768 linear %s 0\n"
				   "65536 16384 linear %s 0\n", f[0], f[1], f[2]),
			     t_fmt("%s holds member 2 of filesystem " UUID_TEXT ", made 16777216 "
				   "bytes long; the table maps only 8388608 bytes of it: was the file "
				   "truncated?", f[2]));
}

/* mounted_three's table with member 1 at sector of path (NULL: its own file)
 * is refused by the filesystem's check, which resume runs before dm's own
 * range checks and which names the member: "<path><rest>". */
static int resume_refuses_member_1_at(const char *path, const char *sector, const char *rest)
{
	const char *f[3];
	struct mapped_device *md;
	struct dm_table *t;

	struct dfs **fs = mounted_three(f, &md);
	CHECK(fs);
	path = path ? path : f[1];
	CHECK_EQ(dm_table_parse(md, t_fmt("0 32768 linear %s 0\n32768 32768 linear %s %s\n"
					   "65536 32768 linear %s 0\n", f[0], path, sector, f[2]),
				"load", &t), 0);
	CHECK_EQ(dfs_check_table(*fs, t), -EINVAL);
	CHECK_MSG(t_fmt("%s%s", path, rest));
	dm_table_put(&t);
	return T_PASS;
}

static int test_file_shorter_than_its_area_is_refused_at_resume(void)
{
	return resume_refuses_member_1_at(t_backing("b2", 4 * MB), "0",
					  " is 4194304 bytes, too small for member 1 of filesystem "
					  UUID_TEXT ", which the table maps at bytes 0-16777215 of "
					  "it: was the file truncated?");
}

/* byte numbers of an area that far out would wrap around 2^64: none is printed */
static int test_area_past_the_file_end_is_refused_at_resume_in_sectors(void)
{
	return resume_refuses_member_1_at(NULL, "18446744073709551608",
					  " is 16777216 bytes, too small for member 1 of filesystem "
					  UUID_TEXT ", which the table maps from sector "
					  "18446744073709551608 of it (32768 sectors), past its end");
}

static int test_stripes_swapped_are_refused(void)
{
	const char *a = t_backing("a", 32 * MB), *b = t_backing("b", 32 * MB);

	CHECK_EQ(mkfs_on(t_fmt("0 131072 striped 2 128 %s 0 %s 0\n", a, b)), 0);
	/* b's first chunk holds journal blocks, a's the superblock */
	return mount_refused(t_fmt("0 131072 striped 2 128 %s 0 %s 0\n", b, a),
			     t_fmt("%s holds member 0 (the superblock) of filesystem " UUID_TEXT
				   ", expected member 1; did you reorder the files?", a));
}

static int test_changed_chunk_size_is_refused(void)
{
	const char *a = t_backing("a", 32 * MB), *b = t_backing("b", 32 * MB);

	CHECK_EQ(mkfs_on(t_fmt("0 131072 striped 2 128 %s 0 %s 0\n", a, b)), 0);
	return mount_refused(t_fmt("0 131072 striped 2 256 %s 0 %s 0\n", a, b),
			     t_fmt("%s holds member 0 of filesystem " UUID_TEXT ", made as sectors "
				   "0-65535 of it as stripe 0 of 2 of target 0 (sectors 0+131072, "
				   "chunk 128); the table maps sectors 0-65535 of it as stripe 0 of 2 of "
				   "target 0 (sectors 0+131072, chunk 256): was the table changed?", a));
}

static int test_members_in_place_mount_and_fsck_clean(void)
{
	const char *f[3];
	struct mapped_device *md;

	struct dfs **fs = mounted_three(f, &md);
	CHECK(fs);
	CHECK_EQ((*fs)->sb.nmembers, 3);
	/* each label sits in the first block of its member past the fixed metadata */
	CHECK_EQ((*fs)->members[0].label_sector, (*fs)->sb.data_start * 8);
	CHECK_EQ((*fs)->members[1].label_sector, 32768);
	CHECK_EQ((*fs)->members[1].label_offset, 0);
	CHECK_EQ((*fs)->members[2].label_sector, 65536);
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(t_fsck_problems(md), 0);
	return T_PASS;
}

/* Filling the filesystem never hands out a label block, and fsck counts them. */
static int test_label_blocks_are_never_allocated(void)
{
	const char *f[3];
	struct mapped_device *md;
	static uint8_t buf[1 << 20];
	struct statvfs sv;

	struct dfs **fs = mounted_three(f, &md);
	CHECK(fs);
	memset(buf, 0xa5, sizeof(buf));
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "big");
	for (off_t off = 0; dfs_pwrite(*fs, ino, buf, sizeof(buf), off, 0) > 0; off += sizeof(buf))
		;
	CHECK_EQ(dfs_statfs(*fs, &sv), 0);
	CHECK(sv.f_bfree < 256);
	CHECK_EQ(dfs_unmount(fs), 0);
	fs = t_mount(md);               /* every label still where it was */
	CHECK(fs);
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(t_fsck_problems(md), 0);
	return T_PASS;
}

static int test_short_first_target_gets_a_smaller_journal(void)
{
	const char *a = t_backing("a", 2 * MB), *b = t_backing("b", 62 * MB);
	struct mapped_device *md = t_md_text(t_fmt("0 4096 linear %s 0\n4096 126976 linear %s 0\n",
						   a, b));

	CHECK_EQ(dfs_mkfs(md, NULL), 0);
	struct dfs **fs = t_mount(md);
	CHECK(fs);
	/* 64 MiB would get 512 journal blocks; the first member ends at block 511 */
	CHECK_EQ((*fs)->sb.journal_blocks, 511 - 2 - 1 - 1);
	CHECK_EQ((*fs)->members[0].label_sector, 511 * 8);
	return T_PASS;
}

static int test_first_target_inside_the_fixed_metadata_is_refused(void)
{
	const char *a = t_backing("a", 512 * 1024), *b = t_backing("b", 63 * MB);
	struct mapped_device *md = t_md_text(t_fmt("0 1024 linear %s 0\n1024 129024 linear %s 0\n",
						   a, b));

	CHECK_EQ(dfs_mkfs(md, NULL), -EINVAL);
	CHECK_MSG(t_fmt("member 0 (%s, target 0) ends at block 127, inside the filesystem's "
			   "fixed metadata (260 blocks with the smallest journal): every member "
			   "must reach past it to hold its label; put a larger target first", a));
	return T_PASS;
}

static struct dm_table *staged(struct mapped_device *md, const char *text)
{
	struct dm_table *t;

	if (dm_table_parse(md, text, "load", &t))
		return NULL;
	return t;
}

static int test_check_table_refuses_a_swap_and_accepts_error_targets(void)
{
	const char *f[3], *g[3];
	struct mapped_device *md;
	struct dm_table *t;

	struct dfs **fs = mounted_three(f, &md);
	CHECK(fs);
	g[0] = f[0], g[1] = f[2], g[2] = f[1];
	t = staged(md, linear(g, 3, 16 * MB));
	CHECK(t);
	CHECK_EQ(dfs_check_table(*fs, t), -EINVAL);
	CHECK_MSG(t_fmt("%s holds member 2 of filesystem " UUID_TEXT ", expected member 1; did "
			   "you reorder the files?", f[2]));
	dm_table_put(&t);
	/* dmerror's shape: one target replaced by error, or all of them */
	t = staged(md, t_fmt("0 32768 linear %s 0\n32768 32768 error\n65536 32768 linear %s 0\n",
			     f[0], f[2]));
	CHECK(t);
	CHECK_EQ(dfs_check_table(*fs, t), 0);
	dm_table_put(&t);
	t = staged(md, "0 32768 error\n32768 32768 error\n65536 32768 error\n");
	CHECK(t);
	CHECK_EQ(dfs_check_table(*fs, t), 0);
	dm_table_put(&t);
	return T_PASS;
}

static int test_damaged_label_is_refused_naming_it(void)
{
	const char *f[3];
	struct mapped_device *md;
	struct dfs *fs = NULL;
	uint8_t sector[512] = { 0 };

	struct dfs **m = mounted_three(f, &md);
	CHECK(m);
	uint64_t label = (*m)->members[0].label_sector;
	CHECK_EQ(dfs_unmount(m), 0);
	CHECK_EQ(dm_submit_bio(md, DAX_REQ_WRITE, DM_BIO_FUA, label << 9, sector, 512), 0);
	CHECK_EQ(dfs_mount(md, NULL, &fs), -EIO);
	CHECK_MSG(t_fmt("mount fs: %s holds the superblock of filesystem " UUID_TEXT " but not the "
			   "label of member 0 (expected at byte %llu of it): was it overwritten? run "
			   "fsck.daxfs -y to write it again", f[0], (unsigned long long)label << 9));
	return T_PASS;
}

static int test_format_1_image_is_refused_at_mount(void)
{
	struct mapped_device *md = t_md_file("pmem", 16 * MB);
	static uint8_t b[4096];
	struct dfs *fs = NULL;

	CHECK_EQ(dfs_mkfs(md, NULL), 0);
	for (uint64_t blk = 0; blk < 2; blk++) {
		CHECK_EQ(dm_submit_bio(md, DAX_REQ_READ, 0, blk * 4096, b, 4096), 0);
		dfs_put16(b + DFS_SB_MAJOR, 1);
		dfs_put16(b + DFS_SB_MINOR, 0);
		dfs_block_seal(blk, b);
		CHECK_EQ(dm_submit_bio(md, DAX_REQ_WRITE, DM_BIO_FUA, blk * 4096, b, 4096), 0);
	}
	CHECK_EQ(dfs_mount(md, NULL, &fs), -EINVAL);
	CHECK_MSG("mount fs: superblock 0: format version 1.0, made before member labels (format "
		     "2.0): its member files cannot be verified, so it is not mounted; copy its files "
		     "out with the daxfs-fuse that made it, then make the filesystem again with "
		     "mkfs.daxfs");
	return T_PASS;
}

static int test_members_order_finds_a_shuffle(void)
{
	const char *f[3], *g[3];
	struct dfs_member_place *p;
	unsigned n;

	three(f);
	CHECK_EQ(mkfs_on(linear(f, 3, 16 * MB)), 0);
	g[0] = f[2], g[1] = f[0], g[2] = f[1];
	struct mapped_device *md = t_md_text(linear(g, 3, 16 * MB));
	struct dm_table *t = dm_md_get_live_table(md);
	CHECK_EQ(dfs_members_order(t, &p, &n), 0);
	dm_table_put(&t);
	CHECK_EQ(n, 3);
	CHECK(p[0].found == 1 && p[1].found == 2 && p[2].found == 0);
	CHECK(!p[0].in_place && !p[1].in_place && !p[2].in_place);
	free(p);
	return T_PASS;
}

static int test_probe_tells_superblock_label_and_nothing(void)
{
	const char *f[3], *z = t_backing("z", 16 * MB);
	const char *g[4];
	struct dfs_probe pr;

	three(f);
	CHECK_EQ(mkfs_on(linear(f, 3, 16 * MB)), 0);
	g[0] = f[0], g[1] = f[1], g[2] = f[2], g[3] = z;
	struct mapped_device *md = t_md_text(linear(g, 4, 16 * MB));
	struct dm_table *t = dm_md_get_live_table(md);
	CHECK_EQ(dfs_probe_member(t, 0, &pr), 0);
	CHECK(pr.kind == DFS_PROBE_SUPER && memcmp(pr.uuid, uuid, 16) == 0 && pr.major == 2);
	CHECK(strcmp(pr.label, "scratch") == 0);
	CHECK_EQ(dfs_probe_member(t, 2, &pr), 0);
	CHECK(pr.kind == DFS_PROBE_MEMBER && pr.member == 2 && pr.nmembers == 3);
	CHECK_EQ(dfs_probe_member(t, 3, &pr), 0);
	CHECK(pr.kind == DFS_PROBE_NONE);
	dm_table_put(&t);
	return T_PASS;
}

static int test_fsck_refuses_swapped_members_before_checking(void)
{
	const char *f[3], *g[3];
	struct dfs_fsck_result r = { 0 };

	three(f);
	CHECK_EQ(mkfs_on(linear(f, 3, 16 * MB)), 0);
	g[0] = f[0], g[1] = f[2], g[2] = f[1];
	CHECK_EQ(dfs_fsck(t_md_text(linear(g, 3, 16 * MB)), DFS_FSCK_REPAIR, NULL, NULL, &r),
		 -EINVAL);
	CHECK_MSG(t_fmt("%s holds member 2 of filesystem " UUID_TEXT ", expected member 1; did "
			   "you reorder the files?", f[2]));
	CHECK_EQ(r.problems, 0);
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_equal_members_swapped_are_refused_at_mount),
	T_CASE(test_first_member_swapped_is_named_without_a_superblock),
	T_CASE(test_duplicated_member_is_called_a_copy),
	T_CASE(test_missing_member_is_refused),
	T_CASE(test_member_of_another_filesystem_is_refused),
	T_CASE(test_unrelated_file_is_refused),
	T_CASE(test_shrunk_member_is_refused),
	T_CASE(test_file_shorter_than_its_area_is_refused_at_resume),
	T_CASE(test_area_past_the_file_end_is_refused_at_resume_in_sectors),
	T_CASE(test_stripes_swapped_are_refused),
	T_CASE(test_changed_chunk_size_is_refused),
	T_CASE(test_members_in_place_mount_and_fsck_clean),
	T_CASE(test_label_blocks_are_never_allocated),
	T_CASE(test_short_first_target_gets_a_smaller_journal),
	T_CASE(test_first_target_inside_the_fixed_metadata_is_refused),
	T_CASE(test_check_table_refuses_a_swap_and_accepts_error_targets),
	T_CASE(test_damaged_label_is_refused_naming_it),
	T_CASE(test_format_1_image_is_refused_at_mount),
	T_CASE(test_members_order_finds_a_shuffle),
	T_CASE(test_probe_tells_superblock_label_and_nothing),
	T_CASE(test_fsck_refuses_swapped_members_before_checking),
};

T_MAIN(cases)