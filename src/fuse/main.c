/* fuse/main.c - daxfs-fuse: options, startup, backgrounding and the session loop */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "daxfs/dm.h"
#include "fuse/client.h"
#include "fuse/run.h"
#include "fuse/dfuse.h"
#include "fuse/pool.h"
#include "util/intr.h"

#ifndef DAXFS_VERSION
#define DAXFS_VERSION "unknown"
#endif

#define DFUSE_TIMEOUT 86400.0
/* Larger timeouts than this are as good as forever; the cap keeps the
 * kernel's jiffies arithmetic away from overflow. */
#define DFUSE_TIMEOUT_MAX 4294967295.0
/* Leases one user may hold: enough for an application mapping many files,
 * few enough that the daemon's records of them stay small. */
#define DFUSE_MAX_LEASES 256
#define DFUSE_MAX_LEASES_MAX 1048576
/* All workers busy this long (a request waits for another): one more. Long
 * enough that a burst of short requests never adds one, short next to what a
 * user would notice. */
#define DFUSE_POOL_STALL_US 5000
/* The longest look of a worker that has just replied for the next request
 * before it sleeps (fuse/pool.c; the look follows the gaps between requests
 * up to this): long enough for a program that does a little work between
 * its requests (an SQLite commit), as Linux's haltpoll governor polls at
 * most 200 us. At most a second. */
#define DFUSE_POLL_US 200
#define DFUSE_POLL_US_MAX 1000000

struct options {
	char *source;
	char *dax;
	int dax_legacy;		/* bare "-o dax", the old spelling of dax=always */
	int rdonly;
	char *commit;		/* commit=SECONDS */
	char *timeout;		/* timeout=SECONDS */
	int no_keep_cache;	/* no_keep_cache (keep_cache: the default) */
	char *readdirplus;	/* readdirplus=yes|no|auto */
	int writeback;		/* writeback_cache (no_writeback_cache: the default) */
	char *notify_store;	/* notify_store=BYTES */
	char *max_leases;	/* max_leases=N */
	char *poll_us;		/* poll_us=MICROSECONDS */
	char *max_threads;	/* max_threads=N (libfuse's, checked here) */
	char *max_idle_threads;	/* max_idle_threads=N (likewise) */
	char *dax_users;	/* dax_users=GROUP */
	int prealloc;		/* allocate the backing files whole at mount */
	int recover;		/* recover: replace a dead mount of another source */
	char *logfile;		/* logfile=PATH */
};

enum {
	KEY_RO,
	KEY_RW,
};

