/* preload/io.c - libdaxfs-run: pread and pwrite as loads and stores, fsync */
#include <errno.h>
#include <fcntl.h>
#include <libpmem.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "preload/run.h"
#include "util/clock.h"

/*
 * Writes past EOF allocate (DAXFS_IOC_ALLOC, durable at its reply) ahead of
 * the write: an eighth of the file's size, at least ALLOC_AHEAD and at most
 * ALLOC_AHEAD_MAX, so that a file written sequentially asks the daemon for
 * blocks a few times per doubling of its size. Writes into holes within EOF
 * allocate their own pages, as the kernel's DAX path does, so that a sparse
 * file stays sparse, with a window ahead only for a writer that fills it in
 * order (fill_range). The size follows every extending write
 * (DAXFS_IOC_RUN_WRITTEN), which is what another process's stat or read
 * must see. mtime and ctime reach the daemon at most TIME_LAG seconds after
 * a write, and at fsync, close and stat by this process.
 */
#define ALLOC_AHEAD (2ull << 20)
#define ALLOC_AHEAD_MAX (64ull << 20)
#define TIME_LAG 1
/*
 * A read of at least BIG_READ bytes that finds its chunk unmapped maps it
 * without filling its page tables and copies with pread of the member:
 * a sequential reader of a cold file otherwise spends longer filling page
 * tables for pages it reads once than copying them.
 */
#define BIG_READ (128u << 10)
/*
 * The same for writes of at least BIG_WRITE bytes to members in memory
 * (the file's pages are the medium there, nothing to persist): pwrite of
 * the member fills no page tables, which on a guest cost more than the
 * copy (1 GiB: 1.5-1.8 GB/s through freshly populated mappings, 4.7 GB/s
 * with pwrite).
 */
#define BIG_WRITE (128u << 10)

int run_push_times(struct rino *ri, int kfd)
{
	int err;

	ri->time_dirty = false;
	ri->time_pushed = daxfs_clock_s(CLOCK_MONOTONIC_COARSE);
	/* set-id bits stay: mapped stores drop none, and write() stores only
	 * into files without them (or as root) */
	err = run_ioc(kfd, DAXFS_IOC_RUN_WRITTEN, DAXFS_IOC_WRITTEN_TIME | DAXFS_IOC_WRITTEN_MAPPED,
		      0, 0);
	if (err)
		ri->time_dirty = true;
	return err;
}

bool run_traced(const struct rino *ri)
{
	return __atomic_load_n(&ri->head->traced, __ATOMIC_RELAXED);
}

int run_lock(struct rino *ri, bool wr)
{
	bool stale = false;
	int err;

	if (wr)
		pthread_rwlock_wrlock(&ri->lock);
	else
		pthread_rwlock_rdlock(&ri->lock);
	if ((err = run_check(ri, &stale))) {
		pthread_rwlock_unlock(&ri->lock);
		return err;
	}
	if (!stale)
		return 0;
	if (!wr) {
		pthread_rwlock_unlock(&ri->lock);
		pthread_rwlock_wrlock(&ri->lock);
		if ((err = run_check(ri, &stale))) {
			pthread_rwlock_unlock(&ri->lock);
			return err;
		}
	}
	if (stale) {
		run_unmap_all(ri);
		/* the layout changed: blocks it dropped are held from the
		 * allocator while we hold leases; with nothing of the old
		 * layout mapped any more, let them go */
		if (__atomic_load_n(&ri->regions, __ATOMIC_SEQ_CST) == 0 && run_relet(ri) < 0) {
			pthread_rwlock_unlock(&ri->lock);
			return RUN_FALLBACK;
		}
	}
	if (!wr) {
		/* back to a read lock; a change meanwhile is seen next time */
		pthread_rwlock_unlock(&ri->lock);
		pthread_rwlock_rdlock(&ri->lock);
	}
	return 0;
}

/* The chunk of idx as it is mapped now, or NULL when it must be (re)mapped
 * (under the write lock). */
