/* fs/namei.c - the namespace: lookup, create, link, unlink, rename, readdir, attributes */
#include <errno.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/internal.h"
#include "util/err.h"

#define NS_RESERVE 64      /* blocks one namespace operation may dirty */

static int check_name(const char *name)
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

static bool is_dot(const char *name)
{
	return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

static void touch(struct dfs_inode *ip, bool mtime)
{
	dfs_now(&ip->d.ctime);
	if (mtime)
		ip->d.mtime = ip->d.ctime;
}

/*
 * Locking (internal.h has the order): a read-only call pins the inodes it
 * uses and holds one inode lock at a time, shared; it never takes meta. A
 * modifying call pins and locks (exclusively, ascending inode number) every
 * inode it changes, then takes meta for the change and its commit.
 */

/* Up to four inodes locked exclusively, kept in ascending inode order. */
#define LOCKSET_MAX 4
struct lockset {
	struct dfs_inode *ip[LOCKSET_MAX];
	unsigned n;
};

static bool ls_has(const struct lockset *l, const struct dfs_inode *ip)
{
	for (unsigned i = 0; i < l->n; i++)
		if (l->ip[i] == ip)
			return true;
	return false;
}

static void ls_add_sorted(struct lockset *l, struct dfs_inode *ip)
{
	unsigned i = l->n;

	if (!ip || ls_has(l, ip))
		return;
	if (l->n == LOCKSET_MAX)
		abort();    /* no call changes more than four inodes */
	for (; i > 0 && l->ip[i - 1]->ino > ip->ino; i--)
		l->ip[i] = l->ip[i - 1];
	l->ip[i] = ip;
	l->n++;
}

static void ls_lock(struct lockset *l)
{
	for (unsigned i = 0; i < l->n; i++)
		pthread_rwlock_wrlock(&l->ip[i]->lock);
}

static void ls_unlock(struct lockset *l)
{
	for (unsigned i = l->n; i-- > 0; )
		pthread_rwlock_unlock(&l->ip[i]->lock);
}

/* Drops ip (whose lock is held) from the set and unlocks it. */
static void ls_drop(struct lockset *l, struct dfs_inode *ip)
{
	for (unsigned i = 0; i < l->n; i++)
		if (l->ip[i] == ip) {
			pthread_rwlock_unlock(&ip->lock);
			memmove(&l->ip[i], &l->ip[i + 1], (l->n - i - 1) * sizeof(l->ip[0]));
			l->n--;
			return;
		}
}

/* Adds a and b (either may be NULL) to the held set l. When one comes
 * before a lock already held, every lock is dropped and the whole set taken
 * again in order: returns true, and what was looked up under the old locks
 * has to be checked again. */
static bool ls_lock_more(struct lockset *l, struct dfs_inode *a, struct dfs_inode *b)
{
	uint64_t max = l->n ? l->ip[l->n - 1]->ino : 0;
	bool in_order = (!a || ls_has(l, a) || a->ino > max) && (!b || ls_has(l, b) || b->ino > max);

	if (in_order) {
		struct lockset add = { .n = 0 };

		if (a && !ls_has(l, a))
			ls_add_sorted(&add, a);
		if (b && !ls_has(l, b))
			ls_add_sorted(&add, b);
		ls_lock(&add);
		for (unsigned i = 0; i < add.n; i++)
			l->ip[l->n++] = add.ip[i];
		return false;
	}
	ls_unlock(l);
	ls_add_sorted(l, a);
	ls_add_sorted(l, b);
	ls_lock(l);
	return true;
}

/* After the inode locks: meta and a transaction reservation. */
static int meta_begin(struct dfs *fs)
{
	int err;

	pthread_mutex_lock(&fs->meta);
	if ((err = dfs_txn_reserve(fs, NS_RESERVE)))
		pthread_mutex_unlock(&fs->meta);
	return err;
}

/* Ends the in-memory change; *tid: the transaction to wait for once every
 * inode lock is dropped (dfs_txn_wait), so that other calls in the same
 * directories join it instead of queueing behind its commit. */
static int meta_end(struct dfs *fs, int err, uint64_t *tid)
{
	*tid = dfs_txn_stop(fs);
	dfs_icache_trim(fs);
	pthread_mutex_unlock(&fs->meta);
	return err;
}

static int not_dir(uint64_t ino)
{
	return daxfs_err(-ENOTDIR, "inode %llu is not a directory", (unsigned long long)ino);
}

/* Looks name up in dp, whose lock is held. */
static int dir_lookup(struct dfs *fs, struct dfs_inode *dp, const char *name, uint64_t *ino)
{
	dfs_buf_use_begin(fs);
	int err = dfs_dir_lookup(fs, dp, name, ino);
	dfs_buf_use_end(fs);
	return err;
}

/* The attributes of ino, with its lock shared; ref: take a lookup reference. */
static int stat_ino(struct dfs *fs, uint64_t ino, bool ref, struct stat *out)
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
static int resolve(struct dfs *fs, struct dfs_inode *dp, const char *name, uint64_t *ino)
{
	int err = 0;

	pthread_rwlock_rdlock(&dp->lock);
	if (!dfs_is_dir(dp))
		err = not_dir(dp->ino);
	else if (strcmp(name, ".") == 0)
		*ino = dp->ino;
	else if (strcmp(name, "..") == 0)
		*ino = dp->d.parent;
	else
		err = dir_lookup(fs, dp, name, ino);
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
	    (err = stat_ino(fs, ino, true, out)) == -ESTALE &&
	    resolve(fs, dp, name, &again) == -ENOENT)
		/* the entry was removed, and its inode freed, meanwhile */
		err = daxfs_err(-ENOENT, "'%s' was removed", name);
	dfs_iput(fs, dp);
	return err;
}

