/* fs/dir.c - directories: ext2-style record blocks on media, a hash index in memory */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs/internal.h"
#include "util/array.h"
#include "util/err.h"

/*
 * A directory's data blocks hold variable-length records; a record's
 * position (byte offset in the directory) never changes while it exists, which
 * is what keeps readdir positions stable: a removed record is merged into its
 * predecessor (or, first in its block, marked unused) and nothing moves. The
 * name -> entry index is an open-addressing hash table built from the blocks
 * on first use, so lookups in a 100,000-entry directory do not scan, and a
 * listing resumes at its position's block. Readers hold the directory's lock
 * shared, writers exclusively; the first use builds the index under
 * fs->dirload and publishes it with a release store, as two readers may get
 * there together.
 */

#define REC_MAX (DFS_DIRENT_HDR + DFS_NAME_MAX + 5)   /* 272: the largest record */
#define TOMB ((char *)&tomb_marker)
static const char tomb_marker = 0;

struct dent {
	char *name;         /* NULL: empty; TOMB: deleted */
	uint64_t ino;
	uint64_t pos;
	uint32_t hash;
};

struct dfs_dir {
	struct dent *tab;
	size_t cap, count, used;    /* used: count + tombstones */
	uint64_t *roomy;            /* blocks that may have room for a large record */
	size_t nroomy, roomy_cap;
	uint64_t last_blk;          /* where the last record went */
};

static uint32_t name_hash(const char *name)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

static void index_free(struct dfs_dir *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->cap; i++)
		if (d->tab[i].name && d->tab[i].name != TOMB)
			free(d->tab[i].name);
	free(d->tab);
	free(d->roomy);
	free(d);
}

void dfs_dir_free_index(struct dfs_inode *ip)
{
	index_free(ip->dir);
	ip->dir = NULL;
}

static int tab_resize(struct dfs_dir *d, size_t ncap)
{
	struct dent *nt = calloc(ncap, sizeof(*nt));

	if (!nt)
		return daxfs_err(-ENOMEM, "directory index: out of memory");
	for (size_t i = 0; i < d->cap; i++) {
		struct dent *e = &d->tab[i];
		if (!e->name || e->name == TOMB)
			continue;
		size_t j = e->hash & (ncap - 1);
		while (nt[j].name)
			j = (j + 1) & (ncap - 1);
		nt[j] = *e;
	}
	free(d->tab);
	d->tab = nt;
	d->cap = ncap;
	d->used = d->count;
	return 0;
}

static struct dent *tab_find(struct dfs *fs, const struct dfs_dir *d, const char *name, uint32_t h)
{
	for (size_t j = h & (d->cap - 1);; j = (j + 1) & (d->cap - 1)) {
		struct dent *e = &d->tab[j];

		__atomic_fetch_add(&fs->count_dir_probes, 1, __ATOMIC_RELAXED);
		if (!e->name)
			return NULL;
		if (e->name != TOMB && e->hash == h && strcmp(e->name, name) == 0)
			return e;
	}
}

static int tab_add(struct dfs_dir *d, const char *name, uint64_t ino, uint64_t pos)
{
	int err;

	if ((d->used + 1) * 4 > d->cap * 3 &&
	    (err = tab_resize(d, d->count * 4 > d->cap ? d->cap * 2 : d->cap)))
		return err;
	uint32_t h = name_hash(name);
	char *copy = strdup(name);
	if (!copy)
		return daxfs_err(-ENOMEM, "directory index: out of memory");
	size_t j = h & (d->cap - 1);
	while (d->tab[j].name && d->tab[j].name != TOMB)
		j = (j + 1) & (d->cap - 1);
	if (!d->tab[j].name)
		d->used++;
	d->tab[j] = (struct dent){ copy, ino, pos, h };
	d->count++;
	return 0;
}

static void tab_del(struct dfs_dir *d, struct dent *e)
{
	free(e->name);
	e->name = TOMB;
	d->count--;
}

static int roomy_push(struct dfs_dir *d, uint64_t lblk)
{
	int err = DAXFS_GROW(d->roomy, d->roomy_cap, d->nroomy + 1, 16, "directory index");

	if (err)
		return err;
	d->roomy[d->nroomy++] = lblk;
	return 0;
}

