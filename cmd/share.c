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
#include "stage.h"

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

/* A dense layer's values read back from the input .dct for the index
 * pass, so dcc share never holds two copies of it (dcc_share_opts). */
static int reread(void *ctx, const dcc_tensor *t, uint64_t off, float *dst, size_t n, dcc_error *err)
{
	return dcc_dct_read_range(*(const int *)ctx, t, off * sizeof(float), dst, n * sizeof(float), err);
}

/* After every update: each tied layer's weights back to its centroids. */
static void tie_step(void *ctx, dcc_net *net)
{
	dcc_share_tie *t = ctx;
	for (size_t i = 0; i < dcc_share_tie_count(t); i++) {
		float *w = dcc_net_param(net, dcc_share_tie_tensor(t, i));
		if (w)
			dcc_share_tie_step(t, i, w);
	}
}

typedef struct share_args {
	cmd_stage st;
	const char *spec, *init_s;
	long max_iter, finetune;
	int init, optimal, zero;
} share_args;

static int parse(int argc, char **argv, share_args *a)
{
	enum { O_BITS = 256, O_INIT, O_OPTIMAL, O_MAXITER, O_FINETUNE, O_ZERO };
	static const struct option opts[] = {
		{"bits", required_argument, NULL, O_BITS}, {"init", required_argument, NULL, O_INIT},
		{"optimal", no_argument, NULL, O_OPTIMAL}, {"zero", no_argument, NULL, O_ZERO},
		{"max-iter", required_argument, NULL, O_MAXITER}, {"finetune", required_argument, NULL, O_FINETUNE},
		CMD_DATA_OPTIONS, CMD_TRAIN_OPTIONS, CMD_OUT_OPTIONS, {NULL, 0, NULL, 0},
	};
	cmd_stage_init(&a->st, usage);
	a->st.ctx = "finetune";
	a->init_s = "linear";
	int c;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		int bad = 0;
		switch (c) {
		case O_BITS: a->spec = optarg; break;
		case O_INIT: a->init_s = optarg; break;
		case O_OPTIMAL: a->optimal = 1; break;
		case O_ZERO: a->zero = 1; break;
		case O_MAXITER: bad = cmd_parse_long(usage, "--max-iter", optarg, 1, 100000000, &a->max_iter); break;
		case O_FINETUNE: bad = cmd_parse_long(usage, "--finetune", optarg, 0, 100000, &a->finetune); break;
		default: CMD_STAGE_DEFAULT(&a->st, c);
		}
		if (bad)
			return bad;
	}
	int rc = cmd_stage_args(&a->st, argc, argv, 1);
	if (rc)
		return rc;
	if (!a->spec)
		return cmd_usage_error(usage, "no --bits given");
	if ((a->init = dcc_init_from_name(a->init_s)) < 0)
		return cmd_usage_error(usage, "--init: '%s' is not linear, density, random or kmeans++", a->init_s);
	if (a->optimal && a->init != DCC_INIT_LINEAR)
		return cmd_usage_error(usage, "--optimal needs no --init");
	return 0;
}

/* The per-layer outcome of sharing. */
typedef struct shared {
	int *bits;
	dcc_kmeans_stats *st;
	double *secs;
	size_t nshared;
} shared;

/* Every layer with bits: clustered; the table's figures kept. */
static int share_layers(const share_args *a, dcc_model *m, const dcc_prunable *p, size_t n, shared *s)
{
	int in_fd = open(a->st.in, O_RDONLY); /* for reread; without it, dense layers are copied */
	dcc_error e = {0};
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		if (!s->bits[i])
			continue;
		dcc_share_opts so = {s->bits[i], a->init, a->optimal, (int)a->max_iter,
				     a->st.seed < 0 ? 1 : (uint64_t)a->st.seed, a->zero, in_fd >= 0 ? reread : NULL, &in_fd};
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (dcc_share_tensor(m, &p[i], &so, &s->st[i], &e)) {
			rc = cmd_fail(a->st.in, &e);
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		s->secs[i] = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
		s->nshared++;
		if (!a->st.json && !isatty(2) && n > 1)
			fprintf(stderr, "share: %s %d bits, %d iterations, %.2f s\n", p[i].tensor, s->bits[i],
				s->st[i].iterations, s->secs[i]);
	}
	if (in_fd >= 0)
		close(in_fd);
	return rc;
}

/* Centroid fine-tuning of the shared layers; *acc gets the accuracy after. */
static int finetune(share_args *a, dcc_model *m, const dcc_prunable *p, size_t n, const shared *s, double *acc)
{
	dcc_error e = {0};
	const char **tied = calloc(s->nshared ? s->nshared : 1, sizeof(char *));
	dcc_share_tie *tie = NULL;
	size_t nt = 0;
	if (!tied) {
		cmd_err("out of memory");
		return EXIT_FAIL;
	}
	for (size_t i = 0; i < n; i++)
		if (s->bits[i])
			tied[nt++] = p[i].tensor;
	int rc = dcc_share_tie_new(m, tied, nt, &tie, &e) ? cmd_fail(a->st.in, &e) : 0;
	if (!rc) {
		a->st.after_step = tie_step;
		a->st.step_ctx = tie;
		a->st.weight_decay = 0; /* decay summed over a cluster would drag its centroid */
		rc = cmd_stage_run(&a->st, m, (int)a->finetune, acc);
	}
	if (!rc)
		dcc_share_tie_finish(tie, m);
	dcc_share_tie_free(tie);
	free(tied);
	return rc;
}

