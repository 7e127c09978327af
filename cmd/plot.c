/* plot.c: dcc plot -- the papers' pictures as PNG (libpng, with an embedded
 * DejaVu Sans Mono bitmap font): weight histograms with centroids, sparsity
 * patterns, sensitivity curves, emulator load balance and scaling, and the
 * compression breakdown of a blob.  --csv writes the plotted numbers. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/dcc_encode.h"
#include "../lib/dcc_nn.h"
#include "../lib/dcc_prune.h"
#include "../lib/plot/plot.h"
#include "common.h"

static const char usage[] =
	"usage: dcc plot hist MODEL.dct --layer NAME [--compare OTHER.dct]... [--bins N] [--zeros] -o OUT.png\n"
	"       dcc plot spy MODEL.dct --layer NAME -o OUT.png\n"
	"       dcc plot sensitivity (SENS.json | MODEL.dct [--data DIR] [--limit N]) -o OUT.png\n"
	"       dcc plot emu EMU.json [--layer NAME] -o OUT.png\n"
	"       dcc plot report BLOB.dcb -o OUT.png\n"
	"       dcc plot energy EMU.json -o OUT.png\n"
	"\n"
	"hist: the layer's weight histogram (nonzero weights unless --zeros), a\n"
	"shared layer's centroids marked, other models overlaid as outlines.\n"
	"spy: the sparsity pattern, each pixel the density of the weights it\n"
	"covers; bank boundaries drawn for a bank-balanced layer.  sensitivity:\n"
	"accuracy against sparsity per layer, from dcc sensitivity --json or\n"
	"measured here on a model.  emu:\n"
	"utilisation and load balance per layer from dcc emu --json, or latency\n"
	"and load balance against PEs or FIFO depth from --sweep --json.\n"
	"report: bytes per layer dense, pruned, shared and entropy-coded.\n"
	"energy: from dcc emu --energy --json, each layer's energy stacked by\n"
	"module, or a sweep's energy and energy-delay product.\n"
	"\n"
	"  --layer NAME          a layer (fc1) or tensor (fc1.weight)\n"
	"  --compare OTHER.dct   overlay another model's histogram (repeatable)\n"
	"  --bins N              histogram bins (default 80)\n"
	"  --zeros               include zero weights in the histogram\n"
	"  --size WxH            image size in pixels (default 900x560)\n"
	"  --data DIR, --limit N sensitivity of a model: the data set and test images\n"
	"  --csv OUT.csv         also write the plotted numbers\n"
	"  -o, --output OUT      the PNG to write\n"
	"  --force               overwrite OUT even when it is an input\n"
	"  -h, --help            show this help\n";

typedef struct opts {
	const char *layer, *csv, *out, *data;
	long limit;
	const char *compare[8];
	int ncompare, bins, zeros, w, h, force;
} opts;

/* The chart and its numbers, written once both are whole; every output
 * was checked before the work began (cmd_plot). */
static int save(const dcc_canvas *c, const opts *o, const char *in, const dcc_sbuf *csv)
{
	dcc_outfile f;
	dcc_error e = {0};
	const char *inputs[] = {in, NULL};
	if (csv->oom) {
		cmd_err("out of memory");
		return EXIT_FAIL;
	}
	if (dcc_out_open(&f, o->out, inputs, o->force, &e) || dcc_out_finish(&f, dcc_png_write(c, f.fp, &e), &e))
		return cmd_fail(NULL, &e);
	if (o->csv && (dcc_out_open(&f, o->csv, inputs, o->force, &e) ||
		       dcc_out_finish(&f, dcc_out_bytes(f.fp, dcc_sbuf_str(csv), csv->n, &e), &e)))
		return cmd_fail(NULL, &e);
	return 0;
}

/* A layer's parts: LAYER.weight's, or LAYER's when it names the tensor. */
static void layer_parts(const dcc_model *m, const char *layer, dcc_parts *p)
{
	char nm[DCC_MAX_NAME + 16];
	snprintf(nm, sizeof(nm), "%s.weight", layer);
	dcc_parts_find(m, nm, p);
	if (!p->weight && !p->codebook && !p->mask)
		dcc_parts_find(m, layer, p);
}

