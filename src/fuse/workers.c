/* fuse/workers.c - the workers control command: the worker pool's state and counters, for tuning it */
#include <errno.h>
#include <stdio.h>

#include "fuse/ctl.h"
#include "fuse/pool.h"

/* The share of looks that found the next request, in whole percent. */
static unsigned found_percent(const struct dfuse_pool_stats *st)
{
	return st->polls ? (unsigned)(st->polled * 100 / st->polls) : 0;
}

static void workers_json(char *buf, size_t size, const struct dfuse_pool_stats *st)
{
	snprintf(buf, size, "{\"single_thread\":false,\"workers\":%u,\"idle\":%u,\"waiting\":%u,"
		 "\"hot\":%u,\"max\":%u,\"stall_us\":%u,\"poll_us\":%u,\"requests\":%llu,"
		 "\"all_busy\":%llu,\"looks\":%llu,\"looks_found\":%llu,\"look_us\":%u,"
		 "\"looking\":%s}\n", st->workers, st->idle, st->waiting, st->cfg.hot,
		 st->cfg.max, st->cfg.stall_us, st->cfg.poll_us, st->requests, st->all_busy,
		 st->polls, st->polled, st->look_us, st->polling ? "true" : "false");
}

static void workers_text(char *buf, size_t size, const struct dfuse_pool_stats *st)
{
	snprintf(buf, size,
		 "Workers:           %u (%u idle, %u in a wait another request ends)\n"
		 "Kept, at most:     %u, %u (one more after %u us with all busy)\n"
		 "Requests:          %llu\n"
		 "All busy:          %llu times\n"
		 "Looks:             %llu after a reply, %llu found the next request (%u%%)\n"
		 "Next look:         %u us (poll_us %u)%s\n",
		 st->workers, st->idle, st->waiting, st->cfg.hot, st->cfg.max, st->cfg.stall_us,
		 st->requests, st->all_busy, st->polls, st->polled, found_percent(st),
		 st->look_us, st->cfg.poll_us, st->polling ? ", one worker looking now" : "");
}

void dfuse_ctl_workers(struct dfuse *df, struct daxfs_ioc_ctl *c)
{
	struct dfuse_pool_stats st;
	bool json = c->flags & DAXFS_IOC_F_JSON;
	char buf[1024];

	(void)df;
	/* -s: the main thread reads and serves every request itself */
	if (dfuse_pool_stats(&st) == -ENOENT)
		snprintf(buf, sizeof(buf), json ? "{\"single_thread\":true}\n" :
			 "Workers:           none: the main thread serves every request (-s)\n");
	else if (json)
		workers_json(buf, sizeof(buf), &st);
	else
		workers_text(buf, sizeof(buf), &st);
	dfuse_ctl_set_text(c, buf);
}
