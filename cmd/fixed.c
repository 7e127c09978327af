/* fixed.c: dcc fixed -- dynamic fixed point: per-layer fraction lengths for
 * weights, biases and activations (formats/fixed.md), and the accuracy of
 * the integer-only inference that results. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/dcc_fixed.h"
#include "../lib/dcc_nn.h"
#include "stage.h"

static const char usage[] =
	"usage: dcc fixed IN.dct [--weights SPEC] [--acts SPEC] [OPTIONS] -o OUT.dct\n"
	"\n"
	"Chooses a fixed-point format per layer (formats/fixed.md): for the\n"
	"weights the fraction length of least squared error, for the activations\n"
	"greedily layer by layer the one whose outputs on calibration images stay\n"
	"closest to the float network's.  Stores the weights (or a shared layer's\n"
	"codebook) and biases quantised, records the formats in dcc.fixed, and\n"
	"reports float and integer-only accuracy.\n"
	"\n"
	"  --weights SPEC        weight bits: B, or KEY=B,... (KEY: a layer, fc,\n"
	"                        conv or default); 1..24 (default 16)\n"
	"  --acts SPEC           activation bits, the same way (default 16)\n"
	"  --bias-bits B         bias bits (default 16)\n"
	"  --input-bits B        input bits (default: the first layer's --acts)\n"
	"  --static              one fraction length for all weights and one for\n"
	"                        all activations (for comparison)\n"
	"  --search              find the smallest widths (like Ristretto): conv\n"
	"                        weights, fc weights and activations as groups,\n"
	"                        then per layer, greedily, within --margin\n"
	"  --margin P            accuracy loss allowed by --search, points (1)\n"
	"  --search-images N     test images the search scores on (the first N,\n"
	"                        default 2000); the rest measure the result\n"
	"  --calib FILE          calibration samples: a data set or an array of\n"
	"                        samples (formats/data.md); default: --data's\n"
	"                        training split; --calib N is --calib-count N\n"
	"  --calib-count N       the first N calibration samples (default 256)\n"
	"  --calib-split NAME    the split of a --calib data set (default train)\n"
	"  --data DATA           the data set accuracy is measured on (default\n"
	"                        " DCC_DEFAULT_DATA "; without --data, a --calib FILE\n"
	"                        alone: no accuracy, the model needs no labels)\n"
	"  --limit N             measure accuracy on the first N test samples\n"
	"  --threads N           worker threads (default: all cores)\n"
	"  --json                print the formats and accuracies as JSON\n"
	"  -o, --output OUT      the model to write\n"
	"  --force               overwrite OUT even when it is the input\n"
	"  -h, --help            show this help\n";

typedef struct fixed_args {
	cmd_stage st;
	const char *wspec, *aspec, *calib_file, *calib_split;
	long bbits, inbits, calib, simg;
	double margin;
	int stat, search;
} fixed_args;

static int parse(int argc, char **argv, fixed_args *a)
{
	enum { O_W = 256, O_A, O_B, O_IN, O_STATIC, O_CALIB, O_SEARCH, O_MARGIN, O_SIMG, O_CCOUNT, O_CSPLIT };
	static const struct option opts[] = {
		{"weights", required_argument, NULL, O_W}, {"acts", required_argument, NULL, O_A},
		{"bias-bits", required_argument, NULL, O_B}, {"input-bits", required_argument, NULL, O_IN},
		{"static", no_argument, NULL, O_STATIC}, {"calib", required_argument, NULL, O_CALIB},
		{"search", no_argument, NULL, O_SEARCH}, {"margin", required_argument, NULL, O_MARGIN},
		{"search-images", required_argument, NULL, O_SIMG}, {"calib-count", required_argument, NULL, O_CCOUNT},
		{"calib-split", required_argument, NULL, O_CSPLIT},
		CMD_DATA_OPTIONS, CMD_OUT_OPTIONS, {NULL, 0, NULL, 0},
	};
	cmd_stage_init(&a->st, usage);
	a->wspec = a->aspec = "16";
	a->bbits = 16, a->calib = 256, a->simg = 2000, a->margin = 1;
	int c;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		int bad = 0;
		switch (c) {
		case O_W: a->wspec = optarg; break;
		case O_A: a->aspec = optarg; break;
		case O_B: bad = cmd_parse_long(usage, "--bias-bits", optarg, 1, DCC_BW_MAX, &a->bbits); break;
		case O_IN: bad = cmd_parse_long(usage, "--input-bits", optarg, 1, DCC_BW_MAX, &a->inbits); break;
		case O_STATIC: a->stat = 1; break;
		case O_CALIB: /* a count (as before), or a file */
			if (optarg[0] && strspn(optarg, "0123456789") == strlen(optarg))
				bad = cmd_parse_long(usage, "--calib", optarg, 1, 1000000, &a->calib);
			else
				a->calib_file = optarg;
			break;
		case O_CCOUNT: bad = cmd_parse_long(usage, "--calib-count", optarg, 1, 1000000, &a->calib); break;
		case O_CSPLIT: a->calib_split = optarg; break;
		case O_SEARCH: a->search = 1; break;
		case O_MARGIN:
			bad = cmd_parse_double(usage, "--margin", optarg, &a->margin);
			if (!bad && !(a->margin >= 0 && a->margin <= 100))
				bad = cmd_usage_error(usage, "--margin must be in [0, 100] points");
			break;
		case O_SIMG: bad = cmd_parse_long(usage, "--search-images", optarg, 1, 1000000, &a->simg); break;
		default: CMD_STAGE_DEFAULT(&a->st, c);
		}
		if (bad)
			return bad;
	}
	return cmd_stage_args(&a->st, argc, argv, 1);
}

