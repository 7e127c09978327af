/* graph.c: the network graph as data -- dcc.graph's lines parsed into
 * nodes, every shape inferred and every parameter declared, once, when the
 * graph is read (so a graph that does not fit is one error naming the
 * node); and the list of weighted nodes every stage compresses. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../dcc_graph.h"
#include "internal.h"


static const char *const op_names[DCC_OP_COUNT] = {
	[DCC_OP_FC] = "fc", [DCC_OP_CONV2D] = "conv2d", [DCC_OP_MAXPOOL2D] = "maxpool2d", [DCC_OP_RELU] = "relu",
	[DCC_OP_FLATTEN] = "flatten", [DCC_OP_LSTM] = "lstm", [DCC_OP_SOFTMAX_CE] = "softmax_ce",
	[DCC_OP_AVGPOOL2D] = "avgpool2d", [DCC_OP_SIGMOID] = "sigmoid", [DCC_OP_TANH] = "tanh",
	[DCC_OP_BCE] = "bce", [DCC_OP_MSE] = "mse", [DCC_OP_ADD] = "add", [DCC_OP_CONCAT] = "concat",
	[DCC_OP_CLIP] = "clip", [DCC_OP_BATCHNORM] = "batchnorm", [DCC_OP_LEAKYRELU] = "leakyrelu",
	[DCC_OP_HARDSIGMOID] = "hardsigmoid", [DCC_OP_HARDSWISH] = "hardswish", [DCC_OP_AFFINE] = "affine",
	[DCC_OP_MUL] = "mul", [DCC_OP_SLICE] = "slice", [DCC_OP_SHUFFLE] = "shuffle", [DCC_OP_SUB] = "sub",
	[DCC_OP_DIV] = "div",
};
_Static_assert(sizeof(op_names) / sizeof(op_names[0]) == DCC_OP_COUNT, "one name per operator");

const char *dcc_op_name(int op)
{
	return op > 0 && op < DCC_OP_COUNT && op_names[op] ? op_names[op] : "?";
}

int dcc_op_from_name(const char *name)
{
	for (int op = 1; op < DCC_OP_COUNT; op++)
		if (op_names[op] && !strcmp(name, op_names[op]))
			return op;
	return 0;
}

void dcc_node_clear(dcc_node *l)
{
	for (int k = 0; k < l->nparam; k++) {
		if (l->p[k].owned)
			free(l->p[k].w);
		free(l->p[k].v);
		free(l->p[k].name);
	}
	free(l->name);
	memset(l, 0, sizeof(*l));
}

void dcc_graph_free(dcc_graph *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n; i++)
		dcc_node_clear(&g->nodes[i]);
	free(g->nodes);
	free(g->netname);
	free(g);
}

size_t dcc_graph_max_act(const dcc_graph *g)
{
	size_t mx = (size_t)g->in_c * (size_t)g->in_h * (size_t)g->in_w;
	for (size_t i = 0; i < g->n; i++)
		mx = g->nodes[i].out_size > mx ? g->nodes[i].out_size : mx;
	return mx;
}

/* A window attribute: "3" or "1x3" (height x width) into v[0], v[1]; a
 * pad (pads) "1" or "0,1,0,1" (top, left, bottom, right) into v[0..3]. */
static int parse_sizes(const char *s, int *v, int pads)
{
	long x[4];
	int n = 0, done = 0;
	char sep = pads ? ',' : 'x';
	for (const char *p = s; n < 4 && !done; n++) {
		char *end;
		if (*p < '0' || *p > '9')
			return -1;
		x[n] = strtol(p, &end, 10);
		if (x[n] > (1L << 30) || (*end && *end != sep))
			return -1;
		done = !*end;
		p = end + 1;
	}
	if (!done) /* a fifth part */
		return -1;
	if (n == 1)
		x[1] = x[2] = x[3] = x[0];
	else if (pads ? n != 4 : n != 2)
		return -1;
	for (int i = 0; i < (pads ? 4 : 2); i++)
		v[i] = (int)x[i];
	return 0;
}

void dcc_geom_text(const dcc_geom *q, char *buf, size_t cap)
{
	char k[32], s[32], p[64], d[40] = "";
	if (q->kh == q->kw)
		snprintf(k, sizeof(k), "%d", q->kh);
	else
		snprintf(k, sizeof(k), "%dx%d", q->kh, q->kw);
	if (q->sh == q->sw)
		snprintf(s, sizeof(s), "%d", q->sh);
	else
		snprintf(s, sizeof(s), "%dx%d", q->sh, q->sw);
	if (q->pt == q->pl && q->pt == q->pb && q->pt == q->pr)
		snprintf(p, sizeof(p), "%d", q->pt);
	else
		snprintf(p, sizeof(p), "%d,%d,%d,%d", q->pt, q->pl, q->pb, q->pr);
	if (q->dh != 1 || q->dw != 1) {
		if (q->dh == q->dw)
			snprintf(d, sizeof(d), " dilation=%d", q->dh);
		else
			snprintf(d, sizeof(d), " dilation=%dx%d", q->dh, q->dw);
	}
	snprintf(buf, cap, "k=%s stride=%s pad=%s%s", k, s, p, d);
}

