/* blob.c: the layers of the .dcb blob (formats/dcb.md) in memory.  Build:
 * every shared or fixed-point weight layer becomes relative-index sparse
 * streams (CSC, EIE's per-PE CSC or compressed sparse banks), each packed
 * raw or Huffman- or zstd-coded, whichever is smaller; everything else
 * (graph, metadata, biases, codebooks) stays in the embedded container.
 * Unpack: the exact inverse, from a blob formats/dcb.c has read and checked.
 * The bytes around the streams are formats/dcb.c's. */
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "../core/internal.h"
#include "../dcc_encode.h"

static int bits_for(uint64_t alphabet)
{
	int b = 0;
	while (b < 32 && (1ull << b) < alphabet)
		b++;
	return b ? b : 1;
}

/* One stream: the smallest of raw packing and the chosen coder. */
static int code_stream(dcc_stream *st, const uint32_t *sym, size_t n, uint32_t alphabet, int min_bits, int entropy,
		       dcc_error *err)
{
	int rb = bits_for(alphabet);
	if (rb < min_bits)
		rb = min_bits;
	size_t rawlen = (size_t)(((uint64_t)n * (uint64_t)rb + 7) / 8);
	uint8_t *raw = calloc(rawlen ? rawlen : 1, 1);
	if (!raw)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	uint64_t acc = 0;
	int have = 0;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		acc |= (uint64_t)sym[i] << have;
		have += rb;
		while (have >= 8) {
			raw[o++] = (uint8_t)acc;
			acc >>= 8;
			have -= 8;
		}
	}
	if (have)
		raw[o++] = (uint8_t)acc;
	uint8_t *alt = NULL;
	size_t altlen = 0, tb = 0;
	if (entropy == DCC_ENTROPY_HUFFMAN && alphabet <= (1u << 20)) {
		if (dcc_huff_encode(sym, n, alphabet, &alt, &altlen, &tb, err)) {
			free(raw);
			return err->code;
		}
	} else if (entropy == DCC_ENTROPY_ZSTD && rawlen) {
		size_t cap = ZSTD_compressBound(rawlen);
		alt = malloc(cap);
		if (alt) {
			altlen = ZSTD_compress(alt, cap, raw, rawlen, 19);
			if (ZSTD_isError(altlen))
				altlen = SIZE_MAX;
		}
	}
	memset(st, 0, sizeof(*st));
	if (alt && altlen < rawlen) {
		free(raw);
		st->owned = alt, st->len = altlen, st->coding = entropy, st->table_bytes = tb;
	} else {
		free(alt);
		st->owned = raw, st->len = rawlen, st->coding = DCC_ENTROPY_NONE;
	}
	st->data = st->owned;
	st->raw_bits = rb;
	st->alphabet = alphabet;
	st->symbols = n;
	st->entropy_bits = dcc_entropy_bits(sym, n, alphabet);
	return 0;
}

/* A stream's symbols; its size and geometry were checked by the reader
 * against its layer, so the allocation is bounded by the layer. */