static int dir_pblk(struct dfs_inode *dip, uint64_t lblk, uint64_t *pblk)
{
	size_t i = dfs_extent_search(dip, lblk);

	if (i == dip->next || dip->ext[i].lblk > lblk)
		return daxfs_err(-EIO, "directory %llu: block %llu is not mapped",
				 (unsigned long long)dip->ino, (unsigned long long)lblk);
	*pblk = dip->ext[i].pblk + (lblk - dip->ext[i].lblk);
	return 0;
}

/* The record at off of directory block p: its length and inode. */
static inline unsigned rec_len(const uint8_t *p, unsigned off)
{
	return dfs_get16(p + off + DFS_DIRENT_RECLEN);
}

static inline uint64_t rec_ino(const uint8_t *p, unsigned off)
{
	return dfs_get64(p + off + DFS_DIRENT_INO);
}

/* Whether the record at off of a directory block is well formed (FORMAT.md). */
/* "." and ".." are the kernel's to resolve, never stored: a record under
 * either name hides its inode for good. */
static bool dot_name(const uint8_t *name, unsigned nl)
{
	return (nl == 1 && name[0] == '.') || (nl == 2 && name[0] == '.' && name[1] == '.');
}

static bool rec_ok(const uint8_t *p, unsigned off, uint64_t slots)
{
	if (off + DFS_DIRENT_HDR > DFS_DIR_END)
		return false;
	unsigned rec = rec_len(p, off), nl = p[off + DFS_DIRENT_NAMELEN];
	uint64_t ino = rec_ino(p, off);

	return rec >= DFS_DIRENT_HDR && rec % 8 == 0 && off + rec <= DFS_DIR_END &&
	       (ino ? nl && dfs_dirent_size(nl) <= rec && ino < slots &&
		      !memchr(p + off + DFS_DIRENT_NAME, '/', nl) &&
		      !memchr(p + off + DFS_DIRENT_NAME, 0, nl) &&
		      !dot_name(p + off + DFS_DIRENT_NAME, nl)
		    : off == DFS_DIR_HDR);
}

/* Whether well-formed records tile [off, DFS_DIR_END) exactly. */
static bool recs_ok_from(const uint8_t *p, unsigned off, uint64_t slots)
{
	while (off < DFS_DIR_END) {
		if (!rec_ok(p, off, slots))
			return false;
		off += rec_len(p, off);
	}
	return true;
}

/* Reads directory block lblk and checks every record in it. */
static int dir_block(struct dfs *fs, struct dfs_inode *dip, uint64_t lblk, struct dfs_buf **out)
{
	uint64_t pblk = 0;
	struct dfs_buf *b;
	int err;

	if ((err = dir_pblk(dip, lblk, &pblk)) || (err = dfs_buf_read(fs, pblk, DFS_BUF_SEALED, &b)))
		return err;
	__atomic_fetch_add(&fs->count_dir_blocks, 1, __ATOMIC_RELAXED);
	const uint64_t slots = __atomic_load_n(&fs->itable_slots, __ATOMIC_RELAXED);
	const uint8_t *p = b->data;
	if (dfs_get32(p + DFS_BLK_MAGIC) != DFS_MAGIC_DIR || dfs_get64(p + DFS_DIR_OWNER) != dip->ino ||
	    !recs_ok_from(p, DFS_DIR_HDR, slots))
		return daxfs_err(-EIO, "directory %llu: block %llu is damaged",
				 (unsigned long long)dip->ino, (unsigned long long)lblk);
	*out = b;
	return 0;
}

void dfs_dir_block_init(uint8_t *b, uint64_t owner)
{
	memset(b, 0, DFS_BLOCK_SIZE);
	dfs_put32(b + DFS_BLK_MAGIC, DFS_MAGIC_DIR);
	dfs_put64(b + DFS_DIR_OWNER, owner);
	dfs_put16(b + DFS_DIR_HDR + DFS_DIRENT_RECLEN, DFS_DIR_END - DFS_DIR_HDR);
}

/* Gives the span [off, off+len) to the record at prev, or, first in the
 * block, makes it an unused record. */
static void absorb(uint8_t *p, unsigned prev, unsigned off, unsigned len)
{
	if (prev) {
		dfs_put16(p + prev + DFS_DIRENT_RECLEN, (uint16_t)(rec_len(p, prev) + len));
		return;
	}
	memset(p + off, 0, DFS_DIRENT_HDR);
	dfs_put16(p + off + DFS_DIRENT_RECLEN, (uint16_t)len);
}

