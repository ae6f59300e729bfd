/* preload/state.c - libdaxfs-run: which descriptors it serves, their open files and inodes, fork */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#include "client/internal.h"
#include "preload/run.h"
#include "util/err.h"

#define FUSE_MAGIC 0x65735546

int run_debug;
bool run_sync_mode;
pid_t run_pid;
struct run_real real;

/*
 * One lock for the descriptor table, the reference counts and the inode
 * list (the mounts' tables have their own, table.c). Every descriptor the
 * process has maps to an rfile of ours only if it was opened (or inherited
 * at exec, or dup'd) while the library watched; anything else (fopen's internal open, socket, pipe) is NULL, the
 * ordinary path, so that a number reused behind our back is never taken for
 * one of ours.
 */
static pthread_mutex_t glock = PTHREAD_MUTEX_INITIALIZER;
static struct rfile **fdtab;
static unsigned fdmax;
static struct rino *rinos;


void run_log(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	if (!run_debug)
		return;
	n = snprintf(buf, sizeof(buf), "daxfs-run[%d]: ", (int)getpid());
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(buf) - 1)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	(void)!real.write(2, buf, (size_t)n);
}

/* ---- threads of the library ---------------------------------------------- */

/* Held from a thread's creation until it runs, and by fork: a thread still
 * starting may hold a lock of the runtime's own (gcc 12's AddressSanitizer
 * takes its allocator's and stack depot's, and does nothing around fork),
 * which a child would inherit locked for good, hanging the child's first
 * thread that needs it, as its own watcher. Innermost of the fork locks. */
static pthread_mutex_t spawnlock = PTHREAD_MUTEX_INITIALIZER;

struct spawn {
	void *(*fn)(void *);
	void *arg;
	int state;              /* 0 starting, 1 running, 2 given up on (atomic) */
};

static void *spawned(void *p)
{
	struct spawn *sp = p;
	void *(*fn)(void *) = sp->fn;
	void *arg = sp->arg;

	if (__atomic_exchange_n(&sp->state, 1, __ATOMIC_ACQ_REL) == 2)
		free(sp);
	return fn(arg);
}

int run_thread_start(void *(*fn)(void *), void *arg, size_t stack)
{
	struct spawn *sp = malloc(sizeof(*sp));
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t t;
	int err;

	if (!sp)
		return ENOMEM;
	*sp = (struct spawn){ fn, arg, 0 };
	if ((err = pthread_attr_init(&attr)) != 0) {
		free(sp);
		return err;
	}
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, stack);
	pthread_mutex_lock(&spawnlock);
	/* the program's signals are for its own threads */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&t, &attr, spawned, sp);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (err == 0) {
		/* a start that never comes (a child of a program whose own
		 * thread held such a lock) must not hang this one: 5 s */
		struct timespec nap = { 0, 50000 }, now, end;

		clock_gettime(CLOCK_MONOTONIC, &end);
		end.tv_sec += 5;
		while (!__atomic_load_n(&sp->state, __ATOMIC_ACQUIRE)) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec > end.tv_sec ||
			    (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
				break;
			nanosleep(&nap, NULL);
		}
		if (__atomic_exchange_n(&sp->state, 2, __ATOMIC_ACQ_REL) == 0) {
			run_log("a thread of the library has not started in 5 s");
			sp = NULL;      /* the thread frees it, if ever it runs */
		}
	}
	pthread_mutex_unlock(&spawnlock);
	free(sp);
	return err;
}

/* ---- inodes --------------------------------------------------------------- */

void run_rino_hold(struct rino *ri)
{
	pthread_mutex_lock(&glock);
	ri->refs++;
	pthread_mutex_unlock(&glock);
}

static void rino_free(struct rino *ri)
{
	pthread_rwlock_wrlock(&ri->lock);
	run_unmap_all(ri);
	for (size_t i = 0; i < ri->nchunks; i++) {
		if (ri->chunks[i]) {
			real.munmap(ri->chunks[i]->base, RUN_CHUNK);
			free(ri->chunks[i]->pieces);
			free(ri->chunks[i]);
		}
	}
	for (size_t i = 0; i < ri->ndev; i++)
		run_fd_close(ri->dev_fd[i]);
	run_fd_close(ri->lockfd);
	run_record_unmap(ri);
	pthread_rwlock_unlock(&ri->lock);
	pthread_rwlock_destroy(&ri->lock);
	pthread_mutex_destroy(&ri->extend);
	free(ri->chunks);
	free(ri->dev_fd);
	free(ri->dev_mem);
	free(ri);
}

