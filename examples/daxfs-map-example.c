/* daxfs-map-example.c - map a daxfs-fuse file's pmem, store into it, persist it, show where it went */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daxfs/client.h"

extern char **environ;

static int usage(FILE *out, int status)
{
	fprintf(out, "usage: daxfs-map-example FILE [MESSAGE]\n"
		"  Maps the first 64 KiB of FILE (on a daxfs-fuse mount, created if needed)\n"
		"  with libdaxfs, writes MESSAGE at its start through the mapping, persists it\n"
		"  and runs `daxfs-ctl map FILE` to show the chain down to the backing files\n"
		"  ($DAXFS_CTL names the daxfs-ctl to run).\n"
		"exit status: 0 done, 1 an error, 2 a usage error.\n");
	return status;
}

/* daxfs-ctl map FILE: where the bytes just stored live. */
static int show_chain(const char *file)
{
	const char *ctl = getenv("DAXFS_CTL") ? getenv("DAXFS_CTL") : "daxfs-ctl";
	char *argv[] = { (char *)ctl, "map", (char *)file, NULL };
	int status;
	pid_t pid;

	fflush(stdout);
	if ((errno = posix_spawnp(&pid, ctl, NULL, NULL, argv, environ)) != 0) {
		fprintf(stderr, "daxfs-map-example: cannot run %s: %s\n", ctl, strerror(errno));
		return -1;
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	const size_t len = 64 * 1024;
	const char *msg = argc > 2 ? argv[2] : "hello from a direct mapping";
	void *addr;
	int fd, err;

	if (argc == 2 && strcmp(argv[1], "--help") == 0)
		return usage(stdout, 0);
	if (argc < 2 || argc > 3)
		return usage(stderr, 2);
	fd = open(argv[1], O_RDWR | O_CREAT, 0644);
	if (fd < 0) {
		fprintf(stderr, "daxfs-map-example: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	/* ALLOC: blocks allocated, zeroed and durable before we store. */
	err = daxfs_map(fd, 0, len, PROT_READ | PROT_WRITE, DAXFS_MAP_ALLOC, &addr);
	close(fd);      /* the mapping keeps its own reference */
	if (err < 0) {
		fprintf(stderr, "daxfs-map-example: %s\n", daxfs_errormsg());
		return 1;
	}
	memcpy(addr, msg, strlen(msg) + 1);
	if ((err = daxfs_persist(addr, strlen(msg) + 1)) < 0) {
		fprintf(stderr, "daxfs-map-example: %s\n", daxfs_errormsg());
		daxfs_unmap(addr, len);
		return 1;
	}
	printf("stored %zu bytes at %p (file offset 0) and persisted them\n", strlen(msg) + 1, addr);
	err = show_chain(argv[1]);
	daxfs_unmap(addr, len);
	return err < 0 ? 1 : 0;
}
