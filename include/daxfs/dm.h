/* daxfs/dm.h - the mapped device: dm tables over dax devices and the direct_access chain */
#ifndef DAXFS_DM_H
#define DAXFS_DM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daxfs/dax.h"

/*
 * A mapped_device is the userspace twin of a device-mapper device: it has a
 * LIVE and an INACTIVE table slot, and its own dax entry points
 * (dm_dax_direct_access & co.) that forward through the live table to the
 * target that owns a page offset, exactly as dm_dax_direct_access does.
 *
 * Tables are dmsetup text: "<start> <len> <type> <args...>" per line, in
 * 512-byte sectors, '#' comments and blank lines allowed. Devices are named by
 * path. Target types: linear, striped, error, zero.
 *
 * Thread safety: every entry point may be called from any thread. Each access
 * takes one snapshot of the live table and uses it for the whole call; a table
 * is freed only after the last reader has dropped it. Pointers returned by
 * direct_access stay valid until the mapped device is destroyed (a device a
 * live table used is kept open by the mapped device, as the kernel keeps pmem
 * alive). A device that only tables never made live named (a refused,
 * cleared or replaced staged table) is closed, unmapped and unlocked as soon
 * as the last such table is dropped, as dm closes a table's devices with it.
 */

struct dm_table;
struct mapped_device;

/* ---- tables ---------------------------------------------------------- */

/*
 * Parses table text into a table bound to md (devices are opened through md's
 * device cache). origin names the text in messages ("pmem.table"); errors are
 * "<origin>:<line>: <type>: <reason>" with the kernel's reason strings
 * ("Gap in table", "Invalid argument count", "Invalid device sector",
 * "Device lookup failed", "Invalid stripe count", ...). Checks every target
 * constructor rule; device range checks are deferred to load/resume as in the
 * kernel (see dm_md_load). Returns 0 or a negative errno.
 */
int dm_table_parse(struct mapped_device *md, const char *text, const char *origin,
		   struct dm_table **out);
/* Reads the table file path into *text (malloc'd, NUL-terminated, *len bytes
 * without the NUL) without parsing it. Only a regular file of at most 16 MiB
 * of text is read: anything else (a device such as /dev/zero, a pipe, a file
 * with NUL bytes) is -EINVAL naming path, before any of it is read. */
int dm_table_read_file(const char *path, char **text, size_t *len);
/* Reads a file (dm_table_read_file) and parses it; origin is the path. */
int dm_table_parse_file(struct mapped_device *md, const char *path, struct dm_table **out);
void dm_table_put(struct dm_table **t);

uint64_t dm_table_size(const struct dm_table *t);          /* sectors */
unsigned dm_table_num_targets(const struct dm_table *t);
/* DAX-capable? Every target has direct_access and every device is DAX-capable
 * (error counts as DAX-capable, see kernel-chain.md Part A 3). This is what the
 * filesystem asks (dax=always). The device *type* fixed at load follows the
 * kernel's stricter dm_table_determine_type instead, in which a wildcard target
 * (error) next to a device never makes a DAX table: see dm_md_load. */
bool dm_table_supports_dax(const struct dm_table *t);
/* Why not: "target 2 (zero): no direct_access", "target 1 (linear):
 * /dev/loop0: block device ..."; NULL if DAX. */
const char *dm_table_not_dax_reason(const struct dm_table *t);

/* Information about one target of a table (index from 0). */
struct dm_target_info {
	unsigned index;
	const char *type;           /* "linear" */
	uint64_t begin, len;        /* sectors */
	bool dax;                   /* has direct_access and DAX-capable devices */
	uint64_t ios, errors;       /* bio slices and DAX calls served, and failed */
};
int dm_table_target_info(const struct dm_table *t, unsigned index, struct dm_target_info *out);

/* The table as dmsetup `table` prints it, one line per target ending in '\n'
 * (devices as the paths given), or `status` (target INFO). Returns a malloc'd
 * string or NULL on ENOMEM. The text round-trips through dm_table_parse. */
char *dm_table_text(const struct dm_table *t);
char *dm_table_status_text(const struct dm_table *t);

