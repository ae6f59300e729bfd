/* test_mc.c - machine-check-safe access: real SIGBUS from truncated backing files */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "daxfs/err.h"
#include "fixture.h"

#define NPAGES 8

/* An 8-page device over a file filled with 0x11, whose file is then cut to
 * keep pages: the mapping still spans 8 pages, the pages past the cut SIGBUS. */
static struct dax_device *cut_dev(uint64_t keep, char **kaddr)
{
	struct dax_device *dev = fixture_dev("pmem", NPAGES, 0x11);
	void *k = NULL;

	if (!dev || dax_direct_access(dev, 0, NPAGES, DAX_ACCESS, &k, NULL) != NPAGES)
		return NULL;
	if (truncate(dax_device_path(dev), (off_t)(keep * PG)) < 0)
		return NULL;
	if (kaddr)
		*kaddr = k;
	return dev;
}

static bool all(const unsigned char *p, size_t n, unsigned char c)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != c)
			return false;
	return true;
}

static int test_mc_bio_read_of_cut_page_is_eio_and_a_bad_block(void)
{
	unsigned char buf[PG];
	struct dax_badblock bb[4];
	struct dax_device *dev = cut_dev(3, NULL);

	CHECK(dev);
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_READ, 0, 5 * PG, buf, PG), -EIO);
	CHECK_MSG_HAS("page 5: SIGBUS on access: the backing file was truncated to 12288 bytes");
	CHECK_MSG_HAS(dax_device_path(dev));
	CHECK_EQ(dax_badblocks_list(dev, bb, 4), 1);
	CHECK_EQ(bb[0].sector, 5 * DAX_PAGE_SECTORS);
	CHECK_EQ(bb[0].nr_sectors, DAX_PAGE_SECTORS);
	/* the pages the file still has read as before */
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_READ, 0, 2 * PG, buf, PG), 0);
	CHECK(all(buf, PG, 0x11));
	return T_PASS;
}

static int test_mc_read_across_the_cut_records_the_first_bad_page(void)
{
	unsigned char *buf = malloc(4 * PG);
	struct dax_badblock bb[4];
	struct dax_device *dev = cut_dev(3, NULL);

	CHECK(buf);
	t_defer(free, buf);
	CHECK(dev);
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_READ, 0, PG + 100, buf, 3 * PG), -EIO);
	CHECK_EQ(dax_badblocks_list(dev, bb, 4), 1);
	CHECK_EQ(bb[0].sector, 3 * DAX_PAGE_SECTORS);
	return T_PASS;
}

static int test_mc_bio_write_and_zeroes_to_cut_page_are_eio(void)
{
	unsigned char buf[PG];
	struct dax_device *dev = cut_dev(3, NULL);

	CHECK(dev);
	memset(buf, 0x22, sizeof(buf));
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_WRITE, DAX_REQ_FUA, 4 * PG, buf, PG), -EIO);
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_WRITE_ZEROES, 0, 6 * PG, NULL, PG), -EIO);
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_WRITE, DAX_REQ_FUA, 0, buf, PG), 0);
	struct dax_device_stats st;
	dax_device_get_stats(dev, &st);
	CHECK_EQ(st.errors, 2);
	return T_PASS;
}

static int test_mc_zero_page_range_of_cut_page_is_eio(void)
{
	struct dax_device *dev = cut_dev(3, NULL);

	CHECK(dev);
	CHECK_EQ(dax_zero_page_range(dev, 7, 1), -EIO);
	CHECK_EQ(dax_zero_page_range(dev, 1, 1), 0);
	return T_PASS;
}

static int test_mc_copy_flushcache_to_cut_page_is_eio(void)
{
	unsigned char buf[2 * PG];
	struct dax_device *dev = cut_dev(3, NULL);

	CHECK(dev);
	memset(buf, 0x33, sizeof(buf));
	CHECK_EQ(dax_device_copy_flushcache(dev, 2 * PG, buf, 2 * PG), -EIO);
	CHECK_MSG_HAS("page 3");
	return T_PASS;
}

