/* onnx.c: ONNX models in and out (formats/onnx.md).  Parsing and packing
 * are protobuf-c's, on the onnx.proto Debian's libonnx-dev ships; this file
 * maps a sequential graph of Gemm / MatMul(+Add) / Conv / Relu / MaxPool /
 * Flatten / Reshape onto dcc's layers and back.  Anything else is an error
 * naming the node: nothing is dropped silently. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/core/internal.h"
#include "../lib/dcc_graph.h"
#include "dcc_formats.h"
#include "onnx.pb-c.h"

typedef Onnx__NodeProto node_t;
typedef Onnx__TensorProto tensor_t;

static const tensor_t *init_find(const Onnx__GraphProto *g, const char *name)
{
	for (size_t i = 0; name && i < g->n_initializer; i++)
		if (g->initializer[i]->name && !strcmp(g->initializer[i]->name, name))
			return g->initializer[i];
	return NULL;
}

static const Onnx__AttributeProto *attr(const node_t *n, const char *name)
{
	for (size_t i = 0; i < n->n_attribute; i++)
		if (n->attribute[i]->name && !strcmp(n->attribute[i]->name, name))
			return n->attribute[i];
	return NULL;
}

static int64_t attr_i(const node_t *n, const char *name, int64_t dflt)
{
	const Onnx__AttributeProto *a = attr(n, name);
	return a && a->has_i ? a->i : dflt;
}

static float attr_f(const node_t *n, const char *name, float dflt)
{
	const Onnx__AttributeProto *a = attr(n, name);
	return a && a->has_f ? a->f : dflt;
}

/* all entries of an ints attribute equal (or absent): the value, else -1 */
static int64_t attr_ints_same(const node_t *n, const char *name, int64_t dflt)
{
	const Onnx__AttributeProto *a = attr(n, name);
	if (!a || !a->n_ints)
		return dflt;
	for (size_t i = 1; i < a->n_ints; i++)
		if (a->ints[i] != a->ints[0])
			return -1;
	return a->ints[0];
}

