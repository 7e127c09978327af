/* dct.c: reader and writer of the .dct tensor container, following
 * formats/dct.md field by field.  The reader bounds every count and size by
 * the bytes present before it allocates. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/core/internal.h"
#include "dcc_formats.h"

#define HDR 64
#define VERSION 1
#define ALIGN 64
static const uint8_t MAGIC[4] = {0x89, 'D', 'C', 'T'};

int dcc_dct_sniff(const void *buf, size_t n)
{
	return n >= 4 && !memcmp(buf, MAGIC, 4);
}

/* Where the bytes come from: a file descriptor or a memory buffer. */
typedef struct src {
	const uint8_t *mem;
	int fd;
	uint64_t size;
} src;

static int read_at(const src *s, uint64_t off, void *dst, size_t n, dcc_error *err)
{
	if (off > s->size || n > s->size - off)
		return dcc_fail(err, DCC_E_TRUNCATED, "truncated");
	if (s->mem) {
		memcpy(dst, s->mem + off, n);
		return 0;
	}
	uint8_t *p = dst;
	while (n) {
		ssize_t k = pread(s->fd, p, n, (off_t)off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return dcc_fail(err, DCC_E_IO, "read failed: %s", strerror(errno));
		if (k == 0)
			return dcc_fail(err, DCC_E_TRUNCATED, "truncated");
		p += k;
		n -= (size_t)k;
		off += (uint64_t)k;
	}
	return 0;
}

/* A cursor over the metadata region with bounds checks on every read. */
typedef struct cur {
	const uint8_t *p, *end;
} cur;

static int need(cur *c, size_t n) { return (size_t)(c->end - c->p) >= n; }

static int get_str(cur *c, size_t len, char **out)
{
	if (!need(c, len))
		return DCC_E_TRUNCATED;
	if (memchr(c->p, 0, len))
		return DCC_E_FORMAT;
	char *s = malloc(len + 1);
	if (!s)
		return DCC_E_NOMEM;
	memcpy(s, c->p, len);
	s[len] = 0;
	c->p += len;
	*out = s;
	return 0;
}

static int parse_kv_value(cur *c, int type, dcc_kv *kv, size_t idx)
{
	switch (type) {
	case DCC_KV_I64:
		if (!need(c, 8))
			return DCC_E_TRUNCATED;
		kv->i[idx] = (int64_t)dcc_rd64(c->p);
		c->p += 8;
		return 0;
	case DCC_KV_F64: {
		if (!need(c, 8))
			return DCC_E_TRUNCATED;
		uint64_t u = dcc_rd64(c->p);
		memcpy(&kv->f[idx], &u, 8);
		c->p += 8;
		return 0;
	}
	case DCC_KV_STR: {
		if (!need(c, 4))
			return DCC_E_TRUNCATED;
		uint32_t len = dcc_rd32(c->p);
		c->p += 4;
		return get_str(c, len, &kv->s[idx]);
	}
	}
	return DCC_E_FORMAT;
}

static int parse_kv(cur *c, dcc_model *m, dcc_error *err)
{
	if (!need(c, 2))
		return dcc_fail(err, DCC_E_TRUNCATED, "metadata truncated");
	uint16_t klen = dcc_rd16(c->p);
	c->p += 2;
	if (klen == 0 || klen > DCC_MAX_NAME)
		return dcc_fail(err, DCC_E_FORMAT, "metadata key of %u bytes", klen);
	char *key;
	int rc = get_str(c, klen, &key);
	if (rc)
		return dcc_fail(err, rc, "metadata key %s", rc == DCC_E_TRUNCATED ? "truncated" : "malformed");
	if (dcc_model_get_kv(m, key)) {
		rc = dcc_fail(err, DCC_E_FORMAT, "metadata key '%s' appears twice", key);
		free(key);
		return rc;
	}
	dcc_kv kv = {.key = key};
	rc = DCC_E_TRUNCATED;
	if (!need(c, 1))
		goto bad;
	kv.type = *c->p++;
	size_t count = 1;
	int elem = kv.type;
	if (kv.type == DCC_KV_ARR) {
		if (!need(c, 9))
			goto bad;
		elem = kv.elem_type = *c->p++;
		uint64_t n = dcc_rd64(c->p);
		c->p += 8;
		/* Each element takes at least 4 bytes (a string's length). */
		rc = DCC_E_FORMAT;
		if (elem < DCC_KV_I64 || elem > DCC_KV_STR)
			goto bad;
		rc = DCC_E_TRUNCATED;
		if (n > (uint64_t)(c->end - c->p) / 4)
			goto bad;
		count = (size_t)n;
	} else if (kv.type < DCC_KV_I64 || kv.type > DCC_KV_STR) {
		rc = DCC_E_FORMAT;
		goto bad;
	} else {
		kv.elem_type = kv.type;
	}
	kv.count = count;
	rc = DCC_E_NOMEM;
	size_t alloc = count ? count : 1;
	if (elem == DCC_KV_I64 && !(kv.i = calloc(alloc, 8)))
		goto bad;
	if (elem == DCC_KV_F64 && !(kv.f = calloc(alloc, 8)))
		goto bad;
	if (elem == DCC_KV_STR && !(kv.s = calloc(alloc, sizeof(char *))))
		goto bad;
	for (size_t j = 0; j < count; j++)
		if ((rc = parse_kv_value(c, elem, &kv, j)))
			goto bad;
	/* Hand the parsed pair to the model. */
	rc = DCC_E_NOMEM;
	if (dcc_model_take_kv(m, &kv))
		goto bad;
	return 0;
bad:
	if (kv.s)
		for (size_t j = 0; j < kv.count; j++)
			free(kv.s[j]);
	free(kv.s);
	free(kv.i);
	free(kv.f);
	if (rc == DCC_E_NOMEM)
		rc = dcc_fail(err, rc, "out of memory reading metadata '%s'", key);
	else
		rc = dcc_fail(err, rc, "metadata '%s' %s", key,
			      rc == DCC_E_TRUNCATED ? "truncated" : "has an unknown type");
	free(key);
	return rc;
}

typedef struct span {
	uint64_t off, n;
	size_t idx;
} span;

static int cmp_span(const void *a, const void *b)
{
	const span *x = a, *y = b;
	return x->off < y->off ? -1 : x->off > y->off;
}

static int parse_tensor(cur *c, dcc_model *m, uint64_t data_size, uint32_t align,
			dcc_error *err)
{
	if (!need(c, 2))
		return dcc_fail(err, DCC_E_TRUNCATED, "tensor table truncated");
	uint16_t nlen = dcc_rd16(c->p);
	c->p += 2;
	if (nlen == 0 || nlen > DCC_MAX_NAME)
		return dcc_fail(err, DCC_E_FORMAT, "tensor name of %u bytes", nlen);
	char *name;
	int rc = get_str(c, nlen, &name);
	if (rc)
		return dcc_fail(err, rc, "tensor table %s", rc == DCC_E_TRUNCATED ? "truncated" : "malformed");
	if (dcc_model_find(m, name)) {
		rc = dcc_fail(err, DCC_E_FORMAT, "tensor '%s' appears twice", name);
		free(name);
		return rc;
	}
	if (!need(c, 4)) {
		rc = dcc_fail(err, DCC_E_TRUNCATED, "tensor '%s' truncated", name);
		free(name);
		return rc;
	}
	int dtype = c->p[0], ndim = c->p[1], bits = c->p[2], fl = (int8_t)c->p[3];
	c->p += 4;
	uint64_t shape[DCC_MAX_DIMS] = {0};
	if (dtype >= DCC_DTYPE_COUNT) {
		rc = dcc_fail(err, DCC_E_FORMAT, "tensor '%s' has unknown dtype %d", name, dtype);
		goto out;
	}
	if (ndim > DCC_MAX_DIMS) {
		rc = dcc_fail(err, DCC_E_FORMAT, "tensor '%s' has %d dimensions (at most %d)", name, ndim, DCC_MAX_DIMS);
		goto out;
	}
	if (bits != dcc_dtype_bits(dtype, bits) || (dtype == DCC_PACKED && (bits < 1 || bits > 16))) {
		rc = dcc_fail(err, DCC_E_FORMAT, "tensor '%s' has %d-bit elements for dtype %s", name, bits, dcc_dtype_name(dtype));
		goto out;
	}
	if (fl && !(dtype == DCC_Q8 || dtype == DCC_Q16 || dtype == DCC_Q32)) {
		rc = dcc_fail(err, DCC_E_FORMAT, "tensor '%s' has a fraction length but dtype %s", name, dcc_dtype_name(dtype));
		goto out;
	}
	if (!need(c, (size_t)ndim * 8 + 28)) {
		rc = dcc_fail(err, DCC_E_TRUNCATED, "tensor '%s' truncated", name);
		goto out;
	}
	for (int i = 0; i < ndim; i++, c->p += 8)
		shape[i] = dcc_rd64(c->p);
	uint64_t off = dcc_rd64(c->p), nbytes = dcc_rd64(c->p + 8), nnz = dcc_rd64(c->p + 16);
	uint32_t crc = dcc_rd32(c->p + 24);
	c->p += 28;
	size_t want;
	dcc_error e2;
	if (dcc_tensor_size(dtype, bits, ndim, shape, &want, &e2)) {
		rc = dcc_fail(err, DCC_E_RANGE, "tensor '%s': %s", name, e2.msg);
		goto out;
	}
	if (nbytes != want) {
		rc = dcc_fail(err, DCC_E_FORMAT, "tensor '%s' holds %llu bytes, its shape needs %zu", name,
			      (unsigned long long)nbytes, want);
		goto out;
	}
	if (off % align) {
		rc = dcc_fail(err, DCC_E_FORMAT, "tensor '%s' misaligned (offset %llu)", name, (unsigned long long)off);
		goto out;
	}
	if (off > data_size || nbytes > data_size - off) {
		rc = dcc_fail(err, DCC_E_TRUNCATED, "tensor '%s' truncated", name);
		goto out;
	}
	uint64_t numel = 1;
	for (int i = 0; i < ndim; i++)
		numel *= shape[i]; /* cannot overflow: dcc_tensor_size checked it */
	if (nnz > numel) {
		rc = dcc_fail(err, DCC_E_FORMAT, "tensor '%s' claims %llu nonzeros in %llu elements", name,
			      (unsigned long long)nnz, (unsigned long long)numel);
		goto out;
	}
	/* Register with data NULL; the caller loads it. */
	rc = dcc_model_add(m, name, dtype, bits, fl, ndim, shape, NULL, err);
	if (rc)
		goto out;
	dcc_tensor *t = &m->tensors[m->ntensors - 1];
	t->nnz = nnz;
	t->crc = crc;
	t->file_off = off; /* relative for now; made absolute by the caller */
out:
	free(name);
	return rc;
}

/* Every stored fact of a tensor's data: its checksum (unless not asked),
 * its padding bits zero, and the nonzero count the table states. */
static int check_data(const dcc_tensor *t, int crc, dcc_error *err)
{
	if (crc && dcc_crc32c(0, t->data, t->nbytes) != t->crc)
		return dcc_fail(err, DCC_E_CHECKSUM, "tensor '%s' checksum mismatch", t->name);
	if (t->dtype == DCC_PACKED || t->dtype == DCC_MASK) {
		/* Unused high bits of the last byte must be zero. */
		uint64_t used = dcc_tensor_numel(t) * (uint64_t)t->bits;
		if (used % 8 && (((uint8_t *)t->data)[t->nbytes - 1] >> (used % 8)))
			return dcc_fail(err, DCC_E_FORMAT, "tensor '%s' has padding bits set", t->name);
	}
	uint64_t nnz = dcc_tensor_count_nonzero(t);
	if (nnz != t->nnz)
		return dcc_fail(err, DCC_E_FORMAT, "tensor '%s' holds %llu nonzeros, its table says %llu", t->name,
				(unsigned long long)nnz, (unsigned long long)t->nnz);
	return 0;
}

static int dct_read_src(const src *s, int flags, dcc_model **out, dcc_error *err)
{
	*out = NULL;
	uint8_t h[HDR];
	if (s->size < 4) {
		return dcc_fail(err, DCC_E_FORMAT, "not a dcc container (file too short)");
	}
	int rc = read_at(s, 0, h, s->size < HDR ? (size_t)s->size : HDR, err);
	if (rc)
		return rc;
	if (memcmp(h, MAGIC, 4))
		return dcc_fail(err, DCC_E_FORMAT, "not a dcc container (bad magic)");
	if (s->size < HDR)
		return dcc_fail(err, DCC_E_TRUNCATED, "header truncated");
	uint32_t version = dcc_rd32(h + 4);
	if (version != VERSION)
		return dcc_fail(err, DCC_E_VERSION, "container version %u (this dcc reads %d)", version, VERSION);
	if (dcc_crc32c(0, h, 60) != dcc_rd32(h + 60))
		return dcc_fail(err, DCC_E_CHECKSUM, "header checksum mismatch");
	uint32_t hflags = dcc_rd32(h + 8), align = dcc_rd32(h + 12);
	uint64_t nkv = dcc_rd64(h + 16), nt = dcc_rd64(h + 24), meta_size = dcc_rd64(h + 32),
		 data_off = dcc_rd64(h + 40), data_size = dcc_rd64(h + 48);
	if (hflags)
		return dcc_fail(err, DCC_E_FORMAT, "reserved flags 0x%x set", hflags);
	if (align < 8 || align > 65536 || (align & (align - 1)))
		return dcc_fail(err, DCC_E_FORMAT, "alignment %u is not a power of two from 8 to 65536", align);
	if (meta_size > s->size - HDR)
		return dcc_fail(err, DCC_E_TRUNCATED, "metadata truncated (%llu bytes claimed, %llu present)",
				(unsigned long long)meta_size, (unsigned long long)(s->size - HDR));
	uint64_t want_off = (HDR + meta_size + align - 1) & ~(uint64_t)(align - 1);
	if (data_off != want_off)
		return dcc_fail(err, DCC_E_FORMAT, "data offset %llu, expected %llu", (unsigned long long)data_off,
				(unsigned long long)want_off);
	if (data_off > s->size || data_size != s->size - data_off)
		return dcc_fail(err, DCC_E_TRUNCATED, "data section of %llu bytes, file holds %llu",
				(unsigned long long)data_size,
				(unsigned long long)(s->size > data_off ? s->size - data_off : 0));
	if (nkv > meta_size / 4 || nt > meta_size / 4)
		return dcc_fail(err, DCC_E_FORMAT, "%llu keys and %llu tensors cannot fit in %llu bytes",
				(unsigned long long)nkv, (unsigned long long)nt, (unsigned long long)meta_size);
	uint8_t *meta = malloc(meta_size ? (size_t)meta_size : 1);
	if (!meta)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	if ((rc = read_at(s, HDR, meta, (size_t)meta_size, err))) {
		free(meta);
		return rc;
	}
	if (dcc_crc32c(0, meta, (size_t)meta_size) != dcc_rd32(h + 56)) {
		free(meta);
		return dcc_fail(err, DCC_E_CHECKSUM, "metadata checksum mismatch");
	}
	dcc_model *m = dcc_model_new();
	if (!m) {
		free(meta);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	cur c = {meta, meta + meta_size};
	for (uint64_t i = 0; i < nkv && !rc; i++)
		rc = parse_kv(&c, m, err);
	for (uint64_t i = 0; i < nt && !rc; i++)
		rc = parse_tensor(&c, m, data_size, align, err);
	if (!rc && c.p != c.end)
		rc = dcc_fail(err, DCC_E_FORMAT, "%zu stray bytes after the tensor table", (size_t)(c.end - c.p));
	free(meta);
	/* No two tensors may overlap. */
	if (!rc && m->ntensors > 1) {
		span *sp = malloc(m->ntensors * sizeof(span));
		if (!sp)
			rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
		for (size_t i = 0; sp && i < m->ntensors; i++)
			sp[i] = (span){m->tensors[i].file_off, m->tensors[i].nbytes, i};
		if (sp) {
			qsort(sp, m->ntensors, sizeof(span), cmp_span);
			for (size_t i = 1; i < m->ntensors && !rc; i++)
				if (sp[i - 1].n && sp[i].n && sp[i - 1].off + sp[i - 1].n > sp[i].off)
					rc = dcc_fail(err, DCC_E_FORMAT, "tensors '%s' and '%s' overlap",
						      m->tensors[sp[i - 1].idx].name, m->tensors[sp[i].idx].name);
		}
		free(sp);
	}
	for (size_t i = 0; !rc && i < m->ntensors; i++)
		m->tensors[i].file_off += data_off;
	if (!rc && !(flags & DCC_LOAD_TABLE_ONLY)) {
		for (size_t i = 0; i < m->ntensors && !rc; i++) {
			dcc_tensor *t = &m->tensors[i];
			t->data = dcc_alloc_data(t->nbytes, 0);
			if (!t->data) {
				rc = dcc_fail(err, DCC_E_NOMEM, "out of memory for tensor '%s' (%zu bytes)", t->name, t->nbytes);
				break;
			}
			if ((rc = read_at(s, t->file_off, t->data, t->nbytes, err))) {
				rc = dcc_fail(err, rc, "tensor '%s' %s", t->name, err ? err->msg : "unreadable");
				break;
			}
			rc = check_data(t, !(flags & DCC_LOAD_NO_VERIFY), err);
		}
		m->has_data = 1;
	}
	if (rc) {
		dcc_model_free(m);
		return rc;
	}
	*out = m;
	return 0;
}

int dcc_dct_read_mem(const void *buf, size_t n, int flags, dcc_model **out, dcc_error *err)
{
	src s = {buf, -1, n};
	return dct_read_src(&s, flags, out, err);
}

int dcc_dct_read(const char *path, int flags, dcc_model **out, dcc_error *err)
{
	*out = NULL;
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return dcc_fail(err, DCC_E_IO, "%s", strerror(errno));
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return dcc_fail(err, DCC_E_IO, "not a regular file");
	}
	src s = {NULL, fd, (uint64_t)st.st_size};
	int rc = dct_read_src(&s, flags, out, err);
	close(fd);
	return rc;
}

int dcc_dct_load_tensor(const char *path, dcc_tensor *t, dcc_error *err)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return dcc_fail(err, DCC_E_IO, "%s", strerror(errno));
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st)) {
		close(fd);
		return dcc_fail(err, DCC_E_IO, "%s", strerror(errno));
	}
	src s = {NULL, fd, (uint64_t)st.st_size};
	void *p = dcc_alloc_data(t->nbytes, 0);
	if (!p)
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory for tensor '%s'", t->name);
	else if ((rc = read_at(&s, t->file_off, p, t->nbytes, err)))
		rc = dcc_fail(err, rc, "tensor '%s' truncated", t->name);
	else {
		void *keep = t->data;
		t->data = p;
		rc = check_data(t, 1, err);
		t->data = keep;
	}
	close(fd);
	if (rc) {
		free(p);
		return rc;
	}
	free(t->data);
	t->data = p;
	return 0;
}

