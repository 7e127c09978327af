/* infer.c: the integer-only reference inference of formats/fixed.md.
 * Integers and shifts only: the test suite disassembles this file's object
 * and fails on any floating-point instruction.  Activations are int32 in
 * PyTorch's C, H, W order; accumulators are 64-bit. */
#include <stdlib.h>
#include <string.h>

#include "../dcc_fixed.h"

int64_t dcc_fx_rshift(int64_t v, int s)
{
	if (s <= 0) {
		if (s < -62)
			s = -62;
		/* saturate rather than overflow: the result is clamped to bw anyway */
		int64_t lim = INT64_MAX >> -s;
		if (v > lim)
			return INT64_MAX;
		if (v < -lim)
			return -INT64_MAX;
		return v * ((int64_t)1 << -s);
	}
	if (s > 62)
		return 0; /* |v| < 2^63 <= 2^(s-1) ... below half: rounds to 0 */
	int64_t q = v >> s; /* arithmetic shift: floor */
	int64_t r = v - q * ((int64_t)1 << s), h = (int64_t)1 << (s - 1);
	if (r > h || (r == h && (q & 1)))
		q++;
	return q;
}

int32_t dcc_fx_sat(int64_t v, int bw)
{
	int64_t hi = ((int64_t)1 << (bw - 1)) - 1, lo = -((int64_t)1 << (bw - 1));
	return (int32_t)(v > hi ? hi : v < lo ? lo : v);
}

int64_t dcc_fx_hardsigmoid(int32_t x, int32_t a, int32_t b, int d, int ofl)
{
	int64_t t = dcc_fx_sadd(dcc_fx_rshift((int64_t)x * a, 16 + d), b), one = (int64_t)1 << ofl;
	return t < 0 ? 0 : t > one ? one : t;
}

size_t dcc_qnet_scratch(const dcc_qnet *q)
{
	size_t acts = q->chain ? 2 * q->max_act : q->vtotal; /* a graph with branches keeps every value */
	return acts + (q->max_patch > q->lstm_scratch ? q->max_patch : q->lstm_scratch);
}

/* formats/fixed.md's sigmoid and tanh: the argument to Q12, then linear
 * interpolation between two table entries (Q15), in integers. */
static int32_t lut_sig(const int32_t *S, int64_t z, int fl)
{
	int64_t u = dcc_fx_rshift(z, fl - 12); /* clamped first: the add cannot overflow */
	u = u < -32768 ? 0 : u > 32767 ? 65535 : u + 32768;
	int k = (int)(u >> 8), f = (int)(u & 255);
	return S[k] + (int32_t)(((int64_t)(S[k + 1] - S[k]) * f + 128) >> 8);
}

static int32_t lut_tanh(const int32_t *T, int64_t z, int fl)
{
	int64_t u = dcc_fx_rshift(z, fl - 12);
	u = u < -16384 ? 0 : u > 16383 ? 32767 : u + 16384;
	int k = (int)(u >> 7), f = (int)(u & 127);
	return T[k] + (int32_t)(((int64_t)(T[k + 1] - T[k]) * f + 64) >> 7);
}

/* The row LSTM of formats/fixed.md: each matrix product rounds to the gate
 * format on its own, the two add with saturation; i, f, o, g and tanh(c)
 * in Q15; c and h at a_bw bits. */
