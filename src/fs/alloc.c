/* fs/alloc.c - block allocator: lazily initialised group bitmaps, contiguity and 2 MiB alignment */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/crc32c.h"
#include "fs/internal.h"
#include "util/err.h"

/*
 * The device is cut in groups of 32768 blocks (128 MiB), each with one bitmap
 * block. A group whose descriptor has no bitmap yet is entirely free (but for
 * the fixed metadata at the start of group 0 and the member labels), so mkfs
 * writes only the group descriptor table (32 bytes per 128 MiB) and mount
 * reads only that: a several-TiB device formats and mounts in milliseconds.
 * A bitmap is created in the first free block of its group when the group is
 * first used.
 *
 * Blocks freed by the running transaction are "pending": free in the bitmap
 * (the transaction frees them atomically with the metadata that dropped
 * them) but not handed out until the transaction is checkpointed, so a crash
 * can never show a committed file pointing at a block reused by another.
 *
 * Reserved blocks, as ext4's s_resv_clusters: 2% of the filesystem, at most
 * 4096 blocks, that only changes which must not fail for space may take
 * (DFS_ALLOC_RESERVE: the extent block a hole punch or a write into
 * preallocated space needs). Everything else sees ENOSPC first, so a full
 * filesystem can still shrink. The reserve is a floor under the free count,
 * not a set of blocks, and it is not on media.
 *
 * The free counts come from media and are never trusted: a mount checks each
 * descriptor against its group's size (gd_check), and every read of a clean
 * bitmap - what the descriptor's count was last written with - counts its
 * free bits (bitmap_read). A count that disagrees makes every allocation or
 * free in that group fail with EIO (fsck.daxfs -y repairs it) instead of
 * letting the count wrap; from that check on, a count and its bitmap only
 * change together.
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

/* Blocks at the start of group g that are not available at all: group 0's
 * fixed metadata. */
static uint64_t group_reserved(const struct dfs *fs, uint64_t g)
{
	return g == 0 ? fs->sb.data_start : 0;
}

/* Blocks of group g that can ever be free: all but group 0's fixed metadata
 * and the member labels (an initialised group's bitmap block is one of them). */
static uint64_t group_capacity(const struct dfs *fs, uint64_t g)
{
	return group_len(fs, g) - group_reserved(fs, g) -
	       dfs_label_blocks_in(fs, group_start(g), group_len(fs, g), NULL);
}

static void set_bit(uint8_t *map, uint64_t i, bool on)
{
	if (on)
		map[i >> 3] |= (uint8_t)(1u << (i & 7));
	else
		map[i >> 3] &= (uint8_t)~(1u << (i & 7));
}

static void set_bits(uint8_t *map, uint64_t start, uint64_t len, bool on)
{
	uint64_t i = start, end = start + len;

	/* whole bytes at once: group 0's fixed metadata is imaged on every
	 * check of a clean bitmap */
	for (; i < end && (i & 7); i++)
		set_bit(map, i, on);
	if (end - i >= 8) {
		memset(map + (i >> 3), on ? 0xff : 0, (end - i) >> 3);
		i += (end - i) & ~(uint64_t)7;
	}
	for (; i < end; i++)
		set_bit(map, i, on);
}

static bool bit(const uint8_t *map, uint64_t i)
{
	return map[i >> 3] & (1u << (i & 7));
}