void dfs_dir_block_salvage(uint8_t *p, uint64_t owner, uint64_t slots, dfs_dir_keep_t keep,
			   void *ctx, struct dfs_dir_salvage *out)
{
	*out = (struct dfs_dir_salvage){ 0 };
	if (dfs_get64(p + DFS_DIR_OWNER) != owner) {
		/* another directory's block, or no directory block at all */
		out->reinit = true;
		dfs_dir_block_init(p, owner);
		return;
	}
	dfs_put32(p + DFS_BLK_MAGIC, DFS_MAGIC_DIR);
	memset(p + DFS_DIR_RESERVED, 0, 4);
	memset(p + DFS_DIR_END, 0, DFS_TAIL_CRC_OFF - DFS_DIR_END);
	unsigned prev = 0;
	for (unsigned off = DFS_DIR_HDR; off < DFS_DIR_END; ) {
		if (!rec_ok(p, off, slots)) {
			/* skip to the first position from which records tile the
			 * rest of the block; the span between is lost */
			unsigned next = off + 8;
			while (next < DFS_DIR_END && !recs_ok_from(p, next, slots))
				next += 8;
			absorb(p, prev, off, next - off);
			prev = prev ? prev : off;
			out->dropped++;
			off = next;
			continue;
		}
		unsigned rec = rec_len(p, off);
		uint64_t ino = rec_ino(p, off);
		if (ino) {
			char name[DFS_NAME_MAX + 1];

			memcpy(name, p + off + DFS_DIRENT_NAME, p[off + DFS_DIRENT_NAMELEN]);
			name[p[off + DFS_DIRENT_NAMELEN]] = '\0';
			if (!keep(ctx, name, ino, p[off + DFS_DIRENT_TYPE])) {
				absorb(p, prev, off, rec);
				prev = prev ? prev : off;
				out->dropped++;
				off += rec;
				continue;
			}
			out->kept++;
		}
		prev = off;
		off += rec;
	}
}

static uint64_t dir_nblocks(const struct dfs_inode *dip)
{
	return dip->d.size / DFS_BLOCK_SIZE;
}

static unsigned rec_slack(const uint8_t *p, unsigned off)
{
	unsigned rec = rec_len(p, off);

	return rec - (rec_ino(p, off) ? dfs_dirent_size(p[off + DFS_DIRENT_NAMELEN]) : 0);
}

static unsigned block_max_slack(const uint8_t *p)
{
	unsigned best = 0;

	for (unsigned off = DFS_DIR_HDR; off < DFS_DIR_END; off += rec_len(p, off)) {
		unsigned s = rec_slack(p, off);
		best = s > best ? s : best;
	}
	return best;
}

static int dir_build(struct dfs *fs, struct dfs_inode *dip, struct dfs_dir *d)
{
	int err;

	if ((err = tab_resize(d, 64)))
		return err;
	for (uint64_t l = 0; l < dir_nblocks(dip); l++) {
		struct dfs_buf *b;

		if ((err = dir_block(fs, dip, l, &b)))
			return err;
		const uint8_t *p = b->data;
		for (unsigned off = DFS_DIR_HDR; off < DFS_DIR_END; off += rec_len(p, off)) {
			uint64_t ino = rec_ino(p, off);
			char name[DFS_NAME_MAX + 1];

			if (!ino)
				continue;
			memcpy(name, p + off + DFS_DIRENT_NAME, p[off + DFS_DIRENT_NAMELEN]);
			name[p[off + DFS_DIRENT_NAMELEN]] = '\0';
			if (tab_find(fs, d, name, name_hash(name)))
				return daxfs_err(-EIO, "directory %llu: duplicate entry '%s'",
						 (unsigned long long)dip->ino, name);
			if ((err = tab_add(d, name, ino, l * DFS_BLOCK_SIZE + off)))
				return err;
		}
		if (block_max_slack(p) >= REC_MAX && (err = roomy_push(d, l)))
			return err;
		d->last_blk = l;
	}
	return 0;
}

