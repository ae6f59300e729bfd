/* tools/source.c - the SOURCE argument of mkfs.daxfs and fsck.daxfs */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daxfs/err.h"
#include "source.h"

static int create_file(const char *progname, const char *path, uint64_t size)
{
	int fd, ret = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		/* lost a race with another creator: the file exists, leave it */
		if (errno == EEXIST)
			return 0;
		ret = -errno;
		fprintf(stderr, "%s: cannot create %s: %s\n", progname, path, strerror(errno));
		return ret;
	}
	if (ftruncate(fd, (off_t)size) < 0) {
		ret = -errno;
		fprintf(stderr, "%s: cannot size %s to %llu bytes: %s\n", progname, path,
			(unsigned long long)size, strerror(errno));
		unlink(path);
	}
	close(fd);
	return ret;
}

int source_create_files(const char *progname, const char *source, uint64_t size)
{
	char *copy, *p, *save = NULL;
	struct stat st;
	int ret = 0;

	copy = strdup(source);
	if (!copy) {
		fprintf(stderr, "%s: out of memory\n", progname);
		return -ENOMEM;
	}
	for (p = strtok_r(copy, ",", &save); p && !ret; p = strtok_r(NULL, ",", &save)) {
		if (stat(p, &st) == 0)
			continue;
		if (errno != ENOENT) {
			ret = -errno;
			fprintf(stderr, "%s: %s: %s\n", progname, p, strerror(errno));
			break;
		}
		ret = create_file(progname, p, size);
	}
	free(copy);
	return ret;
}

int source_open(const char *progname, const char *source, struct mapped_device **md)
{
	const char *msg;
	unsigned i;
	int ret;

	ret = dm_md_open_source(source, NULL, md);
	/* A mounted daemon holds every backing file's lock: writing under it
	 * would corrupt the live filesystem, and reading gives a torn view. */
	for (i = 0; !ret && i < dm_md_num_devices(*md); i++)
		ret = dax_device_lock(dm_md_device(*md, i));
	if (ret) {
		msg = daxfs_errormsg();
		fprintf(stderr, "%s: %s\n", progname, msg[0] ? msg : strerror(-ret));
		dm_md_destroy(md);
	}
	return ret;
}
