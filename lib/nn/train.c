/* train.c: minibatch SGD with momentum, weight decay and a learning-rate
 * schedule (PyTorch's SGD update rule), keeping pruned weights exactly zero;
 * and evaluation on the test set. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <unistd.h>
#include <cblas.h>

#include "../core/internal.h"
#include "../dcc_nn.h"
#include "layers.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void dcc_train_defaults(const char *netname, dcc_train_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->epochs = 20;
	o->batch = 64;
	o->lr = 0.05;
	o->momentum = 0.9;
	o->weight_decay = 5e-4;
	o->schedule = DCC_LR_COSINE;
	o->step_gamma = 0.1;
	o->step_every = 10;
	o->seed = 1;
	o->master_fixed = 1;
	o->quant_window = 4;
	if (netname && (!strcmp(netname, "lenet5") || !strncmp(netname, "cnn:", 4))) {
		o->epochs = 15;
		o->lr = 0.02;
	} else if (netname && !strcmp(netname, "lstm")) {
		o->epochs = 15;
		o->lr = 0.1;
		o->weight_decay = 1e-4;
	}
}

static double lr_at(const dcc_train_opts *o, int epoch, double frac)
{
	int total = o->schedule_epochs > 0 ? o->schedule_epochs : o->epochs;
	epoch += o->epoch_offset;
	switch (o->schedule) {
	case DCC_LR_STEP:
		return o->lr * pow(o->step_gamma, (double)(epoch / (o->step_every > 0 ? o->step_every : 1)));
	case DCC_LR_COSINE:
		return o->lr * 0.5 * (1.0 + cos(3.141592653589793 * ((double)epoch + frac) / (double)total));
	}
	return o->lr;
}

/* Zeroes masked weights and their momentum: a pruned weight stays pruned. */
static void apply_mask(dcc_param *p)
{
	if (!p->mask)
		return;
	for (size_t i = 0; i < p->n; i++)
		if (!((p->mask[i / 8] >> (i % 8)) & 1)) {
			p->w[i] = 0.0f;
			if (p->v)
				p->v[i] = 0.0f;
		}
}

/* ---- --augment ---- */

static uint64_t mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* The draws in torchvision's order: RandomCrop's top and left offsets
 * into the padded image, then RandomHorizontalFlip's coin. */
void dcc_augment(const dcc_train_opts *o, int epoch, size_t sample, int C, int H, int W, const float *fill,
		 const float *in, float *out)
{
	dcc_rng r;
	dcc_rng_seed(&r, mix(mix(o->seed + 0x9E3779B97F4A7C15ull * (uint64_t)(epoch + 1)) + (uint64_t)sample));
	int P = o->augment_crop, dy = 0, dx = 0, flip = 0;
	if (P) {
		dy = (int)(dcc_rng_next(&r) % (uint64_t)(2 * P + 1)) - P;
		dx = (int)(dcc_rng_next(&r) % (uint64_t)(2 * P + 1)) - P;
	}
	if (o->augment_flip)
		flip = (int)(dcc_rng_next(&r) >> 63);
	for (int ch = 0; ch < C; ch++)
		for (int y = 0; y < H; y++) {
			size_t row = ((size_t)ch * (size_t)H + (size_t)y) * (size_t)W;
			int sy = y + dy;
			for (int x = 0; x < W; x++) {
				int sx = (flip ? W - 1 - x : x) + dx;
				out[row + (size_t)x] = sy >= 0 && sy < H && sx >= 0 && sx < W
							       ? in[((size_t)ch * (size_t)H + (size_t)sy) * (size_t)W + (size_t)sx]
							       : fill[row + (size_t)x];
			}
		}
}

const char *dcc_augment_text(const dcc_train_opts *o, char *buf, size_t cap)
{
	if (o->augment_flip && o->augment_crop)
		snprintf(buf, cap, "flip,crop:%d", o->augment_crop);
	else if (o->augment_crop)
		snprintf(buf, cap, "crop:%d", o->augment_crop);
	else
		snprintf(buf, cap, "%s", o->augment_flip ? "flip" : "none");
	return buf;
}

