/* test_share.c: the shared sorting and selection (lib/core) and weight
 * sharing's clustering against brute force: the radix select and radix sort
 * against qsort, the optimal
 * dynamic programme against every contiguous partition, Lloyd's result a
 * local optimum never better than the optimum, and dcc_share_tensor's
 * stored form (zeros stay zero, indices in range, nearest centroids). */
#include <math.h>
#include <stdlib.h>

#include "../../lib/dcc_prune.h"
#include "../../lib/dcc_share.h"
#include "check.h"

static unsigned long long seed = 777;
static double urand(void) { return (double)(check_rng(&seed) >> 11) * 0x1.0p-53; }

static int cmp_f(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}
static int cmp_abs(const void *a, const void *b)
{
	float x = fabsf(*(const float *)a), y = fabsf(*(const float *)b);
	return (x > y) - (x < y);
}

static void test_big_sort(void)
{
	/* above 2^20 values the buckets of the first pass sort in parallel */
	size_t n = (1u << 21) + 12345;
	float *x = malloc(n * sizeof(float)), *y = malloc(n * sizeof(float)), *z = malloc(n * sizeof(float)),
	      *tmp = malloc(n * sizeof(float));
	for (size_t i = 0; i < n; i++)
		x[i] = (float)((urand() - 0.5) * (i % 5 ? 0.01 : 100));
	memcpy(y, x, n * sizeof(float));
	memcpy(z, x, n * sizeof(float));
	qsort(y, n, sizeof(float), cmp_f);
	dcc_sort_f32(x, n, NULL);
	CHECK(!memcmp(x, y, n * sizeof(float)));
	dcc_sort_f32(z, n, tmp); /* the LSD sort through a buffer */
	CHECK(!memcmp(z, y, n * sizeof(float)));
	free(x), free(y), free(z), free(tmp);
}

static void test_select_sort(void)
{
	enum { N = 5000 };
	static float x[N], y[N], z[N], tmp[N];
	for (int round = 0; round < 20; round++) {
		int n = 1 + (int)(urand() * N);
		for (int i = 0; i < n; i++) /* few distinct values in some rounds: ties */
			x[i] = round % 3 ? (float)(urand() * 2 - 1) : (float)((int)(urand() * 7) - 3) * 0.25f;
		if (n > 2)
			x[1] = -0.0f, x[2] = 0.0f;
		memcpy(y, x, (size_t)n * sizeof(float));
		qsort(y, (size_t)n, sizeof(float), cmp_abs);
		int k = (int)(urand() * n);
		CHECK_MSG(fabsf(dcc_select_abs(x, (size_t)n, (size_t)k)) == fabsf(y[k]), "n=%d k=%d", n, k);
		memcpy(y, x, (size_t)n * sizeof(float));
		qsort(y, (size_t)n, sizeof(float), cmp_f);
		memcpy(z, x, (size_t)n * sizeof(float));
		dcc_sort_f32(x, (size_t)n, NULL);
		dcc_sort_f32(z, (size_t)n, tmp);
		int same = 1;
		for (int i = 0; i < n; i++)
			same &= x[i] == y[i] && !memcmp(&x[i], &z[i], 4); /* -0 and +0 in the same order */
		CHECK_MSG(same, "sort n=%d", n);
	}
}

/* The least squared error over all partitions of sorted x into k runs. */
static double brute(const float *x, int n, int k, int start)
{
	if (k == 1) {
		double s = 0, q = 0;
		for (int i = start; i < n; i++)
			s += x[i], q += (double)x[i] * x[i];
		return q - s * s / (n - start);
	}
	double best = INFINITY;
	for (int end = start + 1; end <= n - (k - 1); end++) {
		double s = 0, q = 0;
		for (int i = start; i < end; i++)
			s += x[i], q += (double)x[i] * x[i];
		double v = q - s * s / (end - start) + brute(x, n, k - 1, end);
		if (v < best)
			best = v;
	}
	return best;
}

