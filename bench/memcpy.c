/* bench/memcpy.c - daxfs-bench-memcpy: memcpy bandwidth to and from a mapped file, the ceiling for file I/O */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/*
 * What a read() or write() of a file held in memory must at least do is one
 * memcpy between the file's pages and the caller's buffer. This program
 * measures exactly that on a MAP_SHARED mapping of a new file (on /dev/shm it
 * is backed by the same kind of pages as tmpfs and the daxfs pmem files):
 * each job copies its own slice of the file, BLOCK bytes at a time, into or
 * out of a private BLOCK-sized buffer, PASSES times. The file is unlinked as
 * soon as it is mapped, so nothing is left behind however the program ends.
 *
 * Output, one line per direction:
 *	read <jobs> <block> <bytes> <seconds> <MiB/s>
 *	write <jobs> <block> <bytes> <seconds> <MiB/s>
 */

#define MIB (1024.0 * 1024.0)

struct job {
	char *base;		/* this job's slice of the mapping */
	size_t len;
	size_t block;
	unsigned passes;
	int write;		/* copy buffer -> mapping instead of mapping -> buffer */
	pthread_barrier_t *start;
	int err;
	double t_start, t_end;	/* taken by the job itself, see run() */
};

static const char *prog = "daxfs-bench-memcpy";

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void *copy_job(void *arg)
{
	struct job *j = arg;
	char *buf = aligned_alloc(4096, j->block);

	if (!buf) {
		j->err = ENOMEM;
		pthread_barrier_wait(j->start);
		return NULL;
	}
	memset(buf, 0x5a, j->block);
	pthread_barrier_wait(j->start);
	j->t_start = now();
	for (unsigned p = 0; p < j->passes; p++) {
		for (size_t off = 0; off + j->block <= j->len; off += j->block) {
			if (j->write)
				memcpy(j->base + off, buf, j->block);
			else
				memcpy(buf, j->base + off, j->block);
			/* The copies must happen even though nothing reads buf. */
			__asm__ __volatile__("" : : "r"(buf), "r"(j->base) : "memory");
		}
	}
	j->t_end = now();
	free(buf);
	return NULL;
}

/* Runs jobs copies in parallel; returns the seconds from the common start to
 * the last job's end, or a negative value on error. */
static double run(char *map, size_t size, size_t block, unsigned jobs, unsigned passes, int write)
{
	pthread_barrier_t start;
	pthread_t tid[64];
	struct job job[64];
	size_t slice = size / jobs / block * block;
	double t0, secs;
	int err = 0;

	if (pthread_barrier_init(&start, NULL, jobs + 1) != 0)
		return -1;
	for (unsigned i = 0; i < jobs; i++) {
		job[i] = (struct job) {
			.base = map + i * slice,
			.len = slice,
			.block = block,
			.passes = passes,
			.write = write,
			.start = &start,
		};
		err = pthread_create(&tid[i], NULL, copy_job, &job[i]);
		if (err != 0) {
			/* The barrier can never complete now; a benchmark that cannot
			 * start its threads has nothing to report. */
			fprintf(stderr, "%s: pthread_create: %s\n", prog, strerror(err));
			exit(1);
		}
	}
	pthread_barrier_wait(&start);
	/* The jobs time themselves: on a busy machine this thread may be
	 * scheduled out after the barrier until the copies are over. */
	t0 = -1;
	secs = 0;
	for (unsigned i = 0; i < jobs; i++) {
		pthread_join(tid[i], NULL);
		if (job[i].err)
			err = job[i].err;
		else if (t0 < 0 || job[i].t_start < t0)
			t0 = job[i].t_start;
	}
	for (unsigned i = 0; i < jobs; i++)
		if (!job[i].err && job[i].t_end - t0 > secs)
			secs = job[i].t_end - t0;
	pthread_barrier_destroy(&start);
	if (err) {
		fprintf(stderr, "%s: %s\n", prog, strerror(err));
		return -1;
	}
	return secs;
}

