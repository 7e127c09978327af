/* kmeans.c: one-dimensional k-means.  The data is sorted once; a cluster
 * is then a run of the sorted values, found by binary search for the
 * midpoints between centroids, and its sum comes from prefix sums kept per
 * block of 64 values (n/8 bytes for both moments, not 16n).  The optimal
 * clustering is the dynamic programme over segments of Wang and Song
 * (Ckmeans.1d.dp) with divide-and-conquer on the monotone split point. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "../dcc_share.h"

static const char *const init_names[] = {"linear", "density", "random", "kmeans++"};

const char *dcc_init_name(int init)
{
	return init >= 0 && init < 4 ? init_names[init] : NULL;
}

int dcc_init_from_name(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (!strcmp(s, init_names[i]))
			return i;
	return -1;
}
/* ---- prefix sums by block ---- */

#define BLK 64

typedef struct psum {
	const float *x;
	size_t n;
	double *s1, *s2; /* sums over x[0 .. b*BLK) */
} psum;

static int psum_init(psum *p, const float *x, size_t n)
{
	size_t nb = n / BLK + 2;
	p->x = x;
	p->n = n;
	p->s1 = malloc(nb * sizeof(double));
	p->s2 = malloc(nb * sizeof(double));
	if (!p->s1 || !p->s2)
		return -1;
	double a = 0, b = 0;
	for (size_t i = 0, k = 0; k < nb; k++) {
		p->s1[k] = a;
		p->s2[k] = b;
		for (size_t e = i + BLK; i < e && i < n; i++) {
			a += x[i];
			b += (double)x[i] * x[i];
		}
	}
	return 0;
}

static void psum_free(psum *p)
{
	free(p->s1);
	free(p->s2);
}

static void prefix(const psum *p, size_t i, double *a, double *b)
{
	size_t k = i / BLK;
	double s = p->s1[k], q = p->s2[k];
	for (size_t j = k * BLK; j < i; j++) {
		s += p->x[j];
		q += (double)p->x[j] * p->x[j];
	}
	*a = s;
	*b = q;
}

