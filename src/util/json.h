/* util/json.h - JSON string literals, shared by the daemon's answers and the tools' output (internal) */
#ifndef DAXFS_UTIL_JSON_H
#define DAXFS_UTIL_JSON_H

#include <stdbool.h>
#include <stdio.h>

/* Writes s (NULL: "") as a JSON string literal, quotes included, escaping
 * what RFC 8259 requires (quote, backslash, control characters) and DEL.
 * Valid UTF-8 is copied as it is; a byte that does not start one becomes
 * U+FFFD, so that the output parses whatever bytes a path or name holds. */
void daxfs_json_string(FILE *f, const char *s);

/* "true" or "false". */
const char *daxfs_json_bool(bool v);

#endif
