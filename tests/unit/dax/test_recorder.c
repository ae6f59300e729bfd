/* test_recorder.c - the persistence trace: records, order, escaping, failure, threads */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daxfs/err.h"
#include "fixture.h"

/*
 * The recorder reads DAXFS_PERSIST_TRACE once per process, so every case runs
 * its persist calls in a child started with the variable set, and the parent
 * reads the trace the child left.
 */

#define NTHREADS 4
#define PER_THREAD 100

/* ---- children: exit 0 when every call succeeded, 10 + errno otherwise ---- */

static struct dax_device *child_open(const char *path)
{
	struct dax_device *dev = NULL;

	return dax_device_open(path, 0, &dev) < 0 ? NULL : dev;
}

/* Stores "hello" at byte PG+10, flushes it, drains, marks. */
static int child_basic(const char *path)
{
	struct dax_device *dev = child_open(path);
	char *k;
	int ret;

	if (!dev)
		return 2;
	if (dax_direct_access(dev, 0, 2, DAX_ACCESS, (void **)&k, NULL) != 2)
		return 3;
	memcpy(k + PG + 10, "hello", 5);
	ret = dax_device_flush(dev, PG + 10, 5);
	if (ret == 0)
		ret = dax_device_drain(dev);
	if (ret == 0)
		ret = dax_persist_mark("op 1 end");
	dax_device_put(&dev);
	return ret < 0 ? 10 + (-ret & 0x7f) : 0;
}

/* Stores after the flush: the trace holds the bytes at flush time. */
static int child_store_after_flush(const char *path)
{
	struct dax_device *dev = child_open(path);
	char *k;
	int ret;

	if (!dev || dax_direct_access(dev, 0, 1, DAX_ACCESS, (void **)&k, NULL) != 1)
		return 2;
	memcpy(k, "old", 3);
	ret = dax_device_flush(dev, 0, 3);
	memcpy(k, "new", 3);
	dax_device_put(&dev);
	return ret < 0 ? 10 + (-ret & 0x7f) : 0;
}

/* Exits with the errno of a flush (0 on success) and checks the message. */
static int child_flush_errno(const char *path)
{
	struct dax_device *dev = child_open(path);
	int ret;

	if (!dev)
		return 2;
	ret = dax_device_flush(dev, 0, 1);
	if (ret < 0 && !strstr(daxfs_errormsg(), "DAXFS_PERSIST_TRACE"))
		return 3;
	if (ret < 0 && dax_persist_mark("x") != ret)
		return 4;
	dax_device_put(&dev);
	return ret < 0 ? 10 + (-ret & 0x7f) : 0;
}

static int child_mark(const char *label)
{
	int ret = dax_persist_mark(label);

	if (dax_persist_tracing() != (getenv("DAXFS_PERSIST_TRACE") != NULL))
		return 3;
	return ret < 0 ? 10 + (-ret & 0x7f) : 0;
}

struct thread_arg {
	struct dax_device *dev;
	unsigned idx;
	int ret;
};

static void *flusher(void *p)
{
	struct thread_arg *a = p;

	for (unsigned i = 0; i < PER_THREAD && a->ret == 0; i++) {
		a->ret = dax_device_flush(a->dev, (uint64_t)a->idx * PG, PG);
		if (a->ret == 0 && i % 10 == 9)
			a->ret = dax_device_drain(a->dev);
	}
	return NULL;
}

