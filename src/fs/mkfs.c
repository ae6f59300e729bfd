/* fs/mkfs.c - making a daxfs: geometry, members and their labels, group descriptors, journal, root */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "fs/internal.h"
#include "util/err.h"

static uint64_t div_up(uint64_t a, uint64_t b)
{
	return a / b + (a % b != 0);
}

/* Every group starts uninitialised: free but for group 0's fixed metadata
 * and the member labels in it (dfs_alloc_load checks the same count). */
static int mkfs_write_gdt(struct dfs *fs)
{
	uint8_t *b = calloc(1, DFS_BLOCK_SIZE);

	if (!b)
		return daxfs_err(-ENOMEM, "out of memory");
	for (uint32_t k = 0; k < fs->sb.gdt_blocks; k++) {
		memset(b, 0, DFS_BLOCK_SIZE);
		for (uint64_t i = 0; i < DFS_GD_PER_BLOCK; i++) {
			uint64_t g = (uint64_t)k * DFS_GD_PER_BLOCK + i;
			if (g >= fs->sb.ngroups)
				break;
			uint64_t start = g * DFS_BLOCKS_PER_GROUP;
			uint64_t end = start + DFS_BLOCKS_PER_GROUP;
			end = end > fs->sb.total_blocks ? fs->sb.total_blocks : end;
			uint64_t used = (g ? 0 : fs->sb.data_start) +
					dfs_label_blocks_in(fs, start, end - start, NULL);
			struct dfs_gd gd = { .free = (uint32_t)(end - start - used) };
			dfs_gd_encode(&gd, g, b + i * DFS_GD_SIZE);
		}
		int err = dfs_dev_write(fs, fs->sb.gdt_start + k, b, 1, false);
		if (err) {
			free(b);
			return err;
		}
	}
	free(b);
	return dfs_dev_flush(fs);
}

static int mkfs_refuse_existing(struct dfs *fs, bool force)
{
	uint8_t *b = malloc(DFS_BLOCK_SIZE);
	int err = 0;

	if (!b)
		return daxfs_err(-ENOMEM, "out of memory");
	for (uint64_t blk = DFS_SB_PRIMARY; blk <= DFS_SB_BACKUP && !err && !force; blk++) {
		struct dfs_super old;
		if (dfs_dev_read(fs, blk, b, 1) == 0 && dfs_get64(b + DFS_SB_MAGIC) == DFS_MAGIC) {
			if (dfs_super_decode(b, blk, &old) == 0)
				err = daxfs_err(-EEXIST, "%s already contains a daxfs (label '%s'); "
						"use force to overwrite it", dm_md_name(fs->md), old.label);
			else if (old.major == 1)
				err = daxfs_err(-EEXIST, "%s already contains a daxfs of format 1; "
						"use force to overwrite it", dm_md_name(fs->md));
			else
				err = daxfs_err(-EEXIST, "%s already contains a (damaged) daxfs; "
						"use force to overwrite it", dm_md_name(fs->md));
		}
	}
	free(b);
	return err;
}

/* ---- members: the member table and the labels ---- */

/* The members of t and where their labels go, past the fixed metadata; sb's
 * journal is made smaller when a member ends too soon for it. Sets sb's
 * journal, member table and data_start fields (total_blocks and ngroups in). */