/* The float view of a layer's weight in a model: the state_dict tensor. */
static int layer_weights(const char *path, const char *layer, float **w, size_t *n, uint64_t *shape, int *ndim,
			 dcc_model **keep)
{
	dcc_model *m, *sd;
	dcc_error e = {0};
	if (cmd_load(path, &m))
		return EXIT_FAIL;
	if (dcc_model_state_dict(m, &sd, &e)) {
		dcc_model_free(m);
		return cmd_fail(path, &e);
	}
	char nm[DCC_MAX_NAME + 16];
	snprintf(nm, sizeof(nm), "%s.weight", layer);
	dcc_tensor *t = dcc_model_find(sd, layer);
	if (!t || t->ndim < 2)
		t = dcc_model_find(sd, nm);
	if (!t) {
		cmd_err("%s: no layer '%s'", path, layer);
		dcc_model_free(sd);
		dcc_model_free(m);
		return EXIT_FAIL;
	}
	*n = (size_t)dcc_tensor_numel(t);
	*w = dcc_tensor_to_f32(t);
	if (shape)
		memcpy(shape, t->shape, sizeof(t->shape));
	if (ndim)
		*ndim = t->ndim;
	dcc_model_free(sd);
	if (keep)
		*keep = m;
	else
		dcc_model_free(m);
	return *w ? 0 : EXIT_FAIL;
}

static int plot_hist(const char *in, const opts *o)
{
	int nm = 1 + o->ncompare, rc = EXIT_FAIL;
	const char *paths[9] = {in};
	for (int i = 0; i < o->ncompare; i++)
		paths[i + 1] = o->compare[i];
	float *w[9] = {0};
	size_t n[9] = {0};
	dcc_model *m0 = NULL;
	dcc_series ser[9];
	for (int i = 0; i < nm; i++) {
		if (layer_weights(paths[i], o->layer, &w[i], &n[i], NULL, NULL, i ? NULL : &m0))
			goto done;
		const char *sl = strrchr(paths[i], '/');
		ser[i] = (dcc_series){w[i], n[i], sl ? sl + 1 : paths[i], paths[i]};
	}
	dcc_parts pt;
	layer_parts(m0, o->layer, &pt); /* a shared layer's centroids */
	dcc_canvas *c = dcc_canvas_new(o->w, o->h);
	dcc_hist h = {0};
	dcc_sbuf csv = {0};
	dcc_error e = {0};
	if (!c || dcc_chart_hist(c, ser, nm, o->bins, o->zeros, o->layer, pt.codebook, &h, &csv, &e))
		cmd_fail(in, &e);
	else if (!(rc = save(c, o, in, &csv)))
		printf("%s: histogram of %s, %d bins over [%.6g, %.6g], tallest bin %llu\n", o->out, o->layer, o->bins, h.lo,
		       h.hi, (unsigned long long)h.ymax);
	dcc_sbuf_free(&csv);
	free(h.counts);
	dcc_canvas_free(c);
done:
	for (int i = 0; i < nm; i++)
		free(w[i]);
	dcc_model_free(m0);
	return rc;
}

static int plot_spy(const char *in, const opts *o)
{
	float *w;
	size_t n;
	uint64_t shape[DCC_MAX_DIMS];
	int ndim;
	dcc_model *m;
	if (layer_weights(in, o->layer, &w, &n, shape, &ndim, &m))
		return EXIT_FAIL;
	size_t rows = (size_t)shape[0], cols = n / rows;
	dcc_parts pt;
	layer_parts(m, o->layer, &pt); /* the mask if any, else the nonzero weights */
	char wn[DCC_MAX_NAME + 16]; /* bank boundaries, if banked */
	snprintf(wn, sizeof(wn), "%s.weight", o->layer);
	long bank = dcc_model_bank(m, wn) ? dcc_model_bank(m, wn) : dcc_model_bank(m, o->layer);
	dcc_canvas *c = dcc_canvas_new(o->w, o->h);
	dcc_spy sp = {0};
	dcc_sbuf csv = {0};
	dcc_error e = {0};
	int rc = EXIT_FAIL;
	if (!c || dcc_chart_spy(c, w, pt.mask ? pt.mask->data : NULL, rows, cols, bank, o->layer, &sp, o->csv ? &csv : NULL,
				&e))
		cmd_fail(in, &e);
	else if (!(rc = save(c, o, in, &csv)))
		printf("%s: %zux%zu layer as %zux%zu cells of %zux%zu weights, %d px each, at (%d,%d)%s\n", o->out, rows,
		       cols, sp.gh, sp.gw, sp.blk, sp.blk, sp.px, sp.x0, sp.y0, bank ? ", bank boundaries dashed" : "");
	dcc_sbuf_free(&csv);
	free(sp.density);
	dcc_canvas_free(c);
	free(w);
	dcc_model_free(m);
	return rc;
}

