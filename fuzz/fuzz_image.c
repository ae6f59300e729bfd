/* fuzz/fuzz_image.c - libFuzzer target: mount an image read-write, run operations from the input, fsck */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "daxfs/dm.h"
#include "daxfs/fs.h"
#include "harness.h"

/*
 * The input: a flags byte, then (flags bits 0-1) up to three patches of the
 * image (fuzz_patch_image; bit 2 reseals them), then operations, each an
 * opcode byte and its arguments, until the input ends (at most MAX_OPS).
 * The image is a fresh 8 MiB filesystem with a few files, mounted
 * read-write (bit 3: with batched commits; bit 4: dax=never, the bio path),
 * and the operations are what the FUSE server would ask, with the lookup
 * counts the kernel would keep. Then it is unmounted and checked.
 *
 * Undamaged, the filesystem must stay consistent whatever is asked of it:
 * no call fails with EIO, data written reads back, the unmount succeeds and
 * fsck finds nothing. Damaged, any answer but a crash, a hang or a sanitizer
 * report is fine; and (bit 5) when fsck -y repairs every problem it finds,
 * fsck -n must find none.
 */

#define MAX_OPS 96
#define NSLOT 16
#define IO_MAX (256u << 10)

enum {
	F_PATCHES = 3u << 0,
	F_RESEAL = 1u << 2,
	F_BATCHED = 1u << 3,
	F_NODAX = 1u << 4,
	F_REPAIR = 1u << 5,
};

static char image[4200];
static uint8_t *pristine, *img, *iobuf, *readbuf;

/* An inode the "kernel" knows, with the lookup references it holds. */
struct slot {
	uint64_t ino;
	uint64_t nlookup;
	unsigned leases;
};

struct state {
	struct fuzz_in in;
	struct mapped_device *md;
	struct dfs *fs;
	struct dfs_mount_opts opts;
	bool clean;                 /* no damage: every property must hold */
	struct slot slots[NSLOT];   /* [0] is the root, never forgotten */
	unsigned nslots;
};

static void populate(struct dfs *fs)
{
	struct dfs_cred cred = { .uid = 0, .gid = 0, .umask = 022 };
	struct stat d, f, l;

	memset(iobuf, 'x', 9000);
	if (dfs_mkdir(fs, DFS_ROOT_INO, "dir", 0755, &cred, &d) == 0) {
		for (int i = 0; i < 4; i++) {
			char name[16];

			snprintf(name, sizeof(name), "f%d", i);
			if (dfs_mknod(fs, d.st_ino, name, S_IFREG | 0644, 0, &cred, &f) == 0) {
				for (int j = 0; j <= i; j++)    /* several extents */
					(void)dfs_pwrite(fs, f.st_ino, iobuf, 9000, (off_t)j * 65536, 0);
				(void)dfs_setxattr(fs, f.st_ino, "user.k", "v", 1, 0);
			}
		}
	}
	(void)dfs_symlink(fs, DFS_ROOT_INO, "link", "dir/f1", &cred, &l);
	(void)dfs_mknod(fs, DFS_ROOT_INO, "a", S_IFREG | 0600, 0, &cred, &f);
}

/* ---- what the kernel would keep ------------------------------------------ */

static void hold(struct state *s, const struct stat *st)
{
	for (unsigned i = 0; i < s->nslots; i++)
		if (s->slots[i].ino == st->st_ino) {
			s->slots[i].nlookup++;
			return;
		}
	if (s->nslots < NSLOT)
		s->slots[s->nslots++] = (struct slot){ .ino = st->st_ino, .nlookup = 1 };
	else
		dfs_forget(s->fs, st->st_ino, 1);   /* the kernel forgets at once */
}

static void drop(struct state *s, unsigned i)
{
	struct slot *sl = &s->slots[i];

	if (i == 0)
		return;
	while (sl->leases && dfs_lease_put(s->fs, sl->ino) == 0)
		sl->leases--;
	dfs_forget(s->fs, sl->ino, sl->nlookup);
	*sl = s->slots[--s->nslots];
}

static void drop_all(struct state *s)
{
	while (s->nslots > 1)
		drop(s, s->nslots - 1);
	s->slots[0].nlookup = 0;
}

static struct slot *pick(struct state *s)
{
	struct slot *sl = &s->slots[fuzz_u8(&s->in) % s->nslots];

	if (fuzz_debug())
		fprintf(stderr, "  inode %llu\n", (unsigned long long)sl->ino);
	return sl;
}