static struct rchunk *current(struct rino *ri, uint64_t idx)
{
	struct rchunk *c = idx < ri->nchunks ? ri->chunks[idx] : NULL;

	if (!c || !c->mapped || c->gen != ri->gen_seen)
		return NULL;
	return c;
}

/* Under the read lock: maps chunk idx under the write lock and goes back
 * to the read lock; lazy: without filling its page tables (a large read). */
static int remap(struct rino *ri, struct rfile *rf, uint64_t idx, bool lazy)
{
	struct rchunk *c;
	int err;

	pthread_rwlock_unlock(&ri->lock);
	if ((err = run_lock(ri, true)))
		return err;
	ri->map_lazy = lazy && !ri->no_pread ? RUN_MAP_LAZY : RUN_MAP_FILLED;
	err = run_chunk(ri, rf, idx, &c);
	ri->map_lazy = RUN_MAP_FILLED;
	pthread_rwlock_unlock(&ri->lock);
	if (err)
		return err;
	return run_lock(ri, false);
}

ssize_t run_pread(struct rfile *rf, void *buf, size_t len, off_t off)
{
	struct rino *ri = rf->ri;
	size_t done = 0;
	uint64_t size;
	int err;

	if (off < 0)
		return -EINVAL;
	if (len == 0 || rf->accmode == O_WRONLY)
		return RUN_FALLBACK;
	if ((err = run_lock(ri, false)))
		return err;
	size = run_size(ri);
	if ((uint64_t)off >= size)
		goto out;
	if (len > size - (uint64_t)off)
		len = (size_t)(size - (uint64_t)off);
	while (done < len) {
		uint64_t pos = (uint64_t)off + done;
		uint64_t idx = pos >> RUN_CHUNK_SHIFT, in = pos & (RUN_CHUNK - 1);
		size_t page = (size_t)(in / RUN_PAGE), n;
		struct rchunk *c = current(ri, idx);

		if (!c) {
			if ((err = remap(ri, rf, idx, len - done >= BIG_READ)))
				goto fail_unlocked;
			continue;
		}
		/* pages of one kind in a row go in one copy */
		size_t last = page;

		while (last + 1 < RUN_CHUNK_PAGES && (last + 1) * RUN_PAGE - in < len - done &&
		       c->kind[last + 1] == c->kind[page])
			last++;
		n = (size_t)((last + 1) * RUN_PAGE - in);
		if (n > len - done)
			n = len - done;
		switch (c->kind[page]) {
		case K_DATA: {
			/* a chunk mapped for a large read has no page tables:
			 * the kernel copies large reads from it faster than
			 * faults fill them */
			size_t got = c->lazy && n >= BIG_READ && !ri->no_pread ?
				     run_read_member(ri, rf, c, idx, in, (char *)buf + done, n) :
				     run_copy((char *)buf + done, c->base + in, n, false);

			done += got;
			/* a page the member could not give (cut short, full):
			 * the bytes before it, then the daemon's read of it,
			 * which fails it with EIO and records it as a bad
			 * block, as its own access would have */
			if (got < n) {
				err = RUN_FALLBACK;
				goto fail;
			}
			break;
		}
		case K_HOLE:
		case K_UNWRITTEN:
			/* blocks another process's write gave the file since
			 * this chunk was mapped are not in it */
			if (c->alloc_gen != __atomic_load_n(&ri->slot->alloc_gen, __ATOMIC_SEQ_CST)) {
				if ((err = remap(ri, rf, idx, false)))
					goto fail_unlocked;
				continue;
			}
			memset((char *)buf + done, 0, n);
			done += n;
			break;
		default:
			err = -EIO;
			goto fail;
		}
	}
out:
	pthread_rwlock_unlock(&ri->lock);
	return (ssize_t)done;
fail:
	pthread_rwlock_unlock(&ri->lock);
fail_unlocked:
	if (err == RUN_FALLBACK && done == 0)
		return RUN_FALLBACK;
	if (err == RUN_FALLBACK)
		return (ssize_t)done;
	return done ? (ssize_t)done : err;
}

