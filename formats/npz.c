/* npz.c: NumPy's .npz, a ZIP archive of .npy members (np.savez stores them,
 * np.savez_compressed deflates them).  The reader walks the central
 * directory (with ZIP64 extensions), checks every offset and size against the
 * archive, inflates with a bound derived from the compressed size, and
 * verifies each member's CRC-32.  See formats/npz.md. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "formats.h"

#define SIG_LOCAL 0x04034b50u
#define SIG_CDIR 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_LOC64 0x07064b50u

static int inflate_raw(const uint8_t *in, size_t n, uint8_t *out, size_t outn, dcc_error *err,
		       const char *member)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, -MAX_WBITS) != Z_OK)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	int rc = 0;
	size_t in_left = n, out_left = outn;
	z.next_in = (Bytef *)in;
	z.next_out = out;
	for (;;) {
		uInt ci = in_left > (1u << 30) ? (1u << 30) : (uInt)in_left;
		uInt co = out_left > (1u << 30) ? (1u << 30) : (uInt)out_left;
		z.avail_in = ci;
		z.avail_out = co;
		int zr = inflate(&z, Z_NO_FLUSH);
		in_left -= ci - z.avail_in;
		out_left -= co - z.avail_out;
		if (zr == Z_STREAM_END) {
			if (out_left)
				rc = dcc_fail(err, DCC_E_FORMAT, "npz member '%s' is shorter than its stated size", member);
			break;
		}
		if (zr == Z_BUF_ERROR && out_left == 0) {
			rc = dcc_fail(err, DCC_E_FORMAT, "npz member '%s' is longer than its stated size", member);
			break;
		}
		if (zr == Z_BUF_ERROR && in_left == 0) {
			rc = dcc_fail(err, DCC_E_TRUNCATED, "npz member '%s' truncated", member);
			break;
		}
		if (zr != Z_OK && zr != Z_BUF_ERROR) {
			rc = dcc_fail(err, DCC_E_FORMAT, "npz member '%s' has corrupt deflate data", member);
			break;
		}
	}
	inflateEnd(&z);
	return rc;
}

/* Reads the ZIP64 extended-information extra field for the values that the
 * fixed fields mark as 0xFFFFFFFF. */
static int zip64_extra(const uint8_t *x, size_t xn, uint64_t *usize, uint64_t *csize, uint64_t *off)
{
	while (xn >= 4) {
		uint16_t id = dcc_rd16(x), len = dcc_rd16(x + 2);
		if (len > xn - 4)
			return -1;
		if (id == 0x0001) {
			const uint8_t *p = x + 4;
			size_t left = len;
			uint64_t *vals[3] = {usize, csize, off};
			for (int i = 0; i < 3; i++) {
				if (*vals[i] != 0xFFFFFFFFu)
					continue;
				if (left < 8)
					return -1;
				*vals[i] = dcc_rd64(p);
				p += 8;
				left -= 8;
			}
			return 0;
		}
		x += 4 + len;
		xn -= 4 + len;
	}
	return 0;
}

static uint32_t crc_all(const uint8_t *p, size_t n)
{
	uLong c = crc32(0L, Z_NULL, 0);
	while (n) {
		size_t ch = n > (1u << 30) ? (1u << 30) : n;
		c = crc32(c, p, (uInt)ch);
		p += ch;
		n -= ch;
	}
	return (uint32_t)c;
}

/* One member of the central directory, checked against the archive. */
typedef struct npz_member {
	char name[DCC_MAX_NAME + 1]; /* without .npy */
	uint16_t method;
	uint32_t crc;
	uint64_t csize, usize, loff, dstart;
} npz_member;