/* a - b, or 0 when b is larger: the counters below never wrap */
static uint64_t sub0(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
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

/* What an uninitialised group's bitmap says before it has a bitmap block:
 * group 0's fixed metadata, the member labels and the bits past the end in
 * use; and the first free block, where its bitmap block goes. */
static uint64_t reserved_image(const struct dfs *fs, uint64_t g, uint8_t *map)
{
	uint64_t res = group_reserved(fs, g), len = group_len(fs, g), home = res;

	memset(map, 0, DFS_BLOCK_SIZE);
	set_bits(map, 0, res, true);
	dfs_label_blocks_in(fs, group_start(g), len, map);
	if (len < BPG)
		set_bits(map, len, BPG - len, true);
	while (home < len && bit(map, home))
		home++;
	return home;
}

uint64_t dfs_group_bitmap_blk(const struct dfs *fs, uint64_t g)
{
	/* reserved_image's home, without the image: labels are few */
	uint64_t blk = group_start(g) + group_reserved(fs, g);

	while (blk < group_start(g) + group_len(fs, g) && dfs_label_blocks_in(fs, blk, 1, NULL))
		blk++;
	return blk;
}

/* Sets in map the blocks of group g that are never free, whatever a bitmap
 * on media says: group 0's fixed metadata, the member labels, the group's
 * bitmap block and the inode table extents in it. */
static void fixed_image(const struct dfs *fs, uint64_t g, uint8_t *map)
{
	const uint64_t gs = group_start(g), ge = gs + group_len(fs, g), bm = dfs_group_bitmap_blk(fs, g);

	set_bits(map, 0, group_reserved(fs, g), true);
	dfs_label_blocks_in(fs, gs, ge - gs, map);
	if (bm < ge)
		set_bit(map, bm - gs, true);
	for (unsigned j = 0; j < fs->sb.itable_nextents; j++) {
		const uint64_t s = fs->sb.itable[j].pblk, e = s + fs->sb.itable[j].len;

		if (s < ge && gs < e)
			set_bits(map, (s > gs ? s : gs) - gs, (e < ge ? e : ge) - (s > gs ? s : gs), true);
	}
}

/* The first inode table extent with a block in group g, or -1 */
static int itable_in_group(const struct dfs *fs, uint64_t g)
{
	const uint64_t gs = group_start(g), ge = gs + group_len(fs, g);

	for (unsigned j = 0; j < fs->sb.itable_nextents; j++)
		if (fs->sb.itable[j].pblk < ge && gs < fs->sb.itable[j].pblk + fs->sb.itable[j].len)
			return (int)j;
	return -1;
}

/* The descriptor counts are checked as far as they can be without reading
 * the bitmaps (a mount reads only the descriptors); bitmap_read checks the
 * rest whenever it takes a bitmap from media, before any count changes. */
static int gd_check(const struct dfs *fs, uint64_t g, const uint8_t *entry, struct dfs_gd *gd)
{
	const uint64_t room = group_capacity(fs, g);
	int err = dfs_gd_decode(entry, g, fs->sb.total_blocks, gd);

	if (err)
		return err;
	if (gd->bitmap_blk == 0 && gd->free != room)
		return daxfs_err(-EIO, "group %llu: uninitialised but free count is %u, not %llu",
				 (unsigned long long)g, gd->free, (unsigned long long)room);
	/* the inode table grows only into blocks the allocator gave it, which
	 * initialised the group; an uninitialised image would hand them out */
	const int itable = itable_in_group(fs, g);
	if (gd->bitmap_blk == 0 && itable >= 0)
		return daxfs_err(-EIO, "group %llu: uninitialised but holds inode table extent %d",
				 (unsigned long long)g, itable);
	if (gd->bitmap_blk && gd->bitmap_blk != dfs_group_bitmap_blk(fs, g))
		return daxfs_err(-EIO, "group %llu: bitmap block %llu is not the group's first free "
				 "block %llu", (unsigned long long)g, (unsigned long long)gd->bitmap_blk,
				 (unsigned long long)dfs_group_bitmap_blk(fs, g));
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
			/* fsck rebuilds it from what the files use; with a free
			 * count of 0 nothing is allocated from it before */
			fs->gds[g] = (struct dfs_gd){ 0 };
		}
		total_free += fs->gds[g].free;
	}
	__atomic_store_n(&fs->free_blocks, total_free, __ATOMIC_RELAXED);
	fs->resv_blocks = fs->sb.total_blocks / 50 < DFS_RESV_MAX ? fs->sb.total_blocks / 50 : DFS_RESV_MAX;
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

