/* fs/fsck_block.c - fsck over blocks: who uses each, blocks claimed twice, group bitmaps and counts */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/crc32c.h"
#include "fs/fsck.h"
#include "util/array.h"
#include "util/err.h"

/*
 * Every block in use is claimed by someone (fsck_pass_claims). A block
 * claimed twice stays with the claim that comes first in enum
 * fsck_claim_kind (then the lower inode), and the other owner gets a copy of
 * it (e2fsck's pass 1B-1D), or, with no free space left, loses it: a file or
 * directory then has a hole where the block was. The bitmaps are made from
 * the claims before any copy is allocated, so the allocator hands out only
 * blocks nobody uses; the counts are computed from the bitmaps, never taken
 * from the descriptors.
 */

static const char *const kind_names[CLAIM_KINDS] = {
	[CLAIM_FIXED] = "the superblocks, journal and group descriptor table",
	[CLAIM_MEMBERS] = "the member table",
	[CLAIM_LABEL] = "the label of member %llu",
	[CLAIM_BITMAP] = "the bitmap of group %llu",
	[CLAIM_ITABLE] = "the inode table",
	[CLAIM_CHAIN] = "the extent chain of inode %llu",
	[CLAIM_XATTR] = "the xattr block of inode %llu",
	[CLAIM_DIR] = "directory %llu",
	[CLAIM_SYMLINK] = "symlink %llu",
	[CLAIM_DATA] = "inode %llu",
};

const char *fsck_claim_name(const struct fsck_claim *cl, char *buf, size_t size)
{
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	snprintf(buf, size, kind_names[cl->kind], (unsigned long long)cl->owner);
#pragma GCC diagnostic pop
	return buf;
}

int fsck_claim(struct fsck *c, enum fsck_claim_kind kind, uint64_t start, uint64_t len,
	       uint64_t owner, uint64_t lblk)
{
	int err = DAXFS_GROW(c->claims, c->claimcap, c->nclaims + 1, 1024, "fsck");

	if (err)
		return err;
	c->claims[c->nclaims++] = (struct fsck_claim){ start, len, owner, lblk, (uint8_t)kind };
	return 0;
}

