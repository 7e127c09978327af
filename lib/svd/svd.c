/* svd.c: truncated SVD of a layer.  The exact path runs LAPACK's dgesdd on
 * a double copy (float loses the small singular values); the randomized
 * path finds the range with sgemm on the float layer (a Gaussian sketch of
 * R + p columns, q power iterations re-orthonormalised by QR each time),
 * then takes the exact SVD of the small projected matrix in double; its
 * error is measured, ||W - U A|| against ||W||. */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "../dcc_graph.h"
#include "../dcc_svd.h"

int dcc_svd_values(const float *w, size_t m, size_t n, double *s, dcc_error *err)
{
	double *a = malloc(m * n * sizeof(double));
	if (!a)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	for (size_t i = 0; i < m * n; i++)
		a[i] = w[i];
	/* row-major m x n is column-major n x m: the same singular values */
	lapack_int info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', (lapack_int)n, (lapack_int)m, a, (lapack_int)n, s, NULL,
					 1, NULL, 1);
	free(a);
	return info ? dcc_fail(err, DCC_E_RANGE, "the SVD did not converge (LAPACK info %d)", (int)info) : 0;
}

size_t dcc_svd_rank_energy(const double *s, size_t k, double e)
{
	double tot = 0, acc = 0;
	for (size_t i = 0; i < k; i++)
		tot += s[i] * s[i];
	for (size_t r = 0; r < k; r++) {
		acc += s[r] * s[r];
		if (acc >= e * tot * (1 - 1e-12))
			return r + 1;
	}
	return k;
}

size_t dcc_svd_rank_params(size_t m, size_t n, double f)
{
	size_t r = (size_t)floor(f * (double)m * (double)n / (double)(m + n));
	return r ? r : 1;
}

static double frob2(const float *w, size_t n)
{
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += (double)w[i] * w[i];
	return s;
}

/* Orthonormalises the columns of y (m x l, row-major, float) in place. */
static int orth(float *y, size_t m, size_t l)
{
	float *tau = malloc(l * sizeof(float));
	if (!tau)
		return -1;
	int rc = LAPACKE_sgeqrf(LAPACK_ROW_MAJOR, (lapack_int)m, (lapack_int)l, y, (lapack_int)l, tau) ||
		 LAPACKE_sorgqr(LAPACK_ROW_MAJOR, (lapack_int)m, (lapack_int)l, (lapack_int)l, y, (lapack_int)l, tau);
	free(tau);
	return rc ? -1 : 0;
}

