/* dcc_graph.h: the network graph as data (lib/core) -- the operators dcc
 * knows, the nodes of a model's dcc.graph with their attributes, shapes and
 * declared parameters, checked once when the graph is read; and the list of
 * weighted nodes that every stage works on.  Nothing here computes a layer:
 * lib/nn binds the parameters and runs them, formats/ reads and writes the
 * description. */
#ifndef DCC_GRAPH_H
#define DCC_GRAPH_H

#include "dcc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Operators; the numbers are dcc's own (not on disk: the graph stores names). */
typedef enum dcc_op {
	DCC_OP_FC = 1,
	DCC_OP_CONV2D,
	DCC_OP_MAXPOOL2D,
	DCC_OP_RELU,
	DCC_OP_FLATTEN,
	DCC_OP_LSTM,
	DCC_OP_SOFTMAX_CE, /* the loss; logits are its input */
	DCC_OP_AVGPOOL2D,  /* the mean of each k x k window (padding, ceil_mode, count_include_pad) */
	DCC_OP_SIGMOID,
	DCC_OP_TANH,
	DCC_OP_BCE,        /* the loss: sigmoid and binary cross-entropy of each output */
	DCC_OP_MSE,        /* the loss: mean squared error against float targets */
	DCC_OP_ADD,        /* the element-wise sum of its inputs (a residual) */
	DCC_OP_CONCAT,     /* its inputs joined on the channel axis */
	DCC_OP_CLIP,       /* min(max(x, lo), hi): ReLU6 is clip min=0 max=6 */
	DCC_OP_BATCHNORM,  /* per channel: batch statistics in training, running ones after */
	DCC_OP_LEAKYRELU,  /* x, or alpha x below zero */
	DCC_OP_HARDSIGMOID, /* min(max(alpha x + beta, 0), 1) */
	DCC_OP_HARDSWISH,  /* x hardsigmoid(x) with alpha 1/6, beta 1/2 */
	DCC_OP_AFFINE,     /* per channel x scale + shift, constants: ONNX's Mul, Add, Sub, Div by one */
	DCC_OP_MUL,        /* the product of two values, the second the first's shape or C x 1 x 1 (a gate) */
	DCC_OP_SLICE,      /* channels start..end-1 of its input: ONNX's Split and Slice on channels */
	DCC_OP_SHUFFLE,    /* ShuffleNet's channel shuffle of group= groups (Reshape, Transpose, Reshape) */
	DCC_OP_SUB,        /* the first of two values of one shape minus the second */
	DCC_OP_DIV,        /* the first of two values of one shape divided by the second */
	DCC_OP_COUNT
} dcc_op;
/* The graph's last node, the head: what training minimises and eval reports. */
static inline int dcc_op_is_loss(int op) { return op == DCC_OP_SOFTMAX_CE || op == DCC_OP_BCE || op == DCC_OP_MSE; }

const char *dcc_op_name(int op);         /* "fc", "conv2d", ... ("?" if unknown) */
int dcc_op_from_name(const char *name);  /* DCC_OP_* or 0 */

/* A parameter of a node: its name and shape are the graph's; its values
 * (w, v, mask) are bound by whoever runs the graph (lib/nn). */
typedef struct dcc_param {
	char *name;          /* tensor name: "fc1.weight" */
	float *w;            /* values the arithmetic uses */
	float *v;            /* momentum (while training) */
	const uint8_t *mask; /* 1 bit per weight, 1 = kept; NULL = dense */
	size_t n;
	int ndim;
	uint64_t shape[4];
	int is_weight;       /* a weight matrix (prunable), not a bias */
	int is_buffer;       /* a running statistic: not trained by gradients */
	int owned;           /* w was materialised from a shared/fixed tensor */
} dcc_param;

/* The most inputs a node reads (Concat's: densenet's last block joins 25;
 * every other operator reads one, Add and Mul two or more). */
#define DCC_NODE_MAX_IN 32
/* A pooling window's output count along a side of n (k <= n + 2 pad, s >=
 * 1): PyTorch's rule, with ceil_mode's last window kept only when it
 * starts inside the input or its left padding.  The graph, the ONNX reader
 * and the accelerator's pool instruction all size outputs by it. */
static inline uint64_t dcc_pool_out(uint64_t n, uint64_t k, uint64_t s, uint64_t pad, int ceil)
{
	uint64_t o = (n + 2 * pad - k + (ceil ? s - 1 : 0)) / s + 1;
	return ceil && (o - 1) * s >= n + pad ? o - 1 : o;
}

