/* onnx.c: ONNX models in (formats/onnx.md).  Parsing is protobuf-c's, on
 * the onnx.proto Debian's libonnx-dev ships, after a depth-limited walk of
 * the bytes (protobuf-c recurses without a limit).  Every name the graph
 * uses is indexed once; then each node goes to its operator's reader
 * function (one table row per ONNX operator) or to the row LSTM's pattern
 * (onnx_lstm.c).  Anything else is an error naming the node: nothing is
 * dropped silently. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_io.h"

/* ---- a depth-limited walk of the protobuf before protobuf-c parses it ---- */

#define PB_MAX_DEPTH 64 /* ONNX models nest a dozen deep; protobuf's own limit is 100 */

static int pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	*v = 0;
	for (int s = 0; s < 64 && *p < end; s += 7) {
		uint8_t b = *(*p)++;
		*v |= (uint64_t)(b & 0x7f) << s;
		if (!(b & 0x80))
			return 0;
	}
	return -1;
}

/* 0 when every submessage the descriptor names nests at most PB_MAX_DEPTH
 * deep and every field fits its bytes; -1 otherwise. */
static int pb_walk(const ProtobufCMessageDescriptor *d, const uint8_t *p, const uint8_t *end, int depth)
{
	if (depth > PB_MAX_DEPTH)
		return -1;
	while (p < end) {
		uint64_t tag, v;
		if (pb_varint(&p, end, &tag) || tag >> 32)
			return -1;
		switch (tag & 7) {
		case 0:
			if (pb_varint(&p, end, &v))
				return -1;
			break;
		case 1:
			if (end - p < 8)
				return -1;
			p += 8;
			break;
		case 5:
			if (end - p < 4)
				return -1;
			p += 4;
			break;
		case 2: {
			if (pb_varint(&p, end, &v) || v > (uint64_t)(end - p))
				return -1;
			const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(d, (unsigned)(tag >> 3));
			if (f && f->type == PROTOBUF_C_TYPE_MESSAGE && pb_walk(f->descriptor, p, p + v, depth + 1))
				return -1;
			p += v;
			break;
		}
		default: /* groups (3, 4) are not in ONNX's schema */
			return -1;
		}
	}
	return 0;
}

/* ---- the names index ---- */

static uint64_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
	return h ^ (h >> 29);
}

/* The slot of name: found, or (add) made. */
static size_t slot_of(onnx_index *x, const char *name, int add)
{
	size_t i = (size_t)hash_str(name) & (x->cap - 1);
	for (; x->key[i]; i = (i + 1) & (x->cap - 1))
		if (!strcmp(x->key[i], name))
			return i;
	if (!add)
		return SIZE_MAX;
	x->key[i] = name;
	x->init[i] = x->prod[i] = -1;
	return i;
}

static void index_free(onnx_index *x)
{
	free(x->key), free(x->init), free(x->prod), free(x->cons_at), free(x->cons);
	memset(x, 0, sizeof(*x));
}

/* One pass over initializers and nodes: O(names). */
static int index_build(onnx_index *x, const Onnx__GraphProto *g)
{
	size_t names = g->n_initializer, edges = 0;
	for (size_t k = 0; k < g->n_node; k++)
		names += g->node[k]->n_output + g->node[k]->n_input, edges += g->node[k]->n_input;
	x->cap = 64;
	while (x->cap < 2 * names + 2)
		x->cap *= 2;
	x->key = calloc(x->cap, sizeof(char *));
	x->init = malloc(x->cap * sizeof(int32_t));
	x->prod = malloc(x->cap * sizeof(int32_t));
	x->cons_at = calloc(x->cap + 1, sizeof(uint32_t));
	x->cons = malloc((edges ? edges : 1) * sizeof(uint32_t));
	if (!x->key || !x->init || !x->prod || !x->cons_at || !x->cons || edges >= UINT32_MAX)
		return DCC_E_NOMEM;
	for (size_t i = 0; i < g->n_initializer; i++)
		if (g->initializer[i]->name) {
			size_t s = slot_of(x, g->initializer[i]->name, 1);
			if (x->init[s] < 0)
				x->init[s] = (int32_t)i;
		}
	for (size_t k = 0; k < g->n_node; k++) {
		const node_t *n = g->node[k];
		for (size_t o = 0; o < n->n_output; o++)
			if (n->output[o] && n->output[o][0]) {
				size_t s = slot_of(x, n->output[o], 1);
				if (x->prod[s] < 0)
					x->prod[s] = (int32_t)k;
			}
		for (size_t i = 0; i < n->n_input; i++)
			if (n->input[i] && n->input[i][0])
				x->cons_at[slot_of(x, n->input[i], 1) + 1]++;
	}
	for (size_t s = 0; s < x->cap; s++) /* counts to offsets */
		x->cons_at[s + 1] += x->cons_at[s];
	uint32_t *fill = calloc(x->cap, sizeof(uint32_t));
	if (!fill)
		return DCC_E_NOMEM;
	for (size_t k = 0; k < g->n_node; k++) {
		const node_t *n = g->node[k];
		for (size_t i = 0; i < n->n_input; i++)
			if (n->input[i] && n->input[i][0]) {
				size_t s = slot_of(x, n->input[i], 0);
				x->cons[x->cons_at[s] + fill[s]++] = (uint32_t)(k << 8 | (i < 255 ? i : 255));
			}
	}
	free(fill);
	return 0;
}

const tensor_t *onnx_init(const onnx_read *r, const char *name)
{
	size_t s = name ? slot_of((onnx_index *)&r->ix, name, 0) : SIZE_MAX;
	return s == SIZE_MAX || r->ix.init[s] < 0 ? NULL : r->g->initializer[r->ix.init[s]];
}

const node_t *onnx_producer(const onnx_read *r, const char *name)
{
	size_t s = name ? slot_of((onnx_index *)&r->ix, name, 0) : SIZE_MAX;
	return s == SIZE_MAX || r->ix.prod[s] < 0 ? NULL : r->g->node[r->ix.prod[s]];
}

int32_t onnx_producer_index(const onnx_read *r, const char *name)
{
	size_t s = name ? slot_of((onnx_index *)&r->ix, name, 0) : SIZE_MAX;
	return s == SIZE_MAX ? -1 : r->ix.prod[s];
}

const uint32_t *onnx_consumers(const onnx_read *r, const char *name, size_t *n)
{
	size_t s = slot_of((onnx_index *)&r->ix, name, 0);
	*n = s == SIZE_MAX ? 0 : r->ix.cons_at[s + 1] - r->ix.cons_at[s];
	return s == SIZE_MAX ? NULL : r->ix.cons + r->ix.cons_at[s];
}

/* ---- attributes and initializers ---- */

const Onnx__AttributeProto *onnx_attr(const node_t *n, const char *name)
{
	for (size_t i = 0; i < n->n_attribute; i++)
		if (n->attribute[i]->name && !strcmp(n->attribute[i]->name, name))
			return n->attribute[i];
	return NULL;
}

int64_t onnx_attr_i(const node_t *n, const char *name, int64_t dflt)
{
	const Onnx__AttributeProto *a = onnx_attr(n, name);
	return a && a->has_i ? a->i : dflt;
}

float onnx_attr_f(const node_t *n, const char *name, float dflt)
{
	const Onnx__AttributeProto *a = onnx_attr(n, name);
	return a && a->has_f ? a->f : dflt;
}

int64_t onnx_attr_ints_same(const node_t *n, const char *name, int64_t dflt)
{
	const Onnx__AttributeProto *a = onnx_attr(n, name);
	if (!a || !a->n_ints)
		return dflt;
	for (size_t i = 1; i < a->n_ints; i++)
		if (a->ints[i] != a->ints[0])
			return -1;
	return a->ints[0];
}

int onnx_tensor_floats(const tensor_t *t, float **out, size_t *n, dcc_error *err)
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

int onnx_tensor_i64(const tensor_t *t, int64_t v[8])
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

int onnx_node_ints(const onnx_read *r, const node_t *n, size_t k, const char *name, int64_t v[8])
{
	if (n->n_input > k && n->input[k] && n->input[k][0]) { /* a constant, or shape arithmetic folded to one */
		const tensor_t *t = onnx_init(r, n->input[k]);
		return t ? onnx_tensor_i64(t, v) : onnx_shape_ints(r, n->input[k], v);
	}
	const Onnx__AttributeProto *a = onnx_attr(n, name);
	if (!a || a->n_ints > 8)
		return a ? -1 : 0;
	for (size_t i = 0; i < a->n_ints; i++)
		v[i] = a->ints[i];
	return (int)a->n_ints;
}

void onnx_line_name(const onnx_read *r, int i, char *out, size_t cap)
{
	const char *sp = i >= 0 && (size_t)i < r->nlines ? strchr(r->lines[i], ' ') : NULL;
	if (!sp) {
		snprintf(out, cap, "input");
		return;
	}
	snprintf(out, cap, "%.*s", (int)strcspn(sp + 1, " "), sp + 1);
}

const onnx_val *onnx_value(const onnx_read *r, const char *name)
{
	size_t s = name && r->val ? slot_of((onnx_index *)&r->ix, name, 0) : SIZE_MAX;
	return s == SIZE_MAX || !r->val[s].known ? NULL : &r->val[s];
}

int onnx_add_line(onnx_read *r, const char *fmt, ...)
{
	if (r->nlines % 64 == 0) { /* grown in steps: linear in the lines */
		char **q = realloc(r->lines, (r->nlines + 64) * sizeof(char *));
		if (!q)
			return -1;
		r->lines = q;
	}
	static _Thread_local char s[DCC_GRAPH_LINE];
	va_list ap;
	va_start(ap, fmt);
	int len = vsnprintf(s, sizeof(s), fmt, ap);
	va_end(ap);
	if (len < 1 || len >= DCC_GRAPH_LINE - DCC_MAX_NAME - 8)
		return -1;
	if (r->src_line != (int)r->nlines - 1 && !strstr(s, " from=")) {
		memcpy(s + len, " from=", 7);
		onnx_line_name(r, r->src_line, s + len + 6, DCC_MAX_NAME + 1);
	}
	if (!(r->lines[r->nlines] = dcc_strdup(s)))
		return -1;
	r->src_line = (int)r->nlines++; /* a next line reads this one */
	return 0;
}

void onnx_layer_name(onnx_read *r, const char *wname, const char *kind, int idx, char *out, size_t cap)
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
	if (!out[0] || dcc_model_find(r->m, nm)) {
		snprintf(out, cap, "%s%d", kind, idx);
		r->unnamed++;
	}
}

/* ---- one reader per operator ---- */

typedef int (*op_reader)(onnx_read *r, const node_t *n, const char *nname, dcc_error *err);