void run_rino_release(struct rino *ri)
{
	bool last;

	pthread_mutex_lock(&glock);
	last = --ri->refs == 0;
	if (last) {
		for (struct rino **pp = &rinos; *pp; pp = &(*pp)->next) {
			if (*pp == ri) {
				*pp = ri->next;
				break;
			}
		}
	}
	pthread_mutex_unlock(&glock);
	if (last)
		rino_free(ri);
}

/* glock held */
static struct rino *rino_get(dev_t dev, uint64_t ino, volatile struct daxfs_run_slot *slot,
			     struct rmount *m, volatile struct daxfs_run_pending *pend,
			     bool pend_rw)
{
	struct rino *ri;

	for (ri = rinos; ri; ri = ri->next) {
		if (ri->dev == dev && ri->ino == ino && ri->head == m->head) {
			ri->refs++;
			if (pend_rw && !ri->pend_rw) {
				__atomic_store_n(&ri->pend, pend, __ATOMIC_RELEASE);
				ri->pend_rw = true;
			}
			return ri;
		}
	}
	if (!(ri = calloc(1, sizeof(*ri))))
		return NULL;
	ri->dev = dev;
	ri->ino = ino;
	ri->refs = 1;
	ri->slot = slot;
	ri->head = m->head;
	ri->mount = m;
	ri->pend = pend;
	ri->pend_rw = pend_rw;
	ri->lockfd = -1;
	ri->fill_end = UINT64_MAX;       /* no fill yet to follow */
	ri->gen_seen = __atomic_load_n(&slot->gen, __ATOMIC_SEQ_CST);
	ri->recall_seen = __atomic_load_n(&slot->recall, __ATOMIC_SEQ_CST);
	pthread_rwlock_init(&ri->lock, NULL);
	pthread_mutex_init(&ri->extend, NULL);
	ri->next = rinos;
	rinos = ri;
	return ri;
}

/* ---- open files ------------------------------------------------------------ */

static void rfile_free(struct rfile *rf)
{
	struct rino *ri = rf->ri;

	bool last;

	pthread_mutex_lock(&glock);
	for (struct rfile **pp = &ri->files; *pp; pp = &(*pp)->next_in_ri) {
		if (*pp == rf) {
			*pp = rf->next_in_ri;
			break;
		}
	}
	last = !ri->files;
	pthread_mutex_unlock(&glock);
	/* what the last writer allocated ahead past EOF goes back, as a
	 * filesystem's speculative preallocation does at close */
	if (last && rf->accmode != O_RDONLY && ri->alloc_end && !ri->broken) {
		uint64_t size = run_size(ri);
		uint64_t from = (size + RUN_PAGE - 1) & ~(RUN_PAGE - 1);

		/* the daemon leaves them while another process holds a lease:
		 * its stores past EOF may be in those blocks, not yet told */
		if (ri->alloc_end > from)
			(void)run_ioc(rf->kfd, DAXFS_IOC_RUN_WRITTEN, DAXFS_IOC_WRITTEN_TRIM, from,
				      ri->alloc_end - from);
		ri->alloc_end = 0;
	}

	if (ri->time_dirty && rf->accmode != O_RDONLY)
		(void)run_push_times(ri, rf->kfd);
	run_fd_close(rf->kfd);
	pthread_mutex_destroy(&rf->pos);
	free(rf);
	run_rino_release(ri);
}

void run_put(struct rfile *rf)
{
	bool last;

	if (!rf)
		return;
	pthread_mutex_lock(&glock);
	last = --rf->refs == 0;
	pthread_mutex_unlock(&glock);
	if (last)
		rfile_free(rf);
}

void run_hold(struct rfile *rf)
{
	pthread_mutex_lock(&glock);
	rf->refs++;
	pthread_mutex_unlock(&glock);
}

struct rfile *run_get(int fd)
{
	struct rfile *rf;

