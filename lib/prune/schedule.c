/* schedule.c: iterative pruning (Deep Compression): the target reached in
 * K steps, each cutting the same share of the remaining density, with the
 * caller's retraining between them; and the layers each method prunes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/internal.h"
#include "../dcc_prune.h"

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int dcc_prune_run(dcc_model *m, const dcc_prune_plan *pl, double *select_seconds, dcc_error *err)
{
	size_t n = pl->n, ns = 0;
	size_t *sel = calloc(n ? n : 1, sizeof(size_t));
	dcc_prunable *gp = calloc(n ? n : 1, sizeof(dcc_prunable));
	double *s0 = calloc(n ? n : 1, sizeof(double));
	int rc = sel && gp && s0 ? 0 : dcc_fail(err, DCC_E_NOMEM, "out of memory");
	*select_seconds = 0;
	/* the layers in play: std and global use every prunable one (not a CNN's first) */
	for (size_t i = 0; !rc && i < n; i++)
		if (pl->method == DCC_PRUNE_SPARSITY ? !isnan(pl->target[i]) : pl->first_ok || !pl->p[i].first)
			sel[ns++] = i;
	/* the start: sparsity already there, so iterative steps begin from it */
	for (size_t i = 0; !rc && i < n; i++)
		s0[i] = (double)dcc_weight_zeros(m, pl->p[i].tensor) /
			(double)dcc_tensor_numel(dcc_model_find(m, pl->p[i].tensor));
	dcc_prune_spec ps = pl->spec;
	for (int k = 1; !rc && k <= pl->steps; k++) {
		double frac = (double)k / (double)pl->steps, t0 = now_s();
		if (pl->method == DCC_PRUNE_SPARSITY) {
			for (size_t j = 0; j < ns && !rc; j++) {
				size_t i = sel[j];
				/* equal ratios of density per step: each step cuts the same share */
				double s = 1 - (1 - s0[i]) * pow((1 - pl->target[i]) / (1 - s0[i]), frac);
				if (k == pl->steps)
					s = pl->target[i];
				if (s < s0[i])
					s = s0[i];
				ps.bank = pl->bank ? (int)pl->bank[i] : 0;
				rc = dcc_prune_tensor(m, &pl->p[i], s, &ps, err);
			}
		} else if (pl->method == DCC_PRUNE_STD) {
			for (size_t j = 0; j < ns && !rc; j++)
				rc = dcc_prune_std(m, &pl->p[sel[j]], pl->amount * frac, err);
		} else {
			for (size_t j = 0; j < ns; j++)
				gp[j] = pl->p[sel[j]];
			rc = dcc_prune_global(m, gp, ns, pl->amount * frac, err);
		}
		*select_seconds += now_s() - t0;
		if (!rc && pl->after_step)
			rc = pl->after_step(pl->ctx, k, pl->steps, err);
	}
	free(sel), free(gp), free(s0);
	return rc;
}
