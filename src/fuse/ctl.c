/* fuse/ctl.c - the device-control transport: a control ioctl in, a dm command, the answer out */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daxfs/dm.h"
#include "fuse/client.h"
#include "fuse/ctl.h"
#include "fuse/holders.h"
#include "fuse/run.h"

struct dfuse_ctl {
	pthread_mutex_t lock;          /* serialises commands */
	char *load;                    /* a table arriving in chunks (F_MORE) */
	size_t load_len;
	char *answer;                  /* an encoded result leaving in pieces (F_MORE) */
	size_t answer_len;
	uint32_t answer_id, last_id;   /* answer's, 0 without one; the last one given */
};

static int lockfs_freeze(void *data)
{
	return dfs_freeze(data);
}

static void lockfs_thaw(void *data)
{
	dfs_thaw(data);
}

static const struct dm_lockfs_ops lockfs_ops = {
	.freeze = lockfs_freeze,
	.thaw = lockfs_thaw,
};

/* What must hold before a staged table goes live: it holds the filesystem
 * (every member where mkfs put it), and no direct mapping (libdaxfs) can be
 * moved under its holder, unless forced (then it is revoked). */
/* A table went live: the filesystem matches later members against it, then
 * the kernel's cached pages are dropped (inval.c). */
static void swapped(void *data)
{
	struct dfuse *df = data;

	dfs_note_live_table(df->fs);
	dfuse_inval_swapped(df->inval);
}

static int resume_check(void *data, struct dm_table *staged, unsigned flags)
{
	struct dfuse *df = data;
	int err = dfs_check_table(df->fs, staged);

	return err ? err : dfuse_client_check_swap(df, flags & DM_IOC_F_FORCE);
}

int dfuse_dm(struct dfuse *df, const struct dm_ioctl_req *rq)
{
	struct dm_ioctl_result res;
	int err = dm_ioctl(df->md, rq, &res);

	dm_ioctl_result_free(&res);
	return err;
}

void dfuse_dm_destroy(struct dfuse *df)
{
	if (df->md && dfuse_dm(df, &(struct dm_ioctl_req){ .cmd = DM_IOC_DEV_REMOVE,
							   .flags = DM_IOC_F_DESTROY }) < 0)
		fuse_log(FUSE_LOG_ERR, "daxfs-fuse: %s\n", daxfs_errormsg());
	else
		df->md = NULL;
}

int dfuse_ctl_start(struct dfuse *df)
{
	struct dfuse_ctl *ctl = calloc(1, sizeof(*ctl));
	int err = -ENOMEM;

	if (!ctl)
		return -ENOMEM;
	pthread_mutex_init(&ctl->lock, NULL);
	df->ctl = ctl;
	if (dfuse_holders_new(df) != 0)
		goto fail;
	if (dfuse_trace_start(df) != 0)
		goto fail_holders;
	if ((err = dfuse_inval_start(df)) != 0)
		goto fail_trace;
	dfs_note_live_table(df->fs);
	(void)dfuse_dm(df, &(struct dm_ioctl_req){
		.cmd = DM_IOC_DEV_SET_HOOKS,
		.hooks = &(struct dm_ioc_hooks){ .lockfs = &lockfs_ops, .lockfs_data = df->fs,
						 .resume_check = resume_check,
						 .resume_check_data = df,
						 .swap = swapped,
						 .swap_data = df },
	});
	/* The mount holds the device open, as a mounted filesystem holds its
	 * block device: info's open count says so. */
	(void)dfuse_dm(df, &(struct dm_ioctl_req){ .cmd = DM_IOC_DEV_OPEN });
	return 0;
fail_trace:
	dfuse_trace_stop(df);
fail_holders:
	dfuse_holders_delete(df);
fail:
	pthread_mutex_destroy(&ctl->lock);
	df->ctl = NULL;
	free(ctl);
	return err;
}

