/* dm/table.c - the dmsetup table parser, table typing, lookup and table/status text */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dm/table.h"
#include "util/err.h"

/* Table files are small; this only stops a wrong path from eating memory. */
#define TABLE_FILE_MAX (16u << 20)

int dm_split_args(char *input, unsigned *argc, char ***argvp)
{
	char *start, *end = input, *out, **argv = NULL;
	unsigned n = 0, cap = 0;

	for (;;) {
		while (isspace((unsigned char)*end))
			end++;
		start = end;
		if (!*start)
			break;
		out = start;
		while (*end) {
			/* everything apart from '\0' can be quoted */
			if (*end == '\\' && end[1]) {
				*out++ = end[1];
				end += 2;
				continue;
			}
			if (isspace((unsigned char)*end))
				break;
			*out++ = *end++;
		}
		if (*end)
			end++;
		*out = '\0';
		if (n + 1 >= cap) {
			char **a;

			cap = cap ? 2 * cap : 16;
			a = realloc(argv, cap * sizeof(*a));
			if (!a) {
				free(argv);
				return -ENOMEM;
			}
			argv = a;
		}
		argv[n++] = start;
	}
	if (!argv) {
		argv = calloc(1, sizeof(*argv));
		if (!argv)
			return -ENOMEM;
	}
	argv[n] = NULL;
	*argc = n;
	*argvp = argv;
	return 0;
}

char *dm_absolute_path(const char *path)
{
	char *cwd, *out = NULL;

	if (path[0] == '/')
		return strdup(path);
	while (path[0] == '.' && path[1] == '/')
		for (path += 2; *path == '/'; path++)
			;
	cwd = getcwd(NULL, 0);
	if (!cwd)       /* a removed directory: the path works as given or not at all */
		return strdup(path);
	if (!*path)
		return cwd;
	if (asprintf(&out, "%s%s%s", cwd, strcmp(cwd, "/") ? "/" : "", path) < 0)
		out = NULL;
	free(cwd);
	return out;
}

int dm_get_device(struct dm_target *ti, const char *path, struct dax_device **out)
{
	struct dm_table *t = ti->table;
	struct dax_device *dev, **devs;
	int r;

	r = dm_md_cache_get(t->md, path, &dev);
	if (r) {
		snprintf(t->ctr_detail, sizeof(t->ctr_detail), "%s", daxfs_errormsg());
		return r;
	}
	*out = dev;
	for (unsigned i = 0; i < t->num_devs; i++) {
		if (t->devs[i] == dev) {
			dax_device_put(&dev);   /* the table holds one already */
			return 0;
		}
	}
	devs = realloc(t->devs, (t->num_devs + 1) * sizeof(*devs));
	if (!devs) {
		dax_device_put(&dev);
		return daxfs_err(-ENOMEM, "out of memory");
	}
	t->devs = devs;
	t->devs[t->num_devs++] = dev;
	return 0;
}

static int add_target(struct dm_table *t, unsigned lineno, char *line)
{
	const struct target_type *tt;
	struct dm_target *ti, *targets;
	uint64_t start, len, expect;
	unsigned argc;
	char **argv;
	const char *type;
	int r;

	r = dm_split_args(line, &argc, &argv);
	if (r)
		return daxfs_err(r, "%s:%u: out of memory", t->origin, lineno);
	if (argc < 3) {
		r = daxfs_err(-EINVAL, "%s:%u: Invalid format: expected "
			      "\"<start> <length> <type> [<args>...]\"", t->origin, lineno);
		goto out;
	}
	type = argv[2];
	/* start and length are dmsetup's to parse (sscanf "%llu", which takes
	 * a sign): a '+' is accepted; a '-', which glibc would negate modulo
	 * 2^64, is refused */
	if (dm_parse_u64(argv[0] + (argv[0][0] == '+'), &start)) {
		r = daxfs_err(-EINVAL, "%s:%u: %s: Invalid start sector \"%s\"",
			      t->origin, lineno, type, argv[0]);
		goto out;
	}
	if (dm_parse_u64(argv[1] + (argv[1][0] == '+'), &len)) {
		r = daxfs_err(-EINVAL, "%s:%u: %s: Invalid length \"%s\"",
			      t->origin, lineno, type, argv[1]);
		goto out;
	}
	/* the checks of dm_table_add_target, in its order */
	if (!len) {
		r = daxfs_err(-EINVAL, "%s:%u: %s: zero-length target", t->origin, lineno, type);
		goto out;
	}
	if (start + len < start || start + len > ((uint64_t)LLONG_MAX >> DAX_SECTOR_SHIFT)) {
		r = daxfs_err(-EINVAL, "%s:%u: %s: too large device", t->origin, lineno, type);
		goto out;
	}
	tt = dm_get_target_type(type);
	if (!tt) {
		r = daxfs_err(-EINVAL, "%s:%u: %s: unknown target type", t->origin, lineno, type);
		goto out;
	}
	expect = t->num_targets ? t->targets[t->num_targets - 1].begin +
				  t->targets[t->num_targets - 1].len : 0;
	if (start != expect) {
		r = daxfs_err(-EINVAL, "%s:%u: %s: Gap in table", t->origin, lineno, type);
		goto out;
	}
	targets = realloc(t->targets, (t->num_targets + 1) * sizeof(*targets));
	if (!targets) {
		r = daxfs_err(-ENOMEM, "%s:%u: out of memory", t->origin, lineno);
		goto out;
	}
	t->targets = targets;
	ti = &t->targets[t->num_targets];
	*ti = (struct dm_target){
		.table = t,
		.type = tt,
		.index = t->num_targets,
		.begin = start,
		.len = len,
		.error = "Unknown error",
	};
	t->ctr_detail[0] = '\0';
	r = tt->ctr(ti, argc - 3, argv + 3);
	if (r) {
		if (t->ctr_detail[0])
			daxfs_err(r, "%s:%u: %s: %s: %s", t->origin, lineno, type, ti->error,
				  t->ctr_detail);
		else
			daxfs_err(r, "%s:%u: %s: %s", t->origin, lineno, type, ti->error);
		goto out;
	}
	t->num_targets++;
out:
	free(argv);
	return r;
}

