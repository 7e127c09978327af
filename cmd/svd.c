/* svd.c: dcc svd -- a fully connected layer replaced by two low-rank
 * factors (Qiu et al., FPGA 2016), optionally fine-tuned; or its singular
 * value spectrum. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../lib/dcc_nn.h"
#include "../lib/dcc_svd.h"
#include "stage.h"

static const char usage[] =
	"usage: dcc svd IN.dct --layer NAME (--rank R | --energy E | --params F) [OPTIONS] -o OUT.dct\n"
	"       dcc svd IN.dct --layer NAME --spectrum [--json]\n"
	"\n"
	"Replaces fc layer NAME (out x in) by two fc layers in sequence with no\n"
	"nonlinearity between: NAME (R x in) = S_R V_R^T with a zero bias, then\n"
	"NAME_u (out x R) = U_R with the original bias.  On a container without a\n"
	"graph, the 2-D tensor NAME becomes NAME_sv and NAME_u.\n"
	"\n"
	"  --layer NAME          the fc layer (or bare 2-D tensor)\n"
	"  --rank R              keep R singular values\n"
	"  --energy E            the smallest R keeping fraction E of sum s^2\n"
	"  --params F            the largest R whose factors hold at most fraction\n"
	"                        F of the layer's weights\n"
	"  --method M            exact (LAPACK dgesdd in double, default) or\n"
	"                        randomized (Halko-Martinsson-Tropp)\n"
	"  --oversample P        randomized: extra sketch columns (default 10)\n"
	"  --power Q             randomized: power iterations (default 2)\n"
	"  --spectrum            print the singular values and stop\n"
	"  --finetune N          epochs of training after the factorisation\n"
	CMD_TUNE_HELP
	"  --json                print JSON\n"
	"  -o, --output OUT      the model to write\n"
	"  --force               overwrite OUT even when it is the input\n"
	"  -h, --help            show this help\n";

typedef struct svd_args {
	cmd_stage st;
	const char *layer, *method;
	long rank, over, power, finetune;
	double energy, params;
	int spectrum, randomized;
} svd_args;

static int parse(int argc, char **argv, svd_args *a)
{
	enum { O_LAYER = 256, O_RANK, O_ENERGY, O_PARAMS, O_METHOD, O_OVER, O_POWER, O_SPECTRUM, O_FINETUNE };
	static const struct option opts[] = {
		{"layer", required_argument, NULL, O_LAYER}, {"rank", required_argument, NULL, O_RANK},
		{"energy", required_argument, NULL, O_ENERGY}, {"params", required_argument, NULL, O_PARAMS},
		{"method", required_argument, NULL, O_METHOD}, {"oversample", required_argument, NULL, O_OVER},
		{"power", required_argument, NULL, O_POWER}, {"spectrum", no_argument, NULL, O_SPECTRUM},
		{"finetune", required_argument, NULL, O_FINETUNE},
		CMD_DATA_OPTIONS, CMD_TRAIN_OPTIONS, CMD_OUT_OPTIONS, {NULL, 0, NULL, 0},
	};
	cmd_stage_init(&a->st, usage);
	a->st.ctx = "finetune";
	a->method = "exact";
	a->over = 10, a->power = 2;
	a->energy = a->params = NAN;
	int c;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		int bad = 0;
		switch (c) {
		case O_LAYER: a->layer = optarg; break;
		case O_RANK: bad = cmd_parse_long(usage, "--rank", optarg, 0, 1L << 30, &a->rank); break;
		case O_ENERGY: bad = cmd_parse_double(usage, "--energy", optarg, &a->energy); break;
		case O_PARAMS: bad = cmd_parse_double(usage, "--params", optarg, &a->params); break;
		case O_METHOD: a->method = optarg; break;
		case O_OVER: bad = cmd_parse_long(usage, "--oversample", optarg, 0, 10000, &a->over); break;
		case O_POWER: bad = cmd_parse_long(usage, "--power", optarg, 0, 100, &a->power); break;
		case O_SPECTRUM: a->spectrum = 1; break;
		case O_FINETUNE: bad = cmd_parse_long(usage, "--finetune", optarg, 0, 100000, &a->finetune); break;
		default: CMD_STAGE_DEFAULT(&a->st, c);
		}
		if (bad)
			return bad;
	}
	int rc = cmd_stage_args(&a->st, argc, argv, 0);
	if (rc)
		return rc;
	if (!a->layer)
		return cmd_usage_error(usage, "no --layer given");
	a->randomized = !strcmp(a->method, "randomized");
	if (!a->randomized && strcmp(a->method, "exact"))
		return cmd_usage_error(usage, "--method: '%s' is not exact or randomized", a->method);
	if (a->spectrum)
		return 0;
	if ((a->rank > 0) + !isnan(a->energy) + !isnan(a->params) != 1)
		return cmd_usage_error(usage, "give one of --rank, --energy or --params (rank >= 1)");
	if (!a->st.out)
		return cmd_usage_error(usage, "no output given (-o OUT.dct)");
	if (!isnan(a->energy) && !(a->energy > 0 && a->energy <= 1))
		return cmd_usage_error(usage, "--energy must be in (0, 1]");
	if (!isnan(a->params) && !(a->params > 0 && a->params <= 1))
		return cmd_usage_error(usage, "--params must be in (0, 1]");
	return 0;
}

/* The weight to factor: an unpruned float32 matrix of an fc layer. */
static dcc_tensor *find_weight(const svd_args *a, dcc_model *m)
{
	const char *in = a->st.in, *layer = a->layer;
	int has_graph = dcc_model_get_kv(m, "dcc.graph") != NULL;
	char wname[DCC_MAX_NAME + 16], mk[DCC_MAX_NAME + 40];
	snprintf(wname, sizeof(wname), has_graph ? "%s.weight" : "%s", layer);
	dcc_tensor *t = dcc_model_find(m, wname);
	if (has_graph) { /* must be an fc layer of the graph */
		const dcc_kv *g = dcc_model_get_kv(m, "dcc.graph");
		int found = 0;
		for (size_t i = 0; i < g->count; i++) {
			char op[16], nm[DCC_MAX_NAME + 1];
			if (sscanf(g->s[i], "%15s %1024s", op, nm) == 2 && !strcmp(nm, layer))
				found = !strcmp(op, "fc") ? 1 : -1;
		}
		if (found != 1) {
			cmd_err("%s: '%s' is %s", in, layer, found ? "not an fc layer" : "not a layer of the graph");
			return NULL;
		}
	}
	if (!t || t->ndim != 2 || t->dtype != DCC_F32) {
		cmd_err("%s: '%s' is %s", in, wname,
			!t ? "missing (shared or fixed layers are factored before dcc share and dcc fixed)"
			   : t->ndim != 2 ? "not 2-D" : "not float32 (factor before dcc share and dcc fixed)");
		return NULL;
	}
	if (dcc_model_find(m, dcc_part_name(mk, sizeof(mk), wname, DCC_PART_MASK))) {
		cmd_err("%s: '%s' is pruned; factor before dcc prune", in, wname);
		return NULL;
	}
	return t;
}

