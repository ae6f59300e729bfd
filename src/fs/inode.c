/* fs/inode.c - inodes: the growing inode table, the inode cache, allocation, orphans */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/internal.h"
#include "util/array.h"
#include "util/err.h"

/*
 * Inode n lives in slot n of the inode table, a file of 256-byte slots made
 * of up to 128 extents listed in the superblock. It grows in chunks (16
 * blocks, then as big as the table already is, at most 8192 blocks), so
 * inodes are created without limit until space runs out, and slot numbers are
 * stable across remounts. A free slot is all zeroes; the free list is rebuilt
 * at mount by one sequential scan of the table.
 */

#define ICACHE_MAX 65536u
#define ITABLE_CHUNK_MIN 16u
#define ITABLE_CHUNK_MAX 8192u

static uint64_t itable_blocks(const struct dfs *fs)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < fs->sb.itable_nextents; i++)
		n += fs->sb.itable[i].len;
	return n;
}

static int itable_pblk(struct dfs *fs, uint64_t lblk, uint64_t *pblk)
{
	for (unsigned i = 0; i < fs->sb.itable_nextents; i++) {
		if (lblk < fs->sb.itable[i].len) {
			*pblk = fs->sb.itable[i].pblk + lblk;
			return 0;
		}
		lblk -= fs->sb.itable[i].len;
	}
	return daxfs_err(-EIO, "inode table block %llu not mapped", (unsigned long long)lblk);
}

int dfs_inode_slot(struct dfs *fs, uint64_t ino, struct dfs_buf **b, uint8_t **slot)
{
	uint64_t pblk = 0;
	int err;

	if (ino == 0 || ino >= fs->itable_slots)
		return daxfs_err(-ESTALE, "inode %llu does not exist", (unsigned long long)ino);
	if ((err = itable_pblk(fs, ino / DFS_INODES_PER_BLOCK, &pblk)) ||
	    (err = dfs_buf_read(fs, pblk, DFS_BUF_PLAIN, b)))
		return err;
	*slot = (*b)->data + (ino % DFS_INODES_PER_BLOCK) * DFS_INODE_SIZE;
	return 0;
}

int dfs_icache_init(struct dfs *fs)
{
	fs->ihash_size = 8192;
	fs->ihash = calloc(fs->ihash_size, sizeof(*fs->ihash));
	return fs->ihash ? 0 : daxfs_err(-ENOMEM, "inode cache: out of memory");
}

static size_t ihash_of(const struct dfs *fs, uint64_t ino)
{
	return (size_t)(ino * 0x9E3779B97F4A7C15ull >> 17) & (fs->ihash_size - 1);
}

static void inode_destroy(struct dfs_inode *ip)
{
	dfs_extents_free_mem(ip);
	free(ip->spec.r);
	dfs_dir_free_index(ip);
	free(ip->chain);
	pthread_rwlock_destroy(&ip->lock);
	free(ip);
}

/* icache_lock held */
static void icache_remove(struct dfs *fs, struct dfs_inode *ip)
{
	struct dfs_inode **pp = &fs->ihash[ihash_of(fs, ip->ino)];

	while (*pp != ip)
		pp = &(*pp)->hnext;
	*pp = ip->hnext;
	fs->ninodes--;
}

static void ihash_grow(struct dfs *fs)
{
	size_t nsize = fs->ihash_size * 4;
	struct dfs_inode **nh = calloc(nsize, sizeof(*nh));

	if (!nh)
		return;     /* longer chains, still correct */
	struct dfs_inode **oh = fs->ihash;
	size_t osize = fs->ihash_size;
	fs->ihash = nh;
	fs->ihash_size = nsize;
	for (size_t i = 0; i < osize; i++)
		for (struct dfs_inode *ip = oh[i], *n; ip; ip = n) {
			n = ip->hnext;
			size_t h = ihash_of(fs, ip->ino);
			ip->hnext = nh[h];
			nh[h] = ip;
		}
	free(oh);
}

void dfs_icache_destroy(struct dfs *fs)
{
	for (size_t i = 0; i < fs->ihash_size; i++)
		for (struct dfs_inode *ip = fs->ihash[i], *n; ip; ip = n) {
			n = ip->hnext;
			inode_destroy(ip);
		}
	free(fs->ihash);
	fs->ihash = NULL;
	free(fs->free_inos);
	fs->free_inos = NULL;
	fs->nfree_inos = fs->free_inos_cap = 0;
}

/* Room for n more free slots. */
static int free_reserve(struct dfs *fs, size_t n)
{
	return DAXFS_GROW(fs->free_inos, fs->free_inos_cap, fs->nfree_inos + n, 1024, "inode cache");
}

