/* dcc_formats.h: the whole API of formats/ -- bytes to plain structures
 * (models, tensors, data sets) and back: the .dct container, NumPy's .npy
 * and .npz, safetensors, IDX, ONNX, the data set directory.  Each reader
 * bounds every size by the bytes present before it allocates.  formats/
 * knows no algorithm and calls no stage. */
#ifndef DCC_FORMATS_H_PUBLIC
#define DCC_FORMATS_H_PUBLIC

#include "../lib/dcc.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { DCC_LOAD_TABLE_ONLY = 1, DCC_LOAD_NO_VERIFY = 2 };

/* .dct container (formats/dct.md). */
int dcc_dct_read(const char *path, int flags, dcc_model **out, dcc_error *err);
int dcc_dct_read_mem(const void *buf, size_t n, int flags, dcc_model **out,
		     dcc_error *err);
int dcc_dct_write(FILE *fp, const dcc_model *m, dcc_error *err);
/* Reads and verifies one tensor's data after a DCC_LOAD_TABLE_ONLY load. */
int dcc_dct_load_tensor(const char *path, dcc_tensor *t, dcc_error *err);
/* Reads n bytes of t's data from byte off, again, from the open .dct it
 * was loaded from (unverified: the caller checks them against t->crc). */
int dcc_dct_read_range(int fd, const dcc_tensor *t, uint64_t off, void *dst, size_t n, dcc_error *err);
/* Checks a file's magic: 1 if it is a .dct, 0 otherwise. */
int dcc_dct_sniff(const void *buf, size_t n);

/* Interchange (formats/npy.md, npz.md, safetensors.md, idx.md). */
typedef enum dcc_filekind {
	DCC_FILE_UNKNOWN = 0,
	DCC_FILE_DCT,
	DCC_FILE_NPY,
	DCC_FILE_NPZ,
	DCC_FILE_SAFETENSORS,
	DCC_FILE_IDX,
	DCC_FILE_GZIP,
	DCC_FILE_DCB,
	DCC_FILE_DCI,
	DCC_FILE_ONNX,
} dcc_filekind;

/* One row of the formats' table (formats/io.c): a new format is one file
 * and one row.  read adds the file's tensors to m (a one-tensor format
 * names it `name`); write writes m (the state_dict view, or with
 * DCC_FORMAT_GRAPH the whole network); either may be NULL. */
enum { DCC_FORMAT_COMPRESS = 1, DCC_FORMAT_GRAPH = 2 };
typedef struct dcc_format {
	int kind;          /* dcc_filekind */
	const char *name;  /* "npz" */
	const char *ext;   /* ".npz" (NULL: none) */
	int (*sniff)(const uint8_t *buf, size_t n);
	int (*read)(const uint8_t *buf, size_t n, const char *name, dcc_model *m, dcc_error *err);
	int (*write)(FILE *fp, const dcc_model *m, int compress, dcc_error *err);
	int flags;         /* DCC_FORMAT_* */
} dcc_format;
const dcc_format *dcc_format_of(int kind);
const char *dcc_filekind_name(int kind);
int dcc_sniff(const void *buf, size_t n); /* dcc_filekind from content */
int dcc_filekind_from_ext(const char *path);

/* Whole-file read, bounded by max bytes. */
int dcc_read_file(const char *path, size_t max, uint8_t **buf, size_t *n,
		  dcc_error *err);
/* gunzip a buffer, refusing output beyond max bytes. */
int dcc_gunzip(const uint8_t *in, size_t n, size_t max, uint8_t **out,
	       size_t *outn, dcc_error *err);

/* Each reader adds tensors to m (name = the tensor's name; for .npy and
 * IDX, the name given). */
int dcc_npy_read_mem(const uint8_t *buf, size_t n, const char *name,
		     dcc_model *m, dcc_error *err);
int dcc_npy_write(FILE *fp, const dcc_tensor *t, dcc_error *err);
int dcc_npy_write_mem(const dcc_tensor *t, uint8_t **buf, size_t *n, dcc_error *err);
int dcc_npz_read_mem(const uint8_t *buf, size_t n, dcc_model *m, dcc_error *err);
/* Writes the model's tensors as an npz; compress = deflate members. */
int dcc_npz_write(FILE *fp, const dcc_model *m, int compress, dcc_error *err);
int dcc_safetensors_read_mem(const uint8_t *buf, size_t n, dcc_model *m,
			     dcc_error *err);
