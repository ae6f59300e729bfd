/* fs/format.h - the on-media format v2 (docs/FORMAT.md): constants, decoded structs, codecs */
#ifndef DAXFS_FS_FORMAT_H
#define DAXFS_FS_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Everything on media is little-endian and fixed-width; these structs are the
 * decoded, host-order forms. Encoders write every byte of their area (reserved
 * bytes as zero); decoders check the checksum and the bounds of every field
 * that later becomes a block number or an index, and return -EIO with a
 * message naming the object otherwise.
 */

#define DFS_BLOCK_SIZE      4096u
#define DFS_BLOCK_SHIFT     12
#define DFS_MAGIC           0x3153465846584144ull   /* "DAXFXFS1" read as LE */
#define DFS_VERSION_MAJOR   2
#define DFS_VERSION_MINOR   1
#define DFS_SB_PRIMARY      0
#define DFS_SB_BACKUP       1
#define DFS_BLOCKS_PER_GROUP 32768u                 /* 128 MiB: one bitmap block */
#define DFS_GD_SIZE         32u
#define DFS_GD_PER_BLOCK    (DFS_BLOCK_SIZE / DFS_GD_SIZE)
#define DFS_INODE_SIZE      256u
#define DFS_INODES_PER_BLOCK (DFS_BLOCK_SIZE / DFS_INODE_SIZE)
#define DFS_INLINE_EXTENTS  4u
#define DFS_EXTENT_SIZE     24u
#define DFS_ITABLE_MAX_EXTENTS 128u
#define DFS_TAIL_CRC_OFF    (DFS_BLOCK_SIZE - 4)     /* block-tail crc32c */
#define DFS_MIN_BLOCKS      2048u                   /* 8 MiB */
#define DFS_NAME_MAX        255u
#define DFS_SYMLINK_MAX     4095u
#define DFS_LINK_MAX        65000u
#define DFS_MAX_EXTENTS     16384u                  /* per file */
#define DFS_ALIGN_BLOCKS    512u                    /* 2 MiB */

enum dfs_sb_state {
	DFS_STATE_CLEAN = 1,
	DFS_STATE_DIRTY = 2,    /* mounted read-write, or crashed */
};

/* Magic numbers of the block types that carry a header. */
#define DFS_MAGIC_DIR      0x52494446u   /* "FDIR" */
#define DFS_MAGIC_EXTENT   0x54584546u   /* "FEXT" */
#define DFS_MAGIC_XATTR    0x54414546u   /* "FEAT" */
#define DFS_MAGIC_JHEAD    0x44484a46u   /* "FJHD" */
#define DFS_MAGIC_JDESC    0x53444a46u   /* "FJDS" */
#define DFS_MAGIC_JCOMMIT  0x4d434a46u   /* "FJCM" */
#define DFS_MAGIC_MTAB     0x54424d46u   /* "FMBT" */
#define DFS_MAGIC_LABEL    0x314c424d53465844ull   /* "DXFSMBL1" read as LE */

/* Members (FORMAT.md "Members"): the member table after the GDT, 42 entries
 * of 96 bytes per block, and a 512-byte label in one sector of each member. */
#define DFS_MEMBER_SIZE    96u
#define DFS_MTAB_HDR       16u
#define DFS_MTAB_PER_BLOCK ((DFS_TAIL_CRC_OFF - DFS_MTAB_HDR) / DFS_MEMBER_SIZE)   /* 42 */
#define DFS_MAX_MEMBERS    65536u
#define DFS_LABEL_SIZE     512u
#define DFS_JOURNAL_MIN    256u      /* blocks; mkfs never makes a smaller journal */
/* Size records (FORMAT.md "Size records", 2.1): 64-byte records in the
 * sectors of member 0's label block that do not hold its label, taken in
 * pairs (a record and the copy written in turn with it). */
#define DFS_RUNREC_SIZE    64u
#define DFS_RUNREC_MAGIC_V 0x53525844u              /* "DXRS" read as LE */
#define DFS_RUNREC_PER_SECTOR (DFS_LABEL_SIZE / DFS_RUNREC_SIZE)   /* 8 */
#define DFS_RUNRECS        ((DFS_BLOCK_SIZE / DFS_LABEL_SIZE - 1) * DFS_RUNREC_PER_SECTOR)  /* 56 */
#define DFS_RUNREC_PAIRS   (DFS_RUNRECS / 2)         /* 28 */

