/* fuse/grant.c - -o dax_users: descriptors of the backing devices, handed over a Unix socket to checked callers */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daxfs/dm.h"
#include "daxfs/ioctl.h"
#include "fuse/client.h"
#include "fuse/holders.h"
#include "fuse/run.h"
#include "util/err.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif

/*
 * A FUSE reply cannot carry a descriptor, so a caller the ioctl channel has
 * checked (DAXFS_IOC_GRANT: open file, permission, lease, group) gets a
 * one-time token instead and presents it on an abstract Unix socket, where
 * the descriptor travels as SCM_RIGHTS. The socket is reachable by anyone in
 * the daemon's network namespace, so the token alone proves nothing: the
 * connecting process must be the user it was issued to, still in the group,
 * and the lease it was issued under must still stand.
 *
 * The same socket hands daxfs-run processes the table the daemon shares with
 * them (a token issued by DAXFS_IOC_RUN_OPEN, index DFUSE_GRANT_TABLE): a
 * read-only descriptor, for anyone who holds a lease, with or without
 * dax_users, and the pending sizes, writable only to a write lease holder
 * who may store into the members (peer_may_store). Device descriptors need
 * dax_users and the group.
 *
 * One thread serves the socket, one connection at a time; a connection that
 * sends nothing is dropped after RECV_TIMEOUT_MS.
 */

#define NTOKENS 256
#define TOKEN_LEN 16
#define RECV_TIMEOUT_MS 1000

struct token {
	uint8_t bytes[TOKEN_LEN];
	uint64_t fh, ino;
	uid_t uid;
	unsigned index;
	bool write, live;
};

struct dfuse_grant {
	struct dfuse *df;
	gid_t group;
	bool devices;                   /* -o dax_users: device descriptors too */
	int sock;                       /* listening */
	int stop[2];                    /* a pipe: closing stop[1] ends the thread */
	char name[sizeof(((struct daxfs_ioc_grant *)0)->socket)];
	pthread_t thread;
	pthread_mutex_t lock;
	struct token tokens[NTOKENS];   /* protected by lock; a ring, oldest overwritten */
	unsigned next;                  /* protected by lock */
};

int dfuse_grant_issue(struct dfuse_grant *g, uint64_t fh, uint64_t ino, uid_t uid, unsigned index,
		      bool write, uint8_t token[16], char *socket, size_t socket_size)
{
	struct token t = { .fh = fh, .ino = ino, .uid = uid, .index = index, .write = write,
			   .live = true };

	if (getrandom(t.bytes, sizeof(t.bytes), 0) != (ssize_t)sizeof(t.bytes))
		return daxfs_err(-EAGAIN, "no random bytes for a grant token: %s", strerror(errno));
	pthread_mutex_lock(&g->lock);
	g->tokens[g->next] = t;
	g->next = (g->next + 1) % NTOKENS;
	pthread_mutex_unlock(&g->lock);
	memcpy(token, t.bytes, sizeof(t.bytes));
	snprintf(socket, socket_size, "%s", g->name);
	return 0;
}

/* Takes the token out of the ring (good once). */
static bool take_token(struct dfuse_grant *g, const uint8_t *bytes, struct token *out)
{
	bool found = false;

	pthread_mutex_lock(&g->lock);
	for (unsigned i = 0; i < NTOKENS && !found; i++) {
		struct token *t = &g->tokens[i];

		if (t->live && memcmp(t->bytes, bytes, TOKEN_LEN) == 0) {
			*out = *t;
			t->live = false;
			found = true;
		}
	}
	pthread_mutex_unlock(&g->lock);
	return found;
}

/* Whether bytes is a live token for the daxfs-run table. */
static bool table_token(struct dfuse_grant *g, const uint8_t *bytes)
{
	bool table = false;

	pthread_mutex_lock(&g->lock);
	for (unsigned i = 0; i < NTOKENS; i++)
		if (g->tokens[i].live && memcmp(g->tokens[i].bytes, bytes, TOKEN_LEN) == 0)
			table = g->tokens[i].index == DFUSE_GRANT_TABLE;
	pthread_mutex_unlock(&g->lock);
	return table;
}