/* A float initializer's values (float_data or little-endian raw_data). */
static int tensor_floats(const tensor_t *t, float **out, size_t *n, dcc_error *err)
{
	uint64_t cnt = 1;
	for (size_t i = 0; i < t->n_dims; i++) {
		if (t->dims[i] < 0 || (t->dims[i] && cnt > (1ull << 40) / (uint64_t)t->dims[i]))
			return dcc_fail(err, DCC_E_FORMAT, "initializer '%s': bad shape", t->name ? t->name : "?");
		cnt *= (uint64_t)t->dims[i];
	}
	if (!t->has_data_type || t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
		return dcc_fail(err, DCC_E_UNSUPPORTED, "initializer '%s' is not float32", t->name ? t->name : "?");
	if (t->has_raw_data ? t->raw_data.len != cnt * 4 : t->n_float_data != cnt)
		return dcc_fail(err, DCC_E_FORMAT, "initializer '%s': %llu values expected", t->name ? t->name : "?",
				(unsigned long long)cnt);
	float *f = malloc(cnt ? cnt * sizeof(float) : 1);
	if (!f)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	if (cnt && t->has_raw_data)
		memcpy(f, t->raw_data.data, cnt * 4); /* little-endian hosts */
	else if (cnt)
		memcpy(f, t->float_data, cnt * 4);
	*out = f;
	*n = (size_t)cnt;
	return 0;
}

/* An int64 initializer of at most 8 values (a shape, axes, an index):
 * how many, or -1. */
static int tensor_i64(const tensor_t *t, int64_t v[8])
{
	if (!t || !t->has_data_type || t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__INT64 || t->n_dims > 1)
		return -1;
	size_t n = t->n_dims ? (size_t)t->dims[0] : 1;
	if (t->n_dims && (t->dims[0] < 0 || t->dims[0] > 8))
		return -1;
	if (t->has_raw_data) {
		if (t->raw_data.len != 8 * n)
			return -1;
		memcpy(v, t->raw_data.data, 8 * n);
	} else {
		if (t->n_int64_data != n)
			return -1;
		for (size_t i = 0; i < n; i++)
			v[i] = t->int64_data[i];
	}
	return (int)n;
}

/* The int64 values of a node's input k (an initializer) or, for opsets
 * before 13, of its ints attribute `name`: how many, or -1. */
static int node_ints(const Onnx__GraphProto *g, const node_t *n, size_t k, const char *name, int64_t v[8])
{
	if (n->n_input > k && n->input[k] && n->input[k][0])
		return tensor_i64(init_find(g, n->input[k]), v);
	const Onnx__AttributeProto *a = attr(n, name);
	if (!a || a->n_ints > 8)
		return a ? -1 : 0;
	for (size_t i = 0; i < a->n_ints; i++)
		v[i] = a->ints[i];
	return (int)a->n_ints;
}

/* ONNX's LSTM gate blocks are i, o, f, c; PyTorch's (and dcc's) i, f, g, o. */
static void gates_to_torch(const float *src, float *dst, size_t block)
{
	static const int from[4] = {0, 2, 3, 1};
	for (int k = 0; k < 4; k++)
		memcpy(dst + (size_t)k * block, src + (size_t)from[k] * block, block * sizeof(float));
}

static int side_op(const char *op)
{
	static const char *const ops[] = {"Shape", "Gather", "Unsqueeze", "Concat", "ConstantOfShape"};
	for (size_t i = 0; op && i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strcmp(op, ops[i]))
			return 1;
	return 0;
}

/* A node of the side chain torch.onnx.export writes to make an LSTM's zero
 * initial states from the batch size: every output feeds only more of the
 * chain or an LSTM's initial_h / initial_c. */
static int side_chain(const Onnx__GraphProto *g, const node_t *n)
{
	if (!side_op(n->op_type))
		return 0;
	for (size_t o = 0; o < n->n_output; o++)
		for (size_t k = 0; n->output[o] && n->output[o][0] && k < g->n_node; k++) {
			const node_t *c = g->node[k];
			for (size_t i = 0; i < c->n_input; i++)
				if (c->input[i] && !strcmp(c->input[i], n->output[o]) &&
				    !(side_op(c->op_type) || (c->op_type && !strcmp(c->op_type, "LSTM") && i >= 5)))
					return 0;
		}
	return 1;
}

/* An LSTM initial state that is zero: a ConstantOfShape of 0 (its default). */
static int zero_state(const Onnx__GraphProto *g, const char *name)
{
	for (size_t k = 0; k < g->n_node; k++) {
		const node_t *c = g->node[k];
		if (!c->op_type || strcmp(c->op_type, "ConstantOfShape") || !c->n_output || !c->output[0] ||
		    strcmp(c->output[0], name))
			continue;
		const Onnx__AttributeProto *a = attr(c, "value");
		if (!a)
			return 1;
		if (!a->t)
			return 0;
		if (!a->t->has_raw_data)
			return a->t->n_float_data == 1 ? a->t->float_data[0] == 0 : 0;
		if (a->t->raw_data.len > 8)
			return 0;
		for (size_t i = 0; i < a->t->raw_data.len; i++)
			if (a->t->raw_data.data[i])
				return 0;
		return 1;
	}
	return 0;
}

typedef struct builder {
	dcc_model *m;
	char **lines;
	size_t nlines;
	int nfc, nconv, npool, nrelu, nflat, nact;
} builder;

static int add_line(builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int add_line(builder *b, const char *fmt, ...)
{
	char **q = realloc(b->lines, (b->nlines + 1) * sizeof(char *));
	if (!q)
		return -1;
	b->lines = q;
	char *s = malloc(DCC_MAX_NAME + 128);
	if (!s)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s, DCC_MAX_NAME + 128, fmt, ap);
	va_end(ap);
	b->lines[b->nlines++] = s;
	return 0;
}

/* A layer name from the weight's initializer ("fc1.weight" -> "fc1"),
 * else kindN; unique in the model. */
static void layer_name(builder *b, const char *wname, const char *kind, int idx, char *out, size_t cap)
{
	out[0] = 0;
	size_t L = wname ? strlen(wname) : 0;
	if (L > 7 && L < cap && !strcmp(wname + L - 7, ".weight")) {
		int ok = 1;
		for (size_t i = 0; i + 7 < L; i++)
			ok &= (wname[i] >= 'a' && wname[i] <= 'z') || (wname[i] >= 'A' && wname[i] <= 'Z') ||
			      (wname[i] >= '0' && wname[i] <= '9') || wname[i] == '_' || wname[i] == '.';
		if (ok) {
			memcpy(out, wname, L - 7);
			out[L - 7] = 0;
		}
	}
	char nm[DCC_MAX_NAME + 16];
	snprintf(nm, sizeof(nm), "%s.weight", out);
	if (!out[0] || dcc_model_find(b->m, nm))
		snprintf(out, cap, "%s%d", kind, idx);
}

int dcc_onnx_read_mem(const uint8_t *buf, size_t len, dcc_model **out, dcc_error *err)
{
	*out = NULL;
	Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, buf);
	if (!mp)
		return dcc_fail(err, DCC_E_FORMAT, "not an ONNX model (the protobuf does not parse)");
	Onnx__GraphProto *gm = mp->graph;
	const Onnx__GraphProto *g = gm;
	builder b = {0};
	int rc = 0;
	float *w = NULL, *bias = NULL;
	/* Constant nodes' tensors (torch.onnx.export writes shapes, axes and
	 * indices so) join the initializers under their output names while
	 * the graph is read; everything is put back before it is freed */
	size_t orig_ni = gm ? gm->n_initializer : 0, ncst = 0;
	tensor_t **orig_init = gm ? gm->initializer : NULL, **ext = NULL;
	char **old_names = NULL;
	if (!g || !g->n_node) {
		rc = dcc_fail(err, DCC_E_FORMAT, "ONNX model without a graph");
		goto done;
	}
	if (!(ext = malloc((orig_ni + g->n_node) * sizeof(*ext))) || !(old_names = malloc(g->n_node * sizeof(char *)))) {
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
		goto done;
	}
	if (orig_ni)
		memcpy(ext, orig_init, orig_ni * sizeof(*ext));
	for (size_t k = 0; k < g->n_node; k++) {
		const node_t *c = g->node[k];
		const Onnx__AttributeProto *a = c->op_type && !strcmp(c->op_type, "Constant") ? attr(c, "value") : NULL;
		if (a && a->t && c->n_output && c->output[0]) {
			old_names[ncst] = a->t->name;
			a->t->name = c->output[0];
			ext[orig_ni + ncst++] = a->t;
		}
	}
	gm->initializer = ext, gm->n_initializer = orig_ni + ncst;
	if (!(b.m = dcc_model_new())) {
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
		goto done;
	}
	/* the input: the first graph input that is not an initializer */
	const Onnx__ValueInfoProto *in = NULL;
	for (size_t i = 0; i < g->n_input && !in; i++)
		if (!init_find(g, g->input[i]->name))
			in = g->input[i];
	if (!in || !in->name || !in->type || in->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !in->type->tensor_type ||
	    !in->type->tensor_type->shape) {
		rc = dcc_fail(err, DCC_E_FORMAT, "ONNX graph input has no tensor shape");
		goto done;
	}
	const Onnx__TensorShapeProto *sh = in->type->tensor_type->shape;
	int64_t dims[4] = {0};
	if (sh->n_dim != 2 && sh->n_dim != 4) {
		rc = dcc_fail(err, DCC_E_UNSUPPORTED, "ONNX input '%s' has %zu dimensions (dcc takes (N, C, H, W) or (N, F))",
			      in->name, sh->n_dim);
		goto done;
	}
	for (size_t i = 1; i < sh->n_dim; i++) {
		if (sh->dim[i]->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE || sh->dim[i]->dim_value < 1 ||
		    sh->dim[i]->dim_value > 1000000) {
			rc = dcc_fail(err, DCC_E_FORMAT, "ONNX input '%s': dimension %zu is not a fixed size", in->name, i);
			goto done;
		}
		dims[i] = sh->dim[i]->dim_value;
	}
	int C, H, W, flat = 0;
	size_t F = 0;
	if (sh->n_dim == 4) {
		C = (int)dims[1], H = (int)dims[2], W = (int)dims[3];
	} else { /* (N, F): an image of F pixels, square when it can be */
		int s = (int)lround(sqrt((double)dims[1]));
		C = 1, H = s * s == dims[1] ? s : 1, W = s * s == dims[1] ? s : (int)dims[1];
		flat = 1;
		F = (size_t)dims[1];
		if (add_line(&b, "flatten flatten%d", ++b.nflat)) {
			rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
			goto done;
		}
	}
	const char *cur = in->name;
	int classes = 0, last_fc = 0;
	/* a row LSTM's view of the image: 1 (N, T, F) rows as steps, 2 the
	 * same time-major, 3 the LSTM's last hidden state (1, N, H) */
	int seq = 0, T = 0, Fs = 0, Hs = 0;
	const char *ycur = NULL; /* the LSTM's Y, when its Y_h is not what follows */
	for (size_t k = 0; k < g->n_node && !rc; k++) {
		const node_t *n = g->node[k];
		const char *op = n->op_type ? n->op_type : "?", *nname = n->name && n->name[0] ? n->name : op;
		if (!strcmp(op, "Constant") || side_chain(g, n))
			continue; /* read through the initializers, or the LSTM's zero states */
		if (seq == 3 && ycur && n->n_input && n->input[0] && !strcmp(n->input[0], ycur))
			seq = 4, cur = ycur; /* Y (T, 1, N, H) rather than Y_h */
		if (!n->n_input || !n->n_output || !n->input[0] || !n->output[0] || strcmp(n->input[0], cur) ||
		    (seq && seq < 3 && strcmp(op, "Transpose") && strcmp(op, "LSTM")) ||
		    (seq >= 3 && strcmp(op, "Squeeze") && strcmp(op, "Reshape") && strcmp(op, "Gather") &&
		     strcmp(op, "Transpose"))) {
			if (seq && n->input[0] && !strcmp(n->input[0], cur)) {
				rc = dcc_fail(err, DCC_E_UNSUPPORTED,
					      "node '%s' (%s): around an LSTM dcc reads Reshape/Squeeze to (N, T, F), Transpose, "
					      "LSTM, then its Y_h through Squeeze, Gather or Reshape (or its Y through Squeeze, "
					      "Transpose and a Gather of the last step)", nname, op);
				break;
			}
			rc = dcc_fail(err, DCC_E_UNSUPPORTED,
				      "node '%s' (%s): dcc reads sequential graphs; its input is not the previous node's output", nname,
				      op);
			break;
		}
		const char *next_out = n->output[0];
		char name[DCC_MAX_NAME + 1], nm[DCC_MAX_NAME + 16];
		last_fc = 0;
		int64_t rs[8];
		int reshape3 = !strcmp(op, "Reshape") && node_ints(g, n, 1, "shape", rs) == 3;
		if (seq >= 4) { /* Y (T, 1, N, H): squeezed, maybe transposed, the last step */
			int64_t v[8];
			int nv = node_ints(g, n, 1, "axes", v), ok = 0;
			const Onnx__AttributeProto *pa = attr(n, "perm");
			const tensor_t *ti = n->n_input > 1 ? init_find(g, n->input[1]) : NULL;
			if (seq == 4 && !strcmp(op, "Squeeze") && nv == 1 && v[0] == 1)
				ok = 1, seq = 5;
			else if (seq == 5 && !strcmp(op, "Transpose") && pa && pa->n_ints == 3 && pa->ints[0] == 1 &&
				 pa->ints[1] == 0 && pa->ints[2] == 2)
				ok = 1, seq = 6;
			else if ((seq == 5 || seq == 6) && !strcmp(op, "Gather") && attr_i(n, "axis", 0) == seq - 5 && ti &&
				 ti->n_dims == 0 && tensor_i64(ti, v) == 1 && (v[0] == -1 || v[0] == T - 1))
				ok = 1, seq = 0, flat = 1, F = (size_t)Hs;
			if (!ok) {
				rc = dcc_fail(err, DCC_E_UNSUPPORTED,
					      "node '%s' (%s): dcc reads an LSTM's Y as Squeeze (axis 1), [Transpose (1, 0, 2)] and a "
					      "Gather of the last step", nname, op);
				break;
			}
		} else if (seq == 3) { /* the last hidden state (1, N, H) to (N, H) */
			int64_t v[8];
			int nv = node_ints(g, n, 1, op[0] == 'G' ? "indices" : op[0] == 'R' ? "shape" : "axes", v);
			int ok = op[0] == 'S' ? (nv == 1 && v[0] == 0)
				 : op[0] == 'G' ? (attr_i(n, "axis", 0) == 0 && nv == 1 && (v[0] == 0 || v[0] == -1) && n->n_input > 1 &&
						   init_find(g, n->input[1]) && init_find(g, n->input[1])->n_dims == 0)
						: (nv == 2 && (v[0] == -1 || v[0] == 0) && v[1] == Hs);
			if (!ok) {
				rc = dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (%s): the LSTM's Y_h (1, N, %d) must become (N, %d)",
					      nname, op, Hs, Hs);
				break;
			}
			seq = 0, flat = 1, F = (size_t)Hs;
		} else if (seq == 1 && !strcmp(op, "Transpose")) {
			const Onnx__AttributeProto *a = attr(n, "perm");
			if (!a || a->n_ints != 3 || a->ints[0] != 1 || a->ints[1] != 0 || a->ints[2] != 2) {
				rc = dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (Transpose): only perm (1, 0, 2) before an LSTM", nname);
				break;
			}
			seq = 2;
		} else if (seq && !strcmp(op, "LSTM")) {
			int Hh = (int)attr_i(n, "hidden_size", 0), layout = (int)attr_i(n, "layout", 0);
			const Onnx__AttributeProto *dir = attr(n, "direction");
			const tensor_t *tW = n->n_input > 1 ? init_find(g, n->input[1]) : NULL;
			const tensor_t *tR = n->n_input > 2 ? init_find(g, n->input[2]) : NULL;
			const tensor_t *tB = n->n_input > 3 && n->input[3][0] ? init_find(g, n->input[3]) : NULL;
			int extra = 0; /* sequence_lens, peepholes: none; initial states zero */
			for (size_t j = 4; j < n->n_input; j++)
				extra |= n->input[j] && n->input[j][0] && ((j != 5 && j != 6) || !zero_state(g, n->input[j]));
			if (Hh < 1 || Hh > 65536 || (seq == 2) != (layout == 0) || extra || attr(n, "activations") ||
			    attr(n, "clip") || attr_i(n, "input_forget", 0) ||
			    (dir && (!dir->has_s || dir->s.len != 7 || memcmp(dir->s.data, "forward", 7))) || n->n_output < 2 ||
			    !tW || !tR || tW->n_dims != 3 || tR->n_dims != 3 ||
			    tW->dims[0] != 1 || tW->dims[1] != 4 * (int64_t)Hh || tW->dims[2] != Fs || tR->dims[0] != 1 ||
			    tR->dims[1] != 4 * (int64_t)Hh || tR->dims[2] != Hh || (n->input[3] && n->input[3][0] && !tB) ||
			    (tB && (tB->n_dims != 2 || tB->dims[0] != 1 || tB->dims[1] != 8 * (int64_t)Hh))) {
				rc = dcc_fail(err, DCC_E_UNSUPPORTED,
					      "node '%s' (LSTM): dcc reads one forward layer, W, R (and B) initializers of %d-feature "
					      "steps, no sequence_lens, peepholes, clip or custom activations, zero initial states",
					      nname, Fs);
				break;
			}
			float *wv = NULL, *rv = NULL, *bv = NULL, *t4[4] = {NULL, NULL, NULL, NULL};
			size_t cw, cr, cb = 0, G = 4 * (size_t)Hh;
			if ((rc = tensor_floats(tW, &wv, &cw, err)) || (rc = tensor_floats(tR, &rv, &cr, err)) ||
			    (tB && (rc = tensor_floats(tB, &bv, &cb, err)))) {
				free(wv), free(rv), free(bv);
				break;
			}
			t4[0] = malloc(G * (size_t)Fs * sizeof(float)), t4[1] = malloc(G * (size_t)Hh * sizeof(float));
			t4[2] = calloc(G, sizeof(float)), t4[3] = calloc(G, sizeof(float));
			if (!t4[0] || !t4[1] || !t4[2] || !t4[3]) {
				free(wv), free(rv), free(bv);
				for (int j = 0; j < 4; j++)
					free(t4[j]);
				rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
				break;
			}
			gates_to_torch(wv, t4[0], (size_t)Hh * (size_t)Fs);
			gates_to_torch(rv, t4[1], (size_t)Hh * (size_t)Hh);
			if (bv)
				gates_to_torch(bv, t4[2], (size_t)Hh), gates_to_torch(bv + G, t4[3], (size_t)Hh);
			free(wv), free(rv), free(bv);
			/* torch.onnx.export names the node after its module ("/lstm/LSTM"):
			 * the module path is the layer's name, so the state_dict
			 * names (lstm.weight_ih_l0) come back; else lstmN */
			name[0] = 0;
			const char *nn0 = n->name, *last = nn0 ? strrchr(nn0, '/') : NULL;
			if (nn0 && nn0[0] == '/' && last && last > nn0 + 1 && (size_t)(last - nn0) < sizeof(name)) {
				int okn = 1;
				size_t L = (size_t)(last - nn0) - 1;
				for (size_t j = 0; j < L; j++) {
					char ch = nn0[1 + j] == '/' ? '.' : nn0[1 + j];
					okn &= (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
					       ch == '.';
					name[j] = ch;
				}
				name[L] = 0;
				snprintf(nm, sizeof(nm), "%s.weight_ih_l0", name);
				if (!okn || dcc_model_find(b.m, nm))
					name[0] = 0;
			}
			++b.nact;
			if (!name[0])
				snprintf(name, sizeof(name), "lstm%d", b.nact);
			static const char *const suffix[4] = {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"};
			uint64_t shapes[4][2] = {{G, (uint64_t)Fs}, {G, (uint64_t)Hh}, {G, 0}, {G, 0}};
			for (int j = 0; j < 4; j++) {
				snprintf(nm, sizeof(nm), "%s.%s", name, suffix[j]);
				if (!rc)
					rc = dcc_model_add(b.m, nm, DCC_F32, 0, 0, j < 2 ? 2 : 1, shapes[j], t4[j], err);
				else
					free(t4[j]);
			}
			if (!rc && add_line(&b, "lstm %s in=%d hidden=%d steps=%d", name, Fs, Hh, T))
				rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
			/* what follows reads Y_h, or Y */
			next_out = n->n_output > 1 && n->output[1] && n->output[1][0] ? n->output[1] : "";
			ycur = n->output[0] && n->output[0][0] ? n->output[0] : NULL;
			seq = 3, Hs = Hh;
		} else if (!flat && (!strcmp(op, "Squeeze") || (!strcmp(op, "Reshape") && reshape3))) {
			/* the image as (N, T, F): its rows the steps of an LSTM */
			int64_t v[8];
			int nv = node_ints(g, n, 1, op[0] == 'S' ? "axes" : "shape", v);
			int ok = op[0] == 'S' ? (nv == 1 && v[0] == 1 && C == 1)
				 : (nv == 3 && (v[0] == -1 || v[0] == 0) && v[1] >= 1 && v[2] >= 1 &&
				    v[1] * v[2] == (int64_t)C * H * W);
			if (!ok) {
				rc = dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (%s): only the image as (N, T, F) rows for an LSTM",
					      nname, op);
				break;
			}
			T = op[0] == 'S' ? H : (int)v[1], Fs = op[0] == 'S' ? W : (int)v[2];
			seq = 1;
		} else if (!strcmp(op, "Gemm") || !strcmp(op, "MatMul")) {
			int gemm = op[0] == 'G';
			const tensor_t *tw = n->n_input > 1 ? init_find(g, n->input[1]) : NULL;
			const tensor_t *tb = gemm && n->n_input > 2 ? init_find(g, n->input[2]) : NULL;
			if (!tw || tw->n_dims != 2 || tw->dims[0] < 1 || tw->dims[1] < 1 || tw->dims[0] > (1 << 24) ||
			    tw->dims[1] > (1 << 24)) {
				rc = dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (%s): the weight must be a 2-D initializer", nname, op);
				break;
			}
			if (gemm && (attr_f(n, "alpha", 1) != 1 || attr_f(n, "beta", 1) != 1 || attr_i(n, "transA", 0))) {
				rc = dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (Gemm): alpha, beta must be 1 and transA 0", nname);
				break;
			}
			int transB = gemm ? (int)attr_i(n, "transB", 0) : 0;
			size_t outn = (size_t)(transB ? tw->dims[0] : tw->dims[1]), inn = (size_t)(transB ? tw->dims[1] : tw->dims[0]);
			size_t cnt;
			if ((rc = tensor_floats(tw, &w, &cnt, err)))
				break;
			size_t cur_in = flat ? F : (size_t)C * (size_t)H * (size_t)W;
			if (!flat || inn != cur_in) {
				rc = dcc_fail(err, DCC_E_SHAPE, "node '%s' (%s): takes %zu inputs, the previous layer gives %zu%s", nname,
					      op, inn, cur_in, flat ? "" : " (flatten first)");
				break;
			}
			float *wt = malloc(cnt * sizeof(float)); /* dcc's (out, in) */
			if (!wt) {
				rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
				break;
			}
			for (size_t o = 0; o < outn; o++)
				for (size_t i = 0; i < inn; i++)
					wt[o * inn + i] = transB ? w[o * inn + i] : w[i * outn + o];
			free(w);
			w = NULL;
			/* the bias: Gemm's C, or MatMul's following Add of an initializer */
			if (!gemm && k + 1 < g->n_node && g->node[k + 1]->op_type && !strcmp(g->node[k + 1]->op_type, "Add") &&
			    g->node[k + 1]->n_input == 2 && g->node[k + 1]->input[0] && g->node[k + 1]->n_output &&
			    g->node[k + 1]->output[0] && !strcmp(g->node[k + 1]->input[0], next_out) &&
			    (tb = init_find(g, g->node[k + 1]->input[1]))) {
				k++;
				next_out = g->node[k]->output[0];
			}
			size_t bn = 0;
			if (tb && ((rc = tensor_floats(tb, &bias, &bn, err)) || bn != outn)) {
				if (!rc)
					rc = dcc_fail(err, DCC_E_SHAPE, "node '%s' (%s): bias of %zu for %zu outputs", nname, op, bn, outn);
				free(wt);
				break;
			}
			if (!tb && !(bias = calloc(outn, sizeof(float)))) {
				free(wt);
				rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
				break;
			}
			layer_name(&b, tw->name, "fc", ++b.nfc, name, sizeof(name));
			uint64_t ws[2] = {outn, inn}, bs[1] = {outn};
			snprintf(nm, sizeof(nm), "%s.weight", name);
			rc = dcc_model_add(b.m, nm, DCC_F32, 0, 0, 2, ws, wt, err);
			snprintf(nm, sizeof(nm), "%s.bias", name);
			if (!rc)
				rc = dcc_model_add(b.m, nm, DCC_F32, 0, 0, 1, bs, bias, err);
			bias = NULL;
			if (!rc && add_line(&b, "fc %s in=%zu out=%zu", name, inn, outn))
				rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
			F = outn;
			classes = (int)outn;
			last_fc = 1;
		} else if (!strcmp(op, "Conv")) {
			const tensor_t *tw = n->n_input > 1 ? init_find(g, n->input[1]) : NULL;
			const tensor_t *tb = n->n_input > 2 ? init_find(g, n->input[2]) : NULL;
			int64_t st = attr_ints_same(n, "strides", 1), pad = attr_ints_same(n, "pads", 0),
				dil = attr_ints_same(n, "dilations", 1), grp = attr_i(n, "group", 1);
			const Onnx__AttributeProto *ap = attr(n, "auto_pad");
			if (flat || !tw || tw->n_dims != 4 || tw->dims[2] != tw->dims[3] || tw->dims[1] != C) {
				rc = dcc_fail(err, DCC_E_UNSUPPORTED,
					      "node '%s' (Conv): needs a square (out, %d, k, k) weight initializer on image input", nname, C);
				break;
			}
			for (int d = 0; d < 4 && tw; d++)
				if (tw->dims[d] < 1 || tw->dims[d] > 65536)
					tw = NULL;
			if (!tw) {
				rc = dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (Conv): weight dimensions out of range", nname);
				break;
			}
			if (st < 1 || st > 1024 || pad < 0 || pad > 1024 || dil != 1 || grp != 1 ||
			    (ap && ap->has_s && !(ap->s.len == 6 && !memcmp(ap->s.data, "NOTSET", 6)))) {
				rc = dcc_fail(err, DCC_E_UNSUPPORTED,
					      "node '%s' (Conv): dcc supports equal strides and pads, dilation 1, group 1, no auto_pad", nname);
				break;
			}
			int K = (int)tw->dims[2], O = (int)tw->dims[0];
			size_t cnt, bn = 0;
			if ((rc = tensor_floats(tw, &w, &cnt, err)))
				break;
			if (tb && ((rc = tensor_floats(tb, &bias, &bn, err)) || bn != (size_t)O)) {
				if (!rc)
					rc = dcc_fail(err, DCC_E_SHAPE, "node '%s' (Conv): bias of %zu for %d channels", nname, bn, O);
				break;
			}
			if (!tb && !(bias = calloc((size_t)O, sizeof(float)))) {
				rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
				break;
			}
			if (H + 2 * pad < K || W + 2 * pad < K) {
				rc = dcc_fail(err, DCC_E_SHAPE, "node '%s' (Conv): a %dx%d kernel on %dx%d input", nname, K, K, H, W);
				break;
			}
			layer_name(&b, tw->name, "conv", ++b.nconv, name, sizeof(name));
			uint64_t ws[4] = {(uint64_t)O, (uint64_t)C, (uint64_t)K, (uint64_t)K}, bs[1] = {(uint64_t)O};
			snprintf(nm, sizeof(nm), "%s.weight", name);
			rc = dcc_model_add(b.m, nm, DCC_F32, 0, 0, 4, ws, w, err);
			w = NULL;
			snprintf(nm, sizeof(nm), "%s.bias", name);
			if (!rc)
				rc = dcc_model_add(b.m, nm, DCC_F32, 0, 0, 1, bs, bias, err);
			bias = NULL;
			if (!rc && add_line(&b, "conv2d %s in=%d out=%d k=%d stride=%d pad=%d", name, C, O, K, (int)st, (int)pad))
				rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
			H = (int)((H + 2 * pad - K) / st + 1), W = (int)((W + 2 * pad - K) / st + 1), C = O;
		} else if (!strcmp(op, "MaxPool") || !strcmp(op, "AveragePool")) {
			int64_t k2 = attr_ints_same(n, "kernel_shape", -1), st = attr_ints_same(n, "strides", 1),
				pad = attr_ints_same(n, "pads", 0), dil = attr_ints_same(n, "dilations", 1);
			if (flat || k2 < 1 || st < 1 || st > 1024 || pad != 0 || dil != 1 || attr_i(n, "ceil_mode", 0) || n->n_output > 1 ||
			    k2 > H || k2 > W) {
				rc = dcc_fail(err, DCC_E_UNSUPPORTED,
					      "node '%s' (%s): dcc supports square kernels, equal strides, no padding, no ceil_mode",
					      nname, op);
				break;
			}
			if (add_line(&b, "%s pool%d k=%d stride=%d", op[0] == 'M' ? "maxpool2d" : "avgpool2d", ++b.npool, (int)k2,
				     (int)st))
				rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
			H = (int)((H - k2) / st + 1), W = (int)((W - k2) / st + 1);
		} else if (!strcmp(op, "Relu")) {
			if (add_line(&b, "relu relu%d", ++b.nrelu))
				rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
		} else if (!strcmp(op, "Sigmoid") || !strcmp(op, "Tanh")) {
			if (add_line(&b, "%s %s%d", op[0] == 'S' ? "sigmoid" : "tanh", op[0] == 'S' ? "sigmoid" : "tanh", ++b.nact))
				rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
		} else if (!strcmp(op, "Flatten") || !strcmp(op, "Reshape")) {
			if (op[0] == 'F' ? attr_i(n, "axis", 1) != 1 : 0) {
				rc = dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (Flatten): only axis 1", nname);
				break;
			}
			if (op[0] == 'R') { /* to (N, -1) or (N, C*H*W) only */
				const tensor_t *ts = n->n_input > 1 ? init_find(g, n->input[1]) : NULL;
				int64_t v1 = 0;
				int okr = ts && ts->n_dims == 1 && ts->dims[0] == 2 && ts->has_data_type &&
					  ts->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
				if (okr) {
					if (ts->has_raw_data && ts->raw_data.len == 16)
						memcpy(&v1, ts->raw_data.data + 8, 8);
					else if (ts->n_int64_data == 2)
						v1 = ts->int64_data[1];
					else
						okr = 0;
				}
				if (!okr || (v1 != -1 && v1 != (int64_t)C * H * W)) {
					rc = dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (Reshape): only to (N, -1), a flatten", nname);
					break;
				}
			}
			if (!flat) {
				if (add_line(&b, "flatten flatten%d", ++b.nflat))
					rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
				flat = 1;
				F = (size_t)C * (size_t)H * (size_t)W;
			}
		} else if (!strcmp(op, "Identity") || !strcmp(op, "Dropout")) {
			/* inference: nothing */
		} else if ((!strcmp(op, "Softmax") || !strcmp(op, "LogSoftmax")) && k + 1 == g->n_node) {
			last_fc = classes > 0; /* the loss's softmax: the logits stay the output */
		} else {
			rc = dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (%s): operator not supported by dcc (supported: Gemm, "
				      "MatMul+Add, Conv, Relu, Sigmoid, Tanh, MaxPool, AveragePool, Flatten, Reshape, Identity, "
				      "Dropout, a final Softmax)", nname, op);
			break;
		}
		cur = next_out;
	}
	if (!rc && !last_fc)
		rc = dcc_fail(err, DCC_E_UNSUPPORTED, "the ONNX graph must end with a fully connected layer (the logits)");
	if (!rc && add_line(&b, "softmax_ce loss"))
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	if (!rc) {
		int64_t ishape[3] = {sh->n_dim == 4 ? dims[1] : 1, sh->n_dim == 4 ? dims[2] : 0, sh->n_dim == 4 ? dims[3] : 0};
		if (sh->n_dim == 2) {
			int s = (int)lround(sqrt((double)dims[1]));
			ishape[1] = s * s == dims[1] ? s : 1;
			ishape[2] = s * s == dims[1] ? s : dims[1];
		}
		rc = dcc_model_set_arr_str(b.m, "dcc.graph", (const char *const *)b.lines, b.nlines) ||
		     dcc_model_set_arr_i64(b.m, "dcc.input_shape", ishape, 3) || dcc_model_set_i64(b.m, "dcc.classes", classes) ||
		     dcc_model_set_str(b.m, "dcc.net", "onnx")
			     ? dcc_fail(err, DCC_E_NOMEM, "out of memory")
			     : 0;
	}
done:
	free(w), free(bias);
	for (size_t i = 0; i < b.nlines; i++)
		free(b.lines[i]);
	free(b.lines);
	for (size_t i = 0; i < ncst; i++)
		ext[orig_ni + i]->name = old_names[i];
	if (gm)
		gm->initializer = orig_init, gm->n_initializer = orig_ni;
	free(ext), free(old_names);
	onnx__model_proto__free_unpacked(mp, NULL);
	if (rc) {
		dcc_model_free(b.m);
		return rc;
	}
	b.m->has_data = 1;
	*out = b.m;
	return 0;
}

