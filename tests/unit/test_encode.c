/* test_encode.c: the relative-index layouts against hand-worked examples
 * (Deep Compression's 3-bit gaps with a filler; EIE's rows interleaved over
 * 4 PEs), random round trips with extreme columns, and canonical Huffman
 * coding: round trips, length limiting, one-symbol streams, closeness to
 * the order-0 entropy and rejection of corrupt streams. */
#include <math.h>
#include <stdlib.h>

#include "../../lib/dcc_encode.h"
#include "check.h"

static unsigned long long seed = 99;
static double urand(void) { return (double)(check_rng(&seed) >> 11) * 0x1.0p-53; }

static void test_paper_example(void)
{
	/* one column of 16 rows, weights at rows 1, 4 and 15, 3-bit gaps:
	 * distances 2, 3, 11 -> 11 > 8 needs a filler 8 rows on (row 12) */
	uint8_t present[16] = {0};
	uint32_t sym[16] = {0};
	present[1] = present[4] = present[15] = 1;
	sym[1] = 3, sym[4] = 5, sym[15] = 7;
	dcc_sparse s;
	dcc_error e = {0};
	CHECK(!dcc_sparse_build(&s, DCC_LAYOUT_CSC, 3, 1, 16, 1, present, sym, 9, &e));
	CHECK(s.nentries == 4 && s.nfillers == 1 && s.nreal == 3 && s.count[0] == 4);
	CHECK(s.skip[0] == 1 && s.skip[1] == 2 && s.skip[2] == 7 && s.skip[3] == 2);
	CHECK(s.val[0] == 3 && s.val[1] == 5 && s.val[2] == 9 && s.val[3] == 7);
	uint8_t p2[16];
	uint32_t s2[16];
	CHECK(!dcc_sparse_expand(&s, p2, s2, &e) && !memcmp(p2, present, 16));
	CHECK(s2[1] == 3 && s2[4] == 5 && s2[15] == 7);
	dcc_sparse_free(&s);
}

static void test_eie_example(void)
{
	/* 8 rows x 3 columns over 4 PEs: PE p holds rows p and p + 4
	 *      c0 c1 c2
	 *  r0   1  .  .      PE0: c0 {r0}, c1 {}, c2 {r4}
	 *  r1   .  2  .      PE1: c0 {r5}, c1 {r1}, c2 {}
	 *  r2   .  .  .      PE2: c0 {}, c1 {}, c2 {r6}
	 *  r3   3  .  4      PE3: c0 {r3, r7}, c1 {}, c2 {r3}
	 *  r4   .  .  5
	 *  r5   6  .  .
	 *  r6   .  .  7
	 *  r7   8  .  .   */
	uint8_t P[24] = {0};
	uint32_t S[24] = {0};
	int at[][3] = {{0, 0, 1}, {1, 1, 2}, {3, 0, 3}, {3, 2, 4}, {4, 2, 5}, {5, 0, 6}, {6, 2, 7}, {7, 0, 8}};
	for (int i = 0; i < 8; i++)
		P[at[i][0] * 3 + at[i][1]] = 1, S[at[i][0] * 3 + at[i][1]] = (uint32_t)at[i][2];
	dcc_sparse s;
	dcc_error e = {0};
	CHECK(!dcc_sparse_build(&s, DCC_LAYOUT_EIE, 4, 4, 8, 3, P, S, 0, &e));
	uint32_t want_count[12] = {1, 0, 1, 1, 1, 0, 0, 0, 1, 2, 0, 1};
	CHECK(!memcmp(s.count, want_count, sizeof(want_count)));
	/* entries PE by PE, column by column; skips in local rows */
	uint32_t want_skip[8] = {0, 1, 1, 0, 1, 0, 0, 0}, want_val[8] = {1, 5, 6, 2, 7, 3, 8, 4};
	CHECK(s.nentries == 8 && !memcmp(s.skip, want_skip, sizeof(want_skip)) && !memcmp(s.val, want_val, sizeof(want_val)));
	dcc_sparse_free(&s);
}

