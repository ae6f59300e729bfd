/* fuzz/answer.h - the daemon's device-control answers read as daxfs-ctl reads them */
#ifndef DAXFS_FUZZ_ANSWER_H
#define DAXFS_FUZZ_ANSWER_H

#include "ctl/render.h"
#include "daxfs/ioctl.h"

/* Asks the daemon for c (the next piece of an answer); ctx is the caller's. */
typedef void (*fuzz_ask_fn)(void *ctx, struct daxfs_ioc_ctl *c);

/*
 * c is an answer of the control channel (daxfs/ioctl.h). One without a
 * result must be NUL-terminated and as long as text_len says; of one with a
 * result, every piece must be where it says, the other pieces are asked for
 * with ask (the request number is cmd), and the whole must decode, encode
 * back to the same bytes, and render with flags (JSON: text that parses).
 * Returns the rendering (malloc'd; the caller frees it), or NULL for an
 * answer without a result or with an error. Fails the run otherwise.
 */
char *fuzz_ctl_answer(const struct daxfs_ioc_ctl *c, ctl_render_fn render, unsigned flags,
		      fuzz_ask_fn ask, void *ctx);

/* The renderer daxfs-ctl uses for a device-control number's result, or NULL. */
ctl_render_fn fuzz_ctl_renderer(unsigned cmd, unsigned op);

#endif