static const struct fuse_opt option_spec[] = {
	{ "dax=%s", offsetof(struct options, dax), 0 },
	{ "dax", offsetof(struct options, dax_legacy), 1 },
	{ "commit=%s", offsetof(struct options, commit), 0 },
	{ "timeout=%s", offsetof(struct options, timeout), 0 },
	{ "keep_cache", offsetof(struct options, no_keep_cache), 0 },
	{ "no_keep_cache", offsetof(struct options, no_keep_cache), 1 },
	{ "readdirplus=%s", offsetof(struct options, readdirplus), 0 },
	{ "writeback_cache", offsetof(struct options, writeback), 1 },
	{ "no_writeback_cache", offsetof(struct options, writeback), 0 },
	{ "notify_store=%s", offsetof(struct options, notify_store), 0 },
	{ "max_leases=%s", offsetof(struct options, max_leases), 0 },
	{ "poll_us=%s", offsetof(struct options, poll_us), 0 },
	{ "max_threads=%s", offsetof(struct options, max_threads), 0 },
	{ "max_idle_threads=%s", offsetof(struct options, max_idle_threads), 0 },
	{ "dax_users=%s", offsetof(struct options, dax_users), 0 },
	{ "prealloc", offsetof(struct options, prealloc), 1 },
	{ "recover", offsetof(struct options, recover), 1 },
	{ "logfile=%s", offsetof(struct options, logfile), 0 },
	FUSE_OPT_KEY("ro", KEY_RO),
	FUSE_OPT_KEY("rw", KEY_RW),
	/* fstab's placeholder, which mount.fuse3 passes on */
	FUSE_OPT_KEY("defaults", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_END
};

static void usage(const char *prog)
{
	printf("usage: %s [options] SOURCE MOUNTPOINT\n\n"
	       "Serves the daxfs filesystem on SOURCE (a device-mapper table file, or a\n"
	       "comma-separated list of pmem files, concatenated) at MOUNTPOINT.\n\n"
	       "daxfs-fuse options:\n"
	       "    -o dax=inode|always|never  use direct_access where the table allows it\n"
	       "                               (inode, the default), refuse a table that is\n"
	       "                               not DAX-capable (always), or serve all data\n"
	       "                               through the bio path (never)\n"
	       "    -o commit=SECONDS          batch metadata and commit it every SECONDS\n"
	       "                               (and at fsync); 0, the default, makes every\n"
	       "                               call durable when it returns, so sync(1)\n"
	       "                               and syncfs work\n"
	       "    -o timeout=SECONDS         entry, negative-entry and attribute timeout\n"
	       "                               (default 86400; 0: every stat asks the daemon)\n"
	       "    -o no_keep_cache           every open drops the file's cached pages\n"
	       "                               (default: keep_cache, they stay across opens)\n"
	       "    -o readdirplus=yes|no|auto list directories with attributes always,\n"
	       "                               never, or when the kernel sees lookups\n"
	       "                               follow (auto, the default)\n"
	       "    -o writeback_cache         the kernel caches writes; write() returns\n"
	       "                               before the data is durable (fsync makes it\n"
	       "                               so); refuses libdaxfs direct mappings\n"
	       "    -o notify_store=BYTES      opens of files up to BYTES (at most 1 MiB)\n"
	       "                               fill the page cache before the first read\n"
	       "                               (default 0: off)\n"
	       "    -o max_leases=N            direct-access leases (libdaxfs mappings) one\n"
	       "                               user may hold at once (default %u; root and\n"
	       "                               the user who mounted are not limited)\n"
	       "    -o dax_users=GROUP         hand members of GROUP descriptors of the\n"
	       "                               backing files for libdaxfs mappings of files\n"
	       "                               they may read: a grant of every file's data\n"
	       "                               (default: none; callers open the files\n"
	       "                               themselves)\n"
	       "    -o poll_us=MICROSECONDS    after a reply, with no other request in\n"
	       "                               service, a worker looks for the next one up to\n"
	       "                               this long before it sleeps, as long as recent\n"
	       "                               gaps between requests need (default %u; 0:\n"
	       "                               never), yielding to anything else that wants\n"
	       "                               the CPU\n"
	       "    -o prealloc                allocate sparse backing files whole before\n"
	       "                               mounting (posix_fallocate), so that no store\n"
	       "                               can fail for want of space (default: warn\n"
	       "                               when their holes exceed the free space)\n"
	       "    -o ro                      mount read-only\n"
	       "    -o recover                 a dead mount at MOUNTPOINT (its daemon was\n"
	       "                               killed) is unmounted first even when it\n"
	       "                               served another SOURCE (one of SOURCE is,\n"
	       "                               always)\n"
	       "    -o logfile=PATH            in the background, log to PATH (appended)\n"
	       "                               instead of syslog; with -f, once mounted\n"
	       "    -o allow_other             allow access by other users\n"
	       "default_permissions is always on: the kernel checks access modes.\n\n",
	       prog, DFUSE_MAX_LEASES, DFUSE_POLL_US);
	fuse_cmdline_help();
	fuse_lowlevel_help();
}

/* ro/rw stay in the arguments: the kernel mount needs them too. The first
 * non-option is SOURCE; the second (MOUNTPOINT) is left for libfuse. x-*
 * options are dropped. */
static int option_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct options *o = data;

	(void) outargs;
	switch (key) {
	case FUSE_OPT_KEY_NONOPT:
		if (o->source)
			return 1;
		o->source = strdup(arg);
		return o->source ? 0 : -1;
	case KEY_RO:
		o->rdonly = 1;
		return 1;
	case KEY_RW:
		o->rdonly = 0;
		return 1;
	case FUSE_OPT_KEY_OPT:
		/* fstab's comments for other programs (x-systemd.*), which
		 * mount.fuse3 passes on: not ours, and not the kernel's */
		return strncmp(arg, "x-", 2) == 0 ? 0 : 1;
	default:
		return 1;
	}
}