static json_t *load_json(const char *path)
{
	json_error_t je;
	json_t *j = json_load_file(path, 0, &je);
	if (!j)
		cmd_err("%s: not JSON (%s, line %d)", path, je.text, je.line);
	return j;
}

/* The sensitivity of a model, measured here, in dcc sensitivity --json's shape. */
static json_t *measure_sensitivity(const char *in, const opts *o)
{
	static const double lv[12] = {0, .1, .2, .3, .4, .5, .6, .7, .8, .9, .95, .99};
	dcc_model *m;
	dcc_dataset *d;
	if (cmd_load(in, &m))
		return NULL;
	if (cmd_load_data(o->data, &d)) {
		dcc_model_free(m);
		return NULL;
	}
	dcc_error e = {0};
	dcc_net *net = NULL;
	dcc_sensitivity_result sr = {0};
	json_t *j = NULL;
	dcc_scorer sc = {NULL, d, (size_t)o->limit, 0};
	dcc_sensitivity_opts so = {lv, 12, dcc_score_accuracy, &sc, NULL, NULL};
	if (dcc_net_from_model(m, &net, &e) || (sc.net = net, dcc_sensitivity(m, &so, &sr, &e)))
		cmd_fail(in, &e);
	else
		j = cmd_sensitivity_json(&sr, lv, 12, NULL);
	dcc_sensitivity_free(&sr);
	dcc_net_free(net);
	dcc_dataset_free(d);
	dcc_model_free(m);
	return j;
}

static int plot_sensitivity(const char *in, const opts *o)
{
	size_t L = strlen(in);
	json_t *j = L > 4 && !strcmp(in + L - 4, ".dct") ? measure_sensitivity(in, o) : load_json(in);
	if (!j)
		return EXIT_FAIL;
	json_t *lv = json_object_get(j, "levels"), *ls = json_object_get(j, "layers");
	if (!json_is_array(lv) || !json_is_array(ls) || !json_array_size(lv)) {
		cmd_err("%s: not the output of dcc sensitivity --json", in);
		json_decref(j);
		return EXIT_FAIL;
	}
	size_t nl = json_array_size(ls), nv = json_array_size(lv), i, k;
	const char **names = calloc(nl + 1, sizeof(char *));
	double *levels = calloc(nv, sizeof(double)), *acc = calloc(nl * nv + 1, sizeof(double));
	dcc_canvas *c = dcc_canvas_new(o->w, o->h);
	int rc = EXIT_FAIL;
	dcc_sbuf csv = {0};
	if (!names || !levels || !acc || !c)
		goto out;
	for (k = 0; k < nv; k++)
		levels[k] = json_number_value(json_array_get(lv, k));
	json_t *l;
	json_array_foreach(ls, i, l)
	{
		json_t *a = json_object_get(l, "accuracy");
		if (json_array_size(a) != nv) {
			cmd_err("%s: layer %zu has %zu accuracies for %zu levels", in, i, json_array_size(a), nv);
			goto out;
		}
		names[i] = json_string_value(json_object_get(l, "tensor"));
		for (k = 0; k < nv; k++)
			acc[i * nv + k] = json_number_value(json_array_get(a, k));
	}
	dcc_chart_sensitivity(c, nl, names, nv, levels, acc, &csv);
	rc = save(c, o, in, &csv);
out:
	dcc_sbuf_free(&csv);
	free(names), free(levels), free(acc);
	dcc_canvas_free(c);
	json_decref(j);
	return rc;
}