static int child_threads(const char *path)
{
	struct dax_device *dev = child_open(path);
	struct thread_arg args[NTHREADS];
	pthread_t th[NTHREADS];
	char *k;

	if (!dev || dax_direct_access(dev, 0, NTHREADS, DAX_ACCESS, (void **)&k, NULL) != NTHREADS)
		return 2;
	for (unsigned i = 0; i < NTHREADS; i++) {
		memset(k + i * PG, 'a' + (int)i, PG);
		args[i] = (struct thread_arg){ .dev = dev, .idx = i };
		if (pthread_create(&th[i], NULL, flusher, &args[i]))
			return 4;
	}
	for (unsigned i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	for (unsigned i = 0; i < NTHREADS; i++)
		if (args[i].ret < 0)
			return 10 + (-args[i].ret & 0x7f);
	dax_device_put(&dev);
	return 0;
}

static void *flush_page_one(void *p)
{
	struct thread_arg *a = p;

	a->ret = dax_device_flush(a->dev, PG, 8);
	return NULL;
}

/* Flushes in another thread, drains in this one, and flushes+drains here. */
static int child_cross_thread(const char *path)
{
	struct dax_device *dev = child_open(path);
	struct thread_arg a;
	pthread_t th;
	char *k;
	int ret;

	if (!dev || dax_direct_access(dev, 0, 2, DAX_ACCESS, (void **)&k, NULL) != 2)
		return 2;
	memcpy(k + PG, "thread-a", 8);
	a = (struct thread_arg){ .dev = dev };
	if (pthread_create(&th, NULL, flush_page_one, &a))
		return 4;
	pthread_join(th, NULL);
	if (a.ret < 0)
		return 10 + (-a.ret & 0x7f);
	ret = dax_device_drain(dev);
	memcpy(k, "mine", 4);
	if (ret == 0)
		ret = dax_device_persist(dev, 0, 4);
	dax_device_put(&dev);
	return ret < 0 ? 10 + (-ret & 0x7f) : 0;
}

/* More separate flushes than the table of unfenced ranges holds, no drain. */
static int child_many_flushes(const char *path)
{
	struct dax_device *dev = child_open(path);
	int ret = 0;

	if (!dev)
		return 2;
	for (unsigned i = 0; i < 300 && ret == 0; i++)
		ret = dax_device_flush(dev, (uint64_t)i * 128 % (16 * PG), 64);
	dax_device_put(&dev);
	return ret < 0 ? 10 + (-ret & 0x7f) : 0;
}

/* ---- the parent side ------------------------------------------------------ */

static char env_buf[600];

static const char *trace_env(const char *trace)
{
	snprintf(env_buf, sizeof(env_buf), "DAXFS_PERSIST_TRACE=%s", trace);
	return env_buf;
}

/* The whole trace as one NUL-terminated string (freed after the test). */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;

	if (!f)
		return NULL;
	if (getdelim(&buf, &len, '\0', f) < 0) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf)
		t_defer(free, buf);
	return buf;
}

/* Line i (0-based) of text, copied into out. */
static int line_at(const char *text, unsigned i, char *out, size_t size)
{
	const char *end;

	while (i-- && text)
		text = (text = strchr(text, '\n')) ? text + 1 : NULL;
	if (!text || !*text)
		return -1;
	end = strchr(text, '\n');
	if (!end || (size_t)(end - text) >= size)
		return -1;
	memcpy(out, text, (size_t)(end - text));
	out[end - text] = '\0';
	return 0;
}

static unsigned count_lines(const char *text, char kind)
{
	unsigned n = 0;

	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		n += l[0] == kind && l[1] == ' ';
	return n;
}

static int test_recorder_writes_header_flush_drain_and_mark_in_order(void)
{
	const char *dev = t_file("pmem", 2 * PG, 0), *trace = t_path("trace");
	const char *env[] = { trace_env(trace), "PMEM_IS_PMEM_FORCE=1", NULL };
	const char *args[] = { "basic", dev, NULL };
	char line[512], want[512], *text;
	long pid, tid;

	CHECK(dev);
	CHECK_EQ(t_reexec(env, args), 0);
	CHECK((text = slurp(trace)));
	CHECK(line_at(text, 0, line, sizeof(line)) == 0);
	CHECK(strcmp(line, "# daxfs-persist-trace 1") == 0);
	CHECK(line_at(text, 1, line, sizeof(line)) == 0);
	CHECK(sscanf(line, "F %ld %ld ", &pid, &tid) == 2);
	snprintf(want, sizeof(want), "F %ld %ld pmem %s %u %u 5 68656c6c6f", pid, tid, dev, 2 * PG,
		 PG + 10);
	CHECK(strcmp(line, want) == 0);
	CHECK(line_at(text, 2, line, sizeof(line)) == 0);
	snprintf(want, sizeof(want), "S %ld %ld pmem %s", pid, tid, dev);
	CHECK(strcmp(line, want) == 0);
	CHECK(line_at(text, 3, line, sizeof(line)) == 0);
	snprintf(want, sizeof(want), "M %ld %ld op%%201%%20end", pid, tid);
	CHECK(strcmp(line, want) == 0);
	CHECK(line_at(text, 4, line, sizeof(line)) < 0);
	return T_PASS;
}

static int test_recorder_flush_records_bytes_at_flush_time(void)
{
	const char *dev = t_file("pmem", PG, 0), *trace = t_path("trace");
	const char *env[] = { trace_env(trace), NULL };
	const char *args[] = { "store-after-flush", dev, NULL };
	char *text;

	CHECK(dev);
	CHECK_EQ(t_reexec(env, args), 0);
	CHECK((text = slurp(trace)));
	CHECK(strstr(text, " 0 3 6f6c64\n"));     /* "old" */
	CHECK(!strstr(text, "6e6577"));           /* "new" was never flushed */
	return T_PASS;
}

