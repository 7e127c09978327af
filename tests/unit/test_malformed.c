/* test_malformed.c: a handcrafted list of malformed files per format, each
 * expecting its own error code and message.  For .dct the checksums are
 * recomputed after each edit, so the check under test is the one that fires. */
#include <stdlib.h>

#include "../../lib/core/internal.h"
#include "dcc_formats.h"
#include "check.h"

/* ---- .dct ---- */

static uint8_t *good_dct(size_t *n)
{
	dcc_model *m = dcc_model_new();
	dcc_error e;
	uint64_t sh[2] = {2, 3};
	dcc_tensor *t;
	dcc_model_add_zeros(m, "w", DCC_F32, 0, 0, 2, sh, &t, &e);
	for (int i = 0; i < 6; i++)
		((float *)t->data)[i] = (float)i;
	dcc_model_add_zeros(m, "v", DCC_F32, 0, 0, 2, sh, NULL, &e);
	char *p;
	FILE *fp = open_memstream(&p, n);
	dcc_dct_write(fp, m, &e);
	fclose(fp);
	dcc_model_free(m);
	return (uint8_t *)p;
}

/* Recomputes meta_crc and header_crc after an edit. */
static void fix(uint8_t *b, size_t n)
{
	uint64_t ms = dcc_rd64(b + 32);
	if (64 + ms <= n)
		dcc_wr32(b + 56, dcc_crc32c(0, b + 64, (size_t)ms));
	dcc_wr32(b + 60, dcc_crc32c(0, b, 60));
}

/* Offsets of tensor "w"'s fields inside the file (no metadata pairs). */
enum { W_DTYPE = 67, W_NDIM = 68, W_SHAPE0 = 71, W_SHAPE1 = 79, W_OFF = 87, W_NBYTES = 95, W_NNZ = 103 };

static void expect_dct(const char *what, const uint8_t *b, size_t n, int code, const char *substr)
{
	dcc_model *m = NULL;
	dcc_error e = {0};
	int rc = dcc_dct_read_mem(b, n, 0, &m, &e);
	CHECK_MSG(rc == code && strstr(e.msg, substr) && !m, "%s: rc=%d msg='%s' (want %d '%s')", what, rc,
		  e.msg, code, substr);
	dcc_model_free(m);
}

static void test_dct(void)
{
	size_t n;
	uint8_t *g = good_dct(&n), *b = malloc(n);
	dcc_model *m;
	dcc_error e;
	CHECK(dcc_dct_read_mem(g, n, 0, &m, &e) == 0);
	dcc_model_free(m);
	CHECK(g[66] == 'w');

#define CASE(what, edit, code, substr)               \
	do {                                          \
		memcpy(b, g, n);                      \
		size_t bn = n;                        \
		edit;                                 \
		expect_dct(what, b, bn, code, substr); \
	} while (0)

	CASE("bad magic", b[1] = 'X', DCC_E_FORMAT, "bad magic");
	CASE("empty", bn = 0, DCC_E_FORMAT, "too short");
	CASE("short header", bn = 40, DCC_E_TRUNCATED, "header truncated");
	CASE("future version", (dcc_wr32(b + 4, 2), fix(b, bn)), DCC_E_VERSION, "version 2");
	CASE("header checksum", b[20] ^= 1, DCC_E_CHECKSUM, "header checksum");
	CASE("reserved flags", (dcc_wr32(b + 8, 4), fix(b, bn)), DCC_E_FORMAT, "reserved flags");
	CASE("odd alignment", (dcc_wr32(b + 12, 48), fix(b, bn)), DCC_E_FORMAT, "alignment");
	CASE("metadata checksum", b[W_NNZ] ^= 1, DCC_E_CHECKSUM, "metadata checksum");
	CASE("huge tensor count", (dcc_wr64(b + 24, 1ull << 60), fix(b, bn)), DCC_E_FORMAT, "cannot fit");
	CASE("huge meta size", (dcc_wr64(b + 32, 1ull << 62), fix(b, bn)), DCC_E_TRUNCATED, "metadata truncated");
	CASE("truncated file", bn = n - 5, DCC_E_TRUNCATED, "data section");
	CASE("data offset", (dcc_wr64(b + 40, dcc_rd64(b + 40) + 64), fix(b, bn)), DCC_E_FORMAT, "data offset");
	CASE("overflowing shape",
	     (dcc_wr64(b + W_SHAPE0, 1ull << 40), dcc_wr64(b + W_SHAPE1, 1ull << 40), fix(b, bn)), DCC_E_RANGE,
	     "overflows");
	CASE("misaligned offset", (dcc_wr64(b + W_OFF, 1), fix(b, bn)), DCC_E_FORMAT, "misaligned");
	CASE("tensor past the end", (dcc_wr64(b + W_OFF, 1ull << 20), fix(b, bn)), DCC_E_TRUNCATED,
	     "tensor 'w' truncated");
	CASE("lying nbytes", (dcc_wr64(b + W_NBYTES, 25), fix(b, bn)), DCC_E_FORMAT, "holds 25 bytes");
	CASE("unknown dtype", (b[W_DTYPE] = 99, fix(b, bn)), DCC_E_FORMAT, "unknown dtype 99");
	CASE("too many dims", (b[W_NDIM] = 9, fix(b, bn)), DCC_E_FORMAT, "9 dimensions");
	CASE("nnz above numel", (dcc_wr64(b + W_NNZ, 7), fix(b, bn)), DCC_E_FORMAT, "claims 7 nonzeros");
	CASE("overlap", (dcc_wr64(b + W_OFF, 64), fix(b, bn)), DCC_E_FORMAT, "overlap");
	CASE("duplicate name", (b[66] = 'v', fix(b, bn)), DCC_E_FORMAT, "appears twice");
	CASE("bad tensor checksum", b[dcc_rd64(b + 40) + 4] ^= 0x40, DCC_E_CHECKSUM,
	     "tensor 'w' checksum mismatch");
#undef CASE
	free(b);
	free(g);
}

