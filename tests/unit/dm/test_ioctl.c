/* test_ioctl.c - the command layer: requests in, result structures out */
#include <stdint.h>

#include "fixture.h"
#include "util/err.h"

/* Runs rq into res, freeing what res held from the request before. */
static int run(struct mapped_device *md, struct dm_ioctl_req rq, struct dm_ioctl_result *res)
{
	dm_ioctl_result_free(res);
	return dm_ioctl(md, &rq, res);
}

static int test_table_status_gives_each_targets_args(void)
{
	struct mapped_device *md = t_md();
	struct dm_ioctl_result *res = t_result();

	t_devs(64);
	CHECK_EQ(t_make_live(md, t_fmt("0 256 linear %s 8\n256 256 error\n", A)), 0);
	CHECK_EQ(run(md, (struct dm_ioctl_req){ .cmd = DM_IOC_TABLE_STATUS }, res), 0);
	CHECK_EQ(res->ntargets, 2);
	CHECK_STR(res->targets[0].info.type, "linear");
	CHECK_STR(res->targets[0].args, t_fmt("%s 8", A));
	CHECK_STR(res->targets[1].args, "");
	CHECK_EQ(res->targets[1].info.begin, 256);
	CHECK_STR(res->text, t_fmt("0 256 linear %s 8\n256 256 error\n", A));
	return T_PASS;
}

static int test_table_status_without_a_staged_table_is_enxio(void)
{
	struct mapped_device *md = t_md();
	struct dm_ioctl_result *res = t_result();

	t_devs(64);
	CHECK_EQ(t_make_live(md, t_fmt("0 512 linear %s 0\n", A)), 0);
	CHECK_EQ(run(md, (struct dm_ioctl_req){ .cmd = DM_IOC_TABLE_STATUS,
					       .flags = DM_IOC_F_INACTIVE }, res), -ENXIO);
	CHECK_MSG("no inactive table");
	return T_PASS;
}

static int test_load_and_resume_swap_the_table(void)
{
	struct mapped_device *md = t_md();
	struct dm_ioctl_result *res = t_result();
	const char *text;

	t_devs(64);
	CHECK_EQ(t_make_live(md, t_fmt("0 512 linear %s 0\n", A)), 0);
	text = t_fmt("0 512 linear %s 0\n", B);
	CHECK_EQ(run(md, (struct dm_ioctl_req){ .cmd = DM_IOC_TABLE_LOAD, .text = text }, res), 0);
	CHECK_EQ(run(md, (struct dm_ioctl_req){ .cmd = DM_IOC_DEV_RESUME }, res), 0);
	CHECK_EQ(run(md, (struct dm_ioctl_req){ .cmd = DM_IOC_TABLE_STATUS }, res), 0);
	CHECK_STR(res->text, text);
	return T_PASS;
}

static int test_load_names_the_origin_and_line(void)
{
	struct mapped_device *md = t_md();
	struct dm_ioctl_result *res = t_result();

	t_devs(64);
	CHECK_EQ(t_make_live(md, t_fmt("0 512 linear %s 0\n", A)), 0);
	CHECK_EQ(run(md, (struct dm_ioctl_req){ .cmd = DM_IOC_TABLE_LOAD, .origin = "load",
					       .text = t_fmt("0 256 linear %s 0\n256 256 linear %s\n",
							     A, B) }, res), -EINVAL);
	CHECK_MSG("load:2: linear: Invalid argument count");
	return T_PASS;
}

static int refuse(void *data, struct dm_table *staged, unsigned flags)
{
	unsigned *seen = data;

	*seen = flags;
	return daxfs_err(-EBUSY, "held by someone");
}

