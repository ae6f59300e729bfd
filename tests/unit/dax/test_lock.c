/* test_lock.c - the mount lock: who is refused, and a daemon finishing an unmount being waited for */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daxfs/err.h"
#include "fixture.h"

/*
 * The holder is a child process standing for a daemon: it locks the file,
 * optionally marks it mounted and opens /dev/fuse. A /dev/fuse descriptor no
 * mount is attached to polls POLLERR exactly as one whose mount has been
 * unmounted, which is the state of a daemon writing back after an unmount.
 */
struct holder {
	pid_t pid;
	int go;         /* write end: a byte (or closing it) lets the child exit */
};

enum { HOLD_MARK = 1, HOLD_FUSE = 2 };

static void holder_release(void *arg)
{
	struct holder *h = arg;

	if (h->go >= 0)
		close(h->go);
	if (h->pid > 0) {
		kill(h->pid, SIGKILL);
		waitpid(h->pid, NULL, 0);
	}
	free(h);
}

static struct holder *hold(const char *path, unsigned what)
{
	int ready[2], go[2];
	struct holder *h = calloc(1, sizeof(*h));
	char c;

	if (!h || pipe(ready) || pipe(go)) {
		free(h);
		return NULL;
	}
	h->pid = fork();
	if (h->pid == 0) {
		struct dax_device *dev = NULL;

		close(ready[0]);
		close(go[1]);
		if (dax_device_open(path, 0, &dev) || dax_device_lock(dev) ||
		    ((what & HOLD_MARK) && dax_device_mark_mounted(dev)) ||
		    ((what & HOLD_FUSE) && open("/dev/fuse", O_RDWR) < 0))
			_exit(1);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		(void)!read(go[0], &c, 1);
		_exit(0);   /* closing dev drops the lock */
	}
	close(ready[1]);
	close(go[0]);
	h->go = go[1];
	t_defer(holder_release, h);
	if (h->pid < 0 || read(ready[0], &c, 1) != 1) {
		close(ready[0]);
		return NULL;
	}
	close(ready[0]);
	return h;
}

static bool have_dev_fuse(void)
{
	int fd = open("/dev/fuse", O_RDWR);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Whether /proc/locks shows a process waiting for a lock on path's inode. */
static bool lock_waiter(const char *path)
{
	char line[256], id[64];
	bool found = false;
	struct stat st;
	FILE *f;

	if (stat(path, &st) != 0 || !(f = fopen("/proc/locks", "re")))
		return false;
	snprintf(id, sizeof(id), " %02x:%02x:%" PRIu64 " ", major(st.st_dev), minor(st.st_dev),
		 (uint64_t)st.st_ino);
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, "->") && strstr(line, id);
	fclose(f);
	return found;
}

struct locker {
	struct dax_device *dev;
	int ret;
	atomic_bool done;
};

static void *lock_thread(void *arg)
{
	struct locker *l = arg;

	l->ret = dax_device_lock(l->dev);
	atomic_store(&l->done, true);
	return NULL;
}

static int refused_while_held(unsigned what)
{
	const char *path = t_file("pmem", PG, 0);
	struct dax_device *dev = NULL;

	if ((what & HOLD_FUSE) && !have_dev_fuse())
		SKIP("no /dev/fuse");
	CHECK(hold(path, what));
	CHECK_EQ(dax_device_open(path, 0, &dev), 0);
	t_defer(fixture_put, dev);
	CHECK_EQ(dax_device_lock(dev), -EBUSY);
	CHECK_MSG_HAS("in use by another daxfs mount");
	return T_PASS;
}

/* mkfs, fsck: a lock and nothing else */
static int test_lock_held_by_a_tool_ebusy(void)
{
	return refused_while_held(0);
}

/* a daemon that has opened /dev/fuse but not mounted yet: no mark */
static int test_lock_held_by_a_starting_daemon_ebusy(void)
{
	return refused_while_held(HOLD_FUSE);
}

/* marked, but no FUSE connection to look at: assume it is live */
static int test_lock_marked_without_fuse_connection_ebusy(void)
{
	return refused_while_held(HOLD_MARK);
}

static int test_lock_waits_for_a_daemon_whose_mount_is_gone(void)
{
	const char *path = t_file("pmem", PG, 0);
	struct locker l = { .ret = 1 };
	struct timespec pause = { 0, 5 * 1000 * 1000 };
	struct holder *h;
	pthread_t th;
	int tries;

	if (!have_dev_fuse())
		SKIP("no /dev/fuse");
	h = hold(path, HOLD_MARK | HOLD_FUSE);
	CHECK(h);
	CHECK_EQ(dax_device_open(path, 0, &l.dev), 0);
	t_defer(fixture_put, l.dev);
	CHECK_EQ(pthread_create(&th, NULL, lock_thread, &l), 0);
	/* the kernel shows the blocked flock: then the holder may go */
	for (tries = 0; tries < 2000 && !atomic_load(&l.done) && !lock_waiter(path); tries++)
		nanosleep(&pause, NULL);
	if (atomic_load(&l.done) || tries == 2000) {
		kill(h->pid, SIGKILL);
		pthread_join(th, NULL);
		t_report(__FILE__, __LINE__, "dax_device_lock did not wait for the leaving "
			 "holder: %d %s", l.ret, t_msg());
		return T_FAIL;
	}
	CHECK_EQ(write(h->go, "g", 1), 1);
	CHECK_EQ(pthread_join(th, NULL), 0);
	CHECK_EQ(l.ret, 0);
	CHECK_EQ(waitpid(h->pid, NULL, 0), h->pid);
	h->pid = 0;
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_lock_held_by_a_tool_ebusy),
	T_CASE(test_lock_held_by_a_starting_daemon_ebusy),
	T_CASE(test_lock_marked_without_fuse_connection_ebusy),
	T_CASE(test_lock_waits_for_a_daemon_whose_mount_is_gone),
};

T_MAIN(cases)
