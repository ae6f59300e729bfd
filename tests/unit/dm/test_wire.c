/* test_wire.c - the command layer's result as bytes: round trips, and answers that lie */
#include <stdint.h>

#include "fixture.h"

/* Encodes res; the bytes are freed after the test. */
static char *encode(const struct dm_ioctl_result *res, size_t *len)
{
	char *buf = NULL;

	if (dm_ioctl_result_encode(res, &buf, len) != 0)
		return NULL;
	t_defer(free, buf);
	return buf;
}

/* A copy of buf (len bytes, room for more) whose header says len. */
static uint8_t *with_len(const void *buf, size_t len)
{
	uint8_t *p = calloc(1, len + 16);

	if (!p)
		abort();
	memcpy(p, buf, len);
	for (int i = 0; i < 4; i++)
		p[8 + i] = (uint8_t)(len >> (8 * i));
	t_defer(free, p);
	return p;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* The smallest answer: name "dev", type "dax", no uuid, no text, nothing
 * counted. Its bytes: header 0-11, name 12-19, type 20-27, info 28-71, uuid
 * 72-76, holder 77-84, text 85-88, targets 89-92, devices 93-96, badblocks
 * 97-100. */
static const uint8_t *small(size_t *len)
{
	struct dm_ioctl_result res = { .name = "dev", .type_name = "dax", .fd = -1 };

	return (const uint8_t *)encode(&res, len);
}

static int decode(const void *buf, size_t len)
{
	struct dm_ioctl_result *res = t_result();

	return dm_ioctl_result_decode(buf, len, res);
}

static int same_encoding(const struct dm_ioctl_result *a, const struct dm_ioctl_result *b)
{
	size_t alen, blen;
	char *x = encode(a, &alen), *y = encode(b, &blen);

	return x && y && alen == blen && memcmp(x, y, alen) == 0;
}

/* res encoded and decoded into back (freed first), which encodes to the
 * same bytes. */
static int round_trip(const struct dm_ioctl_result *res, struct dm_ioctl_result *back)
{
	size_t len;
	char *buf = encode(res, &len);

	dm_ioctl_result_free(back);
	return buf && dm_ioctl_result_decode(buf, len, back) == 0 && same_encoding(res, back);
}

static int test_status_survives_the_round_trip(void)
{
	struct mapped_device *md = t_md();
	struct dm_ioctl_result *res = t_result(), *back = t_result();
	struct dm_ioctl_req rq = { .cmd = DM_IOC_STATUS };

	t_devs(64);
	CHECK_EQ(t_make_live(md, t_fmt("0 256 linear %s 0\n256 256 striped 2 8 %s 256 %s 8\n",
				      A, A, B)), 0);
	CHECK_EQ(dax_badblocks_add(dm_md_device(md, 1), 8, 8), 0);
	CHECK_EQ(dm_ioctl(md, &rq, res), 0);
	res->holder = (struct dm_holder_state){ .frozen = true, .writers_waiting = 3,
						.uses_dax = true };
	CHECK(round_trip(res, back));
	CHECK_STR(back->name, res->name);
	CHECK_STR(back->text, res->text);
	CHECK_EQ(back->ntargets, 2);
	CHECK_STR(back->targets[1].info.type, "striped");
	CHECK_STR(back->targets[1].args, res->targets[1].args);
	CHECK_EQ(back->ndevices, 2);
	CHECK_STR(back->devices[1].path, B);
	CHECK_EQ(back->devices[1].nbadblocks, 1);
	CHECK_EQ(back->devices[1].badblocks[0].sector, 8);
	CHECK(back->devices[0].not_dax_reason == NULL);
	CHECK_EQ(back->holder.writers_waiting, 3);
	CHECK(back->holder.frozen && back->holder.uses_dax && !back->holder.shutdown);
	CHECK(back->info.live_present && !back->info.suspended);
	CHECK_EQ(back->info.size, res->info.size);
	CHECK_EQ(back->fd, -1);
	return T_PASS;
}

static int test_badblocks_and_table_survive_the_round_trip(void)
{
	struct mapped_device *md = t_md();
	struct dm_ioctl_result *res = t_result(), *back = t_result();

	t_devs(64);
	CHECK_EQ(t_make_live(md, t_fmt("0 512 linear %s 0\n", A)), 0);
	CHECK_EQ(dax_badblocks_add(dm_md_device(md, 0), 16, 8), 0);
	CHECK_EQ(dax_badblocks_add(dm_md_device(md, 0), 64, 1), 0);
	CHECK_EQ(dm_ioctl(md, &(struct dm_ioctl_req){ .cmd = DM_IOC_BADBLOCKS_LIST, .text = A },
			  res), 0);
	CHECK(round_trip(res, back));
	CHECK_EQ(back->nbadblocks, 2);
	CHECK_EQ(back->badblocks[1].sector, 64);
	dm_ioctl_result_free(res);
	CHECK_EQ(dm_ioctl(md, &(struct dm_ioctl_req){ .cmd = DM_IOC_TABLE_STATUS }, res), 0);
	CHECK(round_trip(res, back));
	CHECK_STR(back->text, t_fmt("0 512 linear %s 0\n", A));
	return T_PASS;
}

static int test_every_truncation_is_refused_and_leaves_nothing(void)
{
	struct mapped_device *md = t_md();
	struct dm_ioctl_result *res = t_result(), *back = t_result();
	size_t len;
	char *buf;

	t_devs(64);
	CHECK_EQ(t_make_live(md, t_fmt("0 256 linear %s 0\n256 256 linear %s 0\n", A, B)), 0);
	CHECK_EQ(dax_badblocks_add(dm_md_device(md, 0), 8, 8), 0);
	CHECK_EQ(dm_ioctl(md, &(struct dm_ioctl_req){ .cmd = DM_IOC_STATUS }, res), 0);
	CHECK(buf = encode(res, &len));
	for (size_t n = 0; n < len; n++) {
		/* the header agrees with the length, so that the body is read */
		CHECK_EQ(dm_ioctl_result_decode(n < 12 ? (const void *)buf : with_len(buf, n), n,
						back), -EBADMSG);
		CHECK(back->ntargets == 0 && back->targets == NULL && back->wire == NULL &&
		      back->text == NULL && back->fd == -1);
	}
	return T_PASS;
}

static int test_a_short_or_foreign_header_is_named(void)
{
	size_t len;
	const uint8_t *ok = small(&len);
	uint8_t *p;

	CHECK_EQ(len, 101);
	CHECK_EQ(decode(ok, len), 0);
	CHECK_EQ(decode(ok, 0), -EBADMSG);
	CHECK_MSG("answer: 0 bytes, shorter than the 12-byte header");
	CHECK_EQ(decode(ok, 11), -EBADMSG);
	CHECK_MSG("answer: 11 bytes, shorter than the 12-byte header");
	p = with_len(ok, len);
	memcpy(p, "AAAA", 4);
	CHECK_EQ(decode(p, len), -EBADMSG);
	CHECK_MSG("answer: magic 0x41414141 is not 0x52495744: not a dm result");
	p = with_len(ok, len);
	put32(p + 4, 2);
	CHECK_EQ(decode(p, len), -EPROTO);
	CHECK_MSG("answer: the daemon encodes results in version 2, this reader knows version 1");
	CHECK_EQ(decode(ok, len - 1), -EBADMSG);
	CHECK_MSG("answer: the header says 101 bytes, 100 arrived");
	CHECK_EQ(decode(ok, (size_t)DM_IOC_WIRE_MAX + 1), -EBADMSG);
	CHECK_MSG("answer: 67108865 bytes, more than an answer may have (67108864)");
	return T_PASS;
}

static int test_lengths_and_counts_that_lie_are_named(void)
{
	static const struct {
		size_t at;        /* of the small answer */
		uint32_t word;    /* put there */
		const char *msg;
	} lies[] = {
		{ 12, 0xfffffffe, "answer: result's name of 4294967294 bytes at byte 12 runs past "
				  "the end (85 bytes remain)" },
		{ 72, 0xffffffff, "answer: info's uuid at byte 72 is missing" },
		{ 89, 0x10000000, "answer: result has 268435456 targets at byte 89, more than the 8 "
				  "bytes left can hold" },
		{ 97, 0xffffffff, "answer: result has 4294967295 bad block ranges at byte 97, more "
				  "than the 0 bytes left can hold" },
		{ 28, 0x40, "answer: info's flags at byte 28 are 0x40: bits 0x40 mean nothing" },
	};
	size_t len;
	const uint8_t *ok = small(&len);
	uint8_t *p;

	CHECK_EQ(decode(with_len(ok, 50), 50), -EBADMSG);
	CHECK_MSG("answer: truncated at byte 48: info needs 4 bytes, 2 remain");
	for (size_t i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
		p = with_len(ok, len);
		put32(p + lies[i].at, lies[i].word);
		CHECK_EQ(decode(p, len), -EBADMSG);
		CHECK_MSG(lies[i].msg);
	}
	/* the name "dev" at 16-19: its NUL, and a NUL inside it */
	p = with_len(ok, len);
	p[19] = 'x';
	CHECK_EQ(decode(p, len), -EBADMSG);
	CHECK_MSG("answer: result's name at byte 12 is not 3 bytes and a NUL");
	p = with_len(ok, len);
	p[17] = 0;
	CHECK_EQ(decode(p, len), -EBADMSG);
	CHECK_MSG("answer: result's name at byte 12 is not 3 bytes and a NUL");
	p = with_len(ok, len + 1);
	CHECK_EQ(decode(p, len + 1), -EBADMSG);
	CHECK_MSG("answer: 1 bytes after the result's end at byte 101");
	return T_PASS;
}

static int test_a_device_with_more_bad_blocks_than_status_holds_is_refused(void)
{
	struct dm_ioc_device dev = { .path = "/dev/pmem0", .persist = "pmem", .nbadblocks = 1 };
	struct dm_ioctl_result res = { .ndevices = 1, .devices = &dev, .fd = -1 };
	size_t len;
	char *buf = encode(&res, &len);
	uint8_t *p;

	CHECK(buf);
	/* the device's count is its last word before the one bad block */
	p = with_len(buf, len);
	put32(p + len - 4 - 16 - 4, 65);
	CHECK_EQ(decode(p, len), -EBADMSG);
	CHECK_MSG_HAS("device 0 has 65 bad block ranges at byte");
	CHECK_MSG_HAS("more than 64");
	return T_PASS;
}

static const struct t_case cases[] = {
	T_CASE(test_status_survives_the_round_trip),
	T_CASE(test_badblocks_and_table_survive_the_round_trip),
	T_CASE(test_every_truncation_is_refused_and_leaves_nothing),
	T_CASE(test_a_short_or_foreign_header_is_named),
	T_CASE(test_lengths_and_counts_that_lie_are_named),
	T_CASE(test_a_device_with_more_bad_blocks_than_status_holds_is_refused),
};

T_MAIN(cases)
