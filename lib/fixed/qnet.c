/* qnet.c: quantisation, the format search, building the integer network
 * from a float one, the formats in the container, and evaluation over a
 * data set on threads.  The arithmetic of inference is in infer.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/internal.h"
#include "../dcc_fixed.h"

void dcc_fx_to_f32(float *z, const int32_t *v, size_t n, int fl)
{
	for (size_t i = 0; i < n; i++)
		z[i] = (float)ldexp((double)v[i], -fl);
}

int32_t dcc_fx_quantize(double x, int bw, int fl)
{
	double v = ldexp(x, fl); /* exact */
	double hi = ldexp(1.0, bw - 1) - 1, lo = -ldexp(1.0, bw - 1);
	if (isnan(v))
		return 0;
	if (v >= hi)
		return (int32_t)hi;
	if (v <= lo)
		return (int32_t)lo;
	return (int32_t)nearbyint(v); /* the default rounding mode: ties to even */
}

double dcc_fx_sse(const float *x, size_t n, int bw, int fl)
{
	double s = 0;
	for (size_t i = 0; i < n; i++) {
		double d = (double)x[i] - ldexp((double)dcc_fx_quantize(x[i], bw, fl), -fl);
		s += d * d;
	}
	return s;
}

int dcc_fx_best_fl(const float *x, size_t n, int bw, double *sse)
{
	double mx = 0;
	for (size_t i = 0; i < n; i++)
		mx = fmax(mx, fabs((double)x[i]));
	/* the largest fl at which max|x| does not saturate */
	int fl0 = DCC_FL_MAX;
	if (mx > 0) {
		fl0 = bw - 1 - (int)ceil(log2(mx));
		while (fl0 > DCC_FL_MIN && ldexp(mx, fl0) > ldexp(1.0, bw - 1) - 0.5)
			fl0--;
		while (fl0 < DCC_FL_MAX && ldexp(mx, fl0 + 1) <= ldexp(1.0, bw - 1) - 0.5)
			fl0++;
	}
	int best = fl0;
	double bs = INFINITY;
	for (int fl = fl0; fl <= fl0 + bw && fl <= DCC_FL_MAX; fl++) {
		double s = dcc_fx_sse(x, n, bw, fl);
		if (s <= bs) {
			bs = s;
			best = fl;
		}
	}
	if (sse)
		*sse = bs;
	return best;
}

void dcc_fx_tables(int32_t sig[257], int32_t tanh_[257])
{
	for (int k = 0; k <= 256; k++) { /* formats/fixed.md: Q15, rounded half to even */
		sig[k] = dcc_fx_quantize(1.0 / (1.0 + exp(-(-8.0 + k / 16.0))), 17, 15);
		tanh_[k] = dcc_fx_quantize(tanh(-4.0 + k / 32.0), 17, 15);
	}
}

void dcc_qnet_free(dcc_qnet *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < q->n; i++) {
		free(q->l[i].w);
		free(q->l[i].b);
		free(q->l[i].wh);
		free(q->l[i].bh);
	}
	free(q->l);
	free(q->voff), free(q->vfl), free(q->vbw);
	free(q);
}

static int32_t *quantize_all(const float *x, size_t n, int bw, int fl)
{
	int32_t *q = malloc(n ? n * sizeof(int32_t) : 1);
	for (size_t i = 0; q && i < n; i++)
		q[i] = dcc_fx_quantize(x[i], bw, fl);
	return q;
}

