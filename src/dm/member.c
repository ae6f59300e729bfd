/* dm/member.c - member ranges: the device areas a table's targets map data to, read through them */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm/table.h"
#include "util/err.h"

struct collect {
	struct dm_table *t;
	unsigned stripe;
	int err;
};

static int collect_area(struct dm_target *ti, struct dax_device *dev, const char *path,
			uint64_t start, uint64_t len, void *data)
{
	struct collect *c = data;
	struct dm_table *t = c->t;
	struct dm_member_area *m = realloc(t->members, (t->num_members + 1) * sizeof(*m));

	if (!m) {
		c->err = daxfs_err(-ENOMEM, "out of memory");
		return 1;
	}
	t->members = m;
	m[t->num_members++] = (struct dm_member_area){
		.ti = ti,
		.stripe = c->stripe++,
		.dev = dev,
		.path = path,
		.start = start,
		.len = len,
		.md_first = UINT64_MAX,
	};
	return 0;
}

static unsigned member_of(struct dm_target *ti, uint64_t sector, struct dm_map_result *m)
{
	ti->type->map_sector(ti, sector, m);
	return ti->first_member + (m->stripe < 0 ? 0 : (unsigned)m->stripe);
}

/* Where each member of a target starts and ends on the mapped device. A
 * target spreads its members over chunks of max_io_len, so the first and the
 * last chunk of each are found by walking chunks in from either end, without
 * knowing the type's arithmetic. */
static void member_spans(struct dm_table *t, struct dm_target *ti)
{
	struct dm_member_area *ms = t->members + ti->first_member;
	const uint64_t end = ti->begin + ti->len;
	struct dm_map_result m;
	unsigned left;

	if (ti->num_members == 1 || !ti->max_io_len) {
		for (unsigned i = 0; i < ti->num_members; i++) {
			ms[i].md_first = ti->begin;
			ms[i].md_last = end - 1;
		}
		return;
	}
	left = ti->num_members;
	for (uint64_t s = ti->begin; s < end && left; s += dm_target_max_io_len(ti, s)) {
		struct dm_member_area *a = &t->members[member_of(ti, s, &m)];

		if (a->md_first == UINT64_MAX) {
			a->md_first = s;
			left--;
		}
	}
	left = ti->num_members;
	for (uint64_t s = end - 1; left; ) {
		struct dm_member_area *a = &t->members[member_of(ti, s, &m)];
		uint64_t chunk_start = ti->begin + (s - ti->begin) / ti->max_io_len * ti->max_io_len;

		if (a->md_last == 0 && a->md_first != UINT64_MAX) {
			a->md_last = s;
			left--;
		}
		if (chunk_start == ti->begin)
			break;
		s = chunk_start - 1;
	}
}

int dm_table_build_members(struct dm_table *t)
{
	for (unsigned i = 0; i < t->num_targets; i++) {
		struct dm_target *ti = &t->targets[i];
		struct collect c = { .t = t };

		ti->first_member = t->num_members;
		if (ti->type->map_sector && ti->type->iterate_devices)
			ti->type->iterate_devices(ti, collect_area, &c);
		if (c.err)
			return c.err;
		ti->num_members = t->num_members - ti->first_member;
	}
	for (unsigned i = 0; i < t->num_targets; i++)
		if (t->targets[i].num_members)
			member_spans(t, &t->targets[i]);
	return 0;
}

unsigned dm_table_num_members(const struct dm_table *t)
{
	return t->num_members;
}

int dm_table_get_member(const struct dm_table *t, unsigned index, struct dm_member *out)
{
	const struct dm_member_area *a;

	if (index >= t->num_members)
		return daxfs_err(-ERANGE, "member %u: the table has %u members", index,
				 t->num_members);
	a = &t->members[index];
	*out = (struct dm_member){
		.index = index,
		.target = a->ti->index,
		.stripe = a->stripe,
		.nstripes = a->ti->num_members,
		.type = a->ti->type->name,
		.path = a->path,
		.offset = a->start,
		.length = a->len,
		.device_size = dax_device_size(a->dev),
		.target_begin = a->ti->begin,
		.target_len = a->ti->len,
		.chunk = a->ti->num_members > 1 ? a->ti->max_io_len : 0,
		.first_sector = a->md_first,
		.last_sector = a->md_last,
	};
	dax_device_file_id(a->dev, &out->st_dev, &out->st_ino);
	return 0;
}

int dm_table_target_members(const struct dm_table *t, unsigned target, unsigned *first,
			    unsigned *count)
{
	if (target >= t->num_targets)
		return daxfs_err(-ERANGE, "target %u: the table has %u targets", target,
				 t->num_targets);
	*first = t->targets[target].first_member;
	*count = t->targets[target].num_members;
	return 0;
}

