/* dcc_nn.h: networks -- the layer graph stored in a model's metadata, float
 * forward/backward on OpenBLAS, SGD training that respects pruning masks, and
 * evaluation.  Data sets are plain arrays (formats/dataset.c reads IDX). */
#ifndef DCC_NN_H
#define DCC_NN_H

#include "dcc.h"
#include "dcc_graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the network ----------------------------------------------------------- */

/* A layer is a graph node with its parameters bound to tensors. */
typedef dcc_node dcc_layer;

typedef struct dcc_net {
	dcc_layer *layers;     /* the graph's nodes */
	size_t nlayers;
	int in_c, in_h, in_w, classes; /* classes: the outputs */
	int head;              /* the loss it ends in: DCC_OP_SOFTMAX_CE, _BCE or _MSE */
	dcc_norm norm;         /* the model's input normalisation (n = 0: none) */
	char *netname;
	dcc_model *model;      /* not owned: the tensors the params point into */
	dcc_graph *graph;      /* owned: layers and netname are its */
} dcc_net;

/* Builds the net described by the model's dcc.graph, binding each param to
 * its tensor (f32; shared or fixed-point weights are materialised as floats)
 * and checking every shape.  Errors name the layer and tensor. */
int dcc_net_from_model(dcc_model *m, dcc_net **out, dcc_error *err);
void dcc_net_free(dcc_net *n);
/* The values the arithmetic uses for the parameter named `name` (NULL if none). */
float *dcc_net_param(const dcc_net *n, const char *name);
/* Writes materialised params (shared/fixed weights) back is the stages' job;
 * f32 params alias the model's tensors, so training updates them in place. */

/* Creates a built-in network with freshly initialised weights:
 * "lenet300", "lenet5", "lstm", "mlp:784-512-256-10", "cnn:8,16:64",
 * "resnet:16,32,64:3" or "mobilenet:16,16,24,32:4" (lib/nn/zoo.c;
 * formats/dct.md gives their graphs).  Input shape and
 * outputs come from the data set (c, h, w, classes); head is its loss
 * (DCC_OP_SOFTMAX_CE, DCC_OP_BCE, DCC_OP_MSE). */
int dcc_net_create(const char *spec, int c, int h, int w, int classes, int head, uint64_t seed,
		   dcc_model **out, dcc_error *err);
/* The head a data set's labels call for: softmax_ce for classes, mse for
 * float targets; and the outputs a head needs for them (one for bce on
 * 0/1 labels, else the classes or the targets' width). */
int dcc_head_for_data(const dcc_dataset *d);
int dcc_head_outputs(int head, const dcc_dataset *d);
/* --loss: ce, bce or mse as a head (-1: none of them). */
int dcc_head_from_name(const char *loss);
/* (Re)creates every parameter tensor of the graph in m with PyTorch's
 * default initialisation, drawn from seed. */
int dcc_net_init(dcc_model *m, uint64_t seed, dcc_error *err);
/* Writes the graph of a built-in network into m without touching tensors
 * (dcc import --net). */
int dcc_net_graph(const char *spec, int c, int h, int w, int classes, int head, dcc_model *m,
		  dcc_error *err);

/* Folds every batchnorm and affine into the fc or conv2d before it (that
 * layer's output read by nothing else, a chain of them in order), as fixed
 * point and the accelerator need: W' = W s, bias' = (bias - running_mean)
 * s + bias_bn per channel, s = weight / sqrt(running_var + eps) (an
 * affine's scale and shift, mean 0), in double; what read it reads the
 * layer; a layer without a bias gets a zero one.  Each fold is a
 * dcc.provenance line.  *nfold: the layers folded.  One after anything
 * else, or into a shared or fixed-point layer: one error naming it. */
int dcc_fold_batchnorm(dcc_model *m, size_t *nfold, dcc_error *err);

/* ---- forward, loss, backward -------------------------------------------- */

/* Activations and saved state for batches of up to `batch` samples: for
 * training (gradients too), for inference that keeps every layer's
 * activations (dcc_work_act), or for inference alone (two buffers in turn:
 * only the logits are kept). */
enum { DCC_WORK_EVAL = 0, DCC_WORK_TRAIN = 1, DCC_WORK_KEEP = 2 };
typedef struct dcc_work dcc_work;
int dcc_work_new(const dcc_net *n, size_t batch, int mode, dcc_work **out, dcc_error *err);
void dcc_work_free(dcc_work *w);