int dcc_svd_factor(const float *w, size_t m, size_t n, size_t R, int randomized, int oversample, int power,
		   uint64_t seed, float *a, float *u, double *rel_err, dcc_error *err)
{
	size_t k = m < n ? m : n;
	if (R < 1 || R > k)
		return dcc_fail(err, DCC_E_RANGE, "rank %zu is outside 1..%zu (the smaller side of %zux%zu)", R, k, m, n);
	double total = frob2(w, m * n), kept = 0;
	if (!randomized) {
		double *A = malloc(m * n * sizeof(double)), *s = malloc(k * sizeof(double));
		double *U = malloc(m * k * sizeof(double)), *Vt = malloc(k * n * sizeof(double));
		int rc = A && s && U && Vt ? 0 : dcc_fail(err, DCC_E_NOMEM, "out of memory");
		if (!rc) {
			for (size_t i = 0; i < m * n; i++)
				A[i] = w[i];
			/* the row-major A is the column-major n x m matrix A^T = V S U^T:
			 * LAPACK's own layout, so LAPACKE makes no transposed copies; its
			 * U (n x k, column-major) is our Vt (k x n, row-major) and its
			 * V^T (k x m, column-major) our U (m x k, row-major) */
			lapack_int info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'S', (lapack_int)n, (lapack_int)m, A, (lapack_int)n,
							 s, Vt, (lapack_int)n, U, (lapack_int)k);
			if (info)
				rc = dcc_fail(err, DCC_E_RANGE, "the SVD did not converge (LAPACK info %d)", (int)info);
		}
		if (!rc) {
			for (size_t r = 0; r < R; r++) {
				kept += s[r] * s[r];
				for (size_t j = 0; j < n; j++)
					a[r * n + j] = (float)(s[r] * Vt[r * n + j]);
			}
			for (size_t i = 0; i < m; i++)
				for (size_t r = 0; r < R; r++)
					u[i * R + r] = (float)U[i * k + r];
			double disc = 0;
			for (size_t r = R; r < k; r++)
				disc += s[r] * s[r];
			*rel_err = total > 0 ? sqrt(disc / total) : 0; /* Eckart-Young */
		}
		free(A), free(s), free(U), free(Vt);
		return rc;
	}
	size_t l = R + (size_t)(oversample > 0 ? oversample : 0);
	if (l > k)
		l = k;
	float *om = malloc(n * l * sizeof(float)), *y = malloc(m * l * sizeof(float)), *z = malloc(n * l * sizeof(float));
	double *B = malloc(l * n * sizeof(double)), *s = malloc(l * sizeof(double)), *Ub = malloc(l * l * sizeof(double)),
	       *Vt = malloc(l * n * sizeof(double));
	float *bf = malloc(l * n * sizeof(float));
	int rc = om && y && z && B && s && Ub && Vt && bf ? 0 : dcc_fail(err, DCC_E_NOMEM, "out of memory");
	if (!rc) {
		dcc_rng g;
		dcc_rng_seed(&g, seed);
		for (size_t i = 0; i < n * l; i++)
			om[i] = (float)dcc_rng_normal(&g);
		/* Y = W Om, then q times: Y = W (W^T Y), orthonormalised between */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)l, (int)n, 1, w, (int)n, om, (int)l, 0, y,
			    (int)l);
		if (orth(y, m, l))
			rc = dcc_fail(err, DCC_E_RANGE, "QR failed");
		for (int q = 0; !rc && q < power; q++) {
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n, (int)l, (int)m, 1, w, (int)n, y, (int)l, 0, z,
				    (int)l);
			if (orth(z, n, l)) {
				rc = dcc_fail(err, DCC_E_RANGE, "QR failed");
				break;
			}
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)l, (int)n, 1, w, (int)n, z, (int)l, 0,
				    y, (int)l);
			if (orth(y, m, l))
				rc = dcc_fail(err, DCC_E_RANGE, "QR failed");
		}
	}
	if (!rc) { /* B = Q^T W (l x n), its exact SVD in double */
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)l, (int)n, (int)m, 1, y, (int)l, w, (int)n, 0, bf,
			    (int)n);
		for (size_t i = 0; i < l * n; i++)
			B[i] = bf[i];
		lapack_int info = LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'S', (lapack_int)l, (lapack_int)n, B, (lapack_int)n, s, Ub,
						 (lapack_int)l, Vt, (lapack_int)n);
		if (info)
			rc = dcc_fail(err, DCC_E_RANGE, "the SVD did not converge (LAPACK info %d)", (int)info);
	}
	if (!rc) {
		for (size_t r = 0; r < R; r++)
			for (size_t j = 0; j < n; j++)
				a[r * n + j] = (float)(s[r] * Vt[r * n + j]);
		/* U = Q Ub[:, :R] */
		for (size_t i = 0; i < m; i++)
			for (size_t r = 0; r < R; r++) {
				double acc = 0;
				for (size_t t = 0; t < l; t++)
					acc += (double)y[i * l + t] * Ub[t * l + r];
				u[i * R + r] = (float)acc;
			}
		/* ||W - U A|| measured, not ||W||^2 - sum S_R^2: that difference of
		 * squares of float-projected values cancels to noise whose square
		 * root reads as an error of 1e-4 where the factors are exact */
		float *res = malloc(m * n * sizeof(float));
		if (!res) {
			rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
		} else {
			memcpy(res, w, m * n * sizeof(float));
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)R, -1, u, (int)R, a, (int)n,
				    1, res, (int)n);
			double e2 = 0;
			for (size_t i = 0; i < m * n; i++)
				e2 += (double)res[i] * res[i];
			*rel_err = total > 0 ? sqrt(e2 / total) : 0;
			free(res);
		}
	}
	free(om), free(y), free(z), free(B), free(s), free(Ub), free(Vt), free(bf);
	return rc;
}

/* Rewrites "fc NAME in=I out=O" into the two factors' lines; later layers
 * that name it in from= read the second. */
