/* onnx_lstm.c: the row LSTM as torch.onnx.export writes it
 * (formats/onnx.md): the image reshaped (or squeezed) to (N, T, F), maybe
 * transposed time-major, one forward LSTM, then its last hidden state Y_h
 * (1, N, H) squeezed, gathered or reshaped to (N, H) -- or its Y squeezed,
 * transposed and the last step gathered.  Its zero initial states come
 * from a side chain of Shape/Gather/.../ConstantOfShape nodes, skipped. */
#include <stdlib.h>
#include <string.h>

#include "onnx_io.h"

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

static int side_walk(const onnx_read *r, const node_t *n, int depth);

/* Does node k feed only an LSTM's initial states (initial_h, initial_c:
 * its inputs 5 and 6) through side ops?  Each node's answer is kept
 * (r->memo), so a chain that branches and joins is walked once, each node
 * in O(degree) by the consumers index. */
static int side_chain(const onnx_read *r, size_t k, int depth)
{
	const node_t *n = r->g->node[k];
	if (r->memo->side[k])
		return r->memo->side[k] == 1;
	if (!side_op(n->op_type) || depth > 64)
		return 0;
	int yes = side_walk(r, n, depth);
	r->memo->side[k] = yes ? 1 : 2;
	return yes;
}

static int side_walk(const onnx_read *r, const node_t *n, int depth)
{
	size_t used = 0; /* a node nothing reads (the graph's output) is no LSTM's state */
	for (size_t o = 0; o < n->n_output; o++) {
		if (!n->output[o] || !n->output[o][0])
			continue;
		size_t nc;
		const uint32_t *cs = onnx_consumers(r, n->output[o], &nc);
		used += nc;
		for (size_t j = 0; j < nc; j++) {
			const node_t *c = r->g->node[cs[j] >> 8];
			unsigned slot = cs[j] & 255;
			if (!((c->op_type && !strcmp(c->op_type, "LSTM") && slot >= 5) || side_chain(r, cs[j] >> 8, depth + 1)))
				return 0;
		}
	}
	return used > 0;
}

int onnx_lstm_side_chain(const onnx_read *r, size_t k)
{
	return side_chain(r, k, 0);
}

/* An LSTM initial state that is zero: a ConstantOfShape of 0 (its default). */
static int zero_state(const onnx_read *r, const char *name)
{
	const node_t *c = onnx_producer(r, name);
	if (!c || !c->op_type || strcmp(c->op_type, "ConstantOfShape"))
		return 0;
	const Onnx__AttributeProto *a = onnx_attr(c, "value");
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

/* Y (T, 1, N, H): squeezed, maybe transposed, the last step gathered. */
static int read_y(onnx_read *r, const node_t *n, const char *op, const char *nname, dcc_error *err)
{
	int64_t v[8];
	int nv = onnx_node_ints(r, n, 1, "axes", v), ok = 0;
	const Onnx__AttributeProto *pa = onnx_attr(n, "perm");
	const tensor_t *ti = n->n_input > 1 ? onnx_init(r, n->input[1]) : NULL;
	if (r->seq == 4 && !strcmp(op, "Squeeze") && nv == 1 && v[0] == 1)
		ok = 1, r->seq = 5;
	else if (r->seq == 5 && !strcmp(op, "Transpose") && pa && pa->n_ints == 3 && pa->ints[0] == 1 && pa->ints[1] == 0 &&
		 pa->ints[2] == 2)
		ok = 1, r->seq = 6;
	else if ((r->seq == 5 || r->seq == 6) && !strcmp(op, "Gather") && onnx_attr_i(n, "axis", 0) == r->seq - 5 && ti &&
		 ti->n_dims == 0 && onnx_tensor_i64(ti, v) == 1 && (v[0] == -1 || v[0] == r->T - 1))
		ok = 1, r->seq = 0, r->flat = 1, r->F = (size_t)r->Hs;
	if (!ok)
		return dcc_fail(err, DCC_E_UNSUPPORTED,
				"node '%s' (%s): dcc reads an LSTM's Y as Squeeze (axis 1), [Transpose (1, 0, 2)] and a "
				"Gather of the last step", nname, op);
	return 1;
}

/* The last hidden state (1, N, H) to (N, H). */
static int read_yh(onnx_read *r, const node_t *n, const char *op, const char *nname, dcc_error *err)
{
	int64_t v[8];
	int nv = onnx_node_ints(r, n, 1, op[0] == 'G' ? "indices" : op[0] == 'R' ? "shape" : "axes", v);
	int ok = op[0] == 'S' ? (nv == 1 && v[0] == 0)
		 : op[0] == 'G' ? (onnx_attr_i(n, "axis", 0) == 0 && nv == 1 && (v[0] == 0 || v[0] == -1) && n->n_input > 1 &&
				   onnx_init(r, n->input[1]) && onnx_init(r, n->input[1])->n_dims == 0)
				: (nv == 2 && (v[0] == -1 || v[0] == 0) && v[1] == r->Hs);
	if (!ok)
		return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (%s): the LSTM's Y_h (1, N, %d) must become (N, %d)", nname,
				op, r->Hs, r->Hs);
	r->seq = 0, r->flat = 1, r->F = (size_t)r->Hs;
	return 1;
}