/* "64M", "1G", "4096": a byte count with an optional K/M/G suffix. */
static int parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;
	unsigned shift = 0;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	switch (*end) {
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	default: break;
	}
	if (*end != '\0' || v == 0 || v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t) v << shift;
	return 0;
}

static int usage(FILE *out, int status)
{
	fprintf(out, "usage: %s [-b BLOCK] [-j JOBS] [-p PASSES] FILE SIZE\n\n"
		"Creates FILE (which must not exist) with SIZE bytes, maps it shared, touches\n"
		"every page, unlinks it, then times memcpy from the mapping into a BLOCK-byte\n"
		"buffer (read) and back (write), JOBS threads each on its own slice, PASSES\n"
		"times over the file.\n\n"
		"    -b BLOCK   bytes per memcpy, K/M/G suffixes allowed (default 1M)\n"
		"    -j JOBS    threads, 1 to 64 (default 1)\n"
		"    -p PASSES  passes over the file (default 4)\n\n"
		"Prints \"read|write JOBS BLOCK BYTES SECONDS MIB_PER_SEC\".\n"
		"Exit status: 0 done, 1 failure, 2 usage error.\n", prog);
	return status;
}

int main(int argc, char **argv)
{
	uint64_t block = 1 << 20, size, jobs = 1, passes = 4;
	const char *path;
	char *map;
	int fd, opt;

	if (argc == 2 && strcmp(argv[1], "--help") == 0)
		return usage(stdout, 0);
	while ((opt = getopt(argc, argv, "b:j:p:")) != -1) {
		switch (opt) {
		case 'b':
			if (parse_size(optarg, &block) != 0 || block % 64 != 0 || block > (1U << 30)) {
				fprintf(stderr, "%s: invalid block size '%s': expected a multiple of 64 up to 1G\n",
					prog, optarg);
				return 2;
			}
			break;
		case 'j':
			if (parse_size(optarg, &jobs) != 0 || jobs > 64) {
				fprintf(stderr, "%s: invalid job count '%s': expected 1 to 64\n", prog, optarg);
				return 2;
			}
			break;
		case 'p':
			if (parse_size(optarg, &passes) != 0 || passes > 1000000) {
				fprintf(stderr, "%s: invalid pass count '%s': expected 1 to 1000000\n",
					prog, optarg);
				return 2;
			}
			break;
		default:
			return usage(stderr, 2);
		}
	}
	if (argc - optind != 2)
		return usage(stderr, 2);
	path = argv[optind];
	if (parse_size(argv[optind + 1], &size) != 0) {
		fprintf(stderr, "%s: invalid size '%s'\n", prog, argv[optind + 1]);
		return 2;
	}
	if (size < block * jobs) {
		fprintf(stderr, "%s: size %" PRIu64 " is smaller than one %" PRIu64 "-byte block per job\n",
			prog, size, block);
		return 2;
	}
	if (size > (uint64_t) SIZE_MAX / 2) {
		fprintf(stderr, "%s: size %" PRIu64 " does not fit the address space\n", prog, size);
		return 2;
	}

	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return 1;
	}
	if (ftruncate(fd, (off_t) size) != 0) {
		fprintf(stderr, "%s: %s: truncate to %" PRIu64 ": %s\n", prog, path, size, strerror(errno));
		goto fail_unlink;
	}
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		fprintf(stderr, "%s: %s: mmap: %s\n", prog, path, strerror(errno));
		goto fail_unlink;
	}
	unlink(path);
	close(fd);
	/* Allocate every page now: the first touch is a fault, not a copy. */
	memset(map, 0xa5, size);

	for (int write = 0; write <= 1; write++) {
		double secs = run(map, size, block, (unsigned) jobs, (unsigned) passes, write);
		uint64_t bytes = size / jobs / block * block * jobs * passes;

		if (secs < 0)
			return 1;
		printf("%s %" PRIu64 " %" PRIu64 " %" PRIu64 " %.6f %.1f\n", write ? "write" : "read",
		       jobs, block, bytes, secs, secs > 0 ? (double) bytes / MIB / secs : 0.0);
	}
	munmap(map, size);
	return 0;

fail_unlink:
	unlink(path);
	close(fd);
	return 1;
}