/* ---- writes --------------------------------------------------------------- */

/* The extend lock: DAXFS_RUN_LOCK_BASE + ino of backing device 0. */
int run_extend_lock(struct rino *ri, struct rfile *rf, short type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET,
			    .l_start = (off_t)(DAXFS_RUN_LOCK_BASE + ri->ino), .l_len = 1 };

	if (type == F_UNLCK) {
		while (real.fcntl(ri->lockfd, F_OFD_SETLK, &fl) < 0 && errno == EINTR)
			;
		pthread_mutex_unlock(&ri->extend);
		return 0;
	}
	pthread_mutex_lock(&ri->extend);
	if (ri->lockfd < 0 || ri->lockpid != run_pid) {
		int fd = run_backing(ri, rf, 0);

		if (fd < 0) {
			pthread_mutex_unlock(&ri->extend);
			return fd;
		}
		/* an open file of our own per process: OFD locks of one open
		 * file (shared after fork) do not exclude each other */
		if (ri->lockfd >= 0 && ri->lockpid != run_pid)
			run_fd_close(ri->lockfd);
		if ((ri->lockfd = run_fd_reopen(fd, O_RDWR)) < 0) {
			int err = ri->lockfd;

			ri->lockfd = -1;
			pthread_mutex_unlock(&ri->extend);
			return err;
		}
		ri->lockpid = run_pid;
	}
	while (real.fcntl(ri->lockfd, F_OFD_SETLKW, &fl) < 0) {
		if (errno != EINTR) {
			int err = -errno;

			pthread_mutex_unlock(&ri->extend);
			return err;
		}
	}
	return 0;
}

/* DAXFS_IOC_ALLOC of [first, last) for writes, with what lies past in (the
 * size's page) speculative: given back at the last close, or by the daemon
 * at the file's last lease if this process dies first. A daemon older than
 * the flag refuses it (EINVAL): then as before it, without. */
static int alloc_for_write(struct rfile *rf, uint64_t first, uint64_t last, uint64_t in)
{
	uint32_t flags = DAXFS_IOC_ALLOC_KEEP_SIZE;
	int err;

	if (last > in) {
		err = run_ioc(rf->kfd, DAXFS_IOC_ALLOC, flags | DAXFS_IOC_ALLOC_AHEAD, first,
			      last - first);
		if (err != -EINVAL)
			return err;
	}
	return run_ioc(rf->kfd, DAXFS_IOC_ALLOC, flags, first, last - first);
}

/* Whether every page of [first, last) that is not written blocks is an
 * unwritten extent: blocks the file has, which cost nothing to convert. */
static bool only_unwritten(struct rino *ri, uint64_t first, uint64_t last)
{
	for (uint64_t pos = first; pos < last; pos += RUN_PAGE) {
		struct rchunk *c = current(ri, pos >> RUN_CHUNK_SHIFT);
		uint8_t k = c ? c->kind[(pos & (RUN_CHUNK - 1)) / RUN_PAGE] : K_UNMAPPED;

		if (k != K_DATA && k != K_UNWRITTEN)
			return false;
	}
	return true;
}

/*
 * What to allocate for the unwritten pages [*first, *last) of a write
 * within EOF (in: the size rounded up to a page). Holes: those pages, as
 * the kernel's DAX path allocates, or a sparse file written at random (a
 * disk image, a database with holes) would take whole chunks per write and
 * fill the filesystem with zeroes; but a writer that fills holes in order
 * (each allocation starting where the last ended) gets as much again ahead
 * as the run has allocated so far, up to ALLOC_AHEAD_MAX: it asks a few
 * times per doubling, and leaves at most what it wrote unused if it stops.
 * Unwritten extents alone convert in whole chunks: the file has their
 * blocks already.
 */
