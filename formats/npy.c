/* npy.c: NumPy's .npy format (versions 1.0, 2.0 and 3.0): the header is a
 * Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)};
 * big-endian data is swapped and Fortran-order data transposed on read, so a
 * tensor in memory is always little-endian C order.  See formats/npy.md. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "formats.h"

typedef struct lex {
	const char *p, *end;
} lex;

static void skip_ws(lex *l)
{
	while (l->p < l->end && (*l->p == ' ' || *l->p == '\t' || *l->p == '\n' || *l->p == '\r'))
		l->p++;
}

static int eat(lex *l, char c)
{
	skip_ws(l);
	if (l->p < l->end && *l->p == c) {
		l->p++;
		return 1;
	}
	return 0;
}

/* A quoted Python string without escapes (numpy never writes any). */
static int pystr(lex *l, char *out, size_t cap)
{
	skip_ws(l);
	if (l->p >= l->end || (*l->p != '\'' && *l->p != '"'))
		return -1;
	char q = *l->p++;
	size_t n = 0;
	while (l->p < l->end && *l->p != q) {
		if (*l->p == '\\' || n + 1 >= cap)
			return -1;
		out[n++] = *l->p++;
	}
	if (l->p >= l->end)
		return -1;
	l->p++;
	out[n] = 0;
	return 0;
}