/* The connecting process's supplementary groups (malloc'd, *n of them), or
 * NULL with *n 0: none can be read. */
static gid_t *peer_groups(int conn, int *n)
{
	socklen_t len = 64 * sizeof(gid_t);
	gid_t *list = malloc(len);

	*n = 0;
	if (list && getsockopt(conn, SOL_SOCKET, SO_PEERGROUPS, list, &len) < 0) {
		gid_t *bigger = errno == ERANGE ? realloc(list, len) : NULL;

		if (!bigger || getsockopt(conn, SOL_SOCKET, SO_PEERGROUPS, bigger, &len) < 0) {
			free(bigger ? bigger : list);
			return NULL;
		}
		list = bigger;
	}
	if (list)
		*n = (int)(len / sizeof(gid_t));
	return list;
}

static bool peer_in_group(int conn, const struct ucred *cred, gid_t group)
{
	struct dfuse_caller c = { .uid = cred->uid, .gid = cred->gid };
	bool in;

	if (cred->uid == 0 || cred->gid == group)
		return true;
	c.owned = peer_groups(conn, &c.ngroups);
	c.groups = c.owned;
	in = dfuse_in_group(&c, group);
	dfuse_caller_fini(&c);
	return in;
}

/* Opens path for reading and writing as the connecting process would, its
 * uid, gid and groups standing in for ours in this thread alone (the raw
 * calls: glibc's change every thread's), so that every check the kernel
 * makes applies: the file's mode and ACLs, and search permission on every
 * directory on the way. An fd, or a negative errno. */
static int open_as(const struct ucred *cred, const gid_t *groups, int ngroups, const char *path)
{
	gid_t mine[256];
	int nmine = (int)syscall(SYS_getgroups, 256, mine);
	uid_t fsuid = (uid_t)syscall(SYS_setfsuid, -1);
	gid_t fsgid = (gid_t)syscall(SYS_setfsgid, -1);
	int fd = -EPERM;

	if (nmine < 0 || syscall(SYS_setgroups, (size_t)ngroups, groups) < 0)
		return -EPERM;
	syscall(SYS_setfsgid, cred->gid);
	syscall(SYS_setfsuid, cred->uid);
	/* setfsuid answers the old value whether or not it took the new */
	if ((uid_t)syscall(SYS_setfsuid, -1) == cred->uid &&
	    (gid_t)syscall(SYS_setfsgid, -1) == cred->gid) {
		fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		fd = fd < 0 ? -errno : fd;
	}
	syscall(SYS_setfsuid, fsuid);
	syscall(SYS_setfsgid, fsgid);
	if (syscall(SYS_setgroups, (size_t)nmine, mine) < 0 ||
	    (uid_t)syscall(SYS_setfsuid, -1) != fsuid) {
		/* this thread must not go on as someone else */
		fuse_log(FUSE_LOG_ERR, "daxfs-fuse: cannot take back the daemon's credentials\n");
		abort();
	}
	return fd;
}

/*
 * Whether the connecting process may store into every member, and so may be
 * given the pending sizes writable: root; the group of a mount that hands it
 * the members read-write (-o dax_users); or a user whose own open of each
 * member file for writing succeeds and reaches the file the mount uses.
 * Anyone else with a write lease would move the size and times of every
 * file with a slot, files it may not write among them, where storing into
 * the members gives no more than it already has.
 */
static bool peer_may_store(struct dfuse_grant *g, int conn, const struct ucred *cred)
{
	gid_t *groups;
	int ngroups;
	bool may = true;

	if (cred->uid == 0 || (g->devices && peer_in_group(conn, cred, g->group)))
		return true;
	groups = peer_groups(conn, &ngroups);
	/* every device the mapped device has opened, by index up to ENXIO */
	for (unsigned i = 0; may; i++) {
		struct dm_ioctl_req rq = { .cmd = DM_IOC_DEVICE, .index = i };
		struct dm_ioctl_result res;
		struct stat st;
		int err = dm_ioctl(g->df->md, &rq, &res), fd;

		if (err == -ENXIO) {
			dm_ioctl_result_free(&res);
			break;
		}
		fd = err == 0 ? open_as(cred, groups, ngroups, res.devices[0].path) : -1;
		may = fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == res.devices[0].st_dev &&
		      st.st_ino == res.devices[0].st_ino;
		if (fd >= 0)
			close(fd);
		dm_ioctl_result_free(&res);
	}
	daxfs_err_clear();
	free(groups);
	return may;
}

