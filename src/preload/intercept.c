/* preload/intercept.c - libdaxfs-run: the libc calls it interposes, each falling back to the real one */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "preload/run.h"

/*
 * Every call first asks whether its descriptor is one the library serves
 * (run_get); if not, or if the served path answers RUN_FALLBACK, the real
 * libc function does the work. Calls that make, copy or drop descriptors
 * keep the table in step. The *64 names are the same functions (off_t is
 * 64 bits on the 64-bit ABIs this library is built for).
 */

#define EXPORT __attribute__((visibility("default")))
#define ALIAS(name) __attribute__((alias(#name), visibility("default")))

_Static_assert(sizeof(off_t) == 8, "libdaxfs-run needs a 64-bit off_t");
_Static_assert(sizeof(struct stat) == sizeof(struct stat64), "stat64 is stat");

/* glibc's fortified and internal entry points, which programs call too */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);
ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen);
ssize_t __pread_chk(int fd, void *buf, size_t len, off_t off, size_t buflen);
ssize_t __pread64_chk(int fd, void *buf, size_t len, off_t off, size_t buflen);

/*
 * A signal handler that reads or writes a served file while its thread is
 * inside the library (holding a lock, or in a copy) takes the ordinary
 * path: the library's locks are not for re-entry, the ordinary path is
 * always coherent with it, and read(2)/write(2) stay async-signal-safe.
 */
static _Thread_local int depth __attribute__((tls_model("initial-exec")));

/*
 * The same for a handler's close, open or dup: the interrupted code may
 * hold the descriptor table's lock, so the table's update waits until the
 * thread leaves the library (the descriptor itself is closed at once). An
 * entry is then forgotten only if it is still the one it was, so that a
 * number another thread opened again meanwhile keeps its own.
 */
#define LATER_MAX 16
static _Thread_local struct { int fd; struct rfile *rf; } later[LATER_MAX]
	__attribute__((tls_model("initial-exec")));
static _Thread_local volatile sig_atomic_t nlater __attribute__((tls_model("initial-exec")));

static void leave(void)
{
	/* still inside while the table is updated: a handler meanwhile
	 * defers too */
	while (depth == 1 && nlater) {
		int i = --nlater;

		run_forget_if(later[i].fd, later[i].rf);
	}
	depth--;
}

/* false: the caller may update the table now (inside from here to leave) */
static bool table_later(int fd)
{
	if (!depth) {
		depth++;
		return false;
	}
	struct rfile *rf = run_peek(fd);

	if (rf && nlater < LATER_MAX) {
		later[nlater].fd = fd;
		later[nlater].rf = rf;
		nlater++;
	}
	return true;
}

static struct rfile *run_enter(int fd)
{
	struct rfile *rf;

	if (depth)
		return NULL;
	depth++;
	if (!(rf = run_get(fd)))
		leave();
	return rf;
}

static void run_leave(struct rfile *rf)
{
	run_put(rf);
	leave();
}

static void opened(int fd, int flags)
{
	if (!table_later(fd)) {
		run_opened(fd, flags);
		leave();
	}
}

static void closing(int fd)
{
	if (!table_later(fd)) {
		run_closing(fd);
		leave();
	}
}

static void duped(int ofd, int nfd)
{
	if (!table_later(nfd)) {
		run_duped(ofd, nfd);
		leave();
	}
}

static ssize_t ret(ssize_t r)
{
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

/* ---- descriptors ----------------------------------------------------------- */

static bool has_mode(int flags)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

EXPORT int open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	int fd;

	run_init();
	if (has_mode(flags)) {
		va_list ap;

		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	fd = real.open(path, flags, mode);
	if (fd >= 0)
		opened(fd, flags);
	return fd;
}
int open64(const char *path, int flags, ...) ALIAS(open);

EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	int fd;

	run_init();
	if (has_mode(flags)) {
		va_list ap;

		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	fd = real.openat(dirfd, path, flags, mode);
	if (fd >= 0)
		opened(fd, flags);
	return fd;
}
int openat64(int dirfd, const char *path, int flags, ...) ALIAS(openat);

EXPORT int __open_2(const char *path, int flags)
{
	return open(path, flags);
}
int __open64_2(const char *path, int flags) ALIAS(__open_2);

EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	return openat(dirfd, path, flags);
}
int __openat64_2(int dirfd, const char *path, int flags) ALIAS(__openat_2);

