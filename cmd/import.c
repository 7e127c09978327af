/* import.c: dcc import -- NumPy (.npy, .npz), safetensors and IDX files (gzipped
 * or not), recognised by content, into one .dct container. */
#include <stdlib.h>
#include <string.h>

#include "../lib/dcc_nn.h"
#include "common.h"

static const char usage[] =
	"usage: dcc import [--force] [--name NAME] -o OUT.dct IN...\n"
	"       dcc import --net NAME [--data DIR] [--force] -o OUT.dct WEIGHTS...\n"
	"\n"
	"Reads each IN (.npy, .npz, .safetensors, IDX, gzipped IDX or .npy, or .dct),\n"
	"recognised by its content, and writes its tensors to one container.  A .npy\n"
	"or IDX file becomes one tensor named after the file's stem.  A file ending\n"
	"in .onnx is an ONNX model: its network, graph and weights.\n"
	"\n"
	"With --net, the tensors are a PyTorch state_dict for the built-in network\n"
	"NAME (lenet300, lenet5, lstm, mlp:IN-...-OUT): the graph is added, input\n"
	"shape and classes are taken from the data set, and every tensor's name and\n"
	"shape is checked against the network.\n"
	"\n"
	"  --net NAME        the network the weights belong to\n"
	"  --data DIR        data set giving input shape and classes (default\n"
	"                    " DCC_DEFAULT_DATA ")\n"
	"  -o, --output OUT  the container to write\n"
	"  --name NAME       name of the tensor (one single-tensor IN only)\n"
	"  --force           overwrite OUT even when it is one of the inputs\n"
	"  -h, --help        show this help\n";

int cmd_import(int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'},
		{"name", required_argument, NULL, 'n'},
		{"net", required_argument, NULL, 'N'},
		{"data", required_argument, NULL, 'D'},
		{"force", no_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *out = NULL, *name = NULL, *net = NULL, *data = NULL;
	int force = 0, c;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'n': name = optarg; break;
		case 'N': net = optarg; break;
		case 'D': data = optarg; break;
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
	if (net && (dcc_model_get_kv(all, "dcc.graph") ? (cmd_err("%s: already holds a network graph", argv[optind]), 1) : 0)) {
		dcc_model_free(all);
		return EXIT_FAIL;
	}
	if (net) {
		dcc_dataset *d;
		if (cmd_load_data(data, &d)) {
			dcc_model_free(all);
			return EXIT_FAIL;
		}
		int rc = dcc_net_graph(net, d->c, d->h, d->w, d->classes, all, &e);
		dcc_dataset_free(d);
		dcc_net *n = NULL;
		if (!rc)
			rc = dcc_net_from_model(all, &n, &e);
		/* Every tensor must belong to the network: a stray one is a
		 * sign of the wrong network or a renamed module. */
		for (size_t i = 0; !rc && i < all->ntensors; i++) {
			int used = 0;
			for (size_t l = 0; l < n->nlayers && !used; l++)
				for (int k = 0; k < n->layers[l].nparam; k++)
					used |= !strcmp(n->layers[l].p[k].name, all->tensors[i].name);
			if (!used)
				rc = dcc_fail(&e, DCC_E_FORMAT, "tensor '%s' is not a parameter of %s", all->tensors[i].name, net);
		}
		dcc_net_free(n);
		if (rc) {
			dcc_model_free(all);
			cmd_err("%s", e.msg);
			return EXIT_FAIL;
		}
	}
	char line[256];
	snprintf(line, sizeof(line), "import files=%d%s%s", argc - optind, net ? " net=" : "", net ? net : "");
	cmd_provenance(all, line);
	const char **inputs = (const char **)argv + optind;
	/* argv is NULL-terminated, so argv + optind is a NULL-terminated list. */
	int rc = cmd_save(out, all, inputs, force);
	dcc_model_free(all);
	return rc ? EXIT_FAIL : cmd_finish(EXIT_OK);
}