/* Layout fingerprint: the target count and each target's length, hashed. */
uint64_t dm_table_layout_fingerprint(const struct dm_table *t);

/* ---- member ranges --------------------------------------------------------- */

/*
 * A member range is one area of an underlying device that a target maps data
 * to: a linear target has one, a striped target one per stripe. A target that
 * maps no data (error, zero: a type without map_sector) has none, even when
 * it names a device. Members are numbered from 0 in table order, target by
 * target and stripe by stripe. This is how a layer above reads what a table
 * (LIVE, INACTIVE, or not loaded at all) puts where, without parsing table
 * text or touching a device itself.
 */
struct dm_member {
	unsigned index;
	unsigned target;              /* target index */
	unsigned stripe;              /* 0 for a target with one member */
	unsigned nstripes;            /* members of its target */
	const char *type;             /* "linear", "striped" */
	const char *path;             /* the device, as the table records it */
	dev_t st_dev;                 /* the file opened, whatever path names now */
	ino_t st_ino;
	uint64_t offset, length;      /* sectors: the area on the device */
	uint64_t device_size;         /* bytes of the device (usable: whole pages if mapped) */
	uint64_t target_begin, target_len;   /* sectors on the mapped device */
	uint64_t chunk;               /* sectors a stripe holds in turn; 0 with one member */
	/* the lowest and highest mapped-device sectors the member serves */
	uint64_t first_sector, last_sector;
};
/* Strings in *out live as long as the table. -ERANGE past the last member. */
unsigned dm_table_num_members(const struct dm_table *t);
int dm_table_get_member(const struct dm_table *t, unsigned index, struct dm_member *out);
/* The members of target index: *first and *count (0 for error, zero). */
int dm_table_target_members(const struct dm_table *t, unsigned target, unsigned *first,
			    unsigned *count);
/*
 * Which member serves mapped-device sector: its index, the sector's offset
 * into the member's area (sectors), and how many sectors from there on it
 * serves without a break (to the target or chunk end). -ENOENT (with a
 * message) for a sector of a target without members, -ERANGE past the end.
 */
int dm_table_map_member(const struct dm_table *t, uint64_t sector, unsigned *index,
			uint64_t *offset, uint64_t *run);
/* Reads len bytes at byte off of member index's area (off 0 is its first
 * byte on the device). -ERANGE past the area; the device's error (-EINVAL
 * past a device that shrank, -EIO for a bad sector) otherwise. */
int dm_table_member_read(const struct dm_table *t, unsigned index, uint64_t off, void *buf,
			 size_t len);
/* Whether byte off of member index's area lies in data or in a hole of its
 * file (*data), and the area offset where that ends (*end, at most the
 * area's length): reading a hole of a sparse file through its mapping
 * would give it pages. -ERANGE past the area. */
int dm_table_member_extent(const struct dm_table *t, unsigned index, uint64_t off, bool *data,
			   uint64_t *end);
/* Reads [pos, pos+len) bytes of the mapped device as t maps it, whichever
 * slot t is in (the bio path of t alone: no suspend gate, no counters). */
int dm_table_read(struct dm_table *t, uint64_t pos, void *buf, size_t len);

/* ---- mapped devices ------------------------------------------------------ */

int dm_md_create(const char *name, struct mapped_device **out);
/*
 * Creates a mapped device named name (NULL: "daxfs") and makes a table live
 * from source: either a table file (a regular file whose first bytes, after
 * blank space, are a '#' comment or a digit; anything wrong further on is an
 * error of the table, never a reason to take it for a pmem file), or a
 * comma-separated list of pmem files/devices (any other single file is a list
 * of one), concatenated in order as linear targets of their size rounded down
 * to whole pages, recorded by absolute path. Errors name the file.
 */
int dm_md_open_source(const char *source, const char *name, struct mapped_device **out);
/* 1 if source is a table file, 0 if it is a list of files (or one file),
 * or a negative errno (a single name that does not exist: -ENOENT). */
int dm_source_is_table(const char *source);
/* The same into md, a device created by the caller (e.g. after
 * dm_md_set_open_flags) that has no table yet. */
int dm_md_load_source(struct mapped_device *md, const char *source);
/* source with every file name made absolute (from the current directory,
 * lexically), so that it means the same from any directory. *out malloc'd. */
