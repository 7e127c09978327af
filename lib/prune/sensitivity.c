/* sensitivity.c: how much each layer alone tolerates -- every weight layer
 * pruned by magnitude to each level in turn (no retraining, the others
 * untouched), scored by the caller's function (test accuracy, usually),
 * and put back. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "../dcc_prune.h"

void dcc_sensitivity_free(dcc_sensitivity_result *r)
{
	if (!r)
		return;
	free(r->acc);
	dcc_prunable_free(r->p, r->np);
	memset(r, 0, sizeof(*r));
}

/* w = backup with its k smallest magnitudes zeroed, ties by position. */
static void prune_copy(float *w, const float *backup, float *scratch, size_t cnt, size_t k)
{
	memcpy(w, backup, cnt * sizeof(float));
	if (k == 0)
		return;
	memcpy(scratch, backup, cnt * sizeof(float));
	float th = dcc_select_abs(scratch, cnt, k - 1);
	size_t below = 0;
	for (size_t q = 0; q < cnt; q++)
		below += fabsf(backup[q]) < th;
	size_t ties = k - below;
	for (size_t q = 0; q < cnt; q++) {
		float a = fabsf(backup[q]);
		if (a < th || (a == th && ties && ties--))
			w[q] = 0;
	}
}

int dcc_sensitivity(dcc_model *m, const dcc_sensitivity_opts *o, dcc_sensitivity_result *r, dcc_error *err)
{
	memset(r, 0, sizeof(*r));
	float *backup = NULL, *scratch = NULL;
	size_t nlv = (size_t)o->nlevels;
	int rc = dcc_prunable_list(m, &r->p, &r->np, err);
	if (!rc)
		rc = o->score(o->score_ctx, &r->base, err);
	if (!rc && !(r->acc = calloc(r->np * nlv + 1, sizeof(double))))
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	for (size_t i = 0; !rc && i < r->np; i++) {
		dcc_tensor *t = dcc_model_find(m, r->p[i].tensor);
		if (!t || t->dtype != DCC_F32) {
			rc = dcc_fail(err, DCC_E_UNSUPPORTED,
				      "'%s' is not float32 weights (sensitivity runs before dcc share and fixed)", r->p[i].tensor);
			break;
		}
		size_t cnt = (size_t)dcc_tensor_numel(t);
		float *w = t->data;
		free(backup), free(scratch);
		backup = malloc(cnt * sizeof(float));
		scratch = malloc(cnt * sizeof(float));
		if (!backup || !scratch) {
			rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
			break;
		}
		memcpy(backup, w, cnt * sizeof(float));
		for (size_t j = 0; j < nlv && !rc; j++) {
			prune_copy(w, backup, scratch, cnt, (size_t)llround(o->levels[j] * (double)cnt));
			rc = o->score(o->score_ctx, &r->acc[i * nlv + j], err);
			if (o->progress)
				o->progress(o->progress_ctx, r->p[i].tensor, (int)j + 1, o->nlevels);
		}
		memcpy(w, backup, cnt * sizeof(float));
	}
	free(backup), free(scratch);
	if (rc)
		dcc_sensitivity_free(r);
	return rc;
}

int dcc_sensitivity_suggest(const dcc_sensitivity_result *r, const double *levels, int nlevels, double budget,
			    double **sugg, char **spec)
{
	*sugg = calloc(r->np ? r->np : 1, sizeof(double));
	size_t cap = 1, o = 0;
	for (size_t i = 0; i < r->np; i++)
		cap += strlen(r->p[i].tensor) + 32;
	*spec = malloc(cap);
	if (!*sugg || !*spec) {
		free(*sugg), free(*spec);
		*sugg = NULL, *spec = NULL;
		return DCC_E_NOMEM;
	}
	(*spec)[0] = 0;
	/* the highest level within the budget (the levels need not be sorted) */
	for (size_t i = 0; i < r->np; i++) {
		for (int j = 0; j < nlevels; j++)
			if (100 * (r->base - r->acc[i * (size_t)nlevels + (size_t)j]) <= budget + 1e-9 && levels[j] > (*sugg)[i])
				(*sugg)[i] = levels[j];
		o += (size_t)snprintf(*spec + o, cap - o, "%s%s=%g", i ? "," : "", r->p[i].tensor, (*sugg)[i]);
	}
	return 0;
}
