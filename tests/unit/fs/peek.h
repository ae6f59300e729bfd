/* peek.h - counters of struct dfs the white-box fs tests read under its lock */
#ifndef DAXFS_TEST_FS_PEEK_H
#define DAXFS_TEST_FS_PEEK_H

#include <pthread.h>

#include "fs/internal.h"

/* Commits the filesystem has done. */
static inline uint64_t t_commits(struct dfs *fs)
{
	pthread_mutex_lock(&fs->meta);
	uint64_t n = fs->commits;
	pthread_mutex_unlock(&fs->meta);
	return n;
}

/* Calls waiting for a commit in flight. */
static inline unsigned t_commit_waiters(struct dfs *fs)
{
	pthread_mutex_lock(&fs->meta);
	unsigned n = fs->commit_waiters;
	pthread_mutex_unlock(&fs->meta);
	return n;
}

#endif
