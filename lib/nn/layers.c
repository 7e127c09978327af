/* layers.c: float forward/backward kernels on OpenBLAS (see layers.h). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../dcc_graph.h"
#include "layers.h"

/* ---- fully connected: out = inp W^T + b ---- */

void fc_forward(float *out, const float *inp, const float *w, const float *b, size_t B, int in, int out_f)
{
	for (size_t i = 0; i < B; i++)
		memcpy(out + i * out_f, b, sizeof(float) * (size_t)out_f);
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, out_f, in, 1.0f, inp, in, w, in, 1.0f, out,
		    out_f);
}

void fc_forward_ref(float *out, const float *inp, const float *w, const float *b, size_t B, int in, int out_f)
{
	for (size_t i = 0; i < B; i++)
		for (int o = 0; o < out_f; o++) {
			double acc = b[o];
			for (int k = 0; k < in; k++)
				acc += (double)inp[i * in + k] * w[(size_t)o * in + k];
			out[i * out_f + o] = (float)acc;
		}
}

void fc_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
		 size_t B, int in, int out_f)
{
	/* dW += dout^T inp; db += column sums; dinp = dout W */
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out_f, in, (int)B, 1.0f, dout, out_f, inp, in, 1.0f,
		    dw, in);
	for (size_t i = 0; i < B; i++)
		for (int o = 0; o < out_f; o++)
			db[o] += dout[i * out_f + o];
	if (dinp)
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, in, out_f, 1.0f, dout, out_f, w, in,
			    0.0f, dinp, in);
}

/* ---- convolution by im2col ----
 * With NHWC activations a patch row of kw pixels x C channels is contiguous
 * (when the kernel is not dilated), so im2col gathers kh runs of kw*C floats
 * per output pixel, in (ky, kx, c) order; the weights are permuted from
 * PyTorch's (Cout, C, kh, kw) to (Cout, kh, kw, C) to match, and their
 * gradient permuted back.  Input pixel of output (oy, ox) and tap (ky, kx):
 * (oy sh + ky dh - pt, ox sw + kx dw - pl). */

/* Output row r + 1's image and pixel from row r's. */
static inline void next_pixel(size_t *n, int *oy, int *ox, int Ho, int Wo)
{
	if (++*ox == Wo) {
		*ox = 0;
		if (++*oy == Ho)
			*oy = 0, ++*n;
	}
}

/* The patches of output rows r0 .. r1 - 1 (row r = (n Ho + oy) Wo + ox)
 * over channels c0 .. c0 + Cg - 1 of a C-channel input: rows of kh x kw x Cg,
 * in (ky, kx, c) order. */
DCC_HOT
static void im2col(float *cols, const float *inp, int C, int c0, int Cg, int H, int W, const dcc_geom *q, int Ho,
		   int Wo, size_t r0, size_t r1)
{
	const int KH = q->kh, KW = q->kw;
	size_t ckk = (size_t)Cg * KH * KW, run = (size_t)KW * Cg, hw = (size_t)Ho * Wo;
	size_t n = r0 / hw;
	int oy = (int)(r0 % hw) / Wo, ox = (int)(r0 % hw) % Wo;
	for (size_t r = r0; r < r1; r++, next_pixel(&n, &oy, &ox, Ho, Wo)) {
		const float *x = inp + n * (size_t)H * W * C + c0;
		float *row = cols + (r - r0) * ckk;
		int x0 = ox * q->sw - q->pl;
		for (int ky = 0; ky < KH; ky++, row += run) {
			int y = oy * q->sh + ky * q->dh - q->pt;
			if (y < 0 || y >= H) {
				memset(row, 0, run * sizeof(float));
			} else if (Cg == C && q->dw == 1 && x0 >= 0 && x0 + KW <= W) {
				const float *src = x + ((size_t)y * W + x0) * C;
				for (size_t i = 0; i < run; i++) /* short runs: a loop beats a call */
					row[i] = src[i];
			} else {
				for (int kx = 0; kx < KW; kx++) {
					int xx = x0 + kx * q->dw;
					if (xx < 0 || xx >= W)
						memset(row + (size_t)kx * Cg, 0, (size_t)Cg * sizeof(float));
					else
						memcpy(row + (size_t)kx * Cg, x + ((size_t)y * W + xx) * C,
						       (size_t)Cg * sizeof(float));
				}
			}
		}
	}
}

DCC_HOT
static void col2im_add(float *dinp, const float *cols, int C, int c0, int Cg, int H, int W, const dcc_geom *q,
		       int Ho, int Wo, size_t r0, size_t r1)
{
	size_t ckk = (size_t)Cg * q->kh * q->kw, hw = (size_t)Ho * Wo;
	size_t n = r0 / hw;
	int oy = (int)(r0 % hw) / Wo, ox = (int)(r0 % hw) % Wo;
	for (size_t r = r0; r < r1; r++, next_pixel(&n, &oy, &ox, Ho, Wo)) {
		float *x = dinp + n * (size_t)H * W * C + c0;
		const float *row = cols + (r - r0) * ckk;
		for (int ky = 0; ky < q->kh; ky++) {
			int y = oy * q->sh + ky * q->dh - q->pt;
			for (int kx = 0; kx < q->kw; kx++, row += Cg) {
				int xx = ox * q->sw + kx * q->dw - q->pl;
				if (y < 0 || y >= H || xx < 0 || xx >= W)
					continue;
				float *d = x + ((size_t)y * W + xx) * C;
				for (int c = 0; c < Cg; c++)
					d[c] += row[c];
			}
		}
	}
}

size_t conv_tile_rows(const dcc_geom *q, int Cg, size_t rows)
{
	if (conv_pointwise(q))
		return rows;
	size_t t = CONV_TILE_FLOATS / ((size_t)Cg * q->kh * q->kw);
	t = t < 16 ? 16 : t;
	return t < rows ? t : rows;
}

