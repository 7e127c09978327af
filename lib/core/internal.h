/* internal.h: helpers shared inside libdcc but not part of its public API. */
#ifndef DCC_INTERNAL_H
#define DCC_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "dcc.h"

uint32_t dcc_crc32c_sw(uint32_t crc, const void *buf, size_t n);

/* Little-endian loads and stores that never assume alignment. */
static inline uint16_t dcc_rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t dcc_rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t dcc_rd64(const uint8_t *p)
{
	return (uint64_t)dcc_rd32(p) | (uint64_t)dcc_rd32(p + 4) << 32;
}
/* Bits set in a 64-bit word, without the library call that __builtin_popcount
 * becomes on a baseline x86-64 build. */
static inline unsigned dcc_popcount64(uint64_t x)
{
	x -= (x >> 1) & 0x5555555555555555ull;
	x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
	return (unsigned)((x * 0x0101010101010101ull) >> 56);
}
/* Thread t's share [*lo, *hi) of n items split over nt threads in whole
 * blocks of align items (so each share starts on a block); the last ends at n. */
static inline void dcc_chunk(size_t n, size_t align, int nt, int t, size_t *lo, size_t *hi)
{
	size_t blocks = (n + align - 1) / align;
	*lo = blocks * (size_t)t / (size_t)nt * align;
	*hi = blocks * (size_t)(t + 1) / (size_t)nt * align;
	if (*hi > n)
		*hi = n;
	if (*lo > n)
		*lo = n;
}
static inline void dcc_wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void dcc_wr32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static inline void dcc_wr64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* |x| as bits: ordered like the magnitudes for every non-NaN float. */
static inline uint32_t dcc_abs_key(float x)
{
	uint32_t u;
	memcpy(&u, &x, 4);
	return u & 0x7fffffffu;
}

/* Float arrays selected from as one; the k-th smallest dcc_abs_key over
 * them (0-based, k < their total). */
typedef struct dcc_fspan {
	const float *x;
	size_t n;
} dcc_fspan;
uint32_t dcc_select_abs_key(const dcc_fspan *s, size_t ns, uint64_t k);

/* A growable byte buffer for writers. */
typedef struct dcc_buf {
	uint8_t *p;
	size_t n, cap;
	int oom;
} dcc_buf;

/* Makes room for `more` bytes past n in the block *p of *cap bytes (doubling
 * from `first`); 0, or -1 when memory (or size_t) runs out, *p kept. */
int dcc_grow(void **p, size_t *cap, size_t n, size_t more, size_t first);
void dcc_buf_put(dcc_buf *b, const void *src, size_t n);
void dcc_buf_u8(dcc_buf *b, uint8_t v);
void dcc_buf_u16(dcc_buf *b, uint16_t v);
void dcc_buf_u32(dcc_buf *b, uint32_t v);
void dcc_buf_u64(dcc_buf *b, uint64_t v);
void dcc_buf_zeros(dcc_buf *b, size_t n);
void dcc_buf_free(dcc_buf *b);

char *dcc_strdup(const char *s);
/* Tensor data: like malloc (zeroed if zero), free()d as usual; a large
 * block is aligned to 2 MB and advised into huge pages, so filling a
 * 400 MB layer takes hundreds of page faults, not a hundred thousand. */
void *dcc_alloc_data(size_t n, int zero);
/* Writes n bytes or fails with DCC_E_IO. */
int dcc_fwrite_all(FILE *fp, const void *p, size_t n, dcc_error *err);

#endif
