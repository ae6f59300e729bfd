/* tools/cli.c - number, size and uuid parsing, usage errors and errno names shared by the daxfs tools */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "cli.h"

int cli_parse_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;
	int base = 10;

	/* strtoull accepts blanks and a sign, both of which would silently turn
	 * "-1" into a huge number; only digits are a number here. */
	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		if (!isxdigit((unsigned char)s[2]))
			return -EINVAL;
		base = 16;
	}
	errno = 0;
	v = strtoull(s, &end, base);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE)
		return -ERANGE;
	*out = v;
	return 0;
}

int cli_parse_size(const char *s, uint64_t *out)
{
	static const char suffixes[] = "KMGT";
	char num[32];
	const char *p, *unit;
	unsigned shift = 0;
	uint64_t v;
	size_t n;
	int ret;

	if (!s)
		return -EINVAL;
	/* In hex, "B" would be a digit: a byte suffix is only for decimal. */
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		for (p = s + 2; isxdigit((unsigned char)*p); p++)
			;
	else
		for (p = s; isdigit((unsigned char)*p); p++)
			;
	n = (size_t)(p - s);
	if (n == 0 || n >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, n);
	num[n] = '\0';
	ret = cli_parse_u64(num, &v);
	if (ret)
		return ret;
	if (*p && strcmp(p, "B") == 0) {
		p++;
	} else if (*p) {
		unit = strchr(suffixes, toupper((unsigned char)*p));
		if (!unit)
			return -EINVAL;
		shift = 10u * (unsigned)(unit - suffixes + 1);
		p++;
		if (strcmp(p, "") && strcmp(p, "B") && strcmp(p, "iB"))
			return -EINVAL;
	}
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = v << shift;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int cli_parse_uuid(const char *s, uint8_t out[16])
{
	uint8_t u[16];
	unsigned byte = 0;
	size_t i;

	if (!s || strlen(s) != 36)
		return -EINVAL;
	for (i = 0; i < 36;) {
		int hi, lo;

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -EINVAL;
			i++;
			continue;
		}
		hi = hexval(s[i]);
		lo = hexval(s[i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		u[byte++] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	memcpy(out, u, sizeof(u));
	return 0;
}

int cli_random_uuid(uint8_t uuid[16])
{
	ssize_t n = getrandom(uuid, 16, 0);

	if (n != 16)
		return n < 0 ? -errno : -EIO;
	uuid[6] = (uint8_t)((uuid[6] & 0x0f) | 0x40);   /* version 4 */
	uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80);   /* RFC 4122 variant */
	return 0;
}

int cli_time_uuid(uint8_t uuid[16])
{
	/* 100 ns intervals from 1582-10-15 (the Gregorian reform) to the epoch */
	const uint64_t gregorian = 0x01B21DD213814000ull;
	struct timespec ts;
	uint64_t t;
	ssize_t n = getrandom(uuid + 8, 8, 0);

	if (n != 8)
		return n < 0 ? -errno : -EIO;
	clock_gettime(CLOCK_REALTIME, &ts);
	t = gregorian + (uint64_t)ts.tv_sec * 10000000u + (uint64_t)ts.tv_nsec / 100;
	for (int i = 0; i < 4; i++)                     /* time_low */
		uuid[i] = (uint8_t)(t >> (24 - 8 * i));
	uuid[4] = (uint8_t)(t >> 40);                   /* time_mid */
	uuid[5] = (uint8_t)(t >> 32);
	uuid[6] = (uint8_t)(((t >> 56) & 0x0f) | 0x10); /* time_hi, version 1 */
	uuid[7] = (uint8_t)(t >> 48);
	uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80);   /* clock_seq, RFC 4122 variant */
	uuid[10] |= 0x01;                               /* a random node: multicast bit */
	return 0;
}

void cli_format_uuid(const uint8_t uuid[16], char out[37])
{
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 uuid[0], uuid[1], uuid[2], uuid[3], uuid[4], uuid[5], uuid[6], uuid[7],
		 uuid[8], uuid[9], uuid[10], uuid[11], uuid[12], uuid[13], uuid[14], uuid[15]);
}

const char *cli_errno_name(int err)
{
	static _Thread_local char buf[24];
	const char *name;

	if (err < 0)
		err = -err;
	name = strerrorname_np(err);
	if (name)
		return name;
	snprintf(buf, sizeof(buf), "E%d", err);
	return buf;
}

int cli_usage_error(const char *prog, int status, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help' for more information.\n", prog);
	return status;
}