static int test_recorder_names_msync_mode_without_pmem(void)
{
	const char *dev = t_disk_file("pmem", PG), *trace = t_path("trace");
	const char *env[] = { trace_env(trace), "PMEM_IS_PMEM_FORCE", NULL };
	const char *args[] = { "store-after-flush", dev, NULL };
	char *text;

	if (!dev)
		SKIP("no writable directory outside tmpfs");
	CHECK_EQ(t_reexec(env, args), 0);
	CHECK((text = slurp(trace)));
	CHECK(strstr(text, " msync "));
	return T_PASS;
}

/* Memory mode issues nothing, but its flushes are recorded all the same. */
static int test_recorder_records_flushes_in_memory_mode(void)
{
	const char *dev = t_file("pmem", PG, 0), *trace = t_path("trace");
	const char *env[] = { trace_env(trace), "PMEM_IS_PMEM_FORCE", NULL };
	const char *args[] = { "store-after-flush", dev, NULL };
	char *text;

	CHECK(dev);
	if (!t_on_memory_fs(dev))
		SKIP("the test directory %s is not on tmpfs", t_tmpdir());
	CHECK_EQ(t_reexec(env, args), 0);
	CHECK((text = slurp(trace)));
	CHECK(strstr(text, " memory "));
	CHECK(strstr(text, " 0 3 6f6c64\n"));     /* "old", at flush time */
	return T_PASS;
}

static int test_recorder_off_without_variable_creates_nothing(void)
{
	const char *dev = t_file("pmem", PG, 0), *trace = t_path("trace");
	const char *env[] = { "DAXFS_PERSIST_TRACE", NULL };
	const char *args[] = { "flush-errno", dev, NULL };
	const char *margs[] = { "mark", "ignored", NULL };

	CHECK(dev);
	CHECK_EQ(t_reexec(env, args), 0);
	CHECK_EQ(t_reexec(env, margs), 0);
	CHECK(access(trace, F_OK) < 0);
	return T_PASS;
}

static int test_recorder_unwritable_trace_fails_flush_with_eio(void)
{
	const char *dev = t_file("pmem", PG, 0), *trace = t_path("no-such-dir/trace");
	const char *env[] = { trace_env(trace), NULL };
	const char *args[] = { "flush-errno", dev, NULL };

	CHECK(dev);
	CHECK_EQ(t_reexec(env, args), 10 + EIO);
	return T_PASS;
}

static int test_recorder_appends_to_existing_trace_without_second_header(void)
{
	const char *trace = t_path("trace");
	const char *env[] = { trace_env(trace), NULL };
	const char *args[] = { "mark", "second", NULL };
	const char *first = "# daxfs-persist-trace 1\nM 1 1 first\n";
	char line[256], *text;
	int fd = open(trace, O_WRONLY | O_CREAT | O_EXCL, 0644);

	CHECK(fd >= 0);
	CHECK_EQ(write(fd, first, strlen(first)), (long long)strlen(first));
	close(fd);
	CHECK_EQ(t_reexec(env, args), 0);
	CHECK((text = slurp(trace)));
	CHECK(strncmp(text, first, strlen(first)) == 0);
	CHECK(line_at(text, 2, line, sizeof(line)) == 0);
	CHECK(line[0] == 'M' && strcmp(strrchr(line, ' '), " second") == 0);
	CHECK(line_at(text, 3, line, sizeof(line)) < 0);
	return T_PASS;
}

static int test_recorder_escapes_mark_labels(void)
{
	const char *trace = t_path("trace");
	const char *env[] = { trace_env(trace), NULL };
	const char *args[] = { "mark", "a b%\tc\n\xff", NULL };
	char *text;

	CHECK_EQ(t_reexec(env, args), 0);
	CHECK((text = slurp(trace)));
	CHECK(strstr(text, " a%20b%25%09c%0a%ff\n"));
	return T_PASS;
}

