/* emu.c: dcc emu -- runs a compiled program on the emulated EIE-style
 * accelerator: outputs bit-exact with dcc eval --fixed, and the cycle
 * model's latency, utilisation and load balance per layer; also the
 * synthetic benchmarks and the training-step cost model. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/dcc_accel.h"
#include "../lib/dcc_encode.h"
#include "../lib/dcc_fixed.h"
#include "../lib/dcc_nn.h"
#include "common.h"

static const char usage[] =
	"usage: dcc emu [IN.dcb] IN.dci [--input X.npy | --data DIR] [--limit N] [OPTIONS]\n"
	"       dcc emu IN.dcb [--input X.npy | --data DIR] [--limit N] [OPTIONS]\n"
	"       dcc emu --synthetic OUTxIN --weight-density W --act-density A [OPTIONS]\n"
	"       dcc emu --synthetic-conv C,H,W,M,K[,STRIDE[,PAD]] [OPTIONS]\n"
	"       dcc emu --train-step MODEL.dct [--batch B] [OPTIONS]\n"
	"\n"
	"Runs the program as written on the DRAM image it holds: each PE walks\n"
	"its columns of the sparse matrix for every nonzero input activation,\n"
	"looks up the codebook and accumulates in fixed point exactly as dcc eval\n"
	"--fixed does.  With the blob too, the program must have been compiled\n"
	"from it, and --pes, the convolver options and --sweep over them\n"
	"recompile it; the blob alone is compiled for the machine the options\n"
	"describe.  With neither --input nor --data, the default data set's test\n"
	"images.  The cycle model reports per layer: cycles, time, PE\n"
	"utilisation, load balance, MACs, GOP/s and whether it is compute- or\n"
	"bandwidth-bound.\n"
	"\n"
	"  --input X             inputs: an array of one sample or (N, ...) (FILE:MEMBER\n"
	"                        of an .npz), or a data set (formats/data.md)\n"
	"  --split NAME          the data set split to run: test (default), train, val\n"
	"  --data DATA           data set (formats/data.md; default " DCC_DEFAULT_DATA ")\n"
	"  --limit N             the first N images only (--count N: the same)\n"
	"  --logits OUT.npy      the outputs' real values, float32 (N, classes)\n"
	"  --pes P               PEs (default: the program's)\n"
	"  --fifo N              activation FIFO depth per PE (default 8)\n"
	"  --sram-bits B         sparse-matrix SRAM width (default 64)\n"
	"  --spmat-reuse next|any  when a PE's read unit serves a column from the word\n"
	"                        it holds: only the matrix's next column (next, EIE's;\n"
	"                        the default) or any column starting in it (any)\n"
	"  --sram-kb K           sparse-matrix SRAM per PE in KB (default 128)\n"
	"  --freq MHZ            clock (default 800)\n"
	"  --dram-gbps G         DRAM bandwidth for weights that do not fit (10)\n"
	"  --conv-pes N, --convolvers N, --conv-k K, --conv-buf-kb KB\n"
	"                        the convolver engine (default: the program's;\n"
	"                        see dcc compile)\n"
	"  --act-bits A          activations and codebook values priced at A bits (16;\n"
	"                        the accumulator 2A): the cost model only\n"
	"  --weight-bits B       codebook indices of B bits (4): an entry B + 4 bits,\n"
	"                        packed to the SRAM's words: the cost model only\n"
	"  --sweep KIND=L        rerun over a list and print the table; KIND is pes,\n"
	"                        fifo, convolvers, conv-pes, sram-bits, act-bits or\n"
	"                        weight-bits (pes=16,32,64)\n"
	"  --synthetic OUTxIN    a random layer of that size (EIE's benchmark)\n"
	"  --synthetic-conv C,H,W,M,K[,STRIDE[,PAD]]\n"
	"                        a convolution of that shape on the convolver engine\n"
	"                        (a VGG-16 layer, say): cycles, GOP/s, DRAM bytes\n"
	"  --weight-density W, --act-density A, --seed N   for --synthetic\n"
	"  --train-step MODEL    the cost of one training step of a pruned model's fc\n"
	"                        and conv2d layers on the PE array: forward, error\n"
	"                        back-propagation (the transpose) and weight\n"
	"                        gradient, dense and sparse\n"
	"  --batch B             --train-step's images (default 64)\n"
	"  --threads N           worker threads over the inputs (default: all cores)\n"
	"  --energy TABLE        energy, power and area from an energy table: 45nm\n"
	"                        (Horowitz's figures, EIE's table I), eie-pe (EIE's\n"
	"                        table II per PE) or a file (formats/energy.md)\n"
	"  --json                print JSON\n"
	"  -h, --help            show this help\n";

/* What dcc emu was asked for. */
typedef struct emu_opts {
	const char *input, *split, *data, *logits, *sweep, *syn, *synconv, *trainstep;
	const char *blob, *prog; /* the files of a run */
	long conv_pes, convolvers, conv_k, conv_buf, limit, pes, seed, threads, batch;
	double wd, ad;
	const dcc_energy_table *et; /* --energy: NULL for none */
	dcc_energy_table et_store;
	int json, sweep_kind, nlist;
	long list[64];
	dcc_accel_cfg cfg;
} emu_opts;

