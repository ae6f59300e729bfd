/* daxfs/fs.h - the daxfs filesystem on a mapped device: the VFS-style contract the FUSE server uses */
#ifndef DAXFS_FS_H
#define DAXFS_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "daxfs/dm.h"

/*
 * Inodes are named by number; the root directory is DFS_ROOT_INO (equal to
 * FUSE_ROOT_ID, so the FUSE server passes numbers through). Numbers are stable
 * across remounts. Every call returns 0 (or a count) on success and a negative
 * errno on failure, with a message in daxfs_errormsg(). All calls are thread
 * safe. Permission checks are the caller's (the kernel's default_permissions);
 * the filesystem enforces the rest (ENOTEMPTY, EEXIST, EXDEV, ENOSPC, EROFS...).
 *
 * Lookup counts follow FUSE: every call that returns a struct stat for an entry
 * (lookup, mknod, mkdir, symlink, link, create, readdir with plus) takes one
 * lookup reference; dfs_forget drops them. An inode with no links is freed
 * when its lookup count reaches zero (or at the next mount, after a crash).
 */

#define DFS_ROOT_INO 1u

enum dfs_dax_mode {
	DFS_DAX_INODE = 0,   /* default: DAX where the table allows it */
	DFS_DAX_ALWAYS = 1,  /* refuse to mount a table that is not DAX-capable */
	DFS_DAX_NEVER = 2,   /* all data through the bio path */
};

struct dfs_mount_opts {
	bool rdonly;
	enum dfs_dax_mode dax;
	/* 0 (the default): every modifying call is durable when it returns, as
	 * on PMFS and NOVA (its transaction commits and the data it wrote is
	 * persisted before it returns), so that a syncfs FUSE cannot forward
	 * finds nothing left to do. N > 0: metadata is batched and committed
	 * every N ms, at fsync/syncfs/DFS_WRITE_SYNC and at unmount (ext4's
	 * commit=); at most DFS_COMMIT_MAX_MS. */
	unsigned commit_interval_ms;
};
#define DFS_COMMIT_MAX_MS (24u * 3600 * 1000)

struct dfs;

/* Mounts the filesystem on md's live table: checks the superblock (magic,
 * version, checksum, table fingerprint), replays the journal, frees orphans.
 * Returns -EINVAL with the reason for a damaged or foreign superblock. */
int dfs_mount(struct mapped_device *md, const struct dfs_mount_opts *opts, struct dfs **out);
/* Writes everything back, marks the superblock clean, frees fs. md stays. */
int dfs_unmount(struct dfs **fs);
/* syncfs */
int dfs_sync(struct dfs *fs);
int dfs_statfs(struct dfs *fs, struct statvfs *out);
/* Whether file data goes through direct_access (true) or the bio path. */
bool dfs_uses_dax(const struct dfs *fs);
/* Whether the persists of the filesystem's devices are being recorded (the
 * crash checker's trace): a writer that stores to the devices itself must
 * then have its flushes made where the trace sees them. */
bool dfs_persists_traced(const struct dfs *fs);
struct mapped_device *dfs_md(const struct dfs *fs);

/* The credentials of the caller, for the owner of new inodes. */
struct dfs_cred {
	uid_t uid;
	gid_t gid;
	mode_t umask;
};

/* ---- namespace ---------------------------------------------------------- */
int dfs_lookup(struct dfs *fs, uint64_t dir, const char *name, struct stat *out);
void dfs_forget(struct dfs *fs, uint64_t ino, uint64_t nlookup);
int dfs_getattr(struct dfs *fs, uint64_t ino, struct stat *out);

