/* fs/readdir.c - listing a directory in batches, one inode lock at a time */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/internal.h"
#include "fs/namei.h"
#include "util/err.h"

/* Entries are read in batches under the directory's lock and handed out
 * after it is dropped, so that the stat of each (readdirplus) takes only
 * that inode's lock: a reader holds one inode lock at a time. */
#define RD_BATCH 32

struct rd_ent {
	uint64_t ino;
	off_t next;
	unsigned type;
	char name[DFS_NAME_MAX + 1];
};

struct rd_batch {
	struct rd_ent e[RD_BATCH];
	unsigned n;
};

static int rd_collect(void *arg, const char *name, uint64_t ino, unsigned type, off_t next)
{
	struct rd_batch *b = arg;
	struct rd_ent *e = &b->e[b->n++];

	e->ino = ino;
	e->next = next;
	e->type = type;
	snprintf(e->name, sizeof(e->name), "%s", name);
	return b->n == RD_BATCH;
}

/* The entries of dp from pos, at most RD_BATCH; dp's parent in *parent. */
static int rd_read(struct dfs *fs, struct dfs_inode *dp, off_t pos, struct rd_batch *b,
		   uint64_t *parent, struct stat *self)
{
	int err = 0;

	b->n = 0;
	pthread_rwlock_rdlock(&dp->lock);
	if (!dfs_is_dir(dp)) {
		err = dfs_ns_not_dir(dp->ino);
	} else {
		*parent = dp->d.parent;
		if (self)
			dfs_inode_stat(fs, dp, self);
		if (pos >= (off_t)DFS_DIR_HDR) {
			dfs_buf_use_begin(fs);
			err = dfs_dir_iterate(fs, dp, pos, rd_collect, b);
			dfs_buf_use_end(fs);
		}
	}
	pthread_rwlock_unlock(&dp->lock);
	return err;
}

int dfs_readdir(struct dfs *fs, uint64_t dir, off_t pos, bool plus, dfs_filldir_t fill,
		void *ctx)
{
	struct dfs_inode *dp;
	struct rd_batch *b = malloc(sizeof(*b));
	uint64_t parent = 0;
	struct stat st;
	int err;

	if (!b)
		return daxfs_err(-ENOMEM, "readdir: out of memory");
	if ((err = dfs_iget_pin(fs, dir, &dp))) {
		free(b);
		return err;
	}
	if ((err = rd_read(fs, dp, 0, b, &parent, &st)))
		goto out;
	if (pos == 0) {
		if (fill(ctx, ".", &st, 1))
			goto out;
		pos = 1;
	}
	if (pos == 1) {
		if ((err = dfs_ns_stat(fs, parent, false, &st)))
			goto out;
		if (fill(ctx, "..", &st, DFS_DIR_HDR))
			goto out;
		pos = DFS_DIR_HDR;
	}
	do {
		if ((err = rd_read(fs, dp, pos, b, &parent, NULL)))
			break;
		for (unsigned i = 0; i < b->n; i++) {
			const struct rd_ent *e = &b->e[i];
			struct dfs_inode *ip = NULL;

			st = (struct stat){ .st_ino = e->ino, .st_mode = (mode_t)e->type << 12 };
			if (plus) {
				err = dfs_iget_pin(fs, e->ino, &ip);
				if (err == -ESTALE) {
					/* removed, and freed, since the batch was read */
					err = 0;
					pos = e->next;
					continue;
				}
				if (err)
					goto out;
				pthread_rwlock_rdlock(&ip->lock);
				dfs_inode_stat(fs, ip, &st);
				pthread_rwlock_unlock(&ip->lock);
			}
			const bool full = fill(ctx, e->name, &st, e->next) != 0;
			if (ip) {
				if (!full)
					dfs_inode_ref(fs, ip, 1);
				dfs_iput(fs, ip);
			}
			if (full)
				goto out;
			pos = e->next;
		}
	} while (b->n == RD_BATCH);
out:
	dfs_iput(fs, dp);
	free(b);
	return err;
}
