/* fuzz/fuzz_journal.c - libFuzzer target: journal replay of a log built from the input on a valid image */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daxfs/dm.h"
#include "daxfs/fs.h"
#include "util/crc32c.h"
#include "fs/format.h"
#include "harness.h"

/*
 * The journal's blocks all carry checksums, so random damage stops at the
 * first crc. This target writes a well-formed log (docs/FORMAT.md "Journal")
 * over the journal of a valid image instead, with its checksums computed,
 * and takes from the input what goes in it and which parts to get wrong:
 *
 *   u8 flags (F_*), u8 descriptors (1..4), then per descriptor:
 *     u8 count (its low 4 bits; with bit 7 set a u16 count follows instead,
 *     which may exceed the format's 505), then per logged block:
 *       u8 home kind, u16 value (see home_block), u8 patch count (low 2
 *       bits), patches (u16 offset, u8 length, bytes)
 *
 * A logged block is the image's own block at its home, patched, and (F_RESEAL)
 * resealed for its home so that it passes the checks replay leaves to the
 * mount. Then fsck -n (a replay into memory), a mount (read-write, or
 * F_RDONLY), a walk, a write that commits a new transaction after the
 * replayed one, the unmount and fsck again.
 *
 * When every logged block is an unpatched copy of its home, replaying it is
 * a no-op: a read-write mount must then succeed and leave nothing for fsck.
 * Unless the header is torn and the log does not start with a valid block,
 * or the transaction the header (or a torn header's log) names has a commit
 * record and is malformed: a home in the member table or on a label, a home
 * that holds no metadata, a descriptor whose count the log does not hold,
 * another filesystem's
 * descriptor, a commit record whose count or crc is off. Replay calls that
 * damage (FORMAT.md "Replay") and the mount refuses it.
 */

enum {
	F_RDONLY = 1u << 0,
	F_TORN_HEADER = 1u << 1,   /* the header fails its crc */
	F_BAD_NBLOCKS = 1u << 2,   /* commit's nblocks off by one */
	F_BAD_DATA_CRC = 1u << 3,
	F_NO_COMMIT = 1u << 4,
	F_RESEAL = 1u << 5,
	F_FOREIGN = 1u << 6,       /* the last descriptor carries another uuid */
	F_OLD_SEQ = 1u << 7,       /* the log is of the transaction before the header's */
};

static char image[4200];
static uint8_t *pristine, *img;
static struct dfs_super sb;

static void populate(struct dfs *fs)
{
	struct dfs_cred cred = { .uid = 0, .gid = 0, .umask = 022 };
	struct stat d, f;
	char buf[5000];

	memset(buf, 'j', sizeof(buf));
	if (dfs_mkdir(fs, DFS_ROOT_INO, "d", 0755, &cred, &d) == 0 &&
	    dfs_mknod(fs, d.st_ino, "f", S_IFREG | 0644, 0, &cred, &f) == 0) {
		(void)dfs_pwrite(fs, f.st_ino, buf, sizeof(buf), 0, 0);
		(void)dfs_pwrite(fs, f.st_ino, buf, sizeof(buf), 1 << 20, 0);
		(void)dfs_setxattr(fs, f.st_ino, "user.j", buf, 100, 0);
	}
	(void)dfs_symlink(fs, DFS_ROOT_INO, "s", "d/f", &cred, &f);
}

/* Where a logged block goes: the superblocks, the group descriptors, the
 * first blocks of the data area (member 0's label, bitmap, inode table,
 * directories), the journal itself, the member table or past the end (the
 * last three and a label refused: replay drops such a log), or anywhere. */
static uint64_t home_block(uint8_t kind, uint16_t v)
{
	switch (kind % 8) {
	case 0:
		return DFS_SB_PRIMARY;
	case 1:
		return DFS_SB_BACKUP;
	case 2:
		return sb.gdt_start + v % sb.gdt_blocks;
	case 3:
		return sb.data_start + v % 64;
	case 4:
		return sb.journal_start + v % sb.journal_blocks;
	case 5:
		return sb.total_blocks + v;
	case 6:
		return sb.gdt_start + sb.gdt_blocks + v % sb.member_blocks;
	default:
		return v % sb.total_blocks;
	}
}

static uint8_t *block(uint64_t blk)
{
	return img + blk * DFS_BLOCK_SIZE;
}

/* Whether home's own contents pass replay's check of a logged block
 * (FORMAT.md "Replay"): superblocks, descriptors, inode table blocks and
 * bitmaps are checked as what they are, any other home by its block-tail
 * crc, which a file's data or a free block does not carry: no log holds
 * those. */
