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

/* Reads one input (renamed to --name if given). */
static int read_one(const char *path, const char *name, dcc_model **out)
{
	dcc_error e = {0};
	dcc_model *m = NULL;
	*out = NULL;
	if (dcc_import_file(path, &m, &e))
		return cmd_fail(path, &e);
	if (name) {
		char *nn = m->ntensors == 1 && *name && strlen(name) <= DCC_MAX_NAME ? strdup(name) : NULL;
		if (!nn) {
			if (m->ntensors != 1)
				cmd_err("%s: --name needs a single-tensor input (it holds %zu)", path, m->ntensors);
			else
				cmd_err("--name: invalid tensor name");
			dcc_model_free(m);
			return EXIT_FAIL;
		}
		free(m->tensors[0].name);
		m->tensors[0].name = nn;
		dcc_model_reindex(m);
	}
	*out = m;
	return 0;
}

/* Moves m's tensors and string metadata into all (m is freed). */
static int merge(dcc_model *all, dcc_model *m, const char *path)
{
	dcc_error e = {0};
	int rc = 0;
	for (size_t k = 0; k < m->ntensors && !rc; k++) {
		dcc_tensor *t = &m->tensors[k];
		if (dcc_model_find(all, t->name)) {
			cmd_err("%s: tensor '%s' is already in an earlier input", path, t->name);
			rc = EXIT_FAIL;
		} else if (dcc_model_add(all, t->name, t->dtype, t->bits, t->fl, t->ndim, t->shape, t->data, &e)) {
			rc = cmd_fail(path, &e);
		}
		t->data = NULL; /* all's, or freed by dcc_model_add */
	}
	for (size_t k = 0; k < m->nkv && !rc; k++)
		if (!dcc_model_get_kv(all, m->kv[k].key) && m->kv[k].type == DCC_KV_STR &&
		    dcc_model_set_str(all, m->kv[k].key, m->kv[k].s[0], &e))
			rc = cmd_fail(path, &e);
	dcc_model_free(m);
	return rc;
}

/* --net: the graph of a built-in network, and every tensor one of its parameters. */
static int add_net(dcc_model *all, const char *net, const char *data, const char *first)
{
	if (dcc_model_get_kv(all, "dcc.graph")) {
		cmd_err("%s: already holds a network graph", first);
		return EXIT_FAIL;
	}
	dcc_dataset *d;
	dcc_error e = {0};
	if (cmd_load_data(data, &d))
		return EXIT_FAIL;
	int rc = dcc_net_graph(net, d->c, d->h, d->w, d->classes,
			       dcc_head_for_data(d), all, &e);
	dcc_dataset_free(d);
	/* every parameter a tensor of the right shape: the float net binds them */
	dcc_net *n = NULL;
	if (!rc)
		rc = dcc_net_from_model(all, &n, &e);
	/* and every tensor a parameter: a stray one is a sign of the wrong
	 * network or a renamed module */
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
		cmd_err("%s", e.msg);
		return EXIT_FAIL;
	}
	return 0;
}

int cmd_import(int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'}, {"name", required_argument, NULL, 'n'},
		{"net", required_argument, NULL, 'N'}, {"data", required_argument, NULL, 'D'},
		{"force", no_argument, NULL, 'f'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
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
	if (cmd_check_outputs((const char *[]){out}, 1, (const char **)argv + optind, force))
		return EXIT_FAIL;
	dcc_model *all = NULL;
	int rc = 0;
	for (int i = optind; i < argc && !rc; i++) {
		dcc_model *m;
		if ((rc = read_one(argv[i], name, &m)))
			break;
		if (!all)
			all = m;
		else
			rc = merge(all, m, argv[i]);
	}
	if (!rc && net)
		rc = add_net(all, net, data, argv[optind]);
	/* a channels-last ONNX input (tf2onnx's): the data dcc's model takes is channels first */
	const dcc_kv *pv = rc ? NULL : dcc_model_get_kv(all, "dcc.provenance");
	for (size_t i = 0; pv && pv->type == DCC_KV_ARR && pv->elem_type == DCC_KV_STR && i < pv->count; i++)
		if (!strcmp(pv->s[i], "onnx input=nhwc"))
			fprintf(stderr, "dcc import: %s: the ONNX input is channels last (N, H, W, C); the model takes (N, C, "
				"H, W) (numpy: x.transpose(0, 3, 1, 2))\n", argv[optind]);
	char line[256];
	snprintf(line, sizeof(line), "import files=%d%s%s", argc - optind, net ? " net=" : "", net ? net : "");
	dcc_error pe = {0};
	if (!rc && dcc_model_append_str(all, "dcc.provenance", line, &pe))
		rc = cmd_fail(NULL, &pe);
	/* argv is NULL-terminated, so argv + optind is a NULL-terminated list */
	if (!rc)
		rc = cmd_save(out, all, (const char **)argv + optind, force) ? EXIT_FAIL : cmd_finish(EXIT_OK);
	dcc_model_free(all);
	return rc;
}
