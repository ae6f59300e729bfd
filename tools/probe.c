/* tools/probe.c - what a member holds before mkfs.daxfs overwrites it: a daxfs, a signature, data */
#include <blkid/blkid.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "daxfs/err.h"
#include "daxfs/fs.h"
#include "probe.h"

/* How much of a device's area is read for non-zero bytes: a file's data
 * extents are all read (its holes are zero), a device's first and last MiB. */
#define DEVICE_EDGE (1u << 20)

static int refuse(const char *progname, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int refuse(const char *progname, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("; use -f to overwrite it\n", stderr);
	return -EEXIST;
}

static int probe_daxfs(const char *progname, struct dm_table *t, const struct dm_member *m)
{
	struct dfs_probe p;
	char uuid[37];
	int err = dfs_probe_member(t, m->index, &p);

	if (err) {
		const char *msg = daxfs_errormsg();

		fprintf(stderr, "%s: %s: %s\n", progname, m->path, msg[0] ? msg : strerror(-err));
		return err;
	}
	cli_format_uuid(p.uuid, uuid);
	if (p.kind == DFS_PROBE_SUPER)
		return refuse(progname, "%s holds a daxfs (format %u, uuid %s, label '%s')", m->path,
			      p.major, uuid, p.label);
	if (p.kind == DFS_PROBE_MEMBER)
		return refuse(progname, "%s holds member %u of %u of a daxfs (uuid %s, label '%s')",
			      m->path, p.member, p.nmembers, uuid, p.label);
	return 0;
}

static const char *value(blkid_probe pr, const char *name)
{
	const char *v = NULL;

	return blkid_probe_lookup_value(pr, name, &v, NULL) == 0 ? v : NULL;
}

/* libblkid's superblock and partition-table probes over the member's area,
 * as mkfs.ext4 and wipefs make them. */
static int probe_signatures(const char *progname, const struct dm_member *m)
{
	blkid_probe pr = blkid_new_probe();
	int fd = open(m->path, O_RDONLY | O_CLOEXEC), rc, ret = 0;

	if (!pr || fd < 0) {
		ret = fd < 0 ? -errno : -ENOMEM;
		fprintf(stderr, "%s: %s: %s\n", progname, m->path, strerror(-ret));
		goto out;
	}
	if (blkid_probe_set_device(pr, fd, (blkid_loff_t)(m->offset << 9),
				   (blkid_loff_t)(m->length << 9))) {
		ret = refuse(progname, "%s: libblkid cannot probe it", m->path);
		goto out;
	}
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_USAGE |
					  BLKID_SUBLKS_MAGIC);
	blkid_probe_enable_partitions(pr, 1);
	blkid_probe_set_partitions_flags(pr, BLKID_PARTS_MAGIC);
	rc = blkid_do_safeprobe(pr);
	if (rc == -2) {
		ret = refuse(progname, "%s holds more than one signature (libblkid)", m->path);
	} else if (rc == 0) {
		const char *type = value(pr, "TYPE"), *usage = value(pr, "USAGE");
		const char *pt = value(pr, "PTTYPE"), *off = value(pr, "SBMAGIC_OFFSET");

		if (!off)
			off = value(pr, "PTMAGIC_OFFSET");
		if (type)
			ret = refuse(progname, "%s holds %s %s %s (libblkid found its signature at "
				     "byte %s of the member)", m->path,
				     strchr("aeiou", type[0]) ? "an" : "a", type,
				     usage && strcmp(usage, "filesystem") ? usage : "filesystem",
				     off ? off : "?");
		else if (pt)
			ret = refuse(progname, "%s holds a %s partition table (libblkid found its "
				     "signature at byte %s of the member)", m->path, pt,
				     off ? off : "?");
	}
out:
	if (pr)
		blkid_free_probe(pr);
	if (fd >= 0)
		close(fd);
	return ret;
}

/* The first non-zero byte of [from, to) of fd: 1 and *at, 0, or -errno. */
static int first_nonzero(int fd, uint64_t from, uint64_t to, uint64_t *at)
{
	static uint8_t buf[1 << 16];

	while (from < to) {
		size_t want = to - from < sizeof(buf) ? (size_t)(to - from) : sizeof(buf);
		ssize_t n = pread(fd, buf, want, (off_t)from);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		for (ssize_t i = 0; i < n; i++)
			if (buf[i]) {
				*at = from + (uint64_t)i;
				return 1;
			}
		from += (uint64_t)n;
	}
	return 0;
}

/* Neither all zero nor a daxfs: something else lives there. */
static int probe_data(const char *progname, const struct dm_member *m)
{
	const uint64_t start = m->offset << 9, end = (m->offset + m->length) << 9;
	struct stat st;
	uint64_t at = 0;
	int fd = open(m->path, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0 || fstat(fd, &st) < 0) {
		r = -errno;
		fprintf(stderr, "%s: %s: %s\n", progname, m->path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return r;
	}
	if (S_ISREG(st.st_mode)) {
		/* only the data extents can hold anything but zeroes */
		for (uint64_t pos = start; pos < end && r == 0; ) {
			off_t data = lseek(fd, (off_t)pos, SEEK_DATA), hole;

			if (data < 0 || (uint64_t)data >= end)
				break;
			hole = lseek(fd, data, SEEK_HOLE);
			if (hole < 0 || (uint64_t)hole > end)
				hole = (off_t)end;
			r = first_nonzero(fd, (uint64_t)data, (uint64_t)hole, &at);
			pos = (uint64_t)hole;
		}
	} else {
		r = first_nonzero(fd, start, end - start > DEVICE_EDGE ? start + DEVICE_EDGE : end, &at);
		if (r == 0 && end - start > DEVICE_EDGE)
			r = first_nonzero(fd, end - DEVICE_EDGE, end, &at);
	}
	close(fd);
	if (r < 0) {
		fprintf(stderr, "%s: %s: %s\n", progname, m->path, strerror(-r));
		return r;
	}
	if (r == 1)
		return refuse(progname, "%s is not empty: byte %llu of it is not zero, and it holds "
			      "no daxfs", m->path, (unsigned long long)at);
	return 0;
}

int probe_member(const char *progname, struct dm_table *t, unsigned index)
{
	struct dm_member m;
	int err = dm_table_get_member(t, index, &m);

	if (err) {
		fprintf(stderr, "%s: %s\n", progname, daxfs_errormsg());
		return err;
	}
	if ((err = probe_daxfs(progname, t, &m)) || (err = probe_signatures(progname, &m)))
		return err;
	return probe_data(progname, &m);
}
