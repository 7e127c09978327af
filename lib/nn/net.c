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
} layer_work;

struct dcc_work {
	size_t batch;
	float **act;      /* act[i]: input of layer i (B x in_size); act[nlayers-1] = logits */
	layer_work *lw;
	float *grad_a, *grad_b; /* ping-pong buffers for activation gradients */
	float **grad;           /* [layer * 4 + k]: parameter gradients (training) */
	float *grad_all;
	size_t grad_n;
	void **allocs;
	size_t nallocs;
	int qa, qe; /* fake-quantise activations and errors to this many bits (0: off) */
	size_t nl;
	int *fla, *fle;           /* per layer fl, DCC_FL_AUTO: from the values */
	dcc_quant_obs *oa, *oe;   /* per layer, what quantising saw */
};

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
	free(w->lw);
	free(w->grad);
	free(w);
}

int dcc_work_new(const dcc_net *n, size_t batch, int mode, dcc_work **out, dcc_error *err)
{
	int training = mode == DCC_WORK_TRAIN;
	dcc_work *w = calloc(1, sizeof(*w));
	*out = NULL;
	if (!w)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	w->batch = batch;
	w->nl = n->nlayers;
	w->act = calloc(n->nlayers + 1, sizeof(float *));
	w->lw = calloc(n->nlayers, sizeof(layer_work));
	w->allocs = calloc(8 * n->nlayers + 12, sizeof(void *));
	int ok = w->act && w->lw && w->allocs && (w->fla = walloc(w, n->nlayers * sizeof(int))) &&
		 (w->fle = walloc(w, n->nlayers * sizeof(int))) && (w->oa = walloc(w, n->nlayers * sizeof(dcc_quant_obs))) &&
		 (w->oe = walloc(w, n->nlayers * sizeof(dcc_quant_obs)));
	for (size_t i = 0; ok && i < n->nlayers; i++)
		w->fla[i] = w->fle[i] = DCC_FL_AUTO;
	size_t maxsz = 0;
	for (size_t i = 0; i < n->nlayers; i++) {
		maxsz = n->layers[i].in_size > maxsz ? n->layers[i].in_size : maxsz;
		maxsz = n->layers[i].out_size > maxsz ? n->layers[i].out_size : maxsz;
	}
	/* inference that keeps no layer's activations: two buffers in turn, so
	 * the memory does not grow with the depth */
	float *pp[2] = {NULL, NULL};
	if (ok && mode == DCC_WORK_EVAL)
		ok = (pp[0] = walloc(w, sizeof(float) * batch * maxsz)) && (pp[1] = walloc(w, sizeof(float) * batch * maxsz));
	for (size_t i = 0; ok && i < n->nlayers; i++) {
		const dcc_layer *l = &n->layers[i];
		ok = (w->act[i] = pp[0] ? pp[i & 1] : walloc(w, sizeof(float) * batch * l->in_size)) != NULL;
		layer_work *lw = &w->lw[i];
		if (ok && l->op == DCC_OP_CONV2D)
			ok = (lw->cols = walloc(w, sizeof(float) * batch * (size_t)l->oh * l->ow * l->ic * l->k * l->k)) &&
			     (lw->wt = walloc(w, sizeof(float) * 2 * (size_t)l->oc * l->ic * l->k * l->k));
		if (ok && l->op == DCC_OP_MAXPOOL2D)
			ok = (lw->argmax = walloc(w, sizeof(int32_t) * batch * l->out_size)) != NULL;
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
	if (ok)
		ok = (w->grad_a = walloc(w, sizeof(float) * batch * maxsz)) &&
		     (w->grad_b = walloc(w, sizeof(float) * batch * maxsz));
	if (ok && training) {
		/* One allocation for every parameter's gradient, sliced. */
		size_t total = 0;
		for (size_t i = 0; i < n->nlayers; i++)
			for (int k = 0; k < n->layers[i].nparam; k++)
				total += n->layers[i].p[k].n;
		ok = (w->grad = calloc(4 * n->nlayers, sizeof(float *))) &&
		     (w->grad_all = walloc(w, sizeof(float) * total));
		w->grad_n = total;
		size_t off = 0;
		for (size_t i = 0; ok && i < n->nlayers; i++)
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
	int spatial = n->nlayers && n->layers[0].op != DCC_OP_FC && n->layers[0].op != DCC_OP_LSTM;
	for (size_t j = 0; j < i && j < n->nlayers; j++)
		if (n->layers[j].op == DCC_OP_FLATTEN || n->layers[j].op == DCC_OP_FC || n->layers[j].op == DCC_OP_LSTM)
			spatial = 0;
	return spatial;
}

const float *dcc_net_forward(const dcc_net *n, dcc_work *w, const float *x, size_t B)
{
	const dcc_layer *l0 = &n->layers[0];
	if (n->in_c > 1 && dcc_act_hwc(n, 0)) {
		/* x is C, H, W (PyTorch's order); the convolution side is H, W, C */
		size_t C = (size_t)n->in_c, HW = (size_t)n->in_h * (size_t)n->in_w;
		for (size_t b = 0; b < B; b++)
			for (size_t c = 0; c < C; c++)
				for (size_t p = 0; p < HW; p++)
					w->act[0][b * C * HW + p * C + c] = x[b * C * HW + c * HW + p];
	} else {
		memcpy(w->act[0], x, sizeof(float) * B * l0->in_size);
	}
	for (size_t i = 0; i + 1 < n->nlayers; i++) {
		const dcc_layer *l = &n->layers[i];
		const float *in = w->act[i];
		float *out = w->act[i + 1];
		switch (l->op) {
		case DCC_OP_FC:
			fc_forward(out, in, l->p[0].w, l->p[1].w, B, l->in, l->out);
			break;
		case DCC_OP_CONV2D:
			conv_forward(out, w->lw[i].cols, w->lw[i].wt, in, l->p[0].w, l->p[1].w, B, l->ic, l->ih, l->iw, l->k, l->stride,
				     l->pad, l->oc, l->oh, l->ow);
			break;
		case DCC_OP_MAXPOOL2D:
			maxpool_forward(out, w->lw[i].argmax, in, B, l->ic, l->ih, l->iw, l->k, l->stride, l->oh, l->ow);
			break;
		case DCC_OP_RELU:
			relu_forward(out, in, B * l->in_size);
			break;
		case DCC_OP_AVGPOOL2D:
			avgpool_forward(out, in, B, l->ic, l->ih, l->iw, l->k, l->stride, l->oh, l->ow);
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
			lstm_forward(out, &w->lw[i].lstm, in, l->p[0].w, l->p[1].w, l->p[2].w, l->p[3].w, B, l->steps,
				     l->in, l->hidden);
			break;
		}
		if (w->qa && (l->op == DCC_OP_FC || l->op == DCC_OP_CONV2D || l->op == DCC_OP_LSTM))
			dcc_fake_quant_fl(out, B * l->out_size, w->qa, w->fla[i], &w->oa[i]);
	}
	return w->act[n->nlayers - 1];
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


void dcc_net_backward(const dcc_net *n, dcc_work *w, const float *dlogits, size_t B)
{
	float **G = w->grad;
	float *dcur = w->grad_a, *dnext = w->grad_b;
	memcpy(dcur, dlogits, sizeof(float) * B * (size_t)n->classes);
	for (size_t ii = n->nlayers - 1; ii-- > 0;) {
		const dcc_layer *l = &n->layers[ii];
		const float *in = w->act[ii], *out = w->act[ii + 1];
		/* The first layer's input gradient is never needed. */
		float *din = ii > 0 ? dnext : NULL;
		if (w->qe && (l->op == DCC_OP_FC || l->op == DCC_OP_CONV2D || l->op == DCC_OP_LSTM))
			dcc_fake_quant_fl(dcur, B * l->out_size, w->qe, w->fle[ii], &w->oe[ii]); /* the error reaching this layer */
		switch (l->op) {
		case DCC_OP_FC:
			fc_backward(din, G[4 * ii], G[4 * ii + 1], dcur, in, l->p[0].w, B, l->in, l->out);
			break;
		case DCC_OP_CONV2D:
			conv_backward(din, G[4 * ii], G[4 * ii + 1], w->lw[ii].cols, w->lw[ii].wt, dcur, l->p[0].w, B, l->ic, l->ih, l->iw,
				      l->k, l->stride, l->pad, l->oc, l->oh, l->ow);
			break;
		case DCC_OP_MAXPOOL2D:
			if (din)
				maxpool_backward(din, dcur, w->lw[ii].argmax, B, l->in_size, l->out_size);
			break;
		case DCC_OP_RELU:
			if (din)
				relu_backward(din, dcur, out, B * l->in_size);
			break;
		case DCC_OP_AVGPOOL2D:
			if (din)
				avgpool_backward(din, dcur, B, l->ic, l->ih, l->iw, l->k, l->stride, l->oh, l->ow);
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
		}
		float *t = dcur;
		dcur = dnext;
		dnext = t;
	}
}
