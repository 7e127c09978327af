/* train.c: dcc train -- trains a built-in network (or continues from a
 * model) on a data set with SGD; masks written by dcc prune are respected. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../lib/dcc_nn.h"
#include "../lib/dcc_prune.h"
#include "common.h"

static const char usage[] =
	"usage: dcc train (--net NAME | --init MODEL.dct) [--data DIR] [OPTIONS] -o OUT.dct\n"
	"\n"
	"Trains a network on the data set and writes it with its test accuracy.\n"
	"NAME is lenet300, lenet5, lstm, mlp:IN-H1-...-OUT or cnn:C1,...:F1,...\n"
	"(3x3 convolutions with ReLU and 2x2 pooling, then fc layers); input size and\n"
	"classes come from the data.  With --init, training continues from\n"
	"MODEL.dct (pruned weights stay zero: the retraining of Deep Compression).\n"
	"\n"
	"  --net NAME            the network to build\n"
	"  --init MODEL.dct      start from this model instead\n"
	"  --data DIR            IDX data set (default " DCC_DEFAULT_DATA ")\n"
	"  --epochs N            passes over the training set (default per net)\n"
	"  --batch N             minibatch size (default 64)\n"
	"  --lr X                initial learning rate (default per net)\n"
	"  --momentum X          SGD momentum (default 0.9)\n"
	"  --weight-decay X      L2 penalty (default 5e-4; lstm 1e-4)\n"
	"  --lr-schedule S       const, cosine (default) or step[:EVERY[:GAMMA]]\n"
	"  --seed N              initialisation and shuffling seed (default 1)\n"
	"  --limit N             train on the first N training images only\n"
	"  --threads N           worker threads (default: all cores); the same\n"
	"                        seed and thread count give the same bytes\n"
	"  --quant W:A:E         compressed training: forward and backward on W-bit\n"
	"                        weights, A-bit activations and E-bit errors (dynamic\n"
	"                        fixed point), updates to the float32 master weights;\n"
	"                        each epoch prints every layer's formats and what\n"
	"                        overflowed or underflowed\n"
	"  --quant-window N      activations' and errors' scales from the largest\n"
	"                        values of the last 2^N batches (default 4)\n"
	"  --master M            the master weights --quant updates: fixed32\n"
	"                        (32-bit fixed point, default) or float (float32)\n"
	"  --warmup N            float epochs before --quant starts (default 1)\n"
	"  --prune-at E          prune after epoch E, before convergence, and go on\n"
	"                        training with the mask (the schedule runs on)\n"
	"  --sparsity SPEC       what --prune-at cuts: F or LAYER=F,...,default=F\n"
	"  --bank B, --balance-pes P   the pattern, as dcc prune\n"
	"  -o, --output OUT      the model to write\n"
	"  --force               overwrite OUT even when it is the input\n"
	"  -h, --help            show this help\n";

int cmd_train(int argc, char **argv)
{
	enum { O_NET = 256, O_INIT, O_DATA, O_EPOCHS, O_BATCH, O_LR, O_MOM, O_WD, O_SCHED, O_SEED, O_LIMIT,
	       O_THREADS, O_FORCE, O_PRUNEAT, O_SPARSITY, O_BANK, O_PES, O_QUANT, O_WARMUP, O_QWIN, O_MASTER };
	static const struct option opts[] = {
		{"net", required_argument, NULL, O_NET}, {"init", required_argument, NULL, O_INIT},
		{"data", required_argument, NULL, O_DATA}, {"epochs", required_argument, NULL, O_EPOCHS},
		{"batch", required_argument, NULL, O_BATCH}, {"lr", required_argument, NULL, O_LR},
		{"momentum", required_argument, NULL, O_MOM}, {"weight-decay", required_argument, NULL, O_WD},
		{"lr-schedule", required_argument, NULL, O_SCHED}, {"seed", required_argument, NULL, O_SEED},
		{"limit", required_argument, NULL, O_LIMIT}, {"threads", required_argument, NULL, O_THREADS},
		{"output", required_argument, NULL, 'o'}, {"force", no_argument, NULL, O_FORCE},
		{"prune-at", required_argument, NULL, O_PRUNEAT}, {"sparsity", required_argument, NULL, O_SPARSITY},
		{"bank", required_argument, NULL, O_BANK}, {"balance-pes", required_argument, NULL, O_PES},
		{"quant", required_argument, NULL, O_QUANT}, {"quant-window", required_argument, NULL, O_QWIN},
		{"master", required_argument, NULL, O_MASTER}, {"warmup", required_argument, NULL, O_WARMUP},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	long prune_at = -1, pes = 0, warmup = 1, qwin = 4;
	int master_fixed = 1;
	int qw = 0, qa = 0, qe = 0;
	const char *spspec = NULL, *bank = NULL;
	const char *net = NULL, *init = NULL, *data = NULL, *out = NULL, *sched = NULL;
	long epochs = -1, batch = -1, seed = -1, limit = 0, threads = 0;
	double lr = NAN, mom = NAN, wd = NAN;
	int force = 0, c;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		int bad = 0;
		switch (c) {
		case O_NET: net = optarg; break;
		case O_INIT: init = optarg; break;
		case O_DATA: data = optarg; break;
		case O_EPOCHS: bad = cmd_parse_long(usage, "--epochs", optarg, 0, 100000, &epochs); break;
		case O_BATCH: bad = cmd_parse_long(usage, "--batch", optarg, 1, 65536, &batch); break;
		case O_LR: bad = cmd_parse_double(usage, "--lr", optarg, &lr); break;
		case O_MOM: bad = cmd_parse_double(usage, "--momentum", optarg, &mom); break;
		case O_WD: bad = cmd_parse_double(usage, "--weight-decay", optarg, &wd); break;
		case O_SCHED: sched = optarg; break;
		case O_SEED: bad = cmd_parse_long(usage, "--seed", optarg, 0, 0x7fffffffL, &seed); break;
		case O_LIMIT: bad = cmd_parse_long(usage, "--limit", optarg, 1, 0x7fffffffL, &limit); break;
		case O_THREADS: bad = cmd_parse_long(usage, "--threads", optarg, 1, 1024, &threads); break;
		case 'o': out = optarg; break;
		case O_FORCE: force = 1; break;
		case O_QUANT: {
			char x1, x2;
			if (sscanf(optarg, "%d%c%d%c%d", &qw, &x1, &qa, &x2, &qe) != 5 || x1 != ':' || x2 != ':' || qw < 2 ||
			    qw > 24 || qa < 2 || qa > 24 || qe < 2 || qe > 24)
				bad = cmd_usage_error(usage, "--quant: '%s' is not W:A:E with widths 2..24", optarg);
			break;
		}
		case O_MASTER:
			if (strcmp(optarg, "fixed32") && strcmp(optarg, "float"))
				bad = cmd_usage_error(usage, "--master: 'fixed32' or 'float', not '%s'", optarg);
			master_fixed = !strcmp(optarg, "fixed32");
			break;
		case O_QWIN: bad = cmd_parse_long(usage, "--quant-window", optarg, 0, 12, &qwin); break;
		case O_WARMUP: bad = cmd_parse_long(usage, "--warmup", optarg, 0, 100000, &warmup); break;
		case O_PRUNEAT: bad = cmd_parse_long(usage, "--prune-at", optarg, 0, 100000, &prune_at); break;
		case O_SPARSITY: spspec = optarg; break;
		case O_BANK: bank = optarg; break;
		case O_PES: bad = cmd_parse_long(usage, "--balance-pes", optarg, 1, 65536, &pes); break;
		case 'h': return cmd_help(usage);
		default: return cmd_usage_error(usage, NULL);
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
	if (!isnan(lr) && !(lr > 0 && lr < 100))
		return cmd_usage_error(usage, "--lr must be in (0, 100)");
	if (!isnan(mom) && !(mom >= 0 && mom < 1))
		return cmd_usage_error(usage, "--momentum must be in [0, 1)");
	if (!isnan(wd) && !(wd >= 0 && wd < 1))
		return cmd_usage_error(usage, "--weight-decay must be in [0, 1)");
	if ((prune_at >= 0) != (spspec != NULL))
		return cmd_usage_error(usage, "--prune-at E and --sparsity SPEC go together");
	if (bank && pes)
		return cmd_usage_error(usage, "--bank and --balance-pes are different patterns: give one");
	if ((bank || pes) && prune_at < 0)
		return cmd_usage_error(usage, "--bank and --balance-pes go with --prune-at");
	cmd_set_threads((int)threads);

	dcc_dataset *d;
	if (cmd_load_data(data, &d))
		return EXIT_FAIL;
	dcc_model *m = NULL;
	dcc_error e = {0};
	if (init) {
		if (cmd_load(init, &m)) {
			dcc_dataset_free(d);
			return EXIT_FAIL;
		}
	} else if (dcc_net_create(net, d->c, d->h, d->w, d->classes, seed < 0 ? 1 : (uint64_t)seed, &m, &e)) {
		dcc_dataset_free(d);
		cmd_err("%s", e.msg);
		return EXIT_FAIL;
	}
	dcc_net *n;
	if (dcc_net_from_model(m, &n, &e)) {
		cmd_fail(init, &e);
		dcc_model_free(m);
		dcc_dataset_free(d);
		return EXIT_FAIL;
	}
	dcc_train_opts o;
	dcc_train_defaults(n->netname, &o);
	if (init) /* continuing: a tenth of the rate, as retraining does */
		o.lr /= 10;
	if (epochs >= 0) o.epochs = (int)epochs;
	if (batch > 0) o.batch = (size_t)batch;
	if (!isnan(lr)) o.lr = lr;
	if (!isnan(mom)) o.momentum = mom;
	if (!isnan(wd)) o.weight_decay = wd;
	if (seed >= 0) o.seed = (uint64_t)seed;
	o.limit = (size_t)limit;
	o.threads = (int)threads;
	if (sched && cmd_parse_schedule(usage, sched, &o)) {
		dcc_net_free(n);
		dcc_model_free(m);
		dcc_dataset_free(d);
		return EXIT_USAGE;
	}
	o.progress = cmd_progress;
	o.ctx = "train";
	o.quant_w = qw, o.quant_a = qa, o.quant_e = qe, o.quant_from = (int)warmup, o.quant_window = (int)qwin;
	o.master_fixed = master_fixed;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = 0;
	double acc_at_prune = NAN, acc_cut = NAN;
	if (prune_at >= 0) { /* train, prune before convergence, train on with the mask */
		if (prune_at > o.epochs) {
			dcc_net_free(n);
			dcc_model_free(m);
			dcc_dataset_free(d);
			return cmd_usage_error(usage, "--prune-at %ld is past the %d epochs", prune_at, o.epochs);
		}
		dcc_train_opts o1 = o;
		o1.epochs = (int)prune_at;
		o1.schedule_epochs = o.epochs;
		rc = o1.epochs ? dcc_train(n, d, &o1, &e) : 0;
		dcc_prunable *p = NULL;
		size_t np = 0;
		double *tg = NULL;
		dcc_eval_result r0 = {0};
		if (!rc)
			rc = dcc_eval(n, d, 0, 0, (int)threads, &r0, &e);
		acc_at_prune = r0.accuracy;
		dcc_eval_result_free(&r0);
		dcc_net_free(n);
		n = NULL;
		if (!rc)
			rc = dcc_prunable_list(m, &p, &np, &e);
		double *bk = NULL;
		if (!rc && (!(tg = calloc(np + 1, sizeof(double))) || !(bk = calloc(np + 1, sizeof(double)))))
			rc = dcc_fail(&e, DCC_E_NOMEM, "out of memory");
		if (!rc && ((rc = cmd_parse_layer_spec(usage, "--sparsity", spspec, p, np, !dcc_model_is_cnn(p, np), 0,
						       tg)) ||
			    (bank && (rc = cmd_parse_banks(usage, bank, p, np, tg, bk))))) {
			free(tg), free(bk);
			dcc_prunable_free(p, np);
			dcc_model_free(m);
			dcc_dataset_free(d);
			return rc;
		}
		dcc_prune_spec ps = {bank ? DCC_PATTERN_BANK : pes ? DCC_PATTERN_PES : DCC_PATTERN_UNSTRUCTURED, 0, (int)pes};
		for (size_t i = 0; !rc && i < np; i++)
			if (!isnan(tg[i])) {
				ps.bank = bank ? (int)bk[i] : 0;
				rc = dcc_prune_tensor(m, &p[i], tg[i], &ps, &e);
			}
		free(tg), free(bk);
		dcc_prunable_free(p, np);
		if (!rc)
			rc = dcc_net_from_model(m, &n, &e);
		dcc_eval_result r1 = {0};
		if (!rc)
			rc = dcc_eval(n, d, 0, 0, (int)threads, &r1, &e);
		acc_cut = r1.accuracy;
		dcc_eval_result_free(&r1);
		dcc_train_opts o2 = o;
		o2.epochs = o.epochs - (int)prune_at;
		o2.epoch_offset = (int)prune_at;
		o2.schedule_epochs = o.epochs;
		if (!rc && o2.epochs)
			rc = dcc_train(n, d, &o2, &e);
		if (!rc)
			printf("pruned after epoch %ld: accuracy %.2f%% then, %.2f%% right after the cut\n", prune_at,
			       100 * acc_at_prune, 100 * acc_cut);
	} else {
		rc = dcc_train(n, d, &o, &e);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
	dcc_eval_result r = {0};
	if (!rc)
		rc = dcc_eval(n, d, 0, 0, (int)threads, &r, &e);
	if (rc) {
		cmd_err("%s", e.msg);
		dcc_net_free(n);
		dcc_model_free(m);
		dcc_dataset_free(d);
		return EXIT_FAIL;
	}
	char line[512];
	snprintf(line, sizeof(line),
		 "train net=%s epochs=%d batch=%zu lr=%g momentum=%g weight_decay=%g schedule=%s seed=%llu%s%s "
		 "limit=%zu test_accuracy=%.4f",
		 n->netname, o.epochs, o.batch, o.lr, o.momentum, o.weight_decay,
		 o.schedule == DCC_LR_COSINE ? "cosine" : o.schedule == DCC_LR_STEP ? "step" : "const",
		 (unsigned long long)o.seed, init ? " init=" : "", init ? init : "", o.limit, r.accuracy);
	if (qw) {
		size_t L = strlen(line);
		snprintf(line + L, sizeof(line) - L, " quant=%d:%d:%d window=%ld master=%s warmup=%ld", qw, qa, qe, qwin,
			 master_fixed ? "fixed32" : "float", warmup);
	}
	if (prune_at >= 0) {
		size_t L = strlen(line);
		L += (size_t)snprintf(line + L, sizeof(line) - L, " prune_at=%ld sparsity=%s pattern=%s", prune_at, spspec,
				      bank ? "bank" : pes ? "pes" : "unstructured");
		if (bank)
			snprintf(line + L, sizeof(line) - L, " bank=%s", bank);
		else if (pes)
			snprintf(line + L, sizeof(line) - L, " pes=%ld", pes);
	}
	cmd_provenance(m, line);
	dcc_model_set_f64(m, "dcc.accuracy", r.accuracy);
	printf("%s: %d epochs in %.1f s (%.0f images/s); test accuracy %.2f%%, loss %.4f\n", n->netname, o.epochs,
	       secs, secs > 0 ? (double)o.epochs * (double)(o.limit ? o.limit : d->ntrain) / secs : 0.0,
	       100 * r.accuracy, r.loss);
	dcc_eval_result_free(&r);
	dcc_net_free(n);
	const char *inputs[] = {init, NULL};
	rc = cmd_save(out, m, inputs, force);
	dcc_model_free(m);
	dcc_dataset_free(d);
	return rc ? EXIT_FAIL : cmd_finish(EXIT_OK);
}
