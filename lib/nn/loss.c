/* loss.c: the heads a network ends in -- softmax cross-entropy over
 * classes, sigmoid binary cross-entropy per output, mean squared error
 * against float targets -- their losses and gradients as PyTorch defines
 * them (CrossEntropyLoss, BCEWithLogitsLoss, MSELoss, mean reduction), and
 * the figures eval reports for each: top-1 and top-5 accuracy with the
 * confusion matrix, accuracy at 0.5 with precision and recall, mean
 * squared and absolute error. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "../dcc_nn.h"

double dcc_softmax_ce(float *dlogits, const float *logits, const int *labels, size_t B, int classes, double denom)
{
	double loss = 0;
	for (size_t i = 0; i < B; i++) {
		const float *z = logits + i * classes;
		float mx = z[0];
		for (int k = 1; k < classes; k++)
			mx = z[k] > mx ? z[k] : mx;
		double sum = 0;
		for (int k = 0; k < classes; k++)
			sum += exp((double)z[k] - mx);
		double lse = mx + log(sum);
		loss += lse - z[labels[i]];
		if (dlogits)
			for (int k = 0; k < classes; k++)
				dlogits[i * classes + k] =
					(float)((exp((double)z[k] - lse) - (k == labels[i] ? 1.0 : 0.0)) / denom);
	}
	return loss;
}

/* log(1 + e^-|z|) + max(z, 0) - z y: BCEWithLogits, stable for any z. */
static double bce_one(double z, double y)
{
	return (z > 0 ? z : 0) - z * y + log1p(exp(-fabs(z)));
}

double dcc_head_loss(int head, float *dz, const float *z, const int *cls, const float *tgt, size_t B, int K,
		     double denom)
{
	if (head == DCC_OP_SOFTMAX_CE)
		return dcc_softmax_ce(dz, z, cls, B, K, denom);
	double loss = 0;
	for (size_t i = 0; i < B; i++)
		for (int k = 0; k < K; k++) {
			size_t e = i * (size_t)K + (size_t)k;
			/* a class label is the target of a one-output head: 0 or 1 */
			double y = tgt ? tgt[e] : K == 1 ? (double)cls[i] : (double)(cls[i] == k);
			if (head == DCC_OP_BCE) {
				loss += bce_one(z[e], y) / K;
				if (dz)
					dz[e] = (float)((1 / (1 + exp(-(double)z[e])) - y) / ((double)K * denom));
			} else {
				double d = (double)z[e] - y;
				loss += d * d / K;
				if (dz)
					dz[e] = (float)(2 * d / ((double)K * denom));
			}
		}
	return loss;
}

/* ---- the figures of a head ---- */

int dcc_metrics_init(dcc_metrics *m, int head, int K, dcc_error *err)
{
	memset(m, 0, sizeof(*m));
	m->head = head, m->K = K;
	if (head == DCC_OP_SOFTMAX_CE && !(m->confusion = calloc((size_t)K * (size_t)K, sizeof(uint64_t))))
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	return 0;
}

void dcc_metrics_add(dcc_metrics *m, const double *z, const int *cls, const float *tgt, size_t B)
{
	size_t K = (size_t)m->K;
	for (size_t i = 0; i < B; i++) {
		const double *zi = z + i * K;
		m->n++;
		if (m->head == DCC_OP_SOFTMAX_CE) {
			size_t best = 0, above = 0;
			for (size_t k = 1; k < K; k++) /* ties to the lower class */
				best = zi[k] > zi[best] ? k : best;
			int y = cls[i];
			for (size_t k = 0; k < K; k++) /* classes ranked above the label (ties below it count) */
				above += zi[k] > zi[y] || (zi[k] == zi[y] && k < (size_t)y);
			m->correct += best == (size_t)y;
			m->top5 += above < 5;
			m->confusion[(size_t)y * K + best]++;
			continue;
		}
		for (size_t k = 0; k < K; k++) {
			double y = tgt ? tgt[i * K + k] : K == 1 ? (double)cls[i] : (double)(cls[i] == (int)k);
			if (m->head == DCC_OP_BCE) {
				int p = zi[k] > 0, t = y >= 0.5;
				m->tp += p && t, m->fp += p && !t, m->fn += !p && t, m->tn += !p && !t;
			} else {
				m->se += (zi[k] - y) * (zi[k] - y);
				m->ae += fabs(zi[k] - y);
			}
		}
	}
}

void dcc_metrics_finish(const dcc_metrics *m, dcc_eval_result *r)
{
	r->head = m->head;
	r->n = m->n;
	double n = m->n ? (double)m->n : 1, all = (double)(m->tp + m->fp + m->fn + m->tn);
	if (m->head == DCC_OP_SOFTMAX_CE) {
		r->correct = m->correct;
		r->accuracy = (double)m->correct / n;
		r->top5 = m->K >= 5 ? (double)m->top5 / n : NAN;
	} else if (m->head == DCC_OP_BCE) {
		r->correct = (size_t)(m->tp + m->tn);
		r->accuracy = all > 0 ? (double)(m->tp + m->tn) / all : 0;
		r->precision = m->tp + m->fp ? (double)m->tp / (double)(m->tp + m->fp) : NAN;
		r->recall = m->tp + m->fn ? (double)m->tp / (double)(m->tp + m->fn) : NAN;
		r->top5 = NAN;
	} else {
		double cnt = n * (double)m->K;
		r->mse = m->se / cnt;
		r->mae = m->ae / cnt;
		r->accuracy = r->top5 = NAN;
	}
}