/* Per-layer figures, averaged per run. */
static json_t *layer_json(const dcc_layer_stats *l, uint64_t runs, const dcc_accel_cfg *c, const dcc_energy_table *et,
			  double *us)
{
	dcc_layer_figures f;
	dcc_layer_figures_of(l, runs, c, &f);
	*us = f.us;
	json_t *pb = json_array();
	for (uint32_t q = 0; q < l->npe; q++)
		json_array_append_new(pb, json_real((double)l->pe_busy[q] / (double)(runs ? runs : 1)));
	json_t *o = json_pack("{s:s, s:i, s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:s, s:o, s:f}", "layer", l->name,
			      "rows", (int)l->rows, "cols", (int)l->cols, "cycles", f.cycles, "us", f.us, "utilisation",
			      f.utilisation, "load_balance", f.load_balance, "macs", f.macs, "dense_macs", f.dense_macs, "gops",
			      f.gops, "dense_gops", f.dense_gops, "nonzero_acts", f.nonzero_acts, "bound",
			      l->bandwidth_bound ? "bandwidth" : "compute", "pe_busy_cycles", pb, "compute_cycles",
			      f.compute_cycles);
	json_object_set_new(o, "engine", json_string(l->mults ? "convolver" : "pe-array"));
	json_object_set_new(o, "dram_bytes", json_real(f.dram_bytes));
	json_object_set_new(o, "dram_cycles", json_real(f.dram_cycles));
	json_object_set_new(o, "vector_cycles", json_real(f.vector_cycles));
	json_t *evj = json_object();
	for (int k = 0; k < DCC_EV_N; k++)
		json_object_set_new(evj, dcc_event_name(k), json_real((double)l->ev[k] / (double)(runs ? runs : 1)));
	json_object_set_new(o, "events", evj);
	if (et) {
		dcc_energy en = {0};
		dcc_energy_add(et, l, c, &en);
		json_object_set_new(o, "energy", cmd_energy_json(et, &en, (double)runs, c, 0));
	}
	if (l->mults) {
		json_object_set_new(o, "tile", json_pack("[i, i]", (int)l->tile_r, (int)l->tile_c));
		json_object_set_new(o, "multipliers", json_integer(l->mults));
	}
	return o;
}

static void print_layers(json_t *ls)
{
	printf("  %-10s %11s %9s %9s %6s %6s %10s %9s %9s %9s %s\n", "layer", "size", "cycles", "us", "util", "balance",
	       "MACs", "GOP/s", "dense", "DRAM KB", "bound");
	size_t i;
	json_t *l;
	json_array_foreach(ls, i, l)
	{
		char sz[32];
		snprintf(sz, sizeof(sz), "%lldx%lld", json_integer_value(json_object_get(l, "cols")),
			 json_integer_value(json_object_get(l, "rows")));
		printf("  %-10s %11s %9.0f %9.2f %5.1f%% %6.1f%% %10.0f %9.1f %9.1f %9.1f %s%s\n",
		       json_string_value(json_object_get(l, "layer")), sz, json_real_value(json_object_get(l, "cycles")),
		       json_real_value(json_object_get(l, "us")), 100 * json_real_value(json_object_get(l, "utilisation")),
		       100 * json_real_value(json_object_get(l, "load_balance")), json_real_value(json_object_get(l, "macs")),
		       json_real_value(json_object_get(l, "gops")), json_real_value(json_object_get(l, "dense_gops")),
		       json_real_value(json_object_get(l, "dram_bytes")) / 1024, json_string_value(json_object_get(l, "bound")),
		       strcmp(json_string_value(json_object_get(l, "engine")), "convolver") ? "" : " (convolvers)");
	}
}

static int parse_list(const char *s, long *v, int *n)
{
	*n = 0;
	char *end;
	while (*s && *n < 64) {
		long x = strtol(s, &end, 10);
		if (end == s || x < 1 || x > 4096 || (*end && *end != ','))
			return -1;
		v[(*n)++] = x;
		s = *end ? end + 1 : end;
	}
	return *n ? 0 : -1;
}

/* one point of a --sweep: 0 PEs, 1 FIFO depth, 2 convolvers, 3 convolver
 * PEs, 4 SRAM width, 5 activation bits, 6 weight (codebook index) bits */
static void sweep_set(dcc_accel_cfg *c, int kind, long v)
{
	if (kind == 0)
		c->pes = (int)v;
	else if (kind == 1)
		c->fifo = (int)v;
	else if (kind == 2)
		c->convolvers = (int)v;
	else if (kind == 3)
		c->conv_pes = (int)v;
	else if (kind == 4)
		c->sram_bits = (int)v;
	else if (kind == 5)
		c->act_bits = (int)v;
	else
		c->weight_bits = (int)v;
}

/* The machine of a run: the options over the program's own settings. */
static void machine(const emu_opts *o, const dcc_program *prog, dcc_accel_cfg *c)
{
	*c = o->cfg;
	c->pes = o->pes ? (int)o->pes : prog ? prog->pes : 64;
	if (prog && o->conv_pes <= 0 && prog->convolvers)
		c->conv_pes = (int)prog->conv_pes;
	if (prog && o->convolvers < 0)
		c->convolvers = (int)prog->convolvers;
	if (prog && o->conv_k <= 0 && prog->convolvers)
		c->conv_k = (int)prog->conv_k;
	if (prog && o->conv_buf <= 0 && prog->convolvers)
		c->conv_buf_kb = (int)prog->conv_buf_kb;
}

/* The program one run executes: the user's as written when the machine
 * lays the blob out as it was (a version 1 program borrows the image its
 * blob compiles to), else the blob compiled for the machine. */
static int program_for(const emu_opts *o, const dcc_program *prog, const dcc_model *m, uint32_t crc,
		       const dcc_accel_cfg *c, dcc_program *pk, const dcc_program **run)
{
	dcc_error e = {0};
	memset(pk, 0, sizeof(*pk));
	int same = prog && dcc_program_same_layout(prog, c);
	if (same && prog->dram) {
		*run = prog;
		return 0;
	}
	if (!m) {
		cmd_err("%s: a machine other than the program's (--pes, the convolver options, --sweep) recompiles the "
			"blob: give it (dcc emu IN.dcb IN.dci ...)", o->prog);
		return EXIT_FAIL;
	}
	if (dcc_accel_compile(m, crc, c, pk, &e))
		return cmd_fail(o->blob, &e);
	*run = pk;
	if (same && dcc_program_borrow(pk, prog, &e)) /* version 1: its instructions on the blob's image */
		return cmd_fail(o->prog, &e);
	return 0;
}

