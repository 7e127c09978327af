/* share.c: a layer's surviving weights clustered into a codebook, stored
 * as NAME.codebook + NAME.index + NAME.mask in place of NAME. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "../dcc_nn.h"
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

/* The passes over a layer, each split over the cores in chunks of whole
 * 64-weight blocks (so every chunk's indices and mask start on a byte):
 * 0 counts the survivors of each chunk (the mask's bits, or the nonzeros
 * of a layer without one), 1 gathers them into x at the chunk's offset,
 * 2 writes every weight's index (0 for a pruned one) with a streaming bit
 * writer, and the mask when the layer had none, counting nonzero indices. */
#define SCAN_MAX_THREADS 64

typedef struct scan_job {
	const float *v;
	const uint8_t *mb;
	size_t n;
	int nt, pass, bits;
	uint32_t off;
	const float *fm;
	float *x;
	uint8_t *made, *out;
	size_t cnt[SCAN_MAX_THREADS], at[SCAN_MAX_THREADS];
} scan_job;

static void scan_part(void *arg, int t)
{
	scan_job *j = arg;
	size_t blocks = (j->n + 63) / 64, lo = blocks * (size_t)t / (size_t)j->nt * 64,
	       hi = blocks * (size_t)(t + 1) / (size_t)j->nt * 64;
	hi = hi > j->n ? j->n : hi;
	const float *v = j->v;
	const uint8_t *mb = j->mb;
#define ALIVE(i) (mb ? (mb[(i) / 8] >> ((i) % 8)) & 1 : v[i] != 0.0f)
	if (j->pass == 0) {
		size_t c = 0;
		if (mb) {
			size_t i = lo;
			for (; i + 64 <= hi; i += 64) {
				uint64_t w;
				memcpy(&w, mb + i / 8, 8);
				c += dcc_popcount64(w);
			}
			for (; i < hi; i++)
				c += ALIVE(i);
		} else
			for (size_t i = lo; i < hi; i++)
				c += v[i] != 0.0f;
		j->cnt[t] = c;
	} else if (j->pass == 1) {
		float *x = j->x + j->at[t];
		size_t c = 0, want = j->cnt[t];
		for (size_t i = lo; i < hi && c < want; i++) { /* branch-free: most are pruned */
			x[c] = v[i];
			c += ALIVE(i);
		}
	} else {
		uint8_t *out = j->out + lo / 8 * (size_t)j->bits, *made = j->made;
		uint64_t acc = 0, nnz = 0;
		int have = 0, bits = j->bits;
		for (size_t i = lo; i < hi; i++) {
			uint64_t live = (uint64_t)ALIVE(i), q = live ? nearest(j->fm, bits, v[i]) + j->off : 0;
			if (made)
				made[i / 8] |= (uint8_t)(live << (i % 8));
			nnz += q != 0;
			acc |= q << have;
			have += bits;
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
		j->cnt[t] = nnz;
	}
#undef ALIVE
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
	/* the survivors, gathered by chunks over the cores: count, then copy */
	scan_job sj = {.v = v, .mb = mb, .n = n, .bits = o->bits, .fm = NULL};
	sj.nt = n < ((size_t)1 << 20) ? 1 : dcc_default_threads();
	if (sj.nt > SCAN_MAX_THREADS)
		sj.nt = SCAN_MAX_THREADS;
	sj.pass = 0;
	dcc_parallel(sj.nt, scan_part, &sj);
	size_t alive = 0;
	for (int q = 0; q < sj.nt; q++)
		sj.at[q] = alive, alive += sj.cnt[q];
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
	sj.x = x;
	sj.pass = 1;
	dcc_parallel(sj.nt, scan_part, &sj);
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
	sj.v = v, sj.mb = mb, sj.made = made, sj.out = ix->data, sj.fm = (float *)mid, sj.off = off;
	sj.pass = 2;
	dcc_parallel(sj.nt, scan_part, &sj);
	uint64_t nnz = 0;
	for (int q = 0; q < sj.nt; q++)
		nnz += sj.cnt[q];
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
	snprintf(nm, sizeof(nm), "%s.codebook", p->tensor);
	uint64_t kshape[1] = {(uint64_t)K};
	if ((rc = dcc_model_add(m, nm, DCC_F32, 0, 0, 1, kshape, cb, err)))
		return rc;
	dcc_model_remove(m, p->tensor);
	return 0;
}
