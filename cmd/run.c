/* run.c: dcc run -- a model's outputs on any input: one sample, a batch of
 * them in an array file, or a split of a data set; float or integer-only,
 * as raw outputs, probabilities or decisions, into an .npy. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/dcc_fixed.h"
#include "../lib/dcc_nn.h"
#include "common.h"

static const char usage[] =
	"usage: dcc run --input X [--split NAME] [--fixed] [--probs | --argmax] [--limit N] [--threads N] [--json] [--force] -o OUT.npy MODEL\n"
	"\n"
	"Runs MODEL (.dct, or a .dcb blob) on the inputs X and writes its outputs.\n"
	"X is an array file (.npy, .npz, .dct, .safetensors; FILE:MEMBER names one\n"
	"array of several) holding one sample of the model's input shape or N of\n"
	"them, or a data set (formats/data.md) whose split is run.  The model's\n"
	"input normalisation is applied.  When the inputs have labels, the\n"
	"figures dcc eval gives are printed too.\n"
	"\n"
	"  --input X         the inputs\n"
	"  --split NAME      the data set's split: train, val or test (default test)\n"
	"  --fixed           integer-only inference of a dcc fixed model (what the\n"
	"                    accelerator computes); outputs are the integers' values\n"
	"  --probs           softmax (softmax_ce) or sigmoid (bce) probabilities\n"
	"  --argmax          the decisions: int64 (N), the top class (ties to the\n"
	"                    lower), or output > 0 of a one-output bce head\n"
	"  --limit N         the first N samples only\n"
	"  --threads N       worker threads (default: all cores)\n"
	"  --json            print the summary as JSON\n"
	"  -o, --output OUT  the .npy to write: float32 (N, outputs) unless --argmax\n"
	"  --force           overwrite OUT even when it is an input\n"
	"  -h, --help        show this help\n";

typedef struct run_args {
	const char *input, *split, *out, *model;
	long limit, threads;
	int fixed, probs, argmax, json, force;
} run_args;

static int parse(int argc, char **argv, run_args *a)
{
	enum { O_INPUT = 256, O_SPLIT, O_FIXED, O_PROBS, O_ARGMAX, O_LIMIT, O_THREADS, O_JSON, O_FORCE };
	static const struct option opts[] = {
		{"input", required_argument, NULL, O_INPUT}, {"split", required_argument, NULL, O_SPLIT},
		{"fixed", no_argument, NULL, O_FIXED}, {"probs", no_argument, NULL, O_PROBS},
		{"argmax", no_argument, NULL, O_ARGMAX}, {"limit", required_argument, NULL, O_LIMIT},
		{"threads", required_argument, NULL, O_THREADS}, {"json", no_argument, NULL, O_JSON},
		{"force", no_argument, NULL, O_FORCE}, {"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		int bad = 0;
		switch (c) {
		case O_INPUT: a->input = optarg; break;
		case O_SPLIT: a->split = optarg; break;
		case O_FIXED: a->fixed = 1; break;
		case O_PROBS: a->probs = 1; break;
		case O_ARGMAX: a->argmax = 1; break;
		case O_LIMIT: bad = cmd_parse_long(usage, "--limit", optarg, 1, 0x7fffffffL, &a->limit); break;
		case O_THREADS: bad = cmd_parse_long(usage, "--threads", optarg, 1, 1024, &a->threads); break;
		case O_JSON: a->json = 1; break;
		case O_FORCE: a->force = 1; break;
		case 'o': a->out = optarg; break;
		case 'h': return cmd_help(usage), CMD_HELP_SHOWN;
		default: return cmd_usage_error(usage, NULL);
		}
		if (bad)
			return bad;
	}
	if (argc - optind != 1)
		return cmd_usage_error(usage, argc - optind ? "one model only" : "no model given");
	a->model = argv[optind];
	if (!a->input)
		return cmd_usage_error(usage, "no inputs given (--input X)");
	if (!a->out)
		return cmd_usage_error(usage, "no output given (-o OUT.npy)");
	if (a->probs && a->argmax)
		return cmd_usage_error(usage, "--probs and --argmax are different outputs: give one");
	if (cmd_check_split(usage, a->split))
		return EXIT_USAGE;
	const char *outs[] = {a->out}, *inputs[] = {a->model, a->input, NULL};
	if (cmd_check_outputs(outs, 1, inputs, a->force))
		return EXIT_FAIL;
	cmd_set_threads((int)a->threads);
	return 0;
}

/* The outputs as asked for: raw values, probabilities or decisions. */
static int save(const run_args *a, int head, const double *z, size_t n, size_t K)
{
	dcc_tensor t;
	dcc_error e = {0};
	int kind = a->argmax ? DCC_OUT_ARGMAX : a->probs ? DCC_OUT_PROBS : DCC_OUT_RAW;
	if (dcc_head_tensor(head, kind, z, n, (int)K, &t, &e))
		return cmd_fail(NULL, &e);
	int rc = cmd_save_tensor(a->out, (const char *[]){a->model, a->input, NULL}, a->force, &t);
	free(t.data);
	return rc;
}