static int member_entry(const uint8_t *buf, size_t n, const uint8_t **pp, const uint8_t *end, uint64_t k,
			npz_member *e, dcc_error *err)
{
	const uint8_t *p = *pp;
	if (end - p < 46 || dcc_rd32(p) != SIG_CDIR)
		return dcc_fail(err, DCC_E_FORMAT, "npz central directory entry %llu malformed", (unsigned long long)k);
	uint16_t flags = dcc_rd16(p + 8), method = dcc_rd16(p + 10);
	uint64_t csize = dcc_rd32(p + 20), usize = dcc_rd32(p + 24);
	uint16_t nlen = dcc_rd16(p + 28), xlen = dcc_rd16(p + 30), clen = dcc_rd16(p + 32);
	uint64_t loff = dcc_rd32(p + 42);
	if ((size_t)(end - p) < 46u + nlen + xlen + clen)
		return dcc_fail(err, DCC_E_TRUNCATED, "npz central directory truncated");
	char *name = e->name;
	if (nlen == 0 || nlen > DCC_MAX_NAME || memchr(p + 46, 0, nlen))
		return dcc_fail(err, DCC_E_FORMAT, "npz member name malformed");
	memcpy(name, p + 46, nlen);
	name[nlen] = 0;
	if (zip64_extra(p + 46 + nlen, xlen, &usize, &csize, &loff))
		return dcc_fail(err, DCC_E_FORMAT, "npz member '%s' has a malformed ZIP64 field", name);
	*pp = p + 46u + nlen + xlen + clen;
	if (flags & 1)
		return dcc_fail(err, DCC_E_UNSUPPORTED, "npz member '%s' is encrypted", name);
	if (method != 0 && method != 8)
		return dcc_fail(err, DCC_E_UNSUPPORTED, "npz member '%s' uses compression method %u (stored and deflate only)",
				name, method);
	if (loff > n || n - loff < 30 || dcc_rd32(buf + loff) != SIG_LOCAL)
		return dcc_fail(err, DCC_E_FORMAT, "npz member '%s' has a bad local header", name);
	uint64_t dstart = loff + 30 + dcc_rd16(buf + loff + 26) + dcc_rd16(buf + loff + 28);
	if (dstart > n || csize > n - dstart)
		return dcc_fail(err, DCC_E_TRUNCATED, "npz member '%s' truncated", name);
	if (method == 0 && csize != usize)
		return dcc_fail(err, DCC_E_FORMAT, "npz stored member '%s' has different sizes", name);
	if (method == 8 && usize > csize * 1032 + 1024)
		return dcc_fail(err, DCC_E_FORMAT, "npz member '%s' claims an impossible expansion", name);
	if (usize > SIZE_MAX)
		return dcc_fail(err, DCC_E_RANGE, "npz member '%s' too large", name);
	size_t nl = strlen(name);
	if (nl < 5 || strcmp(name + nl - 4, ".npy"))
		return dcc_fail(err, DCC_E_UNSUPPORTED, "npz member '%s' is not a .npy array", name);
	name[nl - 4] = 0;
	e->method = method, e->crc = dcc_rd32(p + 16), e->csize = csize, e->usize = usize, e->loff = loff;
	e->dstart = dstart;
	return 0;
}

static int by_offset(const void *a, const void *b)
{
	uint64_t x = (*(npz_member *const *)a)->loff, y = (*(npz_member *const *)b)->loff;
	return x < y ? -1 : x > y;
}

/* No two members' local headers and data overlap: one deflated stream
 * named a thousand times would inflate a thousand times. */
static int members_apart(npz_member *mb, size_t count, dcc_error *err)
{
	npz_member **o = malloc((count ? count : 1) * sizeof(*o));
	if (!o)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	for (size_t k = 0; k < count; k++)
		o[k] = &mb[k];
	qsort(o, count, sizeof(*o), by_offset);
	int rc = 0;
	for (size_t k = 1; !rc && k < count; k++)
		if (o[k]->loff < o[k - 1]->dstart + o[k - 1]->csize)
			rc = dcc_fail(err, DCC_E_FORMAT, "npz members '%s' and '%s' overlap", o[k - 1]->name, o[k]->name);
	free(o);
	return rc;
}

