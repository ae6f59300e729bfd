/* fuse/ctl.c - device-control commands on the mounted daemon: tables, suspend/resume, status, badblocks */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daxfs/dm.h"
#include "fuse/client.h"
#include "fuse/ctl.h"
#include "fuse/run.h"

/* The mapped device's swap hook runs with its control lock held: notifying
 * the kernel from there could block on the kernel (a dirty page to write
 * back comes to us as a WRITE), so a thread does it. */
struct dfuse_ctl {
	pthread_mutex_t lock;          /* serialises commands */
	char *load;                    /* a table arriving in chunks (F_MORE) */
	size_t load_len;

	pthread_t thread;
	pthread_mutex_t qlock;
	pthread_cond_t qcond, done_cond;
	uint64_t requested, done;      /* swaps seen, swaps whose pages are dropped */
	bool stop;
};

#define INVAL_WAIT_SECONDS 10

static void *inval_main(void *arg)
{
	struct dfuse *df = arg;
	struct dfuse_ctl *ctl = df->ctl;

	pthread_mutex_lock(&ctl->qlock);
	for (;;) {
		while (!ctl->stop && ctl->done == ctl->requested)
			pthread_cond_wait(&ctl->qcond, &ctl->qlock);
		if (ctl->stop)
			break;
		uint64_t gen = ctl->requested;
		uint64_t *inos = NULL;
		size_t n = 0;

		pthread_mutex_unlock(&ctl->qlock);
		if (dfs_cached_files(df->fs, &inos, &n) < 0)
			fuse_log(FUSE_LOG_ERR, "daxfs-fuse: after a table swap: %s\n",
				 daxfs_errormsg());
		for (size_t i = 0; i < n; i++) {
			int err = dfuse_inval_inode(df, inos[i], 0, 0);

			/* ENOENT: the kernel has forgotten it meanwhile */
			if (err < 0 && err != -ENOENT)
				fuse_log(FUSE_LOG_WARNING, "daxfs-fuse: dropping cached pages of "
					 "inode %" PRIu64 ": %s\n", inos[i], strerror(-err));
		}
		free(inos);
		pthread_mutex_lock(&ctl->qlock);
		ctl->done = gen;
		pthread_cond_broadcast(&ctl->done_cond);
	}
	pthread_mutex_unlock(&ctl->qlock);
	return NULL;
}

static void swap_hook(void *data)
{
	struct dfuse_ctl *ctl = data;

	pthread_mutex_lock(&ctl->qlock);
	ctl->requested++;
	pthread_cond_signal(&ctl->qcond);
	pthread_mutex_unlock(&ctl->qlock);
}

/* Waits (bounded: a single-threaded server cannot answer the WRITE that
 * writing back a dirty page needs while this command runs) until the pages
 * of every swap so far are dropped. */
static void wait_inval(struct dfuse_ctl *ctl)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += INVAL_WAIT_SECONDS;
	pthread_mutex_lock(&ctl->qlock);
	uint64_t want = ctl->requested;
	while (ctl->done < want)
		if (pthread_cond_timedwait(&ctl->done_cond, &ctl->qlock, &ts) == ETIMEDOUT) {
			fuse_log(FUSE_LOG_WARNING, "daxfs-fuse: resume: cached pages not yet "
				 "dropped after %d s\n", INVAL_WAIT_SECONDS);
			break;
		}
	pthread_mutex_unlock(&ctl->qlock);
}

static int lockfs_freeze(void *data)
{
	return dfs_freeze(data);
}

static void lockfs_thaw(void *data)
{
	dfs_thaw(data);
}

static const struct dm_lockfs_ops lockfs_ops = {
	.freeze = lockfs_freeze,
	.thaw = lockfs_thaw,
};

