/* fs/format.c - encoders and checking decoders of the on-media structures */
#include <errno.h>
#include <string.h>

#include "util/crc32c.h"
#include "fs/format.h"
#include "util/err.h"

/* Every checksum is seeded with the object's place (a block, inode or group
 * number), so that a structure written to the wrong place is found. */
static uint32_t entry_crc(uint64_t id, const uint8_t *p, size_t len)
{
	uint8_t le[8];

	dfs_put64(le, id);
	return crc32c_final(crc32c_update(crc32c_update(CRC32C_INIT, le, 8), p, len));
}

uint32_t dfs_block_crc(uint64_t blkno, const uint8_t *block)
{
	return entry_crc(blkno, block, DFS_TAIL_CRC_OFF);
}

void dfs_block_seal(uint64_t blkno, uint8_t *block)
{
	dfs_put32(block + DFS_TAIL_CRC_OFF, dfs_block_crc(blkno, block));
}

bool dfs_block_crc_ok(uint64_t blkno, const uint8_t *block)
{
	return dfs_get32(block + DFS_TAIL_CRC_OFF) == dfs_block_crc(blkno, block);
}

/* ---- journal blocks ---- */

void dfs_jhead_encode(const uint8_t uuid[16], uint64_t js, uint64_t seq, uint8_t *b)
{
	memset(b, 0, DFS_BLOCK_SIZE);
	dfs_put32(b + DFS_BLK_MAGIC, DFS_MAGIC_JHEAD);
	dfs_put64(b + DFS_JBLK_SEQ, seq);
	memcpy(b + DFS_JBLK_UUID, uuid, 16);
	dfs_block_seal(js, b);
}

bool dfs_jblock_ok(const uint8_t *b, uint64_t blk, uint32_t magic, const uint8_t uuid[16],
		   uint64_t seq)
{
	return dfs_get32(b + DFS_BLK_MAGIC) == magic && dfs_block_crc_ok(blk, b) &&
	       (seq == 0 || dfs_get64(b + DFS_JBLK_SEQ) == seq) &&
	       memcmp(b + DFS_JBLK_UUID, uuid, 16) == 0;
}

/* ---- superblock ---- */

void dfs_super_encode(const struct dfs_super *sb, uint64_t blkno, uint8_t *b)
{
	memset(b, 0, DFS_BLOCK_SIZE);
	dfs_put64(b + DFS_SB_MAGIC, DFS_MAGIC);
	dfs_put16(b + DFS_SB_MAJOR, sb->major);
	dfs_put16(b + DFS_SB_MINOR, sb->minor);
	dfs_put32(b + DFS_SB_BLOCK_SIZE, DFS_BLOCK_SIZE);
	dfs_put64(b + DFS_SB_TOTAL_BLOCKS, sb->total_blocks);
	dfs_put64(b + DFS_SB_FINGERPRINT, sb->fingerprint);
	memcpy(b + DFS_SB_UUID, sb->uuid, 16);
	memcpy(b + DFS_SB_LABEL, sb->label, strnlen(sb->label, 63));
	dfs_put32(b + DFS_SB_STATE, sb->state);
	dfs_put64(b + DFS_SB_JOURNAL_START, sb->journal_start);
	dfs_put64(b + DFS_SB_JOURNAL_BLOCKS, sb->journal_blocks);
	dfs_put64(b + DFS_SB_GDT_START, sb->gdt_start);
	dfs_put32(b + DFS_SB_GDT_BLOCKS, sb->gdt_blocks);
	dfs_put32(b + DFS_SB_BLOCKS_PER_GROUP, sb->blocks_per_group);
	dfs_put64(b + DFS_SB_NGROUPS, sb->ngroups);
	dfs_put64(b + DFS_SB_DATA_START, sb->data_start);
	dfs_put64(b + DFS_SB_ORPHAN_HEAD, sb->orphan_head);
	dfs_put64(b + DFS_SB_NEXT_GENERATION, sb->next_generation);
	dfs_put64(b + DFS_SB_MKFS_TIME, (uint64_t)sb->mkfs_time);
	dfs_put64(b + DFS_SB_MOUNT_TIME, (uint64_t)sb->mount_time);
	dfs_put64(b + DFS_SB_WRITE_TIME, (uint64_t)sb->write_time);
	dfs_put32(b + DFS_SB_MOUNT_COUNT, sb->mount_count);
	dfs_put32(b + DFS_SB_ITABLE_NEXTENTS, sb->itable_nextents);
	dfs_put32(b + DFS_SB_NMEMBERS, sb->nmembers);
	dfs_put32(b + DFS_SB_MEMBER_BLOCKS, sb->member_blocks);
	for (unsigned i = 0; i < sb->itable_nextents && i < DFS_ITABLE_MAX_EXTENTS; i++) {
		uint8_t *e = b + DFS_SB_ITABLE + i * DFS_SB_ITABLE_ENTRY;

		dfs_put64(e + DFS_SB_ITABLE_PBLK, sb->itable[i].pblk);
		dfs_put32(e + DFS_SB_ITABLE_LEN, sb->itable[i].len);
	}
	dfs_block_seal(blkno, b);
}