int dcc_augment_parse(const char *s, dcc_train_opts *o, dcc_error *err)
{
	o->augment_flip = o->augment_crop = 0;
	if (!strcmp(s, "none"))
		return 0;
	if (!*s)
		return dcc_fail(err, DCC_E_ARG, "empty (flip, crop:P, flip,crop:P or none)");
	const char *p = s;
	while (*p) {
		size_t len = strcspn(p, ",");
		if (len == 4 && !strncmp(p, "flip", 4) && !o->augment_flip) {
			o->augment_flip = 1;
		} else if (len > 5 && !strncmp(p, "crop:", 5) && !o->augment_crop) {
			char *end;
			long v = strtol(p + 5, &end, 10);
			if (end != p + len || v < 1 || v > 64)
				return dcc_fail(err, DCC_E_ARG, "'%.*s' is not crop:P with P in 1..64 pixels", (int)len, p);
			o->augment_crop = (int)v;
		} else {
			return dcc_fail(err, DCC_E_ARG, "'%s' is not flip, crop:P, flip,crop:P or none", s);
		}
		p += len;
		if (*p == ',' && !*++p)
			return dcc_fail(err, DCC_E_ARG, "'%s' ends in a comma", s);
	}
	return 0;
}

/* ---- training ---- */

typedef struct worker {
	dcc_work *w;
	float *x, *dl, *t; /* t: the batch's float targets */
	float *raw;        /* --augment: an image before its move */
	int *y;            /* its class labels */
	double loss;
} worker;

typedef struct train_ctx {
	dcc_net *n;
	const dcc_dataset *d;
	const size_t *perm;
	size_t b0, bs, insz;
	int nthreads;
	worker *wk;
	const dcc_train_opts *o;
	int epoch;         /* of the schedule, for --augment's draws */
	const float *fill; /* --augment's uncovered pixel, per element; NULL: no --augment */
} train_ctx;

/* Thread t's share of the batch: a contiguous slice, the same for a given
 * thread count, so results repeat. */
static void slice(size_t bs, int nthreads, int t, size_t *lo, size_t *hi)
{
	*lo = bs * (size_t)t / (size_t)nthreads;
	*hi = bs * (size_t)(t + 1) / (size_t)nthreads;
}

static void train_step(void *arg, int t)
{
	train_ctx *c = arg;
	worker *k = &c->wk[t];
	size_t lo, hi;
	slice(c->bs, c->nthreads, t, &lo, &hi);
	size_t m = hi - lo;
	dcc_work_zero_grad(k->w);
	k->loss = 0;
	if (!m)
		return;
	const dcc_dataset *d = c->d;
	int K = c->n->classes, tg = d->labels == DCC_LABELS_TARGET;
	for (size_t i = 0; i < m; i++) {
		size_t src = c->perm[c->b0 + lo + i];
		float *xi = k->x + i * c->insz;
		dcc_data_x(d, &d->train, src, 1, &c->n->norm, c->fill ? k->raw : xi);
		if (c->fill)
			dcc_augment(c->o, c->epoch, src, d->c, d->h, d->w, c->fill, k->raw, xi);
		if (tg)
			dcc_data_targets(d, &d->train, src, k->t + i * (size_t)K);
		else
			k->y[i] = dcc_data_class(&d->train, src);
	}
	const float *logits = dcc_net_forward(c->n, k->w, k->x, m);
	k->loss = dcc_head_loss(c->n->head, k->dl, logits, k->y, tg ? k->t : NULL, m, K, (double)c->bs);
	dcc_net_backward(c->n, k->w, k->dl, m);
}

int dcc_net_fits(const dcc_net *n, const dcc_dataset *d, int labels, dcc_error *err)
{
	if (d->c != n->in_c || d->h != n->in_h || d->w != n->in_w)
		return dcc_fail(err, DCC_E_SHAPE, "the network takes %dx%dx%d inputs; the data's samples are %dx%dx%d",
				n->in_c, n->in_h, n->in_w, d->c, d->h, d->w);
	if (!labels)
		return 0;
	if (d->labels == DCC_LABELS_NONE)
		return dcc_fail(err, DCC_E_FORMAT, "the data has no labels");
	const char *head = dcc_op_name(n->head);
	if (n->head == DCC_OP_MSE && d->labels != DCC_LABELS_TARGET)
		return dcc_fail(err, DCC_E_FORMAT, "the network's head is mse; the data has class labels, not float targets");
	if (n->head == DCC_OP_SOFTMAX_CE && d->labels != DCC_LABELS_CLASS)
		return dcc_fail(err, DCC_E_FORMAT, "the network's head is softmax_ce; the data has float targets, not classes");
	if (d->labels == DCC_LABELS_TARGET && d->classes != n->classes)
		return dcc_fail(err, DCC_E_SHAPE, "the network (%s) has %d outputs; the data's targets are %d wide", head,
				n->classes, d->classes);
	if (d->labels == DCC_LABELS_CLASS && n->head == DCC_OP_BCE && !(n->classes == 1 ? d->classes <= 2 : d->classes <= n->classes))
		return dcc_fail(err, DCC_E_SHAPE, "the network (bce) has %d output%s; the data has %d classes", n->classes,
				n->classes == 1 ? "" : "s", d->classes);
	if (d->labels == DCC_LABELS_CLASS && n->head == DCC_OP_SOFTMAX_CE && d->classes > n->classes)
		return dcc_fail(err, DCC_E_SHAPE, "the network has %d classes; the data has %d", n->classes, d->classes);
	return 0;
}

