/* fs/internal.h - the in-memory filesystem: shared structures and the module interfaces */
#ifndef DAXFS_FS_INTERNAL_H
#define DAXFS_FS_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "daxfs/fs.h"
#include "fs/format.h"

/*
 * Lock order (outer first); a thread only ever waits for a lock later in
 * this list than every lock it holds:
 *   1. dfs.rename_lock  (mutex: a rename between two directories, as the
 *                        kernel's s_vfs_rename_mutex; keeps the parent links
 *                        that the subtree check walks stable)
 *   2. dfs_inode.lock   (rwlock per inode: a file's data and attributes, a
 *                        directory's entries and index). Several are taken
 *                        only by a modifying call, all exclusively and in
 *                        ascending inode number; a call that finds an inode
 *                        by name under its directory's lock and needs a lower
 *                        number drops the lock, takes both in order and looks
 *                        the name up again. Read-only calls hold one at a time.
 *   3. dfs.meta         (mutex: journal, allocator, dirty buffer list, orphan
 *                        list, superblock). A modifying call takes it after
 *                        its inode locks, for its in-memory change; a commit
 *                        holds it only to seal and copy the transaction, and
 *                        drops it for the device writes (journal.c). Read-only
 *                        namespace calls never take it.
 *   4. dfs.dirload      (mutex: building a directory's index on first use)
 *   5. dfs.icache_lock  (mutex: inode hash, nlookup, pins, freeing, and the
 *                        inode table's geometry)
 *   6. dfs.bcache_lock  (mutex: buffer hash, nbufs; leaf)
 * Outside the order: dfs.buf_use (rwlock), held shared by a call that uses
 * cached buffers without meta. Buffers are freed only by a trim that takes
 * it exclusively with trywrlock, so nobody waits for it in exclusive mode
 * and a shared holder never waits for anything on its account.
 * ip->d is written with ip->lock (exclusive) and meta both held, so either is
 * enough to read it; the exceptions are the orphan links (orphan_next and the
 * ORPHAN flag), written under meta alone and read only under meta. A pointer
 * to an inode is kept without meta only while pinned (dfs_iget_pin,
 * dfs_inode_lock_data): trims and releases, which run under meta, skip
 * pinned inodes. The FUSE server's callbacks (readdir fills) run with one
 * directory lock held shared; the only lock held between calls is an inode
 * lock from read/write begin to end.
 */

enum dfs_buf_kind {
	DFS_BUF_PLAIN = 0,     /* inode table, GDT: per-entry checksums */
	DFS_BUF_SEALED = 1,    /* block-tail crc32c, sealed at commit */
	DFS_BUF_BITMAP = 2,    /* crc kept in the group descriptor */
	DFS_BUF_SUPER = 3,     /* superblock: sealed and copied to the backup */
};

/* A cached metadata block. hnext: bcache_lock; data of a block a modifying
 * call may change: meta (plus the owning inode's lock); dirty, dnext: meta */
struct dfs_buf {
	uint64_t blkno;
	struct dfs_buf *hnext;
	struct dfs_buf *dnext;      /* running transaction list */
	bool dirty;
	bool pinned;                /* replayed into the cache only: never trimmed */
	uint8_t kind;
	uint8_t data[DFS_BLOCK_SIZE];
};

struct dfs_dir;

#define DFS_FSCK_NOTES 2     /* journal problems a mount for fsck notes at most */
#define DFS_STREAMS 256      /* growing files with a window ahead (stream.c) */

/* Runs of a file's logical blocks. */
struct dfs_blkruns {
	struct dfs_blkrun { uint64_t lblk, len; } *r;
	size_t n, cap;
};

struct dfs_inode {
	uint64_t ino;
	struct dfs_inode *hnext;    /* protected by fs->icache_lock */
	/* protected by fs->icache_lock */
	uint64_t nlookup;
	unsigned pins;              /* users holding a pointer without meta */
	bool freeing;
	struct dfs_dinode d;        /* written with lock and meta held (see above) */
	/* directory index, built on first use (dirload, published atomically);
	 * its contents are protected by lock */
	struct dfs_dir *dir;
	/* protected by fs->meta */
	uint64_t *chain;            /* extent chain block numbers */
	size_t nchain;
	uint64_t spare;             /* a chain block dfs_extent_prepare allocated, 0: none */
	uint64_t dirty_tid;         /* transaction that last changed it */
	uint64_t orphan_prev;       /* previous inode on the orphan list, 0: head or unknown */
	/* protected by lock + meta for writes, either for reads */
	struct dfs_extent *ext;     /* sorted by lblk, non-overlapping */
	size_t next, ext_cap;
	size_t ext_dirty_from;      /* first extent changed since the last store */
	/* Blocks a speculative allocation (dfs_alloc_written for daxfs-run's
	 * writes past EOF) took from holes: the only ones dfs_trim_unshared
	 * gives back, so that a reservation of the user's (fallocate) is kept.
	 * In memory only; lock + meta. */
	struct dfs_blkruns spec;
	pthread_rwlock_t lock;
};

