/* fuzz/harness.c - what the fuzz targets share: a private scratch directory, input decoding, images */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/crc32c.h"
#include "fs/format.h"
#include "harness.h"

void fuzz_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("fuzz: property violated: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

bool fuzz_debug(void)
{
	static int on = -1;

	if (on < 0)
		on = getenv("DAXFS_FUZZ_DEBUG") != NULL;
	return on;
}

/* ---- input ---------------------------------------------------------------- */

bool fuzz_more(const struct fuzz_in *in)
{
	return in->n > 0;
}

size_t fuzz_bytes(struct fuzz_in *in, void *out, size_t max)
{
	size_t n = max < in->n ? max : in->n;

	if (n)
		memcpy(out, in->p, n);
	in->p += n;
	in->n -= n;
	return n;
}

uint8_t fuzz_u8(struct fuzz_in *in)
{
	uint8_t v = 0;

	fuzz_bytes(in, &v, 1);
	return v;
}

uint16_t fuzz_u16(struct fuzz_in *in)
{
	uint8_t b[2] = { 0 };

	fuzz_bytes(in, b, 2);
	return dfs_get16(b);
}

uint32_t fuzz_u32(struct fuzz_in *in)
{
	uint8_t b[4] = { 0 };

	fuzz_bytes(in, b, 4);
	return dfs_get32(b);
}

uint64_t fuzz_u64(struct fuzz_in *in)
{
	uint8_t b[8] = { 0 };

	fuzz_bytes(in, b, 8);
	return dfs_get64(b);
}

/* ---- the scratch directory ------------------------------------------------ */

static char scratch[4096];

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	remove(path);
	return 0;
}

static void remove_scratch(void)
{
	if (scratch[0])
		nftw(scratch, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static bool usable_dir(const char *dir)
{
	struct stat st;

	return dir && dir[0] && stat(dir, &st) == 0 && S_ISDIR(st.st_mode) &&
	       access(dir, W_OK) == 0;
}

const char *fuzz_dir(void)
{
	const char *base = getenv("DAXFS_FUZZ_TMPDIR");

	if (scratch[0])
		return scratch;
	if (!usable_dir(base))
		base = usable_dir("/dev/shm") ? "/dev/shm" : getenv("TMPDIR");
	if (!usable_dir(base))
		base = "/tmp";
	snprintf(scratch, sizeof(scratch), "%s/daxfs-fuzz.XXXXXX", base);
	if (!mkdtemp(scratch)) {
		perror("fuzz: mkdtemp");
		abort();
	}
	atexit(remove_scratch);
	return scratch;
}

void fuzz_path(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", fuzz_dir(), name);
}

void fuzz_make_file(const char *path, uint64_t size)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || ftruncate(fd, (off_t)size) != 0) {
		perror(path);
		abort();
	}
	close(fd);
}

/* ---- images ----------------------------------------------------------------- */

void fuzz_image_write(const char *path, const uint8_t *img)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	size_t off = 0;

	if (fd < 0) {
		perror(path);
		abort();
	}
	while (off < FUZZ_IMAGE_SIZE) {
		ssize_t n = pwrite(fd, img + off, FUZZ_IMAGE_SIZE - off, (off_t)off);

		if (n <= 0) {
			perror(path);
			abort();
		}
		off += (size_t)n;
	}
	close(fd);
}

uint8_t *fuzz_image_make(const char *path, void (*populate)(struct dfs *fs))
{
	struct mapped_device *md = NULL;
	struct dfs *fs = NULL;
	struct dfs_mount_opts o = { 0 };
	uint8_t *img = calloc(1, FUZZ_IMAGE_SIZE);
	int fd;

	if (!img)
		abort();
	fuzz_image_write(path, img);
	if (dm_md_open_source(path, "fuzz", &md) != 0 ||
	    dfs_mkfs(md, &(struct dfs_mkfs_opts){ .force = true, .label = "fuzz" }) != 0 ||
	    dfs_mount(md, &o, &fs) != 0)
		fuzz_fail("making the image: %s", daxfs_errormsg());
	if (populate)
		populate(fs);
	if (dfs_unmount(&fs) != 0)
		fuzz_fail("unmounting the new image: %s", daxfs_errormsg());
	dm_md_destroy(&md);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || pread(fd, img, FUZZ_IMAGE_SIZE, 0) != (ssize_t)FUZZ_IMAGE_SIZE)
		abort();
	close(fd);
	return img;
}

/* The number of the first inode slot in block blk, or 0 if blk is not in the
 * inode table. */
static uint64_t itable_first_ino(const struct dfs_super *sb, uint64_t blk)
{
	uint64_t slot = 0;

	for (uint32_t i = 0; i < sb->itable_nextents && i < DFS_ITABLE_MAX_EXTENTS; i++) {
		const struct dfs_itable_extent *e = &sb->itable[i];

		if (blk >= e->pblk && blk - e->pblk < e->len)
			return slot + (blk - e->pblk) * DFS_INODES_PER_BLOCK;
		slot += (uint64_t)e->len * DFS_INODES_PER_BLOCK;
	}
	return 0;
}

