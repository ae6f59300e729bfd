/* test_namespace.c - lookup, create, link, unlink, rename, readdir and their errnos */
#include <linux/fs.h>
#include <sys/sysmacros.h>

#include "fixture.h"

#define MB (1024ull * 1024)

static int test_mkfs_mount_root_is_empty_dir(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	struct stat st;

	CHECK(fs);
	CHECK_EQ(dfs_getattr(*fs, DFS_ROOT_INO, &st), 0);
	CHECK(S_ISDIR(st.st_mode));
	CHECK_EQ(st.st_nlink, 2);
	return T_PASS;
}

static int test_create_persists_across_remount(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	struct stat st;

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "hello");
	CHECK(ino > 1);
	CHECK_EQ(dfs_pwrite(*fs, ino, "world", 5, 0, 0), 5);
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	CHECK_EQ(dfs_lookup(*fs, DFS_ROOT_INO, "hello", &st), 0);
	CHECK_EQ(st.st_ino, ino);
	CHECK_EQ(st.st_size, 5);
	char buf[8] = { 0 };
	CHECK_EQ(dfs_pread(*fs, ino, buf, sizeof(buf), 0), 5);
	CHECK(memcmp(buf, "world", 5) == 0);
	return T_PASS;
}

static int test_lookup_missing_gives_enoent(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	struct stat st;

	CHECK(fs);
	CHECK_EQ(dfs_lookup(*fs, DFS_ROOT_INO, "nope", &st), -ENOENT);
	return T_PASS;
}

static int test_create_existing_gives_eexist(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	struct stat st;

	CHECK(fs);
	CHECK(t_create(*fs, DFS_ROOT_INO, "a"));
	CHECK_EQ(dfs_mknod(*fs, DFS_ROOT_INO, "a", S_IFREG | 0644, 0, &t_cred, &st), -EEXIST);
	CHECK_EQ(dfs_mkdir(*fs, DFS_ROOT_INO, "a", 0755, &t_cred, &st), -EEXIST);
	return T_PASS;
}

static int test_name_longer_than_255_gives_enametoolong(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	char name[300];
	struct stat st;

	CHECK(fs);
	memset(name, 'x', 256);
	name[256] = '\0';
	CHECK_EQ(dfs_mknod(*fs, DFS_ROOT_INO, name, S_IFREG | 0644, 0, &t_cred, &st), -ENAMETOOLONG);
	name[255] = '\0';
	CHECK_EQ(dfs_mknod(*fs, DFS_ROOT_INO, name, S_IFREG | 0644, 0, &t_cred, &st), 0);
	CHECK_EQ(dfs_lookup(*fs, DFS_ROOT_INO, name, &st), 0);
	return T_PASS;
}

static int test_mknod_types_are_kept(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	const mode_t types[] = { S_IFREG, S_IFIFO, S_IFSOCK, S_IFCHR, S_IFBLK };
	struct stat st;

	CHECK(fs);
	for (unsigned i = 0; i < 5; i++) {
		char name[8];
		snprintf(name, sizeof(name), "n%u", i);
		CHECK_EQ(dfs_mknod(*fs, DFS_ROOT_INO, name, types[i] | 0600, makedev(1, 3), &t_cred, &st), 0);
		CHECK_EQ(st.st_mode & S_IFMT, types[i]);
		if (types[i] == S_IFCHR || types[i] == S_IFBLK)
			CHECK_EQ(st.st_rdev, makedev(1, 3));
	}
	CHECK_EQ(dfs_mknod(*fs, DFS_ROOT_INO, "d", S_IFDIR | 0600, 0, &t_cred, &st), -EINVAL);
	return T_PASS;
}

static int test_mkdir_counts_links(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	struct stat st, root;

	CHECK(fs);
	CHECK_EQ(dfs_mkdir(*fs, DFS_ROOT_INO, "d", 0755, &t_cred, &st), 0);
	CHECK_EQ(st.st_nlink, 2);
	CHECK_EQ(st.st_mode & 0777, 0755);
	CHECK_EQ(dfs_getattr(*fs, DFS_ROOT_INO, &root), 0);
	CHECK_EQ(root.st_nlink, 3);
	CHECK_EQ(dfs_lookup(*fs, st.st_ino, "..", &root), 0);
	CHECK_EQ(root.st_ino, DFS_ROOT_INO);
	return T_PASS;
}

