/* fs/rename.c - rename, exchange and the checks that keep the tree a tree */
#include <errno.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/internal.h"
#include "fs/namei.h"
#include "util/err.h"

/* Directory anc moved into dir: -EINVAL if dir is anc or below it (the
 * move would cut the subtree off), -EIO if the parents loop. */
static int outside_of(struct dfs *fs, uint64_t dir, uint64_t anc)
{
	uint64_t guard = 0;

	for (uint64_t cur = dir;; ) {
		struct dfs_inode *ip;

		if (cur == anc)
			return daxfs_err(-EINVAL, "rename: cannot move a directory into its own subtree");
		if (cur == DFS_ROOT_INO)
			return 0;
		if (++guard > fs->itable_slots || dfs_iget(fs, cur, &ip))
			return daxfs_err(-EIO, "directory tree loops at inode %llu", (unsigned long long)cur);
		cur = ip->d.parent;
	}
}

static void set_parent(struct dfs_inode *child, struct dfs_inode *newp, struct dfs_inode *oldp)
{
	if (!dfs_is_dir(child) || newp == oldp)
		return;
	child->d.parent = newp->ino;
	oldp->d.nlink--;
	newp->d.nlink++;
}

/* Locks sp and dp (pinned), the inode name names in sp (*src) and the one
 * newname names in dp (*dst, NULL if none), all pinned, with both names
 * checked under the locks. */
static int rename_lock_all(struct dfs *fs, struct dfs_inode *sp, const char *name,
			   struct dfs_inode *dp, const char *newname, struct dfs_lockset *l,
			   struct dfs_inode **src, struct dfs_inode **dst)
{
	uint64_t sino, dino = 0, s2, d2 = 0;
	int err, found, f2;

	for (;;) {
		*l = (struct dfs_lockset){ .n = 0 };
		*src = *dst = NULL;
		dfs_lockset_add(l, sp);
		dfs_lockset_add(l, dp);
		dfs_lockset_lock(l);
		if (!dfs_is_dir(sp) || !dfs_is_dir(dp)) {
			err = dfs_ns_not_dir(dfs_is_dir(sp) ? dp->ino : sp->ino);
			break;
		}
		if ((err = dfs_ns_dir_lookup(fs, sp, name, &sino)))
			break;
		found = dfs_ns_dir_lookup(fs, dp, newname, &dino);
		if (found != 0 && found != -ENOENT) {
			err = found;
			break;
		}
		if ((err = dfs_iget_pin(fs, sino, src)))
			break;
		if (found == 0 && (err = dfs_iget_pin(fs, dino, dst)))
			break;
		if (!dfs_lockset_lock_more(l, *src, *dst))
			return 0;
		if (dfs_ns_dir_lookup(fs, sp, name, &s2) == 0 && s2 == sino &&
		    (f2 = dfs_ns_dir_lookup(fs, dp, newname, &d2)) == found && (found || d2 == dino))
			return 0;
		dfs_lockset_unlock(l);      /* changed meanwhile: again */
		dfs_iput(fs, *src);
		if (*dst)
			dfs_iput(fs, *dst);
	}
	dfs_lockset_unlock(l);
	l->n = 0;
	if (*src)
		dfs_iput(fs, *src);
	return err;
}

