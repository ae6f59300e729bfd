/* fuzz/fuzz_ioctl.c - libFuzzer target: the daemon's ioctl decoder and commands on a mounted filesystem */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "answer.h"
#include "daxfs/ioctl.h"
#include "fuse/client.h"
#include "fuse/ctl.h"
#include "fuse/dfuse.h"
#include "harness.h"
#include "json.h"

/*
 * The daemon's side of the control channel (daxfs/ioctl.h) without a FUSE
 * session: dfuse_ioctl_answer is what dfuse_ioctl calls with the bytes the
 * kernel passed and the caller it took from the request. Each run mounts a
 * fresh populated image whose files have different owners, groups and
 * modes, starts the control state as the daemon does, and sends requests
 * decoded from the input:
 *
 *   u8 config: bit 0 -o dax_users (descriptor grants to group DAX_GROUP),
 *     bits 1-2 -o max_leases (max_leases[]), bit 3 -o writeback_cache;
 *   then per request:
 *   u8 command: below 240 an index into commands[], else a raw u32 number
 *     and a u8 of FUSE_IOCTL_* flags (bit 0 COMPAT, bit 1 UNRESTRICTED);
 *   u8 target: bits 0-2 the inode (inos[]), bits 3-4 the open file, bits 5-6
 *     its access mode (O_RDONLY, O_WRONLY, O_RDWR, 3), bit 7 sizes from the
 *     input instead of the structure's;
 *   u8 caller: bits 0-1 uid (uids[]), bits 2-3 gid (gids[]), bits 4-7 which
 *     of pool[] are its supplementary groups;
 *   the structure's fields (see fill_ctl, fill_range, fill_extents,
 *     fill_device, fill_grant; GRANT's last byte: if it gives a token, bit 0
 *     presents it on the grant socket, bit 1 damages it first).
 *
 * Table text in LOAD and the device path of BADBLOCKS may say "@0" for the
 * image and "@1" for a second file of its size; a trace file is always one
 * in the scratch directory. Whatever is asked, the answer must be
 * well-formed: an errno, or a structure of the command's size whose text is
 * NUL-terminated and as long as text_len says or, for a device-control
 * result, whose pieces (the others asked for as daxfs-ctl does) decode,
 * encode back to the same bytes and render as daxfs-ctl prints them (JSON
 * that parses, with F_JSON), and whose extent pieces lie inside the file and
 * the devices. Who may ask
 * must be as the kernel would decide (a model of generic_permission and of
 * the open file's mode), a set-id file written by another user than root
 * loses its set-id bits, only limited users hit the lease limit, a grant
 * token is good once and only for the user it was issued to, a device its
 * filesystem holds is never removed at once, and a filesystem is frozen
 * only while its device is suspended.
 */

#define MAX_REQUESTS 24
#define DAX_GROUP 200

static char image[4200], other[4200], trace[4200];
static uint8_t *pristine;
static uint64_t inos[8];