static int test_mkdir_in_setgid_dir_inherits_group_and_bit(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	struct stat d, st, attr = { .st_mode = 02775, .st_gid = 77 };

	CHECK(fs);
	CHECK_EQ(dfs_mkdir(*fs, DFS_ROOT_INO, "g", 0755, &t_cred, &d), 0);
	CHECK_EQ(dfs_setattr(*fs, d.st_ino, &attr, DFS_SET_MODE | DFS_SET_GID, &d), 0);
	struct dfs_cred other = { .uid = 5, .gid = 6, .umask = 0 };
	CHECK_EQ(dfs_mkdir(*fs, d.st_ino, "sub", 0755, &other, &st), 0);
	CHECK_EQ(st.st_gid, 77);
	CHECK(st.st_mode & S_ISGID);
	CHECK_EQ(dfs_mknod(*fs, d.st_ino, "f", S_IFREG | 0644, 0, &other, &st), 0);
	CHECK_EQ(st.st_gid, 77);
	CHECK(!(st.st_mode & S_ISGID));
	return T_PASS;
}

static int test_unlink_removes_and_frees_space(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	struct statvfs before, after;
	static char buf[1 << 20];
	struct stat st;

	CHECK(fs);
	CHECK(t_create(*fs, DFS_ROOT_INO, "first"));     /* gives the root its block */
	CHECK_EQ(dfs_statfs(*fs, &before), 0);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK_EQ(dfs_pwrite(*fs, ino, buf, sizeof(buf), 0, 0), (ssize_t)sizeof(buf));
	CHECK_EQ(dfs_unlink(*fs, DFS_ROOT_INO, "f"), 0);
	dfs_forget(*fs, ino, 1);
	CHECK_EQ(dfs_lookup(*fs, DFS_ROOT_INO, "f", &st), -ENOENT);
	CHECK_EQ(dfs_sync(*fs), 0);
	CHECK_EQ(dfs_statfs(*fs, &after), 0);
	CHECK_EQ(after.f_bfree, before.f_bfree);
	return T_PASS;
}

static int test_unlink_dir_gives_eisdir(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	struct stat st;

	CHECK(fs);
	CHECK_EQ(dfs_mkdir(*fs, DFS_ROOT_INO, "d", 0755, &t_cred, &st), 0);
	CHECK_EQ(dfs_unlink(*fs, DFS_ROOT_INO, "d"), -EISDIR);
	return T_PASS;
}

static int test_rmdir_nonempty_gives_enotempty(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	struct stat st;

	CHECK(fs);
	CHECK_EQ(dfs_mkdir(*fs, DFS_ROOT_INO, "d", 0755, &t_cred, &st), 0);
	CHECK(t_create(*fs, st.st_ino, "f"));
	CHECK_EQ(dfs_rmdir(*fs, DFS_ROOT_INO, "d"), -ENOTEMPTY);
	CHECK_EQ(dfs_unlink(*fs, st.st_ino, "f"), 0);
	CHECK_EQ(dfs_rmdir(*fs, DFS_ROOT_INO, "d"), 0);
	CHECK_EQ(dfs_getattr(*fs, DFS_ROOT_INO, &st), 0);
	CHECK_EQ(st.st_nlink, 2);
	return T_PASS;
}

static int test_rmdir_file_gives_enotdir(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);

	CHECK(fs);
	CHECK(t_create(*fs, DFS_ROOT_INO, "f"));
	CHECK_EQ(dfs_rmdir(*fs, DFS_ROOT_INO, "f"), -ENOTDIR);
	return T_PASS;
}

static int test_link_counts_and_dir_link_gives_eperm(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	struct stat st;

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK_EQ(dfs_link(*fs, ino, DFS_ROOT_INO, "g", &st), 0);
	CHECK_EQ(st.st_nlink, 2);
	CHECK_EQ(dfs_unlink(*fs, DFS_ROOT_INO, "f"), 0);
	CHECK_EQ(dfs_getattr(*fs, ino, &st), 0);
	CHECK_EQ(st.st_nlink, 1);
	CHECK_EQ(dfs_mkdir(*fs, DFS_ROOT_INO, "d", 0755, &t_cred, &st), 0);
	CHECK_EQ(dfs_link(*fs, st.st_ino, DFS_ROOT_INO, "d2", &st), -EPERM);
	return T_PASS;
}

static int test_symlink_readlink_roundtrip(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	char buf[64];
	struct stat st;

	CHECK(fs);
	CHECK_EQ(dfs_symlink(*fs, DFS_ROOT_INO, "l", "some/where", &t_cred, &st), 0);
	CHECK(S_ISLNK(st.st_mode));
	CHECK_EQ(st.st_size, 10);
	CHECK_EQ(dfs_readlink(*fs, st.st_ino, buf, sizeof(buf)), 10);
	CHECK(memcmp(buf, "some/where", 10) == 0);
	CHECK_EQ(dfs_readlink(*fs, DFS_ROOT_INO, buf, sizeof(buf)), -EINVAL);
	return T_PASS;
}