/* the weight and bias of an fc layer, added as NAME.weight, NAME.bias */
static int add_fc(onnx_read *r, const char *wname, float *wt, float *bias, size_t inn, size_t outn, dcc_error *err)
{
	char name[DCC_MAX_NAME + 1], nm[DCC_MAX_NAME + 16];
	onnx_layer_name(r, wname, "fc", ++r->nfc, name, sizeof(name));
	uint64_t ws[2] = {outn, inn}, bs[1] = {outn};
	snprintf(nm, sizeof(nm), "%s.weight", name);
	int rc = dcc_model_add(r->m, nm, DCC_F32, 0, 0, 2, ws, wt, err);
	snprintf(nm, sizeof(nm), "%s.bias", name);
	if (!rc && bias) /* none: bias=0 */
		rc = dcc_model_add(r->m, nm, DCC_F32, 0, 0, 1, bs, bias, err);
	else
		free(bias);
	if (!rc && onnx_add_line(r, "fc %s in=%zu out=%zu%s", name, inn, outn, bias ? "" : " bias=0"))
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	return rc;
}

/* A MatMul over the last axis per position: a conv2d of 1 x kw (kw = 1 on
 * a channels-last map, whose channels are the features; kw = F on the
 * input (N, T, F) taken as one channel of T x F), its weight (out, in, 1,
 * kw) with the Linear's values, named in dcc.linear so the state_dict
 * gives it as (out, in); its output a channels-last map (out, T, 1), as
 * ONNX's (N, T, out). */
static int add_linear_conv(onnx_read *r, const char *wname, float *wt, float *bias, size_t inn, size_t outn, int kw,
			   dcc_error *err)
{
	char name[DCC_MAX_NAME + 1], nm[DCC_MAX_NAME + 16];
	onnx_layer_name(r, wname, "fc", ++r->nfc, name, sizeof(name));
	size_t cin = kw == 1 ? inn : 1;
	uint64_t ws[4] = {outn, cin, 1, (uint64_t)kw}, bs[1] = {outn};
	snprintf(nm, sizeof(nm), "%s.weight", name);
	int rc = dcc_model_add(r->m, nm, DCC_F32, 0, 0, 4, ws, wt, err);
	if (!rc)
		rc = dcc_model_append_str(r->m, "dcc.linear", nm, err);
	snprintf(nm, sizeof(nm), "%s.bias", name);
	if (!rc && bias)
		rc = dcc_model_add(r->m, nm, DCC_F32, 0, 0, 1, bs, bias, err);
	else
		free(bias);
	if (!rc && onnx_add_line(r, "conv2d %s in=%zu out=%zu k=1x%d stride=1 pad=0%s", name, cin, outn, kw,
				 bias ? "" : " bias=0"))
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	r->C = (int)outn, r->nhwc = 1;
	if (kw > 1)
		r->W = 1; /* (out, T, 1) */
	return rc;
}

/* A Transpose of a 2-D initializer (perm absent or (1, 0)): read through
 * by the MatMul that takes it. */
static int const_transpose(const onnx_read *r, const node_t *n)
{
	if (!n->op_type || strcmp(n->op_type, "Transpose") || n->n_input != 1 || !n->input[0])
		return 0;
	const tensor_t *t = onnx_init(r, n->input[0]);
	const Onnx__AttributeProto *a = onnx_attr(n, "perm");
	return t && t->n_dims == 2 && (!a || (a->n_ints == 2 && a->ints[0] == 1 && a->ints[1] == 0));
}

/* Gemm, or MatMul with a following Add of an initializer as the bias. */
static int read_gemm(onnx_read *r, const node_t *n, const char *nname, dcc_error *err)
{
	const char *op = n->op_type;
	const Onnx__GraphProto *g = r->g;
	int gemm = op[0] == 'G', rc;
	const tensor_t *tw = n->n_input > 1 ? onnx_init(r, n->input[1]) : NULL;
	const tensor_t *tb = gemm && n->n_input > 2 ? onnx_init(r, n->input[2]) : NULL;
	const node_t *tp = !gemm && !tw && n->n_input > 1 ? onnx_producer(r, n->input[1]) : NULL;
	int transposed = 0; /* MatMul(x, Transpose(W)): nn.Linear without bias, constants not folded */
	if (tp && const_transpose(r, tp))
		tw = onnx_init(r, tp->input[0]), transposed = 1;
	if (!tw || tw->n_dims != 2 || tw->dims[0] < 1 || tw->dims[1] < 1 || tw->dims[0] > (1 << 24) ||
	    tw->dims[1] > (1 << 24))
		return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (%s): the weight must be a 2-D initializer", nname, op);
	if (gemm && onnx_attr_i(n, "transA", 0))
		return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (Gemm): transA must be 0 (the activations are the rows)",
				nname);
	/* alpha scales the weight and beta the bias: Y = (alpha W) x + beta C */
	float alpha = gemm ? onnx_attr_f(n, "alpha", 1) : 1, beta = gemm ? onnx_attr_f(n, "beta", 1) : 1;
	int transB = gemm ? (int)onnx_attr_i(n, "transB", 0) : transposed;
	size_t outn = (size_t)(transB ? tw->dims[0] : tw->dims[1]), inn = (size_t)(transB ? tw->dims[1] : tw->dims[0]);
	size_t cnt, cur_in = r->flat ? r->F : (size_t)r->C * (size_t)r->H * (size_t)r->W;
	float *w;
	if ((rc = onnx_tensor_floats(tw, &w, &cnt, err)))
		return rc;
	/* a MatMul over the last axis of a sequence (N, T, F) or a channels-last
	 * map: per position, a convolution (below); of one position, an fc */
	int kw = 0; /* the convolution's kernel width: 1 on a channels-last map, F on the input (1, T, F) */
	if (!gemm && !r->flat && r->nhwc && inn == (size_t)r->C)
		kw = 1;
	size_t nuse = 0;
	if (r->cur)
		onnx_consumers(r, r->cur, &nuse);
	if (!gemm && !r->flat && !r->nhwc && r->W == 1 && inn == (size_t)r->H && r->in_name && !strcmp(r->cur, r->in_name) &&
	    nuse == 1 && r->src_line == -1 && r->in_rank == 3 && r->ishape) {
		int T = r->C, F = r->H; /* the input (N, T, F) taken as one channel of T x F, as a data set's samples */
		r->C = 1, r->H = T, r->W = F;
		r->ishape[0] = 1, r->ishape[1] = T, r->ishape[2] = F;
		kw = T > 1 ? F : 0;
	}
	if (!gemm && !r->flat && !r->nhwc && !kw && r->C == 1 && (r->W == 1 ? r->H : r->H == 1 ? r->W : 0) == (int)inn) {
		if (onnx_add_line(r, "flatten flatten%d", ++r->nflat)) { /* one position: an fc */
			free(w);
			return dcc_fail(err, DCC_E_NOMEM, "out of memory");
		}
		r->flat = 1, r->F = inn;
	}
	if (!kw && (!r->flat || inn != cur_in)) {
		free(w);
		return dcc_fail(err, DCC_E_SHAPE, "node '%s' (%s): takes %zu inputs, the previous layer gives %zu%s", nname, op,
				inn, cur_in, r->flat ? "" : " (flatten first)");
	}
	float *wt = malloc(cnt * sizeof(float)); /* dcc's (out, in) */
	if (!wt) {
		free(w);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	for (size_t o = 0; o < outn; o++)
		for (size_t i = 0; i < inn; i++)
			wt[o * inn + i] = alpha * (transB ? w[o * inn + i] : w[i * outn + o]);
	int hwc[3] = {0}; /* the map a channels-last flatten was of, recorded for the state_dict */
	if (r->hwc_flat) { /* the columns of the (H, W, C) features to dcc's (C, H, W) */
		size_t C = (size_t)r->C, HW = (size_t)r->H * (size_t)r->W;
		hwc[0] = r->C, hwc[1] = r->H, hwc[2] = r->W;
		for (size_t o = 0; o < outn; o++) {
			for (size_t i = 0; i < inn; i++)
				w[i] = wt[o * inn + i];
			for (size_t c = 0; c < C; c++)
				for (size_t p = 0; p < HW; p++)
					wt[o * inn + c * HW + p] = w[p * C + c];
		}
		r->hwc_flat = 0;
	}
	free(w);
	/* the bias: an Add of an initializer, either side (torch.onnx.export writes Add(bias, x) on a sequence) */
	const node_t *nx = r->k + 1 < g->n_node ? g->node[r->k + 1] : NULL;
	if (!gemm && nx && nx->op_type && !strcmp(nx->op_type, "Add") && nx->n_input == 2 && nx->input[0] &&
	    nx->input[1] && nx->n_output && nx->output[0]) {
		int side = !strcmp(nx->input[0], r->next_out) ? 1 : !strcmp(nx->input[1], r->next_out) ? 0 : -1;
		size_t nuse_mm = 0;
		onnx_consumers(r, r->next_out, &nuse_mm);
		if (side >= 0 && nuse_mm == 1 && (tb = onnx_init(r, nx->input[side]))) {
			r->k++;
			r->next_out = nx->output[0];
		}
	}
	size_t bn = 0;
	float *bias = NULL;
	/* the bias broadcast to the outputs: one per output, or one for all ((), (1,), (1, 1)) */
	int per_sample = tb && tb->n_dims == 2 && tb->dims[0] != 1;
	if (tb && ((rc = onnx_tensor_floats(tb, &bias, &bn, err)) || (bn != outn && bn != 1) || per_sample)) {
		free(wt), free(bias);
		return rc ? rc : dcc_fail(err, DCC_E_SHAPE, "node '%s' (%s): a bias of %zu values for %zu outputs (dcc "
					  "takes one per output, or one for all)", nname, op, bn, outn);
	}
	if (bias && bn == 1 && outn > 1) {
		float *b = malloc(outn * sizeof(float));
		for (size_t o = 0; b && o < outn; o++)
			b[o] = bias[0];
		free(bias);
		if (!(bias = b)) {
			free(wt);
			return dcc_fail(err, DCC_E_NOMEM, "out of memory");
		}
	}
	for (size_t o = 0; bias && o < outn; o++)
		bias[o] *= beta;
	/* the layer's name: its weight's module, or (a MatMul's transposed weight, onnx::MatMul_N) its bias's */
	char wname[DCC_MAX_NAME + 16];
	size_t bl = tb && tb->name ? strlen(tb->name) : 0;
	size_t wl = tw->name ? strlen(tw->name) : 0;
	if ((wl < 7 || strcmp(tw->name + wl - 7, ".weight")) && bl > 5 && bl < DCC_MAX_NAME && !strcmp(tb->name + bl - 5, ".bias"))
		snprintf(wname, sizeof(wname), "%.*s.weight", (int)(bl - 5), tb->name);
	else
		snprintf(wname, sizeof(wname), "%s", tw->name ? tw->name : "");
	if (kw)
		return add_linear_conv(r, wname, wt, bias, inn, outn, kw, err);
	if ((rc = add_fc(r, wname, wt, bias, inn, outn, err)))
		return rc;
	if (hwc[0]) {
		char rec[DCC_MAX_NAME + 64], nm[DCC_MAX_NAME + 1];
		onnx_line_name(r, (int)r->nlines - 1, nm, sizeof(nm));
		snprintf(rec, sizeof(rec), "%s.weight %d %d %d", nm, hwc[0], hwc[1], hwc[2]);
		if ((rc = dcc_model_append_str(r->m, "dcc.flatten_hwc", rec, err)))
			return rc;
	}
	r->F = outn;
	r->classes = (int)outn;
	r->last_fc = 1;
	return 0;
}

