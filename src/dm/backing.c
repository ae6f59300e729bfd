/* dm/backing.c - whether the files behind a mapped device can hold it: sparse files, free space, preallocation */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daxfs/dm.h"
#include "util/err.h"

/* "64 MiB", "12 KiB", "100 bytes": sizes for people, rounded up. */
static const char *human(uint64_t b, char *out, size_t n)
{
	if (b >= ((uint64_t)1 << 20))
		snprintf(out, n, "%" PRIu64 " MiB", (b + ((uint64_t)1 << 20) - 1) >> 20);
	else if (b >= 1024)
		snprintf(out, n, "%" PRIu64 " KiB", (b + 1023) >> 10);
	else
		snprintf(out, n, "%" PRIu64 " bytes", b);
	return out;
}

/*
 * The files of one filesystem share its free space, so their holes are
 * summed before the comparison. Devices are few (a table's files); the scan
 * is quadratic and simple.
 */
int dm_md_check_backing(struct mapped_device *md)
{
	unsigned n = dm_md_num_devices(md);
	struct dax_backing *b = calloc(n ? n : 1, sizeof(*b));
	int err = 0;

	if (!b)
		return daxfs_err(-ENOMEM, "out of memory");
	for (unsigned i = 0; i < n && !err; i++)
		err = dax_device_backing(dm_md_device(md, i), &b[i]);
	for (unsigned i = 0; i < n && !err; i++) {
		uint64_t holes = 0;
		bool first = true;

		if (!b[i].file || !b[i].unallocated)
			continue;
		for (unsigned j = 0; j < n; j++) {
			if (b[j].file && b[j].fs_dev == b[i].fs_dev && b[j].unallocated) {
				first = first && j >= i;
				holes += b[j].unallocated;
			}
		}
		if (!first || holes <= b[i].fs_free)
			continue;   /* counted with an earlier file, or it fits */
		char names[1024] = "", h[32], f[32];
		size_t at = 0;
		unsigned files = 0;
		for (unsigned j = i; j < n && at < sizeof(names); j++) {
			if (b[j].file && b[j].fs_dev == b[i].fs_dev && b[j].unallocated) {
				at += (size_t)snprintf(names + at, sizeof(names) - at, "%s%s",
						       files ? ", " : "",
						       dax_device_path(dm_md_device(md, j)));
				files++;
			}
		}
		err = daxfs_err(-ENOSPC, "%s: %s of the %s not allocated, and %s filesystem has "
				"%s free: stores into the rest will fail with EIO", names,
				human(holes, h, sizeof(h)), files > 1 ? "files are" : "file is",
				files > 1 ? "their" : "its", human(b[i].fs_free, f, sizeof(f)));
	}
	free(b);
	return err;
}

int dm_md_prealloc(struct mapped_device *md)
{
	int err = 0;

	for (unsigned i = 0; i < dm_md_num_devices(md) && !err; i++)
		err = dax_device_prealloc(dm_md_device(md, i));
	return err;
}
