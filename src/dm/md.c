/* dm/md.c - the mapped device: device cache, LIVE/INACTIVE slots, load, suspend, resume, info */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "dm/md.h"
#include "util/err.h"
#include "util/intr.h"

static const char *const type_names[] = {
	[DM_TYPE_NONE] = "none",
	[DM_TYPE_BIO_BASED] = "bio",
	[DM_TYPE_DAX_BIO_BASED] = "dax",
};

int dm_md_create(const char *name, struct mapped_device **out)
{
	struct mapped_device *md;

	*out = NULL;
	if (!name || !*name)
		return daxfs_err(-EINVAL, "a mapped device needs a name");
	md = calloc(1, sizeof(*md));
	if (!md)
		return daxfs_err(-ENOMEM, "out of memory");
	md->name = strdup(name);
	if (!md->name) {
		free(md);
		return daxfs_err(-ENOMEM, "out of memory");
	}
	pthread_mutex_init(&md->ctl_lock, NULL);
	pthread_mutex_init(&md->map_lock, NULL);
	pthread_mutex_init(&md->io_lock, NULL);
	pthread_cond_init(&md->io_cond, NULL);
	pthread_mutex_init(&md->dev_lock, NULL);
	atomic_init(&md->event_nr, 0);
	atomic_init(&md->open_count, 0);
	*out = md;
	return 0;
}

void dm_md_destroy(struct mapped_device **mdp)
{
	struct mapped_device *md = *mdp;

	*mdp = NULL;
	if (!md)
		return;
	dm_table_put(&md->live);
	dm_table_put(&md->inactive);
	for (unsigned i = 0; i < md->num_devs; i++)
		dax_device_put(&md->devs[i].dev);
	free(md->devs);
	free(md->uuid);
	pthread_mutex_destroy(&md->dev_lock);
	pthread_cond_destroy(&md->io_cond);
	pthread_mutex_destroy(&md->io_lock);
	pthread_mutex_destroy(&md->map_lock);
	pthread_mutex_destroy(&md->ctl_lock);
	free(md->name);
	free(md);
}

const char *dm_md_name(const struct mapped_device *md)
{
	return md->name;
}

/* ---- device cache ------------------------------------------------------ */

int dm_md_cache_get(struct mapped_device *md, const char *path, struct dax_device **out)
{
	struct dax_device *dev;
	struct dm_md_dev *devs;
	struct stat st;
	int r = 0;

	if (stat(path, &st))
		return daxfs_err(-errno, "%s: %s", path, strerror(errno));
	pthread_mutex_lock(&md->dev_lock);
	for (unsigned i = 0; i < md->num_devs; i++) {
		if (dax_device_same_file(md->devs[i].dev, st.st_dev, st.st_ino)) {
			*out = dax_device_get(md->devs[i].dev);
			goto out;
		}
	}
	devs = realloc(md->devs, (md->num_devs + 1) * sizeof(*devs));
	if (!devs) {
		r = daxfs_err(-ENOMEM, "out of memory");
		goto out;
	}
	md->devs = devs;
	r = dax_device_open(path, md->open_flags, &dev);
	if (r) {
		if (!strstr(daxfs_errormsg(), path))
			daxfs_err_prefix(r, "%s", path);
		goto out;
	}
	md->devs[md->num_devs++] = (struct dm_md_dev){ .dev = dev };
	/* taken under dev_lock, so that a release never closes it first */
	*out = dax_device_get(dev);
out:
	pthread_mutex_unlock(&md->dev_lock);
	return r;
}

void dm_md_release_devices(struct mapped_device *md)
{
	pthread_mutex_lock(&md->dev_lock);
	for (unsigned i = 0; i < md->num_devs;) {
		/* the cache's reference is the last: no table holds it, and
		 * none can take it without dev_lock */
		if (md->devs[i].been_live || !dax_device_put_last(&md->devs[i].dev)) {
			i++;
			continue;
		}
		memmove(&md->devs[i], &md->devs[i + 1], (md->num_devs - i - 1) * sizeof(*md->devs));
		md->num_devs--;
	}
	pthread_mutex_unlock(&md->dev_lock);
}