/* An attribute of two ints (strides, dilations) or four (pads): v, or the
 * default when absent; -1 when it has another count or a value outside
 * [lo, 65535]. */
static int attr_pair(const node_t *n, const char *name, int count, int64_t dflt, int64_t lo, int64_t v[4])
{
	const Onnx__AttributeProto *a = onnx_attr(n, name);
	for (int i = 0; i < count; i++)
		v[i] = dflt;
	if (!a || !a->n_ints)
		return 0;
	if ((int)a->n_ints != count)
		return -1;
	for (int i = 0; i < count; i++)
		if ((v[i] = a->ints[i]) < lo || v[i] > 65535)
			return -1;
	return 0;
}

/* A Conv's window from kernel_shape (or the weight's kh x kw), strides,
 * dilations, pads (top, left, bottom, right) or auto_pad, and the padding
 * of a zero Pad it reads. */
static int onnx_conv_geom(onnx_read *r, const node_t *n, const char *nname, int64_t kh, int64_t kw, dcc_geom *q,
		   dcc_error *err)
{
	int64_t st[4], dil[4], pads[4], ks[4];
	const Onnx__AttributeProto *ap = onnx_attr(n, "auto_pad");
	int bad = attr_pair(n, "strides", 2, 1, 1, st) | attr_pair(n, "dilations", 2, 1, 1, dil) |
		  attr_pair(n, "pads", 4, 0, 0, pads) | attr_pair(n, "kernel_shape", 2, kh, 1, ks);
	if (bad || ks[0] != kh || ks[1] != kw)
		return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (%s): strides, dilations, pads or kernel_shape not of a 2-D "
				"%lldx%lld kernel", nname, n->op_type, (long long)kh, (long long)kw);
	*q = (dcc_geom){(int)kh, (int)kw, (int)st[0], (int)st[1], (int)pads[0], (int)pads[1], (int)pads[2], (int)pads[3],
			(int)dil[0], (int)dil[1]};
	const char *mode = ap && ap->has_s ? (const char *)ap->s.data : "NOTSET";
	size_t ml = ap && ap->has_s ? ap->s.len : 6;
	int upper = ml == 10 && !memcmp(mode, "SAME_UPPER", 10), lower = ml == 10 && !memcmp(mode, "SAME_LOWER", 10);
	if (upper || lower) { /* out = ceil(in / stride), the padding split, the odd one at the end (upper) or start */
		for (int side = 0; side < 2; side++) {
			int64_t in = side ? r->W : r->H, s = side ? q->sw : q->sh, reach = (side ? q->dw * (kw - 1) : q->dh * (kh - 1)) + 1;
			int64_t out = (in + s - 1) / s, total = (out - 1) * s + reach - in;
			total = total < 0 ? 0 : total;
			int64_t lo_ = upper ? total / 2 : total - total / 2, hi_ = total - lo_;
			if (side)
				q->pl = (int)lo_, q->pr = (int)hi_;
			else
				q->pt = (int)lo_, q->pb = (int)hi_;
		}
	} else if (ml == 5 && !memcmp(mode, "VALID", 5)) {
		q->pt = q->pl = q->pb = q->pr = 0;
	} else if (!(ml == 6 && !memcmp(mode, "NOTSET", 6))) {
		return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (%s): auto_pad '%.*s' is not NOTSET, VALID, SAME_UPPER or "
				"SAME_LOWER", nname, n->op_type, (int)(ml > 16 ? 16 : ml), mode);
	}
	if (r->pad_out && n->input[0] && !strcmp(n->input[0], r->pad_out) && r->pad_conv) { /* a zero Pad before it */
		q->pt += r->cpad[0], q->pl += r->cpad[1], q->pb += r->cpad[2], q->pr += r->cpad[3];
		r->pad_out = NULL;
		if (q->pt > 65535 || q->pl > 65535 || q->pb > 65535 || q->pr > 65535)
			return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (%s): pads beyond 65535", nname, n->op_type);
	}
	return 0;
}

static int read_conv(onnx_read *r, const node_t *n, const char *nname, dcc_error *err)
{
	const tensor_t *tw = n->n_input > 1 ? onnx_init(r, n->input[1]) : NULL;
	const tensor_t *tb = n->n_input > 2 ? onnx_init(r, n->input[2]) : NULL;
	int64_t grp = onnx_attr_i(n, "group", 1);
	int rc;
	if (grp < 1 || grp > r->C || r->C % grp)
		return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (Conv): group %lld does not divide its %d input channels",
				nname, (long long)grp, r->C);
	if (r->flat || !tw || tw->n_dims != 4 || tw->dims[1] * grp != r->C)
		return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (Conv): needs an (out, %d, kh, kw) weight initializer "
				"on image input", nname, r->C / (int)grp);
	for (int d = 0; d < 4; d++)
		if (tw->dims[d] < 1 || tw->dims[d] > 65536)
			return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (Conv): weight dimensions out of range", nname);
	if (tw->dims[0] % grp)
		return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (Conv): group %lld does not divide its %lld outputs", nname,
				(long long)grp, (long long)tw->dims[0]);
	dcc_geom q;
	if ((rc = onnx_conv_geom(r, n, nname, tw->dims[2], tw->dims[3], &q, err)))
		return rc;
	int O = (int)tw->dims[0];
	size_t cnt, bn = 0;
	float *w, *bias = NULL;
	if ((rc = onnx_tensor_floats(tw, &w, &cnt, err)))
		return rc;
	if (tb && ((rc = onnx_tensor_floats(tb, &bias, &bn, err)) || bn != (size_t)O)) {
		free(w), free(bias);
		return rc ? rc : dcc_fail(err, DCC_E_SHAPE, "node '%s' (Conv): bias of %zu for %d channels", nname, bn, O);
	}
	int64_t oh = dcc_conv_out(r->H, q.kh, q.sh, q.pt, q.pb, q.dh), ow = dcc_conv_out(r->W, q.kw, q.sw, q.pl, q.pr, q.dw);
	if (!oh || !ow) {
		free(w), free(bias);
		return dcc_fail(err, DCC_E_SHAPE, "node '%s' (Conv): a %dx%d kernel%s on %dx%d input", nname, q.kh, q.kw,
				q.dh > 1 || q.dw > 1 ? " (dilated)" : "", r->H, r->W);
	}
	char name[DCC_MAX_NAME + 1], nm[DCC_MAX_NAME + 16];
	onnx_layer_name(r, tw->name, "conv", ++r->nconv, name, sizeof(name));
	uint64_t ws[4] = {(uint64_t)O, (uint64_t)(r->C / grp), (uint64_t)q.kh, (uint64_t)q.kw}, bs[1] = {(uint64_t)O};
	snprintf(nm, sizeof(nm), "%s.weight", name);
	rc = dcc_model_add(r->m, nm, DCC_F32, 0, 0, 4, ws, w, err);
	snprintf(nm, sizeof(nm), "%s.bias", name);
	if (!rc && bias) /* none: bias=0, as PyTorch's bias=False before a BatchNorm */
		rc = dcc_model_add(r->m, nm, DCC_F32, 0, 0, 1, bs, bias, err);
	else
		free(bias);
	char gs[48] = "", win[160];
	if (grp > 1)
		snprintf(gs, sizeof(gs), " group=%d", (int)grp);
	if (!bias)
		strcat(gs, " bias=0");
	dcc_geom_text(&q, win, sizeof(win));
	if (!rc && onnx_add_line(r, "conv2d %s in=%d out=%d %s%s", name, r->C, O, win, gs))
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	r->H = (int)oh, r->W = (int)ow, r->C = O;
	return rc;
}

static int read_pool(onnx_read *r, const node_t *n, const char *nname, dcc_error *err)
{
	const char *op = n->op_type;
	int64_t k2 = onnx_attr_ints_same(n, "kernel_shape", -1), st = onnx_attr_ints_same(n, "strides", 1),
		pad = onnx_attr_ints_same(n, "pads", 0), dil = onnx_attr_ints_same(n, "dilations", 1);
	int64_t ceil = onnx_attr_i(n, "ceil_mode", 0), mx = op[0] == 'M', incl = !mx && onnx_attr_i(n, "count_include_pad", 0);
	const Onnx__AttributeProto *ap = onnx_attr(n, "auto_pad");
	if (r->pad_out && !strcmp(n->input[0], r->pad_out)) { /* a zero Pad before it: padding the divisor counts */
		if (mx || pad || r->pad_conv)
			return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (%s): dcc reads a Pad only before an AveragePool "
					"without pads", nname, op);
		pad = r->pad, incl = 1, r->pad_out = NULL;
		r->H -= 2 * r->pad, r->W -= 2 * r->pad;
	}
	int notset = !ap || !ap->has_s || (ap->s.len == 6 && !memcmp(ap->s.data, "NOTSET", 6));
	if ((!notset || pad < 0) && k2 >= 1 && k2 <= 1024 && st >= 1 && st <= 1024 && !ceil && !r->flat &&
	    (notset || !onnx_attr(n, "pads"))) {
		/* pads not one on every side (tf2onnx's 'same' as pads, or auto_pad by ONNX's rule, as a Conv's):
		 * dcc's pools take one pad P, and a window's place is o stride - P; so with P the top and left
		 * pad, and ceil_mode when it gives ONNX's output size, the windows are ONNX's, and where the pads
		 * differ they hold only padding, which a max pool never takes and an average pool without
		 * count_include_pad does not count */
		dcc_geom q;
		int rc = onnx_conv_geom(r, n, nname, k2, k2, &q, err);
		if (rc)
			return rc;
		int64_t oh = ((int64_t)r->H + q.pt + q.pb - k2) / st + 1, ow = ((int64_t)r->W + q.pl + q.pr - k2) / st + 1;
		int same = q.pt == q.pl && q.pt == q.pb && q.pt == q.pr, c = same ? 0 : 2;
		if (!same && (mx || !incl) && q.pt == q.pl && 2 * q.pt <= k2 && q.pb < k2 && q.pr < k2 &&
		    r->H + q.pt + q.pb >= k2 && r->W + q.pl + q.pr >= k2)
			for (c = 0; c < 2; c++)
				if ((int64_t)dcc_pool_out((uint64_t)r->H, (uint64_t)k2, (uint64_t)st, (uint64_t)q.pt, c) == oh &&
				    (int64_t)dcc_pool_out((uint64_t)r->W, (uint64_t)k2, (uint64_t)st, (uint64_t)q.pt, c) == ow)
					break;
		if (c == 2)
			return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (%s): pads %d,%d,%d,%d (top, left, bottom, right) "
					"are neither one pad on every side nor that pad's windows with or without ceil_mode%s",
					nname, op, q.pt, q.pl, q.pb, q.pr, !mx && incl ? " (count_include_pad counts them)" : "");
		pad = q.pt, ceil = c, notset = 1;
	}
	if (r->flat || k2 < 1 || k2 > 1024 || st < 1 || st > 1024 || pad < 0 || 2 * pad > k2 || dil != 1 ||
	    (ceil != 0 && ceil != 1) || n->n_output > 1 || k2 > r->H + 2 * pad || k2 > r->W + 2 * pad || !notset)
		return dcc_fail(err, DCC_E_UNSUPPORTED,
				"node '%s' (%s): dcc supports square kernels, equal strides and pads (at most half the "
				"kernel), ceil_mode, no dilation, auto_pad when its pads are equal and ceil_mode 0", nname, op);
	char extra[48] = "";
	if (pad || ceil || incl)
		snprintf(extra, sizeof(extra), " pad=%d ceil=%d%s", (int)pad, (int)ceil, pad && incl ? " incl=1" : "");
	if (onnx_add_line(r, "%s pool%d k=%d stride=%d%s", mx ? "maxpool2d" : "avgpool2d", ++r->npool, (int)k2, (int)st,
			  extra))
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	r->H = (int)dcc_pool_out((uint64_t)r->H, (uint64_t)k2, (uint64_t)st, (uint64_t)pad, (int)ceil);
	r->W = (int)dcc_pool_out((uint64_t)r->W, (uint64_t)k2, (uint64_t)st, (uint64_t)pad, (int)ceil);
	return 0;
}