static const unsigned commands[] = {
	DAXFS_IOC_TABLE, DAXFS_IOC_INFO, DAXFS_IOC_STATUS, DAXFS_IOC_LOAD, DAXFS_IOC_SUSPEND,
	DAXFS_IOC_RESUME, DAXFS_IOC_CLEAR, DAXFS_IOC_BADBLOCKS, DAXFS_IOC_TRACE,
	DAXFS_IOC_REMOVE, DAXFS_IOC_LEASE_GET, DAXFS_IOC_LEASE_PUT, DAXFS_IOC_ALLOC,
	DAXFS_IOC_SYNC, DAXFS_IOC_EXTENTS, DAXFS_IOC_DEVICE, DAXFS_IOC_GRANT,
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const uid_t uids[] = { 0, 1000, 1001, 65534 };
static const gid_t gids[] = { 0, 1000, 100, 65534 };
static const gid_t pool[] = { 100, DAX_GROUP, 1000, 65534 };
static const unsigned max_leases[] = { 1, 2, 256, 0 };

static void quiet(enum fuse_log_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
}

/* Files of other owners, groups and modes than root's, so that every class
 * of generic_permission decides some request: dir/f0 1000:1000 0640 (data),
 * dir/f1 0:100 0660 (sparse, preallocated), a 0:0 0600 (empty), s 1000:200
 * 06776 (set-id, writable by anyone). */
static void populate(struct dfs *fs)
{
	static const struct {
		const char *name;
		uid_t uid;
		gid_t gid;
		mode_t mode;
	} files[] = {
		{ "f0", 1000, 1000, 0640 }, { "f1", 0, 100, 0660 },
		{ "a", 0, 0, 0600 }, { "s", 1000, DAX_GROUP, 06776 },
	};
	static char buf[20000];
	struct stat d, f;

	memset(buf, 'i', sizeof(buf));
	if (dfs_mkdir(fs, DFS_ROOT_INO, "dir", 0755, &(struct dfs_cred){ .umask = 022 }, &d) != 0)
		return;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct dfs_cred cred = { .uid = files[i].uid, .gid = files[i].gid };
		struct stat attr = { .st_mode = S_IFREG | files[i].mode };

		if (dfs_mknod(fs, i < 2 ? d.st_ino : DFS_ROOT_INO, files[i].name,
			      S_IFREG | files[i].mode, 0, &cred, &f) != 0)
			continue;
		/* the set-id bits as mode says, whatever mknod made of them */
		(void)dfs_setattr(fs, f.st_ino, &attr, DFS_SET_MODE, &f);
		if (i == 0)
			(void)dfs_pwrite(fs, f.st_ino, buf, sizeof(buf), 0, 0);
		if (i == 1) {
			(void)dfs_pwrite(fs, f.st_ino, buf, 4096, 1 << 20, 0);
			(void)dfs_fallocate(fs, f.st_ino, 0, 0, 65536);
		}
		if (i == 3)
			(void)dfs_pwrite(fs, f.st_ino, buf, 8192, 0, 0);
	}
}

static uint64_t look(struct dfs *fs, uint64_t dir, const char *name)
{
	struct stat st;

	if (dfs_lookup(fs, dir, name, &st) != 0)
		fuzz_fail("%s: %s", name, daxfs_errormsg());
	return st.st_ino;
}