struct area_check {
	char *reason;
	bool ok;
};

static int check_dax_device(struct dm_target *ti, struct dax_device *dev, const char *path,
			    uint64_t start, uint64_t len, void *data)
{
	struct area_check *c = data;

	if (dax_device_is_dax(dev))
		return 0;
	snprintf(c->reason, DM_REASON_MAX, "target %u (%s): %s: %s", ti->index, ti->type->name,
		 path, dax_device_not_dax_reason(dev));
	c->ok = false;
	return 1;
}

static int check_aligned_area(struct dm_target *ti, struct dax_device *dev, const char *path,
			      uint64_t start, uint64_t len, void *data)
{
	struct area_check *c = data;

	if (start % DAX_PAGE_SECTORS == 0 && len % DAX_PAGE_SECTORS == 0)
		return 0;
	snprintf(c->reason, DM_REASON_MAX, "target %u (%s): %s area at sector %llu "
		 "(%llu sectors) is not page-aligned", ti->index, ti->type->name, path,
		 (unsigned long long)start, (unsigned long long)len);
	c->ok = false;
	return 1;
}

/* dm_table_determine_type's inputs, and Part A 4's alignment rule. */
static void classify(struct dm_table *t)
{
	struct area_check dax = { .reason = t->not_dax_reason, .ok = true };
	struct area_check al = { .reason = t->unaligned_reason, .ok = true };
	bool wildcard = false;

	for (unsigned i = 0; i < t->num_targets && dax.ok; i++) {
		struct dm_target *ti = &t->targets[i];

		if (!ti->type->direct_access) {
			snprintf(t->not_dax_reason, DM_REASON_MAX, "target %u (%s): no direct_access",
				 i, ti->type->name);
			dax.ok = false;
			break;
		}
		if (ti->type->iterate_devices)
			ti->type->iterate_devices(ti, check_dax_device, &dax);
	}
	for (unsigned i = 0; i < t->num_targets; i++)
		if (t->targets[i].type->features & DM_TARGET_WILDCARD)
			wildcard = true;
	t->supports_dax = dax.ok;
	t->kernel_dax = dax.ok && !wildcard;

	for (unsigned i = 0; i < t->num_targets && al.ok; i++) {
		struct dm_target *ti = &t->targets[i];

		if (ti->begin % DAX_PAGE_SECTORS || ti->len % DAX_PAGE_SECTORS) {
			snprintf(t->unaligned_reason, DM_REASON_MAX, "target %u (%s): sectors %llu+%llu "
				 "do not start and end on a page boundary", i, ti->type->name,
				 (unsigned long long)ti->begin, (unsigned long long)ti->len);
			al.ok = false;
		} else if (ti->max_io_len % DAX_PAGE_SECTORS) {
			snprintf(t->unaligned_reason, DM_REASON_MAX, "target %u (%s): chunk size %llu "
				 "is not a multiple of a page (8 sectors)", i, ti->type->name,
				 (unsigned long long)ti->max_io_len);
			al.ok = false;
		} else if (ti->type->iterate_devices) {
			ti->type->iterate_devices(ti, check_aligned_area, &al);
		}
	}
	t->aligned = al.ok;
}

