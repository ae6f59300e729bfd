/* fs/xattr.c - extended attributes (user.* and trusted.*) in one block per inode */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/xattr.h>

#include "fs/internal.h"
#include "util/err.h"

/*
 * All attributes of an inode share one 4 KiB block: entries of
 * {namespace, name length, value length, name, value} packed after a 16-byte
 * header. Limits (FORMAT.md): names up to 255 bytes (-ERANGE beyond, as the
 * VFS), values up to 64 KiB (-E2BIG beyond, as the VFS), and everything
 * together up to 4076 bytes (-ENOSPC when it does not fit).
 */

#define XATTR_NS_USER 1
#define XATTR_NS_TRUSTED 2
#define XATTR_VALUE_LIMIT 65536
#define MAX_ENTRIES (DFS_XATTR_SPACE / DFS_XATTR_ENTRY_HDR)

struct xent {
	uint8_t ns, nlen;
	uint16_t vlen;
	const uint8_t *name, *value;
};

static const char *const prefixes[] = { [XATTR_NS_USER] = "user.", [XATTR_NS_TRUSTED] = "trusted." };

static int parse_name(const char *name, uint8_t *ns, const char **suffix)
{
	if (strlen(name) > 255)
		return daxfs_err(-ERANGE, "xattr name longer than 255 bytes");
	for (uint8_t i = XATTR_NS_USER; i <= XATTR_NS_TRUSTED; i++) {
		size_t pl = strlen(prefixes[i]);
		if (strncmp(name, prefixes[i], pl) == 0) {
			*ns = i;
			*suffix = name + pl;
			if (!**suffix)
				return daxfs_err(-EINVAL, "xattr name '%s' has an empty suffix", name);
			return 0;
		}
	}
	return daxfs_err(-EOPNOTSUPP, "xattr namespace of '%s' is not supported", name);
}

/* Parses an attribute block of inode owner (not its crc) into ents. */
static int parse_block(const uint8_t *p, uint64_t owner, struct xent *ents, size_t *n)
{
	uint32_t count = dfs_get32(p + DFS_XATTR_COUNT);

	*n = 0;
	if (dfs_get32(p + DFS_BLK_MAGIC) != DFS_MAGIC_XATTR || dfs_get64(p + DFS_XATTR_OWNER) != owner ||
	    count > MAX_ENTRIES)
		return -EIO;
	size_t off = DFS_XATTR_HDR;
	for (uint32_t i = 0; i < count; i++) {
		if (off + DFS_XATTR_ENTRY_HDR > DFS_TAIL_CRC_OFF)
			return -EIO;
		struct xent e = { p[off + DFS_XENT_NAMESPACE], p[off + DFS_XENT_NAMELEN],
				  dfs_get16(p + off + DFS_XENT_VALUELEN), NULL, NULL };
		if ((e.ns != XATTR_NS_USER && e.ns != XATTR_NS_TRUSTED) || e.nlen == 0 ||
		    off + DFS_XATTR_ENTRY_HDR + e.nlen + e.vlen > DFS_TAIL_CRC_OFF)
			return -EIO;
		e.name = p + off + DFS_XATTR_ENTRY_HDR;
		e.value = e.name + e.nlen;
		ents[(*n)++] = e;
		off += DFS_XATTR_ENTRY_HDR + e.nlen + e.vlen;
	}
	return 0;
}

int dfs_xattr_block_check(const uint8_t *b, uint64_t owner)
{
	struct xent ents[MAX_ENTRIES];
	size_t n;

	if (parse_block(b, owner, ents, &n))
		return daxfs_err(-EIO, "its entries do not parse");
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < i; k++)
			if (ents[k].ns == ents[i].ns && ents[k].nlen == ents[i].nlen &&
			    memcmp(ents[k].name, ents[i].name, ents[i].nlen) == 0)
				return daxfs_err(-EIO, "it names one attribute twice");
	return 0;
}