int dfs_getattr(struct dfs *fs, uint64_t ino, struct stat *out)
{
	return stat_ino(fs, ino, false, out);
}

int dfs_setattr(struct dfs *fs, uint64_t ino, const struct stat *attr, unsigned to_set,
		struct stat *out)
{
	struct dfs_inode *ip;
	uint64_t tid;
	int err;

	if ((err = dfs_start_write(fs)))
		return err;
	if ((err = dfs_inode_lock_data(fs, ino, true, &ip))) {
		dfs_end_write(fs);
		return err;
	}
	pthread_mutex_lock(&fs->meta);
	if ((err = dfs_txn_reserve(fs, NS_RESERVE)))
		goto out;
	if (to_set & DFS_SET_SIZE) {
		if (dfs_is_dir(ip)) {
			err = daxfs_err(-EISDIR, "cannot change the size of a directory");
			goto out;
		}
		if (!dfs_is_reg(ip)) {
			err = daxfs_err(-EINVAL, "only regular files have a settable size");
			goto out;
		}
		if (attr->st_size < 0) {
			err = daxfs_err(-EINVAL, "negative size");
			goto out;
		}
		if ((uint64_t)attr->st_size != ip->d.size) {
			if ((err = dfs_truncate_locked(fs, ip, (uint64_t)attr->st_size)))
				goto out;
			touch(ip, true);
		}
	}
	if (to_set & DFS_SET_MODE)
		ip->d.mode = (ip->d.mode & 0170000) | (attr->st_mode & 07777);
	if ((to_set & DFS_SET_KILL_SUIDGID) && !dfs_is_dir(ip))
		ip->d.mode = dfs_mode_kill_suidgid(ip->d.mode);
	if (to_set & DFS_SET_UID)
		ip->d.uid = attr->st_uid;
	if (to_set & DFS_SET_GID)
		ip->d.gid = attr->st_gid;
	struct dfs_timespec now;
	dfs_now(&now);
	if (to_set & DFS_SET_ATIME)
		ip->d.atime = (struct dfs_timespec){ attr->st_atim.tv_sec, (uint32_t)attr->st_atim.tv_nsec };
	if (to_set & DFS_SET_ATIME_NOW)
		ip->d.atime = now;
	if (to_set & DFS_SET_MTIME)
		ip->d.mtime = (struct dfs_timespec){ attr->st_mtim.tv_sec, (uint32_t)attr->st_mtim.tv_nsec };
	if (to_set & DFS_SET_MTIME_NOW)
		ip->d.mtime = now;
	if (to_set & DFS_SET_CTIME)
		ip->d.ctime = (struct dfs_timespec){ attr->st_ctim.tv_sec, (uint32_t)attr->st_ctim.tv_nsec };
	else
		ip->d.ctime = now;
	if (ip->d.atime.nsec >= 1000000000u || ip->d.mtime.nsec >= 1000000000u ||
	    ip->d.ctime.nsec >= 1000000000u) {
		err = daxfs_err(-EINVAL, "nanoseconds out of range");
		goto out;
	}
	if ((err = dfs_inode_write(fs, ip)))
		goto out;
	if (out)
		dfs_inode_stat(fs, ip, out);
out:
	/* the commit is waited for with the inode unlocked, as namespace calls do */
	tid = dfs_txn_stop(fs);
	pthread_mutex_unlock(&fs->meta);
	dfs_inode_unlock_data(fs, ip, true);
	err = dfs_txn_wait(fs, tid, err);
	dfs_end_write(fs);
	return err;
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

