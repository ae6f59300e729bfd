/* daxfs/err.h - the error convention shared by every daxfs library */
#ifndef DAXFS_ERR_H
#define DAXFS_ERR_H

/*
 * Every library call that can fail returns a negative errno. Where it fails it
 * also leaves a human-readable message in a thread-local buffer; the caller
 * decides whether to print it. Libraries never write to stdout or stderr.
 */

/* The message of the last failure on this thread ("" if none). Valid until the
 * next daxfs call on this thread. */
const char *daxfs_errormsg(void);

#endif
