/* plot.c: dcc plot -- the papers' pictures as PNG (libpng, with an embedded
 * DejaVu Sans Mono bitmap font): weight histograms with centroids, sparsity
 * patterns, sensitivity curves, emulator load balance and scaling, and the
 * compression breakdown of a blob.  --csv writes the plotted numbers. */
#include <jansson.h>
#include <stdarg.h>
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

static int save_png(const dcc_canvas *c, const opts *o, const char *in)
{
	dcc_outfile f;
	dcc_error e = {0};
	const char *inputs[] = {in, NULL};
	if (dcc_out_open(&f, o->out, inputs, o->force, &e))
		return cmd_fail(NULL, &e);
	if (dcc_png_write(c, f.fp, &e) || dcc_out_commit(&f, &e)) {
		dcc_out_abort(&f);
		return cmd_fail(o->out, &e);
	}
	return 0;
}

/* CSV text built in memory, written atomically. */
static int save_csv(const opts *o, const char *in, const char *text)
{
	if (!o->csv)
		return 0;
	dcc_outfile f;
	dcc_error e = {0};
	const char *inputs[] = {in, NULL};
	if (dcc_out_open(&f, o->csv, inputs, o->force, &e))
		return cmd_fail(NULL, &e);
	if (fputs(text, f.fp) < 0 || dcc_out_commit(&f, &e)) {
		dcc_out_abort(&f);
		return cmd_fail(o->csv, &e);
	}
	return 0;
}