/* What a table made live keeps open until md is destroyed. */
static void mark_live(struct mapped_device *md, const struct dm_table *t)
{
	pthread_mutex_lock(&md->dev_lock);
	for (unsigned i = 0; i < md->num_devs; i++)
		for (unsigned j = 0; j < t->num_devs && !md->devs[i].been_live; j++)
			md->devs[i].been_live = md->devs[i].dev == t->devs[j];
	pthread_mutex_unlock(&md->dev_lock);
}

void dm_md_set_open_flags(struct mapped_device *md, unsigned flags)
{
	pthread_mutex_lock(&md->dev_lock);
	md->open_flags = flags;
	pthread_mutex_unlock(&md->dev_lock);
}

unsigned dm_md_num_devices(struct mapped_device *md)
{
	unsigned n;

	pthread_mutex_lock(&md->dev_lock);
	n = md->num_devs;
	pthread_mutex_unlock(&md->dev_lock);
	return n;
}

struct dax_device *dm_md_device(struct mapped_device *md, unsigned index)
{
	struct dax_device *dev = NULL;

	pthread_mutex_lock(&md->dev_lock);
	if (index < md->num_devs)
		dev = md->devs[index].dev;
	pthread_mutex_unlock(&md->dev_lock);
	return dev;
}

struct dax_device *dm_md_device_get(struct mapped_device *md, unsigned index)
{
	struct dax_device *dev = NULL;

	pthread_mutex_lock(&md->dev_lock);
	if (index < md->num_devs)
		dev = dax_device_get(md->devs[index].dev);
	pthread_mutex_unlock(&md->dev_lock);
	return dev;
}

static struct dax_device *find_device(struct mapped_device *md, const char *path, bool ref)
{
	struct dax_device *dev = NULL;
	struct stat st;

	if (stat(path, &st))
		return NULL;
	pthread_mutex_lock(&md->dev_lock);
	for (unsigned i = 0; i < md->num_devs && !dev; i++)
		if (dax_device_same_file(md->devs[i].dev, st.st_dev, st.st_ino))
			dev = ref ? dax_device_get(md->devs[i].dev) : md->devs[i].dev;
	pthread_mutex_unlock(&md->dev_lock);
	return dev;
}

struct dax_device *dm_md_find_device(struct mapped_device *md, const char *path)
{
	return find_device(md, path, false);
}

struct dax_device *dm_md_find_device_get(struct mapped_device *md, const char *path)
{
	return find_device(md, path, true);
}

int dm_md_device_index(struct mapped_device *md, const struct dax_device *dev)
{
	int index = -1;

	pthread_mutex_lock(&md->dev_lock);
	for (unsigned i = 0; i < md->num_devs && index < 0; i++)
		if (md->devs[i].dev == dev)
			index = (int)i;
	pthread_mutex_unlock(&md->dev_lock);
	return index;
}

/* Each device is taken with a reference under dev_lock and used without it
 * (a lock may wait). */
int dm_md_lock_devices(struct mapped_device *md)
{
	for (unsigned i = 0;; i++) {
		struct dax_device *dev = dm_md_device_get(md, i);
		int err;

		if (!dev)
			return 0;
		err = dax_device_lock(dev);
		dax_device_put(&dev);
		if (err < 0)
			return err;
	}
}

int dm_md_mark_mounted(struct mapped_device *md)
{
	int first = 0;

	for (unsigned i = 0;; i++) {
		struct dax_device *dev = dm_md_device_get(md, i);
		int err;

		if (!dev)
			return first;
		err = dax_device_mark_mounted(dev);
		dax_device_put(&dev);
		if (err < 0 && first == 0)
			first = err;
	}
}

/* ---- table slots --------------------------------------------------------- */

/* dm_table_determine_type, with the live device type for the no-devices rule. */
static enum dm_md_type table_type(const struct dm_table *t, enum dm_md_type md_type)
{
	if (t->kernel_dax || (t->num_devs == 0 && md_type == DM_TYPE_DAX_BIO_BASED))
		return DM_TYPE_DAX_BIO_BASED;
	return DM_TYPE_BIO_BASED;
}

