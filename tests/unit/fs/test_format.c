/* test_format.c - on-media codecs: round trips, checksum rejection, bounds */
#include "fixture.h"
#include "util/crc32c.h"
#include "fs/format.h"

static int test_crc32c_check_value(void)
{
	CHECK_EQ(crc32c("123456789", 9), 0xE3069283u);
	CHECK_EQ(crc32c("", 0), 0);
	return T_PASS;
}

/* The bit-at-a-time definition, to hold the accelerated one to. */
static uint32_t crc32c_bitwise(uint32_t crc, const uint8_t *p, size_t len)
{
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
	}
	return crc;
}

static int test_crc32c_pieces_and_alignment(void)
{
	static uint8_t buf[70000];
	uint32_t seed = 12345;

	for (size_t i = 0; i < sizeof(buf); i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (uint8_t)(seed >> 16);
	}
	/* unaligned starts and odd lengths take the instruction's tail paths */
	for (size_t off = 0; off < 9; off++) {
		size_t len = sizeof(buf) - off - off * 7;
		uint32_t want = crc32c_bitwise(CRC32C_INIT, buf + off, len);

		CHECK_EQ(crc32c_update(CRC32C_INIT, buf + off, len), want);
		/* a running value continues across any split */
		uint32_t crc = crc32c_update(CRC32C_INIT, buf + off, 4097);
		crc = crc32c_update(crc, buf + off + 4097, 3);
		crc = crc32c_update(crc, buf + off + 4100, len - 4100);
		CHECK_EQ(crc, want);
	}
	return T_PASS;
}

static void sample_super(struct dfs_super *sb)
{
	memset(sb, 0, sizeof(*sb));
	sb->major = DFS_VERSION_MAJOR;
	sb->total_blocks = 40000;
	sb->fingerprint = 0x1234;
	memcpy(sb->uuid, "0123456789abcdef", 16);
	strcpy(sb->label, "lbl");
	sb->state = DFS_STATE_CLEAN;
	sb->blocks_per_group = DFS_BLOCKS_PER_GROUP;
	sb->ngroups = 2;
	sb->journal_start = 2;
	sb->journal_blocks = 1250;
	sb->gdt_start = 1252;
	sb->gdt_blocks = 1;
	sb->nmembers = 43;
	sb->member_blocks = 2;
	sb->data_start = 1255;
	sb->itable_nextents = 1;
	sb->itable[0] = (struct dfs_itable_extent){ 1300, 16 };
}

/* sb encoded as superblock 0 and decoded again: what decode returns, its
 * message in t_msg() (the decoded copy in *out, if out). */
static int reencoded(const struct dfs_super *sb, struct dfs_super *out)
{
	static uint8_t b[4096];
	struct dfs_super tmp;

	dfs_super_encode(sb, 0, b);
	return dfs_super_decode(b, 0, out ? out : &tmp);
}

/* The sample superblock encoded as block 0 (in a buffer the next call reuses). */
static uint8_t *sample_block(void)
{
	static uint8_t b[4096];
	struct dfs_super sb;

	sample_super(&sb);
	dfs_super_encode(&sb, 0, b);
	return b;
}

static int test_super_roundtrip(void)
{
	uint8_t *b = sample_block();
	struct dfs_super out;

	CHECK_EQ(dfs_get64(b + DFS_SB_MAGIC), DFS_MAGIC);
	CHECK_EQ(dfs_super_decode(b, 0, &out), 0);
	CHECK_EQ(out.total_blocks, 40000);
	CHECK_EQ(out.itable[0].pblk, 1300);
	CHECK(out.nmembers == 43 && out.member_blocks == 2 && out.data_start == 1255);
	CHECK(strcmp(out.label, "lbl") == 0);
	return T_PASS;
}

static int test_super_flipped_bit_is_rejected(void)
{
	uint8_t *b = sample_block();
	struct dfs_super out;

	b[300] ^= 4;
	CHECK_EQ(dfs_super_decode(b, 0, &out), -EIO);
	CHECK_MSG_HAS("checksum");
	return T_PASS;
}

