/* graph.c: the network graph -- parsing dcc.graph lines into layers, shape
 * inference, binding each layer's parameters to the model's tensors, and the
 * built-in networks (lenet300, lenet5, lstm, mlp:...) with PyTorch's default
 * initialisation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "../dcc_nn.h"

static const struct {
	const char *name;
	int op;
} ops[] = {
	{"fc", DCC_OP_FC}, {"conv2d", DCC_OP_CONV2D}, {"maxpool2d", DCC_OP_MAXPOOL2D},
	{"relu", DCC_OP_RELU}, {"flatten", DCC_OP_FLATTEN}, {"lstm", DCC_OP_LSTM},
	{"softmax_ce", DCC_OP_SOFTMAX_CE}, {"avgpool2d", DCC_OP_AVGPOOL2D}, {"sigmoid", DCC_OP_SIGMOID},
	{"tanh", DCC_OP_TANH},
};

const char *dcc_op_name(int op)
{
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (ops[i].op == op)
			return ops[i].name;
	return "?";
}

void dcc_net_free(dcc_net *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->nlayers; i++) {
		dcc_layer *l = &n->layers[i];
		for (int k = 0; k < l->nparam; k++) {
			if (l->p[k].owned)
				free(l->p[k].w);
			free(l->p[k].v);
			free(l->p[k].name);
		}
		free(l->name);
	}
	free(n->layers);
	free(n->netname);
	free(n);
}

/* "fc fc1 in=784 out=300" -> a layer with its attributes. */
static int parse_line(const char *line, dcc_layer *l, dcc_error *err)
{
	char buf[512], *save = NULL;
	if (strlen(line) >= sizeof(buf))
		return dcc_fail(err, DCC_E_FORMAT, "graph line too long");
	strcpy(buf, line);
	char *op = strtok_r(buf, " ", &save), *name = strtok_r(NULL, " ", &save);
	if (!op || !name)
		return dcc_fail(err, DCC_E_FORMAT, "graph line '%s' lacks an op and a name", line);
	l->op = 0;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strcmp(op, ops[i].name))
			l->op = ops[i].op;
	if (!l->op)
		return dcc_fail(err, DCC_E_UNSUPPORTED, "layer '%s': unknown op '%s'", name, op);
	l->name = dcc_strdup(name);
	if (!l->name)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	l->stride = 1;
	for (char *kv; (kv = strtok_r(NULL, " ", &save));) {
		char *eq = strchr(kv, '=');
		if (!eq)
			return dcc_fail(err, DCC_E_FORMAT, "layer '%s': attribute '%s' is not key=value", name, kv);
		*eq = 0;
		char *end;
		long v = strtol(eq + 1, &end, 10);
		if (*end || end == eq + 1 || v < 0 || v > (1L << 30))
			return dcc_fail(err, DCC_E_FORMAT, "layer '%s': %s=%s is not a size", name, kv, eq + 1);
		int *dst = !strcmp(kv, "in") ? &l->in : !strcmp(kv, "out") ? &l->out : !strcmp(kv, "k") ? &l->k
			   : !strcmp(kv, "stride") ? &l->stride : !strcmp(kv, "pad") ? &l->pad
			   : !strcmp(kv, "hidden") ? &l->hidden : !strcmp(kv, "steps") ? &l->steps : NULL;
		if (!dst)
			return dcc_fail(err, DCC_E_FORMAT, "layer '%s': unknown attribute '%s'", name, kv);
		*dst = (int)v;
	}
	return 0;
}

