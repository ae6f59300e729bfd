/* fuzz/fuzz_print.c - libFuzzer target: the JSON and text printers of daxfs-ctl and the daemon, and the trace */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "answer.h"
#include "ctl/ctl.h"
#include "daxfs/ioctl.h"
#include "fuse/ctl.h"
#include "fuse/dfuse.h"
#include "fuse/extmap.h"
#include "harness.h"
#include "json.h"

/*
 * What the printers print comes from names an administrator or a user chose
 * (device paths, file names) and from the daemon (extent maps), so the
 * input supplies those:
 *
 *   u8 flags (F_*), u8 name length + bytes: the member file's name in this
 *   run's scratch directory (any bytes but '/' and NUL; spaces and
 *   backslashes are escaped in the table); u8 file-name length + bytes: the
 *   FILE argument of `daxfs-ctl map`; u8 iomap length + bytes: an extent map
 *   as the daemon could send it (empty: the real one of a file); u8 label
 *   length + bytes: the filesystem label `daxfs-ctl super` shows, as a
 *   damaged or hostile superblock could hold it; u8 length + bytes: the
 *   mountpoint it names; u16 sector and u8 count of a bad block; then
 *   records of u8 inode, u64 offset, u32 size for the trace and the resolver.
 *
 * The table made of the member is loaded and the image mounted from it;
 * then the daemon's table/info/status/badblocks answers in dmsetup's formats
 * (F_VERBOSE: with daxfs's detail; F_INACTIVE: with the table staged again
 * as the inactive one; F_DEFERRED: after a deferred remove), `daxfs-ctl
 * super`, and per record `daxfs-ctl map` and `resolve` output and the trace
 * are printed. Every answer is well-formed (fuzz_ctl_answer); JSON
 * output must parse (valid UTF-8 whatever the names hold, brackets closed
 * even after a bad extent line) and agree with the text on the device's
 * state; every trace message must be one line.
 */

enum {
	F_JSON = 1u << 0,
	F_VERBOSE = 1u << 1,
	F_INACTIVE = 1u << 2,
	F_DEFERRED = 1u << 3,
	F_BUSY = 1u << 4,          /* super: a mount holds the filesystem */
};

static char image[4200], dev[8400];
static uint8_t *pristine;
static uint64_t files[3];
static char *log_buf;
static size_t log_len, log_cap;

__attribute__((format(printf, 2, 0)))
static void capture(enum fuse_log_level level, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	(void)level;
	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return;
	if (log_len + (size_t)n + 1 > log_cap) {
		char *p = realloc(log_buf, (log_cap = (log_len + (size_t)n + 1) * 2));

		if (!p)
			abort();
		log_buf = p;
	}
	vsnprintf(log_buf + log_len, (size_t)n + 1, fmt, ap);
	/* every message one line, as syslog and a reader of stderr take it */
	if (n == 0 || log_buf[log_len + (size_t)n - 1] != '\n' ||
	    memchr(log_buf + log_len, '\n', (size_t)n - 1))
		fuzz_fail("a log message that is not one line: '%s'", log_buf + log_len);
	log_len += (size_t)n;
}

static void populate(struct dfs *fs)
{
	struct dfs_cred cred = { .uid = 0, .gid = 0, .umask = 022 };
	static char buf[12000];
	struct stat f;

	memset(buf, 'p', sizeof(buf));
	if (dfs_mknod(fs, DFS_ROOT_INO, "data", S_IFREG | 0644, 0, &cred, &f) == 0) {
		(void)dfs_pwrite(fs, f.st_ino, buf, sizeof(buf), 0, 0);
		(void)dfs_pwrite(fs, f.st_ino, buf, 4096, 1 << 20, 0);
	}
	if (dfs_mknod(fs, DFS_ROOT_INO, "prealloc", S_IFREG | 0644, 0, &cred, &f) == 0)
		(void)dfs_fallocate(fs, f.st_ino, 0, 0, 1 << 16);
	(void)dfs_mknod(fs, DFS_ROOT_INO, "empty", S_IFREG | 0644, 0, &cred, &f);
}

static void setup(void)
{
	struct mapped_device *md = NULL;
	struct dfs *fs = NULL;
	struct dfs_mount_opts o = { .rdonly = true };
	const char *const names[] = { "data", "prealloc", "empty" };

	fuse_set_log_func(capture);
	fuzz_path(image, sizeof(image), "image");
	pristine = fuzz_image_make(image, populate);
	if (dm_md_open_source(image, "fuzz", &md) != 0 || dfs_mount(md, &o, &fs) != 0)
		fuzz_fail("mounting the new image: %s", daxfs_errormsg());
	for (int i = 0; i < 3; i++) {
		struct stat st;

		if (dfs_lookup(fs, DFS_ROOT_INO, names[i], &st) != 0)
			fuzz_fail("%s: %s", names[i], daxfs_errormsg());
		files[i] = st.st_ino;
	}
	(void)dfs_unmount(&fs);
	dm_md_destroy(&md);
}

