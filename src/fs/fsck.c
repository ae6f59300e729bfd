/* fs/fsck.c - checking and repairing a daxfs: the superblocks, the mount for fsck, rounds of passes */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fsck.h"
#include "util/err.h"

/*
 * fsck opens the filesystem through the same code as mount, but a mount for
 * fsck works around what a mount refuses (a damaged journal is dropped,
 * damaged group descriptors and the root are left to the passes), from the
 * superblock copy chosen here. Then rounds of passes (fsck.h) rebuild from
 * scratch what the metadata claims, compare, and repair: every problem
 * reported is repaired (with -n, in the cache only, so the report is the
 * same), and a round that finds nothing ends the run. What the last round
 * still finds is left over.
 */

#define FSCK_ROUNDS 4

static const struct {
	const char *name;
	int (*run)(struct fsck *c);
} passes[] = {
	{ "inodes", fsck_pass_inodes },
	{ "claims", fsck_pass_claims },
	{ "shared blocks", fsck_pass_shared },
	{ "groups", fsck_pass_groups },
	{ "copies", fsck_pass_clone },
	{ "contents", fsck_pass_contents },
	{ "tree", fsck_pass_tree },
	{ "links", fsck_pass_links },
};

void fsck_problem(struct fsck *c, bool repaired, enum fsck_preen preen, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* what -n would have left over is no repair -p makes either */
	const bool by_preen = repaired && preen == PREEN_OK;

	c->res.unsafe += !by_preen;
	repaired = repaired && c->repair;
	c->res.problems++;
	c->res.repaired += repaired;
	c->round_problems++;
	if (c->report)
		c->report(c->ctx, &(struct dfs_fsck_problem){ .text = msg, .repaired = repaired,
							      .preen = by_preen });
}

void fsck_note(struct fsck_notes *nt, enum fsck_preen preen, const char *fmt, ...)
{
	va_list ap;

	if (nt->n == sizeof(nt->msg) / sizeof(nt->msg[0]))
		return;
	nt->preen[nt->n] = preen == PREEN_OK;
	va_start(ap, fmt);
	vsnprintf(nt->msg[nt->n++], sizeof(nt->msg[0]), fmt, ap);
	va_end(ap);
}

void fsck_report_notes(struct fsck *c, const struct fsck_notes *nt, bool ok)
{
	for (unsigned i = 0; i < nt->n; i++)
		fsck_problem(c, ok, nt->preen[i] ? PREEN_OK : PREEN_ASK, "%s", nt->msg[i]);
}

bool fsck_fatal(int err)
{
	return err == -ENOMEM || err == -EROFS;
}

int fsck_read(struct fsck *c, uint64_t blk, struct dfs_buf **b, bool *crc_ok)
{
	int err = dfs_buf_read_unchecked(c->fs, blk, DFS_BUF_SEALED, b);

	if (!err)
		*crc_ok = (*b)->dirty || dfs_block_crc_ok(blk, (*b)->data);
	return err;
}

const char *fsck_not_data(const struct fsck *c, uint64_t blk)
{
	const struct dfs_super *sb = &c->fs->sb;

	if (blk < sb->data_start || blk >= sb->total_blocks)
		return "not in the data area";
	if (dfs_is_member_block(c->fs, blk))
		return "a member label's block";
	if (blk == dfs_group_bitmap_blk(c->fs, blk / DFS_BLOCKS_PER_GROUP))
		return "a group's bitmap block";
	for (unsigned i = 0; i < sb->itable_nextents; i++)
		if (blk >= sb->itable[i].pblk && blk - sb->itable[i].pblk < sb->itable[i].len)
			return "in the inode table";
	return NULL;
}

int fsck_release(struct fsck *c, struct dfs_inode *ip)
{
	int err;

	if ((err = dfs_txn_reserve(c->fs, 64)))
		return err;
	ip->d.nlink = 0;
	ip->d.flags &= ~DFS_IFLAG_ORPHAN;    /* the release puts it on the list itself */
	return dfs_inode_maybe_release(c->fs, ip);
}

