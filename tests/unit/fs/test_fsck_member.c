/* test_fsck_member.c - fsck over the members: the member table and labels repaired from each other, or refused */
#include "fixture.h"
#include "util/crc32c.h"
#include "fs/internal.h"
#include "peek.h"

#define MB (1ull << 20)
#define UUID_TEXT "3f2a0102-0304-0506-0708-090a0b0c0d0e"
static const uint8_t uuid[16] = { 0x3f, 0x2a, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14 };

/* Three equal 16 MiB members, linear, in the order files gives. */
static const char *f[3];

static const char *table(const char *a, const char *b, const char *c)
{
	const uint64_t s = 16 * MB / 512;

	return t_fmt("0 %llu linear %s 0\n%llu %llu linear %s 0\n%llu %llu linear %s 0\n",
		     (unsigned long long)s, a, (unsigned long long)s, (unsigned long long)s, b,
		     (unsigned long long)(2 * s), (unsigned long long)s, c);
}

/* A filesystem on three members holding three files; unmounted. *sb and
 * *m: its superblock and member table. */
static struct mapped_device *three(struct dfs_super *sb, struct dfs_member *m)
{
	static uint8_t buf[4096];
	struct dfs_mkfs_opts o = { .uuid = uuid, .label = "members" };
	struct mapped_device *md;

	f[0] = t_backing("a", 16 * MB);
	f[1] = t_backing("b", 16 * MB);
	f[2] = t_backing("c", 16 * MB);
	md = t_md_text(table(f[0], f[1], f[2]));
	if (dfs_mkfs(md, &o))
		return NULL;
	struct dfs **fs = t_mount(md);
	if (!fs)
		return NULL;
	memset(buf, 'x', sizeof(buf));
	for (int i = 0; i < 3; i++) {
		uint64_t ino = t_create(*fs, DFS_ROOT_INO, t_fmt("f%d", i));
		if (!ino || dfs_pwrite(*fs, ino, buf, sizeof(buf), 0, 0) != 4096)
			return NULL;
	}
	*sb = (*fs)->sb;
	memcpy(m, (*fs)->members, 3 * sizeof(*m));
	return dfs_unmount(fs) ? NULL : md;
}

static int rw_sector(struct mapped_device *md, enum dax_req_op op, uint64_t sector, uint8_t *b)
{
	return dm_submit_bio(md, op, op == DAX_REQ_WRITE ? DM_BIO_FUA : 0, sector << 9, b, 512);
}

/* The backing files' bytes, to show a refusal wrote nothing. */
static uint32_t files_crc(void)
{
	static uint8_t buf[1 << 20];
	uint32_t crc = 0;

	for (int i = 0; i < 3; i++) {
		int fd = open(f[i], O_RDONLY | O_CLOEXEC);
		ssize_t n;

		while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
			for (ssize_t k = 0; k < n; k += 64)
				crc = crc * 31 + buf[k] + (uint32_t)k;
		if (fd >= 0)
			close(fd);
	}
	return crc;
}

/* fsck -n and -y both refuse with exactly msg, and write nothing. */
static int refused(struct mapped_device *md, const char *msg)
{
	const uint32_t before = files_crc();
	struct t_report rep;
	struct dfs_fsck_result r;

	for (int mode = DFS_FSCK_CHECK; mode <= DFS_FSCK_REPAIR; mode++) {
		CHECK(t_fsck_report(md, (enum dfs_fsck_mode)mode, &rep, &r) < 0);
		CHECK_MSG(msg);
		CHECK_EQ(rep.lines, 0);
	}
	CHECK_EQ(files_crc(), before);
	return T_PASS;
}

