/* dm/ioctl.c - the command layer (dm-ioctl.c): a request in, a result structure out */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dm/md.h"
#include "util/err.h"

void dm_md_set_resume_check(struct mapped_device *md, dm_resume_check_fn fn, void *data)
{
	md->resume_check = fn;
	md->resume_check_data = data;
}

void dm_ioctl_result_free(struct dm_ioctl_result *res)
{
	for (unsigned i = 0; i < res->ntargets && !res->wire; i++)
		free(res->targets[i].args);
	for (unsigned i = 0; res->devices && i < res->ndevices; i++)
		dax_device_put(&res->devices[i].held);
	free(res->targets);
	free(res->devices);
	free(res->badblocks);
	if (!res->wire)
		free(res->text);
	free(res->wire);
	memset(res, 0, sizeof(*res));
	res->fd = -1;
}

static int nomem(void)
{
	return daxfs_err(-ENOMEM, "out of memory");
}

/* Every target of t: its table line's parts (args from the type's status,
 * as `table` prints them) and its counters. */
static int fill_targets(struct dm_table *t, struct dm_ioctl_result *res)
{
	unsigned n = dm_table_num_targets(t);

	if (!(res->targets = calloc(n ? n : 1, sizeof(*res->targets))))
		return nomem();
	for (unsigned i = 0; i < n; i++) {
		struct dm_target *ti = &t->targets[i];
		struct dm_buf args = { 0 };

		if (dm_table_target_info(t, i, &res->targets[i].info) < 0)
			return daxfs_err(-EIO, "target %u vanished", i);
		if (ti->type->status)
			ti->type->status(ti, DM_STATUS_TABLE, &args);
		res->targets[i].args = args.oom ? NULL : args.s ? args.s : strdup("");
		if (!res->targets[i].args) {
			free(args.s);
			return nomem();
		}
		res->ntargets = i + 1;
	}
	return 0;
}

static int table_status(struct mapped_device *md, unsigned flags, struct dm_ioctl_result *res)
{
	bool inactive = flags & DM_IOC_F_INACTIVE;
	struct dm_table *t = inactive ? dm_md_get_inactive_table(md) : dm_md_get_live_table(md);
	int err = 0;

	if (!t)
		return daxfs_err(-ENXIO, inactive ? "no inactive table" : "no live table");
	if (!(res->text = dm_table_text(t)))
		err = nomem();
	else
		err = fill_targets(t, res);
	dm_table_put(&t);
	return err;
}

/* Takes the caller's reference to dev into d. */
static void fill_device(struct dax_device *dev, struct dm_ioc_device *d)
{
	size_t n = dax_badblocks_list(dev, d->badblocks, DM_IOC_STATUS_BADBLOCKS);

	d->held = dev;
	d->path = dax_device_path(dev);
	dax_device_file_id(dev, &d->st_dev, &d->st_ino);
	d->size = dax_device_size(dev);
	d->dax = dax_device_is_dax(dev);
	d->is_pmem = dax_device_is_pmem(dev);
	d->not_dax_reason = dax_device_not_dax_reason(dev);
	d->persist = dax_persist_mode_name(dax_device_persist_mode(dev));
	dax_device_get_stats(dev, &d->stats);
	d->nbadblocks = n < DM_IOC_STATUS_BADBLOCKS ? n : DM_IOC_STATUS_BADBLOCKS;
}

static int status(struct mapped_device *md, struct dm_ioctl_result *res)
{
	struct dm_table *t = dm_md_get_live_table(md);
	unsigned n = dm_md_num_devices(md);
	int err = 0;

	res->text = t ? dm_table_status_text(t) : strdup("");
	if (!res->text)
		err = nomem();
	else if (t)
		err = fill_targets(t, res);
	dm_table_put(&t);
	if (err)
		return err;
	if (!(res->devices = calloc(n ? n : 1, sizeof(*res->devices))))
		return nomem();
	for (unsigned i = 0; i < n; i++) {
		struct dax_device *dev = dm_md_device_get(md, i);

		if (dev)
			fill_device(dev, &res->devices[res->ndevices++]);
	}
	return 0;
}

