/* tools/ctl/render.c - device-control results as dmsetup prints them, and as JSON */
#include <inttypes.h>
#include <string.h>

#include "ctl/render.h"
#include "daxfs/ioctl.h"
#include "util/json.h"

void ctl_render_table(FILE *f, const struct dm_ioctl_result *r, unsigned flags)
{
	if (!(flags & DAXFS_IOC_F_JSON)) {
		fputs(r->text ? r->text : "", f);
		return;
	}
	fprintf(f, "{\"slot\":\"%s\",\"targets\":[",
		(flags & DAXFS_IOC_F_INACTIVE) ? "inactive" : "live");
	for (unsigned i = 0; i < r->ntargets; i++) {
		const struct dm_ioc_target *t = &r->targets[i];

		fprintf(f, "%s{\"start\":%" PRIu64 ",\"len\":%" PRIu64 ",\"type\":", i ? "," : "",
			t->info.begin, t->info.len);
		daxfs_json_string(f, t->info.type);
		fputs(",\"args\":", f);
		daxfs_json_string(f, t->args);
		fputc('}', f);
	}
	fputs("],\"text\":", f);
	daxfs_json_string(f, r->text);
	fputs("}\n", f);
}

/* A decoded result may lack its names (a device being created has none). */
static const char *str(const char *s)
{
	return s ? s : "";
}

static void fs_json(FILE *f, const struct dm_holder_state *fs)
{
	fprintf(f, "\"filesystem\":{\"frozen\":%s,\"writers_waiting\":%u,\"shutdown\":%s,"
		"\"uses_dax\":%s}", daxfs_json_bool(fs->frozen), fs->writers_waiting,
		daxfs_json_bool(fs->shutdown), daxfs_json_bool(fs->uses_dax));
}

static void fs_text(FILE *f, const struct dm_holder_state *fs)
{
	fprintf(f, "%s%s, %s\n", fs->frozen ? "frozen" : "thawed",
		fs->shutdown ? ", shut down after an I/O error" : "",
		fs->uses_dax ? "DAX" : "bio path");
}

void ctl_render_info(FILE *f, const struct dm_ioctl_result *r, unsigned flags)
{
	const struct dm_holder_state *fs = &r->holder;
	const struct dm_md_info *info = &r->info;

	if (flags & DAXFS_IOC_F_JSON) {
		fputs("{\"name\":", f);
		daxfs_json_string(f, r->name);
		fprintf(f, ",\"state\":\"%s\",\"deferred_remove\":%s,\"read_ahead\":%u,"
			"\"tables\":[", info->suspended ? "SUSPENDED" : "ACTIVE",
			daxfs_json_bool(info->deferred_remove), info->read_ahead);
		fprintf(f, "%s%s%s", info->live_present ? "\"LIVE\"" : "",
			info->live_present && info->inactive_present ? "," : "",
			info->inactive_present ? "\"INACTIVE\"" : "");
		fprintf(f, "],\"open_count\":%u,\"event_nr\":%" PRIu64 ",\"major\":%u,"
			"\"minor\":%u,\"targets\":%u,\"uuid\":", info->open_count, info->event_nr,
			info->major, info->minor, info->num_targets);
		daxfs_json_string(f, info->uuid);
		fprintf(f, ",\"size\":%" PRIu64 ",\"type\":\"%s\",\"dax\":%s,"
			"\"bios_waiting\":%u,", info->size, str(r->type_name),
			daxfs_json_bool(info->dax), info->bios_waiting);
		fs_json(f, fs);
		fputs("}\n", f);
		return;
	}
	/* dmsetup's text; --verbose adds daxfs's before its final blank line */
	size_t n = r->text ? strlen(r->text) : 0;

	if (n)
		fwrite(r->text, 1, (flags & DAXFS_IOC_F_VERBOSE) ? n - 1 : n, f);
	if (flags & DAXFS_IOC_F_VERBOSE) {
		fprintf(f, "Size:              %" PRIu64 " sectors\n"
			"Type:              %s\nDAX:               %s\n"
			"Filesystem:        ", info->size, str(r->type_name), info->dax ? "yes" : "no");
		fs_text(f, fs);
		fputc('\n', f);
	}
}

static void status_targets(FILE *f, const struct dm_ioctl_result *r, bool json)
{
	for (unsigned i = 0; i < r->ntargets; i++) {
		const struct dm_target_info *ti = &r->targets[i].info;

		if (json) {
			fprintf(f, "%s{\"index\":%u,\"start\":%" PRIu64 ",\"len\":%" PRIu64
				",\"type\":", i ? "," : "", ti->index, ti->begin, ti->len);
			daxfs_json_string(f, ti->type);
			fprintf(f, ",\"dax\":%s,\"ios\":%" PRIu64 ",\"errors\":%" PRIu64 "}",
				daxfs_json_bool(ti->dax), ti->ios, ti->errors);
		} else {
			fprintf(f, "target %u: %" PRIu64 " %" PRIu64 " %s dax=%s ios=%" PRIu64
				" errors=%" PRIu64 "\n", ti->index, ti->begin, ti->len, ti->type,
				ti->dax ? "yes" : "no", ti->ios, ti->errors);
		}
	}
}

