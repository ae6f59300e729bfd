/* fs/control.c - what live device control needs from the filesystem: table checks, freeze, the cached files */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs/internal.h"
#include "util/err.h"

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
	return err ? err : check_superblock(fs, t);
}

int dfs_freeze(struct dfs *fs)
{
	int err = 0;

	pthread_mutex_lock(&fs->meta);
	if (!fs->thaw_ready) {
		pthread_cond_init(&fs->thaw_cond, NULL);
		fs->thaw_ready = true;
	}
	__atomic_store_n(&fs->frozen, true, __ATOMIC_RELEASE);   /* also read without meta */
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
	__atomic_store_n(&fs->frozen, false, __ATOMIC_RELEASE);
	if (fs->thaw_ready)
		pthread_cond_broadcast(&fs->thaw_cond);
	pthread_mutex_unlock(&fs->meta);
}

bool dfs_frozen(struct dfs *fs)
{
	bool frozen;

	pthread_mutex_lock(&fs->meta);
	frozen = fs->frozen;
	pthread_mutex_unlock(&fs->meta);
	return frozen;
}

void dfs_wait_thawed(struct dfs *fs)
{
	/* Unmount sets stopping without knowing of the freeze, so the wait
	 * wakes now and then to look; a thaw wakes it at once. */
	while (fs->frozen && !fs->stopping) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 200 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&fs->thaw_cond, &fs->meta, &ts);
	}
}

int dfs_shutdown_error(struct dfs *fs)
{
	int err;

	pthread_mutex_lock(&fs->meta);
	err = fs->shutdown;
	pthread_mutex_unlock(&fs->meta);
	return err;
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
