/* fs/fsck_member.c - fsck over the members: the member table and the labels, each repaired from the other */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fsck.h"
#include "util/err.h"

/*
 * fsck reads nothing else through a table before it knows the table holds
 * the filesystem's members where they were made (member.c): a repair through
 * files in another order would write into the wrong files. Each member's
 * entry is kept twice, in the member table and in the member's label, so
 * damage to one copy is repaired from the other:
 *
 * - a member table block that fails its checks is rebuilt from the labels of
 *   its members, read where mkfs puts them on this table; each must decode,
 *   name this filesystem and its own index, and record the geometry the table
 *   gives it. A label damaged too serves when its entry is byte for byte the
 *   one in the damaged block (copies_agree). Anything else (a label of
 *   another member: files in another order) leaves the block unrepairable,
 *   and fsck stops.
 * - a label that does not decode but still shows whose it was (its member
 *   uuid, or the label magic with its index and the filesystem's uuid; for
 *   member 0 also the filesystem's superblock beside it) is written again
 *   from the member table. A label of another member or filesystem is a
 *   member out of place; a label gone without a trace (zeroed, overwritten
 *   whole) cannot be told from another file in the member's place: both stop
 *   fsck (exit 8), and nothing is ever reordered.
 *
 * These blocks are never logged: -y writes each repair at once, in place
 * (rewriting known bytes, so an interrupted repair is simply made again);
 * -n only reports it and goes on with the members as repaired in memory.
 */

static bool same_geometry(const struct dfs_member *a, const struct dfs_member *b)
{
	return a->target == b->target && a->stripe == b->stripe && a->nstripes == b->nstripes &&
	       a->target_begin == b->target_begin && a->target_len == b->target_len &&
	       a->chunk == b->chunk && a->offset == b->offset && a->length == b->length &&
	       a->label_sector == b->label_sector && a->label_offset == b->label_offset;
}

/*
 * Both copies damaged: a label whose crc fails still gives entry j when its
 * 96 bytes are those of the entry in the damaged table block (whose header
 * still says it holds j), and they name j, this filesystem and the place the
 * table gives it: damage to either copy lay outside the entry (an unused
 * slot, reserved bytes), since it would not leave two copies alike. The
 * label is then written again (dfs_members_verify finds it damaged).
 */
static bool copies_agree(const uint8_t *sector, const uint8_t *block, uint32_t k, uint32_t j,
			 uint32_t count, struct dfs_label *l)
{
	const uint32_t first = k * DFS_MTAB_PER_BLOCK;

	return block && dfs_get32(block + DFS_BLK_MAGIC) == DFS_MAGIC_MTAB &&
	       dfs_get32(block + DFS_MTAB_FIRST) == first &&
	       dfs_get32(block + DFS_MTAB_COUNT) == count &&
	       memcmp(sector + DFS_LABEL_ENTRY, block + DFS_MTAB_HDR + (j - first) * DFS_MEMBER_SIZE,
		      DFS_MEMBER_SIZE) == 0 &&
	       dfs_label_decode_unsealed(sector, l) == 0;
}

/* Entry j from its member's label, where plan says the label is; block: the
 * failed table block k that should hold it, count entries (or NULL). */
static int entry_from_label(struct dm_table *t, const struct dfs_super *sb,
			    const struct dfs_member *plan, uint32_t j, const uint8_t *block,
			    uint32_t k, uint32_t count, struct dfs_member *out)
{
	uint8_t sector[DFS_LABEL_SIZE];
	struct dfs_label l;
	struct dm_member dm;
	char uuid[37];
	int err;

	dm_table_get_member(t, j, &dm);
	if ((err = dm_table_member_read(t, j, plan[j].label_offset << 9, sector, sizeof(sector))) ||
	    ((err = dfs_label_decode(sector, &l)) &&
	     !(err == -EIO && copies_agree(sector, block, k, j, count, &l))))
		return daxfs_err_prefix(err, "%s, member %u", dm.path, j);
	dfs_uuid_text(l.fs_uuid, uuid);
	if (memcmp(l.fs_uuid, sb->uuid, 16) || l.index != j || l.nmembers != sb->nmembers)
		return daxfs_err(-EINVAL, "%s holds member %u of %u of filesystem %s, expected member %u",
				 dm.path, l.index, l.nmembers, uuid, j);
	if (!same_geometry(&l.m, &plan[j]))
		return daxfs_err(-EINVAL, "%s, member %u: its label records another place than this "
				 "table gives it", dm.path, j);
	*out = l.m;
	return 0;
}

