/* plain.c: the plain numeric view of a tensor used by exporters, and byte
 * swapping for big-endian inputs. */
#include <stdlib.h>

#include "formats.h"

size_t dcc_plain_size(int dtype)
{
	switch (dtype) {
	case DCC_F64: case DCC_I64: case DCC_U64: return 8;
	case DCC_F32: case DCC_I32: case DCC_U32: case DCC_Q32: return 4;
	case DCC_I16: case DCC_U16: case DCC_Q16: case DCC_F16: return 2;
	case DCC_I8: case DCC_U8: case DCC_BOOL: case DCC_Q8: return 1;
	}
	return 0;
}

int dcc_plain_view(const dcc_tensor *t, dcc_plain *p, dcc_error *err)
{
	p->owned = 0;
	p->data = t->data;
	p->nbytes = t->nbytes;
	switch (t->dtype) {
	case DCC_Q8: p->dtype = DCC_I8; return 0;
	case DCC_Q16: p->dtype = DCC_I16; return 0;
	case DCC_Q32: p->dtype = DCC_I32; return 0;
	case DCC_PACKED:
	case DCC_MASK: {
		uint64_t n = dcc_tensor_numel(t);
		int wide = t->dtype == DCC_PACKED && t->bits > 8;
		p->dtype = t->dtype == DCC_MASK ? DCC_BOOL : wide ? DCC_U16 : DCC_U8;
		size_t w = wide ? 2 : 1;
		if (n > SIZE_MAX / w)
			return dcc_fail(err, DCC_E_RANGE, "tensor '%s' too large", t->name);
		uint8_t *d = malloc(n ? (size_t)n * w : 1);
		if (!d)
			return dcc_fail(err, DCC_E_NOMEM, "out of memory unpacking '%s'", t->name);
		for (uint64_t i = 0; i < n; i++) {
			uint32_t v = t->dtype == DCC_MASK ? (uint32_t)((((const uint8_t *)t->data)[i / 8] >> (i % 8)) & 1)
							  : dcc_packed_get(t->data, t->bits, i);
			if (wide)
				dcc_wr16(d + 2 * i, (uint16_t)v);
			else
				d[i] = (uint8_t)v;
		}
		p->data = d;
		p->nbytes = (size_t)n * w;
		p->owned = 1;
		return 0;
	}
	default: p->dtype = t->dtype; return 0;
	}
}

void dcc_plain_free(dcc_plain *p)
{
	if (p && p->owned)
		free((void *)p->data);
	if (p)
		p->owned = 0;
}

void dcc_byteswap(void *p, size_t n, size_t w)
{
	uint8_t *b = p;
	if (w < 2)
		return;
	for (size_t i = 0; i < n; i++, b += w)
		for (size_t k = 0; k < w / 2; k++) {
			uint8_t t = b[k];
			b[k] = b[w - 1 - k];
			b[w - 1 - k] = t;
		}
}