static int free_push(struct dfs *fs, uint64_t ino)
{
	int err = free_reserve(fs, 1);

	if (err)
		return err;
	fs->free_inos[fs->nfree_inos] = ino;
	__atomic_store_n(&fs->nfree_inos, fs->nfree_inos + 1, __ATOMIC_RELAXED);   /* statfs */
	return 0;
}

/* dfs_fixed_overlap against the inode table extents of sb (fs's geometry) */
static bool fixed_overlap(const struct dfs *fs, const struct dfs_super *sb, uint64_t pblk,
			  uint64_t len, unsigned itable_upto, char *what, size_t size)
{
	const uint64_t end = pblk + len;

	what[0] = '\0';
	if (len == 0 || end < pblk)
		return false;
	for (unsigned j = 0; j < itable_upto && j < sb->itable_nextents; j++)
		if (sb->itable[j].pblk < end && pblk < sb->itable[j].pblk + sb->itable[j].len) {
			snprintf(what, size, "inode table extent %u", j);
			return true;
		}
	for (uint64_t g = pblk / DFS_BLOCKS_PER_GROUP;
	     g <= (end - 1) / DFS_BLOCKS_PER_GROUP && g < fs->sb.ngroups; g++) {
		const uint64_t gs = g * DFS_BLOCKS_PER_GROUP, ge = gs + dfs_group_len(fs, g);
		const uint64_t s = pblk > gs ? pblk : gs, e = end < ge ? end : ge;
		const uint64_t bm = dfs_group_bitmap_blk(fs, g);
		uint8_t map[DFS_BLOCK_SIZE];

		if (s >= e)
			continue;
		if (dfs_label_blocks_in(fs, s, e - s, NULL)) {
			uint64_t b = 0;

			memset(map, 0, sizeof(map));
			dfs_label_blocks_in(fs, s, e - s, map);
			while (!(map[b >> 3] & (1u << (b & 7))))
				b++;
			snprintf(what, size, "the label block %llu of a member",
				 (unsigned long long)(s + b));
			return true;
		}
		if (bm >= s && bm < e) {
			snprintf(what, size, "the bitmap block %llu of group %llu", (unsigned long long)bm,
				 (unsigned long long)g);
			return true;
		}
	}
	return false;
}

bool dfs_fixed_overlap(const struct dfs *fs, uint64_t pblk, uint64_t len, unsigned itable_upto,
		       char *what, size_t size)
{
	return fixed_overlap(fs, &fs->sb, pblk, len, itable_upto, what, size);
}

/* The superblock's crc vouches only that it was written as it is, not that
 * its inode table extents keep clear of each other, the members' labels and
 * the groups' bitmaps, whose places follow from the geometry. */
int dfs_itable_check_layout(const struct dfs *fs, const struct dfs_super *sb)
{
	for (unsigned i = 0; i < sb->itable_nextents; i++) {
		const struct dfs_itable_extent *e = &sb->itable[i];
		char what[64];

		if (fixed_overlap(fs, sb, e->pblk, e->len, i, what, sizeof(what)))
			return daxfs_err(-EIO, "inode table extent %u (blocks %llu-%llu) overlaps %s",
					 i, (unsigned long long)e->pblk,
					 (unsigned long long)(e->pblk + e->len - 1), what);
	}
	return 0;
}

int dfs_itable_scan(struct dfs *fs)
{
	const uint64_t nblk = itable_blocks(fs), per = 64;
	uint8_t *buf = malloc(per * DFS_BLOCK_SIZE);
	int err = 0;

	if (!buf)
		return daxfs_err(-ENOMEM, "inode table: out of memory");
	/* inode writes (and fsck's clearing of bad slots) would land on them */
	if ((!fs->rdonly || fs->fsck_mount) && (err = dfs_itable_check_layout(fs, &fs->sb))) {
		char why[160];

		snprintf(why, sizeof(why), "%s", daxfs_errormsg());
		free(buf);
		return daxfs_err(err, "superblock: %s: the superblock is damaged in a way fsck.daxfs "
				 "cannot repair; a read-only mount may still reach files whose inodes "
				 "lie elsewhere", why);
	}
	__atomic_store_n(&fs->itable_slots, nblk * DFS_INODES_PER_BLOCK, __ATOMIC_RELAXED);
	__atomic_store_n(&fs->nfree_inos, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&fs->used_inodes, 0, __ATOMIC_RELAXED);
	/* walk backwards so that the lowest free number ends on top */
	for (uint64_t end = nblk; end > 0 && !err; ) {
		uint64_t start = end > per ? end - per : 0, pblk = 0;

		for (uint64_t l = start; l < end && !err; l++) {
			if ((err = itable_pblk(fs, l, &pblk)))
				break;
			/* a read-only mount redid the journal into the cache */
			if (!dfs_buf_peek(fs, pblk, buf + (l - start) * DFS_BLOCK_SIZE))
				err = dfs_dev_read(fs, pblk, buf + (l - start) * DFS_BLOCK_SIZE, 1);
		}
		for (uint64_t ino = end * DFS_INODES_PER_BLOCK; ino-- > start * DFS_INODES_PER_BLOCK && !err; ) {
			const uint8_t *s = buf + (ino - start * DFS_INODES_PER_BLOCK) * DFS_INODE_SIZE;

			if (ino == 0)
				continue;
			if (dfs_dinode_slot_free(s))
				err = free_push(fs, ino);
			else
				__atomic_store_n(&fs->used_inodes, fs->used_inodes + 1, __ATOMIC_RELAXED);
		}
		end = start;
	}
	free(buf);
	return err;
}

