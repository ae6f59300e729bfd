/* preload/map.c - libdaxfs-run: a file's blocks mapped in chunks, from the daemon's extent map */
#include <errno.h>
#include <libpmem.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "client/internal.h"
#include "preload/run.h"
#include "util/err.h"

#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif

int run_ioc(int fd, unsigned long cmd, uint32_t flags, uint64_t off, uint64_t len)
{
	struct daxfs_ioc_range r = { .version = DAXFS_IOC_VERSION, .flags = flags, .offset = off,
				     .length = len };

	return ioctl(fd, cmd, &r) < 0 ? -errno : 0;
}

int run_check(struct rino *ri, bool *stale)
{
	volatile struct daxfs_run_slot *s = ri->slot;
	uint32_t flags = __atomic_load_n(&s->flags, __ATOMIC_SEQ_CST);
	uint64_t gen = __atomic_load_n(&s->gen, __ATOMIC_SEQ_CST);

	if (ri->broken)
		return RUN_FALLBACK;
	if (run_gone(ri)) {
		run_log("inode %llu: the mount's daemon is gone: the ordinary path from now on",
			(unsigned long long)ri->ino);
		ri->broken = true;
		return RUN_FALLBACK;
	}
	/* a forked child waits for the daemon's end with a thread of its own */
	if (ri->mount && __atomic_load_n(&ri->mount->alive_pid, __ATOMIC_ACQUIRE) != run_pid &&
	    __atomic_load_n(&ri->mount->alive_fd, __ATOMIC_ACQUIRE) >= 0)
		run_alive_watch(ri->mount, ri->mount->alive_fd);
	if (__atomic_load_n(&s->ino, __ATOMIC_SEQ_CST) != ri->ino ||
	    (flags & (DAXFS_RUN_REVOKED | DAXFS_RUN_PAGE_MAPPED))) {
		run_log("inode %llu: %s: the ordinary path from now on", (unsigned long long)ri->ino,
			(flags & DAXFS_RUN_REVOKED) ? "leases revoked by a forced table swap" :
			(flags & DAXFS_RUN_PAGE_MAPPED) ? "another process writes it through a "
			"page-cache mapping" : "the slot is no longer the inode's");
		ri->broken = true;
		return RUN_FALLBACK;
	}
	if (gen & 1)
		return RUN_FALLBACK;    /* the layout is changing: ask the daemon */
	*stale = gen != ri->gen_seen;
	return 0;
}

/* Replaces [at, at+len) with inaccessible reserved memory. */
static void reserve_at(void *at, size_t len)
{
	(void)real.mmap(at, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
			-1, 0);
}

void run_unmap_all(struct rino *ri)
{
	for (size_t i = 0; i < ri->nchunks; i++) {
		struct rchunk *c = ri->chunks[i];

		if (c && c->mapped) {
			if (c->dirty && !c->pmem)
				(void)real.msync(c->base, RUN_CHUNK, MS_SYNC);
			reserve_at(c->base, RUN_CHUNK);
			c->mapped = false;
			c->dirty = false;
		}
	}
	ri->gen_seen = __atomic_load_n(&ri->slot->gen, __ATOMIC_SEQ_CST);
}

int run_backing(struct rino *ri, struct rfile *rf, uint32_t index)
{
	int fd;

	if (index >= 4096)
		return -EIO;
	if (index >= ri->ndev) {
		int *n = realloc(ri->dev_fd, (index + 1) * sizeof(int));
		bool *m;

		if (!n)
			return -ENOMEM;
		ri->dev_fd = n;
		if (!(m = realloc(ri->dev_mem, (index + 1) * sizeof(bool))))
			return -ENOMEM;
		ri->dev_mem = m;
		for (size_t i = ri->ndev; i <= index; i++) {
			n[i] = -1;
			m[i] = false;
		}
		ri->ndev = index + 1;
	}
	if (ri->dev_fd[index] >= 0)
		return ri->dev_fd[index];
	/* libdaxfs's way: the member with our own rights, or the daemon's
	 * descriptor on a dax_users mount */
	fd = dmap_open_backing(rf->kfd, index, ri->writable);
	if (fd >= 0 && (fd = run_fd_keep(fd)) < 0)
		daxfs_err(fd, "backing device %u: %s", index, strerror(-fd));
	if (fd < 0) {
		run_log("inode %llu: %s", (unsigned long long)ri->ino, daxfs_errormsg());
		return fd;
	}
	/* On tmpfs and ramfs the mapping is the file's own pages: a store
	 * is in the file at once and msync carries it nowhere (as the
	 * daemon's DAX_PERSIST_MEMORY). */
	struct statfs sfs;

	ri->dev_mem[index] = fstatfs(fd, &sfs) == 0 &&
			     (sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC);
	ri->dev_fd[index] = fd;
	return fd;
}

