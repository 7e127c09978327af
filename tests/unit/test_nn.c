/* test_nn.c: the float network engine -- each fast kernel against its plain
 * reference, finite-difference checks of every layer's backward (fc, conv2d
 * with padding and stride, maxpool, relu, flatten, lstm, the loss), masked
 * training keeping pruned weights at zero, and repeatable training. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/dcc_nn.h"
#include "../../lib/nn/layers.h"
#include "check.h"

static unsigned long long seed = 12345;
static float frand(void) { return (float)((double)(check_rng(&seed) >> 11) * 0x1.0p-53 * 2.0 - 1.0); }
static void fill(float *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = frand();
}
static float maxdiff(const float *a, const float *b, size_t n)
{
	float m = 0;
	for (size_t i = 0; i < n; i++)
		m = fabsf(a[i] - b[i]) > m ? fabsf(a[i] - b[i]) : m;
	return m;
}

static void test_kernels(void)
{
	float x[2000], w[2000], b[64], y1[4000], y2[4000], cols[20000], wt[4000];
	fill(x, 2000), fill(w, 2000), fill(b, 64);
	fc_forward(y1, x, w, b, 5, 7, 3);
	fc_forward_ref(y2, x, w, b, 5, 7, 3);
	CHECK(maxdiff(y1, y2, 15) < 1e-5f);
	/* conv: odd sizes, padding, stride 2; LeNet's 5x5 unpadded; two groups;
	 * depthwise (the direct path); 1x3 and 3x1 kernels, unequal strides,
	 * asymmetric pads and dilation, grouped and depthwise too; pointwise (1x1,
	 * the input's rows as the patches), alone and in two groups; a dilated
	 * 3x3 depthwise one of 16 channels */
	static const dcc_geom q[] = {{3, 3, 2, 2, 1, 1, 1, 1, 1, 1}, {5, 5, 1, 1, 0, 0, 0, 0, 1, 1},
				     {5, 5, 1, 1, 2, 2, 2, 2, 1, 1}, {3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
				     {3, 3, 2, 2, 1, 1, 1, 1, 1, 1}, {1, 3, 1, 1, 0, 1, 0, 1, 1, 1},
				     {3, 1, 2, 1, 1, 0, 2, 0, 1, 1}, {3, 2, 1, 2, 0, 1, 2, 0, 2, 1},
				     {2, 3, 2, 1, 1, 0, 0, 2, 1, 2}, {3, 3, 1, 1, 2, 2, 2, 2, 2, 2},
				     {1, 1, 1, 1, 0, 0, 0, 0, 1, 1}, {1, 1, 1, 1, 0, 0, 0, 0, 1, 1},
				     {3, 3, 1, 1, 2, 2, 2, 2, 2, 2}};
	static const int cfg[][5] = {{3, 7, 6, 4, 1}, {2, 9, 9, 5, 1}, {1, 5, 5, 2, 1}, {4, 6, 5, 6, 2}, {5, 7, 7, 5, 5},
				     {3, 6, 7, 4, 1}, {4, 7, 5, 6, 2}, {3, 8, 7, 5, 1}, {4, 7, 8, 4, 4}, {2, 8, 8, 4, 2},
				     {6, 5, 7, 8, 1}, {4, 6, 5, 6, 2}, {16, 6, 9, 16, 16}};
	for (int i = 0; i < 13; i++) {
		int C = cfg[i][0], H = cfg[i][1], W = cfg[i][2], Co = cfg[i][3], G = cfg[i][4];
		int Ho = (int)dcc_conv_out(H, q[i].kh, q[i].sh, q[i].pt, q[i].pb, q[i].dh);
		int Wo = (int)dcc_conv_out(W, q[i].kw, q[i].sw, q[i].pl, q[i].pr, q[i].dw);
		conv_forward(y1, cols, wt, x, w, b, 2, C, H, W, &q[i], G, Co, Ho, Wo);
		conv_forward_ref(y2, x, w, b, 2, C, H, W, &q[i], G, Co, Ho, Wo);
		CHECK_MSG(maxdiff(y1, y2, (size_t)2 * Ho * Wo * Co) < 1e-5f, "conv config %d", i);
	}
	lstm_state st;
	float xt[200], gates[1000], c[200], h[200], tmp[100], dg[1000];
	st = (lstm_state){xt, gates, c, h, tmp, dg};
	float wih[4 * 6 * 5], whh[4 * 6 * 6], bih[24], bhh[24];
	fill(wih, sizeof(wih) / 4), fill(whh, sizeof(whh) / 4), fill(bih, 24), fill(bhh, 24);
	lstm_forward(y1, &st, x, wih, whh, bih, bhh, 3, 4, 5, 6);
	lstm_forward_ref(y2, x, wih, whh, bih, bhh, 3, 4, 5, 6);
	CHECK(maxdiff(y1, y2, 18) < 1e-5f);
	/* maxpool keeps the first maximum, as PyTorch */
	float in[8] = {1, 3, 3, 2, 0, 0, 0, 0}, out[2];
	int32_t am[2];
	maxpool_forward(out, am, in, 1, 1, 2, 4, 2, 2, 0, 1, 2);
	CHECK(out[0] == 3 && am[0] == 1 && out[1] == 3 && am[1] == 2);
	/* padded by one: the corner window sees only the input's first value
	 * (negative, so padding must not be taken for a zero) */
	float neg[4] = {-5, -1, -2, -3}, o4[4];
	int32_t a4[4];
	maxpool_forward(o4, a4, neg, 1, 1, 2, 2, 2, 2, 1, 2, 2);
	CHECK(o4[0] == -5 && a4[0] == 0 && o4[1] == -1 && o4[3] == -3 && a4[3] == 3);
}