/* First position with x >= v. */
static size_t lower_bound(const float *x, size_t n, double v)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if ((double)x[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Cluster boundaries of sorted centroids: b[0] = 0, b[k] = n. */
static void boundaries(const float *x, size_t n, const double *c, int k, size_t *b)
{
	b[0] = 0;
	b[k] = n;
	for (int j = 1; j < k; j++)
		b[j] = lower_bound(x, n, 0.5 * (c[j - 1] + c[j]));
}

/* The same boundaries found from the last iteration's (pb), which they
 * are near once Lloyd settles: a search galloping out from pb[j] touches
 * a few cache lines, not a binary search's twenty scattered ones. */
static void boundaries_near(const float *x, size_t n, const double *c, int k, const size_t *pb, size_t *b)
{
	b[0] = 0;
	b[k] = n;
	for (int j = 1; j < k; j++) {
		double v = 0.5 * (c[j - 1] + c[j]);
		size_t p = pb[j], lo, hi, step = 1;
		if (p < n && (double)x[p] < v) { /* the answer is above p */
			lo = p + 1;
			while (lo + step <= n && (double)x[lo + step - 1] < v)
				lo += step, step *= 2;
			hi = lo + step <= n ? lo + step - 1 : n;
		} else { /* at or below p */
			hi = p;
			while (hi >= step && (double)x[hi - step] >= v)
				hi -= step, step *= 2;
			lo = hi >= step ? hi - step + 1 : 0;
		}
		b[j] = lo + lower_bound(x + lo, hi - lo, v);
	}
}

double dcc_kmeans1d_sse(const float *x, size_t n, const double *c, int k)
{
	/* x ascending: the nearest centroid only moves up */
	double sse = 0;
	int j = 0;
	for (size_t i = 0; i < n; i++) {
		while (j + 1 < k && (double)x[i] >= 0.5 * (c[j] + c[j + 1]))
			j++;
		double d = (double)x[i] - c[j];
		sse += d * d;
	}
	return sse;
}

static void sort_d(double *c, int k)
{
	for (int i = 1; i < k; i++) {
		double v = c[i];
		int j = i;
		for (; j > 0 && c[j - 1] > v; j--)
			c[j] = c[j - 1];
		c[j] = v;
	}
}

/* At most k distinct values: the centroids are the values themselves. */
static int few_distinct(const float *x, size_t n, int k, double *c)
{
	int d = 0;
	for (size_t i = 0; i < n; i++)
		if (i == 0 || x[i] != x[i - 1]) {
			if (d == k)
				return 0;
			c[d++] = x[i];
		}
	for (int j = d; j < k; j++)
		c[j] = c[d - 1];
	return 1;
}

static void init_centroids(const float *x, size_t n, int k, int init, uint64_t seed, double *c)
{
	dcc_rng r;
	dcc_rng_seed(&r, seed);
	if (init == DCC_INIT_LINEAR) {
		for (int j = 0; j < k; j++)
			c[j] = k == 1 ? 0.5 * ((double)x[0] + x[n - 1]) : x[0] + ((double)x[n - 1] - x[0]) * j / (k - 1);
	} else if (init == DCC_INIT_DENSITY) { /* equal steps of the cumulative distribution */
		for (int j = 0; j < k; j++) {
			size_t i = (size_t)(((double)j + 0.5) * (double)n / k);
			c[j] = x[i < n ? i : n - 1];
		}
	} else if (init == DCC_INIT_RANDOM) {
		for (int j = 0; j < k; j++)
			c[j] = x[dcc_rng_next(&r) % n];
	} else { /* k-means++ (D^2 sampling) on an even subsample of at most 2^16 values */
		size_t step = n > 65536 ? n / 65536 : 1, m = (n + step - 1) / step;
		double *d2 = malloc(m * sizeof(double));
		c[0] = x[(dcc_rng_next(&r) % m) * step];
		for (int j = 1; j < k; j++) {
			double tot = 0;
			for (size_t i = 0; i < m; i++) {
				double best = INFINITY;
				for (int q = 0; q < j; q++) {
					double d = (double)x[i * step] - c[q];
					if (d * d < best)
						best = d * d;
				}
				if (d2)
					d2[i] = best;
				tot += best;
			}
			double u = dcc_rng_uniform(&r) * tot, acc = 0;
			size_t pick = m - 1;
			for (size_t i = 0; d2 && i < m; i++) {
				acc += d2[i];
				if (acc > u) {
					pick = i;
					break;
				}
			}
			c[j] = x[pick * step];
		}
		free(d2);
	}
	sort_d(c, k);
}

/* An empty cluster's centroid moves to the value farthest from its own
 * centroid (as scikit-learn relocates them); in one dimension that value
 * is the end of some cluster's run.  Pruned layers need this: a linear
 * initialisation puts centroids in the gap the pruning left. */
static void relocate_empty(const float *x, double *c, int k, const size_t *b)
{
	for (int e = 0; e < k; e++) {
		if (b[e + 1] > b[e])
			continue;
		double far = -1;
		size_t at = 0;
		for (int j = 0; j < k; j++) {
			if (b[j + 1] <= b[j])
				continue;
			size_t ends[2] = {b[j], b[j + 1] - 1};
			for (int q = 0; q < 2; q++) {
				double d = fabs((double)x[ends[q]] - c[j]);
				int taken = 0; /* not a value another empty centroid took */
				for (int o = 0; o < e; o++)
					taken |= b[o + 1] <= b[o] && c[o] == (double)x[ends[q]];
				if (d > far && !taken) {
					far = d;
					at = ends[q];
				}
			}
		}
		if (far > 0)
			c[e] = x[at];
	}
}

int dcc_kmeans1d(const float *x, size_t n, int k, int init, uint64_t seed, int max_iter, double *c,
		 dcc_kmeans_stats *st, dcc_error *err)
{
	memset(st, 0, sizeof(*st));
	if (n == 0 || k < 1)
		return dcc_fail(err, DCC_E_RANGE, "k-means needs at least one value and one cluster");
	if (few_distinct(x, n, k, c)) {
		st->distinct_le_k = 1;
		return 0;
	}
	init_centroids(x, n, k, init, seed, c);
	psum p;
	size_t *b = malloc(((size_t)k + 1) * sizeof(size_t)), *pb = malloc(((size_t)k + 1) * sizeof(size_t));
	if (psum_init(&p, x, n) || !b || !pb) {
		psum_free(&p);
		free(b), free(pb);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	if (max_iter <= 0)
		max_iter = 10000;
	boundaries(x, n, c, k, pb);
	for (int it = 0; it < max_iter; it++) {
		double s_lo, q_lo, s_hi, q_hi;
		prefix(&p, 0, &s_lo, &q_lo);
		int empty = 0;
		for (int j = 0; j < k; j++) {
			prefix(&p, pb[j + 1], &s_hi, &q_hi);
			if (pb[j + 1] > pb[j])
				c[j] = (s_hi - s_lo) / (double)(pb[j + 1] - pb[j]);
			else
				empty = 1;
			s_lo = s_hi;
		}
		if (empty)
			relocate_empty(x, c, k, pb);
		sort_d(c, k);
		st->iterations = it + 1;
		boundaries_near(x, n, c, k, pb, b);
		if (!memcmp(b, pb, ((size_t)k + 1) * sizeof(size_t)))
			break;
		memcpy(pb, b, ((size_t)k + 1) * sizeof(size_t));
	}
	st->sse = 0;
	for (int j = 0; j < k; j++) { /* with the final boundaries: nearest centroid */
		double s0, q0, s1, q1;
		prefix(&p, b[j], &s0, &q0);
		prefix(&p, b[j + 1], &s1, &q1);
		double cnt = (double)(b[j + 1] - b[j]), s = s1 - s0, q = q1 - q0;
		st->sse += q - 2 * c[j] * s + cnt * c[j] * c[j];
	}
	if (st->sse < 0)
		st->sse = 0;
	psum_free(&p);
	free(b), free(pb);
	return 0;
}

/* ---- optimal: dynamic programming over segments of the sorted data ---- */

typedef struct dp {
	const double *s1, *s2;
	const double *prev; /* D[m-1][j]: best cost of x[0..j) in m-1 clusters */
	double *cur;
	uint32_t *arg;
	int first;          /* m == 1: one segment from 0 */
} dp;

static inline double seg_cost(const dp *d, size_t a, size_t b)
{
	double s = d->s1[b] - d->s1[a], q = d->s2[b] - d->s2[a];
	double v = q - s * s / (double)(b - a);
	return v > 0 ? v : 0;
}

/* D[m][i] for i in [lo, hi], the split j (start of the last segment) in
 * [jlo, jhi]; the optimal split is monotone in i. */
static void solve(dp *d, size_t lo, size_t hi, size_t jlo, size_t jhi)
{
	while (lo <= hi) {
		size_t i = lo + (hi - lo) / 2, best_j = jlo, top = jhi < i - 1 ? jhi : i - 1;
		double best = INFINITY;
		for (size_t j = jlo; j <= top; j++) {
			double v = d->prev[j] + seg_cost(d, j, i);
			if (v < best) {
				best = v;
				best_j = j;
			}
		}
		d->cur[i] = best;
		d->arg[i] = (uint32_t)best_j;
		if (i > lo)
			solve(d, lo, i - 1, jlo, best_j);
		lo = i + 1; /* the right half iteratively */
		jlo = best_j;
	}
}

int dcc_kmeans1d_optimal(const float *x, size_t n, int k, double *c, dcc_kmeans_stats *st, dcc_error *err)
{
	memset(st, 0, sizeof(*st));
	if (n == 0 || k < 1)
		return dcc_fail(err, DCC_E_RANGE, "k-means needs at least one value and one cluster");
	if (few_distinct(x, n, k, c)) {
		st->distinct_le_k = 1;
		return 0;
	}
	if (n >= UINT32_MAX || (double)k * (double)(n + 1) * 4 > 8e9)
		return dcc_fail(err, DCC_E_RANGE,
				"%zu weights in %d clusters is too large for the optimal clustering (%.1f GB of split points): use Lloyd",
				n, k, (double)k * (double)(n + 1) * 4 / 1e9);
	double *s1 = malloc((n + 1) * sizeof(double)), *s2 = malloc((n + 1) * sizeof(double));
	double *da = malloc((n + 1) * sizeof(double)), *db = malloc((n + 1) * sizeof(double));
	uint32_t *arg = malloc((size_t)k * (n + 1) * sizeof(uint32_t));
	if (!s1 || !s2 || !da || !db || !arg) {
		free(s1), free(s2), free(da), free(db), free(arg);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	s1[0] = s2[0] = 0;
	for (size_t i = 0; i < n; i++) {
		s1[i + 1] = s1[i] + x[i];
		s2[i + 1] = s2[i] + (double)x[i] * x[i];
	}
	dp d = {s1, s2, NULL, NULL, NULL, 1};
	for (size_t i = 1; i <= n; i++) {
		d.prev = NULL;
		da[i] = seg_cost(&d, 0, i);
		arg[i] = 0;
	}
	da[0] = 0;
	for (int m = 2; m <= k; m++) {
		d.prev = da;
		d.cur = db;
		d.arg = arg + (size_t)(m - 1) * (n + 1);
		for (size_t i = 0; i < (size_t)m; i++)
			db[i] = INFINITY;
		/* m clusters over x[0..i): i >= m, the last segment starts at j >= m - 1 */
		solve(&d, (size_t)m, n, (size_t)m - 1, n - 1);
		double *t = da;
		da = db;
		db = t;
	}
	size_t i = n;
	for (int m = k; m >= 1; m--) {
		size_t j = m == 1 ? 0 : arg[(size_t)(m - 1) * (n + 1) + i];
		c[m - 1] = (s1[i] - s1[j]) / (double)(i - j);
		i = j;
	}
	st->sse = da[n] > 0 ? da[n] : 0;
	free(s1), free(s2), free(da), free(db), free(arg);
	sort_d(c, k);
	return 0;
}
