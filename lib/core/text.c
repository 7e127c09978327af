/* text.c: text built in memory -- a growing string, for text written
 * whole once built (a chart's CSV, generated source) -- and names from
 * files made safe to print. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void dcc_sbuf_printf(dcc_sbuf *b, const char *fmt, ...)
{
	va_list ap;
	while (!b->oom) {
		va_start(ap, fmt);
		int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
		va_end(ap);
		if (k < 0) {
			b->oom = 1;
			return;
		}
		if (b->p && b->n + (size_t)k < b->cap) {
			b->n += (size_t)k;
			return;
		}
		void *p = b->p; /* room for the text and its NUL, then print again */
		if (dcc_grow(&p, &b->cap, b->n, (size_t)k + 1, 4096)) {
			b->oom = 1;
			return;
		}
		b->p = p;
	}
}

const char *dcc_sbuf_str(const dcc_sbuf *b)
{
	return b->p ? b->p : "";
}

void dcc_sbuf_free(dcc_sbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->n = b->cap = 0;
	b->oom = 0;
}

/* The length of the valid UTF-8 sequence at p, or 0 (overlong forms and
 * surrogates are not valid). */
static size_t utf8_len(const unsigned char *p)
{
	size_t len = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 && *p >= 0xc2 ? 2 : (*p & 0xf0) == 0xe0 ? 3
		   : (*p & 0xf8) == 0xf0 && *p <= 0xf4 ? 4 : 0;
	for (size_t k = 1; k < len; k++)
		if ((p[k] & 0xc0) != 0x80)
			return 0;
	if (len == 3 && ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0)))
		return 0;
	if (len == 4 && ((p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90)))
		return 0;
	return len;
}

int dcc_utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t len; *p; p += len)
		if (!(len = utf8_len(p)))
			return 0;
	return 1;
}

const char *dcc_escape(const char *s, char *buf, size_t cap)
{
	size_t o = 0;
	const unsigned char *p = (const unsigned char *)s;
	while (*p && o + 5 < cap) {
		size_t len = utf8_len(p);
		if (len == 1 && (*p < 0x20 || *p == 0x7f))
			len = 0; /* a control character: newline, escape */
		if (!len) {
			o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", *p++);
			continue;
		}
		if (o + len >= cap)
			break;
		memcpy(buf + o, p, len);
		o += len, p += len;
	}
	buf[o < cap ? o : cap - 1] = 0;
	return buf;
}
