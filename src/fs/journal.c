/* fs/journal.c - the redo journal: transactions of whole metadata blocks, commit and checkpoint */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/crc32c.h"
#include "fs/internal.h"
#include "util/err.h"

/*
 * jbd2's scheme reduced to one transaction in flight: all metadata changes of
 * the running transaction sit in dirty buffers; commit logs them (descriptor
 * blocks naming the home locations, then the blocks), flushes, writes the
 * commit record (whose crc covers every logged block) with FUA, writes the
 * blocks home, flushes, and finally advances the header's sequence so the log
 * is dead. Replay (replay.c) redoes a log whose commit record is intact and
 * whose sequence is the header's. Because a transaction is checkpointed
 * before the next one starts, no revoke records are needed, and blocks freed
 * by a transaction stay unallocatable until it is checkpointed
 * (dfs_alloc_commit_done).
 */

/* Fills checksums that cover whole blocks, just before the blocks are logged. */
static void seal_dirty(struct dfs *fs)
{
	for (struct dfs_buf *b = fs->dirty; b; b = b->dnext)
		if (b->kind == DFS_BUF_BITMAP) {
			uint64_t g = b->blkno / DFS_BLOCKS_PER_GROUP;

			fs->gds[g].bitmap_crc = crc32c(b->data, DFS_BLOCK_SIZE);
			struct dfs_buf *gb;
			uint64_t gblk = fs->sb.gdt_start + g / DFS_GD_PER_BLOCK;
			/* the GDT block is cached and dirty: the free count changed too */
			if (dfs_buf_read(fs, gblk, DFS_BUF_PLAIN, &gb) == 0) {
				dfs_gd_encode(&fs->gds[g], g, gb->data + (g % DFS_GD_PER_BLOCK) * DFS_GD_SIZE);
				dfs_buf_dirty(fs, gb);
			}
		}
	for (struct dfs_buf *b = fs->dirty; b; b = b->dnext)
		if (b->kind == DFS_BUF_SEALED)
			dfs_block_seal(b->blkno, b->data);
		else if (b->kind == DFS_BUF_SUPER)
			dfs_super_encode(&fs->sb, b->blkno, b->data);
}

/* The transaction's blocks are in its log (or, for fsck -n, kept in the
 * cache): the next one starts with none dirty. */
static void dirty_list_clear(struct dfs *fs)
{
	for (struct dfs_buf *b = fs->dirty; b; ) {
		struct dfs_buf *next = b->dnext;

		b->dirty = false;
		b->dnext = NULL;
		b = next;
	}
	fs->dirty = NULL;
	fs->ndirty = 0;
}

/* fsck -n repairs in the cache only, to check what its repairs would leave:
 * a commit seals the blocks and ends the transaction without writing. The
 * cache is never trimmed then (buf.c), so nothing is lost. */
static int commit_in_cache(struct dfs *fs)
{
	dirty_list_clear(fs);
	dfs_alloc_commit_done(fs, fs->npending, fs->pending_blocks);
	fs->committed_tid = fs->jseq++;
	fs->running_tid = fs->jseq;
	fs->commits++;
	return 0;
}

static int commit_fail(struct dfs *fs, int err)
{
	/* read without meta by dfs_check_writable */
	__atomic_store_n(&fs->shutdown, err, __ATOMIC_RELEASE);
	return daxfs_err_prefix(err, "journal commit failed, filesystem is shut down");
}

int dfs_journal_abort(struct dfs *fs, int err)
{
	/* the first reason is the one worth keeping */
	if (!fs->shutdown)
		__atomic_store_n(&fs->shutdown, err, __ATOMIC_RELEASE);
	return daxfs_err_prefix(err, "change failed half-way, filesystem is shut down");
}

