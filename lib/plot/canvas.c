/* canvas.c: drawing on an RGB buffer and writing it as PNG. */
#include <math.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "plot.h"

uint32_t dcc_palette(int i)
{
	static const uint32_t p[8] = {0x1f77b4, 0xd62728, 0x2ca02c, 0xff7f0e, 0x9467bd, 0x8c564b, 0x17becf, 0x7f7f7f};
	return p[((i % 8) + 8) % 8];
}

dcc_canvas *dcc_canvas_new(int w, int h)
{
	dcc_canvas *c = calloc(1, sizeof(*c));
	if (!c || !(c->rgb = malloc((size_t)w * (size_t)h * 3))) {
		free(c);
		return NULL;
	}
	c->w = w, c->h = h;
	memset(c->rgb, 255, (size_t)w * (size_t)h * 3);
	return c;
}

void dcc_canvas_free(dcc_canvas *c)
{
	if (c) {
		free(c->rgb);
		free(c);
	}
}

static inline void put(dcc_canvas *c, int x, int y, uint32_t rgb, int alpha)
{
	if (x < 0 || y < 0 || x >= c->w || y >= c->h || alpha <= 0)
		return;
	uint8_t *p = c->rgb + ((size_t)y * (size_t)c->w + (size_t)x) * 3;
	int col[3] = {(int)(rgb >> 16) & 255, (int)(rgb >> 8) & 255, (int)rgb & 255};
	for (int k = 0; k < 3; k++)
		p[k] = (uint8_t)((p[k] * (255 - alpha) + col[k] * alpha + 127) / 255);
}

void dcc_rect(dcc_canvas *c, int x0, int y0, int x1, int y1, uint32_t rgb)
{
	if (x0 > x1) { int t = x0; x0 = x1; x1 = t; }
	if (y0 > y1) { int t = y0; y0 = y1; y1 = t; }
	for (int y = y0 < 0 ? 0 : y0; y <= y1 && y < c->h; y++)
		for (int x = x0 < 0 ? 0 : x0; x <= x1 && x < c->w; x++)
			put(c, x, y, rgb, 255);
}

void dcc_line(dcc_canvas *c, int x0, int y0, int x1, int y1, uint32_t rgb)
{
	int dx = abs(x1 - x0), sx = x0 < x1 ? 1 : -1, dy = -abs(y1 - y0), sy = y0 < y1 ? 1 : -1, e = dx + dy;
	for (int guard = 0; guard < 100000; guard++) {
		put(c, x0, y0, rgb, 255);
		if (x0 == x1 && y0 == y1)
			break;
		int e2 = 2 * e;
		if (e2 >= dy) e += dy, x0 += sx;
		if (e2 <= dx) e += dx, y0 += sy;
	}
}

void dcc_text(dcc_canvas *c, int x, int y, const char *s, uint32_t rgb, int align)
{
	int n = (int)strlen(s);
	x -= align == 1 ? n * dcc_font_w / 2 : align == 2 ? n * dcc_font_w : 0;
	for (int i = 0; i < n; i++) {
		int ch = (unsigned char)s[i];
		if (ch < 32 || ch > 126)
			ch = '?';
		const unsigned char *g = dcc_font[ch - 32];
		for (int yy = 0; yy < dcc_font_h; yy++)
			for (int xx = 0; xx < dcc_font_w; xx++)
				put(c, x + i * dcc_font_w + xx, y + yy, rgb, g[yy * dcc_font_w + xx]);
	}
}

void dcc_text_vertical(dcc_canvas *c, int x, int y, const char *s, uint32_t rgb)
{
	/* centred on (x, y), reading bottom to top */
	int n = (int)strlen(s), y0 = y + n * dcc_font_w / 2;
	for (int i = 0; i < n; i++) {
		int ch = (unsigned char)s[i];
		if (ch < 32 || ch > 126)
			ch = '?';
		const unsigned char *g = dcc_font[ch - 32];
		for (int yy = 0; yy < dcc_font_h; yy++)
			for (int xx = 0; xx < dcc_font_w; xx++)
				put(c, x + yy, y0 - i * dcc_font_w - xx, rgb, g[yy * dcc_font_w + xx]);
	}
}

int dcc_mapx(const dcc_canvas *c, double x)
{
	double t = c->x1 > c->x0 ? (x - c->x0) / (c->x1 - c->x0) : 0;
	return c->px0 + (int)lround(t * (c->px1 - c->px0));
}

int dcc_mapy(const dcc_canvas *c, double y)
{
	double a = c->y0, b = c->y1;
	if (c->logy) {
		y = log10(y > 0 ? y : 1e-300), a = log10(a), b = log10(b);
	}
	double t = b > a ? (y - a) / (b - a) : 0;
	if (t < 0) t = 0;
	if (t > 1) t = 1;
	return c->py1 - (int)lround(t * (c->py1 - c->py0));
}

/* A round tick step giving about n ticks over the range. */
static double nice_step(double range, int n)
{
	double raw = range / n, p = pow(10, floor(log10(raw))), f = raw / p;
	return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * p;
}

static void fmt_tick(char *buf, size_t cap, double v, double step)
{
	if (fabs(v) < step * 1e-9)
		v = 0;
	int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
	if (fabs(v) >= 1e5 || (v != 0 && fabs(v) < 1e-4))
		snprintf(buf, cap, "%.0e", v);
	else
		snprintf(buf, cap, "%.*f", dec > 6 ? 6 : dec, v);
}