/* GlobalAveragePool (or ReduceMean over H, W keeping them) of a square
 * map: an average pool of the whole map. */
static int read_gap(onnx_read *r, const node_t *n, const char *nname, dcc_error *err)
{
	(void)n;
	if (r->flat || r->H != r->W)
		return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (GlobalAveragePool): dcc reads it on a square %s", nname,
				r->flat ? "image, not a flattened vector" : "map");
	if (onnx_add_line(r, "avgpool2d pool%d k=%d stride=%d", ++r->npool, r->H, r->H))
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	r->H = r->W = 1;
	return 0;
}

/* ReduceMean over the spatial axes (2, 3) of a square map: a global average
 * pool; with keepdims 0 the (N, C) vector after it. */
static int read_reduce_mean(onnx_read *r, const node_t *n, const char *nname, dcc_error *err)
{
	int64_t ax[8];
	int na = onnx_node_ints(r, n, 1, "axes", ax);
	int spatial = na == 2 && ((ax[0] == 2 || ax[0] == -2) && (ax[1] == 3 || ax[1] == -1));
	spatial |= na == 2 && ((ax[1] == 2 || ax[1] == -2) && (ax[0] == 3 || ax[0] == -1));
	if (r->flat || !spatial || (r->W == 1 && r->H > 1))
		return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (ReduceMean): dcc reads it over a map's height and width "
				"(axes 2 and 3), a global average pool", nname);
	int rc = read_gap(r, n, nname, err);
	if (rc || onnx_attr_i(n, "keepdims", 1))
		return rc;
	if (onnx_add_line(r, "flatten flatten%d", ++r->nflat))
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	r->flat = 1;
	r->F = (size_t)r->C;
	return 0;
}

/* Max or Min of an activation and a constant number: a clip with one
 * bound (Max(x, 0) is a ReLU that clip computes the same). */
static int read_maxmin(onnx_read *r, const node_t *n, const char *nname, dcc_error *err)
{
	const char *op = n->op_type;
	int ci = n->n_input != 2 ? -1 : onnx_init(r, n->input[1]) ? 1 : onnx_init(r, n->input[0]) ? 0 : -1;
	float *v = NULL;
	size_t cnt = 0;
	int rc = ci < 0 ? 0 : onnx_tensor_floats(onnx_init(r, n->input[ci]), &v, &cnt, err);
	if (rc)
		return rc;
	float b = cnt == 1 ? v[0] : NAN;
	free(v);
	if (ci < 0 || cnt != 1 || isnan(b))
		return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (%s): dcc reads %s of an activation and one constant "
				"number (a clip)", nname, op, op);
	return onnx_add_line(r, "clip clip%d min=%.9g max=%.9g", ++r->nclip, op[1] == 'a' ? b : -INFINITY,
			     op[1] == 'a' ? INFINITY : b) ? dcc_fail(err, DCC_E_NOMEM, "out of memory") : 0;
}

static int read_relu(onnx_read *r, const node_t *n, const char *nname, dcc_error *err)
{
	(void)n, (void)nname;
	return onnx_add_line(r, "relu relu%d", ++r->nrelu) ? dcc_fail(err, DCC_E_NOMEM, "out of memory") : 0;
}

/* LeakyRelu: its alpha (0.01) kept as it reads back (%.9g) */
static int read_leaky(onnx_read *r, const node_t *n, const char *nname, dcc_error *err)
{
	float alpha = onnx_attr_f(n, "alpha", 0.01f);
	if (!(fabsf(alpha) <= 256))
		return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (LeakyRelu): dcc takes alpha within -256..256", nname);
	return onnx_add_line(r, "leakyrelu leakyrelu%d alpha=%.9g", ++r->nact, (double)alpha)
		       ? dcc_fail(err, DCC_E_NOMEM, "out of memory") : 0;
}

/* HardSigmoid (alpha 0.2, beta 0.5: ONNX's defaults) and HardSwish */
static int read_hard(onnx_read *r, const node_t *n, const char *nname, dcc_error *err)
{
	if (!strcmp(n->op_type, "HardSwish"))
		return onnx_add_line(r, "hardswish hardswish%d", ++r->nact) ? dcc_fail(err, DCC_E_NOMEM, "out of memory") : 0;
	float alpha = onnx_attr_f(n, "alpha", 0.2f), beta = onnx_attr_f(n, "beta", 0.5f);
	if (!(fabsf(alpha) <= 64) || !(fabsf(beta) <= 64))
		return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (HardSigmoid): dcc takes alpha and beta within -64..64",
				nname);
	return onnx_add_line(r, "hardsigmoid hardsigmoid%d alpha=%.9g beta=%.9g", ++r->nact, (double)alpha, (double)beta)
		       ? dcc_fail(err, DCC_E_NOMEM, "out of memory") : 0;
}

static int read_act(onnx_read *r, const node_t *n, const char *nname, dcc_error *err)
{
	(void)nname;
	/* the logits' layer: the line read, or the one a flatten of it reads */
	int s = r->src_line;
	if (s > 0 && !strncmp(r->lines[s], "flatten ", 8) && !strstr(r->lines[s], " from="))
		s--;
	if (n->op_type[0] == 'S' && r->k + 1 == r->g->n_node && s >= 0 &&
	    (!strncmp(r->lines[s], "fc ", 3) || !strncmp(r->lines[s], "conv2d ", 7))) {
		r->bce = 1; /* a final Sigmoid on the logits: the bce head's (dcc run --probs applies it) */
		r->last_fc = 1;
		return 0;
	}
	const char *k = n->op_type[0] == 'S' ? "sigmoid" : "tanh";
	return onnx_add_line(r, "%s %s%d", k, k, ++r->nact) ? dcc_fail(err, DCC_E_NOMEM, "out of memory") : 0;
}

/* A vector (N, C) as a map (N, C, 1, 1): the same values, a gate for a
 * mul or a 1 x 1 map for a conv. */
static void unflatten(onnx_read *r)
{
	r->flat = 0, r->C = (int)r->F, r->H = r->W = 1;
}

/* Flatten (axis 1), or a Reshape to (N, -1) or (N, C*H*W), or of a vector
 * to (N, C, 1, 1); its shape a constant or shape arithmetic (view()). */
static int read_flatten(onnx_read *r, const node_t *n, const char *nname, dcc_error *err)
{
	const char *op = n->op_type;
	if (op[0] == 'F' && onnx_attr_i(n, "axis", 1) != 1)
		return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (Flatten): only axis 1", nname);
	if (op[0] == 'R') {
		int64_t v[8], all = r->flat ? (int64_t)r->F : (int64_t)r->C * r->H * r->W;
		int k = n->n_input > 1 ? onnx_shape_ints(r, n->input[1], v) : -1;
		int batch = k > 0; /* the batch as exported (a number), -1 or symbolic */
		if (r->nhwc && (!batch || k != 2 || (v[1] != -1 && v[1] != all)))
			return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (Reshape): dcc reshapes a channels-last map only to "
					"(N, -1), a flatten", nname);
		if (batch && k == 4 && v[1] == all && v[2] == 1 && v[3] == 1 && all <= INT32_MAX &&
		    (r->flat || (r->H == 1 && r->W == 1))) {
			if (r->flat) /* a 1 x 1 map already is (N, C, 1, 1): read through */
				unflatten(r);
			return 0;
		}
		if (batch && k == 4 && !r->flat && (v[1] == r->C || v[1] == -1) && v[2] == r->H && v[3] == r->W)
			return 0; /* a map to its own shape (after a channel shuffle's Transpose) */
		if (batch && k == 5)
			return onnx_read_shuffle(r, n, v, nname, err);
		if (!batch || k != 2 || (v[1] != -1 && v[1] != all))
			return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (Reshape): dcc reshapes to (N, -1), a flatten, or "
					"a vector to (N, C, 1, 1), a map to its own shape, or (N, g, C/g, H, W) for a channel shuffle", nname);
	}
	if (r->flat)
		return 0;
	if (onnx_add_line(r, "flatten flatten%d", ++r->nflat))
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	r->flat = 1;
	r->F = (size_t)r->C * (size_t)r->H * (size_t)r->W;
	/* channels last: ONNX's features are (H, W, C), dcc's (C, H, W); the
	 * Gemm or MatMul that takes them reorders its weight (one pixel: alike) */
	r->hwc_flat = r->nhwc && r->H * r->W > 1 && r->C > 1;
	r->nhwc = 0;
	return 0;
}

/* BatchNormalization in inference mode: a batchnorm layer named from its
 * scale's initializer ("bn1.weight" -> "bn1"), the statistics its
 * tensors; ONNX's momentum m is PyTorch's 1 - m.  dcc fold (and dcc fixed)
 * fold it into the layer before it. */