static int decode_stream(dcc_stream *st, uint32_t **out, dcc_error *err)
{
	size_t ns = (size_t)st->symbols;
	int rb = st->raw_bits;
	uint64_t rawlen = (st->symbols * (uint64_t)rb + 7) / 8;
	uint32_t *s = malloc(ns ? ns * sizeof(uint32_t) : 1);
	if (!s)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	int rc = 0;
	uint8_t *unz = NULL;
	if (st->coding == DCC_ENTROPY_HUFFMAN) {
		rc = dcc_huff_decode(st->data, st->len, ns, st->alphabet, s, err);
	} else {
		const uint8_t *raw = st->data;
		if (st->coding == DCC_ENTROPY_ZSTD) {
			if (ZSTD_getFrameContentSize(st->data, st->len) != rawlen || !(unz = malloc(rawlen ? rawlen : 1)) ||
			    ZSTD_decompress(unz, rawlen, st->data, st->len) != rawlen)
				rc = dcc_fail(err, DCC_E_FORMAT, "zstd stream corrupt");
			raw = unz;
		} else if (st->len != rawlen) {
			rc = dcc_fail(err, DCC_E_FORMAT, "stream sizes inconsistent");
		}
		uint64_t acc = 0;
		int have = 0;
		size_t o = 0;
		for (uint64_t i = 0; !rc && i < ns; i++) {
			while (have < rb) {
				acc |= (uint64_t)raw[o++] << have;
				have += 8;
			}
			s[i] = (uint32_t)(acc & ((rb == 32) ? 0xffffffffu : ((1u << rb) - 1)));
			acc >>= rb;
			have -= rb;
			if (s[i] >= st->alphabet)
				rc = dcc_fail(err, DCC_E_FORMAT, "symbol %u outside the alphabet of %u", s[i], st->alphabet);
		}
	}
	free(unz);
	if (rc) {
		free(s);
		return rc;
	}
	if (st->coding == DCC_ENTROPY_HUFFMAN) { /* the table's share: varint m, then m (varint, u8) */
		const uint8_t *pl = st->data;
		size_t q = 0, m = 0, sz = st->len;
		int sh = 0;
		while (q < sz && (pl[q] & 0x80) && sh < 56)
			m |= (size_t)(pl[q++] & 0x7f) << sh, sh += 7;
		if (q < sz)
			m |= (size_t)pl[q++] << sh;
		for (size_t k = 0; k < m && q < sz; k++) {
			while (q < sz && (pl[q] & 0x80))
				q++;
			q += 2;
		}
		st->table_bytes = q < sz ? q : sz;
	}
	st->entropy_bits = dcc_entropy_bits(s, ns, st->alphabet);
	*out = s;
	return 0;
}

/* ---- which tensors are encoded layers ---- */

typedef struct lay {
	const dcc_tensor *w;   /* fixed: the weight; shared: the index */
	const dcc_tensor *cb;  /* shared: the codebook */
	const dcc_tensor *mask;
	char base[DCC_MAX_NAME + 1];
	int shared, bw;
} lay;

static int find_layers(const dcc_model *m, lay **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	lay *v = calloc(m->ntensors + 1, sizeof(lay));
	if (!v)
		return -1;
	char nm[DCC_MAX_NAME + 16];
	for (size_t i = 0; i < m->ntensors; i++) {
		const dcc_tensor *t = &m->tensors[i];
		size_t L = strlen(t->name);
		lay *l = &v[*n];
		if (t->dtype == DCC_PACKED && L > 6 && !strcmp(t->name + L - 6, ".index") && t->ndim >= 2) {
			memcpy(l->base, t->name, L - 6);
			l->base[L - 6] = 0;
			dcc_parts pt;
			dcc_parts_find(m, l->base, &pt);
			if (!(l->cb = pt.codebook) || pt.weight)
				continue;
			l->w = t;
			l->shared = 1;
			l->bw = t->bits;
		} else if ((t->dtype == DCC_Q8 || t->dtype == DCC_Q16) && t->ndim >= 2) {
			snprintf(l->base, sizeof(l->base), "%s", t->name);
			l->w = t;
			l->bw = t->dtype == DCC_Q8 ? 8 : 16;
		} else {
			continue;
		}
		l->mask = dcc_model_find(m, dcc_part_name(nm, sizeof(nm), l->base, DCC_PART_MASK));
		if (l->mask && (l->mask->dtype != DCC_MASK || dcc_tensor_numel(l->mask) != dcc_tensor_numel(l->w)))
			l->mask = NULL;
		(*n)++;
	}
	*out = v;
	return 0;
}

