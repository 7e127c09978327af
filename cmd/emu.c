/* emu.c: dcc emu -- runs a compiled blob on the emulated EIE-style
 * accelerator: outputs bit-exact with dcc eval --fixed, and the cycle
 * model's latency, utilisation and load balance per layer. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../lib/dcc_accel.h"
#include "../lib/dcc_encode.h"
#include "../lib/dcc_fixed.h"
#include "../lib/dcc_nn.h"
#include "common.h"

static int emu_train_step(const char *path, const char *data, long batch, const dcc_accel_cfg *cfg, int as_json);

static const char usage[] =
	"usage: dcc emu IN.dcb IN.dci [--input X.npy | --data DIR] [--count N] [OPTIONS]\n"
	"       dcc emu --synthetic OUTxIN --weight-density W --act-density A [OPTIONS]\n"
	"       dcc emu --synthetic-conv C,H,W,M,K[,STRIDE[,PAD]] [OPTIONS]\n"
	"       dcc emu --train-step MODEL.dct [--batch B] [OPTIONS]\n"
	"\n"
	"Runs the program on the blob: each PE walks its columns of the sparse\n"
	"matrix for every nonzero input activation, looks up the codebook and\n"
	"accumulates in fixed point exactly as dcc eval --fixed does.  With\n"
	"neither --input nor --data, the default data set's test images.  The\n"
	"cycle model reports per layer: cycles, time, PE utilisation, load\n"
	"balance, MACs, GOP/s and whether it is compute- or bandwidth-bound.\n"
	"\n"
	"  --input X.npy         inputs (N, C, H, W) or (N, inputs), real values\n"
	"  --data DIR            IDX data set (default " DCC_DEFAULT_DATA ")\n"
	"  --count N             the first N images only\n"
	"  --logits OUT.npy      the outputs' real values, float32 (N, classes)\n"
	"  --pes P               PEs (default: the program's)\n"
	"  --fifo N              activation FIFO depth per PE (default 8)\n"
	"  --sram-bits B         sparse-matrix SRAM width (default 64)\n"
	"  --sram-kb K           sparse-matrix SRAM per PE in KB (default 128)\n"
	"  --freq MHZ            clock (default 800)\n"
	"  --dram-gbps G         DRAM bandwidth for weights that do not fit (10)\n"
	"  --conv-pes N, --convolvers N, --conv-k K, --conv-buf-kb KB\n"
	"                        the convolver engine (default: the program's;\n"
	"                        see dcc compile)\n"
	"  --sweep KIND=L        rerun over a list and print the table; KIND is pes,\n"
	"                        fifo, convolvers or conv-pes (pes=16,32,64)\n"
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
	"  --json                print JSON\n"
	"  -h, --help            show this help\n";

typedef struct emu_job {
	const dcc_program *p;
	const uint8_t *dram0;
	const dcc_qnet *q;
	const uint8_t *px; /* pixels, or NULL */
	const float *xf;   /* real inputs, or NULL */
	size_t n, insz;
	int nthreads, classes;
	const dcc_accel_cfg *cfg;
	int32_t *out;       /* n x classes */
	dcc_emu_stats *st;  /* per thread */
	dcc_error *err;     /* per thread */
	int *fail;
} emu_job;

static void emu_part(void *arg, int t)
{
	emu_job *j = arg;
	size_t lo = j->n * (size_t)t / (size_t)j->nthreads, hi = j->n * (size_t)(t + 1) / (size_t)j->nthreads;
	uint8_t *dram = malloc(j->p->dram_bytes);
	int32_t *x = malloc(j->insz * sizeof(int32_t));
	if (!dram || !x) {
		j->fail[t] = 1;
		dcc_fail(&j->err[t], DCC_E_NOMEM, "out of memory");
		free(dram), free(x);
		return;
	}
	memcpy(dram, j->dram0, j->p->dram_bytes);
	for (size_t i = lo; i < hi && !j->fail[t]; i++) {
		if (j->px) {
			dcc_qnet_input(j->q, j->px + i * j->insz, x);
		} else {
			for (size_t k = 0; k < j->insz; k++)
				x[k] = dcc_fx_quantize(j->xf[i * j->insz + k], j->q->in_bw, j->q->in_fl);
		}
		memcpy(dram + j->p->in_addr, x, j->insz * sizeof(int32_t));
		if (dcc_emu_run(j->p, dram, j->cfg, &j->st[t], &j->err[t])) {
			j->fail[t] = 1;
			break;
		}
		memcpy(j->out + i * (size_t)j->classes, dram + j->p->out_addr, (size_t)j->classes * sizeof(int32_t));
	}
	free(dram), free(x);
}