static int read_batchnorm(onnx_read *r, const node_t *n, const char *nname, dcc_error *err)
{
	if (n->n_input != 5 || onnx_attr_i(n, "training_mode", 0) || n->n_output > 1)
		return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (BatchNormalization): dcc reads it in inference mode "
				"(training_mode 0, one output)", nname);
	size_t C = r->flat ? r->F : (size_t)r->C, cnt[4] = {0};
	float *v[4] = {NULL};
	int rc = 0;
	for (int k = 0; k < 4 && !rc; k++) { /* scale, B, mean, var */
		const tensor_t *t = onnx_init(r, n->input[k + 1]);
		if (!t)
			rc = dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (BatchNormalization): its statistics must be "
				      "initializers", nname);
		else if (!(rc = onnx_tensor_floats(t, &v[k], &cnt[k], err)) && cnt[k] != C)
			rc = dcc_fail(err, DCC_E_SHAPE, "node '%s' (BatchNormalization): %zu values for %zu channels", nname,
				      cnt[k], C);
	}
	float eps = onnx_attr_f(n, "epsilon", 1e-5f), mom = 1 - onnx_attr_f(n, "momentum", 0.9f);
	if (!rc && !(eps > 0 && eps < 1 && mom >= 0 && mom <= 1))
		rc = dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (BatchNormalization): epsilon %g or momentum %g out of range",
			      nname, eps, 1 - mom);
	for (size_t c = 0; !rc && c < C; c++)
		if (!(v[3][c] + eps > 0) || !isfinite(v[0][c]) || !isfinite(v[1][c]) || !isfinite(v[2][c]) || !isfinite(v[3][c]))
			rc = dcc_fail(err, DCC_E_RANGE, "node '%s' (BatchNormalization): channel %zu's statistics are not "
				      "finite or its variance + epsilon is not positive", nname, c);
	char name[DCC_MAX_NAME + 1], nm[DCC_MAX_NAME + 32];
	static const char *const part[4] = {"weight", "bias", "running_mean", "running_var"};
	onnx_layer_name(r, onnx_init(r, n->input[1]) ? onnx_init(r, n->input[1])->name : NULL, "bn", ++r->nbn, name,
			sizeof(name));
	uint64_t shape[1] = {C};
	for (int k = 0; k < 4; k++) {
		snprintf(nm, sizeof(nm), "%s.%s", name, part[k]);
		if (!rc)
			rc = dcc_model_add(r->m, nm, DCC_F32, 0, 0, 1, shape, v[k], err);
		else
			free(v[k]);
		v[k] = NULL;
	}
	if (!rc && onnx_add_line(r, "batchnorm %s eps=%.9g momentum=%.9g", name, eps, mom))
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	return rc;
}

/* Add of two activations (a residual sum) or Concat on the channel axis:
 * a line reading every input by name. */
static int read_join(onnx_read *r, const node_t *n, const char *nname, dcc_error *err)
{
	const char *op = n->op_type;
	int cat = op[0] == 'C', sub = op[0] == 'S', div = op[0] == 'D';
	if (cat && n->n_input == 1 && onnx_value(r, n->input[0]))
		return 0; /* a Concat of one value (torch.cat([x]), densenet's first layer) is that value */
	if (n->n_input < 2 || n->n_input > DCC_NODE_MAX_IN || (!cat && n->n_input != 2))
		return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (%s): dcc reads %s", nname, op,
				cat ? "1 to 32 inputs" : "two inputs");
	int64_t axis = cat ? onnx_attr_i(n, "axis", 1) : 1;
	if (cat && (r->nhwc ? axis != 3 && axis != -1 : axis != 1))
		return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (Concat): dcc joins on the channel axis (%s) only", nname,
				r->nhwc ? "3 of a channels-last map" : "1");
	char from[DCC_GRAPH_LINE - 64], nm[DCC_MAX_NAME + 1];
	size_t k = 0;
	int C = 0;
	size_t F = 0;
	for (size_t i = 0; i < n->n_input; i++) {
		const onnx_val *v = onnx_value(r, n->input[i]);
		if (!v)
			return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (%s): input '%s' is %s", nname, op,
					n->input[i] ? n->input[i] : "", onnx_init(r, n->input[i])
					? "a constant (dcc adds constants only as a MatMul's bias)" : "no value dcc has read");
		if (v->nhwc != r->nhwc)
			return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (%s): '%s' is channels-last and '%s' is not", nname, op,
					v->nhwc ? n->input[i] : n->input[0], v->nhwc ? n->input[0] : n->input[i]);
		if (v->flat != r->flat || (v->flat ? (!cat && v->F != r->F) : v->H != r->H || v->W != r->W || (!cat && v->C != r->C)))
			return dcc_fail(err, DCC_E_SHAPE, "node '%s' (%s): inputs of different shapes ('%s' and '%s')%s", nname, op,
					n->input[0], n->input[i], cat ? "" : " (dcc adds equal shapes, no broadcasting)");
		onnx_line_name(r, v->line, nm, sizeof(nm));
		if (k + strlen(nm) + 2 >= sizeof(from))
			return dcc_fail(err, DCC_E_RANGE, "node '%s' (%s): its inputs' names are too long", nname, op);
		k += (size_t)snprintf(from + k, sizeof(from) - k, "%s%s", i ? "," : "", nm);
		C += v->C, F += v->F;
	}
	int rc = cat ? onnx_add_line(r, "concat cat%d from=%s", ++r->ncat, from)
		 : sub ? onnx_add_line(r, "sub sub%d from=%s", ++r->nsub, from)
		 : div ? onnx_add_line(r, "div div%d from=%s", ++r->ndiv, from)
		       : onnx_add_line(r, "add add%d from=%s", ++r->nadd, from);
	if (rc)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	if (cat && r->flat)
		r->F = F;
	else if (cat)
		r->C = C;
	return 0;
}

/* Mul of two activations: of one shape, or a map (N, C, H, W) and a gate
 * (N, C, 1, 1) (squeeze-excitation's), the map first in dcc's line. */
static int read_mul(onnx_read *r, const node_t *n, const char *nname, dcc_error *err)
{
	const onnx_val *a = n->n_input == 2 ? onnx_value(r, n->input[0]) : NULL;
	const onnx_val *b = a ? onnx_value(r, n->input[1]) : NULL;
	if (!b)
		return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (Mul): its inputs are not two values dcc has read", nname);
	if (a->nhwc != b->nhwc)
		return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (Mul): one input is channels-last and the other is not", nname);
	int same = a->flat == b->flat && (a->flat ? a->F == b->F : a->C == b->C && a->H == b->H && a->W == b->W);
	int gate = !a->flat && !b->flat && a->C == b->C && (b->H * b->W == 1 || a->H * a->W == 1);
	if (!same && !gate)
		return dcc_fail(err, DCC_E_SHAPE, "node '%s' (Mul): inputs of shapes dcc does not multiply ('%s' and '%s'): "
				"one shape, or a map and a (C, 1, 1) gate", nname, n->input[0], n->input[1]);
	int big = !same && a->H * a->W == 1; /* the map first */
	const onnx_val *m = big ? b : a, *g = big ? a : b;
	char na[DCC_MAX_NAME + 1], nb[DCC_MAX_NAME + 1];
	onnx_line_name(r, m->line, na, sizeof(na)), onnx_line_name(r, g->line, nb, sizeof(nb));
	r->C = m->C, r->H = m->H, r->W = m->W, r->flat = m->flat, r->F = m->F;
	return onnx_add_line(r, "mul mul%d from=%s,%s", ++r->nmul, na, nb) ? dcc_fail(err, DCC_E_NOMEM, "out of memory")
									       : 0;
}

/* A constant's values as one per channel (or feature) of the value being
 * read: a scalar, or C values on the channel axis with ones after it
 * ((C, 1, 1), (1, C, 1, 1); (C) on a vector; (C, 1) on an (N, C, L) map).
 * 0, or -1 when the shape broadcasts otherwise. */
static int per_channel(const onnx_read *r, const tensor_t *t, size_t cnt)
{
	size_t C = r->flat ? r->F : (size_t)r->C, k = 0;
	if (cnt == 1)
		return 0;
	if (cnt != C)
		return -1;
	while (k < t->n_dims && t->dims[k] == 1)
		k++;
	size_t after = t->n_dims - k - 1; /* the axes after the channel's, each 1 */
	for (size_t i = k + 1; i < t->n_dims; i++)
		if (t->dims[i] != 1)
			return -1;
	if (r->nhwc) /* (C) or (1, 1, 1, C): ONNX's channel axis is the last */
		return after == 0 ? 0 : -1;
	return r->flat ? (after == 0 ? 0 : -1) : (after == 2 || (after == 1 && r->W == 1)) ? 0 : -1;
}

/* Constant arithmetic on the graph's input, y = x scale + shift, taken
 * into the model's input normalisation (formats/data.md): (x - mean) / std
 * becomes (x - (mean - shift std / scale)) / (std / scale).  1 when taken
 * (every scale positive, one or one per image channel), else 0. */
static int into_norm(onnx_read *r, const node_t *n, int ai, const double *sc, const double *sh, size_t cnt)
{
	size_t uses = 0;
	onnx_consumers(r, n->input[ai], &uses);
	const onnx_val *v = onnx_value(r, n->input[ai]); /* the input, or what an earlier one made of it */
	if (!v || v->line != r->in_line || uses != 1 || (cnt > 1 && (r->flat || r->C < 2)) || cnt > DCC_NORM_MAX)
		return 0;
	for (size_t c = 0; c < cnt; c++)
		if (!(sc[c] > 0) || !isfinite(sc[c]) || !isfinite(sh[c]))
			return 0;
	dcc_norm *nm = &r->norm;
	if (!nm->n)
		for (nm->n = 1, nm->mean[0] = 0, nm->std[0] = 1; nm->n < cnt; nm->n++)
			nm->mean[nm->n] = 0, nm->std[nm->n] = 1;
	for (; nm->n < cnt; nm->n++) /* one pair so far, a pair per channel now */
		nm->mean[nm->n] = nm->mean[0], nm->std[nm->n] = nm->std[0];
	for (size_t c = 0; c < nm->n; c++) {
		size_t j = cnt == 1 ? 0 : c;
		nm->mean[c] -= sh[j] * nm->std[c] / sc[j];
		nm->std[c] /= sc[j];
	}
	return 1;
}

/* Add, Sub, Mul or Div.  Of two activations an Add is a residual sum
 * (read_join); with a constant (an initializer) of one value or one per
 * channel, an affine line (x scale + shift per channel), or on the graph's
 * input the model's input normalisation. */
