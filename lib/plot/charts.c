/* charts.c: the charts dcc plot draws -- weight histograms with centroids,
 * sparsity patterns by cell density, bars and lines -- computed and drawn
 * on a canvas, and each chart's numbers as CSV text when asked (csv not
 * NULL); what was computed (bins, cell densities) goes back too. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot.h"

#define CHART_MAX_SEGMENTS 16 /* the legend of a stacked chart */

int dcc_chart_hist(dcc_canvas *c, const dcc_series *s, int ns, int bins, int zeros, const char *layer,
		   const dcc_tensor *codebook, dcc_hist *h, dcc_sbuf *csv, dcc_error *err)
{
	memset(h, 0, sizeof(*h));
	double lo = INFINITY, hi = -INFINITY;
	for (int i = 0; i < ns; i++)
		for (size_t k = 0; k < s[i].n; k++)
			if (zeros || s[i].w[k] != 0)
				lo = fmin(lo, s[i].w[k]), hi = fmax(hi, s[i].w[k]);
	if (!(hi >= lo))
		return dcc_fail(err, DCC_E_ARG, "layer '%s' has no nonzero weights to plot (--zeros plots them all)", layer);
	if (hi == lo)
		lo -= 0.5, hi += 0.5;
	int B = bins;
	uint64_t *cnt = calloc((size_t)ns * (size_t)B, sizeof(uint64_t)), ymax = 1;
	if (!cnt)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	for (int i = 0; i < ns; i++)
		for (size_t k = 0; k < s[i].n; k++)
			if (zeros || s[i].w[k] != 0) {
				int b = (int)((s[i].w[k] - lo) / (hi - lo) * B);
				b = b < 0 ? 0 : b >= B ? B - 1 : b;
				cnt[(size_t)i * (size_t)B + (size_t)b]++;
			}
	for (size_t k = 0; k < (size_t)ns * (size_t)B; k++)
		ymax = cnt[k] > ymax ? cnt[k] : ymax;
	char title[DCC_MAX_NAME + 64];
	snprintf(title, sizeof(title), "%s: weight distribution%s", layer, zeros ? "" : " (nonzero weights)");
	dcc_axes(c, title, "weight value", "count", lo, hi, 0, (double)ymax * 1.08, 0);
	for (int b = 0; b < B; b++) { /* the first series as bars */
		double a = lo + (hi - lo) * b / B, z = lo + (hi - lo) * (b + 1) / B;
		if (cnt[b])
			dcc_rect(c, dcc_mapx(c, a) + 1, dcc_mapy(c, (double)cnt[b]), dcc_mapx(c, z), c->py1 - 1, dcc_palette(0));
	}
	for (int i = 1; i < ns; i++) { /* the others as step outlines */
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
	const char *names[10];
	uint32_t cols[10];
	int nl = 0;
	for (int i = 0; i < ns && i < 9; i++)
		names[nl] = s[i].label, cols[nl++] = dcc_palette(i);
	if (codebook) { /* a shared layer's centroids, dashed */
		for (uint64_t k = 0; k < codebook->shape[0]; k++) {
			double v = dcc_tensor_get(codebook, k);
			if (v < lo || v > hi || (v == 0 && !zeros)) /* entry 0 of --zero: not a weight */
				continue;
			int x = dcc_mapx(c, v);
			for (int y = c->py0; y < c->py1; y += 6)
				dcc_line(c, x, y, x, y + 3 < c->py1 ? y + 3 : c->py1, DCC_BLACK);
		}
		names[nl] = "centroids (dashed)";
		cols[nl++] = DCC_BLACK;
	}
	dcc_legend(c, names, cols, nl);
	h->lo = lo, h->hi = hi, h->counts = cnt, h->ymax = ymax;
	if (!csv)
		return 0;
	dcc_sbuf_printf(csv, "bin_low,bin_high");
	for (int i = 0; i < ns; i++)
		dcc_sbuf_printf(csv, ",%s", s[i].path);
	dcc_sbuf_printf(csv, "\n");
	for (int b = 0; b < B; b++) {
		dcc_sbuf_printf(csv, "%.9g,%.9g", lo + (hi - lo) * b / B, lo + (hi - lo) * (b + 1) / B);
		for (int i = 0; i < ns; i++)
			dcc_sbuf_printf(csv, ",%llu", (unsigned long long)cnt[(size_t)i * (size_t)B + (size_t)b]);
		dcc_sbuf_printf(csv, "\n");
	}
	for (uint64_t k = 0; codebook && k < codebook->shape[0]; k++) {
		double v = dcc_tensor_get(codebook, k);
		if (!(v < lo || v > hi || (v == 0 && !zeros)))
			dcc_sbuf_printf(csv, "centroid,%.9g\n", v);
	}
	return 0;
}

int dcc_chart_spy(dcc_canvas *c, const float *w, const uint8_t *mask, size_t rows, size_t cols, long bank,
		  const char *layer, dcc_spy *s, dcc_sbuf *csv, dcc_error *err)
{
	memset(s, 0, sizeof(*s));
	int aw = c->w - 104, ah = c->h - 96; /* the drawing area */
	size_t blk = 1;
	while ((cols + blk - 1) / blk > (size_t)aw || (rows + blk - 1) / blk > (size_t)ah)
		blk++;
	size_t gw = (cols + blk - 1) / blk, gh = (rows + blk - 1) / blk, n = rows * cols;
	int px = (int)fmax(1, fmin((double)aw / (double)gw, (double)ah / (double)gh));
	uint32_t *cnt = calloc(gw * gh, sizeof(uint32_t));
	double *dens = malloc(gw * gh * sizeof(double));
	if (!cnt || !dens) {
		free(cnt), free(dens);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	uint64_t nz = 0;
	for (size_t r = 0; r < rows; r++)
		for (size_t k = 0; k < cols; k++) {
			size_t i = r * cols + k;
			int on = mask ? (mask[i / 8] >> (i % 8)) & 1 : w[i] != 0;
			cnt[(r / blk) * gw + k / blk] += (uint32_t)on;
			nz += (uint64_t)on;
		}
	char title[DCC_MAX_NAME + 96];
	snprintf(title, sizeof(title), "%s: %zux%zu, density %.2f%% (%zux%zu weights per cell)", layer, rows, cols,
		 100.0 * (double)nz / (double)(n ? n : 1), blk, blk);
	c->px0 = 80, c->py0 = 40;
	int x0 = c->px0, y0 = c->py0;
	for (size_t gy = 0; gy < gh; gy++)
		for (size_t gx = 0; gx < gw; gx++) {
			size_t hr = (gy + 1) * blk > rows ? rows - gy * blk : blk, hc = (gx + 1) * blk > cols ? cols - gx * blk : blk;
			double d = (double)cnt[gy * gw + gx] / (double)(hr * hc);
			int g = (int)lround(255 * (1 - d));
			dens[gy * gw + gx] = d;
			dcc_rect(c, x0 + (int)gx * px, y0 + (int)gy * px, x0 + (int)(gx + 1) * px - 1, y0 + (int)(gy + 1) * px - 1,
				 (uint32_t)(g << 16 | g << 8 | g));
		}
	free(cnt);
	int x1 = x0 + (int)gw * px, y1 = y0 + (int)gh * px;
	dcc_line(c, x0 - 1, y0 - 1, x1, y0 - 1, DCC_BLACK), dcc_line(c, x0 - 1, y1, x1, y1, DCC_BLACK);
	dcc_line(c, x0 - 1, y0 - 1, x0 - 1, y1, DCC_BLACK), dcc_line(c, x1, y0 - 1, x1, y1, DCC_BLACK);
	if (bank > 0 && (double)bank / (double)blk * px >= 4)
		for (size_t k = (size_t)bank; k < cols; k += (size_t)bank) {
			int xx = x0 + (int)lround((double)k / (double)blk * px);
			for (int y = y0; y < y1; y += 4)
				dcc_line(c, xx, y, xx, y + 1 < y1 ? y + 1 : y1, 0xd62728);
		}
	dcc_text(c, c->w / 2, 12, title, DCC_BLACK, 1);
	char lab[64];
	snprintf(lab, sizeof(lab), "input (column), 0..%zu", cols - 1);
	dcc_text(c, (x0 + x1) / 2, y1 + 8, lab, DCC_BLACK, 1);
	snprintf(lab, sizeof(lab), "output (row), 0..%zu", rows - 1);
	dcc_text_vertical(c, 8, (y0 + y1) / 2, lab, DCC_BLACK);
	dcc_text(c, x0, y1 + 26, "each cell's grey level is its density: black all kept, white all pruned", DCC_BLACK, 0);
	s->blk = blk, s->gw = gw, s->gh = gh, s->px = px, s->x0 = x0, s->y0 = y0, s->nonzero = nz, s->density = dens;
	if (csv)
		dcc_sbuf_printf(csv, "cell_row,cell_col,density\n");
	for (size_t gy = 0; csv && gy < gh; gy++)
		for (size_t gx = 0; gx < gw; gx++)
			dcc_sbuf_printf(csv, "%zu,%zu,%.6g\n", gy, gx, dens[gy * gw + gx]);
	return 0;
}

void dcc_chart_layer_bytes(dcc_canvas *c, size_t n, const char *const *names, const double (*v)[4], dcc_sbuf *csv)
{
	if (csv)
		dcc_sbuf_printf(csv, "layer,dense_f32,pruned,shared,coded\n");
	for (size_t i = 0; csv && i < n; i++)
		dcc_sbuf_printf(csv, "%s,%.0f,%.0f,%.0f,%.0f\n", names[i], v[i][0], v[i][1], v[i][2], v[i][3]);
	double ymax = 1;
	for (size_t i = 0; i < n; i++)
		ymax = fmax(ymax, v[i][0]);
	c->categorical = 1;
	dcc_axes(c, "bytes per layer: dense, pruned (float + index), shared (codebook index + index), entropy-coded",
		 "layer", "bytes (log scale)", 0, (double)n, 10, ymax * 2, 1);
	for (size_t i = 0; i < n; i++) {
		for (int k = 0; k < 4; k++) {
			int xa = dcc_mapx(c, (double)i + 0.1 + 0.2 * k), xb = dcc_mapx(c, (double)i + 0.3 + 0.2 * k) - 1;
			dcc_rect(c, xa, dcc_mapy(c, v[i][k]), xb, c->py1 - 1, dcc_palette(k));
		}
		dcc_text(c, dcc_mapx(c, (double)i + 0.5), c->py1 + 8, names[i], DCC_BLACK, 1);
	}
	const char *legend[4] = {"dense float32", "pruned", "shared", "Huffman"};
	uint32_t cols[4] = {dcc_palette(0), dcc_palette(1), dcc_palette(2), dcc_palette(3)};
	dcc_legend(c, legend, cols, 4);
}

void dcc_chart_utilisation(dcc_canvas *c, size_t n, const char *const *names, const double *util, const double *balance,
			   const double *cycles, dcc_sbuf *csv)
{
	if (csv)
		dcc_sbuf_printf(csv, "layer,utilisation,load_balance,cycles\n");
	for (size_t i = 0; csv && i < n; i++)
		dcc_sbuf_printf(csv, "%s,%g,%g,%g\n", names[i], util[i], balance[i], cycles[i]);
	c->categorical = 1;
	dcc_axes(c, "PE utilisation and load balance per layer", "layer", "percent", 0, (double)n, 0, 100, 0);
	for (size_t i = 0; i < n; i++) {
		int xa = dcc_mapx(c, (double)i + 0.15), xb = dcc_mapx(c, (double)i + 0.5), xc = dcc_mapx(c, (double)i + 0.85);
		dcc_rect(c, xa, dcc_mapy(c, 100 * util[i]), xb - 1, c->py1 - 1, dcc_palette(0));
		dcc_rect(c, xb, dcc_mapy(c, 100 * balance[i]), xc, c->py1 - 1, dcc_palette(1));
		dcc_text(c, (xa + xc) / 2, c->py1 + 8, names[i], DCC_BLACK, 1);
	}
	const char *legend[2] = {"utilisation", "load balance"};
	uint32_t cols[2] = {dcc_palette(0), dcc_palette(1)};
	dcc_legend(c, legend, cols, 2);
}

void dcc_chart_pe_busy(dcc_canvas *c, const char *layer, double balance, size_t P, const double *busy, double T,
		       dcc_sbuf *csv)
{
	if (csv)
		dcc_sbuf_printf(csv, "pe,busy,bubble\n");
	for (size_t q = 0; csv && q < P; q++)
		dcc_sbuf_printf(csv, "%zu,%g,%g\n", q, busy[q], T - busy[q]);
	char title[DCC_MAX_NAME + 96];
	snprintf(title, sizeof(title), "%s: work per PE (busy) and bubbles, load balance %.1f%%", layer, 100 * balance);
	c->categorical = P > 32;
	dcc_axes(c, title, "PE", "cycles per input", 0, (double)P, 0, T * 1.05, 0);
	for (size_t q = 0; q < P; q++) {
		int xa = dcc_mapx(c, (double)q + 0.1), xb = dcc_mapx(c, (double)q + 0.9);
		dcc_rect(c, xa, dcc_mapy(c, busy[q]), xb, c->py1 - 1, dcc_palette(0));
		dcc_rect(c, xa, dcc_mapy(c, T), xb, dcc_mapy(c, busy[q]) - 1, 0xf4c7c3);
	}
	const char *legend[2] = {"busy (entries, pointer reads)", "bubbles (idle)"};
	uint32_t cols[2] = {dcc_palette(0), 0xf4c7c3};
	dcc_legend(c, legend, cols, 2);
}

void dcc_chart_sweep(dcc_canvas *c, int by_pes, size_t n, const double *x, const double *us, const double *balance,
		     dcc_sbuf *csv)
{
	if (csv)
		dcc_sbuf_printf(csv, "%s,latency_us,load_balance\n", by_pes ? "pes" : "fifo");
	for (size_t i = 0; csv && i < n; i++)
		dcc_sbuf_printf(csv, "%g,%g,%g\n", x[i], us[i], balance[i]);
	double xmax = 1, ymax = 0;
	for (size_t i = 0; i < n; i++)
		xmax = fmax(xmax, log2(x[i])), ymax = fmax(ymax, us[i]);
	dcc_axes(c, by_pes ? "latency and load balance against PEs" : "latency and load balance against FIFO depth",
		 by_pes ? "log2(PEs)" : "log2(FIFO depth)", "latency (us); load balance x max latency", 0, xmax, 0, ymax * 1.1,
		 0);
	int p1x = -1, p1y = -1, p2x = -1, p2y = -1;
	for (size_t i = 0; i < n; i++) {
		int X = dcc_mapx(c, log2(x[i])), Y1 = dcc_mapy(c, us[i]), Y2 = dcc_mapy(c, balance[i] * ymax);
		if (p1x >= 0)
			dcc_line(c, p1x, p1y, X, Y1, dcc_palette(0)), dcc_line(c, p2x, p2y, X, Y2, dcc_palette(1));
		dcc_rect(c, X - 2, Y1 - 2, X + 2, Y1 + 2, dcc_palette(0));
		dcc_rect(c, X - 2, Y2 - 2, X + 2, Y2 + 2, dcc_palette(1));
		p1x = X, p1y = Y1, p2x = X, p2y = Y2;
	}
	const char *legend[2] = {"latency (us)", "load balance (fraction of top)"};
	uint32_t cols[2] = {dcc_palette(0), dcc_palette(1)};
	dcc_legend(c, legend, cols, 2);
}

void dcc_chart_sensitivity(dcc_canvas *c, size_t nlayers, const char *const *names, size_t nlevels, const double *levels,
			   const double *acc, dcc_sbuf *csv)
{
	if (csv)
		dcc_sbuf_printf(csv, "layer,sparsity,accuracy\n");
	for (size_t i = 0; csv && i < nlayers; i++)
		for (size_t k = 0; k < nlevels; k++)
			dcc_sbuf_printf(csv, "%s,%g,%g\n", names[i] ? names[i] : "?", levels[k], acc[i * nlevels + k]);
	double lo = 1, hi = 0;
	for (size_t i = 0; i < nlayers * nlevels; i++)
		lo = fmin(lo, acc[i]), hi = fmax(hi, acc[i]);
	dcc_axes(c, "sensitivity: each layer pruned alone, no retraining", "sparsity (%)", "test accuracy (%)", 0, 100,
		 100 * fmax(0, lo - 0.02), 100 * fmin(1, hi + 0.02), 0);
	uint32_t cols[8];
	for (size_t i = 0; i < nlayers; i++) {
		int px = -1, py = -1;
		for (size_t k = 0; k < nlevels; k++) {
			int x = dcc_mapx(c, 100 * levels[k]), y = dcc_mapy(c, 100 * acc[i * nlevels + k]);
			if (px >= 0)
				dcc_line(c, px, py, x, y, dcc_palette((int)i));
			dcc_rect(c, x - 2, y - 2, x + 2, y + 2, dcc_palette((int)i));
			px = x, py = y;
		}
		if (i < 8)
			cols[i] = dcc_palette((int)i);
	}
	dcc_legend(c, names, cols, nlayers < 8 ? (int)nlayers : 8);
}

void dcc_chart_energy(dcc_canvas *c, size_t n, const char *const *names, size_t nm, const char *const *mods,
		      const double *uj, dcc_sbuf *csv)
{
	if (csv) {
		dcc_sbuf_printf(csv, "layer");
		for (size_t m = 0; m < nm; m++)
			dcc_sbuf_printf(csv, ",%s_uj", mods[m]);
		dcc_sbuf_printf(csv, "\n");
	}
	double ymax = 0;
	for (size_t i = 0; i < n; i++) {
		double t = 0;
		if (csv)
			dcc_sbuf_printf(csv, "%s", names[i]);
		for (size_t m = 0; m < nm; m++) {
			t += uj[i * nm + m];
			if (csv)
				dcc_sbuf_printf(csv, ",%g", uj[i * nm + m]);
		}
		if (csv)
			dcc_sbuf_printf(csv, "\n");
		ymax = fmax(ymax, t);
	}
	c->categorical = 1;
	dcc_axes(c, "energy per inference by layer and module", "layer", "energy (uJ)", 0, (double)n, 0,
		 ymax > 0 ? ymax * 1.1 : 1, 0);
	for (size_t i = 0; i < n; i++) {
		int xa = dcc_mapx(c, (double)i + 0.2), xb = dcc_mapx(c, (double)i + 0.8);
		double base = 0;
		for (size_t m = 0; m < nm; m++) {
			double v = uj[i * nm + m];
			if (v > 0)
				dcc_rect(c, xa, dcc_mapy(c, base + v), xb, dcc_mapy(c, base) - 1, dcc_palette((int)m));
			base += v;
		}
		dcc_text(c, (xa + xb) / 2, c->py1 + 8, names[i], DCC_BLACK, 1);
	}
	uint32_t cols[CHART_MAX_SEGMENTS];
	size_t k = nm < CHART_MAX_SEGMENTS ? nm : CHART_MAX_SEGMENTS;
	for (size_t m = 0; m < k; m++)
		cols[m] = dcc_palette((int)m);
	dcc_legend(c, mods, cols, (int)k);
}

void dcc_chart_energy_sweep(dcc_canvas *c, const char *xname, size_t n, const double *x, const double *uj,
			    const double *us, dcc_sbuf *csv)
{
	if (csv)
		dcc_sbuf_printf(csv, "%s,energy_uj,latency_us,edp\n", xname);
	double xmax = 1, xmin = 1e300, emax = 0, dmax = 0;
	for (size_t i = 0; i < n; i++) {
		if (csv)
			dcc_sbuf_printf(csv, "%g,%g,%g,%g\n", x[i], uj[i], us[i], uj[i] * us[i]);
		xmax = fmax(xmax, log2(x[i])), xmin = fmin(xmin, log2(x[i]));
		emax = fmax(emax, uj[i]), dmax = fmax(dmax, uj[i] * us[i]);
	}
	char title[96], xl[64];
	snprintf(title, sizeof(title), "energy and energy-delay product against %s", xname);
	snprintf(xl, sizeof(xl), "log2(%s)", xname);
	double lo = 1;
	for (size_t i = 0; i < n; i++) {
		if (emax > 0 && uj[i] > 0)
			lo = fmin(lo, uj[i] / emax);
		if (dmax > 0 && uj[i] * us[i] > 0)
			lo = fmin(lo, uj[i] * us[i] / dmax);
	}
	dcc_axes(c, title, xl, "fraction of the largest (log scale)", xmin < xmax ? xmin : 0, xmax, lo / 2, 1.5, 1);
	int px[2] = {-1, -1}, py[2] = {-1, -1};
	size_t be = 0, bd = 0;
	for (size_t i = 0; i < n; i++) {
		be = uj[i] < uj[be] ? i : be;
		bd = uj[i] * us[i] < uj[bd] * us[bd] ? i : bd;
	}
	for (size_t i = 0; i < n; i++) {
		int X = dcc_mapx(c, log2(x[i]));
		double v[2] = {emax > 0 ? fmax(uj[i] / emax, lo) : lo, dmax > 0 ? fmax(uj[i] * us[i] / dmax, lo) : lo};
		for (int k = 0; k < 2; k++) {
			int Y = dcc_mapy(c, v[k]), r = (k ? i == bd : i == be) ? 5 : 2;
			if (px[k] >= 0)
				dcc_line(c, px[k], py[k], X, Y, dcc_palette(k));
			dcc_rect(c, X - r, Y - r, X + r, Y + r, dcc_palette(k));
			px[k] = X, py[k] = Y;
		}
	}
	const char *legend[2] = {"energy per inference (largest square: the least)", "energy x latency"};
	uint32_t cols[2] = {dcc_palette(0), dcc_palette(1)};
	dcc_legend(c, legend, cols, 2);
}
