/* fs/super.c - mount, unmount, sync, statfs, and the device I/O every module goes through */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "fs/internal.h"
#include "util/array.h"
#include "util/deadline.h"
#include "util/err.h"

/* All metadata I/O and data zeroing go through the bio path of the mapped
 * device; durability is dm_flush / FUA, which end in the dax persist module. */

int dfs_dev_read(struct dfs *fs, uint64_t blk, void *buf, size_t n)
{
	return dm_submit_bio(fs->md, DAX_REQ_READ, 0, blk << DFS_BLOCK_SHIFT, buf,
			     n << DFS_BLOCK_SHIFT);
}

/* fsck -n repairs only in the cache: a write is a bug, refused loudly */
static int refuse_check_only(uint64_t blk)
{
	return daxfs_err(-EROFS, "internal error: a check-only run tried to write block %llu",
			 (unsigned long long)blk);
}

int dfs_dev_write(struct dfs *fs, uint64_t blk, const void *buf, size_t n, bool fua)
{
	if (fs->check_only)
		return refuse_check_only(blk);
	return dm_submit_bio(fs->md, DAX_REQ_WRITE, fua ? DM_BIO_FUA : 0, blk << DFS_BLOCK_SHIFT,
			     (void *)buf, n << DFS_BLOCK_SHIFT);
}

/* No FUA: the zeroes only have to be durable before the metadata that makes
 * the blocks reachable commits, and every commit flushes the device before it
 * writes its commit record. */
int dfs_dev_zero(struct dfs *fs, uint64_t blk, uint64_t n)
{
	const uint64_t chunk = 1ull << 18;     /* 1 GiB per bio */

	if (fs->check_only)
		return refuse_check_only(blk);

	for (uint64_t done = 0; done < n; done += chunk) {
		uint64_t k = n - done < chunk ? n - done : chunk;
		int err = dm_submit_bio(fs->md, DAX_REQ_WRITE_ZEROES, 0,
					(blk + done) << DFS_BLOCK_SHIFT, NULL, k << DFS_BLOCK_SHIFT);
		if (err)
			return err;
	}
	return 0;
}

int dfs_dev_flush(struct dfs *fs)
{
	return dm_flush(fs->md);
}

void dfs_now(struct dfs_timespec *ts)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	ts->sec = t.tv_sec;
	ts->nsec = (uint32_t)t.tv_nsec;
}

int dfs_check_writable(struct dfs *fs)
{
	if (fs->rdonly)
		return daxfs_err(-EROFS, "read-only filesystem");
	if (__atomic_load_n(&fs->shutdown, __ATOMIC_ACQUIRE))   /* set under meta, read without */
		return daxfs_err(-EIO, "filesystem is shut down after an I/O error");
	return 0;
}

bool dfs_uses_dax(const struct dfs *fs)
{
	return fs->dax;
}

bool dfs_persists_traced(const struct dfs *fs)
{
	(void)fs;       /* the recorder is the process's: one for every device */
	return dax_persist_tracing();
}

struct mapped_device *dfs_md(const struct dfs *fs)
{
	return fs->md;
}

/* Batched mounts commit every commit_interval_ms; synchronous ones commit in
 * every call, and the committer only picks up what a call left while the
 * device was suspended (dfs_txn_end) or left to the next commit
 * (dfs_txn_end_deferred), every DFS_COMMIT_INTERVAL_MS. */
static void *committer_main(void *arg)
{
	struct dfs *fs = arg;
	const unsigned ms = dfs_sync_mode(fs) ? DFS_COMMIT_INTERVAL_MS : fs->opts.commit_interval_ms;

	pthread_mutex_lock(&fs->meta);
	while (!fs->stopping) {
		struct timespec ts;

		daxfs_deadline(&ts, CLOCK_REALTIME, ms * 1000000ull);
		pthread_cond_timedwait(&fs->commit_cond, &fs->meta, &ts);
		/* a suspended device would hold the commit, and meta, until resume */
		if (!fs->stopping && fs->ndirty && !fs->shutdown && !dfs_dev_suspended(fs))
			(void)dfs_commit(fs);   /* a failure shuts the fs down; callers see it */
	}
	pthread_mutex_unlock(&fs->meta);
	return NULL;
}