static int test_mc_direct_access_after_a_fault_is_ehwpoison(void)
{
	unsigned char buf[PG];
	struct dax_device *dev = cut_dev(3, NULL);

	CHECK(dev);
	CHECK_EQ(dax_device_rw(dev, DAX_REQ_READ, 0, 4 * PG, buf, PG), -EIO);
	CHECK_EQ(dax_direct_access(dev, 0, NPAGES, DAX_ACCESS, NULL, NULL), -EHWPOISON);
	CHECK_EQ(dax_direct_access(dev, 0, 4, DAX_ACCESS, NULL, NULL), 4);
	return T_PASS;
}

static int test_mc_copy_mc_gives_the_bytes_before_the_bad_page(void)
{
	unsigned char *buf = malloc(6 * PG);
	size_t done = 12345;
	char *k;
	struct dax_device *dev = cut_dev(4, &k);

	CHECK(buf);
	t_defer(free, buf);
	CHECK(dev);
	memset(buf, 0, 6 * PG);
	CHECK_EQ(dax_copy_mc(buf, k + PG + 10, 6 * PG, &done), -EIO);
	CHECK_EQ(done, 3 * PG - 10);
	CHECK(all(buf, done, 0x11));
	CHECK_MSG_HAS("page 4");
	return T_PASS;
}

static int test_mc_copy_mc_into_a_cut_page_is_eio(void)
{
	unsigned char buf[2 * PG];
	size_t done;
	char *k;
	struct dax_device *dev = cut_dev(3, &k);

	CHECK(dev);
	memset(buf, 0x44, sizeof(buf));
	CHECK_EQ(dax_copy_mc(k + 2 * PG, buf, 2 * PG, &done), -EIO);
	CHECK_EQ(done, PG);
	CHECK(all((unsigned char *)k + 2 * PG, PG, 0x44));
	return T_PASS;
}

static int test_mc_probe_gives_the_good_prefix(void)
{
	size_t good;
	char *k;
	struct dax_device *dev = cut_dev(5, &k);

	CHECK(dev);
	CHECK_EQ(dax_probe_mc(k + 100, 5 * PG - 100, &good), 0);
	CHECK_EQ(good, 5 * PG - 100);
	CHECK_EQ(dax_probe_mc(k + 100, 7 * PG, &good), -EIO);
	CHECK_EQ(good, 5 * PG - 100);
	CHECK_EQ(dax_probe_mc(k + 6 * PG, PG, &good), -EIO);
	CHECK_EQ(good, 0);
	return T_PASS;
}

static int test_mc_ordinary_memory_is_a_plain_memmove(void)
{
	char a[64] = "0123456789abcdef", b[64];
	size_t done;

	CHECK_EQ(dax_copy_mc(b, a, 17, &done), 0);
	CHECK_EQ(done, 17);
	CHECK(strcmp(b, a) == 0);
	CHECK_EQ(dax_copy_mc(a + 2, a, 10, NULL), 0);     /* overlapping, forward */
	CHECK(memcmp(a, "010123456789cd", 14) == 0);
	CHECK_EQ(dax_copy_mc(a, a + 2, 10, NULL), 0);     /* and backward */
	CHECK(memcmp(a, "0123456789", 10) == 0);
	CHECK_EQ(dax_probe_mc(a, sizeof(a), &done), 0);
	CHECK_EQ(done, sizeof(a));
	return T_PASS;
}

static int test_mc_overlapping_copy_inside_a_device_is_a_memmove(void)
{
	char *k;
	struct dax_device *dev = fixture_dev("pmem", 4, 0);

	CHECK(dev);
	CHECK_EQ(dax_direct_access(dev, 0, 4, DAX_ACCESS, (void **)&k, NULL), 4);
	for (size_t i = 0; i < 3 * PG; i++)
		k[i] = (char)(i % 251);
	CHECK_EQ(dax_copy_mc(k + 100, k, 2 * PG, NULL), 0);
	for (size_t i = 0; i < 2 * PG; i++)
		CHECK_EQ((unsigned char)k[100 + i], i % 251);
	return T_PASS;
}

