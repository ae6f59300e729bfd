/* test_md.c - the mapped device: type rules at load, deferred range checks, slots, suspend/resume, info */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#include "fixture.h"
#include "dm/md.h"
#include "util/intr.h"

static const char *A, *B;

/* A and B: 64 pages (512 sectors) each. */
static void devs(void)
{
	t_pmem_pair(&A, &B);
}

static int load_text(struct mapped_device *md, const char *text)
{
	struct dm_table *t;
	int r = dm_table_parse(md, text, "test", &t);

	if (r)
		return r;
	r = dm_md_load(md, t);
	if (r) {
		dm_table_put(&t);
		dm_md_release_devices(md);
	}
	return r;
}

/* A device with a live DAX table over A. */
static struct mapped_device *dax_md(void)
{
	struct mapped_device *md = t_md();

	devs();
	if (t_make_live(md, t_fmt("0 512 linear %s 0\n", A))) {
		fprintf(stderr, "dax_md: %s\n", daxfs_errormsg());
		abort();
	}
	return md;
}

static int test_load_bare_error_on_dax_device_succeeds(void)
{
	struct mapped_device *md = dax_md();
	struct dm_md_info info;

	CHECK_EQ(load_text(md, "0 512 error\n"), 0);
	CHECK_EQ(dm_md_resume(md, DM_SUSPEND_NOLOCKFS), 0);
	dm_md_get_info(md, &info);
	CHECK(info.dax);
	CHECK_STR(dm_md_type_name(md), "dax");
	return T_PASS;
}

static int test_load_error_with_device_on_dax_device_fails(void)
{
	struct mapped_device *md = dax_md();

	CHECK_EQ(load_text(md, t_fmt("0 512 error %s 0\n", A)), -EINVAL);
	CHECK_MSG("test: can't change device type from dax to bio after initial table load: "
		  "target 0 (error) is a wildcard target with a device beside it, which is "
		  "never DAX");
	return T_PASS;
}

static int test_load_linear_error_mix_on_dax_device_fails(void)
{
	struct mapped_device *md = dax_md();

	CHECK_EQ(load_text(md, t_fmt("0 256 linear %s 0\n256 256 error\n", A)), -EINVAL);
	CHECK_MSG_HAS("can't change device type from dax to bio");
	CHECK_MSG_HAS("target 1 (error)");
	return T_PASS;
}

/* dm_table_determine_type: a table without devices inherits the DAX type. */
static int test_load_zero_alone_on_dax_device_succeeds(void)
{
	struct mapped_device *md = dax_md();

	CHECK_EQ(t_make_live(md, "0 512 zero\n"), 0);
	CHECK_EQ(dm_dax_direct_access(md, 0, 1, DAX_ACCESS, NULL, NULL), -EIO);
	return T_PASS;
}

static int test_load_zero_beside_device_on_dax_device_fails(void)
{
	struct mapped_device *md = dax_md();

	CHECK_EQ(load_text(md, t_fmt("0 256 linear %s 0\n256 256 zero\n", A)), -EINVAL);
	CHECK_MSG("test: can't change device type from dax to bio after initial table load: "
		  "target 1 (zero): no direct_access");
	return T_PASS;
}

static int test_load_dax_table_on_bio_device_upgrades(void)
{
	struct mapped_device *md = t_md();
	struct dm_md_info info;

	devs();
	CHECK_EQ(t_make_live(md, "0 512 zero\n"), 0);
	dm_md_get_info(md, &info);
	CHECK(!info.dax);
	CHECK_EQ(t_make_live(md, t_fmt("0 512 linear %s 0\n", A)), 0);
	dm_md_get_info(md, &info);
	CHECK(info.dax);
	/* the device type stays what the first load made it */
	CHECK_STR(dm_md_type_name(md), "bio");
	CHECK_EQ(t_make_live(md, "0 512 zero\n"), 0);
	return T_PASS;
}

static int test_load_mix_on_fresh_device_is_bio_type(void)
{
	struct mapped_device *md = t_md();
	struct dm_md_info info;

	devs();
	CHECK_EQ(t_make_live(md, t_fmt("0 256 linear %s 0\n256 256 error\n", A)), 0);
	dm_md_get_info(md, &info);
	CHECK(!info.dax);
	CHECK_STR(dm_md_type_name(md), "bio");
	return T_PASS;
}

