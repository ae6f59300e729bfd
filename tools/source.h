/* tools/source.h - the SOURCE argument of mkfs.daxfs and fsck.daxfs */
#ifndef DAXFS_TOOLS_SOURCE_H
#define DAXFS_TOOLS_SOURCE_H

#include <stdint.h>

#include "daxfs/dm.h"

/*
 * SOURCE is a table file or a comma-separated list of pmem files (one linear
 * target each, concatenated). These helpers print their own messages, prefixed
 * with progname, and return 0 or a negative errno.
 */

/* Creates every comma-separated component of source that does not exist as a
 * sparse regular file of size bytes (mode 0600). Existing files are left
 * as they are, whatever their size. */
int source_create_files(const char *progname, const char *source, uint64_t size);

/* Opens source as a mapped device with a live table (dm_md_open_source) and
 * locks every device as a mount does, so a mounted filesystem is refused
 * (-EBUSY, "<file>: in use by another daxfs mount"). */
int source_open(const char *progname, const char *source, struct mapped_device **md);

#endif