/*
 * A commit in two halves. Under meta it seals the running transaction and
 * copies it into one log image (descriptors and blocks, sorted by home
 * block), detaches it and opens the next transaction: this is memory-speed.
 * Then, with meta dropped, it writes the image as one bio, flushes, writes
 * the commit record, checkpoints from the image (one bio per run of
 * adjacent home blocks), flushes and advances the header; modifying calls
 * meanwhile change the cache for the next transaction, which is logged only
 * when this one is checkpointed (one transaction in the log, as before).
 * The image, not the live buffers, is what gets written, so a later change
 * to a buffer never reaches the log or home location of this transaction;
 * the detached buffers stay cached (no trim while committing), so nobody
 * reads a home location older than the cache. The transaction's freed
 * blocks stay unallocatable until its checkpoint.
 */
struct stage {
	uint64_t seq;
	uint8_t *log;              /* nlog blocks: the log as it goes to media */
	uint64_t nlog;
	uint64_t *home;            /* per logged copy: its home block */
	uint64_t *at;              /* per logged copy: its index in log */
	uint64_t n;
	uint32_t crc;
	uint8_t *backup;           /* the superblock's backup image, if logged */
	size_t npending;           /* the allocator's frees this transaction made */
	uint64_t pending_blocks;
};

static void stage_free(struct stage *st)
{
	free(st->log);
	free(st->home);
	free(st->at);
	free(st->backup);
}

static int by_blkno(const void *a, const void *b)
{
	const struct dfs_buf *x = *(struct dfs_buf *const *)a, *y = *(struct dfs_buf *const *)b;

	return x->blkno < y->blkno ? -1 : x->blkno > y->blkno;
}

/* meta held: seals, copies and detaches the running transaction. */
static int stage_build(struct dfs *fs, struct stage *st)
{
	const uint64_t js = fs->sb.journal_start;
	const uint64_t n = fs->ndirty, ndesc = (n + DFS_JDESC_MAX - 1) / DFS_JDESC_MAX;
	struct dfs_buf **v = malloc(n * sizeof(*v));
	bool super = false;

	*st = (struct stage){ .seq = fs->jseq, .n = n, .nlog = n + ndesc };
	st->log = malloc(st->nlog * DFS_BLOCK_SIZE);
	st->home = malloc(n * sizeof(*st->home));
	st->at = malloc(n * sizeof(*st->at));
	if (!v || !st->log || !st->home || !st->at) {
		free(v);
		stage_free(st);
		return daxfs_err(-ENOMEM, "journal: out of memory");
	}
	size_t k = 0;
	for (struct dfs_buf *b = fs->dirty; b; b = b->dnext)
		v[k++] = b;
	qsort(v, n, sizeof(*v), by_blkno);

	uint32_t crc = CRC32C_INIT;
	uint64_t pos = 0;
	for (uint64_t i = 0; i < n; ) {
		uint8_t *d = st->log + pos * DFS_BLOCK_SIZE;
		const uint64_t dpos = pos++;
		uint32_t count = 0;

		memset(d, 0, DFS_BLOCK_SIZE);
		dfs_put32(d + DFS_BLK_MAGIC, DFS_MAGIC_JDESC);
		dfs_put64(d + DFS_JBLK_SEQ, st->seq);
		memcpy(d + DFS_JBLK_UUID, fs->sb.uuid, 16);
		for (; i < n && count < DFS_JDESC_MAX; i++, count++) {
			struct dfs_buf *b = v[i];

			dfs_put64(d + DFS_JDESC_HDR + 8 * count, b->blkno);
			memcpy(st->log + pos * DFS_BLOCK_SIZE, b->data, DFS_BLOCK_SIZE);
			crc = crc32c_update(crc, b->data, DFS_BLOCK_SIZE);
			st->home[i] = b->blkno;
			st->at[i] = pos++;
			super |= b->kind == DFS_BUF_SUPER;
		}
		dfs_put32(d + DFS_JDESC_COUNT, count);
		dfs_block_seal(js + 1 + dpos, d);
	}
	st->crc = crc;
	free(v);
	if (super) {
		if (!(st->backup = malloc(DFS_BLOCK_SIZE))) {
			stage_free(st);
			return daxfs_err(-ENOMEM, "journal: out of memory");
		}
		dfs_super_encode(&fs->sb, DFS_SB_BACKUP, st->backup);
	}

	dirty_list_clear(fs);
	st->npending = fs->npending;
	st->pending_blocks = fs->pending_blocks;
	fs->jseq++;
	fs->running_tid = fs->jseq;
	return 0;
}