static int test_fsck_writes_a_damaged_label_again_from_the_member_table(void)
{
	struct dfs_super sb;
	struct dfs_member m[3];
	struct mapped_device *md = three(&sb, m);
	uint8_t good[512], bad[512];
	struct t_report rep;
	struct dfs *fs = NULL;

	CHECK(md);
	CHECK_EQ(rw_sector(md, DAX_REQ_READ, m[1].label_sector, good), 0);
	memcpy(bad, good, sizeof(bad));
	bad[40] ^= 0x10;        /* its entry's target: the crc fails, the uuids stay */
	CHECK_EQ(rw_sector(md, DAX_REQ_WRITE, m[1].label_sector, bad), 0);
	CHECK_EQ(dfs_mount(md, NULL, &fs), -EIO);
	CHECK_MSG(t_fmt("mount fs: %s: the label of member 1 of filesystem " UUID_TEXT " (byte 0 of "
			   "it) is damaged; run fsck.daxfs -y", f[1]));
	CHECK_REPAIRED(md, &rep, FSCK_ASKS);
	CHECK_EQ(rep.lines, 1);
	CHECK_HAS(&rep, t_fmt("member 1 (%s): its label (byte 0 of it) is damaged: write it again "
			      "from the member table (repaired)", f[1]));
	CHECK_EQ(rw_sector(md, DAX_REQ_READ, m[1].label_sector, bad), 0);
	CHECK(!memcmp(bad, good, sizeof(good)));
	CHECK_EQ(dfs_mount(md, NULL, &fs), 0);
	CHECK_EQ(dfs_unmount(&fs), 0);
	return T_PASS;
}

static int test_fsck_writes_member_0s_label_again_beside_its_superblock(void)
{
	struct dfs_super sb;
	struct dfs_member m[3];
	struct mapped_device *md = three(&sb, m);
	uint8_t good[512], zero[512] = { 0 };
	struct t_report rep;
	struct dfs *fs = NULL;

	CHECK(md);
	CHECK_EQ(rw_sector(md, DAX_REQ_READ, m[0].label_sector, good), 0);
	CHECK_EQ(rw_sector(md, DAX_REQ_WRITE, m[0].label_sector, zero), 0);
	CHECK_REPAIRED(md, &rep, FSCK_ASKS);
	CHECK_HAS(&rep, t_fmt("member 0 (%s): its label (byte %llu of it) is damaged: write it again "
			      "from the member table (repaired)", f[0],
			      (unsigned long long)m[0].label_sector << 9));
	CHECK_EQ(rw_sector(md, DAX_REQ_READ, m[0].label_sector, zero), 0);
	CHECK(!memcmp(zero, good, sizeof(good)));
	CHECK_EQ(dfs_mount(md, NULL, &fs), 0);
	CHECK_EQ(dfs_unmount(&fs), 0);
	return T_PASS;
}

static int test_fsck_rebuilds_a_member_table_block_from_the_labels(void)
{
	struct dfs_super sb;
	struct dfs_member m[3];
	struct mapped_device *md = three(&sb, m);
	static uint8_t good[4096], blk[4096];
	struct t_report rep;
	struct dfs *fs = NULL;

	CHECK(md);
	const uint64_t mtab = sb.gdt_start + sb.gdt_blocks;
	CHECK_EQ(t_rw_block(md, DAX_REQ_READ, mtab, good), 0);
	memset(blk, 0, sizeof(blk));
	CHECK_EQ(t_rw_block(md, DAX_REQ_WRITE, mtab, blk), 0);
	CHECK_EQ(dfs_mount(md, NULL, &fs), -EIO);
	CHECK_MSG(t_fmt("mount fs: member table block %llu: no member table magic; run fsck.daxfs -y",
			   (unsigned long long)mtab));
	CHECK_REPAIRED(md, &rep, FSCK_ASKS);
	CHECK_EQ(rep.lines, 1);
	CHECK_HAS(&rep, t_fmt("member table block %llu: no member table magic: rebuild it from its "
			      "members' labels (repaired)", (unsigned long long)mtab));
	CHECK_EQ(t_rw_block(md, DAX_REQ_READ, mtab, blk), 0);
	CHECK(!memcmp(blk, good, sizeof(good)));
	CHECK_EQ(dfs_mount(md, NULL, &fs), 0);
	CHECK_EQ(dfs_unmount(&fs), 0);
	return T_PASS;
}

/* Member 1's label found where member 0 has its own (a block written in the
 * wrong place), none where it belongs: the member shows it is member 1. */
