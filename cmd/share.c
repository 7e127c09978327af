/* share.c: dcc share -- weight sharing: each layer's surviving weights
 * clustered into 2^b shared values, stored as a codebook and packed b-bit
 * indices, optionally with the centroids fine-tuned by training. */
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../lib/dcc_nn.h"
#include "../lib/dcc_share.h"
#include "common.h"

static const char usage[] =
	"usage: dcc share IN.dct --bits SPEC [OPTIONS] -o OUT.dct\n"
	"\n"
	"Clusters the surviving (unpruned) weights of each layer into 2^B shared\n"
	"values with one-dimensional k-means, and stores the layer as a codebook\n"
	"of 2^B floats plus a packed B-bit index per weight plus its mask.\n"
	"Pruned weights stay zero and outside the codebook.\n"
	"\n"
	"  --bits SPEC           B for every layer, or KEY=B,... where KEY is a\n"
	"                        layer (fc1), a tensor, a kind (fc, conv, lstm) or\n"
	"                        default; B in 1..16\n"
	"  --init I              linear (default), density, random or kmeans++\n"
	"  --optimal             globally optimal clustering (dynamic programming)\n"
	"  --max-iter N          cap on Lloyd iterations (default 10000)\n"
	"  --zero                reserve codebook entry 0 for zero (the EIE layout's\n"
	"                        filler); survivors share the other 2^B - 1\n"
	"  --finetune N          epochs of centroid fine-tuning (indices and masks\n"
	"                        fixed; a centroid moves by the sum of its weights'\n"
	"                        updates)\n"
	CMD_TUNE_HELP
	"  --json                print the per-layer table as JSON\n"
	"  -o, --output OUT      the model to write\n"
	"  --force               overwrite OUT even when it is the input\n"
	"  -h, --help            show this help\n";

/* Bits of each layer from SPEC; 0 = not shared. */
static int parse_bits(const char *spec, const dcc_prunable *p, size_t n, int *bits)
{
	const char **layer = calloc(n ? n : 1, sizeof(char *)), **tensor = calloc(n ? n : 1, sizeof(char *));
	int *op = calloc(n ? n : 1, sizeof(int));
	if (!layer || !tensor || !op) {
		free(layer), free(tensor), free(op);
		return cmd_usage_error(usage, "out of memory");
	}
	for (size_t i = 0; i < n; i++)
		layer[i] = p[i].layer, tensor[i] = p[i].tensor, op[i] = p[i].op;
	int rc = cmd_parse_layer_ints(usage, "--bits", spec, n, layer, tensor, op, 1, 16, bits);
	free(layer), free(tensor), free(op);
	return rc;
}

/* ---- centroid fine-tuning: tie each cluster's weights to its centroid ---- */

typedef struct tied {
	const char *tensor;
	float *cb;         /* the model's codebook, updated in place */
	int k;
	uint16_t *idx;     /* unpacked indices */
	const uint8_t *mask;
	size_t n;
	double *delta;
} tied;

typedef struct tie_ctx {
	tied *l;
	size_t nl;
} tie_ctx;

/* A dense layer's values read back from the input .dct for the index
 * pass, so dcc share never holds two copies of it (dcc_share_opts). */
static int reread(void *ctx, const dcc_tensor *t, uint64_t off, float *dst, size_t n, dcc_error *err)
{
	return dcc_dct_read_range(*(const int *)ctx, t, off * sizeof(float), dst, n * sizeof(float), err);
}

static float *param_of(dcc_net *n, const char *name)
{
	for (size_t i = 0; i < n->nlayers; i++)
		for (int k = 0; k < n->layers[i].nparam; k++)
			if (!strcmp(n->layers[i].p[k].name, name))
				return n->layers[i].p[k].w;
	return NULL;
}

static void tie_step(void *ctx, dcc_net *net)
{
	tie_ctx *c = ctx;
	for (size_t l = 0; l < c->nl; l++) {
		tied *t = &c->l[l];
		float *w = param_of(net, t->tensor);
		if (!w)
			continue;
		memset(t->delta, 0, (size_t)t->k * sizeof(double));
		for (size_t i = 0; i < t->n; i++)
			if ((t->mask[i / 8] >> (i % 8)) & 1)
				t->delta[t->idx[i]] += (double)w[i] - t->cb[t->idx[i]];
		for (int j = 0; j < t->k; j++)
			t->cb[j] = (float)(t->cb[j] + t->delta[j]);
		for (size_t i = 0; i < t->n; i++)
			if ((t->mask[i / 8] >> (i % 8)) & 1)
				w[i] = t->cb[t->idx[i]];
	}
}

