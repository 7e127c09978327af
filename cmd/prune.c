/* prune.c: dcc prune -- magnitude pruning (unstructured, bank-balanced,
 * PE-balanced; by sparsity, by a multiple of the standard deviation, or by
 * one global threshold), optionally iterative with masked retraining. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../lib/dcc_nn.h"
#include "../lib/dcc_prune.h"
#include "common.h"

static const char usage[] =
	"usage: dcc prune IN.dct (--sparsity SPEC | --std-factor Q | --global F) [OPTIONS] -o OUT.dct\n"
	"\n"
	"Sets the smallest-magnitude weights of each layer to exactly zero and\n"
	"records them in a mask (NAME.mask) that retraining and every later stage\n"
	"respect.  Biases are never pruned; the first layer of a CNN only when\n"
	"named in SPEC or with --include-first.  Pruning a pruned model only\n"
	"removes more.\n"
	"\n"
	"  --sparsity SPEC       F for every layer, or LAYER=F,...[,default=F]\n"
	"                        (F = fraction of weights set to zero, in [0, 1))\n"
	"  --std-factor Q        cut |w| < Q x std of the layer's weights\n"
	"  --global F            one threshold across the layers, cutting F of all\n"
	"  --bank B              bank-balanced (BBS): every B consecutive weights of\n"
	"                        a row keep the same number; per layer\n"
	"                        LAYER=B,...[,default=B]\n"
	"  --balance-pes P       load-balanced (ESE): row i goes to PE i mod P and\n"
	"                        every PE keeps the same number\n"
	"  --include-first       prune the first layer of a CNN too\n"
	"  --retrain N           epochs of masked retraining after each step\n"
	"  --steps K             reach the target in K steps (iterative pruning)\n"
	CMD_TUNE_HELP
	"  --json                print the per-layer table as JSON\n"
	"  -o, --output OUT      the model to write\n"
	"  --force               overwrite OUT even when it is the input\n"
	"  -h, --help            show this help\n";

static void table(const dcc_model *m, const dcc_prunable *p, size_t n, int as_json, json_t *extra)
{
	uint64_t tot = 0, nz = 0;
	json_t *layers = json_array();
	if (!as_json)
		printf("  %-22s %-14s %12s %12s %8s\n", "tensor", "shape", "weights", "nonzero", "density");
	for (size_t i = 0; i < n; i++) {
		const dcc_tensor *t = dcc_model_find(m, p[i].tensor);
		uint64_t numel = dcc_tensor_numel(t), k = numel - dcc_weight_zeros(m, p[i].tensor);
		tot += numel;
		nz += k;
		char shape[64];
		int o = 0;
		for (int d = 0; d < t->ndim && o < (int)sizeof(shape) - 24; d++)
			o += snprintf(shape + o, sizeof(shape) - (size_t)o, "%s%llu", d ? "x" : "", (unsigned long long)t->shape[d]);
		if (as_json)
			json_array_append_new(layers, json_pack("{s:s, s:s, s:I, s:I, s:f}", "layer", p[i].layer, "tensor",
								p[i].tensor, "weights", (json_int_t)numel, "nonzero",
								(json_int_t)k, "density", numel ? (double)k / (double)numel : 0.0));
		else
			printf("  %-22s %-14s %12llu %12llu %7.2f%%\n", p[i].tensor, shape, (unsigned long long)numel,
			       (unsigned long long)k, numel ? 100.0 * (double)k / (double)numel : 0.0);
	}
	if (as_json) {
		json_t *o = json_pack("{s:o, s:I, s:I, s:f}", "layers", layers, "weights", (json_int_t)tot, "nonzero",
				      (json_int_t)nz, "density", tot ? (double)nz / (double)tot : 0.0);
		json_object_update(o, extra);
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
		putchar('\n');
		json_decref(o);
	} else {
		json_decref(layers);
		printf("  %-22s %-14s %12llu %12llu %7.2f%%  (%.1fx fewer weights)\n", "total", "",
		       (unsigned long long)tot, (unsigned long long)nz, tot ? 100.0 * (double)nz / (double)tot : 0.0,
		       nz ? (double)tot / (double)nz : 0.0);
	}
}

int cmd_prune(int argc, char **argv)
{
	enum { O_SPARSITY = 256, O_STD, O_GLOBAL, O_BANK, O_PES, O_FIRST, O_RETRAIN, O_STEPS, O_JSON, O_FORCE };
	static const struct option opts[] = {
		{"sparsity", required_argument, NULL, O_SPARSITY}, {"std-factor", required_argument, NULL, O_STD},
		{"global", required_argument, NULL, O_GLOBAL}, {"bank", required_argument, NULL, O_BANK},
		{"balance-pes", required_argument, NULL, O_PES}, {"include-first", no_argument, NULL, O_FIRST},
		{"retrain", required_argument, NULL, O_RETRAIN}, {"steps", required_argument, NULL, O_STEPS},
		{"json", no_argument, NULL, O_JSON}, {"output", required_argument, NULL, 'o'},
		{"force", no_argument, NULL, O_FORCE}, {"help", no_argument, NULL, 'h'}, CMD_TUNE_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	const char *spec = NULL, *out = NULL, *bank = NULL;
	double stdq = NAN, global = NAN;
	long pes = 0, retrain = 0, steps = 1;
	int first = 0, as_json = 0, force = 0, c;
	cmd_tune tune;
	cmd_tune_init(&tune);
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		int bad = 0;
		switch (c) {
		case O_SPARSITY: spec = optarg; break;
		case O_STD: bad = cmd_parse_double(usage, "--std-factor", optarg, &stdq); break;
		case O_GLOBAL: bad = cmd_parse_double(usage, "--global", optarg, &global); break;
		case O_BANK: bank = optarg; break;
		case O_PES: bad = cmd_parse_long(usage, "--balance-pes", optarg, 1, 65536, &pes); break;
		case O_FIRST: first = 1; break;
		case O_RETRAIN: bad = cmd_parse_long(usage, "--retrain", optarg, 0, 100000, &retrain); break;
		case O_STEPS: bad = cmd_parse_long(usage, "--steps", optarg, 1, 1000, &steps); break;
		case O_JSON: as_json = 1; break;
		case 'o': out = optarg; break;
		case O_FORCE: force = 1; break;
		case 'h': return cmd_help(usage);
		default:
			bad = cmd_tune_option(usage, c, optarg, &tune);
			if (bad < 0)
				return cmd_usage_error(usage, NULL);
		}
		if (bad)
			return bad;
	}
	if (optind + 1 != argc)
		return cmd_usage_error(usage, optind < argc ? "give one input model" : "no input model given");
	const char *in = argv[optind];
	if (!out)
		return cmd_usage_error(usage, "no output given (-o OUT.dct)");
	if ((spec != NULL) + !isnan(stdq) + !isnan(global) != 1)
		return cmd_usage_error(usage, "give one of --sparsity, --std-factor or --global");
	if (bank && pes)
		return cmd_usage_error(usage, "--bank and --balance-pes are different patterns: give one");
	if ((bank || pes) && !spec)
		return cmd_usage_error(usage, "--bank and --balance-pes work with --sparsity");
	if (!isnan(global) && !(global >= 0 && global < 1))
		return cmd_usage_error(usage, "--global must be in [0, 1)");
	if (!isnan(stdq) && !(stdq >= 0 && stdq < 100))
		return cmd_usage_error(usage, "--std-factor must be in [0, 100)");
	if (steps > 1 && !retrain)
		cmd_err("warning: --steps %ld without --retrain prunes the same weights as one step", steps);

	dcc_model *m;
	if (cmd_load(in, &m))
		return EXIT_FAIL;
	dcc_error e = {0};
	dcc_prunable *p = NULL;
	size_t n = 0;
	int rc = EXIT_FAIL;
	double *tg = NULL, *bk = NULL;
	json_t *extra = json_object();
	if (dcc_prunable_list(m, &p, &n, &e)) {
		cmd_fail(in, &e);
		goto done;
	}
	if (!n) {
		cmd_err("%s: no prunable weights (float tensors of two or more dimensions)", in);
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		const dcc_tensor *t = dcc_model_find(m, p[i].tensor);
		if (!t || (t->dtype != DCC_F32 && t->dtype != DCC_F64)) {
			cmd_err("%s: '%s' is %s: prune before dcc share and dcc fixed", in, p[i].tensor,
				t ? dcc_dtype_name(t->dtype) : "shared (codebook and index)");
			goto done;
		}
	}
	int has_graph = dcc_model_get_kv(m, "dcc.graph") != NULL;
	if (retrain && !has_graph) {
		cmd_err("%s: --retrain needs a model with a graph (dcc train, or dcc import --net)", in);
		rc = EXIT_USAGE;
		goto done;
	}
	int cnn = dcc_model_is_cnn(p, n), first_ok = first || !cnn;
	if (!(tg = calloc(n, sizeof(*tg))) || !(bk = calloc(n, sizeof(*bk))))
		goto done;
	if (spec && (rc = cmd_parse_layer_spec(usage, "--sparsity", spec, p, n, first_ok, 0, tg)))
		goto done;
	if (bank && (rc = cmd_parse_banks(usage, bank, p, n, tg, bk)))
		goto done;
	rc = EXIT_FAIL;
	/* the layers in play: std and global use every prunable one (not a CNN's first) */
	size_t *sel = calloc(n, sizeof(size_t)), ns = 0;
	dcc_prunable *gp = calloc(n, sizeof(dcc_prunable));
	if (!sel || !gp) {
		free(sel), free(gp);
		goto done;
	}
	for (size_t i = 0; i < n; i++)
		if (spec ? !isnan(tg[i]) : first_ok || !p[i].first)
			sel[ns++] = i;
	/* the start: sparsity already there, so iterative steps begin from it */
	double *s0 = calloc(n, sizeof(double));
	for (size_t i = 0; s0 && i < n; i++)
		s0[i] = (double)dcc_weight_zeros(m, p[i].tensor) / (double)dcc_tensor_numel(dcc_model_find(m, p[i].tensor));
	double acc0 = NAN, acc_cut = NAN, acc = NAN;
	if (has_graph && (retrain || tune.data) && cmd_tune_eval(&tune, m, &acc0))
		goto done2;
	dcc_prune_spec ps = {bank ? DCC_PATTERN_BANK : pes ? DCC_PATTERN_PES : DCC_PATTERN_UNSTRUCTURED, 0, (int)pes};
	double select_s = 0; /* the selections alone, without I/O or retraining */
	for (long k = 1; k <= steps; k++) {
		double frac = (double)k / (double)steps;
		int bad = 0;
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (spec) {
			for (size_t j = 0; j < ns && !bad; j++) {
				size_t i = sel[j];
				/* equal ratios of density per step: each step cuts the same share */
				double s = 1 - (1 - s0[i]) * pow((1 - tg[i]) / (1 - s0[i]), frac);
				if (k == steps)
					s = tg[i];
				if (s < s0[i])
					s = s0[i];
				ps.bank = bank ? (int)bk[i] : 0;
				bad = dcc_prune_tensor(m, &p[i], s, &ps, &e);
			}
		} else if (!isnan(stdq)) {
			for (size_t j = 0; j < ns && !bad; j++)
				bad = dcc_prune_std(m, &p[sel[j]], stdq * frac, &e);
		} else {
			for (size_t j = 0; j < ns; j++)
				gp[j] = p[sel[j]];
			bad = dcc_prune_global(m, gp, ns, global * frac, &e);
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		select_s += (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
		if (bad) {
			cmd_fail(in, &e);
			goto done2;
		}
		if (has_graph && (retrain || tune.data)) {
			if (cmd_tune_eval(&tune, m, &acc_cut))
				goto done2;
			if (retrain && cmd_tune_run(&tune, m, (int)retrain, &acc))
				goto done2;
			if (!as_json) {
				if (steps > 1)
					printf("step %ld/%ld: ", k, steps);
				printf("accuracy %.2f%% before, %.2f%% pruned", 100 * acc0, 100 * acc_cut);
				if (retrain)
					printf(", %.2f%% after %ld epochs of retraining", 100 * acc, retrain);
				printf("\n");
				fflush(stdout); /* a log shows each step as it ends */
			}
		}
	}
	if (!retrain)
		acc = acc_cut;
	char line[1024];
	int o = snprintf(line, sizeof(line), "prune");
	if (spec)
		o += snprintf(line + o, sizeof(line) - (size_t)o, " sparsity=%s", spec);
	if (!isnan(stdq))
		o += snprintf(line + o, sizeof(line) - (size_t)o, " std_factor=%g", stdq);
	if (!isnan(global))
		o += snprintf(line + o, sizeof(line) - (size_t)o, " global=%g", global);
	o += snprintf(line + o, sizeof(line) - (size_t)o, " pattern=%s",
		      bank ? "bank" : pes ? "pes" : "unstructured");
	if (bank)
		o += snprintf(line + o, sizeof(line) - (size_t)o, " bank=%s", bank);
	if (pes)
		o += snprintf(line + o, sizeof(line) - (size_t)o, " pes=%ld", pes);
	o += snprintf(line + o, sizeof(line) - (size_t)o, " steps=%ld retrain=%ld", steps, retrain);
	if (!isnan(acc))
		snprintf(line + o, sizeof(line) - (size_t)o, " test_accuracy=%.4f", acc);
	cmd_provenance(m, line);
	if (!isnan(acc))
		dcc_model_set_f64(m, "dcc.accuracy", acc);
	else
		dcc_model_del_kv(m, "dcc.accuracy"); /* the float figure no longer holds */
	if (!isnan(acc0)) {
		json_object_set_new(extra, "accuracy_before", json_real(acc0));
		json_object_set_new(extra, "accuracy_pruned", json_real(acc_cut));
		if (retrain)
			json_object_set_new(extra, "accuracy_retrained", json_real(acc));
	}
	json_object_set_new(extra, "select_seconds", json_real(select_s));
	table(m, p, n, as_json, extra);
	const char *inputs[] = {in, NULL};
	rc = cmd_save(out, m, inputs, force) ? EXIT_FAIL : cmd_finish(EXIT_OK);
done2:
	free(s0);
	free(sel);
	free(gp);
done:
	json_decref(extra);
	free(tg), free(bk);
	dcc_prunable_free(p, n);
	cmd_tune_free(&tune);
	dcc_model_free(m);
	return rc;
}
