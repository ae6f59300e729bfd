/* fs/super.c - mount, unmount, sync, statfs, and the device I/O every module goes through */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "fs/internal.h"
#include "util/err.h"

/* All metadata I/O and data zeroing go through the bio path of the mapped
 * device; durability is dm_flush / FUA, which end in the dax persist module. */

int dfs_dev_read(struct dfs *fs, uint64_t blk, void *buf, size_t n)
{
	return dm_submit_bio(fs->md, DAX_REQ_READ, 0, blk << DFS_BLOCK_SHIFT, buf,
			     n << DFS_BLOCK_SHIFT);
}

int dfs_dev_write(struct dfs *fs, uint64_t blk, const void *buf, size_t n, bool fua)
{
	return dm_submit_bio(fs->md, DAX_REQ_WRITE, fua ? DM_BIO_FUA : 0, blk << DFS_BLOCK_SHIFT,
			     (void *)buf, n << DFS_BLOCK_SHIFT);
}

/* No FUA: the zeroes only have to be durable before the metadata that makes
 * the blocks reachable commits, and every commit flushes the device before it
 * writes its commit record. */
int dfs_dev_zero(struct dfs *fs, uint64_t blk, uint64_t n)
{
	const uint64_t chunk = 1ull << 18;     /* 1 GiB per bio */

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

struct mapped_device *dfs_md(const struct dfs *fs)
{
	return fs->md;
}

/* Batched mounts commit every commit_interval_ms; synchronous ones commit in
 * every call, and the committer only picks up what a call left while the
 * device was suspended (dfs_txn_end), every DFS_COMMIT_INTERVAL_MS. */
static void *committer_main(void *arg)
{
	struct dfs *fs = arg;
	const unsigned ms = dfs_sync_mode(fs) ? DFS_COMMIT_INTERVAL_MS : fs->opts.commit_interval_ms;

	pthread_mutex_lock(&fs->meta);
	while (!fs->stopping) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += ms / 1000;
		ts.tv_nsec += (long)(ms % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&fs->commit_cond, &fs->meta, &ts);
		/* a suspended device would hold the commit, and meta, until resume */
		if (!fs->stopping && fs->ndirty && !fs->shutdown && !dfs_dev_suspended(fs))
			(void)dfs_commit(fs);   /* a failure shuts the fs down; callers see it */
	}
	pthread_mutex_unlock(&fs->meta);
	return NULL;
}