/* ---- .npy ---- */

static void expect_npy(const char *what, const char *bytes, size_t n, int code, const char *substr)
{
	dcc_model *m = dcc_model_new();
	dcc_error e = {0};
	int rc = dcc_npy_read_mem((const uint8_t *)bytes, n, "x", m, &e);
	CHECK_MSG(rc == code && strstr(e.msg, substr), "%s: rc=%d msg='%s' (want %d '%s')", what, rc, e.msg,
		  code, substr);
	dcc_model_free(m);
}

#define NPY(h) "\x93NUMPY\x01\x00" h
static void test_npy(void)
{
	static const char ok[] = NPY("\x3a\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n"
				     "\x00\x00\x80\x3f\x00\x00\x00\x40");
	dcc_model *m = dcc_model_new();
	dcc_error e;
	CHECK(dcc_npy_read_mem((const uint8_t *)ok, sizeof(ok) - 1, "x", m, &e) == 0);
	CHECK(m->ntensors == 1 && ((float *)m->tensors[0].data)[1] == 2.0f);
	dcc_model_free(m);
	expect_npy("bad magic", "\x93NUMPX\x01\x00\x00\x00", 10, DCC_E_FORMAT, "bad magic");
	expect_npy("future version", "\x93NUMPY\x04\x00\x00\x00\x00\x00", 12, DCC_E_VERSION, "version 4.0");
	expect_npy("header past end", NPY("\xff\x00{'descr'"), 18, DCC_E_TRUNCATED, "header truncated");
	static const char trunc[] = NPY("\x3a\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n"
					"\x00\x00\x80\x3f");
	expect_npy("truncated data", trunc, sizeof(trunc) - 1, DCC_E_TRUNCATED, "data truncated");
	/* float16 is read since data sets use it; complex is not */
	static const char c8[] = NPY("\x3a\x00{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }\n"
				     "\x00\x00\x80\x3f\x00\x00\x00\x00");
	expect_npy("complex64", c8, sizeof(c8) - 1, DCC_E_UNSUPPORTED, "'<c8' is not supported");
	char huge[128] = NPY("\x00\x00{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999, 99999999), }\n");
	size_t hl = strlen(huge + 10);
	huge[8] = (char)hl;
	expect_npy("overflowing shape", huge, 10 + hl, DCC_E_RANGE, "overflows");
	static const char obj[] = NPY("\x3a\x00{'descr': '|O', 'fortran_order': False, 'shape': (2,), }  \n");
	expect_npy("object array", obj, sizeof(obj) - 1, DCC_E_UNSUPPORTED, "not supported");
	static const char nokey[] = NPY("\x20\x00{'descr': '<f4', 'shape': (), }\n");
	expect_npy("missing key", nokey, sizeof(nokey) - 1, DCC_E_FORMAT, "lacks");
	static const char badb[] = NPY("\x3a\x00{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }\n"
				       "\x01\x07");
	expect_npy("bool not 0/1", badb, sizeof(badb) - 1, DCC_E_FORMAT, "bool");
}

