/* fs/fsck_inode.c - fsck over the inode table: each slot, its extent map and xattr block; claims; orphans */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/fsck.h"
#include "util/err.h"

/*
 * Pass "inodes" reads every slot as it is, without trusting its checksum,
 * and leaves every slot either free or one that the runtime loads: an inode
 * whose checksum fails but whose fields check out is kept (e2fsck's "passes
 * checks, but checksum does not match"), one whose fields do not is cleared.
 * An extent chain keeps its blocks up to the first that fails (the file
 * loses the extents from there on), an xattr block that fails is dropped.
 * Block contents are not rewritten here beyond the inode's own chain and
 * xattr blocks (which name their owner, so nobody else's data is at stake):
 * directory and symlink blocks wait until blocks claimed twice have been
 * separated (fsck_block.c).
 */

#define MAX_CHAIN ((DFS_MAX_EXTENTS + DFS_EXTBLK_MAX - 1) / DFS_EXTBLK_MAX)

/* An inode being salvaged: its fields and the map it keeps. */
struct salvage {
	uint64_t ino;
	struct dfs_dinode d;
	struct dfs_extent ext[DFS_MAX_EXTENTS];
	size_t next;
	uint64_t chain[MAX_CHAIN];
	size_t nchain;
	bool relayout;             /* the map is laid out again (inline or chain) */
	struct dfs_extent blk_ext[DFS_EXTBLK_MAX];   /* scratch: one chain block's */
};

