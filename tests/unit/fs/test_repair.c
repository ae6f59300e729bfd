/* test_repair.c - fsck -y repairs each kind of damage it reports, and -n then finds the filesystem clean */
#include "fixture.h"
#include "fs/internal.h"
#include "peek.h"

#define MB (1024ull * 1024)

static uint64_t file_with(struct dfs *fs, uint64_t dir, const char *name, int c, size_t len)
{
	static uint8_t buf[65536];
	uint64_t ino = t_create(fs, dir, name);

	memset(buf, c, len);
	if (!ino || dfs_pwrite(fs, ino, buf, len, 0, 0) != (ssize_t)len)
		return 0;
	return ino;
}

static bool holds(struct dfs *fs, uint64_t ino, int c, size_t len)
{
	static uint8_t buf[65536];

	if (dfs_pread(fs, ino, buf, len, 0) != (ssize_t)len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (buf[i] != c)
			return false;
	return true;
}

static int test_fsck_gives_the_later_owner_of_a_shared_block_its_own_copy(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	struct t_report rep;

	CHECK(fs);
	uint64_t ia = file_with(*fs, DFS_ROOT_INO, "a", 'a', 4096);
	uint64_t ib = file_with(*fs, DFS_ROOT_INO, "b", 'b', 4096);
	CHECK(ia && ib);
	const uint64_t shared = t_first_block(*fs, ia);
	/* b's own block leaks, a's is used twice */
	CHECK_EQ(t_set_first_block(*fs, ib, shared), 0);
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_REPAIRED(md, &rep, FSCK_ASKS);
	CHECK_HAS(&rep, t_fmt("inode %llu: block %llu is also used by inode %llu: give it its own copy "
			      "(repaired)", (unsigned long long)ib, (unsigned long long)shared,
			      (unsigned long long)ia));
	CHECK_HAS(&rep, "group 0: 1 blocks marked in use but unused (repaired)");
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	CHECK(holds(*fs, ia, 'a', 4096));
	CHECK(holds(*fs, ib, 'a', 4096));       /* what the block held: a copy of it */
	CHECK(t_first_block(*fs, ib) != shared);
	return T_PASS;
}

static int test_fsck_detaches_a_shared_block_when_no_block_is_free(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(16 * MB, &md);
	struct t_report rep;
	struct statvfs sv;
	struct dfs_inode *c;

	CHECK(fs);
	uint64_t ia = file_with(*fs, DFS_ROOT_INO, "a", 'a', 4096);
	uint64_t ic = t_create(*fs, DFS_ROOT_INO, "c");
	uint64_t filler = t_create(*fs, DFS_ROOT_INO, "filler");
	CHECK(ia && ic && filler);
	/* fsck may take the reserve: the filler takes it too */
	(*fs)->resv_blocks = 0;
	CHECK_EQ(dfs_statfs(*fs, &sv), 0);
	CHECK_EQ(dfs_fallocate(*fs, filler, 0, 0, (off_t)(sv.f_bfree - 8) * 4096), 0);
	for (int i = 0; i < 64 && dfs_fallocate(*fs, filler, 0, 0, (off_t)(sv.f_bfree + i) * 4096) == 0; i++)
		;      /* whatever the chain and descriptors took: the last blocks */
	CHECK_EQ(dfs_statfs(*fs, &sv), 0);
	CHECK_EQ(sv.f_bfree, 0);
	const uint64_t shared = t_first_block(*fs, ia);
	pthread_mutex_lock(&(*fs)->meta);
	CHECK_EQ(dfs_txn_reserve(*fs, 8), 0);
	CHECK_EQ(dfs_iget(*fs, ic, &c), 0);
	struct dfs_extent e = { 0, shared, 1, 0 };
	c->d.size = 4096;
	CHECK_EQ(dfs_extent_insert(*fs, c, &e), 0);
	pthread_mutex_unlock(&(*fs)->meta);
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_REPAIRED(md, &rep, FSCK_ASKS);
	CHECK_HAS(&rep, t_fmt("inode %llu: block %llu is also used by inode %llu: detach them from it "
			      "(no free space for a copy) (repaired)", (unsigned long long)ic,
			      (unsigned long long)shared, (unsigned long long)ia));
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	CHECK(holds(*fs, ia, 'a', 4096));
	CHECK(holds(*fs, ic, 0, 4096));         /* a hole where the block was */
	return T_PASS;
}

static int test_fsck_names_the_inode_table_as_the_other_owner(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	struct t_report rep;

	CHECK(fs);
	uint64_t ino = file_with(*fs, DFS_ROOT_INO, "f", 'f', 4096);
	CHECK(ino);
	const uint64_t itable = (*fs)->sb.itable[0].pblk + 1;
	CHECK_EQ(t_set_first_block(*fs, ino, itable), 0);
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_REPAIRED(md, &rep, FSCK_ASKS);
	CHECK_HAS(&rep, t_fmt("inode %llu: block %llu is also used by the inode table: give it its own "
			      "copy (repaired)", (unsigned long long)ino, (unsigned long long)itable));
	CHECK(!strstr(rep.text, "inode 0"));
	return T_PASS;
}

static int test_fsck_keeps_the_entries_of_a_root_block_whose_checksum_alone_fails(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	struct t_report rep;
	struct stat st;
	uint8_t blk[4096];

	CHECK(fs);
	uint64_t ino = file_with(*fs, DFS_ROOT_INO, "kept", 'k', 100);
	CHECK(ino && t_create(*fs, DFS_ROOT_INO, "other"));
	const uint64_t rb = t_first_block(*fs, DFS_ROOT_INO);
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(t_rw_block(md, DAX_REQ_READ, rb, blk), 0);
	blk[4000] ^= 0x08;         /* slack after the last record: only the crc notices */
	CHECK_EQ(t_rw_block(md, DAX_REQ_WRITE, rb, blk), 0);
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	CHECK_EQ(dfs_lookup(*fs, DFS_ROOT_INO, "kept", &st), -EIO);
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_REPAIRED(md, &rep, FSCK_PREENS);
	CHECK_HAS(&rep, "directory 1: block 0");
	CHECK_HAS(&rep, "checksum mismatch; its entries check out: rewrite it (repaired)");
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	CHECK_EQ(dfs_lookup(*fs, DFS_ROOT_INO, "kept", &st), 0);
	CHECK_EQ(dfs_lookup(*fs, DFS_ROOT_INO, "other", &st), 0);
	CHECK(holds(*fs, ino, 'k', 100));
	return T_PASS;
}

static int test_fsck_reconnects_the_children_of_a_zeroed_root_block_under_lost_found(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	struct t_report rep;
	struct stat st, lf;
	uint8_t blk[4096] = { 0 };

	CHECK(fs);
	uint64_t ino = file_with(*fs, DFS_ROOT_INO, "kept", 'k', 100);
	CHECK_EQ(dfs_mkdir(*fs, DFS_ROOT_INO, "d", 0755, &t_cred, &st), 0);
	uint64_t inner = file_with(*fs, st.st_ino, "inner", 'i', 10);
	CHECK(ino && inner);
	const uint64_t rb = t_first_block(*fs, DFS_ROOT_INO);
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(t_rw_block(md, DAX_REQ_WRITE, rb, blk), 0);
	CHECK_REPAIRED(md, &rep, FSCK_ASKS);
	CHECK_HAS(&rep, "directory 1: block 0");
	CHECK_HAS(&rep, t_fmt("inode %llu is in use but not reachable from the root: reconnect it under "
			      "/lost+found (repaired)", (unsigned long long)ino));
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	CHECK_EQ(dfs_lookup(*fs, DFS_ROOT_INO, "lost+found", &lf), 0);
	CHECK_EQ(dfs_lookup(*fs, lf.st_ino, t_fmt("#%llu", (unsigned long long)ino), &st), 0);
	CHECK(holds(*fs, ino, 'k', 100));
	CHECK(holds(*fs, inner, 'i', 10));      /* the lost directory kept what it held */
	return T_PASS;
}

/* Unmounts *fs and reads the block holding inode ino's slot into blk: its
 * number in *blkno, the slot's offset in it in *at. */
static int unmount_reading_slot(struct mapped_device *md, struct dfs **fs, uint64_t ino,
				uint64_t *blkno, size_t *at, uint8_t *blk)
{
	struct dfs_buf *b;
	uint8_t *slot;

	pthread_mutex_lock(&(*fs)->meta);
	CHECK_EQ(dfs_inode_slot(*fs, ino, &b, &slot), 0);
	*blkno = b->blkno;
	*at = (size_t)(slot - b->data);
	pthread_mutex_unlock(&(*fs)->meta);
	CHECK_EQ(dfs_unmount(fs), 0);
	return t_rw_block(md, DAX_REQ_READ, *blkno, blk);
}

static int test_fsck_makes_a_new_root_when_the_root_inode_is_garbage(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	struct t_report rep;
	struct stat st, lf;
	uint8_t blk[4096];

	CHECK(fs);
	uint64_t ino = file_with(*fs, DFS_ROOT_INO, "kept", 'k', 100);
	CHECK(ino);
	uint64_t blkno;
	size_t at;
	CHECK_EQ(unmount_reading_slot(md, fs, DFS_ROOT_INO, &blkno, &at, blk), 0);
	memset(blk + at, 0x5a, DFS_INODE_SIZE);
	CHECK_EQ(t_rw_block(md, DAX_REQ_WRITE, blkno, blk), 0);
	CHECK_EQ(dfs_mount(md, NULL, fs), -EIO);
	CHECK_MSG_HAS("run fsck.daxfs -y");
	CHECK_REPAIRED(md, &rep, FSCK_ASKS);
	CHECK_HAS(&rep, "root directory is missing: make a new, empty one");
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	CHECK_EQ(dfs_lookup(*fs, DFS_ROOT_INO, "lost+found", &lf), 0);
	CHECK_EQ(dfs_lookup(*fs, lf.st_ino, t_fmt("#%llu", (unsigned long long)ino), &st), 0);
	CHECK(holds(*fs, ino, 'k', 100));
	return T_PASS;
}

/* Group 0's descriptor with a free count, sealed as if it were true. */
static int set_free_count(struct mapped_device *md, uint64_t gdt, uint32_t free)
{
	uint8_t blk[4096];
	struct dfs_gd gd;
	int err;

	if ((err = t_rw_block(md, DAX_REQ_READ, gdt, blk)) || (err = dfs_gd_decode(blk, 0, UINT64_MAX, &gd)))
		return err;
	gd.free = free;
	dfs_gd_encode(&gd, 0, blk);
	return t_rw_block(md, DAX_REQ_WRITE, gdt, blk);
}

static int test_a_free_count_above_the_truth_is_refused_at_first_use_and_recomputed(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	struct t_report rep;
	struct statvfs sv;
	struct stat st;

	CHECK(fs);
	CHECK(file_with(*fs, DFS_ROOT_INO, "f", 'f', 8192));
	const uint64_t gdt = (*fs)->sb.gdt_start;
	const uint32_t truth = (*fs)->gds[0].free;
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(set_free_count(md, gdt, truth + 5), 0);
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	CHECK_EQ(dfs_statfs(*fs, &sv), 0);
	CHECK(sv.f_bfree <= sv.f_blocks);
	/* the first allocation reads the bitmap, which disagrees: refused, not wrapped */
	CHECK_EQ(dfs_mknod(*fs, DFS_ROOT_INO, "g", S_IFREG | 0644, 0, &t_cred, &st), 0);
	CHECK_EQ(dfs_pwrite(*fs, st.st_ino, "x", 1, 0, 0), -EIO);
	CHECK_MSG_HAS(t_fmt("group 0: free count %u, but its bitmap has %u free blocks", truth + 5, truth));
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_REPAIRED(md, &rep, FSCK_PREENS);
	CHECK_HAS(&rep, t_fmt("group 0: free count %u, bitmap says %u (repaired)", truth + 5, truth));
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	CHECK_EQ(dfs_pwrite(*fs, st.st_ino, "x", 1, 0, 0), 1);
	return T_PASS;
}

static int test_a_free_count_above_the_group_size_refuses_the_mount(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	struct t_report rep;

	CHECK(fs);
	const uint64_t gdt = (*fs)->sb.gdt_start;
	/* the group's blocks but its fixed metadata, label and bitmap */
	const uint64_t room = dfs_group_len(*fs, 0) - (*fs)->sb.data_start -
			      dfs_label_blocks_in(*fs, 0, dfs_group_len(*fs, 0), NULL) - 1;
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(set_free_count(md, gdt, (uint32_t)room + 1), 0);
	CHECK_EQ(dfs_mount(md, NULL, fs), -EIO);
	CHECK_MSG_HAS(t_fmt("group 0: free count %llu is more than the %llu blocks the group has for data",
			    (unsigned long long)room + 1, (unsigned long long)room));
	CHECK_MSG_HAS("run fsck.daxfs -y");
	CHECK_REPAIRED(md, &rep, FSCK_PREENS);
	CHECK_HAS(&rep, "group 0: free count");
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	return T_PASS;
}

static int test_fsck_keeps_the_extents_before_a_damaged_chain_block(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	struct t_report rep;
	struct dfs_inode *ip;
	uint8_t blk[4096] = { 0 };

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "frag");
	CHECK(ino);
	for (int i = 0; i < 200; i++)      /* 200 extents: two chain blocks */
		CHECK_EQ(dfs_pwrite(*fs, ino, "x", 1, (off_t)i * 8192, 0), 1);
	pthread_mutex_lock(&(*fs)->meta);
	CHECK_EQ(dfs_iget(*fs, ino, &ip), 0);
	CHECK_EQ(ip->nchain, 2);
	const uint64_t second = ip->chain[1];
	pthread_mutex_unlock(&(*fs)->meta);
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(t_rw_block(md, DAX_REQ_WRITE, second, blk), 0);
	CHECK_REPAIRED(md, &rep, FSCK_ASKS);
	CHECK_HAS(&rep, t_fmt("inode %llu: extent map is damaged (block %llu: no extent block magic): "
			      "keep its first 169 extents (repaired)", (unsigned long long)ino,
			      (unsigned long long)second));
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	char c;
	CHECK_EQ(dfs_pread(*fs, ino, &c, 1, 168 * 8192), 1);
	CHECK_EQ(c, 'x');
	CHECK_EQ(dfs_pread(*fs, ino, &c, 1, 169 * 8192), 1);
	CHECK_EQ(c, 0);                         /* the extents past it are gone */
	return T_PASS;
}