/* Without meta: the device writes of a staged transaction, in the order
 * docs/CRASH.md gives. *committed tells whether its commit record is down. */
static int stage_write(struct dfs *fs, struct stage *st, bool *committed)
{
	const uint64_t js = fs->sb.journal_start;
	uint8_t *d = NULL;
	int err;

	*committed = false;
	if (fs->commit_hook)
		fs->commit_hook(fs, st->seq);
	if ((err = dfs_dev_write(fs, js + 1, st->log, st->nlog, false)) ||
	    (err = dfs_dev_flush(fs)))
		return err;
	if (fs->fail_point == DFS_FAIL_BEFORE_COMMIT_RECORD)
		return daxfs_err(-EIO, "injected failure before the commit record");
	if (!(d = calloc(1, DFS_BLOCK_SIZE)))
		return daxfs_err(-ENOMEM, "journal: out of memory");
	dfs_put32(d + DFS_BLK_MAGIC, DFS_MAGIC_JCOMMIT);
	dfs_put64(d + DFS_JBLK_SEQ, st->seq);
	memcpy(d + DFS_JBLK_UUID, fs->sb.uuid, 16);
	dfs_put64(d + DFS_JCOMMIT_NBLOCKS, st->n);
	dfs_put32(d + DFS_JCOMMIT_DATA_CRC, crc32c_final(st->crc));
	dfs_block_seal(js + 1 + st->nlog, d);
	if ((err = dfs_dev_write(fs, js + 1 + st->nlog, d, 1, true)))
		goto out;
	*committed = true;
	if (fs->fail_point == DFS_FAIL_BEFORE_CHECKPOINT) {
		err = daxfs_err(-EIO, "injected failure before the checkpoint");
		goto out;
	}

	/* checkpoint: copies adjacent at home and in the log go as one bio */
	for (uint64_t i = 0; i < st->n; ) {
		uint64_t run = 1;

		while (i + run < st->n && st->home[i + run] == st->home[i] + run &&
		       st->at[i + run] == st->at[i] + run)
			run++;
		if ((err = dfs_dev_write(fs, st->home[i], st->log + st->at[i] * DFS_BLOCK_SIZE,
					 run, false)))
			goto out;
		i += run;
	}
	if ((err = dfs_dev_flush(fs)))
		goto out;
	/* the backup is written only once the primary is durable */
	if (st->backup && (err = dfs_dev_write(fs, DFS_SB_BACKUP, st->backup, 1, true)))
		goto out;
	dfs_jhead_encode(fs->sb.uuid, js, st->seq + 1, d);
	err = dfs_dev_write(fs, js, d, 1, true);
out:
	free(d);
	return err;
}

int dfs_commit(struct dfs *fs)
{
	struct stage st;
	bool committed;
	int err;

	/* one transaction in flight: the next is logged after it is home */
	while (fs->committing)
		pthread_cond_wait(&fs->commit_done, &fs->meta);
	if (fs->shutdown)
		return daxfs_err(fs->shutdown, "filesystem is shut down after an I/O error");
	if (fs->ndirty == 0)
		return 0;
	if (fs->ndirty > fs->jcap) {
		/* an operation under-reserved: a bug, not a runtime condition */
		abort();
	}
	seal_dirty(fs);
	if (fs->check_only)
		return commit_in_cache(fs);
	if ((err = stage_build(fs, &st)))
		return commit_fail(fs, err);
	fs->committing = true;
	pthread_mutex_unlock(&fs->meta);
	err = stage_write(fs, &st, &committed);
	pthread_mutex_lock(&fs->meta);
	fs->committing = false;
	fs->commits++;
	if (committed)
		fs->committed_tid = st.seq;
	if (!err)
		dfs_alloc_commit_done(fs, st.npending, st.pending_blocks);
	pthread_cond_broadcast(&fs->commit_done);
	stage_free(&st);
	return err ? commit_fail(fs, err) : 0;
}