static int rename_entry(struct dfs *fs, uint64_t dir, const char *name, uint64_t newdir,
			const char *newname, unsigned flags)
{
	int err;
	struct dfs_inode *sp, *dp, *src = NULL, *dst = NULL;
	struct dfs_lockset l = { .n = 0 };
	uint64_t sino, dino, tid = 0;

	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE) ||
	    ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE)))
		return daxfs_err(-EINVAL, "rename: invalid flags 0x%x", flags);
	if ((err = dfs_ns_check_name(name)) || (err = dfs_ns_check_name(newname)))
		return err;
	if (dfs_ns_is_dot(name) || dfs_ns_is_dot(newname))
		return daxfs_err(-EBUSY, "rename: cannot rename '.' or '..'");
	/* between directories the subtree check walks parent links, which
	 * only such a rename changes: one at a time, as the kernel does */
	const bool cross = dir != newdir;
	if (cross)
		pthread_mutex_lock(&fs->rename_lock);
	if ((err = dfs_iget_pin(fs, dir, &sp)))
		goto unlock_rename;
	if ((err = dfs_iget_pin(fs, newdir, &dp)))
		goto put_sp;
	if ((err = rename_lock_all(fs, sp, name, dp, newname, &l, &src, &dst)))
		goto put_dp;
	sino = src->ino;
	dino = dst ? dst->ino : 0;
	if ((err = dfs_ns_meta_begin(fs)))
		goto unlock;
	/* As create and link: an entry in a removed directory would hold its
	 * inode after the directory is freed, in use and unreachable. */
	if (dp->d.nlink == 0) {
		err = daxfs_err(-ENOENT, "rename: directory %llu was removed",
				(unsigned long long)newdir);
		goto out;
	}
	if ((flags & RENAME_EXCHANGE) && !dst) {
		err = daxfs_err(-ENOENT, "rename: exchange target '%s' does not exist", newname);
		goto out;
	}
	if (dst && (flags & RENAME_NOREPLACE)) {
		err = daxfs_err(-EEXIST, "rename: '%s' exists", newname);
		goto out;
	}
	if (dst == src)
		goto out;     /* two names of one inode: nothing to do */
	if (dfs_is_dir(src) && sp != dp && (err = outside_of(fs, newdir, sino)))
		goto out;
	/* the link counts this lowers, before anything changes */
	if ((dfs_is_dir(src) && sp != dp && (err = dfs_nlink_check(sp, 3))) ||
	    (dst && dfs_is_dir(dst) && (sp != dp || !(flags & RENAME_EXCHANGE)) &&
	     (err = dfs_nlink_check(dp, 3))) ||
	    (dst && !dfs_is_dir(dst) && !(flags & RENAME_EXCHANGE) && (err = dfs_nlink_check(dst, 1))))
		goto out;
	if (flags & RENAME_EXCHANGE) {
		if (dfs_is_dir(dst) && sp != dp && (err = outside_of(fs, dir, dino)))
			goto out;
		if ((err = dfs_dir_replace(fs, sp, name, dino, dst->d.mode)) ||
		    (err = dfs_dir_replace(fs, dp, newname, sino, src->d.mode)))
			goto out;
		set_parent(src, dp, sp);
		set_parent(dst, sp, dp);
		dfs_ns_touch(dst, false);
	} else {
		if (dst) {
			if (dfs_is_dir(src) && !dfs_is_dir(dst)) {
				err = daxfs_err(-ENOTDIR, "rename: '%s' is not a directory", newname);
				goto out;
			}
			if (!dfs_is_dir(src) && dfs_is_dir(dst)) {
				err = daxfs_err(-EISDIR, "rename: '%s' is a directory", newname);
				goto out;
			}
			if (dfs_is_dir(dst) && !dfs_dir_is_empty(fs, dst)) {
				err = daxfs_err(-ENOTEMPTY, "rename: directory '%s' is not empty", newname);
				goto out;
			}
			if ((err = dfs_dir_replace(fs, dp, newname, sino, src->d.mode)))
				goto out;
			if (dfs_is_dir(dst)) {
				dst->d.nlink = 0;
				dp->d.nlink--;
			} else {
				dst->d.nlink--;
			}
			dfs_ns_touch(dst, false);
		} else {
			if (dfs_is_dir(src) && sp != dp && dp->d.nlink >= DFS_LINK_MAX) {
				err = daxfs_err(-EMLINK, "rename: target directory has too many links");
				goto out;
			}
			if ((err = dfs_dir_add(fs, dp, newname, sino, src->d.mode)))
				goto out;
		}
		if ((err = dfs_dir_remove(fs, sp, name)))
			goto out;
		set_parent(src, dp, sp);
	}
	dfs_ns_touch(src, false);
	dfs_ns_touch(sp, true);
	dfs_ns_touch(dp, true);
	if ((err = dfs_inode_write(fs, src)) || (err = dfs_inode_write(fs, sp)) ||
	    (err = dfs_inode_write(fs, dp)) || (dst && (err = dfs_inode_write(fs, dst))))
		goto out;
	if (dst && !(flags & RENAME_EXCHANGE) && dst != sp && dst != dp) {
		/* meta keeps the inode valid unpinned; the release may free it */
		struct dfs_inode *victim = dst;
		dfs_lockset_drop(&l, victim);
		dfs_iunpin_locked(fs, victim);
		dst = NULL;
		err = dfs_inode_maybe_release(fs, victim);
	}
out:
	err = dfs_ns_meta_end(fs, err, &tid);
unlock:
	dfs_lockset_unlock(&l);
	dfs_iput(fs, src);
	if (dst)
		dfs_iput(fs, dst);
put_dp:
	dfs_iput(fs, dp);
put_sp:
	dfs_iput(fs, sp);
unlock_rename:
	if (cross)
		pthread_mutex_unlock(&fs->rename_lock);
	return dfs_txn_wait(fs, tid, err);
}

int dfs_rename(struct dfs *fs, uint64_t dir, const char *name, uint64_t newdir,
	       const char *newname, unsigned flags)
{
	int err = dfs_start_write(fs);

	if (err)
		return err;
	err = rename_entry(fs, dir, name, newdir, newname, flags);
	dfs_end_write(fs);
	return err;
}