static void test_kmeans(void)
{
	float x[14];
	double c[8], c2[8];
	dcc_error e = {0};
	for (int round = 0; round < 200; round++) {
		int n = 4 + (int)(urand() * 10), k = 2 + (int)(urand() * 3);
		for (int i = 0; i < n; i++)
			x[i] = (float)(round % 4 ? urand() * 4 - 2 : (int)(urand() * 9));
		dcc_sort_f32(x, (size_t)n, NULL);
		int distinct = 1;
		for (int i = 1; i < n; i++)
			distinct += x[i] != x[i - 1];
		dcc_kmeans_stats so, sl;
		CHECK(!dcc_kmeans1d_optimal(x, (size_t)n, k, c, &so, &e));
		double opt = distinct <= k ? 0 : brute(x, n, k, 0);
		if (opt < 0)
			opt = 0;
		CHECK_MSG(fabs(so.sse - opt) <= 1e-9 * (1 + opt), "round %d: dp %.12g brute %.12g", round, so.sse, opt);
		CHECK(fabs(dcc_kmeans1d_sse(x, (size_t)n, c, k) - opt) <= 1e-9 * (1 + opt));
		for (int init = 0; init < 4; init++) {
			CHECK(!dcc_kmeans1d(x, (size_t)n, k, init, (uint64_t)round, 0, c2, &sl, &e));
			CHECK_MSG(sl.sse >= opt - 1e-9 * (1 + opt), "lloyd %.12g below the optimum %.12g", sl.sse, opt);
			/* a fixed point of Lloyd: every centroid with points is their mean */
			double sum[8] = {0};
			int cnt[8] = {0};
			for (int i = 0; i < n; i++) {
				int best = 0;
				for (int j = 1; j < k; j++)
					if ((double)x[i] >= 0.5 * (c2[j - 1] + c2[j]))
						best = j;
				sum[best] += x[i];
				cnt[best]++;
			}
			for (int j = 0; j < k; j++)
				if (cnt[j] && !sl.distinct_le_k)
					CHECK_MSG(fabs(sum[j] / cnt[j] - c2[j]) < 1e-9, "round %d init %d centroid %d", round,
						  init, j);
			for (int j = 1; j < k; j++)
				CHECK(c2[j - 1] <= c2[j]);
		}
	}
	/* no more distinct values than clusters: the values, exactly */
	float few[6] = {-1, -1, 0.5f, 0.5f, 0.5f, 2};
	dcc_kmeans_stats s;
	CHECK(!dcc_kmeans1d(few, 6, 4, DCC_INIT_LINEAR, 1, 0, c, &s, &e) && s.distinct_le_k && s.sse == 0);
	CHECK(c[0] == -1 && c[1] == 0.5 && c[2] == 2 && c[3] == 2);
	CHECK_ERR(dcc_kmeans1d(few, 0, 4, 0, 1, 0, c, &s, &e), e, DCC_E_RANGE, "at least one value");
}

static void test_share_tensor(void)
{
	dcc_model *m = dcc_model_new();
	dcc_error e = {0};
	uint64_t shape[2] = {20, 30};
	dcc_tensor *t;
	CHECK(!dcc_model_add_zeros(m, "w", DCC_F32, 0, 0, 2, shape, &t, &e));
	float *w = t->data, orig[600];
	for (int i = 0; i < 600; i++)
		w[i] = i % 3 ? (float)(urand() * 2 - 1) : 0.0f; /* a third pruned */
	memcpy(orig, w, sizeof(orig));
	dcc_prunable p = {"w", "w", 0, 0, 20, 30};
	dcc_share_opts o = {3, DCC_INIT_LINEAR, 0, 0, 1};
	dcc_kmeans_stats st;
	CHECK(!dcc_share_tensor(m, &p, &o, &st, &e));
	CHECK(dcc_model_find(m, "w") == NULL);
	dcc_tensor *cb = dcc_model_find(m, "w.codebook"), *ix = dcc_model_find(m, "w.index"),
		   *mk = dcc_model_find(m, "w.mask");
	CHECK(cb && ix && mk && cb->shape[0] == 8 && ix->dtype == DCC_PACKED && ix->bits == 3 && mk->dtype == DCC_MASK);
	float *d;
	CHECK(!dcc_shared_dequantize(m, "w", &d, &e));
	double sse = 0;
	int zeros_ok = 1, nearest_ok = 1;
	const float *c = cb->data;
	for (int i = 0; i < 600; i++) {
		if (orig[i] == 0) {
			zeros_ok &= d[i] == 0;
			continue;
		}
		uint32_t j = dcc_packed_get(ix->data, 3, (uint64_t)i);
		for (int q = 0; q < 8; q++)
			nearest_ok &= fabsf(orig[i] - c[q]) >= fabsf(orig[i] - c[j]);
		sse += ((double)orig[i] - d[i]) * ((double)orig[i] - d[i]);
	}
	CHECK(zeros_ok && nearest_ok);
	CHECK_MSG(fabs(sse - st.sse) < 1e-9 * (1 + sse), "sse %g reported %g", sse, st.sse);
	free(d);
	CHECK_ERR(dcc_share_tensor(m, &p, &o, &st, &e), e, DCC_E_UNSUPPORTED, "already shared");
	CHECK(!dcc_model_add_zeros(m, "z", DCC_F32, 0, 0, 2, shape, &t, &e));
	dcc_prunable pz = {"z", "z", 0, 0, 20, 30};
	CHECK_ERR(dcc_share_tensor(m, &pz, &o, &st, &e), e, DCC_E_RANGE, "no surviving weights");
	o.bits = 17;
	CHECK_ERR(dcc_share_tensor(m, &pz, &o, &st, &e), e, DCC_E_RANGE, "1 to 16");
	dcc_model_free(m);
}

