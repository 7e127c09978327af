/* huffman.c: canonical Huffman codes, lengths limited to 15 bits (the JPEG
 * adjustment of Annex K.3), a compact table of (symbol delta, length)
 * pairs, an LSB-first bitstream of bit-reversed codes, and a table-driven
 * decoder that reads one symbol per lookup. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "../dcc_encode.h"

double dcc_entropy_bits(const uint32_t *sym, size_t n, uint32_t alphabet)
{
	if (!n)
		return 0;
	uint64_t *f = calloc(alphabet ? alphabet : 1, sizeof(uint64_t));
	if (!f)
		return NAN;
	for (size_t i = 0; i < n; i++)
		f[sym[i]]++;
	double h = 0;
	for (uint32_t s = 0; s < alphabet; s++)
		if (f[s])
			h -= (double)f[s] * log2((double)f[s] / (double)n);
	free(f);
	return h;
}

typedef struct node {
	uint64_t w;
	int32_t a, b; /* children; -1 for a leaf */
	uint32_t sym;
} node;

static int cmp_node(const void *x, const void *y)
{
	const node *p = x, *q = y;
	if (p->w != q->w)
		return p->w < q->w ? -1 : 1;
	return p->sym < q->sym ? -1 : p->sym > q->sym;
}

/* Code lengths of the used symbols (sorted by weight) by the two-queue
 * method, then limited. */
static void lengths(node *lv, size_t m, uint8_t *len)
{
	if (m == 1) {
		len[0] = 0;
		return;
	}
	node *t = malloc((2 * m) * sizeof(node));
	size_t nt = 0, i = 0, j = 0;
	uint8_t *depth = calloc(2 * m, 1);
	int32_t *parent = malloc(2 * m * sizeof(int32_t));
	/* leaves are 0..m-1 (sorted), internal nodes m.. in creation order */
	for (size_t k = 0; k < m; k++)
		t[nt++] = lv[k];
	size_t inode = m;
	while (inode < 2 * m - 1) {
		int32_t pick[2];
		for (int q = 0; q < 2; q++) {
			if (i < m && (j >= inode - m || t[i].w <= t[m + j].w))
				pick[q] = (int32_t)i++;
			else
				pick[q] = (int32_t)(m + j++);
		}
		t[inode].w = t[pick[0]].w + t[pick[1]].w;
		parent[pick[0]] = parent[pick[1]] = (int32_t)inode;
		inode++;
	}
	depth[2 * m - 2] = 0;
	for (size_t k = 2 * m - 2; k-- > 0;)
		depth[k] = (uint8_t)(depth[parent[k]] + 1 > 255 ? 255 : depth[parent[k]] + 1);
	int bl[256] = {0};
	for (size_t k = 0; k < m; k++)
		bl[depth[k]]++;
	/* limit to MAXLEN (JPEG Annex K.3) */
	for (int L = 255; L > DCC_HUFF_MAXLEN; L--)
		while (bl[L] > 0) {
			int jj = L - 2;
			while (bl[jj] == 0)
				jj--;
			bl[L] -= 2;
			bl[L - 1]++;
			bl[jj + 1] += 2;
			bl[jj]--;
		}
	/* the most frequent symbols (end of the sorted list) get the shortest */
	size_t k = m;
	for (int L = 1; L <= DCC_HUFF_MAXLEN; L++)
		for (int c = 0; c < bl[L]; c++)
			len[--k] = (uint8_t)L;
	free(t), free(depth), free(parent);
}

static uint32_t reverse(uint32_t c, int n)
{
	uint32_t r = 0;
	for (int i = 0; i < n; i++)
		r |= ((c >> i) & 1) << (n - 1 - i);
	return r;
}

/* Canonical codes: by length, then symbol. */
static void canonical(const uint32_t *syms, const uint8_t *len, size_t m, uint32_t *code)
{
	int bl[DCC_HUFF_MAXLEN + 1] = {0};
	for (size_t k = 0; k < m; k++)
		bl[len[k]]++;
	bl[0] = 0;
	uint32_t next[DCC_HUFF_MAXLEN + 2], c = 0;
	for (int L = 1; L <= DCC_HUFF_MAXLEN; L++) {
		c = (c + (uint32_t)bl[L - 1]) << 1;
		next[L] = c;
	}
	/* syms ascending: assign in symbol order within each length */
	for (size_t k = 0; k < m; k++)
		if (len[k])
			code[k] = next[len[k]]++;
	(void)syms;
}

