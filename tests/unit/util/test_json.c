/* test_json.c - the one JSON string writer of the tree (util/json.c), byte by byte */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/json.h"

/* Each case: the bytes in, the literal that must come out. */
static const struct {
	const char *name, *in, *out;
} cases[] = {
	{ "test_json_plain_text_is_quoted", "abc /x", "\"abc /x\"" },
	{ "test_json_null_is_the_empty_string", NULL, "\"\"" },
	{ "test_json_quote_and_backslash_are_escaped", "a\"b\\c", "\"a\\\"b\\\\c\"" },
	{ "test_json_short_escapes_for_common_controls", "\n\r\t\b\f", "\"\\n\\r\\t\\b\\f\"" },
	{ "test_json_other_controls_and_del_as_u_escapes", "\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"" },
	{ "test_json_valid_utf8_is_copied", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
	  "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"" },
	{ "test_json_stray_continuation_byte_is_replaced", "a\x80z", "\"a\\ufffdz\"" },
	{ "test_json_truncated_sequence_is_replaced_byte_by_byte", "\xe2\x82", "\"\\ufffd\\ufffd\"" },
	{ "test_json_overlong_form_is_replaced", "\xc0\xaf", "\"\\ufffd\\ufffd\"" },
	{ "test_json_surrogate_is_replaced", "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"" },
	{ "test_json_past_u10ffff_is_replaced", "\xf4\x90\x80\x80",
	  "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" },
	{ "test_json_latin1_byte_is_replaced", "m-\xff" "x", "\"m-\\ufffdx\"" },
};

static int run(size_t i)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int ok;

	if (!f)
		abort();
	daxfs_json_string(f, cases[i].in);
	fclose(f);
	ok = strcmp(text, cases[i].out) == 0;
	if (!ok)
		fprintf(stderr, "%s:\n  got      %s\n  expected %s\n", cases[i].name, text,
			cases[i].out);
	free(text);
	return ok;
}

int main(int argc, char **argv)
{
	int failed = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool picked = argc < 2;

		for (int a = 1; a < argc; a++)
			picked |= strcmp(argv[a], cases[i].name) == 0;
		if (picked && !run(i))
			failed++;
	}
	if (strcmp(daxfs_json_bool(true), "true") || strcmp(daxfs_json_bool(false), "false")) {
		fprintf(stderr, "daxfs_json_bool\n");
		failed++;
	}
	return failed ? 1 : 0;
}
