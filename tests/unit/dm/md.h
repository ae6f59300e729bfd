/* md.h - mapped devices for unit tests of dm and the layers above it, destroyed after the test */
#ifndef DAXFS_TEST_DM_MD_H
#define DAXFS_TEST_DM_MD_H

#include <stdio.h>
#include <stdlib.h>

#include "daxfs/dm.h"
#include "harness.h"

static inline void t_md_destroy(void *arg)
{
	struct mapped_device *md = arg;

	dm_md_destroy(&md);
}

/* A mapped device named name, destroyed after the test. */
static inline struct mapped_device *t_md_named(const char *name)
{
	struct mapped_device *md = NULL;

	if (dm_md_create(name, &md)) {
		fprintf(stderr, "harness: dm_md_create: %s\n", daxfs_errormsg());
		abort();
	}
	t_defer(t_md_destroy, md);
	return md;
}

static inline struct mapped_device *t_md(void)
{
	return t_md_named("test");
}

/* load + resume of text: dmsetup create/reload+resume. */
static inline int t_make_live(struct mapped_device *md, const char *text)
{
	struct dm_table *t;
	int r = dm_table_parse(md, text, "test", &t);

	return r ? r : dm_md_make_live(md, t);
}

/* The text of md's live table (to free), NULL without one. */
static inline char *t_live_text(struct mapped_device *md)
{
	struct dm_table *t = dm_md_get_live_table(md);
	char *text = t ? dm_table_text(t) : NULL;

	dm_table_put(&t);
	return text;
}

#endif