struct dfs {
	struct mapped_device *md;
	struct dfs_mount_opts opts;
	bool dax;
	bool rdonly;
	bool check_only;            /* fsck -n: replay and repair in the cache, never write */
	/* fsck's mount: damage a mount refuses is worked around instead (the
	 * journal's noted here for fsck to report; the rest fsck finds itself) */
	bool fsck_mount;
	char fsck_notes[DFS_FSCK_NOTES][384];
	bool fsck_notes_preen[DFS_FSCK_NOTES];   /* a repair fsck -p may make */
	unsigned nfsck_notes;
	int shutdown;               /* sticky error after a failed commit */
	/* lockfs suspend (control.c), in the two steps of freeze_super. First
	 * the write gate closes (freezing): calls that change the filesystem
	 * for a caller wait in dfs_start_write, before any lock or copy, and
	 * the freeze waits until the writers already past the gate are done.
	 * Then the fs is synced and frozen: the internal changes that remain
	 * (the release of an unlinked inode at its last close, orphans) wait
	 * in dfs_txn_reserve until thaw. freezing, writers and writers_waiting
	 * are protected by freeze_lock, which is never held while waiting for
	 * anything else (freeze_cond: the gate opened, or writers reached 0);
	 * frozen by meta (thaw_cond: the thaw). */
	pthread_mutex_t freeze_lock;
	pthread_cond_t freeze_cond;
	bool freezing;
	unsigned writers, writers_waiting;
	bool frozen;
	pthread_cond_t thaw_cond;
	void (*freeze_hook)(void *arg, bool frozen);
	void *freeze_arg;

	pthread_mutex_t rename_lock;
	pthread_mutex_t meta;
	pthread_mutex_t dirload;
	pthread_mutex_t icache_lock;
	pthread_rwlock_t buf_use;
	pthread_mutex_t bcache_lock;
	struct dfs_super sb;
	/* the members the filesystem was made on (member.c): read at mount,
	 * never changed; label_blks are the blocks of their labels, sorted */
	struct dfs_member *members;
	/* control.c: for each member, the last live table that had one in its
	 * place (an error target may stand there now); under dm's control */
	struct dm_table **member_tables;
	uint64_t *label_blks;
	size_t nlabel_blks;

	/* buffer cache: the hash under bcache_lock, the dirty list under meta */
	struct dfs_buf **bhash;
	size_t bhash_size, nbufs;
	uint64_t bevictions;        /* buffers dropped, so a racing miss can tell */
	struct dfs_buf *dirty;
	size_t ndirty;

	/* journal */
	uint64_t jseq;              /* sequence of the next transaction */
	uint64_t jcap;              /* most metadata blocks one transaction holds */
	uint64_t running_tid;       /* == jseq while the transaction runs */
	uint64_t committed_tid;     /* last transaction that is durable */
	bool committing;            /* a commit's device writes run, meta dropped */
	pthread_cond_t commit_done; /* with meta: a commit ended */
	uint64_t commits;           /* commits done (tests) */
	unsigned commit_waiters;    /* calls waiting for a commit in flight (tests) */
	int fail_point;             /* tests: see DFS_FAIL_* */
	/* tests: called without meta as a commit starts writing transaction tid */
	void (*commit_hook)(struct dfs *fs, uint64_t tid);

	/* allocator; free_blocks, used_inodes and nfree_inos are also read
	 * atomically without meta (statfs), so they are stored atomically */
	struct dfs_gd *gds;
	uint64_t free_blocks;
	uint64_t resv_blocks;       /* the floor growth may not go below (alloc.c) */
	uint64_t *pending;          /* (pblk, len) pairs freed by the running transaction */
	size_t npending, pending_cap;
	uint64_t pending_blocks;
	uint64_t goal_group;
	struct dfs_leases *leases;   /* lease.c: deferred frees; protected by meta */
	struct dfs_stream {          /* stream.c: room ahead of a growing file; meta */
		uint64_t ino, start, end, used;
	} streams[DFS_STREAMS];
	uint64_t stream_clock;

	/* inodes: the cache under icache_lock; itable_slots is also read
	 * atomically without it (dirent checks) */
	struct dfs_inode **ihash;
	size_t ihash_size, ninodes;
	size_t icache_next_trim;
	/* generations handed out from [gen_next, gen_limit), a batch the
	 * superblock reserves (dfs_inode_alloc); protected by meta */
	uint64_t gen_next, gen_limit;
	uint64_t itable_slots;      /* slots including the unused slot 0 */
	/* protected by meta */
	uint64_t *free_inos;        /* stack of free slots, lowest on top */
	size_t nfree_inos, free_inos_cap;
	uint64_t used_inodes;

	/* tests: work done by directory lookups and listings (relaxed atomics) */
	uint64_t count_dir_blocks;  /* directory blocks read and checked */
	uint64_t count_dir_probes;  /* index slots compared */