static void put_varint(dcc_buf *b, uint64_t v)
{
	while (v >= 0x80) {
		dcc_buf_u8(b, (uint8_t)(v | 0x80));
		v >>= 7;
	}
	dcc_buf_u8(b, (uint8_t)v);
}

static int get_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *v)
{
	uint64_t r = 0;
	for (int s = 0; s < 64; s += 7) {
		if (*pos >= len)
			return -1;
		uint8_t c = p[(*pos)++];
		r |= (uint64_t)(c & 0x7f) << s;
		if (!(c & 0x80)) {
			*v = r;
			return 0;
		}
	}
	return -1;
}

int dcc_huff_encode(const uint32_t *sym, size_t n, uint32_t alphabet, uint8_t **out, size_t *out_len,
		    size_t *table_bytes, dcc_error *err)
{
	uint64_t *f = calloc(alphabet ? alphabet : 1, sizeof(uint64_t));
	if (!f)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		if (sym[i] >= alphabet) {
			free(f);
			return dcc_fail(err, DCC_E_RANGE, "symbol %u outside the alphabet of %u", sym[i], alphabet);
		}
		f[sym[i]]++;
	}
	size_t m = 0;
	for (uint32_t s = 0; s < alphabet; s++)
		m += f[s] != 0;
	node *lv = malloc((m ? m : 1) * sizeof(node));
	uint8_t *len = malloc(m ? m : 1);
	uint32_t *syms = malloc((m ? m : 1) * sizeof(uint32_t)), *code = calloc(m ? m : 1, sizeof(uint32_t));
	uint32_t *slot = malloc((alphabet ? alphabet : 1) * sizeof(uint32_t));
	dcc_buf b = {0};
	int rc = lv && len && syms && code && slot ? 0 : dcc_fail(err, DCC_E_NOMEM, "out of memory");
	if (!rc) {
		size_t k = 0;
		for (uint32_t s = 0; s < alphabet; s++)
			if (f[s]) {
				lv[k].w = f[s];
				lv[k].sym = s;
				lv[k].a = lv[k].b = -1;
				k++;
			}
		if (m) {
			qsort(lv, m, sizeof(node), cmp_node);
			uint8_t *l2 = malloc(m);
			if (!l2) {
				rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
			} else {
				lengths(lv, m, l2);
				/* back to symbol order */
				for (size_t q = 0; q < m; q++) {
					slot[lv[q].sym] = (uint32_t)q;
				}
				k = 0;
				for (uint32_t s = 0; s < alphabet; s++)
					if (f[s]) {
						syms[k] = s;
						len[k] = l2[slot[s]];
						slot[s] = (uint32_t)k;
						k++;
					}
				free(l2);
				canonical(syms, len, m, code);
			}
		}
	}
	if (!rc) {
		/* table: used count, then (symbol delta, length) */
		put_varint(&b, m);
		uint32_t prev = 0;
		for (size_t k = 0; k < m; k++) {
			put_varint(&b, syms[k] - prev);
			dcc_buf_u8(&b, len[k]);
			prev = syms[k];
		}
		size_t tb = b.n;
		if (table_bytes)
			*table_bytes = tb;
		if (m > 1) {
			uint64_t acc = 0;
			int have = 0;
			for (size_t i = 0; i < n; i++) {
				size_t q = slot[sym[i]];
				acc |= (uint64_t)reverse(code[q], len[q]) << have;
				have += len[q];
				while (have >= 8) {
					dcc_buf_u8(&b, (uint8_t)acc);
					acc >>= 8;
					have -= 8;
				}
			}
			if (have)
				dcc_buf_u8(&b, (uint8_t)acc);
		}
		if (b.oom)
			rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	if (!rc) {
		uint8_t *o = realloc(*out, *out_len + b.n);
		if (!o) {
			rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
		} else {
			memcpy(o + *out_len, b.p, b.n);
			*out = o;
			*out_len += b.n;
		}
	}
	dcc_buf_free(&b);
	free(f), free(lv), free(len), free(syms), free(code), free(slot);
	return rc;
}