/* (Cout, C, KK) -> (Cout, KK, C) and back; KK = kh kw taps. */
static void perm_w(float *dst, const float *w, int Cout, int C, int KK)
{
	for (int o = 0; o < Cout; o++)
		for (int c = 0; c < C; c++)
			for (int k = 0; k < KK; k++)
				dst[((size_t)o * KK + k) * C + c] = w[((size_t)o * C + c) * KK + k];
}

static void unperm_add(float *dw, const float *src, int Cout, int C, int KK)
{
	for (int o = 0; o < Cout; o++)
		for (int c = 0; c < C; c++)
			for (int k = 0; k < KK; k++)
				dw[((size_t)o * C + c) * KK + k] += src[((size_t)o * KK + k) * C + c];
}

/* Depthwise (one input channel per group, one output per channel): each
 * output pixel's channels are a vector over its input window, so the loop
 * runs over channels; wt holds the weights as (kh*kw, C). */
#define DW_BLOCK 16
/* eight floats: one AVX register in the x86-64-v3 clone, two SSE (or NEON)
 * registers elsewhere */
typedef float v8sf __attribute__((vector_size(32)));
#define LD8(v, p) memcpy(&(v), (p), sizeof(v8sf)) /* unaligned */
#define ST8(p, v) memcpy((p), &(v), sizeof(v8sf))
DCC_HOT
static void dw_forward(float *out, float *wt, const float *inp, const float *w, const float *b, size_t B, int C, int H,
		       int W, const dcc_geom *q, int Ho, int Wo)
{
	int KK = q->kh * q->kw;
	for (int c = 0; c < C; c++)
		for (int k = 0; k < KK; k++)
			wt[(size_t)k * C + c] = w[(size_t)c * KK + k];
	for (size_t n = 0; n < B; n++) {
		const float *x = inp + n * (size_t)H * W * C;
		float *o = out + n * (size_t)Ho * Wo * C;
		for (int oy = 0; oy < Ho; oy++)
			for (int ox = 0; ox < Wo; ox++, o += C) {
				/* 16 channels at a time summed over the window in
				 * registers (the last block, if short, in memory) */
				for (int c0 = 0; c0 < C; c0 += DW_BLOCK) {
					int full = C - c0 >= DW_BLOCK, nc = full ? DW_BLOCK : C - c0;
					v8sf a0 = {0}, a1 = {0}, w0, w1, x0, x1;
					if (full)
						LD8(a0, b + c0), LD8(a1, b + c0 + 8);
					else
						memcpy(o + c0, b + c0, sizeof(float) * (size_t)nc);
					for (int ky = 0; ky < q->kh; ky++) {
						int y = oy * q->sh + ky * q->dh - q->pt;
						if (y < 0 || y >= H)
							continue;
						for (int kx = 0; kx < q->kw; kx++) {
							int xx = ox * q->sw + kx * q->dw - q->pl;
							if (xx < 0 || xx >= W)
								continue;
							const float *xp = x + ((size_t)y * W + xx) * C + c0;
							const float *wk = wt + (size_t)(ky * q->kw + kx) * C + c0;
							if (full) {
								LD8(w0, wk), LD8(w1, wk + 8), LD8(x0, xp), LD8(x1, xp + 8);
								a0 += w0 * x0, a1 += w1 * x1;
							} else {
								for (int c = 0; c < nc; c++)
									o[c0 + c] += wk[c] * xp[c];
							}
						}
					}
					if (full)
						ST8(o + c0, a0), ST8(o + c0 + 8, a1);
				}
			}
	}
}

DCC_HOT
static void dw_backward(float *dinp, float *dw, float *db, float *wt, const float *dout, const float *inp, size_t B,
			int C, int H, int W, const dcc_geom *q, int Ho, int Wo)
{
	int KK = q->kh * q->kw;
	float *dwt = wt + (size_t)KK * C; /* (kh*kw, C), as wt */
	memset(dwt, 0, sizeof(float) * (size_t)KK * C);
	if (dinp)
		memset(dinp, 0, sizeof(float) * B * (size_t)H * W * C);
	for (size_t n = 0; n < B; n++) {
		const float *x = inp + n * (size_t)H * W * C, *g = dout + n * (size_t)Ho * Wo * C;
		float *dx = dinp ? dinp + n * (size_t)H * W * C : NULL;
		for (int oy = 0; oy < Ho; oy++)
			for (int ox = 0; ox < Wo; ox++, g += C) {
				for (int c = 0; c < C; c++)
					db[c] += g[c];
				for (int ky = 0; ky < q->kh; ky++) {
					int y = oy * q->sh + ky * q->dh - q->pt;
					if (y < 0 || y >= H)
						continue;
					for (int kx = 0; kx < q->kw; kx++) {
						int xx = ox * q->sw + kx * q->dw - q->pl;
						if (xx < 0 || xx >= W)
							continue;
						size_t at = ((size_t)y * W + xx) * C, k = (size_t)(ky * q->kw + kx) * C;
						for (int c = 0; c < C; c++)
							dwt[k + c] += g[c] * x[at + c];
						if (dx)
							for (int c = 0; c < C; c++)
								dx[at + c] += g[c] * wt[k + c];
					}
				}
			}
	}
	for (int c = 0; c < C; c++)
		for (int k = 0; k < KK; k++)
			dw[(size_t)c * KK + k] += dwt[(size_t)k * C + c];
}