	/* periodic commit */
	pthread_t committer;
	pthread_cond_t commit_cond;
	bool committer_running, stopping;
};

/* Test hooks: stop a commit at a point, as a crash would. */
enum {
	DFS_FAIL_NONE = 0,
	DFS_FAIL_BEFORE_COMMIT_RECORD = 1,   /* log written, no commit record */
	DFS_FAIL_BEFORE_CHECKPOINT = 2,      /* committed, home blocks not written */
};

#define DFS_GENERATION_BATCH 65536   /* inode generations per superblock update */
#define DFS_COMMIT_INTERVAL_MS 5000     /* fsck's batching; a synchronous mount's fallback */

/* ---- device I/O (super.c) ---- */
int dfs_dev_read(struct dfs *fs, uint64_t blk, void *buf, size_t nblocks);
int dfs_dev_write(struct dfs *fs, uint64_t blk, const void *buf, size_t nblocks, bool fua);
int dfs_dev_zero(struct dfs *fs, uint64_t blk, uint64_t nblocks);   /* durable by the next commit */
int dfs_dev_flush(struct dfs *fs);
void dfs_now(struct dfs_timespec *ts);
/* Puts the primary superblock (made from fs->sb at commit) into the running
 * transaction, also when its copy on media is damaged. */
int dfs_super_dirty(struct dfs *fs);
/* Refuses modification on a read-only or shut-down filesystem. */
int dfs_check_writable(struct dfs *fs);
/* control.c: waits, meta held, until a lockfs freeze ends or unmount starts. */
void dfs_wait_thawed(struct dfs *fs);
/* Mounts for fsck, from superblock sb (fsck chooses the copy) and the member
 * table members (sb->nmembers entries, checked by fsck against the table;
 * NULL: read from the device): check_only never writes (the journal is
 * replayed and repairs are made in the cache); otherwise read-write without
 * the periodic committer. Damage a mount would refuse (journal, group
 * descriptors, the root) is left for fsck to repair; the journal's is noted
 * in fs->fsck_notes. */
int dfs_mount_fsck(struct mapped_device *md, bool check_only, const struct dfs_super *sb,
		   const struct dfs_member *members, struct dfs **out);
/* Mounts for a tool that is not fsck (daxfs-ctl super's counts, label), from
 * the device's own superblock and members, refusing what a mount refuses:
 * check_only never writes; otherwise read-write, without the periodic
 * committer (the tool commits) and without processing orphans (not a mount
 * of the filesystem's own). */
int dfs_mount_offline(struct mapped_device *md, bool check_only, struct dfs **out);
/* Commits fs->sb, changed by a tool on an offline mount, leaving the mount
 * count and time of before as they were (e2label and tune2fs do not count
 * as mounts); a damaged primary copy is rebuilt from memory. fs->meta held. */
int dfs_super_commit_offline(struct dfs *fs, const struct dfs_super *before);
/* Test hook: frees fs without writing anything, as if the process died. */
void dfs_abandon(struct dfs **fs);
/* An empty struct dfs on md (locks set up), and its release. */
struct dfs *dfs_fs_alloc(struct mapped_device *md);
void dfs_fs_free(struct dfs *fs);
/* Size, layout fingerprint and DAX capability of md's live table. */
struct dfs_table_facts {
	uint64_t bytes, fingerprint;
	bool dax;
	char why_not[512];
};
int dfs_table_facts(struct mapped_device *md, struct dfs_table_facts *f);

/* ---- members (member.c) ---- */
/* The member table of sb, read through t. *out malloc'd (sb->nmembers). */
int dfs_members_read(struct dm_table *t, const struct dfs_super *sb, struct dfs_member **out);
/* Reads fs's member table through the live table and lists its label blocks. */
int dfs_members_load(struct dfs *fs);
/* Lists the label blocks of fs->members (mkfs, after dfs_members_plan). */
int dfs_members_index(struct dfs *fs);
void dfs_members_unload(struct dfs *fs);
/* Entries in (target, stripe) order, each target's stripes complete, every
 * label in the data area: what mkfs writes, and what the checks rely on. */
int dfs_members_check_order(const struct dfs_super *sb, const struct dfs_member *m);
/* mkfs's plan of the members of t (one per dm member) for sb's data_start and
 * total_blocks: their geometry and where each label goes, the member's first
 * sector past the fixed metadata. m has dm_table_num_members(t) entries; the
 * uuids are left zero. */
int dfs_members_plan(struct dm_table *t, const struct dfs_super *sb, struct dfs_member *m);
/* Label k of the filesystem sb whose member table is m, as mkfs writes it. */
void dfs_label_make(const struct dfs_super *sb, const struct dfs_member *m, uint32_t k, uint8_t *sector);
/* Whether sector, which does not decode as a label, still shows it was label k
 * (its member uuid, or the label magic with k and the filesystem's uuid):
 * damage to that label, not another file's bytes. */
bool dfs_label_remains(const uint8_t *sector, const struct dfs_super *sb, const struct dfs_member *m,
		       uint32_t k);