/* A number of an emulator JSON object: the first key present. */
static double num(json_t *o, const char *k1, const char *k2)
{
	json_t *v = json_object_get(o, k1);
	return json_is_number(v) || !k2 ? json_number_value(v) : json_number_value(json_object_get(o, k2));
}

/* dcc emu's JSON: a run has "layers" of cycles and load balance; a sweep
 * is an array of runs, or of such layers (--synthetic). */
static int is_emu_layer(json_t *l)
{
	return json_is_number(json_object_get(l, "cycles")) && json_is_number(json_object_get(l, "load_balance"));
}

static int is_emu_run(json_t *j)
{
	return is_emu_layer(json_array_get(json_object_get(j, "layers"), 0));
}

static int emu_sweep(dcc_canvas *c, json_t *j, dcc_sbuf *csv)
{
	size_t n = json_array_size(j), i;
	int by_pes = json_integer_value(json_object_get(json_array_get(j, n - 1), "pes")) !=
		     json_integer_value(json_object_get(json_array_get(j, 0), "pes"));
	double *x = calloc(n, sizeof(double)), *us = calloc(n, sizeof(double)), *lb = calloc(n, sizeof(double));
	json_t *e;
	if (!x || !us || !lb) {
		free(x), free(us), free(lb);
		return EXIT_FAIL;
	}
	json_array_foreach(j, i, e)
	{
		x[i] = (double)json_integer_value(json_object_get(e, by_pes ? "pes" : "fifo"));
		us[i] = num(e, "latency_us", "us");
		lb[i] = json_is_number(json_object_get(e, "load_balance"))
				? num(e, "load_balance", NULL)
				: num(json_array_get(json_object_get(e, "layers"), 0), "load_balance", NULL);
	}
	dcc_chart_sweep(c, by_pes, n, x, us, lb, csv);
	free(x), free(us), free(lb);
	return 0;
}

static int emu_pes(dcc_canvas *c, json_t *j, const char *in, const char *layer, dcc_sbuf *csv)
{
	json_t *ls = json_object_get(j, "layers"), *l = NULL, *e;
	size_t i;
	json_array_foreach(ls, i, e)
	{
		const char *nm = json_string_value(json_object_get(e, "layer"));
		if (nm && !strcmp(nm, layer))
			l = e;
	}
	json_t *pb = l ? json_object_get(l, "pe_busy_cycles") : NULL;
	size_t P = json_array_size(pb);
	double *busy = P ? calloc(P, sizeof(double)) : NULL;
	if (!busy) {
		cmd_err("%s: no per-PE figures for layer '%s'", in, layer);
		return EXIT_FAIL;
	}
	double T = num(l, "compute_cycles", NULL) - 4; /* the pipeline's 4 */
	for (size_t q = 0; q < P; q++)
		busy[q] = json_number_value(json_array_get(pb, q));
	dcc_chart_pe_busy(c, layer, num(l, "load_balance", NULL), P, busy, T, csv);
	free(busy);
	return 0;
}

static int emu_layers(dcc_canvas *c, json_t *j, dcc_sbuf *csv)
{
	json_t *ls = json_object_get(j, "layers"), *e;
	size_t n = json_array_size(ls), i;
	const char **names = calloc(n + 1, sizeof(char *));
	double *u = calloc(n + 1, sizeof(double)), *lb = calloc(n + 1, sizeof(double)), *cy = calloc(n + 1, sizeof(double));
	int rc = names && u && lb && cy ? 0 : EXIT_FAIL;
	json_array_foreach(ls, i, e)
	{
		if (rc)
			break;
		names[i] = json_string_value(json_object_get(e, "layer"));
		names[i] = names[i] ? names[i] : "?";
		u[i] = num(e, "utilisation", NULL), lb[i] = num(e, "load_balance", NULL), cy[i] = num(e, "cycles", NULL);
	}
	if (!rc)
		dcc_chart_utilisation(c, n, names, u, lb, cy, csv);
	free(names), free(u), free(lb), free(cy);
	return rc;
}

