/* tools/probe.h - what a member holds before mkfs.daxfs overwrites it */
#ifndef DAXFS_TOOLS_PROBE_H
#define DAXFS_TOOLS_PROBE_H

#include "daxfs/dm.h"

/*
 * Refuses, as mkfs.ext4 does without -F, to overwrite member index of t when
 * it holds something: a daxfs superblock or member label, another
 * filesystem's or a partition table's signature (libblkid, over the member's
 * area only), or any byte that is not zero (a regular file's data extents are
 * read whole; of a device, its area's first and last MiB). Prints why, naming
 * the file and ending in "use -f to overwrite it"; returns -EEXIST then, 0
 * when the member may be overwritten, or another -errno for a failed read.
 */
int probe_member(const char *progname, struct dm_table *t, unsigned index);

#endif
