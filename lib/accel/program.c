/* program.c: the accelerator's program -- binary form (formats/isa.md),
 * text assembly, and the compiler that lays a model out in DRAM. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "../dcc_accel.h"
#include "../dcc_encode.h"
#include "../dcc_fixed.h"

static const uint8_t MAGIC[8] = {0x89, 'D', 'C', 'I', '\r', '\n', 0x1a, '\n'};
#define PHDR 64

static inline uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static inline void wr32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24); }

void dcc_program_free(dcc_program *p)
{
	free(p->insn);
	memset(p, 0, sizeof(*p));
}

int dcc_program_write(const dcc_program *p, uint8_t **out, size_t *len, dcc_error *err)
{
	size_t n = PHDR + p->n * DCC_INSN_BYTES;
	uint8_t *b = calloc(1, n);
	if (!b)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	memcpy(b, MAGIC, 8);
	wr32(b + 8, 1);
	wr32(b + 12, (uint32_t)p->n);
	wr32(b + 16, p->blob_crc);
	wr32(b + 20, p->dram_bytes);
	wr32(b + 24, p->in_addr);
	wr32(b + 28, p->in_len);
	wr32(b + 32, p->out_addr);
	wr32(b + 36, p->out_len);
	wr32(b + 40, p->buf_words);
	wr32(b + 44, (uint32_t)p->pes);
	wr32(b + 48, p->convolvers | p->conv_pes << 16);
	wr32(b + 52, p->conv_k);
	wr32(b + 56, p->conv_buf_kb);
	for (size_t i = 0; i < p->n; i++) {
		uint8_t *q = b + PHDR + i * DCC_INSN_BYTES;
		const dcc_insn *s = &p->insn[i];
		q[0] = s->op, q[1] = s->flags, q[2] = s->a, q[3] = s->b;
		wr32(q + 4, s->x), wr32(q + 8, s->y), wr32(q + 12, s->z);
	}
	wr32(b + 60, dcc_crc32c(0, b, 60) ^ dcc_crc32c(0, b + PHDR, n - PHDR));
	*out = b;
	*len = n;
	return 0;
}

static int check_insn(const dcc_program *p, size_t i, dcc_error *err)
{
	const dcc_insn *s = &p->insn[i];
	switch (s->op) {
	case DCC_INSN_END:
	case DCC_INSN_SYNC:
		return 0;
	case DCC_INSN_LOAD:
	case DCC_INSN_STORE:
		if (s->a >= DCC_NBUF)
			return dcc_fail(err, DCC_E_FORMAT, "instruction %zu: buffer %u does not exist", i, s->a);
		if ((uint64_t)s->x + 4ull * s->y > p->dram_bytes || s->x % 4)
			return dcc_fail(err, DCC_E_RANGE, "instruction %zu: DRAM [%u, +%u words) is outside the %u-byte DRAM", i,
					s->x, s->y, p->dram_bytes);
		if ((uint64_t)s->z + s->y > p->buf_words)
			return dcc_fail(err, DCC_E_RANGE, "instruction %zu: buffer range [%u, +%u) beyond %u words", i, s->z, s->y,
					p->buf_words);
		return 0;
	case DCC_INSN_LSTMCELL:
		if (s->a >= DCC_NBUF || s->b >= DCC_NBUF || s->a == s->b)
			return dcc_fail(err, DCC_E_FORMAT, "instruction %zu: lstmcell needs two different buffers", i);
		if ((uint64_t)s->x + 64 > p->dram_bytes || s->x % 4)
			return dcc_fail(err, DCC_E_RANGE, "instruction %zu: descriptor at %u is outside DRAM", i, s->x);
		return 0;
	case DCC_INSN_SPMV:
	case DCC_INSN_SPCONV:
		if (s->a >= DCC_NBUF || s->b >= DCC_NBUF || (s->op == DCC_INSN_SPCONV && s->a == s->b))
			return dcc_fail(err, DCC_E_FORMAT, "instruction %zu: %s needs valid (and for spconv different) buffers",
					i, s->op == DCC_INSN_SPMV ? "spmv" : "spconv");
		if (s->z > p->buf_words)
			return dcc_fail(err, DCC_E_RANGE, "instruction %zu: input offset %u beyond the buffers", i, s->z);
		if ((uint64_t)s->x + (s->op == DCC_INSN_SPMV ? 64 : 128) > p->dram_bytes || s->x % 4)
			return dcc_fail(err, DCC_E_RANGE, "instruction %zu: descriptor at %u is outside DRAM", i, s->x);
		return 0;
	case DCC_INSN_CONV:
		if (!p->convolvers)
			return dcc_fail(err, DCC_E_FORMAT, "instruction %zu: conv in a program without a convolver engine", i);
		if (s->a >= DCC_NBUF || s->b >= DCC_NBUF || s->a == s->b)
			return dcc_fail(err, DCC_E_FORMAT, "instruction %zu: conv needs two different buffers", i);
		if ((uint64_t)s->x + 128 > p->dram_bytes || s->x % 4)
			return dcc_fail(err, DCC_E_RANGE, "instruction %zu: descriptor at %u is outside DRAM", i, s->x);
		return 0;
	case DCC_INSN_ACT: {
		uint32_t bw = (s->z >> 16) & 0xff;
		if (s->flags > DCC_ACT_TANH || s->a >= DCC_NBUF || s->b >= DCC_NBUF || bw < 2 || bw > 32 || s->z >> 24)
			return dcc_fail(err, DCC_E_FORMAT, "instruction %zu: bad act", i);
		if (s->x > p->buf_words)
			return dcc_fail(err, DCC_E_RANGE, "instruction %zu: %u elements beyond the buffers", i, s->x);
		if ((uint64_t)s->y + 257 * 4 > p->dram_bytes || s->y % 4)
			return dcc_fail(err, DCC_E_RANGE, "instruction %zu: table at %u is outside DRAM", i, s->y);
		return 0;
	}
	case DCC_INSN_POOL: {
		uint64_t C = s->x, H = s->y >> 16, W = s->y & 0xffff, k = s->z >> 8, st = s->z & 0xff;
		if (s->flags > 1 || s->a >= DCC_NBUF || s->b >= DCC_NBUF || s->a == s->b || !C || !k || !st || k > H || k > W ||
		    C * H * W > p->buf_words)
			return dcc_fail(err, DCC_E_RANGE, "instruction %zu: maxpool geometry out of range", i);
		return 0;
	}
	case DCC_INSN_EWOP:
		if (s->flags > DCC_EW_COPY || s->a >= DCC_NBUF || s->b >= DCC_NBUF || s->y >= DCC_NBUF)
			return dcc_fail(err, DCC_E_FORMAT, "instruction %zu: bad ewop", i);
		if (s->x > p->buf_words)
			return dcc_fail(err, DCC_E_RANGE, "instruction %zu: %u elements beyond the buffers", i, s->x);
		return 0;
	}
	return dcc_fail(err, DCC_E_FORMAT, "instruction %zu: unknown opcode %u", i, s->op);
}

int dcc_program_read(const uint8_t *b, size_t len, dcc_program *p, dcc_error *err)
{
	memset(p, 0, sizeof(*p));
	if (len < PHDR || memcmp(b, MAGIC, 8))
		return dcc_fail(err, DCC_E_FORMAT, "not a dcc program (bad magic)");
	if (rd32(b + 8) != 1)
		return dcc_fail(err, DCC_E_UNSUPPORTED, "program version %u (this dcc reads 1)", rd32(b + 8));
	uint32_t n = rd32(b + 12);
	if ((len - PHDR) % DCC_INSN_BYTES || n != (len - PHDR) / DCC_INSN_BYTES)
		return dcc_fail(err, DCC_E_FORMAT, "program of %u instructions but %zu bytes", n, len);
	if ((dcc_crc32c(0, b, 60) ^ dcc_crc32c(0, b + PHDR, len - PHDR)) != rd32(b + 60))
		return dcc_fail(err, DCC_E_CHECKSUM, "program checksum mismatch");
	p->n = n;
	p->blob_crc = rd32(b + 16);
	p->dram_bytes = rd32(b + 20);
	p->in_addr = rd32(b + 24), p->in_len = rd32(b + 28);
	p->out_addr = rd32(b + 32), p->out_len = rd32(b + 36);
	p->buf_words = rd32(b + 40);
	p->pes = (int)rd32(b + 44);
	if (p->pes < 1 || p->pes > 65535)
		return dcc_fail(err, DCC_E_FORMAT, "program for %d PEs", p->pes);
	p->convolvers = rd32(b + 48) & 0xffff, p->conv_pes = rd32(b + 48) >> 16;
	p->conv_k = rd32(b + 52), p->conv_buf_kb = rd32(b + 56);
	if (p->convolvers && (!p->conv_pes || !p->conv_k || p->conv_k > 255 || !p->conv_buf_kb || p->conv_buf_kb > (1u << 20)))
		return dcc_fail(err, DCC_E_FORMAT, "program: bad convolver engine (%u x %u convolvers of %u, %u KB)",
				p->conv_pes, p->convolvers, p->conv_k, p->conv_buf_kb);
	if (!(p->insn = calloc(n ? n : 1, sizeof(dcc_insn))))
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const uint8_t *q = b + PHDR + i * DCC_INSN_BYTES;
		dcc_insn *s = &p->insn[i];
		s->op = q[0], s->flags = q[1], s->a = q[2], s->b = q[3];
		s->x = rd32(q + 4), s->y = rd32(q + 8), s->z = rd32(q + 12);
		if (check_insn(p, i, err)) {
			dcc_program_free(p);
			return err->code;
		}
	}
	if ((uint64_t)p->in_addr + 4ull * p->in_len > p->dram_bytes ||
	    (uint64_t)p->out_addr + 4ull * p->out_len > p->dram_bytes || p->buf_words > (1u << 28)) {
		dcc_program_free(p);
		return dcc_fail(err, DCC_E_RANGE, "program: input or output outside DRAM");
	}
	return 0;
}

static const char *const ew_names[] = {"relu", "add", "mul", "copy"};

int dcc_program_disasm(const dcc_program *p, char **text, dcc_error *err)
{
	dcc_buf b = {0};
	char line[160];
	int k = snprintf(line, sizeof(line),
			 ".blob_crc 0x%08x\n.pes %d\n.dram %u\n.input 0x%x %u\n.output 0x%x %u\n.buffers %u\n", p->blob_crc,
			 p->pes, p->dram_bytes, p->in_addr, p->in_len, p->out_addr, p->out_len, p->buf_words);
	dcc_buf_put(&b, line, (size_t)k);
	if (p->convolvers) {
		k = snprintf(line, sizeof(line), ".convolver pes=%u convolvers=%u k=%u buf_kb=%u\n", p->conv_pes,
			     p->convolvers, p->conv_k, p->conv_buf_kb);
		dcc_buf_put(&b, line, (size_t)k);
	}
	for (size_t i = 0; i < p->n; i++) {
		const dcc_insn *s = &p->insn[i];
		switch (s->op) {
		case DCC_INSN_END: k = snprintf(line, sizeof(line), "end\n"); break;
		case DCC_INSN_SYNC: k = snprintf(line, sizeof(line), "sync\n"); break;
		case DCC_INSN_LOAD:
		case DCC_INSN_STORE:
			k = snprintf(line, sizeof(line), "%s buf=%u dram=0x%x words=%u offset=%u\n",
				     s->op == DCC_INSN_LOAD ? "load" : "store", s->a, s->x, s->y, s->z);
			break;
		case DCC_INSN_SPMV:
			k = snprintf(line, sizeof(line), "spmv desc=0x%x in=%u out=%u offset=%u%s\n", s->x, s->a, s->b, s->z,
				     s->flags & 1 ? " relu" : "");
			break;
		case DCC_INSN_SPCONV:
			k = snprintf(line, sizeof(line), "spconv desc=0x%x in=%u out=%u%s\n", s->x, s->a, s->b,
				     s->flags & 1 ? " relu" : "");
			break;
		case DCC_INSN_CONV:
			k = snprintf(line, sizeof(line), "conv desc=0x%x in=%u out=%u%s\n", s->x, s->a, s->b,
				     s->flags & 1 ? " relu" : "");
			break;
		case DCC_INSN_LSTMCELL:
			k = snprintf(line, sizeof(line), "lstmcell desc=0x%x z=%u hc=%u\n", s->x, s->a, s->b);
			break;
		case DCC_INSN_POOL:
			k = snprintf(line, sizeof(line), "%s in=%u out=%u c=%u h=%u w=%u k=%u stride=%u\n",
				     s->flags ? "avgpool" : "maxpool", s->a, s->b, s->x, s->y >> 16, s->y & 0xffff, s->z >> 8,
				     s->z & 0xff);
			break;
		case DCC_INSN_ACT:
			k = snprintf(line, sizeof(line), "act %s in=%u out=%u n=%u table=0x%x fl=%d shift=%d bw=%u\n",
				     s->flags ? "tanh" : "sigmoid", s->a, s->b, s->x, s->y, (int8_t)(s->z & 0xff),
				     (int8_t)((s->z >> 8) & 0xff), (s->z >> 16) & 0xff);
			break;
		default:
			k = snprintf(line, sizeof(line), "ewop %s a=%u b=%u out=%u n=%u shift=%u\n", ew_names[s->flags & 3],
				     s->a, s->b, s->y, s->x, s->z);
		}
		dcc_buf_put(&b, line, (size_t)k);
	}
	dcc_buf_u8(&b, 0);
	if (b.oom) {
		dcc_buf_free(&b);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	*text = (char *)b.p;
	return 0;
}

/* key=value with a number (decimal or 0x hex) */
static int kv_num(const char *line, const char *key, uint32_t *v)
{
	char pat[32];
	snprintf(pat, sizeof(pat), " %s=", key);
	const char *s = strstr(line, pat);
	if (!s)
		return -1;
	char *end;
	unsigned long long x = strtoull(s + strlen(pat), &end, 0);
	if (end == s + strlen(pat) || (*end && *end != ' ' && *end != '\n') || x > 0xffffffffull)
		return -1;
	*v = (uint32_t)x;
	return 0;
}

