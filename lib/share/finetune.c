/* finetune.c: centroid fine-tuning (Deep Compression): while the network
 * trains, each shared layer's weights are tied back to their centroids
 * after every update, a centroid moving by the sum of its weights'
 * updates; indices and masks never change. */
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "../dcc_share.h"

typedef struct tied {
	char *tensor;
	float *cb;         /* the model's codebook, updated in place */
	int k;
	uint16_t *idx;     /* unpacked indices */
	const uint8_t *mask;
	size_t n;
	double *delta;
} tied;

struct dcc_share_tie {
	tied *l;
	size_t n;
};

void dcc_share_tie_free(dcc_share_tie *t)
{
	for (size_t i = 0; t && i < t->n; i++)
		free(t->l[i].tensor), free(t->l[i].idx), free(t->l[i].delta);
	if (t)
		free(t->l);
	free(t);
}

int dcc_share_tie_new(dcc_model *m, const char *const *tensors, size_t n, dcc_share_tie **out, dcc_error *err)
{
	dcc_share_tie *t = calloc(1, sizeof(*t));
	*out = NULL;
	if (!t || !(t->l = calloc(n ? n : 1, sizeof(tied)))) {
		free(t);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		dcc_parts pt;
		dcc_parts_find(m, tensors[i], &pt);
		if (!dcc_parts_shared(&pt) || !pt.mask || pt.codebook->dtype != DCC_F32 ||
		    dcc_tensor_numel(pt.mask) != dcc_tensor_numel(pt.index) || pt.index->bits > 16) {
			dcc_share_tie_free(t);
			return dcc_fail(err, DCC_E_ARG, "'%s' is not a float shared layer with a mask", tensors[i]);
		}
		tied *l = &t->l[t->n++];
		l->tensor = dcc_strdup(tensors[i]);
		l->cb = pt.codebook->data;
		l->k = (int)pt.codebook->shape[0];
		l->n = (size_t)dcc_tensor_numel(pt.index);
		l->mask = pt.mask->data;
		l->idx = malloc((l->n ? l->n : 1) * sizeof(uint16_t));
		l->delta = malloc((size_t)l->k * sizeof(double));
		if (!l->tensor || !l->idx || !l->delta) {
			dcc_share_tie_free(t);
			return dcc_fail(err, DCC_E_NOMEM, "out of memory");
		}
		for (size_t q = 0; q < l->n; q++)
			l->idx[q] = (uint16_t)dcc_packed_get(pt.index->data, pt.index->bits, q);
	}
	*out = t;
	return 0;
}

size_t dcc_share_tie_count(const dcc_share_tie *t) { return t->n; }
const char *dcc_share_tie_tensor(const dcc_share_tie *t, size_t i) { return t->l[i].tensor; }

void dcc_share_tie_step(dcc_share_tie *t, size_t i, float *w)
{
	tied *l = &t->l[i];
	memset(l->delta, 0, (size_t)l->k * sizeof(double));
	for (size_t q = 0; q < l->n; q++)
		if ((l->mask[q / 8] >> (q % 8)) & 1)
			l->delta[l->idx[q]] += (double)w[q] - l->cb[l->idx[q]];
	for (int j = 0; j < l->k; j++)
		l->cb[j] = (float)(l->cb[j] + l->delta[j]);
	for (size_t q = 0; q < l->n; q++)
		if ((l->mask[q / 8] >> (q % 8)) & 1)
			w[q] = l->cb[l->idx[q]];
}

void dcc_share_tie_finish(dcc_share_tie *t, dcc_model *m)
{
	char nm[DCC_MAX_NAME + 16];
	for (size_t i = 0; i < t->n; i++) { /* the codebooks changed under their counts */
		dcc_tensor *cb = dcc_model_find(m, dcc_part_name(nm, sizeof(nm), t->l[i].tensor, DCC_PART_CODEBOOK));
		if (cb)
			cb->nnz = dcc_tensor_count_nonzero(cb);
	}
}
