/* daxfs/ioctl.h - the control channel: ioctls on a mounted daxfs-fuse's files and directories */
#ifndef DAXFS_IOCTL_H
#define DAXFS_IOCTL_H

#include <linux/ioctl.h>
#include <stdint.h>

/*
 * daxfs-ctl and libdaxfs talk to a mounted daemon through ioctls on the mount's
 * root directory (device control) or on a file (per-file requests). FUSE
 * forwards them only in restricted form, so every command encodes its
 * direction and a fixed argument size (at most 16 KiB) in its number.
 *
 * Number space of type DAXFS_IOC_MAGIC:
 *   0x00-0x3f  device control and fault injection (daxfs-ctl)
 *   0x40-0x7f  direct access for applications (libdaxfs)
 * Each request structure starts with a version word so the channel can grow.
 */
#define DAXFS_IOC_MAGIC 0xDA

#define DAXFS_IOC_VERSION 1u

/*
 * Device control (0x00-0x3f). Every command is _IOWR on one structure, issued
 * on the mount's root directory (any other inode: ENOTTY). Callers: root and
 * the user who mounted; anyone else gets EPERM. A request with another
 * version gets EPROTO, a malformed one EINVAL; those are ioctl(2) errors.
 *
 * A command that reaches the device answers with ioctl(2) returning 0 and the
 * outcome in the structure: error = 0 or a negative errno, text = the result
 * (table, info, status, badblocks list), or on failure the reason, as the
 * library said it ("daxfs.table:2: linear: Invalid device sector").
 */
#define DAXFS_IOC_TEXT_MAX 16320u   /* bytes of text, with its NUL */

enum daxfs_ioc_flags {
	DAXFS_IOC_F_JSON = 1u << 0,      /* table/info/status/badblocks list: JSON text */
	DAXFS_IOC_F_INACTIVE = 1u << 1,  /* table: the INACTIVE slot */
	DAXFS_IOC_F_NOLOCKFS = 1u << 2,  /* suspend/resume: do not freeze the filesystem */
	DAXFS_IOC_F_MORE = 1u << 3,      /* load: text continues in the next LOAD call */
};

enum daxfs_ioc_op {                  /* BADBLOCKS and TRACE */
	DAXFS_IOC_OP_LIST = 0,
	DAXFS_IOC_OP_ADD = 1,
	DAXFS_IOC_OP_CLEAR = 2,
	DAXFS_IOC_OP_ON = 3,
	DAXFS_IOC_OP_OFF = 4,
};

struct daxfs_ioc_ctl {
	uint32_t version;            /* in: DAXFS_IOC_VERSION */
	uint32_t flags;              /* in: daxfs_ioc_flags */
	uint32_t op;                 /* in: daxfs_ioc_op */
	int32_t error;               /* out: 0 or -errno */
	uint64_t start, len;         /* in: BADBLOCKS add/clear, sectors of the device */
	uint32_t text_len;           /* in and out: bytes of text, without the NUL */
	uint32_t reserved;
	/* in: LOAD's table text (a chunk of it with F_MORE), BADBLOCKS' device
	 * path; out: the answer or the failure reason, NUL-terminated */
	char text[DAXFS_IOC_TEXT_MAX];
};
_Static_assert(sizeof(struct daxfs_ioc_ctl) == 16360, "struct daxfs_ioc_ctl layout");

#define DAXFS_IOC_TABLE     _IOWR(DAXFS_IOC_MAGIC, 0x01, struct daxfs_ioc_ctl)
#define DAXFS_IOC_INFO      _IOWR(DAXFS_IOC_MAGIC, 0x02, struct daxfs_ioc_ctl)
#define DAXFS_IOC_STATUS    _IOWR(DAXFS_IOC_MAGIC, 0x03, struct daxfs_ioc_ctl)
/* Parses the text (origin "<mountpoint's source>:load") and stages it as the
 * INACTIVE table after the table checks of a load (dm_md_load). */
#define DAXFS_IOC_LOAD      _IOWR(DAXFS_IOC_MAGIC, 0x04, struct daxfs_ioc_ctl)
/* Suspend: with lockfs (default) the filesystem is frozen first (synced,
 * writers held until resume). */
#define DAXFS_IOC_SUSPEND   _IOWR(DAXFS_IOC_MAGIC, 0x05, struct daxfs_ioc_ctl)
/* Resume: a staged table must also hold the filesystem (the superblock's
 * layout fingerprint and size), else -EINVAL, the staged table dropped and the
 * old one still live. After a swap the kernel's cached pages of every cached
 * inode are dropped before the reply. */
#define DAXFS_IOC_RESUME    _IOWR(DAXFS_IOC_MAGIC, 0x06, struct daxfs_ioc_ctl)
#define DAXFS_IOC_CLEAR     _IOWR(DAXFS_IOC_MAGIC, 0x07, struct daxfs_ioc_ctl)
/* text = the device's path as the table names it; op LIST/ADD/CLEAR. */
#define DAXFS_IOC_BADBLOCKS _IOWR(DAXFS_IOC_MAGIC, 0x08, struct daxfs_ioc_ctl)
/* op ON/OFF: log every direct_access resolution of file I/O (fuse_log). */
#define DAXFS_IOC_TRACE     _IOWR(DAXFS_IOC_MAGIC, 0x09, struct daxfs_ioc_ctl)