/* ---- writing ---- */

typedef struct wbuild {
	Onnx__NodeProto **nodes;
	size_t nn;
	Onnx__TensorProto **inits;
	size_t ni;
	void **allocs;
	size_t na;
	int oom;
} wbuild;

static void *wmem(wbuild *w, size_t n)
{
	void **q = realloc(w->allocs, (w->na + 1) * sizeof(void *));
	void *p = q ? calloc(1, n ? n : 1) : NULL;
	if (q)
		w->allocs = q;
	if (!p) {
		w->oom = 1;
		return NULL;
	}
	w->allocs[w->na++] = p;
	return p;
}

static char *wstr(wbuild *w, const char *s)
{
	char *p = wmem(w, strlen(s) + 1);
	if (p)
		strcpy(p, s);
	return p;
}

static Onnx__AttributeProto *a_int(wbuild *w, const char *name, int64_t v)
{
	Onnx__AttributeProto *a = wmem(w, sizeof(*a));
	if (!a)
		return NULL;
	onnx__attribute_proto__init(a);
	a->name = wstr(w, name);
	a->has_type = 1, a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
	a->has_i = 1, a->i = v;
	return a;
}

static Onnx__AttributeProto *a_ints(wbuild *w, const char *name, int64_t v, size_t n)
{
	Onnx__AttributeProto *a = wmem(w, sizeof(*a));
	int64_t *x = wmem(w, n * sizeof(int64_t));
	if (!a || !x)
		return NULL;
	onnx__attribute_proto__init(a);
	a->name = wstr(w, name);
	a->has_type = 1, a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
	for (size_t i = 0; i < n; i++)
		x[i] = v;
	a->n_ints = n, a->ints = x;
	return a;
}

