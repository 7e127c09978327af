/* dcc_fixed.h: dynamic fixed point (formats/fixed.md) -- quantisation with
 * round-half-even and saturation, the per-layer format search, and the
 * integer-only reference inference that the accelerator emulator must
 * match bit for bit. */
#ifndef DCC_FIXED_H
#define DCC_FIXED_H

#include "dcc.h"
#include "dcc_nn.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DCC_FL_MIN (-64)
#define DCC_FL_MAX 64
#define DCC_BW_MAX 24 /* every stored value is then exact as a float too */

/* q = sat_bw(rne(x * 2^fl)). */
int32_t dcc_fx_quantize(double x, int bw, int fl);
/* rshift(v, s) of formats/fixed.md: s > 0 rounds half to even; s <= 0 shifts left. */
int64_t dcc_fx_rshift(int64_t v, int s);
/* The 64-bit accumulator's add: it wraps, as a hardware adder does
 * (formats/fixed.md), so that no model or program can make the
 * arithmetic undefined; dcc's own models never come near the wrap. */
static inline int64_t dcc_fx_wadd(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
/* a + b saturated to +-(2^63 - 1), as dcc_fx_rshift saturates: for sums
 * of shifted terms that are saturated to a width right after. */
static inline int64_t dcc_fx_sadd(int64_t a, int64_t b)
{
	int64_t r;
	return __builtin_add_overflow(a, b, &r) || r == INT64_MIN ? (a < 0 ? -INT64_MAX : INT64_MAX) : r;
}
int32_t dcc_fx_sat(int64_t v, int bw);
/* The joins with an output format of their own (dcc.fixed's a_bw, a_fl,
 * chosen by the search): a residual add, a mul (formats/fixed.md). */
static inline int dcc_op_own_format(int op)
{
	return op == DCC_OP_ADD || op == DCC_OP_SUB || op == DCC_OP_MUL || op == DCC_OP_DIV;
}
/* formats/fixed.md's quotient of two values: a 2^e / b rounded half to even
 * (e clamped to -31..31), saturated to bw; b = 0 saturates by a's sign. */
int32_t dcc_fx_div(int32_t a, int32_t b, int e, int bw);
/* formats/fixed.md's hardsigmoid of x: min(max(rshift(x a, 16 + d) + b, 0),
 * 2^ofl), a the slope in Q16, b the offset at ofl, d = x's fl - ofl */
int64_t dcc_fx_hardsigmoid(int32_t x, int32_t a, int32_t b, int d, int ofl);
/* HardSwish's own gate is at fl 15 (1 = 2^15): y = rshift(x g, 15) */
#define DCC_HSWISH_FL 15
/* round(num / den), ties to even, den > 0: the input's scaling and average pooling */
int64_t dcc_fx_div_rne(int64_t num, int64_t den);
/* The fl minimising the squared error of quantising x[0..n) at bw bits,
 * searched from the largest fl at which max|x| does not saturate up to bw
 * beyond it (ties to the larger fl); *sse gets its error. */
int dcc_fx_best_fl(const float *x, size_t n, int bw, double *sse);
/* Squared error of quantising x at (bw, fl). */
double dcc_fx_sse(const float *x, size_t n, int bw, int fl);

/* The sigmoid and tanh tables of formats/fixed.md (257 Q15 values each). */
void dcc_fx_tables(int32_t sig[257], int32_t tanh_[257]);

/* One fc/conv layer's formats; a layer without weights has w_bw = 0; an
 * add's are its output's (a_bw 0: the widest of its inputs'). */
typedef struct dcc_qfmt {
	int w_bw, w_fl, b_bw, b_fl, a_bw, a_fl;
	/* lstm only: W_hh's fl, the gate pre-activations' and the cell's (both
	 * at a_bw bits); a_fl is the hidden state's, a_bw - 1 */
	int wh_fl, z_fl, c_fl;
} dcc_qfmt;

/* An integer network: the float net's geometry with its weights and biases
 * quantised to the layer formats. */
typedef struct dcc_qlayer {
	const dcc_layer *g; /* geometry (the float net's layer) */
	int32_t *w, *b;
	int32_t *wh, *bh;   /* lstm: W_hh and b_hh (w, b: W_ih and b_ih) */
	dcc_qfmt f;
	int in_fl;          /* the format of its (first) input */
	int out_fl, out_bw; /* of its output (pool/relu/flatten: the input's) */
	int32_t lo, hi;     /* clip: the bounds at in_fl */
	int32_t slope;      /* leakyrelu, hardsigmoid, hardswish: alpha in Q16, round(alpha 2^16) */
	int32_t offset;     /* hardsigmoid, hardswish: beta at the gate's fl */
	int gate_fl;        /* hardsigmoid: the output's fl; hardswish: DCC_HSWISH_FL */
} dcc_qlayer;

typedef struct dcc_qnet {
	const dcc_net *net; /* not owned */
	dcc_qlayer *l;
	size_t n;
	int in_bw, in_fl;
	size_t max_act;     /* largest activation, elements per sample */
	size_t max_patch;   /* largest convolution patch (in x k x k) */
	size_t lstm_scratch; /* lstm: h, c and gates, int32 */
	int chain;          /* every layer reads the one before: two buffers in turn */
	size_t *voff;       /* not a chain: value v's place in the scratch (v >= 1) */
	size_t vtotal;      /* not a chain: the values' elements together */
	int *vfl, *vbw;     /* value v's format (0: the input) */
	int32_t sig[257], tanh_[257]; /* formats/fixed.md's tables, Q15 */
} dcc_qnet;

/* Quantises net's (float) parameters to fmt[i] for each layer i (fmt
 * entries of weightless layers are ignored); in_bw/in_fl: the input. */
int dcc_qnet_build(const dcc_net *net, const dcc_qfmt *fmt, int in_bw, int in_fl, dcc_qnet **out,
		   dcc_error *err);
void dcc_qnet_free(dcc_qnet *q);
/* The formats recorded in the model's dcc.fixed (DCC_E_NOTFOUND if none). */
int dcc_fixed_formats(const dcc_model *m, const dcc_net *net, dcc_qfmt **fmt, int *in_bw, int *in_fl,
		      dcc_error *err);

/* What dcc_fixed_choose is asked for. */
typedef struct dcc_fixed_opts {
	const int *w_bw, *a_bw;  /* per layer (entries of weightless layers ignored) */
	int b_bw, in_bw;         /* the biases' and the input's widths */
	int static_fmt;          /* one weight fl and one activation fl for the whole network */
	const dcc_dataset *calib; /* the calibration samples: the first ncalib of calib_split */
	const dcc_split *calib_split; /* NULL: calib's training split */
	size_t ncalib;
} dcc_fixed_opts;

/* Chooses every format (formats/fixed.md, "Choosing the formats"): the
 * weights' of least squared error, the activations greedily layer by layer
 * on the calibration images.  Fills fmt (nlayers entries) and *in_fl;
 * w_sqnr/a_sqnr (dB, per layer, may be NULL) get the weights' and
 * activations' SQNR. */
int dcc_fixed_choose(const dcc_net *net, const dcc_fixed_opts *o, dcc_qfmt *fmt, int *in_fl, double *w_sqnr,
		     double *a_sqnr, dcc_error *err);

/* The bit-width search (like Ristretto): the smallest widths for the conv
 * weights, the fc weights and the activations as groups, then per layer,
 * greedily, keeping the integer network's accuracy on the first `images`
 * test images of o->calib within margin points of float (o gives the bias
 * width and the calibration images).  The widths found go to w_bw, a_bw
 * (per layer) and in_bw.  log (may be NULL) gets a line per decision. */
typedef struct dcc_width_search {
	const dcc_dataset *score; /* labelled data whose test split scores (NULL: o->calib) */
	double margin;   /* accuracy points */
	size_t images;   /* test images scored on (at most half the test set) */
	int threads;
	void (*log)(void *ctx, const char *line);
	void *log_ctx;
} dcc_width_search;
int dcc_fixed_search_widths(const dcc_net *net, const dcc_fixed_opts *o, const dcc_width_search *s, int *w_bw,
			    int *a_bw, int *in_bw, dcc_error *err);

/* Stores the network's weights and biases quantised to fmt in m (fixed-
 * point tensors, or fixed-point codebooks for shared layers) and records
 * the formats in dcc.fixed.  net must be bound to m; it is stale after. */
int dcc_fixed_apply(dcc_model *m, const dcc_net *net, const dcc_qfmt *fmt, int in_bw, int in_fl, dcc_error *err);

/* ---- integer-only inference (lib/fixed/infer.c: no floating point) ---- */

/* Work memory for one sample, in int32: two activation buffers and a
 * convolution patch. */
size_t dcc_qnet_scratch(const dcc_qnet *q);
/* The real values of n fixed-point numbers at fraction length fl. */
void dcc_fx_to_f32(float *z, const int32_t *v, size_t n, int fl);
/* n 8-bit pixels as bw-bit fixed point at fl: p / 255, exactly rounded. */
void dcc_fx_pixels(int32_t *x, const uint8_t *px, size_t n, int bw, int fl);
/* A sample in fixed point at (bw, fl), normalised by nm (may be NULL):
 * q = sat_bw(rne((x - mean) / std x 2^fl)) from the exact value in double;
 * 8-bit pixels without normalisation by dcc_fx_pixels (exact).  The
 * integer reference and the emulator's host both quantise through it
 * (qnet.c: it is not integer-only). */
void dcc_fx_sample(const dcc_dataset *d, const dcc_split *s, size_t i, const dcc_norm *nm, int bw, int fl, int32_t *out);
/* The network's input in fixed point: dcc_fx_sample at its input format. */
void dcc_qnet_input(const dcc_qnet *q, const dcc_dataset *d, const dcc_split *s, size_t i, int32_t *x);
/* Runs layers [0, upto) on x (the input in fixed point); returns a pointer
 * into scratch holding the output of layer upto-1 (q->l[upto-1].out_fl). */
const int32_t *dcc_qnet_forward(const dcc_qnet *q, const int32_t *x, size_t upto, int32_t *scratch);
/* Runs layers [from, upto) on x, the input of layer `from`. */
const int32_t *dcc_qnet_forward_from(const dcc_qnet *q, const int32_t *x, size_t from, size_t upto,
				     int32_t *scratch);
/* Layer i alone on its inputs (in[k] the value it reads k-th) into out,
 * patch the scratch's last dcc_qnet_scratch - activations words: returns
 * out, or in[0] for the loss (its input is the logits).  A graph with
 * branches runs only from the input (from 0), each value in its place:
 * dcc_qnet_value gives value v's after a forward pass. */
const int32_t *dcc_qnet_node(const dcc_qnet *q, size_t i, const int32_t *const *in, int32_t *out, int32_t *patch);
int32_t *dcc_qnet_value(const dcc_qnet *q, int32_t *scratch, size_t v);
/* The argmax of the logits, ties to the lower class. */
int dcc_qnet_argmax(const int32_t *y, int classes);

/* Integer inference over the test set (limit 0 = all); logits (n, classes)
 * as raw integers if want_logits. */
typedef struct dcc_qeval {
	size_t n, correct;
	double accuracy, images_per_s;
	dcc_eval_result fig; /* the head's figures, as dcc_eval's (its logits NULL) */
	int32_t *logits;
	int logit_fl;
} dcc_qeval;
int dcc_qnet_eval(const dcc_qnet *q, const dcc_dataset *d, size_t limit, int want_logits, int threads,
		  dcc_qeval *r, dcc_error *err);
int dcc_qnet_eval_split(const dcc_qnet *q, const dcc_dataset *d, const dcc_split *s, size_t limit, int want_logits,
			int threads, dcc_qeval *r, dcc_error *err);
void dcc_qeval_free(dcc_qeval *r); /* its logits and confusion matrix */
/* The head's figures of n integer outputs (K each, at fraction length fl:
 * an emulator's, say) against split s's labels. */
int dcc_fx_figures(int head, const int32_t *out, size_t n, int K, int fl, const dcc_dataset *d, const dcc_split *s,
		   dcc_eval_result *r, dcc_error *err);

/* ---- every layer's output (lib/fixed/trace.c) ---- */

/* For one sample at a time, each layer's output as real values in
 * PyTorch's order (C, H, W): the float net n, or (q not NULL) its integer
 * reference q.  The loss layer's output is the logits. */
typedef struct dcc_trace dcc_trace;
int dcc_trace_new(const dcc_net *n, const dcc_qnet *q, dcc_trace **out, dcc_error *err);
void dcc_trace_run(dcc_trace *t, const dcc_dataset *d, const dcc_split *s, size_t i);
const double *dcc_trace_layer(const dcc_trace *t, size_t layer, size_t *count);
void dcc_trace_free(dcc_trace *t);

/* Layer by layer, how far nb's outputs (integer when qb) are from na's on
 * the first `limit` samples of s (0: all): fl[i] for na's layer i, whose
 * counterpart in nb (the same name and output size) is match[i], else
 * DCC_NO_MATCH.  fl and match have na->nlayers entries. */
#define DCC_NO_MATCH ((size_t)-1)
int dcc_compare_layers(const dcc_net *na, const dcc_qnet *qa, const dcc_net *nb, const dcc_qnet *qb,
		       const dcc_dataset *d, const dcc_split *s, size_t limit, dcc_fidelity *fl, size_t *match,
		       dcc_error *err);

/* After a width search that scored the first `scored` test images (at most
 * half the set): the float and integer accuracy on the rest (*count = 0
 * when they could not be measured). */
void dcc_fixed_unseen(const dcc_net *n, const dcc_qnet *q, const dcc_dataset *d, size_t scored, int threads,
		      size_t *count, double *acc_float, double *acc_fixed);

/* The network's outputs on the first `limit` samples of split s (0: all):
 * the float net's (q NULL), else the integer reference q's real values,
 * exact in doubles; *out (n x classes) is the caller's.  fig gets the
 * head's figures when the split has labels (fig->labelled), n always; the
 * caller frees it with dcc_eval_result_free. */
int dcc_outputs(const dcc_net *n, const dcc_qnet *q, const dcc_dataset *d, const dcc_split *s, size_t limit,
		int threads, double **out, dcc_eval_result *fig, dcc_error *err);

#ifdef __cplusplus
}
#endif
#endif
