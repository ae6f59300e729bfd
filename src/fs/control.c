/* fs/control.c - what live device control needs from the filesystem: table checks, freeze, the cached files */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs/internal.h"
#include "util/err.h"
#include "util/intr.h"

/* The superblock the staged table shows at block 0, read through it, must be
 * ours too (its member is verified; this catches a member whose label
 * survived while its start was overwritten). Unreadable, as through an error
 * target: no verdict, the error path of a table is not this check's. */
static int check_superblock(struct dfs *fs, struct dm_table *t)
{
	uint8_t *b = malloc(DFS_BLOCK_SIZE);
	struct dfs_super sb;
	int err = 0;

	if (!b)
		return daxfs_err(-ENOMEM, "out of memory");
	if (dm_table_read(t, DFS_SB_PRIMARY * DFS_BLOCK_SIZE, b, DFS_BLOCK_SIZE) == 0) {
		if (dfs_super_decode(b, DFS_SB_PRIMARY, &sb) < 0)
			err = daxfs_err(-EINVAL, "the table holds no daxfs superblock at block 0: %s",
					daxfs_errormsg());
		else if (memcmp(sb.uuid, fs->sb.uuid, sizeof(sb.uuid)) != 0)
			err = daxfs_err(-EINVAL, "the table holds another filesystem's superblock "
					"at block 0");
	} else {
		daxfs_err_clear();
	}
	free(b);
	return err;
}

/* Reads n bytes at off of member index of t into buf, or zeroes for a hole */
static int read_or_zero(struct dm_table *t, unsigned index, uint64_t off, bool data, void *buf,
			size_t n)
{
	if (!data) {
		memset(buf, 0, n);
		return 0;
	}
	return dm_table_member_read(t, index, off, buf, n);
}

/* The first differing byte of [off, off + n) of the two areas, or
 * UINT64_MAX; a page the live member cannot give is no verdict: its bytes
 * are gone, and a copy is what replaces them. */
static int compare_run(struct dm_table *live, unsigned li, bool ldata, struct dm_table *t,
		       unsigned ti, bool tdata, uint64_t off, size_t n, uint8_t *a, uint8_t *b,
		       uint64_t *at)
{
	int err;

	if (read_or_zero(live, li, off, ldata, a, n) < 0) {
		daxfs_err_clear();
		if (n > DFS_BLOCK_SIZE) {       /* page by page, to skip only the bad ones */
			for (size_t p = 0; p < n && *at == UINT64_MAX; p += DFS_BLOCK_SIZE) {
				size_t m = n - p < DFS_BLOCK_SIZE ? n - p : DFS_BLOCK_SIZE;

				if ((err = compare_run(live, li, ldata, t, ti, tdata, off + p, m, a, b,
						       at)) < 0)
					return err;
			}
		}
		return 0;
	}
	if ((err = read_or_zero(t, ti, off, tdata, b, n)) < 0)
		return err;
	if (memcmp(a, b, n) != 0)
		for (size_t i = 0; i < n && *at == UINT64_MAX; i++)
			if (a[i] != b[i])
				*at = off + i;
	return 0;
}

/* Where the two areas' bytes first differ; UINT64_MAX when they are the
 * same, or an error. Holes of either file read as zeroes without a read:
 * reading one through the mapping would give a sparse file its pages. */
static int first_difference(struct dm_table *live, unsigned li, struct dm_table *t, unsigned ti,
			    uint64_t bytes, uint64_t *at)
{
	const size_t chunk = 1u << 20;
	uint8_t *a = malloc(chunk), *b = malloc(chunk);
	uint64_t off = 0;
	int err = 0;

	*at = UINT64_MAX;
	if (!a || !b)
		err = daxfs_err(-ENOMEM, "out of memory");
	while (off < bytes && !err && *at == UINT64_MAX) {
		uint64_t lend, tend, end;
		bool ldata, tdata;

		if ((err = dm_table_member_extent(live, li, off, &ldata, &lend)) < 0 ||
		    (err = dm_table_member_extent(t, ti, off, &tdata, &tend)) < 0)
			break;
		end = lend < tend ? lend : tend;
		end = end - off > chunk ? off + chunk : end;
		if (ldata || tdata)
			err = compare_run(live, li, ldata, t, ti, tdata, off, (size_t)(end - off), a, b,
					  at);
		off = end;
	}
	free(a);
	free(b);
	return err;
}

