/* fs/extent.c - a file's extent map: in memory a sorted array, on media inline or a block chain */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "fs/internal.h"
#include "util/array.h"
#include "util/err.h"

/*
 * Up to 4 extents live in the inode. Beyond that the inode points at a chain
 * of extent blocks (169 extents each, sorted, each block naming its owner and
 * the next block). The whole map is loaded with the inode and written back
 * after each change; adjacent extents merge, and a file may have at most
 * DFS_MAX_EXTENTS of them (-ENOSPC beyond, documented in FORMAT.md).
 *
 * A change is all or nothing. Before it touches the map it takes what it
 * may need: the memory, room for its frees, and the one new chain block a
 * change can need (no change adds more than two extents, so it crosses at
 * most one 169-extent boundary), held in ip->spare. A failure there changes
 * nothing; after it, the change and its store can fail only on an I/O error
 * or a damaged bitmap, and then the journal is aborted so that the half-done
 * change never commits. Changes that must succeed on a full filesystem
 * (freeing, writing into preallocated space) take the chain block from the
 * reserve (DFS_ALLOC_RESERVE), and when even that is gone they do without
 * a split: a hole punch inside one extent zeroes the blocks instead of
 * unmapping them (file.c), and a write into an unwritten extent converts the
 * whole extent.
 */

void dfs_extents_free_mem(struct dfs_inode *ip)
{
	free(ip->ext);
	ip->ext = NULL;
	ip->next = ip->ext_cap = 0;
}

static int ext_reserve(struct dfs_inode *ip, size_t n)
{
	return DAXFS_GROW(ip->ext, ip->ext_cap, n, 8, "extent map");
}

/* Chain blocks before the first changed extent need no rewrite. */
static void touched(struct dfs_inode *ip, size_t i)
{
	if (i < ip->ext_dirty_from)
		ip->ext_dirty_from = i;
}

static size_t chain_blocks(size_t n)
{
	return n <= DFS_INLINE_EXTENTS ? 0 : (n + DFS_EXTBLK_MAX - 1) / DFS_EXTBLK_MAX;
}

/* Takes what a change leaving at most n extents needs (see the top). */
static int map_prepare(struct dfs *fs, struct dfs_inode *ip, size_t n, unsigned alloc_flags)
{
	const size_t need = chain_blocks(n);
	int err;

	if (n > DFS_MAX_EXTENTS)
		return daxfs_err(-ENOSPC, "inode %llu: too fragmented (more than %u extents)",
				 (unsigned long long)ip->ino, DFS_MAX_EXTENTS);
	/* + 2: the splits a change makes before it removes */
	if ((err = ext_reserve(ip, (n > ip->next ? n : ip->next) + 2)))
		return err;
	if (need > ip->nchain) {
		uint64_t *nc = realloc(ip->chain, need * sizeof(*nc));
		if (!nc)
			return daxfs_err(-ENOMEM, "extent map: out of memory");
		ip->chain = nc;
	}
	if (need > ip->nchain + 1)
		abort();    /* no change adds more than two extents */
	if (need > ip->nchain && !ip->spare) {
		uint64_t goal = ip->nchain ? ip->chain[ip->nchain - 1] + 1 : 0, len;

		if ((err = dfs_alloc(fs, goal, 1, 1, alloc_flags, &ip->spare, &len)))
			return err;
	}
	return 0;
}

int dfs_extent_prepare(struct dfs *fs, struct dfs_inode *ip, size_t extra, unsigned alloc_flags)
{
	return map_prepare(fs, ip, ip->next + extra, alloc_flags);
}

void dfs_extent_unprepare(struct dfs *fs, struct dfs_inode *ip)
{
	if (!ip->spare)
		return;
	(void)dfs_unalloc(fs, ip->spare, 1);
	ip->spare = 0;
}

static int check_sorted(const struct dfs_inode *ip)
{
	for (size_t i = 1; i < ip->next; i++)
		if (ip->ext[i].lblk < ip->ext[i - 1].lblk + ip->ext[i - 1].len)
			return daxfs_err(-EIO, "inode %llu: extents overlap or are unsorted",
					 (unsigned long long)ip->ino);
	return 0;
}