typedef struct sbuf {
	char *p;
	size_t n, cap;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		va_start(ap, fmt);
		int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
		va_end(ap);
		if (k < 0)
			return;
		if (b->p && b->n + (size_t)k < b->cap) {
			b->n += (size_t)k;
			return;
		}
		size_t c = b->cap ? b->cap * 2 : 4096;
		while (c < b->n + (size_t)k + 1)
			c *= 2;
		char *q = realloc(b->p, c);
		if (!q)
			return;
		b->p = q;
		b->cap = c;
	}
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
	*w = malloc(*n ? *n * sizeof(float) : 1);
	for (size_t i = 0; *w && i < *n; i++)
		(*w)[i] = (float)dcc_tensor_get(t, i);
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
	for (int i = 0; i < nm; i++)
		if (layer_weights(paths[i], o->layer, &w[i], &n[i], NULL, NULL, i ? NULL : &m0))
			goto done;
	double lo = INFINITY, hi = -INFINITY;
	for (int i = 0; i < nm; i++)
		for (size_t k = 0; k < n[i]; k++)
			if (o->zeros || w[i][k] != 0)
				lo = fmin(lo, w[i][k]), hi = fmax(hi, w[i][k]);
	if (!(hi >= lo)) {
		cmd_err("%s: layer '%s' has no nonzero weights to plot (--zeros plots them all)", in, o->layer);
		goto done;
	}
	if (hi == lo)
		lo -= 0.5, hi += 0.5;
	int B = o->bins;
	uint64_t *cnt = calloc((size_t)nm * (size_t)B, sizeof(uint64_t)), ymax = 1;
	for (int i = 0; cnt && i < nm; i++)
		for (size_t k = 0; k < n[i]; k++)
			if (o->zeros || w[i][k] != 0) {
				int b = (int)((w[i][k] - lo) / (hi - lo) * B);
				b = b < 0 ? 0 : b >= B ? B - 1 : b;
				cnt[(size_t)i * (size_t)B + (size_t)b]++;
			}
	for (size_t k = 0; cnt && k < (size_t)nm * (size_t)B; k++)
		ymax = cnt[k] > ymax ? cnt[k] : ymax;
	dcc_canvas *c = cnt ? dcc_canvas_new(o->w, o->h) : NULL;
	if (!c) {
		free(cnt);
		goto done;
	}
	char title[DCC_MAX_NAME + 64];
	snprintf(title, sizeof(title), "%s: weight distribution%s", o->layer, o->zeros ? "" : " (nonzero weights)");
	dcc_axes(c, title, "weight value", "count", lo, hi, 0, (double)ymax * 1.08, 0);
	sbuf csv = {0};
	sb_printf(&csv, "bin_low,bin_high");
	for (int i = 0; i < nm; i++)
		sb_printf(&csv, ",%s", paths[i]);
	sb_printf(&csv, "\n");
	for (int b = 0; b < B; b++) { /* the first model as bars */
		double a = lo + (hi - lo) * b / B, z = lo + (hi - lo) * (b + 1) / B;
		if (cnt[b])
			dcc_rect(c, dcc_mapx(c, a) + 1, dcc_mapy(c, (double)cnt[b]), dcc_mapx(c, z), c->py1 - 1, dcc_palette(0));
		sb_printf(&csv, "%.9g,%.9g", a, z);
		for (int i = 0; i < nm; i++)
			sb_printf(&csv, ",%llu", (unsigned long long)cnt[(size_t)i * (size_t)B + (size_t)b]);
		sb_printf(&csv, "\n");
	}
	for (int i = 1; i < nm; i++) { /* the others as step outlines */
		int py = c->py1;
		for (int b = 0; b < B; b++) {
			int x0 = dcc_mapx(c, lo + (hi - lo) * b / B), x1 = dcc_mapx(c, lo + (hi - lo) * (b + 1) / B);
			int y = dcc_mapy(c, (double)cnt[(size_t)i * (size_t)B + (size_t)b]);
			dcc_line(c, x0, py, x0, y, dcc_palette(i));
			dcc_line(c, x0, y, x1, y, dcc_palette(i));
			py = y;
		}
		dcc_line(c, c->px1, py, c->px1, c->py1, dcc_palette(i));
	}
	/* a shared layer's centroids */
	char nmcb[DCC_MAX_NAME + 32];
	snprintf(nmcb, sizeof(nmcb), "%s.weight.codebook", o->layer);
	const dcc_tensor *cb = dcc_model_find(m0, nmcb);
	if (!cb) {
		snprintf(nmcb, sizeof(nmcb), "%s.codebook", o->layer);
		cb = dcc_model_find(m0, nmcb);
	}
	const char *names[10];
	uint32_t cols[10];
	int nl = 0;
	for (int i = 0; i < nm; i++) {
		const char *s = strrchr(paths[i], '/');
		names[nl] = s ? s + 1 : paths[i];
		cols[nl++] = dcc_palette(i);
	}
	if (cb) {
		for (uint64_t k = 0; k < cb->shape[0]; k++) {
			double v = dcc_tensor_get(cb, k);
			if (v < lo || v > hi || (v == 0 && !o->zeros)) /* entry 0 of --zero: not a weight */
				continue;
			int x = dcc_mapx(c, v);
			for (int y = c->py0; y < c->py1; y += 6) /* dashed */
				dcc_line(c, x, y, x, y + 3 < c->py1 ? y + 3 : c->py1, DCC_BLACK);
			sb_printf(&csv, "centroid,%.9g\n", v);
		}
		names[nl] = "centroids (dashed)";
		cols[nl++] = DCC_BLACK;
	}
	dcc_legend(c, names, cols, nl);
	rc = save_png(c, o, in) || save_csv(o, in, csv.p ? csv.p : "") ? EXIT_FAIL : 0;
	if (!rc)
		printf("%s: histogram of %s, %d bins over [%.6g, %.6g], tallest bin %llu\n", o->out, o->layer, B, lo, hi,
		       (unsigned long long)ymax);
	free(csv.p);
	free(cnt);
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
	/* mask if any, else nonzero */
	char nm[DCC_MAX_NAME + 32];
	snprintf(nm, sizeof(nm), "%s.weight.mask", o->layer);
	const dcc_tensor *mk = dcc_model_find(m, nm);
	if (!mk) {
		snprintf(nm, sizeof(nm), "%s.mask", o->layer);
		mk = dcc_model_find(m, nm);
	}
	int aw = o->w - 104, ah = o->h - 96; /* the drawing area */
	size_t blk = 1;
	while ((cols + blk - 1) / blk > (size_t)aw || (rows + blk - 1) / blk > (size_t)ah)
		blk++;
	size_t gw = (cols + blk - 1) / blk, gh = (rows + blk - 1) / blk;
	int px = (int)fmax(1, fmin((double)aw / (double)gw, (double)ah / (double)gh));
	uint32_t *cnt = calloc(gw * gh, sizeof(uint32_t));
	int rc = EXIT_FAIL;
	dcc_canvas *c = cnt ? dcc_canvas_new(o->w, o->h) : NULL;
	if (!c)
		goto out;
	uint64_t nz = 0;
	for (size_t r = 0; r < rows; r++)
		for (size_t k = 0; k < cols; k++) {
			size_t i = r * cols + k;
			int on = mk ? (((const uint8_t *)mk->data)[i / 8] >> (i % 8)) & 1 : w[i] != 0;
			cnt[(r / blk) * gw + k / blk] += (uint32_t)on;
			nz += (uint64_t)on;
		}
	char title[DCC_MAX_NAME + 96];
	snprintf(title, sizeof(title), "%s: %zux%zu, density %.2f%% (%zux%zu weights per cell)", o->layer, rows, cols,
		 100.0 * (double)nz / (double)(n ? n : 1), blk, blk);
	c->px0 = 80, c->py0 = 40;
	int x0 = c->px0, y0 = c->py0;
	sbuf csv = {0};
	sb_printf(&csv, "cell_row,cell_col,density\n");
	for (size_t gy = 0; gy < gh; gy++)
		for (size_t gx = 0; gx < gw; gx++) {
			size_t hr = (gy + 1) * blk > rows ? rows - gy * blk : blk, hc = (gx + 1) * blk > cols ? cols - gx * blk : blk;
			double d = (double)cnt[gy * gw + gx] / (double)(hr * hc);
			int g = (int)lround(255 * (1 - d));
			uint32_t col = (uint32_t)(g << 16 | g << 8 | g);
			dcc_rect(c, x0 + (int)gx * px, y0 + (int)gy * px, x0 + (int)(gx + 1) * px - 1, y0 + (int)(gy + 1) * px - 1,
				 col);
			if (o->csv)
				sb_printf(&csv, "%zu,%zu,%.6g\n", gy, gx, d);
		}
	int x1 = x0 + (int)gw * px, y1 = y0 + (int)gh * px;
	dcc_line(c, x0 - 1, y0 - 1, x1, y0 - 1, DCC_BLACK), dcc_line(c, x0 - 1, y1, x1, y1, DCC_BLACK);
	dcc_line(c, x0 - 1, y0 - 1, x0 - 1, y1, DCC_BLACK), dcc_line(c, x1, y0 - 1, x1, y1, DCC_BLACK);
	/* a bank-balanced layer: its bank boundaries, from the provenance */
	const dcc_kv *pv = dcc_model_get_kv(m, "dcc.provenance");
	long bank = 0;
	for (size_t i = 0; pv && pv->type == DCC_KV_ARR && pv->elem_type == DCC_KV_STR && i < pv->count; i++) {
		const char *b = strstr(pv->s[i], " bank=");
		if (!strncmp(pv->s[i], "prune ", 6) && b)
			bank = atol(b + 6);
	}
	if (bank > 0 && (double)bank / (double)blk * px >= 4)
		for (size_t k = (size_t)bank; k < cols; k += (size_t)bank) {
			int xx = x0 + (int)lround((double)k / (double)blk * px);
			for (int y = y0; y < y1; y += 4)
				dcc_line(c, xx, y, xx, y + 1 < y1 ? y + 1 : y1, 0xd62728);
		}
	dcc_text(c, o->w / 2, 12, title, DCC_BLACK, 1);
	char lab[64];
	snprintf(lab, sizeof(lab), "input (column), 0..%zu", cols - 1);
	dcc_text(c, (x0 + x1) / 2, y1 + 8, lab, DCC_BLACK, 1);
	snprintf(lab, sizeof(lab), "output (row), 0..%zu", rows - 1);
	dcc_text_vertical(c, 8, (y0 + y1) / 2, lab, DCC_BLACK);
	dcc_text(c, x0, y1 + 26, "each cell's grey level is its density: black all kept, white all pruned", DCC_BLACK, 0);
	rc = save_png(c, o, in) || save_csv(o, in, csv.p ? csv.p : "") ? EXIT_FAIL : 0;
	if (!rc)
		printf("%s: %zux%zu layer as %zux%zu cells of %zux%zu weights, %d px each, at (%d,%d)%s\n", o->out, rows,
		       cols, gh, gw, blk, blk, px, x0, y0, bank ? ", bank boundaries dashed" : "");
	free(csv.p);
