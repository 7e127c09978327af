/* dsd.c: dcc dsd -- dense-sparse-dense training (Han et al., ICLR 2017):
 * train dense, prune and retrain sparse, lift the mask and retrain dense at
 * a tenth of the learning rate; the accuracy of every phase is reported. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/dcc_nn.h"
#include "../lib/dcc_prune.h"
#include "stage.h"

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

typedef struct dsd_args {
	cmd_stage st;
	const char *net;
	long epochs, sepochs, repochs;
	double sparsity;
} dsd_args;

static int parse(int argc, char **argv, dsd_args *a)
{
	enum { O_NET = 256, O_INIT, O_EPOCHS, O_SEPOCHS, O_REPOCHS, O_SPARSITY };
	static const struct option opts[] = {
		{"net", required_argument, NULL, O_NET}, {"init", required_argument, NULL, O_INIT},
		{"epochs", required_argument, NULL, O_EPOCHS}, {"sparse-epochs", required_argument, NULL, O_SEPOCHS},
		{"redense-epochs", required_argument, NULL, O_REPOCHS},
		{"dsd-sparsity", required_argument, NULL, O_SPARSITY},
		CMD_DATA_OPTIONS, CMD_TRAIN_OPTIONS, CMD_OUT_OPTIONS, {NULL, 0, NULL, 0},
	};
	cmd_stage_init(&a->st, usage);
	a->st.lr_scale = 1;
	a->epochs = a->sepochs = a->repochs = -1;
	a->sparsity = 0.3;
	int c;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		int bad = 0;
		switch (c) {
		case O_NET: a->net = optarg; break;
		case O_INIT: a->st.in = optarg; break;
		case O_EPOCHS: bad = cmd_parse_long(usage, "--epochs", optarg, 0, 100000, &a->epochs); break;
		case O_SEPOCHS: bad = cmd_parse_long(usage, "--sparse-epochs", optarg, 0, 100000, &a->sepochs); break;
		case O_REPOCHS: bad = cmd_parse_long(usage, "--redense-epochs", optarg, 0, 100000, &a->repochs); break;
		case O_SPARSITY: bad = cmd_parse_double(usage, "--dsd-sparsity", optarg, &a->sparsity); break;
		default: CMD_STAGE_DEFAULT(&a->st, c);
		}
		if (bad)
			return bad;
	}
	if (optind < argc)
		return cmd_usage_error(usage, "unexpected argument '%s'", argv[optind]);
	if (!a->net == !a->st.in)
		return cmd_usage_error(usage, "give one of --net NAME or --init MODEL.dct");
	if (!a->st.out)
		return cmd_usage_error(usage, "no output given (-o OUT.dct)");
	if (!(a->sparsity > 0 && a->sparsity < 1))
		return cmd_usage_error(usage, "--dsd-sparsity must be in (0, 1)");
	return 0;
}

static void report(const dsd_args *a, const double acc[3], double acc_cut)
{
	if (a->st.json) {
		json_t *o = json_pack("{s:f, s:f, s:f, s:f, s:f, s:I, s:I, s:I}", "dense", acc[0], "pruned", acc_cut,
				      "sparse", acc[1], "redense", acc[2], "sparsity", a->sparsity, "dense_epochs",
				      (json_int_t)(a->st.in ? 0 : a->epochs), "sparse_epochs", (json_int_t)a->sepochs,
				      "redense_epochs", (json_int_t)a->repochs);
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
		putchar('\n');
		json_decref(o);
	} else {
		char f[32];
		if (a->st.head == DCC_OP_MSE)
			printf("re-dense: mse %s (%+.6g over dense)\n", cmd_stage_fig(&a->st, acc[2], f, 32), acc[2] - acc[0]);
		else
			printf("re-dense: %.2f%% (%+.2f points over dense)\n", 100 * acc[2], 100 * (acc[2] - acc[0]));
	}
}

/* D: dense (unless --init), S: pruned and retrained, D: mask lifted, retrained at a tenth. */
static int phases(dsd_args *a, dcc_model *m, double acc[3], double *acc_cut, double base_lr)
{
	cmd_stage *st = &a->st;
	dcc_error e = {0};
	st->lr = base_lr;
	st->ctx = "dsd dense";
	if (cmd_stage_run(st, m, a->st.in ? 0 : (int)a->epochs, &acc[0]))
		return EXIT_FAIL;
	if (!st->json) {
		char f[32];
		printf("dense:    %s\n", cmd_stage_fig(st, acc[0], f, 32));
		fflush(stdout);
	}
	dcc_prunable *p = NULL;
	size_t n = 0;
	if (dcc_prunable_list(m, &p, &n, &e))
		return cmd_fail(st->in, &e);
	double *tg = malloc((n + 1) * sizeof(double)), secs;
	for (size_t i = 0; tg && i < n; i++) /* a per-channel scale's zero would remove a channel */
		tg[i] = p[i].scale ? NAN : a->sparsity;
	dcc_prune_plan pl = {p, n, DCC_PRUNE_SPARSITY, tg, NULL, 0, 1, {DCC_PATTERN_UNSTRUCTURED, 0, 0}, 1, 0, NULL, NULL};
	int rc = !tg ? (cmd_err("out of memory"), EXIT_FAIL)
	     : dcc_prune_run(m, &pl, &secs, &e) ? cmd_fail(st->in ? st->in : a->st.out, &e) : 0;
	free(tg);
	st->ctx = "dsd sparse";
	if (!rc)
		rc = cmd_stage_eval(st, m, acc_cut) || cmd_stage_run(st, m, (int)a->sepochs, &acc[1]) ? EXIT_FAIL : 0;
	if (!rc && !st->json) {
		char f[2][32];
		printf("sparse:   %s (%.0f%% pruned: %s before retraining)\n", cmd_stage_fig(st, acc[1], f[0], 32),
		       100 * a->sparsity, cmd_stage_fig(st, *acc_cut, f[1], 32));
		fflush(stdout);
	}
	if (!rc)
		dcc_unprune(m, p, n);
	dcc_prunable_free(p, n);
	st->lr = base_lr / 10;
	st->ctx = "dsd re-dense";
	return rc ? rc : cmd_stage_run(st, m, (int)a->repochs, &acc[2]);
}