void dfuse_ctl_stop(struct dfuse *df)
{
	struct dfuse_ctl *ctl = df->ctl;
	struct dm_ioctl_result res;
	struct dm_ioctl_req rq = { .cmd = DM_IOC_DEV_STATUS };
	struct dm_md_info info;

	if (!ctl)
		return;
	/* no more swaps to hand on, nor staged tables to check: only the
	 * lockfs hooks stay, for the resume below */
	(void)dfuse_dm(df, &(struct dm_ioctl_req){
		.cmd = DM_IOC_DEV_SET_HOOKS,
		.hooks = &(struct dm_ioc_hooks){ .lockfs = &lockfs_ops, .lockfs_data = df->fs },
	});
	dfs_forget_live_tables(df->fs);
	dfuse_inval_stop(df);
	/* Unmounting a suspended device: let the held writers finish first. */
	(void)dm_ioctl(df->md, &rq, &res);
	info = res.info;
	dm_ioctl_result_free(&res);
	/* A staged table is not swapped in by the unmount's resume. */
	if (info.inactive_present) {
		rq.cmd = DM_IOC_TABLE_CLEAR;
		(void)dm_ioctl(df->md, &rq, &res);
		dm_ioctl_result_free(&res);
	}
	if (info.suspended) {
		rq = (struct dm_ioctl_req){ .cmd = DM_IOC_DEV_RESUME, .flags = DM_IOC_F_NOLOCKFS };
		if (dm_ioctl(df->md, &rq, &res) < 0)
			fuse_log(FUSE_LOG_ERR, "daxfs-fuse: resume at unmount: %s\n",
				 daxfs_errormsg());
		dm_ioctl_result_free(&res);
	}
	dfs_thaw(df->fs);
	(void)dfuse_dm(df, &(struct dm_ioctl_req){ .cmd = DM_IOC_DEV_SET_HOOKS });
	/* last: a deferred remove happens at this close, and a removed device
	 * takes no resume */
	(void)dfuse_dm(df, &(struct dm_ioctl_req){ .cmd = DM_IOC_DEV_CLOSE });
	pthread_mutex_destroy(&ctl->lock);
	dfuse_trace_stop(df);
	dfuse_holders_delete(df);
	free(ctl->load);
	free(ctl->answer);
	free(ctl);
	df->ctl = NULL;
}

void dfuse_ctl_run(struct dfuse *df, dfuse_ctl_fn fn, struct daxfs_ioc_ctl *c)
{
	pthread_mutex_lock(&df->ctl->lock);
	fn(df, c);
	pthread_mutex_unlock(&df->ctl->lock);
}

/* ---- answers ----------------------------------------------------------- */

void dfuse_ctl_set_text(struct daxfs_ioc_ctl *c, const char *text)
{
	size_t n = strlen(text);

	if (n >= sizeof(c->text)) {
		c->error = -EOVERFLOW;
		snprintf(c->text, sizeof(c->text), "answer of %zu bytes does not fit the "
			 "control channel's %u", n, DAXFS_IOC_TEXT_MAX);
		c->text_len = (uint32_t)strlen(c->text);
		return;
	}
	memcpy(c->text, text, n + 1);
	c->text_len = (uint32_t)n;
	c->start = c->len = 0;
	c->answer = 0;
}

void dfuse_ctl_answer(struct daxfs_ioc_ctl *c, int err)
{
	const char *msg = daxfs_errormsg();

	c->error = err < 0 ? err : 0;
	dfuse_ctl_set_text(c, err >= 0 ? "" : msg[0] ? msg : strerror(-err));
}

static unsigned ioc_flags(const struct daxfs_ioc_ctl *c)
{
	return ((c->flags & DAXFS_IOC_F_INACTIVE) ? DM_IOC_F_INACTIVE : 0) |
	       ((c->flags & DAXFS_IOC_F_NOLOCKFS) ? DM_IOC_F_NOLOCKFS : 0) |
	       ((c->flags & DAXFS_IOC_F_DEFERRED) ? DM_IOC_F_DEFERRED : 0) |
	       ((c->flags & DAXFS_IOC_F_WIPE) ? DM_IOC_F_WIPE : 0) |
	       ((c->flags & DAXFS_IOC_F_FORCE) ? DM_IOC_F_FORCE : 0);
}