static int sigbus_fd = -1;

/* Memory whose every access raises SIGBUS, as a page of a DAX file past
 * EOF or on poisoned media does: a shared mapping of an empty file. */
int run_map_sigbus(char *at, size_t len, int prot)
{
	if (sigbus_fd < 0) {
		int fd = memfd_create("daxfs-run-sigbus", MFD_CLOEXEC);
		int expected = -1;

		if (fd < 0)
			return -errno;
		if ((fd = run_fd_keep(fd)) < 0)
			return fd;
		if (!__atomic_compare_exchange_n(&sigbus_fd, &expected, fd, false, __ATOMIC_SEQ_CST,
						 __ATOMIC_SEQ_CST))
			run_fd_close(fd);
	}
	if (real.mmap(at, len, prot, MAP_SHARED | MAP_FIXED, sigbus_fd, 0) == MAP_FAILED)
		return -errno;
	return 0;
}

int run_map_dev(struct rino *ri, struct rfile *rf, char *at, uint64_t len, int prot,
		uint32_t index, uint64_t devoff, bool *pmem)
{
	int fd = run_backing(ri, rf, index);
	void *got = MAP_FAILED;

	if (fd < 0)
		return fd;
	if (!ri->no_map_sync) {
		got = real.mmap(at, len, prot, MAP_SHARED_VALIDATE | MAP_SYNC | MAP_FIXED, fd,
				(off_t)devoff);
		if (got == MAP_FAILED && errno != EOPNOTSUPP && errno != EINVAL)
			return -errno;
		if (got == MAP_FAILED)
			ri->no_map_sync = true;
	}
	if (got == MAP_FAILED) {
		got = real.mmap(at, len, prot, MAP_SHARED | MAP_FIXED, fd, (off_t)devoff);
		if (got == MAP_FAILED)
			return -errno;
		if (!ri->dev_mem[index] && !pmem_is_pmem(got, len))
			*pmem = false;
	}
	/* The pages are there (written blocks): one call fills the page
	 * tables instead of a fault per page at the first copy, which on a
	 * new file cost more than the copies. Writable only where that
	 * dirties nothing that would need writing back (memory, pmem). */
	bool wr = (prot & PROT_WRITE) && (ri->dev_mem[index] || !ri->no_map_sync);

	if (ri->map_lazy == RUN_MAP_FILLED || (ri->map_lazy == RUN_MAP_LAZY_MEM && !ri->dev_mem[index]))
		(void)madvise(at, len, wr ? MADV_POPULATE_WRITE : MADV_POPULATE_READ);
	return 0;
}

