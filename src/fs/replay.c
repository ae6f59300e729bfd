/* fs/replay.c - journal recovery at mount: find the committed transaction, check every block, redo it */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/crc32c.h"
#include "fs/internal.h"
#include "util/err.h"

/*
 * The log holds at most one transaction, S, the header's sequence. It is
 * redone only if its commit record is intact, the record's count and crc
 * match the logged blocks, and every logged block passes the check of the
 * structure it belongs to at home (FORMAT.md keeps the home block's own
 * checksum in the journal copy): nothing is written home before all of that
 * holds. A log that simply ends (no commit record for S anywhere) is a
 * transaction that never committed and is ignored, as jbd2 does. A log
 * whose commit record exists but whose blocks do not match it, or that
 * breaks off on a damaged block before reaching it, is damage, not a torn
 * write: the commit record is written only after the whole log is flushed.
 * A mount refuses such a journal (ext4's "journal checksum error"); fsck's
 * mount drops the transaction and says so.
 *
 * A read-only mount redoes the log into the buffer cache only (the blocks
 * stay cached, pinned), so it never writes; the next read-write mount redoes
 * it again. The header is rewritten in place, and pmem makes only aligned
 * 8-byte stores atomic, so a power loss during that write can leave a header
 * that fails its crc. That write comes only after the log's transaction S is
 * checkpointed and flushed, and the next transaction is logged only after
 * it, so the log still starts with a block of S naming S and the uuid;
 * redoing S again is harmless (whole blocks), and the header the write was
 * leaving, S+1, follows: recovery does exactly that rather than refusing.
 */

struct jlog {
	uint64_t seq;
	uint64_t n;                /* logged blocks */
	uint64_t *home;            /* per logged block: its home */
	uint8_t *data;             /* the logged blocks, n x 4096 */
	size_t cap;
	bool committed;            /* a commit record of seq is in the log */
	char why[256];             /* not "": the transaction is damaged */
};

static void jlog_free(struct jlog *jl)
{
	free(jl->home);
	free(jl->data);
}