/* Forward pass of B samples x (B, in), each in PyTorch's order (C, H, W)
 * -> returns the logits (B, classes), owned by the work area. */
const float *dcc_net_forward(const dcc_net *n, dcc_work *w, const float *x, size_t B);
/* After dcc_net_forward on a training or DCC_WORK_KEEP work area: the input
 * of layer i (the output of layer i-1),
 * B x in_size; convolution-side activations are stored H, W, C (channels
 * fastest), the rest as PyTorch orders them. */
const float *dcc_work_act(const dcc_work *w, size_t i);
/* A mul's gate: the channels its second input has per sample when it is
 * broadcast (C x 1 x 1 over a larger map, channels fastest), else 0. */
size_t dcc_mul_gate(const dcc_net *n, const dcc_layer *l);
/* Is activation i (the input of layer i) stored H, W, C: from a spatial
 * first layer up to the first flatten, fc or lstm? */
int dcc_act_hwc(const dcc_net *n, size_t i);
/* Softmax cross-entropy of B logits against labels: returns the summed loss;
 * dlogits (if not NULL) gets d(sum loss / denom)/d(logits), denom being the
 * whole minibatch when B is one thread's share of it. */
double dcc_softmax_ce(float *dlogits, const float *logits, const int *labels, size_t B,
		      int classes, double denom);
/* The loss of a head (DCC_OP_SOFTMAX_CE, _BCE, _MSE) on B samples of K
 * outputs, PyTorch's mean-reduced definitions summed over the samples:
 * class labels cls, or float targets tgt (B x K; NULL: from cls, a
 * one-output bce head reading a class 0 or 1); dz as dcc_softmax_ce's. */
double dcc_head_loss(int head, float *dz, const float *z, const int *cls, const float *tgt, size_t B, int K,
		     double denom);
/* Backward pass after dcc_net_forward: accumulates parameter gradients (+=)
 * from dlogits (B, classes) into the work area's gradients (training work
 * areas only). */
void dcc_net_backward(const dcc_net *n, dcc_work *w, const float *dlogits, size_t B);
/* Compressed training: fake-quantise each fc/conv/lstm layer's output to
 * a_bits and the error reaching it to e_bits (dynamic fixed point: round
 * half to even, saturate); 0: off.  The fraction lengths are those set by
 * dcc_work_set_quant_formats, or where none is set (DCC_FL_AUTO) the
 * largest at which the values' own largest magnitude fits. */
void dcc_work_set_quant(dcc_work *w, int a_bits, int e_bits);
#define DCC_FL_AUTO (-10000)
/* fl_a, fl_e: per layer (NULL: all DCC_FL_AUTO); the arrays are read, not kept. */
void dcc_work_set_quant_formats(dcc_work *w, const int *fl_a, const int *fl_e);
/* What quantising has seen per layer since dcc_work_quant_reset: the
 * largest magnitude, the values, those saturated (overflow) and the nonzero
 * ones rounded to zero (underflow), and the fl last used. */
typedef struct dcc_quant_obs {
	float max;
	uint64_t n, overflow, underflow;
	int fl;
} dcc_quant_obs;
const dcc_quant_obs *dcc_work_quant_obs(const dcc_work *w, int errors);
void dcc_work_quant_reset(dcc_work *w);
/* The largest fl at which a value of magnitude mx fits bits bits. */
int dcc_fl_for_max(float mx, int bits);
/* The largest |x[i]| (0 for none). */
float dcc_max_abs(const float *x, size_t n);
/* Quantises x to bits at fl (DCC_FL_AUTO: dcc_fl_for_max of its largest
 * magnitude), counting into obs (may be NULL); returns the fl used. */
int dcc_fake_quant_fl(float *x, size_t n, int bits, int fl, dcc_quant_obs *obs);
void dcc_fake_quant(float *x, size_t n, int bits);
/* A batchnorm layer's statistics over the last training forward pass: the
 * batch's mean and biased variance per channel, and the values each is
 * over (0 on success, -1 for another layer or work area). */
int dcc_work_bn_batch(const dcc_work *w, size_t layer, const float **mean, const float **var, size_t *count);
/* The gradient of parameter k of layer i in a training work area. */
float *dcc_work_grad(dcc_work *w, size_t layer, int k);
void dcc_work_zero_grad(dcc_work *w);

