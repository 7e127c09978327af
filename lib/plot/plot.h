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

#endif