static uint64_t div_up(uint64_t a, uint64_t b)
{
	return a / b + (a % b != 0);
}

int dfs_super_decode(const uint8_t *b, uint64_t blkno, struct dfs_super *sb)
{
	memset(sb, 0, sizeof(*sb));
	if (dfs_get64(b + DFS_SB_MAGIC) != DFS_MAGIC)
		return daxfs_err(-EINVAL, "superblock %llu: no daxfs magic", (unsigned long long)blkno);
	if (!dfs_block_crc_ok(blkno, b))
		return daxfs_err(-EIO, "superblock %llu: checksum mismatch", (unsigned long long)blkno);
	sb->major = dfs_get16(b + DFS_SB_MAJOR);
	sb->minor = dfs_get16(b + DFS_SB_MINOR);
	if (sb->major == 1)
		return daxfs_err(-EINVAL, "superblock %llu: format version 1.%u, made before member "
				 "labels (format 2.0): its member files cannot be verified, so it is "
				 "not mounted; copy its files out with the daxfs-fuse that made it, then "
				 "make the filesystem again with mkfs.daxfs", (unsigned long long)blkno,
				 sb->minor);
	if (sb->major != DFS_VERSION_MAJOR)
		return daxfs_err(-EINVAL, "superblock %llu: unsupported format version %u.%u (this is %u.%u)",
				 (unsigned long long)blkno, sb->major, sb->minor,
				 DFS_VERSION_MAJOR, DFS_VERSION_MINOR);
	if (dfs_get32(b + DFS_SB_BLOCK_SIZE) != DFS_BLOCK_SIZE)
		return daxfs_err(-EINVAL, "superblock %llu: block size %u is not 4096",
				 (unsigned long long)blkno, dfs_get32(b + DFS_SB_BLOCK_SIZE));
	sb->total_blocks = dfs_get64(b + DFS_SB_TOTAL_BLOCKS);
	sb->fingerprint = dfs_get64(b + DFS_SB_FINGERPRINT);
	memcpy(sb->uuid, b + DFS_SB_UUID, 16);
	memcpy(sb->label, b + DFS_SB_LABEL, 63);
	sb->label[63] = '\0';
	sb->state = dfs_get32(b + DFS_SB_STATE);
	sb->journal_start = dfs_get64(b + DFS_SB_JOURNAL_START);
	sb->journal_blocks = dfs_get64(b + DFS_SB_JOURNAL_BLOCKS);
	sb->gdt_start = dfs_get64(b + DFS_SB_GDT_START);
	sb->gdt_blocks = dfs_get32(b + DFS_SB_GDT_BLOCKS);
	sb->blocks_per_group = dfs_get32(b + DFS_SB_BLOCKS_PER_GROUP);
	sb->ngroups = dfs_get64(b + DFS_SB_NGROUPS);
	sb->data_start = dfs_get64(b + DFS_SB_DATA_START);
	sb->orphan_head = dfs_get64(b + DFS_SB_ORPHAN_HEAD);
	sb->next_generation = dfs_get64(b + DFS_SB_NEXT_GENERATION);
	sb->mkfs_time = (int64_t)dfs_get64(b + DFS_SB_MKFS_TIME);
	sb->mount_time = (int64_t)dfs_get64(b + DFS_SB_MOUNT_TIME);
	sb->write_time = (int64_t)dfs_get64(b + DFS_SB_WRITE_TIME);
	sb->mount_count = dfs_get32(b + DFS_SB_MOUNT_COUNT);
	sb->itable_nextents = dfs_get32(b + DFS_SB_ITABLE_NEXTENTS);
	sb->nmembers = dfs_get32(b + DFS_SB_NMEMBERS);
	sb->member_blocks = dfs_get32(b + DFS_SB_MEMBER_BLOCKS);

	const char *bad = NULL;
	if (sb->total_blocks < DFS_MIN_BLOCKS || sb->total_blocks > (UINT64_MAX >> DFS_BLOCK_SHIFT))
		bad = "total block count";
	else if (sb->state != DFS_STATE_CLEAN && sb->state != DFS_STATE_DIRTY)
		bad = "state";
	else if (sb->blocks_per_group != DFS_BLOCKS_PER_GROUP)
		bad = "blocks per group";
	else if (sb->ngroups != div_up(sb->total_blocks, DFS_BLOCKS_PER_GROUP))
		bad = "group count";
	else if (sb->journal_start != 2 || sb->journal_blocks < DFS_JOURNAL_MIN ||
		 sb->journal_blocks > sb->total_blocks / 2)
		bad = "journal geometry";
	else if (sb->gdt_start != sb->journal_start + sb->journal_blocks ||
		 sb->gdt_blocks != div_up(sb->ngroups, DFS_GD_PER_BLOCK))
		bad = "group descriptor table geometry";
	else if (sb->nmembers == 0 || sb->nmembers > DFS_MAX_MEMBERS ||
		 sb->member_blocks != div_up(sb->nmembers, DFS_MTAB_PER_BLOCK))
		bad = "member table geometry";
	else if (sb->data_start != sb->gdt_start + sb->gdt_blocks + sb->member_blocks ||
		 sb->data_start >= sb->total_blocks || sb->data_start > DFS_BLOCKS_PER_GROUP)
		bad = "data start";
	else if (sb->itable_nextents == 0 || sb->itable_nextents > DFS_ITABLE_MAX_EXTENTS)
		bad = "inode table extent count";
	if (bad)
		return daxfs_err(-EIO, "superblock %llu: bad %s", (unsigned long long)blkno, bad);
	for (unsigned i = 0; i < sb->itable_nextents; i++) {
		struct dfs_itable_extent *e = &sb->itable[i];
		const uint8_t *p = b + DFS_SB_ITABLE + i * DFS_SB_ITABLE_ENTRY;

		e->pblk = dfs_get64(p + DFS_SB_ITABLE_PBLK);
		e->len = dfs_get32(p + DFS_SB_ITABLE_LEN);
		if (e->len == 0 || e->pblk < sb->data_start || e->pblk >= sb->total_blocks ||
		    e->len > sb->total_blocks - e->pblk)
			return daxfs_err(-EIO, "superblock %llu: inode table extent %u out of bounds",
					 (unsigned long long)blkno, i);
	}
	return 0;
}