struct dfs_itable_extent {
	uint64_t pblk;
	uint32_t len;
};

struct dfs_super {
	uint16_t major, minor;
	uint64_t total_blocks;
	uint64_t fingerprint;
	uint8_t uuid[16];
	char label[64];           /* NUL-terminated, at most 63 bytes */
	uint32_t state;
	uint64_t journal_start, journal_blocks;
	uint64_t gdt_start;
	uint32_t gdt_blocks;
	uint32_t blocks_per_group;
	uint64_t ngroups;
	uint64_t data_start;
	uint64_t orphan_head;
	uint64_t next_generation;
	int64_t mkfs_time, mount_time, write_time;
	uint32_t mount_count;
	uint32_t itable_nextents;
	uint32_t nmembers, member_blocks;   /* the member table: blocks gdt end .. data_start */
	struct dfs_itable_extent itable[DFS_ITABLE_MAX_EXTENTS];
};

/* One member of the filesystem: an area of a device that a target of the
 * table mkfs saw maps (dm.h's member range), and where its label is. */
struct dfs_member {
	uint32_t target, stripe, nstripes;
	uint64_t target_begin, target_len, chunk;   /* sectors on the mapped device */
	uint64_t offset, length;                    /* sectors: its area on the device */
	uint64_t label_sector;     /* mapped-device sector of its label */
	uint64_t label_offset;     /* the same sector, counted from the area's start */
	uint8_t uuid[16];
};

/* A member label as found on a device. */
struct dfs_label {
	uint16_t major, minor;
	uint32_t index, nmembers;
	uint8_t fs_uuid[16];
	char fs_label[64];
	struct dfs_member m;
};

/* A size record: ino's size was at least size (bytes written, durable) in the
 * mount counted mount_count, while the inode's size_epoch was epoch. */
struct dfs_runrec {
	uint32_t epoch, generation, mount_count;
	uint64_t ino, size;
};

struct dfs_gd {
	uint64_t bitmap_blk;      /* 0: group not initialised, every block free */
	uint32_t free;
	uint32_t flags;
	uint32_t bitmap_crc;
};

#define DFS_IFLAG_ORPHAN 1u     /* dinode.flags: on the orphan list */

#define DFS_EXT_UNWRITTEN 1u
struct dfs_extent {
	uint64_t lblk, pblk;
	uint32_t len;
	uint32_t flags;
};

struct dfs_timespec {
	int64_t sec;
	uint32_t nsec;
};

struct dfs_dinode {
	uint32_t mode, uid, gid, nlink;
	uint64_t size, blocks, rdev;
	struct dfs_timespec atime, mtime, ctime, crtime;
	uint32_t flags, generation, nextents;
	uint32_t size_epoch;        /* bumped by every cut of size: size records before it are void */
	uint64_t xattr_blk, orphan_next, extent_blk, parent;
	struct dfs_extent inline_ext[DFS_INLINE_EXTENTS];
};

/* Directory blocks: 16-byte header, records in [16, 4088), crc at 4092. */
#define DFS_DIR_HDR      16u
#define DFS_DIR_END      4088u
#define DFS_DIRENT_HDR   12u
static inline unsigned dfs_dirent_size(unsigned name_len)
{
	return (DFS_DIRENT_HDR + name_len + 7u) & ~7u;
}

/* Extent chain blocks: 32-byte header, then extents. */
#define DFS_EXTBLK_HDR   32u
#define DFS_EXTBLK_MAX   ((DFS_TAIL_CRC_OFF - DFS_EXTBLK_HDR) / DFS_EXTENT_SIZE)   /* 169 */

/* Xattr block: 16-byte header, packed entries, crc at 4092. */
#define DFS_XATTR_HDR    16u
#define DFS_XATTR_ENTRY_HDR 4u
#define DFS_XATTR_SPACE  (DFS_TAIL_CRC_OFF - DFS_XATTR_HDR)