static int read_arith(onnx_read *r, const node_t *n, const char *nname, dcc_error *err)
{
	const char *op = n->op_type;
	int ci = n->n_input != 2 ? -1 : onnx_init(r, n->input[1]) ? 1 : onnx_init(r, n->input[0]) ? 0 : -1;
	if (ci < 0 && (op[0] == 'A' || op[0] == 'S' || op[0] == 'D'))
		return read_join(r, n, nname, err);
	if (ci < 0 && op[0] == 'M')
		return read_mul(r, n, nname, err);
	if (ci < 0)
		return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (%s): dcc reads %s with a constant (a scalar or one "
				"value per channel), not of two activations (Add, Sub, Mul and Div of two it reads)", nname, op, op);
	float *v = NULL;
	size_t cnt = 0, C = r->flat ? r->F : (size_t)r->C;
	int rc = onnx_tensor_floats(onnx_init(r, n->input[ci]), &v, &cnt, err);
	if (rc)
		return rc;
	if (per_channel(r, onnx_init(r, n->input[ci]), cnt)) {
		free(v);
		return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (%s): its constant '%s' has %zu values; dcc takes one, or "
				"one per channel (shape (C, 1, 1)) of the %zu channels", nname, op, n->input[ci], cnt, C);
	}
	double *sc = malloc(2 * cnt * sizeof(double)), *sh = sc ? sc + cnt : NULL;
	for (size_t c = 0; sc && c < cnt && !rc; c++) {
		double k = v[c];
		int div = op[0] == 'D', sub = op[0] == 'S', mul = op[0] == 'M';
		if (!isfinite(k) || (div && (ci == 0 || k == 0)))
			rc = dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (%s): %s", nname, op, ci == 0 && div
				      ? "a constant divided by an activation (dcc has no reciprocal)"
				      : "its constant is not a finite, nonzero number");
		sc[c] = div ? 1 / k : mul ? k : sub && ci == 0 ? -1 : 1;
		sh[c] = div || mul ? 0 : sub && ci == 1 ? -k : k;
	}
	free(v);
	if (!sc)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	if (rc || into_norm(r, n, 1 - ci, sc, sh, cnt)) {
		free(sc);
		return rc;
	}
	char name[DCC_MAX_NAME + 1], nm[DCC_MAX_NAME + 32];
	size_t uses = 0;
	onnx_consumers(r, r->cur, &uses);
	const node_t *pn = onnx_producer(r, r->cur); /* the arithmetic that made the affine, its output read here alone */
	const char *pop = pn && pn->op_type ? pn->op_type : "";
	if (r->src_line >= 0 && r->src_line + 1 == (int)r->nlines && uses == 1 &&
	    !strncmp(r->lines[r->src_line], "affine ", 7) &&
	    (!strcmp(pop, "Add") || !strcmp(pop, "Sub") || !strcmp(pop, "Mul") || !strcmp(pop, "Div"))) {
		onnx_line_name(r, r->src_line, name, sizeof(name));
		float *f[2];
		for (int k = 0; k < 2; k++) {
			snprintf(nm, sizeof(nm), "%s.%s", name, k ? "shift" : "scale");
			f[k] = dcc_model_find(r->m, nm)->data;
		}
		for (size_t c = 0; c < C; c++) {
			size_t j = cnt == 1 ? 0 : c;
			f[0][c] = (float)(sc[j] * f[0][c]), f[1][c] = (float)(sc[j] * f[1][c] + sh[j]);
		}
		free(sc);
		return 0;
	}
	snprintf(name, sizeof(name), "affine%d", ++r->naff);
	uint64_t shape[1] = {C};
	for (int k = 0; k < 2 && !rc; k++) {
		float *f = malloc(C * sizeof(float));
		for (size_t c = 0; f && c < C; c++)
			f[c] = (float)(k ? sh : sc)[cnt == 1 ? 0 : c];
		snprintf(nm, sizeof(nm), "%s.%s", name, k ? "shift" : "scale");
		rc = f ? dcc_model_add(r->m, nm, DCC_F32, 0, 0, 1, shape, f, err) : dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	free(sc);
	if (!rc && onnx_add_line(r, "affine %s", name))
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	return rc;
}

/* Clip (ReLU6): its bounds from the inputs min and max (constants) or,
 * before opset 11, from the attributes. */
static int read_clip(onnx_read *r, const node_t *n, const char *nname, dcc_error *err)
{
	float b[2] = {onnx_attr_f(n, "min", -INFINITY), onnx_attr_f(n, "max", INFINITY)};
	for (size_t i = 1; i < 3 && i < n->n_input; i++) {
		if (!n->input[i] || !n->input[i][0])
			continue;
		const tensor_t *t = onnx_init(r, n->input[i]);
		float *v = NULL;
		size_t cnt = 0;
		int rc = t ? onnx_tensor_floats(t, &v, &cnt, err) : 0;
		if (rc)
			return rc;
		if (!t || cnt != 1 || isnan(v[0])) {
			free(v);
			return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (Clip): its %s must be a constant number", nname,
					i == 1 ? "min" : "max");
		}
		b[i - 1] = v[0];
		free(v);
	}
	if (!(b[0] <= b[1]))
		return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (Clip): min %g is above max %g", nname, b[0], b[1]);
	return onnx_add_line(r, "clip clip%d min=%.9g max=%.9g", ++r->nclip, b[0], b[1])
		       ? dcc_fail(err, DCC_E_NOMEM, "out of memory") : 0;
}

/* Unsqueeze of a vector on axes 2 and 3 (y[:, :, None, None]), Squeeze of a
 * 1 x 1 map on them (a flatten), Expand of a (N, C, 1, 1) gate to its map
 * (expand_as: the gate itself, which a mul broadcasts). */
static int read_squeeze(onnx_read *r, const node_t *n, const char *nname, dcc_error *err)
{
	const char *op = n->op_type;
	int64_t v[8];
	int k = n->n_input > 1 ? onnx_shape_ints(r, n->input[1], v) : onnx_node_ints(r, n, 1, "axes", v);
	int hw = k == 2 && (v[0] == 2 || v[0] == -2) && (v[1] == 3 || v[1] == -1);
	if (op[0] == 'U' && k == 1 && v[0] == 3 && r->unsq_out && !strcmp(n->input[0], r->unsq_out)) {
		r->unsq_out = NULL; /* (N, C, 1) to (N, C, 1, 1): the map it already is */
		return 0;
	}
	size_t uses = 0;
	const uint32_t *cons = onnx_consumers(r, n->output[0], &uses);
	const node_t *next = uses == 1 ? r->g->node[cons[0] >> 8] : NULL;
	int64_t nx[8];
	if (op[0] == 'U' && k == 1 && v[0] == 2 && r->flat && next && next->op_type && !strcmp(next->op_type, "Unsqueeze") &&
	    (next->n_input > 1 ? onnx_shape_ints(r, next->input[1], nx) : onnx_node_ints(r, next, 1, "axes", nx)) == 1 &&
	    nx[0] == 3)
		r->unsq_out = n->output[0], hw = 1; /* y[:, :, None, None]: axis 2, then 3 */
	if (op[0] == 'U' && hw && r->flat && r->F <= INT32_MAX) {
		unflatten(r);
		return 0;
	}
	if (op[0] == 'S' && hw && !r->flat && r->H == 1 && r->W == 1)
		return read_flatten(r, n, nname, err);
	if (op[0] == 'E' && !r->flat && r->H == 1 && r->W == 1 && k == 4 && v[1] == r->C)
		return 0;
	return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (%s): dcc reads %s", nname, op,
			op[0] == 'U' ? "Unsqueeze of a vector (N, C) on axes 2 and 3"
			: op[0] == 'S' ? "Squeeze of a (N, C, 1, 1) map on axes 2 and 3"
				       : "Expand of a (N, C, 1, 1) gate to a map of its channels (for a Mul)");
}

/* Pad with zeros: of nothing, the value it reads; of p on each side of H
 * and W before an AveragePool that alone reads it (torch.onnx.export's
 * AvgPool2d with count_include_pad), that pool's padding, counted; of any
 * top, left, bottom, right before a Conv that alone reads it (ZeroPad2d,
 * tf2onnx's explicit padding), that Conv's pads. */
static int read_pad(onnx_read *r, const node_t *n, const char *nname, dcc_error *err)
{
	int64_t v[8];
	const Onnx__AttributeProto *mode = onnx_attr(n, "mode");
	int k = onnx_node_ints(r, n, 1, "pads", v), zero = k > 0, sym = k == 8 && !r->flat, hw = sym;
	for (int i = 0; i < k; i++)
		zero &= v[i] == 0;
	for (int i = 0; hw && i < 8; i++) /* (N, C, H, W) begins then ends: only H and W */
		hw = (i % 4 < 2) ? v[i] == 0 : v[i] >= 0 && v[i] <= 65535;
	for (int i = 0; sym && i < 8; i++) /* ... all alike */
		sym = (i % 4 < 2) ? v[i] == 0 : v[i] == v[2] && v[i] > 0 && v[i] <= 63;
	const tensor_t *cv = n->n_input > 2 && n->input[2] && n->input[2][0] ? onnx_init(r, n->input[2]) : NULL;
	float *f = NULL;
	size_t cnt = 0;
	int zval = !cv || (!onnx_tensor_floats(cv, &f, &cnt, err) && cnt == 1 && f[0] == 0);
	free(f);
	size_t uses = 0;
	const uint32_t *cons = onnx_consumers(r, n->output[0], &uses);
	const node_t *next = uses == 1 ? r->g->node[cons[0] >> 8] : NULL;
	int pool = sym && next && next->op_type && !strcmp(next->op_type, "AveragePool");
	int conv = hw && next && next->op_type && !strcmp(next->op_type, "Conv") && next->n_input > 0 &&
		   !strcmp(next->input[0], n->output[0]);
	if (!zval || (!zero && !pool && !conv) ||
	    (mode && mode->has_s && !(mode->s.len == 8 && !memcmp(mode->s.data, "constant", 8))))
		return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (Pad): dcc reads a Pad of zeros of nothing, of H and W "
				"alike before the AveragePool that alone reads it, or of H and W before the Conv that alone "
				"reads it", nname);
	if (!zero) {
		r->pad_out = n->output[0], r->pad_conv = conv && !pool;
		if (r->pad_conv) {
			r->cpad[0] = (int)v[2], r->cpad[1] = (int)v[3], r->cpad[2] = (int)v[6], r->cpad[3] = (int)v[7];
		} else {
			r->pad = (int)v[2];
			r->H += 2 * r->pad, r->W += 2 * r->pad;
		}
	}
	return 0;
}

static int read_nothing(onnx_read *r, const node_t *n, const char *nname, dcc_error *err)
{
	(void)r, (void)n, (void)nname, (void)err;
	return 0; /* Identity, Dropout: nothing at inference */
}

/* a final Softmax is the loss's: the logits stay the output */
static int read_softmax(onnx_read *r, const node_t *n, const char *nname, dcc_error *err)
{
	if (r->k + 1 != r->g->n_node)
		return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (%s): dcc reads a Softmax as the network's last node "
				"(its head)", nname, n->op_type);
	int64_t axis = onnx_attr_i(n, "axis", 1); /* on (N, F), 1 and -1 are the same axis */
	if (!r->flat || (axis != 1 && axis != -1))
		return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (%s): dcc's head takes it over a vector of logits "
				"(N, classes), axis 1", nname, n->op_type);
	r->last_fc = r->classes > 0;
	return 0;
}

