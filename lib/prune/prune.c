/* prune.c: magnitude pruning with exact counts.  Selection is a radix select
 * on the bits of |w| (non-negative IEEE floats order like their bit
 * patterns), three histogram passes and no copy, so a 100M-weight layer
 * needs no more memory than itself and its mask. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "../dcc_prune.h"

/* ---- masks ---- */

static int mask_of(dcc_model *m, const char *tensor, const dcc_tensor *w, uint8_t **mask, dcc_error *err)
{
	char nm[DCC_MAX_NAME + 8];
	snprintf(nm, sizeof(nm), "%s.mask", tensor);
	dcc_tensor *mk = dcc_model_find(m, nm);
	if (mk) {
		if (mk->dtype != DCC_MASK || dcc_tensor_numel(mk) != dcc_tensor_numel(w))
			return dcc_fail(err, DCC_E_SHAPE, "mask '%s' does not match its tensor", nm);
		*mask = mk->data;
		return 0;
	}
	uint64_t n = dcc_tensor_numel(w); /* before the add, which may move w */
	int rc = dcc_model_add_zeros(m, nm, DCC_MASK, 0, 0, w->ndim, w->shape, &mk, err);
	if (rc)
		return rc;
	memset(mk->data, 0xff, mk->nbytes);
	if (n % 8) /* padding bits stay zero, as formats/dct.md requires */
		((uint8_t *)mk->data)[mk->nbytes - 1] = (uint8_t)((1u << (n % 8)) - 1);
	*mask = mk->data;
	return 0;
}

static inline int kept(const uint8_t *mask, size_t i) { return (mask[i / 8] >> (i % 8)) & 1; }
static inline void cut(uint8_t *mask, size_t i) { mask[i / 8] &= (uint8_t)~(1u << (i % 8)); }

/* The weight as f32: f64 tensors of a bare container are converted in place. */
static int weight_f32(dcc_model *m, const char *name, dcc_tensor **out, dcc_error *err)
{
	dcc_tensor *t = dcc_model_find(m, name);
	char nm[DCC_MAX_NAME + 16];
	snprintf(nm, sizeof(nm), "%s.index", name);
	if (!t && dcc_model_find(m, nm))
		return dcc_fail(err, DCC_E_UNSUPPORTED, "'%s' is shared (codebook and index): prune before dcc share", name);
	if (!t)
		return dcc_fail(err, DCC_E_NOTFOUND, "tensor '%s' is missing", name);
	if (t->dtype == DCC_F64) {
		uint64_t n = dcc_tensor_numel(t);
		float *f = malloc(n ? n * sizeof(float) : 1);
		if (!f)
			return dcc_fail(err, DCC_E_NOMEM, "out of memory");
		for (uint64_t i = 0; i < n; i++)
			f[i] = (float)((const double *)t->data)[i];
		uint64_t shape[DCC_MAX_DIMS];
		memcpy(shape, t->shape, sizeof(shape));
		int rc = dcc_model_add(m, name, DCC_F32, 0, 0, t->ndim, shape, f, err);
		if (rc)
			return rc;
		t = dcc_model_find(m, name);
	}
	if (t->dtype != DCC_F32)
		return dcc_fail(err, DCC_E_UNSUPPORTED, "'%s' is %s; pruning works on float weights", name,
				dcc_dtype_name(t->dtype));
	*out = t;
	return 0;
}

/* Zeroes masked weights after the mask changed. */
static void apply(float *w, const uint8_t *mask, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!kept(mask, i))
			w[i] = 0.0f;
}

/* Cuts the k smallest |w| among positions idx[0..n) of w (or base + 0..n
 * when idx is NULL), masked weights counting as zero; ties go to the lower
 * position. */
static void cut_smallest(float *w, uint8_t *mask, const size_t *idx, size_t base, size_t n, size_t k, float *scratch)
{
	if (k == 0 || n == 0)
		return;
	for (size_t i = 0; i < n; i++) {
		size_t j = idx ? idx[i] : base + i;
		scratch[i] = kept(mask, j) ? w[j] : 0.0f;
	}
	if (k >= n) {
		for (size_t i = 0; i < n; i++)
			cut(mask, idx ? idx[i] : base + i);
		return;
	}
	uint32_t t = dcc_abs_key(dcc_select_abs(scratch, n, k - 1));
	size_t below = 0;
	for (size_t i = 0; i < n; i++)
		below += dcc_abs_key(scratch[i]) < t;
	size_t ties = k - below;
	for (size_t i = 0; i < n; i++) {
		uint32_t u = dcc_abs_key(scratch[i]);
		if (u < t || (u == t && ties && ties--))
			cut(mask, idx ? idx[i] : base + i);
	}
}