/* A run's inputs: an array or data set (--input), or a data set's test split. */
typedef struct emu_data {
	dcc_dataset *d;
	const dcc_split *s;
	size_t n;
} emu_data;

static int load_inputs(const emu_opts *o, const dcc_program *run, emu_data *in)
{
	int shape[3] = {(int)run->in_c, (int)run->in_h, (int)run->in_w};
	const char *prog = o->prog ? o->prog : o->blob;
	dcc_error e = {0};
	memset(in, 0, sizeof(*in));
	if (o->input ? dcc_inputs_load(o->input, shape, o->split, &in->d, &e) : cmd_load_data(o->data, &in->d))
		return o->input ? cmd_fail(NULL, &e) : EXIT_FAIL;
	in->s = o->input || !o->split ? &in->d->test : dcc_data_split(in->d, o->split);
	if (!in->s || !in->s->n) {
		cmd_err("%s: no %s split", in->d->source, o->split ? o->split : "test");
		return EXIT_FAIL;
	}
	if (dcc_program_fits(run, in->d, in->s, &e))
		return cmd_fail(prog, &e);
	in->n = in->s->n;
	if (o->limit && (size_t)o->limit < in->n)
		in->n = (size_t)o->limit;
	return 0;
}

/* One point of a run: the program on every input, its figures as JSON. */
/* A run's sparse-matrix memory and operand widths, as --json reports them. */
static void memory_json(json_t *r, const dcc_accel_cfg *c)
{
	json_object_set_new(r, "sram_bits", json_integer(c->sram_bits));
	json_object_set_new(r, "spmat_reuse", json_string(c->spmat_reuse == DCC_REUSE_ANY ? "any" : "next"));
	json_object_set_new(r, "act_bits", json_integer(c->act_bits));
	json_object_set_new(r, "weight_bits", json_integer(c->weight_bits));
}

/* A sweep row's "activation/weight bits" (16/4). */
static void widths_label(json_t *r, char *buf, size_t cap)
{
	snprintf(buf, cap, "%lld/%lld", json_integer_value(json_object_get(r, "act_bits")),
		 json_integer_value(json_object_get(r, "weight_bits")));
}

static json_t *run_point(const dcc_program *run, const dcc_accel_cfg *cfg, const emu_opts *o, const emu_data *in,
			 int32_t *out)
{
	dcc_emu_inputs ei = {in->d, in->s};
	dcc_emu_stats tot = {0};
	dcc_error e = {0};
	double host;
	if (dcc_emu_batch(run, cfg, &ei, in->n, (int)o->threads, out, &tot, &host, &e)) {
		cmd_fail(o->prog ? o->prog : o->blob, &e);
		return NULL;
	}
	json_t *ls = json_array();
	double total_us = 0, macs = 0;
	dcc_energy en = {0};
	for (size_t i = 0; i < tot.nlayers; i++) {
		double us;
		json_array_append_new(ls, layer_json(&tot.l[i], tot.runs, cfg, o->et, &us));
		total_us += us;
		macs += (double)tot.l[i].macs;
		if (o->et)
			dcc_energy_add(o->et, &tot.l[i], cfg, &en);
	}
	if (o->et) /* the load and store instructions' DRAM traffic */
		dcc_energy_add_events(o->et, DCC_EV_DRAM_BYTE, (double)tot.io_bytes, cfg, &en);
	uint64_t runs = tot.runs;
	dcc_emu_stats_free(&tot);
	json_t *r = json_pack("{s:o, s:f, s:I, s:i, s:i, s:f, s:f}", "layers", ls, "latency_us", total_us, "inputs",
			      (json_int_t)in->n, "pes", cfg->pes, "fifo", cfg->fifo, "host_seconds", host,
			      "simulated_macs_per_s", host > 0 ? macs / host : 0.0);
	json_object_set_new(r, "convolvers", json_integer(cfg->convolvers));
	memory_json(r, cfg);
	if (o->et)
		json_object_set_new(r, "energy", cmd_energy_json(o->et, &en, (double)runs, cfg, 1));
	if (cfg->convolvers)
		json_object_set_new(r, "conv_pes", json_integer(cfg->conv_pes)),
			json_object_set_new(r, "conv_k", json_integer(cfg->conv_k));
	dcc_eval_result fig;
	if (in->s->y && !dcc_fx_figures(run->head, out, in->n, (int)run->out_len, run->out_fl, in->d, in->s, &fig, &e)) {
		cmd_figures_json(r, &fig);
		dcc_eval_result_free(&fig);
	}
	return r;
}

/* With --energy: a sweep row's energy and energy-delay product, '*' on the
 * least of each. */
static void sweep_energy(json_t *rows, json_t *o, const char *lat_key)
{
	size_t i;
	json_t *r;
	double e = json_real_value(json_object_get(json_object_get(o, "energy"), "energy_uj")), lat, best_e = INFINITY,
	       best_d = INFINITY;
	lat = json_real_value(json_object_get(o, lat_key));
	json_array_foreach(rows, i, r) {
		double re = json_real_value(json_object_get(json_object_get(r, "energy"), "energy_uj"));
		double rd = re * json_real_value(json_object_get(r, lat_key));
		best_e = re < best_e ? re : best_e;
		best_d = rd < best_d ? rd : best_d;
	}
	printf(" %10.4g%s %12.4g%s", e, e == best_e ? "*" : " ", e * lat, e * lat == best_d ? "*" : " ");
}

