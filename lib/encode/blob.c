/* blob.c: the .dcb blob (formats/dcb.md).  Shared and fixed-point weight
 * layers become relative-index sparse streams (CSC or EIE's per-PE CSC),
 * each stream Huffman- or zstd-coded when that is smaller; everything else
 * (graph, metadata, biases, codebooks) travels as an embedded .dct. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "../core/internal.h"
#include "../dcc_encode.h"
#include "../../formats/dcc_formats.h" /* TEMPORARY: the framing moves to formats/dcb.c */

static const uint8_t MAGIC[8] = {0x89, 'D', 'C', 'B', '\r', '\n', 0x1a, '\n'};
#define HDR 48
#define MAX_RAW (1ull << 32) /* the largest stream or embedded container we inflate */

int dcc_blob_sniff(const void *buf, size_t n)
{
	return n >= 8 && !memcmp(buf, MAGIC, 8);
}

void dcc_blob_info_free(dcc_blob_info *i)
{
	if (i) {
		free(i->layer);
		memset(i, 0, sizeof(*i));
	}
}

static inline uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static inline uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static void pad(dcc_buf *b, size_t a)
{
	while (b->n % a)
		dcc_buf_u8(b, 0);
}

static int bits_for(uint64_t alphabet)
{
	int b = 0;
	while (b < 32 && (1ull << b) < alphabet)
		b++;
	return b ? b : 1;
}

/* One stream: header (coding, raw bits, alphabet, symbols, size) + payload,
 * the smallest of raw packing and the chosen coder. */
static int put_stream(dcc_buf *b, const uint32_t *sym, size_t n, uint32_t alphabet, int min_bits, int entropy,
		      dcc_stream_info *si, const char *what, dcc_error *err)
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
	uint8_t *best = raw, *alt = NULL;
	size_t bestlen = rawlen, altlen = 0, tb = 0;
	int coding = DCC_ENTROPY_NONE;
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
	if (alt && altlen < rawlen) {
		best = alt;
		bestlen = altlen;
		coding = entropy;
	} else {
		tb = 0;
	}
	dcc_buf_u8(b, (uint8_t)coding);
	dcc_buf_u8(b, (uint8_t)rb);
	dcc_buf_u16(b, 0);
	dcc_buf_u32(b, alphabet);
	dcc_buf_u64(b, n);
	dcc_buf_u64(b, bestlen);
	dcc_buf_put(b, best, bestlen);
	pad(b, 4);
	if (si) {
		snprintf(si->what, sizeof(si->what), "%s", what);
		si->symbols = n;
		si->alphabet = alphabet;
		si->coding = coding;
		si->raw_bits = (uint64_t)n * (uint64_t)rb;
		si->bytes = bestlen;
		si->table_bytes = tb;
		si->entropy_bits = dcc_entropy_bits(sym, n, alphabet);
	}
	free(raw);
	free(alt);
	return 0;
}

/* Reads a stream at *pos; n_expect symbols (SIZE_MAX: any, bounded by the
 * bytes present). */