bool dfs_super_identify(const uint8_t *b, uint64_t blkno, struct dfs_super_id *out)
{
	memset(out, 0, sizeof(*out));
	if (dfs_get64(b + DFS_SB_MAGIC) != DFS_MAGIC || !dfs_block_crc_ok(blkno, b))
		return false;
	out->major = dfs_get16(b + DFS_SB_MAJOR);
	out->minor = dfs_get16(b + DFS_SB_MINOR);
	memcpy(out->uuid, b + DFS_SB_UUID, 16);
	memcpy(out->label, b + DFS_SB_LABEL, 63);
	return true;
}

/* ---- members ---- */

static void member_encode(const struct dfs_member *m, uint8_t *p)
{
	memset(p, 0, DFS_MEMBER_SIZE);
	dfs_put32(p + DFS_MEMBER_TARGET, m->target);
	dfs_put32(p + DFS_MEMBER_STRIPE, m->stripe);
	dfs_put32(p + DFS_MEMBER_NSTRIPES, m->nstripes);
	dfs_put64(p + DFS_MEMBER_TARGET_BEGIN, m->target_begin);
	dfs_put64(p + DFS_MEMBER_TARGET_LEN, m->target_len);
	dfs_put64(p + DFS_MEMBER_CHUNK, m->chunk);
	dfs_put64(p + DFS_MEMBER_OFFSET, m->offset);
	dfs_put64(p + DFS_MEMBER_LENGTH, m->length);
	dfs_put64(p + DFS_MEMBER_LABEL_SECTOR, m->label_sector);
	dfs_put64(p + DFS_MEMBER_LABEL_OFFSET, m->label_offset);
	memcpy(p + DFS_MEMBER_UUID, m->uuid, 16);
}

