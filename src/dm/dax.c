/* dm/dax.c - dm_dax_ops: direct_access, zero_page_range and recovery_write through the live table */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "dm/md.h"
#include "util/err.h"

static void resolution_init(struct dm_resolution *res, uint64_t pgoff)
{
	*res = (struct dm_resolution){
		.pgoff = pgoff,
		.sector = pgoff * DAX_PAGE_SECTORS,
		.target_index = -1,
		.stripe = -1,
		.device_index = -1,
	};
}

static long fail(struct dm_resolution *res, long err)
{
	if (res)
		res->error = (int)err;
	return err;
}

/* dm_dax_direct_access over one snapshot (drivers/md/dm.c, v6.12). */
long dm_table_direct_access(struct dm_table *t, uint64_t pgoff, long nr_pages,
			    enum dax_access_mode mode, void **kaddr, uint64_t *pfn,
			    struct dm_resolution *res)
{
	struct dm_target *ti;
	uint64_t sector, left;
	long len, ret;

	if (res)
		resolution_init(res, pgoff);
	if (!t)
		return fail(res, daxfs_err(-EIO, "no live table"));
	if (pgoff > UINT64_MAX / DAX_PAGE_SECTORS || !(ti = dm_table_find_target(t,
						pgoff * DAX_PAGE_SECTORS)))
		return fail(res, daxfs_err(-EIO, "page %llu is beyond the end of the table "
					   "(%llu sectors)", (unsigned long long)pgoff,
					   (unsigned long long)t->size));
	sector = pgoff * DAX_PAGE_SECTORS;
	if (res) {
		res->target_index = (int)ti->index;
		res->target_type = ti->type->name;
		res->target_begin = ti->begin;
		res->target_len = ti->len;
	}
	if (!ti->type->direct_access) {
		atomic_fetch_add(&ti->errors, 1);
		return fail(res, daxfs_err(-EIO, "target %u (%s): no direct_access", ti->index,
					   ti->type->name));
	}
	if (res && ti->type->map_sector) {
		struct dm_map_result m;

		ti->type->map_sector(ti, sector, &m);
		res->stripe = m.stripe;
		snprintf(res->device_path, sizeof(res->device_path), "%s", dax_device_path(m.dev));
		res->device = m.dev;
		res->device_sector = m.dev_sector;
		res->device_pgoff = m.dev_sector / DAX_PAGE_SECTORS;
	}
	/* max_io_len: never cross a target or chunk boundary */
	left = dm_target_max_io_len(ti, sector);
	if (left < DAX_PAGE_SECTORS) {
		atomic_fetch_add(&ti->errors, 1);
		return fail(res, daxfs_err(-EIO, "target %u (%s): page %llu straddles a target or "
					   "chunk boundary (%llu sectors left)", ti->index,
					   ti->type->name, (unsigned long long)pgoff,
					   (unsigned long long)left));
	}
	len = left / DAX_PAGE_SECTORS > (uint64_t)LONG_MAX ? LONG_MAX
							      : (long)(left / DAX_PAGE_SECTORS);
	if (nr_pages < len)
		len = nr_pages;
	atomic_fetch_add(&ti->ios, 1);
	ret = ti->type->direct_access(ti, pgoff, len, mode, kaddr, pfn);
	if (ret < 0) {
		atomic_fetch_add(&ti->errors, 1);
		return fail(res, ret);
	}
	if (res)
		res->pages = ret;
	return ret;
}

long dm_dax_direct_access(struct mapped_device *md, uint64_t pgoff, long nr_pages,
			  enum dax_access_mode mode, void **kaddr, uint64_t *pfn)
{
	struct dm_table *t = dm_md_get_live_table(md);
	long ret = dm_table_direct_access(t, pgoff, nr_pages, mode, kaddr, pfn, NULL);

	dm_table_put(&t);
	return ret;
}

long dm_dax_resolve(struct mapped_device *md, uint64_t pgoff, long nr_pages,
		    struct dm_resolution *out)
{
	struct dm_table *t = dm_md_get_live_table(md);
	void *kaddr = NULL;
	uint64_t pfn = 0;
	long ret = dm_table_direct_access(t, pgoff, nr_pages, DAX_ACCESS, &kaddr, &pfn, out);

	if (ret >= 0) {
		out->kaddr = kaddr;
		out->pfn = pfn;
	}
	if (out->device)
		out->device_index = dm_md_device_index(md, out->device);
	dm_table_put(&t);
	return ret;
}

