/* io.c: the table of formats (one row each: name, extension, content
 * sniffer, reader, writer), whole-file reads, gunzip, and the import
 * dispatcher that turns any supported file into a model. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "../lib/core/internal.h"
#include "dcc_formats.h"

/* ---- the formats: one row each ---- */

static int sniff_npy(const uint8_t *p, size_t n) { return n >= 6 && !memcmp(p, "\x93NUMPY", 6); }
static int sniff_npz(const uint8_t *p, size_t n)
{
	return n >= 4 && (!memcmp(p, "PK\x03\x04", 4) || !memcmp(p, "PK\x05\x06", 4));
}
static int sniff_gzip(const uint8_t *p, size_t n) { return n >= 2 && p[0] == 0x1f && p[1] == 0x8b; }
static int sniff_safetensors(const uint8_t *p, size_t n) { return n >= 9 && p[8] == '{' && dcc_rd64(p) <= n - 8; }
static int sniff_idx(const uint8_t *p, size_t n)
{
	int t = n >= 4 ? p[2] : 0;
	return n >= 4 && p[0] == 0 && p[1] == 0 && (t == 0x08 || t == 0x09 || t == 0x0B || t == 0x0C || t == 0x0D || t == 0x0E) &&
	       p[3] >= 1 && n >= 4 + 4 * (size_t)p[3];
}
static int sniff_dct(const uint8_t *p, size_t n) { return dcc_dct_sniff(p, n); }
static int sniff_dcb(const uint8_t *p, size_t n) { return dcc_dcb_sniff(p, n); }
static int sniff_dci(const uint8_t *p, size_t n) { return dcc_dci_sniff(p, n); }

static int read_npy(const uint8_t *b, size_t n, const char *name, dcc_model *m, dcc_error *err)
{
	return dcc_npy_read_mem(b, n, name, m, err);
}
static int read_npz(const uint8_t *b, size_t n, const char *name, dcc_model *m, dcc_error *err)
{
	(void)name;
	return dcc_npz_read_mem(b, n, m, err);
}
static int read_safetensors(const uint8_t *b, size_t n, const char *name, dcc_model *m, dcc_error *err)
{
	(void)name;
	return dcc_safetensors_read_mem(b, n, m, err);
}
static int read_idx(const uint8_t *b, size_t n, const char *name, dcc_model *m, dcc_error *err)
{
	return dcc_idx_read_mem(b, n, name, m, err);
}

static int write_npy(FILE *fp, const dcc_model *m, int compress, dcc_error *err)
{
	(void)compress;
	if (m->ntensors != 1)
		return dcc_fail(err, DCC_E_ARG, "a .npy holds one tensor and this has %zu: choose one with --tensor NAME, "
				"or write .npz or .safetensors", m->ntensors);
	return dcc_npy_write(fp, &m->tensors[0], err);
}
static int write_npz(FILE *fp, const dcc_model *m, int compress, dcc_error *err)
{
	return dcc_npz_write(fp, m, compress, err);
}
static int write_safetensors(FILE *fp, const dcc_model *m, int compress, dcc_error *err)
{
	(void)compress;
	return dcc_safetensors_write(fp, m, err);
}
static int write_onnx(FILE *fp, const dcc_model *m, int compress, dcc_error *err)
{
	(void)compress;
	return dcc_onnx_write(fp, m, err);
}

/* In sniffing order: containers with magic first, safetensors' length
 * test and IDX's zeros last.  ONNX has no magic (protobuf): its extension. */
static const dcc_format formats[] = {
	{DCC_FILE_DCT, "dct", ".dct", sniff_dct, NULL, NULL, 0},
	{DCC_FILE_DCB, "dcb", ".dcb", sniff_dcb, NULL, NULL, 0},
	{DCC_FILE_DCI, "dci", ".dci", sniff_dci, NULL, NULL, 0},
	{DCC_FILE_NPY, "npy", ".npy", sniff_npy, read_npy, write_npy, 0},
	{DCC_FILE_NPZ, "npz", ".npz", sniff_npz, read_npz, write_npz, DCC_FORMAT_COMPRESS},
	{DCC_FILE_GZIP, "gzip", ".gz", sniff_gzip, NULL, NULL, 0},
	{DCC_FILE_SAFETENSORS, "safetensors", ".safetensors", sniff_safetensors, read_safetensors, write_safetensors, 0},
	{DCC_FILE_IDX, "idx", NULL, sniff_idx, read_idx, NULL, 0},
	{DCC_FILE_ONNX, "onnx", ".onnx", NULL, NULL, write_onnx, DCC_FORMAT_GRAPH},
};