/* ---- .npz: a stored archive built by hand ---- */

static void put16(uint8_t *p, unsigned v) { dcc_wr16(p, (uint16_t)v); }

static size_t make_npz(uint8_t *z, const uint8_t *member, size_t mn, uint32_t crc)
{
	size_t o = 0;
	dcc_wr32(z, 0x04034b50u);
	put16(z + 4, 20); put16(z + 6, 0); put16(z + 8, 0); put16(z + 10, 0); put16(z + 12, 0);
	dcc_wr32(z + 14, crc); dcc_wr32(z + 18, (uint32_t)mn); dcc_wr32(z + 22, (uint32_t)mn);
	put16(z + 26, 5); put16(z + 28, 0);
	memcpy(z + 30, "a.npy", 5);
	o = 35;
	memcpy(z + o, member, mn);
	o += mn;
	size_t cd = o;
	dcc_wr32(z + o, 0x02014b50u);
	put16(z + o + 4, 20);
	memcpy(z + o + 6, z + 4, 26);
	put16(z + o + 32, 0); put16(z + o + 34, 0); put16(z + o + 36, 0);
	dcc_wr32(z + o + 38, 0); dcc_wr32(z + o + 42, 0);
	memcpy(z + o + 46, "a.npy", 5);
	o += 51;
	dcc_wr32(z + o, 0x06054b50u);
	put16(z + o + 4, 0); put16(z + o + 6, 0); put16(z + o + 8, 1); put16(z + o + 10, 1);
	dcc_wr32(z + o + 12, 51); dcc_wr32(z + o + 16, (uint32_t)cd); put16(z + o + 20, 0);
	return o + 22;
}

static void expect_npz(const char *what, const uint8_t *b, size_t n, int code, const char *substr)
{
	dcc_model *m = dcc_model_new();
	dcc_error e = {0};
	int rc = dcc_npz_read_mem(b, n, m, &e);
	CHECK_MSG(rc == code && strstr(e.msg, substr), "%s: rc=%d msg='%s' (want %d '%s')", what, rc, e.msg,
		  code, substr);
	dcc_model_free(m);
}

#include <zlib.h>
static void test_npz(void)
{
	static const char npy[] = NPY("\x3a\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n"
				      "\x00\x00\x80\x3f\x00\x00\x00\x40");
	size_t mn = sizeof(npy) - 1;
	uint32_t crc = (uint32_t)crc32(0, (const Bytef *)npy, (uInt)mn);
	uint8_t z[512], b[512];
	size_t n = make_npz(z, (const uint8_t *)npy, mn, crc);
	dcc_model *m = dcc_model_new();
	dcc_error e;
	CHECK(dcc_npz_read_mem(z, n, m, &e) == 0 && m->ntensors == 1 && !strcmp(m->tensors[0].name, "a"));
	dcc_model_free(m);
	expect_npz("no end record", z, n - 22, DCC_E_FORMAT, "no end of central directory");
	memcpy(b, z, n);
	b[40] ^= 1;
	expect_npz("bad crc", b, n, DCC_E_CHECKSUM, "CRC mismatch");
	memcpy(b, z, n);
	dcc_wr32(b + n - 6, 9999); /* central directory offset */
	expect_npz("cd outside", b, n, DCC_E_TRUNCATED, "outside the archive");
	memcpy(b, z, n);
	put16(b + n - 12, 60000); /* member count */
	expect_npz("huge count", b, n, DCC_E_FORMAT, "claims 60000 members");
	n = make_npz(z, (const uint8_t *)npy, mn, crc);
	/* A member whose stated size runs past the archive. */
	size_t cd = 35 + mn;
	memcpy(b, z, n);
	dcc_wr32(b + cd + 20, 100000);
	dcc_wr32(b + cd + 24, 100000);
	expect_npz("lying size", b, n, DCC_E_TRUNCATED, "truncated");
	memcpy(b, z, n);
	put16(b + cd + 10, 12); /* bzip2 */
	expect_npz("method", b, n, DCC_E_UNSUPPORTED, "method 12");
}

/* ---- safetensors ---- */

