/* fold.c: batch normalisation and constant affines folded into the layer
 * before them, for the stages that compute in integers (fixed point, the
 * accelerator): with s = weight / sqrt(running_var + eps) per channel (an
 * affine's: its scale, its mean 0), that layer's rows are scaled by s and
 * its bias becomes (bias - running_mean) s + bias_bn (the shift), in
 * double; the folded line and tensors go, what read it reads the layer, and
 * every fc or conv2d without a bias gets a zero one.  A chain of them after
 * one layer folds in order; one with no such layer before it becomes a
 * depthwise 1x1 conv2d of its own (to_scale). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "../dcc_nn.h"

static int has_rows(int op) { return op == DCC_OP_FC || op == DCC_OP_CONV2D; }

/* The C-channel tensors of batchnorm or affine b: weight, bias,
 * running_mean, running_var, or scale, shift. */
static int norm_params(const dcc_model *m, const dcc_node *b, size_t C, const dcc_tensor *st[4], dcc_error *err)
{
	for (int k = 0; k < b->nparam; k++)
		if (!(st[k] = dcc_model_find(m, b->p[k].name)) || st[k]->dtype != DCC_F32 || !st[k]->data ||
		    (size_t)dcc_tensor_numel(st[k]) != C)
			return dcc_fail(err, DCC_E_FORMAT, "layer '%s': tensor '%s' is missing or not %zu f32", b->name,
					b->p[k].name, C);
	return 0;
}

/* Channel c of b as x s + ((bias - running_mean) s + bias_bn), in double:
 * s returned, the shift through *shift for a layer bias of bias_c. */
static double norm_scale(const dcc_node *b, const dcc_tensor *const st[4], size_t c, double bias_c, double *shift)
{
	int aff = b->op == DCC_OP_AFFINE;
	const float *g = st[0]->data, *be = st[1]->data;
	double s = aff ? (double)g[c] : (double)g[c] / sqrt((double)((const float *)st[3]->data)[c] + (double)b->eps);
	*shift = (bias_c - (aff ? 0 : (double)((const float *)st[2]->data)[c])) * s + be[c];
	return s;
}

/* b's tensors go (a batchnorm's num_batches_tracked too), and a provenance
 * line says what absorbed it. */
static int norm_drop(dcc_model *m, const dcc_node *b, const char *into, dcc_error *err)
{
	char nm[DCC_MAX_NAME + 32], line[3 * DCC_MAX_NAME];
	for (int k = 0; k < b->nparam; k++)
		dcc_model_remove(m, b->p[k].name);
	if (b->op == DCC_OP_AFFINE) {
		snprintf(line, sizeof(line), "fold affine=%s into=%s", b->name, into);
	} else {
		snprintf(nm, sizeof(nm), "%s.num_batches_tracked", b->name);
		dcc_model_remove(m, nm);
		snprintf(line, sizeof(line), "fold batchnorm=%s into=%s epsilon=%g", b->name, into, (double)b->eps);
	}
	return dcc_model_append_str(m, "dcc.provenance", line, err);
}

/* Layer l (fc or conv2d) absorbs batchnorm or affine b (NULL: only a zero
 * bias). */
