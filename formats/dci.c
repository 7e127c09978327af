/* dci.c: the program file (formats/isa.md): version 2 holds the
 * instructions and the DRAM image they address, with the input's shape and
 * formats, so a program runs as written without its blob; version 1 (the
 * instructions only) is still read.  Every field is checked
 * (dcc_program_check) before a program is handed on. */
#include <stdlib.h>
#include <string.h>

#include "../lib/core/internal.h"
#include "../lib/dcc_isa.h"
#include "dcc_formats.h"

static const uint8_t MAGIC[8] = {0x89, 'D', 'C', 'I', '\r', '\n', 0x1a, '\n'};
#define HDR1 64
#define HDR2 128

int dcc_dci_sniff(const void *buf, size_t n)
{
	return n >= 8 && !memcmp(buf, MAGIC, 8);
}

static void put_insns(uint8_t *q, const dcc_program *p)
{
	for (size_t i = 0; i < p->n; i++, q += DCC_INSN_BYTES) {
		const dcc_insn *s = &p->insn[i];
		q[0] = s->op, q[1] = s->flags, q[2] = s->a, q[3] = s->b;
		dcc_wr32(q + 4, s->x), dcc_wr32(q + 8, s->y), dcc_wr32(q + 12, s->z);
	}
}

int dcc_dci_write_mem(const dcc_program *p, uint8_t **out, size_t *len, dcc_error *err)
{
	*out = NULL;
	int rc = dcc_program_check(p, err);
	if (rc)
		return rc;
	size_t code = p->n * DCC_INSN_BYTES, n = HDR2 + code + p->dram_bytes + 16 * p->norm.n;
	if (!p->dram) { /* version 1: the instructions only; the blob rebuilds the image */
		uint8_t *v1 = calloc(1, HDR1 + code);
		if (!v1)
			return dcc_fail(err, DCC_E_NOMEM, "out of memory");
		memcpy(v1, MAGIC, 8);
		const uint32_t f[13] = {1, (uint32_t)p->n, p->blob_crc, p->dram_bytes, p->in_addr, p->in_len, p->out_addr,
					p->out_len, p->buf_words, (uint32_t)p->pes, p->convolvers | p->conv_pes << 16,
					p->conv_k, p->conv_buf_kb};
		for (int k = 0; k < 13; k++)
			dcc_wr32(v1 + 8 + 4 * k, f[k]);
		put_insns(v1 + HDR1, p);
		dcc_wr32(v1 + 60, dcc_crc32c(0, v1, 60) ^ dcc_crc32c(0, v1 + HDR1, code));
		*out = v1;
		*len = HDR1 + code;
		return 0;
	}
	uint8_t *b = calloc(1, n);
	if (!b)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	memcpy(b, MAGIC, 8);
	const uint32_t f[13] = {2, (uint32_t)p->n, p->blob_crc, p->dram_bytes, p->in_addr, p->in_len, p->out_addr,
				p->out_len, p->buf_words, (uint32_t)p->pes, p->convolvers | p->conv_pes << 16, p->conv_k,
				p->conv_buf_kb};
	for (int k = 0; k < 13; k++)
		dcc_wr32(b + 8 + 4 * k, f[k]);
	/* byte 63: the head, 0 softmax_ce (what a file without it means), 1 bce, 2 mse */
	uint32_t head = p->head == DCC_OP_BCE ? 1 : p->head == DCC_OP_MSE ? 2 : 0;
	dcc_wr32(b + 60, (uint32_t)p->in_bw | (uint32_t)(uint8_t)(int8_t)p->in_fl << 8 |
				 (uint32_t)(uint8_t)(int8_t)p->out_fl << 16 | head << 24);
	dcc_wr32(b + 64, p->in_c), dcc_wr32(b + 68, p->in_h), dcc_wr32(b + 72, p->in_w);
	put_insns(b + HDR2, p);
	memcpy(b + HDR2 + code, p->dram, p->dram_bytes);
	dcc_wr32(b + 76, (uint32_t)p->norm.n); /* the means, then the stds, after the image */
	for (size_t k = 0; k < p->norm.n; k++) {
		uint64_t mv, sv;
		memcpy(&mv, &p->norm.mean[k], 8), memcpy(&sv, &p->norm.std[k], 8);
		dcc_wr64(b + HDR2 + code + p->dram_bytes + 8 * k, mv);
		dcc_wr64(b + HDR2 + code + p->dram_bytes + 8 * (p->norm.n + k), sv);
	}
	dcc_wr32(b + 120, dcc_crc32c(0, b + HDR2, n - HDR2));
	dcc_wr32(b + 124, dcc_crc32c(0, b, 124));
	*out = b;
	*len = n;
	return 0;
}

/* The fields both versions share, at bytes 8..59. */
static void get_common(const uint8_t *b, dcc_program *p)
{
	p->blob_crc = dcc_rd32(b + 16);
	p->dram_bytes = dcc_rd32(b + 20);
	p->in_addr = dcc_rd32(b + 24), p->in_len = dcc_rd32(b + 28);
	p->out_addr = dcc_rd32(b + 32), p->out_len = dcc_rd32(b + 36);
	p->buf_words = dcc_rd32(b + 40);
	p->pes = (int)(dcc_rd32(b + 44) > 65536 ? 65536 : dcc_rd32(b + 44));
	p->convolvers = dcc_rd32(b + 48) & 0xffff, p->conv_pes = dcc_rd32(b + 48) >> 16;
	p->conv_k = dcc_rd32(b + 52), p->conv_buf_kb = dcc_rd32(b + 56);
}

