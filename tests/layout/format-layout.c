/* format-layout - prints the on-media layout format.h names, for the test
 * that holds docs/FORMAT.md's tables to it (tests/test_docs.py) */
#include <stddef.h>
#include <stdio.h>

#include "daxfs/ioctl.h"
#include "fs/format.h"

/* daxfs-run writes size records from daxfs/ioctl.h's struct, the filesystem
 * reads them with format.h's codec: one layout */
_Static_assert(offsetof(struct daxfs_run_record, magic) == DFS_RUNREC_MAGIC &&
	       offsetof(struct daxfs_run_record, epoch) == DFS_RUNREC_EPOCH &&
	       offsetof(struct daxfs_run_record, ino) == DFS_RUNREC_INO &&
	       offsetof(struct daxfs_run_record, size) == DFS_RUNREC_FSIZE &&
	       offsetof(struct daxfs_run_record, generation) == DFS_RUNREC_GENERATION &&
	       offsetof(struct daxfs_run_record, mount_count) == DFS_RUNREC_MOUNT_COUNT &&
	       offsetof(struct daxfs_run_record, crc) == DFS_RUNREC_CRC &&
	       sizeof(struct daxfs_run_record) == DFS_RUNREC_SIZE &&
	       DAXFS_RUN_RECORD_MAGIC == DFS_RUNREC_MAGIC_V, "size record layouts agree");

/* A field's width in bytes; VAR: as long as another field says. */
#define VAR 0u

struct field {
	const char *name;    /* as FORMAT.md's table names it */
	unsigned off, width;
};

struct layout {
	const char *name;    /* the table's title in FORMAT.md */
	unsigned size;
	struct field f[32];
};

/* Reserved bytes are not listed: the test checks that FORMAT.md's rows
 * tile each structure, so what is not a field here is reserved there. */
