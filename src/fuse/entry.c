/* fuse/entry.c - lookup, forget, getattr and setattr */
#include <errno.h>
#include <string.h>

#include "fuse/dfuse.h"
#include "fuse/run.h"

/*
 * The kernel asks for "." only to resolve a file handle whose inode it no
 * longer has (fuse_get_dentry; parent is then any inode, not only a
 * directory), and for ".." to find a directory's parent for such a handle
 * (fuse_get_parent). Both may name inodes the kernel never saw from this
 * daemon, after a restart: they are read from media. The kernel compares
 * the generation in the reply with the handle's.
 */
static void lookup_self(fuse_req_t req, fuse_ino_t ino)
{
	struct dfuse *df = dfuse_of(req);
	struct stat st;
	int err = dfs_lookup_ino(df->fs, ino, &st);

	dfuse_reply_entry_or_err(req, err, "lookup of a handle", ino, &st);
}

void dfuse_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct dfuse *df = dfuse_of(req);
	struct stat st;
	int err;

	if (strcmp(name, ".") == 0) {
		lookup_self(req, parent);
		return;
	}
	err = dfs_lookup(df->fs, parent, name, &st);
	if (err == -ENOENT) {
		/* A negative entry with a timeout lets the kernel cache the miss;
		 * creating the name later goes through the same kernel, which
		 * drops the negative dentry itself. */
		struct fuse_entry_param e = {
			.ino = 0,
			.entry_timeout = df->timeout,
		};
		fuse_reply_entry(req, &e);
		return;
	}
	dfuse_reply_entry_or_err(req, err, "lookup", parent, &st);
}

void dfuse_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	dfs_forget(dfuse_of(req)->fs, ino, nlookup);
	fuse_reply_none(req);
}

void dfuse_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct dfs *fs = dfuse_of(req)->fs;

	for (size_t i = 0; i < count; i++)
		dfs_forget(fs, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

void dfuse_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dfuse *df = dfuse_of(req);
	struct stat st;
	int err;

	dfuse_run_fold(df, ino);
	if ((err = dfs_getattr(df->fs, ino, &st)) < 0) {
		fuse_reply_err(req, dfuse_errno(err, "getattr", ino));
		return;
	}
	fuse_reply_attr(req, &st, dfuse_run_attr_timeout(df, ino, df->timeout));
}

/* FUSE_SET_ATTR_* to DFS_SET_*. The kernel sends ATIME together with
 * ATIME_NOW ("set it to now"), so NOW wins and the timestamp is ignored. */
static unsigned setattr_flags(int to_set)
{
	unsigned flags = 0;

	if (to_set & FUSE_SET_ATTR_MODE)
		flags |= DFS_SET_MODE;
	if (to_set & FUSE_SET_ATTR_UID)
		flags |= DFS_SET_UID;
	if (to_set & FUSE_SET_ATTR_GID)
		flags |= DFS_SET_GID;
	if (to_set & FUSE_SET_ATTR_SIZE)
		flags |= DFS_SET_SIZE;
	if (to_set & FUSE_SET_ATTR_ATIME_NOW)
		flags |= DFS_SET_ATIME_NOW;
	else if (to_set & FUSE_SET_ATTR_ATIME)
		flags |= DFS_SET_ATIME;
	if (to_set & FUSE_SET_ATTR_MTIME_NOW)
		flags |= DFS_SET_MTIME_NOW;
	else if (to_set & FUSE_SET_ATTR_MTIME)
		flags |= DFS_SET_MTIME;
	if (to_set & FUSE_SET_ATTR_CTIME)
		flags |= DFS_SET_CTIME;
	return flags;
}

void dfuse_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		   struct fuse_file_info *fi)
{
	struct dfuse *df = dfuse_of(req);
	unsigned flags = setattr_flags(to_set);
	struct dfuse_run_extend ext;
	struct stat st;
	int err;

	(void) fi;
	/* a write daxfs-run left pending came first (a truncate folds it
	 * inside its layout change, see dfuse_run_layout_begin) */
	if (!(to_set & FUSE_SET_ATTR_SIZE))
		dfuse_run_fold(df, ino);
	/* With KILLPRIV_V2 (rawio.c), FATTR_KILL_SUIDGID, which libfuse 3.14
	 * passes on as FUSE_SET_ATTR_KILL_SUID, and a SETATTR of nothing at all
	 * (file_remove_privs for a caller without CAP_FSETID) clear the set-id
	 * bits. */
	if (dfuse_killpriv_v2(df) && ((to_set & FUSE_SET_ATTR_KILL_SUID) || to_set == 0))
		flags |= DFS_SET_KILL_SUIDGID;
	/* truncate(2) needs no open file, so the open count does not keep a
	 * store away from it: the lock does. */
	dfuse_intr_begin(req);
	/* Through the write gate first: a truncate waiting for a thaw must
	 * not hold the store lock, which every open takes. A truncate up
	 * zeroes the bytes past the old EOF once no daxfs-run write past it
	 * can be on its way (dfuse_run_extend_begin). */
	err = dfuse_run_extend_begin(df, ino, (to_set & FUSE_SET_ATTR_SIZE) && attr->st_size > 0 ?
				     (uint64_t)attr->st_size : 0, &ext);
	if (err == 0)
		err = dfs_start_write(df->fs);
	if (err == 0) {
		if (to_set & FUSE_SET_ATTR_SIZE) {
			dfuse_store_lock(df);
			dfuse_run_layout_begin(df, ino);
		}
		err = dfs_setattr(df->fs, ino, attr, flags, &st);
		if (to_set & FUSE_SET_ATTR_SIZE) {
			dfuse_run_layout_end(df, ino);
			dfuse_store_unlock(df);
		} else if (to_set & FUSE_SET_ATTR_MODE) {
			dfuse_run_publish(df, ino, false);      /* set-id bits */
		}
		dfs_end_write(df->fs);
	}
	dfuse_run_extend_end(df, ino, &ext);
	dfuse_intr_end();
	if (to_set & FUSE_SET_ATTR_SIZE)
		dfuse_run_recall(df, ino, false);       /* a DAX truncate unmaps */
	if (err < 0) {
		fuse_reply_err(req, dfuse_errno(err, "setattr", ino));
		return;
	}
	fuse_reply_attr(req, &st, dfuse_run_attr_timeout(df, ino, df->timeout));
}