static int members_plan(struct dm_table *t, struct dfs_super *sb, struct dfs_member **out)
{
	const unsigned n = dm_table_num_members(t);
	uint64_t limit = UINT64_MAX;
	unsigned limit_member = 0;
	struct dfs_member *m;
	struct dm_member dm;
	int err;

	/* a target that maps no device (zero) gets no member and no label:
	 * mkfs.daxfs refuses such tables, tests use them to stay off DAX */
	if (n == 0)
		return daxfs_err(-EINVAL, "the table maps no device: a daxfs needs one to store data");
	if (n > DFS_MAX_MEMBERS)
		return daxfs_err(-EINVAL, "the table has %u members; a daxfs has at most %u", n,
				 DFS_MAX_MEMBERS);
	for (unsigned i = 0; i < n; i++) {
		dm_table_get_member(t, i, &dm);
		if (dm.last_sector >> 3 < limit) {
			limit = dm.last_sector >> 3;
			limit_member = i;
		}
	}
	/* The fixed metadata must end before every member does, so that each
	 * has a sector past it for its label: a short first target gets a
	 * smaller journal (never below the minimum). */
	sb->nmembers = n;
	sb->member_blocks = (n + DFS_MTAB_PER_BLOCK - 1) / DFS_MTAB_PER_BLOCK;
	sb->gdt_blocks = (uint32_t)((sb->ngroups + DFS_GD_PER_BLOCK - 1) / DFS_GD_PER_BLOCK);
	uint64_t fixed = 2 + sb->gdt_blocks + sb->member_blocks;

	sb->journal_blocks = sb->total_blocks / 32;
	sb->journal_blocks = sb->journal_blocks < DFS_JOURNAL_MIN ? DFS_JOURNAL_MIN :
			     sb->journal_blocks > 8192 ? 8192 : sb->journal_blocks;
	if (fixed + sb->journal_blocks > limit) {
		if (limit < fixed + DFS_JOURNAL_MIN) {
			dm_table_get_member(t, limit_member, &dm);
			return daxfs_err(-EINVAL, "member %u (%s, target %u) ends at block %llu, inside "
					 "the filesystem's fixed metadata (%llu blocks with the "
					 "smallest journal): every member must reach past it to hold "
					 "its label; put a larger target first", limit_member, dm.path,
					 dm.target, (unsigned long long)limit,
					 (unsigned long long)(fixed + DFS_JOURNAL_MIN));
		}
		sb->journal_blocks = limit - fixed;
	}
	sb->journal_start = 2;
	sb->gdt_start = sb->journal_start + sb->journal_blocks;
	sb->data_start = sb->gdt_start + sb->gdt_blocks + sb->member_blocks;

	if (!(m = calloc(n, sizeof(*m))))
		return daxfs_err(-ENOMEM, "out of memory");
	if ((err = dfs_members_plan(t, sb, m))) {
		free(m);
		return err;
	}
	for (unsigned i = 0; i < n; i++)
		if (getrandom(m[i].uuid, 16, 0) != 16) {
			free(m);
			return daxfs_err(-EIO, "no random bytes for a member uuid");
		}
	*out = m;
	return 0;
}

/* Writes the member table, then each label into its sector. */
static int members_write(struct dfs *fs)
{
	uint8_t *b = malloc(DFS_BLOCK_SIZE);
	int err = 0;

	if (!b)
		return daxfs_err(-ENOMEM, "out of memory");
	for (uint32_t k = 0; k < fs->sb.member_blocks && !err; k++) {
		uint32_t first = k * DFS_MTAB_PER_BLOCK;
		uint32_t count = fs->sb.nmembers - first < DFS_MTAB_PER_BLOCK ?
				 fs->sb.nmembers - first : DFS_MTAB_PER_BLOCK;

		dfs_mtab_encode(fs->members, first, count, (fs->sb.gdt_start + fs->sb.gdt_blocks) + k, b);
		err = dfs_dev_write(fs, (fs->sb.gdt_start + fs->sb.gdt_blocks) + k, b, 1, false);
	}
	for (uint32_t k = 0; k < fs->sb.nmembers && !err; k++) {
		/* the whole block zero first: member 0's holds size records,
		 * and one a filesystem made here before left must not count */
		memset(b, 0, DFS_BLOCK_SIZE);
		if ((err = dfs_dev_write(fs, fs->members[k].label_sector >> 3, b, 1, false)))
			break;
		dfs_label_make(&fs->sb, fs->members, k, b);
		err = dm_submit_bio(fs->md, DAX_REQ_WRITE, 0, fs->members[k].label_sector << 9, b,
				    DFS_LABEL_SIZE);
	}
	free(b);
	return err ? err : dfs_dev_flush(fs);
}

/* The superblock's geometry for total blocks on table t: the members and
 * their labels decide the journal's size and data_start (member.c). */
static int mkfs_geometry(struct dfs *fs, struct dm_table *t, uint64_t total)
{
	struct dfs_super *sb = &fs->sb;
	int err;

	sb->total_blocks = total;
	sb->blocks_per_group = DFS_BLOCKS_PER_GROUP;
	sb->ngroups = div_up(total, DFS_BLOCKS_PER_GROUP);
	if ((err = members_plan(t, sb, &fs->members)) || (err = dfs_members_index(fs)))
		return err;
	if (sb->data_start + 64 > total || sb->data_start > DFS_BLOCKS_PER_GROUP / 2)
		return daxfs_err(-EINVAL, "%s is too small for its metadata", dm_md_name(fs->md));
	return 0;
}