bool dfs_member_equal(const struct dfs_member *a, const struct dfs_member *b)
{
	uint8_t ea[DFS_MEMBER_SIZE], eb[DFS_MEMBER_SIZE];

	member_encode(a, ea);
	member_encode(b, eb);
	return memcmp(ea, eb, sizeof(ea)) == 0;
}

static bool member_decode(const uint8_t *p, struct dfs_member *m)
{
	m->target = dfs_get32(p + DFS_MEMBER_TARGET);
	m->stripe = dfs_get32(p + DFS_MEMBER_STRIPE);
	m->nstripes = dfs_get32(p + DFS_MEMBER_NSTRIPES);
	m->target_begin = dfs_get64(p + DFS_MEMBER_TARGET_BEGIN);
	m->target_len = dfs_get64(p + DFS_MEMBER_TARGET_LEN);
	m->chunk = dfs_get64(p + DFS_MEMBER_CHUNK);
	m->offset = dfs_get64(p + DFS_MEMBER_OFFSET);
	m->length = dfs_get64(p + DFS_MEMBER_LENGTH);
	m->label_sector = dfs_get64(p + DFS_MEMBER_LABEL_SECTOR);
	m->label_offset = dfs_get64(p + DFS_MEMBER_LABEL_OFFSET);
	memcpy(m->uuid, p + DFS_MEMBER_UUID, 16);
	return m->nstripes && m->stripe < m->nstripes && (m->nstripes == 1 || m->chunk) &&
	       m->target_len && m->target_begin <= UINT64_MAX - m->target_len &&
	       m->length && m->offset <= UINT64_MAX - m->length && m->label_offset < m->length &&
	       m->label_sector >= m->target_begin &&
	       m->label_sector - m->target_begin < m->target_len;
}

void dfs_mtab_encode(const struct dfs_member *m, uint32_t first, uint32_t count, uint64_t blkno,
		     uint8_t *b)
{
	memset(b, 0, DFS_BLOCK_SIZE);
	dfs_put32(b + DFS_BLK_MAGIC, DFS_MAGIC_MTAB);
	dfs_put32(b + DFS_MTAB_COUNT, count);
	dfs_put32(b + DFS_MTAB_FIRST, first);
	for (uint32_t i = 0; i < count && i < DFS_MTAB_PER_BLOCK; i++)
		member_encode(&m[first + i], b + DFS_MTAB_HDR + i * DFS_MEMBER_SIZE);
	dfs_block_seal(blkno, b);
}

int dfs_mtab_decode(const uint8_t *b, uint64_t blkno, uint32_t first, uint32_t nmembers,
		    struct dfs_member *m)
{
	uint32_t count = nmembers - first < DFS_MTAB_PER_BLOCK ? nmembers - first : DFS_MTAB_PER_BLOCK;