/* Output shape from input shape; errors say why the layer cannot fit. */
static int infer(dcc_layer *l, int is_last, dcc_error *err)
{
	size_t in = (size_t)l->ic * l->ih * l->iw;
	l->in_size = in;
	switch (l->op) {
	case DCC_OP_FC:
		if (l->ih * l->iw != 1)
			return dcc_fail(err, DCC_E_SHAPE, "layer '%s': input is %dx%dx%d; put a flatten layer before fc",
					l->name, l->ic, l->ih, l->iw);
		if (l->in < 1 || l->out < 1 || (size_t)l->in != in)
			return dcc_fail(err, DCC_E_SHAPE, "layer '%s': in=%d but its input has %zu features", l->name, l->in, in);
		l->oc = l->out, l->oh = l->ow = 1;
		break;
	case DCC_OP_CONV2D:
		if (l->k < 1 || l->stride < 1 || l->in < 1 || l->out < 1)
			return dcc_fail(err, DCC_E_FORMAT, "layer '%s': conv2d needs in, out, k >= 1", l->name);
		if (l->in != l->ic)
			return dcc_fail(err, DCC_E_SHAPE, "layer '%s': in=%d but its input has %d channels", l->name, l->in, l->ic);
		if (l->ih + 2 * l->pad < l->k || l->iw + 2 * l->pad < l->k)
			return dcc_fail(err, DCC_E_SHAPE, "layer '%s': a %dx%d kernel does not fit a %dx%d input", l->name,
					l->k, l->k, l->ih, l->iw);
		l->oc = l->out;
		l->oh = (l->ih + 2 * l->pad - l->k) / l->stride + 1;
		l->ow = (l->iw + 2 * l->pad - l->k) / l->stride + 1;
		break;
	case DCC_OP_MAXPOOL2D:
	case DCC_OP_AVGPOOL2D:
		if (l->k < 1 || l->stride < 1)
			return dcc_fail(err, DCC_E_FORMAT, "layer '%s': %s needs k >= 1", l->name, dcc_op_name(l->op));
		if (l->ih < l->k || l->iw < l->k)
			return dcc_fail(err, DCC_E_SHAPE, "layer '%s': a %dx%d window does not fit a %dx%d input", l->name,
					l->k, l->k, l->ih, l->iw);
		l->oc = l->ic;
		l->oh = (l->ih - l->k) / l->stride + 1;
		l->ow = (l->iw - l->k) / l->stride + 1;
		break;
	case DCC_OP_RELU:
	case DCC_OP_SIGMOID:
	case DCC_OP_TANH:
	case DCC_OP_SOFTMAX_CE:
		l->oc = l->ic, l->oh = l->ih, l->ow = l->iw;
		break;
	case DCC_OP_FLATTEN:
		l->oc = (int)in, l->oh = l->ow = 1;
		break;
	case DCC_OP_LSTM:
		if (l->in < 1 || l->hidden < 1 || l->steps < 1)
			return dcc_fail(err, DCC_E_FORMAT, "layer '%s': lstm needs in, hidden, steps >= 1", l->name);
		if ((size_t)l->in * (size_t)l->steps != in || (l->ic > 1 && l->ih * l->iw > 1))
			return dcc_fail(err, DCC_E_SHAPE, "layer '%s': %d steps of %d features do not match its %dx%dx%d input",
					l->name, l->steps, l->in, l->ic, l->ih, l->iw);
		l->oc = l->hidden, l->oh = l->ow = 1;
		break;
	}
	if (l->op == DCC_OP_SOFTMAX_CE && !is_last)
		return dcc_fail(err, DCC_E_FORMAT, "layer '%s': the loss must be the last layer", l->name);
	l->out_size = (size_t)l->oc * l->oh * l->ow;
	return 0;
}