/*
 * Whether table t holds, target by target and stripe by stripe, the members
 * a filesystem (superblock sb, member table m) was made on: each member's
 * label where it belongs, and the geometry it was made with. A target that
 * maps no data (error, zero) stands in for its members. 0, or -EINVAL with
 * a message naming the file, what was expected and what was found. A label
 * that is damaged but still shows whose it was (dfs_label_remains; member 0:
 * or the superblock next to it) is -EIO "run fsck.daxfs -y", and so is a
 * label in its place whose version or entry differs from the member table;
 * with relabel (fsck, nmembers entries) it is marked there instead (why,
 * enum dfs_relabel) and only the geometry is checked.
 */
enum dfs_relabel {
	DFS_RELABEL_NONE = 0,
	DFS_RELABEL_DAMAGED,
	DFS_RELABEL_VERSION,     /* a sound label of another format version */
	DFS_RELABEL_ENTRY,       /* a sound label whose entry is not the table's */
};
int dfs_members_verify(struct dm_table *t, const struct dfs_super *sb, const struct dfs_member *m,
		       uint8_t *relabel);
/* When t shows no superblock or member table: err, or -EINVAL saying which
 * member a file of t holds if one holds a label or a superblock where it
 * should not. */
int dfs_members_diagnose(struct dm_table *t, int err);
/* The label blocks in [start, start+len): how many, each marked in map (bit
 * i = block start+i) when map is not NULL. */
uint64_t dfs_label_blocks_in(const struct dfs *fs, uint64_t start, uint64_t len, uint8_t *map);
/* Whether blk is a member table block or holds a label (never metadata the
 * journal may write, never data). */
bool dfs_is_member_block(const struct dfs *fs, uint64_t blk);
void dfs_uuid_text(const uint8_t uuid[16], char out[37]);
/*
 * What the label sector read at member k's place says (uuid.c, FORMAT.md
 * "Changing the uuid"): member k of sb's filesystem (OWN), member k stamped
 * with another fs uuid (RESTAMPED: l->fs_uuid), member k half way between
 * (TORN: it decodes only with sb's uuid put back), or anything else. *l is
 * the label as decoded (TORN: with sb's uuid).
 */
enum dfs_label_state { DFS_LABEL_OWN, DFS_LABEL_RESTAMPED, DFS_LABEL_TORN, DFS_LABEL_OTHER };
enum dfs_label_state dfs_label_classify(const uint8_t *sector, const struct dfs_super *sb,
					const struct dfs_member *m, uint32_t k, struct dfs_label *l);

/* ---- off line (info.c) ---- */
/* The primary superblock, or the backup when the primary fails its checks,
 * as mount chooses; *backup says which. */
int dfs_read_super_raw(struct mapped_device *md, struct dfs_super *sb, bool *backup);

/* ---- buffer cache (buf.c) ---- */
int dfs_buf_read(struct dfs *fs, uint64_t blk, enum dfs_buf_kind kind, struct dfs_buf **out);
/* fsck: as dfs_buf_read, without checking the block's crc (fsck does). */
int dfs_buf_read_unchecked(struct dfs *fs, uint64_t blk, enum dfs_buf_kind kind,
			   struct dfs_buf **out);
int dfs_buf_new(struct dfs *fs, uint64_t blk, enum dfs_buf_kind kind, struct dfs_buf **out);
void dfs_buf_dirty(struct dfs *fs, struct dfs_buf *b);
/* Copies the cached block blk into out, if it is cached; whether it was. */
bool dfs_buf_peek(struct dfs *fs, uint64_t blk, void *out);
/* Drops a clean cached copy of a block that stopped being metadata. */
void dfs_buf_forget(struct dfs *fs, uint64_t blk);
/* For fsck: a block two structures claimed is now the winner's alone, and a
 * cached copy must be written home as the winner's kind (an inode table block
 * read first as a symlink's would get a tail crc written into its last slot). */
void dfs_buf_retype(struct dfs *fs, uint64_t blk, enum dfs_buf_kind kind);
/* Whether the running transaction holds a dirty copy of blk. meta held. */
bool dfs_buf_dirty_cached(struct dfs *fs, uint64_t blk);
/* Evicts clean buffers when the cache is over its limit (op boundaries only;
 * skipped while a call without meta uses buffers, see buf_use). */
void dfs_buf_trim(struct dfs *fs);
void dfs_buf_destroy_all(struct dfs *fs);
/* Bracket a use of cached buffers by a call that does not hold meta. */
void dfs_buf_use_begin(struct dfs *fs);
void dfs_buf_use_end(struct dfs *fs);

/* ---- journal (journal.c: commit; replay.c: recovery) ---- */
int dfs_journal_format(struct mapped_device *md, const struct dfs_super *sb, uint64_t seq);
/* Redoes the committed transaction in the log, after checking its commit
 * record and every logged block (a read-only mount: into the cache only).
 * -EIO if the journal is damaged (fsck's mount: dropped and noted). */