	if (dfs_get32(b + DFS_BLK_MAGIC) != DFS_MAGIC_MTAB || !dfs_block_crc_ok(blkno, b))
		return daxfs_err(-EIO, "member table block %llu: %s", (unsigned long long)blkno,
				 dfs_get32(b + DFS_BLK_MAGIC) != DFS_MAGIC_MTAB ? "no member table magic"
								: "checksum mismatch");
	if (first >= nmembers || dfs_get32(b + DFS_MTAB_COUNT) != count || dfs_get32(b + DFS_MTAB_FIRST) != first)
		return daxfs_err(-EIO, "member table block %llu: holds members %u+%u, expected "
				 "%u+%u", (unsigned long long)blkno, dfs_get32(b + DFS_MTAB_FIRST),
				 dfs_get32(b + DFS_MTAB_COUNT), first, count);
	for (uint32_t i = 0; i < count; i++)
		if (!member_decode(b + DFS_MTAB_HDR + i * DFS_MEMBER_SIZE, &m[first + i]))
			return daxfs_err(-EIO, "member table block %llu: member %u out of bounds",
					 (unsigned long long)blkno, first + i);
	return 0;
}

void dfs_label_encode(const struct dfs_label *l, uint8_t *p)
{
	memset(p, 0, DFS_LABEL_SIZE);
	dfs_put64(p + DFS_LABEL_MAGIC, DFS_MAGIC_LABEL);
	dfs_put16(p + DFS_LABEL_MAJOR, l->major);
	dfs_put16(p + DFS_LABEL_MINOR, l->minor);
	dfs_put32(p + DFS_LABEL_INDEX, l->index);
	memcpy(p + DFS_LABEL_FS_UUID, l->fs_uuid, 16);
	dfs_put32(p + DFS_LABEL_NMEMBERS, l->nmembers);
	member_encode(&l->m, p + DFS_LABEL_ENTRY);
	memcpy(p + DFS_LABEL_FS_LABEL, l->fs_label, strnlen(l->fs_label, 63));
	dfs_label_seal(p);
}

void dfs_label_seal(uint8_t *p)
{
	dfs_put32(p + DFS_LABEL_CRC, crc32c(p, DFS_LABEL_CRC));
}

void dfs_runrec_encode(const struct dfs_runrec *r, uint64_t pos, uint8_t *p)
{
	memset(p, 0, DFS_RUNREC_SIZE);
	dfs_put32(p + DFS_RUNREC_MAGIC, DFS_RUNREC_MAGIC_V);
	dfs_put32(p + DFS_RUNREC_EPOCH, r->epoch);
	dfs_put64(p + DFS_RUNREC_INO, r->ino);
	dfs_put64(p + DFS_RUNREC_FSIZE, r->size);
	dfs_put32(p + DFS_RUNREC_GENERATION, r->generation);
	dfs_put32(p + DFS_RUNREC_MOUNT_COUNT, r->mount_count);
	dfs_put32(p + DFS_RUNREC_CRC, entry_crc(pos, p, DFS_RUNREC_CRC));
}

int dfs_runrec_decode(const uint8_t *p, uint64_t pos, struct dfs_runrec *r)
{
	memset(r, 0, sizeof(*r));
	if (dfs_get32(p + DFS_RUNREC_MAGIC) != DFS_RUNREC_MAGIC_V ||
	    dfs_get32(p + DFS_RUNREC_CRC) != entry_crc(pos, p, DFS_RUNREC_CRC))
		return -EINVAL;
	r->epoch = dfs_get32(p + DFS_RUNREC_EPOCH);
	r->ino = dfs_get64(p + DFS_RUNREC_INO);
	r->size = dfs_get64(p + DFS_RUNREC_FSIZE);
	r->generation = dfs_get32(p + DFS_RUNREC_GENERATION);
	r->mount_count = dfs_get32(p + DFS_RUNREC_MOUNT_COUNT);
	return 0;
}

int dfs_label_decode(const uint8_t *p, struct dfs_label *l)
{
	memset(l, 0, sizeof(*l));
	if (dfs_get64(p + DFS_LABEL_MAGIC) != DFS_MAGIC_LABEL)
		return daxfs_err(-EINVAL, "no member label");
	if (dfs_get32(p + DFS_LABEL_CRC) != crc32c(p, DFS_LABEL_CRC))
		return daxfs_err(-EIO, "member label: checksum mismatch");
	return dfs_label_decode_unsealed(p, l);
}

