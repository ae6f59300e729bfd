/* dmap.c - drives libdaxfs for the pytest suite: one command a line on stdin, one answer a line on stdout */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "daxfs/client.h"

/*
 * usage: dmap FILE
 * Opens FILE O_RDWR, then reads commands (offsets are relative to the
 * mapping, numbers decimal):
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
 * Answers are flushed at once so the test can wait for each.
 */

static void *addr;
static size_t maplen;

static void answer_err(int err)
{
	printf("err %d %s\n", err, daxfs_errormsg());
}

int main(int argc, char **argv)
{
	char line[512];
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: dmap FILE\n");
		return 2;
	}
	fd = open(argv[1], O_RDWR);
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

		if (sscanf(line, "map %llu %llu %7s %15s", &off, &len, prot, extra) >= 3) {
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
