/* fixup.h: for the fuzz targets only -- a copy of the input with the
 * checksums of a .dcb or .dci recomputed, so mutations reach the checks
 * behind them instead of dying at the first CRC, and a small run of a
 * program the reader accepted on the emulator. */
#ifndef DCC_FUZZ_FIXUP_H
#define DCC_FUZZ_FIXUP_H

#include <stdlib.h>
#include <string.h>

#include "dcc.h"
#include "dcc_accel.h"

static inline uint8_t *fuzz_copy(const uint8_t *d, size_t n)
{
	uint8_t *c = malloc(n ? n : 1);
	if (c && n)
		memcpy(c, d, n);
	return c;
}

static inline uint32_t fz_rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static inline uint64_t fz_rd64(const uint8_t *p) { return fz_rd32(p) | (uint64_t)fz_rd32(p + 4) << 32; }
static inline void fz_wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

/* .dcb: the embedded container's, each layer record's and the header's crc. */
static inline void fuzz_fix_dcb(uint8_t *p, size_t n)
{
	if (n < 48)
		return;
	uint64_t rest = fz_rd64(p + 16);
	if (rest <= n - 48) {
		fz_wr32(p + 40, dcc_crc32c(0, p + 48, (size_t)rest));
		size_t pos = (48 + (size_t)rest + 7) & ~(size_t)7;
		for (uint32_t li = 0, nl = fz_rd32(p + 12); li < nl && pos < n && n - pos >= 64; li++) {
			uint32_t rs = fz_rd32(p + pos);
			if (rs < 64 || rs > n - pos)
				break;
			fz_wr32(p + pos + 4, dcc_crc32c(0, p + pos + 8, rs - 8));
			pos += rs;
		}
	}
	fz_wr32(p + 44, dcc_crc32c(0, p, 44));
}

/* .dci version 2: the body's crc and the header's. */
static inline void fuzz_fix_dci(uint8_t *p, size_t n)
{
	if (n < 128 || fz_rd32(p + 8) != 2)
		return;
	fz_wr32(p + 120, dcc_crc32c(0, p + 128, n - 128));
	fz_wr32(p + 124, dcc_crc32c(0, p, 124));
}

/* An accepted program with its DRAM image, run once on a patterned input
 * when it is small enough for a fuzzer's budget: the emulator must hold
 * whatever the program does. */
static inline void fuzz_run(const dcc_program *p)
{
	if (!p->dram || p->dram_bytes > (1u << 20) || p->buf_words > (1u << 16) || p->n > 4096)
		return;
	uint8_t *dram = fuzz_copy(p->dram, p->dram_bytes);
	if (!dram)
		return;
	for (uint32_t i = 0; i < p->in_len; i++) /* dcc_program_check put the input inside the image */
		fz_wr32(dram + p->in_addr + 4 * (size_t)i, (uint32_t)(i * 2654435761u) >> 20);
	dcc_accel_cfg c;
	dcc_accel_defaults(&c);
	c.pes = p->pes;
	if (p->convolvers)
		c.conv_pes = (int)p->conv_pes, c.convolvers = (int)p->convolvers, c.conv_k = (int)p->conv_k,
		c.conv_buf_kb = (int)p->conv_buf_kb;
	dcc_emu_stats st = {0};
	dcc_error e;
	dcc_emu_run(p, dram, &c, &st, &e);
	dcc_emu_stats_free(&st);
	free(dram);
}

#endif