static void test_random_layouts(void)
{
	enum { R = 70, C = 9 };
	static uint8_t P[R * C], P2[R * C];
	static uint32_t S[R * C], S2[R * C];
	dcc_error e = {0};
	int ok = 1;
	for (int round = 0; round < 300; round++) {
		int ib = 1 + round % 8, pes = (int[]){1, 3, 64, 4}[round % 4], layout = round % 2;
		double dens = (double[]){0.0, 0.02, 0.3, 1.0}[(round / 2) % 4];
		for (int i = 0; i < R * C; i++) {
			int c = i % C;
			P[i] = c == 0 ? 0 : c == 1 ? 1 : urand() < dens; /* an empty and a full column */
			S[i] = P[i] ? 1 + (uint32_t)(urand() * 6) : 0;
		}
		if (round % 5 == 0) /* a single nonzero at the bottom: a gap far beyond the index range */
			for (int i = 0; i < R * C; i++)
				P[i] = i == (R - 1) * C + 4, S[i] = P[i] ? 2 : 0;
		dcc_sparse s;
		if (dcc_sparse_build(&s, layout, ib, pes, R, C, P, S, 0, &e) || dcc_sparse_expand(&s, P2, S2, &e)) {
			ok = 0;
			fprintf(stderr, "round %d: %s\n", round, e.msg);
			continue;
		}
		for (int i = 0; i < R * C; i++)
			ok &= P2[i] == P[i] && (!P[i] || S2[i] == S[i]);
		size_t real = 0;
		for (int i = 0; i < R * C; i++)
			real += P[i];
		ok &= s.nreal == real && s.nentries == real + s.nfillers;
		dcc_sparse_free(&s);
	}
	CHECK(ok);
	/* a weight whose symbol is the filler is refused */
	uint8_t p1[2] = {1, 1};
	uint32_t s1[2] = {0, 1};
	dcc_sparse s;
	CHECK_ERR(dcc_sparse_build(&s, DCC_LAYOUT_CSC, 4, 1, 2, 1, p1, s1, 0, &e), e, DCC_E_RANGE, "filler");
	/* corrupt counts and skips are caught */
	CHECK(!dcc_sparse_build(&s, DCC_LAYOUT_CSC, 2, 1, 2, 1, p1, (uint32_t[]){1, 2}, 0, &e));
	s.count[0] = 3;
	CHECK_ERR(dcc_sparse_expand(&s, P2, S2, &e), e, DCC_E_FORMAT, "exceed");
	s.count[0] = 2;
	s.skip[1] = 3;
	CHECK_ERR(dcc_sparse_expand(&s, P2, S2, &e), e, DCC_E_FORMAT, "runs past");
	dcc_sparse_free(&s);
}

static void test_cbs(void)
{
	/* one row of two banks of 4, two weights kept in each:
	 * bank 0 keeps positions 1, 3 (10, 11), bank 1 positions 0, 2 (20, 21);
	 * interleaved: bank 0's first, bank 1's first, bank 0's second, ... */
	uint8_t P[8] = {0, 1, 0, 1, 1, 0, 1, 0}, P2[8];
	uint32_t S[8] = {0, 10, 0, 11, 20, 0, 21, 0}, S2[8];
	dcc_sparse s;
	dcc_error e = {0};
	CHECK(!dcc_cbs_build(&s, 4, 1, 8, P, S, &e));
	uint32_t want_pos[4] = {1, 0, 3, 2}, want_val[4] = {10, 20, 11, 21};
	CHECK(s.nentries == 4 && s.index_bits == 2 && !memcmp(s.skip, want_pos, sizeof(want_pos)) &&
	      !memcmp(s.val, want_val, sizeof(want_val)));
	CHECK(!dcc_cbs_expand(&s, P2, S2, &e) && !memcmp(P, P2, 8) && S2[1] == 10 && S2[6] == 21);
	s.skip[2] = 1; /* two entries at one position: corrupt */
	CHECK_ERR(dcc_cbs_expand(&s, P2, S2, &e), e, DCC_E_FORMAT, "invalid");
	dcc_sparse_free(&s);
	P[5] = 1; /* bank 1 now keeps three */
	CHECK_ERR(dcc_cbs_build(&s, 4, 1, 8, P, S, &e), e, DCC_E_UNSUPPORTED, "not bank-balanced");
	CHECK_ERR(dcc_cbs_build(&s, 3, 1, 8, P, S, &e), e, DCC_E_RANGE, "does not divide");
}