/* Why a table is not of DAX type, for the is_valid_type message. */
static const char *not_dax_type_reason(const struct dm_table *t, char *buf, size_t size)
{
	if (!t->supports_dax)
		return t->not_dax_reason;
	for (unsigned i = 0; i < t->num_targets; i++) {
		if (t->targets[i].type->features & DM_TARGET_WILDCARD) {
			snprintf(buf, size, "target %u (%s) is a wildcard target with a device "
				 "beside it, which is never DAX", i, t->targets[i].type->name);
			return buf;
		}
	}
	return "not DAX-capable";
}

/* A removed device is gone for dmsetup: its commands find no device. */
static int check_not_removed(struct mapped_device *md)
{
	if (md->removed)
		return daxfs_err(-ENXIO, "%s: the device was removed", md->name);
	return 0;
}

int dm_md_load(struct mapped_device *md, struct dm_table *t)
{
	struct dm_table *old;
	enum dm_md_type type;
	char why[DM_REASON_MAX];
	int r = 0;

	if (!t || t->md != md)
		return daxfs_err(-EINVAL, "%s: the table was not parsed for this device", md->name);
	pthread_mutex_lock(&md->ctl_lock);
	if ((r = check_not_removed(md)))
		goto out;
	type = table_type(t, md->type);
	if (md->type == DM_TYPE_DAX_BIO_BASED && type != DM_TYPE_DAX_BIO_BASED) {
		/* is_valid_type: only BIO -> DAX may change the type */
		r = daxfs_err(-EINVAL, "%s: can't change device type from dax to bio after initial "
			      "table load: %s", md->name, not_dax_type_reason(t, why, sizeof(why)));
		goto out;
	}
	if (t->supports_dax && !t->aligned) {
		r = daxfs_err(-EINVAL, "%s: a DAX table must be page-aligned: %s", md->name,
			      t->unaligned_reason);
		goto out;
	}
	r = dm_table_check_overlap(t);
	if (r) {
		daxfs_err_prefix(r, "%s", md->name);
		goto out;
	}
	if (md->type == DM_TYPE_NONE) {
		/* dm_setup_md_queue: the first load checks the device areas now */
		r = dm_table_check_device_ranges(t);
		if (r) {
			daxfs_err_prefix(r, "%s", md->name);
			goto out;
		}
		pthread_mutex_lock(&md->map_lock);
		md->type = type;
		pthread_mutex_unlock(&md->map_lock);
	}
	pthread_mutex_lock(&md->map_lock);
	old = md->inactive;
	md->inactive = t;
	pthread_mutex_unlock(&md->map_lock);
	dm_table_put(&old);
	dm_md_release_devices(md);
out:
	pthread_mutex_unlock(&md->ctl_lock);
	return r;
}

/* table_clear: nothing staged is no error. */
int dm_md_make_live(struct mapped_device *md, struct dm_table *t)
{
	int r = dm_md_load(md, t);

	if (r < 0) {
		dm_table_put(&t);
		dm_md_release_devices(md);
		return r;
	}
	return dm_md_resume(md, DM_SUSPEND_NOLOCKFS);
}

int dm_md_clear(struct mapped_device *md)
{
	struct dm_table *old;

	pthread_mutex_lock(&md->ctl_lock);
	pthread_mutex_lock(&md->map_lock);
	old = md->inactive;
	md->inactive = NULL;
	pthread_mutex_unlock(&md->map_lock);
	pthread_mutex_unlock(&md->ctl_lock);
	dm_table_put(&old);
	dm_md_release_devices(md);
	return 0;
}

struct dm_table *dm_md_get_live_table(struct mapped_device *md)
{
	struct dm_table *t;

	pthread_mutex_lock(&md->map_lock);
	t = md->live ? dm_table_get(md->live) : NULL;
	pthread_mutex_unlock(&md->map_lock);
	return t;
}

struct dm_table *dm_md_get_inactive_table(struct mapped_device *md)
{
	struct dm_table *t;

	pthread_mutex_lock(&md->ctl_lock);
	t = md->inactive ? dm_table_get(md->inactive) : NULL;
	pthread_mutex_unlock(&md->ctl_lock);
	return t;
}