/* Member table block k failed (why): its entries from the labels. */
static int rebuild_block(struct dm_table *t, const struct dfs_super *sb, uint32_t k,
			 const struct dfs_member *plan, struct dfs_member *m, const char *why)
{
	const uint32_t first = k * DFS_MTAB_PER_BLOCK;
	const uint32_t end = sb->nmembers - first < DFS_MTAB_PER_BLOCK ? sb->nmembers :
			     first + DFS_MTAB_PER_BLOCK;
	const uint64_t blk = sb->gdt_start + sb->gdt_blocks + k;
	uint8_t *block = malloc(DFS_BLOCK_SIZE);
	int err = 0;

	/* the damaged copy, for labels damaged too (copies_agree) */
	if (block && dm_table_read(t, blk << DFS_BLOCK_SHIFT, block, DFS_BLOCK_SIZE)) {
		free(block);
		block = NULL;
	}
	for (uint32_t j = first; j < end && !err; j++)
		if ((err = entry_from_label(t, sb, plan, j, block, k, end - first, &m[j])))
			err = daxfs_err_prefix(err, "%s, and the labels of its members cannot "
					       "replace it", why);
	free(block);
	return err;
}

/*
 * A block that passes every check of its own may still hold a wrong entry
 * (damage resealed, or written so): entry j is wrong when member j's label,
 * sound and in the place this table gives it (entry_from_label), carries the
 * entry's member uuid and otherwise differs from it. Files in another order
 * never look so: their labels name other indexes. The block is then rebuilt
 * from the labels as a failed one is.
 */
static bool label_contradicts(struct dm_table *t, const struct dfs_super *sb,
			      const struct dfs_member *plan, const struct dfs_member *m, uint32_t j)
{
	struct dfs_member l;

	return entry_from_label(t, sb, plan, j, NULL, 0, 0, &l) == 0 &&
	       memcmp(l.uuid, m[j].uuid, 16) == 0 && !dfs_member_equal(&l, &m[j]);
}

/* The member table through t, its damaged blocks (bad[k], why[k]) rebuilt. */
static int read_table(struct dm_table *t, const struct dfs_super *sb, struct dfs_member *m,
		      uint8_t *bad, char (*why)[256])
{
	uint8_t *b = malloc(DFS_BLOCK_SIZE);
	struct dfs_member *plan = NULL;
	bool any = false;
	int err = 0;

	if (!b)
		return daxfs_err(-ENOMEM, "fsck: out of memory");
	for (uint32_t k = 0; k < sb->member_blocks && !err; k++) {
		const uint64_t blk = sb->gdt_start + sb->gdt_blocks + k;

		if ((err = dm_table_read(t, blk << DFS_BLOCK_SHIFT, b, DFS_BLOCK_SIZE)))
			break;
		if (dfs_mtab_decode(b, blk, k * DFS_MTAB_PER_BLOCK, sb->nmembers, m)) {
			snprintf(why[k], sizeof(why[k]), "%s", daxfs_errormsg());
			bad[k] = 1;
			any = true;
		}
	}
	if (!err && dm_table_num_members(t) == sb->nmembers &&
	    (plan = calloc(sb->nmembers, sizeof(*plan))) && dfs_members_plan(t, sb, plan) == 0)
		for (uint32_t j = 0; j < sb->nmembers; j++) {
			const uint32_t k = j / DFS_MTAB_PER_BLOCK;

			if (bad[k] || !label_contradicts(t, sb, plan, m, j))
				continue;
			snprintf(why[k], sizeof(why[k]), "member table block %llu: the entry of member "
				 "%u differs from the member's label, which matches this table",
				 (unsigned long long)(sb->gdt_start + sb->gdt_blocks + k), j);
			bad[k] = 1;
			any = true;
		}
	if (err || !any)
		goto out;
	if (dm_table_num_members(t) != sb->nmembers) {
		for (uint32_t k = 0; k < sb->member_blocks; k++)
			if (bad[k]) {
				err = daxfs_err(-EINVAL, "%s, and its members' labels cannot replace it: "
						"the table has %u members, the filesystem %u", why[k],
						dm_table_num_members(t), sb->nmembers);
				goto out;
			}
	}
	if (!plan && !(plan = calloc(sb->nmembers, sizeof(*plan)))) {
		err = daxfs_err(-ENOMEM, "fsck: out of memory");
		goto out;
	}
	if ((err = dfs_members_plan(t, sb, plan)))
		goto out;
	for (uint32_t k = 0; k < sb->member_blocks && !err; k++)
		if (bad[k])
			err = rebuild_block(t, sb, k, plan, m, why[k]);
out:
	free(plan);
	free(b);
	return err;
}