static void setup(void)
{
	struct mapped_device *md = NULL;
	struct dfs *fs = NULL;
	struct dfs_mount_opts o = { .rdonly = true };
	uint64_t dir;

	fuse_set_log_func(quiet);
	fuzz_path(image, sizeof(image), "image");
	fuzz_path(other, sizeof(other), "other");
	fuzz_path(trace, sizeof(trace), "trace");
	pristine = fuzz_image_make(image, populate);
	fuzz_make_file(other, FUZZ_IMAGE_SIZE);
	if (dm_md_open_source(image, "fuzz", &md) != 0 || dfs_mount(md, &o, &fs) != 0)
		fuzz_fail("mounting the new image: %s", daxfs_errormsg());
	dir = look(fs, DFS_ROOT_INO, "dir");
	inos[0] = FUSE_ROOT_ID;
	inos[1] = look(fs, dir, "f0");
	inos[2] = look(fs, dir, "f1");
	inos[3] = look(fs, DFS_ROOT_INO, "a");
	inos[4] = look(fs, DFS_ROOT_INO, "s");
	inos[5] = dir;
	inos[6] = 999999;          /* no such inode */
	inos[7] = inos[1];
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

static uint32_t pick_version(struct fuzz_in *in, uint32_t version)
{
	return fuzz_u8(in) < 250 ? version : fuzz_u32(in);
}

static void fill_ctl(struct fuzz_in *in, unsigned cmd, struct daxfs_ioc_ctl *c)
{
	uint8_t text[512];
	size_t n;

	c->version = pick_version(in, DAXFS_IOC_CTL_VERSION);
	c->flags = fuzz_u8(in);
	c->op = fuzz_u8(in) % 6;
	c->start = pick_offset(in);
	c->len = pick_offset(in);
	n = fuzz_bytes(in, text, fuzz_u8(in) < 64 ? fuzz_u8(in) : fuzz_u16(in) % sizeof(text));
	c->text_len = (uint32_t)expand(c->text, sizeof(c->text), text, n);
	/* A trace file is created and appended to: never outside the scratch
	 * directory, whatever path the input names. */
	if (cmd == DAXFS_IOC_TRACE && c->text[0] == '/')
		c->text_len = (uint32_t)snprintf(c->text, sizeof(c->text), "%s", trace);
	if (fuzz_u8(in) == 0xff)
		c->text_len = fuzz_u32(in);    /* a length that lies */
}

static void fill_range(struct fuzz_in *in, struct daxfs_ioc_range *r)
{
	r->version = pick_version(in, DAXFS_IOC_VERSION);
	r->flags = fuzz_u8(in);
	r->offset = pick_offset(in);
	r->length = pick_offset(in);
}

static void fill_extents(struct fuzz_in *in, struct daxfs_ioc_extents *x)
{
	x->version = pick_version(in, DAXFS_IOC_VERSION);
	x->flags = fuzz_u8(in) & 3;
	x->offset = pick_offset(in);
	x->length = pick_offset(in);
	x->npieces = fuzz_u8(in);
	x->covered = fuzz_u64(in);
}

static void fill_device(struct fuzz_in *in, struct daxfs_ioc_device *d)
{
	d->version = pick_version(in, DAXFS_IOC_VERSION);
	d->index = fuzz_u8(in) % 4;
}

static void fill_grant(struct fuzz_in *in, struct daxfs_ioc_grant *g, uint8_t *how)
{
	g->version = pick_version(in, DAXFS_IOC_VERSION);
	g->index = fuzz_u8(in) % 4;
	g->flags = fuzz_u8(in) & 3;
	*how = fuzz_u8(in);
}

/* ---- the model: who may ask ------------------------------------------------ */

static bool in_group(const struct dfuse_caller *who, gid_t gid)
{
	if (who->gid == gid)
		return true;
	for (int i = 0; i < who->ngroups; i++)
		if (who->groups[i] == gid)
			return true;
	return false;
}

/* generic_permission without ACLs: root may read and write anything; else
 * the owner's class for the owner, the group's for a member, the others'. */
static bool model_may(const struct dfuse_caller *who, const struct stat *st, unsigned need)
{
	unsigned bits;

	if (who->uid == 0)
		return true;
	if (who->uid == st->st_uid)
		bits = (st->st_mode >> 6) & 7;
	else if (in_group(who, st->st_gid))
		bits = (st->st_mode >> 3) & 7;
	else
		bits = st->st_mode & 7;
	return (bits & need) == need;
}

/* The R_OK/W_OK a direct-access command needs of the caller and the open
 * file (daxfs/ioctl.h), or 0 for one that checks neither. */
static unsigned needs(unsigned cmd, const void *buf)
{
	switch (cmd) {
	case DAXFS_IOC_LEASE_GET:
		return R_OK | ((((const struct daxfs_ioc_range *)buf)->flags &
				DAXFS_IOC_LEASE_WRITE) ? W_OK : 0);
	case DAXFS_IOC_ALLOC:
		return R_OK | W_OK;
	case DAXFS_IOC_EXTENTS:
		return R_OK | ((((const struct daxfs_ioc_extents *)buf)->flags &
				DAXFS_IOC_EXTENTS_WRITE) ? W_OK : 0);
	case DAXFS_IOC_DEVICE:
		return R_OK;
	case DAXFS_IOC_GRANT:
		return R_OK | ((((const struct daxfs_ioc_grant *)buf)->flags &
				DAXFS_IOC_GRANT_WRITE) ? W_OK : 0);
	default:
		return 0;
	}
}

static bool fh_allows(uint64_t fh, unsigned need)
{
	unsigned mode = (unsigned)fh & O_ACCMODE;

	if ((need & R_OK) && mode != O_RDONLY && mode != O_RDWR)
		return false;
	return !(need & W_OK) || mode == O_RDWR;
}

static void check_access(const struct dfuse_ioctl_req *rq, unsigned need, bool known,
			 const struct stat *st, int ret)
{
	bool fh_ok = fh_allows(rq->fh, need);
	bool may = known && model_may(rq->who, st, need);

	if (ret >= 0 && (!fh_ok || !may))
		fuzz_fail("ioctl %#x on inode %llu (mode %o, %u:%u) through fh %#llx answered %d to "
			  "uid %u gid %u: the kernel would refuse it", rq->cmd,
			  (unsigned long long)rq->ino, known ? (unsigned)st->st_mode : 0,
			  known ? (unsigned)st->st_uid : 0, known ? (unsigned)st->st_gid : 0,
			  (unsigned long long)rq->fh, ret, (unsigned)rq->who->uid,
			  (unsigned)rq->who->gid);
	if (ret == -EBADF && fh_ok)
		fuzz_fail("ioctl %#x through fh %#llx: EBADF for an open file that allows it",
			  rq->cmd, (unsigned long long)rq->fh);
	if (ret == -EACCES && (!fh_ok || !known || may))
		fuzz_fail("ioctl %#x on inode %llu (mode %o, %u:%u): EACCES for uid %u gid %u, "
			  "who may", rq->cmd, (unsigned long long)rq->ino,
			  known ? (unsigned)st->st_mode : 0, known ? (unsigned)st->st_uid : 0,
			  known ? (unsigned)st->st_gid : 0, (unsigned)rq->who->uid,
			  (unsigned)rq->who->gid);
}

/* ---- the answers ----------------------------------------------------------- */

/* The next piece of an answer, asked as the request that began it was. */
struct asker {
	struct dfuse *df;
	const struct dfuse_ioctl_req *rq;
};

static void ask(void *ctx, struct daxfs_ioc_ctl *c)
{
	struct asker *a = ctx;
	struct dfuse_ioctl_req rq = *a->rq;
	void *out = NULL;
	size_t outsz = 0;
	int ret;

	rq.in = c;
	rq.in_size = rq.out_size = sizeof(*c);
	ret = dfuse_ioctl_answer(a->df, &rq, &out, &outsz);
	if (ret != 0 || !out || outsz != sizeof(*c))
		fuzz_fail("the next piece of answer %u: ioctl answered %d", c->answer, ret);
	memcpy(c, out, sizeof(*c));
	free(out);
}

static void check_ctl(struct dfuse *df, const struct dfuse_ioctl_req *rq,
		      const struct daxfs_ioc_ctl *in, const struct daxfs_ioc_ctl *c)
{
	struct asker a = { df, rq };

	/* decoded, encoded back and rendered as daxfs-ctl prints it */
	free(fuzz_ctl_answer(c, fuzz_ctl_renderer(rq->cmd, in->op), in->flags, ask, &a));
	/* The mount holds its device open, as a mounted filesystem holds its
	 * block device: only a deferred remove may succeed. */
	if (rq->cmd == DAXFS_IOC_REMOVE && c->error == 0 && !(in->flags & DAXFS_IOC_F_DEFERRED))
		fuzz_fail("remove without --deferred succeeded on a mounted device");
}

static void check_extents(struct dfuse *df, uint64_t ino, const struct daxfs_ioc_extents *x)
{
	struct stat st;

	if (x->error > 0 || x->npieces > DAXFS_IOC_MAX_PIECES)
		fuzz_fail("extents answer: error %d, %u pieces", x->error, x->npieces);
	if (strnlen(x->message, sizeof(x->message)) == sizeof(x->message))
		fuzz_fail("extents answer: message without a NUL");
	if (x->error && (x->npieces || x->covered))
		fuzz_fail("extents refusal (%d) says %u pieces covering %llu bytes", x->error,
			  x->npieces, (unsigned long long)x->covered);
	if (x->error || dfs_getattr(df->fs, ino, &st) != 0)
		return;
	for (uint32_t i = 0; i < x->npieces; i++) {
		const struct daxfs_ioc_piece *p = &x->pieces[i];
		bool all = x->flags & DAXFS_IOC_EXTENTS_ALL;

		if (p->kind > DAXFS_IOC_PIECE_BAD || (!all && p->kind != DAXFS_IOC_PIECE_DATA) ||
		    ((p->device_index == DAXFS_IOC_NO_DEVICE) !=
		     (p->kind == DAXFS_IOC_PIECE_HOLE || p->kind == DAXFS_IOC_PIECE_BAD ||
		      p->kind == DAXFS_IOC_PIECE_UNWRITTEN)))
			fuzz_fail("extents answer: piece %u of kind %u at device %u (flags %#x)", i,
				  p->kind, p->device_index, x->flags);
		/* with EXTENTS_ALL: a hole, preallocated or unreadable range,
		 * in the file's range but on no device */
		if (p->device_index == DAXFS_IOC_NO_DEVICE) {
			if (p->length == 0 || p->file_offset < x->offset ||
			    p->file_offset - x->offset + p->length > x->covered)
				fuzz_fail("extents answer: piece %u [%llu, +%llu) outside the file's "
					  "range", i, (unsigned long long)p->file_offset,
					  (unsigned long long)p->length);
			continue;
		}
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

static void check_device(struct dfuse *df, const struct daxfs_ioc_device *d)
{
	if (strnlen(d->path, sizeof(d->path)) == sizeof(d->path))
		fuzz_fail("device answer without a NUL");
	if (d->error > 0 || ((d->flags & DAXFS_IOC_DEVICE_GRANT) && (!df->grant || d->error)))
		fuzz_fail("device answer: error %d, flags %#x, grants %s", d->error, d->flags,
			  df->grant ? "on" : "off");
}

/* Presents the token of answer g on its socket, as libdaxfs does; damaged,
 * with its first byte changed. Returns the reply's error; *fd the
 * descriptor that came with it, or -1. */
static int redeem(const struct daxfs_ioc_grant *g, bool damaged, int *fd)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct daxfs_grant_reply r = { .error = 1 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = &r, .iov_len = sizeof(r) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			      .msg_controllen = sizeof(ctl.buf) };
	uint8_t token[sizeof(g->token)];
	size_t n = strlen(g->socket);
	int s;

	*fd = -1;
	memcpy(token, g->token, sizeof(token));
	token[0] ^= damaged;
	memcpy(addr.sun_path + 1, g->socket, n);
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&addr,
			     (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n)) < 0 ||
	    send(s, token, sizeof(token), 0) != (ssize_t)sizeof(token) ||
	    recvmsg(s, &msg, MSG_CMSG_CLOEXEC) != (ssize_t)sizeof(r))
		fuzz_fail("grant socket '%s': %s", g->socket, strerror(errno));
	close(s);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(fd, CMSG_DATA(c), sizeof(int));
	if (strnlen(r.message, sizeof(r.message)) == sizeof(r.message) || r.error > 0 ||
	    (r.error == 0) != (*fd >= 0))
		fuzz_fail("grant reply: error %d, descriptor %d", r.error, *fd);
	return r.error;
}