/* Journal blocks. */
#define DFS_JDESC_HDR    48u
#define DFS_JDESC_MAX    ((DFS_TAIL_CRC_OFF - DFS_JDESC_HDR) / 8)   /* 505 */

/*
 * Where the fields of each header live (FORMAT.md). Every block that
 * carries a header starts with its u32 magic (DFS_BLK_MAGIC); the codec
 * below and the block's owner (dir.c, extent.c, xattr.c, journal.c,
 * replay.c) address fields only by these names.
 */
#define DFS_BLK_MAGIC         0u    /* u32 */
/* directory block, and each record in it */
#define DFS_DIR_RESERVED      4u    /* u32, 0 */
#define DFS_DIR_OWNER         8u    /* u64: the directory's inode */
#define DFS_DIRENT_INO        0u    /* u64, 0 = unused */
#define DFS_DIRENT_RECLEN     8u    /* u16 */
#define DFS_DIRENT_NAMELEN    10u   /* u8 */
#define DFS_DIRENT_TYPE       11u   /* u8: DT_* */
#define DFS_DIRENT_NAME       12u
/* extent chain block */
#define DFS_EXTBLK_COUNT      4u    /* u32: extents in this block */
#define DFS_EXTBLK_NEXT       8u    /* u64: next chain block, 0 = last */
#define DFS_EXTBLK_OWNER      16u   /* u64: the file's inode */
/* xattr block, and each entry in it */
#define DFS_XATTR_COUNT       4u    /* u32 */
#define DFS_XATTR_OWNER       8u    /* u64 */
#define DFS_XENT_NAMESPACE    0u    /* u8: 1 user., 2 trusted. */
#define DFS_XENT_NAMELEN      1u    /* u8 */
#define DFS_XENT_VALUELEN     2u    /* u16 */
/* journal blocks: header, descriptor, commit */
#define DFS_JDESC_COUNT       4u    /* u32: home blocks listed (descriptor) */
#define DFS_JBLK_SEQ          8u    /* u64: the transaction (header: the next one) */
#define DFS_JBLK_UUID         16u   /* 16 bytes: the filesystem's */
#define DFS_JCOMMIT_NBLOCKS   32u   /* u64: blocks logged */
#define DFS_JCOMMIT_DATA_CRC  40u   /* u32: crc32c of the logged blocks */