static void status_device(FILE *f, const struct dm_ioc_device *d, bool json, bool first)
{
	const struct dax_device_stats *st = &d->stats;
	const char *why = d->not_dax_reason;

	if (json) {
		fputs(first ? "{\"path\":" : ",{\"path\":", f);
		daxfs_json_string(f, d->path);
		fprintf(f, ",\"size\":%" PRIu64 ",\"dax\":%s,\"not_dax_reason\":", d->size,
			daxfs_json_bool(d->dax));
		if (why)
			daxfs_json_string(f, why);
		else
			fputs("null", f);
		fprintf(f, ",\"is_pmem\":%s,\"persist\":\"%s\",\"direct_accesses\":%" PRIu64
			",\"reads\":%" PRIu64 ",\"read_bytes\":%" PRIu64 ",\"writes\":%" PRIu64
			",\"write_bytes\":%" PRIu64 ",\"flushes\":%" PRIu64 ",\"drains\":%" PRIu64
			",\"errors\":%" PRIu64 ",\"badblocks\":[", daxfs_json_bool(d->is_pmem),
			d->persist, st->direct_accesses, st->reads, st->read_bytes, st->writes,
			st->write_bytes, st->flushes, st->drains, st->errors);
		for (size_t i = 0; i < d->nbadblocks; i++)
			fprintf(f, "%s{\"sector\":%" PRIu64 ",\"len\":%" PRIu64 "}", i ? "," : "",
				d->badblocks[i].sector, d->badblocks[i].nr_sectors);
		fputs("]}", f);
		return;
	}
	fprintf(f, "device %s: size=%" PRIu64 " dax=%s%s%s%s is_pmem=%s persist=%s\n", d->path,
		d->size, why ? "no" : "yes", why ? " (" : "", why ? why : "", why ? ")" : "",
		d->is_pmem ? "yes" : "no", d->persist);
	fprintf(f, "  direct_accesses=%" PRIu64 " reads=%" PRIu64 " read_bytes=%" PRIu64
		" writes=%" PRIu64 " write_bytes=%" PRIu64 " flushes=%" PRIu64 " drains=%" PRIu64
		" errors=%" PRIu64 "\n", st->direct_accesses, st->reads, st->read_bytes, st->writes,
		st->write_bytes, st->flushes, st->drains, st->errors);
	fputs("  badblocks:", f);
	for (size_t i = 0; i < d->nbadblocks; i++)
		fprintf(f, " %" PRIu64 "+%" PRIu64, d->badblocks[i].sector,
			d->badblocks[i].nr_sectors);
	fputs(d->nbadblocks ? "\n" : " none\n", f);
}

void ctl_render_status(FILE *f, const struct dm_ioctl_result *r, unsigned flags)
{
	const struct dm_holder_state *fs = &r->holder;
	bool json = flags & DAXFS_IOC_F_JSON;
	const char *state = r->info.suspended ? "SUSPENDED" : "ACTIVE";

	/* dmsetup status: one "start len type <target info>" line a target;
	 * the daemon's own counters only with --verbose or --json */
	if (!json) {
		fputs(r->text ? r->text : "", f);
		if (!(flags & DAXFS_IOC_F_VERBOSE))
			return;
		fprintf(f, "state: %s\ntype: %s\n", state, str(r->type_name));
	} else {
		fprintf(f, "{\"state\":\"%s\",\"type\":\"%s\",\"text\":", state, str(r->type_name));
		daxfs_json_string(f, r->text);
		fputs(",\"targets\":[", f);
	}
	status_targets(f, r, json);
	if (json)
		fputs("],\"devices\":[", f);
	for (unsigned i = 0; i < r->ndevices; i++)
		status_device(f, &r->devices[i], json, i == 0);
	if (json) {
		fputs("],", f);
		fs_json(f, fs);
		fputs("}\n", f);
	} else {
		fputs("filesystem: ", f);
		fs_text(f, fs);
	}
}

void ctl_render_badblocks(FILE *f, const struct dm_ioctl_result *r, unsigned flags)
{
	bool json = flags & DAXFS_IOC_F_JSON;

	if (json)
		fputc('[', f);
	for (size_t i = 0; i < r->nbadblocks; i++) {
		if (json)
			fprintf(f, "%s{\"sector\":%" PRIu64 ",\"len\":%" PRIu64 "}", i ? "," : "",
				r->badblocks[i].sector, r->badblocks[i].nr_sectors);
		else
			fprintf(f, "%" PRIu64 " %" PRIu64 "\n", r->badblocks[i].sector,
				r->badblocks[i].nr_sectors);
	}
	if (json)
		fputs("]\n", f);
}
