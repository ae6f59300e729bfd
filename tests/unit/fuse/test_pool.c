/* test_pool.c - the daemon's worker pool (fuse/pool.c) serving a session over a socket pair instead of /dev/fuse */
#include <dirent.h>
#include <errno.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include "harness.h"
#include "fuse/pool.h"
#include "util/deadline.h"

/*
 * The test plays the kernel: it writes FUSE requests into one end of a
 * SOCK_SEQPACKET pair (a message is a request, as a read of /dev/fuse) and
 * reads the replies there. GETATTR of inode BLOCK_UNMARKED holds its
 * worker until released without telling the pool, BLOCK_MARKED the same
 * inside dfuse_pool_waiting (as a writer at a frozen filesystem), any
 * other inode is answered at once.
 */
enum { BLOCK_UNMARKED = 2, BLOCK_MARKED = 3, QUICK = 4 };

/* how long a test waits for something that should happen (it fails
 * after), and how long it watches for something that must not */
#define WAIT_MS 10000
#define WATCH_MS 300
#define STALL_US 2000

struct server {
	int kernel_fd;                  /* the test's end */
	struct fuse_session *se;
	struct dfuse_pool_config cfg;
	pthread_t thread;
	int result;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned inside;                /* requests in a blocking handler */
	bool release;
	uint64_t unique;
};

static void blocking_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct server *s = fuse_req_userdata(req);

	(void)fi;
	if (ino == BLOCK_UNMARKED || ino == BLOCK_MARKED) {
		if (ino == BLOCK_MARKED)
			dfuse_pool_waiting(true);
		pthread_mutex_lock(&s->lock);
		s->inside++;
		pthread_cond_broadcast(&s->cond);
		while (!s->release)
			pthread_cond_wait(&s->cond, &s->lock);
		s->inside--;
		pthread_mutex_unlock(&s->lock);
		if (ino == BLOCK_MARKED)
			dfuse_pool_waiting(false);
	}
	fuse_reply_err(req, ENOENT);
}

static const struct fuse_lowlevel_ops ops = { .getattr = blocking_getattr };

/* the device's read: the peer's close is the unmount */
static ssize_t io_read(int fd, void *buf, size_t len, void *userdata)
{
	ssize_t n = read(fd, buf, len);

	(void)userdata;
	if (n == 0) {
		errno = ENODEV;
		return -1;
	}
	return n;
}

static ssize_t io_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	(void)userdata;
	return writev(fd, iov, count);
}

static const struct fuse_custom_io io = { .read = io_read, .writev = io_writev };

static unsigned threads_of_this_process(void)
{
	DIR *d = opendir("/proc/self/task");
	unsigned n = 0;

	if (!d)
		return 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n - 2;   /* . and .. */
}

static void send_request(struct server *s, uint32_t opcode, uint64_t nodeid, const void *body,
			 size_t len)
{
	struct fuse_in_header h = {
		.len = (uint32_t)(sizeof(h) + len), .opcode = opcode, .unique = ++s->unique,
		.nodeid = nodeid,
	};
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)body, len } };

	if (writev(s->kernel_fd, iov, 2) != (ssize_t)h.len)
		abort();
}

static void getattr(struct server *s, uint64_t ino)
{
	struct fuse_getattr_in in = { 0 };

	send_request(s, FUSE_GETATTR, ino, &in, sizeof(in));
}