static void print_sweep(json_t *rows)
{
	int en = json_object_get(json_array_get(rows, 0), "energy") != NULL;
	printf("  %6s %6s %5s %5s %9s %12s %8s %8s%s\n", "pes", "fifo", "sram", "a/w", "conv", "latency us", "util",
	       "balance", en ? "  energy uJ    EDP uJ*us" : "");
	size_t i;
	json_t *o;
	json_array_foreach(rows, i, o)
	{
		double cyc = 0, lb = 0, ut = 0;
		size_t k;
		json_t *l;
		json_array_foreach(json_object_get(o, "layers"), k, l)
		{
			double cy = json_real_value(json_object_get(l, "cycles"));
			cyc += cy;
			lb += cy * json_real_value(json_object_get(l, "load_balance"));
			ut += cy * json_real_value(json_object_get(l, "utilisation"));
		}
		char cv[32] = "-";
		if (json_integer_value(json_object_get(o, "convolvers")))
			snprintf(cv, sizeof(cv), "%lldx%lld", json_integer_value(json_object_get(o, "conv_pes")),
				 json_integer_value(json_object_get(o, "convolvers")));
		char bits[32];
		widths_label(o, bits, sizeof(bits));
		printf("  %6lld %6lld %5lld %5s %9s %12.2f %7.1f%% %7.1f%%", json_integer_value(json_object_get(o, "pes")),
		       json_integer_value(json_object_get(o, "fifo")), json_integer_value(json_object_get(o, "sram_bits")), bits,
		       cv, json_real_value(json_object_get(o, "latency_us")), cyc ? 100 * ut / cyc : 0, cyc ? 100 * lb / cyc : 0);
		if (en)
			sweep_energy(rows, o, "latency_us");
		putchar('\n');
	}
}

static void print_run(const emu_opts *o, json_t *res, const dcc_accel_cfg *cfg)
{
	if (o->json) {
		json_dumpf(res, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(12));
		putchar('\n');
		return;
	}
	size_t N = (size_t)json_integer_value(json_object_get(res, "inputs"));
	printf("%s on %d PEs (FIFO %d, %.0f MHz): %zu input%s, latency %.2f us per input", o->blob ? o->blob : o->prog,
	       cfg->pes, cfg->fifo, cfg->freq_mhz, N, N == 1 ? "" : "s", json_real_value(json_object_get(res, "latency_us")));
	char fig[256];
	printf("%s\n", cmd_figures_text(res, fig, sizeof(fig)));
	print_layers(json_object_get(res, "layers"));
	cmd_energy_print(json_object_get(res, "energy"));
	printf("  (per input, averaged; host: %.2f s, %.0f million simulated MACs/s)\n",
	       json_real_value(json_object_get(res, "host_seconds")),
	       json_real_value(json_object_get(res, "simulated_macs_per_s")) / 1e6);
}

static int write_logits(const emu_opts *o, const int32_t *out, size_t N, size_t classes, int lfl)
{
	float *z = malloc((N * classes + 1) * sizeof(float));
	const char *inputs[] = {o->blob ? o->blob : o->prog, o->prog, NULL};
	if (!z) {
		cmd_err("out of memory");
		return EXIT_FAIL;
	}
	dcc_fx_to_f32(z, out, N * classes, lfl);
	int rc = cmd_save_npy(o->logits, inputs, z, N, classes);
	free(z);
	return rc;
}

/* The program(s) a run needs: the user's, the blob's model, or both. */
typedef struct emu_files {
	dcc_program prog;
	int have_prog;
	dcc_model *m;
	uint32_t crc;
} emu_files;

static int load_files(const emu_opts *o, emu_files *f)
{
	memset(f, 0, sizeof(*f));
	if (o->prog) {
		if (cmd_load_program(o->prog, &f->prog))
			return EXIT_FAIL;
		f->have_prog = 1;
	}
	if (o->blob && cmd_load_blob(o->blob, &f->m, NULL, NULL, &f->crc))
		return EXIT_FAIL;
	if (f->have_prog && f->m && f->prog.blob_crc != f->crc) {
		cmd_err("%s: compiled from a different blob than %s (crc 0x%08x, not 0x%08x)", o->prog, o->blob,
			f->prog.blob_crc, f->crc);
		return EXIT_FAIL;
	}
	if (f->have_prog && !f->prog.dram && !f->m) {
		cmd_err("%s: a version 1 program holds no DRAM image: give its blob (dcc emu IN.dcb %s), or compile "
			"it again", o->prog, o->prog);
		return EXIT_FAIL;
	}
	return 0;
}

/* The main mode: the program (or the blob compiled) on the inputs. */
static int emu_run(emu_opts *o)
{
	emu_files f;
	emu_data in = {0};
	int32_t *out = NULL;
	json_t *rows = json_array(), *res = NULL;
	int rc = EXIT_FAIL, nrun = o->sweep ? o->nlist : 1, lfl = 0;
	dcc_accel_cfg cfg;
	if (load_files(o, &f))
		goto done;
	for (int k = 0; k < nrun; k++) {
		dcc_program pk;
		const dcc_program *run;
		machine(o, f.have_prog ? &f.prog : NULL, &cfg);
		if (o->sweep)
			sweep_set(&cfg, o->sweep_kind, o->list[k]);
		if (program_for(o, f.have_prog ? &f.prog : NULL, f.m, f.crc, &cfg, &pk, &run))
			goto done;
		if (!k && (load_inputs(o, run, &in) ||
			   !(out = malloc((in.n ? in.n : 1) * run->out_len * sizeof(int32_t))))) {
			dcc_program_free(&pk);
			goto done;
		}
		lfl = run->out_fl;
		res = run_point(run, &cfg, o, &in, out);
		size_t classes = run->out_len;
		dcc_program_free(&pk);
		if (!res)
			goto done;
		if (!o->sweep) {
			print_run(o, res, &cfg);
			if (o->logits && write_logits(o, out, in.n, classes, lfl))
				goto done;
		} else {
			json_array_append_new(rows, res);
			res = NULL;
		}
	}
	if (o->sweep && o->json) {
		json_dumpf(rows, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(12));
		putchar('\n');
	} else if (o->sweep) {
		print_sweep(rows);
	}
	rc = cmd_finish(EXIT_OK);
done:
	json_decref(rows);
	json_decref(res);
	free(out);
	dcc_dataset_free(in.d);
	dcc_program_free(&f.prog);
	dcc_model_free(f.m);
	return rc;
}