int dfs_mkfs(struct mapped_device *md, const struct dfs_mkfs_opts *opts)
{
	struct dfs_mkfs_opts defaults = { 0 };
	struct dfs_table_facts f;
	struct dm_table *t = NULL;
	struct dfs *fs;
	struct dfs_timespec now;
	int err;

	if (!opts)
		opts = &defaults;
	if (opts->label && strlen(opts->label) > 63)
		return daxfs_err(-EINVAL, "label '%s' is longer than 63 bytes", opts->label);
	if (opts->uuid && (err = dfs_uuid_check(opts->uuid)))
		return err;
	if ((err = dfs_table_facts(md, &f)))
		return err;
	uint64_t total = f.bytes >> DFS_BLOCK_SHIFT;
	if (total < DFS_MIN_BLOCKS)
		return daxfs_err(-EINVAL, "%s is too small: %llu bytes, daxfs needs at least %u MiB "
				 "(superblocks, journal and one group of data)", dm_md_name(md),
				 (unsigned long long)f.bytes, DFS_MIN_BLOCKS / 256);
	if (!(fs = dfs_fs_alloc(md)))
		return daxfs_err(-ENOMEM, "out of memory");
	if ((err = mkfs_refuse_existing(fs, opts->force)))
		goto out;
	if (!(t = dm_md_get_live_table(md))) {
		err = daxfs_err(-ENXIO, "%s: no live table", dm_md_name(md));
		goto out;
	}

	struct dfs_super *sb = &fs->sb;
	dfs_now(&now);
	sb->major = DFS_VERSION_MAJOR;
	sb->minor = DFS_VERSION_MINOR;
	sb->fingerprint = f.fingerprint;
	if (opts->uuid)
		memcpy(sb->uuid, opts->uuid, 16);
	else if (getrandom(sb->uuid, 16, 0) != 16) {
		err = daxfs_err(-EIO, "no random bytes for the UUID");
		goto out;
	}
	if (opts->label)
		snprintf(sb->label, sizeof(sb->label), "%s", opts->label);
	sb->state = DFS_STATE_CLEAN;
	sb->next_generation = 1;
	sb->mkfs_time = sb->write_time = now.sec;
	if ((err = mkfs_geometry(fs, t, total)))
		goto out;
	if (opts->result)
		*opts->result = (struct dfs_mkfs_result){
			.total_blocks = sb->total_blocks, .journal_blocks = sb->journal_blocks,
			.data_start = sb->data_start, .nmembers = sb->nmembers,
		};
	if (opts->dry_run)
		goto out;
	uint64_t seq;
	if (getrandom(&seq, sizeof(seq), 0) != sizeof(seq))
		seq = (uint64_t)now.sec;
	seq = (seq >> 16) + 1;      /* leave room to count up */
	if ((err = mkfs_write_gdt(fs)) || (err = members_write(fs)) ||
	    (err = dfs_journal_format(md, sb, seq)))
		goto out;
	fs->jseq = fs->running_tid = seq;
	fs->committed_tid = seq - 1;
	{
		/* the journal capacity, as dfs_journal_recover computes it */
		uint64_t room = sb->journal_blocks - 2;
		fs->jcap = room - (room + DFS_JDESC_MAX) / (DFS_JDESC_MAX + 1);
	}
	if ((err = dfs_alloc_load(fs)) || (err = dfs_icache_init(fs)))
		goto out;

	struct dfs_inode *root;
	struct dfs_cred cred = { .uid = 0, .gid = 0 };
	struct dfs_buf *sbb;
	if ((err = dfs_buf_new(fs, DFS_SB_PRIMARY, DFS_BUF_SUPER, &sbb)))
		goto out;
	dfs_buf_dirty(fs, sbb);
	if ((err = dfs_inode_alloc(fs, 0040755, &cred, &root)))
		goto out;
	if (root->ino != DFS_ROOT_INO) {
		err = daxfs_err(-EIO, "root inode got number %llu", (unsigned long long)root->ino);
		goto out;
	}
	root->d.nlink = 2;
	root->d.parent = DFS_ROOT_INO;
	if ((err = dfs_inode_write(fs, root)))
		goto out;
	pthread_mutex_lock(&fs->meta);    /* a commit drops and retakes it */
	err = dfs_commit(fs);
	pthread_mutex_unlock(&fs->meta);
	if (err)
		goto out;
	err = dfs_dev_flush(fs);
out:
	dm_table_put(&t);
	dfs_fs_free(fs);
	return err;
}