/* "fc fc1 in=784 out=300" -> a layer with its attributes; from= (the
 * values it reads, by name) is copied to from[cap] for the caller to find. */
static int parse_line(const char *line, dcc_node *l, char *from, size_t cap, dcc_error *err)
{
	char buf[DCC_GRAPH_LINE], *save = NULL;
	if (strlen(line) >= sizeof(buf))
		return dcc_fail(err, DCC_E_FORMAT, "graph line too long");
	strcpy(buf, line);
	char *op = strtok_r(buf, " ", &save), *name = strtok_r(NULL, " ", &save);
	if (!op || !name)
		return dcc_fail(err, DCC_E_FORMAT, "graph line '%s' lacks an op and a name", line);
	l->op = dcc_op_from_name(op);
	if (!l->op)
		return dcc_fail(err, DCC_E_UNSUPPORTED, "layer '%s': unknown op '%s'", name, op);
	if (!strcmp(name, "input"))
		return dcc_fail(err, DCC_E_FORMAT, "a layer may not be named 'input' (the graph's input is)");
	l->name = dcc_strdup(name);
	if (!l->name)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	l->stride = 1, l->group = 1, l->bias = 1;
	l->geo.sh = l->geo.sw = l->geo.dh = l->geo.dw = 1;
	l->lo = -INFINITY, l->hi = INFINITY;
	l->eps = 1e-5f, l->momentum = 0.1f, l->alpha = l->op == DCC_OP_HARDSIGMOID ? 0.2f : 0.01f, l->beta = 0.5f;
	from[0] = 0;
	for (char *kv; (kv = strtok_r(NULL, " ", &save));) {
		char *eq = strchr(kv, '=');
		if (!eq)
			return dcc_fail(err, DCC_E_FORMAT, "layer '%s': attribute '%s' is not key=value", name, kv);
		*eq = 0;
		char *end;
		if (!strcmp(kv, "from")) {
			if (!eq[1] || strlen(eq + 1) >= cap)
				return dcc_fail(err, DCC_E_FORMAT, "layer '%s': from= names no value", name);
			strcpy(from, eq + 1);
			continue;
		}
		float *fd = !strcmp(kv, "min") ? &l->lo : !strcmp(kv, "max") ? &l->hi : !strcmp(kv, "eps") ? &l->eps
			  : !strcmp(kv, "momentum") ? &l->momentum : !strcmp(kv, "alpha") ? &l->alpha
			  : !strcmp(kv, "beta") ? &l->beta : NULL;
		if (fd) {
			float f = strtof(eq + 1, &end);
			if (*end || end == eq + 1 || isnan(f))
				return dcc_fail(err, DCC_E_FORMAT, "layer '%s': %s=%s is not a number", name, kv, eq + 1);
			*fd = f;
			continue;
		}
		int win = !strcmp(kv, "k") ? 1 : !strcmp(kv, "stride") ? 2 : !strcmp(kv, "dilation") ? 3
			: !strcmp(kv, "pad") ? 4 : 0, v4[4];
		if (win) {
			if (parse_sizes(eq + 1, v4, win == 4))
				return dcc_fail(err, DCC_E_FORMAT, "layer '%s': %s=%s is not %s", name, kv, eq + 1,
						win == 4 ? "a size or four (top,left,bottom,right)" : "a size or HxW");
			dcc_geom *q = &l->geo;
			if (win == 1)
				q->kh = v4[0], q->kw = v4[1];
			else if (win == 2)
				q->sh = v4[0], q->sw = v4[1];
			else if (win == 3)
				q->dh = v4[0], q->dw = v4[1];
			else
				q->pt = v4[0], q->pl = v4[1], q->pb = v4[2], q->pr = v4[3];
			continue;
		}
		long v = strtol(eq + 1, &end, 10);
		if (*end || end == eq + 1 || v < 0 || v > (1L << 30))
			return dcc_fail(err, DCC_E_FORMAT, "layer '%s': %s=%s is not a size", name, kv, eq + 1);
		int *dst = !strcmp(kv, "in") ? &l->in : !strcmp(kv, "out") ? &l->out
			   : !strcmp(kv, "hidden") ? &l->hidden : !strcmp(kv, "steps") ? &l->steps
			   : !strcmp(kv, "group") ? &l->group : !strcmp(kv, "ceil") ? &l->ceil : !strcmp(kv, "incl") ? &l->incl
			   : !strcmp(kv, "bias") ? &l->bias : !strcmp(kv, "start") ? &l->start : !strcmp(kv, "end") ? &l->end
			   : NULL;
		if (!dst)
			return dcc_fail(err, DCC_E_FORMAT, "layer '%s': unknown attribute '%s'", name, kv);
		*dst = (int)v;
	}
	l->k = l->geo.kh, l->stride = l->geo.sh, l->pad = l->geo.pt;
	return 0;
}

/* Node names to indexes while the graph is read: open addressing, so a
 * graph of many nodes is read in linear time. */