/* superblock (blocks 0 and 1) */
#define DFS_SB_MAGIC          0u    /* u64: DFS_MAGIC */
#define DFS_SB_MAJOR          8u    /* u16 */
#define DFS_SB_MINOR          10u   /* u16 */
#define DFS_SB_BLOCK_SIZE     12u   /* u32 */
#define DFS_SB_TOTAL_BLOCKS   16u   /* u64 */
#define DFS_SB_FINGERPRINT    24u   /* u64 */
#define DFS_SB_UUID           32u   /* 16 bytes */
#define DFS_SB_LABEL          48u   /* 64 bytes, NUL-padded */
#define DFS_SB_STATE          112u  /* u32 */
#define DFS_SB_JOURNAL_START  120u  /* u64 */
#define DFS_SB_JOURNAL_BLOCKS 128u  /* u64 */
#define DFS_SB_GDT_START      136u  /* u64 */
#define DFS_SB_GDT_BLOCKS     144u  /* u32 */
#define DFS_SB_BLOCKS_PER_GROUP 148u  /* u32 */
#define DFS_SB_NGROUPS        152u  /* u64 */
#define DFS_SB_DATA_START     160u  /* u64 */
#define DFS_SB_ORPHAN_HEAD    168u  /* u64 */
#define DFS_SB_NEXT_GENERATION 176u /* u64 */
#define DFS_SB_MKFS_TIME      184u  /* s64 */
#define DFS_SB_MOUNT_TIME     192u  /* s64 */
#define DFS_SB_WRITE_TIME     200u  /* s64 */
#define DFS_SB_MOUNT_COUNT    208u  /* u32 */
#define DFS_SB_ITABLE_NEXTENTS 212u /* u32 */
#define DFS_SB_NMEMBERS       216u  /* u32 */
#define DFS_SB_MEMBER_BLOCKS  220u  /* u32 */
#define DFS_SB_ITABLE         256u  /* 128 entries: */
#define DFS_SB_ITABLE_ENTRY   16u   /* u64 pblk, u32 len, u32 reserved */
#define DFS_SB_ITABLE_PBLK    0u
#define DFS_SB_ITABLE_LEN     8u
/* member table block header, then DFS_MTAB_PER_BLOCK entries from DFS_MTAB_HDR */
#define DFS_MTAB_COUNT        4u    /* u32: entries in this block */
#define DFS_MTAB_FIRST        8u    /* u32: index of its first entry */
/* member entry (in the member table and in the member's label) */
#define DFS_MEMBER_TARGET     0u    /* u32 */
#define DFS_MEMBER_STRIPE     4u    /* u32 */
#define DFS_MEMBER_NSTRIPES   8u    /* u32 */
#define DFS_MEMBER_TARGET_BEGIN 16u /* u64 */
#define DFS_MEMBER_TARGET_LEN 24u   /* u64 */
#define DFS_MEMBER_CHUNK      32u   /* u64 */
#define DFS_MEMBER_OFFSET     40u   /* u64 */
#define DFS_MEMBER_LENGTH     48u   /* u64 */
#define DFS_MEMBER_LABEL_SECTOR 56u /* u64 */
#define DFS_MEMBER_LABEL_OFFSET 64u /* u64 */
#define DFS_MEMBER_UUID       72u   /* 16 bytes */
/* member label (a 512-byte sector) */
#define DFS_LABEL_MAGIC       0u    /* u64: DFS_MAGIC_LABEL */
#define DFS_LABEL_MAJOR       8u    /* u16 */
#define DFS_LABEL_MINOR       10u   /* u16 */
#define DFS_LABEL_INDEX       12u   /* u32 */
#define DFS_LABEL_FS_UUID     16u   /* 16 bytes */
#define DFS_LABEL_NMEMBERS    32u   /* u32 */
#define DFS_LABEL_ENTRY       40u   /* DFS_MEMBER_SIZE bytes: its member entry */
#define DFS_LABEL_FS_LABEL    136u  /* 64 bytes, NUL-padded */
#define DFS_LABEL_CRC         (DFS_LABEL_SIZE - 4)   /* u32: crc32c of the bytes before it */
#define DFS_LABEL_MEMBER_UUID (DFS_LABEL_ENTRY + DFS_MEMBER_UUID)   /* 112 */
/* size record */
#define DFS_RUNREC_MAGIC      0u    /* u32: DFS_RUNREC_MAGIC_V */
#define DFS_RUNREC_EPOCH      4u    /* u32: the inode's size_epoch */
#define DFS_RUNREC_INO        8u    /* u64 */
#define DFS_RUNREC_FSIZE      16u   /* u64: the size */
#define DFS_RUNREC_GENERATION 24u   /* u32: the inode's generation */
#define DFS_RUNREC_MOUNT_COUNT 28u  /* u32: the superblock's mount_count */
#define DFS_RUNREC_CRC        60u   /* u32: crc32c(le64(position) || bytes before it) */
/* group descriptor */
#define DFS_GD_BITMAP_BLK     0u    /* u64 */
#define DFS_GD_FREE           8u    /* u32 */
#define DFS_GD_FLAGS          12u   /* u32 */
#define DFS_GD_BITMAP_CRC     16u   /* u32 */
#define DFS_GD_CRC            28u   /* u32: entry crc */
/* inode slot; each time is an s64 seconds and a u32 nanoseconds */
#define DFS_INO_MODE          0u    /* u32, 0 = free slot */
#define DFS_INO_UID           4u    /* u32 */
#define DFS_INO_GID           8u    /* u32 */
#define DFS_INO_NLINK         12u   /* u32 */
#define DFS_INO_SIZE          16u   /* u64 */
#define DFS_INO_BLOCKS        24u   /* u64 */
#define DFS_INO_RDEV          32u   /* u64 */
#define DFS_INO_ATIME         40u
#define DFS_INO_FLAGS         52u   /* u32 */
#define DFS_INO_MTIME         56u
#define DFS_INO_GENERATION    68u   /* u32 */
#define DFS_INO_CTIME         72u
#define DFS_INO_NEXTENTS      84u   /* u32 */
#define DFS_INO_CRTIME        88u
#define DFS_INO_SIZE_EPOCH    100u  /* u32 */
#define DFS_INO_XATTR_BLK     104u  /* u64 */
#define DFS_INO_ORPHAN_NEXT   112u  /* u64 */
#define DFS_INO_EXTENT_BLK    120u  /* u64 */
#define DFS_INO_INLINE_EXT    128u  /* DFS_INLINE_EXTENTS extents */
#define DFS_INO_PARENT        224u  /* u64 */
#define DFS_INO_CRC           252u  /* u32: entry crc */
#define DFS_TIME_SEC          0u    /* s64 */
#define DFS_TIME_NSEC         8u    /* u32 */
#define DFS_TIME_SIZE         12u
/* extent, inline or in a chain block */
#define DFS_EXTENT_LBLK       0u    /* u64 */
#define DFS_EXTENT_PBLK       8u    /* u64 */
#define DFS_EXTENT_LEN        16u   /* u32 */
#define DFS_EXTENT_FLAGS      20u   /* u32 */