void dfs_fs_free(struct dfs *fs)
{
	dfs_forget_live_tables(fs);
	dfs_icache_destroy(fs);
	dfs_members_unload(fs);
	dfs_alloc_unload(fs);
	dfs_buf_destroy_all(fs);
	pthread_cond_destroy(&fs->commit_cond);
	pthread_cond_destroy(&fs->commit_done);
	pthread_cond_destroy(&fs->thaw_cond);
	pthread_cond_destroy(&fs->freeze_cond);
	pthread_mutex_destroy(&fs->freeze_lock);
	pthread_mutex_destroy(&fs->bcache_lock);
	pthread_rwlock_destroy(&fs->buf_use);
	pthread_mutex_destroy(&fs->icache_lock);
	pthread_mutex_destroy(&fs->dirload);
	pthread_mutex_destroy(&fs->meta);
	pthread_mutex_destroy(&fs->rename_lock);
	free(fs);
}

struct dfs *dfs_fs_alloc(struct mapped_device *md)
{
	struct dfs *fs = calloc(1, sizeof(*fs));

	if (!fs)
		return NULL;
	fs->md = md;
	pthread_mutex_init(&fs->rename_lock, NULL);
	pthread_mutex_init(&fs->meta, NULL);
	pthread_mutex_init(&fs->dirload, NULL);
	pthread_mutex_init(&fs->icache_lock, NULL);
	pthread_rwlock_init(&fs->buf_use, NULL);
	pthread_mutex_init(&fs->bcache_lock, NULL);
	pthread_cond_init(&fs->commit_cond, NULL);
	pthread_cond_init(&fs->commit_done, NULL);
	pthread_cond_init(&fs->thaw_cond, NULL);
	pthread_mutex_init(&fs->freeze_lock, NULL);
	pthread_cond_init(&fs->freeze_cond, NULL);
	return fs;
}

int dfs_table_facts(struct mapped_device *md, struct dfs_table_facts *f)
{
	struct dm_table *t = dm_md_get_live_table(md);

	if (!t)
		return daxfs_err(-ENXIO, "%s: no live table", dm_md_name(md));
	f->bytes = dm_table_size(t) << 9;
	f->fingerprint = dm_table_layout_fingerprint(t);
	f->dax = dm_table_supports_dax(t);
	const char *why = dm_table_not_dax_reason(t);
	snprintf(f->why_not, sizeof(f->why_not), "%s", why ? why : "");
	dm_table_put(&t);
	return 0;
}

static int read_super(struct dfs *fs)
{
	uint8_t *b = malloc(DFS_BLOCK_SIZE);
	int err, err2;

	if (!b)
		return daxfs_err(-ENOMEM, "out of memory");
	err = dfs_dev_read(fs, DFS_SB_PRIMARY, b, 1);
	if (!err)
		err = dfs_super_decode(b, DFS_SB_PRIMARY, &fs->sb);
	if (err && fs->sb.major == 1) {
		free(b);        /* an old format: the backup says the same */
		return err;
	}
	if (err) {
		char first[512];

		snprintf(first, sizeof(first), "%s", daxfs_errormsg());
		err2 = dfs_dev_read(fs, DFS_SB_BACKUP, b, 1);
		if (!err2)
			err2 = dfs_super_decode(b, DFS_SB_BACKUP, &fs->sb);
		if (err2) {
			char second[512];

			snprintf(second, sizeof(second), "%s", daxfs_errormsg());
			err = daxfs_err(err, "%s (backup: %s)", first, second);
		}
		else
			err = 0;    /* the first commit rewrites the primary */
	}
	free(b);
	return err;
}

/* The superblock and the member table, read through the live table, and
 * every member of that table where the filesystem was made with it. When
 * there is no superblock to read, a member found where it should not be
 * explains why better than "no daxfs magic" would. */
static int read_identity(struct dfs *fs)
{
	struct dm_table *t = dm_md_get_live_table(fs->md);
	int err;

	if (!t)
		return daxfs_err(-ENXIO, "%s: no live table", dm_md_name(fs->md));
	err = read_super(fs);
	if (!err)
		err = dfs_members_load(fs);
	if (err && fs->sb.major != 1)
		err = dfs_members_diagnose(t, err);
	else if (!err)
		err = dfs_members_verify(t, &fs->sb, fs->members, NULL);
	dm_table_put(&t);
	return err;
}

