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
	"  --calib N             calibration images, the first N of the training\n"
	"                        set (default 256)\n"
	"  --data DIR            IDX data set (default " DCC_DEFAULT_DATA ")\n"
	"  --limit N             measure accuracy on the first N test images\n"
	"  --threads N           worker threads (default: all cores)\n"
	"  --json                print the formats and accuracies as JSON\n"
	"  -o, --output OUT      the model to write\n"
	"  --force               overwrite OUT even when it is the input\n"
	"  -h, --help            show this help\n";

int cmd_fixed(int argc, char **argv)
{
	enum { O_W = 256, O_A, O_B, O_IN, O_STATIC, O_CALIB, O_DATA, O_LIMIT, O_THREADS, O_JSON, O_FORCE };
	static const struct option opts[] = {
		{"weights", required_argument, NULL, O_W}, {"acts", required_argument, NULL, O_A},
		{"bias-bits", required_argument, NULL, O_B}, {"input-bits", required_argument, NULL, O_IN},
		{"static", no_argument, NULL, O_STATIC}, {"calib", required_argument, NULL, O_CALIB},
		{"data", required_argument, NULL, O_DATA}, {"limit", required_argument, NULL, O_LIMIT},
		{"threads", required_argument, NULL, O_THREADS}, {"json", no_argument, NULL, O_JSON},
		{"output", required_argument, NULL, 'o'}, {"force", no_argument, NULL, O_FORCE},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
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
	if (as_json) {
		json_t *ls = json_array();
		for (size_t i = 0; i < L; i++)
			if (op[i] == DCC_OP_FC || op[i] == DCC_OP_CONV2D)
				json_array_append_new(ls, json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:f, s:f}", "layer",
								    names[i], "w_bw", fmt[i].w_bw, "w_fl", fmt[i].w_fl,
								    "b_bw", fmt[i].b_bw, "b_fl", fmt[i].b_fl, "a_bw",
								    fmt[i].a_bw, "a_fl", fmt[i].a_fl, "w_sqnr_db",
								    isfinite(wsq[i]) ? wsq[i] : 999.0, "a_sqnr_db",
								    isfinite(asq[i]) ? asq[i] : 999.0));
		json_t *o = json_pack("{s:o, s:i, s:i, s:f, s:f, s:b, s:I}", "layers", ls, "input_bw", in_bw,
				      "input_fl", in_fl, "accuracy_float", fr.accuracy, "accuracy_fixed", qr.accuracy,
				      "static", stat, "images", (json_int_t)qr.n);
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(8));
		putchar('\n');
		json_decref(o);
	} else {
		printf("  %-10s %6s %6s %12s %6s %6s %12s\n", "layer", "w bits", "w fl", "w SQNR dB", "a bits", "a fl",
		       "a SQNR dB");
		printf("  %-10s %6s %6s %12s %6d %6d %12s\n", "input", "", "", "", in_bw, in_fl, "");
		for (size_t i = 0; i < L; i++)
			if (op[i] == DCC_OP_FC || op[i] == DCC_OP_CONV2D)
				printf("  %-10s %6d %6d %12.1f %6d %6d %12.1f\n", names[i], fmt[i].w_bw, fmt[i].w_fl, wsq[i],
				       fmt[i].a_bw, fmt[i].a_fl, asq[i]);
		printf("accuracy on %zu test images: float %.2f%%, %s fixed point (integer-only) %.2f%%\n", qr.n,
		       100 * fr.accuracy, stat ? "static" : "dynamic", 100 * qr.accuracy);
	}
	free(qr.logits);
	/* store: the net's floats alias the model's tensors until apply */
	if (dcc_fixed_apply(m, n, fmt, in_bw, in_fl, &e)) {
		cmd_fail(in, &e);
		goto done;
	}
	char line[512];
	snprintf(line, sizeof(line), "fixed weights=%s acts=%s bias_bits=%ld input_bits=%d static=%d calib=%ld "
		 "test_accuracy=%.4f", wspec, aspec, bbits, in_bw, stat, calib, qr.accuracy);
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