EXPORT int creat(const char *path, mode_t mode)
{
	return open(path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}
int creat64(const char *path, mode_t mode) ALIAS(creat);

/* ---- signals -------------------------------------------------------------- */

/* The next sigaction and signal, found without run_init: AddressSanitizer's
 * start-up installs its handlers through them before anything of ours may
 * run (its interceptors refuse to be called then, its allocator serves only
 * small blocks). Our SIGBUS handler comes later, with the first copy. */
static void early_real(void)
{
	if (!__atomic_load_n(&real.sigaction, __ATOMIC_ACQUIRE) ||
	    !__atomic_load_n(&real.signal, __ATOMIC_ACQUIRE)) {
		void *act = dlsym(RTLD_NEXT, "sigaction"), *sig = dlsym(RTLD_NEXT, "signal");

		memcpy(&real.sigaction, &act, sizeof(act));
		memcpy(&real.signal, &sig, sizeof(sig));
	}
}

/* SIGBUS stays the library's once it is installed (copy.c): the program's
 * handler is what it passes other faults on to. */
EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	early_real();
	if (sig == SIGBUS && run_sigbus_chain(act, old))
		return 0;
	return real.sigaction(sig, act, old);
}

EXPORT sighandler_t signal(int sig, sighandler_t handler)
{
	/* glibc's own: BSD semantics, the signal blocked in its handler */
	struct sigaction sa = { .sa_handler = handler, .sa_flags = SA_RESTART }, old;

	early_real();
	if (sig != SIGBUS)
		return real.signal(sig, handler);
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, sig);
	if (!run_sigbus_chain(&sa, &old))
		return real.signal(sig, handler);
	return old.sa_handler;
}

EXPORT int close(int fd)
{
	run_init();
	/* not the program's (fds.c): as if it were not open */
	if (run_fd_kept(fd)) {
		errno = EBADF;
		return -1;
	}
	closing(fd);
	return real.close(fd);
}

EXPORT int close_range(unsigned first, unsigned last, int flags)
{
	run_init();
	if (!(flags & CLOSE_RANGE_CLOEXEC)) {
		if (!depth) {
			depth++;
			run_forget_range(first, last);
			leave();
		} else {
			/* the table holds at most 65536 descriptors */
			for (unsigned fd = first; fd <= last && fd < 65536u; fd++)
				(void)table_later((int)fd);
		}
	}
	return run_fds_close_range(first, last, flags);
}

EXPORT void closefrom(int low)
{
	(void)close_range((unsigned)low, ~0u, 0);
}

EXPORT int fclose(FILE *f)
{
	static int (*real_fclose)(FILE *);
	int fd = f ? fileno(f) : -1;

	run_init();
	if (!real_fclose) {
		void *sym = dlsym(RTLD_NEXT, "fclose");

		memcpy(&real_fclose, &sym, sizeof(sym));
	}
	if (fd >= 0)
		closing(fd);
	return real_fclose(f);
}

/* ---- libc that closes or shares descriptors inside itself ------------------ */

/* stdio closes the stream's descriptor past close() (fclose above too) */
static FILE *reopen(FILE *(*fn)(const char *, const char *, FILE *), const char *path,
		    const char *mode, FILE *fp)
{
	if (fp && fileno(fp) >= 0)
		closing(fileno(fp));
	return fn(path, mode, fp);
}

EXPORT FILE *freopen(const char *path, const char *mode, FILE *fp)
{
	run_init();
	return reopen(real.freopen, path, mode, fp);
}

EXPORT FILE *freopen64(const char *path, const char *mode, FILE *fp)
{
	run_init();
	return reopen(real.freopen64, path, mode, fp);
}

/* /dev/null onto 0, 1 and 2 inside libc */
EXPORT int daemon(int nochdir, int noclose)
{
	int r;

	run_init();
	r = real.daemon(nochdir, noclose);
	for (int fd = 0; r == 0 && !noclose && fd <= 2; fd++)
		closing(fd);
	return r;
}