static const char *pick_name(struct state *s)
{
	static const char *const names[] = { "a", "b", "c", "dir", "link", "f0", "f1", "f2",
					     "sub", "", ".", "..", "x/y", NULL, NULL };
	static char long_ok[256], long_bad[257];
	unsigned v = fuzz_u8(&s->in) % (sizeof(names) / sizeof(names[0]));

	if (!long_ok[0]) {
		memset(long_ok, 'n', 255);
		memset(long_bad, 'm', 256);
	}
	if (fuzz_debug())
		fprintf(stderr, "  name '%.8s'\n", names[v] ? names[v] : "<long>");
	if (names[v])
		return names[v];
	return v == sizeof(names) / sizeof(names[0]) - 1 ? long_bad : long_ok;
}

static off_t pick_offset(struct state *s)
{
	switch (fuzz_u8(&s->in) % 5) {
	case 0:
		return fuzz_u16(&s->in);
	case 1:
		return (off_t)(fuzz_u32(&s->in) % (16u << 20));
	case 2:
		return (off_t)fuzz_u16(&s->in) * 4096;
	case 3:
		return (off_t)fuzz_u64(&s->in);
	default:
		return INT64_MAX - fuzz_u16(&s->in);
	}
}

static size_t pick_len(struct state *s)
{
	uint8_t v = fuzz_u8(&s->in);

	return v < 200 ? fuzz_u16(&s->in) % 20000 : fuzz_u32(&s->in) % (IO_MAX + 1);
}

static const char *pick_xattr(struct state *s)
{
	static const char *const names[] = { "user.k", "user.a", "user.b", "trusted.t",
					     "security.s", "system.daxfs.iomap", "user.", "" };

	return names[fuzz_u8(&s->in) % (sizeof(names) / sizeof(names[0]))];
}

/* A failure an undamaged filesystem must never give. */
static void check(struct state *s, const char *op, long ret)
{
	if (fuzz_debug())
		fprintf(stderr, "%s: %ld\n", op, ret);
	if (s->clean && (ret == -EIO || ret == -EUCLEAN || dfs_shutdown_error(s->fs)))
		fuzz_fail("%s on an undamaged filesystem: %s (%s)", op, strerror((int)-ret),
			  daxfs_errormsg());
}

/* ---- the operations ---------------------------------------------------- */

/* A call that returns an entry (and a lookup reference to it) on success. */
static void made(struct state *s, const char *op, int err, const struct stat *st)
{
	if (err == 0 && fuzz_debug())
		fprintf(stderr, "%s: inode %llu\n", op, (unsigned long long)st->st_ino);
	if (err == 0)
		hold(s, st);
	else
		check(s, op, err);
}

static int fill(void *ctx, const char *name, const struct stat *st, off_t next)
{
	struct state *s = ctx;

	(void)next;
	if (strcmp(name, ".") && strcmp(name, ".."))
		hold(s, st);
	return 0;
}

static void op_write(struct state *s)
{
	struct slot *sl = pick(s);
	off_t off = pick_offset(s);
	size_t len = pick_len(s);
	uint8_t fill_byte = fuzz_u8(&s->in);
	unsigned flags = fuzz_u8(&s->in) & (DFS_WRITE_APPEND | DFS_WRITE_SYNC);
	ssize_t n;

	for (size_t i = 0; i < len; i++)
		iobuf[i] = (uint8_t)(fill_byte + i / 4096);
	n = dfs_pwrite(s->fs, sl->ino, iobuf, len, off, flags);
	check(s, "write", n);
	if (n <= 0 || (flags & DFS_WRITE_APPEND) || !s->clean)
		return;
	ssize_t r = dfs_pread(s->fs, sl->ino, readbuf, (size_t)n, off);
	if (r != n || memcmp(readbuf, iobuf, (size_t)n) != 0)
		fuzz_fail("inode %llu: %zd bytes written at %lld do not read back (read %zd)",
			  (unsigned long long)sl->ino, n, (long long)off, r);
}

static void op_setattr(struct state *s)
{
	struct slot *sl = pick(s);
	unsigned to_set = fuzz_u16(&s->in) & 0x1ff;
	struct stat attr = { 0 }, out;

	attr.st_mode = fuzz_u16(&s->in);
	attr.st_uid = fuzz_u8(&s->in);
	attr.st_gid = fuzz_u8(&s->in);
	attr.st_size = pick_offset(s);
	attr.st_atim.tv_sec = (time_t)fuzz_u32(&s->in);
	attr.st_mtim.tv_nsec = fuzz_u32(&s->in) % 1000000000;
	attr.st_ctim.tv_sec = -(time_t)fuzz_u8(&s->in);
	check(s, "setattr", dfs_setattr(s->fs, sl->ino, &attr, to_set, &out));
}

