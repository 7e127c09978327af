/* onnx_channels.c: the ONNX nodes that move whole channels -- Split and
 * Slice on the channel axis (dcc's slice layers) and ShuffleNet's channel
 * shuffle, a Reshape to (N, g, C/g, H, W), a Transpose of axes 1 and 2
 * and a Reshape back (one shuffle layer).  Their sizes may be shape
 * arithmetic (chunk() writes Shape, Gather, Div), folded to constants. */
#include <string.h>

#include "onnx_io.h"

/* Is axis the channel axis of the value being read ((N, C, H, W) or (N, F))? */
static int channel_axis(const onnx_read *r, int64_t axis)
{
	return axis == 1 || axis + (r->flat ? 2 : 4) == 1;
}

static int channels(const onnx_read *r)
{
	return r->flat ? (int)r->F : r->C;
}

/* Channels [s, e) of the value line in_line makes, as a slice line (none
 * when they are all of them), noted as the value out. */
static int add_slice(onnx_read *r, int in_line, int C, int64_t s, int64_t e, const char *out, dcc_error *err)
{
	r->src_line = in_line;
	if ((s || e != C) && onnx_add_line(r, "slice slice%d start=%lld end=%lld", ++r->nslice, (long long)s, (long long)e))
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	if (r->flat)
		r->F = (size_t)(e - s);
	else
		r->C = (int)(e - s);
	onnx_note_value(r, out, r->src_line);
	return 0;
}

/* Input k of a Slice (opset 10 on) or its ints attribute (before): folded
 * shape arithmetic or a constant; the count, 0 absent, -1 not constant. */
static int slice_ints(const onnx_read *r, const node_t *n, size_t k, const char *name, int64_t v[8])
{
	if (n->n_input > k && n->input[k] && n->input[k][0])
		return onnx_shape_ints(r, n->input[k], v);
	return onnx_node_ints(r, n, 99, name, v); /* no input 99: the attribute */
}

int onnx_read_slice(onnx_read *r, const node_t *n, const char *nname, dcc_error *err)
{
	int64_t st[8], en[8], ax[8], sp[8];
	int C = channels(r);
	int ks = slice_ints(r, n, 1, "starts", st), ke = slice_ints(r, n, 2, "ends", en);
	int ka = slice_ints(r, n, 3, "axes", ax), kp = n->n_input > 4 ? slice_ints(r, n, 4, "", sp) : 0;
	if (ks != 1 || ke != 1 || ka != 1 || !channel_axis(r, ax[0]) || (kp && (kp != 1 || sp[0] != 1)))
		return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (Slice): dcc slices the channel axis (axes [1]) with "
				"constant starts and ends and step 1", nname);
	int64_t s = st[0] < 0 ? st[0] + C : st[0], e = en[0] < 0 ? en[0] + C : en[0];
	s = s < 0 ? 0 : s > C ? C : s;
	e = e < 0 ? 0 : e > C ? C : e;
	if (s >= e)
		return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (Slice): channels %lld to %lld of %d are none", nname,
				(long long)st[0], (long long)en[0], C);
	return add_slice(r, r->src_line, C, s, e, n->output[0], err);
}

/* Does a node read value name, or is it the graph's output (the first)? */
static int used(const onnx_read *r, const char *name)
{
	size_t nc = 0;
	const Onnx__GraphProto *g = r->g;
	onnx_consumers(r, name, &nc);
	return nc || (g->n_output && g->output[0] && g->output[0]->name && !strcmp(g->output[0]->name, name));
}

int onnx_read_split(onnx_read *r, const node_t *n, const char *nname, dcc_error *err)
{
	int C = channels(r), in_line = r->src_line;
	int64_t sz[8];
	size_t no = n->n_output;
	int k = n->n_input > 1 && n->input[1] && n->input[1][0] ? onnx_shape_ints(r, n->input[1], sz)
								 : onnx_node_ints(r, n, 99, "split", sz);
	if (!channel_axis(r, onnx_attr_i(n, "axis", 0)) || no < 1 || no > 8 || (k && (size_t)k != no))
		return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (Split): dcc splits the channel axis (axis 1) into at most "
				"8 parts of constant sizes", nname);
	if (!k) /* equal parts, the last smaller (opset 18's num_outputs) */
		for (size_t j = 0; j < no; j++) {
			int64_t each = (C + (int64_t)no - 1) / (int64_t)no;
			sz[j] = j + 1 < no ? each : C - each * (int64_t)(no - 1);
		}
	int64_t s = 0;
	for (size_t j = 0; j < no; j++) {
		if (sz[j] < 1 || sz[j] > C - s || !n->output[j])
			return dcc_fail(err, DCC_E_SHAPE, "node '%s' (Split): its parts do not split %d channels", nname, C);
		s += sz[j];
	}
	if (s != C)
		return dcc_fail(err, DCC_E_SHAPE, "node '%s' (Split): its parts hold %lld of %d channels", nname, (long long)s,
				C);
	s = 0;
	const char *last = NULL;
	for (size_t j = 0; j < no; j++) { /* a part nothing reads makes no layer */
		int rc = used(r, n->output[j]) ? add_slice(r, in_line, C, s, s + sz[j], n->output[j], err) : 0;
		if (rc)
			return rc;
		last = used(r, n->output[j]) ? n->output[j] : last;
		s += sz[j];
	}
	r->next_out = last; /* noted again as it is */
	return 0;
}

