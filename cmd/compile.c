/* compile.c: dcc compile, disasm and asm -- the accelerator's program from
 * a blob (formats/isa.md), its text form, and back. */
#include <stdlib.h>
#include <string.h>

#include "../lib/dcc_accel.h"
#include "../lib/dcc_encode.h"
#include "common.h"

static const char usage_compile[] =
	"usage: dcc compile IN.dcb [--pes P] -o OUT.dci\n"
	"\n"
	"Lays the blob's layers out in the accelerator's DRAM (each fc and conv2d\n"
	"layer in EIE's per-PE layout: column pointers, 4-bit index + 4-bit codebook\n"
	"entries, a 16-entry codebook, biases and a descriptor) and emits the\n"
	"program: load the input, one spmv per fc layer and one spconv per\n"
	"convolution (ReLU fused), maxpool, store the output.\n"
	"\n"
	"  --pes P               processing elements (default 64)\n"
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
	if (dcc_program_write(p, &b, &n, &e))
		return cmd_fail(out, &e);
	dcc_outfile o;
	const char *inputs[] = {in, NULL};
	int rc = 0;
	if (dcc_out_open(&o, out, inputs, force, &e)) {
		rc = cmd_fail(NULL, &e);
	} else if (fwrite(b, 1, n, o.fp) != n || dcc_out_commit(&o, &e)) {
		dcc_out_abort(&o);
		rc = cmd_fail(out, &e);
	}
	free(b);
	return rc;
}

int cmd_load_program(const char *path, dcc_program *p)
{
	uint8_t *b;
	size_t n;
	dcc_error e = {0};
	if (dcc_read_file(path, (size_t)1 << 30, &b, &n, &e))
		return cmd_fail(path, &e);
	int rc = dcc_program_read(b, n, p, &e);
	free(b);
	return rc ? cmd_fail(path, &e) : 0;
}

int cmd_compile(int argc, char **argv)
{
	enum { O_PES = 256, O_FORCE };
	static const struct option opts[] = {
		{"pes", required_argument, NULL, O_PES}, {"output", required_argument, NULL, 'o'},
		{"force", no_argument, NULL, O_FORCE}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	const char *out = NULL;
	long pes = 64;
	int force = 0, c;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		int bad = 0;
		switch (c) {
		case O_PES: bad = cmd_parse_long(usage_compile, "--pes", optarg, 1, 4096, &pes); break;
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
	uint8_t *bytes;
	size_t len;
	if (cmd_read_blob(in, &bytes, &len))
		return EXIT_FAIL;
	dcc_error e = {0};
	dcc_model *m;
	uint32_t crc = dcc_crc32c(0, bytes, len);
	int rc = dcc_blob_decode(bytes, len, &m, NULL, &e);
	free(bytes);
	if (rc)
		return cmd_fail(in, &e);
	dcc_program p;
	uint8_t *dram;
	rc = dcc_accel_compile(m, crc, (int)pes, &p, &dram, &e);
	dcc_model_free(m);
	if (rc)
		return cmd_fail(in, &e);
	free(dram);
	size_t nspmv = 0;
	for (size_t i = 0; i < p.n; i++)
		nspmv += p.insn[i].op == DCC_OP_SPMV;
	rc = save_program(out, in, &p, force);
	if (!rc) {
		char b1[32];
		printf("%s: %zu instructions (%zu spmv) for %ld PEs; DRAM image %s\n", out, p.n, nspmv, pes,
		       cmd_bytes(p.dram_bytes, b1, sizeof(b1)));
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