static int fold_one(dcc_model *m, const dcc_node *l, const dcc_node *b, dcc_error *err)
{
	dcc_tensor *w = dcc_model_find(m, l->p[0].name), *bias = l->bias ? dcc_model_find(m, l->p[1].name) : NULL;
	const dcc_tensor *st[4] = {NULL};
	size_t C = (size_t)l->oc;
	int rc = b ? norm_params(m, b, C, st, err) : 0;
	if (rc)
		return rc;
	if (b && (!w || w->dtype != DCC_F32 || !w->data || (l->bias && (!bias || bias->dtype != DCC_F32))))
		return dcc_fail(err, DCC_E_UNSUPPORTED, "layer '%s' is shared or fixed point: fold its batchnorm '%s' "
				"first (dcc fold), then share or quantise", l->name, b->name);
	size_t per = w ? (size_t)(dcc_tensor_numel(w) / C) : 0;
	float *nb = calloc(C, sizeof(float));
	if (!nb)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	if (b) {
		float *wd = w->data;
		for (size_t c = 0; c < C; c++) {
			double sh, s = norm_scale(b, st, c, bias ? (double)((const float *)bias->data)[c] : 0, &sh);
			for (size_t i = 0; i < per; i++)
				wd[c * per + i] = (float)((double)wd[c * per + i] * s);
			nb[c] = (float)sh;
		}
	}
	char nm[DCC_MAX_NAME + 32], line[3 * DCC_MAX_NAME];
	if (bias) {
		memcpy(bias->data, nb, C * sizeof(float));
		free(nb);
	} else {
		uint64_t shape[1] = {C};
		snprintf(nm, sizeof(nm), "%s.bias", l->name);
		rc = dcc_model_add(m, nm, DCC_F32, 0, 0, 1, shape, nb, err);
	}
	if (rc || b)
		return rc ? rc : norm_drop(m, b, l->name, err);
	snprintf(line, sizeof(line), "fold bias=%s zeros", l->name);
	return dcc_model_append_str(m, "dcc.provenance", line, err);
}

/* Batchnorm or affine b, with no fc or conv2d of its own before it (after a
 * concat, a ReLU, the input), becomes a per-channel scale: a depthwise 1x1
 * conv2d of its name, weight (C, 1, 1, 1) = s and bias = the shift, which
 * every integer stage already runs.  A map's channels or a vector's
 * features only (a batchnorm per element of a map has no such form). */
