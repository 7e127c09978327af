/* eval.c: dcc eval -- top-1 accuracy, mean loss, per-class accuracy and the
 * confusion matrix of a model on the test set; --logits writes the raw
 * outputs for comparison with other tools. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/dcc_fixed.h"
#include "../lib/dcc_nn.h"
#include "common.h"

static const char usage[] =
	"usage: dcc eval [--data DIR] [--fixed] [--json] [--logits OUT.npy] [--limit N] [--threads N] MODEL.dct\n"
	"\n"
	"Evaluates MODEL.dct on the test images of the data set: top-1 accuracy,\n"
	"mean cross-entropy loss, per-class accuracy, confusion matrix, images/s.\n"
	"\n"
	"  --data DIR        IDX data set (default " DCC_DEFAULT_DATA ")\n"
	"  --fixed           integer-only inference of a dcc fixed model\n"
	"                    (formats/fixed.md): the accelerator's golden model\n"
	"  --json            print JSON (accuracy is a fraction in [0, 1])\n"
	"  --logits OUT.npy  write the network's outputs, float32 (N, classes)\n"
	"  --limit N         evaluate the first N test images only\n"
	"  --threads N       worker threads (default: all cores)\n"
	"  -h, --help        show this help\n";

/* Integer-only inference; logits written as the integers' real values. */
static int eval_fixed(const char *path, dcc_model *m, dcc_net *n, dcc_dataset *d, size_t limit, int threads,
		      const char *logits, int as_json)
{
	dcc_error e = {0};
	dcc_qfmt *fmt = NULL;
	dcc_qnet *q = NULL;
	int in_bw = 0, in_fl = 0;
	if (dcc_fixed_formats(m, n, &fmt, &in_bw, &in_fl, &e) || dcc_qnet_build(n, fmt, in_bw, in_fl, &q, &e)) {
		free(fmt);
		return cmd_fail(path, &e);
	}
	free(fmt);
	dcc_qeval r;
	int rc = dcc_qnet_eval(q, d, limit, logits != NULL, threads, &r, &e);
	if (rc) {
		cmd_fail(path, &e);
	} else if (logits) {
		size_t cnt = r.n * (size_t)n->classes;
		float *z = malloc(cnt ? cnt * sizeof(float) : 1);
		if (!z) {
			cmd_err("out of memory");
			rc = 1;
		} else {
			const char *inputs[] = {path, NULL};
			dcc_fx_to_f32(z, r.logits, cnt, r.logit_fl);
			rc = cmd_save_npy(logits, inputs, z, r.n, (size_t)n->classes);
			free(z);
		}
	}
	if (!rc) {
		if (as_json) {
			json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:f, s:f}", "model", path, "arithmetic", "integer",
					      "images", (json_int_t)r.n, "correct", (json_int_t)r.correct, "accuracy",
					      r.accuracy, "images_per_s", r.images_per_s);
			json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
			putchar('\n');
			json_decref(o);
		}
		else
			printf("%s: %zu test images, integer-only, accuracy %.2f%% (%zu correct), %.0f images/s\n", path,
			       r.n, 100 * r.accuracy, r.correct, r.images_per_s);
	}
	free(r.logits);
	dcc_qnet_free(q);
	return rc;
}