static int test_refused_resume_drops_the_staged_table_and_keeps_the_live_one(void)
{
	struct mapped_device *md = t_md();
	struct dm_ioctl_result *res = t_result();
	const char *live;
	unsigned seen = 0;

	t_devs(64);
	live = t_fmt("0 512 linear %s 0\n", A);
	CHECK_EQ(t_make_live(md, live), 0);
	dm_md_set_resume_check(md, refuse, &seen);
	CHECK_EQ(run(md, (struct dm_ioctl_req){ .cmd = DM_IOC_TABLE_LOAD,
					       .text = t_fmt("0 512 linear %s 0\n", B) }, res), 0);
	CHECK_EQ(run(md, (struct dm_ioctl_req){ .cmd = DM_IOC_DEV_RESUME,
					       .flags = DM_IOC_F_FORCE }, res), -EBUSY);
	CHECK_MSG("resume: held by someone");
	CHECK_EQ(seen, DM_IOC_F_FORCE);
	CHECK_EQ(run(md, (struct dm_ioctl_req){ .cmd = DM_IOC_DEV_STATUS }, res), 0);
	CHECK(!res->info.inactive_present);
	CHECK_EQ(run(md, (struct dm_ioctl_req){ .cmd = DM_IOC_TABLE_STATUS }, res), 0);
	CHECK_STR(res->text, live);
	return T_PASS;
}

static int test_remove_of_an_open_device_says_how_to_get_out(void)
{
	struct mapped_device *md = t_md();
	struct dm_ioctl_result *res = t_result();

	t_devs(64);
	CHECK_EQ(t_make_live(md, t_fmt("0 512 linear %s 0\n", A)), 0);
	dm_md_open(md);
	CHECK_EQ(run(md, (struct dm_ioctl_req){ .cmd = DM_IOC_DEV_REMOVE }, res), -EBUSY);
	CHECK_MSG_HAS("remove with --deferred");
	CHECK_EQ(run(md, (struct dm_ioctl_req){ .cmd = DM_IOC_DEV_REMOVE,
					       .flags = DM_IOC_F_DEFERRED }, res), 0);
	CHECK_EQ(run(md, (struct dm_ioctl_req){ .cmd = DM_IOC_DEV_STATUS }, res), 0);
	CHECK(res->info.deferred_remove);
	dm_md_close(md);
	return T_PASS;
}

static int test_wipe_swaps_in_error_targets_with_the_same_boundaries(void)
{
	struct mapped_device *md = t_md();
	struct dm_ioctl_result *res = t_result();

	t_devs(64);
	CHECK_EQ(t_make_live(md, t_fmt("0 256 linear %s 0\n256 256 linear %s 0\n", A, B)), 0);
	CHECK_EQ(run(md, (struct dm_ioctl_req){ .cmd = DM_IOC_DEV_REMOVE,
					       .flags = DM_IOC_F_WIPE }, res), 0);
	/* removed: the table is still there to read */
	CHECK_EQ(run(md, (struct dm_ioctl_req){ .cmd = DM_IOC_TABLE_STATUS }, res), 0);
	CHECK_STR(res->text, "0 256 error\n256 256 error\n");
	return T_PASS;
}

static int test_badblocks_of_an_unknown_device_is_enodev(void)
{
	struct mapped_device *md = t_md();
	struct dm_ioctl_result *res = t_result();

	t_devs(64);
	CHECK_EQ(t_make_live(md, t_fmt("0 512 linear %s 0\n", A)), 0);
	CHECK_EQ(run(md, (struct dm_ioctl_req){ .cmd = DM_IOC_BADBLOCKS_LIST, .text = B }, res),
		 -ENODEV);
	CHECK_MSG(t_fmt("badblocks: %s: not a device of this mount", B));
	return T_PASS;
}

