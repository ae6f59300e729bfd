/* fuse/trace.c - the direct_access trace of file I/O, to the daemon's log or a file of its own */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuse/ctl.h"
#include "fuse/extmap.h"

struct dfuse_trace {
	atomic_bool on;
	/* fd is swapped by the trace command while requests write to it; each
	 * line is written under the lock. -1: the daemon's log (fuse_log). */
	pthread_mutex_t lock;
	int fd;
};

int dfuse_open_log(const char *path, mode_t mode)
{
	struct stat st;
	int fd, err;

	/* O_NONBLOCK: a FIFO without a reader must not hang the daemon (its
	 * open fails with ENXIO then: say what is wrong instead) */
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode))
		return -EINVAL;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, mode);
	if (fd < 0)
		return -errno;
	err = fstat(fd, &st) != 0 ? -errno : !S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode) ? -EINVAL : 0;
	if (!err && fcntl(fd, F_SETFL, O_APPEND) != 0)
		err = -errno;
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

const char *dfuse_open_log_error(int err)
{
	return err == -EINVAL ? "not a regular file or a character device" : strerror(-err);
}

int dfuse_trace_start(struct dfuse *df)
{
	struct dfuse_trace *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	atomic_init(&t->on, false);
	pthread_mutex_init(&t->lock, NULL);
	t->fd = -1;
	df->trace = t;
	return 0;
}

void dfuse_trace_stop(struct dfuse *df)
{
	struct dfuse_trace *t = df->trace;

	if (!t)
		return;
	if (t->fd >= 0)
		close(t->fd);
	pthread_mutex_destroy(&t->lock);
	free(t);
	df->trace = NULL;
}

/* Replaces the trace's file with fd (-1: none). */
static void set_file(struct dfuse_trace *t, int fd)
{
	int old;

	pthread_mutex_lock(&t->lock);
	old = t->fd;
	t->fd = fd;
	pthread_mutex_unlock(&t->lock);
	if (old >= 0)
		close(old);
}

/* op ON with text = an absolute path: the trace goes to that file
 * (appended, created 0644 if missing); ON without: to the daemon's log,
 * refused when that log is lost (syslog without a listener); OFF. */
void dfuse_ctl_trace(struct dfuse *df, struct daxfs_ioc_ctl *c)
{
	struct dfuse_trace *t = df->trace;
	char msg[DAXFS_IOC_TEXT_MAX];
	int fd = -1;

	if (c->op != DAXFS_IOC_OP_ON && c->op != DAXFS_IOC_OP_OFF) {
		c->error = -EINVAL;
		dfuse_ctl_set_text(c, "trace: expected on or off");
		return;
	}
	if (c->op == DAXFS_IOC_OP_OFF) {
		atomic_store(&t->on, false);
		set_file(t, -1);
		dfuse_ctl_set_text(c, "");
		return;
	}
	if (c->text_len) {
		if (c->text_len >= sizeof(c->text) || strlen(c->text) != c->text_len ||
		    c->text[0] != '/') {
			c->error = -EINVAL;
			dfuse_ctl_set_text(c, "trace: the file must be an absolute path");
			return;
		}
		fd = dfuse_open_log(c->text, 0644);
		if (fd < 0) {
			c->error = fd;
			snprintf(msg, sizeof(msg), "trace: %s: %s", c->text, dfuse_open_log_error(fd));
			dfuse_ctl_set_text(c, msg);
			return;
		}
	} else if (df->log_lost) {
		c->error = -EPIPE;
		dfuse_ctl_set_text(c, "trace: the daemon logs to syslog and this machine has none "
				 "(no /dev/log): the trace would be lost; give it a file with "
				 "--file PATH, or mount with -o logfile=PATH");
		return;
	}
	set_file(t, fd);
	atomic_store(&t->on, true);
	dfuse_ctl_set_text(c, "");
}

__attribute__((format(printf, 2, 3)))
static void trace_line(struct dfuse_trace *t, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	pthread_mutex_lock(&t->lock);
	if (t->fd >= 0) {
		/* one write per line: lines of concurrent requests never mix */
		if (write(t->fd, line, (size_t)n) != n)
			fuse_log(FUSE_LOG_ERR, "daxfs-fuse: writing the trace: %s\n",
				 strerror(errno));
	} else {
		fuse_log(FUSE_LOG_INFO, "%s", line);
	}
	pthread_mutex_unlock(&t->lock);
}

struct trace_walk {
	struct dfuse_trace *t;
	const char *op;
	uint64_t ino;
};

static int trace_extent(void *arg, const struct dfs_iomap *m)
{
	struct trace_walk *w = arg;

	if (m->type != DFS_IOMAP_MAPPED)
		trace_line(w->t, "daxfs-fuse: trace %s ino %" PRIu64 " off %" PRIu64 " len %" PRIu64
			   ": %s\n", w->op, w->ino, m->offset, m->length,
			   m->type == DFS_IOMAP_HOLE ? "hole" : "unwritten");
	return 0;
}

/* One line a piece; the first that fails ends the trace of the request. */
static int trace_piece(void *arg, uint64_t foff, uint64_t len, uint64_t md,
		       const struct dm_resolution *r)
{
	struct trace_walk *w = arg;

	if (r->error) {
		trace_line(w->t, "daxfs-fuse: trace %s ino %" PRIu64 " off %" PRIu64
			   " -> md byte %" PRIu64 " pgoff %" PRIu64 " -> target %d (%s): %s\n",
			   w->op, w->ino, foff, md, r->pgoff, r->target_index,
			   r->target_type ? r->target_type : "none", strerror(-r->error));
		return 1;
	}
	trace_line(w->t, "daxfs-fuse: trace %s ino %" PRIu64 " off %" PRIu64 " -> md byte %" PRIu64
		   " pgoff %" PRIu64 " -> target %d (%s %" PRIu64 "+%" PRIu64 ") stripe %d -> %s"
		   " sector %" PRIu64 " pgoff %" PRIu64 " -> %" PRIu64 " pages\n", w->op, w->ino,
		   foff, md, r->pgoff, r->target_index, r->target_type ? r->target_type : "none",
		   r->target_begin, r->target_len, r->stripe,
		   r->device_path[0] ? r->device_path : "-", r->device_sector, r->device_pgoff,
		   (md % 4096 + len + 4095) / 4096);
	return 0;
}

/* The trace: each step of the chain for every piece of the request. */
void dfuse_trace(struct dfuse *df, const char *op, uint64_t ino, off_t off, size_t size)
{
	static const struct dfuse_extmap_ops ops = { .extent = trace_extent,
						     .piece = trace_piece };
	struct dfuse_trace *t = df->trace;
	struct trace_walk w = { .t = t, .op = op, .ino = ino };
	int err;

	if (!t || !atomic_load(&t->on) || off < 0)
		return;
	err = dfuse_extmap_walk(df, ino, (uint64_t)off, size, &ops, &w);
	if (err < 0)
		trace_line(t, "daxfs-fuse: trace %s ino %" PRIu64 " off %" PRIu64 ": iomap: %s\n",
			   op, ino, (uint64_t)off, strerror(-err));
}
