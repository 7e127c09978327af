/* net.c: the work area (activations and saved state, one allocation per
 * role), and the forward and backward passes of a whole network. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "../dcc_nn.h"
#include "layers.h"

typedef struct layer_work {
	float *cols;      /* conv: im2col */
	float *wt;        /* conv: permuted weights and their gradient */
	int32_t *argmax;  /* maxpool */
	lstm_state lstm;
	float *zb, *dzb;  /* fc, conv2d without a bias: zeros, and a gradient nobody reads */
	float *bn;        /* batchnorm: batch mean, variance (biased), 1/std (C each) */
	size_t bn_count;  /* batchnorm: the values each channel's statistics are over */
	size_t bn_c;      /* batchnorm: its channels */
} layer_work;

struct dcc_work {
	size_t batch;
	float **act;      /* act[v]: value v (0 the input, i + 1 node i's output), B x its size */
	layer_work *lw;
	float **gv;       /* gv[v]: the gradient of value v (training) */
	float *gscratch;  /* an input gradient on its way into a value read twice */
	float **grad;           /* [layer * 4 + k]: parameter gradients (training) */
	float *grad_all;
	size_t grad_n;
	void **allocs;
	size_t nallocs;
	int qa, qe; /* fake-quantise activations and errors to this many bits (0: off) */
	int training;     /* batchnorm normalises by the batch's statistics */
	bn_sync *bn_sync; /* training in workers: the batch's statistics meet here */
	int bn_rank;      /* this worker's index in bn_sync */
	size_t nl;
	int *fla, *fle;           /* per layer fl, DCC_FL_AUTO: from the values */
	dcc_quant_obs *oa, *oe;   /* per layer, what quantising saw */
};

void dcc_work_set_bn_sync(dcc_work *w, bn_sync *s, int rank)
{
	w->bn_sync = s;
	w->bn_rank = rank;
}

void dcc_work_set_quant(dcc_work *w, int a_bits, int e_bits)
{
	w->qa = a_bits;
	w->qe = e_bits;
}

void dcc_work_set_quant_formats(dcc_work *w, const int *fl_a, const int *fl_e)
{
	for (size_t i = 0; i < w->nl; i++) {
		w->fla[i] = fl_a ? fl_a[i] : DCC_FL_AUTO;
		w->fle[i] = fl_e ? fl_e[i] : DCC_FL_AUTO;
	}
}

const dcc_quant_obs *dcc_work_quant_obs(const dcc_work *w, int errors)
{
	return errors ? w->oe : w->oa;
}

void dcc_work_quant_reset(dcc_work *w)
{
	memset(w->oa, 0, w->nl * sizeof(dcc_quant_obs));
	memset(w->oe, 0, w->nl * sizeof(dcc_quant_obs));
}

float dcc_max_abs(const float *x, size_t n)
{
	float mx = 0;
	for (size_t i = 0; i < n; i++)
		mx = fabsf(x[i]) > mx ? fabsf(x[i]) : mx;
	return mx;
}

int dcc_fl_for_max(float mx, int bits)
{
	if (!(mx > 0))
		return DCC_FL_AUTO;
	/* the largest fl at which mx fits: a power-of-two scale, a shift */
	int fl = bits - 1 - (int)ceilf(log2f(mx));
	if (ldexpf(mx, fl) > ldexpf(1.0f, bits - 1) - 0.5f)
		fl--;
	return fl;
}