static int test_badblocks_add_outside_the_device_is_einval_and_list_shows_added(void)
{
	struct mapped_device *md = t_md();
	struct dm_ioctl_result *res = t_result();

	t_devs(64);
	CHECK_EQ(t_make_live(md, t_fmt("0 512 linear %s 0\n", A)), 0);
	CHECK_EQ(run(md, (struct dm_ioctl_req){ .cmd = DM_IOC_BADBLOCKS_ADD, .text = A,
					       .start = 510, .len = 8 }, res), -EINVAL);
	CHECK_MSG("badblocks: sectors 510+8 outside the device's 512");
	CHECK_EQ(run(md, (struct dm_ioctl_req){ .cmd = DM_IOC_BADBLOCKS_ADD, .text = A,
					       .start = 16, .len = 8 }, res), 0);
	CHECK_EQ(run(md, (struct dm_ioctl_req){ .cmd = DM_IOC_BADBLOCKS_LIST, .text = A }, res), 0);
	CHECK_EQ(res->nbadblocks, 1);
	CHECK_EQ(res->badblocks[0].sector, 16);
	CHECK_EQ(res->badblocks[0].nr_sectors, 8);
	return T_PASS;
}

static int test_status_lists_every_device_with_its_bad_blocks(void)
{
	struct mapped_device *md = t_md();
	struct dm_ioctl_result *res = t_result();

	t_devs(64);
	CHECK_EQ(t_make_live(md, t_fmt("0 256 linear %s 0\n256 256 linear %s 0\n", A, B)), 0);
	CHECK_EQ(dax_badblocks_add(dm_md_device(md, 1), 8, 8), 0);
	CHECK_EQ(run(md, (struct dm_ioctl_req){ .cmd = DM_IOC_STATUS }, res), 0);
	CHECK_EQ(res->ndevices, 2);
	CHECK_STR(res->devices[1].path, B);
	CHECK_EQ(res->devices[1].nbadblocks, 1);
	CHECK_EQ(res->devices[0].nbadblocks, 0);
	CHECK_EQ(res->ntargets, 2);
	CHECK(res->info.live_present);
	return T_PASS;
}

static int test_device_names_one_device_and_past_the_last_is_enxio(void)
{
	struct mapped_device *md = t_md();
	struct dm_ioctl_result *res = t_result();

	t_devs(64);
	CHECK_EQ(t_make_live(md, t_fmt("0 256 linear %s 0\n256 256 linear %s 0\n", A, B)), 0);
	CHECK_EQ(run(md, (struct dm_ioctl_req){ .cmd = DM_IOC_DEVICE, .index = 1 }, res), 0);
	CHECK_EQ(res->ndevices, 1);
	CHECK_STR(res->devices[0].path, B);
	CHECK_EQ(res->devices[0].size, 64 * 4096);
	CHECK_EQ(run(md, (struct dm_ioctl_req){ .cmd = DM_IOC_DEVICE, .index = 2 }, res), -ENXIO);
	CHECK_MSG("no backing device 2");
	return T_PASS;
}

static void close_fd(void *arg)
{
	close((int)(intptr_t)arg);
}

static int test_device_open_refuses_a_file_renamed_over_the_path(void)
{
	struct mapped_device *md = t_md();
	struct dm_ioctl_result *res = t_result();
	const char *other;

	t_devs(64);
	CHECK_EQ(t_make_live(md, t_fmt("0 512 linear %s 0\n", A)), 0);
	CHECK_EQ(run(md, (struct dm_ioctl_req){ .cmd = DM_IOC_DEVICE_OPEN, .index = 0,
					       .flags = DM_IOC_F_WRITE }, res), 0);
	CHECK(res->fd >= 0);
	t_defer(close_fd, (void *)(intptr_t)res->fd);
	CHECK_EQ(fcntl(res->fd, F_GETFL) & O_ACCMODE, O_RDWR);
	other = t_pmem("other", 64, 3);
	CHECK_EQ(rename(other, A), 0);
	CHECK_EQ(run(md, (struct dm_ioctl_req){ .cmd = DM_IOC_DEVICE_OPEN, .index = 0 }, res),
		 -ESTALE);
	CHECK_MSG(t_fmt("%s is no longer the file this mount uses", A));
	return T_PASS;
}

/* ---- the device's lifetime -------------------------------------------- */