/* The unstructured cut of a whole tensor in three passes over it, each
 * split over the cores: a histogram of the top 11 bits of every |w|'s key
 * (masked weights count as zero); the candidates in the bin that holds the
 * k-th smallest, with their positions, from which the threshold key t and
 * the ties come; then one pass that cuts every kept weight whose key is
 * below t in the mask, zeroes it (and every weight masked before) and
 * counts the nonzero survivors.  Ties at t are cut in position order, as
 * cut_smallest does, and the result is the same. */
typedef struct cut_job {
	float *w;
	uint8_t *mask;
	size_t n;
	int nt, pass;
	uint32_t bin, t;
	uint64_t *hist;   /* nt x 2048 */
	size_t *cand_at;  /* per thread: where its candidates start */
	float *cabs;      /* candidates' |w| (masked: 0), whose bits are their keys */
	size_t *cpos;
	uint64_t *nnz;    /* per thread */
} cut_job;

static inline uint32_t masked_key(const cut_job *j, size_t i) { return kept(j->mask, i) ? dcc_abs_key(j->w[i]) : 0; }

static void cut_part(void *arg, int t)
{
	cut_job *j = arg;
	size_t lo, hi;
	dcc_chunk(j->n, 8, j->nt, t, &lo, &hi);
	if (j->pass == 0) {
		uint64_t *h = j->hist + (size_t)t * 2048;
		for (size_t i = lo; i < hi; i++)
			h[masked_key(j, i) >> 21]++;
	} else if (j->pass == 1) {
		size_t c = j->cand_at[t];
		for (size_t i = lo; i < hi; i++) {
			uint32_t u = masked_key(j, i);
			if (u >> 21 == j->bin)
				memcpy(&j->cabs[c], &u, 4), j->cpos[c++] = i;
		}
	} else {
		uint64_t nz = 0;
		for (size_t b = lo / 8; b * 8 < hi; b++) { /* a byte of the mask at a time */
			uint8_t old = j->mask[b], keep = 0;
			size_t e = b * 8 + 8 < hi ? b * 8 + 8 : hi;
			for (size_t i = b * 8; i < e; i++) {
				uint32_t u = ((old >> (i - b * 8)) & 1) ? dcc_abs_key(j->w[i]) : 0;
				keep |= (uint8_t)((u >= j->t) << (i - b * 8));
			}
			keep &= old;
			j->mask[b] = keep;
			for (size_t i = b * 8; i < e; i++) {
				j->w[i] = (keep >> (i - b * 8)) & 1 ? j->w[i] : 0.0f;
				nz += j->w[i] != 0.0f;
			}
		}
		j->nnz[t] = nz;
	}
}

static int cut_unstructured(float *w, uint8_t *mask, size_t n, size_t k, uint64_t *nnz, dcc_error *err)
{
	int nt = n < ((size_t)1 << 20) ? 1 : dcc_default_threads();
	nt = nt < 1 ? 1 : nt > 64 ? 64 : nt;
	cut_job j = {w, mask, n, nt, 0, 0, 0, calloc((size_t)nt * 2048, sizeof(uint64_t)), calloc((size_t)nt + 1, sizeof(size_t)),
		     NULL, NULL, calloc((size_t)nt, sizeof(uint64_t))};
	int rc = j.hist && j.cand_at && j.nnz ? 0 : dcc_fail(err, DCC_E_NOMEM, "out of memory");
	*nnz = 0;
	if (!rc && (k == 0 || n == 0)) { /* nothing more to cut: zero what the mask cut, count */
		j.pass = 2;
		dcc_parallel(nt, cut_part, &j);
	} else if (!rc) {
		dcc_parallel(nt, cut_part, &j);
		/* the bin of the k-th smallest (index k - 1) */
		uint64_t below = 0, want = k > n ? n - 1 : k - 1;
		uint32_t b = 0;
		for (;; b++) {
			uint64_t hb = 0;
			for (int t = 0; t < nt; t++)
				hb += j.hist[(size_t)t * 2048 + b];
			if (below + hb > want || b == 2047)
				break;
			below += hb;
		}
		size_t nc = 0;
		for (int t = 0; t < nt; t++)
			j.cand_at[t] = nc, nc += j.hist[(size_t)t * 2048 + b];
		j.bin = b;
		j.cabs = malloc((nc ? nc : 1) * sizeof(float));
		j.cpos = malloc((nc ? nc : 1) * sizeof(size_t));
		if (!j.cabs || !j.cpos)
			rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
		if (!rc) {
			j.pass = 1;
			dcc_parallel(nt, cut_part, &j); /* candidates, in position order */
			/* t: the (want - below)-th smallest candidate key */
			j.t = dcc_abs_key(dcc_select_abs(j.cabs, nc, (size_t)(want - below)));
			size_t less = 0;
			for (size_t c = 0; c < nc; c++)
				less += dcc_abs_key(j.cabs[c]) < j.t;
			size_t ties = (size_t)(want + 1 - below) - less; /* keys equal to t that are cut */
			j.pass = 2;
			dcc_parallel(nt, cut_part, &j); /* cuts every key < t ... */
			for (size_t c = 0; c < nc && ties; c++) /* ... and the first ties keys == t */
				if (dcc_abs_key(j.cabs[c]) == j.t) {
					cut(mask, j.cpos[c]);
					*nnz -= w[j.cpos[c]] != 0.0f; /* counted as a survivor below */
					w[j.cpos[c]] = 0.0f;
					ties--;
				}
		}
	}
	for (int t = 0; !rc && t < nt; t++)
		*nnz += j.nnz[t];
	free(j.hist), free(j.cand_at), free(j.cabs), free(j.cpos), free(j.nnz);
	return rc;
}