static void print_spectrum(const svd_args *a, const double *s, size_t M, size_t N, size_t K)
{
	if (a->st.json) {
		json_t *v = json_array();
		for (size_t i = 0; i < K; i++)
			json_array_append_new(v, json_real(s[i]));
		json_t *o = json_pack("{s:s, s:I, s:I, s:o}", "layer", a->layer, "rows", (json_int_t)M, "cols",
				      (json_int_t)N, "singular_values", v);
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(8));
		putchar('\n');
		json_decref(o);
		return;
	}
	double tot = 0, acc = 0;
	for (size_t i = 0; i < K; i++)
		tot += s[i] * s[i];
	printf("%s: %zux%zu, %zu singular values\n  %6s %14s %9s %12s\n", a->layer, M, N, K, "rank", "sigma", "energy",
	       "params");
	for (size_t i = 0; i < K; i++) {
		acc += s[i] * s[i];
		printf("  %6zu %14.6g %8.4f%% %11.2f%%\n", i + 1, s[i], tot > 0 ? 100 * acc / tot : 0,
		       100.0 * (double)((i + 1) * (M + N)) / (double)(M * N));
	}
}

/* What the factorisation gave. */
typedef struct svd_result {
	size_t M, N, R;
	double rel, secs, acc[3]; /* before, factored, fine-tuned */
} svd_result;