/* The bitmap of an initialised group. A clean one is what the descriptor
 * was last written with: its checksum, and the free count it implies, must
 * be the descriptor's, or the count is not trusted (it would wrap). */
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
		return daxfs_err(-EIO, "group %llu: bitmap block %llu checksum mismatch; run "
				 "fsck.daxfs -y", (unsigned long long)g, (unsigned long long)b->blkno);
	const uint64_t nfree = zero_bits(b->data, group_len(fs, g));
	if (nfree != fs->gds[g].free)
		return daxfs_err(-EIO, "group %llu: free count %u, but its bitmap has %llu free blocks; "
				 "run fsck.daxfs -y", (unsigned long long)g, fs->gds[g].free,
				 (unsigned long long)nfree);
	/* the crc vouches only for what was written: a bitmap that frees the
	 * superblocks or the inode table would have them handed out */
	uint8_t fixed[DFS_BLOCK_SIZE] = { 0 };
	fixed_image(fs, g, fixed);
	for (size_t i = 0; i < DFS_BLOCK_SIZE; i++) {
		const unsigned lost = fixed[i] & (uint8_t)~b->data[i];

		if (lost) {
			const uint64_t blk = group_start(g) + i * 8 + (uint64_t)__builtin_ctz(lost);
			char what[96];

			if (!dfs_fixed_overlap(fs, blk, 1, UINT_MAX, what, sizeof(what)))
				snprintf(what, sizeof(what), "the metadata before the data area");
			return daxfs_err(-EIO, "group %llu: its bitmap marks block %llu, %s, free; run "
					 "fsck.daxfs -y", (unsigned long long)g, (unsigned long long)blk, what);
		}
	}
	*out = b;
	return 0;
}

/* Takes n blocks off group g's free count and the total. The count agreed
 * with the bitmap when bitmap_read (or gd_check, for an uninitialised group)
 * checked it, and the two change together since: the n blocks are free in
 * the bitmap, so a count short of them is a bug. */
static void count_take(struct dfs *fs, uint64_t g, uint64_t n)
{
	if (fs->gds[g].free < n || fs->free_blocks < n)
		abort();
	fs->gds[g].free -= (uint32_t)n;
	/* statfs reads it without meta */
	__atomic_store_n(&fs->free_blocks, fs->free_blocks - n, __ATOMIC_RELAXED);
}

/* For an initialised group, whose bitmap block is never free: a free that
 * would take the count past the group frees blocks that were never the
 * group's to give (a bitmap block or label an extent names), refused. */
static int count_give(struct dfs *fs, uint64_t g, uint64_t n)
{
	if (fs->gds[g].free + n > group_capacity(fs, g) - 1 ||
	    fs->free_blocks + n > fs->sb.total_blocks)
		return daxfs_err(-EIO, "group %llu: free count %u plus %llu freed blocks exceeds the group; "
				 "run fsck.daxfs -y", (unsigned long long)g, fs->gds[g].free,
				 (unsigned long long)n);
	fs->gds[g].free += (uint32_t)n;
	__atomic_store_n(&fs->free_blocks, fs->free_blocks + n, __ATOMIC_RELAXED);
	return 0;
}

/* The image of an uninitialised group's bitmap, as group_init will write
 * it; returns where its bitmap block goes. */
static uint64_t uninit_image(const struct dfs *fs, uint64_t g, uint8_t *map)
{
	uint64_t home = reserved_image(fs, g, map);

	if (home < group_len(fs, g))
		set_bits(map, home, 1, true);
	return home;
}

static int group_init(struct dfs *fs, uint64_t g, struct dfs_buf **out)
{
	struct dfs_buf *b;
	uint8_t map[DFS_BLOCK_SIZE];
	uint64_t home = uninit_image(fs, g, map), blk = group_start(g) + home;
	int err;

	if (home >= group_len(fs, g))
		return daxfs_err(-EIO, "group %llu: no room for a bitmap", (unsigned long long)g);
	if ((err = dfs_buf_new(fs, blk, DFS_BUF_BITMAP, &b)))
		return err;
	count_take(fs, g, 1);
	memcpy(b->data, map, DFS_BLOCK_SIZE);
	fs->gds[g].bitmap_blk = blk;
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
	/* fixed metadata is never handed out, whatever a bitmap says */
	fixed_image(fs, g, map);
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
	count_take(fs, g, r.len);
	set_bits(b->data, r.start, r.len, true);
	dfs_buf_dirty(fs, b);
	if ((err = gd_store(fs, g)))
		return err;
	*pblk = group_start(g) + r.start;
	fs->goal_group = g;
	return 0;
}

