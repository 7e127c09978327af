/* trainstep.c: dcc emu --train-step -- the cost of one training step of a
 * pruned network on the PE array (FPGA 2019's sparse training): per fc
 * layer and per stage, the multiply-accumulates of a dense engine and of a
 * sparse one, and the cycles of the PE model.  A cost model, not an
 * execution: no arithmetic is emulated here.
 *   FP  y = W x: only kept weights and nonzero activations (as inference);
 *   EB  dx = W^T dy: the transposed matrix, kept weights and nonzero errors
 *       (a second, row-major copy of the indices; its storage is reported);
 *   WG  dW = dy x^T at kept positions only, skipping zero x or dy.
 * The errors reaching a layer followed by ReLU are zero exactly where the
 * ReLU was inactive; the last layer's are dense. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/dcc_accel.h"
#include "../lib/dcc_nn.h"
#include "common.h"

int emu_train_step(const char *path, const char *data, long batch, const dcc_accel_cfg *cfg, int as_json);

int emu_train_step(const char *path, const char *data, long batch, const dcc_accel_cfg *cfg, int as_json)
{
	dcc_model *m;
	dcc_dataset *d = NULL;
	dcc_net *n = NULL;
	dcc_work *w = NULL;
	dcc_error e = {0};
	int rc = EXIT_FAIL;
	float *x = NULL;
	json_t *layers = json_array();
	if (cmd_load(path, &m))
		return EXIT_FAIL;
	if (dcc_net_from_model(m, &n, &e)) {
		cmd_fail(path, &e);
		goto done;
	}
	if (cmd_load_data(data, &d))
		goto done;
	size_t B = (size_t)batch < d->ntrain ? (size_t)batch : d->ntrain, insz = (size_t)d->c * (size_t)d->h * (size_t)d->w;
	if (!(x = malloc(B * insz * sizeof(float))) || dcc_work_new(n, B, 0, &w, &e)) {
		cmd_err("%s", e.msg[0] ? e.msg : "out of memory");
		goto done;
	}
	dcc_pixels_to_input(x, d->train_x, B * insz);
	dcc_net_forward(n, w, x, B);
	uint32_t P = (uint32_t)cfg->pes;
	double tot_dense = 0, tot_sparse = 0;
	if (!as_json)
		printf("%s: one training step of %zu images on %u PEs (FIFO %d); cost model\n"
		       "  %-8s %-5s %14s %14s %12s %12s %8s\n", path, B, P, cfg->fifo, "layer", "stage", "dense MACs",
		       "sparse MACs", "dense cyc", "sparse cyc", "balance");
	for (size_t li = 0; li < n->nlayers; li++) {
		const dcc_layer *l = &n->layers[li];
		if (l->op == DCC_OP_CONV2D || l->op == DCC_OP_LSTM) {
			if (!as_json)
				printf("  %-8s (%s: not modelled; fc layers only)\n", l->name, dcc_op_name(l->op));
			continue;
		}
		if (l->op != DCC_OP_FC)
			continue;
		uint32_t R = (uint32_t)l->out, C = (uint32_t)l->in;
		const dcc_param *wp = &l->p[0];
		uint32_t *cfp = calloc((size_t)P * C, sizeof(uint32_t)), *ceb = calloc((size_t)P * R, sizeof(uint32_t));
		uint32_t *nzx = malloc(C * sizeof(uint32_t)), *nze = malloc(R * sizeof(uint32_t));
		uint8_t *xon = malloc(C), *eon = malloc(R);
		uint64_t *busy = calloc(P, sizeof(uint64_t)), kept = 0;
		if (!cfp || !ceb || !nzx || !nze || !xon || !eon || !busy) {
			free(cfp), free(ceb), free(nzx), free(nze), free(xon), free(eon), free(busy);
			cmd_err("out of memory");
			goto done;
		}
		for (uint32_t i = 0; i < R; i++)
			for (uint32_t j = 0; j < C; j++) {
				size_t at = (size_t)i * C + j;
				int on = wp->mask ? (wp->mask[at / 8] >> (at % 8)) & 1 : wp->w[at] != 0;
				if (on) {
					cfp[(size_t)(i % P) * C + j]++; /* FP: rows over PEs */
					ceb[(size_t)(j % P) * R + i]++; /* EB: the transpose, its rows (inputs) over PEs */
					kept++;
				}
			}
		int relu_after = li + 1 < n->nlayers && n->layers[li + 1].op == DCC_OP_RELU;
		double st_dense[3] = {0}, st_sparse[3] = {0}, cyc_dense[3] = {0}, cyc_sparse[3] = {0}, bal[3] = {0};
		for (size_t s = 0; s < B; s++) {
			const float *in = dcc_work_act(w, li) + s * C;
			const float *after = relu_after ? dcc_work_act(w, li + 2) + s * R : NULL;
			uint32_t nx = 0, ne = 0;
			for (uint32_t j = 0; j < C; j++)
				if ((xon[j] = in[j] != 0))
					nzx[nx++] = j;
			for (uint32_t i = 0; i < R; i++)
				if ((eon[i] = !after || after[i] != 0))
					nze[ne++] = i;
			/* FP */
			memset(busy, 0, P * sizeof(uint64_t));
			uint64_t t = dcc_pe_cycles(cfp, P, C, nzx, nx, cfg->fifo, busy), b = 0;
			for (uint32_t p = 0; p < P; p++)
				b += busy[p];
			double fp = 0;
			for (uint32_t k = 0; k < nx; k++)
				for (uint32_t p = 0; p < P; p++)
					fp += cfp[(size_t)p * C + nzx[k]];
			st_sparse[0] += fp, cyc_sparse[0] += (double)t, bal[0] += t ? (double)b / ((double)P * (double)t) : 1;
			/* EB */
			memset(busy, 0, P * sizeof(uint64_t));
			t = dcc_pe_cycles(ceb, P, R, nze, ne, cfg->fifo, busy), b = 0;
			for (uint32_t p = 0; p < P; p++)
				b += busy[p];
			double eb = 0;
			for (uint32_t k = 0; k < ne; k++)
				for (uint32_t p = 0; p < P; p++)
					eb += ceb[(size_t)p * R + nze[k]];
			st_sparse[1] += eb, cyc_sparse[1] += (double)t, bal[1] += t ? (double)b / ((double)P * (double)t) : 1;
			/* WG: kept positions with x and dy both nonzero, each PE its rows */
			uint64_t mx = 0, wg = 0;
			for (uint32_t p = 0; p < P; p++) {
				uint64_t c = 0;
				for (uint32_t i = p; i < R; i += P)
					if (eon[i])
						for (uint32_t j = 0; j < C; j++) {
							size_t at = (size_t)i * C + j;
							int on = wp->mask ? (wp->mask[at / 8] >> (at % 8)) & 1 : wp->w[at] != 0;
							c += on && xon[j];
						}
				wg += c;
				mx = c > mx ? c : mx;
			}
			st_sparse[2] += (double)wg, cyc_sparse[2] += (double)mx, bal[2] += mx ? (double)wg / ((double)P * (double)mx) : 1;
			for (int k = 0; k < 3; k++) {
				st_dense[k] += (double)R * C;
				cyc_dense[k] += ((double)R * C + P - 1) / P;
			}
		}
		static const char *const stage[3] = {"FP", "EB", "WG"};
		for (int k = 0; k < 3; k++) {
			tot_dense += cyc_dense[k];
			tot_sparse += cyc_sparse[k];
			if (as_json)
				json_array_append_new(layers, json_pack("{s:s, s:s, s:f, s:f, s:f, s:f, s:f}", "layer", l->name, "stage",
									stage[k], "dense_macs", st_dense[k], "sparse_macs", st_sparse[k],
									"dense_cycles", cyc_dense[k], "sparse_cycles", cyc_sparse[k],
									"load_balance", bal[k] / (double)B));
			else
				printf("  %-8s %-5s %14.0f %14.0f %12.0f %12.0f %7.1f%%\n", l->name, stage[k], st_dense[k], st_sparse[k],
				       cyc_dense[k], cyc_sparse[k], 100 * bal[k] / (double)B);
		}
		if (!as_json)
			printf("  %-8s EB's transposed copy of the indices: %llu more entries (%.1f KB at a byte each)\n", "",
			       (unsigned long long)kept, (double)kept / 1024);
		free(cfp), free(ceb), free(nzx), free(nze), free(xon), free(eon), free(busy);
	}
	if (as_json) {
		json_t *o = json_pack("{s:s, s:I, s:i, s:o, s:f, s:f, s:f}", "model", path, "batch", (json_int_t)B, "pes",
				      (int)P, "stages", layers, "dense_cycles", tot_dense, "sparse_cycles", tot_sparse, "speedup",
				      tot_sparse > 0 ? tot_dense / tot_sparse : 0.0);
		layers = NULL;
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(8));
		putchar('\n');
		json_decref(o);
	} else {
		printf("whole step (fc layers): %.0f dense cycles, %.0f sparse: %.2fx faster at %.0f MHz (%.1f us vs %.1f us)\n",
		       tot_dense, tot_sparse, tot_sparse > 0 ? tot_dense / tot_sparse : 0.0, cfg->freq_mhz,
		       tot_sparse / cfg->freq_mhz, tot_dense / cfg->freq_mhz);
	}
	rc = cmd_finish(EXIT_OK);
done:
	json_decref(layers);
	free(x);
	dcc_work_free(w);
	dcc_net_free(n);
	if (d)
		dcc_dataset_free(d);
	dcc_model_free(m);
	return rc;
}
