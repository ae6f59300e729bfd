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
 * lock of its liveness byte of member 0 (daxfs_run_head.alive), and while
 * this process has files of the mount one thread waits for a read lock of
 * it, which comes only once the daemon is gone. Then every file of the mount
 * takes the ordinary path (whose requests fail: the mount is gone) and every
 * mmap region of it raises SIGBUS, as the pages of a DAX file whose device
 * went away. A store under way at that moment ends in blocks the next mount
 * has not handed out yet: it replays the journal first.
 *
 * The thread is cancelled when the process's last file of the mount goes:
 * the blocking fcntl is a cancellation point, nothing after it is.
 */

static pthread_mutex_t alock = PTHREAD_MUTEX_INITIALIZER;

static void *watch(void *arg)
{
	struct rmount *m = arg;
	struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET,
			    .l_start = (off_t)(DAXFS_RUN_ALIVE_BASE + m->head->id), .l_len = 1 };
	int fd = m->alive_fd, err;

	for (;;) {
		pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
		err = real.fcntl(fd, F_OFD_SETLKW, &fl) < 0 ? errno : 0;
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
		if (err != EINTR)
			break;
	}
	if (err) {
		run_log("cannot wait for the end of the mount's daemon: %s", strerror(err));
		return NULL;
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
		sigset_t all, old;
		char path[64];
		int own, err = -1;

		/* a thread and an open file of our own: a forked child has
		 * neither of its parent's, only the descriptor */
		int inherited = m->alive_running ? m->alive_fd : -1;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		own = real.open(path, O_RDONLY | O_CLOEXEC);
		if (inherited >= 0)
			real.close(inherited);
		m->alive_running = false;
		/* the daemon is there (we just asked it something): a byte
		 * nobody locks is another file than its member 0 (a table
		 * swapped since), where waiting would tell nothing */
		struct flock q = { .l_type = F_RDLCK, .l_whence = SEEK_SET,
				   .l_start = (off_t)(DAXFS_RUN_ALIVE_BASE + m->head->id), .l_len = 1 };

		if (own >= 0 && (real.fcntl(own, F_OFD_GETLK, &q) < 0 || q.l_type == F_UNLCK)) {
			run_log("backing device 0 holds no lock of the mount's daemon: its end "
				"goes unnoticed");
			real.close(own);
			own = -1;
		}
		if (own >= 0) {
			m->alive_fd = own;
			/* the program's signals are for its own threads */
			sigfillset(&all);
			pthread_sigmask(SIG_SETMASK, &all, &old);
			err = pthread_create(&m->alive_thread, NULL, watch, m);
			pthread_sigmask(SIG_SETMASK, &old, NULL);
		}
		if (err == 0) {
			m->alive_running = true;
		} else {
			if (own >= 0) {
				run_log("no thread to notice the end of the mount's daemon");
				real.close(own);
			}
			m->alive_fd = -1;
		}
		/* once per process, whatever came of it */
		__atomic_store_n(&m->alive_pid, run_pid, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&alock);
}

void run_alive_stop(struct rmount *m)
{
	pthread_mutex_lock(&alock);
	/* a file of the mount opened meanwhile keeps the thread: it counted
	 * itself before it could look for one */
	if (m->alive_pid == run_pid && m->alive_running &&
	    __atomic_load_n(&m->users, __ATOMIC_SEQ_CST) == 0) {
		pthread_cancel(m->alive_thread);
		pthread_join(m->alive_thread, NULL);
		real.close(m->alive_fd);
		m->alive_fd = -1;
		m->alive_running = false;
		__atomic_store_n(&m->alive_pid, 0, __ATOMIC_RELEASE);
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
