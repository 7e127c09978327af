/* share.c: a layer's surviving weights clustered into a codebook, stored
 * as NAME.codebook + NAME.index + NAME.mask in place of NAME. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

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

/* The passes over a layer, each split over the cores in chunks of whole
 * 64-weight blocks, so every chunk's mask words and indices start on a
 * byte and the output is the same for any thread count.  A block's 64
 * survivors are one word of the mask: pass 0 makes it (from the nonzeros
 * when the layer has no mask) and counts, 1 gathers the survivors into x
 * at the chunk's offset, 2 ORs each survivor's index into the zeroed
 * index tensor (a pruned weight's index stays 0) and counts nonzero ones. */
#define SCAN_MAX_THREADS 64

typedef struct scan_job {
	const float *v;
	uint8_t *words; /* the mask: the layer's, or made in pass 0 */
	int make;
	size_t n;
	int nt, pass, bits;
	uint32_t off;
	const float *fm;
	float *x;
	uint8_t *out;
	size_t cnt[SCAN_MAX_THREADS], at[SCAN_MAX_THREADS];
	/* the index pass of a layer sorted where it lay: values read back */
	const dcc_share_opts *o;
	const dcc_tensor *t;
	uint32_t crc[SCAN_MAX_THREADS];
	int rc[SCAN_MAX_THREADS];
	dcc_error err[SCAN_MAX_THREADS];
} scan_job;

#define REREAD_CHUNK 65536 /* weights read back at a time, a multiple of 64 */

static inline uint64_t mask_word(const uint8_t *m, size_t i, size_t n)
{
	uint64_t w = 0;
	if (n - i >= 64) {
		memcpy(&w, m + i / 8, 8); /* little-endian: bit k is weight i + k */
		return w;
	}
	memcpy(&w, m + i / 8, (n - i + 7) / 8);
	return w & ((1ull << (n - i)) - 1); /* no padding bit counts */
}

/* Bit k set when v[k] != 0 (k < e <= 64; NaN counts as nonzero, -0 not):
 * four at a time with SSE2's compare and movemask where there is SSE2. */
static inline uint64_t nonzero_word(const float *v, size_t e)
{
	uint64_t w = 0;
	size_t k = 0;
#ifdef __SSE2__
	const __m128 z = _mm_setzero_ps();
	for (; k + 4 <= e; k += 4)
		w |= (uint64_t)_mm_movemask_ps(_mm_cmpneq_ps(_mm_loadu_ps(v + k), z)) << k;
#endif
	for (; k < e; k++)
		w |= (uint64_t)(v[k] != 0.0f) << k;
	return w;
}

static size_t scan_range(scan_job *j, int t, size_t lo, size_t hi, const float *v, size_t c0);

static void scan_part(void *arg, int t)
{
	scan_job *j = arg;
	size_t lo, hi;
	dcc_chunk(j->n, 64, j->nt, t, &lo, &hi);
	size_t c = 0;
	float *buf = NULL;
	if (j->pass == 2 && j->o) { /* values read back, a chunk at a time */
		j->crc[t] = 0;
		if (lo < hi && !(buf = malloc(REREAD_CHUNK * sizeof(float)))) {
			j->rc[t] = dcc_fail(&j->err[t], DCC_E_NOMEM, "out of memory");
			return;
		}
	}
	for (size_t s0 = lo; s0 < hi; s0 += REREAD_CHUNK) {
		size_t s1 = hi - s0 < REREAD_CHUNK ? hi : s0 + REREAD_CHUNK;
		const float *v = j->v + s0;
		if (buf) {
			if ((j->rc[t] = j->o->reread(j->o->reread_ctx, j->t, s0, buf, s1 - s0, &j->err[t])))
				break;
			j->crc[t] = dcc_crc32c(j->crc[t], buf, (s1 - s0) * sizeof(float));
			v = buf;
		}
		c += scan_range(j, t, s0, s1, v, c);
	}
	free(buf);
	j->cnt[t] = c;
}