int dm_source_absolute(const char *source, char **out);
/* How md opens the devices its tables name from now on: DAX_OPEN_* flags
 * (DAX_OPEN_EXCL: block devices exclusively, as mkfs.ext4 does). */
void dm_md_set_open_flags(struct mapped_device *md, unsigned flags);
/* The table text source stands for (the file's table, or the linear targets
 * of the list), as dm_table_text prints it; *out is malloc'd. 0 or -errno. */
int dm_source_table_text(const char *source, char **out);
/* Drops both tables and closes every device. */
void dm_md_destroy(struct mapped_device **md);
const char *dm_md_name(const struct mapped_device *md);

/*
 * Stages t in the INACTIVE slot (replacing any staged table, whose devices no
 * other table holds are closed) and takes the caller's reference; on failure
 * the caller keeps it (put it, then dm_md_release_devices). Type rule of
 * dm-ioctl is_valid_type: the first load fixes the device type; afterwards a
 * load must keep it, except BIO -> DAX. A table is of DAX type when every
 * target has direct_access, none is a wildcard (error), and every device is
 * DAX-capable; or when it has no devices at all and the device is of DAX
 * type. So on a DAX device a bare "0 N error" loads, but "error <dev> <off>"
 * and a mix of linear and error are refused (-EINVAL), as in the kernel. A
 * DAX-capable table (dm_table_supports_dax) whose boundaries, device offsets
 * or stripe chunks are not page-aligned is refused (-EINVAL), as Linux <=
 * 5.16 did, instead of 5.17's silent rounding of the page offset
 * (kernel-chain.md §7 item 11). On the first load of a fresh device the
 * device range checks run here; on later loads they run at resume.
 */
int dm_md_load(struct mapped_device *md, struct dm_table *t);
/* dmsetup create's load and resume (without lockfs) of t. Takes the
 * caller's reference whatever the outcome. */
int dm_md_make_live(struct mapped_device *md, struct dm_table *t);
/* Drops the INACTIVE table, if any, and closes the devices only it held; 0
 * (the kernel's table_clear). */
int dm_md_clear(struct mapped_device *md);
/* Closes every device md opened that no table holds and no live table ever
 * used: what a table that failed to parse or load, or was dropped unswapped,
 * opened. The tables' own paths call it; a caller that puts a table
 * dm_md_load refused calls it after the put. */
void dm_md_release_devices(struct mapped_device *md);

enum dm_suspend_flags {
	DM_SUSPEND_NOLOCKFS = 1u << 0,   /* do not call the freeze hook */
	DM_SUSPEND_NOFLUSH = 1u << 1,
};
/* Blocks new bio-path I/O (queued until resume), waits for in-flight bios.
 * Without NOLOCKFS, calls the freeze hook first. No-op if already suspended. */
int dm_md_suspend(struct mapped_device *md, unsigned flags);
/* If a table is staged: suspend if needed, check device ranges (-EINVAL with
 * the old table still live, the device still suspended and the staged table
 * dropped, with the devices only it held, on failure, as do_resume destroys
 * it), swap it
 * in, free the old one after its last reader. Then un-suspend (thaw hook,
 * resubmit queued I/O against the new table). No staged table on an active
 * device: a no-op success. */
int dm_md_resume(struct mapped_device *md, unsigned flags);

/* The freeze/thaw hooks of lockfs suspend, set by the filesystem above. They
 * run with the device's control lock held: they may submit bios and use the
 * DAX entry points, but must not load, clear, suspend or resume. */
struct dm_lockfs_ops {
	int (*freeze)(void *data);
	void (*thaw)(void *data);
};
void dm_md_set_lockfs(struct mapped_device *md, const struct dm_lockfs_ops *ops, void *data);

/* A reference to the LIVE (or INACTIVE) table, or NULL; put it when done. */
struct dm_table *dm_md_get_live_table(struct mapped_device *md);
struct dm_table *dm_md_get_inactive_table(struct mapped_device *md);

/* What dmsetup info shows. A daxfs mapped device has no read-ahead of its
 * own and no device number unless its owner gives one: read_ahead is the
 * value dmsetup shows for a dm device created without one (the kernel's
 * default, 128 KiB = 256 sectors), major:minor 0:0 unless set. */
