/* tests/damage/daxfs-image.c - makes, maps and walks daxfs images for the damaged-image suite */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "daxfs/dm.h"
#include "daxfs/err.h"
#include "daxfs/fs.h"
#include "fs/internal.h"

/*
 * daxfs-image make SOURCE MIB[,MIB...] SEED clean|pending
 *     A populated filesystem on SOURCE, a comma-separated list of member
 *     files (created sparse, MIB MiB each, in the same order), so that
 *     labels lie in several members and groups: nested and large directories, files with holes, many extents (a chain of several
 *     blocks) and preallocation, hard links, symlinks short and long,
 *     special files, xattrs in both namespaces; unmounted cleanly, or ending
 *     with a transaction that is committed but not checkpointed (the process
 *     "dies" after its commit record), holding a create, a rename, an xattr
 *     and an orphan.
 * daxfs-image map SOURCE
 *     One line per metadata block as docs/FORMAT.md lays them out:
 *     "STRUCTURE BLOCK BYTES" (BLOCK: of the mapped device, the members
 *     concatenated; BYTES: how much of the block, from its start, holds the
 *     structure). The journal's structures are those of its live log.
 * daxfs-image walk SOURCE ro|rw
 *     Mounts through the fs library (no FUSE), reads every file, lists every
 *     directory, reads every xattr and symlink; rw also creates, writes and
 *     removes a file. Prints each failed call ("error: ...") and a summary;
 *     exit 0: no call failed, 1: some did, 2: the mount was refused, 3: the
 *     unmount failed.
 */

static const struct dfs_cred cred = { .uid = 0, .gid = 0, .umask = 022 };

static int fail(const char *what)
{
	fprintf(stderr, "daxfs-image: %s: %s\n", what, daxfs_errormsg());
	return 1;
}

static int open_md(const char *image, struct mapped_device **md)
{
	if (dm_md_open_source(image, "image", md))
		return fail(image);
	return 0;
}