/* Pass j->pass over weights [lo, hi) (lo a multiple of 64) whose values are
 * v[0 .. hi - lo); c0 survivors already gathered by this thread. */
static size_t scan_range(scan_job *j, int t, size_t lo, size_t hi, const float *v, size_t c0)
{
	size_t c = 0;
	for (size_t i = lo; i < hi; i += 64) {
		uint64_t w;
		if (j->pass == 0 && j->make) {
			size_t e = hi - i < 64 ? hi - i : 64;
			w = nonzero_word(v + (i - lo), e);
			memcpy(j->words + i / 8, &w, (e + 7) / 8);
		} else
			w = mask_word(j->words, i, j->n);
		if (j->pass == 0) {
			c += dcc_popcount64(w);
		} else if (j->pass == 1) {
			float *x = j->x + j->at[t] + c0;
			for (; w; w &= w - 1)
				x[c++] = v[i - lo + (size_t)__builtin_ctzll(w)];
		} else {
			uint8_t *ob = j->out + i / 8 * (size_t)j->bits;
			int bits = j->bits;
			for (; w; w &= w - 1) {
				unsigned k = (unsigned)__builtin_ctzll(w), pos = k * (unsigned)bits, sh = pos % 8;
				uint32_t q = nearest(j->fm, bits, v[i - lo + k]) + j->off, f = q << sh;
				uint8_t *b = ob + pos / 8;
				c += q != 0;
				b[0] |= (uint8_t)f;
				if (sh + (unsigned)bits > 8)
					b[1] |= (uint8_t)(f >> 8);
				if (sh + (unsigned)bits > 16)
					b[2] |= (uint8_t)(f >> 16);
			}
		}
	}
	return c;
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
	/* the mask's words (made from the nonzeros when there is none), the
	 * survivors counted, then gathered, by chunks over the cores */
	uint8_t *made = NULL;
	if (!mb) {
		size_t mbytes;
		int rc = dcc_tensor_size(DCC_MASK, 0, t->ndim, t->shape, &mbytes, err);
		if (rc || !(made = dcc_alloc_data(mbytes, 1))) {
			free(conv);
			return rc ? rc : dcc_fail(err, DCC_E_NOMEM, "out of memory");
		}
	}
	scan_job sj = {.v = v, .words = made ? made : (uint8_t *)mb, .make = made != NULL, .n = n, .bits = o->bits};
	sj.nt = n < ((size_t)1 << 20) ? 1 : dcc_default_threads();
	if (sj.nt > SCAN_MAX_THREADS)
		sj.nt = SCAN_MAX_THREADS;
	sj.pass = 0;
	dcc_parallel(sj.nt, scan_part, &sj);
	sj.make = 0;
	size_t alive = 0;
	for (int q = 0; q < sj.nt; q++)
		sj.at[q] = alive, alive += sj.cnt[q];
	if (!alive) {
		free(conv), free(made);
		return dcc_fail(err, DCC_E_RANGE, "'%s' has no surviving weights to share", p->tensor);
	}
	int K = 1 << o->bits, k = o->zero ? K - 1 : K;
	if (k < 1) {
		free(conv), free(made);
		return dcc_fail(err, DCC_E_RANGE, "'%s': --zero needs at least 2 bits", p->layer);
	}
	/* The survivors in x, sorted.  A pruned layer (a quarter or less
	 * survives) copies them and sorts through a second buffer (LSD radix,
	 * faster).  A denser one is copied and sorted in place; or, when its
	 * values can be read back (o->reread), gathered and sorted where it
	 * lies, its own buffer given up, so there is no second layer-sized copy. */
	int inplace = o->reread && !conv && alive > n / 4;
	float *x = NULL, *tmp = NULL, *own = NULL; /* own: x when it is a copy, freed here */
	if (inplace) { /* pass 1 on one thread, over the layer itself: each survivor moves down, never up */
		x = v;
		sj.x = x, sj.pass = 1;
		scan_range(&sj, 0, 0, n, v, 0);
	} else {
		x = own = dcc_alloc_data(alive * sizeof(float), 0);
		if (alive <= n / 4)
			tmp = dcc_alloc_data(alive * sizeof(float), 0);
	}
	double *c = malloc((size_t)k * sizeof(double)), *mid = malloc((size_t)k * sizeof(double));
	if (!x || !c || !mid) {
		free(own), free(tmp), free(c), free(mid), free(conv), free(made);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	if (!inplace) {
		sj.x = x;
		sj.pass = 1;
		dcc_parallel(sj.nt, scan_part, &sj);
	}
	dcc_sort_f32(x, alive, tmp);
	free(tmp);
	int rc = o->optimal ? dcc_kmeans1d_optimal(x, alive, k, c, st, err)
			    : dcc_kmeans1d(x, alive, k, o->init, o->seed, o->max_iter, c, st, err);
	if (rc) {
		free(own), free(c), free(mid), free(conv), free(made);
		return rc;
	}
	/* the stored codebook is float: assign and measure against it */
	float *cb = malloc((size_t)K * sizeof(float));
	if (!cb) {
		free(own), free(c), free(mid), free(conv), free(made);
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
	free(own);
	free(c);
	uint32_t off = o->zero ? 1 : 0;
	/* the index, then the mask when it was made here */
	dcc_tensor *ix;
	uint64_t shape[DCC_MAX_DIMS];
	int ndim = t->ndim;
	memcpy(shape, t->shape, sizeof(shape));
	snprintf(nm, sizeof(nm), "%s.index", p->tensor);
	if ((rc = dcc_model_add_zeros(m, nm, DCC_PACKED, o->bits, 0, ndim, shape, &ix, err))) {
		free(mid), free(cb), free(conv), free(made);
		return rc;
	}
	t = dcc_model_find(m, p->tensor); /* the table moved, not the data */
	if (!conv)
		v = t->data;
	sj.v = v, sj.out = ix->data, sj.fm = (float *)mid, sj.off = off;
	if (inplace)
		sj.o = o, sj.t = t;
	sj.pass = 2;
	dcc_parallel(sj.nt, scan_part, &sj);
	if (inplace) { /* what was read back must be what was loaded */
		uint32_t crc = 0;
		for (int q = 0; q < sj.nt && !rc; q++) {
			size_t lo, hi;
			dcc_chunk(n, 64, sj.nt, q, &lo, &hi);
			if (sj.rc[q])
				rc = dcc_fail(err, sj.rc[q], "%s", sj.err[q].msg);
			else if (hi > lo)
				crc = lo ? dcc_crc32c_combine(crc, sj.crc[q], (hi - lo) * sizeof(float)) : sj.crc[q];
		}
		if (!rc && crc != t->crc)
			rc = dcc_fail(err, DCC_E_CHECKSUM, "'%s' read back does not match what was loaded (changed on disk?)",
				      p->tensor);
		if (rc) {
			free(mid), free(cb), free(made);
			return rc;
		}
	}
	uint64_t nnz = 0;
	for (int q = 0; q < sj.nt; q++)
		nnz += sj.cnt[q];
	ix->nnz = nnz;
	free(mid);
	snprintf(nm, sizeof(nm), "%s.mask", p->tensor);
	if (made && (rc = dcc_model_add(m, nm, DCC_MASK, 0, 0, ndim, shape, made, err))) { /* it owns made */
		free(cb), free(conv);
		return rc;
	}
	free(conv);
	snprintf(nm, sizeof(nm), "%s.codebook", p->tensor);
	uint64_t kshape[1] = {(uint64_t)K};
	if ((rc = dcc_model_add(m, nm, DCC_F32, 0, 0, 1, kshape, cb, err)))
		return rc;
	dcc_model_remove(m, p->tensor);
	return 0;
}
