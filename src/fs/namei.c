/* fs/namei.c - the namespace: lookup, create, link, unlink, rename, readdir, attributes */
#include <errno.h>
#include <linux/fs.h>
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

static int get_dir(struct dfs *fs, uint64_t ino, struct dfs_inode **out)
{
	int err = dfs_iget(fs, ino, out);

	if (err)
		return err;
	if (!dfs_is_dir(*out))
		return daxfs_err(-ENOTDIR, "inode %llu is not a directory", (unsigned long long)ino);
	return 0;
}

static void touch(struct dfs_inode *ip, bool mtime)
{
	dfs_now(&ip->d.ctime);
	if (mtime)
		ip->d.mtime = ip->d.ctime;
}

/* Runs op under meta with a transaction reservation. */
#define META_BEGIN(fs, writable)                                         \
	if ((writable) && (err = dfs_check_writable(fs)))                \
		return err;                                              \
	pthread_mutex_lock(&(fs)->meta);                                 \
	if ((writable) && (err = dfs_txn_reserve(fs, NS_RESERVE))) {     \
		pthread_mutex_unlock(&(fs)->meta);                       \
		return err;                                              \
	}
#define META_END(fs)                                                     \
	err = dfs_txn_end(fs, err);                                      \
	dfs_icache_trim(fs);                                             \
	pthread_mutex_unlock(&(fs)->meta);                               \
	return err;

int dfs_lookup(struct dfs *fs, uint64_t dir, const char *name, struct stat *out)
{
	int err;
	struct dfs_inode *dp, *ip;
	uint64_t ino;

	if (strlen(name) > DFS_NAME_MAX)
		return daxfs_err(-ENAMETOOLONG, "name is longer than %u bytes", DFS_NAME_MAX);
	META_BEGIN(fs, false);
	if ((err = get_dir(fs, dir, &dp)))
		goto out;
	if (strcmp(name, ".") == 0)
		ino = dir;
	else if (strcmp(name, "..") == 0)
		ino = dp->d.parent;
	else if ((err = dfs_dir_lookup(fs, dp, name, &ino)))
		goto out;
	if ((err = dfs_iget(fs, ino, &ip)))
		goto out;
	ip->nlookup++;
	dfs_inode_stat(fs, ip, out);
out:
	META_END(fs);
}

void dfs_forget(struct dfs *fs, uint64_t ino, uint64_t nlookup)
{
	struct dfs_inode *ip;

	pthread_mutex_lock(&fs->meta);
	if (dfs_iget(fs, ino, &ip) == 0) {
		ip->nlookup -= nlookup < ip->nlookup ? nlookup : ip->nlookup;
		if (ip->nlookup == 0 && ip->d.nlink == 0 && !fs->rdonly &&
		    dfs_txn_reserve(fs, NS_RESERVE) == 0)
			(void)dfs_inode_maybe_release(fs, ip);   /* on failure it stays an orphan */
	}
	(void)dfs_txn_end(fs, 0);    /* a failure shuts the fs down; later calls see it */
	pthread_mutex_unlock(&fs->meta);
}

int dfs_getattr(struct dfs *fs, uint64_t ino, struct stat *out)
{
	int err;
	struct dfs_inode *ip;

	META_BEGIN(fs, false);
	if (!(err = dfs_iget(fs, ino, &ip)))
		dfs_inode_stat(fs, ip, out);
	META_END(fs);
}

int dfs_setattr(struct dfs *fs, uint64_t ino, const struct stat *attr, unsigned to_set,
		struct stat *out)
{
	struct dfs_inode *ip;
	int err;

	if ((err = dfs_check_writable(fs)))
		return err;
	if ((err = dfs_inode_lock_data(fs, ino, true, &ip)))
		return err;
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
	err = dfs_txn_end(fs, err);
	pthread_mutex_unlock(&fs->meta);
	dfs_inode_unlock_data(fs, ip, true);
	return err;
}

/* ---- creation ---- */