_Static_assert(DFS_SB_LABEL + 64 <= DFS_SB_STATE, "the label ends before state");
_Static_assert(DFS_SB_MEMBER_BLOCKS + 4 <= DFS_SB_ITABLE, "the fixed fields end before itable[]");
_Static_assert(DFS_SB_ITABLE + DFS_ITABLE_MAX_EXTENTS * DFS_SB_ITABLE_ENTRY <= DFS_TAIL_CRC_OFF,
	       "itable[] ends before the crc");
_Static_assert(DFS_SB_ITABLE_LEN + 4 <= DFS_SB_ITABLE_ENTRY, "an itable entry fits");
_Static_assert(DFS_MTAB_FIRST + 4 <= DFS_MTAB_HDR, "member table header fits");
_Static_assert(DFS_MEMBER_UUID + 16 <= DFS_MEMBER_SIZE, "a member entry fits in 96 bytes");
_Static_assert(DFS_LABEL_NMEMBERS + 4 <= DFS_LABEL_ENTRY, "the label's entry follows its header");
_Static_assert(DFS_LABEL_ENTRY + DFS_MEMBER_SIZE == DFS_LABEL_FS_LABEL,
	       "the filesystem label follows the entry");
_Static_assert(DFS_LABEL_FS_LABEL + 64 <= DFS_LABEL_CRC, "the filesystem label ends before the crc");
_Static_assert(DFS_LABEL_MEMBER_UUID == 112, "a label's member uuid stays where labels have it");
_Static_assert(DFS_RUNREC_MOUNT_COUNT + 4 <= DFS_RUNREC_CRC && DFS_RUNREC_CRC + 4 == DFS_RUNREC_SIZE,
	       "a size record ends in its crc");
_Static_assert(DFS_GD_BITMAP_CRC + 4 <= DFS_GD_CRC && DFS_GD_CRC + 4 == DFS_GD_SIZE,
	       "a descriptor ends in its crc");
_Static_assert(DFS_INO_ATIME + DFS_TIME_SIZE == DFS_INO_FLAGS &&
	       DFS_INO_MTIME + DFS_TIME_SIZE == DFS_INO_GENERATION &&
	       DFS_INO_CTIME + DFS_TIME_SIZE == DFS_INO_NEXTENTS &&
	       DFS_INO_CRTIME + DFS_TIME_SIZE <= DFS_INO_XATTR_BLK, "times fit between their neighbours");
_Static_assert(DFS_INO_INLINE_EXT + DFS_INLINE_EXTENTS * DFS_EXTENT_SIZE <= DFS_INO_PARENT,
	       "inline extents end before parent");
_Static_assert(DFS_INO_PARENT + 8 <= DFS_INO_CRC && DFS_INO_CRC + 4 == DFS_INODE_SIZE,
	       "an inode slot ends in its crc");
