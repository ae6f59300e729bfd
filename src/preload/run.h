/* preload/run.h - libdaxfs-run: the state the interposed calls share */
#ifndef DAXFS_PRELOAD_RUN_H
#define DAXFS_PRELOAD_RUN_H

#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "daxfs/ioctl.h"

/*
 * libdaxfs-run serves read(), write() and mmap(MAP_SHARED) of files on
 * daxfs-fuse mounts with loads and stores through mappings of their blocks
 * (the member files, as libdaxfs maps them), and leaves everything else to
 * the kernel. Per open file description it keeps a struct rfile (shared by
 * dup'd descriptors), per inode a struct rino with the inode's mappings, in
 * chunks of RUN_CHUNK bytes mapped on first use.
 *
 * The file offset stays the kernel's (lseek SEEK_CUR/SET on a FUSE file
 * never reaches the daemon), so dup, fork and exec share it as they would.
 */

#define RUN_PAGE 4096ull
#define RUN_CHUNK_SHIFT 21
#define RUN_CHUNK (1ull << RUN_CHUNK_SHIFT)
#define RUN_CHUNK_PAGES (RUN_CHUNK / RUN_PAGE)

/* What a call returns when the ordinary path must serve it instead. */
#define RUN_FALLBACK (-1000000)

enum rkind { K_UNMAPPED = 0, K_DATA, K_HOLE, K_UNWRITTEN, K_BAD };

/* A piece of written blocks a chunk maps: file offset, length, where on
 * which backing device. */
struct rpiece {
	uint64_t foff, len, devoff;
	uint32_t dev;
};

/* Whether a chunk being mapped has its page tables filled at once. */
enum run_map_fill {
	RUN_MAP_FILLED = 0,     /* yes: copies go through the mapping */
	RUN_MAP_LAZY,           /* no: a large read copies with pread of the members */
	/* no on members in memory, where a large write copies with pwrite;
	 * members that need msync or are pmem are stored to, so filled */
	RUN_MAP_LAZY_MEM,
};

struct rchunk {
	char *base;                     /* RUN_CHUNK bytes of address space */
	/* Its DATA pieces, so that a program's mapping of the same pages can
	 * be made without asking the daemon again (run_map_at). */
	struct rpiece *pieces;
	uint32_t npieces, cap;
	uint64_t gen, alloc_gen;        /* the slot's, when mapped */
	/* pmem: stores need no msync (pmem, or members in memory); mem: all
	 * of it is in members in memory, where plain stores suit better
	 * than non-temporal ones */
	bool mapped, writable, pmem, mem, dirty;
	/* mapped for a large read, its page tables not filled: large reads
	 * copy from the members with pread (run_read_member) */
	bool lazy;
	uint8_t kind[RUN_CHUNK_PAGES];
};

struct rino {
	struct rino *next;
	dev_t dev;
	uint64_t ino;
	unsigned refs;                  /* rfiles and mmap regions; global lock */
	volatile struct daxfs_run_slot *slot;
	volatile struct daxfs_run_head *head;   /* the table's (frozen, traced) */
	struct rmount *mount;           /* whose table it is (never freed) */
	/* The slot's record of pending sizes (daxfs/ioctl.h); writable when
	 * pend_rw, which lets writes that extend the file skip the request.
	 * Set under the global lock, read with atomic loads. */
	volatile struct daxfs_run_pending *pend;
	bool pend_rw;
	/* Readers of the chunks hold it for reading; mapping, allocating and
	 * extending hold it for writing. */
	pthread_rwlock_t lock;
	struct rchunk **chunks;
	size_t nchunks;
	uint64_t gen_seen;
	bool writable;                  /* some rfile holds a write lease */
	bool broken;                    /* served by the ordinary path from now on */
	int *dev_fd;                    /* backing devices by index, -1 unopened */
	bool *dev_mem;                  /* ... that live in memory (tmpfs, ramfs) */
	size_t ndev;
	/* Held by the thread that extends the file, around the extend lock:
	 * OFD locks order processes, not the threads of one. Taken before
	 * lock. */
	pthread_mutex_t extend;
	int lockfd;                     /* backing device 0, for the extend lock */
	pid_t lockpid;                  /* the process lockfd was opened in */
	bool time_dirty;                /* written since mtime was last pushed */
	bool size_dirty;                /* size pushed since the last sync, not durable */
	struct rfile *files;            /* ours on this inode; glock */
	uint64_t alloc_end;             /* end of what we allocated past EOF */
	/* Writes that fill holes within EOF in order: where the run of their
	 * allocations began and where the last one ended (lock for writing) */
	uint64_t fill_start, fill_end;
	unsigned regions;               /* mmap regions of it (atomic) */
	int64_t time_pushed;            /* CLOCK_MONOTONIC_COARSE seconds */
	uint32_t recall_seen;           /* the slot's recall the regions follow; lock */
	/* Our open files of it were shared with a child at fork: neither
	 * knows what the other maps, so neither lets blocks go (run_relet). */
	bool forked;
	bool no_map_sync;               /* MAP_SYNC refused by the members: not tried again */
	enum run_map_fill map_lazy;     /* lock for writing: how the chunk mapped now fills */
	bool no_pread;                  /* a member took no pread (device DAX): copies only */
	/* The block of size records, mapped at the first fdatasync that
	 * writes one (record.c; extend held). */
	char *rec_base, *rec_block;
	size_t rec_len;
	bool rec_pmem;                  /* persisted by flushes, else msync */
};