int dfs_commit_tid(struct dfs *fs, uint64_t tid)
{
	while (fs->committed_tid < tid) {
		if (fs->shutdown)
			return daxfs_err(fs->shutdown, "filesystem is shut down after an I/O error");
		if (fs->committing) {
			/* join: whoever commits next takes this call's changes too */
			fs->commit_waiters++;
			pthread_cond_wait(&fs->commit_done, &fs->meta);
			fs->commit_waiters--;
			continue;
		}
		if (tid != fs->running_tid || fs->ndirty == 0)
			return 0;     /* nothing of tid is left uncommitted */
		int err = dfs_commit(fs);
		if (err)
			return err;
	}
	return 0;
}

int dfs_txn_reserve(struct dfs *fs, uint64_t nblocks)
{
	int err;

	/* a frozen fs (lockfs suspend) holds every change until thaw */
	if (fs->frozen)
		dfs_wait_thawed(fs);
	if (fs->shutdown)
		return daxfs_err(fs->shutdown, "filesystem is shut down after an I/O error");
	/* half the log is the soft limit, so a mis-estimate is not fatal;
	 * a commit also returns the blocks freed by this transaction */
	if ((fs->ndirty + nblocks > fs->jcap / 2 ||
	     (fs->npending && fs->free_blocks < fs->pending_blocks + 4096)) &&
	    (err = dfs_commit(fs)))
		return err;
	dfs_buf_trim(fs);
	return 0;
}

bool dfs_sync_mode(const struct dfs *fs)
{
	return fs->opts.commit_interval_ms == 0;
}

bool dfs_dev_suspended(struct dfs *fs)
{
	struct dm_md_info info;

	dm_md_get_info(fs->md, &info);
	return info.suspended;
}

/* Group commit: the call waits until the transaction it dirtied is durable,
 * and whoever finds no commit in flight commits the running transaction for
 * everyone who joined it (jbd2's way); meta is dropped during the device
 * writes, so the next transaction fills meanwhile. While the device is
 * suspended without lockfs its bios wait for resume, so the commit is left
 * to the next call or the committer after resume (as the kernel holds only
 * O_SYNC writers then, not buffered ones): a commit here would hold the
 * caller until resume. */
uint64_t dfs_txn_stop(struct dfs *fs)
{
	if (dfs_sync_mode(fs) && fs->ndirty && !fs->rdonly && !fs->shutdown &&
	    !dfs_dev_suspended(fs))
		return fs->running_tid;
	return 0;
}

int dfs_txn_wait(struct dfs *fs, uint64_t tid, int err)
{
	int cerr = 0;

	if (tid) {
		pthread_mutex_lock(&fs->meta);
		cerr = dfs_commit_tid(fs, tid);
		pthread_mutex_unlock(&fs->meta);
	}
	return err ? err : cerr;
}

void dfs_txn_end_deferred(struct dfs *fs)
{
	/* stopping first: committer_running is cleared without meta, after it */
	if (fs->stopping || !fs->committer_running)
		(void)dfs_txn_end(fs, 0);   /* a failure shuts the fs down; later calls see it */
}

int dfs_txn_end(struct dfs *fs, int err)
{
	uint64_t tid = dfs_txn_stop(fs);
	int cerr = tid ? dfs_commit_tid(fs, tid) : 0;

	return err ? err : cerr;
}

int dfs_commit_inode(struct dfs *fs, struct dfs_inode *ip)
{
	if (ip && ip->dirty_tid <= fs->committed_tid)
		return 0;
	if (ip)
		return dfs_commit_tid(fs, ip->dirty_tid);
	return dfs_commit(fs);
}