/* Convolutions larger than one tile of patches (the tile boundary falls
 * inside an image's row), one group and two, stride 1 and 2, and
 * depthwise ones: forward and backward (weights, bias, input) against sums
 * in double. */
static void test_conv_tiles(void)
{
	static const struct {
		int C, H, W, Co, G, s, k;
	} cf[] = {{64, 10, 10, 8, 1, 1, 3}, {128, 9, 11, 4, 2, 1, 3}, {64, 21, 19, 5, 1, 2, 3},
		  /* depthwise, direct: 16-channel blocks in registers and the rest;
		   * a 9x9 kernel, more taps than the input gradient gathers */
		  {32, 7, 6, 32, 32, 1, 3}, {36, 9, 8, 36, 36, 2, 3}, {7, 5, 6, 7, 7, 2, 3}, {20, 11, 10, 20, 20, 1, 9},
		  /* wider maps: many inside pixels a row, and 28 and 24 channels
		   * (one block of 16 and a short one) */
		  {28, 9, 11, 28, 28, 1, 3}, {24, 12, 13, 24, 24, 2, 3}};
	for (int i = 0; i < 9; i++) {
		int C = cf[i].C, H = cf[i].H, W = cf[i].W, Co = cf[i].Co, G = cf[i].G, Cg = C / G, Cog = Co / G, K = cf[i].k;
		int P = K / 2;
		dcc_geom q = {K, K, cf[i].s, cf[i].s, P, P, P, P, 1, 1};
		int Ho = (int)dcc_conv_out(H, K, q.sh, P, P, 1), Wo = (int)dcc_conv_out(W, K, q.sw, P, P, 1);
		size_t B = 2, rows = B * (size_t)Ho * Wo, nin = B * (size_t)H * W * C, nw = (size_t)Co * Cg * K * K;
		size_t tile = conv_tile_rows(&q, Cg, rows);
		CHECK_MSG(G == C || (tile < rows && tile % Wo != 0), "tiles config %d: tile %zu of %zu rows", i, tile, rows);
		float *x = malloc(nin * 4), *w = malloc(nw * 4), *b = malloc((size_t)Co * 4), *y = malloc(rows * Co * 4);
		float *y2 = malloc(rows * Co * 4), *g = malloc(rows * Co * 4), *dx = malloc(nin * 4), *dw = calloc(nw, 4);
		float *db = calloc((size_t)Co, 4), *cols = malloc(tile * (size_t)Cg * K * K * 4), *wt = malloc(2 * nw * 4);
		double *rx = calloc(nin, 8), *rw = calloc(nw, 8), *rb = calloc((size_t)Co, 8);
		fill(x, nin), fill(w, nw), fill(b, (size_t)Co), fill(g, rows * Co);
		conv_forward(y, cols, wt, x, w, b, B, C, H, W, &q, G, Co, Ho, Wo);
		conv_forward_ref(y2, x, w, b, B, C, H, W, &q, G, Co, Ho, Wo);
		CHECK_MSG(maxdiff(y, y2, rows * Co) < 1e-4f, "tiles config %d: forward", i);
		conv_backward(dx, dw, db, cols, wt, g, x, B, C, H, W, &q, G, Co, Ho, Wo);
		for (size_t n = 0; n < B; n++)
			for (int oy = 0; oy < Ho; oy++)
				for (int ox = 0; ox < Wo; ox++)
					for (int co = 0; co < Co; co++) {
						double go = g[((n * Ho + oy) * Wo + ox) * Co + co];
						rb[co] += go;
						for (int c = 0; c < Cg; c++)
							for (int k = 0; k < K * K; k++) {
								int yy = oy * q.sh + k / K - P, xx = ox * q.sw + k % K - P;
								if (yy < 0 || yy >= H || xx < 0 || xx >= W)
									continue;
								size_t at = ((n * H + yy) * W + xx) * C + (size_t)(co / Cog * Cg + c);
								size_t wk = ((size_t)co * Cg + c) * K * K + (size_t)k;
								rw[wk] += go * x[at], rx[at] += go * w[wk];
							}
					}
		float ew = 0, ex = 0, eb = 0;
		for (size_t j = 0; j < nw; j++)
			ew = fmaxf(ew, fabsf(dw[j] - (float)rw[j]));
		for (size_t j = 0; j < nin; j++)
			ex = fmaxf(ex, fabsf(dx[j] - (float)rx[j]));
		for (int j = 0; j < Co; j++)
			eb = fmaxf(eb, fabsf(db[j] - (float)rb[j]));
		CHECK_MSG(ew < 1e-3f && ex < 1e-4f && eb < 1e-3f, "tiles config %d: backward dw %g dx %g db %g", i, ew, ex, eb);
		free(x), free(w), free(b), free(y), free(y2), free(g), free(dx), free(dw), free(db), free(cols), free(wt);
		free(rx), free(rw), free(rb);
	}
}

/* Batch statistics of values with a mean far above their spread (100 +-
 * 0.1): the one-pass sums lose nothing to the mean; a clip applied by the
 * batchnorm clamps its output. */