static void fill_range(struct rino *ri, uint64_t *first, uint64_t *last, uint64_t in)
{
	if (*first == ri->fill_end) {
		uint64_t run = ri->fill_end - ri->fill_start;

		*last += run < ALLOC_AHEAD_MAX ? run : ALLOC_AHEAD_MAX;
	} else {
		uint64_t chunk_first = *first & ~(RUN_CHUNK - 1);
		uint64_t chunk_last = (*last + RUN_CHUNK - 1) & ~(RUN_CHUNK - 1);

		ri->fill_start = *first;
		if (chunk_last > in)
			chunk_last = in;
		if (only_unwritten(ri, chunk_first, chunk_last)) {
			ri->fill_start = *first = chunk_first;
			*last = chunk_last;
		}
	}
	if (*last > in)
		*last = in;
	ri->fill_end = *last;
}

/* Under the write lock: makes every page of [off, end) written blocks,
 * allocating holes and converting unwritten extents (past EOF with more
 * ahead). */
static int allocate(struct rino *ri, struct rfile *rf, uint64_t off, uint64_t end, uint64_t size)
{
	uint64_t first = UINT64_MAX, last = 0;

	for (uint64_t pos = off & ~(RUN_PAGE - 1); pos < end; pos += RUN_PAGE) {
		struct rchunk *c;
		int err = run_chunk(ri, rf, pos >> RUN_CHUNK_SHIFT, &c);

		if (err)
			return err;
		uint8_t k = c->kind[(pos & (RUN_CHUNK - 1)) / RUN_PAGE];
		/* a poisoned page: the daemon's write fails it, or clears
		 * the poison when it overwrites the whole page */
		if (k == K_BAD)
			return RUN_FALLBACK;
		if (k != K_DATA) {
			if (first == UINT64_MAX)
				first = pos;
			last = pos + RUN_PAGE;
		}
	}
	if (first == UINT64_MAX)
		return 0;
	uint64_t in = (size + RUN_PAGE - 1) & ~(RUN_PAGE - 1);
	uint64_t need_first = first, need_last = last;

	if (last > in && first <= in) {
		/* extending from within (an append): whole chunks and more
		 * ahead (each request costs the daemon a commit, zeroing a
		 * few MiB costs less), given back at the last close. Not for
		 * a write past EOF with a gap before it: blocks ahead that a
		 * later write past them takes into the file stay there as
		 * zeroes where the kernel leaves a hole. */
		uint64_t ahead = size / 8;

		ahead = ahead < ALLOC_AHEAD ? ALLOC_AHEAD :
			ahead > ALLOC_AHEAD_MAX ? ALLOC_AHEAD_MAX : ahead;
		last = (last + ahead + RUN_CHUNK - 1) & ~(RUN_CHUNK - 1);
	} else if (last <= in) {
		fill_range(ri, &first, &last, in);
	}
	int err = alloc_for_write(rf, first, last, in);

	/* a nearly full filesystem may have room for the write but not for
	 * the chunks around it: the write's own pages, as the kernel's path
	 * would allocate them */
	if (err == -ENOSPC && (first != need_first || last != need_last)) {
		first = need_first;
		last = need_last;
		err = alloc_for_write(rf, first, last, in);
	}
	/* also after a failure, which may have allocated a part: the last
	 * close gives back what lies past EOF */
	if (last > in && last > ri->alloc_end)
		ri->alloc_end = last;
	if (err) {
		run_log("inode %llu: allocating [%llu, %llu): %s", (unsigned long long)ri->ino,
			(unsigned long long)first, (unsigned long long)last, strerror(-err));
		/* the daemon's write fills what room there is and returns a
		 * short count, as the kernel's does */
		return err == -ENOSPC ? RUN_FALLBACK : err;
	}
	/* the chunks map the new blocks when next asked (alloc_gen moved) */
	for (uint64_t pos = off & ~(RUN_CHUNK - 1); pos < end; pos += RUN_CHUNK) {
		struct rchunk *c;

		if ((err = run_chunk(ri, rf, pos >> RUN_CHUNK_SHIFT, &c)))
			return err;
	}
	return 0;
}

