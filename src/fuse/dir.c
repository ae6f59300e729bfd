/* fuse/dir.c - directories: opendir, readdir, readdirplus, fsyncdir, releasedir */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuse/dfuse.h"

/* The smallest fuse_direntplus (fuse_entry_out + fuse_dirent + a padded
 * name), to bound how many entries one readdirplus reply can hold. */
#define DIRENTPLUS_MIN 152

/* The reply buffer that dfs_readdir's callback fills. */
struct dir_fill {
	fuse_req_t req;
	const struct dfuse *df;
	char *buf;
	size_t size, used;
	bool plus;
	/* plus: the inodes whose lookup reference the reply carries */
	uint64_t *inos;
	size_t ninos, max_inos;
};

static int dir_fill(void *ctx, const char *name, const struct stat *st, off_t next)
{
	struct dir_fill *f = ctx;
	size_t rem = f->size - f->used;
	size_t need;
	struct stat none = { .st_ino = 0 };

	if (!st)
		st = &none;
	if (f->plus) {
		struct fuse_entry_param e;
		bool dot = strcmp(name, ".") == 0 || strcmp(name, "..") == 0;

		dfuse_fill_entry(f->df, st, &e);
		/* No lookup reference is taken for . and ..; ino 0 tells the
		 * kernel not to instantiate a dentry for them. */
		if (dot)
			e.ino = 0;
		if (!dot && f->ninos == f->max_inos)
			return 1;
		need = fuse_add_direntry_plus(f->req, f->buf + f->used, rem, name, &e, next);
		if (need <= rem && !dot)
			f->inos[f->ninos++] = e.ino;
	} else {
		need = fuse_add_direntry(f->req, f->buf + f->used, rem, name, st, next);
	}
	if (need > rem)
		return 1;	/* full: this entry was not consumed */
	f->used += need;
	return 0;
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus)
{
	struct dfuse *df = dfuse_of(req);
	struct dir_fill f = {
		.req = req,
		.df = df,
		.size = size,
		.plus = plus,
	};
	int err;

	f.buf = malloc(size ? size : 1);
	if (plus) {
		f.max_inos = size / DIRENTPLUS_MIN + 1;
		f.inos = malloc(f.max_inos * sizeof(*f.inos));
	}
	if (!f.buf || (plus && !f.inos)) {
		free(f.buf);
		free(f.inos);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	err = dfs_readdir(df->fs, ino, off, plus, dir_fill, &f);
	/* Entries already in the buffer were consumed (and, with plus, hold a
	 * lookup reference each): they must reach the kernel even if a later
	 * entry failed; the error shows up on the next call. */
	if (err < 0 && f.used == 0)
		fuse_reply_err(req, dfuse_errno(err, plus ? "readdirplus" : "readdir", ino));
	else if (fuse_reply_buf(req, f.buf, f.used) == -ENOENT)
		/* interrupted: the kernel took none of the references */
		for (size_t i = 0; i < f.ninos; i++)
			dfs_forget(df->fs, f.inos[i], 1);
	free(f.buf);
	free(f.inos);
}

void dfuse_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void) ino;
	/* Positions are stable in the filesystem, so no per-open state. */
	fi->fh = 0;
	fuse_reply_open(req, fi);
}

void dfuse_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	(void) fi;
	do_readdir(req, ino, size, off, false);
}

void dfuse_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void) fi;
	do_readdir(req, ino, size, off, true);
}

void dfuse_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void) ino;
	(void) fi;
	fuse_reply_err(req, 0);
}

void dfuse_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	int err;

	(void) fi;
	err = dfs_fsync(dfuse_of(req)->fs, ino, datasync != 0);
	fuse_reply_err(req, err < 0 ? dfuse_errno(err, "fsyncdir", ino) : 0);
}