static int test_mc_range_leaving_the_mapping_is_einval(void)
{
	char buf[2 * PG];
	char *k;
	struct dax_device *dev = fixture_dev("pmem", 2, 0);

	CHECK(dev);
	CHECK_EQ(dax_direct_access(dev, 0, 2, DAX_ACCESS, (void **)&k, NULL), 2);
	CHECK_EQ(dax_copy_mc(buf, k + PG, 2 * PG, NULL), -EINVAL);
	CHECK_MSG_HAS("runs past the mapping");
	return T_PASS;
}

/*
 * The children below run in fresh processes without a sanitizer's SIGBUS
 * handler (ASAN_OPTIONS=handle_sigbus=0), so that the device layer's handler
 * has no previous one to pass a foreign SIGBUS to and the default action is
 * what is tested.
 */
static const char *const no_asan_sigbus[] = { "ASAN_OPTIONS=handle_sigbus=0", NULL };

/* Child: a load through a cut mapping outside any guarded access. */
static int child_unguarded_load(const char *path)
{
	struct dax_device *dev = NULL;
	volatile char *k;

	if (dax_device_open(path, 0, &dev) < 0 ||
	    dax_direct_access(dev, 0, NPAGES, DAX_ACCESS, (void **)&k, NULL) != NPAGES ||
	    truncate(path, 2 * PG) < 0)
		return 2;
	return k[5 * PG] == 0x11 ? 0 : 1;
}

static int test_mc_sigbus_outside_a_guarded_access_still_kills(void)
{
	const char *args[] = { "unguarded-load", t_file("pmem", NPAGES * PG, 0x11), NULL };

	CHECK_EQ(t_reexec(no_asan_sigbus, args), 128 + SIGBUS);
	return T_PASS;
}

/* Child: a SIGBUS sent by kill, while a device is open. */
static int child_sent_sigbus(const char *path)
{
	struct dax_device *dev = NULL;

	if (dax_device_open(path, 0, &dev) < 0)
		return 2;
	kill(getpid(), SIGBUS);
	return 0;
}

static int test_mc_sent_sigbus_takes_the_default_action(void)
{
	const char *args[] = { "sent-sigbus", t_file("pmem", PG, 0), NULL };

	CHECK_EQ(t_reexec(no_asan_sigbus, args), 128 + SIGBUS);
	return T_PASS;
}

static void exit_42(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	_exit(si->si_code == BUS_ADRERR ? 42 : 43);
}

/* Child (a fresh process, so that the device layer installs its handler
 * after this one): a program's own SIGBUS handler still gets the faults that
 * are not the device layer's. */
static int child_previous_handler(const char *dev_path, const char *other)
{
	struct sigaction sa = { .sa_sigaction = exit_42, .sa_flags = SA_SIGINFO };
	struct dax_device *dev = NULL;
	volatile char *p;
	int fd;

	if (sigaction(SIGBUS, &sa, NULL) < 0 || dax_device_open(dev_path, 0, &dev) < 0)
		return 2;
	fd = open(other, O_RDONLY);
	p = fd < 0 ? MAP_FAILED : mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED || truncate(other, PG) < 0)
		return 3;
	return p[PG];
}

static int test_mc_other_sigbus_goes_to_the_previous_handler(void)
{
	const char *args[] = { "previous-handler", t_file("pmem", PG, 0),
			       t_file("other", 2 * PG, 0x55), NULL };

	CHECK_EQ(t_reexec(NULL, args), 42);
	return T_PASS;
}

struct reader {
	struct dax_device *dev;
	int bad, good;
};

static void *read_loop(void *arg)
{
	struct reader *r = arg;
	unsigned char buf[PG];

	for (int i = 0; i < 200; i++) {
		if (dax_device_rw(r->dev, DAX_REQ_READ, 0, (uint64_t)(4 + i % 4) * PG, buf, PG) == -EIO)
			r->bad++;
		if (dax_device_rw(r->dev, DAX_REQ_READ, 0, (uint64_t)(i % 4) * PG, buf, PG) == 0 &&
		    all(buf, PG, 0x11))
			r->good++;
	}
	return NULL;
}