static void merge(dcc_emu_stats *dst, const dcc_emu_stats *src)
{
	if (!dst->l && src->nlayers) {
		dst->l = calloc(src->nlayers, sizeof(dcc_layer_stats));
		dst->nlayers = src->nlayers;
		for (size_t i = 0; dst->l && i < src->nlayers; i++)
			memcpy(dst->l[i].name, src->l[i].name, sizeof(dst->l[i].name));
	}
	for (size_t i = 0; dst->l && i < src->nlayers && i < dst->nlayers; i++) {
		dcc_layer_stats *a = &dst->l[i];
		const dcc_layer_stats *b = &src->l[i];
		a->rows = b->rows, a->cols = b->cols, a->mults = b->mults, a->tile_r = b->tile_r, a->tile_c = b->tile_c;
		a->cycles += b->cycles, a->compute_cycles += b->compute_cycles, a->dram_cycles += b->dram_cycles;
		a->macs += b->macs, a->dense_macs += b->dense_macs, a->busy_pe_cycles += b->busy_pe_cycles;
		a->bubble_pe_cycles += b->bubble_pe_cycles, a->pointer_reads += b->pointer_reads;
		a->sram_reads += b->sram_reads, a->dram_bytes += b->dram_bytes, a->nonzero_acts += b->nonzero_acts;
		a->broadcast_stalls += b->broadcast_stalls;
		a->bandwidth_bound |= b->bandwidth_bound;
		if (b->npe && a->npe != b->npe) {
			free(a->pe_busy);
			a->pe_busy = calloc(b->npe, sizeof(uint64_t));
			a->npe = a->pe_busy ? b->npe : 0;
		}
		for (uint32_t q = 0; q < a->npe && q < b->npe; q++)
			a->pe_busy[q] += b->pe_busy[q];
	}
	dst->runs += src->runs;
}