static bool checks_as_logged(uint64_t home)
{
	const uint8_t *b = pristine + home * DFS_BLOCK_SIZE;

	if (home <= DFS_SB_BACKUP || (home >= sb.gdt_start && home - sb.gdt_start < sb.gdt_blocks))
		return true;
	for (unsigned i = 0; i < sb.itable_nextents; i++)
		if (home >= sb.itable[i].pblk && home - sb.itable[i].pblk < sb.itable[i].len)
			return true;
	for (uint64_t g = 0; g < sb.ngroups; g++) {
		struct dfs_gd gd;

		if (dfs_gd_decode(pristine + sb.gdt_start * DFS_BLOCK_SIZE + g * DFS_GD_SIZE, g,
				  sb.total_blocks, &gd) == 0 && gd.bitmap_blk == home)
			return true;
	}
	return dfs_block_crc_ok(home, b);
}

/* Blocks mkfs and fsck write in place and a log must never name: the
 * member table, and each member's label (its entries' label_sector). */
static bool never_logged(uint64_t home)
{
	const uint64_t mt = sb.gdt_start + sb.gdt_blocks;

	if (home >= mt && home < mt + sb.member_blocks)
		return true;
	for (uint32_t i = 0; i < sb.nmembers; i++) {
		const uint8_t *e = pristine + (mt + i / DFS_MTAB_PER_BLOCK) * DFS_BLOCK_SIZE +
				   DFS_MTAB_HDR + DFS_MEMBER_SIZE * (i % DFS_MTAB_PER_BLOCK);

		if (dfs_get64(e + DFS_MEMBER_LABEL_SECTOR) / (DFS_BLOCK_SIZE / 512) == home)
			return true;
	}
	return false;
}

static void seal_journal_block(uint64_t blk, uint32_t magic, uint64_t seq, bool foreign)
{
	uint8_t *b = block(blk);

	dfs_put32(b + DFS_BLK_MAGIC, magic);
	dfs_put64(b + DFS_JBLK_SEQ, seq);
	memcpy(b + DFS_JBLK_UUID, sb.uuid, 16);
	if (foreign)
		b[DFS_JBLK_UUID] ^= 1;
	dfs_block_seal(blk, b);
}

