/* compare.c: dcc compare -- how far two models' outputs are apart on the
 * same inputs (or two arrays of outputs): the decisions' agreement, mean
 * and largest absolute difference, SQNR; with --layers, layer by layer.
 * No labels needed: the fidelity of a compressed model to its original. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/dcc_fixed.h"
#include "../lib/dcc_nn.h"
#include "common.h"

static const char usage[] =
	"usage: dcc compare [--input X] [--split NAME] [--fixed] [--fixed-a] [--layers] [--limit N] [--threads N] [--json] A B\n"
	"\n"
	"Compares the outputs of B to those of the reference A.  A and B are models\n"
	"(.dct or .dcb, run on the inputs X as dcc run does) or .npy arrays of\n"
	"outputs (N, K).  Prints the agreement of their decisions (argmax; a\n"
	"one-output bce head: output > 0), the mean and largest absolute\n"
	"difference and the SQNR, 10 log10(sum A^2 / sum (A - B)^2) dB.\n"
	"\n"
	"  --input X         the inputs: an array file or a data set (as dcc run)\n"
	"  --split NAME      the data set's split (default test)\n"
	"  --fixed           B runs integer-only (it must have fixed-point formats):\n"
	"                    how far the accelerator's arithmetic is from float\n"
	"  --fixed-a         A runs integer-only too\n"
	"  --layers          also every layer the two models both have (same name\n"
	"                    and size), one sample at a time\n"
	"  --limit N         the first N samples only\n"
	"  --threads N       worker threads (default: all cores)\n"
	"  --json            print JSON\n"
	"  -h, --help        show this help\n";

typedef struct cmp_side {
	cmd_runnable r; /* a model; r.m NULL for an array */
	double *z;
	size_t n, K;
} cmp_side;

typedef struct cmp_args {
	const char *input, *split, *path[2];
	long limit, threads;
	int fixed[2], layers, json;
} cmp_args;

static int parse(int argc, char **argv, cmp_args *a)
{
	enum { O_INPUT = 256, O_SPLIT, O_FIXED, O_FIXED_A, O_LAYERS, O_LIMIT, O_THREADS, O_JSON };
	static const struct option opts[] = {
		{"input", required_argument, NULL, O_INPUT}, {"split", required_argument, NULL, O_SPLIT},
		{"fixed", no_argument, NULL, O_FIXED}, {"fixed-a", no_argument, NULL, O_FIXED_A}, {"layers", no_argument, NULL, O_LAYERS},
		{"limit", required_argument, NULL, O_LIMIT}, {"threads", required_argument, NULL, O_THREADS},
		{"json", no_argument, NULL, O_JSON}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int bad = 0;
		switch (c) {
		case O_INPUT: a->input = optarg; break;
		case O_SPLIT: a->split = optarg; break;
		case O_FIXED: a->fixed[1] = 1; break;
		case O_FIXED_A: a->fixed[0] = 1; break;
		case O_LAYERS: a->layers = 1; break;
		case O_LIMIT: bad = cmd_parse_long(usage, "--limit", optarg, 1, 0x7fffffffL, &a->limit); break;
		case O_THREADS: bad = cmd_parse_long(usage, "--threads", optarg, 1, 1024, &a->threads); break;
		case O_JSON: a->json = 1; break;
		case 'h': return cmd_help(usage), CMD_HELP_SHOWN;
		default: return cmd_usage_error(usage, NULL);
		}
		if (bad)
			return bad;
	}
	if (argc - optind != 2)
		return cmd_usage_error(usage, "give two things to compare, A and B");
	if (cmd_check_split(usage, a->split))
		return EXIT_USAGE;
	a->path[0] = argv[optind], a->path[1] = argv[optind + 1];
	cmd_set_threads((int)a->threads);
	return 0;
}