static void lstm(const dcc_qnet *q, const dcc_qlayer *L, const int32_t *x, int32_t *y, int32_t *scratch)
{
	const dcc_layer *g = L->g;
	int H = g->hidden, NI = g->in, bw = L->f.a_bw, zf = L->f.z_fl, cf = L->f.c_fl, hf = L->f.a_fl;
	int fx = L->f.w_fl + L->in_fl, fh = L->f.wh_fl + hf;
	int32_t *h = scratch, *c = h + H, *z = c + H;
	for (int j = 0; j < 2 * H; j++)
		h[j] = 0; /* h and c */
	for (int t = 0; t < g->steps; t++) {
		const int32_t *xt = x + (size_t)t * (size_t)NI;
		for (int r = 0; r < 4 * H; r++) {
			const int32_t *wi = L->w + (size_t)r * (size_t)NI, *wh = L->wh + (size_t)r * (size_t)H;
			int64_t a1 = dcc_fx_rshift(L->b[r], L->f.b_fl - fx), a2 = dcc_fx_rshift(L->bh[r], L->f.b_fl - fh);
			for (int k = 0; k < NI; k++)
				a1 = dcc_fx_wadd(a1, (int64_t)wi[k] * xt[k]);
			for (int k = 0; k < H; k++)
				a2 = dcc_fx_wadd(a2, (int64_t)wh[k] * h[k]);
			int64_t z1 = dcc_fx_sat(dcc_fx_rshift(a1, fx - zf), bw), z2 = dcc_fx_sat(dcc_fx_rshift(a2, fh - zf), bw);
			z[r] = dcc_fx_sat(z1 + z2, bw);
		}
		for (int j = 0; j < H; j++) {
			int64_t i = lut_sig(q->sig, z[j], zf), f = lut_sig(q->sig, z[H + j], zf);
			int64_t gg = lut_tanh(q->tanh_, z[2 * H + j], zf), o = lut_sig(q->sig, z[3 * H + j], zf);
			c[j] = dcc_fx_sat(dcc_fx_sadd(dcc_fx_rshift(f * c[j], 15), dcc_fx_rshift(i * gg, 30 - cf)), bw);
			int64_t tc = lut_tanh(q->tanh_, c[j], cf);
			h[j] = dcc_fx_sat(dcc_fx_rshift(o * tc, 30 - hf), bw);
		}
	}
	for (int j = 0; j < H; j++)
		y[j] = h[j];
}

int64_t dcc_fx_div_rne(int64_t num, int64_t den)
{
	int64_t q = num / den, r = num % den;
	if (r < 0) /* to floor */
		q--, r += den;
	if (2 * r > den || (2 * r == den && (q & 1)))
		q++;
	return q;
}

int32_t dcc_fx_div(int32_t a, int32_t b, int e, int bw)
{
	e = e < -31 ? -31 : e > 31 ? 31 : e;
	if (!b)
		return a > 0 ? dcc_fx_sat(INT64_MAX, bw) : a < 0 ? dcc_fx_sat(INT64_MIN, bw) : 0;
	int64_t num = e >= 0 ? (int64_t)a * ((int64_t)1 << e) : a, den = e >= 0 ? b : (int64_t)b * ((int64_t)1 << -e);
	if (den < 0)
		num = -num, den = -den;
	return dcc_fx_sat(dcc_fx_div_rne(num, den), bw);
}

void dcc_fx_pixels(int32_t *x, const uint8_t *px, size_t n, int bw, int fl)
{
	for (size_t i = 0; i < n; i++) {
		int64_t v = fl >= 0 ? dcc_fx_div_rne((int64_t)px[i] << (fl > 40 ? 40 : fl), 255)
				    : dcc_fx_div_rne((int64_t)px[i], (int64_t)255 << (-fl > 40 ? 40 : -fl));
		x[i] = dcc_fx_sat(v, bw);
	}
}


/* The bias aligned to the accumulator's fraction length. */
static inline int64_t bias_at(int32_t b, int b_fl, int facc)
{
	return dcc_fx_rshift(b, b_fl - facc); /* a left shift when facc >= b_fl */
}

static void fc(const dcc_qlayer *L, const int32_t *x, int32_t *y)
{
	const dcc_layer *g = L->g;
	int facc = L->f.w_fl + L->in_fl;
	for (int o = 0; o < g->out; o++) {
		const int32_t *w = L->w + (size_t)o * (size_t)g->in;
		int64_t acc = 0;
		for (int i = 0; i < g->in; i++)
			acc = dcc_fx_wadd(acc, (int64_t)w[i] * x[i]);
		acc = dcc_fx_wadd(acc, bias_at(L->b[o], L->f.b_fl, facc));
		y[o] = dcc_fx_sat(dcc_fx_rshift(acc, facc - L->f.a_fl), L->f.a_bw);
	}
}

/* Per output position: gather the patch (zeros for padding), then one
 * contiguous dot product per output channel. */