/* The next reply's error (negative errno, 0), or 1 if none came in ms. */
static int reply_within(struct server *s, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	char buf[8192];
	struct fuse_out_header *h = (struct fuse_out_header *)buf;

	setsockopt(s->kernel_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (read(s->kernel_fd, buf, sizeof(buf)) < (ssize_t)sizeof(*h))
		return 1;
	return h->error;
}

static bool inside_reaches(struct server *s, unsigned n, int ms)
{
	struct timespec ts;
	bool ok;

	daxfs_deadline(&ts, CLOCK_REALTIME, ms * 1000000ull);
	pthread_mutex_lock(&s->lock);
	while (s->inside < n && pthread_cond_timedwait(&s->cond, &s->lock, &ts) == 0)
		;
	ok = s->inside >= n;
	pthread_mutex_unlock(&s->lock);
	return ok;
}

static void release_all(struct server *s)
{
	pthread_mutex_lock(&s->lock);
	s->release = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static void *serve_main(void *arg)
{
	struct server *s = arg;

	s->result = dfuse_pool_serve(s->se, &s->cfg);
	return NULL;
}

static void server_stop(void *arg)
{
	struct server *s = arg;

	release_all(s);
	shutdown(s->kernel_fd, SHUT_RDWR);
	pthread_join(s->thread, NULL);
	close(s->kernel_fd);
	fuse_session_destroy(s->se);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* A pool serving a fresh session, initialised as the kernel does it;
 * stopped after the test. NULL on failure. */
static struct server *server_start_polling(unsigned hot, unsigned max, unsigned poll_us)
{
	char *argv[] = { "test_pool", NULL };
	struct fuse_args args = FUSE_ARGS_INIT(1, argv);
	struct fuse_init_in init = { .major = FUSE_KERNEL_VERSION, .minor = 31,
				     .max_readahead = 65536 };
	struct server *s = calloc(1, sizeof(*s));
	int sv[2];

	if (!s || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		free(s);
		return NULL;
	}
	s->kernel_fd = sv[0];
	s->cfg = (struct dfuse_pool_config){ .hot = hot, .max = max, .stall_us = STALL_US,
					     .poll_us = poll_us };
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->se = fuse_session_new(&args, &ops, sizeof(ops), s);
	fuse_opt_free_args(&args);
	if (!s->se || fuse_session_custom_io(s->se, &io, sv[1]) < 0 ||
	    pthread_create(&s->thread, NULL, serve_main, s) != 0)
		abort();
	t_defer(server_stop, s);
	send_request(s, FUSE_INIT, 0, &init, sizeof(init));
	if (reply_within(s, WAIT_MS) != 0)
		return NULL;
	return s;
}

static struct server *server_start(unsigned hot, unsigned max)
{
	return server_start_polling(hot, max, 0);
}

static struct dfuse_pool_stats pool_stats(void)
{
	struct dfuse_pool_stats st = { 0 };

	if (dfuse_pool_stats(&st) != 0)
		abort();
	return st;
}

/* Whether the pool's polling gauge reaches want within ms. */
static bool polling_reaches(unsigned want, int ms)
{
	for (int i = 0; i < ms; i++) {
		if (pool_stats().polling == want)
			return true;
		usleep(1000);
	}
	return pool_stats().polling == want;
}

/* The pool's counters once it has counted n requests (a worker counts
 * one after its reply is out), or as they are after ms. */
static struct dfuse_pool_stats stats_after(unsigned long long n, int ms)
{
	for (int i = 0; i < ms && pool_stats().requests < n; i++)
		usleep(1000);
	return pool_stats();
}

static int test_a_stalled_pool_grows_by_the_watchdog_up_to_max(void)
{
	struct server *s = server_start(1, 3);

	CHECK(s);
	for (int i = 0; i < 3; i++)
		getattr(s, BLOCK_UNMARKED);
	/* one hot worker; the watchdog saw it and the next stall */
	CHECK(inside_reaches(s, 3, WAIT_MS));
	getattr(s, QUICK);
	CHECK_EQ(reply_within(s, WATCH_MS), 1);        /* max: nobody reads it */
	release_all(s);
	for (int i = 0; i < 4; i++)
		CHECK_EQ(reply_within(s, WAIT_MS), -ENOENT);
	return T_PASS;
}

static int test_known_waits_are_not_counted_and_do_not_wait_for_the_watchdog(void)
{
	struct server *s = server_start(1, 1);  /* max == hot: no watchdog at all */

	CHECK(s);
	for (int i = 0; i < 3; i++)
		getattr(s, BLOCK_MARKED);
	CHECK(inside_reaches(s, 3, WAIT_MS));
	getattr(s, QUICK);
	CHECK_EQ(reply_within(s, WAIT_MS), -ENOENT);
	/* the three in their waits, and one worker to read requests (idle
	 * again once it has counted its reply) */
	struct dfuse_pool_stats st = pool_stats();

	for (int i = 0; i < WAIT_MS && st.idle == 0; i++) {
		usleep(1000);
		st = pool_stats();
	}
	CHECK_EQ(st.waiting, 3);
	CHECK_EQ(st.workers, 4);
	CHECK_EQ(st.idle, 1);
	release_all(s);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(reply_within(s, WAIT_MS), -ENOENT);
	return T_PASS;
}

static int test_the_pool_shrinks_back_to_hot_after_a_stall(void)
{
	unsigned before = threads_of_this_process();
	struct server *s = server_start(2, 5);

	CHECK(s);
	unsigned serving = threads_of_this_process();    /* + main, watchdog, hot */

	CHECK_EQ(serving, before + 4);
	for (int i = 0; i < 5; i++)
		getattr(s, BLOCK_UNMARKED);
	CHECK(inside_reaches(s, 5, WAIT_MS));
	CHECK_EQ(threads_of_this_process(), serving + 3);
	struct dfuse_pool_stats st = pool_stats();

	CHECK_EQ(st.cfg.hot, 2);
	CHECK_EQ(st.cfg.max, 5);
	CHECK_EQ(st.workers, 5);
	CHECK_EQ(st.idle, 0);
	CHECK(st.all_busy > 0);
	release_all(s);
	for (int i = 0; i < 5; i++)
		CHECK_EQ(reply_within(s, WAIT_MS), -ENOENT);
	/* each extra worker retires once it finds another idle */
	for (int i = 0; i < 200 && threads_of_this_process() > serving; i++) {
		getattr(s, QUICK);
		CHECK_EQ(reply_within(s, WAIT_MS), -ENOENT);
		usleep(1000);
	}
	CHECK_EQ(threads_of_this_process(), serving);
	CHECK_EQ(pool_stats().workers, 2);
	return T_PASS;
}

static int test_the_next_request_finds_the_worker_that_replied_looking(void)
{
	/* looks for ten seconds: the test's next request comes well before */
	struct server *s = server_start_polling(1, 1, 10 * 1000 * 1000);

	CHECK(s);
	/* the reply to INIT is out: its worker looks */
	CHECK(polling_reaches(1, WAIT_MS));
	usleep(50 * 1000);
	getattr(s, QUICK);
	CHECK_EQ(reply_within(s, WAIT_MS), -ENOENT);
	struct dfuse_pool_stats st = stats_after(2, WAIT_MS);

	CHECK_EQ(st.polled, 1);
	CHECK_EQ(st.polls, 1);
	CHECK_EQ(st.requests, 2);
	return T_PASS;
}

static int test_the_look_ends_after_poll_us_and_the_worker_sleeps_in_read(void)
{
	struct server *s = server_start_polling(1, 1, 20 * 1000);     /* 20 ms */

	CHECK(s);
	usleep(WATCH_MS * 1000);
	struct dfuse_pool_stats st = pool_stats();

	CHECK_EQ(st.polls, 1);
	CHECK_EQ(st.polled, 0);
	CHECK_EQ(st.polling, 0);
	/* asleep in read(2), it still takes the next request */
	getattr(s, QUICK);
	CHECK_EQ(reply_within(s, WAIT_MS), -ENOENT);
	CHECK_EQ(pool_stats().polled, 0);
	return T_PASS;
}

/* A GETATTR answered at once, after a pause of gap_ms since the last reply. */
static int quick_after(struct server *s, int gap_ms)
{
	usleep(gap_ms * 1000);
	getattr(s, QUICK);
	return reply_within(s, WAIT_MS);
}

static int test_each_gap_longer_than_poll_us_halves_the_look(void)
{
	struct server *s = server_start_polling(1, 1, 20 * 1000);     /* 20 ms */

	CHECK(s);
	CHECK_EQ(pool_stats().look_us, 20000);
	for (unsigned i = 1; i <= 3; i++) {
		CHECK_EQ(quick_after(s, 50), -ENOENT);
		CHECK_EQ(stats_after(1 + i, WAIT_MS).look_us, 20000 >> i);
	}
	/* an idle pool ends with no look at all, and nobody polls */
	unsigned long long served = 4;  /* INIT and three GETATTRs */

	for (; served < 40 && pool_stats().look_us; served++)
		CHECK_EQ(quick_after(s, 25), -ENOENT);
	struct dfuse_pool_stats st = stats_after(served, WAIT_MS);

	CHECK_EQ(st.look_us, 0);
	CHECK_EQ(st.polling, 0);
	CHECK_EQ(quick_after(s, 25), -ENOENT);
	CHECK_EQ(quick_after(s, 25), -ENOENT);
	struct dfuse_pool_stats after = stats_after(served + 2, WAIT_MS);

	CHECK_EQ(st.requests, served);
	CHECK_EQ(after.requests, served + 2);
	CHECK_EQ(after.polling, 0);
	CHECK_EQ(after.polls, st.polls);
	return T_PASS;
}

static int test_gaps_within_poll_us_grow_the_look_until_it_finds_the_next_request(void)
{
	struct server *s = server_start_polling(1, 1, 20 * 1000);     /* 20 ms */

	CHECK(s);
	for (int i = 0; i < 30 && pool_stats().look_us; i++)
		CHECK_EQ(quick_after(s, 25), -ENOENT);
	CHECK_EQ(pool_stats().look_us, 0);
	/* requests 2 ms apart: the look doubles from 10 us on each gap
	 * longer than it until it spans the gap (an odd gap of 20 ms or more
	 * on a loaded machine halves it again; it grows back) */
	unsigned long long polled = pool_stats().polled;
	unsigned longest = 0;
	int i;

	for (i = 0; i < 300 && (longest < 2000 || pool_stats().polled < polled + 3); i++) {
		CHECK_EQ(quick_after(s, 2), -ENOENT);
		if (pool_stats().look_us > longest)
			longest = pool_stats().look_us;
	}
	/* the look grew to span a gap (a look runs over its length when its
	 * CPU is busy, so finding one does not say it did), and looks found
	 * the next request */
	CHECK(i < 300);
	CHECK(longest <= 20000);
	return T_PASS;
}

static int test_after_each_reply_a_worker_looks_whichever_worker_took_the_request(void)
{
	/* two workers: the one looking or the one asleep in read(2), which
	 * the kernel wakes, takes each request; whichever it was, a worker
	 * looks after the reply (the look that saw the request coming is not
	 * still counted as one) */
	struct server *s = server_start_polling(2, 2, 10 * 1000 * 1000);

	CHECK(s);
	CHECK(polling_reaches(1, WAIT_MS));
	for (unsigned long long i = 1; i <= 2000; i++) {
		getattr(s, QUICK);
		CHECK_EQ(reply_within(s, WAIT_MS), -ENOENT);
		/* INIT and i GETATTRs served; the look that each GETATTR
		 * ended is over */
		struct dfuse_pool_stats st = stats_after(i + 1, WAIT_MS);

		for (int ms = 0; ms < WAIT_MS && st.polls < i; ms++) {
			usleep(1000);
			st = pool_stats();
		}
		CHECK_EQ(st.requests, i + 1);
		CHECK_EQ(st.polls, i);
		CHECK_EQ(st.polling, 1);
	}
	return T_PASS;
}

static int test_nobody_looks_while_another_request_is_in_service(void)
{
	struct server *s = server_start_polling(2, 2, 10 * 1000 * 1000);

	CHECK(s);
	CHECK(polling_reaches(1, WAIT_MS));
	getattr(s, BLOCK_UNMARKED);     /* the looking worker takes it and stays */
	CHECK(inside_reaches(s, 1, WAIT_MS));
	CHECK(polling_reaches(0, WAIT_MS));
	getattr(s, QUICK);
	CHECK_EQ(reply_within(s, WAIT_MS), -ENOENT);
	/* the other worker replied with a request still in service */
	for (int i = 0; i < WATCH_MS; i++) {
		CHECK_EQ(pool_stats().polling, 0);
		usleep(1000);
	}
	release_all(s);
	CHECK_EQ(reply_within(s, WAIT_MS), -ENOENT);
	/* now both are idle: the last to reply looks */
	CHECK(polling_reaches(1, WAIT_MS));
	return T_PASS;
}

static int test_no_worker_looks_with_poll_us_0(void)
{
	struct server *s = server_start(1, 1);

	CHECK(s);
	for (int i = 0; i < 20; i++) {
		getattr(s, QUICK);
		CHECK_EQ(reply_within(s, WAIT_MS), -ENOENT);
	}
	struct dfuse_pool_stats st = stats_after(21, WAIT_MS);

	CHECK_EQ(st.polls, 0);
	CHECK_EQ(st.polling, 0);
	CHECK_EQ(st.requests, 21);
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_a_stalled_pool_grows_by_the_watchdog_up_to_max),
	T_CASE(test_known_waits_are_not_counted_and_do_not_wait_for_the_watchdog),
	T_CASE(test_the_pool_shrinks_back_to_hot_after_a_stall),
	T_CASE(test_the_next_request_finds_the_worker_that_replied_looking),
	T_CASE(test_the_look_ends_after_poll_us_and_the_worker_sleeps_in_read),
	T_CASE(test_each_gap_longer_than_poll_us_halves_the_look),
	T_CASE(test_gaps_within_poll_us_grow_the_look_until_it_finds_the_next_request),
	T_CASE(test_after_each_reply_a_worker_looks_whichever_worker_took_the_request),
	T_CASE(test_nobody_looks_while_another_request_is_in_service),
	T_CASE(test_no_worker_looks_with_poll_us_0),
};

T_MAIN(cases)