static int plot_emu(const char *in, const opts *o)
{
	json_t *j = load_json(in);
	if (!j)
		return EXIT_FAIL;
	dcc_canvas *c = dcc_canvas_new(o->w, o->h);
	dcc_sbuf csv = {0};
	int rc = EXIT_FAIL;
	if (!c)
		rc = EXIT_FAIL;
	else if (json_is_array(j) && json_array_size(j) &&
		 (is_emu_run(json_array_get(j, 0)) || is_emu_layer(json_array_get(j, 0))))
		rc = emu_sweep(c, j, &csv);
	else if (o->layer && is_emu_run(j))
		rc = emu_pes(c, j, in, o->layer, &csv);
	else if (is_emu_run(j))
		rc = emu_layers(c, j, &csv);
	else
		cmd_err("%s: not the output of dcc emu --json", in);
	if (!rc)
		rc = save(c, o, in, &csv);
	dcc_sbuf_free(&csv);
	dcc_canvas_free(c);
	json_decref(j);
	return rc;
}

/* dcc emu --energy --json: a run's energy by layer and module, or a sweep's
 * energy and energy-delay product. */
static int plot_energy(const char *in, const opts *o)
{
	json_t *j = load_json(in), *e, *bd;
	int sweep = json_is_array(j), rc = EXIT_FAIL;
	json_t *ls = sweep ? j : json_object_get(j, "layers");
	size_t n = json_array_size(ls), i, nm = 0;
	const char *mods[16], **names = calloc(n + 1, sizeof(char *)), *k, *xname = "pes";
	double *uj = calloc(16 * n + 1, sizeof(double)), *x = calloc(4 * n + 1, sizeof(double)), *us = x + n,
	       *tot = x + 2 * n;
	if (j && n && names && uj && x && json_object_get(json_array_get(ls, 0), "energy")) {
		static const char *const keys[] = {"pes", "fifo", "sram_bits", "convolvers", "conv_pes", "act_bits",
						   "weight_bits"};
		for (int q = 0; sweep && q < 7; q++) /* the key the sweep changes */
			if (json_object_get(json_array_get(ls, 0), keys[q]) &&
			    !json_equal(json_object_get(json_array_get(ls, 0), keys[q]),
					json_object_get(json_array_get(ls, n - 1), keys[q])))
				xname = keys[q];
		json_array_foreach(ls, i, e) {
			json_t *en = json_object_get(e, "energy");
			names[i] = json_string_value(json_object_get(e, "layer"));
			names[i] = names[i] ? names[i] : "?";
			x[i] = num(e, xname, NULL), us[i] = num(e, "latency_us", "us"), tot[i] = num(en, "energy_uj", NULL);
			bd = json_object_get(en, "breakdown");
			size_t m = 0;
			json_object_foreach(bd, k, e) if (m < 16) {
				mods[m] = k;
				uj[16 * i + m++] = json_number_value(e) * num(en, "energy_uj", NULL);
			}
			nm = m;
		}
		dcc_canvas *c = dcc_canvas_new(o->w, o->h);
		dcc_sbuf csv = {0};
		if (c && sweep)
			dcc_chart_energy_sweep(c, xname, n, x, tot, us, &csv);
		else if (c) {
			for (i = 0; i < n; i++) /* uj as n x nm */
				memmove(uj + i * nm, uj + 16 * i, nm * sizeof(double));
			dcc_chart_energy(c, n, names, nm, mods, uj, &csv);
		}
		rc = c ? save(c, o, in, &csv) : EXIT_FAIL;
		dcc_sbuf_free(&csv);
		dcc_canvas_free(c);
	} else if (j) {
		cmd_err("%s: not the output of dcc emu --energy --json", in);
	}
	free(names), free(uj), free(x);
	json_decref(j);
	return rc;
}

static int plot_report(const char *in, const opts *o)
{
	dcc_model *m;
	dcc_blob_info info;
	if (cmd_load_blob(in, &m, &info, NULL, NULL))
		return EXIT_FAIL;
	dcc_model_free(m);
	size_t n = info.nlayers;
	dcc_canvas *c = dcc_canvas_new(o->w, o->h);
	const char **names = calloc(n + 1, sizeof(char *));
	double (*v)[4] = calloc(n + 1, sizeof(*v));
	int rc = EXIT_FAIL;
	dcc_sbuf csv = {0};
	if (c && names && v) {
		for (size_t i = 0; i < n; i++) {
			dcc_layer_stage_bytes(&info.layer[i], v[i]);
			names[i] = info.layer[i].name;
		}
		dcc_chart_layer_bytes(c, n, names, (const double(*)[4])v, &csv);
		rc = save(c, o, in, &csv);
	}
	dcc_sbuf_free(&csv);
	free(names), free(v);
	dcc_canvas_free(c);
	dcc_blob_info_free(&info);
	return rc;
}

