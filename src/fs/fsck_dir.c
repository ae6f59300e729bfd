/* fs/fsck_dir.c - fsck over block contents: directory blocks and symlink targets */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/fsck.h"
#include "util/err.h"

/*
 * Runs once every block has one owner (fsck_block.c), so rewriting a block
 * changes nobody else's. A directory block that fails its checksum or its
 * checks keeps the records that check out, in place (their positions are
 * readdir cookies); damaged spans and second entries of one name are
 * dropped, and a block that names another directory as its owner starts
 * empty. The children that lose their entry are reconnected under
 * /lost+found by the tree passes. A symlink whose target block fails its
 * checksum keeps the target if it still reads as one.
 */

/* The names seen in one directory (open addressing, strings owned). */
struct names {
	char **slot;
	size_t cap, n;
};

static uint32_t hash_name(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static void names_clear(struct names *ns)
{
	for (size_t i = 0; i < ns->cap; i++)
		free(ns->slot[i]);
	free(ns->slot);
	*ns = (struct names){ 0 };
}

static int names_grow(struct names *ns)
{
	struct names big = { calloc(ns->cap ? ns->cap * 2 : 64, sizeof(char *)),
			     ns->cap ? ns->cap * 2 : 64, ns->n };

	if (!big.slot)
		return -ENOMEM;
	for (size_t i = 0; i < ns->cap; i++) {
		if (!ns->slot[i])
			continue;
		size_t j = hash_name(ns->slot[i]) & (big.cap - 1);
		while (big.slot[j])
			j = (j + 1) & (big.cap - 1);
		big.slot[j] = ns->slot[i];
	}
	free(ns->slot);
	*ns = big;
	return 0;
}

/* 1: added, 0: there already, -ENOMEM */
static int names_add(struct names *ns, const char *name)
{
	if ((ns->n + 1) * 2 > ns->cap && names_grow(ns))
		return -ENOMEM;
	size_t j = hash_name(name) & (ns->cap - 1);
	for (; ns->slot[j]; j = (j + 1) & (ns->cap - 1))
		if (strcmp(ns->slot[j], name) == 0)
			return 0;
	if (!(ns->slot[j] = strdup(name)))
		return -ENOMEM;
	ns->n++;
	return 1;
}

struct keep_ctx {
	struct names names;
	bool nomem;
};

static bool keep_first_of_name(void *arg, const char *name, uint64_t ino, unsigned type)
{
	struct keep_ctx *k = arg;
	int r = names_add(&k->names, name);

	(void)ino;
	(void)type;
	k->nomem |= r < 0;
	return r != 0;
}

static int check_dir_block(struct fsck *c, struct dfs_inode *ip, uint64_t l, struct keep_ctx *k,
			   uint8_t *copy)
{
	struct dfs *fs = c->fs;
	size_t i = dfs_extent_search(ip, l);
	struct dfs_dir_salvage out;
	struct dfs_buf *b;
	bool crc_ok;
	int err;

	if (i == ip->next || ip->ext[i].lblk > l) {
		/* the inode pass numbers them 0..n-1: left over */
		fsck_problem(c, false, PREEN_ASK, "directory %llu: block %llu is not mapped",
			     (unsigned long long)ip->ino, (unsigned long long)l);
		return 0;
	}
	const uint64_t pblk = ip->ext[i].pblk + (l - ip->ext[i].lblk);
	if ((err = dfs_txn_reserve(fs, 4)) || (err = fsck_read(c, pblk, &b, &crc_ok))) {
		if (fsck_fatal(err))
			return err;
		fsck_problem(c, false, PREEN_ASK, "directory %llu: block %llu: %s", (unsigned long long)ip->ino,
			     (unsigned long long)l, daxfs_errormsg());
		return 0;
	}
	memcpy(copy, b->data, DFS_BLOCK_SIZE);
	dfs_dir_block_salvage(copy, ip->ino, fs->itable_slots, keep_first_of_name, k, &out);
	if (k->nomem)
		return daxfs_err(-ENOMEM, "fsck: out of memory");
	if (crc_ok && memcmp(copy, b->data, DFS_TAIL_CRC_OFF) == 0)
		return 0;
	const bool changed = memcmp(copy, b->data, DFS_TAIL_CRC_OFF) != 0;
	memcpy(b->data, copy, DFS_TAIL_CRC_OFF);
	b->kind = DFS_BUF_SEALED;
	dfs_buf_dirty(fs, b);
	dfs_dir_free_index(ip);
	if (out.reinit)
		fsck_problem(c, true, PREEN_ASK, "directory %llu: block %llu (%llu) is not a block of this "
			     "directory: empty it", (unsigned long long)ip->ino, (unsigned long long)l,
			     (unsigned long long)pblk);
	else if (out.dropped)
		fsck_problem(c, true, PREEN_ASK, "directory %llu: block %llu (%llu) is damaged: keep its %u sound "
			     "entries, drop %u damaged spans or repeated names", (unsigned long long)ip->ino,
			     (unsigned long long)l, (unsigned long long)pblk, out.kept, out.dropped);
	else if (changed)
		fsck_problem(c, true, PREEN_ASK, "directory %llu: block %llu (%llu) has a damaged header: rewrite it",
			     (unsigned long long)ip->ino, (unsigned long long)l, (unsigned long long)pblk);
	else
		fsck_problem(c, true, PREEN_OK, "directory %llu: block %llu (%llu) checksum mismatch; its entries "
			     "check out: rewrite it", (unsigned long long)ip->ino, (unsigned long long)l,
			     (unsigned long long)pblk);
	return 0;
}

static int check_dir(struct fsck *c, struct dfs_inode *ip, uint8_t *copy)
{
	struct keep_ctx k = { .nomem = false };
	int err = 0;

	for (uint64_t l = 0; l < ip->d.size / DFS_BLOCK_SIZE && !err; l++)
		err = check_dir_block(c, ip, l, &k, copy);
	names_clear(&k.names);
	return err;
}

static int check_symlink(struct fsck *c, struct dfs_inode *ip)
{
	const uint64_t pblk = ip->ext[0].pblk;
	struct dfs_buf *b;
	bool crc_ok;
	int err;

	if ((err = dfs_txn_reserve(c->fs, 4)) || (err = fsck_read(c, pblk, &b, &crc_ok))) {
		if (fsck_fatal(err))
			return err;
		fsck_problem(c, false, PREEN_ASK, "symlink %llu: %s", (unsigned long long)ip->ino, daxfs_errormsg());
		return 0;
	}
	const size_t len = (size_t)ip->d.size;
	if (memchr(b->data, 0, len)) {
		/* what the inode pass saw was another owner's copy */
		const uint64_t ino = ip->ino;
		err = fsck_release(c, ip);
		if (fsck_fatal(err))
			return err;
		fsck_problem(c, !err, PREEN_ASK, "symlink %llu: target block %llu is damaged: clear it",
			     (unsigned long long)ino, (unsigned long long)pblk);
		c->state[ino] = INO_FREE;
		return 0;
	}
	bool padded = true;
	for (size_t i = len; i < DFS_TAIL_CRC_OFF && padded; i++)
		padded = b->data[i] == 0;
	if (crc_ok && padded)
		return 0;
	memset(b->data + len, 0, DFS_TAIL_CRC_OFF - len);
	b->kind = DFS_BUF_SEALED;
	dfs_buf_dirty(c->fs, b);
	/* a checksum is recomputed; bytes past a target under a sound one were written there */
	fsck_problem(c, true, crc_ok ? PREEN_ASK : PREEN_OK, "symlink %llu: target block %llu %s: "
		     "rewrite it", (unsigned long long)ip->ino, (unsigned long long)pblk,
		     crc_ok ? "has bytes past the target" : "checksum mismatch");
	return 0;
}

int fsck_pass_contents(struct fsck *c)
{
	uint8_t *copy = malloc(DFS_BLOCK_SIZE);
	int err = 0;

	if (!copy)
		return daxfs_err(-ENOMEM, "fsck: out of memory");
	for (uint64_t ino = 1; ino < c->fs->itable_slots && !err; ino++) {
		struct dfs_inode *ip;

		if (c->state[ino] != INO_USED || dfs_iget(c->fs, ino, &ip))
			continue;
		const bool freed = fsck_being_freed(&ip->d);

		if (!freed && dfs_is_dir(ip))
			err = check_dir(c, ip, copy);
		else if (!freed && (ip->d.mode & S_IFMT) == S_IFLNK && ip->next == 1)
			err = check_symlink(c, ip);
		dfs_icache_trim(c->fs);
	}
	free(copy);
	return err;
}