_Static_assert(DFS_EXTENT_FLAGS + 4 == DFS_EXTENT_SIZE, "an extent is 24 bytes");
_Static_assert(DFS_DIR_OWNER + 8 <= DFS_DIR_HDR, "directory header fits");
_Static_assert(DFS_DIRENT_NAME == DFS_DIRENT_HDR, "a record's name follows its header");
_Static_assert(DFS_DIR_END <= DFS_TAIL_CRC_OFF, "records end before the crc");
_Static_assert(DFS_EXTBLK_OWNER + 8 <= DFS_EXTBLK_HDR, "extent chain header fits");
_Static_assert(DFS_EXTBLK_HDR + DFS_EXTBLK_MAX * DFS_EXTENT_SIZE <= DFS_TAIL_CRC_OFF,
	       "169 extents fit before the crc");
_Static_assert(DFS_XATTR_OWNER + 8 <= DFS_XATTR_HDR, "xattr header fits");
_Static_assert(DFS_XENT_VALUELEN + 2 == DFS_XATTR_ENTRY_HDR, "an entry's name follows its header");
_Static_assert(DFS_JBLK_UUID + 16 <= DFS_JCOMMIT_NBLOCKS, "commit fields follow the uuid");
_Static_assert(DFS_JCOMMIT_DATA_CRC + 4 <= DFS_JDESC_HDR, "journal headers fit in 48 bytes");
_Static_assert(DFS_JDESC_HDR + DFS_JDESC_MAX * 8 <= DFS_TAIL_CRC_OFF,
	       "505 homes fit before the crc");
_Static_assert(DFS_MTAB_HDR + DFS_MTAB_PER_BLOCK * DFS_MEMBER_SIZE <= DFS_TAIL_CRC_OFF,
	       "42 member entries fit before the crc");
_Static_assert(DFS_GD_PER_BLOCK * DFS_GD_SIZE == DFS_BLOCK_SIZE, "descriptors tile a block");
_Static_assert(DFS_INODES_PER_BLOCK * DFS_INODE_SIZE == DFS_BLOCK_SIZE, "inode slots tile a block");

/* ---- little-endian access ---- */
static inline uint16_t dfs_get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t dfs_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t dfs_get64(const uint8_t *p)
{
	return (uint64_t)dfs_get32(p) | (uint64_t)dfs_get32(p + 4) << 32;
}
static inline void dfs_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void dfs_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void dfs_put64(uint8_t *p, uint64_t v)
{
	dfs_put32(p, (uint32_t)v);
	dfs_put32(p + 4, (uint32_t)(v >> 32));
}

/* crc32c of (blkno as LE64 || block[0..4092)); binds a block to its place. */
uint32_t dfs_block_crc(uint64_t blkno, const uint8_t *block);
void dfs_block_seal(uint64_t blkno, uint8_t *block);
bool dfs_block_crc_ok(uint64_t blkno, const uint8_t *block);

/* Journal blocks (FORMAT.md "Journal"): a header for sequence seq, sealed at
 * block js; whether b, read at blk, is a block of type magic of this
 * filesystem (crc, uuid) and, unless seq is 0, of transaction seq. */
void dfs_jhead_encode(const uint8_t uuid[16], uint64_t js, uint64_t seq, uint8_t *b);
bool dfs_jblock_ok(const uint8_t *b, uint64_t blk, uint32_t magic, const uint8_t uuid[16],
		   uint64_t seq);

/* Superblock: encode fills the whole block and seals it. decode checks magic,
 * crc, version and geometry; -EIO/-EINVAL with a message. */
void dfs_super_encode(const struct dfs_super *sb, uint64_t blkno, uint8_t *block);
int dfs_super_decode(const uint8_t *block, uint64_t blkno, struct dfs_super *sb);
/* What names the filesystem whose superblock block may be (read at blkno):
 * magic and crc only, no geometry checks, for a probe of a device. false
 * when it is no superblock. */
struct dfs_super_id {
	uint16_t major, minor;
	uint8_t uuid[16];
	char label[64];
};
bool dfs_super_identify(const uint8_t *block, uint64_t blkno, struct dfs_super_id *out);