static void check_grant(struct dfuse *df, const struct dfuse_ioctl_req *rq,
			const struct daxfs_ioc_grant *g, uint8_t how)
{
	bool write = g->flags & DAXFS_IOC_GRANT_WRITE;
	int err, fd;

	if (strnlen(g->message, sizeof(g->message)) == sizeof(g->message) || g->error > 0)
		fuzz_fail("grant answer: error %d, message without a NUL", g->error);
	if (g->error)
		return;
	if (!df->grant || (rq->who->uid != 0 && !in_group(rq->who, DAX_GROUP)))
		fuzz_fail("grant to uid %u gid %u on a mount %s", (unsigned)rq->who->uid,
			  (unsigned)rq->who->gid, df->grant ? "that grants to group "
			  "200 only" : "that grants nothing");
	if (!g->socket[0] || strnlen(g->socket, sizeof(g->socket)) == sizeof(g->socket))
		fuzz_fail("grant answer without a socket");
	/* Only root gets an answer from the socket whatever its groups. */
	if (!(how & 1) || getuid() != 0)
		return;
	err = redeem(g, how & 2, &fd);
	if (fuzz_debug())
		fprintf(stderr, "  %s token of uid %u presented: %d, descriptor %d\n",
			(how & 2) ? "damaged" : "good", (unsigned)rq->who->uid, err, fd);
	/* The socket checks the connecting process: this one, whose uid the
	 * token names only when the request's caller was this process's uid. */
	if (err == 0 && ((how & 2) || rq->who->uid != getuid()))
		fuzz_fail("a %s token issued to uid %u gave uid %u a descriptor",
			  (how & 2) ? "damaged" : "good", (unsigned)rq->who->uid,
			  (unsigned)getuid());
	if (err != 0 && !(how & 2) && rq->who->uid == getuid())
		fuzz_fail("a good token of uid %u, under a standing lease, refused: %d",
			  (unsigned)getuid(), err);
	if (fd >= 0) {
		int mode = fcntl(fd, F_GETFL) & O_ACCMODE;

		close(fd);
		if (mode != (write ? O_RDWR : O_RDONLY))
			fuzz_fail("a %s grant gave a descriptor open %s", write ? "write" : "read",
				  mode == O_RDWR ? "for writing" : "read-only");
	}
	if (!(how & 2) && redeem(g, false, &fd) != -EPERM)
		fuzz_fail("a grant token was good twice");
}

