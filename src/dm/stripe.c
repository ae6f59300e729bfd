/* dm/stripe.c - the striped target: chunks spread round-robin over N devices (dm-stripe.c) */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "dm/target.h"

struct stripe {
	struct dax_device *dev;
	uint64_t physical_start;    /* sectors on dev */
	char *path;
	atomic_uint error_count;    /* status shows 'D' once a bio failed here */
};

struct stripe_c {
	unsigned stripes;
	uint64_t chunk_size;        /* sectors, any positive value */
	uint64_t stripe_width;      /* ti->len / stripes */
	struct stripe stripe[];
};

static void stripe_free(struct stripe_c *sc)
{
	for (unsigned i = 0; i < sc->stripes; i++)
		free(sc->stripe[i].path);
	free(sc);
}

static int get_stripe(struct dm_target *ti, struct stripe_c *sc, unsigned i, char **argv)
{
	uint64_t start;
	int r;

	if (dm_parse_u64(argv[1], &start))
		return -EINVAL;
	r = dm_get_device(ti, argv[0], &sc->stripe[i].dev);
	if (r)
		return r;
	sc->stripe[i].physical_start = start;
	sc->stripe[i].path = dm_absolute_path(argv[0]);
	return sc->stripe[i].path ? 0 : -ENOMEM;
}

/* stripe_ctr: the checks and messages in the kernel's order. */
static int stripe_ctr(struct dm_target *ti, unsigned argc, char **argv)
{
	struct stripe_c *sc;
	unsigned stripes, chunk_size;
	uint64_t width;
	int r;

	if (argc < 2) {
		ti->error = "Not enough arguments";
		return -EINVAL;
	}
	if (dm_parse_uint(argv[0], &stripes) || !stripes) {
		ti->error = "Invalid stripe count";
		return -EINVAL;
	}
	if (dm_parse_uint(argv[1], &chunk_size) || !chunk_size) {
		ti->error = "Invalid chunk_size";
		return -EINVAL;
	}
	if (ti->len % stripes) {
		ti->error = "Target length not divisible by number of stripes";
		return -EINVAL;
	}
	width = ti->len / stripes;
	if (width % chunk_size) {
		ti->error = "Target length not divisible by chunk size";
		return -EINVAL;
	}
	if ((uint64_t)argc != 2 + 2 * (uint64_t)stripes) {
		ti->error = "Not enough destinations specified";
		return -EINVAL;
	}
	sc = calloc(1, sizeof(*sc) + stripes * sizeof(sc->stripe[0]));
	if (!sc) {
		ti->error = "Memory allocation for striped context failed";
		return -ENOMEM;
	}
	sc->stripe_width = width;
	sc->chunk_size = chunk_size;
	ti->max_io_len = chunk_size;
	for (unsigned i = 0; i < stripes; i++) {
		sc->stripes = i + 1;    /* what stripe_free must release */
		r = get_stripe(ti, sc, i, argv + 2 + 2 * i);
		if (r) {
			ti->error = "Couldn't parse stripe destination";
			stripe_free(sc);
			return r;
		}
	}
	ti->private = sc;
	return 0;
}

static void stripe_dtr(struct dm_target *ti)
{
	stripe_free(ti->private);
}

/* stripe_map_sector; chunk sizes need not be powers of two. */
static void stripe_map_sector(struct dm_target *ti, uint64_t sector, struct dm_map_result *out)
{
	struct stripe_c *sc = ti->private;
	uint64_t off = sector - ti->begin;
	uint64_t chunk = off / sc->chunk_size;
	uint64_t chunk_offset = off % sc->chunk_size;
	unsigned stripe = (unsigned)(chunk % sc->stripes);
	uint64_t result = (chunk / sc->stripes) * sc->chunk_size + chunk_offset;

	*out = (struct dm_map_result){
		.dev = sc->stripe[stripe].dev,
		.dev_sector = result + sc->stripe[stripe].physical_start,
		.stripe = (int)stripe,
		.max_sectors = dm_target_max_io_len(ti, sector),
	};
}

/* stripe_end_io: every stripe on the failing device is marked, and each
 * error below the threshold raises an event (trigger_event). */
#define DM_IO_ERROR_THRESHOLD 15

static void stripe_end_io_error(struct dm_target *ti, struct dax_device *dev)
{
	struct stripe_c *sc = ti->private;

	for (unsigned i = 0; i < sc->stripes; i++)
		if (sc->stripe[i].dev == dev &&
		    atomic_fetch_add(&sc->stripe[i].error_count, 1) + 1 < DM_IO_ERROR_THRESHOLD)
			dm_table_event(ti->table);
}

static int stripe_map_bio(struct dm_target *ti, struct dm_bio *bio)
{
	struct dm_map_result m;
	int r;

	stripe_map_sector(ti, bio->pos >> DAX_SECTOR_SHIFT, &m);
	r = dax_device_rw(m.dev, bio->op, bio->flags,
			  (m.dev_sector << DAX_SECTOR_SHIFT) + (bio->pos & (DAX_SECTOR_SIZE - 1)),
			  bio->buf, bio->len);
	if (r < 0 && r != -EOPNOTSUPP)
		stripe_end_io_error(ti, m.dev);
	return r;
}

static int stripe_iterate_devices(struct dm_target *ti, dm_iterate_devices_fn fn, void *data)
{
	struct stripe_c *sc = ti->private;
	int r = 0;

	for (unsigned i = 0; i < sc->stripes && !r; i++)
		r = fn(ti, sc->stripe[i].dev, sc->stripe[i].path, sc->stripe[i].physical_start,
		       sc->stripe_width, data);
	return r;
}

static void stripe_status(struct dm_target *ti, enum dm_status_type type, struct dm_buf *b)
{
	struct stripe_c *sc = ti->private;

	if (type == DM_STATUS_INFO) {
		dm_emit(b, "%u", sc->stripes);
		for (unsigned i = 0; i < sc->stripes; i++) {
			dm_emit(b, " ");
			dm_emit_arg(b, sc->stripe[i].path);
		}
		dm_emit(b, " 1 ");
		for (unsigned i = 0; i < sc->stripes; i++)
			dm_emit(b, "%c", atomic_load(&sc->stripe[i].error_count) ? 'D' : 'A');
		return;
	}
	dm_emit(b, "%u %llu", sc->stripes, (unsigned long long)sc->chunk_size);
	for (unsigned i = 0; i < sc->stripes; i++) {
		dm_emit(b, " ");
		dm_emit_arg(b, sc->stripe[i].path);
		dm_emit(b, " %llu", (unsigned long long)sc->stripe[i].physical_start);
	}
}

const struct target_type dm_striped_target = {
	.name            = "striped",
	.version         = {1, 6, 0},
	.ctr             = stripe_ctr,
	.dtr             = stripe_dtr,
	.map_sector      = stripe_map_sector,
	.map_bio         = stripe_map_bio,
	.direct_access   = dm_remap_direct_access,
	.zero_page_range = dm_remap_zero_page_range,
	.recovery_write  = dm_remap_recovery_write,
	.iterate_devices = stripe_iterate_devices,
	.status          = stripe_status,
};