/* Member table: entries [first, first+count) of the table in one block. */
void dfs_mtab_encode(const struct dfs_member *m, uint32_t first, uint32_t count, uint64_t blkno,
		     uint8_t *block);
/* Checks magic, crc (seeded with blkno), that the block holds entries from
 * first on, and each entry's bounds; fills m[first..]. */
int dfs_mtab_decode(const uint8_t *block, uint64_t blkno, uint32_t first, uint32_t nmembers,
		    struct dfs_member *m);

/* Member label (512 bytes, crc not seeded with a position: a label is read
 * wherever a member turned up, to say which member it is). decode: -EINVAL
 * without the magic, -EIO for a bad crc. */
void dfs_label_encode(const struct dfs_label *l, uint8_t *sector);
/* Size records: rec is DFS_RUNREC_SIZE bytes at byte pos of the mapped
 * device (the crc's seed). Decode: -EINVAL for no record there (not written,
 * or torn: the crc fails). */
void dfs_runrec_encode(const struct dfs_runrec *r, uint64_t pos, uint8_t *rec);
int dfs_runrec_decode(const uint8_t *rec, uint64_t pos, struct dfs_runrec *r);
/* Where record i (< DFS_RUNRECS) of a label block whose label is in sector
 * label_sector (0..7) of it lies: bytes from the block's start. */
static inline unsigned dfs_runrec_offset(unsigned i, unsigned label_sector)
{
	unsigned sector = i / DFS_RUNREC_PER_SECTOR;

	if (sector >= label_sector)
		sector++;
	return sector * DFS_LABEL_SIZE + (i % DFS_RUNREC_PER_SECTOR) * DFS_RUNREC_SIZE;
}
/* Whether two member entries are the same, byte for byte as encoded. */
bool dfs_member_equal(const struct dfs_member *a, const struct dfs_member *b);
int dfs_label_decode(const uint8_t *sector, struct dfs_label *l);
/* The same without the crc check: what a damaged label still says, for fsck
 * to weigh against the other copy of its entry. */
int dfs_label_decode_unsealed(const uint8_t *sector, struct dfs_label *l);

/* The checksum of a structure whose bytes were changed in place (tests and
 * fuzzers that damage one and want its field checks reached): a group
 * descriptor's entry crc, an inode slot's, a member label's own. */
void dfs_gd_seal(uint64_t group, uint8_t *entry);
void dfs_dinode_seal(uint64_t ino, uint8_t *slot);
void dfs_label_seal(uint8_t *sector);

/* Group descriptor n of a GDT block (entry crc covers the group number). */
void dfs_gd_encode(const struct dfs_gd *gd, uint64_t group, uint8_t *entry);
int dfs_gd_decode(const uint8_t *entry, uint64_t group, uint64_t total_blocks, struct dfs_gd *gd);

/* Inode slot. A slot of all zeroes is free (decode gives mode 0). total_blocks
 * bounds the block numbers. */
void dfs_dinode_encode(const struct dfs_dinode *di, uint64_t ino, uint8_t *slot);
int dfs_dinode_decode(const uint8_t *slot, uint64_t ino, uint64_t total_blocks,
		      struct dfs_dinode *di);
/* For fsck's salvage: as dfs_dinode_decode without the checksum, and with the
 * inline extents copied unchecked (the caller checks each). */
int dfs_dinode_decode_unchecked(const uint8_t *slot, uint64_t ino, uint64_t total_blocks,
				struct dfs_dinode *di);
/* Free is all zero (FORMAT.md): a slot with mode 0 and other bytes set is
 * damage that directory entries may still name, not a number to hand out. */
bool dfs_dinode_slot_free(const uint8_t *slot);
bool dfs_dinode_crc_ok(const uint8_t *slot, uint64_t ino);

void dfs_extent_encode(const struct dfs_extent *e, uint8_t *p);
/* Checks the extent lies inside [data_start, total_blocks) and len > 0. */
int dfs_extent_decode(const uint8_t *p, uint64_t data_start, uint64_t total_blocks,
		      struct dfs_extent *e);

#endif
