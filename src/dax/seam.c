/* dax/seam.c - the test seam of the persistence path: the environment and the fault build, read here only */
#include <stdlib.h>

#include "dax/seam.h"

#define TRACE_ENV "DAXFS_PERSIST_TRACE"

/* The one file compiled with the fault option (src/dax/meson.build). */
#if defined(DAXFS_PERSIST_FAULT_DROP_FLUSH)
const enum dax_persist_fault dax_persist_fault = DAX_FAULT_DROP_FLUSH;
#elif defined(DAXFS_PERSIST_FAULT_LATE_FLUSH)
const enum dax_persist_fault dax_persist_fault = DAX_FAULT_LATE_FLUSH;
#else
const enum dax_persist_fault dax_persist_fault = DAX_FAULT_NONE;
#endif

const char *dax_seam_trace_path(void)
{
	const char *path = getenv(TRACE_ENV);

	return path && *path ? path : NULL;
}
