/* fs/member.c - the members a filesystem is made of: member table, labels, and tables checked against them */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/internal.h"
#include "util/err.h"

/*
 * A daxfs spans the member ranges of its table (dm.h): a linear target's
 * area of one file, each stripe of a striped target. Equal-size files in
 * another order give a table of the same layout, and the filesystem would
 * read one file's blocks where it wrote another's. So mkfs records every
 * member in a member table after the GDT and writes a label into one sector
 * of each member (FORMAT.md "Members"), and every table the filesystem is
 * to be used through - at mount, fsck and each live resume - must show each
 * label where it was written, as LVM checks its physical volumes' labels.
 * Everything is read through dm's member API: fs never opens a device.
 */

void dfs_uuid_text(const uint8_t u[16], char out[37])
{
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
		 u[13], u[14], u[15]);
}

static uint64_t mtab_start(const struct dfs_super *sb)
{
	return sb->gdt_start + sb->gdt_blocks;
}

int dfs_members_check_order(const struct dfs_super *sb, const struct dfs_member *m)
{
	for (uint32_t k = 0; k < sb->nmembers; k++) {
		bool first = k == 0 || m[k].target != m[k - 1].target;
		bool ok = first ? m[k].stripe == 0 && (k == 0 ? m[k].target == 0 :
					m[k].target == m[k - 1].target + 1 &&
					m[k - 1].stripe + 1 == m[k - 1].nstripes)
				: m[k].stripe == m[k - 1].stripe + 1 && m[k].nstripes == m[k - 1].nstripes;

		if (!ok || (k + 1 == sb->nmembers && m[k].stripe + 1 != m[k].nstripes))
			return daxfs_err(-EIO, "member table: member %u (target %u, stripe %u of %u) "
					 "is out of order", k, m[k].target, m[k].stripe, m[k].nstripes);
		if (m[k].label_sector >> 3 < sb->data_start ||
		    m[k].label_sector >> 3 >= sb->total_blocks)
			return daxfs_err(-EIO, "member table: the label of member %u (sector %llu) is "
					 "outside the data area", k,
					 (unsigned long long)m[k].label_sector);
	}
	return 0;
}

/* Member table block blk (entries from first) where t holds the members in
 * another order: at the same offset of every member of t, else where a
 * linear first target put it on member sb_member, the one holding the
 * superblock. */
static bool mtab_block_elsewhere(struct dm_table *t, const struct dfs_super *sb,
				 unsigned sb_member, uint64_t blk, uint32_t first, uint8_t *b,
				 struct dfs_member *m)
{
	uint64_t off, run;
	unsigned p;

	if (dm_table_map_member(t, blk << 3, &p, &off, &run) == 0)
		for (unsigned r = 0; r < dm_table_num_members(t); r++)
			if (dm_table_member_read(t, r, off << 9, b, DFS_BLOCK_SIZE) == 0 &&
			    dfs_mtab_decode(b, blk, first, sb->nmembers, m) == 0)
				return true;
	return dm_table_member_read(t, sb_member, blk << DFS_BLOCK_SHIFT, b, DFS_BLOCK_SIZE) == 0 &&
	       dfs_mtab_decode(b, blk, first, sb->nmembers, m) == 0;
}

/* The member table of the filesystem whose superblock is sb, each block
 * where t maps it; search (sb_member is then the member holding the
 * superblock): else where mtab_block_elsewhere finds it. */
static int members_read(struct dm_table *t, const struct dfs_super *sb, bool search,
			unsigned sb_member, struct dfs_member **out)
{
	struct dfs_member *m = calloc(sb->nmembers, sizeof(*m));
	uint8_t *b = malloc(DFS_BLOCK_SIZE);
	int err = 0;

	if (!m || !b) {
		err = daxfs_err(-ENOMEM, "out of memory");
		goto out;
	}
	for (uint32_t k = 0; k < sb->member_blocks && !err; k++) {
		uint64_t blk = mtab_start(sb) + k;
		uint32_t first = k * DFS_MTAB_PER_BLOCK;

		err = dm_table_read(t, blk << DFS_BLOCK_SHIFT, b, DFS_BLOCK_SIZE);
		if (!err)
			err = dfs_mtab_decode(b, blk, first, sb->nmembers, m);
		if (err && search)
			err = mtab_block_elsewhere(t, sb, sb_member, blk, first, b, m) ? 0 :
			      daxfs_err(-EIO, "member table block %llu of filesystem is on no member "
					"of the table", (unsigned long long)blk);
	}
	if (!err)
		err = dfs_members_check_order(sb, m);
out:
	free(b);
	if (err)
		free(m);
	else
		*out = m;
	return err;
}

