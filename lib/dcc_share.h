/* dcc_share.h: weight sharing -- one-dimensional k-means over a layer's
 * surviving weights (Lloyd from four initialisations, or the globally
 * optimal clustering by dynamic programming), stored as a 2^b-entry
 * codebook and a packed b-bit index beside the layer's mask. */
#ifndef DCC_SHARE_H
#define DCC_SHARE_H

#include "dcc.h"
#include "dcc_graph.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { DCC_INIT_LINEAR = 0, DCC_INIT_DENSITY, DCC_INIT_RANDOM, DCC_INIT_KMEANSPP };
const char *dcc_init_name(int init); /* "linear", ... */
int dcc_init_from_name(const char *s); /* DCC_INIT_* or -1 */

typedef struct dcc_kmeans_stats {
	int iterations; /* Lloyd iterations until no assignment changed */
	double sse;     /* sum of squared distances to the assigned centroid */
	int distinct_le_k; /* the data has no more than k distinct values: exact */
} dcc_kmeans_stats;

/* Lloyd's k-means on sorted data x[0..n), n >= 1: k centroids, ascending,
 * in c.  Each iteration finds the k-1 cluster boundaries by binary search
 * and the clusters' sums from block prefix sums, O(k log n) instead of
 * O(n k).  With no more than k distinct values the centroids are those
 * values (then repeated) and the error is zero. */
int dcc_kmeans1d(const float *x, size_t n, int k, int init, uint64_t seed, int max_iter, double *c,
		 dcc_kmeans_stats *st, dcc_error *err);
/* Globally optimal k-means of sorted x by dynamic programming over
 * segments (as Ckmeans.1d.dp), divide-and-conquer on the monotone split
 * point: O(k n log n) time, 16n + 4kn bytes. */
int dcc_kmeans1d_optimal(const float *x, size_t n, int k, double *c, dcc_kmeans_stats *st, dcc_error *err);
/* Sum of squared distances of ascending x to their nearest of the
 * ascending centroids. */
double dcc_kmeans1d_sse(const float *x, size_t n, const double *c, int k);

typedef struct dcc_share_opts {
	int bits;       /* 1..16 */
	int init;       /* DCC_INIT_* */
	int optimal;    /* dynamic programming instead of Lloyd */
	int max_iter;   /* Lloyd's cap (0 = 10000) */
	uint64_t seed;  /* random and kmeans++ */
	int zero;       /* reserve codebook entry 0 for zero (EIE's filler):
			   the survivors share the other 2^bits - 1 */
	/* Optional: reads n f32 weights of tensor t from element off as stored
	 * (the input file).  With it a dense f32 layer is sorted where it lies
	 * instead of copied, and the index pass reads its values back through
	 * this, so the peak memory is about the layer, not twice it; the bytes
	 * read back must hash to t's CRC. */
	int (*reread)(void *ctx, const dcc_tensor *t, uint64_t off, float *dst, size_t n, dcc_error *err);
	void *reread_ctx;
} dcc_share_opts;

/* Replaces the weight tensor p->tensor by NAME.codebook (2^bits f32),
 * NAME.index (packed bits) and NAME.mask (created from the nonzero weights
 * when the layer was not pruned).  Only surviving weights are clustered;
 * each takes its nearest centroid.  An already shared layer is an error. */
int dcc_share_tensor(dcc_model *m, const dcc_prunable *p, const dcc_share_opts *o, dcc_kmeans_stats *st,
		     dcc_error *err);

/* Centroid fine-tuning: the named shared layers (float codebooks with masks)
 * tied to their centroids.  After each training update, for layer i with
 * the weights w the arithmetic uses (codebook values at its indices), each
 * centroid moves by the sum of its weights' updates and w is tied back. */
typedef struct dcc_share_tie dcc_share_tie;
int dcc_share_tie_new(dcc_model *m, const char *const *tensors, size_t n, dcc_share_tie **out, dcc_error *err);
size_t dcc_share_tie_count(const dcc_share_tie *t);
const char *dcc_share_tie_tensor(const dcc_share_tie *t, size_t i);
void dcc_share_tie_step(dcc_share_tie *t, size_t i, float *w);
/* After training: the codebooks' stored counts made true again. */
void dcc_share_tie_finish(dcc_share_tie *t, dcc_model *m);
void dcc_share_tie_free(dcc_share_tie *t);

#ifdef __cplusplus
}
#endif
#endif