static int has_w(int op) { return op == DCC_OP_FC || op == DCC_OP_CONV2D; }

/* The widths asked for, per layer: wb, ab and the input's. */
static int widths(const fixed_args *a, const dcc_net *n, int *wb, int *ab, int *in_bw)
{
	size_t L = n->nlayers;
	const char **names = calloc(L, sizeof(char *));
	int *op = calloc(L, sizeof(int)), rc = 0, first_a = 0;
	if (!names || !op) {
		free(names), free(op);
		cmd_err("out of memory");
		return EXIT_FAIL;
	}
	for (size_t i = 0; i < L; i++)
		names[i] = n->layers[i].name, op[i] = n->layers[i].op;
	if ((rc = cmd_parse_layer_ints(usage, "--weights", a->wspec, L, names, names, op, 1, DCC_BW_MAX, wb)) ||
	    (rc = cmd_parse_layer_ints(usage, "--acts", a->aspec, L, names, names, op, 1, DCC_BW_MAX, ab)))
		goto done;
	for (size_t i = 0; i < L && !rc; i++) {
		if (has_w(op[i]) && (!wb[i] || !ab[i])) {
			cmd_err("no bit width for layer '%s' (give a default: --weights 8, --acts 8)", names[i]);
			rc = EXIT_USAGE;
		}
		if (has_w(op[i]) && !first_a)
			first_a = ab[i];
	}
	*in_bw = a->inbits ? (int)a->inbits : first_a ? first_a : 16;
	if (!rc && a->search && a->stat) {
		cmd_err("--search and --static do not go together");
		rc = EXIT_USAGE;
	}
done:
	free(names), free(op);
	return rc;
}

/* The accuracies: float and integer-only, and with --search on the test
 * images it did not score. */
typedef struct fixed_acc {
	dcc_eval_result f;
	dcc_qeval q;
	size_t unseen_n;
	double unseen_f, unseen_q;
} fixed_acc;

static int measure(const fixed_args *a, const dcc_net *n, const dcc_qnet *q, const dcc_dataset *d, fixed_acc *r)
{
	dcc_error e = {0};
	int threads = (int)a->st.threads;
	if (dcc_eval(n, d, (size_t)a->st.limit, 0, threads, &r->f, &e) ||
	    dcc_qnet_eval(q, d, (size_t)a->st.limit, 0, threads, &r->q, &e))
		return cmd_fail(a->st.in, &e);
	if (a->search && !a->st.limit) /* the test images the search did not score */
		dcc_fixed_unseen(n, q, d, (size_t)a->simg, threads, &r->unseen_n, &r->unseen_f, &r->unseen_q);
	return 0;
}

