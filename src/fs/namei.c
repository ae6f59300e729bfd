/* fs/namei.c - the namespace: lookup, create, link, unlink */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/internal.h"
#include "fs/namei.h"
#include "util/err.h"

int dfs_ns_check_name(const char *name)
{
	size_t len = name ? strlen(name) : 0;

	if (len == 0)
		return daxfs_err(-EINVAL, "empty name");
	if (len > DFS_NAME_MAX)
		return daxfs_err(-ENAMETOOLONG, "name is longer than %u bytes", DFS_NAME_MAX);
	if (strchr(name, '/'))
		return daxfs_err(-EINVAL, "name contains '/'");
	return 0;
}

bool dfs_ns_is_dot(const char *name)
{
	return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

void dfs_ns_touch(struct dfs_inode *ip, bool mtime)
{
	dfs_now(&ip->d.ctime);
	if (mtime)
		ip->d.mtime = ip->d.ctime;
}

int dfs_ns_not_dir(uint64_t ino)
{
	return daxfs_err(-ENOTDIR, "inode %llu is not a directory", (unsigned long long)ino);
}

int dfs_ns_dir_lookup(struct dfs *fs, struct dfs_inode *dp, const char *name, uint64_t *ino)
{
	dfs_buf_use_begin(fs);
	int err = dfs_dir_lookup(fs, dp, name, ino);
	dfs_buf_use_end(fs);
	return err;
}

int dfs_ns_stat(struct dfs *fs, uint64_t ino, bool ref, struct stat *out)
{
	struct dfs_inode *ip;
	int err = dfs_iget_pin(fs, ino, &ip);

	if (err)
		return err;
	pthread_rwlock_rdlock(&ip->lock);
	dfs_inode_stat(fs, ip, out);
	if (ref)
		dfs_inode_ref(fs, ip, 1);
	pthread_rwlock_unlock(&ip->lock);
	dfs_iput(fs, ip);
	return 0;
}

/* What name in dp (pinned) names: dir itself, its parent or an entry. */
int dfs_nlink_check(const struct dfs_inode *ip, uint32_t at_least)
{
	if (ip->d.nlink >= at_least)
		return 0;
	return daxfs_err(-EIO, "inode %llu: link count %u, less than the %u the entries naming it and "
			 "its subdirectories make; run fsck.daxfs -y", (unsigned long long)ip->ino,
			 ip->d.nlink, at_least);
}

static int resolve(struct dfs *fs, struct dfs_inode *dp, const char *name, uint64_t *ino)
{
	int err = 0;

	pthread_rwlock_rdlock(&dp->lock);
	if (!dfs_is_dir(dp))
		err = dfs_ns_not_dir(dp->ino);
	else if (strcmp(name, ".") == 0)
		*ino = dp->ino;
	else if (strcmp(name, "..") == 0)
		*ino = dp->d.parent;
	else
		err = dfs_ns_dir_lookup(fs, dp, name, ino);
	pthread_rwlock_unlock(&dp->lock);
	return err;
}

int dfs_lookup(struct dfs *fs, uint64_t dir, const char *name, struct stat *out)
{
	struct dfs_inode *dp;
	uint64_t ino, again;
	int err;

	if (strlen(name) > DFS_NAME_MAX)
		return daxfs_err(-ENAMETOOLONG, "name is longer than %u bytes", DFS_NAME_MAX);
	if ((err = dfs_iget_pin(fs, dir, &dp)))
		return err;
	if (!(err = resolve(fs, dp, name, &ino)) &&
	    (err = dfs_ns_stat(fs, ino, true, out)) == -ESTALE &&
	    resolve(fs, dp, name, &again) == -ENOENT)
		/* the entry was removed, and its inode freed, meanwhile */
		err = daxfs_err(-ENOENT, "'%s' was removed", name);
	dfs_iput(fs, dp);
	return err;
}

int dfs_getattr(struct dfs *fs, uint64_t ino, struct stat *out)
{
	return dfs_ns_stat(fs, ino, false, out);
}

/* ---- creation ---- */

static int symlink_store(struct dfs *fs, struct dfs_inode *ip, const char *target)
{
	size_t len = strlen(target);
	uint64_t pblk, n;
	struct dfs_buf *b;
	int err;

	/* a new inode: its one extent is inline, nothing to prepare */
	if ((err = dfs_alloc(fs, 0, 1, 1, 0, &pblk, &n)))
		return err;
	if ((err = dfs_buf_new(fs, pblk, DFS_BUF_SEALED, &b))) {
		(void)dfs_unalloc(fs, pblk, n);
		return err;
	}
	memcpy(b->data, target, len);
	dfs_buf_dirty(fs, b);
	ip->d.size = len;
	struct dfs_extent e = { 0, pblk, 1, 0 };
	return dfs_extent_insert(fs, ip, &e);
}

static int create_entry(struct dfs *fs, uint64_t dir, const char *name, mode_t mode, dev_t rdev,
			const char *target, const struct dfs_cred *cred, struct stat *out)
{
	int err;
	struct dfs_inode *dp, *ip;
	uint64_t existing, tid = 0;

	if ((err = dfs_ns_check_name(name)))
		return err;
	if (target && (strlen(target) == 0 || strlen(target) > DFS_SYMLINK_MAX))
		return daxfs_err(strlen(target) ? -ENAMETOOLONG : -ENOENT,
				 "symlink target must be 1..%u bytes", DFS_SYMLINK_MAX);
	if ((err = dfs_iget_pin(fs, dir, &dp)))
		return err;
	pthread_rwlock_wrlock(&dp->lock);
	if ((err = dfs_ns_meta_begin(fs)))
		goto unlock;
	if (!dfs_is_dir(dp)) {
		err = dfs_ns_not_dir(dir);
		goto out;
	}
	if (dp->d.nlink == 0) {
		err = daxfs_err(-ENOENT, "directory %llu was removed", (unsigned long long)dir);
		goto out;
	}
	if (dfs_ns_is_dot(name) || dfs_dir_lookup(fs, dp, name, &existing) == 0) {
		err = daxfs_err(-EEXIST, "'%s' exists", name);
		goto out;
	}
	bool isdir = (mode & 0170000) == 0040000;
	if (isdir && dp->d.nlink >= DFS_LINK_MAX) {
		err = daxfs_err(-EMLINK, "directory %llu has too many links", (unsigned long long)dir);
		goto out;
	}
	struct dfs_cred c = cred ? *cred : (struct dfs_cred){ 0 };
	uint32_t perm = (uint32_t)(mode & 07777 & ~c.umask);
	if (dp->d.mode & 02000) {      /* setgid directory: group and, for dirs, the bit */
		c.gid = dp->d.gid;
		if (isdir)
			perm |= 02000;
	}
	/* the new inode comes locked: a stale listing or handle may find its
	 * number, and waits until it is set up */
	if ((err = dfs_inode_alloc_locked(fs, (uint32_t)(mode & 0170000) | perm, &c, &ip)))
		goto out;
	if (isdir) {
		ip->d.nlink = 2;
		ip->d.parent = dir;
	}
	ip->d.rdev = (mode & 0170000) == 0020000 || (mode & 0170000) == 0060000 ? rdev : 0;
	if (target)
		err = symlink_store(fs, ip, target);
	if (!err)
		err = dfs_inode_write(fs, ip);
	if (!err)
		err = dfs_dir_add(fs, dp, name, ip->ino, ip->d.mode);
	if (err) {
		ip->d.nlink = 0;
		pthread_rwlock_unlock(&ip->lock);
		(void)dfs_inode_maybe_release(fs, ip);
		goto out;
	}
	if (isdir)
		dp->d.nlink++;
	dfs_ns_touch(dp, true);
	err = dfs_inode_write(fs, dp);
	if (!err) {
		dfs_inode_ref(fs, ip, 1);
		dfs_inode_stat(fs, ip, out);
	}
	pthread_rwlock_unlock(&ip->lock);
out:
	err = dfs_ns_meta_end(fs, err, &tid);
unlock:
	pthread_rwlock_unlock(&dp->lock);
	dfs_iput(fs, dp);
	return dfs_txn_wait(fs, tid, err);
}

/* Every namespace change passes the write gate before its first lock. */
static int create(struct dfs *fs, uint64_t dir, const char *name, mode_t mode, dev_t rdev,
		  const char *target, const struct dfs_cred *cred, struct stat *out)
{
	int err = dfs_start_write(fs);

	if (err)
		return err;
	err = create_entry(fs, dir, name, mode, rdev, target, cred, out);
	dfs_end_write(fs);
	return err;
}

int dfs_mknod(struct dfs *fs, uint64_t dir, const char *name, mode_t mode, dev_t rdev,
	      const struct dfs_cred *cred, struct stat *out)
{
	switch (mode & S_IFMT) {
	case 0:
		mode |= S_IFREG;
		break;
	case S_IFREG: case S_IFIFO: case S_IFSOCK: case S_IFCHR: case S_IFBLK:
		break;
	default:
		return daxfs_err(-EINVAL, "mknod: unsupported file type 0%o", (unsigned)(mode & S_IFMT));
	}
	return create(fs, dir, name, mode, rdev, NULL, cred, out);
}

int dfs_mkdir(struct dfs *fs, uint64_t dir, const char *name, mode_t mode,
	      const struct dfs_cred *cred, struct stat *out)
{
	return create(fs, dir, name, S_IFDIR | (mode & 07777), 0, NULL, cred, out);
}

int dfs_symlink(struct dfs *fs, uint64_t dir, const char *name, const char *target,
		const struct dfs_cred *cred, struct stat *out)
{
	struct dfs_cred c = cred ? *cred : (struct dfs_cred){ 0 };

	c.umask = 0;     /* symlinks are always 0777 */
	return create(fs, dir, name, S_IFLNK | 0777, 0, target, &c, out);
}

ssize_t dfs_readlink(struct dfs *fs, uint64_t ino, char *buf, size_t size)
{
	struct dfs_inode *ip;
	struct dfs_buf *b;
	ssize_t ret;
	int err;

	if ((err = dfs_iget_pin(fs, ino, &ip)))
		return err;
	pthread_rwlock_rdlock(&ip->lock);
	if ((ip->d.mode & S_IFMT) != S_IFLNK) {
		ret = daxfs_err(-EINVAL, "inode %llu is not a symlink", (unsigned long long)ino);
	} else if (ip->next != 1 || ip->ext[0].lblk != 0 || ip->d.size == 0 ||
		   ip->d.size > DFS_SYMLINK_MAX) {
		ret = daxfs_err(-EIO, "symlink %llu is damaged", (unsigned long long)ino);
	} else {
		dfs_buf_use_begin(fs);
		if ((err = dfs_buf_read(fs, ip->ext[0].pblk, DFS_BUF_SEALED, &b))) {
			ret = err;
		} else {
			ret = (ssize_t)(ip->d.size < size ? ip->d.size : size);
			memcpy(buf, b->data, (size_t)ret);
		}
		dfs_buf_use_end(fs);
	}
	pthread_rwlock_unlock(&ip->lock);
	dfs_iput(fs, ip);
	return ret;
}

static int link_entry(struct dfs *fs, uint64_t ino, uint64_t newdir, const char *newname,
		      struct stat *out)
{
	int err;
	struct dfs_inode *dp, *ip;
	uint64_t existing, tid = 0;

	if ((err = dfs_ns_check_name(newname)))
		return err;
	if ((err = dfs_iget_pin(fs, newdir, &dp)))
		return err;
	if ((err = dfs_iget_pin(fs, ino, &ip))) {
		dfs_iput(fs, dp);
		return err;
	}
	struct dfs_lockset l = { .n = 0 };
	dfs_lockset_add(&l, dp);
	dfs_lockset_add(&l, ip);
	dfs_lockset_lock(&l);
	if ((err = dfs_ns_meta_begin(fs)))
		goto unlock;
	if (!dfs_is_dir(dp)) {
		err = dfs_ns_not_dir(newdir);
		goto out;
	}
	if (dfs_is_dir(ip)) {
		err = daxfs_err(-EPERM, "hard links to directories are not allowed");
		goto out;
	}
	if (ip->d.nlink == 0 || dp->d.nlink == 0) {
		err = daxfs_err(-ENOENT, "inode %llu has been removed", (unsigned long long)(ip->d.nlink ? newdir : ino));
		goto out;
	}
	if (ip->d.nlink >= DFS_LINK_MAX) {
		err = daxfs_err(-EMLINK, "inode %llu has %u links, the maximum", (unsigned long long)ino, ip->d.nlink);
		goto out;
	}
	if (dfs_ns_is_dot(newname) || dfs_dir_lookup(fs, dp, newname, &existing) == 0) {
		err = daxfs_err(-EEXIST, "'%s' exists", newname);
		goto out;
	}
	if ((err = dfs_dir_add(fs, dp, newname, ino, ip->d.mode)))
		goto out;
	ip->d.nlink++;
	dfs_ns_touch(ip, false);
	dfs_ns_touch(dp, true);
	if ((err = dfs_inode_write(fs, ip)) || (err = dfs_inode_write(fs, dp)))
		goto out;
	dfs_inode_ref(fs, ip, 1);
	dfs_inode_stat(fs, ip, out);
out:
	err = dfs_ns_meta_end(fs, err, &tid);
unlock:
	dfs_lockset_unlock(&l);
	dfs_iput(fs, ip);
	dfs_iput(fs, dp);
	return dfs_txn_wait(fs, tid, err);
}

/* Locks dp (pinned) and the inode that name in it names, pinned in *ipp:
 * both in the set l, exclusively, with the name checked under both locks. */
static int lock_entry(struct dfs *fs, struct dfs_inode *dp, const char *name, struct dfs_lockset *l,
		      struct dfs_inode **ipp)
{
	uint64_t ino, again;
	int err;

	for (;;) {
		*l = (struct dfs_lockset){ .n = 0 };
		dfs_lockset_add(l, dp);
		dfs_lockset_lock(l);
		if (!dfs_is_dir(dp)) {
			err = dfs_ns_not_dir(dp->ino);
			break;
		}
		if ((err = dfs_ns_dir_lookup(fs, dp, name, &ino)) || (err = dfs_iget_pin(fs, ino, ipp)))
			break;
		if (*ipp == dp) {
			err = daxfs_err(-EIO, "directory %llu names itself as '%s'",
					(unsigned long long)dp->ino, name);
			dfs_lockset_unlock(l);
			l->n = 0;
			dfs_iput(fs, *ipp);
			return err;
		}
		if (!dfs_lockset_lock_more(l, *ipp, NULL) ||
		    (dfs_ns_dir_lookup(fs, dp, name, &again) == 0 && again == ino))
			return 0;
		dfs_lockset_unlock(l);      /* renamed meanwhile: again */
		dfs_iput(fs, *ipp);
	}
	dfs_lockset_unlock(l);
	l->n = 0;
	return err;
}

int dfs_link(struct dfs *fs, uint64_t ino, uint64_t newdir, const char *newname,
	     struct stat *out)
{
	int err = dfs_start_write(fs);

	if (err)
		return err;
	err = link_entry(fs, ino, newdir, newname, out);
	dfs_end_write(fs);
	return err;
}

static int remove_entry(struct dfs *fs, uint64_t dir, const char *name, bool rmdir)
{
	int err;
	struct dfs_inode *dp, *ip;
	struct dfs_lockset l = { .n = 0 };
	uint64_t tid = 0;

	if (strlen(name) > DFS_NAME_MAX)
		return daxfs_err(-ENAMETOOLONG, "name is longer than %u bytes", DFS_NAME_MAX);
	if (rmdir && strcmp(name, ".") == 0)
		return daxfs_err(-EINVAL, "cannot remove '.'");
	if (rmdir && strcmp(name, "..") == 0)
		return daxfs_err(-ENOTEMPTY, "cannot remove '..'");
	if ((err = dfs_iget_pin(fs, dir, &dp)))
		return err;
	if ((err = lock_entry(fs, dp, name, &l, &ip)))
		goto put_dir;
	if ((err = dfs_ns_meta_begin(fs)))
		goto unlock;
	if (rmdir && !dfs_is_dir(ip)) {
		err = daxfs_err(-ENOTDIR, "'%s' is not a directory", name);
		goto out;
	}
	if (!rmdir && dfs_is_dir(ip)) {
		err = daxfs_err(-EISDIR, "'%s' is a directory", name);
		goto out;
	}
	if (rmdir && !dfs_dir_is_empty(fs, ip)) {
		err = daxfs_err(-ENOTEMPTY, "directory '%s' is not empty", name);
		goto out;
	}
	if ((err = rmdir ? dfs_nlink_check(dp, 3) : dfs_nlink_check(ip, 1)) ||
	    (err = dfs_dir_remove(fs, dp, name)))
		goto out;
	if (rmdir) {
		ip->d.nlink = 0;
		dp->d.nlink--;
	} else {
		ip->d.nlink--;
	}
	dfs_ns_touch(ip, false);
	dfs_ns_touch(dp, true);
	if ((err = dfs_inode_write(fs, ip)) || (err = dfs_inode_write(fs, dp)))
		goto out;
	/* meta keeps the inode valid unpinned; the release may free it */
	struct dfs_inode *victim = ip;
	dfs_lockset_drop(&l, victim);
	dfs_iunpin_locked(fs, victim);
	ip = NULL;
	err = dfs_inode_maybe_release(fs, victim);
out:
	err = dfs_ns_meta_end(fs, err, &tid);
unlock:
	dfs_lockset_unlock(&l);
	if (ip)
		dfs_iput(fs, ip);
put_dir:
	dfs_iput(fs, dp);
	return dfs_txn_wait(fs, tid, err);
}

static int remove_write(struct dfs *fs, uint64_t dir, const char *name, bool rmdir)
{
	int err = dfs_start_write(fs);

	if (err)
		return err;
	err = remove_entry(fs, dir, name, rmdir);
	dfs_end_write(fs);
	return err;
}

int dfs_unlink(struct dfs *fs, uint64_t dir, const char *name)
{
	return remove_write(fs, dir, name, false);
}

int dfs_rmdir(struct dfs *fs, uint64_t dir, const char *name)
{
	return remove_write(fs, dir, name, true);
}

/* Is dir (or one of its ancestors) the directory anc? */
