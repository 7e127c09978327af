/* dsd.c: dcc dsd -- dense-sparse-dense training (Han et al., ICLR 2017):
 * train dense, prune and retrain sparse, lift the mask and retrain dense at
 * a tenth of the learning rate; the accuracy of every phase is reported. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/dcc_nn.h"
#include "../lib/dcc_prune.h"
#include "common.h"

static const char usage[] =
	"usage: dcc dsd (--net NAME | --init MODEL.dct) [OPTIONS] -o OUT.dct\n"
	"\n"
	"Dense-sparse-dense training.  D: train the network dense (skipped with\n"
	"--init: the model is the dense result).  S: prune every layer to\n"
	"--dsd-sparsity by magnitude and retrain with the mask at the dense\n"
	"learning rate.  D: lift the mask (pruned weights restart from zero) and\n"
	"retrain everything at a tenth of it.  Prints the accuracy after each\n"
	"phase; OUT holds the final dense model.\n"
	"\n"
	"  --net NAME            lenet300, lenet5, lstm or mlp:IN-H1-...-OUT\n"
	"  --init MODEL.dct      start from this trained model\n"
	"  --epochs N            dense-phase epochs (default: the net's)\n"
	"  --sparse-epochs N     sparse-phase epochs (default: half the dense)\n"
	"  --redense-epochs N    re-dense epochs (default: half the dense)\n"
	"  --dsd-sparsity F      fraction pruned in the sparse phase (default 0.3)\n"
	CMD_TUNE_HELP
	"  --json                print the phases' accuracies as JSON\n"
	"  -o, --output OUT      the model to write\n"
	"  --force               overwrite OUT even when it is the input\n"
	"  -h, --help            show this help\n";

int cmd_dsd(int argc, char **argv)
{
	enum { O_NET = 256, O_INIT, O_EPOCHS, O_SEPOCHS, O_REPOCHS, O_SPARSITY, O_JSON, O_FORCE };
	static const struct option opts[] = {
		{"net", required_argument, NULL, O_NET}, {"init", required_argument, NULL, O_INIT},
		{"epochs", required_argument, NULL, O_EPOCHS}, {"sparse-epochs", required_argument, NULL, O_SEPOCHS},
		{"redense-epochs", required_argument, NULL, O_REPOCHS},
		{"dsd-sparsity", required_argument, NULL, O_SPARSITY}, {"json", no_argument, NULL, O_JSON},
		{"output", required_argument, NULL, 'o'}, {"force", no_argument, NULL, O_FORCE},
		{"help", no_argument, NULL, 'h'}, CMD_TUNE_OPTIONS, {NULL, 0, NULL, 0},
	};
	const char *net = NULL, *init = NULL, *out = NULL;
	long epochs = -1, sepochs = -1, repochs = -1;
	double sparsity = 0.3;
	int as_json = 0, force = 0, c;
	cmd_tune tune;
	cmd_tune_init(&tune);
	tune.lr_scale = 1;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		int bad = 0;
		switch (c) {
		case O_NET: net = optarg; break;
		case O_INIT: init = optarg; break;
		case O_EPOCHS: bad = cmd_parse_long(usage, "--epochs", optarg, 0, 100000, &epochs); break;
		case O_SEPOCHS: bad = cmd_parse_long(usage, "--sparse-epochs", optarg, 0, 100000, &sepochs); break;
		case O_REPOCHS: bad = cmd_parse_long(usage, "--redense-epochs", optarg, 0, 100000, &repochs); break;
		case O_SPARSITY: bad = cmd_parse_double(usage, "--dsd-sparsity", optarg, &sparsity); break;
		case O_JSON: as_json = 1; break;
		case 'o': out = optarg; break;
		case O_FORCE: force = 1; break;
		case 'h': return cmd_help(usage);
		default:
			bad = cmd_tune_option(usage, c, optarg, &tune);
			if (bad < 0)
				return cmd_usage_error(usage, NULL);
		}
		if (bad)
			return bad;
	}
	if (optind < argc)
		return cmd_usage_error(usage, "unexpected argument '%s'", argv[optind]);
	if (!net == !init)
		return cmd_usage_error(usage, "give one of --net NAME or --init MODEL.dct");
	if (!out)
		return cmd_usage_error(usage, "no output given (-o OUT.dct)");
	if (!(sparsity > 0 && sparsity < 1))
		return cmd_usage_error(usage, "--dsd-sparsity must be in (0, 1)");

	dcc_dataset *d = cmd_tune_data(&tune);
	if (!d)
		return EXIT_FAIL;
	dcc_model *m = NULL;
	dcc_error e = {0};
	int rc = EXIT_FAIL;
	if (init ? cmd_load(init, &m)
		 : dcc_net_create(net, d->c, d->h, d->w, d->classes, tune.seed < 0 ? 1 : (uint64_t)tune.seed, &m, &e)) {
		if (!init)
			cmd_err("%s", e.msg);
		cmd_tune_free(&tune);
		return EXIT_FAIL;
	}
	dcc_prunable *p = NULL;
	size_t n = 0;
	const char *netname = dcc_model_get_str(m, "dcc.net");
	dcc_train_opts def;
	dcc_train_defaults(netname ? netname : "", &def);
	if (epochs < 0) epochs = def.epochs;
	if (sepochs < 0) sepochs = (epochs + 1) / 2;
	if (repochs < 0) repochs = (epochs + 1) / 2;
	double acc[3] = {NAN, NAN, NAN}, acc_cut = NAN;
	double base_lr = isnan(tune.lr) ? def.lr : tune.lr;
	tune.lr = base_lr;
	tune.ctx = "dsd dense";
	if (cmd_tune_run(&tune, m, init ? 0 : (int)epochs, &acc[0]))
		goto done;
	if (!as_json) {
		printf("dense:    %.2f%%\n", 100 * acc[0]);
		fflush(stdout);
	}
	if (dcc_prunable_list(m, &p, &n, &e)) {
		cmd_fail(init, &e);
		goto done;
	}
	dcc_prune_spec ps = {DCC_PATTERN_UNSTRUCTURED, 0, 0};
	for (size_t i = 0; i < n; i++)
		if (dcc_prune_tensor(m, &p[i], sparsity, &ps, &e)) {
			cmd_fail(init, &e);
			goto done;
		}
	tune.ctx = "dsd sparse";
	if (cmd_tune_eval(&tune, m, &acc_cut) || cmd_tune_run(&tune, m, (int)sepochs, &acc[1]))
		goto done;
	if (!as_json) {
		printf("sparse:   %.2f%% (%.0f%% pruned: %.2f%% before retraining)\n", 100 * acc[1], 100 * sparsity,
		       100 * acc_cut);
		fflush(stdout);
	}
	dcc_unprune(m, p, n);
	tune.lr = base_lr / 10;
	tune.ctx = "dsd re-dense";
	if (cmd_tune_run(&tune, m, (int)repochs, &acc[2]))
		goto done;
	if (as_json) {
		json_t *o = json_pack("{s:f, s:f, s:f, s:f, s:f, s:I, s:I, s:I}", "dense", acc[0], "pruned", acc_cut,
				      "sparse", acc[1], "redense", acc[2], "sparsity", sparsity, "dense_epochs",
				      (json_int_t)(init ? 0 : epochs), "sparse_epochs", (json_int_t)sepochs,
				      "redense_epochs", (json_int_t)repochs);
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
		putchar('\n');
		json_decref(o);
	} else {
		printf("re-dense: %.2f%% (%+.2f points over dense)\n", 100 * acc[2], 100 * (acc[2] - acc[0]));
	}
	char line[512];
	snprintf(line, sizeof(line),
		 "dsd %s%s dense_epochs=%ld sparse_epochs=%ld redense_epochs=%ld sparsity=%g lr=%g dense=%.4f "
		 "sparse=%.4f test_accuracy=%.4f",
		 init ? "init=" : "net=", init ? init : net, init ? 0 : epochs, sepochs, repochs, sparsity, base_lr,
		 acc[0], acc[1], acc[2]);
	cmd_provenance(m, line);
	dcc_model_set_f64(m, "dcc.accuracy", acc[2]);
	const char *inputs[] = {init, NULL};
	rc = cmd_save(out, m, inputs, force) ? EXIT_FAIL : cmd_finish(EXIT_OK);
done:
	dcc_prunable_free(p, n);
	cmd_tune_free(&tune);
	dcc_model_free(m);
	return rc;
}