static int test_first_load_checks_device_ranges(void)
{
	struct mapped_device *md = t_md();
	struct dm_md_info info;

	devs();
	CHECK_EQ(load_text(md, t_fmt("0 520 linear %s 0\n", A)), -EINVAL);
	CHECK_MSG(t_fmt("test: target 0 (linear): %s too small for target: start=0, len=520, "
			"dev_size=512 (sectors: it has 262144 bytes, the target maps bytes 0-266239 "
			"of it; was it truncated?)", A));
	/* sectors that far out have no byte numbers: none printed wrapped */
	CHECK_EQ(load_text(md, t_fmt("0 256 linear %s 18446744073709551608\n", A)), -EINVAL);
	CHECK_MSG(t_fmt("test: target 0 (linear): %s too small for target: "
			"start=18446744073709551608, len=256, dev_size=512 (sectors: it has 262144 "
			"bytes, the target starts past its end)", A));
	dm_md_get_info(md, &info);
	CHECK(!info.inactive_present);
	CHECK_STR(dm_md_type_name(md), "none");
	return T_PASS;
}

static int test_reload_overrunning_device_fails_at_resume(void)
{
	struct mapped_device *md = dax_md();
	struct dm_md_info info;
	char *text;

	CHECK_EQ(load_text(md, t_fmt("0 512 linear %s 8\n", B)), 0);
	CHECK_EQ(dm_md_resume(md, DM_SUSPEND_NOLOCKFS), -EINVAL);
	CHECK_MSG_HAS("too small for target: start=8, len=512, dev_size=512");
	dm_md_get_info(md, &info);
	CHECK(info.suspended);
	CHECK(info.live_present);
	CHECK(!info.inactive_present);
	CHECK_EQ(info.event_nr, 0);
	text = t_live_text(md);
	CHECK_STR(text, t_fmt("0 512 linear %s 0\n", A));
	free(text);
	CHECK_EQ(dm_md_resume(md, DM_SUSPEND_NOLOCKFS), 0);
	dm_md_get_info(md, &info);
	CHECK(!info.suspended);
	return T_PASS;
}

static int test_reload_overrunning_striped_fails_at_resume(void)
{
	struct mapped_device *md = dax_md();

	CHECK_EQ(load_text(md, t_fmt("0 1024 striped 2 8 %s 0 %s 8\n", A, B)), 0);
	CHECK_EQ(dm_md_resume(md, DM_SUSPEND_NOLOCKFS), -EINVAL);
	CHECK_MSG_HAS(t_fmt("target 0 (striped): %s too small for target: start=8, len=512", B));
	return T_PASS;
}

static int test_load_unaligned_linear_offset_fails(void)
{
	struct mapped_device *md = t_md();

	devs();
	CHECK_EQ(load_text(md, t_fmt("0 8 linear %s 1\n", A)), -EINVAL);
	CHECK_MSG(t_fmt("test: a DAX table must be page-aligned: target 0 (linear): %s area at "
			"sector 1 (8 sectors) is not page-aligned", A));
	return T_PASS;
}

static int test_load_unaligned_boundary_fails(void)
{
	struct mapped_device *md = t_md();

	devs();
	CHECK_EQ(load_text(md, t_fmt("0 12 linear %s 0\n12 12 linear %s 16\n", A, A)), -EINVAL);
	CHECK_MSG("test: a DAX table must be page-aligned: target 0 (linear): sectors 0+12 do "
		  "not start and end on a page boundary");
	return T_PASS;
}

static int test_load_unaligned_chunk_fails(void)
{
	struct mapped_device *md = t_md();

	devs();
	CHECK_EQ(load_text(md, t_fmt("0 48 striped 2 12 %s 0 %s 0\n", A, B)), -EINVAL);
	CHECK_MSG("test: a DAX table must be page-aligned: target 0 (striped): chunk size 12 "
		  "is not a multiple of a page (8 sectors)");
	return T_PASS;
}

static int test_load_unaligned_non_dax_table_succeeds(void)
{
	struct mapped_device *md = t_md();

	devs();
	CHECK_EQ(t_make_live(md, t_fmt("0 12 linear %s 1\n12 5 zero\n", A)), 0);
	return T_PASS;
}