static int symlink_store(struct dfs *fs, struct dfs_inode *ip, const char *target)
{
	size_t len = strlen(target);
	uint64_t pblk, n;
	struct dfs_buf *b;
	int err;

	if ((err = dfs_alloc(fs, 0, 1, 1, false, &pblk, &n)) ||
	    (err = dfs_buf_new(fs, pblk, DFS_BUF_SEALED, &b)))
		return err;
	memcpy(b->data, target, len);
	dfs_buf_dirty(fs, b);
	ip->d.size = len;
	struct dfs_extent e = { 0, pblk, 1, 0 };
	return dfs_extent_insert(fs, ip, &e);
}

static int create(struct dfs *fs, uint64_t dir, const char *name, mode_t mode, dev_t rdev,
		  const char *target, const struct dfs_cred *cred, struct stat *out)
{
	int err;
	struct dfs_inode *dp, *ip;
	uint64_t existing;

	if ((err = check_name(name)))
		return err;
	if (target && (strlen(target) == 0 || strlen(target) > DFS_SYMLINK_MAX))
		return daxfs_err(strlen(target) ? -ENAMETOOLONG : -ENOENT,
				 "symlink target must be 1..%u bytes", DFS_SYMLINK_MAX);
	META_BEGIN(fs, true);
	if ((err = get_dir(fs, dir, &dp)))
		goto out;
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
	if ((err = dfs_inode_alloc(fs, (uint32_t)(mode & 0170000) | perm, &c, &ip)))
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
		(void)dfs_inode_maybe_release(fs, ip);
		goto out;
	}
	if (isdir)
		dp->d.nlink++;
	touch(dp, true);
	if ((err = dfs_inode_write(fs, dp)))
		goto out;
	ip->nlookup++;
	dfs_inode_stat(fs, ip, out);
out:
	META_END(fs);
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

	pthread_mutex_lock(&fs->meta);
	if ((err = dfs_iget(fs, ino, &ip)))
		goto out;
	if ((ip->d.mode & S_IFMT) != S_IFLNK) {
		err = daxfs_err(-EINVAL, "inode %llu is not a symlink", (unsigned long long)ino);
		goto out;
	}
	if (ip->next != 1 || ip->ext[0].lblk != 0 || ip->d.size == 0 || ip->d.size > DFS_SYMLINK_MAX) {
		err = daxfs_err(-EIO, "symlink %llu is damaged", (unsigned long long)ino);
		goto out;
	}
	if ((err = dfs_buf_read(fs, ip->ext[0].pblk, DFS_BUF_SEALED, &b)))
		goto out;
	ret = (ssize_t)(ip->d.size < size ? ip->d.size : size);
	memcpy(buf, b->data, (size_t)ret);
	pthread_mutex_unlock(&fs->meta);
	return ret;
out:
	pthread_mutex_unlock(&fs->meta);
	return err;
}

int dfs_link(struct dfs *fs, uint64_t ino, uint64_t newdir, const char *newname,
	     struct stat *out)
{
	int err;
	struct dfs_inode *dp, *ip;
	uint64_t existing;

	if ((err = check_name(newname)))
		return err;
	META_BEGIN(fs, true);
	if ((err = get_dir(fs, newdir, &dp)) || (err = dfs_iget(fs, ino, &ip)))
		goto out;
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
	ip->nlookup++;
	dfs_inode_stat(fs, ip, out);
out:
	META_END(fs);
}

static int remove_entry(struct dfs *fs, uint64_t dir, const char *name, bool rmdir)
{
	int err;
	struct dfs_inode *dp, *ip;
	uint64_t ino;

	if (strlen(name) > DFS_NAME_MAX)
		return daxfs_err(-ENAMETOOLONG, "name is longer than %u bytes", DFS_NAME_MAX);
	META_BEGIN(fs, true);
	if ((err = get_dir(fs, dir, &dp)))
		goto out;
	if (rmdir && strcmp(name, ".") == 0) {
		err = daxfs_err(-EINVAL, "cannot remove '.'");
		goto out;
	}
	if (rmdir && strcmp(name, "..") == 0) {
		err = daxfs_err(-ENOTEMPTY, "cannot remove '..'");
		goto out;
	}
	if ((err = dfs_dir_lookup(fs, dp, name, &ino)) || (err = dfs_iget(fs, ino, &ip)))
		goto out;
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
	err = dfs_inode_maybe_release(fs, ip);
out:
	META_END(fs);
}

