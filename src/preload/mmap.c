/* preload/mmap.c - libdaxfs-run: mmap(MAP_SHARED) of a daxfs file as a direct mapping of its blocks */
#include <errno.h>
#include <fcntl.h>
#include <libpmem.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "preload/run.h"

#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif

/*
 * A shared mapping of a served file is made of the member files at the
 * file's extents, as a DAX filesystem's would be of pmem: holes in the
 * range are allocated first when it is writable (the DAX fault path would
 * allocate them at the first store; here at mmap, durably, which is also
 * what MAP_SYNC asks), pages past EOF and poisoned pages raise SIGBUS. Its
 * open file stays referenced until the region is wholly unmapped, which
 * keeps the lease and so the blocks. A read-only mapping over holes, and
 * MAP_PRIVATE, go to the page cache.
 */

struct region {
	struct region *next;
	char *addr;
	size_t len;
	uint64_t off;
	int prot;
	struct rfile *rf;
};

static pthread_mutex_t rlock = PTHREAD_MUTEX_INITIALIZER;
static struct region *regions;


static void *fail(struct rino *ri, char *base, size_t len, bool fixed, int err)
{
	if (base && !fixed)
		real.munmap(base, len);
	if (err == RUN_FALLBACK)
		return NULL;
	run_log("inode %llu: mmap: %s: the page cache instead", (unsigned long long)ri->ino,
		strerror(-err));
	return NULL;
}

void *run_mmap(struct rfile *rf, void *addr, size_t len, int prot, int flags, off_t off)
{
	struct rino *ri = rf->ri;
	int type = flags & 0x0f;
	bool fixed = flags & MAP_FIXED;
	size_t mlen = (len + RUN_PAGE - 1) & ~(RUN_PAGE - 1);
	struct region *r;
	char *base = NULL;
	uint64_t size;
	int err;

	if ((type != MAP_SHARED && type != MAP_SHARED_VALIDATE) || (flags & MAP_ANONYMOUS) ||
	    len == 0 || off < 0 || off % RUN_PAGE || (uint64_t)off > (uint64_t)INT64_MAX - mlen ||
	    ((prot & PROT_WRITE) && (rf->accmode != O_RDWR || !ri->writable)) ||
	    rf->accmode == O_WRONLY)
		return NULL;
	if (!(r = calloc(1, sizeof(*r))))
		return NULL;
	if ((err = run_lock(ri, true))) {
		free(r);
		return NULL;
	}
	/* the daemon waits for us at a truncate from here on (recall.c);
	 * counted before the mapping exists, so that none is missed */
	if (__atomic_fetch_add(&rf->mapped, 1, __ATOMIC_SEQ_CST) == 0 &&
	    run_ioc(rf->kfd, DAXFS_IOC_RUN_MAPPED, DAXFS_IOC_MAPPED_ADD, 0, 0) < 0)
		run_log("inode %llu: mmap: other processes' truncates will not wait for this "
			"mapping: %s", (unsigned long long)ri->ino, strerror(errno));
	__atomic_fetch_add(&ri->regions, 1, __ATOMIC_SEQ_CST);
	size = run_size(ri);
	if ((prot & PROT_WRITE) && (uint64_t)off < size) {
		uint64_t end = (uint64_t)off + mlen;
		uint64_t in = (size + RUN_PAGE - 1) & ~(RUN_PAGE - 1);

		if (end > in)
			end = in;
		err = run_ioc(rf->kfd, DAXFS_IOC_ALLOC,
			      DAXFS_IOC_ALLOC_KEEP_SIZE | DAXFS_IOC_ALLOC_MAPPED, (uint64_t)off,
			      end - (uint64_t)off);
		if (err)
			goto out;
		size = run_size(ri);
	}
	base = real.mmap(addr, mlen, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
			 (fixed ? MAP_FIXED : 0), -1, 0);
	if (base == MAP_FAILED) {
		err = -errno;
		base = NULL;
		goto out;
	}
	if ((err = run_map_at(ri, rf, base, (uint64_t)off, mlen, prot, size, NULL)))
		goto out;
	run_hold(rf);
	run_copy_init();        /* our SIGBUS handler: pages past EOF that come to be */
	r->addr = base;
	r->len = mlen;
	r->off = (uint64_t)off;
	r->prot = prot;
	r->rf = rf;
	if (prot & PROT_WRITE)
		ri->time_dirty = true;
	/* listed before the lock goes: a recall waits for the lock */
	pthread_mutex_lock(&rlock);
	r->next = regions;
	regions = r;
	pthread_mutex_unlock(&rlock);
	pthread_rwlock_unlock(&ri->lock);
	run_watch(ri);
	run_log("inode %llu: mapped [%llu, +%zu) directly at %p", (unsigned long long)ri->ino,
		(unsigned long long)off, mlen, (void *)base);
	return base;
out:
	__atomic_fetch_sub(&ri->regions, 1, __ATOMIC_SEQ_CST);
	if (__atomic_sub_fetch(&rf->mapped, 1, __ATOMIC_SEQ_CST) == 0)
		(void)run_ioc(rf->kfd, DAXFS_IOC_RUN_MAPPED, DAXFS_IOC_MAPPED_DROP, 0, 0);
	pthread_rwlock_unlock(&ri->lock);
	free(r);
	return fail(ri, base, mlen, fixed, err);
}