static int table_complete(struct dm_table *t)
{
	if (!t->num_targets)
		return daxfs_err(-EINVAL, "%s: no targets specified", t->origin);
	t->highs = malloc(t->num_targets * sizeof(*t->highs));
	if (!t->highs)
		return daxfs_err(-ENOMEM, "out of memory");
	for (unsigned i = 0; i < t->num_targets; i++)
		t->highs[i] = t->targets[i].begin + t->targets[i].len - 1;
	t->size = t->highs[t->num_targets - 1] + 1;
	classify(t);
	return dm_table_build_members(t);
}

int dm_table_parse(struct mapped_device *md, const char *text, const char *origin,
		   struct dm_table **out)
{
	struct dm_table *t;
	unsigned lineno = 0;
	const char *p = text;
	int r = 0;

	*out = NULL;
	if (!md || !text)
		return daxfs_err(-EINVAL, "dm_table_parse: no %s", md ? "text" : "mapped device");
	t = calloc(1, sizeof(*t));
	if (!t)
		return daxfs_err(-ENOMEM, "out of memory");
	atomic_init(&t->refs, 1);
	t->md = md;
	t->origin = strdup(origin ? origin : "table");
	if (!t->origin) {
		r = daxfs_err(-ENOMEM, "out of memory");
		goto bad;
	}
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char *line = strndup(p, n), *s, *e;

		lineno++;
		p += n + (nl ? 1 : 0);
		if (!line) {
			r = daxfs_err(-ENOMEM, "out of memory");
			goto bad;
		}
		for (s = line; isspace((unsigned char)*s); s++)
			;
		for (e = s + strlen(s); e > s && isspace((unsigned char)e[-1]); e--)
			;
		*e = '\0';
		/* dmsetup's _parse_line: blank lines and '#' lines are skipped */
		if (*s && *s != '#')
			r = add_target(t, lineno, s);
		free(line);
		if (r)
			goto bad;
	}
	r = table_complete(t);
	if (r)
		goto bad;
	*out = t;
	return 0;
bad:
	dm_table_put(&t);
	dm_md_release_devices(md);      /* what the refused lines opened */
	return r;
}

int dm_table_read_file(const char *path, char **text, size_t *len)
{
	struct stat st;
	char *buf;
	ssize_t n;
	size_t got = 0;
	int fd, r;

	*text = NULL;
	*len = 0;
	/* O_NONBLOCK: a FIFO is refused below, not waited on */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return daxfs_err(-errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st)) {
		r = daxfs_err(-errno, "%s: %s", path, strerror(errno));
		close(fd);
		return r;
	}
	/* a device or a pipe has no size to trust: /dev/zero never ends */
	if (!S_ISREG(st.st_mode) || st.st_size > TABLE_FILE_MAX) {
		close(fd);
		return daxfs_err(-EINVAL, "%s: not a table file (a regular file of at most %u bytes)",
				 path, TABLE_FILE_MAX);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return daxfs_err(-ENOMEM, "out of memory");
	}
	while (got < (size_t)st.st_size) {
		n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = daxfs_err(-errno, "%s: %s", path, strerror(errno));
			goto bad;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	if (strlen(buf) != got) {
		r = daxfs_err(-EINVAL, "%s: not a text table (contains NUL bytes)", path);
		goto bad;
	}
	close(fd);
	*text = buf;
	*len = got;
	return 0;
bad:
	free(buf);
	close(fd);
	return r;
}

int dm_table_parse_file(struct mapped_device *md, const char *path, struct dm_table **out)
{
	char *text;
	size_t len;
	int r;

	*out = NULL;
	r = dm_table_read_file(path, &text, &len);
	if (r)
		return r;
	r = dm_table_parse(md, text, path, out);
	free(text);
	return r;
}

void dm_table_put(struct dm_table **tp)
{
	struct dm_table *t = *tp;

	*tp = NULL;
	if (!t || atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	for (unsigned i = 0; i < t->num_targets; i++)
		if (t->targets[i].type->dtr)
			t->targets[i].type->dtr(&t->targets[i]);
	for (unsigned i = 0; i < t->num_devs; i++)
		dax_device_put(&t->devs[i]);
	free(t->devs);
	free(t->members);
	free(t->targets);
	free(t->highs);
	free(t->origin);
	free(t);
}

struct dm_target *dm_table_find_target(const struct dm_table *t, uint64_t sector)
{
	unsigned lo = 0, hi = t->num_targets;

	if (sector >= t->size)
		return NULL;
	/* first target whose last sector is >= sector */
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (t->highs[mid] < sector)
			lo = mid + 1;
		else
			hi = mid;
	}
	return &t->targets[lo];
}

