/* dataset.c: a data set in memory (read by formats/dataset.c) and its
 * accessors: a sample's values as floats or exact doubles, normalised by
 * a model's mean and std, and its class or targets, whatever the stored
 * dtypes; and the normalisation a model records. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void dcc_dataset_free(dcc_dataset *d)
{
	if (!d)
		return;
	dcc_model_free(d->store);
	free(d->source);
	free(d);
}

int dcc_dataset_wrap(const dcc_tensor *x, const dcc_tensor *y, const int *shape3, dcc_dataset **out,
		     dcc_error *err)
{
	*out = NULL;
	uint64_t per = (uint64_t)shape3[0] * (uint64_t)shape3[1] * (uint64_t)shape3[2], numel = dcc_tensor_numel(x);
	if (!per || x->ndim < 1 || numel % per)
		return dcc_fail(err, DCC_E_SHAPE, "%llu values are not samples of %dx%dx%d", (unsigned long long)numel,
				shape3[0], shape3[1], shape3[2]);
	dcc_dataset *d = calloc(1, sizeof(*d));
	if (!d)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	d->c = shape3[0], d->h = shape3[1], d->w = shape3[2];
	d->ndim = 3, d->shape[0] = (uint64_t)d->c, d->shape[1] = (uint64_t)d->h, d->shape[2] = (uint64_t)d->w;
	d->sample = (size_t)per;
	d->test = (dcc_split){x, y, 0, (size_t)(numel / per)};
	d->train = d->test;
	d->labels = y ? DCC_LABELS_CLASS : DCC_LABELS_NONE;
	*out = d;
	return 0;
}

/* Element k of sample i's values, exactly. */
static inline double value(const dcc_tensor *t, size_t k)
{
	const uint8_t *p = t->data;
	switch (t->dtype) {
	case DCC_U8: return p[k] / 255.0;
	case DCC_F32: { float v; memcpy(&v, p + 4 * k, 4); return v; }
	case DCC_F64: { double v; memcpy(&v, p + 8 * k, 8); return v; }
	case DCC_F16: { uint16_t v; memcpy(&v, p + 2 * k, 2); return dcc_f16_to_f32(v); }
	case DCC_I8: return ((const int8_t *)p)[k];
	case DCC_I16: { int16_t v; memcpy(&v, p + 2 * k, 2); return v; }
	}
	return dcc_tensor_get(t, k);
}

void dcc_data_x(const dcc_dataset *d, const dcc_split *s, size_t i, size_t n, const dcc_norm *nm, float *out)
{
	size_t per = d->sample, k0 = (s->first + i) * per, cnt = n * per;
	const dcc_tensor *t = s->x;
	if (!nm || !nm->n) {
		if (t->dtype == DCC_U8) { /* as dcc has always read IDX images */
			const uint8_t *p = (const uint8_t *)t->data + k0;
			for (size_t k = 0; k < cnt; k++)
				out[k] = (float)p[k] / 255.0f;
		} else if (t->dtype == DCC_F32) {
			memcpy(out, (const float *)t->data + k0, cnt * sizeof(float));
		} else {
			for (size_t k = 0; k < cnt; k++)
				out[k] = (float)value(t, k0 + k);
		}
		return;
	}
	for (size_t k = 0; k < cnt; k++) {
		size_t ch = dcc_norm_channel(nm, k % per, d->c, d->h, d->w);
		out[k] = (float)((value(t, k0 + k) - nm->mean[ch]) / nm->std[ch]);
	}
}

void dcc_data_x_exact(const dcc_dataset *d, const dcc_split *s, size_t i, double *out)
{
	size_t per = d->sample, k0 = (s->first + i) * per;
	for (size_t k = 0; k < per; k++)
		out[k] = value(s->x, k0 + k);
}

int dcc_data_class(const dcc_split *s, size_t i)
{
	return (int)dcc_tensor_get(s->y, s->first + i);
}

void dcc_data_targets(const dcc_dataset *d, const dcc_split *s, size_t i, float *out)
{
	size_t K = (size_t)d->classes, k0 = (s->first + i) * K;
	for (size_t k = 0; k < K; k++)
		out[k] = (float)value(s->y, k0 + k);
}

const dcc_split *dcc_data_split(const dcc_dataset *d, const char *name)
{
	return !strcmp(name, "train") ? &d->train : !strcmp(name, "val") ? &d->val : !strcmp(name, "test") ? &d->test
												: NULL;
}

void dcc_data_describe(const dcc_dataset *d, size_t samples, char *buf, size_t cap)
{
	snprintf(buf, cap, "data=%s bytes=%llu crc32c=0x%08x samples=%zu", d->source ? d->source : "-",
		 (unsigned long long)d->bytes, d->crc, samples);
}

/* ---- normalisation, a model's ---- */

