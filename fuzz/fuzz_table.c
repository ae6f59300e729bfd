/* fuzz/fuzz_table.c - libFuzzer target: the dm table parser, a first load and resume, I/O, and a swap */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daxfs/dm.h"
#include "harness.h"

/*
 * The input is table text, optionally followed by a line "--" and a second
 * table. "@0" .. "@3" in the text stand for files in this run's scratch
 * directory: two 1 MiB files, a 64 KiB + 512 byte one (not a whole number of
 * pages), and the directory itself (not a device); everything else is taken
 * as written. The first table is parsed, printed back (the text must parse
 * again to the same layout), loaded and resumed; then pages are resolved and
 * read and written through it, and the second table is loaded and swapped in
 * over it. Any outcome but a crash, a leak or a sanitizer report is fine.
 */

#define NDEV 4
static char devs[NDEV][4200];

static void make_devices(void)
{
	if (devs[0][0])
		return;
	fuzz_path(devs[0], sizeof(devs[0]), "pmem0");
	fuzz_path(devs[1], sizeof(devs[1]), "pmem1");
	fuzz_path(devs[2], sizeof(devs[2]), "short");
	snprintf(devs[3], sizeof(devs[3]), "%s", fuzz_dir());
	fuzz_make_file(devs[0], 1 << 20);
	fuzz_make_file(devs[1], 1 << 20);
	fuzz_make_file(devs[2], (64 << 10) + 512);
}

/* The text of data[0, size) with every "@N" expanded; malloc'd. */
static char *expand(const uint8_t *data, size_t size)
{
	size_t cap = size * 2 + 1, len = 0;
	char *out = malloc(cap);

	for (size_t i = 0; out && i < size; i++) {
		const char *add = NULL;
		size_t n = 1;

		if (data[i] == '@' && i + 1 < size && data[i + 1] >= '0' && data[i + 1] < '0' + NDEV) {
			add = devs[data[i + 1] - '0'];
			n = strlen(add);
			i++;
		}
		if (len + n + 1 > cap) {
			char *p = realloc(out, (cap = (len + n + 1) * 2));

			if (!p) {
				free(out);
				return NULL;
			}
			out = p;
		}
		memcpy(out + len, add ? add : (const char *)&data[i], n);
		len += n;
	}
	if (out)
		out[len] = '\0';
	return out;
}

static void check_round_trip(struct mapped_device *md, struct dm_table *t)
{
	char *back = dm_table_text(t);
	struct dm_table *t2 = NULL;

	if (!back)
		return;
	if (dm_table_parse(md, back, "round-trip", &t2) != 0)
		fuzz_fail("the table's own text does not parse: %s\n%s", daxfs_errormsg(), back);
	if (dm_table_layout_fingerprint(t2) != dm_table_layout_fingerprint(t) ||
	    dm_table_size(t2) != dm_table_size(t))
		fuzz_fail("the table's text parses to another layout:\n%s", back);
	dm_table_put(&t2);
	free(back);
}

static void inspect(struct dm_table *t)
{
	struct dm_target_info ti;

	(void)dm_table_size(t);
	(void)dm_table_supports_dax(t);
	(void)dm_table_not_dax_reason(t);
	for (unsigned i = 0; i <= dm_table_num_targets(t); i++)
		(void)dm_table_target_info(t, i, &ti);
	free(dm_table_status_text(t));
}

/* Resolves, reads and writes a few places of the live table. */
static void exercise(struct mapped_device *md)
{
	struct dm_table *t = dm_md_get_live_table(md);
	struct dm_resolution *r = malloc(sizeof(*r));
	uint64_t size = t ? dm_table_size(t) << 9 : 0;
	uint8_t buf[8192];

	dm_table_put(&t);
	if (!r)
		return;
	const uint64_t where[] = { 0, 4096, size / 2, size > 4096 ? size - 4096 : 0, size, 1ull << 40 };
	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		uint64_t pos = where[i] & ~4095ull;

		(void)dm_dax_resolve(md, pos >> 12, 3, r);
		if (dm_submit_bio(md, DAX_REQ_READ, DM_BIO_NOWAIT, pos, buf, sizeof(buf)) == 0)
			(void)dm_submit_bio(md, DAX_REQ_WRITE, DM_BIO_FUA | DM_BIO_NOWAIT, pos, buf,
					    sizeof(buf));
		(void)dm_submit_bio(md, DAX_REQ_READ, DM_BIO_NOWAIT, pos + 511, buf, 513);
	}
	(void)dm_flush(md);
	free(dm_md_info_text(md));
	free(r);
}

/* Loads text into md's INACTIVE slot and resumes; 0 once it is live. */
static int load_and_resume(struct mapped_device *md, const char *text, bool check)
{
	struct dm_table *t = NULL;

	if (dm_table_parse(md, text, "fuzz", &t) != 0)
		return -1;
	inspect(t);
	if (check)
		check_round_trip(md, t);
	if (dm_md_load(md, t) != 0) {
		dm_table_put(&t);
		return -1;
	}
	return dm_md_resume(md, 0) == 0 ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mapped_device *md = NULL;
	char *text, *second;

	make_devices();
	if (size > 1 << 16)
		return 0;
	text = expand(data, size);
	if (!text)
		return 0;
	second = strstr(text, "\n--\n");
	if (second) {
		*second = '\0';
		second += 4;
	}
	if (dm_md_create("fuzz", &md) != 0)
		goto out;
	if (load_and_resume(md, text, true) == 0) {
		exercise(md);
		if (second) {
			(void)dm_md_suspend(md, 0);
			/* a failed swap leaves the old table, still suspended */
			if (load_and_resume(md, second, false) != 0 && dm_md_resume(md, 0) != 0)
				fuzz_fail("resuming the old table after a failed swap: %s",
					  daxfs_errormsg());
			exercise(md);
		}
	}
out:
	dm_md_destroy(&md);
	free(text);
	return 0;
}