#define DM_MD_READ_AHEAD 256u
struct dm_md_info {
	bool suspended;
	bool live_present, inactive_present;
	unsigned open_count;
	uint64_t event_nr;          /* target events (dm_table_event), from 0 */
	unsigned num_targets;       /* of the live table, 0 without one */
	uint64_t size;              /* sectors, of the live table */
	bool dax;                   /* live table type is DAX_BIO_BASED */
	bool deferred_remove;       /* removed at the last close */
	unsigned read_ahead;        /* sectors */
	unsigned major, minor;
	char uuid[129];             /* "" if none */
	unsigned bios_waiting;      /* bios queued until resume */
};
void dm_md_get_info(struct mapped_device *md, struct dm_md_info *out);
/* dmsetup info's text, exactly: "Name:              daxfs\nState: ..." down
 * to "Number of targets", the UUID line when there is one, and the blank
 * line dmsetup ends each device with. */
char *dm_md_info_text(struct mapped_device *md);
/* The device type fixed by the first load: "none", "bio" or "dax". */
const char *dm_md_type_name(struct mapped_device *md);

/* The open count of info (a mounted filesystem holds the device open). The
 * last close of a device marked for deferred removal removes it. */
void dm_md_open(struct mapped_device *md);
void dm_md_close(struct mapped_device *md);

/* DM_DEV_CREATE's identity: a uuid (at most 128 characters, set once:
 * -EBUSY after) and the device number info shows. */
int dm_md_set_uuid(struct mapped_device *md, const char *uuid);
void dm_md_set_devt(struct mapped_device *md, unsigned major, unsigned minor);

enum dm_remove_flags {
	DM_REMOVE_DEFERRED = 1u << 0,   /* if open: remove at the last close */
};
/*
 * dev_remove: an open device is not removed, -EBUSY, unless DEFERRED, which
 * marks it (info: "DEFERRED REMOVE") and returns 0; its last close removes
 * it. A removed device refuses load, suspend, resume and remove (-ENXIO);
 * I/O through it still runs, and its owner destroys it. (dmsetup remove
 * --force is a table swap to an all-error table before the remove: the
 * caller's business.)
 */
int dm_md_remove(struct mapped_device *md, unsigned flags);

/* Called after every successful table swap (the filesystem drops cached pages),
 * with the control lock held and bio-path I/O still blocked: the same rules
 * as the lockfs hooks. */
void dm_md_set_swap_hook(struct mapped_device *md, void (*fn)(void *data), void *data);

/* ---- the command layer (ioctl.c) ------------------------------------------ */

/*
 * The kernel's dm-ioctl.c: one entry point that takes a request and answers
 * with a result structure, so that a control channel (the daemon's ioctls)
 * only carries requests in and results out and never drives md itself.
 * Rendering the result (dmsetup's text, JSON) is the caller's business.
 */
enum dm_ioctl_cmd {
	DM_IOC_TABLE_STATUS,      /* table: the live (or, F_INACTIVE, staged) table */
	DM_IOC_DEV_STATUS,        /* info */
	DM_IOC_STATUS,            /* status: target lines and counters, every device */
	DM_IOC_TABLE_LOAD,        /* parse text (named origin), take the devices' locks, stage */
	DM_IOC_DEV_SUSPEND,
	DM_IOC_DEV_RESUME,        /* the resume check first (dm_md_set_resume_check) */
	DM_IOC_TABLE_CLEAR,
	DM_IOC_DEV_REMOVE,        /* F_WIPE: swap in an all-error table first (--force) */
	DM_IOC_BADBLOCKS_LIST,    /* of the device text names */
	DM_IOC_BADBLOCKS_ADD,     /* sectors [start, start+len) of the device text names */
	DM_IOC_BADBLOCKS_CLEAR,
	DM_IOC_DEVICE,            /* device index (as dm_md_device numbers them): devices[0] */
	DM_IOC_DEVICE_OPEN,       /* device index's file opened afresh (F_WRITE: read-write): fd */
	/* The device's lifetime, for its owner (the daemon): */
	DM_IOC_DEV_CREATE,        /* md NULL: a device named name (F_EXCL: block devices opened
				   * exclusively), text's SOURCE loaded and made live: res->md */
	DM_IOC_DEV_CLAIM,         /* the mount's lock on every file of md (dax_device_lock) */
	DM_IOC_DEV_BACKING,       /* every backing file's blocks there (F_PREALLOC: allocated) */
	DM_IOC_DEV_MARK_MOUNTED,  /* every device marked mounted, once the mount is up */
	DM_IOC_DEV_SET_HOOKS,     /* the owner's hooks (lockfs, resume check, swap) replaced */
	DM_IOC_DEV_OPEN,          /* the holder's open and close (dm_blk_open/close): the last */
	DM_IOC_DEV_CLOSE,         /* close of a device removed --deferred removes it */
	DM_IOC_DEV_RENAME,        /* F_UUID: text becomes the uuid (dmsetup rename --setuuid) */
	DM_IOC_DEV_SET_DEVT,      /* major:minor, which info shows */
};