void conv_forward(float *out, float *cols, float *wt, const float *inp, const float *w, const float *b,
		  size_t B, int C, int H, int W, const dcc_geom *q, int G, int Cout, int Ho, int Wo)
{
	if (conv_depthwise(C, G, Cout)) {
		dw_forward(out, wt, inp, w, b, B, C, H, W, q, Ho, Wo);
		return;
	}
	int Cg = C / G, Cog = Cout / G, KK = q->kh * q->kw, ckk = Cg * KK;
	size_t rows = B * (size_t)Ho * Wo;
	perm_w(wt, w, Cout, Cg, KK);
	for (size_t r = 0; r < rows; r++)
		memcpy(out + r * Cout, b, sizeof(float) * (size_t)Cout);
	int pw = conv_pointwise(q), lda = pw ? C : ckk;
	size_t tile = conv_tile_rows(q, Cg, rows);
	for (size_t r0 = 0; r0 < rows; r0 += tile) {
		size_t r1 = r0 + tile < rows ? r0 + tile : rows;
		for (int g = 0; g < G; g++) {
			if (!pw)
				im2col(cols, inp, C, g * Cg, Cg, H, W, q, Ho, Wo, r0, r1);
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(r1 - r0), Cog, ckk, 1.0f,
				    pw ? inp + r0 * C + g * Cg : cols, lda, wt + (size_t)g * Cog * ckk, ckk, 1.0f,
				    out + r0 * Cout + (size_t)g * Cog, Cout);
		}
	}
}

void conv_forward_ref(float *out, const float *inp, const float *w, const float *b, size_t B, int C, int H,
		      int W, const dcc_geom *q, int G, int Cout, int Ho, int Wo)
{
	int Cg = C / G, Cog = Cout / G;
	for (size_t n = 0; n < B; n++)
		for (int oy = 0; oy < Ho; oy++)
			for (int ox = 0; ox < Wo; ox++)
				for (int co = 0; co < Cout; co++) {
					double acc = b[co];
					for (int c = 0; c < Cg; c++)
						for (int ky = 0; ky < q->kh; ky++)
							for (int kx = 0; kx < q->kw; kx++) {
								int y = oy * q->sh + ky * q->dh - q->pt, x = ox * q->sw + kx * q->dw - q->pl;
								if (y < 0 || y >= H || x < 0 || x >= W)
									continue;
								acc += (double)inp[((n * H + y) * W + x) * C + co / Cog * Cg + c] *
								       w[(((size_t)co * Cg + c) * q->kh + ky) * q->kw + kx];
							}
					out[((n * Ho + oy) * Wo + ox) * Cout + co] = (float)acc;
				}
}

DCC_HOT
void conv_backward(float *dinp, float *dw, float *db, float *cols, float *wt, const float *dout, const float *inp,
		   size_t B, int C, int H, int W, const dcc_geom *q, int G, int Cout, int Ho, int Wo)
{
	if (conv_depthwise(C, G, Cout)) {
		dw_backward(dinp, dw, db, wt, dout, inp, B, C, H, W, q, Ho, Wo);
		return;
	}
	int Cg = C / G, Cog = Cout / G, KK = q->kh * q->kw, ckk = Cg * KK;
	size_t rows = B * (size_t)Ho * Wo;
	float *dwt = wt + (size_t)Cout * ckk;
	for (size_t r = 0; r < rows; r++)
		for (int co = 0; co < Cout; co++)
			db[co] += dout[r * Cout + co];
	int pw = conv_pointwise(q), lda = pw ? C : ckk;
	if (dinp && !pw)
		memset(dinp, 0, sizeof(float) * B * (size_t)H * W * C);
	memset(dwt, 0, sizeof(float) * (size_t)Cout * ckk);
	size_t tile = conv_tile_rows(q, Cg, rows);
	for (size_t r0 = 0; r0 < rows; r0 += tile) {
		size_t r1 = r0 + tile < rows ? r0 + tile : rows;
		int T = (int)(r1 - r0);
		const float *g0 = dout + r0 * Cout;
		for (int g = 0; g < G; g++) {
			/* the tile's patches, gathered again: they were the forward's */
			if (!pw)
				im2col(cols, inp, C, g * Cg, Cg, H, W, q, Ho, Wo, r0, r1);
			float *dwg = dwt + (size_t)g * Cog * ckk;
			const float *wg = wt + (size_t)g * Cog * ckk;
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Cog, ckk, T, 1.0f, g0 + (size_t)g * Cog, Cout,
				    pw ? inp + r0 * C + g * Cg : cols, lda, 1.0f, dwg, ckk);
			if (!dinp)
				continue;
			/* pointwise: the column gradients are the input's, in place */
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, ckk, Cog, 1.0f, g0 + (size_t)g * Cog, Cout,
				    wg, ckk, 0.0f, pw ? dinp + r0 * C + g * Cg : cols, lda);
			if (!pw)
				col2im_add(dinp, cols, C, g * Cg, Cg, H, W, q, Ho, Wo, r0, r1);
		}
	}
	unperm_add(dw, dwt, Cout, Cg, KK);
}

/* ---- max pooling (NHWC) ---- */

