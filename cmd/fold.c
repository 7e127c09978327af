/* fold.c: dcc fold -- every batchnorm and affine folded into the fc or
 * conv2d before it, or made a depthwise 1x1 conv2d (lib/nn/fold.c), as dcc
 * fixed does by itself: the float model the integer stages see, evaluable
 * and exportable as it is. */
#include <stdlib.h>

#include "../lib/dcc_nn.h"
#include "common.h"

static const char usage[] =
	"usage: dcc fold [--force] -o OUT.dct IN.dct\n"
	"\n"
	"Folds every batchnorm layer into the fc or conv2d layer before it (whose\n"
	"output nothing else reads): that layer's rows scaled by weight /\n"
	"sqrt(running_var + eps), its bias (bias - running_mean) * scale + bias of\n"
	"the batchnorm; an affine (constant arithmetic: x scale + shift) the same\n"
	"way.  One with no fc or conv2d of its own before it becomes a\n"
	"per-channel scale: a depthwise 1x1 conv2d of its name (weight s, bias\n"
	"the shift).  Layers without a bias get a zero one.  The logits stay the\n"
	"same to float rounding; each fold is a provenance line.  dcc fixed folds\n"
	"by itself; fold before dcc share, whose codebooks a fold would break.\n"
	"\n"
	"  -o, --output OUT  the model to write\n"
	"  --force           overwrite OUT even when it is the input\n"
	"  -h, --help        show this help\n";

int cmd_fold(int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'},
		{"force", no_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *out = NULL;
	int force = 0, c;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'f': force = 1; break;
		case 'h': return cmd_help(usage);
		default: return cmd_usage_error(usage, NULL);
		}
	}
	if (argc - optind != 1)
		return cmd_usage_error(usage, argc - optind ? "one input only" : "no input file given");
	if (!out)
		return cmd_usage_error(usage, "no output given (-o OUT.dct)");
	const char *in = argv[optind];
	if (cmd_check_outputs((const char *[]){out}, 1, (const char *[]){in, NULL}, force))
		return EXIT_FAIL;
	dcc_model *m;
	if (cmd_load(in, &m))
		return EXIT_FAIL;
	dcc_error e = {0};
	size_t nf;
	if (dcc_fold_batchnorm(m, &nf, &e)) {
		dcc_model_free(m);
		return cmd_fail(in, &e);
	}
	int rc = cmd_save(out, m, (const char *[]){in, NULL}, force);
	if (!rc)
		fprintf(stderr, "%s: %zu batchnorm or affine layer%s folded -> %s\n", in, nf, nf == 1 ? "" : "s", out);
	dcc_model_free(m);
	return rc ? EXIT_FAIL : cmd_finish(EXIT_OK);
}
