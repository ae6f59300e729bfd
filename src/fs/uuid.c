/* fs/uuid.c - changing the filesystem uuid (tune2fs -U), off line, so that a crash leaves it recognisable */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/internal.h"
#include "util/err.h"

/*
 * The filesystem uuid is in the superblock, in every member label (fs_uuid)
 * and in the journal blocks. The superblock is the commit point (FORMAT.md
 * "Changing the uuid"):
 *
 *   1. the journal is replayed by a mount, as for any off-line change;
 *   2. every label is re-stamped with the new uuid, each in two steps: first
 *      the new uuid with the crc of the label as it was (flush), then the
 *      whole new label (flush). A label then always either decodes, or
 *      decodes once the superblock's uuid is put back in it: only its uuid
 *      line and its crc line change, and never both in one step;
 *   3. the superblock with the new uuid is committed through the journal,
 *      whose blocks carry the new uuid: before the superblock is home the
 *      log is another uuid's and ignored; after it, the old uuid's header
 *      is taken for a torn one and the log replayed (journal.c).
 *
 * A crash before 3 leaves the old uuid in the superblock and labels of this
 * filesystem's members stamped with the new one (or half way): mount and
 * fsck refuse them naming the interrupted change (member.c), and running the
 * change again, to the same uuid or back to the old one, first puts the old
 * uuid back in those labels (two steps again: crc first, then uuid).
 */

static bool same_member(const struct dfs_label *l, const struct dfs_super *sb,
			const struct dfs_member *m, uint32_t k)
{
	return l->index == k && l->nmembers == sb->nmembers &&
	       memcmp(l->m.uuid, m[k].uuid, 16) == 0 && l->m.offset == m[k].offset &&
	       l->m.length == m[k].length && l->m.label_offset == m[k].label_offset &&
	       l->m.label_sector == m[k].label_sector;
}

enum dfs_label_state dfs_label_classify(const uint8_t *sector, const struct dfs_super *sb,
					const struct dfs_member *m, uint32_t k, struct dfs_label *l)
{
	uint8_t patched[DFS_LABEL_SIZE];

	if (dfs_label_decode(sector, l) == 0) {
		if (!same_member(l, sb, m, k))
			return DFS_LABEL_OTHER;
		return memcmp(l->fs_uuid, sb->uuid, 16) == 0 ? DFS_LABEL_OWN : DFS_LABEL_RESTAMPED;
	}
	/* half way: the uuid line rewritten, the crc still the label's with
	 * the superblock's uuid */
	memcpy(patched, sector, sizeof(patched));
	memcpy(patched + DFS_LABEL_FS_UUID, sb->uuid, 16);
	if (dfs_label_decode(patched, l) == 0 && same_member(l, sb, m, k))
		return DFS_LABEL_TORN;
	return DFS_LABEL_OTHER;
}

static int write_label(struct mapped_device *md, const struct dfs_member *e, const uint8_t *b)
{
	return dm_submit_bio(md, DAX_REQ_WRITE, 0, e->label_sector << 9, (void *)b, DFS_LABEL_SIZE);
}

/* The label l with fs uuid u; crc_of: with the crc of the label with that
 * uuid instead (the intermediate step), or NULL. */
static void encode_stamped(struct dfs_label l, const uint8_t u[16], const uint8_t *crc_of,
			   uint8_t *out)
{
	uint8_t other[DFS_LABEL_SIZE];

	memcpy(l.fs_uuid, u, 16);
	dfs_label_encode(&l, out);
	if (crc_of) {
		memcpy(l.fs_uuid, crc_of, 16);
		dfs_label_encode(&l, other);
		memcpy(out + DFS_LABEL_SIZE - 4, other + DFS_LABEL_SIZE - 4, 4);
	}
}

/* Stamps the labels ls[0..n) of entries e with uuid `to`, where `from` is
 * the superblock's uuid (forward: uuid first, then the crc) or `to` is
 * (back: the crc first, then the uuid); each step flushed. */
static int stamp(struct mapped_device *md, const struct dfs_member *e, const struct dfs_label *ls,
		 uint32_t n, const uint8_t sb_uuid[16], const uint8_t to[16])
{
	uint8_t b[DFS_LABEL_SIZE];
	const bool back = memcmp(to, sb_uuid, 16) == 0;
	int err = 0;

	for (uint32_t k = 0; k < n && !err; k++) {
		/* both steps keep the superblock's crc in between */
		encode_stamped(ls[k], back ? ls[k].fs_uuid : to, sb_uuid, b);
		err = write_label(md, &e[k], b);
	}
	if (!err)
		err = dm_flush(md);
	for (uint32_t k = 0; k < n && !err; k++) {
		encode_stamped(ls[k], to, NULL, b);
		err = write_label(md, &e[k], b);
	}
	return err ? err : dm_flush(md);
}

