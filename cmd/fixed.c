/* fixed.c: dcc fixed -- dynamic fixed point: per-layer fraction lengths for
 * weights, biases and activations (formats/fixed.md), and the accuracy of
 * the integer-only inference that results. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/dcc_fixed.h"
#include "../lib/dcc_nn.h"
#include "common.h"

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
	"  --calib N             calibration images, the first N of the training\n"
	"                        set (default 256)\n"
	"  --data DIR            IDX data set (default " DCC_DEFAULT_DATA ")\n"
	"  --limit N             measure accuracy on the first N test images\n"
	"  --threads N           worker threads (default: all cores)\n"
	"  --json                print the formats and accuracies as JSON\n"
	"  -o, --output OUT      the model to write\n"
	"  --force               overwrite OUT even when it is the input\n"
	"  -h, --help            show this help\n";

/* Accuracy of formats chosen for widths wb/ab on the held-out view. */
static int score(const dcc_net *n, const dcc_dataset *d, const dcc_dataset *view, size_t calib, const int *wb,
		 const int *ab, int bbits, int in_bw, int threads, double *acc)
{
	dcc_error e = {0};
	dcc_qfmt *fmt = calloc(n->nlayers, sizeof(*fmt));
	dcc_qnet *q = NULL;
	dcc_qeval r = {0};
	int in_fl, rc = !fmt || dcc_fixed_choose(n, d, calib, wb, ab, bbits, in_bw, 0, fmt, &in_fl, NULL, NULL, &e) ||
			dcc_qnet_build(n, fmt, in_bw, in_fl, &q, &e) || dcc_qnet_eval(q, view, 0, 0, threads, &r, &e);
	if (rc)
		cmd_err("%s", e.msg[0] ? e.msg : "out of memory");
	*acc = r.accuracy;
	free(r.logits);
	dcc_qnet_free(q);
	free(fmt);
	return rc;
}

/* Ristretto-like: the smallest widths per group, then per layer, greedily,
 * keeping held-out accuracy within margin points of float. */
static int run_search(const dcc_net *n, const dcc_dataset *d, size_t calib, size_t simg, double margin, int bbits,
		      int *in_bw, int *wb, int *ab, int threads)
{
	static const int ladder[] = {16, 12, 10, 8, 7, 6, 5, 4, 3, 2};
	size_t L = n->nlayers;
	if (simg > d->ntest / 2)
		simg = d->ntest / 2;
	dcc_dataset view = *d; /* the first simg test images; the rest judge the result */
	view.ntest = simg;
	dcc_eval_result fr = {0};
	dcc_error e = {0};
	if (dcc_eval(n, &view, 0, 0, threads, &fr, &e)) {
		cmd_err("%s", e.msg);
		return EXIT_FAIL;
	}
	double floor_acc = fr.accuracy - margin / 100, acc;
	dcc_eval_result_free(&fr);
	fprintf(stderr, "search: float %.2f%% on the first %zu test images; keeping >= %.2f%%\n", 100 * fr.accuracy,
		simg, 100 * floor_acc);
	for (size_t i = 0; i < L; i++)
		if (n->layers[i].op == DCC_OP_FC || n->layers[i].op == DCC_OP_CONV2D)
			wb[i] = ab[i] = 16;
	*in_bw = 16;
	/* groups: conv weights, fc weights, activations (the input with them) */
	const char *gname[3] = {"conv weights", "fc weights", "activations"};
	for (int gi = 0; gi < 3; gi++) {
		int best = 16, any = 0;
		for (size_t k = 1; k < sizeof(ladder) / sizeof(ladder[0]); k++) {
			int *w2 = malloc(L * sizeof(int)), *a2 = malloc(L * sizeof(int));
			memcpy(w2, wb, L * sizeof(int)), memcpy(a2, ab, L * sizeof(int));
			int ib = *in_bw;
			for (size_t i = 0; i < L; i++) {
				int op = n->layers[i].op;
				if (gi == 0 && op == DCC_OP_CONV2D) w2[i] = ladder[k], any = 1;
				if (gi == 1 && op == DCC_OP_FC) w2[i] = ladder[k], any = 1;
				if (gi == 2 && (op == DCC_OP_FC || op == DCC_OP_CONV2D)) a2[i] = ladder[k], ib = ladder[k], any = 1;
			}
			int rc = any ? score(n, d, &view, calib, w2, a2, bbits, ib, threads, &acc) : 0;
			if (!rc && any && acc >= floor_acc) {
				best = ladder[k];
				memcpy(wb, w2, L * sizeof(int)), memcpy(ab, a2, L * sizeof(int));
				*in_bw = ib;
			}
			free(w2), free(a2);
			if (rc)
				return EXIT_FAIL;
			if (!any || best != ladder[k])
				break;
		}
		if (any)
			fprintf(stderr, "search: %s at %d bits\n", gname[gi], best);
	}
	/* per layer weights: lower the layer that costs least, while within margin */
	for (int round = 0; round < 64; round++) {
		int pick = -1;
		double pick_acc = -1;
		for (size_t i = 0; i < L; i++) {
			if ((n->layers[i].op != DCC_OP_FC && n->layers[i].op != DCC_OP_CONV2D) || wb[i] <= 2)
				continue;
			int save = wb[i];
			wb[i] = save - 1;
			int rc = score(n, d, &view, calib, wb, ab, bbits, *in_bw, threads, &acc);
			wb[i] = save;
			if (rc)
				return EXIT_FAIL;
			if (acc >= floor_acc && acc > pick_acc)
				pick = (int)i, pick_acc = acc;
		}
		if (pick < 0)
			break;
		wb[pick]--;
		fprintf(stderr, "search: %s weights to %d bits (%.2f%%)\n", n->layers[pick].name, wb[pick], 100 * pick_acc);
	}
	return 0;
}