static const struct {
	const char *op;
	op_reader read;
} readers[] = {
	{"Gemm", read_gemm},       {"MatMul", read_gemm},     {"Conv", read_conv},      {"MaxPool", read_pool},
	{"AveragePool", read_pool}, {"Relu", read_relu},      {"Sigmoid", read_act},    {"Tanh", read_act},
	{"Flatten", read_flatten}, {"Reshape", read_flatten}, {"Identity", read_nothing}, {"Dropout", read_nothing},
	{"Softmax", read_softmax}, {"LogSoftmax", read_softmax}, {"BatchNormalization", read_batchnorm},
	{"GlobalAveragePool", read_gap}, {"Add", read_arith},  {"Concat", read_join},    {"Clip", read_clip},
	{"Sub", read_arith},       {"Mul", read_arith},       {"Div", read_arith},       {"Max", read_maxmin},
	{"Min", read_maxmin},      {"ReduceMean", read_reduce_mean}, {"Pad", read_pad}, {"Unsqueeze", read_squeeze},
	{"Squeeze", read_squeeze}, {"Expand", read_squeeze}, {"Slice", onnx_read_slice}, {"Split", onnx_read_split},
	{"Transpose", onnx_read_transpose},
	{"LeakyRelu", read_leaky}, {"HardSigmoid", read_hard}, {"HardSwish", read_hard},
};

/* ---- the graph ---- */

/* The node reads the value the graph is at (the row LSTM allows only its
 * own operators in between). */
static int check_input(onnx_read *r, const node_t *n, const char *op, const char *nname, dcc_error *err)
{
	if (r->seq == 3 && r->ycur && n->n_input && n->input[0] && !strcmp(n->input[0], r->ycur))
		r->seq = 4, r->cur = r->ycur; /* Y (T, 1, N, H) rather than Y_h */
	int seq = r->seq;
	if (n->n_input && n->n_output && n->input[0] && n->output[0] && !strcmp(n->input[0], r->cur) &&
	    !(seq && seq < 3 && strcmp(op, "Transpose") && strcmp(op, "LSTM")) &&
	    !(seq >= 3 && strcmp(op, "Squeeze") && strcmp(op, "Reshape") && strcmp(op, "Gather") && strcmp(op, "Transpose")))
		return 0;
	if (seq && n->n_input && n->input[0] && !strcmp(n->input[0], r->cur))
		return dcc_fail(err, DCC_E_UNSUPPORTED,
				"node '%s' (%s): around an LSTM dcc reads Reshape/Squeeze to (N, T, F), Transpose, "
				"LSTM, then its Y_h through Squeeze, Gather or Reshape (or its Y through Squeeze, "
				"Transpose and a Gather of the last step)", nname, op);
	return dcc_fail(err, DCC_E_UNSUPPORTED,
			"node '%s' (%s): dcc reads sequential graphs; its input is not the previous node's output", nname, op);
}

/* The value a node reads (its first input) and its shape, from what has
 * been read: any earlier value, so the graph may branch and join. */
static int take_input(onnx_read *r, const node_t *n, const char *op, const char *nname, dcc_error *err)
{
	if (!n->n_input || !n->input[0] || !n->n_output || !n->output[0])
		return dcc_fail(err, DCC_E_FORMAT, "node '%s' (%s) has no input or no output", nname, op);
	/* a constant first (2 x, 1 - x): the activation is the second */
	int second = n->n_input == 2 && n->input[1] && onnx_init(r, n->input[0]) && onnx_value(r, n->input[1]) &&
		     (!strcmp(op, "Add") || !strcmp(op, "Sub") || !strcmp(op, "Mul") || !strcmp(op, "Div") ||
		      !strcmp(op, "Max") || !strcmp(op, "Min"));
	const onnx_val *v = onnx_value(r, n->input[second]);
	if (!v)
		return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (%s): its input '%s' is no value dcc has read (an "
				"initializer, or made by a node it did not read)", nname, op, n->input[second]);
	r->cur = n->input[second];
	r->C = v->C, r->H = v->H, r->W = v->W, r->flat = v->flat, r->F = v->F;
	r->nhwc = v->nhwc, r->hwc_flat = v->hwc_flat;
	r->src_line = v->line;
	return 0;
}

/* Is op one that a channels-last value (nhwc) or a vector flattened from
 * one (hwc_flat) may pass through: element-wise, the Transposes and
 * flattens that move the layout, the joins (which check their inputs),
 * and for a flattened vector the Gemm or MatMul that takes it in dcc's
 * order? */
static int layout_free(const char *op, int flat)
{
	static const char *const unary[] = {"Relu", "LeakyRelu", "Sigmoid", "Tanh", "Clip", "HardSigmoid",
					    "HardSwish", "Identity", "Dropout"};
	static const char *const map[] = {"Transpose", "Flatten", "Reshape", "Add", "Sub", "Mul", "Div", "Max", "Min",
					  "Concat", "MatMul"};
	static const char *const vec[] = {"Gemm", "MatMul"};
	for (size_t i = 0; i < sizeof(unary) / sizeof(unary[0]); i++)
		if (!strcmp(op, unary[i]))
			return 1;
	for (size_t i = 0; !flat && i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(op, map[i]))
			return 1;
	for (size_t i = 0; flat && i < sizeof(vec) / sizeof(vec[0]); i++)
		if (!strcmp(op, vec[i]))
			return 1;
	return 0;
}

void onnx_note_value(onnx_read *r, const char *name, int line)
{
	size_t s = name && name[0] ? slot_of(&r->ix, name, 0) : SIZE_MAX;
	if (s == SIZE_MAX)
		return;
	onnx_val *v = &r->val[s];
	v->known = 1;
	v->line = line;
	v->C = r->C, v->H = r->H, v->W = r->W, v->flat = r->flat, v->F = r->F;
	v->nhwc = r->nhwc, v->hwc_flat = r->hwc_flat;
}

/* The node's output as a value: the last line it added, or (a node that
 * adds none: Identity, Dropout, a final Softmax) the value it read. */
static void note_output(onnx_read *r, size_t lines0)
{
	onnx_note_value(r, r->next_out, r->nlines > lines0 ? (int)r->nlines - 1 : r->src_line);
}

static int read_node(onnx_read *r, const node_t *n, dcc_error *err)
{
	const char *op = n->op_type ? n->op_type : "?", *nname = n->name && n->name[0] ? n->name : op;
	int rc = r->seq ? check_input(r, n, op, nname, err) : take_input(r, n, op, nname, err);
	if (rc)
		return rc;
	if ((r->nhwc || r->hwc_flat) && !layout_free(op, r->hwc_flat))
		return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (%s) reads '%s', %s (N, H, W, C) map: dcc folds NHWC "
				"Transposes where they cancel, with only element-wise nodes%s between them", nname, op, r->cur,
				r->hwc_flat ? "a vector flattened from a channels-last" : "a channels-last",
				r->hwc_flat ? " or a Gemm/MatMul after a flatten" : "");
	size_t lines0 = r->nlines;
	if (r->seq)
		r->src_line = (int)r->nlines - 1;
	r->next_out = n->output[0];
	r->last_fc = 0;
	int found = (rc = onnx_lstm_node(r, n, nname, err)) != 0; /* 1: read as the row LSTM's */
	for (size_t i = 0; i < sizeof(readers) / sizeof(readers[0]) && !found; i++)
		if (!strcmp(op, readers[i].op))
			found = 1, rc = readers[i].read(r, n, nname, err);
	if (!found)
		return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (%s): operator not supported by dcc (supported: Gemm, "
				"MatMul+Add, Conv (with groups), BatchNormalization, Add, Sub, Mul, Div and Concat of activations, Add, "
				"Sub, Mul and Div by a constant, Max and Min with a constant, ReduceMean over H and W, Relu, LeakyRelu, HardSigmoid, HardSwish, Clip, Sigmoid, Tanh, MaxPool, AveragePool, GlobalAveragePool, Flatten, "
				"Reshape, Identity, Dropout, a Pad of nothing, a final Softmax)", nname, op);
	if (rc < 0)
		return rc;
	note_output(r, lines0);
	return 0;
}

/* The graph input: the first that is not an initializer, (N, C, H, W),
 * (N, C, L) (a map of L x 1) or (N, F); an (N, F) input is an image of F
 * pixels (square when it can be) behind a flatten. */
