/* test_concurrency.c - direct_access, bio and poison injection from many threads */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "daxfs/err.h"
#include "fixture.h"

#define THREADS 4
#define ROUNDS 2000
#define PAGES 64

struct worker {
	struct dax_device *dev;
	int id;
	int failed;
};

/* Each thread owns pages id, id + THREADS, ...: it writes a pattern through
 * one path and reads it back through the other, so any torn or misdirected
 * access shows up as a mismatch. */
static void *work(void *arg)
{
	struct worker *w = arg;
	unsigned char buf[64], *k;

	for (int r = 0; r < ROUNDS && !w->failed; r++) {
		uint64_t pg = (uint64_t)(w->id + THREADS * (r % (PAGES / THREADS)));

		memset(buf, (w->id << 4) | (r & 15), sizeof(buf));
		if (dax_device_rw(w->dev, DAX_REQ_WRITE, 0, pg * PG + 8, buf, sizeof(buf)) != 0 ||
		    dax_direct_access(w->dev, pg, 1, DAX_ACCESS, (void **)&k, NULL) != 1 ||
		    memcmp(k + 8, buf, sizeof(buf)) != 0)
			w->failed = 1;
	}
	return NULL;
}

static int test_concurrent_rw_and_direct_access_agree(void)
{
	struct dax_device *dev = fixture_dev("pmem", PAGES, 0);
	struct worker w[THREADS];
	pthread_t th[THREADS];
	struct dax_device_stats st;

	CHECK(dev);
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .dev = dev, .id = i };
		CHECK_EQ(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < THREADS; i++)
		CHECK_EQ(w[i].failed, 0);
	dax_device_get_stats(dev, &st);
	CHECK_EQ(st.direct_accesses, THREADS * ROUNDS);
	CHECK_EQ(st.writes, THREADS * ROUNDS);
	CHECK_EQ(st.write_bytes, THREADS * ROUNDS * 64);
	CHECK_EQ(st.errors, 0);
	return T_PASS;
}

struct injector {
	struct dax_device *dev;
	atomic_bool stop;
};

static void *inject(void *arg)
{
	struct injector *in = arg;

	while (!atomic_load(&in->stop)) {
		dax_badblocks_add(in->dev, 8 * 8, 8);
		dax_badblocks_clear(in->dev, 8 * 8, 8);
	}
	return NULL;
}

static int test_concurrent_poison_injection_only_affects_bad_page(void)
{
	struct injector in = { .dev = fixture_dev("pmem", 16, 0) };
	pthread_t th;
	long ret;

	CHECK(in.dev);
	CHECK_EQ(pthread_create(&th, NULL, inject, &in), 0);
	for (int r = 0; r < ROUNDS * 5; r++) {
		/* page 8 flips between good and poisoned; its neighbours never do */
		ret = dax_direct_access(in.dev, 8, 1, DAX_ACCESS, NULL, NULL);
		if (ret != 1 && ret != -EHWPOISON)
			break;
		ret = dax_direct_access(in.dev, 0, 8, DAX_ACCESS, NULL, NULL);
		if (ret != 8)
			break;
		ret = dax_direct_access(in.dev, 0, 16, DAX_RECOVERY_WRITE, NULL, NULL);
		if (ret != 8 && ret != 16)
			break;
	}
	atomic_store(&in.stop, true);
	pthread_join(th, NULL);
	CHECK(ret == 8 || ret == 16);
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_concurrent_rw_and_direct_access_agree),
	T_CASE(test_concurrent_poison_injection_only_affects_bad_page),
};

T_MAIN(cases)
