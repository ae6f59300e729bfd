/* test_property.c - linear and striped mapping against a reference model over random tables */
#include "fixture.h"
#include "dm/table.h"

#define NDEVS 4
#define DEV_PAGES 1024
#define DEV_SECTORS (DEV_PAGES * 8)
#define MAX_TARGETS 6

static const char *paths[NDEVS];

static uint64_t rng_state;

/* splitmix64: seeded, so every run sees the same tables */
static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rnd_in(uint64_t lo, uint64_t hi)
{
	return lo + rnd() % (hi - lo + 1);
}

struct ref_target {
	bool striped;
	uint64_t begin, len, chunk;
	unsigned n;
	unsigned dev[4];
	uint64_t off[4];
};

struct ref_table {
	unsigned nt;
	struct ref_target t[MAX_TARGETS];
	uint64_t size;
	bool zero_tail;             /* a trailing zero target keeps the table off DAX */
};

/* Where one sector goes, and the group (target, chunk) it belongs to. */
struct ref_map {
	unsigned dev, target;
	uint64_t dev_sector, group;
	int stripe;
	uint64_t left;              /* sectors to the end of its group */
};

/* the reference map, reused between tables (a fresh calloc each costs mmap churn) */
static struct ref_map *map_buf;
static uint64_t map_cap;
static struct dax_device *devp[NDEVS];     /* found once: a lookup stats the path */

static void devs(void)
{
	char name[8];

	for (unsigned d = 0; d < NDEVS; d++) {
		snprintf(name, sizeof(name), "d%u", d);
		paths[d] = strdup(t_pmem(name, DEV_PAGES, d + 1));
	}
}

static void free_devs(void)
{
	free(map_buf);
	memset(devp, 0, sizeof(devp));
	map_buf = NULL;
	map_cap = 0;
	for (unsigned d = 0; d < NDEVS; d++)
		free((void *)paths[d]);
}

/* An offset for an area of len sectors on a random device that no earlier
 * area of the table touches (a load refuses a table mapping a sector twice):
 * areas go up each device, with random gaps. */
static void place(uint64_t *cursor, uint64_t unit, uint64_t len, unsigned *dev, uint64_t *off)
{
	unsigned d = (unsigned)rnd_in(0, NDEVS - 1);

	for (unsigned tries = 0; tries < NDEVS; tries++, d = (d + 1) % NDEVS) {
		uint64_t o = cursor[d] + unit * rnd_in(0, 16);

		if (o + len <= DEV_SECTORS) {
			*dev = d;
			*off = o;
			cursor[d] = (o + len + unit - 1) / unit * unit;
			return;
		}
	}
	abort();    /* the sizes below always fit */
}

/* unit 8 makes every boundary, offset and chunk page-aligned */
static void gen(struct ref_table *rt, uint64_t unit)
{
	uint64_t begin = 0, cursor[NDEVS] = { 0 };

	rt->nt = (unsigned)rnd_in(1, MAX_TARGETS);
	for (unsigned i = 0; i < rt->nt; i++) {
		struct ref_target *t = &rt->t[i];

		memset(t, 0, sizeof(*t));
		t->begin = begin;
		if (rnd() % 5 < 3) {
			t->len = unit * rnd_in(1, 300 / unit + 40);
			place(cursor, unit, t->len, &t->dev[0], &t->off[0]);
		} else {
			uint64_t k = rnd_in(1, 4);

			t->striped = true;
			t->n = (unsigned)rnd_in(1, 4);
			t->chunk = unit * rnd_in(1, unit == 1 ? 64 : 8);
			t->len = t->n * t->chunk * k;
			for (unsigned s = 0; s < t->n; s++)
				place(cursor, unit, t->chunk * k, &t->dev[s], &t->off[s]);
		}
		begin += t->len;
	}
	rt->size = begin;
}

static const char *ref_text(const struct ref_table *rt)
{
	static char text[4096];
	size_t n = 0;

	for (unsigned i = 0; i < rt->nt; i++) {
		const struct ref_target *t = &rt->t[i];

		n += (size_t)snprintf(text + n, sizeof(text) - n, "%llu %llu ",
				      (unsigned long long)t->begin, (unsigned long long)t->len);
		if (!t->striped) {
			n += (size_t)snprintf(text + n, sizeof(text) - n, "linear %s %llu\n",
					      paths[t->dev[0]], (unsigned long long)t->off[0]);
			continue;
		}
		n += (size_t)snprintf(text + n, sizeof(text) - n, "striped %u %llu", t->n,
				      (unsigned long long)t->chunk);
		for (unsigned s = 0; s < t->n; s++)
			n += (size_t)snprintf(text + n, sizeof(text) - n, " %s %llu",
					      paths[t->dev[s]], (unsigned long long)t->off[s]);
		n += (size_t)snprintf(text + n, sizeof(text) - n, "\n");
	}
	if (rt->zero_tail)
		snprintf(text + n, sizeof(text) - n, "%llu 5 zero\n", (unsigned long long)rt->size);
	return text;
}

