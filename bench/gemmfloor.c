/* gemmfloor.c: how long one training epoch's matrix products take alone --
 * the floor under dcc train's epoch time while convolutions are im2col and
 * GEMM.  It builds a built-in net for C x H x W inputs, then replays every
 * cblas_sgemm of its conv2d and fc layers' forward and backward passes
 * exactly as lib/nn/layers.c issues them (the same shapes, transposes,
 * tiles and betas; dW and dX; no dX into the input), on T threads that
 * each take a slice of the batch with one-threaded OpenBLAS, as dcc train's
 * workers do, for one epoch of N samples.  Everything else a training step
 * does (im2col, col2im, batchnorm, activations, adds, pooling, the loss and
 * the SGD step) is left out, so the time is what dcc's convolutions, as
 * im2col and GEMM in these tiles, could not go below.  Depthwise
 * convolutions are not GEMMs and are left out too.
 *   gemmfloor NET C H W CLASSES N BATCH T
 * prints: the GEMMs' seconds, the seconds with every tile's patches copied
 * in at memcpy's speed and out again (im2col and col2im's floor), GFLOP,
 * GFLOP/s */
#include <cblas.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../lib/dcc_nn.h"
#include "../lib/nn/layers.h"

typedef struct job {
	const dcc_net *net;
	size_t B, steps;
	double flop;
	int fail;
	pthread_barrier_t *bar;
} job;

static float *fill(size_t n)
{
	float *p = malloc((n ? n : 1) * sizeof(float));
	for (size_t i = 0; p && i < n; i++)
		p[i] = (float)((i * 2654435761u) % 1000) * 1e-3f - 0.5f;
	return p;
}

/* One layer's products for B samples: conv_forward's and conv_backward's
 * (or fc_forward's and fc_backward's) cblas_sgemm calls, no other work. */
static double layer_gemms(const dcc_layer *l, size_t B, float *a, float *b, float *c, float *d, float *e,
			  int first)
{
	double flop = 0;
	if (l->op == DCC_OP_FC) {
		int in = l->in, out = l->out;
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, out, in, 1.0f, a, in, b, in, 1.0f, c, out);
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, (int)B, 1.0f, c, out, a, in, 1.0f, d, in);
		if (!first)
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, in, out, 1.0f, c, out, b, in, 0.0f, a,
				    in);
		return 2.0 * (double)B * in * out * (first ? 2 : 3);
	}
	const dcc_geom *q = &l->geo;
	int G = l->group, C = l->ic, Cout = l->oc;
	if (conv_depthwise(C, G, Cout))
		return 0; /* direct loops, not GEMMs */
	int Cg = C / G, Cog = Cout / G, ckk = Cg * q->kh * q->kw, pw = conv_pointwise(q);
	size_t rows = B * (size_t)l->oh * l->ow, tile = conv_tile_rows(q, Cg, rows);
	int lda = pw ? C : ckk;
	for (int pass = 0; pass < 2; pass++)
		for (size_t r0 = 0; r0 < rows; r0 += tile) {
			size_t r1 = r0 + tile < rows ? r0 + tile : rows;
			int T = (int)(r1 - r0);
			for (int g = 0; g < G; g++) {
				const float *cols = pw ? a + r0 * C + g * Cg : a;
				const float *wg = b + (size_t)g * Cog * ckk;
				size_t patch = (size_t)T * ckk * sizeof(float);
				if (e && !pw) /* im2col at memcpy's speed: forward, then gathered again */
					memcpy(a, e, patch);
				if (!pass) {
					cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, Cog, ckk, 1.0f, cols, lda, wg,
						    ckk, 1.0f, c + r0 * Cout + (size_t)g * Cog, Cout);
					flop += 2.0 * T * Cog * ckk;
					continue;
				}
				cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Cog, ckk, T, 1.0f, c + r0 * Cout + g * Cog,
					    Cout, cols, lda, 1.0f, d + (size_t)g * Cog * ckk, ckk);
				flop += 2.0 * T * Cog * ckk;
				if (first)
					continue;
				cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, ckk, Cog, 1.0f,
					    c + r0 * Cout + g * Cog, Cout, wg, ckk, 0.0f, pw ? a + r0 * C + g * Cg : a, lda);
				flop += 2.0 * T * Cog * ckk;
				if (e && !pw) /* col2im as a plain copy (it adds) */
					memcpy(e, a, patch);
			}
		}
	return flop;
}