enum dfs_setattr_flags {
	DFS_SET_MODE = 1u << 0,
	DFS_SET_UID = 1u << 1,
	DFS_SET_GID = 1u << 2,
	DFS_SET_SIZE = 1u << 3,
	DFS_SET_ATIME = 1u << 4,       /* to attr->st_atim */
	DFS_SET_MTIME = 1u << 5,       /* to attr->st_mtim */
	DFS_SET_ATIME_NOW = 1u << 6,
	DFS_SET_MTIME_NOW = 1u << 7,
	DFS_SET_CTIME = 1u << 8,       /* to attr->st_ctim */
	/* a file that is not a directory loses S_ISUID, and S_ISGID when the
	 * group may execute (after DFS_SET_MODE): file_remove_privs, or
	 * FUSE's FATTR_KILL_SUIDGID */
	DFS_SET_KILL_SUIDGID = 1u << 9,
};
int dfs_setattr(struct dfs *fs, uint64_t ino, const struct stat *attr, unsigned to_set,
		struct stat *out);

/* mode carries the file type (S_IFREG, S_IFIFO, S_IFSOCK, S_IFCHR, S_IFBLK). */
int dfs_mknod(struct dfs *fs, uint64_t dir, const char *name, mode_t mode, dev_t rdev,
	      const struct dfs_cred *cred, struct stat *out);
int dfs_mkdir(struct dfs *fs, uint64_t dir, const char *name, mode_t mode,
	      const struct dfs_cred *cred, struct stat *out);
int dfs_symlink(struct dfs *fs, uint64_t dir, const char *name, const char *target,
		const struct dfs_cred *cred, struct stat *out);
/* Copies at most size bytes (no NUL); returns the length copied. */
ssize_t dfs_readlink(struct dfs *fs, uint64_t ino, char *buf, size_t size);
int dfs_link(struct dfs *fs, uint64_t ino, uint64_t newdir, const char *newname,
	     struct stat *out);
int dfs_unlink(struct dfs *fs, uint64_t dir, const char *name);
int dfs_rmdir(struct dfs *fs, uint64_t dir, const char *name);
/* flags: RENAME_NOREPLACE, RENAME_EXCHANGE (linux/fs.h values). */
int dfs_rename(struct dfs *fs, uint64_t dir, const char *name, uint64_t newdir,
	       const char *newname, unsigned flags);

/* Directory listing. pos 0 starts (with "." and ".."); the callback gets each
 * entry with the pos of the next one and returns 0 to continue, non-zero when
 * its buffer is full (that entry was NOT consumed). With plus, st is filled and
 * a lookup reference is taken for each consumed entry other than . and ..
 * Positions are stable while entries are added and removed concurrently. */
typedef int (*dfs_filldir_t)(void *ctx, const char *name, const struct stat *st, off_t next);
int dfs_readdir(struct dfs *fs, uint64_t dir, off_t pos, bool plus, dfs_filldir_t fill,
		void *ctx);

/* ---- file handles (src/fs/export.c) ------------------------------------- */

/*
 * An exported filesystem's handles name an inode by (number, generation):
 * numbers are stable across remounts, and a slot freed and reused gets a
 * generation no durable inode of that slot had, so the pair never names two
 * files. The caller compares the generations.
 *
 * dfs_lookup_ino: ino itself, of any type, as if looked up by name: fills out
 * and takes one lookup reference. -ESTALE if no inode has that
 * number (never allocated, out of range, or freed) or if it has no links left
 * (removed, and alive only while open).
 * dfs_generation: the generation of ino; -ESTALE as above for a free number.
 */
int dfs_lookup_ino(struct dfs *fs, uint64_t ino, struct stat *out);
int dfs_generation(struct dfs *fs, uint64_t ino, uint32_t *gen);

/* ---- extended attributes (user.* and trusted.*; others -EOPNOTSUPP) ------- */
/* flags: XATTR_CREATE / XATTR_REPLACE. */
int dfs_setxattr(struct dfs *fs, uint64_t ino, const char *name, const void *value,
		 size_t size, int flags);
/* size 0: returns the value's size; too small: -ERANGE. */
ssize_t dfs_getxattr(struct dfs *fs, uint64_t ino, const char *name, void *value, size_t size);
/* NUL-separated names; size 0: returns the size needed. */
ssize_t dfs_listxattr(struct dfs *fs, uint64_t ino, char *list, size_t size);
int dfs_removexattr(struct dfs *fs, uint64_t ino, const char *name);

/* ---- data ---------------------------------------------------------------- */