const dcc_format *dcc_format_of(int kind)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (formats[i].kind == kind)
			return &formats[i];
	return NULL;
}

const char *dcc_filekind_name(int kind)
{
	const dcc_format *f = dcc_format_of(kind);
	return f ? f->name : "unknown";
}

int dcc_sniff(const void *buf, size_t n)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (formats[i].sniff && formats[i].sniff(buf, n))
			return formats[i].kind;
	return DCC_FILE_UNKNOWN;
}

int dcc_filekind_from_ext(const char *path)
{
	const char *dot = strrchr(path, '.');
	const char *slash = strrchr(path, '/');
	if (!dot || (slash && dot < slash))
		return DCC_FILE_UNKNOWN;
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (formats[i].ext && !strcmp(dot, formats[i].ext))
			return formats[i].kind;
	return DCC_FILE_UNKNOWN;
}

int dcc_read_file(const char *path, size_t max, uint8_t **buf, size_t *n, dcc_error *err)
{
	*buf = NULL;
	*n = 0;
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return dcc_fail(err, DCC_E_IO, "%s", strerror(errno));
	struct stat st;
	if (fstat(fileno(fp), &st) || !S_ISREG(st.st_mode)) {
		fclose(fp);
		return dcc_fail(err, DCC_E_IO, "not a regular file");
	}
	if ((uint64_t)st.st_size > max) {
		fclose(fp);
		return dcc_fail(err, DCC_E_RANGE, "file of %lld bytes is too large", (long long)st.st_size);
	}
	size_t size = (size_t)st.st_size;
	uint8_t *p = malloc(size ? size : 1);
	if (!p) {
		fclose(fp);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory reading %zu bytes", size);
	}
	size_t got = fread(p, 1, size, fp);
	int bad = ferror(fp);
	fclose(fp);
	if (bad || got != size) {
		free(p);
		return dcc_fail(err, DCC_E_IO, "read failed");
	}
	*buf = p;
	*n = size;
	return 0;
}