static void conv(const dcc_qlayer *L, const int32_t *x, int32_t *y, int32_t *patch)
{
	const dcc_layer *g = L->g;
	const dcc_geom *q = &g->geo;
	int facc = L->f.w_fl + L->in_fl, G = g->group, cg = g->ic / G, og = g->oc / G;
	size_t plen = (size_t)cg * (size_t)(q->kh * q->kw), hw = (size_t)g->oh * (size_t)g->ow;
	for (int gi = 0; gi < G; gi++) /* each group: its cg input channels to its og outputs */
	for (int oy = 0; oy < g->oh; oy++)
		for (int ox = 0; ox < g->ow; ox++) {
			int32_t *pp = patch;
			for (int ic = gi * cg; ic < (gi + 1) * cg; ic++) {
				const int32_t *xc = x + (size_t)ic * (size_t)(g->ih * g->iw);
				for (int ky = 0; ky < q->kh; ky++) {
					int iy = oy * q->sh + ky * q->dh - q->pt;
					for (int kx = 0; kx < q->kw; kx++) {
						int ix = ox * q->sw + kx * q->dw - q->pl;
						*pp++ = iy >= 0 && iy < g->ih && ix >= 0 && ix < g->iw ? xc[iy * g->iw + ix] : 0;
					}
				}
			}
			size_t pos = (size_t)oy * (size_t)g->ow + (size_t)ox;
			for (int oc = gi * og; oc < (gi + 1) * og; oc++) {
				const int32_t *w = L->w + (size_t)oc * plen;
				int64_t acc = 0;
				for (size_t j = 0; j < plen; j++)
					acc = dcc_fx_wadd(acc, (int64_t)w[j] * patch[j]);
				acc = dcc_fx_wadd(acc, bias_at(L->b[oc], L->f.b_fl, facc));
				y[(size_t)oc * hw + pos] = dcc_fx_sat(dcc_fx_rshift(acc, facc - L->f.a_fl), L->f.a_bw);
			}
		}
}

static void maxpool(const dcc_layer *g, const int32_t *x, int32_t *y)
{
	for (int c = 0; c < g->ic; c++)
		for (int oy = 0; oy < g->oh; oy++)
			for (int ox = 0; ox < g->ow; ox++) {
				const int32_t *xc = x + (size_t)c * (size_t)(g->ih * g->iw);
				/* the window's part inside the input (padding, a ceil_mode edge) */
				int y0 = oy * g->stride - g->pad, x0 = ox * g->stride - g->pad;
				int ya = y0 < 0 ? 0 : y0, yb = y0 + g->k > g->ih ? g->ih : y0 + g->k;
				int xa = x0 < 0 ? 0 : x0, xb = x0 + g->k > g->iw ? g->iw : x0 + g->k;
				int32_t m = xc[ya * g->iw + xa];
				for (int yy = ya; yy < yb; yy++)
					for (int xx = xa; xx < xb; xx++) {
						int32_t v = xc[yy * g->iw + xx];
						m = v > m ? v : m;
					}
				y[((size_t)c * (size_t)g->oh + (size_t)oy) * (size_t)g->ow + (size_t)ox] = m;
			}
}

static void avgpool(const dcc_layer *g, const int32_t *x, int32_t *y)
{
	for (int c = 0; c < g->ic; c++)
		for (int oy = 0; oy < g->oh; oy++)
			for (int ox = 0; ox < g->ow; ox++) {
				const int32_t *xc = x + (size_t)c * (size_t)(g->ih * g->iw);
				int64_t s = 0, ya, yb, xa, xb, dy = dcc_pool_window(oy, g->ih, g->k, g->stride, g->pad, g->incl, &ya, &yb);
				int64_t dx = dcc_pool_window(ox, g->iw, g->k, g->stride, g->pad, g->incl, &xa, &xb);
				for (int64_t yy = ya; yy < yb; yy++)
					for (int64_t xx = xa; xx < xb; xx++)
						s += xc[yy * g->iw + xx];
				y[((size_t)c * (size_t)g->oh + (size_t)oy) * (size_t)g->ow + (size_t)ox] =
					(int32_t)dcc_fx_div_rne(s, dy * dx);
			}
}

