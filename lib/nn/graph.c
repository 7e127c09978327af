/* graph.c: the float network on a graph (lib/core reads the graph):
 * binding each layer's parameters to the model's tensors, and PyTorch's
 * default initialisation of a graph's parameters (zoo.c writes the
 * built-in graphs). */
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
			   : l->op == DCC_OP_CONV2D ? (double)l->in / l->group * l->geo.kh * l->geo.kw : l->hidden;
		double bound = fan > 0 ? 1.0 / sqrt(fan) : 0;
		for (int k = 0; k < l->nparam && !rc; k++) {
			dcc_tensor *t;
			rc = dcc_model_add_zeros(m, l->p[k].name, DCC_F32, 0, 0, l->p[k].ndim, l->p[k].shape, &t, err);
			float *d = rc ? NULL : t->data;
			/* batchnorm: weight and running_var 1, bias and running_mean 0;
			 * affine: scale 1, shift 0 (the identity) */
			float bn = l->op == DCC_OP_AFFINE ? (k == 0) : l->op != DCC_OP_BATCHNORM ? -1 : k == 0 || k == 3 ? 1 : 0;
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