static int load(struct mapped_device *md, const struct dm_ioctl_req *rq)
{
	struct dm_table *t;
	int err = dm_table_parse(md, rq->text ? rq->text : "", rq->origin ? rq->origin : "load",
				 &t);

	if (err < 0)
		return err;
	/* a table may name files no other table of ours did: a file another
	 * daxfs mount uses is refused rather than written by two filesystems */
	if ((err = dm_md_lock_devices(md)) == 0)
		err = dm_md_load(md, t);
	if (err < 0) {
		dm_table_put(&t);
		dm_md_release_devices(md);      /* and what it opened, with their locks */
	}
	return err;
}

static int resume(struct mapped_device *md, unsigned flags)
{
	unsigned sflags = (flags & DM_IOC_F_NOLOCKFS) ? DM_SUSPEND_NOLOCKFS : 0;
	struct dm_table *t = dm_md_get_inactive_table(md);

	/* The owner's check first: a table that cannot hold what lives on
	 * the device is refused like an over-long one, with the old table
	 * still live and the staged one dropped (do_resume destroys it). */
	if (t && md->resume_check) {
		int err = md->resume_check(md->resume_check_data, t, flags);

		dm_table_put(&t);
		if (err < 0) {
			char msg[512];

			snprintf(msg, sizeof(msg), "%s", daxfs_errormsg());
			(void)dm_md_clear(md);
			return daxfs_err(err, "resume: %s", msg);
		}
	}
	dm_table_put(&t);
	return dm_md_resume(md, sflags);
}

/*
 * dmsetup's _error_device, which remove --force runs first: an all-error
 * table is loaded and resumed without lockfs (and without flush), so that
 * nothing waits for a device about to go. dmsetup loads one "0 N error"; the
 * owner may refuse a table whose layout differs from the live one (a
 * filesystem made on it does), so each live target becomes an error target
 * with the same boundaries, which fails every access just as well.
 */
static int wipe(struct mapped_device *md, unsigned flags)
{
	struct dm_table *live = dm_md_get_live_table(md), *t = NULL;
	unsigned n = live ? dm_table_num_targets(live) : 0;
	struct dm_buf text = { 0 };
	int err;

	for (unsigned i = 0; i < n; i++) {
		struct dm_target_info ti;

		if (dm_table_target_info(live, i, &ti) == 0)
			dm_emit(&text, "%" PRIu64 " %" PRIu64 " error\n", ti.begin, ti.len);
	}
	dm_table_put(&live);
	if (text.oom) {
		free(text.s);
		return nomem();
	}
	err = dm_table_parse(md, text.s ? text.s : "", "remove --force", &t);
	free(text.s);
	if (err == 0 && (err = dm_md_load(md, t)) < 0) {
		dm_table_put(&t);
		dm_md_release_devices(md);
	}
	return err < 0 ? err : resume(md, flags | DM_IOC_F_NOLOCKFS);
}

static int remove_dev(struct mapped_device *md, unsigned flags)
{
	int err;

	if ((flags & DM_IOC_F_WIPE) && (err = wipe(md, flags)) < 0)
		return err;
	err = dm_md_remove(md, (flags & DM_IOC_F_DEFERRED) ? DM_REMOVE_DEFERRED : 0);
	if (err == -EBUSY) {
		char msg[512];

		snprintf(msg, sizeof(msg), "%s", daxfs_errormsg());
		err = daxfs_err(err, "%s: the mounted filesystem holds it; unmount it, or remove "
				"with --deferred to have it removed at unmount", msg);
	}
	return err;
}

static int badblocks_of(struct dax_device *dev, const struct dm_ioctl_req *rq,
			struct dm_ioctl_result *res)
{
	uint64_t sectors = dax_device_size(dev) >> 9;
	size_t n;

