/* dcc_prune.h: magnitude pruning -- unstructured, bank-balanced (BBS) and
 * PE-balanced (ESE) -- recorded as mask tensors beside the weights. */
#ifndef DCC_PRUNE_H
#define DCC_PRUNE_H

#include "dcc.h"
#include "dcc_graph.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { DCC_PATTERN_UNSTRUCTURED = 0, DCC_PATTERN_BANK, DCC_PATTERN_PES };

typedef struct dcc_prune_spec {
	int pattern;   /* DCC_PATTERN_* */
	int bank;      /* bank size B for DCC_PATTERN_BANK */
	int pes;       /* PE count P for DCC_PATTERN_PES */
} dcc_prune_spec;

/* Prunes the weight tensor `name` to at least `sparsity` (fraction of zero
 * weights, in [0, 1)): the smallest magnitudes go, ties broken by position,
 * so the count is exact.  Creates or narrows NAME.mask; weights already
 * masked stay masked.  Patterns: bank-balanced keeps round(B * (1 - s))
 * weights in every bank of B consecutive weights of a row (a last partial
 * bank of r weights keeps round(r * (1 - s))); PE-balanced interleaves rows
 * over P PEs (row i to PE i mod P) and keeps the same number of weights,
 * round(n * (1 - s) / P), in every PE. */
int dcc_prune_tensor(dcc_model *m, const dcc_prunable *p, double sparsity, const dcc_prune_spec *s,
		     dcc_error *err);
/* Prunes |w| < q * std(surviving weights) (Han et al.'s quality parameter). */
int dcc_prune_std(dcc_model *m, const dcc_prunable *p, double q, dcc_error *err);
/* One magnitude threshold across the listed tensors, cutting `sparsity` of
 * their weights in total. */
int dcc_prune_global(dcc_model *m, const dcc_prunable *p, size_t n, double sparsity, dcc_error *err);
/* Removes the masks of the listed tensors (DSD's re-dense phase). */
void dcc_unprune(dcc_model *m, const dcc_prunable *p, size_t n);

/* Iterative pruning: the target in `steps` steps, each cutting the same
 * share of the remaining density (the last reaching it exactly), with
 * after_step (may be NULL: the caller's retraining) between them.  Sparsity
 * prunes the layers with a target (NAN: none); std and global every listed
 * layer, but a CNN's first unless first_ok.  A selected layer with no
 * weights left (before or after a step) is refused (DCC_E_RANGE) unless
 * allow_empty.  A bank-balanced layer's bank size is recorded
 * (dcc_model_bank); other patterns remove the record. */
enum { DCC_PRUNE_SPARSITY = 0, DCC_PRUNE_STD, DCC_PRUNE_GLOBAL };
typedef struct dcc_prune_plan {
	const dcc_prunable *p;
	size_t n;
	int method;           /* DCC_PRUNE_* */
	const double *target; /* sparsity: per layer, in [0, 1) or NAN */
	const double *bank;   /* the bank pattern's sizes per layer (NULL: none) */
	double amount;        /* std: the factor Q; global: the fraction */
	int first_ok;
	dcc_prune_spec spec;  /* the pattern (its bank comes from bank[]) */
	int steps;
	int allow_empty;      /* a layer left with no weights is not an error */
	int (*after_step)(void *ctx, int step, int steps, dcc_error *err);
	void *ctx;
} dcc_prune_plan;
/* *select_seconds gets the time the selections took (no retraining). */
int dcc_prune_run(dcc_model *m, const dcc_prune_plan *plan, double *select_seconds, dcc_error *err);

/* Sensitivity analysis: each weight layer alone pruned by magnitude to
 * each level (no retraining), scored by o->score on the model as it then
 * is; the model is left as it was.  progress (may be NULL) is called after
 * each level. */
typedef struct dcc_sensitivity_opts {
	const double *levels; /* sparsities in [0, 1) */
	int nlevels;
	int (*score)(void *ctx, double *acc, dcc_error *err);
	void *score_ctx;
	void (*progress)(void *ctx, const char *tensor, int level, int nlevels);
	void *progress_ctx;
} dcc_sensitivity_opts;
typedef struct dcc_sensitivity_result {
	double base;     /* the unpruned score */
	double *acc;     /* np x nlevels */
	dcc_prunable *p; /* the layers */
	size_t np;
} dcc_sensitivity_result;
int dcc_sensitivity(dcc_model *m, const dcc_sensitivity_opts *o, dcc_sensitivity_result *r, dcc_error *err);
void dcc_sensitivity_free(dcc_sensitivity_result *r);
/* Per layer, the highest level whose score stays within budget points
 * (of 100) of the unpruned one: sugg[np], and the same as a --sparsity
 * spec ("fc1.weight=0.9,..."); both malloc'd.  DCC_E_NOMEM or 0. */
int dcc_sensitivity_suggest(const dcc_sensitivity_result *r, const double *levels, int nlevels, double budget,
			    double **sugg, char **spec);

/* Zero weights of a tensor (under its mask, if any). */
uint64_t dcc_weight_zeros(const dcc_model *m, const char *tensor);

#ifdef __cplusplus
}
#endif
#endif