static void holder_state(struct dfuse *df, struct dm_holder_state *out)
{
	struct dfs_freeze_state st;

	dfs_freeze_state(df->fs, &st);
	*out = (struct dm_holder_state){
		.frozen = st.frozen,
		.writers_waiting = st.writers_waiting,
		.shutdown = dfs_shutdown_error(df->fs) != 0,
		.uses_dax = dfs_uses_dax(df->fs),
	};
}

/* Answers c with the piece of the held answer that starts at start. */
static void answer_piece(struct dfuse_ctl *ctl, struct daxfs_ioc_ctl *c, uint64_t start)
{
	size_t n = ctl->answer_len - start;

	if (n > sizeof(c->text))
		n = sizeof(c->text);
	memcpy(c->text, ctl->answer + start, n);
	c->error = 0;
	c->text_len = (uint32_t)n;
	c->start = start;
	c->len = ctl->answer_len;
	c->answer = ctl->answer_id;
	/* the last piece given, the answer is done with */
	if (start + n == ctl->answer_len) {
		free(ctl->answer);
		ctl->answer = NULL;
		ctl->answer_id = 0;
	}
}

/* F_MORE on a command with a result: the next piece of the answer c names. */
static void next_piece(struct dfuse *df, struct daxfs_ioc_ctl *c)
{
	struct dfuse_ctl *ctl = df->ctl;
	char msg[128];

	if (!ctl->answer || c->answer != ctl->answer_id) {
		snprintf(msg, sizeof(msg), "answer %u is no longer held (another command's answer "
			 "took its place): ask again", c->answer);
		c->error = -ESTALE;
		dfuse_ctl_set_text(c, msg);
	} else if (c->start >= ctl->answer_len) {
		snprintf(msg, sizeof(msg), "answer %u has %zu bytes: no piece starts at %" PRIu64,
			 c->answer, ctl->answer_len, c->start);
		c->error = -EINVAL;
		dfuse_ctl_set_text(c, msg);
	} else {
		answer_piece(ctl, c, c->start);
	}
}

/* Runs rq and answers c: the error, or with result (a command that has
 * one) its encoding, whose first piece c carries; daxfs-ctl asks for the
 * others. After a swap, the cached pages of open files are dropped before
 * the answer. */
static void command(struct dfuse *df, struct daxfs_ioc_ctl *c, const struct dm_ioctl_req *rq,
		    bool result)
{
	struct dfuse_ctl *ctl = df->ctl;
	struct dm_ioctl_result res;
	char *buf;
	size_t len;
	int err = dm_ioctl(df->md, rq, &res);

	/* whatever the answer: remove --force wipes the table and then fails
	 * with EBUSY on an open device, and a swap that did not happen leaves
	 * nothing to wait for */
	if (rq->cmd == DM_IOC_DEV_RESUME ||
	    (rq->cmd == DM_IOC_DEV_REMOVE && (rq->flags & DM_IOC_F_WIPE)))
		dfuse_inval_wait(df);
	if (err == 0 && result) {
		holder_state(df, &res.holder);
		err = dm_ioctl_result_encode(&res, &buf, &len);
	}
	dm_ioctl_result_free(&res);
	if (err < 0 || !result) {
		dfuse_ctl_answer(c, err);
		return;
	}
	free(ctl->answer);
	ctl->answer = buf;
	ctl->answer_len = len;
	ctl->answer_id = ++ctl->last_id ? ctl->last_id : ++ctl->last_id;
	answer_piece(ctl, c, 0);
}

/* ---- the commands ------------------------------------------------------- */

/* A command that is one request of the command layer, answered with its
 * encoded result (result false: none). */
