/* dcb.c: the bytes of the .dcb blob (formats/dcb.md) -- its header, the
 * embedded container (zstd-coded when that is smaller) and one record per
 * encoded layer, each with its three stream headers and payloads.  The
 * reader checks every size against the bytes present, every checksum and
 * reserved field, and that each stream holds exactly the symbols its layer
 * needs, before anything is decoded: decoding the streams is lib/encode's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "../lib/core/internal.h"
#include "../lib/dcc_blob.h"
#include "dcc_formats.h"

static const uint8_t MAGIC[8] = {0x89, 'D', 'C', 'B', '\r', '\n', 0x1a, '\n'};
#define HDR 48
#define STREAM_HDR 24
#define MAX_RAW (1ull << 32) /* the largest stream or embedded container */
/* zstd reaches about 32000:1 on zeros; a container of graph, biases and
 * codebooks compresses far less.  Past this ratio an embedded container is
 * refused before it is inflated. */
#define REST_RATIO 1024
#define REST_SLACK (1ull << 20)

int dcc_dcb_sniff(const void *buf, size_t n)
{
	return n >= 8 && !memcmp(buf, MAGIC, 8);
}

static void pad(dcc_buf *b, size_t a)
{
	while (b->n % a)
		dcc_buf_u8(b, 0);
}

static void put_stream(dcc_buf *b, const dcc_stream *s)
{
	dcc_buf_u8(b, (uint8_t)s->coding);
	dcc_buf_u8(b, (uint8_t)s->raw_bits);
	dcc_buf_u16(b, 0);
	dcc_buf_u32(b, s->alphabet);
	dcc_buf_u64(b, s->symbols);
	dcc_buf_u64(b, s->len);
	dcc_buf_put(b, s->data, s->len);
	pad(b, 4);
}