int dcc_fake_quant_fl(float *x, size_t n, int bits, int fl, dcc_quant_obs *obs)
{
	float mx = dcc_max_abs(x, n);
	if (obs) {
		obs->max = mx > obs->max ? mx : obs->max;
		obs->n += n;
	}
	if (fl == DCC_FL_AUTO)
		fl = dcc_fl_for_max(mx, bits);
	if (fl == DCC_FL_AUTO || bits < 2)
		return fl;
	if (obs)
		obs->fl = fl;
	float hi = ldexpf(1.0f, bits - 1) - 1, lo = -ldexpf(1.0f, bits - 1);
	uint64_t ovf = 0, unf = 0;
	for (size_t i = 0; i < n; i++) {
		float v = nearbyintf(ldexpf(x[i], fl));
		ovf += v > hi || v < lo;
		unf += v == 0 && x[i] != 0;
		x[i] = ldexpf(v > hi ? hi : v < lo ? lo : v, -fl);
	}
	if (obs)
		obs->overflow += ovf, obs->underflow += unf;
	return fl;
}

void dcc_fake_quant(float *x, size_t n, int bits)
{
	dcc_fake_quant_fl(x, n, bits, DCC_FL_AUTO, NULL);
}

const float *dcc_work_act(const dcc_work *w, size_t i)
{
	return w->act[i];
}

static void *walloc(dcc_work *w, size_t bytes)
{
	void *p = calloc(1, bytes ? bytes : 1);
	if (!p)
		return NULL;
	w->allocs[w->nallocs++] = p;
	return p;
}

void dcc_work_free(dcc_work *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->nallocs; i++)
		free(w->allocs[i]);
	free(w->allocs);
	free(w->act);
	free(w->gv);
	free(w->lw);
	free(w->grad);
	free(w);
}

/* Elements per sample of value v. */
static size_t value_size(const dcc_net *n, size_t v)
{
	return v ? n->layers[v - 1].out_size : (size_t)n->in_c * (size_t)n->in_h * (size_t)n->in_w;
}

/* In training, a batchnorm whose only reader is the next node, a ReLU or a
 * clip, applies that activation itself and writes the activation's value:
 * the batchnorm's own value is never written, and the activation node
 * does nothing, forward or backward.  Node i is such a batchnorm: *a is
 * the activation. */
static int bn_fuses(const dcc_net *n, const dcc_work *w, size_t i, bn_act *a)
{
	const dcc_layer *l = &n->layers[i], *x = i + 2 < n->nlayers ? &n->layers[i + 1] : NULL;
	if (!w->training || l->op != DCC_OP_BATCHNORM || l->nuse != 1 || !x || x->src[0] != (int)i + 1 ||
	    (x->op != DCC_OP_RELU && x->op != DCC_OP_CLIP))
		return 0;
	*a = x->op == DCC_OP_RELU ? (bn_act){0.0f, INFINITY} : (bn_act){x->lo, x->hi};
	return 1;
}

/* A graph's inference keeps each value only until its last reader has run:
 * node i's output takes the buffer of a value no node from i on reads (the
 * first of the free ones, looking at EVAL_FIT of them, that is large
 * enough), else a new one; never a buffer one of its own inputs holds. */
#define EVAL_FIT 32
static int eval_buffers(const dcc_net *n, dcc_work *w, size_t batch)
{
	size_t nl = n->nlayers, nfree = 0;
	size_t *last = malloc(nl * sizeof(size_t)), *next = malloc(nl * sizeof(size_t));
	size_t *head = malloc(nl * sizeof(size_t)), *cap = malloc(nl * sizeof(size_t)), *slot = malloc(nl * sizeof(size_t));
	float **pool = malloc(nl * sizeof(float *)); /* the free buffers, cap[] their sizes */
	int ok = last && next && head && cap && slot && pool;
	for (size_t v = 0; ok && v < nl; v++)
		last[v] = v ? v - 1 : 0, head[v] = SIZE_MAX;
	for (size_t i = 0; ok && i < nl; i++)
		for (int k = 0; k < n->layers[i].nin; k++)
			last[n->layers[i].src[k]] = i > last[n->layers[i].src[k]] ? i : last[n->layers[i].src[k]];
	for (size_t v = 0; ok && v < nl; v++) /* the values each node is the last to read */
		next[v] = head[last[v]], head[last[v]] = v;
	for (size_t v = 0; ok && v < nl; v++) { /* value v: node v - 1's output (0: the input) */
		if (v >= 2) /* node v - 1 runs: the values node v - 2 read last are free */
			for (size_t d = head[v - 2]; d != SIZE_MAX; d = next[d])
				pool[nfree] = w->act[d], cap[nfree++] = slot[d];
		size_t need = batch * value_size(n, v), best = nfree;
		for (size_t j = nfree; j-- > 0 && nfree - j <= EVAL_FIT;)
			if (cap[j] >= need) {
				best = j;
				break;
			}
		if (best < nfree) {
			w->act[v] = pool[best], slot[v] = cap[best];
			pool[best] = pool[nfree - 1], cap[best] = cap[--nfree];
		} else {
			ok = (w->act[v] = walloc(w, sizeof(float) * need)) != NULL;
			slot[v] = need;
		}
	}
	free(last), free(next), free(head), free(cap), free(slot), free(pool);
	return ok;
}

