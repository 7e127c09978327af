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

/* Sensitivity analysis: the test accuracy (first `limit` test images, 0 =
 * all) with each prunable layer alone pruned by magnitude to each level
 * (no retraining); *acc gets np x nlevels fractions, *base the unpruned
 * accuracy, *p the layers.  The model is left as it was.  progress (may be
 * NULL) is called after each level and once more with level = nlevels. */
struct dcc_dataset;
int dcc_sensitivity(dcc_model *m, const struct dcc_dataset *d, const double *levels, int nlevels, size_t limit,
		    int threads, void (*progress)(void *ctx, const char *tensor, int level, int nlevels), void *ctx,
		    double *base, double **acc, dcc_prunable **p, size_t *np, dcc_error *err);

/* Zero weights of a tensor (under its mask, if any). */
uint64_t dcc_weight_zeros(const dcc_model *m, const char *tensor);

#ifdef __cplusplus
}
#endif
#endif
