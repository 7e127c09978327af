/* test_mutate.c: 1,000 random mutants of a valid file per format (bit flips,
 * truncations, splices, huge counts, insertions), each fed to its reader: the
 * reader must either succeed with a consistent model or fail with a code and a
 * message -- never crash or trip a sanitizer (this suite runs under ASan and
 * UBSan too). */
#include <stdlib.h>

#include "../../lib/core/internal.h"
#include "dcc_formats.h"
#include "check.h"

typedef int (*reader_fn)(const uint8_t *, size_t, dcc_model *, dcc_error *);

static int rd_dct(const uint8_t *b, size_t n, dcc_model *m, dcc_error *e)
{
	dcc_model *r;
	(void)m;
	int rc = dcc_dct_read_mem(b, n, 0, &r, e);
	if (!rc) {
		for (size_t i = 0; i < r->ntensors; i++) {
			size_t want;
			dcc_tensor *t = &r->tensors[i];
			if (dcc_tensor_size(t->dtype, t->bits, t->ndim, t->shape, &want, e) || want != t->nbytes)
				rc = -100;
		}
		dcc_model_free(r);
	}
	return rc;
}
static int rd_npy(const uint8_t *b, size_t n, dcc_model *m, dcc_error *e) { return dcc_npy_read_mem(b, n, "x", m, e); }
static int rd_idx(const uint8_t *b, size_t n, dcc_model *m, dcc_error *e) { return dcc_idx_read_mem(b, n, "x", m, e); }

static void mutate(uint8_t *b, size_t *n, size_t cap, unsigned long long *s)
{
	int kind = (int)(check_rng(s) % 6);
	size_t len = *n;
	if (!len)
		return;
	switch (kind) {
	case 0: /* flip a few bits */
		for (int k = 1 + (int)(check_rng(s) % 8); k > 0; k--)
			b[check_rng(s) % len] ^= (uint8_t)(1u << (check_rng(s) % 8));
		break;
	case 1: /* truncate */
		*n = (size_t)(check_rng(s) % len);
		break;
	case 2: { /* splice: copy a chunk over another place */
		size_t a = (size_t)(check_rng(s) % len), c = (size_t)(check_rng(s) % len);
		size_t k = (size_t)(check_rng(s) % 64);
		if (a + k > len) k = len - a;
		if (c + k > len) k = len - c;
		memmove(b + c, b + a, k);
		break;
	}
	case 3: { /* huge counts: an aligned 8-byte window set to a large value */
		size_t a = (size_t)(check_rng(s) % len) & ~(size_t)3;
		static const uint64_t vals[] = {~0ull, 1ull << 63, 1ull << 32, 0xFFFFFFFFull, 1ull << 40, 0};
		uint64_t v = vals[check_rng(s) % 6];
		for (size_t k = 0; k < 8 && a + k < len; k++)
			b[a + k] = (uint8_t)(v >> (8 * k));
		break;
	}
	case 4: { /* insert bytes */
		size_t a = (size_t)(check_rng(s) % len), k = 1 + (size_t)(check_rng(s) % 16);
		if (len + k > cap)
			break;
		memmove(b + a + k, b + a, len - a);
		for (size_t i = 0; i < k; i++)
			b[a + i] = (uint8_t)check_rng(s);
		*n = len + k;
		break;
	}
	default: /* set a byte to an edge value */
		b[check_rng(s) % len] = (uint8_t)((check_rng(s) & 1) ? 0xff : 0);
	}
}

static void run(const char *fmt, const uint8_t *seed, size_t sn, reader_fn rd)
{
	size_t cap = sn + 64;
	uint8_t *b = malloc(cap);
	unsigned long long s = 0x9E3779B97F4A7C15ull ^ sn;
	int ok = 0, failed = 0, bad = 0;
	for (int i = 0; i < 1000; i++) {
		size_t n = sn;
		memcpy(b, seed, sn);
		for (int k = 1 + (int)(check_rng(&s) % 3); k > 0; k--)
			mutate(b, &n, cap, &s);
		/* An exact-size copy so ASan sees reads past the end. */
		uint8_t *exact = malloc(n ? n : 1);
		memcpy(exact, b, n);
		dcc_model *m = dcc_model_new();
		dcc_error e = {0};
		int rc = rd(exact, n, m, &e);
		if (rc == 0)
			ok++;
		else if (rc < 0 && rc > -100 && e.msg[0] && !strchr(e.msg, '\n'))
			failed++;
		else {
			bad++;
			fprintf(stderr, "  %s mutant %d: rc=%d msg='%s'\n", fmt, i, rc, e.msg);
		}
		dcc_model_free(m);
		free(exact);
	}
	printf("  %-12s 1000 mutants: %d read, %d rejected with a message, %d bad\n", fmt, ok, failed, bad);
	CHECK(bad == 0);
	CHECK(failed > 0); /* the mutations do reach the checks */
	free(b);
}

static uint8_t *seed_model(int kind, size_t *n)
{
	dcc_model *m = dcc_model_new();
	dcc_error e;
	uint64_t sh[2] = {4, 5}, s1[1] = {7};
	dcc_tensor *t;
	dcc_model_add_zeros(m, "fc1.weight", DCC_F32, 0, 0, 2, sh, &t, &e);
	for (int i = 0; i < 20; i++)
		((float *)t->data)[i] = (float)i - 3.5f;
	dcc_model_add_zeros(m, "fc1.bias", DCC_I16, 0, 0, 1, s1, NULL, &e);
	if (kind == 0) {
		dcc_model_add_zeros(m, "fc1.weight.index", DCC_PACKED, 3, 0, 2, sh, NULL, &e);
		dcc_model_add_zeros(m, "fc1.weight.mask", DCC_MASK, 0, 0, 2, sh, NULL, &e);
		const char *g[] = {"fc fc1 in=5 out=4"};
		dcc_model_set_arr_str(m, "dcc.graph", g, 1, NULL);
		dcc_model_set_i64(m, "dcc.classes", 4, NULL);
	}
	dcc_model_set_str(m, "safetensors.format", "pt", NULL);
	char *p;
	FILE *fp = open_memstream(&p, n);
	if (kind == 0)
		dcc_dct_write(fp, m, &e);
	else if (kind == 1)
		dcc_npy_write(fp, &m->tensors[0], &e);
	else if (kind == 2)
		dcc_npz_write(fp, m, 0, &e);
	else if (kind == 3)
		dcc_npz_write(fp, m, 1, &e);
	else
		dcc_safetensors_write(fp, m, &e);
	fclose(fp);
	dcc_model_free(m);
	return (uint8_t *)p;
}

int main(void)
{
	static const char *names[] = {"dct", "npy", "npz", "npz-deflate", "safetensors"};
	static const reader_fn fns[] = {rd_dct, rd_npy, dcc_npz_read_mem, dcc_npz_read_mem,
					dcc_safetensors_read_mem};
	for (int k = 0; k < 5; k++) {
		size_t n;
		uint8_t *seed = seed_model(k, &n);
		run(names[k], seed, n, fns[k]);
		free(seed);
	}
	uint8_t idx[4 + 8 + 12];
	const uint8_t h[] = {0, 0, 8, 2, 0, 0, 0, 3, 0, 0, 0, 4};
	memcpy(idx, h, 12);
	for (int i = 0; i < 12; i++)
		idx[12 + i] = (uint8_t)(i * 20);
	run("idx", idx, 24, rd_idx);
	return check_done("test_mutate");
}
