/* compile.c: dcc compile, disasm and asm -- the accelerator's program from
 * a blob (formats/isa.md), its text form, and back. */
#include <stdlib.h>
#include <string.h>

#include "../lib/dcc_accel.h"
#include "../lib/dcc_encode.h"
#include "common.h"

static const char usage_compile[] =
	"usage: dcc compile IN.dcb [--pes P] [CONVOLVER OPTIONS] -o OUT.dci\n"
	"\n"
	"Lays the blob's layers out in the accelerator's DRAM and emits the\n"
	"program: load the input, one spmv per fc layer (EIE's per-PE layout:\n"
	"column pointers, 4-bit index + 4-bit codebook entries, a 16-entry\n"
	"codebook, biases and a descriptor), one conv per convolution on the\n"
	"convolver engine (dense 16-bit weights, tiled to its buffers; ReLU\n"
	"fused), maxpool, store the output.  The program holds the DRAM image\n"
	"it addresses: dcc emu runs it without the blob.\n"
	"\n"
	"  --pes P               processing elements (default 64)\n"
	"  --conv-pes N          convolver engine: output channels in parallel (16)\n"
	"  --convolvers N        convolvers per PE, input channels in parallel (4);\n"
	"                        0 runs convolutions on the sparse PE array (spconv)\n"
	"  --conv-k K            native convolver size (3; larger kernels take\n"
	"                        ceil(k/K)^2 passes)\n"
	"  --conv-buf-kb KB      each of its input, weight and output buffers (32)\n"
	"  -o, --output OUT      the program to write\n"
	"  --force               overwrite OUT even when it is the input\n"
	"  -h, --help            show this help\n";

static const char usage_disasm[] =
	"usage: dcc disasm IN.dci\n"
	"\n"
	"Prints a program as text assembly (formats/isa.md); dcc asm turns the\n"
	"text back into the identical binary.\n"
	"\n"
	"  -h, --help            show this help\n";

static const char usage_asm[] =
	"usage: dcc asm IN.s -o OUT.dci\n"
	"\n"
	"Assembles text (the form dcc disasm prints) into a program.\n"
	"\n"
	"  -o, --output OUT      the program to write\n"
	"  --force               overwrite OUT even when it is the input\n"
	"  -h, --help            show this help\n";

static int save_program(const char *out, const char *in, const dcc_program *p, int force)
{
	uint8_t *b;
	size_t n;
	dcc_error e = {0};
	if (dcc_dci_write_mem(p, &b, &n, &e))
		return cmd_fail(out, &e);
	dcc_outfile o;
	const char *inputs[] = {in, NULL};
	int rc = dcc_out_open(&o, out, inputs, force, &e) || dcc_out_finish(&o, dcc_out_bytes(o.fp, b, n, &e), &e);
	free(b);
	return rc ? cmd_fail(NULL, &e) : 0;
}