int dfuse_ctl_start(struct dfuse *df)
{
	struct dfuse_ctl *ctl = calloc(1, sizeof(*ctl));

	if (!ctl)
		return -ENOMEM;
	pthread_mutex_init(&ctl->lock, NULL);
	pthread_mutex_init(&ctl->qlock, NULL);
	pthread_cond_init(&ctl->qcond, NULL);
	pthread_cond_init(&ctl->done_cond, NULL);
	df->ctl = ctl;
	if (dfuse_trace_start(df) != 0) {
		df->ctl = NULL;
		free(ctl);
		return -ENOMEM;
	}
	if (pthread_create(&ctl->thread, NULL, inval_main, df) != 0) {
		dfuse_trace_stop(df);
		df->ctl = NULL;
		free(ctl);
		return -EAGAIN;
	}
	dm_md_set_lockfs(df->md, &lockfs_ops, df->fs);
	dm_md_set_swap_hook(df->md, swap_hook, ctl);
	/* The mount holds the device open, as a mounted filesystem holds its
	 * block device: info's open count says so. */
	dm_md_open(df->md);
	return 0;
}

void dfuse_ctl_stop(struct dfuse *df)
{
	struct dfuse_ctl *ctl = df->ctl;
	struct dm_md_info info;

	if (!ctl)
		return;
	dm_md_set_swap_hook(df->md, NULL, NULL);
	/* Unmounting a suspended device: let the held writers finish first. */
	dm_md_get_info(df->md, &info);
	/* A staged table is not swapped in by the unmount's resume. */
	if (info.inactive_present)
		(void)dm_md_clear(df->md);
	if (info.suspended && dm_md_resume(df->md, DM_SUSPEND_NOLOCKFS) < 0)
		fuse_log(FUSE_LOG_ERR, "daxfs-fuse: resume at unmount: %s\n", daxfs_errormsg());
	dfs_thaw(df->fs);
	dm_md_set_lockfs(df->md, NULL, NULL);
	/* last: a deferred remove happens at this close, and a removed device
	 * takes no resume */
	dm_md_close(df->md);
	pthread_mutex_lock(&ctl->qlock);
	ctl->stop = true;
	pthread_cond_signal(&ctl->qcond);
	pthread_mutex_unlock(&ctl->qlock);
	pthread_join(ctl->thread, NULL);
	pthread_cond_destroy(&ctl->qcond);
	pthread_cond_destroy(&ctl->done_cond);
	pthread_mutex_destroy(&ctl->qlock);
	pthread_mutex_destroy(&ctl->lock);
	dfuse_trace_stop(df);
	free(ctl->load);
	free(ctl);
	df->ctl = NULL;
}

void dfuse_ctl_run(struct dfuse *df, dfuse_ctl_fn fn, struct daxfs_ioc_ctl *c)
{
	pthread_mutex_lock(&df->ctl->lock);
	fn(df, c);
	pthread_mutex_unlock(&df->ctl->lock);
}

/* ---- answers ----------------------------------------------------------- */

void dfuse_ctl_set_text(struct daxfs_ioc_ctl *c, const char *text)
{
	size_t n = strlen(text);

	if (n >= sizeof(c->text)) {
		c->error = -EOVERFLOW;
		snprintf(c->text, sizeof(c->text), "answer of %zu bytes does not fit the "
			 "control channel's %u", n, DAXFS_IOC_TEXT_MAX);
		c->text_len = (uint32_t)strlen(c->text);
		return;
	}
	memcpy(c->text, text, n + 1);
	c->text_len = (uint32_t)n;
}

static void fail(struct daxfs_ioc_ctl *c, int err)
{
	const char *msg = daxfs_errormsg();

	c->error = err;
	dfuse_ctl_set_text(c, msg[0] ? msg : strerror(-err));
}

void dfuse_ctl_answer(struct daxfs_ioc_ctl *c, int err)
{
	if (err < 0)
		fail(c, err);
	else
		dfuse_ctl_set_text(c, "");
}

/* A growing string; any allocation failure turns into -ENOMEM at the end. */
struct sbuf {
	char *s;
	size_t len;
	FILE *f;
};

