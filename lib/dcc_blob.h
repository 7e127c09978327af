/* dcc_blob.h: the compressed blob in memory (lib/core vocabulary) -- the
 * plain structure between lib/encode, which builds and decodes its streams,
 * and formats/dcb.c, which knows its bytes (formats/dcb.md). */
#ifndef DCC_BLOB_H
#define DCC_BLOB_H

#include "dcc.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { DCC_ENTROPY_NONE = 0, DCC_ENTROPY_HUFFMAN = 1, DCC_ENTROPY_ZSTD = 2 };
enum { DCC_LAYOUT_CSC = 0, DCC_LAYOUT_EIE = 1, DCC_LAYOUT_CBS = 2 };
enum { DCC_BLOB_SHARED = 1, DCC_BLOB_FIXED = 2 }; /* a record's kind */

/* One stream as stored: how it is coded, and its payload. */
typedef struct dcc_stream {
	int coding;           /* DCC_ENTROPY_* */
	int raw_bits;         /* bits per symbol when packed raw */
	uint32_t alphabet;
	uint64_t symbols;
	const uint8_t *data;  /* len bytes: raw-packed, Huffman table + bits, or a zstd frame */
	size_t len;
	uint8_t *owned;       /* data, when the blob owns it (built, not read) */
	/* accounting, for the report */
	uint64_t table_bytes; /* a Huffman table's share of len */
	double entropy_bits;  /* the order-0 bound of the symbols */
} dcc_stream;

/* One encoded weight: its record header and three streams. */
typedef struct dcc_blob_layer {
	char name[DCC_MAX_NAME + 1];
	int kind;             /* DCC_BLOB_* */
	int layout, index_bits, has_mask;
	int pes;              /* EIE: the PEs; CBS: the bank size; CSC: 1 */
	int value_bits, ndim, fl, dtype, tensor_bits;
	uint32_t filler, alphabet;
	uint64_t shape[DCC_MAX_DIMS];
	uint64_t entries, fillers;
	dcc_stream st[3];     /* index, value, count */
	uint64_t bytes;       /* the record on disk (set by the writer and the reader) */
} dcc_blob_layer;

typedef struct dcc_blob {
	dcc_model *rest;      /* the embedded container: every other tensor, the metadata */
	int rest_zstd;        /* write it zstd-coded when that is smaller */
	dcc_blob_layer *layer;
	size_t nlayers;
	/* sizes on disk, set by the writer and the reader */
	uint64_t rest_bytes, rest_raw_bytes, total_bytes;
} dcc_blob;

void dcc_blob_free(dcc_blob *b); /* what it holds; the struct itself is the caller's */

#ifdef __cplusplus
}
#endif
#endif
