/* tools/ctl/answer.c - daxfs-ctl's side of the control channel: a request out, the daemon's answer in */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "ctl/answer.h"
#include "daxfs/err.h"

/* Which version of the channel the daemon speaks, asked with INFO (which
 * changes nothing) in the versions there have been and a few to come; 0
 * when none answers. */
static unsigned daemon_version(int fd)
{
	struct daxfs_ioc_ctl *c = malloc(sizeof(*c));
	unsigned found = 0;

	for (unsigned v = 1; c && !found && v <= DAXFS_IOC_CTL_VERSION + 8; v++) {
		memset(c, 0, sizeof(*c));
		c->version = v;
		if (v != DAXFS_IOC_CTL_VERSION && ioctl(fd, DAXFS_IOC_INFO, c) == 0)
			found = v;
	}
	free(c);
	return found;
}

int ctl_send(const struct ctl_command *cmd, int fd, const char *mnt, unsigned long request,
	     struct daxfs_ioc_ctl *c)
{
	unsigned v;

	if (ioctl(fd, request, c) == 0)
		return 0;
	if (errno == ENOTTY)
		ctl_error(cmd, "%s: not the root of a daxfs-fuse mount", mnt);
	else if (errno == ENOSYS)
		ctl_error(cmd, "%s: the daemon has no control channel", mnt);
	else if (errno == EPROTO && (v = daemon_version(fd)) != 0)
		ctl_error(cmd, "%s: the daemon speaks version %u of the control channel, "
			  "daxfs-ctl version %u", mnt, v, DAXFS_IOC_CTL_VERSION);
	else if (errno == EPROTO)
		ctl_error(cmd, "%s: the daemon does not speak version %u of the control channel, "
			  "daxfs-ctl's", mnt, DAXFS_IOC_CTL_VERSION);
	else
		ctl_error(cmd, "%s: %s", mnt, strerror(errno));
	return -1;
}

/* Is c the piece of answer id, len bytes long, that starts at got? */
static bool piece_fits(const struct daxfs_ioc_ctl *c, uint32_t id, uint64_t len, size_t got)
{
	return c->answer == id && c->len == len && c->start == got && c->text_len > 0 &&
	       c->text_len <= sizeof(c->text) && c->text_len <= len - got;
}

/* Every piece of the answer whose first piece c holds, into *buf. Returns
 * 0, -1 (message printed), or with retry -ESTALE (nothing printed) when
 * another command's answer took this one's place in the daemon. */
static int fetch(const struct ctl_command *cmd, int fd, const char *mnt, unsigned long request,
		 struct daxfs_ioc_ctl *c, bool retry, char **buf)
{
	const uint64_t len = c->len;
	const uint32_t id = c->answer, op = c->op;
	size_t got = 0;

	*buf = NULL;
	if (len > DM_IOC_WIRE_MAX) {
		ctl_error(cmd, "%s: the daemon's answer of %" PRIu64 " bytes is larger than the "
			  "%u daxfs-ctl reads", mnt, len, DM_IOC_WIRE_MAX);
		return -1;
	}
	if (!(*buf = malloc(len))) {
		ctl_error(cmd, "out of memory");
		return -1;
	}
	for (;;) {
		if (c->error == -ESTALE && retry)
			return -ESTALE;
		if (c->error) {
			ctl_error(cmd, "%s: %.*s", mnt, (int)strnlen(c->text, sizeof(c->text)),
				  c->text);
			return -1;
		}
		if (!piece_fits(c, id, len, got)) {
			ctl_error(cmd, "%s: the daemon's answer is malformed: a piece of %u bytes at "
				  "byte %" PRIu64 " of answer %u (%" PRIu64 " bytes) where byte %zu "
				  "of answer %u (%" PRIu64 " bytes) was due", mnt, c->text_len,
				  c->start, c->answer, c->len, got, id, len);
			return -1;
		}
		memcpy(*buf + got, c->text, c->text_len);
		got += c->text_len;
		if (got == len)
			return 0;
		memset(c, 0, sizeof(*c));
		c->version = DAXFS_IOC_CTL_VERSION;
		c->flags = DAXFS_IOC_F_MORE;
		c->op = op;
		c->start = got;
		c->answer = id;
		if (ctl_send(cmd, fd, mnt, request, c))
			return -1;
	}
}