/* A whole number without sign from 0 to max. */
static bool parse_whole(const char *s, unsigned long long max, unsigned long long *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	return s[0] >= '0' && s[0] <= '9' && !*end && !errno && *out <= max;
}

struct choice {
	const char *name;
	int value;
};

/* opt=val, one of n named choices; the error lists them. */
static int parse_choice(const char *opt, const char *val, const struct choice *c, size_t n,
			int *out)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(val, c[i].name) == 0) {
			*out = c[i].value;
			return 0;
		}
	}
	fprintf(stderr, "daxfs-fuse: invalid option %s=%s: expected ", opt, val);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%s%s=%s", i == 0 ? "" : i + 1 < n ? ", " : " or ", opt, c[i].name);
	fputc('\n', stderr);
	return -1;
}

static int parse_dax(const struct options *o, enum dfs_dax_mode *out)
{
	static const struct choice modes[] = {
		{ "inode", DFS_DAX_INODE },
		{ "always", DFS_DAX_ALWAYS },
		{ "never", DFS_DAX_NEVER },
	};
	int mode = o->dax_legacy ? DFS_DAX_ALWAYS : DFS_DAX_INODE;

	if (o->dax && parse_choice("dax", o->dax, modes, sizeof(modes) / sizeof(modes[0]), &mode))
		return -1;
	*out = (enum dfs_dax_mode)mode;
	return 0;
}

/* Option name=value (dflt when it is not given), a whole number up to max;
 * a bad one is refused with what was expected: "<expected> to <max>". */
static int whole_option(const char *name, const char *value, unsigned long long max,
			unsigned long long dflt, const char *expected, unsigned long long *out)
{
	*out = dflt;
	if (value && !parse_whole(value, max, out)) {
		fprintf(stderr, "daxfs-fuse: invalid option %s=%s: expected %s to %llu\n", name, value,
			expected, max);
		return -1;
	}
	return 0;
}

/* commit=SECONDS: whole seconds, as ext4's, up to DFS_COMMIT_MAX_MS. */
static int parse_commit(const struct options *o, unsigned *ms)
{
	unsigned long long s;

	if (whole_option("commit", o->commit, DFS_COMMIT_MAX_MS / 1000, 0,
			 "whole seconds from 0 (every call durable)", &s))
		return -1;
	*ms = (unsigned)s * 1000;
	return 0;
}

/* timeout=SECONDS: a decimal number of seconds, fractions allowed. */
static int parse_timeout(const struct options *o, double *out)
{
	double t;
	char *end;

	*out = DFUSE_TIMEOUT;
	if (!o->timeout)
		return 0;
	errno = 0;
	t = strtod(o->timeout, &end);
	/* strtod takes "inf", "nan" and hex; seconds are plain digits. */
	if (!o->timeout[0] || *end || errno || strspn(o->timeout, "0123456789.") !=
	    strlen(o->timeout) || !(t >= 0 && t <= DFUSE_TIMEOUT_MAX)) {
		fprintf(stderr, "daxfs-fuse: invalid option timeout=%s: expected seconds from 0 "
			"to %.0f, such as 86400 or 0.5\n", o->timeout, DFUSE_TIMEOUT_MAX);
		return -1;
	}
	*out = t;
	return 0;
}

static int parse_readdirplus(const struct options *o, enum dfuse_readdirplus *out)
{
	static const struct choice modes[] = {
		{ "yes", DFUSE_RDP_YES },
		{ "no", DFUSE_RDP_NO },
		{ "auto", DFUSE_RDP_AUTO },
	};
	int mode = DFUSE_RDP_AUTO;

	if (o->readdirplus && parse_choice("readdirplus", o->readdirplus, modes,
					   sizeof(modes) / sizeof(modes[0]), &mode))
		return -1;
	*out = (enum dfuse_readdirplus)mode;
	return 0;
}

