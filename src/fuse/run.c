/* fuse/run.c - the table the daemon shares with daxfs-run: per leased inode its layout generation, size, cache state, plain writers */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "daxfs/dax.h"
#include "daxfs/dm.h"
#include "daxfs/ioctl.h"
#include "fuse/extmap.h"
#include "fuse/run.h"
#include "fuse/run_internal.h"
#include "util/clock.h"
#include "util/err.h"

/*
 * daxfs-run processes store into a file's blocks without asking the daemon,
 * so whatever they must know about the file between two requests lives here,
 * in a memfd mapped read-write by the daemon and read-only by them: one slot
 * per inode with a lease taken through DAXFS_IOC_RUN_OPEN (daxfs/ioctl.h says
 * what each field promises). The daemon only ever stores into the table and
 * never waits on anything a client controls, except for the extend lock it
 * takes, with a time limit, when a new plain writer opens a file, for an
 * append of its own to a file daxfs-run processes may append to, and for a
 * request that opens a gap past EOF of a leased file.
 *
 * Besides the slots the daemon keeps, per inode that has writable open files
 * or a slot, how many open files can write it and how many of those
 * daxfs-run serves (marked), so that plain_writers is their difference, plus
 * the extensions through the daemon (dfuse_run_extend_begin).
 */

static unsigned hash(uint64_t v)
{
	return (unsigned)((v * 0x9e3779b97f4a7c15ull) >> 52) % RUN_BUCKETS;
}

/* lock held */
struct run_ino *run_find(struct dfuse_run *r, uint64_t ino)
{
	struct run_ino *p = r->bucket[hash(ino)];

	while (p && p->ino != ino)
		p = p->next;
	return p;
}

/* lock held for writing */
struct run_ino *run_get(struct dfuse_run *r, uint64_t ino)
{
	struct run_ino *p = run_find(r, ino);

	if (p || !(p = calloc(1, sizeof(*p))))
		return p;
	p->ino = ino;
	p->slot = -1;
	p->rec = -1;
	pthread_mutex_init(&p->pub, NULL);
	p->next = r->bucket[hash(ino)];
	r->bucket[hash(ino)] = p;
	return p;
}

/* lock held (for writing, or with p->pub): whether nothing needs p any more */
static bool run_unneeded(const struct run_ino *p)
{
	return !p->writable && !p->marked && !p->extending && p->slot < 0 && !p->changing &&
	       !p->nmap && !p->ahead_end && !p->giving_back;
}

/* lock held for writing: drops a record nothing needs any more */
void run_maybe_drop(struct dfuse_run *r, struct run_ino *p)
{
	struct run_ino **pp = &r->bucket[hash(p->ino)];

	if (!run_unneeded(p))
		return;
	while (*pp != p)
		pp = &(*pp)->next;
	*pp = p->next;
	pthread_mutex_destroy(&p->pub);
	free(p->map);
	free(p);
}

static struct daxfs_run_slot *slot_of(struct dfuse_run *r, const struct run_ino *p)
{
	return p->slot >= 0 ? &r->slots[p->slot] : NULL;
}

static void set_plain(struct dfuse_run *r, const struct run_ino *p)
{
	struct daxfs_run_slot *s = slot_of(r, p);

	if (s)
		__atomic_store_n(&s->plain_writers, p->writable - p->marked + p->extending,
				 __ATOMIC_SEQ_CST);
}

/* The freeze of a lockfs suspend: daxfs-run's write()s take the ordinary
 * path, to the write gate, until the thaw. */
/*
 * Where daxfs-run writes size records (fs/runrec.c), in the head: none on a
 * read-only mount, or when the block does not resolve to one device's
 * bytes (no DAX there). Set once, before any slot is handed out; after a
 * table swap (again), a block that moved ends the records for the rest of
 * the mount rather than changing fields a process may be reading.
 */
static void run_place_records(struct dfuse *df, bool again)
{
	struct daxfs_run_head *h = df->run->head;
	struct dfs_runrec_area a;
	struct dm_resolution res;
	bool found = dfs_runrec_area(df->fs, &a) == 0 &&
		     dfuse_extmap_piece(df, a.pos, 4096, &res) == 4096 && res.error == 0 &&
		     res.device_index >= 0;

	if (again) {
		if (!found || h->rec_pos != a.pos || h->rec_dev != (uint32_t)res.device_index ||
		    h->rec_devoff != res.device_offset)
			__atomic_store_n(&h->rec_pairs, 0, __ATOMIC_SEQ_CST);
		return;
	}
	if (!found)
		return;
	h->rec_pos = a.pos;
	h->rec_label_sector = a.label_sector;
	h->mount_count = a.mount_count;
	h->rec_dev = (uint32_t)res.device_index;
	h->rec_devoff = res.device_offset;
	__atomic_store_n(&h->rec_pairs, a.pairs < RUN_REC_PAIRS_MAX ? a.pairs : RUN_REC_PAIRS_MAX,
			 __ATOMIC_SEQ_CST);
}

static void run_frozen(void *arg, bool frozen)
{
	struct dfuse_run *r = arg;

	__atomic_store_n(&r->head->frozen, frozen, __ATOMIC_SEQ_CST);
}

/*
 * The liveness lock (daxfs_run_head.alive): a daxfs-run process that outlives
 * us (kill -9) still maps the members, and once the filesystem is mounted
 * again the blocks it maps may be freed and given to other files, which its
 * stores would then overwrite. Our leases held those blocks; the next daemon
 * knows nothing of them. The lock is on the table's memfd, through an open
 * file nobody else shares (descriptors handed over are the same open file,
 * whose lock would outlive us in them); our death or exit releases it, and
 * such a process, waiting for it, stops storing. Taken before the seals,
 * which forbid opening the memfd for writing again.
 */
