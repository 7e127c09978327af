/* dense.c: a weight's parts (W, W.codebook, W.index, W.mask: the one place
 * that spells their names), and the plain float view of a compressed
 * model -- what a PyTorch user loads.  Shared weights become codebook[index] (zero where masked), fixed-point
 * tensors become their real values, and companion tensors (masks, codebooks,
 * indices) are left out. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char *const part_suffix[DCC_PART_COUNT] = {"", ".codebook", ".index", ".mask"};

const char *dcc_part_name(char *buf, size_t cap, const char *base, int part)
{
	snprintf(buf, cap, "%s%s", base, part_suffix[part]);
	return buf;
}

void dcc_parts_find(const dcc_model *m, const char *base, dcc_parts *p)
{
	char nm[DCC_MAX_NAME + 16];
	p->weight = dcc_model_find(m, dcc_part_name(nm, sizeof(nm), base, DCC_PART_WEIGHT));
	p->codebook = dcc_model_find(m, dcc_part_name(nm, sizeof(nm), base, DCC_PART_CODEBOOK));
	p->index = dcc_model_find(m, dcc_part_name(nm, sizeof(nm), base, DCC_PART_INDEX));
	p->mask = dcc_model_find(m, dcc_part_name(nm, sizeof(nm), base, DCC_PART_MASK));
}

static const char *bank_key(char *buf, size_t cap, const char *tensor)
{
	snprintf(buf, cap, "dcc.bank.%s", tensor);
	return buf;
}

int dcc_model_bank(const dcc_model *m, const char *tensor)
{
	char k[DCC_MAX_NAME + 16];
	const dcc_kv *kv = dcc_model_get_kv(m, bank_key(k, sizeof(k), tensor));
	return kv && kv->type == DCC_KV_I64 && kv->i[0] >= 1 && kv->i[0] <= 65535 ? (int)kv->i[0] : 0;
}

int dcc_model_set_bank(dcc_model *m, const char *tensor, int bank, dcc_error *err)
{
	char k[DCC_MAX_NAME + 16];
	bank_key(k, sizeof(k), tensor);
	if (bank <= 0) {
		dcc_model_del_kv(m, k);
		return 0;
	}
	return dcc_model_set_i64(m, k, bank, err);
}

static int has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), k = strlen(suf);
	return n > k && !strcmp(s + n - k, suf);
}

/* The base name of a companion tensor ("fc1.weight.mask" -> "fc1.weight"),
 * or NULL when name is not a companion. */
static char *companion_base(const char *name)
{
	for (int i = DCC_PART_CODEBOOK; i < DCC_PART_COUNT; i++)
		if (has_suffix(name, part_suffix[i])) {
			char *b = dcc_strdup(name);
			if (b)
				b[strlen(name) - strlen(part_suffix[i])] = 0;
			return b;
		}
	return NULL;
}