DCC_HOT
void maxpool_forward(float *out, int32_t *argmax, const float *inp, size_t B, int C, int H, int W, int K,
		     int stride, int pad, int Ho, int Wo)
{
	for (size_t n = 0; n < B; n++) {
		const float *x = inp + n * (size_t)H * W * C;
		float *o = out + n * (size_t)Ho * Wo * C;
		int32_t *a = argmax + n * (size_t)Ho * Wo * C;
		for (int oy = 0; oy < Ho; oy++)
			for (int ox = 0; ox < Wo; ox++, o += C, a += C) {
				/* the window's part inside the input: padding never wins */
				int y0 = oy * stride - pad, x0 = ox * stride - pad;
				int ya = y0 < 0 ? 0 : y0, yb = y0 + K > H ? H : y0 + K;
				int xa = x0 < 0 ? 0 : x0, xb = x0 + K > W ? W : x0 + K;
				int32_t first = (ya * W + xa) * C;
				float *restrict om = o;
				int32_t *restrict am = a;
				const float *restrict x0p = x + first;
				for (int c = 0; c < C; c++) {
					om[c] = x0p[c];
					am[c] = first + c;
				}
				for (int y = ya; y < yb; y++)
					for (int xx = xa; xx < xb; xx++) {
						int32_t base = (y * W + xx) * C;
						const float *restrict xp = x + base;
						/* Branch-free selects through restrict pointers so
						 * it vectorises; strict > keeps the first maximum,
						 * as PyTorch does. */
						for (int c = 0; c < C; c++) {
							float v = xp[c], m = om[c];
							int32_t gt = -(int32_t)(v > m), ai = am[c];
							om[c] = v > m ? v : m;
							am[c] = ai ^ ((ai ^ (base + c)) & gt);
						}
					}
			}
	}
}

DCC_HOT
void maxpool_backward(float *dinp, const float *dout, const int32_t *argmax, size_t B, size_t in_size,
		      size_t out_size)
{
	memset(dinp, 0, sizeof(float) * B * in_size);
	for (size_t n = 0; n < B; n++)
		for (size_t o = 0; o < out_size; o++)
			dinp[n * in_size + (size_t)argmax[n * out_size + o]] += dout[n * out_size + o];
}

/* ---- batch normalisation: M values, channels fastest (C of them) ---- */

/* PyTorch's CPU kernel's order: a scale and a shift per channel, then one
 * multiply-add per value.  Every pass runs through memory in order, over
 * blocks of BN_CH channels (layers.h; per-channel sums in double on the
 * stack). */

DCC_HOT
void bn_forward(float *out, const float *inp, const float *gamma, const float *beta, const float *mean,
		const float *var, size_t M, size_t C, float eps)
{
	for (size_t c0 = 0; c0 < C; c0 += BN_CH) {
		size_t cn = C - c0 < BN_CH ? C - c0 : BN_CH;
		float sc[BN_CH], sh[BN_CH];
		for (size_t c = 0; c < cn; c++) {
			sc[c] = gamma[c0 + c] / sqrtf(var[c0 + c] + eps);
			sh[c] = beta[c0 + c] - mean[c0 + c] * sc[c];
		}
		for (size_t i = c0; i < M; i += C)
			for (size_t c = 0; c < cn; c++)
				out[i + c] = inp[i + c] * sc[c] + sh[c];
	}
}

int bn_sync_init(bn_sync *s, int n, size_t cap)
{
	s->n = n, s->cap = cap;
	if (!(s->slot = malloc((size_t)n * cap * sizeof(double))))
		return -1;
	if (pthread_barrier_init(&s->bar, NULL, (unsigned)n)) {
		free(s->slot);
		s->slot = NULL;
		return -1;
	}
	return 0;
}

void bn_sync_free(bn_sync *s)
{
	if (!s->slot)
		return;
	pthread_barrier_destroy(&s->bar);
	free(s->slot);
	s->slot = NULL;
}

/* v[0..k) becomes the sum over the workers of theirs, added in worker
 * order; the second wait keeps a slot until every worker has read it. */
static void bn_allreduce(bn_sync *s, int t, double *v, size_t k)
{
	if (!s)
		return;
	memcpy(s->slot + (size_t)t * s->cap, v, k * sizeof(double));
	pthread_barrier_wait(&s->bar);
	for (size_t j = 0; j < k; j++) {
		double sum = 0;
		for (int w = 0; w < s->n; w++)
			sum += s->slot[(size_t)w * s->cap + j];
		v[j] = sum;
	}
	pthread_barrier_wait(&s->bar);
}

DCC_HOT
void bn_forward_train(float *out, float *mean, float *var, float *istd, const float *inp, const float *gamma,
		      const float *beta, size_t M, size_t C, float eps, const bn_act *act, bn_sync *sy, int t)
{
	for (size_t c0 = 0; c0 < C; c0 += BN_CH) {
		size_t cn = C - c0 < BN_CH ? C - c0 : BN_CH;
		double s[2 * BN_CH + 1] = {0}, *q = s + cn, n = (double)(M / C);
		float k[BN_CH]; /* the shift: the slice's first values */
		for (size_t c = 0; c < cn; c++)
			k[c] = M ? inp[c0 + c] : 0.0f;
		for (size_t i0 = c0; i0 < M; i0 += BN_ROWS * C) {
			float fs[BN_CH] = {0}, fq[BN_CH] = {0};
			size_t i1 = i0 + BN_ROWS * C < M ? i0 + BN_ROWS * C : M;
			for (size_t i = i0; i < i1; i += C)
				for (size_t c = 0; c < cn; c++) {
					float v = inp[i + c] - k[c];
					fs[c] += v, fq[c] += v * v;
				}
			for (size_t c = 0; c < cn; c++)
				s[c] += fs[c], q[c] += fq[c];
		}
		for (size_t c = 0; c < cn; c++) { /* back to sums of x and x^2, in double */
			q[c] += (2.0 * s[c] + n * k[c]) * k[c];
			s[c] += n * k[c];
		}
		s[2 * cn] = n; /* the count, summed with the sums */
		bn_allreduce(sy, t, s, 2 * cn + 1);
		double cnt = s[2 * cn];
		for (size_t c = 0; c < cn; c++) {
			double mu = s[c] / cnt, v = q[c] / cnt - mu * mu;
			v = v > 0 ? v : 0;
			mean[c0 + c] = (float)mu, var[c0 + c] = (float)v;
			istd[c0 + c] = (float)(1.0 / sqrt(v + eps));
		}
		const float *mu = mean + c0, *is = istd + c0, *g = gamma + c0, *be = beta + c0;
		if (act) {
			float lo = act->lo, hi = act->hi;
			for (size_t i = c0; i < M; i += C)
				for (size_t c = 0; c < cn; c++) {
					float y = (inp[i + c] - mu[c]) * is[c] * g[c] + be[c];
					y = y < lo ? lo : y;
					out[i + c] = y > hi ? hi : y;
				}
		} else {
			for (size_t i = c0; i < M; i += C)
				for (size_t c = 0; c < cn; c++)
					out[i + c] = (inp[i + c] - mu[c]) * is[c] * g[c] + be[c];
		}
	}
}
/* The gradient reaching a batchnorm's output: dout itself, or (an
 * activation after it) dout where lo < aout < hi; masked is a constant at
 * every call, so each loop below is compiled twice, both vectorised. */