/* ---- suspend / resume ------------------------------------------------------ */

int dm_md_start_io(struct mapped_device *md, unsigned bio_flags)
{
	/* arm without io_lock, which the wake-up takes; a suspend that
	 * begins after this look is noticed by the poll */
	bool suspended = __atomic_load_n(&md->suspended, __ATOMIC_RELAXED) &&
			 !(bio_flags & DM_BIO_NOWAIT);

	if (suspended) {
		if (bio_flags & DM_BIO_KILLABLE)
			daxfs_intr_arm();
		daxfs_intr_waiting(true);
	}
	pthread_mutex_lock(&md->io_lock);
	while (md->suspended) {
		if (bio_flags & DM_BIO_NOWAIT) {
			pthread_mutex_unlock(&md->io_lock);
			return daxfs_err(-EAGAIN, "%s: suspended", md->name);
		}
		if ((bio_flags & DM_BIO_KILLABLE) && daxfs_intr_pending()) {
			pthread_mutex_unlock(&md->io_lock);
			if (suspended)
				daxfs_intr_waiting(false);
			return daxfs_err(-EINTR, "%s: interrupted while waiting for resume",
					 md->name);
		}
		md->waiting++;
		if (bio_flags & DM_BIO_KILLABLE) {
			struct timespec ts;

			daxfs_intr_deadline(&ts);
			pthread_cond_timedwait(&md->io_cond, &md->io_lock, &ts);
		} else {
			pthread_cond_wait(&md->io_cond, &md->io_lock);
		}
		md->waiting--;
	}
	md->inflight++;
	pthread_mutex_unlock(&md->io_lock);
	if (suspended)
		daxfs_intr_waiting(false);
	return 0;
}

void dm_md_interrupt_waits(struct mapped_device *md)
{
	pthread_mutex_lock(&md->io_lock);
	pthread_cond_broadcast(&md->io_cond);
	pthread_mutex_unlock(&md->io_lock);
}

void dm_md_end_io(struct mapped_device *md)
{
	pthread_mutex_lock(&md->io_lock);
	if (--md->inflight == 0)
		pthread_cond_broadcast(&md->io_cond);
	pthread_mutex_unlock(&md->io_lock);
}

/* dm_suspend: lockfs first (the filesystem may still need the device to
 * sync), then block new bios and wait for the ones in flight. */
static int do_suspend(struct mapped_device *md, unsigned flags)
{
	bool suspended;

	pthread_mutex_lock(&md->io_lock);
	suspended = md->suspended;
	pthread_mutex_unlock(&md->io_lock);
	if (suspended)
		return 0;
	if (!(flags & DM_SUSPEND_NOLOCKFS) && md->lockfs_ops && md->lockfs_ops->freeze) {
		int r = md->lockfs_ops->freeze(md->lockfs_data);

		if (r)
			return daxfs_err_prefix(r, "%s: lockfs", md->name);
		md->frozen = true;
	}
	pthread_mutex_lock(&md->io_lock);
	__atomic_store_n(&md->suspended, true, __ATOMIC_RELAXED);   /* also read without io_lock */
	while (md->inflight)
		pthread_cond_wait(&md->io_cond, &md->io_lock);
	pthread_mutex_unlock(&md->io_lock);
	return 0;
}

int dm_md_suspend(struct mapped_device *md, unsigned flags)
{
	int r;

	pthread_mutex_lock(&md->ctl_lock);
	r = check_not_removed(md);
	if (!r)
		r = do_suspend(md, flags);
	pthread_mutex_unlock(&md->ctl_lock);
	return r;
}

/* dm_swap_table + __bind: the new map is published under map_lock; the old
 * one is freed by whichever holder drops the last reference. */
