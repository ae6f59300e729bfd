/* util/err.c - thread-local error messages */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/err.h"

#define ERRMSG_MAX 512

static _Thread_local char errmsg[ERRMSG_MAX];

const char *daxfs_errormsg(void)
{
	return errmsg;
}

int daxfs_err(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
	va_end(ap);
	return err;
}

int daxfs_err_prefix(int err, const char *fmt, ...)
{
	char old[ERRMSG_MAX];
	size_t n;
	va_list ap;

	memcpy(old, errmsg, sizeof(old));
	va_start(ap, fmt);
	vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
	va_end(ap);
	n = strlen(errmsg);
	if (old[0] && n < sizeof(errmsg))
		snprintf(errmsg + n, sizeof(errmsg) - n, ": %s", old);
	return err;
}

void daxfs_err_clear(void)
{
	errmsg[0] = '\0';
}
