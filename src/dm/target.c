/* dm/target.c - the target type registry and helpers shared by the target types */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm/target.h"

static const struct target_type *const registry[] = {
	&dm_linear_target,
	&dm_striped_target,
	&dm_error_target,
	&dm_zero_target,
	NULL,
};

const struct target_type *dm_get_target_type(const char *name)
{
	for (size_t i = 0; registry[i]; i++)
		if (strcmp(registry[i]->name, name) == 0)
			return registry[i];
	return NULL;
}

const struct target_type *const *dm_target_types(void)
{
	return registry;
}

int dm_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		unsigned d;

		if (*s < '0' || *s > '9')
			return -EINVAL;
		d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int dm_parse_uint(const char *s, unsigned *out)
{
	uint64_t v;

	/* kstrtouint(s, 10): kstrtoull skips one leading '+' (never a '-') */
	if (*s == '+')
		s++;
	if (dm_parse_u64(s, &v) || v > UINT_MAX)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

uint64_t dm_target_max_io_len(const struct dm_target *ti, uint64_t sector)
{
	uint64_t off = sector - ti->begin;
	uint64_t len = ti->len - off;

	if (ti->max_io_len) {
		uint64_t to_chunk = ti->max_io_len - off % ti->max_io_len;

		if (to_chunk < len)
			len = to_chunk;
	}
	return len;
}

static bool buf_reserve(struct dm_buf *b, size_t more)
{
	size_t cap;
	char *s;

	if (b->oom)
		return false;
	if (b->len + more + 1 <= b->cap)
		return true;
	cap = b->cap ? b->cap : 128;
	while (cap < b->len + more + 1)
		cap *= 2;
	s = realloc(b->s, cap);
	if (!s) {
		b->oom = true;
		return false;
	}
	b->s = s;
	b->cap = cap;
	return true;
}

void dm_emit(struct dm_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !buf_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void dm_emit_arg(struct dm_buf *b, const char *arg)
{
	size_t n = strlen(arg);

	if (!buf_reserve(b, 2 * n))
		return;
	for (; *arg; arg++) {
		if (*arg == '\\' || isspace((unsigned char)*arg))
			b->s[b->len++] = '\\';
		b->s[b->len++] = *arg;
	}
	b->s[b->len] = '\0';
}

static int remap_dax_pgoff(struct dm_target *ti, uint64_t pgoff, struct dax_device **dev,
			   uint64_t *dev_pgoff)
{
	struct dm_map_result m;

	ti->type->map_sector(ti, pgoff * DAX_PAGE_SECTORS, &m);
	if (m.dev_sector % DAX_PAGE_SECTORS)
		return -EINVAL;
	*dev = m.dev;
	*dev_pgoff = m.dev_sector / DAX_PAGE_SECTORS;
	return 0;
}

long dm_remap_direct_access(struct dm_target *ti, uint64_t pgoff, long nr_pages,
			    enum dax_access_mode mode, void **kaddr, uint64_t *pfn)
{
	struct dax_device *dev;
	uint64_t dev_pgoff;
	int r = remap_dax_pgoff(ti, pgoff, &dev, &dev_pgoff);

	return r ? r : dax_direct_access(dev, dev_pgoff, nr_pages, mode, kaddr, pfn);
}

int dm_remap_zero_page_range(struct dm_target *ti, uint64_t pgoff, size_t nr_pages)
{
	struct dax_device *dev;
	uint64_t dev_pgoff;
	int r = remap_dax_pgoff(ti, pgoff, &dev, &dev_pgoff);

	return r ? r : dax_zero_page_range(dev, dev_pgoff, nr_pages);
}

size_t dm_remap_recovery_write(struct dm_target *ti, uint64_t pgoff, void *addr,
			       const void *src, size_t bytes)
{
	struct dax_device *dev;
	uint64_t dev_pgoff;

	if (remap_dax_pgoff(ti, pgoff, &dev, &dev_pgoff))
		return 0;
	return dax_recovery_write(dev, dev_pgoff, addr, src, bytes);
}