/* On-media pointers are only as good as their crcs: a map over a block the
 * geometry fixes would have writes land on a member's label, a bitmap or
 * the inode table. A read-write mount refuses it; a read-only one writes
 * nothing, and fsck weighs such claims itself. */
static int check_placed(const struct dfs *fs, const struct dfs_inode *ip)
{
	const bool writes = !fs->rdonly && !fs->fsck_mount;
	char what[64];

	for (size_t i = 0; writes && i < ip->next; i++)
		if (dfs_fixed_overlap(fs, ip->ext[i].pblk, ip->ext[i].len, UINT_MAX, what, sizeof(what)))
			return daxfs_err(-EIO, "inode %llu: the extent at block %llu lies on %s; run "
					 "fsck.daxfs -y", (unsigned long long)ip->ino,
					 (unsigned long long)ip->ext[i].pblk, what);
	for (size_t k = 0; writes && k < ip->nchain; k++)
		if (dfs_fixed_overlap(fs, ip->chain[k], 1, UINT_MAX, what, sizeof(what)))
			return daxfs_err(-EIO, "inode %llu: extent block %llu lies on %s; run "
					 "fsck.daxfs -y", (unsigned long long)ip->ino,
					 (unsigned long long)ip->chain[k], what);
	return 0;
}

int dfs_extents_load(struct dfs *fs, struct dfs_inode *ip)
{
	const struct dfs_dinode *d = &ip->d;
	int err;

	if ((err = ext_reserve(ip, d->nextents ? d->nextents : 1)))
		return err;
	if (d->extent_blk == 0) {
		for (unsigned i = 0; i < d->nextents; i++) {
			if (d->inline_ext[i].pblk < fs->sb.data_start)
				return daxfs_err(-EIO, "inode %llu: extent in the metadata area",
						 (unsigned long long)ip->ino);
			ip->ext[i] = d->inline_ext[i];
		}
		ip->next = d->nextents;
		return (err = check_sorted(ip)) ? err : check_placed(fs, ip);
	}
	size_t nblk = (d->nextents + DFS_EXTBLK_MAX - 1) / DFS_EXTBLK_MAX;
	uint64_t blk = d->extent_blk;
	ip->chain = calloc(nblk ? nblk : 1, sizeof(*ip->chain));
	if (!ip->chain)
		return daxfs_err(-ENOMEM, "extent map: out of memory");
	ip->next = 0;
	for (size_t k = 0; k < nblk; k++) {
		struct dfs_buf *b;

		if (blk < fs->sb.data_start || blk >= fs->sb.total_blocks)
			return daxfs_err(-EIO, "inode %llu: extent block %llu out of bounds",
					 (unsigned long long)ip->ino, (unsigned long long)blk);
		if ((err = dfs_buf_read(fs, blk, DFS_BUF_SEALED, &b)))
			return daxfs_err_prefix(err, "inode %llu", (unsigned long long)ip->ino);
		uint32_t count = dfs_get32(b->data + DFS_EXTBLK_COUNT);
		if (dfs_get32(b->data) != DFS_MAGIC_EXTENT || dfs_get64(b->data + DFS_EXTBLK_OWNER) != ip->ino ||
		    count == 0 || count > DFS_EXTBLK_MAX || ip->next + count > d->nextents)
			return daxfs_err(-EIO, "inode %llu: extent block %llu is damaged",
					 (unsigned long long)ip->ino, (unsigned long long)blk);
		for (uint32_t i = 0; i < count; i++)
			if ((err = dfs_extent_decode(b->data + DFS_EXTBLK_HDR + i * DFS_EXTENT_SIZE,
						     fs->sb.data_start, fs->sb.total_blocks,
						     &ip->ext[ip->next++])))
				return daxfs_err_prefix(err, "inode %llu", (unsigned long long)ip->ino);
		ip->chain[ip->nchain++] = blk;
		blk = dfs_get64(b->data + DFS_EXTBLK_NEXT);
	}
	if (ip->next != d->nextents || blk != 0)
		return daxfs_err(-EIO, "inode %llu: extent chain length does not match its count",
				 (unsigned long long)ip->ino);
	return (err = check_sorted(ip)) ? err : check_placed(fs, ip);
}

