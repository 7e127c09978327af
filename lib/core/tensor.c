/* tensor.c: sizes, element access and packed bit fields of dcc_tensor. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

void *dcc_alloc_data(size_t n, int zero)
{
	const size_t huge = (size_t)2 << 20;
	if (n < huge) /* first touches of small pages cost more than the round-up wastes */
		return zero ? calloc(1, n ? n : 1) : malloc(n ? n : 1);
	void *p = NULL;
	size_t len = (n + huge - 1) / huge * huge;
	if (posix_memalign(&p, huge, len))
		return NULL;
#ifdef MADV_HUGEPAGE
	madvise(p, len, MADV_HUGEPAGE); /* advice: without it, small pages */
#endif
	if (zero)
		memset(p, 0, n);
	return p;
}

uint64_t dcc_tensor_numel(const dcc_tensor *t)
{
	uint64_t n = 1;
	for (int i = 0; i < t->ndim; i++)
		n *= t->shape[i];
	return n;
}

int dcc_tensor_size(int dtype, int bits, int ndim, const uint64_t *shape,
		    size_t *out, dcc_error *err)
{
	*out = 0;
	if (dtype < 0 || dtype >= DCC_DTYPE_COUNT)
		return dcc_fail(err, DCC_E_FORMAT, "unknown dtype %d", dtype);
	if (ndim < 0 || ndim > DCC_MAX_DIMS)
		return dcc_fail(err, DCC_E_RANGE, "%d dimensions (at most %d)", ndim, DCC_MAX_DIMS);
	if (dtype == DCC_PACKED && (bits < 1 || bits > 16))
		return dcc_fail(err, DCC_E_RANGE, "packed width %d bits (1 to 16)", bits);
	int eb = dcc_dtype_bits(dtype, bits);
	/* numel * eb must fit in 64 bits and the byte count in size_t. */
	uint64_t n = 1;
	for (int i = 0; i < ndim; i++) {
		if (shape[i] && n > UINT64_MAX / 64 / shape[i])
			return dcc_fail(err, DCC_E_RANGE, "shape overflows");
		n *= shape[i];
	}
	uint64_t b = (n * (uint64_t)eb + 7) / 8;
	if (b > SIZE_MAX)
		return dcc_fail(err, DCC_E_RANGE, "tensor too large for this machine");
	*out = (size_t)b;
	return 0;
}

uint32_t dcc_packed_get(const uint8_t *p, int bits, uint64_t i)
{
	uint64_t bit = i * (uint64_t)bits;
	const uint8_t *q = p + bit / 8;
	unsigned sh = bit % 8;
	/* A field of <= 16 bits starting at bit sh < 8 spans at most 3 bytes. */
	uint32_t w = q[0];
	if (sh + bits > 8)
		w |= (uint32_t)q[1] << 8;
	if (sh + bits > 16)
		w |= (uint32_t)q[2] << 16;
	return (w >> sh) & ((1u << bits) - 1);
}

void dcc_packed_set(uint8_t *p, int bits, uint64_t i, uint32_t v)
{
	uint64_t bit = i * (uint64_t)bits;
	uint8_t *q = p + bit / 8;
	unsigned sh = bit % 8;
	uint32_t m = ((1u << bits) - 1) << sh;
	v = (v << sh) & m;
	q[0] = (uint8_t)((q[0] & ~m) | v);
	if (sh + bits > 8)
		q[1] = (uint8_t)((q[1] & ~(m >> 8)) | (v >> 8));
	if (sh + bits > 16)
		q[2] = (uint8_t)((q[2] & ~(m >> 16)) | (v >> 16));
}

float *dcc_tensor_to_f32(const dcc_tensor *t)
{
	uint64_t n = dcc_tensor_numel(t);
	float *f = n < SIZE_MAX / sizeof(float) ? malloc((size_t)(n ? n : 1) * sizeof(float)) : NULL;
	for (uint64_t i = 0; f && i < n; i++)
		f[i] = (float)dcc_tensor_get(t, i);
	return f;
}