static int member_read(const uint8_t *buf, const npz_member *e, dcc_model *m, dcc_error *err)
{
	const uint8_t *data = buf + e->dstart;
	uint8_t *tmp = NULL;
	if (e->method == 8) {
		tmp = malloc(e->usize ? (size_t)e->usize : 1);
		if (!tmp)
			return dcc_fail(err, DCC_E_NOMEM, "out of memory");
		int rc = inflate_raw(data, (size_t)e->csize, tmp, (size_t)e->usize, err, e->name);
		if (rc) {
			free(tmp);
			return rc;
		}
		data = tmp;
	}
	if (crc_all(data, (size_t)e->usize) != e->crc) {
		free(tmp);
		return dcc_fail(err, DCC_E_CHECKSUM, "npz member '%s' CRC mismatch", e->name);
	}
	if (dcc_model_find(m, e->name)) {
		free(tmp);
		return dcc_fail(err, DCC_E_FORMAT, "npz holds '%s' twice", e->name);
	}
	dcc_error e2;
	int rc = dcc_npy_read_mem(data, (size_t)e->usize, e->name, m, &e2);
	free(tmp);
	return rc ? dcc_fail(err, rc, "npz member '%s': %s", e->name, e2.msg) : 0;
}

int dcc_npz_read_mem(const uint8_t *buf, size_t n, dcc_model *m, dcc_error *err)
{
	if (n < 22)
		return dcc_fail(err, DCC_E_TRUNCATED, "npz archive truncated");
	/* The end-of-central-directory record is within the last 64 KiB + 22. */
	size_t lo = n > 65557 ? n - 65557 : 0, eocd = SIZE_MAX;
	for (size_t i = n - 22 + 1; i-- > lo;)
		if (dcc_rd32(buf + i) == SIG_EOCD) {
			eocd = i;
			break;
		}
	if (eocd == SIZE_MAX)
		return dcc_fail(err, DCC_E_FORMAT, "npz archive has no end of central directory");
	uint64_t count = dcc_rd16(buf + eocd + 10), cd_size = dcc_rd32(buf + eocd + 12),
		 cd_off = dcc_rd32(buf + eocd + 16);
	if (count == 0xFFFF || cd_size == 0xFFFFFFFFu || cd_off == 0xFFFFFFFFu) {
		if (eocd < 20 || dcc_rd32(buf + eocd - 20) != SIG_LOC64)
			return dcc_fail(err, DCC_E_FORMAT, "npz ZIP64 locator missing");
		uint64_t e64 = dcc_rd64(buf + eocd - 20 + 8);
		if (n < 56 || e64 > n - 56 || dcc_rd32(buf + e64) != SIG_EOCD64)
			return dcc_fail(err, DCC_E_FORMAT, "npz ZIP64 end record malformed");
		count = dcc_rd64(buf + e64 + 32);
		cd_size = dcc_rd64(buf + e64 + 40);
		cd_off = dcc_rd64(buf + e64 + 48);
	}
	if (cd_off > n || cd_size > n - cd_off)
		return dcc_fail(err, DCC_E_TRUNCATED, "npz central directory lies outside the archive");
	if (count > cd_size / 46)
		return dcc_fail(err, DCC_E_FORMAT, "npz claims %llu members in %llu bytes", (unsigned long long)count,
				(unsigned long long)cd_size);
	/* every member checked, and no two sharing bytes, before any is inflated */
	npz_member *mb = calloc(count ? (size_t)count : 1, sizeof(*mb));
	if (!mb)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	int rc = 0;
	const uint8_t *p = buf + cd_off, *end = buf + cd_off + cd_size;
	for (uint64_t k = 0; !rc && k < count; k++)
		rc = member_entry(buf, n, &p, end, k, &mb[k], err);
	if (!rc)
		rc = members_apart(mb, (size_t)count, err);
	for (uint64_t k = 0; !rc && k < count; k++)
		rc = member_read(buf, &mb[k], m, err);
	free(mb);
	return rc;
}

/* ---- writer ---- */