/*
 * Zero-copy read: fills rd->iov with pointers to the file's bytes in
 * [off, off+size) clipped at EOF: pmem pointers from the direct_access chain
 * (every page of them probed with dax_probe_mc, so that the caller may hand
 * them to the kernel), a shared zero page for holes, or a bounce buffer on the
 * bio path. On a mid-range error the iov stops before it (short count, and
 * rd->err says why); an error on the first byte is returned. The iov may also
 * fill before the end (rd->iov_full). The data stays stable until
 * dfs_read_end.
 */
#define DFS_RW_MAX_BYTES (1u << 20)
/* Pieces end only at block boundaries (extents, and the targets and stripe
 * chunks of a DAX table, which are page-aligned): a read or write of at most
 * DFS_RW_MAX_BYTES always fits its iov, however fragmented the file, so that
 * no request the daemon takes comes back short for want of iov entries (a
 * write cut short would be a short count for the program, which a regular
 * file never gives with space left). */
#define DFS_READ_MAX_IOV (DFS_RW_MAX_BYTES / 4096u + 1)
/* The filesystem's state for one read or write from begin to end, kept in
 * the caller's structure so that a request allocates nothing. Opaque. */
struct dfs_rw_state {
	void *ip;
	uint8_t *bounce;           /* the bio path (no DAX) only */
	unsigned flags;
	bool copied;               /* dfs_write_copy stored and flushed the bytes */
	bool converted;            /* begin marked unwritten blocks written */
	bool shared;               /* a write holding the inode lock shared */
	unsigned nfresh;           /* runs in fresh[] */
	/* begin clears the fields above, the arrays below are filled as used */
	uint64_t addr[DFS_READ_MAX_IOV];   /* device address of each iov */
	/* runs of blocks begin allocated: end unmaps the ones no copied byte reached */
	struct { uint64_t lblk, len; } fresh[DFS_READ_MAX_IOV];
};

struct dfs_read {
	struct iovec iov[DFS_READ_MAX_IOV];
	unsigned niov;
	size_t bytes;
	/* Why bytes is less than the request clipped at EOF: an error at the
	 * first byte not read (negative errno; -EIO for a bad page), or the iov
	 * filled first; neither when the read is whole. */
	int err;
	bool iov_full;
	void *priv;                /* the filesystem's: set from begin to end */
	struct dfs_rw_state state;
};
ssize_t dfs_read_begin(struct dfs *fs, uint64_t ino, off_t off, size_t size, struct dfs_read *rd);
void dfs_read_end(struct dfs *fs, struct dfs_read *rd);
/* Probes [addr, addr+len) of pmem the filesystem handed out (a read's or a
 * write's iov) again, after a copy by someone else (the kernel, a pipe)
 * faulted on it: 0 when every page is backed, else -EIO with the page
 * recorded as a bad block of its device and a message (dax_probe_mc). */
int dfs_probe(const void *addr, size_t len);

/*
 * Write in two steps, as iomap_begin / iomap_end: begin allocates (zeroing new
 * blocks before they become reachable) and returns where the bytes go; the
 * caller copies into rd->iov; end records how many bytes were copied, extends
 * i_size, updates times, and makes it durable when flags has DFS_WRITE_SYNC.
 * DFS_WRITE_APPEND writes at EOF (off is ignored; *off_out tells where).
 *
 * On a synchronous mount (commit_interval_ms 0) end persists the bytes and
 * commits what a reader needs to find them (allocation, unwritten extents
 * made written, i_size) before it returns: a write behaves as
 * an O_DSYNC one, which is what a kernel filesystem mounted -o sync gives.
 * A write that changed nothing but mtime and ctime (an overwrite of written
 * blocks) leaves the times in the running transaction, which the next commit
 * takes: the next change, fsync, DFS_WRITE_SYNC, unmount, or the committer
 * within DFS_COMMIT_INTERVAL_MS. Until then the times are exact in memory
 * (getattr) and may read older after a crash, never the data.
 */