/* An array of outputs: (N, K) or (N). */
static int open_array(const char *path, cmp_side *s)
{
	dcc_error e = {0};
	return dcc_outputs_load(path, &s->z, &s->n, &s->K, &e) ? cmd_fail(path, &e) : 0;
}

static int is_model(const char *path)
{
	return cmd_file_is(path, DCC_FILE_DCT) || cmd_file_is(path, DCC_FILE_DCB);
}

/* A fidelity's figures into o (agreement too when decided). */
static void put_fidelity(json_t *o, const dcc_fidelity *f, int decided)
{
	double q = dcc_fidelity_sqnr_db(f), cnt = (double)f->n * (double)f->K;
	json_object_set_new(o, "size", json_integer((json_int_t)f->K));
	if (decided) {
		json_object_set_new(o, "agree", json_integer((json_int_t)f->agree));
		json_object_set_new(o, "agreement", json_real(f->n ? (double)f->agree / (double)f->n : 1));
	}
	json_object_set_new(o, "mean_abs", json_real(cnt ? f->sum_abs / cnt : 0));
	json_object_set_new(o, "max_abs", json_real(f->max_abs));
	json_object_set_new(o, "sqnr_db", isfinite(q) ? json_real(q) : json_null());
}

/* Each layer both nets have (same name, same output size): its fidelity. */
static int compare_layers(const cmp_args *a, cmp_side *s, const dcc_dataset *d, json_t *rows)
{
	const dcc_net *na = s[0].r.n;
	dcc_error e = {0};
	dcc_fidelity *fl = calloc(na->nlayers + 1, sizeof(*fl));
	size_t *match = calloc(na->nlayers + 1, sizeof(size_t));
	int rc = !fl || !match ? (cmd_err("out of memory"), EXIT_FAIL) : 0;
	if (!rc && dcc_compare_layers(na, s[0].r.q, s[1].r.n, s[1].r.q, d, &d->test, (size_t)a->limit, fl, match, &e))
		rc = cmd_fail(NULL, &e);
	for (size_t l = 0; !rc && l < na->nlayers; l++) {
		if (match[l] == DCC_NO_MATCH)
			continue;
		json_t *o = json_object();
		json_object_set_new(o, "layer", json_string(na->layers[l].name));
		json_object_set_new(o, "op", json_string(dcc_op_name(na->layers[l].op)));
		put_fidelity(o, &fl[l], 0);
		json_array_append_new(rows, o);
	}
	free(fl);
	free(match);
	return rc;
}

static void print(const cmp_args *a, json_t *o)
{
	if (a->json) {
		char *s = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
		if (s)
			puts(s);
		free(s);
		return;
	}
	json_t *v = json_object_get(o, "sqnr_db");
	printf("%s vs %s: %lld samples of %lld outputs", a->path[1], a->path[0],
	       (long long)json_integer_value(json_object_get(o, "samples")),
	       (long long)json_integer_value(json_object_get(o, "outputs")));
	if (json_is_number(json_object_get(o, "agreement")))
		printf(", agreement %.2f%% (%lld)", 100 * json_number_value(json_object_get(o, "agreement")),
		       (long long)json_integer_value(json_object_get(o, "agree")));
	printf(", mean |diff| %.6g, max |diff| %.6g, SQNR ", json_number_value(json_object_get(o, "mean_abs")),
	       json_number_value(json_object_get(o, "max_abs")));
	json_is_number(v) ? printf("%.2f dB\n", json_number_value(v)) : printf("inf (identical)\n");
	json_t *rows = json_object_get(o, "layers");
	if (!rows)
		return;
	printf("\n  %-16s %-10s %9s %12s %12s %9s\n", "layer", "op", "size", "mean |diff|", "max |diff|", "SQNR dB");
	size_t i;
	json_t *r;
	json_array_foreach(rows, i, r) {
		json_t *q = json_object_get(r, "sqnr_db");
		char sq[32] = "inf";
		if (json_is_number(q))
			snprintf(sq, sizeof(sq), "%.2f", json_number_value(q));
		printf("  %-16s %-10s %9lld %12.6g %12.6g %9s\n", json_string_value(json_object_get(r, "layer")),
		       json_string_value(json_object_get(r, "op")), (long long)json_integer_value(json_object_get(r, "size")),
		       json_number_value(json_object_get(r, "mean_abs")), json_number_value(json_object_get(r, "max_abs")), sq);
	}
}