/* The fixed-point width dcc fixed recorded for a weight ("fc1.weight"). */
static int fixed_bw(const dcc_model *m, const char *tensor, int dflt)
{
	const dcc_kv *kv = dcc_model_get_kv(m, "dcc.fixed");
	size_t L = strlen(tensor);
	if (!kv || kv->type != DCC_KV_ARR || kv->elem_type != DCC_KV_STR || L < 8 || strcmp(tensor + L - 7, ".weight"))
		return dflt;
	for (size_t i = 0; i < kv->count; i++) {
		const char *s = kv->s[i];
		if (!strncmp(s, tensor, L - 7) && s[L - 7] == ' ') {
			const char *w = strstr(s, " w_bw=");
			if (w) {
				int b = atoi(w + 6);
				if (b >= 1 && b <= dflt)
					return b;
			}
		}
	}
	return dflt;
}

static int32_t q_get(const dcc_tensor *t, size_t i)
{
	const uint8_t *p = t->data;
	return t->dtype == DCC_Q8 ? (int8_t)p[i] : (int16_t)dcc_rd16(p + 2 * i);
}

/* The values of a layer as symbols: present[] (row-major, 1 = an entry) and
 * sym[] of every position, the filler symbol and the alphabet. */
static int layer_symbols(const dcc_model *m, const lay *l, uint8_t *present, uint32_t *sym, size_t n, int *bw,
			 int *zero_entry, uint32_t *filler, uint32_t *alphabet, dcc_error *err)
{
	const uint8_t *mb = l->mask ? l->mask->data : NULL;
	*bw = l->shared ? l->bw : fixed_bw(m, l->base, l->bw);
	*zero_entry = 0;
	if (l->shared) {
		uint64_t K = 1ull << l->bw;
		/* a codebook whose entry 0 is zero and unused by survivors: EIE's filler */
		*zero_entry = dcc_tensor_get(l->cb, 0) == 0.0;
		for (size_t i = 0; i < n; i++) {
			int alive = mb ? (mb[i / 8] >> (i % 8)) & 1 : 1;
			present[i] = (uint8_t)alive;
			sym[i] = dcc_packed_get(l->w->data, l->bw, i);
			if (!alive && sym[i] != 0)
				return dcc_fail(err, DCC_E_UNSUPPORTED, "'%s': a pruned weight has a nonzero index", l->base);
			if (alive && sym[i] == 0)
				*zero_entry = 0;
		}
		*filler = *zero_entry ? 0 : (uint32_t)K;
		*alphabet = *zero_entry ? (uint32_t)K : (uint32_t)K + 1;
		return 0;
	}
	int b = *bw;
	for (size_t i = 0; i < n; i++) {
		int32_t q = q_get(l->w, i);
		present[i] = (uint8_t)(mb ? (mb[i / 8] >> (i % 8)) & 1 : q != 0);
		sym[i] = present[i] ? (uint32_t)(q + (1 << (b - 1)) + 1) : 0;
		if (!present[i] && q != 0)
			return dcc_fail(err, DCC_E_UNSUPPORTED, "'%s': a pruned weight is nonzero", l->base);
		if (present[i] && (q < -(1 << (b - 1)) || q >= (1 << (b - 1))))
			return dcc_fail(err, DCC_E_RANGE, "'%s': value %d outside its %d-bit format", l->base, q, b);
	}
	*filler = 0;
	*alphabet = (1u << b) + 1;
	return 0;
}