static int test_rename_moves_entry(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	struct stat d, st;

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "a");
	CHECK_EQ(dfs_mkdir(*fs, DFS_ROOT_INO, "d", 0755, &t_cred, &d), 0);
	CHECK_EQ(dfs_rename(*fs, DFS_ROOT_INO, "a", d.st_ino, "b", 0), 0);
	CHECK_EQ(dfs_lookup(*fs, DFS_ROOT_INO, "a", &st), -ENOENT);
	CHECK_EQ(dfs_lookup(*fs, d.st_ino, "b", &st), 0);
	CHECK_EQ(st.st_ino, ino);
	return T_PASS;
}

static int test_rename_noreplace_existing_gives_eexist(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);

	CHECK(fs);
	CHECK(t_create(*fs, DFS_ROOT_INO, "a"));
	CHECK(t_create(*fs, DFS_ROOT_INO, "b"));
	CHECK_EQ(dfs_rename(*fs, DFS_ROOT_INO, "a", DFS_ROOT_INO, "b", RENAME_NOREPLACE), -EEXIST);
	return T_PASS;
}

static int test_rename_replace_frees_target(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	struct stat st;

	CHECK(fs);
	uint64_t a = t_create(*fs, DFS_ROOT_INO, "a");
	uint64_t b = t_create(*fs, DFS_ROOT_INO, "b");
	dfs_forget(*fs, b, 1);
	CHECK_EQ(dfs_rename(*fs, DFS_ROOT_INO, "a", DFS_ROOT_INO, "b", 0), 0);
	CHECK_EQ(dfs_lookup(*fs, DFS_ROOT_INO, "b", &st), 0);
	CHECK_EQ(st.st_ino, a);
	CHECK_EQ(dfs_getattr(*fs, b, &st), -ESTALE);
	return T_PASS;
}

static int test_rename_exchange_swaps_file_and_dir(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	struct stat d1, d2, st;

	CHECK(fs);
	CHECK_EQ(dfs_mkdir(*fs, DFS_ROOT_INO, "d1", 0755, &t_cred, &d1), 0);
	CHECK_EQ(dfs_mkdir(*fs, DFS_ROOT_INO, "d2", 0755, &t_cred, &d2), 0);
	uint64_t f = t_create(*fs, d1.st_ino, "f");
	CHECK_EQ(dfs_mkdir(*fs, d2.st_ino, "sub", 0755, &t_cred, &st), 0);
	uint64_t sub = st.st_ino;
	CHECK_EQ(dfs_rename(*fs, d1.st_ino, "f", d2.st_ino, "sub", RENAME_EXCHANGE), 0);
	CHECK_EQ(dfs_lookup(*fs, d1.st_ino, "f", &st), 0);
	CHECK_EQ(st.st_ino, sub);
	CHECK_EQ(dfs_lookup(*fs, d2.st_ino, "sub", &st), 0);
	CHECK_EQ(st.st_ino, f);
	CHECK_EQ(dfs_getattr(*fs, d1.st_ino, &st), 0);
	CHECK_EQ(st.st_nlink, 3);
	CHECK_EQ(dfs_getattr(*fs, d2.st_ino, &st), 0);
	CHECK_EQ(st.st_nlink, 2);
	CHECK_EQ(dfs_lookup(*fs, sub, "..", &st), 0);
	CHECK_EQ(st.st_ino, d1.st_ino);
	return T_PASS;
}

static int test_rename_dir_into_own_subtree_gives_einval(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	struct stat a, b;

	CHECK(fs);
	CHECK_EQ(dfs_mkdir(*fs, DFS_ROOT_INO, "a", 0755, &t_cred, &a), 0);
	CHECK_EQ(dfs_mkdir(*fs, a.st_ino, "b", 0755, &t_cred, &b), 0);
	CHECK_EQ(dfs_rename(*fs, DFS_ROOT_INO, "a", b.st_ino, "c", 0), -EINVAL);
	return T_PASS;
}

static int test_rename_into_removed_dir_gives_enoent(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	struct stat d, st;

	CHECK(fs);
	CHECK_EQ(dfs_mkdir(*fs, DFS_ROOT_INO, "d", 0755, &t_cred, &d), 0);
	CHECK(t_create(*fs, DFS_ROOT_INO, "f"));
	/* d stays alive through its lookup reference, as an open directory */
	CHECK_EQ(dfs_rmdir(*fs, DFS_ROOT_INO, "d"), 0);
	CHECK_EQ(dfs_rename(*fs, DFS_ROOT_INO, "f", d.st_ino, "f", 0), -ENOENT);
	CHECK_EQ(dfs_lookup(*fs, DFS_ROOT_INO, "f", &st), 0);
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(t_fsck_problems(md), 0);
	return T_PASS;
}