static int set_param(dcc_layer *l, int k, const char *suffix, int ndim, const uint64_t *shape,
		     int is_weight)
{
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
static int declare_params(dcc_layer *l)
{
	int rc = 0;
	if (l->op == DCC_OP_FC) {
		uint64_t w[2] = {(uint64_t)l->out, (uint64_t)l->in}, b[1] = {(uint64_t)l->out};
		l->nparam = 2;
		rc |= set_param(l, 0, "weight", 2, w, 1);
		rc |= set_param(l, 1, "bias", 1, b, 0);
	} else if (l->op == DCC_OP_CONV2D) {
		uint64_t w[4] = {(uint64_t)l->out, (uint64_t)l->in, (uint64_t)l->k, (uint64_t)l->k}, b[1] = {(uint64_t)l->out};
		l->nparam = 2;
		rc |= set_param(l, 0, "weight", 4, w, 1);
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

static int shape_eq(const dcc_tensor *t, const dcc_param *p)
{
	if (t->ndim != p->ndim)
		return 0;
	for (int d = 0; d < p->ndim; d++)
		if (t->shape[d] != p->shape[d])
			return 0;
	return 1;
}

static void shape_str(char *buf, size_t cap, int ndim, const uint64_t *shape)
{
	size_t k = 0;
	buf[0] = 0;
	for (int d = 0; d < ndim && k < cap; d++)
		k += (size_t)snprintf(buf + k, cap - k, "%s%llu", d ? "x" : "", (unsigned long long)shape[d]);
}

static int bind(dcc_model *m, dcc_param *p, dcc_error *err)
{
	char nm[DCC_MAX_NAME + 16], a[64], b[64];
	dcc_tensor *t = dcc_model_find(m, p->name);
	if (t) {
		if (!shape_eq(t, p)) {
			shape_str(a, sizeof(a), t->ndim, t->shape);
			shape_str(b, sizeof(b), p->ndim, p->shape);
			return dcc_fail(err, DCC_E_SHAPE, "tensor '%s' is %s, the graph needs %s", p->name, a, b);
		}
		if (!t->data)
			return dcc_fail(err, DCC_E_ARG, "tensor '%s' has no data loaded", p->name);
		if (t->dtype == DCC_F32) {
			p->w = t->data;
		} else if (t->dtype == DCC_Q8 || t->dtype == DCC_Q16 || t->dtype == DCC_Q32) {
			p->w = malloc(p->n * sizeof(float));
			if (!p->w)
				return dcc_fail(err, DCC_E_NOMEM, "out of memory");
			for (size_t i = 0; i < p->n; i++)
				p->w[i] = (float)dcc_tensor_get(t, i);
			p->owned = 1;
		} else {
			return dcc_fail(err, DCC_E_UNSUPPORTED, "tensor '%s' is %s; a layer needs f32 or fixed point",
					p->name, dcc_dtype_name(t->dtype));
		}
	} else {
		snprintf(nm, sizeof(nm), "%s.index", p->name);
		if (!dcc_model_find(m, nm))
			return dcc_fail(err, DCC_E_NOTFOUND, "tensor '%s' is missing", p->name);
		float *w;
		int rc = dcc_shared_dequantize(m, p->name, &w, err);
		if (rc)
			return rc;
		if (dcc_tensor_numel(dcc_model_find(m, nm)) != p->n) {
			free(w);
			return dcc_fail(err, DCC_E_SHAPE, "shared tensor '%s' has the wrong size", p->name);
		}
		p->w = w;
		p->owned = 1;
	}
	snprintf(nm, sizeof(nm), "%s.mask", p->name);
	dcc_tensor *mk = dcc_model_find(m, nm);
	if (mk) {
		if (mk->dtype != DCC_MASK || dcc_tensor_numel(mk) != p->n || !mk->data)
			return dcc_fail(err, DCC_E_SHAPE, "mask '%s' does not match its tensor", nm);
		p->mask = mk->data;
	}
	return 0;
}

int dcc_net_from_model(dcc_model *m, dcc_net **out, dcc_error *err)
{
	*out = NULL;
	const dcc_kv *g = dcc_model_get_kv(m, "dcc.graph");
	const dcc_kv *is = dcc_model_get_kv(m, "dcc.input_shape");
	int64_t classes;
	if (!g || g->type != DCC_KV_ARR || g->elem_type != DCC_KV_STR || g->count == 0)
		return dcc_fail(err, DCC_E_NOTFOUND, "no network graph (dcc.graph): a bare container of tensors "
				"(create one with dcc train --net, or dcc import --net)");
	if (!is || is->type != DCC_KV_ARR || is->elem_type != DCC_KV_I64 || is->count != 3 || is->i[0] < 1 ||
	    is->i[1] < 1 || is->i[2] < 1 || is->i[0] * is->i[1] * is->i[2] > (1 << 28))
		return dcc_fail(err, DCC_E_FORMAT, "dcc.input_shape must be [channels, height, width]");
	if (dcc_model_get_i64(m, "dcc.classes", &classes) || classes < 2 || classes > 65536)
		return dcc_fail(err, DCC_E_FORMAT, "dcc.classes must be 2 or more");
	dcc_net *n = calloc(1, sizeof(*n));
	if (!n || !(n->layers = calloc(g->count, sizeof(dcc_layer)))) {
		free(n);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	n->model = m;
	n->in_c = (int)is->i[0], n->in_h = (int)is->i[1], n->in_w = (int)is->i[2];
	n->classes = (int)classes;
	const char *nn = dcc_model_get_str(m, "dcc.net");
	n->netname = dcc_strdup(nn ? nn : "custom");
	int c = n->in_c, h = n->in_h, w = n->in_w, rc = 0;
	for (size_t i = 0; i < g->count && !rc; i++) {
		dcc_layer *l = &n->layers[i];
		n->nlayers = i + 1;
		if ((rc = parse_line(g->s[i], l, err)))
			break;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(n->layers[j].name, l->name))
				rc = dcc_fail(err, DCC_E_FORMAT, "two layers named '%s'", l->name);
		if (rc)
			break;
		l->ic = c, l->ih = h, l->iw = w;
		if ((rc = infer(l, i + 1 == g->count, err)))
			break;
		c = l->oc, h = l->oh, w = l->ow;
		if ((rc = declare_params(l)))
			rc = dcc_fail(err, rc, "out of memory");
		for (int k = 0; k < l->nparam && !rc; k++)
			rc = bind(m, &l->p[k], err);
	}
	if (!rc) {
		dcc_layer *last = &n->layers[n->nlayers - 1];
		if (last->op != DCC_OP_SOFTMAX_CE)
			rc = dcc_fail(err, DCC_E_FORMAT, "the graph must end with the loss (softmax_ce)");
		else if (last->in_size != (size_t)classes)
			rc = dcc_fail(err, DCC_E_SHAPE, "the network has %zu outputs but the data has %d classes",
				      last->in_size, n->classes);
	}
	if (rc) {
		dcc_net_free(n);
		return rc;
	}
	*out = n;
	return 0;
}

/* ---- built-in networks ---- */

static int add_lines(dcc_model *m, char lines[][96], size_t n)
{
	const char *p[64];
	for (size_t i = 0; i < n; i++)
		p[i] = lines[i];
	return dcc_model_set_arr_str(m, "dcc.graph", p, n);
}

int dcc_net_graph(const char *spec, int c, int h, int w, int classes, dcc_model *m, dcc_error *err)
{
	char L[64][96];
	size_t n = 0;
	int in = c * h * w;
	if (!strcmp(spec, "lenet300")) {
		snprintf(L[n++], 96, "flatten flatten");
		snprintf(L[n++], 96, "fc fc1 in=%d out=300", in);
		snprintf(L[n++], 96, "relu relu1");
		snprintf(L[n++], 96, "fc fc2 in=300 out=100");
		snprintf(L[n++], 96, "relu relu2");
		snprintf(L[n++], 96, "fc fc3 in=100 out=%d", classes);
	} else if (!strcmp(spec, "lenet5")) {
		int h1 = (h - 4) / 2, w1 = (w - 4) / 2, h2 = (h1 - 4) / 2, w2 = (w1 - 4) / 2;
		if (h < 5 || w < 5 || h1 < 5 || w1 < 5 || h2 < 1 || w2 < 1)
			return dcc_fail(err, DCC_E_SHAPE, "lenet5 cannot fit %dx%d images (it needs at least 16x16)", h, w);
		snprintf(L[n++], 96, "conv2d conv1 in=%d out=20 k=5 stride=1 pad=0", c);
		snprintf(L[n++], 96, "maxpool2d pool1 k=2 stride=2");
		snprintf(L[n++], 96, "conv2d conv2 in=20 out=50 k=5 stride=1 pad=0");
		snprintf(L[n++], 96, "maxpool2d pool2 k=2 stride=2");
		snprintf(L[n++], 96, "flatten flatten");
		snprintf(L[n++], 96, "fc fc1 in=%d out=500", 50 * h2 * w2);
		snprintf(L[n++], 96, "relu relu1");
		snprintf(L[n++], 96, "fc fc2 in=500 out=%d", classes);
	} else if (!strcmp(spec, "lstm")) {
		if (c != 1)
			return dcc_fail(err, DCC_E_SHAPE, "the lstm network reads one-channel images row by row");
		snprintf(L[n++], 96, "lstm lstm in=%d hidden=128 steps=%d", w, h);
		snprintf(L[n++], 96, "fc fc in=128 out=%d", classes);
	} else if (!strncmp(spec, "mlp:", 4)) {
		long sizes[32];
		int k = 0;
		const char *p = spec + 4;
		while (*p && k < 32) {
			char *end;
			long v = strtol(p, &end, 10);
			if (end == p || v < 1 || v > (1L << 24))
				return dcc_fail(err, DCC_E_ARG, "network '%s': sizes must be positive integers joined by '-'", spec);
			sizes[k++] = v;
			p = *end == '-' ? end + 1 : end;
			if (*end && *end != '-')
				return dcc_fail(err, DCC_E_ARG, "network '%s': sizes must be positive integers joined by '-'", spec);
		}
		if (k < 2 || *p)
			return dcc_fail(err, DCC_E_ARG, "network '%s' needs at least an input and an output size", spec);
		if (sizes[0] != in)
			return dcc_fail(err, DCC_E_SHAPE, "network '%s' takes %ld inputs but the data has %dx%dx%d = %d", spec,
					sizes[0], c, h, w, in);
		if (sizes[k - 1] != classes)
			return dcc_fail(err, DCC_E_SHAPE, "network '%s' has %ld outputs but the data has %d classes", spec,
					sizes[k - 1], classes);
		snprintf(L[n++], 96, "flatten flatten");
		for (int i = 1; i < k; i++) {
			snprintf(L[n++], 96, "fc fc%d in=%ld out=%ld", i, sizes[i - 1], sizes[i]);
			if (i + 1 < k)
				snprintf(L[n++], 96, "relu relu%d", i);
		}
	} else if (!strncmp(spec, "cnn:", 4)) {
		/* cnn:C1,C2,...:F1,...: 3x3 convolutions (padding 1) of C channels each
		 * followed by ReLU and 2x2 max-pooling, then fc layers of F units with
		 * ReLU, then the classes */
		long conv[8], fcs[8];
		int nc = 0, nf = 0, part = 0;
		const char *q = spec + 4;
		while (*q) {
			char *end;
			long v = strtol(q, &end, 10);
			if (end == q || v < 1 || v > 4096 || (part ? nf : nc) == 8)
				return dcc_fail(err, DCC_E_ARG, "network '%s': cnn:C1,C2,...:F1,... with sizes 1..4096", spec);
			if (part)
				fcs[nf++] = v;
			else
				conv[nc++] = v;
			if (*end == ':' && !part)
				part = 1;
			else if (*end && *end != ',')
				return dcc_fail(err, DCC_E_ARG, "network '%s': cnn:C1,C2,...:F1,... with sizes 1..4096", spec);
			q = *end ? end + 1 : end;
		}
		if (!nc)
			return dcc_fail(err, DCC_E_ARG, "network '%s' needs at least one convolution", spec);
		int ch = c, hh = h, ww = w;
		for (int i = 0; i < nc; i++) {
			if (hh < 2 || ww < 2)
				return dcc_fail(err, DCC_E_SHAPE, "network '%s' pools %dx%d images below 1x1", spec, h, w);
			snprintf(L[n++], 96, "conv2d conv%d in=%d out=%ld k=3 stride=1 pad=1", i + 1, ch, conv[i]);
			snprintf(L[n++], 96, "relu crelu%d", i + 1);
			snprintf(L[n++], 96, "maxpool2d pool%d k=2 stride=2", i + 1);
			ch = (int)conv[i], hh /= 2, ww /= 2;
		}
		snprintf(L[n++], 96, "flatten flatten");
		long prev = (long)ch * hh * ww;
		for (int i = 0; i < nf; i++) {
			snprintf(L[n++], 96, "fc fc%d in=%ld out=%ld", i + 1, prev, fcs[i]);
			snprintf(L[n++], 96, "relu relu%d", i + 1);
			prev = fcs[i];
		}
		snprintf(L[n++], 96, "fc fc%d in=%ld out=%d", nf + 1, prev, classes);
	} else {
		return dcc_fail(err, DCC_E_ARG, "unknown network '%s' (lenet300, lenet5, lstm, mlp:IN-H1-...-OUT, cnn:C1,...:F1,...)",
				spec);
	}
	snprintf(L[n++], 96, "softmax_ce loss");
	int64_t shape[3] = {c, h, w};
	if (add_lines(m, L, n) || dcc_model_set_arr_i64(m, "dcc.input_shape", shape, 3) ||
	    dcc_model_set_i64(m, "dcc.classes", classes) || dcc_model_set_str(m, "dcc.net", spec))
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	return 0;
}

int dcc_net_init(dcc_model *m, uint64_t seed, dcc_error *err)
{
	const dcc_kv *g = dcc_model_get_kv(m, "dcc.graph");
	const dcc_kv *is = dcc_model_get_kv(m, "dcc.input_shape");
	if (!g || g->elem_type != DCC_KV_STR || !is || is->elem_type != DCC_KV_I64 || is->count != 3)
		return dcc_fail(err, DCC_E_NOTFOUND, "no network graph and input shape to initialise");
	dcc_rng r;
	dcc_rng_seed(&r, seed);
	int cc = (int)is->i[0], hh = (int)is->i[1], ww = (int)is->i[2], rc = 0;
	for (size_t i = 0; i < g->count && !rc; i++) {
		dcc_layer l;
		memset(&l, 0, sizeof(l));
		if ((rc = parse_line(g->s[i], &l, err))) {
			free(l.name);
			break;
		}
		l.ic = cc, l.ih = hh, l.iw = ww;
		rc = infer(&l, i + 1 == g->count, err);
		if (!rc && declare_params(&l))
			rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
		cc = l.oc, hh = l.oh, ww = l.ow;
		double fan = l.op == DCC_OP_FC ? l.in : l.op == DCC_OP_CONV2D ? (double)l.in * l.k * l.k : l.hidden;
		double bound = fan > 0 ? 1.0 / sqrt(fan) : 0;
		for (int k = 0; k < l.nparam && !rc; k++) {
			dcc_tensor *t;
			rc = dcc_model_add_zeros(m, l.p[k].name, DCC_F32, 0, 0, l.p[k].ndim, l.p[k].shape, &t, err);
			float *d = rc ? NULL : t->data;
			for (size_t j = 0; d && j < l.p[k].n; j++)
				d[j] = (float)((2.0 * dcc_rng_uniform(&r) - 1.0) * bound);
		}
		for (int k = 0; k < l.nparam; k++)
			free(l.p[k].name);
		free(l.name);
	}
	if (!rc)
		m->has_data = 1;
	return rc;
}

/* PyTorch's defaults: nn.Linear and nn.Conv2d draw weights and biases from
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)); nn.LSTM everything from
 * U(-1/sqrt(hidden), 1/sqrt(hidden)). */
int dcc_net_create(const char *spec, int c, int h, int w, int classes, uint64_t seed, dcc_model **out,
		   dcc_error *err)
{
	*out = NULL;
	dcc_model *m = dcc_model_new();
	if (!m)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	int rc = dcc_net_graph(spec, c, h, w, classes, m, err);
	if (!rc)
		rc = dcc_net_init(m, seed, err);
	if (rc) {
		dcc_model_free(m);
		return rc;
	}
	*out = m;
	return 0;
}
