/* fuzz/fuzz_ioctl.c - libFuzzer target: the daemon's ioctl decoder and commands on a mounted filesystem */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daxfs/ioctl.h"
#include "fuse/client.h"
#include "fuse/ctl.h"
#include "fuse/dfuse.h"
#include "harness.h"
#include "json.h"

/*
 * The daemon's side of the control channel (daxfs/ioctl.h) without a FUSE
 * session: dfuse_ioctl_answer is what dfuse_ioctl calls with the bytes the
 * kernel passed. Each run mounts a fresh populated image, starts the control
 * state as the daemon does, and sends requests decoded from the input:
 *
 *   u8 command (an index into commands[], or past it a raw number from a u32),
 *   u8 who (bits 0-1: inode, 2-3: open file, 4-5: caller, 6: FUSE_IOCTL_COMPAT,
 *   7: sizes from the input instead of the structure's), then the structure's
 *   fields (see fill_ctl, fill_range, fill_extents, fill_device).
 *
 * Table text in LOAD and the device path of BADBLOCKS may say "@0" for the
 * image and "@1" for a second file of its size. Whatever is asked, the answer
 * must be well-formed: an errno, or a structure of the command's size whose
 * text is NUL-terminated and as long as text_len says, whose JSON (F_JSON)
 * parses, and whose extent pieces lie inside the file and the devices.
 */

#define MAX_REQUESTS 24

static char image[4200], other[4200];
static uint8_t *pristine;
static uint64_t files[3];   /* dir/f0, dir/f1, a: regular files of the image */