/* Children made without fork (no fork handler runs) share our open files
 * with the programs they exec. */
EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
		       const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	run_init();
	run_spawning();
	return real.posix_spawn(pid, path, fa, attr, argv, envp);
}

EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
			const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	run_init();
	run_spawning();
	return real.posix_spawnp(pid, file, fa, attr, argv, envp);
}

/* A descriptor sent over a socket shares its open file with the receiver. */
EXPORT ssize_t sendmsg(int sock, const struct msghdr *msg, int flags)
{
	struct msghdr *m = (struct msghdr *)msg;    /* CMSG_NXTHDR's type; read only */

	run_init();
	for (struct cmsghdr *c = m ? CMSG_FIRSTHDR(m) : NULL; c; c = CMSG_NXTHDR(m, c)) {
		/* the program's own buffer: a length the kernel would refuse
		 * must not make us read past it */
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len < CMSG_LEN(0))
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		const unsigned char *data = CMSG_DATA(c);

		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, data + i * sizeof(int), sizeof(int));
			run_sending(fd);
		}
	}
	return real.sendmsg(sock, msg, flags);
}

EXPORT int system(const char *command)
{
	run_init();
	run_spawning();
	return real.system(command);
}

EXPORT FILE *popen(const char *command, const char *type)
{
	run_init();
	run_spawning();
	return real.popen(command, type);
}

EXPORT int dup(int fd)
{
	int n;

	run_init();
	n = real.dup(fd);
	if (n >= 0)
		duped(fd, n);
	return n;
}

/* dup2 or dup3 onto a descriptor of the library's would close it under the
 * file it serves (fds.c); Linux gives EBUSY while a descriptor is set up. */
static bool refuse_onto_kept(int nfd)
{
	if (!run_fd_kept(nfd))
		return false;
	run_log("dup2 onto descriptor %d, which daxfs-run keeps for itself: EBUSY", nfd);
	errno = EBUSY;
	return true;
}

EXPORT int dup2(int fd, int nfd)
{
	int n;

	run_init();
	if (fd != nfd && refuse_onto_kept(nfd))
		return -1;
	n = real.dup2(fd, nfd);
	if (n >= 0 && fd != nfd)
		duped(fd, n);
	return n;
}

EXPORT int dup3(int fd, int nfd, int flags)
{
	int n;

	run_init();
	if (refuse_onto_kept(nfd))
		return -1;
	n = real.dup3(fd, nfd, flags);
	if (n >= 0)
		duped(fd, n);
	return n;
}

EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;
	int r;

	run_init();
	/* every fcntl argument is an int or a pointer: passed on as a word */
	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	r = real.fcntl(fd, cmd, arg);
	if (r >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)) {
		duped(fd, r);
	} else if (r >= 0 && cmd == F_SETFL) {
		struct rfile *rf = run_enter(fd);

		if (rf) {
			int fl = (int)(long)arg;

			/* Linux's F_SETFL changes O_APPEND but never O_SYNC or
			 * O_DSYNC (fs/fcntl.c, SETFL_MASK): whatever fl says of
			 * them, the file keeps the sync of its open */
			rf->append = fl & O_APPEND;
			run_leave(rf);
		}
	}
	return r;
}
int fcntl64(int fd, int cmd, ...) ALIAS(fcntl);

/* ---- read and write --------------------------------------------------------- */

/* Whether a write through rf appends: O_APPEND of its open file, which
 * another process sharing it may have changed with F_SETFL. */
static bool appends(struct rfile *rf, int fd)
{
	int fl;

	if (!__atomic_load_n(&rf->shared, __ATOMIC_RELAXED) || (fl = real.fcntl(fd, F_GETFL)) < 0)
		return rf->append;
	return fl & O_APPEND;
}

/* Before the kernel does a write of rf after all. Appending, it would use
 * the size it has cached, which our own stores past it left behind: a stat
 * brings it up to date first (the attributes of a file we serve are never
 * cached), as its append must not land inside the file. */
