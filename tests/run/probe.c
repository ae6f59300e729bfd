/* tests/run/probe.c - small programs the daxfs-run tests run under it: threads, fork, exec, MAP_SYNC, faults */
#include <errno.h>
#include <fcntl.h>
#include <libpmem.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif

/*
 * usage: probe COMMAND PATH [ARGS]; prints what it saw, exits 0 unless a
 * check failed (then 1 with the reason on stderr).
 *   threads PATH N       N threads pwrite and read back their own 64 KiB
 *   fork PATH            parent and child write() through one shared fd
 *   exec PATH            an inherited descriptor is used after exec
 *   read-fd FD N         (exec's second half) reads N bytes at the offset
 *   mapsync PATH LEN     MAP_SHARED_VALIDATE|MAP_SYNC, stores, munmap
 *   mremap PATH          grows a shared mapping with MREMAP_MAYMOVE
 *   touch PATH OFF       loads a byte of a shared mapping (SIGBUS: "sigbus")
 *   hold PATH LEN        maps LEN bytes shared (its SIGBUS handler installed first), says
 *                        "mapped", then per line of stdin: "load OFF" ("loaded B" or
 *                        "sigbus"), "scan" (the distinct bytes of every page, "-" for
 *                        a page that raises SIGBUS), "pread OFF LEN" ("read N")
 *   late PATH            maps 2 pages, then sets its SIGBUS handler with signal(); per line
 *                        of stdin loads the second page ("loaded B" or "sigbus")
 *   pread PATH OFF LEN   "ok N" or "errno NAME"
 *   pmem PATH            libpmem's pmem_map_file: is_pmem, then a persisted store
 *   signals PATH         reads and writes while a 20 us timer's handler reads the file
 *   sigclose PATH        opens, reads and closes PATH in a loop while a 0.5 ms timer's handler
 *                        opens, reads and closes it too: "sigclose handled ok"
 *   forkwrite PATH N     forks N times while a thread write()s 1 MiB at a time: "no child
 *                        hung in N forks"
 */

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

struct job {
	int fd, id;
};

static void *thread_main(void *arg)
{
	struct job *j = arg;
	unsigned char buf[65536], back[65536];

	for (int round = 0; round < 50; round++) {
		memset(buf, j->id * 16 + round, sizeof(buf));
		off_t off = (off_t)j->id * (off_t)sizeof(buf);

		if (pwrite(j->fd, buf, sizeof(buf), off) != (ssize_t)sizeof(buf))
			fail("thread %d: pwrite: %s", j->id, strerror(errno));
		if (pread(j->fd, back, sizeof(back), off) != (ssize_t)sizeof(back) ||
		    memcmp(buf, back, sizeof(buf)))
			fail("thread %d: read back differs in round %d", j->id, round);
	}
	return NULL;
}

static int threads(const char *path, int n)
{
	pthread_t t[64];
	struct job j[64];
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || n > 64)
		fail("open: %s", strerror(errno));
	for (int i = 0; i < n; i++) {
		j[i] = (struct job){ fd, i };
		pthread_create(&t[i], NULL, thread_main, &j[i]);
	}
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	close(fd);
	printf("threads ok\n");
	return 0;
}

static int do_fork(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644), st;
	pid_t pid;

	if (fd < 0 || write(fd, "parent1,", 8) != 8)
		fail("open/write: %s", strerror(errno));
	if ((pid = fork()) == 0) {
		/* the shared offset: the child's write follows the parent's */
		if (write(fd, "child,", 6) != 6)
			_exit(1);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail("child failed");
	if (write(fd, "parent2", 7) != 7)
		fail("write: %s", strerror(errno));
	char buf[64] = { 0 };
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	printf("%zd %s\n", n, buf);
	return 0;
}

static int do_exec(const char *self, const char *path)
{
	int fd = open(path, O_RDWR);
	char fds[16];

	if (fd < 0 || lseek(fd, 4, SEEK_SET) != 4)
		fail("open: %s", strerror(errno));
	snprintf(fds, sizeof(fds), "%d", fd);
	execl(self, self, "read-fd", fds, "8", (char *)NULL);
	fail("exec: %s", strerror(errno));
}