int dfs_journal_recover(struct dfs *fs);
/* A change failed half-way (its in-memory state and the running transaction
 * no longer agree): shuts the filesystem down, as jbd2_journal_abort, so that
 * the transaction never commits. Returns err. meta held. */
int dfs_journal_abort(struct dfs *fs, int err);
/* Makes room for an operation dirtying at most nblocks (commits if needed). */
int dfs_txn_reserve(struct dfs *fs, uint64_t nblocks);
/* Commits the running transaction and checkpoints it; first waits for a
 * commit in flight. meta held; dropped and retaken during the writes. */
int dfs_commit(struct dfs *fs);
/* Returns when transaction tid is durable, committing it (with whatever else
 * joined it) unless a commit in flight does. meta held, dropped meanwhile. */
int dfs_commit_tid(struct dfs *fs, uint64_t tid);
/* Commits if inode's changes are not durable yet. */
int dfs_commit_inode(struct dfs *fs, struct dfs_inode *ip);
/* Whether every call is durable at return (commit_interval_ms == 0). */
bool dfs_sync_mode(const struct dfs *fs);
/* Whether the mapped device is suspended (its bios wait for resume). */
bool dfs_dev_suspended(struct dfs *fs);
/* Ends a modifying call, meta held: on a synchronous mount returns once what
 * the call dirtied is committed (also after a failure: its partial changes
 * are consistent, as with a batched commit); meta is dropped while waiting.
 * Returns err if set, else the commit's result. */
int dfs_txn_end(struct dfs *fs, int err);
/* dfs_txn_end in two halves, for a call that holds inode locks: stop (meta
 * held) gives the transaction to wait for (0: none), wait (meta and inode
 * locks dropped) returns err if set, else the commit's result. */
uint64_t dfs_txn_stop(struct dfs *fs);
/* dfs_txn_end for a change nobody waits for and a crash cannot lose (the
 * release of an orphan, which the next mount releases anyway): on a
 * synchronous mount it joins the next commit, the next call's or the
 * committer's within DFS_COMMIT_INTERVAL_MS, instead of making one of its
 * own. Without a committer (a tool's mount) it commits. Meta held. */
void dfs_txn_end_deferred(struct dfs *fs);
int dfs_txn_wait(struct dfs *fs, uint64_t tid, int err);

/* ---- allocator (alloc.c) ---- */
int dfs_alloc_load(struct dfs *fs);
void dfs_alloc_unload(struct dfs *fs);
#define DFS_ALLOC_ALIGN   1u    /* start 2 MiB-aligned when a run allows */
#define DFS_ALLOC_RESERVE 2u    /* a change that must not fail: may use the reserve */
#define DFS_RESV_MAX      4096u /* reserved blocks: 2% of the filesystem, at most this */
/* Allocates one run of [min, want] blocks, near goal (a block number, or 0).
 * Without DFS_ALLOC_RESERVE it leaves resv_blocks free. All or nothing: on
 * failure no count or bitmap changed. The caller zeroes data blocks. */
int dfs_alloc(struct dfs *fs, uint64_t goal, uint64_t want, uint64_t min, unsigned flags,
	      uint64_t *pblk, uint64_t *len);
/* The same for a file's data: other files' stream windows are its last
 * choice, its own is not (owner 0: every window is) */
int dfs_alloc_for(struct dfs *fs, uint64_t owner, uint64_t goal, uint64_t want, uint64_t min,
		  unsigned flags, uint64_t *pblk, uint64_t *len);
/* stream.c, meta held: file ino, of file_blocks blocks, grew at its end up
 * to block next - 1; its window starts at next */
void dfs_stream_note(struct dfs *fs, uint64_t ino, uint64_t next, uint64_t file_blocks);
/* stream.c, meta held: file ino gave blocks back, and keeps no window */
void dfs_stream_forget(struct dfs *fs, uint64_t ino);
/* whether some file but owner has a window */
bool dfs_stream_others(const struct dfs *fs, uint64_t owner);
/* marks in map (the blocks [gstart, gstart + glen)) the windows of files but owner */
void dfs_stream_overlay(const struct dfs *fs, uint64_t owner, uint64_t gstart, uint64_t glen,
			uint8_t *map);
/* Blocks dfs_alloc could hand out now with these flags (a moment's view). */
uint64_t dfs_alloc_avail(const struct dfs *fs, unsigned flags);
/* Frees a run in the running transaction; reusable after it commits. */
int dfs_free(struct dfs *fs, uint64_t pblk, uint64_t len);
/* Room for n more dfs_free calls that then cannot fail for memory. */
int dfs_free_prepare(struct dfs *fs, size_t n);
/* Undoes a dfs_alloc of the running call whose blocks nothing committed
 * names: reusable at once (after the commit if a buffer of them is dirty).
 * A failure (a damaged bitmap) aborts the journal. */