static void to_kernel(struct rfile *rf, int fd, bool append)
{
	struct stat st;

	rf->fell_back = true;
	if (append)
		(void)real.fstat(fd, &st);
}

static bool shared_offset(struct rfile *rf)
{
	return __atomic_load_n(&rf->shared, __ATOMIC_RELAXED);
}

/* read()/write() at the kernel's file offset, which moves as the served
 * call did; the open file's lock keeps threads sharing it apart. Another
 * process's threads it cannot: an open file that may be shared goes the
 * ordinary way, where the kernel holds its offset lock through the call. */
static ssize_t at_offset(struct rfile *rf, int fd, void *buf, size_t len, bool write)
{
	ssize_t r;
	off_t pos;

	if (shared_offset(rf)) {
		if (!write)
			return real.read(fd, buf, len);
		to_kernel(rf, fd, appends(rf, fd));
		return real.write(fd, buf, len);
	}
	pthread_mutex_lock(&rf->pos);
	pos = real.lseek(fd, 0, SEEK_CUR);
	if (pos < 0)
		r = RUN_FALLBACK;
	else if (write)
		r = run_pwrite(rf, buf, len, pos, appends(rf, fd) ? &pos : NULL);
	else
		r = run_pread(rf, buf, len, pos);
	if (r > 0)
		(void)real.lseek(fd, pos + r, SEEK_SET);
	else if (r == RUN_FALLBACK && write)
		to_kernel(rf, fd, rf->append), r = real.write(fd, buf, len);
	else if (r == RUN_FALLBACK)
		r = real.read(fd, buf, len);
	else
		r = ret(r);
	pthread_mutex_unlock(&rf->pos);
	return r;
}

EXPORT ssize_t read(int fd, void *buf, size_t len)
{
	struct rfile *rf;
	ssize_t r;

	run_init();
	if (!(rf = run_enter(fd)))
		return real.read(fd, buf, len);
	r = at_offset(rf, fd, buf, len, false);
	run_leave(rf);
	return r;
}

EXPORT ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen)
{
	(void)buflen;
	return read(fd, buf, len);
}

EXPORT ssize_t write(int fd, const void *buf, size_t len)
{
	struct rfile *rf;
	ssize_t r;

	run_init();
	if (!(rf = run_enter(fd)))
		return real.write(fd, buf, len);
	r = at_offset(rf, fd, (void *)buf, len, true);
	run_leave(rf);
	return r;
}

EXPORT ssize_t pread(int fd, void *buf, size_t len, off_t off)
{
	struct rfile *rf;
	ssize_t r;

	run_init();
	if (!(rf = run_enter(fd)))
		return real.pread(fd, buf, len, off);
	r = run_pread(rf, buf, len, off);
	run_leave(rf);
	return r == RUN_FALLBACK ? real.pread(fd, buf, len, off) : ret(r);
}
ssize_t pread64(int fd, void *buf, size_t len, off_t off) ALIAS(pread);

EXPORT ssize_t __pread_chk(int fd, void *buf, size_t len, off_t off, size_t buflen)
{
	(void)buflen;
	return pread(fd, buf, len, off);
}
ssize_t __pread64_chk(int fd, void *buf, size_t len, off_t off, size_t buflen)
	ALIAS(__pread_chk);

EXPORT ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	struct rfile *rf;
	ssize_t r;

	run_init();
	if (!(rf = run_enter(fd)))
		return real.pwrite(fd, buf, len, off);
	/* Linux appends with O_APPEND whatever the offset, which stays */
	bool append = appends(rf, fd);

	r = run_pwrite(rf, buf, len, off, append ? &off : NULL);
	if (r == RUN_FALLBACK)
		to_kernel(rf, fd, append);
	run_leave(rf);
	return r == RUN_FALLBACK ? real.pwrite(fd, buf, len, off) : ret(r);
}
ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off) ALIAS(pwrite);

/* The vectors one segment after another at pos; a segment the library
 * cannot serve goes through the real call. A short segment ends it. */
