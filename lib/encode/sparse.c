/* sparse.c: Deep Compression's relative-index CSC and EIE's per-PE
 * interleaved CSC: build from a dense presence map, expand back exactly. */
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "../dcc_encode.h"

void dcc_sparse_free(dcc_sparse *s)
{
	free(s->skip);
	free(s->val);
	free(s->count);
	memset(s, 0, sizeof(*s));
}

typedef struct grow {
	uint32_t *skip, *val;
	size_t n, cap;
} grow;

static int push(grow *g, uint32_t skip, uint32_t val)
{
	if (g->n == g->cap) {
		size_t c = g->cap ? 2 * g->cap : 1024;
		uint32_t *a = realloc(g->skip, c * sizeof(uint32_t)), *b = NULL;
		if (a)
			g->skip = a;
		if (!a || !(b = realloc(g->val, c * sizeof(uint32_t))))
			return -1;
		g->val = b;
		g->cap = c;
	}
	g->skip[g->n] = skip;
	g->val[g->n++] = val;
	return 0;
}

int dcc_sparse_build(dcc_sparse *s, int layout, int index_bits, int pes, size_t rows, size_t cols,
		     const uint8_t *present, const uint32_t *sym, uint32_t filler, dcc_error *err)
{
	memset(s, 0, sizeof(*s));
	if (index_bits < 1 || index_bits > 16)
		return dcc_fail(err, DCC_E_RANGE, "index width %d is outside 1..16 bits", index_bits);
	if (layout == DCC_LAYOUT_CSC)
		pes = 1;
	if (pes < 1 || pes > 65535)
		return dcc_fail(err, DCC_E_RANGE, "%d PEs (1 to 65535)", pes);
	s->layout = layout;
	s->index_bits = index_bits;
	s->pes = pes;
	s->rows = rows;
	s->cols = cols;
	s->filler = filler;
	if (!(s->count = calloc((size_t)pes * cols + 1, sizeof(uint32_t))))
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	grow g = {0};
	uint32_t maxskip = (1u << index_bits) - 1;
	for (int pe = 0; pe < pes; pe++) {
		size_t lrows = (rows - (size_t)pe + (size_t)pes - 1) / (size_t)pes;
		for (size_t c = 0; c < cols; c++) {
			size_t before = g.n;
			long prev = -1;
			for (size_t lr = 0; lr < lrows; lr++) {
				size_t at = (lr * (size_t)pes + (size_t)pe) * cols + c;
				if (!present[at])
					continue;
				if (sym[at] == filler) {
					free(g.skip), free(g.val);
					dcc_sparse_free(s);
					return dcc_fail(err, DCC_E_RANGE, "a weight's value symbol equals the filler symbol %u", filler);
				}
				uint32_t skip, nf = dcc_csc_split_gap((uint32_t)((long)lr - prev - 1), maxskip, &skip);
				for (uint32_t f = 0; f < nf; f++)
					if (push(&g, maxskip, filler))
						goto oom;
				s->nfillers += nf;
				if (push(&g, skip, sym[at]))
					goto oom;
				prev = (long)lr;
				s->nreal++;
			}
			if (g.n - before > UINT32_MAX)
				goto oom;
			s->count[(size_t)pe * cols + c] = (uint32_t)(g.n - before);
		}
	}
	s->skip = g.skip;
	s->val = g.val;
	s->nentries = g.n;
	return 0;
oom:
	free(g.skip), free(g.val);
	dcc_sparse_free(s);
	return dcc_fail(err, DCC_E_NOMEM, "out of memory");
}