/* What table t has in member m's place (false: none, as an error target) */
static bool member_in(const struct dm_table *t, const struct dfs_member *m, struct dm_member *out)
{
	unsigned first, count;

	if (!t || dm_table_target_members(t, m->target, &first, &count) < 0 ||
	    count != m->nstripes || dm_table_get_member(t, first + m->stripe, out) < 0) {
		daxfs_err_clear();
		return false;
	}
	return true;
}

void dfs_note_live_table(struct dfs *fs)
{
	struct dm_table *live = dm_md_get_live_table(fs->md);

	if (!fs->member_tables)
		fs->member_tables = calloc(fs->sb.nmembers, sizeof(*fs->member_tables));
	for (uint32_t k = 0; live && fs->member_tables && k < fs->sb.nmembers; k++) {
		struct dm_member dm;

		if (!member_in(live, &fs->members[k], &dm))
			continue;       /* an error or zero target: the member before stays */
		dm_table_put(&fs->member_tables[k]);
		fs->member_tables[k] = dm_md_get_live_table(fs->md);
	}
	dm_table_put(&live);
}

void dfs_forget_live_tables(struct dfs *fs)
{
	for (uint32_t k = 0; fs->member_tables && k < fs->sb.nmembers; k++)
		dm_table_put(&fs->member_tables[k]);
	free(fs->member_tables);
	fs->member_tables = NULL;
}

/*
 * A member the staged table reads from another file than the last live
 * table that had that member (or from another place in it) must be a copy
 * of it as it is now: the device is suspended and the filesystem frozen, so
 * that member holds all the filesystem has (an error target in its place
 * since changed nothing in it). A copy taken before (a backup put back, a
 * copy made while writes went on) carries the right labels, and going live
 * it would roll back acknowledged writes under the filesystem's cached
 * metadata.
 */
static int check_copies(struct dfs *fs, struct dm_table *t)
{
	int err = 0;

	for (uint32_t k = 0; fs->member_tables && k < fs->sb.nmembers && !err; k++) {
		struct dm_member now, next;
		uint64_t at;

		/* never live there: nothing to match */
		if (!member_in(t, &fs->members[k], &next) ||
		    !member_in(fs->member_tables[k], &fs->members[k], &now))
			continue;
		if (now.st_dev == next.st_dev && now.st_ino == next.st_ino && now.offset == next.offset)
			continue;
		if ((err = first_difference(fs->member_tables[k], now.index, t, next.index,
					    next.length << 9, &at)) == 0 && at != UINT64_MAX)
			err = daxfs_err(-EINVAL, "%s does not hold what the member in use (%s%s) "
					"holds now: its byte %llu differs; a copy taken before the last "
					"writes? copy a member only while the device is suspended", next.path,
					strcmp(now.path, next.path) ? "" : "the file the mount opened as ",
					now.path, (unsigned long long)((next.offset << 9) + at));
	}
	return err;
}

int dfs_check_table(struct dfs *fs, struct dm_table *t)
{
	uint64_t fingerprint = dm_table_layout_fingerprint(t);
	uint64_t blocks = (dm_table_size(t) << 9) >> DFS_BLOCK_SHIFT;
	int err;

	/* the member table and the uuid never change after mount */
	if ((err = dfs_members_verify(t, &fs->sb, fs->members, NULL)))
		return err;
	pthread_mutex_lock(&fs->meta);
	if (fs->sb.fingerprint != fingerprint)
		err = daxfs_err(-EINVAL, "table layout does not match the one the filesystem was "
				"made on (fingerprint %016llx, table %016llx): targets missing, "
				"resized or in another order",
				(unsigned long long)fs->sb.fingerprint,
				(unsigned long long)fingerprint);
	else if (fs->sb.total_blocks > blocks)
		err = daxfs_err(-EINVAL, "filesystem has %llu blocks but the table only %llu",
				(unsigned long long)fs->sb.total_blocks,
				(unsigned long long)blocks);
	pthread_mutex_unlock(&fs->meta);
	if (!err)
		err = check_superblock(fs, t);
	return err ? err : check_copies(fs, t);
}