static int read_fd(int fd, size_t n)
{
	char buf[256] = { 0 };

	if (n >= sizeof(buf) || read(fd, buf, n) != (ssize_t)n)
		fail("read: %s", strerror(errno));
	if (write(fd, "EXEC", 4) != 4)
		fail("write: %s", strerror(errno));
	printf("%s\n", buf);
	return 0;
}

static int mapsync(const char *path, size_t len)
{
	int fd = open(path, O_RDWR | O_CREAT, 0644);
	char *m;

	if (fd < 0 || ftruncate(fd, (off_t)len) < 0)
		fail("open: %s", strerror(errno));
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED_VALIDATE | MAP_SYNC, fd, 0);
	if (m == MAP_FAILED) {
		printf("mapsync errno %d\n", errno);
		return 0;
	}
	for (size_t i = 0; i < len; i += 4096)
		m[i] = (char)('a' + (i / 4096) % 26);
	if (msync(m, len, MS_SYNC) < 0 || munmap(m, len) < 0)
		fail("msync/munmap: %s", strerror(errno));
	close(fd);
	printf("mapsync ok\n");
	return 0;
}

static int do_mremap(const char *path)
{
	int fd = open(path, O_RDWR);
	char *m, *m2;
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < 3 * 4096)
		fail("open: %s", strerror(errno));
	m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	m[0] = 'A';
	m2 = mremap(m, 4096, 3 * 4096, MREMAP_MAYMOVE);
	if (m2 == MAP_FAILED)
		fail("mremap: %s", strerror(errno));
	m2[2 * 4096] = 'C';
	if (mprotect(m2, 3 * 4096, PROT_READ) < 0)
		fail("mprotect: %s", strerror(errno));
	printf("%c%c%c\n", m2[0], m2[4096], m2[2 * 4096]);
	munmap(m2, 3 * 4096);
	return 0;
}

static sigjmp_buf jb;

static void on_bus(int sig)
{
	(void)sig;
	siglongjmp(jb, 1);
}

static int touch(const char *path, off_t off)
{
	int fd = open(path, O_RDWR);
	volatile char *m;
	off_t base = off & ~(off_t)4095;

	if (fd < 0)
		fail("open: %s", strerror(errno));
	m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, base);
	if (m == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	signal(SIGBUS, on_bus);
	if (sigsetjmp(jb, 1) == 0) {
		char c = m[off - base];

		printf("loaded %d\n", c);
	} else {
		printf("sigbus\n");
	}
	return 0;
}

/* One byte of m, or -1 when the load raises SIGBUS. */
static int load(volatile char *m)
{
	if (sigsetjmp(jb, 1) == 0)
		return (unsigned char)*m;
	return -1;
}

/* The distinct bytes of the page at m ('0' for NUL) in cur, or "-". */
static void scan_page(volatile char *m, char *cur)
{
	bool seen[256] = { false };
	size_t n = 0;

	if (sigsetjmp(jb, 1) == 0) {
		for (size_t i = 0; i < 4096; i++) {
			unsigned char c = (unsigned char)m[i];

			if (!seen[c]) {
				seen[c] = true;
				cur[n++] = c ? (char)c : '0';
			}
		}
		cur[n] = '\0';
	} else {
		strcpy(cur, "-");
	}
}

static int hold(const char *path, size_t len)
{
	struct sigaction sa = { .sa_handler = on_bus };
	int fd = open(path, O_RDWR);
	char line[128], *buf = malloc(len);
	volatile char *m;

	sigaction(SIGBUS, &sa, NULL);
	if (fd < 0 || !buf)
		fail("open: %s", strerror(errno));
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	printf("mapped\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		unsigned long a, b;

		if (sscanf(line, "load %lu", &a) == 1 && a < len) {
			int c = load(m + a);

			c < 0 ? printf("sigbus\n") : printf("loaded %d\n", c);
		} else if (strcmp(line, "scan\n") == 0) {
			/* runs of pages alike: "BYTES xN" */
			char prev[260] = "", cur[260];
			unsigned run = 0;

			for (size_t pg = 0; pg < len / 4096; pg++) {
				scan_page(m + pg * 4096, cur);
				if (run && strcmp(cur, prev) != 0) {
					printf("%s x%u ", prev, run);
					run = 0;
				}
				strcpy(prev, cur);
				run++;
			}
			printf("%s x%u\n", prev, run);
		} else if (sscanf(line, "pread %lu %lu", &a, &b) == 2 && b <= len) {
			printf("read %zd\n", pread(fd, buf, b, (off_t)a));
		} else {
			fail("hold: bad command %s", line);
		}
		fflush(stdout);
	}
	return 0;
}