void run_unmapped(void *addr, size_t len)
{
	char *a = addr, *e = a + ((len + RUN_PAGE - 1) & ~(RUN_PAGE - 1));
	struct region *gone = NULL;

	pthread_mutex_lock(&rlock);
	for (struct region **pp = &regions; *pp;) {
		struct region *r = *pp;

		if (r->addr >= a && r->addr + r->len <= e) {
			*pp = r->next;
			r->next = gone;
			gone = r;
			continue;
		}
		/* trimmed at one end: the rest stays ours */
		if (a <= r->addr && e > r->addr && e < r->addr + r->len) {
			r->off += (uint64_t)(e - r->addr);
			r->len -= (size_t)(e - r->addr);
			r->addr = e;
		} else if (a > r->addr && a < r->addr + r->len && e >= r->addr + r->len) {
			r->len = (size_t)(a - r->addr);
		}
		pp = &r->next;
	}
	pthread_mutex_unlock(&rlock);
	while (gone) {
		struct region *r = gone;

		gone = r->next;
		if ((r->prot & PROT_WRITE) && r->rf->ri->time_dirty)
			(void)run_push_times(r->rf->ri, r->rf->kfd);
		__atomic_fetch_sub(&r->rf->ri->regions, 1, __ATOMIC_SEQ_CST);
		if (__atomic_sub_fetch(&r->rf->mapped, 1, __ATOMIC_SEQ_CST) == 0)
			(void)run_ioc(r->rf->kfd, DAXFS_IOC_RUN_MAPPED, DAXFS_IOC_MAPPED_DROP, 0, 0);
		run_put(r->rf);
		free(r);
	}
}

/* rlock held */
static struct region *find(void *addr, size_t len)
{
	char *a = addr;

	for (struct region *r = regions; r; r = r->next)
		if (a >= r->addr && a < r->addr + r->len && len <= (size_t)(r->addr + r->len - a))
			return r;
	return NULL;
}