/* Writes chain blocks [from, need) of ino's map ext[0..next) to chain[]. */
static int write_chain(struct dfs *fs, uint64_t ino, const struct dfs_extent *ext, size_t next,
		       const uint64_t *chain, size_t from, size_t need)
{
	for (size_t k = from; k < need; k++) {
		struct dfs_buf *b;
		size_t first = k * DFS_EXTBLK_MAX;
		size_t count = next - first < DFS_EXTBLK_MAX ? next - first : DFS_EXTBLK_MAX;
		int err;

		if ((err = dfs_buf_new(fs, chain[k], DFS_BUF_SEALED, &b)))
			return err;
		dfs_put32(b->data, DFS_MAGIC_EXTENT);
		dfs_put32(b->data + DFS_EXTBLK_COUNT, (uint32_t)count);
		dfs_put64(b->data + DFS_EXTBLK_NEXT, k + 1 < need ? chain[k + 1] : 0);
		dfs_put64(b->data + DFS_EXTBLK_OWNER, ino);
		for (size_t i = 0; i < count; i++)
			dfs_extent_encode(&ext[first + i], b->data + DFS_EXTBLK_HDR + i * DFS_EXTENT_SIZE);
		dfs_buf_dirty(fs, b);
	}
	return 0;
}

/* The store of a prepared change: fails only on I/O errors and memory for
 * buffers (the caller aborts the journal then). */
static int store(struct dfs *fs, struct dfs_inode *ip)
{
	size_t need = chain_blocks(ip->next);
	int err;

	size_t from = ip->ext_dirty_from / DFS_EXTBLK_MAX;
	/* a block whose successor changes must be rewritten too */
	if (need != ip->nchain && ip->nchain && need && from > (need < ip->nchain ? need : ip->nchain) - 1)
		from = (need < ip->nchain ? need : ip->nchain) - 1;
	if (need > ip->nchain) {
		if (need > ip->nchain + 1 || !ip->spare)
			abort();    /* a change that did not prepare: a bug */
		ip->chain[ip->nchain++] = ip->spare;
		ip->spare = 0;
	}
	if (ip->nchain > need && (err = dfs_free_prepare(fs, ip->nchain - need)))
		return err;
	while (ip->nchain > need) {
		if ((err = dfs_free(fs, ip->chain[ip->nchain - 1], 1)))
			return err;
		ip->nchain--;
	}
	dfs_extent_unprepare(fs, ip);     /* prepared for a split that merged away */
	ip->d.nextents = (uint32_t)ip->next;
	ip->ext_dirty_from = SIZE_MAX;
	memset(ip->d.inline_ext, 0, sizeof(ip->d.inline_ext));
	if (need == 0) {
		ip->d.extent_blk = 0;
		for (size_t i = 0; i < ip->next; i++)
			ip->d.inline_ext[i] = ip->ext[i];
		return dfs_inode_write(fs, ip);
	}
	if (ip->d.extent_blk != ip->chain[0])
		from = 0;      /* coming from inline extents */
	ip->d.extent_blk = ip->chain[0];
	if ((err = write_chain(fs, ip->ino, ip->ext, ip->next, ip->chain, from, need)))
		return err;
	return dfs_inode_write(fs, ip);
}

/* Ends a prepared change: once the map changed, a failed store leaves memory
 * and the transaction apart, so the journal is aborted. */
static int store_or_abort(struct dfs *fs, struct dfs_inode *ip)
{
	int err = store(fs, ip);

	return err ? dfs_journal_abort(fs, daxfs_err_prefix(err, "inode %llu: storing its extents",
							     (unsigned long long)ip->ino)) : 0;
}

int dfs_extents_store(struct dfs *fs, struct dfs_inode *ip)
{
	int err = map_prepare(fs, ip, ip->next, 0);

	return err ? err : store_or_abort(fs, ip);
}

int dfs_extents_layout(struct dfs *fs, uint64_t ino, struct dfs_dinode *d,
		       const struct dfs_extent *ext, size_t next, const uint64_t *chain, size_t nchain,
		       size_t *used)
{
	size_t need = chain_blocks(next);

	if (need > nchain)
		return daxfs_err(-EIO, "inode %llu: %zu extents need %zu chain blocks, it has %zu",
				 (unsigned long long)ino, next, need, nchain);
	*used = need;
	d->nextents = (uint32_t)next;
	memset(d->inline_ext, 0, sizeof(d->inline_ext));
	d->extent_blk = need ? chain[0] : 0;
	for (size_t i = 0; !need && i < next; i++)
		d->inline_ext[i] = ext[i];
	return write_chain(fs, ino, ext, next, chain, 0, need);
}

