/* convolver.c: the cycle model of the convolver engine (Qiu et al.,
 * "Going Deeper with Embedded FPGA Platform for CNN", FPGA'16), and the
 * compiler's choice of tiles.  The engine has To PEs; each computes one
 * output channel with Ti convolvers of Kn x Kn (line buffers feeding a
 * multiplier array) over Ti input channels, their sums added by an adder
 * tree to the partial sums in the output buffer; bias shift, data shift,
 * ReLU and max-pooling sit on the output path.  The layer is tiled into
 * output tiles of Tr x Tc; for each tile, each group of To output channels
 * and each group of Ti input channels, one step loads the input tile (with
 * its halo) and the weights, and computes for Tr x Tc x passes cycles,
 * where a k x k kernel larger than the convolver takes ceil(k/Kn)^2
 * passes (the kernel split into Kn x Kn pieces, zero-padded).  Buffers
 * are double-buffered, so a step takes the larger of its compute and the
 * DRAM transfer of its data; the output tile is written back after the
 * last input group.  Weights are dense: a pruned weight costs its cycle.
 * The arithmetic itself is in emu.c. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../core/internal.h"
#include "../dcc_accel.h"

/* The input rows (or columns) an output tile [o0, o0 + n) reads inside the
 * image, at stride s and padding p, a window reaching `reach` pixels. */
static uint64_t span(uint32_t o0, uint32_t n, uint32_t s, uint32_t p, uint64_t reach, uint32_t size)
{
	int64_t lo = (int64_t)o0 * s - p, hi = (int64_t)(o0 + n - 1) * s - p + (int64_t)reach - 1;
	lo = lo < 0 ? 0 : lo;
	hi = hi > (int64_t)size - 1 ? (int64_t)size - 1 : hi;
	return hi >= lo ? (uint64_t)(hi - lo + 1) : 0;
}

/* bytes per activation in DRAM */
static int act_bytes_of(int a_bw) { return a_bw <= 8 ? 1 : a_bw <= 16 ? 2 : 4; }

void dcc_conv_model(const dcc_conv_shape *g, const dcc_accel_cfg *c, uint32_t tr, uint32_t tc, int a_bw,
		    dcc_layer_stats *st)
{
	int act_bytes = act_bytes_of(a_bw);
	uint64_t To = (uint64_t)c->conv_pes, Ti = (uint64_t)c->convolvers, Kn = (uint64_t)c->conv_k;
	/* a kh x kw kernel in ceil(kh/Kn) x ceil(kw/Kn) pieces; a dilated one by
	 * its taps (the line buffers tap every dh-th row, dw-th column) */
	uint64_t passes = ((g->kh + Kn - 1) / Kn) * ((g->kw + Kn - 1) / Kn), kk = (uint64_t)g->kh * g->kw;
	uint64_t reach_h = (uint64_t)g->dh * (g->kh - 1) + 1, reach_w = (uint64_t)g->dw * (g->kw - 1) + 1;
	double per_cycle = c->dram_gbps * 1e9 / (c->freq_mhz * 1e6);
	uint64_t nCg = (g->C + Ti - 1) / Ti, c_last = g->C - (nCg - 1) * Ti;
	/* the output-channel groups: full ones, then the remainder */
	uint64_t mg[2][2] = {{g->M / To, To}, {g->M % To ? 1 : 0, g->M % To}};
	uint64_t total = 0, compute = 0, dram = 0, bytes = 0, macs = 0, bubble = 0, first = 1, mops = 0, inr = 0, wr = 0,
		 outrw = 0;
	for (uint32_t oy = 0; oy < g->OH; oy += tr) {
		uint32_t r = g->OH - oy < tr ? g->OH - oy : tr;
		uint64_t rows = span(oy, r, g->sh, g->pt, reach_h, g->H);
		for (uint32_t ox = 0; ox < g->OW; ox += tc) {
			uint32_t q = g->OW - ox < tc ? g->OW - ox : tc;
			uint64_t cols = span(ox, q, g->sw, g->pl, reach_w, g->W), comp = (uint64_t)r * q * passes;
			for (int t = 0; t < 2; t++) {
				uint64_t ngroups = mg[t][0], mn = mg[t][1];
				if (!ngroups)
					continue;
				/* nCg - 1 steps of Ti channels, then the last (with the write-back) */
				for (int last = 0; last < 2; last++) {
					uint64_t n = last ? ngroups : ngroups * (nCg - 1), cn = last ? c_last : Ti;
					if (!n)
						continue;
					uint64_t b = cn * rows * cols * (uint64_t)act_bytes + mn * cn * kk * 2 +
						     (last ? mn * r * q * (uint64_t)act_bytes : 0);
					uint64_t d = (uint64_t)ceil((double)b / per_cycle);
					if (first) { /* the first load is not hidden behind compute */
						total += d;
						first = 0;
					}
					total += n * (comp > d ? comp : d);
					compute += n * comp;
					dram += n * d;
					bytes += n * b;
					macs += n * mn * cn * kk * r * q;
					mops += n * mn * cn * Kn * Kn * comp; /* every multiplier of a busy convolver */
					inr += n * cn * comp;                 /* a pixel into each busy line buffer a cycle */
					wr += n * mn * cn * kk;               /* the weights into the convolvers once a step */
					outrw += n * mn * r * q;              /* a partial sum read and written a step */
					bubble += n * (To - mn) * comp;
				}
			}
		}
	}
	total += (uint64_t)c->pipeline;
	st->cycles += total;
	st->compute_cycles += compute + (uint64_t)c->pipeline;
	st->dram_cycles += dram;
	st->dram_bytes += bytes;
	st->macs += macs;
	st->dense_macs += macs;
	st->busy_pe_cycles += To * compute - bubble;
	st->bubble_pe_cycles += bubble;
	st->bandwidth_bound = dram > compute;
	st->ev[DCC_EV_CONV_MULT] += mops;
	st->ev[DCC_EV_CONV_ADD] += mops;
	st->ev[DCC_EV_CONV_IN_READ] += inr;
	st->ev[DCC_EV_CONV_W_READ] += wr;
	st->ev[DCC_EV_CONV_OUT_RW] += outrw;
	st->ev[DCC_EV_DRAM_BYTE] += bytes;
	/* the PE array is clocked, idle, while the convolver engine works */
	st->ev[DCC_EV_PE_CYCLE] += (uint64_t)c->pes * total;
	st->ev[DCC_EV_IDLE_CYCLE] += (uint64_t)c->pes * total;
	st->rows = g->M;
	st->cols = (uint32_t)(g->C * kk);
	st->mults = (uint32_t)(To * Ti * Kn * Kn);
	st->tile_r = tr, st->tile_c = tc;
}

