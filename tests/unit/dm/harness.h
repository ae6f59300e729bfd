/* harness.h - a tiny header-only case-table harness and fixtures for the dm unit tests */
#ifndef DAXFS_TEST_DM_HARNESS_H
#define DAXFS_TEST_DM_HARNESS_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daxfs/dm.h"
#include "daxfs/err.h"

/*
 * A test is `static int test_<subject>_<expectation>(void)` returning T_PASS
 * or T_SKIP, or T_FAIL through a failed CHECK. Each test gets a fresh
 * temporary directory and a stack of deferred cleanups, undone after it
 * whatever the outcome. Exit status: 0 all passed, 77 all skipped, 1 a
 * failure. Arguments select cases by name.
 */
#define T_PASS 0
#define T_FAIL 1
#define T_SKIP 77

struct t_case {
	const char *name;
	int (*fn)(void);
};
#define T_CASE(fn) { #fn, fn }

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: CHECK(%s) failed (last message: \"%s\")\n", \
			__FILE__, __LINE__, #cond, daxfs_errormsg()); \
		return T_FAIL; \
	} \
} while (0)

#define CHECK_EQ(a, b) do { \
	long long a_ = (long long)(a), b_ = (long long)(b); \
	if (a_ != b_) { \
		fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld (last message: \"%s\")\n", \
			__FILE__, __LINE__, #a, #b, a_, b_, daxfs_errormsg()); \
		return T_FAIL; \
	} \
} while (0)

#define CHECK_STR(a, b) do { \
	const char *a_ = (a), *b_ = (b); \
	if (!a_ || !b_ || strcmp(a_, b_)) { \
		fprintf(stderr, "%s:%d: %s == %s failed:\n  got      \"%s\"\n  expected \"%s\"\n", \
			__FILE__, __LINE__, #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
		return T_FAIL; \
	} \
} while (0)

/* The message of the last failure must be exactly s. */
#define CHECK_MSG(s) CHECK_STR(daxfs_errormsg(), (s))
/* ... or contain s. */
#define CHECK_MSG_HAS(s) do { \
	if (!strstr(daxfs_errormsg(), (s))) { \
		fprintf(stderr, "%s:%d: message \"%s\" lacks \"%s\"\n", __FILE__, __LINE__, \
			daxfs_errormsg(), (s)); \
		return T_FAIL; \
	} \
} while (0)

#define T_MAX_DEFER 64
static struct {
	void (*fn)(void *);
	void *arg;
} t_defers[T_MAX_DEFER];
static unsigned t_ndefer;
static char t_dir[64];

/* Runs fn(arg) after the test, most recent first. */
static inline void t_defer(void (*fn)(void *), void *arg)
{
	if (t_ndefer == T_MAX_DEFER) {
		fprintf(stderr, "harness: too many deferred cleanups\n");
		abort();
	}
	t_defers[t_ndefer].fn = fn;
	t_defers[t_ndefer++].arg = arg;
}

static inline const char *t_tmpdir(void)
{
	if (!t_dir[0]) {
		snprintf(t_dir, sizeof(t_dir), "/tmp/daxfs-dm-test-XXXXXX");
		if (!mkdtemp(t_dir)) {
			perror("harness: mkdtemp");
			abort();
		}
	}
	return t_dir;
}

/* A path inside the temporary directory; valid until the next call + 7. */
static inline const char *t_path(const char *name)
{
	static char paths[8][256];
	static unsigned next;
	char *p = paths[next++ % 8];

	snprintf(p, sizeof(paths[0]), "%s/%s", t_tmpdir(), name);
	return p;
}

/*
 * The pattern of a backing file: every 8-byte word holds the file's tag in
 * the top 16 bits and its own byte offset below, so any byte read back tells
 * which device and which offset it came from.
 */
static inline uint64_t t_word(unsigned tag, uint64_t off)
{
	return ((uint64_t)tag << 48) | (off & ~7ull);
}

static inline uint8_t t_byte(unsigned tag, uint64_t off)
{
	uint64_t w = t_word(tag, off);

	return (uint8_t)(w >> (8 * (off & 7)));
}

/* Creates a file of pages pages filled with the pattern of tag (tag 0: all
 * zeroes); returns its path, NULL on error. */
static inline const char *t_pmem(const char *name, uint64_t pages, unsigned tag)
{
	const char *path = t_path(name);
	uint64_t size = pages * DAX_PAGE_SIZE;
	uint64_t buf[512];
	int fd = open(path, O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0600);

	if (fd < 0 || ftruncate(fd, (off_t)size)) {
		perror(path);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	for (uint64_t off = 0; tag && off < size; off += sizeof(buf)) {
		for (unsigned i = 0; i < 512; i++)
			buf[i] = t_word(tag, off + 8 * i);
		if (pwrite(fd, buf, sizeof(buf), (off_t)off) != (ssize_t)sizeof(buf)) {
			perror(path);
			close(fd);
			return NULL;
		}
	}
	close(fd);
	return path;
}

static inline void t_md_destroy(void *arg)
{
	struct mapped_device *md = arg;

	dm_md_destroy(&md);
}

/* A mapped device destroyed after the test. */
static inline struct mapped_device *t_md(void)
{
	struct mapped_device *md = NULL;

	if (dm_md_create("test", &md)) {
		fprintf(stderr, "harness: dm_md_create: %s\n", daxfs_errormsg());
		abort();
	}
	t_defer(t_md_destroy, md);
	return md;
}

/* load + resume of text: dmsetup create/reload+resume. */
static inline int t_make_live(struct mapped_device *md, const char *text)
{
	struct dm_table *t;
	int r = dm_table_parse(md, text, "test", &t);

	if (r)
		return r;
	r = dm_md_load(md, t);
	if (r) {
		dm_table_put(&t);
		return r;
	}
	return dm_md_resume(md, DM_SUSPEND_NOLOCKFS);
}

/* Table text with printf formatting, in a static buffer. */
static inline const char *t_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline const char *t_fmt(const char *fmt, ...)
{
	static char bufs[4][8192];
	static unsigned next;
	char *b = bufs[next++ % 4];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(b, sizeof(bufs[0]), fmt, ap);
	va_end(ap);
	return b;
}

static inline int t_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static inline int t_main(int argc, char **argv, const struct t_case *cases, size_t n)
{
	unsigned failed = 0, skipped = 0, ran = 0;

	for (size_t i = 0; i < n; i++) {
		int r, sel = argc < 2;

		for (int a = 1; a < argc; a++)
			sel |= strcmp(argv[a], cases[i].name) == 0;
		if (!sel)
			continue;
		ran++;
		r = cases[i].fn();
		while (t_ndefer) {
			t_ndefer--;
			t_defers[t_ndefer].fn(t_defers[t_ndefer].arg);
		}
		if (t_dir[0]) {
			nftw(t_dir, t_rm, 16, FTW_DEPTH | FTW_PHYS);
			t_dir[0] = '\0';
		}
		printf("%s %s\n", r == T_PASS ? "ok  " : r == T_SKIP ? "skip" : "FAIL",
		       cases[i].name);
		failed += r != T_PASS && r != T_SKIP;
		skipped += r == T_SKIP;
	}
	printf("%u run, %u failed, %u skipped\n", ran, failed, skipped);
	if (failed)
		return 1;
	return ran && skipped == ran ? 77 : 0;
}
#define T_MAIN(cases) t_main(argc, argv, cases, sizeof(cases) / sizeof((cases)[0]))

#endif