int dcc_program_asm(const char *text, dcc_program *p, dcc_error *err)
{
	memset(p, 0, sizeof(*p));
	size_t cap = 0, lineno = 0;
	const char *s = text;
	while (*s) {
		const char *nl = strchr(s, '\n');
		size_t L = nl ? (size_t)(nl - s) : strlen(s);
		char line[256];
		lineno++;
		if (L >= sizeof(line)) {
			dcc_program_free(p);
			return dcc_fail(err, DCC_E_FORMAT, "line %zu: too long", lineno);
		}
		memcpy(line, s, L);
		line[L] = 0;
		s += L + (nl ? 1 : 0);
		char *h = strchr(line, '#');
		if (h)
			*h = 0;
		char op[16] = {0};
		if (sscanf(line, "%15s", op) != 1)
			continue;
		int bad = 0;
		unsigned long long a1, a2;
		if (op[0] == '.') {
			if (!strcmp(op, ".blob_crc"))
				bad = sscanf(line, "%*s %lli", (long long *)&a1) != 1, p->blob_crc = (uint32_t)a1;
			else if (!strcmp(op, ".dram"))
				bad = sscanf(line, "%*s %lli", (long long *)&a1) != 1, p->dram_bytes = (uint32_t)a1;
			else if (!strcmp(op, ".pes"))
				bad = sscanf(line, "%*s %lli", (long long *)&a1) != 1, p->pes = (int)a1;
			else if (!strcmp(op, ".buffers"))
				bad = sscanf(line, "%*s %lli", (long long *)&a1) != 1, p->buf_words = (uint32_t)a1;
			else if (!strcmp(op, ".input"))
				bad = sscanf(line, "%*s %lli %lli", (long long *)&a1, (long long *)&a2) != 2,
				p->in_addr = (uint32_t)a1, p->in_len = (uint32_t)a2;
			else if (!strcmp(op, ".convolver"))
				bad = kv_num(line, "pes", &p->conv_pes) || kv_num(line, "convolvers", &p->convolvers) ||
				      kv_num(line, "k", &p->conv_k) || kv_num(line, "buf_kb", &p->conv_buf_kb) ||
				      !p->convolvers || p->convolvers > 0xffff || !p->conv_pes || p->conv_pes > 0xffff;
			else if (!strcmp(op, ".output"))
				bad = sscanf(line, "%*s %lli %lli", (long long *)&a1, (long long *)&a2) != 2,
				p->out_addr = (uint32_t)a1, p->out_len = (uint32_t)a2;
			else
				bad = 1;
			if (bad) {
				dcc_program_free(p);
				return dcc_fail(err, DCC_E_FORMAT, "line %zu: bad directive '%s'", lineno, op);
			}
			continue;
		}
		dcc_insn in = {0};
		uint32_t v;
		if (!strcmp(op, "end")) {
			in.op = DCC_INSN_END;
		} else if (!strcmp(op, "sync")) {
			in.op = DCC_INSN_SYNC;
		} else if (!strcmp(op, "load") || !strcmp(op, "store")) {
			in.op = op[0] == 'l' ? DCC_INSN_LOAD : DCC_INSN_STORE;
			bad = kv_num(line, "buf", &v) || v > 255;
			in.a = (uint8_t)v;
			bad |= kv_num(line, "dram", &in.x) || kv_num(line, "words", &in.y) || kv_num(line, "offset", &in.z);
		} else if (!strcmp(op, "lstmcell")) {
			uint32_t a, b;
			in.op = DCC_INSN_LSTMCELL;
			bad = kv_num(line, "desc", &in.x) || kv_num(line, "z", &a) || kv_num(line, "hc", &b) || a > 255 || b > 255;
			in.a = (uint8_t)a, in.b = (uint8_t)b;
		} else if (!strcmp(op, "act")) {
			char name[16] = {0};
			uint32_t a = 0, b = 0, bw = 0;
			long fl = 0, sh = 0;
			const char *f = strstr(line, " fl="), *h = strstr(line, " shift=");
			in.op = DCC_INSN_ACT;
			bad = sscanf(line, "%*s %15s", name) != 1 || (strcmp(name, "sigmoid") && strcmp(name, "tanh")) || !f || !h ||
			      kv_num(line, "in", &a) || kv_num(line, "out", &b) || kv_num(line, "n", &in.x) ||
			      kv_num(line, "table", &in.y) || kv_num(line, "bw", &bw) || a > 255 || b > 255 || bw > 255;
			if (!bad) {
				fl = strtol(f + 4, NULL, 10), sh = strtol(h + 7, NULL, 10);
				bad = fl < -128 || fl > 127 || sh < -128 || sh > 127;
			}
			in.flags = name[0] == 't' ? DCC_ACT_TANH : DCC_ACT_SIGMOID, in.a = (uint8_t)a, in.b = (uint8_t)b;
			in.z = (uint32_t)(uint8_t)(int8_t)fl | (uint32_t)(uint8_t)(int8_t)sh << 8 | bw << 16;
		} else if (!strcmp(op, "maxpool") || !strcmp(op, "avgpool")) {
			uint32_t a, b, C, H, W, K, S;
			in.op = DCC_INSN_POOL;
			in.flags = op[0] == 'a';
			bad = kv_num(line, "in", &a) || kv_num(line, "out", &b) || kv_num(line, "c", &C) || kv_num(line, "h", &H) ||
			      kv_num(line, "w", &W) || kv_num(line, "k", &K) || kv_num(line, "stride", &S) || a > 255 || b > 255 ||
			      H > 65535 || W > 65535 || K > 0xffffff || S > 255;
			in.a = (uint8_t)a, in.b = (uint8_t)b, in.x = C, in.y = H << 16 | W, in.z = K << 8 | S;
		} else if (!strcmp(op, "spmv") || !strcmp(op, "spconv") || !strcmp(op, "conv")) {
			in.op = op[0] == 'c' ? DCC_INSN_CONV : op[2] == 'm' ? DCC_INSN_SPMV : DCC_INSN_SPCONV;
			uint32_t a = 0, b = 0;
			bad = kv_num(line, "desc", &in.x) || kv_num(line, "in", &a) || kv_num(line, "out", &b) || a > 255 || b > 255;
			if (in.op == DCC_INSN_SPMV && kv_num(line, "offset", &in.z))
				in.z = 0; /* the input offset, 0 when absent */
			in.a = (uint8_t)a, in.b = (uint8_t)b;
			in.flags = strstr(line, " relu") ? 1 : 0;
		} else if (!strcmp(op, "ewop")) {
			in.op = DCC_INSN_EWOP;
			char name[16] = {0};
			bad = sscanf(line, "%*s %15s", name) != 1;
			int f = -1;
			for (int k = 0; k < 4; k++)
				if (!strcmp(name, ew_names[k]))
					f = k;
			uint32_t a = 0, b = 0;
			bad |= f < 0 || kv_num(line, "a", &a) || kv_num(line, "b", &b) || kv_num(line, "out", &in.y) ||
			       kv_num(line, "n", &in.x) || kv_num(line, "shift", &in.z) || a > 255 || b > 255;
			in.flags = (uint8_t)(f < 0 ? 0 : f), in.a = (uint8_t)a, in.b = (uint8_t)b;
		} else {
			dcc_program_free(p);
			return dcc_fail(err, DCC_E_FORMAT, "line %zu: unknown instruction '%s'", lineno, op);
		}
		if (bad) {
			dcc_program_free(p);
			return dcc_fail(err, DCC_E_FORMAT, "line %zu: bad operands for '%s'", lineno, op);
		}
		if (p->n == cap) {
			cap = cap ? 2 * cap : 16;
			dcc_insn *q = realloc(p->insn, cap * sizeof(dcc_insn));
			if (!q) {
				dcc_program_free(p);
				return dcc_fail(err, DCC_E_NOMEM, "out of memory");
			}
			p->insn = q;
		}
		p->insn[p->n++] = in;
	}
	for (size_t i = 0; i < p->n; i++)
		if (check_insn(p, i, err)) {
			dcc_program_free(p);
			return err->code;
		}
	return 0;
}

