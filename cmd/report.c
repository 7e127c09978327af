/* report.c: dcc report -- Deep Compression's compression table for a
 * blob: per layer, the bits of weights and indices before and after
 * entropy coding, fillers, overheads and the compress rate; the order-0
 * entropy bound of each stream; and what zstd -19 makes of the dense
 * float32 weights. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/dcc_encode.h"
#include "common.h"

static const char usage[] =
	"usage: dcc report [--baseline ORIG.dct] [--json] IN.dcb\n"
	"\n"
	"Prints the blob's compression table: per encoded layer the weights,\n"
	"density, bits per weight value and per relative index before and after\n"
	"entropy coding, filler entries, column-count overhead and the compress\n"
	"rate against dense float32; then the totals, each stream's order-0\n"
	"entropy bound, and zstd -19 on the dense float32 weights for comparison.\n"
	"\n"
	"  --baseline ORIG.dct   measure the ratio against this model's dense\n"
	"                        float32 size (default: the blob's own shapes)\n"
	"  --json                print JSON\n"
	"  -h, --help            show this help\n";

static const char *coding_name(int c)
{
	return c == DCC_ENTROPY_HUFFMAN ? "huffman" : c == DCC_ENTROPY_ZSTD ? "zstd" : "raw";
}

/* dense float32 bytes of a model's state_dict, and zstd -19 of them */
static int dense_f32(dcc_model *m, uint64_t *bytes, uint64_t *zbytes)
{
	dcc_error e = {0};
	return dcc_dense_f32_size(m, bytes, zbytes, &e) ? cmd_fail(NULL, &e) : 0;
}

