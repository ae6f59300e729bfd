/* preload/record.c - libdaxfs-run: size records, the size fdatasync makes durable without a request */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <libpmem.h>
#include <string.h>
#include <sys/mman.h>

#include "preload/run.h"
#include "util/crc32c.h"

/*
 * A write that extends a file from within leaves its new end pending for the
 * daemon (io.c); the size is durable only once the daemon commits it, which
 * made every fdatasync after such writes a request: for a database that
 * grows its file at each commit, the largest cost of the commit. Instead,
 * with the slot's size record pair (daxfs/ioctl.h, struct daxfs_run_record),
 * fdatasync writes the size into the record not written last, persists it
 * and is done; the next mount applies records that still hold (fs/runrec.c).
 *
 * A record holds only if no cut of the size began while it was written: the
 * slot's gen is odd from before a truncate until its new size_epoch is
 * published, so a gen that did not move from before the record was built
 * until after it was persisted says the epoch in it was the inode's on media
 * all along. Records are written under the extend lock, which orders them
 * between processes (the pair's turn is in the shared pending record).
 */

/* The record block mapped (ri->extend held): 0, or RUN_FALLBACK. */
static int map_block(struct rino *ri, struct rfile *rf)
{
	volatile struct daxfs_run_head *h = ri->head;
	uint64_t devoff = __atomic_load_n(&h->rec_devoff, __ATOMIC_RELAXED);
	uint64_t start = devoff & ~(RUN_PAGE - 1);
	size_t len = (size_t)((devoff - start + 4096 + RUN_PAGE - 1) & ~(RUN_PAGE - 1));
	bool pmem = true;
	char *at;

	if (ri->rec_base)
		return 0;
	at = real.mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (at == MAP_FAILED)
		return RUN_FALLBACK;
	if (run_map_dev(ri, rf, at, len, PROT_READ | PROT_WRITE,
			__atomic_load_n(&h->rec_dev, __ATOMIC_RELAXED), start, &pmem) < 0) {
		real.munmap(at, len);
		run_log("inode %llu: size records: cannot map their block: fdatasync asks the daemon",
			(unsigned long long)ri->ino);
		return RUN_FALLBACK;
	}
	ri->rec_base = at;
	ri->rec_len = len;
	ri->rec_block = at + (devoff - start);
	ri->rec_pmem = pmem;
	return 0;
}

/* The record's bytes, its crc seeded with its place on the mapped device. */
static void encode(struct daxfs_run_record *r, uint64_t pos, uint64_t ino, uint64_t size,
		   uint32_t generation, uint32_t epoch, uint32_t mount_count)
{
	uint64_t le = htole64(pos);

	memset(r, 0, sizeof(*r));
	r->magic = htole32(DAXFS_RUN_RECORD_MAGIC);
	r->epoch = htole32(epoch);
	r->ino = htole64(ino);
	r->size = htole64(size);
	r->generation = htole32(generation);
	r->mount_count = htole32(mount_count);
	r->crc = htole32(crc32c_final(crc32c_update(crc32c_update(CRC32C_INIT, &le, 8), r,
						    offsetof(struct daxfs_run_record, crc))));
}

int run_record_size(struct rino *ri, struct rfile *rf)
{
	volatile struct daxfs_run_slot *s = ri->slot;
	volatile struct daxfs_run_head *h = ri->head;
	volatile struct daxfs_run_pending *pe = __atomic_load_n(&ri->pend, __ATOMIC_ACQUIRE);
	uint32_t pair = __atomic_load_n(&s->rec, __ATOMIC_SEQ_CST);
	uint32_t pairs = __atomic_load_n(&h->rec_pairs, __ATOMIC_SEQ_CST);
	struct daxfs_run_record r;
	int err = RUN_FALLBACK;

	if (pair == 0 || pair > pairs || !pe || !__atomic_load_n(&ri->pend_rw, __ATOMIC_ACQUIRE) ||
	    ri->broken)
		return RUN_FALLBACK;
	if (run_extend_lock(ri, rf, F_WRLCK))
		return RUN_FALLBACK;
	uint64_t gen = __atomic_load_n(&s->gen, __ATOMIC_SEQ_CST);

	if ((gen & 1) || gen != ri->gen_seen ||
	    (__atomic_load_n(&s->flags, __ATOMIC_SEQ_CST) & DAXFS_RUN_REVOKED) ||
	    map_block(ri, rf))
		goto out;
	uint64_t turn = __atomic_fetch_add(&pe->rec_turn, 1, __ATOMIC_SEQ_CST);
	unsigned off = daxfs_run_record_offset(2 * (pair - 1) + (unsigned)(turn & 1),
				     __atomic_load_n(&h->rec_label_sector, __ATOMIC_RELAXED));

	encode(&r, __atomic_load_n(&h->rec_pos, __ATOMIC_RELAXED) + off, ri->ino, run_size(ri),
	       __atomic_load_n(&s->generation, __ATOMIC_ACQUIRE),
	       __atomic_load_n(&s->size_epoch, __ATOMIC_ACQUIRE),
	       __atomic_load_n(&h->mount_count, __ATOMIC_RELAXED));
	/* a member that cannot take the store (a bad page, an error target)
	 * leaves the size to the daemon */
	if (run_copy(ri->rec_block + off, &r, sizeof(r), false) != sizeof(r))
		goto out;
	if (ri->rec_pmem)
		pmem_persist(ri->rec_block + off, sizeof(r));
	else if (real.msync(ri->rec_base, ri->rec_len, MS_SYNC) < 0)
		goto out;
	/* persisted with an epoch that was the inode's all along */
	if (__atomic_load_n(&s->gen, __ATOMIC_SEQ_CST) == gen &&
	    __atomic_load_n(&h->rec_pairs, __ATOMIC_SEQ_CST) == pairs)
		err = 0;
out:
	(void)run_extend_lock(ri, rf, F_UNLCK);
	return err;
}

void run_record_unmap(struct rino *ri)
{
	if (ri->rec_base)
		real.munmap(ri->rec_base, ri->rec_len);
	ri->rec_base = NULL;
}
