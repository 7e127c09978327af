/* emu.c: the accelerator emulator.  Functionally each PE walks its own CSC
 * entries for every nonzero input activation and accumulates codebook
 * value x activation in 64 bits, exactly as formats/fixed.md's fc (so the
 * outputs equal dcc eval --fixed bit for bit).  The cycle model runs in
 * the same loop: the central unit broadcasts one nonzero activation per
 * cycle into every PE's FIFO (stalling while any FIFO is full); a PE spends
 * one cycle reading a column's pointers and one per entry. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/internal.h"
#include "../dcc_accel.h"
#include "../dcc_encode.h"
#include "../dcc_fixed.h"


void dcc_accel_defaults(dcc_accel_cfg *c)
{
	c->pes = 64;
	c->fifo = 8;
	c->sram_bits = 64;
	c->spmat_reuse = DCC_REUSE_NEXT;
	c->act_bits = 16;
	c->weight_bits = 4;
	c->freq_mhz = 800;
	c->dram_gbps = 10;
	c->sram_kb_per_pe = 128;
	c->pipeline = 4;
	c->conv_pes = 16;
	c->convolvers = 4;
	c->conv_k = 3;
	c->conv_buf_kb = 32;
}

void dcc_layer_stats_free(dcc_layer_stats *l)
{
	free(l->pe_busy);
	l->pe_busy = NULL;
	l->npe = 0;
}

void dcc_emu_stats_free(dcc_emu_stats *s)
{
	for (size_t i = 0; s->l && i < s->nlayers; i++)
		dcc_layer_stats_free(&s->l[i]);
	free(s->l);
	memset(s, 0, sizeof(*s));
}

/* One layer's matrix as the PEs see it. */
typedef struct pe_view {
	const uint8_t *ptr;  /* cols + 1 u32 pointers */
	const uint8_t *ent;  /* entries: skip << 4 | codebook index */
	uint32_t nent, lrows;
	uint64_t total;      /* its entries in the whole matrix (a synthetic layer holds only the columns it runs) */
	const uint64_t *at;  /* a synthetic view's columns: where each one's entries start in the whole matrix's
			      * SRAM (the columns it leaves out still take their room); NULL: the pointers say */
} pe_view;

typedef struct layer_run {
	uint32_t rows, cols, pes;
	uint32_t full_cols;  /* the matrix's columns (a synthetic layer's view holds fewer) */
	const int32_t *cb;
	pe_view *pe;
	const uint32_t *col_at; /* a synthetic view's columns: each one's column in the matrix; NULL: the same */
} layer_run;

/* An entry's bits: the codebook index and the 4-bit skip (8 in EIE). */
static int entry_bits(const dcc_accel_cfg *c)
{
	return (c->weight_bits > 0 ? c->weight_bits : 4) + 4;
}

/* Whether view column j is the matrix's column after view column i. */
static int next_col(const layer_run *L, uint32_t i, uint32_t j)
{
	return L->col_at ? L->col_at[i] + 1 == L->col_at[j] : i + 1 == j;
}

/* One layer: the arithmetic, then the cycle model solved event by event.
 * The cycle-by-cycle machine (formats/isa.md) has a closed form: with B_k
 * the cycle nonzero activation k is broadcast and S(p,k), E(p,k) the cycles
 * PE p starts and ends its column k (a column of c entries takes c cycles,
 * an empty one 1, the pointer read pipelined with the first entry),
 *   S(p,k) = max(B_k + 1, E(p,k-1) + 1),  E(p,k) = S(p,k) + max(c,1) - 1,
 *   B_0 = 1,  B_k = max(B_(k-1) + 1, max_p S(p,k-F))   (FIFO depth F),
 * since the broadcast of k needs every FIFO to have popped column k-F.
 * O(nonzero activations x PEs), not O(cycles x PEs).  -1: out of memory
 * (the outputs and figures are then incomplete). */
