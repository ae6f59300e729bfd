/* client/map.c - daxfs_map and daxfs_unmap: a file's pmem pieces at consecutive addresses */
#include <errno.h>
#include <fcntl.h>
#include <libpmem.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/internal.h"
#include "daxfs/client.h"
#include "daxfs/ioctl.h"
#include "util/err.h"

#define PAGE 4096u

#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif

/* A backing device opened for this mapping: opened once, closed when the
 * mapping is built (the pieces keep the file mapped). */
struct backing {
	uint32_t index;
	int fd;
};

struct build {
	struct dmap *m;
	int prot;
	struct backing *dev;
	size_t ndev;
};

static int ioc_range(int fd, unsigned long cmd, uint32_t flags)
{
	struct daxfs_ioc_range r = { .version = DAXFS_IOC_VERSION, .flags = flags };

	return ioctl(fd, cmd, &r) < 0 ? -errno : 0;
}

static int open_backing(struct build *b, uint32_t index, int *fd)
{
	struct backing *nd;
	int bfd;

	for (size_t i = 0; i < b->ndev; i++) {
		if (b->dev[i].index == index) {
			*fd = b->dev[i].fd;
			return 0;
		}
	}
	if (!(nd = realloc(b->dev, (b->ndev + 1) * sizeof(*nd))))
		return daxfs_err(-ENOMEM, "out of memory");
	b->dev = nd;
	if ((bfd = dmap_open_backing(b->m->fd, index, b->prot & PROT_WRITE)) < 0)
		return bfd;
	b->dev[b->ndev++] = (struct backing){ .index = index, .fd = bfd };
	*fd = bfd;
	return 0;
}

static int add_piece(struct dmap *m, size_t start, size_t length, bool pmem)
{
	if (m->npieces == m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 16;
		struct dmap_piece *np = realloc(m->pieces, ncap * sizeof(*np));

		if (!np)
			return daxfs_err(-ENOMEM, "out of memory");
		m->pieces = np;
		m->cap = ncap;
	}
	m->pieces[m->npieces++] = (struct dmap_piece){ start, length, pmem };
	return 0;
}

/* Maps one piece of the chain at its place in the region. */
static int map_piece(struct build *b, const struct daxfs_ioc_piece *p)
{
	struct dmap *m = b->m;
	size_t start = (size_t)(p->file_offset - (uint64_t)m->offset);
	bool sync = true;
	void *at;
	int fd = -1, err;

	if (p->file_offset < (uint64_t)m->offset || start > m->region || p->length > m->region - start ||
	    p->length % PAGE || p->device_offset % PAGE)
		return daxfs_err(-EIO, "the daemon answered a piece outside the range asked for");
	if ((err = open_backing(b, p->device_index, &fd)))
		return err;
	at = mmap(m->addr + start, p->length, b->prot, MAP_SHARED_VALIDATE | MAP_SYNC | MAP_FIXED, fd,
		  (off_t)p->device_offset);
	if (at == MAP_FAILED && (errno == EOPNOTSUPP || errno == EINVAL)) {
		/* Not a DAX file on the host (tmpfs, a plain file): no
		 * MAP_SYNC, so persistence takes msync or libpmem's check. */
		sync = false;
		at = mmap(m->addr + start, p->length, b->prot, MAP_SHARED | MAP_FIXED, fd,
			  (off_t)p->device_offset);
	}
	if (at == MAP_FAILED)
		return daxfs_err(-errno, "mapping %llu bytes at offset %llu of the backing device: %s",
				 (unsigned long long)p->length, (unsigned long long)p->device_offset,
				 strerror(errno));
	return add_piece(m, start, p->length, sync || pmem_is_pmem(at, p->length));
}

