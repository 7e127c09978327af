/* encode.c: dcc encode and dcc decode -- a model's compressed blob
 * (formats/dcb.md) and its exact inverse. */
#include <stdlib.h>
#include <string.h>

#include "../lib/dcc_encode.h"
#include "common.h"

static const char usage_encode[] =
	"usage: dcc encode IN.dct [--layout csc|eie|cbs] [--index-bits SPEC] [--pes P] [--bank B] [--entropy huffman|zstd|none] -o OUT.dcb\n"
	"\n"
	"Writes the model as a compressed blob: each shared or fixed-point weight\n"
	"layer as sparse streams (relative row indices, value symbols, per-column\n"
	"counts), each stream entropy-coded when that makes it smaller; the graph,\n"
	"metadata, biases and codebooks in an embedded container.  dcc decode is\n"
	"the exact inverse.\n"
	"\n"
	"  --layout csc          Deep Compression's relative-index CSC (default)\n"
	"  --layout eie          EIE's layout: rows interleaved over --pes PEs, each\n"
	"                        PE's CSC with 4-bit relative indices and 4-bit\n"
	"                        codebook indices, 16-bit column pointers\n"
	"  --layout cbs          compressed sparse banks for a bank-balanced layer\n"
	"                        (dcc prune --bank B): banks interleaved, each\n"
	"                        entry's position in its bank in log2(B) bits\n"
	"  --bank B              the bank size of the cbs layout for every layer\n"
	"                        (default: each layer's, as dcc prune --bank cut it)\n"
	"  --index-bits SPEC     relative index bits: B, or fc=B,conv=B (default\n"
	"                        fc=5,conv=8); a longer gap inserts a filler entry\n"
	"  --pes P               PEs of the EIE layout (default 64)\n"
	"  --entropy E           huffman (default), zstd or none\n"
	"  --json                print the accounting as JSON\n"
	"  -o, --output OUT      the blob to write\n"
	"  --force               overwrite OUT even when it is the input\n"
	"  -h, --help            show this help\n";

static const char usage_decode[] =
	"usage: dcc decode IN.dcb [--csc ARRAYS.npz] -o OUT.dct\n"
	"\n"
	"Decodes a blob back to the container it was encoded from: the same\n"
	"tensors in the same order (masks, codebooks, indices, fixed-point\n"
	"values) and the same metadata, bit for bit.\n"
	"\n"
	"  --csc ARRAYS.npz      also write each layer's stored CSC arrays (fillers\n"
	"                        dropped): NAME.indptr, NAME.indices (rows) and\n"
	"                        NAME.data (value symbols); EIE: NAME.peP.* per PE\n"
	"  -o, --output OUT      the container to write\n"
	"  --force               overwrite OUT even when it is the input\n"
	"  -h, --help            show this help\n";

/* The stored entries of CSC / EIE layers as scipy-style CSC arrays, in an npz. */
static int write_csc(const char *path, const char *in, const dcc_blob_info *info, const dcc_sparse *sp, int force)
{
	dcc_model *m = NULL;
	dcc_error e = {0};
	int rc = dcc_sparse_csc_arrays(info, sp, &m, &e);
	dcc_outfile o;
	const char *inputs[] = {in, NULL};
	rc = rc || dcc_out_open(&o, path, inputs, force, &e) || dcc_out_finish(&o, dcc_npz_write(o.fp, m, 0, &e), &e);
	dcc_model_free(m);
	return rc ? cmd_fail(NULL, &e) : 0;
}

static int write_bytes(const char *path, const char *in, const uint8_t *b, size_t n, int force)
{
	dcc_outfile o;
	dcc_error e = {0};
	const char *inputs[] = {in, NULL};
	if (dcc_out_open(&o, path, inputs, force, &e) || dcc_out_finish(&o, dcc_out_bytes(o.fp, b, n, &e), &e))
		return cmd_fail(NULL, &e);
	return 0;
}

static int parse_index_bits(const char *s, int *fc, int *conv)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (!*end && end != s) {
		if (v < 1 || v > 16)
			return cmd_usage_error(usage_encode, "--index-bits: %ld is outside 1..16", v);
		*fc = *conv = (int)v;
		return 0;
	}
	char *cp = strdup(s), *save = NULL;
	int rc = 0;
	for (char *t = strtok_r(cp, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(t, '=');
		long b = eq ? strtol(eq + 1, &end, 10) : 0;
		if (!eq || *end || end == eq + 1 || b < 1 || b > 16)
			rc = cmd_usage_error(usage_encode, "--index-bits: '%s' (B or fc=B,conv=B, B in 1..16)", t);
		else if (!strncmp(t, "fc=", 3))
			*fc = (int)b;
		else if (!strncmp(t, "conv=", 5))
			*conv = (int)b;
		else
			rc = cmd_usage_error(usage_encode, "--index-bits: '%s' (B or fc=B,conv=B, B in 1..16)", t);
	}
	free(cp);
	return rc;
}