int dfs_unalloc(struct dfs *fs, uint64_t pblk, uint64_t len);
/* The transaction whose first npending frees (blocks in all) are home. */
void dfs_alloc_commit_done(struct dfs *fs, size_t npending, uint64_t blocks);
/* fsck repair: group g gets a bitmap equal to map (in its first free block,
 * which map marks in use) and the matching free count, or, if !init, becomes
 * an uninitialised group. */
int dfs_alloc_repair_group(struct dfs *fs, uint64_t g, const uint8_t *map, bool init);
/* fsck: group g's descriptor as the descriptor table holds it, with every
 * check a mount makes (-EIO and why, if one fails). */
int dfs_alloc_gd_check(struct dfs *fs, uint64_t g, struct dfs_gd *gd);
/* Where group g's bitmap is when it has one: its first block that is neither
 * fixed metadata nor a label. */
uint64_t dfs_group_bitmap_blk(const struct dfs *fs, uint64_t g);
/* Whether [pblk, pblk+len) overlaps a block whose place the geometry fixes
 * in the data area: a member's label, a group's bitmap block, or one of the
 * first itable_upto inode table extents (every one: UINT_MAX); what names
 * the first it found. On-media pointers are checked against it. */
/* Refuses (-EIO, "inode table extent 1 (blocks ...) overlaps ...") inode
 * table extents of sb (with fs's geometry) that overlap each other or fixed
 * metadata. */
int dfs_itable_check_layout(const struct dfs *fs, const struct dfs_super *sb);
bool dfs_fixed_overlap(const struct dfs *fs, uint64_t pblk, uint64_t len, unsigned itable_upto,
		       char *what, size_t size);
/* Blocks of group g (the last may be short) and those before data_start. */
uint64_t dfs_group_len(const struct dfs *fs, uint64_t g);

/* ---- leases (lease.c), meta held ---- */
/* Whether a holder of ino's leases may be storing past EOF before it tells
 * the size: it has leases and no fence (dfs_lease_fence). */
bool dfs_lease_stores_past_eof(const struct dfs *fs, uint64_t ino);
/* How many leases the inode has; under meta. */
unsigned dfs_lease_count_locked(const struct dfs *fs, uint64_t ino);
/* After dfs_free of a leased inode's blocks: holds them back until its last
 * lease is put (no-op for an inode without a lease). */
int dfs_lease_defer(struct dfs *fs, uint64_t ino, uint64_t pblk, uint64_t len);
uint64_t dfs_lease_deferred_blocks(const struct dfs *fs);
/* Marks the deferred blocks of group [gstart, gstart+glen) in use in map. */
void dfs_lease_overlay(const struct dfs *fs, uint64_t gstart, uint64_t glen, uint8_t *map);
void dfs_lease_unload(struct dfs *fs);

/* ---- inodes (inode.c) ---- */
int dfs_icache_init(struct dfs *fs);
void dfs_icache_destroy(struct dfs *fs);
int dfs_itable_scan(struct dfs *fs);
/* The cached inode (read in on a miss). The pointer is valid while meta is
 * held (or in a single-threaded fsck/mount); without meta use dfs_iget_pin. */
int dfs_iget(struct dfs *fs, uint64_t ino, struct dfs_inode **out);
/* As dfs_iget, and pins the inode: it stays cached until dfs_iput. Takes no
 * lock but the inode cache's, so it may be called with inode locks held. */
int dfs_iget_pin(struct dfs *fs, uint64_t ino, struct dfs_inode **out);
/* Drops a pin; the last user of an unlinked inode frees it (takes ip->lock
 * shared, then meta): call with no inode lock and no meta held. */
void dfs_iput(struct dfs *fs, struct dfs_inode *ip);
/* Drops a pin with meta held, keeping ip valid until meta is dropped; the
 * caller then decides with dfs_inode_maybe_release. */
void dfs_iunpin_locked(struct dfs *fs, struct dfs_inode *ip);
/* nlookup += n (a reply that hands the kernel a reference). */
void dfs_inode_ref(struct dfs *fs, struct dfs_inode *ip, uint64_t n);
int dfs_inode_write(struct dfs *fs, struct dfs_inode *ip);
/* At a read-write mount, before anything changes: the size records that
 * still hold are applied (runrec.c); *applied counts them. */
int dfs_runrec_replay(struct dfs *fs, unsigned *applied);
int dfs_inode_alloc(struct dfs *fs, uint32_t mode, const struct dfs_cred *cred,
		    struct dfs_inode **out);
/* As dfs_inode_alloc, returning the inode with its lock held exclusively
 * (taken without waiting, before anyone can find it): the caller finishes
 * setting it up, then unlocks. */
int dfs_inode_alloc_locked(struct dfs *fs, uint32_t mode, const struct dfs_cred *cred,
			   struct dfs_inode **out);
/* Frees an inode without links once nobody uses it; else puts it on the
 * orphan list. meta held, ip's lock not held by the caller. */
int dfs_inode_maybe_release(struct dfs *fs, struct dfs_inode *ip);
/* Only a regular file with links (a truncate to finish) or an inode without
 * links other than the root is ever on the orphan list: NULL, or what ip is. */