static void *worker(void *arg)
{
	job *j = arg;
	const dcc_net *n = j->net;
	/* buffers big enough for any layer: its patches or input, weights,
	 * output (and its gradient) */
	size_t na = 0, nb = 0, nc = 0;
	for (size_t i = 0; i < n->nlayers; i++) {
		const dcc_layer *l = &n->layers[i];
		if (l->op != DCC_OP_FC && l->op != DCC_OP_CONV2D)
			continue;
		size_t in = j->B * l->in_size, w = (size_t)l->p[0].n, out = j->B * l->out_size;
		if (l->op == DCC_OP_CONV2D) {
			size_t ckk = (size_t)(l->ic / l->group) * l->geo.kh * l->geo.kw;
			size_t t = conv_tile_rows(&l->geo, l->ic / l->group, j->B * (size_t)l->oh * l->ow) * ckk;
			in = in > t ? in : t;
		}
		na = na > in ? na : in, nb = nb > w ? nb : w, nc = nc > out ? nc : out;
	}
	float *a = fill(na), *b = fill(nb), *c = fill(nc), *d = fill(nb), *e = fill(na);
	j->fail = !a || !b || !c || !d || !e;
	/* the products alone, then with the patches copied */
	for (int phase = 0; phase < 2; phase++) {
		pthread_barrier_wait(j->bar);
		for (size_t s = 0; s < j->steps && !j->fail; s++)
			for (size_t i = 0; i < n->nlayers; i++) {
				const dcc_layer *l = &n->layers[i];
				if (l->op != DCC_OP_FC && l->op != DCC_OP_CONV2D)
					continue;
				double f = layer_gemms(l, j->B, a, b, c, d, phase ? e : NULL, l->src[0] == 0);
				j->flop += phase ? 0 : f;
			}
		pthread_barrier_wait(j->bar);
	}
	free(a), free(b), free(c), free(d), free(e);
	return NULL;
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc != 9) {
		fprintf(stderr, "usage: gemmfloor NET C H W CLASSES N BATCH THREADS\n");
		return 2;
	}
	int c = atoi(argv[2]), h = atoi(argv[3]), w = atoi(argv[4]), classes = atoi(argv[5]);
	size_t N = (size_t)atol(argv[6]), batch = (size_t)atol(argv[7]);
	int T = atoi(argv[8]);
	if (c < 1 || h < 1 || w < 1 || classes < 1 || !N || !batch || T < 1 || T > 64 || (size_t)T > batch) {
		fprintf(stderr, "gemmfloor: bad arguments\n");
		return 2;
	}
	dcc_error err = {0};
	dcc_model *m;
	dcc_net *net;
	if (dcc_net_create(argv[1], c, h, w, classes, DCC_OP_SOFTMAX_CE, 1, &m, &err) ||
	    dcc_net_from_model(m, &net, &err)) {
		fprintf(stderr, "gemmfloor: %s\n", err.msg);
		return 1;
	}
	openblas_set_num_threads(1);
	pthread_t th[64];
	job jobs[64];
	pthread_barrier_t bar;
	pthread_barrier_init(&bar, NULL, (unsigned)T + 1);
	/* each thread's slice of a batch, as dcc train slices it (full batches;
	 * the epoch's last, partial one counted as full) */
	size_t steps = (N + batch - 1) / batch;
	for (int t = 0; t < T; t++) {
		size_t lo = batch * t / T, hi = batch * (t + 1) / T;
		jobs[t] = (job){net, hi - lo, steps, 0, 0, &bar};
		pthread_create(&th[t], NULL, worker, &jobs[t]);
	}
	double t[4];
	for (int k = 0; k < 4; k++) {
		pthread_barrier_wait(&bar);
		t[k] = now();
	}
	double flop = 0;
	int fail = 0;
	for (int k = 0; k < T; k++) {
		pthread_join(th[k], NULL);
		flop += jobs[k].flop, fail |= jobs[k].fail;
	}
	if (fail) {
		fprintf(stderr, "gemmfloor: out of memory\n");
		return 1;
	}
	printf("%.2f %.2f %.1f %.1f\n", t[1] - t[0], t[3] - t[2], flop / 1e9, flop / (t[1] - t[0]) / 1e9);
	dcc_net_free(net);
	dcc_model_free(m);
	return 0;
}