static inline __attribute__((always_inline)) float bn_grad(const float *dout, const float *aout, size_t i, int masked,
							   float lo, float hi)
{
	if (!masked)
		return dout[i];
	float o = aout[i]; /* a product, not a branch: the loops vectorise */
	return dout[i] * (float)((o > lo) & (o < hi));
}

static inline __attribute__((always_inline)) void bn_backward_sums(double *sd, double *sdx, const float *dout,
								   const float *aout, const float *inp,
								   const float *mu, const float *is, size_t c0,
								   size_t cn, size_t M, size_t C, int masked,
								   float lo, float hi)
{
	for (size_t i0 = c0; i0 < M; i0 += BN_ROWS * C) {
		float fd[BN_CH] = {0}, fx[BN_CH] = {0};
		size_t i1 = i0 + BN_ROWS * C < M ? i0 + BN_ROWS * C : M;
		for (size_t i = i0; i < i1; i += C)
			for (size_t c = 0; c < cn; c++) {
				float xh = (inp[i + c] - mu[c]) * is[c], g = bn_grad(dout, aout, i + c, masked, lo, hi);
				fd[c] += g, fx[c] += g * xh;
			}
		for (size_t c = 0; c < cn; c++)
			sd[c] += fd[c], sdx[c] += fx[c];
	}
}

static inline __attribute__((always_inline)) void bn_backward_input(float *dinp, const float *dout,
								    const float *aout, const float *inp,
								    const float *mu, const float *is, const float *a,
								    const float *b, const float *k, size_t c0,
								    size_t cn, size_t M, size_t C, int masked,
								    float lo, float hi)
{
	for (size_t i = c0; i < M; i += C)
		for (size_t c = 0; c < cn; c++) {
			float xh = (inp[i + c] - mu[c]) * is[c];
			dinp[i + c] = a[c] * bn_grad(dout, aout, i + c, masked, lo, hi) + b[c] * xh + k[c];
		}
}

/* dinp = gamma istd / cnt (cnt dout - sum dout - xhat sum dout xhat), as
 * a dout + b xhat + k per channel, the sums and cnt the whole batch's;
 * dgamma and dbeta take this slice's part (the update adds the workers') */
DCC_HOT
void bn_backward(float *dinp, float *dgamma, float *dbeta, const float *dout, const float *inp, const float *mean,
		 const float *istd, const float *gamma, size_t M, size_t C, const bn_act *act, const float *aout,
		 bn_sync *sy, int t)
{
	float lo = act ? act->lo : 0, hi = act ? act->hi : 0;
	for (size_t c0 = 0; c0 < C; c0 += BN_CH) {
		size_t cn = C - c0 < BN_CH ? C - c0 : BN_CH;
		double sd[2 * BN_CH + 1] = {0}, *sdx = sd + cn;
		const float *mu = mean + c0, *is = istd + c0;
		if (act)
			bn_backward_sums(sd, sdx, dout, aout, inp, mu, is, c0, cn, M, C, 1, lo, hi);
		else
			bn_backward_sums(sd, sdx, dout, aout, inp, mu, is, c0, cn, M, C, 0, lo, hi);
		for (size_t c = 0; c < cn; c++)
			dgamma[c0 + c] += (float)sdx[c], dbeta[c0 + c] += (float)sd[c];
		sd[2 * cn] = (double)(M / C);
		bn_allreduce(sy, t, sd, 2 * cn + 1);
		double cnt = sd[2 * cn];
		float a[BN_CH], b[BN_CH], k[BN_CH];
		for (size_t c = 0; c < cn; c++) {
			double gi = (double)gamma[c0 + c] * istd[c0 + c];
			a[c] = (float)gi, b[c] = (float)(-gi / cnt * sdx[c]), k[c] = (float)(-gi / cnt * sd[c]);
		}
		if (!dinp)
			continue;
		if (act)
			bn_backward_input(dinp, dout, aout, inp, mu, is, a, b, k, c0, cn, M, C, 1, lo, hi);
		else
			bn_backward_input(dinp, dout, aout, inp, mu, is, a, b, k, c0, cn, M, C, 0, lo, hi);
	}
}
DCC_HOT
void clip_forward(float *out, const float *inp, size_t n, float lo, float hi)
{
	for (size_t i = 0; i < n; i++)
		out[i] = inp[i] < lo ? lo : inp[i] > hi ? hi : inp[i];
}

DCC_HOT
void clip_backward(float *dinp, const float *dout, const float *out, size_t n, float lo, float hi)
{
	for (size_t i = 0; i < n; i++) { /* PyTorch's hardtanh: zero at the bounds */
		float d = dout[i], o = out[i]; /* both loaded: the loop vectorises */
		dinp[i] = (o > lo) & (o < hi) ? d : 0.0f;
	}
}

