/* dm/md.h - the mapped device's internals shared by md.c, bio.c, dax.c and source.c */
#ifndef DAXFS_DM_MD_H
#define DAXFS_DM_MD_H

#include <pthread.h>
#include <stdatomic.h>

#include "dm/table.h"

/* dm_table_get_type's values. */
enum dm_md_type {
	DM_TYPE_NONE = 0,
	DM_TYPE_BIO_BASED = 1,
	DM_TYPE_DAX_BIO_BASED = 2,
};

/*
 * Lock order: ctl_lock, then io_lock or map_lock (never both), then dev_lock;
 * dev_lock alone is also taken by the parser, which holds none of the others.
 * Readers (bio and DAX paths) never take ctl_lock, and hold map_lock only to
 * take a reference on the live table, so a swap never blocks them for long.
 */
struct mapped_device {
	char *name;

	/* serialises load, clear, suspend, resume; held across the lockfs and
	 * swap hooks, which therefore must not call them */
	pthread_mutex_t ctl_lock;
	bool frozen;                        /* protected by ctl_lock: freeze hook was called */
	const struct dm_lockfs_ops *lockfs_ops;
	void *lockfs_data;
	void (*swap_hook)(void *data);
	void *swap_data;
	/* set before control starts, read by the command layer (ioctl.c) */
	dm_resume_check_fn resume_check;
	void *resume_check_data;

	/* written under ctl_lock and map_lock, read under either */
	pthread_mutex_t map_lock;
	struct dm_table *live;
	struct dm_table *inactive;
	enum dm_md_type type;               /* fixed by the first load */
	enum dm_md_type live_type;          /* of the live table */

	/* the bio gate of suspend: protected by io_lock, io_cond signalled when
	 * suspended clears or inflight drops to 0 */
	pthread_mutex_t io_lock;
	pthread_cond_t io_cond;
	bool suspended;
	unsigned inflight;
	unsigned waiting;                   /* bios queued until resume */

	atomic_uint_fast64_t event_nr;
	atomic_uint open_count;

	/* what DEV_CREATE gives a kernel device (a uuid, a device number), set
	 * once by the owner; and remove's state. Written under ctl_lock and
	 * map_lock, read under either (info is asked from the lockfs hooks,
	 * which run under ctl_lock). */
	char *uuid;
	unsigned major, minor;
	bool deferred_remove;               /* remove --deferred while open */
	bool removed;                       /* no control commands any more */

	/* the device cache: one dax_device per underlying file, opened with
	 * open_flags (DAX_OPEN_*), and the cache's reference to it. A device
	 * a live table has used stays until md is destroyed (the pointers
	 * direct_access gave out stay valid, clients name it by its index);
	 * one that only tables never made live used is closed as soon as no
	 * table holds it (dm_md_release_devices), as dm closes a table's
	 * devices with the table. Only such entries ever leave, so the index
	 * of a device that was live never changes. */
	pthread_mutex_t dev_lock;
	unsigned open_flags;                /* protected by dev_lock */
	unsigned num_devs;
	struct dm_md_dev {
		struct dax_device *dev;
		bool been_live;
	} *devs;                            /* protected by dev_lock */
};

/* dm_md_device and dm_md_find_device with a reference for the caller (put
 * it), for the commands that may run beside dm_md_release_devices. */
struct dax_device *dm_md_device_get(struct mapped_device *md, unsigned index);
struct dax_device *dm_md_find_device_get(struct mapped_device *md, const char *path);

/* Admits one bio: waits while suspended (-EAGAIN instead with NOWAIT). */
int dm_md_start_io(struct mapped_device *md, unsigned bio_flags);
void dm_md_end_io(struct mapped_device *md);

#endif
