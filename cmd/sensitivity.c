/* sensitivity.c: dcc sensitivity -- how much each layer alone tolerates:
 * test accuracy after pruning one layer to each sparsity level, without
 * retraining, and the per-layer sparsity an accuracy budget allows. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/dcc_nn.h"
#include "../lib/dcc_prune.h"
#include "common.h"

static const char usage[] =
	"usage: dcc sensitivity [--data DIR] [--levels L,...] [--budget POINTS] [--json] [--limit N] [--threads N] MODEL.dct\n"
	"\n"
	"For each prunable layer alone, prunes it by magnitude to each sparsity\n"
	"level (no retraining; the other layers untouched) and measures the test\n"
	"accuracy.  With --budget, suggests for each layer the highest level whose\n"
	"accuracy stays within POINTS percentage points of the unpruned model, as\n"
	"a --sparsity SPEC for dcc prune.\n"
	"\n"
	"  --data DIR        IDX data set (default " DCC_DEFAULT_DATA ")\n"
	"  --levels L,...    sparsity levels (default 0,0.1,...,0.9,0.95,0.99)\n"
	"  --budget POINTS   accuracy loss allowed per layer (default 0.5)\n"
	"  --json            print JSON\n"
	"  --limit N         evaluate on the first N test images only\n"
	"  --threads N       worker threads (default: all cores)\n"
	"  -h, --help        show this help\n";

#define MAX_LEVELS 64

static int parse_levels(const char *s, double *lv, int *n)
{
	*n = 0;
	const char *q = s;
	while (*q) {
		char *end;
		double f = strtod(q, &end);
		if (end == q || (*end && *end != ',') || !(f >= 0 && f < 1) || *n == MAX_LEVELS)
			return cmd_usage_error(usage, "--levels: '%s' is not a list of fractions in [0, 1)", s);
		lv[(*n)++] = f;
		q = *end ? end + 1 : end;
	}
	return *n ? 0 : cmd_usage_error(usage, "--levels: empty");
}

json_t *cmd_sensitivity_json(const dcc_sensitivity_result *r, const double *lv, int nlv, const double *sugg)
{
	json_t *layers = json_array(), *levels = json_array();
	for (int j = 0; j < nlv; j++)
		json_array_append_new(levels, json_real(lv[j]));
	for (size_t i = 0; i < r->np; i++) {
		json_t *a = json_array();
		for (int j = 0; j < nlv; j++)
			json_array_append_new(a, json_real(r->acc[i * (size_t)nlv + (size_t)j]));
		json_t *l = json_pack("{s:s, s:s, s:o}", "layer", r->p[i].layer, "tensor", r->p[i].tensor, "accuracy", a);
		if (sugg)
			json_object_set_new(l, "suggested", json_real(sugg[i]));
		json_array_append_new(layers, l);
	}
	return json_pack("{s:f, s:o, s:o}", "baseline", r->base, "levels", levels, "layers", layers);
}

static void progress(void *ctx, const char *tensor, int level, int nlevels)
{
	if (*(int *)ctx)
		return;
	if (isatty(2))
		fprintf(stderr, level < nlevels ? "\rsensitivity: %s %d/%d" : "\r\033[K", tensor, level, nlevels);
	else if (level == nlevels)
		fprintf(stderr, "sensitivity: %s done\n", tensor);
}

int cmd_sensitivity(int argc, char **argv)
{
	enum { O_DATA = 256, O_LEVELS, O_BUDGET, O_JSON, O_LIMIT, O_THREADS };
	static const struct option opts[] = {
		{"data", required_argument, NULL, O_DATA}, {"levels", required_argument, NULL, O_LEVELS},
		{"budget", required_argument, NULL, O_BUDGET}, {"json", no_argument, NULL, O_JSON},
		{"limit", required_argument, NULL, O_LIMIT}, {"threads", required_argument, NULL, O_THREADS},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	const char *data = NULL;
	double lv[MAX_LEVELS] = {0, .1, .2, .3, .4, .5, .6, .7, .8, .9, .95, .99}, budget = 0.5;
	int nlv = 12, as_json = 0, c;
	long limit = 0, threads = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int bad = 0;
		switch (c) {
		case O_DATA: data = optarg; break;
		case O_LEVELS: bad = parse_levels(optarg, lv, &nlv); break;
		case O_BUDGET:
			bad = cmd_parse_double(usage, "--budget", optarg, &budget);
			if (!bad && !(budget >= 0 && budget <= 100))
				bad = cmd_usage_error(usage, "--budget must be in [0, 100] points");
			break;
		case O_JSON: as_json = 1; break;
		case O_LIMIT: bad = cmd_parse_long(usage, "--limit", optarg, 1, 0x7fffffffL, &limit); break;
		case O_THREADS: bad = cmd_parse_long(usage, "--threads", optarg, 1, 1024, &threads); break;
		case 'h': return cmd_help(usage);
		default: return cmd_usage_error(usage, NULL);
		}
		if (bad)
			return bad;
	}
	if (optind + 1 != argc)
		return cmd_usage_error(usage, optind < argc ? "give one model" : "no model given");
	const char *in = argv[optind];
	cmd_set_threads((int)threads);
	dcc_model *m;
	if (cmd_load(in, &m))
		return EXIT_FAIL;
	dcc_dataset *d = NULL;
	dcc_net *net = NULL;
	dcc_sensitivity_result sr = {0};
	dcc_error e = {0};
	int rc = EXIT_FAIL;
	if (cmd_load_data(data, &d))
		goto done;
	if (dcc_net_from_model(m, &net, &e)) {
		cmd_fail(in, &e);
		goto done;
	}
	if (net->head == DCC_OP_MSE) { /* the budget is in accuracy points */
		cmd_err("%s: the head is mse (regression): sensitivity measures accuracy; prune with --sparsity and "
			"compare the mse dcc eval reports", in);
		goto done;
	}
	if (cmd_data_fits(in, net, d, 1))
		goto done;
	dcc_scorer sc = {net, d, (size_t)limit, (int)threads};
	dcc_sensitivity_opts sopt = {lv, nlv, dcc_score_accuracy, &sc, progress, (void *)&as_json};
	if (dcc_sensitivity(m, &sopt, &sr, &e)) {
		cmd_fail(in, &e);
		goto done;
	}
	double *sugg = NULL;
	char *spec = NULL;
	if (dcc_sensitivity_suggest(&sr, lv, nlv, budget, &sugg, &spec)) {
		cmd_err("out of memory");
		goto done;
	}
	if (as_json) {
		json_t *o = cmd_sensitivity_json(&sr, lv, nlv, sugg);
		json_object_set_new(o, "budget_points", json_real(budget));
		json_object_set_new(o, "suggested_spec", json_string(spec));
		json_object_set_new(o, "images", json_integer((json_int_t)(limit && (size_t)limit < d->test.n ? (size_t)limit
													 : d->test.n)));
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
		putchar('\n');
		json_decref(o);
	} else {
		const double *acc = sr.acc;
		printf("%s: test accuracy %.2f%% unpruned; each layer pruned alone, no retraining\n", in, 100 * sr.base);
		printf("  %-20s", "sparsity");
		for (int j = 0; j < nlv; j++)
			printf(" %6.0f%%", 100 * lv[j]);
		printf("  %s\n", "suggest");
		for (size_t i = 0; i < sr.np; i++) {
			printf("  %-20s", sr.p[i].tensor);
			for (int j = 0; j < nlv; j++)
				printf(" %6.2f%%", 100 * acc[i * (size_t)nlv + (size_t)j]);
			printf("  %6.0f%%\n", 100 * sugg[i]);
		}
		printf("within %.2g points per layer: dcc prune --sparsity %s\n", budget, spec);
	}
	free(sugg), free(spec);
	rc = cmd_finish(EXIT_OK);
done:
	dcc_sensitivity_free(&sr);
	dcc_net_free(net);
	if (d)
		dcc_dataset_free(d);
	dcc_model_free(m);
	return rc;
}
