/* fixture.h - dax devices over temporary files, released after the test */
#ifndef DAXFS_TEST_DAX_FIXTURE_H
#define DAXFS_TEST_DAX_FIXTURE_H

#include <stdio.h>

#include "daxfs/dax.h"
#include "harness.h"

#define PG DAX_PAGE_SIZE

static inline void fixture_put(void *arg)
{
	struct dax_device *dev = arg;

	dax_device_put(&dev);
}

/* A device over a new file of `pages` pages filled with fill; NULL (with the
 * reason on stderr) on failure. The reference is dropped after the test. */
static inline struct dax_device *fixture_dev(const char *name, uint64_t pages, int fill)
{
	const char *path = t_file(name, pages * PG, fill);
	struct dax_device *dev = NULL;
	int ret;

	if (!path)
		return NULL;
	ret = dax_device_open(path, 0, &dev);
	if (ret < 0) {
		fprintf(stderr, "fixture: open %s: %d %s\n", path, ret, daxfs_errormsg());
		return NULL;
	}
	t_defer(fixture_put, dev);
	return dev;
}

#endif