/*
 * Before a write past EOF with a gap before it (under the extend lock and
 * the write lock): the gap comes into the file, and blocks this process
 * allocated ahead there would stay in it as zeroes where the kernel leaves
 * a hole (an append, then a write further on). They go back first, unless
 * another process holds a lease (its stores past EOF may be there); our
 * chunks over them are mapped again when next used.
 */
static void give_back_gap(struct rino *ri, struct rfile *rf, uint64_t off, uint64_t size)
{
	uint64_t from = (size + RUN_PAGE - 1) & ~(RUN_PAGE - 1);
	uint64_t to = off & ~(RUN_PAGE - 1);

	if (to > ri->alloc_end)
		to = ri->alloc_end;
	if (to <= from)
		return;
	/* refused: the blocks stay, zeroes as before */
	if (run_ioc(rf->kfd, DAXFS_IOC_RUN_WRITTEN, DAXFS_IOC_WRITTEN_TRIM, from, to - from))
		return;
	run_forget_chunks(ri, from, to);
}

/* Whether [off, end) is all written blocks in the current mapping. */
static bool all_data(struct rino *ri, uint64_t off, uint64_t end)
{
	for (uint64_t pos = off & ~(RUN_PAGE - 1); pos < end; pos += RUN_PAGE) {
		struct rchunk *c = current(ri, pos >> RUN_CHUNK_SHIFT);

		if (!c || c->kind[(pos & (RUN_CHUNK - 1)) / RUN_PAGE] != K_DATA)
			return false;
	}
	return true;
}

/* Stores buf at off, all of it in mapped written blocks. */
static size_t store(struct rino *ri, struct rfile *rf, const void *buf, size_t len, uint64_t off,
		    bool sync)
{
	size_t done = 0;

	while (done < len) {
		uint64_t pos = off + done;
		struct rchunk *c = current(ri, pos >> RUN_CHUNK_SHIFT);
		uint64_t in = pos & (RUN_CHUNK - 1);
		size_t n = RUN_CHUNK - in < len - done ? (size_t)(RUN_CHUNK - in) : len - done;

		if (!c)
			break;          /* all_data said it is mapped */
		size_t got = 0;

		/* a chunk mapped for a large write has no page tables */
		if (c->lazy && c->mem && n >= BIG_WRITE)
			got = run_write_member(ri, rf, c, pos >> RUN_CHUNK_SHIFT, in,
					       (const char *)buf + done, n);
		/* the rest, or a page the member no longer reaches: the
		 * store meets it as a lost page */
		if (got < n)
			got += run_copy(c->base + in + got, (const char *)buf + done + got, n - got,
					c->pmem && !c->mem);

		c->dirty = true;
		if (sync && got) {
			if (c->pmem)
				pmem_drain();
			else
				(void)real.msync(c->base + (in & ~(RUN_PAGE - 1)),
						 (size_t)(in + got - (in & ~(RUN_PAGE - 1))), MS_SYNC);
		}
		done += got;
		if (got < n)
			break;
	}
	return done;
}

/*
 * After the stores of a write of done bytes at off (size: the file's before
 * it), with the pending table writable and no synchronous mode: the write
 * leaves its times, and when it extends the file from within (no gap the
 * daemon would have to zero) its size, in the inode's pending record for
 * the daemon to fold in, without a request. Then the layout generation is
 * looked at again: a truncate or other change that began meanwhile may have
 * folded before the new end was there, and may have cut or zeroed what the
 * stores wrote, so the whole write is then made again by the daemon, whose
 * write comes after the change (DEFER_REDO). DEFER_DONE: the write is done
 * with; DEFER_ASK: its size change goes by request.
 */