static void op_fallocate(struct state *s)
{
	static const int modes[] = { 0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				     FALLOC_FL_ZERO_RANGE, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
				     FALLOC_FL_PUNCH_HOLE, FALLOC_FL_COLLAPSE_RANGE };
	struct slot *sl = pick(s);
	int mode = modes[fuzz_u8(&s->in) % (sizeof(modes) / sizeof(modes[0]))];
	off_t off = pick_offset(s), len = pick_offset(s);

	check(s, "fallocate", dfs_fallocate(s->fs, sl->ino, mode, off, len));
}

static void op_xattr(struct state *s)
{
	struct slot *sl = pick(s);
	const char *name = pick_xattr(s);
	uint8_t what = fuzz_u8(&s->in);
	char list[512];

	switch (what % 4) {
	case 0: {
		size_t len = what < 128 ? fuzz_u8(&s->in) : fuzz_u16(&s->in) % (70u << 10);

		memset(iobuf, what, len);
		check(s, "setxattr", dfs_setxattr(s->fs, sl->ino, name, iobuf, len,
						  fuzz_u8(&s->in) % 4));
		break;
	}
	case 1:
		check(s, "removexattr", dfs_removexattr(s->fs, sl->ino, name));
		break;
	case 2:
		check(s, "getxattr", dfs_getxattr(s->fs, sl->ino, name, readbuf, fuzz_u16(&s->in)));
		break;
	default:
		check(s, "listxattr", dfs_listxattr(s->fs, sl->ino, list, fuzz_u16(&s->in) % sizeof(list)));
	}
}

static void op_remount(struct state *s)
{
	char why[512];

	drop_all(s);
	if (dfs_unmount(&s->fs) != 0 && s->clean)
		fuzz_fail("unmount of an undamaged filesystem: %s", daxfs_errormsg());
	if (s->clean && fuzz_fsck(s->md, DFS_FSCK_CHECK, why, sizeof(why)))
		fuzz_fail("fsck after a remount: %s", why);
	s->opts.commit_interval_ms = fuzz_u8(&s->in) & 1 ? 1000 : 0;
	if (dfs_mount(s->md, &s->opts, &s->fs) != 0) {
		if (s->clean)
			fuzz_fail("remount of an undamaged filesystem: %s", daxfs_errormsg());
		s->fs = NULL;
	}
}