static int test_mc_threads_recover_each_on_their_own(void)
{
	struct dax_device *dev = cut_dev(4, NULL);
	struct reader r[4];
	pthread_t th[4];

	CHECK(dev);
	for (int i = 0; i < 4; i++) {
		r[i] = (struct reader){ .dev = dev };
		CHECK_EQ(pthread_create(&th[i], NULL, read_loop, &r[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECK_EQ(r[i].bad, 200);
		CHECK_EQ(r[i].good, 200);
	}
	return T_PASS;
}

/* Child (PMEM mode): a flush of a cut page. clflush faults like a load. */
static int child_pmem_flush(const char *path)
{
	struct dax_device *dev = NULL;
	unsigned char buf[PG];

	if (dax_device_open(path, 0, &dev) < 0 || dax_device_persist_mode(dev) != DAX_PERSIST_PMEM)
		return 2;
	if (truncate(path, PG) < 0)
		return 3;
	memset(buf, 0x66, sizeof(buf));
	if (dax_device_copy_flushcache(dev, PG, buf, PG) != -EIO ||
	    dax_device_flush(dev, 2 * PG, PG) != -EIO || dax_device_persist(dev, 0, PG) != 0)
		return 4;
	dax_device_put(&dev);
	return 0;
}

static int test_mc_pmem_mode_flush_and_nt_copy_of_cut_page_are_eio(void)
{
	const char *env[] = { "PMEM_IS_PMEM_FORCE=1", NULL };
	const char *args[] = { "pmem-flush", t_file("pmem", 4 * PG, 0), NULL };

	CHECK_EQ(t_reexec(env, args), 0);
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_mc_bio_read_of_cut_page_is_eio_and_a_bad_block),
	T_CASE(test_mc_read_across_the_cut_records_the_first_bad_page),
	T_CASE(test_mc_bio_write_and_zeroes_to_cut_page_are_eio),
	T_CASE(test_mc_zero_page_range_of_cut_page_is_eio),
	T_CASE(test_mc_copy_flushcache_to_cut_page_is_eio),
	T_CASE(test_mc_direct_access_after_a_fault_is_ehwpoison),
	T_CASE(test_mc_copy_mc_gives_the_bytes_before_the_bad_page),
	T_CASE(test_mc_copy_mc_into_a_cut_page_is_eio),
	T_CASE(test_mc_probe_gives_the_good_prefix),
	T_CASE(test_mc_ordinary_memory_is_a_plain_memmove),
	T_CASE(test_mc_overlapping_copy_inside_a_device_is_a_memmove),
	T_CASE(test_mc_range_leaving_the_mapping_is_einval),
	T_CASE(test_mc_sigbus_outside_a_guarded_access_still_kills),
	T_CASE(test_mc_sent_sigbus_takes_the_default_action),
	T_CASE(test_mc_other_sigbus_goes_to_the_previous_handler),
	T_CASE(test_mc_threads_recover_each_on_their_own),
	T_CASE(test_mc_pmem_mode_flush_and_nt_copy_of_cut_page_are_eio),
};

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--child") == 0 && strcmp(argv[2], "pmem-flush") == 0)
		return child_pmem_flush(argv[3]);
	if (argc == 4 && strcmp(argv[1], "--child") == 0 && strcmp(argv[2], "unguarded-load") == 0)
		return child_unguarded_load(argv[3]);
	if (argc == 4 && strcmp(argv[1], "--child") == 0 && strcmp(argv[2], "sent-sigbus") == 0)
		return child_sent_sigbus(argv[3]);
	if (argc == 5 && strcmp(argv[1], "--child") == 0 && strcmp(argv[2], "previous-handler") == 0)
		return child_previous_handler(argv[3], argv[4]);
	return T_RUN(cases);
}