int cmd_dsd(int argc, char **argv)
{
	dsd_args a = {0};
	int rc = parse(argc, argv, &a);
	if (rc)
		return cmd_parsed(rc);
	dcc_dataset *d = cmd_stage_data(&a.st);
	if (!d)
		return EXIT_FAIL;
	dcc_model *m = NULL;
	dcc_error e = {0};
	if (a.st.in ? cmd_load(a.st.in, &m)
		    : dcc_net_create(a.net, d->c, d->h, d->w, d->classes,
				     dcc_head_for_data(d), a.st.seed < 0 ? 1 : (uint64_t)a.st.seed, &m, &e)) {
		if (!a.st.in)
			cmd_err("%s", e.msg);
		cmd_stage_free(&a.st);
		return EXIT_FAIL;
	}
	const char *netname = dcc_model_get_str(m, "dcc.net");
	dcc_train_opts def;
	dcc_train_defaults(netname ? netname : "", &def);
	if (a.epochs < 0) a.epochs = def.epochs;
	if (a.sepochs < 0) a.sepochs = (a.epochs + 1) / 2;
	if (a.repochs < 0) a.repochs = (a.epochs + 1) / 2;
	double acc[3] = {NAN, NAN, NAN}, acc_cut = NAN, base_lr = isnan(a.st.lr) ? def.lr : a.st.lr;
	rc = phases(&a, m, acc, &acc_cut, base_lr);
	if (!rc) {
		report(&a, acc, acc_cut);
		char line[512], kv[64], rec[48];
		snprintf(line, sizeof(line),
			 "dsd %s%s dense_epochs=%ld sparse_epochs=%ld redense_epochs=%ld sparsity=%g lr=%g%s dense=%.4f "
			 "sparse=%.4f %s",
			 a.st.in ? "init=" : "net=", a.st.in ? a.st.in : a.net, a.st.in ? 0 : a.epochs, a.sepochs, a.repochs,
			 a.sparsity, base_lr, cmd_stage_recipe(&a.st, rec, sizeof(rec)), acc[0], acc[1],
			 cmd_stage_key(&a.st, acc[2], kv, sizeof(kv)));
		rc = cmd_provenance(m, line, cmd_stage_acc(&a.st, acc[2])) ? EXIT_FAIL : cmd_stage_save(&a.st, m);
	}
	cmd_stage_free(&a.st);
	dcc_model_free(m);
	return rc;
}