static int itable_grow(struct dfs *fs)
{
	uint64_t have = itable_blocks(fs), want = have, pblk, len;
	int err;

	if (fs->sb.itable_nextents >= DFS_ITABLE_MAX_EXTENTS)
		return daxfs_err(-ENOSPC, "inode table is at its maximum of %u extents",
				 DFS_ITABLE_MAX_EXTENTS);
	want = want < ITABLE_CHUNK_MIN ? ITABLE_CHUNK_MIN : want > ITABLE_CHUNK_MAX ? ITABLE_CHUNK_MAX : want;
	if ((err = dfs_alloc(fs, 0, want, ITABLE_CHUNK_MIN < want ? ITABLE_CHUNK_MIN : want,
			     0, &pblk, &len)))
		return daxfs_err_prefix(err, "growing the inode table");
	/* free slots are zero on media: zero them before the table points there
	 * (fsck -n, which never writes, in the cache); whatever fails before the
	 * table changes gives the chunk back */
	if ((err = free_reserve(fs, len * DFS_INODES_PER_BLOCK)))
		goto undo;
	for (uint64_t i = 0; i < len && fs->check_only; i++) {
		struct dfs_buf *zb;
		if ((err = dfs_buf_new(fs, pblk + i, DFS_BUF_PLAIN, &zb)))
			goto undo;
	}
	if ((!fs->check_only && (err = dfs_dev_zero(fs, pblk, len))) || (err = dfs_super_dirty(fs)))
		goto undo;
	for (uint64_t i = 0; i < len && !fs->check_only; i++)
		dfs_buf_forget(fs, pblk + i);
	/* an inode cache miss reads the geometry under icache_lock */
	pthread_mutex_lock(&fs->icache_lock);
	fs->sb.itable[fs->sb.itable_nextents++] = (struct dfs_itable_extent){ pblk, (uint32_t)len };
	uint64_t first = fs->itable_slots;
	__atomic_store_n(&fs->itable_slots, first + len * DFS_INODES_PER_BLOCK, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&fs->icache_lock);
	for (uint64_t ino = fs->itable_slots; ino-- > first; )
		if (ino && (err = free_push(fs, ino)))
			return err;
	return 0;
undo:
	(void)dfs_unalloc(fs, pblk, len);
	return err;
}

int dfs_itable_shrink(struct dfs *fs)
{
	int err = 0;

	while (fs->sb.itable_nextents > 1 && !err) {
		const struct dfs_itable_extent e = fs->sb.itable[fs->sb.itable_nextents - 1];
		const uint64_t n = (uint64_t)e.len * DFS_INODES_PER_BLOCK, first = fs->itable_slots - n;
		uint64_t nfree = 0;

		for (size_t i = 0; i < fs->nfree_inos; i++)
			nfree += fs->free_inos[i] >= first;
		if (nfree != n)
			break;          /* an inode in use there */
		if ((err = dfs_txn_reserve(fs, 8)))
			break;
		/* the free list keeps the rest of its order (lowest on top) */
		size_t k = 0;
		for (size_t i = 0; i < fs->nfree_inos; i++)
			if (fs->free_inos[i] < first)
				fs->free_inos[k++] = fs->free_inos[i];
		__atomic_store_n(&fs->nfree_inos, k, __ATOMIC_RELAXED);
		pthread_mutex_lock(&fs->icache_lock);
		fs->sb.itable_nextents--;
		__atomic_store_n(&fs->itable_slots, first, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&fs->icache_lock);
		for (uint32_t b = 0; b < e.len; b++)
			dfs_buf_forget(fs, e.pblk + b);
		/* no longer the table's, the blocks may be freed (a failure fails
		 * the mount, which commits nothing of it) */
		if ((err = dfs_free(fs, e.pblk, e.len)) || (err = dfs_super_dirty(fs)))
			break;
	}
	return err;
}

