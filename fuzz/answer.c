/* fuzz/answer.c - the daemon's device-control answers read as daxfs-ctl reads them */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer.h"
#include "harness.h"
#include "json.h"

ctl_render_fn fuzz_ctl_renderer(unsigned cmd, unsigned op)
{
	switch (cmd) {
	case DAXFS_IOC_TABLE: return ctl_render_table;
	case DAXFS_IOC_INFO: return ctl_render_info;
	case DAXFS_IOC_STATUS: return ctl_render_status;
	case DAXFS_IOC_BADBLOCKS: return op == DAXFS_IOC_OP_LIST ? ctl_render_badblocks : NULL;
	default: return NULL;
	}
}

/* Every piece of the answer whose first piece is c, as one buffer. */
static char *gather(const struct daxfs_ioc_ctl *first, fuzz_ask_fn ask, void *ctx)
{
	struct daxfs_ioc_ctl *c = malloc(sizeof(*c));
	char *buf = malloc(first->len);
	uint64_t got = 0;

	if (!c || !buf)
		abort();
	memcpy(c, first, sizeof(*c));
	for (;;) {
		if (c->error || c->answer != first->answer || c->len != first->len ||
		    c->start != got || c->text_len == 0 || c->text_len > sizeof(c->text) ||
		    c->text_len > c->len - got)
			fuzz_fail("answer %u: piece %u of %u bytes at %llu of %llu (error %d) where "
				  "byte %llu of %llu was due", first->answer, c->answer, c->text_len,
				  (unsigned long long)c->start, (unsigned long long)c->len, c->error,
				  (unsigned long long)got, (unsigned long long)first->len);
		memcpy(buf + got, c->text, c->text_len);
		got += c->text_len;
		if (got == first->len)
			break;
		memset(c, 0, sizeof(*c));
		c->version = DAXFS_IOC_CTL_VERSION;
		c->flags = DAXFS_IOC_F_MORE;
		c->op = first->op;
		c->start = got;
		c->answer = first->answer;
		ask(ctx, c);
	}
	free(c);
	return buf;
}

char *fuzz_ctl_answer(const struct daxfs_ioc_ctl *c, ctl_render_fn render, unsigned flags,
		      fuzz_ask_fn ask, void *ctx)
{
	struct dm_ioctl_result res;
	char *buf, *again = NULL, *text = NULL;
	size_t n, len = 0;
	FILE *f;

	if (c->error > 0)
		fuzz_fail("control answer with a positive error %d", c->error);
	if (c->error || c->len == 0) {
		n = strnlen(c->text, sizeof(c->text));
		if (n == sizeof(c->text))
			fuzz_fail("control answer without a NUL");
		if (n != c->text_len)
			fuzz_fail("control answer of %zu bytes says text_len %u", n, c->text_len);
		if (!c->error && n)
			fuzz_fail("control answer without a result holds text: %s", c->text);
		return NULL;
	}
	if (!render)
		fuzz_fail("a command without a result answered with %llu bytes of one",
			  (unsigned long long)c->len);
	if (c->len > DM_IOC_WIRE_MAX)
		fuzz_fail("answer of %llu bytes", (unsigned long long)c->len);
	buf = gather(c, ask, ctx);
	if (dm_ioctl_result_decode(buf, c->len, &res) != 0)
		fuzz_fail("the daemon's answer does not decode: %s", daxfs_errormsg());
	if (dm_ioctl_result_encode(&res, &again, &n) != 0 || n != c->len ||
	    memcmp(again, buf, n) != 0)
		fuzz_fail("the daemon's answer of %llu bytes encodes back to %zu other bytes",
			  (unsigned long long)c->len, n);
	if (!(f = open_memstream(&text, &len)))
		abort();
	render(f, &res, flags);
	if (fclose(f) != 0)
		abort();
	if ((flags & DAXFS_IOC_F_JSON) && json_check(text, len) != 0)
		fuzz_fail("control answer is not JSON: %s", text);
	if (strlen(text) != len)
		fuzz_fail("control answer rendered with a NUL inside");
	dm_ioctl_result_free(&res);
	free(again);
	free(buf);
	return text;
}
