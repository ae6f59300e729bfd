/* fs/alloc.c - block allocator: lazily initialised group bitmaps, contiguity and 2 MiB alignment */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs/crc32c.h"
#include "fs/internal.h"
#include "util/err.h"

/*
 * The device is cut in groups of 32768 blocks (128 MiB), each with one bitmap
 * block. A group whose descriptor has no bitmap yet is entirely free (but for
 * the fixed metadata at the start of group 0), so mkfs writes only the group
 * descriptor table (32 bytes per 128 MiB) and mount reads only that: a
 * several-TiB device formats and mounts in milliseconds. A bitmap is created
 * in the first free block of its group when the group is first used.
 *
 * Blocks freed by the running transaction are "pending": free in the bitmap
 * (the transaction frees them atomically with the metadata that dropped
 * them) but not handed out until the transaction is checkpointed, so a crash
 * can never show a committed file pointing at a block reused by another.
 */

#define ALLOC_MAX_RUN 16384u     /* 64 MiB per extent; neighbours merge */
#define BPG DFS_BLOCKS_PER_GROUP

static uint64_t group_start(uint64_t g)
{
	return g * BPG;
}

static uint64_t group_len(const struct dfs *fs, uint64_t g)
{
	uint64_t end = group_start(g) + BPG;

	return (end > fs->sb.total_blocks ? fs->sb.total_blocks : end) - group_start(g);
}

/* Blocks of group g that are not available at all: group 0's fixed metadata. */
static uint64_t group_reserved(const struct dfs *fs, uint64_t g)
{
	return g == 0 ? fs->sb.data_start : 0;
}

static void set_bits(uint8_t *map, uint64_t start, uint64_t len, bool on)
{
	for (uint64_t i = start; i < start + len; i++) {
		if (on)
			map[i >> 3] |= (uint8_t)(1u << (i & 7));
		else
			map[i >> 3] &= (uint8_t)~(1u << (i & 7));
	}
}

static bool bit(const uint8_t *map, uint64_t i)
{
	return map[i >> 3] & (1u << (i & 7));
}

static int gd_store(struct dfs *fs, uint64_t g)
{
	struct dfs_buf *b;
	int err = dfs_buf_read(fs, fs->sb.gdt_start + g / DFS_GD_PER_BLOCK, DFS_BUF_PLAIN, &b);

	if (err)
		return err;
	dfs_gd_encode(&fs->gds[g], g, b->data + (g % DFS_GD_PER_BLOCK) * DFS_GD_SIZE);
	dfs_buf_dirty(fs, b);
	return 0;
}

uint64_t dfs_group_bitmap_blk(const struct dfs_super *sb, uint64_t g)
{
	return group_start(g) + (g == 0 ? sb->data_start : 0);
}

/* The descriptor counts are checked as far as they can be without reading
 * the bitmaps (a mount reads only the descriptors); bitmap_read checks the
 * rest when a group is first used, before any count is changed. */
static int gd_check(const struct dfs *fs, uint64_t g, const uint8_t *entry, struct dfs_gd *gd)
{
	const uint64_t room = group_len(fs, g) - group_reserved(fs, g);
	int err = dfs_gd_decode(entry, g, fs->sb.total_blocks, gd);

	if (err)
		return err;
	if (gd->bitmap_blk == 0 && gd->free != room)
		return daxfs_err(-EIO, "group %llu: uninitialised but free count is %u",
				 (unsigned long long)g, gd->free);
	if (gd->bitmap_blk && gd->bitmap_blk != dfs_group_bitmap_blk(&fs->sb, g))
		return daxfs_err(-EIO, "group %llu: bitmap block %llu is not the group's first free "
				 "block %llu", (unsigned long long)g, (unsigned long long)gd->bitmap_blk,
				 (unsigned long long)dfs_group_bitmap_blk(&fs->sb, g));
	if (gd->bitmap_blk && gd->free > room - 1)
		return daxfs_err(-EIO, "group %llu: free count %u is more than the %llu blocks the "
				 "group has for data", (unsigned long long)g, gd->free,
				 (unsigned long long)(room - 1));
	return 0;
}