static struct dfs_inode *inode_new_mem(uint64_t ino)
{
	struct dfs_inode *ip = calloc(1, sizeof(*ip));

	if (!ip) {
		daxfs_err(-ENOMEM, "inode cache: out of memory");
		return NULL;
	}
	ip->ino = ino;
	pthread_rwlock_init(&ip->lock, NULL);
	return ip;
}

/* icache_lock held */
static void icache_insert(struct dfs *fs, struct dfs_inode *ip)
{
	if (fs->ninodes >= fs->ihash_size * 2)
		ihash_grow(fs);
	size_t h = ihash_of(fs, ip->ino);
	ip->hnext = fs->ihash[h];
	fs->ihash[h] = ip;
	fs->ninodes++;
}

/* icache_lock held */
static struct dfs_inode *icache_peek(struct dfs *fs, uint64_t ino)
{
	for (struct dfs_inode *ip = fs->ihash[ihash_of(fs, ino)]; ip; ip = ip->hnext)
		if (ip->ino == ino)
			return ip;
	return NULL;
}

/* A miss: icache_lock held, so nobody reads the same inode in twice, and the
 * inode enters the cache complete. */
static int inode_read(struct dfs *fs, uint64_t ino, struct dfs_inode **out)
{
	struct dfs_buf *b;
	uint8_t *slot;
	struct dfs_dinode di;
	struct dfs_inode *ip;
	int err;

	dfs_buf_use_begin(fs);
	if (!(err = dfs_inode_slot(fs, ino, &b, &slot)))
		err = dfs_dinode_decode(slot, ino, fs->sb.total_blocks, &di);
	if (!err && di.mode == 0)
		err = daxfs_err(-ESTALE, "inode %llu is not in use", (unsigned long long)ino);
	/* an inode loses its last link only on the orphan list (same
	 * transaction): one without either would be freed at its last forget
	 * while entries still name it */
	if (!err && di.nlink == 0 && !(di.flags & DFS_IFLAG_ORPHAN) && !fs->rdonly && !fs->fsck_mount)
		err = daxfs_err(-EIO, "inode %llu: link count 0, yet not on the orphan list; run "
				"fsck.daxfs -y", (unsigned long long)ino);
	if (!err && !(ip = inode_new_mem(ino)))
		err = -ENOMEM;
	if (!err) {
		ip->d = di;
		if ((err = dfs_extents_load(fs, ip)))
			inode_destroy(ip);
	}
	dfs_buf_use_end(fs);
	if (err)
		return err;
	icache_insert(fs, ip);
	*out = ip;
	return 0;
}

static int iget_common(struct dfs *fs, uint64_t ino, bool pin, struct dfs_inode **out)
{
	struct dfs_inode *ip;
	int err = 0;

	pthread_mutex_lock(&fs->icache_lock);
	if ((ip = icache_peek(fs, ino))) {
		if (ip->freeing)
			err = daxfs_err(-ESTALE, "inode %llu is being freed", (unsigned long long)ino);
	} else {
		err = inode_read(fs, ino, &ip);
	}
	if (!err) {
		ip->pins += pin;
		*out = ip;
	}
	pthread_mutex_unlock(&fs->icache_lock);
	return err;
}

int dfs_iget(struct dfs *fs, uint64_t ino, struct dfs_inode **out)
{
	return iget_common(fs, ino, false, out);
}

int dfs_iget_pin(struct dfs *fs, uint64_t ino, struct dfs_inode **out)
{
	return iget_common(fs, ino, true, out);
}

void dfs_iunpin_locked(struct dfs *fs, struct dfs_inode *ip)
{
	pthread_mutex_lock(&fs->icache_lock);
	ip->pins--;
	pthread_mutex_unlock(&fs->icache_lock);
}

void dfs_inode_ref(struct dfs *fs, struct dfs_inode *ip, uint64_t n)
{
	pthread_mutex_lock(&fs->icache_lock);
	ip->nlookup += n;
	pthread_mutex_unlock(&fs->icache_lock);
}

/* The last user of an inode without links frees it, under meta; ip may be
 * gone once the pin is dropped, so it is found again by number. */