static int get_stream(const uint8_t *p, size_t len, size_t *pos, uint32_t **sym, size_t *n, uint32_t *alphabet,
		      dcc_stream_info *si, dcc_error *err)
{
	if (len - *pos < 24)
		return dcc_fail(err, DCC_E_FORMAT, "stream header truncated");
	const uint8_t *h = p + *pos;
	int coding = h[0], rb = h[1];
	uint32_t A = rd32(h + 4);
	uint64_t ns = rd64(h + 8), sz = rd64(h + 16);
	*pos += 24;
	if (rb < 1 || rb > 32 || coding > DCC_ENTROPY_ZSTD || A == 0 || (rb < 32 && A > (1ull << rb)))
		return dcc_fail(err, DCC_E_FORMAT, "stream header invalid");
	if (sz > len - *pos)
		return dcc_fail(err, DCC_E_FORMAT, "stream of %llu bytes truncated (%zu present)", (unsigned long long)sz,
				len - *pos);
	/* every symbol costs at least a bit unless a one-symbol Huffman table */
	uint64_t rawlen = (ns * (uint64_t)rb + 7) / 8;
	if (ns > MAX_RAW || (coding == DCC_ENTROPY_NONE && rawlen != sz) ||
	    (coding == DCC_ENTROPY_ZSTD && rawlen > MAX_RAW))
		return dcc_fail(err, DCC_E_FORMAT, "stream sizes inconsistent");
	if (coding == DCC_ENTROPY_HUFFMAN && ns > 8 * sz + 64 && sz > 32)
		return dcc_fail(err, DCC_E_FORMAT, "stream claims more symbols than its bytes hold");
	if (coding == DCC_ENTROPY_HUFFMAN && ns > 16 * (1ull << 20) && sz <= 32)
		return dcc_fail(err, DCC_E_FORMAT, "stream claims more symbols than its bytes hold");
	const uint8_t *pl = p + *pos;
	uint32_t *s = malloc(ns ? ns * sizeof(uint32_t) : 1);
	if (!s)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	int rc = 0;
	uint8_t *unz = NULL;
	if (coding == DCC_ENTROPY_HUFFMAN) {
		rc = dcc_huff_decode(pl, sz, ns, A, s, err);
	} else {
		const uint8_t *raw = pl;
		if (coding == DCC_ENTROPY_ZSTD) {
			unsigned long long fs = ZSTD_getFrameContentSize(pl, sz);
			if (fs != rawlen || !(unz = malloc(rawlen ? rawlen : 1)) ||
			    ZSTD_decompress(unz, rawlen, pl, sz) != rawlen)
				rc = dcc_fail(err, DCC_E_FORMAT, "zstd stream corrupt");
			raw = unz;
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
			if (s[i] >= A)
				rc = dcc_fail(err, DCC_E_FORMAT, "symbol %u outside the alphabet of %u", s[i], A);
		}
	}
	free(unz);
	if (rc) {
		free(s);
		return rc;
	}
	*pos += (size_t)sz;
	*pos = (*pos + 3) & ~(size_t)3;
	if (*pos > len)
		*pos = len;
	*sym = s;
	*n = (size_t)ns;
	*alphabet = A;
	if (si) {
		si->symbols = ns;
		si->alphabet = A;
		si->coding = coding;
		si->raw_bits = ns * (uint64_t)rb;
		si->bytes = sz;
		si->table_bytes = 0;
		if (coding == DCC_ENTROPY_HUFFMAN) { /* the table's share: varint m, then m (varint, u8) */
			size_t q = 0, m = 0;
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
			si->table_bytes = q < sz ? q : sz;
		}
		si->entropy_bits = dcc_entropy_bits(s, (size_t)ns, A);
	}
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
			snprintf(nm, sizeof(nm), "%s.codebook", l->base);
			if (!(l->cb = dcc_model_find(m, nm)) || dcc_model_find(m, l->base))
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
		snprintf(nm, sizeof(nm), "%s.mask", l->base);
		l->mask = dcc_model_find(m, nm);
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
	return t->dtype == DCC_Q8 ? (int8_t)p[i] : (int16_t)rd16(p + 2 * i);
}

