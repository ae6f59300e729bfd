/* dm/wire.c - the command layer's result as bytes and back: the control channel's answer */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daxfs/dm.h"
#include "util/err.h"

/*
 * The layout, both directions in this one file, is the one daxfs/ioctl.h
 * documents for the control channel. Integers are fixed-width little-endian;
 * a string is a u32 length (DM_WIRE_NULL: none), its bytes and a NUL; flag
 * words have only the bits named here.
 */
#define DM_WIRE_NULL 0xffffffffu
#define HEADER_SIZE 12u

enum {
	INFO_SUSPENDED = 1u << 0,
	INFO_LIVE = 1u << 1,
	INFO_INACTIVE = 1u << 2,
	INFO_DAX = 1u << 3,
	INFO_DEFERRED_REMOVE = 1u << 4,
	INFO_FLAGS = (1u << 5) - 1,
	HOLDER_FROZEN = 1u << 0,
	HOLDER_SHUTDOWN = 1u << 1,
	HOLDER_USES_DAX = 1u << 2,
	HOLDER_FLAGS = (1u << 3) - 1,
	TARGET_DAX = 1u << 0,
	TARGET_FLAGS = 1u,
	DEVICE_DAX = 1u << 0,
	DEVICE_PMEM = 1u << 1,
	DEVICE_FLAGS = (1u << 2) - 1,
};

/* The fewest bytes an item of each array takes: what a count is checked
 * against before anything is allocated for it. */
#define STR_MIN 5u
#define TARGET_MIN (4u + 4u + 4 * 8u + 2 * STR_MIN)
#define DEVICE_MIN (STR_MIN + 8u + 4u + 4u + STR_MIN + 9 * 8u + 4u)
#define BADBLOCK_SIZE 16u

/* The numbers of a structure, in their order on the wire: each as wide on
 * the wire as in memory (unsigned: u32, uint64_t: u64). */
struct field {
	size_t off, width;
};
#define FIELD(type, member) { offsetof(type, member), sizeof(((type *)0)->member) }
_Static_assert(sizeof(unsigned) == 4, "unsigned fields travel as u32");

static const struct field info_fields[] = {
	FIELD(struct dm_md_info, open_count), FIELD(struct dm_md_info, event_nr),
	FIELD(struct dm_md_info, num_targets), FIELD(struct dm_md_info, size),
	FIELD(struct dm_md_info, read_ahead), FIELD(struct dm_md_info, major),
	FIELD(struct dm_md_info, minor), FIELD(struct dm_md_info, bios_waiting),
};
static const struct field target_fields[] = {
	FIELD(struct dm_target_info, begin), FIELD(struct dm_target_info, len),
	FIELD(struct dm_target_info, ios), FIELD(struct dm_target_info, errors),
};
static const struct field stats_fields[] = {
	FIELD(struct dax_device_stats, direct_accesses), FIELD(struct dax_device_stats, reads),
	FIELD(struct dax_device_stats, read_bytes), FIELD(struct dax_device_stats, writes),
	FIELD(struct dax_device_stats, write_bytes), FIELD(struct dax_device_stats, flushes),
	FIELD(struct dax_device_stats, drains), FIELD(struct dax_device_stats, nt_copies),
	FIELD(struct dax_device_stats, errors),
};
#define NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- encoding ------------------------------------------------------------ */

struct wbuf {
	char *p;
	size_t len, cap;
	int err;
};

static void put(struct wbuf *w, const void *src, size_t n)
{
	if (w->err)
		return;
	if (n > DM_IOC_WIRE_MAX - w->len) {
		w->err = daxfs_err(-EOVERFLOW, "result larger than the %u bytes an answer may have",
				   DM_IOC_WIRE_MAX);
		return;
	}
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 4096;
		char *p;

		while (cap < w->len + n)
			cap *= 2;
		if (!(p = realloc(w->p, cap))) {
			w->err = daxfs_err(-ENOMEM, "out of memory");
			return;
		}
		w->p = p;
		w->cap = cap;
	}
	memcpy(w->p + w->len, src, n);
	w->len += n;
}

static void put_u32(struct wbuf *w, uint32_t v)
{
	uint8_t b[4];

	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	put(w, b, sizeof(b));
}

static void put_u64(struct wbuf *w, uint64_t v)
{
	put_u32(w, (uint32_t)v);
	put_u32(w, (uint32_t)(v >> 32));
}