enum { DEFER_REDO = -1, DEFER_ASK = 0, DEFER_DONE = 1 };

static int defer(struct rino *ri, struct rfile *rf, uint64_t off, size_t done, uint64_t size)
{
	volatile struct daxfs_run_pending *pe = __atomic_load_n(&ri->pend, __ATOMIC_ACQUIRE);
	uint64_t end = off + done, had, prev = 0;

	if (!pe || !__atomic_load_n(&ri->pend_rw, __ATOMIC_ACQUIRE) || rf->sync)
		return DEFER_ASK;
	if (end > size && off > size)
		return DEFER_ASK;
	/* a change that began since our stores is seen before our end is
	 * (a fold would take it for a stale claim); one that begins from
	 * here is caught below */
	if (end > size && __atomic_load_n(&ri->slot->gen, __ATOMIC_SEQ_CST) != ri->gen_seen)
		return DEFER_REDO;
	if (end > size) {
		had = __atomic_load_n(&pe->end, __ATOMIC_SEQ_CST);
		while (had < end && !__atomic_compare_exchange_n(&pe->end, &had, end, false,
								 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
			;
		prev = had;     /* what it was before ours, if ours went in */
	}
	__atomic_fetch_add(&pe->writes, 1, __ATOMIC_SEQ_CST);
	if (end <= size)
		return DEFER_DONE;
	if (__atomic_load_n(&ri->slot->gen, __ATOMIC_SEQ_CST) != ri->gen_seen ||
	    (__atomic_load_n(&ri->slot->flags, __ATOMIC_SEQ_CST) & DAXFS_RUN_REVOKED)) {
		/* ours out again, unless the daemon reset it meanwhile */
		had = end;
		if (prev < end)
			(void)__atomic_compare_exchange_n(&pe->end, &had, prev, false,
							  __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		return DEFER_REDO;
	}
	ri->size_dirty = true;
	return DEFER_DONE;
}

ssize_t run_pwrite(struct rfile *rf, const void *buf, size_t len, off_t off, off_t *append_at)
{
	struct rino *ri = rf->ri;
	volatile struct daxfs_run_slot *s = ri->slot;
	uint64_t end, size;
	bool extend, locked = false, wr;
	size_t done;
	int err;

	if (len == 0 || rf->accmode == O_RDONLY || !ri->writable)
		return RUN_FALLBACK;
again:
	locked = false;
	/* set-id bits: whether a write drops them depends on the writer's
	 * CAP_FSETID and user namespace, which the daemon asks as the kernel
	 * would; such files are rare enough to leave every write to it */
	if (__atomic_load_n(&s->flags, __ATOMIC_SEQ_CST) & DAXFS_RUN_SETID)
		return RUN_FALLBACK;
	if (append_at) {
		/* O_APPEND: the end of the file, under the extend lock, which
		 * every daxfs-run writer that extends it takes; with plain
		 * writers, the daemon appends */
		if (__atomic_load_n(&s->plain_writers, __ATOMIC_SEQ_CST) > 0)
			return RUN_FALLBACK;
		if (run_extend_lock(ri, rf, F_WRLCK))
			return RUN_FALLBACK;
		locked = true;
		if (__atomic_load_n(&s->plain_writers, __ATOMIC_SEQ_CST) > 0) {
			err = RUN_FALLBACK;
			goto unlock_extend;
		}
		off = (off_t)run_size(ri);
		*append_at = off;
	}
	if (off < 0) {
		err = -EINVAL;
		goto unlock_extend;
	}
	if ((uint64_t)off > (uint64_t)INT64_MAX - len) {
		err = -EFBIG;
		goto unlock_extend;
	}
	end = (uint64_t)off + len;
	size = run_size(ri);
	extend = end > size;
	if (extend && !locked) {
		if (__atomic_load_n(&s->plain_writers, __ATOMIC_SEQ_CST) > 0)
			return RUN_FALLBACK;    /* the daemon orders their writes */
		if ((err = run_extend_lock(ri, rf, F_WRLCK)))
			return RUN_FALLBACK;
		locked = true;
		/* counted under the lock: none can start extending meanwhile */
		if (__atomic_load_n(&s->plain_writers, __ATOMIC_SEQ_CST) > 0) {
			err = RUN_FALLBACK;
			goto unlock_extend;
		}
	}
	wr = extend;
	if ((err = run_lock(ri, wr)))
		goto unlock_extend;
	size = run_size(ri);
	if (extend)
		give_back_gap(ri, rf, (uint64_t)off, size);
	if (!all_data(ri, (uint64_t)off, end)) {
		if (!wr) {
			pthread_rwlock_unlock(&ri->lock);
			if ((err = run_lock(ri, true)))
				goto unlock_extend;
			wr = true;
		}
		/* chunks on members in memory mapped for a large write
		 * skip their page tables: store copies into them with
		 * pwrite of the members */
		ri->map_lazy = len >= BIG_WRITE ? RUN_MAP_LAZY_MEM : RUN_MAP_FILLED;
		err = allocate(ri, rf, (uint64_t)off, end, size);
		ri->map_lazy = RUN_MAP_FILLED;
		if (err)
			goto fail;
		if (!all_data(ri, (uint64_t)off, end)) {
			err = RUN_FALLBACK;
			goto fail;
		}
	}
	/* A lockfs freeze holds writers at the daemon's gate: this one waits
	 * there too, in a request that marks the file written, holding
	 * nothing (the ordinary path would hold the page it writes, which
	 * every open of a leased file waits for), and starts again after. */
	if (__atomic_load_n(&ri->head->frozen, __ATOMIC_SEQ_CST)) {
		pthread_rwlock_unlock(&ri->lock);
		if (locked)
			(void)run_extend_lock(ri, rf, F_UNLCK);
		if ((err = run_push_times(ri, rf->kfd)))
			return err == -EINTR ? err : RUN_FALLBACK;
		goto again;
	}
	done = store(ri, rf, buf, len, (uint64_t)off, rf->sync);
	if (done == 0) {
		/* the member could not take the page: the daemon's write
		 * fails it with EIO and records it, as its own access would */
		err = RUN_FALLBACK;
		goto fail;
	}
	/* traced: the stores are flushes in the trace, drained at our own
	 * persist points; recorded before any size that makes them the
	 * file's, a pending one included */
	unsigned trace = !run_traced(ri) ? 0 : DAXFS_IOC_WRITTEN_FLUSH |
			 (rf->sync ? DAXFS_IOC_WRITTEN_DRAIN : 0);

	if (trace && (err = run_ioc(rf->kfd, DAXFS_IOC_RUN_WRITTEN, trace, (uint64_t)off, done)))
		goto fail;
	int deferred = defer(ri, rf, (uint64_t)off, done, size);

	if (deferred == DEFER_DONE) {
		/* the daemon folds size and times in before anyone looks */
	} else if (deferred == DEFER_REDO) {
		/* the stores went to blocks the change may have cut, zeroed or
		 * taken (held from other files while we hold the lease) */
		err = RUN_FALLBACK;
		goto fail;
	} else if ((uint64_t)off + done > size) {
		unsigned fl = DAXFS_IOC_WRITTEN_SIZE | DAXFS_IOC_WRITTEN_TIME |
			      (rf->sync ? DAXFS_IOC_WRITTEN_SYNC : 0);

		/* -ESTALE: the layout changed under the stores (a hole punched
		 * or the file cut by another process): they went to blocks the
		 * file no longer has, which stay out of the allocator while we
		 * hold the lease; the daemon's write makes it again */
		if ((err = run_ioc(rf->kfd, DAXFS_IOC_RUN_WRITTEN, fl, (uint64_t)off, done))) {
			if (err == -ESTALE)
				err = RUN_FALLBACK;
			goto fail;
		}
		if (!rf->sync)
			ri->size_dirty = true;
		ri->time_dirty = false;
		ri->time_pushed = daxfs_clock_s(CLOCK_MONOTONIC_COARSE);
	} else {
		ri->time_dirty = true;
		if (daxfs_clock_s(CLOCK_MONOTONIC_COARSE) - ri->time_pushed >= TIME_LAG)
			(void)run_push_times(ri, rf->kfd);
	}
	/* A reader through the page cache may hold the old bytes: the fence
	 * orders our stores before the look at the flag the daemon sets
	 * before it reads. The drop waits for the pages' locks, which a
	 * write through the kernel holds while the daemon's write waits for
	 * the extend lock: it is asked for once that lock is let go. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	bool cached = __atomic_load_n(&s->flags, __ATOMIC_SEQ_CST) & DAXFS_RUN_CACHED;

	pthread_rwlock_unlock(&ri->lock);
	if (locked)
		(void)run_extend_lock(ri, rf, F_UNLCK);
	if (cached)
		(void)run_ioc(rf->kfd, DAXFS_IOC_RUN_WRITTEN, DAXFS_IOC_WRITTEN_INVAL, 0, 0);
	return (ssize_t)done;
fail:
	pthread_rwlock_unlock(&ri->lock);
unlock_extend:
	if (locked)
		(void)run_extend_lock(ri, rf, F_UNLCK);
	return err;
}

int run_fsync(struct rfile *rf, bool data_only)
{
	struct rino *ri = rf->ri;
	unsigned fl = DAXFS_IOC_WRITTEN_SYNC;

	pthread_rwlock_rdlock(&ri->lock);
	for (size_t i = 0; i < ri->nchunks; i++) {
		struct rchunk *c = ri->chunks[i];

		if (c && c->mapped && c->dirty) {
			if (!c->pmem)
				(void)real.msync(c->base, RUN_CHUNK, MS_SYNC);
			c->dirty = false;
		}
	}
	pthread_rwlock_unlock(&ri->lock);
	if (__atomic_load_n(&ri->regions, __ATOMIC_SEQ_CST))
		run_sync_regions(ri);
	pmem_drain();
	/* traced: what the mappings stored is flushed now (the writes'
	 * stores were flushed as they were made), then the drain */
	if (run_traced(ri) && !ri->broken &&
	    run_ioc(rf->kfd, DAXFS_IOC_RUN_WRITTEN, DAXFS_IOC_WRITTEN_DRAIN |
		    (__atomic_load_n(&ri->regions, __ATOMIC_SEQ_CST) ? DAXFS_IOC_WRITTEN_FLUSH : 0),
		    0, run_size(ri)) < 0)
		return RUN_FALLBACK;
	if (rf->accmode == O_RDONLY || ri->broken)
		return RUN_FALLBACK;
	/* fdatasync owes the daemon nothing when no size change waits:
	 * allocations were durable at their reply, the data is now; a size
	 * that waits is made durable by a size record when it can be */
	if (data_only && !ri->size_dirty && run_size(ri) == __atomic_load_n(&ri->slot->size,
									 __ATOMIC_ACQUIRE))
		return 0;
	if (data_only && !run_traced(ri) && run_record_size(ri, rf) == 0) {
		ri->size_dirty = false;
		return 0;
	}
	/* the metadata our writes changed (size, and mtime unless data_only),
	 * durable in one request: what the daemon's fsync would do for them */
	if (ri->time_dirty && !data_only)
		fl |= DAXFS_IOC_WRITTEN_TIME;
	if (run_ioc(rf->kfd, DAXFS_IOC_RUN_WRITTEN, fl, 0, 0) < 0)
		return RUN_FALLBACK;
	ri->size_dirty = false;
	if (fl & DAXFS_IOC_WRITTEN_TIME) {
		ri->time_dirty = false;
		ri->time_pushed = daxfs_clock_s(CLOCK_MONOTONIC_COARSE);
	}
	return 0;
}