/* DEV_CREATE's device, destroyed at the end of the test if still there. */
static void destroy_md(void *arg)
{
	struct mapped_device **mdp = arg;
	struct dm_ioctl_result res;

	if (*mdp) {
		if (dm_ioctl(*mdp, &(struct dm_ioctl_req){ .cmd = DM_IOC_DEV_REMOVE,
							   .flags = DM_IOC_F_DESTROY }, &res) < 0)
			dm_md_destroy(mdp);     /* still open: the test failed */
		dm_ioctl_result_free(&res);
	}
	free(mdp);
}

/* What DEV_CREATE is given: files of a fresh t_devs (SRC_BA: of an earlier
 * create's), a sparse file, or a file that is not there. */
enum source { SRC_A, SRC_AB, SRC_BA, SRC_NONE, SRC_SPARSE };

static int created;     /* DEV_CREATE's answer */

static struct mapped_device **create(enum source src, struct dm_ioctl_result *res)
{
	struct mapped_device **mdp = calloc(1, sizeof(*mdp));
	const char *source = NULL;

	if (!mdp)
		abort();
	t_defer(destroy_md, mdp);
	if (src == SRC_A || src == SRC_AB)
		t_devs(64);
	switch (src) {
	case SRC_A: source = A; break;
	case SRC_AB: source = t_fmt("%s,%s", A, B); break;
	case SRC_BA: source = t_fmt("%s,%s", B, A); break;
	case SRC_NONE: source = t_path("none"); break;
	case SRC_SPARSE: source = t_pmem("sparse", 64, 0); break;
	}
	created = run(NULL, (struct dm_ioctl_req){ .cmd = DM_IOC_DEV_CREATE, .name = "made",
						   .text = source, .flags = DM_IOC_F_EXCL }, res);
	*mdp = res->md;
	return mdp;
}

static int test_dev_create_makes_the_sources_table_live_or_leaves_no_device(void)
{
	struct dm_ioctl_result *res = t_result();
	struct mapped_device **md = create(SRC_AB, res), **none;

	CHECK_EQ(created, 0);
	CHECK(*md != NULL);
	CHECK_STR(res->name, "made");
	CHECK_EQ(run(*md, (struct dm_ioctl_req){ .cmd = DM_IOC_TABLE_STATUS }, res), 0);
	CHECK_STR(res->text, t_fmt("0 512 linear %s 0\n512 512 linear %s 0\n", A, B));
	CHECK_EQ(res->md, NULL);
	CHECK_EQ(run(*md, (struct dm_ioctl_req){ .cmd = DM_IOC_DEV_CREATE, .name = "x" }, res),
		 -EEXIST);
	CHECK_MSG("made: the device exists already");
	none = create(SRC_NONE, res);
	CHECK_EQ(created, -ENOENT);
	CHECK_MSG_HAS(t_path("none"));
	CHECK_EQ(*none, NULL);
	CHECK_EQ(run(NULL, (struct dm_ioctl_req){ .cmd = DM_IOC_DEV_STATUS }, res), -ENXIO);
	CHECK_MSG("no mapped device");
	return T_PASS;
}

static int test_destroy_waits_for_the_last_close_and_a_deferred_remove_happens_there(void)
{
	struct dm_ioctl_result *res = t_result();
	struct mapped_device **md = create(SRC_A, res);

	CHECK_EQ(created, 0);
	CHECK_EQ(run(*md, (struct dm_ioctl_req){ .cmd = DM_IOC_DEV_OPEN }, res), 0);
	CHECK_EQ(run(*md, (struct dm_ioctl_req){ .cmd = DM_IOC_DEV_REMOVE,
						 .flags = DM_IOC_F_DEFERRED }, res), 0);
	CHECK_EQ(run(*md, (struct dm_ioctl_req){ .cmd = DM_IOC_DEV_REMOVE,
						 .flags = DM_IOC_F_DESTROY }, res), -EBUSY);
	CHECK_MSG("made: device is open (open count 1)");
	CHECK_EQ(run(*md, (struct dm_ioctl_req){ .cmd = DM_IOC_DEV_STATUS }, res), 0);
	CHECK_EQ(res->info.open_count, 1);
	CHECK_EQ(run(*md, (struct dm_ioctl_req){ .cmd = DM_IOC_DEV_CLOSE }, res), 0);
	/* removed at the close: no more control commands */
	CHECK(run(*md, (struct dm_ioctl_req){ .cmd = DM_IOC_DEV_SUSPEND }, res) < 0);
	CHECK_EQ(run(*md, (struct dm_ioctl_req){ .cmd = DM_IOC_DEV_REMOVE,
						 .flags = DM_IOC_F_DESTROY }, res), 0);
	CHECK_EQ(res->name, NULL);
	*md = NULL;
	return T_PASS;
}