static int clear_slot(struct fsck *c, uint64_t ino, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int clear_slot(struct fsck *c, uint64_t ino, const char *fmt, ...)
{
	static const struct dfs_dinode none;
	char why[400];
	va_list ap;
	int err;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (!(err = dfs_txn_reserve(c->fs, 4)))
		err = dfs_inode_set_slot(c->fs, ino, &none);
	if (fsck_fatal(err))
		return err;
	fsck_problem(c, !err, PREEN_ASK, "%s: clear it", why);
	c->state[ino] = INO_FREE;
	return 0;
}

/* The inline extents that check out (e2fsck clears an invalid extent, not
 * its inode). */
static void inline_map(struct fsck *c, struct salvage *s, const uint8_t *slot, struct fsck_notes *nt)
{
	const struct dfs_super *sb = &c->fs->sb;

	for (unsigned i = 0; i < s->d.nextents; i++) {
		struct dfs_extent e;
		bool ok = dfs_extent_decode(slot + DFS_INO_INLINE_EXT + i * DFS_EXTENT_SIZE, sb->data_start,
					    sb->total_blocks, &e) == 0;
		if (ok && s->next)
			ok = e.lblk >= s->ext[s->next - 1].lblk + s->ext[s->next - 1].len;
		if (ok) {
			s->ext[s->next++] = e;
			continue;
		}
		fsck_note(nt, PREEN_ASK, "inode %llu: extent %u (%llu+%u -> %llu) is out of bounds or out of order: "
			  "drop it", (unsigned long long)s->ino, i, (unsigned long long)e.lblk, e.len,
			  (unsigned long long)e.pblk);
		s->relayout = true;
	}
}

/* The extents of the chain up to the first block that fails. */
static int chain_map(struct fsck *c, struct salvage *s, struct fsck_notes *nt)
{
	const struct dfs_super *sb = &c->fs->sb;
	struct dfs_extent *blk_ext = s->blk_ext;
	uint64_t blk = s->d.extent_blk;
	size_t bound = (s->d.nextents + DFS_EXTBLK_MAX - 1) / DFS_EXTBLK_MAX;
	char why[256] = "";
	int err;

	bound = bound < 1 ? 1 : bound > MAX_CHAIN ? MAX_CHAIN : bound;
	while (blk && s->nchain < bound) {
		struct dfs_buf *b;
		uint32_t count;
		uint64_t next;
		bool crc_ok;

		const char *not_data = fsck_not_data(c, blk);
		if (not_data) {
			snprintf(why, sizeof(why), "block %llu is %s", (unsigned long long)blk, not_data);
			break;
		}
		for (size_t k = 0; k < s->nchain; k++)
			if (s->chain[k] == blk)
				snprintf(why, sizeof(why), "the chain loops at block %llu",
					 (unsigned long long)blk);
		if (why[0])
			break;
		if ((err = fsck_read(c, blk, &b, &crc_ok))) {
			if (fsck_fatal(err))
				return err;
			snprintf(why, sizeof(why), "block %llu: %s", (unsigned long long)blk,
				 daxfs_errormsg());
			break;
		}
		if (dfs_extent_block_parse(b->data, s->ino, sb->data_start, sb->total_blocks, blk_ext,
					   &count, &next)) {
			snprintf(why, sizeof(why), "block %llu: %s", (unsigned long long)blk,
				 daxfs_errormsg());
			break;
		}
		if (s->next && blk_ext[0].lblk < s->ext[s->next - 1].lblk + s->ext[s->next - 1].len) {
			snprintf(why, sizeof(why), "block %llu: extents out of order",
				 (unsigned long long)blk);
			break;
		}
		if (!crc_ok) {
			fsck_note(nt, PREEN_OK, "inode %llu: extent block %llu checksum mismatch; its extents check "
				 "out: rewrite it", (unsigned long long)s->ino, (unsigned long long)blk);
			s->relayout = true;
		}
		memcpy(&s->ext[s->next], blk_ext, count * sizeof(*blk_ext));
		s->next += count;
		s->chain[s->nchain++] = blk;
		blk = next;
	}
	if (!why[0] && blk)
		snprintf(why, sizeof(why), "the chain goes on past %u extents", s->d.nextents);
	if (!why[0] && s->next != s->d.nextents)
		snprintf(why, sizeof(why), "its count is %u, the chain holds %zu", s->d.nextents, s->next);
	if (why[0]) {
		fsck_note(nt, PREEN_ASK, "inode %llu: extent map is damaged (%s): keep its first %zu extents",
			 (unsigned long long)s->ino, why, s->next);
		s->relayout = true;
	}
	return 0;
}

/* What the type asks of the map; *clear if nothing can be kept. */
static int type_checks(struct fsck *c, struct salvage *s, struct fsck_notes *nt, bool *clear)
{
	const uint32_t type = s->d.mode & S_IFMT;
	uint64_t sum = 0;
	int err;

	if (fsck_being_freed(&s->d) && (type == S_IFDIR || type == S_IFLNK))
		return 0;
	if (type == S_IFDIR) {
		/* directory blocks are numbered 0..n-1: renumber what is left */
		bool ok = true;
		for (size_t i = 0; i < s->next; i++) {
			ok &= s->ext[i].lblk == sum && !(s->ext[i].flags & DFS_EXT_UNWRITTEN);
			s->ext[i].lblk = sum;
			s->ext[i].flags = 0;
			sum += s->ext[i].len;
		}
		if (!ok || s->d.size != sum * DFS_BLOCK_SIZE) {
			fsck_note(nt, PREEN_ASK, "directory %llu: size %llu and its block numbers do not match its "
				 "%llu blocks: renumber them", (unsigned long long)s->ino,
				 (unsigned long long)s->d.size, (unsigned long long)sum);
			s->d.size = sum * DFS_BLOCK_SIZE;
			s->relayout = true;
		}
	} else if (type == S_IFLNK) {
		if (s->next != 1 || s->ext[0].lblk != 0 || s->ext[0].len != 1 || s->d.size == 0 ||
		    s->d.size > DFS_SYMLINK_MAX) {
			*clear = true;
			return clear_slot(c, s->ino, "symlink %llu: bad target block or length",
					  (unsigned long long)s->ino);
		}
		struct dfs_buf *b;
		bool crc_ok;
		if ((err = fsck_read(c, s->ext[0].pblk, &b, &crc_ok))) {
			if (fsck_fatal(err))
				return err;
		} else if (!memchr(b->data, 0, s->d.size)) {
			return 0;    /* a damaged checksum or padding is rewritten later */
		}
		*clear = true;
		return clear_slot(c, s->ino, "symlink %llu: target block %llu is damaged",
				  (unsigned long long)s->ino, (unsigned long long)s->ext[0].pblk);
	} else if (type != S_IFREG && s->next) {
		fsck_note(nt, PREEN_ASK, "inode %llu: special file with data blocks: drop them",
			 (unsigned long long)s->ino);
		s->next = 0;
		s->relayout = true;
	}
	return 0;
}

static int xattr_check(struct fsck *c, struct salvage *s, struct fsck_notes *nt)
{
	const uint64_t blk = s->d.xattr_blk;
	struct dfs_buf *b;
	bool crc_ok;
	int err;

	if (!blk)
		return 0;
	const char *not_data = fsck_not_data(c, blk);
	if (not_data) {
		fsck_note(nt, PREEN_ASK, "inode %llu: xattr block %llu is %s: drop it",
			 (unsigned long long)s->ino, (unsigned long long)blk, not_data);
		s->d.xattr_blk = 0;
		return 0;
	}
	if ((err = fsck_read(c, blk, &b, &crc_ok)) ||
	    (err = dfs_xattr_block_check(b->data, s->ino))) {
		if (fsck_fatal(err))
			return err;
		fsck_note(nt, PREEN_ASK, "inode %llu: xattr block %llu is damaged (%s): drop it",
			 (unsigned long long)s->ino, (unsigned long long)blk, daxfs_errormsg());
		s->d.xattr_blk = 0;
		return 0;
	}
	if (!crc_ok) {
		/* sealed again at commit: an xattr block is its owner's alone */
		fsck_note(nt, PREEN_OK, "inode %llu: xattr block %llu checksum mismatch; its entries check out: "
			 "rewrite it", (unsigned long long)s->ino, (unsigned long long)blk);
		b->kind = DFS_BUF_SEALED;
		dfs_buf_dirty(c->fs, b);
	}
	return 0;
}

/* The inode whose checksum a slot carries, if not its own: inode table
 * blocks move whole, so the candidates sit at the same place of every other
 * block of the table (a few microseconds per thousand blocks). 0 if none. */
static uint64_t misplaced_copy(const struct fsck *c, const uint8_t *slot, uint64_t ino)
{
	for (uint64_t j = ino % DFS_INODES_PER_BLOCK; j < c->fs->itable_slots; j += DFS_INODES_PER_BLOCK)
		if (j && j != ino && dfs_dinode_crc_ok(slot, j))
			return j;
	return 0;
}

static int check_slot(struct fsck *c, struct salvage *s, uint64_t ino, uint32_t *mode);

static int recheck(struct fsck *c, uint64_t ino, uint32_t *mode)
{
	struct salvage *s = malloc(sizeof(*s));
	int err;

	if (!s)
		return daxfs_err(-ENOMEM, "fsck: out of memory");
	err = check_slot(c, s, ino, mode);
	free(s);
	return err;
}

/* Slot a (raw: araw; a 0 is the unused slot 0) holds inode b, sealed for b:
 * a table block moved. If b's own slot holds a's inode, the two go back
 * (and a is checked again; b comes later, or already found the pair); if
 * b's slot is empty, a's goes there. 1 if neither: a is cleared. */
static int put_back(struct fsck *c, uint64_t a, uint64_t b, const uint8_t *araw, uint32_t *mode)
{
	static const struct dfs_dinode none;
	struct dfs *fs = c->fs;
	struct dfs_buf *ba, *bb;
	uint8_t *sa, *sb, braw[DFS_INODE_SIZE];
	struct dfs_dinode d;
	uint32_t bmode;
	int err;

	if (dfs_inode_slot(fs, b, &bb, &sb))
		return 1;
	memcpy(braw, sb, sizeof(braw));
	if (a && b > a && dfs_get32(braw + DFS_INO_MODE) && dfs_dinode_crc_ok(braw, a) &&
	    !dfs_inode_slot(fs, a, &ba, &sa)) {
		memcpy(sa, braw, DFS_INODE_SIZE);
		memcpy(sb, araw, DFS_INODE_SIZE);
		dfs_buf_dirty(fs, ba);
		dfs_buf_dirty(fs, bb);
		dfs_icache_drop(fs, a);
		dfs_icache_drop(fs, b);
		fsck_problem(c, true, PREEN_ASK, "inodes %llu and %llu hold each other's slot (blocks swapped): "
			     "exchange them", (unsigned long long)a, (unsigned long long)b);
		return recheck(c, a, mode);
	}
	if (!dfs_dinode_slot_free(braw) || dfs_dinode_decode(araw, b, fs->sb.total_blocks, &d))
		return 1;
	err = dfs_inode_set_slot(fs, b, &d);
	if (!err && a)
		err = dfs_inode_set_slot(fs, a, &none);
	if (fsck_fatal(err))
		return err;
	fsck_problem(c, !err, PREEN_ASK, "inode %llu: the slot holds inode %llu, whose own slot is empty: move it "
		     "there", (unsigned long long)a, (unsigned long long)b);
	return err ? 0 : recheck(c, b, &bmode);
}

/* Slot 0 is never used and all zero: a table block that moved may have
 * left an inode there. */
static int check_slot0(struct fsck *c)
{
	struct dfs *fs = c->fs;
	struct dfs_buf *b;
	uint8_t raw[DFS_INODE_SIZE];
	uint32_t mode;
	int err;

	if ((err = dfs_txn_reserve(fs, 8)) ||
	    (err = dfs_buf_read(fs, fs->sb.itable[0].pblk, DFS_BUF_PLAIN, &b))) {
		if (fsck_fatal(err))
			return err;
		fsck_problem(c, false, PREEN_ASK, "inode table block %llu: %s",
			     (unsigned long long)fs->sb.itable[0].pblk, daxfs_errormsg());
		return 0;
	}
	memcpy(raw, b->data, sizeof(raw));
	if (dfs_dinode_slot_free(raw))
		return 0;
	memset(b->data, 0, DFS_INODE_SIZE);
	dfs_buf_dirty(fs, b);
	const uint64_t other = misplaced_copy(c, raw, 0);
	if (other && (err = put_back(c, 0, other, raw, &mode)) <= 0)
		return err;
	fsck_problem(c, true, PREEN_ASK, "inode table slot 0, never used, is not zero: clear it");
	return 0;
}

/* One slot: leaves it free or loadable. *mode: the type it ends with. */
static int check_slot(struct fsck *c, struct salvage *s, uint64_t ino, uint32_t *mode)
{
	struct dfs *fs = c->fs;
	struct fsck_notes nt = { .n = 0 };
	struct dfs_buf *b;
	uint8_t *slot, raw[DFS_INODE_SIZE];
	bool clear = false;
	int err;

	*mode = 0;
	/* room for the slot, an xattr block and a whole chain, before any block is held */
	if ((err = dfs_txn_reserve(fs, 4 + MAX_CHAIN)) || (err = dfs_inode_slot(fs, ino, &b, &slot))) {
		if (fsck_fatal(err))
			return err;
		fsck_problem(c, false, PREEN_ASK, "inode %llu: %s", (unsigned long long)ino, daxfs_errormsg());
		return 0;
	}
	memcpy(raw, slot, sizeof(raw));
	if (dfs_dinode_slot_free(raw))
		return 0;
	const bool crc_ok = dfs_dinode_crc_ok(raw, ino);
	/* another inode's slot: nothing in it is this inode's */
	const uint64_t other = crc_ok ? 0 : misplaced_copy(c, raw, ino);
	if (other && (err = put_back(c, ino, other, raw, mode)) <= 0)
		return err;
	if (other)
		return clear_slot(c, ino, "inode %llu: the slot holds a copy of inode %llu (a block "
				  "written in the wrong place)", (unsigned long long)ino,
				  (unsigned long long)other);
	s->ino = ino;
	s->next = s->nchain = 0;
	s->relayout = false;
	if (dfs_dinode_decode_unchecked(raw, ino, fs->sb.total_blocks, &s->d))
		return clear_slot(c, ino, "%s%s", daxfs_errormsg(),
				  crc_ok ? "" : " (and a checksum mismatch)");
	if (s->d.extent_blk == 0)
		inline_map(c, s, raw, &nt);
	else if ((err = chain_map(c, s, &nt)))
		return err;
	if ((err = type_checks(c, s, &nt, &clear)) || clear)
		return err;
	if ((err = xattr_check(c, s, &nt)))
		return err;
	uint64_t sum = 0;
	for (size_t i = 0; i < s->next; i++)
		sum += s->ext[i].len;
	if (sum != s->d.blocks) {
		fsck_note(&nt, PREEN_OK, "inode %llu: block count %llu, extents map %llu", (unsigned long long)ino,
			 (unsigned long long)s->d.blocks, (unsigned long long)sum);
		s->d.blocks = sum;
	}
	if (!crc_ok) {
		/* A bit flip breaks the checksum and at most one more thing; a
		 * slot that breaks more holds garbage, and "repairing" it field
		 * by field would make garbage look like a file (e2fsck's "inode
		 * seems to contain garbage"). */
		unsigned bad = nt.n + (s->d.mode > (S_IFMT | 07777)) + (s->d.nlink > DFS_LINK_MAX) +
			       (s->d.nlink == 0 && !(s->d.flags & DFS_IFLAG_ORPHAN));
		if (bad > 1)
			return clear_slot(c, ino, "inode %llu: checksum mismatch and %u other problems "
					  "(%s): the slot holds garbage", (unsigned long long)ino, bad,
					  nt.n ? nt.msg[0] : "mode, link count");
		if (nt.n == 0)
			fsck_note(&nt, PREEN_OK, "inode %llu: checksum mismatch; the rest checks out: rewrite it",
				  (unsigned long long)ino);
	}
	*mode = s->d.mode;
	c->state[ino] = INO_USED;
	if (nt.n == 0 && !s->relayout)
		return 0;
	size_t used = 0;
	err = s->relayout ? dfs_extents_layout(fs, ino, &s->d, s->ext, s->next, s->chain, s->nchain,
					       &used) : 0;
	if (!err)
		err = dfs_inode_set_slot(fs, ino, &s->d);
	if (fsck_fatal(err))
		return err;
	fsck_report_notes(c, &nt, !err);
	return 0;
}

static int make_root(struct fsck *c, uint32_t mode)
{
	struct dfs_dinode d = { .mode = S_IFDIR | 0755, .nlink = 2, .parent = DFS_ROOT_INO };
	int err;

	if (c->state[DFS_ROOT_INO] == INO_USED &&
	    (err = clear_slot(c, DFS_ROOT_INO, "root inode %llu is not a directory (mode %o)",
			      (unsigned long long)DFS_ROOT_INO, mode)))
		return err;
	dfs_now(&d.ctime);
	d.atime = d.mtime = d.crtime = d.ctime;
	if (!(err = dfs_txn_reserve(c->fs, 4)))
		err = dfs_inode_set_slot(c->fs, DFS_ROOT_INO, &d);
	if (fsck_fatal(err))
		return err;
	fsck_problem(c, !err, PREEN_ASK, "root directory is missing: make a new, empty one (what it held goes "
		     "to /lost+found)");
	c->state[DFS_ROOT_INO] = err ? INO_FREE : INO_USED;
	return 0;
}

int fsck_pass_inodes(struct fsck *c)
{
	struct salvage *s = malloc(sizeof(*s));
	uint32_t mode;
	int err;

	if (!s)
		return daxfs_err(-ENOMEM, "fsck: out of memory");
	/* the root first: everything else hangs from it */
	if (!(err = check_slot0(c)) && !(err = check_slot(c, s, DFS_ROOT_INO, &mode)) &&
	    (mode & S_IFMT) != S_IFDIR)
		err = make_root(c, mode);
	for (uint64_t ino = DFS_ROOT_INO + 1; !err && ino < c->fs->itable_slots; ino++)
		err = check_slot(c, s, ino, &mode);
	free(s);
	return err;
}

/* ---- claims and the orphan list ---- */

static int claim_inode(struct fsck *c, struct dfs_inode *ip)
{
	const uint32_t type = ip->d.mode & S_IFMT;
	const enum fsck_claim_kind kind = type == S_IFDIR ? CLAIM_DIR :
					  type == S_IFLNK ? CLAIM_SYMLINK : CLAIM_DATA;
	int err;

	for (size_t i = 0; i < ip->next; i++)
		if ((err = fsck_claim(c, kind, ip->ext[i].pblk, ip->ext[i].len, ip->ino, ip->ext[i].lblk)))
			return err;
	for (size_t i = 0; i < ip->nchain; i++)
		if ((err = fsck_claim(c, CLAIM_CHAIN, ip->chain[i], 1, ip->ino, i)))
			return err;
	if (ip->d.xattr_blk && (err = fsck_claim(c, CLAIM_XATTR, ip->d.xattr_blk, 1, ip->ino, 0)))
		return err;
	return 0;
}

/* The list must run through in-use inodes flagged orphan, without a loop,
 * and hold every flagged inode; otherwise it is linked again from what is
 * flagged (the next mount then finishes each, as after a crash). */
static int check_orphans(struct fsck *c, const uint64_t *flagged, size_t nflagged)
{
	struct dfs *fs = c->fs;
	uint64_t *list = malloc((nflagged + 1) * sizeof(*list));
	uint8_t *seen = calloc(fs->itable_slots, 1);
	size_t n = 0;
	uint64_t o = fs->sb.orphan_head;
	int err = 0;

	if (!list || !seen) {
		err = daxfs_err(-ENOMEM, "fsck: out of memory");
		goto out;
	}
	while (o) {
		struct dfs_inode *ip;

		if (o >= fs->itable_slots || c->state[o] != INO_USED || seen[o] || n == nflagged ||
		    dfs_iget(fs, o, &ip) || !(ip->d.flags & DFS_IFLAG_ORPHAN))
			break;
		seen[o] = 1;
		list[n++] = o;
		o = ip->d.orphan_next;
	}
	const uint64_t bad = o;
	const size_t on_list = n;
	for (size_t i = 0; i < nflagged; i++)
		if (!seen[flagged[i]])
			list[n++] = flagged[i];
	if (!bad && n == on_list)
		goto out;
	/* link them again, in this order */
	for (size_t i = 0; i < n && !err; i++) {
		struct dfs_inode *ip;

		if (!(err = dfs_txn_reserve(fs, 4)) && !(err = dfs_iget(fs, list[i], &ip))) {
			ip->d.orphan_next = i + 1 < n ? list[i + 1] : 0;
			err = dfs_inode_write(fs, ip);
		}
	}
	if (!err) {
		fs->sb.orphan_head = n ? list[0] : 0;
		err = dfs_super_dirty(fs);
	}
	if (fsck_fatal(err))
		goto out;
	if (bad)
		fsck_problem(c, !err, PREEN_OK, "orphan list is damaged at inode %llu: link it again",
			     (unsigned long long)bad);
	for (size_t i = on_list; i < n; i++)
		fsck_problem(c, !err, PREEN_OK, "inode %llu is marked orphan but is not on the orphan list: "
			     "add it", (unsigned long long)list[i]);
	err = 0;
out:
	free(list);
	free(seen);
	return err;
}

static int by_block(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return x[0] != y[0] ? (x[0] < y[0] ? -1 : 1) : (x[1] < y[1] ? -1 : x[1] > y[1]);
}

/* The fixed metadata, the member table, and each label block once (two
 * labels share a block only on a table that is not page-aligned: the lower
 * member owns it). */
static int claim_fixed(struct fsck *c)
{
	const struct dfs_super *sb = &c->fs->sb;
	const uint64_t mtab = sb->gdt_start + sb->gdt_blocks;
	uint64_t *lab = malloc(2 * sb->nmembers * sizeof(*lab));
	int err;

	if (!lab)
		return daxfs_err(-ENOMEM, "fsck: out of memory");
	for (uint32_t k = 0; k < sb->nmembers; k++) {
		lab[2 * k] = c->fs->members[k].label_sector >> 3;
		lab[2 * k + 1] = k;
	}
	qsort(lab, sb->nmembers, 2 * sizeof(*lab), by_block);
	err = fsck_claim(c, CLAIM_FIXED, 0, mtab, 0, 0);
	if (!err)
		err = fsck_claim(c, CLAIM_MEMBERS, mtab, sb->member_blocks, 0, 0);
	for (uint32_t k = 0; k < sb->nmembers && !err; k++)
		if (k == 0 || lab[2 * k] != lab[2 * k - 2])
			err = fsck_claim(c, CLAIM_LABEL, lab[2 * k], 1, lab[2 * k + 1], 0);
	free(lab);
	return err;
}

int fsck_pass_claims(struct fsck *c)
{
	struct dfs *fs = c->fs;
	uint64_t *flagged = NULL;
	size_t nflagged = 0, cap = 0;
	int err;

	if ((err = claim_fixed(c)))
		return err;
	for (unsigned i = 0; i < fs->sb.itable_nextents; i++)
		if ((err = fsck_claim(c, CLAIM_ITABLE, fs->sb.itable[i].pblk, fs->sb.itable[i].len, 0, 0)))
			return err;
	for (uint64_t ino = 1; ino < fs->itable_slots; ino++) {
		struct dfs_inode *ip;

		if (c->state[ino] != INO_USED)
			continue;
		if ((err = dfs_iget(fs, ino, &ip))) {
			/* the inode pass leaves every slot loadable: left over */
			if (fsck_fatal(err))
				goto out;
			fsck_problem(c, false, PREEN_ASK, "inode %llu: %s", (unsigned long long)ino, daxfs_errormsg());
			c->state[ino] = INO_FREE;
			continue;
		}
		if ((err = claim_inode(c, ip)))
			goto out;
		if ((ip->d.flags & DFS_IFLAG_ORPHAN) && dfs_orphan_misfit(ip)) {
			/* the mount would release it, or cut it at its size */
			ip->d.flags &= ~(uint32_t)DFS_IFLAG_ORPHAN;
			ip->d.orphan_next = 0;
			if (!(err = dfs_txn_reserve(fs, 4)))
				err = dfs_inode_write(fs, ip);
			if (fsck_fatal(err))
				goto out;
			fsck_problem(c, !err, PREEN_ASK, "inode %llu (%s) is marked orphan, which it never "
				     "is: unmark it", (unsigned long long)ino, dfs_orphan_misfit(ip));
		}
		if (ip->d.flags & DFS_IFLAG_ORPHAN) {
			if (nflagged == cap) {
				cap = cap ? cap * 2 : 16;
				uint64_t *nf = realloc(flagged, cap * sizeof(*nf));
				if (!nf) {
					err = daxfs_err(-ENOMEM, "fsck: out of memory");
					goto out;
				}
				flagged = nf;
			}
			flagged[nflagged++] = ino;
		}
		dfs_icache_trim(fs);
	}
	/* a group with blocks in use has a bitmap, in its first free block */
	for (size_t i = 0; i < c->nclaims; i++) {
		const struct fsck_claim *cl = &c->claims[i];

		if (cl->kind < CLAIM_BITMAP)
			continue;      /* an uninitialised group accounts for these */
		for (uint64_t g = cl->start / DFS_BLOCKS_PER_GROUP;
		     g <= (cl->start + cl->len - 1) / DFS_BLOCKS_PER_GROUP; g++)
			c->needs_bitmap[g] = 1;
	}
	for (uint64_t g = 0; g < fs->sb.ngroups; g++) {
		c->needs_bitmap[g] |= fs->gds[g].bitmap_blk != 0;
		if (c->needs_bitmap[g] &&
		    (err = fsck_claim(c, CLAIM_BITMAP, dfs_group_bitmap_blk(fs, g), 1, g, 0)))
			goto out;
	}
	err = check_orphans(c, flagged, nflagged);
out:
	free(flagged);
	return err;
}
