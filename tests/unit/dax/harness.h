/* harness.h - a small case-table harness for the dax unit tests */
#ifndef DAXFS_TEST_HARNESS_H
#define DAXFS_TEST_HARNESS_H

#include <stddef.h>
#include <stdint.h>

/*
 * A test is `static int test_<subject>_<expectation>(void)` returning T_PASS,
 * T_SKIP or (through a failed CHECK) T_FAIL. Each runs with a fresh temporary
 * directory and a stack of deferred cleanups, both undone after the test
 * whatever its outcome. The process exits 0 if nothing failed, 77 if every
 * case skipped, 1 otherwise. Arguments select cases by name.
 */
#define T_PASS 0
#define T_FAIL 1
#define T_SKIP 77

struct t_case {
	const char *name;
	int (*fn)(void);
};
#define T_CASE(fn) { #fn, fn }

void t_report(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define CHECK(cond) do { \
	if (!(cond)) { \
		t_report(__FILE__, __LINE__, "CHECK(%s) failed", #cond); \
		return T_FAIL; \
	} \
} while (0)

#define CHECK_EQ(a, b) do { \
	long long a_ = (long long)(a), b_ = (long long)(b); \
	if (a_ != b_) { \
		t_report(__FILE__, __LINE__, "%s == %s failed: %lld != %lld", #a, #b, a_, b_); \
		return T_FAIL; \
	} \
} while (0)

/* The message of the last failure must mention s (e.g. the path). */
#define CHECK_MSG(s) do { \
	if (!t_msg_has(s)) { \
		t_report(__FILE__, __LINE__, "message \"%s\" lacks \"%s\"", t_msg(), (s)); \
		return T_FAIL; \
	} \
} while (0)

#define SKIP(...) do { \
	t_report(__FILE__, __LINE__, __VA_ARGS__); \
	return T_SKIP; \
} while (0)

const char *t_msg(void);
int t_msg_has(const char *s);

/* The test's temporary directory (created on first use). */
const char *t_tmpdir(void);
/* A path inside it; freed after the test. */
const char *t_path(const char *name);
/* Creates a file of size bytes in the temporary directory, filled with
 * fill_byte (or sparse zeroes when fill is 0); returns its path. NULL on error. */
const char *t_file(const char *name, uint64_t size, int fill);

/* Whether path lives on tmpfs or ramfs, where a device is in MEMORY mode. */
int t_on_memory_fs(const char *path);
/* As t_file (sparse, no fill), but on a filesystem that is not memory
 * (TMPDIR, /var/tmp or /tmp, the first that is not tmpfs), removed after
 * the test; NULL when there is none (the caller skips). */
const char *t_disk_file(const char *name, uint64_t size);

/* Runs fn(arg) after the test, most recent first. */
void t_defer(void (*fn)(void *), void *arg);

/* Runs this executable again as `exe --child <args...>` with the given
 * environment changes ("NAME=value" sets, "NAME" unsets); returns its exit
 * status, 128 + the signal that killed it, or -1 if it could not be run. */
int t_reexec(const char *const *env, const char *const *args);

int t_main(int argc, char **argv, const struct t_case *cases, size_t n);
#define T_MAIN(cases) t_main(argc, argv, cases, sizeof(cases) / sizeof((cases)[0]))

#endif
