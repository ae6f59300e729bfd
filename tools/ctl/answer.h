/* tools/ctl/answer.h - daxfs-ctl's side of the control channel (daxfs/ioctl.h) */
#ifndef DAXFS_TOOLS_CTL_ANSWER_H
#define DAXFS_TOOLS_CTL_ANSWER_H

#include "cli.h"
#include "ctl/ctl.h"
#include "ctl/render.h"
#include "daxfs/ioctl.h"

/*
 * Sends one request on fd, the mount's root. ioctl(2) failures are the
 * channel's (wrong file, no permission, another version: then the daemon's
 * version is asked for and named); the device's answer is in c. Returns 0
 * when the device answered, -1 (message printed) otherwise.
 */
int ctl_send(const struct ctl_command *cmd, int fd, const char *mnt, unsigned long request,
	     struct daxfs_ioc_ctl *c);

/*
 * Prints the device's answer to the request c answered: the reason on
 * stderr, or on stdout the text of a command without a result (render
 * NULL), or the result, its other pieces fetched with request and decoded
 * (dm_ioctl_result_decode: nothing in it is trusted), as render prints it
 * with the request's flags. A result where none belongs, or none where one
 * does, is refused. Returns CLI_EXIT_OK or CLI_EXIT_FAIL.
 */
int ctl_answer(const struct ctl_command *cmd, int fd, const char *mnt, unsigned long request,
	       ctl_render_fn render, struct daxfs_ioc_ctl *c);

/* ctl_send, then ctl_answer; sent again (up to 8 times in all) while
 * another command's answer takes this one's place between its pieces. */
int ctl_ask(const struct ctl_command *cmd, int fd, const char *mnt, unsigned long request,
	    ctl_render_fn render, struct daxfs_ioc_ctl *c);

#endif
