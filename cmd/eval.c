/* eval.c: dcc eval -- a model's figures on a split of a data set: for a
 * classifier top-1 (and top-5) accuracy, mean loss, per-class accuracy and
 * the confusion matrix; for sigmoid outputs accuracy at 0.5, precision and
 * recall; for regression mean squared and absolute error.  --logits writes
 * the raw outputs for comparison with other tools. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/dcc_fixed.h"
#include "../lib/dcc_nn.h"
#include "common.h"

static const char usage[] =
	"usage: dcc eval [--data DATA] [--split NAME] [--fixed] [--json] [--logits OUT.npy] [--limit N] [--threads N] MODEL.dct\n"
	"\n"
	"Evaluates MODEL.dct on a split of a data set (formats/data.md).  The figures\n"
	"follow the model's head: softmax_ce: top-1 and top-5 accuracy, mean loss,\n"
	"per-class accuracy, confusion matrix; bce: accuracy at 0.5, precision,\n"
	"recall, loss; mse: mean squared and absolute error, loss.\n"
	"\n"
	"  --data DATA       data set: IDX directory, .npz, .dct, .safetensors, a\n"
	"                    directory of .npy or X.npy,Y.npy (default " DCC_DEFAULT_DATA ")\n"
	"  --split NAME      train, val or test (default test)\n"
	"  --fixed           integer-only inference of a dcc fixed model\n"
	"                    (formats/fixed.md): the accelerator's golden model\n"
	"  --json            print JSON (accuracy is a fraction in [0, 1])\n"
	"  --logits OUT.npy  write the network's outputs, float32 (N, outputs)\n"
	"  --limit N         evaluate the first N samples only\n"
	"  --threads N       worker threads (default: all cores)\n"
	"  -h, --help        show this help\n";

/* "test images" for pictures, "val samples" for the rest. */
static const char *noun(const dcc_dataset *d) { return d->h > 1 && d->w > 1 ? "images" : "samples"; }

static void report_json(const char *path, const char *split, int fixed, const dcc_eval_result *r)
{
	json_t *o = json_object();
	json_object_set_new(o, "model", json_string(path));
	json_object_set_new(o, "split", json_string(split));
	json_object_set_new(o, "arithmetic", json_string(fixed ? "integer" : "float"));
	json_object_set_new(o, "images", json_integer((json_int_t)r->n));
	cmd_figures_json(o, r);
	json_object_set_new(o, "loss", isnan(r->loss) ? json_null() : json_real(r->loss));
	json_object_set_new(o, "images_per_s", json_real(r->images_per_s));
	size_t C = (size_t)r->classes;
	if (r->head == DCC_OP_SOFTMAX_CE && r->confusion) {
		json_t *pc = json_array(), *cm = json_array();
		for (size_t i = 0; i < C; i++) {
			json_t *row = json_array();
			for (size_t k = 0; k < C; k++)
				json_array_append_new(row, json_integer((json_int_t)r->confusion[i * C + k]));
			double a = dcc_class_accuracy(r, i);
			json_array_append_new(pc, isnan(a) ? json_null() : json_real(a));
			json_array_append_new(cm, row);
		}
		json_object_set_new(o, "per_class_accuracy", pc);
		json_object_set_new(o, "confusion", cm);
	}
	char *s = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
	if (s)
		puts(s);
	free(s);
	json_decref(o);
}

static void report_text(const char *path, const char *split, const char *what, int fixed, const dcc_eval_result *r)
{
	json_t *o = json_object();
	cmd_figures_json(o, r);
	char fig[256];
	cmd_figures_text(o, fig, sizeof(fig));
	json_decref(o);
	printf("%s: %zu %s %s%s%s", path, r->n, split, what, fixed ? ", integer-only" : "", fig);
	if (!isnan(r->loss))
		printf(", loss %.4f", r->loss);
	printf(", %.0f %s/s\n", r->images_per_s, what);
	size_t C = (size_t)r->classes;
	if (r->head != DCC_OP_SOFTMAX_CE || !r->confusion)
		return;
	printf("\nclass  accuracy   confusion (rows: true class, columns: predicted)\n");
	for (size_t i = 0; i < C; i++) {
		double a = dcc_class_accuracy(r, i);
		isnan(a) ? printf("%5zu  %8s  ", i, "-") : printf("%5zu  %7.2f%%  ", i, 100 * a);
		for (size_t k = 0; k < C; k++)
			printf(" %5llu", (unsigned long long)r->confusion[i * C + k]);
		putchar('\n');
	}
}

/* Integer-only inference: the figures of the integers, logits written as
 * their real values. */