int dfs_extent_block_parse(const uint8_t *b, uint64_t ino, uint64_t data_start, uint64_t total_blocks,
			   struct dfs_extent *out, uint32_t *count, uint64_t *next)
{
	*count = dfs_get32(b + DFS_EXTBLK_COUNT);
	*next = dfs_get64(b + DFS_EXTBLK_NEXT);
	if (dfs_get32(b + DFS_BLK_MAGIC) != DFS_MAGIC_EXTENT)
		return daxfs_err(-EIO, "no extent block magic");
	if (dfs_get64(b + DFS_EXTBLK_OWNER) != ino)
		return daxfs_err(-EIO, "extent block of inode %llu",
				 (unsigned long long)dfs_get64(b + DFS_EXTBLK_OWNER));
	if (*count == 0 || *count > DFS_EXTBLK_MAX)
		return daxfs_err(-EIO, "extent block count %u", *count);
	for (uint32_t i = 0; i < *count; i++) {
		int err = dfs_extent_decode(b + DFS_EXTBLK_HDR + i * DFS_EXTENT_SIZE, data_start,
					    total_blocks, &out[i]);
		if (err)
			return err;
		if (i && out[i].lblk < out[i - 1].lblk + out[i - 1].len)
			return daxfs_err(-EIO, "extents overlap or are unsorted");
	}
	return 0;
}

size_t dfs_extent_search(const struct dfs_inode *ip, uint64_t lblk)
{
	size_t lo = 0, hi = ip->next;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ip->ext[mid].lblk + ip->ext[mid].len <= lblk)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool mergeable(const struct dfs_extent *a, const struct dfs_extent *b)
{
	return a->lblk + a->len == b->lblk && a->pblk + a->len == b->pblk &&
	       a->flags == b->flags && (uint64_t)a->len + b->len <= UINT32_MAX;
}

static void ext_delete(struct dfs_inode *ip, size_t i)
{
	touched(ip, i);
	memmove(&ip->ext[i], &ip->ext[i + 1], (ip->next - i - 1) * sizeof(*ip->ext));
	ip->next--;
}

static int ext_insert_at(struct dfs_inode *ip, size_t i, const struct dfs_extent *e)
{
	int err = ext_reserve(ip, ip->next + 1);

	if (err)
		return err;
	touched(ip, i);
	memmove(&ip->ext[i + 1], &ip->ext[i], (ip->next - i) * sizeof(*ip->ext));
	ip->ext[i] = *e;
	ip->next++;
	return 0;
}

/* Merges extents around [from, to] with their neighbours. */
static void normalize(struct dfs_inode *ip, size_t from, size_t to)
{
	size_t i = from ? from - 1 : 0;

	while (i + 1 < ip->next && i <= to + 1) {
		if (mergeable(&ip->ext[i], &ip->ext[i + 1])) {
			touched(ip, i);
			ip->ext[i].len += ip->ext[i + 1].len;
			ext_delete(ip, i + 1);
			if (to)
				to--;
		} else {
			i++;
		}
	}
}

/* Makes lblk an extent boundary; splits the extent that contains it. */
static int split_at(struct dfs_inode *ip, uint64_t lblk)
{
	size_t i = dfs_extent_search(ip, lblk);

	if (i == ip->next || ip->ext[i].lblk >= lblk)
		return 0;
	struct dfs_extent *e = &ip->ext[i];
	uint32_t head = (uint32_t)(lblk - e->lblk);
	struct dfs_extent tail = { lblk, e->pblk + head, e->len - head, e->flags };
	touched(ip, i);
	e->len = head;
	return ext_insert_at(ip, i + 1, &tail);
}