static int test_recorder_keeps_concurrent_records_whole(void)
{
	const char *dev = t_file("pmem", NTHREADS * PG, 0), *trace = t_path("trace");
	const char *env[] = { trace_env(trace), "PMEM_IS_PMEM_FORCE=1", NULL };
	const char *args[] = { "threads", dev, NULL };
	char *text, *l;
	unsigned flushes = 0;

	CHECK(dev);
	CHECK_EQ(t_reexec(env, args), 0);
	CHECK((text = slurp(trace)));
	CHECK_EQ(count_lines(text, 'S'), NTHREADS * PER_THREAD / 10);
	/* every flush line is whole: one page of a single thread's letter */
	for (l = text; (l = strchr(l, '\n')); ) {
		char *end, *hex;

		l++;
		if (l[0] != 'F')
			continue;
		end = strchr(l, '\n');
		CHECK(end);
		for (hex = end; hex > l && hex[-1] != ' '; hex--)
			;
		CHECK_EQ(end - hex, 2 * PG);
		CHECK(hex[0] == '6' && hex[1] >= '1' && hex[1] < '1' + NTHREADS);
		for (char *p = hex + 2; p < end; p++)
			CHECK(*p == hex[(p - hex) % 2]);
		flushes++;
	}
	/* plus the pages a drain flushed again for the other threads */
	CHECK(flushes >= NTHREADS * PER_THREAD);
	return T_PASS;
}

static int test_drain_flushes_other_threads_ranges_again_first(void)
{
	const char *dev = t_file("pmem", 2 * PG, 0), *trace = t_path("trace");
	const char *env[] = { trace_env(trace), "PMEM_IS_PMEM_FORCE=1", NULL };
	const char *args[] = { "cross-thread", dev, NULL };
	char line[512], want[512], *text;
	long pid, tid_a, tid;

	CHECK(dev);
	CHECK_EQ(t_reexec(env, args), 0);
	CHECK((text = slurp(trace)));
	/* thread A's flush, the main thread's flush of the same bytes, its drain */
	CHECK(line_at(text, 1, line, sizeof(line)) == 0);
	CHECK(sscanf(line, "F %ld %ld ", &pid, &tid_a) == 2);
	CHECK(line_at(text, 2, line, sizeof(line)) == 0);
	CHECK(sscanf(line, "F %ld %ld ", &pid, &tid) == 2);
	CHECK(tid != tid_a);
	snprintf(want, sizeof(want), "F %ld %ld pmem %s %u %u 8 7468726561642d61", pid, tid, dev,
		 2 * PG, PG);
	CHECK(strcmp(line, want) == 0);
	CHECK(line_at(text, 3, line, sizeof(line)) == 0);
	CHECK(line[0] == 'S');
	/* a flush and drain of one thread: nothing flushed twice */
	CHECK(line_at(text, 4, line, sizeof(line)) == 0);
	CHECK(line[0] == 'F');
	CHECK(line_at(text, 5, line, sizeof(line)) == 0);
	CHECK(line[0] == 'S');
	CHECK(line_at(text, 6, line, sizeof(line)) < 0);
	return T_PASS;
}

static int test_full_unfenced_table_drains_in_the_flush(void)
{
	const char *dev = t_file("pmem", 16 * PG, 0), *trace = t_path("trace");
	const char *env[] = { trace_env(trace), "PMEM_IS_PMEM_FORCE=1", NULL };
	const char *args[] = { "many-flushes", dev, NULL };
	char *text;

	CHECK(dev);
	CHECK_EQ(t_reexec(env, args), 0);
	CHECK((text = slurp(trace)));
	CHECK_EQ(count_lines(text, 'F'), 300);
	CHECK(count_lines(text, 'S') >= 2);
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_recorder_writes_header_flush_drain_and_mark_in_order),
	T_CASE(test_recorder_flush_records_bytes_at_flush_time),
	T_CASE(test_recorder_names_msync_mode_without_pmem),
	T_CASE(test_recorder_records_flushes_in_memory_mode),
	T_CASE(test_recorder_off_without_variable_creates_nothing),
	T_CASE(test_recorder_unwritable_trace_fails_flush_with_eio),
	T_CASE(test_recorder_appends_to_existing_trace_without_second_header),
	T_CASE(test_recorder_escapes_mark_labels),
	T_CASE(test_recorder_keeps_concurrent_records_whole),
	T_CASE(test_drain_flushes_other_threads_ranges_again_first),
	T_CASE(test_full_unfenced_table_drains_in_the_flush),
};

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--child") == 0) {
		if (strcmp(argv[2], "basic") == 0)
			return child_basic(argv[3]);
		if (strcmp(argv[2], "store-after-flush") == 0)
			return child_store_after_flush(argv[3]);
		if (strcmp(argv[2], "flush-errno") == 0)
			return child_flush_errno(argv[3]);
		if (strcmp(argv[2], "mark") == 0)
			return child_mark(argv[3]);
		if (strcmp(argv[2], "threads") == 0)
			return child_threads(argv[3]);
		if (strcmp(argv[2], "cross-thread") == 0)
			return child_cross_thread(argv[3]);
		if (strcmp(argv[2], "many-flushes") == 0)
			return child_many_flushes(argv[3]);
		return 99;
	}
	return T_RUN(cases);
}