static int huff_round(const uint32_t *sym, size_t n, uint32_t A, size_t *bytes, size_t *table)
{
	uint8_t *out = NULL;
	size_t len = 0;
	dcc_error e = {0};
	if (dcc_huff_encode(sym, n, A, &out, &len, table, &e))
		return 0;
	uint32_t *back = malloc((n ? n : 1) * sizeof(uint32_t));
	int ok = !dcc_huff_decode(out, len, n, A, back, &e) && !memcmp(back, sym, n * sizeof(uint32_t));
	*bytes = len;
	free(back);
	free(out);
	return ok;
}

static void test_huffman(void)
{
	enum { N = 200000 };
	uint32_t *sym = malloc(N * sizeof(uint32_t));
	size_t bytes, table;
	/* weight-like streams (rounded Gaussians) of several alphabets: within 1%
	 * (measured: about 1%; Huffman cannot do better than whole bits per
	 * symbol) of the order-0 entropy plus the table; two symbols: one bit */
	for (int a = 0; a < 4; a++) {
		uint32_t A = (uint32_t[]){2, 33, 256, 65537}[a];
		double sd = (double[]){0, 4, 12, 300}[a];
		for (int i = 0; i < N; i++) {
			double g = sqrt(-2 * log(1 - urand())) * cos(2 * M_PI * urand());
			sym[i] = a == 0 ? urand() < 0.3 : (uint32_t)fmin(A - 1, fmax(0, A / 2 + g * sd));
		}
		double h = dcc_entropy_bits(sym, N, A) / 8;
		CHECK(huff_round(sym, N, A, &bytes, &table));
		double bound = a == 0 ? N / 8.0 + 1 : 1.015 * h + 1;
		CHECK_MSG((double)(bytes - table) <= bound, "alphabet %u: %zu bytes (%zu table), entropy %.0f", A, bytes,
			  table, h);
	}
	/* Fibonacci frequencies force codes longer than 15 bits: limited, still decodable */
	size_t n = 0;
	uint64_t f1 = 1, f2 = 1;
	for (uint32_t s = 0; s < 25 && n < N; s++) {
		for (uint64_t k = 0; k < f1 && n < N; k++)
			sym[n++] = s;
		uint64_t t = f1 + f2;
		f1 = f2;
		f2 = t;
	}
	CHECK(huff_round(sym, n, 25, &bytes, &table));
	/* one symbol: no bitstream; empty stream */
	for (int i = 0; i < 1000; i++)
		sym[i] = 7;
	CHECK(huff_round(sym, 1000, 8, &bytes, &table) && bytes == table);
	CHECK(huff_round(sym, 0, 8, &bytes, &table));
	/* corruption: flipped bits and truncation fail cleanly or decode something else, never crash */
	for (int i = 0; i < 5000; i++)
		sym[i] = (uint32_t)(urand() * urand() * 30);
	uint8_t *out = NULL;
	size_t len = 0;
	dcc_error e = {0};
	CHECK(!dcc_huff_encode(sym, 5000, 30, &out, &len, &table, &e));
	uint32_t *back = malloc(5000 * sizeof(uint32_t));
	int caught = 0;
	for (size_t cut = 0; cut < len; cut += 7)
		caught += dcc_huff_decode(out, cut, 5000, 30, back, &e) != 0;
	CHECK(caught == (int)((len + 6) / 7));
	for (int i = 0; i < 200; i++) {
		size_t at = (size_t)(urand() * (double)len);
		out[at] ^= (uint8_t)(1u << (i % 8));
		(void)dcc_huff_decode(out, len, 5000, 30, back, &e);
		out[at] ^= (uint8_t)(1u << (i % 8));
	}
	CHECK(!dcc_huff_decode(out, len, 5000, 30, back, &e) && !memcmp(back, sym, 5000 * sizeof(uint32_t)));
	free(back);
	free(out);
	free(sym);
}

int main(void)
{
	test_paper_example();
	test_eie_example();
	test_random_layouts();
	test_cbs();
	test_huffman();
	return check_done("test_encode");
}