int dfs_unlink(struct dfs *fs, uint64_t dir, const char *name)
{
	return remove_entry(fs, dir, name, false);
}

int dfs_rmdir(struct dfs *fs, uint64_t dir, const char *name)
{
	return remove_entry(fs, dir, name, true);
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

int dfs_rename(struct dfs *fs, uint64_t dir, const char *name, uint64_t newdir,
	       const char *newname, unsigned flags)
{
	int err;
	struct dfs_inode *sp, *dp, *src, *dst = NULL;
	uint64_t sino, dino;
	bool in;

	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE) ||
	    ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE)))
		return daxfs_err(-EINVAL, "rename: invalid flags 0x%x", flags);
	if ((err = check_name(name)) || (err = check_name(newname)))
		return err;
	if (is_dot(name) || is_dot(newname))
		return daxfs_err(-EBUSY, "rename: cannot rename '.' or '..'");
	META_BEGIN(fs, true);
	if ((err = get_dir(fs, dir, &sp)) || (err = get_dir(fs, newdir, &dp)))
		goto out;
	if ((err = dfs_dir_lookup(fs, sp, name, &sino)) || (err = dfs_iget(fs, sino, &src)))
		goto out;
	int found = dfs_dir_lookup(fs, dp, newname, &dino);
	if (found != 0 && found != -ENOENT) {
		err = found;
		goto out;
	}
	if (found == 0 && (err = dfs_iget(fs, dino, &dst)))
		goto out;
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
	if (dst && !(flags & RENAME_EXCHANGE))
		err = dfs_inode_maybe_release(fs, dst);
out:
	META_END(fs);
}

/* ---- readdir ---- */

struct rd_ctx {
	struct dfs *fs;
	bool plus;
	dfs_filldir_t fill;
	void *ctx;
	int err;
};

static int rd_actor(void *arg, const char *name, uint64_t ino, unsigned type, off_t next)
{
	struct rd_ctx *c = arg;
	struct stat st = { .st_ino = ino, .st_mode = (mode_t)type << 12 };
	struct dfs_inode *ip = NULL;

	if (c->plus) {
		if ((c->err = dfs_iget(c->fs, ino, &ip)))
			return -1;
		dfs_inode_stat(c->fs, ip, &st);
	}
	if (c->fill(c->ctx, name, &st, next))
		return 1;
	if (ip)
		ip->nlookup++;
	return 0;
}

int dfs_readdir(struct dfs *fs, uint64_t dir, off_t pos, bool plus, dfs_filldir_t fill,
		void *ctx)
{
	int err;
	struct dfs_inode *dp, *pp;
	struct stat st;
	struct rd_ctx c = { fs, plus, fill, ctx, 0 };

	META_BEGIN(fs, false);
	if ((err = get_dir(fs, dir, &dp)))
		goto out;
	if (pos == 0) {
		dfs_inode_stat(fs, dp, &st);
		if (fill(ctx, ".", &st, 1))
			goto out;
		pos = 1;
	}
	if (pos == 1) {
		if ((err = dfs_iget(fs, dp->d.parent, &pp)))
			goto out;
		dfs_inode_stat(fs, pp, &st);
		if (fill(ctx, "..", &st, DFS_DIR_HDR))
			goto out;
		pos = DFS_DIR_HDR;
	}
	err = dfs_dir_iterate(fs, dp, pos, rd_actor, &c);
	if (c.err)
		err = c.err;
out:
	META_END(fs);
}