static int mount_check(struct dfs *fs, const struct dfs_table_facts *f)
{
	if (fs->sb.fingerprint != f->fingerprint)
		return daxfs_err(-EINVAL, "%s: table layout does not match the one the filesystem was "
				 "made on (fingerprint %016llx, table %016llx): targets missing, "
				 "resized or in another order", dm_md_name(fs->md),
				 (unsigned long long)fs->sb.fingerprint,
				 (unsigned long long)f->fingerprint);
	if (fs->sb.total_blocks > f->bytes >> DFS_BLOCK_SHIFT)
		return daxfs_err(-EINVAL, "%s: filesystem has %llu blocks but the device only %llu",
				 dm_md_name(fs->md), (unsigned long long)fs->sb.total_blocks,
				 (unsigned long long)(f->bytes >> DFS_BLOCK_SHIFT));
	if (fs->opts.dax == DFS_DAX_ALWAYS && !f->dax)
		return daxfs_err(-EINVAL, "%s: dax=always: DAX unsupported by the table: %s",
				 dm_md_name(fs->md), f->why_not[0] ? f->why_not : "not DAX-capable");
	return 0;
}

int dfs_super_dirty(struct dfs *fs)
{
	struct dfs_buf *b;
	int err = dfs_buf_read(fs, DFS_SB_PRIMARY, DFS_BUF_SUPER, &b);

	if (err == -EIO)    /* damaged primary: rebuild it from the in-memory copy */
		err = dfs_buf_new(fs, DFS_SB_PRIMARY, DFS_BUF_SUPER, &b);
	if (!err)
		dfs_buf_dirty(fs, b);
	return err;
}

/* Refusals for damage the mount cannot trust say how to repair it. */
static int mount_failed(struct mapped_device *md, int err)
{
	char why[512];

	snprintf(why, sizeof(why), "%s", daxfs_errormsg());
	if (err == -EIO && !strstr(why, "fsck.daxfs"))
		return daxfs_err(err, "mount %s: %s; run fsck.daxfs -y", dm_md_name(md), why);
	return why[0] ? daxfs_err(err, "mount %s: %s", dm_md_name(md), why)
		      : daxfs_err(err, "mount %s", dm_md_name(md));
}

/* fsck's members: its copy of them, indexed; else read from the device. */
static int fsck_members(struct dfs *fs, const struct dfs_member *members)
{
	if (!members)
		return dfs_members_load(fs);
	if (!(fs->members = malloc(fs->sb.nmembers * sizeof(*members))))
		return daxfs_err(-ENOMEM, "out of memory");
	memcpy(fs->members, members, fs->sb.nmembers * sizeof(*members));
	return dfs_members_index(fs);
}

/* fsck_sb: fsck's mount (fsck_members_in its member table, or NULL);
 * offline: a tool's (fsck, or daxfs-ctl's counts and label), which processes
 * no orphans and runs no periodic committer. */