	if (fd < 0 || (unsigned)fd >= fdmax)
		return NULL;
	pthread_mutex_lock(&glock);
	if ((rf = fdtab[fd]))
		rf->refs++;
	pthread_mutex_unlock(&glock);
	return rf;
}

/* Decides whether fd (open with flags) is served here; NULL if not. */
static struct rfile *classify(int fd, int flags)
{
	struct daxfs_ioc_run_open o = { .version = DAXFS_IOC_VERSION };
	struct stat st;
	struct statfs sfs;
	struct rmount *m;
	struct rfile *rf;
	struct rino *ri;
	volatile struct daxfs_run_pending *pend;
	bool pend_rw = false;
	int kfd, acc = flags & O_ACCMODE;

	if (real.fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (flags & O_PATH) ||
	    fstatfs(fd, &sfs) < 0 || sfs.f_type != FUSE_MAGIC)
		return NULL;
	/* The lease is taken through an open file of our own, of the same
	 * file with the caller's rights (read-write for a writer: a lease
	 * needs read access): a program's own open file holds only the leases
	 * the program took (libdaxfs), and a write-only one gets served. The
	 * program's open file is then marked as written through ours. */
	if ((kfd = run_fd_reopen(fd, acc == O_RDONLY ? O_RDONLY : O_RDWR)) < 0) {
		run_log("fd %d (inode %llu): cannot open it again%s (%s): the ordinary path", fd,
			(unsigned long long)st.st_ino, acc == O_WRONLY ? " for reading" : "",
			strerror(-kfd));
		return NULL;
	}
	o.flags = acc != O_RDONLY ? DAXFS_IOC_RUN_WRITE : 0;
	/* a writer asks for the tables again when it has only a read-only
	 * mapping of the pending sizes */
	if ((m = run_mount_of(st.st_dev, 0)))
		(void)run_mount_pending(m, 0, &pend_rw);
	if (!m || (acc != O_RDONLY && !pend_rw))
		o.flags |= DAXFS_IOC_RUN_TABLE;
	if (ioctl(kfd, DAXFS_IOC_RUN_OPEN, &o) < 0 || o.error < 0) {
		o.message[sizeof(o.message) - 1] = '\0';
		if (errno != ENOTTY && errno != EINVAL)
			run_log("fd %d (inode %llu): the ordinary path: %s", fd,
				(unsigned long long)st.st_ino,
				o.error < 0 ? o.message : strerror(errno));
		run_fd_close(kfd);
		return NULL;
	}
	if (acc != O_RDONLY && run_ioc(fd, DAXFS_IOC_RUN_MARK, 0, 0, 0) < 0) {
		run_log("fd %d (inode %llu): open for writing: the ordinary path: %s", fd,
			(unsigned long long)st.st_ino, strerror(errno));
		run_fd_close(kfd);
		return NULL;
	}
	m = run_mount_of(st.st_dev, o.table_id);
	if (!m && !(o.flags & DAXFS_IOC_RUN_TABLE)) {
		/* the table we have of this device number is a mount's gone:
		 * a token for this one's, and the lease taken twice put once */
		struct daxfs_ioc_run_open o2 = o;

		o2.flags |= DAXFS_IOC_RUN_TABLE;
		if (ioctl(kfd, DAXFS_IOC_RUN_OPEN, &o2) == 0 && o2.error == 0) {
			(void)run_ioc(kfd, DAXFS_IOC_LEASE_PUT,
				      acc != O_RDONLY ? DAXFS_IOC_LEASE_WRITE : 0, 0, 0);
			o = o2;
		}
	}
	if (o.flags & DAXFS_IOC_RUN_TABLE) {
		struct rmount *had = m;

		/* without the writable pending table, writes extend the file
		 * through requests */
		if (!(m = run_mount_add(st.st_dev, &o, acc != O_RDONLY)))
			m = had;
	}
	pend = m && o.slot < m->nslots ? run_mount_pending(m, o.slot, &pend_rw) : NULL;
	pthread_mutex_lock(&glock);
	if (!m || o.slot >= m->nslots || !(rf = calloc(1, sizeof(*rf)))) {
		pthread_mutex_unlock(&glock);
		run_fd_close(kfd);        /* the lease ends with our open file's last close */
		return NULL;
	}
	if (!(ri = rino_get(st.st_dev, st.st_ino, &m->slots[o.slot], m, pend, pend_rw))) {
		pthread_mutex_unlock(&glock);
		free(rf);
		run_fd_close(kfd);
		return NULL;
	}
	rf->refs = 1;
	rf->kfd = kfd;
	rf->ri = ri;
	rf->next_in_ri = ri->files;
	ri->files = rf;
	pthread_mutex_unlock(&glock);
	rf->accmode = acc;
	rf->append = flags & O_APPEND;
	rf->sync = run_sync_mode || (flags & (O_SYNC | O_DSYNC));
	pthread_mutex_init(&rf->pos, NULL);
	if (acc != O_RDONLY && !ri->writable) {
		/* mapped read-only so far: map again with write access */
		pthread_rwlock_wrlock(&ri->lock);
		ri->writable = true;
		run_unmap_all(ri);
		pthread_rwlock_unlock(&ri->lock);
	}
	run_log("fd %d (inode %llu): served directly (slot %u)", fd, (unsigned long long)st.st_ino,
		o.slot);
	return rf;
}