int dcc_dci_read_mem(const uint8_t *b, size_t len, dcc_program *p, dcc_error *err)
{
	memset(p, 0, sizeof(*p));
	if (len < HDR1 || memcmp(b, MAGIC, 8))
		return dcc_fail(err, DCC_E_FORMAT, "not a dcc program (bad magic)");
	uint32_t version = dcc_rd32(b + 8), n = dcc_rd32(b + 12);
	size_t hdr = version == 2 ? HDR2 : HDR1, code;
	if (version != 1 && version != 2)
		return dcc_fail(err, DCC_E_UNSUPPORTED, "program version %u (this dcc reads 1 and 2)", version);
	if (len < hdr)
		return dcc_fail(err, DCC_E_TRUNCATED, "program header truncated");
	if (n > (len - hdr) / DCC_INSN_BYTES)
		return dcc_fail(err, DCC_E_FORMAT, "program of %u instructions but %zu bytes", n, len);
	code = (size_t)n * DCC_INSN_BYTES;
	if (version == 1) {
		if (len - HDR1 != code)
			return dcc_fail(err, DCC_E_FORMAT, "program of %u instructions but %zu bytes", n, len);
		if ((dcc_crc32c(0, b, 60) ^ dcc_crc32c(0, b + HDR1, code)) != dcc_rd32(b + 60))
			return dcc_fail(err, DCC_E_CHECKSUM, "program checksum mismatch");
	} else {
		if (dcc_crc32c(0, b, 124) != dcc_rd32(b + 124))
			return dcc_fail(err, DCC_E_CHECKSUM, "program header checksum mismatch");
		uint32_t nn = dcc_rd32(b + 76);
		if (nn > DCC_NORM_MAX)
			return dcc_fail(err, DCC_E_FORMAT, "program: %u normalisation values (at most %d)", nn, DCC_NORM_MAX);
		if (len - HDR2 - code < 16ull * nn || len - HDR2 - code - 16ull * nn != dcc_rd32(b + 20))
			return dcc_fail(err, DCC_E_TRUNCATED, "program: a DRAM image of %llu bytes, the header says %u",
					(unsigned long long)(len - HDR2 - code - (len - HDR2 - code < 16ull * nn ? 0 : 16ull * nn)),
					dcc_rd32(b + 20));
		for (size_t k = 80; k < 120; k++)
			if (b[k])
				return dcc_fail(err, DCC_E_FORMAT, "program header: reserved bytes set");
		if (b[63] > 2)
			return dcc_fail(err, DCC_E_FORMAT, "program header: head %u (0 softmax_ce, 1 bce, 2 mse)", b[63]);
		if (dcc_crc32c(0, b + HDR2, len - HDR2) != dcc_rd32(b + 120))
			return dcc_fail(err, DCC_E_CHECKSUM, "program checksum mismatch");
	}
	get_common(b, p);
	p->n = n;
	if (!(p->insn = calloc(n ? n : 1, sizeof(dcc_insn))))
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const uint8_t *q = b + hdr + i * DCC_INSN_BYTES;
		dcc_insn *s = &p->insn[i];
		s->op = q[0], s->flags = q[1], s->a = q[2], s->b = q[3];
		s->x = dcc_rd32(q + 4), s->y = dcc_rd32(q + 8), s->z = dcc_rd32(q + 12);
	}
	if (version == 2) {
		uint32_t fm = dcc_rd32(b + 60);
		p->in_bw = (int)(fm & 0xff), p->in_fl = (int8_t)(fm >> 8), p->out_fl = (int8_t)(fm >> 16);
		p->head = b[63] == 1 ? DCC_OP_BCE : b[63] == 2 ? DCC_OP_MSE : DCC_OP_SOFTMAX_CE;
		p->in_c = dcc_rd32(b + 64), p->in_h = dcc_rd32(b + 68), p->in_w = dcc_rd32(b + 72);
		if (!(p->dram = malloc(p->dram_bytes ? p->dram_bytes : 1))) {
			dcc_program_free(p);
			return dcc_fail(err, DCC_E_NOMEM, "out of memory");
		}
		memcpy(p->dram, b + HDR2 + code, p->dram_bytes);
		p->norm.n = dcc_rd32(b + 76);
		for (size_t k = 0; k < p->norm.n; k++) {
			uint64_t mv = dcc_rd64(b + HDR2 + code + p->dram_bytes + 8 * k),
				 sv = dcc_rd64(b + HDR2 + code + p->dram_bytes + 8 * (p->norm.n + k));
			memcpy(&p->norm.mean[k], &mv, 8), memcpy(&p->norm.std[k], &sv, 8);
		}
	}
	int rc = dcc_program_check(p, err);
	if (rc)
		dcc_program_free(p);
	return rc;
}
