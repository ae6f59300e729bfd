/* dax/recorder.c - the persistence recorder behind DAXFS_PERSIST_TRACE (docs/CRASH.md) */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dax/recorder.h"
#include "dax/seam.h"
#include "util/err.h"

#define TRACE_HEADER "# daxfs-persist-trace 1\n"

_Atomic int dax_rec_state = DAX_REC_UNKNOWN;

static pthread_once_t rec_once = PTHREAD_ONCE_INIT;
/* Serialises the records, so that the file order is the call order. */
static pthread_mutex_t rec_lock = PTHREAD_MUTEX_INITIALIZER;
static int rec_fd = -1;                /* protected by rec_lock once ON */
static char rec_path[512];             /* for messages; set once */
static int rec_errno;                  /* why the state is BROKEN */

/* The fault build's ordering bug (dax/seam.h): the last flush before each
 * drain is recorded after that drain, as if issued after the fence. */
static char *late_line;                /* protected by rec_lock */
static size_t late_len;

static void rec_open(void)
{
	const char *path = dax_seam_trace_path();
	int fd;

	if (!path) {
		atomic_store_explicit(&dax_rec_state, DAX_REC_OFF, memory_order_release);
		return;
	}
	snprintf(rec_path, sizeof(rec_path), "%s", path);
	/* whoever creates the file writes the header; a workload may have
	 * created it (and written markers) before the first persist call */
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd >= 0) {
		if (write(fd, TRACE_HEADER, strlen(TRACE_HEADER)) != (ssize_t)strlen(TRACE_HEADER)) {
			rec_errno = errno ? errno : EIO;
			close(fd);
			fd = -1;
		}
	} else if (errno == EEXIST) {
		fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (fd < 0)
			rec_errno = errno;
	} else {
		rec_errno = errno;
	}
	rec_fd = fd;
	atomic_store_explicit(&dax_rec_state, fd >= 0 ? DAX_REC_ON : DAX_REC_BROKEN,
			      memory_order_release);
}

int dax_rec_init(void)
{
	pthread_once(&rec_once, rec_open);
	return atomic_load_explicit(&dax_rec_state, memory_order_acquire);
}

static int broken(void)
{
	return daxfs_err(-EIO, "persistence trace %s (DAXFS_PERSIST_TRACE): %s", rec_path,
			 strerror(rec_errno ? rec_errno : EIO));
}

/* Percent-escapes everything that would break the space-separated line. */
static size_t put_escaped(char *out, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= ' ' || c >= 0x7f || c == '%') {
			out[n++] = '%';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		} else {
			out[n++] = (char)c;
		}
	}
	return n;
}

static size_t put_hex(char *out, const unsigned char *p, size_t len)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hex[p[i] >> 4];
		out[2 * i + 1] = hex[p[i] & 15];
	}
	return 2 * len;
}

static int write_all(const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(rec_fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rec_errno = n < 0 ? errno : EIO;
			atomic_store_explicit(&dax_rec_state, DAX_REC_BROKEN, memory_order_release);
			return broken();
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The common head of every record: "<kind> <pid> <tid>". */
static size_t put_head(char *out, char kind)
{
	return (size_t)sprintf(out, "%c %ld %ld", kind, (long)getpid(), (long)gettid());
}

static size_t put_dev(char *out, const struct dax_device *dev)
{
	size_t n = (size_t)sprintf(out, " %s ", dax_persist_mode_name(dev->persist));

	return n + put_escaped(out + n, dev->path);
}

/* Room for the fixed fields of a record, beyond the escaped strings and data. */
#define REC_FIXED 160

/* The bytes a flush writes back: what the mapping holds now, or for a block
 * device what pwrite handed the kernel. */
static int capture(struct dax_device *dev, uint64_t pos, uint64_t len, unsigned char *out)
{
	size_t done = 0;

	if (dev->addr)
		return dax_mc(dev, DAX_MC_LOAD, pos, out, len, NULL);
	while (done < len) {
		ssize_t n = pread(dev->fd, out + done, len - done, (off_t)(pos + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return daxfs_err(-EIO, "persistence trace: %s: cannot read back %llu bytes at %llu",
					 dev->path, (unsigned long long)len, (unsigned long long)pos);
		done += (size_t)n;
	}
	return 0;
}

int dax_rec_flush(struct dax_device *dev, uint64_t pos, uint64_t len)
{
	size_t plen = strlen(dev->path), n;
	unsigned char *data;
	char *line;
	int ret;

	if (atomic_load_explicit(&dax_rec_state, memory_order_acquire) != DAX_REC_ON)
		return broken();
	if (len > SIZE_MAX / 4 - REC_FIXED - 3 * plen)
		return daxfs_err(-EIO, "persistence trace: flush of %llu bytes is too large to record",
				 (unsigned long long)len);
	data = malloc(len ? len : 1);
	line = malloc(REC_FIXED + 3 * plen + 2 * len);
	if (!data || !line) {
		free(data);
		free(line);
		return daxfs_err(-EIO, "persistence trace: out of memory for a %llu-byte flush",
				 (unsigned long long)len);
	}
	pthread_mutex_lock(&rec_lock);
	/* captured under the lock so that two flushes of one range are
	 * recorded in the order their contents were taken */
	ret = capture(dev, pos, len, data);
	if (ret == 0) {
		n = put_head(line, 'F');
		n += put_dev(line + n, dev);
		n += (size_t)sprintf(line + n, " %llu %llu %llu ", (unsigned long long)dev->size,
				     (unsigned long long)pos, (unsigned long long)len);
		n += put_hex(line + n, data, len);
		line[n++] = '\n';
		if (dax_persist_fault == DAX_FAULT_LATE_FLUSH) {
			if (late_line)
				ret = write_all(late_line, late_len);
			free(late_line);
			late_line = line;
			late_len = n;
			line = NULL;
		} else {
			ret = write_all(line, n);
		}
	}
	pthread_mutex_unlock(&rec_lock);
	free(data);
	free(line);
	return ret;
}

int dax_rec_drain(struct dax_device *dev)
{
	char *line = malloc(REC_FIXED + 3 * strlen(dev->path));
	size_t n;
	int ret;

	if (atomic_load_explicit(&dax_rec_state, memory_order_acquire) != DAX_REC_ON) {
		free(line);
		return broken();
	}
	if (!line)
		return daxfs_err(-EIO, "persistence trace: out of memory");
	n = put_head(line, 'S');
	n += put_dev(line + n, dev);
	line[n++] = '\n';
	pthread_mutex_lock(&rec_lock);
	ret = write_all(line, n);
	if (ret == 0 && late_line)
		ret = write_all(late_line, late_len);
	free(late_line);
	late_line = NULL;
	pthread_mutex_unlock(&rec_lock);
	free(line);
	return ret;
}

bool dax_persist_tracing(void)
{
	return dax_rec_active();
}

int dax_persist_mark(const char *label)
{
	char *line;
	size_t n;
	int ret;

	if (!dax_rec_active())
		return 0;
	if (atomic_load_explicit(&dax_rec_state, memory_order_acquire) != DAX_REC_ON)
		return broken();
	if (!label)
		label = "";
	line = malloc(REC_FIXED + 3 * strlen(label));
	if (!line)
		return daxfs_err(-EIO, "persistence trace: out of memory");
	n = put_head(line, 'M');
	line[n++] = ' ';
	n += put_escaped(line + n, label);
	line[n++] = '\n';
	pthread_mutex_lock(&rec_lock);
	ret = write_all(line, n);
	pthread_mutex_unlock(&rec_lock);
	free(line);
	return ret;
}