int dcc_prune_tensor(dcc_model *m, const dcc_prunable *p, double sparsity, const dcc_prune_spec *s,
		     dcc_error *err)
{
	if (!(sparsity >= 0 && sparsity < 1))
		return dcc_fail(err, DCC_E_RANGE, "'%s': sparsity %g is outside [0, 1)", p->layer, sparsity);
	dcc_tensor *t;
	uint8_t *mask;
	int rc = weight_f32(m, p->tensor, &t, err);
	if (!rc)
		rc = mask_of(m, p->tensor, t, &mask, err);
	if (rc)
		return rc;
	t = dcc_model_find(m, p->tensor); /* adding the mask may have moved the tensors */
	float *w = t->data;
	size_t n = (size_t)dcc_tensor_numel(t), rows = p->rows, cols = n / (rows ? rows : 1);
	if (s->pattern == DCC_PATTERN_UNSTRUCTURED) { /* it zeroes and counts on its own */
		uint64_t nz;
		if ((rc = cut_unstructured(w, mask, n, (size_t)llround(sparsity * (double)n), &nz, err)))
			return rc;
		t->nnz = nz;
		return 0;
	}
	apply(w, mask, n);
	if (s->pattern == DCC_PATTERN_BANK) {
		size_t B = (size_t)s->bank;
		if (B < 1 || B > cols)
			return dcc_fail(err, DCC_E_RANGE, "'%s': bank size %zu is outside 1..%zu (the row length)", p->tensor, B, cols);
		size_t keep = (size_t)llround((double)B * (1.0 - sparsity));
		float *scratch = malloc(B * sizeof(float));
		if (!scratch)
			return dcc_fail(err, DCC_E_NOMEM, "out of memory");
		for (size_t r = 0; r < rows; r++)
			for (size_t b0 = 0; b0 < cols; b0 += B) {
				size_t len = cols - b0 < B ? cols - b0 : B;
				size_t kp = len == B ? keep : (size_t)llround((double)len * (1.0 - sparsity));
				cut_smallest(w, mask, NULL, r * cols + b0, len, len - kp, scratch);
			}
		free(scratch);
	} else {
		size_t P = (size_t)s->pes;
		if (P < 1)
			return dcc_fail(err, DCC_E_RANGE, "'%s': %zu PEs (at least 1)", p->layer, P);
		if (P > rows) /* PE i holds row i alone and the rest none: balance the rows */
			P = rows;
		size_t keep = (size_t)llround((double)n * (1.0 - sparsity) / (double)P);
		size_t maxn = ((rows + P - 1) / P) * cols;
		size_t *idx = malloc(maxn * sizeof(size_t));
		float *scratch = malloc(maxn * sizeof(float));
		if (!idx || !scratch) {
			free(idx);
			free(scratch);
			return dcc_fail(err, DCC_E_NOMEM, "out of memory");
		}
		for (size_t pe = 0; pe < P; pe++) {
			size_t cnt = 0;
			for (size_t r = pe; r < rows; r += P)
				for (size_t c = 0; c < cols; c++)
					idx[cnt++] = r * cols + c;
			if (keep > cnt) {
				free(idx);
				free(scratch);
				return dcc_fail(err, DCC_E_RANGE, "'%s': PE %zu has %zu weights, fewer than the %zu each PE keeps",
						p->layer, pe, cnt, keep);
			}
			cut_smallest(w, mask, idx, 0, cnt, cnt - keep, scratch);
		}
		free(idx);
		free(scratch);
	}
	apply(w, mask, n);
	t->nnz = dcc_tensor_count_nonzero(t);
	return 0;
}