/* poll_us=MICROSECONDS: whole microseconds, up to a second. */
static int parse_poll_us(const struct options *o, unsigned *out)
{
	unsigned long long us;

	if (whole_option("poll_us", o->poll_us, DFUSE_POLL_US_MAX, DFUSE_POLL_US,
			 "whole microseconds from 0 (never)", &us))
		return -1;
	*out = (unsigned)us;
	return 0;
}

/* notify_store=BYTES: whole bytes, up to one FUSE transfer. */
static int parse_notify_store(const struct options *o, uint64_t *out)
{
	unsigned long long b;

	if (whole_option("notify_store", o->notify_store, DFUSE_MAX_IO, 0,
			 "a size in bytes from 0 (off)", &b))
		return -1;
	*out = b;
	return 0;
}

/* max_leases=N: a whole number of leases. */
static int parse_max_leases(const struct options *o, unsigned *out)
{
	unsigned long long n;

	if (whole_option("max_leases", o->max_leases, DFUSE_MAX_LEASES_MAX, DFUSE_MAX_LEASES,
			 "a number of leases from 0 (no direct access for other users)", &n))
		return -1;
	*out = (unsigned)n;
	return 0;
}

/* max_threads=N and max_idle_threads=N: libfuse 3.14 reads them with %u,
 * so -1 would mean four billion threads and 0 one; here they are whole
 * numbers in range, or the mount is refused. */
#define DFUSE_THREADS_MAX 100000      /* libfuse's later FUSE_LOOP_MT_MAX_THREADS */
static int parse_threads(const struct options *o, struct fuse_cmdline_opts *copts)
{
	unsigned long long n;

	if (whole_option("max_threads", o->max_threads, DFUSE_THREADS_MAX, copts->max_threads,
			 "a number of threads from 1", &n))
		return -1;
	if (n == 0) {
		fprintf(stderr, "daxfs-fuse: invalid option max_threads=%s: expected a number of "
			"threads from 1 to %u\n", o->max_threads, DFUSE_THREADS_MAX);
		return -1;
	}
	copts->max_threads = (unsigned)n;
	if (!o->max_idle_threads)
		return 0;
	if (whole_option("max_idle_threads", o->max_idle_threads, DFUSE_THREADS_MAX, 0,
			 "a number of threads from 0", &n))
		return -1;
	copts->max_idle_threads = (unsigned)n;
	return 0;
}

/* dax_users=GROUP: a group name, or a number. */
static int parse_dax_users(const struct options *o, gid_t *out)
{
	unsigned long long gid;
	struct group gr, *res = NULL;
	char buf[16384];
	int err;

	if (!o->dax_users)
		return 0;
	if (parse_whole(o->dax_users, (gid_t)-2, &gid)) {
		*out = (gid_t)gid;
		return 0;
	}
	err = getgrnam_r(o->dax_users, &gr, buf, sizeof(buf), &res);
	if (!res) {
		fprintf(stderr, "daxfs-fuse: invalid option dax_users=%s: %s\n", o->dax_users,
			err ? strerror(err) : "no such group");
		return -1;
	}
	*out = gr.gr_gid;
	return 0;
}

/* "-o fsname=SOURCE", with the commas and backslashes of SOURCE escaped as
 * libfuse's option splitter expects. */
static int add_fsname(struct fuse_args *args, const char *source)
{
	static const char prefix[] = "-ofsname=";
	size_t len = strlen(source);
	char *opt = malloc(sizeof(prefix) + 2 * len);
	char *p;
	int ret;

	if (!opt)
		return -1;
	p = stpcpy(opt, prefix);
	for (const char *s = source; *s; s++) {
		if (*s == ',' || *s == '\\')
			*p++ = '\\';
		*p++ = *s;
	}
	*p = '\0';
	/* Inserted first, so that the user's own fsname= (later) wins. */
	ret = fuse_opt_insert_arg(args, 1, opt);
	free(opt);
	return ret;
}

static const char *why(int err)
{
	const char *msg = daxfs_errormsg();

	return msg[0] ? msg : strerror(-err);
}

