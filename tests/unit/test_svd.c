/* test_svd.c: the low-rank factorisation in C: a rank-r matrix is factored
 * exactly at rank r (both methods) and the error of a lower rank is the
 * Eckart-Young optimum; the rank rules give the documented ranks; and
 * dcc_svd_replace rewrites the graph (fc NAME then fc NAME_u) and the
 * tensors, or on a bare container makes NAME_sv and NAME_u. */
#include <math.h>
#include <stdlib.h>

#include "../../lib/dcc_graph.h"
#include "../../lib/dcc_svd.h"
#include "check.h"

static unsigned long long seed = 99;
static double nrand(void)
{
	double u = ((double)(check_rng(&seed) >> 11) + 0.5) * 0x1.0p-53, v = (double)(check_rng(&seed) >> 11) * 0x1.0p-53;
	return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

static void test_factor(void)
{
	enum { M = 30, N = 20, R = 4 };
	float *w = malloc(M * N * sizeof(float)), *a = malloc(N * N * sizeof(float)), *u = malloc(M * N * sizeof(float));
	double x[M][R], y[R][N], s[N];
	for (int i = 0; i < M; i++)
		for (int k = 0; k < R; k++)
			x[i][k] = nrand();
	for (int k = 0; k < R; k++)
		for (int j = 0; j < N; j++)
			y[k][j] = nrand();
	for (int i = 0; i < M; i++)
		for (int j = 0; j < N; j++) {
			double v = 0;
			for (int k = 0; k < R; k++)
				v += x[i][k] * y[k][j];
			w[i * N + j] = (float)v;
		}
	dcc_error e = {0};
	double rel;
	CHECK(!dcc_svd_values(w, M, N, s, &e));
	CHECK_MSG(s[R - 1] > 1 && s[R] < 1e-4 * s[0], "rank %d: s[%d] %g, s[%d] %g", R, R - 1, s[R - 1], R, s[R]);
	for (int method = 0; method < 2; method++) {
		CHECK(!dcc_svd_factor(w, M, N, R, method, 10, 2, 1, a, u, &rel, &e));
		CHECK_MSG(rel < 1e-5, "method %d: a rank-%d matrix at rank %d has error %g", method, R, R, rel);
		double worst = 0; /* u a is w */
		for (int i = 0; i < M; i++)
			for (int j = 0; j < N; j++) {
				double v = 0;
				for (int k = 0; k < R; k++)
					v += (double)u[i * R + k] * a[k * N + j];
				worst = fabs(v - w[i * N + j]) > worst ? fabs(v - w[i * N + j]) : worst;
			}
		CHECK_MSG(worst < 1e-3, "method %d: |u a - w| up to %g", method, worst);
	}
	/* a lower rank: the error is the optimum, sqrt(sum of the dropped s^2) / ||w|| */
	double tot = 0, drop = 0;
	for (int k = 0; k < N; k++)
		tot += s[k] * s[k], drop += k >= 2 ? s[k] * s[k] : 0;
	CHECK(!dcc_svd_factor(w, M, N, 2, 0, 10, 2, 1, a, u, &rel, &e));
	CHECK_MSG(fabs(rel - sqrt(drop / tot)) < 1e-5, "rank 2: error %g, Eckart-Young %g", rel, sqrt(drop / tot));
	/* the rank rules */
	double sv[4] = {4, 2, 1, 1};
	CHECK(dcc_svd_rank_energy(sv, 4, 0.7) == 1);  /* 16 of 22: 0.73 */
	CHECK(dcc_svd_rank_energy(sv, 4, 0.8) == 2);  /* 20 of 22: 0.91 */
	CHECK(dcc_svd_rank_energy(sv, 4, 0.95) == 3); /* 21 of 22: 0.95 */
	CHECK(dcc_svd_rank_params(100, 100, 0.1) == 5); /* 5 x 200 = 1000 of 10000 */
	CHECK(dcc_svd_rank_params(100, 100, 0.0001) == 1);
	free(w), free(a), free(u);
}

static void test_replace(void)
{
	dcc_model *m = dcc_model_new();
	dcc_error e = {0};
	const char *lines[] = {"flatten flatten", "fc fc1 in=6 out=4", "relu relu1", "fc fc2 in=4 out=2", "softmax_ce loss"};
	int64_t shape[3] = {1, 2, 3};
	CHECK(!dcc_model_set_arr_str(m, "dcc.graph", lines, 5, &e) && !dcc_model_set_arr_i64(m, "dcc.input_shape", shape, 3, &e) &&
	      !dcc_model_set_i64(m, "dcc.classes", 2, &e));
	uint64_t w1[2] = {4, 6}, b1[1] = {4}, w2[2] = {2, 4}, b2[1] = {2};
	dcc_tensor *t;
	CHECK(!dcc_model_add_zeros(m, "fc1.weight", DCC_F32, 0, 0, 2, w1, &t, &e));
	CHECK(!dcc_model_add_zeros(m, "fc1.bias", DCC_F32, 0, 0, 1, b1, &t, &e));
	((float *)t->data)[3] = 7;
	CHECK(!dcc_model_add_zeros(m, "fc2.weight", DCC_F32, 0, 0, 2, w2, &t, &e));
	CHECK(!dcc_model_add_zeros(m, "fc2.bias", DCC_F32, 0, 0, 1, b2, &t, &e));
	float *a = calloc(2 * 6, sizeof(float)), *u = calloc(4 * 2, sizeof(float));
	CHECK_MSG(!dcc_svd_replace(m, "fc1", 2, a, u, &e), "%s", e.msg);
	dcc_graph *g = NULL;
	CHECK_MSG(!dcc_graph_read(m, &g, &e), "%s", e.msg);
	if (g) {
		CHECK(g->n == 6 && g->nodes[1].op == DCC_OP_FC && g->nodes[1].out == 2 && g->nodes[2].op == DCC_OP_FC &&
		      !strcmp(g->nodes[2].name, "fc1_u") && g->nodes[2].in == 2 && g->nodes[2].out == 4);
		dcc_graph_free(g);
	}
	t = dcc_model_find(m, "fc1_u.bias");
	CHECK(t && t->shape[0] == 4 && ((float *)t->data)[3] == 7); /* the original bias moves to NAME_u */
	t = dcc_model_find(m, "fc1.bias");
	CHECK(t && t->shape[0] == 2 && ((float *)t->data)[0] == 0 && ((float *)t->data)[1] == 0);
	t = dcc_model_find(m, "fc1.weight");
	CHECK(t && t->shape[0] == 2 && t->shape[1] == 6);
	dcc_model_free(m);
	/* a bare container: NAME becomes NAME_sv and NAME_u */
	m = dcc_model_new();
	CHECK(!dcc_model_add_zeros(m, "W", DCC_F32, 0, 0, 2, w1, &t, &e));
	a = calloc(2 * 6, sizeof(float)), u = calloc(4 * 2, sizeof(float));
	CHECK(!dcc_svd_replace(m, "W", 2, a, u, &e));
	CHECK(!dcc_model_find(m, "W") && dcc_model_find(m, "W_sv") && dcc_model_find(m, "W_u") &&
	      dcc_model_find(m, "W_u")->shape[0] == 4 && dcc_model_find(m, "W_u")->shape[1] == 2);
	dcc_model_free(m);
}

int main(void)
{
	test_factor();
	test_replace();
	return check_done("test_svd");
}
