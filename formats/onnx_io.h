/* onnx_io.h: what the ONNX reader's files share (formats/onnx.md): the
 * parsed graph with its names indexed (initializers, the node that makes a
 * value, the nodes that read it), attribute and initializer helpers, and
 * the reader's state -- the value the sequential graph is at, its shape,
 * and the dcc graph lines written so far.  One reader function per ONNX
 * operator (onnx.c's table); the row LSTM's node pattern is onnx_lstm.c's. */
#ifndef DCC_ONNX_IO_H
#define DCC_ONNX_IO_H

#include "../lib/core/internal.h"
#include "../lib/dcc_graph.h"
#include "dcc_formats.h"
#include "onnx.pb-c.h"

typedef Onnx__NodeProto node_t;
typedef Onnx__TensorProto tensor_t;

/* Names to positions: initializers, the producing node of each value, the
 * nodes (and input slots) reading each value. */
typedef struct onnx_index {
	size_t cap;
	const char **key;   /* the names, cap slots (NULL = empty) */
	int32_t *init;      /* slot -> initializer, -1 */
	int32_t *prod;      /* slot -> producing node, -1 */
	uint32_t *cons_at;  /* slot -> first of its consumers in cons[], cap + 1 */
	uint32_t *cons;     /* (node << 8 | input slot) of every consumer */
} onnx_index;

/* A value of the ONNX graph as dcc reads it: the dcc graph line that makes
 * it (-1: the input itself) and its shape per sample. */
typedef struct onnx_val {
	int known;
	int line;
	int C, H, W, flat;
	size_t F;
	int nhwc;     /* a map ONNX holds channels last, (N, H, W, C): a Transpose (0, 2, 3, 1) of dcc's map */
	int hwc_flat; /* a vector flattened from one: its features in (H, W, C) order of the map C, H, W */
} onnx_val;

/* What the recursive look-ups found per node, so that a graph whose shape
 * arithmetic or LSTM side chain branches and joins is read in linear time:
 * side[k] 0 unknown, 1 an LSTM's side chain, 2 not; shape[k] 0 unknown, -1
 * no shape arithmetic, else 1 + its entry in vals. */
typedef struct onnx_memo {
	int8_t *side;
	int32_t *shape;
	struct onnx_ints { int n, rows; int64_t v[8]; } *vals; /* rows > 1: a matrix, row-major */
	size_t nvals, cap;
} onnx_memo;

typedef struct onnx_read {
	const Onnx__GraphProto *g;
	onnx_index ix;
	dcc_model *m;
	char **lines;
	size_t nlines;
	int nfc, nconv, npool, nrelu, nflat, nact, nadd, ncat, nclip, nbn, naff, nmul, nslice, nshuffle, nsub, ndiv;
	int unnamed; /* weighted layers whose weight had no NAME.weight name: named kindN */
	/* the value the node being read reads, and its shape */
	const char *cur, *next_out;
	int C, H, W, flat;
	size_t F;
	int nhwc, hwc_flat; /* as onnx_val's */
	const char *in_name; /* the graph's input, */
	int64_t *ishape;     /* its (C, H, W) for dcc.input_shape, */
	int in_nhwc;         /* 1: (N, H, W, C) in ONNX, its Transpose to (N, C, H, W) folded */
	int in_rank;         /* its dimensions in ONNX */
	int src_line;  /* the dcc line making it (-1: the input): a line added reads it */
	onnx_val *val; /* per name slot of ix */
	int classes, last_fc;
	int bce; /* the graph ends in a Sigmoid: a bce head */
	size_t k; /* the node being read (MatMul takes the Add after it) */
	/* a row LSTM's view of the image: 1 (N, T, F) rows as steps, 2 the
	 * same time-major, 3 the LSTM's last hidden state (1, N, H), 4-6 its
	 * Y (T, 1, N, H) squeezed, transposed, gathered */
	int seq, T, Fs, Hs;
	const char *ycur; /* the LSTM's Y, when its Y_h is not what follows */
	int in_line;         /* the line whose output is the graph's input (-1: the input itself) */
	onnx_memo *memo;     /* per node, n_node of each */
	const char *unsq_out; /* an Unsqueeze of a vector on axis 2 that one on axis 3 reads: (N, C, 1, 1) */
	const char *pad_out; /* a zero Pad an AveragePool or a Conv reads: its output, and its padding */
	int pad;             /* the AveragePool's, on every side */
	int pad_conv;        /* 1: the Pad is a Conv's, */
	int cpad[4];         /* its top, left, bottom, right (r->H, r->W stay the unpadded map's) */
	dcc_norm norm;       /* what constant arithmetic on the input became (n = 0: none) */
} onnx_read;