static int test_fsck_rewrites_an_inode_whose_checksum_alone_fails(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	struct t_report rep;
	uint8_t blk[4096];

	CHECK(fs);
	uint64_t ino = file_with(*fs, DFS_ROOT_INO, "f", 'f', 100);
	CHECK(ino);
	uint64_t blkno;
	size_t at;
	CHECK_EQ(unmount_reading_slot(md, fs, ino, &blkno, &at, blk), 0);
	blk[at + DFS_INO_UID] ^= 1;
	CHECK_EQ(t_rw_block(md, DAX_REQ_WRITE, blkno, blk), 0);
	CHECK_REPAIRED(md, &rep, FSCK_PREENS);
	CHECK_HAS(&rep, t_fmt("inode %llu: checksum mismatch; the rest checks out: rewrite it (repaired)",
			      (unsigned long long)ino));
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	CHECK(holds(*fs, ino, 'f', 100));
	return T_PASS;
}

/* Another structure's bytes in a slot can decode as an inode: a checksum
 * mismatch with more wrong besides is garbage, cleared, not made a file. */
static int test_fsck_clears_a_slot_that_holds_garbage(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	struct t_report rep;
	struct stat st;
	uint8_t blk[4096];

	CHECK(fs);
	uint64_t ino = file_with(*fs, DFS_ROOT_INO, "f", 'f', 100);
	CHECK(ino);
	uint64_t blkno;
	size_t at;
	CHECK_EQ(unmount_reading_slot(md, fs, ino, &blkno, &at, blk), 0);
	memset(blk + at, 0, DFS_INODE_SIZE);
	/* a directory of 99 blocks, size 12345, no extents */
	dfs_put32(blk + at + DFS_INO_MODE, S_IFDIR | 0755);
	dfs_put64(blk + at + DFS_INO_SIZE, 12345);
	dfs_put64(blk + at + DFS_INO_BLOCKS, 99);
	CHECK_EQ(t_rw_block(md, DAX_REQ_WRITE, blkno, blk), 0);
	CHECK_REPAIRED(md, &rep, FSCK_ASKS);
	CHECK_HAS(&rep, t_fmt("inode %llu: checksum mismatch and 3 other problems", (unsigned long long)ino));
	CHECK_HAS(&rep, "the slot holds garbage: clear it (repaired)");
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	CHECK_EQ(dfs_lookup(*fs, DFS_ROOT_INO, "f", &st), -ENOENT);
	return T_PASS;
}

