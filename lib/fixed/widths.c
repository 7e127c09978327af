/* widths.c: the bit-width search of dcc fixed --search (like Ristretto):
 * the smallest widths for the conv weights, the fc weights and the
 * activations as groups, then per layer, greedily, while the integer-only
 * network stays within a margin of float on held-out test images. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "../dcc_fixed.h"

static int has_w(int op) { return op == DCC_OP_FC || op == DCC_OP_CONV2D; }

/* Integer-only accuracy on view of the formats chosen for widths wb/ab. */
static int score(const dcc_net *n, const dcc_fixed_opts *base, const dcc_dataset *view, const int *wb, const int *ab,
		 int in_bw, int threads, double *acc, dcc_error *err)
{
	dcc_fixed_opts o = *base;
	o.w_bw = wb, o.a_bw = ab, o.in_bw = in_bw, o.static_fmt = 0;
	dcc_qfmt *fmt = calloc(n->nlayers, sizeof(*fmt));
	dcc_qnet *q = NULL;
	dcc_qeval r = {0};
	int in_fl, rc = fmt ? 0 : dcc_fail(err, DCC_E_NOMEM, "out of memory");
	if (!rc)
		rc = dcc_fixed_choose(n, &o, fmt, &in_fl, NULL, NULL, err);
	if (!rc)
		rc = dcc_qnet_build(n, fmt, in_bw, in_fl, &q, err);
	if (!rc)
		rc = dcc_qnet_eval(q, view, 0, 0, threads, &r, err);
	*acc = r.accuracy;
	dcc_qeval_free(&r);
	dcc_qnet_free(q);
	free(fmt);
	return rc;
}

static void say(const dcc_width_search *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const dcc_width_search *s, const char *fmt, ...)
{
	if (!s->log)
		return;
	char line[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	s->log(s->log_ctx, line);
}

/* One group (0 conv weights, 1 fc weights, 2 activations with the input)
 * down the ladder while it holds. */
static int search_group(const dcc_net *n, const dcc_fixed_opts *o, const dcc_dataset *view, int gi, double floor_acc,
			const dcc_width_search *s, int *wb, int *ab, int *in_bw, dcc_error *err)
{
	static const int ladder[] = {16, 12, 10, 8, 7, 6, 5, 4, 3, 2};
	static const char *const gname[3] = {"conv weights", "fc weights", "activations"};
	size_t L = n->nlayers;
	int best = 16, any = 0, rc = 0;
	int *w2 = malloc(L * sizeof(int)), *a2 = malloc(L * sizeof(int));
	if (!w2 || !a2)
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	for (size_t k = 1; !rc && k < sizeof(ladder) / sizeof(ladder[0]); k++) {
		memcpy(w2, wb, L * sizeof(int)), memcpy(a2, ab, L * sizeof(int));
		int ib = *in_bw;
		for (size_t i = 0; i < L; i++) {
			int op = n->layers[i].op;
			if (gi == 0 && op == DCC_OP_CONV2D) w2[i] = ladder[k], any = 1;
			if (gi == 1 && op == DCC_OP_FC) w2[i] = ladder[k], any = 1;
			if (gi == 2 && has_w(op)) a2[i] = ladder[k], ib = ladder[k], any = 1;
		}
		double acc = 0;
		if (any && (rc = score(n, o, view, w2, a2, ib, s->threads, &acc, err)))
			break;
		if (any && acc >= floor_acc) {
			best = ladder[k];
			memcpy(wb, w2, L * sizeof(int)), memcpy(ab, a2, L * sizeof(int));
			*in_bw = ib;
		}
		if (!any || best != ladder[k])
			break;
	}
	if (!rc && any)
		say(s, "search: %s at %d bits", gname[gi], best);
	free(w2), free(a2);
	return rc;
}

int dcc_fixed_search_widths(const dcc_net *n, const dcc_fixed_opts *o, const dcc_width_search *s, int *wb, int *ab,
			    int *in_bw, dcc_error *err)
{
	size_t L = n->nlayers, simg = s->images;
	const dcc_dataset *d = s->score ? s->score : o->calib;
	if (simg > d->test.n / 2)
		simg = d->test.n / 2;
	dcc_dataset view = *d; /* the first simg test samples; the rest judge the result */
	view.test.n = simg;
	dcc_eval_result fr = {0};
	int rc = dcc_eval(n, &view, 0, 0, s->threads, &fr, err);
	if (rc)
		return rc;
	double floor_acc = fr.accuracy - s->margin / 100, acc;
	dcc_eval_result_free(&fr);
	say(s, "search: float %.2f%% on the first %zu test images; keeping >= %.2f%%", 100 * fr.accuracy, simg,
	    100 * floor_acc);
	for (size_t i = 0; i < L; i++)
		if (has_w(n->layers[i].op))
			wb[i] = ab[i] = 16;
	*in_bw = 16;
	for (int gi = 0; gi < 3 && !rc; gi++)
		rc = search_group(n, o, &view, gi, floor_acc, s, wb, ab, in_bw, err);
	/* per layer weights: lower the layer that costs least, while within margin */
	for (int round = 0; round < 64 && !rc; round++) {
		int pick = -1;
		double pick_acc = -1;
		for (size_t i = 0; i < L && !rc; i++) {
			if (!has_w(n->layers[i].op) || wb[i] <= 2)
				continue;
			wb[i]--;
			rc = score(n, o, &view, wb, ab, *in_bw, s->threads, &acc, err);
			wb[i]++;
			if (!rc && acc >= floor_acc && acc > pick_acc)
				pick = (int)i, pick_acc = acc;
		}
		if (rc || pick < 0)
			break;
		wb[pick]--;
		say(s, "search: %s weights to %d bits (%.2f%%)", n->layers[pick].name, wb[pick], 100 * pick_acc);
	}
	return rc;
}
