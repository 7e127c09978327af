/* buf.c: a growable byte buffer (writers build headers in it) and small
 * allocation helpers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int dcc_grow(void **p, size_t *cap, size_t n, size_t more, size_t first)
{
	if (*p && more <= *cap - n)
		return 0;
	size_t c = *cap ? *cap : first;
	while (c - n < more) {
		if (c > SIZE_MAX / 2)
			return -1;
		c *= 2;
	}
	void *q = realloc(*p, c);
	if (!q)
		return -1;
	*p = q, *cap = c;
	return 0;
}

void dcc_buf_put(dcc_buf *b, const void *src, size_t n)
{
	if (b->oom)
		return;
	void *p = b->p;
	if (dcc_grow(&p, &b->cap, b->n, n, 256)) {
		b->oom = 1;
		return;
	}
	b->p = p;
	if (n)
		memcpy(b->p + b->n, src, n);
	b->n += n;
}

void dcc_buf_u8(dcc_buf *b, uint8_t v) { dcc_buf_put(b, &v, 1); }
void dcc_buf_u16(dcc_buf *b, uint16_t v)
{
	uint8_t t[2];
	dcc_wr16(t, v);
	dcc_buf_put(b, t, 2);
}
void dcc_buf_u32(dcc_buf *b, uint32_t v)
{
	uint8_t t[4];
	dcc_wr32(t, v);
	dcc_buf_put(b, t, 4);
}
void dcc_buf_u64(dcc_buf *b, uint64_t v)
{
	uint8_t t[8];
	dcc_wr64(t, v);
	dcc_buf_put(b, t, 8);
}
void dcc_buf_zeros(dcc_buf *b, size_t n)
{
	static const uint8_t z[64];
	while (n) {
		size_t k = n < sizeof(z) ? n : sizeof(z);
		dcc_buf_put(b, z, k);
		n -= k;
	}
}
void dcc_buf_free(dcc_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

char *dcc_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

int dcc_fwrite_all(FILE *fp, const void *p, size_t n, dcc_error *err)
{
	if (n && fwrite(p, 1, n, fp) != n)
		return dcc_fail(err, DCC_E_IO, "write failed: %s", strerror(errno));
	return 0;
}