int dcc_dct_read_range(int fd, const dcc_tensor *t, uint64_t off, void *dst, size_t n, dcc_error *err)
{
	if (off > t->nbytes || n > t->nbytes - off)
		return dcc_fail(err, DCC_E_RANGE, "tensor '%s': bytes %llu..%llu are past its end", t->name,
				(unsigned long long)off, (unsigned long long)(off + n));
	struct stat st;
	if (fstat(fd, &st))
		return dcc_fail(err, DCC_E_IO, "%s", strerror(errno));
	src s = {NULL, fd, (uint64_t)st.st_size};
	int rc = read_at(&s, t->file_off + off, dst, n, err);
	return rc ? dcc_fail(err, rc, "tensor '%s' %s", t->name, err ? err->msg : "unreadable") : 0;
}

/* ---- writer ---- */

static void put_kv(dcc_buf *b, const dcc_kv *kv)
{
	size_t klen = strlen(kv->key);
	dcc_buf_u16(b, (uint16_t)klen);
	dcc_buf_put(b, kv->key, klen);
	dcc_buf_u8(b, (uint8_t)kv->type);
	int elem = kv->type;
	if (kv->type == DCC_KV_ARR) {
		elem = kv->elem_type;
		dcc_buf_u8(b, (uint8_t)elem);
		dcc_buf_u64(b, kv->count);
	}
	size_t n = kv->type == DCC_KV_ARR ? kv->count : 1;
	for (size_t j = 0; j < n; j++) {
		if (elem == DCC_KV_I64) {
			dcc_buf_u64(b, (uint64_t)kv->i[j]);
		} else if (elem == DCC_KV_F64) {
			uint64_t u;
			memcpy(&u, &kv->f[j], 8);
			dcc_buf_u64(b, u);
		} else {
			size_t len = strlen(kv->s[j]);
			dcc_buf_u32(b, (uint32_t)len);
			dcc_buf_put(b, kv->s[j], len);
		}
	}
}