static int eval_fixed(const char *path, dcc_model *m, dcc_net *n, dcc_dataset *d, const dcc_split *s, size_t limit,
		      int threads, const char *logits, dcc_qeval *r)
{
	dcc_error e = {0};
	dcc_qfmt *fmt = NULL;
	dcc_qnet *q = NULL;
	int in_bw = 0, in_fl = 0;
	memset(r, 0, sizeof(*r));
	if (dcc_fixed_formats(m, n, &fmt, &in_bw, &in_fl, &e) || dcc_qnet_build(n, fmt, in_bw, in_fl, &q, &e)) {
		free(fmt);
		return cmd_fail(path, &e);
	}
	free(fmt);
	int rc = dcc_qnet_eval_split(q, d, s, limit, logits != NULL, threads, r, &e);
	if (rc) {
		cmd_fail(path, &e);
	} else if (logits) {
		size_t cnt = r->n * (size_t)n->classes;
		float *z = malloc(cnt ? cnt * sizeof(float) : 1);
		if (!z) {
			cmd_err("out of memory");
			rc = 1;
		} else {
			dcc_fx_to_f32(z, r->logits, cnt, r->logit_fl);
			rc = cmd_save_npy(logits, (const char *[]){path, NULL}, z, r->n, (size_t)n->classes);
			free(z);
		}
	}
	dcc_qnet_free(q);
	return rc;
}

int cmd_eval(int argc, char **argv)
{
	enum { O_DATA = 256, O_JSON, O_LOGITS, O_LIMIT, O_THREADS, O_FIXED, O_SPLIT };
	static const struct option opts[] = {
		{"data", required_argument, NULL, O_DATA}, {"json", no_argument, NULL, O_JSON},
		{"logits", required_argument, NULL, O_LOGITS}, {"limit", required_argument, NULL, O_LIMIT},
		{"threads", required_argument, NULL, O_THREADS}, {"fixed", no_argument, NULL, O_FIXED},
		{"split", required_argument, NULL, O_SPLIT}, {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *data = NULL, *logits = NULL, *split = "test";
	long limit = 0, threads = 0;
	int as_json = 0, fixed = 0, c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int bad = 0;
		switch (c) {
		case O_DATA: data = optarg; break;
		case O_JSON: as_json = 1; break;
		case O_FIXED: fixed = 1; break;
		case O_LOGITS: logits = optarg; break;
		case O_SPLIT: split = optarg; break;
		case O_LIMIT: bad = cmd_parse_long(usage, "--limit", optarg, 1, 0x7fffffffL, &limit); break;
		case O_THREADS: bad = cmd_parse_long(usage, "--threads", optarg, 1, 1024, &threads); break;
		case 'h': return cmd_help(usage);
		default: return cmd_usage_error(usage, NULL);
		}
		if (bad)
			return bad;
	}
	if (argc - optind != 1)
		return cmd_usage_error(usage, argc - optind ? "one model only" : "no model given");
	if (cmd_check_split(usage, split))
		return EXIT_USAGE;
	const char *path = argv[optind];
	if (cmd_check_outputs((const char *[]){logits}, 1, (const char *[]){path, NULL}, 0))
		return EXIT_FAIL;
	cmd_set_threads((int)threads);
	dcc_model *m;
	if (cmd_load(path, &m))
		return EXIT_FAIL;
	dcc_error e = {0};
	dcc_net *n = NULL;
	dcc_dataset *d = NULL;
	int rc = 0;
	if (dcc_net_from_model(m, &n, &e))
		rc = cmd_fail(path, &e);
	else if (cmd_load_data(data, &d))
		rc = EXIT_FAIL;
	const dcc_split *s = d ? dcc_data_split(d, split) : NULL;
	if (!rc && cmd_data_fits(path, n, d, 0)) {
		rc = EXIT_FAIL;
	} else if (!rc && (!s || !s->n)) {
		cmd_err("%s: no %s split", d->source, split);
		rc = EXIT_FAIL;
	} else if (!rc && !s->y) {
		cmd_err("%s: the %s split has no labels to evaluate against (dcc run writes its outputs)", d->source,
			split);
		rc = EXIT_FAIL;
	} else if (!rc && cmd_data_fits(path, n, d, 1)) {
		rc = EXIT_FAIL;
	}
	dcc_qeval q = {0};
	dcc_eval_result r = {0};
	const dcc_eval_result *fig = NULL;
	if (!rc && fixed) {
		rc = eval_fixed(path, m, n, d, s, (size_t)limit, (int)threads, logits, &q);
		fig = &q.fig;
	} else if (!rc) {
		if (dcc_eval_split(n, d, s, (size_t)limit, logits != NULL, (int)threads, &r, &e))
			rc = cmd_fail(path, &e);
		else if (logits && cmd_save_npy(logits, (const char *[]){path, NULL}, r.logits, r.n, (size_t)r.classes))
			rc = EXIT_FAIL;
		fig = &r;
	}
	if (!rc && as_json)
		report_json(path, split, fixed, fig);
	else if (!rc)
		report_text(path, split, noun(d), fixed, fig);
	dcc_qeval_free(&q);
	dcc_eval_result_free(&r);
	dcc_dataset_free(d);
	dcc_net_free(n);
	dcc_model_free(m);
	return rc ? EXIT_FAIL : cmd_finish(EXIT_OK);
}