int dcc_blob_encode(const dcc_model *m, const dcc_encode_opts *o, uint8_t **out, size_t *len, dcc_blob_info *info,
		    dcc_error *err)
{
	*out = NULL;
	*len = 0;
	if (info)
		memset(info, 0, sizeof(*info));
	lay *ls;
	size_t nl;
	if (find_layers(m, &ls, &nl))
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	if (!nl) {
		free(ls);
		return dcc_fail(err, DCC_E_UNSUPPORTED,
				"no shared or fixed-point weight layer to encode (run dcc share or dcc fixed first)");
	}
	dcc_buf b = {0};
	int rc = 0;
	dcc_model *rest = NULL;
	char *mem = NULL;
	size_t memlen = 0;
	if (info && !(info->layer = calloc(nl, sizeof(dcc_layer_info)))) {
		free(ls);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	if (info)
		info->nlayers = nl;
	/* the embedded container: everything but the encoded tensors */
	if ((rc = dcc_model_clone(m, &rest, err)))
		goto done;
	{
		const char **order = malloc((m->ntensors + 1) * sizeof(char *));
		if (!order) {
			rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
			goto done;
		}
		for (size_t i = 0; i < m->ntensors; i++)
			order[i] = m->tensors[i].name;
		rc = dcc_model_set_arr_str(rest, "dcb.order", order, m->ntensors);
		free(order);
		if (rc)
			goto done;
	}
	for (size_t i = 0; i < nl; i++) {
		dcc_model_remove(rest, ls[i].w->name);
		if (ls[i].mask)
			dcc_model_remove(rest, ls[i].mask->name);
	}
	FILE *ms = open_memstream(&mem, &memlen);
	if (!ms || dcc_dct_write(ms, rest, err) || fclose(ms)) {
		rc = err->code ? err->code : dcc_fail(err, DCC_E_IO, "cannot write the embedded container");
		goto done;
	}
	const uint8_t *restp = (const uint8_t *)mem;
	size_t restlen = memlen;
	uint8_t *z = NULL;
	int rest_coding = DCC_ENTROPY_NONE;
	if (o->entropy != DCC_ENTROPY_NONE) {
		size_t cap = ZSTD_compressBound(memlen);
		if ((z = malloc(cap))) {
			size_t zl = ZSTD_compress(z, cap, mem, memlen, 19);
			if (!ZSTD_isError(zl) && zl < memlen) {
				restp = z;
				restlen = zl;
				rest_coding = DCC_ENTROPY_ZSTD;
			}
		}
	}
	dcc_buf_put(&b, MAGIC, 8);
	dcc_buf_u32(&b, 1);
	dcc_buf_u32(&b, (uint32_t)nl);
	dcc_buf_u64(&b, restlen);
	dcc_buf_u64(&b, memlen);
	dcc_buf_u8(&b, (uint8_t)rest_coding);
	dcc_buf_zeros(&b, 7);
	dcc_buf_u32(&b, dcc_crc32c(0, restp, restlen));
	dcc_buf_u32(&b, 0); /* header crc, below */
	dcc_buf_put(&b, restp, restlen);
	pad(&b, 8);
	free(z);
	if (info) {
		info->rest_bytes = restlen;
		info->rest_raw_bytes = memlen;
	}
	for (size_t li = 0; li < nl && !rc; li++) {
		const lay *l = &ls[li];
		size_t rows = (size_t)l->w->shape[0], n = (size_t)dcc_tensor_numel(l->w), cols = rows ? n / rows : 0;
		int is_conv = l->w->ndim == 4, ib = is_conv ? o->index_bits_conv : o->index_bits_fc;
		if (o->layout == DCC_LAYOUT_EIE)
			ib = 4;
		if (o->layout == DCC_LAYOUT_CBS)
			for (ib = 1; (1 << ib) < o->bank; ib++)
				;
		uint8_t *present = malloc(n ? n : 1);
		uint32_t *sym = malloc((n ? n : 1) * sizeof(uint32_t));
		if (!present || !sym) {
			free(present), free(sym);
			rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
			break;
		}
		const uint8_t *mb = l->mask ? l->mask->data : NULL;
		uint32_t alphabet, filler;
		int bw = l->shared ? l->bw : fixed_bw(m, l->base, l->bw);
		int zero_entry = 0;
		if (l->shared) {
			uint64_t K = 1ull << l->bw;
			/* a codebook whose entry 0 is zero and unused by survivors: EIE's filler */
			zero_entry = dcc_tensor_get(l->cb, 0) == 0.0;
			for (size_t i = 0; i < n; i++) {
				int alive = mb ? (mb[i / 8] >> (i % 8)) & 1 : 1;
				present[i] = (uint8_t)alive;
				sym[i] = dcc_packed_get(l->w->data, l->bw, i);
				if (!alive && sym[i] != 0) {
					rc = dcc_fail(err, DCC_E_UNSUPPORTED, "'%s': a pruned weight has a nonzero index", l->base);
					break;
				}
				if (alive && sym[i] == 0)
					zero_entry = 0;
			}
			filler = zero_entry ? 0 : (uint32_t)K;
			alphabet = zero_entry ? (uint32_t)K : (uint32_t)K + 1;
		} else {
			for (size_t i = 0; i < n; i++) {
				int32_t q = q_get(l->w, i);
				present[i] = (uint8_t)(mb ? (mb[i / 8] >> (i % 8)) & 1 : q != 0);
				sym[i] = present[i] ? (uint32_t)(q + (1 << (bw - 1)) + 1) : 0;
				if (!present[i] && q != 0) {
					rc = dcc_fail(err, DCC_E_UNSUPPORTED, "'%s': a pruned weight is nonzero", l->base);
					break;
				}
				if (present[i] && (q < -(1 << (bw - 1)) || q >= (1 << (bw - 1)))) {
					rc = dcc_fail(err, DCC_E_RANGE, "'%s': value %d outside its %d-bit format", l->base, q, bw);
					break;
				}
			}
			filler = 0;
			alphabet = (1u << bw) + 1;
		}
		if (!rc && o->layout == DCC_LAYOUT_EIE && !(l->shared && l->bw <= 4 && zero_entry))
			rc = dcc_fail(err, DCC_E_UNSUPPORTED,
				      "'%s': the EIE layout needs 4-bit shared weights whose codebook entry 0 is zero "
				      "(dcc share --bits 4 --zero)", l->base);
		dcc_sparse sp = {0};
		if (!rc && o->layout == DCC_LAYOUT_CBS) {
			rc = dcc_cbs_build(&sp, o->bank, rows, cols, present, sym, err);
			if (rc) { /* name the layer */
				char tmp[sizeof(err->msg)];
				snprintf(tmp, sizeof(tmp), "%s", err->msg);
				dcc_fail(err, rc, "'%s': %s", l->base, tmp);
			}
		} else if (!rc) {
			rc = dcc_sparse_build(&sp, o->layout, ib, o->layout == DCC_LAYOUT_EIE ? o->pes : 1, rows, cols, present,
					      sym, filler, err);
		}
		free(present), free(sym);
		if (rc)
			break;
		size_t start = b.n;
		dcc_buf_u32(&b, 0); /* record size */
		dcc_buf_u32(&b, 0); /* record crc */
		size_t nlen = strlen(l->base);
		dcc_buf_u16(&b, (uint16_t)nlen);
		dcc_buf_put(&b, l->base, nlen);
		pad(&b, 4);
		dcc_buf_u8(&b, (uint8_t)(l->shared ? 1 : 2));
		dcc_buf_u8(&b, (uint8_t)o->layout);
		dcc_buf_u8(&b, (uint8_t)ib);
		dcc_buf_u8(&b, (uint8_t)(l->mask != NULL));
		dcc_buf_u16(&b, (uint16_t)sp.pes);
		dcc_buf_u8(&b, (uint8_t)bw);
		dcc_buf_u8(&b, (uint8_t)l->w->ndim);
		dcc_buf_u8(&b, (uint8_t)(int8_t)l->w->fl);
		dcc_buf_u8(&b, (uint8_t)l->w->dtype);
		dcc_buf_u8(&b, (uint8_t)l->w->bits);
		dcc_buf_u8(&b, 0);
		dcc_buf_u32(&b, filler);
		dcc_buf_u32(&b, alphabet);
		for (int d = 0; d < l->w->ndim; d++)
			dcc_buf_u64(&b, l->w->shape[d]);
		dcc_buf_u64(&b, sp.nentries);
		dcc_buf_u64(&b, sp.nfillers);
		dcc_layer_info *li_ = info ? &info->layer[li] : NULL;
		uint32_t maxc = 0;
		size_t ncount = o->layout == DCC_LAYOUT_CBS ? 0 : (size_t)sp.pes * cols;
		for (size_t k = 0; k < ncount; k++)
			maxc = sp.count[k] > maxc ? sp.count[k] : maxc;
		if (o->layout == DCC_LAYOUT_EIE && maxc > 65535)
			rc = dcc_fail(err, DCC_E_RANGE, "'%s': a PE's column holds %u entries; EIE pointers are 16-bit", l->base, maxc);
		if (!rc)
			rc = put_stream(&b, sp.skip, sp.nentries, 1u << ib, ib, o->entropy, li_ ? &li_->st[0] : NULL, "index", err);
		if (!rc)
			rc = put_stream(&b, sp.val, sp.nentries, alphabet, 0, o->entropy, li_ ? &li_->st[1] : NULL, "value", err);
		if (!rc)
			rc = put_stream(&b, sp.count, ncount, maxc + 1,
					o->layout == DCC_LAYOUT_EIE ? 16 : 0, o->entropy, li_ ? &li_->st[2] : NULL, "count", err);
		pad(&b, 8);
		if (!rc && !b.oom) {
			uint32_t rs = (uint32_t)(b.n - start);
			memcpy(b.p + start, &rs, 4); /* little-endian hosts only, as the rest of dcc */
			uint32_t crc = dcc_crc32c(0, b.p + start + 8, b.n - start - 8);
			memcpy(b.p + start + 4, &crc, 4);
		}
		if (li_) {
			snprintf(li_->name, sizeof(li_->name), "%s", l->base);
			li_->layout = o->layout;
			li_->index_bits = ib;
			li_->pes = sp.pes;
			li_->value_bits = bw;
			li_->shared = l->shared;
			li_->rows = rows;
			li_->cols = cols;
			li_->weights = n;
			li_->nonzero = sp.nreal;
			li_->fillers = sp.nfillers;
			li_->bytes = b.n - start;
		}
		dcc_sparse_free(&sp);
	}
	if (!rc && b.oom)
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	if (!rc) {
		uint32_t hc = dcc_crc32c(0, b.p, 44);
		memcpy(b.p + 44, &hc, 4);
		*out = b.p;
		*len = b.n;
		b.p = NULL;
		if (info) {
			info->total_bytes = *len;
			/* dense float32: every float-like weight and bias of the state_dict */
			dcc_model *sd = NULL;
			dcc_error e2 = {0};
			if (!dcc_model_state_dict(m, &sd, &e2)) {
				for (size_t i = 0; i < sd->ntensors; i++)
					info->dense_f32_bytes += 4 * dcc_tensor_numel(&sd->tensors[i]);
				dcc_model_free(sd);
			}
		}
	}
done:
	dcc_buf_free(&b);
	free(mem);
	dcc_model_free(rest);
	free(ls);
	if (rc && info)
		dcc_blob_info_free(info);
	return rc;
}

int dcc_blob_decode(const uint8_t *p, size_t len, dcc_model **out, dcc_blob_info *info, dcc_error *err)
{
	return dcc_blob_decode_sparse(p, len, out, info, NULL, err);
}

int dcc_blob_decode_sparse(const uint8_t *p, size_t len, dcc_model **out, dcc_blob_info *info, dcc_sparse **keep,
			   dcc_error *err)
{
	if (keep)
		*keep = NULL;
	*out = NULL;
	if (info)
		memset(info, 0, sizeof(*info));
	if (len < HDR || memcmp(p, MAGIC, 8))
		return dcc_fail(err, DCC_E_FORMAT, "not a dcc blob (bad magic)");
	if (dcc_crc32c(0, p, 44) != rd32(p + 44))
		return dcc_fail(err, DCC_E_CHECKSUM, "blob header checksum mismatch");
	if (rd32(p + 8) != 1)
		return dcc_fail(err, DCC_E_UNSUPPORTED, "blob version %u (this dcc reads 1)", rd32(p + 8));
	uint32_t nl = rd32(p + 12);
	uint64_t restlen = rd64(p + 16), rawlen = rd64(p + 24);
	int rc_ = p[32];
	if (restlen > len - HDR)
		return dcc_fail(err, DCC_E_FORMAT, "embedded container of %llu bytes truncated", (unsigned long long)restlen);
	if (nl > (len - HDR) / 64 + 1)
		return dcc_fail(err, DCC_E_FORMAT, "%u layers cannot fit in %zu bytes", nl, len);
	const uint8_t *rp = p + HDR;
	if (dcc_crc32c(0, rp, (size_t)restlen) != rd32(p + 40))
		return dcc_fail(err, DCC_E_CHECKSUM, "embedded container checksum mismatch");
	uint8_t *unz = NULL;
	if (rc_ == DCC_ENTROPY_ZSTD) {
		unsigned long long fs = ZSTD_getFrameContentSize(rp, (size_t)restlen);
		if (rawlen > MAX_RAW || fs != rawlen || !(unz = malloc(rawlen ? rawlen : 1)) ||
		    ZSTD_decompress(unz, rawlen, rp, restlen) != rawlen) {
			free(unz);
			return dcc_fail(err, DCC_E_FORMAT, "embedded container: zstd data corrupt");
		}
		rp = unz;
	} else if (rc_ != DCC_ENTROPY_NONE || rawlen != restlen) {
		return dcc_fail(err, DCC_E_FORMAT, "embedded container: unknown coding");
	}
	dcc_model *m = NULL;
	int rc = dcc_dct_read_mem(rp, (size_t)rawlen, 0, &m, err);
	free(unz);
	if (rc)
		return rc;
	if (info) {
		info->rest_bytes = restlen;
		info->rest_raw_bytes = rawlen;
		info->total_bytes = len;
		info->nlayers = nl;
		if (!(info->layer = calloc(nl ? nl : 1, sizeof(dcc_layer_info)))) {
			dcc_model_free(m);
			return dcc_fail(err, DCC_E_NOMEM, "out of memory");
		}
	}
	if (keep && !(*keep = calloc(nl ? nl : 1, sizeof(dcc_sparse)))) {
		dcc_model_free(m);
		if (info)
			dcc_blob_info_free(info);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	size_t pos = (HDR + (size_t)restlen + 7) & ~(size_t)7;
	for (uint32_t li = 0; li < nl && !rc; li++) {
		if (pos > len || len - pos < 64) {
			rc = dcc_fail(err, DCC_E_FORMAT, "layer %u truncated", li);
			break;
		}
		uint32_t rs = rd32(p + pos);
		if (rs < 64 || rs > len - pos || rs % 8) {
			rc = dcc_fail(err, DCC_E_FORMAT, "layer %u: record size %u invalid (%zu bytes left)", li, rs, len - pos);
			break;
		}
		if (dcc_crc32c(0, p + pos + 8, rs - 8) != rd32(p + pos + 4)) {
			rc = dcc_fail(err, DCC_E_CHECKSUM, "layer %u: checksum mismatch", li);
			break;
		}
		const uint8_t *r = p + pos;
		size_t q = 8, end = rs;
		uint16_t nlen = rd16(r + q);
		q += 2;
		if (nlen == 0 || nlen > DCC_MAX_NAME || q + nlen + 32 > end) {
			rc = dcc_fail(err, DCC_E_FORMAT, "layer %u: bad name", li);
			break;
		}
		char name[DCC_MAX_NAME + 1];
		memcpy(name, r + q, nlen);
		name[nlen] = 0;
		q = (q + nlen + 3) & ~(size_t)3;
		int kind = r[q], layout = r[q + 1], ib = r[q + 2], has_mask = r[q + 3];
		int pes = rd16(r + q + 4), bw = r[q + 6], ndim = r[q + 7], fl = (int8_t)r[q + 8], dtype = r[q + 9],
		    tbits = r[q + 10];
		uint32_t filler = rd32(r + q + 12), alphabet = rd32(r + q + 16);
		q += 20;
		if ((kind != 1 && kind != 2) || layout > 2 || ib < 1 || ib > 16 || ndim < 2 || ndim > DCC_MAX_DIMS ||
		    pes < 1 || bw < 1 || bw > 16 || q + 8 * (size_t)ndim + 16 > end ||
		    (kind == 1 && (dtype != DCC_PACKED || tbits != bw)) ||
		    (kind == 2 && dtype != DCC_Q8 && dtype != DCC_Q16)) {
			rc = dcc_fail(err, DCC_E_FORMAT, "layer '%s': header invalid", name);
			break;
		}
		uint64_t shape[DCC_MAX_DIMS] = {0}, numel = 1;
		for (int d = 0; d < ndim; d++) {
			shape[d] = rd64(r + q + 8 * (size_t)d);
			if (shape[d] == 0 || numel > (1ull << 40) / shape[d]) {
				rc = dcc_fail(err, DCC_E_FORMAT, "layer '%s': shape invalid", name);
				break;
			}
			numel *= shape[d];
		}
		if (rc)
			break;
		q += 8 * (size_t)ndim;
		uint64_t nentries = rd64(r + q), nfill = rd64(r + q + 8);
		q += 16;
		size_t rows = (size_t)shape[0], cols = (size_t)(numel / shape[0]);
		if ((uint64_t)pes * cols > 64 * (uint64_t)len + 1024 || nentries > numel + numel / 2 + 1 || nfill > nentries) {
			rc = dcc_fail(err, DCC_E_FORMAT, "layer '%s': counts invalid", name);
			break;
		}
		/* the dense size is bounded by the entries the blob could hold */
		if (numel > 64 * (uint64_t)len + 1024 * 1024) {
			rc = dcc_fail(err, DCC_E_FORMAT, "layer '%s': %llu weights from a %zu-byte blob", name,
				      (unsigned long long)numel, len);
			break;
		}
		dcc_sparse sp = {0};
		sp.layout = layout;
		sp.index_bits = ib;
		sp.pes = layout == DCC_LAYOUT_CSC ? 1 : pes; /* CBS: the bank size */
		sp.rows = rows;
		sp.cols = cols;
		sp.filler = filler;
		size_t n0, n1, n2;
		uint32_t a0, a1, a2;
		dcc_layer_info *li_ = info ? &info->layer[li] : NULL;
		size_t qq = pos + q;
		rc = get_stream(p, pos + rs, &qq, &sp.skip, &n0, &a0, li_ ? &li_->st[0] : NULL, err);
		if (!rc)
			rc = get_stream(p, pos + rs, &qq, &sp.val, &n1, &a1, li_ ? &li_->st[1] : NULL, err);
		if (!rc)
			rc = get_stream(p, pos + rs, &qq, &sp.count, &n2, &a2, li_ ? &li_->st[2] : NULL, err);
		if (!rc && (n0 != nentries || n1 != nentries ||
			    n2 != (layout == DCC_LAYOUT_CBS ? 0 : (size_t)sp.pes * cols) || a0 != (1u << ib) || a1 != alphabet))
			rc = dcc_fail(err, DCC_E_FORMAT, "layer '%s': stream sizes do not match the layer", name);
		sp.nentries = nentries;
		uint8_t *present = NULL;
		uint32_t *sym = NULL;
		if (!rc) {
			present = malloc((size_t)numel);
			sym = malloc((size_t)numel * sizeof(uint32_t));
			if (!present || !sym)
				rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
		}
		if (!rc)
			rc = layout == DCC_LAYOUT_CBS ? dcc_cbs_expand(&sp, present, sym, err) : dcc_sparse_expand(&sp, present, sym, err);
		if (rc && err->msg[0] && !strstr(err->msg, name)) {
			char tmp[sizeof(err->msg)];
			snprintf(tmp, sizeof(tmp), "%s", err->msg);
			dcc_fail(err, rc, "layer '%s': %s", name, tmp);
		}
		/* rebuild the tensors */
		char nm[DCC_MAX_NAME + 16];
		if (!rc && kind == 1) {
			dcc_tensor *ix;
			snprintf(nm, sizeof(nm), "%s.index", name);
			rc = dcc_model_add_zeros(m, nm, DCC_PACKED, bw, 0, ndim, shape, &ix, err);
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
		} else if (!rc) {
			dcc_tensor *w;
			rc = dcc_model_add_zeros(m, name, dtype, 0, fl, ndim, shape, &w, err);
			for (size_t i = 0; !rc && i < (size_t)numel; i++)
				if (present[i]) {
					int32_t v = (int32_t)sym[i] - (1 << (bw - 1)) - 1;
					if (sym[i] == 0 || v >= (1 << (bw - 1))) {
						rc = dcc_fail(err, DCC_E_FORMAT, "layer '%s': value out of range", name);
						break;
					}
					if (dtype == DCC_Q8)
						((int8_t *)w->data)[i] = (int8_t)v;
					else {
						uint16_t u = (uint16_t)(int16_t)v;
						memcpy((uint8_t *)w->data + 2 * i, &u, 2);
					}
				}
			if (!rc)
				w->nnz = dcc_tensor_count_nonzero(w), w->crc = dcc_crc32c(0, w->data, w->nbytes);
		}
		if (!rc && has_mask) {
			dcc_tensor *mk;
			snprintf(nm, sizeof(nm), "%s.mask", name);
			rc = dcc_model_add_zeros(m, nm, DCC_MASK, 0, 0, ndim, shape, &mk, err);
			for (size_t i = 0; !rc && i < (size_t)numel; i++)
				if (present[i])
					((uint8_t *)mk->data)[i / 8] |= (uint8_t)(1u << (i % 8));
			if (!rc)
				mk->nnz = dcc_tensor_count_nonzero(mk), mk->crc = dcc_crc32c(0, mk->data, mk->nbytes);
		}
		if (li_ && !rc) {
			snprintf(li_->name, sizeof(li_->name), "%s", name);
			li_->layout = layout;
			li_->index_bits = ib;
			li_->pes = sp.pes;
			li_->value_bits = bw;
			li_->shared = kind == 1;
			li_->rows = rows;
			li_->cols = cols;
			li_->weights = numel;
			li_->fillers = nfill;
			li_->nonzero = nentries - nfill;
			li_->bytes = rs;
			snprintf(li_->st[0].what, 16, "index");
			snprintf(li_->st[1].what, 16, "value");
			snprintf(li_->st[2].what, 16, "count");
		}
		free(present), free(sym);
		if (keep && !rc)
			(*keep)[li] = sp; /* the stored streams, decoded */
		else
			dcc_sparse_free(&sp);
		pos += rs;
	}
	if (!rc && pos != len)
		rc = dcc_fail(err, DCC_E_FORMAT, "%zu stray bytes after the last layer", len - pos);
	/* the original tensor order */
	const dcc_kv *ord = rc ? NULL : dcc_model_get_kv(m, "dcb.order");
	if (!rc && (!ord || ord->type != DCC_KV_ARR || ord->elem_type != DCC_KV_STR || ord->count != m->ntensors))
		rc = dcc_fail(err, DCC_E_FORMAT, "embedded container: tensor order missing or wrong");
	for (size_t i = 0; !rc && i < ord->count; i++) {
		dcc_tensor *t = dcc_model_find(m, ord->s[i]);
		if (!t) {
			rc = dcc_fail(err, DCC_E_FORMAT, "tensor '%s' missing from the blob", ord->s[i]);
			break;
		}
		size_t j = (size_t)(t - m->tensors);
		if (j != i) {
			dcc_tensor tmp = m->tensors[i];
			m->tensors[i] = m->tensors[j];
			m->tensors[j] = tmp;
		}
	}
	if (!rc)
		dcc_model_del_kv(m, "dcb.order");
	if (rc) {
		dcc_model_free(m);
		if (info)
			dcc_blob_info_free(info);
		if (keep) {
			for (uint32_t i = 0; i < nl; i++)
				dcc_sparse_free(&(*keep)[i]);
			free(*keep);
			*keep = NULL;
		}
		return rc;
	}
	*out = m;
	return 0;
}