void fuzz_reseal(const uint8_t *img, uint64_t blk, uint8_t *b)
{
	struct dfs_super sb;
	uint64_t ino;

	if (dfs_super_decode(img, DFS_SB_PRIMARY, &sb) != 0) {
		dfs_block_seal(blk, b);
		return;
	}
	if (blk >= sb.gdt_start && blk - sb.gdt_start < sb.gdt_blocks) {
		for (unsigned i = 0; i < DFS_GD_PER_BLOCK; i++)
			dfs_gd_seal((blk - sb.gdt_start) * DFS_GD_PER_BLOCK + i, b + i * DFS_GD_SIZE);
	} else if ((ino = itable_first_ino(&sb, blk)) != 0 || (sb.itable_nextents &&
		   blk == sb.itable[0].pblk)) {
		for (unsigned i = 0; i < DFS_INODES_PER_BLOCK; i++) {
			uint8_t *s = b + i * DFS_INODE_SIZE;
			static const uint8_t zero[DFS_INODE_SIZE];

			if (memcmp(s, zero, DFS_INODE_SIZE) != 0)
				dfs_dinode_seal(ino + i, s);
		}
	} else {
		bool label = false;

		/* A member label carries a crc of its own, not seeded with a
		 * position, in a block that has no tail (FORMAT.md "Members"):
		 * damage to one reaches the checks of its fields only with that
		 * crc made right again. */
		for (unsigned off = 0; off + DFS_LABEL_SIZE <= DFS_BLOCK_SIZE; off += DFS_LABEL_SIZE) {
			if (dfs_get64(b + off) != DFS_MAGIC_LABEL)
				continue;
			dfs_label_seal(b + off);
			label = true;
		}
		if (!label)
			dfs_block_seal(blk, b);
	}
}

void fuzz_patch_image(struct fuzz_in *in, unsigned count, bool reseal, uint8_t *img)
{
	for (unsigned i = 0; i < count && fuzz_more(in); i++) {
		uint32_t off = fuzz_u32(in) % (FUZZ_IMAGE_SIZE - 256);
		uint8_t len = fuzz_u8(in);

		len = (uint8_t)fuzz_bytes(in, img + off, len);
		if (!reseal)
			continue;
		for (uint64_t blk = off / DFS_BLOCK_SIZE; blk <= (off + len) / DFS_BLOCK_SIZE; blk++)
			if (blk < FUZZ_IMAGE_SIZE / DFS_BLOCK_SIZE)
				fuzz_reseal(img, blk, img + blk * DFS_BLOCK_SIZE);
	}
}

/* ---- fsck and the walk ------------------------------------------------------ */

struct problems {
	unsigned n;
	char *first;
	size_t size;
};

static void count_problem(void *ctx, const struct dfs_fsck_problem *problem)
{
	struct problems *p = ctx;

	if (problem->repaired)
		return;
	if (p->n++ == 0 && p->first)
		snprintf(p->first, p->size, "%s", problem->text);
}

unsigned fuzz_fsck(struct mapped_device *md, enum dfs_fsck_mode mode, char *first, size_t size)
{
	struct problems p = { .first = first, .size = size };
	struct dfs_fsck_result res;
	int err;

	if (first && size)
		first[0] = '\0';
	err = dfs_fsck(md, mode, count_problem, &p, &res);
	if (err < 0 && p.n == 0) {
		p.n = 1;
		if (first)
			snprintf(first, size, "fsck failed: %s", daxfs_errormsg());
	}
	return p.n;
}

struct walk {
	uint64_t inos[256];
	unsigned n;
};

static int collect(void *ctx, const char *name, const struct stat *st, off_t next)
{
	struct walk *w = ctx;

	(void)next;
	if (strcmp(name, ".") && strcmp(name, "..") && w->n < 256)
		w->inos[w->n++] = st->st_ino;
	return 0;
}

void fuzz_walk(struct dfs *fs)
{
	struct walk *w = calloc(1, sizeof(*w));
	char *buf = malloc(4096);

	if (!w || !buf)
		abort();
	w->inos[w->n++] = DFS_ROOT_INO;
	/* breadth first over everything reachable */
	for (unsigned i = 0; i < w->n; i++) {
		uint64_t ino = w->inos[i];
		struct stat st;
		ssize_t len;

		if (dfs_getattr(fs, ino, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			(void)dfs_readdir(fs, ino, 0, false, collect, w);
		} else if (S_ISREG(st.st_mode)) {
			for (off_t off = 0; off < st.st_size && off < (1 << 20); off += 4096)
				if (dfs_pread(fs, ino, buf, 4096, off) < 0)
					break;
			(void)dfs_lseek(fs, ino, 0, SEEK_DATA);
			(void)dfs_lseek(fs, ino, 0, SEEK_HOLE);
		} else if (S_ISLNK(st.st_mode)) {
			(void)dfs_readlink(fs, ino, buf, 4096);
		}
		len = dfs_listxattr(fs, ino, buf, 4096);
		for (ssize_t p = 0; p < len; p += (ssize_t)strlen(buf + p) + 1) {
			char value[256];

			(void)dfs_getxattr(fs, ino, buf + p, value, sizeof(value));
		}
	}
	free(buf);
	free(w);
}