int dcc_shared_dequantize(const dcc_model *m, const char *base, float **out, dcc_error *err)
{
	*out = NULL;
	dcc_parts pt;
	dcc_parts_find(m, base, &pt);
	const dcc_tensor *cb = pt.codebook, *ix = pt.index, *mk = pt.mask;
	if (!cb || !ix)
		return dcc_fail(err, DCC_E_NOTFOUND, "'%s' has no codebook and index", base);
	if ((cb->dtype != DCC_F32 && cb->dtype != DCC_Q8 && cb->dtype != DCC_Q16 && cb->dtype != DCC_Q32) ||
	    cb->ndim != 1 || ix->dtype != DCC_PACKED)
		return dcc_fail(err, DCC_E_FORMAT, "'%s': codebook must be 1-d f32 or fixed point and index packed", base);
	if (cb->shape[0] < (1ull << ix->bits))
		return dcc_fail(err, DCC_E_FORMAT, "'%s': %d-bit index but %llu codebook entries", base, ix->bits,
				(unsigned long long)cb->shape[0]);
	uint64_t n = dcc_tensor_numel(ix);
	if (mk && (mk->dtype != DCC_MASK || dcc_tensor_numel(mk) != n))
		return dcc_fail(err, DCC_E_SHAPE, "'%s': mask does not match the index", base);
	float *w = malloc(n ? n * sizeof(float) : 1);
	if (!w)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	uint64_t k = 1ull << ix->bits;
	float *c = malloc(k * sizeof(float)); /* the codebook's values (fixed point too) */
	if (!c) {
		free(w);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	for (uint64_t j = 0; j < k; j++)
		c[j] = (float)dcc_tensor_get(cb, j);
	const uint8_t *mb = mk ? mk->data : NULL;
	for (uint64_t i = 0; i < n; i++)
		w[i] = (!mb || (mb[i / 8] >> (i % 8) & 1)) ? c[dcc_packed_get(ix->data, ix->bits, i)] : 0.0f;
	free(c);
	*out = w;
	return 0;
}

void dcc_model_import_layout(dcc_model *sd, const dcc_model *m)
{
	const dcc_kv *lin = dcc_model_get_kv(m, "dcc.linear");
	for (size_t i = 0; lin && lin->type == DCC_KV_ARR && lin->elem_type == DCC_KV_STR && i < lin->count; i++) {
		dcc_tensor *t = dcc_model_find(sd, lin->s[i]);
		if (t && t->ndim == 4 && t->shape[2] == 1) {
			t->shape[1] *= t->shape[3];
			t->ndim = 2;
		}
	}
	const dcc_kv *hw = dcc_model_get_kv(m, "dcc.flatten_hwc");
	for (size_t i = 0; hw && hw->type == DCC_KV_ARR && hw->elem_type == DCC_KV_STR && i < hw->count; i++) {
		char name[DCC_MAX_NAME + 1];
		unsigned long long C, H, W;
		if (sscanf(hw->s[i], "%1024s %llu %llu %llu", name, &C, &H, &W) != 4 || !C || !H || !W)
			continue;
		dcc_tensor *t = dcc_model_find(sd, name);
		uint64_t in = t && t->ndim == 2 && t->dtype == DCC_F32 ? t->shape[1] : 0, HW = H * W;
		float *row = in && C <= in && HW <= in / C && C * HW == in ? malloc(in * sizeof(float)) : NULL;
		for (uint64_t o = 0; row && o < t->shape[0]; o++) {
			float *w = (float *)t->data + o * in;
			memcpy(row, w, in * sizeof(float));
			for (uint64_t c = 0; c < C; c++)
				for (uint64_t p = 0; p < HW; p++)
					w[p * C + c] = row[c * HW + p];
		}
		free(row);
	}
}

int dcc_model_state_dict(const dcc_model *m, dcc_model **out, dcc_error *err)
{
	dcc_model *d = dcc_model_new();
	*out = NULL;
	if (!d)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	int rc = 0;
	for (size_t i = 0; i < m->ntensors && !rc; i++) {
		const dcc_tensor *t = &m->tensors[i];
		char *base = companion_base(t->name);
		if (base) {
			dcc_parts pt;
			dcc_parts_find(m, base, &pt);
			int shared = dcc_parts_shared(&pt), companion = pt.weight || shared;
			/* A shared weight appears once, in place of its index tensor. */
			if (companion && shared && !pt.weight && t == pt.index) {
				float *w;
				rc = dcc_shared_dequantize(m, base, &w, err);
				if (!rc)
					rc = dcc_model_add(d, base, DCC_F32, 0, 0, t->ndim, t->shape, w, err);
			}
			free(base);
			if (companion)
				continue;
		}
		if (t->dtype == DCC_Q8 || t->dtype == DCC_Q16 || t->dtype == DCC_Q32) {
			float *w = dcc_tensor_to_f32(t);
			if (!w) {
				rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
				break;
			}
			rc = dcc_model_add(d, t->name, DCC_F32, 0, 0, t->ndim, t->shape, w, err);
			continue;
		}
		void *p = malloc(t->nbytes ? t->nbytes : 1);
		if (!p) {
			rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
			break;
		}
		memcpy(p, t->data, t->nbytes);
		rc = dcc_model_add(d, t->name, t->dtype, t->bits, t->fl, t->ndim, t->shape, p, err);
	}
	for (size_t i = 0; i < m->nkv && !rc; i++) {
		/* Carry the metadata (safetensors keys among it). */
		const dcc_kv *kv = &m->kv[i];
		if (kv->type == DCC_KV_STR)
			rc = dcc_model_set_str(d, kv->key, kv->s[0], err);
	}
	if (rc) {
		dcc_model_free(d);
		return rc;
	}
	d->has_data = 1;
	*out = d;
	return 0;
}