static void release_if_unused(struct dfs *fs, uint64_t ino)
{
	struct dfs_inode *ip;

	pthread_mutex_lock(&fs->meta);
	/* the reservation may commit, dropping meta: look the inode up after */
	if (!fs->rdonly && dfs_txn_reserve(fs, 64) == 0 && dfs_iget(fs, ino, &ip) == 0 &&
	    ip->d.nlink == 0)
		(void)dfs_inode_maybe_release(fs, ip);   /* on failure it stays an orphan */
	/* The inode is an orphan on media, released by the next mount if this
	 * is lost, and no caller waits for it (a FORGET, a RELEASE): it goes
	 * with the next commit instead of one of its own, which took a fifth
	 * off the rate of unlink on a synchronous mount. Its data blocks are
	 * free at once (alloc.c: only metadata blocks wait for the commit). */
	dfs_txn_end_deferred(fs);
	pthread_mutex_unlock(&fs->meta);
}

void dfs_iput(struct dfs *fs, struct dfs_inode *ip)
{
	pthread_rwlock_rdlock(&ip->lock);
	const bool unlinked = ip->d.nlink == 0;
	pthread_rwlock_unlock(&ip->lock);
	pthread_mutex_lock(&fs->icache_lock);
	ip->pins--;
	const bool last = unlinked && ip->pins == 0 && ip->nlookup == 0 && !ip->freeing;
	const uint64_t ino = ip->ino;
	pthread_mutex_unlock(&fs->icache_lock);
	if (last)
		release_if_unused(fs, ino);
}

void dfs_forget(struct dfs *fs, uint64_t ino, uint64_t nlookup)
{
	struct dfs_inode *ip;
	bool last = false;

	/* an inode that is not cached has no lookup references to drop */
	pthread_mutex_lock(&fs->icache_lock);
	if ((ip = icache_peek(fs, ino)) && !ip->freeing) {
		ip->nlookup -= nlookup < ip->nlookup ? nlookup : ip->nlookup;
		if ((last = ip->nlookup == 0))
			ip->pins++;
	}
	pthread_mutex_unlock(&fs->icache_lock);
	if (last)
		dfs_iput(fs, ip);
}

int dfs_inode_write(struct dfs *fs, struct dfs_inode *ip)
{
	struct dfs_buf *b;
	uint8_t *slot;
	int err = dfs_inode_slot(fs, ip->ino, &b, &slot);

	if (err)
		return err;
	dfs_dinode_encode(&ip->d, ip->ino, slot);
	dfs_buf_dirty(fs, b);
	ip->dirty_tid = fs->running_tid;
	return 0;
}

int dfs_inode_alloc(struct dfs *fs, uint32_t mode, const struct dfs_cred *cred,
		    struct dfs_inode **out)
{
	int err = dfs_inode_alloc_locked(fs, mode, cred, out);

	if (!err)
		pthread_rwlock_unlock(&(*out)->lock);
	return err;
}

int dfs_inode_alloc_locked(struct dfs *fs, uint32_t mode, const struct dfs_cred *cred,
			   struct dfs_inode **out)
{
	struct dfs_inode *ip;
	int err;

	if (fs->nfree_inos == 0 && (err = itable_grow(fs)))
		return err;
	uint64_t ino = fs->free_inos[fs->nfree_inos - 1];
	if (!(ip = inode_new_mem(ino)))
		return -ENOMEM;
	ip->d.mode = mode;
	ip->d.uid = cred ? cred->uid : 0;
	ip->d.gid = cred ? cred->gid : 0;
	ip->d.nlink = 1;
	dfs_now(&ip->d.atime);
	ip->d.mtime = ip->d.ctime = ip->d.crtime = ip->d.atime;
	if (fs->gen_next >= fs->gen_limit) {
		/* The superblock records the end of a batch, not every number,
		 * so that a create does not rewrite it (and its backup): an
		 * inode is durable only with a transaction that holds or follows
		 * its batch's reservation, so after a crash the next batch
		 * starts past every durable inode's generation. */
		uint64_t start = fs->sb.next_generation;

		fs->sb.next_generation = start + DFS_GENERATION_BATCH;
		if ((err = dfs_super_dirty(fs))) {
			fs->sb.next_generation = start;
			goto fail;
		}
		fs->gen_next = start;
		fs->gen_limit = start + DFS_GENERATION_BATCH;
	}
	ip->d.generation = (uint32_t)fs->gen_next++;
	/* under icache_lock: a miss on this number (a stale listing, a stale
	 * handle) reads the slot under it too, never half-written; and locked,
	 * so whoever finds it in the cache waits until the creator is done.
	 * Nobody else knows the lock yet: a try that cannot fail, and no
	 * wait under meta. */
	if (pthread_rwlock_trywrlock(&ip->lock))
		abort();
	pthread_mutex_lock(&fs->icache_lock);
	if ((err = dfs_inode_write(fs, ip))) {
		pthread_mutex_unlock(&fs->icache_lock);
		pthread_rwlock_unlock(&ip->lock);
		goto fail;
	}
	icache_insert(fs, ip);
	pthread_mutex_unlock(&fs->icache_lock);
	__atomic_store_n(&fs->nfree_inos, fs->nfree_inos - 1, __ATOMIC_RELAXED);
	__atomic_store_n(&fs->used_inodes, fs->used_inodes + 1, __ATOMIC_RELAXED);
	*out = ip;
	return 0;
fail:
	inode_destroy(ip);
	return err;
}