int dcc_gunzip(const uint8_t *in, size_t n, size_t max, uint8_t **out, size_t *outn,
	       dcc_error *err)
{
	*out = NULL;
	*outn = 0;
	/* Deflate expands at most ~1032:1: a bound from the bytes present. */
	size_t bound = n > SIZE_MAX / 1100 ? SIZE_MAX : n * 1100 + 1024;
	if (bound > max)
		bound = max;
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	size_t cap = n * 4 + 4096 < bound ? n * 4 + 4096 : bound, len = 0;
	uint8_t *buf = malloc(cap);
	int rc = 0;
	if (!buf) {
		inflateEnd(&z);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	z.next_in = (Bytef *)in;
	size_t in_left = n;
	for (;;) {
		if (len == cap) {
			if (cap >= bound) {
				rc = dcc_fail(err, DCC_E_RANGE, "gzip data expands beyond %zu bytes", bound);
				break;
			}
			size_t nc = cap > bound / 2 ? bound : cap * 2;
			uint8_t *q = realloc(buf, nc);
			if (!q) {
				rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
				break;
			}
			buf = q;
			cap = nc;
		}
		uInt chunk_in = in_left > (1u << 30) ? (1u << 30) : (uInt)in_left;
		z.avail_in = chunk_in;
		size_t room = cap - len;
		z.next_out = buf + len;
		z.avail_out = room > (1u << 30) ? (1u << 30) : (uInt)room;
		uInt before_out = z.avail_out;
		int zr = inflate(&z, Z_NO_FLUSH);
		in_left -= chunk_in - z.avail_in;
		len += before_out - z.avail_out;
		if (zr == Z_STREAM_END) {
			/* Concatenated members are legal gzip; dcc reads the first
			 * and refuses trailing bytes rather than guess. */
			if (in_left)
				rc = dcc_fail(err, DCC_E_FORMAT, "trailing bytes after gzip data");
			break;
		}
		if (zr == Z_BUF_ERROR && in_left == 0) {
			rc = dcc_fail(err, DCC_E_TRUNCATED, "gzip data truncated");
			break;
		}
		if (zr != Z_OK && zr != Z_BUF_ERROR) {
			rc = dcc_fail(err, DCC_E_FORMAT, "corrupt gzip data (%s)", z.msg ? z.msg : "inflate error");
			break;
		}
	}
	inflateEnd(&z);
	if (rc) {
		free(buf);
		return rc;
	}
	*out = buf;
	*outn = len;
	return 0;
}

/* The tensor name for a single-tensor file: its base name without extension
 * ("weights/fc1.npy" -> "fc1", "t10k-images-idx3-ubyte.gz" -> "t10k-images-idx3-ubyte"). */
static char *stem(const char *path)
{
	const char *b = strrchr(path, '/');
	b = b ? b + 1 : path;
	char *s = dcc_strdup(b);
	if (!s)
		return NULL;
	char *dot = strrchr(s, '.');
	if (dot && (!strcmp(dot, ".gz"))) {
		*dot = 0;
		dot = strrchr(s, '.');
	}
	if (dot && dot != s && (!strcmp(dot, ".npy") || !strcmp(dot, ".idx")))
		*dot = 0;
	if (!*s) {
		free(s);
		s = dcc_strdup("tensor");
	}
	return s;
}

#define IMPORT_MAX ((size_t)1 << 40)

int dcc_import_file(const char *path, dcc_model **out, dcc_error *err)
{
	return dcc_import_file_sum(path, out, NULL, NULL, err);
}

int dcc_import_file_sum(const char *path, dcc_model **out, uint64_t *bytes, uint32_t *crc, dcc_error *err)
{
	*out = NULL;
	uint8_t *buf;
	size_t n;
	int rc = dcc_read_file(path, IMPORT_MAX, &buf, &n, err);
	if (rc)
		return rc;
	if (bytes)
		*bytes = n;
	if (crc)
		*crc = dcc_crc32c(0, buf, n);
	int kind = dcc_sniff(buf, n);
	if (kind == DCC_FILE_GZIP) {
		uint8_t *raw;
		size_t rn;
		rc = dcc_gunzip(buf, n, IMPORT_MAX, &raw, &rn, err);
		free(buf);
		if (rc)
			return rc;
		buf = raw;
		n = rn;
		kind = dcc_sniff(buf, n);
		if (kind != DCC_FILE_IDX && kind != DCC_FILE_NPY) {
			free(buf);
			return dcc_fail(err, DCC_E_FORMAT, "gzip holds neither IDX nor .npy data");
		}
	}
	if (kind == DCC_FILE_DCT) {
		rc = dcc_dct_read_mem(buf, n, 0, out, err);
		free(buf);
		return rc;
	}
	if (kind == DCC_FILE_UNKNOWN && dcc_filekind_from_ext(path) == DCC_FILE_ONNX) { /* protobuf: no magic */
		rc = dcc_onnx_read_mem(buf, n, out, err);
		free(buf);
		return rc;
	}
	dcc_model *m = dcc_model_new();
	char *name = stem(path);
	if (!m || !name) {
		free(buf);
		free(name);
		dcc_model_free(m);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	const dcc_format *f = dcc_format_of(kind);
	if (f && f->read)
		rc = f->read(buf, n, name, m, err);
	else
		rc = dcc_fail(err, DCC_E_FORMAT, "unrecognised file format (not .dct, .npy, .npz, .safetensors or IDX)");
	free(buf);
	free(name);
	if (rc) {
		dcc_model_free(m);
		return rc;
	}
	m->has_data = 1;
	*out = m;
	return 0;
}