double dcc_tensor_get(const dcc_tensor *t, uint64_t i)
{
	const uint8_t *p = t->data;
	switch (t->dtype) {
	case DCC_F32: { float v; memcpy(&v, p + 4 * i, 4); return v; }
	case DCC_F64: { double v; memcpy(&v, p + 8 * i, 8); return v; }
	case DCC_I8: return ((const int8_t *)p)[i];
	case DCC_I16: { int16_t v; memcpy(&v, p + 2 * i, 2); return v; }
	case DCC_I32: { int32_t v; memcpy(&v, p + 4 * i, 4); return v; }
	case DCC_I64: { int64_t v; memcpy(&v, p + 8 * i, 8); return (double)v; }
	case DCC_U8: case DCC_BOOL: return p[i];
	case DCC_U16: { uint16_t v; memcpy(&v, p + 2 * i, 2); return v; }
	case DCC_U32: { uint32_t v; memcpy(&v, p + 4 * i, 4); return v; }
	case DCC_U64: { uint64_t v; memcpy(&v, p + 8 * i, 8); return (double)v; }
	case DCC_Q8: return ldexp(((const int8_t *)p)[i], -t->fl);
	case DCC_Q16: { int16_t v; memcpy(&v, p + 2 * i, 2); return ldexp(v, -t->fl); }
	case DCC_Q32: { int32_t v; memcpy(&v, p + 4 * i, 4); return ldexp(v, -t->fl); }
	case DCC_PACKED: return dcc_packed_get(p, t->bits, i);
	case DCC_MASK: return (p[i / 8] >> (i % 8)) & 1;
	case DCC_F16: { uint16_t v; memcpy(&v, p + 2 * i, 2); return dcc_f16_to_f32(v); }
	}
	return 0;
}

uint64_t dcc_tensor_count_nonzero(const dcc_tensor *t)
{
	uint64_t n = dcc_tensor_numel(t), nz = 0;
	const uint8_t *p = t->data;
	if (!p)
		return 0;
	switch (t->dtype) {
	case DCC_F32: {
		/* -0.0 is a zero: compare as floats, not bits. */
		for (uint64_t i = 0; i < n; i++) {
			float v;
			memcpy(&v, p + 4 * i, 4);
			nz += v != 0.0f;
		}
		return nz;
	}
	case DCC_F64: {
		for (uint64_t i = 0; i < n; i++) {
			double v;
			memcpy(&v, p + 8 * i, 8);
			nz += v != 0.0;
		}
		return nz;
	}
	case DCC_F16: /* -0 is a zero */
		for (uint64_t i = 0; i < n; i++) {
			uint16_t v;
			memcpy(&v, p + 2 * i, 2);
			nz += (v & 0x7fff) != 0;
		}
		return nz;
	case DCC_MASK:
		for (uint64_t i = 0; i < n / 64; i++) {
			uint64_t w;
			memcpy(&w, p + 8 * i, 8);
			nz += dcc_popcount64(w);
		}
		for (uint64_t i = n / 64 * 64; i < n; i++)
			nz += (p[i / 8] >> (i % 8)) & 1;
		return nz;
	case DCC_PACKED: {
		int b = t->bits;
		uint64_t i = 0;
		size_t byte = 0;
		if (b <= 8) { /* 8 fields in b bytes: OR each field's bits into its lowest, count those */
			uint64_t low = 0;
			for (int f = 0; f < 8; f++)
				low |= 1ull << (f * b);
			for (; i + 8 <= n; i += 8, byte += (size_t)b) {
				uint64_t w = 0, o;
				memcpy(&w, p + byte, byte + 8 <= t->nbytes ? 8 : (size_t)b); /* bits past 8b unused */
				o = w;
				for (int s = 1; s < b; s++)
					o |= w >> s;
				nz += dcc_popcount64(o & low);
			}
		}
		/* the rest (all of it above 8 bits): a streaming bit reader */
		uint64_t acc = 0, fmask = (1ull << b) - 1;
		int have = 0;
		for (; i < n; i++) {
			while (have < t->bits) {
				acc |= (uint64_t)p[byte++] << have;
				have += 8;
			}
			nz += (acc & fmask) != 0;
			acc >>= t->bits;
			have -= t->bits;
		}
		return nz;
	}
	default: {
		size_t w = (size_t)dcc_dtype_bits(t->dtype, t->bits) / 8;
		if (w == 1) { /* bytes (a data set's u8 images): a loop that vectorises */
			for (uint64_t i = 0; i < n; i++)
				nz += p[i] != 0;
			return nz;
		}
		for (uint64_t i = 0; i < n; i++) {
			const uint8_t *e = p + i * w;
			int any = 0;
			for (size_t k = 0; k < w; k++)
				any |= e[k];
			nz += any != 0;
		}
		return nz;
	}
	}
}
