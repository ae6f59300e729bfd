/* client/internal.h - libdaxfs: one mapping's pieces and the process's list of mappings */
#ifndef DAXFS_CLIENT_INTERNAL_H
#define DAXFS_CLIENT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* What a holder is told after a forced table swap revoked its leases. */
#define STALE "the mount's table was swapped by force (daxfs-ctl reload --force) while " \
	"this open file had direct mappings, which are revoked: stores through them may " \
	"not reach the file; daxfs_unmap every mapping made through this open file (or " \
	"open the file again), then map again"

/* One backing range mapped at [start, start+length) of the region. */
struct dmap_piece {
	size_t start, length;       /* in the region, page multiples */
	bool pmem;                  /* flush + drain; otherwise msync */
};

struct dmap {
	char *addr;                 /* the reserved region */
	size_t length;              /* as the caller gave it */
	size_t region;              /* length rounded up to pages */
	off_t offset;               /* file offset of addr */
	int fd;                     /* our duplicate of the caller's fd: holds the lease */
	bool write;                 /* the lease is a write lease */
	struct dmap_piece *pieces;
	size_t npieces, cap;
	struct dmap *next;
};

/* backing.c: a descriptor of backing device index of the daxfs-fuse file fd
 * is open on (a lease of it needed): the path the daemon names, opened with
 * the caller's own rights, or else one from the daemon when the mount hands
 * them out (-o dax_users). Open for writing when write. Returns it, or a
 * negative errno with the message. */
int dmap_open_backing(int fd, uint32_t index, bool write);

/* The descriptor the daemon hands over its grant socket for a one-time
 * token (DAXFS_IOC_GRANT, DAXFS_IOC_RUN_OPEN); what names it in messages. */
int dmap_fetch_fd(const char *sock, const uint8_t token[16], const char *what);
/* The same, for an answer with up to max (at most DMAP_MAX_FDS)
 * descriptors: how many arrived in fds, or a negative errno. */
#define DMAP_MAX_FDS 4
int dmap_fetch_fds(const char *sock, const uint8_t token[16], const char *what, int *fds,
		   size_t max);

/* registry.c. Lookups return the mapping with the registry read-locked;
 * dmap_unlock releases it. */
void dmap_register(struct dmap *m);
/* The mapping whose region starts at addr, removed from the list. */
struct dmap *dmap_unregister(const void *addr);
/* The mapping that contains [addr, addr+length), read-locked; NULL if none
 * (then nothing is locked). */
struct dmap *dmap_lookup(const void *addr, size_t length);
void dmap_unlock(void);

#endif