int dfs_alloc_load(struct dfs *fs)
{
	uint64_t total_free = 0;

	fs->gds = calloc(fs->sb.ngroups, sizeof(*fs->gds));
	if (!fs->gds)
		return daxfs_err(-ENOMEM, "allocator: out of memory");
	for (uint64_t g = 0; g < fs->sb.ngroups; g++) {
		struct dfs_buf *b;
		int err;

		if ((err = dfs_buf_read(fs, fs->sb.gdt_start + g / DFS_GD_PER_BLOCK, DFS_BUF_PLAIN, &b)))
			return err;
		if ((err = gd_check(fs, g, b->data + (g % DFS_GD_PER_BLOCK) * DFS_GD_SIZE, &fs->gds[g]))) {
			if (!fs->fsck_mount)
				return err;
			/* fsck rebuilds it from what the files use; nothing is
			 * allocated from it before */
			fs->gds[g] = (struct dfs_gd){ 0 };
		}
		total_free += fs->gds[g].free;
	}
	__atomic_store_n(&fs->free_blocks, total_free, __ATOMIC_RELAXED);
	return 0;
}

int dfs_alloc_gd_check(struct dfs *fs, uint64_t g, struct dfs_gd *gd)
{
	struct dfs_buf *b;
	int err = dfs_buf_read(fs, fs->sb.gdt_start + g / DFS_GD_PER_BLOCK, DFS_BUF_PLAIN, &b);

	return err ? err : gd_check(fs, g, b->data + (g % DFS_GD_PER_BLOCK) * DFS_GD_SIZE, gd);
}

void dfs_alloc_unload(struct dfs *fs)
{
	free(fs->gds);
	fs->gds = NULL;
	free(fs->pending);
	fs->pending = NULL;
	fs->npending = fs->pending_cap = 0;
	fs->pending_blocks = 0;
	dfs_lease_unload(fs);
}

/* Free blocks among the first len of a bitmap: a word at a time, as this
 * runs whenever a clean bitmap is used. */
static uint64_t zero_bits(const uint8_t *map, uint64_t len)
{
	uint64_t used = 0, i = 0;

	for (; i + 64 <= len; i += 64) {
		uint64_t w;
		memcpy(&w, map + i / 8, 8);
		used += (uint64_t)__builtin_popcountll(w);
	}
	for (; i < len; i++)
		used += bit(map, i);
	return len - used;
}

/* The bitmap of an initialised group, its checksum verified when clean. */
static int bitmap_read(struct dfs *fs, uint64_t g, struct dfs_buf **out)
{
	struct dfs_buf *b;
	int err = dfs_buf_read(fs, fs->gds[g].bitmap_blk, DFS_BUF_BITMAP, &b);

	if (err)
		return err;
	if (b->dirty) {
		*out = b;
		return 0;
	}
	if (crc32c(b->data, DFS_BLOCK_SIZE) != fs->gds[g].bitmap_crc)
		return daxfs_err(-EIO, "group %llu: bitmap block %llu checksum mismatch",
				 (unsigned long long)g, (unsigned long long)b->blkno);
	/* a clean bitmap is what the descriptor's count was last written with:
	 * a count that disagrees must not be trusted, or it wraps */
	const uint64_t nfree = zero_bits(b->data, group_len(fs, g));
	if (nfree != fs->gds[g].free)
		return daxfs_err(-EIO, "group %llu: free count %u, but its bitmap has %llu free blocks",
				 (unsigned long long)g, fs->gds[g].free, (unsigned long long)nfree);
	*out = b;
	return 0;
}

/* The image of an uninitialised group's bitmap, as group_init will write it. */
static void uninit_image(const struct dfs *fs, uint64_t g, uint8_t *map)
{
	uint64_t res = group_reserved(fs, g), len = group_len(fs, g);

	memset(map, 0, DFS_BLOCK_SIZE);
	set_bits(map, 0, res + 1, true);        /* + the bitmap block itself */
	if (len < BPG)
		set_bits(map, len, BPG - len, true);
}

static int group_init(struct dfs *fs, uint64_t g, struct dfs_buf **out)
{
	struct dfs_buf *b;
	uint64_t blk = group_start(g) + group_reserved(fs, g);
	int err = dfs_buf_new(fs, blk, DFS_BUF_BITMAP, &b);

	if (err)
		return err;
	uninit_image(fs, g, b->data);
	fs->gds[g].bitmap_blk = blk;
	fs->gds[g].free--;
	__atomic_store_n(&fs->free_blocks, fs->free_blocks - 1, __ATOMIC_RELAXED);   /* statfs reads it without meta */
	dfs_buf_dirty(fs, b);
	if ((err = gd_store(fs, g)))
		return err;
	*out = b;
	return 0;
}