static int frozen, thawed, swapped;

static int count_freeze(void *data)
{
	(void)data;
	frozen++;
	return 0;
}

static void count_thaw(void *data)
{
	(void)data;
	thawed++;
}

static void count_swap(void *data)
{
	(void)data;
	swapped++;
}

static int test_set_hooks_replaces_every_hook(void)
{
	static const struct dm_lockfs_ops ops = { .freeze = count_freeze, .thaw = count_thaw };
	struct mapped_device *md = t_md();
	struct dm_ioctl_result *res = t_result();
	unsigned seen = 0;

	t_devs(64);
	CHECK_EQ(t_make_live(md, t_fmt("0 512 linear %s 0\n", A)), 0);
	CHECK_EQ(run(md, (struct dm_ioctl_req){ .cmd = DM_IOC_DEV_SET_HOOKS,
			.hooks = &(struct dm_ioc_hooks){ .lockfs = &ops, .swap = count_swap } },
		     res), 0);
	CHECK_EQ(run(md, (struct dm_ioctl_req){ .cmd = DM_IOC_TABLE_LOAD,
					       .text = t_fmt("0 512 linear %s 0\n", B) }, res), 0);
	CHECK_EQ(run(md, (struct dm_ioctl_req){ .cmd = DM_IOC_DEV_RESUME }, res), 0);
	CHECK_EQ(frozen, 1);
	CHECK_EQ(thawed, 1);
	CHECK_EQ(swapped, 1);
	/* the resume check alone: the others are gone */
	CHECK_EQ(run(md, (struct dm_ioctl_req){ .cmd = DM_IOC_DEV_SET_HOOKS,
			.hooks = &(struct dm_ioc_hooks){ .resume_check = refuse,
							 .resume_check_data = &seen } }, res), 0);
	CHECK_EQ(run(md, (struct dm_ioctl_req){ .cmd = DM_IOC_TABLE_LOAD,
					       .text = t_fmt("0 512 linear %s 0\n", A) }, res), 0);
	CHECK_EQ(run(md, (struct dm_ioctl_req){ .cmd = DM_IOC_DEV_RESUME }, res), -EBUSY);
	CHECK_EQ(run(md, (struct dm_ioctl_req){ .cmd = DM_IOC_DEV_SET_HOOKS }, res), 0);
	CHECK_EQ(run(md, (struct dm_ioctl_req){ .cmd = DM_IOC_TABLE_LOAD,
					       .text = t_fmt("0 512 linear %s 0\n", A) }, res), 0);
	CHECK_EQ(run(md, (struct dm_ioctl_req){ .cmd = DM_IOC_DEV_RESUME }, res), 0);
	CHECK_EQ(frozen + thawed + swapped, 3);
	return T_PASS;
}