/* ---- make ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static int write_at(struct dfs *fs, uint64_t ino, size_t len, off_t off)
{
	static char buf[65536];

	for (size_t i = 0; i < len && i < sizeof(buf); i++)
		buf[i] = (char)('a' + (rnd() % 26));
	return dfs_pwrite(fs, ino, buf, len, off, 0) == (ssize_t)len ? 0 : -1;
}

static uint64_t mkfile(struct dfs *fs, uint64_t dir, const char *name, mode_t mode, dev_t rdev)
{
	struct stat st;

	return dfs_mknod(fs, dir, name, mode, rdev, &cred, &st) ? 0 : st.st_ino;
}

static uint64_t mkdirat_(struct dfs *fs, uint64_t dir, const char *name)
{
	struct stat st;

	return dfs_mkdir(fs, dir, name, 0755, &cred, &st) ? 0 : st.st_ino;
}

static int populate(struct dfs *fs)
{
	struct stat st;
	char name[64], value[2048], target[4001];
	uint64_t a, b, c, big, f;

	if (!(a = mkdirat_(fs, DFS_ROOT_INO, "a")) || !(b = mkdirat_(fs, a, "b")) ||
	    !(c = mkdirat_(fs, b, "c")) || !mkdirat_(fs, DFS_ROOT_INO, "empty") ||
	    !(big = mkdirat_(fs, DFS_ROOT_INO, "big")))
		return -1;
	/* a directory of several blocks */
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "entry-with-a-longish-name-%03d", i);
		if (!(f = mkfile(fs, big, name, S_IFREG | 0644, 0)) || (i % 50 == 0 && write_at(fs, f, 100, 0)))
			return -1;
	}
	/* small files with data and xattrs */
	for (int i = 0; i < 12; i++) {
		snprintf(name, sizeof(name), "file%d", i);
		if (!(f = mkfile(fs, i % 2 ? a : c, name, S_IFREG | 0644, 0)) ||
		    write_at(fs, f, 1000 + 3000 * (size_t)i, 0))
			return -1;
		snprintf(value, sizeof(value), "value-%d", i);
		if (dfs_setxattr(fs, f, "user.k", value, strlen(value), 0) ||
		    (i % 3 == 0 && dfs_setxattr(fs, f, "trusted.t", "x", 1, 0)))
			return -1;
	}
	memset(value, 'v', sizeof(value));
	if (dfs_setxattr(fs, a, "user.big", value, sizeof(value), 0) ||
	    dfs_setxattr(fs, DFS_ROOT_INO, "user.root", "r", 1, 0))
		return -1;
	/* a file of 400 extents: a chain of three blocks */
	if (!(f = mkfile(fs, DFS_ROOT_INO, "fragmented", S_IFREG | 0600, 0)))
		return -1;
	for (int i = 0; i < 400; i++)
		if (write_at(fs, f, 4096, (off_t)i * 8192))
			return -1;
	/* six extents: one chain block; holes; preallocation past EOF */
	if (!(f = mkfile(fs, b, "sparse", S_IFREG | 0644, 0)))
		return -1;
	for (int i = 0; i < 6; i++)
		if (write_at(fs, f, 5000, (off_t)i * 1000000))
			return -1;
	if (dfs_fallocate(fs, f, 1 /* FALLOC_FL_KEEP_SIZE */, 7000000, 200000))
		return -1;
	/* hard links, symlinks, special files */
	if (dfs_link(fs, f, DFS_ROOT_INO, "sparse-link", &st) || dfs_link(fs, f, c, "sparse-link2", &st))
		return -1;
	memset(target, 't', sizeof(target) - 1);
	target[sizeof(target) - 1] = '\0';
	if (dfs_symlink(fs, DFS_ROOT_INO, "short", "a/b/sparse", &cred, &st) ||
	    dfs_symlink(fs, a, "long", target, &cred, &st) ||
	    dfs_setxattr(fs, st.st_ino, "user.on-link", "l", 1, 0) ||
	    !mkfile(fs, DFS_ROOT_INO, "fifo", S_IFIFO | 0644, 0) ||
	    !mkfile(fs, DFS_ROOT_INO, "chr", S_IFCHR | 0644, makedev(1, 3)) ||
	    !mkfile(fs, b, "sock", S_IFSOCK | 0644, 0) ||
	    !mkfile(fs, DFS_ROOT_INO, "victim", S_IFREG | 0644, 0))
		return -1;
	/* fill the first group (preallocated, so it costs no writes) and put a
	 * directory, files and xattrs in the second one */
	if (fs->sb.ngroups > 1) {
		uint64_t g1;
		if (!(f = mkfile(fs, DFS_ROOT_INO, "filler", S_IFREG | 0600, 0)) ||
		    dfs_fallocate(fs, f, 0, 0, (off_t)(fs->gds[0].free - 32) * DFS_BLOCK_SIZE) ||
		    !(g1 = mkdirat_(fs, DFS_ROOT_INO, "second-group")))
			return -1;
		for (int i = 0; i < 40; i++) {
			snprintf(name, sizeof(name), "g1-%d", i);
			if (!(f = mkfile(fs, g1, name, S_IFREG | 0644, 0)) || write_at(fs, f, 6000, 0) ||
			    dfs_setxattr(fs, f, "user.g", name, strlen(name), 0))
				return -1;
		}
	}
	return 0;
}

/* The last transaction: committed, never checkpointed. */
static int pending_transaction(struct dfs *fs)
{
	struct stat st, v;
	uint64_t f;

	if (!(f = mkfile(fs, DFS_ROOT_INO, "pending", S_IFREG | 0644, 0)) || write_at(fs, f, 3000, 0) ||
	    dfs_setxattr(fs, f, "user.p", "pending", 7, 0) ||
	    dfs_rename(fs, DFS_ROOT_INO, "empty", DFS_ROOT_INO, "empty-renamed", 0) ||
	    dfs_lookup(fs, DFS_ROOT_INO, "victim", &v) ||     /* held open, then unlinked: an orphan */
	    dfs_unlink(fs, DFS_ROOT_INO, "victim") ||
	    dfs_lookup(fs, DFS_ROOT_INO, "pending", &st))
		return -1;
	fs->fail_point = DFS_FAIL_BEFORE_CHECKPOINT;
	return dfs_sync(fs) == -EIO ? 0 : -1;
}