int dfs_members_read(struct dm_table *t, const struct dfs_super *sb, struct dfs_member **out)
{
	return members_read(t, sb, false, 0, out);
}

int dfs_members_plan(struct dm_table *t, const struct dfs_super *sb, struct dfs_member *m)
{
	const unsigned n = dm_table_num_members(t);
	const uint64_t floor = sb->data_start << 3, end = sb->total_blocks << 3;
	struct dm_member dm;

	for (unsigned i = 0; i < n; i++) {
		dm_table_get_member(t, i, &dm);
		m[i] = (struct dfs_member){
			.target = dm.target, .stripe = dm.stripe, .nstripes = dm.nstripes,
			.target_begin = dm.target_begin, .target_len = dm.target_len,
			.chunk = dm.chunk, .offset = dm.offset, .length = dm.length,
			.label_sector = UINT64_MAX,
		};
	}
	/* Each label goes to the member's first sector past the fixed metadata:
	 * each target is walked in the runs a member serves unbroken, until
	 * all its members have one. */
	for (unsigned i = 0; i < n; ) {
		const uint64_t tend = m[i].target_begin + m[i].target_len;
		const unsigned first = i, count = m[i].nstripes;
		unsigned left = count;

		for (uint64_t s = m[i].target_begin > floor ? m[i].target_begin : floor;
		     left && s < tend && s < end; ) {
			unsigned idx;
			uint64_t off, run;

			if (dm_table_map_member(t, s, &idx, &off, &run))
				return daxfs_err(-EIO, "sector %llu of the table maps no member",
						 (unsigned long long)s);
			if (m[idx].label_sector == UINT64_MAX) {
				m[idx].label_sector = s;
				m[idx].label_offset = off;
				left--;
			}
			s += run;
		}
		for (i = first; i < first + count; i++)
			if (m[i].label_sector == UINT64_MAX) {
				dm_table_get_member(t, i, &dm);
				return daxfs_err(-EINVAL, "member %u (%s, target %u) has no sector past "
						 "the filesystem's fixed metadata and inside its %llu "
						 "blocks to hold its label", i, dm.path, dm.target,
						 (unsigned long long)sb->total_blocks);
			}
	}
	return 0;
}

void dfs_label_make(const struct dfs_super *sb, const struct dfs_member *m, uint32_t k, uint8_t *sector)
{
	struct dfs_label l = {
		.major = DFS_VERSION_MAJOR, .minor = DFS_VERSION_MINOR,
		.index = k, .nmembers = sb->nmembers, .m = m[k],
	};

	memcpy(l.fs_uuid, sb->uuid, 16);
	memcpy(l.fs_label, sb->label, sizeof(l.fs_label));
	dfs_label_encode(&l, sector);
}

bool dfs_label_remains(const uint8_t *sector, const struct dfs_super *sb, const struct dfs_member *m,
		       uint32_t k)
{
	uint8_t want[DFS_LABEL_SIZE];

	/* a run of damage is short: one of two far-apart identities survives
	 * it, and neither is found in a sector by chance (128 random bits) */
	dfs_label_make(sb, m, k, want);
	return !memcmp(sector + DFS_LABEL_MEMBER_UUID, want + DFS_LABEL_MEMBER_UUID, 16) ||
	       (!memcmp(sector + DFS_LABEL_MAGIC, want + DFS_LABEL_MAGIC, 8) &&
		!memcmp(sector + DFS_LABEL_INDEX, want + DFS_LABEL_INDEX,
			DFS_LABEL_NMEMBERS - DFS_LABEL_INDEX));
}