int cmd_encode(int argc, char **argv)
{
	enum { O_LAYOUT = 256, O_IB, O_PES, O_ENTROPY, O_JSON, O_FORCE, O_BANK };
	static const struct option opts[] = {
		{"layout", required_argument, NULL, O_LAYOUT}, {"index-bits", required_argument, NULL, O_IB},
		{"pes", required_argument, NULL, O_PES}, {"entropy", required_argument, NULL, O_ENTROPY},
		{"bank", required_argument, NULL, O_BANK},
		{"json", no_argument, NULL, O_JSON}, {"output", required_argument, NULL, 'o'},
		{"force", no_argument, NULL, O_FORCE}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	dcc_encode_opts eo = {DCC_LAYOUT_CSC, 5, 8, 64, 0, DCC_ENTROPY_HUFFMAN};
	const char *out = NULL;
	long pes = 64, bank = 0;
	int as_json = 0, force = 0, c;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		int bad = 0;
		switch (c) {
		case O_LAYOUT:
			if (!strcmp(optarg, "csc"))
				eo.layout = DCC_LAYOUT_CSC;
			else if (!strcmp(optarg, "eie"))
				eo.layout = DCC_LAYOUT_EIE;
			else if (!strcmp(optarg, "cbs"))
				eo.layout = DCC_LAYOUT_CBS;
			else
				bad = cmd_usage_error(usage_encode, "--layout: '%s' is not csc, eie or cbs", optarg);
			break;
		case O_IB: bad = parse_index_bits(optarg, &eo.index_bits_fc, &eo.index_bits_conv); break;
		case O_PES: bad = cmd_parse_long(usage_encode, "--pes", optarg, 1, 4096, &pes); break;
		case O_BANK: bad = cmd_parse_long(usage_encode, "--bank", optarg, 2, 65535, &bank); break;
		case O_ENTROPY:
			if (!strcmp(optarg, "huffman"))
				eo.entropy = DCC_ENTROPY_HUFFMAN;
			else if (!strcmp(optarg, "zstd"))
				eo.entropy = DCC_ENTROPY_ZSTD;
			else if (!strcmp(optarg, "none"))
				eo.entropy = DCC_ENTROPY_NONE;
			else
				bad = cmd_usage_error(usage_encode, "--entropy: '%s' is not huffman, zstd or none", optarg);
			break;
		case O_JSON: as_json = 1; break;
		case 'o': out = optarg; break;
		case O_FORCE: force = 1; break;
		case 'h': return cmd_help(usage_encode);
		default: return cmd_usage_error(usage_encode, NULL);
		}
		if (bad)
			return bad;
	}
	if (optind + 1 != argc)
		return cmd_usage_error(usage_encode, optind < argc ? "give one input model" : "no input model given");
	if (!out)
		return cmd_usage_error(usage_encode, "no output given (-o OUT.dcb)");
	eo.pes = (int)pes;
	eo.bank = (int)bank;
	if (eo.layout != DCC_LAYOUT_CBS && bank > 0)
		return cmd_usage_error(usage_encode, "--bank B is for --layout cbs");
	const char *in = argv[optind];
	if (cmd_check_outputs((const char *[]){out}, 1, (const char *[]){in, NULL}, force))
		return EXIT_FAIL;
	dcc_model *m;
	if (cmd_load(in, &m))
		return EXIT_FAIL;
	dcc_error e = {0};
	uint8_t *blob = NULL;
	size_t len = 0;
	dcc_blob_info info = {0};
	dcc_blob b;
	int rc = dcc_blob_build(m, &eo, &b, &e);
	if (!rc)
		rc = dcc_dcb_write_mem(&b, &blob, &len, &e);
	if (!rc)
		rc = dcc_blob_info_make(&b, m, &info, &e);
	dcc_blob_free(&b);
	dcc_model_free(m);
	if (rc) {
		free(blob);
		return cmd_fail(in, &e);
	}
	rc = write_bytes(out, in, blob, len, force);
	free(blob);
	if (!rc) {
		char a[32], b[32];
		if (as_json)
			printf("{\"blob_bytes\": %zu, \"dense_f32_bytes\": %llu, \"ratio\": %.3f, \"layers\": %zu}\n", len,
			       (unsigned long long)info.dense_f32_bytes,
			       len ? (double)info.dense_f32_bytes / (double)len : 0.0, info.nlayers);
		else
			printf("%s: %s blob, %zu layers encoded; dense float32 %s: %.1fx smaller (dcc report %s for the table)\n",
			       out, cmd_bytes((double)len, a, sizeof(a)), info.nlayers,
			       cmd_bytes((double)info.dense_f32_bytes, b, sizeof(b)),
			       len ? (double)info.dense_f32_bytes / (double)len : 0.0, out);
	}
	dcc_blob_info_free(&info);
	return rc ? EXIT_FAIL : cmd_finish(EXIT_OK);
}

int cmd_decode(int argc, char **argv)
{
	enum { O_FORCE = 256, O_CSC };
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'}, {"force", no_argument, NULL, O_FORCE},
		{"csc", required_argument, NULL, O_CSC},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	const char *out = NULL, *csc = NULL;
	int force = 0, c;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case O_FORCE: force = 1; break;
		case O_CSC: csc = optarg; break;
		case 'h': return cmd_help(usage_decode);
		default: return cmd_usage_error(usage_decode, NULL);
		}
	}
	if (optind + 1 != argc)
		return cmd_usage_error(usage_decode, optind < argc ? "give one blob" : "no blob given");
	if (!out)
		return cmd_usage_error(usage_decode, "no output given (-o OUT.dct)");
	const char *in = argv[optind];
	if (cmd_check_outputs((const char *[]){out, csc}, 2, (const char *[]){in, NULL}, force))
		return EXIT_FAIL;
	dcc_model *m;
	dcc_blob_info info;
	dcc_sparse *sp = NULL;
	if (cmd_load_blob(in, &m, &info, csc ? &sp : NULL, NULL))
		return EXIT_FAIL;
	int rc;
	const char *inputs[] = {in, NULL};
	rc = csc ? write_csc(csc, in, &info, sp, force) : 0;
	if (!rc)
		rc = cmd_save(out, m, inputs, force);
	for (size_t i = 0; sp && i < info.nlayers; i++)
		dcc_sparse_free(&sp[i]);
	free(sp);
	dcc_blob_info_free(&info);
	dcc_model_free(m);
	return rc ? EXIT_FAIL : cmd_finish(EXIT_OK);
}