static void take_alive_lock(struct dfuse_run *r)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", r->memfd);
	if ((fd = open(path, O_RDWR | O_CLOEXEC)) >= 0 && fcntl(fd, F_OFD_SETLK, &fl) == 0) {
		r->alive_fd = fd;
		r->head->alive = 1;
		return;
	}
	fuse_log(FUSE_LOG_DEBUG, "daxfs-fuse: daxfs-run table: no liveness lock (%s): daxfs-run "
		 "processes will not notice this daemon's end\n", strerror(errno));
	if (fd >= 0)
		close(fd);
}

int dfuse_run_start(struct dfuse *df)
{
	struct dfuse_run *r;
	size_t bytes = (size_t)RUN_SLOTS * sizeof(struct daxfs_run_slot) +
		       sizeof(struct daxfs_run_head);
	size_t pend_bytes = (size_t)RUN_SLOTS * sizeof(struct daxfs_run_pending);
	struct dm_ioctl_result dev0;
	int err;

	df->run = NULL;
	/* Nothing to share without direct access; with the writeback cache
	 * leases are refused anyway. */
	if (!dfs_uses_dax(df->fs) || df->writeback)
		return 0;
	if (dm_ioctl(df->md, &(struct dm_ioctl_req){ .cmd = DM_IOC_DEVICE, .index = 0 }, &dev0) < 0) {
		dm_ioctl_result_free(&dev0);
		return 0;
	}
	if (!(r = calloc(1, sizeof(*r)))) {
		dm_ioctl_result_free(&dev0);
		return daxfs_err(-ENOMEM, "out of memory");
	}
	pthread_rwlock_init(&r->lock, NULL);
	snprintf(r->lock_path, sizeof(r->lock_path), "%s", dev0.devices[0].path);
	dm_ioctl_result_free(&dev0);
	r->pend_fd = -1;
	r->alive_fd = -1;
	/* A memfd is made mode 0777: whoever is handed a descriptor could
	 * open it afresh read-write through /proc/self/fd. 0644: processes
	 * reopen it only read-only (alive.c), only the daemon writes. */
	r->memfd = memfd_create("daxfs-run-table", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (r->memfd < 0 || fchmod(r->memfd, 0644) < 0 || ftruncate(r->memfd, (off_t)bytes) < 0) {
		err = daxfs_err(-errno, "daxfs-run table: %s", strerror(errno));
		goto fail;
	}
	r->slots = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, r->memfd, 0);
	if (r->slots == MAP_FAILED) {
		r->slots = NULL;
		err = daxfs_err(-errno, "daxfs-run table: mmap: %s", strerror(errno));
		goto fail;
	}
	r->head = (struct daxfs_run_head *)(r->slots + RUN_SLOTS);
	take_alive_lock(r);
	/* From here on nobody maps it writable again, whatever descriptor
	 * reaches them; our own mapping stays writable. */
	if (fcntl(r->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE) < 0) {
		err = daxfs_err(-errno, "daxfs-run table: seal: %s", strerror(errno));
		goto fail;
	}
	do {
		if (getrandom(&r->head->id, sizeof(r->head->id), 0) != sizeof(r->head->id)) {
			err = daxfs_err(-errno, "daxfs-run table: getrandom: %s", strerror(errno));
			goto fail;
		}
	} while (r->head->id == 0);
	/* Writers store into this one; a fixed size, so that our mapping
	 * never faults whatever a client does to its descriptor. */
	r->pend_fd = memfd_create("daxfs-run-pending", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (r->pend_fd < 0 || fchmod(r->pend_fd, 0644) < 0 ||
	    ftruncate(r->pend_fd, (off_t)pend_bytes) < 0 ||
	    fcntl(r->pend_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		err = daxfs_err(-errno, "daxfs-run pending sizes: %s", strerror(errno));
		goto fail;
	}
	r->pend = mmap(NULL, pend_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, r->pend_fd, 0);
	if (r->pend == MAP_FAILED) {
		r->pend = NULL;
		err = daxfs_err(-errno, "daxfs-run pending sizes: mmap: %s", strerror(errno));
		goto fail;
	}
	df->run = r;
	run_place_records(df, false);
	r->head->traced = dfs_persists_traced(df->fs);
	dfs_set_freeze_hook(df->fs, run_frozen, r);
	return 0;
fail:
	if (r->pend)
		munmap(r->pend, pend_bytes);
	if (r->pend_fd >= 0)
		close(r->pend_fd);
	if (r->slots)
		munmap(r->slots, bytes);
	if (r->memfd >= 0)
		close(r->memfd);
	if (r->alive_fd >= 0)
		close(r->alive_fd);
	pthread_rwlock_destroy(&r->lock);
	free(r);
	return err;
}

void dfuse_run_stop(struct dfuse *df)
{
	struct dfuse_run *r = df->run;

	if (!r)
		return;
	dfs_set_freeze_hook(df->fs, NULL, NULL);
	for (unsigned i = 0; i < RUN_BUCKETS; i++) {
		while (r->bucket[i]) {
			struct run_ino *p = r->bucket[i];

			r->bucket[i] = p->next;
			pthread_mutex_destroy(&p->pub);
			free(p->map);
			free(p);
		}
		while (r->marks[i]) {
			struct run_mark *m = r->marks[i];

			r->marks[i] = m->next;
			free(m);
		}
	}
	munmap(r->slots, (size_t)RUN_SLOTS * sizeof(struct daxfs_run_slot) +
	       sizeof(struct daxfs_run_head));
	munmap(r->pend, (size_t)RUN_SLOTS * sizeof(struct daxfs_run_pending));
	close(r->memfd);
	close(r->pend_fd);
	if (r->alive_fd >= 0)
		close(r->alive_fd);      /* daxfs-run processes stop storing */
	pthread_rwlock_destroy(&r->lock);
	free(r);
	df->run = NULL;
}

int dfuse_run_table_fd(struct dfuse *df)
{
	char path[64];
	int fd;

	if (!df->run)
		return daxfs_err(-EOPNOTSUPP, "this mount shares no daxfs-run table");
	/* a descriptor of its own, read-only (and the seal forbids writable
	 * mappings through any descriptor) */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", df->run->memfd);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return daxfs_err(-errno, "daxfs-run table: %s", strerror(errno));
	return fd;
}

int dfuse_run_pending_fd(struct dfuse *df, bool write)
{
	char path[64];
	int fd;

	if (!df->run)
		return daxfs_err(-EOPNOTSUPP, "this mount shares no daxfs-run table");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", df->run->pend_fd);
	if ((fd = open(path, (write ? O_RDWR : O_RDONLY) | O_CLOEXEC)) < 0)
		return daxfs_err(-errno, "daxfs-run pending sizes: %s", strerror(errno));
	return fd;
}

unsigned dfuse_run_nslots(const struct dfuse *df)
{
	return df->run ? RUN_SLOTS : 0;
}

uint32_t dfuse_run_table_id(const struct dfuse *df)
{
	return df->run ? df->run->head->id : 0;
}

/* ---- marks: open files daxfs-run serves ------------------------------------- */

/* lock held */
static bool marked(struct dfuse_run *r, uint64_t fh)
{
	for (struct run_mark *m = r->marks[hash(fh)]; m; m = m->next)
		if (m->fh == fh)
			return true;
	return false;
}

/* lock held for writing */
static bool unmark(struct dfuse_run *r, uint64_t fh)
{
	for (struct run_mark **mp = &r->marks[hash(fh)]; *mp; mp = &(*mp)->next) {
		if ((*mp)->fh == fh) {
			struct run_mark *m = *mp;

			*mp = m->next;
			free(m);
			return true;
		}
	}
	return false;
}

/* lock held for writing; fh is a writable open file of p's inode */
static int mark(struct dfuse_run *r, struct run_ino *p, uint64_t fh)
{
	struct run_mark *m;

	if (marked(r, fh))
		return 0;
	if (!(m = malloc(sizeof(*m))))
		return daxfs_err(-ENOMEM, "out of memory");
	m->fh = fh;
	m->next = r->marks[hash(fh)];
	r->marks[hash(fh)] = m;
	p->marked++;
	set_plain(r, p);
	return 0;
}

/* ---- the extend lock ------------------------------------------------------ */

/*
 * A read lock of ino's byte of backing device 0, which daxfs-run holds for
 * writing while it extends the file: a plain writer counted under it is seen
 * by every extension after, and none is half done. A descriptor of its own
 * per call, since OFD locks of one descriptor do not exclude each other.
 * Waits at most LOCK_TIMEOUT_NS: a client that holds the lock longer harms
 * only the files it may write anyway.
 */
static int extend_lock(struct dfuse_run *r, uint64_t ino)
{
	struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET,
			    .l_start = (off_t)(DAXFS_RUN_LOCK_BASE + ino), .l_len = 1 };
	struct timespec nap = { 0, 20000 };
	long long waited = 0;
	int fd = open(r->lock_path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
		if ((errno != EAGAIN && errno != EACCES && errno != EINTR) ||
		    waited >= LOCK_TIMEOUT_NS) {
			fuse_log(FUSE_LOG_WARNING, "daxfs-fuse: inode %" PRIu64 ": no extend lock "
				 "after %lld ms (%s): counting the new writer without it\n", ino,
				 waited / 1000000, strerror(errno));
			break;
		}
		nanosleep(&nap, NULL);
		waited += nap.tv_nsec;
		if (nap.tv_nsec < 1000000)
			nap.tv_nsec *= 2;
	}
	return fd;          /* closing it drops the lock */
}

/* ---- extensions through the daemon ------------------------------------------ */

/*
 * An append of ours and one of a daxfs-run process must not take the same
 * end of the file: a write of theirs that fell back while a plain writer was
 * counted is still on its way here when the count goes back to 0 and they
 * append directly again, and one record would be lost. So an append counts
 * as a plain writer until it has published the new size, and is made under
 * the extend lock, which waits for an extension already under way; the ones
 * after see the count and come through us too.
 *
 * A request that opens a gap past EOF of a leased file takes the lock too:
 * with no holder's write past EOF on its way, the gap holds only stores
 * through mappings past EOF, which the filesystem zeroes once told so
 * (dfs_lease_fence). Without the lock (its time limit) the gap keeps them.
 *
 * The write gate first: the lock is never held while a thaw is awaited.
 */
int dfuse_run_extend_begin(struct dfuse *df, uint64_t ino, uint64_t gap_end,
			   struct dfuse_run_extend *a)
{
	struct dfuse_run *r = df->run;
	bool append = gap_end == DFUSE_RUN_APPEND, leased = false;
	struct run_ino *p;
	struct stat st;
	int err;

	*a = (struct dfuse_run_extend){ .lockfd = -1 };
	if (r && atomic_load(&r->used) > 0) {
		pthread_rwlock_rdlock(&r->lock);
		leased = (p = run_find(r, ino)) && p->slot >= 0;
		pthread_rwlock_unlock(&r->lock);
	}
	/* a gap: only a lease holder may be storing there, libdaxfs's too */
	if (!append)
		leased = r && dfs_lease_count(df->fs, ino) > 0 &&
			 dfs_getattr(df->fs, ino, &st) == 0 && gap_end > (uint64_t)st.st_size;
	if (leased) {
		if ((err = dfs_start_write(df->fs)) < 0)
			return err;
		a->gated = true;
		pthread_rwlock_wrlock(&r->lock);
		if ((p = run_find(r, ino)) && p->slot >= 0) {
			p->extending++;
			set_plain(r, p);
			a->counted = true;
		}
		pthread_rwlock_unlock(&r->lock);
		/* the last lease may have gone meanwhile: an append has nobody
		 * to order against */
		if (a->counted || !append)
			a->lockfd = extend_lock(r, ino);    /* -1: as after its time limit */
		if ((a->fenced = a->lockfd >= 0 && !append))
			dfs_lease_fence(df->fs, ino, true);
	}
	/* after what daxfs-run extended */
	dfuse_run_fold(df, ino);
	return 0;
}

void dfuse_run_extend_end(struct dfuse *df, uint64_t ino, const struct dfuse_run_extend *a)
{
	struct dfuse_run *r = df->run;
	struct run_ino *p;

	dfuse_run_publish(df, ino, true);
	if (a->fenced)
		dfs_lease_fence(df->fs, ino, false);
	if (a->lockfd >= 0)
		close(a->lockfd);
	if (a->counted) {
		pthread_rwlock_wrlock(&r->lock);
		if ((p = run_find(r, ino)) && p->extending) {
			p->extending--;
			set_plain(r, p);
			run_maybe_drop(r, p);
		}
		pthread_rwlock_unlock(&r->lock);
	}
	if (a->gated)
		dfs_end_write(df->fs);
}

/* ---- open files ------------------------------------------------------------ */

void dfuse_run_opened(struct dfuse *df, uint64_t ino, uint64_t fh, bool writable)
{
	struct dfuse_run *r = df->run;
	struct run_ino *p;
	bool leased;

	(void)fh;
	if (!r || !writable)
		return;
	pthread_rwlock_wrlock(&r->lock);
	if ((p = run_get(r, ino))) {
		p->writable++;
		set_plain(r, p);
	} else {
		fuse_log(FUSE_LOG_ERR, "daxfs-fuse: daxfs-run table: out of memory: inode %" PRIu64
			 " is not counted as written\n", ino);
	}
	leased = p && p->slot >= 0;
	pthread_rwlock_unlock(&r->lock);
	if (leased) {
		/* Counted first, then the extend lock: an extension under way
		 * ends before we go on, and every one after sees the count
		 * (daxfs-run looks under the lock) and comes through us. The
		 * other order would have to find the lock free between two
		 * extensions of busy writers. */
		int lockfd = extend_lock(r, ino);

		/* from now on daxfs-run extends through us: what it extended
		 * itself is the file's first */
		dfuse_run_fold(df, ino);
		if (lockfd >= 0)
			close(lockfd);
	}
}

/* lock held for writing */
static void free_slot(struct dfuse_run *r, struct run_ino *p)
{
	struct daxfs_run_slot *s = slot_of(r, p);

	__atomic_store_n(&s->ino, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&s->rec, 0, __ATOMIC_SEQ_CST);
	if (p->rec >= 0)
		r->rec_owner[p->rec] = NULL;
	p->rec = -1;
	p->slot = -1;
	atomic_fetch_sub(&r->used, 1);
}

/* lock held for writing: frees p's slot once no lease is left, and then
 * returns the end of what was allocated ahead and not given back (0:
 * nothing), for give_back_ahead after the lock */
static uint64_t unleased(struct dfuse *df, struct run_ino *p)
{
	uint64_t ahead = 0;

	if ((p->slot < 0 && !p->ahead_end) || dfs_lease_count(df->fs, p->ino) != 0)
		return 0;
	if (p->slot >= 0)
		free_slot(df->run, p);
	ahead = p->ahead_end;
	p->ahead_end = 0;
	if (ahead) {
		p->giving_back++;
		atomic_fetch_add(&df->run->giving_back, 1);
	}
	return ahead;
}

/*
 * What a holder allocated ahead past EOF and did not give back at its last
 * close because it died first: no lease is left, so nobody stores there
 * before telling the size, and the blocks past EOF go back as daxfs-run's
 * close would have given them (after the fold that made what it wrote the
 * file's). A lease taken meanwhile leaves them to its holder, who inherits
 * the end.
 */
static void give_back_ahead(struct dfuse *df, uint64_t ino, uint64_t end)
{
	struct dfuse_run *r = df->run;
	struct run_ino *p;
	int ret;

	if (!end)
		return;
	ret = dfs_trim_unshared(df->fs, ino, 0, end, 0);
	/* given back: st_blocks changed with no request of the kernel's about
	 * the file. A GETATTR answered meanwhile had attributes the kernel
	 * may not keep (dfuse_run_attr_timeout); one read before the trim and
	 * answered after giving_back drops is outdated by this */
	if (ret == 1)
		(void)dfuse_inval_inode(df, ino, -1, 0);
	pthread_rwlock_wrlock(&r->lock);
	if ((p = run_find(r, ino))) {       /* kept by giving_back */
		/* left to a holder that came meanwhile: it inherits the end */
		if (ret == 0 && end > p->ahead_end)
			p->ahead_end = end;
		p->giving_back--;
		atomic_fetch_sub(&r->giving_back, 1);
		run_maybe_drop(r, p);
	}
	pthread_rwlock_unlock(&r->lock);
	/* a file already gone has nothing to give back */
	if (ret < 0 && ret != -ENOENT && ret != -ESTALE)
		fuse_log(FUSE_LOG_WARNING, "daxfs-fuse: inode %" PRIu64 ": giving back the blocks "
			 "allocated ahead past EOF: %s\n", ino, daxfs_errormsg());
}

int dfuse_run_ahead(struct dfuse *df, uint64_t ino, uint64_t end)
{
	struct dfuse_run *r = df->run;
	struct run_ino *p;

	if (!r)
		return 0;
	pthread_rwlock_wrlock(&r->lock);
	if ((p = run_get(r, ino)) && end > p->ahead_end)
		p->ahead_end = end;
	pthread_rwlock_unlock(&r->lock);
	return p ? 0 : daxfs_err(-ENOMEM, "daxfs-run table: out of memory");
}

void dfuse_run_ahead_trimmed(struct dfuse *df, uint64_t ino, uint64_t end)
{
	struct dfuse_run *r = df->run;
	struct run_ino *p;

	if (!r)
		return;
	pthread_rwlock_wrlock(&r->lock);
	if ((p = run_find(r, ino)) && end >= p->ahead_end) {
		p->ahead_end = 0;
		run_maybe_drop(r, p);
	}
	pthread_rwlock_unlock(&r->lock);
}

/*
 * Before the slot of ino can go with its size record pair (no lease left):
 * the size its records made durable is made durable by a commit, since the
 * pair's next owner writes over them. Outside the table's lock (the commit
 * may wait at the write gate for a thaw).
 */
static void settle_records(struct dfuse *df, uint64_t ino)
{
	struct dfuse_run *r = df->run;
	struct run_ino *p;
	bool has;

	pthread_rwlock_rdlock(&r->lock);
	has = (p = run_find(r, ino)) && p->rec >= 0 && dfs_lease_count(df->fs, ino) == 0;
	pthread_rwlock_unlock(&r->lock);
	int err = has ? dfs_fsync(df->fs, ino, true) : 0;

	/* a file already gone has no size to keep */
	if (err < 0 && err != -ENOENT && err != -ESTALE)
		fuse_log(FUSE_LOG_WARNING, "daxfs-fuse: inode %" PRIu64 ": committing the size its "
			 "size records hold: %s\n", ino, daxfs_errormsg());
}

void dfuse_run_released(struct dfuse *df, uint64_t ino, uint64_t fh, bool writable)
{
	struct dfuse_run *r = df->run;
	struct run_ino *p;
	uint64_t ahead = 0;

	if (!r)
		return;
	/* a writer's last close (or its death): what it wrote is the file's
	 * before the slot can go (outside the table's lock: the fold may wait
	 * at the write gate for a thaw) */
	dfuse_run_fold(df, ino);
	settle_records(df, ino);
	pthread_rwlock_wrlock(&r->lock);
	if ((p = run_find(r, ino))) {
		if (unmark(r, fh) && p->marked)
			p->marked--;
		if (writable && p->writable)
			p->writable--;
		for (unsigned i = 0; i < p->nmap; i++)
			if (p->map[i].fh == fh)
				p->map[i--] = p->map[--p->nmap];
		set_plain(r, p);
		ahead = unleased(df, p);
		run_maybe_drop(r, p);
	}
	pthread_rwlock_unlock(&r->lock);
	give_back_ahead(df, ino, ahead);
}

void dfuse_run_unleased(struct dfuse *df, uint64_t ino)
{
	struct dfuse_run *r = df->run;
	struct run_ino *p;
	uint64_t ahead = 0;

	if (!r)
		return;
	dfuse_run_fold(df, ino);
	settle_records(df, ino);
	pthread_rwlock_wrlock(&r->lock);
	if ((p = run_find(r, ino))) {
		ahead = unleased(df, p);
		run_maybe_drop(r, p);
	}
	pthread_rwlock_unlock(&r->lock);
	give_back_ahead(df, ino, ahead);
}

/* ---- publishing --------------------------------------------------------- */

/* p->pub held: the size and the set-id flag as the filesystem has them */
static void publish(struct dfuse *df, struct run_ino *p)
{
	struct daxfs_run_slot *s = slot_of(df->run, p);
	struct stat st;

	if (!s || dfs_getattr(df->fs, p->ino, &st) < 0)
		return;
	if (dfuse_mode_setid(st.st_mode))
		__atomic_fetch_or(&s->flags, DAXFS_RUN_SETID, __ATOMIC_SEQ_CST);
	else
		__atomic_fetch_and(&s->flags, ~(uint32_t)DAXFS_RUN_SETID, __ATOMIC_SEQ_CST);
	uint32_t generation, epoch;

	if (dfs_size_stamp(df->fs, p->ino, &generation, &epoch) == 0) {
		__atomic_store_n(&s->generation, generation, __ATOMIC_RELEASE);
		__atomic_store_n(&s->size_epoch, epoch, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&s->size, (uint64_t)st.st_size, __ATOMIC_RELEASE);
}

/* lock held for writing: a free size record pair for p's slot, if any;
 * without one its writers' fdatasync asks the daemon */
static void take_record_pair(struct dfuse_run *r, struct run_ino *p)
{
	uint32_t pairs = __atomic_load_n(&r->head->rec_pairs, __ATOMIC_SEQ_CST);

	for (uint32_t k = 0; k < pairs; k++) {
		if (!r->rec_owner[k]) {
			r->rec_owner[k] = p;
			p->rec = (int)k;
			__atomic_store_n(&slot_of(r, p)->rec, k + 1, __ATOMIC_SEQ_CST);
			return;
		}
	}
}

int dfuse_run_attach(struct dfuse *df, uint64_t ino, uint64_t fh, bool serve, uint32_t *slot)
{
	struct dfuse_run *r = df->run;
	struct run_ino *p;
	int err = 0;

	if (!r)
		return daxfs_err(-EOPNOTSUPP, "this mount shares no daxfs-run table (no DAX, or a "
				 "writeback cache)");
	pthread_rwlock_wrlock(&r->lock);
	if (!(p = run_get(r, ino))) {
		err = daxfs_err(-ENOMEM, "out of memory");
		goto out;
	}
	if (p->slot < 0) {
		unsigned i, n = 0;

		for (i = r->next_free; n < RUN_SLOTS; i = (i + 1) % RUN_SLOTS, n++)
			if (__atomic_load_n(&r->slots[i].ino, __ATOMIC_RELAXED) == 0)
				break;
		if (n == RUN_SLOTS) {
			err = daxfs_err(-ENOSPC, "the daxfs-run table is full (%u files)", RUN_SLOTS);
			run_maybe_drop(r, p);
			goto out;
		}
		struct daxfs_run_slot *s = &r->slots[i];
		r->next_free = (i + 1) % RUN_SLOTS;
		p->slot = (int)i;
		pthread_mutex_lock(&p->pub);
		/* A slot's generation never goes back, so that a process that
		 * kept a stale slot number sees a change; the kernel may hold
		 * pages from before the first lease. A change of the layout in
		 * progress (begun before the inode had this slot) shows as an
		 * odd gen, which its end makes even. */
		uint64_t gen = __atomic_load_n(&s->gen, __ATOMIC_RELAXED);
		__atomic_store_n(&s->gen, (gen | 1) + 1 + (p->changing > 0), __ATOMIC_SEQ_CST);
		__atomic_store_n(&s->flags, DAXFS_RUN_CACHED, __ATOMIC_SEQ_CST);
		__atomic_fetch_add(&s->alloc_gen, 1, __ATOMIC_SEQ_CST);
		__atomic_store_n(&r->pend[i].end, 0, __ATOMIC_SEQ_CST);
		__atomic_store_n(&p->writes_seen, __atomic_load_n(&r->pend[i].writes,
								  __ATOMIC_SEQ_CST), __ATOMIC_RELAXED);
		set_plain(r, p);
		publish(df, p);
		/* what the processes that map through this slot see first */
		if (p->changing > 0)
			p->size_before = __atomic_load_n(&s->size, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&p->pub);
		__atomic_store_n(&s->ino, ino, __ATOMIC_SEQ_CST);
		atomic_fetch_add(&r->used, 1);
	}
	if (serve && (err = mark(r, p, fh)))
		goto out;
	if (serve && p->rec < 0)
		take_record_pair(r, p);
	*slot = (uint32_t)p->slot;
out:
	pthread_rwlock_unlock(&r->lock);
	return err;
}

int dfuse_run_mark(struct dfuse *df, uint64_t ino, uint64_t fh)
{
	struct dfuse_run *r = df->run;
	struct run_ino *p;
	int err;

	if (!r)
		return daxfs_err(-EOPNOTSUPP, "this mount shares no daxfs-run table");
	pthread_rwlock_wrlock(&r->lock);
	err = (p = run_get(r, ino)) ? mark(r, p, fh) : daxfs_err(-ENOMEM, "out of memory");
	pthread_rwlock_unlock(&r->lock);
	return err;
}

/* Runs fn on ino's record with its pub lock held, if ino has a slot. */
static void with_slot(struct dfuse *df, uint64_t ino, void (*fn)(struct dfuse *, struct run_ino *,
								  unsigned), unsigned arg)
{
	struct dfuse_run *r = df->run;
	struct run_ino *p;

	if (!r || atomic_load(&r->used) == 0)
		return;
	pthread_rwlock_rdlock(&r->lock);
	if ((p = run_find(r, ino)) && p->slot >= 0) {
		pthread_mutex_lock(&p->pub);
		fn(df, p, arg);
		pthread_mutex_unlock(&p->pub);
	}
	pthread_rwlock_unlock(&r->lock);
}

static void do_publish(struct dfuse *df, struct run_ino *p, unsigned alloc)
{
	if (alloc)
		__atomic_fetch_add(&slot_of(df->run, p)->alloc_gen, 1, __ATOMIC_SEQ_CST);
	publish(df, p);
}

void dfuse_run_publish(struct dfuse *df, uint64_t ino, bool allocated)
{
	with_slot(df, ino, do_publish, allocated);
}

/* ---- pending sizes ---------------------------------------------------------- */

/*
 * Folds p's pending record into the inode (daxfs/ioctl.h, struct
 * daxfs_run_pending): the size grows to its end when every block from the
 * size to it is written (dfs_write_extend checks), mtime and ctime become
 * now when writes moved. p->pub held, or the table's lock for writing. A
 * claim the filesystem refuses (stores through an out-of-date mapping, or a
 * client that wrote nonsense) is dropped: the record's end goes back to 0.
 *
 * take_end: whether the end counts. While a change of the layout is in
 * progress it counts only for the fold that opens the change: what the
 * record holds after that is a claim this fold took already (the end stays
 * until the change's end clears it), which a truncate makes look like a new
 * one once it cut the size below it, or a claim of a writer that raced the
 * change, which the writer takes back and makes through a request. Taking
 * either would raise the size the change is setting.
 */
static void fold(struct dfuse *df, struct run_ino *p, bool take_end)
{
	struct daxfs_run_pending *pe = &df->run->pend[p->slot];
	uint64_t end = take_end ? __atomic_load_n(&pe->end, __ATOMIC_SEQ_CST) : 0;
	uint64_t writes = __atomic_load_n(&pe->writes, __ATOMIC_SEQ_CST);
	unsigned ext = writes != p->writes_seen ? DFS_EXTEND_TIME : 0;
	struct stat st;
	int err;

	if (end == 0 && !ext)
		return;
	if (dfs_getattr(df->fs, p->ino, &st) < 0)
		return;
	if (end > (uint64_t)st.st_size)
		ext |= DFS_EXTEND_SIZE;
	if (!ext)
		return;
	err = dfs_write_extend(df->fs, p->ino, (uint64_t)st.st_size,
			       (ext & DFS_EXTEND_SIZE) ? end - (uint64_t)st.st_size : 0, ext);
	/* only a claim the filesystem refuses is dropped: one it could not
	 * take now (no room in the journal, a failed commit) stays for the
	 * next fold */
	if ((err == -ESTALE || err == -EINVAL) && (ext & DFS_EXTEND_SIZE)) {
		/* Right after a change of the layout, a claim of blocks it took
		 * away is a writer's that raced it: the writer sees the change,
		 * takes its claim back and writes through us. Else stores went
		 * through a mapping out of date, or the client wrote nonsense. */
		bool raced = err == -ESTALE &&
			     daxfs_clock_s(CLOCK_MONOTONIC_COARSE) - p->layout_ended <= 1;

		fuse_log(raced ? FUSE_LOG_DEBUG : FUSE_LOG_WARNING, "daxfs-fuse: inode %" PRIu64
			 ": a daxfs-run size of %" PRIu64 " is not taken: %s\n", p->ino, end,
			 daxfs_errormsg());
		(void)__atomic_compare_exchange_n(&pe->end, &end, 0, false, __ATOMIC_SEQ_CST,
						  __ATOMIC_SEQ_CST);
		if ((ext &= ~(unsigned)DFS_EXTEND_SIZE))
			err = dfs_write_extend(df->fs, p->ino, 0, 0, ext);
	}
	if (err == 0)
		__atomic_store_n(&p->writes_seen, writes, __ATOMIC_RELAXED);  /* fold_pending */
	publish(df, p);
}

/* Whether ino's pending record holds a claim or writes a fold would take
 * (a hint: the fold looks again under the locks). */
static bool fold_pending(struct dfuse *df, uint64_t ino)
{
	struct dfuse_run *r = df->run;
	struct run_ino *p;
	bool pending = false;

	if (!r || atomic_load(&r->used) == 0)
		return false;
	pthread_rwlock_rdlock(&r->lock);
	if ((p = run_find(r, ino)) && p->slot >= 0) {
		const struct daxfs_run_pending *pe = &r->pend[p->slot];

		pending = __atomic_load_n(&pe->end, __ATOMIC_SEQ_CST) != 0 ||
			  __atomic_load_n(&pe->writes, __ATOMIC_SEQ_CST) !=
			  __atomic_load_n(&p->writes_seen, __ATOMIC_RELAXED);
	}
	pthread_rwlock_unlock(&r->lock);
	return pending;
}

static void do_fold(struct dfuse *df, struct run_ino *p, unsigned unused)
{
	(void)unused;
	fold(df, p, p->changing == 0);
}

/*
 * A fold commits, so it enters the write gate, and that before the table's
 * lock: waiting there for a thaw with the lock held would keep every
 * release and open (they take it for writing) waiting for it in turn, in
 * workers the pool does not count as waiting, until none was left for the
 * resume that ends the freeze. A gate that does not open (the request was
 * interrupted, the filesystem shut down) leaves the claims for a later fold.
 */
void dfuse_run_fold(struct dfuse *df, uint64_t ino)
{
	/* nothing to fold, no gate: reads go on at a frozen filesystem */
	if (!fold_pending(df, ino) || dfs_start_write(df->fs) < 0)
		return;
	with_slot(df, ino, do_fold, 0);
	dfs_end_write(df->fs);
}

double dfuse_run_attr_timeout(const struct dfuse *df, uint64_t ino, double timeout)
{
	struct dfuse_run *r = df->run;
	struct run_ino *p;

	if (!r || (atomic_load(&r->used) == 0 && atomic_load(&r->giving_back) == 0))
		return timeout;
	pthread_rwlock_rdlock(&r->lock);
	if ((p = run_find(r, ino)) && ((p->slot >= 0 && p->marked > 0) || p->giving_back))
		timeout = 0;
	pthread_rwlock_unlock(&r->lock);
	return timeout;
}

static void do_cached(struct dfuse *df, struct run_ino *p, unsigned flags)
{
	__atomic_fetch_or(&slot_of(df->run, p)->flags, flags, __ATOMIC_SEQ_CST);
}

void dfuse_run_cached(struct dfuse *df, uint64_t ino, bool writeback)
{
	with_slot(df, ino, do_cached, DAXFS_RUN_CACHED | (writeback ? DAXFS_RUN_PAGE_MAPPED : 0));
}

bool dfuse_run_uncache(struct dfuse *df, uint64_t ino)
{
	struct dfuse_run *r = df->run;
	struct run_ino *p;
	bool had = false;

	if (!r || atomic_load(&r->used) == 0)
		return false;
	pthread_rwlock_rdlock(&r->lock);
	if ((p = run_find(r, ino)) && p->slot >= 0)
		had = __atomic_fetch_and(&slot_of(r, p)->flags, ~(uint32_t)DAXFS_RUN_CACHED,
					 __ATOMIC_SEQ_CST) & DAXFS_RUN_CACHED;
	pthread_rwlock_unlock(&r->lock);
	return had;
}

/* pub held: the first change in progress makes gen odd, the last one even
 * again, after the size is published; without a slot they are only
 * counted */
static void do_layout(struct dfuse *df, struct run_ino *p, bool begin)
{
	struct daxfs_run_slot *s = slot_of(df->run, p);

	if (begin) {
		/* gen odd first: a daxfs-run write that raises the pending end
		 * after this fold looks at gen afterwards and makes its size
		 * change through a request instead. The size the processes saw
		 * is the larger of the slot's and the pending end, a claim the
		 * fold drops included: a cut below it is recalled. */
		if (p->changing++ == 0 && s) {
			uint64_t end = __atomic_load_n(&df->run->pend[p->slot].end, __ATOMIC_SEQ_CST);

			__atomic_fetch_add(&s->gen, 1, __ATOMIC_SEQ_CST);
			fold(df, p, true);
			p->size_before = __atomic_load_n(&s->size, __ATOMIC_RELAXED);
			if (end > p->size_before)
				p->size_before = end;
		}
		return;
	}
	if (p->changing == 0 || --p->changing > 0 || !s)
		return;
	/* folded at the start: the size is the filesystem's from here */
	__atomic_store_n(&df->run->pend[p->slot].end, 0, __ATOMIC_SEQ_CST);
	__atomic_fetch_add(&s->alloc_gen, 1, __ATOMIC_SEQ_CST);
	publish(df, p);
	if (__atomic_load_n(&s->size, __ATOMIC_RELAXED) < p->size_before)
		p->shrunk = true;
	p->layout_ended = daxfs_clock_s(CLOCK_MONOTONIC_COARSE);
	__atomic_fetch_add(&s->gen, 1, __ATOMIC_SEQ_CST);
}

/*
 * The change is counted on the inode's record whether or not it has a slot
 * (a writable open file keeps a record), and its end also when the slot
 * went meanwhile (the last lease put on another thread): a slot handed out
 * during the change then shows it, and no count is left behind, which
 * would make every later change of the inode look nested in this one and
 * never move gen.
 */
static void layout(struct dfuse *df, uint64_t ino, bool begin)
{
	struct dfuse_run *r = df->run;
	struct run_ino *p;
	bool unused = false, gate;

	if (!r)
		return;
	/* the fold at the start: through the gate before the lock, as in
	 * dfuse_run_fold, whatever is pending (a claim may come before gen
	 * turns odd, and the end clears it). A change is a write: it waits
	 * there anyway. A gate that does not open (interrupted, shut down)
	 * fails the fold's own at once, without waiting. */
	gate = begin && dfs_start_write(df->fs) == 0;
	pthread_rwlock_rdlock(&r->lock);
	if ((p = run_find(r, ino))) {
		pthread_mutex_lock(&p->pub);
		do_layout(df, p, begin);
		unused = !begin && run_unneeded(p);
		pthread_mutex_unlock(&p->pub);
	}
	pthread_rwlock_unlock(&r->lock);
	if (gate)
		dfs_end_write(df->fs);
	if (unused) {
		/* it was kept for the count alone */
		pthread_rwlock_wrlock(&r->lock);
		if ((p = run_find(r, ino)))
			run_maybe_drop(r, p);
		pthread_rwlock_unlock(&r->lock);
	}
}

void dfuse_run_layout_begin(struct dfuse *df, uint64_t ino)
{
	layout(df, ino, true);
}

void dfuse_run_layout_end(struct dfuse *df, uint64_t ino)
{
	layout(df, ino, false);
}

void dfuse_run_changed_all(struct dfuse *df, bool revoke)
{
	struct dfuse_run *r = df->run;

	if (!r)
		return;
	run_place_records(df, true);
	if (atomic_load(&r->used) == 0)
		return;
	/* Not each record's pub lock: a fold holds it across the write gate,
	 * and a forced resume calls this before it thaws that gate. The table's
	 * lock for reading is enough: the one plain store of gen and flags is
	 * a slot's hand-out, under that lock for writing; every other change
	 * of them is an atomic add, or, and, which these commute with. */
	pthread_rwlock_rdlock(&r->lock);
	for (unsigned b = 0; b < RUN_BUCKETS; b++) {
		for (struct run_ino *p = r->bucket[b]; p; p = p->next) {
			struct daxfs_run_slot *s = slot_of(r, p);

			if (!s)
				continue;
			if (revoke)
				__atomic_fetch_or(&s->flags, DAXFS_RUN_REVOKED, __ATOMIC_SEQ_CST);
			/* by two: odd stays odd while a change of the file
			 * itself is in progress, even stays even */
			__atomic_fetch_add(&s->gen, 2, __ATOMIC_SEQ_CST);
		}
	}
	pthread_rwlock_unlock(&r->lock);
}