static int mount_common(struct mapped_device *md, const struct dfs_mount_opts *opts,
			const struct dfs_super *fsck_sb, const struct dfs_member *fsck_members_in,
			bool offline, bool check_only, struct dfs **out)
{
	struct dfs_mount_opts defaults = { 0 };
	struct dfs_table_facts f;
	struct dfs *fs;
	struct dfs_inode *root;
	const bool fsck = fsck_sb != NULL;
	int err;

	if (!opts)
		opts = &defaults;
	if (opts->dax != DFS_DAX_INODE && opts->dax != DFS_DAX_ALWAYS && opts->dax != DFS_DAX_NEVER)
		return daxfs_err(-EINVAL, "unknown dax mode %d", (int)opts->dax);
	if (opts->commit_interval_ms > DFS_COMMIT_MAX_MS)
		return daxfs_err(-EINVAL, "commit interval %u ms is longer than the maximum %u ms",
				 opts->commit_interval_ms, DFS_COMMIT_MAX_MS);
	if ((err = dfs_table_facts(md, &f)))
		return err;
	if (!(fs = dfs_fs_alloc(md)))
		return daxfs_err(-ENOMEM, "out of memory");
	fs->opts = *opts;
	fs->rdonly = opts->rdonly || check_only;
	fs->check_only = check_only;
	fs->fsck_mount = fsck;
	fs->dax = f.dax && opts->dax != DFS_DAX_NEVER;
	if (fsck)
		fs->sb = *fsck_sb;
	/* fsck chose the superblock copy and checked the members itself */
	if ((err = fsck ? fsck_members(fs, fsck_members_in) : read_identity(fs)) ||
	    (err = mount_check(fs, &f)))
		goto fail;
	/* the log is redone even on a read-only mount, as ext4 does, but only
	 * into the cache: a read-only mount never writes */
	if ((err = dfs_journal_recover(fs)))
		goto fail;
	if ((err = dfs_alloc_load(fs)) || (err = dfs_icache_init(fs)) || (err = dfs_itable_scan(fs)))
		goto fail;
	if (fsck)
		fs->resv_blocks = 0;     /* a repair may take every block, as e2fsck does */
	/* fsck checks (and makes) the root itself */
	if (!fsck && (err = dfs_iget(fs, DFS_ROOT_INO, &root)))
		goto fail;
	if (!fsck && !dfs_is_dir(root)) {
		err = daxfs_err(-EIO, "root inode is not a directory");
		goto fail;
	}
	if (!fs->rdonly) {
		struct dfs_timespec now;
		unsigned applied;

		/* sizes made durable by size records in the mount that ended,
		 * before this one's count makes them void */
		if ((err = dfs_runrec_replay(fs, &applied)))
			goto fail;
		/* nobody else runs yet, but a commit drops and retakes meta */
		pthread_mutex_lock(&fs->meta);
		if (!offline && !(err = dfs_orphans_process(fs)))
			err = dfs_itable_shrink(fs);
		dfs_now(&now);
		fs->sb.state = DFS_STATE_DIRTY;
		fs->sb.mount_time = now.sec;
		fs->sb.mount_count++;
		if (!err && !(err = dfs_super_dirty(fs)))
			err = dfs_commit(fs);
		pthread_mutex_unlock(&fs->meta);
		if (err)
			goto fail;
		if (!offline && pthread_create(&fs->committer, NULL, committer_main, fs) == 0)
			fs->committer_running = true;
	}
	*out = fs;
	return 0;
fail:
	err = mount_failed(md, err);
	dfs_fs_free(fs);
	return err;
}

int dfs_mount(struct mapped_device *md, const struct dfs_mount_opts *opts, struct dfs **out)
{
	return mount_common(md, opts, NULL, NULL, false, false, out);
}

int dfs_mount_fsck(struct mapped_device *md, bool check_only, const struct dfs_super *sb,
		   const struct dfs_member *members, struct dfs **out)
{
	/* batched: fsck commits its repairs itself */
	struct dfs_mount_opts o = { .rdonly = check_only, .dax = DFS_DAX_NEVER,
				    .commit_interval_ms = DFS_COMMIT_INTERVAL_MS };

	return mount_common(md, &o, sb, members, true, check_only, out);
}

int dfs_mount_offline(struct mapped_device *md, bool check_only, struct dfs **out)
{
	struct dfs_mount_opts o = { .rdonly = check_only, .dax = DFS_DAX_NEVER,
				    .commit_interval_ms = DFS_COMMIT_INTERVAL_MS };

	return mount_common(md, &o, NULL, NULL, true, check_only, out);
}

static void stop_committer(struct dfs *fs)
{
	if (!fs->committer_running)
		return;
	pthread_mutex_lock(&fs->meta);
	fs->stopping = true;
	pthread_cond_signal(&fs->commit_cond);
	pthread_mutex_unlock(&fs->meta);
	pthread_join(fs->committer, NULL);
	fs->committer_running = false;
}

