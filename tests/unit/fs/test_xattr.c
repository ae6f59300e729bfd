/* test_xattr.c - extended attributes: namespaces, flags, sizes, limits, persistence */
#include <sys/xattr.h>

#include "fixture.h"

#define MB (1024ull * 1024)

static int test_xattr_set_get_list_remove(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	char buf[64];

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK_EQ(dfs_setxattr(*fs, ino, "user.color", "blue", 4, 0), 0);
	CHECK_EQ(dfs_setxattr(*fs, ino, "trusted.t", "x", 1, 0), 0);
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	CHECK_EQ(dfs_getxattr(*fs, ino, "user.color", NULL, 0), 4);
	CHECK_EQ(dfs_getxattr(*fs, ino, "user.color", buf, sizeof(buf)), 4);
	CHECK(memcmp(buf, "blue", 4) == 0);
	CHECK_EQ(dfs_listxattr(*fs, ino, NULL, 0), 21);
	CHECK_EQ(dfs_listxattr(*fs, ino, buf, sizeof(buf)), 21);
	CHECK(memcmp(buf, "user.color\0trusted.t\0", 21) == 0);
	CHECK_EQ(dfs_removexattr(*fs, ino, "user.color"), 0);
	CHECK_EQ(dfs_getxattr(*fs, ino, "user.color", buf, sizeof(buf)), -ENODATA);
	return T_PASS;
}

static int test_xattr_create_replace_flags(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK_EQ(dfs_setxattr(*fs, ino, "user.a", "1", 1, XATTR_REPLACE), -ENODATA);
	CHECK_EQ(dfs_setxattr(*fs, ino, "user.a", "1", 1, XATTR_CREATE), 0);
	CHECK_EQ(dfs_setxattr(*fs, ino, "user.a", "2", 1, XATTR_CREATE), -EEXIST);
	CHECK_EQ(dfs_setxattr(*fs, ino, "user.a", "22", 2, XATTR_REPLACE), 0);
	CHECK_EQ(dfs_getxattr(*fs, ino, "user.a", NULL, 0), 2);
	return T_PASS;
}

static int test_xattr_small_buffer_gives_erange(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	char buf[2];

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK_EQ(dfs_setxattr(*fs, ino, "user.a", "123", 3, 0), 0);
	CHECK_EQ(dfs_getxattr(*fs, ino, "user.a", buf, sizeof(buf)), -ERANGE);
	CHECK_EQ(dfs_listxattr(*fs, ino, buf, sizeof(buf)), -ERANGE);
	return T_PASS;
}

static int test_xattr_other_namespace_gives_eopnotsupp(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK_EQ(dfs_setxattr(*fs, ino, "security.selinux", "x", 1, 0), -EOPNOTSUPP);
	CHECK_EQ(dfs_setxattr(*fs, ino, "system.posix_acl_access", "x", 1, 0), -EOPNOTSUPP);
	return T_PASS;
}

static int test_xattr_limits_e2big_and_enospc(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	static char big[70000];

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK_EQ(dfs_setxattr(*fs, ino, "user.big", big, sizeof(big), 0), -E2BIG);
	CHECK_EQ(dfs_setxattr(*fs, ino, "user.big", big, 5000, 0), -ENOSPC);
	CHECK_EQ(dfs_setxattr(*fs, ino, "user.a", big, 3000, 0), 0);
	CHECK_EQ(dfs_setxattr(*fs, ino, "user.b", big, 3000, 0), -ENOSPC);
	CHECK_EQ(dfs_getxattr(*fs, ino, "user.a", NULL, 0), 3000);
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_xattr_set_get_list_remove),
	T_CASE(test_xattr_create_replace_flags),
	T_CASE(test_xattr_small_buffer_gives_erange),
	T_CASE(test_xattr_other_namespace_gives_eopnotsupp),
	T_CASE(test_xattr_limits_e2big_and_enospc),
};

T_MAIN(cases)