static void summary(const run_args *a, const cmd_runnable *r, const dcc_eval_result *fig)
{
	const char *arith = r->q ? "integer-only" : "float";
	const char *kind = a->argmax ? "argmax" : a->probs ? "probs" : "outputs";
	json_t *o = json_object();
	json_object_set_new(o, "model", json_string(a->model));
	json_object_set_new(o, "input", json_string(a->input));
	json_object_set_new(o, "output", json_string(a->out));
	json_object_set_new(o, "arithmetic", json_string(arith));
	json_object_set_new(o, "written", json_string(kind));
	json_object_set_new(o, "samples", json_integer((json_int_t)fig->n));
	json_object_set_new(o, "outputs", json_integer(r->n->classes));
	if (fig->labelled)
		cmd_figures_json(o, fig);
	json_object_set_new(o, "samples_per_s", json_real(fig->images_per_s));
	if (a->json) {
		char *s = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
		if (s)
			puts(s);
		free(s);
	} else {
		char f[256];
		printf("%s: %zu sample%s, %s -> %s (%s)%s\n", a->model, fig->n, fig->n == 1 ? "" : "s", arith, a->out,
		       kind, fig->labelled ? cmd_figures_text(o, f, sizeof(f)) : "");
	}
	json_decref(o);
}

int cmd_run(int argc, char **argv)
{
	run_args a = {0};
	int rc = parse(argc, argv, &a);
	if (rc)
		return cmd_parsed(rc);
	cmd_runnable r;
	if (cmd_runnable_open(a.model, a.fixed, &r))
		return EXIT_FAIL;
	dcc_error e = {0};
	dcc_dataset *d = NULL;
	double *z = NULL;
	dcc_eval_result fig = {0};
	int shape[3] = {r.n->in_c, r.n->in_h, r.n->in_w};
	rc = EXIT_FAIL;
	if (a.probs && r.n->head == DCC_OP_MSE)
		cmd_err("%s: --probs: the head is mse (regression): its outputs are not probabilities", a.model);
	else if (a.argmax && r.n->head == DCC_OP_MSE)
		cmd_err("%s: --argmax: the head is mse (regression): it decides no class", a.model);
	else if (dcc_inputs_load(a.input, shape, a.split, &d, &e))
		cmd_fail(NULL, &e);
	else if (dcc_outputs(r.n, r.q, d, &d->test, (size_t)a.limit, (int)a.threads, &z, &fig, &e))
		cmd_fail(a.model, &e);
	else if (!save(&a, r.n->head, z, fig.n, (size_t)r.n->classes))
		rc = 0;
	if (!rc)
		summary(&a, &r, &fig);
	free(z);
	dcc_eval_result_free(&fig);
	dcc_dataset_free(d);
	cmd_runnable_free(&r);
	return rc ? EXIT_FAIL : cmd_finish(EXIT_OK);
}