int run_relet(struct rino *ri)
{
	struct rfile *files[64];
	size_t n = 0;
	int err = 0;

	/* a child forked with our open files may map the old blocks: they
	 * stay held until the last of us closes the file */
	if (ri->forked)
		return 0;
	pthread_mutex_lock(&glock);
	for (struct rfile *rf = ri->files; rf && n < 64; rf = rf->next_in_ri) {
		rf->refs++;
		files[n++] = rf;
	}
	pthread_mutex_unlock(&glock);
	for (size_t i = 0; i < n; i++)
		(void)run_ioc(files[i]->kfd, DAXFS_IOC_LEASE_PUT,
			      files[i]->accmode != O_RDONLY ? DAXFS_IOC_LEASE_WRITE : 0, 0, 0);
	for (size_t i = 0; i < n && !err; i++) {
		struct daxfs_ioc_run_open o = { .version = DAXFS_IOC_VERSION,
						.flags = files[i]->accmode != O_RDONLY ?
							 DAXFS_IOC_RUN_WRITE : 0 };
		struct rmount *m;

		if (ioctl(files[i]->kfd, DAXFS_IOC_RUN_OPEN, &o) < 0)
			err = -errno;
		else if (o.error < 0)
			err = o.error;
		m = run_mount_of(ri->dev, ri->head->id);
		if (!err && (!m || o.slot >= m->nslots))
			err = -EIO;
		pthread_mutex_lock(&glock);
		if (!err) {
			bool rw;

			ri->slot = &m->slots[o.slot];
			/* the record of the slot, which may be another one now */
			__atomic_store_n(&ri->pend, run_mount_pending(m, o.slot, &rw),
					 __ATOMIC_RELEASE);
			ri->pend_rw = rw;
		}
		pthread_mutex_unlock(&glock);
	}
	for (size_t i = 0; i < n; i++)
		run_put(files[i]);
	if (err) {
		run_log("inode %llu: taking the lease again: %s: the ordinary path from now on",
			(unsigned long long)ri->ino, strerror(-err));
		ri->broken = true;
	}
	ri->gen_seen = __atomic_load_n(&ri->slot->gen, __ATOMIC_SEQ_CST);
	ri->recall_seen = __atomic_load_n(&ri->slot->recall, __ATOMIC_SEQ_CST);
	return err;
}

/* glock held: replaces fd's entry; the old one's reference is returned to
 * be put outside the lock. */
static struct rfile *set_fd(int fd, struct rfile *rf)
{
	struct rfile *old;

	if (fd < 0 || (unsigned)fd >= fdmax)
		return rf;      /* not tracked: the caller puts rf */
	old = fdtab[fd];
	fdtab[fd] = rf;
	return old;
}

/*
 * The child of vfork (posix_spawn, Python's subprocess) runs in our memory
 * until it execs, and closes or dups descriptors there: its calls must not
 * change our table, whose descriptors are the parent's. No fork handler
 * runs for it, so its pid differs from run_pid.
 */
static bool vfork_child(void)
{
	return getpid() != run_pid;
}

/* rf's open file may be another process's too from now on (rfile.shared).
 * A program there without the library appends through the kernel, at the
 * size the kernel has cached, which our stores past it left behind: a stat
 * of a file we write brings it up to date (the daemon takes our pending
 * sizes in first). */