/* One weight layer: its sparse layout and three coded streams. */
static int build_layer(const dcc_model *m, const lay *l, const dcc_encode_opts *o, dcc_blob_layer *r, dcc_error *err)
{
	size_t rows = (size_t)l->w->shape[0], n = (size_t)dcc_tensor_numel(l->w), cols = rows ? n / rows : 0;
	int is_conv = l->w->ndim == 4, ib = is_conv ? o->index_bits_conv : o->index_bits_fc;
	if (o->layout == DCC_LAYOUT_EIE)
		ib = 4;
	/* CBS: --bank for every layer, else the bank each was pruned with */
	int bank = o->layout != DCC_LAYOUT_CBS ? 0 : o->bank > 0 ? o->bank : dcc_model_bank(m, l->base);
	if (o->layout == DCC_LAYOUT_CBS && !bank)
		return dcc_fail(err, DCC_E_UNSUPPORTED, "'%s': no bank size recorded (dcc prune --bank B) and no --bank B",
				l->base);
	if (o->layout == DCC_LAYOUT_CBS)
		for (ib = 1; (1 << ib) < bank; ib++)
			;
	uint8_t *present = malloc(n ? n : 1);
	uint32_t *sym = malloc((n ? n : 1) * sizeof(uint32_t)), filler = 0, alphabet = 0;
	int bw = 0, zero_entry = 0, rc = present && sym ? 0 : dcc_fail(err, DCC_E_NOMEM, "out of memory");
	if (!rc)
		rc = layer_symbols(m, l, present, sym, n, &bw, &zero_entry, &filler, &alphabet, err);
	if (!rc && o->layout == DCC_LAYOUT_EIE && !(l->shared && l->bw <= 4 && zero_entry))
		rc = dcc_fail(err, DCC_E_UNSUPPORTED,
			      "'%s': the EIE layout needs 4-bit shared weights whose codebook entry 0 is zero "
			      "(dcc share --bits 4 --zero)", l->base);
	dcc_sparse sp = {0};
	if (!rc && o->layout == DCC_LAYOUT_CBS) {
		rc = dcc_cbs_build(&sp, bank, rows, cols, present, sym, err);
		if (rc) { /* name the layer */
			char tmp[sizeof(err->msg)];
			snprintf(tmp, sizeof(tmp), "%s", err->msg);
			dcc_fail(err, rc, "'%s': %s", l->base, tmp);
		}
	} else if (!rc) {
		rc = dcc_sparse_build(&sp, o->layout, ib, o->layout == DCC_LAYOUT_EIE ? o->pes : 1, rows, cols, present, sym,
				      filler, err);
	}
	free(present), free(sym);
	if (rc)
		return rc;
	snprintf(r->name, sizeof(r->name), "%s", l->base);
	r->kind = l->shared ? DCC_BLOB_SHARED : DCC_BLOB_FIXED;
	r->layout = o->layout, r->index_bits = ib, r->has_mask = l->mask != NULL, r->pes = sp.pes;
	r->value_bits = bw, r->ndim = l->w->ndim, r->fl = l->w->fl, r->dtype = l->w->dtype, r->tensor_bits = l->w->bits;
	r->filler = filler, r->alphabet = alphabet;
	for (int d = 0; d < l->w->ndim; d++)
		r->shape[d] = l->w->shape[d];
	r->entries = sp.nentries, r->fillers = sp.nfillers;
	uint32_t maxc = 0;
	size_t ncount = o->layout == DCC_LAYOUT_CBS ? 0 : (size_t)sp.pes * cols;
	for (size_t k = 0; k < ncount; k++)
		maxc = sp.count[k] > maxc ? sp.count[k] : maxc;
	if (o->layout == DCC_LAYOUT_EIE && maxc > 65535)
		rc = dcc_fail(err, DCC_E_RANGE, "'%s': a PE's column holds %u entries; EIE pointers are 16-bit", l->base, maxc);
	if (!rc)
		rc = code_stream(&r->st[0], sp.skip, sp.nentries, 1u << ib, ib, o->entropy, err);
	if (!rc)
		rc = code_stream(&r->st[1], sp.val, sp.nentries, alphabet, 0, o->entropy, err);
	if (!rc)
		rc = code_stream(&r->st[2], sp.count, ncount, maxc + 1, o->layout == DCC_LAYOUT_EIE ? 16 : 0, o->entropy, err);
	dcc_sparse_free(&sp);
	return rc;
}