int dcc_work_new(const dcc_net *n, size_t batch, int mode, dcc_work **out, dcc_error *err)
{
	int training = mode == DCC_WORK_TRAIN, chain = n->graph->chain;
	size_t nl = n->nlayers;
	dcc_work *w = calloc(1, sizeof(*w));
	*out = NULL;
	if (!w)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	w->batch = batch;
	w->nl = nl;
	w->training = training;
	w->act = calloc(nl + 1, sizeof(float *));
	w->gv = calloc(nl + 1, sizeof(float *));
	w->lw = calloc(nl, sizeof(layer_work));
	w->allocs = calloc(10 * nl + 12, sizeof(void *));
	int ok = w->act && w->gv && w->lw && w->allocs && (w->fla = walloc(w, nl * sizeof(int))) &&
		 (w->fle = walloc(w, nl * sizeof(int))) && (w->oa = walloc(w, nl * sizeof(dcc_quant_obs))) &&
		 (w->oe = walloc(w, nl * sizeof(dcc_quant_obs)));
	for (size_t i = 0; ok && i < nl; i++)
		w->fla[i] = w->fle[i] = DCC_FL_AUTO;
	size_t maxsz = 0;
	for (size_t i = 0; i < nl; i++) {
		maxsz = n->layers[i].in_size > maxsz ? n->layers[i].in_size : maxsz;
		maxsz = n->layers[i].out_size > maxsz ? n->layers[i].out_size : maxsz;
	}
	/* a chain's inference keeps no layer's activations: two buffers in
	 * turn, so the memory does not grow with the depth; a graph with
	 * branches keeps a value until its last reader (a residual is read
	 * again later); training and DCC_WORK_KEEP keep every value */
	float *pp[2] = {NULL, NULL};
	if (ok && mode == DCC_WORK_EVAL && chain)
		ok = (pp[0] = walloc(w, sizeof(float) * batch * maxsz)) && (pp[1] = walloc(w, sizeof(float) * batch * maxsz));
	else if (ok && mode == DCC_WORK_EVAL)
		ok = eval_buffers(n, w, batch);
	/* a training batchnorm that applies its activation never writes its own
	 * value: the activation's buffers stand in for it */
	bn_act a;
	for (size_t v = 0; ok && v < nl; v++) /* the loss's output is not a value */
		if (!w->act[v] && !(v && bn_fuses(n, w, v - 1, &a)))
			ok = (w->act[v] = pp[0] ? pp[v & 1] : walloc(w, sizeof(float) * batch * value_size(n, v))) != NULL;
	for (size_t v = nl; ok && v-- > 1;)
		if (!w->act[v])
			w->act[v] = w->act[v + 1];
	for (size_t i = 0; ok && i < nl; i++) {
		const dcc_layer *l = &n->layers[i];
		layer_work *lw = &w->lw[i];
		size_t cg = (size_t)(l->ic / (l->group ? l->group : 1)), kk = (size_t)l->geo.kh * l->geo.kw;
		int dw = l->group > 1 && l->group == l->ic && l->group == l->oc;
		if (ok && l->op == DCC_OP_CONV2D)
			ok = (dw || conv_pointwise(&l->geo) ||
			      (lw->cols = walloc(w, sizeof(float) * conv_tile_rows(&l->geo, (int)cg, batch * (size_t)l->oh * l->ow) *
						    cg * kk))) &&
			     (lw->wt = walloc(w, sizeof(float) * 2 * (size_t)l->oc * cg * kk));
		if (ok && l->op == DCC_OP_MAXPOOL2D)
			ok = (lw->argmax = walloc(w, sizeof(int32_t) * batch * l->out_size)) != NULL;
		if (ok && (l->op == DCC_OP_FC || l->op == DCC_OP_CONV2D) && !l->bias)
			ok = (lw->zb = walloc(w, sizeof(float) * (size_t)l->oc)) && (lw->dzb = walloc(w, sizeof(float) * (size_t)l->oc));
		if (ok && l->op == DCC_OP_BATCHNORM)
			ok = (lw->bn = walloc(w, sizeof(float) * 3 * l->p[0].n)) != NULL; /* mean, var, istd */
		if (ok && l->op == DCC_OP_LSTM) {
			size_t T = (size_t)l->steps, H = (size_t)l->hidden, NI = (size_t)l->in, G = 4 * H;
			size_t row = G > NI ? G : NI;
			lstm_state *s = &lw->lstm;
			ok = (s->xt = walloc(w, sizeof(float) * T * batch * NI)) &&
			     (s->gates = walloc(w, sizeof(float) * T * batch * row)) &&
			     (s->c = walloc(w, sizeof(float) * (T + 1) * batch * H)) &&
			     (s->h = walloc(w, sizeof(float) * (T + 1) * batch * H)) &&
			     (s->tmp = walloc(w, sizeof(float) * 2 * batch * H)) &&
			     (s->dg = walloc(w, sizeof(float) * T * batch * G));
		}
	}
	/* value gradients: a chain's in two buffers in turn, else one per value */
	float *gp[2] = {NULL, NULL};
	if (ok && chain)
		ok = (gp[0] = walloc(w, sizeof(float) * batch * maxsz)) && (gp[1] = walloc(w, sizeof(float) * batch * maxsz));
	if (ok && !chain)
		ok = (w->gscratch = walloc(w, sizeof(float) * batch * maxsz)) != NULL;
	for (size_t v = 1; ok && v < nl && (chain || training); v++)
		if (chain || !bn_fuses(n, w, v - 1, &a))
			ok = (w->gv[v] = gp[0] ? gp[v & 1] : walloc(w, sizeof(float) * batch * value_size(n, v))) != NULL;
	for (size_t v = nl; ok && v-- > 1;)
		if (!w->gv[v] && training)
			w->gv[v] = w->gv[v + 1];
	if (ok && training) {
		/* One allocation for every parameter's gradient, sliced. */
		size_t total = 0;
		for (size_t i = 0; i < nl; i++)
			for (int k = 0; k < n->layers[i].nparam; k++)
				total += n->layers[i].p[k].n;
		ok = (w->grad = calloc(4 * nl, sizeof(float *))) && (w->grad_all = walloc(w, sizeof(float) * total));
		w->grad_n = total;
		size_t off = 0;
		for (size_t i = 0; ok && i < nl; i++)
			for (int k = 0; k < n->layers[i].nparam; k++) {
				w->grad[4 * i + (size_t)k] = w->grad_all + off;
				off += n->layers[i].p[k].n;
			}
	}
	if (!ok) {
		dcc_work_free(w);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory for a batch of %zu", batch);
	}
	*out = w;
	return 0;
}