/* meta held: the orphan links of cached inodes */
static struct dfs_inode *orphan_peek(struct dfs *fs, uint64_t ino)
{
	pthread_mutex_lock(&fs->icache_lock);
	struct dfs_inode *ip = icache_peek(fs, ino);
	pthread_mutex_unlock(&fs->icache_lock);
	return ip;
}

int dfs_orphan_add(struct dfs *fs, struct dfs_inode *ip)
{
	int err;

	if (ip->d.flags & DFS_IFLAG_ORPHAN)
		return 0;
	struct dfs_inode *old = fs->sb.orphan_head ? orphan_peek(fs, fs->sb.orphan_head) : NULL;
	if (old)
		old->orphan_prev = ip->ino;
	ip->orphan_prev = 0;
	ip->d.orphan_next = fs->sb.orphan_head;
	ip->d.flags |= DFS_IFLAG_ORPHAN;
	fs->sb.orphan_head = ip->ino;
	if ((err = dfs_super_dirty(fs)))
		return err;
	return dfs_inode_write(fs, ip);
}

int dfs_orphan_del(struct dfs *fs, struct dfs_inode *ip)
{
	int err;

	if (!(ip->d.flags & DFS_IFLAG_ORPHAN))
		return 0;
	if (fs->sb.orphan_head == ip->ino) {
		fs->sb.orphan_head = ip->d.orphan_next;
		if ((err = dfs_super_dirty(fs)))
			return err;
	} else if (ip->orphan_prev) {
		/* orphans stay cached while mounted: the list is doubly linked in memory */
		struct dfs_inode *p;
		if ((err = dfs_iget(fs, ip->orphan_prev, &p)))
			return err;
		p->d.orphan_next = ip->d.orphan_next;
		if ((err = dfs_inode_write(fs, p)))
			return err;
	} else {
		uint64_t cur = fs->sb.orphan_head;
		for (uint64_t guard = 0; cur && guard < fs->itable_slots; guard++) {
			struct dfs_inode *p;
			if ((err = dfs_iget(fs, cur, &p)))
				return err;
			if (p->d.orphan_next == ip->ino) {
				p->d.orphan_next = ip->d.orphan_next;
				if ((err = dfs_inode_write(fs, p)))
					return err;
				break;
			}
			cur = p->d.orphan_next;
		}
	}
	struct dfs_inode *next = ip->d.orphan_next ? orphan_peek(fs, ip->d.orphan_next) : NULL;
	if (next)
		next->orphan_prev = ip->orphan_prev;
	ip->orphan_prev = 0;
	ip->d.orphan_next = 0;
	ip->d.flags &= ~DFS_IFLAG_ORPHAN;
	return dfs_inode_write(fs, ip);
}

static void set_freeing(struct dfs *fs, struct dfs_inode *ip, bool on)
{
	pthread_mutex_lock(&fs->icache_lock);
	ip->freeing = on;
	pthread_mutex_unlock(&fs->icache_lock);
}

/* ip->freeing is set: nobody finds it any more, nobody holds it. */
static int inode_release(struct dfs *fs, struct dfs_inode *ip)
{
	int err;

	/* the orphan entry makes a release cut short by a crash finish at mount */
	if ((err = dfs_orphan_add(fs, ip)) || (err = dfs_free_all_data(fs, ip)) ||
	    (err = dfs_txn_reserve(fs, 16)) || (err = dfs_xattr_free(fs, ip)) ||
	    (err = dfs_orphan_del(fs, ip))) {
		set_freeing(fs, ip, false);
		return err;
	}
	ip->d = (struct dfs_dinode){ 0 };
	if ((err = dfs_inode_write(fs, ip)) || (err = free_push(fs, ip->ino))) {
		set_freeing(fs, ip, false);
		return err;
	}
	__atomic_store_n(&fs->used_inodes, fs->used_inodes - 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&fs->icache_lock);
	icache_remove(fs, ip);
	pthread_mutex_unlock(&fs->icache_lock);
	inode_destroy(ip);
	return 0;
}

