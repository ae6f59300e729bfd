/* dm/source.c - opening a SOURCE argument: a table file, or pmem files concatenated as linear targets */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dm/md.h"
#include "util/err.h"

/* How many leading bytes decide between a table file and a pmem file. */
#define SNIFF_BYTES 4096

/*
 * 1 if path is a regular file that starts as a table does, 0 if not, or a
 * negative errno. A table starts (after blank space) with a '#' comment or
 * the digits of a start sector; a pmem file starts with zeroes, a daxfs
 * superblock or member label (binary magic), or data. Whatever comes later
 * does not matter: a table file with a NUL byte further on is a broken table
 * (dm_table_parse_file says so), never a pmem file to format.
 */
static int is_table_file(const char *path)
{
	char buf[SNIFF_BYTES];
	struct stat st;
	size_t got = 0;
	int fd, r = 1;

	if (stat(path, &st))
		return daxfs_err(-errno, "%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return daxfs_err(-errno, "%s: %s", path, strerror(errno));
	while (got < sizeof(buf)) {
		ssize_t n = read(fd, buf + got, sizeof(buf) - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = daxfs_err(-errno, "%s: %s", path, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (r < 0)
		return r;
	for (size_t i = 0; i < got; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f')
			continue;
		return c == '#' || (c >= '0' && c <= '9');
	}
	return got > 0;     /* blank text: a table without targets */
}

/* "a,b,c": one linear target per file, each its size rounded down to
 * pages, recorded by absolute path. */
static int list_table(struct mapped_device *md, const char *source, struct dm_table **out)
{
	struct dm_buf b = { 0 };
	struct dax_device **seen = NULL;
	char **names = NULL;
	unsigned nseen = 0;
	uint64_t start = 0;
	char *list = strdup(source), *path, *save = NULL;
	int r = 0;

	if (!list)
		return daxfs_err(-ENOMEM, "out of memory");
	if (!*source || source[strlen(source) - 1] == ',' || source[0] == ',' ||
	    strstr(source, ",,")) {
		r = daxfs_err(-EINVAL, "%s: empty file name in the device list", source);
		goto out;
	}
	for (path = strtok_r(list, ",", &save); path; path = strtok_r(NULL, ",", &save)) {
		struct dax_device *dev, **s;
		char **n;
		uint64_t sectors;

		r = dm_md_cache_get(md, path, &dev);
		if (r)
			goto out;
		for (unsigned i = 0; i < nseen; i++) {
			if (seen[i] != dev)
				continue;
			dax_device_put(&dev);
			if (strcmp(names[i], path) == 0)
				r = daxfs_err(-EINVAL, "%s: listed twice in %s", path, source);
			else
				r = daxfs_err(-EINVAL, "%s: the same file as %s, listed twice in %s",
					      path, names[i], source);
			goto out;
		}
		s = realloc(seen, (nseen + 1) * sizeof(*s));
		if (s)
			seen = s;
		n = realloc(names, (nseen + 1) * sizeof(*n));
		if (n)
			names = n;
		if (!s || !n) {
			dax_device_put(&dev);
			r = daxfs_err(-ENOMEM, "out of memory");
			goto out;
		}
		seen[nseen] = dev;
		names[nseen++] = path;
		sectors = dax_device_size(dev) / DAX_PAGE_SIZE * DAX_PAGE_SECTORS;
		if (!sectors) {
			r = daxfs_err(-EINVAL, "%s: smaller than one page (%llu bytes)", path,
				      (unsigned long long)dax_device_size(dev));
			goto out;
		}
		char *abs = dm_absolute_path(path);

		if (!abs) {
			r = daxfs_err(-ENOMEM, "out of memory");
			goto out;
		}
		dm_emit(&b, "%llu %llu linear ", (unsigned long long)start,
			(unsigned long long)sectors);
		dm_emit_arg(&b, abs);
		dm_emit(&b, " 0\n");
		free(abs);
		start += sectors;
	}
	if (b.oom) {
		r = daxfs_err(-ENOMEM, "out of memory");
		goto out;
	}
	r = dm_table_parse(md, b.s, source, out);
out:
	for (unsigned i = 0; i < nseen; i++)
		dax_device_put(&seen[i]);
	if (r)
		dm_md_release_devices(md);
	free(seen);
	free(names);
	free(b.s);
	free(list);
	return r;
}

static int source_table(struct mapped_device *md, const char *source, struct dm_table **out)
{
	int r;

	*out = NULL;
	if (!source || !*source)
		return daxfs_err(-EINVAL, "no source given");
	if (!strchr(source, ',')) {
		r = is_table_file(source);
		if (r < 0)
			return r;
		if (r == 1)
			return dm_table_parse_file(md, source, out);
	}
	return list_table(md, source, out);
}

int dm_source_is_table(const char *source)
{
	if (!source || !*source)
		return daxfs_err(-EINVAL, "no source given");
	return strchr(source, ',') ? 0 : is_table_file(source);
}

int dm_md_load_source(struct mapped_device *md, const char *source)
{
	struct dm_table *t;
	int r;

	r = source_table(md, source, &t);
	if (r)
		return r;
	return dm_md_make_live(md, t);
}

int dm_md_open_source(const char *source, const char *name, struct mapped_device **out)
{
	struct mapped_device *md;
	int r;

	*out = NULL;
	r = dm_md_create(name ? name : "daxfs", &md);
	if (r)
		return r;
	r = dm_md_load_source(md, source);
	if (r) {
		dm_md_destroy(&md);
		return r;
	}
	*out = md;
	return 0;
}

int dm_source_absolute(const char *source, char **out)
{
	struct dm_buf b = { 0 };

	*out = NULL;
	if (!source || !*source)
		return daxfs_err(-EINVAL, "no source given");
	/* an empty name stays empty: opening the source says what is wrong */
	for (const char *p = source; ; p++) {
		size_t n = strcspn(p, ",");
		char *name = strndup(p, n), *abs = name && n ? dm_absolute_path(name) : NULL;

		if (!name || (n && !abs)) {
			free(name);
			free(b.s);
			return daxfs_err(-ENOMEM, "out of memory");
		}
		dm_emit(&b, "%s%s", p == source ? "" : ",", n ? abs : "");
		free(abs);
		free(name);
		p += n;
		if (!*p)
			break;
	}
	if (b.oom) {
		free(b.s);
		return daxfs_err(-ENOMEM, "out of memory");
	}
	*out = b.s;
	return 0;
}

int dm_source_table_text(const char *source, char **out)
{
	struct mapped_device *md;
	struct dm_table *t;
	int r;

	*out = NULL;
	r = dm_md_create("source", &md);
	if (r)
		return r;
	r = source_table(md, source, &t);
	if (!r) {
		*out = dm_table_text(t);
		if (!*out)
			r = -ENOMEM;
		dm_table_put(&t);
	}
	dm_md_destroy(&md);
	return r;
}