int dcc_act_hwc(const dcc_net *n, size_t i)
{
	return i == 0 ? n->graph->in_hwc : i <= n->nlayers ? n->layers[i - 1].hwc : 0;
}

static int has_weights(int op)
{
	return op == DCC_OP_FC || op == DCC_OP_CONV2D || op == DCC_OP_LSTM;
}

size_t dcc_mul_gate(const dcc_net *n, const dcc_layer *l)
{
	int v = l->src[1];
	size_t sz = v ? n->layers[v - 1].out_size : (size_t)n->in_c * (size_t)n->in_h * (size_t)n->in_w;
	return sz == l->out_size ? 0 : sz;
}

static void node_forward(const dcc_net *n, const dcc_layer *l, dcc_work *w, size_t i, size_t B)
{
	bn_act act;
	if (i > 0 && bn_fuses(n, w, i - 1, &act)) /* the batchnorm before wrote this value */
		return;
	const float *in = w->act[l->src[0]];
	float *out = w->act[i + 1];
	const float *bias = l->bias ? l->p[1].w : w->lw[i].zb;
	switch (l->op) {
	case DCC_OP_FC:
		fc_forward(out, in, l->p[0].w, bias, B, l->in, l->out);
		break;
	case DCC_OP_CONV2D:
		conv_forward(out, w->lw[i].cols, w->lw[i].wt, in, l->p[0].w, bias, B, l->ic, l->ih, l->iw, &l->geo, l->group, l->oc, l->oh, l->ow);
		break;
	case DCC_OP_BATCHNORM: {
		layer_work *lw = &w->lw[i];
		size_t C = l->p[0].n;
		lw->bn_count = B * l->out_size / C, lw->bn_c = C;
		if (w->training) {
			int f = bn_fuses(n, w, i, &act);
			bn_forward_train(f ? w->act[i + 2] : out, lw->bn, lw->bn + C, lw->bn + 2 * C, in, l->p[0].w, l->p[1].w,
					 B * l->out_size, C, l->eps, f ? &act : NULL, w->bn_sync, w->bn_rank);
		}
		else
			bn_forward(out, in, l->p[0].w, l->p[1].w, l->p[2].w, l->p[3].w, B * l->out_size, C, l->eps);
		break;
	}
	case DCC_OP_AFFINE:
		affine_forward(out, in, l->p[0].w, l->p[1].w, B * l->in_size, (size_t)l->ic,
			       l->hwc ? 1 : (size_t)l->ih * (size_t)l->iw);
		break;
	case DCC_OP_MAXPOOL2D:
		maxpool_forward(out, w->lw[i].argmax, in, B, l->ic, l->ih, l->iw, l->k, l->stride, l->pad, l->oh, l->ow);
		break;
	case DCC_OP_RELU:
		relu_forward(out, in, B * l->in_size);
		break;
	case DCC_OP_CLIP:
		clip_forward(out, in, B * l->in_size, l->lo, l->hi);
		break;
	case DCC_OP_LEAKYRELU:
		leakyrelu_forward(out, in, B * l->in_size, l->alpha);
		break;
	case DCC_OP_HARDSIGMOID:
		hardsigmoid_forward(out, in, B * l->in_size, l->alpha, l->beta);
		break;
	case DCC_OP_HARDSWISH:
		hardswish_forward(out, in, B * l->in_size);
		break;
	case DCC_OP_AVGPOOL2D:
		avgpool_forward(out, in, B, l->ic, l->ih, l->iw, l->k, l->stride, l->pad, l->incl, l->oh, l->ow);
		break;
	case DCC_OP_SIGMOID:
		sigmoid_forward(out, in, B * l->in_size);
		break;
	case DCC_OP_TANH:
		tanh_forward(out, in, B * l->in_size);
		break;
	case DCC_OP_FLATTEN:
		flatten_forward(out, in, B, l->ic, l->ih, l->iw);
		break;
	case DCC_OP_LSTM:
		lstm_forward(out, &w->lw[i].lstm, in, l->p[0].w, l->p[1].w, l->p[2].w, l->p[3].w, B, l->steps, l->in,
			     l->hidden);
		break;
	case DCC_OP_ADD: {
		size_t m = B * l->out_size;
		memcpy(out, in, sizeof(float) * m);
		for (int k = 1; k < l->nin; k++) {
			const float *x = w->act[l->src[k]];
			for (size_t j = 0; j < m; j++)
				out[j] += x[j];
		}
		break;
	}
	case DCC_OP_MUL:
		mul_forward(out, in, w->act[l->src[1]], B, l->out_size, dcc_mul_gate(n, l));
		break;
	case DCC_OP_SUB: {
		const float *x = w->act[l->src[1]];
		for (size_t j = 0; j < B * l->out_size; j++)
			out[j] = in[j] - x[j];
		break;
	}
	case DCC_OP_DIV: {
		const float *x = w->act[l->src[1]];
		for (size_t j = 0; j < B * l->out_size; j++)
			out[j] = in[j] / x[j];
		break;
	}
	case DCC_OP_SLICE:
	case DCC_OP_SHUFFLE:
		channels_forward(out, in, l, B);
		break;
	case DCC_OP_CONCAT: {
		const float *ins[DCC_NODE_MAX_IN];
		int cs[DCC_NODE_MAX_IN];
		for (int k = 0; k < l->nin; k++) {
			ins[k] = w->act[l->src[k]];
			cs[k] = l->src[k] ? n->layers[l->src[k] - 1].oc : n->in_c;
		}
		concat_forward(out, ins, cs, l->nin, B, (size_t)l->ih * l->iw, l->hwc);
		break;
	}
	}
}