out:
	dcc_canvas_free(c);
	free(cnt);
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
	if (dcc_net_from_model(m, &net, &e) || (sc.net = net, dcc_sensitivity(m, &so, &sr, &e))) {
		cmd_fail(in, &e);
	} else {
		const double *acc = sr.acc, base = sr.base;
		const dcc_prunable *p = sr.p;
		size_t np = sr.np;
		json_t *levels = json_array(), *layers = json_array();
		for (int k = 0; k < 12; k++)
			json_array_append_new(levels, json_real(lv[k]));
		for (size_t i = 0; i < np; i++) {
			json_t *a = json_array();
			for (int k = 0; k < 12; k++)
				json_array_append_new(a, json_real(acc[i * 12 + (size_t)k]));
			json_array_append_new(layers, json_pack("{s:s, s:s, s:o}", "layer", p[i].layer, "tensor", p[i].tensor,
								"accuracy", a));
		}
		j = json_pack("{s:f, s:o, s:o}", "baseline", base, "levels", levels, "layers", layers);
	}
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
	dcc_canvas *c = dcc_canvas_new(o->w, o->h);
	double lo = 1, hi = 0;
	size_t i, k;
	json_t *l, *v;
	json_array_foreach(ls, i, l) json_array_foreach(json_object_get(l, "accuracy"), k, v)
	{
		lo = fmin(lo, json_number_value(v)), hi = fmax(hi, json_number_value(v));
	}
	dcc_axes(c, "sensitivity: each layer pruned alone, no retraining", "sparsity (%)", "test accuracy (%)", 0, 100,
		 100 * fmax(0, lo - 0.02), 100 * fmin(1, hi + 0.02), 0);
	const char *names[8];
	uint32_t cols[8];
	int nl = 0;
	sbuf csv = {0};
	sb_printf(&csv, "layer,sparsity,accuracy\n");
	json_array_foreach(ls, i, l)
	{
		json_t *acc = json_object_get(l, "accuracy");
		int px = -1, py = -1;
		for (k = 0; k < json_array_size(lv) && k < json_array_size(acc); k++) {
			double s = json_number_value(json_array_get(lv, k)), a = json_number_value(json_array_get(acc, k));
			int x = dcc_mapx(c, 100 * s), y = dcc_mapy(c, 100 * a);
			if (px >= 0)
				dcc_line(c, px, py, x, y, dcc_palette((int)i));
			dcc_rect(c, x - 2, y - 2, x + 2, y + 2, dcc_palette((int)i));
			px = x, py = y;
			sb_printf(&csv, "%s,%g,%g\n", json_string_value(json_object_get(l, "tensor")), s, a);
		}
		if (nl < 8) {
			names[nl] = json_string_value(json_object_get(l, "tensor"));
			cols[nl] = dcc_palette((int)i);
			nl++;
		}
	}
	dcc_legend(c, names, cols, nl);
	int rc = save_png(c, o, in) || save_csv(o, in, csv.p ? csv.p : "") ? EXIT_FAIL : 0;
	free(csv.p);
	dcc_canvas_free(c);
	json_decref(j);
	return rc;
}