/* An average pool's window along a side of n, output o: its part inside
 * the input [*a, *b) and the extent the divisor counts, PyTorch's rule --
 * the window clipped to the padded input (count_include_pad, incl) or to
 * the input.  The float network, the integer reference and the emulator
 * all divide by the product of the two sides' extents. */
static inline int64_t dcc_pool_window(int64_t o, int64_t n, int64_t k, int64_t s, int64_t pad, int incl, int64_t *a,
				      int64_t *b)
{
	int64_t st = o * s - pad, en = st + k < n + pad ? st + k : n + pad;
	*a = st < 0 ? 0 : st;
	*b = st + k < n ? st + k : n;
	return incl ? en - st : *b - *a;
}

/* The longest graph line, in bytes (eight names of DCC_MAX_NAME and more;
 * a line of 32 inputs needs names of at most 500 bytes). */
#define DCC_GRAPH_LINE 16384

/* A node: operator, attributes as in the graph line, the values it reads,
 * one sample's input and output shape (channels, height, width: the first
 * input's), and its parameters.  Values are numbered as activations: 0 is
 * the graph's input, i + 1 node i's output. */
/* A convolution's window: kernel kh x kw, strides sh, sw, padding top,
 * left, bottom, right (ONNX's pads order), dilations dh, dw. */
typedef struct dcc_geom {
	int kh, kw, sh, sw, pt, pl, pb, pr, dh, dw;
} dcc_geom;

/* The output size along a side of n: the window's reach is d (k - 1) + 1. */
static inline int64_t dcc_conv_out(int64_t n, int64_t k, int64_t s, int64_t p0, int64_t p1, int64_t d)
{
	int64_t span = n + p0 + p1, reach = d * (k - 1) + 1;
	return span < reach ? 0 : (span - reach) / s + 1;
}

/* A square window: kh = kw, one stride, the same pad on every side, no
 * dilation (what pools and the PE array's spconv take). */
static inline int dcc_geom_square(const dcc_geom *q)
{
	return q->kh == q->kw && q->sh == q->sw && q->pt == q->pl && q->pt == q->pb && q->pt == q->pr && q->dh == 1 &&
	       q->dw == 1;
}

typedef struct dcc_node {
	int op;
	char *name;
	int in, out, k, stride, pad, hidden, steps; /* pools: a square window k, stride, pad on every side */
	dcc_geom geo;    /* conv2d: its window (k=, stride=, pad=, dilation= in the graph line) */
	int group;       /* conv2d: channel groups (in and out divisible by it); shuffle: the groups */
	int start, end;  /* slice: the channels [start, end) */
	int ceil;        /* maxpool2d, avgpool2d: ceil_mode (a last, partial window) */
	int incl;        /* avgpool2d: the padding counted in the divisor (count_include_pad) */
	float lo, hi;    /* clip: the bounds */
	float alpha;     /* leakyrelu: the slope below zero (0.01); hardsigmoid: the slope (0.2) */
	float beta;      /* hardsigmoid: the offset (0.5) */
	int bias;        /* fc, conv2d: 1 with a bias (bias=0: none, as before a batchnorm) */
	float eps, momentum; /* batchnorm: PyTorch's epsilon and momentum */
	int nin;
	int src[DCC_NODE_MAX_IN]; /* the values read: node index + 1, 0 the input */
	int ic, ih, iw, oc, oh, ow;
	size_t in_size, out_size; /* elements per sample */
	int hwc;         /* its output is stored H, W, C (channels fastest) */
	int nuse;        /* the nodes that read its output */
	int nparam;
	dcc_param p[4]; /* fc/conv: weight, bias; lstm: w_ih, w_hh, b_ih, b_hh;
			 * batchnorm: weight, bias, running_mean, running_var;
			 * affine: scale, shift (buffers: constants, not trained) */
} dcc_node;

/* A slice's or a shuffle's output channel j: the input channel it copies.
 * A shuffle of g groups of C/g channels reads them transposed, PyTorch's
 * x.view(N, g, C/g, H, W).transpose(1, 2): j -> (j mod g) C/g + j div g;
 * float, fixed point and the compiler all move channels by it. */
static inline int dcc_channel_src(const dcc_node *l, int j)
{
	return l->op == DCC_OP_SLICE ? l->start + j : (j % l->group) * (l->oc / l->group) + j / l->group;
}