int dfs_label_decode_unsealed(const uint8_t *p, struct dfs_label *l)
{
	memset(l, 0, sizeof(*l));
	if (dfs_get64(p + DFS_LABEL_MAGIC) != DFS_MAGIC_LABEL)
		return daxfs_err(-EINVAL, "no member label");
	l->major = dfs_get16(p + DFS_LABEL_MAJOR);
	l->minor = dfs_get16(p + DFS_LABEL_MINOR);
	l->index = dfs_get32(p + DFS_LABEL_INDEX);
	memcpy(l->fs_uuid, p + DFS_LABEL_FS_UUID, 16);
	l->nmembers = dfs_get32(p + DFS_LABEL_NMEMBERS);
	memcpy(l->fs_label, p + DFS_LABEL_FS_LABEL, 63);
	if (!member_decode(p + DFS_LABEL_ENTRY, &l->m) || l->index >= l->nmembers)
		return daxfs_err(-EIO, "member label: out of bounds");
	return 0;
}

/* ---- group descriptors ---- */

void dfs_gd_encode(const struct dfs_gd *gd, uint64_t group, uint8_t *p)
{
	memset(p, 0, DFS_GD_SIZE);
	dfs_put64(p + DFS_GD_BITMAP_BLK, gd->bitmap_blk);
	dfs_put32(p + DFS_GD_FREE, gd->free);
	dfs_put32(p + DFS_GD_FLAGS, gd->flags);
	dfs_put32(p + DFS_GD_BITMAP_CRC, gd->bitmap_crc);
	dfs_gd_seal(group, p);
}

void dfs_gd_seal(uint64_t group, uint8_t *p)
{
	dfs_put32(p + DFS_GD_CRC, entry_crc(group, p, DFS_GD_CRC));
}

int dfs_gd_decode(const uint8_t *p, uint64_t group, uint64_t total_blocks, struct dfs_gd *gd)
{
	if (dfs_get32(p + DFS_GD_CRC) != entry_crc(group, p, DFS_GD_CRC))
		return daxfs_err(-EIO, "group %llu: descriptor checksum mismatch",
				 (unsigned long long)group);
	gd->bitmap_blk = dfs_get64(p + DFS_GD_BITMAP_BLK);
	gd->free = dfs_get32(p + DFS_GD_FREE);
	gd->flags = dfs_get32(p + DFS_GD_FLAGS);
	gd->bitmap_crc = dfs_get32(p + DFS_GD_BITMAP_CRC);
	uint64_t gstart = group * DFS_BLOCKS_PER_GROUP;
	uint64_t gend = gstart + DFS_BLOCKS_PER_GROUP;
	if (gend > total_blocks)
		gend = total_blocks;
	if (gd->free > gend - gstart)
		return daxfs_err(-EIO, "group %llu: free count %u is more than the %llu blocks of the group",
				 (unsigned long long)group, gd->free, (unsigned long long)(gend - gstart));
	if (gd->bitmap_blk && (gd->bitmap_blk < gstart || gd->bitmap_blk >= gend))
		return daxfs_err(-EIO, "group %llu: bitmap block %llu is outside the group",
				 (unsigned long long)group, (unsigned long long)gd->bitmap_blk);
	return 0;
}

/* ---- inodes and extents ---- */

void dfs_extent_encode(const struct dfs_extent *e, uint8_t *p)
{
	dfs_put64(p + DFS_EXTENT_LBLK, e->lblk);
	dfs_put64(p + DFS_EXTENT_PBLK, e->pblk);
	dfs_put32(p + DFS_EXTENT_LEN, e->len);
	dfs_put32(p + DFS_EXTENT_FLAGS, e->flags);
}