__attribute__((format(printf, 3, 4)))
static int refuse(struct daxfs_grant_reply *r, int err, const char *fmt, ...)
{
	va_list ap;

	r->error = err;
	va_start(ap, fmt);
	vsnprintf(r->message, sizeof(r->message), fmt, ap);
	va_end(ap);
	return -1;
}

#define DROP (-2)

/* Checks the connection's request; returns an open descriptor of the device
 * (or the table, with the table of pending sizes in *second), -1 with the
 * refusal in *r, or DROP: no answer at all. */
static int check(struct dfuse_grant *g, int conn, struct daxfs_grant_reply *r, int *second)
{
	uint8_t bytes[TOKEN_LEN + 1];
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct dfuse_holding h;
	struct dm_ioctl_req rq;
	struct dm_ioctl_result res;
	struct token t;
	ssize_t n;
	int err;

	if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return refuse(r, -EPERM, "no credentials on the connection: %s", strerror(errno));
	n = recv(conn, bytes, sizeof(bytes), 0);
	if (n != TOKEN_LEN)
		return refuse(r, -EINVAL, "expected a %d-byte token", TOKEN_LEN);
	/* A device token shown by a process outside the group: dropped
	 * unanswered, and the token stays good for its owner. */
	if (!table_token(g, bytes) && !peer_in_group(conn, &cred, g->group))
		return DROP;
	if (!take_token(g, bytes, &t))
		return refuse(r, -EPERM, "unknown or used token (ask again with DAXFS_IOC_GRANT)");
	if (cred.uid != t.uid)
		return refuse(r, -EPERM, "the token was issued to uid %u, not uid %u",
			      (unsigned)t.uid, (unsigned)cred.uid);
	dfuse_holders_state(g->df, t.fh, t.ino, &h);
	if (h.revoked)
		return refuse(r, -ESTALE, "the lease was revoked by a forced table swap");
	if (t.write ? h.writes == 0 : h.reads + h.writes == 0)
		return refuse(r, -ENOLCK, "the lease the token was issued under is gone");
	if (t.index == DFUSE_GRANT_TABLE) {
		int fd = dfuse_run_table_fd(g->df);

		if (fd < 0)
			return refuse(r, fd, "%s", daxfs_errormsg());
		/* writable only under a write lease (a reader must not move
		 * anybody's size), and only to who may store into the members */
		if ((*second = dfuse_run_pending_fd(g->df, t.write &&
						    peer_may_store(g, conn, &cred))) < 0) {
			err = *second;
			close(fd);
			return refuse(r, err, "%s", daxfs_errormsg());
		}
		return fd;
	}
	if (!g->devices)
		return refuse(r, -EPERM, "this mount hands out no device descriptors");
	/* A descriptor of our own open of the file: open for writing only
	 * under a write lease, so that a read lease cannot store. */
	rq = (struct dm_ioctl_req){ .cmd = DM_IOC_DEVICE_OPEN, .index = t.index,
				    .flags = t.write ? DM_IOC_F_WRITE : 0 };
	if ((err = dm_ioctl(g->df->md, &rq, &res)) < 0) {
		dm_ioctl_result_free(&res);
		return refuse(r, err, "%s", daxfs_errormsg());
	}
	return res.fd;
}

/* Who connected is known before anything is read: without a daxfs-run
 * table, a process outside the group is dropped at once, unanswered
 * (DAXFS_IOC_GRANT already told it no, so it is not a libdaxfs caller), and
 * only the group can keep this thread waiting for a token. With the table,
 * any process with a lease may ask for it. */
static bool welcome(struct dfuse_grant *g, int conn)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	return getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
	       (g->df->run || peer_in_group(conn, &cred, g->group));
}