int dcc_dcb_write_mem(dcc_blob *bl, uint8_t **out, size_t *len, dcc_error *err)
{
	*out = NULL;
	*len = 0;
	char *mem = NULL;
	size_t memlen = 0;
	FILE *ms = open_memstream(&mem, &memlen);
	dcc_error e2 = {0};
	if (!ms || dcc_dct_write(ms, bl->rest, &e2) || fclose(ms)) {
		free(mem);
		return e2.code ? dcc_fail(err, e2.code, "embedded container: %s", e2.msg)
			       : dcc_fail(err, DCC_E_IO, "cannot write the embedded container");
	}
	const uint8_t *restp = (const uint8_t *)mem;
	size_t restlen = memlen;
	uint8_t *z = NULL;
	int coding = DCC_ENTROPY_NONE;
	if (bl->rest_zstd) {
		size_t cap = ZSTD_compressBound(memlen);
		if ((z = malloc(cap))) {
			size_t zl = ZSTD_compress(z, cap, mem, memlen, 19);
			if (!ZSTD_isError(zl) && zl < memlen)
				restp = z, restlen = zl, coding = DCC_ENTROPY_ZSTD;
		}
	}
	dcc_buf b = {0};
	dcc_buf_put(&b, MAGIC, 8);
	dcc_buf_u32(&b, 1);
	dcc_buf_u32(&b, (uint32_t)bl->nlayers);
	dcc_buf_u64(&b, restlen);
	dcc_buf_u64(&b, memlen);
	dcc_buf_u8(&b, (uint8_t)coding);
	dcc_buf_zeros(&b, 7);
	dcc_buf_u32(&b, dcc_crc32c(0, restp, restlen));
	dcc_buf_u32(&b, 0); /* the header's crc, below */
	dcc_buf_put(&b, restp, restlen);
	pad(&b, 8);
	free(z);
	free(mem);
	bl->rest_bytes = restlen;
	bl->rest_raw_bytes = memlen;
	for (size_t li = 0; li < bl->nlayers && !b.oom; li++) {
		dcc_blob_layer *l = &bl->layer[li];
		size_t start = b.n, nlen = strlen(l->name);
		dcc_buf_u32(&b, 0); /* record size */
		dcc_buf_u32(&b, 0); /* record crc */
		dcc_buf_u16(&b, (uint16_t)nlen);
		dcc_buf_put(&b, l->name, nlen);
		pad(&b, 4);
		const uint8_t f[12] = {(uint8_t)l->kind, (uint8_t)l->layout, (uint8_t)l->index_bits, (uint8_t)l->has_mask,
				       (uint8_t)l->pes, (uint8_t)(l->pes >> 8), (uint8_t)l->value_bits, (uint8_t)l->ndim,
				       (uint8_t)(int8_t)l->fl, (uint8_t)l->dtype, (uint8_t)l->tensor_bits, 0};
		dcc_buf_put(&b, f, sizeof(f));
		dcc_buf_u32(&b, l->filler);
		dcc_buf_u32(&b, l->alphabet);
		for (int d = 0; d < l->ndim; d++)
			dcc_buf_u64(&b, l->shape[d]);
		dcc_buf_u64(&b, l->entries);
		dcc_buf_u64(&b, l->fillers);
		for (int k = 0; k < 3; k++)
			put_stream(&b, &l->st[k]);
		pad(&b, 8);
		if (b.n - start > UINT32_MAX) {
			dcc_buf_free(&b);
			return dcc_fail(err, DCC_E_RANGE, "layer '%s': a record of over 4 GB", l->name);
		}
		if (!b.oom) {
			dcc_wr32(b.p + start, (uint32_t)(b.n - start));
			dcc_wr32(b.p + start + 4, dcc_crc32c(0, b.p + start + 8, b.n - start - 8));
			l->bytes = b.n - start;
		}
	}
	if (b.oom) {
		dcc_buf_free(&b);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	dcc_wr32(b.p + 44, dcc_crc32c(0, b.p, 44));
	bl->total_bytes = b.n;
	*out = b.p;
	*len = b.n;
	return 0;
}

/* A stream header and its payload at *pos within [0, end), holding exactly
 * `want` symbols of `alphabet` (0: any alphabet up to 2^32). */
static int get_stream(const uint8_t *p, size_t end, size_t *pos, dcc_stream *s, uint64_t want, uint32_t alphabet,
		      const char *what, const char *name, dcc_error *err)
{
	if (end - *pos < STREAM_HDR)
		return dcc_fail(err, DCC_E_FORMAT, "layer '%s': %s stream header truncated", name, what);
	const uint8_t *h = p + *pos;
	s->coding = h[0], s->raw_bits = h[1];
	s->alphabet = dcc_rd32(h + 4);
	s->symbols = dcc_rd64(h + 8);
	uint64_t sz = dcc_rd64(h + 16);
	*pos += STREAM_HDR;
	int rb = s->raw_bits;
	if (rb < 1 || rb > 32 || s->coding > DCC_ENTROPY_ZSTD || s->alphabet == 0 ||
	    (rb < 32 && s->alphabet > (1ull << rb)) || dcc_rd16(h + 2))
		return dcc_fail(err, DCC_E_FORMAT, "layer '%s': %s stream header invalid", name, what);
	/* the layer says how many symbols the stream must hold: checked before
	 * a single one is decoded, so no stream can claim more than its layer */
	if (s->symbols != want || (alphabet && s->alphabet != alphabet))
		return dcc_fail(err, DCC_E_FORMAT, "layer '%s': %s stream holds %llu symbols of %u, the layer needs %llu of %u",
				name, what, (unsigned long long)s->symbols, s->alphabet, (unsigned long long)want,
				alphabet ? alphabet : s->alphabet);
	if (sz > end - *pos)
		return dcc_fail(err, DCC_E_FORMAT, "layer '%s': %s stream of %llu bytes truncated (%zu present)", name, what,
				(unsigned long long)sz, end - *pos);
	uint64_t rawlen = (s->symbols * (uint64_t)rb + 7) / 8;
	if (rawlen > MAX_RAW || (s->coding == DCC_ENTROPY_NONE && rawlen != sz))
		return dcc_fail(err, DCC_E_FORMAT, "layer '%s': %s stream sizes inconsistent", name, what);
	/* a Huffman code spends at least a bit a symbol (none for one symbol) */
	if (s->coding == DCC_ENTROPY_HUFFMAN && s->symbols > 8 * sz + 64 && sz > 32)
		return dcc_fail(err, DCC_E_FORMAT, "layer '%s': %s stream claims more symbols than its bytes hold", name, what);
	if (s->coding == DCC_ENTROPY_ZSTD && ZSTD_getFrameContentSize(p + *pos, (size_t)sz) != rawlen)
		return dcc_fail(err, DCC_E_FORMAT, "layer '%s': %s stream's zstd frame is not %llu bytes", name, what,
				(unsigned long long)rawlen);
	s->data = p + *pos;
	s->len = (size_t)sz;
	*pos += (size_t)sz;
	size_t q = (*pos + 3) & ~(size_t)3;
	for (; *pos < q && *pos < end; (*pos)++)
		if (p[*pos])
			return dcc_fail(err, DCC_E_FORMAT, "layer '%s': %s stream padding is not zero", name, what);
	return 0;
}

static int read_layer(const uint8_t *r, size_t rs, size_t blob_len, dcc_blob_layer *l, dcc_error *err, uint32_t li)
{
	size_t q = 8;
	uint16_t nlen = dcc_rd16(r + q);
	q += 2;
	if (nlen == 0 || nlen > DCC_MAX_NAME || q + nlen + 32 > rs || memchr(r + q, 0, nlen))
		return dcc_fail(err, DCC_E_FORMAT, "layer %u: bad name", li);
	memcpy(l->name, r + q, nlen);
	l->name[nlen] = 0;
	q = (q + nlen + 3) & ~(size_t)3;
	const uint8_t *f = r + q;
	l->kind = f[0], l->layout = f[1], l->index_bits = f[2], l->has_mask = f[3];
	l->pes = dcc_rd16(f + 4), l->value_bits = f[6], l->ndim = f[7], l->fl = (int8_t)f[8], l->dtype = f[9];
	l->tensor_bits = f[10];
	l->filler = dcc_rd32(f + 12), l->alphabet = dcc_rd32(f + 16);
	q += 20;
	const char *name = l->name;
	if ((l->kind != DCC_BLOB_SHARED && l->kind != DCC_BLOB_FIXED) || l->layout > DCC_LAYOUT_CBS ||
	    l->index_bits < 1 || l->index_bits > 16 || l->ndim < 2 || l->ndim > DCC_MAX_DIMS || l->pes < 1 ||
	    l->value_bits < 1 || l->value_bits > 16 || l->has_mask > 1 || f[11] || q + 8 * (size_t)l->ndim + 16 > rs ||
	    (l->kind == DCC_BLOB_SHARED && (l->dtype != DCC_PACKED || l->tensor_bits != l->value_bits)) ||
	    (l->kind == DCC_BLOB_FIXED && l->dtype != DCC_Q8 && l->dtype != DCC_Q16) ||
	    (l->layout == DCC_LAYOUT_CSC && l->pes != 1))
		return dcc_fail(err, DCC_E_FORMAT, "layer '%s': header invalid", name);
	uint64_t numel = 1;
	for (int d = 0; d < l->ndim; d++) {
		l->shape[d] = dcc_rd64(r + q + 8 * (size_t)d);
		if (l->shape[d] == 0 || numel > (1ull << 40) / l->shape[d])
			return dcc_fail(err, DCC_E_FORMAT, "layer '%s': shape invalid", name);
		numel *= l->shape[d];
	}
	q += 8 * (size_t)l->ndim;
	l->entries = dcc_rd64(r + q), l->fillers = dcc_rd64(r + q + 8);
	q += 16;
	uint64_t cols = numel / l->shape[0];
	/* the dense size is bounded by the entries the blob could hold */
	if (numel > 64 * (uint64_t)blob_len + (1u << 20))
		return dcc_fail(err, DCC_E_FORMAT, "layer '%s': %llu weights from a %zu-byte blob", name,
				(unsigned long long)numel, blob_len);
	if ((uint64_t)l->pes * cols > 64 * (uint64_t)blob_len + 1024 || l->entries > numel + numel / 2 + 1 ||
	    l->fillers > l->entries)
		return dcc_fail(err, DCC_E_FORMAT, "layer '%s': counts invalid", name);
	uint64_t ncount = l->layout == DCC_LAYOUT_CBS ? 0 : (uint64_t)l->pes * cols;
	size_t pos = q;
	int rc = get_stream(r, rs, &pos, &l->st[0], l->entries, 1u << l->index_bits, "index", name, err);
	if (!rc)
		rc = get_stream(r, rs, &pos, &l->st[1], l->entries, l->alphabet, "value", name, err);
	if (!rc)
		rc = get_stream(r, rs, &pos, &l->st[2], ncount, 0, "count", name, err);
	if (rc)
		return rc;
	for (; pos < rs; pos++)
		if (r[pos])
			return dcc_fail(err, DCC_E_FORMAT, "layer '%s': %zu bytes after its streams", name, rs - pos);
	l->bytes = rs;
	return 0;
}

static int cmp_layer_name(const void *a, const void *b)
{
	return strcmp((*(const dcc_blob_layer *const *)a)->name, (*(const dcc_blob_layer *const *)b)->name);
}

int dcc_dcb_read_mem(const uint8_t *p, size_t len, dcc_blob *bl, dcc_error *err)
{
	memset(bl, 0, sizeof(*bl));
	if (len < HDR || memcmp(p, MAGIC, 8))
		return dcc_fail(err, DCC_E_FORMAT, "not a dcc blob (bad magic)");
	if (dcc_crc32c(0, p, 44) != dcc_rd32(p + 44))
		return dcc_fail(err, DCC_E_CHECKSUM, "blob header checksum mismatch");
	if (dcc_rd32(p + 8) != 1)
		return dcc_fail(err, DCC_E_UNSUPPORTED, "blob version %u (this dcc reads 1)", dcc_rd32(p + 8));
	uint32_t nl = dcc_rd32(p + 12);
	uint64_t restlen = dcc_rd64(p + 16), rawlen = dcc_rd64(p + 24);
	int coding = p[32];
	for (int k = 33; k < 40; k++)
		if (p[k])
			return dcc_fail(err, DCC_E_FORMAT, "blob header: reserved bytes set");
	if (restlen > len - HDR)
		return dcc_fail(err, DCC_E_FORMAT, "embedded container of %llu bytes truncated", (unsigned long long)restlen);
	if (nl > (len - HDR) / 64 + 1)
		return dcc_fail(err, DCC_E_FORMAT, "%u layers cannot fit in %zu bytes", nl, len);
	const uint8_t *rp = p + HDR;
	if (dcc_crc32c(0, rp, (size_t)restlen) != dcc_rd32(p + 40))
		return dcc_fail(err, DCC_E_CHECKSUM, "embedded container checksum mismatch");
	uint8_t *unz = NULL;
	if (coding == DCC_ENTROPY_ZSTD) {
		if (rawlen > MAX_RAW || rawlen > restlen * REST_RATIO + REST_SLACK)
			return dcc_fail(err, DCC_E_FORMAT, "embedded container claims %llu bytes from %llu (more than %d:1)",
					(unsigned long long)rawlen, (unsigned long long)restlen, REST_RATIO);
		if (ZSTD_getFrameContentSize(rp, (size_t)restlen) != rawlen || !(unz = malloc(rawlen ? rawlen : 1)) ||
		    ZSTD_decompress(unz, rawlen, rp, restlen) != rawlen) {
			free(unz);
			return dcc_fail(err, DCC_E_FORMAT, "embedded container: zstd data corrupt");
		}
		rp = unz;
	} else if (coding != DCC_ENTROPY_NONE || rawlen != restlen) {
		return dcc_fail(err, DCC_E_FORMAT, "embedded container: unknown coding");
	}
	dcc_error e2 = {0};
	int rc = dcc_dct_read_mem(rp, (size_t)rawlen, 0, &bl->rest, &e2);
	free(unz);
	if (rc)
		return dcc_fail(err, rc, "embedded container: %s", e2.msg);
	bl->rest_bytes = restlen, bl->rest_raw_bytes = rawlen, bl->total_bytes = len;
	if (!(bl->layer = calloc(nl ? nl : 1, sizeof(dcc_blob_layer)))) {
		dcc_blob_free(bl);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	size_t pos = (HDR + (size_t)restlen + 7) & ~(size_t)7;
	for (size_t k = HDR + (size_t)restlen; k < pos && k < len; k++)
		if (p[k])
			rc = dcc_fail(err, DCC_E_FORMAT, "embedded container padding is not zero");
	for (uint32_t li = 0; li < nl && !rc; li++) {
		if (pos > len || len - pos < 64) {
			rc = dcc_fail(err, DCC_E_FORMAT, "layer %u truncated", li);
			break;
		}
		uint32_t rs = dcc_rd32(p + pos);
		if (rs < 64 || rs > len - pos || rs % 8) {
			rc = dcc_fail(err, DCC_E_FORMAT, "layer %u: record size %u invalid (%zu bytes left)", li, rs, len - pos);
			break;
		}
		if (dcc_crc32c(0, p + pos + 8, rs - 8) != dcc_rd32(p + pos + 4)) {
			rc = dcc_fail(err, DCC_E_CHECKSUM, "layer %u: checksum mismatch", li);
			break;
		}
		bl->nlayers = li + 1;
		rc = read_layer(p + pos, rs, len, &bl->layer[li], err, li);
		pos += rs;
	}
	if (!rc && pos != len)
		rc = dcc_fail(err, DCC_E_FORMAT, "%zu stray bytes after the last layer", len - pos);
	/* one record per weight: a repeated name would decode over itself */
	const dcc_blob_layer **v = rc ? NULL : malloc((bl->nlayers ? bl->nlayers : 1) * sizeof(*v));
	if (!rc && !v)
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	for (size_t i = 0; v && i < bl->nlayers; i++)
		v[i] = &bl->layer[i];
	if (v)
		qsort(v, bl->nlayers, sizeof(*v), cmp_layer_name);
	for (size_t i = 1; v && !rc && i < bl->nlayers; i++)
		if (!strcmp(v[i - 1]->name, v[i]->name))
			rc = dcc_fail(err, DCC_E_FORMAT, "layer '%s' is recorded twice", v[i]->name);
	free(v);
	if (rc) {
		dcc_blob_free(bl);
		return rc;
	}
	return 0;
}
