/* harness.c - the unit tests' case runner, temporary directories and deferred cleanup */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daxfs/err.h"
#include "harness.h"

extern char **environ;

static struct defer {
	void (*fn)(void *);
	void *arg;
} *defers;
static size_t ndefer, defer_cap;
static char tmpdir[256];
static const char *current;

void t_report(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: %s: ", file, line, current ? current : "?");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

const char *t_msg(void)
{
	return daxfs_errormsg();
}

int t_msg_has(const char *s)
{
	return strstr(daxfs_errormsg(), s) != NULL;
}

void t_defer(void (*fn)(void *), void *arg)
{
	if (ndefer == defer_cap) {
		size_t cap = defer_cap ? 2 * defer_cap : 64;
		struct defer *d = realloc(defers, cap * sizeof(*d));

		if (!d) {
			fprintf(stderr, "harness: out of memory for deferred cleanups\n");
			abort();
		}
		defers = d;
		defer_cap = cap;
	}
	defers[ndefer].fn = fn;
	defers[ndefer].arg = arg;
	ndefer++;
}

const char *t_fmt(const char *fmt, ...)
{
	static char bufs[8][8192];
	static unsigned next;
	char *b = bufs[next++ % 8];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(b, sizeof(bufs[0]), fmt, ap);
	va_end(ap);
	return b;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path) < 0 ? -1 : 0;
}

static void rm_tmpdir(void *arg)
{
	if (nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
		fprintf(stderr, "harness: cannot remove %s: %s\n", tmpdir, strerror(errno));
	tmpdir[0] = '\0';
}

const char *t_tmpdir(void)
{
	const char *base = getenv("TMPDIR");

	if (tmpdir[0])
		return tmpdir;
	if (!base || !*base)
		base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(tmpdir, sizeof(tmpdir), "%s/daxfs-unit-XXXXXX", base);
	if (!mkdtemp(tmpdir)) {
		fprintf(stderr, "harness: mkdtemp %s: %s\n", tmpdir, strerror(errno));
		abort();
	}
	t_defer(rm_tmpdir, NULL);
	return tmpdir;
}

const char *t_path(const char *name)
{
	size_t len = strlen(t_tmpdir()) + strlen(name) + 2;
	char *p = malloc(len);

	if (!p)
		abort();
	snprintf(p, len, "%s/%s", tmpdir, name);
	t_defer(free, p);
	return p;
}

const char *t_file(const char *name, uint64_t size, int fill)
{
	const char *path = t_path(name);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	char buf[4096];
	uint64_t done = 0;

	if (fd < 0)
		return NULL;
	if (ftruncate(fd, (off_t)size) < 0)
		goto fail;
	memset(buf, fill, sizeof(buf));
	while (fill && done < size) {
		size_t n = size - done < sizeof(buf) ? (size_t)(size - done) : sizeof(buf);

		if (pwrite(fd, buf, n, (off_t)done) != (ssize_t)n)
			goto fail;
		done += n;
	}
	close(fd);
	return path;
fail:
	close(fd);
	return NULL;
}

int t_on_memory_fs(const char *path)
{
	struct statfs sfs;

	return statfs(path, &sfs) == 0 &&
	       (sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC);
}

static void unlink_path(void *arg)
{
	unlink(arg);
	free(arg);
}

const char *t_disk_file(const char *name, uint64_t size)
{
	const char *dirs[] = { getenv("TMPDIR"), "/var/tmp", "/tmp" };

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char *path;
		int fd;

		if (!dirs[i] || !*dirs[i] || access(dirs[i], W_OK) != 0 || t_on_memory_fs(dirs[i]))
			continue;
		if (asprintf(&path, "%s/daxfs-unit-%s-XXXXXX", dirs[i], name) < 0)
			abort();
		fd = mkstemp(path);
		if (fd < 0) {
			free(path);
			continue;
		}
		t_defer(unlink_path, path);
		if (ftruncate(fd, (off_t)size) < 0) {
			close(fd);
			return NULL;
		}
		close(fd);
		return path;
	}
	return NULL;
}

int t_reexec(const char *const *env, const char *const *args)
{
	char *argv[32], **envp;
	size_t nenv = 0, n = 0;
	int status;
	pid_t pid;

	argv[n++] = "/proc/self/exe";
	argv[n++] = "--child";
	for (; args && *args && n < 31; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;

	while (environ[nenv])
		nenv++;
	for (const char *const *e = env; e && *e; e++)
		nenv++;
	envp = calloc(nenv + 1, sizeof(*envp));
	if (!envp)
		abort();
	n = 0;
	for (char **e = environ; *e; e++) {
		int overridden = 0;

		for (const char *const *o = env; o && *o; o++) {
			size_t klen = strcspn(*o, "=");

			if (strncmp(*e, *o, klen) == 0 && (*e)[klen] == '=')
				overridden = 1;
		}
		if (!overridden)
			envp[n++] = *e;
	}
	for (const char *const *o = env; o && *o; o++)
		if (strchr(*o, '='))
			envp[n++] = (char *)*o;
	envp[n] = NULL;

	errno = posix_spawn(&pid, argv[0], NULL, NULL, argv, envp);
	free(envp);
	if (errno)
		return -1;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int selected(int argc, char **argv, const char *name)
{
	if (argc < 2)
		return 1;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return 1;
	return 0;
}

int t_main(int argc, char **argv, const struct t_case *cases, size_t n)
{
	size_t passed = 0, failed = 0, skipped = 0;

	for (size_t i = 0; i < n; i++) {
		int ret;

		if (!selected(argc, argv, cases[i].name))
			continue;
		current = cases[i].name;
		ret = cases[i].fn();
		while (ndefer) {
			ndefer--;
			defers[ndefer].fn(defers[ndefer].arg);
		}
		printf("%s %s\n", ret == T_PASS ? "PASS" : ret == T_SKIP ? "SKIP" : "FAIL",
		       cases[i].name);
		fflush(stdout);     /* in order with the reports on stderr */
		if (ret == T_PASS)
			passed++;
		else if (ret == T_SKIP)
			skipped++;
		else
			failed++;
	}
	current = NULL;
	printf("%zu passed, %zu failed, %zu skipped\n", passed, failed, skipped);
	if (failed)
		return 1;
	return passed == 0 && skipped ? 77 : 0;
}