uint64_t dfs_alloc_avail(const struct dfs *fs, unsigned flags)
{
	/* a leased inode's freed blocks are pending and deferred at once until
	 * the commit: counted twice, which only errs on the side of ENOSPC */
	uint64_t avail = sub0(fs->free_blocks, fs->pending_blocks + dfs_lease_deferred_blocks(fs));

	return flags & DFS_ALLOC_RESERVE ? avail : sub0(avail, fs->resv_blocks);
}

int dfs_alloc_for(struct dfs *fs, uint64_t owner, uint64_t goal, uint64_t want, uint64_t min,
		  unsigned flags, uint64_t *pblk, uint64_t *len)
{
	uint8_t map[DFS_BLOCK_SIZE];
	uint64_t g0 = goal && goal < fs->sb.total_blocks ? goal / BPG : fs->goal_group;
	const uint64_t avail = dfs_alloc_avail(fs, flags);
	const bool align = flags & DFS_ALLOC_ALIGN;
	/* other files' stream windows (stream.c) count as used at first */
	const int windows = dfs_stream_others(fs, owner) ? 1 : 0;
	struct run best = { 0, 0 };
	uint64_t best_g = 0;
	int err;

	if (want > ALLOC_MAX_RUN)
		want = ALLOC_MAX_RUN;
	if (min == 0 || min > want)
		min = want;
	if (avail < min)
		return daxfs_err(-ENOSPC, "no space left on device");
	for (int round = windows; round >= 0; round--)
	for (int pass = 0; pass < (align ? 2 : 1); pass++) {
		bool aligned = align && pass == 0;

		for (uint64_t i = 0; i < fs->sb.ngroups; i++) {
			uint64_t g = (g0 + i) % fs->sb.ngroups;
			/* a group's first use costs its bitmap block too */
			uint64_t cap = sub0(avail, fs->gds[g].bitmap_blk ? 0 : 1);
			uint64_t w = want < cap ? want : cap;
			struct run first, longest = { 0, 0 };

			if (fs->gds[g].free < min || w < min)
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
			if (round)
				dfs_stream_overlay(fs, owner, group_start(g), BPG, map);
			uint64_t from = (i == 0 && goal) ? goal % BPG : 0;
			bool found = find_run(map, group_start(g), from, w, aligned, &first, &longest);
			if (!found && from)     /* wrap inside the goal group */
				found = find_run(map, group_start(g), 0, w, aligned, &first, &longest);
			if (found) {
				if ((err = take(fs, g, first, pblk)))
					return err;
				*len = first.len;
				return 0;
			}
			if (longest.len > w)
				longest.len = w;
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

int dfs_alloc(struct dfs *fs, uint64_t goal, uint64_t want, uint64_t min, unsigned flags,
	      uint64_t *pblk, uint64_t *len)
{
	return dfs_alloc_for(fs, 0, goal, want, min, flags, pblk, len);
}

/*
 * Where the next allocation without a goal of its own begins: the group of
 * the last one, so that a file's extents and the files written one after
 * another lie together, but pulled back to the lowest group with blocks
 * that became free again. Freed blocks are then taken before untouched
 * ones: a sparse backing file (the usual member on /dev/shm or a disk)
 * keeps the size of what the filesystem holds at its fullest instead of
 * growing to the whole device as files come and go, and new data goes to
 * pages the member already has rather than ones it must allocate.
 */
static void goal_pull_back(struct dfs *fs, uint64_t pblk)
{
	if (pblk / BPG < fs->goal_group)
		fs->goal_group = pblk / BPG;
}

/* Clears [pblk, pblk+len) in the bitmaps. pending: the blocks become
 * allocatable only after the running transaction is home (dfs_free);
 * otherwise at once (dfs_unalloc). */
static int release(struct dfs *fs, uint64_t pblk, uint64_t len, bool pending)
{
	int err;

	if (pblk < fs->sb.data_start || pblk >= fs->sb.total_blocks ||
	    len > fs->sb.total_blocks - pblk)
		return daxfs_err(-EIO, "freeing blocks %llu+%llu outside the data area",
				 (unsigned long long)pblk, (unsigned long long)len);
	char what[64];

	if (dfs_fixed_overlap(fs, pblk, len, UINT_MAX, what, sizeof(what)))
		return daxfs_err(-EIO, "freeing blocks %llu+%llu, which hold %s",
				 (unsigned long long)pblk, (unsigned long long)len, what);
	if (pending && (err = dfs_free_prepare(fs, 1)))
		return err;
	for (uint64_t done = 0; done < len; ) {
		uint64_t blk = pblk + done, g = blk / BPG, off = blk % BPG;
		uint64_t n = len - done < BPG - off ? len - done : BPG - off;
		struct dfs_buf *b;

		if (!fs->gds[g].bitmap_blk)
			return daxfs_err(-EIO, "freeing blocks in unused group %llu", (unsigned long long)g);
		if ((err = bitmap_read(fs, g, &b)))
			return err;
		for (uint64_t i = off; i < off + n; i++)
			if (!bit(b->data, i))
				return daxfs_err(-EIO, "freeing block %llu which is already free",
						 (unsigned long long)(group_start(g) + i));
		if ((err = count_give(fs, g, n)))
			return err;
		set_bits(b->data, off, n, false);
		dfs_buf_dirty(fs, b);
		if ((err = gd_store(fs, g)))
			return err;
		done += n;
	}
	for (uint64_t i = 0; i < len; i++)
		dfs_buf_forget(fs, pblk + i);
	if (pending) {
		fs->pending[2 * fs->npending] = pblk;
		fs->pending[2 * fs->npending + 1] = len;
		fs->npending++;
		fs->pending_blocks += len;
	} else {
		goal_pull_back(fs, pblk);
	}
	return 0;
}

int dfs_free_prepare(struct dfs *fs, size_t n)
{
	if (fs->npending + n <= fs->pending_cap)
		return 0;
	size_t ncap = fs->pending_cap ? fs->pending_cap * 2 : 64;
	while (ncap < fs->npending + n)
		ncap *= 2;
	uint64_t *np = realloc(fs->pending, ncap * 2 * sizeof(*np));
	if (!np)
		return daxfs_err(-ENOMEM, "allocator: out of memory");
	fs->pending = np;
	fs->pending_cap = ncap;
	return 0;
}

int dfs_free(struct dfs *fs, uint64_t pblk, uint64_t len)
{
	return release(fs, pblk, len, true);
}

int dfs_unalloc(struct dfs *fs, uint64_t pblk, uint64_t len)
{
	bool pending = false;

	/* a block with a dirty buffer would be written home by the commit,
	 * over whatever its next owner stores meanwhile: it waits, as a freed
	 * block does */
	for (uint64_t i = 0; i < len && !pending; i++)
		pending = dfs_buf_dirty_cached(fs, pblk + i);
	int err = release(fs, pblk, len, pending);
	return err ? dfs_journal_abort(fs, err) : 0;
}

void dfs_alloc_commit_done(struct dfs *fs, size_t npending, uint64_t blocks)
{
	/* the first npending frees are the checkpointed transaction's; later
	 * ones belong to the transaction that ran meanwhile */
	for (size_t i = 0; i < npending; i++)
		goal_pull_back(fs, fs->pending[2 * i]);
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
		/* an uninitialised group: every block free but the fixed metadata
		 * and the labels */
		nfree = (uint32_t)group_capacity(fs, g);
		fs->gds[g] = (struct dfs_gd){ .free = nfree };
	} else {
		uint64_t blk = dfs_group_bitmap_blk(fs, g);

		if (blk >= group_start(g) + len)
			return daxfs_err(-EIO, "group %llu: no room for a bitmap", (unsigned long long)g);
		if (!bit(map, blk - group_start(g)))
			return daxfs_err(-EIO, "group %llu: the bitmap's own block %llu is not marked in "
					 "use", (unsigned long long)g, (unsigned long long)blk);
		if ((err = dfs_buf_new(fs, blk, DFS_BUF_BITMAP, &b)))
			return err;
		memcpy(b->data, map, DFS_BLOCK_SIZE);
		if (len < BPG)
			set_bits(b->data, len, BPG - len, true);
		nfree = (uint32_t)zero_bits(b->data, len);
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
