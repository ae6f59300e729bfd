/* fs/fsck_tree.c - fsck over the namespace: entries, parents, reachability, link counts, /lost+found */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/fsck.h"
#include "util/array.h"
#include "util/err.h"

/*
 * The tree is walked from the root, breadth first. An entry that names a
 * free inode or the root goes, a second entry of a directory goes (a
 * directory has one parent), a wrong entry type or parent pointer is set
 * right. Then every inode in use gets the link count the entries give it;
 * one that nothing reaches is linked under /lost+found as "#<inode>" (a lost
 * directory takes what it holds along), unless it is an orphan waiting for
 * the next mount.
 */

enum fix_kind { FIX_REMOVE, FIX_TYPE, FIX_PARENT };

struct fix {
	char name[DFS_NAME_MAX + 1];
	uint64_t ino;
	uint32_t mode;
	enum fix_kind kind;
	char why[320];
};

struct walk {
	struct fsck *c;
	uint64_t dir;
	uint64_t *queue;
	size_t nq, qcap;
	struct fix *fixes;
	size_t nfix, fixcap;
	int err;
};

static int add_fix(struct walk *w, const char *name, uint64_t ino, uint32_t mode, enum fix_kind kind,
		   const char *why)
{
	int err = DAXFS_GROW(w->fixes, w->fixcap, w->nfix + 1, 16, "fsck");

	if (err)
		return w->err = err;
	struct fix *f = &w->fixes[w->nfix++];
	snprintf(f->name, sizeof(f->name), "%s", name);
	snprintf(f->why, sizeof(f->why), "%s", why);
	f->ino = ino;
	f->mode = mode;
	f->kind = kind;
	return 0;
}

static int walk_entry(void *arg, const char *name, uint64_t ino, unsigned type, off_t next)
{
	struct walk *w = arg;
	struct fsck *c = w->c;
	struct dfs_inode *ip;
	char why[320];

	(void)next;
	if (ino >= c->fs->itable_slots || c->state[ino] == INO_FREE || dfs_iget(c->fs, ino, &ip)) {
		snprintf(why, sizeof(why), "directory %llu: entry '%s' names free inode %llu",
			 (unsigned long long)w->dir, name, (unsigned long long)ino);
		return add_fix(w, name, ino, 0, FIX_REMOVE, why) ? -1 : 0;
	}
	if (ino == DFS_ROOT_INO) {
		snprintf(why, sizeof(why), "directory %llu: entry '%s' names the root directory: "
			 "remove it", (unsigned long long)w->dir, name);
		return add_fix(w, name, ino, 0, FIX_REMOVE, why) ? -1 : 0;
	}
	if (dfs_is_dir(ip) && c->state[ino] == INO_REACHED) {
		snprintf(why, sizeof(why), "directory %llu is entered from more than one place ('%s' "
			 "in %llu): remove this entry", (unsigned long long)ino, name,
			 (unsigned long long)w->dir);
		return add_fix(w, name, ino, 0, FIX_REMOVE, why) ? -1 : 0;
	}
	c->refs[ino]++;
	unsigned want = (ip->d.mode >> 12) & 15;
	if (type != want) {
		snprintf(why, sizeof(why), "directory %llu: entry '%s' has type %u, inode %llu is %u",
			 (unsigned long long)w->dir, name, type, (unsigned long long)ino, want);
		if (add_fix(w, name, ino, ip->d.mode, FIX_TYPE, why))
			return -1;
	}
	if (!dfs_is_dir(ip))
		return 0;
	c->state[ino] = INO_REACHED;
	c->subdirs[w->dir]++;
	if (ip->d.parent != w->dir) {
		snprintf(why, sizeof(why), "directory %llu: parent is %llu, found in %llu",
			 (unsigned long long)ino, (unsigned long long)ip->d.parent,
			 (unsigned long long)w->dir);
		if (add_fix(w, name, ino, 0, FIX_PARENT, why))
			return -1;
	}
	if (w->nq == w->qcap) {
		size_t ncap = w->qcap * 2;
		uint64_t *n = realloc(w->queue, ncap * sizeof(*n));
		if (!n)
			return w->err = daxfs_err(-ENOMEM, "fsck: out of memory"), -1;
		w->queue = n;
		w->qcap = ncap;
	}
	w->queue[w->nq++] = ino;
	return 0;
}