static int test_fsck_puts_back_inode_table_blocks_that_swapped_places(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	struct t_report rep;
	uint64_t ino[40];
	uint8_t b0[4096], b1[4096];

	CHECK(fs);
	for (int i = 0; i < 40; i++)       /* inodes in the first three table blocks */
		CHECK((ino[i] = file_with(*fs, DFS_ROOT_INO, t_fmt("f%d", i), 'a' + i % 26, 64)));
	const uint64_t t0 = (*fs)->sb.itable[0].pblk;
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(t_rw_block(md, DAX_REQ_READ, t0, b0), 0);
	CHECK_EQ(t_rw_block(md, DAX_REQ_READ, t0 + 1, b1), 0);
	CHECK_EQ(t_rw_block(md, DAX_REQ_WRITE, t0, b1), 0);
	CHECK_EQ(t_rw_block(md, DAX_REQ_WRITE, t0 + 1, b0), 0);
	CHECK_EQ(dfs_mount(md, NULL, fs), -EIO);        /* the root is not where it belongs */
	CHECK_REPAIRED(md, &rep, FSCK_ASKS);
	CHECK_HAS(&rep, "inodes 1 and 17 hold each other's slot (blocks swapped): exchange them (repaired)");
	CHECK(!strstr(rep.text, "clear it"));
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	for (int i = 0; i < 40; i++)
		CHECK(holds(*fs, ino[i], 'a' + i % 26, 64));
	return T_PASS;
}