enum dfs_write_flags {
	DFS_WRITE_APPEND = 1u << 0,
	DFS_WRITE_SYNC = 1u << 1,   /* O_SYNC / O_DSYNC: commits the times too */
	/* The caller's page cache orders this write against every other
	 * write and read of its range (the kernel's write-back of cached
	 * pages): an overwrite of written blocks inside EOF then holds the
	 * inode lock shared while it copies, so reads of the file's other
	 * pages go on meanwhile, and exclusively only to set the times. */
	DFS_WRITE_CACHED_PAGES = 1u << 2,
};
struct dfs_write {
	struct iovec iov[DFS_READ_MAX_IOV];
	unsigned niov;
	size_t bytes;
	off_t off;
	void *priv;                /* the filesystem's: set from begin to end */
	/* begin: the file has set-user-ID, or set-group-ID with group execute,
	 * which a write by a caller without CAP_FSETID clears (the kernel's
	 * file_remove_privs); kill_setid, set by the caller before end: end
	 * clears them with the times, if it wrote anything. */
	bool setid, kill_setid;
	/* begin: why bytes is less than asked (negative errno: ENOSPC, EIO
	 * for a poisoned page), or 0 */
	int err;
	struct dfs_rw_state state;
};
ssize_t dfs_write_begin(struct dfs *fs, uint64_t ino, off_t off, size_t size, unsigned flags,
			struct dfs_write *wr);
/* Instead of copying into wr->iov: stores the len bytes at src into the
 * write's bytes [0, len) and flushes them, with non-temporal stores on pmem
 * (dm_copy_flushcache), so that end only has to drain. Returns len; fewer
 * when the device failed a piece after some (the bytes of the pieces before
 * it); or a negative errno when it failed the first (then nothing counts as
 * copied). */
ssize_t dfs_write_copy(struct dfs *fs, struct dfs_write *wr, const void *src, size_t len);
/* Returns copied, or a negative errno if persisting failed. */
ssize_t dfs_write_end(struct dfs *fs, struct dfs_write *wr, size_t copied);

/* Convenience wrappers over begin/end. dfs_pread copies with dax_copy_mc and
 * stops at EOF or at an error after some bytes (a short count);
 * dfs_pread_err also tells which: *err = 0 at EOF, else the error. */
ssize_t dfs_pread(struct dfs *fs, uint64_t ino, void *buf, size_t size, off_t off);
ssize_t dfs_pread_err(struct dfs *fs, uint64_t ino, void *buf, size_t size, off_t off, int *err);
ssize_t dfs_pwrite(struct dfs *fs, uint64_t ino, const void *buf, size_t size, off_t off,
		   unsigned flags);

int dfs_fsync(struct dfs *fs, uint64_t ino, bool datasync);
/* Flushes device addresses [addr, addr + len) that a writer outside fs stored
 * to (a client's mapping of an extent iomap returned); drain: then waits for
 * every flush so far to be durable (len 0: the drain alone). */
int dfs_flush_stored(struct dfs *fs, uint64_t addr, uint64_t len, bool drain);
/* mode: 0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE|KEEP_SIZE, FALLOC_FL_ZERO_RANGE. */
int dfs_fallocate(struct dfs *fs, uint64_t ino, int mode, off_t off, off_t len);
/* Makes [off, off+len) written blocks, as writes or write faults over it
 * would, durably: holes get zeroed blocks, unwritten extents are converted;
 * size and times stay. All or nothing for space: -ENOSPC before anything
 * is allocated when the holes do not fit, and what it allocated is given
 * back when the space runs out on the way. speculative: blocks it takes
 * from holes are what dfs_trim_unshared may give back later (until a
 * fallocate of the range or a truncate past them). */
int dfs_alloc_written(struct dfs *fs, uint64_t ino, uint64_t off, uint64_t len, bool speculative);
/* Gives back the whole blocks of [off, off+len) past EOF that a speculative
 * dfs_alloc_written took from holes (never a reservation of the user's: a
 * fallocate), as a filesystem drops its speculative preallocation at the
 * last close, but only when the
 * inode has no more than own leases (the caller's: 1, or 0 when the caller
 * holds none): another holder may be storing there before it tells the
 * size. Returns 1 when it gave them back, 0 when it left them for that
 * reason, or a negative errno. */