int dcc_sparse_expand(const dcc_sparse *s, uint8_t *present, uint32_t *sym, dcc_error *err)
{
	size_t rows = s->rows, cols = s->cols, e = 0;
	memset(present, 0, rows * cols);
	memset(sym, 0, rows * cols * sizeof(uint32_t));
	for (int pe = 0; pe < s->pes; pe++) {
		size_t lrows = (rows - (size_t)pe + (size_t)s->pes - 1) / (size_t)s->pes;
		for (size_t c = 0; c < cols; c++) {
			size_t cnt = s->count[(size_t)pe * cols + c];
			if (cnt > s->nentries - e)
				return dcc_fail(err, DCC_E_FORMAT, "column counts exceed the %zu entries", s->nentries);
			long prev = -1;
			for (size_t k = 0; k < cnt; k++, e++) {
				long lr = prev + (long)s->skip[e] + 1;
				if (lr >= (long)lrows)
					return dcc_fail(err, DCC_E_FORMAT, "entry %zu runs past column %zu (row %ld of %zu)", e, c,
							lr, lrows);
				prev = lr;
				if (s->val[e] == s->filler)
					continue;
				size_t at = ((size_t)lr * (size_t)s->pes + (size_t)pe) * cols + c;
				present[at] = 1;
				sym[at] = s->val[e];
			}
		}
	}
	if (e != s->nentries)
		return dcc_fail(err, DCC_E_FORMAT, "%zu entries but the column counts cover %zu", s->nentries, e);
	return 0;
}

