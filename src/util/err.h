/* util/err.h - setting the thread-local error message (internal) */
#ifndef DAXFS_UTIL_ERR_H
#define DAXFS_UTIL_ERR_H

#include "daxfs/err.h"

/* Formats the thread's error message and returns err (a negative errno), so
 * that a failure is one line: return daxfs_err(-EINVAL, "bad %s", what); */
int daxfs_err(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefixes the current message: "<prefix>: <old message>"; returns err. */
int daxfs_err_prefix(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void daxfs_err_clear(void);

#endif
