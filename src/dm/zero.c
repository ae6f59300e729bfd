/* dm/zero.c - the zero target: reads return zeros, writes are dropped (dm-zero.c) */
#include <errno.h>
#include <string.h>

#include "dm/target.h"

static int zero_ctr(struct dm_target *ti, unsigned argc, char **argv)
{
	if (argc != 0) {
		ti->error = "No arguments required";
		return -EINVAL;
	}
	return 0;
}

static int zero_map_bio(struct dm_target *ti, struct dm_bio *bio)
{
	switch (bio->op) {
	case DAX_REQ_READ:
		memset(bio->buf, 0, bio->len);
		return 0;
	case DAX_REQ_WRITE:
		/* writes are silently dropped */
		return 0;
	case DAX_REQ_WRITE_ZEROES:
		/* zero_map would kill a write-zeroes bio, but zero sets no
		 * num_write_zeroes_bios, so blkdev_issue_zeroout falls back to
		 * writing zero pages, which are dropped: that is what callers see */
		return 0;
	}
	return -EIO;
}

/* No direct_access: a table containing zero is never DAX-capable. */
const struct target_type dm_zero_target = {
	.name     = "zero",
	.version  = {1, 2, 0},
	.ctr      = zero_ctr,
	.map_bio  = zero_map_bio,
};