static void expect_st(const char *what, const char *json, const char *data, size_t dn, int code,
		      const char *substr)
{
	uint8_t b[1024];
	size_t hl = strlen(json);
	dcc_wr64(b, hl);
	memcpy(b + 8, json, hl);
	memcpy(b + 8 + hl, data, dn);
	dcc_model *m = dcc_model_new();
	dcc_error e = {0};
	int rc = dcc_safetensors_read_mem(b, 8 + hl + dn, m, &e);
	CHECK_MSG(rc == code && (!substr || strstr(e.msg, substr)), "%s: rc=%d msg='%s' (want %d '%s')", what, rc,
		  e.msg, code, substr ? substr : "");
	dcc_model_free(m);
}

static void test_safetensors(void)
{
	const char d[8] = {0, 0, (char)0x80, 0x3f, 0, 0, 0, 0x40};
	expect_st("good", "{\"a.b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", d, 8, 0, NULL);
	expect_st("bad json", "{\"a\":", d, 8, DCC_E_FORMAT, "not valid JSON");
	expect_st("past end", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,16]}}", d, 8,
		  DCC_E_TRUNCATED, "truncated");
	expect_st("size mismatch", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", d, 8,
		  DCC_E_FORMAT, "its shape needs 12");
	expect_st("bf16", "{\"a\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[0,8]}}", d, 8,
		  DCC_E_UNSUPPORTED, "BF16");
	expect_st("negative", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", d, 8,
		  DCC_E_FORMAT, "bad shape");
	expect_st("duplicate", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
			       "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}",
		  d, 8, DCC_E_FORMAT, "not valid JSON");
	uint8_t b[16];
	dcc_wr64(b, 1ull << 40);
	memcpy(b + 8, "{}", 2);
	dcc_model *m = dcc_model_new();
	dcc_error e;
	CHECK_ERR(dcc_safetensors_read_mem(b, 10, m, &e), e, DCC_E_TRUNCATED, "header of");
	dcc_model_free(m);
}

/* ---- IDX ---- */

static void test_idx(void)
{
	dcc_model *m = dcc_model_new();
	dcc_error e;
	const uint8_t ok[] = {0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 1, 7, 9};
	CHECK(dcc_idx_read_mem(ok, sizeof(ok), "img", m, &e) == 0);
	CHECK(m->ntensors == 1 && m->tensors[0].shape[0] == 2 && ((uint8_t *)m->tensors[0].data)[1] == 9);
	const uint8_t i16[] = {0, 0, 0x0B, 1, 0, 0, 0, 1, 0x01, 0x02};
	CHECK(dcc_idx_read_mem(i16, sizeof(i16), "s", m, &e) == 0 && *(int16_t *)dcc_model_find(m, "s")->data == 0x0102);
	CHECK_ERR(dcc_idx_read_mem(ok, 13, "t", m, &e), e, DCC_E_TRUNCATED, "data truncated");
	const uint8_t bad[] = {0, 0, 7, 1, 0, 0, 0, 1, 0};
	CHECK_ERR(dcc_idx_read_mem(bad, sizeof(bad), "t", m, &e), e, DCC_E_FORMAT, "type code 0x07");
	const uint8_t huge[] = {0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	CHECK_ERR(dcc_idx_read_mem(huge, sizeof(huge), "t", m, &e), e, DCC_E_RANGE, "overflows");
	const uint8_t big[] = {0, 0, 8, 2, 0, 1, 0, 0, 0, 1, 0, 0, 1};
	CHECK_ERR(dcc_idx_read_mem(big, sizeof(big), "t", m, &e), e, DCC_E_TRUNCATED, "data truncated");
	const uint8_t hdr[] = {0, 0, 8, 3, 0, 0};
	CHECK_ERR(dcc_idx_read_mem(hdr, sizeof(hdr), "t", m, &e), e, DCC_E_TRUNCATED, "header truncated");
	dcc_model_free(m);
	/* gzip: truncated and corrupt streams. */
	uint8_t *out;
	size_t on;
	const uint8_t gz[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0x4b, 0x4c};
	CHECK_ERR(dcc_gunzip(gz, sizeof(gz), 1 << 20, &out, &on, &e), e, DCC_E_TRUNCATED, "truncated");
	const uint8_t gz2[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff};
	CHECK_ERR(dcc_gunzip(gz2, sizeof(gz2), 1 << 20, &out, &on, &e), e, DCC_E_FORMAT, "corrupt gzip");
}

int main(void)
{
	test_dct();
	test_npy();
	test_npz();
	test_safetensors();
	test_idx();
	return check_done("test_malformed");
}
