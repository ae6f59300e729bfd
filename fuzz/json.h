/* fuzz/json.h - a strict JSON checker for the targets that fuzz JSON printers */
#ifndef DAXFS_FUZZ_JSON_H
#define DAXFS_FUZZ_JSON_H

#include <stddef.h>

/*
 * Checks that s[0, len) is one JSON value (RFC 8259) with optional white
 * space around it: strings of valid UTF-8 with no raw control characters,
 * numbers in JSON's grammar, nesting at most 64 deep. Returns 0, or the
 * offset + 1 of the first byte that breaks it.
 */
size_t json_check(const char *s, size_t len);

#endif