/* ---- training ----------------------------------------------------------- */

typedef struct dcc_train_status {
	int epoch, epochs;   /* 1-based */
	size_t done, total;  /* images of this epoch */
	double loss;         /* running mean loss of this epoch */
	double lr;
	double images_per_s;
	int epoch_end;       /* 1 at the end of an epoch */
	/* at the end of a quantised epoch (--quant): per fc/conv/lstm layer */
	const struct dcc_quant_epoch *quant;
	size_t nquant;
} dcc_train_status;

/* One layer's formats over a quantised epoch: the weights' fl (at the
 * epoch's end); for the activations and the errors, what saturated or
 * underflowed over the epoch and (a.fl, e.fl) the last batch's fl. */
typedef struct dcc_quant_epoch {
	const char *layer;
	int fl_w;
	dcc_quant_obs a, e;
} dcc_quant_epoch;

typedef struct dcc_train_opts {
	int epochs;
	size_t batch;
	double lr, momentum, weight_decay;
	int schedule;      /* DCC_LR_* */
	double step_gamma; /* step: multiply by this ... */
	int step_every;    /* ... every this many epochs */
	uint64_t seed;
	size_t limit;      /* use only the first `limit` training images (0 = all) */
	int threads;       /* worker threads, each on a share of every batch (0 = cores) */
	/* a run that continues a schedule: these epochs are epochs
	 * [epoch_offset, epoch_offset + epochs) of schedule_epochs (0 = epochs) */
	int epoch_offset, schedule_epochs;
	/* --quant W:A:E: the forward and backward arithmetic on W-bit weights,
	 * A-bit activations and E-bit errors; the updates go to the float32
	 * master weights.  quant_from: the first epoch quantised (warm-up). */
	int quant_w, quant_a, quant_e, quant_from;
	/* the activations' and errors' fl for a batch: the smallest that the
	 * largest magnitudes of the last 2^quant_window batches need (a
	 * power-of-two scale, so rescaling is a shift); the first batch uses
	 * its own */
	int quant_window;
	/* the master weights the updates go to: 32-bit fixed point, one fl per
	 * tensor with a bit of headroom (1, the default with --quant), or
	 * float32 (0) */
	int master_fixed;
	/* --augment: each training image of each epoch moved by up to
	 * augment_crop pixels on each axis (torchvision's RandomCrop with that
	 * padding: the uncovered pixels hold the normalised value of 0) and,
	 * with augment_flip, mirrored left to right half the time
	 * (RandomHorizontalFlip); 0, 0: the images as they are */
	int augment_flip, augment_crop;
	/* Called after each batch and at the end of each epoch (may be NULL). */
	void (*progress)(void *ctx, const dcc_train_status *s);
	void *ctx;
	/* Called after every weight update (may be NULL): weight sharing ties
	 * the weights of a cluster back to their centroid here. */
	void (*after_step)(void *step_ctx, struct dcc_net *n);
	void *step_ctx;
} dcc_train_opts;

enum { DCC_LR_CONST = 0, DCC_LR_STEP, DCC_LR_COSINE };
/* --lr-schedule's text: const, cosine or step[:EVERY[:GAMMA]]. */
int dcc_lr_schedule_parse(const char *s, dcc_train_opts *o, dcc_error *err);

/* --augment's text: flip, crop:P, both (flip,crop:P) or none. */
int dcc_augment_parse(const char *s, dcc_train_opts *o, dcc_error *err);
/* The same text back ("flip,crop:2"; "none"). */
const char *dcc_augment_text(const dcc_train_opts *o, char *buf, size_t cap);
/* One image of C x H x W (in, out distinct) under --augment's draws for
 * this seed, epoch and sample: the same whichever worker or batch takes
 * it.  fill: the value of an uncovered pixel, per element. */
void dcc_augment(const dcc_train_opts *o, int epoch, size_t sample, int C, int H, int W, const float *fill,
		 const float *in, float *out);

void dcc_train_defaults(const char *netname, dcc_train_opts *o);
/* Trains n in place (its params alias the model's f32 tensors).  Masked
 * weights stay exactly zero and their gradients are dropped. */
int dcc_train(dcc_net *n, const dcc_dataset *d, const dcc_train_opts *o, dcc_error *err);

/* ---- evaluation --------------------------------------------------------- */

