/* share.c: a layer's surviving weights clustered into a codebook, stored
 * as NAME.codebook + NAME.index + NAME.mask in place of NAME. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "../dcc_share.h"

/* The nearest of k = 2^bits ascending centroids, ties to the upper: a
 * branchless binary search over float thresholds, fm[j] the least float
 * v with (double)v >= the midpoint of centroids j and j+1 (fm[k-1] = inf). */
static inline uint32_t nearest(const float *fm, int bits, float v)
{
	uint32_t lo = 0;
	for (int b = bits - 1; b >= 0; b--) /* a flag times a step: no branch to mispredict */
		lo += (uint32_t)(v >= fm[lo + (1u << b) - 1]) << b;
	return lo;
}

int dcc_share_tensor(dcc_model *m, const dcc_prunable *p, const dcc_share_opts *o, dcc_kmeans_stats *st,
		     dcc_error *err)
{
	char nm[DCC_MAX_NAME + 16];
	if (o->bits < 1 || o->bits > 16)
		return dcc_fail(err, DCC_E_RANGE, "'%s': %d bits: weight sharing takes 1 to 16", p->layer, o->bits);
	snprintf(nm, sizeof(nm), "%s.index", p->tensor);
	if (dcc_model_find(m, nm))
		return dcc_fail(err, DCC_E_UNSUPPORTED, "'%s' is already shared", p->tensor);
	dcc_tensor *t = dcc_model_find(m, p->tensor);
	if (!t)
		return dcc_fail(err, DCC_E_NOTFOUND, "tensor '%s' is missing", p->tensor);
	if (t->dtype != DCC_F32 && t->dtype != DCC_F64)
		return dcc_fail(err, DCC_E_UNSUPPORTED, "'%s' is %s; sharing works on float weights", p->tensor,
				dcc_dtype_name(t->dtype));
	size_t n = (size_t)dcc_tensor_numel(t);
	snprintf(nm, sizeof(nm), "%s.mask", p->tensor);
	const dcc_tensor *mk = dcc_model_find(m, nm);
	if (mk && (mk->dtype != DCC_MASK || dcc_tensor_numel(mk) != n))
		return dcc_fail(err, DCC_E_SHAPE, "mask '%s' does not match its tensor", nm);
	const uint8_t *mb = mk ? mk->data : NULL;
	/* f64 weights of a bare container are converted once */
	float *v = t->data, *conv = NULL;
	if (t->dtype == DCC_F64) {
		if (!(conv = malloc(n ? n * sizeof(float) : 1)))
			return dcc_fail(err, DCC_E_NOMEM, "out of memory");
		for (size_t i = 0; i < n; i++)
			conv[i] = (float)((const double *)t->data)[i];
		v = conv;
	}
#define ALIVE(i) (mb ? (mb[(i) / 8] >> ((i) % 8)) & 1 : v[i] != 0.0f)
	size_t alive = 0;
	if (mb)
		alive = (size_t)dcc_tensor_count_nonzero(mk);
	else
		for (size_t i = 0; i < n; i++)
			alive += v[i] != 0.0f;
	if (!alive) {
		free(conv);
		return dcc_fail(err, DCC_E_RANGE, "'%s' has no surviving weights to share", p->tensor);
	}
	int K = 1 << o->bits, k = o->zero ? K - 1 : K;
	if (k < 1) {
		free(conv);
		return dcc_fail(err, DCC_E_RANGE, "'%s': --zero needs at least 2 bits", p->layer);
	}
	float *x = malloc(alive * sizeof(float));
	double *c = malloc((size_t)k * sizeof(double)), *mid = malloc((size_t)k * sizeof(double));
	if (!x || !c || !mid) {
		free(x), free(c), free(mid), free(conv);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	for (size_t i = 0, j = 0; i < n && j < alive; i++) { /* branch-free: most are pruned */
		x[j] = v[i];
		j += ALIVE(i);
	}
	dcc_sort_f32(x, alive);
	int rc = o->optimal ? dcc_kmeans1d_optimal(x, alive, k, c, st, err)
			    : dcc_kmeans1d(x, alive, k, o->init, o->seed, o->max_iter, c, st, err);
	if (rc) {
		free(x), free(c), free(mid), free(conv);
		return rc;
	}
	/* the stored codebook is float: assign and measure against it */
	float *cb = malloc((size_t)K * sizeof(float));
	if (!cb) {
		free(x), free(c), free(mid), free(conv);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	for (int j = 0; j < k; j++) {
		cb[j + (o->zero ? 1 : 0)] = (float)c[j];
		c[j] = (float)c[j];
	}
	if (o->zero)
		cb[0] = 0.0f;
	float *fm = (float *)mid; /* reused: k floats fit in k doubles */
	for (int j = 0; j + 1 < k; j++) {
		double md = 0.5 * (c[j] + c[j + 1]);
		float f = (float)md;
		if ((double)f < md)
			f = nextafterf(f, INFINITY);
		while ((double)nextafterf(f, -INFINITY) >= md)
			f = nextafterf(f, -INFINITY);
		fm[j] = f;
	}
	for (int j = k - 1; j < K; j++)
		fm[j] = INFINITY;
	st->sse = dcc_kmeans1d_sse(x, alive, c, k);
	free(x);
	free(c);
	uint32_t off = o->zero ? 1 : 0;
	/* the index, then the mask (made from the nonzeros when there was none) */
	dcc_tensor *ix;
	uint64_t shape[DCC_MAX_DIMS];
	int ndim = t->ndim;
	memcpy(shape, t->shape, sizeof(shape));
	snprintf(nm, sizeof(nm), "%s.index", p->tensor);
	if ((rc = dcc_model_add_zeros(m, nm, DCC_PACKED, o->bits, 0, ndim, shape, &ix, err))) {
		free(mid), free(cb), free(conv);
		return rc;
	}
	t = dcc_model_find(m, p->tensor); /* the table may have moved */
	if (!conv)
		v = t->data;
	snprintf(nm, sizeof(nm), "%s.mask", p->tensor);
	mb = (mk = dcc_model_find(m, nm)) ? mk->data : NULL;
	/* without a mask, the nonzeros make one, in the same pass */
	uint8_t *made = mk ? NULL : calloc(n / 8 + 1, 1);
	if (!mk && !made) {
		free(mid), free(cb), free(conv);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	/* a streaming bit writer: the indices in one pass, 32 bits at a time */
	uint8_t *out = ix->data;
	uint64_t acc = 0, nnz = 0;
	int have = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t live = (uint64_t)ALIVE(i), q = live ? nearest(fm, o->bits, v[i]) + off : 0;
		if (made)
			made[i / 8] |= (uint8_t)(live << (i % 8));
		nnz += q != 0;
		acc |= q << have;
		have += o->bits;
		if (have >= 32) {
			uint32_t w = (uint32_t)acc;
			memcpy(out, &w, 4); /* little-endian, as the format */
			out += 4;
			acc >>= 32;
			have -= 32;
		}
	}
	for (; have > 0; have -= 8, acc >>= 8)
		*out++ = (uint8_t)acc;
	ix->nnz = nnz;
	free(mid);
	if (!mk) {
		dcc_tensor *nmk;
		if ((rc = dcc_model_add_zeros(m, nm, DCC_MASK, 0, 0, ndim, shape, &nmk, err))) {
			free(made), free(cb), free(conv);
			return rc;
		}
		memcpy(nmk->data, made, nmk->nbytes);
		free(made);
		nmk->nnz = alive;
	}
	free(conv);
#undef ALIVE
	snprintf(nm, sizeof(nm), "%s.codebook", p->tensor);
	uint64_t kshape[1] = {(uint64_t)K};
	if ((rc = dcc_model_add(m, nm, DCC_F32, 0, 0, 1, kshape, cb, err)))
		return rc;
	dcc_model_remove(m, p->tensor);
	return 0;
}