static int late(const char *path)
{
	int fd = open(path, O_RDWR);
	char line[64];
	volatile char *m;

	if (fd < 0)
		fail("open: %s", strerror(errno));
	m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	if (signal(SIGBUS, on_bus) == SIG_ERR)
		fail("signal: %s", strerror(errno));
	printf("mapped\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		int c = load(m + 4096);

		c < 0 ? printf("sigbus\n") : printf("loaded %d\n", c);
		fflush(stdout);
	}
	return 0;
}

static int do_pread(const char *path, off_t off, size_t len)
{
	int fd = open(path, O_RDWR);
	char *buf = malloc(len);
	ssize_t n;

	if (fd < 0 || !buf)
		fail("open: %s", strerror(errno));
	n = pread(fd, buf, len, off);
	if (n < 0)
		printf("errno %s\n", errno == EIO ? "EIO" : strerror(errno));
	else
		printf("ok %zd\n", n);
	return 0;
}

static int do_pmem(const char *path)
{
	size_t len;
	int is_pmem;
	char *m = pmem_map_file(path, 0, 0, 0, &len, &is_pmem);

	if (!m)
		fail("pmem_map_file: %s", pmem_errormsg());
	if (is_pmem)
		pmem_memcpy_persist(m, "PMEM", 4);
	else
		memcpy(m, "MSYN", 4), pmem_msync(m, 4);
	printf("is_pmem %d len %zu\n", is_pmem, len);
	pmem_unmap(m, len);
	return 0;
}

static int sig_fd;
static volatile sig_atomic_t sig_calls, sig_bad;

static unsigned char pat(size_t i)
{
	return (unsigned char)(i * 7 + (i >> 12));
}

static void on_alarm(int sig)
{
	static unsigned char buf[4096];
	size_t at = (size_t)(sig_calls % 256) * 4096;

	(void)sig;
	sig_calls++;
	if (pread(sig_fd, buf, sizeof(buf), (off_t)at) != (ssize_t)sizeof(buf))
		sig_bad++;
	for (size_t i = 0; i < sizeof(buf); i++)
		if (buf[i] != pat(at + i))
			sig_bad++;
}

static int do_signals(const char *path)
{
	static unsigned char buf[65536], back[65536];
	struct itimerval it = { { 0, 20 }, { 0, 20 } };
	size_t size = 1 << 20;

	if ((sig_fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644)) < 0)
		fail("open: %s", strerror(errno));
	for (size_t off = 0; off < size; off += sizeof(buf)) {
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = pat(off + i);
		if (pwrite(sig_fd, buf, sizeof(buf), (off_t)off) != (ssize_t)sizeof(buf))
			fail("pwrite: %s", strerror(errno));
	}
	signal(SIGALRM, on_alarm);
	setitimer(ITIMER_REAL, &it, NULL);
	for (unsigned round = 0; round < 3000; round++) {
		size_t off = (size_t)(round * 40961) % (size - sizeof(buf));

		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = pat(off + i);
		if (pwrite(sig_fd, buf, sizeof(buf), (off_t)off) != (ssize_t)sizeof(buf) ||
		    pread(sig_fd, back, sizeof(back), (off_t)off) != (ssize_t)sizeof(back))
			fail("round %u: %s", round, strerror(errno));
		if (memcmp(buf, back, sizeof(buf)))
			fail("round %u: read back differs", round);
	}
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	printf("signals %s %s\n", sig_calls > 0 ? "handled" : "none", sig_bad ? "bad" : "ok");
	return 0;
}

static const char *close_path;

static void on_alarm_close(int sig)
{
	char c;
	int fd = open(close_path, O_RDONLY);

	(void)sig;
	sig_calls++;
	if (fd < 0 || read(fd, &c, 1) != 1 || c != 'x')
		sig_bad++;
	if (fd >= 0)
		close(fd);
}