/* dip's lock held (shared or exclusive) */
static int dir_load(struct dfs *fs, struct dfs_inode *dip)
{
	struct dfs_dir *d;
	int err = 0;

	if (__atomic_load_n(&dip->dir, __ATOMIC_ACQUIRE))
		return 0;
	pthread_mutex_lock(&fs->dirload);
	if (!dip->dir) {
		if (!(d = calloc(1, sizeof(*d))))
			err = daxfs_err(-ENOMEM, "directory index: out of memory");
		else if ((err = dir_build(fs, dip, d)))
			index_free(d);
		else
			__atomic_store_n(&dip->dir, d, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&fs->dirload);
	return err;
}

int dfs_dir_lookup(struct dfs *fs, struct dfs_inode *dip, const char *name, uint64_t *ino)
{
	int err = dir_load(fs, dip);

	if (err)
		return err;
	struct dent *e = tab_find(fs, dip->dir, name, name_hash(name));
	if (!e)
		return -ENOENT;
	*ino = e->ino;
	return 0;
}

int dfs_dir_entries(struct dfs *fs, struct dfs_inode *dip, uint64_t *n)
{
	int err = dir_load(fs, dip);

	*n = err ? 0 : dip->dir->count;
	return err;
}

uint64_t dfs_dir_count(struct dfs *fs, struct dfs_inode *dip)
{
	uint64_t n;

	return dfs_dir_entries(fs, dip, &n) ? 1 : n;
}

bool dfs_dir_is_empty(struct dfs *fs, struct dfs_inode *dip)
{
	return dfs_dir_count(fs, dip) == 0;
}

/* Puts a record into block lblk if a record there has room; *pos on success. */
static int block_insert(struct dfs *fs, struct dfs_inode *dip, uint64_t lblk, const char *name,
			uint64_t ino, uint32_t mode, uint64_t *pos)
{
	unsigned nl = (unsigned)strlen(name), need = dfs_dirent_size(nl);
	struct dfs_buf *b;
	int err = dir_block(fs, dip, lblk, &b);

	if (err)
		return err;
	uint8_t *p = b->data;
	for (unsigned off = DFS_DIR_HDR; off < DFS_DIR_END; off += rec_len(p, off)) {
		unsigned rec = rec_len(p, off), at = off, reclen = rec;

		if (rec_slack(p, off) < need)
			continue;
		if (rec_ino(p, off)) {
			unsigned used = dfs_dirent_size(p[off + DFS_DIRENT_NAMELEN]);
			dfs_put16(p + off + DFS_DIRENT_RECLEN, (uint16_t)used);
			at = off + used;
			reclen = rec - used;
		}
		memset(p + at, 0, reclen < need ? reclen : need);
		dfs_put64(p + at + DFS_DIRENT_INO, ino);
		dfs_put16(p + at + DFS_DIRENT_RECLEN, (uint16_t)reclen);
		p[at + DFS_DIRENT_NAMELEN] = (uint8_t)nl;
		p[at + DFS_DIRENT_TYPE] = (uint8_t)((mode >> 12) & 15);
		memcpy(p + at + DFS_DIRENT_NAME, name, nl);
		dfs_buf_dirty(fs, b);
		*pos = lblk * DFS_BLOCK_SIZE + at;
		return 0;
	}
	return -ENOSPC;
}

static int dir_grow(struct dfs *fs, struct dfs_inode *dip, uint64_t *lblk)
{
	uint64_t l = dir_nblocks(dip), goal = 0, pblk, len;
	struct dfs_buf *b;
	int err;

	if (dip->next)
		goal = dip->ext[dip->next - 1].pblk + dip->ext[dip->next - 1].len;
	/* the extent block first, then the directory block: all or nothing */
	if ((err = dfs_extent_prepare(fs, dip, 1, 0)))
		return err;
	if ((err = dfs_alloc(fs, goal, 1, 1, 0, &pblk, &len))) {
		dfs_extent_unprepare(fs, dip);
		return err;
	}
	if ((err = dfs_buf_new(fs, pblk, DFS_BUF_SEALED, &b))) {
		(void)dfs_unalloc(fs, pblk, len);
		dfs_extent_unprepare(fs, dip);
		return err;
	}
	dfs_dir_block_init(b->data, dip->ino);
	dfs_buf_dirty(fs, b);
	struct dfs_extent e = { l, pblk, 1, 0 };
	dip->d.size += DFS_BLOCK_SIZE;       /* stored by the insert */
	if ((err = dfs_extent_insert(fs, dip, &e)))
		return err;      /* prepared: only an I/O error, which aborted the journal */
	*lblk = l;
	return 0;
}

int dfs_dir_add(struct dfs *fs, struct dfs_inode *dip, const char *name, uint64_t ino,
		uint32_t mode)
{
	struct dfs_dir *d;
	uint64_t pos, lblk;
	int err;

	if ((err = dir_load(fs, dip)))
		return err;
	d = dip->dir;
	if (tab_find(fs, d, name, name_hash(name)))
		return -EEXIST;
	err = -ENOSPC;
	if (dir_nblocks(dip))
		err = block_insert(fs, dip, d->last_blk, name, ino, mode, &pos);
	while (err == -ENOSPC && d->nroomy) {
		lblk = d->roomy[d->nroomy - 1];
		err = block_insert(fs, dip, lblk, name, ino, mode, &pos);
		if (err == -ENOSPC)
			d->nroomy--;
		else if (!err)
			d->last_blk = lblk;
	}
	if (err == -ENOSPC) {
		if ((err = dir_grow(fs, dip, &lblk)))
			return err;
		d->last_blk = lblk;
		err = block_insert(fs, dip, lblk, name, ino, mode, &pos);
	}
	if (err)
		return err;
	return tab_add(d, name, ino, pos);
}

/* The entry of name in directory dip, and the block that holds its record. */
static int entry_block(struct dfs *fs, struct dfs_inode *dip, const char *name, struct dent **ep,
		       struct dfs_buf **bp)
{
	int err;

	if ((err = dir_load(fs, dip)))
		return err;
	*ep = tab_find(fs, dip->dir, name, name_hash(name));
	if (!*ep)
		return -ENOENT;
	return dir_block(fs, dip, (*ep)->pos / DFS_BLOCK_SIZE, bp);
}

int dfs_dir_remove(struct dfs *fs, struct dfs_inode *dip, const char *name)
{
	struct dfs_buf *b;
	struct dent *e;
	int err;

	if ((err = entry_block(fs, dip, name, &e, &b)))
		return err;
	uint64_t lblk = e->pos / DFS_BLOCK_SIZE;
	unsigned at = (unsigned)(e->pos % DFS_BLOCK_SIZE), prev = 0;
	uint8_t *p = b->data;
	for (unsigned off = DFS_DIR_HDR; off < at; off += rec_len(p, off))
		prev = off;
	if (prev)
		dfs_put16(p + prev + DFS_DIRENT_RECLEN, (uint16_t)(rec_len(p, prev) + rec_len(p, at)));
	else
		dfs_put64(p + at + DFS_DIRENT_INO, 0);
	dfs_buf_dirty(fs, b);
	tab_del(dip->dir, e);
	if (block_max_slack(p) >= REC_MAX && lblk != dip->dir->last_blk)
		(void)roomy_push(dip->dir, lblk);   /* only a hint */
	return 0;
}

int dfs_dir_replace(struct dfs *fs, struct dfs_inode *dip, const char *name, uint64_t ino,
		    uint32_t mode)
{
	struct dfs_buf *b;
	struct dent *e;
	int err;

	if ((err = entry_block(fs, dip, name, &e, &b)))
		return err;
	uint8_t *p = b->data + e->pos % DFS_BLOCK_SIZE;
	dfs_put64(p + DFS_DIRENT_INO, ino);
	p[DFS_DIRENT_TYPE] = (uint8_t)((mode >> 12) & 15);
	dfs_buf_dirty(fs, b);
	e->ino = ino;
	return 0;
}

int dfs_dir_iterate(struct dfs *fs, struct dfs_inode *dip, off_t pos, dfs_dir_actor_t actor,
		    void *ctx)
{
	int err;

	if (pos < (off_t)DFS_DIR_HDR)
		pos = DFS_DIR_HDR;
	for (uint64_t l = (uint64_t)pos / DFS_BLOCK_SIZE; l < dir_nblocks(dip); l++) {
		struct dfs_buf *b;

		if ((err = dir_block(fs, dip, l, &b)))
			return err;
		const uint8_t *p = b->data;
		for (unsigned off = DFS_DIR_HDR; off < DFS_DIR_END; off += rec_len(p, off)) {
			uint64_t here = l * DFS_BLOCK_SIZE + off;
			unsigned rec = rec_len(p, off);
			char name[DFS_NAME_MAX + 1];

			if (here < (uint64_t)pos || !rec_ino(p, off))
				continue;
			memcpy(name, p + off + DFS_DIRENT_NAME, p[off + DFS_DIRENT_NAMELEN]);
			name[p[off + DFS_DIRENT_NAMELEN]] = '\0';
			uint64_t next = off + rec >= DFS_DIR_END ? (l + 1) * DFS_BLOCK_SIZE + DFS_DIR_HDR
							       : here + rec;
			int r = actor(ctx, name, rec_ino(p, off), p[off + DFS_DIRENT_TYPE], (off_t)next);
			if (r)
				return r > 0 ? 0 : r;
		}
	}
	return 0;
}