int dfs_extent_decode(const uint8_t *p, uint64_t data_start, uint64_t total_blocks,
		      struct dfs_extent *e)
{
	e->lblk = dfs_get64(p + DFS_EXTENT_LBLK);
	e->pblk = dfs_get64(p + DFS_EXTENT_PBLK);
	e->len = dfs_get32(p + DFS_EXTENT_LEN);
	e->flags = dfs_get32(p + DFS_EXTENT_FLAGS);
	if (e->len == 0 || (e->flags & ~DFS_EXT_UNWRITTEN) || e->pblk < data_start ||
	    e->pblk >= total_blocks || e->len > total_blocks - e->pblk ||
	    e->lblk > (UINT64_MAX >> DFS_BLOCK_SHIFT) - e->len)
		return daxfs_err(-EIO, "extent %llu+%u -> %llu out of bounds",
				 (unsigned long long)e->lblk, e->len, (unsigned long long)e->pblk);
	return 0;
}

static void put_ts(uint8_t *p, const struct dfs_timespec *t)
{
	dfs_put64(p + DFS_TIME_SEC, (uint64_t)t->sec);
	dfs_put32(p + DFS_TIME_NSEC, t->nsec);
}

static void get_ts(const uint8_t *p, struct dfs_timespec *t)
{
	t->sec = (int64_t)dfs_get64(p + DFS_TIME_SEC);
	t->nsec = dfs_get32(p + DFS_TIME_NSEC);
}

void dfs_dinode_encode(const struct dfs_dinode *di, uint64_t ino, uint8_t *s)
{
	memset(s, 0, DFS_INODE_SIZE);
	if (di->mode == 0)
		return;     /* a free slot is all zeroes */
	dfs_put32(s + DFS_INO_MODE, di->mode);
	dfs_put32(s + DFS_INO_UID, di->uid);
	dfs_put32(s + DFS_INO_GID, di->gid);
	dfs_put32(s + DFS_INO_NLINK, di->nlink);
	dfs_put64(s + DFS_INO_SIZE, di->size);
	dfs_put64(s + DFS_INO_BLOCKS, di->blocks);
	dfs_put64(s + DFS_INO_RDEV, di->rdev);
	put_ts(s + DFS_INO_ATIME, &di->atime);
	dfs_put32(s + DFS_INO_FLAGS, di->flags);
	put_ts(s + DFS_INO_MTIME, &di->mtime);
	dfs_put32(s + DFS_INO_GENERATION, di->generation);
	put_ts(s + DFS_INO_CTIME, &di->ctime);
	dfs_put32(s + DFS_INO_NEXTENTS, di->nextents);
	put_ts(s + DFS_INO_CRTIME, &di->crtime);
	dfs_put32(s + DFS_INO_SIZE_EPOCH, di->size_epoch);
	dfs_put64(s + DFS_INO_XATTR_BLK, di->xattr_blk);
	dfs_put64(s + DFS_INO_ORPHAN_NEXT, di->orphan_next);
	dfs_put64(s + DFS_INO_EXTENT_BLK, di->extent_blk);
	for (unsigned i = 0; i < DFS_INLINE_EXTENTS; i++)
		if (di->extent_blk == 0 && i < di->nextents)
			dfs_extent_encode(&di->inline_ext[i], s + DFS_INO_INLINE_EXT + i * DFS_EXTENT_SIZE);
	dfs_put64(s + DFS_INO_PARENT, di->parent);
	dfs_dinode_seal(ino, s);
}

void dfs_dinode_seal(uint64_t ino, uint8_t *s)
{
	dfs_put32(s + DFS_INO_CRC, entry_crc(ino, s, DFS_INO_CRC));
}

static bool valid_type(uint32_t mode)
{
	switch (mode & 0170000) {
	case 0100000: case 0040000: case 0120000: case 0010000:
	case 0140000: case 0020000: case 0060000:
		return true;
	}
	return false;
}

bool dfs_dinode_slot_free(const uint8_t *s)
{
	for (size_t i = 0; i < DFS_INODE_SIZE; i++)
		if (s[i])
			return false;
	return true;
}

bool dfs_dinode_crc_ok(const uint8_t *s, uint64_t ino)
{
	return dfs_get32(s + DFS_INO_CRC) == entry_crc(ino, s, DFS_INO_CRC);
}