static int by_start(const void *a, const void *b)
{
	const struct fsck_claim *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static int by_rank(const void *a, const void *b)
{
	const struct fsck_claim *x = *(const struct fsck_claim *const *)a;
	const struct fsck_claim *y = *(const struct fsck_claim *const *)b;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (x->owner != y->owner)
		return x->owner < y->owner ? -1 : 1;
	return x->start < y->start ? -1 : x->start > y->start;
}

static int add_shared(struct fsck *c, const struct fsck_claim *loser, uint64_t s, uint64_t e,
		      const struct fsck_claim *winner)
{
	int err = DAXFS_GROW(c->shared, c->sharedcap, c->nshared + 1, 16, "fsck");

	if (err)
		return err;
	struct fsck_shared *sh = &c->shared[c->nshared++];
	sh->loser = *loser;
	sh->loser.start = s;
	sh->loser.len = e - s;
	sh->loser.lblk = loser->lblk + (s - loser->start);
	sh->winner = *winner;
	return 0;
}

/* The runs of x that claims ranked before it (in r[0..nr)) hold, each once. */
static int lose_to(struct fsck *c, const struct fsck_claim *x, struct fsck_claim **r, size_t nr)
{
	const uint64_t xe = x->start + x->len;
	size_t first = c->nshared;

	for (size_t k = 0; k < nr; k++) {
		uint64_t s = r[k]->start > x->start ? r[k]->start : x->start;
		uint64_t e = r[k]->start + r[k]->len < xe ? r[k]->start + r[k]->len : xe;

		/* minus what an earlier winner already took from x */
		for (size_t j = first; j < c->nshared && s < e; j++) {
			uint64_t ts = c->shared[j].loser.start, te = ts + c->shared[j].loser.len;
			if (ts <= s && te > s)
				s = te;
			if (ts < e && te >= e)
				e = ts;
		}
		int err;
		if (s < e && (err = add_shared(c, x, s, e, r[k])))
			return err;
	}
	return 0;
}

int fsck_pass_shared(struct fsck *c)
{
	struct fsck_claim **inv = NULL;
	size_t *active = NULL, nactive = 0, ninv = 0;
	uint8_t *involved = NULL;
	int err = 0;

	qsort(c->claims, c->nclaims, sizeof(*c->claims), by_start);
	/* the claims that overlap another: few, unless something went badly wrong */
	if (!(involved = calloc(c->nclaims ? c->nclaims : 1, 1)) ||
	    !(active = malloc((c->nclaims ? c->nclaims : 1) * sizeof(*active)))) {
		err = daxfs_err(-ENOMEM, "fsck: out of memory");
		goto out;
	}
	for (size_t i = 0; i < c->nclaims; i++) {
		size_t keep = 0;

		for (size_t k = 0; k < nactive; k++)
			if (c->claims[active[k]].start + c->claims[active[k]].len > c->claims[i].start)
				active[keep++] = active[k];
		nactive = keep;
		for (size_t k = 0; k < nactive; k++)
			involved[active[k]] = involved[i] = 1;
		active[nactive++] = i;
	}
	for (size_t i = 0; i < c->nclaims; i++)
		ninv += involved[i];
	if (!ninv)
		goto out;
	if (!(inv = malloc(ninv * sizeof(*inv)))) {
		err = daxfs_err(-ENOMEM, "fsck: out of memory");
		goto out;
	}
	ninv = 0;
	for (size_t i = 0; i < c->nclaims; i++)
		if (involved[i])
			inv[ninv++] = &c->claims[i];
	qsort(inv, ninv, sizeof(*inv), by_rank);
	for (size_t i = 1; i < ninv && !err; i++)
		err = lose_to(c, inv[i], inv, i);
out:
	free(inv);
	free(active);
	free(involved);
	return err;
}

/* ---- groups ---- */

static void set_bits(uint8_t *map, uint64_t s, uint64_t n)
{
	for (uint64_t i = s; i < s + n; i++)
		map[i >> 3] |= (uint8_t)(1u << (i & 7));
}

static bool bit(const uint8_t *map, uint64_t i)
{
	return map[i >> 3] & (1u << (i & 7));
}

/* Compares group g with want; notes what differs. */
static int check_group(struct fsck *c, uint64_t g, const uint8_t *want, struct fsck_notes *nt)
{
	struct dfs *fs = c->fs;
	const uint64_t glen = dfs_group_len(fs, g);
	struct dfs_gd gd;
	int err;

	if ((err = dfs_alloc_gd_check(fs, g, &gd))) {
		if (fsck_fatal(err))
			return err;
		fsck_note(nt, PREEN_OK, "%s: rebuild it", daxfs_errormsg());
		return 0;
	}
	uint64_t unmarked = 0, leaked = 0, nfree = 0;
	if (!gd.bitmap_blk) {
		/* uninitialised: free but for the fixed metadata of group 0 and
		 * the labels */
		const uint64_t res = g ? 0 : fs->sb.data_start;
		uint8_t *labels = calloc(1, DFS_BLOCK_SIZE);
		if (!labels)
			return daxfs_err(-ENOMEM, "fsck: out of memory");
		dfs_label_blocks_in(fs, g * DFS_BLOCKS_PER_GROUP, glen, labels);
		for (uint64_t i = res; i < glen; i++)
			unmarked += bit(want, i) && !bit(labels, i);
		free(labels);
		if (unmarked)
			fsck_note(nt, PREEN_OK, "group %llu: %llu blocks in use but marked free",
				  (unsigned long long)g, (unsigned long long)unmarked);
		return 0;
	}
	struct dfs_buf *b;
	if ((err = dfs_buf_read_unchecked(fs, gd.bitmap_blk, DFS_BUF_BITMAP, &b))) {
		if (fsck_fatal(err))
			return err;
		fsck_note(nt, PREEN_OK, "group %llu: %s", (unsigned long long)g, daxfs_errormsg());
		return 0;
	}
	if (!b->dirty && crc32c(b->data, DFS_BLOCK_SIZE) != gd.bitmap_crc) {
		fsck_note(nt, PREEN_OK, "group %llu: bitmap block %llu checksum mismatch",
			  (unsigned long long)g, (unsigned long long)gd.bitmap_blk);
		return 0;
	}
	for (uint64_t i = 0; i < glen; i++) {
		bool w = bit(want, i), h = bit(b->data, i);
		unmarked += w && !h;
		leaked += h && !w;
		nfree += !h;
	}
	if (unmarked)
		fsck_note(nt, PREEN_OK, "group %llu: %llu blocks in use but marked free",
			  (unsigned long long)g, (unsigned long long)unmarked);
	if (leaked)
		fsck_note(nt, PREEN_OK, "group %llu: %llu blocks marked in use but unused",
			  (unsigned long long)g, (unsigned long long)leaked);
	if (nfree != gd.free)
		fsck_note(nt, PREEN_OK, "group %llu: free count %u, bitmap says %llu",
			  (unsigned long long)g, gd.free, (unsigned long long)nfree);
	return 0;
}

int fsck_pass_groups(struct fsck *c)
{
	struct dfs *fs = c->fs;
	uint8_t *want = malloc(DFS_BLOCK_SIZE);
	size_t u = 0;
	int err = 0;

	if (!want)
		return daxfs_err(-ENOMEM, "fsck: out of memory");
	/* the claims are sorted by start (fsck_pass_shared) */
	for (uint64_t g = 0; g < fs->sb.ngroups && !err; g++) {
		const uint64_t gs = g * DFS_BLOCKS_PER_GROUP, glen = dfs_group_len(fs, g);
		struct fsck_notes nt = { .n = 0 };

		memset(want, 0, DFS_BLOCK_SIZE);
		if (glen < DFS_BLOCKS_PER_GROUP)
			set_bits(want, glen, DFS_BLOCKS_PER_GROUP - glen);
		while (u < c->nclaims && c->claims[u].start + c->claims[u].len <= gs)
			u++;
		for (size_t k = u; k < c->nclaims && c->claims[k].start < gs + glen; k++) {
			uint64_t s = c->claims[k].start > gs ? c->claims[k].start : gs;
			uint64_t e = c->claims[k].start + c->claims[k].len;
			e = e < gs + glen ? e : gs + glen;
			if (e > s)
				set_bits(want, s - gs, e - s);
		}
		if ((err = check_group(c, g, want, &nt)) || !nt.n)
			continue;
		if (!(err = dfs_txn_reserve(fs, 8)))
			err = dfs_alloc_repair_group(fs, g, want, c->needs_bitmap[g]);
		if (fsck_fatal(err))
			break;
		fsck_report_notes(c, &nt, !err);
		err = 0;
	}
	free(want);
	return err;
}

/* ---- copies for the later owner ---- */

static int copy_blocks(struct fsck *c, enum fsck_claim_kind kind, uint64_t from, uint64_t to,
		       uint64_t n)
{
	struct dfs *fs = c->fs;
	int err = 0;

	for (uint64_t i = 0; i < n && !err; i++) {
		struct dfs_buf *src, *dst;

		if (kind == CLAIM_DATA) {
			/* file data is not cached: fsck -n, which never writes, only maps */
			uint8_t *tmp = fs->check_only ? NULL : malloc(DFS_BLOCK_SIZE);
			if (!fs->check_only && !tmp)
				return daxfs_err(-ENOMEM, "fsck: out of memory");
			if (tmp && !(err = dfs_dev_read(fs, from + i, tmp, 1)))
				err = dfs_dev_write(fs, to + i, tmp, 1, false);
			free(tmp);
			continue;
		}
		/* a directory or symlink block: sealed for its new place at commit */
		if (!(err = dfs_buf_read_unchecked(fs, from + i, DFS_BUF_SEALED, &src)) &&
		    !(err = dfs_buf_new(fs, to + i, DFS_BUF_SEALED, &dst))) {
			memcpy(dst->data, src->data, DFS_BLOCK_SIZE);
			dfs_buf_dirty(fs, dst);
		}
	}
	return err;
}

/* A directory's blocks are numbered 0..n-1: after losing one, again. */
static int dir_renumber(struct fsck *c, struct dfs_inode *ip)
{
	uint64_t l = 0;

	for (size_t i = 0; i < ip->next; i++) {
		ip->ext[i].lblk = l;
		l += ip->ext[i].len;
	}
	ip->d.size = l * DFS_BLOCK_SIZE;
	ip->ext_dirty_from = 0;
	dfs_dir_free_index(ip);
	return dfs_extents_store(c->fs, ip);
}

/* Gives ip its own copy of [lblk, lblk+n) (at pblk now); *detached if there
 * was no room and the run was unmapped from ip instead. */
static int give_copy(struct fsck *c, struct dfs_inode *ip, enum fsck_claim_kind kind, uint64_t lblk,
		     uint64_t pblk, uint64_t n, bool *detached)
{
	struct dfs *fs = c->fs;
	int err = 0;

	*detached = false;
	for (uint64_t done = 0; done < n && !err; ) {
		uint64_t np, got;

		if ((err = dfs_txn_reserve(fs, 64)))
			return err;
		err = dfs_alloc(fs, 0, n - done, 1, false, &np, &got);
		if (!err && (err = copy_blocks(c, kind, pblk + done, np, got)) == 0 &&
		    (err = dfs_extent_remap(fs, ip, lblk + done, got, np)) != 0)
			(void)dfs_free(fs, np, got);
		if (err == -ENOSPC && kind != CLAIM_SYMLINK) {
			*detached = true;
			if (!(err = dfs_extent_detach(fs, ip, lblk + done, n - done)) && kind == CLAIM_DIR)
				err = dir_renumber(c, ip);
			break;
		}
		done += got;
	}
	return err;
}

static bool still_mapped(const struct dfs_inode *ip, uint64_t lblk, uint64_t pblk, uint64_t n)
{
	size_t i = dfs_extent_search(ip, lblk);

	return i < ip->next && ip->ext[i].lblk <= lblk &&
	       ip->ext[i].lblk + ip->ext[i].len >= lblk + n &&
	       ip->ext[i].pblk + (lblk - ip->ext[i].lblk) == pblk;
}

/* The run the loser gave up is the winner's alone: a cached copy of it,
 * which the loser's checks may have read, is written home as the winner's. */
static void winner_keeps(struct fsck *c, const struct fsck_claim *w, uint64_t start, uint64_t len)
{
	for (uint64_t blk = start; blk < start + len; blk++)
		switch (w->kind) {
		case CLAIM_FIXED: case CLAIM_MEMBERS: case CLAIM_ITABLE:
			dfs_buf_retype(c->fs, blk, DFS_BUF_PLAIN);
			break;
		case CLAIM_BITMAP:
			dfs_buf_retype(c->fs, blk, DFS_BUF_BITMAP);
			break;
		case CLAIM_CHAIN: case CLAIM_XATTR: case CLAIM_DIR: case CLAIM_SYMLINK:
			dfs_buf_retype(c->fs, blk, DFS_BUF_SEALED);
			break;
		default:        /* a label or file data: not metadata the cache writes */
			dfs_buf_forget(c->fs, blk);
			break;
		}
}

int fsck_pass_clone(struct fsck *c)
{
	for (size_t i = 0; i < c->nshared; i++) {
		const struct fsck_shared *sh = &c->shared[i];
		const struct fsck_claim *l = &sh->loser;
		char lname[96], wname[96], range[48];
		struct dfs_inode *ip = NULL;
		bool detached = false;
		int err = -EIO;

		fsck_claim_name(l, lname, sizeof(lname));
		fsck_claim_name(&sh->winner, wname, sizeof(wname));
		if (l->len == 1)
			snprintf(range, sizeof(range), "block %llu is", (unsigned long long)l->start);
		else
			snprintf(range, sizeof(range), "blocks %llu-%llu are", (unsigned long long)l->start,
				 (unsigned long long)(l->start + l->len - 1));
		/* only file, directory and symlink blocks are ever given up: the
		 * other kinds are checked to be their owner's before they count */
		if (l->kind >= CLAIM_DIR && dfs_iget(c->fs, l->owner, &ip) == 0 &&
		    still_mapped(ip, l->lblk, l->start, l->len))
			err = give_copy(c, ip, (enum fsck_claim_kind)l->kind, l->lblk, l->start, l->len,
					&detached);
		if (fsck_fatal(err))
			return err;
		if (!err)
			winner_keeps(c, &sh->winner, l->start, l->len);
		fsck_problem(c, !err, PREEN_ASK, "%s: %s also used by %s: %s", lname, range, wname,
			     detached ? "detach them from it (no free space for a copy)"
				      : "give it its own copy");
	}
	return 0;
}
