/* search.c: choosing the fixed-point formats -- weights by least squared
 * error, activations greedily layer by layer on calibration images against
 * the float network (Qiu et al.) -- and storing the fixed model. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "../dcc_fixed.h"

static int has_w(const dcc_layer *g) { return g->op == DCC_OP_FC || g->op == DCC_OP_CONV2D; }

/* Index into the float activation (H, W, C for conv-side tensors) of the
 * element at CHW position i of a layer's output. */
static size_t float_pos(const dcc_layer *g, size_t i)
{
	if (g->op != DCC_OP_FLATTEN && g->op != DCC_OP_LSTM && (size_t)g->oh * (size_t)g->ow > 1) {
		size_t hw = (size_t)g->oh * (size_t)g->ow, c = i / hw, r = i % hw;
		return r * (size_t)g->oc + c;
	}
	return i;
}

/* An lstm layer's formats: weights and biases by least error, the hidden
 * state at a_bw - 1 (|h| < 1), the gate pre-activations and the cell from
 * their largest magnitudes over the calibration images, in double. */
static int lstm_formats(const dcc_net *net, const dcc_layer *g, const dcc_dataset *d, const dcc_split *sp, size_t calib,
			int wbw, int abw, int bbw, dcc_qfmt *f, dcc_error *err)
{
	int H = g->hidden, NI = g->in;
	f->w_bw = wbw, f->a_bw = abw, f->b_bw = bbw;
	f->w_fl = dcc_fx_best_fl(g->p[0].w, g->p[0].n, wbw, NULL);
	f->wh_fl = dcc_fx_best_fl(g->p[1].w, g->p[1].n, wbw, NULL);
	float *bb = malloc((g->p[2].n + g->p[3].n) * sizeof(float));
	size_t insz0 = (size_t)net->in_c * (size_t)net->in_h * (size_t)net->in_w;
	double *h = malloc((6 * (size_t)H + insz0) * sizeof(double)), *px = h ? h + 6 * (size_t)H : NULL;
	if (!bb || !h) {
		free(bb), free(h);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	memcpy(bb, g->p[2].w, g->p[2].n * sizeof(float));
	memcpy(bb + g->p[2].n, g->p[3].w, g->p[3].n * sizeof(float));
	f->b_fl = dcc_fx_best_fl(bb, g->p[2].n + g->p[3].n, bbw, NULL);
	free(bb);
	f->a_fl = abw - 1;
	double zmax = 0, cmax = 0, *c = h + H, *z = c + H;
	size_t insz = (size_t)net->in_c * (size_t)net->in_h * (size_t)net->in_w;
	if (net->layers[0].op != DCC_OP_LSTM || (size_t)g->steps * (size_t)NI != insz) {
		free(h);
		return dcc_fail(err, DCC_E_UNSUPPORTED, "layer '%s': fixed point covers an lstm reading the input rows only",
				g->name);
	}
	for (size_t s = 0; s < calib && s < sp->n; s++) {
		dcc_data_x_exact(d, sp, s, px); /* the input in double, normalised as the model says */
		for (size_t k = 0; net->norm.n && k < insz; k++) {
			size_t ch = dcc_norm_channel(&net->norm, k, net->in_c, net->in_h, net->in_w);
			px[k] = (px[k] - net->norm.mean[ch]) / net->norm.std[ch];
		}
		for (int j = 0; j < 2 * H; j++)
			h[j] = 0;
		for (int t = 0; t < g->steps; t++) {
			for (int r = 0; r < 4 * H; r++) {
				double a = (double)g->p[2].w[r] + g->p[3].w[r];
				for (int k = 0; k < NI; k++)
					a += (double)g->p[0].w[(size_t)r * NI + k] * px[(size_t)t * NI + k];
				for (int k = 0; k < H; k++)
					a += (double)g->p[1].w[(size_t)r * H + k] * h[k];
				z[r] = a;
				zmax = fmax(zmax, fabs(a));
			}
			for (int j = 0; j < H; j++) {
				double i = 1 / (1 + exp(-z[j])), ff = 1 / (1 + exp(-z[H + j])), gg = tanh(z[2 * H + j]),
				       o = 1 / (1 + exp(-z[3 * H + j]));
				c[j] = ff * c[j] + i * gg;
				cmax = fmax(cmax, fabs(c[j]));
				h[j] = o * tanh(c[j]);
			}
		}
	}
	free(h);
	f->z_fl = abw - 1 - (zmax > 0 ? (int)ceil(log2(zmax * 1.05)) : 0);
	f->c_fl = abw - 1 - (cmax > 0 ? (int)ceil(log2(cmax * 1.05)) : 0);
	return 0;
}

static double sqnr(double sig, double err)
{
	return err > 0 ? 10 * log10(sig / err) : INFINITY;
}

/* The activations' formats of a graph with branches, greedily in graph
 * order as for a chain: every value of every calibration sample kept in
 * integers, each fc, conv2d and add output's fl the one of least squared
 * error against the float network, given the formats chosen before it. */
static int dag_activations(const dcc_net *net, const dcc_work *wk, const dcc_dataset *d, const dcc_split *sp,
			   size_t calib, dcc_qfmt *fmt, int in_bw, int in_fl, double *a_sqnr, dcc_error *err)
{
	size_t L = net->nlayers, insz = (size_t)net->in_c * (size_t)net->in_h * (size_t)net->in_w;
	for (size_t i = 0; i < L; i++)
		if (has_w(&net->layers[i]) || dcc_op_own_format(net->layers[i].op))
			fmt[i].a_fl = 0;
	dcc_qnet *q = NULL;
	int rc = dcc_qnet_build(net, fmt, in_bw, in_fl, &q, err);
	if (rc)
		return rc;
	size_t per = q->vtotal, sz = dcc_qnet_scratch(q);
	int32_t *x = malloc(calib * insz * sizeof(int32_t)), *val = malloc(calib * (per ? per : 1) * sizeof(int32_t));
	int32_t *patch = malloc((sz - per + 1) * sizeof(int32_t));
	double *sig = calloc(L + 1, sizeof(double)), *er = calloc(L + 1, sizeof(double));
	if (!x || !val || !patch || !sig || !er)
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	for (size_t s = 0; !rc && s < calib; s++)
		dcc_qnet_input(q, d, sp, s, x + s * insz);
	for (size_t i = 0; !rc && i < L; i++) {
		const dcc_layer *g = &net->layers[i];
		const int32_t *in[DCC_NODE_MAX_IN];
		int search = has_w(g) || dcc_op_own_format(g->op);
		double best = INFINITY;
		int best_fl = 0;
		if (search) {
			double mx = 0;
			for (size_t s = 0; s < calib; s++) {
				const float *fa = dcc_work_act(wk, i + 1) + s * g->out_size;
				for (size_t k = 0; k < g->out_size; k++)
					mx = fmax(mx, fabs((double)fa[k]));
			}
			int abw = q->l[i].f.a_bw, fl0 = mx > 0 ? abw - 1 - (int)ceil(log2(mx)) : 0;
			fmt[i].a_bw = abw; /* an add's: its widest input's, recorded */
			for (int fl = fl0 - 1; fl <= fl0 + 4; fl++) {
				q->l[i].f.a_fl = q->l[i].out_fl = fl;
				double e = 0;
				for (size_t s = 0; s < calib; s++) {
					int32_t *vs = val + s * per;
					for (int k = 0; k < g->nin; k++)
						in[k] = g->src[k] ? vs + q->voff[g->src[k]] : x + s * insz;
					const int32_t *y = dcc_qnet_node(q, i, in, vs + q->voff[i + 1], patch);
					const float *fa = dcc_work_act(wk, i + 1) + s * g->out_size;
					for (size_t k = 0; k < g->out_size; k++) {
						double dv = ldexp((double)y[k], -fl) - fa[float_pos(g, k)];
						e += dv * dv;
					}
				}
				if (e < best)
					best = e, best_fl = fl;
			}
			fmt[i].a_fl = best_fl;
			dcc_qnet_free(q); /* the formats downstream follow this one */
			q = NULL;
			if ((rc = dcc_qnet_build(net, fmt, in_bw, in_fl, &q, err)))
				break;
		}
		for (size_t s = 0; s < calib; s++) { /* the value under the chosen formats */
			int32_t *vs = val + s * per;
			for (int k = 0; k < g->nin; k++)
				in[k] = g->src[k] ? vs + q->voff[g->src[k]] : x + s * insz;
			const int32_t *y = dcc_qnet_node(q, i, in, vs + q->voff[i + 1], patch);
			if (!has_w(g) || dcc_op_is_loss(g->op))
				continue;
			const float *fa = dcc_work_act(wk, i + 1) + s * g->out_size;
			for (size_t k = 0; k < g->out_size; k++) {
				double f = fa[float_pos(g, k)], dv = ldexp((double)y[k], -fmt[i].a_fl) - f;
				sig[i] += f * f, er[i] += dv * dv;
			}
		}
	}
	for (size_t i = 0; !rc && a_sqnr && i < L; i++)
		a_sqnr[i] = has_w(&net->layers[i]) ? sqnr(sig[i], er[i]) : NAN;
	dcc_qnet_free(q);
	free(x), free(val), free(patch), free(sig), free(er);
	return rc;
}

int dcc_fixed_choose(const dcc_net *net, const dcc_fixed_opts *o, dcc_qfmt *fmt, int *in_fl, double *w_sqnr,
		     double *a_sqnr, dcc_error *err)
{
	const dcc_dataset *d = o->calib;
	const dcc_split *sp = o->calib_split ? o->calib_split : &d->train;
	size_t calib = o->ncalib;
	const int *w_bw = o->w_bw, *a_bw = o->a_bw;
	int b_bw = o->b_bw, in_bw = o->in_bw, static_fmt = o->static_fmt;
	size_t L = net->nlayers, insz = (size_t)net->in_c * (size_t)net->in_h * (size_t)net->in_w;
	int rc0 = 0;
	if (static_fmt && !net->graph->chain)
		return dcc_graph_need_chain(net->graph, "--static", err);
	if (calib == 0 || sp->n == 0)
		return dcc_fail(err, DCC_E_ARG, "no calibration samples");
	if (calib > sp->n)
		calib = sp->n;
	if ((rc0 = dcc_net_fits(net, d, 0, err)))
		return rc0;
	memset(fmt, 0, L * sizeof(*fmt));
	/* every value must fit some format: finite, and within 2^(bw-1-FL_MIN) */
	for (size_t i = 0; i < L; i++) {
		const dcc_layer *g = &net->layers[i];
		for (int k = 0; k < g->nparam; k++)
			for (size_t j = 0; j < g->p[k].n; j++) {
				float v = g->p[k].w[j];
				if (!isfinite(v) || fabsf(v) > ldexpf(1.0f, 24 - 1 - DCC_FL_MIN))
					return dcc_fail(err, DCC_E_RANGE,
							"layer '%s': '%s' holds %g, which no fixed-point format (fl %d..%d) can hold",
							g->name, g->p[k].name, (double)v, DCC_FL_MIN, DCC_FL_MAX);
			}
	}
	/* weights and biases */
	for (size_t i = 0; i < L; i++) {
		const dcc_layer *g = &net->layers[i];
		if (g->op == DCC_OP_LSTM) {
			if (static_fmt)
				return dcc_fail(err, DCC_E_UNSUPPORTED, "layer '%s': --static does not cover lstm layers", g->name);
			if (w_bw[i] < 1 || w_bw[i] > DCC_BW_MAX || a_bw[i] < 2 || a_bw[i] > 24 || b_bw < 1 || b_bw > DCC_BW_MAX)
				return dcc_fail(err, DCC_E_RANGE, "layer '%s': bit widths out of range", g->name);
			int rc = lstm_formats(net, g, d, sp, calib, w_bw[i], a_bw[i], b_bw, &fmt[i], err);
			if (rc)
				return rc;
			continue;
		}
		if (!has_w(g))
			continue;
		if (w_bw[i] < 1 || w_bw[i] > DCC_BW_MAX || a_bw[i] < 1 || a_bw[i] > DCC_BW_MAX || b_bw < 1 ||
		    b_bw > DCC_BW_MAX)
			return dcc_fail(err, DCC_E_RANGE, "layer '%s': bit widths must be 1..%d", g->name, DCC_BW_MAX);
		fmt[i].w_bw = w_bw[i];
		fmt[i].a_bw = a_bw[i];
		fmt[i].b_bw = b_bw;
		double e;
		fmt[i].w_fl = dcc_fx_best_fl(g->p[0].w, g->p[0].n, w_bw[i], &e);
		fmt[i].b_fl = dcc_fx_best_fl(g->p[1].w, g->p[1].n, b_bw, NULL);
	}
	if (static_fmt) { /* one weight fl: the least total error over all layers */
		int lo = DCC_FL_MAX, hi = DCC_FL_MIN;
		for (size_t i = 0; i < L; i++)
			if (has_w(&net->layers[i])) {
				lo = fmt[i].w_fl - fmt[i].w_bw < lo ? fmt[i].w_fl - fmt[i].w_bw : lo;
				hi = fmt[i].w_fl > hi ? fmt[i].w_fl : hi;
			}
		double best = INFINITY;
		int bfl = hi;
		for (int fl = lo; fl <= hi; fl++) {
			double s = 0;
			for (size_t i = 0; i < L; i++)
				if (has_w(&net->layers[i]))
					s += dcc_fx_sse(net->layers[i].p[0].w, net->layers[i].p[0].n, fmt[i].w_bw, fl);
			if (s < best)
				best = s, bfl = fl;
		}
		for (size_t i = 0; i < L; i++)
			if (has_w(&net->layers[i]))
				fmt[i].w_fl = bfl;
	}
	for (size_t i = 0; w_sqnr && i < L; i++) {
		const dcc_layer *g = &net->layers[i];
		w_sqnr[i] = NAN;
		if (!has_w(g))
			continue;
		double sig = 0;
		for (size_t k = 0; k < g->p[0].n; k++)
			sig += (double)g->p[0].w[k] * g->p[0].w[k];
		w_sqnr[i] = sqnr(sig, dcc_fx_sse(g->p[0].w, g->p[0].n, fmt[i].w_bw, fmt[i].w_fl));
	}

	/* the float activations of the calibration images */
	dcc_work *wk = NULL;
	float *xf = malloc(calib * insz * sizeof(float));
	int rc = xf ? dcc_work_new(net, calib, DCC_WORK_KEEP, &wk, err) : dcc_fail(err, DCC_E_NOMEM, "out of memory");
	if (rc) {
		free(xf);
		return rc;
	}
	dcc_data_x(d, sp, 0, calib, &net->norm, xf);
	dcc_net_forward(net, wk, xf, calib);
	/* the greedy search, layer by layer; cur holds the integer input of layer i */
	dcc_qnet *q = NULL;
	int32_t *cur = NULL, *nxt = NULL, *scratch = NULL;
	size_t maxa = insz, maxp = 0;
	for (size_t i = 0; i < L; i++) {
		const dcc_layer *g = &net->layers[i];
		maxa = g->out_size > maxa ? g->out_size : maxa;
		if (g->op == DCC_OP_CONV2D && (size_t)g->ic * (size_t)(g->geo.kh * g->geo.kw) > maxp)
			maxp = (size_t)g->ic * (size_t)(g->geo.kh * g->geo.kw);
		if (g->op == DCC_OP_LSTM && 6 * (size_t)g->hidden > maxp)
			maxp = 6 * (size_t)g->hidden;
	}
	cur = malloc(calib * maxa * sizeof(int32_t));
	nxt = malloc(calib * maxa * sizeof(int32_t));
	scratch = malloc((2 * maxa + maxp) * sizeof(int32_t)); /* = dcc_qnet_scratch() */
	if (!cur || !nxt || !scratch) {
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
		goto done;
	}
	*in_fl = dcc_fx_best_fl(xf, calib * insz, in_bw, NULL);
	if (!net->graph->chain) {
		rc = dag_activations(net, wk, d, sp, calib, fmt, in_bw, *in_fl, a_sqnr, err);
		goto done;
	}
	if (static_fmt) {
		/* one activation fl for every boundary: the least summed error */
		int fl0 = *in_fl, best_fl = fl0;
		double best = INFINITY;
		for (int fl = fl0 - 8; fl <= fl0 + 4; fl++) {
			for (size_t i = 0; i < L; i++)
				if (has_w(&net->layers[i]))
					fmt[i].a_fl = fl;
			dcc_qnet_free(q);
			q = NULL;
			if ((rc = dcc_qnet_build(net, fmt, in_bw, fl, &q, err)))
				goto done;
			double e = 0;
			for (size_t s = 0; s < calib; s++) {
				dcc_qnet_input(q, d, sp, s, cur);
				for (size_t i = 0; i < L; i++) {
					const dcc_layer *g = &net->layers[i];
					const int32_t *y = dcc_qnet_forward_from(q, cur, i, i + 1, scratch);
					if (has_w(g)) {
						const float *fa = dcc_work_act(wk, i + 1) + s * g->out_size;
						for (size_t k = 0; k < g->out_size; k++) {
							double dv = ldexp((double)y[k], -fl) - fa[float_pos(g, k)];
							e += dv * dv;
						}
					}
					memmove(cur, y, g->out_size * sizeof(int32_t));
				}
			}
			if (e < best)
				best = e, best_fl = fl;
		}
		*in_fl = best_fl;
		for (size_t i = 0; i < L; i++)
			if (has_w(&net->layers[i]))
				fmt[i].a_fl = best_fl;
	} else {
		for (size_t i = 0; i < L; i++)
			if (has_w(&net->layers[i]))
				fmt[i].a_fl = 0;
		if ((rc = dcc_qnet_build(net, fmt, in_bw, *in_fl, &q, err)))
			goto done;
		for (size_t s = 0; s < calib; s++)
			dcc_qnet_input(q, d, sp, s, cur + s * maxa);
		for (size_t i = 0; i < L; i++) {
			const dcc_layer *g = &net->layers[i];
			if (has_w(g)) {
				/* the float output's range gives the first candidate */
				double mx = 0;
				for (size_t s = 0; s < calib; s++) {
					const float *fa = dcc_work_act(wk, i + 1) + s * g->out_size;
					for (size_t k = 0; k < g->out_size; k++)
						mx = fmax(mx, fabs((double)fa[k]));
				}
				int fl0 = mx > 0 ? a_bw[i] - 1 - (int)ceil(log2(mx)) : 0, best_fl = fl0;
				double best = INFINITY;
				for (int fl = fl0 - 1; fl <= fl0 + 4; fl++) {
					q->l[i].f.a_fl = fl;
					q->l[i].out_fl = fl;
					double e = 0;
					for (size_t s = 0; s < calib; s++) {
						const int32_t *y = dcc_qnet_forward_from(q, cur + s * maxa, i, i + 1, scratch);
						const float *fa = dcc_work_act(wk, i + 1) + s * g->out_size;
						for (size_t k = 0; k < g->out_size; k++) {
							double dv = ldexp((double)y[k], -fl) - fa[float_pos(g, k)];
							e += dv * dv;
						}
					}
					if (e < best)
						best = e, best_fl = fl;
				}
				fmt[i].a_fl = best_fl;
				/* the formats downstream follow this layer's */
				dcc_qnet_free(q);
				q = NULL;
				if ((rc = dcc_qnet_build(net, fmt, in_bw, *in_fl, &q, err)))
					goto done;
			}
			for (size_t s = 0; s < calib; s++) {
				const int32_t *y = dcc_qnet_forward_from(q, cur + s * maxa, i, i + 1, scratch);
				memcpy(nxt + s * maxa, y, g->out_size * sizeof(int32_t));
			}
			int32_t *t = cur;
			cur = nxt;
			nxt = t;
		}
	}
	/* the activations' SQNR with the chosen formats */
	if (a_sqnr) {
		dcc_qnet_free(q);
		q = NULL;
		if ((rc = dcc_qnet_build(net, fmt, in_bw, *in_fl, &q, err)))
			goto done;
		for (size_t i = 0; i < L; i++)
			a_sqnr[i] = NAN;
		double *sig = calloc(L, sizeof(double)), *er = calloc(L, sizeof(double));
		for (size_t s = 0; sig && er && s < calib; s++) {
			dcc_qnet_input(q, d, sp, s, cur);
			for (size_t i = 0; i < L; i++) {
				const dcc_layer *g = &net->layers[i];
				const int32_t *y = dcc_qnet_forward_from(q, cur, i, i + 1, scratch);
				if (has_w(g)) {
					const float *fa = dcc_work_act(wk, i + 1) + s * g->out_size;
					for (size_t k = 0; k < g->out_size; k++) {
						double f = fa[float_pos(g, k)], dv = ldexp((double)y[k], -fmt[i].a_fl) - f;
						sig[i] += f * f;
						er[i] += dv * dv;
					}
				}
				memmove(cur, y, g->out_size * sizeof(int32_t));
			}
		}
		for (size_t i = 0; sig && er && i < L; i++)
			if (has_w(&net->layers[i]))
				a_sqnr[i] = sqnr(sig[i], er[i]);
		free(sig), free(er);
	}
done:
	dcc_qnet_free(q);
	free(cur), free(nxt), free(scratch), free(xf);
	dcc_work_free(wk);
	return rc;
}

static int q_dtype(int bw) { return bw <= 8 ? DCC_Q8 : bw <= 16 ? DCC_Q16 : DCC_Q32; }

/* A fixed-point tensor of n values x quantised at (bw, fl). */
static int put_q(dcc_model *m, const char *name, const float *x, size_t n, int ndim, const uint64_t *shape, int bw,
		 int fl, dcc_error *err)
{
	int dt = q_dtype(bw);
	size_t es = dt == DCC_Q8 ? 1 : dt == DCC_Q16 ? 2 : 4;
	uint8_t *buf = malloc(n ? n * es : 1);
	if (!buf)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		int32_t v = dcc_fx_quantize(x[i], bw, fl);
		uint32_t u = (uint32_t)v; /* little-endian two's complement */
		for (size_t b = 0; b < es; b++)
			buf[i * es + b] = (uint8_t)(u >> (8 * b));
	}
	return dcc_model_add(m, name, dt, 0, fl, ndim, shape, buf, err);
}

