/* test_concurrency.c - readers of the DAX and bio paths during 1000 table swaps */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#include "fixture.h"

/*
 * Two tables over the same 64 pages, told apart by the bytes they reach:
 *   T1: "0 512 linear A 0"            page p -> A page p, up to the end;
 *   T2: "0 512 striped 2 8 B 0 C 0"   page p -> (B if p even, else C) page p/2,
 *                                     one page at a time (chunk = 1 page).
 * Every result must come wholly from one of them.
 */
#define PAGES 64
#define SWAPS 1000

static const char *A, *B, *C;
static atomic_bool done;
static atomic_int started;

struct reader {
	pthread_t th;
	struct mapped_device *md;
	uint64_t seed;
	atomic_ulong iterations;
	unsigned long seen[2];
	const char *_Atomic failure;
};

static uint64_t next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint64_t word_at(const void *page, unsigned i)
{
	return ((const uint64_t *)page)[i];
}

/* Which table a page read at md page p came from: 0 (T1), 1 (T2), -1 neither. */
static int page_source(const void *page, uint64_t p)
{
	unsigned tag = (unsigned)(word_at(page, 0) >> 48);

	if (tag == 1 && word_at(page, 0) == t_word(1, p * 4096) &&
	    word_at(page, 511) == t_word(1, p * 4096 + 511 * 8))
		return 0;
	if (tag == 2 + p % 2 && word_at(page, 0) == t_word(tag, p / 2 * 4096) &&
	    word_at(page, 511) == t_word(tag, p / 2 * 4096 + 511 * 8))
		return 1;
	return -1;
}

static void *dax_reader(void *arg)
{
	struct reader *r = arg;

	atomic_fetch_add(&started, 1);
	while (!atomic_load(&done) && !r->failure) {
		uint64_t p = next(&r->seed) % PAGES;
		void *kaddr;
		long ret = dm_dax_direct_access(r->md, p, 4, DAX_ACCESS, &kaddr, NULL);
		int src;

		if (ret < 1) {
			r->failure = "direct_access failed";
			break;
		}
		src = page_source(kaddr, p);
		if (src < 0 || ret != (src == 0 ? (PAGES - (long)p < 4 ? PAGES - (long)p : 4) : 1)) {
			r->failure = "direct_access result from neither table";
			break;
		}
		for (long i = 1; i < ret; i++)
			if (page_source((char *)kaddr + i * 4096, p + (uint64_t)i) != src)
				r->failure = "direct_access pages from two tables";
		if (r->failure)
			break;
		r->seen[src]++;
		atomic_fetch_add(&r->iterations, 1);
	}
	return NULL;
}

static void *resolve_reader(void *arg)
{
	struct reader *r = arg;
	struct dm_resolution res;

	atomic_fetch_add(&started, 1);
	while (!atomic_load(&done) && !r->failure) {
		uint64_t p = next(&r->seed) % PAGES;
		long ret = dm_dax_resolve(r->md, p, 1, &res);
		int src;

		if (ret != 1) {
			r->failure = "resolve failed";
			break;
		}
		src = page_source(res.kaddr, p);
		if (src < 0 || strcmp(res.target_type, src == 0 ? "linear" : "striped") != 0 ||
		    res.stripe != (src == 0 ? -1 : (int)(p % 2))) {
			r->failure = "resolve steps and bytes from different tables";
			break;
		}
		r->seen[src]++;
		atomic_fetch_add(&r->iterations, 1);
	}
	return NULL;
}

static void *bio_reader(void *arg)
{
	static _Thread_local unsigned char buf[3 * 4096];
	struct reader *r = arg;

	atomic_fetch_add(&started, 1);
	while (!atomic_load(&done) && !r->failure) {
		uint64_t p = next(&r->seed) % (PAGES - 2);
		int src;

		if (dm_submit_bio(r->md, DAX_REQ_READ, 0, p * 4096, buf, sizeof(buf))) {
			r->failure = "bio failed";
			break;
		}
		src = page_source(buf, p);
		if (src < 0 || page_source(buf + 4096, p + 1) != src ||
		    page_source(buf + 8192, p + 2) != src) {
			r->failure = "bio bytes from two tables or neither";
			break;
		}
		r->seen[src]++;
		atomic_fetch_add(&r->iterations, 1);
	}
	return NULL;
}

/*
 * Waits until every reader has finished two more reads, so the second began
 * after the last swap: each reader then sees both tables, whatever the
 * scheduler does. False if a reader failed or the deadline passed.
 */
static bool readers_progress(struct reader *readers, unsigned n)
{
	unsigned long base[8];
	struct timespec start, now;

	for (unsigned i = 0; i < n; i++)
		base[i] = atomic_load(&readers[i].iterations);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (unsigned i = 0; i < n; i++) {
		while (atomic_load(&readers[i].iterations) < base[i] + 2) {
			if (readers[i].failure)
				return false;
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec - start.tv_sec > 20)
				return false;
			sched_yield();
		}
	}
	return true;
}

static int test_readers_see_whole_tables_during_swaps(void)
{
	struct mapped_device *md = t_md();
	void *(*fns[3])(void *) = { dax_reader, resolve_reader, bio_reader };
	struct reader readers[3];
	const char *tables[2];
	int swap_err = 0;

	A = t_pmem("A", PAGES, 1);
	B = t_pmem("B", PAGES / 2, 2);
	C = t_pmem("C", PAGES / 2, 3);
	CHECK(A && B && C);
	tables[0] = strdup(t_fmt("0 512 linear %s 0\n", A));
	tables[1] = strdup(t_fmt("0 512 striped 2 8 %s 0 %s 0\n", B, C));
	CHECK_EQ(t_make_live(md, tables[0]), 0);
	atomic_store(&done, false);
	atomic_store(&started, 0);
	for (unsigned i = 0; i < 3; i++) {
		readers[i] = (struct reader){ .md = md, .seed = 0x9e3779b97f4a7c15ull * (i + 1) };
		CHECK_EQ(pthread_create(&readers[i].th, NULL, fns[i], &readers[i]), 0);
	}
	while (atomic_load(&started) < 3)
		sched_yield();
	/* every reader sees T1 before the first swap and T2 after it; later
	 * swaps run freely against the readers, with a pause now and then so
	 * that no reader is starved of the whole run */
	if (readers_progress(readers, 3)) {
		for (int i = 1; i <= SWAPS && !swap_err; i++) {
			swap_err = t_make_live(md, tables[i % 2]);
			if (!swap_err && (i == 1 || i % 25 == 0) && !readers_progress(readers, 3))
				break;
		}
	}
	atomic_store(&done, true);
	for (unsigned i = 0; i < 3; i++)
		pthread_join(readers[i].th, NULL);
	free((void *)tables[0]);
	free((void *)tables[1]);
	CHECK_EQ(swap_err, 0);
	for (unsigned i = 0; i < 3; i++) {
		printf("  reader %u: %lu reads, %lu from T1, %lu from T2%s%s\n", i,
		       readers[i].iterations, readers[i].seen[0], readers[i].seen[1],
		       readers[i].failure ? ": " : "", readers[i].failure ? readers[i].failure : "");
		CHECK(readers[i].failure == NULL);
		CHECK(readers[i].seen[0] > 0 && readers[i].seen[1] > 0);
	}
	{
		struct dm_md_info info;

		dm_md_get_info(md, &info);
		CHECK_EQ(info.event_nr, 0);     /* swaps are no events */
	}
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_readers_see_whole_tables_during_swaps),
};

T_MAIN(cases)
