/* dm/error.c - the error target: every I/O and every DAX access fails with EIO (dm-target.c io_err) */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dm/target.h"
#include "util/err.h"

/*
 * "error" takes no arguments, or "<dev> <offset>" (parsed like linear; the
 * device is opened only so that the kernel can inherit its limits). Any other
 * argument count is accepted and ignored, as io_err_ctr does. The kernel's
 * error target has no status op, so its arguments are never printed back.
 */
struct io_err_c {
	struct dax_device *dev;     /* NULL unless "<dev> <offset>" */
	uint64_t start;
	unsigned argc;
	char **argv;
};

static void io_err_free(struct io_err_c *ec)
{
	for (unsigned i = 0; i < ec->argc; i++)
		free(ec->argv[i]);
	free(ec->argv);
	free(ec);
}

static int io_err_ctr(struct dm_target *ti, unsigned argc, char **argv)
{
	struct io_err_c *ec = calloc(1, sizeof(*ec));
	int r;

	if (!ec) {
		ti->error = "Cannot allocate context";
		return -ENOMEM;
	}
	if (argc) {
		ec->argv = calloc(argc, sizeof(*ec->argv));
		if (!ec->argv)
			goto nomem;
		for (unsigned i = 0; i < argc; i++) {
			/* "<dev> <offset>": the device is recorded as every path is */
			ec->argv[i] = argc == 2 && i == 0 ? dm_absolute_path(argv[i]) : strdup(argv[i]);
			if (!ec->argv[i])
				goto nomem;
			ec->argc = i + 1;
		}
	}
	if (argc == 2) {
		if (dm_parse_u64(argv[1], &ec->start)) {
			ti->error = "Invalid device sector";
			io_err_free(ec);
			return -EINVAL;
		}
		r = dm_get_device(ti, argv[0], &ec->dev);
		if (r) {
			ti->error = "Device lookup failed";
			io_err_free(ec);
			return r;
		}
	}
	ti->private = ec;
	return 0;
nomem:
	ti->error = "Cannot allocate context";
	io_err_free(ec);
	return -ENOMEM;
}

static void io_err_dtr(struct dm_target *ti)
{
	io_err_free(ti->private);
}

/* DM_MAPIO_KILL: every bio fails, discards and write-zeroes included. The
 * failure is this target's purpose, so it explains itself: dm core's
 * messages are for devices that fail. */
static int io_err_map_bio(struct dm_target *ti, struct dm_bio *bio)
{
	return daxfs_err(-EIO, "target %u (error): I/O error at sector %llu", ti->index,
			 (unsigned long long)(bio->pos >> DAX_SECTOR_SHIFT));
}

static long io_err_direct_access(struct dm_target *ti, uint64_t pgoff, long nr_pages,
				 enum dax_access_mode mode, void **kaddr, uint64_t *pfn)
{
	return daxfs_err(-EIO, "target %u (error): I/O error", ti->index);
}

static int io_err_iterate_devices(struct dm_target *ti, dm_iterate_devices_fn fn, void *data)
{
	struct io_err_c *ec = ti->private;

	if (!ec->dev)
		return 0;
	return fn(ti, ec->dev, ec->argv[0], ec->start, ti->len, data);
}

/* No zero_page_range and no recovery_write, as in the kernel: dm core
 * answers -EIO and 0 bytes for them. No status either, so `table` and
 * `status` print a bare "<start> <len> error" whatever the arguments were. */
const struct target_type dm_error_target = {
	.name            = "error",
	.version         = {1, 7, 0},
	.features        = DM_TARGET_WILDCARD,
	.ctr             = io_err_ctr,
	.dtr             = io_err_dtr,
	.map_bio         = io_err_map_bio,
	.direct_access   = io_err_direct_access,
	.iterate_devices = io_err_iterate_devices,
};