int dcc_conv_tiling(const dcc_conv_shape *g, const dcc_accel_cfg *c, int a_bw, uint32_t *tr, uint32_t *tc,
		    dcc_error *err)
{
	int act_bytes = act_bytes_of(a_bw);
	uint64_t cap = (uint64_t)c->conv_buf_kb * 1024, To = (uint64_t)c->conv_pes, Ti = (uint64_t)c->convolvers;
	uint64_t best = UINT64_MAX;
	*tr = *tc = 0;
	uint64_t reach_h = (uint64_t)g->dh * (g->kh - 1) + 1, reach_w = (uint64_t)g->dw * (g->kw - 1) + 1;
	if (To * Ti * g->kh * g->kw * 2 > cap)
		return dcc_fail(err, DCC_E_UNSUPPORTED,
				"a %ux%u convolution's weights for %llu x %llu convolvers do not fit a %d KB buffer", g->kh,
				g->kw, (unsigned long long)To, (unsigned long long)Ti, c->conv_buf_kb);
	for (uint32_t div = 1; div <= g->OW; div *= 2) {
		uint32_t q = (g->OW + div - 1) / div;
		for (uint32_t r = 1; r <= g->OH; r++) {
			uint64_t in_r = (uint64_t)(r - 1) * g->sh + reach_h, in_c = (uint64_t)(q - 1) * g->sw + reach_w;
			if (Ti * in_r * in_c * (uint64_t)act_bytes > cap || To * r * q * 4 > cap)
				break;
			dcc_layer_stats s = {0};
			dcc_conv_model(g, c, r, q, a_bw, &s);
			if (s.cycles < best || (s.cycles == best && (uint64_t)r * q > (uint64_t)*tr * *tc))
				best = s.cycles, *tr = r, *tc = q;
		}
		if (q == 1)
			break;
	}
	if (!*tr)
		return dcc_fail(err, DCC_E_UNSUPPORTED,
				"no tiling of a %ux%ux%u input fits the convolver engine's %d KB buffers (%d convolvers)", g->C,
				g->H, g->W, c->conv_buf_kb, c->convolvers);
	return 0;
}

int dcc_emu_synthetic_conv(const dcc_conv_shape *g, const dcc_accel_cfg *c, dcc_layer_stats *out, dcc_error *err)
{
	memset(out, 0, sizeof(*out));
	dcc_conv_shape s = *g;
	s.OH = dcc_conv_shape_out(g, 0), s.OW = dcc_conv_shape_out(g, 1);
	if (!g->M || !g->C || !s.OH || !s.OW || c->conv_pes < 1 || c->convolvers < 1 || c->conv_k < 1)
		return dcc_fail(err, DCC_E_RANGE, "convolution geometry out of range");
	uint32_t tr, tc;
	int rc = dcc_conv_tiling(&s, c, 16, &tr, &tc, err); /* 16-bit data */
	if (rc)
		return rc;
	dcc_conv_model(&s, c, tr, tc, 16, out);
	snprintf(out->name, sizeof(out->name), "%ux%ux%u>%u", g->C, g->H, g->W, g->M);
	return 0;
}