int cmd_compile(int argc, char **argv)
{
	enum { O_PES = 256, O_FORCE, O_CPES, O_CONV, O_CK, O_CBUF };
	static const struct option opts[] = {
		{"pes", required_argument, NULL, O_PES}, {"output", required_argument, NULL, 'o'},
		{"conv-pes", required_argument, NULL, O_CPES}, {"convolvers", required_argument, NULL, O_CONV},
		{"conv-k", required_argument, NULL, O_CK}, {"conv-buf-kb", required_argument, NULL, O_CBUF},
		{"force", no_argument, NULL, O_FORCE}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	const char *out = NULL;
	long pes = 64, v;
	int force = 0, c;
	dcc_accel_cfg cfg;
	dcc_accel_defaults(&cfg);
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		int bad = 0;
		switch (c) {
		case O_PES: bad = cmd_parse_long(usage_compile, "--pes", optarg, 1, 4096, &pes); break;
		case O_CPES: bad = cmd_parse_long(usage_compile, "--conv-pes", optarg, 1, 4096, &v), cfg.conv_pes = (int)v; break;
		case O_CONV: bad = cmd_parse_long(usage_compile, "--convolvers", optarg, 0, 4096, &v), cfg.convolvers = (int)v; break;
		case O_CK: bad = cmd_parse_long(usage_compile, "--conv-k", optarg, 1, 15, &v), cfg.conv_k = (int)v; break;
		case O_CBUF: bad = cmd_parse_long(usage_compile, "--conv-buf-kb", optarg, 1, 1 << 20, &v), cfg.conv_buf_kb = (int)v; break;
		case 'o': out = optarg; break;
		case O_FORCE: force = 1; break;
		case 'h': return cmd_help(usage_compile);
		default: return cmd_usage_error(usage_compile, NULL);
		}
		if (bad)
			return bad;
	}
	if (optind + 1 != argc)
		return cmd_usage_error(usage_compile, optind < argc ? "give one blob" : "no blob given");
	if (!out)
		return cmd_usage_error(usage_compile, "no output given (-o OUT.dci)");
	const char *in = argv[optind];
	if (cmd_check_outputs((const char *[]){out}, 1, (const char *[]){in, NULL}, force))
		return EXIT_FAIL;
	dcc_error e = {0};
	dcc_model *m;
	uint32_t crc;
	if (cmd_load_blob(in, &m, NULL, NULL, &crc))
		return EXIT_FAIL;
	int rc;
	dcc_program p;
	cfg.pes = (int)pes;
	rc = dcc_accel_compile(m, crc, &cfg, &p, &e);
	dcc_model_free(m);
	if (rc)
		return cmd_fail(in, &e);
	size_t nspmv = 0, nconv = 0, nspconv = 0;
	for (size_t i = 0; i < p.n; i++)
		nspmv += p.insn[i].op == DCC_INSN_SPMV, nconv += p.insn[i].op == DCC_INSN_CONV,
			nspconv += p.insn[i].op == DCC_INSN_SPCONV;
	rc = save_program(out, in, &p, force);
	if (!rc) {
		char b1[32];
		printf("%s: %zu instructions (%zu spmv", out, p.n, nspmv);
		if (nspconv)
			printf(", %zu spconv on the PE array", nspconv);
		if (nconv)
			printf(", %zu conv on %d x %d convolvers of %dx%d", nconv, cfg.conv_pes, cfg.convolvers, cfg.conv_k,
			       cfg.conv_k);
		printf(") for %ld PEs; DRAM image %s\n", pes, cmd_bytes(p.dram_bytes, b1, sizeof(b1)));
	}
	dcc_program_free(&p);
	return rc ? EXIT_FAIL : cmd_finish(EXIT_OK);
}

int cmd_disasm(int argc, char **argv)
{
	static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1)
		return c == 'h' ? cmd_help(usage_disasm) : cmd_usage_error(usage_disasm, NULL);
	if (optind + 1 != argc)
		return cmd_usage_error(usage_disasm, optind < argc ? "give one program" : "no program given");
	dcc_program p;
	if (cmd_load_program(argv[optind], &p))
		return EXIT_FAIL;
	char *text;
	dcc_error e = {0};
	int rc = dcc_program_disasm(&p, &text, &e);
	dcc_program_free(&p);
	if (rc)
		return cmd_fail(argv[optind], &e);
	fputs(text, stdout);
	free(text);
	return cmd_finish(EXIT_OK);
}

int cmd_asm(int argc, char **argv)
{
	enum { O_FORCE = 256 };
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'}, {"force", no_argument, NULL, O_FORCE},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	const char *out = NULL;
	int force = 0, c;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case O_FORCE: force = 1; break;
		case 'h': return cmd_help(usage_asm);
		default: return cmd_usage_error(usage_asm, NULL);
		}
	}
	if (optind + 1 != argc)
		return cmd_usage_error(usage_asm, optind < argc ? "give one source" : "no source given");
	if (!out)
		return cmd_usage_error(usage_asm, "no output given (-o OUT.dci)");
	const char *in = argv[optind];
	if (cmd_check_outputs((const char *[]){out}, 1, (const char *[]){in, NULL}, force))
		return EXIT_FAIL;
	uint8_t *b;
	size_t n;
	dcc_error e = {0};
	if (dcc_read_file(in, (size_t)1 << 28, &b, &n, &e))
		return cmd_fail(in, &e);
	char *text = realloc(b, n + 1);
	if (!text) {
		free(b);
		cmd_err("out of memory");
		return EXIT_FAIL;
	}
	text[n] = 0;
	dcc_program p;
	int rc = dcc_program_asm(text, &p, &e);
	free(text);
	if (rc)
		return cmd_fail(in, &e);
	rc = save_program(out, in, &p, force);
	dcc_program_free(&p);
	return rc ? EXIT_FAIL : cmd_finish(EXIT_OK);
}