/* Whoever may read a member file reads every file's data on it, whatever
 * the files' own permissions, and whoever may write it changes any of it:
 * said once per file, as a warning (a test machine may mean it; -o
 * dax_users is the way to give other users direct access). */
static void warn_open_members(struct dfuse *df)
{
	struct dfs_member_info *m = NULL;
	unsigned n = 0;

	if (dfs_read_members(df->md, &m, &n) < 0)
		return;         /* the mount says why */
	for (unsigned i = 0; i < n; i++) {
		struct stat st;
		bool seen = false;

		if (!m[i].path || stat(m[i].path, &st) < 0 || !(st.st_mode & (S_IROTH | S_IWOTH)))
			continue;
		for (unsigned k = 0; k < i && !seen; k++)
			seen = m[k].path && strcmp(m[k].path, m[i].path) == 0;
		if (seen)
			continue;
		bool r = st.st_mode & S_IROTH, w = st.st_mode & S_IWOTH;

		fprintf(stderr, "daxfs-fuse: warning: %s: every user may %s it (mode %04o), and so "
			"%s every file's data whatever its permissions; chmod o-rw it\n", m[i].path,
			r && w ? "read and write" : r ? "read" : "write",
			(unsigned)(st.st_mode & 07777),
			r && w ? "read and change" : r ? "read" : "change");
	}
	free(m);
}

/* Opens SOURCE, locks every backing file against a second mount, mounts the
 * filesystem. Errors go to stderr: nothing is mounted yet. */
static int mount_fs(const struct options *o, enum dfs_dax_mode dax, unsigned commit_ms,
		    struct dfuse *df)
{
	struct dfs_mount_opts mopts = {
		.rdonly = o->rdonly != 0,
		.dax = dax,
		.commit_interval_ms = commit_ms,
	};
	struct dm_ioctl_result res;
	int err;

	/* a block device mounted or held by anyone else is refused */
	err = dm_ioctl(NULL, &(struct dm_ioctl_req){ .cmd = DM_IOC_DEV_CREATE, .name = "daxfs",
						     .text = o->source, .flags = DM_IOC_F_EXCL },
		       &res);
	df->md = res.md;
	dm_ioctl_result_free(&res);
	if (err < 0) {
		const char *msg = why(err);

		/* the library's messages mostly start with the file they are about */
		if (strncmp(msg, o->source, strlen(o->source)) == 0)
			fprintf(stderr, "daxfs-fuse: %s\n", msg);
		else
			fprintf(stderr, "daxfs-fuse: %s: %s\n", o->source, msg);
		return err;
	}
	if ((err = dfuse_dm(df, &(struct dm_ioctl_req){ .cmd = DM_IOC_DEV_CLAIM })) < 0) {
		fprintf(stderr, "daxfs-fuse: %s\n", why(err));
		goto fail;
	}
	/* A sparse backing file provides a page only when its filesystem has
	 * a block for it: found here, not at the store that fails (with EIO,
	 * the daemon serving on). Overcommitting is a choice, as with a thin
	 * pool, so it is a warning; -o prealloc removes the risk. */
	if (o->prealloc) {
		err = dfuse_dm(df, &(struct dm_ioctl_req){ .cmd = DM_IOC_DEV_BACKING,
							   .flags = DM_IOC_F_PREALLOC });
		if (err < 0) {
			fprintf(stderr, "daxfs-fuse: -o prealloc: %s\n", why(err));
			goto fail;
		}
	} else if ((err = dfuse_dm(df, &(struct dm_ioctl_req){ .cmd = DM_IOC_DEV_BACKING })) < 0) {
		fprintf(stderr, "daxfs-fuse: warning: %s%s\n", why(err),
			err == -ENOSPC ? "; -o prealloc allocates the files at mount" : "");
	}
	warn_open_members(df);
	err = dfs_mount(df->md, &mopts, &df->fs);
	if (err < 0) {
		fprintf(stderr, "daxfs-fuse: cannot mount %s: %s\n", o->source, why(err));
		goto fail;
	}
	return 0;
fail:
	dfuse_dm_destroy(df);
	return err;
}