int cmd_eval(int argc, char **argv)
{
	enum { O_DATA = 256, O_JSON, O_LOGITS, O_LIMIT, O_THREADS, O_FIXED };
	static const struct option opts[] = {
		{"data", required_argument, NULL, O_DATA}, {"json", no_argument, NULL, O_JSON},
		{"logits", required_argument, NULL, O_LOGITS}, {"limit", required_argument, NULL, O_LIMIT},
		{"threads", required_argument, NULL, O_THREADS}, {"fixed", no_argument, NULL, O_FIXED},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *data = NULL, *logits = NULL;
	long limit = 0, threads = 0;
	int as_json = 0, fixed = 0, c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int bad = 0;
		switch (c) {
		case O_DATA: data = optarg; break;
		case O_JSON: as_json = 1; break;
		case O_FIXED: fixed = 1; break;
		case O_LOGITS: logits = optarg; break;
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
	const char *path = argv[optind];
	if (cmd_check_outputs((const char *[]){logits}, 1, (const char *[]){path, NULL}, 0))
		return EXIT_FAIL;
	cmd_set_threads((int)threads);
	dcc_model *m;
	if (cmd_load(path, &m))
		return EXIT_FAIL;
	dcc_error e = {0};
	dcc_net *n;
	if (dcc_net_from_model(m, &n, &e)) {
		dcc_model_free(m);
		return cmd_fail(path, &e);
	}
	dcc_dataset *d;
	if (cmd_load_data(data, &d)) {
		dcc_net_free(n);
		dcc_model_free(m);
		return EXIT_FAIL;
	}
	if (fixed) {
		int rc = eval_fixed(path, m, n, d, (size_t)limit, (int)threads, logits, as_json);
		dcc_dataset_free(d);
		dcc_net_free(n);
		dcc_model_free(m);
		return rc ? EXIT_FAIL : cmd_finish(EXIT_OK);
	}
	dcc_eval_result r;
	int rc = dcc_eval(n, d, (size_t)limit, logits != NULL, (int)threads, &r, &e);
	if (rc) {
		cmd_fail(path, &e);
	} else if (logits && cmd_save_npy(logits, (const char *[]){path, NULL}, r.logits, r.n, (size_t)r.classes)) {
		rc = 1;
	} else {
		size_t C = (size_t)r.classes;
		if (as_json) {
			json_t *o = json_object(), *pc = json_array(), *cm = json_array();
			json_object_set_new(o, "model", json_string(path));
			json_object_set_new(o, "images", json_integer((json_int_t)r.n));
			json_object_set_new(o, "correct", json_integer((json_int_t)r.correct));
			json_object_set_new(o, "accuracy", json_real(r.accuracy));
			json_object_set_new(o, "loss", json_real(r.loss));
			json_object_set_new(o, "images_per_s", json_real(r.images_per_s));
			for (size_t i = 0; i < C; i++) {
				uint64_t tot = 0;
				json_t *row = json_array();
				for (size_t k = 0; k < C; k++) {
					tot += r.confusion[i * C + k];
					json_array_append_new(row, json_integer((json_int_t)r.confusion[i * C + k]));
				}
				json_array_append_new(pc, tot ? json_real((double)r.confusion[i * C + i] / (double)tot) : json_null());
				json_array_append_new(cm, row);
			}
			json_object_set_new(o, "per_class_accuracy", pc);
			json_object_set_new(o, "confusion", cm);
			char *s = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
			if (s)
				puts(s);
			free(s);
			json_decref(o);
		} else {
			printf("%s: %zu test images, accuracy %.2f%% (%zu correct), loss %.4f, %.0f images/s\n", path, r.n,
			       100 * r.accuracy, r.correct, r.loss, r.images_per_s);
			printf("\nclass  accuracy   confusion (rows: true class, columns: predicted)\n");
			for (size_t i = 0; i < C; i++) {
				uint64_t tot = 0;
				for (size_t k = 0; k < C; k++)
					tot += r.confusion[i * C + k];
				if (tot)
					printf("%5zu  %7.2f%%  ", i, 100.0 * (double)r.confusion[i * C + i] / (double)tot);
				else
					printf("%5zu  %8s  ", i, "-");
				for (size_t k = 0; k < C; k++)
					printf(" %5llu", (unsigned long long)r.confusion[i * C + k]);
				putchar('\n');
			}
		}
	}
	dcc_eval_result_free(&r);
	dcc_dataset_free(d);
	dcc_net_free(n);
	dcc_model_free(m);
	return rc ? EXIT_FAIL : cmd_finish(EXIT_OK);
}
