/* fuse/extmap.h - the extent-map service: a file range -> extents -> pieces down the LIVE table */
#ifndef DAXFS_FUSE_EXTMAP_H
#define DAXFS_FUSE_EXTMAP_H

#include "daxfs/dm.h"
#include "fuse/dfuse.h"

/*
 * Where a file's bytes live, answered once for every caller that shows or
 * hands it out: the system.daxfs.iomap and system.daxfs.map attributes
 * (daxfs-ctl map), the trace, and DAXFS_IOC_EXTENTS (whose pieces come from
 * the same dm_dax_resolve_range). Each extent the filesystem reports
 * (dfs_iomap_begin, DFS_IOMAP_REPORT) is handed to extent; then, unless it
 * is a hole, each piece of it from the walk's range, followed through the
 * table that is live at that moment, to piece: the file range [foff,
 * foff+len), the mapped-device byte md it is at, and r (r->error set for a
 * piece that does not resolve). A callback's non-zero return ends the walk
 * and is returned; either may be NULL (no resolution at all without piece).
 */
struct dfuse_extmap_ops {
	int (*extent)(void *arg, const struct dfs_iomap *m);
	int (*piece)(void *arg, uint64_t foff, uint64_t len, uint64_t md,
		     const struct dm_resolution *r);
};

/* Walks [off, off+len) of ino. 0, a callback's return, or the filesystem's
 * negative errno (-EIO for a map that does not advance, logged). */
int dfuse_extmap_walk(struct dfuse *df, uint64_t ino, uint64_t off, uint64_t len,
		      const struct dfuse_extmap_ops *ops, void *arg);

/* The piece of [md, md+len) of the mapped device that starts at md, through
 * the live table (dm_dax_resolve_range): what the walk hands to piece, for
 * a caller that walks the extents itself (DAXFS_IOC_EXTENTS converts
 * unwritten extents on the way). Returns the piece's length. */
uint64_t dfuse_extmap_piece(struct dfuse *df, uint64_t md, uint64_t len, struct dm_resolution *r);

/* The attributes' text for a regular file, up to its size: its length and
 * *out (malloc'd), or a negative errno (-ENODATA for anything else).
 * iomap: one line per extent, "<offset> <length> <type> <md offset|->".
 * map: the same lines prefixed "extent ", each followed by its pieces,
 * "piece <offset> <length> <error> <target> <type|-> <stripe> <device>
 * <device offset> <path|->": error 0 or a negative errno, target and
 * stripe -1 when none, device the index of DAXFS_IOC_DEVICE (-1 when none),
 * the path running to the end of the line. Numbers in decimal, bytes.
 * From file offset from; with page, the text ends at the first extent that
 * starts once page bytes are written, with a last line "more <offset>" to
 * ask from (an attribute value holds at most 64 KiB). */
ssize_t dfuse_extmap_text(struct dfuse *df, uint64_t ino, bool pieces, uint64_t from, size_t page,
			  char **out);

#endif