/* The fixes of one directory, made after its listing: no block is held. */
static int apply_fixes(struct walk *w)
{
	struct fsck *c = w->c;
	struct dfs *fs = c->fs;

	for (size_t i = 0; i < w->nfix; i++) {
		const struct fix *f = &w->fixes[i];
		struct dfs_inode *dp, *ip;
		int err;

		if (!(err = dfs_txn_reserve(fs, 16)) && !(err = dfs_iget(fs, w->dir, &dp))) {
			if (f->kind == FIX_REMOVE) {
				err = dfs_dir_remove(fs, dp, f->name);
			} else if (f->kind == FIX_TYPE) {
				err = dfs_dir_replace(fs, dp, f->name, f->ino, f->mode);
			} else if (!(err = dfs_iget(fs, f->ino, &ip))) {
				ip->d.parent = w->dir;
				err = dfs_inode_write(fs, ip);
			}
		}
		if (fsck_fatal(err))
			return err;
		fsck_problem(c, !err, PREEN_ASK, "%s", f->why);
	}
	w->nfix = 0;
	return 0;
}

int fsck_pass_tree(struct fsck *c)
{
	struct walk w = { .c = c, .qcap = 64 };
	int err = 0;

	if (c->state[DFS_ROOT_INO] == INO_FREE)
		return 0;      /* the inode pass could not make one: reported there */
	if (!(w.queue = malloc(w.qcap * sizeof(*w.queue))))
		return daxfs_err(-ENOMEM, "fsck: out of memory");
	c->state[DFS_ROOT_INO] = INO_REACHED;
	w.queue[w.nq++] = DFS_ROOT_INO;
	for (size_t qi = 0; qi < w.nq && !err; qi++) {
		struct dfs_inode *dp;

		w.dir = w.queue[qi];
		if (dfs_iget(c->fs, w.dir, &dp))
			continue;
		int r = dfs_dir_iterate(c->fs, dp, 0, walk_entry, &w);
		if (w.err) {
			err = w.err;
			break;
		}
		if (r < 0 && r != -1) {
			/* the contents pass leaves every directory block sound: left over */
			if (fsck_fatal(r)) {
				err = r;
				break;
			}
			fsck_problem(c, false, PREEN_ASK, "directory %llu: %s", (unsigned long long)w.dir,
				     daxfs_errormsg());
		}
		err = apply_fixes(&w);
	}
	free(w.queue);
	free(w.fixes);
	return err;
}

/* ---- link counts and /lost+found ---- */

struct mark_ctx {
	uint8_t *has_parent;
	uint64_t slots;
};

static int mark_child(void *arg, const char *name, uint64_t ino, unsigned type, off_t next)
{
	struct mark_ctx *m = arg;

	(void)name; (void)type; (void)next;
	if (ino < m->slots)
		m->has_parent[ino] = 1;
	return 0;
}

/* /lost+found, made if missing; an entry of that name that is no directory
 * is removed first (its inode is reconnected in the next round). */
static int lost_found_dir(struct fsck *c, struct dfs_inode **out)
{
	struct dfs *fs = c->fs;
	struct dfs_inode *root, *lf = NULL;
	uint64_t ino;
	int err;

	if ((err = dfs_iget(fs, DFS_ROOT_INO, &root)))
		return err;
	if (dfs_dir_lookup(fs, root, "lost+found", &ino) == 0) {
		if ((err = dfs_iget(fs, ino, &lf)))
			return err;
		if (dfs_is_dir(lf)) {
			*out = lf;
			return 0;
		}
		if ((err = dfs_txn_reserve(fs, 16)) || (err = dfs_dir_remove(fs, root, "lost+found")))
			return err;
		if (lf->d.nlink) {
			lf->d.nlink--;
			if ((err = dfs_inode_write(fs, lf)))
				return err;
		}
	}
	struct dfs_cred root_cred = { 0 };
	if ((err = dfs_txn_reserve(fs, 32)) || (err = dfs_inode_alloc(fs, 0040700, &root_cred, &lf)))
		return err;
	lf->d.nlink = 2;
	lf->d.parent = DFS_ROOT_INO;
	if ((err = dfs_inode_write(fs, lf)) ||
	    (err = dfs_dir_add(fs, root, "lost+found", lf->ino, lf->d.mode)))
		return err;
	root->d.nlink++;
	if ((err = dfs_inode_write(fs, root)))
		return err;
	*out = lf;
	return 0;
}