uint64_t dm_dax_resolve_range(struct mapped_device *md, uint64_t pos, uint64_t len,
			      struct dm_resolution *out)
{
	uint64_t in_page = pos % DAX_PAGE_SIZE, pgoff = pos / DAX_PAGE_SIZE;
	uint64_t want = (in_page + len + DAX_PAGE_SIZE - 1) / DAX_PAGE_SIZE, piece;
	long ret;

	if (len == 0) {
		resolution_init(out, pgoff);
		return 0;
	}
	if (want > LONG_MAX)
		want = LONG_MAX;
	ret = dm_dax_resolve(md, pgoff, (long)want, out);
	if (ret == -EHWPOISON && want > 1) {
		/* One bad page fails the whole call, as in the kernel: find
		 * how many pages before it resolve (the property is monotone:
		 * a count that includes the bad page fails). */
		uint64_t good = 0, bad = want;

		while (bad - good > 1) {
			uint64_t mid = good + (bad - good) / 2;

			if (dm_dax_resolve(md, pgoff, (long)mid, out) == -EHWPOISON)
				bad = mid;
			else
				good = mid;
		}
		ret = dm_dax_resolve(md, pgoff, good ? (long)good : 1, out);
	}
	if (ret <= 0) {
		uint64_t end = (out->target_begin + out->target_len) * DAX_SECTOR_SIZE;

		if (ret == 0)
			out->error = -ERANGE;
		/* a report names the byte of the device that failed */
		if (out->device_path[0])
			out->device_offset = out->device_sector * DAX_SECTOR_SIZE + in_page;
		piece = DAX_PAGE_SIZE - in_page;
		if (ret != -EHWPOISON && out->target_index < 0)
			piece = len;
		else if (ret != -EHWPOISON && end > pos + piece)
			piece = end - pos;
		return piece < len ? piece : len;
	}
	out->device_offset = out->device_sector * DAX_SECTOR_SIZE + in_page;
	piece = (uint64_t)ret * DAX_PAGE_SIZE - in_page;
	return piece < len ? piece : len;
}

uint64_t dm_dax_report_range(struct mapped_device *md, uint64_t pos, uint64_t len,
			     struct dm_resolution *out)
{
	const uint64_t n = dm_dax_resolve_range(md, pos, len, out);
	uint64_t backed;

	if (n == 0 || out->error || !out->device)
		return n;
	backed = dax_device_backed_size(out->device);
	if (out->device_offset + n <= backed)
		return n;
	if (out->device_offset < backed)
		return backed - out->device_offset;
	out->error = -EIO;
	daxfs_err(-EIO, "%s: byte %llu is past the end of the file, which shrank to %llu bytes",
		  out->device_path, (unsigned long long)out->device_offset,
		  (unsigned long long)backed);
	return n;
}

/* dm_dax_get_live_target: the target owning pgoff, or NULL. */
static struct dm_target *live_target(struct dm_table *t, uint64_t pgoff)
{
	if (!t || pgoff > UINT64_MAX / DAX_PAGE_SECTORS)
		return NULL;
	return dm_table_find_target(t, pgoff * DAX_PAGE_SECTORS);
}

int dm_dax_zero_page_range(struct mapped_device *md, uint64_t pgoff, size_t nr_pages)
{
	struct dm_table *t = dm_md_get_live_table(md);
	struct dm_target *ti = live_target(t, pgoff);
	int r;

	if (!ti)
		r = daxfs_err(-EIO, "page %llu: no target", (unsigned long long)pgoff);
	else if (!ti->type->zero_page_range)
		/* the kernel WARNs here: zeroing through an error target */
		r = daxfs_err(-EIO, "target %u (%s): no zero_page_range", ti->index,
			      ti->type->name);
	else
		r = ti->type->zero_page_range(ti, pgoff, nr_pages);
	if (ti)
		atomic_fetch_add(r ? &ti->errors : &ti->ios, 1);
	dm_table_put(&t);
	return r;
}

size_t dm_dax_recovery_write(struct mapped_device *md, uint64_t pgoff, void *addr,
			     const void *src, size_t bytes)
{
	struct dm_table *t = dm_md_get_live_table(md);
	struct dm_target *ti = live_target(t, pgoff);
	size_t n = 0;

	if (ti && ti->type->recovery_write)
		n = ti->type->recovery_write(ti, pgoff, addr, src, bytes);
	dm_table_put(&t);
	return n;
}