typedef struct name_index {
	size_t cap;
	int32_t *slot; /* node index, -1 empty */
	const dcc_graph *g;
} name_index;

static size_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return (size_t)h;
}

/* The slot of name: its node's, or the empty one where it would go. */
static size_t name_slot(const name_index *x, const char *name)
{
	size_t i = name_hash(name) & (x->cap - 1);
	while (x->slot[i] >= 0 && strcmp(x->g->nodes[x->slot[i]].name, name))
		i = (i + 1) & (x->cap - 1);
	return i;
}

/* Resolves from= ("a,b" or "input") into l->src; without it a node reads
 * the previous node's output (the first node the input). */
static int resolve_from(const name_index *x, dcc_node *l, size_t i, const char *from, dcc_error *err)
{
	if (!from[0]) {
		l->nin = 1, l->src[0] = (int)i;
		return 0;
	}
	char buf[DCC_GRAPH_LINE], *save = NULL;
	snprintf(buf, sizeof(buf), "%s", from);
	for (char *nm = strtok_r(buf, ",", &save); nm; nm = strtok_r(NULL, ",", &save)) {
		if (l->nin == DCC_NODE_MAX_IN)
			return dcc_fail(err, DCC_E_FORMAT, "layer '%s' reads more than %d values", l->name, DCC_NODE_MAX_IN);
		if (!strcmp(nm, "input")) {
			l->src[l->nin++] = 0;
			continue;
		}
		size_t s = name_slot(x, nm);
		if (x->slot[s] < 0)
			return dcc_fail(err, DCC_E_FORMAT, "layer '%s' reads '%s', which no earlier layer makes (the graph "
					"lists a layer after every layer it reads)", l->name, nm);
		if (dcc_op_is_loss(x->g->nodes[x->slot[s]].op))
			return dcc_fail(err, DCC_E_FORMAT, "layer '%s' reads the loss '%s'", l->name, nm);
		l->src[l->nin++] = x->slot[s] + 1;
	}
	if (!l->nin)
		return dcc_fail(err, DCC_E_FORMAT, "layer '%s': from= names no value", l->name);
	return 0;
}

/* Value v's shape and layout: the input's or node v-1's output. */
static void value_shape(const dcc_graph *g, int v, int *c, int *h, int *w, int *hwc)
{
	if (!v) {
		*c = g->in_c, *h = g->in_h, *w = g->in_w, *hwc = g->in_hwc;
	} else {
		const dcc_node *p = &g->nodes[v - 1];
		*c = p->oc, *h = p->oh, *w = p->ow, *hwc = p->hwc;
	}
}

char *dcc_graph_line_rename(const char *line, const char *name, const char *to)
{
	const char *f = strstr(line, " from=");
	size_t L = strlen(line), nl = strlen(name);
	char *o = malloc(L + DCC_NODE_MAX_IN * (strlen(to) + 1) + 1);
	if (!o || !f) {
		if (o)
			strcpy(o, line);
		return o;
	}
	size_t k = (size_t)(f - line) + 6;
	memcpy(o, line, k);
	for (const char *p = f + 6; *p && *p != ' ';) {
		size_t len = strcspn(p, ", ");
		int hit = len == nl && !strncmp(p, name, nl);
		memcpy(o + k, hit ? to : p, hit ? strlen(to) : len);
		k += hit ? strlen(to) : len;
		p += len;
		if (*p == ',')
			o[k++] = *p++;
	}
	strcpy(o + k, line + (size_t)(f - line) + 6 + strcspn(f + 6, " "));
	return o;
}

const char *dcc_graph_value_name(const dcc_graph *g, int v)
{
	return v > 0 && (size_t)v <= g->n ? g->nodes[v - 1].name : "input";
}

int dcc_graph_need_chain(const dcc_graph *g, const char *what, dcc_error *err)
{
	for (size_t i = 0; i < g->n; i++) {
		const dcc_node *l = &g->nodes[i];
		if (l->nin != 1 || l->src[0] != (int)i)
			return dcc_fail(err, DCC_E_UNSUPPORTED, "layer '%s' (%s) reads %s%s%s: %s runs graphs in which every "
					"layer reads the one before it, so far (a graph with branches trains, runs and "
					"compresses in float and in fixed point)", l->name, dcc_op_name(l->op),
					dcc_graph_value_name(g, l->src[0]), l->nin > 1 ? " and " : "",
					l->nin > 1 ? dcc_graph_value_name(g, l->src[1]) : "", what);
	}
	return 0;
}

/* Output shape from the inputs' shapes, in 64 bits (attributes reach
 * 2^30); errors say why the layer cannot fit. */
