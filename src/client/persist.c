/* client/persist.c - daxfs_persist: flush and drain, or msync, per piece; then tell the daemon */
#include <errno.h>
#include <libpmem.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "client/internal.h"
#include "daxfs/client.h"
#include "daxfs/ioctl.h"
#include "util/err.h"

#define PAGE 4096u

int daxfs_persist(const void *addr, size_t length)
{
	struct daxfs_ioc_range r = { .version = DAXFS_IOC_VERSION };
	const char *a = addr;
	bool drain = false;
	struct dmap *m;
	int err = 0;

	daxfs_err_clear();
	if (length == 0)
		return 0;
	if (!(m = dmap_lookup(addr, length)))
		return daxfs_err(-EINVAL, "daxfs_persist: [%p, +%zu) is not inside one mapping made "
				 "by daxfs_map", addr, length);
	size_t s = (size_t)(a - m->addr), e = s + length;
	for (size_t i = 0; i < m->npieces && !err; i++) {
		const struct dmap_piece *p = &m->pieces[i];
		size_t ps = s > p->start ? s : p->start;
		size_t pe = e < p->start + p->length ? e : p->start + p->length;

		if (ps >= pe)
			continue;
		if (p->pmem) {
			pmem_flush(m->addr + ps, pe - ps);
			drain = true;
		} else {
			size_t as = ps / PAGE * PAGE;

			if (msync(m->addr + as, pe - as, MS_SYNC) < 0)
				err = daxfs_err(-errno, "daxfs_persist: msync: %s", strerror(errno));
		}
	}
	if (drain)
		pmem_drain();
	/* The page cache may hold an older copy of these pages. */
	r.offset = (uint64_t)m->offset + s / PAGE * PAGE;
	r.length = e - s / PAGE * PAGE;
	if (!err && ioctl(m->fd, DAXFS_IOC_SYNC, &r) < 0)
		err = daxfs_err(-errno, "daxfs_persist: %s%s", errno == ESTALE ? "" :
				"telling the daemon: ", errno == ESTALE ? STALE : strerror(errno));
	dmap_unlock();
	return err;
}