/* Records a DATA piece c maps (for run_map_at). */
static int note_piece(struct rchunk *c, const struct daxfs_ioc_piece *p)
{
	if (c->npieces == c->cap) {
		uint32_t cap = c->cap ? c->cap * 2 : 4;
		struct rpiece *n = realloc(c->pieces, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		c->pieces = n;
		c->cap = cap;
	}
	c->pieces[c->npieces++] = (struct rpiece){ .foff = p->file_offset, .len = p->length,
						   .devoff = p->device_offset,
						   .dev = p->device_index };
	return 0;
}

/* Maps piece p at base (file offset foff0 there); kind[] gets each page's
 * kind when non-NULL, and the chunk c its DATA pieces. Returns 0, or -errno;
 * *pmem cleared for a piece that needs msync. */
static int map_piece(struct rino *ri, struct rfile *rf, char *base, uint64_t foff0, uint64_t len0,
		     const struct daxfs_ioc_piece *p, int prot, uint8_t *kind, struct rchunk *c,
		     bool user, bool *pmem)
{
	uint64_t s = p->file_offset - foff0;
	uint8_t k;

	if (p->file_offset < foff0 || s > len0 || p->length > len0 - s || p->length % RUN_PAGE ||
	    p->device_offset % RUN_PAGE)
		return -EIO;
	switch (p->kind) {
	case DAXFS_IOC_PIECE_DATA: {
		int err = run_map_dev(ri, rf, base + s, p->length, prot, p->device_index,
				  p->device_offset, pmem);

		if (err)
			return err;
		if (c && (err = note_piece(c, p)))
			return err;
		k = K_DATA;
		break;
	}
	case DAXFS_IOC_PIECE_HOLE:
	case DAXFS_IOC_PIECE_UNWRITTEN:
		if (user)
			return RUN_FALLBACK;
		k = p->kind == DAXFS_IOC_PIECE_HOLE ? K_HOLE : K_UNWRITTEN;
		break;
	case DAXFS_IOC_PIECE_BAD: {
		int err = user ? run_map_sigbus(base + s, p->length, prot) : 0;

		if (err)
			return err;
		k = K_BAD;
		break;
	}
	default:
		return -EIO;
	}
	if (kind)
		memset(kind + s / RUN_PAGE, k, p->length / RUN_PAGE);
	return 0;
}

/* Calls fn for each piece of the daemon's extent map of [foff, foff+len)
 * (holes, bad pages and past EOF included), in order; stops at its first
 * error. */
static int extents_walk(struct rino *ri, struct rfile *rf, uint64_t foff, uint64_t len,
			int (*fn)(void *arg, const struct daxfs_ioc_piece *p), void *arg)
{
	struct daxfs_ioc_extents *x = malloc(sizeof(*x));
	int err = 0;

	if (!x)
		return -ENOMEM;
	for (uint64_t done = 0; done < len && !err;) {
		memset(x, 0, offsetof(struct daxfs_ioc_extents, pieces));
		x->version = DAXFS_IOC_VERSION;
		x->flags = DAXFS_IOC_EXTENTS_ALL;
		x->offset = foff + done;
		x->length = len - done;
		if (ioctl(rf->kfd, DAXFS_IOC_EXTENTS, x) < 0) {
			err = -errno;
			break;
		}
		if (x->error < 0) {
			x->message[sizeof(x->message) - 1] = '\0';
			run_log("inode %llu: extent map at %llu: %s", (unsigned long long)ri->ino,
				(unsigned long long)x->offset, x->message);
			err = x->error;
			break;
		}
		if (x->covered == 0 || x->covered > len - done || x->npieces > DAXFS_IOC_MAX_PIECES) {
			err = -EIO;
			break;
		}
		for (uint32_t i = 0; i < x->npieces && !err; i++)
			err = fn(arg, &x->pieces[i]);
		done += x->covered;
	}
	free(x);
	return err;
}

struct range_map {
	struct rino *ri;
	struct rfile *rf;
	char *base;
	uint64_t foff, len;
	int prot;
	uint8_t *kind;
	bool *pmem;
};

static int range_piece(void *arg, const struct daxfs_ioc_piece *p)
{
	struct range_map *m = arg;

	return map_piece(m->ri, m->rf, m->base, m->foff, m->len, p, m->prot, m->kind, NULL, true,
			 m->pmem);
}

/* Maps [foff, foff+len) at base for a program's mapping (run_map_at). */
static int map_range(struct rino *ri, struct rfile *rf, char *base, uint64_t foff, uint64_t len,
		     int prot, uint8_t *kind, bool *pmem)
{
	struct range_map m = { ri, rf, base, foff, len, prot, kind, pmem };

	*pmem = true;
	return extents_walk(ri, rf, foff, len, range_piece, &m);
}

/* Chunk idx, its address space reserved when new; NULL: the ordinary path. */
static struct rchunk *chunk_at(struct rino *ri, uint64_t idx)
{
	struct rchunk *c;

	if (idx >= ri->nchunks) {
		size_t n = idx + 1 > ri->nchunks * 2 ? idx + 1 : ri->nchunks * 2;
		struct rchunk **nc;

		/* beyond 32 TiB, or no memory: the ordinary path serves it */
		if (idx > (1u << 24) || !(nc = realloc(ri->chunks, n * sizeof(*nc))))
			return NULL;
		memset(nc + ri->nchunks, 0, (n - ri->nchunks) * sizeof(*nc));
		ri->chunks = nc;
		ri->nchunks = n;
	}
	if (!(c = ri->chunks[idx])) {
		if (!(c = calloc(1, sizeof(*c))))
			return NULL;
		c->base = real.mmap(NULL, RUN_CHUNK, PROT_NONE,
				    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (c->base == MAP_FAILED) {
			free(c);
			return NULL;
		}
		ri->chunks[idx] = c;
	}
	return c;
}

static bool chunk_current(const struct rino *ri, const struct rchunk *c, uint64_t ag)
{
	return c->mapped && c->gen == ri->gen_seen && c->alloc_gen == ag;
}

/* Drops what c maps, ready to be mapped again. */
static void chunk_reset(struct rchunk *c)
{
	if (c->mapped) {
		if (c->dirty && !c->pmem)
			(void)real.msync(c->base, RUN_CHUNK, MS_SYNC);
		reserve_at(c->base, RUN_CHUNK);
		c->mapped = false;
	}
	c->dirty = false;
	c->npieces = 0;
	c->pmem = true;
	memset(c->kind, K_UNMAPPED, sizeof(c->kind));
}

void run_forget_chunks(struct rino *ri, uint64_t from, uint64_t to)
{
	for (uint64_t idx = from >> RUN_CHUNK_SHIFT; from < to && idx < ri->nchunks &&
	     idx <= (to - 1) >> RUN_CHUNK_SHIFT; idx++)
		if (ri->chunks[idx])
			chunk_reset(ri->chunks[idx]);
}

/*
 * A large reader maps the chunks ahead of it with the one request: each
 * request costs a round trip, and without filling page tables (lazy) the
 * mapping itself costs little. So does a large writer when every member is
 * in memory (its chunks fill no page tables either); up to EOF or, when
 * larger, what it allocated past EOF. A chunk ahead that an allocation made
 * stale (every ALLOC does, for a writer each few MiB) is mapped again with
 * them. Other writable chunks and a random reader's map one at a time,
 * their page tables filled.
 */
#define LAZY_AHEAD 16u

struct chunks_map {
	struct rino *ri;
	struct rfile *rf;
	uint64_t first;             /* chunk index of chunks[0] */
	struct rchunk **chunks;
	unsigned count;
	int prot;
};

/* Splits p at chunk boundaries and maps each part into its chunk. */
static int chunks_piece(void *arg, const struct daxfs_ioc_piece *p)
{
	struct chunks_map *m = arg;

	for (uint64_t at = 0; at < p->length;) {
		uint64_t pos = p->file_offset + at, idx = pos >> RUN_CHUNK_SHIFT;
		uint64_t in = pos & (RUN_CHUNK - 1);
		uint64_t n = RUN_CHUNK - in < p->length - at ? RUN_CHUNK - in : p->length - at;
		struct daxfs_ioc_piece part = *p;

		if (idx < m->first || idx - m->first >= m->count)
			return -EIO;
		struct rchunk *c = m->chunks[idx - m->first];

		part.file_offset = pos;
		part.length = n;
		if (p->kind == DAXFS_IOC_PIECE_DATA)
			part.device_offset = p->device_offset + at;
		int err = map_piece(m->ri, m->rf, c->base, idx << RUN_CHUNK_SHIFT, RUN_CHUNK, &part,
				    m->prot, c->kind, c, false, &c->pmem);
		if (err)
			return err;
		at += n;
	}
	return 0;
}

static bool map_ahead(const struct rino *ri)
{
	if (ri->map_lazy == RUN_MAP_LAZY)
		return !ri->writable;
	if (ri->map_lazy != RUN_MAP_LAZY_MEM)
		return false;
	for (size_t i = 0; i < ri->ndev; i++)
		if (!ri->dev_mem[i])
			return false;
	return true;
}

int run_chunk(struct rino *ri, struct rfile *rf, uint64_t idx, struct rchunk **out)
{
	struct rchunk *cs[LAZY_AHEAD];
	unsigned count = 1;
	int err;

	if (!(cs[0] = chunk_at(ri, idx)))
		return RUN_FALLBACK;
	uint64_t ag = __atomic_load_n(&ri->slot->alloc_gen, __ATOMIC_SEQ_CST);
	if (chunk_current(ri, cs[0], ag)) {
		*out = cs[0];
		return 0;
	}
	if (map_ahead(ri)) {
		/* the chunks ahead that are not mapped or are stale */
		uint64_t last = run_size(ri);

		if (ri->map_lazy == RUN_MAP_LAZY_MEM && ri->alloc_end > last)
			last = ri->alloc_end;
		uint64_t end = (last + RUN_CHUNK - 1) >> RUN_CHUNK_SHIFT;

		while (count < LAZY_AHEAD && idx + count < end && (cs[count] = chunk_at(ri, idx + count)) &&
		       !chunk_current(ri, cs[count], ag))
			count++;
	}
	for (unsigned i = 0; i < count; i++)
		chunk_reset(cs[i]);
	struct chunks_map m = { ri, rf, idx, cs, count,
				ri->writable ? PROT_READ | PROT_WRITE : PROT_READ };

	if (run_debug >= 2)
		run_log("inode %llu: mapping chunks %llu-%llu", (unsigned long long)ri->ino,
			(unsigned long long)idx, (unsigned long long)(idx + count - 1));
	err = extents_walk(ri, rf, idx << RUN_CHUNK_SHIFT, (uint64_t)count << RUN_CHUNK_SHIFT,
			   chunks_piece, &m);
	/* a change of the layout while we asked: the map may mix both */
	if (!err && __atomic_load_n(&ri->slot->gen, __ATOMIC_SEQ_CST) != ri->gen_seen)
		err = RUN_FALLBACK;
	if (err) {
		for (unsigned i = 0; i < count; i++)
			reserve_at(cs[i]->base, RUN_CHUNK);
		/* whatever kept us from mapping (no access to a member, a
		 * lease the daemon no longer honours) is the ordinary path's
		 * to meet, with the error the kernel would give */
		if (err != RUN_FALLBACK) {
			run_log("inode %llu: cannot map its blocks (%s): the ordinary path from now on",
				(unsigned long long)ri->ino, strerror(-err));
			ri->broken = true;
		}
		return RUN_FALLBACK;
	}
	for (unsigned i = 0; i < count; i++) {
		struct rchunk *c = cs[i];

		c->mem = c->npieces > 0;
		for (uint32_t k = 0; k < c->npieces; k++)
			c->mem = c->mem && c->pieces[k].dev < ri->ndev && ri->dev_mem[c->pieces[k].dev];
		c->gen = ri->gen_seen;
		c->alloc_gen = ag;
		c->mapped = true;
		c->writable = ri->writable;
		c->lazy = ri->map_lazy == RUN_MAP_LAZY ||
			  (ri->map_lazy == RUN_MAP_LAZY_MEM && c->mem);
	}
	*out = cs[0];
	return 0;
}

/* n bytes at chunk offset in of c's DATA pages to or from buf through the
 * members' descriptors; a write goes only to what lies inside the member
 * file as it is now, since pwrite past its end would grow a member that
 * shrank back instead of failing as a store there does. */
static size_t member_io(struct rino *ri, struct rfile *rf, struct rchunk *c, uint64_t idx,
			uint64_t in, void *buf, size_t n, bool write)
{
	uint64_t pos = (idx << RUN_CHUNK_SHIFT) + in;
	size_t done = 0;

	while (done < n) {
		const struct rpiece *p = NULL;

		for (uint32_t i = 0; i < c->npieces && !p; i++)
			if (pos + done >= c->pieces[i].foff &&
			    pos + done - c->pieces[i].foff < c->pieces[i].len)
				p = &c->pieces[i];
		if (!p)
			break;
		uint64_t at = pos + done - p->foff;
		size_t want = p->len - at < n - done ? (size_t)(p->len - at) : n - done;
		int fd = run_backing(ri, rf, p->dev);
		struct stat st;
		ssize_t got;

		if (fd < 0 || (write && (real.fstat(fd, &st) < 0 || st.st_size < 0 ||
					 p->devoff + at + want > (uint64_t)st.st_size)))
			break;
		got = write ? real.pwrite(fd, (char *)buf + done, want, (off_t)(p->devoff + at))
			    : real.pread(fd, (char *)buf + done, want, (off_t)(p->devoff + at));
		if (got < 0 && (errno == EINVAL || errno == ENODEV || errno == ENOTSUP))
			ri->no_pread = true;        /* device DAX: mmap only */
		if (got <= 0)
			break;
		done += (size_t)got;
	}
	return done;
}

size_t run_read_member(struct rino *ri, struct rfile *rf, struct rchunk *c, uint64_t idx,
		       uint64_t in, void *buf, size_t n)
{
	return member_io(ri, rf, c, idx, in, buf, n, false);
}

size_t run_write_member(struct rino *ri, struct rfile *rf, struct rchunk *c, uint64_t idx,
			uint64_t in, const void *buf, size_t n)
{
	return member_io(ri, rf, c, idx, in, (void *)buf, n, true);
}

/*
 * Maps [off, off+len) at addr from what the chunks know, without asking the
 * daemon: every page must be in a DATA piece of a chunk mapped with the
 * current layout and allocation (a program's mapping over pages this process
 * has just written, as LMDB reads the pages it appended). RUN_FALLBACK when
 * something is not known; what was mapped by then is mapped again.
 */
static int map_known(struct rino *ri, struct rfile *rf, char *addr, uint64_t off, uint64_t len,
		     int prot)
{
	uint64_t ag = __atomic_load_n(&ri->slot->alloc_gen, __ATOMIC_SEQ_CST);
	bool pmem = true;

	for (uint64_t pos = off; pos < off + len;) {
		uint64_t idx = pos >> RUN_CHUNK_SHIFT;
		struct rchunk *c = idx < ri->nchunks ? ri->chunks[idx] : NULL;
		const struct rpiece *p = NULL;

		if (!c || !c->mapped || c->gen != ri->gen_seen || c->alloc_gen != ag)
			return RUN_FALLBACK;
		for (uint32_t i = 0; i < c->npieces && !p; i++)
			if (pos >= c->pieces[i].foff && pos - c->pieces[i].foff < c->pieces[i].len)
				p = &c->pieces[i];
		if (!p)
			return RUN_FALLBACK;
		uint64_t n = p->foff + p->len - pos;

		if (n > off + len - pos)
			n = off + len - pos;
		if (run_map_dev(ri, rf, addr + (pos - off), n, prot, p->dev, p->devoff + (pos - p->foff),
			    &pmem))
			return RUN_FALLBACK;
		pos += n;
	}
	return 0;
}

int run_map_at(struct rino *ri, struct rfile *rf, char *addr, uint64_t off, uint64_t len, int prot,
	       uint64_t size, bool *first_data)
{
	uint64_t in = size > off ? ((size - off + RUN_PAGE - 1) & ~(RUN_PAGE - 1)) : 0;
	uint8_t *kind = NULL;
	bool pmem;
	int err = 0;

	if (in > len)
		in = len;
	if (first_data)
		*first_data = false;
	if (in && map_known(ri, rf, addr, off, in, prot) == 0) {
		if (first_data)
			*first_data = true;     /* every page is in a DATA piece */
	} else if (in) {
		if (first_data && !(kind = calloc(in / RUN_PAGE, 1)))
			return -ENOMEM;
		err = map_range(ri, rf, addr, off, in, prot, kind, &pmem);
		if (first_data && !err)
			*first_data = kind[0] == K_DATA;
		free(kind);
	}
	if (!err && in < len)
		err = run_map_sigbus(addr + in, len - in, prot);
	return err;
}