static int swap_table(struct mapped_device *md)
{
	struct dm_table *old, *t = md->inactive;
	int r;

	r = dm_table_check_device_ranges(t);
	if (r) {
		/* do_resume destroys the new table when the swap fails */
		pthread_mutex_lock(&md->map_lock);
		md->inactive = NULL;
		pthread_mutex_unlock(&md->map_lock);
		dm_table_put(&t);
		dm_md_release_devices(md);
		return daxfs_err_prefix(r, "%s", md->name);
	}
	pthread_mutex_lock(&md->map_lock);
	old = md->live;
	md->live = t;
	md->inactive = NULL;
	md->live_type = table_type(t, md->type);
	pthread_mutex_unlock(&md->map_lock);
	dm_table_put(&old);
	mark_live(md, t);
	if (md->swap_hook)
		md->swap_hook(md->swap_data);
	return 0;
}

int dm_md_resume(struct mapped_device *md, unsigned flags)
{
	int r = 0;

	pthread_mutex_lock(&md->ctl_lock);
	if ((r = check_not_removed(md)))
		goto out;
	if (md->inactive) {
		r = do_suspend(md, flags);
		if (!r)
			r = swap_table(md);
		if (r)
			goto out;       /* old table live, device still suspended */
	}
	pthread_mutex_lock(&md->io_lock);
	__atomic_store_n(&md->suspended, false, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&md->io_cond);
	pthread_mutex_unlock(&md->io_lock);
	if (md->frozen) {
		md->frozen = false;
		if (md->lockfs_ops && md->lockfs_ops->thaw)
			md->lockfs_ops->thaw(md->lockfs_data);
	}
out:
	pthread_mutex_unlock(&md->ctl_lock);
	return r;
}

/* dm_table_event: the event callback is bound to the live table only. */
void dm_table_event(struct dm_table *t)
{
	struct mapped_device *md = t->md;

	pthread_mutex_lock(&md->map_lock);
	if (md->live == t)
		atomic_fetch_add(&md->event_nr, 1);
	pthread_mutex_unlock(&md->map_lock);
}

void dm_md_set_lockfs(struct mapped_device *md, const struct dm_lockfs_ops *ops, void *data)
{
	pthread_mutex_lock(&md->ctl_lock);
	md->lockfs_ops = ops;
	md->lockfs_data = data;
	pthread_mutex_unlock(&md->ctl_lock);
}

void dm_md_set_swap_hook(struct mapped_device *md, void (*fn)(void *data), void *data)
{
	pthread_mutex_lock(&md->ctl_lock);
	md->swap_hook = fn;
	md->swap_data = data;
	pthread_mutex_unlock(&md->ctl_lock);
}

void dm_md_open(struct mapped_device *md)
{
	atomic_fetch_add(&md->open_count, 1);
}

void dm_md_close(struct mapped_device *md)
{
	/* dm_blk_close: the last close of a device marked for deferred
	 * removal removes it */
	if (atomic_fetch_sub(&md->open_count, 1) == 1) {
		pthread_mutex_lock(&md->ctl_lock);
		pthread_mutex_lock(&md->map_lock);
		if (md->deferred_remove)
			md->removed = true;
		pthread_mutex_unlock(&md->map_lock);
		pthread_mutex_unlock(&md->ctl_lock);
	}
}

int dm_md_remove(struct mapped_device *md, unsigned flags)
{
	unsigned open;
	int r = 0;

	pthread_mutex_lock(&md->ctl_lock);
	if ((r = check_not_removed(md)))
		goto out;
	/* dm_lock_for_deletion, under the lock dm_md_close takes */
	open = atomic_load(&md->open_count);
	if (open) {
		if (flags & DM_REMOVE_DEFERRED) {
			pthread_mutex_lock(&md->map_lock);
			md->deferred_remove = true;     /* dev_remove answers 0 */
			pthread_mutex_unlock(&md->map_lock);
			goto out;
		}
		r = daxfs_err(-EBUSY, "%s: device is open (open count %u)", md->name, open);
		goto out;
	}
	pthread_mutex_lock(&md->map_lock);
	md->removed = true;
	pthread_mutex_unlock(&md->map_lock);
out:
	pthread_mutex_unlock(&md->ctl_lock);
	return r;
}