int cmd_fixed(int argc, char **argv)
{
	enum { O_W = 256, O_A, O_B, O_IN, O_STATIC, O_CALIB, O_DATA, O_LIMIT, O_THREADS, O_JSON, O_FORCE, O_SEARCH,
	       O_MARGIN, O_SIMG };
	static const struct option opts[] = {
		{"weights", required_argument, NULL, O_W}, {"acts", required_argument, NULL, O_A},
		{"bias-bits", required_argument, NULL, O_B}, {"input-bits", required_argument, NULL, O_IN},
		{"static", no_argument, NULL, O_STATIC}, {"calib", required_argument, NULL, O_CALIB},
		{"data", required_argument, NULL, O_DATA}, {"limit", required_argument, NULL, O_LIMIT},
		{"threads", required_argument, NULL, O_THREADS}, {"json", no_argument, NULL, O_JSON},
		{"output", required_argument, NULL, 'o'}, {"force", no_argument, NULL, O_FORCE},
		{"search", no_argument, NULL, O_SEARCH}, {"margin", required_argument, NULL, O_MARGIN},
		{"search-images", required_argument, NULL, O_SIMG},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	int search = 0;
	double margin = 1;
	long simg = 2000;
	const char *wspec = "16", *aspec = "16", *data = NULL, *out = NULL;
	long bbits = 16, inbits = 0, calib = 256, limit = 0, threads = 0;
	int stat = 0, as_json = 0, force = 0, c;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		int bad = 0;
		switch (c) {
		case O_W: wspec = optarg; break;
		case O_A: aspec = optarg; break;
		case O_B: bad = cmd_parse_long(usage, "--bias-bits", optarg, 1, DCC_BW_MAX, &bbits); break;
		case O_IN: bad = cmd_parse_long(usage, "--input-bits", optarg, 1, DCC_BW_MAX, &inbits); break;
		case O_STATIC: stat = 1; break;
		case O_CALIB: bad = cmd_parse_long(usage, "--calib", optarg, 1, 1000000, &calib); break;
		case O_DATA: data = optarg; break;
		case O_LIMIT: bad = cmd_parse_long(usage, "--limit", optarg, 1, 0x7fffffffL, &limit); break;
		case O_THREADS: bad = cmd_parse_long(usage, "--threads", optarg, 1, 1024, &threads); break;
		case O_JSON: as_json = 1; break;
		case O_SEARCH: search = 1; break;
		case O_MARGIN:
			bad = cmd_parse_double(usage, "--margin", optarg, &margin);
			if (!bad && !(margin >= 0 && margin <= 100))
				bad = cmd_usage_error(usage, "--margin must be in [0, 100] points");
			break;
		case O_SIMG: bad = cmd_parse_long(usage, "--search-images", optarg, 1, 1000000, &simg); break;
		case 'o': out = optarg; break;
		case O_FORCE: force = 1; break;
		case 'h': return cmd_help(usage);
		default: return cmd_usage_error(usage, NULL);
		}
		if (bad)
			return bad;
	}
	if (optind + 1 != argc)
		return cmd_usage_error(usage, optind < argc ? "give one input model" : "no input model given");
	const char *in = argv[optind];
	if (!out)
		return cmd_usage_error(usage, "no output given (-o OUT.dct)");
	cmd_set_threads((int)threads);
	dcc_model *m;
	if (cmd_load(in, &m))
		return EXIT_FAIL;
	dcc_error e = {0};
	dcc_net *n = NULL;
	dcc_dataset *d = NULL;
	dcc_qnet *q = NULL;
	int rc = EXIT_FAIL, in_fl = 0;
	int *wb = NULL, *ab = NULL, *op = NULL;
	const char **names = NULL;
	dcc_qfmt *fmt = NULL;
	double *wsq = NULL, *asq = NULL;
	if (dcc_model_get_kv(m, "dcc.fixed")) {
		cmd_err("%s: already fixed point (dcc.fixed is set)", in);
		goto done;
	}
	if (dcc_net_from_model(m, &n, &e)) {
		cmd_fail(in, &e);
		goto done;
	}
	size_t L = n->nlayers;
	wb = calloc(L, sizeof(int)), ab = calloc(L, sizeof(int)), op = calloc(L, sizeof(int));
	names = calloc(L, sizeof(char *));
	fmt = calloc(L, sizeof(*fmt));
	wsq = calloc(L, sizeof(double)), asq = calloc(L, sizeof(double));
	if (!wb || !ab || !op || !names || !fmt || !wsq || !asq)
		goto done;
	for (size_t i = 0; i < L; i++) {
		names[i] = n->layers[i].name;
		op[i] = n->layers[i].op;
	}
	if ((rc = cmd_parse_layer_ints(usage, "--weights", wspec, L, names, names, op, 1, DCC_BW_MAX, wb)) ||
	    (rc = cmd_parse_layer_ints(usage, "--acts", aspec, L, names, names, op, 1, DCC_BW_MAX, ab)))
		goto done;
	rc = EXIT_FAIL;
	int first_a = 0;
	for (size_t i = 0; i < L; i++) {
		int hw = op[i] == DCC_OP_FC || op[i] == DCC_OP_CONV2D;
		if (hw && (!wb[i] || !ab[i])) {
			cmd_err("no bit width for layer '%s' (give a default: --weights 8, --acts 8)", names[i]);
			rc = EXIT_USAGE;
			goto done;
		}
		if (hw && !first_a)
			first_a = ab[i];
	}
	if (cmd_load_data(data, &d))
		goto done;
	int in_bw = inbits ? (int)inbits : first_a ? first_a : 16;
	if (search && stat) {
		cmd_err("--search and --static do not go together");
		rc = EXIT_USAGE;
		goto done;
	}
	if (search && run_search(n, d, (size_t)calib, (size_t)simg, margin, (int)bbits, &in_bw, wb, ab, (int)threads))
		goto done;
	if (dcc_fixed_choose(n, d, (size_t)calib, wb, ab, (int)bbits, in_bw, stat, fmt, &in_fl, wsq, asq, &e)) {
		cmd_fail(in, &e);
		goto done;
	}
	/* accuracy: the float model, then the integer network */
	dcc_eval_result fr = {0};
	dcc_qeval qr = {0};
	if (dcc_eval(n, d, (size_t)limit, 0, (int)threads, &fr, &e) || dcc_qnet_build(n, fmt, in_bw, in_fl, &q, &e) ||
	    dcc_qnet_eval(q, d, (size_t)limit, 0, (int)threads, &qr, &e)) {
		cmd_fail(in, &e);
		goto done;
	}
	dcc_eval_result_free(&fr);
	/* with --search: the test images it did not score on */
	size_t unseen_n = 0;
	double unseen_f = 0, unseen_q = 0;
	if (search && !limit) {
		size_t sk = (size_t)simg > d->ntest / 2 ? d->ntest / 2 : (size_t)simg;
		dcc_dataset rest = *d;
		rest.test_x = d->test_x + sk * (size_t)d->c * (size_t)d->h * (size_t)d->w;
		rest.test_y = d->test_y + sk;
		rest.ntest = d->ntest - sk;
		dcc_eval_result r1 = {0};
		dcc_qeval r2 = {0};
		if (!dcc_eval(n, &rest, 0, 0, (int)threads, &r1, &e) && !dcc_qnet_eval(q, &rest, 0, 0, (int)threads, &r2, &e)) {
			unseen_n = rest.ntest;
			unseen_f = r1.accuracy;
			unseen_q = r2.accuracy;
		}
		dcc_eval_result_free(&r1);
		free(r2.logits);
	}
	if (as_json) {
		json_t *ls = json_array();
		for (size_t i = 0; i < L; i++)
			if (op[i] == DCC_OP_FC || op[i] == DCC_OP_CONV2D || op[i] == DCC_OP_LSTM)
				json_array_append_new(ls, json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:f, s:f}", "layer",
								    names[i], "w_bw", fmt[i].w_bw, "w_fl", fmt[i].w_fl,
								    "b_bw", fmt[i].b_bw, "b_fl", fmt[i].b_fl, "a_bw",
								    fmt[i].a_bw, "a_fl", fmt[i].a_fl, "w_sqnr_db",
								    isfinite(wsq[i]) ? wsq[i] : 999.0, "a_sqnr_db",
								    isfinite(asq[i]) ? asq[i] : 999.0));
		json_t *o = json_pack("{s:o, s:i, s:i, s:f, s:f, s:b, s:I}", "layers", ls, "input_bw", in_bw,
				      "input_fl", in_fl, "accuracy_float", fr.accuracy, "accuracy_fixed", qr.accuracy,
				      "static", stat, "images", (json_int_t)qr.n);
		if (unseen_n) {
			json_object_set_new(o, "unseen_images", json_integer((json_int_t)unseen_n));
			json_object_set_new(o, "unseen_accuracy_float", json_real(unseen_f));
			json_object_set_new(o, "unseen_accuracy_fixed", json_real(unseen_q));
		}
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(8));
		putchar('\n');
		json_decref(o);
	} else {
		printf("  %-10s %6s %6s %12s %6s %6s %12s\n", "layer", "w bits", "w fl", "w SQNR dB", "a bits", "a fl",
		       "a SQNR dB");
		printf("  %-10s %6s %6s %12s %6d %6d %12s\n", "input", "", "", "", in_bw, in_fl, "");
		for (size_t i = 0; i < L; i++)
			if (op[i] == DCC_OP_FC || op[i] == DCC_OP_CONV2D || op[i] == DCC_OP_LSTM)
				printf("  %-10s %6d %6d %12.1f %6d %6d %12.1f\n", names[i], fmt[i].w_bw, fmt[i].w_fl, wsq[i],
				       fmt[i].a_bw, fmt[i].a_fl, asq[i]);
		printf("accuracy on %zu test images: float %.2f%%, %s fixed point (integer-only) %.2f%%\n", qr.n,
		       100 * fr.accuracy, stat ? "static" : "dynamic", 100 * qr.accuracy);
		if (search && unseen_n)
			printf("on the %zu test images the search did not score: float %.2f%%, fixed point %.2f%%\n", unseen_n,
			       100 * unseen_f, 100 * unseen_q);
	}
	free(qr.logits);
	/* store: the net's floats alias the model's tensors until apply */
	if (dcc_fixed_apply(m, n, fmt, in_bw, in_fl, &e)) {
		cmd_fail(in, &e);
		goto done;
	}
	char line[512];
	snprintf(line, sizeof(line), "fixed weights=%s acts=%s bias_bits=%ld input_bits=%d static=%d search=%d calib=%ld "
		 "test_accuracy=%.4f", wspec, aspec, bbits, in_bw, stat, search, calib, qr.accuracy);
	cmd_provenance(m, line);
	dcc_model_set_f64(m, "dcc.accuracy", qr.accuracy);
	const char *inputs[] = {in, NULL};
	rc = cmd_save(out, m, inputs, force) ? EXIT_FAIL : cmd_finish(EXIT_OK);
done:
	free(wb), free(ab), free(op), free(names), free(fmt), free(wsq), free(asq);
	dcc_qnet_free(q);
	if (d)
		dcc_dataset_free(d);
	dcc_net_free(n);
	dcc_model_free(m);
	return rc;
}