int cmd_report(int argc, char **argv)
{
	enum { O_BASE = 256, O_JSON };
	static const struct option opts[] = {
		{"baseline", required_argument, NULL, O_BASE}, {"json", no_argument, NULL, O_JSON},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	const char *base = NULL;
	int as_json = 0, c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_BASE: base = optarg; break;
		case O_JSON: as_json = 1; break;
		case 'h': return cmd_help(usage);
		default: return cmd_usage_error(usage, NULL);
		}
	}
	if (optind + 1 != argc)
		return cmd_usage_error(usage, optind < argc ? "give one blob" : "no blob given");
	const char *in = argv[optind];
	dcc_model *m, *bm = NULL;
	dcc_blob_info info;
	if (cmd_load_blob(in, &m, &info, NULL, NULL))
		return EXIT_FAIL;
	uint64_t dense = 0, zdense = 0;
	int rc = EXIT_FAIL;
	if (base) {
		if (cmd_load(base, &bm) || dense_f32(bm, &dense, &zdense))
			goto done;
	} else if (dense_f32(m, &dense, &zdense)) {
		goto done;
	}
	json_t *layers = json_array();
	uint64_t lay_total = 0;
	if (!as_json) {
		printf("%s: %llu bytes; dense float32 %llu bytes: %.1fx smaller\n", in, (unsigned long long)info.total_bytes,
		       (unsigned long long)dense, info.total_bytes ? (double)dense / (double)info.total_bytes : 0.0);
		printf("  %-14s %9s %7s %6s %6s %6s %6s %7s %8s %8s %7s\n", "layer", "weights", "density", "w bits",
		       "w huf", "i bits", "i huf", "fillers", "counts B", "bytes", "rate");
	}
	for (size_t i = 0; i < info.nlayers; i++) {
		const dcc_layer_info *l = &info.layer[i];
		double ent = (double)(l->nonzero + l->fillers);
		double wb = ent ? (double)l->st[1].raw_bits / ent : 0, wh = ent ? 8.0 * (double)l->st[1].bytes / ent : 0;
		double ibits = ent ? (double)l->st[0].raw_bits / ent : 0, ih = ent ? 8.0 * (double)l->st[0].bytes / ent : 0;
		double rate = l->bytes ? 4.0 * (double)l->weights / (double)l->bytes : 0;
		lay_total += l->bytes;
		if (as_json) {
			json_t *st = json_array();
			for (int k = 0; k < 3; k++)
				json_array_append_new(st, json_pack("{s:s, s:I, s:i, s:s, s:I, s:I, s:I, s:f}", "stream",
								   l->st[k].what, "symbols", (json_int_t)l->st[k].symbols, "alphabet",
								   (int)l->st[k].alphabet, "coding",
								   coding_name(l->st[k].coding), "raw_bits",
								   (json_int_t)l->st[k].raw_bits, "bytes",
								   (json_int_t)l->st[k].bytes, "table_bytes",
								   (json_int_t)l->st[k].table_bytes, "entropy_bytes",
								   l->st[k].entropy_bits / 8));
			json_array_append_new(layers, json_pack("{s:s, s:s, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:I, s:f, s:o}",
								"layer", l->name, "layout", l->layout == 2 ? "cbs" : l->layout ? "eie" : "csc",
								"pes", l->pes, "index_bits", l->index_bits, "rows",
								(json_int_t)l->rows, "cols", (json_int_t)l->cols, "weights",
								(json_int_t)l->weights, "nonzero", (json_int_t)l->nonzero,
								"fillers", (json_int_t)l->fillers, "weight_bits", wb,
								"weight_bits_huffman", wh, "index_bits_raw", ibits,
								"index_bits_huffman", ih, "bytes", (json_int_t)l->bytes,
								"compress_rate", rate, "streams", st));
		} else {
			printf("  %-14s %9llu %6.2f%% %6.2f %6.2f %6.2f %6.2f %7llu %8llu %8llu %6.1fx\n", l->name,
			       (unsigned long long)l->weights, l->weights ? 100.0 * (double)l->nonzero / (double)l->weights : 0,
			       wb, wh, ibits, ih, (unsigned long long)l->fillers, (unsigned long long)l->st[2].bytes,
			       (unsigned long long)l->bytes, rate);
		}
	}
	if (as_json) {
		json_t *o = json_pack("{s:s, s:I, s:I, s:f, s:I, s:I, s:I, s:I, s:o}", "blob", in, "blob_bytes",
				      (json_int_t)info.total_bytes, "dense_f32_bytes", (json_int_t)dense, "ratio",
				      info.total_bytes ? (double)dense / (double)info.total_bytes : 0.0, "layer_bytes",
				      (json_int_t)lay_total, "container_bytes", (json_int_t)info.rest_bytes,
				      "container_raw_bytes", (json_int_t)info.rest_raw_bytes, "zstd19_dense_f32_bytes",
				      (json_int_t)zdense, "layers", layers);
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
		putchar('\n');
		json_decref(o);
	} else {
		json_decref(layers);
		printf("  (w bits / i bits: fixed-width bits per entry; huf: after entropy coding, tables included)\n");
		printf("layers %llu bytes + embedded container (graph, biases, codebooks, metadata) %llu bytes"
		       " (%llu before zstd) + header %llu = %llu bytes\n",
		       (unsigned long long)lay_total, (unsigned long long)info.rest_bytes,
		       (unsigned long long)info.rest_raw_bytes,
		       (unsigned long long)(info.total_bytes - lay_total - info.rest_bytes),
		       (unsigned long long)info.total_bytes);
		printf("streams against their order-0 entropy (bytes: stored / entropy bound):\n");
		for (size_t i = 0; i < info.nlayers; i++) {
			const dcc_layer_info *l = &info.layer[i];
			printf("  %-14s", l->name);
			for (int k = 0; k < 3; k++)
				printf("  %s %llu/%.0f (%s)", l->st[k].what, (unsigned long long)l->st[k].bytes,
				       ceil(l->st[k].entropy_bits / 8), coding_name(l->st[k].coding));
			printf("\n");
		}
		printf("zstd -19 on the dense float32 weights: %llu bytes (%.2fx); this blob: %.1fx\n",
		       (unsigned long long)zdense, zdense ? (double)dense / (double)zdense : 0.0,
		       info.total_bytes ? (double)dense / (double)info.total_bytes : 0.0);
	}
	rc = cmd_finish(EXIT_OK);
done:
	dcc_blob_info_free(&info);
	dcc_model_free(bm);
	dcc_model_free(m);
	return rc;
}
