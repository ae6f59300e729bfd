/* fs/lockset.c - the inode locks and the meta section of one namespace change, taken in order */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/internal.h"
#include "fs/namei.h"
#include "util/err.h"

static bool ls_has(const struct dfs_lockset *l, const struct dfs_inode *ip)
{
	for (unsigned i = 0; i < l->n; i++)
		if (l->ip[i] == ip)
			return true;
	return false;
}

void dfs_lockset_add(struct dfs_lockset *l, struct dfs_inode *ip)
{
	unsigned i = l->n;

	if (!ip || ls_has(l, ip))
		return;
	if (l->n == DFS_LOCKSET_MAX)
		abort();    /* no call changes more than four inodes */
	for (; i > 0 && l->ip[i - 1]->ino > ip->ino; i--)
		l->ip[i] = l->ip[i - 1];
	l->ip[i] = ip;
	l->n++;
}

void dfs_lockset_lock(struct dfs_lockset *l)
{
	for (unsigned i = 0; i < l->n; i++)
		pthread_rwlock_wrlock(&l->ip[i]->lock);
}

void dfs_lockset_unlock(struct dfs_lockset *l)
{
	for (unsigned i = l->n; i-- > 0; )
		pthread_rwlock_unlock(&l->ip[i]->lock);
}

void dfs_lockset_drop(struct dfs_lockset *l, struct dfs_inode *ip)
{
	for (unsigned i = 0; i < l->n; i++)
		if (l->ip[i] == ip) {
			pthread_rwlock_unlock(&ip->lock);
			memmove(&l->ip[i], &l->ip[i + 1], (l->n - i - 1) * sizeof(l->ip[0]));
			l->n--;
			return;
		}
}

bool dfs_lockset_lock_more(struct dfs_lockset *l, struct dfs_inode *a, struct dfs_inode *b)
{
	uint64_t max = l->n ? l->ip[l->n - 1]->ino : 0;
	bool in_order = (!a || ls_has(l, a) || a->ino > max) && (!b || ls_has(l, b) || b->ino > max);

	if (in_order) {
		struct dfs_lockset add = { .n = 0 };

		if (a && !ls_has(l, a))
			dfs_lockset_add(&add, a);
		if (b && !ls_has(l, b))
			dfs_lockset_add(&add, b);
		dfs_lockset_lock(&add);
		for (unsigned i = 0; i < add.n; i++)
			l->ip[l->n++] = add.ip[i];
		return false;
	}
	dfs_lockset_unlock(l);
	dfs_lockset_add(l, a);
	dfs_lockset_add(l, b);
	dfs_lockset_lock(l);
	return true;
}

int dfs_ns_meta_begin(struct dfs *fs)
{
	int err;

	pthread_mutex_lock(&fs->meta);
	if ((err = dfs_txn_reserve(fs, DFS_NS_RESERVE)))
		pthread_mutex_unlock(&fs->meta);
	return err;
}

int dfs_ns_meta_end(struct dfs *fs, int err, uint64_t *tid)
{
	*tid = dfs_txn_stop(fs);
	dfs_icache_trim(fs);
	pthread_mutex_unlock(&fs->meta);
	return err;
}