int dfs_extent_insert(struct dfs *fs, struct dfs_inode *ip, const struct dfs_extent *e)
{
	size_t i = dfs_extent_search(ip, e->lblk);
	int err;

	if (i < ip->next && ip->ext[i].lblk < e->lblk + e->len)
		return daxfs_err(-EIO, "inode %llu: new extent overlaps a mapped one",
				 (unsigned long long)ip->ino);
	if ((err = map_prepare(fs, ip, ip->next + 1, 0)))
		return err;
	if ((err = ext_insert_at(ip, i, e)))
		abort();    /* the memory was reserved */
	normalize(ip, i, i);
	ip->d.blocks += e->len;
	return store_or_abort(fs, ip);
}

/* Whether lblk falls strictly inside an extent (a change there splits it). */
static bool inside(const struct dfs_inode *ip, size_t i, uint64_t lblk)
{
	return i < ip->next && ip->ext[i].lblk < lblk && lblk < ip->ext[i].lblk + ip->ext[i].len;
}

/* Extents the map has after splitting at lblk and at end. */
static size_t count_split(const struct dfs_inode *ip, uint64_t lblk, uint64_t end, size_t *first)
{
	size_t i = dfs_extent_search(ip, lblk), j = end ? dfs_extent_search(ip, end - 1) : i;

	*first = i;
	return ip->next + inside(ip, i, lblk) + inside(ip, j, end);
}

int dfs_extent_remove(struct dfs *fs, struct dfs_inode *ip, uint64_t lblk, uint64_t count,
		      size_t max_extents, bool *done)
{
	uint64_t end = lblk + count;
	size_t changed = 0, i, j, split;
	int err;

	*done = false;
	dfs_stream_forget(fs, ip->ino);
	/* after the splits every extent in the range is a piece of its own,
	 * and the call removes max_extents of them */
	split = count_split(ip, lblk, end, &i);
	j = dfs_extent_search(ip, end);
	size_t pieces = j - i + (j < ip->next && ip->ext[j].lblk < end);
	size_t left = split - (pieces < max_extents ? pieces : max_extents);
	/* only a range inside one extent leaves more extents than it found:
	 * that needs the reserve, or the caller does without unmapping */
	if ((err = dfs_free_prepare(fs, max_extents)) ||
	    (err = map_prepare(fs, ip, left > ip->next ? left : ip->next, DFS_ALLOC_RESERVE)))
		return err;
	if (split_at(ip, lblk) || split_at(ip, end))
		abort();    /* the memory was reserved */
	i = dfs_extent_search(ip, lblk);
	while (i < ip->next && ip->ext[i].lblk < end && changed < max_extents) {
		struct dfs_extent e = ip->ext[i];

		if ((err = dfs_free(fs, e.pblk, e.len)) ||
		    (err = dfs_lease_defer(fs, ip->ino, e.pblk, e.len)))
			return dfs_journal_abort(fs, err);
		ip->d.blocks -= e.len;
		ext_delete(ip, i);
		changed++;
	}
	*done = i >= ip->next || ip->ext[i].lblk >= end;
	normalize(ip, i, i);
	return store_or_abort(fs, ip);
}

int dfs_extent_mark_written(struct dfs *fs, struct dfs_inode *ip, uint64_t lblk, uint64_t count)
{
	uint64_t end = lblk + count;
	size_t first, i;
	int err;

	/* splitting is what a write into preallocated space may need a block
	 * for: from the reserve, and without it the whole extents convert
	 * (their blocks are zeroed, so the rest still reads as zeros) */
	size_t n = count_split(ip, lblk, end, &first);
	err = map_prepare(fs, ip, n, DFS_ALLOC_RESERVE);
	if (err == -ENOSPC) {
		if ((err = map_prepare(fs, ip, ip->next, DFS_ALLOC_RESERVE)))
			return err;
		lblk = first < ip->next && ip->ext[first].lblk < lblk ? ip->ext[first].lblk : lblk;
		size_t last = end ? dfs_extent_search(ip, end - 1) : first;
		if (last < ip->next && ip->ext[last].lblk < end)
			end = ip->ext[last].lblk + ip->ext[last].len;
	} else if (err) {
		return err;
	}
	if (split_at(ip, lblk) || split_at(ip, end))
		abort();    /* the memory was reserved */
	first = dfs_extent_search(ip, lblk);
	for (i = first; i < ip->next && ip->ext[i].lblk < end; i++)
		if (ip->ext[i].flags & DFS_EXT_UNWRITTEN) {
			touched(ip, i);
			ip->ext[i].flags &= ~DFS_EXT_UNWRITTEN;
		}
	normalize(ip, first, i);
	return store_or_abort(fs, ip);
}

