/* onnx_write.c: a dcc network written as ONNX (formats/onnx.md): Gemm,
 * Conv, MaxPool/AveragePool, Relu, Sigmoid, Tanh, Flatten and the row LSTM
 * as dcc import reads it, the weights as state_dict floats (shared and
 * fixed-point ones dequantized), opset 13; it passes onnx.checker. */
#include <stdlib.h>
#include <string.h>

#include "../lib/core/internal.h"
#include "../lib/dcc_graph.h"
#include "dcc_formats.h"
#include "onnx.pb-c.h"


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

static Onnx__AttributeProto *a_float(wbuild *w, const char *name, float v)
{
	Onnx__AttributeProto *a = wmem(w, sizeof(*a));
	if (!a)
		return NULL;
	onnx__attribute_proto__init(a);
	a->name = wstr(w, name);
	a->has_type = 1, a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
	a->has_f = 1, a->f = v;
	return a;
}

static Onnx__AttributeProto *a_int_list(wbuild *w, const char *name, const int64_t *v, size_t n)
{
	Onnx__AttributeProto *a = wmem(w, sizeof(*a));
	int64_t *x = wmem(w, n * sizeof(int64_t));
	if (!a || !x)
		return NULL;
	onnx__attribute_proto__init(a);
	a->name = wstr(w, name);
	a->has_type = 1, a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
	memcpy(x, v, n * sizeof(int64_t));
	a->n_ints = n, a->ints = x;
	return a;
}

