/* fs/buf.c - the metadata buffer cache (the buffer heads of daxfs) */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs/internal.h"
#include "util/err.h"

/*
 * Metadata is read and written in whole blocks through the bio path, as ext4
 * does with buffer heads even on DAX: the journal has to copy blocks, and a
 * block must never be changed in place before its transaction is durable.
 * Buffers live until trimmed at an operation boundary, so pointers returned
 * here stay valid for the rest of the operation (no reference counts): a
 * modifying call holds meta, under which every trim runs, and a read-only
 * call holds buf_use shared, which a trim needs exclusively (it tries, and
 * leaves the cache over its limit until the next boundary if it cannot).
 * A miss reads the block without the hash lock; if a buffer was dropped
 * meanwhile, the copy read may predate that buffer's checkpoint, so it is
 * thrown away and the lookup redone.
 */

#define BUF_CACHE_MAX 16384u     /* clean blocks kept: 64 MiB */

static size_t hash_of(const struct dfs *fs, uint64_t blk)
{
	return (size_t)((blk * 0x9E3779B97F4A7C15ull) >> 20) & (fs->bhash_size - 1);
}

void dfs_buf_use_begin(struct dfs *fs)
{
	pthread_rwlock_rdlock(&fs->buf_use);
}

void dfs_buf_use_end(struct dfs *fs)
{
	pthread_rwlock_unlock(&fs->buf_use);
}

/* bcache_lock held */
static struct dfs_buf *cache_find(struct dfs *fs, uint64_t blk)
{
	if (!fs->bhash)
		return NULL;
	for (struct dfs_buf *b = fs->bhash[hash_of(fs, blk)]; b; b = b->hnext)
		if (b->blkno == blk)
			return b;
	return NULL;
}

static int cache_grow(struct dfs *fs)
{
	size_t nsize = fs->bhash_size ? fs->bhash_size * 2 : 4096;
	struct dfs_buf **nh = calloc(nsize, sizeof(*nh));

	if (!nh)
		return daxfs_err(-ENOMEM, "buffer cache: out of memory");
	size_t osize = fs->bhash_size;
	struct dfs_buf **oh = fs->bhash;
	fs->bhash = nh;
	fs->bhash_size = nsize;
	for (size_t i = 0; i < osize; i++)
		for (struct dfs_buf *b = oh[i], *n; b; b = n) {
			n = b->hnext;
			size_t h = hash_of(fs, b->blkno);
			b->hnext = nh[h];
			nh[h] = b;
		}
	free(oh);
	return 0;
}

/* bcache_lock held */
static int cache_insert(struct dfs *fs, struct dfs_buf *b)
{
	if (fs->nbufs + 1 > fs->bhash_size) {
		int err = cache_grow(fs);
		if (err)
			return err;
	}
	size_t h = hash_of(fs, b->blkno);
	b->hnext = fs->bhash[h];
	fs->bhash[h] = b;
	fs->nbufs++;
	return 0;
}

static void cache_unlink(struct dfs *fs, struct dfs_buf *b)
{
	struct dfs_buf **pp = &fs->bhash[hash_of(fs, b->blkno)];

	while (*pp != b)
		pp = &(*pp)->hnext;
	*pp = b->hnext;
	fs->nbufs--;
	fs->bevictions++;
}

static int check_blk(struct dfs *fs, uint64_t blk)
{
	if (blk >= fs->sb.total_blocks)
		return daxfs_err(-EIO, "metadata block %llu is beyond the end of the filesystem",
				 (unsigned long long)blk);
	return 0;
}

static int buf_get(struct dfs *fs, uint64_t blk, enum dfs_buf_kind kind, bool verify,
		   struct dfs_buf **out);

int dfs_buf_read(struct dfs *fs, uint64_t blk, enum dfs_buf_kind kind, struct dfs_buf **out)
{
	return buf_get(fs, blk, kind, true, out);
}

int dfs_buf_read_unchecked(struct dfs *fs, uint64_t blk, enum dfs_buf_kind kind,
			   struct dfs_buf **out)
{
	return buf_get(fs, blk, kind, false, out);
}

static int buf_get(struct dfs *fs, uint64_t blk, enum dfs_buf_kind kind, bool verify,
		   struct dfs_buf **out)
{
	struct dfs_buf *b, *nb;
	int err;

	if ((err = check_blk(fs, blk)))
		return err;
	for (;;) {
		pthread_mutex_lock(&fs->bcache_lock);
		b = cache_find(fs, blk);
		uint64_t evictions = fs->bevictions;
		pthread_mutex_unlock(&fs->bcache_lock);
		if (b) {
			*out = b;
			return 0;
		}
		if (!(nb = calloc(1, sizeof(*nb))))
			return daxfs_err(-ENOMEM, "buffer cache: out of memory");
		nb->blkno = blk;
		nb->kind = (uint8_t)kind;
		err = dfs_dev_read(fs, blk, nb->data, 1);
		if (!err && verify && (kind == DFS_BUF_SEALED || kind == DFS_BUF_SUPER) &&
		    !dfs_block_crc_ok(blk, nb->data))
			err = daxfs_err(-EIO, "metadata block %llu: checksum mismatch",
					(unsigned long long)blk);
		if (err) {
			free(nb);
			return err;
		}
		pthread_mutex_lock(&fs->bcache_lock);
		if ((b = cache_find(fs, blk)) || fs->bevictions != evictions) {
			pthread_mutex_unlock(&fs->bcache_lock);
			free(nb);
			if (b) {
				*out = b;
				return 0;
			}
			continue;
		}
		err = cache_insert(fs, nb);
		pthread_mutex_unlock(&fs->bcache_lock);
		if (err) {
			free(nb);
			return err;
		}
		*out = nb;
		return 0;
	}
}

