/* formats.h: helpers shared by the interchange readers and writers. */
#ifndef DCC_FORMATS_H
#define DCC_FORMATS_H

#include "../lib/core/internal.h"
#include "dcc_formats.h"

/* The plain numeric view of a tensor that NumPy and safetensors can hold:
 * q8/q16/q32 become their integers, packed becomes u8 (<= 8 bits) or u16,
 * mask becomes bool.  *data is t->data or a new buffer (*owned = 1). */
typedef struct dcc_plain {
	int dtype;
	const void *data;
	size_t nbytes;
	int owned;
} dcc_plain;

int dcc_plain_view(const dcc_tensor *t, dcc_plain *p, dcc_error *err);
void dcc_plain_free(dcc_plain *p);
/* Bytes per element of a plain dtype (not packed/mask). */
size_t dcc_plain_size(int dtype);

/* Reverses the byte order of n elements of width w in place. */
void dcc_byteswap(void *p, size_t n, size_t w);

#endif