/*
 * The reference: lay the target out sector by sector, dealing chunks to the
 * stripes round-robin, each stripe filling its area from the front. No
 * division formula, so it checks the kernel's arithmetic independently.
 */
static struct ref_map *ref_build(const struct ref_table *rt)
{
	struct ref_map *map;
	uint64_t group = 0;

	if (rt->size > map_cap) {
		map_buf = realloc(map_buf, rt->size * sizeof(*map_buf));
		map_cap = rt->size;
	}
	map = map_buf;
	if (!map)
		abort();
	for (unsigned i = 0; i < rt->nt; i++) {
		const struct ref_target *t = &rt->t[i];
		uint64_t cursor[4] = { 0 }, s = t->begin;

		if (!t->striped) {
			for (uint64_t j = 0; j < t->len; j++, s++)
				map[s] = (struct ref_map){ .dev = t->dev[0], .target = i,
					.dev_sector = t->off[0] + j, .group = group, .stripe = -1 };
			group++;
			continue;
		}
		for (unsigned st = 0; s < t->begin + t->len; st = (st + 1) % t->n, group++) {
			for (uint64_t j = 0; j < t->chunk; j++, s++)
				map[s] = (struct ref_map){ .dev = t->dev[st], .target = i,
					.dev_sector = t->off[st] + cursor[st] + j, .group = group,
					.stripe = (int)st };
			cursor[st] += t->chunk;
		}
	}
	for (uint64_t s = rt->size; s-- > 0;)
		map[s].left = s + 1 < rt->size && map[s + 1].group == map[s].group ?
			      map[s + 1].left + 1 : 1;
	return map;
}

static int check_map_sector(struct mapped_device *md, const struct ref_table *rt)
{
	struct ref_map *map = ref_build(rt);
	struct dm_table *t;
	int ok = 0;

	unsigned first_member[MAX_TARGETS], nmembers = 0;

	if (dm_table_parse(md, ref_text(rt), "random", &t)) {
		fprintf(stderr, "parse failed: %s\n%s", daxfs_errormsg(), ref_text(rt));
			return 0;
	}
	for (unsigned i = 0; i < rt->nt; i++) {
		first_member[i] = nmembers;
		nmembers += rt->t[i].striped ? rt->t[i].n : 1;
	}
	if (dm_table_num_members(t) != nmembers)
		goto out;
	for (uint64_t s = 0; s < rt->size; s++) {
		struct dm_target *ti = dm_table_find_target(t, s);
		const struct ref_target *rtt = &rt->t[map[s].target];
		unsigned stripe = map[s].stripe < 0 ? 0 : (unsigned)map[s].stripe, index;
		uint64_t offset, run;
		struct dm_map_result m;

		/* the member API answers what the reference says, from outside dm */
		if (dm_table_map_member(t, s, &index, &offset, &run) ||
		    index != first_member[map[s].target] + stripe ||
		    offset != map[s].dev_sector - rtt->off[stripe] || run != map[s].left) {
			fprintf(stderr, "sector %llu: member %u offset %llu run %llu, expected "
				"member %u offset %llu run %llu\n%s", (unsigned long long)s, index,
				(unsigned long long)offset, (unsigned long long)run,
				first_member[map[s].target] + stripe,
				(unsigned long long)(map[s].dev_sector - rtt->off[stripe]),
				(unsigned long long)map[s].left, ref_text(rt));
			goto out;
		}

		if (!ti || ti->index != map[s].target)
			goto out;
		ti->type->map_sector(ti, s, &m);
		if (!devp[map[s].dev])
			devp[map[s].dev] = dm_md_find_device(md, paths[map[s].dev]);
		if (m.dev != devp[map[s].dev] ||
		    m.dev_sector != map[s].dev_sector || m.stripe != map[s].stripe ||
		    m.max_sectors != map[s].left) {
			fprintf(stderr, "sector %llu: got %s:%llu stripe %d left %llu, expected "
				"%s:%llu stripe %d left %llu\n%s", (unsigned long long)s,
				dax_device_path(m.dev), (unsigned long long)m.dev_sector, m.stripe,
				(unsigned long long)m.max_sectors, paths[map[s].dev],
				(unsigned long long)map[s].dev_sector, map[s].stripe,
				(unsigned long long)map[s].left, ref_text(rt));
			goto out;
		}
	}
	/* each member's first and last sector: the extremes of the reference */
	for (unsigned k = 0; k < nmembers; k++) {
		uint64_t lo = UINT64_MAX, hi = 0;
		struct dm_member mb;

		for (uint64_t s = 0; s < rt->size; s++) {
			unsigned st = map[s].stripe < 0 ? 0 : (unsigned)map[s].stripe;

			if (first_member[map[s].target] + st == k) {
				lo = s < lo ? s : lo;
				hi = s;
			}
		}
		if (dm_table_get_member(t, k, &mb) || mb.first_sector != lo || mb.last_sector != hi) {
			fprintf(stderr, "member %u: sectors %llu-%llu, expected %llu-%llu\n%s", k,
				(unsigned long long)mb.first_sector, (unsigned long long)mb.last_sector,
				(unsigned long long)lo, (unsigned long long)hi, ref_text(rt));
			goto out;
		}
	}
	ok = dm_table_find_target(t, rt->size) == NULL;
out:
	dm_table_put(&t);
	return ok;
}

