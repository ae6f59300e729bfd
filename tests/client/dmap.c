/* dmap.c - drives libdaxfs for the pytest suite: one command a line on stdin, one answer a line on stdout */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "daxfs/client.h"
#include "daxfs/ioctl.h"

/*
 * usage: dmap FILE [r|w|rw]
 * Opens FILE (O_RDWR unless the mode says otherwise; "fd:N" uses the
 * inherited descriptor N instead), then reads commands (offsets are relative
 * to the mapping, numbers decimal):
 *   map OFF LEN r|rw [alloc]   -> "ok" | "err -ERRNO MESSAGE"
 *   fill OFF LEN BYTE          stores BYTE (0-255) through the mapping -> "ok"
 *   pattern OFF LEN SEED       stores byte k = (k*131 + k/4096 + SEED) % 256 at
 *                              each mapping offset k in the range -> "ok"
 *   read OFF LEN               -> "ok HEX"
 *   pcread OFF LEN             reads through a page-cache mmap of FILE's fd
 *                              (no stat first) -> "ok HEX"
 *   persist OFF LEN            -> "ok" | "err ..."
 *   unmap                      -> "ok" | "err ..."
 *   close                      closes FILE's descriptor (the mapping stays) -> "ok"
 *   pid                        -> "ok PID"
 * and the daemon's requests themselves, as a hostile caller would send them
 * (daxfs/ioctl.h; offsets are the file's):
 *   ioc lease r|w              LEASE_GET (a read or write lease)
 *   ioc put r|w                LEASE_PUT
 *   ioc alloc OFF LEN          ALLOC
 *   ioc sync OFF LEN           SYNC
 *   ioc extents OFF LEN r|w    EXTENTS (w: EXTENTS_WRITE) -> "ok NPIECES COVERED"
 *   ioc device INDEX           DEVICE -> "ok PATH"
 *   ioc grant INDEX r|w        GRANT -> "ok SOCKET TOKEN" (the token in hex)
 *   ioc mapped FLAGS VALUE     RUN_MAPPED with raw flags (daxfs-run's, sent as a hostile
 *                              client would)
 * each -> "ok ..." | "err -ERRNO ioctl: REASON" (ioctl(2) failed) |
 * "err -ERRNO MESSAGE" (the answer's error).
 * Answers are flushed at once so the test can wait for each.
 */

static void *addr;
static size_t maplen;

static void answer_err(int err)
{
	printf("err %d %s\n", err, daxfs_errormsg());
}

static void ioctl_failed(void)
{
	printf("err %d ioctl: %s\n", -errno, strerror(errno));
}

static void range_ioctl(int fd, unsigned long cmd, uint32_t flags, uint64_t off, uint64_t len)
{
	struct daxfs_ioc_range r = { .version = DAXFS_IOC_VERSION, .flags = flags,
				     .offset = off, .length = len };

	if (ioctl(fd, cmd, &r) < 0)
		ioctl_failed();
	else
		printf("ok\n");
}

static void extents_ioctl(int fd, uint64_t off, uint64_t len, bool write)
{
	struct daxfs_ioc_extents *x = calloc(1, sizeof(*x));

	if (!x) {
		printf("err %d out of memory\n", -ENOMEM);
		return;
	}
	x->version = DAXFS_IOC_VERSION;
	x->flags = write ? DAXFS_IOC_EXTENTS_WRITE : 0;
	x->offset = off;
	x->length = len;
	if (ioctl(fd, DAXFS_IOC_EXTENTS, x) < 0)
		ioctl_failed();
	else if (x->error)
		printf("err %d %.*s\n", x->error, (int)sizeof(x->message), x->message);
	else
		printf("ok %u %llu\n", x->npieces, (unsigned long long)x->covered);
	free(x);
}

static void device_ioctl(int fd, uint32_t index)
{
	struct daxfs_ioc_device d = { .version = DAXFS_IOC_VERSION, .index = index };

	if (ioctl(fd, DAXFS_IOC_DEVICE, &d) < 0)
		ioctl_failed();
	else if (d.error)
		printf("err %d %s\n", d.error, strerror(-d.error));
	else
		printf("ok %.*s\n", (int)sizeof(d.path), d.path);
}

static void grant_ioctl(int fd, uint32_t index, bool write)
{
	struct daxfs_ioc_grant g = { .version = DAXFS_IOC_VERSION, .index = index,
				     .flags = write ? DAXFS_IOC_GRANT_WRITE : 0 };

	if (ioctl(fd, DAXFS_IOC_GRANT, &g) < 0)
		ioctl_failed();
	else if (g.error)
		printf("err %d %.*s\n", g.error, (int)sizeof(g.message), g.message);
	else {
		printf("ok %.*s ", (int)sizeof(g.socket), g.socket);
		for (size_t i = 0; i < sizeof(g.token); i++)
			printf("%02x", g.token[i]);
		printf("\n");
	}
}