/* ---- the compiler ---- */

typedef struct img {
	uint8_t *p;
	size_t n, cap;
} img;

static uint32_t reserve(img *m, size_t bytes)
{
	size_t at = (m->n + 63) & ~(size_t)63;
	if (at + bytes > m->cap) {
		size_t c = m->cap ? m->cap : 4096;
		while (c < at + bytes)
			c *= 2;
		uint8_t *q = realloc(m->p, c);
		if (!q)
			return UINT32_MAX;
		memset(q + m->cap, 0, c - m->cap);
		m->p = q;
		m->cap = c;
	}
	m->n = at + bytes;
	return at > UINT32_MAX - bytes ? UINT32_MAX : (uint32_t)at;
}

static int32_t qget(const dcc_tensor *t, size_t i)
{
	const uint8_t *p = t->data;
	return t->dtype == DCC_Q8 ? (int8_t)p[i] : t->dtype == DCC_Q16 ? (int16_t)(p[2 * i] | p[2 * i + 1] << 8)
								  : (int32_t)rd32(p + 4 * i);
}

/* A shared weight's parts: NAME.codebook, NAME.index, NAME.mask (or NULL). */
static void shared_parts(dcc_model *m, const char *wname, const dcc_tensor **cb, const dcc_tensor **ix,
			 const dcc_tensor **mk)
{
	char nm[DCC_MAX_NAME + 16];
	snprintf(nm, sizeof(nm), "%s.codebook", wname);
	*cb = dcc_model_find(m, nm);
	snprintf(nm, sizeof(nm), "%s.index", wname);
	*ix = dcc_model_find(m, nm);
	snprintf(nm, sizeof(nm), "%s.mask", wname);
	*mk = dcc_model_find(m, nm);
}

