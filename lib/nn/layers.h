/* layers.h: the float kernels of each layer, forward and backward side by
 * side (llm.c's convention: outputs first, then inputs and weights, then
 * sizes; gradients d-prefixed and accumulated with +=).  Activations of
 * convolution and pooling layers are NHWC inside dcc; flatten turns them into
 * PyTorch's CHW order, so fc weights keep PyTorch's layout.  Each *_ref is a
 * plain version the tests compare the fast one against. */
#ifndef DCC_LAYERS_H
#define DCC_LAYERS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "../dcc_graph.h"

/* The hot hand-written loops are compiled twice, for x86-64-v3 (AVX2 and
 * FMA: eight floats a vector) and for the baseline the rest of dcc is built
 * for, the machine's picked when dcc loads (an ifunc).  The Makefile's
 * -ffp-contract=off keeps every a * b + c two roundings in both, and no loop
 * reorders a sum, so both give the same bytes. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(DCC_NO_CLONES)
#define DCC_HOT __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define DCC_HOT
#endif

void fc_forward(float *out, const float *inp, const float *w, const float *b, size_t B, int in, int out_f);
void fc_forward_ref(float *out, const float *inp, const float *w, const float *b, size_t B, int in, int out_f);
/* dinp may be NULL (first layer). */
void fc_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
		 size_t B, int in, int out_f);

/* inp (B, H, W, C) -> out (B, Ho, Wo, Cout) in G groups (C/G input
 * channels to Cout/G outputs each) through the window q; w (Cout, C/G, kh,
 * kw) as PyTorch; wt (2 * Cout*C/G*kh*kw) holds the permuted weights, kept
 * for the backward pass.  The patches are gathered a tile of output rows at
 * a time into cols (conv_tile_rows(q, C/G, B*Ho*Wo) x C/G*kh*kw floats), so
 * a tile goes from im2col to the GEMM while it is still in the cache; the
 * backward pass gathers them again the same way.  A depthwise convolution
 * (G = C = Cout) runs directly, without patches, and so does a pointwise
 * one (1x1, stride 1, no padding: the input's rows are the patches; cols
 * unused, may be NULL). */
static inline int conv_pointwise(const dcc_geom *q)
{
	return q->kh == 1 && q->kw == 1 && q->sh == 1 && q->sw == 1 && !(q->pt | q->pl | q->pb | q->pr);
}
/* Depthwise: one input channel a group, one output a channel (the direct
 * path, no patches, no GEMM). */
static inline int conv_depthwise(int C, int G, int Cout)
{
	return G == C && G == Cout && G > 1;
}
/* A tile's patches: 256 KB, a fraction of a core's L2 beside the GEMM's
 * packed panels. */
#define CONV_TILE_FLOATS (64 * 1024)
size_t conv_tile_rows(const dcc_geom *q, int Cg, size_t rows);
void conv_forward(float *out, float *cols, float *wt, const float *inp, const float *w, const float *b,
		  size_t B, int C, int H, int W, const dcc_geom *q, int G, int Cout, int Ho, int Wo);
void conv_forward_ref(float *out, const float *inp, const float *w, const float *b, size_t B, int C, int H,
		      int W, const dcc_geom *q, int G, int Cout, int Ho, int Wo);
/* Clobbers cols (reused for the column gradients). dinp may be NULL. */
void conv_backward(float *dinp, float *dw, float *db, float *cols, float *wt, const float *dout, const float *inp,
		   size_t B, int C, int H, int W, const dcc_geom *q, int G, int Cout, int Ho, int Wo);

/* NHWC max pooling, padded by pad on every side (padding is never the
 * maximum); Ho, Wo may count a ceil_mode window; argmax holds each
 * output's input index within its sample. */
void maxpool_forward(float *out, int32_t *argmax, const float *inp, size_t B, int C, int H, int W, int K,
		     int stride, int pad, int Ho, int Wo);
void maxpool_backward(float *dinp, const float *dout, const int32_t *argmax, size_t B, size_t in_size,
		      size_t out_size);

