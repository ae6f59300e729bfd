/* dm/bio.c - the bio path: split at target and chunk boundaries, remap, wait while suspended */
#include <errno.h>

#include "dm/md.h"
#include "util/err.h"

/* Walks [pos, pos+len) of t one slice at a time, each inside one target and
 * one chunk: the split __split_and_process_bio does with max_io_len. */
static int for_each_slice(struct dm_table *t, uint64_t pos, uint64_t len,
			  int (*fn)(struct dm_target *ti, uint64_t pos, uint64_t n, void *data),
			  void *data)
{
	while (len) {
		uint64_t sector = pos >> DAX_SECTOR_SHIFT;
		struct dm_target *ti = dm_table_find_target(t, sector);
		uint64_t n;
		int r;

		if (!ti)
			return daxfs_err(-EIO, "sector %llu: beyond the end of the device",
					 (unsigned long long)sector);
		n = (dm_target_max_io_len(ti, sector) << DAX_SECTOR_SHIFT) -
		    (pos & (DAX_SECTOR_SIZE - 1));
		if (n > len)
			n = len;
		r = fn(ti, pos, n, data);
		if (r)
			return r;
		pos += n;
		len -= n;
	}
	return 0;
}

struct bio_walk {
	enum dax_req_op op;
	unsigned flags;
	char *buf;
	uint64_t start;
};

static int bio_slice(struct dm_target *ti, uint64_t pos, uint64_t n, void *data)
{
	struct bio_walk *w = data;
	struct dm_bio bio = {
		.op = w->op,
		.flags = w->flags,
		.pos = pos,
		.buf = w->buf ? w->buf + (pos - w->start) : NULL,
		.len = (size_t)n,
	};
	int r = ti->type->map_bio(ti, &bio);

	atomic_fetch_add(r ? &ti->errors : &ti->ios, 1);
	return r;
}

static int check_range(struct dm_table *t, uint64_t pos, uint64_t len)
{
	uint64_t bytes = t->size << DAX_SECTOR_SHIFT;

	if (pos > bytes || len > bytes - pos)
		return daxfs_err(-EIO, "bytes %llu+%llu: beyond the end of the device "
				 "(%llu bytes)", (unsigned long long)pos,
				 (unsigned long long)len, (unsigned long long)bytes);
	return 0;
}

int dm_submit_bio(struct mapped_device *md, enum dax_req_op op, unsigned flags,
		  uint64_t pos, void *buf, size_t len)
{
	struct bio_walk w = {
		.op = op,
		.flags = (flags & DM_BIO_FUA) ? DAX_REQ_FUA : 0,
		.buf = buf,
		.start = pos,
	};
	struct dm_table *t;
	int r;

	if (op != DAX_REQ_READ && op != DAX_REQ_WRITE && op != DAX_REQ_WRITE_ZEROES)
		return daxfs_err(-EINVAL, "unknown bio op %d", (int)op);
	if (!buf && op != DAX_REQ_WRITE_ZEROES && len)
		return daxfs_err(-EINVAL, "bio without a buffer");
	r = dm_md_start_io(md, flags);
	if (r)
		return r;
	/* a swap needs inflight == 0, so this snapshot serves the whole bio */
	t = dm_md_get_live_table(md);
	if (!t)
		r = daxfs_err(-EIO, "%s: no live table", md->name);
	else
		r = check_range(t, pos, len);
	if (!r)
		r = for_each_slice(t, pos, len, bio_slice, &w);
	dm_table_put(&t);
	dm_md_end_io(md);
	return r;
}

struct read_walk {
	char *buf;
	uint64_t start;
};

static int read_slice(struct dm_target *ti, uint64_t pos, uint64_t n, void *data)
{
	struct read_walk *w = data;
	struct dm_bio bio = {
		.op = DAX_REQ_READ,
		.pos = pos,
		.buf = w->buf + (pos - w->start),
		.len = (size_t)n,
	};

	return ti->type->map_bio(ti, &bio);
}

int dm_table_read(struct dm_table *t, uint64_t pos, void *buf, size_t len)
{
	struct read_walk w = { .buf = buf, .start = pos };
	int r = check_range(t, pos, len);

	return r ? r : for_each_slice(t, pos, len, read_slice, &w);
}

int dm_flush(struct mapped_device *md)
{
	struct dm_table *t;
	int r;

	r = dm_md_start_io(md, 0);
	if (r)
		return r;
	t = dm_md_get_live_table(md);
	for (unsigned i = 0; t && i < t->num_devs && !r; i++)
		r = dax_device_drain(t->devs[i]);
	dm_table_put(&t);
	dm_md_end_io(md);
	return r;
}

static int persist_slice(struct dm_target *ti, uint64_t pos, uint64_t n, void *data)
{
	struct dm_map_result m;

	/* error and zero map nowhere: nothing was stored there */
	if (!ti->type->map_sector)
		return 0;
	ti->type->map_sector(ti, pos >> DAX_SECTOR_SHIFT, &m);
	return dax_device_flush(m.dev, (m.dev_sector << DAX_SECTOR_SHIFT) +
				(pos & (DAX_SECTOR_SIZE - 1)), n);
}

int dm_persist_range(struct mapped_device *md, uint64_t pos, uint64_t len, bool drain)
{
	struct dm_table *t = dm_md_get_live_table(md);
	int r;

	if (!t)
		return daxfs_err(-EIO, "%s: no live table", md->name);
	r = check_range(t, pos, len);
	if (!r)
		r = for_each_slice(t, pos, len, persist_slice, NULL);
	for (unsigned i = 0; drain && !r && i < t->num_devs; i++)
		r = dax_device_drain(t->devs[i]);
	dm_table_put(&t);
	return r;
}

struct copy_walk {
	const char *src;
	uint64_t start;
};

static int copy_slice(struct dm_target *ti, uint64_t pos, uint64_t n, void *data)
{
	struct copy_walk *w = data;
	struct dm_map_result m;

	/* error and zero have no memory to store into (direct_access refused
	 * them, so a caller never got a pointer there) */
	if (!ti->type->map_sector)
		return daxfs_err(-EIO, "target %u (%s): no memory to copy to at sector %llu",
				 ti->index, ti->type->name, (unsigned long long)(pos >> DAX_SECTOR_SHIFT));
	ti->type->map_sector(ti, pos >> DAX_SECTOR_SHIFT, &m);
	return dax_device_copy_flushcache(m.dev, (m.dev_sector << DAX_SECTOR_SHIFT) +
					  (pos & (DAX_SECTOR_SIZE - 1)),
					  w->src + (pos - w->start), (size_t)n);
}

int dm_copy_flushcache(struct mapped_device *md, uint64_t pos, const void *src, size_t len)
{
	struct dm_table *t = dm_md_get_live_table(md);
	struct copy_walk w = { .src = src, .start = pos };
	int r;

	if (!t)
		return daxfs_err(-EIO, "%s: no live table", md->name);
	r = check_range(t, pos, len);
	if (!r)
		r = for_each_slice(t, pos, len, copy_slice, &w);
	dm_table_put(&t);
	return r;
}
