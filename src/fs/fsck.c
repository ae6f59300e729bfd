/* fs/fsck.c - checking (and repairing) a daxfs against the invariants of FORMAT.md */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/internal.h"
#include "util/err.h"

/*
 * fsck opens the filesystem through the same code as mount (so the journal is
 * replayed first; with -n only into memory), then rebuilds from scratch what
 * the metadata claims: every inode of the table, every entry of every
 * directory reachable from the root, every block in use, and compares that
 * with link counts, sizes, bitmaps and free counts. Repairs are the safe
 * ones: link counts, block counts, bitmaps and free counts, directory
 * entries naming free inodes, parent pointers, the superblock copies.
 */

struct used {
	uint64_t start, len, owner;    /* owner: inode, or 0 for filesystem metadata */
};

struct fsck {
	struct dfs *fs;
	bool repair;
	dfs_fsck_report_t report;
	void *ctx;
	struct dfs_fsck_result res;
	struct used *used;
	size_t nused, cap;
	uint32_t *refs, *subdirs;
	uint8_t *state;                /* per inode: 0 free, 1 in use, 2 damaged, 3 dir visited */
	uint64_t *lost;                /* in use, linked, unreachable: for /lost+found */
	size_t nlost, lostcap;
};

static void problem(struct fsck *c, bool repaired, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void problem(struct fsck *c, bool repaired, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->res.problems++;
	c->res.repaired += repaired;
	if (c->report)
		c->report(c->ctx, msg, repaired);
}

static int add_used(struct fsck *c, uint64_t start, uint64_t len, uint64_t owner)
{
	if (c->nused == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 1024;
		struct used *n = realloc(c->used, ncap * sizeof(*n));
		if (!n)
			return daxfs_err(-ENOMEM, "fsck: out of memory");
		c->used = n;
		c->cap = ncap;
	}
	c->used[c->nused++] = (struct used){ start, len, owner };
	return 0;
}

static int check_supers(struct fsck *c, struct mapped_device *md, bool *bad_copy,
			struct dfs_super *good)
{
	uint8_t *b = malloc(DFS_BLOCK_SIZE);
	struct dfs_super sb;
	int ok[2];

	if (!b)
		return daxfs_err(-ENOMEM, "out of memory");
	*bad_copy = false;
	for (int i = 0; i < 2; i++) {
		int err = dm_submit_bio(md, DAX_REQ_READ, 0, (uint64_t)i << DFS_BLOCK_SHIFT, b,
					DFS_BLOCK_SIZE);
		ok[i] = err ? err : dfs_super_decode(b, (uint64_t)i, &sb);
		if (!ok[i] && (i == 0 || ok[0]))
			*good = sb;
		if (ok[i]) {
			*bad_copy = true;
			problem(c, c->repair && i, "%s superblock: %s", i ? "backup" : "primary",
				daxfs_errormsg());
		}
	}
	free(b);
	if (ok[0] && ok[1])
		return daxfs_err(-EINVAL, "no valid superblock: not a daxfs, or damaged beyond repair");
	if (c->repair && ok[0])
		c->res.repaired++;      /* the primary is rewritten from the backup below */
	return 0;
}

/* A damaged journal header is a problem either way. When the log still holds
 * the transaction the header was being advanced past (a torn header write),
 * the mount below recovers from the log, and rewrites the header unless -n.
 * Otherwise it stops every mount; -y writes a fresh one (any log in the
 * journal is lost, the rest of the filesystem is checked). */
static int check_journal_header(struct fsck *c, struct mapped_device *md, const struct dfs_super *sb)
{
	uint8_t *b = malloc(DFS_BLOCK_SIZE);
	int err;

	if (!b)
		return daxfs_err(-ENOMEM, "out of memory");
	err = dm_submit_bio(md, DAX_REQ_READ, 0, sb->journal_start << DFS_BLOCK_SHIFT, b, DFS_BLOCK_SIZE);
	bool ok = !err && dfs_get32(b) == DFS_MAGIC_JHEAD && dfs_block_crc_ok(sb->journal_start, b) &&
		  memcmp(b + 16, sb->uuid, 16) == 0;
	uint64_t seq = ok ? 0 : (err ? 1 : dfs_get64(b + 8) + 1);
	free(b);
	if (ok)
		return 0;
	uint64_t lseq;
	if (!err && dfs_journal_log_seq(md, sb, &lseq) == 0) {
		problem(c, c->repair, "journal header (block %llu) is damaged; recovered from "
			"the log (transaction %llu)", (unsigned long long)sb->journal_start,
			(unsigned long long)lseq);
		return 0;
	}
	problem(c, c->repair, "journal header (block %llu) is damaged",
		(unsigned long long)sb->journal_start);
	if (!c->repair)
		return daxfs_err(-EIO, "journal header is damaged: run with repair to rewrite it");
	return dfs_journal_format(md, sb, seq ? seq : 1);
}

static int scan_inodes(struct fsck *c)
{
	struct dfs *fs = c->fs;
	int err;

	for (uint64_t ino = 1; ino < fs->itable_slots; ino++) {
		struct dfs_inode *ip;

		err = dfs_iget(fs, ino, &ip);
		if (err == -ESTALE)
			continue;       /* free slot */
		if (err) {
			c->state[ino] = 2;
			problem(c, false, "inode %llu: %s", (unsigned long long)ino, daxfs_errormsg());
			continue;
		}
		c->state[ino] = 1;
		uint64_t sum = 0;
		for (size_t i = 0; i < ip->next; i++) {
			if ((err = add_used(c, ip->ext[i].pblk, ip->ext[i].len, ino)))
				return err;
			sum += ip->ext[i].len;
		}
		for (size_t i = 0; i < ip->nchain; i++)
			if ((err = add_used(c, ip->chain[i], 1, ino)))
				return err;
		if (ip->d.xattr_blk && (err = add_used(c, ip->d.xattr_blk, 1, ino)))
			return err;
		if (sum != ip->d.blocks) {
			problem(c, c->repair, "inode %llu: block count %llu, extents map %llu",
				(unsigned long long)ino, (unsigned long long)ip->d.blocks,
				(unsigned long long)sum);
			if (c->repair) {
				ip->d.blocks = sum;
				if ((err = dfs_inode_write(fs, ip)))
					return err;
			}
		}
		uint32_t type = ip->d.mode & 0170000;
		if (type == 0040000 && ip->d.size != sum * DFS_BLOCK_SIZE)
			problem(c, false, "directory %llu: size %llu is not 4096 x %llu blocks",
				(unsigned long long)ino, (unsigned long long)ip->d.size,
				(unsigned long long)sum);
		if (type == 0120000 && (ip->next != 1 || ip->ext[0].lblk != 0 || ip->ext[0].len != 1 ||
					ip->d.size == 0 || ip->d.size > DFS_SYMLINK_MAX))
			problem(c, false, "symlink %llu: bad target block or length", (unsigned long long)ino);
		if (type != 0100000 && type != 0040000 && type != 0120000 && ip->next)
			problem(c, false, "inode %llu: special file with data blocks", (unsigned long long)ino);
		dfs_icache_trim(fs);
	}
	return 0;
}

struct walk {
	struct fsck *c;
	uint64_t dir;
	uint64_t *queue;
	size_t nq, qcap;
	struct { char name[DFS_NAME_MAX + 1]; uint64_t ino; unsigned type; int fix; } *fixes;
	size_t nfix, fixcap;
	int err;
};

enum { FIX_REMOVE = 1, FIX_TYPE = 2 };

static int add_fix(struct walk *w, const char *name, uint64_t ino, unsigned type, int fix)
{
	if (w->nfix == w->fixcap) {
		size_t ncap = w->fixcap ? w->fixcap * 2 : 16;
		void *n = realloc(w->fixes, ncap * sizeof(*w->fixes));
		if (!n)
			return -ENOMEM;
		w->fixes = n;
		w->fixcap = ncap;
	}
	snprintf(w->fixes[w->nfix].name, sizeof(w->fixes[0].name), "%s", name);
	w->fixes[w->nfix].ino = ino;
	w->fixes[w->nfix].type = type;
	w->fixes[w->nfix++].fix = fix;
	return 0;
}

static int walk_entry(void *arg, const char *name, uint64_t ino, unsigned type, off_t next)
{
	struct walk *w = arg;
	struct fsck *c = w->c;
	struct dfs_inode *ip;

	(void)next;
	if (ino >= c->fs->itable_slots || c->state[ino] == 0) {
		problem(c, c->repair, "directory %llu: entry '%s' names free inode %llu",
			(unsigned long long)w->dir, name, (unsigned long long)ino);
		return add_fix(w, name, ino, 0, FIX_REMOVE) ? -1 : 0;
	}
	if (c->state[ino] == 2)
		return 0;       /* reported already */
	if (dfs_iget(c->fs, ino, &ip))
		return 0;
	c->refs[ino]++;
	unsigned want = (ip->d.mode >> 12) & 15;
	if (type != want) {
		problem(c, c->repair, "directory %llu: entry '%s' has type %u, inode %llu is %u",
			(unsigned long long)w->dir, name, type, (unsigned long long)ino, want);
		if (add_fix(w, name, ino, ip->d.mode, FIX_TYPE))
			return -1;
	}
	if (dfs_is_dir(ip)) {
		if (c->state[ino] == 3 || ino == DFS_ROOT_INO) {
			problem(c, false, "directory %llu is entered from more than one place ('%s' in %llu)",
				(unsigned long long)ino, name, (unsigned long long)w->dir);
			return 0;
		}
		c->state[ino] = 3;
		c->subdirs[w->dir]++;
		if (ip->d.parent != w->dir) {
			problem(c, c->repair, "directory %llu: parent is %llu, found in %llu",
				(unsigned long long)ino, (unsigned long long)ip->d.parent,
				(unsigned long long)w->dir);
			if (c->repair) {
				ip->d.parent = w->dir;
				if ((w->err = dfs_inode_write(c->fs, ip)))
					return -1;
			}
		}
		if (w->nq == w->qcap) {
			size_t ncap = w->qcap ? w->qcap * 2 : 64;
			uint64_t *n = realloc(w->queue, ncap * sizeof(*n));
			if (!n)
				return -1;
			w->queue = n;
			w->qcap = ncap;
		}
		w->queue[w->nq++] = ino;
	}
	return 0;
}

static int walk_tree(struct fsck *c)
{
	struct walk w = { .c = c };
	int err = 0;

	c->state[DFS_ROOT_INO] = 3;
	if (!(w.queue = malloc(sizeof(*w.queue))))
		return daxfs_err(-ENOMEM, "fsck: out of memory");
	w.queue[w.nq++] = DFS_ROOT_INO;
	w.qcap = 1;
	for (size_t qi = 0; qi < w.nq; qi++) {
		struct dfs_inode *dp;

		w.dir = w.queue[qi];
		w.nfix = 0;
		if (dfs_iget(c->fs, w.dir, &dp))
			continue;
		int r = dfs_dir_iterate(c->fs, dp, 0, walk_entry, &w);
		if (w.err) {
			err = w.err;
			break;
		}
		if (r < 0 && r != -1) {
			problem(c, false, "directory %llu: %s", (unsigned long long)w.dir, daxfs_errormsg());
			continue;
		}
		if (r == -1) {
			err = daxfs_err(-ENOMEM, "fsck: out of memory");
			break;
		}
		for (size_t i = 0; c->repair && i < w.nfix; i++) {
			if ((err = dfs_txn_reserve(c->fs, 16)))
				break;
			err = w.fixes[i].fix == FIX_REMOVE
				? dfs_dir_remove(c->fs, dp, w.fixes[i].name)
				: dfs_dir_replace(c->fs, dp, w.fixes[i].name, w.fixes[i].ino, w.fixes[i].type);
			if (err)
				break;
		}
		if (err)
			break;
	}
	free(w.queue);
	free(w.fixes);
	return err;
}

static int check_links(struct fsck *c)
{
	struct dfs *fs = c->fs;
	int err;

	for (uint64_t ino = 1; ino < fs->itable_slots; ino++) {
		struct dfs_inode *ip;

		if (c->state[ino] != 1 && c->state[ino] != 3)
			continue;
		if (dfs_iget(fs, ino, &ip))
			continue;
		bool dir = dfs_is_dir(ip);
		bool reached = ino == DFS_ROOT_INO || c->refs[ino] > 0;
		if (!reached) {
			if (ip->d.nlink == 0 && (ip->d.flags & DFS_IFLAG_ORPHAN))
				continue;   /* an orphan: freed at the next mount */
			problem(c, c->repair, "inode %llu is in use but not reachable from the root%s",
				(unsigned long long)ino, c->repair ? " (reconnected under /lost+found)" : "");
			if (c->repair) {
				if (c->nlost == c->lostcap) {
					size_t ncap = c->lostcap ? c->lostcap * 2 : 16;
					uint64_t *n = realloc(c->lost, ncap * sizeof(*n));
					if (!n)
						return daxfs_err(-ENOMEM, "fsck: out of memory");
					c->lost = n;
					c->lostcap = ncap;
				}
				c->lost[c->nlost++] = ino;
			}
			continue;
		}
		uint64_t want = dir ? 2 + c->subdirs[ino] : c->refs[ino];
		if (ip->d.nlink != want) {
			problem(c, c->repair, "inode %llu: link count %u, should be %llu",
				(unsigned long long)ino, ip->d.nlink, (unsigned long long)want);
			if (c->repair) {
				ip->d.nlink = (uint32_t)want;
				if ((err = dfs_txn_reserve(fs, 8)) || (err = dfs_inode_write(fs, ip)))
					return err;
			}
		}
	}
	uint64_t guard = 0;
	for (uint64_t o = fs->sb.orphan_head; o; ) {
		struct dfs_inode *ip;

		if (++guard > fs->itable_slots || o >= fs->itable_slots || dfs_iget(fs, o, &ip) ||
		    !(ip->d.flags & DFS_IFLAG_ORPHAN)) {
			problem(c, false, "orphan list is damaged at inode %llu", (unsigned long long)o);
			break;
		}
		o = ip->d.orphan_next;
	}
	return 0;
}

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
		if (!dfs_is_dir(lf))
			return daxfs_err(-EEXIST, "/lost+found exists and is not a directory");
		*out = lf;
		return 0;
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

/* Links every lost inode that is not itself inside a lost directory under
 * /lost+found as "#<ino>"; a second pass then checks the result. */
static int reconnect(struct fsck *c)
{
	struct dfs *fs = c->fs;
	struct mark_ctx m = { calloc(fs->itable_slots, 1), fs->itable_slots };
	struct dfs_inode *lf = NULL, *ip;
	int err = 0;

	if (!m.has_parent)
		return daxfs_err(-ENOMEM, "fsck: out of memory");
	for (size_t i = 0; i < c->nlost; i++)
		if (dfs_iget(fs, c->lost[i], &ip) == 0 && dfs_is_dir(ip))
			(void)dfs_dir_iterate(fs, ip, 0, mark_child, &m);
	if ((err = lost_found_dir(c, &lf)))
		goto out;
	for (size_t i = 0; i < c->nlost && !err; i++) {
		char name[32];

		if (m.has_parent[c->lost[i]] || dfs_iget(fs, c->lost[i], &ip))
			continue;
		snprintf(name, sizeof(name), "#%llu", (unsigned long long)ip->ino);
		if ((err = dfs_txn_reserve(fs, 16)) || (err = dfs_dir_add(fs, lf, name, ip->ino, ip->d.mode)))
			break;
		if (dfs_is_dir(ip)) {
			ip->d.parent = lf->ino;
			lf->d.nlink++;
		} else {
			ip->d.nlink = 1;
		}
		if ((err = dfs_inode_write(fs, ip)) || (err = dfs_inode_write(fs, lf)))
			break;
	}
out:
	free(m.has_parent);
	return err;
}

static int cmp_used(const void *a, const void *b)
{
	const struct used *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static void set_range(uint8_t *map, uint64_t s, uint64_t n)
{
	for (uint64_t i = s; i < s + n; i++)
		map[i >> 3] |= (uint8_t)(1u << (i & 7));
}

static int check_blocks(struct fsck *c)
{
	struct dfs *fs = c->fs;
	uint8_t want[DFS_BLOCK_SIZE], have[DFS_BLOCK_SIZE];
	int err;

	qsort(c->used, c->nused, sizeof(*c->used), cmp_used);
	for (size_t i = 1; i < c->nused; i++) {
		struct used *a = &c->used[i - 1], *b = &c->used[i];
		if (b->start < a->start + a->len)
			problem(c, false, "block %llu is used by inode %llu and inode %llu",
				(unsigned long long)b->start, (unsigned long long)a->owner,
				(unsigned long long)b->owner);
	}
	size_t u = 0;
	for (uint64_t g = 0; g < fs->sb.ngroups; g++) {
		uint64_t gs = g * DFS_BLOCKS_PER_GROUP, glen = dfs_group_len(fs, g);

		memset(want, 0, sizeof(want));
		if (glen < DFS_BLOCKS_PER_GROUP)
			set_range(want, glen, DFS_BLOCKS_PER_GROUP - glen);
		while (u < c->nused && c->used[u].start + c->used[u].len <= gs)
			u++;
		for (size_t k = u; k < c->nused && c->used[k].start < gs + glen; k++) {
			uint64_t s = c->used[k].start > gs ? c->used[k].start : gs;
			uint64_t e = c->used[k].start + c->used[k].len;
			e = e < gs + glen ? e : gs + glen;
			set_range(want, s - gs, e - s);
		}
		if ((err = dfs_alloc_group_image(fs, g, have))) {
			problem(c, c->repair, "group %llu: %s", (unsigned long long)g, daxfs_errormsg());
			if (c->repair && ((err = dfs_txn_reserve(fs, 8)) ||
					  (err = dfs_alloc_repair_group(fs, g, want))))
				return err;
			continue;
		}
		uint64_t unmarked = 0, leaked = 0, nfree = 0;
		for (uint64_t i = 0; i < glen; i++) {
			bool w = want[i >> 3] & (1u << (i & 7)), h = have[i >> 3] & (1u << (i & 7));
			unmarked += w && !h;
			leaked += h && !w;
			nfree += !h;
		}
		if (!fs->gds[g].bitmap_blk)
			nfree = fs->gds[g].free;   /* computed image: the count is checked at load */
		if (unmarked)
			problem(c, c->repair, "group %llu: %llu blocks in use but marked free",
				(unsigned long long)g, (unsigned long long)unmarked);
		if (leaked)
			problem(c, c->repair, "group %llu: %llu blocks marked in use but unused",
				(unsigned long long)g, (unsigned long long)leaked);
		if (nfree != fs->gds[g].free)
			problem(c, c->repair, "group %llu: free count %u, bitmap says %llu",
				(unsigned long long)g, fs->gds[g].free, (unsigned long long)nfree);
		if (c->repair && (unmarked || leaked || nfree != fs->gds[g].free) &&
		    ((err = dfs_txn_reserve(fs, 8)) || (err = dfs_alloc_repair_group(fs, g, want))))
			return err;
	}
	return 0;
}

static int collect_metadata(struct fsck *c)
{
	struct dfs *fs = c->fs;
	int err;

	if ((err = add_used(c, 0, fs->sb.data_start, 0)))
		return err;
	for (size_t i = 0; i < fs->nlabel_blks; i++)
		if ((err = add_used(c, fs->label_blks[i], 1, 0)))
			return err;
	for (unsigned i = 0; i < fs->sb.itable_nextents; i++)
		if ((err = add_used(c, fs->sb.itable[i].pblk, fs->sb.itable[i].len, 0)))
			return err;
	for (uint64_t g = 0; g < fs->sb.ngroups; g++)
		if (fs->gds[g].bitmap_blk && (err = add_used(c, fs->gds[g].bitmap_blk, 1, 0)))
			return err;
	return 0;
}

static int check_all(struct fsck *c)
{
	int err;

	if ((err = collect_metadata(c)) || (err = scan_inodes(c)) || (err = walk_tree(c)) ||
	    (err = check_links(c)) || (err = check_blocks(c)))
		return err;
	return 0;
}

int dfs_fsck(struct mapped_device *md, enum dfs_fsck_mode mode, dfs_fsck_report_t report,
	     void *ctx, struct dfs_fsck_result *out)
{
	struct fsck c = { .repair = mode == DFS_FSCK_REPAIR, .report = report, .ctx = ctx };
	struct dfs_super sb;
	bool bad_copy = false;
	int err;

	if (mode != DFS_FSCK_CHECK && mode != DFS_FSCK_REPAIR)
		return daxfs_err(-EINVAL, "fsck: unknown mode %d", (int)mode);
	/* members in the wrong place would make every block suspect, and a
	 * repair would write into the wrong files: nothing is checked then */
	struct dm_table *t = dm_md_get_live_table(md);

	err = t ? dfs_members_check_table(t) : daxfs_err(-ENXIO, "%s: no live table", dm_md_name(md));
	dm_table_put(&t);
	if (err)
		goto out;
	if ((err = check_supers(&c, md, &bad_copy, &sb)) || (err = check_journal_header(&c, md, &sb)))
		goto out;
	if ((err = dfs_mount_fsck(md, !c.repair, &c.fs)))
		goto out;
	struct dfs *fs = c.fs;
	pthread_mutex_lock(&fs->meta);
	c.refs = calloc(fs->itable_slots, sizeof(*c.refs));
	c.subdirs = calloc(fs->itable_slots, sizeof(*c.subdirs));
	c.state = calloc(fs->itable_slots, 1);
	if (!c.refs || !c.subdirs || !c.state)
		err = daxfs_err(-ENOMEM, "fsck: out of memory");
	if (!err && c.repair && bad_copy) {
		struct dfs_buf *b;
		/* the commit rewrites the primary and then the backup */
		if (!(err = dfs_buf_new(fs, DFS_SB_PRIMARY, DFS_BUF_SUPER, &b)))
			dfs_buf_dirty(fs, b);
	}
	if (!err)
		err = check_all(&c);
	if (!err && c.nlost) {
		/* reconnect, then check again from scratch */
		if (!(err = reconnect(&c))) {
			c.nlost = 0;
			c.nused = 0;
			memset(c.refs, 0, fs->itable_slots * sizeof(*c.refs));
			memset(c.subdirs, 0, fs->itable_slots * sizeof(*c.subdirs));
			free(c.state);
			c.state = calloc(fs->itable_slots, 1);
			err = c.state ? check_all(&c) : daxfs_err(-ENOMEM, "fsck: out of memory");
		}
	}
	if (!err && c.repair)
		err = dfs_commit(fs);
	pthread_mutex_unlock(&fs->meta);
	if (c.repair) {
		int e2 = dfs_unmount(&c.fs);
		err = err ? err : e2;
	} else {
		dfs_abandon(&c.fs);
	}
out:
	free(c.used);
	free(c.lost);
	free(c.refs);
	free(c.subdirs);
	free(c.state);
	if (out)
		*out = c.res;
	return err;
}