/* Creates each file of the list source, sparse, of the size sizes lists. */
static int make_members(const char *source, const char *sizes)
{
	char *files = strdup(source), *mibs = strdup(sizes), *fsave = NULL, *msave = NULL;
	const char *file = files ? strtok_r(files, ",", &fsave) : NULL;
	const char *mib = mibs ? strtok_r(mibs, ",", &msave) : NULL;
	int ret = 0;

	for (; file && mib && !ret; file = strtok_r(NULL, ",", &fsave), mib = strtok_r(NULL, ",", &msave)) {
		int fd = open(file, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		if (fd < 0 || ftruncate(fd, (off_t)(strtoull(mib, NULL, 10) << 20)) || close(fd)) {
			perror(file);
			ret = 1;
		}
	}
	if (!ret && (file || mib)) {
		fprintf(stderr, "daxfs-image: %s: one size for each file of %s\n", sizes, source);
		ret = 1;
	}
	free(files);
	free(mibs);
	return ret;
}

static int cmd_make(const char *source, const char *sizes, uint64_t seed, bool pending)
{
	const struct dfs_mount_opts batched = { .commit_interval_ms = DFS_COMMIT_MAX_MS };
	struct mapped_device *md = NULL;
	struct dfs *fs = NULL;

	rng_state = seed * 2654435761u + 1;
	if (make_members(source, sizes))
		return 1;
	if (open_md(source, &md))
		return 1;
	if (dfs_mkfs(md, &(struct dfs_mkfs_opts){ .label = "damage" }) || dfs_mount(md, NULL, &fs))
		return fail("mkfs");
	if (populate(fs))
		return fail("populate");
	if (!pending) {
		if (dfs_unmount(&fs))
			return fail("unmount");
	} else {
		if (dfs_unmount(&fs) || dfs_mount(md, &batched, &fs))
			return fail("remount");
		if (pending_transaction(fs))
			return fail("pending transaction");
		dfs_abandon(&fs);
	}
	dm_md_destroy(&md);
	return 0;
}

/* ---- map ---- */

static void out(const char *what, uint64_t blk, unsigned bytes)
{
	printf("%s %" PRIu64 " %u\n", what, blk, bytes);
}

static int map_journal(struct dfs *fs)
{
	const uint64_t js = fs->sb.journal_start, jend = js + fs->sb.journal_blocks;
	uint8_t b[DFS_BLOCK_SIZE];

	out("journal-header", js, 32);
	if (dfs_dev_read(fs, js, b, 1))
		return -1;
	uint64_t seq = dfs_get64(b + DFS_JBLK_SEQ);
	for (uint64_t pos = js + 1; pos < jend; ) {
		if (dfs_dev_read(fs, pos, b, 1))
			return -1;
		if (dfs_jblock_ok(b, pos, DFS_MAGIC_JCOMMIT, fs->sb.uuid, seq)) {
			out("journal-commit", pos, 48);
			break;
		}
		if (!dfs_jblock_ok(b, pos, DFS_MAGIC_JDESC, fs->sb.uuid, seq))
			break;
		uint32_t n = dfs_get32(b + DFS_JDESC_COUNT);
		out("journal-descriptor", pos, DFS_JDESC_HDR + 8 * n);
		for (uint32_t i = 0; i < n; i++)
			out("journal-logged", pos + 1 + i, DFS_BLOCK_SIZE);
		pos += 1 + n;
	}
	return 0;
}

static int cmd_map(const char *image)
{
	const struct dfs_mount_opts ro = { .rdonly = true };
	struct mapped_device *md = NULL;
	struct dfs *fs = NULL;

	if (open_md(image, &md))
		return 1;
	if (dfs_mount(md, &ro, &fs))
		return fail("mount");
	out("sb-primary", 0, 2304);
	out("sb-backup", 1, 2304);
	if (map_journal(fs))
		return fail("journal");
	for (uint32_t k = 0; k < fs->sb.gdt_blocks; k++)
		out("gdt", fs->sb.gdt_start + k, (unsigned)(fs->sb.ngroups - k * DFS_GD_PER_BLOCK < DFS_GD_PER_BLOCK
						      ? fs->sb.ngroups - k * DFS_GD_PER_BLOCK : DFS_GD_PER_BLOCK) * DFS_GD_SIZE);
	for (uint32_t k = 0; k < fs->sb.member_blocks; k++) {
		uint32_t n = fs->sb.nmembers - k * DFS_MTAB_PER_BLOCK;

		out("member-table", fs->sb.gdt_start + fs->sb.gdt_blocks + k,
		    DFS_MTAB_HDR + (n < DFS_MTAB_PER_BLOCK ? n : DFS_MTAB_PER_BLOCK) * DFS_MEMBER_SIZE);
	}
	for (uint32_t k = 0; k < fs->sb.nmembers; k++)    /* the label and what comes before it */
		out("label", fs->members[k].label_sector >> 3,
		    (unsigned)(fs->members[k].label_sector % 8 + 1) * DFS_LABEL_SIZE);
	for (uint64_t g = 0; g < fs->sb.ngroups; g++)
		if (fs->gds[g].bitmap_blk)
			out("bitmap", fs->gds[g].bitmap_blk, DFS_BLOCK_SIZE);
	pthread_mutex_lock(&fs->meta);
	for (uint64_t ino = 1; ino < fs->itable_slots; ino++) {
		struct dfs_inode *ip;
		struct dfs_buf *b;
		uint8_t *slot;

		if (dfs_iget(fs, ino, &ip))
			continue;
		if (ino % DFS_INODES_PER_BLOCK == 0 || ino == 1) {
			/* the table block holding this inode (once per block) */
			if (dfs_inode_slot(fs, ino, &b, &slot) == 0)
				out(ino < DFS_INODES_PER_BLOCK ? "itable-root" : "itable", b->blkno,
				    DFS_BLOCK_SIZE);
		}
		for (size_t i = 0; i < ip->nchain; i++)
			out("extent-chain", ip->chain[i], DFS_EXTBLK_HDR + DFS_EXTBLK_MAX * DFS_EXTENT_SIZE);
		if (ip->d.xattr_blk)
			out("xattr", ip->d.xattr_blk, DFS_BLOCK_SIZE);
		const uint32_t type = ip->d.mode & S_IFMT;
		for (size_t i = 0; (type == S_IFDIR || type == S_IFLNK) && i < ip->next; i++)
			for (uint32_t k = 0; k < ip->ext[i].len; k++)
				out(type == S_IFLNK ? "symlink" : ino == DFS_ROOT_INO ? "dir-root" : "dir",
				    ip->ext[i].pblk + k, type == S_IFLNK ? (unsigned)ip->d.size : DFS_BLOCK_SIZE);
	}
	pthread_mutex_unlock(&fs->meta);
	dfs_abandon(&fs);
	dm_md_destroy(&md);
	return 0;
}

/* ---- walk ---- */

struct walk {
	struct dfs *fs;
	uint64_t *queue;
	size_t nq, cap;
	uint8_t *seen;
	uint64_t slots;
	unsigned errors, inodes;
	const char *where;
};

static void error(struct walk *w, const char *what, uint64_t ino, int err)
{
	w->errors++;
	printf("error: %s inode %" PRIu64 ": %s (%s)\n", what, ino, strerror(-err), daxfs_errormsg());
}

static int collect(void *ctx, const char *name, const struct stat *st, off_t next)
{
	struct walk *w = ctx;

	(void)next;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return 0;
	if (st->st_ino >= w->slots || w->seen[st->st_ino])
		return 0;
	if (w->nq == w->cap) {
		size_t ncap = w->cap * 2;
		uint64_t *n = realloc(w->queue, ncap * sizeof(*n));
		if (!n)
			return 1;
		w->queue = n;
		w->cap = ncap;
	}
	w->seen[st->st_ino] = 1;
	w->queue[w->nq++] = st->st_ino;
	return 0;
}

static void walk_xattrs(struct walk *w, uint64_t ino)
{
	char list[8192], value[70000];
	ssize_t n = dfs_listxattr(w->fs, ino, list, sizeof(list));

	if (n < 0) {
		error(w, "listxattr", ino, (int)n);
		return;
	}
	for (char *p = list; p < list + n; p += strlen(p) + 1) {
		ssize_t r = dfs_getxattr(w->fs, ino, p, value, sizeof(value));
		if (r < 0)
			error(w, "getxattr", ino, (int)r);
	}
}

static void walk_one(struct walk *w, uint64_t ino)
{
	static char buf[1 << 16];
	struct stat st;
	int err;

	w->inodes++;
	if ((err = dfs_getattr(w->fs, ino, &st))) {
		error(w, "getattr", ino, err);
		return;
	}
	if (S_ISDIR(st.st_mode)) {
		if ((err = dfs_readdir(w->fs, ino, 0, false, collect, w)))
			error(w, "readdir", ino, err);
	} else if (S_ISREG(st.st_mode)) {
		/* every byte of data, hole by hole: a sparse file may be huge */
		for (off_t off = 0; off < st.st_size; ) {
			off_t d = dfs_lseek(w->fs, ino, off, SEEK_DATA), h;
			if (d < 0) {
				if (d != -ENXIO)
					error(w, "lseek", ino, (int)d);
				break;
			}
			if ((h = dfs_lseek(w->fs, ino, d, SEEK_HOLE)) < 0) {
				error(w, "lseek", ino, (int)h);
				break;
			}
			for (off = d; off < h; ) {
				size_t want = (size_t)(h - off) < sizeof(buf) ? (size_t)(h - off) : sizeof(buf);
				ssize_t r = dfs_pread(w->fs, ino, buf, want, off);
				if (r <= 0) {
					if (r < 0)
						error(w, "read", ino, (int)r);
					off = h;
					break;
				}
				off += r;
			}
			off = h;
		}
	} else if (S_ISLNK(st.st_mode)) {
		ssize_t r = dfs_readlink(w->fs, ino, buf, sizeof(buf));
		if (r < 0)
			error(w, "readlink", ino, (int)r);
	}
	walk_xattrs(w, ino);
}

/* A change on a read-write mount: must work on a sound filesystem and leave
 * it sound. A filesystem fsck had to fill (copies of blocks claimed twice)
 * may have no room left: ENOSPC is an answer, not a failure. */
static void probe(struct walk *w)
{
	struct statvfs sv;
	struct stat st;
	int err;

	if (dfs_statfs(w->fs, &sv) == 0 && sv.f_bfree < 64) {
		printf("probe skipped: %llu blocks free\n", (unsigned long long)sv.f_bfree);
		return;
	}

	if ((err = dfs_mknod(w->fs, DFS_ROOT_INO, "walk-probe", S_IFREG | 0644, 0, &cred, &st))) {
		error(w, "create", DFS_ROOT_INO, err);
		return;
	}
	ssize_t r = dfs_pwrite(w->fs, st.st_ino, "probe", 5, 40000, 0);
	if (r != 5)
		error(w, "write", st.st_ino, r < 0 ? (int)r : -EIO);
	if ((err = dfs_setxattr(w->fs, st.st_ino, "user.probe", "p", 1, 0)))
		error(w, "setxattr", st.st_ino, err);
	if ((err = dfs_unlink(w->fs, DFS_ROOT_INO, "walk-probe")))
		error(w, "unlink", DFS_ROOT_INO, err);
}

static int cmd_walk(const char *image, bool rw)
{
	struct dfs_mount_opts o = { .rdonly = !rw };
	struct mapped_device *md = NULL;
	struct walk w = { .cap = 256 };
	int ret = 0;

	if (open_md(image, &md))
		return 1;
	if (dfs_mount(md, &o, &w.fs)) {
		printf("mount refused: %s\n", daxfs_errormsg());
		dm_md_destroy(&md);
		return 2;
	}
	w.slots = w.fs->itable_slots;
	w.queue = malloc(w.cap * sizeof(*w.queue));
	w.seen = calloc(w.slots, 1);
	if (!w.queue || !w.seen)
		return fail("out of memory");
	w.seen[DFS_ROOT_INO] = 1;
	w.queue[w.nq++] = DFS_ROOT_INO;
	for (size_t i = 0; i < w.nq; i++)
		walk_one(&w, w.queue[i]);
	if (rw)
		probe(&w);
	printf("walked %u inodes, %u calls failed\n", w.inodes, w.errors);
	if (dfs_unmount(&w.fs)) {
		printf("unmount failed: %s\n", daxfs_errormsg());
		ret = 3;
	}
	free(w.queue);
	free(w.seen);
	dm_md_destroy(&md);
	return ret ? ret : w.errors ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "make") && (!strcmp(argv[5], "clean") || !strcmp(argv[5], "pending")))
		return cmd_make(argv[2], argv[3], strtoull(argv[4], NULL, 10), !strcmp(argv[5], "pending"));
	if (argc == 3 && !strcmp(argv[1], "map"))
		return cmd_map(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "walk") && (!strcmp(argv[3], "ro") || !strcmp(argv[3], "rw")))
		return cmd_walk(argv[2], !strcmp(argv[3], "rw"));
	fprintf(stderr, "usage: daxfs-image make SOURCE MIB[,MIB...] SEED clean|pending | map SOURCE | "
		"walk SOURCE ro|rw\n");
	return 16;
}