static int run_layer(const layer_run *L, const int32_t *x, const uint32_t *nz, uint32_t nnz, int64_t *acc,
		     const dcc_accel_cfg *c, dcc_layer_stats *st)
{
	uint32_t P = L->pes, F = (uint32_t)(c->fifo > 0 ? c->fifo : 1);
	uint64_t macs = 0, busy_c = 0, sram = 0, stalls = 0, entries = 0;
	uint32_t ebits = (uint32_t)entry_bits(c), sb = (uint32_t)c->sram_bits;
	uint32_t per_read = sb >= ebits ? sb / ebits : 1; /* entries a word */
	if (st->npe != P) { /* per-PE busy cycles */
		free(st->pe_busy);
		st->pe_busy = calloc(P, sizeof(uint64_t));
		st->npe = st->pe_busy ? P : 0;
	}
	/* reuse[k]: whether nonzero column k may take its first word from the
	 * read buffer (the same for every PE; branch-free in the loop below) */
	uint8_t *reuse = malloc((size_t)nnz + 1);
	if (!reuse)
		return -1;
	for (uint32_t k = 0; k < nnz; k++)
		reuse[k] = c->spmat_reuse == DCC_REUSE_ANY || (k > 0 && next_col(L, nz[k - 1], nz[k]));
	/* the arithmetic: every PE's entries of every nonzero column */
	for (uint32_t p = 0; p < P; p++) {
		const pe_view *v = &L->pe[p];
		uint64_t last = UINT64_MAX; /* the SRAM word the PE's read buffer holds */
		for (uint32_t k = 0; k < nnz; k++) {
			uint32_t j = nz[k], e0 = dcc_rd32(v->ptr + 4 * (size_t)j), e1 = dcc_rd32(v->ptr + 4 * (size_t)j + 4);
			uint32_t row = 0;
			int64_t xv = acc ? x[j] : 0;
			for (uint32_t e = e0; e < e1; e++) {
				uint8_t b = v->ent[e];
				row += (uint32_t)(b >> 4) + 1;
				int32_t w = L->cb[b & 15];
				macs += (b & 15) != 0;
				if (acc && w)
					acc[(size_t)(row - 1) * P + p] = dcc_fx_wadd(acc[(size_t)(row - 1) * P + p], (int64_t)w * xv);
			}
			busy_c += e1 > e0 ? e1 - e0 : 1;
			entries += e1 - e0;
			if (st->pe_busy)
				st->pe_busy[p] += e1 > e0 ? e1 - e0 : 1;
			if (e1 > e0) { /* aligned words; the first again only if the buffer lost it */
				uint64_t a0 = v->at ? v->at[j] : e0;
				uint64_t w0 = a0 / per_read, w1 = (a0 + (e1 - e0) - 1) / per_read;
				sram += w1 - w0 + !((w0 == last) & reuse[k]);
				last = w1;
			}
		}
	}
	free(reuse);
	/* the timing */
	uint64_t *E = calloc(P, sizeof(uint64_t)), *S = malloc((size_t)P * F * sizeof(uint64_t)), B = 0, T = 0;
	if (!E || !S) {
		free(E), free(S);
		return -1;
	}
	for (uint32_t k = 0; k < nnz; k++) {
		uint64_t b = k == 0 ? 1 : B + 1;
		if (k >= F)
			for (uint32_t p = 0; p < P; p++) {
				uint64_t sk = S[(size_t)p * F + (k - F) % F];
				b = sk > b ? sk : b;
			}
		stalls += k == 0 ? 0 : b - B - 1;
		B = b;
		uint32_t j = nz[k];
		for (uint32_t p = 0; p < P; p++) {
			const pe_view *v = &L->pe[p];
			uint32_t cnt = dcc_rd32(v->ptr + 4 * (size_t)j + 4) - dcc_rd32(v->ptr + 4 * (size_t)j);
			uint64_t s = B + 1 > E[p] + 1 ? B + 1 : E[p] + 1;
			S[(size_t)p * F + k % F] = s;
			E[p] = s + (cnt ? cnt : 1) - 1;
			T = E[p] > T ? E[p] : T;
		}
	}
	free(E), free(S);
	st->compute_cycles += T + (uint64_t)c->pipeline;
	st->macs += macs;
	st->busy_pe_cycles += busy_c;
	st->bubble_pe_cycles += (uint64_t)P * T - busy_c;
	st->pointer_reads += (uint64_t)nnz * P;
	st->sram_reads += sram;
	st->broadcast_stalls += stalls;
	st->nonzero_acts += nnz;
	st->ev[DCC_EV_SPMAT_READ] += sram;
	st->ev[DCC_EV_PTR_READ] += (uint64_t)nnz * P;
	st->ev[DCC_EV_CODEBOOK] += entries;
	st->ev[DCC_EV_MULT] += macs;
	st->ev[DCC_EV_ADD] += macs;
	st->ev[DCC_EV_ACC_RW] += macs;
	st->ev[DCC_EV_QUEUE] += (uint64_t)nnz * P;
	st->ev[DCC_EV_ACT_READ] += L->full_cols; /* the nonzero detector reads every input */
	st->ev[DCC_EV_ACT_WRITE] += L->rows;
	return 0;
}

static uint64_t layer_bytes(const layer_run *L, const dcc_accel_cfg *c)
{
	uint64_t b = 0, eb = (uint64_t)entry_bits(c);
	for (uint32_t p = 0; p < L->pes; p++)
		b += (L->pe[p].total * eb + 7) / 8; /* entries of entry_bits (8 in EIE); pointers have their own SRAM */
	return b;
}

static void finish_layer(const layer_run *L, const dcc_accel_cfg *c, dcc_layer_stats *st, uint64_t compute,
			 uint64_t busy)
{
	uint64_t bytes = layer_bytes(L, c);
	double cap = c->sram_kb_per_pe * 1024.0 * L->pes;
	uint64_t dram = 0;
	if ((double)bytes > cap) { /* streamed from DRAM every run */
		double per_cycle = c->dram_gbps * 1e9 / (c->freq_mhz * 1e6);
		dram = (uint64_t)ceil((double)bytes / per_cycle);
		st->dram_bytes += bytes;
	}
	st->dram_cycles += dram;
	st->cycles += compute > dram ? compute : dram;
	uint64_t t = compute > dram ? compute : dram;
	st->ev[DCC_EV_DRAM_BYTE] += (double)bytes > cap ? bytes : 0;
	st->ev[DCC_EV_PE_CYCLE] += t * L->pes;
	st->ev[DCC_EV_IDLE_CYCLE] += t * L->pes - busy;
	st->bandwidth_bound = dram > compute;
	st->rows = L->rows;
	st->cols = L->full_cols;
	st->dense_macs += (uint64_t)L->rows * L->full_cols;
}

/* The statistics entry of the matrix whose descriptor is at desc (one per
 * matrix: an lstm's runs every step add up), made on first use. */
static dcc_layer_stats *stats_entry(dcc_emu_stats *st, uint32_t desc, const char *name, dcc_error *err)
{
	size_t si = 0;
	while (si < st->nlayers && st->l[si].desc != desc)
		si++;
	if (si == st->nlayers) {
		dcc_layer_stats *q = realloc(st->l, (si + 1) * sizeof(*q));
		if (!q) {
			dcc_fail(err, DCC_E_NOMEM, "out of memory");
			return NULL;
		}
		st->l = q;
		memset(&st->l[si], 0, sizeof(*q));
		snprintf(st->l[si].name, sizeof(st->l[si].name), "%.23s", name);
		st->l[si].desc = desc;
		st->nlayers = si + 1;
	}
	return &st->l[si];
}