static int test_rename_dir_over_nonempty_dir_gives_enotempty(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	struct stat a, b;

	CHECK(fs);
	CHECK_EQ(dfs_mkdir(*fs, DFS_ROOT_INO, "a", 0755, &t_cred, &a), 0);
	CHECK_EQ(dfs_mkdir(*fs, DFS_ROOT_INO, "b", 0755, &t_cred, &b), 0);
	CHECK(t_create(*fs, b.st_ino, "f"));
	CHECK_EQ(dfs_rename(*fs, DFS_ROOT_INO, "a", DFS_ROOT_INO, "b", 0), -ENOTEMPTY);
	CHECK_EQ(dfs_unlink(*fs, b.st_ino, "f"), 0);
	CHECK_EQ(dfs_rename(*fs, DFS_ROOT_INO, "a", DFS_ROOT_INO, "b", 0), 0);
	CHECK_EQ(dfs_getattr(*fs, DFS_ROOT_INO, &a), 0);
	CHECK_EQ(a.st_nlink, 3);
	return T_PASS;
}

struct listing {
	char names[64][32];
	off_t next[64];
	unsigned n, limit;
};

static int fill(void *ctx, const char *name, const struct stat *st, off_t next)
{
	struct listing *l = ctx;

	(void)st;
	if (l->n == l->limit)
		return 1;
	snprintf(l->names[l->n], sizeof(l->names[0]), "%s", name);
	l->next[l->n++] = next;
	return 0;
}

static int test_readdir_lists_dot_dotdot_and_entries(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	struct listing l = { .limit = 64 };

	CHECK(fs);
	CHECK(t_create(*fs, DFS_ROOT_INO, "x"));
	CHECK(t_create(*fs, DFS_ROOT_INO, "y"));
	CHECK_EQ(dfs_readdir(*fs, DFS_ROOT_INO, 0, false, fill, &l), 0);
	CHECK_EQ(l.n, 4);
	CHECK(strcmp(l.names[0], ".") == 0 && strcmp(l.names[1], "..") == 0);
	CHECK(strcmp(l.names[2], "x") == 0 && strcmp(l.names[3], "y") == 0);
	return T_PASS;
}

static int test_readdir_positions_survive_removal(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	struct listing l = { .limit = 3 }, rest = { .limit = 64 };

	CHECK(fs);
	for (int i = 0; i < 10; i++)
		CHECK(t_create(*fs, DFS_ROOT_INO, t_fmt("f%d", i)));
	CHECK_EQ(dfs_readdir(*fs, DFS_ROOT_INO, 0, false, fill, &l), 0);
	CHECK_EQ(l.n, 3);       /* ., .., f0 */
	CHECK_EQ(dfs_unlink(*fs, DFS_ROOT_INO, "f0"), 0);
	CHECK_EQ(dfs_unlink(*fs, DFS_ROOT_INO, "f5"), 0);
	CHECK_EQ(dfs_readdir(*fs, DFS_ROOT_INO, l.next[2], false, fill, &rest), 0);
	CHECK_EQ(rest.n, 8);
	CHECK(strcmp(rest.names[0], "f1") == 0);
	CHECK(strcmp(rest.names[7], "f9") == 0);
	return T_PASS;
}

static int test_readdir_plus_takes_lookup_refs(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	struct listing l = { .limit = 64 };
	struct stat st;

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "x");
	dfs_forget(*fs, ino, 1);
	CHECK_EQ(dfs_readdir(*fs, DFS_ROOT_INO, 0, true, fill, &l), 0);
	CHECK_EQ(dfs_unlink(*fs, DFS_ROOT_INO, "x"), 0);
	/* still referenced by readdirplus: alive until forgotten */
	CHECK_EQ(dfs_getattr(*fs, ino, &st), 0);
	CHECK_EQ(st.st_nlink, 0);
	dfs_forget(*fs, ino, 1);
	CHECK_EQ(dfs_getattr(*fs, ino, &st), -ESTALE);
	return T_PASS;
}