	if (rq->cmd != DM_IOC_BADBLOCKS_LIST) {
		if (rq->len == 0 || rq->start >= sectors || rq->len > sectors - rq->start)
			return daxfs_err(-EINVAL, "badblocks: sectors %" PRIu64 "+%" PRIu64
					 " outside the device's %" PRIu64, rq->start, rq->len,
					 sectors);
		return rq->cmd == DM_IOC_BADBLOCKS_ADD ? dax_badblocks_add(dev, rq->start, rq->len)
						       : dax_badblocks_clear(dev, rq->start, rq->len);
	}
	n = dax_badblocks_list(dev, NULL, 0);
	if (!(res->badblocks = calloc(n ? n : 1, sizeof(*res->badblocks))))
		return nomem();
	res->nbadblocks = dax_badblocks_list(dev, res->badblocks, n);
	if (res->nbadblocks > n)
		res->nbadblocks = n;    /* more appeared meanwhile: the next list shows them */
	return 0;
}

static int badblocks(struct mapped_device *md, const struct dm_ioctl_req *rq,
		     struct dm_ioctl_result *res)
{
	struct dax_device *dev;
	int err;

	if (!rq->text || !rq->text[0])
		return daxfs_err(-EINVAL, "badblocks: no device path");
	if (!(dev = dm_md_find_device_get(md, rq->text)))
		return daxfs_err(-ENODEV, "badblocks: %s: not a device of this mount", rq->text);
	err = badblocks_of(dev, rq, res);
	dax_device_put(&dev);
	return err;
}

/* The device at index, with a reference for the caller. */
static struct dax_device *device_at(struct mapped_device *md, unsigned index)
{
	struct dax_device *dev = dm_md_device_get(md, index);

	if (!dev)
		daxfs_err(-ENXIO, "no backing device %u", index);
	return dev;
}

/* A descriptor of a fresh open of the device's file, checked to be the file
 * md opened: a path renamed over since is refused, not handed out. */
static int device_open(struct mapped_device *md, const struct dm_ioctl_req *rq,
		       struct dm_ioctl_result *res)
{
	struct dax_device *dev = device_at(md, rq->index);
	bool write = rq->flags & DM_IOC_F_WRITE;
	struct stat st;
	int fd, err = 0;

