/* dm/target.h - targets and target types: the ops table every dm target type fills in */
#ifndef DAXFS_DM_TARGET_H
#define DAXFS_DM_TARGET_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daxfs/dax.h"

struct dm_table;
struct dm_target;

/* Features of a target type (include/linux/device-mapper.h DM_TARGET_*). */
enum dm_target_features {
	/* Matches any device type: the kernel never lets it into a DAX table
	 * (dm_table_supports_dax), which decides the device type at load. */
	DM_TARGET_WILDCARD = 1u << 0,
};

enum dm_status_type {
	DM_STATUS_INFO = 0,     /* dmsetup status */
	DM_STATUS_TABLE = 1,    /* dmsetup table: the constructor arguments */
};

/* The result of mapping one sector of the mapped device through a target. */
struct dm_map_result {
	struct dax_device *dev;     /* NULL for targets without a device (error, zero) */
	uint64_t dev_sector;        /* sector on dev */
	int stripe;                 /* stripe index, -1 unless striped */
	/* sectors from this one to the next target or chunk boundary (>= 1):
	 * the kernel's max_io_len, used by the bio split and the DAX clamp */
	uint64_t max_sectors;
};

/* One slice of a bio, already limited to one target and one chunk. */
struct dm_bio {
	enum dax_req_op op;
	unsigned flags;             /* DAX_REQ_* */
	uint64_t pos;               /* byte position on the mapped device */
	void *buf;
	size_t len;
};

/* A growable text buffer for status output; on ENOMEM it sets oom and stops. */
struct dm_buf {
	char *s;
	size_t len, cap;
	bool oom;
};
void dm_emit(struct dm_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Emits one table argument, escaping whitespace and '\' so that
 * dm_split_args gives it back unchanged. */
void dm_emit_arg(struct dm_buf *b, const char *arg);

typedef int (*dm_iterate_devices_fn)(struct dm_target *ti, struct dax_device *dev,
				     const char *path, uint64_t start, uint64_t len, void *data);

/*
 * A target type. Every path (bio, direct_access, persist, resolve) goes
 * through map_sector, so the mapping math lives in one function per type. A
 * capability a type lacks is a NULL op: the table is DAX-capable exactly when
 * every target's type has direct_access (and its devices are DAX).
 */
struct target_type {
	const char *name;
	unsigned version[3];
	unsigned features;          /* DM_TARGET_* */

	/* Parses argv (the args after the type name), may call dm_get_device.
	 * On failure sets ti->error to the kernel's reason string and returns
	 * a negative errno; the table adds origin, line and type. */
	int (*ctr)(struct dm_target *ti, unsigned argc, char **argv);
	void (*dtr)(struct dm_target *ti);

	/* sector is on the mapped device, inside the target. NULL for targets
	 * that map nowhere (error, zero). */
	void (*map_sector)(struct dm_target *ti, uint64_t sector, struct dm_map_result *out);
	/* Serves one slice (inside the target and one chunk). 0 or -errno. */
	int (*map_bio)(struct dm_target *ti, struct dm_bio *bio);

	/* pgoff is the mapped device's page offset; nr_pages already clamped to
	 * the target/chunk by the caller. */
	long (*direct_access)(struct dm_target *ti, uint64_t pgoff, long nr_pages,
			      enum dax_access_mode mode, void **kaddr, uint64_t *pfn);
	int (*zero_page_range)(struct dm_target *ti, uint64_t pgoff, size_t nr_pages);
	size_t (*recovery_write)(struct dm_target *ti, uint64_t pgoff, void *addr,
				 const void *src, size_t bytes);

	/* Calls fn for every device area the target uses; stops at a non-zero
	 * return and returns it. */
	int (*iterate_devices)(struct dm_target *ti, dm_iterate_devices_fn fn, void *data);
	void (*status)(struct dm_target *ti, enum dm_status_type type, struct dm_buf *b);
};

/*
 * The DAX ops of a target that only remaps (linear, striped): map the page
 * through the type's map_sector and call the underlying device. A device
 * sector off a page boundary is -EINVAL (0 bytes for recovery_write), as
 * bdev_dax_pgoff was up to Linux 5.16; such tables are refused at load anyway
 * (kernel-chain.md Part A 4).
 */
long dm_remap_direct_access(struct dm_target *ti, uint64_t pgoff, long nr_pages,
			    enum dax_access_mode mode, void **kaddr, uint64_t *pfn);
int dm_remap_zero_page_range(struct dm_target *ti, uint64_t pgoff, size_t nr_pages);
size_t dm_remap_recovery_write(struct dm_target *ti, uint64_t pgoff, void *addr,
			       const void *src, size_t bytes);

struct dm_target {
	struct dm_table *table;
	const struct target_type *type;
	unsigned index;
	uint64_t begin, len;        /* sectors on the mapped device */
	/* 0 or the chunk size: I/O and DAX accesses are clipped at multiples
	 * of it counted from begin (dm_set_target_max_io_len) */
	uint64_t max_io_len;
	void *private;
	const char *error;          /* set by a failing ctr */
	/* its member ranges in the table's list (member.c): none for a type
	 * without map_sector, which maps no data */
	unsigned first_member, num_members;

	/* counters for status: bio slices and DAX calls, and their errors */
	atomic_uint_fast64_t ios, errors;
};

/* The registry of target types, looked up by name. */
const struct target_type *dm_get_target_type(const char *name);
/* Every registered type, for `daxfs-ctl targets`; NULL-terminated. */
const struct target_type *const *dm_target_types(void);

extern const struct target_type dm_linear_target;
extern const struct target_type dm_striped_target;
extern const struct target_type dm_error_target;
extern const struct target_type dm_zero_target;

/* For constructors. Opens path through the mapped device's device cache and
 * records it in the table (the table holds a reference until it is freed).
 * Returns 0 or a negative errno (message in daxfs_errormsg()). */
int dm_get_device(struct dm_target *ti, const char *path, struct dax_device **out);

/* For constructors: a device path as the table records it, absolute (a
 * relative one is taken from the current directory, lexically: symbolic links
 * stay as named), so that the table means the same from any directory.
 * malloc'd; NULL on ENOMEM. */
char *dm_absolute_path(const char *path);

/* The kernel's number parsers, 0 on success or -EINVAL. dm_parse_u64 is
 * sscanf(s, "%llu%c") == 1 as the constructors use it for sectors (linear
 * and stripe offsets, error's device sector): digits only, since the
 * kernel's vsscanf takes no sign for %u, and no junk; unlike the kernel's
 * simple_strtoull it refuses a value that overflows instead of wrapping.
 * dm_parse_uint is kstrtouint(s, 10) (stripe count and chunk size): one
 * leading '+' allowed, no '-', no overflow. */
int dm_parse_u64(const char *s, uint64_t *out);
int dm_parse_uint(const char *s, unsigned *out);

/* dm_table_event: a target reports an event (a striped target's device
 * failed an I/O); counted in info's event number while t is live. */
void dm_table_event(struct dm_table *t);

/* Sectors left from sector to the target end or next chunk boundary. */
uint64_t dm_target_max_io_len(const struct dm_target *ti, uint64_t sector);

#endif