/* A string of the input: u8 length, bytes; NUL-terminated in buf. */
static size_t take_string(struct fuzz_in *in, char *buf, size_t size)
{
	size_t n = fuzz_bytes(in, buf, fuzz_u8(in) % size);

	buf[n] = '\0';
	return strlen(buf);
}

/* The member's path, linked to the image, and a table naming it. */
static char *member_table(struct fuzz_in *in)
{
	char name[256], *table;
	size_t len = take_string(in, name, sizeof(name)), out = 0;

	for (size_t i = 0; i < len; i++)
		if (name[i] != '/')
			name[out++] = name[i];
	name[out] = '\0';
	snprintf(dev, sizeof(dev), "%s/m-%s", fuzz_dir(), name);
	if (link(image, dev) != 0) {
		dev[0] = '\0';
		return NULL;
	}
	table = malloc(2 * strlen(dev) + 64);
	if (!table)
		abort();
	out = (size_t)sprintf(table, "0 16384 linear ");
	for (const char *p = dev; *p; p++) {
		if (*p == '\\' || *p == ' ' || *p == '\t' || *p == '\v' || *p == '\f' || *p == '\r')
			table[out++] = '\\';
		table[out++] = *p;
	}
	sprintf(table + out, " 0\n");
	return table;
}

static struct mapped_device *open_member(const char *table)
{
	struct mapped_device *md = NULL;
	struct dm_table *t = NULL;

	if (dm_md_create("fuzz", &md) != 0)
		return NULL;
	if (table && dm_table_parse(md, table, "fuzz", &t) == 0 && dm_md_load(md, t) == 0 &&
	    dm_md_resume(md, 0) == 0)
		return md;
	dm_table_put(&t);
	dm_md_destroy(&md);
	return NULL;
}

static void check_json(const char *what, const char *text, size_t len)
{
	size_t bad = json_check(text, len);

	if (fuzz_debug())
		fprintf(stderr, "%s: %.*s\n", what, (int)len, text);
	if (bad)
		fuzz_fail("%s: not JSON at byte %zu: %.*s", what, bad - 1, (int)len, text);
}

/* The member's table staged again, as the inactive one. */
static void stage_inactive(struct dfuse *df, const char *table)
{
	struct dm_table *t = NULL;

	if (dm_table_parse(df->md, table, "fuzz", &t) != 0 || dm_md_load(df->md, t) != 0)
		dm_table_put(&t);
}

/* info's state in JSON must say what its dmsetup text says. */
static void check_info(const char *json, const char *text)
{
	bool deferred = strstr(text, "(DEFERRED REMOVE)") != NULL;
	bool inactive = strstr(text, "INACTIVE") != NULL;

	if (deferred != (strstr(json, "\"deferred_remove\":true") != NULL) ||
	    inactive != (strstr(json, "\"INACTIVE\"") != NULL))
		fuzz_fail("info's JSON and text disagree:\n%s\n%s", json, text);
}

/* The next piece: any command with a result hands out the held answer's. */
static void ask(void *ctx, struct daxfs_ioc_ctl *c)
{
	dfuse_ctl_run(ctx, dfuse_ctl_table, c);
}

static void daemon_answers(struct dfuse *df, uint8_t flags, struct fuzz_in *in)
{
	static const struct {
		dfuse_ctl_fn fn;
		uint32_t flags;
		ctl_render_fn render;
	} asks[] = {
		{ dfuse_ctl_table, 0, ctl_render_table },
		{ dfuse_ctl_table, DAXFS_IOC_F_INACTIVE, ctl_render_table },
		{ dfuse_ctl_info, 0, ctl_render_info }, { dfuse_ctl_status, 0, ctl_render_status },
		{ dfuse_ctl_badblocks, 0, ctl_render_badblocks },
	};
	struct daxfs_ioc_ctl *c = calloc(1, sizeof(*c));
	char *info[2] = { NULL, NULL };

	if (!c)
		abort();
	/* a bad block or two to list */
	c->op = DAXFS_IOC_OP_ADD;
	c->start = fuzz_u16(in);
	c->len = fuzz_u8(in) + 1;
	c->text_len = (uint32_t)snprintf(c->text, sizeof(c->text), "%s", dev);
	dfuse_ctl_badblocks(df, c);
	if (flags & F_DEFERRED) {
		memset(c, 0, sizeof(*c));
		c->version = DAXFS_IOC_CTL_VERSION;
		c->flags = DAXFS_IOC_F_DEFERRED;
		dfuse_ctl_run(df, dfuse_ctl_remove, c);
		if (c->error)
			fuzz_fail("remove --deferred of a mounted device: %s", c->text);
	}
	for (unsigned json = 0; json < 2; json++) {
		for (size_t i = 0; i < sizeof(asks) / sizeof(asks[0]); i++) {
			uint32_t ask_flags = asks[i].flags | (json ? DAXFS_IOC_F_JSON : 0) |
					     ((flags & F_VERBOSE) ? DAXFS_IOC_F_VERBOSE : 0);
			char *text;

			memset(c, 0, sizeof(*c));
			c->version = DAXFS_IOC_CTL_VERSION;
			c->flags = ask_flags;
			c->text_len = (uint32_t)snprintf(c->text, sizeof(c->text), "%s", dev);
			dfuse_ctl_run(df, asks[i].fn, c);
			text = fuzz_ctl_answer(c, asks[i].render, ask_flags, ask, df);
			if (asks[i].fn == dfuse_ctl_info && text)
				info[json] = text;
			else
				free(text);
		}
	}
	if (info[0] && info[1])
		check_info(info[1], info[0]);
	free(info[0]);
	free(info[1]);
	free(c);
}