	if (!dev)
		return -ENXIO;
	fd = open(dax_device_path(dev), (write ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		err = daxfs_err(-errno, "%s: %s", dax_device_path(dev), strerror(errno));
	} else if (fstat(fd, &st) < 0 || !dax_device_same_file(dev, st.st_dev, st.st_ino)) {
		close(fd);
		err = daxfs_err(-ESTALE, "%s is no longer the file this mount uses",
				dax_device_path(dev));
	} else {
		res->fd = fd;
	}
	dax_device_put(&dev);
	return err;
}

static int device(struct mapped_device *md, unsigned index, struct dm_ioctl_result *res)
{
	struct dax_device *dev = device_at(md, index);

	if (!dev)
		return -ENXIO;
	if (!(res->devices = calloc(1, sizeof(*res->devices)))) {
		dax_device_put(&dev);
		return nomem();
	}
	fill_device(dev, &res->devices[0]);
	res->ndevices = 1;
	return 0;
}

/* ---- the device's lifetime ---------------------------------------------- */

/* dev_create, with dmsetup create's load and resume of the SOURCE's table:
 * a device that cannot take its table is not left behind. */
static int dev_create(const struct dm_ioctl_req *rq, struct dm_ioctl_result *res)
{
	struct mapped_device *md;
	int err = dm_md_create(rq->name, &md);

	if (err < 0)
		return err;
	if (rq->flags & DM_IOC_F_EXCL)
		dm_md_set_open_flags(md, DAX_OPEN_EXCL);
	if (rq->text && (err = dm_md_load_source(md, rq->text)) < 0) {
		dm_md_destroy(&md);
		return err;
	}
	res->md = md;
	res->name = dm_md_name(md);
	res->type_name = dm_md_type_name(md);
	return 0;
}

static void set_hooks(struct mapped_device *md, const struct dm_ioc_hooks *h)
{
	static const struct dm_ioc_hooks none;

	if (!h)
		h = &none;
	dm_md_set_lockfs(md, h->lockfs, h->lockfs_data);
	dm_md_set_resume_check(md, h->resume_check, h->resume_check_data);
	dm_md_set_swap_hook(md, h->swap, h->swap_data);
}

static int rename_dev(struct mapped_device *md, const struct dm_ioctl_req *rq)
{
	if (!(rq->flags & DM_IOC_F_UUID))
		return daxfs_err(-EINVAL, "%s: rename: only the uuid can be set", dm_md_name(md));
	return dm_md_set_uuid(md, rq->text);
}

/* The owner's end of the device (dm_hash_remove_all at module unload): md
 * is freed, so nothing of it may stay in res. */
static int destroy(struct mapped_device *md, struct dm_ioctl_result *res)
{
	struct dm_md_info info;

	dm_md_get_info(md, &info);
	if (info.open_count)
		return daxfs_err(-EBUSY, "%s: device is open (open count %u)", dm_md_name(md),
				 info.open_count);
	res->name = res->type_name = NULL;
	dm_md_destroy(&md);
	return 0;
}

static int lifetime(struct mapped_device *md, const struct dm_ioctl_req *rq,
		    struct dm_ioctl_result *res)
{
	switch (rq->cmd) {
	case DM_IOC_DEV_CLAIM:
		return dm_md_lock_devices(md);
	case DM_IOC_DEV_BACKING:
		return (rq->flags & DM_IOC_F_PREALLOC) ? dm_md_prealloc(md)
						       : dm_md_check_backing(md);
	case DM_IOC_DEV_MARK_MOUNTED:
		return dm_md_mark_mounted(md);
	case DM_IOC_DEV_SET_HOOKS:
		set_hooks(md, rq->hooks);
		return 0;
	case DM_IOC_DEV_OPEN:
		dm_md_open(md);
		return 0;
	case DM_IOC_DEV_CLOSE:
		dm_md_close(md);
		return 0;
	case DM_IOC_DEV_RENAME:
		return rename_dev(md, rq);
	case DM_IOC_DEV_SET_DEVT:
		dm_md_set_devt(md, rq->major, rq->minor);
		return 0;
	case DM_IOC_DEV_REMOVE:
		return (rq->flags & DM_IOC_F_DESTROY) ? destroy(md, res)
						      : remove_dev(md, rq->flags);
	default:
		return daxfs_err(-EINVAL, "unknown device-mapper command %d", (int)rq->cmd);
	}
}

int dm_ioctl(struct mapped_device *md, const struct dm_ioctl_req *rq, struct dm_ioctl_result *res)
{
	memset(res, 0, sizeof(*res));
	res->fd = -1;
	if (rq->cmd == DM_IOC_DEV_CREATE)
		return md ? daxfs_err(-EEXIST, "%s: the device exists already", dm_md_name(md))
			  : dev_create(rq, res);
	if (!md)
		return daxfs_err(-ENXIO, "no mapped device");
	res->name = dm_md_name(md);
	res->type_name = dm_md_type_name(md);
	switch (rq->cmd) {
	case DM_IOC_TABLE_STATUS:
		return table_status(md, rq->flags, res);
	case DM_IOC_DEV_STATUS:
		dm_md_get_info(md, &res->info);
		return (res->text = dm_md_info_text(md)) ? 0 : nomem();
	case DM_IOC_STATUS:
		dm_md_get_info(md, &res->info);
		return status(md, res);
	case DM_IOC_TABLE_LOAD:
		return load(md, rq);
	case DM_IOC_DEV_SUSPEND:
		return dm_md_suspend(md, (rq->flags & DM_IOC_F_NOLOCKFS) ? DM_SUSPEND_NOLOCKFS : 0);
	case DM_IOC_DEV_RESUME:
		return resume(md, rq->flags);
	case DM_IOC_TABLE_CLEAR:
		return dm_md_clear(md);
	case DM_IOC_BADBLOCKS_LIST:
	case DM_IOC_BADBLOCKS_ADD:
	case DM_IOC_BADBLOCKS_CLEAR:
		return badblocks(md, rq, res);
	case DM_IOC_DEVICE:
		return device(md, rq->index, res);
	case DM_IOC_DEVICE_OPEN:
		return device_open(md, rq, res);
	default:
		return lifetime(md, rq, res);
	}
}