int dfs_inode_maybe_release(struct dfs *fs, struct dfs_inode *ip)
{
	if (ip->d.nlink > 0)
		return 0;
	pthread_mutex_lock(&fs->icache_lock);
	const bool gone = ip->freeing, busy = ip->nlookup > 0 || ip->pins > 0;
	if (!gone && !busy)
		ip->freeing = true;
	pthread_mutex_unlock(&fs->icache_lock);
	if (gone)
		return 0;
	if (busy)
		return dfs_orphan_add(fs, ip);
	return inode_release(fs, ip);
}

const char *dfs_orphan_misfit(const struct dfs_inode *ip)
{
	if (ip->ino == DFS_ROOT_INO)
		return "the root directory";
	if (ip->d.nlink && !S_ISREG(ip->d.mode))
		return S_ISDIR(ip->d.mode) ? "a directory with links" : "a special file or symlink with links";
	return NULL;
}

/* A directory without links that still holds entries was never unlinked by
 * rmdir (which takes only empty ones): releasing it would lose them. One
 * whose blocks a crash in its release took away has none to show. */
static bool orphan_dir_holds_entries(struct dfs *fs, struct dfs_inode *ip)
{
	uint64_t n = 0;

	return S_ISDIR(ip->d.mode) && ip->next && dfs_dir_entries(fs, ip, &n) == 0 && n > 0;
}

int dfs_orphans_process(struct dfs *fs)
{
	uint64_t guard = 0;
	int err;

	while (fs->sb.orphan_head) {
		struct dfs_inode *ip;

		if (++guard > fs->itable_slots)
			return daxfs_err(-EIO, "orphan list loops");
		if ((err = dfs_txn_reserve(fs, 64)))
			return daxfs_err_prefix(err, "orphan list");
		/* a list naming a free or missing inode is damage (fsck relinks it) */
		if ((err = dfs_iget(fs, fs->sb.orphan_head, &ip)))
			return daxfs_err_prefix(err == -ENOMEM ? err : -EIO, "orphan list");
		if (!(ip->d.flags & DFS_IFLAG_ORPHAN))
			return daxfs_err(-EIO, "orphan list: inode %llu is not marked orphan",
					 (unsigned long long)ip->ino);
		if (dfs_orphan_misfit(ip))
			return daxfs_err(-EIO, "orphan list: inode %llu is %s, which is never on it",
					 (unsigned long long)ip->ino, dfs_orphan_misfit(ip));
		if (!ip->d.nlink && orphan_dir_holds_entries(fs, ip))
			return daxfs_err(-EIO, "orphan list: directory %llu has no links but holds "
					 "entries", (unsigned long long)ip->ino);
		/* linked: a truncate that a crash cut short; finish it */
		if (ip->d.nlink)
			err = dfs_truncate_finish(fs, ip);
		if (!err && !ip->d.nlink)
			set_freeing(fs, ip, true);
		if (!err)
			err = ip->d.nlink ? dfs_orphan_del(fs, ip) : inode_release(fs, ip);
		if (err)
			return err;
	}
	return 0;
}

void dfs_inode_stat(struct dfs *fs, const struct dfs_inode *ip, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ip->ino;
	st->st_mode = ip->d.mode;
	st->st_nlink = ip->d.nlink;
	st->st_uid = ip->d.uid;
	st->st_gid = ip->d.gid;
	st->st_rdev = ip->d.rdev;
	st->st_size = (off_t)ip->d.size;
	st->st_blksize = DFS_BLOCK_SIZE;
	st->st_blocks = (blkcnt_t)(ip->d.blocks * (DFS_BLOCK_SIZE / 512));
	st->st_atim = (struct timespec){ ip->d.atime.sec, ip->d.atime.nsec };
	st->st_mtim = (struct timespec){ ip->d.mtime.sec, ip->d.mtime.nsec };
	st->st_ctim = (struct timespec){ ip->d.ctime.sec, ip->d.ctime.nsec };
	(void)fs;
}

void dfs_icache_drop(struct dfs *fs, uint64_t ino)
{
	pthread_mutex_lock(&fs->icache_lock);
	struct dfs_inode *ip = icache_peek(fs, ino);
	if (ip) {
		icache_remove(fs, ip);
		inode_destroy(ip);
	}
	pthread_mutex_unlock(&fs->icache_lock);
}