/* sigmoid or tanh of each input (fl in) to fl out = bw - 1 */
static void activation(const dcc_qnet *q, const dcc_qlayer *L, const int32_t *x, int32_t *y)
{
	int bw = L->out_fl + 1, sh = 15 - L->out_fl, sig = L->g->op == DCC_OP_SIGMOID;
	for (size_t k = 0; k < L->g->in_size; k++) {
		int64_t v = sig ? lut_sig(q->sig, x[k], L->in_fl) : lut_tanh(q->tanh_, x[k], L->in_fl);
		y[k] = dcc_fx_sat(dcc_fx_rshift(v, sh), bw);
	}
}

const int32_t *dcc_qnet_forward(const dcc_qnet *q, const int32_t *x, size_t upto, int32_t *scratch)
{
	return dcc_qnet_forward_from(q, x, 0, upto, scratch);
}

/* An add: each input shifted to the output's fl (rounding half to even),
 * summed saturating, saturated to a_bw; a concat: each input's channels
 * shifted to the output's fl and saturated to its width, one after
 * another (C, H, W). */
static void join(const dcc_qnet *q, const dcc_qlayer *L, const int32_t *const *in, int32_t *y)
{
	const dcc_layer *g = L->g;
	int fl = L->f.a_fl, bw = L->f.a_bw;
	if (g->op == DCC_OP_ADD || g->op == DCC_OP_SUB) { /* a sub's second term negated */
		for (size_t e = 0; e < g->out_size; e++) {
			int64_t s = 0;
			for (int k = 0; k < g->nin; k++) {
				int64_t t = dcc_fx_rshift(in[k][e], q->vfl[g->src[k]] - fl);
				s = dcc_fx_sadd(s, g->op == DCC_OP_SUB && k ? -t : t);
			}
			y[e] = dcc_fx_sat(s, bw);
		}
		return;
	}
	size_t hw = (size_t)g->ih * (size_t)g->iw, at = 0;
	for (int k = 0; k < g->nin; k++) {
		int v = g->src[k], c = v ? q->net->layers[v - 1].oc : q->net->in_c, sh = q->vfl[v] - fl;
		for (size_t e = 0; e < (size_t)c * hw; e++)
			y[at + e] = dcc_fx_sat(dcc_fx_rshift(in[k][e], sh), bw);
		at += (size_t)c * hw;
	}
}

/* Layer i on its inputs (in[k]: value src[k]) into out; 0 when it wrote
 * nothing (the loss: its input is the logits). */