void *run_mremap(void *old, size_t old_len, size_t new_len, int flags, void *new_addr)
{
	struct region *r;
	struct rfile *rf;
	uint64_t off;
	int prot;
	void *at;

	pthread_mutex_lock(&rlock);
	r = find(old, old_len);
	if (!r || r->addr != old || (old_len + RUN_PAGE - 1) / RUN_PAGE * RUN_PAGE != r->len) {
		pthread_mutex_unlock(&rlock);
		return r ? (errno = EINVAL, MAP_FAILED) : NULL;
	}
	rf = r->rf;
	off = r->off;
	prot = r->prot;
	run_hold(rf);
	pthread_mutex_unlock(&rlock);
	if (new_len <= old_len && !(flags & MREMAP_FIXED)) {
		/* shrinking in place: the kernel keeps the rest as it is */
		at = real.mremap(old, old_len, new_len, flags);
		if (at != MAP_FAILED)
			run_unmapped((char *)old + (new_len + RUN_PAGE - 1) / RUN_PAGE * RUN_PAGE,
				     old_len - (new_len + RUN_PAGE - 1) / RUN_PAGE * RUN_PAGE);
		run_put(rf);
		return at;
	}
	if (!(flags & MREMAP_MAYMOVE)) {
		run_put(rf);
		errno = ENOMEM;         /* no room to grow in place, as mremap says */
		return MAP_FAILED;
	}
	/* a new direct mapping of the longer range; the old one goes */
	at = run_mmap(rf, (flags & MREMAP_FIXED) ? new_addr : NULL, new_len, prot,
		      MAP_SHARED | ((flags & MREMAP_FIXED) ? MAP_FIXED : 0), (off_t)off);
	run_put(rf);
	if (!at) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	real.munmap(old, old_len);
	run_unmapped(old, old_len);
	return at;
}

int run_msync(void *addr, size_t len, int flags)
{
	struct region *r;
	struct rfile *rf;
	int ret, prot = 0;

	ret = real.msync(addr, len, flags);
	uint64_t foff = 0;

	pthread_mutex_lock(&rlock);
	r = find(addr, len ? len : 1);
	rf = r ? r->rf : NULL;
	if (rf) {
		run_hold(rf);
		prot = r->prot;
		foff = r->off + (uint64_t)((char *)addr - r->addr);
	}
	pthread_mutex_unlock(&rlock);
	if (!rf)
		return ret;
	if (ret == 0) {
		volatile struct daxfs_run_slot *s = rf->ri->slot;

		pmem_drain();
		if ((prot & PROT_WRITE) && (flags & MS_SYNC) && run_traced(rf->ri) &&
		    run_ioc(rf->kfd, DAXFS_IOC_RUN_WRITTEN, DAXFS_IOC_WRITTEN_FLUSH |
			    DAXFS_IOC_WRITTEN_DRAIN, foff, len) < 0)
			ret = -1;       /* errno: the daemon's */
		if ((prot & PROT_WRITE) && rf->ri->time_dirty)
			(void)run_push_times(rf->ri, rf->kfd);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if ((__atomic_load_n(&s->flags, __ATOMIC_SEQ_CST) & DAXFS_RUN_CACHED) &&
		    rf->accmode != O_RDONLY)
			(void)run_ioc(rf->kfd, DAXFS_IOC_RUN_WRITTEN, DAXFS_IOC_WRITTEN_INVAL, 0, 0);
	}
	run_put(rf);
	return ret;
}

void run_truncated(struct rino *ri, uint64_t size)
{
	uint64_t keep = (size + RUN_PAGE - 1) & ~(RUN_PAGE - 1);

	pthread_mutex_lock(&rlock);
	for (struct region *r = regions; r; r = r->next) {
		if (r->rf->ri != ri || r->off + r->len <= keep)
			continue;
		uint64_t from = keep > r->off ? keep - r->off : 0;

		/* a DAX file's pages past the new EOF leave every mapping:
		 * a later access raises SIGBUS */
		(void)run_map_sigbus(r->addr + from, r->len - from, r->prot);
	}
	pthread_mutex_unlock(&rlock);
}

void run_regions_gone(struct rmount *m)
{
	pthread_mutex_lock(&rlock);
	for (struct region *r = regions; r; r = r->next)
		if (r->rf->ri->mount == m)
			(void)run_map_sigbus(r->addr, r->len, r->prot);
	pthread_mutex_unlock(&rlock);
}