static void share(struct rfile *rf)
{
	struct stat st;

	__atomic_store_n(&rf->shared, true, __ATOMIC_RELAXED);
	if (rf->accmode != O_RDONLY)
		(void)real.fstat(rf->kfd, &st);
}

/* glock held: a file leaves ri->files before its descriptor closes */
static void mark_all_shared(void)
{
	for (struct rino *ri = rinos; ri; ri = ri->next)
		for (struct rfile *rf = ri->files; rf; rf = rf->next_in_ri)
			share(rf);
}

void run_sending(int fd)
{
	struct rfile *rf = run_get(fd);

	if (rf)
		share(rf);
	run_put(rf);
}

void run_spawning(void)
{
	pthread_mutex_lock(&glock);
	mark_all_shared();
	pthread_mutex_unlock(&glock);
}

/* A vfork child runs in our memory until it execs, and the program it
 * execs has our open files: the marks it leaves are ours. Once per child:
 * it may close thousands of descriptors before it execs. */
static bool in_vfork_child(void)
{
	static pid_t marked_by;
	pid_t self;

	if (!vfork_child())
		return false;
	if (__atomic_load_n(&marked_by, __ATOMIC_RELAXED) != (self = getpid())) {
		run_spawning();
		__atomic_store_n(&marked_by, self, __ATOMIC_RELAXED);
	}
	return true;
}

void run_opened(int fd, int flags)
{
	struct rfile *rf, *old;

	if (fd < 0 || (unsigned)fd >= fdmax || in_vfork_child())
		return;
	rf = classify(fd, flags);
	pthread_mutex_lock(&glock);
	old = set_fd(fd, rf);
	pthread_mutex_unlock(&glock);
	run_put(old);
}

void run_closing(int fd)
{
	struct rfile *old;

	if (fd < 0 || (unsigned)fd >= fdmax || in_vfork_child())
		return;
	pthread_mutex_lock(&glock);
	old = set_fd(fd, NULL);
	pthread_mutex_unlock(&glock);
	run_put(old);
}

struct rfile *run_peek(int fd)
{
	if (fd < 0 || (unsigned)fd >= fdmax || vfork_child())
		return NULL;
	return __atomic_load_n(&fdtab[fd], __ATOMIC_ACQUIRE);
}

void run_forget_if(int fd, struct rfile *rf)
{
	struct rfile *old = NULL;

	if (!rf || fd < 0 || (unsigned)fd >= fdmax)
		return;
	pthread_mutex_lock(&glock);
	if (fdtab[fd] == rf)
		old = set_fd(fd, NULL);
	pthread_mutex_unlock(&glock);
	run_put(old);
}

void run_forget_range(unsigned first, unsigned last)
{
	if (in_vfork_child())
		return;
	for (unsigned fd = first; fd <= last && fd < fdmax; fd++)
		run_closing((int)fd);
}

void run_duped(int ofd, int nfd)
{
	struct rfile *rf, *old;

	if (in_vfork_child())
		return;
	rf = run_get(ofd);

	if (nfd < 0 || (unsigned)nfd >= fdmax || nfd == ofd) {
		run_put(rf);
		return;
	}
	pthread_mutex_lock(&glock);
	old = set_fd(nfd, rf);          /* our reference moves to the table */
	pthread_mutex_unlock(&glock);
	run_put(old);
}

bool run_push_times_of(dev_t dev, uint64_t ino)
{
	struct rino *ri;
	int kfd = -1;
	bool pushed = false;

	pthread_mutex_lock(&glock);
	for (ri = rinos; ri && !(ri->dev == dev && ri->ino == ino); ri = ri->next)
		;
	if (ri && ri->time_dirty) {
		/* any writable open file of ours on it carries the request */
		for (unsigned fd = 0; fd < fdmax && kfd < 0; fd++)
			if (fdtab[fd] && fdtab[fd]->ri == ri && fdtab[fd]->accmode != O_RDONLY)
				kfd = run_fd_keep_dup(fdtab[fd]->kfd);
		ri->refs++;
	} else {
		ri = NULL;
	}
	pthread_mutex_unlock(&glock);
	if (!ri)
		return false;
	if (kfd >= 0) {
		pushed = run_push_times(ri, kfd) == 0;
		run_fd_close(kfd);
	}
	run_rino_release(ri);
	return pushed;
}