int dcc_dct_write(FILE *fp, const dcc_model *m, dcc_error *err)
{
	for (size_t i = 0; i < m->ntensors; i++)
		if (!m->tensors[i].data && m->tensors[i].nbytes)
			return dcc_fail(err, DCC_E_ARG, "tensor '%s' has no data loaded", m->tensors[i].name);
	for (size_t i = 0; i < m->nkv; i++) {
		size_t kl = strlen(m->kv[i].key);
		if (!kl || kl > DCC_MAX_NAME)
			return dcc_fail(err, DCC_E_RANGE, "metadata key of %zu bytes", kl);
	}
	dcc_buf b = {0};
	for (size_t i = 0; i < m->nkv; i++)
		put_kv(&b, &m->kv[i]);
	uint64_t off = 0;
	for (size_t i = 0; i < m->ntensors; i++) {
		const dcc_tensor *t = &m->tensors[i];
		size_t nlen = strlen(t->name);
		dcc_buf_u16(&b, (uint16_t)nlen);
		dcc_buf_put(&b, t->name, nlen);
		dcc_buf_u8(&b, (uint8_t)t->dtype);
		dcc_buf_u8(&b, (uint8_t)t->ndim);
		dcc_buf_u8(&b, (uint8_t)dcc_dtype_bits(t->dtype, t->bits));
		dcc_buf_u8(&b, (uint8_t)(int8_t)t->fl);
		for (int d = 0; d < t->ndim; d++)
			dcc_buf_u64(&b, t->shape[d]);
		dcc_buf_u64(&b, off);
		dcc_buf_u64(&b, t->nbytes);
		dcc_buf_u64(&b, dcc_tensor_count_nonzero(t));
		dcc_buf_u32(&b, dcc_crc32c(0, t->data, t->nbytes));
		off += (t->nbytes + ALIGN - 1) & ~(uint64_t)(ALIGN - 1);
	}
	if (b.oom) {
		dcc_buf_free(&b);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	/* The last tensor is not padded: the file ends with its data. */
	uint64_t data_size = 0;
	if (m->ntensors) {
		const dcc_tensor *t = &m->tensors[m->ntensors - 1];
		data_size = off - ((t->nbytes + ALIGN - 1) & ~(uint64_t)(ALIGN - 1)) + t->nbytes;
	}
	uint64_t data_off = (HDR + b.n + ALIGN - 1) & ~(uint64_t)(ALIGN - 1);
	uint8_t h[HDR] = {0};
	memcpy(h, MAGIC, 4);
	dcc_wr32(h + 4, VERSION);
	dcc_wr32(h + 8, 0);
	dcc_wr32(h + 12, ALIGN);
	dcc_wr64(h + 16, m->nkv);
	dcc_wr64(h + 24, m->ntensors);
	dcc_wr64(h + 32, b.n);
	dcc_wr64(h + 40, data_off);
	dcc_wr64(h + 48, data_size);
	dcc_wr32(h + 56, dcc_crc32c(0, b.p, b.n));
	dcc_wr32(h + 60, dcc_crc32c(0, h, 60));
	static const uint8_t zeros[ALIGN];
	int rc = dcc_fwrite_all(fp, h, HDR, err);
	if (!rc)
		rc = dcc_fwrite_all(fp, b.p, b.n, err);
	if (!rc)
		rc = dcc_fwrite_all(fp, zeros, (size_t)(data_off - HDR - b.n), err);
	dcc_buf_free(&b);
	for (size_t i = 0; i < m->ntensors && !rc; i++) {
		const dcc_tensor *t = &m->tensors[i];
		rc = dcc_fwrite_all(fp, t->data, t->nbytes, err);
		size_t pad = (size_t)(((t->nbytes + ALIGN - 1) & ~(uint64_t)(ALIGN - 1)) - t->nbytes);
		if (!rc && i + 1 < m->ntensors)
			rc = dcc_fwrite_all(fp, zeros, pad, err);
	}
	return rc;
}
