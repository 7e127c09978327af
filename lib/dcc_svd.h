/* dcc_svd.h: low-rank factorisation of fully connected layers (Qiu et
 * al., FPGA 2016): W (out x in) ~ U_R (S_R V_R^T), by LAPACK's divide and
 * conquer SVD in double precision or by the randomized range finder of
 * Halko, Martinsson and Tropp. */
#ifndef DCC_SVD_H
#define DCC_SVD_H

#include "dcc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Singular values only (descending), min(m, n) of them, in double. */
int dcc_svd_values(const float *w, size_t m, size_t n, double *s, dcc_error *err);

/* The rank-R factors of w (m x n, row-major): a = S_R V_R^T (R x n) and
 * u = U_R (m x R), float, row-major.  randomized: oversampling p and q
 * power iterations.  *rel_err gets ||W - u a||_F / ||W||_F. */
int dcc_svd_factor(const float *w, size_t m, size_t n, size_t R, int randomized, int oversample, int power,
		   uint64_t seed, float *a, float *u, double *rel_err, dcc_error *err);

/* Rank rules on descending singular values s[0..k): the smallest rank
 * keeping fraction e of sum s^2; the largest rank whose factors hold at
 * most fraction f of the m x n parameters (at least 1). */
size_t dcc_svd_rank_energy(const double *s, size_t k, double e);
size_t dcc_svd_rank_params(size_t m, size_t n, double f);

/* Puts the factors in m's place of layer NAME (taking a and u): with a
 * graph, fc NAME (out x in) becomes fc NAME (R x in) = a with a zero bias,
 * then fc NAME_u (out x R) = u with the original bias, no nonlinearity
 * between; on a bare container the 2-D tensor NAME becomes NAME_sv = a and
 * NAME_u = u. */
int dcc_svd_replace(dcc_model *m, const char *layer, size_t R, float *a, float *u, dcc_error *err);

#ifdef __cplusplus
}
#endif
#endif