int dcc_blob_build(const dcc_model *m, const dcc_encode_opts *o, dcc_blob *b, dcc_error *err)
{
	memset(b, 0, sizeof(*b));
	lay *ls;
	size_t nl;
	if (find_layers(m, &ls, &nl))
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	if (!nl) {
		free(ls);
		return dcc_fail(err, DCC_E_UNSUPPORTED,
				"no shared or fixed-point weight layer to encode (run dcc share or dcc fixed first)");
	}
	int rc = 0;
	const char **order = malloc((m->ntensors + 1) * sizeof(char *));
	if (!order || !(b->layer = calloc(nl, sizeof(dcc_blob_layer))))
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	/* the embedded container: everything but the encoded tensors, and
	 * the tensors' order so the decoder puts them back where they were */
	if (!rc)
		rc = dcc_model_clone(m, &b->rest, err);
	for (size_t i = 0; !rc && i < m->ntensors; i++)
		order[i] = m->tensors[i].name;
	if (!rc)
		rc = dcc_model_set_arr_str(b->rest, "dcb.order", order, m->ntensors, err);
	free(order);
	for (size_t i = 0; !rc && i < nl; i++) {
		dcc_model_remove(b->rest, ls[i].w->name);
		if (ls[i].mask)
			dcc_model_remove(b->rest, ls[i].mask->name);
	}
	b->rest_zstd = o->entropy != DCC_ENTROPY_NONE;
	for (size_t li = 0; li < nl && !rc; li++) {
		b->nlayers = li + 1;
		rc = build_layer(m, &ls[li], o, &b->layer[li], err);
	}
	free(ls);
	if (rc)
		dcc_blob_free(b);
	return rc;
}

/* A layer's tensors from its decoded entries. */
static int rebuild_layer(dcc_model *m, const dcc_blob_layer *l, const uint8_t *present, const uint32_t *sym,
			 uint64_t numel, dcc_error *err)
{
	char nm[DCC_MAX_NAME + 16];
	const char *name = l->name;
	int rc = 0, bw = l->value_bits;
	if (l->kind == DCC_BLOB_SHARED) {
		dcc_tensor *ix;
		rc = dcc_model_add_zeros(m, dcc_part_name(nm, sizeof(nm), name, DCC_PART_INDEX), DCC_PACKED, bw, 0, l->ndim,
					 l->shape, &ix, err);
		for (size_t i = 0; !rc && i < (size_t)numel; i++) {
			if (present[i] && sym[i] >= (1u << bw)) {
				rc = dcc_fail(err, DCC_E_FORMAT, "layer '%s': index %u out of range", name, sym[i]);
				break;
			}
			if (present[i])
				dcc_packed_set(ix->data, bw, i, sym[i]);
		}
		if (!rc)
			ix->nnz = dcc_tensor_count_nonzero(ix), ix->crc = dcc_crc32c(0, ix->data, ix->nbytes);
	} else {
		dcc_tensor *w;
		rc = dcc_model_add_zeros(m, name, l->dtype, 0, l->fl, l->ndim, l->shape, &w, err);
		for (size_t i = 0; !rc && i < (size_t)numel; i++)
			if (present[i]) {
				int32_t v = (int32_t)sym[i] - (1 << (bw - 1)) - 1;
				if (sym[i] == 0 || v >= (1 << (bw - 1))) {
					rc = dcc_fail(err, DCC_E_FORMAT, "layer '%s': value out of range", name);
					break;
				}
				if (l->dtype == DCC_Q8) {
					((int8_t *)w->data)[i] = (int8_t)v;
				} else {
					uint16_t u = (uint16_t)(int16_t)v;
					memcpy((uint8_t *)w->data + 2 * i, &u, 2);
				}
			}
		if (!rc)
			w->nnz = dcc_tensor_count_nonzero(w), w->crc = dcc_crc32c(0, w->data, w->nbytes);
	}
	if (!rc && l->has_mask) {
		dcc_tensor *mk;
		rc = dcc_model_add_zeros(m, dcc_part_name(nm, sizeof(nm), name, DCC_PART_MASK), DCC_MASK, 0, 0, l->ndim,
					 l->shape, &mk, err);
		for (size_t i = 0; !rc && i < (size_t)numel; i++)
			if (present[i])
				((uint8_t *)mk->data)[i / 8] |= (uint8_t)(1u << (i % 8));
		if (!rc)
			mk->nnz = dcc_tensor_count_nonzero(mk), mk->crc = dcc_crc32c(0, mk->data, mk->nbytes);
	}
	return rc;
}