static void fs_free(struct dfs *fs)
{
	dfs_icache_destroy(fs);
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

static struct dfs *fs_alloc(struct mapped_device *md)
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

struct table_facts {
	uint64_t bytes, fingerprint;
	bool dax;
	char why_not[512];
};

static int table_facts(struct mapped_device *md, struct table_facts *f)
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

static int mount_check(struct dfs *fs, const struct table_facts *f)
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

static int super_dirty(struct dfs *fs)
{
	struct dfs_buf *b;
	int err = dfs_buf_read(fs, DFS_SB_PRIMARY, DFS_BUF_SUPER, &b);

	if (err == -EIO)    /* damaged primary: rebuild it from the in-memory copy */
		err = dfs_buf_new(fs, DFS_SB_PRIMARY, DFS_BUF_SUPER, &b);
	if (!err)
		dfs_buf_dirty(fs, b);
	return err;
}

static int mount_common(struct mapped_device *md, const struct dfs_mount_opts *opts,
			bool fsck, bool check_only, struct dfs **out)
{
	struct dfs_mount_opts defaults = { 0 };
	struct table_facts f;
	struct dfs *fs;
	struct dfs_inode *root;
	int err;

	if (!opts)
		opts = &defaults;
	if (opts->dax != DFS_DAX_INODE && opts->dax != DFS_DAX_ALWAYS && opts->dax != DFS_DAX_NEVER)
		return daxfs_err(-EINVAL, "unknown dax mode %d", (int)opts->dax);
	if (opts->commit_interval_ms > DFS_COMMIT_MAX_MS)
		return daxfs_err(-EINVAL, "commit interval %u ms is longer than the maximum %u ms",
				 opts->commit_interval_ms, DFS_COMMIT_MAX_MS);
	if ((err = table_facts(md, &f)))
		return err;
	if (!(fs = fs_alloc(md)))
		return daxfs_err(-ENOMEM, "out of memory");
	fs->opts = *opts;
	fs->rdonly = opts->rdonly || check_only;
	fs->check_only = check_only;
	fs->dax = f.dax && opts->dax != DFS_DAX_NEVER;
	if ((err = read_super(fs)) || (err = mount_check(fs, &f)))
		goto fail;
	/* the log is redone even on a read-only mount, as ext4 does */
	if ((err = dfs_journal_recover(fs)) < 0)
		goto fail;
	if (err == 1 && (err = read_super(fs)))
		goto fail;
	if ((err = dfs_alloc_load(fs)) || (err = dfs_icache_init(fs)) || (err = dfs_itable_scan(fs)))
		goto fail;
	if ((err = dfs_iget(fs, DFS_ROOT_INO, &root)))
		goto fail;
	if (!dfs_is_dir(root)) {
		err = daxfs_err(-EIO, "root inode is not a directory");
		goto fail;
	}
	if (!fs->rdonly) {
		struct dfs_timespec now;

		/* nobody else runs yet, but a commit drops and retakes meta */
		pthread_mutex_lock(&fs->meta);
		if (!fsck)
			err = dfs_orphans_process(fs);
		dfs_now(&now);
		fs->sb.state = DFS_STATE_DIRTY;
		fs->sb.mount_time = now.sec;
		fs->sb.mount_count++;
		if (!err && !(err = super_dirty(fs)))
			err = dfs_commit(fs);
		pthread_mutex_unlock(&fs->meta);
		if (err)
			goto fail;
		if (!fsck && pthread_create(&fs->committer, NULL, committer_main, fs) == 0)
			fs->committer_running = true;
	}
	*out = fs;
	return 0;
fail:
	err = daxfs_err_prefix(err, "mount %s", dm_md_name(md));
	fs_free(fs);
	return err;
}

int dfs_mount(struct mapped_device *md, const struct dfs_mount_opts *opts, struct dfs **out)
{
	return mount_common(md, opts, false, false, out);
}

int dfs_mount_fsck(struct mapped_device *md, bool check_only, struct dfs **out)
{
	/* batched: fsck commits its repairs itself */
	struct dfs_mount_opts o = { .rdonly = check_only, .dax = DFS_DAX_NEVER,
				    .commit_interval_ms = DFS_COMMIT_INTERVAL_MS };

	return mount_common(md, &o, true, check_only, out);
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
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 64;
				uint64_t *ni = realloc(inos, ncap * sizeof(*ni));
				if (!ni) {
					free(inos);
					return daxfs_err(-ENOMEM, "unmount: out of memory");
				}
				inos = ni;
				cap = ncap;
			}
			inos[n++] = ip->ino;
		}
	for (size_t k = 0; k < n && !err; k++) {
		struct dfs_inode *ip;

		if (dfs_iget(fs, inos[k], &ip))
			continue;
		pthread_mutex_lock(&fs->icache_lock);
		ip->nlookup = 0;
		ip->pins = 0;
		pthread_mutex_unlock(&fs->icache_lock);
		if (!(err = dfs_txn_reserve(fs, 64)))
			err = dfs_inode_maybe_release(fs, ip);
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
		if (!(err = release_unlinked(fs)) && !(err = dfs_commit(fs))) {
			struct dfs_timespec now;

			dfs_now(&now);
			fs->sb.state = DFS_STATE_CLEAN;
			fs->sb.write_time = now.sec;
			if (!(err = super_dirty(fs)))
				err = dfs_commit(fs);
		}
	}
	if (!err && fs->shutdown)
		err = daxfs_err(-EIO, "filesystem was shut down after an I/O error");
	pthread_mutex_unlock(&fs->meta);
	fs_free(fs);
	*fsp = NULL;
	return err;
}