static int map_all(struct build *b)
{
	struct dmap *m = b->m;
	struct daxfs_ioc_extents *x = malloc(sizeof(*x));
	int err = 0;

	if (!x)
		return daxfs_err(-ENOMEM, "out of memory");
	for (size_t done = 0; done < m->region && !err;) {
		memset(x, 0, sizeof(*x));
		x->version = DAXFS_IOC_VERSION;
		x->flags = (b->prot & PROT_WRITE) ? DAXFS_IOC_EXTENTS_WRITE : 0;
		x->offset = (uint64_t)m->offset + done;
		x->length = m->region - done;
		if (ioctl(m->fd, DAXFS_IOC_EXTENTS, x) < 0) {
			err = daxfs_err(-errno, "asking the daemon for the extent map: %s", strerror(errno));
			break;
		}
		x->message[sizeof(x->message) - 1] = '\0';
		if (x->error < 0) {
			err = daxfs_err(x->error, "%s", x->message);
			break;
		}
		if (x->covered == 0 || x->covered > m->region - done || x->npieces > DAXFS_IOC_MAX_PIECES) {
			err = daxfs_err(-EIO, "the daemon's extent map made no progress at offset %llu",
					(unsigned long long)x->offset);
			break;
		}
		for (uint32_t i = 0; i < x->npieces && !err; i++)
			err = map_piece(b, &x->pieces[i]);
		done += x->covered;
	}
	free(x);
	return err;
}

static int check_args(int fd, off_t offset, size_t length, int prot, unsigned flags, void **addr)
{
	struct stat st;
	int fl;

	if (!addr)
		return daxfs_err(-EINVAL, "daxfs_map: addr is NULL");
	if (offset < 0 || offset % PAGE)
		return daxfs_err(-EINVAL, "daxfs_map: offset %jd is not page-aligned", (intmax_t)offset);
	if (length == 0 || length > (size_t)INT64_MAX - PAGE || (uint64_t)offset > (uint64_t)INT64_MAX - length)
		return daxfs_err(-EINVAL, "daxfs_map: bad length %zu", length);
	if (prot & ~(PROT_READ | PROT_WRITE) || prot == 0)
		return daxfs_err(-EINVAL, "daxfs_map: prot must be PROT_READ and/or PROT_WRITE");
	if (flags & ~(unsigned)DAXFS_MAP_ALLOC)
		return daxfs_err(-EINVAL, "daxfs_map: unknown flags 0x%x", flags);
	if (fstat(fd, &st) < 0)
		return daxfs_err(-errno, "daxfs_map: fd %d: %s", fd, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return daxfs_err(-EINVAL, "daxfs_map: fd %d is not a regular file", fd);
	if ((fl = fcntl(fd, F_GETFL)) < 0)
		return daxfs_err(-errno, "daxfs_map: fd %d: %s", fd, strerror(errno));
	fl &= O_ACCMODE;
	if (((prot & PROT_WRITE) || (flags & DAXFS_MAP_ALLOC)) && fl != O_RDWR)
		return daxfs_err(-EACCES, "daxfs_map: a writable mapping needs fd open O_RDWR");
	if (fl == O_WRONLY)
		return daxfs_err(-EACCES, "daxfs_map: fd is open write-only");
	return 0;
}

/* Why the daemon refused a lease, in the caller's terms. */
static void lease_failed(int fd, int err, bool write)
{
	switch (err) {
	case -ENOTTY:
	case -EINVAL:
		daxfs_err(-ENOTTY, "daxfs_map: fd %d is not a file on a daxfs-fuse mount", fd);
		break;
	case -EOPNOTSUPP:
		daxfs_err(err, "daxfs_map: the mount does not use DAX (dax=never, or its table "
			  "is not DAX-capable: see daxfs-ctl status) or caches writes in the "
			  "kernel (-o writeback_cache, whose dirty pages a direct mapping "
			  "would not see)");
		break;
	case -EACCES:
		daxfs_err(err, "daxfs_map: the daemon says this process may not %s the file",
			  write ? "read and write" : "read");
		break;
	case -EDQUOT:
		daxfs_err(err, "daxfs_map: this user holds as many leases (mappings) as the "
			  "mount allows (daxfs-fuse -o max_leases)");
		break;
	case -ESTALE:
		daxfs_err(err, "daxfs_map: %s", STALE);
		break;
	default:
		daxfs_err(err, "daxfs_map: taking a lease: %s", strerror(-err));
	}
}

static int alloc(struct dmap *m)
{
	struct daxfs_ioc_range r = { .version = DAXFS_IOC_VERSION, .offset = (uint64_t)m->offset,
				     .length = m->region };

	return ioctl(m->fd, DAXFS_IOC_ALLOC, &r) < 0 ? -errno : 0;
}

/*
 * The daemon dropped the kernel's attributes of the grown file; a GETATTR
 * gives the kernel the new size, which page-cache mmap faults check without
 * asking (else SIGBUS past the old EOF). The kernel ignores a GETATTR reply
 * when an invalidation landed while it was on its way (fuse_change_attributes
 * and attr_version), as the drop of cached pages the daemon sends after
 * answering a first lease may: so ask until the cached size (statx without
 * sync) covers end, or the file itself is smaller (truncated meanwhile).
 */
#define REFRESH_TRIES 1000

static void refresh_kernel_size(int fd, uint64_t end)
{
	for (int i = 0; i < REFRESH_TRIES; i++) {
		struct statx cached;
		struct stat st;

		if (fstat(fd, &st) < 0 || (uint64_t)st.st_size < end)
			return;
		if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_SIZE, &cached) < 0 ||
		    cached.stx_size >= end)
			return;
		usleep(100);
	}
}

