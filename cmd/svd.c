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
#include "common.h"

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

/* Rewrites "fc NAME in=I out=O" into the two factors' lines. */
static int rewrite_graph(dcc_model *m, const char *name, size_t R)
{
	const dcc_kv *g = dcc_model_get_kv(m, "dcc.graph");
	size_t n = g->count, k = 0;
	char **lines = calloc(n + 1, sizeof(char *));
	if (!lines)
		return -1;
	int rc = 0, done = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		char op[16], nm[DCC_MAX_NAME + 1];
		int in, out;
		if (!done && sscanf(g->s[i], "%15s %1024s in=%d out=%d", op, nm, &in, &out) == 4 && !strcmp(op, "fc") &&
		    !strcmp(nm, name)) {
			size_t L = strlen(name) + 64;
			lines[k] = malloc(L), lines[k + 1] = malloc(L);
			if (!lines[k] || !lines[k + 1]) {
				rc = -1;
				break;
			}
			snprintf(lines[k++], L, "fc %s in=%d out=%zu", name, in, R);
			snprintf(lines[k++], L, "fc %s_u in=%zu out=%d", name, R, out);
			done = 1;
		} else if (!(lines[k++] = strdup(g->s[i]))) {
			rc = -1;
		}
	}
	if (!rc)
		rc = dcc_model_set_arr_str(m, "dcc.graph", (const char *const *)lines, k) ? -1 : 0;
	for (size_t i = 0; i < k; i++)
		free(lines[i]);
	free(lines);
	return rc;
}