int dcc_prune_std(dcc_model *m, const dcc_prunable *p, double q, dcc_error *err)
{
	if (!(q >= 0 && q < 100))
		return dcc_fail(err, DCC_E_RANGE, "'%s': std factor %g is outside [0, 100)", p->layer, q);
	dcc_tensor *t;
	uint8_t *mask;
	int rc = weight_f32(m, p->tensor, &t, err);
	if (!rc)
		rc = mask_of(m, p->tensor, t, &mask, err);
	if (rc)
		return rc;
	t = dcc_model_find(m, p->tensor); /* adding the mask may have moved the tensors */
	float *w = t->data;
	size_t n = (size_t)dcc_tensor_numel(t), alive = 0;
	double s1 = 0, s2 = 0;
	for (size_t i = 0; i < n; i++)
		if (kept(mask, i)) {
			s1 += w[i];
			s2 += (double)w[i] * w[i];
			alive++;
		}
	if (!alive)
		return 0;
	double mean = s1 / (double)alive, sd = sqrt(fmax(0.0, s2 / (double)alive - mean * mean));
	float th = (float)(q * sd);
	for (size_t i = 0; i < n; i++)
		if (fabsf(w[i]) < th)
			cut(mask, i);
	apply(w, mask, n);
	t->nnz = dcc_tensor_count_nonzero(t);
	return 0;
}

int dcc_prune_global(dcc_model *m, const dcc_prunable *p, size_t n, double sparsity, dcc_error *err)
{
	if (!(sparsity >= 0 && sparsity < 1))
		return dcc_fail(err, DCC_E_RANGE, "global sparsity %g is outside [0, 1)", sparsity);
	dcc_fspan *s = calloc(n ? n : 1, sizeof(dcc_fspan));
	uint8_t **masks = calloc(n ? n : 1, sizeof(uint8_t *));
	int rc = s && masks ? 0 : dcc_fail(err, DCC_E_NOMEM, "out of memory");
	uint64_t total = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		dcc_tensor *t;
		rc = weight_f32(m, p[i].tensor, &t, err);
		if (!rc)
			rc = mask_of(m, p[i].tensor, t, &masks[i], err);
		if (!rc) {
			t = dcc_model_find(m, p[i].tensor); /* the mask's add may have moved it */
			s[i].x = t->data;
			s[i].n = (size_t)dcc_tensor_numel(t);
			apply(t->data, masks[i], s[i].n);
			total += s[i].n;
		}
	}
	uint64_t k = (uint64_t)llround(sparsity * (double)total);
	if (!rc && k > 0) {
		uint32_t th = dcc_select_abs_key(s, n, k - 1);
		uint64_t below = 0;
		for (size_t j = 0; j < n; j++)
			for (size_t i = 0; i < s[j].n; i++)
				below += dcc_abs_key(s[j].x[i]) < th;
		uint64_t ties = k - below;
		for (size_t j = 0; j < n; j++) {
			for (size_t i = 0; i < s[j].n; i++) {
				uint32_t u = dcc_abs_key(s[j].x[i]);
				if (u < th || (u == th && ties && ties--))
					cut(masks[j], i);
			}
			apply((float *)s[j].x, masks[j], s[j].n);
			dcc_model_find(m, p[j].tensor)->nnz = dcc_tensor_count_nonzero(dcc_model_find(m, p[j].tensor));
		}
	}
	free(s);
	free(masks);
	return rc;
}

void dcc_unprune(dcc_model *m, const dcc_prunable *p, size_t n)
{
	char nm[DCC_MAX_NAME + 16];
	for (size_t i = 0; i < n; i++) {
		dcc_model_remove(m, dcc_part_name(nm, sizeof(nm), p[i].tensor, DCC_PART_MASK));
		dcc_model_set_bank(m, p[i].tensor, 0, NULL);
	}
}

uint64_t dcc_weight_zeros(const dcc_model *m, const char *tensor)
{
	const dcc_tensor *t = dcc_model_find(m, tensor);
	if (!t || !t->data)
		return 0;
	return dcc_tensor_numel(t) - dcc_tensor_count_nonzero(t);
}