/* Prints text as the command's output: a line ends in a newline. */
static void print_text(const char *text, size_t n)
{
	if (!n)
		return;
	fwrite(text, 1, n, stdout);
	if (text[n - 1] != '\n')
		fputc('\n', stdout);
}

static int answer(const struct ctl_command *cmd, int fd, const char *mnt, unsigned long request,
		  ctl_render_fn render, struct daxfs_ioc_ctl *c, bool retry)
{
	const unsigned flags = c->flags;
	struct dm_ioctl_result res;
	char *buf, *out = NULL;
	size_t n = 0;
	FILE *f;
	int ret = CLI_EXIT_FAIL;

	if (c->error) {
		n = strnlen(c->text, sizeof(c->text));
		ctl_error(cmd, "%s: %.*s", mnt, (int)n, n ? c->text : strerror(-c->error));
		return CLI_EXIT_FAIL;
	}
	if (c->len == 0 && render) {
		ctl_error(cmd, "%s: the daemon answered without the result this command has", mnt);
		return CLI_EXIT_FAIL;
	}
	if (c->len == 0) {
		print_text(c->text, strnlen(c->text, sizeof(c->text)));
		return CLI_EXIT_OK;
	}
	if (!render) {
		ctl_error(cmd, "%s: the daemon answered with a result this command has none of",
			  mnt);
		return CLI_EXIT_FAIL;
	}
	if ((ret = fetch(cmd, fd, mnt, request, c, retry, &buf)) != 0) {
		free(buf);
		return ret == -ESTALE ? -ESTALE : CLI_EXIT_FAIL;
	}
	ret = CLI_EXIT_FAIL;
	if (dm_ioctl_result_decode(buf, c->start + c->text_len, &res) != 0) {
		ctl_error(cmd, "%s: %s", mnt, daxfs_errormsg());
	} else if ((f = open_memstream(&out, &n))) {
		render(f, &res, flags);
		if (fclose(f) == 0) {
			print_text(out, n);
			ret = CLI_EXIT_OK;
		} else {
			ctl_error(cmd, "out of memory");
		}
	} else {
		ctl_error(cmd, "out of memory");
	}
	free(out);
	dm_ioctl_result_free(&res);
	free(buf);
	return ret;
}

int ctl_answer(const struct ctl_command *cmd, int fd, const char *mnt, unsigned long request,
	       ctl_render_fn render, struct daxfs_ioc_ctl *c)
{
	return answer(cmd, fd, mnt, request, render, c, false);
}

int ctl_ask(const struct ctl_command *cmd, int fd, const char *mnt, unsigned long request,
	    ctl_render_fn render, struct daxfs_ioc_ctl *c)
{
	struct daxfs_ioc_ctl *rq = malloc(sizeof(*rq));
	int ret = CLI_EXIT_FAIL;

	if (!rq) {
		ctl_error(cmd, "out of memory");
		return CLI_EXIT_FAIL;
	}
	memcpy(rq, c, sizeof(*rq));
	/* Another daxfs-ctl's command between two pieces takes the answer's
	 * place in the daemon: ask again, as the daemon says. */
	for (int tries = 0; tries < 8; tries++) {
		memcpy(c, rq, sizeof(*c));
		if (ctl_send(cmd, fd, mnt, request, c) != 0)
			break;
		ret = answer(cmd, fd, mnt, request, render, c, tries < 7);
		if (ret != -ESTALE)
			break;
	}
	free(rq);
	return ret;
}