static int report(const svd_args *a, dcc_model *m, const svd_result *r)
{
	size_t before = r->M * r->N, after = r->R * (r->M + r->N);
	const double *acc = r->acc;
	char line[512], kv[64], rec[48];
	int o = snprintf(line, sizeof(line), "svd layer=%s rank=%zu method=%s rel_error=%.6g params=%zu/%zu finetune=%ld%s",
			 a->layer, r->R, a->method, r->rel, after, before, a->finetune,
			 cmd_stage_recipe(&a->st, rec, sizeof(rec)));
	if (!isnan(acc[2]))
		snprintf(line + o, sizeof(line) - (size_t)o, " %s", cmd_stage_key(&a->st, acc[2], kv, sizeof(kv)));
	if (cmd_provenance(m, line, cmd_stage_acc(&a->st, acc[2])))
		return EXIT_FAIL;
	if (a->st.json) {
		json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:s}", "layer", a->layer, "rows",
				      (json_int_t)r->M, "cols", (json_int_t)r->N, "rank", (json_int_t)r->R, "params_before",
				      (json_int_t)before, "params_after", (json_int_t)after, "rel_error", r->rel, "seconds",
				      r->secs, "method", a->method);
		if (!isnan(acc[0])) {
			json_object_set_new(j, "accuracy_before", json_real(acc[0]));
			json_object_set_new(j, "accuracy_factored", json_real(acc[1]));
			if (a->finetune)
				json_object_set_new(j, "accuracy_finetuned", json_real(acc[2]));
		}
		json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(8));
		putchar('\n');
		json_decref(j);
		return 0;
	}
	printf("%s: %zux%zu -> rank %zu: %zu -> %zu weights (%.1f%%), relative Frobenius error %.4g (%s, %.2f s)\n",
	       a->layer, r->M, r->N, r->R, before, after, 100.0 * (double)after / (double)before, r->rel, a->method, r->secs);
	if (!isnan(acc[0])) {
		char f[3][32];
		printf("%s %s before, %s factored", cmd_stage_metric(&a->st), cmd_stage_fig(&a->st, acc[0], f[0], 32),
		       cmd_stage_fig(&a->st, acc[1], f[1], 32));
		if (a->finetune)
			printf(", %s after %ld epochs of fine-tuning", cmd_stage_fig(&a->st, acc[2], f[2], 32), a->finetune);
		printf("\n");
	}
	return 0;
}

/* Factors the weight t of m to the asked rank and puts the factors in place. */
static int factor(svd_args *a, dcc_model *m, dcc_tensor *t, const double *s, svd_result *r)
{
	dcc_error e = {0};
	size_t M = r->M, N = r->N, K = M < N ? M : N;
	r->R = a->rank > 0 ? (size_t)a->rank : !isnan(a->energy) ? dcc_svd_rank_energy(s, K, a->energy)
								 : dcc_svd_rank_params(M, N, a->params);
	if (r->R > K) {
		cmd_err("%s: rank %zu is above min(%zu, %zu)", a->st.in, r->R, M, N);
		return EXIT_USAGE;
	}
	int measure = dcc_model_get_kv(m, "dcc.graph") && (a->finetune || a->st.data);
	if (measure && cmd_stage_eval(&a->st, m, &r->acc[0]))
		return EXIT_FAIL;
	float *fa = malloc(r->R * N * sizeof(float) + 1), *fu = malloc(M * r->R * sizeof(float) + 1);
	if (!fa || !fu) {
		free(fa), free(fu);
		cmd_err("out of memory");
		return EXIT_FAIL;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (dcc_svd_factor(t->data, M, N, r->R, a->randomized, (int)a->over, (int)a->power,
			   a->st.seed < 0 ? 1 : (uint64_t)a->st.seed, fa, fu, &r->rel, &e)) {
		free(fa), free(fu);
		return cmd_fail(a->st.in, &e);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	r->secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
	if (dcc_svd_replace(m, a->layer, r->R, fa, fu, &e)) /* takes fa and fu */
		return cmd_fail(a->st.in, &e);
	if (measure) {
		if (cmd_stage_eval(&a->st, m, &r->acc[1]))
			return EXIT_FAIL;
		r->acc[2] = r->acc[1];
		if (a->finetune && cmd_stage_run(&a->st, m, (int)a->finetune, &r->acc[2]))
			return EXIT_FAIL;
	}
	return 0;
}

int cmd_svd(int argc, char **argv)
{
	svd_args a = {0};
	int rc = parse(argc, argv, &a);
	if (rc)
		return cmd_parsed(rc);
	dcc_model *m;
	if (cmd_load(a.st.in, &m))
		return EXIT_FAIL;
	dcc_error e = {0};
	double *s = NULL;
	svd_result r = {0, 0, 0, 0, 0, {NAN, NAN, NAN}};
	rc = EXIT_FAIL;
	dcc_tensor *t = find_weight(&a, m);
	if (!t)
		goto done;
	r.M = (size_t)t->shape[0], r.N = (size_t)t->shape[1];
	size_t K = r.M < r.N ? r.M : r.N;
	if (!(s = malloc(K * sizeof(double))))
		goto done;
	if ((a.spectrum || !isnan(a.energy)) && dcc_svd_values(t->data, r.M, r.N, s, &e)) {
		cmd_fail(a.st.in, &e);
		goto done;
	}
	if (a.spectrum) {
		print_spectrum(&a, s, r.M, r.N, K);
		rc = cmd_finish(EXIT_OK);
	} else if (!(rc = factor(&a, m, t, s, &r))) {
		rc = report(&a, m, &r) ? EXIT_FAIL : cmd_stage_save(&a.st, m);
	}
done:
	free(s);
	cmd_stage_free(&a.st);
	dcc_model_free(m);
	return rc;
}