void concat_forward(float *out, const float *const *ins, const int *cs, int nin, size_t B, size_t hw, int hwc)
{
	int ct = 0;
	for (int k = 0; k < nin; k++)
		ct += cs[k];
	for (size_t n = 0; n < B; n++) {
		float *o = out + n * hw * (size_t)ct;
		for (int k = 0, c0 = 0; k < nin; c0 += cs[k++]) {
			const float *x = ins[k] + n * hw * (size_t)cs[k];
			if (!hwc) { /* C, H, W: the blocks one after another */
				memcpy(o + (size_t)c0 * hw, x, sizeof(float) * hw * (size_t)cs[k]);
				continue;
			}
			for (size_t p = 0; p < hw; p++)
				memcpy(o + p * (size_t)ct + c0, x + p * (size_t)cs[k], sizeof(float) * (size_t)cs[k]);
		}
	}
}

void concat_backward(float *dinp, const float *dout, const int *cs, int nin, int which, size_t B, size_t hw, int hwc)
{
	int ct = 0, c0 = 0;
	for (int k = 0; k < nin; k++)
		c0 += k < which ? cs[k] : 0, ct += cs[k];
	size_t ck = (size_t)cs[which];
	for (size_t n = 0; n < B; n++) {
		const float *g = dout + n * hw * (size_t)ct;
		float *d = dinp + n * hw * ck;
		if (!hwc)
			memcpy(d, g + (size_t)c0 * hw, sizeof(float) * hw * ck);
		else
			for (size_t p = 0; p < hw; p++)
				memcpy(d + p * ck, g + p * (size_t)ct + c0, sizeof(float) * ck);
	}
}

void channels_forward(float *out, const float *inp, const dcc_node *l, size_t B)
{
	size_t hw = (size_t)l->ih * (size_t)l->iw, ic = (size_t)l->ic, oc = (size_t)l->oc;
	for (size_t n = 0; n < B; n++) {
		const float *x = inp + n * hw * ic;
		float *y = out + n * hw * oc;
		for (size_t j = 0; !l->hwc && j < oc; j++) /* C, H, W: a channel is a run */
			memcpy(y + j * hw, x + (size_t)dcc_channel_src(l, (int)j) * hw, sizeof(float) * hw);
		for (size_t p = 0; l->hwc && p < hw; p++) /* channels fastest: pixel by pixel, in memory order */
			for (size_t j = 0; j < oc; j++)
				y[p * oc + j] = x[p * ic + (size_t)dcc_channel_src(l, (int)j)];
	}
}

void channels_backward(float *dinp, const float *dout, const dcc_node *l, size_t B)
{
	size_t hw = (size_t)l->ih * (size_t)l->iw, ic = (size_t)l->ic, oc = (size_t)l->oc;
	memset(dinp, 0, sizeof(float) * B * hw * ic);
	for (size_t n = 0; n < B; n++) {
		float *d = dinp + n * hw * ic;
		const float *g = dout + n * hw * oc;
		for (size_t j = 0; !l->hwc && j < oc; j++)
			memcpy(d + (size_t)dcc_channel_src(l, (int)j) * hw, g + j * hw, sizeof(float) * hw);
		for (size_t p = 0; l->hwc && p < hw; p++)
			for (size_t j = 0; j < oc; j++)
				d[p * ic + (size_t)dcc_channel_src(l, (int)j)] = g[p * oc + j];
	}
}

DCC_HOT
void relu_forward(float *out, const float *inp, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = inp[i] > 0 ? inp[i] : 0.0f;
}

void leakyrelu_forward(float *out, const float *inp, size_t n, float alpha)
{
	for (size_t i = 0; i < n; i++)
		out[i] = inp[i] > 0 ? inp[i] : alpha * inp[i];
}

void leakyrelu_backward(float *dinp, const float *dout, const float *inp, size_t n, float alpha)
{
	for (size_t i = 0; i < n; i++) { /* PyTorch's: the slope alpha at zero */
		float d = dout[i];
		dinp[i] = inp[i] > 0 ? d : alpha * d;
	}
}

void hardsigmoid_forward(float *out, const float *inp, size_t n, float alpha, float beta)
{
	for (size_t i = 0; i < n; i++) {
		float t = alpha * inp[i] + beta;
		out[i] = t < 0 ? 0.0f : t > 1 ? 1.0f : t;
	}
}

void hardsigmoid_backward(float *dinp, const float *dout, const float *inp, size_t n, float alpha, float beta)
{
	for (size_t i = 0; i < n; i++) {
		float t = alpha * inp[i] + beta, d = dout[i];
		dinp[i] = (t > 0) & (t < 1) ? alpha * d : 0.0f;
	}
}

void hardswish_forward(float *out, const float *inp, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		float x = inp[i], t = x + 3.0f;
		out[i] = x * (t < 0 ? 0.0f : t > 6 ? 6.0f : t) / 6.0f;
	}
}

void hardswish_backward(float *dinp, const float *dout, const float *inp, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		float x = inp[i], d = dout[i];
		dinp[i] = x < -3.0f ? 0.0f : x <= 3.0f ? d * (x / 3.0f + 0.5f) : d;
	}
}

DCC_HOT
void affine_forward(float *out, const float *inp, const float *scale, const float *shift, size_t M, size_t C,
		    size_t inner)
{
	for (size_t i = 0; i < M;)
		for (size_t c = 0; c < C && i < M; c++)
			for (size_t e = 0; e < inner && i < M; e++, i++)
				out[i] = inp[i] * scale[c] + shift[c];
}

DCC_HOT
void affine_backward(float *dinp, const float *dout, const float *scale, size_t M, size_t C, size_t inner)
{
	for (size_t i = 0; i < M;)
		for (size_t c = 0; c < C && i < M; c++)
			for (size_t e = 0; e < inner && i < M; e++, i++)
				dinp[i] = dout[i] * scale[c];
}