/* "ioc ..." commands; false if line is none. */
static bool ioc_command(int fd, const char *line)
{
	unsigned long long off = 0, len = 0;
	char kind[8] = "";

	if (sscanf(line, "ioc lease %7s", kind) == 1)
		range_ioctl(fd, DAXFS_IOC_LEASE_GET, kind[0] == 'w' ? DAXFS_IOC_LEASE_WRITE : 0, 0, 0);
	else if (sscanf(line, "ioc put %7s", kind) == 1)
		range_ioctl(fd, DAXFS_IOC_LEASE_PUT, kind[0] == 'w' ? DAXFS_IOC_LEASE_WRITE : 0, 0, 0);
	else if (sscanf(line, "ioc alloc %llu %llu", &off, &len) == 2)
		range_ioctl(fd, DAXFS_IOC_ALLOC, 0, off, len);
	else if (sscanf(line, "ioc sync %llu %llu", &off, &len) == 2)
		range_ioctl(fd, DAXFS_IOC_SYNC, 0, off, len);
	else if (sscanf(line, "ioc extents %llu %llu %7s", &off, &len, kind) == 3)
		extents_ioctl(fd, off, len, kind[0] == 'w');
	else if (sscanf(line, "ioc device %llu", &off) == 1)
		device_ioctl(fd, (uint32_t)off);
	else if (sscanf(line, "ioc grant %llu %7s", &off, kind) == 2)
		grant_ioctl(fd, (uint32_t)off, kind[0] == 'w');
	else if (sscanf(line, "ioc mapped %llu %llu", &len, &off) == 2)
		range_ioctl(fd, DAXFS_IOC_RUN_MAPPED, (uint32_t)len, off, 0);
	else
		return false;
	return true;
}

/* FILE [MODE] of the command line, or fd:N. */
static int open_file(const char *file, const char *mode)
{
	int flags = O_RDWR;

	if (strncmp(file, "fd:", 3) == 0)
		return atoi(file + 3);
	if (mode && strcmp(mode, "r") == 0)
		flags = O_RDONLY;
	else if (mode && strcmp(mode, "w") == 0)
		flags = O_WRONLY;
	return open(file, flags);
}

int main(int argc, char **argv)
{
	char line[512];
	int fd;

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: dmap FILE [r|w|rw]\n");
		return 2;
	}
	fd = open_file(argv[1], argc == 3 ? argv[2] : NULL);
	if (fd < 0) {
		fprintf(stderr, "dmap: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin)) {
		unsigned long long off = 0, len = 0;
		char prot[8] = "", extra[16] = "";
		unsigned byte = 0;
		int err;

		if (ioc_command(fd, line)) {
			continue;
		} else if (sscanf(line, "map %llu %llu %7s %15s", &off, &len, prot, extra) >= 3) {
			int p = strcmp(prot, "rw") == 0 ? PROT_READ | PROT_WRITE : PROT_READ;
			unsigned flags = strcmp(extra, "alloc") == 0 ? DAXFS_MAP_ALLOC : 0;

			err = daxfs_map(fd, (off_t)off, (size_t)len, p, flags, &addr);
			if (err < 0) {
				answer_err(err);
				continue;
			}
			maplen = (size_t)len;
			printf("ok\n");
		} else if (sscanf(line, "fill %llu %llu %u", &off, &len, &byte) == 3) {
			memset((char *)addr + off, (int)byte, (size_t)len);
			printf("ok\n");
		} else if (sscanf(line, "pattern %llu %llu %u", &off, &len, &byte) == 3) {
			unsigned char *p = addr;

			for (unsigned long long k = off; k < off + len; k++)
				p[k] = (unsigned char)(k * 131 + k / 4096 + byte);
			printf("ok\n");
		} else if (sscanf(line, "read %llu %llu", &off, &len) == 2) {
			printf("ok ");
			for (unsigned long long i = 0; i < len; i++)
				printf("%02x", ((unsigned char *)addr)[off + i]);
			printf("\n");
		} else if (sscanf(line, "pcread %llu %llu", &off, &len) == 2) {
			unsigned char *pc = mmap(NULL, off + len, PROT_READ, MAP_SHARED, fd, 0);

			if (pc == MAP_FAILED) {
				printf("err %d mmap: %s\n", -errno, strerror(errno));
				continue;
			}
			printf("ok ");
			for (unsigned long long i = off; i < off + len; i++)
				printf("%02x", pc[i]);
			printf("\n");
			munmap(pc, off + len);
		} else if (sscanf(line, "persist %llu %llu", &off, &len) == 2) {
			err = daxfs_persist((char *)addr + off, (size_t)len);
			if (err < 0)
				answer_err(err);
			else
				printf("ok\n");
		} else if (strcmp(line, "unmap\n") == 0) {
			err = daxfs_unmap(addr, maplen);
			if (err < 0)
				answer_err(err);
			else
				printf("ok\n");
		} else if (strcmp(line, "close\n") == 0) {
			close(fd);
			printf("ok\n");
		} else if (strcmp(line, "pid\n") == 0) {
			printf("ok %d\n", (int)getpid());
		} else {
			printf("err %d unknown command\n", -EINVAL);
		}
	}
	return 0;
}