static void add_node_n(wbuild *w, const char *op, const char *name, const char *const *in, size_t nin,
		       const char *const *out, size_t nout, Onnx__AttributeProto **attrs, size_t nattr)
{
	Onnx__NodeProto *n = wmem(w, sizeof(*n));
	Onnx__NodeProto **q = realloc(w->nodes, (w->nn + 1) * sizeof(*q));
	char **ins = wmem(w, nin * sizeof(char *)), **outs = wmem(w, nout * sizeof(char *));
	Onnx__AttributeProto **as = wmem(w, (nattr ? nattr : 1) * sizeof(*as));
	if (!n || !q || !ins || !outs || !as) {
		w->oom = 1;
		if (q)
			w->nodes = q;
		return;
	}
	w->nodes = q;
	onnx__node_proto__init(n);
	n->op_type = wstr(w, op);
	n->name = wstr(w, name);
	for (size_t i = 0; i < nin; i++)
		ins[i] = wstr(w, in[i]);
	for (size_t i = 0; i < nout; i++)
		outs[i] = wstr(w, out[i]);
	n->n_input = nin, n->input = ins, n->n_output = nout, n->output = outs;
	for (size_t i = 0; i < nattr; i++) {
		as[i] = attrs[i];
		if (!attrs[i])
			w->oom = 1;
	}
	n->n_attribute = nattr, n->attribute = as;
	w->nodes[w->nn++] = n;
}