/* ---- the SGD update: each thread a slice of every parameter ---- */

typedef struct update_ctx {
	dcc_net *n;
	worker *wk;
	int used;      /* the workers that hold gradients */
	int32_t **m32; /* --quant's fixed-point masters, or NULL */
	const int *m32_fl;
	float mom, wd, lr;
	int nthreads;
} update_ctx;

/* The workers' gradients of one parameter's slice summed into the first's. */
DCC_HOT
static void grad_sum(float *restrict g, const float *restrict gt, size_t lo, size_t hi)
{
	for (size_t j = lo; j < hi; j++)
		g[j] += gt[j];
}

/* SGD with momentum and weight decay over w[lo..hi), as PyTorch:
 * v = mom v + (g + wd w), w -= lr v.  The scalars are arguments and the
 * arrays restrict, so the loop vectorises (the same operations in the
 * same order, so the same bytes). */
DCC_HOT
static void sgd_step(float *restrict w, float *restrict v, const float *restrict g, size_t lo, size_t hi,
		     float mom, float wd, float lr)
{
	for (size_t j = lo; j < hi; j++) {
		float gj = g[j] + wd * w[j];
		v[j] = mom * v[j] + gj;
		w[j] -= lr * v[j];
	}
}

/* Element j's gradient is summed over the workers in thread order and
 * updated alone, so any slicing gives the same bytes. */
static void update_part(void *arg, int t)
{
	const update_ctx *u = arg;
	dcc_net *n = u->n;
	const float mom = u->mom, wd = u->wd, lr = u->lr;
	for (size_t i = 0; i < n->nlayers; i++)
		for (int k = 0; k < n->layers[i].nparam; k++) {
			dcc_param *p = &n->layers[i].p[k];
			if (p->is_buffer) /* running statistics (bn_update's), constants */
				continue;
			size_t lo, hi;
			slice(p->n, u->nthreads, t, &lo, &hi);
			float *g = dcc_work_grad(u->wk[0].w, i, k);
			for (int w = 1; w < u->used; w++)
				grad_sum(g, dcc_work_grad(u->wk[w].w, i, k), lo, hi);
			int32_t *mi = u->m32 ? u->m32[i * 4 + (size_t)k] : NULL;
			if (!mi) {
				sgd_step(p->w, p->v, g, lo, hi, mom, wd, lr);
			} else {
				/* powers of two: the products are exact, as ldexp */
				double up = ldexp(1.0, u->m32_fl[i * 4 + (size_t)k]), down = 1 / up;
				for (size_t j = lo; j < hi; j++) {
					float gj = g[j] + wd * p->w[j];
					p->v[j] = mom * p->v[j] + gj;
					/* the update, rounded to the master's grid, saturating */
					double v = (double)mi[j] + nearbyint(-(double)lr * p->v[j] * up);
					mi[j] = (int32_t)(v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : v);
					p->w[j] = (float)((double)mi[j] * down);
				}
			}
			for (size_t j = lo; p->mask && j < hi; j++) /* a pruned weight stays pruned */
				if (!((p->mask[j / 8] >> (j % 8)) & 1)) {
					p->w[j] = 0.0f, p->v[j] = 0.0f;
					if (mi)
						mi[j] = 0;
				}
		}
}

/* Each batchnorm layer's running statistics after a batch, as PyTorch:
 * running = (1 - momentum) running + momentum batch, the variance
 * unbiased.  The workers normalised by the whole batch's statistics
 * (bn_sync), so worker 0's are the batch's; the count is all of theirs. */