int dfs_inode_set_slot(struct dfs *fs, uint64_t ino, const struct dfs_dinode *di)
{
	struct dfs_buf *b;
	uint8_t *slot;
	int err = dfs_inode_slot(fs, ino, &b, &slot);

	if (err)
		return err;
	/* as the mount's scan counted the slot */
	const bool was_used = !dfs_dinode_slot_free(slot), now_used = di->mode != 0;
	dfs_icache_drop(fs, ino);
	dfs_dinode_encode(di, ino, slot);
	if (!now_used)
		memset(slot, 0, DFS_INODE_SIZE);
	dfs_buf_dirty(fs, b);
	if (was_used && !now_used) {
		if ((err = free_push(fs, ino)))
			return err;
		__atomic_store_n(&fs->used_inodes, fs->used_inodes - 1, __ATOMIC_RELAXED);
	} else if (!was_used && now_used) {
		for (size_t i = 0; i < fs->nfree_inos; i++)
			if (fs->free_inos[i] == ino) {
				memmove(&fs->free_inos[i], &fs->free_inos[i + 1],
					(fs->nfree_inos - i - 1) * sizeof(*fs->free_inos));
				__atomic_store_n(&fs->nfree_inos, fs->nfree_inos - 1, __ATOMIC_RELAXED);
				break;
			}
		__atomic_store_n(&fs->used_inodes, fs->used_inodes + 1, __ATOMIC_RELAXED);
	}
	return 0;
}

void dfs_icache_trim(struct dfs *fs)
{
	/* inodes the kernel still holds cannot go: trim again only after the
	 * cache has grown, so that a large working set costs O(1) per call */
	pthread_mutex_lock(&fs->icache_lock);
	if (fs->ninodes <= ICACHE_MAX || fs->ninodes <= fs->icache_next_trim) {
		pthread_mutex_unlock(&fs->icache_lock);
		return;
	}
	fs->icache_next_trim = fs->ninodes + fs->ninodes / 2;
	for (size_t i = 0; i < fs->ihash_size && fs->ninodes > ICACHE_MAX / 2; i++) {
		struct dfs_inode **pp = &fs->ihash[i];

		while (*pp) {
			struct dfs_inode *ip = *pp;

			if (ip->nlookup == 0 && ip->pins == 0 && ip->d.nlink > 0 && !ip->freeing &&
			    ip->ino != DFS_ROOT_INO) {
				*pp = ip->hnext;
				fs->ninodes--;
				inode_destroy(ip);
			} else {
				pp = &ip->hnext;
			}
		}
	}
	pthread_mutex_unlock(&fs->icache_lock);
}

int dfs_inode_lock_data(struct dfs *fs, uint64_t ino, bool write, struct dfs_inode **out)
{
	struct dfs_inode *ip;
	int err;

	if ((err = dfs_iget_pin(fs, ino, &ip)))
		return err;
	if (write)
		pthread_rwlock_wrlock(&ip->lock);
	else
		pthread_rwlock_rdlock(&ip->lock);
	*out = ip;
	return 0;
}

void dfs_inode_unlock_data(struct dfs *fs, struct dfs_inode *ip, bool write)
{
	(void)write;
	pthread_rwlock_unlock(&ip->lock);
	/* Not the last user (the kernel's lookup of an open file is one): only
	 * unpin, without meta, which every READ and WRITE would take here. Who
	 * finds itself last below decides under meta, as forget does. */
	pthread_mutex_lock(&fs->icache_lock);
	if (ip->pins > 1 || ip->nlookup > 0) {
		ip->pins--;
		pthread_mutex_unlock(&fs->icache_lock);
		return;
	}
	pthread_mutex_unlock(&fs->icache_lock);
	pthread_mutex_lock(&fs->meta);
	pthread_mutex_lock(&fs->icache_lock);
	bool last = ip->pins == 1 && ip->nlookup == 0;
	pthread_mutex_unlock(&fs->icache_lock);
	/* the reservation may commit, dropping meta: it is made while ip is
	 * still pinned, and the question asked again after */
	bool reserved = last && ip->d.nlink == 0 && !fs->rdonly && dfs_txn_reserve(fs, 64) == 0;
	pthread_mutex_lock(&fs->icache_lock);
	ip->pins--;
	last = ip->pins == 0 && ip->nlookup == 0;
	pthread_mutex_unlock(&fs->icache_lock);
	/* unpinned, ip stays valid while meta is held: releases and trims run
	 * under it */
	if (last && reserved) {
		(void)dfs_inode_maybe_release(fs, ip);   /* failures leave it on the orphan list */
		(void)dfs_txn_end(fs, 0);    /* a failure shuts the fs down; later calls see it */
	}
	pthread_mutex_unlock(&fs->meta);
}

int dfs_inode_change_begin(struct dfs *fs, uint64_t ino, struct dfs_inode **ip)
{
	int err = dfs_start_write(fs);

	if (err)
		return err;
	if ((err = dfs_inode_lock_data(fs, ino, true, ip)))
		dfs_end_write(fs);
	return err;
}

void dfs_inode_change_end(struct dfs *fs, struct dfs_inode *ip)
{
	dfs_inode_unlock_data(fs, ip, true);
	dfs_end_write(fs);
}