int dfs_trim_unshared(struct dfs *fs, uint64_t ino, uint64_t off, uint64_t len, unsigned own);
/* SEEK_DATA / SEEK_HOLE; -ENXIO past the data. */
off_t dfs_lseek(struct dfs *fs, uint64_t ino, off_t off, int whence);
ssize_t dfs_copy_file_range(struct dfs *fs, uint64_t ino_in, off_t off_in, uint64_t ino_out,
			    off_t off_out, size_t len);

/*
 * After stores a process made through its own mapping of ino's blocks
 * (daxfs-run): with DFS_EXTEND_SIZE, i_size grows to off+len as a write's
 * would (the gap from the old EOF is zeroed, [off, off+len) is kept); the
 * range must be written blocks of the file, else -ESTALE (the mapping the
 * stores went through is no longer the file's). DFS_EXTEND_TIME sets mtime
 * and ctime to now. DFS_EXTEND_SYNC makes it durable before returning (as a
 * synchronous mount always does).
 */
enum dfs_extend_flags {
	DFS_EXTEND_SIZE = 1u << 0,
	DFS_EXTEND_TIME = 1u << 1,
	DFS_EXTEND_SYNC = 1u << 2,
};
int dfs_write_extend(struct dfs *fs, uint64_t ino, uint64_t off, uint64_t len, unsigned flags);

/* ---- size records (src/fs/runrec.c, FORMAT.md "Size records") ------------ */
/*
 * Where a process that extends files with its own stores (daxfs-run) may
 * write size records: pairs of DFS_RUNREC_SIZE-byte records in the mapped
 * device's block at byte pos, in its sectors other than label_sector, at
 * dfs_runrec_offset; each record carries mount_count. -EROFS on a read-only
 * mount.
 */
struct dfs_runrec_area {
	uint64_t pos;
	uint32_t label_sector;
	uint32_t pairs;
	uint32_t mount_count;
};
int dfs_runrec_area(struct dfs *fs, struct dfs_runrec_area *out);
/* What a size record of ino must carry to count: the inode's generation and
 * the epoch of its size (bumped by every cut). */
int dfs_size_stamp(struct dfs *fs, uint64_t ino, uint32_t *generation, uint32_t *epoch);

/* ---- iomap (src/fs/iomap.c) ---------------------------------------------- */
enum dfs_iomap_flags_in {
	DFS_IOMAP_WRITE = 1u << 0,
	DFS_IOMAP_ZERO = 1u << 1,
	DFS_IOMAP_REPORT = 1u << 2,
	DFS_IOMAP_FAULT = 1u << 3,
};
enum dfs_iomap_type {
	DFS_IOMAP_HOLE = 0,
	DFS_IOMAP_MAPPED = 2,
	DFS_IOMAP_UNWRITTEN = 3,
};
enum dfs_iomap_flags_out {
	DFS_IOMAP_F_NEW = 1u << 0,
	DFS_IOMAP_F_DIRTY = 1u << 1,
	/* a WRITE over an unwritten extent marked it written: the extent map
	 * changed, as it does for F_NEW */
	DFS_IOMAP_F_CONVERTED = 1u << 2,
};
struct dfs_iomap {
	uint64_t addr;      /* byte offset on the mapped device (HOLE: none) */
	uint64_t offset;    /* file offset of the mapping */
	uint64_t length;    /* bytes */
	uint16_t type;
	uint16_t flags;
};
/* Maps the extent that contains pos, covering at most length bytes. */
int dfs_iomap_begin(struct dfs *fs, uint64_t ino, uint64_t pos, uint64_t length,
		    unsigned flags, struct dfs_iomap *out);
int dfs_iomap_end(struct dfs *fs, uint64_t ino, uint64_t pos, uint64_t length,
		  ssize_t written, unsigned flags, struct dfs_iomap *iomap);

/* ---- leases (src/fs/lease.c) ---------------------------------------------- */