/* The whole graph: nodes in topological order (a node reads only the input
 * and earlier nodes' outputs), the last the loss.  A chain is the graph of
 * old: every node reads the one before it. */
typedef struct dcc_graph {
	dcc_node *nodes;
	size_t n;
	int in_c, in_h, in_w, classes;
	int in_hwc;    /* the input is stored H, W, C inside dcc */
	int chain;     /* every node reads the previous node's output */
	char *netname; /* dcc.net, or "custom" */
} dcc_graph;

/* A conv2d window as graph attributes: "k=3 stride=1 pad=1" when square,
 * else "k=1x3 stride=2x1 pad=0,1,0,1 dilation=1x2" (the parts that differ
 * in their long forms). */
void dcc_geom_text(const dcc_geom *q, char *buf, size_t cap);

/* Reads dcc.graph, dcc.input_shape and dcc.classes, infers every shape and
 * declares every parameter; one error naming the node when it does not fit.
 * Tensors are not looked at. */
int dcc_graph_read(const dcc_model *m, dcc_graph **out, dcc_error *err);
void dcc_graph_free(dcc_graph *g);
/* Frees what a node holds (its name and parameter names; owned values). */
void dcc_node_clear(dcc_node *l);
/* Replaces the graph's loss (its last node) by op: softmax_ce, bce or mse. */
int dcc_graph_set_head(dcc_model *m, int op, dcc_error *err);
/* The graph's largest activation, elements per sample (the input included). */
size_t dcc_graph_max_act(const dcc_graph *g);
/* The stages that run only chains (fixed point, the compiler, ONNX export)
 * ask this: 0 for a chain, else DCC_E_UNSUPPORTED naming the first node
 * that reads something other than the node before it, and `what`. */
int dcc_graph_need_chain(const dcc_graph *g, const char *what, dcc_error *err);
/* A copy (malloc'd) of a graph line whose from= reads `to` where it named
 * `name` (a layer replaced by another); NULL when out of memory. */
char *dcc_graph_line_rename(const char *line, const char *name, const char *to);
/* The name of value v (0: "input"). */
const char *dcc_graph_value_name(const dcc_graph *g, int v);

/* ---- weighted nodes: what every stage compresses ---- */

/* A compressible layer: one weight tensor (fc, conv, an LSTM matrix), or on a
 * bare container any floating-point tensor of two or more dimensions. */
typedef struct dcc_prunable {
	char *layer;   /* the graph layer ("fc1", "lstm") or the tensor name */
	char *tensor;  /* "fc1.weight", "lstm.weight_hh_l0" */
	int op;        /* DCC_OP_* of its layer, 0 on a bare container */
	int first;     /* the network's first layer with weights */
	size_t rows, cols; /* the weight as a matrix: (out, in*kh*kw) */
	int scale;     /* a per-channel scale: a depthwise 1x1 conv2d (what dcc fold
			* makes of a batchnorm with no layer of its own before it) */
} dcc_prunable;

/* Lists the model's compressible weights in graph (or tensor) order. */
int dcc_prunable_list(const dcc_model *m, dcc_prunable **out, size_t *n, dcc_error *err);
void dcc_prunable_free(dcc_prunable *p, size_t n);
/* Is the network a CNN (its first weight layer a convolution)? */
int dcc_model_is_cnn(const dcc_prunable *p, size_t n);

/* Per-layer values from the command line: "V" for every layer, or
 * KEY=V,... with KEY a layer or tensor name, default, or (with kinds) fc,
 * conv or lstm.  out[i] gets layer i's: its own, else its kind's, else the
 * default (not for the first layer with skip_first), else NAN; with
 * skip_scales a per-channel scale takes only its own.  A value out
 * of range, a key twice, a name of no layer or an empty spec: DCC_E_ARG or
 * DCC_E_NOTFOUND with the option's name in the message. */
typedef struct dcc_spec_opts {
	const char *opt;   /* "--sparsity" */
	const char *what;  /* "a fraction in [0, 1)" */
	double lo, hi;
	int hi_open;       /* hi itself excluded */
	int integer;       /* whole numbers only */
	int kinds;         /* fc=, conv=, lstm= allowed */
	int skip_first;    /* the default skips the first layer (a CNN's) */
	int skip_scales;   /* the default and kinds skip per-channel scales */
} dcc_spec_opts;
int dcc_layer_spec(const char *spec, const dcc_prunable *p, size_t n, const dcc_spec_opts *o, double *out,
		   dcc_error *err);

#ifdef __cplusplus
}
#endif
#endif