/* formats/fixed.md's table interpolation, the tables read from DRAM */
static int32_t cell_lut(const uint8_t *tab, int64_t v, int fl, int64_t half, int shift)
{
	int64_t u = dcc_fx_rshift(v, fl - 12); /* clamped first: the add cannot overflow */
	u = u < -half ? 0 : u > half - 1 ? 2 * half - 1 : u + half;
	int k = (int)(u >> shift), r = (int)(u & ((1 << shift) - 1));
	int64_t a = (int32_t)dcc_rd32(tab + 4 * (size_t)k), b = (int32_t)dcc_rd32(tab + 4 * (size_t)k + 4);
	/* a table from DRAM may hold anything: in 64 bits, then 32 as the golden model's */
	return (int32_t)(uint32_t)(a + (((b - a) * r + (1 << (shift - 1))) >> shift));
}

/* formats/isa.md's vector timing: an element-wise instruction takes a
 * cycle per P values (one on each PE's arithmetic unit), a pooling one a
 * cycle per P window taps; the convolver engine's ReLU and max pooling on
 * its output path (right after its layer) take none. */
static int output_path(const dcc_insn *s)
{
	return (s->op == DCC_INSN_EWOP && s->flags == DCC_EW_RELU) ||
	       (s->op == DCC_INSN_POOL && !(s->flags & DCC_POOL_AVG));
}

static uint64_t vector_cycles(const dcc_insn *s, int pes, int engine)
{
	uint64_t P = pes > 0 ? (uint64_t)pes : 1, n;
	if (engine && output_path(s))
		return 0;
	switch (s->op) {
	case DCC_INSN_EWOP:
	case DCC_INSN_ACT:
		n = s->x;
		break;
	case DCC_INSN_POOL: {
		uint64_t H = s->y >> 16, W = s->y & 0xffff, K = DCC_POOL_K(s->z), S = s->z & 0xff;
		uint64_t Pd = DCC_POOL_PAD(s->flags);
		int ceil = (s->flags & DCC_POOL_CEIL) != 0;
		if (!K || !S || K > H + 2 * Pd || K > W + 2 * Pd)
			return 0; /* not a pool dcc_program_check passes */
		n = (uint64_t)s->x * dcc_pool_out(H, K, S, Pd, ceil) * dcc_pool_out(W, K, S, Pd, ceil) * K * K;
		break;
	}
	default:
		return 0;
	}
	return (n + P - 1) / P;
}

/* ls becomes the latest weighted layer; the vector cycles before the
 * first one are its. */
static void vector_owner(dcc_emu_stats *st, dcc_layer_stats *ls, size_t *last, uint64_t *pend)
{
	*last = (size_t)(ls - st->l);
	ls->cycles += *pend, ls->vector_cycles += *pend, *pend = 0;
}