static void add_node(wbuild *w, const char *op, const char *name, const char *const *in, size_t nin, const char *out,
		     Onnx__AttributeProto **attrs, size_t nattr)
{
	add_node_n(w, op, name, in, nin, &out, 1, attrs, nattr);
}

/* An initializer of n float32 values (copied) or int64 values. */
static void add_init_raw(wbuild *w, const char *name, const int64_t *dims, size_t nd, const void *data, size_t n, int i64)
{
	Onnx__TensorProto *p = wmem(w, sizeof(*p));
	Onnx__TensorProto **q = realloc(w->inits, (w->ni + 1) * sizeof(*q));
	int64_t *dd = wmem(w, (nd ? nd : 1) * sizeof(int64_t));
	uint8_t *raw = wmem(w, n * 8 + 1);
	if (!p || !q || !dd || !raw) {
		w->oom = 1;
		if (q)
			w->inits = q;
		return;
	}
	w->inits = q;
	onnx__tensor_proto__init(p);
	p->name = wstr(w, name);
	memcpy(dd, dims, nd * sizeof(int64_t));
	p->n_dims = nd, p->dims = dd;
	p->has_data_type = 1;
	p->data_type = i64 ? ONNX__TENSOR_PROTO__DATA_TYPE__INT64 : ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
	memcpy(raw, data, n * (i64 ? 8 : 4)); /* little-endian hosts */
	p->has_raw_data = 1, p->raw_data.len = n * (i64 ? 8 : 4), p->raw_data.data = raw;
	w->inits[w->ni++] = p;
}