int cmd_plot(int argc, char **argv)
{
	enum { O_LAYER = 256, O_COMPARE, O_BINS, O_ZEROS, O_SIZE, O_CSV, O_FORCE, O_DATA, O_LIMIT };
	static const struct option opts_[] = {
		{"layer", required_argument, NULL, O_LAYER}, {"compare", required_argument, NULL, O_COMPARE},
		{"bins", required_argument, NULL, O_BINS}, {"zeros", no_argument, NULL, O_ZEROS},
		{"size", required_argument, NULL, O_SIZE}, {"csv", required_argument, NULL, O_CSV},
		{"data", required_argument, NULL, O_DATA}, {"limit", required_argument, NULL, O_LIMIT},
		{"output", required_argument, NULL, 'o'}, {"force", no_argument, NULL, O_FORCE},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	opts o = {0};
	o.bins = 80, o.w = 900, o.h = 560;
	long bins = 80;
	int c;
	while ((c = getopt_long(argc, argv, "o:h", opts_, NULL)) != -1) {
		int bad = 0;
		switch (c) {
		case O_LAYER: o.layer = optarg; break;
		case O_COMPARE:
			if (o.ncompare == 8)
				return cmd_usage_error(usage, "at most 8 --compare models");
			o.compare[o.ncompare++] = optarg;
			break;
		case O_BINS: bad = cmd_parse_long(usage, "--bins", optarg, 1, 10000, &bins); break;
		case O_ZEROS: o.zeros = 1; break;
		case O_SIZE:
			if (sscanf(optarg, "%dx%d", &o.w, &o.h) != 2 || o.w < 320 || o.h < 240 || o.w > 8000 || o.h > 8000)
				bad = cmd_usage_error(usage, "--size: '%s' is not WxH between 320x240 and 8000x8000", optarg);
			break;
		case O_CSV: o.csv = optarg; break;
		case O_DATA: o.data = optarg; break;
		case O_LIMIT: bad = cmd_parse_long(usage, "--limit", optarg, 1, 0x7fffffffL, &o.limit); break;
		case 'o': o.out = optarg; break;
		case O_FORCE: o.force = 1; break;
		case 'h': return cmd_help(usage);
		default: return cmd_usage_error(usage, NULL);
		}
		if (bad)
			return bad;
	}
	o.bins = (int)bins;
	if (argc - optind != 2)
		return cmd_usage_error(usage, "give a kind and one input");
	const char *kind = argv[optind], *in = argv[optind + 1];
	if (!o.out)
		return cmd_usage_error(usage, "no output given (-o OUT.png)");
	const char *outs[] = {o.out, o.csv}, *inputs[11] = {in};
	for (int i = 0; i < o.ncompare; i++)
		inputs[i + 1] = o.compare[i];
	dcc_error e = {0};
	if (dcc_out_check(outs, 2, inputs, o.force, &e))
		return cmd_fail(NULL, &e);
	int need_layer = !strcmp(kind, "hist") || !strcmp(kind, "spy");
	if (need_layer && !o.layer)
		return cmd_usage_error(usage, "%s needs --layer NAME", kind);
	int rc;
	if (!strcmp(kind, "hist"))
		rc = plot_hist(in, &o);
	else if (!strcmp(kind, "spy"))
		rc = plot_spy(in, &o);
	else if (!strcmp(kind, "sensitivity"))
		rc = plot_sensitivity(in, &o);
	else if (!strcmp(kind, "emu"))
		rc = plot_emu(in, &o);
	else if (!strcmp(kind, "report"))
		rc = plot_report(in, &o);
	else if (!strcmp(kind, "energy"))
		rc = plot_energy(in, &o);
	else
		return cmd_usage_error(usage, "unknown kind '%s' (hist, spy, sensitivity, emu, report, energy)", kind);
	return rc ? rc : cmd_finish(EXIT_OK);
}