static int test_load_table_of_other_device_fails(void)
{
	struct mapped_device *md = t_md(), *other = t_md();
	struct dm_table *t;

	CHECK_EQ(dm_table_parse(other, "0 8 zero\n", "test", &t), 0);
	CHECK_EQ(dm_md_load(md, t), -EINVAL);
	dm_table_put(&t);
	return T_PASS;
}

static int test_clear_drops_inactive_table(void)
{
	struct mapped_device *md = dax_md();
	struct dm_md_info info;
	char *text;

	CHECK_EQ(load_text(md, "0 512 error\n"), 0);
	CHECK_EQ(dm_md_clear(md), 0);
	dm_md_get_info(md, &info);
	CHECK(!info.inactive_present);
	CHECK_EQ(dm_md_resume(md, 0), 0);
	text = t_live_text(md);
	CHECK_STR(text, t_fmt("0 512 linear %s 0\n", A));
	free(text);
	return T_PASS;
}

/* table_clear answers 0 whether or not a table was staged. */
static int test_clear_without_inactive_succeeds(void)
{
	struct mapped_device *md = t_md();
	struct dm_md_info info;

	CHECK_EQ(dm_md_clear(md), 0);
	CHECK_EQ(dm_md_clear(md), 0);
	dm_md_get_info(md, &info);
	CHECK(!info.inactive_present && !info.live_present);
	return T_PASS;
}

static int test_load_replaces_staged_table(void)
{
	struct mapped_device *md = dax_md();
	struct dm_table *t;
	char *text;

	CHECK_EQ(load_text(md, "0 512 error\n"), 0);
	CHECK_EQ(load_text(md, t_fmt("0 8 linear %s 0\n", B)), 0);
	t = dm_md_get_inactive_table(md);
	CHECK(t);
	text = dm_table_text(t);
	dm_table_put(&t);
	CHECK_STR(text, t_fmt("0 8 linear %s 0\n", B));
	free(text);
	return T_PASS;
}

static int test_resume_without_staged_table_is_noop(void)
{
	struct mapped_device *md = dax_md();
	struct dm_md_info info;

	CHECK_EQ(dm_md_resume(md, 0), 0);
	dm_md_get_info(md, &info);
	CHECK(!info.suspended);
	return T_PASS;
}

/* The event number counts dm_table_event (targets' events), not swaps. */
static int test_event_nr_starts_at_0_and_ignores_swaps(void)
{
	struct mapped_device *md = dax_md();
	struct dm_md_info info;

	for (int i = 0; i < 3; i++)
		CHECK_EQ(t_make_live(md, "0 512 error\n"), 0);
	dm_md_get_info(md, &info);
	CHECK_EQ(info.event_nr, 0);
	return T_PASS;
}

/* stripe_end_io: an error on a device marks every stripe on it and raises
 * an event while its count is below DM_IO_ERROR_THRESHOLD (15). */
static int test_event_nr_counts_stripe_errors_up_to_the_threshold(void)
{
	struct mapped_device *md = t_md();
	struct dm_md_info info;
	struct dm_table *t;
	unsigned char buf[512];
	char *text;

	devs();
	CHECK_EQ(t_make_live(md, t_fmt("0 48 striped 3 8 %s 0 %s 0 %s 128\n", A, B, A)), 0);
	CHECK_EQ(dax_badblocks_add(dm_md_find_device(md, B), 0, 1), 0);
	for (int i = 0; i < 20; i++)     /* chunk 1 lies on B */
		CHECK_EQ(dm_submit_bio(md, DAX_REQ_READ, 0, 8 * 512, buf, sizeof(buf)), -EIO);
	dm_md_get_info(md, &info);
	CHECK_EQ(info.event_nr, 14);
	CHECK_EQ(dax_badblocks_add(dm_md_find_device(md, A), 128, 1), 0);
	CHECK_EQ(dm_submit_bio(md, DAX_REQ_READ, 0, 0, buf, sizeof(buf)), 0);
	CHECK_EQ(dm_submit_bio(md, DAX_REQ_READ, 0, 16 * 512, buf, sizeof(buf)), -EIO);
	dm_md_get_info(md, &info);
	CHECK_EQ(info.event_nr, 16);      /* stripes 0 and 2 share device A */
	t = dm_md_get_live_table(md);
	text = dm_table_status_text(t);
	dm_table_put(&t);
	CHECK_STR(text, t_fmt("0 48 striped 3 %s %s %s 1 DDD\n", A, B, A));
	free(text);
	return T_PASS;
}