int dcc_norm_of(const dcc_model *m, int c, int h, int w, dcc_norm *nm, dcc_error *err)
{
	(void)h;
	nm->n = 0;
	const dcc_kv *mk = dcc_model_get_kv(m, "dcc.input_mean"), *sk = dcc_model_get_kv(m, "dcc.input_std");
	if (!mk && !sk)
		return 0;
	if (!mk || !sk || mk->type != DCC_KV_ARR || sk->type != DCC_KV_ARR || mk->elem_type != DCC_KV_F64 ||
	    sk->elem_type != DCC_KV_F64 || mk->count != sk->count || !mk->count)
		return dcc_fail(err, DCC_E_FORMAT, "dcc.input_mean and dcc.input_std must be float arrays of one length");
	size_t n = mk->count;
	if (n != 1 && !(c > 1 && n == (size_t)c) && n != (size_t)w)
		return dcc_fail(err, DCC_E_SHAPE, "dcc.input_mean has %zu values; the %dx%dx%d input has %d channels "
			       "and %d features", n, c, h, w, c, w);
	if (n > DCC_NORM_MAX)
		return dcc_fail(err, DCC_E_RANGE, "dcc.input_mean has %zu values (at most %d)", n, DCC_NORM_MAX);
	for (size_t k = 0; k < n; k++) {
		if (!isfinite(mk->f[k]) || !isfinite(sk->f[k]) || !(sk->f[k] > 0))
			return dcc_fail(err, DCC_E_RANGE, "dcc.input_std[%zu] = %g, dcc.input_mean[%zu] = %g: want "
				       "finite values and a positive std", k, sk->f[k], k, mk->f[k]);
		nm->mean[k] = mk->f[k], nm->std[k] = sk->f[k];
	}
	nm->n = n;
	return 0;
}

int dcc_norm_set(dcc_model *m, const dcc_norm *nm, dcc_error *err)
{
	if (!nm->n) {
		dcc_model_del_kv(m, "dcc.input_mean");
		dcc_model_del_kv(m, "dcc.input_std");
		return 0;
	}
	int rc = dcc_model_set_arr_f64(m, "dcc.input_mean", nm->mean, nm->n, err);
	return rc ? rc : dcc_model_set_arr_f64(m, "dcc.input_std", nm->std, nm->n, err);
}

int dcc_norm_fit(const dcc_dataset *d, const dcc_split *s, dcc_norm *nm, dcc_error *err)
{
	size_t per = d->sample, K = d->c > 1 ? (size_t)d->c : d->ndim < 3 ? (size_t)d->w : 1;
	if (K > DCC_NORM_MAX)
		K = 1;
	if (!s->n)
		return dcc_fail(err, DCC_E_ARG, "no samples to take the mean and std of");
	double *sum = calloc(2 * K, sizeof(double)), *x = malloc(per * sizeof(double));
	uint64_t *cnt = calloc(K, sizeof(uint64_t));
	if (!sum || !x || !cnt) {
		free(sum), free(x), free(cnt);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	nm->n = K;
	for (int pass = 0; pass < 2; pass++) /* mean, then the squared deviations: no cancellation */
		for (size_t i = 0; i < s->n; i++) {
			dcc_data_x_exact(d, s, i, x);
			for (size_t e = 0; e < per; e++) {
				size_t k = dcc_norm_channel(nm, e, d->c, d->h, d->w);
				if (pass == 0) {
					sum[k] += x[e];
					cnt[k]++;
				} else {
					double v = x[e] - nm->mean[k];
					sum[K + k] += v * v;
				}
			}
			if (pass == 0 && i + 1 == s->n)
				for (size_t k = 0; k < K; k++)
					nm->mean[k] = sum[k] / (double)cnt[k];
		}
	for (size_t k = 0; k < K; k++) { /* population std, as torchvision's recipes compute it */
		double sd = sqrt(sum[K + k] / (double)cnt[k]);
		nm->std[k] = sd > 1e-12 ? sd : 1;
	}
	free(sum), free(x), free(cnt);
	return 0;
}

int dcc_norm_record(dcc_model *m, const dcc_dataset *d, int fit, const char *mean, const char *std, int use_file,
		    dcc_error *err)
{
	if (!fit && !mean && !(use_file && d->norm.n))
		return 0;
	dcc_norm *nm = malloc(sizeof(*nm));
	if (!nm)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	int rc = fit ? dcc_norm_fit(d, &d->train, nm, err) : mean ? dcc_norm_parse(mean, std, nm, err) : 0;
	if (!fit && !mean)
		*nm = d->norm;
	if (!rc)
		rc = dcc_norm_set(m, nm, err);
	if (!rc) /* does it fit the samples? */
		rc = dcc_norm_of(m, d->c, d->h, d->w, nm, err);
	free(nm);
	return rc;
}

int dcc_norm_parse(const char *mean, const char *std, dcc_norm *nm, dcc_error *err)
{
	const char *src[2] = {mean, std};
	size_t cnt[2] = {0, 0};
	for (int j = 0; j < 2; j++) {
		const char *p = src[j];
		double *dst = j ? nm->std : nm->mean;
		while (*p) {
			char *end;
			double v = strtod(p, &end);
			if (end == p || (*end && *end != ',') || !isfinite(v) || (j && !(v > 0)))
				return dcc_fail(err, DCC_E_ARG, "'%s' is not a list of %s numbers", src[j],
						j ? "positive" : "finite");
			if (cnt[j] == DCC_NORM_MAX)
				return dcc_fail(err, DCC_E_RANGE, "more than %d values in '%s'", DCC_NORM_MAX, src[j]);
			dst[cnt[j]++] = v;
			p = *end ? end + 1 : end;
		}
	}
	if (cnt[0] != cnt[1] || !cnt[0])
		return dcc_fail(err, DCC_E_ARG, "%zu means and %zu stds: give one of each per channel", cnt[0], cnt[1]);
	nm->n = cnt[0];
	return 0;
}