int dfs_buf_new(struct dfs *fs, uint64_t blk, enum dfs_buf_kind kind, struct dfs_buf **out)
{
	struct dfs_buf *b;
	int err;

	if ((err = check_blk(fs, blk)))
		return err;
	pthread_mutex_lock(&fs->bcache_lock);
	if (!(b = cache_find(fs, blk))) {
		if (!(b = calloc(1, sizeof(*b)))) {
			pthread_mutex_unlock(&fs->bcache_lock);
			return daxfs_err(-ENOMEM, "buffer cache: out of memory");
		}
		b->blkno = blk;
		if ((err = cache_insert(fs, b))) {
			pthread_mutex_unlock(&fs->bcache_lock);
			free(b);
			return err;
		}
	}
	pthread_mutex_unlock(&fs->bcache_lock);
	/* a new block is reachable only through what this call changes next */
	memset(b->data, 0, sizeof(b->data));
	b->kind = (uint8_t)kind;
	*out = b;
	return 0;
}

void dfs_buf_dirty(struct dfs *fs, struct dfs_buf *b)
{
	if (b->dirty)
		return;
	b->dirty = true;
	b->dnext = fs->dirty;
	fs->dirty = b;
	fs->ndirty++;
}

bool dfs_buf_peek(struct dfs *fs, uint64_t blk, void *out)
{
	pthread_mutex_lock(&fs->bcache_lock);
	struct dfs_buf *b = cache_find(fs, blk);

	if (b)
		memcpy(out, b->data, DFS_BLOCK_SIZE);
	pthread_mutex_unlock(&fs->bcache_lock);
	return b != NULL;
}

void dfs_buf_forget(struct dfs *fs, uint64_t blk)
{
	pthread_mutex_lock(&fs->bcache_lock);
	struct dfs_buf *b = cache_find(fs, blk);

	/* a dirty copy is still written by the checkpoint; the block stays
	 * unallocatable until then, so that write is harmless. Nobody reads a
	 * block its owner is freeing: the owner's lock is held exclusively. */
	if (b && !b->dirty && !b->pinned) {
		cache_unlink(fs, b);
		free(b);
	}
	pthread_mutex_unlock(&fs->bcache_lock);
}

void dfs_buf_retype(struct dfs *fs, uint64_t blk, enum dfs_buf_kind kind)
{
	pthread_mutex_lock(&fs->bcache_lock);
	struct dfs_buf *b = cache_find(fs, blk);

	if (b)
		b->kind = (uint8_t)kind;
	pthread_mutex_unlock(&fs->bcache_lock);
}

bool dfs_buf_dirty_cached(struct dfs *fs, uint64_t blk)
{
	pthread_mutex_lock(&fs->bcache_lock);
	struct dfs_buf *b = cache_find(fs, blk);
	bool dirty = b && b->dirty;
	pthread_mutex_unlock(&fs->bcache_lock);
	return dirty;
}

void dfs_buf_trim(struct dfs *fs)
{
	if (fs->check_only || fs->committing)
		return;     /* fsck -n keeps replayed blocks only in the cache; a
			     * commit's blocks are cached until they are home */
	pthread_mutex_lock(&fs->bcache_lock);
	bool over = fs->nbufs > BUF_CACHE_MAX;
	pthread_mutex_unlock(&fs->bcache_lock);
	if (!over || pthread_rwlock_trywrlock(&fs->buf_use))
		return;     /* a read-only call uses buffers: next time */
	pthread_mutex_lock(&fs->bcache_lock);
	for (size_t i = 0; i < fs->bhash_size && fs->nbufs > BUF_CACHE_MAX / 2; i++) {
		struct dfs_buf **pp = &fs->bhash[i];

		while (*pp) {
			struct dfs_buf *b = *pp;

			if (!b->dirty && !b->pinned && b->kind != DFS_BUF_SUPER) {
				*pp = b->hnext;
				fs->nbufs--;
				fs->bevictions++;
				free(b);
			} else {
				pp = &b->hnext;
			}
		}
	}
	pthread_mutex_unlock(&fs->bcache_lock);
	pthread_rwlock_unlock(&fs->buf_use);
}

void dfs_buf_destroy_all(struct dfs *fs)
{
	for (size_t i = 0; i < fs->bhash_size; i++)
		for (struct dfs_buf *b = fs->bhash[i], *n; b; b = n) {
			n = b->hnext;
			free(b);
		}
	free(fs->bhash);
	fs->bhash = NULL;
	fs->bhash_size = fs->nbufs = 0;
	fs->dirty = NULL;
	fs->ndirty = 0;
}