/*
 * Parses inode's attribute block (if any) into ents; *n entries. The block
 * number comes from media: before the block is rewritten or freed it must
 * be this inode's attribute block (crc, magic, owner), and for a mount that
 * writes, clear of the fixed metadata, or a write would land on a label or
 * the inode table and a free would hand another structure's block out.
 */
static int load(struct dfs *fs, struct dfs_inode *ip, struct xent *ents, size_t *n)
{
	const uint64_t blk = ip->d.xattr_blk;
	struct dfs_buf *b;
	char what[96];
	int err;

	*n = 0;
	if (!blk)
		return 0;
	if (blk < fs->sb.data_start)
		return daxfs_err(-EIO, "inode %llu: xattr block in the metadata area", (unsigned long long)ip->ino);
	if (!fs->rdonly && !fs->fsck_mount && dfs_fixed_overlap(fs, blk, 1, UINT_MAX, what, sizeof(what)))
		return daxfs_err(-EIO, "inode %llu: xattr block %llu lies on %s; run fsck.daxfs -y",
				 (unsigned long long)ip->ino, (unsigned long long)blk, what);
	if ((err = dfs_buf_read(fs, blk, DFS_BUF_SEALED, &b)))
		return daxfs_err_prefix(err, "inode %llu: xattr block", (unsigned long long)ip->ino);
	if (parse_block(b->data, ip->ino, ents, n))
		return daxfs_err(-EIO, "inode %llu: xattr block %llu is not its attribute block, or is "
				 "damaged; run fsck.daxfs -y", (unsigned long long)ip->ino,
				 (unsigned long long)blk);
	return 0;
}

static long find(const struct xent *ents, size_t n, uint8_t ns, const char *suffix)
{
	size_t len = strlen(suffix);

	for (size_t i = 0; i < n; i++)
		if (ents[i].ns == ns && ents[i].nlen == len && memcmp(ents[i].name, suffix, len) == 0)
			return (long)i;
	return -1;
}

static int store(struct dfs *fs, struct dfs_inode *ip, const struct xent *ents, size_t n)
{
	uint8_t tmp[DFS_BLOCK_SIZE];
	size_t off = DFS_XATTR_HDR;
	struct dfs_buf *b;
	int err;

	if (n == 0) {
		if (ip->d.xattr_blk && (err = dfs_free(fs, ip->d.xattr_blk, 1)))
			return err;
		ip->d.xattr_blk = 0;
		return dfs_inode_write(fs, ip);
	}
	/* build aside: the entries point into the block being rewritten */
	memset(tmp, 0, sizeof(tmp));
	dfs_put32(tmp + DFS_BLK_MAGIC, DFS_MAGIC_XATTR);
	dfs_put32(tmp + DFS_XATTR_COUNT, (uint32_t)n);
	dfs_put64(tmp + DFS_XATTR_OWNER, ip->ino);
	for (size_t i = 0; i < n; i++) {
		size_t need = DFS_XATTR_ENTRY_HDR + ents[i].nlen + ents[i].vlen;
		if (off + need > DFS_TAIL_CRC_OFF)
			return daxfs_err(-ENOSPC, "xattrs of inode %llu do not fit in %u bytes",
					 (unsigned long long)ip->ino, DFS_XATTR_SPACE);
		tmp[off + DFS_XENT_NAMESPACE] = ents[i].ns;
		tmp[off + DFS_XENT_NAMELEN] = ents[i].nlen;
		dfs_put16(tmp + off + DFS_XENT_VALUELEN, ents[i].vlen);
		memcpy(tmp + off + DFS_XATTR_ENTRY_HDR, ents[i].name, ents[i].nlen);
		memcpy(tmp + off + DFS_XATTR_ENTRY_HDR + ents[i].nlen, ents[i].value, ents[i].vlen);
		off += need;
	}
	if (!ip->d.xattr_blk) {
		uint64_t pblk, len;
		if ((err = dfs_alloc(fs, 0, 1, 1, 0, &pblk, &len)))
			return err;
		if ((err = dfs_buf_new(fs, pblk, DFS_BUF_SEALED, &b))) {
			(void)dfs_unalloc(fs, pblk, len);
			return err;
		}
		ip->d.xattr_blk = pblk;
	} else if ((err = dfs_buf_new(fs, ip->d.xattr_blk, DFS_BUF_SEALED, &b))) {
		return err;
	}
	memcpy(b->data, tmp, DFS_TAIL_CRC_OFF);
	dfs_buf_dirty(fs, b);
	return dfs_inode_write(fs, ip);
}