void mul_forward(float *out, const float *a, const float *b, size_t B, size_t S, size_t C)
{
	for (size_t s = 0; s < B; s++) {
		const float *x = a + s * S, *g = b + s * (C ? C : S);
		float *y = out + s * S;
		if (!C)
			for (size_t e = 0; e < S; e++)
				y[e] = x[e] * g[e];
		else
			for (size_t e = 0; e < S; e += C)
				for (size_t c = 0; c < C; c++)
					y[e + c] = x[e + c] * g[c];
	}
}

void mul_backward(float *da, float *db, const float *dout, const float *a, const float *b, size_t B, size_t S,
		  size_t C)
{
	size_t G = C ? C : S;
	for (size_t s = 0; s < B; s++) {
		const float *x = a + s * S, *g = b + s * G, *d = dout + s * S;
		for (size_t e = 0; da && e < S; e++)
			da[s * S + e] = d[e] * g[C ? e % C : e];
		if (!db)
			continue;
		float *dg = db + s * G;
		memset(dg, 0, G * sizeof(float));
		for (size_t e = 0; e < S; e++)
			dg[C ? e % C : e] += d[e] * x[e];
	}
}

DCC_HOT
void relu_backward(float *dinp, const float *dout, const float *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		float d = dout[i];
		dinp[i] = out[i] > 0 ? d : 0.0f;
	}
}

DCC_HOT
void avgpool_forward(float *out, const float *inp, size_t B, int C, int H, int W, int K, int S, int P, int incl, int OH,
		     int OW)
{
	for (size_t n = 0; n < B; n++) { /* (H, W, C) per sample, as maxpool */
		const float *x = inp + n * (size_t)H * W * C;
		float *o = out + n * (size_t)OH * OW * C;
		for (int oy = 0; oy < OH; oy++)
			for (int ox = 0; ox < OW; ox++, o += C) {
				int64_t ya, yb, xa, xb, dy = dcc_pool_window(oy, H, K, S, P, incl, &ya, &yb);
				float inv = 1.0f / (float)(dy * dcc_pool_window(ox, W, K, S, P, incl, &xa, &xb));
				for (int c = 0; c < C; c++)
					o[c] = 0;
				for (int64_t yy = ya; yy < yb; yy++)
					for (int64_t xx = xa; xx < xb; xx++) {
						const float *xp = x + ((size_t)yy * W + (size_t)xx) * C;
						for (int c = 0; c < C; c++)
							o[c] += xp[c];
					}
				for (int c = 0; c < C; c++)
					o[c] *= inv;
			}
	}
}

DCC_HOT
void avgpool_backward(float *dinp, const float *dout, size_t B, int C, int H, int W, int K, int S, int P, int incl,
		      int OH, int OW)
{
	memset(dinp, 0, B * (size_t)C * H * W * sizeof(float));
	for (size_t n = 0; n < B; n++) {
		float *dx = dinp + n * (size_t)H * W * C;
		const float *dy = dout + n * (size_t)OH * OW * C;
		for (int oy = 0; oy < OH; oy++)
			for (int ox = 0; ox < OW; ox++, dy += C) {
				int64_t ya, yb, xa, xb, sy = dcc_pool_window(oy, H, K, S, P, incl, &ya, &yb);
				float inv = 1.0f / (float)(sy * dcc_pool_window(ox, W, K, S, P, incl, &xa, &xb));
				for (int64_t yy = ya; yy < yb; yy++)
					for (int64_t xx = xa; xx < xb; xx++) {
						float *dp = dx + ((size_t)yy * W + (size_t)xx) * C;
						for (int c = 0; c < C; c++)
							dp[c] += dy[c] * inv;
					}
			}
	}
}

void sigmoid_forward(float *out, const float *inp, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = 1.0f / (1.0f + expf(-inp[i]));
}

void sigmoid_backward(float *dinp, const float *dout, const float *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dinp[i] = dout[i] * out[i] * (1.0f - out[i]);
}

void tanh_forward(float *out, const float *inp, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = tanhf(inp[i]);
}

void tanh_backward(float *dinp, const float *dout, const float *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dinp[i] = dout[i] * (1.0f - out[i] * out[i]);
}

void flatten_forward(float *out, const float *inp, size_t B, int C, int H, int W)
{
	size_t hw = (size_t)H * W, sz = hw * C;
	if (C == 1 || hw == 1) {
		memcpy(out, inp, sizeof(float) * B * sz);
		return;
	}
	for (size_t n = 0; n < B; n++)
		for (int c = 0; c < C; c++)
			for (size_t p = 0; p < hw; p++)
				out[n * sz + c * hw + p] = inp[n * sz + p * C + c];
}

void flatten_backward(float *dinp, const float *dout, size_t B, int C, int H, int W)
{
	size_t hw = (size_t)H * W, sz = hw * C;
	if (C == 1 || hw == 1) {
		memcpy(dinp, dout, sizeof(float) * B * sz);
		return;
	}
	for (size_t n = 0; n < B; n++)
		for (int c = 0; c < C; c++)
			for (size_t p = 0; p < hw; p++)
				dinp[n * sz + p * C + c] = dout[n * sz + c * hw + p];
}

/* ---- LSTM ---- */

static inline float sigm(float x) { return 1.0f / (1.0f + expf(-x)); }

