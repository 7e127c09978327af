/* isa.c: the accelerator's programs in memory (lib/dcc_isa.h): freeing
 * one, and checking every static fact of it -- the header, each
 * instruction's buffers and the DRAM ranges it names -- which the program
 * reader and the assembler share, so neither accepts what the other
 * refuses. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../dcc_isa.h"

static const char *const insn_names[DCC_INSN_COUNT] = {
	[DCC_INSN_END] = "end", [DCC_INSN_LOAD] = "load", [DCC_INSN_STORE] = "store", [DCC_INSN_SPMV] = "spmv",
	[DCC_INSN_EWOP] = "ewop", [DCC_INSN_SYNC] = "sync", [DCC_INSN_SPCONV] = "spconv", [DCC_INSN_POOL] = "pool",
	[DCC_INSN_LSTMCELL] = "lstmcell", [DCC_INSN_CONV] = "conv", [DCC_INSN_ACT] = "act",
};
_Static_assert(sizeof(insn_names) / sizeof(insn_names[0]) == DCC_INSN_COUNT, "one name per opcode");

const char *dcc_insn_name(int op)
{
	return op >= 0 && op < DCC_INSN_COUNT ? insn_names[op] : "?";
}

void dcc_program_free(dcc_program *p)
{
	if (!p)
		return;
	free(p->insn);
	free(p->dram);
	memset(p, 0, sizeof(*p));
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
		uint64_t C = s->x, H = s->y >> 16, W = s->y & 0xffff, k = DCC_POOL_K(s->z), st = s->z & 0xff;
		uint64_t pad = DCC_POOL_PAD(s->flags);
		int avg = s->flags & DCC_POOL_AVG, ceil = (s->flags & DCC_POOL_CEIL) != 0;
		if (s->a >= DCC_NBUF || s->b >= DCC_NBUF || s->a == s->b || !C || !k || !st || k > H + 2 * pad ||
		    k > W + 2 * pad || 2 * pad > k || (s->z >> 24) > (avg ? 1u : 0u) || C * H * W > p->buf_words ||
		    C * dcc_pool_out(H, k, st, pad, ceil) * dcc_pool_out(W, k, st, pad, ceil) > p->buf_words)
			return dcc_fail(err, DCC_E_RANGE, "instruction %zu: maxpool geometry out of range", i);
		return 0;
	}
	case DCC_INSN_EWOP:
		if (s->flags > DCC_EW_DIVSH || s->a >= DCC_NBUF || s->b >= DCC_NBUF || s->y >= DCC_NBUF ||
		    (dcc_ew_shifts(s->flags) &&
		     ((s->z & 0xff) < 1 || (s->z & 0xff) > 32 || s->z >> 24)))
			return dcc_fail(err, DCC_E_FORMAT, "instruction %zu: bad ewop", i);
		if (dcc_ew_operand_bytes(s->flags) && ((uint64_t)s->z + dcc_ew_operand_bytes(s->flags) > p->dram_bytes || s->z % 4))
			return dcc_fail(err, DCC_E_RANGE, "instruction %zu: %s operands at %u are outside DRAM", i,
					s->flags == DCC_EW_CLIP ? "clip's" : s->flags == DCC_EW_LEAKY ? "leaky's"
					: s->flags == DCC_EW_HSIG ? "hsig's" : s->flags == DCC_EW_MULSH ? "mulsh's"
					: s->flags == DCC_EW_DIVSH ? "divsh's" : "hswish's", s->z);
		if (s->x > p->buf_words)
			return dcc_fail(err, DCC_E_RANGE, "instruction %zu: %u elements beyond the buffers", i, s->x);
		return 0;
	}
	return dcc_fail(err, DCC_E_FORMAT, "instruction %zu: unknown opcode %u", i, s->op);
}

int dcc_program_check(const dcc_program *p, dcc_error *err)
{
	if (p->pes < 1 || p->pes > 65535)
		return dcc_fail(err, DCC_E_FORMAT, "program for %d PEs (1 to 65535)", p->pes);
	if (p->convolvers && (p->convolvers > 0xffff || !p->conv_pes || p->conv_pes > 0xffff || !p->conv_k ||
			      p->conv_k > 255 || !p->conv_buf_kb || p->conv_buf_kb > (1u << 20)))
		return dcc_fail(err, DCC_E_FORMAT, "program: bad convolver engine (%u x %u convolvers of %u, %u KB)",
				p->conv_pes, p->convolvers, p->conv_k, p->conv_buf_kb);
	if (!p->buf_words || p->buf_words > DCC_MAX_BUF_WORDS)
		return dcc_fail(err, DCC_E_RANGE, "program: %u-word buffers (1 to %u)", p->buf_words, DCC_MAX_BUF_WORDS);
	if (!p->in_len || !p->out_len || p->in_len > p->buf_words || p->out_len > p->buf_words ||
	    p->in_addr % 4 || p->out_addr % 4 || (uint64_t)p->in_addr + 4ull * p->in_len > p->dram_bytes ||
	    (uint64_t)p->out_addr + 4ull * p->out_len > p->dram_bytes)
		return dcc_fail(err, DCC_E_RANGE, "program: input or output outside DRAM or the buffers");
	if (p->dram) { /* a program that runs without its blob says what its input is */
		if ((uint64_t)p->in_c * p->in_h * p->in_w != p->in_len)
			return dcc_fail(err, DCC_E_FORMAT, "program: an input of %ux%ux%u is not %u words", p->in_c, p->in_h,
					p->in_w, p->in_len);
		if (p->norm.n > DCC_NORM_MAX ||
		    (p->norm.n > 1 && !(p->in_c > 1 && p->norm.n == p->in_c) && p->norm.n != p->in_w))
			return dcc_fail(err, DCC_E_FORMAT, "program: %zu normalisation values for a %ux%ux%u input", p->norm.n,
					p->in_c, p->in_h, p->in_w);
		for (size_t k = 0; k < p->norm.n; k++)
			if (!isfinite(p->norm.mean[k]) || !isfinite(p->norm.std[k]) || !(p->norm.std[k] > 0))
				return dcc_fail(err, DCC_E_FORMAT, "program: input normalisation %zu is not a finite mean "
					       "and a positive std", k);
		if (p->in_bw < 1 || p->in_bw > 32 || p->in_fl < -128 || p->in_fl > 127 || p->out_fl < -128 || p->out_fl > 127)
			return dcc_fail(err, DCC_E_FORMAT, "program: input or output format out of range");
	}
	if (!p->n)
		return dcc_fail(err, DCC_E_FORMAT, "program: no instructions");
	for (size_t i = 0; i < p->n; i++) {
		int rc = check_insn(p, i, err);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- the events an energy table prices (formats/energy.md) ---- */

static const char *const ev_names[DCC_EV_N] = {
	"spmat_read", "ptr_read", "codebook", "mult", "add", "acc_rw", "queue", "act_read", "act_write",
	"conv_mult", "conv_add", "conv_in_read", "conv_w_read", "conv_out_rw", "dram_byte", "pe_cycle", "idle_cycle",
};

const char *dcc_event_name(int ev)
{
	return ev >= 0 && ev < DCC_EV_N ? ev_names[ev] : "?";
}

int dcc_event_width_kind(int ev)
{
	static const unsigned char kind[DCC_EV_N] = {
		[DCC_EV_SPMAT_READ] = DCC_W_SRAM, [DCC_EV_CODEBOOK] = DCC_W_ACT,    [DCC_EV_MULT] = DCC_W_ACT,
		[DCC_EV_ADD] = DCC_W_ACC,         [DCC_EV_ACC_RW] = DCC_W_ACC,      [DCC_EV_QUEUE] = DCC_W_QUEUE,
		[DCC_EV_ACT_READ] = DCC_W_ACT,    [DCC_EV_ACT_WRITE] = DCC_W_ACT,   [DCC_EV_CONV_MULT] = DCC_W_ACT,
		[DCC_EV_CONV_ADD] = DCC_W_ACC,    [DCC_EV_CONV_IN_READ] = DCC_W_ACT, [DCC_EV_CONV_W_READ] = DCC_W_ACT,
		[DCC_EV_CONV_OUT_RW] = DCC_W_ACC,
	};
	return ev >= 0 && ev < DCC_EV_N ? kind[ev] : DCC_W_NONE;
}

int dcc_event_from_name(const char *name)
{
	for (int k = 0; k < DCC_EV_N; k++)
		if (!strcmp(name, ev_names[k]))
			return k;
	return -1;
}