static int test_remove_of_an_open_device_is_ebusy(void)
{
	struct mapped_device *md = dax_md();
	struct dm_md_info info;

	dm_md_open(md);
	CHECK_EQ(dm_md_remove(md, 0), -EBUSY);
	CHECK_MSG("test: device is open (open count 1)");
	dm_md_get_info(md, &info);
	CHECK(!info.deferred_remove);
	CHECK_EQ(load_text(md, "0 512 error\n"), 0);
	dm_md_close(md);
	return T_PASS;
}

static int test_deferred_remove_happens_at_the_last_close(void)
{
	struct mapped_device *md = dax_md();
	struct dm_md_info info;

	dm_md_open(md);
	dm_md_open(md);
	CHECK_EQ(dm_md_remove(md, DM_REMOVE_DEFERRED), 0);
	dm_md_get_info(md, &info);
	CHECK(info.deferred_remove);
	dm_md_close(md);
	CHECK_EQ(dm_md_suspend(md, DM_SUSPEND_NOLOCKFS), 0);    /* still there */
	CHECK_EQ(dm_md_resume(md, DM_SUSPEND_NOLOCKFS), 0);
	dm_md_close(md);
	CHECK_EQ(dm_md_suspend(md, DM_SUSPEND_NOLOCKFS), -ENXIO);
	CHECK_MSG("test: the device was removed");
	CHECK_EQ(dm_md_remove(md, 0), -ENXIO);
	return T_PASS;
}

static int test_remove_of_a_closed_device_removes_it(void)
{
	struct mapped_device *md = dax_md();
	char buf[512];

	CHECK_EQ(dm_md_remove(md, 0), 0);
	CHECK_EQ(load_text(md, "0 512 error\n"), -ENXIO);
	CHECK_EQ(dm_md_resume(md, 0), -ENXIO);
	/* what was in flight through it is not cut off */
	CHECK_EQ(dm_submit_bio(md, DAX_REQ_READ, 0, 0, buf, sizeof(buf)), 0);
	return T_PASS;
}

static int test_uuid_is_set_once(void)
{
	struct mapped_device *md = t_md();
	struct dm_md_info info;

	CHECK_EQ(dm_md_set_uuid(md, ""), -EINVAL);
	CHECK_EQ(dm_md_set_uuid(md, "DAXFS-1"), 0);
	CHECK_EQ(dm_md_set_uuid(md, "DAXFS-2"), -EBUSY);
	dm_md_get_info(md, &info);
	CHECK_STR(info.uuid, "DAXFS-1");
	return T_PASS;
}

static int test_info_text_follows_states(void)
{
	struct mapped_device *md = t_md();
	char *text;

	devs();
	text = dm_md_info_text(md);
	CHECK_STR(text, "Name:              test\nState:             ACTIVE\n"
		  "Read Ahead:        256\nTables present:    None\nOpen count:        0\n"
		  "Event number:      0\nMajor, minor:      0, 0\nNumber of targets: 0\n\n");
	free(text);
	CHECK_EQ(load_text(md, t_fmt("0 512 linear %s 0\n", A)), 0);
	text = dm_md_info_text(md);
	CHECK_STR(text, "Name:              test\nState:             ACTIVE\n"
		  "Read Ahead:        256\nTables present:    INACTIVE\nOpen count:        0\n"
		  "Event number:      0\nMajor, minor:      0, 0\nNumber of targets: 0\n\n");
	free(text);
	CHECK_EQ(dm_md_resume(md, 0), 0);
	CHECK_EQ(load_text(md, "0 8 error\n"), 0);
	CHECK_EQ(dm_md_suspend(md, 0), 0);
	dm_md_open(md);
	dm_md_set_devt(md, 0, 57);
	CHECK_EQ(dm_md_set_uuid(md, "DAXFS-0f2ae8b4-7d43-4c34-9a3f-0c9b2f7b7d11"), 0);
	CHECK_EQ(dm_md_remove(md, DM_REMOVE_DEFERRED), 0);
	text = dm_md_info_text(md);
	CHECK_STR(text, "Name:              test\nState:             SUSPENDED (DEFERRED REMOVE)\n"
		  "Read Ahead:        256\nTables present:    LIVE & INACTIVE\n"
		  "Open count:        1\nEvent number:      0\nMajor, minor:      0, 57\n"
		  "Number of targets: 1\nUUID: DAXFS-0f2ae8b4-7d43-4c34-9a3f-0c9b2f7b7d11\n\n");
	free(text);
	CHECK_EQ(dm_md_resume(md, 0), 0);
	dm_md_close(md);
	return T_PASS;
}