int dcc_emu_run(const dcc_program *p, uint8_t *dram, const dcc_accel_cfg *c, dcc_emu_stats *st, dcc_error *err)
{
	int32_t *buf[DCC_NBUF];
	size_t words = p->buf_words ? p->buf_words : 1;
	int have = 1;
	for (int b = 0; b < DCC_NBUF; b++)
		have &= (buf[b] = calloc(words, sizeof(int32_t))) != NULL;
	int64_t *acc = malloc(words * sizeof(int64_t));
	uint32_t *nz = malloc(words * sizeof(uint32_t));
	int rc = have && acc && nz ? 0 : dcc_fail(err, DCC_E_NOMEM, "out of memory");
	size_t li = 0;
	/* element-wise and pooling work goes to the latest weighted layer's
	 * time (before the first: to the first); engine: the previous
	 * instruction was the convolver engine's, whose output path does
	 * ReLU and max pooling as it writes back */
	size_t last = SIZE_MAX;
	uint64_t vpend = 0;
	int engine = 0;
	for (size_t i = 0; !rc && i < p->n; i++) {
		const dcc_insn *s = &p->insn[i];
		if (s->op == DCC_INSN_END)
			break;
		uint64_t vec = vector_cycles(s, c->pes, engine);
		engine = s->op == DCC_INSN_CONV || (engine && (s->op == DCC_INSN_SYNC || output_path(s)));
		if (last != SIZE_MAX)
			st->l[last].cycles += vec, st->l[last].vector_cycles += vec;
		else
			vpend += vec;
		switch (s->op) {
		case DCC_INSN_SYNC: break;
		case DCC_INSN_LOAD:
			st->io_bytes += 4ull * s->y;
			for (uint32_t k = 0; k < s->y; k++)
				buf[s->a][s->z + k] = (int32_t)dcc_rd32(dram + s->x + 4 * (size_t)k);
			break;
		case DCC_INSN_STORE:
			st->io_bytes += 4ull * s->y;
			for (uint32_t k = 0; k < s->y; k++) {
				uint32_t v = (uint32_t)buf[s->a][s->z + k];
				memcpy(dram + s->x + 4 * (size_t)k, &v, 4);
			}
			break;
		case DCC_INSN_EWOP: {
			int32_t *a = buf[s->a], *b = buf[s->b], *o = buf[s->y];
			if (s->flags == DCC_EW_CLIP) { /* the bounds, two words in DRAM at z */
				int32_t lo = (int32_t)dcc_rd32(dram + s->z), hi = (int32_t)dcc_rd32(dram + s->z + 4);
				for (uint32_t k = 0; k < s->x; k++)
					o[k] = a[k] < lo ? lo : a[k] > hi ? hi : a[k];
				break;
			}
			if (s->flags == DCC_EW_HSIG || s->flags == DCC_EW_HSWISH) {
				/* formats/fixed.md's gate: slope, offset, d, ofl | bw << 8 in DRAM at z */
				int32_t ga = (int32_t)dcc_rd32(dram + s->z), gb = (int32_t)dcc_rd32(dram + s->z + 4);
				int32_t gd = (int32_t)dcc_rd32(dram + s->z + 8);
				uint32_t w3 = dcc_rd32(dram + s->z + 12), ofl = w3 & 0xff, bw = (w3 >> 8) & 0xff;
				if (gd < -128 || gd > 128 || ofl > 30 || bw < 1 || bw > 32 || w3 >> 16) {
					rc = dcc_fail(err, DCC_E_FORMAT, "instruction %zu: bad %s operands at 0x%x", i,
						      s->flags == DCC_EW_HSIG ? "hsig" : "hswish", s->z);
					break;
				}
				for (uint32_t k = 0; k < s->x; k++) {
					int64_t gt = dcc_fx_hardsigmoid(a[k], ga, gb, gd, (int)ofl);
					o[k] = dcc_fx_sat(s->flags == DCC_EW_HSIG ? gt : dcc_fx_rshift(a[k] * gt, (int)ofl), (int)bw);
				}
				break;
			}
			if (s->flags == DCC_EW_MULSH) { /* the shift, the width and a gate's run, in DRAM at z */
				int32_t sh = (int32_t)dcc_rd32(dram + s->z);
				uint32_t bw = dcc_rd32(dram + s->z + 4), R = dcc_rd32(dram + s->z + 8);
				if (sh < -64 || sh > 128 || bw < 1 || bw > 32 || R < 1 || R > p->buf_words) {
					rc = dcc_fail(err, DCC_E_FORMAT, "instruction %zu: bad mulsh operands at 0x%x", i, s->z);
					break;
				}
				for (uint32_t k = 0; k < s->x; k++)
					o[k] = dcc_fx_sat(dcc_fx_rshift((int64_t)a[k] * b[k / R], sh), (int)bw);
				break;
			}
			if (s->flags == DCC_EW_DIVSH) { /* the quotient's shift and width, in DRAM at z (formats/fixed.md) */
				int32_t e = (int32_t)dcc_rd32(dram + s->z);
				uint32_t bw = dcc_rd32(dram + s->z + 4);
				if (e < -31 || e > 31 || bw < 1 || bw > 32) {
					rc = dcc_fail(err, DCC_E_FORMAT, "instruction %zu: bad divsh operands at 0x%x", i, s->z);
					break;
				}
				for (uint32_t k = 0; k < s->x; k++)
					o[k] = dcc_fx_div(a[k], b[k], (int)e, (int)bw);
				break;
			}
			if (s->flags == DCC_EW_LEAKY) { /* the Q16 slope and the width, two words in DRAM at z */
				int64_t slope = (int32_t)dcc_rd32(dram + s->z);
				uint32_t bw = dcc_rd32(dram + s->z + 4);
				if (bw < 1 || bw > 32) {
					rc = dcc_fail(err, DCC_E_FORMAT, "instruction %zu: leaky's width %u (1 to 32)", i, bw);
					break;
				}
				for (uint32_t k = 0; k < s->x; k++)
					o[k] = a[k] > 0 ? a[k] : dcc_fx_sat(dcc_fx_rshift(a[k] * slope, 16), (int)bw);
				break;
			}
			for (uint32_t k = 0; k < s->x; k++) {
				int64_t v = s->flags == DCC_EW_RELU ? (a[k] > 0 ? a[k] : 0)
					  : s->flags == DCC_EW_ADD ? (s->z >= 1 && s->z <= 32 ? dcc_fx_sat((int64_t)a[k] + b[k], (int)s->z)
										: (int64_t)a[k] + b[k])
					  : s->flags == DCC_EW_MUL ? dcc_fx_rshift((int64_t)a[k] * b[k], (int)s->z)
					  : s->flags == DCC_EW_ADDSH /* formats/fixed.md's residual add */
						  ? dcc_fx_sat(dcc_fx_sadd(dcc_fx_rshift(a[k], (int8_t)(s->z >> 8)),
									   dcc_fx_rshift(b[k], (int8_t)(s->z >> 16))), (int)(s->z & 0xff))
					  : s->flags == DCC_EW_SUBSH /* a difference of two values, as the add's */
						  ? dcc_fx_sat(dcc_fx_sadd(dcc_fx_rshift(a[k], (int8_t)(s->z >> 8)),
									   -dcc_fx_rshift(b[k], (int8_t)(s->z >> 16))), (int)(s->z & 0xff))
					  : s->flags == DCC_EW_SHIFT /* to another format: a concat's alignment */
						  ? dcc_fx_sat(dcc_fx_rshift(a[k], (int8_t)(s->z >> 8)), (int)(s->z & 0xff))
						  : a[k];
				o[k] = (int32_t)(v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : v);
			}
			break;
		}
		case DCC_INSN_LSTMCELL: {
			const uint8_t *d = dram + s->x;
			uint32_t H = dcc_rd32(d + 4), bw = dcc_rd32(d + 8), sa = dcc_rd32(d + 24), ta = dcc_rd32(d + 28);
			int zf = (int32_t)dcc_rd32(d + 12), cf = (int32_t)dcc_rd32(d + 16), hf = (int32_t)dcc_rd32(d + 20);
			if (dcc_rd32(d) != 0x4c4c4543 || !H || 4ull * H > words || bw < 2 || bw > 32 || zf < -64 || zf > 64 ||
			    cf < -64 || cf > 64 || hf < -64 || hf > 64 ||
			    (uint64_t)sa + 257 * 4 > p->dram_bytes || (uint64_t)ta + 257 * 4 > p->dram_bytes) {
				rc = dcc_fail(err, DCC_E_FORMAT, "instruction %zu: bad lstm cell descriptor at 0x%x", i, s->x);
				break;
			}
			const int32_t *z = buf[s->a];
			int32_t *h = buf[s->b], *cc = buf[s->b] + H;
			for (uint32_t j = 0; j < H; j++) {
				int64_t ig = cell_lut(dram + sa, z[j], zf, 32768, 8), fg = cell_lut(dram + sa, z[H + j], zf, 32768, 8);
				int64_t gg = cell_lut(dram + ta, z[2 * H + j], zf, 16384, 7), og = cell_lut(dram + sa, z[3 * H + j], zf, 32768, 8);
				cc[j] = dcc_fx_sat(dcc_fx_sadd(dcc_fx_rshift(fg * cc[j], 15), dcc_fx_rshift(ig * gg, 30 - cf)), (int)bw);
				int64_t tc = cell_lut(dram + ta, cc[j], cf, 16384, 7);
				h[j] = dcc_fx_sat(dcc_fx_rshift(og * tc, 30 - hf), (int)bw);
			}
			break;
		}
		case DCC_INSN_POOL: {
			uint32_t C = s->x, H = s->y >> 16, W = s->y & 0xffff, K = DCC_POOL_K(s->z), S = s->z & 0xff;
			int incl = (s->z & DCC_POOL_INCL) != 0;
			int P = (int)DCC_POOL_PAD(s->flags), ceil = (s->flags & DCC_POOL_CEIL) != 0;
			uint32_t OH = (uint32_t)dcc_pool_out(H, K, S, (uint64_t)P, ceil), OW = (uint32_t)dcc_pool_out(W, K, S, (uint64_t)P, ceil);
			const int32_t *x = buf[s->a];
			int32_t *y = buf[s->b];
			for (uint32_t ch = 0; ch < C; ch++)
				for (uint32_t oy = 0; oy < OH; oy++)
					for (uint32_t ox = 0; ox < OW; ox++) {
						const int32_t *xc = x + (size_t)ch * H * W;
						/* the window's part inside the input: padding never wins */
						int y0 = (int)(oy * S) - P, x0 = (int)(ox * S) - P;
						int ya = y0 < 0 ? 0 : y0, yb = y0 + (int)K > (int)H ? (int)H : y0 + (int)K;
						int xa = x0 < 0 ? 0 : x0, xb = x0 + (int)K > (int)W ? (int)W : x0 + (int)K;
						int32_t m = xc[(size_t)ya * W + (size_t)xa];
						int64_t sum = 0;
						for (int yy = ya; yy < yb; yy++)
							for (int xx = xa; xx < xb; xx++) {
								int32_t v = xc[(size_t)yy * W + (size_t)xx];
								m = v > m ? v : m;
								sum += v;
							}
						int64_t a, b, dy = dcc_pool_window(oy, H, K, S, P, incl, &a, &b);
						if (s->flags & DCC_POOL_AVG) /* the mean, rounded half to even */
							m = (int32_t)dcc_fx_div_rne(sum, dy * dcc_pool_window(ox, W, K, S, P, incl, &a, &b));
						y[((size_t)ch * OH + oy) * OW + ox] = m;
					}
			break;
		}
		case DCC_INSN_ACT: { /* formats/fixed.md's sigmoid or tanh, the table read from DRAM */
			int fl = (int8_t)(s->z & 0xff), sh = (int8_t)((s->z >> 8) & 0xff), bw = (int)((s->z >> 16) & 0xff);
			const int32_t *x = buf[s->a];
			int32_t *y = buf[s->b];
			for (uint32_t k = 0; k < s->x; k++) {
				int64_t v = s->flags ? cell_lut(dram + s->y, x[k], fl, 16384, 7) : cell_lut(dram + s->y, x[k], fl, 32768, 8);
				y[k] = dcc_fx_sat(dcc_fx_rshift(v, sh), bw);
			}
			break;
		}
		case DCC_INSN_CONV: {
			const uint8_t *d = dram + s->x;
			uint32_t v[20];
			for (int k = 0; k < 20; k++)
				v[k] = dcc_rd32(d + 4 * k);
			/* the window: kh, stride, pad at 20..28; the other sides at 108..120,
			 * all zero in a program of square kernels from before them */
			uint32_t x0 = dcc_rd32(d + 108), x1 = dcc_rd32(d + 112), x2 = dcc_rd32(d + 116), x3 = dcc_rd32(d + 120);
			dcc_conv_shape g = {v[1], v[2], v[3], v[4], v[5], v[5], v[6], v[6], v[7], v[7], v[7], v[7], 1, 1, v[8], v[9]};
			if (x0 || x1 || x2 || x3)
				g.kw = x0 & 0xffff, g.sw = x0 >> 16, g.pl = x1 & 0xffff, g.pb = x1 >> 16, g.pr = x2 & 0xffff,
				g.dh = x2 >> 16, g.dw = x3;
			uint32_t a_bw = v[10], wa = v[13], ba = v[14], tr = v[18], tc = v[19], G = dcc_rd32(d + 104);
			G = G ? G : 1; /* groups: G convolutions of M/G outputs from C/G inputs */
			int shift = (int32_t)v[11], bshift = (int32_t)v[12];
			uint32_t cg = G <= g.C && g.C % G == 0 && g.M % G == 0 ? g.C / G : 0, mg = cg ? g.M / G : 0;
			uint64_t nw; /* the weights: a product of descriptor fields, refused when it wraps */
			if (__builtin_mul_overflow((uint64_t)g.M * cg, (uint64_t)g.kh * g.kw, &nw) || nw > UINT64_MAX / 4)
				nw = UINT64_MAX / 4;
			if (v[0] != 0x564e4f43 || !g.M || !g.C || !cg || g.kh > 0xffff || g.sh > 0xffff || g.pt > 0xffff ||
			    g.dw > 0xffff || !g.OH || g.OH != dcc_conv_shape_out(&g, 0) || g.OW != dcc_conv_shape_out(&g, 1) ||
			    (uint64_t)g.C * g.H * g.W > words ||
			    (uint64_t)g.M * g.OH * g.OW > words || a_bw < 1 || a_bw > 32 || wa + 2 * nw > p->dram_bytes ||
			    (uint64_t)ba + 4ull * g.M > p->dram_bytes || !v[15] || v[15] > 0xffff || !v[16] || v[16] > 0xffff ||
			    !v[17] || v[17] > 255 || !tr || tr > g.OH || !tc || tc > g.OW) {
				rc = dcc_fail(err, DCC_E_RANGE, "instruction %zu: bad convolution descriptor at 0x%x", i, s->x);
				break;
			}
			/* the arithmetic: formats/fixed.md's convolution, summed in 64 bits */
			size_t np = (size_t)g.OH * g.OW;
			int64_t *plane = malloc(np * sizeof(int64_t));
			if (!plane) {
				rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
				break;
			}
			const int32_t *x = buf[s->a];
			int32_t *y = buf[s->b];
			for (uint32_t m = 0; m < g.M; m++) {
				memset(plane, 0, np * sizeof(int64_t));
				for (uint32_t ch = m / mg * cg; ch < (m / mg + 1) * cg; ch++)
					for (uint32_t ky = 0; ky < g.kh; ky++)
						for (uint32_t kx = 0; kx < g.kw; kx++) {
							size_t wi = (((size_t)m * cg + ch % cg) * g.kh + ky) * g.kw + kx;
							int64_t w = (int16_t)(dram[wa + 2 * wi] | dram[wa + 2 * wi + 1] << 8);
							if (!w) /* the sum, not the cycles: the engine spends them */
								continue;
							for (uint32_t oy = 0; oy < g.OH; oy++) {
								long iy = (long)((uint64_t)oy * g.sh + (uint64_t)ky * g.dh) - (long)g.pt;
								if (iy < 0 || iy >= (long)g.H)
									continue;
								const int32_t *xr = x + ((size_t)ch * g.H + (size_t)iy) * g.W;
								int64_t *pr = plane + (size_t)oy * g.OW;
								for (uint32_t ox = 0; ox < g.OW; ox++) {
									long ix = (long)((uint64_t)ox * g.sw + (uint64_t)kx * g.dw) -
										  (long)g.pl;
									if (ix >= 0 && ix < (long)g.W)
										pr[ox] = dcc_fx_wadd(pr[ox], w * xr[ix]);
								}
							}
						}
				int64_t b = dcc_fx_rshift((int32_t)dcc_rd32(dram + ba + 4 * (size_t)m), bshift);
				for (size_t q = 0; q < np; q++) {
					int32_t o = dcc_fx_sat(dcc_fx_rshift(dcc_fx_wadd(plane[q], b), shift), (int)a_bw);
					y[(size_t)m * np + q] = (s->flags & 1) && o < 0 ? 0 : o;
				}
			}
			free(plane);
			/* the cycles: the engine the descriptor was tiled for */
			dcc_layer_stats *ls = stats_entry(st, s->x, (const char *)d + 80, err);
			if (!ls) {
				rc = DCC_E_NOMEM;
				break;
			}
			vector_owner(st, ls, &last, &vpend);
			dcc_accel_cfg e = *c;
			e.conv_pes = (int)v[15], e.convolvers = (int)v[16], e.conv_k = (int)v[17];
			dcc_conv_shape one = g; /* each group as a convolution of its own, in turn */
			one.M = mg, one.C = cg;
			for (uint32_t gi = 0; gi < G; gi++)
				dcc_conv_model(&one, &e, tr, tc, (int)a_bw, ls);
			li++;
			break;
		}
		case DCC_INSN_SPMV:
		case DCC_INSN_SPCONV: {
			const uint8_t *d = dram + s->x;
			if (dcc_rd32(d) != 0x5259414c) {
				rc = dcc_fail(err, DCC_E_FORMAT, "instruction %zu: no layer descriptor at 0x%x", i, s->x);
				break;
			}
			layer_run L = {dcc_rd32(d + 4), dcc_rd32(d + 8), dcc_rd32(d + 12), dcc_rd32(d + 8), NULL, NULL};
			uint32_t a_bw = dcc_rd32(d + 16), cba = dcc_rd32(d + 28), ba = dcc_rd32(d + 32), pet = dcc_rd32(d + 36);
			int shift = (int32_t)dcc_rd32(d + 20), bshift = (int32_t)dcc_rd32(d + 24);
			if (L.rows > words || L.cols > words || !L.pes || L.pes > 65535 || a_bw < 1 || a_bw > 32 ||
			    (uint64_t)cba + 64 > p->dram_bytes || (uint64_t)ba + 4ull * L.rows > p->dram_bytes ||
			    (uint64_t)pet + 16ull * L.pes > p->dram_bytes) {
				rc = dcc_fail(err, DCC_E_RANGE, "instruction %zu: layer descriptor out of range", i);
				break;
			}
			int32_t cb[16];
			for (int k = 0; k < 16; k++)
				cb[k] = (int32_t)dcc_rd32(dram + cba + 4 * k);
			L.cb = cb;
			if (!(L.pe = calloc(L.pes, sizeof(pe_view)))) {
				rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
				break;
			}
			for (uint32_t q = 0; q < L.pes && !rc; q++) {
				const uint8_t *t = dram + pet + 16 * (size_t)q;
				uint32_t pa = dcc_rd32(t), ea = dcc_rd32(t + 4), ne = dcc_rd32(t + 8), lr = dcc_rd32(t + 12);
				/* a PE's local rows are exactly the rows interleaved to it, so
				 * every accumulator it names is one of the layer's rows */
				uint32_t want_lr = L.rows > q ? (L.rows - q + L.pes - 1) / L.pes : 0;
				if ((uint64_t)pa + 4ull * (L.cols + 1) > p->dram_bytes || (uint64_t)ea + ne > p->dram_bytes) {
					rc = dcc_fail(err, DCC_E_RANGE, "instruction %zu: PE %u's data is outside DRAM", i, q);
					break;
				}
				if (lr != want_lr) {
					rc = dcc_fail(err, DCC_E_RANGE, "instruction %zu: PE %u has %u local rows, not the %u of %u rows "
						      "over %u PEs", i, q, lr, want_lr, L.rows, L.pes);
					break;
				}
				L.pe[q] = (pe_view){dram + pa, dram + ea, ne, lr, ne};
				/* pointers ascending, within the entries; rows within the PE's */
				uint32_t prev = 0;
				for (uint32_t j = 0; j <= L.cols && !rc; j++) {
					uint32_t v = dcc_rd32(dram + pa + 4 * (size_t)j);
					if (v < prev || v > ne)
						rc = dcc_fail(err, DCC_E_FORMAT, "instruction %zu: PE %u's column pointers are corrupt", i, q);
					prev = v;
				}
				for (uint32_t j = 0; j < L.cols && !rc; j++) {
					uint32_t r = 0;
					for (uint32_t e = dcc_rd32(dram + pa + 4 * (size_t)j); e < dcc_rd32(dram + pa + 4 * (size_t)j + 4); e++)
						r += (uint32_t)(dram[ea + e] >> 4) + 1;
					if (r > lr)
						rc = dcc_fail(err, DCC_E_FORMAT, "instruction %zu: PE %u column %u runs past its rows", i, q, j);
				}
			}
			/* a convolution: its geometry block after the descriptor */
			uint32_t geo[8] = {0};
			size_t npos = 1;
			if (!rc && s->op == DCC_INSN_SPCONV) {
				for (int k = 0; k < 8; k++)
					geo[k] = dcc_rd32(d + 64 + 4 * k);
				uint64_t kk = (uint64_t)geo[3] * geo[3], ph = (uint64_t)geo[1] + 2ull * geo[5],
					 pw = (uint64_t)geo[2] + 2ull * geo[5];
				npos = (size_t)geo[6] * geo[7];
				if (!geo[0] || !geo[3] || !geo[4] || (uint64_t)geo[0] * kk != L.cols ||
				    (uint64_t)geo[0] * geo[1] * geo[2] > words || (uint64_t)L.rows * npos > words || ph < geo[3] ||
				    pw < geo[3] || geo[6] != (ph - geo[3]) / geo[4] + 1 || geo[7] != (pw - geo[3]) / geo[4] + 1)
					rc = dcc_fail(err, DCC_E_RANGE, "instruction %zu: convolution geometry out of range", i);
			}
			int32_t *patch = !rc && s->op == DCC_INSN_SPCONV ? malloc(L.cols * sizeof(int32_t)) : NULL;
			if (!rc && s->op == DCC_INSN_SPCONV && !patch)
				rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
			if (!rc && s->op == DCC_INSN_SPMV && (uint64_t)s->z + L.cols > words)
				rc = dcc_fail(err, DCC_E_RANGE, "instruction %zu: input offset %u + %u columns beyond the buffer", i, s->z,
					      L.cols);
			dcc_layer_stats *ls = rc ? NULL : stats_entry(st, s->x, (const char *)d + 40, err);
			if (!rc && !ls)
				rc = DCC_E_NOMEM;
			if (ls)
				vector_owner(st, ls, &last, &vpend);
			if (!rc) {
				uint64_t before = ls->compute_cycles, busy0 = ls->busy_pe_cycles;
				int32_t *y = buf[s->b];
				for (size_t pos = 0; pos < npos; pos++) {
					const int32_t *x = buf[s->a] + (s->op == DCC_INSN_SPMV ? s->z : 0);
					if (patch) { /* the input patch of this output position, zeros for padding */
						uint32_t oy = (uint32_t)(pos / geo[7]), ox = (uint32_t)(pos % geo[7]), K = geo[3];
						size_t q = 0;
						for (uint32_t ch = 0; ch < geo[0]; ch++)
							for (uint32_t ky = 0; ky < K; ky++)
								for (uint32_t kx = 0; kx < K; kx++, q++) {
									long iy = (long)(oy * geo[4] + ky) - (long)geo[5];
									long ix = (long)(ox * geo[4] + kx) - (long)geo[5];
									patch[q] = iy >= 0 && iy < (long)geo[1] && ix >= 0 && ix < (long)geo[2]
											   ? buf[s->a][((size_t)ch * geo[1] + (size_t)iy) * geo[2] + (size_t)ix]
											   : 0;
								}
						x = patch;
					}
					uint32_t nnz = 0;
					for (uint32_t j = 0; j < L.cols; j++) /* leading nonzero detection */
						if (x[j])
							nz[nnz++] = j;
					memset(acc, 0, L.rows * sizeof(int64_t));
					if (run_layer(&L, x, nz, nnz, acc, c, ls)) {
						rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
						break;
					}
					for (uint32_t r = 0; r < L.rows; r++) {
						int64_t b = dcc_fx_rshift((int32_t)dcc_rd32(dram + ba + 4 * (size_t)r), bshift);
						int32_t v = dcc_fx_sat(dcc_fx_rshift(dcc_fx_wadd(acc[r], b), shift), (int)a_bw);
						y[(size_t)r * npos + pos] = (s->flags & 1) && v < 0 ? 0 : v;
					}
				}
				finish_layer(&L, c, ls, ls->compute_cycles - before, ls->busy_pe_cycles - busy0);
				ls->dense_macs += (uint64_t)L.rows * L.cols * (npos - 1);
				li++;
			}
			free(patch);
			free(L.pe);
			break;
		}
		}
	}
	st->runs++;
	for (int b = 0; b < DCC_NBUF; b++)
		free(buf[b]);
	free(acc), free(nz);
	return rc;
}