bool dfuse_grant_devices(const struct dfuse_grant *g)
{
	return g && g->devices;
}

static void serve(struct dfuse_grant *g, int conn)
{
	struct daxfs_grant_reply r = { 0 };
	struct timeval tv = { .tv_sec = RECV_TIMEOUT_MS / 1000,
			      .tv_usec = RECV_TIMEOUT_MS % 1000 * 1000 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = &r, .iov_len = sizeof(r) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	int fd, fds[2], second = -1;

	(void)setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	fd = check(g, conn, &r, &second);
	if (fd == DROP)
		return;
	if (fd >= 0) {
		size_t n = second >= 0 ? 2 : 1;

		fds[0] = fd;
		fds[1] = second;
		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = CMSG_SPACE(n * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(n * sizeof(int));
		memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	}
	if (sendmsg(conn, &msg, MSG_NOSIGNAL) < 0)
		fuse_log(FUSE_LOG_WARNING, "daxfs-fuse: dax_users: answering a caller: %s\n",
			 strerror(errno));
	if (fd >= 0)
		close(fd);
	if (second >= 0)
		close(second);
}

static void *grant_main(void *arg)
{
	struct dfuse_grant *g = arg;
	struct pollfd p[2] = { { .fd = g->sock, .events = POLLIN },
			       { .fd = g->stop[0], .events = POLLIN } };

	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			fuse_log(FUSE_LOG_ERR, "daxfs-fuse: dax_users: poll: %s\n", strerror(errno));
			break;
		}
		if (p[1].revents)
			break;
		int conn = accept4(g->sock, NULL, NULL, SOCK_CLOEXEC);

		if (conn < 0)
			continue;       /* the caller gave up meanwhile, or out of fds */
		if (welcome(g, conn))
			serve(g, conn);
		close(conn);
	}
	return NULL;
}

int dfuse_grant_start(struct dfuse *df, gid_t group, bool devices, struct dfuse_grant **out)
{
	struct dfuse_grant *g = calloc(1, sizeof(*g));
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	uint8_t rnd[8];
	size_t n;
	int err;

	if (!g)
		return daxfs_err(-ENOMEM, "out of memory");
	g->df = df;
	g->group = group;
	g->devices = devices;
	g->sock = g->stop[0] = g->stop[1] = -1;
	pthread_mutex_init(&g->lock, NULL);
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		err = daxfs_err(-EAGAIN, "no random bytes for the socket's name");
		goto fail;
	}
	n = (size_t)snprintf(g->name, sizeof(g->name), "daxfs-fuse.%d.", (int)getpid());
	for (size_t i = 0; i < sizeof(rnd); i++)
		n += (size_t)snprintf(g->name + n, sizeof(g->name) - n, "%02x", rnd[i]);
	/* Abstract: no path whose permissions or leftovers could get in the way. */
	memcpy(addr.sun_path + 1, g->name, n);
	g->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (g->sock < 0 || bind(g->sock, (struct sockaddr *)&addr,
				(socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n)) < 0 ||
	    listen(g->sock, 16) < 0 || pipe2(g->stop, O_CLOEXEC) < 0) {
		err = daxfs_err(-errno, "dax_users: the socket: %s", strerror(errno));
		goto fail;
	}
	if ((err = -pthread_create(&g->thread, NULL, grant_main, g)) < 0) {
		daxfs_err(err, "dax_users: no thread: %s", strerror(-err));
		goto fail;
	}
	*out = g;
	return 0;
fail:
	if (g->sock >= 0)
		close(g->sock);
	if (g->stop[0] >= 0) {
		close(g->stop[0]);
		close(g->stop[1]);
	}
	pthread_mutex_destroy(&g->lock);
	free(g);
	return err;
}

void dfuse_grant_stop(struct dfuse_grant **gp)
{
	struct dfuse_grant *g = *gp;

	if (!g)
		return;
	close(g->stop[1]);
	pthread_join(g->thread, NULL);
	close(g->stop[0]);
	close(g->sock);
	pthread_mutex_destroy(&g->lock);
	free(g);
	*gp = NULL;
}