/*
 * Before anything is mounted: the labels of an interrupted change (to `to`,
 * or back to the superblock's uuid) are put back to the superblock's uuid.
 * A label stamped with a third uuid is refused: another change was
 * interrupted, or a copy's member is here. Labels that are not this
 * filesystem's are left for the mount's verification to report.
 */
static int undo_interrupted(struct mapped_device *md, const struct dfs_super *sb,
			    const uint8_t to[16])
{
	struct dm_table *t = dm_md_get_live_table(md);
	struct dfs_member *m = NULL, *e = NULL;
	struct dfs_label *ls = NULL;
	uint8_t b[DFS_LABEL_SIZE];
	uint32_t n = 0;
	int err;

	if (!t)
		return daxfs_err(-ENXIO, "%s: no live table", dm_md_name(md));
	if ((err = dfs_members_read(t, sb, &m))) {
		/* the mount says what is wrong */
		daxfs_err_clear();
		err = 0;
		goto out;
	}
	e = calloc(sb->nmembers, sizeof(*e));
	ls = calloc(sb->nmembers, sizeof(*ls));
	if (!e || !ls) {
		err = daxfs_err(-ENOMEM, "out of memory");
		goto out;
	}
	for (uint32_t k = 0; k < sb->nmembers && !err; k++) {
		unsigned first, count, r, idx;
		uint64_t off, run;
		struct dfs_label l;
		struct dm_member dm;
		char was[37], want[37];

		/* only where the table maps the label's sector to the member it
		 * should be in, as the mount's verification requires */
		if (dm_table_target_members(t, m[k].target, &first, &count) || count != m[k].nstripes ||
		    dm_table_map_member(t, m[k].label_sector, &idx, &off, &run) ||
		    idx != (r = first + m[k].stripe) || off != m[k].label_offset ||
		    dm_table_member_read(t, r, off << 9, b, sizeof(b)))
			continue;
		switch (dfs_label_classify(b, sb, m, k, &l)) {
		case DFS_LABEL_RESTAMPED:
			if (memcmp(l.fs_uuid, to, 16) != 0 && memcmp(to, sb->uuid, 16) != 0) {
				dm_table_get_member(t, r, &dm);
				dfs_uuid_text(l.fs_uuid, was);
				dfs_uuid_text(sb->uuid, want);
				err = daxfs_err(-EINVAL, "%s holds member %u of filesystem %s stamped "
						"with uuid %s: finish that change first (set the uuid "
						"%s) or undo it (set %s); or is it a member of a copy "
						"of this filesystem?", dm.path, k, want, was, was, want);
				break;
			}
			/* fall through */
		case DFS_LABEL_TORN:
			e[n] = m[k];
			ls[n++] = l;
			break;
		default:
			break;
		}
	}
	if (!err && n)
		err = stamp(md, e, ls, n, sb->uuid, sb->uuid);
out:
	free(ls);
	free(e);
	free(m);
	dm_table_put(&t);
	return err;
}

int dfs_uuid_check(const uint8_t uuid[16])
{
	static const uint8_t nil[16];

	if (memcmp(uuid, nil, 16) == 0)
		return daxfs_err(-EINVAL, "the nil uuid names no filesystem");
	return 0;
}

int dfs_set_uuid(struct mapped_device *md, const uint8_t uuid[16])
{
	struct dfs_super before;
	struct dfs_label *ls = NULL;
	struct dfs *fs;
	bool backup;
	int err, err2;

	if ((err = dfs_uuid_check(uuid)))
		return err;
	if ((err = dfs_read_super_raw(md, &before, &backup)) ||
	    (err = undo_interrupted(md, &before, uuid)))
		return err;
	/* a mount for the journal's sake, and to verify every member */
	if ((err = dfs_mount_offline(md, false, &fs)))
		return err;
	pthread_mutex_lock(&fs->meta);
	if (!(ls = calloc(fs->sb.nmembers, sizeof(*ls))))
		err = daxfs_err(-ENOMEM, "out of memory");
	for (uint32_t k = 0; k < fs->sb.nmembers && !err; k++) {
		uint8_t s[DFS_LABEL_SIZE];

		/* the mount verified each label where the table maps it */
		err = dm_submit_bio(md, DAX_REQ_READ, 0, fs->members[k].label_sector << 9, s,
				    sizeof(s));
		if (!err && dfs_label_classify(s, &fs->sb, fs->members, k, &ls[k]) != DFS_LABEL_OWN)
			err = daxfs_err(-EIO, "member %u: its label changed under the uuid change", k);
	}
	if (!err)
		err = stamp(md, fs->members, ls, fs->sb.nmembers, fs->sb.uuid, uuid);
	if (!err) {
		memcpy(fs->sb.uuid, uuid, 16);
		err = dfs_super_commit_offline(fs, &before);
	}
	pthread_mutex_unlock(&fs->meta);
	free(ls);
	err2 = dfs_unmount(&fs);
	return err ? err : err2;
}
