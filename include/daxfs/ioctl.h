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
	DAXFS_IOC_F_FORCE = 1u << 4,     /* resume: swap even while files are mapped
					  * directly, revoking their leases */
	DAXFS_IOC_F_DEFERRED = 1u << 5,  /* remove: if the device is open, at its last close */
	DAXFS_IOC_F_WIPE = 1u << 6,      /* remove: swap in an all-error table first (--force) */
	DAXFS_IOC_F_VERBOSE = 1u << 7,   /* info/status: daxfs's detail after dmsetup's text */
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
 * old one still live. While a file is mapped directly (a lease, 0x40 on) a
 * staged table is refused with -EBUSY; with DAXFS_IOC_F_FORCE it is swapped
 * in and every lease is revoked first (see DAXFS_IOC_LEASE_GET). After a swap
 * the kernel's cached pages of every cached inode are dropped before the
 * reply. */
#define DAXFS_IOC_RESUME    _IOWR(DAXFS_IOC_MAGIC, 0x06, struct daxfs_ioc_ctl)
#define DAXFS_IOC_CLEAR     _IOWR(DAXFS_IOC_MAGIC, 0x07, struct daxfs_ioc_ctl)
/* text = the device's path as the table names it; op LIST/ADD/CLEAR. */
#define DAXFS_IOC_BADBLOCKS _IOWR(DAXFS_IOC_MAGIC, 0x08, struct daxfs_ioc_ctl)
/* op ON/OFF: log every direct_access resolution of file I/O (fuse_log). */
#define DAXFS_IOC_TRACE     _IOWR(DAXFS_IOC_MAGIC, 0x09, struct daxfs_ioc_ctl)
/* dmsetup remove: -EBUSY while the device is open, which a mounted one always
 * is, unless F_DEFERRED (then 0, and the device goes at unmount); F_WIPE first
 * makes an all-error table with the live table's target boundaries live. */
#define DAXFS_IOC_REMOVE    _IOWR(DAXFS_IOC_MAGIC, 0x0a, struct daxfs_ioc_ctl)

/* ==== 0x40-0x7f: direct access for applications (libdaxfs, src/fuse/client.c) ====
 *
 * All of these are issued on an open regular file. A lease belongs to the open
 * file description the ioctl came through: it ends with DAXFS_IOC_LEASE_PUT or
 * when the last descriptor of that open file is closed (FUSE RELEASE), which
 * also happens when the holder is killed. While an inode has a lease, blocks
 * its truncate, hole punch or deletion drop are held back from the allocator,
 * and its page cache is kept coherent with the direct mapping (see client.h).
 *
 * Who may ask, as the kernel checks the equivalent system calls: a read lease,
 * an extent map, a device and a descriptor (GRANT) need the open file open for
 * reading; a write lease, ALLOC and EXTENTS_WRITE need it open for reading and
 * writing (as a writable MAP_SHARED mapping does); otherwise ioctl(2) fails with
 * EBADF. The caller (uid, gid, supplementary groups) must also have the read
 * or write permission on the file at the time of the request, whoever opened
 * it (a descriptor passed to another process does not carry its opener's
 * rights): EACCES otherwise. Beyond that, every request but LEASE_GET needs a
 * lease of this open file (ENOLCK), ALLOC and EXTENTS_WRITE a write lease
 * (EPERM). An open file whose leases were revoked by a forced table swap gets
 * ESTALE for everything but LEASE_PUT until it has put them all.
 */

/* A byte range of the file; flags by command. */
struct daxfs_ioc_range {
	uint32_t version;          /* DAXFS_IOC_VERSION */
	uint32_t flags;
	uint64_t offset;
	uint64_t length;
};

enum daxfs_ioc_lease_flags {
	DAXFS_IOC_LEASE_WRITE = 1u << 0,     /* LEASE_GET/PUT: a write lease */
};

/* Takes (GET) or drops (PUT) one lease on the file through this open file;
 * flags: daxfs_ioc_lease_flags (PUT names the kind it drops), offset and
 * length are not used. GET on a table that is not DAX-capable fails with
 * EOPNOTSUPP; past the per-user limit (daxfs-fuse -o max_leases; not for
 * root or the user who mounted) with EDQUOT. */
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
 * not DAX; ENOLCK, ESTALE, EPERM: the lease, as above; EINVAL: bad range),
 * message says where, and npieces and covered are 0; the ioctl itself still
 * succeeds so that the message reaches the caller. Needs a lease. */
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
	DAXFS_IOC_DEVICE_GRANT = 1u << 1,    /* the daemon hands out descriptors
					      * (DAXFS_IOC_GRANT, -o dax_users) */
};

/* In: version, index. Out: the backing device's path as the table names it
 * (open it yourself: your permissions apply), its size and flags; error as
 * in daxfs_ioc_extents (ENXIO: no such index). Needs a lease. */
struct daxfs_ioc_device {
	uint32_t version;
	uint32_t index;
	uint32_t flags;
	int32_t error;
	uint64_t size;
	char path[4072];
};
#define DAXFS_IOC_DEVICE _IOWR(DAXFS_IOC_MAGIC, 0x45, struct daxfs_ioc_device)

enum daxfs_ioc_grant_flags {
	DAXFS_IOC_GRANT_WRITE = 1u << 0,     /* in: a descriptor open for writing */
};

/*
 * A descriptor of backing device index from the daemon itself, for callers
 * who may not open the device (daxfs-fuse -o dax_users=GROUP). In: version,
 * index, flags. Out: error (0 or negative errno, message says why: EPERM the
 * caller is not in GROUP, EOPNOTSUPP the mount hands out no descriptors,
 * ENXIO no such device, ENOLCK/EPERM/ESTALE as for EXTENTS; a write
 * descriptor needs a write lease), and on success a one-time token and the
 * abstract Unix socket to present it on: connect a SOCK_SEQPACKET socket to
 * "\0" + socket, send the 16 token bytes; the answer is a struct
 * daxfs_grant_reply with the descriptor in SCM_RIGHTS when its error is 0.
 * The daemon checks the connecting process's uid (the one that asked) and
 * groups again, and that the lease still stands. The token is good once,
 * and only while the lease it was issued under lasts.
 */
struct daxfs_ioc_grant {
	uint32_t version;
	uint32_t index;
	uint32_t flags;
	int32_t error;
	uint8_t token[16];
	char socket[108];
	char message[DAXFS_IOC_MSG_LEN];
};
#define DAXFS_IOC_GRANT _IOWR(DAXFS_IOC_MAGIC, 0x46, struct daxfs_ioc_grant)

/* The daemon's answer on the grant socket. */
struct daxfs_grant_reply {
	int32_t error;
	char message[DAXFS_IOC_MSG_LEN];
};

_Static_assert(sizeof(struct daxfs_ioc_range) == 24, "daxfs_ioc_range layout");
_Static_assert(sizeof(struct daxfs_ioc_piece) == 32, "daxfs_ioc_piece layout");
_Static_assert(sizeof(struct daxfs_ioc_extents) < 16384, "FUSE restricted ioctl size");
_Static_assert(sizeof(struct daxfs_ioc_device) == 4096, "daxfs_ioc_device layout");
_Static_assert(sizeof(struct daxfs_ioc_grant) == 396, "daxfs_ioc_grant layout");
_Static_assert(sizeof(struct daxfs_grant_reply) == 260, "daxfs_grant_reply layout");

/* ==== end of the libdaxfs block ==== */

#endif