/* Per-layer figures, averaged per run. */
static json_t *layer_json(const dcc_layer_stats *l, uint64_t runs, const dcc_accel_cfg *c, double *us)
{
	double r = runs ? (double)runs : 1, cyc = (double)l->cycles / r, t = cyc / c->freq_mhz;
	double ccyc = (double)(l->compute_cycles - (uint64_t)c->pipeline * runs);
	/* the PE array: MACs per PE-cycle; the convolver engine: per multiplier-cycle */
	double pcyc = (double)c->pes * ccyc, slots = l->mults ? (double)l->mults * ccyc : pcyc;
	if (l->mults && l->rows && l->busy_pe_cycles + l->bubble_pe_cycles)
		pcyc = (double)(l->busy_pe_cycles + l->bubble_pe_cycles);
	double util = slots > 0 ? (double)l->macs / slots : 0, lb = pcyc > 0 ? 1 - (double)l->bubble_pe_cycles / pcyc : 0;
	*us = t;
	json_t *pb = json_array();
	for (uint32_t q = 0; q < l->npe; q++)
		json_array_append_new(pb, json_real((double)l->pe_busy[q] / r));
	json_t *o = json_pack("{s:s, s:i, s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:s, s:o, s:f}", "layer", l->name, "rows",
			 (int)l->rows, "cols", (int)l->cols, "cycles", cyc, "us", t, "utilisation", util, "load_balance", lb,
			 "macs", (double)l->macs / r, "dense_macs", (double)l->dense_macs / r, "gops",
			 t > 0 ? 2 * (double)l->macs / r / (t * 1e3) : 0.0, "dense_gops",
			 t > 0 ? 2 * (double)l->dense_macs / r / (t * 1e3) : 0.0, "nonzero_acts",
			 (double)l->nonzero_acts / r, "bound", l->bandwidth_bound ? "bandwidth" : "compute", "pe_busy_cycles", pb,
			 "compute_cycles", (double)l->compute_cycles / r);
	json_object_set_new(o, "engine", json_string(l->mults ? "convolver" : "pe-array"));
	json_object_set_new(o, "dram_bytes", json_real((double)l->dram_bytes / r));
	json_object_set_new(o, "dram_cycles", json_real((double)l->dram_cycles / r));
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

/* one point of a --sweep: 0 PEs, 1 FIFO depth, 2 convolvers, 3 convolver PEs */
static void sweep_set(dcc_accel_cfg *c, int kind, long v)
{
	if (kind == 0)
		c->pes = (int)v;
	else if (kind == 1)
		c->fifo = (int)v;
	else if (kind == 2)
		c->convolvers = (int)v;
	else
		c->conv_pes = (int)v;
}

int cmd_emu(int argc, char **argv)
{
	enum { O_INPUT = 256, O_DATA, O_COUNT, O_LOGITS, O_PES, O_FIFO, O_SRAM, O_SRAMKB, O_FREQ, O_DRAM, O_SWEEP,
	       O_SYN, O_WD, O_AD, O_SEED, O_THREADS, O_JSON, O_TRAINSTEP, O_BATCH, O_CPES, O_CONV, O_CK, O_CBUF, O_SYNC };
	static const struct option opts[] = {
		{"input", required_argument, NULL, O_INPUT}, {"data", required_argument, NULL, O_DATA},
		{"count", required_argument, NULL, O_COUNT}, {"logits", required_argument, NULL, O_LOGITS},
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
		{"synthetic-conv", required_argument, NULL, O_SYNC},
		{NULL, 0, NULL, 0},
	};
	const char *trainstep = NULL;
	long tbatch = 64;
	const char *input = NULL, *data = NULL, *logits = NULL, *sweep = NULL, *syn = NULL, *synconv = NULL;
	long conv_pes = -1, convolvers = -1, conv_k = -1, conv_buf = -1;
	long count = 0, pes = 0, fifo = 8, sram = 64, seed = 1, threads = 0;
	double freq = 800, dram_gbps = 10, sram_kb = 128, wd = NAN, ad = NAN;
	int as_json = 0, c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int bad = 0;
		switch (c) {
		case O_INPUT: input = optarg; break;
		case O_DATA: data = optarg; break;
		case O_COUNT: bad = cmd_parse_long(usage, "--count", optarg, 1, 0x7fffffffL, &count); break;
		case O_LOGITS: logits = optarg; break;
		case O_PES: bad = cmd_parse_long(usage, "--pes", optarg, 1, 4096, &pes); break;
		case O_FIFO: bad = cmd_parse_long(usage, "--fifo", optarg, 1, 65536, &fifo); break;
		case O_SRAM: bad = cmd_parse_long(usage, "--sram-bits", optarg, 8, 4096, &sram); break;
		case O_SRAMKB: bad = cmd_parse_double(usage, "--sram-kb", optarg, &sram_kb); break;
		case O_FREQ: bad = cmd_parse_double(usage, "--freq", optarg, &freq); break;
		case O_DRAM: bad = cmd_parse_double(usage, "--dram-gbps", optarg, &dram_gbps); break;
		case O_SWEEP: sweep = optarg; break;
		case O_SYN: syn = optarg; break;
		case O_SYNC: synconv = optarg; break;
		case O_CPES: bad = cmd_parse_long(usage, "--conv-pes", optarg, 1, 4096, &conv_pes); break;
		case O_CONV: bad = cmd_parse_long(usage, "--convolvers", optarg, 0, 4096, &convolvers); break;
		case O_CK: bad = cmd_parse_long(usage, "--conv-k", optarg, 1, 15, &conv_k); break;
		case O_CBUF: bad = cmd_parse_long(usage, "--conv-buf-kb", optarg, 1, 1 << 20, &conv_buf); break;
		case O_WD: bad = cmd_parse_double(usage, "--weight-density", optarg, &wd); break;
		case O_AD: bad = cmd_parse_double(usage, "--act-density", optarg, &ad); break;
		case O_SEED: bad = cmd_parse_long(usage, "--seed", optarg, 0, 0x7fffffffL, &seed); break;
		case O_THREADS: bad = cmd_parse_long(usage, "--threads", optarg, 1, 1024, &threads); break;
		case O_JSON: as_json = 1; break;
		case O_TRAINSTEP: trainstep = optarg; break;
		case O_BATCH: bad = cmd_parse_long(usage, "--batch", optarg, 1, 100000, &tbatch); break;
		case 'h': return cmd_help(usage);
		default: return cmd_usage_error(usage, NULL);
		}
		if (bad)
			return bad;
	}
	if (!(freq > 0 && freq < 1e6) || !(dram_gbps > 0) || !(sram_kb >= 0))
		return cmd_usage_error(usage, "--freq, --dram-gbps must be positive and --sram-kb not negative");
	dcc_accel_cfg cfg;
	dcc_accel_defaults(&cfg);
	cfg.fifo = (int)fifo, cfg.sram_bits = (int)sram, cfg.freq_mhz = freq, cfg.dram_gbps = dram_gbps;
	cfg.sram_kb_per_pe = sram_kb;
	/* the convolver engine: what was asked, else the defaults (the program's, below) */
	if (conv_pes > 0)
		cfg.conv_pes = (int)conv_pes;
	if (convolvers >= 0)
		cfg.convolvers = (int)convolvers;
	if (conv_k > 0)
		cfg.conv_k = (int)conv_k;
	if (conv_buf > 0)
		cfg.conv_buf_kb = (int)conv_buf;
	long list[64];
	int nlist = 0, sweep_kind = -1;
	if (sweep) {
		static const char *const kinds[] = {"pes=", "fifo=", "convolvers=", "conv-pes="};
		for (int k = 0; k < 4 && sweep_kind < 0; k++)
			if (!strncmp(sweep, kinds[k], strlen(kinds[k])))
				sweep_kind = k;
		if (sweep_kind < 0)
			return cmd_usage_error(usage, "--sweep: 'pes=L', 'fifo=L', 'convolvers=L' or 'conv-pes=L' (L: 1,2,...)");
		if (parse_list(strchr(sweep, '=') + 1, list, &nlist))
			return cmd_usage_error(usage, "--sweep: '%s' is not a list of counts 1..4096", sweep);
	}
	dcc_error e = {0};
	if (trainstep) {
		if (optind != argc)
			return cmd_usage_error(usage, "--train-step takes no other files");
		cfg.pes = pes ? (int)pes : 64;
		return emu_train_step(trainstep, data, tbatch, &cfg, as_json);
	}
	if (synconv) { /* a convolution on the convolver engine, by the cycle model */
		unsigned v[7] = {0, 0, 0, 0, 0, 1, 0};
		int got = sscanf(synconv, "%u,%u,%u,%u,%u,%u,%u", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6]);
		if (optind != argc || syn)
			return cmd_usage_error(usage, "--synthetic-conv takes no files and no --synthetic");
		if (got < 5 || !v[0] || !v[1] || !v[2] || !v[3] || !v[4] || !v[5] || v[0] > 65536 || v[3] > 65536 ||
		    v[1] > 65536 || v[2] > 65536 || v[4] > 64 || v[6] > 64 || v[1] + 2 * v[6] < v[4] || v[2] + 2 * v[6] < v[4])
			return cmd_usage_error(usage, "--synthetic-conv: '%s' is not C,H,W,M,K[,STRIDE[,PAD]]", synconv);
		if (cfg.convolvers < 1)
			return cmd_usage_error(usage, "--synthetic-conv needs at least one convolver");
		json_t *rowsj = json_array();
		int nrun = sweep ? nlist : 1;
		for (int k = 0; k < nrun; k++) {
			if (sweep)
				sweep_set(&cfg, sweep_kind, list[k]);
			dcc_conv_shape g = {v[3], v[0], v[1], v[2], v[4], v[5], v[6], 0, 0};
			dcc_layer_stats st;
			if (dcc_emu_synthetic_conv(&g, &cfg, &st, &e)) {
				json_decref(rowsj);
				return cmd_fail(NULL, &e);
			}
			double us;
			json_t *o = layer_json(&st, 1, &cfg, &us);
			json_object_set_new(o, "conv_pes", json_integer(cfg.conv_pes));
			json_object_set_new(o, "convolvers", json_integer(cfg.convolvers));
			json_object_set_new(o, "conv_k", json_integer(cfg.conv_k));
			json_object_set_new(o, "freq_mhz", json_real(cfg.freq_mhz));
			json_object_set_new(o, "dram_gbps", json_real(cfg.dram_gbps));
			json_array_append_new(rowsj, o);
		}
		if (as_json) {
			json_dumpf(sweep ? rowsj : json_array_get(rowsj, 0), stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
			putchar('\n');
		} else {
			if (!sweep)
				printf("convolver engine: %d PEs x %d convolvers of %dx%d (%d multipliers), %.0f MHz, DRAM %.1f GB/s, "
				       "%d KB buffers\n",
				       cfg.conv_pes, cfg.convolvers, cfg.conv_k, cfg.conv_k,
				       cfg.conv_pes * cfg.convolvers * cfg.conv_k * cfg.conv_k, cfg.freq_mhz, cfg.dram_gbps,
				       cfg.conv_buf_kb);
			print_layers(rowsj);
		}
		json_decref(rowsj);
		return cmd_finish(EXIT_OK);
	}
	if (syn) { /* EIE's benchmark: one synthetic layer */
		unsigned rows, cols;
		char x;
		if (optind != argc)
			return cmd_usage_error(usage, "--synthetic takes no files");
		if (sscanf(syn, "%u%c%u", &rows, &x, &cols) != 3 || x != 'x' || !rows || !cols || rows > 1000000 || cols > 1000000)
			return cmd_usage_error(usage, "--synthetic: '%s' is not OUTxIN", syn);
		if (!(wd > 0 && wd <= 1) || !(ad > 0 && ad <= 1))
			return cmd_usage_error(usage, "--synthetic needs --weight-density and --act-density in (0, 1]");
		json_t *rowsj = json_array();
		int nrun = sweep ? nlist : 1;
		for (int k = 0; k < nrun; k++) {
			cfg.pes = pes ? (int)pes : 64;
			if (sweep)
				sweep_set(&cfg, sweep_kind, list[k]);
			dcc_layer_stats st;
			if (dcc_emu_synthetic(rows, cols, wd, ad, (uint64_t)seed, &cfg, &st, &e)) {
				json_decref(rowsj);
				return cmd_fail(NULL, &e);
			}
			double us;
			json_t *o = layer_json(&st, 1, &cfg, &us);
			json_object_set_new(o, "pes", json_integer(cfg.pes));
			json_object_set_new(o, "fifo", json_integer(cfg.fifo));
			json_object_set_new(o, "host_seconds", json_real(st.host_seconds));
			dcc_layer_stats_free(&st);
			json_object_set_new(o, "simulated_macs_per_s",
					    json_real(st.host_seconds > 0 ? (double)st.macs / st.host_seconds : 0));
			json_array_append_new(rowsj, o);
		}
		if (as_json) {
			json_dumpf(sweep ? rowsj : json_array_get(rowsj, 0), stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
			putchar('\n');
		} else if (sweep) {
			printf("  %6s %6s %10s %9s %8s %8s\n", "pes", "fifo", "cycles", "us", "util", "balance");
			size_t i;
			json_t *o;
			json_array_foreach(rowsj, i, o)
			printf("  %6lld %6lld %10.0f %9.2f %7.1f%% %7.1f%%\n", json_integer_value(json_object_get(o, "pes")),
			       json_integer_value(json_object_get(o, "fifo")), json_real_value(json_object_get(o, "cycles")),
			       json_real_value(json_object_get(o, "us")), 100 * json_real_value(json_object_get(o, "utilisation")),
			       100 * json_real_value(json_object_get(o, "load_balance")));
		} else {
			print_layers(rowsj);
		}
		json_decref(rowsj);
		return cmd_finish(EXIT_OK);
	}
	if (optind + 2 != argc)
		return cmd_usage_error(usage, "give the blob and the program (IN.dcb IN.dci)");
	if (input && data)
		return cmd_usage_error(usage, "give --input or --data, not both");
	const char *bpath = argv[optind], *ppath = argv[optind + 1];
	uint32_t crc;
	dcc_model *m = NULL;
	if (cmd_load_blob(bpath, &m, NULL, NULL, &crc))
		return EXIT_FAIL;
	int rc;
	dcc_program prog = {0};
	dcc_net *net = NULL;
	dcc_qfmt *fmt = NULL;
	dcc_qnet *q = NULL;
	dcc_dataset *d = NULL;
	float *xf = NULL;
	int32_t *out = NULL;
	size_t N = 0;
	rc = EXIT_FAIL;
	json_t *res = json_object();
	if (cmd_load_program(ppath, &prog))
		goto done;
	if (prog.blob_crc != crc) {
		cmd_err("%s: compiled from a different blob than %s (crc 0x%08x, not 0x%08x)", ppath, bpath, prog.blob_crc, crc);
		goto done;
	}
	int in_bw, in_fl;
	if (dcc_net_from_model(m, &net, &e) || dcc_fixed_formats(m, net, &fmt, &in_bw, &in_fl, &e) ||
	    dcc_qnet_build(net, fmt, in_bw, in_fl, &q, &e)) {
		cmd_fail(bpath, &e);
		goto done;
	}
	size_t insz = (size_t)net->in_c * (size_t)net->in_h * (size_t)net->in_w;
	const uint8_t *px = NULL;
	const uint8_t *labels = NULL;
	if (input) {
		dcc_model *im;
		if (dcc_import_file(input, &im, &e)) {
			cmd_fail(input, &e);
			goto done;
		}
		const dcc_tensor *t = im->ntensors == 1 ? &im->tensors[0] : NULL;
		uint64_t numel = t ? dcc_tensor_numel(t) : 0;
		if (!t || !dcc_dtype_is_float(t->dtype) || t->ndim < 1 || numel % insz || (t->ndim > 1 && numel / t->shape[0] != insz)) {
			cmd_err("%s: want one float array of (N, %zu) inputs", input, insz);
			dcc_model_free(im);
			goto done;
		}
		N = (size_t)(numel / insz);
		xf = malloc(numel * sizeof(float));
		for (uint64_t k = 0; xf && k < numel; k++)
			xf[k] = (float)dcc_tensor_get(t, k);
		dcc_model_free(im);
	} else {
		if (cmd_load_data(data, &d))
			goto done;
		if (d->c != net->in_c || d->h != net->in_h || d->w != net->in_w) {
			cmd_err("the network takes %dx%dx%d inputs; the data has %dx%dx%d", net->in_c, net->in_h, net->in_w,
				d->c, d->h, d->w);
			goto done;
		}
		px = d->test_x;
		labels = d->test_y;
		N = d->ntest;
	}
	if (count && (size_t)count < N)
		N = (size_t)count;
	int classes = net->classes;
	if (!(out = malloc((N ? N : 1) * (size_t)classes * sizeof(int32_t))))
		goto done;
	int nrun = sweep ? nlist : 1;
	json_t *sweep_rows = json_array();
	for (int k = 0; k < nrun; k++) {
		dcc_program pk = {0};
		uint8_t *dram0 = NULL;
		cfg.pes = pes ? (int)pes : prog.pes;
		if (conv_pes <= 0 && prog.convolvers)
			cfg.conv_pes = (int)prog.conv_pes;
		if (convolvers < 0)
			cfg.convolvers = (int)prog.convolvers;
		if (conv_k <= 0 && prog.convolvers)
			cfg.conv_k = (int)prog.conv_k;
		if (conv_buf <= 0 && prog.convolvers)
			cfg.conv_buf_kb = (int)prog.conv_buf_kb;
		if (sweep)
			sweep_set(&cfg, sweep_kind, list[k]);
		/* the DRAM image from the blob, laid out as the compiler does */
		if (dcc_accel_compile(m, crc, &cfg, &pk, &dram0, &e)) {
			cmd_fail(bpath, &e);
			json_decref(sweep_rows);
			goto done;
		}
		const dcc_program *run = &pk;
		if (cfg.pes == prog.pes && (uint32_t)cfg.convolvers == prog.convolvers &&
		    (!prog.convolvers || ((uint32_t)cfg.conv_pes == prog.conv_pes && (uint32_t)cfg.conv_k == prog.conv_k &&
					  (uint32_t)cfg.conv_buf_kb == prog.conv_buf_kb))) { /* the user's program itself */
			if (pk.dram_bytes != prog.dram_bytes) {
				cmd_err("%s: its DRAM image (%u bytes) does not match %s's layout (%u bytes)", ppath,
					prog.dram_bytes, bpath, pk.dram_bytes);
				dcc_program_free(&pk), free(dram0);
				json_decref(sweep_rows);
				goto done;
			}
			run = &prog;
		}
		int nt = threads > 0 ? (int)threads : dcc_default_threads();
		if ((size_t)nt > N)
			nt = N ? (int)N : 1;
		dcc_emu_stats *st = calloc((size_t)nt, sizeof(*st));
		dcc_error *errs = calloc((size_t)nt, sizeof(*errs));
		int *fail = calloc((size_t)nt, sizeof(int));
		if (!st || !errs || !fail) {
			free(st), free(errs), free(fail), free(dram0), dcc_program_free(&pk);
			json_decref(sweep_rows);
			goto done;
		}
		emu_job job = {run, dram0, q, px, xf, N, insz, nt, classes, &cfg, out, st, errs, fail};
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		dcc_parallel(nt, emu_part, &job);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		double host = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
		dcc_emu_stats tot = {0};
		int bad = 0;
		for (int t = 0; t < nt; t++) {
			if (fail[t] && !bad) {
				cmd_fail(ppath, &errs[t]);
				bad = 1;
			}
			merge(&tot, &st[t]);
			dcc_emu_stats_free(&st[t]);
		}
		free(st), free(errs), free(fail), free(dram0);
		dcc_program_free(&pk);
		if (bad) {
			dcc_emu_stats_free(&tot);
			json_decref(sweep_rows);
			goto done;
		}
		json_t *ls = json_array();
		double total_us = 0, macs = 0;
		for (size_t i = 0; i < tot.nlayers; i++) {
			double us;
			json_array_append_new(ls, layer_json(&tot.l[i], tot.runs, &cfg, &us));
			total_us += us;
			macs += (double)tot.l[i].macs;
		}
		size_t correct = 0;
		for (size_t i = 0; labels && i < N; i++)
			correct += dcc_qnet_argmax(out + i * (size_t)classes, classes) == labels[i];
		json_t *o = json_pack("{s:o, s:f, s:I, s:i, s:i, s:f, s:f}", "layers", ls, "latency_us", total_us, "inputs",
				      (json_int_t)N, "pes", cfg.pes, "fifo", cfg.fifo, "host_seconds", host,
				      "simulated_macs_per_s", host > 0 ? macs / host : 0.0);
		json_object_set_new(o, "convolvers", json_integer(cfg.convolvers));
		if (cfg.convolvers)
			json_object_set_new(o, "conv_pes", json_integer(cfg.conv_pes)),
				json_object_set_new(o, "conv_k", json_integer(cfg.conv_k));
		if (labels)
			json_object_set_new(o, "accuracy", json_real(N ? (double)correct / (double)N : 0));
		dcc_emu_stats_free(&tot);
		if (sweep)
			json_array_append_new(sweep_rows, o);
		else
			json_object_update(res, o), json_decref(o);
	}
	if (sweep) {
		if (as_json) {
			json_dumpf(sweep_rows, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
			putchar('\n');
		} else {
			printf("  %6s %6s %9s %12s %8s %8s\n", "pes", "fifo", "conv", "latency us", "util", "balance");
			size_t i;
			json_t *o;
			json_array_foreach(sweep_rows, i, o)
			{
				double cyc = 0, busy = 0, lb = 0, ut = 0;
				size_t k;
				json_t *l;
				json_array_foreach(json_object_get(o, "layers"), k, l)
				{
					double cy = json_real_value(json_object_get(l, "cycles"));
					cyc += cy;
					lb += cy * json_real_value(json_object_get(l, "load_balance"));
					ut += cy * json_real_value(json_object_get(l, "utilisation"));
					busy += cy;
				}
				char cv[32] = "-";
				if (json_integer_value(json_object_get(o, "convolvers")))
					snprintf(cv, sizeof(cv), "%lldx%lld", json_integer_value(json_object_get(o, "conv_pes")),
						 json_integer_value(json_object_get(o, "convolvers")));
				printf("  %6lld %6lld %9s %12.2f %7.1f%% %7.1f%%\n", json_integer_value(json_object_get(o, "pes")),
				       json_integer_value(json_object_get(o, "fifo")), cv,
				       json_real_value(json_object_get(o, "latency_us")), busy ? 100 * ut / busy : 0,
				       busy ? 100 * lb / busy : 0);
			}
		}
	} else if (as_json) {
		json_dumpf(res, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(8));
		putchar('\n');
	} else {
		printf("%s on %d PEs (FIFO %d, %.0f MHz): %zu input%s, latency %.2f us per input", bpath, cfg.pes, cfg.fifo,
		       cfg.freq_mhz, N, N == 1 ? "" : "s", json_real_value(json_object_get(res, "latency_us")));
		if (labels)
			printf(", accuracy %.2f%%", 100 * json_real_value(json_object_get(res, "accuracy")));
		printf("\n");
		print_layers(json_object_get(res, "layers"));
		printf("  (per input, averaged; host: %.2f s, %.0f million simulated MACs/s)\n",
		       json_real_value(json_object_get(res, "host_seconds")),
		       json_real_value(json_object_get(res, "simulated_macs_per_s")) / 1e6);
	}
	json_decref(sweep_rows);
	sweep_rows = NULL;
	if (logits && !sweep) {
		size_t cnt = N * (size_t)classes;
		float *z = malloc((cnt ? cnt : 1) * sizeof(float));
		int lfl = q->n ? q->l[q->n - 1].out_fl : q->in_fl;
		for (size_t i = 0; z && i < cnt; i++)
			z[i] = (float)ldexp((double)out[i], -lfl);
		dcc_tensor t = {0};
		t.name = "logits", t.dtype = DCC_F32, t.ndim = 2, t.shape[0] = N, t.shape[1] = (uint64_t)classes;
		t.data = z, t.nbytes = cnt * sizeof(float);
		dcc_outfile of;
		const char *inputs[] = {bpath, ppath, NULL};
		if (!z || dcc_out_open(&of, logits, inputs, 0, &e) || dcc_npy_write(of.fp, &t, &e) ||
		    dcc_out_commit(&of, &e)) {
			free(z);
			cmd_fail(logits, &e);
			goto done;
		}
		free(z);
	}
	rc = cmd_finish(EXIT_OK);
done:
	json_decref(res);
	free(out), free(xf), free(fmt);
	dcc_qnet_free(q);
	dcc_net_free(net);
	if (d)
		dcc_dataset_free(d);
	dcc_program_free(&prog);
	dcc_model_free(m);
	return rc;
}

/* --train-step: the cost of one training step of a
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

/* A layer's training step on the PE array, summed over the batch, per
 * stage (FP, EB, WG): dense and sparse MACs and cycles, and the load
 * balance summed over the sparse products (one per image and position). */
typedef struct step_cost {
	double dense[3], sparse[3], cdense[3], csparse[3], bal[3];
	double products;  /* sparse products per stage */
	uint64_t kept;    /* kept weights: EB's transposed copy */
} step_cost;

/* One sparse product of FP or EB: count (P x cols) kept entries per PE and
 * column, the nonzero columns nz[0..nnz) broadcast through the FIFOs. */
static void pe_product(step_cost *sc, int k, const uint32_t *count, uint32_t P, uint32_t cols, const uint32_t *nz,
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
			   step_cost *sc)
{
	const dcc_layer *l = &n->layers[li];
	int fc = l->op == DCC_OP_FC;
	uint32_t P = (uint32_t)cfg->pes, M = (uint32_t)(fc ? l->out : l->oc), K = (uint32_t)(fc ? l->in : l->ic * l->k * l->k);
	size_t npos = fc ? 1 : (size_t)l->oh * l->ow;
	const dcc_param *wp = &l->p[0];
	uint32_t *cfp = calloc((size_t)P * K, sizeof(uint32_t)), *ceb = calloc((size_t)P * M, sizeof(uint32_t));
	uint32_t *nzx = malloc(K * sizeof(uint32_t)), *nze = malloc(M * sizeof(uint32_t));
	uint8_t *kept = malloc((size_t)M * K), *eon = malloc(l->out_size);
	uint64_t *busy = calloc(P, sizeof(uint64_t));
	int ok = cfp && ceb && nzx && nze && kept && eon && busy;
	memset(sc, 0, sizeof(*sc));
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
				for (int c = 0; c < l->ic; c++)
					for (int ky = 0; ky < l->k; ky++)
						for (int kx = 0; kx < l->k; kx++, q++) {
							int iy = oy * l->stride + ky - l->pad, ix = ox * l->stride + kx - l->pad;
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

static int emu_train_step(const char *path, const char *data, long batch, const dcc_accel_cfg *cfg, int as_json)
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
		static const char *const stage[3] = {"FP", "EB", "WG"};
		if (l->op == DCC_OP_LSTM) {
			if (!as_json)
				printf("  %-8s (lstm: not modelled; fc and conv2d layers only)\n", l->name);
			continue;
		}
		if (l->op != DCC_OP_FC && l->op != DCC_OP_CONV2D)
			continue;
		step_cost sc;
		if (layer_step_cost(n, w, li, B, cfg, &sc)) {
			cmd_err("out of memory");
			goto done;
		}
		for (int k = 0; k < 3; k++) {
			tot_dense += sc.cdense[k];
			tot_sparse += sc.csparse[k];
			if (as_json)
				json_array_append_new(layers, json_pack("{s:s, s:s, s:f, s:f, s:f, s:f, s:f}", "layer", l->name, "stage",
									stage[k], "dense_macs", sc.dense[k], "sparse_macs", sc.sparse[k],
									"dense_cycles", sc.cdense[k], "sparse_cycles", sc.csparse[k],
									"load_balance", sc.bal[k] / sc.products));
			else
				printf("  %-8s %-5s %14.0f %14.0f %12.0f %12.0f %7.1f%%\n", l->name, stage[k], sc.dense[k], sc.sparse[k],
				       sc.cdense[k], sc.csparse[k], 100 * sc.bal[k] / sc.products);
		}
		if (!as_json)
			printf("  %-8s EB's transposed copy of the indices: %llu more entries (%.1f KB at a byte each)\n", "",
			       (unsigned long long)sc.kept, (double)sc.kept / 1024);
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
		printf("whole step (fc and conv2d layers): %.0f dense cycles, %.0f sparse: %.2fx faster at %.0f MHz (%.1f us vs %.1f us)\n",
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