/* daxfs-ctl super of the mounted filesystem, with the input's label and
 * mountpoint. */
static void ctl_super(struct dfuse *df, bool json, bool busy, const char *label,
		      const char *mountpoint)
{
	struct dfs_info *info = calloc(1, sizeof(*info));
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (!info)
		abort();
	/* the bad block of the input may have hit both superblocks */
	if (dfs_read_info(df->md, false, info) != 0) {
		free(info);
		return;
	}
	snprintf(info->label, sizeof(info->label), "%s", label);
	f = open_memstream(&text, &len);
	if (!f)
		abort();
	ctl_super_print(f, dev, df->md, info, busy ? "mounted by another daemon" : "",
			mountpoint[0] ? mountpoint : NULL, json);
	fclose(f);
	if (json)
		check_json("daxfs-ctl super", text, len);
	free(text);
	free(info);
}

/* daxfs-ctl map of ino: the daemon's map attribute (system.daxfs.map), or
 * the input's text (not empty) taken both for such an attribute and for an
 * iomap resolved through the table, as --table does. */
static void ctl_map(struct dfuse *df, bool json, uint64_t ino, const char *file, char *iomap)
{
	struct stat st;

	if (dfs_getattr(df->fs, ino, &st) != 0)
		return;
	for (int through_table = 0; through_table < 1 + (iomap[0] != 0); through_table++) {
		char *text = NULL, *own = NULL;
		size_t len = 0;
		FILE *f;

		if (!iomap[0] ? dfuse_extmap_text(df, ino, true, 0, 0, &own) < 0 : !(own = strdup(iomap)))
			return;
		f = open_memstream(&text, &len);
		if (!f)
			abort();
		(void)ctl_map_print(f, through_table ? df->md : NULL, file, dev, &st, own, json);
		fclose(f);
		if (json)
			check_json("daxfs-ctl map", text, len);
		free(text);
		free(own);
	}
}

static void ctl_resolve(struct dfuse *df, bool json, uint64_t pgoff, long nr)
{
	struct dm_resolution *r = calloc(1, sizeof(*r));
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	long ret;

	if (!r)
		abort();
	ret = dm_dax_resolve(df->md, pgoff, nr, r);
	f = open_memstream(&text, &len);
	if (!f)
		abort();
	ctl_resolve_print(f, r, nr, ret, json);
	fclose(f);
	if (json)
		check_json("daxfs-ctl resolve", text, len);
	free(text);
	free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct dfuse df = { .timeout = 1 };
	struct dfs_mount_opts o = { .rdonly = true };
	struct daxfs_ioc_ctl *c;
	char file[256], iomap[256], label[64], mountpoint[256];
	uint8_t flags;
	bool json;
	char *table;

	if (!pristine)
		setup();
	flags = fuzz_u8(&in);
	json = flags & F_JSON;
	table = member_table(&in);
	df.md = open_member(table);
	take_string(&in, file, sizeof(file));
	take_string(&in, iomap, sizeof(iomap));
	take_string(&in, label, sizeof(label));
	take_string(&in, mountpoint, sizeof(mountpoint));
	if (!df.md || dfs_mount(df.md, &o, &df.fs) != 0) {
		if (fuzz_debug())
			fprintf(stderr, "member %s: %s\n", dev, daxfs_errormsg());
		goto out;
	}
	if (dfuse_ctl_start(&df) != 0)
		fuzz_fail("starting device control");
	if (!(c = calloc(1, sizeof(*c))))
		abort();
	c->op = DAXFS_IOC_OP_ON;
	dfuse_ctl_trace(&df, c);
	free(c);
	if (flags & F_INACTIVE)
		stage_inactive(&df, table);
	daemon_answers(&df, flags, &in);
	ctl_super(&df, json, flags & F_BUSY, label, mountpoint);
	for (unsigned n = 0; n < 8 && fuzz_more(&in); n++) {
		uint64_t ino = files[fuzz_u8(&in) % 3];
		uint64_t off = fuzz_u64(&in);
		uint32_t len = fuzz_u32(&in);

		ctl_map(&df, json, ino, file, iomap);
		ctl_resolve(&df, json, off >> 12, (long)(len % 4096));
		dfuse_trace(&df, "read", ino, (off_t)(off % (4u << 20)), len % (2u << 20));
	}
	dfuse_ctl_stop(&df);
	(void)dfs_unmount(&df.fs);
out:
	free(table);
	dm_md_destroy(&df.md);
	if (dev[0])
		unlink(dev);
	log_len = 0;
	return 0;
}
