/* trace.c: every layer's output for one sample, as real values in
 * PyTorch's order (C, H, W), from the float network or the integer
 * reference: what dcc compare --layers sets side by side.  The float net
 * keeps its convolution side H, W, C (lib/nn); this file turns it round. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../dcc_fixed.h"

struct dcc_trace {
	const dcc_net *n;
	const dcc_qnet *q;
	dcc_work *w;
	float *x;
	int32_t *qx, *scratch;
	double *out;  /* every layer's output, back to back */
	size_t *off;  /* layer i's at out + off[i] */
	char *hwc;    /* layer i's float output is H, W, C */
};

int dcc_trace_new(const dcc_net *n, const dcc_qnet *q, dcc_trace **out, dcc_error *err)
{
	*out = NULL;
	dcc_trace *t = calloc(1, sizeof(*t));
	if (!t)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	t->n = n, t->q = q;
	size_t total = 0;
	int rc = 0;
	if (!(t->off = calloc(n->nlayers + 1, sizeof(size_t))) || !(t->hwc = calloc(n->nlayers + 1, 1)))
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	for (size_t i = 0; !rc && i < n->nlayers; i++) { /* layer i's output is activation i + 1 */
		t->hwc[i] = (char)dcc_act_hwc(n, i + 1);
		t->off[i] = total;
		total += n->layers[i].out_size;
	}
	t->off[n->nlayers] = total;
	if (!rc && !(t->out = malloc((total ? total : 1) * sizeof(double))))
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	if (!rc && q) {
		if (!(t->qx = malloc(q->max_act * sizeof(int32_t) + sizeof(int32_t))) ||
		    !(t->scratch = malloc(dcc_qnet_scratch(q) * sizeof(int32_t) + sizeof(int32_t))))
			rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	} else if (!rc) {
		rc = dcc_work_new(n, 1, DCC_WORK_KEEP, &t->w, err);
		if (!rc && !(t->x = malloc(n->layers[0].in_size * sizeof(float))))
			rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	if (rc) {
		dcc_trace_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

void dcc_trace_free(dcc_trace *t)
{
	if (!t)
		return;
	dcc_work_free(t->w);
	free(t->x), free(t->qx), free(t->scratch), free(t->out), free(t->off), free(t->hwc);
	free(t);
}

void dcc_trace_run(dcc_trace *t, const dcc_dataset *d, const dcc_split *s, size_t i)
{
	const dcc_net *n = t->n;
	if (t->q) {
		const dcc_qnet *q = t->q;
		dcc_qnet_input(q, d, s, i, t->qx);
		const int32_t *cur = t->qx;
		if (!q->chain) /* every value kept in its place */
			dcc_qnet_forward(q, t->qx, q->n, t->scratch);
		for (size_t k = 0; k < n->nlayers; k++) {
			if (!q->chain) {
				size_t v = dcc_op_is_loss(n->layers[k].op) ? (size_t)n->layers[k].src[0] : k + 1;
				cur = v ? dcc_qnet_value(q, t->scratch, v) : t->qx;
			} else {
				cur = dcc_qnet_forward_from(q, cur, k, k + 1, t->scratch);
			}
			double sc = ldexp(1.0, -q->l[k].out_fl);
			for (size_t e = 0; e < n->layers[k].out_size; e++)
				t->out[t->off[k] + e] = (double)cur[e] * sc;
		}
		return;
	}
	dcc_data_x(d, s, i, 1, &n->norm, t->x);
	dcc_net_forward(n, t->w, t->x, 1);
	for (size_t k = 0; k < n->nlayers; k++) {
		const dcc_layer *l = &n->layers[k];
		const float *a = dcc_work_act(t->w, k + 1 < n->nlayers ? k + 1 : (size_t)l->src[0]); /* the loss passes its input */
		double *o = t->out + t->off[k];
		size_t C = (size_t)l->oc, HW = (size_t)l->oh * (size_t)l->ow;
		if (t->hwc[k] && C > 1 && C * HW == l->out_size) {
			for (size_t c = 0; c < C; c++)
				for (size_t p = 0; p < HW; p++)
					o[c * HW + p] = a[p * C + c];
		} else {
			for (size_t e = 0; e < l->out_size; e++)
				o[e] = a[e];
		}
	}
}

const double *dcc_trace_layer(const dcc_trace *t, size_t layer, size_t *count)
{
	*count = t->off[layer + 1] - t->off[layer];
	return t->out + t->off[layer];
}

void dcc_fixed_unseen(const dcc_net *n, const dcc_qnet *q, const dcc_dataset *d, size_t scored, int threads,
		      size_t *count, double *acc_float, double *acc_fixed)
{
	size_t sk = scored > d->test.n / 2 ? d->test.n / 2 : scored;
	dcc_split rest = d->test;
	rest.first += sk, rest.n -= sk;
	dcc_eval_result r1 = {0};
	dcc_qeval r2 = {0};
	dcc_error e = {0};
	*count = 0;
	if (!dcc_eval_split(n, d, &rest, 0, 0, threads, &r1, &e) && !dcc_qnet_eval_split(q, d, &rest, 0, 0, threads, &r2, &e))
		*count = rest.n, *acc_float = r1.accuracy, *acc_fixed = r2.accuracy;
	dcc_eval_result_free(&r1);
	dcc_qeval_free(&r2);
}

int dcc_outputs(const dcc_net *n, const dcc_qnet *q, const dcc_dataset *d, const dcc_split *s, size_t limit,
		int threads, double **out, dcc_eval_result *fig, dcc_error *err)
{
	*out = NULL;
	memset(fig, 0, sizeof(*fig));
	size_t K = (size_t)n->classes, cnt;
	double *z;
	if (q) {
		dcc_qeval r;
		int rc = dcc_qnet_eval_split(q, d, s, limit, 1, threads, &r, err);
		if (rc)
			return rc;
		cnt = r.n * K;
		if (!(z = malloc((cnt ? cnt : 1) * sizeof(double)))) {
			dcc_qeval_free(&r);
			return dcc_fail(err, DCC_E_NOMEM, "out of memory");
		}
		for (size_t k = 0; k < cnt; k++)
			z[k] = ldexp((double)r.logits[k], -r.logit_fl);
		free(r.logits);
		*fig = r.fig;
	} else {
		int rc = dcc_eval_split(n, d, s, limit, 1, threads, fig, err);
		if (rc)
			return rc;
		cnt = fig->n * K;
		if (!(z = malloc((cnt ? cnt : 1) * sizeof(double)))) {
			dcc_eval_result_free(fig);
			return dcc_fail(err, DCC_E_NOMEM, "out of memory");
		}
		for (size_t k = 0; k < cnt; k++)
			z[k] = fig->logits[k];
		free(fig->logits);
		fig->logits = NULL;
	}
	*out = z;
	return 0;
}

int dcc_compare_layers(const dcc_net *na, const dcc_qnet *qa, const dcc_net *nb, const dcc_qnet *qb,
		       const dcc_dataset *d, const dcc_split *s, size_t limit, dcc_fidelity *fl, size_t *match,
		       dcc_error *err)
{
	for (size_t i = 0; i < na->nlayers; i++) {
		match[i] = DCC_NO_MATCH;
		memset(&fl[i], 0, sizeof(fl[i]));
		for (size_t j = 0; j < nb->nlayers; j++)
			if (!strcmp(na->layers[i].name, nb->layers[j].name) && na->layers[i].out_size == nb->layers[j].out_size)
				match[i] = j;
	}
	dcc_trace *ta = NULL, *tb = NULL;
	int rc = dcc_trace_new(na, qa, &ta, err);
	if (!rc)
		rc = dcc_trace_new(nb, qb, &tb, err);
	size_t N = limit && limit < s->n ? limit : s->n;
	for (size_t i = 0; !rc && i < N; i++) {
		dcc_trace_run(ta, d, s, i);
		dcc_trace_run(tb, d, s, i);
		for (size_t l = 0; l < na->nlayers; l++) {
			size_t ca, cb;
			if (match[l] == DCC_NO_MATCH)
				continue;
			const double *xa = dcc_trace_layer(ta, l, &ca), *xb = dcc_trace_layer(tb, match[l], &cb);
			dcc_fidelity_add(&fl[l], DCC_OP_MSE, xa, xb, 1, ca);
		}
	}
	dcc_trace_free(ta);
	dcc_trace_free(tb);
	return rc;
}
