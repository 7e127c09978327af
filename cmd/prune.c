/* prune.c: dcc prune -- magnitude pruning (unstructured, bank-balanced,
 * PE-balanced; by sparsity, by a multiple of the standard deviation, or by
 * one global threshold), optionally iterative with masked retraining. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/dcc_nn.h"
#include "../lib/dcc_prune.h"
#include "stage.h"

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
	"  --allow-empty         accept a layer left with no weights (else an error)\n"
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

/* What dcc prune was asked for. */
typedef struct prune_args {
	cmd_stage st;
	const char *spec, *bank;
	double stdq, global;
	long pes, retrain, steps;
	int first, allow_empty;
} prune_args;

static int parse(int argc, char **argv, prune_args *a)
{
	enum { O_SPARSITY = 256, O_STD, O_GLOBAL, O_BANK, O_PES, O_FIRST, O_RETRAIN, O_STEPS, O_EMPTY };
	static const struct option opts[] = {
		{"sparsity", required_argument, NULL, O_SPARSITY}, {"std-factor", required_argument, NULL, O_STD},
		{"global", required_argument, NULL, O_GLOBAL}, {"bank", required_argument, NULL, O_BANK},
		{"balance-pes", required_argument, NULL, O_PES}, {"include-first", no_argument, NULL, O_FIRST},
		{"retrain", required_argument, NULL, O_RETRAIN}, {"steps", required_argument, NULL, O_STEPS},
		{"allow-empty", no_argument, NULL, O_EMPTY}, CMD_DATA_OPTIONS, CMD_TRAIN_OPTIONS, CMD_OUT_OPTIONS, {NULL, 0, NULL, 0},
	};
	cmd_stage_init(&a->st, usage);
	a->stdq = a->global = NAN;
	a->steps = 1;
	int c;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		int bad = 0;
		switch (c) {
		case O_SPARSITY: a->spec = optarg; break;
		case O_STD: bad = cmd_parse_double(usage, "--std-factor", optarg, &a->stdq); break;
		case O_GLOBAL: bad = cmd_parse_double(usage, "--global", optarg, &a->global); break;
		case O_BANK: a->bank = optarg; break;
		case O_PES: bad = cmd_parse_long(usage, "--balance-pes", optarg, 1, 65536, &a->pes); break;
		case O_FIRST: a->first = 1; break;
		case O_EMPTY: a->allow_empty = 1; break;
		case O_RETRAIN: bad = cmd_parse_long(usage, "--retrain", optarg, 0, 100000, &a->retrain); break;
		case O_STEPS: bad = cmd_parse_long(usage, "--steps", optarg, 1, 1000, &a->steps); break;
		default: CMD_STAGE_DEFAULT(&a->st, c);
		}
		if (bad)
			return bad;
	}
	int rc = cmd_stage_args(&a->st, argc, argv, 1);
	if (rc)
		return rc;
	if ((a->spec != NULL) + !isnan(a->stdq) + !isnan(a->global) != 1)
		return cmd_usage_error(usage, "give one of --sparsity, --std-factor or --global");
	if (a->bank && a->pes)
		return cmd_usage_error(usage, "--bank and --balance-pes are different patterns: give one");
	if ((a->bank || a->pes) && !a->spec)
		return cmd_usage_error(usage, "--bank and --balance-pes work with --sparsity");
	if (!isnan(a->global) && !(a->global >= 0 && a->global < 1))
		return cmd_usage_error(usage, "--global must be in [0, 1)");
	if (!isnan(a->stdq) && !(a->stdq >= 0 && a->stdq < 100))
		return cmd_usage_error(usage, "--std-factor must be in [0, 100)");
	if (a->steps > 1 && !a->retrain)
		cmd_err("warning: --steps %ld without --retrain prunes the same weights as one step", a->steps);
	return 0;
}