static const struct layout layouts[] = {
	{ "Superblock", DFS_BLOCK_SIZE, {
		{ "magic", DFS_SB_MAGIC, 8 }, { "version_major", DFS_SB_MAJOR, 2 },
		{ "version_minor", DFS_SB_MINOR, 2 }, { "block_size", DFS_SB_BLOCK_SIZE, 4 },
		{ "total_blocks", DFS_SB_TOTAL_BLOCKS, 8 }, { "fingerprint", DFS_SB_FINGERPRINT, 8 },
		{ "uuid", DFS_SB_UUID, 16 }, { "label", DFS_SB_LABEL, 64 },
		{ "state", DFS_SB_STATE, 4 }, { "journal_start", DFS_SB_JOURNAL_START, 8 },
		{ "journal_blocks", DFS_SB_JOURNAL_BLOCKS, 8 }, { "gdt_start", DFS_SB_GDT_START, 8 },
		{ "gdt_blocks", DFS_SB_GDT_BLOCKS, 4 },
		{ "blocks_per_group", DFS_SB_BLOCKS_PER_GROUP, 4 },
		{ "ngroups", DFS_SB_NGROUPS, 8 }, { "data_start", DFS_SB_DATA_START, 8 },
		{ "orphan_head", DFS_SB_ORPHAN_HEAD, 8 },
		{ "next_generation", DFS_SB_NEXT_GENERATION, 8 },
		{ "mkfs_time", DFS_SB_MKFS_TIME, 8 }, { "mount_time", DFS_SB_MOUNT_TIME, 8 },
		{ "write_time", DFS_SB_WRITE_TIME, 8 }, { "mount_count", DFS_SB_MOUNT_COUNT, 4 },
		{ "itable_nextents", DFS_SB_ITABLE_NEXTENTS, 4 },
		{ "nmembers", DFS_SB_NMEMBERS, 4 }, { "member_blocks", DFS_SB_MEMBER_BLOCKS, 4 },
		{ "itable[]", DFS_SB_ITABLE, DFS_ITABLE_MAX_EXTENTS * DFS_SB_ITABLE_ENTRY },
		{ "crc", DFS_TAIL_CRC_OFF, 4 } } },
	{ "Member table", DFS_BLOCK_SIZE, {
		{ "magic", DFS_BLK_MAGIC, 4 }, { "count", DFS_MTAB_COUNT, 4 },
		{ "first", DFS_MTAB_FIRST, 4 },
		{ "entries", DFS_MTAB_HDR, DFS_MTAB_PER_BLOCK * DFS_MEMBER_SIZE },
		{ "crc", DFS_TAIL_CRC_OFF, 4 } } },
	{ "Member entry", DFS_MEMBER_SIZE, {
		{ "target", DFS_MEMBER_TARGET, 4 }, { "stripe", DFS_MEMBER_STRIPE, 4 },
		{ "nstripes", DFS_MEMBER_NSTRIPES, 4 },
		{ "target_begin", DFS_MEMBER_TARGET_BEGIN, 8 },
		{ "target_len", DFS_MEMBER_TARGET_LEN, 8 }, { "chunk", DFS_MEMBER_CHUNK, 8 },
		{ "offset", DFS_MEMBER_OFFSET, 8 }, { "length", DFS_MEMBER_LENGTH, 8 },
		{ "label_sector", DFS_MEMBER_LABEL_SECTOR, 8 },
		{ "label_offset", DFS_MEMBER_LABEL_OFFSET, 8 }, { "uuid", DFS_MEMBER_UUID, 16 } } },
	{ "Label", DFS_LABEL_SIZE, {
		{ "magic", DFS_LABEL_MAGIC, 8 }, { "version_major", DFS_LABEL_MAJOR, 2 },
		{ "version_minor", DFS_LABEL_MINOR, 2 }, { "index", DFS_LABEL_INDEX, 4 },
		{ "fs_uuid", DFS_LABEL_FS_UUID, 16 }, { "nmembers", DFS_LABEL_NMEMBERS, 4 },
		{ "entry", DFS_LABEL_ENTRY, DFS_MEMBER_SIZE }, { "fs_label", DFS_LABEL_FS_LABEL, 64 },
		{ "crc", DFS_LABEL_CRC, 4 } } },
	{ "Size record", DFS_RUNREC_SIZE, {
		{ "magic", DFS_RUNREC_MAGIC, 4 }, { "epoch", DFS_RUNREC_EPOCH, 4 },
		{ "ino", DFS_RUNREC_INO, 8 }, { "size", DFS_RUNREC_FSIZE, 8 },
		{ "generation", DFS_RUNREC_GENERATION, 4 },
		{ "mount_count", DFS_RUNREC_MOUNT_COUNT, 4 }, { "crc", DFS_RUNREC_CRC, 4 } } },
	{ "Journal header", DFS_BLOCK_SIZE, {
		{ "magic", DFS_BLK_MAGIC, 4 }, { "seq", DFS_JBLK_SEQ, 8 }, { "uuid", DFS_JBLK_UUID, 16 },
		{ "crc", DFS_TAIL_CRC_OFF, 4 } } },
	{ "Journal descriptor", DFS_BLOCK_SIZE, {
		{ "magic", DFS_BLK_MAGIC, 4 }, { "count", DFS_JDESC_COUNT, 4 },
		{ "seq", DFS_JBLK_SEQ, 8 }, { "uuid", DFS_JBLK_UUID, 16 },
		{ "homes", DFS_JDESC_HDR, DFS_JDESC_MAX * 8 }, { "crc", DFS_TAIL_CRC_OFF, 4 } } },
	{ "Journal commit", DFS_BLOCK_SIZE, {
		{ "magic", DFS_BLK_MAGIC, 4 }, { "seq", DFS_JBLK_SEQ, 8 }, { "uuid", DFS_JBLK_UUID, 16 },
		{ "nblocks", DFS_JCOMMIT_NBLOCKS, 8 }, { "data_crc", DFS_JCOMMIT_DATA_CRC, 4 },
		{ "crc", DFS_TAIL_CRC_OFF, 4 } } },
	{ "Group descriptor table", DFS_GD_SIZE, {
		{ "bitmap_blk", DFS_GD_BITMAP_BLK, 8 }, { "free", DFS_GD_FREE, 4 },
		{ "flags", DFS_GD_FLAGS, 4 }, { "bitmap_crc", DFS_GD_BITMAP_CRC, 4 },
		{ "crc", DFS_GD_CRC, 4 } } },
	{ "Inode table", DFS_INODE_SIZE, {
		{ "mode", DFS_INO_MODE, 4 }, { "uid", DFS_INO_UID, 4 }, { "gid", DFS_INO_GID, 4 },
		{ "nlink", DFS_INO_NLINK, 4 }, { "size", DFS_INO_SIZE, 8 },
		{ "blocks", DFS_INO_BLOCKS, 8 }, { "rdev", DFS_INO_RDEV, 8 },
		{ "atime", DFS_INO_ATIME, DFS_TIME_SIZE }, { "flags", DFS_INO_FLAGS, 4 },
		{ "mtime", DFS_INO_MTIME, DFS_TIME_SIZE }, { "generation", DFS_INO_GENERATION, 4 },
		{ "ctime", DFS_INO_CTIME, DFS_TIME_SIZE }, { "nextents", DFS_INO_NEXTENTS, 4 },
		{ "crtime", DFS_INO_CRTIME, DFS_TIME_SIZE }, { "size_epoch", DFS_INO_SIZE_EPOCH, 4 },
		{ "xattr_blk", DFS_INO_XATTR_BLK, 8 },
		{ "orphan_next", DFS_INO_ORPHAN_NEXT, 8 }, { "extent_blk", DFS_INO_EXTENT_BLK, 8 },
		{ "inline extents", DFS_INO_INLINE_EXT, DFS_INLINE_EXTENTS * DFS_EXTENT_SIZE },
		{ "parent", DFS_INO_PARENT, 8 }, { "crc", DFS_INO_CRC, 4 } } },
	{ "Extent", DFS_EXTENT_SIZE, {
		{ "lblk", DFS_EXTENT_LBLK, 8 }, { "pblk", DFS_EXTENT_PBLK, 8 },
		{ "len", DFS_EXTENT_LEN, 4 }, { "flags", DFS_EXTENT_FLAGS, 4 } } },
	{ "Extent chain block", DFS_BLOCK_SIZE, {
		{ "magic", DFS_BLK_MAGIC, 4 }, { "count", DFS_EXTBLK_COUNT, 4 },
		{ "next", DFS_EXTBLK_NEXT, 8 }, { "owner", DFS_EXTBLK_OWNER, 8 },
		{ "extents", DFS_EXTBLK_HDR, DFS_EXTBLK_MAX * DFS_EXTENT_SIZE },
		{ "crc", DFS_TAIL_CRC_OFF, 4 } } },
	{ "Directory block", DFS_BLOCK_SIZE, {
		{ "magic", DFS_BLK_MAGIC, 4 }, { "owner", DFS_DIR_OWNER, 8 },
		{ "records", DFS_DIR_HDR, DFS_DIR_END - DFS_DIR_HDR }, { "crc", DFS_TAIL_CRC_OFF, 4 } } },
	{ "Directory record", VAR, {
		{ "ino", DFS_DIRENT_INO, 8 }, { "rec_len", DFS_DIRENT_RECLEN, 2 },
		{ "name_len", DFS_DIRENT_NAMELEN, 1 }, { "type", DFS_DIRENT_TYPE, 1 },
		{ "name", DFS_DIRENT_NAME, VAR } } },
	{ "Xattr block", DFS_BLOCK_SIZE, {
		{ "magic", DFS_BLK_MAGIC, 4 }, { "count", DFS_XATTR_COUNT, 4 },
		{ "owner", DFS_XATTR_OWNER, 8 }, { "entries", DFS_XATTR_HDR, DFS_XATTR_SPACE },
		{ "crc", DFS_TAIL_CRC_OFF, 4 } } },
	{ "Xattr entry", VAR, {
		{ "namespace", DFS_XENT_NAMESPACE, 1 }, { "name_len", DFS_XENT_NAMELEN, 1 },
		{ "value_len", DFS_XENT_VALUELEN, 2 }, { "name", DFS_XATTR_ENTRY_HDR, VAR } } },
};

/* One line a structure ("NAME\tSIZE"), then one a field ("\tNAME\tOFF\tWIDTH"),
 * sizes and widths in bytes, 0 for one that varies. */
int main(void)
{
	for (unsigned ls = 0; ls < 8; ls++)
		for (unsigned i = 0; i < DFS_RUNRECS; i++)
			if (daxfs_run_record_offset(i, ls) != dfs_runrec_offset(i, ls)) {
				fprintf(stderr, "size record %u (label in sector %u): daxfs-run "
					"puts it at %u, the filesystem reads it at %u\n", i, ls,
					daxfs_run_record_offset(i, ls), dfs_runrec_offset(i, ls));
				return 1;
			}
	for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
		printf("%s\t%u\n", layouts[i].name, layouts[i].size);
		for (const struct field *f = layouts[i].f; f->name; f++)
			printf("\t%s\t%u\t%u\n", f->name, f->off, f->width);
	}
	return 0;
}
