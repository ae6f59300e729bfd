/* preload/alive.c - libdaxfs-run: stores through the members stop once the mount's daemon is gone */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "preload/run.h"

/*
 * The daemon holds back from the allocator every block a process with a lease
 * maps. Killed (or its mount ended) while we still map the members, it holds
 * nothing any more: the next mount of the filesystem may free those blocks
 * (a truncate, an unlink) and give them to other files, which our stores
 * would then overwrite. So while it serves the mount the daemon holds a write
 * lock of byte 0 of the table's memfd (daxfs_run_head.alive), and in each
 * process that has the table one thread waits for a read lock of it, which
 * comes only once the daemon is gone. Then every file of the mount takes the
 * ordinary path (whose requests fail: the mount is gone) and every mmap
 * region of it raises SIGBUS, as the pages of a DAX file whose device went
 * away. A store under way at that moment ends in blocks the next mount has
 * not handed out yet: it replays the journal first.
 *
 * The thread lives as long as the process or the daemon. Locks of one open
 * file never conflict, so each side locks through an open file of its own:
 * the table's descriptor that came over the socket is the daemon's open file.
 */

static pthread_mutex_t alock = PTHREAD_MUTEX_INITIALIZER;

static void *watch(void *arg)
{
	struct rmount *m = arg;
	struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
	int fd = m->alive_fd;

	while (real.fcntl(fd, F_OFD_SETLKW, &fl) < 0) {
		if (errno != EINTR) {
			run_log("cannot wait for the end of the mount's daemon: %s", strerror(errno));
			return NULL;
		}
	}
	__atomic_store_n(&m->dead, true, __ATOMIC_SEQ_CST);
	run_log("the mount's daemon is gone: its files take the ordinary path, their mappings "
		"raise SIGBUS");
	run_regions_gone(m);
	fl.l_type = F_UNLCK;
	(void)real.fcntl(fd, F_OFD_SETLK, &fl);
	return NULL;
}

void run_alive_watch(struct rmount *m, int fd)
{
	if (!__atomic_load_n(&m->head->alive, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&alock);
	if (m->alive_pid != run_pid) {
		/* the daemon is there (we just asked it something): a lock
		 * nobody holds means it took none, and waiting tells nothing */
		struct flock q = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
		int inherited = m->alive_fd, own, err = -1;

		own = run_fd_reopen(fd, O_RDONLY);
		/* a forked child's copy of its parent's open file */
		if (inherited >= 0 && inherited != own)
			run_fd_close(inherited);
		m->alive_fd = -1;
		if (own >= 0 && (real.fcntl(own, F_OFD_GETLK, &q) < 0 || q.l_type == F_UNLCK)) {
			run_log("the mount's daemon holds no lock of its table: its end goes "
				"unnoticed");
			run_fd_close(own);
			own = -1;
		}
		if (own >= 0) {
			m->alive_fd = own;
			err = run_thread_start(watch, m, 64 << 10);
		}
		if (err != 0 && own >= 0) {
			run_log("no thread to notice the end of the mount's daemon");
			run_fd_close(own);
			m->alive_fd = -1;
		}
		/* once per process, whatever came of it */
		__atomic_store_n(&m->alive_pid, run_pid, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&alock);
}

void run_alive_lock(bool lock)
{
	if (lock)
		pthread_mutex_lock(&alock);
	else
		pthread_mutex_unlock(&alock);
}
