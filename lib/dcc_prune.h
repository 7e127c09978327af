/* dcc_prune.h: magnitude pruning -- unstructured, bank-balanced (BBS) and
 * PE-balanced (ESE) -- recorded as mask tensors beside the weights, the
 * layer list every stage works on, and exact k-th-magnitude selection. */
#ifndef DCC_PRUNE_H
#define DCC_PRUNE_H

#include "dcc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A compressible layer: one weight tensor (fc, conv, an LSTM matrix), or on a
 * bare container any floating-point tensor of two or more dimensions. */
typedef struct dcc_prunable {
	char *layer;   /* the graph layer ("fc1", "lstm") or the tensor name */
	char *tensor;  /* "fc1.weight", "lstm.weight_hh_l0" */
	int op;        /* DCC_OP_* of its layer, 0 on a bare container */
	int first;     /* the network's first layer with weights */
	size_t rows, cols; /* the weight as a matrix: (out, in*kh*kw) */
} dcc_prunable;

/* Lists the model's compressible weights in graph (or tensor) order. */
int dcc_prunable_list(const dcc_model *m, dcc_prunable **out, size_t *n, dcc_error *err);
void dcc_prunable_free(dcc_prunable *p, size_t n);
/* Is the network a CNN (its first weight layer a convolution)? */
int dcc_model_is_cnn(const dcc_prunable *p, size_t n);

enum { DCC_PATTERN_UNSTRUCTURED = 0, DCC_PATTERN_BANK, DCC_PATTERN_PES };

typedef struct dcc_prune_spec {
	int pattern;   /* DCC_PATTERN_* */
	int bank;      /* bank size B for DCC_PATTERN_BANK */
	int pes;       /* PE count P for DCC_PATTERN_PES */
} dcc_prune_spec;

/* The k-th smallest |x| (0-based) of n floats by radix selection on the
 * magnitude's bits: three passes, no copy, no sort.  n > 0, k < n. */
float dcc_select_abs(const float *x, size_t n, size_t k);

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