static int pyint(lex *l, uint64_t *v)
{
	skip_ws(l);
	if (l->p >= l->end || !isdigit((unsigned char)*l->p))
		return -1;
	uint64_t x = 0;
	while (l->p < l->end && isdigit((unsigned char)*l->p)) {
		unsigned d = (unsigned)(*l->p++ - '0');
		if (x > (UINT64_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	if (l->p < l->end && (*l->p == 'L' || *l->p == 'l'))
		l->p++; /* Python 2 longs */
	*v = x;
	return 0;
}

/* descr -> dtype and whether the data is big-endian. */
static int parse_descr(const char *d, int *dtype, int *big)
{
	static const struct { char kind; int size; int dtype; } tab[] = {
		{'f', 4, DCC_F32}, {'f', 8, DCC_F64}, {'i', 1, DCC_I8}, {'i', 2, DCC_I16},
		{'i', 4, DCC_I32}, {'i', 8, DCC_I64}, {'u', 1, DCC_U8}, {'u', 2, DCC_U16},
		{'u', 4, DCC_U32}, {'u', 8, DCC_U64}, {'b', 1, DCC_BOOL}, {'f', 2, DCC_F16},
	};
	char order = d[0];
	if (order != '<' && order != '>' && order != '|' && order != '=')
		return -1;
	*big = order == '>';
	char kind = d[1];
	if (!kind || !isdigit((unsigned char)d[2]) || (d[3] && (!isdigit((unsigned char)d[3]) || d[4])))
		return -1;
	int size = atoi(d + 2);
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (tab[i].kind == kind && tab[i].size == size) {
			*dtype = tab[i].dtype;
			return 0;
		}
	return -1;
}

static const char *descr_of(int dtype)
{
	switch (dtype) {
	case DCC_F32: return "<f4";
	case DCC_F64: return "<f8";
	case DCC_F16: return "<f2";
	case DCC_I8: return "|i1";
	case DCC_I16: return "<i2";
	case DCC_I32: return "<i4";
	case DCC_I64: return "<i8";
	case DCC_U8: return "|u1";
	case DCC_U16: return "<u2";
	case DCC_U32: return "<u4";
	case DCC_U64: return "<u8";
	case DCC_BOOL: return "|b1";
	}
	return NULL;
}

/* Fortran order -> C order: walk the source in Fortran order with a
 * multi-index counter and place each element at its C offset. */
static void fortran_to_c(uint8_t *dst, const uint8_t *src, int ndim, const uint64_t *shape,
			 uint64_t numel, size_t w)
{
	uint64_t idx[DCC_MAX_DIMS] = {0}, cstride[DCC_MAX_DIMS];
	uint64_t s = 1;
	for (int d = ndim - 1; d >= 0; d--) {
		cstride[d] = s;
		s *= shape[d];
	}
	uint64_t coff = 0;
	for (uint64_t i = 0; i < numel; i++) {
		memcpy(dst + coff * w, src + i * w, w);
		for (int d = 0; d < ndim; d++) { /* Fortran: first index fastest */
			idx[d]++;
			coff += cstride[d];
			if (idx[d] < shape[d])
				break;
			coff -= cstride[d] * idx[d];
			idx[d] = 0;
		}
	}
}

int dcc_npy_read_mem(const uint8_t *buf, size_t n, const char *name, dcc_model *m, dcc_error *err)
{
	if (n < 10 || memcmp(buf, "\x93NUMPY", 6))
		return dcc_fail(err, DCC_E_FORMAT, "not a .npy file (bad magic)");
	int major = buf[6];
	size_t hlen, hstart;
	if (major == 1) {
		hlen = dcc_rd16(buf + 8);
		hstart = 10;
	} else if (major == 2 || major == 3) {
		if (n < 12)
			return dcc_fail(err, DCC_E_TRUNCATED, ".npy header truncated");
		hlen = dcc_rd32(buf + 8);
		hstart = 12;
	} else {
		return dcc_fail(err, DCC_E_VERSION, ".npy version %d.%d (dcc reads 1.0 to 3.0)", major, buf[7]);
	}
	if (hlen > n - hstart)
		return dcc_fail(err, DCC_E_TRUNCATED, ".npy header truncated");
	lex l = {(const char *)buf + hstart, (const char *)buf + hstart + hlen};
	char key[32], descr[32] = "";
	int have_descr = 0, have_order = 0, have_shape = 0, fortran = 0, ndim = 0;
	uint64_t shape[DCC_MAX_DIMS];
	if (!eat(&l, '{'))
		return dcc_fail(err, DCC_E_FORMAT, ".npy header is not a dict");
	while (!eat(&l, '}')) {
		if (pystr(&l, key, sizeof(key)) || !eat(&l, ':'))
			return dcc_fail(err, DCC_E_FORMAT, ".npy header malformed");
		if ((!strcmp(key, "descr") && have_descr) || (!strcmp(key, "fortran_order") && have_order) ||
		    (!strcmp(key, "shape") && have_shape))
			return dcc_fail(err, DCC_E_FORMAT, ".npy header gives '%s' twice", key);
		if (!strcmp(key, "descr")) {
			skip_ws(&l);
			if (l.p < l.end && *l.p == '[')
				return dcc_fail(err, DCC_E_UNSUPPORTED, "structured .npy arrays are not supported");
			if (pystr(&l, descr, sizeof(descr)))
				return dcc_fail(err, DCC_E_FORMAT, ".npy descr malformed");
			have_descr = 1;
		} else if (!strcmp(key, "fortran_order")) {
			skip_ws(&l);
			if (l.end - l.p >= 4 && !memcmp(l.p, "True", 4)) {
				fortran = 1;
				l.p += 4;
			} else if (l.end - l.p >= 5 && !memcmp(l.p, "False", 5)) {
				l.p += 5;
			} else {
				return dcc_fail(err, DCC_E_FORMAT, ".npy fortran_order malformed");
			}
			have_order = 1;
		} else if (!strcmp(key, "shape")) {
			if (!eat(&l, '('))
				return dcc_fail(err, DCC_E_FORMAT, ".npy shape malformed");
			while (!eat(&l, ')')) {
				if (ndim == DCC_MAX_DIMS)
					return dcc_fail(err, DCC_E_RANGE, ".npy array has more than %d dimensions", DCC_MAX_DIMS);
				if (pyint(&l, &shape[ndim]))
					return dcc_fail(err, DCC_E_FORMAT, ".npy shape malformed");
				ndim++;
				if (!eat(&l, ',')) {
					if (!eat(&l, ')'))
						return dcc_fail(err, DCC_E_FORMAT, ".npy shape malformed");
					break;
				}
			}
			have_shape = 1;
		} else {
			return dcc_fail(err, DCC_E_FORMAT, ".npy header has unknown key '%s'", key);
		}
		if (!eat(&l, ',')) {
			if (!eat(&l, '}'))
				return dcc_fail(err, DCC_E_FORMAT, ".npy header malformed");
			break;
		}
	}
	if (!have_descr || !have_order || !have_shape)
		return dcc_fail(err, DCC_E_FORMAT, ".npy header lacks descr, fortran_order or shape");
	int dtype, big;
	if (parse_descr(descr, &dtype, &big))
		return dcc_fail(err, DCC_E_UNSUPPORTED, ".npy dtype '%s' is not supported "
				"(f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1)", descr);
	size_t nbytes;
	int rc = dcc_tensor_size(dtype, 0, ndim, shape, &nbytes, err);
	if (rc)
		return rc;
	const uint8_t *data = buf + hstart + hlen;
	size_t avail = n - hstart - hlen;
	if (nbytes > avail)
		return dcc_fail(err, DCC_E_TRUNCATED, ".npy data truncated (%zu of %zu bytes)", avail, nbytes);
	if (nbytes < avail)
		return dcc_fail(err, DCC_E_FORMAT, ".npy has %zu bytes after its data", avail - nbytes);
	uint8_t *d = malloc(nbytes ? nbytes : 1);
	if (!d)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory (%zu bytes)", nbytes);
	size_t w = dcc_plain_size(dtype);
	uint64_t numel = nbytes / w;
	if (fortran && ndim > 1)
		fortran_to_c(d, data, ndim, shape, numel, w);
	else
		memcpy(d, data, nbytes);
	if (big)
		dcc_byteswap(d, (size_t)numel, w);
	if (dtype == DCC_BOOL)
		for (uint64_t i = 0; i < numel; i++)
			if (d[i] > 1) {
				free(d);
				return dcc_fail(err, DCC_E_FORMAT, ".npy bool array holds %u", data[i]);
			}
	return dcc_model_add(m, name, dtype, 0, 0, ndim, shape, d, err);
}

int dcc_npy_write_mem(const dcc_tensor *t, uint8_t **out, size_t *outn, dcc_error *err)
{
	dcc_plain pv;
	int rc = dcc_plain_view(t, &pv, err);
	if (rc)
		return rc;
	char hdr[1024];
	int k = snprintf(hdr, sizeof(hdr), "{'descr': '%s', 'fortran_order': False, 'shape': (",
			 descr_of(pv.dtype));
	for (int d = 0; d < t->ndim; d++)
		k += snprintf(hdr + k, sizeof(hdr) - (size_t)k, "%llu%s", (unsigned long long)t->shape[d],
			      t->ndim == 1 ? "," : d + 1 < t->ndim ? ", " : "");
	k += snprintf(hdr + k, sizeof(hdr) - (size_t)k, "), }");
	/* Pad with spaces and a newline so the data starts on a 64-byte boundary. */
	size_t total = 10 + (size_t)k + 1;
	size_t pad = (64 - total % 64) % 64;
	size_t hlen = (size_t)k + pad + 1;
	dcc_buf b = {0};
	dcc_buf_put(&b, "\x93NUMPY\x01\x00", 8);
	dcc_buf_u16(&b, (uint16_t)hlen);
	dcc_buf_put(&b, hdr, (size_t)k);
	for (size_t i = 0; i < pad; i++)
		dcc_buf_u8(&b, ' ');
	dcc_buf_u8(&b, '\n');
	dcc_buf_put(&b, pv.data, pv.nbytes);
	dcc_plain_free(&pv);
	if (b.oom) {
		dcc_buf_free(&b);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	*out = b.p;
	*outn = b.n;
	return 0;
}

int dcc_npy_write(FILE *fp, const dcc_tensor *t, dcc_error *err)
{
	uint8_t *p;
	size_t n;
	int rc = dcc_npy_write_mem(t, &p, &n, err);
	if (rc)
		return rc;
	rc = dcc_fwrite_all(fp, p, n, err);
	free(p);
	return rc;
}
