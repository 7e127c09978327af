/* dcc_encode.h: sparse layouts (Deep Compression's relative-index CSC,
 * EIE's per-PE interleaved CSC, compressed sparse banks), canonical
 * Huffman coding, and the blob's layers in memory with their exact decoder
 * (the blob's bytes are formats/dcb.c's). */
#ifndef DCC_ENCODE_H
#define DCC_ENCODE_H

#include "dcc.h"
#include "dcc_blob.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- canonical Huffman over symbols 0..alphabet-1 ---- */

#define DCC_HUFF_MAXLEN 15

/* Appends the code table and the bitstream of sym[0..n) to *out, *out_len
 * (realloc'd).  Lengths are limited to DCC_HUFF_MAXLEN; a one-symbol stream
 * has an empty bitstream.  *table_bytes gets the table's share. */
int dcc_huff_encode(const uint32_t *sym, size_t n, uint32_t alphabet, uint8_t **out, size_t *out_len,
		    size_t *table_bytes, dcc_error *err);
/* Decodes exactly n symbols from in[0..len) (table then bitstream); fails
 * cleanly on any inconsistency or truncation. */
int dcc_huff_decode(const uint8_t *in, size_t len, size_t n, uint32_t alphabet, uint32_t *sym, dcc_error *err);
/* Order-0 entropy of the stream in bits (n x H). */
double dcc_entropy_bits(const uint32_t *sym, size_t n, uint32_t alphabet);

/* ---- sparse layouts ---- */

/* A layer's weights as (value symbol) entries in column-major order of the
 * (rows, cols) matrix, with relative row indices.  A gap of more than
 * 2^index_bits - 1 skipped rows inserts a filler entry carrying value
 * symbol `filler`.  EIE: rows interleaved over `pes` PEs (row i to PE
 * i mod pes), each PE's sub-matrix (local row i / pes) in its own CSC;
 * entries and column counts are concatenated PE by PE. */
typedef struct dcc_sparse {
	int layout, index_bits, pes;
	size_t rows, cols;
	uint32_t filler;
	size_t nentries, nfillers, nreal;
	uint32_t *skip;  /* nentries: rows skipped before the entry */
	uint32_t *val;   /* nentries: value symbols */
	uint32_t *count; /* pes x cols: entries (fillers included) per column */
} dcc_sparse;

/* A run of gap zero rows before an entry, in relative indices of at most
 * maxskip: the fillers it takes first (each skipping maxskip rows and
 * holding the filler symbol; the filler stands for row maxskip of its run),
 * and in *skip what the entry itself skips. */
static inline uint32_t dcc_csc_split_gap(uint32_t gap, uint32_t maxskip, uint32_t *skip)
{
	uint32_t f = gap / (maxskip + 1);
	*skip = gap - f * (maxskip + 1);
	return f;
}

/* Builds the layout from present[rows*cols] (row-major; 1 = an entry) and
 * sym[rows*cols] (the value symbol of present positions). */
int dcc_sparse_build(dcc_sparse *s, int layout, int index_bits, int pes, size_t rows, size_t cols,
		     const uint8_t *present, const uint32_t *sym, uint32_t filler, dcc_error *err);
/* The inverse: present and sym (row-major) from the entries; fails on
 * entries that run past a column or counts that do not add up. */
int dcc_sparse_expand(const dcc_sparse *s, uint8_t *present, uint32_t *sym, dcc_error *err);
void dcc_sparse_free(dcc_sparse *s);
/* Compressed sparse banks (Cao et al., FPGA 2019) for a bank-balanced
 * layer: every row cut into banks of B consecutive weights (cols a multiple
 * of B), every bank holding the same k entries; stored row by row with the
 * banks interleaved (each bank's first entry, then each bank's second, ...),
 * skip[] holding the position inside the bank and val[] the value symbol.
 * s->pes holds B, s->index_bits ceil(log2 B); no counts, no fillers.  A
 * layer that is not bank-balanced is refused. */