typedef struct dcc_eval_result {
	int head;            /* the network's loss: what the figures below mean */
	int labelled;        /* 0: outputs only (a split without labels) */
	size_t n, correct;
	double loss;         /* the head's mean loss */
	double accuracy;     /* softmax_ce: top-1; bce: at 0.5 (each output); mse: NAN */
	double top5;         /* softmax_ce with 5 classes or more, else NAN */
	double precision, recall; /* bce: of the outputs above 0.5 (NAN when none) */
	double mse, mae;     /* mse: per output */
	double images_per_s;
	int classes;
	uint64_t *confusion; /* classes x classes: [true][predicted] */
	float *logits;       /* (n, classes) when asked for, else NULL */
} dcc_eval_result;

/* Evaluates on the first `limit` test samples (0 = all) with `threads`
 * workers (0 = cores); dcc_eval_split on any split (one without labels
 * gives the outputs alone). */
int dcc_eval(const dcc_net *n, const dcc_dataset *d, size_t limit, int want_logits, int threads,
	     dcc_eval_result *r, dcc_error *err);
int dcc_eval_split(const dcc_net *n, const dcc_dataset *d, const dcc_split *s, size_t limit, int want_logits,
		   int threads, dcc_eval_result *r, dcc_error *err);
/* Does the data fit the network: its samples' shape, and (labels) its
 * labels' kind and count for the head?  One error saying what differs. */
int dcc_net_fits(const dcc_net *n, const dcc_dataset *d, int labels, dcc_error *err);

/* A head's figures accumulated over batches of outputs (as doubles: an
 * integer network's values are exact in them). */
typedef struct dcc_metrics {
	int head, K;
	size_t n, correct, top5;
	uint64_t *confusion; /* K x K for softmax_ce: [true][predicted] */
	uint64_t tp, fp, fn, tn;
	double se, ae;
} dcc_metrics;
int dcc_metrics_init(dcc_metrics *m, int head, int K, dcc_error *err);
void dcc_metrics_add(dcc_metrics *m, const double *z, const int *cls, const float *tgt, size_t B);
void dcc_metrics_merge(dcc_metrics *dst, const dcc_metrics *src);
/* Fills r's head, n and figures (not the confusion matrix, which stays m's). */
void dcc_metrics_finish(const dcc_metrics *m, dcc_eval_result *r);
void dcc_metrics_free(dcc_metrics *m);

void dcc_eval_result_free(dcc_eval_result *r);
/* A softmax_ce result's accuracy on class k's samples (NAN: none). */
double dcc_class_accuracy(const dcc_eval_result *r, size_t k);

/* What a head's outputs decide: argmax per sample (ties to the lower
 * class), a one-output bce head's z > 0; and its probabilities (softmax,
 * sigmoid; mse outputs as they are).  z: n x K. */
void dcc_head_decide(int head, const double *z, size_t n, int K, int64_t *out);
void dcc_head_probs(int head, const double *z, size_t n, int K, float *out);
/* z as the tensor dcc run writes (its data the caller's to free): float32
 * (n, K) raw or probabilities, or int64 (n) decisions. */
enum { DCC_OUT_RAW, DCC_OUT_PROBS, DCC_OUT_ARGMAX };
int dcc_head_tensor(int head, int kind, const double *z, size_t n, int K, dcc_tensor *t, dcc_error *err);

/* How far outputs b are from the reference a: the decisions' agreement
 * (classifier heads), mean and largest absolute difference, and the
 * SQNR 10 log10(sum a^2 / sum (a - b)^2) in dB (infinite when equal). */
typedef struct dcc_fidelity {
	size_t n, K, agree;
	double sum_abs, max_abs, sig, err;
} dcc_fidelity;
void dcc_fidelity_add(dcc_fidelity *f, int head, const double *a, const double *b, size_t n, size_t K);
double dcc_fidelity_sqnr_db(const dcc_fidelity *f);

/* A search's score function (dcc_sensitivity_opts.score and the like): the
 * test accuracy of net, whose parameters alias the model the search
 * changes, on the first limit test images (0 = all). */
typedef struct dcc_scorer {
	const dcc_net *net;
	const dcc_dataset *d;
	size_t limit;
	int threads;
} dcc_scorer;
int dcc_score_accuracy(void *scorer, double *acc, dcc_error *err);


#ifdef __cplusplus
}
#endif
#endif