/* Inodes without links that were still looked up: nobody can reach them now. */
static int release_unlinked(struct dfs *fs)
{
	uint64_t *inos = NULL;
	size_t n = 0, cap = 0;
	int err = 0;

	for (size_t i = 0; i < fs->ihash_size; i++)
		for (struct dfs_inode *ip = fs->ihash[i]; ip; ip = ip->hnext) {
			if (ip->d.nlink || ip->freeing)
				continue;
			if ((err = DAXFS_GROW(inos, cap, n + 1, 64, "unmount"))) {
				free(inos);
				return err;
			}
			inos[n++] = ip->ino;
		}
	/* one that cannot be released (damage its release found) stays on the
	 * orphan list for the next mount or fsck; the rest still goes */
	for (size_t k = 0; k < n && !fs->shutdown; k++) {
		struct dfs_inode *ip;
		int e;

		if (dfs_iget(fs, inos[k], &ip))
			continue;
		pthread_mutex_lock(&fs->icache_lock);
		ip->nlookup = 0;
		ip->pins = 0;
		pthread_mutex_unlock(&fs->icache_lock);
		if (!(e = dfs_txn_reserve(fs, 64)))
			e = dfs_inode_maybe_release(fs, ip);
		if (e && !err)
			err = daxfs_err_prefix(e, "inode %llu stays on the orphan list",
					       (unsigned long long)inos[k]);
	}
	free(inos);
	return err;
}

int dfs_unmount(struct dfs **fsp)
{
	struct dfs *fs = *fsp;
	int err = 0;

	if (!fs)
		return 0;
	stop_committer(fs);
	pthread_mutex_lock(&fs->meta);
	if (!fs->rdonly && !fs->shutdown) {
		/* what was done is committed even when a release failed */
		const int rel = release_unlinked(fs);
		char why[512];

		snprintf(why, sizeof(why), "%s", rel ? daxfs_errormsg() : "");

		if (!fs->shutdown && !(err = dfs_commit(fs))) {
			struct dfs_timespec now;

			dfs_now(&now);
			fs->sb.state = DFS_STATE_CLEAN;
			fs->sb.write_time = now.sec;
			if (!(err = dfs_super_dirty(fs)))
				err = dfs_commit(fs);
		}
		if (!err && rel)
			err = daxfs_err(rel, "the filesystem was unmounted, but %s", why);
	}
	if (!err && fs->shutdown)
		err = daxfs_err(-EIO, "filesystem was shut down after an I/O error");
	pthread_mutex_unlock(&fs->meta);
	dfs_fs_free(fs);
	*fsp = NULL;
	return err;
}

void dfs_abandon(struct dfs **fsp)
{
	struct dfs *fs = *fsp;

	if (!fs)
		return;
	stop_committer(fs);
	dfs_fs_free(fs);
	*fsp = NULL;
}

int dfs_sync(struct dfs *fs)
{
	int err = 0;

	pthread_mutex_lock(&fs->meta);
	if (!fs->rdonly)
		err = dfs_commit(fs);
	pthread_mutex_unlock(&fs->meta);
	if (!err && !fs->rdonly)
		err = dfs_dev_flush(fs);
	return err;
}

/* Without meta: the counters are stored atomically (internal.h), so the
 * answer is a moment's view, as statfs is anywhere. The reserved blocks are
 * free but not available, as ext4 reports its s_resv_clusters. */
int dfs_statfs(struct dfs *fs, struct statvfs *out)
{
	const uint64_t free_blocks = __atomic_load_n(&fs->free_blocks, __ATOMIC_RELAXED);
	const uint64_t free_slots = __atomic_load_n(&fs->nfree_inos, __ATOMIC_RELAXED);
	const uint64_t used = __atomic_load_n(&fs->used_inodes, __ATOMIC_RELAXED);

	memset(out, 0, sizeof(*out));
	out->f_bsize = DFS_BLOCK_SIZE;
	out->f_frsize = DFS_BLOCK_SIZE;
	out->f_blocks = fs->sb.total_blocks;
	/* blocks held back while a holder may still map them are free, but no
	 * write can have them until it lets go: available they are not */
	const uint64_t held = dfs_lease_deferred_blocks(fs) + fs->resv_blocks;

	out->f_bfree = free_blocks;
	out->f_bavail = free_blocks > held ? free_blocks - held : 0;
	out->f_ffree = free_slots + free_blocks * DFS_INODES_PER_BLOCK;
	out->f_files = out->f_ffree + used;
	/* the inode table grows into free blocks, not into the reserve */
	out->f_favail = free_slots + out->f_bavail * DFS_INODES_PER_BLOCK;
	out->f_namemax = DFS_NAME_MAX;
	uint64_t fsid;
	memcpy(&fsid, fs->sb.uuid, sizeof(fsid));
	out->f_fsid = (unsigned long)fsid;
	out->f_flag = fs->rdonly ? ST_RDONLY : 0;
	return 0;
}