static void put_str(struct wbuf *w, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (s && n >= DM_WIRE_NULL) {
		w->err = w->err ? w->err : daxfs_err(-EOVERFLOW, "string of %zu bytes", n);
		return;
	}
	put_u32(w, s ? (uint32_t)n : DM_WIRE_NULL);
	if (s)
		put(w, s, n + 1);
}

static void put_fields(struct wbuf *w, const void *obj, const struct field *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *p = (const char *)obj + f[i].off;
		uint64_t v64;
		unsigned v32;

		if (f[i].width == 8) {
			memcpy(&v64, p, 8);
			put_u64(w, v64);
		} else {
			memcpy(&v32, p, 4);
			put_u32(w, v32);
		}
	}
}

static void put_badblocks(struct wbuf *w, const struct dax_badblock *bb, size_t n)
{
	put_u32(w, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		put_u64(w, bb[i].sector);
		put_u64(w, bb[i].nr_sectors);
	}
}

static void put_device(struct wbuf *w, const struct dm_ioc_device *d)
{
	put_str(w, d->path);
	put_u64(w, d->size);
	put_u32(w, (d->dax ? DEVICE_DAX : 0) | (d->is_pmem ? DEVICE_PMEM : 0));
	put_str(w, d->not_dax_reason);
	put_str(w, d->persist);
	put_fields(w, &d->stats, stats_fields, NFIELDS(stats_fields));
	put_badblocks(w, d->badblocks, d->nbadblocks);
}

int dm_ioctl_result_encode(const struct dm_ioctl_result *res, char **buf, size_t *len)
{
	const struct dm_md_info *info = &res->info;
	const struct dm_holder_state *h = &res->holder;
	struct wbuf w = { 0 };

	put_u32(&w, DM_IOC_WIRE_MAGIC);
	put_u32(&w, DM_IOC_WIRE_VERSION);
	put_u32(&w, 0);                    /* the length, once known */
	put_str(&w, res->name);
	put_str(&w, res->type_name);
	put_u32(&w, (info->suspended ? INFO_SUSPENDED : 0) | (info->live_present ? INFO_LIVE : 0) |
		    (info->inactive_present ? INFO_INACTIVE : 0) | (info->dax ? INFO_DAX : 0) |
		    (info->deferred_remove ? INFO_DEFERRED_REMOVE : 0));
	put_fields(&w, info, info_fields, NFIELDS(info_fields));
	put_str(&w, info->uuid);
	put_u32(&w, (h->frozen ? HOLDER_FROZEN : 0) | (h->shutdown ? HOLDER_SHUTDOWN : 0) |
		    (h->uses_dax ? HOLDER_USES_DAX : 0));
	put_u32(&w, h->writers_waiting);
	put_str(&w, res->text);
	put_u32(&w, res->ntargets);
	for (unsigned i = 0; i < res->ntargets; i++) {
		const struct dm_target_info *t = &res->targets[i].info;

		put_u32(&w, t->index);
		put_u32(&w, t->dax ? TARGET_DAX : 0);
		put_fields(&w, t, target_fields, NFIELDS(target_fields));
		put_str(&w, t->type);
		put_str(&w, res->targets[i].args);
	}
	put_u32(&w, res->ndevices);
	for (unsigned i = 0; i < res->ndevices; i++)
		put_device(&w, &res->devices[i]);
	put_badblocks(&w, res->badblocks, res->nbadblocks);
	if (w.err) {
		free(w.p);
		return w.err;
	}
	for (int i = 0; i < 4; i++)
		w.p[8 + i] = (char)(uint8_t)(w.len >> (8 * i));
	*buf = w.p;
	*len = w.len;
	return 0;
}

/* ---- decoding ------------------------------------------------------------ */

struct rbuf {
	char *p;                /* res->wire */
	size_t len, pos;
	char what[48];          /* the item being read, for messages */
	int err;
};