static int plot_emu(const char *in, const opts *o)
{
	json_t *j = load_json(in);
	if (!j)
		return EXIT_FAIL;
	dcc_canvas *c = dcc_canvas_new(o->w, o->h);
	sbuf csv = {0};
	int rc = EXIT_FAIL;
	size_t i;
	json_t *e;
	if (json_is_array(j) && json_array_size(j)) { /* a sweep */
		json_t *first = json_array_get(j, 0);
		int by_pes = json_integer_value(json_object_get(json_array_get(j, json_array_size(j) - 1), "pes")) !=
			     json_integer_value(json_object_get(first, "pes"));
		double xmax = 1, ymax = 0;
		json_array_foreach(j, i, e)
		{
			double x = (double)json_integer_value(json_object_get(e, by_pes ? "pes" : "fifo"));
			double us = json_is_number(json_object_get(e, "latency_us")) ? json_number_value(json_object_get(e, "latency_us"))
										      : json_number_value(json_object_get(e, "us"));
			xmax = fmax(xmax, log2(x)), ymax = fmax(ymax, us);
		}
		dcc_axes(c, by_pes ? "latency and load balance against PEs" : "latency and load balance against FIFO depth",
			 by_pes ? "log2(PEs)" : "log2(FIFO depth)", "latency (us); load balance x max latency", 0, xmax,
			 0, ymax * 1.1, 0);
		sb_printf(&csv, "%s,latency_us,load_balance\n", by_pes ? "pes" : "fifo");
		int p1x = -1, p1y = -1, p2x = -1, p2y = -1;
		json_array_foreach(j, i, e)
		{
			double x = (double)json_integer_value(json_object_get(e, by_pes ? "pes" : "fifo"));
			double us = json_is_number(json_object_get(e, "latency_us")) ? json_number_value(json_object_get(e, "latency_us"))
										      : json_number_value(json_object_get(e, "us"));
			double lb = json_is_number(json_object_get(e, "load_balance"))
					    ? json_number_value(json_object_get(e, "load_balance"))
					    : json_number_value(json_object_get(json_array_get(json_object_get(e, "layers"), 0), "load_balance"));
			int X = dcc_mapx(c, log2(x)), Y1 = dcc_mapy(c, us), Y2 = dcc_mapy(c, lb * ymax);
			if (p1x >= 0)
				dcc_line(c, p1x, p1y, X, Y1, dcc_palette(0)), dcc_line(c, p2x, p2y, X, Y2, dcc_palette(1));
			dcc_rect(c, X - 2, Y1 - 2, X + 2, Y1 + 2, dcc_palette(0));
			dcc_rect(c, X - 2, Y2 - 2, X + 2, Y2 + 2, dcc_palette(1));
			p1x = X, p1y = Y1, p2x = X, p2y = Y2;
			sb_printf(&csv, "%g,%g,%g\n", x, us, lb);
		}
		const char *names[2] = {"latency (us)", "load balance (fraction of top)"};
		uint32_t cols[2] = {dcc_palette(0), dcc_palette(1)};
		dcc_legend(c, names, cols, 2);
	} else if (o->layer && json_is_array(json_object_get(j, "layers"))) { /* one layer, per PE */
		json_t *ls = json_object_get(j, "layers"), *l = NULL;
		json_array_foreach(ls, i, e) if (!strcmp(json_string_value(json_object_get(e, "layer")) ? json_string_value(json_object_get(e, "layer")) : "", o->layer)) l = e;
		json_t *pb = l ? json_object_get(l, "pe_busy_cycles") : NULL;
		if (!pb || !json_array_size(pb)) {
			cmd_err("%s: no per-PE figures for layer '%s'", in, o->layer);
			goto out;
		}
		size_t P = json_array_size(pb);
		double T = json_number_value(json_object_get(l, "compute_cycles")) - 4; /* the pipeline's 4 */
		char title[DCC_MAX_NAME + 96];
		snprintf(title, sizeof(title), "%s: work per PE (busy) and bubbles, load balance %.1f%%", o->layer,
			 100 * json_number_value(json_object_get(l, "load_balance")));
		c->categorical = P > 32;
		dcc_axes(c, title, "PE", "cycles per input", 0, (double)P, 0, T * 1.05, 0);
		sb_printf(&csv, "pe,busy,bubble\n");
		for (size_t q = 0; q < P; q++) {
			double b = json_number_value(json_array_get(pb, q));
			int xa = dcc_mapx(c, (double)q + 0.1), xb = dcc_mapx(c, (double)q + 0.9);
			dcc_rect(c, xa, dcc_mapy(c, b), xb, c->py1 - 1, dcc_palette(0));
			dcc_rect(c, xa, dcc_mapy(c, T), xb, dcc_mapy(c, b) - 1, 0xf4c7c3);
			sb_printf(&csv, "%zu,%g,%g\n", q, b, T - b);
		}
		const char *names[2] = {"busy (entries, pointer reads)", "bubbles (idle)"};
		uint32_t cols[2] = {dcc_palette(0), 0xf4c7c3};
		dcc_legend(c, names, cols, 2);
	} else if (json_is_array(json_object_get(j, "layers"))) { /* per layer bars */
		json_t *ls = json_object_get(j, "layers");
		size_t n = json_array_size(ls);
		c->categorical = 1;
		dcc_axes(c, "PE utilisation and load balance per layer", "layer", "percent", 0, (double)n, 0, 100, 0);
		sb_printf(&csv, "layer,utilisation,load_balance,cycles\n");
		json_array_foreach(ls, i, e)
		{
			double u = json_number_value(json_object_get(e, "utilisation")),
			       lb = json_number_value(json_object_get(e, "load_balance"));
			int xa = dcc_mapx(c, (double)i + 0.15), xb = dcc_mapx(c, (double)i + 0.5), xc = dcc_mapx(c, (double)i + 0.85);
			dcc_rect(c, xa, dcc_mapy(c, 100 * u), xb - 1, c->py1 - 1, dcc_palette(0));
			dcc_rect(c, xb, dcc_mapy(c, 100 * lb), xc, c->py1 - 1, dcc_palette(1));
			dcc_text(c, (xa + xc) / 2, c->py1 + 8, json_string_value(json_object_get(e, "layer")), DCC_BLACK, 1);
			sb_printf(&csv, "%s,%g,%g,%g\n", json_string_value(json_object_get(e, "layer")), u, lb,
				  json_number_value(json_object_get(e, "cycles")));
		}
		const char *names[2] = {"utilisation", "load balance"};
		uint32_t cols[2] = {dcc_palette(0), dcc_palette(1)};
		dcc_legend(c, names, cols, 2);
	} else {
		cmd_err("%s: not the output of dcc emu --json", in);
		goto out;
	}
	rc = save_png(c, o, in) || save_csv(o, in, csv.p ? csv.p : "") ? EXIT_FAIL : 0;
out:
	free(csv.p);
	dcc_canvas_free(c);
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
	dcc_canvas *c = dcc_canvas_new(o->w, o->h);
	size_t n = info.nlayers;
	double ymax = 1;
	for (size_t i = 0; i < n; i++)
		ymax = fmax(ymax, 4.0 * (double)info.layer[i].weights);
	c->categorical = 1;
	dcc_axes(c, "bytes per layer: dense, pruned (float + index), shared (codebook index + index), entropy-coded",
		 "layer", "bytes (log scale)", 0, (double)n, 10, ymax * 2, 1);
	sbuf csv = {0};
	sb_printf(&csv, "layer,dense_f32,pruned,shared,coded\n");
	for (size_t i = 0; i < n; i++) {
		const dcc_layer_info *l = &info.layer[i];
		double ent = (double)(l->nonzero + l->fillers);
		double v[4] = {4.0 * (double)l->weights, ent * (32 + l->index_bits) / 8,
			       ent * (double)(l->value_bits + l->index_bits) / 8, (double)l->bytes};
		for (int k = 0; k < 4; k++) {
			int xa = dcc_mapx(c, (double)i + 0.1 + 0.2 * k), xb = dcc_mapx(c, (double)i + 0.3 + 0.2 * k) - 1;
			dcc_rect(c, xa, dcc_mapy(c, v[k]), xb, c->py1 - 1, dcc_palette(k));
		}
		dcc_text(c, dcc_mapx(c, (double)i + 0.5), c->py1 + 8, l->name, DCC_BLACK, 1);
		sb_printf(&csv, "%s,%.0f,%.0f,%.0f,%.0f\n", l->name, v[0], v[1], v[2], v[3]);
	}
	const char *names[4] = {"dense float32", "pruned", "shared", "Huffman"};
	uint32_t cols[4] = {dcc_palette(0), dcc_palette(1), dcc_palette(2), dcc_palette(3)};
	dcc_legend(c, names, cols, 4);
	int rc = save_png(c, o, in) || save_csv(o, in, csv.p ? csv.p : "") ? EXIT_FAIL : 0;
	free(csv.p);
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
	else
		return cmd_usage_error(usage, "unknown kind '%s' (hist, spy, sensitivity, emu, report)", kind);
	return rc ? rc : cmd_finish(EXIT_OK);
}
