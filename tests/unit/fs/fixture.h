/* fixture.h - the fs unit tests' fixtures: backing files, mapped devices, mounted filesystems, fsck */
#ifndef DAXFS_TEST_FS_FIXTURE_H
#define DAXFS_TEST_FS_FIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daxfs/dm.h"
#include "daxfs/err.h"
#include "daxfs/fs.h"
#include "harness.h"
#include "../dm/md.h"

/* A sparse backing file of bytes bytes. */
static inline const char *t_backing(const char *name, uint64_t bytes)
{
	return t_file(name, bytes, 0);
}

/* A mapped device with text as its live table, destroyed after the test. */
static inline struct mapped_device *t_md_text(const char *text)
{
	struct mapped_device *md = t_md_named("fs");

	if (t_make_live(md, text)) {
		fprintf(stderr, "harness: table: %s\n", daxfs_errormsg());
		abort();
	}
	return md;
}

/* A mapped device over one fresh sparse file of bytes bytes. */
static inline struct mapped_device *t_md_file(const char *name, uint64_t bytes)
{
	const char *path = t_backing(name, bytes);

	if (!path)
		abort();
	return t_md_text(t_fmt("0 %" PRIu64 " linear %s 0\n", bytes / 512, path));
}

static inline void t_unmount(void *arg)
{
	struct dfs **fs = arg;

	if (*fs)
		dfs_unmount(fs);
	free(fs);
}

/* Mounts md; the fs is unmounted after the test unless the test did. The
 * returned slot stays valid for the test: set *slot to NULL after unmounting. */
static inline struct dfs **t_mount_opts(struct mapped_device *md, const struct dfs_mount_opts *o)
{
	struct dfs **slot = calloc(1, sizeof(*slot));

	if (!slot || dfs_mount(md, o, slot)) {
		fprintf(stderr, "harness: mount: %s\n", daxfs_errormsg());
		free(slot);
		return NULL;
	}
	t_defer(t_unmount, slot);
	return slot;
}

static inline struct dfs **t_mount(struct mapped_device *md)
{
	return t_mount_opts(md, NULL);
}

/* A fresh filesystem of bytes bytes: mkfs + mount with options o. */
static inline struct dfs **t_newfs_opts(uint64_t bytes, struct mapped_device **mdp,
					const struct dfs_mount_opts *o)
{
	struct mapped_device *md = t_md_file("pmem", bytes);

	if (dfs_mkfs(md, NULL)) {
		fprintf(stderr, "harness: mkfs: %s\n", daxfs_errormsg());
		abort();
	}
	if (mdp)
		*mdp = md;
	return t_mount_opts(md, o);
}

static inline struct dfs **t_newfs(uint64_t bytes, struct mapped_device **mdp)
{
	return t_newfs_opts(bytes, mdp, NULL);
}

/* Prints each problem fsck finds, for the test log. */
static inline void t_fsck_print(void *ctx, const struct dfs_fsck_problem *p)
{
	(void)ctx;
	fprintf(stderr, "  fsck: %s%s%s\n", p->text, p->repaired ? " (repaired)" : "",
		p->preen ? "" : " [not -p]");
}

/* fsck -n of an unmounted md: the number of problems (each printed), or a
 * negative errno. */
static inline int t_fsck_problems(struct mapped_device *md)
{
	struct dfs_fsck_result r;
	int err = dfs_fsck(md, DFS_FSCK_CHECK, t_fsck_print, NULL, &r);

	if (err) {
		fprintf(stderr, "  fsck failed: %s\n", daxfs_errormsg());
		return err;
	}
	return (int)r.problems;
}

/* Reads or writes (FUA) block blk of md directly, under the filesystem. */
static inline int t_rw_block(struct mapped_device *md, enum dax_req_op op, uint64_t blk, uint8_t *b)
{
	return dm_submit_bio(md, op, op == DAX_REQ_WRITE ? DM_BIO_FUA : 0, blk * 4096, b, 4096);
}

/* fsck's report, kept as lines "problem" or "problem (repaired)"; preen:
 * the lines whose repair -p makes. */
struct t_report {
	char text[16384];
	unsigned lines, preen;
};