struct hooks {
	int freezes, thaws, swaps;
	int freeze_ret;
};

static int hook_freeze(void *data)
{
	struct hooks *h = data;

	h->freezes++;
	return h->freeze_ret;
}

static void hook_thaw(void *data)
{
	((struct hooks *)data)->thaws++;
}

static void hook_swap(void *data)
{
	((struct hooks *)data)->swaps++;
}

static const struct dm_lockfs_ops lockfs = { .freeze = hook_freeze, .thaw = hook_thaw };

static int test_lockfs_suspend_freezes_and_resume_thaws(void)
{
	struct mapped_device *md = dax_md();
	struct hooks h = { 0 };

	dm_md_set_lockfs(md, &lockfs, &h);
	CHECK_EQ(dm_md_suspend(md, 0), 0);
	CHECK_EQ(h.freezes, 1);
	CHECK_EQ(dm_md_suspend(md, 0), 0);
	CHECK_EQ(h.freezes, 1);
	CHECK_EQ(h.thaws, 0);
	CHECK_EQ(dm_md_resume(md, 0), 0);
	CHECK_EQ(h.thaws, 1);
	dm_md_set_lockfs(md, NULL, NULL);
	return T_PASS;
}

static int test_nolockfs_suspend_does_not_freeze(void)
{
	struct mapped_device *md = dax_md();
	struct hooks h = { 0 };

	dm_md_set_lockfs(md, &lockfs, &h);
	CHECK_EQ(dm_md_suspend(md, DM_SUSPEND_NOLOCKFS), 0);
	CHECK_EQ(dm_md_resume(md, 0), 0);
	CHECK_EQ(h.freezes, 0);
	CHECK_EQ(h.thaws, 0);
	dm_md_set_lockfs(md, NULL, NULL);
	return T_PASS;
}

static int test_failed_freeze_fails_suspend(void)
{
	struct mapped_device *md = dax_md();
	struct hooks h = { .freeze_ret = -EBUSY };
	struct dm_md_info info;

	dm_md_set_lockfs(md, &lockfs, &h);
	CHECK_EQ(dm_md_suspend(md, 0), -EBUSY);
	dm_md_get_info(md, &info);
	CHECK(!info.suspended);
	dm_md_set_lockfs(md, NULL, NULL);
	return T_PASS;
}

static int test_swap_hook_runs_after_each_swap(void)
{
	struct mapped_device *md = dax_md();
	struct hooks h = { 0 };

	dm_md_set_swap_hook(md, hook_swap, &h);
	CHECK_EQ(t_make_live(md, "0 512 error\n"), 0);
	CHECK_EQ(dm_md_resume(md, 0), 0);
	CHECK_EQ(h.swaps, 1);
	dm_md_set_swap_hook(md, NULL, NULL);
	return T_PASS;
}

struct hook_md {
	struct mapped_device *md;
	int bio_ret;
	uint64_t event_nr;
	bool live_is_error;
};

static int freeze_with_bio(void *data)
{
	struct hook_md *h = data;
	char buf[512] = { 0 };

	/* a filesystem syncs through the device while it freezes */
	h->bio_ret = dm_submit_bio(h->md, DAX_REQ_WRITE, DM_BIO_FUA, 0, buf, sizeof(buf));
	return 0;
}

static const struct dm_lockfs_ops bio_lockfs = { .freeze = freeze_with_bio };