int dcc_safetensors_write(FILE *fp, const dcc_model *m, dcc_error *err);
int dcc_idx_read_mem(const uint8_t *buf, size_t n, const char *name,
		     dcc_model *m, dcc_error *err);

/* Reads any supported file (by content) into a model. */
int dcc_import_file(const char *path, dcc_model **out, dcc_error *err);
/* The same, with the file's size and crc32c (for provenance). */
int dcc_import_file_sum(const char *path, dcc_model **out, uint64_t *bytes, uint32_t *crc, dcc_error *err);
/* ONNX (formats/onnx.md): a sequential graph of supported operators in, a
 * dcc network out (graph, tensors with PyTorch-style names); and back. */
int dcc_onnx_read_mem(const uint8_t *buf, size_t n, dcc_model **out, dcc_error *err);
int dcc_onnx_write(FILE *fp, const dcc_model *m, dcc_error *err);

/* The .dcb blob (formats/dcb.md): the framing, the embedded container and
 * each layer's record and stream headers.  The reader checks every size,
 * checksum and reserved field, and that each stream holds the symbols its
 * layer needs; the streams' payloads point into buf (keep it alive).  The
 * writer sets the blob's and each record's sizes. */
struct dcc_blob;
int dcc_dcb_read_mem(const uint8_t *buf, size_t n, struct dcc_blob *b, dcc_error *err);
int dcc_dcb_write_mem(struct dcc_blob *b, uint8_t **out, size_t *n, dcc_error *err);
int dcc_dcb_sniff(const void *buf, size_t n);

/* The accelerator's program (formats/isa.md): version 2 files hold the
 * DRAM image too (version 1 is read, and written for a program without
 * one).  The text form: dcc disasm's, read back by dcc asm into the same
 * program.  Both refuse what dcc_program_check refuses. */
struct dcc_program;
int dcc_dci_read_mem(const uint8_t *buf, size_t n, struct dcc_program *p, dcc_error *err);
int dcc_dci_write_mem(const struct dcc_program *p, uint8_t **out, size_t *n, dcc_error *err);
int dcc_dci_sniff(const void *buf, size_t n);
int dcc_program_disasm(const struct dcc_program *p, char **text, dcc_error *err);
int dcc_program_asm(const char *text, struct dcc_program *p, dcc_error *err);

/* A data set (formats/data.md), recognised by content: a directory in the
 * MNIST layout (four IDX files, gzipped or not) or of .npy files named as
 * below; an .npz, .dct or safetensors file holding x_train, y_train,
 * x_test, y_test (x_val, y_val; or train_x..., or images and labels for
 * one split); one .npy of inputs, or "X.npy,Y.npy" inputs and labels (one
 * split, serving every role).  Every count, shape, label and value is
 * checked; errors name the file. */
int dcc_dataset_load(const char *path, dcc_dataset **out, dcc_error *err);
/* The inputs of a run (dcc run --input, dcc emu --input): an array file
 * (FILE:MEMBER names one of several) of one sample of shape3 or (N, ...)
 * samples, or a data set (as dcc_dataset_load reads) whose split (NULL:
 * test) becomes the test and train splits.  Values checked finite. */
int dcc_inputs_load(const char *path, const int *shape3, const char *split, dcc_dataset **out, dcc_error *err);
/* One array of a model's outputs, (N, K) or (N), any numeric dtype, as
 * doubles (*z, the caller's); refused unless finite. */
int dcc_outputs_load(const char *path, double **z, size_t *n, size_t *K, dcc_error *err);

/* An energy and area table (formats/energy.md) from text (src names it in
 * errors), or by name: a built-in table (45nm, eie-pe) or a file. */
struct dcc_energy_table;
int dcc_energy_parse(const char *text, size_t len, const char *src, struct dcc_energy_table *t, dcc_error *err);
int dcc_energy_load(const char *what, struct dcc_energy_table *t, dcc_error *err);

#ifdef __cplusplus
}
#endif
#endif
