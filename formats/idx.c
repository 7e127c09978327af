/* idx.c: the IDX format of MNIST and Fashion-MNIST: two zero bytes, a type
 * code, the number of dimensions, big-endian u32 dimensions, big-endian data.
 * Gzipped files are inflated by the caller (formats/io.c).  See formats/idx.md. */
#include <stdlib.h>
#include <string.h>

#include "formats.h"

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int dcc_idx_read_mem(const uint8_t *buf, size_t n, const char *name, dcc_model *m, dcc_error *err)
{
	if (n < 4 || buf[0] || buf[1])
		return dcc_fail(err, DCC_E_FORMAT, "not an IDX file (bad magic)");
	int dtype;
	switch (buf[2]) {
	case 0x08: dtype = DCC_U8; break;
	case 0x09: dtype = DCC_I8; break;
	case 0x0B: dtype = DCC_I16; break;
	case 0x0C: dtype = DCC_I32; break;
	case 0x0D: dtype = DCC_F32; break;
	case 0x0E: dtype = DCC_F64; break;
	default: return dcc_fail(err, DCC_E_FORMAT, "IDX type code 0x%02x unknown", buf[2]);
	}
	int ndim = buf[3];
	if (ndim < 1 || ndim > DCC_MAX_DIMS)
		return dcc_fail(err, DCC_E_RANGE, "IDX file has %d dimensions", ndim);
	if (n < 4 + 4 * (size_t)ndim)
		return dcc_fail(err, DCC_E_TRUNCATED, "IDX header truncated");
	uint64_t shape[DCC_MAX_DIMS];
	for (int d = 0; d < ndim; d++)
		shape[d] = be32(buf + 4 + 4 * d);
	size_t nbytes;
	int rc = dcc_tensor_size(dtype, 0, ndim, shape, &nbytes, err);
	if (rc)
		return rc;
	size_t hdr = 4 + 4 * (size_t)ndim;
	if (nbytes > n - hdr)
		return dcc_fail(err, DCC_E_TRUNCATED, "IDX data truncated (%zu of %zu bytes)", n - hdr, nbytes);
	if (nbytes < n - hdr)
		return dcc_fail(err, DCC_E_FORMAT, "IDX file has %zu bytes after its data", n - hdr - nbytes);
	uint8_t *p = malloc(nbytes ? nbytes : 1);
	if (!p)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory (%zu bytes)", nbytes);
	memcpy(p, buf + hdr, nbytes);
	size_t w = dcc_plain_size(dtype);
	dcc_byteswap(p, nbytes / w, w);
	return dcc_model_add(m, name, dtype, 0, 0, ndim, shape, p, err);
}