/* --synthetic-conv: a convolution on the convolver engine, by the cycle model. */
static int emu_synthetic_conv(emu_opts *o)
{
	unsigned v[7] = {0, 0, 0, 0, 0, 1, 0};
	int got = sscanf(o->synconv, "%u,%u,%u,%u,%u,%u,%u", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6]);
	if (o->blob || o->syn)
		return cmd_usage_error(usage, "--synthetic-conv takes no files and no --synthetic");
	if (got < 5 || !v[0] || !v[1] || !v[2] || !v[3] || !v[4] || !v[5] || v[0] > 65536 || v[3] > 65536 ||
	    v[1] > 65536 || v[2] > 65536 || v[4] > 64 || v[6] > 64 || v[1] + 2 * v[6] < v[4] || v[2] + 2 * v[6] < v[4])
		return cmd_usage_error(usage, "--synthetic-conv: '%s' is not C,H,W,M,K[,STRIDE[,PAD]]", o->synconv);
	dcc_accel_cfg cfg = o->cfg;
	if (cfg.convolvers < 1)
		return cmd_usage_error(usage, "--synthetic-conv needs at least one convolver");
	json_t *rowsj = json_array();
	int nrun = o->sweep ? o->nlist : 1;
	for (int k = 0; k < nrun; k++) {
		if (o->sweep)
			sweep_set(&cfg, o->sweep_kind, o->list[k]);
		dcc_conv_shape g = {v[3], v[0], v[1], v[2], v[4], v[4], v[5], v[5], v[6], v[6], v[6], v[6], 1, 1, 0, 0};
		dcc_layer_stats st;
		dcc_error e = {0};
		if (dcc_emu_synthetic_conv(&g, &cfg, &st, &e)) {
			json_decref(rowsj);
			return cmd_fail(NULL, &e);
		}
		double us;
		json_t *r = layer_json(&st, 1, &cfg, o->et, &us);
		json_object_set_new(r, "conv_pes", json_integer(cfg.conv_pes));
		json_object_set_new(r, "convolvers", json_integer(cfg.convolvers));
		json_object_set_new(r, "conv_k", json_integer(cfg.conv_k));
		json_object_set_new(r, "freq_mhz", json_real(cfg.freq_mhz));
		json_object_set_new(r, "dram_gbps", json_real(cfg.dram_gbps));
		json_array_append_new(rowsj, r);
	}
	if (o->json) {
		json_dumpf(o->sweep ? rowsj : json_array_get(rowsj, 0), stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(12));
		putchar('\n');
	} else {
		if (!o->sweep)
			printf("convolver engine: %d PEs x %d convolvers of %dx%d (%d multipliers), %.0f MHz, DRAM %.1f GB/s, "
			       "%d KB buffers\n",
			       cfg.conv_pes, cfg.convolvers, cfg.conv_k, cfg.conv_k,
			       cfg.conv_pes * cfg.convolvers * cfg.conv_k * cfg.conv_k, cfg.freq_mhz, cfg.dram_gbps,
			       cfg.conv_buf_kb);
		print_layers(rowsj);
		if (!o->sweep)
			cmd_energy_print(json_object_get(json_array_get(rowsj, 0), "energy"));
	}
	json_decref(rowsj);
	return cmd_finish(EXIT_OK);
}

