/* tools/findfs.h - finding a daxfs by LABEL= or UUID= among the sources an administrator lists */
#ifndef DAXFS_TOOLS_FINDFS_H
#define DAXFS_TOOLS_FINDFS_H

#include <stdbool.h>

/* Where the candidates are listed unless $DAXFS_SOURCES names another file. */
#define FINDFS_SOURCES_FILE "/etc/daxfs/sources"

enum findfs_tag {
	FINDFS_NONE = 0,     /* a plain SOURCE */
	FINDFS_LABEL,
	FINDFS_UUID,
};

/*
 * "LABEL=name" and "UUID=uuid", and the same behind "daxfs:" (the spelling
 * for fstab: mount(8) resolves a bare LABEL= or UUID= itself, with libblkid,
 * which knows only block devices, and fails before it runs a helper). Sets
 * *value to what follows the '='.
 */
enum findfs_tag findfs_parse_tag(const char *spec, const char **value);

/* The sources file in use: $DAXFS_SOURCES, or FINDFS_SOURCES_FILE. */
const char *findfs_sources_file(void);

/*
 * Reads the superblock of every candidate the sources file lists (one a
 * line: a table file, a comma-separated list of pmem files, or a glob
 * pattern of table or pmem files; blank lines and '#' comments ignored) and
 * finds the one whose label or uuid is value. A candidate that cannot be
 * read, or holds no daxfs, is skipped (said on stderr with verbose).
 * Returns 0 and the candidate in *source (malloc'd); -ENXIO when none
 * matches (nothing printed); otherwise prints why, prefixed with progname,
 * and returns a negative errno (-ENOTUNIQ: more than one matches; the
 * errno of the sources file when it cannot be read).
 */
int findfs_resolve(const char *progname, enum findfs_tag tag, const char *value, bool verbose,
		  char **source);

#endif
