/* tests/run/fsx.c - a seeded random operation checker: read, write, mmap, truncate and O_DIRECT against an in-memory model */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/*
 * usage: fsx PATH SEED NOPS [MAXLEN] [OPS]
 * OPS is a set of letters: r read, w write, p pread/pwrite, v readv/writev,
 * m mmap read and write, t truncate, d O_DIRECT read, s fsync, a append,
 * e stores past EOF through a mapping of its page, which POSIX never lets
 * become the file's (xfstests' fsx -e; a later extension must show zeroes)
 * (default: all). Every read is checked against the model as it happens;
 * at the end the whole file is read back through a fresh descriptor.
 * FSX_CORRUPT=1 in the environment flips a byte of the model before the
 * final check (the checker's self-test).
 * Exit 0, or 1 with the operation log's tail and the first difference.
 */

#define LOG 64
static char log_ring[LOG][96];
static unsigned nlog;
static unsigned char *model;
static size_t msize, maxlen = 1u << 20;
static const char *path;
static uint64_t rng;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(log_ring[nlog++ % LOG], sizeof(log_ring[0]), fmt, ap);
	va_end(ap);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	for (unsigned i = nlog > LOG ? nlog - LOG : 0; i < nlog; i++)
		fprintf(stderr, "op %u: %s\n", i, log_ring[i % LOG]);
	va_start(ap, fmt);
	fprintf(stderr, "fsx: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static void check(const unsigned char *got, size_t off, size_t len, const char *what)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char want = off + i < msize ? model[off + i] : 0;

		if (got[i] != want)
			die("%s: byte %zu: got 0x%02x, want 0x%02x (size %zu)", what, off + i, got[i],
			    want, msize);
	}
}

static void grow(size_t size)
{
	if (size > msize) {
		unsigned char *n = realloc(model, size);

		if (!n)
			die("out of memory");
		memset(n + msize, 0, size - msize);
		model = n;
	}
	msize = size;
}

static void fill(unsigned char *buf, size_t len, unsigned seq)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)(seq * 31 + i * 7 + (i >> 8));
}