/* Builds the log; returns whether replaying it changes nothing. */
static bool write_log(struct fuzz_in *in, uint8_t flags)
{
	const uint64_t js = sb.journal_start, jend = js + sb.journal_blocks;
	uint64_t seq = dfs_get64(block(js) + DFS_JBLK_SEQ), pos = js + 1, n = 0;
	unsigned ndesc = fuzz_u8(in) % 4 + 1;
	uint32_t crc = CRC32C_INIT;
	bool harmless = true, malformed = flags & (F_BAD_NBLOCKS | F_BAD_DATA_CRC | F_FOREIGN);

	if (flags & F_OLD_SEQ)
		seq--;
	for (unsigned d = 0; d < ndesc && fuzz_more(in); d++) {
		uint8_t c = fuzz_u8(in);
		uint32_t count = c & 0x80 ? fuzz_u16(in) : c & 0x0f;
		uint64_t desc = pos;
		uint32_t logged = 0;

		/* room for the descriptor, its blocks and a commit block */
		if (desc + 2 >= jend)
			break;
		memset(block(desc), 0, DFS_BLOCK_SIZE);
		dfs_put32(block(desc) + DFS_JDESC_COUNT, count);
		pos++;
		for (uint32_t i = 0; i < count && fuzz_more(in); i++) {
			uint8_t kind = fuzz_u8(in);
			uint64_t home = home_block(kind, fuzz_u16(in));
			unsigned patches = fuzz_u8(in) & 3;
			uint8_t *b = block(pos);

			if (i < DFS_JDESC_MAX)
				dfs_put64(block(desc) + DFS_JDESC_HDR + 8 * i, home);
			if (pos + 1 >= jend || i >= DFS_JDESC_MAX)
				continue;     /* the count says more than there is */
			if (home < sb.total_blocks && (home < js || home >= jend)) {
				memcpy(b, pristine + home * DFS_BLOCK_SIZE, DFS_BLOCK_SIZE);
			} else {
				memset(b, 0, DFS_BLOCK_SIZE);
				harmless = false;
			}
			for (unsigned p = 0; p < patches; p++) {
				uint16_t off = fuzz_u16(in) % DFS_BLOCK_SIZE;
				size_t len = fuzz_u8(in);

				if (len > DFS_BLOCK_SIZE - off)
					len = DFS_BLOCK_SIZE - off;
				fuzz_bytes(in, b + off, len);
			}
			if (flags & F_RESEAL && home < sb.total_blocks)
				fuzz_reseal(pristine, home, b);
			if (home >= sb.total_blocks ||
			    memcmp(b, pristine + home * DFS_BLOCK_SIZE, DFS_BLOCK_SIZE) != 0)
				harmless = false;
			malformed |= never_logged(home) ||
				     (home < sb.total_blocks && !checks_as_logged(home));
			crc = crc32c_update(crc, b, DFS_BLOCK_SIZE);
			n++;
			pos++;
			logged++;
		}
		malformed |= count == 0 || logged != count;
		seal_journal_block(desc, DFS_MAGIC_JDESC, seq, (flags & F_FOREIGN) && d == ndesc - 1);
	}
	/* The transaction replay looks at: the header's, or with a torn header
	 * the log's. A stale log (the one before the header's) is never looked
	 * at; one a torn header makes current may have the commit record the
	 * image's last real transaction left further on. */
	const bool current = !(flags & F_OLD_SEQ) || (flags & F_TORN_HEADER);
	const bool committed = !(flags & F_NO_COMMIT) && pos < jend;

	if (malformed && current && (committed || (flags & F_OLD_SEQ)))
		harmless = false;
	if (committed) {
		memset(block(pos), 0, DFS_BLOCK_SIZE);
		dfs_put64(block(pos) + DFS_JCOMMIT_NBLOCKS, n + !!(flags & F_BAD_NBLOCKS));
		dfs_put32(block(pos) + DFS_JCOMMIT_DATA_CRC,
			  crc32c_final(crc) ^ !!(flags & F_BAD_DATA_CRC));
		seal_journal_block(pos, DFS_MAGIC_JCOMMIT, seq, false);
	}
	if (flags & F_TORN_HEADER) {
		/* half of an 8-byte store of the next sequence landed */
		block(js)[DFS_JBLK_SEQ] ^= 0x5a;
		/* recovery needs the log's first block */
		if (!dfs_block_crc_ok(js + 1, block(js + 1)) ||
		    (dfs_get32(block(js + 1) + DFS_BLK_MAGIC) != DFS_MAGIC_JDESC &&
		     dfs_get32(block(js + 1) + DFS_BLK_MAGIC) != DFS_MAGIC_JCOMMIT) ||
		    memcmp(block(js + 1) + 16, sb.uuid, 16) != 0)
			harmless = false;
	}
	return harmless;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct mapped_device *md = NULL;
	struct dfs *fs = NULL;
	uint8_t flags = fuzz_u8(&in);
	struct dfs_mount_opts o = { .rdonly = flags & F_RDONLY };
	bool harmless;
	char why[512];

	if (!pristine) {
		fuzz_path(image, sizeof(image), "image");
		if (!(img = malloc(FUZZ_IMAGE_SIZE)))
			abort();
		pristine = fuzz_image_make(image, populate);
		if (dfs_super_decode(pristine, DFS_SB_PRIMARY, &sb) != 0)
			fuzz_fail("the new image's superblock: %s", daxfs_errormsg());
	}
	memcpy(img, pristine, FUZZ_IMAGE_SIZE);
	harmless = write_log(&in, flags);
	fuzz_image_write(image, img);
	if (dm_md_open_source(image, "fuzz", &md) != 0)
		fuzz_fail("opening the image: %s", daxfs_errormsg());
	(void)fuzz_fsck(md, DFS_FSCK_CHECK, NULL, 0);
	if (dfs_mount(md, &o, &fs) == 0) {
		fuzz_walk(fs);
		if (!o.rdonly) {
			struct dfs_cred cred = { .uid = 0, .gid = 0, .umask = 022 };
			struct stat st;

			if (dfs_mknod(fs, DFS_ROOT_INO, "new", S_IFREG | 0644, 0, &cred, &st) == 0) {
				(void)dfs_pwrite(fs, st.st_ino, "after replay", 12, 0, DFS_WRITE_SYNC);
				dfs_forget(fs, st.st_ino, 1);
			}
		}
		if (dfs_unmount(&fs) != 0 && harmless && !o.rdonly)
			fuzz_fail("unmount after replaying a harmless log: %s", daxfs_errormsg());
	} else if (harmless && !o.rdonly) {
		fuzz_fail("mount with a harmless log: %s", daxfs_errormsg());
	}
	if (fuzz_fsck(md, DFS_FSCK_CHECK, why, sizeof(why)) && harmless && !o.rdonly)
		fuzz_fail("fsck after replaying a harmless log: %s", why);
	dm_md_destroy(&md);
	return 0;
}