/* Links ip under lf as "#<inode>" (or "#<inode>.<n>" if that is taken). */
static int link_lost(struct fsck *c, struct dfs_inode *lf, struct dfs_inode *ip)
{
	struct dfs *fs = c->fs;
	char name[48];
	int err = -EEXIST;

	for (unsigned n = 0; err == -EEXIST && n < 100; n++) {
		if (n)
			snprintf(name, sizeof(name), "#%llu.%u", (unsigned long long)ip->ino, n);
		else
			snprintf(name, sizeof(name), "#%llu", (unsigned long long)ip->ino);
		if ((err = dfs_txn_reserve(fs, 16)))
			return err;
		err = dfs_dir_add(fs, lf, name, ip->ino, ip->d.mode);
	}
	if (err)
		return err;
	if (dfs_is_dir(ip)) {
		ip->d.parent = lf->ino;
		lf->d.nlink++;
	} else {
		ip->d.nlink = 1;
	}
	if ((err = dfs_inode_write(fs, ip)))
		return err;
	return dfs_inode_write(fs, lf);
}

/* Links every lost inode that no lost directory holds; if each is held by
 * another (directories holding each other), the first, so that the next
 * round gets further. */
static int reconnect(struct fsck *c)
{
	struct dfs *fs = c->fs;
	struct mark_ctx m = { calloc(fs->itable_slots, 1), fs->itable_slots };
	struct dfs_inode *lf = NULL, *ip;
	bool any = false;
	int err;

	if (!m.has_parent)
		return daxfs_err(-ENOMEM, "fsck: out of memory");
	for (size_t i = 0; i < c->nlost; i++)
		if (dfs_iget(fs, c->lost[i], &ip) == 0 && dfs_is_dir(ip))
			(void)dfs_dir_iterate(fs, ip, 0, mark_child, &m);
	for (size_t i = 0; i < c->nlost; i++)
		any |= !m.has_parent[c->lost[i]];
	err = lost_found_dir(c, &lf);
	if (fsck_fatal(err))
		goto out;
	for (size_t i = 0; i < c->nlost; i++) {
		const uint64_t ino = c->lost[i];
		int e = err;

		if (m.has_parent[ino] && (any || i))
			continue;
		if (!e && !(e = dfs_iget(fs, ino, &ip)))
			e = link_lost(c, lf, ip);
		if (fsck_fatal(e)) {
			err = e;
			goto out;
		}
		fsck_problem(c, !e, PREEN_ASK, "inode %llu is in use but not reachable from the root: reconnect it "
			     "under /lost+found", (unsigned long long)ino);
	}
	err = 0;
out:
	free(m.has_parent);
	return err;
}

int fsck_pass_links(struct fsck *c)
{
	struct dfs *fs = c->fs;
	int err;

	for (uint64_t ino = 1; ino < fs->itable_slots; ino++) {
		struct dfs_inode *ip;

		if (c->state[ino] == INO_FREE || dfs_iget(fs, ino, &ip))
			continue;
		const bool reached = ino == DFS_ROOT_INO || c->refs[ino] > 0;
		if (!reached) {
			/* an orphan (the inode pass keeps the list whole): freed at the next mount */
			if (ip->d.nlink == 0 && (ip->d.flags & DFS_IFLAG_ORPHAN))
				continue;
			if ((err = DAXFS_GROW(c->lost, c->lostcap, c->nlost + 1, 16, "fsck")))
				return err;
			c->lost[c->nlost++] = ino;
			continue;
		}
		const uint64_t want = dfs_is_dir(ip) ? 2 + c->subdirs[ino] : c->refs[ino];
		if (ip->d.nlink != want) {
			const uint32_t had = ip->d.nlink;
			if (!(err = dfs_txn_reserve(fs, 8))) {
				ip->d.nlink = (uint32_t)want;
				err = dfs_inode_write(fs, ip);
			}
			if (fsck_fatal(err))
				return err;
			fsck_problem(c, !err, PREEN_OK, "inode %llu: link count %u, should be %llu",
				     (unsigned long long)ino, had, (unsigned long long)want);
		}
		dfs_icache_trim(fs);
	}
	return c->nlost ? reconnect(c) : 0;
}
