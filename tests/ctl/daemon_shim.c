/* daemon_shim.c - an LD_PRELOAD stand-in for a daemon's control channel, for daxfs-ctl's side of it */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "daxfs/ioctl.h"

/*
 * daxfs-ctl's device-control ioctls on any directory are answered here, as a
 * daemon of another version or a hostile one would answer them:
 *   DAXFS_SHIM_VERSION  the version spoken (another gets EPROTO; 0: none)
 *   DAXFS_SHIM_ANSWER   a file whose bytes are the answer of every request
 *                       that is not a next piece (absent: no result)
 *   DAXFS_SHIM_PIECE    bytes per piece (default: as many as fit)
 *   DAXFS_SHIM_LEN      the answer's length to claim instead of the file's
 *   DAXFS_SHIM_START    the start to claim for every piece after the first
 *   DAXFS_SHIM_STALE    how many next pieces are answered -ESTALE, as when
 *                       another command's answer took this one's place
 * Every other ioctl goes to the C library's.
 */
static unsigned long env(const char *name, unsigned long dflt)
{
	const char *v = getenv(name);

	return v ? strtoul(v, NULL, 0) : dflt;
}

static void answer(struct daxfs_ioc_ctl *c)
{
	const char *path = getenv("DAXFS_SHIM_ANSWER");
	static char buf[1 << 20];
	size_t len = 0, piece = env("DAXFS_SHIM_PIECE", sizeof(c->text));
	uint64_t start = (c->flags & DAXFS_IOC_F_MORE) ? c->start : 0;
	FILE *f;

	c->error = 0;
	c->text_len = 0;
	c->len = 0;
	c->answer = 0;
	c->text[0] = '\0';
	static unsigned long stale;

	if ((c->flags & DAXFS_IOC_F_MORE) && stale++ < env("DAXFS_SHIM_STALE", 0)) {
		c->error = -ESTALE;
		c->text_len = (uint32_t)snprintf(c->text, sizeof(c->text), "answer 7 is no longer "
						 "held: ask again");
		return;
	}
	if (!path || !(f = fopen(path, "rb")))
		return;
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (start > len)
		start = len;
	if (piece > len - start)
		piece = len - start;
	memcpy(c->text, buf + start, piece);
	c->text_len = (uint32_t)piece;
	c->len = env("DAXFS_SHIM_LEN", len);
	c->start = start ? env("DAXFS_SHIM_START", start) : 0;
	c->answer = 7;
}

int ioctl(int fd, unsigned long request, ...)
{
	static int (*real)(int, unsigned long, ...);
	va_list ap;
	void *arg;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (_IOC_TYPE(request) == DAXFS_IOC_MAGIC && _IOC_NR(request) < 0x40 &&
	    _IOC_SIZE(request) == sizeof(struct daxfs_ioc_ctl)) {
		struct daxfs_ioc_ctl *c = arg;

		if (c->version != env("DAXFS_SHIM_VERSION", DAXFS_IOC_CTL_VERSION)) {
			errno = EPROTO;
			return -1;
		}
		answer(c);
		return 0;
	}
	if (!real) {
		/* dlsym's void * as a function pointer, which POSIX guarantees works */
		void *sym = dlsym(RTLD_NEXT, "ioctl");

		memcpy(&real, &sym, sizeof(real));
	}
	return real(fd, request, arg);
}
