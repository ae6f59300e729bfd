/* fuse/namei.c - the namespace: mknod, mkdir, symlink, readlink, link, unlink, rmdir, rename */
#include <errno.h>
#include <limits.h>
#include <linux/fs.h>

#include "fuse/dfuse.h"

void dfuse_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	struct dfs_cred cred = dfuse_cred(req);
	struct stat st;
	int err;

	dfuse_intr_begin(req);
	err = dfs_mknod(dfuse_of(req)->fs, parent, name, mode, rdev, &cred, &st);
	dfuse_intr_end();

	dfuse_reply_entry_or_err(req, err, "mknod", parent, &st);
}

void dfuse_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct dfs_cred cred = dfuse_cred(req);
	struct stat st;
	int err;

	dfuse_intr_begin(req);
	err = dfs_mkdir(dfuse_of(req)->fs, parent, name, mode, &cred, &st);
	dfuse_intr_end();

	dfuse_reply_entry_or_err(req, err, "mkdir", parent, &st);
}

void dfuse_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	struct dfs_cred cred = dfuse_cred(req);
	struct stat st;
	int err;

	dfuse_intr_begin(req);
	err = dfs_symlink(dfuse_of(req)->fs, parent, name, link, &cred, &st);
	dfuse_intr_end();

	dfuse_reply_entry_or_err(req, err, "symlink", parent, &st);
}

void dfuse_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[PATH_MAX + 1];
	ssize_t n = dfs_readlink(dfuse_of(req)->fs, ino, buf, PATH_MAX);

	if (n < 0) {
		fuse_reply_err(req, dfuse_errno((int) n, "readlink", ino));
		return;
	}
	buf[n] = '\0';
	fuse_reply_readlink(req, buf);
}

void dfuse_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct stat st;
	int err;

	dfuse_intr_begin(req);
	err = dfs_link(dfuse_of(req)->fs, ino, newparent, newname, &st);
	dfuse_intr_end();

	dfuse_reply_entry_or_err(req, err, "link", ino, &st);
}

void dfuse_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	int err;

	dfuse_intr_begin(req);
	err = dfs_unlink(dfuse_of(req)->fs, parent, name);
	dfuse_intr_end();

	fuse_reply_err(req, err < 0 ? dfuse_errno(err, "unlink", parent) : 0);
}

void dfuse_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	int err;

	dfuse_intr_begin(req);
	err = dfs_rmdir(dfuse_of(req)->fs, parent, name);
	dfuse_intr_end();

	fuse_reply_err(req, err < 0 ? dfuse_errno(err, "rmdir", parent) : 0);
}

void dfuse_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		  const char *newname, unsigned int flags)
{
	int err;

	/* RENAME_WHITEOUT is for overlay filesystems on top of this one. */
	if (flags & ~(unsigned) (RENAME_NOREPLACE | RENAME_EXCHANGE)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	dfuse_intr_begin(req);
	err = dfs_rename(dfuse_of(req)->fs, parent, name, newparent, newname, flags);
	dfuse_intr_end();
	fuse_reply_err(req, err < 0 ? dfuse_errno(err, "rename", parent) : 0);
}