static void dmap_free(struct dmap *m)
{
	if (m->addr)
		munmap(m->addr, m->region);
	if (m->fd >= 0) {
		(void)ioc_range(m->fd, DAXFS_IOC_LEASE_PUT, m->write ? DAXFS_IOC_LEASE_WRITE : 0);
		close(m->fd);
	}
	free(m->pieces);
	free(m);
}

int daxfs_map(int fd, off_t offset, size_t length, int prot, unsigned flags, void **addr)
{
	struct build b = { .prot = prot };
	struct dmap *m;
	int err;

	daxfs_err_clear();
	if ((err = check_args(fd, offset, length, prot, flags, addr)))
		return err;
	if (!(m = calloc(1, sizeof(*m))))
		return daxfs_err(-ENOMEM, "out of memory");
	b.m = m;
	m->length = length;
	m->region = (length + PAGE - 1) / PAGE * PAGE;
	m->offset = offset;
	/* Our own reference to the open file: the lease lives as long as it. */
	if ((m->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0) {
		err = daxfs_err(-errno, "daxfs_map: dup: %s", strerror(errno));
		free(m);
		return err;
	}
	m->write = (prot & PROT_WRITE) || (flags & DAXFS_MAP_ALLOC);
	if ((err = ioc_range(m->fd, DAXFS_IOC_LEASE_GET, m->write ? DAXFS_IOC_LEASE_WRITE : 0))) {
		lease_failed(fd, err, m->write);
		close(m->fd);
		free(m);
		return err == -EINVAL ? -ENOTTY : err;
	}
	if ((flags & DAXFS_MAP_ALLOC) && (err = alloc(m))) {
		daxfs_err(err, "daxfs_map: allocating [%jd, +%zu): %s", (intmax_t)offset, m->region,
			  err == -ESTALE ? STALE : strerror(-err));
		goto fail;
	}
	if (flags & DAXFS_MAP_ALLOC)
		refresh_kernel_size(m->fd, (uint64_t)offset + m->region);
	/* One reservation, then every piece MAP_FIXED into it: the file range
	 * is contiguous for the application whatever the chain below. */
	m->addr = mmap(NULL, m->region, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m->addr == MAP_FAILED) {
		m->addr = NULL;
		err = daxfs_err(-errno, "daxfs_map: reserving %zu bytes: %s", m->region, strerror(errno));
		goto fail;
	}
	if ((err = map_all(&b)))
		goto fail;
	for (size_t i = 0; i < b.ndev; i++)
		close(b.dev[i].fd);
	free(b.dev);
	dmap_register(m);
	*addr = m->addr;
	return 0;
fail:
	for (size_t i = 0; i < b.ndev; i++)
		close(b.dev[i].fd);
	free(b.dev);
	dmap_free(m);
	return err;
}

int daxfs_unmap(void *addr, size_t length)
{
	struct dmap *m;

	daxfs_err_clear();
	if (!(m = dmap_unregister(addr)))
		return daxfs_err(-EINVAL, "daxfs_unmap: %p is not a mapping made by daxfs_map", addr);
	if ((length + PAGE - 1) / PAGE * PAGE != m->region) {
		dmap_register(m);
		return daxfs_err(-EINVAL, "daxfs_unmap: length %zu does not match the mapping's %zu",
				 length, m->length);
	}
	dmap_free(m);
	return 0;
}