static int test_fsck_removes_a_second_entry_of_a_directory(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	struct t_report rep;
	struct dfs_inode *root;
	struct stat d;

	CHECK(fs);
	CHECK_EQ(dfs_mkdir(*fs, DFS_ROOT_INO, "d", 0755, &t_cred, &d), 0);
	pthread_mutex_lock(&(*fs)->meta);
	CHECK_EQ(dfs_txn_reserve(*fs, 8), 0);
	CHECK_EQ(dfs_iget(*fs, DFS_ROOT_INO, &root), 0);
	CHECK_EQ(dfs_dir_add(*fs, root, "again", d.st_ino, S_IFDIR), 0);
	pthread_mutex_unlock(&(*fs)->meta);
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_REPAIRED(md, &rep, FSCK_ASKS);
	CHECK_HAS(&rep, t_fmt("directory %llu is entered from more than one place", (unsigned long long)d.st_ino));
	return T_PASS;
}

static int test_fsck_links_a_damaged_orphan_list_again(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	struct t_report rep;
	struct dfs_inode *ip;

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK(ino);
	pthread_mutex_lock(&(*fs)->meta);
	CHECK_EQ(dfs_txn_reserve(*fs, 8), 0);
	CHECK_EQ(dfs_iget(*fs, ino, &ip), 0);
	ip->d.flags |= DFS_IFLAG_ORPHAN;       /* flagged, but the list does not hold it */
	CHECK_EQ(dfs_inode_write(*fs, ip), 0);
	CHECK_EQ(dfs_commit(*fs), 0);
	pthread_mutex_unlock(&(*fs)->meta);
	dfs_abandon(fs);
	CHECK_REPAIRED(md, &rep, FSCK_PREENS);
	CHECK_HAS(&rep, t_fmt("inode %llu is marked orphan but is not on the orphan list: add it (repaired)",
			      (unsigned long long)ino));
	return T_PASS;
}

