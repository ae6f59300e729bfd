/* fs/fsck.h - fsck's passes and what they share (fsck*.c) */
#ifndef DAXFS_FS_FSCK_H
#define DAXFS_FS_FSCK_H

#include "fs/internal.h"

/*
 * fsck runs rounds of passes over a filesystem mounted for it (fsck.c). Each
 * pass finds problems, reports each as one line, and repairs it at once;
 * with -n the repairs go to the buffer cache only (never to the device), so
 * -n reports exactly what -y repairs. A round ends with a commit; rounds
 * repeat until one finds nothing.
 *
 * Blocks are accounted as claims: who uses which run of blocks, and as what.
 * A structure added to the format adds a claim kind (fsck_block.c's table:
 * its name and who wins a block it shares) and its check to the pass that
 * reads it.
 */

/* Who uses a block, in the order that decides who keeps a block claimed
 * twice: fixed metadata, then blocks whose contents name their owner (and
 * were checked to), then directory, symlink and file blocks. */
enum fsck_claim_kind {
	CLAIM_FIXED,        /* superblocks, journal, group descriptor table */
	CLAIM_MEMBERS,      /* the member table */
	CLAIM_LABEL,        /* a member's label block (owner: the member) */
	CLAIM_BITMAP,       /* a group's bitmap (owner: the group) */
	CLAIM_ITABLE,       /* an inode table extent */
	CLAIM_CHAIN,        /* an extent chain block (owner: the inode) */
	CLAIM_XATTR,        /* an xattr block */
	CLAIM_DIR,          /* directory blocks */
	CLAIM_SYMLINK,      /* a symlink's target block */
	CLAIM_DATA,         /* a regular file's blocks */
	CLAIM_KINDS
};

struct fsck_claim {
	uint64_t start, len;
	uint64_t owner;     /* inode, group, or 0 */
	uint64_t lblk;      /* DIR, SYMLINK, DATA: the file block at start */
	uint8_t kind;
};

/* A run of a claim that another claim (the winner) keeps. */
struct fsck_shared {
	struct fsck_claim loser;     /* start/len/lblk: the shared run only */
	struct fsck_claim winner;
};

enum fsck_ino_state {
	INO_FREE = 0,
	INO_USED = 1,
	INO_REACHED = 2,    /* a directory the tree walk entered */
};

struct fsck {
	struct dfs *fs;
	bool repair;                 /* -y: repairs are committed */
	dfs_fsck_report_t report;
	void *ctx;
	struct dfs_fsck_result res;
	unsigned round_problems;
	/* per round */
	struct fsck_claim *claims;
	size_t nclaims, claimcap;
	struct fsck_shared *shared;
	size_t nshared, sharedcap;
	uint8_t *needs_bitmap;       /* per group: has blocks in use besides fixed metadata */
	uint8_t *state;              /* per inode: enum fsck_ino_state */
	uint32_t *refs, *subdirs;    /* per inode: entries naming it, subdirectories */
	uint64_t *lost;              /* in use, not reachable: for /lost+found */
	size_t nlost, lostcap;
};

/* Whether fsck -p may repair a problem without asking (dfs_fsck_problem's
 * preen): PREEN_OK where the repair recomputes what is derived (counts,
 * bitmaps, a checksum over contents that check out, link counts, the orphan
 * list) or rewrites a copy from a sound other; PREEN_ASK where it drops,
 * clears, moves or reconnects something, or chooses between owners. */
enum fsck_preen { PREEN_ASK = 0, PREEN_OK = 1 };

/* Reports one problem; repaired: its repair was made (and -y commits it). */
void fsck_problem(struct fsck *c, bool repaired, enum fsck_preen preen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Problems found before the repair that fixes them all is made. */
struct fsck_notes {
	char msg[6][400];
	bool preen[6];
	unsigned n;
};
void fsck_note(struct fsck_notes *nt, enum fsck_preen preen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Reports each, repaired if ok. */
void fsck_report_notes(struct fsck *c, const struct fsck_notes *nt, bool ok);
/* Whether a failed repair stops fsck (out of memory, a write refused)
 * rather than leaving its problem unrepaired. */
bool fsck_fatal(int err);
int fsck_claim(struct fsck *c, enum fsck_claim_kind kind, uint64_t start, uint64_t len,
	       uint64_t owner, uint64_t lblk);
/* "inode 12", "the inode table", ...: who a claim is. */
const char *fsck_claim_name(const struct fsck_claim *cl, char *buf, size_t size);
/* The cached block blk (a block-tail crc kind) as it is; *crc_ok: its crc
 * holds, or it was changed in this transaction (it is sealed at commit). */
int fsck_read(struct fsck *c, uint64_t blk, struct dfs_buf **b, bool *crc_ok);
/* NULL if blk may be an inode's block (an extent chain or xattr block);
 * else what it is: outside the data area, or metadata at a fixed place
 * (superblocks, journal, group descriptors, member table, a label, the inode
 * table, a group's bitmap block). */
const char *fsck_not_data(const struct fsck *c, uint64_t blk);
/* Frees inode ino and everything it maps (after the group pass only). */
int fsck_release(struct fsck *c, struct dfs_inode *ip);

/* Before the mount (fsck_member.c): the members of the filesystem whose
 * superblock is sb, through md's live table, read and checked in their
 * places; a damaged member table block or label is repaired from the other
 * copy (reported through c; -y writes it). *out malloc'd (sb->nmembers). An
 * error is a member out of place (or memory, I/O): nothing else is checked. */
int fsck_members(struct fsck *c, struct mapped_device *md, const struct dfs_super *sb,
		 struct dfs_member **out);

/* An orphan without links is being freed: a crash in its release (which may
 * commit between freeing its blocks and clearing its slot when space is
 * short) leaves a directory with fewer blocks than its size says, or a
 * symlink without its block. The next mount finishes the release, so the
 * contents of such an inode are no damage to check. */
static inline bool fsck_being_freed(const struct dfs_dinode *d)
{
	return d->nlink == 0 && (d->flags & DFS_IFLAG_ORPHAN);
}

/* The passes, in the order a round runs them. */
int fsck_pass_inodes(struct fsck *c);      /* fsck_inode.c: every slot, its map and xattrs */
int fsck_pass_claims(struct fsck *c);      /* fsck_inode.c: who uses which block; orphans */
int fsck_pass_shared(struct fsck *c);      /* fsck_block.c: blocks claimed twice */
int fsck_pass_groups(struct fsck *c);      /* fsck_block.c: descriptors, bitmaps, counts */
int fsck_pass_clone(struct fsck *c);       /* fsck_block.c: a copy for the later owner */
int fsck_pass_contents(struct fsck *c);    /* fsck_dir.c: directory and symlink blocks */
int fsck_pass_tree(struct fsck *c);        /* fsck_tree.c: entries, parents, reachability */
int fsck_pass_links(struct fsck *c);       /* fsck_tree.c: link counts, /lost+found */

#endif