/*
 * A lease says an application maps ino's blocks itself (libdaxfs). While ino
 * has one, blocks that truncate, hole punch or deletion drop are freed on
 * media as usual but not handed to any file until the last lease is put, so
 * the mapping never shows another file's data. Leases live in memory only
 * (after a crash there is no mapping left). get: -EISDIR/-EINVAL for a
 * non-regular inode, -ENOENT if it does not exist; put: -ENOENT without one.
 */
int dfs_lease_get(struct dfs *fs, uint64_t ino);
int dfs_lease_put(struct dfs *fs, uint64_t ino);
unsigned dfs_lease_count(struct dfs *fs, uint64_t ino);
/*
 * The caller keeps every holder of ino's leases from extending the file with
 * stores of its own (daxfs-run's extend lock) from up until down. A size
 * change that opens a gap past EOF meanwhile zeroes it as without leases:
 * what the gap holds can only be stores through a mapping past EOF, which
 * never become the file's (POSIX mmap). Without a fence, a gap of a leased
 * file keeps what its blocks hold, since a holder's write past EOF may be on
 * its way there.
 */
void dfs_lease_fence(struct dfs *fs, uint64_t ino, bool up);
/* Blocks freed but held back for leases, over the whole filesystem. */
uint64_t dfs_lease_deferred(struct dfs *fs);

/* ---- live control (src/fs/control.c) ------------------------------------ */

/* Whether the table t could hold this filesystem: every member in its place
 * (its label where mkfs wrote it, the geometry it was made with; an error or
 * zero target may stand in for a target's members), the layout fingerprint,
 * the size and the superblock at block 0, the checks of dfs_mount, and a
 * member in another file than the last live table had there holding the
 * same bytes. Run before a staged table is swapped in. 0 or -EINVAL with
 * the reason. */
int dfs_check_table(struct dfs *fs, struct dm_table *t);
/* The live table is new (and at the start): it is what the members of
 * later tables are matched against, member by member. forget drops those
 * tables (before the mapped device goes). */
void dfs_note_live_table(struct dfs *fs);
void dfs_forget_live_tables(struct dfs *fs);
/*
 * The lockfs hooks (dm_md_set_lockfs), freeze_super's order: freeze first
 * closes the write gate, so that every call that would change the filesystem
 * waits before it takes a lock or copies a byte, waits for the calls already
 * past it to finish, then commits everything and holds the internal changes
 * left (transactions wait) until thaw. Reads, lookups, getattr and readdir go
 * on. A waiting call gives up with -EINTR, having changed nothing, when its
 * thread's request is interrupted (util/intr.h): dfs_interrupt_waits wakes
 * the waits so that they look, the filesystem's and its device's
 * (dm_md_interrupt_waits: bio-path reads waiting for a resume).
 */
int dfs_freeze(struct dfs *fs);
void dfs_thaw(struct dfs *fs);
/* fn(arg, true) when a freeze closes the gate, before it waits for the
 * calls past it, and fn(arg, false) once a thaw opened it: for writers the
 * gate cannot hold (stores through direct mappings). fn must not wait. */
void dfs_set_freeze_hook(struct dfs *fs, void (*fn)(void *arg, bool frozen), void *arg);
/*
 * The write gate, sb_start_write / sb_end_write. Every call of this library
 * that changes the filesystem for a caller (write, truncate, fallocate,
 * namespace and attribute changes, iomap allocation) enters it before it
 * takes a lock or copies a byte, and leaves when done. Entering refuses a
 * read-only or shut-down filesystem, and waits while a freeze holds the
 * gate; the wait gives up with -EINTR, having changed nothing, when the
 * thread's request is interrupted. A thread already inside passes again
 * without waiting, so a caller that must hold a lock of its own across such
 * a call (and must not wait for a thaw while holding it) enters first.
 */
int dfs_start_write(struct dfs *fs);
void dfs_end_write(struct dfs *fs);
bool dfs_frozen(struct dfs *fs);
void dfs_interrupt_waits(struct dfs *fs);
struct dfs_freeze_state {
	bool frozen;                /* the gate is closed (a freeze began) */
	unsigned writers;           /* calls past the gate */
	unsigned writers_waiting;   /* calls waiting at it */
};
void dfs_freeze_state(struct dfs *fs, struct dfs_freeze_state *out);
/* The filesystem's uuid (mkfs -U), 16 bytes. */
void dfs_uuid(struct dfs *fs, uint8_t out[16]);
/* The sticky error that shut the filesystem down after a failed metadata
 * write, or 0. */