static int to_scale(dcc_model *m, const dcc_node *b, dcc_error *err)
{
	if (!b->hwc && b->ih * b->iw != 1)
		return dcc_fail(err, DCC_E_UNSUPPORTED, "layer '%s' (%s) normalises each element of a %dx%dx%d map: dcc "
				"cannot fold it", b->name, dcc_op_name(b->op), b->ic, b->ih, b->iw);
	const dcc_tensor *st[4] = {NULL};
	size_t C = (size_t)b->ic;
	int rc = norm_params(m, b, C, st, err);
	if (rc)
		return rc;
	float *w = malloc(C * sizeof(float)), *sh = malloc(C * sizeof(float));
	if (!w || !sh) {
		free(w);
		free(sh);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	for (size_t c = 0; c < C; c++) {
		double shift;
		w[c] = (float)norm_scale(b, st, c, 0, &shift);
		sh[c] = (float)shift;
	}
	char nm[DCC_MAX_NAME + 32];
	uint64_t ws[4] = {C, 1, 1, 1}, bs[1] = {C};
	if ((rc = norm_drop(m, b, "itself as=depthwise", err))) { /* the weight's name may be the batchnorm's own */
		free(w);
		free(sh);
		return rc;
	}
	snprintf(nm, sizeof(nm), "%s.weight", b->name);
	rc = dcc_model_add(m, nm, DCC_F32, 0, 0, 4, ws, w, err);
	snprintf(nm, sizeof(nm), "%s.bias", b->name);
	if (rc)
		free(sh);
	else
		rc = dcc_model_add(m, nm, DCC_F32, 0, 0, 1, bs, sh, err);
	return rc;
}

/* Value v with folded batchnorms looked through: the layer each came after. */
static int through(const dcc_graph *g, const char *drop, int v)
{
	while (v > 0 && drop[v - 1])
		v = g->nodes[v - 1].src[0];
	return v;
}

/* Line i without its from= and bias=0, and with the from= it now needs. */
static char *relink(const dcc_graph *g, const char *drop, const char *line, size_t i)
{
	const dcc_node *l = &g->nodes[i];
	size_t cap = strlen(line) + DCC_NODE_MAX_IN * (DCC_MAX_NAME + 1) + 16, k = 0;
	char *o = malloc(cap);
	if (!o)
		return NULL;
	for (const char *p = line; *p;) {
		size_t len = strcspn(p, " ");
		if (!(len > 5 && !strncmp(p, "from=", 5)) && !(len == 6 && !strncmp(p, "bias=0", 6))) {
			memcpy(o + k, p, len);
			k += len;
			o[k++] = ' ';
		}
		p += len;
		p += *p == ' ';
	}
	k -= k > 0;
	int prev = (int)i; /* the value a line reads by default: the kept line before it */
	while (prev > 0 && drop[prev - 1])
		prev--;
	int v0 = through(g, drop, l->src[0]);
	if (l->nin == 1 && v0 == prev) {
		o[k] = 0;
		return o;
	}
	k += (size_t)snprintf(o + k, cap - k, " from=");
	for (int j = 0; j < l->nin; j++) {
		int v = through(g, drop, l->src[j]);
		k += (size_t)snprintf(o + k, cap - k, "%s%s", j ? "," : "", dcc_graph_value_name(g, v));
	}
	return o;
}

int dcc_fold_batchnorm(dcc_model *m, size_t *nfold, dcc_error *err)
{
	*nfold = 0;
	dcc_graph *g;
	int rc = dcc_graph_read(m, &g, err);
	if (rc)
		return rc;
	char *drop = calloc(3 * g->n + 1, 1), *absorbed = drop ? drop + g->n : NULL, *scale = drop ? drop + 2 * g->n : NULL;
	size_t nb = 0, nz = 0, ns = 0;
	if (!drop)
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	for (size_t i = 0; !rc && i < g->n; i++) {
		const dcc_node *b = &g->nodes[i];
		if (b->op != DCC_OP_BATCHNORM && b->op != DCC_OP_AFFINE)
			continue;
		int v = b->src[0], sole = 1; /* through what folded before it, each read by the next alone */
		for (; v > 0 && drop[v - 1]; v = g->nodes[v - 1].src[0])
			sole &= g->nodes[v - 1].nuse == 1;
		const dcc_node *l = v ? &g->nodes[v - 1] : NULL;
		if (!l || !has_rows(l->op) || l->nuse != 1 || !sole) {
			if (!(rc = to_scale(m, b, err)))
				scale[i] = 1, ns++;
		} else if (!(rc = fold_one(m, l, b, err)))
			drop[i] = 1, absorbed[v - 1] = 1, nb++;
	}
	for (size_t i = 0; !rc && i < g->n; i++) { /* a layer without a bias and no batchnorm after it */
		const dcc_node *l = &g->nodes[i];
		if (has_rows(l->op) && !l->bias && !absorbed[i] && !(rc = fold_one(m, l, NULL, err)))
			nz++;
	}
	const dcc_kv *gk = dcc_model_get_kv(m, "dcc.graph");
	char **lines = rc || !(nb + nz + ns) ? NULL : calloc(g->n, sizeof(char *));
	size_t k = 0;
	if (!rc && (nb + nz + ns) && !lines)
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	for (size_t i = 0; lines && !rc && i < g->n; i++) {
		char conv[DCC_MAX_NAME + 96];
		const dcc_node *b = &g->nodes[i];
		if (scale[i])
			snprintf(conv, sizeof(conv), "conv2d %s in=%d out=%d k=1 group=%d", b->name, b->ic, b->ic, b->ic);
		if (!drop[i] && !(lines[k++] = relink(g, drop, scale[i] ? conv : gk->s[i], i)))
			rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	if (lines && !rc)
		rc = dcc_model_set_arr_str(m, "dcc.graph", (const char *const *)lines, k, err);
	for (size_t i = 0; lines && i < k; i++)
		free(lines[i]);
	free(lines);
	free(drop);
	dcc_graph_free(g);
	*nfold = nb + ns;
	return rc;
}
