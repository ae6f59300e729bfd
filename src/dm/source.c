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

/* 1 if path is a regular file whose first bytes are text, 0 if not, or a
 * negative errno. */
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
	if (r == 1 && memchr(buf, '\0', got))
		r = 0;
	return r;
}

/* "a,b,c": one linear target per file, each its size rounded down to pages. */
static int list_table(struct mapped_device *md, const char *source, struct dm_table **out)
{
	struct dm_buf b = { 0 };
	struct dax_device **seen = NULL;
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
		uint64_t sectors;

		r = dm_md_cache_get(md, path, &dev);
		if (r)
			goto out;
		for (unsigned i = 0; i < nseen; i++) {
			if (seen[i] == dev) {
				r = daxfs_err(-EINVAL, "%s: listed twice in %s", path, source);
				goto out;
			}
		}
		s = realloc(seen, (nseen + 1) * sizeof(*s));
		if (!s) {
			r = daxfs_err(-ENOMEM, "out of memory");
			goto out;
		}
		seen = s;
		seen[nseen++] = dev;
		sectors = dax_device_size(dev) / DAX_PAGE_SIZE * DAX_PAGE_SECTORS;
		if (!sectors) {
			r = daxfs_err(-EINVAL, "%s: smaller than one page (%llu bytes)", path,
				      (unsigned long long)dax_device_size(dev));
			goto out;
		}
		dm_emit(&b, "%llu %llu linear ", (unsigned long long)start,
			(unsigned long long)sectors);
		dm_emit_arg(&b, path);
		dm_emit(&b, " 0\n");
		start += sectors;
	}
	if (b.oom) {
		r = daxfs_err(-ENOMEM, "out of memory");
		goto out;
	}
	r = dm_table_parse(md, b.s, source, out);
out:
	free(seen);
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

int dm_md_open_source(const char *source, const char *name, struct mapped_device **out)
{
	struct mapped_device *md;
	struct dm_table *t;
	int r;

	*out = NULL;
	r = dm_md_create(name ? name : "daxfs", &md);
	if (r)
		return r;
	r = source_table(md, source, &t);
	if (r)
		goto bad;
	r = dm_md_load(md, t);
	if (r) {
		dm_table_put(&t);
		goto bad;
	}
	r = dm_md_resume(md, DM_SUSPEND_NOLOCKFS);
	if (r)
		goto bad;
	*out = md;
	return 0;
bad:
	dm_md_destroy(&md);
	return r;
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