static int test_freeze_hook_may_submit_bios(void)
{
	struct mapped_device *md = dax_md();
	struct hook_md h = { .md = md, .bio_ret = 1 };

	dm_md_set_lockfs(md, &bio_lockfs, &h);
	CHECK_EQ(dm_md_suspend(md, 0), 0);
	CHECK_EQ(h.bio_ret, 0);
	CHECK_EQ(dm_md_resume(md, 0), 0);
	dm_md_set_lockfs(md, NULL, NULL);
	return T_PASS;
}

static void swap_reads_state(void *data)
{
	struct hook_md *h = data;
	struct dm_md_info info;
	struct dm_table *t = dm_md_get_live_table(h->md);
	struct dm_target_info ti;

	dm_md_get_info(h->md, &info);
	h->event_nr = info.event_nr;
	h->live_is_error = t && dm_table_target_info(t, 0, &ti) == 0 &&
			   strcmp(ti.type, "error") == 0;
	dm_table_put(&t);
}

static int test_swap_hook_sees_new_live_table(void)
{
	struct mapped_device *md = dax_md();
	struct hook_md h = { .md = md };

	dm_md_set_swap_hook(md, swap_reads_state, &h);
	CHECK_EQ(t_make_live(md, "0 512 error\n"), 0);
	CHECK_EQ(h.event_nr, 0);
	CHECK(h.live_is_error);
	dm_md_set_swap_hook(md, NULL, NULL);
	return T_PASS;
}

static int test_suspended_nowait_bio_is_eagain(void)
{
	struct mapped_device *md = dax_md();
	char buf[512];

	CHECK_EQ(dm_md_suspend(md, DM_SUSPEND_NOLOCKFS), 0);
	CHECK_EQ(dm_submit_bio(md, DAX_REQ_READ, DM_BIO_NOWAIT, 0, buf, sizeof(buf)), -EAGAIN);
	CHECK_EQ(dm_md_resume(md, 0), 0);
	CHECK_EQ(dm_submit_bio(md, DAX_REQ_READ, DM_BIO_NOWAIT, 0, buf, sizeof(buf)), 0);
	return T_PASS;
}

static int test_suspend_does_not_block_dax_access(void)
{
	struct mapped_device *md = dax_md();
	void *kaddr;

	CHECK_EQ(dm_md_suspend(md, DM_SUSPEND_NOLOCKFS), 0);
	CHECK_EQ(dm_dax_direct_access(md, 3, 1, DAX_ACCESS, &kaddr, NULL), 1);
	CHECK_EQ(dm_md_resume(md, 0), 0);
	return T_PASS;
}

struct bio_thread {
	struct mapped_device *md;
	int ret;
	char buf[512];
};

static void *write_bio(void *arg)
{
	struct bio_thread *b = arg;

	b->ret = dm_submit_bio(b->md, DAX_REQ_WRITE, 0, 4096, b->buf, sizeof(b->buf));
	return NULL;
}

static unsigned waiting(struct mapped_device *md)
{
	unsigned n;

	pthread_mutex_lock(&md->io_lock);
	n = md->waiting;
	pthread_mutex_unlock(&md->io_lock);
	return n;
}

/* §7 item 15: suspend, submit a write, load error, resume -> the write fails. */
static int test_bio_queued_while_suspended_runs_against_new_table(void)
{
	struct mapped_device *md = dax_md();
	struct bio_thread b = { .md = md, .ret = 1 };
	struct timespec start, now;
	pthread_t th;

	CHECK_EQ(dm_md_suspend(md, DM_SUSPEND_NOLOCKFS), 0);
	CHECK_EQ(pthread_create(&th, NULL, write_bio, &b), 0);
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (waiting(md) == 0) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec > 10) {
			dm_md_resume(md, 0);
			pthread_join(th, NULL);
			CHECK(!"the bio never waited");
		}
		sched_yield();
	}
	CHECK_EQ(load_text(md, "0 512 error\n"), 0);
	CHECK_EQ(dm_md_resume(md, DM_SUSPEND_NOLOCKFS), 0);
	pthread_join(th, NULL);
	CHECK_EQ(b.ret, -EIO);
	return T_PASS;
}

struct killable_read {
	struct mapped_device *md;
	unsigned flags;
	atomic_bool interrupted;
	int ret;
	char buf[512];
};

