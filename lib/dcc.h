/* dcc.h: the public API of libdcc -- tensors, models, errors, and the
 * threads, random numbers, sorting: the vocabulary every room shares (lib/core).
 * The file formats' API is formats/dcc_formats.h.
 *
 * Conventions (the project's style guide): functions return 0 on success or a negative
 * DCC_E_* code; details go to a dcc_error the caller may print.  Free
 * functions accept NULL.  Counts are size_t.  Nothing here prints or exits. */
#ifndef DCC_H
#define DCC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DCC_VERSION_STRING "0.1.0"

/* ---- errors ---------------------------------------------------------- */

/* Codes are pinned: never renumber, only append. */
enum {
	DCC_OK = 0,
	DCC_E_NOMEM = -1,     /* allocation failed */
	DCC_E_IO = -2,        /* read/write/open failed (errno kept in msg) */
	DCC_E_FORMAT = -3,    /* the bytes are not what the format says */
	DCC_E_VERSION = -4,   /* a version this build does not read */
	DCC_E_TRUNCATED = -5, /* fewer bytes than a size field claims */
	DCC_E_CHECKSUM = -6,  /* a stored checksum does not match */
	DCC_E_RANGE = -7,     /* a count, size or shape out of range */
	DCC_E_UNSUPPORTED = -8, /* valid input that dcc cannot represent */
	DCC_E_NOTFOUND = -9,  /* a named tensor/key/layer does not exist */
	DCC_E_ARG = -10,      /* a caller's argument is invalid */
	DCC_E_SHAPE = -11,    /* tensors whose shapes do not fit together */
	DCC_E_EXISTS = -12,   /* refusing to overwrite */
};

#define DCC_ERR_MAX 512
typedef struct dcc_error {
	int code;
	char msg[DCC_ERR_MAX]; /* "tensor 'fc1.weight' truncated" */
} dcc_error;

const char *dcc_strerror(int code);
/* Records code and a printf-style message in err (which may be NULL);
 * returns code so callers can write `return dcc_fail(err, ...)`. */