int dcc_cbs_build(dcc_sparse *s, int bank, size_t rows, size_t cols, const uint8_t *present, const uint32_t *sym,
		  dcc_error *err);
int dcc_cbs_expand(const dcc_sparse *s, uint8_t *present, uint32_t *sym, dcc_error *err);

/* ---- the blob ---- */

typedef struct dcc_encode_opts {
	int layout;       /* DCC_LAYOUT_* */
	int index_bits_fc, index_bits_conv; /* CSC relative index widths (default 5, 8) */
	int pes;          /* EIE */
	int bank;         /* CBS: the bank size B of every layer (0: each layer's dcc_model_bank) */
	int entropy;      /* DCC_ENTROPY_* */
} dcc_encode_opts;

/* Per-stream accounting for the report. */
typedef struct dcc_stream_info {
	char what[16];    /* "index", "value", "count", "rest" */
	uint64_t symbols;
	uint32_t alphabet;
	int coding;       /* DCC_ENTROPY_* actually used */
	uint64_t raw_bits;    /* symbols x fixed width */
	uint64_t bytes;       /* stored payload (tables included) */
	uint64_t table_bytes;
	double entropy_bits;  /* order-0 bound */
} dcc_stream_info;

typedef struct dcc_layer_info {
	char name[DCC_MAX_NAME + 1];
	int layout, index_bits, pes, value_bits, shared;
	uint64_t rows, cols, weights, nonzero, fillers;
	dcc_stream_info st[3]; /* index, value, count */
	uint64_t bytes;        /* the whole layer record */
} dcc_layer_info;

typedef struct dcc_blob_info {
	size_t nlayers;
	dcc_layer_info *layer;
	uint64_t rest_bytes, rest_raw_bytes; /* the embedded container (graph, biases, codebooks) */
	uint64_t total_bytes;
	uint64_t dense_f32_bytes; /* every weight and bias as float32 */
} dcc_blob_info;

/* Builds the blob of m: shared and fixed-point weight layers encoded, every
 * other tensor and the metadata in the embedded container (formats/dcb.c
 * writes the bytes). */
int dcc_blob_build(const dcc_model *m, const dcc_encode_opts *o, dcc_blob *b, dcc_error *err);
/* The exact inverse, from a blob formats/dcb.c has read: the same tensors,
 * in the same order, and metadata.  The model is b->rest, completed (b no
 * longer holds it).  keep (may be NULL) gets each layer's stored streams,
 * decoded (b->nlayers entries; free each with dcc_sparse_free, then it). */
int dcc_blob_unpack(dcc_blob *b, dcc_model **out, dcc_sparse **keep, dcc_error *err);
/* The accounting of a blob (built and written, or read and unpacked); m (may
 * be NULL) gives the dense float32 size. */
int dcc_blob_info_make(const dcc_blob *b, const dcc_model *m, dcc_blob_info *info, dcc_error *err);
/* A layer's bytes at each stage: dense float32, pruned (float values and
 * indices), shared (codebook and relative indices), entropy-coded. */
void dcc_layer_stage_bytes(const dcc_layer_info *l, double v[4]);
void dcc_blob_info_free(dcc_blob_info *i);
/* The stored entries of a blob's CSC and EIE layers (sp from
 * dcc_blob_unpack's keep) as scipy-style arrays: NAME.indptr (i64),
 * NAME.indices (rows, i32) and NAME.data (value symbols, i32), fillers
 * dropped; EIE's per PE as NAME.peP.*; CBS layers left out. */
int dcc_sparse_csc_arrays(const dcc_blob_info *info, const dcc_sparse *sp, dcc_model **out, dcc_error *err);
/* Every weight and bias of m's state_dict as dense float32: its bytes, and
 * zstd -19's of them (0 when it fails). */
int dcc_dense_f32_size(const dcc_model *m, uint64_t *bytes, uint64_t *zstd_bytes, dcc_error *err);

#ifdef __cplusplus
}
#endif
#endif
