/* common.h: what every subcommand shares: error and usage printing in one
 * voice, loading and saving containers, exit-status conventions. */
#ifndef DCC_CMD_COMMON_H
#define DCC_CMD_COMMON_H

#include <getopt.h>
#include <stdio.h>

#include "../formats/dcc_formats.h"
#include "../lib/dcc.h"

/* Exit statuses: 0 ok, 1 failure, 2 usage error. */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* "dcc info": set by the dispatcher before a command runs. */
extern const char *cmd_name;

/* Prints "dcc NAME: message" on stderr. */
void cmd_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "dcc NAME: PATH: msg" for a library error; returns EXIT_FAIL. */
int cmd_fail(const char *path, const dcc_error *e);
/* A library's progress or log line on stderr (a log callback's ctx unused). */
void cmd_log_line(void *ctx, const char *line);
/* A usage error: one line, the message (else getopt's complaint) and a
 * pointer to --help, on stderr; returns 2. */
extern char **cmd_argv; /* the command's argv, for getopt's complaints */
int cmd_usage_error(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* --help: usage on stdout; returns 0 (or 1 when stdout fails). */
int cmd_help(const char *usage);
/* What an option parser returns once it has printed --help: its command
 * stops there with status 0 (cmd_parsed). */
#define CMD_HELP_SHOWN (-1000)
/* A parser's result as the command's: 0 go on, else the status to return
 * (CMD_HELP_SHOWN: EXIT_OK). */
static inline int cmd_parsed(int rc) { return rc == CMD_HELP_SHOWN ? EXIT_OK : rc; }
/* Flushes stdout and reports a write error (full disk, closed pipe). */
int cmd_finish(int status);

/* Loads a .dct (data and checksums verified). Prints errors. */
int cmd_load(const char *path, dcc_model **m);
/* Writes m as .dct to path atomically, stamping dcc.version; refuses to
 * overwrite any of inputs unless force. Prints errors. */
int cmd_save(const char *path, dcc_model *m, const char *const *inputs, int force);
/* dcc sensitivity --json's levels and layers (with "suggested" when sugg). */
struct json_t;
struct dcc_sensitivity_result;
/* A head's figures into a JSON object (head, accuracy, top5, ...), and
 * the words for them (", accuracy 89.39%, top-5 ...") from such an object. */
struct dcc_eval_result;
void cmd_figures_json(struct json_t *o, const struct dcc_eval_result *r);
const char *cmd_figures_text(struct json_t *o, char *buf, size_t cap);
struct json_t *cmd_sensitivity_json(const struct dcc_sensitivity_result *r, const double *lv, int nlv, const double *sugg);
/* Every output of a run checked before any work (dcc_out_check): n paths,
 * NULL ones skipped, against the NULL-terminated inputs. */
int cmd_check_outputs(const char *const *outs, size_t n, const char *const *inputs, int force);
/* A float32 (rows, cols) array to an .npy at path (--logits). */
int cmd_save_npy(const char *path, const char *const *inputs, const float *z, size_t rows, size_t cols);
/* Any tensor to an .npy at path, atomically (force: even over an input). */
int cmd_save_tensor(const char *path, const char *const *inputs, int force, const dcc_tensor *t);
/* Reads, checks and decodes a .dcb blob; info, keep (the stored streams) and
 * crc (of the file's bytes) may be NULL.  Prints errors. */
struct dcc_blob_info;
struct dcc_sparse;
int cmd_load_blob(const char *path, dcc_model **m, struct dcc_blob_info *info, struct dcc_sparse **keep,
		  uint32_t *crc);
/* The file's bytes, if it is a blob (the caller frees them). Prints errors. */
int cmd_read_blob(const char *path, uint8_t **bytes, size_t *len);
/* Reads and checks a .dci program. Prints errors. */
struct dcc_program;
int cmd_load_program(const char *path, struct dcc_program *p);
/* Is the file's content of this dcc_filekind? */
int cmd_file_is(const char *path, int kind);
/* Appends "STAGE k=v ..." to dcc.provenance and records the test accuracy
 * acc in dcc.accuracy (NAN: removes it, the figure no longer holds).
 * Prints errors. */
int cmd_provenance(dcc_model *m, const char *line, double acc);

/* Parses a double/integer option argument strictly; prints a usage error. */
int cmd_parse_double(const char *usage, const char *opt, const char *s, double *out);
int cmd_parse_long(const char *usage, const char *opt, const char *s, long lo, long hi, long *out);

/* Loads the data set directory (default DCC_DEFAULT_DATA). Prints errors. */
struct dcc_dataset;
int cmd_load_data(const char *dir, struct dcc_dataset **d);
/* --split NAME: train, val or test (NULL: not given); else a usage error. */
int cmd_check_split(const char *usage, const char *split);
/* Does the data fit the net (and, labels, its head)?  The error names the
 * model (may be NULL) and the data's file.  Prints errors. */
struct dcc_net;
int cmd_data_fits(const char *model, const struct dcc_net *n, const struct dcc_dataset *d, int labels);
/* --threads: OpenBLAS threads (0 = leave OpenBLAS's default). */
void cmd_set_threads(int n);
/* Training progress on stderr: a live bar on a terminal, a line per epoch
 * otherwise; ctx is the label ("train", "retrain"). */
struct dcc_train_status;
void cmd_progress(void *ctx, const struct dcc_train_status *s);
/* Parses a schedule: const | cosine | step[:EVERY[:GAMMA]]. */
struct dcc_train_opts;
int cmd_parse_schedule(const char *usage, const char *s, struct dcc_train_opts *o);

/* Per-layer integer options: "B" for every layer or KEY=B,... where KEY is
 * a layer, a tensor, a kind (fc, conv, lstm) or default; out[i] = 0 where
 * nothing applies.  layer/tensor/op give each layer's names and kind. */
int cmd_parse_layer_ints(const char *usage, const char *opt, const char *spec, size_t n,
			 const char *const *layer, const char *const *tensor, const int *op, long lo, long hi,
			 int *out);

/* --sparsity SPEC: F, or LAYER=F,...[,default=F], F in [0, 1), into
 * out[i] per prunable layer (NAN: not pruned; the default skips a CNN's
 * first layer unless first_ok).  With bank set, the values are bank sizes
 * (--bank SPEC), whole numbers in 1..65536.  opt names the option in errors. */
struct dcc_prunable;
int cmd_parse_layer_spec(const char *usage, const char *opt, const char *spec, const struct dcc_prunable *p,
			 size_t n, int first_ok, int bank, double *out);

/* --bank SPEC into bk[i]: every layer with a target in tg must get a size. */
int cmd_parse_banks(const char *usage, const char *spec, const struct dcc_prunable *p, size_t n, const double *tg,
		    double *bk);

/* A model to run (dcc run, dcc compare): a .dct or a .dcb blob, its net
 * and, when asked for (fixed), its integer reference: the model must then
 * have fixed-point formats.
 * Prints errors. */
struct dcc_net;
struct dcc_qnet;
typedef struct cmd_runnable {
	const char *path;
	dcc_model *m;
	struct dcc_net *n;
	struct dcc_qnet *q; /* NULL: float */
} cmd_runnable;
int cmd_runnable_open(const char *path, int fixed, cmd_runnable *r);
void cmd_runnable_free(cmd_runnable *r);

/* An emulator run's energy figures: JSON (area: with the
 * areas by module) and its text. */
struct dcc_energy_table;
struct dcc_energy;
struct dcc_accel_cfg;
struct json_t *cmd_energy_json(const struct dcc_energy_table *t, const struct dcc_energy *e, double runs,
			       const struct dcc_accel_cfg *c, int area);
void cmd_energy_print(struct json_t *o);

/* Human-readable byte counts: "1.07 MB". */
const char *cmd_bytes(double n, char *buf, size_t cap);

#endif