static int node_run(const dcc_qnet *q, size_t i, const int32_t *const *in, int32_t *out, int32_t *patch)
{
	const dcc_qlayer *L = &q->l[i];
	const int32_t *cur = in[0];
	switch (L->g->op) {
	case DCC_OP_FC: fc(L, cur, out); break;
	case DCC_OP_CONV2D: conv(L, cur, out, patch); break;
	case DCC_OP_LSTM: lstm(q, L, cur, out, patch); break;
	case DCC_OP_MAXPOOL2D: maxpool(L->g, cur, out); break;
	case DCC_OP_AVGPOOL2D: avgpool(L->g, cur, out); break;
	case DCC_OP_SIGMOID:
	case DCC_OP_TANH: activation(q, L, cur, out); break;
	case DCC_OP_RELU:
		for (size_t k = 0; k < L->g->in_size; k++)
			out[k] = cur[k] > 0 ? cur[k] : 0;
		break;
	case DCC_OP_CLIP:
		for (size_t k = 0; k < L->g->in_size; k++)
			out[k] = cur[k] < L->lo ? L->lo : cur[k] > L->hi ? L->hi : cur[k];
		break;
	case DCC_OP_HARDSIGMOID: /* formats/fixed.md: the gate, saturated to the output's width */
		for (size_t k = 0; k < L->g->in_size; k++)
			out[k] = dcc_fx_sat(dcc_fx_hardsigmoid(cur[k], L->slope, L->offset, L->in_fl - L->gate_fl, L->gate_fl),
					    L->out_bw);
		break;
	case DCC_OP_HARDSWISH: /* x times its gate at fl 15, back at x's format */
		for (size_t k = 0; k < L->g->in_size; k++) {
			int64_t gt = dcc_fx_hardsigmoid(cur[k], L->slope, L->offset, L->in_fl - L->gate_fl, L->gate_fl);
			out[k] = dcc_fx_sat(dcc_fx_rshift(cur[k] * gt, L->gate_fl), L->out_bw);
		}
		break;
	case DCC_OP_LEAKYRELU: /* formats/fixed.md: the slope in Q16, rounded, saturated */
		for (size_t k = 0; k < L->g->in_size; k++)
			out[k] = cur[k] > 0 ? cur[k] : dcc_fx_sat(dcc_fx_rshift((int64_t)cur[k] * L->slope, 16), L->out_bw);
		break;
	case DCC_OP_DIV: { /* formats/fixed.md: a 2^e / b, e = the div's fl - fl_a + fl_b */
		const dcc_layer *g = L->g;
		int e = L->f.a_fl - q->vfl[g->src[0]] + q->vfl[g->src[1]];
		for (size_t k = 0; k < g->out_size; k++)
			out[k] = dcc_fx_div(cur[k], in[1][k], e, L->f.a_bw);
		break;
	}
	case DCC_OP_MUL: { /* formats/fixed.md: the product at fl_a + fl_b, shifted to the mul's, saturated */
		const dcc_layer *g = L->g;
		int sh = q->vfl[g->src[0]] + q->vfl[g->src[1]] - L->f.a_fl;
		size_t C = dcc_mul_gate(q->net, g), run = C ? g->out_size / C : 1; /* C, H, W: a gate's value per H x W run */
		for (size_t e = 0; e < g->out_size; e++)
			out[e] = dcc_fx_sat(dcc_fx_rshift((int64_t)cur[e] * in[1][e / run], sh), L->f.a_bw);
		break;
	}
	case DCC_OP_ADD:
	case DCC_OP_SUB:
	case DCC_OP_CONCAT: join(q, L, in, out); break;
	case DCC_OP_FLATTEN:
		memcpy(out, cur, L->g->in_size * sizeof(int32_t));
		break;
	case DCC_OP_SLICE: /* channels moved whole, C, H, W: the input's format */
	case DCC_OP_SHUFFLE: {
		size_t hw = (size_t)L->g->ih * (size_t)L->g->iw;
		for (int j = 0; j < L->g->oc; j++)
			memcpy(out + (size_t)j * hw, cur + (size_t)dcc_channel_src(L->g, j) * hw, hw * sizeof(int32_t));
		break;
	}
	default: /* the loss: the logits pass through */
		return 0;
	}
	return 1;
}

int32_t *dcc_qnet_value(const dcc_qnet *q, int32_t *scratch, size_t v)
{
	return scratch + q->voff[v];
}

const int32_t *dcc_qnet_forward_from(const dcc_qnet *q, const int32_t *x, size_t from, size_t upto,
				     int32_t *scratch)
{
	if (!q->chain) { /* every value in its place; from is 0 (the input) */
		int32_t *patch = scratch + q->vtotal;
		const int32_t *in[DCC_NODE_MAX_IN];
		for (size_t i = 0; i < upto && i < q->n; i++) {
			const dcc_layer *g = q->l[i].g;
			for (int k = 0; k < g->nin; k++)
				in[k] = g->src[k] ? scratch + q->voff[g->src[k]] : x;
			if (!node_run(q, i, in, scratch + q->voff[i + 1], patch))
				return in[0];
		}
		return upto ? scratch + q->voff[upto] : x;
	}
	int32_t *buf[2] = {scratch, scratch + q->max_act};
	const int32_t *cur = x;
	int which = x == buf[0] ? 1 : 0; /* never write over the input */
	for (size_t i = from; i < upto && i < q->n; i++) {
		int32_t *out = buf[which];
		if (!node_run(q, i, &cur, out, scratch + 2 * q->max_act))
			continue;
		cur = out;
		which ^= 1;
	}
	return cur;
}

const int32_t *dcc_qnet_node(const dcc_qnet *q, size_t i, const int32_t *const *in, int32_t *out, int32_t *patch)
{
	return node_run(q, i, in, out, patch) ? out : in[0];
}

int dcc_qnet_argmax(const int32_t *y, int classes)
{
	int best = 0;
	for (int c = 1; c < classes; c++)
		if (y[c] > y[best])
			best = c;
	return best;
}