static void bad(struct rbuf *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void bad(struct rbuf *r, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	if (r->err)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->err = daxfs_err(-EBADMSG, "answer: %s", msg);
}

static void item(struct rbuf *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void item(struct rbuf *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->what, sizeof(r->what), fmt, ap);
	va_end(ap);
}

/* Is there n bytes' room for the current item? */
static bool need(struct rbuf *r, size_t n)
{
	if (r->err)
		return false;
	if (n > r->len - r->pos) {
		bad(r, "truncated at byte %zu: %s needs %zu bytes, %zu remain", r->pos, r->what, n,
		    r->len - r->pos);
		return false;
	}
	return true;
}

static uint32_t get_u32(struct rbuf *r)
{
	uint32_t v = 0;

	if (!need(r, 4))
		return 0;
	for (int i = 0; i < 4; i++)
		v |= (uint32_t)(uint8_t)r->p[r->pos + (size_t)i] << (8 * i);
	r->pos += 4;
	return v;
}

static uint64_t get_u64(struct rbuf *r)
{
	uint64_t lo = get_u32(r);

	return lo | (uint64_t)get_u32(r) << 32;
}

static uint32_t get_flags(struct rbuf *r, uint32_t known)
{
	size_t at = r->pos;
	uint32_t v = get_u32(r);

	if (v & ~known)
		bad(r, "%s's flags at byte %zu are %#x: bits %#x mean nothing", r->what, at, v,
		    v & ~known);
	return v;
}

/* A string inside the answer, or NULL for none; field names it. */
static char *get_str(struct rbuf *r, const char *field, bool nullable)
{
	size_t at = r->pos;
	uint32_t n = get_u32(r);
	char *s;

	if (r->err)
		return NULL;
	if (n == DM_WIRE_NULL) {
		if (!nullable)
			bad(r, "%s's %s at byte %zu is missing", r->what, field, at);
		return NULL;
	}
	if ((size_t)n + 1 > r->len - r->pos) {
		bad(r, "%s's %s of %u bytes at byte %zu runs past the end (%zu bytes remain)",
		    r->what, field, n, at, r->len - r->pos);
		return NULL;
	}
	s = r->p + r->pos;
	if (s[n] != '\0' || memchr(s, '\0', n)) {
		bad(r, "%s's %s at byte %zu is not %u bytes and a NUL", r->what, field, at, n);
		return NULL;
	}
	r->pos += (size_t)n + 1;
	return s;
}

/* A count of items of at least min bytes each, checked against what is
 * left before anything is allocated for it; max 0: no other bound. */
static size_t get_count(struct rbuf *r, const char *items, size_t min, size_t max)
{
	size_t at = r->pos;
	uint32_t n = get_u32(r);

	if (r->err)
		return 0;
	if (max && n > max) {
		bad(r, "%s has %u %s at byte %zu, more than %zu", r->what, n, items, at, max);
		return 0;
	}
	if (n > (r->len - r->pos) / min) {
		bad(r, "%s has %u %s at byte %zu, more than the %zu bytes left can hold", r->what,
		    n, items, at, r->len - r->pos);
		return 0;
	}
	return n;
}

static void get_fields(struct rbuf *r, void *obj, const struct field *f, size_t n)
{
	for (size_t i = 0; i < n && !r->err; i++) {
		char *p = (char *)obj + f[i].off;

		if (f[i].width == 8) {
			uint64_t v = get_u64(r);

			memcpy(p, &v, 8);
		} else {
			unsigned v = get_u32(r);

			memcpy(p, &v, 4);
		}
	}
}

static void get_badblocks(struct rbuf *r, struct dax_badblock *bb, size_t n)
{
	for (size_t i = 0; i < n && !r->err; i++) {
		bb[i].sector = get_u64(r);
		bb[i].nr_sectors = get_u64(r);
	}
}

static void get_device(struct rbuf *r, unsigned i, struct dm_ioc_device *d)
{
	uint32_t flags;

	item(r, "device %u", i);
	d->path = get_str(r, "path", false);
	d->size = get_u64(r);
	flags = get_flags(r, DEVICE_FLAGS);
	d->dax = flags & DEVICE_DAX;
	d->is_pmem = flags & DEVICE_PMEM;
	d->not_dax_reason = get_str(r, "reason", true);
	d->persist = get_str(r, "persist", false);
	get_fields(r, &d->stats, stats_fields, NFIELDS(stats_fields));
	d->nbadblocks = get_count(r, "bad block ranges", BADBLOCK_SIZE, DM_IOC_STATUS_BADBLOCKS);
	get_badblocks(r, d->badblocks, d->nbadblocks);
}

static void get_header(struct rbuf *r)
{
	uint32_t magic, version, len;

	if (r->len < HEADER_SIZE) {
		bad(r, "%zu bytes, shorter than the %u-byte header", r->len, HEADER_SIZE);
		return;
	}
	item(r, "header");
	magic = get_u32(r);
	version = get_u32(r);
	len = get_u32(r);
	if (magic != DM_IOC_WIRE_MAGIC)
		bad(r, "magic %#010x is not %#010x: not a dm result", magic, DM_IOC_WIRE_MAGIC);
	else if (version != DM_IOC_WIRE_VERSION)
		r->err = daxfs_err(-EPROTO, "answer: the daemon encodes results in version %u, "
				   "this reader knows version %u", version, DM_IOC_WIRE_VERSION);
	else if (len != r->len)
		bad(r, "the header says %u bytes, %zu arrived", len, r->len);
}

static void get_body(struct rbuf *r, struct dm_ioctl_result *res)
{
	struct dm_md_info *info = &res->info;
	uint32_t flags;
	const char *uuid;

	item(r, "result");
	res->name = get_str(r, "name", true);
	res->type_name = get_str(r, "type", true);
	item(r, "info");
	flags = get_flags(r, INFO_FLAGS);
	info->suspended = flags & INFO_SUSPENDED;
	info->live_present = flags & INFO_LIVE;
	info->inactive_present = flags & INFO_INACTIVE;
	info->dax = flags & INFO_DAX;
	info->deferred_remove = flags & INFO_DEFERRED_REMOVE;
	get_fields(r, info, info_fields, NFIELDS(info_fields));
	uuid = get_str(r, "uuid", false);
	if (uuid && strlen(uuid) >= sizeof(info->uuid))
		bad(r, "info's uuid of %zu bytes is longer than %zu", strlen(uuid),
		    sizeof(info->uuid) - 1);
	else if (uuid)
		memcpy(info->uuid, uuid, strlen(uuid) + 1);
	item(r, "holder");
	flags = get_flags(r, HOLDER_FLAGS);
	res->holder.frozen = flags & HOLDER_FROZEN;
	res->holder.shutdown = flags & HOLDER_SHUTDOWN;
	res->holder.uses_dax = flags & HOLDER_USES_DAX;
	res->holder.writers_waiting = get_u32(r);
	item(r, "result");
	res->text = get_str(r, "text", true);
	res->ntargets = (unsigned)get_count(r, "targets", TARGET_MIN, 0);
	if (res->ntargets && !(res->targets = calloc(res->ntargets, sizeof(*res->targets))))
		r->err = daxfs_err(-ENOMEM, "out of memory");
	for (unsigned i = 0; i < res->ntargets && !r->err; i++) {
		struct dm_target_info *t = &res->targets[i].info;

		item(r, "target %u", i);
		t->index = get_u32(r);
		t->dax = get_flags(r, TARGET_FLAGS) & TARGET_DAX;
		get_fields(r, t, target_fields, NFIELDS(target_fields));
		t->type = get_str(r, "type", false);
		res->targets[i].args = get_str(r, "args", false);
	}
	item(r, "result");
	res->ndevices = (unsigned)get_count(r, "devices", DEVICE_MIN, 0);
	if (res->ndevices && !r->err && !(res->devices = calloc(res->ndevices,
								  sizeof(*res->devices))))
		r->err = daxfs_err(-ENOMEM, "out of memory");
	for (unsigned i = 0; i < res->ndevices && !r->err; i++)
		get_device(r, i, &res->devices[i]);
	item(r, "result");
	res->nbadblocks = get_count(r, "bad block ranges", BADBLOCK_SIZE, 0);
	if (res->nbadblocks && !r->err &&
	    !(res->badblocks = calloc(res->nbadblocks, sizeof(*res->badblocks))))
		r->err = daxfs_err(-ENOMEM, "out of memory");
	get_badblocks(r, res->badblocks, res->nbadblocks);
	if (!r->err && r->pos != r->len)
		bad(r, "%zu bytes after the result's end at byte %zu", r->len - r->pos, r->pos);
}

int dm_ioctl_result_decode(const void *buf, size_t len, struct dm_ioctl_result *res)
{
	struct rbuf r = { .len = len };

	memset(res, 0, sizeof(*res));
	res->fd = -1;
	if (len > DM_IOC_WIRE_MAX)
		return daxfs_err(-EBADMSG, "answer: %zu bytes, more than an answer may have (%u)",
				 len, DM_IOC_WIRE_MAX);
	/* every string points into this copy, and it ends in a NUL of its own
	 * so that nothing read past a string's checked end escapes it */
	if (!(res->wire = r.p = malloc(len + 1)))
		return daxfs_err(-ENOMEM, "out of memory");
	memcpy(r.p, buf, len);
	r.p[len] = '\0';
	get_header(&r);
	if (!r.err)
		get_body(&r, res);
	if (r.err)
		dm_ioctl_result_free(res);    /* nothing half-read is left to use */
	return r.err;
}