int dcc_cbs_build(dcc_sparse *s, int bank, size_t rows, size_t cols, const uint8_t *present, const uint32_t *sym,
		  dcc_error *err)
{
	memset(s, 0, sizeof(*s));
	size_t B = (size_t)bank;
	if (bank < 2 || bank > 65535 || cols % B)
		return dcc_fail(err, DCC_E_RANGE, "bank size %d does not divide the rows of %zu weights (2..65535)", bank, cols);
	size_t nb = cols / B, k = 0;
	for (size_t i = 0; i < B; i++)
		k += present[i];
	for (size_t r = 0; r < rows; r++)
		for (size_t b = 0; b < nb; b++) {
			size_t c = 0;
			for (size_t i = 0; i < B; i++)
				c += present[r * cols + b * B + i];
			if (c != k)
				return dcc_fail(err, DCC_E_UNSUPPORTED,
						"not bank-balanced for banks of %zu: row %zu bank %zu keeps %zu weights, row 0 bank 0 keeps %zu "
						"(dcc prune --bank %zu)", B, r, b, c, k, B);
		}
	s->layout = DCC_LAYOUT_CBS;
	s->pes = bank;
	s->index_bits = 1;
	while ((1u << s->index_bits) < B)
		s->index_bits++;
	s->rows = rows;
	s->cols = cols;
	s->nentries = s->nreal = rows * nb * k;
	s->skip = malloc((s->nentries ? s->nentries : 1) * sizeof(uint32_t));
	s->val = malloc((s->nentries ? s->nentries : 1) * sizeof(uint32_t));
	size_t *pos = malloc((nb * k + 1) * sizeof(size_t));
	if (!s->skip || !s->val || !pos) {
		free(pos);
		dcc_sparse_free(s);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	size_t e = 0;
	for (size_t r = 0; r < rows; r++) {
		for (size_t b = 0; b < nb; b++) /* each bank's entries in order */
			for (size_t i = 0, j = 0; i < B; i++)
				if (present[r * cols + b * B + i])
					pos[b * k + j++] = i;
		for (size_t j = 0; j < k; j++) /* interleaved: every bank's j-th */
			for (size_t b = 0; b < nb; b++, e++) {
				s->skip[e] = (uint32_t)pos[b * k + j];
				s->val[e] = sym[r * cols + b * B + pos[b * k + j]];
			}
	}
	free(pos);
	return 0;
}

int dcc_cbs_expand(const dcc_sparse *s, uint8_t *present, uint32_t *sym, dcc_error *err)
{
	size_t B = (size_t)s->pes, rows = s->rows, cols = s->cols;
	if (B < 2 || cols % B)
		return dcc_fail(err, DCC_E_FORMAT, "bank size %zu does not divide rows of %zu", B, cols);
	size_t nb = cols / B, per_row = rows ? s->nentries / rows : 0;
	if (rows * per_row != s->nentries || (nb && per_row % nb) || per_row > cols)
		return dcc_fail(err, DCC_E_FORMAT, "%zu entries do not fill %zu rows of %zu banks evenly", s->nentries, rows, nb);
	memset(present, 0, rows * cols);
	memset(sym, 0, rows * cols * sizeof(uint32_t));
	size_t e = 0;
	for (size_t r = 0; r < rows; r++)
		for (size_t j = 0; j < (nb ? per_row / nb : 0); j++)
			for (size_t b = 0; b < nb; b++, e++) {
				size_t i = s->skip[e];
				if (i >= B || present[r * cols + b * B + i])
					return dcc_fail(err, DCC_E_FORMAT, "entry %zu: position %zu in bank %zu of row %zu is invalid", e,
							i, b, r);
				present[r * cols + b * B + i] = 1;
				sym[r * cols + b * B + i] = s->val[e];
			}
	return 0;
}

int dcc_sparse_csc_arrays(const dcc_blob_info *info, const dcc_sparse *sp, dcc_model **out, dcc_error *err)
{
	dcc_model *m = dcc_model_new();
	int rc = m ? 0 : dcc_fail(err, DCC_E_NOMEM, "out of memory");
	for (size_t li = 0; li < info->nlayers && !rc; li++) {
		const dcc_sparse *s = &sp[li];
		if (s->layout == DCC_LAYOUT_CBS)
			continue;
		size_t e0 = 0;
		for (int pe = 0; pe < s->pes && !rc; pe++) {
			size_t cols = s->cols, n = 0;
			for (size_t c = 0; c < cols; c++)
				n += s->count[(size_t)pe * cols + c];
			int64_t *ptr = malloc((cols + 1) * sizeof(int64_t));
			int32_t *idx = malloc((n + 1) * sizeof(int32_t)), *val = malloc((n + 1) * sizeof(int32_t));
			if (!ptr || !idx || !val) {
				free(ptr), free(idx), free(val);
				rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
				break;
			}
			size_t k = 0;
			for (size_t c = 0; c < cols; c++) {
				ptr[c] = (int64_t)k;
				long row = -1;
				for (uint32_t q = 0; q < s->count[(size_t)pe * cols + c]; q++, e0++) {
					row += (long)s->skip[e0] + 1;
					if (s->val[e0] == s->filler)
						continue;
					idx[k] = (int32_t)row;
					val[k++] = (int32_t)s->val[e0];
				}
			}
			ptr[cols] = (int64_t)k;
			char base[DCC_MAX_NAME + 32], nm[DCC_MAX_NAME + 48];
			if (s->layout == DCC_LAYOUT_EIE)
				snprintf(base, sizeof(base), "%s.pe%d", info->layer[li].name, pe);
			else
				snprintf(base, sizeof(base), "%s", info->layer[li].name);
			uint64_t sh1[1] = {cols + 1}, sh2[1] = {k};
			snprintf(nm, sizeof(nm), "%s.indptr", base);
			rc = dcc_model_add(m, nm, DCC_I64, 0, 0, 1, sh1, ptr, err);
			snprintf(nm, sizeof(nm), "%s.indices", base);
			if (!rc)
				rc = dcc_model_add(m, nm, DCC_I32, 0, 0, 1, sh2, idx, err);
			else
				free(idx);
			snprintf(nm, sizeof(nm), "%s.data", base);
			if (!rc)
				rc = dcc_model_add(m, nm, DCC_I32, 0, 0, 1, sh2, val, err);
			else
				free(val);
		}
	}
	if (rc) {
		dcc_model_free(m);
		return rc;
	}
	m->has_data = 1;
	*out = m;
	return 0;
}