static int deflate_all(const uint8_t *in, size_t n, uint8_t **out, size_t *outn, dcc_error *err)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	size_t cap = n + n / 1000 + 64; /* deflateBound's order, without uLong limits */
	uint8_t *o = malloc(cap);
	if (!o) {
		deflateEnd(&z);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	size_t in_left = n, len = 0;
	z.next_in = (Bytef *)in;
	int zr;
	do {
		if (cap - len < 65536) {
			uint8_t *q = realloc(o, cap * 2);
			if (!q) {
				free(o);
				deflateEnd(&z);
				return dcc_fail(err, DCC_E_NOMEM, "out of memory");
			}
			o = q;
			cap *= 2;
		}
		uInt ci = in_left > (1u << 30) ? (1u << 30) : (uInt)in_left;
		uInt co = cap - len > (1u << 30) ? (1u << 30) : (uInt)(cap - len);
		z.avail_in = ci;
		z.next_out = o + len;
		z.avail_out = co;
		zr = deflate(&z, in_left == ci ? Z_FINISH : Z_NO_FLUSH);
		in_left -= ci - z.avail_in;
		len += co - z.avail_out;
	} while (zr == Z_OK || zr == Z_BUF_ERROR);
	deflateEnd(&z);
	if (zr != Z_STREAM_END) {
		free(o);
		return dcc_fail(err, DCC_E_FORMAT, "deflate failed");
	}
	*out = o;
	*outn = len;
	return 0;
}

/* A member name no unzip would place outside its directory: no leading
 * '/', no '..' component, no backslash or control character. */
static int safe_member(const char *s)
{
	if (*s == '/')
		return 0;
	for (const char *p = s; *p; p++)
		if (*p == '\\' || (unsigned char)*p < 0x20 || *p == 0x7f)
			return 0;
	for (const char *c = s; c; c = strchr(c, '/'), c = c ? c + 1 : NULL)
		if (c[0] == '.' && c[1] == '.' && (c[2] == '/' || !c[2]))
			return 0;
	return 1;
}

