/* client/backing.c - a backing device for a mapping: opened by path with our rights, or handed over by the daemon */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "client/internal.h"
#include "daxfs/ioctl.h"
#include "util/err.h"

int dmap_fetch_fds(const char *sock, const uint8_t token[16], const char *what, int *fds,
		   size_t max)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct daxfs_grant_reply r;
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(DMAP_MAX_FDS * sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = &r, .iov_len = sizeof(r) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			      .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *c;
	int s, err, got[DMAP_MAX_FDS];
	size_t ngot = 0;
	ssize_t n;
	size_t len = strnlen(sock, sizeof(addr.sun_path) - 1);

	if (max == 0 || max > DMAP_MAX_FDS)
		return daxfs_err(-EINVAL, "%s: up to %d descriptors", what, DMAP_MAX_FDS);
	memcpy(addr.sun_path + 1, sock, len);
	if ((s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) < 0)
		return daxfs_err(-errno, "socket: %s", strerror(errno));
	if (connect(s, (struct sockaddr *)&addr,
		    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len)) < 0 ||
	    send(s, token, 16, MSG_NOSIGNAL) != 16 ||
	    (n = recvmsg(s, &msg, MSG_CMSG_CLOEXEC)) < 0) {
		err = daxfs_err(-errno, "%s: the daemon's socket @%.*s: %s", what, (int)len, sock,
				strerror(errno));
		close(s);
		return err;
	}
	close(s);
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len < CMSG_LEN(0))
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		for (size_t i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (ngot < DMAP_MAX_FDS)
				got[ngot++] = fd;
			else
				close(fd);
		}
	}
	r.message[sizeof(r.message) - 1] = '\0';
	if (n != (ssize_t)sizeof(r) || r.error < 0 || ngot == 0 || ngot > max ||
	    (msg.msg_flags & MSG_CTRUNC)) {
		for (size_t i = 0; i < ngot; i++)
			close(got[i]);
		if (n == (ssize_t)sizeof(r) && r.error < 0)
			return daxfs_err(r.error, "%s: the daemon refused it: %s", what, r.message);
		return daxfs_err(-EPROTO, "%s: no descriptor (or too many) in the daemon's answer",
				 what);
	}
	memcpy(fds, got, ngot * sizeof(int));
	return (int)ngot;
}

int dmap_fetch_fd(const char *sock, const uint8_t token[16], const char *what)
{
	int fd, n = dmap_fetch_fds(sock, token, what, &fd, 1);

	return n < 0 ? n : fd;
}

/* DAXFS_IOC_GRANT, then the token on the daemon's socket: the descriptor
 * arrives as SCM_RIGHTS. */
static int from_daemon(int fd, uint32_t index, bool write, const char *path, int open_err)
{
	struct daxfs_ioc_grant g = { .version = DAXFS_IOC_VERSION, .index = index,
				     .flags = write ? DAXFS_IOC_GRANT_WRITE : 0 };
	char what[4200];

	if (ioctl(fd, DAXFS_IOC_GRANT, &g) < 0)
		return daxfs_err(-errno, "opening backing device %s: %s; asking the daemon for it: "
				 "%s", path, strerror(-open_err), strerror(errno));
	g.message[sizeof(g.message) - 1] = '\0';
	g.socket[sizeof(g.socket) - 1] = '\0';
	if (g.error < 0)
		return daxfs_err(g.error, "opening backing device %s: %s; the daemon refused it "
				 "too: %s", path, strerror(-open_err), g.message);
	snprintf(what, sizeof(what), "backing device %s", path);
	return dmap_fetch_fd(g.socket, g.token, what);
}

int dmap_open_backing(int fd, uint32_t index, bool write)
{
	struct daxfs_ioc_device d = { .version = DAXFS_IOC_VERSION, .index = index };
	int bfd;

	if (ioctl(fd, DAXFS_IOC_DEVICE, &d) < 0)
		return daxfs_err(-errno, "asking the daemon for backing device %u: %s", index,
				 strerror(errno));
	if (d.error < 0)
		return daxfs_err(d.error, "the daemon has no backing device %u for this open file: "
				 "%s", index, strerror(-d.error));
	d.path[sizeof(d.path) - 1] = '\0';
	bfd = open(d.path, (write ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (bfd >= 0) {
		struct stat st;

		/* the path may name another file than the mount uses (a copy
		 * put in its place): stores there would reach nobody else, and
		 * loads would show what the file held once */
		if ((d.st_dev || d.st_ino) && (fstat(bfd, &st) < 0 || st.st_dev != d.st_dev ||
					       st.st_ino != d.st_ino)) {
			close(bfd);
			return daxfs_err(-ESTALE, "%s is no longer the file the mount uses as backing "
					 "device %u (replaced while mounted?)", d.path, index);
		}
		return bfd;
	}
	bfd = -errno;
	if (d.flags & DAXFS_IOC_DEVICE_GRANT)
		return from_daemon(fd, index, write, d.path, bfd);
	return daxfs_err(bfd, "opening backing device %s: %s (the mapping needs access to it, or "
			 "a mount with -o dax_users=GROUP and a caller in GROUP)", d.path,
			 strerror(-bfd));
}