/* Runs check over rounds random tables, seeded so that every run sees the
 * same ones, whose targets are aligned to unit sectors (0: 8 and 1 in turn);
 * what names the path checked in the failure. */
static int against_reference(int (*check)(struct mapped_device *, const struct ref_table *),
			     const char *what, struct ref_table rt, uint64_t seed, int rounds,
			     uint64_t unit)
{
	struct mapped_device *md = t_md();

	devs();
	rng_state = seed;
	for (int i = 0; i < rounds; i++) {
		gen(&rt, unit ? unit : i % 2 ? 1 : 8);
		if (!check(md, &rt)) {
			free_devs();
			t_report(__FILE__, __LINE__, "%s disagrees with the reference on table %d",
				 what, i);
			return T_FAIL;
		}
	}
	free_devs();
	return T_PASS;
}

static int test_map_sector_matches_reference_on_random_tables(void)
{
	return against_reference(check_map_sector, "map_sector", (struct ref_table){ 0 }, 1, 3000, 0);
}

/* Reads [pos, pos+len) of the mapped device from the backing patterns. */
static void ref_read(const struct ref_map *map, uint64_t size, uint64_t pos, unsigned char *buf,
		     size_t len)
{
	for (size_t i = 0; i < len; i++) {
		uint64_t s = (pos + i) >> 9;

		buf[i] = s < size ? t_byte(map[s].dev + 1, map[s].dev_sector * 512 +
					   ((pos + i) & 511)) : 0;
	}
}

static int check_dax_and_bio(struct mapped_device *md, const struct ref_table *rt)
{
	static unsigned char got[16 * 4096], want[16 * 4096];
	struct ref_map *map = ref_build(rt);
	int ok = 0;

	if (t_make_live(md, ref_text(rt))) {
		fprintf(stderr, "load failed: %s\n%s", daxfs_errormsg(), ref_text(rt));
		goto out;
	}
	for (int k = 0; k < 20; k++) {
		uint64_t pgoff = rnd_in(0, rt->size / 8 - 1), s = pgoff * 8;
		long want_pages = (long)(map[s].left / 8) < 16 ? (long)(map[s].left / 8) : 16;
		void *kaddr;
		long ret;

		ret = dm_dax_direct_access(md, pgoff, 16, DAX_ACCESS, &kaddr, NULL);
		if (ret != want_pages) {
			fprintf(stderr, "page %llu: %ld pages, expected %ld\n",
				(unsigned long long)pgoff, ret, want_pages);
			goto out;
		}
		ref_read(map, rt->size, s * 512, want, (size_t)ret * 4096);
		if (dm_submit_bio(md, DAX_REQ_READ, 0, s * 512, got, (size_t)ret * 4096) ||
		    memcmp(got, want, (size_t)ret * 4096) || memcmp(kaddr, want, (size_t)ret * 4096)) {
			fprintf(stderr, "page %llu: bio or DAX bytes differ\n",
				(unsigned long long)pgoff);
			goto out;
		}
	}
	ok = 1;
out:
	if (!ok)
		fputs(ref_text(rt), stderr);
	return ok;
}

static int test_dax_and_bio_match_reference_on_aligned_tables(void)
{
	return against_reference(check_dax_and_bio, "the DAX or bio path", (struct ref_table){ 0 }, 2,
				 400, 8);
}

static int check_bio_unaligned(struct mapped_device *md, const struct ref_table *rt)
{
	static unsigned char got[64 * 512], want[64 * 512];
	struct ref_map *map = ref_build(rt);
	int ok = 0;

	if (t_make_live(md, ref_text(rt))) {
		fprintf(stderr, "load failed: %s\n%s", daxfs_errormsg(), ref_text(rt));
		goto out;
	}
	for (int k = 0; k < 20; k++) {
		uint64_t pos = rnd_in(0, rt->size * 512 - 1);
		size_t len = (size_t)rnd_in(1, sizeof(got));

		if (len > rt->size * 512 - pos)
			len = (size_t)(rt->size * 512 - pos);
		ref_read(map, rt->size, pos, want, len);
		if (dm_submit_bio(md, DAX_REQ_READ, 0, pos, got, len) || memcmp(got, want, len)) {
			fprintf(stderr, "bytes %llu+%zu differ\n", (unsigned long long)pos, len);
			goto out;
		}
	}
	ok = 1;
out:
	if (!ok)
		fputs(ref_text(rt), stderr);
	return ok;
}

static int test_bio_matches_reference_on_unaligned_tables(void)
{
	return against_reference(check_bio_unaligned, "the bio path",
				 (struct ref_table){ .zero_tail = true }, 3, 400, 1);
}

static const struct t_case cases[] = {
	T_CASE(test_map_sector_matches_reference_on_random_tables),
	T_CASE(test_dax_and_bio_match_reference_on_aligned_tables),
	T_CASE(test_bio_matches_reference_on_unaligned_tables),
};

T_MAIN(cases)