static int test_super_at_wrong_block_is_rejected(void)
{
	struct dfs_super out;

	CHECK_EQ(dfs_super_decode(sample_block(), 1, &out), -EIO);
	return T_PASS;
}

/* FORMAT.md: J >= 256, which mkfs never goes below; a smaller journal is
 * damage, not a geometry to mount. */
static int test_super_journal_below_the_minimum_is_refused(void)
{
	struct dfs_super sb, out;

	sample_super(&sb);
	sb.journal_blocks = DFS_JOURNAL_MIN - 1;
	sb.gdt_start = sb.journal_start + sb.journal_blocks;
	sb.data_start = sb.gdt_start + sb.gdt_blocks + sb.member_blocks;
	CHECK_EQ(reencoded(&sb, NULL), -EIO);
	CHECK_MSG("superblock 0: bad journal geometry");
	sb.journal_blocks = DFS_JOURNAL_MIN;
	sb.gdt_start = sb.journal_start + sb.journal_blocks;
	sb.data_start = sb.gdt_start + sb.gdt_blocks + sb.member_blocks;
	CHECK_EQ(reencoded(&sb, &out), 0);
	CHECK_EQ(out.journal_blocks, DFS_JOURNAL_MIN);
	return T_PASS;
}

/* A probe names a filesystem by magic and crc alone, geometry unchecked. */
static int test_super_identify_reads_version_uuid_and_label_only(void)
{
	static uint8_t b[4096];
	struct dfs_super sb;
	struct dfs_super_id id;

	sample_super(&sb);
	sb.ngroups = 7;         /* a geometry decode refuses */
	dfs_super_encode(&sb, 0, b);
	CHECK(dfs_super_identify(b, 0, &id));
	CHECK_EQ(id.major, DFS_VERSION_MAJOR);
	CHECK(memcmp(id.uuid, "0123456789abcdef", 16) == 0);
	CHECK_STR(id.label, "lbl");
	CHECK(!dfs_super_identify(b, 1, &id));
	b[0] ^= 1;
	dfs_block_seal(0, b);
	CHECK(!dfs_super_identify(b, 0, &id));
	return T_PASS;
}

/* Another major version is refused: a later one as unknown, format 1 with
 * what to do about it. */