static int test_fsck_writes_a_label_found_elsewhere_on_its_member_in_its_place(void)
{
	struct dfs_super sb;
	struct dfs_member m[3];
	struct mapped_device *md = three(&sb, m);
	uint8_t good[512], zero[512] = { 0 };
	struct t_report rep;

	CHECK(md);
	const uint64_t elsewhere = m[1].target_begin + m[0].label_offset;
	CHECK_EQ(rw_sector(md, DAX_REQ_READ, m[1].label_sector, good), 0);
	CHECK_EQ(rw_sector(md, DAX_REQ_WRITE, elsewhere, good), 0);
	CHECK_EQ(rw_sector(md, DAX_REQ_WRITE, m[1].label_sector, zero), 0);
	CHECK_REPAIRED(md, &rep, FSCK_ASKS);
	CHECK_HAS(&rep, t_fmt("member 1 (%s): its label (byte 0 of it) is damaged: write it again from "
			      "the member table (repaired)", f[1]));
	CHECK_EQ(rw_sector(md, DAX_REQ_READ, m[1].label_sector, zero), 0);
	CHECK(!memcmp(zero, good, sizeof(good)));
	return T_PASS;
}

/* Gone without a trace, a label cannot be told from another file in the
 * member's place: nothing is checked or written. */
static int test_fsck_refuses_a_member_whose_label_is_zeroed(void)
{
	struct dfs_super sb;
	struct dfs_member m[3];
	struct mapped_device *md = three(&sb, m);
	uint8_t zero[512] = { 0 };

	CHECK(md);
	CHECK_EQ(rw_sector(md, DAX_REQ_WRITE, m[2].label_sector, zero), 0);
	return refused(md, t_fmt("%s is not member 2 of filesystem " UUID_TEXT ": it holds no member "
				 "label (expected at byte 0 of it); is it the right file?", f[2]));
}

/* The table block and member 1's label both fail their checksums; at is
 * the byte of the block damaged: in entry 0 (whose label is intact), or in
 * entry 1, so that its two copies differ. */
static struct mapped_device *table_and_label_damaged(struct dfs_super *sb, struct dfs_member *m,
						     size_t at, uint8_t *good_blk, uint8_t *good_label)
{
	static uint8_t blk[4096];
	uint8_t label[512];
	struct mapped_device *md = three(sb, m);
	const uint64_t mtab = sb->gdt_start + sb->gdt_blocks;

	if (!md || t_rw_block(md, DAX_REQ_READ, mtab, blk) ||
	    rw_sector(md, DAX_REQ_READ, m[1].label_sector, label))
		return NULL;
	memcpy(good_blk, blk, sizeof(blk));
	memcpy(good_label, label, sizeof(label));
	blk[at] ^= 1;
	label[200] ^= 1;        /* reserved bytes: its entry stays */
	if (t_rw_block(md, DAX_REQ_WRITE, mtab, blk) ||
	    rw_sector(md, DAX_REQ_WRITE, m[1].label_sector, label))
		return NULL;
	return md;
}

static int test_fsck_rebuilds_a_damaged_table_from_a_damaged_label_whose_entry_agrees(void)
{
	static uint8_t good_blk[4096], blk[4096];
	uint8_t good_label[512], label[512];
	struct dfs_super sb;
	struct dfs_member m[3];
	struct t_report rep;
	struct dfs *fs = NULL;
	struct mapped_device *md = table_and_label_damaged(&sb, m, 100, good_blk, good_label);
	const uint64_t mtab = sb.gdt_start + sb.gdt_blocks;

	CHECK(md);
	CHECK_REPAIRED(md, &rep, FSCK_ASKS);
	CHECK_EQ(rep.lines, 2);
	CHECK_HAS(&rep, t_fmt("member table block %llu: checksum mismatch: rebuild it from its "
			      "members' labels (repaired)", (unsigned long long)mtab));
	CHECK_HAS(&rep, t_fmt("member 1 (%s): its label (byte 0 of it) is damaged: write it again "
			      "from the member table (repaired)", f[1]));
	CHECK_EQ(t_rw_block(md, DAX_REQ_READ, mtab, blk), 0);
	CHECK(!memcmp(blk, good_blk, sizeof(blk)));
	CHECK_EQ(rw_sector(md, DAX_REQ_READ, m[1].label_sector, label), 0);
	CHECK(!memcmp(label, good_label, sizeof(label)));
	CHECK_EQ(dfs_mount(md, NULL, &fs), 0);
	CHECK_EQ(dfs_unmount(&fs), 0);
	return T_PASS;
}