static bool sbuf_open(struct sbuf *b)
{
	b->s = NULL;
	b->len = 0;
	b->f = open_memstream(&b->s, &b->len);
	return b->f != NULL;
}

/* Closes b and answers with its text. */
static void sbuf_answer(struct sbuf *b, struct daxfs_ioc_ctl *c)
{
	if (fclose(b->f) != 0 || !b->s) {
		free(b->s);
		c->error = -ENOMEM;
		dfuse_ctl_set_text(c, "out of memory");
		return;
	}
	dfuse_ctl_set_text(c, b->s);
	free(b->s);
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static const char *json_bool(bool v)
{
	return v ? "true" : "false";
}

/* ---- table, info, status ------------------------------------------------ */

/* One JSON object per line of dm_table_text: {"start","len","type","args"}. */
static void table_json(FILE *f, const char *text)
{
	bool first = true;

	fputc('[', f);
	while (*text) {
		const char *nl = strchr(text, '\n');
		size_t n = nl ? (size_t)(nl - text) : strlen(text);
		char *line = strndup(text, n);
		unsigned long long start, len;
		int used = 0;
		char type[32];

		if (line && sscanf(line, "%llu %llu %31s %n", &start, &len, type, &used) == 3) {
			fprintf(f, "%s{\"start\":%llu,\"len\":%llu,\"type\":", first ? "" : ",",
				start, len);
			json_str(f, type);
			fputs(",\"args\":", f);
			json_str(f, used ? line + used : "");
			fputc('}', f);
			first = false;
		}
		free(line);
		text += n + (nl != NULL);
	}
	fputc(']', f);
}

void dfuse_ctl_table(struct dfuse *df, struct daxfs_ioc_ctl *c)
{
	bool inactive = c->flags & DAXFS_IOC_F_INACTIVE;
	struct dm_table *t = inactive ? dm_md_get_inactive_table(df->md)
				      : dm_md_get_live_table(df->md);
	struct sbuf b;
	char *text;

	if (!t) {
		c->error = -ENXIO;
		dfuse_ctl_set_text(c, inactive ? "no inactive table" : "no live table");
		return;
	}
	text = dm_table_text(t);
	dm_table_put(&t);
	if (!text || !sbuf_open(&b)) {
		free(text);
		c->error = -ENOMEM;
		dfuse_ctl_set_text(c, "out of memory");
		return;
	}
	if (c->flags & DAXFS_IOC_F_JSON) {
		fprintf(b.f, "{\"slot\":\"%s\",\"targets\":", inactive ? "inactive" : "live");
		table_json(b.f, text);
		fputs(",\"text\":", b.f);
		json_str(b.f, text);
		fputs("}\n", b.f);
	} else {
		fputs(text, b.f);
	}
	free(text);
	sbuf_answer(&b, c);
}

/* The filesystem's side of info and status, as JSON members. */
static void fs_json(FILE *f, struct dfuse *df)
{
	struct dfs_freeze_state st;

	dfs_freeze_state(df->fs, &st);
	fprintf(f, "\"filesystem\":{\"frozen\":%s,\"writers_waiting\":%u,\"shutdown\":%s,"
		"\"uses_dax\":%s}", json_bool(st.frozen), st.writers_waiting,
		json_bool(dfs_shutdown_error(df->fs) != 0), json_bool(dfs_uses_dax(df->fs)));
}

static void fs_state(struct dfuse *df, bool *frozen, int *shutdown)
{
	*frozen = dfs_frozen(df->fs);
	*shutdown = dfs_shutdown_error(df->fs);
}

void dfuse_ctl_info(struct dfuse *df, struct daxfs_ioc_ctl *c)
{
	struct dm_md_info info;
	struct sbuf b;
	bool frozen;
	int shutdown;

	dm_md_get_info(df->md, &info);
	fs_state(df, &frozen, &shutdown);
	if (!sbuf_open(&b)) {
		c->error = -ENOMEM;
		dfuse_ctl_set_text(c, "out of memory");
		return;
	}
	if (c->flags & DAXFS_IOC_F_JSON) {
		fputs("{\"name\":", b.f);
		json_str(b.f, dm_md_name(df->md));
		fprintf(b.f, ",\"state\":\"%s\",\"deferred_remove\":%s,\"read_ahead\":%u,"
			"\"tables\":[", info.suspended ? "SUSPENDED" : "ACTIVE",
			json_bool(info.deferred_remove), info.read_ahead);
		fprintf(b.f, "%s%s%s", info.live_present ? "\"LIVE\"" : "",
			info.live_present && info.inactive_present ? "," : "",
			info.inactive_present ? "\"INACTIVE\"" : "");
		fprintf(b.f, "],\"open_count\":%u,\"event_nr\":%" PRIu64 ",\"major\":%u,"
			"\"minor\":%u,\"targets\":%u,\"uuid\":", info.open_count, info.event_nr,
			info.major, info.minor, info.num_targets);
		json_str(b.f, info.uuid);
		fprintf(b.f, ",\"size\":%" PRIu64 ",\"type\":\"%s\",\"dax\":%s,"
			"\"bios_waiting\":%u,", info.size, dm_md_type_name(df->md),
			json_bool(info.dax), info.bios_waiting);
		fs_json(b.f, df);
		fputs("}\n", b.f);
	} else {
		char *text = dm_md_info_text(df->md);
		size_t n = text ? strlen(text) : 0;

		/* dmsetup's text; --verbose adds daxfs's before its final
		 * blank line */
		if (n && (c->flags & DAXFS_IOC_F_VERBOSE))
			text[n - 1] = '\0';
		if (text)
			fputs(text, b.f);
		free(text);
		if (c->flags & DAXFS_IOC_F_VERBOSE)
			fprintf(b.f, "Size:              %" PRIu64 " sectors\n"
				"Type:              %s\nDAX:               %s\n"
				"Filesystem:        %s%s, %s\n\n", info.size,
				dm_md_type_name(df->md), info.dax ? "yes" : "no",
				frozen ? "frozen" : "thawed",
				shutdown ? ", shut down after an I/O error" : "",
				dfs_uses_dax(df->fs) ? "DAX" : "bio path");
	}
	sbuf_answer(&b, c);
}

static void status_targets(FILE *f, struct dm_table *t, bool json)
{
	unsigned n = t ? dm_table_num_targets(t) : 0;

	for (unsigned i = 0; i < n; i++) {
		struct dm_target_info ti;

		if (dm_table_target_info(t, i, &ti) < 0)
			continue;
		if (json)
			fprintf(f, "%s{\"index\":%u,\"start\":%" PRIu64 ",\"len\":%" PRIu64
				",\"type\":\"%s\",\"dax\":%s,\"ios\":%" PRIu64 ",\"errors\":%" PRIu64 "}",
				i ? "," : "", ti.index, ti.begin, ti.len, ti.type, json_bool(ti.dax),
				ti.ios, ti.errors);
		else
			fprintf(f, "target %u: %" PRIu64 " %" PRIu64 " %s dax=%s ios=%" PRIu64
				" errors=%" PRIu64 "\n", ti.index, ti.begin, ti.len, ti.type,
				ti.dax ? "yes" : "no", ti.ios, ti.errors);
	}
}

#define MAX_BADBLOCKS 64

static void status_device(FILE *f, struct dax_device *dev, bool json, bool first)
{
	struct dax_device_stats st;
	struct dax_badblock bb[MAX_BADBLOCKS];
	size_t nbb = dax_badblocks_list(dev, bb, MAX_BADBLOCKS);
	const char *why = dax_device_not_dax_reason(dev);
	const char *persist = dax_persist_mode_name(dax_device_persist_mode(dev));

	dax_device_get_stats(dev, &st);
	if (nbb > MAX_BADBLOCKS)
		nbb = MAX_BADBLOCKS;
	if (json) {
		fputs(first ? "{\"path\":" : ",{\"path\":", f);
		json_str(f, dax_device_path(dev));
		fprintf(f, ",\"size\":%" PRIu64 ",\"dax\":%s,\"not_dax_reason\":",
			dax_device_size(dev), json_bool(dax_device_is_dax(dev)));
		if (why)
			json_str(f, why);
		else
			fputs("null", f);
		fprintf(f, ",\"is_pmem\":%s,\"persist\":\"%s\",\"direct_accesses\":%" PRIu64
			",\"reads\":%" PRIu64 ",\"read_bytes\":%" PRIu64 ",\"writes\":%" PRIu64
			",\"write_bytes\":%" PRIu64 ",\"flushes\":%" PRIu64 ",\"drains\":%" PRIu64
			",\"errors\":%" PRIu64 ",\"badblocks\":[",
			json_bool(dax_device_is_pmem(dev)), persist, st.direct_accesses, st.reads,
			st.read_bytes, st.writes, st.write_bytes, st.flushes, st.drains, st.errors);
		for (size_t i = 0; i < nbb; i++)
			fprintf(f, "%s{\"sector\":%" PRIu64 ",\"len\":%" PRIu64 "}", i ? "," : "",
				bb[i].sector, bb[i].nr_sectors);
		fputs("]}", f);
		return;
	}
	fprintf(f, "device %s: size=%" PRIu64 " dax=%s%s%s%s is_pmem=%s persist=%s\n",
		dax_device_path(dev), dax_device_size(dev), why ? "no" : "yes",
		why ? " (" : "", why ? why : "", why ? ")" : "",
		dax_device_is_pmem(dev) ? "yes" : "no", persist);
	fprintf(f, "  direct_accesses=%" PRIu64 " reads=%" PRIu64 " read_bytes=%" PRIu64
		" writes=%" PRIu64 " write_bytes=%" PRIu64 " flushes=%" PRIu64 " drains=%" PRIu64
		" errors=%" PRIu64 "\n", st.direct_accesses, st.reads, st.read_bytes, st.writes,
		st.write_bytes, st.flushes, st.drains, st.errors);
	fputs("  badblocks:", f);
	for (size_t i = 0; i < nbb; i++)
		fprintf(f, " %" PRIu64 "+%" PRIu64, bb[i].sector, bb[i].nr_sectors);
	fputs(nbb ? "\n" : " none\n", f);
}

void dfuse_ctl_status(struct dfuse *df, struct daxfs_ioc_ctl *c)
{
	bool json = c->flags & DAXFS_IOC_F_JSON;
	struct dm_table *t = dm_md_get_live_table(df->md);
	char *lines = t ? dm_table_status_text(t) : strdup("");
	struct dm_md_info info;
	struct sbuf b;
	bool frozen;
	int shutdown;

	dm_md_get_info(df->md, &info);
	fs_state(df, &frozen, &shutdown);
	if (!lines || !sbuf_open(&b)) {
		free(lines);
		dm_table_put(&t);
		c->error = -ENOMEM;
		dfuse_ctl_set_text(c, "out of memory");
		return;
	}
	/* dmsetup status: one "start len type <target info>" line a target;
	 * the daemon's own counters only with --verbose or --json */
	if (!json)
		fputs(lines, b.f);
	if (!json && !(c->flags & DAXFS_IOC_F_VERBOSE)) {
		free(lines);
		dm_table_put(&t);
		sbuf_answer(&b, c);
		return;
	}
	if (json) {
		fprintf(b.f, "{\"state\":\"%s\",\"type\":\"%s\",\"text\":",
			info.suspended ? "SUSPENDED" : "ACTIVE", dm_md_type_name(df->md));
		json_str(b.f, lines);
		fputs(",\"targets\":[", b.f);
	} else {
		fprintf(b.f, "state: %s\ntype: %s\n", info.suspended ? "SUSPENDED" : "ACTIVE",
			dm_md_type_name(df->md));
	}
	free(lines);
	status_targets(b.f, t, json);
	dm_table_put(&t);
	if (json)
		fputs("],\"devices\":[", b.f);
	for (unsigned i = 0; i < dm_md_num_devices(df->md); i++)
		status_device(b.f, dm_md_device(df->md, i), json, i == 0);
	if (json) {
		fputs("],", b.f);
		fs_json(b.f, df);
		fputs("}\n", b.f);
	} else
		fprintf(b.f, "filesystem: %s%s, %s\n", frozen ? "frozen" : "thawed",
			shutdown ? ", shut down after an I/O error" : "",
			dfs_uses_dax(df->fs) ? "DAX" : "bio path");
	sbuf_answer(&b, c);
}

/* ---- load, suspend, resume, clear --------------------------------------- */

#define LOAD_MAX (1u << 20)

/* A loaded table may name files no other table of ours did: they get the
 * lock a mount takes (dax_device_lock), so that a file another daxfs mount
 * uses is refused rather than written by two filesystems. Relocking a device
 * we hold is a no-op. */
static int lock_devices(struct dfuse *df)
{
	for (unsigned i = 0; i < dm_md_num_devices(df->md); i++) {
		int err = dax_device_lock(dm_md_device(df->md, i));

		if (err < 0)
			return err;
	}
	return 0;
}

void dfuse_ctl_load(struct dfuse *df, struct daxfs_ioc_ctl *c)
{
	struct dfuse_ctl *ctl = df->ctl;
	struct dm_table *t;
	size_t n = c->text_len;
	int err;

	if (n >= sizeof(c->text) || memchr(c->text, '\0', n)) {
		c->error = -EINVAL;
		dfuse_ctl_set_text(c, "load: text_len does not match the text");
		goto drop;
	}
	if (ctl->load_len + n > LOAD_MAX) {
		c->error = -E2BIG;
		dfuse_ctl_set_text(c, "load: table text larger than 1 MiB");
		goto drop;
	}
	char *p = realloc(ctl->load, ctl->load_len + n + 1);

	if (!p) {
		c->error = -ENOMEM;
		dfuse_ctl_set_text(c, "out of memory");
		goto drop;
	}
	ctl->load = p;
	memcpy(p + ctl->load_len, c->text, n);
	ctl->load_len += n;
	p[ctl->load_len] = '\0';
	if (c->flags & DAXFS_IOC_F_MORE) {
		c->text[0] = '\0';
		c->text_len = 0;
		return;
	}
	err = dm_table_parse(df->md, ctl->load, "load", &t);
	if (err == 0) {
		err = lock_devices(df);
		if (err == 0)
			err = dm_md_load(df->md, t);
		if (err < 0)
			dm_table_put(&t);
	}
	if (err < 0)
		fail(c, err);
	else
		dfuse_ctl_set_text(c, "");
drop:
	free(ctl->load);
	ctl->load = NULL;
	ctl->load_len = 0;
}

static unsigned suspend_flags(const struct daxfs_ioc_ctl *c)
{
	return (c->flags & DAXFS_IOC_F_NOLOCKFS) ? DM_SUSPEND_NOLOCKFS : 0;
}

void dfuse_ctl_suspend(struct dfuse *df, struct daxfs_ioc_ctl *c)
{
	int err = dm_md_suspend(df->md, suspend_flags(c));

	if (err < 0)
		fail(c, err);
	else
		dfuse_ctl_set_text(c, "");
}

void dfuse_ctl_resume(struct dfuse *df, struct daxfs_ioc_ctl *c)
{
	struct dm_table *t = dm_md_get_inactive_table(df->md);
	int err = 0;

	/* The filesystem's own check first: a table that cannot hold it is
	 * refused like an over-long one, with the old table still live and
	 * the staged one dropped (do_resume destroys it). */
	if (t) {
		err = dfs_check_table(df->fs, t);
		/* A direct mapping (libdaxfs) cannot be taken away: no swap
		 * while one exists, unless forced (then it is revoked). */
		if (err == 0)
			err = dfuse_client_check_swap(df, c->flags & DAXFS_IOC_F_FORCE);
		dm_table_put(&t);
		if (err < 0) {
			char msg[512];

			snprintf(msg, sizeof(msg), "resume: %s", daxfs_errormsg());
			(void)dm_md_clear(df->md);
			c->error = err;
			dfuse_ctl_set_text(c, msg);
			return;
		}
	}
	err = dm_md_resume(df->md, suspend_flags(c));
	if (err < 0) {
		fail(c, err);
		return;
	}
	wait_inval(df->ctl);
	dfuse_ctl_set_text(c, "");
}

void dfuse_ctl_clear(struct dfuse *df, struct daxfs_ioc_ctl *c)
{
	int err = dm_md_clear(df->md);

	if (err < 0)
		fail(c, err);
	else
		dfuse_ctl_set_text(c, "");
}

/* ---- badblocks ---------------------------------------------------------- */

void dfuse_ctl_badblocks(struct dfuse *df, struct daxfs_ioc_ctl *c)
{
	struct dax_device *dev;
	struct sbuf b;
	int err = 0;

	if (c->text_len == 0 || c->text_len >= sizeof(c->text) || c->text[c->text_len] != '\0' ||
	    strlen(c->text) != c->text_len) {
		c->error = -EINVAL;
		dfuse_ctl_set_text(c, "badblocks: no device path");
		return;
	}
	dev = dm_md_find_device(df->md, c->text);
	if (!dev) {
		char msg[4200];

		snprintf(msg, sizeof(msg), "badblocks: %s: not a device of this mount", c->text);
		c->error = -ENODEV;
		dfuse_ctl_set_text(c, msg);
		return;
	}
	uint64_t dev_sectors = dax_device_size(dev) >> 9;

	switch (c->op) {
	case DAXFS_IOC_OP_ADD:
	case DAXFS_IOC_OP_CLEAR:
		if (c->len == 0 || c->start >= dev_sectors || c->len > dev_sectors - c->start) {
			char msg[128];

			snprintf(msg, sizeof(msg), "badblocks: sectors %" PRIu64 "+%" PRIu64
				 " outside the device's %" PRIu64, c->start, c->len, dev_sectors);
			c->error = -EINVAL;
			dfuse_ctl_set_text(c, msg);
			return;
		}
		err = c->op == DAXFS_IOC_OP_ADD ? dax_badblocks_add(dev, c->start, c->len)
						: dax_badblocks_clear(dev, c->start, c->len);
		if (err < 0)
			fail(c, err);
		else
			dfuse_ctl_set_text(c, "");
		/* daxfs-run maps again and meets the bad pages as the kernel does */
		dfuse_run_changed_all(df, false);
		return;
	case DAXFS_IOC_OP_LIST:
		break;
	default:
		c->error = -EINVAL;
		dfuse_ctl_set_text(c, "badblocks: unknown operation");
		return;
	}
	size_t n = dax_badblocks_list(dev, NULL, 0);
	struct dax_badblock *bb = calloc(n ? n : 1, sizeof(*bb));

	if (!bb || !sbuf_open(&b)) {
		free(bb);
		c->error = -ENOMEM;
		dfuse_ctl_set_text(c, "out of memory");
		return;
	}
	n = dax_badblocks_list(dev, bb, n);
	if (c->flags & DAXFS_IOC_F_JSON)
		fputc('[', b.f);
	for (size_t i = 0; i < n; i++) {
		if (c->flags & DAXFS_IOC_F_JSON)
			fprintf(b.f, "%s{\"sector\":%" PRIu64 ",\"len\":%" PRIu64 "}", i ? "," : "",
				bb[i].sector, bb[i].nr_sectors);
		else
			fprintf(b.f, "%" PRIu64 " %" PRIu64 "\n", bb[i].sector, bb[i].nr_sectors);
	}
	if (c->flags & DAXFS_IOC_F_JSON)
		fputs("]\n", b.f);
	free(bb);
	sbuf_answer(&b, c);
}