static int unpack_layer(dcc_model *m, dcc_blob_layer *l, dcc_sparse *sp, dcc_error *err)
{
	uint64_t numel = 1;
	for (int d = 0; d < l->ndim; d++)
		numel *= l->shape[d]; /* bounded by the reader */
	memset(sp, 0, sizeof(*sp));
	sp->layout = l->layout;
	sp->index_bits = l->index_bits;
	sp->pes = l->pes; /* CSC: 1; CBS: the bank size */
	sp->rows = (size_t)l->shape[0];
	sp->cols = (size_t)(numel / l->shape[0]);
	sp->filler = l->filler;
	sp->nentries = (size_t)l->entries;
	/* a name already among the container's tensors would be decoded twice */
	char nm[DCC_MAX_NAME + 16];
	dcc_part_name(nm, sizeof(nm), l->name, l->kind == DCC_BLOB_SHARED ? DCC_PART_INDEX : DCC_PART_WEIGHT);
	if (dcc_model_find(m, nm) ||
	    (l->has_mask && dcc_model_find(m, dcc_part_name(nm, sizeof(nm), l->name, DCC_PART_MASK))))
		return dcc_fail(err, DCC_E_FORMAT, "layer '%s' is also a tensor of the embedded container", l->name);
	int rc = decode_stream(&l->st[0], &sp->skip, err);
	if (!rc)
		rc = decode_stream(&l->st[1], &sp->val, err);
	if (!rc)
		rc = decode_stream(&l->st[2], &sp->count, err);
	uint8_t *present = NULL;
	uint32_t *sym = NULL;
	if (!rc && (!(present = malloc((size_t)numel)) || !(sym = malloc((size_t)numel * sizeof(uint32_t)))))
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	if (!rc)
		rc = l->layout == DCC_LAYOUT_CBS ? dcc_cbs_expand(sp, present, sym, err) : dcc_sparse_expand(sp, present, sym, err);
	if (!rc)
		rc = rebuild_layer(m, l, present, sym, numel, err);
	if (rc && err && err->msg[0] && !strstr(err->msg, l->name)) {
		char tmp[sizeof(err->msg)];
		snprintf(tmp, sizeof(tmp), "%s", err->msg);
		dcc_fail(err, rc, "layer '%s': %s", l->name, tmp);
	}
	free(present), free(sym);
	return rc;
}

int dcc_blob_unpack(dcc_blob *b, dcc_model **out, dcc_sparse **keep, dcc_error *err)
{
	*out = NULL;
	if (keep)
		*keep = NULL;
	dcc_model *m = b->rest;
	dcc_sparse *sp = calloc(b->nlayers ? b->nlayers : 1, sizeof(dcc_sparse));
	int rc = m && sp ? 0 : dcc_fail(err, m ? DCC_E_NOMEM : DCC_E_ARG, m ? "out of memory" : "blob without a container");
	for (size_t li = 0; li < b->nlayers && !rc; li++)
		rc = unpack_layer(m, &b->layer[li], &sp[li], err);
	/* the original tensor order */
	const dcc_kv *ord = rc ? NULL : dcc_model_get_kv(m, "dcb.order");
	if (!rc && (!ord || ord->type != DCC_KV_ARR || ord->elem_type != DCC_KV_STR || ord->count != m->ntensors))
		rc = dcc_fail(err, DCC_E_FORMAT, "embedded container: tensor order missing or wrong");
	if (!rc)
		rc = dcc_model_reorder(m, (const char *const *)ord->s, ord->count, err);
	if (!rc)
		dcc_model_del_kv(m, "dcb.order");
	if (rc || !keep) {
		for (size_t i = 0; sp && i < b->nlayers; i++)
			dcc_sparse_free(&sp[i]);
		free(sp);
		sp = NULL;
	}
	if (rc)
		return rc;
	b->rest = NULL; /* the model is the caller's now */
	if (keep)
		*keep = sp;
	*out = m;
	return 0;
}

