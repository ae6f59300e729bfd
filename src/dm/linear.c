/* dm/linear.c - the linear target: maps a range of sectors onto one device (dm-linear.c) */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dm/target.h"

struct linear_c {
	struct dax_device *dev;
	uint64_t start;             /* sectors on dev */
	char *path;                 /* as given, for the table text */
};

static int linear_ctr(struct dm_target *ti, unsigned argc, char **argv)
{
	struct linear_c *lc;
	uint64_t start;
	int r;

	if (argc != 2) {
		ti->error = "Invalid argument count";
		return -EINVAL;
	}
	lc = calloc(1, sizeof(*lc));
	if (!lc) {
		ti->error = "Cannot allocate linear context";
		return -ENOMEM;
	}
	/* the offset is parsed before the device is opened, as in linear_ctr */
	r = -EINVAL;
	if (dm_parse_u64(argv[1], &start)) {
		ti->error = "Invalid device sector";
		goto bad;
	}
	lc->start = start;
	r = dm_get_device(ti, argv[0], &lc->dev);
	if (r) {
		ti->error = "Device lookup failed";
		goto bad;
	}
	lc->path = dm_absolute_path(argv[0]);
	if (!lc->path) {
		ti->error = "Cannot allocate linear context";
		free(lc);
		return -ENOMEM;
	}
	ti->private = lc;
	return 0;
bad:
	free(lc);
	return r;
}

static void linear_dtr(struct dm_target *ti)
{
	struct linear_c *lc = ti->private;

	free(lc->path);
	free(lc);
}

static void linear_map_sector(struct dm_target *ti, uint64_t sector, struct dm_map_result *out)
{
	struct linear_c *lc = ti->private;

	*out = (struct dm_map_result){
		.dev = lc->dev,
		.dev_sector = lc->start + (sector - ti->begin),
		.stripe = -1,
		.max_sectors = dm_target_max_io_len(ti, sector),
	};
}

static int linear_map_bio(struct dm_target *ti, struct dm_bio *bio)
{
	struct dm_map_result m;

	linear_map_sector(ti, bio->pos >> DAX_SECTOR_SHIFT, &m);
	return dax_device_rw(m.dev, bio->op, bio->flags,
			     (m.dev_sector << DAX_SECTOR_SHIFT) + (bio->pos & (DAX_SECTOR_SIZE - 1)),
			     bio->buf, bio->len);
}

static int linear_iterate_devices(struct dm_target *ti, dm_iterate_devices_fn fn, void *data)
{
	struct linear_c *lc = ti->private;

	return fn(ti, lc->dev, lc->path, lc->start, ti->len, data);
}

static void linear_status(struct dm_target *ti, enum dm_status_type type, struct dm_buf *b)
{
	struct linear_c *lc = ti->private;

	if (type == DM_STATUS_TABLE) {
		dm_emit_arg(b, lc->path);
		dm_emit(b, " %llu", (unsigned long long)lc->start);
	}
}

const struct target_type dm_linear_target = {
	.name            = "linear",
	.version         = {1, 4, 0},
	.ctr             = linear_ctr,
	.dtr             = linear_dtr,
	.map_sector      = linear_map_sector,
	.map_bio         = linear_map_bio,
	.direct_access   = dm_remap_direct_access,
	.zero_page_range = dm_remap_zero_page_range,
	.recovery_write  = dm_remap_recovery_write,
	.iterate_devices = linear_iterate_devices,
	.status          = linear_status,
};