static bool log_debug;

/* libfuse's default logger prints every level; debug lines (the errno of
 * each failed request) only with -d. */
__attribute__((format(printf, 2, 0)))
static void log_stderr(enum fuse_log_level level, const char *fmt, va_list ap)
{
	if (level == FUSE_LOG_DEBUG && !log_debug)
		return;
	vfprintf(stderr, fmt, ap);
}

/* -o logfile: stderr is the file; each line gets the time and pid, as
 * syslog would add them. */
__attribute__((format(printf, 2, 0)))
static void log_file(enum fuse_log_level level, const char *fmt, va_list ap)
{
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;

	if (level == FUSE_LOG_DEBUG && !log_debug)
		return;
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", localtime_r(&now, &tm));
	flockfile(stderr);
	fprintf(stderr, "%s [%d] ", stamp, (int) getpid());
	vfprintf(stderr, fmt, ap);
	funlockfile(stderr);
}

/* From now on the log goes to log_fd (-o logfile). */
static void log_to_file(int log_fd)
{
	dup2(log_fd, STDERR_FILENO);
	close(log_fd);
	fuse_set_log_func(log_file);
}

__attribute__((format(printf, 2, 0)))
static void log_syslog(enum fuse_log_level level, const char *fmt, va_list ap)
{
	if (level == FUSE_LOG_DEBUG)
		return;
	vsyslog((int) level, fmt, ap);	/* the levels are syslog's */
}

/*
 * Forks at once and lets the child do all the work, so that threads the
 * filesystem starts at mount live in the process that serves the mount. The
 * parent waits until the child reports the mount ready (exit 0) or fails
 * (the child's exit status; its errors went to the shared stderr).
 * Returns the child's end of the readiness pipe, or -1.
 */
static int background(void)
{
	int fds[2];
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) != 0) {
		perror("daxfs-fuse: pipe");
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		perror("daxfs-fuse: fork");
		return -1;
	}
	if (pid > 0) {
		char c;
		ssize_t n;
		int status;

		close(fds[1]);
		do
			n = read(fds[0], &c, 1);
		while (n < 0 && errno == EINTR);
		if (n == 1)
			_exit(0);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		_exit(WIFEXITED(status) && WEXITSTATUS(status) ? WEXITSTATUS(status) : 1);
	}
	close(fds[0]);
	return fds[1];
}

/* The mount is up: detach from the terminal and release the parent. The
 * log goes to log_fd if there is one, else to syslog. */
static void background_ready(int fd, int log_fd)
{
	int null = open("/dev/null", O_RDWR);

	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
	if (log_fd >= 0) {
		log_to_file(log_fd);
	} else {
		openlog("daxfs-fuse", LOG_PID, LOG_DAEMON);
		fuse_set_log_func(log_syslog);
	}
	setsid();
	if (chdir("/") != 0)
		fuse_log(FUSE_LOG_WARNING, "daxfs-fuse: chdir /: %s\n", strerror(errno));
	if (write(fd, "", 1) != 1)
		fuse_log(FUSE_LOG_WARNING, "daxfs-fuse: cannot signal readiness: %s\n",
			 strerror(errno));
	close(fd);
}

