/* fuse/holders.c - who holds direct-access leases: per open file and user, limited per user, revocable */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>

#include "fuse/holders.h"
#include "util/err.h"

/*
 * One record per open file (handle) and user, in the mount's table. Leases
 * are bounded by the per-user limit, so a flat array does; the per-user
 * count is a sum over it.
 */
struct holder {
	uint64_t fh, ino;
	uid_t uid;
	unsigned reads, writes;
	bool revoked;
};

struct dfuse_holders {
	pthread_mutex_t lock;
	struct holder *h;       /* protected by lock */
	size_t n, cap;
};

int dfuse_holders_new(struct dfuse *df)
{
	struct dfuse_holders *hs = calloc(1, sizeof(*hs));

	if (!hs)
		return -ENOMEM;
	pthread_mutex_init(&hs->lock, NULL);
	df->holders = hs;
	return 0;
}

void dfuse_holders_delete(struct dfuse *df)
{
	struct dfuse_holders *hs = df->holders;

	if (!hs)
		return;
	pthread_mutex_destroy(&hs->lock);
	free(hs->h);
	free(hs);
	df->holders = NULL;
}

/* lock held */
static struct holder *find(struct dfuse_holders *holders, uint64_t fh, uint64_t ino, uid_t uid)
{
	for (size_t i = 0; i < holders->n; i++)
		if (holders->h[i].fh == fh && holders->h[i].ino == ino && holders->h[i].uid == uid)
			return &holders->h[i];
	return NULL;
}

/* lock held */
static struct holder *find_any(struct dfuse_holders *holders, uint64_t fh, uint64_t ino, bool write)
{
	for (size_t i = 0; i < holders->n; i++) {
		struct holder *h = &holders->h[i];

		if (h->fh == fh && h->ino == ino && (write ? h->writes : h->reads))
			return h;
	}
	return NULL;
}

/* lock held */
static unsigned count_of(struct dfuse_holders *holders, uid_t uid)
{
	unsigned n = 0;

	for (size_t i = 0; i < holders->n; i++)
		if (holders->h[i].uid == uid)
			n += holders->h[i].reads + holders->h[i].writes;
	return n;
}

/* lock held */
static bool revoked(struct dfuse_holders *holders, uint64_t fh, uint64_t ino)
{
	for (size_t i = 0; i < holders->n; i++)
		if (holders->h[i].fh == fh && holders->h[i].ino == ino && holders->h[i].revoked)
			return true;
	return false;
}

/* lock held; h empty */
static void drop(struct dfuse_holders *holders, struct holder *h)
{
	*h = holders->h[--holders->n];
}

int dfuse_holders_get(struct dfuse *df, uint64_t fh, uint64_t ino, uid_t uid, bool write,
		      unsigned limit)
{
	struct dfuse_holders *holders = df->holders;
	struct holder *h;
	int err;

	pthread_mutex_lock(&holders->lock);
	if (revoked(holders, fh, ino)) {
		err = -ESTALE;
		goto out;
	}
	if (count_of(holders, uid) >= limit) {
		err = -EDQUOT;
		goto out;
	}
	if (!(h = find(holders, fh, ino, uid))) {
		if (holders->n == holders->cap) {
			size_t ncap = holders->cap ? holders->cap * 2 : 16;
			struct holder *nh = realloc(holders->h, ncap * sizeof(*nh));

			if (!nh) {
				err = -ENOMEM;
				goto out;
			}
			holders->h = nh;
			holders->cap = ncap;
		}
		h = &holders->h[holders->n++];
		*h = (struct holder){ .fh = fh, .ino = ino, .uid = uid };
	}
	err = dfs_lease_get(df->fs, ino);
	if (err == 0)
		*(write ? &h->writes : &h->reads) += 1;
	else if (h->reads + h->writes == 0)
		drop(holders, h);
out:
	pthread_mutex_unlock(&holders->lock);
	if (err < 0)
		return err;
	return dfs_lease_count(df->fs, ino) == 1;
}

int dfuse_holders_put(struct dfuse *df, uint64_t fh, uint64_t ino, uid_t uid, bool write)
{
	struct dfuse_holders *holders = df->holders;
	struct holder *h;

	pthread_mutex_lock(&holders->lock);
	h = find(holders, fh, ino, uid);
	if (!h || !(write ? h->writes : h->reads))
		h = find_any(holders, fh, ino, write);
	if (!h) {
		pthread_mutex_unlock(&holders->lock);
		return -ENOENT;
	}
	*(write ? &h->writes : &h->reads) -= 1;
	if (h->reads + h->writes == 0)
		drop(holders, h);
	pthread_mutex_unlock(&holders->lock);
	return dfs_lease_put(df->fs, ino);
}

void dfuse_holders_release(struct dfuse *df, uint64_t fh, uint64_t ino)
{
	struct dfuse_holders *holders = df->holders;
	unsigned count = 0;

	pthread_mutex_lock(&holders->lock);
	for (size_t i = 0; i < holders->n;) {
		struct holder *h = &holders->h[i];

		if (h->fh == fh && h->ino == ino) {
			count += h->reads + h->writes;
			drop(holders, h);
		} else {
			i++;
		}
	}
	pthread_mutex_unlock(&holders->lock);
	while (count--)
		if (dfs_lease_put(df->fs, ino) < 0)
			fuse_log(FUSE_LOG_ERR, "daxfs-fuse: release (inode %" PRIu64 "): %s\n", ino,
				 daxfs_errormsg());
}

void dfuse_holders_state(struct dfuse *df, uint64_t fh, uint64_t ino, struct dfuse_holding *out)
{
	struct dfuse_holders *holders = df->holders;
	*out = (struct dfuse_holding){ 0 };
	pthread_mutex_lock(&holders->lock);
	for (size_t i = 0; i < holders->n; i++) {
		const struct holder *h = &holders->h[i];

		if (h->fh == fh && h->ino == ino) {
			out->reads += h->reads;
			out->writes += h->writes;
			out->revoked |= h->revoked;
		}
	}
	pthread_mutex_unlock(&holders->lock);
}

bool dfuse_holders_writer(struct dfuse *df, uint64_t ino, uid_t uid)
{
	struct dfuse_holders *holders = df->holders;
	bool found = false;

	pthread_mutex_lock(&holders->lock);
	for (size_t i = 0; i < holders->n && !found; i++) {
		const struct holder *h = &holders->h[i];

		found = h->ino == ino && h->uid == uid && h->writes > 0 && !h->revoked;
	}
	pthread_mutex_unlock(&holders->lock);
	return found;
}

size_t dfuse_holders_revoke(struct dfuse *df)
{
	struct dfuse_holders *holders = df->holders;
	size_t n = 0;

	pthread_mutex_lock(&holders->lock);
	for (size_t i = 0; i < holders->n; i++) {
		n += !holders->h[i].revoked;
		holders->h[i].revoked = true;
	}
	pthread_mutex_unlock(&holders->lock);
	return n;
}

uint64_t dfuse_holders_live(struct dfuse *df)
{
	struct dfuse_holders *holders = df->holders;
	uint64_t ino = 0;

	pthread_mutex_lock(&holders->lock);
	for (size_t i = 0; i < holders->n && !ino; i++)
		if (!holders->h[i].revoked)
			ino = holders->h[i].ino;
	pthread_mutex_unlock(&holders->lock);
	return ino;
}