int dcc_qnet_build(const dcc_net *net, const dcc_qfmt *fmt, int in_bw, int in_fl, dcc_qnet **out, dcc_error *err)
{
	*out = NULL;
	if (in_bw < 1 || in_bw > DCC_BW_MAX)
		return dcc_fail(err, DCC_E_RANGE, "input width %d is outside 1..%d bits", in_bw, DCC_BW_MAX);
	dcc_qnet *q = calloc(1, sizeof(*q));
	if (!q || !(q->l = calloc(net->nlayers ? net->nlayers : 1, sizeof(dcc_qlayer)))) {
		free(q);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	q->net = net;
	q->n = net->nlayers;
	q->in_bw = in_bw;
	q->in_fl = in_fl;
	q->max_act = (size_t)net->in_c * (size_t)net->in_h * (size_t)net->in_w;
	q->chain = net->graph->chain;
	if (!(q->voff = calloc(net->nlayers + 1, sizeof(size_t))) || !(q->vfl = calloc(net->nlayers + 1, sizeof(int))) ||
	    !(q->vbw = calloc(net->nlayers + 1, sizeof(int)))) {
		dcc_qnet_free(q);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	q->vfl[0] = in_fl, q->vbw[0] = in_bw;
	for (size_t i = 0; i < net->nlayers; i++) {
		const dcc_layer *g = &net->layers[i];
		dcc_qlayer *L = &q->l[i];
		int fl = q->vfl[g->src[0]], bw = q->vbw[g->src[0]];
		L->g = g;
		L->in_fl = fl;
		if (g->op == DCC_OP_BATCHNORM || g->op == DCC_OP_AFFINE ||
		    ((g->op == DCC_OP_FC || g->op == DCC_OP_CONV2D) && !g->bias)) {
			dcc_qnet_free(q);
			return dcc_fail(err, DCC_E_UNSUPPORTED, "layer '%s': fold batchnorm and affine layers and give every "
					"layer a bias first (dcc fold)", g->name);
		}
		if (dcc_op_own_format(g->op) || g->op == DCC_OP_CONCAT) {
			/* add, mul: its own format (the widest input's width unless given);
			 * concat: the inputs aligned to the coarsest fl, the widest width */
			int mbw = 0, mfl = DCC_FL_MAX;
			for (int k = 0; k < g->nin; k++) {
				mbw = q->vbw[g->src[k]] > mbw ? q->vbw[g->src[k]] : mbw;
				mfl = q->vfl[g->src[k]] < mfl ? q->vfl[g->src[k]] : mfl;
			}
			L->f = g->op != DCC_OP_CONCAT ? fmt[i] : (dcc_qfmt){0};
			L->f.a_bw = L->f.a_bw > 0 ? L->f.a_bw : mbw;
			L->f.a_fl = g->op != DCC_OP_CONCAT ? L->f.a_fl : mfl;
			if (L->f.a_bw > DCC_BW_MAX || L->f.a_fl < DCC_FL_MIN || L->f.a_fl > DCC_FL_MAX) {
				dcc_qnet_free(q);
				return dcc_fail(err, DCC_E_RANGE, "layer '%s': format out of range", g->name);
			}
			fl = L->f.a_fl, bw = L->f.a_bw;
		} else if (g->op == DCC_OP_CLIP) {
			/* the bounds at the input's format; a bound beyond it is none */
			L->lo = isinf(g->lo) ? -(int32_t)(((int64_t)1 << (bw - 1))) : dcc_fx_quantize(g->lo, bw, fl);
			L->hi = isinf(g->hi) ? (int32_t)(((int64_t)1 << (bw - 1)) - 1) : dcc_fx_quantize(g->hi, bw, fl);
		} else if (g->op == DCC_OP_LEAKYRELU) { /* the graph bounds |alpha| by 256 */
			L->slope = (int32_t)lrint((double)g->alpha * 65536.0);
		} else if (g->op == DCC_OP_HARDSIGMOID || g->op == DCC_OP_HARDSWISH) {
			int hs = g->op == DCC_OP_HARDSWISH;
			if (bw < 2) {
				dcc_qnet_free(q);
				return dcc_fail(err, DCC_E_RANGE, "layer '%s': %s needs activations of at least 2 bits", g->name,
						dcc_op_name(g->op));
			}
			L->gate_fl = hs ? DCC_HSWISH_FL : bw - 1; /* hardsigmoid: |y| <= 1, as sigmoid's */
			L->slope = (int32_t)lrint((hs ? 1.0 / 6.0 : (double)g->alpha) * 65536.0);
			L->offset = (int32_t)lrint((hs ? 0.5 : (double)g->beta) * (double)((int64_t)1 << L->gate_fl));
			if (!hs)
				fl = L->gate_fl;
		}
		if (g->op == DCC_OP_LSTM) {
			const dcc_qfmt *f = &fmt[i];
			if (f->w_bw < 1 || f->w_bw > DCC_BW_MAX || f->b_bw < 1 || f->b_bw > DCC_BW_MAX || f->a_bw < 2 ||
			    f->a_bw > 24) {
				dcc_qnet_free(q);
				return dcc_fail(err, DCC_E_RANGE, "layer '%s': bit widths out of range", g->name);
			}
			L->f = *f;
			L->w = quantize_all(g->p[0].w, g->p[0].n, f->w_bw, f->w_fl);
			L->wh = quantize_all(g->p[1].w, g->p[1].n, f->w_bw, f->wh_fl);
			L->b = quantize_all(g->p[2].w, g->p[2].n, f->b_bw, f->b_fl);
			L->bh = quantize_all(g->p[3].w, g->p[3].n, f->b_bw, f->b_fl);
			if (!L->w || !L->wh || !L->b || !L->bh) {
				dcc_qnet_free(q);
				return dcc_fail(err, DCC_E_NOMEM, "out of memory");
			}
			size_t need = 6 * (size_t)g->hidden;
			q->lstm_scratch = need > q->lstm_scratch ? need : q->lstm_scratch;
			fl = f->a_fl;
			bw = f->a_bw;
		} else if (g->op == DCC_OP_FC || g->op == DCC_OP_CONV2D) {
			const dcc_qfmt *f = &fmt[i];
			if (f->w_bw < 1 || f->w_bw > DCC_BW_MAX || f->b_bw < 1 || f->b_bw > DCC_BW_MAX || f->a_bw < 1 ||
			    f->a_bw > DCC_BW_MAX) {
				dcc_qnet_free(q);
				return dcc_fail(err, DCC_E_RANGE, "layer '%s': bit widths must be 1..%d", g->name, DCC_BW_MAX);
			}
			L->f = *f;
			L->w = quantize_all(g->p[0].w, g->p[0].n, f->w_bw, f->w_fl);
			L->b = quantize_all(g->p[1].w, g->p[1].n, f->b_bw, f->b_fl);
			if (!L->w || !L->b) {
				dcc_qnet_free(q);
				return dcc_fail(err, DCC_E_NOMEM, "out of memory");
			}
			fl = f->a_fl;
			bw = f->a_bw;
		} else if (g->op == DCC_OP_SIGMOID || g->op == DCC_OP_TANH) {
			if (bw < 2) {
				dcc_qnet_free(q);
				return dcc_fail(err, DCC_E_RANGE, "layer '%s': %s needs activations of at least 2 bits", g->name,
						dcc_op_name(g->op));
			}
			fl = bw - 1; /* |y| <= 1 */
		}
		L->out_fl = fl;
		L->out_bw = bw;
		q->vfl[i + 1] = fl, q->vbw[i + 1] = bw;
		if (g->out_size > q->max_act)
			q->max_act = g->out_size;
		size_t patch = (size_t)(g->ic / (g->group ? g->group : 1)) * (size_t)(g->geo.kh * g->geo.kw);
		if (g->op == DCC_OP_CONV2D && patch > q->max_patch)
			q->max_patch = patch;
		if (g->in_size > q->max_act)
			q->max_act = g->in_size;
		q->voff[i + 1] = q->vtotal; /* not a chain: every value its own place */
		q->vtotal += dcc_op_is_loss(g->op) ? 0 : g->out_size;
	}
	dcc_fx_tables(q->sig, q->tanh_);
	*out = q;
	return 0;
}

/* "fc1 w_bw=8 w_fl=7 b_bw=16 b_fl=12 a_bw=8 a_fl=4" */
static int parse_line(const char *s, char *name, size_t cap, int v[9])
{
	static const char *const keys[9] = {"w_bw", "w_fl", "b_bw", "b_fl", "a_bw", "a_fl", "wh_fl", "z_fl", "c_fl"};
	const char *sp = strchr(s, ' ');
	if (!sp || (size_t)(sp - s) >= cap)
		return -1;
	memcpy(name, s, (size_t)(sp - s));
	name[sp - s] = 0;
	int got = 0;
	for (const char *p = sp; *p;) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		const char *eq = strchr(p, '=');
		if (!eq)
			return -1;
		char *end;
		long x = strtol(eq + 1, &end, 10);
		if (end == eq + 1 || (*end && *end != ' ') || x < -1000 || x > 1000)
			return -1;
		for (int k = 0; k < 9; k++)
			if ((size_t)(eq - p) == strlen(keys[k]) && !strncmp(p, keys[k], (size_t)(eq - p))) {
				v[k] = (int)x;
				got |= 1 << k;
			}
		p = end;
	}
	return got;
}

int dcc_fixed_formats(const dcc_model *m, const dcc_net *net, dcc_qfmt **fmt, int *in_bw, int *in_fl,
		      dcc_error *err)
{
	*fmt = NULL;
	const dcc_kv *kv = dcc_model_get_kv(m, "dcc.fixed");
	if (!kv)
		return dcc_fail(err, DCC_E_NOTFOUND, "no fixed-point formats (dcc.fixed): run dcc fixed first");
	if (kv->type != DCC_KV_ARR || kv->elem_type != DCC_KV_STR)
		return dcc_fail(err, DCC_E_FORMAT, "dcc.fixed is not an array of strings");
	dcc_qfmt *f = calloc(net->nlayers ? net->nlayers : 1, sizeof(*f));
	int *seen = calloc(net->nlayers ? net->nlayers : 1, sizeof(int)), have_in = 0;
	if (!f || !seen) {
		free(f), free(seen);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	int rc = 0;
	for (size_t i = 0; i < kv->count && !rc; i++) {
		char name[DCC_MAX_NAME + 1];
		int v[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};
		int got = parse_line(kv->s[i], name, sizeof(name), v);
		if (got < 0) {
			rc = dcc_fail(err, DCC_E_FORMAT, "dcc.fixed: cannot read '%s'", kv->s[i]);
			break;
		}
		if (!strcmp(name, "input")) {
			if ((got & 0x30) != 0x30) {
				rc = dcc_fail(err, DCC_E_FORMAT, "dcc.fixed: 'input' needs a_bw and a_fl");
				break;
			}
			*in_bw = v[4];
			*in_fl = v[5];
			have_in = 1;
			continue;
		}
		size_t j = 0;
		while (j < net->nlayers && strcmp(net->layers[j].name, name))
			j++;
		int add = j < net->nlayers && dcc_op_own_format(net->layers[j].op);
		if (j == net->nlayers) {
			rc = dcc_fail(err, DCC_E_FORMAT, "dcc.fixed: no layer '%s' in the graph", name);
		} else if (add && (got & 0x30) != 0x30) {
			rc = dcc_fail(err, DCC_E_FORMAT, "dcc.fixed: '%s' needs a_bw and a_fl", name);
		} else if (!add && ((got & 0x3f) != 0x3f || (net->layers[j].op == DCC_OP_LSTM && got != 0x1ff))) {
			rc = dcc_fail(err, DCC_E_FORMAT, "dcc.fixed: '%s' needs w_bw, w_fl, b_bw, b_fl, a_bw and a_fl%s", name,
				      net->layers[j].op == DCC_OP_LSTM ? ", wh_fl, z_fl and c_fl" : "");
		} else {
			dcc_qfmt *q = &f[j];
			q->w_bw = v[0], q->w_fl = v[1], q->b_bw = v[2], q->b_fl = v[3], q->a_bw = v[4], q->a_fl = v[5];
			q->wh_fl = v[6], q->z_fl = v[7], q->c_fl = v[8];
			seen[j] = 1;
		}
	}
	for (size_t j = 0; j < net->nlayers && !rc; j++)
		if ((net->layers[j].op == DCC_OP_FC || net->layers[j].op == DCC_OP_CONV2D || net->layers[j].op == DCC_OP_LSTM ||
		     dcc_op_own_format(net->layers[j].op)) && !seen[j])
			rc = dcc_fail(err, DCC_E_FORMAT, "dcc.fixed: no formats for layer '%s'", net->layers[j].name);
	if (!rc && !have_in)
		rc = dcc_fail(err, DCC_E_FORMAT, "dcc.fixed: no 'input' format");
	free(seen);
	if (rc) {
		free(f);
		return rc;
	}
	*fmt = f;
	return 0;
}

/* ---- the input ---- */

void dcc_fx_sample(const dcc_dataset *d, const dcc_split *s, size_t i, const dcc_norm *nm, int bw, int fl, int32_t *out)
{
	size_t per = d->sample;
	if (s->x->dtype == DCC_U8 && (!nm || !nm->n)) { /* exact, as dcc has always read IDX images */
		dcc_fx_pixels(out, (const uint8_t *)s->x->data + (s->first + i) * per, per, bw, fl);
		return;
	}
	for (size_t k = 0; k < per; k++) {
		double v = dcc_tensor_get(s->x, (s->first + i) * per + k);
		if (s->x->dtype == DCC_U8)
			v /= 255.0;
		if (nm && nm->n) {
			size_t ch = dcc_norm_channel(nm, k, d->c, d->h, d->w);
			v = (v - nm->mean[ch]) / nm->std[ch];
		}
		out[k] = dcc_fx_quantize(v, bw, fl);
	}
}

void dcc_qnet_input(const dcc_qnet *q, const dcc_dataset *d, const dcc_split *s, size_t i, int32_t *x)
{
	dcc_fx_sample(d, s, i, &q->net->norm, q->in_bw, q->in_fl, x);
}

/* ---- evaluation over a split ---- */

typedef struct qeval_ctx {
	const dcc_qnet *q;
	const dcc_dataset *d;
	const dcc_split *s;
	size_t n;
	int nthreads, fail;
	dcc_metrics *m;
	int32_t *logits;
} qeval_ctx;

static void qeval_part(void *arg, int t)
{
	qeval_ctx *c = arg;
	const dcc_qnet *q = c->q;
	const dcc_dataset *d = c->d;
	size_t lo = c->n * (size_t)t / (size_t)c->nthreads, hi = c->n * (size_t)(t + 1) / (size_t)c->nthreads;
	size_t insz = d->sample, K = (size_t)q->net->classes;
	int tg = d->labels == DCC_LABELS_TARGET, fl = q->n ? q->l[q->n - 1].out_fl : q->in_fl;
	int32_t *x = malloc(insz * sizeof(int32_t)), *s = malloc(dcc_qnet_scratch(q) * sizeof(int32_t));
	double *z = malloc(K * sizeof(double));
	float *tv = malloc(K * sizeof(float));
	if (!x || !s || !z || !tv) {
		c->fail = 1;
		free(x), free(s), free(z), free(tv);
		return;
	}
	for (size_t i = lo; i < hi; i++) {
		dcc_qnet_input(q, d, c->s, i, x);
		const int32_t *y = dcc_qnet_forward(q, x, q->n, s);
		if (c->s->y) { /* the real values, exact in double: argmax and signs as the integers' */
			int cls = tg ? 0 : dcc_data_class(c->s, i);
			for (size_t k = 0; k < K; k++)
				z[k] = ldexp((double)y[k], -fl);
			if (tg)
				dcc_data_targets(d, c->s, i, tv);
			dcc_metrics_add(&c->m[t], z, &cls, tg ? tv : NULL, 1);
		}
		if (c->logits)
			memcpy(c->logits + i * K, y, K * sizeof(int32_t));
	}
	free(x), free(s), free(z), free(tv);
}

int dcc_qnet_eval_split(const dcc_qnet *q, const dcc_dataset *d, const dcc_split *sp, size_t limit, int want_logits,
			int threads, dcc_qeval *r, dcc_error *err)
{
	memset(r, 0, sizeof(*r));
	const dcc_net *n = q->net;
	int rc = dcc_net_fits(n, d, sp->y != NULL, err);
	if (rc)
		return rc;
	size_t N = limit && limit < sp->n ? limit : sp->n;
	int nt = threads > 0 ? threads : dcc_default_threads();
	if ((size_t)nt > N)
		nt = N ? (int)N : 1;
	if (nt > 64)
		nt = 64;
	dcc_metrics m[64], all;
	int inited = 0;
	for (; inited < nt && !rc; inited++)
		rc = dcc_metrics_init(&m[inited], n->head, n->classes, err);
	int32_t *logits = want_logits ? malloc((N ? N : 1) * (size_t)n->classes * sizeof(int32_t)) : NULL;
	if (!rc && want_logits && !logits)
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	if (!rc && (rc = dcc_metrics_init(&all, n->head, n->classes, err)) == 0) {
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		qeval_ctx c = {q, d, sp, N, nt, 0, m, logits};
		dcc_parallel(nt, qeval_part, &c);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (c.fail)
			rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
		for (int t = 0; t < nt; t++)
			dcc_metrics_merge(&all, &m[t]);
		dcc_metrics_finish(&all, &r->fig);
		r->fig.labelled = sp->y != NULL;
		r->fig.confusion = all.confusion;
		all.confusion = NULL;
		dcc_metrics_free(&all);
		double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
		r->n = r->fig.n = N;
		r->fig.classes = n->classes;
		r->correct = r->fig.correct;
		r->accuracy = r->fig.accuracy;
		r->images_per_s = r->fig.images_per_s = secs > 0 ? (double)N / secs : 0;
		r->fig.loss = NAN; /* the integer outputs' figures only */
	}
	for (int t = 0; t < inited; t++)
		dcc_metrics_free(&m[t]);
	if (rc) {
		free(logits);
		free(r->fig.confusion);
		memset(r, 0, sizeof(*r));
		return rc;
	}
	r->logits = logits;
	r->logit_fl = q->n ? q->l[q->n - 1].out_fl : q->in_fl;
	return 0;
}

int dcc_qnet_eval(const dcc_qnet *q, const dcc_dataset *d, size_t limit, int want_logits, int threads,
		  dcc_qeval *r, dcc_error *err)
{
	return dcc_qnet_eval_split(q, d, &d->test, limit, want_logits, threads, r, err);
}

void dcc_qeval_free(dcc_qeval *r)
{
	free(r->logits);
	free(r->fig.confusion);
	r->logits = NULL;
	r->fig.confusion = NULL;
}

int dcc_fx_figures(int head, const int32_t *out, size_t n, int K, int fl, const dcc_dataset *d, const dcc_split *s,
		   dcc_eval_result *r, dcc_error *err)
{
	memset(r, 0, sizeof(*r));
	dcc_metrics m;
	double *z = malloc((size_t)K * sizeof(double));
	float *tv = malloc((size_t)K * sizeof(float));
	int rc = z && tv ? dcc_metrics_init(&m, head ? head : DCC_OP_SOFTMAX_CE, K, err)
			 : dcc_fail(err, DCC_E_NOMEM, "out of memory");
	int tg = d->labels == DCC_LABELS_TARGET;
	for (size_t i = 0; !rc && i < n; i++) {
		int cls = tg ? 0 : dcc_data_class(s, i);
		for (int k = 0; k < K; k++)
			z[k] = ldexp((double)out[i * (size_t)K + (size_t)k], -fl);
		if (tg)
			dcc_data_targets(d, s, i, tv);
		dcc_metrics_add(&m, z, &cls, tg ? tv : NULL, 1);
	}
	if (!rc) {
		dcc_metrics_finish(&m, r);
		r->labelled = 1, r->classes = K, r->confusion = m.confusion;
		m.confusion = NULL;
		dcc_metrics_free(&m);
	}
	free(z), free(tv);
	return rc;
}