static void test_bn_stats(void)
{
	enum { N = 300, C = 3 };
	float x[N * C], y[N * C], mean[C], var[C], istd[C], g[C] = {1, 2, 0.5f}, b[C] = {0, 0.1f, -0.1f};
	for (int i = 0; i < N * C; i++)
		x[i] = (float)(100.0 * (i % C + 1) + 0.1 * frand());
	bn_act clip = {-1.0f, 0.5f};
	bn_forward_train(y, mean, var, istd, x, g, b, N * C, C, 1e-5f, &clip, NULL, 0);
	int clipped = 0;
	for (int c = 0; c < C; c++) {
		double m = 0, v = 0;
		for (int i = 0; i < N; i++)
			m += x[i * C + c];
		m /= N;
		for (int i = 0; i < N; i++)
			v += (x[i * C + c] - m) * (x[i * C + c] - m);
		v /= N;
		CHECK_MSG(fabs(mean[c] - m) < 1e-4 && fabs(var[c] - v) < 1e-3 * v, "bn stats channel %d: mean %g (%g) var %g (%g)",
			  c, mean[c], m, var[c], v);
		for (int i = 0; i < N; i++) {
			double want = (x[i * C + c] - m) / sqrt(v + 1e-5) * g[c] + b[c];
			want = want < -1 ? -1 : want > 0.5 ? 0.5 : want;
			clipped += want == -1 || want == 0.5;
			CHECK_MSG(fabs(y[i * C + c] - want) < 1e-2, "bn clip channel %d value %d: %g (%g)", c, i, y[i * C + c],
				  want);
		}
	}
	CHECK(clipped > 50);
}

/* --augment against torchvision's steps written out: pad by P with the
 * fill, crop H x W at a top-left in [0, 2P], mirror.  Every image must be
 * exactly one of those (2P + 1)^2 x 2 moves, every move must occur, the
 * draws repeat for the same seed, epoch and sample and change with each. */