enum dm_ioctl_flags {
	DM_IOC_F_INACTIVE = 1u << 0,
	DM_IOC_F_NOLOCKFS = 1u << 1,
	DM_IOC_F_DEFERRED = 1u << 2,
	DM_IOC_F_WIPE = 1u << 3,
	DM_IOC_F_FORCE = 1u << 4,     /* passed to the resume check */
	DM_IOC_F_WRITE = 1u << 5,     /* DEVICE_OPEN: for reading and writing */
	DM_IOC_F_EXCL = 1u << 6,      /* DEV_CREATE: DAX_OPEN_EXCL */
	DM_IOC_F_PREALLOC = 1u << 7,  /* DEV_BACKING: allocate rather than check */
	DM_IOC_F_UUID = 1u << 8,      /* DEV_RENAME: the uuid, not the name */
	DM_IOC_F_DESTROY = 1u << 9,   /* DEV_REMOVE: the owner's last word, md is freed */
};

/* What must hold before a staged table may go live: called by DEV_RESUME with
 * the staged table and the request's flags; a negative errno (with its
 * message) refuses it, and the staged table is dropped with the old one
 * still live ("resume: <message>"), as do_resume destroys a table it cannot
 * use. NULL: no check. */
typedef int (*dm_resume_check_fn)(void *data, struct dm_table *staged, unsigned flags);

/* The owner's hooks (DEV_SET_HOOKS): the kernel's holder of a block device,
 * which freeze_bdev finds, and daxfs's resume check and swap hook (see
 * dm_md_set_lockfs, dm_md_set_resume_check, dm_md_set_swap_hook). */
struct dm_ioc_hooks {
	const struct dm_lockfs_ops *lockfs;
	void *lockfs_data;
	dm_resume_check_fn resume_check;
	void *resume_check_data;
	void (*swap)(void *data);
	void *swap_data;
};

struct dm_ioctl_req {
	enum dm_ioctl_cmd cmd;
	unsigned flags;               /* DM_IOC_F_* */
	/* LOAD: the table; BADBLOCKS_*: the device's path; DEV_CREATE: the
	 * SOURCE (dm_md_load_source); DEV_RENAME: the uuid */
	const char *text;
	const char *origin;           /* LOAD: what messages call the text ("load") */
	const char *name;             /* DEV_CREATE */
	uint64_t start, len;          /* BADBLOCKS_ADD/CLEAR: sectors */
	unsigned index;               /* DEVICE, DEVICE_OPEN */
	unsigned major, minor;        /* DEV_SET_DEVT */
	const struct dm_ioc_hooks *hooks;     /* DEV_SET_HOOKS (NULL: none) */
};

/* One target: its table line's parts and its counters. */
struct dm_ioc_target {
	struct dm_target_info info;   /* type is a static string */
	char *args;                   /* the arguments `table` prints ("" for none) */
};

