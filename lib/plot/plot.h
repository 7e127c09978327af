/* plot.h: an RGB canvas with lines, rectangles and text (an embedded
 * DejaVu Sans Mono bitmap font), chart axes with readable ticks, and PNG
 * output through libpng.  Internal to libdcc and dcc plot. */
#ifndef DCC_PLOT_H
#define DCC_PLOT_H

#include <stdint.h>
#include <stdio.h>

#include "../dcc.h"

extern const int dcc_font_w, dcc_font_h;
extern const unsigned char dcc_font[95][7 * 14];

typedef struct dcc_canvas {
	int w, h;
	uint8_t *rgb;
	/* the plot area and its data ranges, set by dcc_axes */
	int px0, py0, px1, py1;
	double x0, x1, y0, y1;
	int logy;
	int categorical; /* set before dcc_axes: no x ticks (bars per layer) */
} dcc_canvas;

/* The fixed palette: colour i of 8 (0xRRGGBB). */
uint32_t dcc_palette(int i);
#define DCC_BLACK 0x000000u
#define DCC_GREY 0xb0b0b0u
#define DCC_LIGHT 0xe8e8e8u

dcc_canvas *dcc_canvas_new(int w, int h);
void dcc_canvas_free(dcc_canvas *c);
void dcc_rect(dcc_canvas *c, int x0, int y0, int x1, int y1, uint32_t rgb); /* filled, inclusive */
void dcc_line(dcc_canvas *c, int x0, int y0, int x1, int y1, uint32_t rgb);
/* align: 0 left, 1 centre, 2 right; vertical: rotated 90 degrees anticlockwise */
void dcc_text(dcc_canvas *c, int x, int y, const char *s, uint32_t rgb, int align);
void dcc_text_vertical(dcc_canvas *c, int x, int y, const char *s, uint32_t rgb);
/* Frame, grid, ticks with round numbers, labels and title; sets the mapping. */
void dcc_axes(dcc_canvas *c, const char *title, const char *xlabel, const char *ylabel, double x0, double x1,
	      double y0, double y1, int logy);
int dcc_mapx(const dcc_canvas *c, double x);
int dcc_mapy(const dcc_canvas *c, double y);
/* A legend box in the plot area's top right. */
void dcc_legend(dcc_canvas *c, const char *const *names, const uint32_t *colors, int n);
int dcc_png_write(const dcc_canvas *c, FILE *fp, dcc_error *err);

/* ---- charts (charts.c): the data binned or gridded and drawn; the
 * chart's numbers appended to csv as CSV text unless csv is NULL ---- */

/* Histograms of up to 9 weight series (the first as bars, the others as
 * step outlines) over `bins` bins of their common range, nonzero weights
 * only unless zeros; a codebook's centroids dashed.  counts gets
 * ns x bins (the caller frees it). */
typedef struct dcc_series {
	const float *w;
	size_t n;
	const char *label; /* the legend's */
	const char *path;  /* the CSV's column */
} dcc_series;
typedef struct dcc_hist {
	double lo, hi;
	uint64_t *counts, ymax;
} dcc_hist;
int dcc_chart_hist(dcc_canvas *c, const dcc_series *s, int ns, int bins, int zeros, const char *layer,
		   const dcc_tensor *codebook, dcc_hist *h, dcc_sbuf *csv, dcc_error *err);

/* A layer's sparsity pattern: rows x cols as cells of blk x blk weights,
 * each cell's grey its density (mask if given, else the nonzero weights);
 * bank boundaries dashed when bank > 0.  density gets gh x gw (freed by
 * the caller). */
typedef struct dcc_spy {
	size_t blk, gw, gh;
	int px, x0, y0;
	uint64_t nonzero;
	double *density;
} dcc_spy;
int dcc_chart_spy(dcc_canvas *c, const float *w, const uint8_t *mask, size_t rows, size_t cols, long bank,
		  const char *layer, dcc_spy *s, dcc_sbuf *csv, dcc_error *err);

/* The blob's bytes per layer, 4 bars each (dense float32, pruned, shared,
 * coded: v[i]), log scale. */
void dcc_chart_layer_bytes(dcc_canvas *c, size_t n, const char *const *names, const double (*v)[4], dcc_sbuf *csv);
/* The emulator's PE utilisation and load balance per layer (fractions). */
void dcc_chart_utilisation(dcc_canvas *c, size_t n, const char *const *names, const double *util, const double *balance,
			   const double *cycles, dcc_sbuf *csv);
/* One layer's busy cycles per PE under its T cycles, the rest bubbles. */
void dcc_chart_pe_busy(dcc_canvas *c, const char *layer, double balance, size_t P, const double *busy, double T,
		       dcc_sbuf *csv);
/* A sweep: latency and load balance against log2 of PEs or FIFO depth. */
void dcc_chart_sweep(dcc_canvas *c, int by_pes, size_t n, const double *x, const double *us, const double *balance,
		     dcc_sbuf *csv);
/* Energy per inference by layer, stacked by module (uj: n x nm, uJ). */
void dcc_chart_energy(dcc_canvas *c, size_t n, const char *const *names, size_t nm, const char *const *mods,
		      const double *uj, dcc_sbuf *csv);
/* A sweep's energy and energy-delay product against log2 of the swept
 * quantity, each as a fraction of its largest; the least of each marked. */
void dcc_chart_energy_sweep(dcc_canvas *c, const char *xname, size_t n, const double *x, const double *uj,
			    const double *us, dcc_sbuf *csv);
/* Accuracy against sparsity, one line per layer (acc: nlayers x nlevels). */
void dcc_chart_sensitivity(dcc_canvas *c, size_t nlayers, const char *const *names, size_t nlevels, const double *levels,
			   const double *acc, dcc_sbuf *csv);

#endif