const float *dcc_net_forward(const dcc_net *n, dcc_work *w, const float *x, size_t B)
{
	if (n->in_c > 1 && dcc_act_hwc(n, 0)) {
		/* x is C, H, W (PyTorch's order); the convolution side is H, W, C */
		size_t C = (size_t)n->in_c, HW = (size_t)n->in_h * (size_t)n->in_w;
		for (size_t b = 0; b < B; b++)
			for (size_t c = 0; c < C; c++)
				for (size_t p = 0; p < HW; p++)
					w->act[0][b * C * HW + p * C + c] = x[b * C * HW + c * HW + p];
	} else {
		memcpy(w->act[0], x, sizeof(float) * B * value_size(n, 0));
	}
	for (size_t i = 0; i + 1 < n->nlayers; i++) {
		const dcc_layer *l = &n->layers[i];
		node_forward(n, l, w, i, B);
		if (w->qa && has_weights(l->op))
			dcc_fake_quant_fl(w->act[i + 1], B * l->out_size, w->qa, w->fla[i], &w->oa[i]);
	}
	return w->act[n->layers[n->nlayers - 1].src[0]];
}

int dcc_work_bn_batch(const dcc_work *w, size_t layer, const float **mean, const float **var, size_t *count)
{
	const layer_work *lw = &w->lw[layer];
	if (!lw->bn || !w->training)
		return -1;
	*mean = lw->bn, *var = lw->bn + lw->bn_c, *count = lw->bn_count;
	return 0;
}