/* The table (or JSON), the accuracies, and the provenance line. */
static int report(const share_args *a, dcc_model *m, const dcc_prunable *p, size_t n, const shared *s,
		   const double acc3[3])
{
	double acc_before = acc3[0], acc_shared = acc3[1], acc = acc3[2];
	char line[2048], kv[64], rec[48];
	int o = snprintf(line, sizeof(line), "share bits=%s init=%s optimal=%d zero=%d finetune=%ld%s", a->spec,
			 a->optimal ? "optimal" : a->init_s, a->optimal, a->zero, a->finetune,
			 cmd_stage_recipe(&a->st, rec, sizeof(rec)));
	if (!isnan(acc))
		o += snprintf(line + o, sizeof(line) - (size_t)o, " %s", cmd_stage_key(&a->st, acc, kv, sizeof(kv)));
	json_t *layers = json_array();
	if (!a->st.json)
		printf("  %-22s %5s %12s %10s %14s %8s\n", "tensor", "bits", "surviving", "iterations", "sq. error",
		       "seconds");
	for (size_t i = 0; i < n; i++) {
		if (!s->bits[i])
			continue;
		char nm[DCC_MAX_NAME + 16];
		uint64_t alive = dcc_tensor_count_nonzero(dcc_model_find(m, dcc_part_name(nm, sizeof(nm), p[i].tensor,
											   DCC_PART_MASK)));
		const dcc_kmeans_stats *k = &s->st[i];
		if (o < (int)sizeof(line) - 96)
			o += snprintf(line + o, sizeof(line) - (size_t)o, " %s:bits=%d,iterations=%d,sse=%.6g", p[i].tensor,
				      s->bits[i], k->iterations, k->sse);
		if (a->st.json)
			json_array_append_new(layers, json_pack("{s:s, s:i, s:I, s:i, s:f, s:f, s:b}", "tensor", p[i].tensor,
								"bits", s->bits[i], "surviving", (json_int_t)alive,
								"iterations", k->iterations, "sse", k->sse, "seconds",
								s->secs[i], "exact", k->distinct_le_k));
		else
			printf("  %-22s %5d %12llu %10d %14.6g %8.3f%s\n", p[i].tensor, s->bits[i], (unsigned long long)alive,
			       k->iterations, k->sse, s->secs[i], k->distinct_le_k ? "  (no more values than clusters: exact)" : "");
	}
	if (a->st.json) {
		json_t *j = json_pack("{s:o}", "layers", layers);
		layers = NULL;
		if (!isnan(acc_before)) {
			json_object_set_new(j, "accuracy_before", json_real(acc_before));
			json_object_set_new(j, "accuracy_shared", json_real(acc_shared));
			if (a->finetune)
				json_object_set_new(j, "accuracy_finetuned", json_real(acc));
		}
		json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(8));
		putchar('\n');
		json_decref(j);
	} else if (!isnan(acc_before)) {
		char f[3][32];
		printf("%s %s before, %s shared", cmd_stage_metric(&a->st), cmd_stage_fig(&a->st, acc_before, f[0], 32),
		       cmd_stage_fig(&a->st, acc_shared, f[1], 32));
		if (a->finetune)
			printf(", %s after %ld epochs of centroid fine-tuning", cmd_stage_fig(&a->st, acc, f[2], 32), a->finetune);
		printf("\n");
	}
	json_decref(layers);
	return cmd_provenance(m, line, cmd_stage_acc(&a->st, acc));
}

int cmd_share(int argc, char **argv)
{
	share_args a = {0};
	int rc = parse(argc, argv, &a);
	if (rc)
		return cmd_parsed(rc);
	dcc_model *m;
	if (cmd_load(a.st.in, &m))
		return EXIT_FAIL;
	dcc_error e = {0};
	dcc_prunable *p = NULL;
	size_t n = 0;
	shared s = {0};
	rc = EXIT_FAIL;
	if (dcc_prunable_list(m, &p, &n, &e)) {
		cmd_fail(a.st.in, &e);
		goto done;
	}
	int has_graph = dcc_model_get_kv(m, "dcc.graph") != NULL, measure = has_graph && (a.finetune || a.st.data);
	if (a.finetune && !has_graph) {
		cmd_err("%s: --finetune needs a model with a graph (dcc train, or dcc import --net)", a.st.in);
		rc = EXIT_USAGE;
		goto done;
	}
	s.bits = calloc(n ? n : 1, sizeof(int));
	s.st = calloc(n ? n : 1, sizeof(*s.st));
	s.secs = calloc(n ? n : 1, sizeof(double));
	if (!s.bits || !s.st || !s.secs)
		goto done;
	if ((rc = parse_bits(a.spec, p, n, s.bits)))
		goto done;
	rc = EXIT_FAIL;
	double acc[3] = {NAN, NAN, NAN}; /* before, shared, fine-tuned */
	if ((measure && cmd_stage_eval(&a.st, m, &acc[0])) || share_layers(&a, m, p, n, &s))
		goto done;
	if (!s.nshared) {
		cmd_err("--bits '%s' selects no layer", a.spec);
		rc = EXIT_USAGE;
		goto done;
	}
	if (measure && cmd_stage_eval(&a.st, m, &acc[1]))
		goto done;
	acc[2] = acc[1];
	if (a.finetune && finetune(&a, m, p, n, &s, &acc[2]))
		goto done;
	rc = report(&a, m, p, n, &s, acc) ? EXIT_FAIL : cmd_stage_save(&a.st, m);
done:
	free(s.bits), free(s.st), free(s.secs);
	dcc_prunable_free(p, n);
	cmd_stage_free(&a.st);
	dcc_model_free(m);
	return rc;
}