const char *dfs_orphan_misfit(const struct dfs_inode *ip);
int dfs_orphans_process(struct dfs *fs);
/* Gives the inode table's trailing extents whose slots are all free back to
 * the allocator (a read-write mount, after the orphans; meta held): a table
 * grown by many files would otherwise keep their space after they are gone. */
int dfs_itable_shrink(struct dfs *fs);
/* The on-media orphan list: unlinked-but-open inodes, and inodes whose
 * shrinking truncate is in progress (nlink > 0). */
int dfs_orphan_add(struct dfs *fs, struct dfs_inode *ip);
int dfs_orphan_del(struct dfs *fs, struct dfs_inode *ip);
void dfs_inode_stat(struct dfs *fs, const struct dfs_inode *ip, struct stat *st);
void dfs_icache_trim(struct dfs *fs);
/* The slot of inode ino in its (cached) inode table block. */
int dfs_inode_slot(struct dfs *fs, uint64_t ino, struct dfs_buf **b, uint8_t **slot);
/* fsck: forgets the cached copy of inode ino (the slot is read again). */
void dfs_icache_drop(struct dfs *fs, uint64_t ino);
/* fsck: writes slot ino outright from di (mode 0: frees it), keeping the
 * free slots and counts right; nothing else about the inode is touched. */
int dfs_inode_set_slot(struct dfs *fs, uint64_t ino, const struct dfs_dinode *di);
/* Pins ip and takes its data lock (meta must NOT be held); unlock reverses. */
int dfs_inode_lock_data(struct dfs *fs, uint64_t ino, bool write, struct dfs_inode **out);
void dfs_inode_unlock_data(struct dfs *fs, struct dfs_inode *ip, bool write);
/* A change of ino for a caller: the write gate (dfs_start_write), then the
 * inode's data lock exclusively. 0 with *ip locked, or the error with
 * nothing held; end releases both. */
int dfs_inode_change_begin(struct dfs *fs, uint64_t ino, struct dfs_inode **ip);
void dfs_inode_change_end(struct dfs *fs, struct dfs_inode *ip);

/* ---- extents (extent.c) ---- */
int dfs_extents_load(struct dfs *fs, struct dfs_inode *ip);
void dfs_extents_free_mem(struct dfs_inode *ip);
/* Index of the extent containing lblk, or of the first one after it (next if none). */
size_t dfs_extent_search(const struct dfs_inode *ip, uint64_t lblk);
/*
 * Changes to the map are all or nothing (meta and ip's lock held): a failure
 * before the map changed (-ENOSPC, -ENOMEM) leaves everything as it was; a
 * failure after it (an I/O error, a damaged bitmap) aborts the journal.
 */
/* Before a caller allocates a block it will map: takes the chain block and
 * memory a map of extra more extents needs, so that the dfs_extent_insert
 * that follows cannot fail for space. Undone by dfs_extent_unprepare if the
 * caller gives up; the insert uses it. */
int dfs_extent_prepare(struct dfs *fs, struct dfs_inode *ip, size_t extra, unsigned alloc_flags);
void dfs_extent_unprepare(struct dfs *fs, struct dfs_inode *ip);
/* Maps a new run (merging with neighbours); must not overlap. */
int dfs_extent_insert(struct dfs *fs, struct dfs_inode *ip, const struct dfs_extent *e);
/* Unmaps [lblk, lblk+count), freeing the blocks, at most max_extents pieces
 * per call; *done tells whether the whole range is unmapped. Only a range
 * strictly inside one extent adds an extent: its chain block comes from the
 * reserve, and -ENOSPC (nothing changed) when even that is gone. */
int dfs_extent_remove(struct dfs *fs, struct dfs_inode *ip, uint64_t lblk, uint64_t count,
		      size_t max_extents, bool *done);
/* Clears UNWRITTEN on [lblk, lblk+count); never fails for space (it
 * converts whole extents rather than split them without a block). */
int dfs_extent_mark_written(struct dfs *fs, struct dfs_inode *ip, uint64_t lblk, uint64_t count);
/* Writes the in-memory extent list back (inline or chain). */
int dfs_extents_store(struct dfs *fs, struct dfs_inode *ip);
/* fsck: the extents of block b of ino's chain (not its checksum), sorted,
 * inside [data_start, total); *count of them, *next the following block. */
int dfs_extent_block_parse(const uint8_t *b, uint64_t ino, uint64_t data_start, uint64_t total_blocks,
			   struct dfs_extent *out, uint32_t *count, uint64_t *next);
/* fsck: lays the map ext[0..next) out in d (inline) or over the first *used
 * of the chain blocks chain[0..nchain) of inode ino, without allocating. */
int dfs_extents_layout(struct dfs *fs, uint64_t ino, struct dfs_dinode *d,
		       const struct dfs_extent *ext, size_t next, const uint64_t *chain, size_t nchain,
		       size_t *used);