/* Whether b, with at most one bit flipped (also in its crc), decodes as a
 * superblock sealed for seed; then b is corrected. One crc per bit: about
 * 128 MiB of crc32c, tens of milliseconds, and only when both copies fail. */
static bool one_bit_off(uint8_t *b, uint64_t seed, struct dfs_super *sb)
{
	const uint32_t stored = dfs_get32(b + DFS_TAIL_CRC_OFF);
	const uint32_t have = dfs_block_crc(seed, b);

	if (__builtin_popcount(stored ^ have) == 1) {
		dfs_block_seal(seed, b);
		if (dfs_super_decode(b, seed, sb) == 0)
			return true;
		dfs_put32(b + DFS_TAIL_CRC_OFF, stored);
	}
	for (unsigned i = 0; i < DFS_TAIL_CRC_OFF * 8; i++) {
		b[i / 8] ^= (uint8_t)(1u << (i % 8));
		if (dfs_block_crc(seed, b) == stored && dfs_super_decode(b, seed, sb) == 0)
			return true;
		b[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	return false;
}

/* Both copies damaged in different places: where they differ, each run of
 * bytes is taken from one copy or the other until a crc holds. */
static bool merge_copies(const uint8_t *b0, const uint8_t *b1, struct dfs_super *sb)
{
	unsigned start[12], end[12], k = 0;
	uint8_t *m = malloc(DFS_BLOCK_SIZE);
	bool found = false;

	if (!m)
		return false;
	for (unsigned i = 0; i < DFS_TAIL_CRC_OFF; ) {
		if (b0[i] == b1[i]) {
			i++;
			continue;
		}
		unsigned j = i;
		while (j < DFS_TAIL_CRC_OFF && (b0[j] != b1[j] || (j + 8 < DFS_TAIL_CRC_OFF &&
								  memcmp(b0 + j, b1 + j, 8))))
			j++;
		if (k == 12)
			goto out;      /* too different: not two small injuries */
		start[k] = i;
		end[k++] = j;
		i = j;
	}
	for (unsigned mask = 0; mask < (1u << k) && !found; mask++)
		for (unsigned seed = 0; seed < 2 && !found; seed++) {
			memcpy(m, seed ? b1 : b0, DFS_BLOCK_SIZE);
			for (unsigned r = 0; r < k; r++)
				memcpy(m + start[r], ((mask >> r) & 1 ? b1 : b0) + start[r], end[r] - start[r]);
			found = dfs_super_decode(m, seed, sb) == 0;
		}
out:
	free(m);
	return found;
}

/* Reads both superblock copies; *good is the one to use (*none: there is none). A copy that fails
 * is a problem fsck repairs (the mount for -y rewrites both). Copies that
 * fail only because they swapped places are still found, and so are two
 * copies each with a small injury, or one copy a bit off (*found: *good was
 * found so, not as one copy that decodes where it is). */
static int check_supers(struct mapped_device *md, struct dfs_super *good, char why[2][512], bool *none,
			bool *found)
{
	uint8_t *b[2] = { malloc(DFS_BLOCK_SIZE), malloc(DFS_BLOCK_SIZE) };
	struct dfs_super sb[2] = { { 0 }, { 0 } };
	int ok[2], err = 0;

	if (!b[0] || !b[1]) {
		err = daxfs_err(-ENOMEM, "out of memory");
		goto out;
	}
	for (int i = 0; i < 2; i++) {
		why[i][0] = '\0';
		ok[i] = dm_submit_bio(md, DAX_REQ_READ, 0, (uint64_t)i << DFS_BLOCK_SHIFT, b[i],
				      DFS_BLOCK_SIZE);
		if (!ok[i])
			ok[i] = dfs_super_decode(b[i], (uint64_t)i, &sb[i]);
		if (ok[i])
			snprintf(why[i], sizeof(why[0]), "%s", daxfs_errormsg());
	}
	/* a format 1 filesystem is not damage: it is refused as a mount does */
	for (int i = 0; i < 2 && (i == 0 || ok[0]); i++)
		if (ok[i] && sb[i].major == 1) {
			err = daxfs_err(ok[i], "%s", why[i]);
			goto out;
		}
	if (!ok[0] || !ok[1]) {
		*good = sb[ok[0] ? 1 : 0];
		goto out;
	}
	*found = true;
	for (int i = 0; i < 2; i++)
		if (dfs_super_decode(b[i], (uint64_t)!i, &sb[i]) == 0) {
			*good = sb[i];
			snprintf(why[i], sizeof(why[0]), "superblock %d: the copy of block %d is "
				 "in its place", i, !i);
			goto out;
		}
	if (merge_copies(b[0], b[1], good)) {
		snprintf(why[0] + strlen(why[0]), sizeof(why[0]) - strlen(why[0]),
			 " (both copies are damaged: recovered from the two)");
		goto out;
	}
	for (int i = 0; i < 4; i++)
		if (one_bit_off(b[i % 2], (uint64_t)(i % 2 ^ i / 2), good)) {
			snprintf(why[0] + strlen(why[0]), sizeof(why[0]) - strlen(why[0]),
				 " (both copies are damaged: recovered from a copy one bit off)");
			goto out;
		}
	*none = true;
	err = daxfs_err(-EINVAL, "no valid superblock (primary: %s; backup: %s): not a daxfs, or "
			"damaged beyond repair", why[0], why[1]);
out:
	free(b[0]);
	free(b[1]);
	return err;
}

/* No superblock decodes (check_supers' message): a file of the table in
 * another's place explains that better, if one is. */
static int no_super(struct mapped_device *md)
{
	struct dm_table *t = dm_md_get_live_table(md);
	int err = t ? dfs_members_diagnose(t, -EINVAL) : daxfs_err(-EINVAL, "%s", daxfs_errormsg());

	dm_table_put(&t);
	return err;
}

static void round_free(struct fsck *c)
{
	free(c->claims);
	free(c->shared);
	free(c->needs_bitmap);
	free(c->state);
	free(c->refs);
	free(c->subdirs);
	free(c->lost);
	c->claims = NULL;
	c->shared = NULL;
	c->needs_bitmap = c->state = NULL;
	c->refs = c->subdirs = NULL;
	c->lost = NULL;
	c->nclaims = c->claimcap = c->nshared = c->sharedcap = c->nlost = c->lostcap = 0;
}

static int round_alloc(struct fsck *c)
{
	const uint64_t slots = c->fs->itable_slots;

	round_free(c);
	c->needs_bitmap = calloc(c->fs->sb.ngroups, 1);
	c->state = calloc(slots, 1);
	c->refs = calloc(slots, sizeof(*c->refs));
	c->subdirs = calloc(slots, sizeof(*c->subdirs));
	if (!c->needs_bitmap || !c->state || !c->refs || !c->subdirs)
		return daxfs_err(-ENOMEM, "fsck: out of memory");
	return 0;
}

/* Rounds of every pass, each committed, until one finds nothing. */
static int run_rounds(struct fsck *c)
{
	int err = 0;

	for (unsigned r = 0; r < FSCK_ROUNDS; r++) {
		c->round_problems = 0;
		if ((err = round_alloc(c)))
			return err;
		for (size_t p = 0; p < sizeof(passes) / sizeof(passes[0]); p++)
			if ((err = passes[p].run(c)))
				return daxfs_err_prefix(err, "fsck: %s", passes[p].name);
		if ((err = dfs_commit(c->fs)))
			return err;
		if (c->round_problems == 0)
			return 0;
	}
	fsck_problem(c, false, PREEN_ASK, "problems remain after %u rounds of repair", FSCK_ROUNDS);
	return 0;
}

/* What a check found, kept for -p to report if it stops. */
struct kept {
	struct dfs_fsck_problem *p;
	size_t n, cap;
	bool nomem;
};

static void keep(void *ctx, const struct dfs_fsck_problem *p)
{
	struct kept *k = ctx;
	char *text = strdup(p->text);

	if (text && k->n == k->cap) {
		size_t ncap = k->cap ? k->cap * 2 : 32;
		struct dfs_fsck_problem *np = realloc(k->p, ncap * sizeof(*np));

		if (np) {
			k->p = np;
			k->cap = ncap;
		}
	}
	if (!text || k->n == k->cap) {
		free(text);
		k->nomem = true;
		return;
	}
	k->p[k->n++] = (struct dfs_fsck_problem){ .text = text, .preen = p->preen };
}

/*
 * e2fsck -p repairs what is safe and stops at the first problem that is not,
 * keeping the repairs made before it. Here the check comes first (-n makes
 * the same repairs in memory, so it finds what -y would), and -p either
 * repairs everything it found or nothing: a filesystem is never left half
 * repaired by a run that stopped.
 */
static int preen(struct mapped_device *md, dfs_fsck_report_t report, void *ctx,
		 struct dfs_fsck_result *out)
{
	struct dfs_fsck_result res = { 0 };
	struct kept k = { 0 };
	int err = dfs_fsck(md, DFS_FSCK_CHECK, keep, &k, &res);

	if (!err && k.nomem)
		err = daxfs_err(-ENOMEM, "fsck: out of memory");
	if (!err && res.problems && !res.unsafe) {
		err = dfs_fsck(md, DFS_FSCK_REPAIR, report, ctx, &res);
	} else if (!err) {
		for (size_t i = 0; i < k.n && report; i++)
			report(ctx, &k.p[i]);
	}
	for (size_t i = 0; i < k.n; i++)
		free((char *)k.p[i].text);
	free(k.p);
	if (out)
		*out = res;
	return err;
}

int dfs_fsck(struct mapped_device *md, enum dfs_fsck_mode mode, dfs_fsck_report_t report,
	     void *ctx, struct dfs_fsck_result *out)
{
	struct fsck c = { .repair = mode == DFS_FSCK_REPAIR, .report = report, .ctx = ctx };
	struct dfs_member *members = NULL;
	char why[2][512];
	struct dfs_super sb;
	int err;

	if (mode == DFS_FSCK_PREEN)
		return preen(md, report, ctx, out);
	if (mode != DFS_FSCK_CHECK && mode != DFS_FSCK_REPAIR)
		return daxfs_err(-EINVAL, "fsck: unknown mode %d", (int)mode);
	/* members in the wrong place would make every block suspect, and a
	 * repair would write into the wrong files: nothing is checked then */
	bool none = false, found = false;
	if ((err = check_supers(md, &sb, why, &none, &found)) && none)
		err = no_super(md);
	if (err || (err = fsck_members(&c, md, &sb, &members)))
		goto out;
	err = dfs_mount_fsck(md, !c.repair, &sb, members, &c.fs);
	free(members);
	if (err)
		goto out;
	struct dfs *fs = c.fs;
	pthread_mutex_lock(&fs->meta);
	/* as the mount for -y does: the superblock is rewritten from the good copy */
	if (fs->check_only && (err = dfs_super_dirty(fs))) {
		pthread_mutex_unlock(&fs->meta);
		dfs_abandon(&c.fs);
		goto out;
	}
	/* the mount for -y wrote both copies from the good one */
	for (int i = 0; i < 2; i++)
		if (why[i][0])
			fsck_problem(&c, true, found ? PREEN_ASK : PREEN_OK, "%s superblock: %s",
				     i ? "backup" : "primary", why[i]);
	for (unsigned i = 0; i < fs->nfsck_notes; i++)
		fsck_problem(&c, true, fs->fsck_notes_preen[i] ? PREEN_OK : PREEN_ASK, "%s",
			     fs->fsck_notes[i]);
	err = run_rounds(&c);
	if (!err && c.repair)
		err = dfs_commit(fs);
	pthread_mutex_unlock(&fs->meta);
	if (c.repair) {
		int e2 = dfs_unmount(&c.fs);
		err = err ? err : e2;
	} else {
		dfs_abandon(&c.fs);
	}
out:
	round_free(&c);
	if (out)
		*out = c.res;
	return err;
}