static int test_setattr_mode_uid_times(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	struct stat st, attr = { .st_mode = 0600, .st_uid = 9, .st_gid = 8 };

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	attr.st_atim = (struct timespec){ 1000, 123456789 };
	attr.st_mtim = (struct timespec){ 2000, 987654321 };
	CHECK_EQ(dfs_setattr(*fs, ino, &attr, DFS_SET_MODE | DFS_SET_UID | DFS_SET_GID |
			     DFS_SET_ATIME | DFS_SET_MTIME, &st), 0);
	CHECK_EQ(st.st_mode, S_IFREG | 0600);
	CHECK_EQ(st.st_uid, 9);
	CHECK_EQ(st.st_gid, 8);
	CHECK_EQ(st.st_atim.tv_sec, 1000);
	CHECK_EQ(st.st_atim.tv_nsec, 123456789);
	CHECK_EQ(st.st_mtim.tv_nsec, 987654321);
	return T_PASS;
}

/* mode before, mode after DFS_SET_KILL_SUIDGID alone */
static int kill_suidgid(struct dfs *fs, const char *name, bool dir, mode_t mode, mode_t *after)
{
	struct stat st, attr = { .st_mode = mode };
	uint64_t ino;

	if (dir) {
		if (dfs_mkdir(fs, DFS_ROOT_INO, name, 0755, &t_cred, &st))
			return -1;
		ino = st.st_ino;
	} else if (!(ino = t_create(fs, DFS_ROOT_INO, name))) {
		return -1;
	}
	if (dfs_setattr(fs, ino, &attr, DFS_SET_MODE, &st) ||
	    dfs_setattr(fs, ino, &attr, DFS_SET_KILL_SUIDGID, &st))
		return -1;
	*after = st.st_mode & 07777;
	return 0;
}

static int test_setattr_kill_suidgid_clears_set_id_bits_of_files(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	mode_t m;

	CHECK(fs);
	CHECK_EQ(kill_suidgid(*fs, "a", false, 06755, &m), 0);
	CHECK_EQ(m, 0755);
	/* set-group-ID without group execute means mandatory locking: kept */
	CHECK_EQ(kill_suidgid(*fs, "b", false, 06745, &m), 0);
	CHECK_EQ(m, 02745);
	CHECK_EQ(kill_suidgid(*fs, "c", false, 0644, &m), 0);
	CHECK_EQ(m, 0644);
	/* on a directory the bits say how new entries inherit: kept */
	CHECK_EQ(kill_suidgid(*fs, "d", true, 06775, &m), 0);
	CHECK_EQ(m, 06775);
	return T_PASS;
}

static int test_rdonly_mount_gives_erofs(void)
{
	const struct dfs_mount_opts ro = { .rdonly = true };
	struct dfs **fs = t_newfs_opts(64 * MB, NULL, &ro);
	struct stat st;

	CHECK(fs);
	CHECK_EQ(dfs_mknod(*fs, DFS_ROOT_INO, "f", S_IFREG | 0644, 0, &t_cred, &st), -EROFS);
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_mkfs_mount_root_is_empty_dir),
	T_CASE(test_setattr_kill_suidgid_clears_set_id_bits_of_files),
	T_CASE(test_create_persists_across_remount),
	T_CASE(test_lookup_missing_gives_enoent),
	T_CASE(test_create_existing_gives_eexist),
	T_CASE(test_name_longer_than_255_gives_enametoolong),
	T_CASE(test_mknod_types_are_kept),
	T_CASE(test_mkdir_counts_links),
	T_CASE(test_mkdir_in_setgid_dir_inherits_group_and_bit),
	T_CASE(test_unlink_removes_and_frees_space),
	T_CASE(test_unlink_dir_gives_eisdir),
	T_CASE(test_rmdir_nonempty_gives_enotempty),
	T_CASE(test_rmdir_file_gives_enotdir),
	T_CASE(test_link_counts_and_dir_link_gives_eperm),
	T_CASE(test_symlink_readlink_roundtrip),
	T_CASE(test_rename_moves_entry),
	T_CASE(test_rename_noreplace_existing_gives_eexist),
	T_CASE(test_rename_replace_frees_target),
	T_CASE(test_rename_exchange_swaps_file_and_dir),
	T_CASE(test_rename_dir_into_own_subtree_gives_einval),
	T_CASE(test_rename_into_removed_dir_gives_enoent),
	T_CASE(test_rename_dir_over_nonempty_dir_gives_enotempty),
	T_CASE(test_readdir_lists_dot_dotdot_and_entries),
	T_CASE(test_readdir_positions_survive_removal),
	T_CASE(test_readdir_plus_takes_lookup_refs),
	T_CASE(test_setattr_mode_uid_times),
	T_CASE(test_rdonly_mount_gives_erofs),
};

T_MAIN(cases)