int dfs_shutdown_error(struct dfs *fs);
/* The numbers of the regular files with a lookup reference (the ones the
 * kernel may cache pages of): a malloc'd array in *out. 0 or -ENOMEM. */
int dfs_cached_files(struct dfs *fs, uint64_t **out, size_t *count);

/* ---- members (src/fs/member.c) -------------------------------------------- */

/* What the start of member index of table t holds, for mkfs.daxfs, which
 * does not overwrite a daxfs without -f: a daxfs superblock (any format), a
 * daxfs member label, or neither. 0 or the read's -errno. */
enum dfs_probe_kind {
	DFS_PROBE_NONE = 0,
	DFS_PROBE_SUPER = 1,       /* member 0 of a daxfs (uuid, label, version) */
	DFS_PROBE_MEMBER = 2,      /* member `member` of `nmembers` of a daxfs */
};
struct dfs_probe {
	enum dfs_probe_kind kind;
	uint8_t uuid[16];           /* the filesystem's */
	char label[64];
	unsigned member, nmembers;
	unsigned major, minor;
};
int dfs_probe_member(struct dm_table *t, unsigned index, struct dfs_probe *out);

/* Where each member of the filesystem found on t's members is, for fsck to
 * show the order the filesystem was made in when t has them in another. */
struct dfs_member_place {
	int found;                  /* index of t's member holding it, -1: none */
	bool in_place;              /* where t puts this member */
	unsigned target, stripe;    /* where the filesystem was made with it */
	uint64_t offset;            /* sectors: its area's start on its device */
};
/* *out malloc'd with *count entries (the filesystem's members). -ENOENT when
 * no member of t holds a daxfs superblock; -EIO when its member table cannot
 * be read. */
int dfs_members_order(struct dm_table *t, struct dfs_member_place **out, unsigned *count);

/* ---- the superblock, off line (src/fs/info.c) ------------------------------ */
struct dfs_info {
	uint16_t major, minor;      /* format version */
	uint32_t block_size;
	uint8_t uuid[16];
	char label[64];             /* NUL-terminated */
	bool clean;                 /* the last mount ended in a clean unmount */
	bool from_backup;           /* the primary superblock is damaged */
	/* md's table has the layout the filesystem was made on and room for
	 * it, as mount requires (false: e.g. one member of a larger one) */
	bool layout_matches;
	uint64_t total_blocks, journal_blocks, ngroups, blocks_per_group, data_start;
	int64_t mkfs_time, mount_time, write_time;   /* seconds since the epoch; 0: never */
	uint32_t mount_count;       /* read-write mounts */
	/* counted: the filesystem was read whole; then, as statfs gives them: */
	bool counted;
	uint64_t free_blocks, inodes_used, free_inodes;
};
/*
 * Reads the superblock of the filesystem on md (the primary, or the backup
 * when the primary is damaged, as mount does); never writes. With count, also
 * reads the whole filesystem with its journal replayed in memory, for the
 * counts and the superblock a mount would see: the caller must hold the
 * devices' locks (dax_device_lock), since a mount writing meanwhile would
 * give a torn view. -EINVAL/-EIO with the reason for something that is not
 * a valid daxfs.
 */
int dfs_read_info(struct mapped_device *md, bool count, struct dfs_info *out);
/*
 * Sets the label (at most 63 bytes; "" clears it) of the unmounted filesystem
 * on md, whose devices' locks the caller holds: replays the journal, then
 * writes the superblock through it. Mount count and mount time stay.
 */
int dfs_set_label(struct mapped_device *md, const char *label);
/*
 * Sets the uuid of the unmounted filesystem on md, whose devices' locks the
 * caller holds, as tune2fs -U does: replays the journal, re-stamps every
 * member label, then commits the superblock (FORMAT.md "Changing the uuid":
 * a crash part way leaves the old uuid and labels that mount and fsck name
 * as an interrupted change). Also finishes or undoes such a change: labels
 * stamped with uuid, or half way, are put back first. Mount count and time
 * stay. -EINVAL for the nil uuid (dfs_uuid_check).
 */