int dcc_fail(dcc_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- dtypes ---------------------------------------------------------- */

/* Numbers are the on-disk codes of formats/dct.md: pinned. */
typedef enum dcc_dtype {
	DCC_F32 = 0,
	DCC_F64 = 1,
	DCC_I8 = 2,
	DCC_I16 = 3,
	DCC_I32 = 4,
	DCC_I64 = 5,
	DCC_U8 = 6,
	DCC_U16 = 7,
	DCC_U32 = 8,
	DCC_U64 = 9,
	DCC_BOOL = 10,   /* one byte, 0 or 1 */
	DCC_Q8 = 11,     /* fixed point: int8 x 2^-fl */
	DCC_Q16 = 12,    /* fixed point: int16 x 2^-fl */
	DCC_Q32 = 13,    /* fixed point: int32 x 2^-fl */
	DCC_PACKED = 14, /* unsigned integers of `bits` (1..16) bits, LSB first */
	DCC_MASK = 15,   /* one bit per element, LSB first; 1 = kept */
	DCC_F16 = 16,    /* IEEE 754 binary16: data sets' storage (read as float) */
	DCC_DTYPE_COUNT
} dcc_dtype;

const char *dcc_dtype_name(int dtype);   /* "f32", ... or NULL */
int dcc_dtype_from_name(const char *s);  /* code or -1 */
/* Bits per element: 32 for f32, `bits` for packed, 1 for mask. */
int dcc_dtype_bits(int dtype, int packed_bits);
int dcc_dtype_is_float(int dtype); /* f32 or f64: what the stages compute on */
/* IEEE 754 binary16 to its exact value. */
float dcc_f16_to_f32(uint16_t h);

/* ---- tensors --------------------------------------------------------- */

#define DCC_MAX_DIMS 8
#define DCC_MAX_NAME 1024

typedef struct dcc_tensor {
	char *name;
	int dtype;
	int ndim;
	uint64_t shape[DCC_MAX_DIMS];
	int bits;    /* element bits: meaningful for DCC_PACKED (1..16) */
	int fl;      /* fraction length for DCC_Q* (-128..127) */
	void *data;  /* nbytes bytes, or NULL when only the table was read */
	size_t nbytes;
	uint64_t nnz;       /* nonzero elements (as stored in the table) */
	uint32_t crc;       /* CRC32C of the data as stored */
	uint64_t file_off;  /* absolute offset in the file it was read from */
} dcc_tensor;

/* Element count; 1 for a 0-d tensor. Returns -1 (as uint64) never: shapes
 * are validated before a tensor exists. */
uint64_t dcc_tensor_numel(const dcc_tensor *t);
/* Bytes the data of (dtype, bits, shape) occupies; 0 with DCC_E_RANGE on overflow. */
int dcc_tensor_size(int dtype, int bits, int ndim, const uint64_t *shape,
		    size_t *out, dcc_error *err);
uint64_t dcc_tensor_count_nonzero(const dcc_tensor *t);
/* Read element i of any dtype as double (Q* dequantized, packed/mask raw). */
double dcc_tensor_get(const dcc_tensor *t, uint64_t i);
/* A float32 copy of t's values, malloc'd (one float at least); NULL when
 * out of memory. */
float *dcc_tensor_to_f32(const dcc_tensor *t);
/* Packed unsigned fields, LSB first. */
uint32_t dcc_packed_get(const uint8_t *p, int bits, uint64_t i);
void dcc_packed_set(uint8_t *p, int bits, uint64_t i, uint32_t v);

/* ---- metadata -------------------------------------------------------- */

typedef enum dcc_kv_type {
	DCC_KV_I64 = 1,
	DCC_KV_F64 = 2,
	DCC_KV_STR = 3,
	DCC_KV_ARR = 4,
} dcc_kv_type;

typedef struct dcc_kv {
	char *key;     /* dotted lower_snake_case: "dcc.graph" */
	int type;      /* dcc_kv_type */
	int elem_type; /* for arrays: DCC_KV_I64, DCC_KV_F64 or DCC_KV_STR */
	size_t count;  /* 1 for scalars, elements for arrays */
	int64_t *i;    /* count values when (elem_)type is I64 */
	double *f;     /* count values when (elem_)type is F64 */
	char **s;      /* count NUL-terminated strings when STR */
} dcc_kv;

/* ---- the model: tensors + metadata ----------------------------------- */

/* A name index: open addressing over positions + 1 (0 = empty), rebuilt
 * when the list is reordered, so look-ups and adds are O(1) expected. */
typedef struct dcc_name_index {
	uint32_t *slot;
	size_t cap;    /* a power of two, at least twice the names indexed */
	size_t count;  /* names indexed: equal to the list's length when valid */
} dcc_name_index;

typedef struct dcc_model {
	dcc_tensor *tensors;
	size_t ntensors, cap_tensors;
	dcc_kv *kv;
	size_t nkv, cap_kv;
	int has_data; /* 0 when loaded with DCC_LOAD_TABLE_ONLY */
	/* the lists' name indexes: change tensors[] and kv[] only through the
	 * functions below, or call dcc_model_reindex after */
	dcc_name_index tix, kix;
} dcc_model;

dcc_model *dcc_model_new(void);
void dcc_model_free(dcc_model *m);
dcc_tensor *dcc_model_find(const dcc_model *m, const char *name);
/* Adds a tensor taking ownership of data (which must hold the exact size);
 * replaces a tensor of the same name.  On failure data is freed. */
int dcc_model_add(dcc_model *m, const char *name, int dtype, int bits, int fl,
		  int ndim, const uint64_t *shape, void *data, dcc_error *err);
/* Allocates a zeroed tensor and returns it through *out. */
int dcc_model_add_zeros(dcc_model *m, const char *name, int dtype, int bits,
			int fl, int ndim, const uint64_t *shape,
			dcc_tensor **out, dcc_error *err);
int dcc_model_remove(dcc_model *m, const char *name);
/* Puts the tensors in the order of names[0..n) (each exactly once). */
int dcc_model_reorder(dcc_model *m, const char *const *names, size_t n, dcc_error *err);
/* Appends a metadata pair, taking ownership of what kv holds (readers). */
int dcc_model_take_kv(dcc_model *m, dcc_kv *kv);
/* After tensors[] or kv[] were changed directly: rebuilds the indexes. */
void dcc_model_reindex(dcc_model *m);
/* Deep copy of a model. */
int dcc_model_clone(const dcc_model *m, dcc_model **out, dcc_error *err);

const dcc_kv *dcc_model_get_kv(const dcc_model *m, const char *key);
const char *dcc_model_get_str(const dcc_model *m, const char *key);
int dcc_model_get_i64(const dcc_model *m, const char *key, int64_t *out);
/* Set (or replace) a metadata pair.  Keys are 1 to DCC_MAX_NAME bytes
 * (DCC_E_RANGE otherwise); DCC_E_NOMEM when memory runs out. */
int dcc_model_set_i64(dcc_model *m, const char *key, int64_t v, dcc_error *err);
int dcc_model_set_f64(dcc_model *m, const char *key, double v, dcc_error *err);
int dcc_model_set_str(dcc_model *m, const char *key, const char *v, dcc_error *err);
int dcc_model_set_arr_i64(dcc_model *m, const char *key, const int64_t *v, size_t n, dcc_error *err);
int dcc_model_set_arr_f64(dcc_model *m, const char *key, const double *v, size_t n, dcc_error *err);
int dcc_model_set_arr_str(dcc_model *m, const char *key, const char *const *v, size_t n, dcc_error *err);
/* Appends one string to an array-of-strings key (creating it). */
int dcc_model_append_str(dcc_model *m, const char *key, const char *v, dcc_error *err);
int dcc_model_del_kv(dcc_model *m, const char *key);

/* The plain float view a PyTorch user loads: shared weights dequantized
 * (codebook[index], zero where masked), fixed-point tensors as f32, companion
 * tensors (.mask, .codebook, .index) left out. */
int dcc_model_state_dict(const dcc_model *m, dcc_model **out, dcc_error *err);
/* The layouts of the network the model was imported from, in a state_dict
 * view sd of m: each weight of dcc.linear (a Linear run per position as a
 * conv2d) back to (out, in); each of dcc.flatten_hwc ("NAME C H W": a
 * Linear after a channels-last flatten, its columns moved to dcc's (C, H,
 * W) on import) back to (H, W, C) order. */
void dcc_model_import_layout(dcc_model *sd, const dcc_model *m);
/* Dequantizes the shared weight BASE (BASE.codebook, BASE.index, BASE.mask)
 * into a new float array of the index's element count. */
int dcc_shared_dequantize(const dcc_model *m, const char *base, float **out, dcc_error *err);

/* ---- checksums ------------------------------------------------------- */

uint32_t dcc_crc32c(uint32_t crc, const void *buf, size_t n);
uint32_t dcc_crc32c_ref(uint32_t crc, const void *buf, size_t n);
/* The CRC of A followed by B from crc(A), crc(B) and B's length. */
uint32_t dcc_crc32c_combine(uint32_t crc1, uint32_t crc2, size_t len2);

/* ---- output files: temp file in the destination dir, then rename ------ */

typedef struct dcc_outfile {
	FILE *fp;
	char *path;    /* final path (a link's target) */
	char *tmppath; /* path of the temporary file; NULL when in place */
	int in_place;  /* a character device or FIFO, written as it is */
} dcc_outfile;

/* Refuses (DCC_E_EXISTS) when path names the same file as any of the
 * NULL-terminated inputs, unless force; a directory, a missing or
 * read-only directory, and a target neither a file, a character device
 * nor a FIFO are refused too.  A device or FIFO is written in place. */
int dcc_out_open(dcc_outfile *o, const char *path, const char *const *inputs,
		 int force, dcc_error *err);
int dcc_out_commit(dcc_outfile *o, dcc_error *err); /* flush, fsync, rename */
void dcc_out_abort(dcc_outfile *o);                 /* unlink temp; NULL ok */
/* Commits when rc is 0, else aborts and names the file in err's message;
 * returns rc or the commit's error:
 *   if (dcc_out_open(&o, ...) || dcc_out_finish(&o, write(o.fp, ...), err)) */
int dcc_out_finish(dcc_outfile *o, int rc, dcc_error *err);
/* n bytes onto fp (DCC_E_IO when they do not all go). */
int dcc_out_bytes(FILE *fp, const void *b, size_t n, dcc_error *err);
/* Every one of n outputs (NULL entries skipped) checked before any is
 * written: each creatable as dcc_out_open would, none an input unless
 * force, and no two the same file. */
int dcc_out_check(const char *const *outs, size_t n, const char *const *inputs, int force, dcc_error *err);
/* Unlinks every temporary file now open: async-signal-safe, for a
 * handler of SIGINT/SIGTERM that then dies of the signal. */
void dcc_out_cleanup(void);

/* ---- text built in memory ------------------------------------------- */

/* A growing string ({0} is empty); oom set, and later appends dropped,
 * when memory runs out. */
typedef struct dcc_sbuf {
	char *p;
	size_t n, cap;
	int oom;
} dcc_sbuf;
void dcc_sbuf_printf(dcc_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *dcc_sbuf_str(const dcc_sbuf *b); /* "" when empty */
void dcc_sbuf_free(dcc_sbuf *b);
/* s with control characters and bytes that are not UTF-8 as \xNN, into
 * buf (truncated to cap); returns buf.  For names read from files. */
const char *dcc_escape(const char *s, char *buf, size_t cap);
/* Whether s is valid UTF-8 (no overlong forms, no surrogates). */
int dcc_utf8_valid(const char *s);

/* ---- random numbers (deterministic for a seed) --------------------------- */

/* xoshiro256** seeded by splitmix64: the same stream on every machine. */
typedef struct dcc_rng {
	uint64_t s[4];
} dcc_rng;
void dcc_rng_seed(dcc_rng *r, uint64_t seed);
uint64_t dcc_rng_next(dcc_rng *r);
double dcc_rng_uniform(dcc_rng *r); /* [0, 1) */
double dcc_rng_normal(dcc_rng *r);

/* ---- threads ------------------------------------------------------------- */

/* Runs fn(ctx, t) for t in [0, nthreads) on that many threads (t = 0 on the
 * caller's); returns when all end. */
int dcc_parallel(int nthreads, void (*fn)(void *ctx, int t), void *ctx);
/* As dcc_parallel, but all nthreads at once or none (-1: a thread could
 * not start and fn ran nowhere): for workers that wait for each other. */
int dcc_parallel_gang(int nthreads, void (*fn)(void *ctx, int t), void *ctx);
/* The online cores, 1 to 64. */
int dcc_default_threads(void);

/* ---- sorting and selection ------------------------------------------------ */

/* Sorts n floats ascending (radix on order-preserving keys: -0 before +0).
 * With tmp (room for n floats) an LSD sort through it, several times
 * faster; without, an in-place MSD sort that needs no second copy. */
void dcc_sort_f32(float *x, size_t n, float *tmp);
/* The k-th smallest |x| (0-based) of n floats by radix selection on the
 * magnitude's bits: three passes, no copy, no sort.  n > 0, k < n. */
float dcc_select_abs(const float *x, size_t n, size_t k);

/* ---- a weight's parts ------------------------------------------------------ */

/* A layer's weight W is stored as W itself (f32 or fixed point), or shared
 * as W.codebook + W.index; either may have W.mask (1 = kept).  The one
 * place that spells those names. */
enum { DCC_PART_WEIGHT = 0, DCC_PART_CODEBOOK, DCC_PART_INDEX, DCC_PART_MASK, DCC_PART_COUNT };
typedef struct dcc_parts {
	dcc_tensor *weight, *codebook, *index, *mask; /* NULL where absent */
} dcc_parts;
/* "BASE" + the part's suffix into buf (cap >= strlen(base) + 10). */
const char *dcc_part_name(char *buf, size_t cap, const char *base, int part);
void dcc_parts_find(const dcc_model *m, const char *base, dcc_parts *p);
/* A bank-balanced layer's bank size, recorded by dcc prune --bank under
 * "dcc.bank.TENSOR": 0 when the layer has none (or the record is bad). */
int dcc_model_bank(const dcc_model *m, const char *tensor);
/* Records (bank > 0) or removes (bank 0) it. */
int dcc_model_set_bank(dcc_model *m, const char *tensor, int bank, dcc_error *err);
/* Shared: a codebook and an index are both present. */
static inline int dcc_parts_shared(const dcc_parts *p) { return p->codebook && p->index; }

/* ---- data sets -------------------------------------------------------------- */

/* Input normalisation, part of a model (dcc.input_mean, dcc.input_std):
 * x' = (x - mean[k]) / std[k], k the value's channel (per channel of a
 * C x H x W input, else per feature: the last axis), n = 1 for all alike;
 * n = 0: none.  Applied by training, evaluation, dcc run, the integer
 * reference and the emulator's input quantisation alike. */
#define DCC_NORM_MAX 1024
/* The largest activation (and data set sample), in elements per sample. */
#define DCC_MAX_ACT ((int64_t)1 << 28)
typedef struct dcc_norm {
	size_t n;
	double mean[DCC_NORM_MAX], std[DCC_NORM_MAX];
} dcc_norm;
/* The model's (none when it has no dcc.input_mean); refused when the
 * values are not finite, a std is not positive, or n fits neither 1, the
 * channels nor the features of a (c, h, w) input. */
int dcc_norm_of(const dcc_model *m, int c, int h, int w, dcc_norm *nm, dcc_error *err);
int dcc_norm_set(dcc_model *m, const dcc_norm *nm, dcc_error *err); /* n = 0 removes it */
/* The mean and (population) std of split s, per channel of a C x H x W
 * input with C > 1, per feature of a sequence or vector, else one for all. */
struct dcc_dataset;
struct dcc_split;
int dcc_norm_fit(const struct dcc_dataset *d, const struct dcc_split *s, dcc_norm *nm, dcc_error *err);
/* Records in m the normalisation asked for: fit (the training split's),
 * the lists mean and std, or (use_file) the data file's own; and checks it
 * fits d's samples.  Nothing asked: m is left as it is. */
int dcc_norm_record(dcc_model *m, const struct dcc_dataset *d, int fit, const char *mean, const char *std,
		    int use_file, dcc_error *err);
/* "0.5,0.4" and "0.2,0.3": means and stds, one per channel. */
int dcc_norm_parse(const char *mean, const char *std, dcc_norm *nm, dcc_error *err);
/* Element e's channel in a (c, h, w) input under nm. */
static inline size_t dcc_norm_channel(const dcc_norm *nm, size_t e, int c, int h, int w)
{
	return nm->n <= 1 ? 0 : c > 1 && nm->n == (size_t)c ? e / ((size_t)h * (size_t)w) % (size_t)c : e % (size_t)w;
}

/* One split of a data set: n samples of x from sample `first` (a view may
 * start anywhere) and their labels. */
typedef struct dcc_split {
	const dcc_tensor *x; /* (N, sample...): u8 (read as p / 255), f16, f32, f64, i8, i16 */
	const dcc_tensor *y; /* (N) class indices (integers), or (N) / (N, K) float targets; NULL: none */
	size_t first, n;
} dcc_split;
enum { DCC_LABELS_NONE = 0, DCC_LABELS_CLASS, DCC_LABELS_TARGET };

typedef struct dcc_dataset {
	dcc_split train, val, test; /* an empty split has n = 0 */
	int ndim;                   /* one sample's rank: 1 (F), 2 (T x F) or 3 (C x H x W) */
	uint64_t shape[3];
	int c, h, w;                /* as a network reads it: (C, H, W), (1, T, F), (1, 1, F) */
	size_t sample;              /* elements per sample */
	int labels;                 /* DCC_LABELS_* */
	int classes;                /* class labels: 1 + the largest; targets: K */
	dcc_norm norm;              /* what the file states (mean, std members), n = 0 if nothing */
	char *source;               /* the path(s) read */
	uint64_t bytes;             /* their size */
	uint32_t crc;               /* crc32c of their bytes, in order */
	dcc_model *store;           /* owns the tensors; NULL in a view */
} dcc_dataset;
#define DCC_DEFAULT_DATA "/usr/share/datasets/fashion-mnist"

void dcc_dataset_free(dcc_dataset *d);
/* A data set of one split (test, and train alike) over a tensor of
 * samples x (and labels y, may be NULL), which it does not own.  For
 * dcc run --input: x of one sample (the model's input shape) or a batch. */
int dcc_dataset_wrap(const dcc_tensor *x, const dcc_tensor *y, const int *shape3, dcc_dataset **out,
		     dcc_error *err);
/* Samples [i, i + n) of a split as floats, normalised by nm (may be NULL):
 * u8 as p / 255.  out holds n x d->sample. */
void dcc_data_x(const dcc_dataset *d, const dcc_split *s, size_t i, size_t n, const dcc_norm *nm, float *out);
/* One sample's elements as exact doubles (u8 as p / 255), before normalisation. */
void dcc_data_x_exact(const dcc_dataset *d, const dcc_split *s, size_t i, double *out);
/* Sample i's class label (DCC_LABELS_CLASS). */
int dcc_data_class(const dcc_split *s, size_t i);
/* Sample i's targets (DCC_LABELS_TARGET): classes floats. */
void dcc_data_targets(const dcc_dataset *d, const dcc_split *s, size_t i, float *out);
/* The split a name gives: train, val or test (NULL if none). */
const dcc_split *dcc_data_split(const dcc_dataset *d, const char *name);
/* A line for provenance: "data=PATH bytes=N crc32c=0x... samples=N". */
void dcc_data_describe(const dcc_dataset *d, size_t samples, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