/* Is n a Transpose of a shuffle's (N, g, C/g, H, W): perm (0, 2, 1, 3, 4)? */
static int shuffle_transpose(const node_t *n)
{
	const Onnx__AttributeProto *a = n && n->op_type && !strcmp(n->op_type, "Transpose") ? onnx_attr(n, "perm") : NULL;
	static const int64_t want[5] = {0, 2, 1, 3, 4};
	if (!a || a->n_ints != 5 || n->n_input != 1 || n->n_output != 1)
		return 0;
	for (int i = 0; i < 5; i++)
		if (a->ints[i] != want[i])
			return 0;
	return 1;
}

int onnx_read_shuffle(onnx_read *r, const node_t *n, const int64_t v[5], const char *nname, dcc_error *err)
{
	static const char *const form = "dcc reads a Reshape to five dimensions as a channel shuffle: (N, g, C/g, H, W), "
					"then a Transpose with perm (0, 2, 1, 3, 4) that only Reshapes or Flattens read";
	int64_t g = v[1], cg = v[2] == -1 && g > 0 ? r->C / g : v[2];
	size_t nc = 0, nt = 0;
	const uint32_t *c = r->flat || g < 1 ? NULL : onnx_consumers(r, n->output[0], &nc);
	const node_t *t = c && nc == 1 ? r->g->node[c[0] >> 8] : NULL;
	const uint32_t *tc = shuffle_transpose(t) && t->output[0] ? onnx_consumers(r, t->output[0], &nt) : NULL;
	int ok = tc && nt > 0 && g * cg == r->C && v[3] == r->H && v[4] == r->W;
	for (size_t i = 0; ok && i < nt; i++) {
		const char *op = r->g->node[tc[i] >> 8]->op_type;
		ok = op && (!strcmp(op, "Reshape") || !strcmp(op, "Flatten"));
	}
	if (!ok)
		return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (Reshape): %s", nname, form);
	if (g == 1)
		return 0; /* one group: nothing moves */
	return onnx_add_line(r, "shuffle shuffle%d group=%lld", ++r->nshuffle, (long long)g)
		       ? dcc_fail(err, DCC_E_NOMEM, "out of memory") : 0;
}

/* Is n a Transpose of a map with perm p[4]? */
static int perm4(const node_t *n, int a, int b, int c, int d)
{
	const Onnx__AttributeProto *at = onnx_attr(n, "perm");
	return at && at->n_ints == 4 && at->ints[0] == a && at->ints[1] == b && at->ints[2] == c && at->ints[3] == d;
}

int onnx_read_transpose(onnx_read *r, const node_t *n, const char *nname, dcc_error *err)
{
	const node_t *p = n->n_input == 1 ? onnx_producer(r, n->input[0]) : NULL;
	int64_t v[8];
	if (shuffle_transpose(n) && p && p->op_type && !strcmp(p->op_type, "Reshape") && p->n_input > 1 &&
	    onnx_shape_ints(r, p->input[1], v) == 5)
		return 0; /* the shuffle's: its Reshape made the shuffle layer */
	/* tf2onnx's NHWC around NCHW nodes: to channels last and back, no layer */
	if (!r->flat && !r->nhwc && perm4(n, 0, 2, 3, 1)) {
		r->nhwc = 1;
		return 0;
	}
	if (!r->flat && r->nhwc && perm4(n, 0, 3, 1, 2)) {
		r->nhwc = 0;
		return 0;
	}
	/* the graph's input, channels last: dcc's model takes it channels first */
	size_t nc = 0;
	onnx_consumers(r, r->cur, &nc);
	if (!r->flat && !r->nhwc && perm4(n, 0, 3, 1, 2) && r->in_name && !strcmp(r->cur, r->in_name) && nc == 1 &&
	    r->src_line == -1 && r->ishape && !r->in_nhwc && r->in_rank == 4) {
		int h = r->C, w = r->H, c = r->W; /* read as (N, C, H, W): it is (N, H, W, C) */
		r->C = c, r->H = h, r->W = w;
		r->ishape[0] = c, r->ishape[1] = h, r->ishape[2] = w;
		r->in_nhwc = 1;
		return 0;
	}
	return dcc_fail(err, DCC_E_UNSUPPORTED, "node '%s' (Transpose): dcc reads a Transpose of activations only inside "
			"a channel shuffle (a Reshape to (N, g, C/g, H, W), perm (0, 2, 1, 3, 4), a Reshape back), to "
			"channels last (0, 2, 3, 1) and back (0, 3, 1, 2), or of the graph's (N, H, W, C) input", nname);
}