static int infer(const dcc_graph *g, dcc_node *l, int is_last, dcc_error *err)
{
	int hwc0;
	value_shape(g, l->src[0], &l->ic, &l->ih, &l->iw, &hwc0);
	int64_t in = (int64_t)l->ic * l->ih * l->iw, oc = l->ic, oh = l->ih, ow = l->iw;
	int64_t ph = (int64_t)l->ih + 2 * (int64_t)l->pad, pw = (int64_t)l->iw + 2 * (int64_t)l->pad;
	int multi = l->op == DCC_OP_ADD || l->op == DCC_OP_CONCAT || l->op == DCC_OP_MUL || l->op == DCC_OP_SUB ||
		    l->op == DCC_OP_DIV;
	if (!multi && l->nin != 1)
		return dcc_fail(err, DCC_E_FORMAT, "layer '%s': %s reads one value, not %d", l->name, dcc_op_name(l->op),
				l->nin);
	if (multi && l->nin < 2)
		return dcc_fail(err, DCC_E_FORMAT, "layer '%s': %s reads two values or more (from=a,b)", l->name,
				dcc_op_name(l->op));
	if (l->op != DCC_OP_CONV2D && l->op != DCC_OP_SHUFFLE && l->group != 1)
		return dcc_fail(err, DCC_E_FORMAT, "layer '%s': group= is conv2d's and shuffle's", l->name);
	if (l->op != DCC_OP_SLICE && (l->start || l->end))
		return dcc_fail(err, DCC_E_FORMAT, "layer '%s': start= and end= are slice's", l->name);
	if (l->op != DCC_OP_MAXPOOL2D && l->op != DCC_OP_AVGPOOL2D && l->ceil)
		return dcc_fail(err, DCC_E_FORMAT, "layer '%s': ceil= is maxpool2d's and avgpool2d's", l->name);
	if ((l->op != DCC_OP_AVGPOOL2D && l->incl) || l->incl > 1)
		return dcc_fail(err, DCC_E_FORMAT, "layer '%s': incl= is avgpool2d's, 0 or 1", l->name);
	if ((l->op != DCC_OP_FC && l->op != DCC_OP_CONV2D && l->bias != 1) || l->bias > 1)
		return dcc_fail(err, DCC_E_FORMAT, "layer '%s': bias= is fc's or conv2d's, 0 or 1", l->name);
	switch (l->op) {
	case DCC_OP_FC:
		if (l->ih * l->iw != 1)
			return dcc_fail(err, DCC_E_SHAPE, "layer '%s': input is %dx%dx%d; put a flatten layer before fc",
					l->name, l->ic, l->ih, l->iw);
		if (l->in < 1 || l->out < 1 || l->in != in)
			return dcc_fail(err, DCC_E_SHAPE, "layer '%s': in=%d but its input has %lld features", l->name, l->in,
					(long long)in);
		oc = l->out, oh = ow = 1;
		break;
	case DCC_OP_CONV2D: {
		const dcc_geom *q = &l->geo;
		if (q->kh < 1 || q->kw < 1 || q->sh < 1 || q->sw < 1 || q->dh < 1 || q->dw < 1 || l->in < 1 || l->out < 1 ||
		    l->group < 1)
			return dcc_fail(err, DCC_E_FORMAT, "layer '%s': conv2d needs in, out, k, stride, dilation, group >= 1",
					l->name);
		if (l->in != l->ic)
			return dcc_fail(err, DCC_E_SHAPE, "layer '%s': in=%d but its input has %d channels", l->name, l->in, l->ic);
		if (l->in % l->group || l->out % l->group)
			return dcc_fail(err, DCC_E_SHAPE, "layer '%s': group=%d does not divide in=%d and out=%d", l->name,
					l->group, l->in, l->out);
		oc = l->out;
		oh = dcc_conv_out(l->ih, q->kh, q->sh, q->pt, q->pb, q->dh);
		ow = dcc_conv_out(l->iw, q->kw, q->sw, q->pl, q->pr, q->dw);
		if (!oh || !ow)
			return dcc_fail(err, DCC_E_SHAPE, "layer '%s': a %dx%d kernel%s does not fit a %dx%d input%s", l->name,
					q->kh, q->kw, q->dh > 1 || q->dw > 1 ? " (dilated)" : "", l->ih, l->iw,
					q->pt || q->pl || q->pb || q->pr ? " padded" : "");
		break;
	}
	case DCC_OP_MAXPOOL2D:
	case DCC_OP_AVGPOOL2D:
		if (!dcc_geom_square(&l->geo))
			return dcc_fail(err, DCC_E_FORMAT, "layer '%s': %s takes a square window: one k, stride and pad, "
					"no dilation", l->name, dcc_op_name(l->op));
		if (l->k < 1 || l->stride < 1 || l->ceil > 1)
			return dcc_fail(err, DCC_E_FORMAT, "layer '%s': %s needs k >= 1 (and ceil 0 or 1)", l->name,
					dcc_op_name(l->op));
		if (2 * l->pad > l->k)
			return dcc_fail(err, DCC_E_SHAPE, "layer '%s': pad=%d is more than half the %dx%d window", l->name,
					l->pad, l->k, l->k);
		if (ph < l->k || pw < l->k)
			return dcc_fail(err, DCC_E_SHAPE, "layer '%s': a %dx%d window does not fit a %dx%d input", l->name,
					l->k, l->k, l->ih, l->iw);
		/* PyTorch's rule: ceil_mode adds a last window that starts inside the
		 * input or its left padding */
		oh = (int64_t)dcc_pool_out((uint64_t)l->ih, (uint64_t)l->k, (uint64_t)l->stride, (uint64_t)l->pad, l->ceil);
		ow = (int64_t)dcc_pool_out((uint64_t)l->iw, (uint64_t)l->k, (uint64_t)l->stride, (uint64_t)l->pad, l->ceil);
		break;
	case DCC_OP_CLIP:
		if (!(l->lo <= l->hi))
			return dcc_fail(err, DCC_E_FORMAT, "layer '%s': clip needs min <= max", l->name);
		break;
	case DCC_OP_BATCHNORM: /* channels fastest: H, W, C maps or vectors */
		if (!hwc0 && l->ih * l->iw != 1)
			return dcc_fail(err, DCC_E_UNSUPPORTED, "layer '%s': batchnorm reads a convolution's map or a vector",
					l->name);
		if (!(l->eps > 0) || !(l->momentum >= 0 && l->momentum <= 1) || isinf(l->eps))
			return dcc_fail(err, DCC_E_FORMAT, "layer '%s': batchnorm needs eps > 0 and momentum in [0, 1]", l->name);
		break;
	case DCC_OP_LEAKYRELU: /* fixed point holds the slope in Q16 */
		if (!(fabsf(l->alpha) <= 256))
			return dcc_fail(err, DCC_E_FORMAT, "layer '%s': leakyrelu needs alpha within -256..256", l->name);
		break;
	case DCC_OP_HARDSIGMOID: /* fixed point holds alpha in Q16 and beta at up to fl 23, in 32 bits */
		if (!(fabsf(l->alpha) <= 64) || !(fabsf(l->beta) <= 64))
			return dcc_fail(err, DCC_E_FORMAT, "layer '%s': hardsigmoid needs alpha and beta within -64..64",
					l->name);
		break;
	case DCC_OP_AFFINE: /* any layout: a value's channel is its first axis */
	case DCC_OP_HARDSWISH:
	case DCC_OP_RELU:
	case DCC_OP_SIGMOID:
	case DCC_OP_TANH:
	case DCC_OP_SOFTMAX_CE:
	case DCC_OP_BCE:
	case DCC_OP_MSE:
		break;
	case DCC_OP_MUL: { /* a gate of C x 1 x 1 scales each channel of a channels-fastest map */
		int c, h, w, hwc;
		value_shape(g, l->src[1], &c, &h, &w, &hwc);
		int same = h == l->ih && w == l->iw && (hwc == hwc0 || h * w == 1), gate = h * w == 1 && (hwc0 || in == c);
		if (l->nin != 2 || c != l->ic || !(same || gate))
			return dcc_fail(err, DCC_E_SHAPE, "layer '%s': mul of %dx%dx%d (%s) and %dx%dx%d (%s): dcc multiplies "
					"two values of one shape, or a map by a %dx1x1 gate", l->name, l->ic, l->ih, l->iw,
					dcc_graph_value_name(g, l->src[0]), c, h, w,
					l->nin > 1 ? dcc_graph_value_name(g, l->src[1]) : "", l->ic);
		break;
	}
	case DCC_OP_SUB: /* shaped as an add */
	case DCC_OP_DIV:
	case DCC_OP_ADD:
	case DCC_OP_CONCAT:
		if ((l->op == DCC_OP_SUB || l->op == DCC_OP_DIV) && l->nin != 2)
			return dcc_fail(err, DCC_E_FORMAT, "layer '%s': %s reads two values (from=a,b: a %c b), not %d", l->name,
					dcc_op_name(l->op), l->op == DCC_OP_SUB ? '-' : '/', l->nin);
		oc = 0;
		for (int k = 0; k < l->nin; k++) {
			int c, h, w, hwc;
			value_shape(g, l->src[k], &c, &h, &w, &hwc);
			if (h != l->ih || w != l->iw || hwc != hwc0 || (l->op != DCC_OP_CONCAT && c != l->ic))
				return dcc_fail(err, DCC_E_SHAPE, "layer '%s': %s of %dx%dx%d (%s) and %dx%dx%d (%s)", l->name,
						dcc_op_name(l->op), l->ic, l->ih, l->iw, dcc_graph_value_name(g, l->src[0]), c, h, w,
						dcc_graph_value_name(g, l->src[k]));
			oc += c;
		}
		if (l->op != DCC_OP_CONCAT)
			oc = l->ic;
		break;
	case DCC_OP_FLATTEN:
		oc = in, oh = ow = 1;
		break;
	case DCC_OP_SLICE: /* of a map's channels or a vector's features */
		if (l->start >= l->end || l->end > l->ic)
			return dcc_fail(err, DCC_E_SHAPE, "layer '%s': slice start=%d end=%d of %d channels (0 <= start < "
					"end <= channels)", l->name, l->start, l->end, l->ic);
		oc = l->end - l->start;
		break;
	case DCC_OP_SHUFFLE:
		if (l->group < 1 || l->ic % l->group)
			return dcc_fail(err, DCC_E_SHAPE, "layer '%s': shuffle group=%d does not divide its %d channels",
					l->name, l->group, l->ic);
		break;
	case DCC_OP_LSTM:
		if (l->in < 1 || l->hidden < 1 || l->steps < 1)
			return dcc_fail(err, DCC_E_FORMAT, "layer '%s': lstm needs in, hidden, steps >= 1", l->name);
		if ((int64_t)l->in * l->steps != in || (l->ic > 1 && (int64_t)l->ih * l->iw > 1))
			return dcc_fail(err, DCC_E_SHAPE, "layer '%s': %d steps of %d features do not match its %dx%dx%d input",
					l->name, l->steps, l->in, l->ic, l->ih, l->iw);
		oc = l->hidden, oh = ow = 1;
		break;
	}
	if (dcc_op_is_loss(l->op) && !is_last)
		return dcc_fail(err, DCC_E_FORMAT, "layer '%s': the loss must be the last layer", l->name);
	/* every factor is at most 2^30 and positive, so the product fits */
	if (oc > DCC_MAX_ACT || oh > DCC_MAX_ACT || ow > DCC_MAX_ACT || oc * oh * ow > DCC_MAX_ACT)
		return dcc_fail(err, DCC_E_RANGE, "layer '%s': an output of %lldx%lldx%lld is too large (2^28 elements "
				"per sample at most)", l->name, (long long)oc, (long long)oh, (long long)ow);
	l->in_size = (size_t)in;
	l->oc = (int)oc, l->oh = (int)oh, l->ow = (int)ow;
	l->out_size = (size_t)(oc * oh * ow);
	l->hwc = hwc0 && l->op != DCC_OP_FLATTEN && l->op != DCC_OP_FC && l->op != DCC_OP_LSTM;
	return 0;
}