static bool read_interrupted(void *arg)
{
	return atomic_load(&((struct killable_read *)arg)->interrupted);
}

static const struct daxfs_intr_ops read_intr = { .pending = read_interrupted };

static void *killable_read_main(void *arg)
{
	struct killable_read *k = arg;

	daxfs_intr_set(&read_intr, k);
	k->ret = dm_submit_bio(k->md, DAX_REQ_READ, k->flags, 0, k->buf, sizeof(k->buf));
	daxfs_intr_set(NULL, NULL);
	return NULL;
}

/* Only a bio that asked for it gives up when its caller is interrupted;
 * the others wait for resume as queued bios do. */
static int test_interrupted_killable_bio_gives_up_while_suspended(void)
{
	struct mapped_device *md = dax_md();
	struct killable_read k = { .md = md, .flags = DM_BIO_KILLABLE, .ret = 1 };
	struct killable_read plain = { .md = md, .flags = 0, .ret = 1 };
	pthread_t th, th2;

	CHECK_EQ(dm_md_suspend(md, DM_SUSPEND_NOLOCKFS), 0);
	CHECK_EQ(pthread_create(&th, NULL, killable_read_main, &k), 0);
	CHECK_EQ(pthread_create(&th2, NULL, killable_read_main, &plain), 0);
	for (unsigned i = 0; waiting(md) < 2; i++) {
		CHECK(i < 1000000);
		sched_yield();
	}
	atomic_store(&k.interrupted, true);
	atomic_store(&plain.interrupted, true);
	dm_md_interrupt_waits(md);
	pthread_join(th, NULL);
	CHECK_EQ(k.ret, -EINTR);
	CHECK_EQ(waiting(md), 1);
	CHECK_EQ(dm_md_resume(md, 0), 0);
	pthread_join(th2, NULL);
	CHECK_EQ(plain.ret, 0);
	return T_PASS;
}

/* What dax_md opened, and nothing a table since named. */
static bool holds_a_alone(struct mapped_device *md)
{
	return dm_md_num_devices(md) == 1 && dm_md_find_device(md, A) && !dm_md_find_device(md, B);
}

static int test_clear_closes_the_devices_only_the_staged_table_held(void)
{
	struct mapped_device *md = dax_md();

	CHECK_EQ(load_text(md, t_fmt("0 512 linear %s 0\n", B)), 0);
	CHECK_EQ(dm_md_num_devices(md), 2);
	CHECK_EQ(dm_md_clear(md), 0);
	CHECK(holds_a_alone(md));
	return T_PASS;
}

static int test_refused_load_closes_the_devices_it_opened(void)
{
	struct mapped_device *md = dax_md();

	/* parsed, then refused by the type rule */
	CHECK_EQ(load_text(md, t_fmt("0 256 linear %s 0\n256 256 error\n", B)), -EINVAL);
	CHECK(holds_a_alone(md));
	/* refused by the parser after B's line */
	CHECK_EQ(load_text(md, t_fmt("0 256 linear %s 0\n264 256 zero\n", B)), -EINVAL);
	CHECK(holds_a_alone(md));
	return T_PASS;
}

static int test_load_over_a_staged_table_closes_its_devices(void)
{
	struct mapped_device *md = dax_md();

	CHECK_EQ(load_text(md, t_fmt("0 512 linear %s 0\n", B)), 0);
	CHECK_EQ(load_text(md, t_fmt("0 512 linear %s 0\n", A)), 0);
	CHECK(holds_a_alone(md));
	return T_PASS;
}

static int test_refused_resume_closes_the_devices_of_the_staged_table(void)
{
	struct mapped_device *md = dax_md();

	CHECK_EQ(load_text(md, t_fmt("0 1024 linear %s 0\n", B)), 0);
	CHECK(dm_md_resume(md, DM_SUSPEND_NOLOCKFS) < 0);
	CHECK(holds_a_alone(md));
	return T_PASS;
}