/* torch.onnx.export names the node after its module ("/lstm/LSTM"): the
 * module path is the layer's name, so the state_dict names
 * (lstm.weight_ih_l0) come back; else lstmN. */
static void lstm_name(onnx_read *r, const node_t *n, char *name, size_t cap)
{
	char nm[DCC_MAX_NAME + 32];
	name[0] = 0;
	const char *nn0 = n->name, *last = nn0 ? strrchr(nn0, '/') : NULL;
	if (nn0 && nn0[0] == '/' && last && last > nn0 + 1 && (size_t)(last - nn0) < cap) {
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
		if (!okn || dcc_model_find(r->m, nm))
			name[0] = 0;
	}
	++r->nact;
	if (!name[0])
		snprintf(name, cap, "lstm%d", r->nact);
}

static int read_lstm(onnx_read *r, const node_t *n, const char *nname, dcc_error *err)
{
	int Hh = (int)onnx_attr_i(n, "hidden_size", 0), layout = (int)onnx_attr_i(n, "layout", 0), rc = 0;
	const Onnx__AttributeProto *dir = onnx_attr(n, "direction");
	const tensor_t *tW = n->n_input > 1 ? onnx_init(r, n->input[1]) : NULL;
	const tensor_t *tR = n->n_input > 2 ? onnx_init(r, n->input[2]) : NULL;
	const tensor_t *tB = n->n_input > 3 && n->input[3][0] ? onnx_init(r, n->input[3]) : NULL;
	int extra = 0; /* sequence_lens, peepholes: none; initial states zero */
	for (size_t j = 4; j < n->n_input; j++)
		extra |= n->input[j] && n->input[j][0] && ((j != 5 && j != 6) || !zero_state(r, n->input[j]));
	if (Hh < 1 || Hh > 65536 || (r->seq == 2) != (layout == 0) || extra || onnx_attr(n, "activations") ||
	    onnx_attr(n, "clip") || onnx_attr_i(n, "input_forget", 0) ||
	    (dir && (!dir->has_s || dir->s.len != 7 || memcmp(dir->s.data, "forward", 7))) || n->n_output < 2 || !tW ||
	    !tR || tW->n_dims != 3 || tR->n_dims != 3 || tW->dims[0] != 1 || tW->dims[1] != 4 * (int64_t)Hh ||
	    tW->dims[2] != r->Fs || tR->dims[0] != 1 || tR->dims[1] != 4 * (int64_t)Hh || tR->dims[2] != Hh ||
	    (n->n_input > 3 && n->input[3] && n->input[3][0] && !tB) ||
	    (tB && (tB->n_dims != 2 || tB->dims[0] != 1 || tB->dims[1] != 8 * (int64_t)Hh)))
		return dcc_fail(err, DCC_E_UNSUPPORTED,
				"node '%s' (LSTM): dcc reads one forward layer, W, R (and B) initializers of %d-feature "
				"steps, no sequence_lens, peepholes, clip or custom activations, zero initial states",
				nname, r->Fs);
	float *wv = NULL, *rv = NULL, *bv = NULL, *t4[4] = {NULL, NULL, NULL, NULL};
	size_t cw, cr, cb = 0, G = 4 * (size_t)Hh;
	if ((rc = onnx_tensor_floats(tW, &wv, &cw, err)) || (rc = onnx_tensor_floats(tR, &rv, &cr, err)) ||
	    (tB && (rc = onnx_tensor_floats(tB, &bv, &cb, err)))) {
		free(wv), free(rv), free(bv);
		return rc;
	}
	t4[0] = malloc(G * (size_t)r->Fs * sizeof(float)), t4[1] = malloc(G * (size_t)Hh * sizeof(float));
	t4[2] = calloc(G, sizeof(float)), t4[3] = calloc(G, sizeof(float));
	if (!t4[0] || !t4[1] || !t4[2] || !t4[3]) {
		free(wv), free(rv), free(bv);
		for (int j = 0; j < 4; j++)
			free(t4[j]);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	gates_to_torch(wv, t4[0], (size_t)Hh * (size_t)r->Fs);
	gates_to_torch(rv, t4[1], (size_t)Hh * (size_t)Hh);
	if (bv)
		gates_to_torch(bv, t4[2], (size_t)Hh), gates_to_torch(bv + G, t4[3], (size_t)Hh);
	free(wv), free(rv), free(bv);
	char name[DCC_MAX_NAME + 1], nm[DCC_MAX_NAME + 32];
	lstm_name(r, n, name, sizeof(name));
	static const char *const suffix[4] = {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"};
	uint64_t shapes[4][2] = {{G, (uint64_t)r->Fs}, {G, (uint64_t)Hh}, {G, 0}, {G, 0}};
	for (int j = 0; j < 4; j++) {
		snprintf(nm, sizeof(nm), "%s.%s", name, suffix[j]);
		if (!rc)
			rc = dcc_model_add(r->m, nm, DCC_F32, 0, 0, j < 2 ? 2 : 1, shapes[j], t4[j], err);
		else
			free(t4[j]);
	}
	if (!rc && onnx_add_line(r, "lstm %s in=%d hidden=%d steps=%d", name, r->Fs, Hh, r->T))
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	if (rc)
		return rc;
	/* what follows reads Y_h, or Y */
	r->next_out = n->n_output > 1 && n->output[1] && n->output[1][0] ? n->output[1] : "";
	r->ycur = n->output[0] && n->output[0][0] ? n->output[0] : NULL;
	r->seq = 3, r->Hs = Hh;
	return 1;
}

/* The image as (N, T, F): its rows the steps of an LSTM. */
static int read_rows(onnx_read *r, const node_t *n, const char *op, const char *nname, dcc_error *err)
{
	int64_t v[8];
	int nv = onnx_node_ints(r, n, 1, op[0] == 'S' ? "axes" : "shape", v);
	int64_t all = (int64_t)r->C * r->H * r->W; /* each factor bounded first: the product cannot overflow */
	int ok = op[0] == 'S' ? (nv == 1 && v[0] == 1 && r->C == 1)
		 : (nv == 3 && (v[0] == -1 || v[0] == 0) && v[1] >= 1 && v[2] >= 1 && v[1] <= all && v[2] <= all &&
		    v[1] * v[2] == all);
	if (!ok)
		return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (%s): only the image as (N, T, F) rows for an LSTM", nname,
				op);
	r->T = op[0] == 'S' ? r->H : (int)v[1], r->Fs = op[0] == 'S' ? r->W : (int)v[2];
	r->seq = 1;
	return 1;
}

int onnx_lstm_node(onnx_read *r, const node_t *n, const char *nname, dcc_error *err)
{
	const char *op = n->op_type ? n->op_type : "?"; /* a node may lack its type */
	int64_t rs[8];
	int reshape3 = !strcmp(op, "Reshape") && onnx_node_ints(r, n, 1, "shape", rs) == 3;
	if (r->seq >= 4)
		return read_y(r, n, op, nname, err);
	if (r->seq == 3)
		return read_yh(r, n, op, nname, err);
	if (r->seq == 1 && !strcmp(op, "Transpose")) {
		const Onnx__AttributeProto *a = onnx_attr(n, "perm");
		if (!a || a->n_ints != 3 || a->ints[0] != 1 || a->ints[1] != 0 || a->ints[2] != 2)
			return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (Transpose): only perm (1, 0, 2) before an LSTM", nname);
		r->seq = 2;
		return 1;
	}
	if (r->seq && !strcmp(op, "LSTM"))
		return read_lstm(r, n, nname, err);
	if (!r->flat && (!strcmp(op, "Squeeze") || reshape3))
		return read_rows(r, n, op, nname, err);
	return 0;
}