struct rfile {
	unsigned refs;                  /* descriptors; global lock */
	int kfd;                        /* our duplicate: holds the lease */
	struct rino *ri;
	struct rfile *next_in_ri;       /* glock */
	int accmode;
	bool append, sync;
	/* its open file may be another process's too (a fork, a spawn, an
	 * exec): read() and write() at its offset are the kernel's, which
	 * keeps them whole against the other process, and O_APPEND is asked
	 * of it, which F_SETFL there changes for us (atomic) */
	bool shared;
	bool fell_back;                 /* some write went the ordinary way */
	unsigned mapped;                /* mmap regions through it (atomic) */
	pthread_mutex_t pos;            /* read()/write(): offset updates are atomic */
};

/* ---- state.c ---- */
/* DAXFS_RUN_DEBUG: 1 says which files are served and why others are not,
 * 2 also logs every request for a file's map */
extern int run_debug;
extern bool run_sync_mode;
extern pid_t run_pid;          /* getpid(), kept up to date across fork */
void run_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Starts a detached thread of the library (every signal blocked in it) running
 * fn(arg), and returns once it runs: 0, or pthread_create's error. No fork
 * happens in between (before_fork waits), so no child inherits a runtime lock
 * (AddressSanitizer's allocator, gcc 12) that a starting thread held. */
int run_thread_start(void *(*fn)(void *), void *arg, size_t stack);
/* The real libc functions. */
struct run_real {
	int (*open)(const char *, int, ...);
	int (*openat)(int, const char *, int, ...);
	int (*close)(int);
	int (*dup)(int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
	int (*fcntl)(int, int, ...);
	ssize_t (*read)(int, void *, size_t);
	ssize_t (*write)(int, const void *, size_t);
	ssize_t (*pread)(int, void *, size_t, off_t);
	ssize_t (*pwrite)(int, const void *, size_t, off_t);
	ssize_t (*readv)(int, const struct iovec *, int);
	ssize_t (*writev)(int, const struct iovec *, int);
	ssize_t (*preadv)(int, const struct iovec *, int, off_t);
	ssize_t (*pwritev)(int, const struct iovec *, int, off_t);
	ssize_t (*preadv2)(int, const struct iovec *, int, off_t, int);
	ssize_t (*pwritev2)(int, const struct iovec *, int, off_t, int);
	off_t (*lseek)(int, off_t, int);
	int (*fsync)(int);
	int (*fdatasync)(int);
	int (*ftruncate)(int, off_t);
	void *(*mmap)(void *, size_t, int, int, int, off_t);
	int (*munmap)(void *, size_t);
	void *(*mremap)(void *, size_t, size_t, int, ...);
	int (*msync)(void *, size_t, int);
	int (*fstat)(int, struct stat *);
	int (*stat)(const char *, struct stat *);
	int (*lstat)(const char *, struct stat *);
	int (*fstatat)(int, const char *, struct stat *, int);
	int (*close_range)(unsigned, unsigned, int);
	int (*sigaction)(int, const struct sigaction *, struct sigaction *);
	sighandler_t (*signal)(int, sighandler_t);
	/* libc that closes or shares descriptors past the calls above */
	FILE *(*freopen)(const char *, const char *, FILE *);
	FILE *(*freopen64)(const char *, const char *, FILE *);
	int (*daemon)(int, int);
	int (*posix_spawn)(pid_t *, const char *, const posix_spawn_file_actions_t *,
			   const posix_spawnattr_t *, char *const[], char *const[]);
	int (*posix_spawnp)(pid_t *, const char *, const posix_spawn_file_actions_t *,
			    const posix_spawnattr_t *, char *const[], char *const[]);
	int (*system)(const char *);
	ssize_t (*sendmsg)(int, const struct msghdr *, int);
	FILE *(*popen)(const char *, const char *);
};
extern struct run_real real;
void run_init(void);

/* The rfile of fd, with a reference (run_put), or NULL: the ordinary path.
 * Classifies a descriptor it has not seen (inherited across exec). */
struct rfile *run_get(int fd);
void run_put(struct rfile *rf);
void run_hold(struct rfile *rf);
/* After the real open/openat/creat returned fd. */
void run_opened(int fd, int flags);
/* Before the real close: forgets fd (pushes times at the last close). */
void run_closing(int fd);
/* After the real dup/dup2/dup3/F_DUPFD made nfd from ofd. */
void run_duped(int ofd, int nfd);
void run_forget_range(unsigned first, unsigned last);
/* Before a child is made without fork (posix_spawn): every open file of
 * ours may be shared with another process from now on (rfile.shared). */
void run_spawning(void);
/* Before fd goes to another process (SCM_RIGHTS): the same for its file. */
void run_sending(int fd);
/* fd's entry now, read without the lock (a signal handler's), and: forgets
 * fd if its entry is still rf. */
struct rfile *run_peek(int fd);
void run_forget_if(int fd, struct rfile *rf);
/* Pushes mtime/ctime of (dev, ino) if this process wrote it since the last
 * push (before a stat by this process). */
bool run_push_times_of(dev_t dev, uint64_t ino);
void run_rino_hold(struct rino *ri);
/* ri->lock for writing, nothing mapped: puts and takes again the leases of
 * our open files of ri, so that blocks a truncate dropped meanwhile (held
 * back while the inode has any lease) go back to the allocator when no
 * other process holds one. 0, or -errno (then ri is broken). */
int run_relet(struct rino *ri);
void run_rino_release(struct rino *ri);
/* The inodes of the mount of head whose mappings must follow a recall
 * (held: release each), at most max; and the open files of ri with regions
 * (held: put). */
size_t run_to_recall(volatile struct daxfs_run_head *head, struct rino **out, size_t max);
size_t run_mapped_files(struct rino *ri, struct rfile **out, size_t max);
bool run_has_regions(volatile struct daxfs_run_head *head);

/* The file's size as every daxfs-run process sees it: the daemon's, or
 * the end a writer left pending past it. */
static inline uint64_t run_size(const struct rino *ri)
{
	uint64_t s = __atomic_load_n(&ri->slot->size, __ATOMIC_ACQUIRE);
	volatile struct daxfs_run_pending *pe = __atomic_load_n(&ri->pend, __ATOMIC_ACQUIRE);
	uint64_t e = pe ? __atomic_load_n(&pe->end, __ATOMIC_ACQUIRE) : 0;

	return e > s ? e : s;
}

/* ---- table.c ---- */
/* The daemon's tables of a mount (daxfs/ioctl.h), mapped once per mount
 * from the descriptors a RUN_OPEN with RUN_TABLE got a token for. A device
 * number is used again by the next FUSE mount once one is gone, so a mount's
 * tables are named by the head's id too. */
struct rmount {
	struct rmount *next;
	dev_t dev;
	/* The daemon is gone (alive.c): set once, never cleared. */
	bool dead;
	/* The process whose thread waits for that (alive.c), and its own
	 * open file of the table (-1: none, the daemon holds no lock). */
	pid_t alive_pid;
	int alive_fd;
	volatile struct daxfs_run_slot *slots;
	volatile struct daxfs_run_head *head;   /* after the slots */
	unsigned nslots;
	/* The pending sizes (NULL: a daemon that sends none), writable when
	 * pend_rw; both change once, to a writable mapping (atomic). */
	volatile struct daxfs_run_pending *pend;
	bool pend_rw;
};
/* The tables of dev named id (0: the newest of dev, which may be of a
 * mount gone), or NULL. */
struct rmount *run_mount_of(dev_t dev, uint32_t id);
/* Maps and records the tables o (a RUN_OPEN with RUN_TABLE) got a token for,
 * the pending sizes writable when write (a token issued under a write
 * lease); tables recorded before are returned, given the writable pending
 * sizes. NULL if they cannot be had. Closes descriptors: no lock of ours
 * may be held. */
struct rmount *run_mount_add(dev_t dev, const struct daxfs_ioc_run_open *o, bool write);
/* m's pending record of slot (NULL: none), *rw whether it is writable. */
volatile struct daxfs_run_pending *run_mount_pending(struct rmount *m, uint32_t slot, bool *rw);
/* Around fork: the tables' lock taken (true), then given back. */
void run_tables_lock(bool lock);
/* In a forked child: waits for the end of each mount's daemon with threads
 * of its own, since its copies of the mappings are stores of its own even
 * if it never calls into the library again. */
void run_tables_forked(void);

/* ---- fds.c ---- */
/* Where the library's own descriptors go: half the descriptor limit. */
void run_fds_init(void);
/* Takes fd (a descriptor of the library's) out of the program's reach: moved
 * high if it is not, and left alone by the program's close, close_range and
 * closefrom. Returns its number now, or -errno (fd closed). */
int run_fd_keep(int fd);
/* A kept open file of our own of fd's file, with flags (O_CLOEXEC added):
 * its own offset and OFD locks, apart from fd's. Or -errno. */
int run_fd_reopen(int fd, int flags);
/* A kept duplicate of fd (which stays as it is), or -errno. */
int run_fd_keep_dup(int fd);
/* Closes a kept descriptor (or any other of the library's). */
void run_fd_close(int fd);
/* Whether fd is one of the library's kept descriptors. */
bool run_fd_kept(int fd);
/* Around fork (state.c): the lock taken (true), then given back. */
void run_fds_lock(bool lock);
/* The program's close_range: every descriptor of the range but ours. */
int run_fds_close_range(unsigned first, unsigned last, int flags);

/* ---- alive.c ---- */
/* Starts the thread that waits for the end of m's daemon in this process,
 * unless one does already or the daemon holds no liveness lock; fd: a
 * descriptor of m's table (the one handed over, or an earlier process's
 * open file of it). */
void run_alive_watch(struct rmount *m, int fd);
/* Around fork (state.c): the lock taken (true), then given back. */
void run_alive_lock(bool lock);
/* Whether ri's daemon is gone: the ordinary path, which fails, from now on. */
static inline bool run_gone(const struct rino *ri)
{
	return ri->mount && __atomic_load_n(&ri->mount->dead, __ATOMIC_ACQUIRE);
}

/* ---- map.c ---- */
/* ri->lock held: 0 with *stale when the mappings are out of date (the
 * layout generation moved), or RUN_FALLBACK: the ordinary path. */
int run_check(struct rino *ri, bool *stale);
/* ri->lock for writing: drops every chunk's mapping. */
void run_unmap_all(struct rino *ri);
/* Under the write lock: the chunks over [from, to) are mapped again when
 * next used (blocks this process gave back there). */
void run_forget_chunks(struct rino *ri, uint64_t from, uint64_t to);
/* ri->lock for writing: the chunk idx, mapped now if it is not. */
int run_chunk(struct rino *ri, struct rfile *rf, uint64_t idx, struct rchunk **out);
/* ri->lock for writing: maps [off, off+len) of the file at addr (page
 * multiples) for mmap: holes must have been allocated; pages past EOF and
 * bad pages raise SIGBUS. *first_data (if not NULL): whether the first
 * page now maps data. */
int run_map_at(struct rino *ri, struct rfile *rf, char *addr, uint64_t off, uint64_t len, int prot,
	       uint64_t size, bool *first_data);
/* Under ri->lock: copies n bytes of chunk c's DATA pages from chunk offset
 * in with pread of the members (the kernel's copy, no page tables to fill);
 * returns the bytes copied, short at a piece the member could not give. */
size_t run_read_member(struct rino *ri, struct rfile *rf, struct rchunk *c, uint64_t idx,
		       uint64_t in, void *buf, size_t n);
/* The same for a write of buf into DATA pages of a chunk whose members are
 * in memory (c->mem), where the file's pages are the medium; short also
 * where a member no longer reaches. */
size_t run_write_member(struct rino *ri, struct rfile *rf, struct rchunk *c, uint64_t idx,
			uint64_t in, const void *buf, size_t n);
/* Replaces [at, at+len) with memory whose every access raises SIGBUS. */
int run_map_sigbus(char *at, size_t len, int prot);
int run_ioc(int fd, unsigned long cmd, uint32_t flags, uint64_t off, uint64_t len);
int run_backing(struct rino *ri, struct rfile *rf, uint32_t index);
/* Maps len bytes of backing device index from devoff at at (MAP_FIXED),
 * with MAP_SYNC when the device takes it; *pmem cleared when the mapping
 * needs msync to persist. */
int run_map_dev(struct rino *ri, struct rfile *rf, char *at, uint64_t len, int prot,
		uint32_t index, uint64_t devoff, bool *pmem);

/* ---- io.c ---- */
/* Takes ri->lock (for writing when wr) with the mappings checked against
 * the slot (stale ones dropped): 0, or RUN_FALLBACK with nothing held. */
int run_lock(struct rino *ri, bool wr);
ssize_t run_pread(struct rfile *rf, void *buf, size_t len, off_t off);
/* With append_at, an O_APPEND write: at the end of the file, which it
 * stores in *append_at (off is not used). */
ssize_t run_pwrite(struct rfile *rf, const void *buf, size_t len, off_t off, off_t *append_at);
/* Makes what this process stored durable, and the metadata its writes
 * changed; RUN_FALLBACK when the real call must do it (the file is not
 * written through us). */
int run_fsync(struct rfile *rf, bool data_only);
/* Whether the daemon records a persistence trace: our persist points then
 * have it flush what we stored (DAXFS_IOC_WRITTEN_FLUSH), so that the
 * trace holds it. */
bool run_traced(const struct rino *ri);
/* mtime/ctime to the daemon if written since the last push; 0 or -errno. */
int run_push_times(struct rino *ri, int kfd);

/* The extend lock (DAXFS_RUN_LOCK_BASE, daxfs/ioctl.h): F_WRLCK takes
 * ri->extend and the OFD lock (0, or -errno with nothing held), F_UNLCK
 * gives both back. */
int run_extend_lock(struct rino *ri, struct rfile *rf, short type);

/* ---- record.c ---- */
/* Makes the file's size as this process sees it durable with a size
 * record: 0, or RUN_FALLBACK when the daemon must (no record pair, a cut
 * in progress, the block not writable). */
int run_record_size(struct rino *ri, struct rfile *rf);
/* Drops the record block's mapping (the inode is freed). */
void run_record_unmap(struct rino *ri);

/* ---- recall.c ---- */
/* A region of ri was mapped: a thread of this process follows the recalls
 * of its mount from now on. */
void run_watch(struct rino *ri);
/* Brings every region of the inodes of head's mount whose slot's recall
 * moved to the layout the slot describes, and acknowledges it to the
 * daemon. */
void run_recall(volatile struct daxfs_run_head *head);

/* ---- copy.c ---- */
/* memcpy that turns a SIGBUS of the mapping into a short count: returns the
 * bytes copied before the faulting page. nt: non-temporal stores (pmem). */
size_t run_copy(void *dst, const void *src, size_t len, bool nt);
/* Installs the SIGBUS handler (the first run_copy does it too). */
void run_copy_init(void);
/* sigaction(SIGBUS) by the program once ours is installed: act becomes the
 * handler ours passes other faults on to, old gets the one before; false
 * when ours is not installed (the real call serves it). */
bool run_sigbus_chain(const struct sigaction *act, struct sigaction *old);

/* ---- mmap.c ---- */
void *run_mmap(struct rfile *rf, void *addr, size_t len, int prot, int flags, off_t off);
/* After the real munmap of [addr, addr+len): drops the regions inside it. */
void run_unmapped(void *addr, size_t len);
void *run_mremap(void *old, size_t old_len, size_t new_len, int flags, void *new_addr);
int run_msync(void *addr, size_t len, int flags);
/* The SIGBUS handler's question: addr is in a region past the EOF it had
 * when mapped, and the file has grown over it since: now mapped. */
bool run_fault(void *addr);
/* fsync's part for stores through this process's mappings of ri. */
void run_sync_regions(struct rino *ri);
/* After this process cut ri to size: its mappings past EOF fault. */
void run_truncated(struct rino *ri, uint64_t size);
/* ri->lock for writing: remaps ri's regions as the file is now (pages past
 * EOF raise SIGBUS); false if one keeps pages of the old layout. */
bool run_remap_regions(struct rino *ri);
/* m's daemon is gone: every region of its files raises SIGBUS. */
void run_regions_gone(struct rmount *m);

#endif