/* The write gate: sb_start_write, whose waiters a FUSE INTERRUPT can send
 * away (the kernel's writers wait in D state; a FUSE server can do better,
 * since nothing has been changed yet). */
/* A thread past the gate of one fs passes it again without waiting: a
 * freeze waits for that thread, which must not wait for the freeze. */
static _Thread_local struct dfs *gate_fs;
static _Thread_local unsigned gate_depth;

int dfs_start_write(struct dfs *fs)
{
	int err = dfs_check_writable(fs);

	if (err)
		return err;
	if (gate_depth && gate_fs == fs) {
		gate_depth++;
		pthread_mutex_lock(&fs->freeze_lock);
		fs->writers++;
		pthread_mutex_unlock(&fs->freeze_lock);
		return 0;
	}
	/* arm without freeze_lock, which the wake-up takes; a freeze that
	 * begins after this look is noticed by the poll */
	bool frozen = __atomic_load_n(&fs->freezing, __ATOMIC_RELAXED);

	if (frozen) {
		daxfs_intr_arm();
		daxfs_intr_waiting(true);
	}
	pthread_mutex_lock(&fs->freeze_lock);
	while (fs->freezing) {
		struct timespec ts;

		if (daxfs_intr_pending()) {
			pthread_mutex_unlock(&fs->freeze_lock);
			if (frozen)
				daxfs_intr_waiting(false);
			return daxfs_err(-EINTR, "interrupted while waiting for the frozen "
					 "filesystem to thaw");
		}
		/* the interrupt callback wakes us (dfs_interrupt_waits); the
		 * timeout is for interruptions nobody announces */
		daxfs_intr_deadline(&ts);
		fs->writers_waiting++;
		pthread_cond_timedwait(&fs->freeze_cond, &fs->freeze_lock, &ts);
		fs->writers_waiting--;
	}
	fs->writers++;
	pthread_mutex_unlock(&fs->freeze_lock);
	if (frozen)
		daxfs_intr_waiting(false);
	if (gate_depth == 0)
		gate_fs = fs;
	if (gate_fs == fs)
		gate_depth++;
	return 0;
}

void dfs_end_write(struct dfs *fs)
{
	if (gate_depth && gate_fs == fs && --gate_depth == 0)
		gate_fs = NULL;
	pthread_mutex_lock(&fs->freeze_lock);
	if (fs->writers == 0) {
		fprintf(stderr, "daxfs: dfs_end_write without dfs_start_write\n");
		abort();
	}
	if (--fs->writers == 0 && fs->freezing)
		pthread_cond_broadcast(&fs->freeze_cond);
	pthread_mutex_unlock(&fs->freeze_lock);
}

void dfs_interrupt_waits(struct dfs *fs)
{
	pthread_mutex_lock(&fs->freeze_lock);
	pthread_cond_broadcast(&fs->freeze_cond);
	pthread_mutex_unlock(&fs->freeze_lock);
	/* and the bios of ours that wait for a suspended device */
	dm_md_interrupt_waits(fs->md);
}

int dfs_freeze(struct dfs *fs)
{
	int err = 0;

	/* freeze_super's SB_FREEZE_WRITE: new writers wait at the gate, and
	 * the ones past it finish (their transactions still run) */
	pthread_mutex_lock(&fs->freeze_lock);
	__atomic_store_n(&fs->freezing, true, __ATOMIC_RELAXED);   /* also read without the lock */
	if (fs->freeze_hook)
		fs->freeze_hook(fs->freeze_arg, true);
	while (fs->writers)
		pthread_cond_wait(&fs->freeze_cond, &fs->freeze_lock);
	pthread_mutex_unlock(&fs->freeze_lock);

	/* sync, then SB_FREEZE_FS: what is left waits in dfs_txn_reserve */
	pthread_mutex_lock(&fs->meta);
	fs->frozen = true;
	/* A shut-down or read-only fs has nothing to write; the freeze still
	 * holds writers, as bdev_freeze does. */
	if (!fs->rdonly && !fs->shutdown && !fs->check_only)
		err = dfs_commit(fs);
	pthread_mutex_unlock(&fs->meta);
	/* A failed sync shuts the fs down (dfs_commit); the suspend goes on, as
	 * the kernel's does when freeze_super's sync fails. */
	return err < 0 && err != -EIO ? err : 0;
}