static int set_param(dcc_node *l, int k, const char *suffix, int ndim, const uint64_t *shape,
		     int is_weight)
{
	l->p[k].is_buffer = !strncmp(suffix, "running_", 8);
	dcc_param *p = &l->p[k];
	size_t len = strlen(l->name) + strlen(suffix) + 2;
	p->name = malloc(len);
	if (!p->name)
		return DCC_E_NOMEM;
	snprintf(p->name, len, "%s.%s", l->name, suffix);
	p->ndim = ndim;
	p->n = 1;
	for (int d = 0; d < ndim; d++) {
		p->shape[d] = shape[d];
		p->n *= (size_t)shape[d];
	}
	p->is_weight = is_weight;
	return 0;
}

/* The parameter list of a layer: names and shapes (before binding). */
static int declare_params(dcc_node *l)
{
	int rc = 0;
	if (l->op == DCC_OP_FC) {
		uint64_t w[2] = {(uint64_t)l->out, (uint64_t)l->in}, b[1] = {(uint64_t)l->out};
		l->nparam = 1 + l->bias;
		rc |= set_param(l, 0, "weight", 2, w, 1);
		if (l->bias)
			rc |= set_param(l, 1, "bias", 1, b, 0);
	} else if (l->op == DCC_OP_BATCHNORM) {
		uint64_t c[1] = {(uint64_t)(l->hwc ? l->oc : (int)l->out_size)};
		l->nparam = 4;
		rc |= set_param(l, 0, "weight", 1, c, 0);
		rc |= set_param(l, 1, "bias", 1, c, 0);
		rc |= set_param(l, 2, "running_mean", 1, c, 0);
		rc |= set_param(l, 3, "running_var", 1, c, 0);
	} else if (l->op == DCC_OP_AFFINE) {
		uint64_t c[1] = {(uint64_t)l->ic};
		l->nparam = 2;
		rc |= set_param(l, 0, "scale", 1, c, 0);
		rc |= set_param(l, 1, "shift", 1, c, 0);
		l->p[0].is_buffer = l->p[1].is_buffer = 1;
	} else if (l->op == DCC_OP_CONV2D) {
		uint64_t w[4] = {(uint64_t)l->out, (uint64_t)(l->in / l->group), (uint64_t)l->geo.kh, (uint64_t)l->geo.kw},
			 b[1] = {(uint64_t)l->out};
		l->nparam = 1 + l->bias;
		rc |= set_param(l, 0, "weight", 4, w, 1);
		if (l->bias)
			rc |= set_param(l, 1, "bias", 1, b, 0);
	} else if (l->op == DCC_OP_LSTM) {
		uint64_t g = 4 * (uint64_t)l->hidden;
		uint64_t wi[2] = {g, (uint64_t)l->in}, wh[2] = {g, (uint64_t)l->hidden}, b[1] = {g};
		l->nparam = 4;
		rc |= set_param(l, 0, "weight_ih_l0", 2, wi, 1);
		rc |= set_param(l, 1, "weight_hh_l0", 2, wh, 1);
		rc |= set_param(l, 2, "bias_ih_l0", 1, b, 0);
		rc |= set_param(l, 3, "bias_hh_l0", 1, b, 0);
	}
	return rc ? DCC_E_NOMEM : 0;
}