/* Readers hold the inode's lock shared and the buffers (the entries point
 * into the block) until they are done; writers hold it exclusively, then
 * meta, as every modifying call does (internal.h). */
static int xattr_read_begin(struct dfs *fs, uint64_t ino, struct dfs_inode **ipp)
{
	int err = dfs_iget_pin(fs, ino, ipp);

	if (err)
		return err;
	pthread_rwlock_rdlock(&(*ipp)->lock);
	dfs_buf_use_begin(fs);
	return 0;
}

static void xattr_read_end(struct dfs *fs, struct dfs_inode *ip)
{
	dfs_buf_use_end(fs);
	pthread_rwlock_unlock(&ip->lock);
	dfs_iput(fs, ip);
}

static int xattr_write_begin(struct dfs *fs, uint64_t ino, struct dfs_inode **ipp)
{
	int err;

	if ((err = dfs_inode_change_begin(fs, ino, ipp)))
		return err;
	pthread_mutex_lock(&fs->meta);
	if ((err = dfs_txn_reserve(fs, 16))) {
		pthread_mutex_unlock(&fs->meta);
		dfs_inode_change_end(fs, *ipp);
	}
	return err;
}

static int xattr_write_end(struct dfs *fs, struct dfs_inode *ip, int err)
{
	/* the commit is waited for with the inode unlocked, as namespace calls do */
	const uint64_t tid = dfs_txn_stop(fs);
	pthread_mutex_unlock(&fs->meta);
	dfs_inode_unlock_data(fs, ip, true);
	err = dfs_txn_wait(fs, tid, err);
	dfs_end_write(fs);
	return err;
}

int dfs_setxattr(struct dfs *fs, uint64_t ino, const char *name, const void *value,
		 size_t size, int flags)
{
	struct xent ents[MAX_ENTRIES + 1];
	struct dfs_inode *ip;
	const char *suffix;
	uint8_t ns;
	size_t n;
	int err;

	if ((err = parse_name(name, &ns, &suffix)))
		return err;
	if (size > XATTR_VALUE_LIMIT)
		return daxfs_err(-E2BIG, "xattr value larger than %u bytes", XATTR_VALUE_LIMIT);
	if (flags & ~(XATTR_CREATE | XATTR_REPLACE))
		return daxfs_err(-EINVAL, "setxattr: bad flags 0x%x", (unsigned)flags);
	if ((err = xattr_write_begin(fs, ino, &ip)))
		return err;
	if ((err = load(fs, ip, ents, &n)))
		goto out;
	long i = find(ents, n, ns, suffix);
	if (i >= 0 && (flags & XATTR_CREATE)) {
		err = daxfs_err(-EEXIST, "xattr '%s' exists", name);
		goto out;
	}
	if (i < 0 && (flags & XATTR_REPLACE)) {
		err = daxfs_err(-ENODATA, "xattr '%s' does not exist", name);
		goto out;
	}
	if (size > DFS_XATTR_SPACE) {
		err = daxfs_err(-ENOSPC, "xattr value does not fit in the attribute block");
		goto out;
	}
	struct xent ne = { ns, (uint8_t)strlen(suffix), (uint16_t)size, (const uint8_t *)suffix, value };
	if (i >= 0)
		ents[i] = ne;
	else
		ents[n++] = ne;
	if ((err = store(fs, ip, ents, n)))
		goto out;
	dfs_now(&ip->d.ctime);
	err = dfs_inode_write(fs, ip);
out:
	return xattr_write_end(fs, ip, err);
}