bool run_remap_regions(struct rino *ri)
{
	uint64_t size = run_size(ri);
	uint64_t keep = (size + RUN_PAGE - 1) & ~(RUN_PAGE - 1);
	bool all = true;

	pthread_mutex_lock(&rlock);
	for (struct region *r = regions; r; r = r->next) {
		if (r->rf->ri != ri)
			continue;
		uint64_t in = keep > r->off ? keep - r->off : 0;

		if (in > r->len)
			in = r->len;
		/* past EOF first: that much holds whatever the rest does */
		if (in < r->len && run_map_sigbus(r->addr + in, r->len - in, r->prot) < 0)
			all = false;
		if (!in || ri->broken)
			continue;
		/* the rest as the extent map has it now (a punched range),
		 * allocated again where it is writable, as a DAX store would */
		if ((r->prot & PROT_WRITE) &&
		    run_ioc(r->rf->kfd, DAXFS_IOC_ALLOC,
			      DAXFS_IOC_ALLOC_KEEP_SIZE | DAXFS_IOC_ALLOC_MAPPED, r->off, in) < 0)
			all = false;
		else if (run_map_at(ri, r->rf, r->addr, r->off, in, r->prot, size, NULL) < 0)
			all = false;
	}
	pthread_mutex_unlock(&rlock);
	return all;
}

/*
 * A page of a region past EOF when it was mapped, touched after the file
 * grew (by this process or another; LMDB maps its whole map size and
 * writes through another descriptor): the SIGBUS handler asks here, and
 * the pages from it to the region's end are mapped as the file now has
 * them. The fault is the program's own load or store, never inside this
 * library or malloc, so the locks and allocations below cannot be held by
 * the interrupted code. Returns whether the access may be retried.
 */
bool run_fault(void *addr)
{
	char *a = addr;
	struct region *r;
	struct rfile *rf = NULL;
	char *at = NULL;
	uint64_t off = 0, size, len = 0;
	int prot = 0;
	bool ok = false;

	pthread_mutex_lock(&rlock);
	for (r = regions; r; r = r->next) {
		if (a >= r->addr && a < r->addr + r->len) {
			rf = r->rf;
			run_hold(rf);
			at = r->addr + ((size_t)(a - r->addr) & ~(RUN_PAGE - 1));
			off = r->off + (uint64_t)(at - r->addr);
			len = (uint64_t)(r->addr + r->len - at);
			prot = r->prot;
			break;
		}
	}
	pthread_mutex_unlock(&rlock);
	if (!rf)
		return false;
	struct rino *ri = rf->ri;

	pthread_rwlock_wrlock(&ri->lock);
	size = run_size(ri);
	if (off < size && !ri->broken && !run_gone(ri)) {
		uint64_t in = ((size + RUN_PAGE - 1) & ~(RUN_PAGE - 1)) - off;

		if (in > len)
			in = len;
		if ((prot & PROT_WRITE) &&
		    run_ioc(rf->kfd, DAXFS_IOC_ALLOC,
			      DAXFS_IOC_ALLOC_KEEP_SIZE | DAXFS_IOC_ALLOC_MAPPED, off, in) < 0)
			goto out;
		/* again only where it now maps data: a bad page (poison, an
		 * error target) raises SIGBUS for the program */
		bool data;

		ok = run_map_at(ri, rf, at, off, len, prot, size, &data) == 0 && data;
	}
out:
	pthread_rwlock_unlock(&ri->lock);
	run_put(rf);
	return ok;
}

void run_sync_regions(struct rino *ri)
{
	pthread_mutex_lock(&rlock);
	for (struct region *r = regions; r; r = r->next)
		if (r->rf->ri == ri && (r->prot & PROT_WRITE))
			(void)real.msync(r->addr, r->len, MS_SYNC);
	pthread_mutex_unlock(&rlock);
}
