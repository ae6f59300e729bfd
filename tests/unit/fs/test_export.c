/* test_export.c - inodes found by number and generation, as file handles name them */
#include "fixture.h"

#define MB (1024ull * 1024)

static int test_lookup_ino_finds_a_file_and_takes_a_reference(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	struct stat st;

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK(ino);
	CHECK_EQ(dfs_pwrite(*fs, ino, "abc", 3, 0, 0), 3);
	dfs_forget(*fs, ino, 1);
	CHECK_EQ(dfs_lookup_ino(*fs, ino, &st), 0);
	CHECK_EQ(st.st_ino, ino);
	CHECK(S_ISREG(st.st_mode));
	CHECK_EQ(st.st_size, 3);
	/* the reference keeps the removed file until it is forgotten */
	CHECK_EQ(dfs_unlink(*fs, DFS_ROOT_INO, "f"), 0);
	CHECK_EQ(dfs_getattr(*fs, ino, &st), 0);
	dfs_forget(*fs, ino, 1);
	CHECK_EQ(dfs_getattr(*fs, ino, &st), -ESTALE);
	return T_PASS;
}

static int test_lookup_ino_finds_directories_and_the_root(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	struct stat st;

	CHECK(fs);
	CHECK_EQ(dfs_mkdir(*fs, DFS_ROOT_INO, "d", 0755, &t_cred, &st), 0);
	uint64_t dir = st.st_ino;
	dfs_forget(*fs, dir, 1);
	CHECK_EQ(dfs_lookup_ino(*fs, dir, &st), 0);
	CHECK(S_ISDIR(st.st_mode));
	CHECK_EQ(dfs_lookup(*fs, dir, "..", &st), 0);
	CHECK_EQ(st.st_ino, DFS_ROOT_INO);
	CHECK_EQ(dfs_lookup_ino(*fs, DFS_ROOT_INO, &st), 0);
	CHECK_EQ(st.st_ino, DFS_ROOT_INO);
	return T_PASS;
}

static int test_lookup_ino_of_a_number_in_no_use_gives_estale(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	struct stat st;
	uint32_t gen;

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK(ino);
	CHECK_EQ(dfs_lookup_ino(*fs, 0, &st), -ESTALE);
	CHECK_EQ(dfs_lookup_ino(*fs, ino + 1, &st), -ESTALE);      /* a free slot */
	CHECK_EQ(dfs_lookup_ino(*fs, UINT64_MAX, &st), -ESTALE);
	CHECK_EQ(dfs_lookup_ino(*fs, 1ull << 40, &st), -ESTALE);
	CHECK_EQ(dfs_generation(*fs, ino + 1, &gen), -ESTALE);
	CHECK_EQ(dfs_generation(*fs, UINT64_MAX, &gen), -ESTALE);
	return T_PASS;
}

static int test_lookup_ino_of_a_removed_open_file_gives_estale(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	struct stat st;

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "f");
	CHECK(ino);
	/* the creator's reference stands for an open file */
	CHECK_EQ(dfs_unlink(*fs, DFS_ROOT_INO, "f"), 0);
	CHECK_EQ(dfs_getattr(*fs, ino, &st), 0);
	CHECK_EQ(dfs_lookup_ino(*fs, ino, &st), -ESTALE);
	CHECK_MSG_HAS("has been removed");
	dfs_forget(*fs, ino, 1);
	CHECK_EQ(dfs_lookup_ino(*fs, ino, &st), -ESTALE);
	return T_PASS;
}

static int test_a_reused_number_gets_a_new_generation(void)
{
	struct dfs **fs = t_newfs(64 * MB, NULL);
	uint32_t old_gen, new_gen;

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "a");
	CHECK(ino);
	CHECK_EQ(dfs_generation(*fs, ino, &old_gen), 0);
	CHECK_EQ(dfs_unlink(*fs, DFS_ROOT_INO, "a"), 0);
	dfs_forget(*fs, ino, 1);
	CHECK_EQ(t_create(*fs, DFS_ROOT_INO, "b"), ino);
	CHECK_EQ(dfs_generation(*fs, ino, &new_gen), 0);
	CHECK(new_gen != old_gen);
	return T_PASS;
}

static int test_generations_survive_a_remount_and_are_not_handed_out_again(void)
{
	struct mapped_device *md;
	struct dfs **fs = t_newfs(64 * MB, &md);
	uint32_t gen, again;
	struct stat st;

	CHECK(fs);
	uint64_t ino = t_create(*fs, DFS_ROOT_INO, "a");
	CHECK(ino);
	CHECK_EQ(dfs_generation(*fs, ino, &gen), 0);
	CHECK_EQ(dfs_unmount(fs), 0);
	CHECK_EQ(dfs_mount(md, NULL, fs), 0);
	CHECK_EQ(dfs_lookup_ino(*fs, ino, &st), 0);
	CHECK_EQ(dfs_generation(*fs, ino, &again), 0);
	CHECK_EQ(again, gen);
	/* removed after the remount, the number comes back with another */
	CHECK_EQ(dfs_unlink(*fs, DFS_ROOT_INO, "a"), 0);
	dfs_forget(*fs, ino, 1);
	CHECK_EQ(t_create(*fs, DFS_ROOT_INO, "b"), ino);
	CHECK_EQ(dfs_generation(*fs, ino, &again), 0);
	CHECK(again != gen);
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_lookup_ino_finds_a_file_and_takes_a_reference),
	T_CASE(test_lookup_ino_finds_directories_and_the_root),
	T_CASE(test_lookup_ino_of_a_number_in_no_use_gives_estale),
	T_CASE(test_lookup_ino_of_a_removed_open_file_gives_estale),
	T_CASE(test_a_reused_number_gets_a_new_generation),
	T_CASE(test_generations_survive_a_remount_and_are_not_handed_out_again),
};

T_MAIN(cases)