int dfs_set_uuid(struct mapped_device *md, const uint8_t uuid[16]);
/* Whether uuid may name a filesystem: 0, or -EINVAL (with a message) for the
 * nil uuid, which blkid and mount take for "no uuid". Checked by dfs_mkfs
 * and dfs_set_uuid; tools call it before they touch anything. */
int dfs_uuid_check(const uint8_t uuid[16]);
/* One member of a filesystem, as its member table lists it (FORMAT.md "Members"). */
struct dfs_member_info {
	unsigned index;
	/* the file md's table maps there and its size, as dm's member ranges
	 * give them; NULL and 0 when the table has no member there */
	const char *path;
	uint64_t file_size;
	uint64_t offset, length;    /* bytes: the member's area in its file */
	uint8_t uuid[16];           /* the member uuid, random at mkfs */
};
/*
 * The members of the filesystem on md from its member table (the superblock
 * as dfs_read_info chooses it); never writes. *out (free() it) has *count
 * entries; paths live as long as md's live table. -EINVAL/-EIO with the
 * reason when there is no valid superblock or member table.
 */
int dfs_read_members(struct mapped_device *md, struct dfs_member_info **out, unsigned *count);

/* ---- mkfs and fsck --------------------------------------------------------- */
/* The layout mkfs chose (or would choose). */
struct dfs_mkfs_result {
	uint64_t total_blocks, journal_blocks, data_start;
	unsigned nmembers;
};
struct dfs_mkfs_opts {
	const char *label;          /* up to 63 bytes, or NULL */
	const uint8_t *uuid;        /* 16 bytes, or NULL for a random one */
	bool force;                 /* overwrite an existing daxfs */
	bool dry_run;               /* every check and the layout, nothing written */
	struct dfs_mkfs_result *result;    /* filled in when not NULL */
};
/* Makes an empty filesystem on md's live table: superblocks, journal, group
 * descriptors, the member table and a label in every member (a target that
 * maps no device gets none; at least one must map a device). -EEXIST for a
 * daxfs already there without force; -EINVAL for the nil uuid, a table too
 * small, or one whose members cannot all hold a label past the fixed
 * metadata. */
int dfs_mkfs(struct mapped_device *md, const struct dfs_mkfs_opts *opts);

enum dfs_fsck_mode {
	DFS_FSCK_CHECK = 0,         /* -n: never writes */
	DFS_FSCK_REPAIR = 1,        /* -y */
	/* -p: checks as DFS_FSCK_CHECK; then repairs as DFS_FSCK_REPAIR if every
	 * problem found is safe to repair without asking, else writes nothing
	 * and reports what was found, none of it repaired */
	DFS_FSCK_PREEN = 2,
};
struct dfs_fsck_problem {
	const char *text;           /* one line, without a newline */
	bool repaired;              /* its repair was made (and written, but with -n) */
	/* -p makes its repair without asking (e2fsck's PR_PREEN_OK): one that
	 * can be made and loses and guesses nothing (a count, a bitmap or a
	 * checksum recomputed, a copy rewritten from the other) */
	bool preen;
};
/* Called for each problem found. */
typedef void (*dfs_fsck_report_t)(void *ctx, const struct dfs_fsck_problem *p);
struct dfs_fsck_result {
	unsigned problems, repaired;
	unsigned unsafe;            /* problems -p leaves to a human: not preen, or not repairable */
};
/* Checks (and repairs, per mode) the filesystem on unmounted md, reporting
 * each problem through report (may be NULL). Returns 0 when the check ran,
 * whatever it found (*out says what); a negative errno when it could not
 * (the device, no superblock, members out of place, memory). */
int dfs_fsck(struct mapped_device *md, enum dfs_fsck_mode mode, dfs_fsck_report_t report,
	     void *ctx, struct dfs_fsck_result *out);

#endif