static int check_range(struct dm_target *ti, struct dax_device *dev, const char *path,
		       uint64_t start, uint64_t len, void *data)
{
	uint64_t dev_size = dax_device_size(dev) >> DAX_SECTOR_SHIFT;

	/* device_area_is_invalid */
	if (start < dev_size && len <= dev_size - start)
		return 0;
	/* byte numbers of a range that far out would wrap */
	if (start >= dev_size || len > (UINT64_MAX >> DAX_SECTOR_SHIFT) - start)
		return daxfs_err(-EINVAL, "target %u (%s): %s too small for target: start=%llu, "
				 "len=%llu, dev_size=%llu (sectors: it has %llu bytes, the target "
				 "%s)", ti->index, ti->type->name, path, (unsigned long long)start,
				 (unsigned long long)len, (unsigned long long)dev_size,
				 (unsigned long long)dax_device_size(dev),
				 start >= dev_size ? "starts past its end" :
				 "ends past the end of any device");
	return daxfs_err(-EINVAL, "target %u (%s): %s too small for target: start=%llu, len=%llu, "
			 "dev_size=%llu (sectors: it has %llu bytes, the target maps bytes %llu-%llu "
			 "of it; was it truncated?)", ti->index, ti->type->name, path,
			 (unsigned long long)start, (unsigned long long)len,
			 (unsigned long long)dev_size, (unsigned long long)dax_device_size(dev),
			 (unsigned long long)start << DAX_SECTOR_SHIFT,
			 (unsigned long long)((start + len) << DAX_SECTOR_SHIFT) - 1);
}

int dm_table_check_device_ranges(const struct dm_table *t)
{
	for (unsigned i = 0; i < t->num_targets; i++) {
		struct dm_target *ti = &t->targets[i];
		int r;

		if (!ti->type->iterate_devices)
			continue;
		r = ti->type->iterate_devices(ti, check_range, NULL);
		if (r)
			return r;
	}
	return 0;
}

uint64_t dm_table_size(const struct dm_table *t)
{
	return t->size;
}

unsigned dm_table_num_targets(const struct dm_table *t)
{
	return t->num_targets;
}

bool dm_table_supports_dax(const struct dm_table *t)
{
	return t->supports_dax;
}

const char *dm_table_not_dax_reason(const struct dm_table *t)
{
	return t->supports_dax ? NULL : t->not_dax_reason;
}

int dm_table_target_info(const struct dm_table *t, unsigned index, struct dm_target_info *out)
{
	struct dm_target *ti;
	struct area_check dax = { .ok = true };
	char reason[DM_REASON_MAX];

	if (index >= t->num_targets)
		return daxfs_err(-ERANGE, "target %u: the table has %u targets", index,
				 t->num_targets);
	ti = &t->targets[index];
	dax.reason = reason;
	if (!ti->type->direct_access)
		dax.ok = false;
	else if (ti->type->iterate_devices)
		ti->type->iterate_devices(ti, check_dax_device, &dax);
	*out = (struct dm_target_info){
		.index = index,
		.type = ti->type->name,
		.begin = ti->begin,
		.len = ti->len,
		.dax = dax.ok,
		.ios = atomic_load(&ti->ios),
		.errors = atomic_load(&ti->errors),
	};
	return 0;
}

static char *table_text(const struct dm_table *t, enum dm_status_type type)
{
	struct dm_buf b = { 0 };

	for (unsigned i = 0; i < t->num_targets; i++) {
		struct dm_target *ti = &t->targets[i];
		struct dm_buf params = { 0 };

		dm_emit(&b, "%llu %llu %s", (unsigned long long)ti->begin,
			(unsigned long long)ti->len, ti->type->name);
		if (ti->type->status)
			ti->type->status(ti, type, &params);
		if (params.oom)
			b.oom = true;
		if (params.len)
			dm_emit(&b, " %s", params.s);
		dm_emit(&b, "\n");
		free(params.s);
	}
	if (b.oom) {
		free(b.s);
		daxfs_err(-ENOMEM, "out of memory");
		return NULL;
	}
	return b.s;
}

char *dm_table_text(const struct dm_table *t)
{
	return table_text(t, DM_STATUS_TABLE);
}

char *dm_table_status_text(const struct dm_table *t)
{
	return table_text(t, DM_STATUS_INFO);
}

uint64_t dm_table_layout_fingerprint(const struct dm_table *t)
{
	/* FNV-1a, 64 bit, over the little-endian count and lengths */
	uint64_t h = 0xcbf29ce484222325ull;
	uint64_t words[1] = { t->num_targets };

	for (unsigned i = 0; i <= t->num_targets; i++) {
		uint64_t v = i == 0 ? words[0] : t->targets[i - 1].len;

		for (unsigned k = 0; k < 8; k++) {
			h ^= (v >> (8 * k)) & 0xff;
			h *= 0x100000001b3ull;
		}
	}
	return h;
}