/* Between the steps: the accuracy pruned, then after retraining. */
typedef struct step_ctx {
	prune_args *a;
	dcc_model *m;
	int measure, printed;
	double acc0, acc_cut, acc;
} step_ctx;

static int after_step(void *ctx, int k, int steps, dcc_error *err)
{
	step_ctx *s = ctx;
	(void)err;
	if (!s->measure)
		return 0;
	if (cmd_stage_eval(&s->a->st, s->m, &s->acc_cut) ||
	    (s->a->retrain && cmd_stage_run(&s->a->st, s->m, (int)s->a->retrain, &s->acc))) {
		s->printed = 1; /* cmd_stage_* said why */
		return DCC_E_ARG;
	}
	if (!s->a->st.json) {
		if (steps > 1)
			printf("step %d/%d: ", k, steps);
		const cmd_stage *st = &s->a->st;
		char f[3][32];
		printf("%s %s before, %s pruned", cmd_stage_metric(st), cmd_stage_fig(st, s->acc0, f[0], 32),
		       cmd_stage_fig(st, s->acc_cut, f[1], 32));
		if (s->a->retrain)
			printf(", %s after %ld epochs of retraining", cmd_stage_fig(st, s->acc, f[2], 32), s->a->retrain);
		printf("\n");
		fflush(stdout); /* a log shows each step as it ends */
	}
	return 0;
}

/* "prune sparsity=... pattern=... steps=K retrain=N test_accuracy=A" */
static int provenance(dcc_model *m, const prune_args *a, double acc)
{
	char line[1024], kv[64], rec[48];
	size_t o = (size_t)snprintf(line, sizeof(line), "prune");
#define ADD(...) (o += o < sizeof(line) ? (size_t)snprintf(line + o, sizeof(line) - o, __VA_ARGS__) : 0)
	if (a->spec)
		ADD(" sparsity=%s", a->spec);
	if (!isnan(a->stdq))
		ADD(" std_factor=%g", a->stdq);
	if (!isnan(a->global))
		ADD(" global=%g", a->global);
	ADD(" pattern=%s", a->bank ? "bank" : a->pes ? "pes" : "unstructured");
	if (a->bank)
		ADD(" bank=%s", a->bank);
	if (a->pes)
		ADD(" pes=%ld", a->pes);
	ADD(" steps=%ld retrain=%ld%s", a->steps, a->retrain, cmd_stage_recipe(&a->st, rec, sizeof(rec)));
	if (!isnan(acc))
		ADD(" %s", cmd_stage_key(&a->st, acc, kv, sizeof(kv)));
#undef ADD
	return cmd_provenance(m, line, cmd_stage_acc(&a->st, acc));
}

