/* export.c: dcc export -- a container's tensors as .npy, .npz or
 * .safetensors, by the output's extension.  By default the PyTorch view:
 * shared and fixed-point weights as float32 under their state_dict names,
 * masks and codebooks left out; --raw writes every tensor as stored. */
#include <stdlib.h>
#include <string.h>

#include "common.h"

static const char usage[] =
	"usage: dcc export [--force] [--raw] [--tensor NAME] [--compress] -o OUT IN.dct\n"
	"\n"
	"Writes the tensors of IN.dct to OUT, whose extension picks the format:\n"
	".npy (one tensor), .npz or .safetensors; or .onnx, the whole network as\n"
	"an ONNX model (opset 13) with the dequantized weights.\n"
	"\n"
	"  -o, --output OUT  the file to write\n"
	"  --tensor NAME     write only this tensor\n"
	"  --raw             every tensor as stored (masks, codebooks, packed\n"
	"                    indices as u8/u16, fixed point as integers)\n"
	"  --compress        deflate the members of an .npz (np.savez_compressed)\n"
	"  --force           overwrite OUT even when it is the input\n"
	"  -h, --help        show this help\n";

int cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'},
		{"tensor", required_argument, NULL, 't'},
		{"raw", no_argument, NULL, 'r'},
		{"compress", no_argument, NULL, 'z'},
		{"force", no_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *out = NULL, *only = NULL;
	int raw = 0, compress = 0, force = 0, c;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 't': only = optarg; break;
		case 'r': raw = 1; break;
		case 'z': compress = 1; break;
		case 'f': force = 1; break;
		case 'h': return cmd_help(usage);
		default: return cmd_usage_error(usage, NULL);
		}
	}
	if (argc - optind != 1)
		return cmd_usage_error(usage, argc - optind ? "one input only" : "no input file given");
	if (!out)
		return cmd_usage_error(usage, "no output given (-o OUT)");
	const dcc_format *f = dcc_format_of(dcc_filekind_from_ext(out));
	if (!f || !f->write)
		return cmd_usage_error(usage, "'%s': the output must end in .npy, .npz, .safetensors or .onnx", out);
	int graph = f->flags & DCC_FORMAT_GRAPH;
	if (graph && (raw || only || compress))
		return cmd_usage_error(usage, "--raw, --tensor and --compress do not apply to .onnx");
	if (compress && !(f->flags & DCC_FORMAT_COMPRESS))
		return cmd_usage_error(usage, "--compress applies to .npz only");
	const char *in = argv[optind];
	if (cmd_check_outputs((const char *[]){out}, 1, (const char *[]){in, NULL}, force))
		return EXIT_FAIL;
	dcc_model *m, *view = NULL;
	if (cmd_load(in, &m))
		return EXIT_FAIL;
	dcc_error e = {0};
	/* layers an ONNX import had to name (a constant-folded export's weights have no module names) */
	const dcc_kv *pv = dcc_model_get_kv(m, "dcc.provenance");
	long unnamed = 0;
	for (size_t i = 0; pv && pv->type == DCC_KV_ARR && pv->elem_type == DCC_KV_STR && i < pv->count; i++)
		if (!strncmp(pv->s[i], "onnx unnamed=", 13))
			unnamed = strtol(pv->s[i] + 13, NULL, 10);
	if (graph) {
		view = m;
	} else if (raw) {
		view = m;
	} else if (dcc_model_state_dict(m, &view, &e)) {
		dcc_model_free(m);
		return cmd_fail(in, &e);
	} else {
		dcc_model_import_layout(view, m); /* the weights as the source network holds them */
	}
	if (view != m)
		dcc_model_free(m);
	if (only) {
		dcc_tensor *t = dcc_model_find(view, only);
		if (!t) {
			cmd_err("%s: no tensor '%s'%s", in, only, raw ? "" : " (companions need --raw)");
			dcc_model_free(view);
			return EXIT_FAIL;
		}
		/* Keep only that tensor. */
		for (size_t i = view->ntensors; i-- > 0;)
			if (strcmp(view->tensors[i].name, only))
				dcc_model_remove(view, view->tensors[i].name);
	}
	if (f->kind == DCC_FILE_NPY && view->ntensors != 1) {
		cmd_err("%s: a .npy holds one tensor and this has %zu: choose one with --tensor NAME, "
			"or write .npz or .safetensors", in, view->ntensors);
		dcc_model_free(view);
		return EXIT_FAIL;
	}
	dcc_outfile o;
	const char *inputs[] = {in, NULL};
	if (dcc_out_open(&o, out, inputs, force, &e)) {
		dcc_model_free(view);
		return cmd_fail(NULL, &e);
	}
	int rc = f->write(o.fp, view, compress, &e);
	if (rc) /* the model's fault (an op ONNX cannot say), or the disk's */
		dcc_out_abort(&o);
	dcc_model_free(view);
	if (rc || dcc_out_commit(&o, &e))
		return cmd_fail(rc ? graph ? in : out : NULL, &e);
	if (unnamed > 0 && !graph && !raw)
		fprintf(stderr, "dcc export: %s: %ld layers carry dcc's names (conv1, fc1, ...), not PyTorch's: their ONNX "
			"weights had none (torch.onnx.export's constant folding renames what it folds BatchNorm into; "
			"export with do_constant_folding=False for the module's names)\n", in, unnamed);
	return cmd_finish(EXIT_OK);
}