static int test_super_of_another_major_is_refused(void)
{
	static const struct {
		uint16_t major;
		const char *msg;
	} cases[] = {
		{ 3, "superblock 0: unsupported format version 3.0 (this is 2.1)" },
		{ 1, "superblock 0: format version 1.0, made before member labels (format 2.0): its "
		     "member files cannot be verified, so it is not mounted; copy its files out with "
		     "the daxfs-fuse that made it, then make the filesystem again with mkfs.daxfs" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dfs_super sb;

		sample_super(&sb);
		sb.major = cases[i].major;
		CHECK_EQ(reencoded(&sb, NULL), -EINVAL);
		CHECK_MSG(cases[i].msg);
	}
	return T_PASS;
}

static int test_super_member_table_geometry_is_checked(void)
{
	struct dfs_super sb;

	sample_super(&sb);
	sb.member_blocks = 1;           /* 43 members need 2 blocks of 42 */
	sb.data_start = 1254;
	CHECK_EQ(reencoded(&sb, NULL), -EIO);
	CHECK_MSG("superblock 0: bad member table geometry");
	return T_PASS;
}

static struct dfs_member sample_member(uint32_t target, uint32_t stripe)
{
	struct dfs_member m = {
		.target = target, .stripe = stripe, .nstripes = 2, .target_begin = 4096,
		.target_len = 8192, .chunk = 128, .offset = 64, .length = 4096,
		.label_sector = 4096 + 128 * stripe, .label_offset = 0,
	};

	memset(m.uuid, (int)(target * 2 + stripe + 1), 16);
	return m;
}

static bool member_eq(const struct dfs_member *a, const struct dfs_member *b)
{
	return a->target == b->target && a->stripe == b->stripe && a->nstripes == b->nstripes &&
	       a->target_begin == b->target_begin && a->target_len == b->target_len &&
	       a->chunk == b->chunk && a->offset == b->offset && a->length == b->length &&
	       a->label_sector == b->label_sector && a->label_offset == b->label_offset &&
	       memcmp(a->uuid, b->uuid, 16) == 0;
}

static int test_member_table_block_roundtrip_and_checks(void)
{
	static uint8_t b[4096];
	struct dfs_member m[50], out[50];

	for (unsigned i = 0; i < 50; i++)
		m[i] = sample_member(i / 2, i % 2);
	dfs_mtab_encode(m, 42, 8, 300, b);
	CHECK_EQ(dfs_mtab_decode(b, 300, 42, 50, out), 0);
	for (unsigned i = 42; i < 50; i++)
		CHECK(member_eq(&out[i], &m[i]));
	CHECK_EQ(dfs_mtab_decode(b, 301, 42, 50, out), -EIO);      /* another block */
	CHECK_MSG("member table block 301: checksum mismatch");
	CHECK_EQ(dfs_mtab_decode(b, 300, 0, 50, out), -EIO);       /* other entries */
	CHECK_MSG("member table block 300: holds members 42+8, expected 0+42");
	m[43].label_offset = m[43].length;                          /* past its area */
	dfs_mtab_encode(m, 42, 8, 300, b);
	CHECK_EQ(dfs_mtab_decode(b, 300, 42, 50, out), -EIO);
	CHECK_MSG("member table block 300: member 43 out of bounds");
	return T_PASS;
}

static int test_label_roundtrip_and_checks(void)
{
	uint8_t s[512];
	struct dfs_label l = { .major = 2, .index = 3, .nmembers = 4, .m = sample_member(1, 1) },
			 out;

	memcpy(l.fs_uuid, "fedcba9876543210", 16);
	strcpy(l.fs_label, "scratch");
	dfs_label_encode(&l, s);
	CHECK_EQ(dfs_label_decode(s, &out), 0);
	CHECK(out.index == 3 && out.nmembers == 4 && strcmp(out.fs_label, "scratch") == 0);
	CHECK(member_eq(&out.m, &l.m) && memcmp(out.fs_uuid, l.fs_uuid, 16) == 0);
	s[100] ^= 1;
	CHECK_EQ(dfs_label_decode(s, &out), -EIO);
	memset(s, 0, sizeof(s));
	CHECK_EQ(dfs_label_decode(s, &out), -EINVAL);
	l.index = 4;                                                /* not below nmembers */
	dfs_label_encode(&l, s);
	CHECK_EQ(dfs_label_decode(s, &out), -EIO);
	return T_PASS;
}

static int test_super_bad_geometry_is_rejected(void)
{
	struct dfs_super sb;

	sample_super(&sb);
	sb.itable[0].pblk = 39999;   /* runs past the end */
	CHECK_EQ(reencoded(&sb, NULL), -EIO);
	CHECK_MSG_HAS("inode table extent");
	return T_PASS;
}

static int test_inode_roundtrip_and_free_slot(void)
{
	uint8_t s[256];
	struct dfs_dinode d = { .mode = 0100644, .nlink = 1, .size = 5, .nextents = 1,
				.mtime = { 7, 999999999 } }, out;

	d.inline_ext[0] = (struct dfs_extent){ 0, 2000, 1, 0 };
	dfs_dinode_encode(&d, 9, s);
	CHECK_EQ(dfs_dinode_decode(s, 9, 40000, &out), 0);
	CHECK_EQ(out.mode, 0100644);
	CHECK_EQ(out.mtime.nsec, 999999999);
	CHECK_EQ(out.inline_ext[0].pblk, 2000);
	CHECK_EQ(dfs_dinode_decode(s, 10, 40000, &out), -EIO);   /* other slot */
	memset(s, 0, sizeof(s));
	CHECK_EQ(dfs_dinode_decode(s, 9, 40000, &out), 0);
	CHECK_EQ(out.mode, 0);
	return T_PASS;
}

static int test_inode_extent_out_of_bounds_is_rejected(void)
{
	uint8_t s[256];
	struct dfs_dinode d = { .mode = 0100644, .nlink = 1, .nextents = 1 }, out;

	d.inline_ext[0] = (struct dfs_extent){ 0, 39990, 20, 0 };
	dfs_dinode_encode(&d, 9, s);
	CHECK_EQ(dfs_dinode_decode(s, 9, 40000, &out), -EIO);
	return T_PASS;
}

static int test_gd_roundtrip_and_crc(void)
{
	uint8_t e[32];
	struct dfs_gd gd = { .bitmap_blk = 32768, .free = 100, .bitmap_crc = 5 }, out;

	dfs_gd_encode(&gd, 1, e);
	CHECK_EQ(dfs_gd_decode(e, 1, 70000, &out), 0);
	CHECK_EQ(out.free, 100);
	CHECK_EQ(dfs_gd_decode(e, 0, 70000, &out), -EIO);
	return T_PASS;
}

/* The superblock as it is on the device. */
static int media_super(struct mapped_device *md, struct dfs_super *sb)
{
	static uint8_t b[DFS_BLOCK_SIZE];
	int err = dm_submit_bio(md, DAX_REQ_READ, 0, 0, b, sizeof(b));

	return err ? err : dfs_super_decode(b, 0, sb);
}

static int test_creates_reserve_generations_in_batches(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64ull << 20, &md);
	struct dfs_super sb;
	char name[16];

	CHECK(fs);
	CHECK_EQ(media_super(md, &sb), 0);
	const uint64_t at_mkfs = sb.next_generation;
	CHECK(t_create(*fs, DFS_ROOT_INO, "first"));
	CHECK_EQ(media_super(md, &sb), 0);
	CHECK_EQ(sb.next_generation, at_mkfs + 65536);
	/* the rest of the batch leaves the superblock alone */
	uint8_t before[DFS_BLOCK_SIZE], after[DFS_BLOCK_SIZE];
	CHECK_EQ(dm_submit_bio(md, DAX_REQ_READ, 0, 0, before, sizeof(before)), 0);
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		CHECK(t_create(*fs, DFS_ROOT_INO, name));
	}
	CHECK_EQ(dm_submit_bio(md, DAX_REQ_READ, 0, 0, after, sizeof(after)), 0);
	CHECK(memcmp(before, after, sizeof(before)) == 0);
	/* a new mount (or one after a crash) starts past the whole batch */
	CHECK_EQ(dfs_unmount(fs), 0);
	fs = t_mount(md);
	CHECK(fs);
	CHECK(t_create(*fs, DFS_ROOT_INO, "later"));
	CHECK_EQ(media_super(md, &sb), 0);
	CHECK_EQ(sb.next_generation, at_mkfs + 2 * 65536);
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_creates_reserve_generations_in_batches),
	T_CASE(test_crc32c_check_value),
	T_CASE(test_crc32c_pieces_and_alignment),
	T_CASE(test_super_roundtrip),
	T_CASE(test_super_flipped_bit_is_rejected),
	T_CASE(test_super_at_wrong_block_is_rejected),
	T_CASE(test_super_journal_below_the_minimum_is_refused),
	T_CASE(test_super_identify_reads_version_uuid_and_label_only),
	T_CASE(test_super_of_another_major_is_refused),
	T_CASE(test_super_member_table_geometry_is_checked),
	T_CASE(test_member_table_block_roundtrip_and_checks),
	T_CASE(test_label_roundtrip_and_checks),
	T_CASE(test_super_bad_geometry_is_rejected),
	T_CASE(test_inode_roundtrip_and_free_slot),
	T_CASE(test_inode_extent_out_of_bounds_is_rejected),
	T_CASE(test_gd_roundtrip_and_crc),
};

T_MAIN(cases)