	if ((err = check_name(name)))
		return err;
	if (target && (strlen(target) == 0 || strlen(target) > DFS_SYMLINK_MAX))
		return daxfs_err(strlen(target) ? -ENAMETOOLONG : -ENOENT,
				 "symlink target must be 1..%u bytes", DFS_SYMLINK_MAX);
	if ((err = dfs_iget_pin(fs, dir, &dp)))
		return err;
	pthread_rwlock_wrlock(&dp->lock);
	if ((err = meta_begin(fs)))
		goto unlock;
	if (!dfs_is_dir(dp)) {
		err = not_dir(dir);
		goto out;
	}
	if (dp->d.nlink == 0) {
		err = daxfs_err(-ENOENT, "directory %llu was removed", (unsigned long long)dir);
		goto out;
	}
	if (is_dot(name) || dfs_dir_lookup(fs, dp, name, &existing) == 0) {
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
	touch(dp, true);
	err = dfs_inode_write(fs, dp);
	if (!err) {
		dfs_inode_ref(fs, ip, 1);
		dfs_inode_stat(fs, ip, out);
	}
	pthread_rwlock_unlock(&ip->lock);
out:
	err = meta_end(fs, err, &tid);
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

	if ((err = check_name(newname)))
		return err;
	if ((err = dfs_iget_pin(fs, newdir, &dp)))
		return err;
	if ((err = dfs_iget_pin(fs, ino, &ip))) {
		dfs_iput(fs, dp);
		return err;
	}
	struct lockset l = { .n = 0 };
	ls_add_sorted(&l, dp);
	ls_add_sorted(&l, ip);
	ls_lock(&l);
	if ((err = meta_begin(fs)))
		goto unlock;
	if (!dfs_is_dir(dp)) {
		err = not_dir(newdir);
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
	if (is_dot(newname) || dfs_dir_lookup(fs, dp, newname, &existing) == 0) {
		err = daxfs_err(-EEXIST, "'%s' exists", newname);
		goto out;
	}
	if ((err = dfs_dir_add(fs, dp, newname, ino, ip->d.mode)))
		goto out;
	ip->d.nlink++;
	touch(ip, false);
	touch(dp, true);
	if ((err = dfs_inode_write(fs, ip)) || (err = dfs_inode_write(fs, dp)))
		goto out;
	dfs_inode_ref(fs, ip, 1);
	dfs_inode_stat(fs, ip, out);
out:
	err = meta_end(fs, err, &tid);
unlock:
	ls_unlock(&l);
	dfs_iput(fs, ip);
	dfs_iput(fs, dp);
	return dfs_txn_wait(fs, tid, err);
}

/* Locks dp (pinned) and the inode that name in it names, pinned in *ipp:
 * both in the set l, exclusively, with the name checked under both locks. */
static int lock_entry(struct dfs *fs, struct dfs_inode *dp, const char *name, struct lockset *l,
		      struct dfs_inode **ipp)
{
	uint64_t ino, again;
	int err;

	for (;;) {
		*l = (struct lockset){ .n = 0 };
		ls_add_sorted(l, dp);
		ls_lock(l);
		if (!dfs_is_dir(dp)) {
			err = not_dir(dp->ino);
			break;
		}
		if ((err = dir_lookup(fs, dp, name, &ino)) || (err = dfs_iget_pin(fs, ino, ipp)))
			break;
		if (*ipp == dp) {
			err = daxfs_err(-EIO, "directory %llu names itself as '%s'",
					(unsigned long long)dp->ino, name);
			ls_unlock(l);
			l->n = 0;
			dfs_iput(fs, *ipp);
			return err;
		}
		if (!ls_lock_more(l, *ipp, NULL) ||
		    (dir_lookup(fs, dp, name, &again) == 0 && again == ino))
			return 0;
		ls_unlock(l);      /* renamed meanwhile: again */
		dfs_iput(fs, *ipp);
	}
	ls_unlock(l);
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
	struct lockset l = { .n = 0 };
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
	if ((err = meta_begin(fs)))
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
	if ((err = dfs_dir_remove(fs, dp, name)))
		goto out;
	if (rmdir) {
		ip->d.nlink = 0;
		dp->d.nlink--;
	} else {
		ip->d.nlink--;
	}
	touch(ip, false);
	touch(dp, true);
	if ((err = dfs_inode_write(fs, ip)) || (err = dfs_inode_write(fs, dp)))
		goto out;
	/* meta keeps the inode valid unpinned; the release may free it */
	struct dfs_inode *victim = ip;
	ls_drop(&l, victim);
	dfs_iunpin_locked(fs, victim);
	ip = NULL;
	err = dfs_inode_maybe_release(fs, victim);
out:
	err = meta_end(fs, err, &tid);
unlock:
	ls_unlock(&l);
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
static int inside(struct dfs *fs, uint64_t dir, uint64_t anc, bool *res)
{
	uint64_t guard = 0;

	*res = false;
	for (uint64_t cur = dir;; ) {
		struct dfs_inode *ip;
		int err;

		if (cur == anc) {
			*res = true;
			return 0;
		}
		if (cur == DFS_ROOT_INO)
			return 0;
		if (++guard > fs->itable_slots || (err = dfs_iget(fs, cur, &ip)))
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
			   struct dfs_inode *dp, const char *newname, struct lockset *l,
			   struct dfs_inode **src, struct dfs_inode **dst)
{
	uint64_t sino, dino = 0, s2, d2 = 0;
	int err, found, f2;

	for (;;) {
		*l = (struct lockset){ .n = 0 };
		*src = *dst = NULL;
		ls_add_sorted(l, sp);
		ls_add_sorted(l, dp);
		ls_lock(l);
		if (!dfs_is_dir(sp) || !dfs_is_dir(dp)) {
			err = not_dir(dfs_is_dir(sp) ? dp->ino : sp->ino);
			break;
		}
		if ((err = dir_lookup(fs, sp, name, &sino)))
			break;
		found = dir_lookup(fs, dp, newname, &dino);
		if (found != 0 && found != -ENOENT) {
			err = found;
			break;
		}
		if ((err = dfs_iget_pin(fs, sino, src)))
			break;
		if (found == 0 && (err = dfs_iget_pin(fs, dino, dst)))
			break;
		if (!ls_lock_more(l, *src, *dst))
			return 0;
		if (dir_lookup(fs, sp, name, &s2) == 0 && s2 == sino &&
		    (f2 = dir_lookup(fs, dp, newname, &d2)) == found && (found || d2 == dino))
			return 0;
		ls_unlock(l);      /* changed meanwhile: again */
		dfs_iput(fs, *src);
		if (*dst)
			dfs_iput(fs, *dst);
	}
	ls_unlock(l);
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
	struct lockset l = { .n = 0 };
	uint64_t sino, dino, tid = 0;
	bool in;

	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE) ||
	    ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE)))
		return daxfs_err(-EINVAL, "rename: invalid flags 0x%x", flags);
	if ((err = check_name(name)) || (err = check_name(newname)))
		return err;
	if (is_dot(name) || is_dot(newname))
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
	if ((err = meta_begin(fs)))
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
	if (dfs_is_dir(src) && sp != dp) {
		if ((err = inside(fs, newdir, sino, &in)))
			goto out;
		if (in) {
			err = daxfs_err(-EINVAL, "rename: cannot move a directory into its own subtree");
			goto out;
		}
	}
	if (flags & RENAME_EXCHANGE) {
		if (dfs_is_dir(dst) && sp != dp) {
			if ((err = inside(fs, dir, dino, &in)))
				goto out;
			if (in) {
				err = daxfs_err(-EINVAL, "rename: cannot move a directory into its own subtree");
				goto out;
			}
		}
		if ((err = dfs_dir_replace(fs, sp, name, dino, dst->d.mode)) ||
		    (err = dfs_dir_replace(fs, dp, newname, sino, src->d.mode)))
			goto out;
		set_parent(src, dp, sp);
		set_parent(dst, sp, dp);
		touch(dst, false);
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
			touch(dst, false);
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
	touch(src, false);
	touch(sp, true);
	touch(dp, true);
	if ((err = dfs_inode_write(fs, src)) || (err = dfs_inode_write(fs, sp)) ||
	    (err = dfs_inode_write(fs, dp)) || (dst && (err = dfs_inode_write(fs, dst))))
		goto out;
	if (dst && !(flags & RENAME_EXCHANGE) && dst != sp && dst != dp) {
		/* meta keeps the inode valid unpinned; the release may free it */
		struct dfs_inode *victim = dst;
		ls_drop(&l, victim);
		dfs_iunpin_locked(fs, victim);
		dst = NULL;
		err = dfs_inode_maybe_release(fs, victim);
	}
out:
	err = meta_end(fs, err, &tid);
unlock:
	ls_unlock(&l);
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

/* ---- readdir ---- */

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
		err = not_dir(dp->ino);
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
		if ((err = stat_ino(fs, parent, false, &st)))
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
