/* tools/ctl/render.h - daxfs-ctl's one renderer of device-control results: dmsetup's text and JSON */
#ifndef DAXFS_TOOLS_CTL_RENDER_H
#define DAXFS_TOOLS_CTL_RENDER_H

#include <stdio.h>

#include "daxfs/dm.h"

/*
 * What daxfs-ctl table, info, status and badblocks print, from the result of
 * the dm command layer as the daemon's answer carried it (dm_ioctl_result_
 * decode; the filesystem's side of info and status is r->holder). flags are
 * the request's daxfs_ioc_flags: DAXFS_IOC_F_JSON, _VERBOSE, _INACTIVE.
 */
typedef void (*ctl_render_fn)(FILE *f, const struct dm_ioctl_result *r, unsigned flags);

/* table: dm_table_text's lines, or {"slot","targets":[{start,len,type,args}],"text"}. */
void ctl_render_table(FILE *f, const struct dm_ioctl_result *r, unsigned flags);
/* info: dmsetup info's text (with --verbose daxfs's lines before its blank
 * line), or one JSON object. */
void ctl_render_info(FILE *f, const struct dm_ioctl_result *r, unsigned flags);
/* status: dmsetup status's lines (--verbose: the daemon's counters after
 * them), or one JSON object. */
void ctl_render_status(FILE *f, const struct dm_ioctl_result *r, unsigned flags);
/* badblocks list: "SECTOR COUNT" lines, or a JSON array. */
void ctl_render_badblocks(FILE *f, const struct dm_ioctl_result *r, unsigned flags);

#endif
