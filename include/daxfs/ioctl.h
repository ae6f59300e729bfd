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
/* Device control's own (struct daxfs_ioc_ctl): 2 answers with encoded
 * results, 1 answered with daxfs-ctl's text. */
#define DAXFS_IOC_CTL_VERSION 2u

/*
 * Device control (0x00-0x3f). Every command is _IOWR on one structure, issued
 * on the mount's root directory (any other inode: ENOTTY). Callers: root and
 * the user who mounted; anyone else gets EPERM. A request with another
 * version gets EPROTO, a malformed one EINVAL; those are ioctl(2) errors.
 *
 * A command that reaches the device answers with ioctl(2) returning 0 and the
 * outcome in the structure: error = 0 or a negative errno. On failure text is
 * the reason, NUL-terminated, as the library said it ("daxfs.table:2: linear:
 * Invalid device sector"). On success a command that has a result (table,
 * info, status, badblocks list) answers with the dm command layer's result
 * encoded (below), in pieces: text holds text_len bytes (no NUL) from byte
 * start of the len bytes of the answer, and answer names it. The caller asks
 * for the next piece with the same command, F_MORE, start and answer; the
 * daemon holds one answer, until its last piece is given or another
 * command's answer takes its place (then -ESTALE). Every other success has
 * len 0 and an empty text. What daxfs-ctl prints of a result (dmsetup's text,
 * JSON) is daxfs-ctl's own: the channel carries data, and of text only what
 * is dm's (table and status lines, dmsetup info's text), as the kernel's
 * dm-ioctl does.
 *
 * The encoded result (src/dm/wire.c, dm_ioctl_result_encode/_decode in
 * daxfs/dm.h). Integers are fixed-width little-endian; str is a u32 length
 * (0xffffffff: none) then that many bytes and a NUL, none of them NUL;
 * flags have no bits but those named. Counts are checked against the bytes
 * left before anything is allocated for them.
 *
 *   header   u32 magic DM_IOC_WIRE_MAGIC ("DWIR"), u32 version
 *            DM_IOC_WIRE_VERSION (1), u32 length of the whole answer
 *            (at most DM_IOC_WIRE_MAX)
 *   result   str name, str type_name ("none", "bio", "dax")
 *   info     u32 flags (1 suspended, 2 live table, 4 inactive table, 8 DAX,
 *            16 deferred remove), u32 open_count, u64 event_nr,
 *            u32 num_targets, u64 size (sectors), u32 read_ahead, u32 major,
 *            u32 minor, u32 bios_waiting, str uuid (at most 128 bytes)
 *   holder   u32 flags (1 frozen, 2 shut down after an I/O error, 4 uses
 *            DAX), u32 writers_waiting
 *   text     str: table's lines, dmsetup info's text or status's lines
 *   targets  u32 count, each: u32 index, u32 flags (1 DAX), u64 begin,
 *            u64 len, u64 ios, u64 errors, str type, str args
 *   devices  u32 count, each: str path, u64 size (bytes), u32 flags (1 DAX,
 *            2 pmem), str not_dax_reason (none when DAX), str persist, u64
 *            direct_accesses, reads, read_bytes, writes, write_bytes,
 *            flushes, drains, nt_copies, errors, u32 bad block ranges (at
 *            most 64), each u64 sector, u64 sectors
 *   badblocks u32 count, each u64 sector, u64 sectors (badblocks list)
 *
 * Nothing follows the last field. A reader that meets another version says
 * so with both numbers; DAXFS_IOC_CTL_VERSION changes with it.
 */
#define DAXFS_IOC_TEXT_MAX 16320u   /* bytes of text, with its NUL */