static ssize_t vec(struct rfile *rf, int fd, const struct iovec *iov, int cnt, off_t pos, bool write)
{
	ssize_t total = 0;

	if (cnt < 0 || cnt > IOV_MAX)
		return -EINVAL;
	for (int i = 0; i < cnt; i++) {
		ssize_t r;

		if (iov[i].iov_len == 0)
			continue;
		r = write ? run_pwrite(rf, iov[i].iov_base, iov[i].iov_len, pos + total, NULL)
			  : run_pread(rf, iov[i].iov_base, iov[i].iov_len, pos + total);
		if (r == RUN_FALLBACK) {
			rf->fell_back |= write;
			r = write ? real.pwrite(fd, iov[i].iov_base, iov[i].iov_len, pos + total)
				  : real.pread(fd, iov[i].iov_base, iov[i].iov_len, pos + total);
			if (r < 0)
				r = -errno;
		}
		if (r < 0)
			return total ? total : r;
		total += r;
		if ((size_t)r < iov[i].iov_len)
			break;
	}
	return total;
}

static ssize_t vec_at_offset(struct rfile *rf, int fd, const struct iovec *iov, int cnt, bool write)
{
	ssize_t r;
	off_t pos;

	const bool append = write && appends(rf, fd);

	if (shared_offset(rf) || append) {
		if (!write)
			return real.readv(fd, iov, cnt);
		to_kernel(rf, fd, append);
		return real.writev(fd, iov, cnt);
	}
	pthread_mutex_lock(&rf->pos);
	pos = real.lseek(fd, 0, SEEK_CUR);
	if (pos < 0) {
		rf->fell_back |= write;
		r = write ? real.writev(fd, iov, cnt) : real.readv(fd, iov, cnt);
	} else {
		r = vec(rf, fd, iov, cnt, pos, write);
		if (r > 0)
			(void)real.lseek(fd, pos + r, SEEK_SET);
		r = ret(r);
	}
	pthread_mutex_unlock(&rf->pos);
	return r;
}

EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	struct rfile *rf;
	ssize_t r;

	run_init();
	if (!(rf = run_enter(fd)))
		return real.readv(fd, iov, cnt);
	r = vec_at_offset(rf, fd, iov, cnt, false);
	run_leave(rf);
	return r;
}

EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	struct rfile *rf;
	ssize_t r;

	run_init();
	if (!(rf = run_enter(fd)))
		return real.writev(fd, iov, cnt);
	r = vec_at_offset(rf, fd, iov, cnt, true);
	run_leave(rf);
	return r;
}

EXPORT ssize_t preadv(int fd, const struct iovec *iov, int cnt, off_t off)
{
	struct rfile *rf;
	ssize_t r;

	run_init();
	if (!(rf = run_enter(fd)))
		return real.preadv(fd, iov, cnt, off);
	r = off < 0 ? -EINVAL : vec(rf, fd, iov, cnt, off, false);
	run_leave(rf);
	return ret(r);
}
ssize_t preadv64(int fd, const struct iovec *iov, int cnt, off_t off) ALIAS(preadv);

EXPORT ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	struct rfile *rf;
	ssize_t r;

	run_init();
	if (!(rf = run_enter(fd)))
		return real.pwritev(fd, iov, cnt, off);
	if (appends(rf, fd)) {
		to_kernel(rf, fd, true);
		run_leave(rf);
		return real.pwritev(fd, iov, cnt, off);
	}
	r = off < 0 ? -EINVAL : vec(rf, fd, iov, cnt, off, true);
	run_leave(rf);
	return ret(r);
}
ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off_t off) ALIAS(pwritev);

EXPORT ssize_t preadv2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	run_init();
	if (flags)      /* RWF_* hints and modes: the kernel's */
		return real.preadv2(fd, iov, cnt, off, flags);
	return off == -1 ? readv(fd, iov, cnt) : preadv(fd, iov, cnt, off);
}
ssize_t preadv64v2(int fd, const struct iovec *iov, int cnt, off_t off, int flags) ALIAS(preadv2);

EXPORT ssize_t pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	run_init();
	if (flags)
		return real.pwritev2(fd, iov, cnt, off, flags);
	return off == -1 ? writev(fd, iov, cnt) : pwritev(fd, iov, cnt, off);
}
ssize_t pwritev64v2(int fd, const struct iovec *iov, int cnt, off_t off, int flags) ALIAS(pwritev2);