static void overlay_pending(const struct dfs *fs, uint64_t g, uint8_t *map)
{
	uint64_t gs = group_start(g), ge = gs + BPG;

	for (size_t i = 0; i < fs->npending; i++) {
		uint64_t s = fs->pending[2 * i], e = s + fs->pending[2 * i + 1];

		if (e <= gs || s >= ge)
			continue;
		s = s < gs ? gs : s;
		e = e > ge ? ge : e;
		set_bits(map, s - gs, e - s, true);
	}
	dfs_lease_overlay(fs, gs, BPG, map);
}

struct run {
	uint64_t start, len;
};

/* First free run of >= want bits at or after from (aligned starts if align),
 * and the longest free run seen. */
static bool find_run(const uint8_t *map, uint64_t gstart, uint64_t from, uint64_t want,
		     bool align, struct run *first, struct run *longest)
{
	uint64_t i = from;

	while (i < BPG) {
		if ((i & 63) == 0 && i + 64 <= BPG) {
			uint64_t w;
			memcpy(&w, map + (i >> 3), 8);
			if (w == ~0ull) {
				i += 64;
				continue;
			}
		}
		if (bit(map, i)) {
			i++;
			continue;
		}
		uint64_t s = i;
		while (i < BPG && !bit(map, i) && i - s < ALLOC_MAX_RUN)
			i++;
		uint64_t len = i - s;
		if (len > longest->len)
			*longest = (struct run){ s, len };
		uint64_t as = s;
		if (align) {
			uint64_t abs = gstart + s, up = (abs + DFS_ALIGN_BLOCKS - 1) & ~(uint64_t)(DFS_ALIGN_BLOCKS - 1);
			as = s + (up - abs);
		}
		if (as < i && i - as >= want) {
			*first = (struct run){ as, want };
			return true;
		}
	}
	return false;
}

static int take(struct dfs *fs, uint64_t g, struct run r, uint64_t *pblk)
{
	struct dfs_buf *b;
	int err = fs->gds[g].bitmap_blk ? bitmap_read(fs, g, &b) : group_init(fs, g, &b);

	if (err)
		return err;
	for (uint64_t i = r.start; i < r.start + r.len; i++)
		if (bit(b->data, i))
			return daxfs_err(-EIO, "group %llu: bitmap changed under the allocator",
					 (unsigned long long)g);
	set_bits(b->data, r.start, r.len, true);
	dfs_buf_dirty(fs, b);
	fs->gds[g].free -= (uint32_t)r.len;
	__atomic_store_n(&fs->free_blocks, fs->free_blocks - r.len, __ATOMIC_RELAXED);
	if ((err = gd_store(fs, g)))
		return err;
	*pblk = group_start(g) + r.start;
	fs->goal_group = g;
	return 0;
}

int dfs_alloc(struct dfs *fs, uint64_t goal, uint64_t want, uint64_t min, bool align,
	      uint64_t *pblk, uint64_t *len)
{
	uint8_t map[DFS_BLOCK_SIZE];
	uint64_t g0 = goal && goal < fs->sb.total_blocks ? goal / BPG : fs->goal_group;
	struct run best = { 0, 0 };
	uint64_t best_g = 0;
	int err;

	if (want > ALLOC_MAX_RUN)
		want = ALLOC_MAX_RUN;
	if (min == 0 || min > want)
		min = want;
	if (fs->free_blocks < fs->pending_blocks + dfs_lease_deferred_blocks(fs) + min)
		return daxfs_err(-ENOSPC, "no space left on device");
	for (int pass = 0; pass < (align ? 2 : 1); pass++) {
		bool aligned = align && pass == 0;

		for (uint64_t i = 0; i < fs->sb.ngroups; i++) {
			uint64_t g = (g0 + i) % fs->sb.ngroups;
			struct run first, longest = { 0, 0 };

			if (fs->gds[g].free < min)
				continue;
			if (fs->gds[g].bitmap_blk) {
				struct dfs_buf *b;
				if ((err = bitmap_read(fs, g, &b)))
					return err;
				memcpy(map, b->data, sizeof(map));
			} else {
				uninit_image(fs, g, map);
			}
			overlay_pending(fs, g, map);
			uint64_t from = (i == 0 && goal) ? goal % BPG : 0;
			bool found = find_run(map, group_start(g), from, want, aligned, &first, &longest);
			if (!found && from)     /* wrap inside the goal group */
				found = find_run(map, group_start(g), 0, want, aligned, &first, &longest);
			if (found) {
				if ((err = take(fs, g, first, pblk)))
					return err;
				*len = first.len;
				return 0;
			}
			if (longest.len > best.len) {
				best = longest;
				best_g = g;
			}
		}
	}
	if (best.len < min)
		return daxfs_err(-ENOSPC, "no space left on device");
	if ((err = take(fs, best_g, best, pblk)))
		return err;
	*len = best.len;
	return 0;
}