/* One weight matrix in DRAM in EIE's layout: descriptor (+ conv geometry),
 * codebook, biases, PE table, per-PE pointers and entries. */
static int lay_matrix(img *im, dcc_model *m, const char *wname, const char *bname, int pes, int a_bw, int shift,
		      int bshift, const char *lname, const uint32_t *geo, uint32_t *desc_out, dcc_error *err)
{
	const dcc_tensor *cb, *ix, *mk, *bias = dcc_model_find(m, bname);
	shared_parts(m, wname, &cb, &ix, &mk);
	if (!cb || !ix || ix->bits > 4 || cb->dtype == DCC_F32 || qget(cb, 0) != 0 || !bias || bias->dtype == DCC_F32)
		return dcc_fail(err, DCC_E_UNSUPPORTED,
				"'%s': the accelerator needs 4-bit shared weights with codebook entry 0 zero "
				"(dcc share --bits 4 --zero) in fixed point (dcc fixed)", wname);
	size_t rows = (size_t)ix->shape[0], n = (size_t)dcc_tensor_numel(ix), cols = n / rows;
	uint8_t *present = malloc(n);
	uint32_t *sym = malloc(n * sizeof(uint32_t));
	if (!present || !sym) {
		free(present), free(sym);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	for (size_t k = 0; k < n; k++) {
		present[k] = mk ? (((const uint8_t *)mk->data)[k / 8] >> (k % 8)) & 1 : 1;
		sym[k] = present[k] ? dcc_packed_get(ix->data, ix->bits, k) : 0;
	}
	dcc_sparse sp;
	int rc = dcc_sparse_build(&sp, DCC_LAYOUT_EIE, 4, pes, rows, cols, present, sym, 0, err);
	free(present), free(sym);
	if (rc)
		return rc;
	uint32_t desc = reserve(im, geo ? 128 : 64), cba = reserve(im, 64), ba = reserve(im, 4 * rows),
		 pet = reserve(im, 16 * (size_t)pes);
	uint32_t *ptr_addr = malloc((size_t)pes * sizeof(uint32_t)), *ent_addr = malloc((size_t)pes * sizeof(uint32_t));
	size_t e0 = 0;
	for (int pe = 0; ptr_addr && ent_addr && pe < pes; pe++) {
		size_t ne = 0;
		for (size_t c = 0; c < cols; c++)
			ne += sp.count[(size_t)pe * cols + c];
		ptr_addr[pe] = reserve(im, 4 * (cols + 1));
		ent_addr[pe] = reserve(im, ne ? ne : 1);
		if (ptr_addr[pe] == UINT32_MAX || ent_addr[pe] == UINT32_MAX)
			break;
		uint32_t acc = 0;
		for (size_t c = 0; c < cols; c++) {
			wr32(im->p + ptr_addr[pe] + 4 * c, acc);
			acc += sp.count[(size_t)pe * cols + c];
		}
		wr32(im->p + ptr_addr[pe] + 4 * cols, acc);
		for (size_t k = 0; k < ne; k++)
			im->p[ent_addr[pe] + k] = (uint8_t)(sp.skip[e0 + k] << 4 | sp.val[e0 + k]);
		e0 += ne;
		uint8_t *t = im->p + pet + 16 * (size_t)pe;
		wr32(t, ptr_addr[pe]), wr32(t + 4, ent_addr[pe]), wr32(t + 8, (uint32_t)ne),
			wr32(t + 12, (uint32_t)((rows - (size_t)pe + (size_t)pes - 1) / (size_t)pes));
	}
	int oom = !ptr_addr || !ent_addr || im->n > UINT32_MAX || e0 != sp.nentries;
	free(ptr_addr), free(ent_addr);
	dcc_sparse_free(&sp);
	if (oom || desc == UINT32_MAX)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory (or a DRAM image beyond 4 GB)");
	uint8_t *d = im->p + desc;
	wr32(d, 0x5259414c); /* "LAYR" */
	wr32(d + 4, (uint32_t)rows), wr32(d + 8, (uint32_t)cols), wr32(d + 12, (uint32_t)pes);
	wr32(d + 16, (uint32_t)a_bw), wr32(d + 20, (uint32_t)shift), wr32(d + 24, (uint32_t)bshift);
	wr32(d + 28, cba), wr32(d + 32, ba), wr32(d + 36, pet);
	snprintf((char *)d + 40, 24, "%s", lname);
	for (int k = 0; geo && k < 8; k++) /* a convolution's geometry block */
		wr32(d + 64 + 4 * k, geo[k]);
	for (int k = 0; k < 16; k++)
		wr32(im->p + cba + 4 * k, (uint32_t)qget(cb, (size_t)k));
	for (size_t r = 0; r < rows; r++)
		wr32(im->p + ba + 4 * r, (uint32_t)qget(bias, r));
	*desc_out = desc;
	return 0;
}

/* A convolution for the convolver engine: descriptor, dense 16-bit weights
 * (the codebook looked up, pruned weights zero), biases, and the tile the
 * compiler picked (formats/isa.md). */
static int lay_conv(img *im, dcc_model *m, const dcc_layer *g, const dcc_accel_cfg *c, int a_bw, int shift, int bshift,
		    uint32_t *desc_out, dcc_error *err)
{
	const char *wname = g->p[0].name;
	const dcc_tensor *cb, *ix, *mk;
	shared_parts(m, wname, &cb, &ix, &mk);
	const dcc_tensor *w = dcc_model_find(m, wname), *bias = dcc_model_find(m, g->p[1].name);
	dcc_conv_shape sh = {(uint32_t)g->oc, (uint32_t)g->ic, (uint32_t)g->ih, (uint32_t)g->iw, (uint32_t)g->k,
			     (uint32_t)g->stride, (uint32_t)g->pad, (uint32_t)g->oh, (uint32_t)g->ow};
	size_t n = (size_t)sh.M * sh.C * sh.k * sh.k;
	int shared = cb && ix && cb->dtype != DCC_F32;
	if ((!shared && (!w || w->dtype == DCC_F32 || (size_t)dcc_tensor_numel(w) != n)) ||
	    (shared && (size_t)dcc_tensor_numel(ix) != n) || !bias || bias->dtype == DCC_F32)
		return dcc_fail(err, DCC_E_UNSUPPORTED, "'%s': the convolver engine needs fixed-point weights (dcc fixed)", wname);
	uint32_t tr, tc;
	int rc = dcc_conv_tiling(&sh, c, a_bw, &tr, &tc, err);
	if (rc) {
		char why[DCC_ERR_MAX];
		snprintf(why, sizeof(why), "%s", err->msg);
		return dcc_fail(err, rc, "layer '%s': %s", g->name, why);
	}
	uint32_t desc = reserve(im, 128), wa = reserve(im, 2 * n), ba = reserve(im, 4 * (size_t)sh.M);
	if (desc == UINT32_MAX || wa == UINT32_MAX || ba == UINT32_MAX || im->n > UINT32_MAX)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory (or a DRAM image beyond 4 GB)");
	for (size_t i = 0; i < n; i++) {
		int32_t v;
		if (shared) {
			int kept = mk ? (((const uint8_t *)mk->data)[i / 8] >> (i % 8)) & 1 : 1;
			uint32_t sym = dcc_packed_get(ix->data, ix->bits, i);
			if (sym >= dcc_tensor_numel(cb))
				return dcc_fail(err, DCC_E_FORMAT, "'%s': index %u outside its codebook", wname, sym);
			v = kept ? qget(cb, sym) : 0;
		} else {
			v = qget(w, i);
		}
		if (v < -32768 || v > 32767)
			return dcc_fail(err, DCC_E_UNSUPPORTED, "'%s': the convolver engine holds weights of at most 16 bits", wname);
		im->p[wa + 2 * i] = (uint8_t)v, im->p[wa + 2 * i + 1] = (uint8_t)((uint32_t)v >> 8);
	}
	for (uint32_t r = 0; r < sh.M; r++)
		wr32(im->p + ba + 4 * (size_t)r, (uint32_t)qget(bias, r));
	uint8_t *d = im->p + desc;
	const uint32_t f[] = {0x564e4f43 /* "CONV" */, sh.M, sh.C, sh.H, sh.W, sh.k, sh.stride, sh.pad, sh.OH, sh.OW,
			      (uint32_t)a_bw, (uint32_t)shift, (uint32_t)bshift, wa, ba, (uint32_t)c->conv_pes,
			      (uint32_t)c->convolvers, (uint32_t)c->conv_k, tr, tc};
	for (size_t k = 0; k < sizeof(f) / sizeof(f[0]); k++)
		wr32(d + 4 * k, f[k]);
	snprintf((char *)d + 80, 24, "%s", g->name);
	*desc_out = desc;
	return 0;
}

int dcc_accel_compile(const dcc_model *mc, uint32_t blob_crc, const dcc_accel_cfg *c, dcc_program *p, uint8_t **dram,
		      dcc_error *err)
{
	int pes = c->pes;
	memset(p, 0, sizeof(*p));
	*dram = NULL;
	dcc_model *m = (dcc_model *)mc; /* the net only reads it */
	dcc_net *net;
	int rc = dcc_net_from_model(m, &net, err);
	if (rc)
		return rc;
	dcc_qfmt *fmt = NULL;
	int in_bw, in_fl;
	if ((rc = dcc_fixed_formats(m, net, &fmt, &in_bw, &in_fl, err))) {
		dcc_net_free(net);
		return rc;
	}
	img im = {0};
	size_t insz = (size_t)net->in_c * (size_t)net->in_h * (size_t)net->in_w, maxact = insz;
	for (size_t i = 0; i < net->nlayers; i++)
		maxact = net->layers[i].out_size > maxact ? net->layers[i].out_size : maxact;
	p->in_len = (uint32_t)insz;
	p->in_addr = reserve(&im, 4 * insz);
	p->out_len = (uint32_t)net->classes;
	p->out_addr = reserve(&im, 4 * (size_t)net->classes);
	p->buf_words = (uint32_t)maxact;
	p->pes = pes;
	p->blob_crc = blob_crc;
	if (c->convolvers > 0) {
		if (c->conv_pes < 1 || c->conv_pes > 0xffff || c->convolvers > 0xffff || c->conv_k < 1 || c->conv_k > 255 ||
		    c->conv_buf_kb < 1 || c->conv_buf_kb > (1 << 20)) {
			rc = dcc_fail(err, DCC_E_RANGE, "convolver engine out of range (%d x %d convolvers of %d, %d KB)",
				      c->conv_pes, c->convolvers, c->conv_k, c->conv_buf_kb);
			goto done;
		}
		p->conv_pes = (uint32_t)c->conv_pes, p->convolvers = (uint32_t)c->convolvers;
		p->conv_k = (uint32_t)c->conv_k, p->conv_buf_kb = (uint32_t)c->conv_buf_kb;
	}
	size_t cap = 4 * net->nlayers + 8;
	for (size_t i = 0; i < net->nlayers; i++)
		if (net->layers[i].op == DCC_OP_LSTM)
			cap += 5 * (size_t)net->layers[i].steps + 4;
	p->insn = calloc(cap, sizeof(dcc_insn));
	if (!p->insn) {
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
		goto done;
	}
	p->insn[p->n++] = (dcc_insn){DCC_INSN_LOAD, 0, 0, 0, p->in_addr, p->in_len, 0};
	int cur = 0, fl = in_fl, bw = in_bw;
	uint32_t tables = UINT32_MAX; /* sigmoid and tanh, once, when a layer needs them */
	for (size_t i = 0; i < net->nlayers && !rc; i++) {
		const dcc_layer *g = &net->layers[i];
		if (g->op == DCC_OP_FLATTEN || g->op == DCC_OP_SOFTMAX_CE)
			continue;
		if (g->op == DCC_OP_RELU) {
			p->insn[p->n++] = (dcc_insn){DCC_INSN_EWOP, DCC_EW_RELU, (uint8_t)cur, 0, (uint32_t)g->in_size,
						     (uint32_t)cur, 0};
			continue;
		}
		if (g->op == DCC_OP_SIGMOID || g->op == DCC_OP_TANH) {
			if (tables == UINT32_MAX) {
				int32_t sig[257], th[257];
				dcc_fx_tables(sig, th);
				if ((tables = reserve(&im, 2 * 257 * 4)) == UINT32_MAX) {
					rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
					break;
				}
				for (int k = 0; k < 257; k++)
					wr32(im.p + tables + 4 * k, (uint32_t)sig[k]), wr32(im.p + tables + 4 * (257 + k), (uint32_t)th[k]);
			}
			if (bw < 2 || fl < -128 || fl > 127 || 16 - bw < -128) {
				rc = dcc_fail(err, DCC_E_UNSUPPORTED, "layer '%s': %s of %d-bit activations at fl %d", g->name,
					      dcc_op_name(g->op), bw, fl);
				break;
			}
			int tanh_ = g->op == DCC_OP_TANH;
			p->insn[p->n++] = (dcc_insn){DCC_INSN_ACT, (uint8_t)tanh_, (uint8_t)cur, (uint8_t)cur, (uint32_t)g->in_size,
						     tables + (tanh_ ? 257 * 4 : 0),
						     (uint32_t)(uint8_t)(int8_t)fl | (uint32_t)(uint8_t)(int8_t)(16 - bw) << 8 |
							     (uint32_t)bw << 16};
			fl = bw - 1;
			continue;
		}
		if (g->op == DCC_OP_MAXPOOL2D || g->op == DCC_OP_AVGPOOL2D) {
			if (g->ih > 65535 || g->iw > 65535 || g->k > 0xffffff || g->stride > 255) {
				rc = dcc_fail(err, DCC_E_UNSUPPORTED, "layer '%s': pooling geometry too large", g->name);
				break;
			}
			p->insn[p->n++] = (dcc_insn){DCC_INSN_POOL, g->op == DCC_OP_AVGPOOL2D, (uint8_t)cur, (uint8_t)(cur ^ 1), (uint32_t)g->ic,
						     (uint32_t)g->ih << 16 | (uint32_t)g->iw, (uint32_t)g->k << 8 | (uint32_t)g->stride};
			cur ^= 1;
			continue;
		}
		if (g->op == DCC_OP_LSTM) {
			/* per step: W_ih x_t and W_hh h as two spmv, their saturating sum,
			 * then the cell; buffers: 0 the input rows, 1 and 2 the two
			 * products, 3 h (from 0) and c (from H) */
			const dcc_qfmt *f = &fmt[i];
			int H = g->hidden, NI = g->in, fx = f->w_fl + fl, fh = f->wh_fl + f->a_fl;
			if (i != 0 || cur != 0 || (size_t)g->steps * (size_t)NI != insz) {
				rc = dcc_fail(err, DCC_E_UNSUPPORTED, "layer '%s': the accelerator runs an lstm reading the input rows only",
					      g->name);
				break;
			}
			char nih[32], nhh[32];
			snprintf(nih, sizeof(nih), "%.16s.ih", g->name);
			snprintf(nhh, sizeof(nhh), "%.16s.hh", g->name);
			uint32_t dih, dhh;
			if ((rc = lay_matrix(&im, m, g->p[0].name, g->p[2].name, pes, f->a_bw, fx - f->z_fl, f->b_fl - fx, nih,
					     NULL, &dih, err)) ||
			    (rc = lay_matrix(&im, m, g->p[1].name, g->p[3].name, pes, f->a_bw, fh - f->z_fl, f->b_fl - fh, nhh,
					     NULL, &dhh, err)))
				break;
			uint32_t zeros = reserve(&im, 8 * (size_t)H), tabs = reserve(&im, 2 * 257 * 4), cell = reserve(&im, 64);
			if (cell == UINT32_MAX) {
				rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
				break;
			}
			int32_t sig[257], th[257];
			dcc_fx_tables(sig, th);
			for (int k = 0; k < 257; k++)
				wr32(im.p + tabs + 4 * k, (uint32_t)sig[k]), wr32(im.p + tabs + 4 * (257 + k), (uint32_t)th[k]);
			uint8_t *d = im.p + cell;
			wr32(d, 0x4c4c4543); /* "CELL" */
			wr32(d + 4, (uint32_t)H), wr32(d + 8, (uint32_t)f->a_bw), wr32(d + 12, (uint32_t)f->z_fl);
			wr32(d + 16, (uint32_t)f->c_fl), wr32(d + 20, (uint32_t)f->a_fl), wr32(d + 24, tabs),
				wr32(d + 28, tabs + 257 * 4);
			if ((size_t)4 * H > p->buf_words)
				p->buf_words = (uint32_t)(4 * H);
			p->insn[p->n++] = (dcc_insn){DCC_INSN_LOAD, 0, 3, 0, zeros, (uint32_t)(2 * H), 0};
			for (int t = 0; t < g->steps; t++) {
				p->insn[p->n++] = (dcc_insn){DCC_INSN_SPMV, 0, 0, 1, dih, 0, (uint32_t)(t * NI)};
				p->insn[p->n++] = (dcc_insn){DCC_INSN_SPMV, 0, 3, 2, dhh, 0, 0};
				p->insn[p->n++] = (dcc_insn){DCC_INSN_EWOP, DCC_EW_ADD, 1, 2, (uint32_t)(4 * H), 1, (uint32_t)f->a_bw};
				p->insn[p->n++] = (dcc_insn){DCC_INSN_LSTMCELL, 0, 1, 3, cell, 0, 0};
				p->insn[p->n++] = (dcc_insn){DCC_INSN_SYNC, 0, 0, 0, 0, 0, 0};
			}
			cur = 3; /* h, at offset 0 */
			fl = f->a_fl;
			bw = f->a_bw;
			continue;
		}
		if (g->op != DCC_OP_FC && g->op != DCC_OP_CONV2D) {
			rc = dcc_fail(err, DCC_E_UNSUPPORTED,
				      "layer '%s': the accelerator runs fc, conv2d, maxpool2d, avgpool2d, relu, sigmoid, tanh, flatten and "
				      "lstm layers (not %s)",
				      g->name, dcc_op_name(g->op));
			break;
		}
		int is_conv = g->op == DCC_OP_CONV2D;
		const dcc_qfmt *f = &fmt[i];
		int facc = f->w_fl + fl;
		uint32_t geo[8] = {(uint32_t)g->ic, (uint32_t)g->ih, (uint32_t)g->iw, (uint32_t)g->k,
				   (uint32_t)g->stride, (uint32_t)g->pad, (uint32_t)g->oh, (uint32_t)g->ow};
		uint32_t desc;
		int engine = is_conv && c->convolvers > 0;
		if (engine ? (rc = lay_conv(&im, m, g, c, f->a_bw, facc - f->a_fl, f->b_fl - facc, &desc, err))
			   : (rc = lay_matrix(&im, m, g->p[0].name, g->p[1].name, pes, f->a_bw, facc - f->a_fl, f->b_fl - facc,
					      g->name, is_conv ? geo : NULL, &desc, err)))
			break;
		int relu = i + 1 < net->nlayers && net->layers[i + 1].op == DCC_OP_RELU;
		p->insn[p->n++] = (dcc_insn){engine ? DCC_INSN_CONV : is_conv ? DCC_INSN_SPCONV : DCC_INSN_SPMV, (uint8_t)relu,
					     (uint8_t)cur, (uint8_t)(cur ^ 1), desc, 0, 0};
		p->insn[p->n++] = (dcc_insn){DCC_INSN_SYNC, 0, 0, 0, 0, 0, 0};
		if (relu)
			i++; /* fused */
		cur ^= 1;
		fl = f->a_fl;
		bw = f->a_bw;
	}
	if (!rc) {
		p->insn[p->n++] = (dcc_insn){DCC_INSN_STORE, 0, (uint8_t)cur, 0, p->out_addr, p->out_len, 0};
		p->insn[p->n++] = (dcc_insn){DCC_INSN_END, 0, 0, 0, 0, 0, 0};
		p->dram_bytes = (uint32_t)((im.n + 63) & ~(size_t)63);
		reserve(&im, 0);
		*dram = im.p;
		im.p = NULL;
	}
done:
	free(im.p);
	free(fmt);
	dcc_net_free(net);
	if (rc)
		dcc_program_free(p);
	return rc;
}