void dcc_axes(dcc_canvas *c, const char *title, const char *xlabel, const char *ylabel, double x0, double x1,
	      double y0, double y1, int logy)
{
	c->px0 = 80, c->px1 = c->w - 24, c->py0 = 40, c->py1 = c->h - 56;
	if (!(x1 > x0))
		x1 = x0 + 1;
	if (logy) {
		if (!(y0 > 0))
			y0 = 1;
		if (!(y1 > y0))
			y1 = y0 * 10;
	} else if (!(y1 > y0)) {
		y1 = y0 + 1;
	}
	c->x0 = x0, c->x1 = x1, c->y0 = y0, c->y1 = y1, c->logy = logy;
	char b[64];
	/* grid and ticks */
	double sx = nice_step(x1 - x0, 8);
	for (double v = ceil(x0 / sx) * sx; !c->categorical && v <= x1 + sx * 1e-9; v += sx) {
		int px = dcc_mapx(c, v);
		dcc_line(c, px, c->py0, px, c->py1, DCC_LIGHT);
		dcc_line(c, px, c->py1, px, c->py1 + 4, DCC_BLACK);
		fmt_tick(b, sizeof(b), v, sx);
		dcc_text(c, px, c->py1 + 7, b, DCC_BLACK, 1);
	}
	if (logy) {
		for (double v = pow(10, ceil(log10(y0) - 1e-9)); v <= y1 * (1 + 1e-9); v *= 10) {
			int py = dcc_mapy(c, v);
			dcc_line(c, c->px0, py, c->px1, py, DCC_LIGHT);
			dcc_line(c, c->px0 - 4, py, c->px0, py, DCC_BLACK);
			snprintf(b, sizeof(b), "%g", v);
			dcc_text(c, c->px0 - 7, py - dcc_font_h / 2, b, DCC_BLACK, 2);
		}
	} else {
		double sy = nice_step(y1 - y0, 6);
		for (double v = ceil(y0 / sy) * sy; v <= y1 + sy * 1e-9; v += sy) {
			int py = dcc_mapy(c, v);
			dcc_line(c, c->px0, py, c->px1, py, DCC_LIGHT);
			dcc_line(c, c->px0 - 4, py, c->px0, py, DCC_BLACK);
			fmt_tick(b, sizeof(b), v, sy);
			dcc_text(c, c->px0 - 7, py - dcc_font_h / 2, b, DCC_BLACK, 2);
		}
	}
	/* frame, labels, title */
	dcc_line(c, c->px0, c->py0, c->px1, c->py0, DCC_BLACK);
	dcc_line(c, c->px0, c->py1, c->px1, c->py1, DCC_BLACK);
	dcc_line(c, c->px0, c->py0, c->px0, c->py1, DCC_BLACK);
	dcc_line(c, c->px1, c->py0, c->px1, c->py1, DCC_BLACK);
	dcc_text(c, (c->px0 + c->px1) / 2, c->h - 20, xlabel, DCC_BLACK, 1);
	dcc_text_vertical(c, 8, (c->py0 + c->py1) / 2, ylabel, DCC_BLACK);
	dcc_text(c, c->w / 2, 12, title, DCC_BLACK, 1);
}

void dcc_legend(dcc_canvas *c, const char *const *names, const uint32_t *colors, int n)
{
	int wmax = 0;
	for (int i = 0; i < n; i++)
		wmax = (int)strlen(names[i]) > wmax ? (int)strlen(names[i]) : wmax;
	int bw = wmax * dcc_font_w + 34, bh = n * (dcc_font_h + 4) + 8, x0 = c->px1 - bw - 8, y0 = c->py0 + 8;
	dcc_rect(c, x0, y0, x0 + bw, y0 + bh, 0xffffff);
	dcc_line(c, x0, y0, x0 + bw, y0, DCC_GREY), dcc_line(c, x0, y0 + bh, x0 + bw, y0 + bh, DCC_GREY);
	dcc_line(c, x0, y0, x0, y0 + bh, DCC_GREY), dcc_line(c, x0 + bw, y0, x0 + bw, y0 + bh, DCC_GREY);
	for (int i = 0; i < n; i++) {
		int y = y0 + 6 + i * (dcc_font_h + 4);
		dcc_rect(c, x0 + 6, y + 3, x0 + 22, y + dcc_font_h - 4, colors[i]);
		dcc_text(c, x0 + 28, y, names[i], DCC_BLACK, 0);
	}
}

int dcc_png_write(const dcc_canvas *c, FILE *fp, dcc_error *err)
{
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png ? png_create_info_struct(png) : NULL;
	if (!png || !info) {
		png_destroy_write_struct(&png, NULL);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	if (setjmp(png_jmpbuf(png))) {
		png_destroy_write_struct(&png, &info);
		return dcc_fail(err, DCC_E_IO, "PNG write failed");
	}
	png_init_io(png, fp);
	png_set_IHDR(png, info, (png_uint_32)c->w, (png_uint_32)c->h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
		     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_set_filter(png, 0, PNG_FILTER_NONE); /* plain rows: simple for anyone to check */
	png_write_info(png, info);
	for (int y = 0; y < c->h; y++)
		png_write_row(png, c->rgb + (size_t)y * (size_t)c->w * 3);
	png_write_end(png, info);
	png_destroy_write_struct(&png, &info);
	return 0;
}
