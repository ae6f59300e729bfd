/* dm/table.h - the in-memory dm table (internal to the dm layer and its tests) */
#ifndef DAXFS_DM_TABLE_H
#define DAXFS_DM_TABLE_H

#include <stdatomic.h>

#include "daxfs/dm.h"
#include "dm/target.h"

#define DM_REASON_MAX 512

/* A member range (dm.h): one area of a device that a target maps data to. */
struct dm_member_area {
	struct dm_target *ti;
	unsigned stripe;            /* its place in the target's iterate_devices */
	struct dax_device *dev;     /* the table holds a reference */
	const char *path;           /* owned by the target */
	uint64_t start, len;        /* sectors on dev */
	uint64_t md_first, md_last; /* lowest and highest mapped-device sector it serves */
};

/*
 * A table is immutable once parsed; it is shared by reference count between
 * the mapped device's slots and the readers that took a snapshot of it. It
 * holds one reference on each of its devices, so it stays usable even if the
 * mapped device goes away first.
 */
struct dm_table {
	atomic_uint refs;
	struct mapped_device *md;
	char *origin;

	unsigned num_targets;
	struct dm_target *targets;
	uint64_t *highs;            /* last sector of each target, for the lookup */
	uint64_t size;              /* sectors */

	unsigned num_devs;
	struct dax_device **devs;   /* unique, one reference each */

	/* every device area a target maps data to, in table order (member.c) */
	unsigned num_members;
	struct dm_member_area *members;

	/* Part A 3: every target has direct_access, every device is DAX */
	bool supports_dax;
	char not_dax_reason[DM_REASON_MAX];
	/* dm_table_determine_type's own rule (wildcard targets excluded), which
	 * decides the device type at load */
	bool kernel_dax;
	/* Part A 4: every boundary, device offset and chunk is page-aligned */
	bool aligned;
	char unaligned_reason[DM_REASON_MAX];

	char ctr_detail[DM_REASON_MAX];  /* scratch: why dm_get_device failed */
};

static inline struct dm_table *dm_table_get(struct dm_table *t)
{
	atomic_fetch_add(&t->refs, 1);
	return t;
}

/* dm_split_args: splits input in place at whitespace; '\\' escapes any
 * character (a trailing '\\' stays). *argv is malloc'd (free it), its strings
 * point into input. 0 or -ENOMEM. */
int dm_split_args(char *input, unsigned *argc, char ***argv);

/* The target owning sector (binary search over highs), NULL past the end. */
struct dm_target *dm_table_find_target(const struct dm_table *t, uint64_t sector);

/* The device-area checks of dm_calculate_queue_limits: every area a target
 * uses must lie inside its device. -EINVAL with a message naming the target
 * and the device. */
int dm_table_check_device_ranges(const struct dm_table *t);

/* Lists the member ranges of a complete table (member.c). 0 or -ENOMEM. */
int dm_table_build_members(struct dm_table *t);
/* Refuses a table two of whose member ranges share a sector of one device
 * (the device cache makes every path to one file the same device): -EINVAL
 * naming both targets. The kernel does not check this. */
int dm_table_check_overlap(const struct dm_table *t);

/* The DAX chain over one table snapshot (dax.c). res, when non-NULL, records
 * each step. */
long dm_table_direct_access(struct dm_table *t, uint64_t pgoff, long nr_pages,
			    enum dax_access_mode mode, void **kaddr, uint64_t *pfn,
			    struct dm_resolution *res);

/* The device cache of a mapped device (md.c): the dax_device for path,
 * opened once per underlying file, with a reference for the caller (a table
 * keeps it in devs). The cache keeps the device open while a table holds it,
 * and until md is destroyed once a live table has used it (see
 * dm_md_release_devices). */
int dm_md_cache_get(struct mapped_device *md, const char *path, struct dax_device **out);

#endif