int cmd_share(int argc, char **argv)
{
	enum { O_BITS = 256, O_INIT, O_OPTIMAL, O_MAXITER, O_FINETUNE, O_JSON, O_FORCE, O_ZERO };
	static const struct option opts[] = {
		{"bits", required_argument, NULL, O_BITS}, {"init", required_argument, NULL, O_INIT},
		{"optimal", no_argument, NULL, O_OPTIMAL}, {"zero", no_argument, NULL, O_ZERO}, {"max-iter", required_argument, NULL, O_MAXITER},
		{"finetune", required_argument, NULL, O_FINETUNE}, {"json", no_argument, NULL, O_JSON},
		{"output", required_argument, NULL, 'o'}, {"force", no_argument, NULL, O_FORCE},
		{"help", no_argument, NULL, 'h'}, CMD_TUNE_OPTIONS, {NULL, 0, NULL, 0},
	};
	const char *spec = NULL, *out = NULL, *init_s = "linear";
	long max_iter = 0, finetune = 0;
	int optimal = 0, zero = 0, as_json = 0, force = 0, c;
	cmd_tune tune;
	cmd_tune_init(&tune);
	tune.ctx = "finetune";
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		int bad = 0;
		switch (c) {
		case O_BITS: spec = optarg; break;
		case O_INIT: init_s = optarg; break;
		case O_OPTIMAL: optimal = 1; break;
		case O_ZERO: zero = 1; break;
		case O_MAXITER: bad = cmd_parse_long(usage, "--max-iter", optarg, 1, 100000000, &max_iter); break;
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
	const char *in = argv[optind];
	if (!out)
		return cmd_usage_error(usage, "no output given (-o OUT.dct)");
	if (!spec)
		return cmd_usage_error(usage, "no --bits given");
	int init = dcc_init_from_name(init_s);
	if (init < 0)
		return cmd_usage_error(usage, "--init: '%s' is not linear, density, random or kmeans++", init_s);
	if (optimal && init != DCC_INIT_LINEAR)
		return cmd_usage_error(usage, "--optimal needs no --init");

	dcc_model *m;
	if (cmd_load(in, &m))
		return EXIT_FAIL;
	int in_fd = open(in, O_RDONLY); /* for reread; without it, dense layers are copied */
	dcc_error e = {0};
	dcc_prunable *p = NULL;
	size_t n = 0;
	int rc = EXIT_FAIL, *bits = NULL;
	dcc_kmeans_stats *st = NULL;
	double *secs = NULL;
	tie_ctx tc = {0};
	json_t *layers = json_array();
	if (dcc_prunable_list(m, &p, &n, &e)) {
		cmd_fail(in, &e);
		goto done;
	}
	int has_graph = dcc_model_get_kv(m, "dcc.graph") != NULL;
	if (finetune && !has_graph) {
		cmd_err("%s: --finetune needs a model with a graph (dcc train, or dcc import --net)", in);
		rc = EXIT_USAGE;
		goto done;
	}
	bits = calloc(n ? n : 1, sizeof(int));
	st = calloc(n ? n : 1, sizeof(*st));
	secs = calloc(n ? n : 1, sizeof(double));
	if (!bits || !st || !secs)
		goto done;
	if ((rc = parse_bits(spec, p, n, bits)))
		goto done;
	rc = EXIT_FAIL;
	double acc_before = NAN, acc_shared = NAN, acc = NAN;
	if (has_graph && (finetune || tune.data) && cmd_tune_eval(&tune, m, &acc_before))
		goto done;
	size_t nshared = 0;
	for (size_t i = 0; i < n; i++) {
		if (!bits[i])
			continue;
		dcc_share_opts so = {bits[i], init, optimal, (int)max_iter, tune.seed < 0 ? 1 : (uint64_t)tune.seed, zero,
				     in_fd >= 0 ? reread : NULL, &in_fd};
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (dcc_share_tensor(m, &p[i], &so, &st[i], &e)) {
			cmd_fail(in, &e);
			goto done;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		secs[i] = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
		nshared++;
		if (!as_json && !isatty(2) && n > 1)
			fprintf(stderr, "share: %s %d bits, %d iterations, %.2f s\n", p[i].tensor, bits[i],
				st[i].iterations, secs[i]);
	}
	if (!nshared) {
		cmd_err("--bits '%s' selects no layer", spec);
		rc = EXIT_USAGE;
		goto done;
	}
	if (has_graph && (finetune || tune.data) && cmd_tune_eval(&tune, m, &acc_shared))
		goto done;
	acc = acc_shared;
	if (finetune) {
		if (!(tc.l = calloc(nshared, sizeof(tied))))
			goto done;
		for (size_t i = 0; i < n; i++) {
			if (!bits[i])
				continue;
			char nm[DCC_MAX_NAME + 16];
			tied *t = &tc.l[tc.nl++];
			t->tensor = p[i].tensor;
			snprintf(nm, sizeof(nm), "%s.codebook", p[i].tensor);
			dcc_tensor *cb = dcc_model_find(m, nm);
			snprintf(nm, sizeof(nm), "%s.index", p[i].tensor);
			dcc_tensor *ix = dcc_model_find(m, nm);
			snprintf(nm, sizeof(nm), "%s.mask", p[i].tensor);
			dcc_tensor *mk = dcc_model_find(m, nm);
			t->cb = cb->data;
			t->k = (int)cb->shape[0];
			t->n = (size_t)dcc_tensor_numel(ix);
			t->mask = mk->data;
			t->idx = malloc(t->n * sizeof(uint16_t));
			t->delta = malloc((size_t)t->k * sizeof(double));
			if (!t->idx || !t->delta)
				goto done;
			for (size_t q = 0; q < t->n; q++)
				t->idx[q] = (uint16_t)dcc_packed_get(ix->data, ix->bits, q);
		}
		tune.after_step = tie_step;
		tune.step_ctx = &tc;
		tune.weight_decay = 0; /* decay summed over a cluster would drag its centroid */
		if (cmd_tune_run(&tune, m, (int)finetune, &acc))
			goto done;
		for (size_t i = 0; i < n; i++) /* the codebooks changed under the checksums */
			if (bits[i]) {
				char nm[DCC_MAX_NAME + 16];
				snprintf(nm, sizeof(nm), "%s.codebook", p[i].tensor);
				dcc_model_find(m, nm)->nnz = dcc_tensor_count_nonzero(dcc_model_find(m, nm));
			}
	}
	/* report and provenance */
	char line[2048];
	int o = snprintf(line, sizeof(line), "share bits=%s init=%s optimal=%d zero=%d finetune=%ld", spec,
			 optimal ? "optimal" : init_s, optimal, zero, finetune);
	if (!isnan(acc))
		o += snprintf(line + o, sizeof(line) - (size_t)o, " test_accuracy=%.4f", acc);
	if (!as_json)
		printf("  %-22s %5s %12s %10s %14s %8s\n", "tensor", "bits", "surviving", "iterations", "sq. error",
		       "seconds");
	for (size_t i = 0; i < n; i++) {
		if (!bits[i])
			continue;
		char nm[DCC_MAX_NAME + 16];
		snprintf(nm, sizeof(nm), "%s.mask", p[i].tensor);
		uint64_t alive = dcc_tensor_count_nonzero(dcc_model_find(m, nm));
		if (o < (int)sizeof(line) - 96)
			o += snprintf(line + o, sizeof(line) - (size_t)o, " %s:bits=%d,iterations=%d,sse=%.6g", p[i].tensor,
				      bits[i], st[i].iterations, st[i].sse);
		if (as_json)
			json_array_append_new(layers, json_pack("{s:s, s:i, s:I, s:i, s:f, s:f, s:b}", "tensor",
								p[i].tensor, "bits", bits[i], "surviving",
								(json_int_t)alive, "iterations", st[i].iterations,
								"sse", st[i].sse, "seconds", secs[i], "exact",
								st[i].distinct_le_k));
		else
			printf("  %-22s %5d %12llu %10d %14.6g %8.3f%s\n", p[i].tensor, bits[i],
			       (unsigned long long)alive, st[i].iterations, st[i].sse, secs[i],
			       st[i].distinct_le_k ? "  (no more values than clusters: exact)" : "");
	}
	if (as_json) {
		json_t *j = json_pack("{s:o}", "layers", layers);
		layers = NULL;
		if (!isnan(acc_before)) {
			json_object_set_new(j, "accuracy_before", json_real(acc_before));
			json_object_set_new(j, "accuracy_shared", json_real(acc_shared));
			if (finetune)
				json_object_set_new(j, "accuracy_finetuned", json_real(acc));
		}
		json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(8));
		putchar('\n');
		json_decref(j);
	} else if (!isnan(acc_before)) {
		printf("accuracy %.2f%% before, %.2f%% shared", 100 * acc_before, 100 * acc_shared);
		if (finetune)
			printf(", %.2f%% after %ld epochs of centroid fine-tuning", 100 * acc, finetune);
		printf("\n");
	}
	cmd_provenance(m, line);
	if (!isnan(acc))
		dcc_model_set_f64(m, "dcc.accuracy", acc);
	else
		dcc_model_del_kv(m, "dcc.accuracy");
	const char *inputs[] = {in, NULL};
	rc = cmd_save(out, m, inputs, force) ? EXIT_FAIL : cmd_finish(EXIT_OK);
done:
	for (size_t i = 0; i < tc.nl; i++)
		free(tc.l[i].idx), free(tc.l[i].delta);
	free(tc.l);
	json_decref(layers);
	free(bits), free(st), free(secs);
	dcc_prunable_free(p, n);
	cmd_tune_free(&tune);
	dcc_model_free(m);
	if (in_fd >= 0)
		close(in_fd);
	return rc;
}