static int test_fsck_refuses_a_damaged_table_whose_damaged_label_disagrees(void)
{
	static uint8_t good_blk[4096];
	uint8_t good_label[512];
	struct dfs_super sb;
	struct dfs_member m[3];
	/* entry 1's member uuid, in the block */
	struct mapped_device *md = table_and_label_damaged(&sb, m, DFS_MTAB_HDR + DFS_MEMBER_SIZE +
							   DFS_MEMBER_UUID, good_blk, good_label);

	CHECK(md);
	return refused(md, t_fmt("member table block %llu: checksum mismatch, and the labels of its "
				 "members cannot replace it: %s, member 1: member label: checksum "
				 "mismatch", (unsigned long long)(sb.gdt_start + sb.gdt_blocks),
				 f[1]));
}

/* Labels that name other members are files in another order, whatever else
 * is damaged: the table is not rebuilt from them. */
static int test_fsck_refuses_a_damaged_table_on_reordered_members(void)
{
	struct dfs_super sb;
	struct dfs_member m[3];
	struct mapped_device *md = three(&sb, m);
	static uint8_t blk[4096];

	CHECK(md);
	const uint64_t mtab = sb.gdt_start + sb.gdt_blocks;
	CHECK_EQ(t_rw_block(md, DAX_REQ_WRITE, mtab, blk), 0);
	return refused(t_md_text(table(f[0], f[2], f[1])),
		       t_fmt("%s holds member 2 of filesystem " UUID_TEXT ", expected member 1; did "
			     "you reorder the files?", f[2]));
}

/* Two labels that swapped places look like files that did: refused. */
static int test_fsck_refuses_labels_that_swapped_places(void)
{
	struct dfs_super sb;
	struct dfs_member m[3];
	struct mapped_device *md = three(&sb, m);
	uint8_t a[512], b[512];

	CHECK(md);
	CHECK_EQ(rw_sector(md, DAX_REQ_READ, m[1].label_sector, a), 0);
	CHECK_EQ(rw_sector(md, DAX_REQ_READ, m[2].label_sector, b), 0);
	CHECK_EQ(rw_sector(md, DAX_REQ_WRITE, m[1].label_sector, b), 0);
	CHECK_EQ(rw_sector(md, DAX_REQ_WRITE, m[2].label_sector, a), 0);
	return refused(md, t_fmt("%s holds member 2 of filesystem " UUID_TEXT ", expected member 1; "
				 "did you reorder the files?", f[1]));
}

/* ---- label and member table blocks among the blocks fsck accounts for ---- */

/* What of a file is pointed at a member's label block. */
enum label_use { FILE_EXTENT, XATTR_BLOCK };

/* Points file's first extent or its xattr block at member i's label block:
 * fsck asks before it repairs, says what it did, and leaves the label as it
 * was. */
static int fsck_takes_back_a_label_block(int i, const char *file, enum label_use use)
{
	struct dfs_super sb;
	struct dfs_member m[3];
	struct mapped_device *md = three(&sb, m);
	struct t_report rep;
	struct dfs_inode *ip;
	uint8_t good[512], now[512];

	CHECK(md);
	struct dfs **fs = t_mount(md);
	CHECK(fs);
	CHECK_EQ(rw_sector(md, DAX_REQ_READ, m[i].label_sector, good), 0);
	const uint64_t label = m[i].label_sector >> 3;
	struct stat st;
	CHECK_EQ(dfs_lookup(*fs, DFS_ROOT_INO, file, &st), 0);
	if (use == FILE_EXTENT) {
		CHECK_EQ(t_set_first_block(*fs, st.st_ino, label), 0);
	} else {
		pthread_mutex_lock(&(*fs)->meta);
		CHECK_EQ(dfs_txn_reserve(*fs, 4), 0);
		CHECK_EQ(dfs_iget(*fs, st.st_ino, &ip), 0);
		ip->d.xattr_blk = label;
		CHECK_EQ(dfs_inode_write(*fs, ip), 0);
		pthread_mutex_unlock(&(*fs)->meta);
	}
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_REPAIRED(md, &rep, FSCK_ASKS);
	const unsigned long long ino = st.st_ino, blk = label;
	CHECK_HAS(&rep, use == FILE_EXTENT ?
		  t_fmt("inode %llu: block %llu is also used by the label of member %d: give it its "
			"own copy (repaired)", ino, blk, i) :
		  t_fmt("inode %llu: xattr block %llu is a member label's block: drop it "
			"(repaired)", ino, blk));
	CHECK_EQ(rw_sector(md, DAX_REQ_READ, m[i].label_sector, now), 0);
	CHECK(!memcmp(now, good, sizeof(good)));
	return T_PASS;
}

