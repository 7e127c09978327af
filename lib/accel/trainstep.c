/* trainstep.c: the cost of one training step of a pruned network on the
 * PE array (FPGA 2019's sparse training), per fc and conv2d layer and per
 * stage: the multiply-accumulates of a dense engine and of a sparse one,
 * and the cycles of the PE model.  A cost model, not an execution: the
 * float network's forward pass says which activations and errors are
 * nonzero, and no arithmetic is emulated.
 *   FP  y = W x: only kept weights and nonzero activations (as inference);
 *   EB  dx = W^T dy: the transposed matrix, kept weights and nonzero errors
 *       (a second, row-major copy of the indices; its storage is reported);
 *   WG  dW = dy x^T at kept positions only, skipping zero x or dy.
 * The errors reaching a layer followed by ReLU are zero exactly where the
 * ReLU was inactive; the last layer's are dense. */
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "../dcc_accel.h"

/* Which of a layer's outputs (one image; a convolution's in H W C order,
 * as the float engine keeps them) receive a nonzero error: where the ReLU after it is
 * active, and where a max-pooling after that took its maximum (the first,
 * as PyTorch); every output otherwise. */
static void error_mask(const dcc_net *n, const dcc_work *w, size_t li, size_t s, uint8_t *on)
{
	const dcc_layer *l = &n->layers[li];
	size_t sz = l->out_size, j = li + 1;
	memset(on, 1, sz);
	if (j < n->nlayers && n->layers[j].op == DCC_OP_RELU) {
		const float *r = dcc_work_act(w, j + 1) + s * sz;
		for (size_t q = 0; q < sz; q++)
			on[q] = r[q] != 0;
		j++;
	}
	if (j < n->nlayers && n->layers[j].op == DCC_OP_MAXPOOL2D) {
		const dcc_layer *pl = &n->layers[j];
		const float *x = dcc_work_act(w, j) + s * sz;
		uint8_t *arg = calloc(sz, 1);
		if (!arg)
			return;
		int C = pl->ic, W = pl->iw;
		for (int oy = 0; oy < pl->oh; oy++)
			for (int ox = 0; ox < pl->ow; ox++)
				for (int c = 0; c < C; c++) {
					size_t best = ((size_t)(oy * pl->stride) * W + (size_t)(ox * pl->stride)) * C + c;
					for (int ky = 0; ky < pl->k; ky++)
						for (int kx = 0; kx < pl->k; kx++) {
							size_t at = ((size_t)(oy * pl->stride + ky) * W + (size_t)(ox * pl->stride + kx)) * C + c;
							best = x[at] > x[best] ? at : best;
						}
					arg[best] = 1;
				}
		for (size_t q = 0; q < sz; q++)
			on[q] &= arg[q];
		free(arg);
	}
}

/* One sparse product of FP or EB: count (P x cols) kept entries per PE and
 * column, the nonzero columns nz[0..nnz) broadcast through the FIFOs. */
static void pe_product(dcc_step_cost *sc, int k, const uint32_t *count, uint32_t P, uint32_t cols, const uint32_t *nz,
		       uint32_t nnz, int fifo, uint64_t *busy)
{
	memset(busy, 0, P * sizeof(uint64_t));
	uint64_t t = dcc_pe_cycles(count, P, cols, nz, nnz, fifo, busy), b = 0, macs = 0;
	for (uint32_t p = 0; p < P; p++)
		b += busy[p];
	for (uint32_t q = 0; q < nnz; q++)
		for (uint32_t p = 0; p < P; p++)
			macs += count[(size_t)p * cols + nz[q]];
	sc->sparse[k] += (double)macs, sc->csparse[k] += (double)t;
	sc->bal[k] += t ? (double)b / ((double)P * (double)t) : 1;
}

/* An fc layer, or a convolution as spconv runs it (one sparse product per
 * output position).  FP: kept weights x nonzero inputs (rows, the outputs,
 * over the PEs); EB: the transpose (inputs over the PEs) x the nonzero
 * errors; WG: kept positions with both nonzero, each PE its rows. */