static int serve(struct fuse_session *se, const struct fuse_cmdline_opts *copts,
		 unsigned poll_us)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	struct dfuse_pool_config cfg = {
		.max = copts->max_threads,
		.stall_us = DFUSE_POOL_STALL_US,
		.poll_us = poll_us,
	};

	if (copts->singlethread)
		return fuse_session_loop(se);
	/* as many hot workers as CPUs: more only take turns on them */
	if (copts->max_idle_threads != UINT_MAX)
		cfg.hot = copts->max_idle_threads;
	else
		cfg.hot = cpus < 2 ? 2 : (unsigned)cpus;
	if (cfg.hot > cfg.max)
		cfg.hot = cfg.max;
	daxfs_intr_set_wait_hook(dfuse_pool_waiting);
	return dfuse_pool_serve(se, &cfg);
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts copts = { 0 };
	struct options o = { 0 };
	struct dfuse df = { .timeout = DFUSE_TIMEOUT, .keep_cache = true };
	struct fuse_session *se = NULL;
	enum dfs_dax_mode dax;
	unsigned commit_ms, poll_us;
	int ready_fd = -1, log_fd = -1, fuse_fd = -1;
	int ret = 1;
	int err;

	fuse_set_log_func(log_stderr);
	if (fuse_opt_parse(&args, &o, option_spec, option_proc) != 0)
		goto out_args;
	/* the daemon works from /, and daxfs-ctl map reads SOURCE back from
	 * the mount table: both need it to mean the same from anywhere */
	if (o.source) {
		char *abs;

		if (dm_source_absolute(o.source, &abs) != 0) {
			fprintf(stderr, "daxfs-fuse: %s: %s\n", o.source, daxfs_errormsg());
			goto out_args;
		}
		free(o.source);
		o.source = abs;
	}
	if (fuse_opt_insert_arg(&args, 1, "-osubtype=daxfs-fuse") != 0 ||
	    fuse_opt_add_arg(&args, "-odefault_permissions") != 0 ||
	    fuse_opt_add_arg(&args, "-omax_read=1048576") != 0 ||
	    (o.source && add_fsname(&args, o.source) != 0)) {
		fprintf(stderr, "daxfs-fuse: out of memory\n");
		goto out_args;
	}
	if (fuse_parse_cmdline(&args, &copts) != 0)
		goto out_args;
	if (copts.show_help) {
		usage(argv[0]);
		ret = 0;
		goto out_args;
	}
	if (copts.show_version) {
		printf("daxfs-fuse version %s\n", DAXFS_VERSION);
		fflush(stdout);		/* before fusermount3 prints its own */
		fuse_lowlevel_version();
		ret = 0;
		goto out_args;
	}
	if (!o.source || !copts.mountpoint) {
		fprintf(stderr, "daxfs-fuse: missing %s\nusage: %s [options] SOURCE MOUNTPOINT\n"
			"See '%s --help'.\n", o.source ? "MOUNTPOINT" : "SOURCE and MOUNTPOINT",
			argv[0], argv[0]);
		goto out_args;
	}
	if (parse_dax(&o, &dax) != 0 || parse_commit(&o, &commit_ms) != 0 ||
	    parse_timeout(&o, &df.timeout) != 0 || parse_readdirplus(&o, &df.readdirplus) != 0 ||
	    parse_notify_store(&o, &df.notify_store) != 0 ||
	    parse_max_leases(&o, &df.max_leases) != 0 || parse_dax_users(&o, &df.dax_group) != 0 ||
	    parse_poll_us(&o, &poll_us) != 0 || parse_threads(&o, &copts) != 0)
		goto out_args;
	if (o.prealloc && o.rdonly) {
		fprintf(stderr, "daxfs-fuse: -o prealloc allocates the backing files, which a "
			"read-only mount leaves alone; use one or the other\n");
		goto out_args;
	}
	df.keep_cache = !o.no_keep_cache;
	df.writeback = o.writeback != 0;
	if (dfuse_store_new(&df) != 0) {
		fprintf(stderr, "daxfs-fuse: out of memory\n");
		goto out_args;
	}
	log_debug = copts.debug != 0;
	if (o.logfile) {
		log_fd = o.logfile[0] ? dfuse_open_log(o.logfile, 0640) : -ENOENT;
		if (log_fd < 0) {
			fprintf(stderr, "daxfs-fuse: invalid option logfile=%s: %s\n", o.logfile,
				o.logfile[0] ? dfuse_open_log_error(log_fd) : "expected a file name");
			log_fd = -1;
			goto out_args;
		}
	} else if (!copts.foreground && access("/dev/log", F_OK) != 0) {
		/* vsyslog drops every line without a word when nobody listens */
		fprintf(stderr, "daxfs-fuse: warning: no syslog on this machine (/dev/log): the "
			"daemon's messages will be lost; -o logfile=PATH keeps them\n");
		df.log_lost = true;
	}
	if (dfuse_mountpoint_prepare(copts.mountpoint, o.source, o.recover != 0) != 0)
		goto out_args;

	if (!copts.foreground) {
		ready_fd = background();
		if (ready_fd < 0)
			goto out_args;
	}
	/* Option errors first: they need no device. */
	se = fuse_session_new(&args, &dfuse_ops, sizeof(dfuse_ops), &df);
	if (!se)
		goto out_args;
	if (mount_fs(&o, dax, commit_ms, &df) != 0)
		goto out_session;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_fs;
	df.se = se;
	if (dfuse_ctl_start(&df) != 0) {
		fprintf(stderr, "daxfs-fuse: cannot start device control\n");
		goto out_signals;
	}
	if (dfuse_run_start(&df) != 0) {
		fprintf(stderr, "daxfs-fuse: %s\n", daxfs_errormsg());
		goto out_ctl;
	}
	/* The socket also hands daxfs-run its table, with or without dax_users. */
	if ((o.dax_users || df.run) &&
	    dfuse_grant_start(&df, df.dax_group, o.dax_users != NULL, &df.grant) != 0) {
		fprintf(stderr, "daxfs-fuse: %s\n", daxfs_errormsg());
		goto out_ctl;
	}
	if (fuse_session_mount(se, copts.mountpoint) != 0)
		goto out_grant;
	if ((err = dfuse_rawio_start(&df)) < 0) {
		fprintf(stderr, "daxfs-fuse: cannot set up the session's I/O: %s\n", strerror(-err));
		fuse_session_unmount(se);
		goto out_grant;
	}
	dfuse_identify(&df, copts.mountpoint);
	/* Kept open until the devices are closed, and the devices marked: a
	 * mount of the same files right after our unmount then sees that this
	 * connection has ended and waits for us (dax_device_lock). */
	fuse_fd = fcntl(fuse_session_fd(se), F_DUPFD_CLOEXEC, 3);
	if (fuse_fd >= 0 && dfuse_dm(&df, &(struct dm_ioctl_req){ .cmd = DM_IOC_DEV_MARK_MOUNTED }) < 0)
		fuse_log(FUSE_LOG_WARNING, "daxfs-fuse: %s\n", daxfs_errormsg());
	if (ready_fd >= 0) {
		background_ready(ready_fd, log_fd);
		ready_fd = log_fd = -1;
	} else if (log_fd >= 0) {
		log_to_file(log_fd);
		log_fd = -1;
	}

	err = serve(se, &copts, poll_us);
	/* A positive value is the signal that ended the loop (SIGTERM, SIGINT,
	 * SIGHUP): an orderly stop like an unmount. */
	ret = err < 0 ? 1 : 0;
	if (err < 0)
		fuse_log(FUSE_LOG_ERR, "daxfs-fuse: session loop: %s\n", strerror(-err));
	fuse_session_unmount(se);
out_grant:
	dfuse_grant_stop(&df.grant);
	dfuse_run_stop(&df);
out_ctl:
	dfuse_ctl_stop(&df);
out_signals:
	fuse_remove_signal_handlers(se);
out_fs:
	err = dfs_unmount(&df.fs);
	if (err < 0) {
		fuse_log(FUSE_LOG_ERR, "daxfs-fuse: unmount %s: %s\n", o.source, why(err));
		ret = 1;
	}
	dfuse_dm_destroy(&df);
	if (fuse_fd >= 0)
		close(fuse_fd);
out_session:
	fuse_session_destroy(se);
out_args:
	if (ready_fd >= 0)
		close(ready_fd);	/* the parent sees EOF and exits with ours */
	if (log_fd >= 0)
		close(log_fd);
	free(copts.mountpoint);
	free(o.source);
	free(o.dax);
	free(o.commit);
	free(o.timeout);
	free(o.readdirplus);
	free(o.notify_store);
	free(o.max_leases);
	free(o.poll_us);
	free(o.max_threads);
	free(o.max_idle_threads);
	free(o.dax_users);
	free(o.logfile);
	dfuse_store_delete(&df);
	fuse_opt_free_args(&args);
	return ret;
}