void dfs_thaw(struct dfs *fs)
{
	pthread_mutex_lock(&fs->meta);
	fs->frozen = false;
	pthread_cond_broadcast(&fs->thaw_cond);
	pthread_mutex_unlock(&fs->meta);
	pthread_mutex_lock(&fs->freeze_lock);
	__atomic_store_n(&fs->freezing, false, __ATOMIC_RELAXED);
	if (fs->freeze_hook)
		fs->freeze_hook(fs->freeze_arg, false);
	pthread_cond_broadcast(&fs->freeze_cond);
	pthread_mutex_unlock(&fs->freeze_lock);
}

void dfs_set_freeze_hook(struct dfs *fs, void (*fn)(void *arg, bool frozen), void *arg)
{
	pthread_mutex_lock(&fs->freeze_lock);
	fs->freeze_hook = fn;
	fs->freeze_arg = arg;
	pthread_mutex_unlock(&fs->freeze_lock);
}

/* Without meta: a commit may hold it for as long as a suspended device
 * holds its bios, and status must still answer. */
void dfs_freeze_state(struct dfs *fs, struct dfs_freeze_state *out)
{
	pthread_mutex_lock(&fs->freeze_lock);
	*out = (struct dfs_freeze_state){
		.frozen = fs->freezing,
		.writers = fs->writers,
		.writers_waiting = fs->writers_waiting,
	};
	pthread_mutex_unlock(&fs->freeze_lock);
}

bool dfs_frozen(struct dfs *fs)
{
	struct dfs_freeze_state st;

	dfs_freeze_state(fs, &st);
	return st.frozen;
}

void dfs_wait_thawed(struct dfs *fs)
{
	/* Unmount sets stopping without knowing of the freeze, so the wait
	 * wakes now and then to look; a thaw wakes it at once. */
	bool waited = false;

	while (fs->frozen && !fs->stopping) {
		struct timespec ts;

		if (!waited)
			daxfs_intr_waiting(waited = true);
		daxfs_intr_deadline(&ts);
		pthread_cond_timedwait(&fs->thaw_cond, &fs->meta, &ts);
	}
	if (waited)
		daxfs_intr_waiting(false);
}

void dfs_uuid(struct dfs *fs, uint8_t out[16])
{
	memcpy(out, fs->sb.uuid, 16);     /* fixed at mkfs */
}

int dfs_shutdown_error(struct dfs *fs)
{
	/* set under meta (dfs_commit), read without it, as dfs_check_writable does */
	return __atomic_load_n(&fs->shutdown, __ATOMIC_ACQUIRE);
}

int dfs_cached_files(struct dfs *fs, uint64_t **out, size_t *count)
{
	uint64_t *inos = NULL;
	size_t n = 0, cap = 0;
	int err = 0;

	/* meta: d.mode is written under it; icache_lock: the hash, nlookup */
	pthread_mutex_lock(&fs->meta);
	pthread_mutex_lock(&fs->icache_lock);
	for (size_t i = 0; i < fs->ihash_size && !err; i++)
		for (struct dfs_inode *ip = fs->ihash[i]; ip; ip = ip->hnext) {
			if (!dfs_is_reg(ip) || ip->nlookup == 0)
				continue;
			if (n == cap) {
				size_t ncap = cap ? 2 * cap : 64;
				uint64_t *p = realloc(inos, ncap * sizeof(*p));

				if (!p) {
					err = daxfs_err(-ENOMEM, "out of memory");
					break;
				}
				inos = p;
				cap = ncap;
			}
			inos[n++] = ip->ino;
		}
	pthread_mutex_unlock(&fs->icache_lock);
	pthread_mutex_unlock(&fs->meta);
	if (err) {
		free(inos);
		return err;
	}
	*out = inos;
	*count = n;
	return 0;
}
