/* test_core.c: CRC32C, packed fields, tensor sizes, metadata, the .dct
 * writer/reader round trip for every dtype, and the state_dict view. */
#include <math.h>
#include <stdlib.h>

#include "../../lib/core/internal.h"
#include "dcc_formats.h"
#include "check.h"

static void test_crc(void)
{
	/* The check value of CRC-32C (RFC 3720). */
	CHECK(dcc_crc32c(0, "123456789", 9) == 0xE3069283u);
	CHECK(dcc_crc32c_ref(0, "123456789", 9) == 0xE3069283u);
	CHECK(dcc_crc32c_sw(0, "123456789", 9) == 0xE3069283u);
	unsigned long long s = 42;
	uint8_t buf[1031];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)check_rng(&s);
	for (size_t n = 0; n < sizeof(buf); n += 37) {
		uint32_t r = dcc_crc32c_ref(0, buf, n);
		CHECK(dcc_crc32c(0, buf, n) == r);
		CHECK(dcc_crc32c_sw(0, buf, n) == r);
		/* Incremental equals one-shot. */
		CHECK(dcc_crc32c(dcc_crc32c(0, buf, n / 3), buf + n / 3, n - n / 3) == r);
		CHECK(dcc_crc32c_combine(dcc_crc32c(0, buf, n / 3), dcc_crc32c(0, buf + n / 3, n - n / 3), n - n / 3) == r);
	}
	/* long buffers take three interleaved streams, combined */
	size_t big = 3 * 4096 * 5 + 13;
	uint8_t *bb = malloc(big);
	for (size_t i = 0; bb && i < big; i++)
		bb[i] = (uint8_t)check_rng(&s);
	for (size_t n = 3 * 4096 - 5; bb && n <= big; n += 4099) {
		uint32_t r = dcc_crc32c_sw(0, bb, n);
		CHECK(dcc_crc32c(0, bb, n) == r);
		CHECK(dcc_crc32c(0x12345678u, bb, n) == dcc_crc32c_sw(0x12345678u, bb, n));
	}
	free(bb);
}

static void test_packed(void)
{
	for (int bits = 1; bits <= 16; bits++) {
		uint64_t n = 97;
		uint8_t p[256] = {0};
		unsigned long long s = (unsigned long long)bits;
		uint32_t v[97];
		for (uint64_t i = 0; i < n; i++) {
			v[i] = (uint32_t)check_rng(&s) & ((1u << bits) - 1);
			dcc_packed_set(p, bits, i, v[i]);
		}
		int ok = 1;
		for (uint64_t i = 0; i < n; i++)
			ok &= dcc_packed_get(p, bits, i) == v[i];
		CHECK_MSG(ok, "bits=%d", bits);
		/* Overwriting a field leaves its neighbours alone. */
		dcc_packed_set(p, bits, 5, 0);
		CHECK(dcc_packed_get(p, bits, 4) == v[4] && dcc_packed_get(p, bits, 6) == v[6]);
	}
	/* Nonzero fields counted a group of 8 at a time (bits <= 8) and one at
	 * a time: every width, lengths around the groups, sparse and dense. */
	for (int bits = 1; bits <= 16; bits++)
		for (uint64_t n = 0; n <= 70; n += (n < 20 ? 1 : 7))
			for (int dense = 0; dense < 2; dense++) {
				uint8_t buf[160] = {0};
				unsigned long long s = (unsigned long long)(bits * 1000 + (int)n * 2 + dense);
				uint64_t want = 0;
				for (uint64_t i = 0; i < n; i++) {
					uint32_t v = (uint32_t)check_rng(&s) & ((1u << bits) - 1);
					if (!dense && check_rng(&s) % 4)
						v = 0;
					if (i == n - 1)
						v = 1u << (bits - 1); /* the last field's top bit */
					dcc_packed_set(buf, bits, i, v);
					want += v != 0;
				}
				dcc_tensor t = {.dtype = DCC_PACKED, .bits = bits, .ndim = 1, .shape = {n}, .data = buf,
						.nbytes = (size_t)((n * (uint64_t)bits + 7) / 8)};
				CHECK_MSG(dcc_tensor_count_nonzero(&t) == want, "bits=%d n=%llu", bits, (unsigned long long)n);
			}
	/* LSB first, as formats/dct.md says: 3-bit fields 1,2,3 -> 0b011010001 */
	uint8_t q[2] = {0};
	dcc_packed_set(q, 3, 0, 1);
	dcc_packed_set(q, 3, 1, 2);
	dcc_packed_set(q, 3, 2, 3);
	CHECK(q[0] == 0xD1 && q[1] == 0x00);
}

