/* fuzz/json.c - a strict JSON checker for the targets that fuzz JSON printers */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "json.h"

struct parser {
	const unsigned char *s;
	size_t len, pos;
	unsigned depth;
};

static bool value(struct parser *p);

static void space(struct parser *p)
{
	while (p->pos < p->len && strchr(" \t\r\n", p->s[p->pos]) && p->s[p->pos])
		p->pos++;
}

static bool eat(struct parser *p, char c)
{
	if (p->pos < p->len && p->s[p->pos] == (unsigned char)c) {
		p->pos++;
		return true;
	}
	return false;
}

/* One UTF-8 sequence at p->pos, no overlong forms, surrogates or values past
 * U+10FFFF. */
static bool utf8(struct parser *p)
{
	unsigned char c = p->s[p->pos];
	unsigned n, cp;

	if (c < 0x80) {
		p->pos++;
		return true;
	}
	if ((c & 0xe0) == 0xc0) {
		n = 2;
		cp = c & 0x1f;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3;
		cp = c & 0x0f;
	} else if ((c & 0xf8) == 0xf0) {
		n = 4;
		cp = c & 0x07;
	} else {
		return false;
	}
	if (p->len - p->pos < n)
		return false;
	for (unsigned i = 1; i < n; i++) {
		if ((p->s[p->pos + i] & 0xc0) != 0x80)
			return false;
		cp = cp << 6 | (p->s[p->pos + i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return false;
	p->pos += n;
	return true;
}

static bool string(struct parser *p)
{
	if (!eat(p, '"'))
		return false;
	while (p->pos < p->len) {
		unsigned char c = p->s[p->pos];

		if (c == '"') {
			p->pos++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c != '\\') {
			if (!utf8(p))
				return false;
			continue;
		}
		if (++p->pos >= p->len)
			return false;
		c = p->s[p->pos++];
		if (c == 'u') {
			for (int i = 0; i < 4; i++, p->pos++)
				if (p->pos >= p->len || !strchr("0123456789abcdefABCDEF", p->s[p->pos]) ||
				    !p->s[p->pos])
					return false;
		} else if (!c || !strchr("\"\\/bfnrt", c)) {
			return false;
		}
	}
	return false;
}

static bool digits(struct parser *p)
{
	size_t start = p->pos;

	while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
		p->pos++;
	return p->pos > start;
}

static bool number(struct parser *p)
{
	eat(p, '-');
	if (eat(p, '0')) {
		if (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
			return false;
	} else if (!digits(p)) {
		return false;
	}
	if (eat(p, '.') && !digits(p))
		return false;
	if (eat(p, 'e') || eat(p, 'E')) {
		if (!eat(p, '+'))
			eat(p, '-');
		if (!digits(p))
			return false;
	}
	return true;
}

static bool word(struct parser *p, const char *w)
{
	size_t n = strlen(w);

	if (p->len - p->pos < n || memcmp(p->s + p->pos, w, n) != 0)
		return false;
	p->pos += n;
	return true;
}

/* An array (close ']') or object (close '}') after its opening bracket. */
static bool container(struct parser *p, char close)
{
	if (++p->depth > 64)
		return false;
	space(p);
	if (!eat(p, close)) {
		do {
			space(p);
			if (close == '}') {
				if (!string(p))
					return false;
				space(p);
				if (!eat(p, ':'))
					return false;
			}
			if (!value(p))
				return false;
			space(p);
		} while (eat(p, ','));
		if (!eat(p, close))
			return false;
	}
	p->depth--;
	return true;
}

static bool value(struct parser *p)
{
	space(p);
	if (p->pos >= p->len)
		return false;
	switch (p->s[p->pos]) {
	case '{':
		p->pos++;
		return container(p, '}');
	case '[':
		p->pos++;
		return container(p, ']');
	case '"':
		return string(p);
	case 't':
		return word(p, "true");
	case 'f':
		return word(p, "false");
	case 'n':
		return word(p, "null");
	default:
		return number(p);
	}
}

size_t json_check(const char *s, size_t len)
{
	struct parser p = { (const unsigned char *)s, len, 0, 0 };

	if (!value(&p))
		return p.pos + 1;
	space(&p);
	return p.pos == len ? 0 : p.pos + 1;
}
