/* fuzz/fuzz_table.c - libFuzzer target: the dm table parser and a first load, on any text */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daxfs/dm.h"

/*
 * The input is table text. Device paths in it are whatever the fuzzer makes
 * of them; the seed corpus names /dev/null and a small file this target makes
 * at start, so that constructors get past the device lookup. Every outcome is
 * fine except a crash, a leak or a sanitizer report; when the table loads its
 * text must round-trip through the parser.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void make_backing(void)
{
	static int done;

	if (done)
		return;
	done = 1;
	/* 1 MiB sparse file the corpus refers to */
	FILE *f = fopen("/tmp/daxfs-fuzz-pmem", "w");
	if (f) {
		(void)ftruncate(fileno(f), 1 << 20);
		fclose(f);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mapped_device *md = NULL;
	struct dm_table *t = NULL;
	char *text;

	make_backing();
	if (size > 1 << 16)
		return 0;
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (dm_md_create("fuzz", &md) != 0)
		goto out;
	if (dm_table_parse(md, text, "fuzz", &t) != 0)
		goto out;
	(void)dm_table_size(t);
	(void)dm_table_supports_dax(t);
	(void)dm_table_not_dax_reason(t);
	char *back = dm_table_text(t);
	char *status = dm_table_status_text(t);
	if (back) {
		struct dm_table *t2 = NULL;

		if (dm_table_parse(md, back, "round-trip", &t2) != 0)
			abort();	/* table text must parse back */
		if (dm_table_layout_fingerprint(t2) != dm_table_layout_fingerprint(t))
			abort();
		dm_table_put(&t2);
	}
	free(back);
	free(status);
	if (dm_md_load(md, t) == 0) {
		t = NULL;
		if (dm_md_resume(md, 0) == 0) {
			struct dm_resolution *r = malloc(sizeof(*r));

			if (r) {
				(void)dm_dax_resolve(md, 0, 4, r);
				free(r);
			}
		}
	}
out:
	dm_table_put(&t);
	dm_md_destroy(&md);
	free(text);
	return 0;
}