static int flip_bit(struct mapped_device *md, uint64_t blk, unsigned byte, unsigned bit)
{
	uint8_t b[4096];
	int err = t_rw_block(md, DAX_REQ_READ, blk, b);

	b[byte] ^= (uint8_t)(1u << bit);
	return err ? err : t_rw_block(md, DAX_REQ_WRITE, blk, b);
}

static int test_fsck_recovers_superblocks_damaged_in_both_copies(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	struct t_report rep;
	uint8_t zero[4096] = { 0 };
	struct stat st;

	CHECK(fs);
	CHECK(t_create(*fs, DFS_ROOT_INO, "f"));
	CHECK_EQ(dfs_unmount(fs), 0);
	/* a flipped bit in each copy, in different places */
	CHECK_EQ(flip_bit(md, DFS_SB_PRIMARY, 40, 2), 0);
	CHECK_EQ(flip_bit(md, DFS_SB_BACKUP, 60, 5), 0);
	CHECK_EQ(dfs_mount(md, NULL, fs), -EIO);
	CHECK_REPAIRED(md, &rep, FSCK_ASKS);
	CHECK_HAS(&rep, "both copies are damaged: recovered from the two");
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	CHECK_EQ(dfs_lookup(*fs, DFS_ROOT_INO, "f", &st), 0);
	CHECK_EQ(dfs_unmount(fs), 0);
	/* one copy gone, the other a bit off */
	CHECK_EQ(t_rw_block(md, DAX_REQ_WRITE, DFS_SB_BACKUP, zero), 0);
	CHECK_EQ(flip_bit(md, DFS_SB_PRIMARY, 150, 0), 0);
	CHECK_REPAIRED(md, &rep, FSCK_ASKS);
	CHECK_HAS(&rep, "recovered from a copy one bit off");
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	CHECK_EQ(dfs_lookup(*fs, DFS_ROOT_INO, "f", &st), 0);
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_fsck_recovers_superblocks_damaged_in_both_copies),
	T_CASE(test_fsck_gives_the_later_owner_of_a_shared_block_its_own_copy),
	T_CASE(test_fsck_detaches_a_shared_block_when_no_block_is_free),
	T_CASE(test_fsck_names_the_inode_table_as_the_other_owner),
	T_CASE(test_fsck_keeps_the_entries_of_a_root_block_whose_checksum_alone_fails),
	T_CASE(test_fsck_reconnects_the_children_of_a_zeroed_root_block_under_lost_found),
	T_CASE(test_fsck_makes_a_new_root_when_the_root_inode_is_garbage),
	T_CASE(test_a_free_count_above_the_truth_is_refused_at_first_use_and_recomputed),
	T_CASE(test_a_free_count_above_the_group_size_refuses_the_mount),
	T_CASE(test_fsck_keeps_the_extents_before_a_damaged_chain_block),
	T_CASE(test_fsck_rewrites_an_inode_whose_checksum_alone_fails),
	T_CASE(test_fsck_clears_a_slot_that_holds_garbage),
	T_CASE(test_fsck_puts_back_inode_table_blocks_that_swapped_places),
	T_CASE(test_fsck_removes_a_second_entry_of_a_directory),
	T_CASE(test_fsck_links_a_damaged_orphan_list_again),
};

T_MAIN(cases)