/* Writes member table block k, or label k (-y); 0 or why not. */
static int write_block(struct mapped_device *md, const struct dfs_super *sb,
		       const struct dfs_member *m, uint32_t k, uint8_t *b)
{
	const uint64_t blk = sb->gdt_start + sb->gdt_blocks + k;
	const uint32_t first = k * DFS_MTAB_PER_BLOCK;
	const uint32_t count = sb->nmembers - first < DFS_MTAB_PER_BLOCK ? sb->nmembers - first :
			       DFS_MTAB_PER_BLOCK;

	dfs_mtab_encode(m, first, count, blk, b);
	return dm_submit_bio(md, DAX_REQ_WRITE, 0, blk << DFS_BLOCK_SHIFT, b, DFS_BLOCK_SIZE);
}

static int write_label(struct mapped_device *md, const struct dfs_super *sb,
		       const struct dfs_member *m, uint32_t k, uint8_t *b)
{
	dfs_label_make(sb, m, k, b);
	return dm_submit_bio(md, DAX_REQ_WRITE, 0, m[k].label_sector << 9, b, DFS_LABEL_SIZE);
}

/* Reports (and with -y makes) the repairs read_table and the check found. */
static int repair(struct fsck *c, struct mapped_device *md, struct dm_table *t,
		  const struct dfs_super *sb, const struct dfs_member *m, const uint8_t *bad,
		  char (*why)[256], const uint8_t *relabel)
{
	uint8_t *b = malloc(DFS_BLOCK_SIZE);
	bool wrote = false;
	int err;

	if (!b)
		return daxfs_err(-ENOMEM, "fsck: out of memory");
	for (uint32_t k = 0; k < sb->member_blocks; k++) {
		if (!bad[k])
			continue;
		err = c->repair ? write_block(md, sb, m, k, b) : 0;
		wrote |= c->repair;
		fsck_problem(c, !err, PREEN_ASK, "%s: rebuild it from its members' labels", why[k]);
	}
	for (uint32_t k = 0; k < sb->nmembers; k++) {
		struct dm_member dm;
		unsigned r, n;

		if (!relabel[k])
			continue;
		dm_table_target_members(t, m[k].target, &r, &n);    /* verified: in place */
		dm_table_get_member(t, r + m[k].stripe, &dm);
		err = c->repair ? write_label(md, sb, m, k, b) : 0;
		wrote |= c->repair;
		fsck_problem(c, !err, PREEN_ASK, "member %u (%s): its label (byte %llu of it) %s: write "
			     "it again from the member table", k, dm.path,
			     (unsigned long long)(dm.offset + m[k].label_offset) << 9,
			     relabel[k] == DFS_RELABEL_VERSION ? "is of another format version"
			     : relabel[k] == DFS_RELABEL_ENTRY ? "differs from the member table in its entry"
			     : "is damaged");
	}
	free(b);
	err = wrote ? dm_flush(md) : 0;
	return err ? daxfs_err_prefix(err, "fsck: writing the members' repairs") : 0;
}

int fsck_members(struct fsck *c, struct mapped_device *md, const struct dfs_super *sb,
		 struct dfs_member **out)
{
	struct dm_table *t = dm_md_get_live_table(md);
	struct dfs_member *m = calloc(sb->nmembers, sizeof(*m));
	uint8_t *bad = calloc(sb->member_blocks, 1), *relabel = calloc(sb->nmembers, 1);
	char (*why)[256] = calloc(sb->member_blocks, sizeof(*why));
	int err;

	if (!t) {
		err = daxfs_err(-ENXIO, "%s: no live table", dm_md_name(md));
		goto out;
	}
	if (!m || !bad || !relabel || !why) {
		err = daxfs_err(-ENOMEM, "fsck: out of memory");
		goto out;
	}
	/* a member table that cannot be read or rebuilt: a file found where
	 * another belongs says more than the table does */
	if ((err = read_table(t, sb, m, bad, why)) || (err = dfs_members_check_order(sb, m))) {
		err = dfs_members_diagnose(t, err);
		goto out;
	}
	if ((err = dfs_members_verify(t, sb, m, relabel)) ||
	    (err = repair(c, md, t, sb, m, bad, why, relabel)))
		goto out;
	*out = m;
	m = NULL;
out:
	dm_table_put(&t);
	free(m);
	free(bad);
	free(relabel);
	free(why);
	return err;
}
