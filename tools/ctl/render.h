/* tools/ctl/render.h - daxfs-ctl's one renderer of device-control results: dmsetup's text and JSON */
#ifndef DAXFS_TOOLS_CTL_RENDER_H
#define DAXFS_TOOLS_CTL_RENDER_H

#include <stdbool.h>
#include <stdio.h>

#include "daxfs/dm.h"

/*
 * What daxfs-ctl table, info, status and badblocks print, from the result of
 * the dm command layer (dm_ioctl). The daemon answers the control channel
 * with this text (the channel carries text, daxfs/ioctl.h), so the formats
 * live here once, next to daxfs-ctl's other printers.
 */

/* The filesystem's side of info and status. */
struct ctl_fs_state {
	bool frozen;
	unsigned writers_waiting;
	bool shutdown;                /* after an I/O error */
	bool uses_dax;
};

enum ctl_render_flags {
	CTL_RENDER_JSON = 1u << 0,
	CTL_RENDER_VERBOSE = 1u << 1,
	CTL_RENDER_INACTIVE = 1u << 2,    /* table: the staged slot */
};

/* table: dm_table_text's lines, or {"slot","targets":[{start,len,type,args}],"text"}. */
void ctl_render_table(FILE *f, const struct dm_ioctl_result *r, unsigned flags);
/* info: dmsetup info's text (with --verbose daxfs's lines before its blank
 * line), or one JSON object. */
void ctl_render_info(FILE *f, const struct dm_ioctl_result *r, const struct ctl_fs_state *fs,
		     unsigned flags);
/* status: dmsetup status's lines (--verbose: the daemon's counters after
 * them), or one JSON object. */
void ctl_render_status(FILE *f, const struct dm_ioctl_result *r, const struct ctl_fs_state *fs,
		       unsigned flags);
/* badblocks list: "SECTOR COUNT" lines, or a JSON array. */
void ctl_render_badblocks(FILE *f, const struct dm_ioctl_result *r, unsigned flags);

#endif