/* The layers, each float, and the plan's per-layer targets and banks. */
static int plan_layers(prune_args *a, dcc_model *m, dcc_prune_plan *pl, double **tg, double **bk)
{
	dcc_error e = {0};
	dcc_prunable *p = NULL;
	size_t n = 0;
	const char *in = a->st.in;
	if (dcc_prunable_list(m, &p, &n, &e))
		return cmd_fail(in, &e);
	pl->p = p, pl->n = n;
	if (!n) {
		cmd_err("%s: no prunable weights (float tensors of two or more dimensions)", in);
		return EXIT_FAIL;
	}
	for (size_t i = 0; i < n; i++) {
		const dcc_tensor *t = dcc_model_find(m, p[i].tensor);
		if (!t || (t->dtype != DCC_F32 && t->dtype != DCC_F64)) {
			cmd_err("%s: '%s' is %s: prune before dcc share and dcc fixed", in, p[i].tensor,
				t ? dcc_dtype_name(t->dtype) : "shared (codebook and index)");
			return EXIT_FAIL;
		}
	}
	pl->first_ok = a->first || !dcc_model_is_cnn(p, n);
	if (!(*tg = calloc(n, sizeof(double))) || !(*bk = calloc(n, sizeof(double)))) {
		cmd_err("out of memory");
		return EXIT_FAIL;
	}
	int rc = 0;
	if (a->spec)
		rc = cmd_parse_layer_spec(usage, "--sparsity", a->spec, p, n, pl->first_ok, 0, *tg);
	if (!rc && a->bank)
		rc = cmd_parse_banks(usage, a->bank, p, n, *tg, *bk);
	pl->method = a->spec ? DCC_PRUNE_SPARSITY : !isnan(a->stdq) ? DCC_PRUNE_STD : DCC_PRUNE_GLOBAL;
	pl->target = *tg, pl->bank = a->bank ? *bk : NULL;
	pl->amount = !isnan(a->stdq) ? a->stdq : a->global;
	pl->spec = (dcc_prune_spec){a->bank ? DCC_PATTERN_BANK : a->pes ? DCC_PATTERN_PES : DCC_PATTERN_UNSTRUCTURED, 0,
				    (int)a->pes};
	pl->steps = (int)a->steps;
	pl->allow_empty = a->allow_empty;
	for (size_t i = 0; !rc && a->bank && i < n; i++) { /* what banks do with a row's remainder */
		size_t cols = dcc_tensor_numel(dcc_model_find(m, p[i].tensor)) / (p[i].rows ? p[i].rows : 1);
		size_t B = (size_t)(*bk)[i];
		if (!isnan((*tg)[i]) && B && B <= cols && cols % B)
			fprintf(stderr, "%s: note: '%s': rows of %zu in banks of %zu leave a last bank of %zu, which keeps "
				"its own share (encode --layout cbs needs banks that divide the rows)\n", cmd_name,
				p[i].tensor, cols, B, cols % B);
	}
	return rc;
}

int cmd_prune(int argc, char **argv)
{
	prune_args a = {0};
	int rc = parse(argc, argv, &a);
	if (rc)
		return cmd_parsed(rc);
	dcc_model *m;
	if (cmd_load(a.st.in, &m))
		return EXIT_FAIL;
	dcc_error e = {0};
	dcc_prune_plan pl = {0};
	double *tg = NULL, *bk = NULL, select_s = 0;
	json_t *extra = json_object();
	int has_graph = dcc_model_get_kv(m, "dcc.graph") != NULL;
	step_ctx sc = {&a, m, has_graph && (a.retrain || a.st.data), 0, NAN, NAN, NAN};
	if ((rc = plan_layers(&a, m, &pl, &tg, &bk)))
		goto done;
	rc = EXIT_FAIL;
	if (a.retrain && !has_graph) {
		cmd_err("%s: --retrain needs a model with a graph (dcc train, or dcc import --net)", a.st.in);
		rc = EXIT_USAGE;
		goto done;
	}
	if (sc.measure && cmd_stage_eval(&a.st, m, &sc.acc0))
		goto done;
	pl.after_step = after_step, pl.ctx = &sc;
	if (dcc_prune_run(m, &pl, &select_s, &e)) {
		if (!sc.printed)
			cmd_fail(a.st.in, &e);
		goto done;
	}
	double acc = a.retrain ? sc.acc : sc.acc_cut;
	if (provenance(m, &a, acc))
		goto done;
	if (!isnan(sc.acc0)) {
		json_object_set_new(extra, "accuracy_before", json_real(sc.acc0));
		json_object_set_new(extra, "accuracy_pruned", json_real(sc.acc_cut));
		if (a.retrain)
			json_object_set_new(extra, "accuracy_retrained", json_real(acc));
	}
	json_object_set_new(extra, "select_seconds", json_real(select_s));
	table(m, pl.p, pl.n, a.st.json, extra);
	rc = cmd_stage_save(&a.st, m);
done:
	json_decref(extra);
	free(tg), free(bk);
	dcc_prunable_free((dcc_prunable *)pl.p, pl.n);
	cmd_stage_free(&a.st);
	dcc_model_free(m);
	return rc;
}