int main(int argc, char **argv)
{
	const char *ops = argc > 5 ? argv[5] : "rwpvmtdsae";
	unsigned nops;
	int fd;
	unsigned char *buf;

	if (argc < 4) {
		fprintf(stderr, "usage: fsx PATH SEED NOPS [MAXLEN] [OPS]\n");
		return 2;
	}
	path = argv[1];
	rng = strtoull(argv[2], NULL, 0) * 0x9e3779b97f4a7c15ull + 1;
	nops = (unsigned)strtoul(argv[3], NULL, 0);
	if (argc > 4)
		maxlen = strtoul(argv[4], NULL, 0);
	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644)) < 0)
		die("open %s: %s", path, strerror(errno));
	if (posix_memalign((void **)&buf, 4096, maxlen * 2 + 8192))
		die("out of memory");
	for (unsigned i = 0; i < nops; i++) {
		char op = ops[next() % strlen(ops)];
		size_t off = next() % maxlen, len = 1 + next() % (maxlen / 4);
		ssize_t n;

		switch (op) {
		case 'w': {     /* write() at a seek */
			fill(buf, len, i);
			note("write %zu+%zu", off, len);
			if (lseek(fd, (off_t)off, SEEK_SET) != (off_t)off)
				die("lseek: %s", strerror(errno));
			if ((n = write(fd, buf, len)) != (ssize_t)len)
				die("write %zu+%zu: %zd %s", off, len, n, strerror(errno));
			if (lseek(fd, 0, SEEK_CUR) != (off_t)(off + len))
				die("offset after write: %jd", (intmax_t)lseek(fd, 0, SEEK_CUR));
			grow(off + len > msize ? off + len : msize);
			memcpy(model + off, buf, len);
			break;
		}
		case 'p':
			fill(buf, len, i);
			note("pwrite %zu+%zu", off, len);
			if ((n = pwrite(fd, buf, len, (off_t)off)) != (ssize_t)len)
				die("pwrite: %zd %s", n, strerror(errno));
			grow(off + len > msize ? off + len : msize);
			memcpy(model + off, buf, len);
			note("pread %zu+%zu", off / 2, len);
			n = pread(fd, buf, len, (off_t)(off / 2));
			if (n != (ssize_t)(off / 2 + len <= msize ? len : msize > off / 2 ? msize - off / 2 : 0))
				die("pread %zu+%zu: %zd (size %zu)", off / 2, len, n, msize);
			check(buf, off / 2, (size_t)n, "pread");
			break;
		case 'r':
			note("read %zu+%zu", off, len);
			lseek(fd, (off_t)off, SEEK_SET);
			n = read(fd, buf, len);
			if (n < 0 || (size_t)n != (off + len <= msize ? len : msize > off ? msize - off : 0))
				die("read %zu+%zu: %zd (size %zu)", off, len, n, msize);
			check(buf, off, (size_t)n, "read");
			break;
		case 'v': {
			struct iovec iov[3] = { { buf, len / 3 }, { buf + len / 3, len / 3 },
						{ buf + 2 * (len / 3), len - 2 * (len / 3) } };

			fill(buf, len, i);
			note("pwritev %zu+%zu", off, len);
			if ((n = pwritev(fd, iov, 3, (off_t)off)) != (ssize_t)len)
				die("pwritev: %zd %s", n, strerror(errno));
			grow(off + len > msize ? off + len : msize);
			memcpy(model + off, buf, len);
			memset(buf, 0xee, len);
			note("preadv %zu+%zu", off, len);
			if ((n = preadv(fd, iov, 3, (off_t)off)) != (ssize_t)len)
				die("preadv: %zd %s", n, strerror(errno));
			check(buf, off, len, "preadv");
			break;
		}
		case 'm': {     /* a shared mapping of what the file has */
			if (msize == 0)
				break;
			size_t mo = (off % msize) & ~4095ul, ml = msize - mo < len ? msize - mo : len;
			unsigned char *m;

			note("mmap %zu+%zu", mo, ml);
			m = mmap(NULL, ml, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)mo);
			if (m == MAP_FAILED)
				die("mmap %zu+%zu: %s", mo, ml, strerror(errno));
			check(m, mo, ml, "mmap read");
			size_t wo = next() % ml, wl = 1 + next() % (ml - wo);
			fill(buf, wl, i);
			memcpy(m + wo, buf, wl);
			memcpy(model + mo + wo, buf, wl);
			if (next() % 2 && msync(m, ml, MS_SYNC) < 0)
				die("msync: %s", strerror(errno));
			if (munmap(m, ml) < 0)
				die("munmap: %s", strerror(errno));
			break;
		}
		case 'e': {     /* junk past EOF in the page of EOF */
			size_t po = msize & ~4095ul, in = msize - po;
			unsigned char *m;

			if (in == 0)
				break;
			note("mmap store past EOF %zu+%zu", msize, 4096 - in);
			m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)po);
			if (m == MAP_FAILED)
				die("mmap %zu+4096: %s", po, strerror(errno));
			memset(m + in, 0xe0 | (i & 0xf), 4096 - in);
			if (munmap(m, 4096) < 0)
				die("munmap: %s", strerror(errno));
			break;
		}
		case 't': {
			size_t ns = next() % (maxlen + maxlen / 4);

			note("ftruncate %zu", ns);
			if (ftruncate(fd, (off_t)ns) < 0)
				die("ftruncate %zu: %s", ns, strerror(errno));
			if (ns < msize)
				msize = ns;
			else
				grow(ns);
			break;
		}
		case 'd': {     /* O_DIRECT read of aligned blocks, another open file */
			int dfd = open(path, O_RDONLY | O_DIRECT);
			size_t ao = off & ~4095ul, al = (len + 4095) & ~4095ul;

			if (dfd < 0)
				die("open O_DIRECT: %s", strerror(errno));
			note("O_DIRECT pread %zu+%zu", ao, al);
			n = pread(dfd, buf, al, (off_t)ao);
			if (n < 0 || (size_t)n != (ao + al <= msize ? al : msize > ao ? msize - ao : 0))
				die("O_DIRECT pread %zu+%zu: %zd %s (size %zu)", ao, al, n, strerror(errno),
				    msize);
			check(buf, ao, (size_t)n, "O_DIRECT read");
			close(dfd);
			break;
		}
		case 's':
			note("fsync");
			if (fsync(fd) < 0)
				die("fsync: %s", strerror(errno));
			break;
		case 'a': {     /* O_APPEND through another open file */
			int afd = open(path, O_WRONLY | O_APPEND);

			if (afd < 0)
				die("open O_APPEND: %s", strerror(errno));
			len = len % 8192 + 1;
			fill(buf, len, i);
			note("append %zu at %zu", len, msize);
			if ((n = write(afd, buf, len)) != (ssize_t)len)
				die("append: %zd %s", n, strerror(errno));
			grow(msize + len);
			memcpy(model + msize - len, buf, len);
			close(afd);
			break;
		}
		}
		struct stat st;
		if (fstat(fd, &st) < 0 || (size_t)st.st_size != msize)
			die("after op %u: size %jd, want %zu", i, (intmax_t)st.st_size, msize);
	}
	close(fd);
	/* a self-test of the checker: FSX_CORRUPT=1 makes the model wrong */
	if (getenv("FSX_CORRUPT") && msize)
		model[msize / 2] ^= 0x5a;
	/* the whole file through a fresh open file */
	if ((fd = open(path, O_RDONLY)) < 0)
		die("reopen: %s", strerror(errno));
	unsigned char *all = malloc(msize + 1);
	size_t got = 0;
	ssize_t n;

	while (all && (n = read(fd, all + got, msize + 1 - got)) > 0)
		got += (size_t)n;
	if (!all || got != msize)
		die("final read: %zu bytes, want %zu", got, msize);
	check(all, 0, msize, "final read");
	close(fd);
	printf("fsx: %u operations, final size %zu, ok\n", nops, msize);
	free(all);
	free(buf);
	free(model);
	return 0;
}