static void report(const fixed_args *a, const dcc_net *n, const dcc_qfmt *fmt, int in_bw, int in_fl, const double *wsq,
		   const double *asq, const fixed_acc *r)
{
	size_t L = n->nlayers;
	if (a->st.json) {
		json_t *ls = json_array();
		for (size_t i = 0; i < L; i++)
			if (has_w(n->layers[i].op) || n->layers[i].op == DCC_OP_LSTM)
				json_array_append_new(ls, json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:f, s:f}", "layer",
								    n->layers[i].name, "w_bw", fmt[i].w_bw, "w_fl", fmt[i].w_fl,
								    "b_bw", fmt[i].b_bw, "b_fl", fmt[i].b_fl, "a_bw",
								    fmt[i].a_bw, "a_fl", fmt[i].a_fl, "w_sqnr_db",
								    isfinite(wsq[i]) ? wsq[i] : 999.0, "a_sqnr_db",
								    isfinite(asq[i]) ? asq[i] : 999.0));
		json_t *o = json_pack("{s:o, s:i, s:i, s:b}", "layers", ls, "input_bw", in_bw, "input_fl", in_fl, "static",
				      a->stat);
		if (r && r->f.head != DCC_OP_MSE) {
			json_object_set_new(o, "accuracy_float", json_real(r->f.accuracy));
			json_object_set_new(o, "accuracy_fixed", json_real(r->q.accuracy));
		}
		if (r) {
			json_t *ff = json_object(), *fq = json_object();
			cmd_figures_json(ff, &r->f), cmd_figures_json(fq, &r->q.fig);
			json_object_set_new(o, "float", ff), json_object_set_new(o, "fixed", fq);
			json_object_set_new(o, "images", json_integer((json_int_t)r->q.n));
		}
		if (r && r->unseen_n) {
			json_object_set_new(o, "unseen_images", json_integer((json_int_t)r->unseen_n));
			json_object_set_new(o, "unseen_accuracy_float", json_real(r->unseen_f));
			json_object_set_new(o, "unseen_accuracy_fixed", json_real(r->unseen_q));
		}
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(8));
		putchar('\n');
		json_decref(o);
		return;
	}
	printf("  %-10s %6s %6s %12s %6s %6s %12s\n", "layer", "w bits", "w fl", "w SQNR dB", "a bits", "a fl",
	       "a SQNR dB");
	printf("  %-10s %6s %6s %12s %6d %6d %12s\n", "input", "", "", "", in_bw, in_fl, "");
	for (size_t i = 0; i < L; i++)
		if (has_w(n->layers[i].op) || n->layers[i].op == DCC_OP_LSTM)
			printf("  %-10s %6d %6d %12.1f %6d %6d %12.1f\n", n->layers[i].name, fmt[i].w_bw, fmt[i].w_fl, wsq[i],
			       fmt[i].a_bw, fmt[i].a_fl, asq[i]);
	if (!r) {
		printf("no --data: accuracy not measured (dcc compare gives the fixed model's fidelity to the float)\n");
		return;
	}
	if (r->f.head == DCC_OP_MSE)
		printf("on %zu test samples: float mse %.6g, %s fixed point (integer-only) mse %.6g\n", r->q.n, r->f.mse,
		       a->stat ? "static" : "dynamic", r->q.fig.mse);
	else
		printf("accuracy on %zu test images: float %.2f%%, %s fixed point (integer-only) %.2f%%\n", r->q.n,
		       100 * r->f.accuracy, a->stat ? "static" : "dynamic", 100 * r->q.accuracy);
	if (a->search && r->unseen_n)
		printf("on the %zu test images the search did not score: float %.2f%%, fixed point %.2f%%\n", r->unseen_n,
		       100 * r->unseen_f, 100 * r->unseen_q);
}

