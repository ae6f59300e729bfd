/* fs/lease.c - leases: blocks of a directly mapped file are not reused while it is mapped */
#include <errno.h>
#include <stdlib.h>

#include "fs/internal.h"
#include "util/array.h"
#include "util/err.h"

/*
 * An application that maps a file's pmem itself (libdaxfs) keeps storing
 * into the blocks the extent map named, whatever the filesystem does to the
 * file meanwhile. So while an inode has a lease, the blocks a truncate, hole
 * punch or deletion drops are freed on media as usual (the metadata stays
 * crash-consistent, and after a crash there is no mapping left), but they are
 * "deferred": the allocator treats them as in use until the last lease on
 * that inode is put. Leases are few (one per mapped file), so flat arrays do.
 */

struct lease {
	uint64_t ino;
	unsigned count;
	unsigned fences;        /* dfs_lease_fence calls not yet undone */
};

struct deferred {
	uint64_t ino, pblk, len;
};

struct dfs_leases {
	struct lease *lease;
	size_t nlease, lease_cap;
	struct deferred *def;
	size_t ndef, def_cap;
	uint64_t def_blocks;
};

static struct lease *find(const struct dfs *fs, uint64_t ino)
{
	struct dfs_leases *l = fs->leases;

	for (size_t i = 0; l && i < l->nlease; i++)
		if (l->lease[i].ino == ino)
			return &l->lease[i];
	return NULL;
}

int dfs_lease_get(struct dfs *fs, uint64_t ino)
{
	struct dfs_inode *ip;
	struct lease *le;
	int err;

	/* Only a regular file has blocks to map; the inode must exist. */
	if ((err = dfs_inode_lock_data(fs, ino, false, &ip)))
		return err;
	if (!dfs_is_reg(ip)) {
		dfs_inode_unlock_data(fs, ip, false);
		return daxfs_err(dfs_is_dir(ip) ? -EISDIR : -EINVAL,
				 "lease: inode %llu is not a regular file", (unsigned long long)ino);
	}
	pthread_mutex_lock(&fs->meta);
	if (!fs->leases) {
		struct dfs_leases *l = calloc(1, sizeof(*l));

		__atomic_store_n(&fs->leases, l, __ATOMIC_RELEASE);
	}
	if (!fs->leases) {
		err = daxfs_err(-ENOMEM, "lease: out of memory");
	} else if ((le = find(fs, ino))) {
		le->count++;
	} else {
		struct dfs_leases *l = fs->leases;

		err = DAXFS_GROW(l->lease, l->lease_cap, l->nlease + 1, 8, "lease");
		if (!err) {
			l->lease[l->nlease] = (struct lease){ .ino = ino, .count = 1 };
			__atomic_store_n(&l->nlease, l->nlease + 1, __ATOMIC_RELEASE);
		}
	}
	pthread_mutex_unlock(&fs->meta);
	dfs_inode_unlock_data(fs, ip, false);
	return err;
}

int dfs_lease_put(struct dfs *fs, uint64_t ino)
{
	struct dfs_leases *l;
	struct lease *le;
	int err = 0;

	pthread_mutex_lock(&fs->meta);
	l = fs->leases;
	if (!(le = find(fs, ino))) {
		err = daxfs_err(-ENOENT, "lease: inode %llu has no lease", (unsigned long long)ino);
	} else if (--le->count == 0) {
		*le = l->lease[l->nlease - 1];
		__atomic_store_n(&l->nlease, l->nlease - 1, __ATOMIC_RELEASE);
		/* The blocks were freed on media when they were dropped: from
		 * here on the allocator may hand them out. */
		for (size_t i = 0; i < l->ndef;) {
			if (l->def[i].ino == ino) {
				__atomic_sub_fetch(&l->def_blocks, l->def[i].len, __ATOMIC_RELAXED);
				l->def[i] = l->def[--l->ndef];
			} else {
				i++;
			}
		}
	}
	pthread_mutex_unlock(&fs->meta);
	return err;
}

unsigned dfs_lease_count(struct dfs *fs, uint64_t ino)
{
	struct dfs_leases *l = __atomic_load_n(&fs->leases, __ATOMIC_ACQUIRE);
	struct lease *le;
	unsigned n;

	/* without meta while the mount has none (a write asks, fuse/run.c):
	 * one taken meanwhile is as one taken right after */
	if (!l || __atomic_load_n(&l->nlease, __ATOMIC_ACQUIRE) == 0)
		return 0;
	pthread_mutex_lock(&fs->meta);
	le = find(fs, ino);
	n = le ? le->count : 0;
	pthread_mutex_unlock(&fs->meta);
	return n;
}

uint64_t dfs_lease_deferred(struct dfs *fs)
{
	uint64_t n;

	pthread_mutex_lock(&fs->meta);
	n = dfs_lease_deferred_blocks(fs);
	pthread_mutex_unlock(&fs->meta);
	return n;
}

unsigned dfs_lease_count_locked(const struct dfs *fs, uint64_t ino)
{
	const struct lease *le = find(fs, ino);

	return le ? le->count : 0;
}

/* A fence counts on the lease it finds: one taken during the fence has
 * none, and the gap is left alone until the next, as when unsure. */
void dfs_lease_fence(struct dfs *fs, uint64_t ino, bool up)
{
	struct lease *le;

	pthread_mutex_lock(&fs->meta);
	if ((le = find(fs, ino)) && (up || le->fences > 0))
		le->fences += up ? 1 : -1u;
	pthread_mutex_unlock(&fs->meta);
}

bool dfs_lease_stores_past_eof(const struct dfs *fs, uint64_t ino)
{
	const struct lease *le = find(fs, ino);

	return le && le->fences == 0;
}

int dfs_lease_defer(struct dfs *fs, uint64_t ino, uint64_t pblk, uint64_t len)
{
	struct dfs_leases *l = fs->leases;
	int err;

	if (!l || !find(fs, ino))
		return 0;
	if ((err = DAXFS_GROW(l->def, l->def_cap, l->ndef + 1, 8, "lease")))
		return err;
	l->def[l->ndef++] = (struct deferred){ .ino = ino, .pblk = pblk, .len = len };
	__atomic_add_fetch(&l->def_blocks, len, __ATOMIC_RELAXED);
	return 0;
}

uint64_t dfs_lease_deferred_blocks(const struct dfs *fs)
{
	/* also read without meta (statfs) */
	return fs->leases ? __atomic_load_n(&fs->leases->def_blocks, __ATOMIC_RELAXED) : 0;
}

void dfs_lease_overlay(const struct dfs *fs, uint64_t gstart, uint64_t glen, uint8_t *map)
{
	const struct dfs_leases *l = fs->leases;
	uint64_t gend = gstart + glen;

	for (size_t i = 0; l && i < l->ndef; i++) {
		uint64_t s = l->def[i].pblk, e = s + l->def[i].len;

		if (e <= gstart || s >= gend)
			continue;
		s = s < gstart ? gstart : s;
		e = e > gend ? gend : e;
		for (uint64_t b = s - gstart; b < e - gstart; b++)
			map[b >> 3] |= (uint8_t)(1u << (b & 7));
	}
}

void dfs_lease_unload(struct dfs *fs)
{
	if (!fs->leases)
		return;
	free(fs->leases->lease);
	free(fs->leases->def);
	free(fs->leases);
	fs->leases = NULL;
}