/* ---- recalls ------------------------------------------------------------- */

size_t run_to_recall(volatile struct daxfs_run_head *head, struct rino **out, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&glock);
	for (struct rino *ri = rinos; ri && n < max; ri = ri->next) {
		if (ri->head == head && __atomic_load_n(&ri->regions, __ATOMIC_SEQ_CST) &&
		    __atomic_load_n(&ri->slot->recall, __ATOMIC_SEQ_CST) != ri->recall_seen) {
			ri->refs++;
			out[n++] = ri;
		}
	}
	pthread_mutex_unlock(&glock);
	return n;
}

bool run_has_regions(volatile struct daxfs_run_head *head)
{
	bool any = false;

	pthread_mutex_lock(&glock);
	for (struct rino *ri = rinos; ri && !any; ri = ri->next)
		any = ri->head == head && __atomic_load_n(&ri->regions, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&glock);
	return any;
}

size_t run_mapped_files(struct rino *ri, struct rfile **out, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&glock);
	for (struct rfile *rf = ri->files; rf && n < max; rf = rf->next_in_ri) {
		if (__atomic_load_n(&rf->mapped, __ATOMIC_SEQ_CST)) {
			rf->refs++;
			out[n++] = rf;
		}
	}
	pthread_mutex_unlock(&glock);
	return n;
}

/* ---- fork ----------------------------------------------------------------- */

/* No lock may be held by a thread that does not exist in the child. The
 * inodes are taken out of the list first: relet takes glock under an
 * inode's lock. */
static struct rino **forking;
static size_t nforking;

static void before_fork(void)
{
	size_t n = 0;

	pthread_mutex_lock(&glock);
	for (struct rino *ri = rinos; ri; ri = ri->next)
		n++;
	forking = malloc((n ? n : 1) * sizeof(*forking));
	nforking = 0;
	mark_all_shared();
	for (struct rino *ri = rinos; ri && forking; ri = ri->next) {
		ri->refs++;
		if (ri->files)
			ri->forked = true;
		forking[nforking++] = ri;
	}
	pthread_mutex_unlock(&glock);
	for (size_t i = 0; i < nforking; i++) {
		pthread_mutex_lock(&forking[i]->extend);
		pthread_rwlock_wrlock(&forking[i]->lock);
	}
	pthread_mutex_lock(&glock);
	run_tables_lock(true);
	run_alive_lock(true);
	run_fds_lock(true);
	pthread_mutex_lock(&spawnlock);
}

static void after_fork(bool child)
{
	pthread_mutex_unlock(&spawnlock);
	run_fds_lock(false);
	run_alive_lock(false);
	run_tables_lock(false);
	/* a read() or write() of another thread may have held an open file's
	 * offset lock: that thread is not in the child */
	for (struct rino *ri = rinos; ri && child; ri = ri->next)
		for (struct rfile *rf = ri->files; rf; rf = rf->next_in_ri)
			pthread_mutex_init(&rf->pos, NULL);
	pthread_mutex_unlock(&glock);
	for (size_t i = 0; i < nforking; i++) {
		/* the child's only thread is not the parent's that took them:
		 * a write-locked rwlock cannot be unlocked there */
		if (child) {
			pthread_rwlock_init(&forking[i]->lock, NULL);
			pthread_mutex_init(&forking[i]->extend, NULL);
			continue;
		}
		pthread_rwlock_unlock(&forking[i]->lock);
		pthread_mutex_unlock(&forking[i]->extend);
	}
	for (size_t i = 0; i < nforking; i++)
		run_rino_release(forking[i]);
	free(forking);
	forking = NULL;
	nforking = 0;
}

static void after_fork_parent(void)
{
	after_fork(false);
}

static void after_fork_child(void)
{
	run_pid = getpid();
	after_fork(true);
	run_tables_forked();
}

/* ---- start ---------------------------------------------------------------- */

/* dlsym's void * as a function pointer, which POSIX guarantees works */
#define REAL(name) do { void *sym_ = dlsym(RTLD_NEXT, #name); \
		memcpy(&real.name, &sym_, sizeof(sym_)); } while (0)

