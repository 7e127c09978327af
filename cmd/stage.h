/* stage.h: what the commands of the compression stages (prune, share, svd,
 * dsd, fixed, train) share: one option tail parsed in one place, with one
 * name and meaning each (--data, --limit, --threads; --lr, --batch, --seed;
 * --json, -o, --force, --help), the one-input-model checks, and the
 * retraining they run through lib/nn.  Defined in cmd/common.c. */
#ifndef DCC_CMD_STAGE_H
#define DCC_CMD_STAGE_H

#include "common.h"

struct dcc_net;
struct dcc_dataset;

typedef struct cmd_stage {
	const char *usage;
	const char *data, *in, *out;
	long batch, seed, limit, threads;
	double lr, lr_scale;   /* lr: absolute (NAN = the net's default x lr_scale) */
	double weight_decay;   /* NAN: the net's default */
	int aug_flip, aug_crop; /* --augment, as dcc_train_opts has it */
	int augmented;          /* a run trained on moved images */
	int json, force;
	struct dcc_dataset *d; /* loaded on first use */
	const char *ctx;       /* progress label */
	void (*after_step)(void *step_ctx, struct dcc_net *n);
	void *step_ctx;
	int head;              /* the model's head, known after the first run */
} cmd_stage;

enum { CMD_O_DATA = 1001, CMD_O_LR, CMD_O_BATCH, CMD_O_SEED, CMD_O_LIMIT, CMD_O_THREADS, CMD_O_JSON, CMD_O_FORCE,
       CMD_O_AUGMENT };
#define CMD_DATA_OPTIONS                                                                                  \
	{"data", required_argument, NULL, CMD_O_DATA}, {"limit", required_argument, NULL, CMD_O_LIMIT},      \
	{"threads", required_argument, NULL, CMD_O_THREADS}
#define CMD_TRAIN_OPTIONS                                                                                 \
	{"lr", required_argument, NULL, CMD_O_LR}, {"batch", required_argument, NULL, CMD_O_BATCH},          \
	{"seed", required_argument, NULL, CMD_O_SEED}, {"augment", required_argument, NULL, CMD_O_AUGMENT}
#define CMD_OUT_OPTIONS                                                                                   \
	{"json", no_argument, NULL, CMD_O_JSON}, {"output", required_argument, NULL, 'o'},                   \
	{"force", no_argument, NULL, CMD_O_FORCE}, {"help", no_argument, NULL, 'h'}
#define CMD_TUNE_HELP                                                                              \
	"  --data DIR            IDX data set (default " DCC_DEFAULT_DATA ")\n"                   \
	"  --lr X                retraining learning rate (default: the net's / 10)\n"            \
	"  --batch N             minibatch size (default 64)\n"                                   \
	"  --seed N              shuffling seed (default 1)\n"                                    \
	"  --augment A           move the training images: flip, crop:P or flip,crop:P\n"        \
	"  --limit N             train on the first N training images only\n"                     \
	"  --threads N           worker threads (default: all cores)\n"

void cmd_stage_init(cmd_stage *s, const char *usage);
/* The result of cmd_stage_option: handled, not one of the tail's (the
 * command's own or unknown); any other value is the exit status to
 * return now (0 after --help, 2 after a usage error). */
enum { CMD_OPT_OK = -1, CMD_OPT_OTHER = -2 };
int cmd_stage_option(cmd_stage *s, int c, const char *arg);
/* The default: of a stage's getopt loop: the tail's option, or the return. */
#define CMD_STAGE_DEFAULT(s, c)                                                                     \
	do {                                                                                        \
		int r_ = cmd_stage_option((s), (c), optarg);                                        \
		if (r_ != CMD_OPT_OK)                                                               \
			return r_ == CMD_OPT_OTHER ? cmd_usage_error((s)->usage, NULL) : r_;         \
	} while (0);                                                                                \
	break
/* After the options: exactly one input model (s->in) and, if need_out, -o.
 * 0, or the exit status of a usage error. */
int cmd_stage_args(cmd_stage *s, int argc, char **argv, int need_out);
/* Trains m in place for `epochs` (masks kept; 0 epochs only evaluates) and
 * stores its test figure in *acc: the accuracy, or for an mse head the mean
 * squared error.  Prints errors. */
int cmd_stage_run(cmd_stage *s, struct dcc_model *m, int epochs, double *acc);
/* The data set, loaded on first use (NULL after printing an error). */
struct dcc_dataset *cmd_stage_data(cmd_stage *s);
/* Test accuracy of m on the stage's data. */
int cmd_stage_eval(cmd_stage *s, struct dcc_model *m, double *acc);
/* Writes m to s->out (stamped, refusing to overwrite s->in unless --force). */
int cmd_stage_save(cmd_stage *s, struct dcc_model *m);
void cmd_stage_free(cmd_stage *s);
/* The figure *acc holds, for words: "accuracy" or "mse"; a value of it
 * ("89.40%", "0.0125"); it for provenance ("test_accuracy=0.8940",
 * "test_mse=0.0125342"); and
 * the accuracy to record in dcc.accuracy (NAN for an mse head). */
const char *cmd_stage_metric(const cmd_stage *s);
const char *cmd_stage_fig(const cmd_stage *s, double v, char *buf, size_t cap);
const char *cmd_stage_key(const cmd_stage *s, double v, char *buf, size_t cap);
/* What provenance records of the retraining's recipe beyond a stage's own
 * keys: " augment=flip,crop:2", or "" when no run trained on moved images. */
const char *cmd_stage_recipe(const cmd_stage *s, char *buf, size_t cap);
double cmd_stage_acc(const cmd_stage *s, double v);

#endif