int dcc_huff_decode(const uint8_t *in, size_t len, size_t n, uint32_t alphabet, uint32_t *sym, dcc_error *err)
{
	size_t pos = 0;
	uint64_t m;
	if (get_varint(in, len, &pos, &m) || m > alphabet || m > len)
		return dcc_fail(err, DCC_E_FORMAT, "Huffman table: bad symbol count");
	if (m == 0) {
		if (n)
			return dcc_fail(err, DCC_E_FORMAT, "Huffman table empty for %zu symbols", n);
		return 0;
	}
	uint32_t *syms = malloc(m * sizeof(uint32_t)), *code = malloc(m * sizeof(uint32_t));
	uint8_t *ln = malloc(m);
	uint32_t *table = NULL;
	int rc = syms && code && ln ? 0 : dcc_fail(err, DCC_E_NOMEM, "out of memory");
	uint64_t prev = 0;
	int maxlen = 0;
	for (uint64_t k = 0; k < m && !rc; k++) {
		uint64_t d;
		if (get_varint(in, len, &pos, &d) || pos >= len || (k && d == 0) || prev + d >= alphabet) {
			rc = dcc_fail(err, DCC_E_FORMAT, "Huffman table: bad symbol");
			break;
		}
		prev += d;
		syms[k] = (uint32_t)prev;
		ln[k] = in[pos++];
		if ((m == 1 && ln[k] != 0) || (m > 1 && (ln[k] < 1 || ln[k] > DCC_HUFF_MAXLEN)))
			rc = dcc_fail(err, DCC_E_FORMAT, "Huffman table: bad code length %u", ln[k]);
		maxlen = ln[k] > maxlen ? ln[k] : maxlen;
	}
	if (!rc && m == 1) {
		for (size_t i = 0; i < n; i++)
			sym[i] = syms[0];
		if (pos != len)
			rc = dcc_fail(err, DCC_E_FORMAT, "Huffman stream: %zu stray bytes", len - pos);
		free(syms), free(code), free(ln);
		return rc;
	}
	if (!rc) { /* Kraft: a complete or under-full code only */
		uint64_t kraft = 0;
		for (uint64_t k = 0; k < m; k++)
			kraft += 1ull << (DCC_HUFF_MAXLEN - ln[k]);
		if (kraft > (1ull << DCC_HUFF_MAXLEN))
			rc = dcc_fail(err, DCC_E_FORMAT, "Huffman table: code lengths oversubscribed");
	}
	if (!rc) {
		canonical(syms, ln, (size_t)m, code);
		table = malloc(((size_t)1 << maxlen) * sizeof(uint32_t));
		if (!table) {
			rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
		} else {
			for (size_t i = 0; i < ((size_t)1 << maxlen); i++)
				table[i] = UINT32_MAX; /* no code */
			for (uint64_t k = 0; k < m; k++) {
				uint32_t r = reverse(code[k], ln[k]);
				for (uint32_t fill = r; fill < (1u << maxlen); fill += 1u << ln[k])
					table[fill] = (uint32_t)k << 4 | ln[k];
			}
		}
	}
	if (!rc) {
		const uint8_t *p = in + pos, *end = in + len;
		uint64_t acc = 0;
		int have = 0;
		uint32_t mask = (1u << maxlen) - 1;
		int per = 56 / maxlen; /* symbols decodable after one refill */
		size_t i = 0;
		/* fast path: refill eight bytes at a time, then decode `per` symbols */
		while (i + (size_t)per <= n && end - p >= 8) {
			uint64_t v;
			memcpy(&v, p, 8); /* little-endian hosts */
			acc |= v << have;
			p += (63 - have) >> 3;
			have |= 56;
			for (int k = 0; k < per; k++) {
				uint32_t e = table[acc & mask];
				if (e == UINT32_MAX) {
					rc = dcc_fail(err, DCC_E_FORMAT, "Huffman stream corrupt at symbol %zu of %zu", i, n);
					break;
				}
				sym[i++] = syms[e >> 4];
				acc >>= e & 15;
				have -= (int)(e & 15);
			}
			if (rc)
				break;
		}
		for (; !rc && i < n; i++) { /* the tail, a byte at a time */
			while (have <= 56 && p < end) {
				acc |= (uint64_t)*p++ << have;
				have += 8;
			}
			uint32_t e = table[acc & mask];
			if (e == UINT32_MAX || (int)(e & 15) > have) {
				rc = dcc_fail(err, DCC_E_FORMAT, "Huffman stream corrupt or truncated at symbol %zu of %zu", i, n);
				break;
			}
			sym[i] = syms[e >> 4];
			acc >>= e & 15;
			have -= (int)(e & 15);
		}
		if (!rc && (p != end || acc != 0 || have >= 8))
			rc = dcc_fail(err, DCC_E_FORMAT, "Huffman stream: stray bytes after %zu symbols", n);
	}
	free(syms), free(code), free(ln), free(table);
	return rc;
}