/* PyTorch's gate blocks i, f, g, o back to ONNX's i, o, f, c. */
static void gates_to_onnx(const float *src, float *dst, size_t block)
{
	static const int from[4] = {0, 3, 1, 2};
	for (int k = 0; k < 4; k++)
		memcpy(dst + (size_t)k * block, src + (size_t)from[k] * block, block * sizeof(float));
}

static void add_init(wbuild *w, const dcc_tensor *t)
{
	int64_t dims[DCC_MAX_DIMS];
	uint64_t n = dcc_tensor_numel(t);
	float *f = malloc(n ? n * sizeof(float) : 1);
	if (!f) {
		w->oom = 1;
		return;
	}
	for (int d = 0; d < t->ndim; d++)
		dims[d] = (int64_t)t->shape[d];
	for (uint64_t i = 0; i < n; i++)
		f[i] = (float)dcc_tensor_get(t, i);
	add_init_raw(w, t->name, dims, (size_t)t->ndim, f, n, 0);
	free(f);
}

static Onnx__ValueInfoProto *value_info(wbuild *w, const char *name, const int64_t *dims, size_t nd)
{
	Onnx__ValueInfoProto *v = wmem(w, sizeof(*v));
	Onnx__TypeProto *tp = wmem(w, sizeof(*tp));
	Onnx__TypeProto__Tensor *tt = wmem(w, sizeof(*tt));
	Onnx__TensorShapeProto *sp = wmem(w, sizeof(*sp));
	Onnx__TensorShapeProto__Dimension **dd = wmem(w, nd * sizeof(*dd));
	if (!v || !tp || !tt || !sp || !dd)
		return NULL;
	onnx__value_info_proto__init(v), onnx__type_proto__init(tp), onnx__type_proto__tensor__init(tt);
	onnx__tensor_shape_proto__init(sp);
	for (size_t i = 0; i < nd; i++) {
		Onnx__TensorShapeProto__Dimension *d = wmem(w, sizeof(*d));
		if (!d)
			return NULL;
		onnx__tensor_shape_proto__dimension__init(d);
		if (dims[i] < 0) {
			d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
			d->dim_param = wstr(w, "N");
		} else {
			d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
			d->dim_value = dims[i];
		}
		dd[i] = d;
	}
	sp->n_dim = nd, sp->dim = dd;
	tt->has_elem_type = 1, tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, tt->shape = sp;
	tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE, tp->tensor_type = tt;
	v->name = wstr(w, name), v->type = tp;
	return v;
}