int dm_md_set_uuid(struct mapped_device *md, const char *uuid)
{
	char *copy;
	int r = 0;

	/* DM_UUID_LEN is 129 with its NUL */
	if (!uuid || !*uuid || strlen(uuid) > 128)
		return daxfs_err(-EINVAL, "%s: a uuid is 1 to 128 characters", md->name);
	pthread_mutex_lock(&md->ctl_lock);
	if (md->uuid)
		r = daxfs_err(-EBUSY, "%s: the device has a uuid already", md->name);
	else if (!(copy = strdup(uuid)))
		r = daxfs_err(-ENOMEM, "out of memory");
	else {
		pthread_mutex_lock(&md->map_lock);
		md->uuid = copy;
		pthread_mutex_unlock(&md->map_lock);
	}
	pthread_mutex_unlock(&md->ctl_lock);
	return r;
}

void dm_md_set_devt(struct mapped_device *md, unsigned major, unsigned minor)
{
	pthread_mutex_lock(&md->ctl_lock);
	pthread_mutex_lock(&md->map_lock);
	md->major = major;
	md->minor = minor;
	pthread_mutex_unlock(&md->map_lock);
	pthread_mutex_unlock(&md->ctl_lock);
}

/* ---- info ---------------------------------------------------------------- */

void dm_md_get_info(struct mapped_device *md, struct dm_md_info *out)
{
	bool suspended;
	unsigned waiting;

	pthread_mutex_lock(&md->io_lock);
	suspended = md->suspended;
	waiting = md->waiting;
	pthread_mutex_unlock(&md->io_lock);
	pthread_mutex_lock(&md->map_lock);
	*out = (struct dm_md_info){
		.major = md->major,
		.minor = md->minor,
		.deferred_remove = md->deferred_remove,
		.read_ahead = DM_MD_READ_AHEAD,
	};
	if (md->uuid)
		snprintf(out->uuid, sizeof(out->uuid), "%s", md->uuid);
	out->suspended = suspended;
	out->bios_waiting = waiting;
	out->live_present = md->live != NULL;
	out->inactive_present = md->inactive != NULL;
	out->open_count = atomic_load(&md->open_count);
	out->event_nr = atomic_load(&md->event_nr);
	out->num_targets = md->live ? md->live->num_targets : 0;
	out->size = md->live ? md->live->size : 0;
	out->dax = md->live && md->live_type == DM_TYPE_DAX_BIO_BASED;
	pthread_mutex_unlock(&md->map_lock);
}

const char *dm_md_type_name(struct mapped_device *md)
{
	enum dm_md_type type;

	pthread_mutex_lock(&md->map_lock);
	type = md->type;
	pthread_mutex_unlock(&md->map_lock);
	return type_names[type];
}

/* dmsetup's _display_info_long, line for line (libdm/dm-tools/dmsetup.c),
 * with the blank line that ends each device. */
char *dm_md_info_text(struct mapped_device *md)
{
	struct dm_md_info info;
	struct dm_buf b = { 0 };

	dm_md_get_info(md, &info);
	dm_emit(&b, "Name:              %s\n", md->name);
	dm_emit(&b, "State:             %s%s\n", info.suspended ? "SUSPENDED" : "ACTIVE",
		info.deferred_remove ? " (DEFERRED REMOVE)" : "");
	dm_emit(&b, "Read Ahead:        %u\n", info.read_ahead);
	if (!info.live_present && !info.inactive_present)
		dm_emit(&b, "Tables present:    None\n");
	else
		dm_emit(&b, "Tables present:    %s%s%s\n", info.live_present ? "LIVE" : "",
			info.live_present && info.inactive_present ? " & " : "",
			info.inactive_present ? "INACTIVE" : "");
	dm_emit(&b, "Open count:        %u\n", info.open_count);
	dm_emit(&b, "Event number:      %" PRIu64 "\n", info.event_nr);
	dm_emit(&b, "Major, minor:      %u, %u\n", info.major, info.minor);
	dm_emit(&b, "Number of targets: %u\n", info.num_targets);
	if (info.uuid[0])
		dm_emit(&b, "UUID: %s\n", info.uuid);
	dm_emit(&b, "\n");
	if (b.oom) {
		free(b.s);
		daxfs_err(-ENOMEM, "out of memory");
		return NULL;
	}
	return b.s;
}