static void damaged(struct jlog *jl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void damaged(struct jlog *jl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(jl->why, sizeof(jl->why), fmt, ap);
	va_end(ap);
}

/* preen: the repair is one a mount makes too (fsck -p makes it without asking) */
static void note(struct dfs *fs, bool preen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void note(struct dfs *fs, bool preen, const char *fmt, ...)
{
	va_list ap;

	if (fs->nfsck_notes == DFS_FSCK_NOTES)
		return;
	fs->fsck_notes_preen[fs->nfsck_notes] = preen;
	va_start(ap, fmt);
	vsnprintf(fs->fsck_notes[fs->nfsck_notes++], sizeof(fs->fsck_notes[0]), fmt, ap);
	va_end(ap);
}

static uint64_t jcapacity(uint64_t jblocks)
{
	uint64_t room = jblocks - 2;    /* header, commit record */

	return room - (room + DFS_JDESC_MAX) / (DFS_JDESC_MAX + 1);
}

int dfs_journal_format(struct mapped_device *md, const struct dfs_super *sb, uint64_t seq)
{
	uint8_t *b = malloc(DFS_BLOCK_SIZE);
	int err;

	if (!b)
		return daxfs_err(-ENOMEM, "journal: out of memory");
	dfs_jhead_encode(sb->uuid, sb->journal_start, seq, b);
	err = dm_submit_bio(md, DAX_REQ_WRITE, DM_BIO_FUA, sb->journal_start << DFS_BLOCK_SHIFT, b,
			    DFS_BLOCK_SIZE);
	free(b);
	return err;
}

/* When the header is damaged: the sequence of the transaction the log holds,
 * from its first block (a descriptor or commit record of this filesystem),
 * which recovery redoes before going on with seq + 1 (see above). */
static int journal_log_seq(struct mapped_device *md, const struct dfs_super *sb, uint64_t *seq)
{
	const uint64_t blk = sb->journal_start + 1;
	uint8_t *b = malloc(DFS_BLOCK_SIZE);
	int err;

	if (!b)
		return daxfs_err(-ENOMEM, "journal: out of memory");
	err = dm_submit_bio(md, DAX_REQ_READ, 0, blk << DFS_BLOCK_SHIFT, b, DFS_BLOCK_SIZE);
	if (!err) {
		if (dfs_jblock_ok(b, blk, DFS_MAGIC_JDESC, sb->uuid, 0) ||
		    dfs_jblock_ok(b, blk, DFS_MAGIC_JCOMMIT, sb->uuid, 0))
			*seq = dfs_get64(b + DFS_JBLK_SEQ);
		else
			err = daxfs_err(-EIO, "journal header (block %llu) is damaged and the log "
					"holds no transaction of this filesystem to recover it from",
					(unsigned long long)sb->journal_start);
	}
	free(b);
	return err;
}

/* Past every sequence a block of this filesystem in the journal names: a
 * header written with it can never make a stale log look live. */
static int journal_next_free_seq(struct dfs *fs, uint8_t *b, uint64_t *seq)
{
	const uint64_t js = fs->sb.journal_start;
	uint64_t top = 0;
	int err;

	for (uint64_t blk = js; blk < js + fs->sb.journal_blocks; blk++) {
		if ((err = dfs_dev_read(fs, blk, b, 1)))
			return err;
		if (dfs_jblock_ok(b, blk, DFS_MAGIC_JHEAD, fs->sb.uuid, 0) ||
		    dfs_jblock_ok(b, blk, DFS_MAGIC_JDESC, fs->sb.uuid, 0) ||
		    dfs_jblock_ok(b, blk, DFS_MAGIC_JCOMMIT, fs->sb.uuid, 0))
			top = dfs_get64(b + DFS_JBLK_SEQ) > top ? dfs_get64(b + DFS_JBLK_SEQ) : top;
	}
	*seq = top + 1 ? top + 1 : 1;
	return 0;
}

/* Whether a commit record of seq lies in [from, end of the journal). */
static int commit_record_after(struct dfs *fs, uint64_t from, uint64_t seq, uint8_t *b, bool *found)
{
	const uint64_t jend = fs->sb.journal_start + fs->sb.journal_blocks;
	int err;

	*found = false;
	for (uint64_t blk = from; blk < jend && !*found; blk++) {
		if ((err = dfs_dev_read(fs, blk, b, 1)))
			return err;
		*found = dfs_jblock_ok(b, blk, DFS_MAGIC_JCOMMIT, fs->sb.uuid, seq);
	}
	return 0;
}

static int jlog_grow(struct jlog *jl, uint64_t need)
{
	if (need <= jl->cap)
		return 0;
	size_t ncap = jl->cap ? jl->cap : 64;
	while (ncap < need)
		ncap *= 2;
	uint64_t *nh = realloc(jl->home, ncap * sizeof(*nh));
	if (nh)
		jl->home = nh;
	uint8_t *nd = nh ? realloc(jl->data, ncap * DFS_BLOCK_SIZE) : NULL;
	if (!nd)
		return daxfs_err(-ENOMEM, "journal: out of memory");
	jl->data = nd;
	jl->cap = ncap;
	return 0;
}

/* Why h can never be a logged block's home, or NULL: the journal itself,
 * and the member table and labels (never logged: they are written in place,
 * by mkfs and fsck only), are not this filesystem's to redo. */
static const char *not_a_home(const struct dfs *fs, uint64_t h)
{
	const uint64_t js = fs->sb.journal_start, mtab = fs->sb.gdt_start + fs->sb.gdt_blocks;

	if (h >= fs->sb.total_blocks)
		return "outside the filesystem";
	if (h >= js && h < js + fs->sb.journal_blocks)
		return "in the journal";
	if (h >= mtab && h < fs->sb.data_start)
		return "in the member table";
	if (dfs_is_member_block(fs, h))
		return "a member label's block";
	return NULL;
}

/* Walks transaction jl->seq: descriptors and their blocks up to its commit
 * record. Leaves jl committed, damaged (why), or neither (a torn or stale log). */
static int log_walk(struct dfs *fs, struct jlog *jl)
{
	const uint64_t js = fs->sb.journal_start, jend = js + fs->sb.journal_blocks;
	uint8_t *d = malloc(DFS_BLOCK_SIZE);
	uint32_t crc = CRC32C_INIT;
	uint64_t pos = js + 1, bad_home = 0;
	const char *bad_why = NULL;
	int err = 0;

	if (!d)
		return daxfs_err(-ENOMEM, "journal: out of memory");
	while (pos < jend) {
		if ((err = dfs_dev_read(fs, pos, d, 1)))
			goto out;
		if (dfs_jblock_ok(d, pos, DFS_MAGIC_JCOMMIT, fs->sb.uuid, jl->seq)) {
			jl->committed = true;
			if (dfs_get64(d + DFS_JCOMMIT_NBLOCKS) != jl->n)
				damaged(jl, "its commit record (block %llu) counts %llu blocks, the log "
					"holds %llu", (unsigned long long)pos,
					(unsigned long long)dfs_get64(d + DFS_JCOMMIT_NBLOCKS), (unsigned long long)jl->n);
			else if (dfs_get32(d + DFS_JCOMMIT_DATA_CRC) != crc32c_final(crc))
				damaged(jl, "its logged blocks do not match the checksum of its commit "
					"record (block %llu)", (unsigned long long)pos);
			goto out;
		}
		if (!dfs_jblock_ok(d, pos, DFS_MAGIC_JDESC, fs->sb.uuid, jl->seq))
			break;
		uint32_t count = dfs_get32(d + DFS_JDESC_COUNT);
		if (count == 0 || count > DFS_JDESC_MAX || pos + 1 + count >= jend ||
		    jl->n + count > fs->jcap)
			break;
		if ((err = jlog_grow(jl, jl->n + count)))
			goto out;
		for (uint32_t i = 0; i < count; i++) {
			uint64_t h = dfs_get64(d + DFS_JDESC_HDR + 8 * i);

			if ((bad_why = not_a_home(fs, h))) {
				bad_home = h;
				goto broken;
			}
			jl->home[jl->n + i] = h;
		}
		if ((err = dfs_dev_read(fs, pos + 1, jl->data + jl->n * DFS_BLOCK_SIZE, count)))
			goto out;
		crc = crc32c_update(crc, jl->data + jl->n * DFS_BLOCK_SIZE, (size_t)count * DFS_BLOCK_SIZE);
		jl->n += count;
		pos += 1 + count;
	}
broken:
	/* The log ends before a commit record: a torn write if the transaction
	 * never committed, damage if its commit record is further on. A block
	 * of another transaction of this filesystem ends a stale log: no scan. */
	if (pos < jend && !dfs_jblock_ok(d, pos, DFS_MAGIC_JDESC, fs->sb.uuid, 0) &&
	    !dfs_jblock_ok(d, pos, DFS_MAGIC_JCOMMIT, fs->sb.uuid, 0)) {
		bool found;

		if ((err = commit_record_after(fs, pos + 1, jl->seq, d, &found)))
			goto out;
		if (found) {
			jl->committed = true;
			damaged(jl, "its log is damaged at block %llu before its commit record",
				(unsigned long long)pos);
		}
	} else if (pos < jend && dfs_jblock_ok(d, pos, DFS_MAGIC_JDESC, fs->sb.uuid, jl->seq)) {
		/* a descriptor of this transaction that the walk could not follow */
		bool found;

		if ((err = commit_record_after(fs, pos + 1, jl->seq, d, &found)))
			goto out;
		if (found) {
			jl->committed = true;
			if (bad_why)
				damaged(jl, "its descriptor at block %llu names block %llu as a home, "
					"which is %s", (unsigned long long)pos,
					(unsigned long long)bad_home, bad_why);
			else
				damaged(jl, "its descriptor at block %llu has a block count the log "
					"cannot hold", (unsigned long long)pos);
		}
	}
out:
	free(d);
	return err;
}

/* ---- checking each logged block as the structure it is at home ---- */

static bool in_itable(const struct dfs_super *sb, uint64_t h, uint64_t *first_ino)
{
	uint64_t lblk = 0;

	for (unsigned i = 0; i < sb->itable_nextents; i++) {
		if (h >= sb->itable[i].pblk && h - sb->itable[i].pblk < sb->itable[i].len) {
			*first_ino = (lblk + h - sb->itable[i].pblk) * DFS_INODES_PER_BLOCK;
			return true;
		}
		lblk += sb->itable[i].len;
	}
	return false;
}

static const uint8_t *logged_copy(const struct jlog *jl, uint64_t h)
{
	for (uint64_t i = 0; i < jl->n; i++)
		if (jl->home[i] == h)
			return jl->data + i * DFS_BLOCK_SIZE;
	return NULL;
}

/* Group g's descriptor as the transaction leaves it: logged, or on media.
 * false if neither decodes (its bitmap cannot be checked then). */
static bool group_desc(struct dfs *fs, const struct dfs_super *sb, const struct jlog *jl,
		       uint64_t g, uint8_t *scratch, struct dfs_gd *gd)
{
	const uint64_t blk = sb->gdt_start + g / DFS_GD_PER_BLOCK;
	const uint8_t *b = logged_copy(jl, blk);

	if (!b) {
		if (dfs_dev_read(fs, blk, scratch, 1))
			return false;
		b = scratch;
	}
	return dfs_gd_decode(b + (g % DFS_GD_PER_BLOCK) * DFS_GD_SIZE, g, sb->total_blocks, gd) == 0;
}

/* What a home block is, by where it is (FORMAT.md "Layout"), for sb. */
enum home_kind { HOME_SUPER, HOME_GDT, HOME_ITABLE, HOME_BITMAP, HOME_SEALED };

static enum home_kind home_kind(const struct dfs *fs, const struct dfs_super *sb, uint64_t h,
				uint64_t *first_ino)
{
	if (h == DFS_SB_PRIMARY || h == DFS_SB_BACKUP)
		return HOME_SUPER;
	if (h >= sb->gdt_start && h < sb->gdt_start + sb->gdt_blocks)
		return HOME_GDT;
	if (in_itable(sb, h, first_ino))
		return HOME_ITABLE;
	/* a group's bitmap lives in its first free block, nowhere else */
	if (h == dfs_group_bitmap_blk(fs, h / DFS_BLOCKS_PER_GROUP))
		return HOME_BITMAP;
	return HOME_SEALED;    /* directory, extent, xattr and symlink blocks */
}

/*
 * A logged superblock may change what a transaction changes (state, times,
 * counts, the orphan list, the label, the inode table grown by extents at
 * its end) and nothing of the geometry everything else was read with: its
 * crc vouches only for what was written. The field that differs, or NULL.
 */
static const char *super_geometry_changed(const struct dfs_super *home, const struct dfs_super *l)
{
	if (l->major != home->major)
		return "version";
	if (l->total_blocks != home->total_blocks || l->fingerprint != home->fingerprint)
		return "size or table fingerprint";
	if (l->journal_start != home->journal_start || l->journal_blocks != home->journal_blocks ||
	    l->gdt_start != home->gdt_start || l->gdt_blocks != home->gdt_blocks ||
	    l->blocks_per_group != home->blocks_per_group || l->ngroups != home->ngroups ||
	    l->data_start != home->data_start)
		return "layout";
	if (l->nmembers != home->nmembers || l->member_blocks != home->member_blocks)
		return "member count";
	if (l->mkfs_time != home->mkfs_time)
		return "creation time";
	/* the table grows and shrinks at its end only */
	const unsigned common = l->itable_nextents < home->itable_nextents ? l->itable_nextents
									     : home->itable_nextents;
	for (unsigned i = 0; i < common; i++)
		if (l->itable[i].pblk != home->itable[i].pblk || l->itable[i].len != home->itable[i].len)
			return "inode table extents (a table changes at its end only)";
	return NULL;
}

/* Checks logged block i against its home; sets jl->why if it fails. */
static void check_logged(struct dfs *fs, struct jlog *jl, const struct dfs_super *sb, uint64_t i,
			 uint8_t *scratch)
{
	const uint64_t h = jl->home[i];
	const uint8_t *b = jl->data + i * DFS_BLOCK_SIZE;
	uint64_t ino0 = 0;
	const char *changed;
	struct dfs_super lsb;
	struct dfs_dinode di;
	struct dfs_gd gd;

	switch (home_kind(fs, sb, h, &ino0)) {
	case HOME_SUPER:
		if (dfs_super_decode(b, h, &lsb))
			damaged(jl, "its copy of superblock %llu fails its check (%s)",
				(unsigned long long)h, daxfs_errormsg());
		else if (memcmp(lsb.uuid, fs->sb.uuid, 16) || lsb.total_blocks != fs->sb.total_blocks)
			damaged(jl, "its copy of superblock %llu belongs to another filesystem",
				(unsigned long long)h);
		else if ((changed = super_geometry_changed(&fs->sb, &lsb)))
			damaged(jl, "its copy of superblock %llu changes the %s", (unsigned long long)h,
				changed);
		else if (dfs_itable_check_layout(fs, &lsb))
			damaged(jl, "its copy of superblock %llu: %s", (unsigned long long)h,
				daxfs_errormsg());
		break;
	case HOME_GDT:
		for (uint64_t k = 0; k < DFS_GD_PER_BLOCK; k++) {
			uint64_t g = (h - sb->gdt_start) * DFS_GD_PER_BLOCK + k;

			if (g >= sb->ngroups)
				break;
			if (dfs_gd_decode(b + k * DFS_GD_SIZE, g, sb->total_blocks, &gd)) {
				damaged(jl, "its copy of group descriptor block %llu fails its check (%s)",
					(unsigned long long)h, daxfs_errormsg());
				return;
			}
		}
		break;
	case HOME_ITABLE:
		for (uint64_t k = 0; k < DFS_INODES_PER_BLOCK; k++)
			if (ino0 + k && dfs_dinode_decode(b + k * DFS_INODE_SIZE, ino0 + k,
							  sb->total_blocks, &di)) {
				damaged(jl, "its copy of inode table block %llu fails its check (%s)",
					(unsigned long long)h, daxfs_errormsg());
				return;
			}
		break;
	case HOME_BITMAP:
		/* checked against the descriptor the transaction leaves, if it decodes */
		if (group_desc(fs, sb, jl, h / DFS_BLOCKS_PER_GROUP, scratch, &gd) &&
		    gd.bitmap_blk == h && crc32c(b, DFS_BLOCK_SIZE) != gd.bitmap_crc)
			damaged(jl, "its copy of bitmap block %llu does not match its group descriptor",
				(unsigned long long)h);
		break;
	case HOME_SEALED:
		if (!dfs_block_crc_ok(h, b))
			damaged(jl, "its copy of block %llu fails its checksum", (unsigned long long)h);
		break;
	}
}

/* A table the transaction shrank (to l's) gives back only blocks whose slots
 * are free as the transaction leaves them: logged, or on media. */
static void check_given_back(struct dfs *fs, struct jlog *jl, const struct dfs_super *l,
			     uint8_t *scratch)
{
	for (unsigned j = l->itable_nextents; j < fs->sb.itable_nextents; j++)
		for (uint32_t b = 0; b < fs->sb.itable[j].len; b++) {
			const uint64_t blk = fs->sb.itable[j].pblk + b;
			const uint8_t *p = logged_copy(jl, blk);

			if (!p && dfs_dev_read(fs, blk, scratch, 1) == 0)
				p = scratch;
			for (unsigned k = 0; p && k < DFS_INODES_PER_BLOCK; k++)
				if (!dfs_dinode_slot_free(p + k * DFS_INODE_SIZE))
					p = NULL;
			if (!p) {
				damaged(jl, "its copy of the superblock gives back inode table block %llu, "
					"which holds an inode or cannot be read", (unsigned long long)blk);
				return;
			}
		}
}

static void check_all_logged(struct dfs *fs, struct jlog *jl)
{
	const uint8_t *sbcopy = logged_copy(jl, DFS_SB_PRIMARY);
	uint8_t *scratch = malloc(DFS_BLOCK_SIZE);
	struct dfs_super sb = fs->sb;

	if (!scratch) {
		damaged(jl, "out of memory checking it");
		return;
	}
	/* the geometry the transaction leaves: it may grow the inode table
	 * (a copy that changes more fails its own check below) */
	if (sbcopy && (dfs_super_decode(sbcopy, DFS_SB_PRIMARY, &sb) ||
		       super_geometry_changed(&fs->sb, &sb) || dfs_itable_check_layout(fs, &sb)))
		sb = fs->sb;
	/* a table that shrank in this transaction: the slots it cleared before
	 * giving the extent back are logged too, as inode table blocks */
	if (sb.itable_nextents < fs->sb.itable_nextents) {
		check_given_back(fs, jl, &sb, scratch);
		sb.itable_nextents = fs->sb.itable_nextents;
		memcpy(sb.itable, fs->sb.itable, sizeof(sb.itable));
	}
	for (uint64_t i = 0; i < jl->n && !jl->why[0]; i++)
		check_logged(fs, jl, &sb, i, scratch);
	free(scratch);
}

/* ---- redoing ---- */

static int write_header(struct dfs *fs, uint64_t seq, uint8_t *b)
{
	dfs_jhead_encode(fs->sb.uuid, fs->sb.journal_start, seq, b);
	return dfs_dev_write(fs, fs->sb.journal_start, b, 1, true);
}

/* A read-only mount and fsck -n redo the log into the cache only, each
 * block as the kind of buffer it is at home. */
static int redo_in_cache(struct dfs *fs, const struct jlog *jl)
{
	static const enum dfs_buf_kind kinds[] = {
		[HOME_SUPER] = DFS_BUF_SUPER, [HOME_GDT] = DFS_BUF_PLAIN,
		[HOME_ITABLE] = DFS_BUF_PLAIN, [HOME_BITMAP] = DFS_BUF_BITMAP,
		[HOME_SEALED] = DFS_BUF_SEALED,
	};

	for (uint64_t i = 0; i < jl->n; i++) {
		const uint8_t *b = jl->data + i * DFS_BLOCK_SIZE;
		struct dfs_buf *cb;
		uint64_t ino0;
		int err;

		if ((err = dfs_buf_new(fs, jl->home[i], kinds[home_kind(fs, &fs->sb, jl->home[i], &ino0)],
				       &cb)))
			return err;
		memcpy(cb->data, b, DFS_BLOCK_SIZE);
		cb->pinned = true;
	}
	return 0;
}

static int redo_home(struct dfs *fs, const struct jlog *jl, uint8_t *b)
{
	int err;

	for (uint64_t i = 0; i < jl->n; i++) {
		const uint8_t *d = jl->data + i * DFS_BLOCK_SIZE;

		if ((err = dfs_dev_write(fs, jl->home[i], d, 1, false)))
			return err;
		if (jl->home[i] == DFS_SB_PRIMARY) {
			/* the backup is the primary sealed for block 1 */
			memcpy(b, d, DFS_BLOCK_SIZE);
			dfs_block_seal(DFS_SB_BACKUP, b);
			if ((err = dfs_dev_write(fs, DFS_SB_BACKUP, b, 1, false)))
				return err;
		}
	}
	if ((err = dfs_dev_flush(fs)))
		return err;
	return write_header(fs, jl->seq + 1, b);
}

static void set_seq(struct dfs *fs, uint64_t next)
{
	fs->jseq = fs->running_tid = next;
	fs->committed_tid = next - 1;
}

int dfs_journal_recover(struct dfs *fs)
{
	const uint64_t js = fs->sb.journal_start;
	uint8_t *b = malloc(DFS_BLOCK_SIZE);
	struct jlog jl = { 0 };
	int err;

	fs->jcap = jcapacity(fs->sb.journal_blocks);
	if (!b)
		return daxfs_err(-ENOMEM, "journal: out of memory");
	if ((err = dfs_dev_read(fs, js, b, 1)))
		goto out;
	/* a damaged header was being advanced past the log's transaction */
	const bool head_torn = !dfs_jblock_ok(b, js, DFS_MAGIC_JHEAD, fs->sb.uuid, 0);
	if (!head_torn) {
		jl.seq = dfs_get64(b + DFS_JBLK_SEQ);
	} else if ((err = journal_log_seq(fs->md, &fs->sb, &jl.seq))) {
		if (!fs->fsck_mount)
			goto out;
		/* fsck: start the journal afresh past every sequence in it */
		note(fs, false, "journal header (block %llu) is damaged", (unsigned long long)js);
		if ((err = journal_next_free_seq(fs, b, &jl.seq)) ||
		    (!fs->rdonly && (err = write_header(fs, jl.seq, b))))
			goto out;
		set_seq(fs, jl.seq);
		goto out;
	}
	set_seq(fs, jl.seq);
	if ((err = log_walk(fs, &jl)))
		goto out;
	if (jl.committed && !jl.why[0])
		check_all_logged(fs, &jl);
	if (head_torn)
		note(fs, true, "journal header (block %llu) is damaged; recovered from the log (transaction "
		     "%llu)", (unsigned long long)js, (unsigned long long)jl.seq);
	if (jl.why[0]) {
		if (!fs->fsck_mount) {
			err = daxfs_err(-EIO, "journal checksum error: transaction %llu cannot be "
					"replayed: %s", (unsigned long long)jl.seq, jl.why);
			goto out;
		}
		note(fs, false, "journal checksum error: transaction %llu is not replayed: %s",
		     (unsigned long long)jl.seq, jl.why);
		jl.committed = false;
	}
	if (!jl.committed) {
		/* nothing to redo; a torn header must be whole before the next commit */
		if ((head_torn || jl.why[0]) && !fs->rdonly && (err = write_header(fs, jl.seq + 1, b)))
			goto out;
		if (head_torn || jl.why[0])
			set_seq(fs, jl.seq + 1);
		goto out;
	}
	const uint8_t *sbcopy = logged_copy(&jl, DFS_SB_PRIMARY);
	if (sbcopy && (err = dfs_super_decode(sbcopy, DFS_SB_PRIMARY, &fs->sb)))
		goto out;
	err = fs->rdonly ? redo_in_cache(fs, &jl) : redo_home(fs, &jl, b);
	if (!err)
		set_seq(fs, jl.seq + 1);
out:
	jlog_free(&jl);
	free(b);
	return err;
}
