/* tools/source.c - the SOURCE argument of mkfs.daxfs and fsck.daxfs */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daxfs/err.h"
#include "source.h"

static int remember(char ***list, size_t *n, const char *path)
{
	char **l = realloc(*list, (*n + 1) * sizeof(*l));

	if (!l)
		return -ENOMEM;
	*list = l;
	l[*n] = strdup(path);
	if (!l[*n])
		return -ENOMEM;
	(*n)++;
	return 0;
}

static int create_file(const char *progname, const char *path, uint64_t size,
		       struct source_files *sf)
{
	int fd, ret = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		fprintf(stderr, "%s: cannot create %s: %s\n", progname, path, strerror(errno));
		return ret;
	}
	if (remember(&sf->created, &sf->ncreated, path))
		ret = -ENOMEM;
	else if (ftruncate(fd, (off_t)size) < 0) {
		ret = -errno;
		fprintf(stderr, "%s: cannot size %s to %llu bytes: %s\n", progname, path,
			(unsigned long long)size, strerror(errno));
	}
	close(fd);
	return ret;
}

static int grow_file(const char *progname, const char *path, off_t was, uint64_t size,
		     struct source_files *sf)
{
	struct source_grown *g = realloc(sf->grown, (sf->ngrown + 1) * sizeof(*g));

	if (!g)
		return -ENOMEM;
	sf->grown = g;
	g[sf->ngrown] = (struct source_grown){ .path = strdup(path), .was = was };
	if (!g[sf->ngrown].path)
		return -ENOMEM;
	sf->ngrown++;
	if (truncate(path, (off_t)size) < 0) {
		int ret = -errno;

		fprintf(stderr, "%s: cannot grow %s from %lld to %llu bytes: %s\n", progname, path,
			(long long)was, (unsigned long long)size, strerror(errno));
		sf->ngrown--;
		free(g[sf->ngrown].path);
		return ret;
	}
	return 0;
}

static int prepare_one(const char *progname, const char *p, uint64_t size, bool dry,
		       struct source_files *sf)
{
	struct stat st;

	if (stat(p, &st) < 0) {
		if (errno != ENOENT) {
			int ret = -errno;

			fprintf(stderr, "%s: %s: %s\n", progname, p, strerror(errno));
			return ret;
		}
		if (dry) {
			printf("would create %s: a sparse file of %llu bytes\n", p,
			       (unsigned long long)size);
			return remember(&sf->created, &sf->ncreated, p);
		}
		return create_file(progname, p, size, sf);
	}
	if ((uint64_t)st.st_size >= size && S_ISREG(st.st_mode))
		return 0;
	if (S_ISBLK(st.st_mode)) {
		uint64_t bytes = 0;
		int fd = open(p, O_RDONLY | O_CLOEXEC), r = fd < 0 ? -1 : ioctl(fd, BLKGETSIZE64, &bytes);

		if (fd >= 0)
			close(fd);
		if (r == 0 && bytes < size) {
			fprintf(stderr, "%s: %s is a block device of %llu bytes, smaller than -s %llu: "
				"a device cannot grow\n", progname, p, (unsigned long long)bytes,
				(unsigned long long)size);
			return -EINVAL;
		}
		return 0;
	}
	if (S_ISCHR(st.st_mode))
		return 0;       /* /dev/dax: its size is its region's */
	if (!S_ISREG(st.st_mode)) {
		fprintf(stderr, "%s: %s: not a regular file or a device\n", progname, p);
		return -EINVAL;
	}
	if (dry) {
		struct source_grown *g = realloc(sf->grown, (sf->ngrown + 1) * sizeof(*g));

		printf("would grow %s from %lld to %llu bytes\n", p, (long long)st.st_size,
		       (unsigned long long)size);
		if (!g)
			return -ENOMEM;
		sf->grown = g;
		g[sf->ngrown] = (struct source_grown){ .path = strdup(p), .was = st.st_size };
		return g[sf->ngrown++].path ? 0 : -ENOMEM;
	}
	return grow_file(progname, p, st.st_size, size, sf);
}

int source_prepare(const char *progname, const char *source, uint64_t size, bool dry,
		   struct source_files *sf)
{
	char *copy, *p, *save = NULL;
	int ret = 0;

	memset(sf, 0, sizeof(*sf));
	/* a table file names its devices; they must exist already */
	if (dm_source_is_table(source) == 1)
		return 0;
	copy = strdup(source);
	if (!copy) {
		fprintf(stderr, "%s: out of memory\n", progname);
		return -ENOMEM;
	}
	for (p = strtok_r(copy, ",", &save); p && !ret; p = strtok_r(NULL, ",", &save))
		ret = prepare_one(progname, p, size, dry, sf);
	free(copy);
	if (ret == -ENOMEM)
		fprintf(stderr, "%s: out of memory\n", progname);
	return ret;
}

void source_undo(struct source_files *sf)
{
	for (size_t i = 0; i < sf->ncreated; i++)
		unlink(sf->created[i]);
	for (size_t i = 0; i < sf->ngrown; i++)
		if (truncate(sf->grown[i].path, sf->grown[i].was) < 0)
			fprintf(stderr, "cannot shrink %s back to %lld bytes: %s\n", sf->grown[i].path,
				(long long)sf->grown[i].was, strerror(errno));
}

void source_files_free(struct source_files *sf)
{
	for (size_t i = 0; i < sf->ncreated; i++)
		free(sf->created[i]);
	for (size_t i = 0; i < sf->ngrown; i++)
		free(sf->grown[i].path);
	free(sf->created);
	free(sf->grown);
	memset(sf, 0, sizeof(*sf));
}

int source_open(const char *progname, const char *source, unsigned open_flags,
		struct mapped_device **md)
{
	const char *msg;
	int ret;

	ret = dm_md_create("daxfs", md);
	if (!ret) {
		dm_md_set_open_flags(*md, open_flags);
		ret = dm_md_load_source(*md, source);
	}
	/* A mounted daemon holds every backing file's lock: writing under it
	 * would corrupt the live filesystem, and reading gives a torn view. */
	if (!ret)
		ret = dm_md_lock_devices(*md);
	if (ret) {
		msg = daxfs_errormsg();
		fprintf(stderr, "%s: %s\n", progname, msg[0] ? msg : strerror(-ret));
		dm_md_destroy(md);
	}
	return ret;
}