int cmd_fixed(int argc, char **argv)
{
	fixed_args a = {0};
	int rc = parse(argc, argv, &a);
	if (rc)
		return cmd_parsed(rc);
	const char *in = a.st.in;
	dcc_model *m;
	if (cmd_load(in, &m))
		return EXIT_FAIL;
	dcc_error e = {0};
	dcc_net *n = NULL;
	dcc_dataset *d = NULL, *cd = NULL;
	dcc_qnet *q = NULL;
	int in_fl = 0, in_bw = 16, *wb = NULL, *ab = NULL;
	dcc_qfmt *fmt = NULL;
	double *wsq = NULL, *asq = NULL;
	fixed_acc r = {0};
	rc = EXIT_FAIL;
	if (dcc_model_get_kv(m, "dcc.fixed")) {
		cmd_err("%s: already fixed point (dcc.fixed is set)", in);
		goto done;
	}
	size_t nfold = 0; /* integers need batchnorm folded (dcc fold) */
	if (dcc_fold_batchnorm(m, &nfold, &e) || dcc_net_from_model(m, &n, &e)) {
		cmd_fail(in, &e);
		goto done;
	}
	if (nfold)
		fprintf(stderr, "fixed: %zu batchnorm or affine layer%s folded into the layers before them\n", nfold,
			nfold > 1 ? "s" : "");
	size_t L = n->nlayers;
	wb = calloc(L, sizeof(int)), ab = calloc(L, sizeof(int)), fmt = calloc(L, sizeof(*fmt));
	wsq = calloc(L, sizeof(double)), asq = calloc(L, sizeof(double));
	if (!wb || !ab || !fmt || !wsq || !asq || (rc = widths(&a, n, wb, ab, &in_bw)))
		goto done;
	rc = EXIT_FAIL;
	/* the labelled data (--data, or the default set unless --calib FILE alone) and the calibration samples */
	int labelled = a.st.data || !a.calib_file;
	if (labelled && !(d = cmd_stage_data(&a.st)))
		goto done;
	if (a.search && !labelled) {
		cmd_err("--search scores accuracy: give --data");
		rc = EXIT_USAGE;
		goto done;
	}
	int shape[3] = {n->in_c, n->in_h, n->in_w};
	if (a.calib_file && dcc_inputs_load(a.calib_file, shape, a.calib_split ? a.calib_split : "train", &cd, &e)) {
		cmd_fail(NULL, &e);
		goto done;
	}
	const dcc_dataset *calib = cd ? cd : d;
	dcc_fixed_opts fo = {wb, ab, (int)a.bbits, in_bw, a.stat, calib, &calib->train, (size_t)a.calib};
	dcc_width_search ws = {d, a.margin, (size_t)a.simg, (int)a.st.threads, cmd_log_line, NULL};
	if (a.search && dcc_fixed_search_widths(n, &fo, &ws, wb, ab, &in_bw, &e)) {
		cmd_fail(in, &e);
		goto done;
	}
	fo.in_bw = in_bw;
	if (dcc_fixed_choose(n, &fo, fmt, &in_fl, wsq, asq, &e) || dcc_qnet_build(n, fmt, in_bw, in_fl, &q, &e)) {
		cmd_fail(in, &e);
		goto done;
	}
	if (labelled && measure(&a, n, q, d, &r))
		goto done;
	report(&a, n, fmt, in_bw, in_fl, wsq, asq, labelled ? &r : NULL);
	/* store: the net's floats alias the model's tensors until apply */
	if (dcc_fixed_apply(m, n, fmt, in_bw, in_fl, &e)) {
		cmd_fail(in, &e);
		goto done;
	}
	char line[1024], used[512];
	size_t ncal = (size_t)a.calib < calib->train.n ? (size_t)a.calib : calib->train.n;
	dcc_data_describe(calib, ncal, used, sizeof(used));
	int k = snprintf(line, sizeof(line), "fixed weights=%s acts=%s bias_bits=%ld input_bits=%d static=%d search=%d calib_%s",
			 a.wspec, a.aspec, a.bbits, in_bw, a.stat, a.search, used);
	if (a.calib_file)
		k += snprintf(line + k, sizeof(line) - (size_t)k, " calib_split=%s", a.calib_split ? a.calib_split : "train");
	if (labelled)
		snprintf(line + k, sizeof(line) - (size_t)k, " test_accuracy=%.4f", r.q.accuracy);
	rc = cmd_provenance(m, line, labelled ? r.q.accuracy : NAN) ? EXIT_FAIL : cmd_stage_save(&a.st, m);
done:
	dcc_dataset_free(cd);
	dcc_eval_result_free(&r.f);
	dcc_qeval_free(&r.q);
	free(wb), free(ab), free(fmt), free(wsq), free(asq);
	dcc_qnet_free(q);
	cmd_stage_free(&a.st);
	dcc_net_free(n);
	dcc_model_free(m);
	return rc;
}