static int layer_step_cost(const dcc_net *n, const dcc_work *w, size_t li, size_t B, const dcc_accel_cfg *cfg,
			   dcc_step_cost *sc)
{
	const dcc_layer *l = &n->layers[li];
	int fc = l->op == DCC_OP_FC;
	uint32_t P = (uint32_t)cfg->pes, M = (uint32_t)(fc ? l->out : l->oc), K = (uint32_t)(fc ? l->in : l->ic * l->geo.kh * l->geo.kw);
	size_t npos = fc ? 1 : (size_t)l->oh * l->ow;
	const dcc_param *wp = &l->p[0];
	uint32_t *cfp = calloc((size_t)P * K, sizeof(uint32_t)), *ceb = calloc((size_t)P * M, sizeof(uint32_t));
	uint32_t *nzx = malloc(K * sizeof(uint32_t)), *nze = malloc(M * sizeof(uint32_t));
	uint8_t *kept = malloc((size_t)M * K), *eon = malloc(l->out_size);
	uint64_t *busy = calloc(P, sizeof(uint64_t));
	int ok = cfp && ceb && nzx && nze && kept && eon && busy;
	for (uint32_t m = 0; ok && m < M; m++)
		for (uint32_t j = 0; j < K; j++) {
			size_t at = (size_t)m * K + j;
			kept[at] = wp->mask ? (wp->mask[at / 8] >> (at % 8)) & 1 : wp->w[at] != 0;
			if (kept[at]) {
				cfp[(size_t)(m % P) * K + j]++; /* FP: rows over PEs */
				ceb[(size_t)(j % P) * M + m]++; /* EB: the transpose, its rows (inputs) over PEs */
				sc->kept++;
			}
		}
	for (size_t s = 0; ok && s < B; s++) {
		const float *in = dcc_work_act(w, li) + s * l->in_size; /* conv: H W C */
		error_mask(n, w, li, s, eon);
		for (size_t pos = 0; pos < npos; pos++) {
			uint32_t nx = 0, ne = 0;
			if (fc) {
				for (uint32_t j = 0; j < K; j++)
					if (in[j] != 0)
						nzx[nx++] = j;
			} else { /* the patch in PyTorch's (c, ky, kx) order */
				int oy = (int)(pos / (size_t)l->ow), ox = (int)(pos % (size_t)l->ow);
				uint32_t q = 0;
				const dcc_geom *gq = &l->geo;
				for (int c = 0; c < l->ic; c++)
					for (int ky = 0; ky < gq->kh; ky++)
						for (int kx = 0; kx < gq->kw; kx++, q++) {
							int iy = oy * gq->sh + ky * gq->dh - gq->pt, ix = ox * gq->sw + kx * gq->dw - gq->pl;
							if (iy >= 0 && iy < l->ih && ix >= 0 && ix < l->iw &&
							    in[((size_t)iy * l->iw + (size_t)ix) * l->ic + (size_t)c] != 0)
								nzx[nx++] = q;
						}
			}
			const uint8_t *e = eon + pos * M;
			for (uint32_t m = 0; m < M; m++)
				if (e[m])
					nze[ne++] = m;
			pe_product(sc, 0, cfp, P, K, nzx, nx, cfg->fifo, busy);
			pe_product(sc, 1, ceb, P, M, nze, ne, cfg->fifo, busy);
			uint64_t mx = 0, wg = 0; /* WG */
			for (uint32_t p = 0; p < P; p++) {
				uint64_t c = 0;
				for (uint32_t m = p; m < M; m += P)
					if (e[m])
						for (uint32_t q = 0; q < nx; q++)
							c += kept[(size_t)m * K + nzx[q]];
				wg += c;
				mx = c > mx ? c : mx;
			}
			sc->sparse[2] += (double)wg, sc->csparse[2] += (double)mx;
			sc->bal[2] += mx ? (double)wg / ((double)P * (double)mx) : 1;
			for (int k = 0; k < 3; k++) {
				sc->dense[k] += (double)M * K;
				sc->cdense[k] += ((double)M * K + P - 1) / P;
			}
		}
	}
	sc->products = (double)B * (double)npos;
	free(cfp), free(ceb), free(nzx), free(nze), free(kept), free(eon), free(busy);
	return ok ? 0 : -1;
}


int dcc_train_step_cost(const dcc_net *n, const float *x, size_t B, const dcc_accel_cfg *cfg, dcc_step_cost **out,
			size_t *nout, dcc_error *err)
{
	*out = NULL;
	*nout = 0;
	dcc_work *w = NULL;
	int rc = dcc_graph_need_chain(n->graph, "the training-step cost model", err);
	if (!rc)
		rc = dcc_work_new(n, B, DCC_WORK_KEEP, &w, err);
	if (rc)
		return rc;
	dcc_net_forward(n, w, x, B);
	dcc_step_cost *v = calloc(n->nlayers ? n->nlayers : 1, sizeof(*v));
	size_t k = 0;
	if (!v)
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	for (size_t li = 0; !rc && li < n->nlayers; li++) {
		const dcc_layer *l = &n->layers[li];
		if (l->op != DCC_OP_FC && l->op != DCC_OP_CONV2D && l->op != DCC_OP_LSTM)
			continue;
		dcc_step_cost *sc = &v[k++];
		snprintf(sc->layer, sizeof(sc->layer), "%.63s", l->name);
		sc->op = l->op;
		/* not modelled: an lstm, and a grouped conv2d (its weight rows reach
		 * only their group's channels; the model maps a row over every one) */
		if (l->op == DCC_OP_LSTM || (l->op == DCC_OP_CONV2D && l->group > 1))
			continue;
		sc->modelled = 1;
		if (layer_step_cost(n, w, li, B, cfg, sc))
			rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	dcc_work_free(w);
	if (rc) {
		free(v);
		return rc;
	}
	*out = v;
	*nout = k;
	return 0;
}