int dfs_free(struct dfs *fs, uint64_t pblk, uint64_t len)
{
	if (pblk < fs->sb.data_start || pblk >= fs->sb.total_blocks ||
	    len > fs->sb.total_blocks - pblk)
		return daxfs_err(-EIO, "freeing blocks %llu+%llu outside the data area",
				 (unsigned long long)pblk, (unsigned long long)len);
	if (fs->npending == fs->pending_cap) {
		size_t ncap = fs->pending_cap ? fs->pending_cap * 2 : 64;
		uint64_t *np = realloc(fs->pending, ncap * 2 * sizeof(*np));
		if (!np)
			return daxfs_err(-ENOMEM, "allocator: out of memory");
		fs->pending = np;
		fs->pending_cap = ncap;
	}
	for (uint64_t done = 0; done < len; ) {
		uint64_t blk = pblk + done, g = blk / BPG, off = blk % BPG;
		uint64_t n = len - done < BPG - off ? len - done : BPG - off;
		struct dfs_buf *b;
		int err;

		if (!fs->gds[g].bitmap_blk)
			return daxfs_err(-EIO, "freeing blocks in unused group %llu", (unsigned long long)g);
		if ((err = bitmap_read(fs, g, &b)))
			return err;
		for (uint64_t i = off; i < off + n; i++)
			if (!bit(b->data, i))
				return daxfs_err(-EIO, "freeing block %llu which is already free",
						 (unsigned long long)(group_start(g) + i));
		set_bits(b->data, off, n, false);
		dfs_buf_dirty(fs, b);
		fs->gds[g].free += (uint32_t)n;
		__atomic_store_n(&fs->free_blocks, fs->free_blocks + n, __ATOMIC_RELAXED);
		if ((err = gd_store(fs, g)))
			return err;
		done += n;
	}
	for (uint64_t i = 0; i < len; i++)
		dfs_buf_forget(fs, pblk + i);
	fs->pending[2 * fs->npending] = pblk;
	fs->pending[2 * fs->npending + 1] = len;
	fs->npending++;
	fs->pending_blocks += len;
	return 0;
}

void dfs_alloc_commit_done(struct dfs *fs, size_t npending, uint64_t blocks)
{
	/* the first npending frees are the checkpointed transaction's; later
	 * ones belong to the transaction that ran meanwhile */
	if (npending)   /* else pending may not even be allocated yet */
		memmove(fs->pending, fs->pending + 2 * npending,
			(fs->npending - npending) * 2 * sizeof(*fs->pending));
	fs->npending -= npending;
	fs->pending_blocks -= blocks;
}

uint64_t dfs_group_len(const struct dfs *fs, uint64_t g)
{
	return group_len(fs, g);
}

int dfs_alloc_repair_group(struct dfs *fs, uint64_t g, const uint8_t *map, bool init)
{
	const uint64_t len = group_len(fs, g);
	uint32_t nfree = 0;
	struct dfs_buf *b;
	int err;

	if (!init) {
		/* an uninitialised group: every block free but the fixed metadata */
		nfree = (uint32_t)(len - group_reserved(fs, g));
		fs->gds[g] = (struct dfs_gd){ .free = nfree };
	} else {
		uint64_t blk = dfs_group_bitmap_blk(&fs->sb, g);

		if (!bit(map, blk - group_start(g)))
			return daxfs_err(-EIO, "group %llu: the bitmap's own block %llu is not marked in "
					 "use", (unsigned long long)g, (unsigned long long)blk);
		if ((err = dfs_buf_new(fs, blk, DFS_BUF_BITMAP, &b)))
			return err;
		memcpy(b->data, map, DFS_BLOCK_SIZE);
		if (len < BPG)
			set_bits(b->data, len, BPG - len, true);
		for (uint64_t i = 0; i < len; i++)
			nfree += !bit(b->data, i);
		fs->gds[g].bitmap_blk = blk;
		fs->gds[g].free = nfree;
		dfs_buf_dirty(fs, b);     /* its crc goes into the descriptor at commit */
	}
	uint64_t total = 0;
	for (uint64_t k = 0; k < fs->sb.ngroups; k++)
		total += fs->gds[k].free;
	__atomic_store_n(&fs->free_blocks, total, __ATOMIC_RELAXED);
	return gd_store(fs, g);
}