/* A dense layer sorted where it lies, its values read back for the index
 * pass: the same bytes as the copying path; a read-back that differs from
 * what was loaded, or fails, is an error, not a wrong index. */
typedef struct fake_file {
	const float *src;
	size_t flip; /* flip this weight's sign when read back (SIZE_MAX: none) */
	int fail;
} fake_file;

static int fake_reread(void *ctx, const dcc_tensor *t, uint64_t off, float *dst, size_t n, dcc_error *err)
{
	const fake_file *f = ctx;
	if (f->fail)
		return dcc_fail(err, DCC_E_IO, "'%s': reading it back: gone", t->name);
	memcpy(dst, f->src + off, n * sizeof(float));
	if (f->flip >= off && f->flip < off + n)
		dst[f->flip - off] = -dst[f->flip - off];
	return 0;
}

static dcc_model *dense_model(const float *src, size_t rows, size_t cols)
{
	dcc_model *m = dcc_model_new();
	dcc_error e = {0};
	uint64_t shape[2] = {rows, cols};
	dcc_tensor *t;
	CHECK(!dcc_model_add_zeros(m, "w", DCC_F32, 0, 0, 2, shape, &t, &e));
	memcpy(t->data, src, t->nbytes);
	t->crc = dcc_crc32c(0, t->data, t->nbytes); /* as a loaded tensor's */
	return m;
}

static void test_share_reread(void)
{
	size_t rows = 1100, cols = 1000, n = rows * cols;
	float *src = malloc(n * sizeof(float));
	for (size_t i = 0; i < n; i++)
		src[i] = urand() < 0.4 ? 0.0f : (float)(urand() * 2 - 1);
	dcc_prunable p = {"w", "w", 0, 0, rows, cols};
	dcc_error e = {0};
	dcc_kmeans_stats s1, s2;
	for (int bits = 4; bits <= 8; bits += 4) {
		dcc_share_opts o = {bits, DCC_INIT_LINEAR, 0, 0, 1};
		dcc_model *a = dense_model(src, rows, cols), *b = dense_model(src, rows, cols);
		CHECK(!dcc_share_tensor(a, &p, &o, &s1, &e));
		fake_file f = {src, SIZE_MAX, 0};
		o.reread = fake_reread, o.reread_ctx = &f;
		CHECK(!dcc_share_tensor(b, &p, &o, &s2, &e));
		const char *names[] = {"w.codebook", "w.index", "w.mask"};
		for (int k = 0; k < 3; k++) {
			dcc_tensor *x = dcc_model_find(a, names[k]), *y = dcc_model_find(b, names[k]);
			CHECK_MSG(x && y && x->nbytes == y->nbytes && !memcmp(x->data, y->data, x->nbytes), "%s %d bits",
				  names[k], bits);
		}
		CHECK(s1.sse == s2.sse && s1.iterations == s2.iterations);
		dcc_model_free(a), dcc_model_free(b);
		b = dense_model(src, rows, cols);
		f.flip = n - 7;
		CHECK_ERR(dcc_share_tensor(b, &p, &o, &s2, &e), e, DCC_E_CHECKSUM, "does not match what was loaded");
		dcc_model_free(b);
		b = dense_model(src, rows, cols);
		f.flip = SIZE_MAX, f.fail = 1;
		CHECK_ERR(dcc_share_tensor(b, &p, &o, &s2, &e), e, DCC_E_IO, "reading it back: gone");
		dcc_model_free(b);
	}
	free(src);
}

int main(void)
{
	test_select_sort();
	test_big_sort();
	test_kmeans();
	test_share_tensor();
	test_share_reread();
	return check_done("test_share");
}
