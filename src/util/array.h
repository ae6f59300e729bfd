/* util/array.h - room in an array that grows by doubling */
#ifndef DAXFS_UTIL_ARRAY_H
#define DAXFS_UTIL_ARRAY_H

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#include "util/err.h"

/*
 * Makes room for need elements of size bytes in the array *arrp (a T **)
 * whose capacity is *cap, doubling it from first. Returns 0, or -ENOMEM
 * with the message "<who>: out of memory", the array then as it was.
 * Call it through DAXFS_GROW, which takes the element size from the array.
 */
static inline int daxfs_grow(void **arrp, size_t *cap, size_t need, size_t size, size_t first,
			     const char *who)
{
	if (need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap * 2 : first;
	while (ncap < need)
		ncap *= 2;
	void *n = realloc(*arrp, ncap * size);
	if (!n)
		return daxfs_err(-ENOMEM, "%s: out of memory", who);
	*arrp = n;
	*cap = ncap;
	return 0;
}

#define DAXFS_GROW(arr, cap, need, first, who) \
	daxfs_grow((void **)&(arr), &(cap), (need), sizeof(*(arr)), (first), (who))

#endif
