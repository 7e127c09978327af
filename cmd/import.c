/* import.c: dcc import -- NumPy (.npy, .npz), safetensors and IDX files (gzipped
 * or not), recognised by content, into one .dct container. */
#include <stdlib.h>
#include <string.h>

#include "common.h"

static const char usage[] =
	"usage: dcc import [--force] [--name NAME] -o OUT.dct IN...\n"
	"\n"
	"Reads each IN (.npy, .npz, .safetensors, IDX, gzipped IDX or .npy, or .dct),\n"
	"recognised by its content, and writes its tensors to one container.  A .npy\n"
	"or IDX file becomes one tensor named after the file's stem.\n"
	"\n"
	"  -o, --output OUT  the container to write\n"
	"  --name NAME       name of the tensor (one single-tensor IN only)\n"
	"  --force           overwrite OUT even when it is one of the inputs\n"
	"  -h, --help        show this help\n";

int cmd_import(int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'},
		{"name", required_argument, NULL, 'n'},
		{"force", no_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *out = NULL, *name = NULL;
	int force = 0, c;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'n': name = optarg; break;
		case 'f': force = 1; break;
		case 'h': return cmd_help(usage);
		default: return cmd_usage_error(usage, NULL);
		}
	}
	if (optind >= argc)
		return cmd_usage_error(usage, "no input file given");
	if (!out)
		return cmd_usage_error(usage, "no output given (-o OUT.dct)");
	if (name && argc - optind != 1)
		return cmd_usage_error(usage, "--name takes exactly one input");
	dcc_model *all = NULL;
	dcc_error e = {0};
	for (int i = optind; i < argc; i++) {
		dcc_model *m;
		if (dcc_import_file(argv[i], &m, &e)) {
			dcc_model_free(all);
			return cmd_fail(argv[i], &e);
		}
		if (name) {
			if (m->ntensors != 1) {
				dcc_model_free(m);
				cmd_err("%s: --name needs a single-tensor input (it holds %zu)", argv[i], m->ntensors);
				return EXIT_FAIL;
			}
			char *nn = strdup(name);
			if (!nn || !*name || strlen(name) > DCC_MAX_NAME) {
				free(nn);
				dcc_model_free(m);
				cmd_err("--name: invalid tensor name");
				return EXIT_FAIL;
			}
			free(m->tensors[0].name);
			m->tensors[0].name = nn;
		}
		if (!all) {
			all = m;
			continue;
		}
		/* Merge: move tensors and metadata into the first model. */
		for (size_t k = 0; k < m->ntensors; k++) {
			dcc_tensor *t = &m->tensors[k];
			if (dcc_model_find(all, t->name)) {
				cmd_err("%s: tensor '%s' is already in an earlier input", argv[i], t->name);
				dcc_model_free(m);
				dcc_model_free(all);
				return EXIT_FAIL;
			}
			if (dcc_model_add(all, t->name, t->dtype, t->bits, t->fl, t->ndim, t->shape, t->data, &e)) {
				t->data = NULL;
				dcc_model_free(m);
				dcc_model_free(all);
				return cmd_fail(argv[i], &e);
			}
			t->data = NULL;
		}
		for (size_t k = 0; k < m->nkv; k++)
			if (!dcc_model_get_kv(all, m->kv[k].key) && m->kv[k].type == DCC_KV_STR)
				dcc_model_set_str(all, m->kv[k].key, m->kv[k].s[0]);
		dcc_model_free(m);
	}
	char line[256];
	snprintf(line, sizeof(line), "import files=%d", argc - optind);
	cmd_provenance(all, line);
	const char **inputs = (const char **)argv + optind;
	/* argv is NULL-terminated, so argv + optind is a NULL-terminated list. */
	int rc = cmd_save(out, all, inputs, force);
	dcc_model_free(all);
	return rc ? EXIT_FAIL : cmd_finish(EXIT_OK);
}
