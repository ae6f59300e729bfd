/* fuse/ctl.h - live device control of the mounted daemon: the transport of the control ioctls */
#ifndef DAXFS_FUSE_CTL_H
#define DAXFS_FUSE_CTL_H

#include "daxfs/ioctl.h"
#include "fuse/dfuse.h"

/*
 * One command: c carries the request in and the answer out (c->error, c->text,
 * see daxfs/ioctl.h). Each turns c into a request of the dm command layer
 * (dm_ioctl) and answers with its result encoded (dm_ioctl_result_encode),
 * the first piece of it; with DAXFS_IOC_F_MORE table, info, status and
 * badblocks list hand out the next piece of the answer held (daxfs-ctl
 * renders the whole). Commands are serialised by the control state's lock, so
 * a load/suspend/resume sequence from one daxfs-ctl is not interleaved with
 * another's single command. Returns nothing: the outcome is in c.
 */
typedef void (*dfuse_ctl_fn)(struct dfuse *df, struct daxfs_ioc_ctl *c);

void dfuse_ctl_table(struct dfuse *df, struct daxfs_ioc_ctl *c);
void dfuse_ctl_info(struct dfuse *df, struct daxfs_ioc_ctl *c);
void dfuse_ctl_status(struct dfuse *df, struct daxfs_ioc_ctl *c);
void dfuse_ctl_load(struct dfuse *df, struct daxfs_ioc_ctl *c);
void dfuse_ctl_suspend(struct dfuse *df, struct daxfs_ioc_ctl *c);
void dfuse_ctl_resume(struct dfuse *df, struct daxfs_ioc_ctl *c);
void dfuse_ctl_clear(struct dfuse *df, struct daxfs_ioc_ctl *c);
void dfuse_ctl_badblocks(struct dfuse *df, struct daxfs_ioc_ctl *c);
void dfuse_ctl_remove(struct dfuse *df, struct daxfs_ioc_ctl *c);
/* trace.c */
void dfuse_ctl_trace(struct dfuse *df, struct daxfs_ioc_ctl *c);
/* workers.c: answers with text, or one JSON object with DAXFS_IOC_F_JSON */
void dfuse_ctl_workers(struct dfuse *df, struct daxfs_ioc_ctl *c);

/* The answer of a command that returns no text: err < 0 with the library's
 * message (daxfs_errormsg), or success. */
void dfuse_ctl_answer(struct daxfs_ioc_ctl *c, int err);

/* Sets c's answer text, a reason or "" (an overlong one turns into
 * -EOVERFLOW), and says it carries no result. */
void dfuse_ctl_set_text(struct daxfs_ioc_ctl *c, const char *text);

/* Runs fn under the control lock. */
void dfuse_ctl_run(struct dfuse *df, dfuse_ctl_fn fn, struct daxfs_ioc_ctl *c);

#endif