/* A run of gap positions with no weight: ~ Geometric(density), drawn
 * directly, so a layer costs its nonzeros, not rows x cols draws. */
static uint64_t gap(dcc_rng *r, double logq)
{
	if (logq == 0)
		return 0; /* density 1 */
	double u = 1 - dcc_rng_uniform(r); /* (0, 1] */
	double g = floor(log(u) / logq);
	return g > 1e18 ? (uint64_t)1e18 : (uint64_t)g;
}

/* One PE's part of a synthetic layer: its local matrix walked column-major
 * by geometric jumps; the columns with a nonzero activation kept as CSC
 * (fillers where a run of zeros exceeds the 4-bit index: lib/encode's
 * rule), the others only counted. */
static int synth_pe(dcc_rng *r, uint32_t lrows, uint32_t cols, double logq, const uint32_t *active, uint32_t nact,
		    uint8_t **ptr_out, uint8_t **ent_out, uint64_t **at_out, pe_view *v)
{
	uint8_t *ptr = malloc(4 * ((size_t)nact + 1)), *ent = NULL;
	uint64_t *at = malloc(((size_t)nact + 1) * sizeof(uint64_t));
	size_t n = 0, cap = 0;
	uint64_t total = 0, cells = (uint64_t)lrows * cols;
	*ptr_out = ptr, *ent_out = NULL, *at_out = at;
	if (!ptr || !at)
		return -1;
	uint32_t a = 0; /* the next active column */
	int64_t prev = -1, col = -1;
	for (uint64_t q = gap(r, logq); lrows && q < cells; q += 1 + gap(r, logq)) {
		uint32_t j = (uint32_t)(q / lrows), lr = (uint32_t)(q % lrows);
		if (j != col)
			col = j, prev = -1;
		while (a < nact && active[a] <= j) /* columns reached: where their entries start */
			at[a] = total, dcc_wr32(ptr + 4 * (size_t)a++, (uint32_t)n);
		uint32_t skip, fill = dcc_csc_split_gap((uint32_t)(lr - prev - 1), 15, &skip);
		total += (uint64_t)fill + 1;
		prev = lr;
		if (!a || active[a - 1] != j) /* an inactive column: not stored */
			continue;
		if (n + fill + 1 > cap) {
			cap = 2 * (n + fill + 1) + 64;
			uint8_t *e2 = realloc(ent, cap);
			if (!e2) {
				free(ent);
				return -1;
			}
			ent = e2;
		}
		for (uint32_t f = 0; f < fill; f++)
			ent[n++] = 15 << 4; /* a filler: index 0, the zero */
		ent[n++] = (uint8_t)(skip << 4 | (1 + dcc_rng_next(r) % 15));
	}
	while (a <= nact)
		at[a] = total, dcc_wr32(ptr + 4 * (size_t)a++, (uint32_t)n);
	*ent_out = ent;
	*v = (pe_view){ptr, ent ? ent : ptr, (uint32_t)n, lrows, total, at};
	return n > UINT32_MAX ? -1 : 0;
}