static int test_devices_a_live_table_used_stay_open_and_keep_their_index(void)
{
	struct mapped_device *md = dax_md();

	CHECK_EQ(t_make_live(md, t_fmt("0 512 linear %s 0\n", B)), 0);
	CHECK_EQ(t_make_live(md, t_fmt("0 512 linear %s 0\n", A)), 0);
	CHECK_EQ(load_text(md, "0 512 error\n"), 0);
	CHECK_EQ(dm_md_clear(md), 0);
	CHECK_EQ(dm_md_num_devices(md), 2);
	CHECK(dm_md_device(md, 1) == dm_md_find_device(md, B));
	return T_PASS;
}

static int test_table_outlives_destroyed_device(void)
{
	struct mapped_device *md = NULL;
	struct dm_table *t;
	char *text;

	devs();
	CHECK_EQ(dm_md_create("gone", &md), 0);
	CHECK_EQ(t_make_live(md, t_fmt("0 512 linear %s 0\n", A)), 0);
	t = dm_md_get_live_table(md);
	dm_md_destroy(&md);
	CHECK(md == NULL);
	text = dm_table_text(t);
	CHECK_STR(text, t_fmt("0 512 linear %s 0\n", A));
	free(text);
	CHECK_EQ(dm_table_direct_access(t, 2, 4, DAX_ACCESS, NULL, NULL, NULL), 4);
	dm_table_put(&t);
	return T_PASS;
}

static int test_create_without_name_fails(void)
{
	struct mapped_device *md;

	CHECK_EQ(dm_md_create("", &md), -EINVAL);
	CHECK(md == NULL);
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_load_bare_error_on_dax_device_succeeds),
	T_CASE(test_load_error_with_device_on_dax_device_fails),
	T_CASE(test_load_linear_error_mix_on_dax_device_fails),
	T_CASE(test_load_zero_alone_on_dax_device_succeeds),
	T_CASE(test_load_zero_beside_device_on_dax_device_fails),
	T_CASE(test_load_dax_table_on_bio_device_upgrades),
	T_CASE(test_load_mix_on_fresh_device_is_bio_type),
	T_CASE(test_first_load_checks_device_ranges),
	T_CASE(test_reload_overrunning_device_fails_at_resume),
	T_CASE(test_reload_overrunning_striped_fails_at_resume),
	T_CASE(test_load_unaligned_linear_offset_fails),
	T_CASE(test_load_unaligned_boundary_fails),
	T_CASE(test_load_unaligned_chunk_fails),
	T_CASE(test_load_unaligned_non_dax_table_succeeds),
	T_CASE(test_load_table_of_other_device_fails),
	T_CASE(test_clear_drops_inactive_table),
	T_CASE(test_clear_without_inactive_succeeds),
	T_CASE(test_load_replaces_staged_table),
	T_CASE(test_resume_without_staged_table_is_noop),
	T_CASE(test_event_nr_starts_at_0_and_ignores_swaps),
	T_CASE(test_event_nr_counts_stripe_errors_up_to_the_threshold),
	T_CASE(test_remove_of_an_open_device_is_ebusy),
	T_CASE(test_deferred_remove_happens_at_the_last_close),
	T_CASE(test_remove_of_a_closed_device_removes_it),
	T_CASE(test_uuid_is_set_once),
	T_CASE(test_info_text_follows_states),
	T_CASE(test_lockfs_suspend_freezes_and_resume_thaws),
	T_CASE(test_nolockfs_suspend_does_not_freeze),
	T_CASE(test_failed_freeze_fails_suspend),
	T_CASE(test_swap_hook_runs_after_each_swap),
	T_CASE(test_freeze_hook_may_submit_bios),
	T_CASE(test_swap_hook_sees_new_live_table),
	T_CASE(test_suspended_nowait_bio_is_eagain),
	T_CASE(test_suspend_does_not_block_dax_access),
	T_CASE(test_bio_queued_while_suspended_runs_against_new_table),
	T_CASE(test_interrupted_killable_bio_gives_up_while_suspended),
	T_CASE(test_clear_closes_the_devices_only_the_staged_table_held),
	T_CASE(test_refused_load_closes_the_devices_it_opened),
	T_CASE(test_load_over_a_staged_table_closes_its_devices),
	T_CASE(test_refused_resume_closes_the_devices_of_the_staged_table),
	T_CASE(test_devices_a_live_table_used_stay_open_and_keep_their_index),
	T_CASE(test_table_outlives_destroyed_device),
	T_CASE(test_create_without_name_fails),
};

T_MAIN(cases)