int cmd_compare(int argc, char **argv)
{
	cmp_args a = {0};
	int rc = parse(argc, argv, &a);
	if (rc)
		return cmd_parsed(rc);
	cmp_side s[2];
	memset(s, 0, sizeof(s));
	dcc_dataset *d = NULL;
	dcc_error e = {0};
	dcc_fidelity f = {0};
	json_t *o = json_object(), *rows = NULL;
	int models = 0, head = DCC_OP_SOFTMAX_CE;
	rc = 0;
	for (int k = 0; k < 2 && !rc; k++) {
		if (is_model(a.path[k])) {
			models++;
			rc = cmd_runnable_open(a.path[k], a.fixed[k], &s[k].r);
		} else {
			rc = open_array(a.path[k], &s[k]);
		}
	}
	if (!rc && ((a.fixed[0] && !s[0].r.n) || (a.fixed[1] && !s[1].r.n)))
		rc = cmd_usage_error(usage, "--fixed and --fixed-a are for models, not arrays");
	if (!rc && models && !a.input)
		rc = cmd_usage_error(usage, "models run on inputs: give --input X");
	if (!rc && a.layers && models < 2)
		rc = cmd_usage_error(usage, "--layers compares two models");
	const dcc_net *ref = s[0].r.n ? s[0].r.n : s[1].r.n;
	if (!rc && ref) {
		head = ref->head;
		int shape[3] = {ref->in_c, ref->in_h, ref->in_w};
		if (dcc_inputs_load(a.input, shape, a.split, &d, &e))
			rc = cmd_fail(NULL, &e);
	}
	for (int k = 0; k < 2 && !rc; k++) {
		if (!s[k].r.n)
			continue;
		dcc_eval_result fig;
		if (dcc_outputs(s[k].r.n, s[k].r.q, d, &d->test, (size_t)a.limit, (int)a.threads, &s[k].z, &fig, &e))
			rc = cmd_fail(a.path[k], &e);
		s[k].n = fig.n, s[k].K = (size_t)s[k].r.n->classes;
		dcc_eval_result_free(&fig);
	}
	if (!rc && !models && s[0].K == 1)
		head = DCC_OP_MSE; /* two columns of numbers: nothing to decide */
	if (!rc && (s[0].K != s[1].K || s[0].n != s[1].n)) {
		cmd_err("%s has %zu x %zu outputs, %s %zu x %zu: they cannot be compared", a.path[0], s[0].n, s[0].K,
			a.path[1], s[1].n, s[1].K);
		rc = EXIT_FAIL;
	}
	if (!rc) {
		dcc_fidelity_add(&f, head, s[0].z, s[1].z, s[0].n, s[0].K);
		json_object_set_new(o, "reference", json_string(a.path[0]));
		json_object_set_new(o, "compared", json_string(a.path[1]));
		json_object_set_new(o, "samples", json_integer((json_int_t)f.n));
		json_object_set_new(o, "outputs", json_integer((json_int_t)f.K));
		put_fidelity(o, &f, head != DCC_OP_MSE);
	}
	if (!rc && a.layers) {
		json_object_set_new(o, "layers", rows = json_array());
		rc = compare_layers(&a, s, d, rows);
	}
	if (!rc)
		print(&a, o);
	json_decref(o);
	for (int k = 0; k < 2; k++) {
		free(s[k].z);
		cmd_runnable_free(&s[k].r);
	}
	dcc_dataset_free(d);
	return rc ? rc : cmd_finish(EXIT_OK);
}