static inline void t_report_keep(void *ctx, const struct dfs_fsck_problem *p)
{
	struct t_report *r = ctx;
	size_t n = strlen(r->text);

	snprintf(r->text + n, sizeof(r->text) - n, "%s%s\n", p->text, p->repaired ? " (repaired)" : "");
	r->lines++;
	r->preen += p->preen;
	t_fsck_print(NULL, p);
}

/* Runs fsck in mode, keeping its report in *r (emptied first). */
static inline int t_fsck_report(struct mapped_device *md, enum dfs_fsck_mode mode, struct t_report *r,
				struct dfs_fsck_result *res)
{
	r->text[0] = '\0';
	r->lines = r->preen = 0;
	return dfs_fsck(md, mode, t_report_keep, r, res);
}

#define CHECK_HAS(report, s) do { \
	if (!strstr((report)->text, (s))) { \
		t_report(__FILE__, __LINE__, "the report lacks \"%s\":\n%s", (s), (report)->text); \
		return T_FAIL; \
	} \
} while (0)

/* What fsck -p does with a damage: repairs all of it, or nothing. */
enum t_preen { FSCK_ASKS = 0, FSCK_PREENS = 1 };

/* -n finds problems and writes nothing; -p repairs them all when each is safe
 * to repair without asking (how: FSCK_PREENS), else changes nothing; -y
 * repairs every one; -n is then clean. */
#define CHECK_REPAIRED(md, report, how) do { \
	struct dfs_fsck_result r_; \
	CHECK_EQ(t_fsck_report((md), DFS_FSCK_CHECK, (report), &r_), 0); \
	CHECK(r_.problems > 0); \
	CHECK_EQ(r_.repaired, 0); \
	CHECK_EQ(r_.unsafe == 0, (how) == FSCK_PREENS); \
	CHECK_EQ((report)->preen == (report)->lines, (how) == FSCK_PREENS); \
	const unsigned found_ = r_.problems, unsafe_ = r_.unsafe; \
	CHECK_EQ(t_fsck_report((md), DFS_FSCK_PREEN, (report), &r_), 0); \
	CHECK_EQ(r_.problems, found_); \
	if ((how) == FSCK_ASKS) { \
		CHECK_EQ(r_.repaired, 0); \
		CHECK_EQ(r_.unsafe, unsafe_); \
		CHECK_EQ(t_fsck_problems(md), (int)found_);    /* -p changed nothing */ \
		CHECK_EQ(t_fsck_report((md), DFS_FSCK_REPAIR, (report), &r_), 0); \
		CHECK_EQ(r_.problems, found_); \
	} \
	CHECK_EQ(r_.repaired, r_.problems); \
	CHECK_EQ(t_fsck_problems(md), 0); \
} while (0)

static const struct dfs_cred t_cred = { .uid = 0, .gid = 0, .umask = 022 };

/* Creates a regular file name in dir; returns its inode number (0 on error). */
static inline uint64_t t_create(struct dfs *fs, uint64_t dir, const char *name)
{
	struct stat st;

	return dfs_mknod(fs, dir, name, S_IFREG | 0644, 0, &t_cred, &st) ? 0 : st.st_ino;
}

/* ino's size, UINT64_MAX when it cannot be had. */
static inline uint64_t t_size_of(struct dfs *fs, uint64_t ino)
{
	struct stat st;

	return dfs_getattr(fs, ino, &st) == 0 ? (uint64_t)st.st_size : UINT64_MAX;
}

/* Allocates [off, off+len) of ino as written, zeroed blocks without growing
 * the file, as DAXFS_IOC_ALLOC with KEEP_SIZE does. */
static inline int t_alloc_keep_size(struct dfs *fs, uint64_t ino, uint64_t off, uint64_t len)
{
	struct dfs_iomap m;
	int err;

	for (uint64_t pos = off; pos < off + len; pos = m.offset + m.length) {
		if ((err = dfs_iomap_begin(fs, ino, pos, off + len - pos, DFS_IOMAP_WRITE, &m)) < 0)
			return err;
		dfs_iomap_end(fs, ino, pos, off + len - pos, 0, DFS_IOMAP_WRITE, &m);
	}
	return 0;
}

#endif