/* fsck: maps [lblk, lblk+count) to pblk.. instead; the old blocks are not freed. */
int dfs_extent_remap(struct dfs *fs, struct dfs_inode *ip, uint64_t lblk, uint64_t count,
		     uint64_t pblk);
/* fsck: unmaps [lblk, lblk+count) without freeing the blocks (another owner keeps them). */
int dfs_extent_detach(struct dfs *fs, struct dfs_inode *ip, uint64_t lblk, uint64_t count);
/* Allocates zeroed blocks for [lblk, lblk+count) holes, up to one run
 * (which the extent block it may need comes before); *out is the new run. */
int dfs_extent_alloc(struct dfs *fs, struct dfs_inode *ip, uint64_t lblk, uint64_t count,
		     uint32_t flags, struct dfs_extent *out);

/* ---- directories (dir.c) ---- */
int dfs_dir_lookup(struct dfs *fs, struct dfs_inode *dip, const char *name, uint64_t *ino);
int dfs_dir_add(struct dfs *fs, struct dfs_inode *dip, const char *name, uint64_t ino,
		uint32_t mode);
int dfs_dir_remove(struct dfs *fs, struct dfs_inode *dip, const char *name);
/* Points an existing entry at another inode. */
int dfs_dir_replace(struct dfs *fs, struct dfs_inode *dip, const char *name, uint64_t ino,
		    uint32_t mode);
/* The entries of directory dip (not . or ..); an error if it cannot be read. */
int dfs_dir_entries(struct dfs *fs, struct dfs_inode *dip, uint64_t *n);
bool dfs_dir_is_empty(struct dfs *fs, struct dfs_inode *dip);
/* type is the DT_* value of the entry; return non-zero to stop (negative: error). */
typedef int (*dfs_dir_actor_t)(void *ctx, const char *name, uint64_t ino, unsigned type, off_t next);
/* Calls actor for each entry at or after pos (positions >= DFS_DIR_HDR),
 * starting at pos's block: no rescan from the start. */
int dfs_dir_iterate(struct dfs *fs, struct dfs_inode *dip, off_t pos, dfs_dir_actor_t actor,
		    void *ctx);
void dfs_dir_free_index(struct dfs_inode *ip);
/* An empty directory block of directory owner (all but its crc). */
void dfs_dir_block_init(uint8_t *b, uint64_t owner);
/* fsck: whether a salvaged entry stays (false: it is dropped). */
typedef bool (*dfs_dir_keep_t)(void *ctx, const char *name, uint64_t ino, unsigned type);
struct dfs_dir_salvage {
	unsigned kept, dropped;    /* entries kept; entries and damaged spans dropped */
	bool reinit;               /* the block named another owner: started afresh */
};
/* fsck: makes block b of directory owner well formed (all but its crc):
 * records that check out and that keep accepts stay where they are, the
 * rest is absorbed by the record before it; a block of another owner (or of
 * none) becomes an empty block. */
void dfs_dir_block_salvage(uint8_t *b, uint64_t owner, uint64_t slots, dfs_dir_keep_t keep,
			   void *ctx, struct dfs_dir_salvage *out);
uint64_t dfs_dir_count(struct dfs *fs, struct dfs_inode *dip);

/* ---- files (file.c) ---- */
int dfs_truncate_locked(struct dfs *fs, struct dfs_inode *ip, uint64_t size);
/* Whether ip maps blocks past the one that holds EOF (space.c). */
bool dfs_blocks_past_eof(const struct dfs_inode *ip);
/* Frees the blocks past EOF and zeroes the tail of the last block, in
 * transaction-sized steps (the inode is on the orphan list meanwhile). */
int dfs_truncate_finish(struct dfs *fs, struct dfs_inode *ip);
/* Frees every data block of an inode, in transaction-sized steps. */
int dfs_free_all_data(struct dfs *fs, struct dfs_inode *ip);

/* ---- iomap (iomap.c) ---- */
int dfs_iomap_begin_locked(struct dfs *fs, struct dfs_inode *ip, uint64_t pos, uint64_t length,
			   unsigned flags, struct dfs_iomap *out);

/* ---- xattrs (xattr.c) ---- */
int dfs_xattr_free(struct dfs *fs, struct dfs_inode *ip);
/* fsck: whether b is a well-formed attribute block of owner (not its crc). */
int dfs_xattr_block_check(const uint8_t *b, uint64_t owner);

static inline bool dfs_is_dir(const struct dfs_inode *ip)
{
	return (ip->d.mode & 0170000) == 0040000;
}
static inline bool dfs_is_reg(const struct dfs_inode *ip)
{
	return (ip->d.mode & 0170000) == 0100000;
}
/* file_remove_privs for a caller without CAP_FSETID: set-user-ID always,
 * set-group-ID only with group execute (without it, the bit means
 * mandatory locking). */
static inline uint32_t dfs_mode_kill_suidgid(uint32_t mode)
{
	mode &= ~(uint32_t)04000;
	if ((mode & 02010) == 02010)
		mode &= ~(uint32_t)02000;
	return mode;
}

#endif