/* One device md has opened, as status shows it. */
struct dm_ioc_device {
	const char *path;             /* lives as long as the result */
	dev_t st_dev;                 /* the file opened, whatever path names now */
	ino_t st_ino;
	uint64_t size;                /* bytes */
	bool dax, is_pmem;
	const char *not_dax_reason;   /* NULL when DAX; static or as long as the result */
	const char *persist;          /* "pmem", "msync", "fsync" */
	struct dax_device_stats stats;
	size_t nbadblocks;            /* at most DM_IOC_STATUS_BADBLOCKS */
	struct dax_badblock badblocks[64];
	/* dm_ioctl's: the device the strings point into, held until
	 * dm_ioctl_result_free (a staged table's may be closed meanwhile);
	 * NULL in a decoded result */
	struct dax_device *held;
};
#define DM_IOC_STATUS_BADBLOCKS 64

/* What holds the device (the mounted filesystem), as info and status show
 * it: the owner's to fill in before it encodes the result (dm_ioctl leaves
 * it zeroed), as dm knows its holder only through the lockfs hooks. */
struct dm_holder_state {
	bool frozen;
	unsigned writers_waiting;
	bool shutdown;                /* after an I/O error */
	bool uses_dax;
};

struct dm_ioctl_result {
	const char *name;             /* md's */
	const char *type_name;        /* dm_md_type_name */
	struct dm_md_info info;       /* DEV_STATUS, STATUS */
	/* TABLE_STATUS: dm_table_text; DEV_STATUS: dm_md_info_text (dmsetup's);
	 * STATUS: dm_table_status_text. malloc'd. */
	char *text;
	unsigned ntargets;            /* TABLE_STATUS, STATUS */
	struct dm_ioc_target *targets;
	unsigned ndevices;            /* STATUS */
	struct dm_ioc_device *devices;
	size_t nbadblocks;            /* BADBLOCKS_LIST */
	struct dax_badblock *badblocks;
	int fd;                       /* DEVICE_OPEN: the caller's to close; -1 otherwise */
	/* DEV_CREATE: the new device, the caller's until DEV_REMOVE with
	 * F_DESTROY; NULL otherwise */
	struct mapped_device *md;
	struct dm_holder_state holder;
	/* A decoded result (dm_ioctl_result_decode): the bytes every string
	 * points into, text and args included; NULL for dm_ioctl's own. */
	char *wire;
};

/*
 * Runs rq on md and fills *res (zeroed first; free it with
 * dm_ioctl_result_free whatever the outcome). Returns 0 or a negative errno
 * with the message in daxfs_errormsg(): the parser's and md's own, and for
 * the requests themselves -ENXIO "no live table" / "no inactive table",
 * -ENODEV "badblocks: PATH: not a device of this mount", -EINVAL for
 * sectors outside the device or a missing path, -EBUSY from remove with the
 * way out named, -ENXIO "no backing device N", and for DEVICE_OPEN open's
 * errno ("PATH: reason") or -ESTALE when the path names another file than
 * the one md opened ("PATH is no longer the file this mount uses"); for
 * DEV_CREATE (md NULL) the messages of dm_md_create and dm_md_load_source,
 * for DEV_CLAIM dax_device_lock's ("PATH: in use by another daxfs mount"),
 * for DEV_BACKING dm_md_check_backing's or dm_md_prealloc's, for
 * DEV_MARK_MOUNTED the first device's that failed, -EINVAL for a DEV_RENAME
 * without F_UUID, -EBUSY for a second uuid or for DEV_REMOVE with F_DESTROY
 * of a device still open. DEV_REMOVE with F_DESTROY frees md (removing it
 * first unless a deferred remove did), whatever md's state: the caller's
 * handle is gone once it answers 0. Every other command on a NULL md is
 * -ENXIO. Not thread-safe against itself: the caller serialises commands (as
 * dm-ioctl's callers are serialised per device).
 */
int dm_ioctl(struct mapped_device *md, const struct dm_ioctl_req *rq, struct dm_ioctl_result *res);
void dm_ioctl_result_free(struct dm_ioctl_result *res);