static const unsigned commands[] = {
	DAXFS_IOC_TABLE, DAXFS_IOC_INFO, DAXFS_IOC_STATUS, DAXFS_IOC_LOAD, DAXFS_IOC_SUSPEND,
	DAXFS_IOC_RESUME, DAXFS_IOC_CLEAR, DAXFS_IOC_BADBLOCKS, DAXFS_IOC_TRACE,
	DAXFS_IOC_LEASE_GET, DAXFS_IOC_LEASE_PUT, DAXFS_IOC_ALLOC, DAXFS_IOC_SYNC,
	DAXFS_IOC_EXTENTS, DAXFS_IOC_DEVICE,
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void quiet(enum fuse_log_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
}

static void populate(struct dfs *fs)
{
	struct dfs_cred cred = { .uid = 0, .gid = 0, .umask = 022 };
	static char buf[20000];
	struct stat d, f;

	memset(buf, 'i', sizeof(buf));
	if (dfs_mkdir(fs, DFS_ROOT_INO, "dir", 0755, &cred, &d) != 0)
		return;
	if (dfs_mknod(fs, d.st_ino, "f0", S_IFREG | 0644, 0, &cred, &f) == 0)
		(void)dfs_pwrite(fs, f.st_ino, buf, sizeof(buf), 0, 0);
	if (dfs_mknod(fs, d.st_ino, "f1", S_IFREG | 0644, 0, &cred, &f) == 0) {
		(void)dfs_pwrite(fs, f.st_ino, buf, 4096, 1 << 20, 0);
		(void)dfs_fallocate(fs, f.st_ino, 0, 0, 65536);
	}
	(void)dfs_mknod(fs, DFS_ROOT_INO, "a", S_IFREG | 0600, 0, &cred, &f);
}

static void setup(void)
{
	struct mapped_device *md = NULL;
	struct dfs *fs = NULL;
	struct dfs_mount_opts o = { .rdonly = true };
	const char *const names[] = { "dir/f0", "dir/f1", "a" };

	fuse_set_log_func(quiet);
	fuzz_path(image, sizeof(image), "image");
	fuzz_path(other, sizeof(other), "other");
	pristine = fuzz_image_make(image, populate);
	fuzz_make_file(other, FUZZ_IMAGE_SIZE);
	if (dm_md_open_source(image, "fuzz", &md) != 0 || dfs_mount(md, &o, &fs) != 0)
		fuzz_fail("mounting the new image: %s", daxfs_errormsg());
	for (int i = 0; i < 3; i++) {
		struct stat st;
		uint64_t dir = DFS_ROOT_INO;
		const char *name = names[i];

		if (strncmp(name, "dir/", 4) == 0) {
			if (dfs_lookup(fs, DFS_ROOT_INO, "dir", &st) != 0)
				fuzz_fail("dir: %s", daxfs_errormsg());
			dir = st.st_ino;
			name += 4;
		}
		if (dfs_lookup(fs, dir, name, &st) != 0)
			fuzz_fail("%s: %s", names[i], daxfs_errormsg());
		files[i] = st.st_ino;
	}
	(void)dfs_unmount(&fs);
	dm_md_destroy(&md);
}

/* Copies text (with "@0"/"@1" expanded) into dst, at most size bytes with
 * the NUL; returns the length. */
static size_t expand(char *dst, size_t size, const uint8_t *src, size_t n)
{
	size_t len = 0;

	for (size_t i = 0; i < n && len + 1 < size; i++) {
		if (src[i] == '@' && i + 1 < n && (src[i + 1] == '0' || src[i + 1] == '1')) {
			len += (size_t)snprintf(dst + len, size - len, "%s",
						src[++i] == '0' ? image : other);
			if (len >= size)
				len = size - 1;
		} else {
			dst[len++] = (char)src[i];
		}
	}
	dst[len] = '\0';
	return len;
}

static uint64_t pick_offset(struct fuzz_in *in)
{
	switch (fuzz_u8(in) % 4) {
	case 0:
		return (uint64_t)(fuzz_u8(in) % 32) * 4096;
	case 1:
		return fuzz_u32(in);
	case 2:
		return (uint64_t)fuzz_u16(in) * 4096;
	default:
		return fuzz_u64(in);
	}
}

static void fill_ctl(struct fuzz_in *in, struct daxfs_ioc_ctl *c)
{
	uint8_t text[512];
	size_t n;

	c->version = fuzz_u8(in) < 250 ? DAXFS_IOC_VERSION : fuzz_u32(in);
	c->flags = fuzz_u8(in);
	c->op = fuzz_u8(in) % 6;
	c->start = pick_offset(in);
	c->len = pick_offset(in);
	n = fuzz_bytes(in, text, fuzz_u8(in) < 64 ? fuzz_u8(in) : fuzz_u16(in) % sizeof(text));
	c->text_len = (uint32_t)expand(c->text, sizeof(c->text), text, n);
	if (fuzz_u8(in) == 0xff)
		c->text_len = fuzz_u32(in);    /* a length that lies */
}

static void fill_range(struct fuzz_in *in, struct daxfs_ioc_range *r)
{
	r->version = fuzz_u8(in) < 250 ? DAXFS_IOC_VERSION : fuzz_u32(in);
	r->flags = fuzz_u8(in);
	r->offset = pick_offset(in);
	r->length = pick_offset(in);
}

static void fill_extents(struct fuzz_in *in, struct daxfs_ioc_extents *x)
{
	x->version = fuzz_u8(in) < 250 ? DAXFS_IOC_VERSION : fuzz_u32(in);
	x->flags = fuzz_u8(in) & 3;
	x->offset = pick_offset(in);
	x->length = pick_offset(in);
	x->npieces = fuzz_u8(in);
}

static void fill_device(struct fuzz_in *in, struct daxfs_ioc_device *d)
{
	d->version = fuzz_u8(in) < 250 ? DAXFS_IOC_VERSION : fuzz_u32(in);
	d->index = fuzz_u8(in) % 4;
}

static size_t struct_size(unsigned cmd)
{
	return _IOC_SIZE(cmd);
}

static void check_ctl(const struct daxfs_ioc_ctl *c)
{
	size_t len = strnlen(c->text, sizeof(c->text));

	if (len == sizeof(c->text))
		fuzz_fail("control answer without a NUL");
	if (len != c->text_len)
		fuzz_fail("control answer of %zu bytes says text_len %u", len, c->text_len);
	if (c->error > 0)
		fuzz_fail("control answer with a positive error %d", c->error);
	if (c->error == 0 && (c->flags & DAXFS_IOC_F_JSON) && len &&
	    json_check(c->text, len) != 0)
		fuzz_fail("control answer is not JSON: %s", c->text);
}

static void check_extents(struct dfuse *df, uint64_t ino, const struct daxfs_ioc_extents *x)
{
	struct stat st;

	if (x->error > 0 || x->npieces > DAXFS_IOC_MAX_PIECES)
		fuzz_fail("extents answer: error %d, %u pieces", x->error, x->npieces);
	if (strnlen(x->message, sizeof(x->message)) == sizeof(x->message))
		fuzz_fail("extents answer: message without a NUL");
	if (x->error || dfs_getattr(df->fs, ino, &st) != 0)
		return;
	for (uint32_t i = 0; i < x->npieces; i++) {
		const struct daxfs_ioc_piece *p = &x->pieces[i];
		struct dax_device *dev = dm_md_device(df->md, p->device_index);

		if (!dev || p->length == 0 || p->device_offset > dax_device_size(dev) ||
		    p->length > dax_device_size(dev) - p->device_offset ||
		    p->file_offset < x->offset || p->file_offset - x->offset + p->length > x->covered)
			fuzz_fail("extents answer: piece %u [%llu, +%llu) at device %u offset %llu "
				  "outside the file's range or the device", i,
				  (unsigned long long)p->file_offset, (unsigned long long)p->length,
				  p->device_index, (unsigned long long)p->device_offset);
	}
}

static bool suspended(struct dfuse *df)
{
	struct dm_md_info info;

	dm_md_get_info(df->md, &info);
	return info.suspended;
}

/* One request; records a lease it took so that it can be released. */
static void request(struct dfuse *df, struct fuzz_in *in, uint64_t (*leased)[2], unsigned *nleased)
{
	uint8_t pick = fuzz_u8(in), who_bits = fuzz_u8(in);
	unsigned cmd = pick < NCOMMANDS * 16 ? commands[pick % NCOMMANDS] : fuzz_u32(in);
	const uint64_t inos[] = { FUSE_ROOT_ID, files[0], files[1], files[2] };
	const uid_t uids[] = { 0, getuid(), 1000, 65534 };
	size_t size = struct_size(cmd) ? struct_size(cmd) : 1;
	struct dfuse_caller who = {
		.uid = uids[(who_bits >> 4) & 3], .gid = uids[(who_bits >> 4) & 3], .ngroups = 0,
	};
	struct dfuse_ioctl_req rq = {
		.ino = inos[who_bits & 3],
		.cmd = cmd,
		.flags = who_bits & 0x40 ? FUSE_IOCTL_COMPAT : 0,
		.who = &who,
		.fh = 1 + ((who_bits >> 2) & 3),
		.in_size = size,
		.out_size = size,
	};
	void *buf = calloc(1, size > sizeof(struct daxfs_ioc_ctl) ? size : sizeof(struct daxfs_ioc_ctl));
	void *out = NULL;
	size_t outsz = 0;
	int ret;

	if (!buf)
		abort();
	if (_IOC_NR(cmd) >= 0x40 && suspended(df)) {
		/* A suspended device holds the filesystem's I/O until a resume
		 * that, in the daemon, another thread serves: not here. */
		free(buf);
		return;
	}
	if (who_bits & 0x80) {
		rq.in_size = fuzz_u16(in) % (size + 2);
		rq.out_size = fuzz_u16(in) % (size + 2);
	}
	if (cmd == DAXFS_IOC_EXTENTS)
		fill_extents(in, buf);
	else if (cmd == DAXFS_IOC_DEVICE)
		fill_device(in, buf);
	else if (_IOC_NR(cmd) >= 0x40)
		fill_range(in, buf);
	else
		fill_ctl(in, buf);
	rq.in = buf;
	ret = dfuse_ioctl_answer(df, &rq, &out, &outsz);
	if (fuzz_debug())
		fprintf(stderr, "ioctl %#x ino %llu uid %u: %d%s%s\n", cmd, (unsigned long long)rq.ino,
			(unsigned)who.uid, ret, out && _IOC_NR(cmd) < 0x40 ? " " : "",
			out && _IOC_NR(cmd) < 0x40 ? ((struct daxfs_ioc_ctl *)out)->text : "");
	if (ret > 1 || (ret < 0 && out))
		fuzz_fail("ioctl %#x answered %d with %zu bytes", cmd, ret, outsz);
	if (ret >= 0 && out && outsz != size)
		fuzz_fail("ioctl %#x answered with %zu bytes for a structure of %zu", cmd, outsz, size);
	if (ret >= 0 && cmd == DAXFS_IOC_LEASE_GET && *nleased < MAX_REQUESTS) {
		leased[*nleased][0] = rq.fh;
		leased[(*nleased)++][1] = rq.ino;
	}
	if (ret >= 0 && out && _IOC_NR(cmd) < 0x40)
		check_ctl(out);
	if (ret >= 0 && out && cmd == DAXFS_IOC_EXTENTS)
		check_extents(df, rq.ino, out);
	if (ret >= 0 && out && cmd == DAXFS_IOC_DEVICE) {
		const struct daxfs_ioc_device *d = out;

		if (strnlen(d->path, sizeof(d->path)) == sizeof(d->path))
			fuzz_fail("device answer without a NUL");
	}
	free(out);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct dfuse df = { .timeout = 1, .keep_cache = true };
	struct dfs_mount_opts o = { 0 };
	uint64_t leased[MAX_REQUESTS][2];
	unsigned nleased = 0;

	if (!pristine)
		setup();
	fuzz_image_write(image, pristine);
	if (dm_md_open_source(image, "fuzz", &df.md) != 0 || dfs_mount(df.md, &o, &df.fs) != 0)
		fuzz_fail("mounting the image: %s", daxfs_errormsg());
	if (dfuse_ctl_start(&df) != 0)
		fuzz_fail("starting device control");
	for (unsigned n = 0; n < MAX_REQUESTS && fuzz_more(&in); n++)
		request(&df, &in, leased, &nleased);
	for (unsigned i = 0; i < nleased; i++) {
		struct fuse_file_info fi = { .fh = leased[i][0] };

		dfuse_client_release(&df, leased[i][1], &fi);
	}
	dfuse_ctl_stop(&df);
	if (dfs_lease_deferred(df.fs) != 0)
		fuzz_fail("blocks still held back for leases after every open file was released");
	(void)dfs_unmount(&df.fs);
	dm_md_destroy(&df.md);
	return 0;
}