#define DM_COMMAND(name, dm_cmd, result) \
	void dfuse_ctl_##name(struct dfuse *df, struct daxfs_ioc_ctl *c) \
	{ \
		if ((result) && (c->flags & DAXFS_IOC_F_MORE)) \
			next_piece(df, c); \
		else \
			command(df, c, &(struct dm_ioctl_req){ .cmd = (dm_cmd), \
						       .flags = ioc_flags(c) }, (result)); \
	}

DM_COMMAND(table, DM_IOC_TABLE_STATUS, true)
DM_COMMAND(info, DM_IOC_DEV_STATUS, true)
DM_COMMAND(status, DM_IOC_STATUS, true)
DM_COMMAND(suspend, DM_IOC_DEV_SUSPEND, false)
DM_COMMAND(resume, DM_IOC_DEV_RESUME, false)
DM_COMMAND(clear, DM_IOC_TABLE_CLEAR, false)
DM_COMMAND(remove, DM_IOC_DEV_REMOVE, false)

#define LOAD_MAX (1u << 20)

void dfuse_ctl_load(struct dfuse *df, struct daxfs_ioc_ctl *c)
{
	struct dfuse_ctl *ctl = df->ctl;
	size_t n = c->text_len;

	if (n >= sizeof(c->text) || memchr(c->text, '\0', n)) {
		c->error = -EINVAL;
		dfuse_ctl_set_text(c, "load: text_len does not match the text");
		goto drop;
	}
	if (ctl->load_len + n > LOAD_MAX) {
		c->error = -E2BIG;
		dfuse_ctl_set_text(c, "load: table text larger than 1 MiB");
		goto drop;
	}
	char *p = realloc(ctl->load, ctl->load_len + n + 1);

	if (!p) {
		c->error = -ENOMEM;
		dfuse_ctl_set_text(c, "out of memory");
		goto drop;
	}
	ctl->load = p;
	memcpy(p + ctl->load_len, c->text, n);
	ctl->load_len += n;
	p[ctl->load_len] = '\0';
	if (c->flags & DAXFS_IOC_F_MORE) {
		dfuse_ctl_set_text(c, "");
		return;
	}
	command(df, c, &(struct dm_ioctl_req){ .cmd = DM_IOC_TABLE_LOAD, .text = ctl->load,
					       .origin = "load" }, false);
drop:
	free(ctl->load);
	ctl->load = NULL;
	ctl->load_len = 0;
}

void dfuse_ctl_badblocks(struct dfuse *df, struct daxfs_ioc_ctl *c)
{
	struct dm_ioctl_req rq = { .text = c->text, .start = c->start, .len = c->len };

	if (c->op == DAXFS_IOC_OP_LIST && (c->flags & DAXFS_IOC_F_MORE)) {
		next_piece(df, c);
		return;
	}
	if (c->text_len == 0 || c->text_len >= sizeof(c->text) || c->text[c->text_len] != '\0' ||
	    strlen(c->text) != c->text_len) {
		c->error = -EINVAL;
		dfuse_ctl_set_text(c, "badblocks: no device path");
		return;
	}
	switch (c->op) {
	case DAXFS_IOC_OP_ADD:
		rq.cmd = DM_IOC_BADBLOCKS_ADD;
		break;
	case DAXFS_IOC_OP_CLEAR:
		rq.cmd = DM_IOC_BADBLOCKS_CLEAR;
		break;
	case DAXFS_IOC_OP_LIST:
		rq.cmd = DM_IOC_BADBLOCKS_LIST;
		break;
	default:
		c->error = -EINVAL;
		dfuse_ctl_set_text(c, "badblocks: unknown operation");
		return;
	}
	command(df, c, &rq, rq.cmd == DM_IOC_BADBLOCKS_LIST);
	/* daxfs-run maps again and meets the bad pages as the kernel does */
	if (rq.cmd != DM_IOC_BADBLOCKS_LIST && c->error == 0)
		dfuse_run_changed_all(df, false);
}