static int test_fsck_gives_a_file_mapping_a_label_block_its_own_copy(void)
{
	return fsck_takes_back_a_label_block(1, "f0", FILE_EXTENT);
}

static int test_fsck_drops_an_xattr_block_that_is_a_label_block(void)
{
	return fsck_takes_back_a_label_block(2, "f1", XATTR_BLOCK);
}

/* A bitmap (checksum and count made to agree) that marks a label block
 * free: the allocator never hands it out, and fsck marks it again. */
static int test_a_bitmap_marking_a_label_block_free_is_refused_and_fsck_marks_it(void)
{
	struct dfs_super sb;
	struct dfs_member m[3];
	struct mapped_device *md = three(&sb, m);
	static uint8_t bm[4096], gdt[4096];
	struct t_report rep;
	struct dfs_gd gd;

	CHECK(md);
	const uint64_t label = m[1].label_sector >> 3;
	CHECK(label < DFS_BLOCKS_PER_GROUP);
	CHECK_EQ(t_rw_block(md, DAX_REQ_READ, sb.gdt_start, gdt), 0);
	CHECK_EQ(dfs_gd_decode(gdt, 0, sb.total_blocks, &gd), 0);
	CHECK(gd.bitmap_blk);
	CHECK_EQ(t_rw_block(md, DAX_REQ_READ, gd.bitmap_blk, bm), 0);
	CHECK(bm[label / 8] & (1u << (label % 8)));
	bm[label / 8] &= (uint8_t)~(1u << (label % 8));
	gd.free++;
	gd.bitmap_crc = crc32c(bm, sizeof(bm));
	dfs_gd_encode(&gd, 0, gdt);
	CHECK_EQ(t_rw_block(md, DAX_REQ_WRITE, gd.bitmap_blk, bm), 0);
	CHECK_EQ(t_rw_block(md, DAX_REQ_WRITE, sb.gdt_start, gdt), 0);

	struct dfs **fs = t_mount(md);
	uint64_t pblk, len;
	CHECK(fs);
	pthread_mutex_lock(&(*fs)->meta);
	int err = dfs_alloc(*fs, label, 1, 1, 0, &pblk, &len);
	pthread_mutex_unlock(&(*fs)->meta);
	/* the bitmap's count is not to be trusted either: the group refuses */
	CHECK_EQ(err, -EIO);
	CHECK(strstr(daxfs_errormsg(), "the label block") != NULL);
	dfs_abandon(fs);
	CHECK_REPAIRED(md, &rep, FSCK_PREENS);
	CHECK_HAS(&rep, "group 0: 1 blocks in use but marked free (repaired)");
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_fsck_writes_a_damaged_label_again_from_the_member_table),
	T_CASE(test_fsck_writes_member_0s_label_again_beside_its_superblock),
	T_CASE(test_fsck_rebuilds_a_member_table_block_from_the_labels),
	T_CASE(test_fsck_writes_a_label_found_elsewhere_on_its_member_in_its_place),
	T_CASE(test_fsck_refuses_a_member_whose_label_is_zeroed),
	T_CASE(test_fsck_rebuilds_a_damaged_table_from_a_damaged_label_whose_entry_agrees),
	T_CASE(test_fsck_refuses_a_damaged_table_whose_damaged_label_disagrees),
	T_CASE(test_fsck_refuses_a_damaged_table_on_reordered_members),
	T_CASE(test_fsck_refuses_labels_that_swapped_places),
	T_CASE(test_fsck_gives_a_file_mapping_a_label_block_its_own_copy),
	T_CASE(test_fsck_drops_an_xattr_block_that_is_a_label_block),
	T_CASE(test_a_bitmap_marking_a_label_block_free_is_refused_and_fsck_marks_it),
};

T_MAIN(cases)