/* --synthetic: EIE's benchmark, one random layer through the cycle model. */
static int emu_synthetic(emu_opts *o)
{
	unsigned rows, cols;
	char x;
	if (o->blob)
		return cmd_usage_error(usage, "--synthetic takes no files");
	if (sscanf(o->syn, "%u%c%u", &rows, &x, &cols) != 3 || x != 'x' || !rows || !cols || rows > 1000000 ||
	    cols > 1000000)
		return cmd_usage_error(usage, "--synthetic: '%s' is not OUTxIN", o->syn);
	if (!(o->wd > 0 && o->wd <= 1) || !(o->ad > 0 && o->ad <= 1))
		return cmd_usage_error(usage, "--synthetic needs --weight-density and --act-density in (0, 1]");
	json_t *rowsj = json_array();
	int nrun = o->sweep ? o->nlist : 1;
	for (int k = 0; k < nrun; k++) {
		dcc_accel_cfg cfg = o->cfg;
		cfg.pes = o->pes ? (int)o->pes : 64;
		if (o->sweep)
			sweep_set(&cfg, o->sweep_kind, o->list[k]);
		dcc_layer_stats st;
		dcc_error e = {0};
		if (dcc_emu_synthetic(rows, cols, o->wd, o->ad, (uint64_t)o->seed, &cfg, &st, &e)) {
			json_decref(rowsj);
			return cmd_fail(NULL, &e);
		}
		double us;
		json_t *r = layer_json(&st, 1, &cfg, o->et, &us);
		json_object_set_new(r, "pes", json_integer(cfg.pes));
		json_object_set_new(r, "fifo", json_integer(cfg.fifo));
		memory_json(r, &cfg);
		json_object_set_new(r, "host_seconds", json_real(st.host_seconds));
		dcc_layer_stats_free(&st);
		json_object_set_new(r, "simulated_macs_per_s",
				    json_real(st.host_seconds > 0 ? (double)st.macs / st.host_seconds : 0));
		json_array_append_new(rowsj, r);
	}
	if (o->json) {
		json_dumpf(o->sweep ? rowsj : json_array_get(rowsj, 0), stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(12));
		putchar('\n');
	} else if (o->sweep) {
		int en = o->et != NULL;
		printf("  %6s %6s %5s %5s %10s %9s %8s %8s%s\n", "pes", "fifo", "sram", "a/w", "cycles", "us", "util",
		       "balance", en ? "  energy uJ    EDP uJ*us" : "");
		size_t i;
		json_t *r;
		json_array_foreach(rowsj, i, r) {
			char bits[32];
			widths_label(r, bits, sizeof(bits));
			printf("  %6lld %6lld %5lld %5s %10.0f %9.2f %7.1f%% %7.1f%%", json_integer_value(json_object_get(r, "pes")),
			       json_integer_value(json_object_get(r, "fifo")), json_integer_value(json_object_get(r, "sram_bits")), bits,
			       json_real_value(json_object_get(r, "cycles")), json_real_value(json_object_get(r, "us")),
			       100 * json_real_value(json_object_get(r, "utilisation")),
			       100 * json_real_value(json_object_get(r, "load_balance")));
			if (en)
				sweep_energy(rowsj, r, "us");
			putchar('\n');
		}
	} else {
		print_layers(rowsj);
		cmd_energy_print(json_object_get(json_array_get(rowsj, 0), "energy"));
	}
	json_decref(rowsj);
	return cmd_finish(EXIT_OK);
}

/* --train-step: the cost of one training step of a pruned model on the PE array. */
static void print_step(const emu_opts *o, const dcc_step_cost *v, size_t nv, size_t B, uint32_t P)
{
	static const char *const stage[3] = {"FP", "EB", "WG"};
	double tot_dense = 0, tot_sparse = 0;
	json_t *layers = json_array();
	if (!o->json)
		printf("%s: one training step of %zu images on %u PEs (FIFO %d); cost model\n"
		       "  %-8s %-5s %14s %14s %12s %12s %8s\n", o->trainstep, B, P, o->cfg.fifo, "layer", "stage", "dense MACs",
		       "sparse MACs", "dense cyc", "sparse cyc", "balance");
	for (size_t i = 0; i < nv; i++) {
		const dcc_step_cost *sc = &v[i];
		if (!sc->modelled) {
			if (!o->json)
				printf("  %-8s (%s: not modelled; fc and ungrouped conv2d layers only)\n", sc->layer,
				       sc->op == DCC_OP_LSTM ? "lstm" : "grouped conv2d");
			continue;
		}
		for (int k = 0; k < 3; k++) {
			tot_dense += sc->cdense[k];
			tot_sparse += sc->csparse[k];
			if (o->json)
				json_array_append_new(layers, json_pack("{s:s, s:s, s:f, s:f, s:f, s:f, s:f}", "layer", sc->layer,
									"stage", stage[k], "dense_macs", sc->dense[k],
									"sparse_macs", sc->sparse[k], "dense_cycles",
									sc->cdense[k], "sparse_cycles", sc->csparse[k],
									"load_balance", sc->bal[k] / sc->products));
			else
				printf("  %-8s %-5s %14.0f %14.0f %12.0f %12.0f %7.1f%%\n", sc->layer, stage[k], sc->dense[k],
				       sc->sparse[k], sc->cdense[k], sc->csparse[k], 100 * sc->bal[k] / sc->products);
		}
		if (!o->json)
			printf("  %-8s EB's transposed copy of the indices: %llu more entries (%.1f KB at a byte each)\n", "",
			       (unsigned long long)sc->kept, (double)sc->kept / 1024);
	}
	if (o->json) {
		json_t *r = json_pack("{s:s, s:I, s:i, s:o, s:f, s:f, s:f}", "model", o->trainstep, "batch", (json_int_t)B,
				      "pes", (int)P, "stages", layers, "dense_cycles", tot_dense, "sparse_cycles", tot_sparse,
				      "speedup", tot_sparse > 0 ? tot_dense / tot_sparse : 0.0);
		json_dumpf(r, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(12));
		putchar('\n');
		json_decref(r);
	} else {
		json_decref(layers);
		printf("whole step (fc and conv2d layers): %.0f dense cycles, %.0f sparse: %.2fx faster at %.0f MHz (%.1f us vs "
		       "%.1f us)\n",
		       tot_dense, tot_sparse, tot_sparse > 0 ? tot_dense / tot_sparse : 0.0, o->cfg.freq_mhz,
		       tot_sparse / o->cfg.freq_mhz, tot_dense / o->cfg.freq_mhz);
	}
}

