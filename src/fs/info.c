/* fs/info.c - what a superblock says (dumpe2fs -h) and changing the label (e2label), off line */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/internal.h"
#include "util/err.h"

static int read_block(struct mapped_device *md, uint64_t blk, uint8_t *b)
{
	return dm_submit_bio(md, DAX_REQ_READ, 0, blk << DFS_BLOCK_SHIFT, b, DFS_BLOCK_SIZE);
}

/* The primary superblock, or the backup when the primary fails its checks,
 * as mount chooses; *backup says which. */
int dfs_read_super_raw(struct mapped_device *md, struct dfs_super *sb, bool *backup)
{
	uint8_t *b = malloc(DFS_BLOCK_SIZE);
	char first[512], second[512];
	int err;

	if (!b)
		return daxfs_err(-ENOMEM, "out of memory");
	*backup = false;
	err = read_block(md, DFS_SB_PRIMARY, b);
	if (!err)
		err = dfs_super_decode(b, DFS_SB_PRIMARY, sb);
	if (err) {
		snprintf(first, sizeof(first), "%s", daxfs_errormsg());
		*backup = true;
		err = read_block(md, DFS_SB_BACKUP, b);
		if (!err)
			err = dfs_super_decode(b, DFS_SB_BACKUP, sb);
		if (err) {
			snprintf(second, sizeof(second), "%s", daxfs_errormsg());
			err = daxfs_err(err, "%s: no valid superblock: %s (backup: %s)",
					dm_md_name(md), first, second);
		}
	}
	free(b);
	return err;
}

static void fill(struct dfs_info *out, const struct dfs_super *sb)
{
	out->major = sb->major;
	out->minor = sb->minor;
	out->block_size = DFS_BLOCK_SIZE;
	memcpy(out->uuid, sb->uuid, sizeof(out->uuid));
	memcpy(out->label, sb->label, sizeof(out->label));
	out->label[sizeof(out->label) - 1] = '\0';
	out->total_blocks = sb->total_blocks;
	out->journal_blocks = sb->journal_blocks;
	out->ngroups = sb->ngroups;
	out->blocks_per_group = sb->blocks_per_group;
	out->data_start = sb->data_start;
	out->mkfs_time = sb->mkfs_time;
	out->mount_time = sb->mount_time;
	out->write_time = sb->write_time;
	out->mount_count = sb->mount_count;
}

static bool layout_matches(struct mapped_device *md, const struct dfs_super *sb)
{
	struct dm_table *t = dm_md_get_live_table(md);
	bool ok;

	if (!t)
		return false;
	ok = dm_table_layout_fingerprint(t) == sb->fingerprint &&
	     sb->total_blocks <= (dm_table_size(t) << 9) >> DFS_BLOCK_SHIFT;
	dm_table_put(&t);
	return ok;
}

int dfs_read_info(struct mapped_device *md, bool count, struct dfs_info *out)
{
	struct dfs_super sb;
	struct statvfs st;
	struct dfs *fs;
	int err;

	memset(out, 0, sizeof(*out));
	if ((err = dfs_read_super_raw(md, &sb, &out->from_backup)))
		return err;
	fill(out, &sb);
	out->layout_matches = layout_matches(md, &sb);
	/* the state on media: what the last mount left */
	out->clean = sb.state == DFS_STATE_CLEAN;
	if (!count || !out->layout_matches)
		return 0;
	/* The counts need the whole filesystem, journal replayed (in memory
	 * only: a check-only mount never writes); the replayed superblock is the
	 * one a mount would use. */
	if ((err = dfs_mount_offline(md, true, &fs)))
		return err;
	fill(out, &fs->sb);
	dfs_statfs(fs, &st);
	out->counted = true;
	out->free_blocks = st.f_bfree;
	out->inodes_used = st.f_files - st.f_ffree;
	out->free_inodes = st.f_ffree;
	return dfs_unmount(&fs);
}

int dfs_read_members(struct mapped_device *md, struct dfs_member_info **out, unsigned *count)
{
	struct dm_table *t = dm_md_get_live_table(md);
	struct dfs_member_info *info = NULL;
	struct dfs_member *m = NULL;
	struct dfs_super sb;
	bool backup;
	int err;

	if (!t)
		return daxfs_err(-ENXIO, "%s: no live table", dm_md_name(md));
	if ((err = dfs_read_super_raw(md, &sb, &backup)) || (err = dfs_members_read(t, &sb, &m)))
		goto out;
	if (!(info = calloc(sb.nmembers, sizeof(*info)))) {
		err = daxfs_err(-ENOMEM, "out of memory");
		goto out;
	}
	for (uint32_t k = 0; k < sb.nmembers; k++) {
		unsigned first, n;
		struct dm_member dm;

		info[k] = (struct dfs_member_info){
			.index = k, .offset = m[k].offset << 9, .length = m[k].length << 9,
		};
		memcpy(info[k].uuid, m[k].uuid, 16);
		/* the file in the member's place, if the table has that place */
		if (dm_table_target_members(t, m[k].target, &first, &n) == 0 &&
		    n == m[k].nstripes && dm_table_get_member(t, first + m[k].stripe, &dm) == 0) {
			info[k].path = dm.path;
			info[k].file_size = dm.device_size;
		}
	}
	*out = info;
	*count = sb.nmembers;
out:
	free(m);
	dm_table_put(&t);
	return err;
}

int dfs_set_label(struct mapped_device *md, const char *label)
{
	struct dfs_super before;
	struct dfs_buf *b;
	struct dfs *fs;
	bool backup;
	int err, err2;

	if (!label || strlen(label) >= sizeof(before.label))
		return daxfs_err(-EINVAL, "label '%s' is longer than %zu bytes", label ? label : "",
				 sizeof(before.label) - 1);
	if ((err = dfs_read_super_raw(md, &before, &backup)))
		return err;
	/* A mount for the journal's sake: a transaction still in the log could
	 * carry an older superblock over a label written in place. */
	if ((err = dfs_mount_offline(md, false, &fs)))
		return err;
	pthread_mutex_lock(&fs->meta);
	memset(fs->sb.label, 0, sizeof(fs->sb.label));
	memcpy(fs->sb.label, label, strlen(label));
	/* not a mount of the filesystem's own: as e2label, leave its count and time */
	fs->sb.mount_count = before.mount_count;
	fs->sb.mount_time = before.mount_time;
	err = dfs_buf_read(fs, DFS_SB_PRIMARY, DFS_BUF_SUPER, &b);
	if (err == -EIO)    /* damaged primary: rebuild it from the in-memory copy */
		err = dfs_buf_new(fs, DFS_SB_PRIMARY, DFS_BUF_SUPER, &b);
	if (!err) {
		dfs_buf_dirty(fs, b);
		err = dfs_commit(fs);
	}
	pthread_mutex_unlock(&fs->meta);
	err2 = dfs_unmount(&fs);
	return err ? err : err2;
}