static void test_augment(void)
{
	enum { C = 2, H = 3, W = 4, P = 2, NS = 4000, MOVES = (2 * P + 1) * (2 * P + 1) * 2 };
	float in[C * H * W], fill[C * H * W], out[C * H * W], again[C * H * W], want[C * H * W];
	for (int e = 0; e < C * H * W; e++)
		in[e] = (float)(e + 1), fill[e] = (float)(-1 - e / (H * W)); /* a channel's own fill */
	dcc_train_opts o;
	dcc_train_defaults(NULL, &o);
	dcc_error err;
	CHECK(dcc_augment_parse("flip,crop:2", &o, &err) == 0 && o.augment_flip == 1 && o.augment_crop == P);
	int seen[MOVES] = {0}, flips = 0, unique = 1, same_epoch = 1, other_epoch = 0, other_seed = 0;
	for (int s = 0; s < NS; s++) {
		dcc_augment(&o, 3, (size_t)s, C, H, W, fill, in, out);
		int found = -1, nfound = 0;
		for (int mv = 0; mv < MOVES; mv++) {
			int top = mv / 2 / (2 * P + 1), left = mv / 2 % (2 * P + 1), flip = mv % 2;
			for (int c = 0; c < C; c++)
				for (int y = 0; y < H; y++)
					for (int x = 0; x < W; x++) {
						int xc = flip ? W - 1 - x : x; /* the mirror of the crop */
						int py = y + top, px = xc + left; /* in the padded image */
						int inside = py >= P && py < H + P && px >= P && px < W + P;
						want[(c * H + y) * W + x] = inside ? in[(c * H + py - P) * W + px - P] : -1.0f - (float)c;
					}
			if (!memcmp(want, out, sizeof(out)))
				found = mv, nfound++;
		}
		unique &= nfound == 1;
		if (found >= 0)
			seen[found]++, flips += found % 2;
		dcc_augment(&o, 3, (size_t)s, C, H, W, fill, in, again);
		same_epoch &= !memcmp(out, again, sizeof(out));
		dcc_augment(&o, 4, (size_t)s, C, H, W, fill, in, again);
		other_epoch += !!memcmp(out, again, sizeof(out));
		o.seed = 2;
		dcc_augment(&o, 3, (size_t)s, C, H, W, fill, in, again);
		other_seed += !!memcmp(out, again, sizeof(out));
		o.seed = 1;
	}
	CHECK_MSG(unique, "augment: an image that is not exactly one move of the input");
	int rare = NS;
	for (int mv = 0; mv < MOVES; mv++)
		rare = seen[mv] < rare ? seen[mv] : rare;
	/* 4000 draws over 50 moves: 80 each expected */
	CHECK_MSG(rare > 40, "augment: a move drawn only %d times in %d", rare, NS);
	CHECK_MSG(flips > NS * 45 / 100 && flips < NS * 55 / 100, "augment: %d of %d mirrored", flips, NS);
	CHECK(same_epoch);
	CHECK_MSG(other_epoch > NS * 9 / 10 && other_seed > NS * 9 / 10, "augment: epoch changes %d, seed %d of %d",
		  other_epoch, other_seed, NS);
	/* flip alone never moves; crop alone never mirrors */
	CHECK(dcc_augment_parse("flip", &o, &err) == 0 && o.augment_flip && !o.augment_crop);
	dcc_augment(&o, 0, 7, C, H, W, fill, in, out);
	for (int e = 0; e < C * H * W; e++)
		CHECK(out[e] > 0);
	CHECK(dcc_augment_parse("none", &o, &err) == 0 && !o.augment_flip && !o.augment_crop);
	const char *bad[] = {"", "flip,flip", "crop:0", "crop:65", "crop:2x", "crop:", "flop", "flip,", ",flip"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		CHECK_MSG(dcc_augment_parse(bad[i], &o, &err) != 0, "augment: '%s' accepted", bad[i]);
}

static dcc_model *make_model(const char *const *lines, size_t n, int c, int h, int w, int classes)
{
	dcc_model *m = dcc_model_new();
	dcc_error e;
	dcc_model_set_arr_str(m, "dcc.graph", lines, n, NULL);
	int64_t shape[3] = {c, h, w};
	dcc_model_set_arr_i64(m, "dcc.input_shape", shape, 3, NULL);
	dcc_model_set_i64(m, "dcc.classes", classes, NULL);
	if (dcc_net_init(m, 7, &e)) {
		fprintf(stderr, "init: %s\n", e.msg);
		dcc_model_free(m);
		return NULL;
	}
	return m;
}

static double loss_of(dcc_net *n, dcc_work *w, const float *x, const int *y, size_t B)
{
	const float *z = dcc_net_forward(n, w, x, B);
	return dcc_softmax_ce(NULL, z, y, B, n->classes, 1.0) / (double)B;
}

/* Central differences against the backward pass for every parameter. */
static void gradcheck(const char *what, const char *const *lines, size_t nl, int c, int h, int w)
{
	dcc_model *m = make_model(lines, nl, c, h, w, 3);
	CHECK_MSG(m != NULL, "%s: model", what);
	if (!m)
		return;
	dcc_net *n;
	dcc_error e;
	int rc = dcc_net_from_model(m, &n, &e);
	CHECK_MSG(rc == 0, "%s: %s", what, e.msg);
	if (rc) {
		dcc_model_free(m);
		return;
	}
	for (size_t i = 0; i < n->nlayers; i++) /* affines: scales of both signs, shifts, not the identity */
		for (size_t j = 0; n->layers[i].op == DCC_OP_AFFINE && j < n->layers[i].p[0].n; j++)
			n->layers[i].p[0].w[j] = (j % 3 == 1 ? -0.7f : 1.3f) + 0.1f * (float)j, n->layers[i].p[1].w[j] = 0.2f * (float)j;
	size_t B = 4, in = n->layers[0].in_size;
	float *x = malloc(B * in * sizeof(float)), dl[64];
	int y[4] = {0, 2, 1, 2};
	fill(x, B * in);
	dcc_work *wk;
	dcc_work_new(n, B, DCC_WORK_TRAIN, &wk, &e);
	const float *z = dcc_net_forward(n, wk, x, B);
	dcc_softmax_ce(dl, z, y, B, 3, (double)B);
	dcc_work_zero_grad(wk);
	dcc_net_backward(n, wk, dl, B);
	int bad = 0, checked = 0;
	for (size_t i = 0; i < n->nlayers; i++)
		for (int k = 0; k < n->layers[i].nparam; k++) {
			dcc_param *p = &n->layers[i].p[k];
			const float *g = dcc_work_grad(wk, i, k);
			for (size_t j = 0; j < p->n && !(p->is_buffer && n->layers[i].op == DCC_OP_AFFINE); j += 1 + p->n / 23) {
				float keep = p->w[j], eps = 1e-3f;
				p->w[j] = keep + eps;
				double lp = loss_of(n, wk, x, y, B);
				p->w[j] = keep - eps;
				double lm = loss_of(n, wk, x, y, B);
				p->w[j] = keep;
				double num = (lp - lm) / (2.0 * eps), ana = g[j];
				checked++;
				if (fabs(num - ana) > 3e-3 + 3e-2 * fabs(num)) {
					bad++;
					fprintf(stderr, "%s: %s[%zu]: numeric %.6f analytic %.6f\n", what, p->name, j, num, ana);
				}
			}
		}
	CHECK_MSG(bad == 0 && checked > 10, "%s: %d of %d gradients off", what, bad, checked);
	free(x);
	dcc_work_free(wk);
	dcc_net_free(n);
	dcc_model_free(m);
}

static void test_gradients(void)
{
	const char *mlp[] = {"flatten f", "fc fc1 in=12 out=5", "relu r", "fc fc2 in=5 out=3", "softmax_ce loss"};
	gradcheck("fc+relu", mlp, 5, 1, 3, 4);
	const char *cnn[] = {"conv2d c1 in=2 out=3 k=3 stride=2 pad=1", "relu r1", "conv2d c2 in=3 out=4 k=2 stride=1 pad=0",
			     "maxpool2d p k=2 stride=1", "flatten f", "fc fc in=8 out=3", "softmax_ce loss"};
	gradcheck("conv+pool", cnn, 7, 2, 7, 6);
	const char *rnn[] = {"lstm l in=4 hidden=5 steps=3", "fc fc in=5 out=3", "softmax_ce loss"};
	gradcheck("lstm", rnn, 3, 1, 3, 4);
	const char *rnn2[] = {"flatten f", "fc pre in=12 out=12", "lstm l in=4 hidden=5 steps=3", "fc fc in=5 out=3",
			      "softmax_ce loss"};
	gradcheck("fc+lstm (lstm input gradient)", rnn2, 5, 1, 3, 4);
	const char *act[] = {"conv2d c1 in=2 out=3 k=3 stride=1 pad=1", "sigmoid s", "avgpool2d p k=2 stride=2",
			     "flatten f", "fc fc1 in=27 out=6", "tanh t", "fc fc in=6 out=3", "softmax_ce loss"};
	gradcheck("sigmoid+avgpool+tanh", act, 8, 2, 6, 6);
	/* graphs with branches: a residual block (the conv's input read twice),
	 * a concatenation of two branches, depthwise and grouped convolutions,
	 * clip (ReLU6), max pooling with padding and ceil_mode */
	const char *res[] = {"conv2d c0 in=2 out=4 k=3 stride=1 pad=1", "relu r0", "conv2d c1 in=4 out=4 k=3 stride=1 pad=1",
			     "relu r1", "conv2d c2 in=4 out=4 k=3 stride=1 pad=1", "add a from=c2,r0", "relu r2",
			     "maxpool2d p k=3 stride=2 pad=1", "flatten f", "fc fc in=36 out=3", "softmax_ce loss"};
	gradcheck("residual add", res, 11, 2, 6, 6);
	const char *cat[] = {"conv2d sq in=2 out=3 k=1 stride=1 pad=0", "relu rs", "conv2d e1 in=3 out=2 k=1 stride=1 pad=0",
			     "conv2d e3 in=3 out=4 k=3 stride=1 pad=1 from=rs", "concat c from=e1,e3", "relu r",
			     "maxpool2d p k=3 stride=2 ceil=1", "flatten f", "fc fc in=54 out=3", "softmax_ce loss"};
	gradcheck("concat+ceil_mode", cat, 10, 2, 6, 6);
	const char *mb[] = {"conv2d c0 in=2 out=6 k=1 stride=1 pad=0", "clip r0 min=0 max=6",
			    "conv2d dw in=6 out=6 k=3 stride=2 pad=1 group=6", "clip r1 min=-0.3 max=0.25",
			    "conv2d g in=6 out=4 k=1 stride=1 pad=0 group=2", "conv2d sk in=2 out=4 k=1 stride=2 pad=0 from=input",
			    "add a from=g,sk", "flatten f", "fc fc in=36 out=3", "softmax_ce loss"};
	gradcheck("depthwise+grouped+clip", mb, 10, 2, 6, 6);
	/* batchnorm on a map (after a conv without bias) and on a vector, by the batch's statistics */
	const char *bn[] = {"conv2d c0 in=2 out=3 k=3 stride=1 pad=1 bias=0", "batchnorm b0", "relu r0", "flatten f",
			    "fc fc1 in=108 out=5 bias=0", "batchnorm b1 eps=0.001", "tanh t", "fc fc in=5 out=3", "softmax_ce loss"};
	gradcheck("batchnorm", bn, 9, 2, 6, 6);
	/* leakyrelu with PyTorch's slope, a steep one and a negative one */
	const char *lk[] = {"conv2d c0 in=2 out=3 k=3 stride=1 pad=1", "leakyrelu l0", "conv2d c1 in=3 out=3 k=3 stride=1 pad=1",
			    "leakyrelu l1 alpha=0.3", "flatten f", "fc fc1 in=108 out=5", "leakyrelu l2 alpha=-0.5",
			    "fc fc in=5 out=3", "softmax_ce loss"};
	gradcheck("leakyrelu", lk, 9, 2, 6, 6);
	/* hardswish and a hardsigmoid gate (squeeze-excitation's), PyTorch's and ONNX's slopes */
	const char *hs[] = {"conv2d c0 in=2 out=3 k=3 stride=1 pad=1", "hardswish h0", "conv2d c1 in=3 out=3 k=3 stride=1 pad=1",
			    "hardsigmoid g0 alpha=0.166666672 beta=0.5", "flatten f", "fc fc1 in=108 out=5", "hardsigmoid g1",
			    "fc fc in=5 out=3", "softmax_ce loss"};
	gradcheck("hardswish+hardsigmoid", hs, 9, 2, 6, 6);
	/* constant affines (an ONNX Mul, Add, Sub or Div by a constant) on a map and on a vector: their
	 * gradient reaches the layers before them (the constants themselves are not trained) */
	const char *af[] = {"conv2d c0 in=2 out=3 k=3 stride=1 pad=1", "affine a0", "relu r0", "affine a1", "flatten f",
			    "fc fc1 in=108 out=5", "affine a2", "tanh t", "fc fc in=5 out=3", "softmax_ce loss"};
	gradcheck("affine", af, 10, 2, 6, 6);
	/* a squeeze-excitation gate (C x 1 x 1 times the map) and a value times itself */
	const char *se[] = {"conv2d c0 in=2 out=4 k=3 stride=1 pad=1", "relu r0", "avgpool2d p k=6 stride=6",
			    "conv2d s1 in=4 out=2 k=1 stride=1 pad=0", "relu rs", "conv2d s2 in=2 out=4 k=1 stride=1 pad=0",
			    "sigmoid g", "mul m from=r0,g", "mul sq from=m,m", "flatten f", "fc fc in=144 out=3", "softmax_ce loss"};
	gradcheck("mul (a gate, a square)", se, 12, 2, 6, 6);
	/* average pooling with padding, counted and not, and ceil_mode's partial last window */
	const char *ap[] = {"conv2d c0 in=2 out=3 k=3 stride=1 pad=1", "avgpool2d p0 k=3 stride=2 pad=1 ceil=1",
			    "conv2d c1 in=3 out=3 k=1 stride=1 pad=0", "avgpool2d p1 k=2 stride=2 pad=1 incl=1", "flatten f",
			    "fc fc in=27 out=3", "softmax_ce loss"};
	gradcheck("avgpool pad+ceil+incl", ap, 7, 2, 7, 7);
	/* a ShuffleNet unit: the channels split in two (slices of one value), one half through a branch, joined
	 * and shuffled; a slice of a vector's features; a shuffle of three groups */
	const char *sn[] = {"conv2d c0 in=2 out=6 k=3 stride=1 pad=1", "relu r0", "slice s1 start=0 end=2",
			    "slice s2 start=2 end=6 from=r0", "conv2d b in=4 out=4 k=3 stride=1 pad=1 group=4",
			    "concat c from=s1,b", "shuffle sh group=2", "conv2d c1 in=6 out=6 k=1 stride=1 pad=0",
			    "shuffle sh3 group=3", "flatten f", "fc fc1 in=216 out=8", "slice s3 start=1 end=6", "tanh t",
			    "fc fc in=5 out=3", "softmax_ce loss"};
	gradcheck("slice+shuffle", sn, 15, 2, 6, 6);
	/* a difference of two branches, and a value minus itself */
	const char *sb[] = {"conv2d c0 in=2 out=3 k=3 stride=1 pad=1", "relu r0", "conv2d c1 in=3 out=3 k=3 stride=1 pad=1",
			    "sub d from=r0,c1", "sub z from=d,d", "add a from=d,z", "flatten f", "fc fc in=108 out=3",
			    "softmax_ce loss"};
	gradcheck("sub", sb, 9, 2, 6, 6);
	/* a quotient of two branches (the divisor a sigmoid, in (0, 1); tanh, not relu, before it: the
	 * quotient magnifies a kink the finite difference crosses), and a value over itself */
	const char *dv[] = {"conv2d c0 in=2 out=3 k=3 stride=1 pad=1", "tanh r0", "conv2d c1 in=3 out=3 k=3 stride=1 pad=1",
			    "sigmoid s1", "div d from=r0,s1", "div z from=s1,s1", "add a from=d,z", "flatten f",
			    "fc fc in=108 out=3", "softmax_ce loss"};
	gradcheck("div", dv, 10, 2, 6, 6);
	/* 1x3 and 3x1 kernels, unequal strides, asymmetric pads, dilation;
	 * grouped and depthwise with them */
	const char *geo[] = {"conv2d c0 in=2 out=4 k=1x3 stride=1 pad=0,1,0,1", "leakyrelu l0",
			     "conv2d c1 in=4 out=4 k=3x1 stride=2x1 pad=1,0,2,0 group=2",
			     "conv2d c2 in=4 out=4 k=3 stride=1 pad=2 dilation=2 group=4", "tanh t",
			     "conv2d c3 in=4 out=3 k=2x3 stride=1x2 pad=0,2,1,0 dilation=1x2", "flatten f", "fc fc in=24 out=3",
			     "softmax_ce loss"};
	gradcheck("non-square, dilated, asymmetric pads", geo, 9, 2, 7, 6);
}

/* A learnable synthetic data set: the label is which third of the image is brightest. */
static dcc_dataset *synth(size_t n)
{
	dcc_dataset *d = calloc(1, sizeof(*d));
	d->c = 1, d->h = 3, d->w = 4, d->classes = 3, d->sample = 12, d->labels = DCC_LABELS_CLASS;
	d->ndim = 2, d->shape[0] = 3, d->shape[1] = 4;
	d->store = dcc_model_new();
	uint64_t xs[3] = {n, 3, 4}, ys[1] = {n};
	dcc_tensor *t;
	dcc_model_add_zeros(d->store, "x_train", DCC_U8, 0, 0, 3, xs, &t, NULL);
	dcc_model_add_zeros(d->store, "y_train", DCC_U8, 0, 0, 1, ys, &t, NULL);
	dcc_model_add_zeros(d->store, "x_test", DCC_U8, 0, 0, 3, xs, &t, NULL);
	dcc_model_add_zeros(d->store, "y_test", DCC_U8, 0, 0, 1, ys, &t, NULL);
	d->train = (dcc_split){dcc_model_find(d->store, "x_train"), dcc_model_find(d->store, "y_train"), 0, n};
	d->test = (dcc_split){dcc_model_find(d->store, "x_test"), dcc_model_find(d->store, "y_test"), 0, n};
	uint8_t *train_x = d->train.x->data, *test_x = d->test.x->data, *train_y = d->train.y->data,
		*test_y = d->test.y->data;
	for (size_t i = 0; i < 2 * n; i++) {
		uint8_t *x = (i < n ? train_x : test_x) + (i % n) * 12;
		int sum[3] = {0, 0, 0};
		for (int k = 0; k < 12; k++) {
			x[k] = (uint8_t)(check_rng(&seed) % 256);
			sum[k / 4] += x[k];
		}
		int best = sum[1] > sum[0] ? 1 : 0;
		best = sum[2] > sum[best] ? 2 : best;
		(i < n ? train_y : test_y)[i % n] = (uint8_t)best;
	}
	return d;
}

/* Inference on a graph with branches keeps a value only until its last
 * reader: fewer buffers than values, and the same logits, bit for bit, as a
 * work area that keeps every value. */
static void test_eval_buffers(void)
{
	const char *g[] = {"conv2d c0 in=2 out=4 k=3 stride=1 pad=1", "relu r0", "conv2d c1 in=4 out=4 k=3 stride=1 pad=1",
			   "relu r1", "conv2d c2 in=4 out=4 k=3 stride=1 pad=1", "add a from=c2,r0", "relu r2",
			   "conv2d e1 in=4 out=2 k=1 stride=1 pad=0", "conv2d e3 in=4 out=3 k=3 stride=1 pad=1 from=r2",
			   "concat c from=e1,e3,r2", "relu r", "conv2d s in=9 out=9 k=1 stride=1 pad=0", "mul m from=s,r",
			   "maxpool2d p k=3 stride=2 ceil=1", "flatten f", "fc fc in=81 out=3", "softmax_ce loss"};
	dcc_model *m = make_model(g, 17, 2, 6, 6, 3);
	dcc_net *n = NULL;
	dcc_error e;
	CHECK(m && dcc_net_from_model(m, &n, &e) == 0);
	if (!n) {
		dcc_model_free(m);
		return;
	}
	size_t B = 5, in = n->layers[0].in_size;
	float *x = malloc(B * in * sizeof(float));
	fill(x, B * in);
	dcc_work *we = NULL, *wk = NULL;
	CHECK(dcc_work_new(n, B, DCC_WORK_EVAL, &we, &e) == 0 && dcc_work_new(n, B, DCC_WORK_KEEP, &wk, &e) == 0);
	if (we && wk) {
		const float *a = dcc_net_forward(n, we, x, B), *b = dcc_net_forward(n, wk, x, B);
		CHECK(memcmp(a, b, B * 3 * sizeof(float)) == 0);
		size_t distinct = 0;
		for (size_t v = 0; v < n->nlayers; v++) {
			int seen = 0;
			for (size_t u = 0; u < v; u++)
				seen |= dcc_work_act(we, u) == dcc_work_act(we, v);
			distinct += !seen;
		}
		CHECK_MSG(distinct < n->nlayers / 2, "%zu buffers for %zu values", distinct, n->nlayers);
	}
	free(x);
	dcc_work_free(we), dcc_work_free(wk);
	dcc_net_free(n);
	dcc_model_free(m);
}

static void test_training(void)
{
	const char *mlp[] = {"flatten f", "fc fc1 in=12 out=16", "relu r", "fc fc2 in=16 out=3", "softmax_ce loss"};
	dcc_dataset *d = synth(300);
	dcc_error e;
	uint8_t *snap[2] = {NULL, NULL};
	for (int run = 0; run < 2; run++) {
		dcc_model *m = make_model(mlp, 5, 1, 3, 4, 3);
		/* prune half of fc1.weight: hidden units 8..15 lose all inputs */
		uint64_t sh[2] = {16, 12};
		dcc_tensor *mk;
		dcc_model_add_zeros(m, "fc1.weight.mask", DCC_MASK, 0, 0, 2, sh, &mk, &e);
		for (int i = 0; i < 96; i++)
			((uint8_t *)mk->data)[i / 8] |= (uint8_t)(1u << (i % 8));
		dcc_net *n;
		CHECK(dcc_net_from_model(m, &n, &e) == 0);
		dcc_eval_result r0, r1;
		dcc_eval(n, d, 0, 0, 2, &r0, &e);
		dcc_train_opts o;
		dcc_train_defaults("mlp", &o);
		o.epochs = 40;
		o.batch = 16;
		o.lr = 0.1;
		o.threads = 2;
		CHECK(dcc_train(n, d, &o, &e) == 0);
		dcc_eval(n, d, 0, 0, 2, &r1, &e);
		CHECK_MSG(r1.loss < 0.5 * r0.loss, "loss %.4f -> %.4f", r0.loss, r1.loss);
		const float *w = dcc_model_find(m, "fc1.weight")->data;
		int zero_ok = 1, moved = 0;
		for (int i = 0; i < 192; i++)
			if (i >= 96)
				zero_ok &= w[i] == 0.0f;
			else
				moved += w[i] != 0.0f;
		CHECK_MSG(zero_ok && moved > 90, "zero_ok %d moved %d", zero_ok, moved);
		dcc_tensor *t = dcc_model_find(m, "fc2.weight");
		snap[run] = malloc(t->nbytes);
		memcpy(snap[run], t->data, t->nbytes);
		dcc_eval_result_free(&r0);
		dcc_eval_result_free(&r1);
		dcc_net_free(n);
		dcc_model_free(m);
	}
	CHECK_MSG(!memcmp(snap[0], snap[1], 16 * 3 * 4), "same seed, same weights");
	free(snap[0]);
	free(snap[1]);
	dcc_dataset_free(d);
}

static void test_graph_errors(void)
{
	dcc_error e;
	dcc_net *n;
	const char *bad1[] = {"flatten f", "fc fc1 in=13 out=3", "softmax_ce loss"};
	dcc_model *m = dcc_model_new();
	dcc_model_set_arr_str(m, "dcc.graph", bad1, 3, NULL);
	int64_t shape[3] = {1, 3, 4};
	dcc_model_set_arr_i64(m, "dcc.input_shape", shape, 3, NULL);
	dcc_model_set_i64(m, "dcc.classes", 3, NULL);
	CHECK_ERR(dcc_net_from_model(m, &n, &e), e, DCC_E_SHAPE, "in=13 but its input has 12 features");
	const char *bad2[] = {"flatten f", "fc fc1 in=12 out=3", "softmax_ce loss"};
	dcc_model_set_arr_str(m, "dcc.graph", bad2, 3, NULL);
	CHECK_ERR(dcc_net_from_model(m, &n, &e), e, DCC_E_NOTFOUND, "tensor 'fc1.weight' is missing");
	uint64_t ws[2] = {3, 11};
	dcc_model_add_zeros(m, "fc1.weight", DCC_F32, 0, 0, 2, ws, NULL, &e);
	CHECK_ERR(dcc_net_from_model(m, &n, &e), e, DCC_E_SHAPE, "tensor 'fc1.weight' is 3x11, the graph needs 3x12");
	const char *bad3[] = {"flatten f", "gru g1 in=12", "softmax_ce loss"};
	dcc_model_set_arr_str(m, "dcc.graph", bad3, 3, NULL);
	CHECK_ERR(dcc_net_from_model(m, &n, &e), e, DCC_E_UNSUPPORTED, "unknown op 'gru'");
	const char *bad4[] = {"conv2d c in=1 out=2 k=5", "softmax_ce loss"};
	dcc_model_set_arr_str(m, "dcc.graph", bad4, 2, NULL);
	CHECK_ERR(dcc_net_from_model(m, &n, &e), e, DCC_E_SHAPE, "a 5x5 kernel does not fit a 3x4 input");
	static const struct {
		const char *line, *msg;
	} geo[] = {{"conv2d c in=1 out=2 k=3x3x3", "k=3x3x3 is not a size or HxW"},
		   {"conv2d c in=1 out=2 k=3 pad=1,1", "pad=1,1 is not a size or four (top,left,bottom,right)"},
		   {"conv2d c in=1 out=2 k=3 pad=1,1,1,1,1", "pad=1,1,1,1,1 is not a size or four"},
		   {"conv2d c in=1 out=2 k=3 pad=1,1,1,", "pad=1,1,1, is not a size or four"},
		   {"conv2d c in=1 out=2 k=3 stride=0x1", "conv2d needs in, out, k, stride, dilation, group >= 1"},
		   {"conv2d c in=1 out=2 k=2 dilation=3", "a 2x2 kernel (dilated) does not fit a 3x4 input"},
		   {"conv2d c in=1 out=2 k=3x-1", "k=3x-1 is not a size or HxW"},
		   {"maxpool2d p k=1x2", "maxpool2d takes a square window"},
		   {"avgpool2d p k=2 pad=0,1,0,1", "avgpool2d takes a square window"}};
	for (size_t i = 0; i < sizeof(geo) / sizeof(geo[0]); i++) {
		const char *gl[] = {geo[i].line, "flatten f", "softmax_ce loss"};
		dcc_model_set_arr_str(m, "dcc.graph", gl, 3, NULL);
		CHECK(dcc_net_from_model(m, &n, &e) != 0 && strstr(e.msg, geo[i].msg));
		if (!strstr(e.msg, geo[i].msg))
			fprintf(stderr, "  %s: %s\n", geo[i].line, e.msg);
	}
	/* graphs with branches: each wrong from= is one error naming the layer */
	static const struct {
		const char *l[5];
		int rc;
		const char *msg;
	} dag[] = {
		{{"relu a", "relu b from=c", "relu c", "softmax_ce loss"}, DCC_E_FORMAT, "'b' reads 'c', which no earlier layer"},
		{{"relu a", "add s from=a", "softmax_ce loss"}, DCC_E_FORMAT, "add reads two values or more"},
		{{"relu a", "relu b from=a,input", "softmax_ce loss"}, DCC_E_FORMAT, "relu reads one value, not 2"},
		{{"relu a", "maxpool2d p k=2 stride=2", "add s from=a,p", "softmax_ce loss"}, DCC_E_SHAPE,
		 "add of 1x3x4 (a) and 1x1x2 (p)"},
		{{"relu a", "relu b from=input", "softmax_ce loss"}, DCC_E_FORMAT, "layer 'a': no layer reads its output"},
		{{"relu input", "softmax_ce loss"}, DCC_E_FORMAT, "may not be named 'input'"},
		{{"relu a", "relu a from=input", "add s from=a,a", "softmax_ce loss"}, DCC_E_FORMAT, "two layers named 'a'"},
		{{"conv2d c in=1 out=2 k=1 group=2", "softmax_ce loss"}, DCC_E_SHAPE, "group=2 does not divide in=1"},
		{{"maxpool2d p k=2 stride=1 pad=2", "softmax_ce loss"}, DCC_E_SHAPE, "pad=2 is more than half"},
		{{"clip c min=2 max=1", "softmax_ce loss"}, DCC_E_FORMAT, "clip needs min <= max"},
		{{"leakyrelu l alpha=300", "softmax_ce loss"}, DCC_E_FORMAT, "leakyrelu needs alpha within -256..256"},
		{{"leakyrelu l alpha=x", "softmax_ce loss"}, DCC_E_FORMAT, "alpha=x is not a number"},
		{{"hardsigmoid h beta=-300", "softmax_ce loss"}, DCC_E_FORMAT, "hardsigmoid needs alpha and beta within -64..64"},
		{{"relu a", "softmax_ce loss from=a,input"}, DCC_E_FORMAT, "softmax_ce reads one value, not 2"},
		{{"slice s start=0 end=2", "softmax_ce loss"}, DCC_E_SHAPE, "slice start=0 end=2 of 1 channels"},
		{{"slice s start=1 end=1", "softmax_ce loss"}, DCC_E_SHAPE, "slice start=1 end=1 of 1 channels"},
		{{"shuffle s group=2", "softmax_ce loss"}, DCC_E_SHAPE, "shuffle group=2 does not divide its 1 channels"},
		{{"shuffle s group=0", "softmax_ce loss"}, DCC_E_SHAPE, "shuffle group=0 does not divide"},
		{{"relu r end=1", "softmax_ce loss"}, DCC_E_FORMAT, "start= and end= are slice's"},
		{{"relu r group=2", "softmax_ce loss"}, DCC_E_FORMAT, "group= is conv2d's and shuffle's"},
		{{"relu a", "relu b from=input", "sub s from=a,b,input", "softmax_ce loss"}, DCC_E_FORMAT,
		 "sub reads two values (from=a,b: a - b), not 3"},
	};
	for (size_t t = 0; t < sizeof(dag) / sizeof(dag[0]); t++) {
		size_t k = 0;
		while (k < 5 && dag[t].l[k])
			k++;
		dcc_model_set_arr_str(m, "dcc.graph", dag[t].l, k, NULL);
		CHECK_ERR(dcc_net_from_model(m, &n, &e), e, dag[t].rc, dag[t].msg);
	}
	dcc_model_free(m);
	dcc_model *x;
	CHECK_ERR(dcc_net_create("lenet5", 1, 8, 8, 10, DCC_OP_SOFTMAX_CE, 1, &x, &e), e, DCC_E_SHAPE, "lenet5 cannot fit 8x8");
	CHECK_ERR(dcc_net_create("mlp:60-10", 1, 8, 8, 10, DCC_OP_SOFTMAX_CE, 1, &x, &e), e, DCC_E_SHAPE, "takes 60 inputs");
	CHECK(dcc_net_create("lenet300", 1, 8, 8, 10, DCC_OP_SOFTMAX_CE, 1, &x, &e) == 0 && dcc_model_find(x, "fc1.weight")->shape[1] == 64);
	dcc_model_free(x);
}

int main(void)
{
	test_kernels();
	test_gradients();
	test_conv_tiles();
	test_bn_stats();
	test_eval_buffers();
	test_augment();
	test_training();
	test_graph_errors();
	return check_done("test_nn");
}