void dcc_blob_info_free(dcc_blob_info *i)
{
	if (i) {
		free(i->layer);
		memset(i, 0, sizeof(*i));
	}
}

void dcc_layer_stage_bytes(const dcc_layer_info *l, double v[4])
{
	double ent = (double)(l->nonzero + l->fillers);
	v[0] = 4.0 * (double)l->weights, v[1] = ent * (32 + l->index_bits) / 8;
	v[2] = ent * (double)(l->value_bits + l->index_bits) / 8, v[3] = (double)l->bytes;
}

int dcc_blob_info_make(const dcc_blob *b, const dcc_model *m, dcc_blob_info *info, dcc_error *err)
{
	memset(info, 0, sizeof(*info));
	if (!(info->layer = calloc(b->nlayers ? b->nlayers : 1, sizeof(dcc_layer_info))))
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	info->nlayers = b->nlayers;
	info->rest_bytes = b->rest_bytes, info->rest_raw_bytes = b->rest_raw_bytes, info->total_bytes = b->total_bytes;
	static const char *const what[3] = {"index", "value", "count"};
	for (size_t i = 0; i < b->nlayers; i++) {
		const dcc_blob_layer *l = &b->layer[i];
		dcc_layer_info *li = &info->layer[i];
		uint64_t numel = 1;
		for (int d = 0; d < l->ndim; d++)
			numel *= l->shape[d];
		snprintf(li->name, sizeof(li->name), "%s", l->name);
		li->layout = l->layout, li->index_bits = l->index_bits, li->pes = l->pes, li->value_bits = l->value_bits;
		li->shared = l->kind == DCC_BLOB_SHARED;
		li->rows = l->shape[0], li->cols = numel / l->shape[0], li->weights = numel;
		li->fillers = l->fillers, li->nonzero = l->entries - l->fillers, li->bytes = l->bytes;
		for (int k = 0; k < 3; k++) {
			const dcc_stream *s = &l->st[k];
			dcc_stream_info *si = &li->st[k];
			snprintf(si->what, sizeof(si->what), "%s", what[k]);
			si->symbols = s->symbols, si->alphabet = s->alphabet, si->coding = s->coding;
			si->raw_bits = s->symbols * (uint64_t)s->raw_bits, si->bytes = s->len;
			si->table_bytes = s->table_bytes, si->entropy_bits = s->entropy_bits;
		}
	}
	if (m) { /* dense float32: every float-like weight and bias of the state_dict */
		dcc_model *sd = NULL;
		dcc_error e2 = {0};
		if (!dcc_model_state_dict(m, &sd, &e2)) {
			for (size_t i = 0; i < sd->ntensors; i++)
				info->dense_f32_bytes += 4 * dcc_tensor_numel(&sd->tensors[i]);
			dcc_model_free(sd);
		}
	}
	return 0;
}

int dcc_dense_f32_size(const dcc_model *m, uint64_t *bytes, uint64_t *zbytes, dcc_error *err)
{
	dcc_model *sd;
	int rc = dcc_model_state_dict(m, &sd, err);
	if (rc)
		return rc;
	uint64_t n = 0;
	for (size_t i = 0; i < sd->ntensors; i++)
		n += 4 * dcc_tensor_numel(&sd->tensors[i]);
	float *all = malloc(n ? n : 1);
	size_t o = 0;
	for (size_t i = 0; all && i < sd->ntensors; i++) {
		const dcc_tensor *t = &sd->tensors[i];
		for (uint64_t k = 0; k < dcc_tensor_numel(t); k++)
			all[o++] = (float)dcc_tensor_get(t, k);
	}
	*bytes = n;
	*zbytes = 0;
	if (all) {
		size_t cap = ZSTD_compressBound(n);
		void *z = malloc(cap);
		if (z) {
			size_t zl = ZSTD_compress(z, cap, all, n, 19);
			*zbytes = ZSTD_isError(zl) ? 0 : zl;
		}
		free(z);
	}
	free(all);
	dcc_model_free(sd);
	return 0;
}