static void test_sizes(void)
{
	dcc_error e;
	size_t n;
	uint64_t sh[3] = {3, 5, 7};
	CHECK(dcc_tensor_size(DCC_F32, 0, 3, sh, &n, &e) == 0 && n == 420);
	CHECK(dcc_tensor_size(DCC_MASK, 0, 3, sh, &n, &e) == 0 && n == 14);
	CHECK(dcc_tensor_size(DCC_PACKED, 5, 3, sh, &n, &e) == 0 && n == 66);
	CHECK(dcc_tensor_size(DCC_PACKED, 17, 3, sh, &n, &e) == DCC_E_RANGE);
	CHECK(dcc_tensor_size(DCC_F32, 0, 0, sh, &n, &e) == 0 && n == 4);
	uint64_t big[2] = {1ull << 40, 1ull << 40};
	CHECK(dcc_tensor_size(DCC_F32, 0, 2, big, &n, &e) == DCC_E_RANGE);
	uint64_t empty[2] = {0, 1ull << 62};
	CHECK(dcc_tensor_size(DCC_F64, 0, 2, empty, &n, &e) == 0 && n == 0);
}

static int write_mem(const dcc_model *m, uint8_t **buf, size_t *n)
{
	char *p;
	size_t len;
	FILE *fp = open_memstream(&p, &len);
	dcc_error e;
	int rc = dcc_dct_write(fp, m, &e);
	fclose(fp);
	*buf = (uint8_t *)p;
	*n = len;
	return rc;
}

static void test_roundtrip(void)
{
	dcc_model *m = dcc_model_new();
	dcc_error e;
	unsigned long long s = 7;
	for (int dt = 0; dt < DCC_DTYPE_COUNT; dt++) {
		char name[32];
		snprintf(name, sizeof(name), "layer.%s.weight", dcc_dtype_name(dt));
		uint64_t sh[2] = {3, (uint64_t)(5 + dt)};
		dcc_tensor *t;
		int bits = dt == DCC_PACKED ? 5 : 0;
		CHECK(dcc_model_add_zeros(m, name, dt, bits, dt == DCC_Q16 ? -3 : 0, 2, sh, &t, &e) == 0);
		for (size_t i = 0; i < t->nbytes; i++)
			((uint8_t *)t->data)[i] = (uint8_t)check_rng(&s);
		if (dt == DCC_BOOL)
			for (size_t i = 0; i < t->nbytes; i++)
				((uint8_t *)t->data)[i] &= 1;
		if (dt == DCC_PACKED || dt == DCC_MASK) {
			uint64_t used = dcc_tensor_numel(t) * (uint64_t)t->bits;
			if (used % 8)
				((uint8_t *)t->data)[t->nbytes - 1] &= (uint8_t)((1u << (used % 8)) - 1);
		}
	}
	uint64_t zero_d[1] = {0};
	CHECK(dcc_model_add_zeros(m, "scalar", DCC_F64, 0, 0, 0, zero_d, NULL, &e) == 0);
	CHECK(dcc_model_add_zeros(m, "empty", DCC_F32, 0, 0, 1, zero_d, NULL, &e) == 0);
	int64_t shape[3] = {1, 28, 28};
	dcc_model_set_arr_i64(m, "dcc.input_shape", shape, 3, NULL);
	dcc_model_set_str(m, "future.key", "kept", NULL);
	dcc_model_set_f64(m, "x.pi", 3.25, NULL);
	const char *g[] = {"fc fc1 in=784 out=300", "relu relu1"};
	dcc_model_set_arr_str(m, "dcc.graph", g, 2, NULL);
	double fa[2] = {0.5, -1e300};
	dcc_model_set_arr_f64(m, "x.farr", fa, 2, NULL);
	uint8_t *buf;
	size_t n;
	CHECK(write_mem(m, &buf, &n) == 0);
	dcc_model *r;
	int rc = dcc_dct_read_mem(buf, n, 0, &r, &e);
	CHECK_MSG(rc == 0, "%s", e.msg);
	if (!rc) {
		CHECK(r->ntensors == m->ntensors && r->nkv == m->nkv);
		for (size_t i = 0; i < m->ntensors && i < r->ntensors; i++) {
			dcc_tensor *a = &m->tensors[i], *b = &r->tensors[i];
			CHECK_MSG(!strcmp(a->name, b->name) && a->dtype == b->dtype && a->ndim == b->ndim &&
					  a->bits == b->bits && a->fl == b->fl && a->nbytes == b->nbytes &&
					  !memcmp(a->data, b->data, a->nbytes) && b->nnz == dcc_tensor_count_nonzero(a) &&
					  b->file_off % 64 == 0,
				  "tensor %s", a->name);
		}
		CHECK(!strcmp(dcc_model_get_str(r, "future.key"), "kept"));
		const dcc_kv *kv = dcc_model_get_kv(r, "dcc.graph");
		CHECK(kv && kv->count == 2 && !strcmp(kv->s[1], "relu relu1"));
		kv = dcc_model_get_kv(r, "x.farr");
		CHECK(kv && kv->f[1] == -1e300);
		/* Writing what was read gives the same bytes. */
		uint8_t *buf2;
		size_t n2;
		CHECK(write_mem(r, &buf2, &n2) == 0 && n2 == n && !memcmp(buf, buf2, n));
		free(buf2);
		dcc_model_free(r);
	}
	/* Table-only reads leave data NULL but keep nnz and crc. */
	rc = dcc_dct_read_mem(buf, n, DCC_LOAD_TABLE_ONLY, &r, &e);
	CHECK(rc == 0 && r->tensors[0].data == NULL && r->tensors[0].crc != 0);
	dcc_model_free(r);
	free(buf);
	dcc_model_free(m);
}