static int test_rename_sets_the_uuid_once_and_set_devt_the_number(void)
{
	struct mapped_device *md = t_md();
	struct dm_ioctl_result *res = t_result();

	CHECK_EQ(run(md, (struct dm_ioctl_req){ .cmd = DM_IOC_DEV_RENAME, .text = "new" }, res),
		 -EINVAL);
	CHECK_MSG("test: rename: only the uuid can be set");
	CHECK_EQ(run(md, (struct dm_ioctl_req){ .cmd = DM_IOC_DEV_RENAME, .flags = DM_IOC_F_UUID,
					       .text = "DAXFS-1" }, res), 0);
	CHECK_EQ(run(md, (struct dm_ioctl_req){ .cmd = DM_IOC_DEV_RENAME, .flags = DM_IOC_F_UUID,
					       .text = "DAXFS-2" }, res), -EBUSY);
	CHECK_MSG("test: the device has a uuid already");
	CHECK_EQ(run(md, (struct dm_ioctl_req){ .cmd = DM_IOC_DEV_SET_DEVT, .major = 0,
					       .minor = 77 }, res), 0);
	CHECK_EQ(run(md, (struct dm_ioctl_req){ .cmd = DM_IOC_DEV_STATUS }, res), 0);
	CHECK_STR(res->info.uuid, "DAXFS-1");
	CHECK_EQ(res->info.minor, 77);
	CHECK(strstr(res->text, "UUID: DAXFS-1\n") != NULL);
	return T_PASS;
}

static int test_claim_refuses_a_file_another_device_claimed(void)
{
	struct dm_ioctl_result *res = t_result();
	struct mapped_device **one = create(SRC_A, res), **two = create(SRC_BA, res);

	CHECK_EQ(created, 0);
	CHECK(*one != NULL);
	CHECK_EQ(run(*one, (struct dm_ioctl_req){ .cmd = DM_IOC_DEV_CLAIM }, res), 0);
	CHECK_EQ(run(*one, (struct dm_ioctl_req){ .cmd = DM_IOC_DEV_MARK_MOUNTED }, res), 0);
	CHECK_EQ(run(*two, (struct dm_ioctl_req){ .cmd = DM_IOC_DEV_CLAIM }, res), -EBUSY);
	CHECK_MSG(t_fmt("%s: in use by another daxfs mount", A));
	return T_PASS;
}

static int test_backing_allocates_with_prealloc(void)
{
	struct dm_ioctl_result *res = t_result();
	struct mapped_device **md = create(SRC_SPARSE, res);
	const char *sparse = t_path("sparse");
	struct stat st;

	CHECK_EQ(created, 0);
	CHECK_EQ(stat(sparse, &st), 0);
	CHECK(st.st_blocks < 64 * 8);
	CHECK_EQ(run(*md, (struct dm_ioctl_req){ .cmd = DM_IOC_DEV_BACKING }, res), 0);
	CHECK_EQ(run(*md, (struct dm_ioctl_req){ .cmd = DM_IOC_DEV_BACKING,
						 .flags = DM_IOC_F_PREALLOC }, res), 0);
	CHECK_EQ(stat(sparse, &st), 0);
	CHECK_EQ(st.st_blocks, 64 * 8);
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_table_status_gives_each_targets_args),
	T_CASE(test_table_status_without_a_staged_table_is_enxio),
	T_CASE(test_load_and_resume_swap_the_table),
	T_CASE(test_load_names_the_origin_and_line),
	T_CASE(test_refused_resume_drops_the_staged_table_and_keeps_the_live_one),
	T_CASE(test_remove_of_an_open_device_says_how_to_get_out),
	T_CASE(test_wipe_swaps_in_error_targets_with_the_same_boundaries),
	T_CASE(test_badblocks_of_an_unknown_device_is_enodev),
	T_CASE(test_badblocks_add_outside_the_device_is_einval_and_list_shows_added),
	T_CASE(test_status_lists_every_device_with_its_bad_blocks),
	T_CASE(test_device_names_one_device_and_past_the_last_is_enxio),
	T_CASE(test_device_open_refuses_a_file_renamed_over_the_path),
	T_CASE(test_dev_create_makes_the_sources_table_live_or_leaves_no_device),
	T_CASE(test_destroy_waits_for_the_last_close_and_a_deferred_remove_happens_there),
	T_CASE(test_set_hooks_replaces_every_hook),
	T_CASE(test_rename_sets_the_uuid_once_and_set_devt_the_number),
	T_CASE(test_claim_refuses_a_file_another_device_claimed),
	T_CASE(test_backing_allocates_with_prealloc),
};

T_MAIN(cases)