static void bn_update(dcc_net *n, worker *wk, int used)
{
	for (size_t i = 0; i < n->nlayers; i++) {
		dcc_layer *l = &n->layers[i];
		if (l->op != DCC_OP_BATCHNORM)
			continue;
		const float *mu = NULL, *var = NULL, *m1, *v1;
		double N = 0;
		for (int t = 0; t < used; t++) {
			size_t cnt;
			if (dcc_work_bn_batch(wk[t].w, i, &m1, &v1, &cnt))
				continue;
			N += (double)cnt;
			if (!mu)
				mu = m1, var = v1;
		}
		if (N < 2)
			continue;
		for (size_t c = 0; c < l->p[0].n; c++) {
			double mean = mu[c], v = (double)var[c] * N / (N - 1);
			double m = l->momentum;
			l->p[2].w[c] = (float)((1 - m) * l->p[2].w[c] + m * mean);
			l->p[3].w[c] = (float)((1 - m) * l->p[3].w[c] + m * v);
		}
	}
}

int dcc_train(dcc_net *n, const dcc_dataset *d, const dcc_train_opts *o, dcc_error *err)
{
	size_t insz = n->layers[0].in_size;
	int rc0 = dcc_net_fits(n, d, 1, err);
	if (rc0)
		return rc0;
	if (!d->train.n)
		return dcc_fail(err, DCC_E_FORMAT, "the data has no training samples");
	if (o->batch < 1 || o->epochs < 0)
		return dcc_fail(err, DCC_E_ARG, "batch must be >= 1 and epochs >= 0");
	for (size_t i = 0; i < n->nlayers; i++)
		for (int k = 0; k < n->layers[i].nparam; k++) {
			dcc_param *p = &n->layers[i].p[k];
			if (p->owned && !o->after_step) /* only a hook can tie them back */
				return dcc_fail(err, DCC_E_UNSUPPORTED, "'%s' is shared or fixed point; dcc train updates float "
						"weights (fine-tune a shared model with dcc share --finetune)", p->name);
			for (size_t j = 0; j < p->n; j++) /* not a divergence: the model came so */
				if (!isfinite(p->w[j]))
					return dcc_fail(err, DCC_E_FORMAT, "'%s' holds %s at %zu before training: the model's "
							"weights are not finite", p->name, isnan(p->w[j]) ? "NaN" : "infinity", j);
		}
	int aug = o->augment_flip || o->augment_crop;
	if (aug && (d->h < 2 || d->w < 2))
		return dcc_fail(err, DCC_E_SHAPE, "--augment moves images; the data's samples are %dx%dx%d", d->c, d->h, d->w);
	if (o->augment_crop >= d->h || o->augment_crop >= d->w)
		return dcc_fail(err, DCC_E_ARG, "--augment crop:%d moves further than the %dx%d images", o->augment_crop,
				d->h, d->w);
	size_t N = o->limit && o->limit < d->train.n ? o->limit : d->train.n, B = o->batch;
	int nt = o->threads > 0 ? o->threads : dcc_default_threads();
	if ((size_t)nt > B)
		nt = (int)B;
	if (nt > 64)
		nt = 64;
	int nup = nt, has_bn = 0; /* the update's threads */
	for (size_t i = 0; i < n->nlayers; i++) /* batch statistics are the whole batch's, as PyTorch's */
		has_bn |= n->layers[i].op == DCC_OP_BATCHNORM;
	bn_sync sync = {.slot = NULL}; /* batchnorm's workers meet here: sync.n of them */
	worker wk[64];
	memset(wk, 0, sizeof(wk));
	size_t *perm = malloc(N * sizeof(size_t));
	int rc = perm ? 0 : dcc_fail(err, DCC_E_NOMEM, "out of memory");
	for (int t = 0; t < nt && !rc; t++) {
		size_t share = (B + (size_t)nt - 1) / (size_t)nt;
		rc = dcc_work_new(n, share, DCC_WORK_TRAIN, &wk[t].w, err);
		if (!rc && (!(wk[t].x = malloc(share * insz * sizeof(float))) ||
			    !(wk[t].dl = malloc(share * (size_t)n->classes * sizeof(float))) ||
			    !(wk[t].y = malloc(share * sizeof(int))) || !(wk[t].t = malloc(share * (size_t)n->classes * sizeof(float))) ||
			    (aug && !(wk[t].raw = malloc(insz * sizeof(float))))))
			rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	float *fill = aug && !rc ? malloc(insz * sizeof(float)) : NULL;
	if (aug && !rc && !fill)
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	for (size_t e = 0; fill && e < insz; e++) { /* the raw value 0, normalised as the inputs are */
		const dcc_norm *nm = &n->norm;
		size_t ch = nm->n ? dcc_norm_channel(nm, e, d->c, d->h, d->w) : 0;
		fill[e] = nm->n ? (float)((0 - nm->mean[ch]) / nm->std[ch]) : 0.0f;
	}
	for (size_t i = 0; !rc && i < n->nlayers; i++)
		for (int k = 0; k < n->layers[i].nparam && !rc; k++) {
			dcc_param *p = &n->layers[i].p[k];
			free(p->v);
			if (!(p->v = calloc(p->n, sizeof(float))))
				rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
			else
				apply_mask(p);
		}
	int blas = openblas_get_num_threads();
	if (nt > 1)
		openblas_set_num_threads(1); /* the parallelism is over the batch */
	dcc_rng r;
	dcc_rng_seed(&r, o->seed);
	for (size_t i = 0; !rc && i < N; i++)
		perm[i] = i;
	train_ctx c = {n, d, perm, 0, 0, insz, nt, wk, o, 0, fill};
	/* the master weights while a batch runs on their quantised copies */
	float **master = calloc(n->nlayers * 4 + 1, sizeof(float *));
	if (!master)
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	for (size_t i = 0; !rc && o->quant_w && i < n->nlayers; i++)
		for (int k = 0; k < n->layers[i].nparam; k++)
			if (n->layers[i].p[k].is_weight && !(master[i * 4 + (size_t)k] = malloc(n->layers[i].p[k].n * sizeof(float))))
				rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	/* the activations' and errors' formats: a window of the fl each recent
	 * batch needed, per layer (INT_MAX: no batch yet) */
	size_t nl = n->nlayers, W = (size_t)1 << (o->quant_window > 0 ? (o->quant_window < 12 ? o->quant_window : 12) : 0);
	int *ring = malloc(2 * nl * W * sizeof(int)), *fla = malloc(2 * nl * sizeof(int)), *fle = fla ? fla + nl : NULL;
	dcc_quant_epoch *qep = calloc(nl ? nl : 1, sizeof(*qep));
	size_t ring_pos = 0;
	if (!ring || !fla || !qep)
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	for (size_t i = 0; ring && i < 2 * nl * W; i++)
		ring[i] = INT_MAX;
	/* 32-bit fixed-point masters (--quant): int32 values at a per-tensor fl,
	 * set when quantised training starts */
	int32_t **m32 = calloc(n->nlayers * 4 + 1, sizeof(int32_t *));
	int *m32_fl = calloc(n->nlayers * 4 + 1, sizeof(int));
	if (!m32 || !m32_fl)
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	for (int ep = 0; ep < o->epochs && !rc; ep++) {
		int quant = (o->quant_w || o->quant_a || o->quant_e) && ep + o->epoch_offset >= o->quant_from;
		for (size_t i = 0; quant && o->master_fixed && i < n->nlayers && !rc; i++)
			for (int k = 0; k < n->layers[i].nparam && !rc; k++) {
				dcc_param *p = &n->layers[i].p[k];
				size_t s = i * 4 + (size_t)k;
				if (m32[s])
					continue;
				if (!(m32[s] = malloc((p->n ? p->n : 1) * sizeof(int32_t)))) {
					rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
					break;
				}
				float mx = dcc_max_abs(p->w, p->n);
				/* |w| up to twice the largest now fits 32 bits */
				int fl = mx > 0 ? 30 - (int)ceilf(log2f(mx)) : 24;
				fl = fl > 60 ? 60 : fl;
				m32_fl[s] = fl;
				for (size_t j = 0; j < p->n; j++) {
					m32[s][j] = (int32_t)llrint(ldexp((double)p->w[j], fl));
					p->w[j] = (float)ldexp((double)m32[s][j], -fl);
				}
			}
		for (int t = 0; t < nt; t++)
			dcc_work_set_quant(wk[t].w, quant ? o->quant_a : 0, quant ? o->quant_e : 0);
		memset(qep, 0, nl * sizeof(*qep));
		for (size_t i = N - 1; i > 0; i--) { /* Fisher-Yates */
			size_t j = (size_t)(dcc_rng_next(&r) % (i + 1)), t = perm[i];
			perm[i] = perm[j];
			perm[j] = t;
		}
		c.epoch = ep + o->epoch_offset;
		double t0 = now_s(), loss_sum = 0;
		size_t seen = 0;
		for (size_t b0 = 0; b0 < N; b0 += B) {
			c.b0 = b0;
			c.bs = N - b0 < B ? N - b0 : B;
			int used = (size_t)nt < c.bs ? nt : (int)c.bs;
			c.nthreads = used;
			if (quant) { /* this batch's formats from the window */
				for (size_t i = 0; i < nl; i++) {
					int a = INT_MAX, e = INT_MAX;
					for (size_t k = 0; k < W; k++) {
						a = ring[(i * 2) * W + k] < a ? ring[(i * 2) * W + k] : a;
						e = ring[(i * 2 + 1) * W + k] < e ? ring[(i * 2 + 1) * W + k] : e;
					}
					fla[i] = a == INT_MAX ? DCC_FL_AUTO : a;
					fle[i] = e == INT_MAX ? DCC_FL_AUTO : e;
				}
				for (int t = 0; t < used; t++) {
					dcc_work_set_quant_formats(wk[t].w, fla, fle);
					dcc_work_quant_reset(wk[t].w);
				}
			}
			if (quant && o->quant_w) /* compute on quantised weights */
				for (size_t i = 0; i < n->nlayers; i++)
					for (int k = 0; k < n->layers[i].nparam; k++)
						if (master[i * 4 + (size_t)k]) {
							dcc_param *p = &n->layers[i].p[k];
							memcpy(master[i * 4 + (size_t)k], p->w, p->n * sizeof(float));
							dcc_fake_quant(p->w, p->n, o->quant_w);
						}
			if (has_bn && used > 1 && sync.n != used) {
				bn_sync_free(&sync);
				if (bn_sync_init(&sync, used, BN_SYNC_CAP)) {
					rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
					break;
				}
				for (int t = 0; t < used; t++)
					dcc_work_set_bn_sync(wk[t].w, &sync, t);
			}
			if (has_bn && used > 1) {
				if (dcc_parallel_gang(used, train_step, &c)) {
					rc = dcc_fail(err, DCC_E_NOMEM, "could not start %d threads (try --threads 1)", used);
					break;
				}
			} else {
				for (int t = 0; has_bn && t < used; t++)
					dcc_work_set_bn_sync(wk[t].w, NULL, 0);
				sync.n = 0;
				dcc_parallel(used, train_step, &c);
			}
			if (quant) { /* what the batch needed goes into the window */
				for (size_t i = 0; i < nl; i++)
					for (int e = 0; e < 2; e++) {
						dcc_quant_obs sum = {0};
						for (int t = 0; t < used; t++) {
							const dcc_quant_obs *q = &dcc_work_quant_obs(wk[t].w, e)[i];
							sum.max = q->max > sum.max ? q->max : sum.max;
							sum.n += q->n, sum.overflow += q->overflow, sum.underflow += q->underflow;
							sum.fl = t == 0 ? q->fl : sum.fl;
						}
						if (!sum.n)
							continue;
						int need = dcc_fl_for_max(sum.max, e ? o->quant_e : o->quant_a);
						ring[(i * 2 + (size_t)e) * W + ring_pos] = need == DCC_FL_AUTO ? INT_MAX : need;
						dcc_quant_obs *acc = e ? &qep[i].e : &qep[i].a;
						acc->max = sum.max > acc->max ? sum.max : acc->max;
						acc->n += sum.n, acc->overflow += sum.overflow, acc->underflow += sum.underflow;
						acc->fl = sum.fl;
					}
				ring_pos = (ring_pos + 1) % W;
			}
			if (quant && o->quant_w) /* the updates go to the master copy */
				for (size_t i = 0; i < n->nlayers; i++)
					for (int k = 0; k < n->layers[i].nparam; k++)
						if (master[i * 4 + (size_t)k])
							memcpy(n->layers[i].p[k].w, master[i * 4 + (size_t)k],
							       n->layers[i].p[k].n * sizeof(float));
			double loss = 0;
			for (int t = 0; t < used; t++)
				loss += wk[t].loss;
			if (!isfinite(loss)) {
				rc = dcc_fail(err, DCC_E_RANGE, "training diverged in epoch %d (loss %g): lower --lr", ep + 1, loss);
				break;
			}
			double lr = lr_at(o, ep, (double)b0 / (double)N);
			update_ctx uc = {n, wk, used, quant ? m32 : NULL, m32_fl, (float)o->momentum,
					 (float)o->weight_decay, (float)lr, nup};
			dcc_parallel(nup, update_part, &uc);
			bn_update(n, wk, used);
			if (o->after_step)
				o->after_step(o->step_ctx, n);
			loss_sum += loss;
			seen += c.bs;
			if (o->progress) {
				double el = now_s() - t0;
				dcc_train_status s = {ep + 1 + o->epoch_offset,
						      o->schedule_epochs > 0 ? o->schedule_epochs : o->epochs, seen, N,
						      loss_sum / (double)seen, lr,
						      el > 0 ? (double)seen / el : 0, seen == N, NULL, 0};
				if (quant && seen == N) { /* the epoch's formats, per quantised layer */
					size_t nq = 0;
					for (size_t i = 0; i < nl; i++) {
						const dcc_layer *l = &n->layers[i];
						if (l->op != DCC_OP_FC && l->op != DCC_OP_CONV2D && l->op != DCC_OP_LSTM)
							continue;
						dcc_quant_epoch q = qep[i];
						q.layer = l->name;
						q.fl_w = o->quant_w ? dcc_fl_for_max(dcc_max_abs(l->p[0].w, l->p[0].n), o->quant_w)
								    : DCC_FL_AUTO;
						qep[nq++] = q;
					}
					s.quant = qep, s.nquant = nq;
				}
				o->progress(o->ctx, &s);
			}
		}
	}
	openblas_set_num_threads(blas);
	bn_sync_free(&sync);
	free(ring), free(fla), free(qep);
	for (size_t i = 0; m32 && i < n->nlayers * 4; i++)
		free(m32[i]);
	free(m32), free(m32_fl);
	for (size_t i = 0; master && i < n->nlayers * 4; i++)
		free(master[i]);
	free(master);
	free(perm), free(fill);
	for (int t = 0; t < nt; t++) {
		dcc_work_free(wk[t].w);
		free(wk[t].x), free(wk[t].dl), free(wk[t].y), free(wk[t].t), free(wk[t].raw);
	}
	for (size_t i = 0; i < n->nlayers; i++)
		for (int k = 0; k < n->layers[i].nparam; k++) {
			free(n->layers[i].p[k].v);
			n->layers[i].p[k].v = NULL;
		}
	return rc;
}

void dcc_eval_result_free(dcc_eval_result *r)
{
	if (!r)
		return;
	free(r->confusion);
	free(r->logits);
	r->confusion = NULL;
	r->logits = NULL;
}

typedef struct eval_ctx {
	const dcc_net *n;
	const dcc_dataset *d;
	const dcc_split *s;
	size_t N, insz;
	int nthreads, labels;
	dcc_work *w[64];
	float *x[64], *t[64];
	int *y[64];
	double *z[64];
	dcc_metrics m[64];
	double loss[64];
	float *logits;
	int failed;
} eval_ctx;

/* Thread t evaluates chunks t, t + nthreads, ... of 256 samples. */
static void eval_part(void *arg, int t)
{
	eval_ctx *c = arg;
	const dcc_dataset *d = c->d;
	size_t C = (size_t)c->n->classes, B = 256;
	int tg = d->labels == DCC_LABELS_TARGET;
	for (size_t b0 = (size_t)t * B; b0 < c->N; b0 += B * (size_t)c->nthreads) {
		size_t bs = c->N - b0 < B ? c->N - b0 : B;
		dcc_data_x(d, c->s, b0, bs, &c->n->norm, c->x[t]);
		const float *z = dcc_net_forward(c->n, c->w[t], c->x[t], bs);
		if (c->labels) {
			for (size_t i = 0; i < bs; i++)
				if (tg)
					dcc_data_targets(d, c->s, b0 + i, c->t[t] + i * C);
				else
					c->y[t][i] = dcc_data_class(c->s, b0 + i);
			c->loss[t] += dcc_head_loss(c->n->head, NULL, z, c->y[t], tg ? c->t[t] : NULL, bs, (int)C, 1.0);
			for (size_t k = 0; k < bs * C; k++)
				c->z[t][k] = z[k];
			dcc_metrics_add(&c->m[t], c->z[t], c->y[t], tg ? c->t[t] : NULL, bs);
		}
		if (c->logits)
			memcpy(c->logits + b0 * C, z, bs * C * sizeof(float));
	}
}

int dcc_eval_split(const dcc_net *n, const dcc_dataset *d, const dcc_split *s, size_t limit, int want_logits,
		   int threads, dcc_eval_result *r, dcc_error *err)
{
	memset(r, 0, sizeof(*r));
	size_t insz = n->layers[0].in_size, C = (size_t)n->classes;
	int labels = s->y != NULL;
	int rc = dcc_net_fits(n, d, labels, err);
	if (rc)
		return rc;
	eval_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	c->n = n, c->d = d, c->s = s, c->insz = insz, c->labels = labels;
	c->N = limit && limit < s->n ? limit : s->n;
	c->nthreads = threads > 0 ? threads : dcc_default_threads();
	if (c->nthreads > 64)
		c->nthreads = 64;
	for (int t = 0; t < c->nthreads && !rc; t++) {
		rc = dcc_work_new(n, 256, DCC_WORK_EVAL, &c->w[t], err);
		if (!rc && (!(c->x[t] = malloc(256 * insz * sizeof(float))) || !(c->t[t] = malloc(256 * C * sizeof(float))) ||
			    !(c->y[t] = malloc(256 * sizeof(int))) || !(c->z[t] = malloc(256 * C * sizeof(double)))))
			rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
		if (!rc)
			rc = dcc_metrics_init(&c->m[t], n->head, (int)C, err);
	}
	dcc_metrics all;
	int have_all = !rc && !dcc_metrics_init(&all, n->head, (int)C, err);
	if (!rc && !have_all)
		rc = DCC_E_NOMEM;
	if (!rc && want_logits && !(c->logits = malloc((c->N ? c->N : 1) * C * sizeof(float))))
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	if (!rc) {
		int blas = openblas_get_num_threads();
		openblas_set_num_threads(1);
		double t0 = now_s();
		dcc_parallel(c->nthreads, eval_part, c);
		double el = now_s() - t0;
		openblas_set_num_threads(blas);
		double loss = 0;
		for (int t = 0; t < c->nthreads; t++) {
			loss += c->loss[t];
			dcc_metrics_merge(&all, &c->m[t]);
		}
		dcc_metrics_finish(&all, r);
		r->n = c->N;
		r->classes = n->classes;
		r->labelled = labels;
		r->confusion = all.confusion;
		all.confusion = NULL;
		r->loss = c->N && labels ? loss / (double)c->N : NAN;
		r->images_per_s = el > 0 ? (double)c->N / el : 0;
		r->logits = c->logits;
		c->logits = NULL;
	}
	if (have_all)
		dcc_metrics_free(&all);
	for (int t = 0; t < c->nthreads; t++) {
		dcc_work_free(c->w[t]);
		free(c->x[t]), free(c->t[t]), free(c->y[t]), free(c->z[t]);
		dcc_metrics_free(&c->m[t]);
	}
	free(c->logits);
	free(c);
	return rc;
}

int dcc_eval(const dcc_net *n, const dcc_dataset *d, size_t limit, int want_logits, int threads,
	     dcc_eval_result *r, dcc_error *err)
{
	return dcc_eval_split(n, d, &d->test, limit, want_logits, threads, r, err);
}

int dcc_score_accuracy(void *ctx, double *acc, dcc_error *err)
{
	const dcc_scorer *s = ctx;
	dcc_eval_result r = {0};
	int rc = dcc_eval(s->net, s->d, s->limit, 0, s->threads, &r, err);
	*acc = r.accuracy;
	dcc_eval_result_free(&r);
	return rc;
}

int dcc_lr_schedule_parse(const char *s, dcc_train_opts *o, dcc_error *err)
{
	if (!strcmp(s, "const")) {
		o->schedule = DCC_LR_CONST;
	} else if (!strcmp(s, "cosine")) {
		o->schedule = DCC_LR_COSINE;
	} else if (!strncmp(s, "step", 4) && (s[4] == 0 || s[4] == ':')) {
		o->schedule = DCC_LR_STEP;
		if (s[4] == ':') {
			char *end;
			long every = strtol(s + 5, &end, 10);
			if (every < 1 || every > 1000000 || (*end && *end != ':'))
				return dcc_fail(err, DCC_E_ARG, "'%s' (step:EVERY[:GAMMA])", s);
			o->step_every = (int)every;
			if (*end == ':') {
				double g = strtod(end + 1, &end);
				if (*end || !(g > 0 && g <= 1))
					return dcc_fail(err, DCC_E_ARG, "'%s' (GAMMA in (0, 1])", s);
				o->step_gamma = g;
			}
		}
	} else {
		return dcc_fail(err, DCC_E_ARG, "'%s' is not const, cosine or step[:EVERY[:GAMMA]]", s);
	}
	return 0;
}
