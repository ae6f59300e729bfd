/* fuse/store.c - pre-filling the page cache of small files on open (-o notify_store=BYTES) */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuse/dfuse.h"

#define STORE_BUCKETS 1024u

/* Open files per inode, for the inodes that have any. */
struct open_count {
	struct open_count *next;
	uint64_t ino;
	unsigned long count;
};

struct dfuse_store {
	/* Held for a whole store, and to count or uncount an open: an open
	 * of an inode thus never overlaps a store of it. Taken before any of
	 * the filesystem's locks. */
	pthread_mutex_t lock;
	struct open_count *bucket[STORE_BUCKETS];	/* protected by lock */
	bool off;	/* protected by lock: an open went uncounted */
};

int dfuse_store_new(struct dfuse *df)
{
	struct dfuse_store *s;

	df->store = NULL;
	if (df->notify_store == 0)
		return 0;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	df->store = s;
	return 0;
}

void dfuse_store_delete(struct dfuse *df)
{
	struct dfuse_store *s = df->store;

	if (!s)
		return;
	for (unsigned i = 0; i < STORE_BUCKETS; i++) {
		while (s->bucket[i]) {
			struct open_count *c = s->bucket[i];

			s->bucket[i] = c->next;
			free(c);
		}
	}
	pthread_mutex_destroy(&s->lock);
	free(s);
	df->store = NULL;
}

/* lock held */
static struct open_count **slot(struct dfuse_store *s, uint64_t ino)
{
	struct open_count **p = &s->bucket[(ino * 0x9e3779b97f4a7c15ull) >> 54];

	while (*p && (*p)->ino != ino)
		p = &(*p)->next;
	return p;
}

void dfuse_store_open(struct dfuse *df, uint64_t ino)
{
	struct dfuse_store *s = df->store;
	struct open_count **p, *c;

	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	p = slot(s, ino);
	if (*p) {
		(*p)->count++;
	} else if ((c = malloc(sizeof(*c)))) {
		*c = (struct open_count){ .ino = ino, .count = 1 };
		*p = c;
	} else {
		/* Not counted: a later open may store while this file is open,
		 * which the rule forbids. Stop storing instead. */
		s->off = true;
		fuse_log(FUSE_LOG_ERR, "daxfs-fuse: notify_store: out of memory; storing "
			 "on open is off from now on\n");
	}
	pthread_mutex_unlock(&s->lock);
}

void dfuse_store_release(struct dfuse *df, uint64_t ino)
{
	struct dfuse_store *s = df->store;
	struct open_count **p;

	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	p = slot(s, ino);
	if (*p && --(*p)->count == 0) {
		struct open_count *c = *p;

		*p = c->next;
		free(c);
	}
	pthread_mutex_unlock(&s->lock);
}

void dfuse_store_lock(struct dfuse *df)
{
	if (df->store)
		pthread_mutex_lock(&df->store->lock);
}

void dfuse_store_unlock(struct dfuse *df)
{
	if (df->store)
		pthread_mutex_unlock(&df->store->lock);
}

/* One fuse_lowlevel_notify_store of what rd describes, at off. */
static int store_read(struct dfuse *df, uint64_t ino, off_t off, const struct dfs_read *rd)
{
	struct fuse_bufvec *bv = malloc(sizeof(*bv) + rd->niov * sizeof(bv->buf[0]));
	int err;

	if (!bv)
		return -ENOMEM;
	*bv = (struct fuse_bufvec){ .count = rd->niov };
	for (unsigned i = 0; i < rd->niov; i++)
		bv->buf[i] = (struct fuse_buf){
			.size = rd->iov[i].iov_len,
			.mem = rd->iov[i].iov_base,
		};
	err = fuse_lowlevel_notify_store(df->se, ino, off, bv, FUSE_BUF_NO_SPLICE);
	free(bv);
	return err;
}

void dfuse_store_fill(struct dfuse *df, uint64_t ino)
{
	struct dfuse_store *s = df->store;
	struct stat st;
	off_t off = 0;
	int err = 0;

	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	struct open_count **p = slot(s, ino);
	/* Exactly one open file, the one being opened: see dfuse.h. */
	if (!*p || (*p)->count != 1 || s->off)
		goto out;
	if ((err = dfs_getattr(df->fs, ino, &st)) < 0)
		goto out;
	if (!S_ISREG(st.st_mode) || st.st_size == 0 || (uint64_t)st.st_size > df->notify_store)
		goto out;
	while (off < st.st_size) {
		struct dfs_read rd;
		ssize_t n = dfs_read_begin(df->fs, ino, off, (size_t)(st.st_size - off), &rd);

		if (n <= 0) {
			err = (int)n;
			break;
		}
		/* The store copies the bytes into the kernel's pages before it
		 * returns, while read_begin keeps them stable. */
		err = store_read(df, ino, off, &rd);
		dfs_read_end(df->fs, &rd);
		if (err < 0)
			break;
		off += n;
	}
out:
	pthread_mutex_unlock(&s->lock);
	if (err < 0)
		fuse_log(FUSE_LOG_DEBUG, "daxfs-fuse: notify_store (inode %" PRIu64 ") at %jd: %s\n",
			 ino, (intmax_t)off, strerror(-err));
}