/* The fields and their bounds; inline extents are checked only if asked. */
static int dinode_parse(const uint8_t *s, uint64_t ino, uint64_t total_blocks,
			struct dfs_dinode *di, bool check_extents)
{
	di->mode = dfs_get32(s + DFS_INO_MODE);
	di->uid = dfs_get32(s + DFS_INO_UID);
	di->gid = dfs_get32(s + DFS_INO_GID);
	di->nlink = dfs_get32(s + DFS_INO_NLINK);
	di->size = dfs_get64(s + DFS_INO_SIZE);
	di->blocks = dfs_get64(s + DFS_INO_BLOCKS);
	di->rdev = dfs_get64(s + DFS_INO_RDEV);
	get_ts(s + DFS_INO_ATIME, &di->atime);
	di->flags = dfs_get32(s + DFS_INO_FLAGS);
	get_ts(s + DFS_INO_MTIME, &di->mtime);
	di->generation = dfs_get32(s + DFS_INO_GENERATION);
	get_ts(s + DFS_INO_CTIME, &di->ctime);
	di->nextents = dfs_get32(s + DFS_INO_NEXTENTS);
	get_ts(s + DFS_INO_CRTIME, &di->crtime);
	di->size_epoch = dfs_get32(s + DFS_INO_SIZE_EPOCH);
	di->xattr_blk = dfs_get64(s + DFS_INO_XATTR_BLK);
	di->orphan_next = dfs_get64(s + DFS_INO_ORPHAN_NEXT);
	di->extent_blk = dfs_get64(s + DFS_INO_EXTENT_BLK);
	di->parent = dfs_get64(s + DFS_INO_PARENT);

	const char *bad = NULL;
	if (!valid_type(di->mode))
		bad = "file type";
	else if (di->size > (uint64_t)INT64_MAX)
		bad = "size";
	else if (di->atime.nsec >= 1000000000u || di->mtime.nsec >= 1000000000u ||
		 di->ctime.nsec >= 1000000000u || di->crtime.nsec >= 1000000000u)
		bad = "timestamp";
	/* fsck's salvage drops a pointer alone (its chain or attributes), not
	 * the inode with its name and the rest of its data */
	else if (check_extents && (di->xattr_blk >= total_blocks || di->extent_blk >= total_blocks))
		bad = "block pointer";
	else if (di->nextents > DFS_MAX_EXTENTS ||
		 (di->extent_blk == 0 && di->nextents > DFS_INLINE_EXTENTS))
		bad = "extent count";
	if (bad)
		return daxfs_err(-EIO, "inode %llu: bad %s", (unsigned long long)ino, bad);
	if (di->extent_blk == 0)
		for (unsigned i = 0; i < di->nextents; i++) {
			/* data_start is checked again when the extent is used */
			int err = dfs_extent_decode(s + DFS_INO_INLINE_EXT + i * DFS_EXTENT_SIZE, 1, total_blocks,
						    &di->inline_ext[i]);
			if (err && check_extents)
				return daxfs_err_prefix(err, "inode %llu", (unsigned long long)ino);
		}
	return 0;
}

/* checked: the crc and the inline extents too (not for fsck's salvage). */
static int dinode_decode(const uint8_t *s, uint64_t ino, uint64_t total_blocks,
			 struct dfs_dinode *di, bool checked)
{
	static const uint8_t zero[DFS_INODE_SIZE];

	memset(di, 0, sizeof(*di));
	if (memcmp(s, zero, DFS_INODE_SIZE) == 0)
		return 0;
	if (checked && !dfs_dinode_crc_ok(s, ino))
		return daxfs_err(-EIO, "inode %llu: checksum mismatch", (unsigned long long)ino);
	return dinode_parse(s, ino, total_blocks, di, checked);
}

int dfs_dinode_decode(const uint8_t *s, uint64_t ino, uint64_t total_blocks,
		      struct dfs_dinode *di)
{
	return dinode_decode(s, ino, total_blocks, di, true);
}

int dfs_dinode_decode_unchecked(const uint8_t *s, uint64_t ino, uint64_t total_blocks,
				struct dfs_dinode *di)
{
	return dinode_decode(s, ino, total_blocks, di, false);
}
