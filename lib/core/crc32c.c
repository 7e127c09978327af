/* crc32c.c: CRC32C (Castagnoli) for tensor and header checksums: the SSE4.2
 * instruction where the CPU has it, slicing-by-8 tables otherwise, and a
 * bytewise reference the tests compare both against. */
#include <stdint.h>
#include <string.h>

#include "dcc.h"

#define POLY 0x82f63b78u /* reflected Castagnoli polynomial */

static uint32_t table[8][256];
static int table_ready;

static void make_table(void)
{
	for (uint32_t n = 0; n < 256; n++) {
		uint32_t c = n;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ POLY : c >> 1;
		table[0][n] = c;
	}
	for (uint32_t n = 0; n < 256; n++)
		for (int k = 1; k < 8; k++)
			table[k][n] = (table[k - 1][n] >> 8) ^ table[0][table[k - 1][n] & 0xff];
	table_ready = 1;
}

uint32_t dcc_crc32c_ref(uint32_t crc, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc & 1) ? (crc >> 1) ^ POLY : crc >> 1;
	}
	return ~crc;
}

uint32_t dcc_crc32c_sw(uint32_t crc, const uint8_t *p, size_t n)
{
	if (!table_ready)
		make_table();
	crc = ~crc;
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, p, 8); /* little-endian hosts only, as dcc assumes */
		w ^= crc;
		crc = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^
		      table[5][(w >> 16) & 0xff] ^ table[4][(w >> 24) & 0xff] ^
		      table[3][(w >> 32) & 0xff] ^ table[2][(w >> 40) & 0xff] ^
		      table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
		p += 8;
		n -= 8;
	}
	while (n--)
		crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
	return ~crc;
}

/* a(x) b(x) mod P(x), reflected (bit 31 is x^0), as zlib's multmodp */
static uint32_t multmodp(uint32_t a, uint32_t b)
{
	uint32_t m = 1u << 31, p = 0;
	for (;;) {
		if (a & m) {
			p ^= b;
			if ((a & (m - 1)) == 0)
				break;
		}
		m >>= 1;
		b = b & 1 ? (b >> 1) ^ POLY : b >> 1;
	}
	return p;
}

/* x^(8 n) mod P: the operator that moves a CRC past n zero bytes */
static uint32_t xpow8n(size_t n)
{
	uint32_t p = 1u << 31, sq = 1u << 23; /* x^0, x^8 */
	for (; n; n >>= 1) {
		if (n & 1)
			p = multmodp(sq, p);
		sq = multmodp(sq, sq);
	}
	return p;
}

uint32_t dcc_crc32c_combine(uint32_t crc1, uint32_t crc2, size_t len2)
{
	return multmodp(xpow8n(len2), crc1) ^ crc2;
}

#if defined(__x86_64__) && defined(__GNUC__)
/* One stream waits on the instruction's 3-cycle latency; three independent
 * streams over thirds of a long buffer keep the unit busy, and their CRCs
 * combine exactly. */
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const uint8_t *p, size_t n)
{
	if (n >= 3 * 4096) {
		size_t L = n / 3 / 8 * 8;
		uint64_t a = ~crc, b = 0xffffffffu, c3 = 0xffffffffu;
		const uint8_t *q = p + L, *r = p + 2 * L;
		for (size_t i = 0; i < L; i += 8) {
			uint64_t x, y, z;
			memcpy(&x, p + i, 8), memcpy(&y, q + i, 8), memcpy(&z, r + i, 8);
			a = __builtin_ia32_crc32di(a, x);
			b = __builtin_ia32_crc32di(b, y);
			c3 = __builtin_ia32_crc32di(c3, z);
		}
		uint32_t ca = ~(uint32_t)a, cb = ~(uint32_t)b, cc = ~(uint32_t)c3;
		uint32_t rest = crc_hw(cc, r + L, n - 3 * L); /* the third's tail */
		return dcc_crc32c_combine(dcc_crc32c_combine(ca, cb, L), rest, n - 2 * L);
	}
	uint64_t c = ~crc;
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		c = __builtin_ia32_crc32di(c, w);
		p += 8;
		n -= 8;
	}
	uint32_t c32 = (uint32_t)c;
	while (n--)
		c32 = __builtin_ia32_crc32qi(c32, *p++);
	return ~c32;
}
#endif

uint32_t dcc_crc32c(uint32_t crc, const void *buf, size_t n)
{
#if defined(__x86_64__) && defined(__GNUC__)
	static int hw = -1;
	if (hw < 0) {
		__builtin_cpu_init();
		hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
	}
	if (hw)
		return crc_hw(crc, buf, n);
#endif
	return dcc_crc32c_sw(crc, buf, n);
}