static int cmp_u64(const void *a, const void *b)
{
	const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int dfs_members_index(struct dfs *fs)
{
	size_t n = 0;

	fs->label_blks = malloc(fs->sb.nmembers * sizeof(*fs->label_blks));
	if (!fs->label_blks)
		return daxfs_err(-ENOMEM, "out of memory");
	for (uint32_t k = 0; k < fs->sb.nmembers; k++)
		fs->label_blks[k] = fs->members[k].label_sector >> 3;
	qsort(fs->label_blks, fs->sb.nmembers, sizeof(uint64_t), cmp_u64);
	/* two labels share a block only on a table that is not page-aligned */
	for (uint32_t k = 0; k < fs->sb.nmembers; k++)
		if (n == 0 || fs->label_blks[n - 1] != fs->label_blks[k])
			fs->label_blks[n++] = fs->label_blks[k];
	fs->nlabel_blks = n;
	return 0;
}

int dfs_members_load(struct dfs *fs)
{
	struct dm_table *t = dm_md_get_live_table(fs->md);
	int err;

	if (!t)
		return daxfs_err(-ENXIO, "%s: no live table", dm_md_name(fs->md));
	err = dfs_members_read(t, &fs->sb, &fs->members);
	dm_table_put(&t);
	return err ? err : dfs_members_index(fs);
}

void dfs_members_unload(struct dfs *fs)
{
	free(fs->members);
	free(fs->label_blks);
	fs->members = NULL;
	fs->label_blks = NULL;
	fs->nlabel_blks = 0;
}

uint64_t dfs_label_blocks_in(const struct dfs *fs, uint64_t start, uint64_t len, uint8_t *map)
{
	uint64_t n = 0;
	size_t lo = 0, hi = fs->nlabel_blks;

	while (lo < hi) {       /* the first label block >= start */
		size_t mid = lo + (hi - lo) / 2;

		if (fs->label_blks[mid] < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < fs->nlabel_blks && fs->label_blks[i] < start + len; i++, n++)
		if (map) {
			uint64_t bit = fs->label_blks[i] - start;

			map[bit >> 3] |= (uint8_t)(1u << (bit & 7));
		}
	return n;
}

bool dfs_is_member_block(const struct dfs *fs, uint64_t blk)
{
	if (blk >= mtab_start(&fs->sb) && blk < fs->sb.data_start)
		return true;
	return dfs_label_blocks_in(fs, blk, 1, NULL) != 0;
}

/* ---- checking a table ------------------------------------------------------ */

/* What a member of a table holds, as far as its labels tell. */
struct found {
	enum { FOUND_NOTHING, FOUND_LABEL, FOUND_SUPER } what;
	struct dfs_label l;
	uint64_t at;                /* FOUND_LABEL: the sector of the area it is in */
	uint8_t sb_uuid[16];        /* FOUND_SUPER */
	bool short_area;            /* the area ends before the expected label */
};

static bool read_label(struct dm_table *t, unsigned r, uint64_t sector, struct dfs_label *l)
{
	uint8_t buf[DFS_LABEL_SIZE];

	return dm_table_member_read(t, r, sector << 9, buf, sizeof(buf)) == 0 &&
	       dfs_label_decode(buf, l) == 0;
}

/* Looks for a label at each offset a member of this filesystem has one, the
 * expected one first, then for a superblock at the start of the area. */
static void identify(struct dm_table *t, unsigned r, const uint64_t *offsets, size_t noffsets,
		     uint64_t expected, struct found *f)
{
	uint8_t *b;
	struct dm_member dm;

	memset(f, 0, sizeof(*f));
	if (dm_table_get_member(t, r, &dm) == 0 && expected >= dm.length)
		f->short_area = true;
	if (read_label(t, r, expected, &f->l)) {
		f->what = FOUND_LABEL;
		f->at = expected;
		goto out;
	}
	for (size_t i = 0; i < noffsets; i++)
		if (offsets[i] != expected && read_label(t, r, offsets[i], &f->l)) {
			f->what = FOUND_LABEL;
			f->at = offsets[i];
			goto out;
		}
	b = malloc(DFS_BLOCK_SIZE);
	if (b && dm_table_member_read(t, r, 0, b, DFS_BLOCK_SIZE) == 0) {
		struct dfs_super sb;

		if (dfs_super_decode(b, DFS_SB_PRIMARY, &sb) == 0) {
			f->what = FOUND_SUPER;
			memcpy(f->sb_uuid, sb.uuid, 16);
		}
	}
	free(b);
out:
	daxfs_err_clear();
}

/* Where identify looks besides the expected place: a filesystem has few
 * distinct label offsets (0, and one for each member that starts inside the
 * fixed metadata), and a damaged member table must not make every check
 * read every member thousands of times. */
#define MAX_LABEL_OFFSETS 256

/* The distinct label offsets of the member table (the lowest
 * MAX_LABEL_OFFSETS), for identify. */
static uint64_t *label_offsets(const struct dfs_super *sb, const struct dfs_member *m, size_t *n)
{
	uint64_t *o = malloc(sb->nmembers * sizeof(*o));
	size_t k = 0;

	if (!o)
		return NULL;
	for (uint32_t i = 0; i < sb->nmembers; i++)
		o[i] = m[i].label_offset;
	qsort(o, sb->nmembers, sizeof(*o), cmp_u64);
	for (uint32_t i = 0; i < sb->nmembers && k < MAX_LABEL_OFFSETS; i++)
		if (k == 0 || o[k - 1] != o[i])
			o[k++] = o[i];
	*n = k;
	return o;
}

static void describe(const struct dfs_member *m, char *buf, size_t size)
{
	snprintf(buf, size, "sectors %llu-%llu of it as stripe %u of %u of target %u (sectors "
		 "%llu+%llu, chunk %llu)", (unsigned long long)m->offset,
		 (unsigned long long)(m->offset + m->length - 1), m->stripe, m->nstripes, m->target,
		 (unsigned long long)m->target_begin, (unsigned long long)m->target_len,
		 (unsigned long long)m->chunk);
}

static struct dfs_member member_as_mapped(const struct dm_member *dm)
{
	return (struct dfs_member){
		.target = dm->target, .stripe = dm->stripe, .nstripes = dm->nstripes,
		.target_begin = dm->target_begin, .target_len = dm->target_len, .chunk = dm->chunk,
		.offset = dm->offset, .length = dm->length,
	};
}

/* Whether the table maps member r as entry e says it was made */
static bool geometry_ok(struct dm_table *t, unsigned r, const struct dfs_member *e)
{
	struct dm_member dm;
	unsigned index;
	uint64_t off, run;

	if (dm_table_get_member(t, r, &dm))
		return false;
	const struct dfs_member got = member_as_mapped(&dm);

	return got.offset == e->offset && got.length == e->length &&
	       got.target_begin == e->target_begin && got.target_len == e->target_len &&
	       got.chunk == e->chunk && got.nstripes == e->nstripes &&
	       dm_table_map_member(t, e->label_sector, &index, &off, &run) == 0 && index == r &&
	       off == e->label_offset;
}

/* The member expected at r holds its own label: the table must map it as
 * the filesystem was made, so that every block lands where it was written. */
static int check_geometry(struct dm_table *t, unsigned r, const struct dfs_member *e,
			  unsigned k, const char *uuid)
{
	struct dm_member dm;
	struct dfs_member got;
	char was[256], now[256];

	if (dm_table_get_member(t, r, &dm))
		return -EINVAL;
	if (geometry_ok(t, r, e))
		return 0;
	got = member_as_mapped(&dm);
	if (got.offset == e->offset && got.length < e->length)
		return daxfs_err(-EINVAL, "%s holds member %u of filesystem %s, made %llu bytes long; "
				 "the table maps only %llu bytes of it: %s", dm.path, k, uuid,
				 (unsigned long long)e->length << 9, (unsigned long long)dm.length << 9,
				 dm.device_size < (e->offset + e->length) << 9 ?
				 "was the file truncated?" : "was the table changed?");
	describe(e, was, sizeof(was));
	describe(&got, now, sizeof(now));
	return daxfs_err(-EINVAL, "%s holds member %u of filesystem %s, made as %s; the table maps "
			 "%s: was the table changed?", dm.path, k, uuid, was, now);
}

/* A file shorter than the area the table maps of it: dm refuses such a
 * table at resume too, but without saying which member the file
 * was. Sectors are compared, never summed: an area may start anywhere below
 * 2^64 sectors, whose byte numbers do not fit in 64 bits. */
static int check_size(struct dm_table *t, unsigned r, unsigned k, const char *uuid)
{
	struct dm_member dm;
	uint64_t sectors;

	if (dm_table_get_member(t, r, &dm))
		return 0;
	sectors = dm.device_size >> 9;
	if (dm.offset <= sectors && dm.length <= sectors - dm.offset)
		return 0;
	if (dm.offset >= sectors || dm.length > (UINT64_MAX >> 9) - dm.offset)
		return daxfs_err(-EINVAL, "%s is %llu bytes, too small for member %u of filesystem "
				 "%s, which the table maps from sector %llu of it (%llu sectors), "
				 "past its end", dm.path, (unsigned long long)dm.device_size, k,
				 uuid, (unsigned long long)dm.offset, (unsigned long long)dm.length);
	return daxfs_err(-EINVAL, "%s is %llu bytes, too small for member %u of filesystem %s, "
			 "which the table maps at bytes %llu-%llu of it: was the file truncated?",
			 dm.path, (unsigned long long)dm.device_size, k, uuid,
			 (unsigned long long)dm.offset << 9,
			 (unsigned long long)((dm.offset + dm.length) << 9) - 1);
}

/* Member k in its place, its label stamped with another uuid or half way
 * there: a `daxfs-ctl uuid` that did not finish (uuid.c). */
static int interrupted_change(struct dm_table *t, unsigned r, const struct dfs_super *sb,
			      const struct dfs_member *m, unsigned k, const char *path,
			      const char *uuid)
{
	uint8_t b[DFS_LABEL_SIZE];
	struct dfs_label l;
	char other[37];

	if (dm_table_member_read(t, r, m[k].label_offset << 9, b, sizeof(b)))
		return 0;
	switch (dfs_label_classify(b, sb, m, k, &l)) {
	case DFS_LABEL_RESTAMPED:
		dfs_uuid_text(l.fs_uuid, other);
		return daxfs_err(-EINVAL, "%s holds member %u of filesystem %s stamped with the uuid "
				 "%s: a uuid change did not finish (finish: `daxfs-ctl uuid SOURCE "
				 "%s`; undo: `daxfs-ctl uuid SOURCE %s`), or a copy's member with a "
				 "new uuid is here", path, k, uuid, other, other, uuid);
	case DFS_LABEL_TORN:
		return daxfs_err(-EINVAL, "%s holds member %u of filesystem %s with its uuid half "
				 "rewritten: a uuid change did not finish (finish: `daxfs-ctl uuid "
				 "SOURCE NEWUUID`; undo: `daxfs-ctl uuid SOURCE %s`)", path, k, uuid,
				 uuid);
	default:
		return 0;
	}
}

/* Why member r of t, where member k is expected, is not member k. */
static int refuse(struct dm_table *t, unsigned r, const struct dfs_super *sb,
		  const struct dfs_member *m, unsigned k, const struct found *f,
		  const uint64_t *offsets, size_t noffsets, bool fewer)
{
	char uuid[37], other[37];
	struct dm_member dm;
	const char *hint = fewer ? "is a member missing?" : "did you reorder the files?";
	int err;

	dm_table_get_member(t, r, &dm);
	dfs_uuid_text(sb->uuid, uuid);
	if ((err = interrupted_change(t, r, sb, m, k, dm.path, uuid)))
		return err;
	if (f->what == FOUND_SUPER) {
		dfs_uuid_text(f->sb_uuid, other);
		if (memcmp(f->sb_uuid, sb->uuid, 16) == 0)
			return daxfs_err(-EINVAL, "%s holds member 0 (the superblock) of filesystem %s, "
					 "expected member %u; %s", dm.path, uuid, k, hint);
		return daxfs_err(-EINVAL, "%s holds the superblock of filesystem %s, not member %u "
				 "of filesystem %s", dm.path, other, k, uuid);
	}
	if (f->what == FOUND_NOTHING) {
		if (f->short_area)
			return daxfs_err(-EINVAL, "%s is too short to be member %u of filesystem %s: "
					 "the table maps %llu bytes of it, the member is %llu bytes "
					 "long; was the file truncated?", dm.path, k, uuid,
					 (unsigned long long)dm.length << 9,
					 (unsigned long long)m[k].length << 9);
		return daxfs_err(-EINVAL, "%s is not member %u of filesystem %s: it holds no member "
				 "label (expected at byte %llu of it); is it the right file?",
				 dm.path, k, uuid,
				 (unsigned long long)(dm.offset + m[k].label_offset) << 9);
	}
	dfs_uuid_text(f->l.fs_uuid, other);
	if (memcmp(f->l.fs_uuid, sb->uuid, 16) != 0)
		return daxfs_err(-EINVAL, "%s holds member %u of filesystem %s, not of %s (expected "
				 "member %u)", dm.path, f->l.index, other, uuid, k);
	if (f->l.index >= sb->nmembers || f->l.nmembers != sb->nmembers ||
	    memcmp(f->l.m.uuid, m[f->l.index].uuid, 16) != 0)
		return daxfs_err(-EINVAL, "%s holds member %u of an earlier filesystem with the uuid "
				 "%s (its member uuid differs), expected member %u: was the "
				 "filesystem made again since?", dm.path, f->l.index, uuid, k);
	/* the member that turned up here: is it in its own place too? */
	unsigned j = f->l.index, first, count;
	struct found there;

	if (dm_table_target_members(t, m[j].target, &first, &count) == 0 &&
	    m[j].stripe < count && first + m[j].stripe != r) {
		identify(t, first + m[j].stripe, offsets, noffsets, m[j].label_offset, &there);
		if (there.what == FOUND_LABEL && there.l.index == j &&
		    memcmp(there.l.fs_uuid, sb->uuid, 16) == 0) {
			struct dm_member dj;

			dm_table_get_member(t, first + m[j].stripe, &dj);
			return daxfs_err(-EINVAL, "%s holds member %u of filesystem %s, expected "
					 "member %u; %s holds member %u too: is one a copy of the "
					 "other?", dm.path, j, uuid, k, dj.path, j);
		}
	}
	return daxfs_err(-EINVAL, "%s holds member %u of filesystem %s, expected member %u; %s",
			 dm.path, j, uuid, k, hint);
}

/* Whether f is label k of this filesystem (its uuid, index, member uuid). */
static bool is_label(const struct found *f, const struct dfs_super *sb, const struct dfs_member *m,
		     unsigned k)
{
	return f->what == FOUND_LABEL && f->l.index == k && f->l.nmembers == sb->nmembers &&
	       memcmp(f->l.fs_uuid, sb->uuid, 16) == 0 && memcmp(f->l.m.uuid, m[k].uuid, 16) == 0;
}

/* Member k, expected at r, holds no label k where its label goes: does it
 * still show it is member k - what is there shows it was that label, its
 * label is elsewhere on it, or (member 0) the filesystem's superblock is at
 * its start? */
static bool label_damaged(struct dm_table *t, unsigned r, const struct dfs_super *sb,
			  const struct dfs_member *m, unsigned k, const struct found *f)
{
	uint8_t sector[DFS_LABEL_SIZE];
	struct dfs_label l;
	bool read;

	if (f->short_area)
		return false;
	read = dm_table_member_read(t, r, m[k].label_offset << 9, sector, sizeof(sector)) == 0;
	/* a uuid change that did not finish is no damage: fsck must not undo
	 * half of it (refuse() names it) */
	if (read) {
		const enum dfs_label_state st = dfs_label_classify(sector, sb, m, k, &l);

		if (st == DFS_LABEL_RESTAMPED || st == DFS_LABEL_TORN)
			return false;
	}
	if (f->what == FOUND_LABEL)
		return is_label(f, sb, m, k) && f->at != m[k].label_offset;
	if (f->what == FOUND_SUPER)
		return k == 0 && memcmp(f->sb_uuid, sb->uuid, 16) == 0;
	return read && dfs_label_remains(sector, sb, m, k);
}

static const char *member_path(struct dm_table *t, unsigned r)
{
	struct dm_member dm;

	return dm_table_get_member(t, r, &dm) ? "?" : dm.path;
}

/* Where on its file member e's label is */
static unsigned long long label_byte(struct dm_table *t, unsigned r, const struct dfs_member *e)
{
	struct dm_member dm;

	return dm_table_get_member(t, r, &dm) ? 0 : (dm.offset + e->label_offset) << 9;
}

int dfs_members_verify(struct dm_table *t, const struct dfs_super *sb, const struct dfs_member *m,
		       uint8_t *relabel)
{
	const unsigned nt = dm_table_num_targets(t), et = m[sb->nmembers - 1].target + 1;
	size_t noffsets = 0;
	uint64_t *offsets = label_offsets(sb, m, &noffsets);
	char uuid[37];
	int err = 0;

	if (!offsets)
		return daxfs_err(-ENOMEM, "out of memory");
	dfs_uuid_text(sb->uuid, uuid);
	for (uint32_t k = 0; k < sb->nmembers && !err; k++) {
		unsigned first, count, r;
		struct found f;

		if (m[k].target >= nt) {
			err = daxfs_err(-EINVAL, "member %u of filesystem %s (target %u) is missing: "
					"the table has %u targets, the filesystem was made with %u",
					k, uuid, m[k].target, nt, et);
			break;
		}
		dm_table_target_members(t, m[k].target, &first, &count);
		if (count == 0)
			continue;       /* error or zero: no member, nothing of another file shows */
		if (count != m[k].nstripes) {
			err = daxfs_err(-EINVAL, "target %u of the table has %u member%s; filesystem "
					"%s was made with %u there (members %u-%u)", m[k].target,
					count, count == 1 ? "" : "s", uuid, m[k].nstripes, k,
					k + m[k].nstripes - 1);
			break;
		}
		r = first + m[k].stripe;
		if ((err = check_size(t, r, k, uuid)))
			break;
		identify(t, r, offsets, noffsets, m[k].label_offset, &f);
		if (is_label(&f, sb, m, k) && f.at == m[k].label_offset) {
			err = check_geometry(t, r, &m[k], k, uuid);
			/* the table's entry is the copy that is wrong (fsck rebuilds it) */
			if (err && !dfs_member_equal(&f.l.m, &m[k]) && f.l.major == DFS_VERSION_MAJOR &&
			    geometry_ok(t, r, &f.l.m))
				err = daxfs_err(-EIO, "member table: the entry of member %u differs from "
						"its label (%s), which matches this table; run fsck.daxfs -y",
						k, member_path(t, r));
			/* both copies pass their crcs but say different things: the
			 * table's entry is the one the geometry just vouched for */
			const enum dfs_relabel why = f.l.major != DFS_VERSION_MAJOR ? DFS_RELABEL_VERSION
						     : !dfs_member_equal(&f.l.m, &m[k]) ? DFS_RELABEL_ENTRY
						     : DFS_RELABEL_NONE;
			if (!err && why && relabel)
				relabel[k] = (uint8_t)why;
			else if (!err && why)
				err = daxfs_err(-EIO, "%s: the label of member %u of filesystem %s (byte "
						"%llu of it) differs from the member table in %s; run "
						"fsck.daxfs -y", member_path(t, r), k, uuid,
						label_byte(t, r, &m[k]), why == DFS_RELABEL_VERSION ?
						"its format version" : "its copy of the member entry");
		} else if (label_damaged(t, r, sb, m, k, &f)) {
			if (relabel) {       /* fsck writes it again from the member table */
				relabel[k] = DFS_RELABEL_DAMAGED;
				err = check_geometry(t, r, &m[k], k, uuid);
			} else if (f.what == FOUND_SUPER) {
				err = daxfs_err(-EIO, "%s holds the superblock of filesystem %s but not "
						"the label of member 0 (expected at byte %llu of it): was "
						"it overwritten? run fsck.daxfs -y to write it again",
						member_path(t, r), uuid, label_byte(t, r, &m[k]));
			} else {
				err = daxfs_err(-EIO, "%s: the label of member %u of filesystem %s (byte "
						"%llu of it) is damaged; run fsck.daxfs -y", member_path(t, r),
						k, uuid, label_byte(t, r, &m[k]));
			}
		} else {
			err = refuse(t, r, sb, m, k, &f, offsets, noffsets, nt < et);
		}
	}
	/* a target mapping a device where the filesystem has no member */
	for (unsigned i = 0, k = 0; i < nt && !err; i++) {
		unsigned first, count;

		while (k < sb->nmembers && m[k].target < i)
			k++;
		if (dm_table_target_members(t, i, &first, &count) || !count ||
		    (k < sb->nmembers && m[k].target == i))
			continue;
		struct dm_member dm;

		dm_table_get_member(t, first, &dm);
		err = daxfs_err(-EINVAL, "%s (target %u) is not a member of filesystem %s: it was "
				"made with %s there", dm.path, i, uuid,
				i < et ? "a target that maps no device" : "no target");
	}
	free(offsets);
	return err;
}

int dfs_members_diagnose(struct dm_table *t, int err)
{
	char saved[1024], uuid[37];
	unsigned n = dm_table_num_members(t);

	snprintf(saved, sizeof(saved), "%s", daxfs_errormsg());
	for (unsigned r = 0; r < n; r++) {
		struct found f;
		struct dm_member dm;

		identify(t, r, NULL, 0, 0, &f);
		dm_table_get_member(t, r, &dm);
		if (f.what == FOUND_LABEL && f.l.index != r) {
			dfs_uuid_text(f.l.fs_uuid, uuid);
			return daxfs_err(-EINVAL, "%s holds member %u of filesystem %s, expected member "
					 "%u; did you reorder the files?", dm.path, f.l.index, uuid, r);
		}
		if (f.what == FOUND_SUPER && r != 0) {
			dfs_uuid_text(f.sb_uuid, uuid);
			return daxfs_err(-EINVAL, "%s holds member 0 (the superblock) of filesystem %s, "
					 "expected member %u; did you reorder the files?", dm.path, uuid, r);
		}
	}
	return daxfs_err(err, "%s", saved);
}

int dfs_probe_member(struct dm_table *t, unsigned index, struct dfs_probe *out)
{
	uint8_t *b = malloc(DFS_BLOCK_SIZE);
	struct dfs_super_id id;
	struct dfs_label l;
	struct dm_member dm;
	int err;

	memset(out, 0, sizeof(*out));
	if (!b)
		return daxfs_err(-ENOMEM, "out of memory");
	if ((err = dm_table_get_member(t, index, &dm)))
		goto out;
	/* a short member cannot hold a superblock; its first sector still can
	 * hold a label */
	err = dm_table_member_read(t, index, 0, b, dm.length >= 8 ? DFS_BLOCK_SIZE : DFS_LABEL_SIZE);
	if (err)
		goto out;
	if (dm.length >= 8 && dfs_super_identify(b, DFS_SB_PRIMARY, &id)) {
		out->kind = DFS_PROBE_SUPER;
		out->major = id.major;
		out->minor = id.minor;
		memcpy(out->uuid, id.uuid, 16);
		memcpy(out->label, id.label, 63);
	} else if (dfs_label_decode(b, &l) == 0) {
		out->kind = DFS_PROBE_MEMBER;
		out->major = l.major;
		out->minor = l.minor;
		out->member = l.index;
		out->nmembers = l.nmembers;
		memcpy(out->uuid, l.fs_uuid, 16);
		memcpy(out->label, l.fs_label, sizeof(out->label));
	}
	daxfs_err_clear();
out:
	free(b);
	return err;
}

int dfs_members_order(struct dm_table *t, struct dfs_member_place **out, unsigned *count)
{
	const unsigned n = dm_table_num_members(t);
	struct dfs_member_place *place = NULL;
	struct dfs_member *m = NULL;
	struct dfs_super sb;
	uint64_t *offsets = NULL;
	size_t noffsets;
	unsigned sb_member = 0;
	uint8_t *b = malloc(DFS_BLOCK_SIZE);
	bool have_sb = false;
	int err;

	if (!b)
		return daxfs_err(-ENOMEM, "out of memory");
	for (unsigned r = 0; r < n && !have_sb; r++)
		if (dm_table_member_read(t, r, 0, b, DFS_BLOCK_SIZE) == 0 &&
		    dfs_super_decode(b, DFS_SB_PRIMARY, &sb) == 0) {
			have_sb = true;
			sb_member = r;
		}
	free(b);
	if (!have_sb)
		return daxfs_err(-ENOENT, "no member of the table holds a daxfs superblock");
	if ((err = members_read(t, &sb, true, sb_member, &m)))
		return err;
	offsets = label_offsets(&sb, m, &noffsets);
	place = calloc(sb.nmembers, sizeof(*place));
	if (!offsets || !place) {
		err = daxfs_err(-ENOMEM, "out of memory");
		goto out;
	}
	for (uint32_t k = 0; k < sb.nmembers; k++)
		place[k] = (struct dfs_member_place){ .found = -1, .target = m[k].target,
						      .stripe = m[k].stripe, .offset = m[k].offset };
	for (unsigned r = 0; r < n; r++) {
		struct found f;

		identify(t, r, offsets, noffsets, offsets[0], &f);
		if (f.what != FOUND_LABEL || memcmp(f.l.fs_uuid, sb.uuid, 16) ||
		    f.l.index >= sb.nmembers || memcmp(f.l.m.uuid, m[f.l.index].uuid, 16) ||
		    place[f.l.index].found >= 0)
			continue;
		place[f.l.index].found = (int)r;
	}
	for (uint32_t k = 0; k < sb.nmembers; k++) {
		unsigned first, cnt;

		place[k].in_place = place[k].found >= 0 &&
				    dm_table_target_members(t, m[k].target, &first, &cnt) == 0 &&
				    first + m[k].stripe == (unsigned)place[k].found;
	}
	*out = place;
	*count = sb.nmembers;
	place = NULL;
out:
	free(place);
	free(offsets);
	free(m);
	return err;
}