/* ---- durability and metadata -------------------------------------------------- */

/* Served files whose every write went through us need one request to the
 * daemon; the rest the real call. */
static int sync_fd(int fd, bool data_only)
{
	struct rfile *rf;
	int r = RUN_FALLBACK;

	run_init();
	if ((rf = run_enter(fd))) {
		r = rf->fell_back ? (run_fsync(rf, data_only), RUN_FALLBACK) : run_fsync(rf, data_only);
		run_leave(rf);
	}
	if (r != RUN_FALLBACK)
		return 0;
	return data_only ? real.fdatasync(fd) : real.fsync(fd);
}

EXPORT int fsync(int fd)
{
	return sync_fd(fd, false);
}

EXPORT int fdatasync(int fd)
{
	return sync_fd(fd, true);
}

EXPORT int ftruncate(int fd, off_t len)
{
	struct rfile *rf;
	int r;

	run_init();
	r = real.ftruncate(fd, len);
	if (r == 0 && (rf = run_enter(fd))) {
		run_truncated(rf->ri, (uint64_t)len);
		run_leave(rf);
	}
	return r;
}
int ftruncate64(int fd, off_t len) ALIAS(ftruncate);

/* This process's own stat sees the times its writes marked. */
static void push_before_stat(int r, const struct stat *st, bool *again)
{
	*again = r == 0 && S_ISREG(st->st_mode) && run_push_times_of(st->st_dev, st->st_ino);
}

EXPORT int fstat(int fd, struct stat *st)
{
	bool again;
	int r;

	run_init();
	r = real.fstat(fd, st);
	push_before_stat(r, st, &again);
	return again ? real.fstat(fd, st) : r;
}
EXPORT int fstat64(int fd, struct stat64 *st)
{
	return fstat(fd, (struct stat *)st);
}

EXPORT int stat(const char *path, struct stat *st)
{
	bool again;
	int r;

	run_init();
	r = real.stat(path, st);
	push_before_stat(r, st, &again);
	return again ? real.stat(path, st) : r;
}
EXPORT int stat64(const char *path, struct stat64 *st)
{
	return stat(path, (struct stat *)st);
}

EXPORT int lstat(const char *path, struct stat *st)
{
	bool again;
	int r;

	run_init();
	r = real.lstat(path, st);
	push_before_stat(r, st, &again);
	return again ? real.lstat(path, st) : r;
}
EXPORT int lstat64(const char *path, struct stat64 *st)
{
	return lstat(path, (struct stat *)st);
}

EXPORT int fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	bool again;
	int r;

	run_init();
	r = real.fstatat(dirfd, path, st, flags);
	push_before_stat(r, st, &again);
	return again ? real.fstatat(dirfd, path, st, flags) : r;
}
EXPORT int fstatat64(int dirfd, const char *path, struct stat64 *st, int flags)
{
	return fstatat(dirfd, path, (struct stat *)st, flags);
}

/* ---- mappings ---------------------------------------------------------------- */

EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	struct rfile *rf;
	void *at = NULL;

	run_init();
	if (!(flags & MAP_ANONYMOUS) && (rf = run_enter(fd))) {
		at = run_mmap(rf, addr, len, prot, flags, off);
		run_leave(rf);
	}
	if (at)
		return at;
	return real.mmap(addr, len, prot, flags, fd, off);
}
void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off) ALIAS(mmap);

EXPORT int munmap(void *addr, size_t len)
{
	int r;

	run_init();
	r = real.munmap(addr, len);
	if (r == 0)
		run_unmapped(addr, len);
	return r;
}

EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	void *new_addr = NULL, *at;

	run_init();
	if (flags & MREMAP_FIXED) {
		va_list ap;

		va_start(ap, flags);
		new_addr = va_arg(ap, void *);
		va_end(ap);
	}
	at = run_mremap(old, old_len, new_len, flags, new_addr);
	if (at)
		return at;
	return real.mremap(old, old_len, new_len, flags, new_addr);
}

EXPORT int msync(void *addr, size_t len, int flags)
{
	run_init();
	return run_msync(addr, len, flags);
}