static void test_state_dict(void)
{
	dcc_model *m = dcc_model_new();
	dcc_error e;
	uint64_t sh[2] = {2, 3}, k[1] = {4};
	dcc_tensor *cb, *ix, *mk, *q;
	dcc_model_add_zeros(m, "fc.weight.codebook", DCC_F32, 0, 0, 1, k, &cb, &e);
	dcc_model_add_zeros(m, "fc.weight.index", DCC_PACKED, 2, 0, 2, sh, &ix, &e);
	dcc_model_add_zeros(m, "fc.weight.mask", DCC_MASK, 0, 0, 2, sh, &mk, &e);
	dcc_model_add_zeros(m, "fc.bias", DCC_Q16, 0, 4, 1, sh, &q, &e);
	dcc_model_add_zeros(m, "attn.mask", DCC_BOOL, 0, 0, 1, k, NULL, &e);
	float c[4] = {0.5f, -1.0f, 2.0f, 0.25f};
	memcpy(cb->data, c, sizeof(c));
	uint32_t idx[6] = {0, 1, 2, 3, 2, 1};
	for (int i = 0; i < 6; i++)
		dcc_packed_set(ix->data, 2, (uint64_t)i, idx[i]);
	((uint8_t *)mk->data)[0] = 0x3B; /* element 2 pruned */
	int16_t qb[2] = {16, -8};
	memcpy(q->data, qb, 4);
	dcc_model *d;
	CHECK(dcc_model_state_dict(m, &d, &e) == 0);
	dcc_tensor *w = dcc_model_find(d, "fc.weight");
	CHECK(w && w->dtype == DCC_F32 && w->ndim == 2);
	if (w) {
		const float *f = w->data;
		CHECK(f[0] == 0.5f && f[1] == -1.0f && f[2] == 0.0f && f[3] == 0.25f && f[4] == 2.0f && f[5] == -1.0f);
	}
	dcc_tensor *b = dcc_model_find(d, "fc.bias");
	CHECK(b && b->dtype == DCC_F32 && ((float *)b->data)[0] == 1.0f && ((float *)b->data)[1] == -0.5f);
	CHECK(!dcc_model_find(d, "fc.weight.mask") && !dcc_model_find(d, "fc.weight.codebook"));
	CHECK(dcc_model_find(d, "attn.mask") != NULL); /* not a companion: no 'attn' */
	dcc_model_free(d);
	dcc_model_free(m);
}

int main(void)
{
	test_crc();
	test_packed();
	test_sizes();
	test_roundtrip();
	test_state_dict();
	return check_done("test_core");
}