/* Every line parsed and its from= resolved (a name to an earlier node),
 * then the input's layout and every node's shape, in order. */
static int read_nodes(dcc_graph *g, const dcc_kv *gk, dcc_error *err)
{
	name_index x = {16, NULL, g};
	while (x.cap < 2 * gk->count)
		x.cap *= 2;
	char *from = malloc(DCC_GRAPH_LINE);
	if (!from || !(x.slot = malloc(x.cap * sizeof(int32_t)))) {
		free(from);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	memset(x.slot, 0xff, x.cap * sizeof(int32_t));
	int rc = 0;
	for (size_t i = 0; i < gk->count && !rc; i++) {
		dcc_node *l = &g->nodes[i];
		g->n = i + 1;
		if ((rc = parse_line(gk->s[i], l, from, DCC_GRAPH_LINE, err)) || (rc = resolve_from(&x, l, i, from, err)))
			break;
		size_t s = name_slot(&x, l->name);
		if (x.slot[s] >= 0)
			rc = dcc_fail(err, DCC_E_FORMAT, "two layers named '%s'", l->name);
		x.slot[s] = (int32_t)i;
	}
	free(from);
	free(x.slot);
	/* the input is stored H, W, C unless an fc or lstm reads it */
	g->in_hwc = 1;
	g->chain = 1;
	for (size_t i = 0; i < g->n && !rc; i++) {
		const dcc_node *l = &g->nodes[i];
		for (int k = 0; k < l->nin; k++) {
			if (!l->src[k] && (l->op == DCC_OP_FC || l->op == DCC_OP_LSTM))
				g->in_hwc = 0;
			if (l->src[k])
				g->nodes[l->src[k] - 1].nuse++;
		}
		g->chain &= l->nin == 1 && l->src[0] == (int)i;
	}
	for (size_t i = 0; i < g->n && !rc; i++) {
		dcc_node *l = &g->nodes[i];
		if (!g->in_hwc && g->in_c > 1 && g->in_h * g->in_w > 1 && !l->src[0] && l->op != DCC_OP_FC &&
		    l->op != DCC_OP_LSTM)
			rc = dcc_fail(err, DCC_E_UNSUPPORTED, "layer '%s' reads the image input an fc or lstm layer also reads; "
				      "put a flatten between", l->name);
		else if (!(rc = infer(g, l, i + 1 == g->n, err)) && (rc = declare_params(l)))
			rc = dcc_fail(err, rc, "out of memory");
		if (!rc && !l->nuse && i + 1 < g->n)
			rc = dcc_fail(err, DCC_E_FORMAT, "layer '%s': no layer reads its output", l->name);
	}
	return rc;
}

int dcc_graph_read(const dcc_model *m, dcc_graph **out, dcc_error *err)
{
	*out = NULL;
	const dcc_kv *gk = dcc_model_get_kv(m, "dcc.graph");
	const dcc_kv *is = dcc_model_get_kv(m, "dcc.input_shape");
	int64_t classes;
	if (!gk || gk->type != DCC_KV_ARR || gk->elem_type != DCC_KV_STR || gk->count == 0)
		return dcc_fail(err, DCC_E_NOTFOUND, "no network graph (dcc.graph): a bare container of tensors "
				"(create one with dcc train --net, or dcc import --net)");
	/* each dimension bounded before the product, so it cannot overflow */
	if (!is || is->type != DCC_KV_ARR || is->elem_type != DCC_KV_I64 || is->count != 3 || is->i[0] < 1 ||
	    is->i[1] < 1 || is->i[2] < 1 || is->i[0] > DCC_MAX_ACT || is->i[1] > DCC_MAX_ACT || is->i[2] > DCC_MAX_ACT ||
	    is->i[0] * is->i[1] > DCC_MAX_ACT || is->i[0] * is->i[1] * is->i[2] > DCC_MAX_ACT)
		return dcc_fail(err, DCC_E_FORMAT, "dcc.input_shape must be [channels, height, width], 2^28 elements at most");
	if (dcc_model_get_i64(m, "dcc.classes", &classes) || classes < 1 || classes > 65536)
		return dcc_fail(err, DCC_E_FORMAT, "dcc.classes (the outputs) must be 1 to 65536");
	dcc_graph *g = calloc(1, sizeof(*g));
	if (!g || !(g->nodes = calloc(gk->count, sizeof(dcc_node)))) {
		free(g);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	g->in_c = (int)is->i[0], g->in_h = (int)is->i[1], g->in_w = (int)is->i[2];
	g->classes = (int)classes;
	const char *nn = dcc_model_get_str(m, "dcc.net");
	g->netname = dcc_strdup(nn ? nn : "custom");
	int rc = g->netname ? 0 : dcc_fail(err, DCC_E_NOMEM, "out of memory");
	rc = rc ? rc : read_nodes(g, gk, err);
	if (!rc) {
		const dcc_node *last = &g->nodes[g->n - 1];
		if (!dcc_op_is_loss(last->op))
			rc = dcc_fail(err, DCC_E_FORMAT, "the graph must end with the loss (softmax_ce, bce or mse)");
		else if (last->op == DCC_OP_SOFTMAX_CE && classes < 2)
			rc = dcc_fail(err, DCC_E_SHAPE, "softmax_ce needs two classes or more (one output: bce or mse)");
		else if (last->in_size != (size_t)classes)
			rc = dcc_fail(err, DCC_E_SHAPE, "the network has %zu outputs but the data has %d classes",
				      last->in_size, g->classes);
	}
	if (rc) {
		dcc_graph_free(g);
		return rc;
	}
	*out = g;
	return 0;
}

/* ---- weighted nodes ---- */

void dcc_prunable_free(dcc_prunable *p, size_t n)
{
	for (size_t i = 0; p && i < n; i++) {
		free(p[i].layer);
		free(p[i].tensor);
	}
	free(p);
}

static int push(dcc_prunable **v, size_t *n, const char *layer, const char *tensor, int op, size_t rows,
		size_t cols)
{
	dcc_prunable *q = realloc(*v, (*n + 1) * sizeof(**v));
	if (!q)
		return DCC_E_NOMEM;
	*v = q;
	dcc_prunable *p = &q[*n];
	memset(p, 0, sizeof(*p));
	p->layer = dcc_strdup(layer);
	p->tensor = dcc_strdup(tensor);
	p->op = op;
	p->first = *n == 0;
	p->rows = rows;
	p->cols = cols;
	(*n)++;
	return p->layer && p->tensor ? 0 : DCC_E_NOMEM;
}

int dcc_prunable_list(const dcc_model *m, dcc_prunable **out, size_t *n, dcc_error *err)
{
	*out = NULL;
	*n = 0;
	int rc = 0;
	if (dcc_model_get_kv(m, "dcc.graph")) {
		dcc_graph *g;
		if ((rc = dcc_graph_read(m, &g, err)))
			return rc;
		for (size_t i = 0; i < g->n && !rc; i++) {
			const dcc_node *l = &g->nodes[i];
			for (int k = 0; k < l->nparam && !rc; k++)
				if (l->p[k].is_weight && !(rc = push(out, n, l->name, l->p[k].name, l->op,
								     (size_t)l->p[k].shape[0],
								     l->p[k].n / (size_t)l->p[k].shape[0])))
					(*out)[*n - 1].scale = l->op == DCC_OP_CONV2D && l->group == l->in &&
							       l->in == l->out && l->geo.kh * l->geo.kw == 1;
		}
		dcc_graph_free(g);
	} else {
		for (size_t i = 0; i < m->ntensors && !rc; i++) {
			const dcc_tensor *t = &m->tensors[i];
			if (!dcc_dtype_is_float(t->dtype) || t->ndim < 2 || !t->shape[0])
				continue;
			uint64_t numel = dcc_tensor_numel(t);
			rc = push(out, n, t->name, t->name, 0, (size_t)t->shape[0], (size_t)(numel / t->shape[0]));
		}
	}
	if (rc) {
		dcc_prunable_free(*out, *n);
		*out = NULL;
		*n = 0;
		return dcc_fail(err, rc, "out of memory");
	}
	return 0;
}

int dcc_model_is_cnn(const dcc_prunable *p, size_t n)
{
	return n > 0 && p[0].op == DCC_OP_CONV2D;
}

int dcc_graph_set_head(dcc_model *m, int op, dcc_error *err)
{
	const dcc_kv *gk = dcc_model_get_kv(m, "dcc.graph");
	if (!gk || gk->type != DCC_KV_ARR || gk->elem_type != DCC_KV_STR || !gk->count)
		return dcc_fail(err, DCC_E_NOTFOUND, "no network graph (dcc.graph)");
	if (!dcc_op_is_loss(op))
		return dcc_fail(err, DCC_E_ARG, "'%s' is not a loss", dcc_op_name(op));
	const char **lines = malloc(gk->count * sizeof(char *));
	char last[DCC_GRAPH_LINE + 64];
	if (!lines)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	for (size_t i = 0; i < gk->count; i++)
		lines[i] = gk->s[i];
	const char *sp = strchr(gk->s[gk->count - 1], ' ');
	int op0 = sp ? 0 : -1;
	if (sp) {
		char nm[32];
		snprintf(nm, sizeof(nm), "%.*s", (int)(sp - gk->s[gk->count - 1]), gk->s[gk->count - 1]);
		op0 = dcc_op_from_name(nm);
	}
	/* its attributes (from=) stay */
	const char *rest = sp ? strchr(sp + 1, ' ') : NULL;
	snprintf(last, sizeof(last), "%s loss%s", dcc_op_name(op), rest && strlen(rest) < DCC_GRAPH_LINE ? rest : "");
	if (dcc_op_is_loss(op0))
		lines[gk->count - 1] = last;
	int rc = dcc_op_is_loss(op0) ? dcc_model_set_arr_str(m, "dcc.graph", lines, gk->count, err)
				     : dcc_fail(err, DCC_E_FORMAT, "the graph does not end with a loss");
	free(lines);
	return rc;
}