static int emu_train_step(emu_opts *o)
{
	if (o->blob)
		return cmd_usage_error(usage, "--train-step takes no other files");
	dcc_model *m;
	dcc_dataset *d = NULL;
	dcc_net *n = NULL;
	dcc_error e = {0};
	float *x = NULL;
	dcc_step_cost *v = NULL;
	size_t nv = 0;
	int rc = EXIT_FAIL;
	dcc_accel_cfg cfg = o->cfg;
	cfg.pes = o->pes ? (int)o->pes : 64;
	if (cmd_load(o->trainstep, &m))
		return EXIT_FAIL;
	if (dcc_net_from_model(m, &n, &e)) {
		cmd_fail(o->trainstep, &e);
		goto done;
	}
	if (cmd_load_data(o->data, &d))
		goto done;
	if (dcc_net_fits(n, d, 0, &e)) {
		cmd_fail(o->trainstep, &e);
		goto done;
	}
	size_t B = (size_t)o->batch < d->train.n ? (size_t)o->batch : d->train.n;
	if (!(x = malloc((B * d->sample + 1) * sizeof(float)))) {
		cmd_err("out of memory");
		goto done;
	}
	dcc_data_x(d, &d->train, 0, B, &n->norm, x);
	if (dcc_train_step_cost(n, x, B, &cfg, &v, &nv, &e)) {
		cmd_fail(o->trainstep, &e);
		goto done;
	}
	print_step(o, v, nv, B, (uint32_t)cfg.pes);
	rc = cmd_finish(EXIT_OK);
done:
	free(v);
	free(x);
	dcc_net_free(n);
	if (d)
		dcc_dataset_free(d);
	dcc_model_free(m);
	return rc;
}

