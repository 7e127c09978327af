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

/* A selected layer left with no weights: refused unless the plan allows it. */
static int check_kept(dcc_model *m, const dcc_prune_plan *pl, size_t i, double s, int before, dcc_error *err)
{
	const dcc_tensor *t = dcc_model_find(m, pl->p[i].tensor);
	if (pl->allow_empty || !t || dcc_tensor_count_nonzero(t))
		return 0;
	uint64_t n = dcc_tensor_numel(t);
	if (before)
		return dcc_fail(err, DCC_E_RANGE, "'%s' has no nonzero weights to prune: all %llu are zero already "
			       "(--allow-empty accepts an empty layer)", pl->p[i].tensor, (unsigned long long)n);
	if (pl->method == DCC_PRUNE_SPARSITY)
		return dcc_fail(err, DCC_E_RANGE, "'%s' would keep no weights: sparsity %.9g of its %llu leaves none "
			       "(--allow-empty accepts an empty layer)", pl->p[i].tensor, s, (unsigned long long)n);
	return dcc_fail(err, DCC_E_RANGE, "'%s' would keep no weights: %s cuts all %llu (--allow-empty accepts an "
		       "empty layer)", pl->p[i].tensor, pl->method == DCC_PRUNE_STD ? "the std threshold" : "the global "
		       "threshold", (unsigned long long)n);
}

/* One step's selection on layer i (of the plan's), s its sparsity. */
static int prune_one(dcc_model *m, const dcc_prune_plan *pl, size_t i, double s, double frac, dcc_error *err)
{
	dcc_prune_spec ps = pl->spec;
	ps.bank = pl->bank ? (int)pl->bank[i] : 0;
	int rc = pl->method == DCC_PRUNE_STD ? dcc_prune_std(m, &pl->p[i], pl->amount * frac, err)
					     : dcc_prune_tensor(m, &pl->p[i], s, &ps, err);
	/* the bank size is a fact about the mask: kept while banks shape it */
	if (!rc)
		rc = dcc_model_set_bank(m, pl->p[i].tensor, ps.pattern == DCC_PATTERN_BANK && pl->method ==
				        DCC_PRUNE_SPARSITY ? ps.bank : 0, err);
	return rc;
}

int dcc_prune_run(dcc_model *m, const dcc_prune_plan *pl, double *select_seconds, dcc_error *err)
{
	size_t n = pl->n, ns = 0;
	size_t *sel = calloc(n ? n : 1, sizeof(size_t));
	dcc_prunable *gp = calloc(n ? n : 1, sizeof(dcc_prunable));
	double *s0 = calloc(n ? n : 1, sizeof(double));
	int rc = sel && gp && s0 ? 0 : dcc_fail(err, DCC_E_NOMEM, "out of memory");
	*select_seconds = 0;
	/* the layers in play: std and global use every prunable one (not a CNN's
	 * first, nor a per-channel scale, whose zero would be a channel's) */
	for (size_t i = 0; !rc && i < n; i++)
		if (pl->method == DCC_PRUNE_SPARSITY ? !isnan(pl->target[i])
						      : (pl->first_ok || !pl->p[i].first) && !pl->p[i].scale)
			sel[ns++] = i;
	/* the start: sparsity already there, so iterative steps begin from it */
	for (size_t i = 0; !rc && i < n; i++)
		s0[i] = (double)dcc_weight_zeros(m, pl->p[i].tensor) /
			(double)dcc_tensor_numel(dcc_model_find(m, pl->p[i].tensor));
	for (size_t j = 0; !rc && j < ns; j++) /* a layer empty before pruning */
		rc = check_kept(m, pl, sel[j], 1, 1, err);
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
				if (s0[i] < 1) /* an empty layer (--allow-empty) has nothing to cut */
					rc = prune_one(m, pl, i, s, frac, err);
				if (!rc)
					rc = check_kept(m, pl, i, s, 0, err);
			}
		} else if (pl->method == DCC_PRUNE_STD) {
			for (size_t j = 0; j < ns && !rc; j++)
				if (!(rc = prune_one(m, pl, sel[j], 0, frac, err)))
					rc = check_kept(m, pl, sel[j], 0, 0, err);
		} else {
			for (size_t j = 0; j < ns; j++)
				gp[j] = pl->p[sel[j]];
			rc = dcc_prune_global(m, gp, ns, pl->amount * frac, err);
			for (size_t j = 0; j < ns && !rc; j++)
				if (!(rc = dcc_model_set_bank(m, pl->p[sel[j]].tensor, 0, err)))
					rc = check_kept(m, pl, sel[j], 0, 0, err);
		}
		*select_seconds += now_s() - t0;
		if (!rc && pl->after_step)
			rc = pl->after_step(pl->ctx, k, pl->steps, err);
	}
	free(sel), free(gp), free(s0);
	return rc;
}