enum daxfs_ioc_flags {
	DAXFS_IOC_F_JSON = 1u << 0,      /* table/info/status/badblocks list/workers: JSON */
	DAXFS_IOC_F_INACTIVE = 1u << 1,  /* table: the INACTIVE slot */
	DAXFS_IOC_F_NOLOCKFS = 1u << 2,  /* suspend/resume: do not freeze the filesystem */
	DAXFS_IOC_F_MORE = 1u << 3,      /* load: text continues in the next LOAD call;
					  * a command with a result: its next piece */
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
	uint32_t version;            /* in: DAXFS_IOC_CTL_VERSION */
	uint32_t flags;              /* in: daxfs_ioc_flags */
	uint32_t op;                 /* in: daxfs_ioc_op */
	int32_t error;               /* out: 0 or -errno */
	/* in: BADBLOCKS add/clear, sectors of the device; with F_MORE, start
	 * is the next piece's. out: the piece's start and the answer's length
	 * (0: no result) */
	uint64_t start, len;
	uint32_t text_len;           /* in and out: bytes of text, without the NUL */
	uint32_t answer;             /* out: the result's id (0: none); in: F_MORE's */
	/* in: LOAD's table text (a chunk of it with F_MORE), BADBLOCKS' device
	 * path; out: a piece of the encoded result, or the failure reason,
	 * NUL-terminated */
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
/* The daemon's worker threads and their counters (not the device's): the
 * answer is text, or one JSON object with F_JSON, with no encoded result. */
#define DAXFS_IOC_WORKERS   _IOWR(DAXFS_IOC_MAGIC, 0x0b, struct daxfs_ioc_ctl)

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
 * it is durable before the reply (MAP_SYNC's promise). All or nothing for
 * space: ENOSPC leaves the file's blocks as they were. Needs a write lease.
 * With DAXFS_IOC_ALLOC_KEEP_SIZE i_size stays as it is: blocks past EOF are
 * allocated for stores a later DAXFS_IOC_RUN_WRITTEN makes part of the file
 * (daxfs-run's writes past EOF, allocated in batches). */
#define DAXFS_IOC_ALLOC _IOW(DAXFS_IOC_MAGIC, 0x42, struct daxfs_ioc_range)
enum daxfs_ioc_alloc_flags {
	DAXFS_IOC_ALLOC_KEEP_SIZE = 1u << 1,
	/* For stores through a mapping (what a DAX write fault allocates):
	 * set-id bits stay, as page_mkwrite drops none. Needs KEEP_SIZE (a
	 * store never changes the size, EINVAL otherwise); a range past the
	 * page of EOF, which no store reaches, drops them as any other. */
	DAXFS_IOC_ALLOC_MAPPED = 1u << 2,
	/* With KEEP_SIZE: speculative, as a filesystem's preallocation past
	 * EOF. The caller gives back what lies past EOF at its last close
	 * (DAXFS_IOC_WRITTEN_TRIM); if the file's last lease goes first (the
	 * caller died), the daemon gives it back itself. */
	DAXFS_IOC_ALLOC_AHEAD = 1u << 3,
};
/* Stores through a direct mapping of [offset, offset+length) were made
 * durable by the caller: drop the page cache's copy of the range so read()
 * and page-cache mmaps see them, and make pending metadata durable. */
#define DAXFS_IOC_SYNC _IOW(DAXFS_IOC_MAGIC, 0x43, struct daxfs_ioc_range)

/* One piece of a file's extent map followed down the dm chain: file bytes
 * [file_offset, file_offset+length) live at device_offset of backing device
 * device_index (DAXFS_IOC_DEVICE). A piece never crosses a target or stripe
 * chunk boundary. With DAXFS_IOC_EXTENTS_ALL a piece may also be a hole or
 * unreadable (device_index DAXFS_IOC_NO_DEVICE), or preallocated (kind). */
struct daxfs_ioc_piece {
	uint64_t file_offset;
	uint64_t length;
	uint64_t device_offset;
	uint32_t device_index;
	uint32_t kind;              /* daxfs_ioc_piece_kind; 0 before DAXFS_IOC_EXTENTS_ALL */
};

#define DAXFS_IOC_NO_DEVICE 0xffffffffu

enum daxfs_ioc_piece_kind {
	DAXFS_IOC_PIECE_DATA = 0,        /* written blocks */
	DAXFS_IOC_PIECE_UNWRITTEN = 1,   /* preallocated blocks: read as zeroes; a
					  * store needs DAXFS_IOC_ALLOC first */
	DAXFS_IOC_PIECE_HOLE = 2,        /* no blocks (device_index NO_DEVICE) */
	DAXFS_IOC_PIECE_BAD = 3,         /* a poisoned page or an error target:
					  * EIO to read, SIGBUS to fault */
};

#define DAXFS_IOC_MAX_PIECES 96
#define DAXFS_IOC_MSG_LEN 256

enum daxfs_ioc_extents_flags {
	DAXFS_IOC_EXTENTS_WRITE = 1u << 0,   /* in: convert unwritten extents */
	/* in: report holes, unwritten extents and bad pages as pieces of
	 * their kind instead of failing there, also past EOF (where blocks
	 * allocated with DAXFS_IOC_ALLOC_KEEP_SIZE are); the range must be
	 * page-aligned. Unwritten extents are converted only with WRITE. */
	DAXFS_IOC_EXTENTS_ALL = 1u << 1,
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
 * (open it yourself: your permissions apply), the st_dev and st_ino of the
 * file the daemon uses (the path may name another file by now: a copy put
 * in its place; 0 and 0 from a daemon before them), its size and flags;
 * error as in daxfs_ioc_extents (ENXIO: no such index). Needs a lease. */
struct daxfs_ioc_device {
	uint32_t version;
	uint32_t index;
	uint32_t flags;
	int32_t error;
	uint64_t size;
	char path[4056];
	uint64_t st_dev;
	uint64_t st_ino;
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

/* ==== daxfs-run (src/run): the table it shares with the daemon ====
 *
 * daxfs-run serves read(), write() and mmap() of files on a mount with loads
 * and stores through its own mappings of their blocks. What it must know
 * without asking the daemon, it reads from a table the daemon keeps in
 * shared memory: one slot per inode that has a lease, written only by the
 * daemon, mapped read-only by every daxfs-run process (the descriptor comes
 * over the grant socket, like a backing device's). Access the fields with
 * atomic loads (the daemon stores them with release or sequentially
 * consistent stores, as said per field).
 */
struct daxfs_run_slot {
	/* The inode of the slot; 0 while free. Set before the slot is handed
	 * out, cleared when its last lease is put. */
	uint64_t ino;
	/* The layout generation: odd while the daemon changes what the
	 * file's blocks are or hold in a way a mapping must see (blocks
	 * removed or moved, the size cut or raised by truncate, written blocks
	 * zeroed, a table swapped, bad blocks changed, the lease revoked);
	 * even and larger after. Bumped with sequentially consistent stores
	 * before and after the change. */
	uint64_t gen;
	/* i_size, stored (release) before any request that changes it is
	 * answered. */
	uint64_t size;
	/* daxfs_run_flags (sequentially consistent). */
	uint32_t flags;
	/* Open files with write access to the inode that hold no write lease,
	 * and O_APPEND writes the daemon is making: while any exists, a
	 * daxfs-run process extends the file through the daemon, which orders
	 * such writes (daxfs-run holds the extend lock, see
	 * DAXFS_RUN_LOCK_BASE, while it looks). */
	uint32_t plain_writers;
	/* Bumped (sequentially consistent) after the daemon may have given
	 * the file blocks where it had holes or unwritten extents (a write, a
	 * copy, an allocation), before the size such a change publishes: a
	 * mapping that shows a hole there is out of date if this moved since
	 * it was made. */
	uint64_t alloc_gen;
	/* Bumped (sequentially consistent) after a change of the layout
	 * that cut the size or took blocks away (a truncate that shrinks the
	 * file, O_TRUNC, a punched or collapsed range) while some open file
	 * has direct mappings (DAXFS_IOC_RUN_MAPPED), before daxfs_run_head's
	 * recall: the recall of the kernel's DAX truncate, which unmaps the
	 * pages from every process before it returns. The daemon answers the
	 * change when every such open file acknowledged this value
	 * (DAXFS_IOC_MAPPED_RECALLED), or after ten seconds (a process busy
	 * that long keeps showing the old pages; their blocks stay held all
	 * the same). */
	uint32_t recall;
	/* What a size record of the inode carries (struct daxfs_run_record):
	 * the epoch of its size (each cut bumps it; stored, release, before
	 * gen goes even after the cut) and its generation. */
	uint32_t size_epoch;
	uint32_t generation;
	/* The size record pair the slot may write, plus one; 0: none (the
	 * pairs are fewer than the slots: fdatasync then asks the daemon). */
	uint32_t rec;
	uint64_t reserved;
};
_Static_assert(sizeof(struct daxfs_run_slot) == 64, "daxfs_run_slot layout");

/* After the table's nslots slots. */
struct daxfs_run_head {
	/* Bumped (sequentially consistent) after any slot's recall, and
	 * woken (FUTEX_WAKE, not private): a daxfs-run process with direct
	 * mappings waits on it. */
	uint32_t recall;
	/* Non-zero from the start of a lockfs suspend's freeze to its thaw
	 * (sequentially consistent): write() goes the ordinary way, to wait
	 * at the daemon's write gate. */
	uint32_t frozen;
	/* Non-zero when the daemon records a persistence trace
	 * (DAXFS_PERSIST_TRACE, docs/CRASH.md): daxfs-run then has the
	 * daemon flush what it stored and drain at its persist points
	 * (DAXFS_IOC_WRITTEN_FLUSH, DRAIN), so that the trace holds them. */
	uint32_t traced;
	/* Random, not 0, per daemon start: names the table (RUN_OPEN). */
	uint32_t id;
	/* Size records (struct daxfs_run_record), when rec_pairs > 0: the
	 * mapped device's block at byte rec_pos, whose sector
	 * rec_label_sector holds a label; record i of it is at
	 * daxfs_run_record_offset(i, rec_label_sector) (FORMAT.md, "Size
	 * records"); pair k is records 2k and 2k+1. Each record carries mount_count. Set before any slot is
	 * handed out; the block's place changes only with a table swap,
	 * which moves every slot's gen. rec_dev and rec_devoff: where the
	 * block lives (a backing device's index, as in daxfs_ioc_piece, and
	 * its byte offset there), for the process to map it. */
	uint64_t rec_pos;
	uint32_t rec_label_sector;
	uint32_t rec_pairs;
	uint32_t mount_count;
	uint32_t rec_dev;
	uint64_t rec_devoff;
	/* Non-zero: as long as this daemon serves the mount, it holds an OFD
	 * write lock of byte 0 of this table's memfd, through an open file of
	 * its own that it hands to nobody. A process that can take a read
	 * lock there (through an open file of its own too) knows the daemon
	 * is gone (killed, or the mount ended): the blocks it maps may go to
	 * other files of whatever mounts the members next, so it stores
	 * through them no more. */
	uint32_t alive;
	uint32_t reserved[3];
};
_Static_assert(sizeof(struct daxfs_run_head) == 64, "daxfs_run_head layout");

/*
 * The table of pending sizes, one record per slot (same index), which the
 * daemon shares with daxfs-run read-write for the processes that hold a
 * write lease (read-only for the others; the grant socket hands it over with
 * the slot table). A daxfs-run write that extends a file from within its
 * current end (no gap) stores the data, then raises end with an atomic
 * compare-and-swap (never lowers it) and bumps writes, instead of a request:
 * the file's size is max(slot size, end) for every daxfs-run process. The
 * daemon folds the record into the inode (size from end, mtime and ctime
 * when writes moved since its last look) before it answers any request that
 * can observe or change them (getattr, lookup, setattr, read, write, lseek,
 * fsync, release, copy_file_range, fallocate and every DAXFS_IOC_*), and
 * while a daxfs-run process holds a write lease it answers the inode's
 * attributes with a timeout of 0, so the kernel asks it each time. It treats
 * the record as untrusted: end counts only when the blocks from the size to
 * end are all written blocks of the file (else end is reset to 0 and the
 * claim dropped). Every field: atomic loads and stores.
 */
struct daxfs_run_pending {
	uint64_t end;
	uint64_t writes;
	/* Size records written for the slot, under the extend lock: the
	 * next goes to the pair's record (rec_turn & 1), so that a torn
	 * one leaves the other whole. */
	uint64_t rec_turn;
	uint64_t reserved[5];
};
_Static_assert(sizeof(struct daxfs_run_pending) == 64, "daxfs_run_pending layout");

enum daxfs_run_flags {
	/* The daemon answered a READ or WRITE of the inode through the page
	 * cache since the cache was last dropped (DAXFS_IOC_RUN_WRITTEN with
	 * INVAL): the kernel may hold copies of its pages. Set before the
	 * daemon touches the data. */
	DAXFS_RUN_CACHED = 1u << 0,
	/* A forced table swap revoked the leases: no direct access any more. */
	DAXFS_RUN_REVOKED = 1u << 1,
	/* Pages of a shared page-cache mapping were written back: some process
	 * stores into the file through the page cache, which direct stores
	 * would not merge with. */
	DAXFS_RUN_PAGE_MAPPED = 1u << 2,
	/* The file has set-id bits a write by a caller without CAP_FSETID
	 * clears: writes go through the daemon. */
	DAXFS_RUN_SETID = 1u << 3,
};

/*
 * A size record (docs/FORMAT.md, "Size records"; little-endian): the file's
 * size, durable without a request. fdatasync after writes that extended a
 * file writes one with the slot's size_epoch and generation and the table's
 * mount_count, persists it, and counts on it only when the slot's gen did
 * not move meanwhile (no cut began). crc is crc32c(le64(the record's byte
 * position on the mapped device) || the bytes before it).
 */
struct daxfs_run_record {
	uint32_t magic;                 /* DAXFS_RUN_RECORD_MAGIC */
	uint32_t epoch;
	uint64_t ino;
	uint64_t size;
	uint32_t generation;
	uint32_t mount_count;
	uint8_t reserved[28];
	uint32_t crc;
};
_Static_assert(sizeof(struct daxfs_run_record) == 64, "daxfs_run_record layout");
#define DAXFS_RUN_RECORD_MAGIC 0x53525844u

/* Bytes from the start of the records' block to record i: 8 records in each
 * of its 512-byte sectors, the label's sector skipped. */
static inline unsigned daxfs_run_record_offset(unsigned i, unsigned label_sector)
{
	unsigned sector = i / 8;

	if (sector >= label_sector)
		sector++;
	return sector * 512 + (i % 8) * (unsigned)sizeof(struct daxfs_run_record);
}

/*
 * Writes that extend a file are ordered between daxfs-run processes, and
 * against opens for writing of other processes, by an OFD write lock of the
 * byte DAXFS_RUN_LOCK_BASE + ino of backing device 0 (a byte no other user
 * of the device locks); the daemon takes a read lock of it after it counted
 * a new plain writer, while it makes an O_APPEND write (counted too), and
 * while a request opens a gap past EOF of a leased file, which it then
 * zeroes. A daxfs-run process holds it from its stores past EOF until it
 * has told the size (DAXFS_IOC_WRITTEN_SIZE, whose gap before the write is
 * zeroed, or the pending record). A daxfs-run process holding it must not wait for anything a daemon's
 * write can be waiting for (the drop of cached pages, whose locks a write
 * through the kernel holds).
 */
#define DAXFS_RUN_LOCK_BASE (1ull << 62)

enum daxfs_ioc_run_open_flags {
	DAXFS_IOC_RUN_WRITE = 1u << 0,       /* in: a write lease (fd open O_RDWR) */
	DAXFS_IOC_RUN_TABLE = 1u << 1,       /* in: a token for the tables' descriptors */
};

/*
 * Takes a lease of the open file, as DAXFS_IOC_LEASE_GET with the same
 * checks, and the inode's slot of the table. Out: error (0 or a negative
 * errno, message says why: EOPNOTSUPP no DAX or a writeback cache, EDQUOT,
 * ESTALE, ENOSPC the table is full; the lease is not taken then), slot and
 * nslots; with RUN_TABLE, a one-time token and the socket to present it on
 * (as DAXFS_IOC_GRANT): the answer carries two descriptors, a read-only one
 * of the table (nslots slots, then a struct daxfs_run_head) and one of the
 * table of pending sizes (struct daxfs_run_pending), nslots records long,
 * read-write when the token was issued under a write lease (RUN_WRITE), else
 * read-only.
 */
struct daxfs_ioc_run_open {
	uint32_t version;
	uint32_t flags;
	int32_t error;
	uint32_t slot;
	uint32_t nslots;
	/* Out: the table's daxfs_run_head id: a table mapped before under
	 * the same device number (a mount since gone) is not this one. */
	uint32_t table_id;
	uint8_t token[16];
	char socket[108];
	char message[DAXFS_IOC_MSG_LEN];
};
#define DAXFS_IOC_RUN_OPEN _IOWR(DAXFS_IOC_MAGIC, 0x47, struct daxfs_ioc_run_open)

enum daxfs_ioc_run_written_flags {
	/* i_size grows to offset+length (the gap from the old EOF reads as
	 * zeroes); [offset, offset+length) must be written blocks, else
	 * ESTALE: the caller's mapping is out of date. Also pushes the new
	 * size to the kernel, so that other processes see it at once. */
	DAXFS_IOC_WRITTEN_SIZE = 1u << 0,
	/* mtime and ctime become now (a write marks them for update); set-id
	 * bits are cleared for a caller without CAP_FSETID, as a write does. */
	DAXFS_IOC_WRITTEN_TIME = 1u << 1,
	/* The kernel's cached pages of the whole inode are dropped (and
	 * DAXFS_RUN_CACHED cleared first): read() and page-cache mappings of
	 * other processes see the caller's stores from the reply on. */
	DAXFS_IOC_WRITTEN_INVAL = 1u << 2,
	/* The metadata is durable at the reply (also with -o commit=N). */
	DAXFS_IOC_WRITTEN_SYNC = 1u << 3,
	/* The daemon flushes the file's written blocks in [offset,
	 * offset+length) itself, as a store's flush (durable at the next
	 * drain), recorded where a persistence trace is kept; done first. */
	DAXFS_IOC_WRITTEN_FLUSH = 1u << 4,
	/* Then drains every device (after FLUSH, before the metadata). FLUSH
	 * and DRAIN alone need only a read lease. */
	DAXFS_IOC_WRITTEN_DRAIN = 1u << 5,
	/* With TIME: the stores went through a mapping, or through write()
	 * of a file without set-id bits: the bits stay. */
	DAXFS_IOC_WRITTEN_MAPPED = 1u << 6,
	/* The whole blocks of [offset, offset+length) past EOF go back (what
	 * the caller allocated ahead, at its last close), unless another
	 * holder has a lease on the file: it may be storing there before it
	 * tells the size. Alone, or after the other flags. */
	DAXFS_IOC_WRITTEN_TRIM = 1u << 7,
};
/* The caller stored [offset, offset+length) through its mapping (flags:
 * daxfs_ioc_run_written_flags; length 0 with SIZE is refused). Needs a
 * write lease; errors are ioctl(2)'s: EBADF, EACCES, ENOLCK, EPERM, ESTALE,
 * EINVAL, EIO. */
#define DAXFS_IOC_RUN_WRITTEN _IOW(DAXFS_IOC_MAGIC, 0x48, struct daxfs_ioc_range)

/* Issued on a write-only open file of an inode the caller holds a write
 * lease of through another open file (DAXFS_IOC_RUN_OPEN): daxfs-run makes
 * this open file's writes through that one, so it is no plain writer. The
 * range is not used. Errors are ioctl(2)'s: EBADF (not open for writing),
 * EACCES, ENOLCK (no write lease of the inode by this user). */
#define DAXFS_IOC_RUN_MARK _IOW(DAXFS_IOC_MAGIC, 0x49, struct daxfs_ioc_range)

enum daxfs_ioc_run_mapped_flags {
	DAXFS_IOC_MAPPED_ADD = 1u << 0,      /* the open file now backs mmap regions */
	DAXFS_IOC_MAPPED_DROP = 1u << 1,     /* one fewer process maps through it */
	/* The caller's mappings through this open file show the layout
	 * after the slot's recall value offset: pages past EOF raise SIGBUS,
	 * dropped blocks are mapped no more. */
	DAXFS_IOC_MAPPED_RECALLED = 1u << 2,
};
/* What daxfs-run tells the daemon about its mmap regions (exactly one of
 * the flags; the range's length is not used). ADD needs a lease of the open
 * file; errors are ioctl(2)'s: EINVAL, ENOLCK, ESTALE, ENOENT (DROP or
 * RECALLED without ADD), ENOMEM. */
#define DAXFS_IOC_RUN_MAPPED _IOW(DAXFS_IOC_MAGIC, 0x4a, struct daxfs_ioc_range)

_Static_assert(sizeof(struct daxfs_ioc_run_open) == 404, "daxfs_ioc_run_open layout");

/* ==== end of the libdaxfs block ==== */

#endif
