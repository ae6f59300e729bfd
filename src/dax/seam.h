/* dax/seam.h - the test seam of the persistence path: the only way its test-only behaviour comes in (private) */
#ifndef DAXFS_DAX_SEAM_H
#define DAXFS_DAX_SEAM_H

/*
 * Crash testing (docs/CRASH.md) needs two things production code must not
 * grow conditionals for: a trace of every persist point, asked for by the
 * environment, and builds with a durability bug on purpose, to prove the
 * crash checker finds one. Both enter through this seam, whose one file
 * (seam.c) is the only one that reads the environment or the build's
 * fault option; persist.c and recorder.c ask it, with one load and one
 * predictable branch.
 */
enum dax_persist_fault {
	DAX_FAULT_NONE = 0,         /* every normal build */
	DAX_FAULT_DROP_FLUSH,       /* -Dpersist_fault=drop_flush: every second flush is lost */
	DAX_FAULT_LATE_FLUSH,       /* -Dpersist_fault=late_flush: a flush is recorded after its drain */
};

/* The fault this build injects (meson -Dpersist_fault), fixed at build time. */
extern const enum dax_persist_fault dax_persist_fault;

/* The file the persistence recorder writes to (the DAXFS_PERSIST_TRACE
 * environment variable), or NULL when it is off. */
const char *dax_seam_trace_path(void);

#endif