int dfs_extent_alloc(struct dfs *fs, struct dfs_inode *ip, uint64_t lblk, uint64_t count,
		     uint32_t flags, struct dfs_extent *out)
{
	size_t i = dfs_extent_search(ip, lblk);
	uint64_t goal = 0, pblk, len;
	unsigned aflags = 0;
	int err;

	if (i > 0) {
		const struct dfs_extent *prev = &ip->ext[i - 1];
		goal = prev->pblk + prev->len + (lblk - (prev->lblk + prev->len));
		if (goal >= fs->sb.total_blocks)
			goal = 0;
		/* keep streaming writes contiguous, but start a 2 MiB aligned
		 * run when the file reaches a 2 MiB boundary off alignment */
		if (lblk % DFS_ALIGN_BLOCKS == 0 && goal % DFS_ALIGN_BLOCKS != 0)
			aflags = DFS_ALLOC_ALIGN;
	} else if (lblk % DFS_ALIGN_BLOCKS == 0 && count >= DFS_ALIGN_BLOCKS) {
		aflags = DFS_ALLOC_ALIGN;
	}
	if (i < ip->next && ip->ext[i].lblk < lblk + count)
		count = ip->ext[i].lblk - lblk;
	/* the extent block first: the data then takes what is left */
	if ((err = map_prepare(fs, ip, ip->next + 1, 0)))
		return err;
	if ((err = dfs_alloc_for(fs, ip->ino, goal, count, 1, aflags, &pblk, &len))) {
		dfs_extent_unprepare(fs, ip);
		return err;
	}
	/* a file growing at its end again: room ahead of it (stream.c) */
	if (i > 0 && i == ip->next)
		dfs_stream_note(fs, ip->ino, pblk + len, lblk + len);
	/* no file may ever show another file's old data */
	if ((err = dfs_dev_zero(fs, pblk, len))) {
		(void)dfs_unalloc(fs, pblk, len);
		dfs_extent_unprepare(fs, ip);
		return err;
	}
	*out = (struct dfs_extent){ lblk, pblk, (uint32_t)len, flags };
	return dfs_extent_insert(fs, ip, out);
}

/* Splits at lblk and lblk + count for a change that leaves the range's
 * pieces (remap) or drops them (detach), after taking what it needs. */
static int split_range(struct dfs *fs, struct dfs_inode *ip, uint64_t lblk, uint64_t count,
		       bool drop)
{
	const uint64_t end = lblk + count;
	size_t i, n = count_split(ip, lblk, end, &i);
	int err;

	if (drop) {
		size_t j = dfs_extent_search(ip, end);
		n -= j - i + (j < ip->next && ip->ext[j].lblk < end);
	}
	if ((err = map_prepare(fs, ip, n > ip->next ? n : ip->next, 0)))
		return err;
	if (split_at(ip, lblk) || split_at(ip, end))
		abort();    /* the memory was reserved */
	return 0;
}

int dfs_extent_remap(struct dfs *fs, struct dfs_inode *ip, uint64_t lblk, uint64_t count,
		     uint64_t pblk)
{
	int err = split_range(fs, ip, lblk, count, false);

	if (err)
		return err;
	size_t first = dfs_extent_search(ip, lblk), i;
	for (i = first; i < ip->next && ip->ext[i].lblk < lblk + count; i++) {
		touched(ip, i);
		ip->ext[i].pblk = pblk + (ip->ext[i].lblk - lblk);
	}
	normalize(ip, first, i);
	ip->ext_dirty_from = 0;      /* every chain block may have moved */
	return store_or_abort(fs, ip);
}

int dfs_extent_detach(struct dfs *fs, struct dfs_inode *ip, uint64_t lblk, uint64_t count)
{
	int err = split_range(fs, ip, lblk, count, true);

	if (err)
		return err;
	size_t i = dfs_extent_search(ip, lblk);
	while (i < ip->next && ip->ext[i].lblk < lblk + count) {
		ip->d.blocks -= ip->ext[i].len;
		ext_delete(ip, i);
	}
	normalize(ip, i, i);
	ip->ext_dirty_from = 0;
	return store_or_abort(fs, ip);
}