/*
 * The result on a wire, as the kernel's dm-ioctl copies its answer into the
 * ioctl buffer for libdevmapper to read: the layout daxfs/ioctl.h describes
 * (the control channel's answer), little-endian, self-describing. encode
 * writes name, type_name, info, holder, text, targets, devices and
 * badblocks (not fd or md) into a malloc'd *buf of *len bytes; -ENOMEM, or
 * -EOVERFLOW past DM_IOC_WIRE_MAX. decode reads such bytes into *res
 * (zeroed first; free it with dm_ioctl_result_free whatever the outcome),
 * trusting nothing: a short, oversized or inconsistent answer is -EBADMSG
 * and one of another version -EPROTO, with the message saying what and at
 * which byte ("answer truncated at byte 40: info needs 53 bytes, 12
 * remain").
 */
#define DM_IOC_WIRE_MAGIC 0x52495744u     /* "DWIR" in the first four bytes */
#define DM_IOC_WIRE_VERSION 1u
#define DM_IOC_WIRE_MAX (64u << 20)       /* bytes of one encoded result */
int dm_ioctl_result_encode(const struct dm_ioctl_result *res, char **buf, size_t *len);
int dm_ioctl_result_decode(const void *buf, size_t len, struct dm_ioctl_result *res);

/* The resume check alone (DEV_SET_HOOKS sets it with the others). */
void dm_md_set_resume_check(struct mapped_device *md, dm_resume_check_fn fn, void *data);

/* ---- the DAX entry points (dm_dax_ops) ------------------------------------ */

/*
 * dm_dax_direct_access, as the kernel has it: sector = pgoff * 8; no live table
 * or sector past the end or a target without direct_access -> -EIO; the result
 * is clamped so it never crosses a target or stripe-chunk boundary (a page
 * straddling one -> -EIO); then the target's direct_access runs, which maps the
 * sector and calls dax_direct_access on the underlying device.
 */
long dm_dax_direct_access(struct mapped_device *md, uint64_t pgoff, long nr_pages,
			  enum dax_access_mode mode, void **kaddr, uint64_t *pfn);
int dm_dax_zero_page_range(struct mapped_device *md, uint64_t pgoff, size_t nr_pages);
size_t dm_dax_recovery_write(struct mapped_device *md, uint64_t pgoff, void *addr,
			     const void *src, size_t bytes);

/* Every step of one direct_access resolution, for daxfs-ctl resolve and trace. */
struct dm_resolution {
	uint64_t pgoff, sector;     /* on the mapped device */
	int error;                  /* 0 or the negative errno of the chain */
	int target_index;           /* -1 if no target */
	const char *target_type;    /* static string, or NULL */
	uint64_t target_begin, target_len;
	int stripe;                 /* -1 unless striped */
	char device_path[4096];     /* "" if no device */
	struct dax_device *device;  /* the device itself, NULL if none (lives as long as md) */
	int device_index;           /* its index among md's devices (dm_md_device), -1 if none */
	uint64_t device_sector, device_pgoff;
	uint64_t device_offset;     /* bytes: the first byte's, set by dm_dax_resolve_range */
	long pages;                 /* the clamped count, when error == 0 */
	void *kaddr;
	uint64_t pfn;
};
/* Runs dm_dax_direct_access(pgoff, nr_pages, DAX_ACCESS) and records each step.
 * Returns the same value dm_dax_direct_access would. */
long dm_dax_resolve(struct mapped_device *md, uint64_t pgoff, long nr_pages,
		    struct dm_resolution *out);
/*
 * The piece of [pos, pos+len) bytes of the mapped device that starts at pos,
 * followed down the chain through the live table: the run one device serves
 * without a break (up to the end of the range, of the target or of a stripe
 * chunk). On success out->error is 0 and out names the target, the stripe,
 * the device (device, device_index) and device_offset, the byte pos lands
 * on. When pos cannot be reached, out->error says why (and, when the chain
 * got as far as a device, out names it and the byte, as for a poisoned
 * page) and the piece is all that fails for that reason: a poisoned page alone (the pages before it in
 * the range resolve, as their own piece), otherwise the run to the failing
 * target's end, or to the range's end where no target maps pos. Returns the
 * piece's length in bytes: at least 1 when len is, never more than len.
 * The one mapping every caller that shows or hands out where a file's bytes
 * live uses (the daemon's extent map, the client's EXTENTS, the trace).
 */
uint64_t dm_dax_resolve_range(struct mapped_device *md, uint64_t pos, uint64_t len,
			      struct dm_resolution *out);