double dcc_class_accuracy(const dcc_eval_result *r, size_t k)
{
	size_t C = (size_t)r->classes;
	uint64_t tot = 0;
	for (size_t j = 0; r->confusion && j < C; j++)
		tot += r->confusion[k * C + j];
	return tot ? (double)r->confusion[k * C + k] / (double)tot : NAN;
}

void dcc_metrics_free(dcc_metrics *m)
{
	free(m->confusion);
	m->confusion = NULL;
}

void dcc_metrics_merge(dcc_metrics *dst, const dcc_metrics *src)
{
	dst->n += src->n, dst->correct += src->correct, dst->top5 += src->top5;
	dst->tp += src->tp, dst->fp += src->fp, dst->fn += src->fn, dst->tn += src->tn;
	dst->se += src->se, dst->ae += src->ae;
	for (size_t i = 0; dst->confusion && src->confusion && i < (size_t)dst->K * (size_t)dst->K; i++)
		dst->confusion[i] += src->confusion[i];
}

/* ---- what a head's outputs say, and how far two sets of outputs are ---- */

static size_t argmax_d(const double *z, int K)
{
	size_t b = 0;
	for (int k = 1; k < K; k++)
		if (z[k] > z[b])
			b = (size_t)k;
	return b;
}

void dcc_head_decide(int head, const double *z, size_t n, int K, int64_t *out)
{
	for (size_t i = 0; i < n; i++) {
		const double *r = z + i * (size_t)K;
		out[i] = head == DCC_OP_BCE && K == 1 ? r[0] > 0 : (int64_t)argmax_d(r, K);
	}
}

void dcc_head_probs(int head, const double *z, size_t n, int K, float *out)
{
	for (size_t i = 0; i < n; i++) {
		const double *r = z + i * (size_t)K;
		float *o = out + i * (size_t)K;
		if (head == DCC_OP_SOFTMAX_CE) {
			double mx = r[argmax_d(r, K)], s = 0;
			for (int k = 0; k < K; k++)
				s += exp(r[k] - mx);
			for (int k = 0; k < K; k++)
				o[k] = (float)(exp(r[k] - mx) / s);
		} else {
			for (int k = 0; k < K; k++)
				o[k] = head == DCC_OP_BCE ? (float)(1 / (1 + exp(-r[k]))) : (float)r[k];
		}
	}
}

int dcc_head_tensor(int head, int kind, const double *z, size_t n, int K, dcc_tensor *t, dcc_error *err)
{
	size_t cnt = kind == DCC_OUT_ARGMAX ? n : n * (size_t)K;
	memset(t, 0, sizeof(*t));
	t->name = "outputs";
	t->dtype = kind == DCC_OUT_ARGMAX ? DCC_I64 : DCC_F32;
	t->ndim = kind == DCC_OUT_ARGMAX ? 1 : 2;
	t->shape[0] = n, t->shape[1] = (uint64_t)K;
	t->nbytes = cnt * (kind == DCC_OUT_ARGMAX ? sizeof(int64_t) : sizeof(float));
	if (!(t->data = malloc(t->nbytes ? t->nbytes : 1)))
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	if (kind == DCC_OUT_ARGMAX)
		dcc_head_decide(head, z, n, K, t->data);
	else if (kind == DCC_OUT_PROBS)
		dcc_head_probs(head, z, n, K, t->data);
	else
		for (size_t k = 0; k < cnt; k++)
			((float *)t->data)[k] = (float)z[k];
	return 0;
}

void dcc_fidelity_add(dcc_fidelity *f, int head, const double *a, const double *b, size_t n, size_t K)
{
	f->K = K;
	for (size_t i = 0; i < n; i++) {
		const double *x = a + i * K, *y = b + i * K;
		for (size_t k = 0; k < K; k++) {
			double d = fabs(x[k] - y[k]);
			f->sum_abs += d;
			f->err += d * d;
			f->sig += x[k] * x[k];
			if (d > f->max_abs)
				f->max_abs = d;
		}
		if (head == DCC_OP_SOFTMAX_CE || head == DCC_OP_BCE) {
			int64_t da, db;
			dcc_head_decide(head, x, 1, (int)K, &da);
			dcc_head_decide(head, y, 1, (int)K, &db);
			f->agree += da == db;
		}
	}
	f->n += n;
}

double dcc_fidelity_sqnr_db(const dcc_fidelity *f)
{
	if (f->err == 0)
		return INFINITY;
	return f->sig > 0 ? 10 * log10(f->sig / f->err) : -INFINITY;
}