static int rewrite_graph(dcc_model *m, const char *name, size_t R)
{
	const dcc_kv *g = dcc_model_get_kv(m, "dcc.graph");
	size_t n = g->count, k = 0;
	char **lines = calloc(n + 1, sizeof(char *));
	if (!lines)
		return -1;
	int rc = 0, done = 0;
	char second[DCC_MAX_NAME + 3];
	snprintf(second, sizeof(second), "%s_u", name);
	for (size_t i = 0; i < n && !rc; i++) {
		char op[16], nm[DCC_MAX_NAME + 1];
		int in, out;
		if (!done && sscanf(g->s[i], "%15s %1024s in=%d out=%d", op, nm, &in, &out) == 4 && !strcmp(op, "fc") &&
		    !strcmp(nm, name)) {
			/* the first factor keeps what the layer read (from=) */
			const char *fr = strstr(g->s[i], " from=");
			size_t L = strlen(name) + 64, fl = fr ? strcspn(fr + 1, " ") + 1 : 0;
			lines[k] = malloc(L + fl), lines[k + 1] = malloc(L);
			if (!lines[k] || !lines[k + 1]) {
				rc = -1;
				break;
			}
			snprintf(lines[k++], L + fl, "fc %s in=%d out=%zu%.*s", name, in, R, (int)fl, fr ? fr : "");
			snprintf(lines[k++], L, "fc %s_u in=%zu out=%d", name, R, out);
			done = 1;
		} else if (!(lines[k++] = done ? dcc_graph_line_rename(g->s[i], name, second) : strdup(g->s[i]))) {
			rc = -1;
		}
	}
	if (!rc)
		rc = dcc_model_set_arr_str(m, "dcc.graph", (const char *const *)lines, k, NULL) ? -1 : 0;
	for (size_t i = 0; i <= n; i++) /* calloc'd: a failed line's partner too */
		free(lines[i]);
	free(lines);
	return rc;
}

int dcc_svd_replace(dcc_model *m, const char *layer, size_t R, float *a, float *u, dcc_error *err)
{
	char wname[DCC_MAX_NAME + 16], bname[DCC_MAX_NAME + 16], n1[DCC_MAX_NAME + 16], n2[DCC_MAX_NAME + 16];
	int has_graph = dcc_model_get_kv(m, "dcc.graph") != NULL;
	snprintf(wname, sizeof(wname), has_graph ? "%s.weight" : "%s", layer);
	snprintf(bname, sizeof(bname), "%s.bias", layer);
	const dcc_tensor *w = dcc_model_find(m, wname);
	if (!w || w->ndim != 2 || w->dtype != DCC_F32) {
		free(a), free(u);
		return dcc_fail(err, DCC_E_ARG, "'%s' is not a float32 matrix", wname);
	}
	uint64_t M = w->shape[0], N = w->shape[1], sa[2] = {R, N}, su[2] = {M, R}, sb[1] = {R}, bshape[1] = {M};
	if (!has_graph) {
		snprintf(n1, sizeof(n1), "%s_sv", layer);
		snprintf(n2, sizeof(n2), "%s_u", layer);
		int rc = dcc_model_add(m, n1, DCC_F32, 0, 0, 2, sa, a, err);
		if (rc) {
			free(u);
			return rc;
		}
		return (rc = dcc_model_add(m, n2, DCC_F32, 0, 0, 2, su, u, err)) ? rc : dcc_model_remove(m, wname);
	}
	snprintf(n1, sizeof(n1), "%s_u.weight", layer);
	snprintf(n2, sizeof(n2), "%s_u.bias", layer);
	dcc_tensor *b = dcc_model_find(m, bname);
	float *bcopy = b && b->dtype == DCC_F32 ? malloc(b->nbytes) : NULL, *zeros = calloc(R ? R : 1, sizeof(float));
	if (!bcopy || !zeros) {
		free(a), free(u), free(bcopy), free(zeros);
		return dcc_fail(err, DCC_E_ARG, "'%s' is missing or not float32", bname);
	}
	memcpy(bcopy, b->data, b->nbytes);
	/* NAME (R x in) = S_R V_R^T with a zero bias, then NAME_u (out x R) = U_R with the original bias */
	int rc = dcc_model_add(m, n2, DCC_F32, 0, 0, 1, bshape, bcopy, err);
	if (!rc)
		rc = dcc_model_add(m, n1, DCC_F32, 0, 0, 2, su, u, err);
	else
		free(u);
	if (!rc)
		rc = dcc_model_add(m, wname, DCC_F32, 0, 0, 2, sa, a, err);
	else
		free(a);
	if (!rc)
		rc = dcc_model_add(m, bname, DCC_F32, 0, 0, 1, sb, zeros, err);
	else
		free(zeros);
	if (!rc && rewrite_graph(m, layer, R))
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	return rc;
}