int cmd_svd(int argc, char **argv)
{
	enum { O_LAYER = 256, O_RANK, O_ENERGY, O_PARAMS, O_METHOD, O_OVER, O_POWER, O_SPECTRUM, O_FINETUNE, O_JSON,
	       O_FORCE };
	static const struct option opts[] = {
		{"layer", required_argument, NULL, O_LAYER}, {"rank", required_argument, NULL, O_RANK},
		{"energy", required_argument, NULL, O_ENERGY}, {"params", required_argument, NULL, O_PARAMS},
		{"method", required_argument, NULL, O_METHOD}, {"oversample", required_argument, NULL, O_OVER},
		{"power", required_argument, NULL, O_POWER}, {"spectrum", no_argument, NULL, O_SPECTRUM},
		{"finetune", required_argument, NULL, O_FINETUNE}, {"json", no_argument, NULL, O_JSON},
		{"output", required_argument, NULL, 'o'}, {"force", no_argument, NULL, O_FORCE},
		{"help", no_argument, NULL, 'h'}, CMD_TUNE_OPTIONS, {NULL, 0, NULL, 0},
	};
	const char *layer = NULL, *out = NULL, *method = "exact";
	long rank = 0, over = 10, power = 2, finetune = 0;
	double energy = NAN, params = NAN;
	int spectrum = 0, as_json = 0, force = 0, c;
	cmd_tune tune;
	cmd_tune_init(&tune);
	tune.ctx = "finetune";
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		int bad = 0;
		switch (c) {
		case O_LAYER: layer = optarg; break;
		case O_RANK: bad = cmd_parse_long(usage, "--rank", optarg, 0, 1L << 30, &rank); break;
		case O_ENERGY: bad = cmd_parse_double(usage, "--energy", optarg, &energy); break;
		case O_PARAMS: bad = cmd_parse_double(usage, "--params", optarg, &params); break;
		case O_METHOD: method = optarg; break;
		case O_OVER: bad = cmd_parse_long(usage, "--oversample", optarg, 0, 10000, &over); break;
		case O_POWER: bad = cmd_parse_long(usage, "--power", optarg, 0, 100, &power); break;
		case O_SPECTRUM: spectrum = 1; break;
		case O_FINETUNE: bad = cmd_parse_long(usage, "--finetune", optarg, 0, 100000, &finetune); break;
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
	if (!layer)
		return cmd_usage_error(usage, "no --layer given");
	int randomized = !strcmp(method, "randomized");
	if (!randomized && strcmp(method, "exact"))
		return cmd_usage_error(usage, "--method: '%s' is not exact or randomized", method);
	if (!spectrum) {
		if ((rank > 0) + !isnan(energy) + !isnan(params) != 1)
			return cmd_usage_error(usage, "give one of --rank, --energy or --params (rank >= 1)");
		if (!out)
			return cmd_usage_error(usage, "no output given (-o OUT.dct)");
		if (!isnan(energy) && !(energy > 0 && energy <= 1))
			return cmd_usage_error(usage, "--energy must be in (0, 1]");
		if (!isnan(params) && !(params > 0 && params <= 1))
			return cmd_usage_error(usage, "--params must be in (0, 1]");
	}
	const char *in = argv[optind];
	dcc_model *m;
	if (cmd_load(in, &m))
		return EXIT_FAIL;
	dcc_error e = {0};
	int rc = EXIT_FAIL, has_graph = dcc_model_get_kv(m, "dcc.graph") != NULL;
	char wname[DCC_MAX_NAME + 16], bname[DCC_MAX_NAME + 16];
	snprintf(wname, sizeof(wname), has_graph ? "%s.weight" : "%s", layer);
	snprintf(bname, sizeof(bname), "%s.bias", layer);
	dcc_tensor *t = dcc_model_find(m, wname);
	float *a = NULL, *u = NULL;
	double *s = NULL;
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
			goto done;
		}
	}
	if (!t || t->ndim != 2 || t->dtype != DCC_F32) {
		cmd_err("%s: '%s' is %s", in, wname,
			!t ? "missing (shared or fixed layers are factored before dcc share and dcc fixed)"
			   : t->ndim != 2 ? "not 2-D" : "not float32 (factor before dcc share and dcc fixed)");
		goto done;
	}
	char mk[DCC_MAX_NAME + 40];
	snprintf(mk, sizeof(mk), "%s.mask", wname);
	if (dcc_model_find(m, mk)) {
		cmd_err("%s: '%s' is pruned; factor before dcc prune", in, wname);
		goto done;
	}
	size_t M = (size_t)t->shape[0], N = (size_t)t->shape[1], K = M < N ? M : N;
	if (!(s = malloc(K * sizeof(double))))
		goto done;
	if (spectrum || !isnan(energy)) {
		if (dcc_svd_values(t->data, M, N, s, &e)) {
			cmd_fail(in, &e);
			goto done;
		}
	}
	if (spectrum) {
		if (as_json) {
			json_t *v = json_array();
			for (size_t i = 0; i < K; i++)
				json_array_append_new(v, json_real(s[i]));
			json_t *o = json_pack("{s:s, s:I, s:I, s:o}", "layer", layer, "rows", (json_int_t)M, "cols",
					      (json_int_t)N, "singular_values", v);
			json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(8));
			putchar('\n');
			json_decref(o);
		} else {
			double tot = 0, acc = 0;
			for (size_t i = 0; i < K; i++)
				tot += s[i] * s[i];
			printf("%s: %zux%zu, %zu singular values\n  %6s %14s %9s %12s\n", layer, M, N, K, "rank", "sigma",
			       "energy", "params");
			for (size_t i = 0; i < K; i++) {
				acc += s[i] * s[i];
				printf("  %6zu %14.6g %8.4f%% %11.2f%%\n", i + 1, s[i], tot > 0 ? 100 * acc / tot : 0,
				       100.0 * (double)((i + 1) * (M + N)) / (double)(M * N));
			}
		}
		rc = cmd_finish(EXIT_OK);
		goto done;
	}
	size_t R = rank > 0 ? (size_t)rank : !isnan(energy) ? dcc_svd_rank_energy(s, K, energy)
							     : dcc_svd_rank_params(M, N, params);
	if (R > K) {
		cmd_err("%s: rank %zu is above min(%zu, %zu)", in, R, M, N);
		rc = EXIT_USAGE;
		goto done;
	}
	double acc0 = NAN, acc1 = NAN, acc2 = NAN, rel;
	if (has_graph && (finetune || tune.data) && cmd_tune_eval(&tune, m, &acc0))
		goto done;
	a = malloc(R * N * sizeof(float));
	u = malloc(M * R * sizeof(float));
	if (!a || !u)
		goto done;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (dcc_svd_factor(t->data, M, N, R, randomized, (int)over, (int)power, tune.seed < 0 ? 1 : (uint64_t)tune.seed,
			   a, u, &rel, &e)) {
		cmd_fail(in, &e);
		goto done;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
	/* the new tensors */
	char n1[DCC_MAX_NAME + 16], n2[DCC_MAX_NAME + 16], n3[DCC_MAX_NAME + 16];
	uint64_t sa[2] = {R, N}, su[2] = {M, R}, sb[1] = {R};
	int bad = 0;
	if (has_graph) {
		snprintf(n1, sizeof(n1), "%s_u.weight", layer);
		snprintf(n2, sizeof(n2), "%s_u.bias", layer);
		dcc_tensor *b = dcc_model_find(m, bname);
		float *bcopy = b && b->dtype == DCC_F32 ? malloc(b->nbytes) : NULL;
		if (!bcopy) {
			cmd_err("%s: '%s' is missing or not float32", in, bname);
			goto done;
		}
		memcpy(bcopy, b->data, b->nbytes);
		uint64_t bshape[1] = {M};
		float *zeros = calloc(R, sizeof(float));
		bad = !zeros || dcc_model_add(m, n2, DCC_F32, 0, 0, 1, bshape, bcopy, &e) ||
		      dcc_model_add(m, n1, DCC_F32, 0, 0, 2, su, u, &e) || dcc_model_add(m, wname, DCC_F32, 0, 0, 2, sa, a, &e) ||
		      dcc_model_add(m, bname, DCC_F32, 0, 0, 1, sb, zeros, &e) || rewrite_graph(m, layer, R);
	} else {
		snprintf(n1, sizeof(n1), "%s_sv", layer);
		snprintf(n3, sizeof(n3), "%s_u", layer);
		bad = dcc_model_add(m, n1, DCC_F32, 0, 0, 2, sa, a, &e) || dcc_model_add(m, n3, DCC_F32, 0, 0, 2, su, u, &e) ||
		      dcc_model_remove(m, wname);
	}
	a = u = NULL; /* owned by the model now */
	if (bad) {
		cmd_fail(in, &e);
		goto done;
	}
	if (has_graph && (finetune || tune.data)) {
		if (cmd_tune_eval(&tune, m, &acc1))
			goto done;
		acc2 = acc1;
		if (finetune && cmd_tune_run(&tune, m, (int)finetune, &acc2))
			goto done;
	}
	size_t before = M * N, after = R * (M + N);
	char line[512];
	int o = snprintf(line, sizeof(line), "svd layer=%s rank=%zu method=%s rel_error=%.6g params=%zu/%zu finetune=%ld",
			 layer, R, method, rel, after, before, finetune);
	if (!isnan(acc2))
		snprintf(line + o, sizeof(line) - (size_t)o, " test_accuracy=%.4f", acc2);
	cmd_provenance(m, line);
	if (!isnan(acc2))
		dcc_model_set_f64(m, "dcc.accuracy", acc2);
	else
		dcc_model_del_kv(m, "dcc.accuracy");
	if (as_json) {
		json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:s}", "layer", layer, "rows", (json_int_t)M,
				      "cols", (json_int_t)N, "rank", (json_int_t)R, "params_before", (json_int_t)before,
				      "params_after", (json_int_t)after, "rel_error", rel, "seconds", secs, "method", method);
		if (!isnan(acc0)) {
			json_object_set_new(j, "accuracy_before", json_real(acc0));
			json_object_set_new(j, "accuracy_factored", json_real(acc1));
			if (finetune)
				json_object_set_new(j, "accuracy_finetuned", json_real(acc2));
		}
		json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(8));
		putchar('\n');
		json_decref(j);
	} else {
		printf("%s: %zux%zu -> rank %zu: %zu -> %zu weights (%.1f%%), relative Frobenius error %.4g (%s, %.2f s)\n",
		       layer, M, N, R, before, after, 100.0 * (double)after / (double)before, rel, method, secs);
		if (!isnan(acc0)) {
			printf("accuracy %.2f%% before, %.2f%% factored", 100 * acc0, 100 * acc1);
			if (finetune)
				printf(", %.2f%% after %ld epochs of fine-tuning", 100 * acc2, finetune);
			printf("\n");
		}
	}
	const char *inputs[] = {in, NULL};
	rc = cmd_save(out, m, inputs, force) ? EXIT_FAIL : cmd_finish(EXIT_OK);
done:
	free(a), free(u), free(s);
	cmd_tune_free(&tune);
	dcc_model_free(m);
	return rc;
}