int dm_table_map_member(const struct dm_table *t, uint64_t sector, unsigned *index,
			uint64_t *offset, uint64_t *run)
{
	struct dm_target *ti = dm_table_find_target(t, sector);
	struct dm_map_result m;
	unsigned i;

	if (!ti)
		return daxfs_err(-ERANGE, "sector %llu: beyond the end of the table (%llu sectors)",
				 (unsigned long long)sector, (unsigned long long)t->size);
	if (!ti->num_members)
		return daxfs_err(-ENOENT, "sector %llu: target %u (%s) maps no device",
				 (unsigned long long)sector, ti->index, ti->type->name);
	i = member_of(ti, sector, &m);
	*index = i;
	*offset = m.dev_sector - t->members[i].start;
	*run = m.max_sectors;
	return 0;
}

int dm_table_member_read(const struct dm_table *t, unsigned index, uint64_t off, void *buf,
			 size_t len)
{
	const struct dm_member_area *a;
	const uint64_t bytes = index < t->num_members ? t->members[index].len << DAX_SECTOR_SHIFT : 0;

	if (index >= t->num_members)
		return daxfs_err(-ERANGE, "member %u: the table has %u members", index,
				 t->num_members);
	a = &t->members[index];
	if (off > bytes || len > bytes - off)
		return daxfs_err(-ERANGE, "member %u (%s): bytes %llu+%zu are past its %llu bytes",
				 index, a->path, (unsigned long long)off, len,
				 (unsigned long long)bytes);
	return dax_device_rw(a->dev, DAX_REQ_READ, 0, (a->start << DAX_SECTOR_SHIFT) + off, buf, len);
}

int dm_table_member_extent(const struct dm_table *t, unsigned index, uint64_t off, bool *data,
			   uint64_t *end)
{
	const struct dm_member_area *a;
	uint64_t bytes, base, next;

	if (index >= t->num_members)
		return daxfs_err(-ERANGE, "member %u: the table has %u members", index,
				 t->num_members);
	a = &t->members[index];
	bytes = a->len << DAX_SECTOR_SHIFT;
	if (off >= bytes)
		return daxfs_err(-ERANGE, "member %u (%s): byte %llu is past its %llu bytes", index,
				 a->path, (unsigned long long)off, (unsigned long long)bytes);
	base = a->start << DAX_SECTOR_SHIFT;
	next = dax_device_seek(a->dev, base + off, true);
	*data = next <= base + off;
	if (*data)
		next = dax_device_seek(a->dev, base + off, false);
	*end = next - base < bytes ? next - base : bytes;
	if (*end <= off)        /* a hole that begins at off cannot end there */
		*end = bytes;
	return 0;
}

static int cmp_area(const void *x, const void *y)
{
	const struct dm_member_area *a = *(const struct dm_member_area *const *)x;
	const struct dm_member_area *b = *(const struct dm_member_area *const *)y;

	if (a->dev != b->dev)
		return a->dev < b->dev ? -1 : 1;
	return a->start < b->start ? -1 : a->start > b->start;
}

/* "target 1 (linear)" or "target 0 (striped) stripe 2" */
static void name_member(const struct dm_member_area *a, char *buf, size_t size)
{
	if (a->ti->num_members > 1)
		snprintf(buf, size, "target %u (%s) stripe %u", a->ti->index, a->ti->type->name,
			 a->stripe);
	else
		snprintf(buf, size, "target %u (%s)", a->ti->index, a->ti->type->name);
}

static int overlap_error(const struct dm_member_area *x, const struct dm_member_area *y)
{
	/* the later one first, so that a line number points at it */
	const struct dm_member_area *late = x < y ? y : x, *early = x < y ? x : y;
	uint64_t from = late->start > early->start ? late->start : early->start;
	uint64_t to = late->start + late->len < early->start + early->len ?
		      late->start + late->len : early->start + early->len;
	char a[96], b[96], as[4200] = "";

	name_member(late, a, sizeof(a));
	name_member(early, b, sizeof(b));
	if (strcmp(late->path, early->path) != 0)
		snprintf(as, sizeof(as), ", as %s (the same file)", early->path);
	return daxfs_err(-EINVAL, "%s: sectors %llu-%llu of %s are mapped twice: %s maps them "
			 "too%s; a table must not map a byte of a device twice", a,
			 (unsigned long long)from, (unsigned long long)to - 1, late->path, b, as);
}

int dm_table_check_overlap(const struct dm_table *t)
{
	const struct dm_member_area **s;
	const struct dm_member_area *reach = NULL;    /* the area reaching furthest so far */
	int r = 0;

	if (t->num_members < 2)
		return 0;
	s = malloc(t->num_members * sizeof(*s));
	if (!s)
		return daxfs_err(-ENOMEM, "out of memory");
	for (unsigned i = 0; i < t->num_members; i++)
		s[i] = &t->members[i];
	qsort(s, t->num_members, sizeof(*s), cmp_area);
	for (unsigned i = 0; i < t->num_members && !r; i++) {
		if (reach && reach->dev == s[i]->dev && s[i]->start < reach->start + reach->len)
			r = overlap_error(reach, s[i]);
		else if (!reach || reach->dev != s[i]->dev ||
			 s[i]->start + s[i]->len > reach->start + reach->len)
			reach = s[i];
	}
	free(s);
	return r;
}