static void run_op(struct state *s)
{
	struct dfs_cred cred = { .uid = fuzz_u8(&s->in) % 3, .gid = 0, .umask = 022 };
	struct stat st;
	uint8_t op = fuzz_u8(&s->in);
	struct slot *a, *b;
	const char *name;

	switch (op % 22) {
	case 0: {
		static const mode_t types[] = { S_IFREG, S_IFREG, S_IFIFO, S_IFSOCK, S_IFCHR, S_IFBLK,
						S_IFDIR, 0 };
		mode_t type = types[fuzz_u8(&s->in) % (sizeof(types) / sizeof(types[0]))];

		a = pick(s);
		name = pick_name(s);
		made(s, "mknod", dfs_mknod(s->fs, a->ino, name, type | 0644, 0x0801, &cred, &st), &st);
		break;
	}
	case 1:
		a = pick(s);
		name = pick_name(s);
		made(s, "mkdir", dfs_mkdir(s->fs, a->ino, name, 0755, &cred, &st), &st);
		break;
	case 2: {
		char target[4200];
		size_t len = fuzz_u16(&s->in) % sizeof(target);

		memset(target, 't', len);
		target[len] = '\0';
		a = pick(s);
		name = pick_name(s);
		made(s, "symlink", dfs_symlink(s->fs, a->ino, name, target, &cred, &st), &st);
		break;
	}
	case 3:
		a = pick(s);
		b = pick(s);
		name = pick_name(s);
		made(s, "link", dfs_link(s->fs, a->ino, b->ino, name, &st), &st);
		break;
	case 4:
		a = pick(s);
		check(s, "unlink", dfs_unlink(s->fs, a->ino, pick_name(s)));
		break;
	case 5:
		a = pick(s);
		check(s, "rmdir", dfs_rmdir(s->fs, a->ino, pick_name(s)));
		break;
	case 6: {
		static const unsigned flags[] = { 0, 0, RENAME_NOREPLACE, RENAME_EXCHANGE,
						  RENAME_WHITEOUT, RENAME_NOREPLACE | RENAME_EXCHANGE };
		const char *to;

		a = pick(s);
		name = pick_name(s);
		b = pick(s);
		to = pick_name(s);
		check(s, "rename", dfs_rename(s->fs, a->ino, name, b->ino, to,
					      flags[fuzz_u8(&s->in) % (sizeof(flags) / sizeof(flags[0]))]));
		break;
	}
	case 7:
	case 8:
		op_write(s);
		break;
	case 9:
		op_setattr(s);
		break;
	case 10:
		op_fallocate(s);
		break;
	case 11:
		op_xattr(s);
		break;
	case 12: {
		off_t off = pick_offset(s);

		a = pick(s);
		check(s, "read", dfs_pread(s->fs, a->ino, readbuf, pick_len(s), off));
		(void)dfs_lseek(s->fs, a->ino, off, fuzz_u8(&s->in) & 1 ? SEEK_DATA : SEEK_HOLE);
		break;
	}
	case 13:
		a = pick(s);
		check(s, "readdir", dfs_readdir(s->fs, a->ino, fuzz_u8(&s->in) % 8,
						fuzz_u8(&s->in) & 1, fill, s));
		break;
	case 14:
		a = pick(s);
		made(s, "lookup", dfs_lookup(s->fs, a->ino, pick_name(s), &st), &st);
		break;
	case 15:
		a = pick(s);
		check(s, "fsync", fuzz_u8(&s->in) & 1 ? dfs_sync(s->fs)
						   : dfs_fsync(s->fs, a->ino, fuzz_u8(&s->in) & 1));
		break;
	case 16: {
		off_t from = pick_offset(s), to = pick_offset(s);

		a = pick(s);
		b = pick(s);
		check(s, "copy_file_range",
		      dfs_copy_file_range(s->fs, a->ino, from, b->ino, to, pick_len(s)));
		break;
	}
	case 17:
		drop(s, fuzz_u8(&s->in) % s->nslots);
		break;
	case 18:
		a = pick(s);
		if (fuzz_u8(&s->in) & 1) {
			if (dfs_lease_get(s->fs, a->ino) == 0)
				a->leases++;
		} else if (a->leases && dfs_lease_put(s->fs, a->ino) == 0) {
			a->leases--;
		}
		break;
	case 19: {
		struct statvfs sv;

		check(s, "statfs", dfs_statfs(s->fs, &sv));
		if (dfs_freeze(s->fs) == 0)
			dfs_thaw(s->fs);
		break;
	}
	case 20: {
		char target[128];

		a = pick(s);
		(void)dfs_readlink(s->fs, a->ino, target, fuzz_u8(&s->in) % sizeof(target));
		check(s, "getattr", dfs_getattr(s->fs, a->ino, &st));
		break;
	}
	default:
		op_remount(s);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state *s = calloc(1, sizeof(*s));
	uint8_t flags;
	char why[512];

	if (!pristine) {
		fuzz_path(image, sizeof(image), "image");
		if (!(iobuf = malloc(IO_MAX)) || !(readbuf = malloc(IO_MAX)) ||
		    !(img = malloc(FUZZ_IMAGE_SIZE)))
			abort();
		pristine = fuzz_image_make(image, populate);
	}
	if (!s)
		abort();
	s->in = (struct fuzz_in){ data, size };
	flags = fuzz_u8(&s->in);
	memcpy(img, pristine, FUZZ_IMAGE_SIZE);
	fuzz_patch_image(&s->in, flags & F_PATCHES, flags & F_RESEAL, img);
	s->clean = memcmp(img, pristine, FUZZ_IMAGE_SIZE) == 0;
	fuzz_image_write(image, img);
	if (dm_md_open_source(image, "fuzz", &s->md) != 0) {
		free(s);
		return 0;
	}
	s->opts = (struct dfs_mount_opts){
		.commit_interval_ms = flags & F_BATCHED ? 1000 : 0,
		.dax = flags & F_NODAX ? DFS_DAX_NEVER : DFS_DAX_INODE,
	};
	s->slots[0] = (struct slot){ .ino = DFS_ROOT_INO };
	s->nslots = 1;
	if (dfs_mount(s->md, &s->opts, &s->fs) != 0) {
		if (s->clean)
			fuzz_fail("mount of the undamaged image: %s", daxfs_errormsg());
		s->fs = NULL;
	}
	for (unsigned n = 0; s->fs && n < MAX_OPS && fuzz_more(&s->in); n++)
		run_op(s);
	if (s->fs) {
		drop_all(s);
		if (dfs_unmount(&s->fs) != 0 && s->clean)
			fuzz_fail("unmount of an undamaged filesystem: %s", daxfs_errormsg());
	}
	if (s->clean) {
		if (fuzz_fsck(s->md, DFS_FSCK_CHECK, why, sizeof(why)))
			fuzz_fail("fsck after the operations: %s", why);
	} else if ((flags & F_REPAIR) && fuzz_fsck(s->md, DFS_FSCK_REPAIR, NULL, 0) == 0) {
		if (fuzz_fsck(s->md, DFS_FSCK_CHECK, why, sizeof(why)))
			fuzz_fail("fsck -n after fsck -y repaired everything: %s", why);
	} else {
		(void)fuzz_fsck(s->md, DFS_FSCK_CHECK, NULL, 0);
	}
	dm_md_destroy(&s->md);
	free(s);
	return 0;
}