const tensor_t *onnx_init(const onnx_read *r, const char *name);
const node_t *onnx_producer(const onnx_read *r, const char *name);
int32_t onnx_producer_index(const onnx_read *r, const char *name); /* -1: none */
/* Every consumer of name: (node index << 8 | input slot); *n of them. */
const uint32_t *onnx_consumers(const onnx_read *r, const char *name, size_t *n);

const Onnx__AttributeProto *onnx_attr(const node_t *n, const char *name);
int64_t onnx_attr_i(const node_t *n, const char *name, int64_t dflt);
float onnx_attr_f(const node_t *n, const char *name, float dflt);
/* all entries of an ints attribute equal (or absent): the value, else -1 */
int64_t onnx_attr_ints_same(const node_t *n, const char *name, int64_t dflt);
/* A float initializer's values (float_data or little-endian raw_data). */
int onnx_tensor_floats(const tensor_t *t, float **out, size_t *n, dcc_error *err);
/* An int64 initializer of at most 8 values: how many, or -1. */
int onnx_tensor_i64(const tensor_t *t, int64_t v[8]);
/* The int64 values of a node's input k (an initializer) or, for opsets
 * before 13, of its ints attribute `name`: how many, or -1. */
int onnx_node_ints(const onnx_read *r, const node_t *n, size_t k, const char *name, int64_t v[8]);

/* Adds a dcc graph line reading r->src_line's value (from= is appended
 * when that is not the line before, unless the line names its own). */
int onnx_add_line(onnx_read *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The value called name as read so far (NULL: not one dcc has read). */
const onnx_val *onnx_value(const onnx_read *r, const char *name);
/* Notes value name as made by line (-1: the input), of the shape being read. */
void onnx_note_value(onnx_read *r, const char *name, int line);
/* The name of line i (its second word; "input" for -1), into out[cap]. */
void onnx_line_name(const onnx_read *r, int i, char *out, size_t cap);
/* A layer name from the weight's initializer ("fc1.weight" -> "fc1"),
 * else kindN; unique in the model. */
void onnx_layer_name(onnx_read *r, const char *wname, const char *kind, int idx, char *out, size_t cap);

/* The batch in a folded shape (onnx_shape.c). */
#define ONNX_BATCH INT64_MIN
/* The int64 vector value name holds when it is shape arithmetic on what
 * has been read (a Shape of an activation, Gather, Unsqueeze, Squeeze,
 * Cast, Concat, Add/Sub/Mul/Div, Slice, constants; the batch ONNX_BATCH):
 * its length, or -1. */
int onnx_shape_ints(const onnx_read *r, const char *name, int64_t v[8]);
/* Is n such arithmetic (read through, not a layer)? */
int onnx_shape_node(const onnx_read *r, const node_t *n);

/* Nodes that move channels (onnx_channels.c): Slice and Split on the
 * channel axis, a channel shuffle's Reshape to (N, g, C/g, H, W) (v its
 * shape) and Transpose. */
int onnx_read_slice(onnx_read *r, const node_t *n, const char *nname, dcc_error *err);
int onnx_read_split(onnx_read *r, const node_t *n, const char *nname, dcc_error *err);
int onnx_read_shuffle(onnx_read *r, const node_t *n, const int64_t v[5], const char *nname, dcc_error *err);
int onnx_read_transpose(onnx_read *r, const node_t *n, const char *nname, dcc_error *err);

/* The row LSTM's pattern (onnx_lstm.c): 1 when n is part of it (read),
 * 0 when it is not, or an error. */
int onnx_lstm_node(onnx_read *r, const node_t *n, const char *nname, dcc_error *err);
/* A side-chain node torch.onnx.export writes for an LSTM's zero initial
 * states: skipped. */
int onnx_lstm_side_chain(const onnx_read *r, size_t k);

#endif