/*
 * dm_dax_resolve_range for a report of where bytes live (daxfs-ctl map, the
 * system.daxfs.map attribute, the trace): a member file cut under the
 * mapping keeps its pages in the chain, as a kernel's pmem namespace never
 * shrinks, but they are gone, so the piece past the file's end now fails
 * with -EIO instead of naming bytes the file no longer has (one fstat).
 * Accesses keep resolve_range: theirs fault, and the fault records the
 * page as a bad block.
 */
uint64_t dm_dax_report_range(struct mapped_device *md, uint64_t pos, uint64_t len,
			     struct dm_resolution *out);

/* ---- the bio path ---------------------------------------------------------- */

enum dm_bio_flags {
	DM_BIO_FUA = 1u << 0,       /* durable before completion */
	DM_BIO_NOWAIT = 1u << 1,    /* -EAGAIN instead of waiting while suspended */
	/* waiting while suspended, give up with -EINTR when the calling
	 * thread's request is interrupted (util/intr.h): for callers that
	 * have changed nothing yet (a data read) */
	DM_BIO_KILLABLE = 1u << 2,
};
/*
 * Submits [pos, pos+len) bytes against the live table, split at target and
 * chunk boundaries and remapped by each target (linear/striped remap, error ->
 * -EIO, zero: reads zero-filled, writes dropped). While the device is
 * suspended the call waits for resume and then runs against the new table.
 * Returns 0 or the first error.
 */
int dm_submit_bio(struct mapped_device *md, enum dax_req_op op, unsigned flags,
		  uint64_t pos, void *buf, size_t len);
/* Wakes the bios waiting for resume, so that the killable ones look at their
 * caller's interruption. */
void dm_md_interrupt_waits(struct mapped_device *md);
/* Makes every completed write durable on every device of the live table
 * (REQ_PREFLUSH). */
int dm_flush(struct mapped_device *md);

/* Persists [pos, pos+len) of the mapped device after stores through pointers
 * from dm_dax_direct_access: flushes each underlying device range; drain=true
 * also drains. */
int dm_persist_range(struct mapped_device *md, uint64_t pos, uint64_t len, bool drain);
/* Stores src at [pos, pos+len) of the mapped device and flushes it (durable
 * at the next drain, e.g. dm_flush): each underlying device's
 * dax_device_copy_flushcache, non-temporal on pmem, the kernel's
 * dax_copy_from_iter. For ranges dm_dax_direct_access reached. */
int dm_copy_flushcache(struct mapped_device *md, uint64_t pos, const void *src, size_t len);

/* Every device the mapped device has open (for status and badblocks): those
 * of the live and the staged table, and those a live table used before. */
unsigned dm_md_num_devices(struct mapped_device *md);
struct dax_device *dm_md_device(struct mapped_device *md, unsigned index);  /* no ref taken */
struct dax_device *dm_md_find_device(struct mapped_device *md, const char *path);
/* dev's index (dm_md_device), or -1 when md has not opened it. */
int dm_md_device_index(struct mapped_device *md, const struct dax_device *dev);
/* Takes the mount lock (dax_device_lock) of every device md has opened, in
 * open order, so that a second mount of the same files is refused; a device
 * already held is a no-op. Stops at the first failure and returns it (-EBUSY
 * "<path>: in use by another daxfs mount"). */
int dm_md_lock_devices(struct mapped_device *md);
/* dax_device_mark_mounted on every device (a daemon that serves md): 0, or
 * the first failure, after trying every device. */
int dm_md_mark_mounted(struct mapped_device *md);

/* Whether the mapped device's backing files can hold it (backing.c): the
 * unallocated bytes of its sparse files, summed per filesystem, against that
 * filesystem's free space. 0 when each fits; -ENOSPC with a message naming
 * the files, the bytes and the free space when one does not (the caller
 * decides whether that is fatal); another negative errno when a file cannot
 * be examined. */
int dm_md_check_backing(struct mapped_device *md);
/* Allocates every backing file whole (dax_device_prealloc), in open order;
 * stops at the first failure (-ENOSPC naming the file). */
int dm_md_prealloc(struct mapped_device *md);

#endif