static int read_input(onnx_read *r, int64_t ishape[3], dcc_error *err)
{
	const Onnx__GraphProto *g = r->g;
	const Onnx__ValueInfoProto *in = NULL;
	for (size_t i = 0; i < g->n_input && !in; i++)
		if (!onnx_init(r, g->input[i]->name))
			in = g->input[i];
	if (!in || !in->name || !in->type || in->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
	    !in->type->tensor_type || !in->type->tensor_type->shape)
		return dcc_fail(err, DCC_E_FORMAT, "ONNX graph input has no tensor shape");
	if (in->type->tensor_type->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
		return dcc_fail(err, DCC_E_UNSUPPORTED, "ONNX input '%s' is not float32 (dcc's networks take float32 inputs)",
				in->name);
	const Onnx__TensorShapeProto *sh = in->type->tensor_type->shape;
	int64_t dims[4] = {0};
	if (sh->n_dim < 2 || sh->n_dim > 4)
		return dcc_fail(err, DCC_E_UNSUPPORTED, "ONNX input '%s' has %zu dimensions (dcc takes (N, C, H, W), "
				"(N, C, L) or (N, F))", in->name, sh->n_dim);
	for (size_t i = 1; i < sh->n_dim; i++) {
		if (sh->dim[i]->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE || sh->dim[i]->dim_value < 1 ||
		    sh->dim[i]->dim_value > 1000000)
			return dcc_fail(err, DCC_E_FORMAT, "ONNX input '%s': dimension %zu is not a fixed size", in->name, i);
		dims[i] = sh->dim[i]->dim_value;
	}
	r->cur = in->name;
	r->in_rank = (int)sh->n_dim;
	if (sh->n_dim >= 3) {
		r->C = (int)dims[1], r->H = (int)dims[2], r->W = sh->n_dim == 4 ? (int)dims[3] : 1;
		ishape[0] = r->C, ishape[1] = r->H, ishape[2] = r->W;
		return 0;
	}
	int s = (int)lround(sqrt((double)dims[1]));
	r->C = 1, r->H = s * s == dims[1] ? s : 1, r->W = s * s == dims[1] ? s : (int)dims[1];
	r->flat = 1;
	r->F = (size_t)dims[1];
	ishape[0] = 1, ishape[1] = r->H, ishape[2] = r->W;
	return onnx_add_line(r, "flatten flatten%d", ++r->nflat) ? dcc_fail(err, DCC_E_NOMEM, "out of memory") : 0;
}

/* Constant nodes' tensors (torch.onnx.export writes shapes, axes and
 * indices so) join the initializers under their output names while the
 * graph is read; restore() puts everything back before it is freed. */
typedef struct consts {
	Onnx__GraphProto *g;
	size_t orig_ni, n;
	tensor_t **orig, **ext;
	char **old_names;
	tensor_t *alias; /* Identity of an initializer: a copy under the output's name */
	size_t nalias;
} consts;

/* An Identity whose input is an initializer (torch.onnx.export writes one
 * where two parameters hold equal values): that initializer's index (its
 * output is the same tensor), else -1. */
static int32_t const_identity(const node_t *n, onnx_index *names)
{
	if (!n->op_type || strcmp(n->op_type, "Identity") || n->n_input != 1 || n->n_output != 1 || !n->input[0] ||
	    !n->output[0])
		return -1;
	size_t i = slot_of(names, n->input[0], 0);
	return i == SIZE_MAX ? -1 : names->init[i];
}

static int add_consts(consts *c, Onnx__GraphProto *g)
{
	memset(c, 0, sizeof(*c));
	c->g = g, c->orig_ni = g->n_initializer, c->orig = g->initializer;
	if (!(c->ext = malloc((c->orig_ni + g->n_node + 1) * sizeof(*c->ext))) ||
	    !(c->old_names = malloc((g->n_node + 1) * sizeof(char *))))
		return DCC_E_NOMEM;
	if (c->orig_ni)
		memcpy(c->ext, c->orig, c->orig_ni * sizeof(*c->ext));
	/* the initializers' names, hashed: a node's Identity of one is looked up in O(1) */
	onnx_index names = {0};
	size_t cap = 16;
	while (cap < 2 * (c->orig_ni + 1))
		cap *= 2;
	names.cap = cap;
	names.key = calloc(cap, sizeof(char *)), names.init = calloc(cap, sizeof(int32_t));
	names.prod = calloc(cap, sizeof(int32_t));
	c->alias = calloc(g->n_node + 1, sizeof(tensor_t));
	if (!names.key || !names.init || !names.prod || !c->alias) {
		index_free(&names);
		return DCC_E_NOMEM;
	}
	for (size_t i = 0; i < c->orig_ni; i++)
		if (c->orig[i]->name)
			names.init[slot_of(&names, c->orig[i]->name, 1)] = (int32_t)i;
	int32_t ix;
	for (size_t k = 0; k < g->n_node; k++) {
		const node_t *n = g->node[k];
		const Onnx__AttributeProto *a = n->op_type && !strcmp(n->op_type, "Constant") ? onnx_attr(n, "value") : NULL;
		if (a && a->t && n->n_output && n->output[0]) {
			c->old_names[c->n] = a->t->name;
			a->t->name = n->output[0];
			c->ext[c->orig_ni + c->n++] = a->t;
		} else if ((ix = const_identity(n, &names)) >= 0) {
			tensor_t *t = &c->alias[c->nalias++];
			*t = *c->orig[ix]; /* shares the data; freed with nothing */
			t->name = n->output[0];
			c->ext[c->orig_ni + c->n] = t;
			c->old_names[c->n++] = t->name; /* restored to itself: a copy */
		}
	}
	index_free(&names);
	g->initializer = c->ext, g->n_initializer = c->orig_ni + c->n;
	return 0;
}

static void restore(consts *c)
{
	for (size_t i = 0; i < c->n; i++)
		c->ext[c->orig_ni + i]->name = c->old_names[i];
	if (c->g)
		c->g->initializer = c->orig, c->g->n_initializer = c->orig_ni;
	free(c->ext), free(c->old_names), free(c->alias);
}

/* The dcc line that gives the graph's output, and the outputs per sample:
 * a vector, or a map that a flatten line makes one (dcc run's outputs are
 * then the map in ONNX's (C, H, W) order, each sample a row). */
static int read_output(onnx_read *r, dcc_error *err)
{
	const Onnx__GraphProto *g = r->g;
	const char *name = g->n_output && g->output[0] && g->output[0]->name ? g->output[0]->name : NULL;
	const onnx_val *v = onnx_value(r, name);
	if (!v)
		return dcc_fail(err, DCC_E_UNSUPPORTED, "the ONNX graph's output%s%s%s is no value dcc has read",
				name ? " '" : "", name ? name : "", name ? "'" : "");
	size_t F = v->flat ? v->F : (size_t)v->C * (size_t)v->H * (size_t)v->W;
	if (v->hwc_flat || (v->nhwc && v->H * v->W > 1 && v->C > 1))
		return dcc_fail(err, DCC_E_UNSUPPORTED, "the ONNX graph's output '%s' is a channels-last map%s: dcc gives "
				"maps in (C, H, W) order", name, v->hwc_flat ? ", flattened" : "");
	if (F < 1 || F > 65536)
		return dcc_fail(err, DCC_E_UNSUPPORTED, "the ONNX graph's output '%s' has %zu values a sample (dcc takes 1 "
				"to 65536)", name, F);
	r->classes = (int)F;
	r->src_line = v->line;
	if (v->flat || v->H * v->W == 1)
		return 0;
	return onnx_add_line(r, "flatten flatten%d", ++r->nflat) ? dcc_fail(err, DCC_E_NOMEM, "out of memory") : 0;
}

/* A node none of whose outputs is read by a node or is the graph's output
 * (the first: the one dcc gives): what it computes is not needed. */
static int dead(const onnx_read *r, const node_t *n)
{
	const Onnx__GraphProto *g = r->g;
	const char *out = g->n_output && g->output[0] && g->output[0]->name ? g->output[0]->name : "";
	for (size_t o = 0; o < n->n_output; o++) {
		size_t nc = 0;
		if (!n->output[o] || !n->output[o][0])
			continue;
		onnx_consumers(r, n->output[o], &nc);
		if (nc || !strcmp(out, n->output[o]))
			return 0;
	}
	return 1;
}

static int read_graph(onnx_read *r, dcc_error *err)
{
	int64_t ishape[3];
	r->src_line = -1;
	int rc = read_input(r, ishape, err);
	if (!rc) { /* the input is a value: a flattened one is the flatten line's */
		onnx_val *v = &r->val[slot_of(&r->ix, r->cur, 1)];
		v->known = 1, v->line = r->in_line = (int)r->nlines - 1;
		v->C = r->C, v->H = r->H, v->W = r->W, v->flat = r->flat, v->F = r->F;
		r->in_name = r->cur, r->ishape = ishape;
	}
	for (r->k = 0; r->k < r->g->n_node && !rc; r->k++) {
		const node_t *n = r->g->node[r->k];
		if (n->op_type && (!strcmp(n->op_type, "Constant") || (!strcmp(n->op_type, "Identity") && n->n_input == 1 &&
									n->input[0] && onnx_init(r, n->input[0]))))
			continue; /* read through the initializers (an Identity of one is its alias) */
		if (const_transpose(r, n))
			continue; /* a MatMul's transposed weight: read by the MatMul */
		if (onnx_lstm_side_chain(r, r->k) || dead(r, n) || onnx_shape_node(r, n))
			continue; /* the LSTM's zero states; a node whose outputs nothing reads; shape arithmetic */
		if (!(rc = read_node(r, n, err)))
			r->cur = r->next_out;
	}
	if (!rc)
		rc = read_output(r, err);
	char line[64];
	snprintf(line, sizeof(line), "onnx unnamed=%d", r->unnamed); /* dcc export says what that means */
	if (!rc && r->unnamed)
		rc = dcc_model_append_str(r->m, "dcc.provenance", line, err);
	if (!rc && r->in_nhwc) /* dcc import says what that means */
		rc = dcc_model_append_str(r->m, "dcc.provenance", "onnx input=nhwc", err);
	if (!rc && r->classes == 1 && !r->bce)
		rc = dcc_fail(err, DCC_E_UNSUPPORTED, "the ONNX graph ends in one output without a Sigmoid: dcc reads a "
			      "one-output network as a sigmoid (bce) head; add the Sigmoid, or give it two outputs");
	if (!rc && onnx_add_line(r, r->bce ? "bce loss" : "softmax_ce loss"))
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	if (!rc && !(rc = dcc_model_set_arr_str(r->m, "dcc.graph", (const char *const *)r->lines, r->nlines, err)) &&
	    !(rc = dcc_model_set_arr_i64(r->m, "dcc.input_shape", ishape, 3, err)) && !(rc = dcc_norm_set(r->m, &r->norm, err)) &&
	    !(rc = dcc_model_set_i64(r->m, "dcc.classes", r->classes, err)))
		rc = dcc_model_set_str(r->m, "dcc.net", "onnx", err);
	dcc_graph *gr = NULL; /* what was read is a graph dcc runs, or one line saying why not */
	if (!rc)
		rc = dcc_graph_read(r->m, &gr, err);
	dcc_graph_free(gr);
	return rc;
}

int dcc_onnx_read_mem(const uint8_t *buf, size_t len, dcc_model **out, dcc_error *err)
{
	*out = NULL;
	if (pb_walk(&onnx__model_proto__descriptor, buf, buf + len, 0))
		return dcc_fail(err, DCC_E_FORMAT, "not an ONNX model (the protobuf does not parse, or nests more than %d "
				"deep)", PB_MAX_DEPTH);
	Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, buf);
	if (!mp)
		return dcc_fail(err, DCC_E_FORMAT, "not an ONNX model (the protobuf does not parse)");
	onnx_read r = {0};
	consts cs = {0};
	int rc = 0;
	Onnx__GraphProto *g = mp->graph;
	if (!g || !g->n_node)
		rc = dcc_fail(err, DCC_E_FORMAT, "ONNX model without a graph");
	else if (g->n_node >= (1u << 24))
		rc = dcc_fail(err, DCC_E_RANGE, "ONNX graph of %zu nodes (at most 2^24)", g->n_node);
	onnx_memo memo = {0};
	r.memo = &memo;
	if (!rc && (!(memo.side = calloc(g->n_node + 1, 1)) || !(memo.shape = calloc(g->n_node + 1, sizeof(int32_t))) ||
		    add_consts(&cs, g) || index_build(&r.ix, (r.g = g)) || !(r.val = calloc(r.ix.cap, sizeof(onnx_val))) ||
		    !(r.m = dcc_model_new())))
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	if (!rc)
		rc = read_graph(&r, err);
	for (size_t i = 0; i < r.nlines; i++)
		free(r.lines[i]);
	free(r.lines);
	index_free(&r.ix);
	free(r.val);
	free(memo.side), free(memo.shape), free(memo.vals);
	restore(&cs);
	onnx__model_proto__free_unpacked(mp, NULL);
	if (rc) {
		dcc_model_free(r.m);
		return rc;
	}
	r.m->has_data = 1;
	*out = r.m;
	return 0;
}