static bool suspended(struct dfuse *df)
{
	struct dm_md_info info;

	dm_md_get_info(df->md, &info);
	return info.suspended;
}

/* The open files that took a lease, to be released at the end. */
struct opened {
	uint64_t fh, ino;
};

/* One request; records a lease it took so that it can be released. */
static void request(struct dfuse *df, struct fuzz_in *in, struct opened *leased, unsigned *nleased)
{
	uint8_t pick = fuzz_u8(in);
	unsigned cmd = pick < 240 ? commands[pick % NCOMMANDS] : fuzz_u32(in);
	uint8_t fuse_flags = pick < 240 ? 0 : fuzz_u8(in);
	uint8_t target = fuzz_u8(in), caller = fuzz_u8(in);
	gid_t groups[sizeof(pool) / sizeof(pool[0])];
	struct dfuse_caller who = {
		.uid = uids[caller & 3], .gid = gids[(caller >> 2) & 3], .groups = groups,
	};
	size_t size = _IOC_SIZE(cmd) ? _IOC_SIZE(cmd) : 1;
	struct dfuse_ioctl_req rq = {
		.ino = inos[target & 7],
		.cmd = cmd,
		.flags = ((fuse_flags & 1) ? FUSE_IOCTL_COMPAT : 0) |
			 ((fuse_flags & 2) ? FUSE_IOCTL_UNRESTRICTED : 0),
		.who = &who,
		.fh = ((uint64_t)(1 + ((target >> 3) & 3)) << 2) | ((target >> 5) & 3),
		.in_size = size,
		.out_size = size,
	};
	void *buf = calloc(1, size > sizeof(struct daxfs_ioc_ctl) ? size : sizeof(struct daxfs_ioc_ctl));
	struct stat before;
	bool known;
	void *out = NULL;
	size_t outsz = 0;
	uint8_t how = 0;
	unsigned need;
	int ret;

	if (!buf)
		abort();
	for (unsigned i = 0; i < sizeof(pool) / sizeof(pool[0]); i++)
		if (caller & (0x10u << i))
			groups[who.ngroups++] = pool[i];
	if (_IOC_NR(cmd) >= 0x40 && suspended(df)) {
		/* A suspended device holds the filesystem's I/O until a resume
		 * that, in the daemon, another thread serves: not here. */
		free(buf);
		return;
	}
	if (target & 0x80) {
		rq.in_size = fuzz_u16(in) % (size + 2);
		rq.out_size = fuzz_u16(in) % (size + 2);
	}
	if (cmd == DAXFS_IOC_EXTENTS)
		fill_extents(in, buf);
	else if (cmd == DAXFS_IOC_DEVICE)
		fill_device(in, buf);
	else if (cmd == DAXFS_IOC_GRANT)
		fill_grant(in, buf, &how);
	else if (_IOC_NR(cmd) >= 0x40)
		fill_range(in, buf);
	else
		fill_ctl(in, cmd, buf);
	rq.in = buf;
	known = dfs_getattr(df->fs, rq.ino, &before) == 0;
	ret = dfuse_ioctl_answer(df, &rq, &out, &outsz);
	if (fuzz_debug())
		fprintf(stderr, "ioctl %#x ino %llu fh %#llx uid %u gid %u groups %d: %d%s%s\n", cmd,
			(unsigned long long)rq.ino, (unsigned long long)rq.fh, (unsigned)who.uid,
			(unsigned)who.gid, who.ngroups, ret, out && _IOC_NR(cmd) < 0x40 ? " " : "",
			out && _IOC_NR(cmd) < 0x40 ? ((struct daxfs_ioc_ctl *)out)->text : "");
	if (ret > 1 || (ret < 0 && out))
		fuzz_fail("ioctl %#x answered %d with %zu bytes", cmd, ret, outsz);
	if (ret >= 0 && out && outsz != size)
		fuzz_fail("ioctl %#x answered with %zu bytes for a structure of %zu", cmd, outsz, size);
	if (rq.flags == 0 && (need = needs(cmd, buf)) != 0 && rq.in_size == size &&
	    rq.out_size >= size && *(const uint32_t *)buf == DAXFS_IOC_VERSION)
		check_access(&rq, need, known, &before, ret);
	if (ret == -EDQUOT && dfuse_may_control(&who))
		fuzz_fail("uid %u, who may control the device, hit the lease limit",
			  (unsigned)who.uid);
	if (ret >= 0 && cmd == DAXFS_IOC_LEASE_GET && *nleased < MAX_REQUESTS)
		leased[(*nleased)++] = (struct opened){ rq.fh, rq.ino };
	/* a store through a mapping (MAPPED, within the page of EOF) keeps
	 * them, as page_mkwrite does; every other allocation drops them */
	const struct daxfs_ioc_range *ar = (const struct daxfs_ioc_range *)buf;
	bool mapped = known && (ar->flags & DAXFS_IOC_ALLOC_MAPPED) &&
		      ar->offset + ar->length <= ((uint64_t)before.st_size + 4095) / 4096 * 4096;

	if (ret == 0 && cmd == DAXFS_IOC_ALLOC && who.uid != 0 && !mapped) {
		struct stat st;

		if (dfs_getattr(df->fs, rq.ino, &st) == 0 && ((st.st_mode & S_ISUID) ||
		    ((st.st_mode & S_ISGID) && (st.st_mode & S_IXGRP))))
			fuzz_fail("ALLOC by uid %u left inode %llu set-id (mode %o)",
				  (unsigned)who.uid, (unsigned long long)rq.ino, (unsigned)st.st_mode);
	}
	if (ret >= 0 && out && _IOC_NR(cmd) < 0x40)
		check_ctl(df, &rq, buf, out);
	if (ret >= 0 && out && cmd == DAXFS_IOC_EXTENTS)
		check_extents(df, rq.ino, out);
	if (ret >= 0 && out && cmd == DAXFS_IOC_DEVICE)
		check_device(df, out);
	if (ret >= 0 && out && cmd == DAXFS_IOC_GRANT)
		check_grant(df, &rq, out, how);
	if (!suspended(df) && dfs_frozen(df->fs))
		fuzz_fail("the filesystem is frozen on a device that is not suspended");
	free(out);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct dfuse df = { .timeout = 1, .keep_cache = true, .dax_group = DAX_GROUP };
	struct dfs_mount_opts o = { 0 };
	struct opened leased[MAX_REQUESTS];
	unsigned nleased = 0;
	uint8_t config;

	if (!pristine)
		setup();
	config = fuzz_u8(&in);
	df.max_leases = max_leases[(config >> 1) & 3];
	df.writeback = config & 8;
	fuzz_image_write(image, pristine);
	if (dm_md_open_source(image, "fuzz", &df.md) != 0 || dfs_mount(df.md, &o, &df.fs) != 0)
		fuzz_fail("mounting the image: %s", daxfs_errormsg());
	if (dfuse_ctl_start(&df) != 0)
		fuzz_fail("starting device control");
	if ((config & 1) && dfuse_grant_start(&df, df.dax_group, true, &df.grant) != 0)
		fuzz_fail("starting the grant socket: %s", daxfs_errormsg());
	for (unsigned n = 0; n < MAX_REQUESTS && fuzz_more(&in); n++)
		request(&df, &in, leased, &nleased);
	dfuse_grant_stop(&df.grant);
	for (unsigned i = 0; i < nleased; i++) {
		struct fuse_file_info fi = { .fh = leased[i].fh };

		dfuse_client_release(&df, leased[i].ino, &fi);
	}
	dfuse_ctl_stop(&df);
	if (dfs_lease_deferred(df.fs) != 0)
		fuzz_fail("blocks still held back for leases after every open file was released");
	(void)dfs_unmount(&df.fs);
	dm_md_destroy(&df.md);
	return 0;
}