static int parse(int argc, char **argv, emu_opts *o)
{
	enum { O_INPUT = 256, O_DATA, O_COUNT, O_LOGITS, O_PES, O_FIFO, O_SRAM, O_SRAMKB, O_FREQ, O_DRAM, O_SWEEP,
	       O_SYN, O_WD, O_AD, O_SEED, O_THREADS, O_JSON, O_TRAINSTEP, O_BATCH, O_CPES, O_CONV, O_CK, O_CBUF, O_SYNC,
	       O_SPLIT, O_ENERGY, O_REUSE, O_ABITS, O_WBITS };
	static const struct option opts[] = {
		{"input", required_argument, NULL, O_INPUT}, {"data", required_argument, NULL, O_DATA},
		{"limit", required_argument, NULL, O_COUNT}, {"count", required_argument, NULL, O_COUNT},
		{"logits", required_argument, NULL, O_LOGITS},
		{"pes", required_argument, NULL, O_PES}, {"fifo", required_argument, NULL, O_FIFO},
		{"sram-bits", required_argument, NULL, O_SRAM}, {"sram-kb", required_argument, NULL, O_SRAMKB},
		{"freq", required_argument, NULL, O_FREQ}, {"dram-gbps", required_argument, NULL, O_DRAM},
		{"sweep", required_argument, NULL, O_SWEEP}, {"synthetic", required_argument, NULL, O_SYN},
		{"weight-density", required_argument, NULL, O_WD}, {"act-density", required_argument, NULL, O_AD},
		{"seed", required_argument, NULL, O_SEED}, {"threads", required_argument, NULL, O_THREADS},
		{"json", no_argument, NULL, O_JSON}, {"help", no_argument, NULL, 'h'},
		{"train-step", required_argument, NULL, O_TRAINSTEP}, {"batch", required_argument, NULL, O_BATCH},
		{"conv-pes", required_argument, NULL, O_CPES}, {"convolvers", required_argument, NULL, O_CONV},
		{"conv-k", required_argument, NULL, O_CK}, {"conv-buf-kb", required_argument, NULL, O_CBUF},
		{"synthetic-conv", required_argument, NULL, O_SYNC}, {"split", required_argument, NULL, O_SPLIT},
		{"energy", required_argument, NULL, O_ENERGY}, {"spmat-reuse", required_argument, NULL, O_REUSE},
		{"act-bits", required_argument, NULL, O_ABITS}, {"weight-bits", required_argument, NULL, O_WBITS},
		{NULL, 0, NULL, 0},
	};
	long fifo = 8, sram = 64, abits = 16, wbits = 4;
	int reuse = DCC_REUSE_NEXT;
	double freq = 800, dram_gbps = 10, sram_kb = 128;
	o->conv_pes = o->convolvers = o->conv_k = o->conv_buf = -1;
	o->seed = 1, o->batch = 64, o->wd = o->ad = NAN;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int bad = 0;
		switch (c) {
		case O_INPUT: o->input = optarg; break;
		case O_SPLIT: o->split = optarg; break;
		case O_ENERGY: {
			dcc_error e = {0};
			if (dcc_energy_load(optarg, &o->et_store, &e))
				return cmd_fail(NULL, &e);
			o->et = &o->et_store;
			break;
		}
		case O_DATA: o->data = optarg; break;
		case O_COUNT: bad = cmd_parse_long(usage, "--limit", optarg, 1, 0x7fffffffL, &o->limit); break;
		case O_LOGITS: o->logits = optarg; break;
		case O_PES: bad = cmd_parse_long(usage, "--pes", optarg, 1, 4096, &o->pes); break;
		case O_FIFO: bad = cmd_parse_long(usage, "--fifo", optarg, 1, 65536, &fifo); break;
		case O_SRAM: bad = cmd_parse_long(usage, "--sram-bits", optarg, 8, 4096, &sram); break;
		case O_SRAMKB: bad = cmd_parse_double(usage, "--sram-kb", optarg, &sram_kb); break;
		case O_ABITS: bad = cmd_parse_long(usage, "--act-bits", optarg, 4, 32, &abits); break;
		case O_WBITS: bad = cmd_parse_long(usage, "--weight-bits", optarg, 1, 8, &wbits); break;
		case O_REUSE:
			if (strcmp(optarg, "next") && strcmp(optarg, "any"))
				return cmd_usage_error(usage, "--spmat-reuse: 'next' or 'any'");
			reuse = !strcmp(optarg, "any") ? DCC_REUSE_ANY : DCC_REUSE_NEXT;
			break;
		case O_FREQ: bad = cmd_parse_double(usage, "--freq", optarg, &freq); break;
		case O_DRAM: bad = cmd_parse_double(usage, "--dram-gbps", optarg, &dram_gbps); break;
		case O_SWEEP: o->sweep = optarg; break;
		case O_SYN: o->syn = optarg; break;
		case O_SYNC: o->synconv = optarg; break;
		case O_CPES: bad = cmd_parse_long(usage, "--conv-pes", optarg, 1, 4096, &o->conv_pes); break;
		case O_CONV: bad = cmd_parse_long(usage, "--convolvers", optarg, 0, 4096, &o->convolvers); break;
		case O_CK: bad = cmd_parse_long(usage, "--conv-k", optarg, 1, 15, &o->conv_k); break;
		case O_CBUF: bad = cmd_parse_long(usage, "--conv-buf-kb", optarg, 1, 1 << 20, &o->conv_buf); break;
		case O_WD: bad = cmd_parse_double(usage, "--weight-density", optarg, &o->wd); break;
		case O_AD: bad = cmd_parse_double(usage, "--act-density", optarg, &o->ad); break;
		case O_SEED: bad = cmd_parse_long(usage, "--seed", optarg, 0, 0x7fffffffL, &o->seed); break;
		case O_THREADS: bad = cmd_parse_long(usage, "--threads", optarg, 1, 1024, &o->threads); break;
		case O_JSON: o->json = 1; break;
		case O_TRAINSTEP: o->trainstep = optarg; break;
		case O_BATCH: bad = cmd_parse_long(usage, "--batch", optarg, 1, 100000, &o->batch); break;
		case 'h': return cmd_help(usage), CMD_HELP_SHOWN;
		default: return cmd_usage_error(usage, NULL);
		}
		if (bad)
			return bad;
	}
	if (!(freq > 0 && freq < 1e6) || !(dram_gbps > 0) || !(sram_kb >= 0))
		return cmd_usage_error(usage, "--freq, --dram-gbps must be positive and --sram-kb not negative");
	dcc_accel_defaults(&o->cfg);
	o->cfg.fifo = (int)fifo, o->cfg.sram_bits = (int)sram, o->cfg.freq_mhz = freq, o->cfg.dram_gbps = dram_gbps;
	o->cfg.spmat_reuse = reuse, o->cfg.act_bits = (int)abits, o->cfg.weight_bits = (int)wbits;
	o->cfg.sram_kb_per_pe = sram_kb;
	/* the convolver engine: what was asked, else the defaults (or the program's) */
	if (o->conv_pes > 0)
		o->cfg.conv_pes = (int)o->conv_pes;
	if (o->convolvers >= 0)
		o->cfg.convolvers = (int)o->convolvers;
	if (o->conv_k > 0)
		o->cfg.conv_k = (int)o->conv_k;
	if (o->conv_buf > 0)
		o->cfg.conv_buf_kb = (int)o->conv_buf;
	o->sweep_kind = -1;
	if (o->sweep) {
		static const char *const kinds[] = {"pes=", "fifo=", "convolvers=", "conv-pes=", "sram-bits=", "act-bits=",
						    "weight-bits="};
		for (int k = 0; k < 7 && o->sweep_kind < 0; k++)
			if (!strncmp(o->sweep, kinds[k], strlen(kinds[k])))
				o->sweep_kind = k;
		if (o->sweep_kind < 0)
			return cmd_usage_error(usage, "--sweep: 'pes=L', 'fifo=L', 'convolvers=L', 'conv-pes=L', 'sram-bits=L', "
						      "'act-bits=L' or 'weight-bits=L' (L: 1,2,...)");
		if (parse_list(strchr(o->sweep, '=') + 1, o->list, &o->nlist))
			return cmd_usage_error(usage, "--sweep: '%s' is not a list of counts 1..4096", o->sweep);
		for (int i = 0; i < o->nlist; i++)
			if ((o->sweep_kind == 5 && (o->list[i] < 4 || o->list[i] > 32)) ||
			    (o->sweep_kind == 6 && o->list[i] > 8) || (o->sweep_kind == 4 && o->list[i] < 8))
				return cmd_usage_error(usage, "--sweep: act-bits go from 4 to 32, weight-bits from 1 to 8, "
							      "sram-bits from 8");
	}
	/* the files: a blob, a program, or a blob and its program, told apart by content */
	int nf = argc - optind;
	if (nf > 2)
		return cmd_usage_error(usage, "give the program, the blob, or both (IN.dcb IN.dci)");
	o->blob = nf >= 1 ? argv[optind] : NULL;
	o->prog = nf == 2 ? argv[optind + 1] : NULL;
	return 0;
}

int cmd_emu(int argc, char **argv)
{
	emu_opts o = {0};
	int rc = parse(argc, argv, &o);
	if (rc)
		return cmd_parsed(rc);
	if (o.trainstep)
		return emu_train_step(&o);
	if (o.synconv)
		return emu_synthetic_conv(&o);
	if (o.syn)
		return emu_synthetic(&o);
	if (!o.blob)
		return cmd_usage_error(usage, "give the program (IN.dci), its blob (IN.dcb), or both");
	if (o.input && o.data)
		return cmd_usage_error(usage, "give --input or --data, not both");
	if (!o.prog && cmd_file_is(o.blob, DCC_FILE_DCI)) /* one file: the program itself */
		o.prog = o.blob, o.blob = NULL;
	const char *inputs[4] = {0}, **q = inputs;
	if (o.blob)
		*q++ = o.blob;
	if (o.prog)
		*q++ = o.prog;
	if (o.input)
		*q++ = o.input;
	if (cmd_check_outputs(&o.logits, 1, inputs, 0))
		return EXIT_FAIL;
	return emu_run(&o);
}