static void find_real(void)
{
	REAL(open);
	REAL(openat);
	REAL(close);
	REAL(dup);
	REAL(dup2);
	REAL(dup3);
	REAL(fcntl);
	REAL(read);
	REAL(write);
	REAL(pread);
	REAL(pwrite);
	REAL(readv);
	REAL(writev);
	REAL(preadv);
	REAL(pwritev);
	REAL(preadv2);
	REAL(pwritev2);
	REAL(lseek);
	REAL(fsync);
	REAL(fdatasync);
	REAL(ftruncate);
	REAL(mmap);
	REAL(munmap);
	REAL(mremap);
	REAL(msync);
	REAL(fstat);
	REAL(stat);
	REAL(lstat);
	REAL(fstatat);
	REAL(close_range);
	REAL(sigaction);
	REAL(signal);
	REAL(freopen);
	REAL(freopen64);
	REAL(daemon);
	REAL(posix_spawn);
	REAL(posix_spawnp);
	REAL(system);
	REAL(sendmsg);
	REAL(popen);
}

/* 0 before, 1 while and 2 after init; calls made by init itself (the
 * libdaxfs code it runs closes descriptors through our close) pass. */
static int init_state;
static _Thread_local bool initializing;
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;

static bool env_on(const char *name)
{
	const char *v = getenv(name);

	return v && *v && strcmp(v, "0") != 0;
}

/* The descriptors a new program image inherited (exec): served as if it
 * had opened them. */
static void adopt_inherited(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int self = d ? dirfd(d) : -1;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		int fl;

		if (*end || end == e->d_name || fd == self || fd < 0 || (unsigned long)fd >= fdmax)
			continue;
		if ((fl = real.fcntl((int)fd, F_GETFL)) < 0)
			continue;
		run_opened((int)fd, fl);
		run_sending((int)fd);   /* the parent of the exec may still have it */
	}
	closedir(d);
}

static void read_env(void)
{
	run_debug = env_on("DAXFS_RUN_DEBUG") ? (strcmp(getenv("DAXFS_RUN_DEBUG"), "2") == 0 ? 2 : 1) : 0;
	run_sync_mode = env_on("DAXFS_RUN_SYNC");
}

/* The daemon itself never goes through the mount it serves. */
static bool is_daemon(void)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	const char *base;

	if (n <= 0)
		return false;
	exe[n] = '\0';
	base = strrchr(exe, '/');
	return strcmp(base ? base + 1 : exe, "daxfs-fuse") == 0;
}

static void start_serving(void);

static void init_once(void)
{
	struct rlimit rl;

	find_real();
	run_pid = getpid();
	read_env();
	fdmax = 1u << 16;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY &&
	    rl.rlim_max < fdmax)
		fdmax = (unsigned)rl.rlim_max;
	run_fds_init();
	fdtab = calloc(fdmax, sizeof(*fdtab));
	if (!fdtab)
		fdmax = 0;
	pthread_atfork(before_fork, after_fork_parent, after_fork_child);
	if (environ)
		start_serving();
}

/* What needs the environment: once it is there (see run_constructor). */
static void start_serving(void)
{
	static bool started;

	if (started)
		return;
	started = true;
	read_env();
	if (!env_on("DAXFS_RUN_DISABLE") && !is_daemon())
		adopt_inherited();
	else
		fdmax = 0;
}

void run_init(void)
{
	if (__atomic_load_n(&init_state, __ATOMIC_ACQUIRE) == 2 || initializing)
		return;
	pthread_mutex_lock(&init_lock);
	if (init_state != 2) {
		initializing = true;
		init_state = 1;
		init_once();
		__atomic_store_n(&init_state, 2, __ATOMIC_RELEASE);
		initializing = false;
	}
	pthread_mutex_unlock(&init_lock);
}

/* A sanitizer's start-up opens files before libc has set up the
 * environment, and so runs init early: what needs the environment (the
 * variables, the descriptors inherited across exec) waits until
 * constructors run. */
__attribute__((constructor)) static void run_constructor(void)
{
	run_init();
	pthread_mutex_lock(&init_lock);
	start_serving();
	pthread_mutex_unlock(&init_lock);
}