/* Batch normalisation over M values, channels fastest (C): with the running
 * statistics, or (training) the batch's own -- mean, biased variance and
 * 1/std per channel and x-hat kept for the backward pass. */
void bn_forward(float *out, const float *inp, const float *gamma, const float *beta, const float *mean,
		const float *var, size_t M, size_t C, float eps);
/* Workers that each hold a slice of one batch normalise by the whole
 * batch's statistics (PyTorch's SyncBatchNorm): their per-channel sums
 * meet here and every worker adds them in worker order, so all of them
 * normalise alike and a thread count gives the same bytes every run. */
typedef struct bn_sync {
	pthread_barrier_t bar;
	int n;        /* the workers */
	size_t cap;   /* doubles per worker's slot */
	double *slot; /* n x cap */
} bn_sync;
#define BN_CH 256 /* batchnorm's channels a pass */
#define BN_ROWS 32 /* values a channel sums in float before adding them in double */
#define BN_SYNC_CAP (2 * BN_CH + 1) /* the most a slot holds: backward's two sums and the count */
int bn_sync_init(bn_sync *s, int n, size_t cap);
void bn_sync_free(bn_sync *s);
struct dcc_work;
/* A training workspace's batchnorm layers meet its peers in s as worker
 * rank (s NULL: its slice is the whole batch). */
void dcc_work_set_bn_sync(struct dcc_work *w, bn_sync *s, int rank);
/* An activation that a training batchnorm applies to its own output when
 * it is the only reader of it: out = min(max(y, lo), hi) (ReLU: 0, +inf;
 * ReLU6: 0, 6), so the batch is written once instead of twice; NULL: none. */
typedef struct bn_act {
	float lo, hi;
} bn_act;
/* s NULL: the slice is the batch; else worker t of s->n.  The statistics
 * are one pass: sums of v and v^2 for v = inp - the slice's first value
 * per channel (so a large mean costs the squares nothing), in float over
 * BN_ROWS values and in double across them, then turned into sums of inp
 * and inp^2 in double.  The backward recomputes
 * x-hat = (inp - mean) istd from the forward's input (kept by the
 * workspace) rather than reading a stored copy: one pass less.  With an
 * activation, dout is the gradient of the activation's output and aout
 * that output: dout counts where lo < aout < hi (PyTorch's hardtanh and
 * ReLU: zero at the bounds). */
void bn_forward_train(float *out, float *mean, float *var, float *istd, const float *inp, const float *gamma,
		      const float *beta, size_t M, size_t C, float eps, const bn_act *act, bn_sync *s, int t);
void bn_backward(float *dinp, float *dgamma, float *dbeta, const float *dout, const float *inp, const float *mean,
		 const float *istd, const float *gamma, size_t M, size_t C, const bn_act *act, const float *aout,
		 bn_sync *s, int t);
/* x scale[c] + shift[c] over M values, the channel c = (i / inner) mod C
 * (inner 1: channels fastest; H x W: channel-major maps); the backward
 * is the scale's (the constants are not trained) */
void affine_forward(float *out, const float *inp, const float *scale, const float *shift, size_t M, size_t C,
		    size_t inner);
void affine_backward(float *dinp, const float *dout, const float *scale, size_t M, size_t C, size_t inner);
/* a times b over B samples of S values, b of S values a sample or (C > 0)
 * of C, the channel of value e being e mod C (channels fastest): a gate;
 * the backward's da (a's gradient) and db (b's, summed over the positions
 * of a gate), either NULL when not needed */
void mul_forward(float *out, const float *a, const float *b, size_t B, size_t S, size_t C);
void mul_backward(float *da, float *db, const float *dout, const float *a, const float *b, size_t B, size_t S,
		  size_t C);
