/* preload/fds.c - libdaxfs-run: its own descriptors, out of the program's reach */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "preload/run.h"

/*
 * The library keeps open files of its own: the one that holds a file's lease,
 * the members it maps, the extend lock's, the liveness lock's, the table's.
 * A program that closes every descriptor it did not open (a daemon starting
 * up, a closefrom(3) before its work) would end the lease while it still maps
 * the blocks, which another process's truncate then hands to other files, or
 * would have the library take one of its own files for a member. So these
 * live high (from half the descriptor limit, away from the numbers programs
 * use), and close, close_range and closefrom leave them alone as descriptors
 * the program never had (EBADF for a close of one); dup2 and dup3 onto one
 * fail with EBUSY, which Linux also gives while a descriptor is being set up.
 */

static pthread_mutex_t klock = PTHREAD_MUTEX_INITIALIZER;
static int *kept;               /* sorted */
static size_t nkept, capkept;
static int kept_min = INT_MAX;  /* atomic: below it, none is ours */
static int kept_base = 64;

void run_fds_init(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > 128 && rl.rlim_cur <= INT_MAX)
		kept_base = (int)(rl.rlim_cur / 2);
}

static size_t lower_bound(int fd)
{
	size_t lo = 0, hi = nkept;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (kept[mid] < fd)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void update_min(void)
{
	__atomic_store_n(&kept_min, nkept ? kept[0] : INT_MAX, __ATOMIC_RELEASE);
}

int run_fd_keep(int fd)
{
	int nfd, err = 0;

	if (fd < 0)
		return -EBADF;
	/* its number may be a program's next open's: move it away */
	if (fd < kept_base) {
		nfd = real.fcntl(fd, F_DUPFD_CLOEXEC, kept_base);
		err = errno;
		real.close(fd);
		if (nfd < 0)
			return -err;
		fd = nfd;
	}
	pthread_mutex_lock(&klock);
	if (nkept == capkept) {
		size_t cap = capkept ? capkept * 2 : 16;
		int *n = realloc(kept, cap * sizeof(*n));

		if (!n) {
			pthread_mutex_unlock(&klock);
			real.close(fd);
			return -ENOMEM;
		}
		kept = n;
		capkept = cap;
	}
	size_t at = lower_bound(fd);

	memmove(kept + at + 1, kept + at, (nkept - at) * sizeof(*kept));
	kept[at] = fd;
	nkept++;
	update_min();
	pthread_mutex_unlock(&klock);
	return fd;
}

int run_fd_reopen(int fd, int flags)
{
	char path[64];
	int own;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if ((own = real.open(path, flags | O_CLOEXEC)) < 0)
		return -errno;
	return run_fd_keep(own);
}

int run_fd_keep_dup(int fd)
{
	int nfd = real.fcntl(fd, F_DUPFD_CLOEXEC, kept_base);

	return nfd < 0 ? -errno : run_fd_keep(nfd);
}

void run_fd_close(int fd)
{
	if (fd < 0)
		return;
	pthread_mutex_lock(&klock);
	size_t at = lower_bound(fd);

	if (at < nkept && kept[at] == fd) {
		memmove(kept + at, kept + at + 1, (nkept - at - 1) * sizeof(*kept));
		nkept--;
		update_min();
	}
	pthread_mutex_unlock(&klock);
	real.close(fd);
}

void run_fds_lock(bool lock)
{
	if (lock)
		pthread_mutex_lock(&klock);
	else
		pthread_mutex_unlock(&klock);
}

bool run_fd_kept(int fd)
{
	bool found;

	if (fd < __atomic_load_n(&kept_min, __ATOMIC_ACQUIRE))
		return false;
	pthread_mutex_lock(&klock);
	size_t at = lower_bound(fd);

	found = at < nkept && kept[at] == fd;
	pthread_mutex_unlock(&klock);
	return found;
}

int run_fds_close_range(unsigned first, unsigned last, int flags)
{
	unsigned from = first;
	int r = 0;

	if (first > last || last < (unsigned)__atomic_load_n(&kept_min, __ATOMIC_ACQUIRE))
		return real.close_range(first, last, flags);
	pthread_mutex_lock(&klock);
	/* the gaps between ours; CLOSE_RANGE_UNSHARE with the first call */
	for (size_t i = lower_bound(first > INT_MAX ? INT_MAX : (int)first);
	     i < nkept && (unsigned)kept[i] <= last && r == 0; i++) {
		if ((unsigned)kept[i] > from) {
			r = real.close_range(from, (unsigned)kept[i] - 1, flags);
			flags &= ~CLOSE_RANGE_UNSHARE;
		}
		from = (unsigned)kept[i] + 1;
	}
	if (r == 0 && from <= last)
		r = real.close_range(from, last, flags);
	pthread_mutex_unlock(&klock);
	return r;
}