void lstm_forward(float *out, lstm_state *s, const float *inp, const float *wih, const float *whh,
		  const float *bih, const float *bhh, size_t B, int T, int NI, int H)
{
	size_t G = 4 * (size_t)H, BH = B * (size_t)H;
	/* time-major copy of the input, then one GEMM for every step's W_ih x_t */
	for (size_t n = 0; n < B; n++)
		for (int t = 0; t < T; t++)
			memcpy(s->xt + ((size_t)t * B + n) * NI, inp + (n * T + t) * (size_t)NI, sizeof(float) * (size_t)NI);
	for (size_t r = 0; r < (size_t)T * B; r++)
		for (size_t j = 0; j < G; j++)
			s->gates[r * G + j] = bih[j] + bhh[j];
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T * (int)B, (int)G, NI, 1.0f, s->xt, NI, wih, NI, 1.0f,
		    s->gates, (int)G);
	memset(s->c, 0, sizeof(float) * BH);
	memset(s->h, 0, sizeof(float) * BH);
	for (int t = 0; t < T; t++) {
		float *g = s->gates + (size_t)t * B * G;
		const float *hp = s->h + (size_t)t * BH, *cp = s->c + (size_t)t * BH;
		float *hn = s->h + (size_t)(t + 1) * BH, *cn = s->c + (size_t)(t + 1) * BH;
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)G, H, 1.0f, hp, H, whh, H, 1.0f, g,
			    (int)G);
		for (size_t n = 0; n < B; n++) {
			float *gi = g + n * G, *gf = gi + H, *gg = gf + H, *go = gg + H;
			for (int j = 0; j < H; j++) {
				gi[j] = sigm(gi[j]);
				gf[j] = sigm(gf[j]);
				gg[j] = tanhf(gg[j]);
				go[j] = sigm(go[j]);
				float c = gf[j] * cp[n * H + j] + gi[j] * gg[j];
				cn[n * H + j] = c;
				hn[n * H + j] = go[j] * tanhf(c);
			}
		}
	}
	memcpy(out, s->h + (size_t)T * BH, sizeof(float) * BH);
}

void lstm_forward_ref(float *out, const float *inp, const float *wih, const float *whh, const float *bih,
		      const float *bhh, size_t B, int T, int NI, int H)
{
	float h[4096], c[4096], z[4 * 4096];
	if (H > 4096)
		return;
	for (size_t n = 0; n < B; n++) {
		for (int j = 0; j < H; j++)
			h[j] = c[j] = 0;
		for (int t = 0; t < T; t++) {
			const float *x = inp + (n * T + t) * (size_t)NI;
			for (int r = 0; r < 4 * H; r++) {
				double a = bih[r] + bhh[r];
				for (int k = 0; k < NI; k++)
					a += (double)wih[(size_t)r * NI + k] * x[k];
				for (int k = 0; k < H; k++)
					a += (double)whh[(size_t)r * H + k] * h[k];
				z[r] = (float)a;
			}
			for (int j = 0; j < H; j++) {
				float i = sigm(z[j]), f = sigm(z[H + j]), g = tanhf(z[2 * H + j]), o = sigm(z[3 * H + j]);
				c[j] = f * c[j] + i * g;
				h[j] = o * tanhf(c[j]);
			}
		}
		memcpy(out + n * H, h, sizeof(float) * (size_t)H);
	}
}

void lstm_backward(float *dinp, float *dwih, float *dwhh, float *dbih, float *dbhh, lstm_state *s,
		   const float *dout, const float *wih, const float *whh, size_t B, int T, int NI, int H)
{
	size_t G = 4 * (size_t)H, BH = B * (size_t)H;
	/* tmp holds dh (B, H) and dc (B, H) carried backwards through time */
	float *dh = s->tmp, *dc = s->tmp + BH;
	memcpy(dh, dout, sizeof(float) * BH);
	memset(dc, 0, sizeof(float) * BH);
	for (int t = T - 1; t >= 0; t--) {
		const float *g = s->gates + (size_t)t * B * G, *cp = s->c + (size_t)t * BH,
			    *cn = s->c + (size_t)(t + 1) * BH;
		float *dg = s->dg + (size_t)t * B * G;
		for (size_t n = 0; n < B; n++) {
			const float *gi = g + n * G, *gf = gi + H, *gg = gf + H, *go = gg + H;
			float *di = dg + n * G, *df = di + H, *dgg = df + H, *dgo = dgg + H;
			for (int j = 0; j < H; j++) {
				size_t k = n * H + j;
				float tc = tanhf(cn[k]);
				float dcv = dc[k] + dh[k] * go[j] * (1.0f - tc * tc);
				dgo[j] = dh[k] * tc * go[j] * (1.0f - go[j]);
				di[j] = dcv * gg[j] * gi[j] * (1.0f - gi[j]);
				dgg[j] = dcv * gi[j] * (1.0f - gg[j] * gg[j]);
				df[j] = dcv * cp[k] * gf[j] * (1.0f - gf[j]);
				dc[k] = dcv * gf[j];
			}
		}
		/* dh_{t-1} = dG_t W_hh */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, H, (int)G, 1.0f, dg, (int)G, whh, H,
			    0.0f, dh, H);
	}
	/* Weight gradients over all steps at once. */
	int TB = T * (int)B;
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)G, H, TB, 1.0f, s->dg, (int)G, s->h, H, 1.0f, dwhh,
		    H);
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)G, NI, TB, 1.0f, s->dg, (int)G, s->xt, NI, 1.0f, dwih,
		    NI);
	for (size_t r = 0; r < (size_t)TB; r++)
		for (size_t j = 0; j < G; j++) {
			dbih[j] += s->dg[r * G + j];
			dbhh[j] += s->dg[r * G + j];
		}
	if (dinp) {
		/* dx_t = dG_t W_ih, time-major into xt's shape, then back to (B, T*NI) */
		float *dxt = s->gates; /* the gates are no longer needed */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, TB, NI, (int)G, 1.0f, s->dg, (int)G, wih, NI, 0.0f,
			    dxt, NI);
		for (size_t n = 0; n < B; n++)
			for (int t = 0; t < T; t++)
				memcpy(dinp + (n * T + t) * (size_t)NI, dxt + ((size_t)t * B + n) * NI, sizeof(float) * (size_t)NI);
	}
}