/* n (at most 8) ints all v: a kernel's sides, its pads */
static Onnx__AttributeProto *a_ints(wbuild *w, const char *name, int64_t v, size_t n)
{
	int64_t x[8];
	for (size_t i = 0; i < n && i < 8; i++)
		x[i] = v;
	return a_int_list(w, name, x, n < 8 ? n : 8);
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
	float *f = dcc_tensor_to_f32(t);
	if (!f) {
		w->oom = 1;
		return;
	}
	for (int d = 0; d < t->ndim; d++)
		dims[d] = (int64_t)t->shape[d];
	add_init_raw(w, t->name, dims, (size_t)t->ndim, f, dcc_tensor_numel(t), 0);
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

/* Value v's name in the ONNX graph: the input's in0 ("input", or
 * "input_norm" after the normalisation), the logits' "logits" (the value
 * the loss reads, unless a bce head's Sigmoid follows), else NODE_out. */
static void value_name(const dcc_graph *g, const char *in0, int v, int lv, int bce, char *out, size_t cap)
{
	if (!v)
		snprintf(out, cap, "%s", in0);
	else if (v == lv && !bce)
		snprintf(out, cap, "logits");
	else
		snprintf(out, cap, "%s_out", g->nodes[v - 1].name);
}

/* Is value v a vector (N, F) in the ONNX graph, not a map (N, C, H, W)?
 * What an fc, flatten or lstm made, through the element-wise layers. */
static int flat_value(const dcc_graph *g, int v)
{
	for (; v > 0; v = g->nodes[v - 1].src[0]) {
		int op = g->nodes[v - 1].op;
		if (op == DCC_OP_FC || op == DCC_OP_FLATTEN || op == DCC_OP_LSTM)
			return 1;
		if (op == DCC_OP_CONV2D || op == DCC_OP_MAXPOOL2D || op == DCC_OP_AVGPOOL2D)
			return 0;
	}
	return 0;
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
	/* a bce head ends in its Sigmoid, as the model dcc read did: the output is probabilities */
	int bce = net->n && net->nodes[net->n - 1].op == DCC_OP_BCE, lv = net->n ? net->nodes[net->n - 1].src[0] : 0;
	const char *oname = bce ? "probabilities" : "logits";
	char cur[DCC_MAX_NAME + 16], nxt[DCC_MAX_NAME + 16];
	/* the input normalisation (formats/data.md) as Sub and Div, so ONNX
	 * Runtime reads the inputs dcc reads */
	dcc_norm nm;
	if ((rc = dcc_norm_of(m, net->in_c, net->in_h, net->in_w, &nm, err))) {
		dcc_model_free(sd);
		dcc_graph_free(net);
		return rc;
	}
	const char *in0 = nm.n ? "input_norm" : "input";
	if (nm.n) {
		float mv[DCC_NORM_MAX], sv[DCC_NORM_MAX];
		for (size_t k = 0; k < nm.n; k++)
			mv[k] = (float)nm.mean[k], sv[k] = (float)nm.std[k];
		int chan = nm.n > 1 && nm.n == (size_t)net->in_c; /* else one, or one per feature (the last axis) */
		int64_t dims[3] = {(int64_t)nm.n, 1, 1};
		size_t nd = nm.n == 1 ? 0 : chan ? 3 : 1;
		add_init_raw(&w, "input.mean", dims, nd, mv, nm.n, 0), add_init_raw(&w, "input.std", dims, nd, sv, nm.n, 0);
		const char *s_in[2] = {"input", "input.mean"}, *d_in[2] = {"input_centred", "input.std"};
		add_node(&w, "Sub", "input_sub", s_in, 2, "input_centred", NULL, 0);
		add_node(&w, "Div", "input_div", d_in, 2, in0, NULL, 0);
	}
	for (size_t i = 0; i < net->n && !rc; i++) {
		const dcc_node *l = &net->nodes[i];
		if (dcc_op_is_loss(l->op))
			break;
		value_name(net, in0, l->src[0], lv, bce, cur, sizeof(cur));
		value_name(net, in0, (int)i + 1, lv, bce, nxt, sizeof(nxt));
		if (l->op == DCC_OP_FC || l->op == DCC_OP_CONV2D) {
			const dcc_tensor *tw = dcc_model_find(sd, l->p[0].name);
			const dcc_tensor *tb = l->bias ? dcc_model_find(sd, l->p[1].name) : NULL;
			if (!tw || (l->bias && !tb)) {
				rc = dcc_fail(err, DCC_E_NOTFOUND, "layer '%s': weights missing", l->name);
				break;
			}
			add_init(&w, tw);
			if (tb)
				add_init(&w, tb);
			const char *ins[3] = {cur, l->p[0].name, tb ? l->p[1].name : ""};
			size_t nin = tb ? 3 : 2;
			if (l->op == DCC_OP_FC) {
				Onnx__AttributeProto *a[1] = {a_int(&w, "transB", 1)};
				add_node(&w, "Gemm", l->name, ins, nin, nxt, a, 1);
			} else {
				const dcc_geom *q = &l->geo;
				const int64_t ks[2] = {q->kh, q->kw}, st[2] = {q->sh, q->sw}, dl[2] = {q->dh, q->dw},
					      pd[4] = {q->pt, q->pl, q->pb, q->pr};
				Onnx__AttributeProto *a[5] = {a_int_list(&w, "kernel_shape", ks, 2), a_int_list(&w, "strides", st, 2),
							      a_int_list(&w, "pads", pd, 4), a_int(&w, "group", l->group),
							      a_int_list(&w, "dilations", dl, 2)};
				add_node(&w, "Conv", l->name, ins, nin, nxt, a, 5);
			}
		} else if (l->op == DCC_OP_BATCHNORM) {
			const char *ins[5] = {cur, l->p[0].name, l->p[1].name, l->p[2].name, l->p[3].name};
			for (int k = 0; k < 4 && !rc; k++) {
				const dcc_tensor *t = dcc_model_find(sd, l->p[k].name);
				if (!t)
					rc = dcc_fail(err, DCC_E_NOTFOUND, "layer '%s': tensor '%s' missing", l->name, l->p[k].name);
				else
					add_init(&w, t);
			}
			Onnx__AttributeProto *a[2] = {a_float(&w, "epsilon", l->eps), a_float(&w, "momentum", 1 - l->momentum)};
			add_node(&w, "BatchNormalization", l->name, ins, 5, nxt, a, 2);
		} else if (l->op == DCC_OP_AFFINE) {
			/* Mul and Add by constants of one value per channel: (C, 1, 1) on a map, (C) on a vector */
			const dcc_tensor *t[2] = {dcc_model_find(sd, l->p[0].name), dcc_model_find(sd, l->p[1].name)};
			if (!t[0] || !t[1]) {
				rc = dcc_fail(err, DCC_E_NOTFOUND, "layer '%s': its scale or shift is missing", l->name);
				break;
			}
			int64_t dims[3] = {l->ic, 1, 1};
			size_t nd = flat_value(net, l->src[0]) ? 1 : 3;
			char mid[DCC_MAX_NAME + 16], an[DCC_MAX_NAME + 16];
			for (int k = 0; k < 2 && !rc; k++) {
				float *f = dcc_tensor_numel(t[k]) == (uint64_t)l->ic ? dcc_tensor_to_f32(t[k]) : NULL;
				if (f)
					add_init_raw(&w, l->p[k].name, dims, nd, f, (size_t)l->ic, 0);
				else if (dcc_tensor_numel(t[k]) != (uint64_t)l->ic)
					rc = dcc_fail(err, DCC_E_SHAPE, "layer '%s': '%s' holds %llu values for %d channels", l->name,
						      l->p[k].name, (unsigned long long)dcc_tensor_numel(t[k]), l->ic);
				else
					w.oom = 1;
				free(f);
			}
			if (rc)
				break;
			snprintf(mid, sizeof(mid), "%s_scaled", l->name), snprintf(an, sizeof(an), "%s_shift", l->name);
			const char *m_in[2] = {cur, l->p[0].name}, *a_in[2] = {mid, l->p[1].name};
			add_node(&w, "Mul", l->name, m_in, 2, mid, NULL, 0);
			add_node(&w, "Add", an, a_in, 2, nxt, NULL, 0);
		} else if (l->op == DCC_OP_MAXPOOL2D || l->op == DCC_OP_AVGPOOL2D) {
			Onnx__AttributeProto *a[5] = {a_ints(&w, "kernel_shape", l->k, 2), a_ints(&w, "strides", l->stride, 2),
						      a_ints(&w, "pads", l->pad, 4), a_int(&w, "ceil_mode", l->ceil),
						      a_int(&w, "count_include_pad", l->incl)};
			const char *ins[1] = {cur};
			add_node(&w, l->op == DCC_OP_MAXPOOL2D ? "MaxPool" : "AveragePool", l->name, ins, 1, nxt, a,
				 l->op == DCC_OP_MAXPOOL2D ? 4 : 5);
		} else if (l->op == DCC_OP_ADD || l->op == DCC_OP_CONCAT) {
			/* Concat takes them all; Add two at a time */
			char ins_s[DCC_NODE_MAX_IN][DCC_MAX_NAME + 16];
			const char *ins[DCC_NODE_MAX_IN];
			for (int k = 0; k < l->nin; k++) {
				value_name(net, in0, l->src[k], lv, bce, ins_s[k], sizeof(ins_s[k]));
				ins[k] = ins_s[k];
			}
			Onnx__AttributeProto *a[1] = {a_int(&w, "axis", 1)};
			if (l->op == DCC_OP_CONCAT)
				add_node(&w, "Concat", l->name, ins, (size_t)l->nin, nxt, a, 1);
			char sa[DCC_MAX_NAME + 32], sb[DCC_MAX_NAME + 32];
			for (int k = 1; l->op == DCC_OP_ADD && k < l->nin; k++) { /* NAME_sumK: the first K + 1 summed */
				snprintf(sa, sizeof(sa), "%s_sum%d", l->name, k - 1);
				snprintf(sb, sizeof(sb), "%s_sum%d", l->name, k);
				const char *two[2] = {k == 1 ? ins[0] : sa, ins[k]};
				add_node(&w, "Add", k + 1 == l->nin ? l->name : sb, two, 2, k + 1 == l->nin ? nxt : sb, NULL, 0);
			}
		} else if (l->op == DCC_OP_SUB || l->op == DCC_OP_DIV) {
			char sb[DCC_MAX_NAME + 16];
			value_name(net, in0, l->src[1], lv, bce, sb, sizeof(sb));
			const char *ins[2] = {cur, sb};
			add_node(&w, l->op == DCC_OP_SUB ? "Sub" : "Div", l->name, ins, 2, nxt, NULL, 0);
		} else if (l->op == DCC_OP_MUL) { /* ONNX broadcasts a (N, C, 1, 1) gate as dcc does */
			char sb[DCC_MAX_NAME + 16];
			value_name(net, in0, l->src[1], lv, bce, sb, sizeof(sb));
			if (flat_value(net, l->src[1]) && !flat_value(net, l->src[0])) { /* a vector gate: (N, C) to (N, C, 1, 1) */
				char sh[DCC_MAX_NAME + 16], gv[DCC_MAX_NAME + 16];
				snprintf(sh, sizeof(sh), "%s.gate_shape", l->name), snprintf(gv, sizeof(gv), "%s_gate", l->name);
				int64_t four = 4, shape[4] = {-1, l->ic, 1, 1};
				add_init_raw(&w, sh, &four, 1, shape, 4, 1);
				const char *r_in[2] = {sb, sh};
				add_node(&w, "Reshape", gv, r_in, 2, gv, NULL, 0);
				snprintf(sb, sizeof(sb), "%s", gv);
			}
			const char *ins[2] = {cur, sb};
			add_node(&w, "Mul", l->name, ins, 2, nxt, NULL, 0);
		} else if (l->op == DCC_OP_SLICE) { /* on the channel axis */
			char st[DCC_MAX_NAME + 16], en[DCC_MAX_NAME + 16], ax[DCC_MAX_NAME + 16];
			snprintf(st, sizeof(st), "%s.starts", l->name), snprintf(en, sizeof(en), "%s.ends", l->name);
			snprintf(ax, sizeof(ax), "%s.axes", l->name);
			int64_t one = 1, s0 = l->start, e0 = l->end, a0 = 1;
			add_init_raw(&w, st, &one, 1, &s0, 1, 1), add_init_raw(&w, en, &one, 1, &e0, 1, 1);
			add_init_raw(&w, ax, &one, 1, &a0, 1, 1);
			const char *ins[4] = {cur, st, en, ax};
			add_node(&w, "Slice", l->name, ins, 4, nxt, NULL, 0);
		} else if (l->op == DCC_OP_SHUFFLE) {
			/* PyTorch's: view(N, g, C/g, H, W), transpose(1, 2), view(N, C, H, W) */
			char s5[DCC_MAX_NAME + 16], s4[DCC_MAX_NAME + 16], v5[DCC_MAX_NAME + 16], vt[DCC_MAX_NAME + 16];
			snprintf(s5, sizeof(s5), "%s.groups", l->name), snprintf(s4, sizeof(s4), "%s.shape", l->name);
			snprintf(v5, sizeof(v5), "%s_groups", l->name), snprintf(vt, sizeof(vt), "%s_transposed", l->name);
			int64_t five = 5, four = 4, sh5[5] = {-1, l->group, l->ic / l->group, l->ih, l->iw},
				sh4[4] = {-1, l->ic, l->ih, l->iw}, perm[5] = {0, 2, 1, 3, 4};
			add_init_raw(&w, s5, &five, 1, sh5, 5, 1), add_init_raw(&w, s4, &four, 1, sh4, 4, 1);
			const char *r5[2] = {cur, s5}, *tin[1] = {v5}, *r4[2] = {vt, s4};
			Onnx__AttributeProto *a[1] = {a_int_list(&w, "perm", perm, 5)};
			add_node(&w, "Reshape", v5, r5, 2, v5, NULL, 0);
			add_node(&w, "Transpose", vt, tin, 1, vt, a, 1);
			add_node(&w, "Reshape", l->name, r4, 2, nxt, NULL, 0);
		} else if (l->op == DCC_OP_CLIP) {
			char lo[DCC_MAX_NAME + 16], hi[DCC_MAX_NAME + 16];
			snprintf(lo, sizeof(lo), "%s.min", l->name), snprintf(hi, sizeof(hi), "%s.max", l->name);
			int64_t scalar = 0; /* no dimensions: a scalar */
			add_init_raw(&w, lo, &scalar, 0, &l->lo, 1, 0), add_init_raw(&w, hi, &scalar, 0, &l->hi, 1, 0);
			const char *ins[3] = {cur, lo, hi};
			add_node(&w, "Clip", l->name, ins, 3, nxt, NULL, 0);
		} else if (l->op == DCC_OP_HARDSIGMOID) {
			const char *ins[1] = {cur};
			Onnx__AttributeProto *a[2] = {a_float(&w, "alpha", l->alpha), a_float(&w, "beta", l->beta)};
			add_node(&w, "HardSigmoid", l->name, ins, 1, nxt, a, 2);
		} else if (l->op == DCC_OP_HARDSWISH) {
			const char *ins[1] = {cur};
			add_node(&w, "HardSwish", l->name, ins, 1, nxt, NULL, 0);
		} else if (l->op == DCC_OP_LEAKYRELU) {
			const char *ins[1] = {cur};
			Onnx__AttributeProto *a[1] = {a_float(&w, "alpha", l->alpha)};
			add_node(&w, "LeakyRelu", l->name, ins, 1, nxt, a, 1);
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
			static const int64_t pv[3] = {1, 0, 2};
			Onnx__AttributeProto *perm = a_int_list(&w, "perm", pv, 3), *hs[1] = {a_int(&w, "hidden_size", l->hidden)};
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
	}
	if (!rc && bce) {
		value_name(net, in0, lv, lv, bce, cur, sizeof(cur));
		const char *ins[1] = {cur};
		add_node(&w, "Sigmoid", "head", ins, 1, oname, NULL, 0);
	}
	if (!rc && !w.oom) {
		int64_t idims[4] = {-1, net->in_c, net->in_h, net->in_w}, odims[2] = {-1, net->classes};
		Onnx__ValueInfoProto *vin = value_info(&w, "input", idims, 4), *vout = value_info(&w, oname, odims, 2);
		Onnx__GraphProto gp = ONNX__GRAPH_PROTO__INIT;
		Onnx__ModelProto mp = ONNX__MODEL_PROTO__INIT;
		Onnx__OperatorSetIdProto os = ONNX__OPERATOR_SET_ID_PROTO__INIT, *osp = &os;
		gp.name = "dcc";
		gp.n_node = w.nn, gp.node = w.nodes;
		gp.n_initializer = w.ni, gp.initializer = w.inits;
		gp.n_input = 1, gp.input = &vin;
		gp.n_output = 1, gp.output = &vout;
		int hswish = 0; /* HardSwish came with opset 14 (its other operators are 13's as well) */
		for (size_t i = 0; i < net->n; i++)
			hswish |= net->nodes[i].op == DCC_OP_HARDSWISH;
		os.domain = "", os.has_version = 1, os.version = hswish ? 14 : 13;
		mp.has_ir_version = 1, mp.ir_version = hswish ? 8 : 7;
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
