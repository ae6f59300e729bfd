/* fuzz/fuzz_image.c - libFuzzer target: mount a damaged image read-only, walk it, and fsck it */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daxfs/dm.h"
#include "daxfs/fs.h"

/*
 * The input is a patch list over a fresh 8 MiB filesystem image (made once,
 * with a few files and directories): records of u32 offset, u8 length, bytes.
 * The patched image is mounted read-only and every directory, file, symlink
 * and xattr list reachable from the root is read; then fsck -n runs over it.
 * Whatever the damage, the answer must be an error, never a crash, a hang or
 * an out-of-bounds access.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define IMAGE_SIZE (8u << 20)
#define IMAGE_PATH "/dev/shm/daxfs-fuzz-image"

static uint8_t *pristine;

static int write_image(const uint8_t *img)
{
	int fd = open(IMAGE_PATH, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t off = 0;

	if (fd < 0)
		return -1;
	while (off < IMAGE_SIZE) {
		ssize_t n = pwrite(fd, img + off, IMAGE_SIZE - off, (off_t)off);
		if (n <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	close(fd);
	return 0;
}

static void populate(struct dfs *fs)
{
	struct dfs_cred cred = { .uid = 0, .gid = 0, .umask = 022 };
	struct stat d, f, l;
	char buf[9000];

	memset(buf, 'x', sizeof(buf));
	if (dfs_mkdir(fs, DFS_ROOT_INO, "dir", 0755, &cred, &d) == 0) {
		for (int i = 0; i < 6; i++) {
			char name[16];

			snprintf(name, sizeof(name), "f%d", i);
			if (dfs_mknod(fs, d.st_ino, name, S_IFREG | 0644, 0, &cred, &f) == 0) {
				for (int j = 0; j <= i; j++)	/* several extents */
					(void)dfs_pwrite(fs, f.st_ino, buf, sizeof(buf),
							 (off_t)j * 65536, 0);
				(void)dfs_setxattr(fs, f.st_ino, "user.k", "v", 1, 0);
			}
		}
	}
	(void)dfs_symlink(fs, DFS_ROOT_INO, "link", "dir/f1", &cred, &l);
}

static void make_pristine(void)
{
	struct mapped_device *md = NULL;
	struct dfs *fs = NULL;
	struct dfs_mount_opts o = { 0 };
	int fd;

	pristine = calloc(1, IMAGE_SIZE);
	if (!pristine || write_image(pristine) != 0)
		abort();
	if (dm_md_open_source(IMAGE_PATH, "fuzz", &md) != 0 ||
	    dfs_mkfs(md, &(struct dfs_mkfs_opts){ .force = true }) != 0 ||
	    dfs_mount(md, &o, &fs) != 0)
		abort();
	populate(fs);
	if (dfs_unmount(&fs) != 0)
		abort();
	dm_md_destroy(&md);
	fd = open(IMAGE_PATH, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || pread(fd, pristine, IMAGE_SIZE, 0) != (ssize_t)IMAGE_SIZE)
		abort();
	close(fd);
}

struct walk {
	struct dfs *fs;
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

static void walk(struct dfs *fs)
{
	struct walk *w = calloc(1, sizeof(*w));
	char buf[4096];
	unsigned i = 0;

	if (!w)
		return;
	w->fs = fs;
	w->inos[w->n++] = DFS_ROOT_INO;
	/* breadth first over everything reachable, at most 256 inodes */
	for (; i < w->n && i < 256; i++) {
		uint64_t ino = w->inos[i];
		struct stat st;

		if (dfs_getattr(fs, ino, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			(void)dfs_readdir(fs, ino, 0, false, collect, w);
		} else if (S_ISREG(st.st_mode)) {
			for (off_t off = 0; off < st.st_size && off < (1 << 20); off += sizeof(buf))
				if (dfs_pread(fs, ino, buf, sizeof(buf), off) < 0)
					break;
			(void)dfs_lseek(fs, ino, 0, SEEK_DATA);
		} else if (S_ISLNK(st.st_mode)) {
			(void)dfs_readlink(fs, ino, buf, sizeof(buf));
		}
		(void)dfs_listxattr(fs, ino, buf, sizeof(buf));
	}
	free(w);
}

static void ignore(void *ctx, const struct dfs_fsck_problem *p)
{
	(void)ctx;
	(void)p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *img;
	struct mapped_device *md = NULL;
	struct dfs *fs = NULL;
	struct dfs_mount_opts o = { .rdonly = true };
	struct dfs_fsck_result res;

	if (!pristine)
		make_pristine();
	if (!img && !(img = malloc(IMAGE_SIZE)))
		abort();
	memcpy(img, pristine, IMAGE_SIZE);
	for (size_t p = 0; p + 5 <= size;) {
		uint32_t off;
		uint8_t len;

		memcpy(&off, data + p, 4);
		len = data[p + 4];
		p += 5;
		if (len > size - p)
			len = (uint8_t)(size - p);
		off %= IMAGE_SIZE - 256;
		memcpy(img + off, data + p, len);
		p += len;
	}
	if (write_image(img) != 0)
		abort();
	if (dm_md_open_source(IMAGE_PATH, "fuzz", &md) != 0)
		return 0;
	if (dfs_mount(md, &o, &fs) == 0) {
		walk(fs);
		(void)dfs_unmount(&fs);
	}
	(void)dfs_fsck(md, DFS_FSCK_CHECK, ignore, NULL, &res);
	dm_md_destroy(&md);
	return 0;
}
