/* fuse/extmap.c - where a file's bytes live: its extents, each followed down the live table */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuse/extmap.h"

uint64_t dfuse_extmap_piece(struct dfuse *df, uint64_t md, uint64_t len, struct dm_resolution *r)
{
	return dm_dax_resolve_range(df->md, md, len, r);
}

int dfuse_extmap_walk(struct dfuse *df, uint64_t ino, uint64_t off, uint64_t len,
		      const struct dfuse_extmap_ops *ops, void *arg)
{
	uint64_t end = len > UINT64_MAX - off ? UINT64_MAX : off + len;

	for (uint64_t pos = off; pos < end;) {
		struct dfs_iomap m;
		int err = dfs_iomap_begin(df->fs, ino, pos, end - pos, DFS_IOMAP_REPORT, &m);

		if (err < 0)
			return err;
		dfs_iomap_end(df->fs, ino, pos, end - pos, 0, DFS_IOMAP_REPORT, &m);
		if (m.length == 0)
			return 0;
		/* A map must cover pos and move forward, or the walk never ends. */
		if (m.offset > pos || m.offset + m.length <= pos) {
			fuse_log(FUSE_LOG_ERR, "daxfs-fuse: iomap of inode %" PRIu64 " at %" PRIu64
				 " returned [%" PRIu64 ", +%" PRIu64 ")\n", ino, pos, m.offset,
				 m.length);
			return -EIO;
		}
		if (ops->extent && (err = ops->extent(arg, &m)) != 0)
			return err;
		uint64_t stop = m.offset + m.length < end ? m.offset + m.length : end;

		for (uint64_t at = pos; ops->piece && m.type != DFS_IOMAP_HOLE && at < stop;) {
			struct dm_resolution r;
			uint64_t md = m.addr + (at - m.offset);
			/* a report: a member that shrank shows its lost pages */
			uint64_t n = dm_dax_report_range(df->md, md, stop - at, &r);

			if ((err = ops->piece(arg, at, n, md, &r)) != 0)
				return err;
			at += n;
		}
		pos = m.offset + m.length;
	}
	return 0;
}

static const char *type_name(uint16_t type)
{
	switch (type) {
	case DFS_IOMAP_HOLE:
		return "hole";
	case DFS_IOMAP_MAPPED:
		return "mapped";
	case DFS_IOMAP_UNWRITTEN:
		return "unwritten";
	default:
		return "unknown";
	}
}

struct text {
	FILE *f;
	bool pieces;
	long budget;            /* bytes of text after which a page ends, or 0 */
	uint64_t next;          /* where the next page starts, when one ended */
	bool piece_shown;       /* of the extent last shown, on this page */
};

static int text_extent(void *arg, const struct dfs_iomap *m)
{
	struct text *t = arg;

	/* a page ends between extents, or between the pieces of one: the next
	 * page starts with the extent again, from the piece on */
	if (t->budget && ftell(t->f) >= t->budget) {
		t->next = m->offset;
		return 1;
	}
	t->piece_shown = false;

	fprintf(t->f, "%s%" PRIu64 " %" PRIu64 " %s ", t->pieces ? "extent " : "", m->offset,
		m->length, type_name(m->type));
	if (m->type == DFS_IOMAP_HOLE)
		fputs("-\n", t->f);
	else
		fprintf(t->f, "%" PRIu64 "\n", m->addr);
	return 0;
}

static int text_piece(void *arg, uint64_t foff, uint64_t len, uint64_t md,
		      const struct dm_resolution *r)
{
	struct text *t = arg;

	(void)md;
	/* one piece a page at least, or the reader never gets further */
	if (t->budget && t->piece_shown && ftell(t->f) >= t->budget) {
		t->next = foff;
		return 1;
	}
	t->piece_shown = true;
	/* a failing piece keeps the device the chain reached, if any: the
	 * reader tells a lost or poisoned page of a file from an error target */
	const bool dev = r->device_path[0] != '\0';
	fprintf(t->f, "piece %" PRIu64 " %" PRIu64 " %d %d %s %d %d %" PRIu64 " %s\n", foff, len,
		r->error, r->target_index, r->target_type ? r->target_type : "-", r->stripe,
		dev ? r->device_index : -1, dev ? r->device_offset : 0, dev ? r->device_path : "-");
	return 0;
}

ssize_t dfuse_extmap_text(struct dfuse *df, uint64_t ino, bool pieces, uint64_t from, size_t page,
			  char **out)
{
	static const struct dfuse_extmap_ops extents = { .extent = text_extent };
	static const struct dfuse_extmap_ops both = { .extent = text_extent,
						      .piece = text_piece };
	struct text t = { .pieces = pieces, .budget = (long)page };
	struct stat st;
	char *text = NULL;
	size_t len = 0;
	int err;

	*out = NULL;
	if ((err = dfs_getattr(df->fs, ino, &st)) < 0)
		return err;
	if (!S_ISREG(st.st_mode))
		return -ENODATA;
	if (!(t.f = open_memstream(&text, &len)))
		return -ENOMEM;
	if (from < (uint64_t)st.st_size)
		err = dfuse_extmap_walk(df, ino, from, (uint64_t)st.st_size - from,
					pieces ? &both : &extents, &t);
	else
		err = 0;
	if (err > 0) {          /* the page is full */
		fprintf(t.f, "more %" PRIu64 "\n", t.next);
		err = 0;
	}
	if (fclose(t.f) != 0 && err == 0)
		err = -ENOMEM;
	if (err < 0) {
		free(text);
		return err;
	}
	*out = text;
	return (ssize_t)len;
}
