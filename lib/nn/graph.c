/* graph.c: the float network on a graph (lib/core reads the graph):
 * binding each layer's parameters to the model's tensors, and the built-in
 * networks (lenet300, lenet5, lstm, mlp:..., cnn:...) with PyTorch's
 * default initialisation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "../dcc_nn.h"






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
			if (!(p->w = dcc_tensor_to_f32(t)))
				return dcc_fail(err, DCC_E_NOMEM, "out of memory");
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

void dcc_net_free(dcc_net *n)
{
	if (!n)
		return;
	dcc_graph_free(n->graph);
	free(n);
}

float *dcc_net_param(const dcc_net *n, const char *name)
{
	for (size_t i = 0; i < n->nlayers; i++)
		for (int k = 0; k < n->layers[i].nparam; k++)
			if (!strcmp(n->layers[i].p[k].name, name))
				return n->layers[i].p[k].w;
	return NULL;
}

int dcc_net_from_model(dcc_model *m, dcc_net **out, dcc_error *err)
{
	*out = NULL;
	dcc_graph *g;
	int rc = dcc_graph_read(m, &g, err);
	if (rc)
		return rc;
	dcc_net *n = calloc(1, sizeof(*n));
	if (!n) {
		dcc_graph_free(g);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	n->graph = g;
	n->model = m;
	n->layers = g->nodes, n->nlayers = g->n;
	n->in_c = g->in_c, n->in_h = g->in_h, n->in_w = g->in_w, n->classes = g->classes;
	n->netname = g->netname;
	n->head = n->layers[n->nlayers - 1].op; /* dcc_graph_read checked: a loss */
	rc = dcc_norm_of(m, n->in_c, n->in_h, n->in_w, &n->norm, err);
	for (size_t i = 0; i < n->nlayers && !rc; i++)
		for (int k = 0; k < n->layers[i].nparam && !rc; k++)
			rc = bind(m, &n->layers[i].p[k], err);
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
	return dcc_model_set_arr_str(m, "dcc.graph", p, n, NULL);
}

int dcc_net_graph(const char *spec, int c, int h, int w, int classes, int head, dcc_model *m, dcc_error *err)
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
			return head == DCC_OP_SOFTMAX_CE
				       ? dcc_fail(err, DCC_E_SHAPE, "network '%s' has %ld outputs but the data has %d classes "
						  "(mlp:...-%d)", spec, sizes[k - 1], classes, classes)
				       : dcc_fail(err, DCC_E_SHAPE, "network '%s' has %ld outputs but the %s head needs %d "
						  "(mlp:...-%d)", spec, sizes[k - 1], dcc_op_name(head), classes, classes);
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
	if (!dcc_op_is_loss(head))
		return dcc_fail(err, DCC_E_ARG, "'%s' is not a loss", dcc_op_name(head));
	snprintf(L[n++], 96, "%s loss", dcc_op_name(head));
	int64_t shape[3] = {c, h, w};
	int rc = add_lines(m, L, n);
	if (rc || (rc = dcc_model_set_arr_i64(m, "dcc.input_shape", shape, 3, err)) ||
	    (rc = dcc_model_set_i64(m, "dcc.classes", classes, err)) || (rc = dcc_model_set_str(m, "dcc.net", spec, err)))
		return rc == DCC_E_NOMEM ? dcc_fail(err, rc, "out of memory") : rc;
	return 0;
}

int dcc_net_init(dcc_model *m, uint64_t seed, dcc_error *err)
{
	dcc_graph *g;
	int rc = dcc_graph_read(m, &g, err);
	if (rc)
		return rc;
	dcc_rng r;
	dcc_rng_seed(&r, seed);
	for (size_t i = 0; i < g->n && !rc; i++) {
		const dcc_node *l = &g->nodes[i];
		double fan = l->op == DCC_OP_FC ? l->in
			   : l->op == DCC_OP_CONV2D ? (double)l->in / l->group * l->k * l->k : l->hidden;
		double bound = fan > 0 ? 1.0 / sqrt(fan) : 0;
		for (int k = 0; k < l->nparam && !rc; k++) {
			dcc_tensor *t;
			rc = dcc_model_add_zeros(m, l->p[k].name, DCC_F32, 0, 0, l->p[k].ndim, l->p[k].shape, &t, err);
			float *d = rc ? NULL : t->data;
			/* batchnorm: weight and running_var 1, bias and running_mean 0 */
			float bn = l->op != DCC_OP_BATCHNORM ? -1 : k == 0 || k == 3 ? 1 : 0;
			for (size_t j = 0; d && j < l->p[k].n; j++)
				d[j] = bn >= 0 ? bn : (float)((2.0 * dcc_rng_uniform(&r) - 1.0) * bound);
		}
	}
	dcc_graph_free(g);
	if (!rc)
		m->has_data = 1;
	return rc;
}

int dcc_head_for_data(const dcc_dataset *d)
{
	return d->labels == DCC_LABELS_TARGET ? DCC_OP_MSE : DCC_OP_SOFTMAX_CE;
}

int dcc_head_from_name(const char *loss)
{
	return !strcmp(loss, "ce") ? DCC_OP_SOFTMAX_CE : !strcmp(loss, "bce") ? DCC_OP_BCE
	     : !strcmp(loss, "mse") ? DCC_OP_MSE : -1;
}

int dcc_head_outputs(int head, const dcc_dataset *d)
{
	return head == DCC_OP_BCE && d->labels == DCC_LABELS_CLASS && d->classes <= 2 ? 1 : d->classes;
}

/* PyTorch's defaults: nn.Linear and nn.Conv2d draw weights and biases from
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)); nn.LSTM everything from
 * U(-1/sqrt(hidden), 1/sqrt(hidden)). */
int dcc_net_create(const char *spec, int c, int h, int w, int classes, int head, uint64_t seed, dcc_model **out,
		   dcc_error *err)
{
	*out = NULL;
	dcc_model *m = dcc_model_new();
	if (!m)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	int rc = dcc_net_graph(spec, c, h, w, classes, head, m, err);
	if (!rc)
		rc = dcc_net_init(m, seed, err);
	if (rc) {
		dcc_model_free(m);
		return rc;
	}
	*out = m;
	return 0;
}