float *dcc_work_grad(dcc_work *w, size_t layer, int k)
{
	return w->grad ? w->grad[4 * layer + (size_t)k] : NULL;
}

void dcc_work_zero_grad(dcc_work *w)
{
	if (w->grad_all)
		memset(w->grad_all, 0, w->grad_n * sizeof(float));
}


/* Where node input k's gradient goes: straight into its value when only
 * this node reads it, else into the scratch buffer, added by gv_add. */
static float *gv_dst(const dcc_net *n, dcc_work *w, int v)
{
	return !v ? NULL : n->layers[v - 1].nuse == 1 ? w->gv[v] : w->gscratch;
}

static void gv_add(const dcc_net *n, dcc_work *w, int v, size_t B)
{
	if (!v || n->layers[v - 1].nuse == 1)
		return;
	float *g = w->gv[v];
	size_t m = B * n->layers[v - 1].out_size;
	for (size_t j = 0; j < m; j++)
		g[j] += w->gscratch[j];
}

static void node_backward(const dcc_net *n, dcc_work *w, size_t ii, const float *dcur, size_t B)
{
	const dcc_layer *l = &n->layers[ii];
	float **G = w->grad;
	const float *in = w->act[l->src[0]], *out = w->act[ii + 1];
	float *din = gv_dst(n, w, l->src[0]); /* NULL: the input's gradient is never needed */
	float *dbias = l->bias ? G[4 * ii + 1] : w->lw[ii].dzb;
	bn_act act;
	if (ii > 0 && bn_fuses(n, w, ii - 1, &act)) /* the batchnorm before takes this node's gradient */
		return;
	switch (l->op) {
	case DCC_OP_FC:
		fc_backward(din, G[4 * ii], dbias, dcur, in, l->p[0].w, B, l->in, l->out);
		break;
	case DCC_OP_CONV2D:
		conv_backward(din, G[4 * ii], dbias, w->lw[ii].cols, w->lw[ii].wt, dcur, in, B, l->ic, l->ih, l->iw, &l->geo,
			      l->group, l->oc, l->oh, l->ow);
		break;
	case DCC_OP_BATCHNORM: {
		size_t C = l->p[0].n;
		const float *bn = w->lw[ii].bn;
		int f = bn_fuses(n, w, ii, &act);
		bn_backward(din, G[4 * ii], G[4 * ii + 1], f ? w->gv[ii + 2] : dcur, in, bn, bn + 2 * C, l->p[0].w,
			    B * l->out_size, C, f ? &act : NULL, f ? w->act[ii + 2] : NULL, w->bn_sync, w->bn_rank);
		break;
	}
	case DCC_OP_AFFINE:
		if (din)
			affine_backward(din, dcur, l->p[0].w, B * l->in_size, (size_t)l->ic,
					l->hwc ? 1 : (size_t)l->ih * (size_t)l->iw);
		break;
	case DCC_OP_MAXPOOL2D:
		if (din)
			maxpool_backward(din, dcur, w->lw[ii].argmax, B, l->in_size, l->out_size);
		break;
	case DCC_OP_RELU:
		if (din)
			relu_backward(din, dcur, out, B * l->in_size);
		break;
	case DCC_OP_CLIP:
		if (din)
			clip_backward(din, dcur, out, B * l->in_size, l->lo, l->hi);
		break;
	case DCC_OP_LEAKYRELU:
		if (din)
			leakyrelu_backward(din, dcur, in, B * l->in_size, l->alpha);
		break;
	case DCC_OP_HARDSIGMOID:
		if (din)
			hardsigmoid_backward(din, dcur, in, B * l->in_size, l->alpha, l->beta);
		break;
	case DCC_OP_HARDSWISH:
		if (din)
			hardswish_backward(din, dcur, in, B * l->in_size);
		break;
	case DCC_OP_SLICE:
	case DCC_OP_SHUFFLE:
		if (din)
			channels_backward(din, dcur, l, B);
		break;
	case DCC_OP_AVGPOOL2D:
		if (din)
			avgpool_backward(din, dcur, B, l->ic, l->ih, l->iw, l->k, l->stride, l->pad, l->incl, l->oh, l->ow);
		break;
	case DCC_OP_SIGMOID:
		if (din)
			sigmoid_backward(din, dcur, out, B * l->in_size);
		break;
	case DCC_OP_TANH:
		if (din)
			tanh_backward(din, dcur, out, B * l->in_size);
		break;
	case DCC_OP_FLATTEN:
		if (din)
			flatten_backward(din, dcur, B, l->ic, l->ih, l->iw);
		break;
	case DCC_OP_LSTM:
		lstm_backward(din, G[4 * ii], G[4 * ii + 1], G[4 * ii + 2], G[4 * ii + 3], &w->lw[ii].lstm, dcur, l->p[0].w,
			      l->p[1].w, B, l->steps, l->in, l->hidden);
		break;
	case DCC_OP_MUL: { /* each input's gradient in turn (x * x reads one value twice) */
		const float *b = w->act[l->src[1]];
		size_t C = dcc_mul_gate(n, l);
		float *da = gv_dst(n, w, l->src[0]);
		if (da)
			mul_backward(da, NULL, dcur, in, b, B, l->out_size, C);
		gv_add(n, w, l->src[0], B);
		float *db = gv_dst(n, w, l->src[1]);
		if (db)
			mul_backward(NULL, db, dcur, in, b, B, l->out_size, C);
		gv_add(n, w, l->src[1], B);
		return;
	}
	case DCC_OP_DIV: { /* d/da = 1 / b, d/db = -a / b^2, each input in turn (x / x reads one value twice) */
		const float *b = w->act[l->src[1]];
		for (int k = 0; k < 2; k++) {
			float *d = gv_dst(n, w, l->src[k]);
			for (size_t j = 0; d && j < B * l->out_size; j++)
				d[j] = k ? -dcur[j] * in[j] / (b[j] * b[j]) : dcur[j] / b[j];
			gv_add(n, w, l->src[k], B);
		}
		return;
	}
	case DCC_OP_SUB: /* d/da = 1, d/db = -1, each input in turn (a - a reads one value twice) */
		for (int k = 0; k < 2; k++) {
			float *d = gv_dst(n, w, l->src[k]);
			for (size_t j = 0; d && j < B * l->out_size; j++)
				d[j] = k ? -dcur[j] : dcur[j];
			gv_add(n, w, l->src[k], B);
		}
		return;
	case DCC_OP_ADD:
	case DCC_OP_CONCAT: {
		int cs[DCC_NODE_MAX_IN];
		for (int k = 0; k < l->nin; k++)
			cs[k] = l->src[k] ? n->layers[l->src[k] - 1].oc : n->in_c;
		for (int k = 0; k < l->nin; k++) {
			float *d = gv_dst(n, w, l->src[k]);
			if (d && l->op == DCC_OP_ADD)
				memcpy(d, dcur, sizeof(float) * B * l->out_size);
			else if (d)
				concat_backward(d, dcur, cs, l->nin, k, B, (size_t)l->ih * l->iw, l->hwc);
			gv_add(n, w, l->src[k], B);
		}
		return;
	}
	}
	gv_add(n, w, l->src[0], B);
}

void dcc_net_backward(const dcc_net *n, dcc_work *w, const float *dlogits, size_t B)
{
	if (!n->graph->chain) /* values read twice gather their gradients */
		for (size_t v = 1; v < n->nlayers; v++)
			if (n->layers[v - 1].nuse > 1)
				memset(w->gv[v], 0, sizeof(float) * B * n->layers[v - 1].out_size);
	int lv = n->layers[n->nlayers - 1].src[0];
	float *d = gv_dst(n, w, lv);
	if (d) {
		memcpy(d, dlogits, sizeof(float) * B * (size_t)n->classes);
		gv_add(n, w, lv, B);
	}
	for (size_t ii = n->nlayers - 1; ii-- > 0;) {
		const dcc_layer *l = &n->layers[ii];
		float *dcur = w->gv[ii + 1];
		if (w->qe && has_weights(l->op))
			dcc_fake_quant_fl(dcur, B * l->out_size, w->qe, w->fle[ii], &w->oe[ii]); /* the error reaching this layer */
		node_backward(n, w, ii, dcur, B);
	}
}
