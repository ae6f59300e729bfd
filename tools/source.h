/* tools/source.h - the SOURCE argument of mkfs.daxfs and fsck.daxfs */
#ifndef DAXFS_TOOLS_SOURCE_H
#define DAXFS_TOOLS_SOURCE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "daxfs/dm.h"

/*
 * SOURCE is a table file or a comma-separated list of pmem files (one linear
 * target each, concatenated). These helpers print their own messages, prefixed
 * with progname, and return 0 or a negative errno.
 */

/* What source_prepare did (or, dry, would do) to the files of a list. */
struct source_files {
	char **created;             /* made as sparse files */
	size_t ncreated;
	struct source_grown {
		char *path;
		off_t was;              /* its size before */
	} *grown;
	size_t ngrown;
};

/*
 * For mkfs -s SIZE: every file of a list SOURCE that does not exist is
 * created as a sparse regular file of size bytes (mode 0600), and every
 * regular file smaller than size is grown to it (sparse: its bytes stay). A
 * block device smaller than size is refused: it cannot grow. A table file
 * SOURCE names no file to make. With dry set, nothing is touched
 * and the plan is printed ("would create ...", "would grow ..."). What was
 * done is recorded in *sf for source_undo.
 */
int source_prepare(const char *progname, const char *source, uint64_t size, bool dry,
		   struct source_files *sf);
/* Removes the files source_prepare created and shrinks the ones it grew back
 * to their old size (the bytes it added were zeroes). */
void source_undo(struct source_files *sf);
void source_files_free(struct source_files *sf);

/* Opens source as a mapped device with a live table (dm_md_load_source),
 * its devices opened with open_flags (DAX_OPEN_*), and locks every device as
 * a mount does, so a mounted filesystem is refused (-EBUSY, "<file>: in use
 * by another daxfs mount"). */
int source_open(const char *progname, const char *source, unsigned open_flags,
		struct mapped_device **md);

#endif