void dfs_abandon(struct dfs **fsp)
{
	struct dfs *fs = *fsp;

	if (!fs)
		return;
	stop_committer(fs);
	fs_free(fs);
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
 * answer is a moment's view, as statfs is anywhere. */
int dfs_statfs(struct dfs *fs, struct statvfs *out)
{
	const uint64_t free_blocks = __atomic_load_n(&fs->free_blocks, __ATOMIC_RELAXED);
	const uint64_t free_slots = __atomic_load_n(&fs->nfree_inos, __ATOMIC_RELAXED);
	const uint64_t used = __atomic_load_n(&fs->used_inodes, __ATOMIC_RELAXED);

	memset(out, 0, sizeof(*out));
	out->f_bsize = DFS_BLOCK_SIZE;
	out->f_frsize = DFS_BLOCK_SIZE;
	out->f_blocks = fs->sb.total_blocks;
	out->f_bfree = free_blocks;
	out->f_bavail = free_blocks;
	out->f_ffree = free_slots + free_blocks * DFS_INODES_PER_BLOCK;
	out->f_files = out->f_ffree + used;
	out->f_favail = out->f_ffree;
	out->f_namemax = DFS_NAME_MAX;
	uint64_t fsid;
	memcpy(&fsid, fs->sb.uuid, sizeof(fsid));
	out->f_fsid = (unsigned long)fsid;
	out->f_flag = fs->rdonly ? ST_RDONLY : 0;
	return 0;
}

/* ---- mkfs ---- */

static uint64_t div_up(uint64_t a, uint64_t b)
{
	return a / b + (a % b != 0);
}

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
			struct dfs_gd gd = { .free = (uint32_t)(end - start - (g ? 0 : fs->sb.data_start)) };
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
		if (dfs_dev_read(fs, blk, b, 1) == 0 && dfs_get64(b) == DFS_MAGIC) {
			if (dfs_super_decode(b, blk, &old) == 0)
				err = daxfs_err(-EEXIST, "%s already contains a daxfs (label '%s'); "
						"use force to overwrite it", dm_md_name(fs->md), old.label);
			else
				err = daxfs_err(-EEXIST, "%s already contains a (damaged) daxfs; "
						"use force to overwrite it", dm_md_name(fs->md));
		}
	}
	free(b);
	return err;
}

int dfs_mkfs(struct mapped_device *md, const struct dfs_mkfs_opts *opts)
{
	struct dfs_mkfs_opts defaults = { 0 };
	struct table_facts f;
	struct dfs *fs;
	struct dfs_timespec now;
	int err;

	if (!opts)
		opts = &defaults;
	if (opts->label && strlen(opts->label) > 63)
		return daxfs_err(-EINVAL, "label '%s' is longer than 63 bytes", opts->label);
	if ((err = table_facts(md, &f)))
		return err;
	uint64_t total = f.bytes >> DFS_BLOCK_SHIFT;
	if (total < DFS_MIN_BLOCKS)
		return daxfs_err(-EINVAL, "%s is too small: %llu bytes, daxfs needs at least %u MiB "
				 "(superblocks, journal and one group of data)", dm_md_name(md),
				 (unsigned long long)f.bytes, DFS_MIN_BLOCKS / 256);
	if (!(fs = fs_alloc(md)))
		return daxfs_err(-ENOMEM, "out of memory");
	if ((err = mkfs_refuse_existing(fs, opts->force)))
		goto out;

	struct dfs_super *sb = &fs->sb;
	dfs_now(&now);
	sb->major = DFS_VERSION_MAJOR;
	sb->minor = DFS_VERSION_MINOR;
	sb->total_blocks = total;
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
	sb->blocks_per_group = DFS_BLOCKS_PER_GROUP;
	sb->ngroups = div_up(total, DFS_BLOCKS_PER_GROUP);
	sb->journal_start = 2;
	sb->journal_blocks = total / 32 < 256 ? 256 : total / 32 > 8192 ? 8192 : total / 32;
	sb->gdt_start = sb->journal_start + sb->journal_blocks;
	sb->gdt_blocks = (uint32_t)div_up(sb->ngroups, DFS_GD_PER_BLOCK);
	sb->data_start = sb->gdt_start + sb->gdt_blocks;
	sb->next_generation = 1;
	sb->mkfs_time = sb->write_time = now.sec;
	if (sb->data_start + 64 > total || sb->data_start > DFS_BLOCKS_PER_GROUP / 2) {
		err = daxfs_err(-EINVAL, "%s is too small for its metadata", dm_md_name(md));
		goto out;
	}
	uint64_t seq;
	if (getrandom(&seq, sizeof(seq), 0) != sizeof(seq))
		seq = (uint64_t)now.sec;
	seq = (seq >> 16) + 1;      /* leave room to count up */
	if ((err = mkfs_write_gdt(fs)) || (err = dfs_journal_format(md, sb, seq)))
		goto out;
	fs->jseq = fs->running_tid = seq;
	fs->committed_tid = seq - 1;
	fs->jcap = 0;
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
	fs_free(fs);
	return err;
}