int dcc_onnx_write(FILE *fp, const dcc_model *m, dcc_error *err)
{
	dcc_graph *net;
	dcc_model *sd = NULL;
	int rc = dcc_graph_read(m, &net, err);
	if (rc)
		return rc;
	if ((rc = dcc_model_state_dict(m, &sd, err))) {
		dcc_graph_free(net);
		return rc;
	}
	wbuild w = {0};
	char cur[DCC_MAX_NAME + 16] = "input", nxt[DCC_MAX_NAME + 16];
	for (size_t i = 0; i < net->n && !rc; i++) {
		const dcc_node *l = &net->nodes[i];
		snprintf(nxt, sizeof(nxt), "%s_out", l->name);
		if (l->op == DCC_OP_SOFTMAX_CE)
			break;
		if (l->op == DCC_OP_FC || l->op == DCC_OP_CONV2D) {
			const dcc_tensor *tw = dcc_model_find(sd, l->p[0].name), *tb = dcc_model_find(sd, l->p[1].name);
			if (!tw || !tb) {
				rc = dcc_fail(err, DCC_E_NOTFOUND, "layer '%s': weights missing", l->name);
				break;
			}
			add_init(&w, tw), add_init(&w, tb);
			const char *ins[3] = {cur, l->p[0].name, l->p[1].name};
			if (l->op == DCC_OP_FC) {
				Onnx__AttributeProto *a[1] = {a_int(&w, "transB", 1)};
				add_node(&w, "Gemm", l->name, ins, 3, nxt, a, 1);
			} else {
				Onnx__AttributeProto *a[3] = {a_ints(&w, "kernel_shape", l->k, 2), a_ints(&w, "strides", l->stride, 2),
							      a_ints(&w, "pads", l->pad, 4)};
				add_node(&w, "Conv", l->name, ins, 3, nxt, a, 3);
			}
		} else if (l->op == DCC_OP_MAXPOOL2D || l->op == DCC_OP_AVGPOOL2D) {
			Onnx__AttributeProto *a[2] = {a_ints(&w, "kernel_shape", l->k, 2), a_ints(&w, "strides", l->stride, 2)};
			const char *ins[1] = {cur};
			add_node(&w, l->op == DCC_OP_MAXPOOL2D ? "MaxPool" : "AveragePool", l->name, ins, 1, nxt, a, 2);
		} else if (l->op == DCC_OP_SIGMOID || l->op == DCC_OP_TANH) {
			const char *ins[1] = {cur};
			add_node(&w, l->op == DCC_OP_SIGMOID ? "Sigmoid" : "Tanh", l->name, ins, 1, nxt, NULL, 0);
		} else if (l->op == DCC_OP_LSTM) {
			/* the image as (N, T, F), time-major, the LSTM, its last hidden
			 * state (1, N, H) squeezed to (N, H): what dcc import reads */
			const dcc_tensor *t[4];
			for (int j = 0; j < 4; j++)
				t[j] = dcc_model_find(sd, l->p[j].name);
			size_t H = (size_t)l->hidden, NI = (size_t)l->in, G = 4 * H;
			float *wv = malloc(G * NI * sizeof(float)), *rv = malloc(G * H * sizeof(float)), *bv = malloc(2 * G * sizeof(float));
			float *tmp = malloc(G * (NI > H ? NI : H) * sizeof(float));
			if (!t[0] || !t[1] || !t[2] || !t[3] || !wv || !rv || !bv || !tmp) {
				free(wv), free(rv), free(bv), free(tmp);
				rc = t[0] && t[1] && t[2] && t[3] ? dcc_fail(err, DCC_E_NOMEM, "out of memory")
								  : dcc_fail(err, DCC_E_NOTFOUND, "layer '%s': weights missing", l->name);
				break;
			}
			for (int j = 0; j < 4; j++) {
				size_t cnt = (size_t)dcc_tensor_numel(t[j]);
				for (size_t e = 0; e < cnt; e++)
					tmp[e] = (float)dcc_tensor_get(t[j], e);
				gates_to_onnx(tmp, j == 0 ? wv : j == 1 ? rv : bv + (j - 2) * G, j == 0 ? H * NI : j == 1 ? H * H : H);
			}
			char nw[DCC_MAX_NAME + 32], nr[DCC_MAX_NAME + 32], nb[DCC_MAX_NAME + 32], ns[DCC_MAX_NAME + 32],
				na[DCC_MAX_NAME + 32], v1[DCC_MAX_NAME + 32], v2[DCC_MAX_NAME + 32], v3[DCC_MAX_NAME + 32];
			snprintf(nw, sizeof(nw), "%s.W", l->name), snprintf(nr, sizeof(nr), "%s.R", l->name);
			snprintf(nb, sizeof(nb), "%s.B", l->name), snprintf(ns, sizeof(ns), "%s.rows", l->name);
			snprintf(na, sizeof(na), "%s.axes", l->name), snprintf(v1, sizeof(v1), "%s_rows", l->name);
			snprintf(v2, sizeof(v2), "%s_steps", l->name), snprintf(v3, sizeof(v3), "%s_h", l->name);
			int64_t dw[3] = {1, (int64_t)G, (int64_t)NI}, dr[3] = {1, (int64_t)G, (int64_t)H}, db[2] = {1, 2 * (int64_t)G};
			int64_t shp[3] = {-1, l->steps, l->in}, one = 3, zero[1] = {0};
			add_init_raw(&w, nw, dw, 3, wv, G * NI, 0), add_init_raw(&w, nr, dr, 3, rv, G * H, 0);
			add_init_raw(&w, nb, db, 2, bv, 2 * G, 0), add_init_raw(&w, ns, &one, 1, shp, 3, 1);
			one = 1;
			add_init_raw(&w, na, &one, 1, zero, 1, 1);
			free(wv), free(rv), free(bv), free(tmp);
			const char *r_in[2] = {cur, ns}, *t_in[1] = {v1}, *l_in[4] = {v2, nw, nr, nb}, *l_out[2] = {"", v3},
				   *s_in[2] = {v3, na};
			Onnx__AttributeProto *perm = wmem(&w, sizeof(*perm)), *hs[1] = {a_int(&w, "hidden_size", l->hidden)};
			int64_t *pv = wmem(&w, 3 * sizeof(int64_t));
			if (!perm || !pv) {
				w.oom = 1;
				break;
			}
			onnx__attribute_proto__init(perm);
			pv[0] = 1, pv[1] = 0, pv[2] = 2;
			perm->name = wstr(&w, "perm"), perm->has_type = 1, perm->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
			perm->n_ints = 3, perm->ints = pv;
			add_node(&w, "Reshape", v1, r_in, 2, v1, NULL, 0);
			add_node(&w, "Transpose", v2, t_in, 1, v2, &perm, 1);
			add_node_n(&w, "LSTM", l->name, l_in, 4, l_out, 2, hs, 1);
			add_node(&w, "Squeeze", v3, s_in, 2, nxt, NULL, 0);
		} else if (l->op == DCC_OP_RELU || l->op == DCC_OP_FLATTEN) {
			const char *ins[1] = {cur};
			Onnx__AttributeProto *a[1] = {l->op == DCC_OP_FLATTEN ? a_int(&w, "axis", 1) : NULL};
			add_node(&w, l->op == DCC_OP_RELU ? "Relu" : "Flatten", l->name, ins, 1, nxt, a,
				 l->op == DCC_OP_FLATTEN ? 1 : 0);
		} else {
			rc = dcc_fail(err, DCC_E_UNSUPPORTED, "layer '%s' (%s): no ONNX export yet", l->name, dcc_op_name(l->op));
			break;
		}
		snprintf(cur, sizeof(cur), "%s", nxt);
	}
	if (!rc && !w.oom) {
		/* the last output is renamed "logits" */
		if (w.nn)
			w.nodes[w.nn - 1]->output[0] = wstr(&w, "logits");
		int64_t idims[4] = {-1, net->in_c, net->in_h, net->in_w}, odims[2] = {-1, net->classes};
		Onnx__ValueInfoProto *vin = value_info(&w, "input", idims, 4), *vout = value_info(&w, "logits", odims, 2);
		Onnx__GraphProto gp = ONNX__GRAPH_PROTO__INIT;
		Onnx__ModelProto mp = ONNX__MODEL_PROTO__INIT;
		Onnx__OperatorSetIdProto os = ONNX__OPERATOR_SET_ID_PROTO__INIT, *osp = &os;
		gp.name = "dcc";
		gp.n_node = w.nn, gp.node = w.nodes;
		gp.n_initializer = w.ni, gp.initializer = w.inits;
		gp.n_input = 1, gp.input = &vin;
		gp.n_output = 1, gp.output = &vout;
		os.domain = "", os.has_version = 1, os.version = 13;
		mp.has_ir_version = 1, mp.ir_version = 7;
		mp.n_opset_import = 1, mp.opset_import = &osp;
		mp.producer_name = "dcc", mp.producer_version = DCC_VERSION_STRING;
		mp.graph = &gp;
		if (!vin || !vout || w.oom) {
			rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
		} else {
			size_t len = onnx__model_proto__get_packed_size(&mp);
			uint8_t *buf = malloc(len ? len : 1);
			if (!buf)
				rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
			else if (onnx__model_proto__pack(&mp, buf) != len || fwrite(buf, 1, len, fp) != len)
				rc = dcc_fail(err, DCC_E_IO, "write failed");
			free(buf);
		}
	} else if (!rc) {
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < w.na; i++)
		free(w.allocs[i]);
	free(w.allocs), free(w.nodes), free(w.inits);
	dcc_model_free(sd);
	dcc_graph_free(net);
	return rc;
}