ssize_t dfs_getxattr(struct dfs *fs, uint64_t ino, const char *name, void *value, size_t size)
{
	struct xent ents[MAX_ENTRIES];
	struct dfs_inode *ip;
	const char *suffix;
	uint8_t ns;
	size_t n;
	ssize_t ret;
	int err;

	if ((err = parse_name(name, &ns, &suffix)))
		return err;
	if ((err = xattr_read_begin(fs, ino, &ip)))
		return err;
	if ((err = load(fs, ip, ents, &n))) {
		ret = err;
		goto out;
	}
	long i = find(ents, n, ns, suffix);
	if (i < 0)
		ret = daxfs_err(-ENODATA, "xattr '%s' does not exist", name);
	else if (size == 0)
		ret = ents[i].vlen;
	else if (size < ents[i].vlen)
		ret = daxfs_err(-ERANGE, "xattr '%s' is %u bytes", name, ents[i].vlen);
	else {
		memcpy(value, ents[i].value, ents[i].vlen);
		ret = ents[i].vlen;
	}
out:
	xattr_read_end(fs, ip);
	return ret;
}

ssize_t dfs_listxattr(struct dfs *fs, uint64_t ino, char *list, size_t size)
{
	struct xent ents[MAX_ENTRIES];
	struct dfs_inode *ip;
	size_t n, need = 0;
	ssize_t ret;
	int err;

	if ((err = xattr_read_begin(fs, ino, &ip)))
		return err;
	if ((err = load(fs, ip, ents, &n))) {
		ret = err;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		need += strlen(prefixes[ents[i].ns]) + ents[i].nlen + 1;
	if (size == 0) {
		ret = (ssize_t)need;
		goto out;
	}
	if (size < need) {
		ret = daxfs_err(-ERANGE, "xattr list needs %zu bytes", need);
		goto out;
	}
	char *p = list;
	for (size_t i = 0; i < n; i++) {
		size_t pl = strlen(prefixes[ents[i].ns]);
		memcpy(p, prefixes[ents[i].ns], pl);
		memcpy(p + pl, ents[i].name, ents[i].nlen);
		p[pl + ents[i].nlen] = '\0';
		p += pl + ents[i].nlen + 1;
	}
	ret = (ssize_t)need;
out:
	xattr_read_end(fs, ip);
	return ret;
}

int dfs_removexattr(struct dfs *fs, uint64_t ino, const char *name)
{
	struct xent ents[MAX_ENTRIES];
	struct dfs_inode *ip;
	const char *suffix;
	uint8_t ns;
	size_t n;
	int err;

	if ((err = parse_name(name, &ns, &suffix)))
		return err;
	if ((err = xattr_write_begin(fs, ino, &ip)))
		return err;
	if ((err = load(fs, ip, ents, &n)))
		goto out;
	long i = find(ents, n, ns, suffix);
	if (i < 0) {
		err = daxfs_err(-ENODATA, "xattr '%s' does not exist", name);
		goto out;
	}
	ents[i] = ents[--n];
	if ((err = store(fs, ip, ents, n)))
		goto out;
	dfs_now(&ip->d.ctime);
	err = dfs_inode_write(fs, ip);
out:
	return xattr_write_end(fs, ip, err);
}

int dfs_xattr_free(struct dfs *fs, struct dfs_inode *ip)
{
	struct xent ents[MAX_ENTRIES];
	size_t n;
	int err;

	if (!ip->d.xattr_blk)
		return 0;
	/* only a block that is the inode's own goes back (meta is held) */
	if (!(err = load(fs, ip, ents, &n)) && !(err = dfs_free(fs, ip->d.xattr_blk, 1)))
		ip->d.xattr_blk = 0;
	return err;
}