int dcc_npz_write(FILE *fp, const dcc_model *m, int compress, dcc_error *err)
{
	for (size_t i = 0; i < m->ntensors; i++)
		if (!safe_member(m->tensors[i].name)) {
			char esc[3 * DCC_MAX_NAME];
			return dcc_fail(err, DCC_E_UNSUPPORTED, "tensor '%s' is not a safe npz member name (a path out of "
				       "the archive's directory)", dcc_escape(m->tensors[i].name, esc, sizeof(esc)));
		}
	dcc_buf cd = {0};
	uint64_t off = 0;
	int rc = 0;
	/* DOS time 1980-01-01 00:00, so output is byte-identical across runs. */
	const uint16_t dos_time = 0, dos_date = (0 << 9) | (1 << 5) | 1;
	for (size_t i = 0; i < m->ntensors && !rc; i++) {
		const dcc_tensor *t = &m->tensors[i];
		uint8_t *npy = NULL, *z = NULL;
		size_t nn = 0, zn = 0;
		if ((rc = dcc_npy_write_mem(t, &npy, &nn, err)))
			break;
		const uint8_t *data = npy;
		size_t dn = nn;
		if (compress) {
			if ((rc = deflate_all(npy, nn, &z, &zn, err))) {
				free(npy);
				break;
			}
			data = z;
			dn = zn;
		}
		uint32_t crc = crc_all(npy, nn);
		size_t nlen = strlen(t->name) + 4;
		/* ZIP64 where a size or the offset does not fit 32 bits (numpy reads it) */
		int big = nn >= 0xFFFFFFFFu || dn >= 0xFFFFFFFFu, bigoff = off >= 0xFFFFFFFFu;
		dcc_buf lh = {0};
		dcc_buf_u32(&lh, SIG_LOCAL);
		dcc_buf_u16(&lh, big ? 45 : 20);
		dcc_buf_u16(&lh, 0);
		dcc_buf_u16(&lh, compress ? 8 : 0);
		dcc_buf_u16(&lh, dos_time);
		dcc_buf_u16(&lh, dos_date);
		dcc_buf_u32(&lh, crc);
		dcc_buf_u32(&lh, big ? 0xFFFFFFFFu : (uint32_t)dn);
		dcc_buf_u32(&lh, big ? 0xFFFFFFFFu : (uint32_t)nn);
		dcc_buf_u16(&lh, (uint16_t)nlen);
		dcc_buf_u16(&lh, big ? 20 : 0);
		dcc_buf_put(&lh, t->name, nlen - 4);
		dcc_buf_put(&lh, ".npy", 4);
		if (big) { /* the local header's ZIP64 field holds both sizes */
			dcc_buf_u16(&lh, 0x0001), dcc_buf_u16(&lh, 16);
			dcc_buf_u64(&lh, nn), dcc_buf_u64(&lh, dn);
		}
		/* The central directory entry repeats it with the offset. */
		dcc_buf_u32(&cd, SIG_CDIR);
		dcc_buf_u16(&cd, big || bigoff ? 45 : 20);
		dcc_buf_u16(&cd, big || bigoff ? 45 : 20);
		dcc_buf_put(&cd, lh.p + 6, 20);
		dcc_buf_u16(&cd, (uint16_t)nlen);
		dcc_buf_u16(&cd, (uint16_t)(8 * (2 * big + bigoff) + (big || bigoff ? 4 : 0)));
		dcc_buf_u16(&cd, 0); /* comment */
		dcc_buf_u16(&cd, 0); /* disk */
		dcc_buf_u16(&cd, 0); /* internal attributes */
		dcc_buf_u32(&cd, 0); /* external attributes */
		dcc_buf_u32(&cd, bigoff ? 0xFFFFFFFFu : (uint32_t)off);
		dcc_buf_put(&cd, t->name, nlen - 4);
		dcc_buf_put(&cd, ".npy", 4);
		if (big || bigoff) {
			dcc_buf_u16(&cd, 0x0001), dcc_buf_u16(&cd, (uint16_t)(8 * (2 * big + bigoff)));
			if (big)
				dcc_buf_u64(&cd, nn), dcc_buf_u64(&cd, dn);
			if (bigoff)
				dcc_buf_u64(&cd, off);
		}
		if (lh.oom)
			rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
		if (!rc)
			rc = dcc_fwrite_all(fp, lh.p, lh.n, err);
		if (!rc)
			rc = dcc_fwrite_all(fp, data, dn, err);
		off += lh.n + dn;
		dcc_buf_free(&lh);
		free(npy);
		free(z);
	}
	if (!rc && cd.oom)
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	if (!rc) {
		uint64_t count = m->ntensors;
		int z64 = count >= 0xFFFF || cd.n >= 0xFFFFFFFFu || off >= 0xFFFFFFFFu;
		dcc_buf e = {0};
		if (z64) { /* the ZIP64 end record and its locator, then the classic end */
			dcc_buf_u32(&e, SIG_EOCD64);
			dcc_buf_u64(&e, 44);
			dcc_buf_u16(&e, 45), dcc_buf_u16(&e, 45);
			dcc_buf_u32(&e, 0), dcc_buf_u32(&e, 0);
			dcc_buf_u64(&e, count), dcc_buf_u64(&e, count);
			dcc_buf_u64(&e, cd.n), dcc_buf_u64(&e, off);
			dcc_buf_u32(&e, SIG_LOC64);
			dcc_buf_u32(&e, 0);
			dcc_buf_u64(&e, off + cd.n);
			dcc_buf_u32(&e, 1);
		}
		dcc_buf_u32(&e, SIG_EOCD);
		dcc_buf_u16(&e, 0);
		dcc_buf_u16(&e, 0);
		dcc_buf_u16(&e, z64 ? 0xFFFF : (uint16_t)count);
		dcc_buf_u16(&e, z64 ? 0xFFFF : (uint16_t)count);
		dcc_buf_u32(&e, z64 ? 0xFFFFFFFFu : (uint32_t)cd.n);
		dcc_buf_u32(&e, z64 ? 0xFFFFFFFFu : (uint32_t)off);
		dcc_buf_u16(&e, 0);
		rc = e.oom ? dcc_fail(err, DCC_E_NOMEM, "out of memory") : dcc_fwrite_all(fp, cd.p, cd.n, err);
		if (!rc)
			rc = dcc_fwrite_all(fp, e.p, e.n, err);
		dcc_buf_free(&e);
	}
	dcc_buf_free(&cd);
	return rc;
}
