/* fs/control.c - what live device control needs from the filesystem: table checks, freeze, the cached files */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "fs/internal.h"
#include "util/err.h"

int dfs_check_table(struct dfs *fs, struct dm_table *t)
{
	uint64_t fingerprint = dm_table_layout_fingerprint(t);
	uint64_t blocks = (dm_table_size(t) << 9) >> DFS_BLOCK_SHIFT;
	int err = 0;

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
	return err;
}

int dfs_freeze(struct dfs *fs)
{
	int err = 0;

	pthread_mutex_lock(&fs->meta);
	if (!fs->thaw_ready) {
		pthread_cond_init(&fs->thaw_cond, NULL);
		fs->thaw_ready = true;
	}
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

	pthread_mutex_lock(&fs->meta);
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
	pthread_mutex_unlock(&fs->meta);
	if (err) {
		free(inos);
		return err;
	}
	*out = inos;
	*count = n;
	return 0;
}