/* ==== 0x40-0x7f: direct access for applications (libdaxfs, src/fuse/client.c) ====
 *
 * All of these are issued on an open regular file. A lease belongs to the open
 * file description the ioctl came through: it ends with DAXFS_IOC_LEASE_PUT or
 * when the last descriptor of that open file is closed (FUSE RELEASE), which
 * also happens when the holder is killed. While an inode has a lease, blocks
 * its truncate, hole punch or deletion drop are held back from the allocator,
 * and its page cache is kept coherent with the direct mapping (see client.h).
 */

/* A byte range of the file; flags by command. */
struct daxfs_ioc_range {
	uint32_t version;          /* DAXFS_IOC_VERSION */
	uint32_t flags;
	uint64_t offset;
	uint64_t length;
};

/* Takes (GET) or drops (PUT) one lease on the file through this open file.
 * GET on a table that is not DAX-capable fails with EOPNOTSUPP. */
#define DAXFS_IOC_LEASE_GET _IOW(DAXFS_IOC_MAGIC, 0x40, struct daxfs_ioc_range)
#define DAXFS_IOC_LEASE_PUT _IOW(DAXFS_IOC_MAGIC, 0x41, struct daxfs_ioc_range)
/* Allocates [offset, offset+length): holes become zeroed written blocks,
 * unwritten extents are converted, i_size grows to cover the range, and all of
 * it is durable before the reply (MAP_SYNC's promise). Needs a lease. */
#define DAXFS_IOC_ALLOC _IOW(DAXFS_IOC_MAGIC, 0x42, struct daxfs_ioc_range)
/* Stores through a direct mapping of [offset, offset+length) were made
 * durable by the caller: drop the page cache's copy of the range so read()
 * and page-cache mmaps see them, and make pending metadata durable. */
#define DAXFS_IOC_SYNC _IOW(DAXFS_IOC_MAGIC, 0x43, struct daxfs_ioc_range)

/* One piece of a file's extent map followed down the dm chain: file bytes
 * [file_offset, file_offset+length) live at device_offset of backing device
 * device_index (DAXFS_IOC_DEVICE). A piece never crosses a target or stripe
 * chunk boundary. */
struct daxfs_ioc_piece {
	uint64_t file_offset;
	uint64_t length;
	uint64_t device_offset;
	uint32_t device_index;
	uint32_t reserved;
};

#define DAXFS_IOC_MAX_PIECES 96
#define DAXFS_IOC_MSG_LEN 256

enum daxfs_ioc_extents_flags {
	DAXFS_IOC_EXTENTS_WRITE = 1u << 0,   /* in: convert unwritten extents */
};

/* In: version, flags, offset, length (page-aligned). Out: npieces pieces
 * covering [offset, offset+covered) in file order; the caller asks again from
 * offset+covered. If the range cannot be mapped, error is the negative errno
 * (EIO: error target or poisoned page; ENXIO: hole or past EOF; EOPNOTSUPP:
 * not DAX; ENOLCK: no lease; EINVAL: bad range), message says where, and
 * npieces and covered are 0; the ioctl itself still succeeds so that the
 * message reaches the caller. Needs a lease. */
struct daxfs_ioc_extents {
	uint32_t version;
	uint32_t flags;
	uint64_t offset;
	uint64_t length;
	uint64_t covered;
	uint32_t npieces;
	int32_t error;
	char message[DAXFS_IOC_MSG_LEN];
	struct daxfs_ioc_piece pieces[DAXFS_IOC_MAX_PIECES];
};
#define DAXFS_IOC_EXTENTS _IOWR(DAXFS_IOC_MAGIC, 0x44, struct daxfs_ioc_extents)

enum daxfs_ioc_device_flags {
	DAXFS_IOC_DEVICE_PMEM = 1u << 0,     /* libpmem says is_pmem: flush + drain */
};

/* In: version, index. Out: the backing device's path as the table names it
 * (open it yourself: your permissions apply), its size and flags; error as
 * in daxfs_ioc_extents (ENXIO: no such index). */
struct daxfs_ioc_device {
	uint32_t version;
	uint32_t index;
	uint32_t flags;
	int32_t error;
	uint64_t size;
	char path[4072];
};
#define DAXFS_IOC_DEVICE _IOWR(DAXFS_IOC_MAGIC, 0x45, struct daxfs_ioc_device)

_Static_assert(sizeof(struct daxfs_ioc_range) == 24, "daxfs_ioc_range layout");
_Static_assert(sizeof(struct daxfs_ioc_piece) == 32, "daxfs_ioc_piece layout");
_Static_assert(sizeof(struct daxfs_ioc_extents) < 16384, "FUSE restricted ioctl size");
_Static_assert(sizeof(struct daxfs_ioc_device) == 4096, "daxfs_ioc_device layout");

/* ==== end of the libdaxfs block ==== */

#endif