/* Stores a parameter quantised at (bw, fl): its codebook when the weight is
 * shared, else the tensor itself.  put_q reads x before it replaces the
 * tensor x may alias, so the net's floats need no copy. */
static int store_param(dcc_model *m, const dcc_param *p, int bw, int fl, dcc_error *err)
{
	char nm[DCC_MAX_NAME + 16];
	snprintf(nm, sizeof(nm), "%s.codebook", p->name);
	const dcc_tensor *cb = dcc_model_find(m, nm);
	if (!cb)
		return put_q(m, p->name, p->w, p->n, p->ndim, p->shape, bw, fl, err);
	size_t k = (size_t)cb->shape[0]; /* shared: the codebook entries are what is quantised */
	float *c = malloc(k * sizeof(float));
	if (!c)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	for (size_t j = 0; j < k; j++)
		c[j] = (float)dcc_tensor_get(cb, j);
	uint64_t shape[1] = {k};
	int rc = put_q(m, nm, c, k, 1, shape, bw, fl, err);
	free(c);
	return rc;
}

int dcc_fixed_apply(dcc_model *m, const dcc_net *net, const dcc_qfmt *fmt, int in_bw, int in_fl, dcc_error *err)
{
	size_t L = net->nlayers;
	char **lines = calloc(L + 1, sizeof(char *));
	size_t nl = 0;
	int rc = lines ? 0 : dcc_fail(err, DCC_E_NOMEM, "out of memory");
	if (!rc && !(lines[nl++] = malloc(64)))
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	if (!rc)
		snprintf(lines[0], 64, "input a_bw=%d a_fl=%d", in_bw, in_fl);
	for (size_t i = 0; i < L && !rc; i++) {
		const dcc_layer *g = &net->layers[i];
		if (g->op == DCC_OP_LSTM) {
			const dcc_qfmt *f = &fmt[i];
			for (int k = 0; k < 4 && !rc; k++)
				rc = store_param(m, &g->p[k], k < 2 ? f->w_bw : f->b_bw,
						 k == 0 ? f->w_fl : k == 1 ? f->wh_fl : f->b_fl, err);
			if (!rc && !(lines[nl] = malloc(DCC_MAX_NAME + 160)))
				rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
			else if (!rc)
				snprintf(lines[nl++], DCC_MAX_NAME + 160,
					 "%s w_bw=%d w_fl=%d b_bw=%d b_fl=%d a_bw=%d a_fl=%d wh_fl=%d z_fl=%d c_fl=%d", g->name, f->w_bw,
					 f->w_fl, f->b_bw, f->b_fl, f->a_bw, f->a_fl, f->wh_fl, f->z_fl, f->c_fl);
			continue;
		}
		if (dcc_op_own_format(g->op)) { /* its output's format */
			if (!(lines[nl] = malloc(DCC_MAX_NAME + 64)))
				rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
			else
				snprintf(lines[nl++], DCC_MAX_NAME + 64, "%s a_bw=%d a_fl=%d", g->name, fmt[i].a_bw, fmt[i].a_fl);
			continue;
		}
		if (!has_w(g))
			continue;
		const dcc_qfmt *f = &fmt[i];
		rc = store_param(m, &g->p[0], f->w_bw, f->w_fl, err);
		if (!rc)
			rc = store_param(m, &g->p[1], f->b_bw, f->b_fl, err);
		if (!rc) {
			if (!(lines[nl] = malloc(DCC_MAX_NAME + 96)))
				rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
			else
				snprintf(lines[nl++], DCC_MAX_NAME + 96, "%s w_bw=%d w_fl=%d b_bw=%d b_fl=%d a_bw=%d a_fl=%d",
					 g->name, f->w_bw, f->w_fl, f->b_bw, f->b_fl, f->a_bw, f->a_fl);
		}
	}
	if (!rc)
		rc = dcc_model_set_arr_str(m, "dcc.fixed", (const char *const *)lines, nl, err);
	for (size_t i = 0; lines && i < nl; i++)
		free(lines[i]);
	free(lines);
	return rc;
}