void relu_forward(float *out, const float *inp, size_t n);
/* x where x > 0, else alpha x (PyTorch's LeakyReLU); the backward reads the input */
void leakyrelu_forward(float *out, const float *inp, size_t n, float alpha);
void leakyrelu_backward(float *dinp, const float *dout, const float *inp, size_t n, float alpha);
/* min(max(alpha x + beta, 0), 1), the gradient alpha strictly inside (PyTorch's
 * hardsigmoid); x min(max(x + 3, 0), 6) / 6, the gradient 0 below -3, x / 3 +
 * 1/2 up to 3, 1 above (PyTorch's hardswish); both backwards read the input */
void hardsigmoid_forward(float *out, const float *inp, size_t n, float alpha, float beta);
void hardsigmoid_backward(float *dinp, const float *dout, const float *inp, size_t n, float alpha, float beta);
void hardswish_forward(float *out, const float *inp, size_t n);
void hardswish_backward(float *dinp, const float *dout, const float *inp, size_t n);
/* min(max(x, lo), hi); the gradient passes strictly inside (PyTorch's hardtanh) */
void clip_forward(float *out, const float *inp, size_t n, float lo, float hi);
void clip_backward(float *dinp, const float *dout, const float *out, size_t n, float lo, float hi);
/* nin inputs of cs[k] channels over hw pixels joined on the channel axis,
 * per sample: H, W, C (hwc) or C, H, W; the backward writes input which's
 * part of dout. */
void concat_forward(float *out, const float *const *ins, const int *cs, int nin, size_t B, size_t hw, int hwc);
void concat_backward(float *dinp, const float *dout, const int *cs, int nin, int which, size_t B, size_t hw, int hwc);
/* slice and shuffle: out's channel j is the input's dcc_channel_src(l, j),
 * on B samples of l's maps (C, H, W or channels fastest, l->hwc); the
 * backward pass writes the whole input's gradient (zero where unread). */
void channels_forward(float *out, const float *inp, const dcc_node *l, size_t B);
void channels_backward(float *dinp, const float *dout, const dcc_node *l, size_t B);
/* The mean of each k x k window (stride s, no padding); (H, W, C) layout. */
/* the mean of each window's part inside the input, divided as
 * dcc_pool_window says (P padding, incl: the padding counted) */
void avgpool_forward(float *out, const float *inp, size_t B, int C, int H, int W, int K, int S, int P, int incl, int OH,
		     int OW);
void avgpool_backward(float *dinp, const float *dout, size_t B, int C, int H, int W, int K, int S, int P, int incl,
		      int OH, int OW);
/* sigmoid and tanh; their backward reads the forward's output */
void sigmoid_forward(float *out, const float *inp, size_t n);
void sigmoid_backward(float *dinp, const float *dout, const float *out, size_t n);
void tanh_forward(float *out, const float *inp, size_t n);
void tanh_backward(float *dinp, const float *dout, const float *out, size_t n);
void relu_backward(float *dinp, const float *dout, const float *out, size_t n);

/* (B, H, W, C) -> (B, C*H*W) in C, H, W order, and back. */
void flatten_forward(float *out, const float *inp, size_t B, int C, int H, int W);
void flatten_backward(float *dinp, const float *dout, size_t B, int C, int H, int W);

/* LSTM over T steps of NI features (input (B, T*NI)), hidden H, gates i, f, g, o
 * as PyTorch.  State (time-major) kept for the backward pass:
 *   xt (T, B, NI), gates (T, B, 4H) activated, c and h (T+1, B, H).
 * out (B, H) is the last hidden state. */
typedef struct lstm_state {
	float *xt, *gates, *c, *h, *tmp, *dg;
} lstm_state;
void lstm_forward(float *out, lstm_state *s, const float *inp, const float *wih, const float *whh,
		  const float *bih, const float *bhh, size_t B, int T, int NI, int H);
void lstm_forward_ref(float *out, const float *inp, const float *wih, const float *whh, const float *bih,
		      const float *bhh, size_t B, int T, int NI, int H);
void lstm_backward(float *dinp, float *dwih, float *dwhh, float *dbih, float *dbhh, lstm_state *s,
		   const float *dout, const float *wih, const float *whh, size_t B, int T, int NI, int H);

#endif
