/* harness.h - the one case-table harness of the C unit tests; each layer adds its fixtures (fixture.h) */
#ifndef DAXFS_TEST_HARNESS_H
#define DAXFS_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daxfs/err.h"

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

/* Every failure report names the test and the library's last message. */
#define CHECK(cond) do { \
	if (!(cond)) { \
		t_report(__FILE__, __LINE__, "CHECK(%s) failed (last message: \"%s\")", #cond, \
			 t_msg()); \
		return T_FAIL; \
	} \
} while (0)

#define CHECK_EQ(a, b) do { \
	long long a_ = (long long)(a), b_ = (long long)(b); \
	if (a_ != b_) { \
		t_report(__FILE__, __LINE__, "%s == %s failed: %lld != %lld (last message: \"%s\")", \
			 #a, #b, a_, b_, t_msg()); \
		return T_FAIL; \
	} \
} while (0)

#define CHECK_STR(a, b) do { \
	const char *a_ = (a), *b_ = (b); \
	if (!a_ || !b_ || strcmp(a_, b_)) { \
		t_report(__FILE__, __LINE__, "%s == %s failed:\n  got      \"%s\"\n  expected \"%s\"", \
			 #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
		return T_FAIL; \
	} \
} while (0)

/* The message of the last failure (daxfs_errormsg) is exactly s. */
#define CHECK_MSG(s) CHECK_STR(t_msg(), (s))
/* ... or contains s (a path, a number). */
#define CHECK_MSG_HAS(s) do { \
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

/* printf into one of a few static buffers (valid for the next 7 calls). */
const char *t_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Runs this executable again as `exe --child <args...>` with the given
 * environment changes ("NAME=value" sets, "NAME" unsets); returns its exit
 * status, 128 + the signal that killed it, or -1 if it could not be run. */
int t_reexec(const char *const *env, const char *const *args);

int t_main(int argc, char **argv, const struct t_case *cases, size_t n);
/* A test file ends in T_MAIN(cases), its main; one with a main of its own
 * (a child mode first) returns T_RUN(cases) from it. */
#define T_RUN(cases) t_main(argc, argv, cases, sizeof(cases) / sizeof((cases)[0]))
#define T_MAIN(cases) \
	int main(int argc, char **argv) \
	{ \
		return T_RUN(cases); \
	}

#endif