static int sigclose(const char *path)
{
	struct itimerval it = { { 0, 500 }, { 0, 500 } };
	char buf[100];

	close_path = path;
	signal(SIGALRM, on_alarm_close);
	setitimer(ITIMER_REAL, &it, NULL);
	for (unsigned round = 0; round < 3000; round++) {
		int fd = open(path, O_RDONLY), dfd;

		if (fd < 0 || read(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf) || buf[99] != 'x')
			fail("round %u: %s", round, strerror(errno));
		if ((dfd = dup(fd)) < 0)
			fail("round %u: dup: %s", round, strerror(errno));
		close(dfd);
		close(fd);
	}
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	printf("sigclose %s %s\n", sig_calls > 0 ? "handled" : "none", sig_bad ? "bad" : "ok");
	return 0;
}

/* forkwrite: a thread keeps write()ing 1 MiB at the shared offset while
 * the main thread forks N times; each child reads and writes once and
 * exits. A child not gone after 5 s hangs. */
static int fw_fd;
static char fw_buf[1 << 20];

static void *fw_writer(void *arg)
{
	(void)arg;
	for (;;) {
		if (write(fw_fd, fw_buf, sizeof(fw_buf)) < 0)
			fail("write: %s", strerror(errno));
		if (lseek(fw_fd, 0, SEEK_CUR) > (16 << 20))
			lseek(fw_fd, 0, SEEK_SET);
	}
	return NULL;
}

static int forkwrite(const char *path, int n)
{
	pthread_t t;

	if ((fw_fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644)) < 0)
		fail("open %s: %s", path, strerror(errno));
	memset(fw_buf, 'w', sizeof(fw_buf));
	if (pthread_create(&t, NULL, fw_writer, NULL))
		fail("pthread_create");
	for (int i = 0; i < n; i++) {
		pid_t p = fork();
		int st, k;

		if (p < 0)
			fail("fork: %s", strerror(errno));
		if (p == 0) {
			char c[16];

			if (read(fw_fd, c, sizeof(c)) < 0 || write(fw_fd, "child", 5) != 5)
				_exit(1);
			_exit(0);
		}
		for (k = 0; k < 500 && waitpid(p, &st, WNOHANG) != p; k++)
			usleep(10000);
		if (k == 500) {
			printf("fork %d: the child hangs\n", i);
			kill(p, SIGKILL);
			waitpid(p, &st, 0);
			fflush(stdout);
			_exit(0);
		}
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			fail("fork %d: the child failed", i);
	}
	printf("no child hung in %d forks\n", n);
	fflush(stdout);
	_exit(0);       /* the writer thread goes with the process */
}

int main(int argc, char **argv)
{
	if (argc < 3)
		fail("usage: probe COMMAND PATH [ARGS]");
	if (strcmp(argv[1], "threads") == 0 && argc == 4)
		return threads(argv[2], atoi(argv[3]));
	if (strcmp(argv[1], "fork") == 0)
		return do_fork(argv[2]);
	if (strcmp(argv[1], "exec") == 0)
		return do_exec(argv[0], argv[2]);
	if (strcmp(argv[1], "read-fd") == 0 && argc == 4)
		return read_fd(atoi(argv[2]), (size_t)atoi(argv[3]));
	if (strcmp(argv[1], "mapsync") == 0 && argc == 4)
		return mapsync(argv[2], (size_t)atol(argv[3]));
	if (strcmp(argv[1], "mremap") == 0)
		return do_mremap(argv[2]);
	if (strcmp(argv[1], "touch") == 0 && argc == 4)
		return touch(argv[2], (off_t)atol(argv[3]));
	if (strcmp(argv[1], "late") == 0)
		return late(argv[2]);
	if (strcmp(argv[1], "hold") == 0 && argc == 4)
		return hold(argv[2], (size_t)atol(argv[3]));
	if (strcmp(argv[1], "pread") == 0 && argc == 5)
		return do_pread(argv[2], (off_t)atol(argv[3]), (size_t)atol(argv[4]));
	if (strcmp(argv[1], "sigclose") == 0)
		return sigclose(argv[2]);
	if (strcmp(argv[1], "signals") == 0)
		return do_signals(argv[2]);
	if (strcmp(argv[1], "pmem") == 0)
		return do_pmem(argv[2]);
	if (strcmp(argv[1], "forkwrite") == 0 && argc == 4)
		return forkwrite(argv[2], atoi(argv[3]));
	fail("probe: unknown command %s", argv[1]);
}