int dcc_emu_synthetic(uint32_t rows, uint32_t cols, double wd, double ad, uint64_t seed, const dcc_accel_cfg *c,
		      dcc_layer_stats *out, dcc_error *err)
{
	memset(out, 0, sizeof(*out));
	uint32_t P = (uint32_t)c->pes, nact = 0;
	dcc_rng r;
	dcc_rng_seed(&r, seed);
	int32_t cb[16] = {0, 1, -1, 2, -2, 3, -3, 4, -4, 5, -5, 6, -6, 7, -7, 8};
	uint8_t **ptr = calloc(P, sizeof(uint8_t *)), **ent = calloc(P, sizeof(uint8_t *));
	uint64_t **at = calloc(P, sizeof(uint64_t *));
	int32_t *x = malloc(((size_t)cols + 1) * sizeof(int32_t));
	uint32_t *active = malloc(((size_t)cols + 1) * sizeof(uint32_t)), *nz = malloc(((size_t)cols + 1) * sizeof(uint32_t));
	pe_view *pv = calloc(P, sizeof(pe_view));
	int rc = pv && ptr && ent && at && x && nz && active ? 0 : dcc_fail(err, DCC_E_NOMEM, "out of memory");
	/* the activations first: the layer is generated only where they are nonzero */
	for (uint32_t j = 0; !rc && j < cols; j++)
		if (dcc_rng_uniform(&r) < ad) {
			x[nact] = 1 + (int32_t)(dcc_rng_next(&r) % 100);
			nz[nact] = nact;
			active[nact++] = j;
		}
	double logq = wd >= 1 ? 0 : log1p(-wd);
	for (uint32_t p = 0; !rc && p < P; p++) {
		uint32_t lrows = rows > p ? (rows - p + P - 1) / P : 0;
		if (synth_pe(&r, lrows, cols, logq, active, nact, &ptr[p], &ent[p], &at[p], &pv[p]))
			rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	/* the view: the active columns only, as many as the matrix's in the figures */
	layer_run L = {rows, nact, P, cols, cb, pv, active};
	if (!rc) {
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (run_layer(&L, x, nz, nact, NULL, c, out))
			rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
		clock_gettime(CLOCK_MONOTONIC, &t1);
		out->host_seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
		finish_layer(&L, c, out, out->compute_cycles, out->busy_pe_cycles);
		snprintf(out->name, sizeof(out->name), "%ux%u", cols, rows);
	}
	for (uint32_t p = 0; ptr && ent && at && p < P; p++)
		free(ptr[p]), free(ent[p]), free(at[p]);
	free(ptr), free(ent), free(at), free(pv), free(x), free(nz), free(active);
	return rc;
}

uint64_t dcc_pe_cycles(const uint32_t *count, uint32_t P, uint32_t cols, const uint32_t *nz, uint32_t nnz, int fifo,
		       uint64_t *busy)
{
	uint32_t F = (uint32_t)(fifo > 0 ? fifo : 1);
	uint64_t *E = calloc(P, sizeof(uint64_t)), *S = malloc((size_t)P * F * sizeof(uint64_t)), B = 0, T = 0;
	if (!E || !S) {
		free(E), free(S);
		return 0;
	}
	(void)cols;
	for (uint32_t k = 0; k < nnz; k++) {
		uint64_t b = k == 0 ? 1 : B + 1;
		if (k >= F)
			for (uint32_t p = 0; p < P; p++) {
				uint64_t sk = S[(size_t)p * F + (k - F) % F];
				b = sk > b ? sk : b;
			}
		B = b;
		for (uint32_t p = 0; p < P; p++) {
			uint32_t cnt = count[(size_t)p * cols + nz[k]];
			uint64_t st = B + 1 > E[p] + 1 ? B + 1 : E[p] + 1;
			S[(size_t)p * F + k % F] = st;
			E[p] = st + (cnt ? cnt : 1) - 1;
			if (busy)
				busy[p] += cnt ? cnt : 1;
			T = E[p] > T ? E[p] : T;
		}
	}
	free(E), free(S);
	return T;
}
