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
	"usage: dcc train (--net NAME | --init MODEL.dct) [--data DATA] [OPTIONS] -o OUT.dct\n"
	"\n"
	"Trains a network on the data set and writes it with its test accuracy.\n"
	"NAME is lenet300, lenet5, lstm, mlp:IN-H1-...-OUT, cnn:C1,...:F1,...\n"
	"(3x3 convolutions with ReLU and 2x2 pooling, then fc layers), resnet:W1,...:N\n"
	"(stages of N basic blocks, resnet:16,32,64:3 is ResNet-20) or\n"
	"mobilenet:C0,C1,...:E[:N] (MobileNetV2's inverted residuals with expansion E;\n"
	"see dcc-train(1)); input size and classes come from the data.  With\n"
	"--init, training continues from MODEL.dct (pruned weights stay zero: the\n"
	"retraining of Deep Compression).\n"
	"\n"
	"  --net NAME            the network to build\n"
	"  --init MODEL.dct      start from this model instead\n"
	"  --data DATA           data set (formats/data.md; default " DCC_DEFAULT_DATA ")\n"
	"  --loss L              the head: ce (softmax cross-entropy; the default for\n"
	"                        class labels), bce (sigmoid per output; 0/1 labels or\n"
	"                        targets in [0, 1]) or mse (the default for float targets)\n"
	"  --normalize           inputs normalised by the training set's mean and std\n"
	"                        (per channel, or per feature of a sequence), recorded\n"
	"                        in the model for every later stage\n"
	"  --mean M,... --std S,...  that normalisation, given (one value, or one per\n"
	"                        channel or feature); default: the data file's mean\n"
	"                        and std members, else none (--init: the model's)\n"
	"  --epochs N            passes over the training set (default per net)\n"
	"  --batch N             minibatch size (default 64)\n"
	"  --lr X                initial learning rate (default per net)\n"
	"  --momentum X          SGD momentum (default 0.9)\n"
	"  --weight-decay X      L2 penalty (default 5e-4; lstm 1e-4)\n"
	"  --lr-schedule S       const, cosine (default) or step[:EVERY[:GAMMA]]\n"
	"  --augment A           flip (mirror each training image half the time),\n"
	"                        crop:P (move it by up to P pixels, torchvision's\n"
	"                        RandomCrop with padding P) or flip,crop:P; images only\n"
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
	"  --allow-empty         accept a layer --prune-at leaves with no weights\n"
	"  -o, --output OUT      the model to write\n"
	"  --force               overwrite OUT even when it is the input\n"
	"  -h, --help            show this help\n";

typedef struct train_args {
	const char *net, *init, *data, *out, *sched, *augment, *spspec, *bank, *loss, *mean, *std;
	int normalize;
	long epochs, batch, seed, limit, threads, prune_at, pes, warmup, qwin;
	double lr, mom, wd;
	int qw, qa, qe, master_fixed, force, allow_empty;
} train_args;

static int parse(int argc, char **argv, train_args *a)
{
	enum { O_NET = 256, O_INIT, O_DATA, O_EPOCHS, O_BATCH, O_LR, O_MOM, O_WD, O_SCHED, O_AUG, O_SEED, O_LIMIT,
	       O_THREADS, O_FORCE, O_PRUNEAT, O_SPARSITY, O_BANK, O_PES, O_QUANT, O_WARMUP, O_QWIN, O_MASTER,
	       O_EMPTY, O_LOSS, O_NORM, O_MEAN, O_STD };
	static const struct option opts[] = {
		{"net", required_argument, NULL, O_NET}, {"init", required_argument, NULL, O_INIT},
		{"data", required_argument, NULL, O_DATA}, {"epochs", required_argument, NULL, O_EPOCHS},
		{"batch", required_argument, NULL, O_BATCH}, {"lr", required_argument, NULL, O_LR},
		{"momentum", required_argument, NULL, O_MOM}, {"weight-decay", required_argument, NULL, O_WD},
		{"lr-schedule", required_argument, NULL, O_SCHED},
		{"augment", required_argument, NULL, O_AUG}, {"seed", required_argument, NULL, O_SEED},
		{"limit", required_argument, NULL, O_LIMIT}, {"threads", required_argument, NULL, O_THREADS},
		{"output", required_argument, NULL, 'o'}, {"force", no_argument, NULL, O_FORCE},
		{"prune-at", required_argument, NULL, O_PRUNEAT}, {"sparsity", required_argument, NULL, O_SPARSITY},
		{"bank", required_argument, NULL, O_BANK}, {"balance-pes", required_argument, NULL, O_PES},
		{"quant", required_argument, NULL, O_QUANT}, {"quant-window", required_argument, NULL, O_QWIN},
		{"master", required_argument, NULL, O_MASTER}, {"warmup", required_argument, NULL, O_WARMUP},
		{"allow-empty", no_argument, NULL, O_EMPTY}, {"loss", required_argument, NULL, O_LOSS},
		{"normalize", no_argument, NULL, O_NORM}, {"mean", required_argument, NULL, O_MEAN},
		{"std", required_argument, NULL, O_STD}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	a->prune_at = a->epochs = a->batch = a->seed = -1;
	a->warmup = 1, a->qwin = 4, a->master_fixed = 1;
	a->lr = a->mom = a->wd = NAN;
	int c;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		int bad = 0;
		switch (c) {
		case O_NET: a->net = optarg; break;
		case O_INIT: a->init = optarg; break;
		case O_DATA: a->data = optarg; break;
		case O_EPOCHS: bad = cmd_parse_long(usage, "--epochs", optarg, 0, 100000, &a->epochs); break;
		case O_BATCH: bad = cmd_parse_long(usage, "--batch", optarg, 1, 65536, &a->batch); break;
		case O_LR: bad = cmd_parse_double(usage, "--lr", optarg, &a->lr); break;
		case O_MOM: bad = cmd_parse_double(usage, "--momentum", optarg, &a->mom); break;
		case O_WD: bad = cmd_parse_double(usage, "--weight-decay", optarg, &a->wd); break;
		case O_SCHED: a->sched = optarg; break;
		case O_AUG: a->augment = optarg; break;
		case O_SEED: bad = cmd_parse_long(usage, "--seed", optarg, 0, 0x7fffffffL, &a->seed); break;
		case O_LIMIT: bad = cmd_parse_long(usage, "--limit", optarg, 1, 0x7fffffffL, &a->limit); break;
		case O_THREADS: bad = cmd_parse_long(usage, "--threads", optarg, 1, 1024, &a->threads); break;
		case 'o': a->out = optarg; break;
		case O_FORCE: a->force = 1; break;
		case O_QUANT: {
			char x1, x2;
			if (sscanf(optarg, "%d%c%d%c%d", &a->qw, &x1, &a->qa, &x2, &a->qe) != 5 || x1 != ':' || x2 != ':' ||
			    a->qw < 2 || a->qw > 24 || a->qa < 2 || a->qa > 24 || a->qe < 2 || a->qe > 24)
				bad = cmd_usage_error(usage, "--quant: '%s' is not W:A:E with widths 2..24", optarg);
			break;
		}
		case O_MASTER:
			if (strcmp(optarg, "fixed32") && strcmp(optarg, "float"))
				bad = cmd_usage_error(usage, "--master: 'fixed32' or 'float', not '%s'", optarg);
			a->master_fixed = !strcmp(optarg, "fixed32");
			break;
		case O_QWIN: bad = cmd_parse_long(usage, "--quant-window", optarg, 0, 12, &a->qwin); break;
		case O_WARMUP: bad = cmd_parse_long(usage, "--warmup", optarg, 0, 100000, &a->warmup); break;
		case O_EMPTY: a->allow_empty = 1; break;
		case O_LOSS:
			if (dcc_head_from_name(optarg) < 0)
				bad = cmd_usage_error(usage, "--loss: '%s' is not ce, bce or mse", optarg);
			a->loss = optarg;
			break;
		case O_NORM: a->normalize = 1; break;
		case O_MEAN: a->mean = optarg; break;
		case O_STD: a->std = optarg; break;
		case O_PRUNEAT: bad = cmd_parse_long(usage, "--prune-at", optarg, 0, 100000, &a->prune_at); break;
		case O_SPARSITY: a->spspec = optarg; break;
		case O_BANK: a->bank = optarg; break;
		case O_PES: bad = cmd_parse_long(usage, "--balance-pes", optarg, 1, 65536, &a->pes); break;
		case 'h': return cmd_help(usage), CMD_HELP_SHOWN;
		default: return cmd_usage_error(usage, NULL);
		}
		if (bad)
			return bad;
	}
	if (optind < argc)
		return cmd_usage_error(usage, "unexpected argument '%s'", argv[optind]);
	if (!a->net == !a->init)
		return cmd_usage_error(usage, "give one of --net NAME or --init MODEL.dct");
	if (!a->out)
		return cmd_usage_error(usage, "no output given (-o OUT.dct)");
	const char *outs[] = {a->out}, *inputs[] = {a->init, NULL};
	if (cmd_check_outputs(outs, 1, inputs, a->force))
		return EXIT_FAIL;
	if (!isnan(a->lr) && !(a->lr > 0 && a->lr < 100))
		return cmd_usage_error(usage, "--lr must be in (0, 100)");
	if (!isnan(a->mom) && !(a->mom >= 0 && a->mom < 1))
		return cmd_usage_error(usage, "--momentum must be in [0, 1)");
	if (!isnan(a->wd) && !(a->wd >= 0 && a->wd < 1))
		return cmd_usage_error(usage, "--weight-decay must be in [0, 1)");
	if ((a->prune_at >= 0) != (a->spspec != NULL))
		return cmd_usage_error(usage, "--prune-at E and --sparsity SPEC go together");
	if (!a->mean != !a->std)
		return cmd_usage_error(usage, "--mean and --std go together");
	if (a->mean && a->normalize)
		return cmd_usage_error(usage, "--normalize computes what --mean and --std give: give one");
	if (a->bank && a->pes)
		return cmd_usage_error(usage, "--bank and --balance-pes are different patterns: give one");
	if ((a->bank || a->pes) && a->prune_at < 0)
		return cmd_usage_error(usage, "--bank and --balance-pes go with --prune-at");
	cmd_set_threads((int)a->threads);
	return 0;
}

/* The training options: the net's defaults, then what was asked. */
static int options(const train_args *a, const dcc_net *n, dcc_train_opts *o)
{
	dcc_train_defaults(n->netname, o);
	if (a->init) /* continuing: a tenth of the rate, as retraining does */
		o->lr /= 10;
	if (a->epochs >= 0) o->epochs = (int)a->epochs;
	if (a->batch > 0) o->batch = (size_t)a->batch;
	if (!isnan(a->lr)) o->lr = a->lr;
	if (!isnan(a->mom)) o->momentum = a->mom;
	if (!isnan(a->wd)) o->weight_decay = a->wd;
	if (a->seed >= 0) o->seed = (uint64_t)a->seed;
	o->limit = (size_t)a->limit;
	o->threads = (int)a->threads;
	if (a->sched && cmd_parse_schedule(usage, a->sched, o))
		return EXIT_USAGE;
	dcc_error e = {0};
	if (a->augment && dcc_augment_parse(a->augment, o, &e))
		return cmd_usage_error(usage, "--augment: %s", e.msg);
	o->progress = cmd_progress;
	o->ctx = "train";
	o->quant_w = a->qw, o->quant_a = a->qa, o->quant_e = a->qe, o->quant_from = (int)a->warmup;
	o->quant_window = (int)a->qwin;
	o->master_fixed = a->master_fixed;
	if (a->prune_at > o->epochs)
		return cmd_usage_error(usage, "--prune-at %ld is past the %d epochs", a->prune_at, o->epochs);
	return 0;
}

/* Builds --net (outputs as the head needs: one for bce on 0/1 labels) or
 * loads --init, then records --loss and the input normalisation. */
static int model_of(const train_args *a, const dcc_dataset *d, dcc_model **m, dcc_error *e)
{
	int head = a->loss ? dcc_head_from_name(a->loss) : dcc_head_for_data(d), out = dcc_head_outputs(head, d);
	int rc = a->init ? dcc_dct_read(a->init, 0, m, e)
			 : dcc_net_create(a->net, d->c, d->h, d->w, out, head, a->seed < 0 ? 1 : (uint64_t)a->seed, m, e);
	if (!rc && a->loss && a->init)
		rc = dcc_graph_set_head(*m, head, e);
	return rc ? rc : dcc_norm_record(*m, d, a->normalize, a->mean, a->std, !a->init, e);
}

/* Prunes the model to --sparsity in the pattern asked for: 0, a negative
 * DCC_E_* code, or the status of a usage error already printed. */
static int prune_now(const train_args *a, dcc_model *m, dcc_error *e)
{
	dcc_prunable *p = NULL;
	size_t np = 0;
	double *tg = NULL, *bk = NULL;
	int rc = dcc_prunable_list(m, &p, &np, e);
	if (!rc && (!(tg = calloc(np + 1, sizeof(double))) || !(bk = calloc(np + 1, sizeof(double)))))
		rc = dcc_fail(e, DCC_E_NOMEM, "out of memory");
	if (!rc && !(rc = cmd_parse_layer_spec(usage, "--sparsity", a->spspec, p, np, !dcc_model_is_cnn(p, np), 0, tg)) &&
	    a->bank)
		rc = cmd_parse_banks(usage, a->bank, p, np, tg, bk); /* a usage error (> 0) is printed */
	dcc_prune_plan pl = {p, np, DCC_PRUNE_SPARSITY, tg, a->bank ? bk : NULL, 0, 1,
			     {a->bank ? DCC_PATTERN_BANK : a->pes ? DCC_PATTERN_PES : DCC_PATTERN_UNSTRUCTURED, 0, (int)a->pes},
			     1, a->allow_empty, NULL, NULL};
	double secs;
	if (!rc)
		rc = dcc_prune_run(m, &pl, &secs, e);
	free(tg), free(bk);
	dcc_prunable_free(p, np);
	return rc;
}

/* --prune-at E: train E epochs, prune before convergence, train on with
 * the mask (the schedule runs on).  *n is rebuilt on the pruned model. */
static int train_pruned(const train_args *a, dcc_model *m, dcc_net **n, const dcc_dataset *d, const dcc_train_opts *o,
			dcc_error *e)
{
	dcc_train_opts o1 = *o, o2 = *o;
	o1.epochs = (int)a->prune_at;
	o1.schedule_epochs = o->epochs;
	int rc = o1.epochs ? dcc_train(*n, d, &o1, e) : 0;
	dcc_eval_result r0 = {0}, r1 = {0};
	if (!rc)
		rc = dcc_eval(*n, d, 0, 0, (int)a->threads, &r0, e);
	dcc_net_free(*n);
	*n = NULL;
	if (!rc)
		rc = prune_now(a, m, e);
	if (!rc)
		rc = dcc_net_from_model(m, n, e);
	if (!rc)
		rc = dcc_eval(*n, d, 0, 0, (int)a->threads, &r1, e);
	o2.epochs = o->epochs - (int)a->prune_at;
	o2.epoch_offset = (int)a->prune_at;
	o2.schedule_epochs = o->epochs;
	if (!rc && o2.epochs)
		rc = dcc_train(*n, d, &o2, e);
	if (!rc)
		printf("pruned after epoch %ld: accuracy %.2f%% then, %.2f%% right after the cut\n", a->prune_at,
		       100 * r0.accuracy, 100 * r1.accuracy);
	dcc_eval_result_free(&r0);
	dcc_eval_result_free(&r1);
	return rc;
}

static void provenance_line(const train_args *a, const dcc_net *n, const dcc_dataset *d, const dcc_train_opts *o,
			    double acc, char *line, size_t cap)
{
	char data[1024];
	dcc_data_describe(d, o->limit && o->limit < d->train.n ? o->limit : d->train.n, data, sizeof(data));
	size_t L = (size_t)snprintf(line, cap,
				    "train net=%s epochs=%d batch=%zu lr=%g momentum=%g weight_decay=%g schedule=%s "
				    "seed=%llu%s%s limit=%zu %s=%.*f loss=%s %s",
				    n->netname, o->epochs, o->batch, o->lr, o->momentum, o->weight_decay,
				    o->schedule == DCC_LR_COSINE ? "cosine" : o->schedule == DCC_LR_STEP ? "step" : "const",
				    (unsigned long long)o->seed, a->init ? " init=" : "", a->init ? a->init : "", o->limit,
				    n->head == DCC_OP_MSE ? "test_mse" : "test_accuracy", n->head == DCC_OP_MSE ? 6 : 4, acc,
				    dcc_op_name(n->head), data);
	char aug[32];
	if ((o->augment_flip || o->augment_crop) && L < cap)
		L += (size_t)snprintf(line + L, cap - L, " augment=%s", dcc_augment_text(o, aug, sizeof(aug)));
	if (a->qw && L < cap)
		L += (size_t)snprintf(line + L, cap - L, " quant=%d:%d:%d window=%ld master=%s warmup=%ld", a->qw, a->qa, a->qe,
				      a->qwin, a->master_fixed ? "fixed32" : "float", a->warmup);
	if (a->prune_at >= 0 && L < cap) {
		L += (size_t)snprintf(line + L, cap - L, " prune_at=%ld sparsity=%s pattern=%s", a->prune_at, a->spspec,
				      a->bank ? "bank" : a->pes ? "pes" : "unstructured");
		if (a->bank && L < cap)
			snprintf(line + L, cap - L, " bank=%s", a->bank);
		else if (a->pes && L < cap)
			snprintf(line + L, cap - L, " pes=%ld", a->pes);
	}
}

int cmd_train(int argc, char **argv)
{
	train_args a = {0};
	int rc = parse(argc, argv, &a);
	if (rc)
		return cmd_parsed(rc);
	dcc_dataset *d = NULL;
	dcc_model *m = NULL;
	dcc_net *n = NULL;
	dcc_error e = {0};
	dcc_eval_result r = {0};
	dcc_train_opts o;
	rc = EXIT_FAIL;
	if (cmd_load_data(a.data, &d))
		return EXIT_FAIL;
	if (model_of(&a, d, &m, &e)) {
		/* a net that cannot take the data's samples: name the data */
		cmd_fail(a.init ? a.init : e.code == DCC_E_SHAPE ? d->source : NULL, &e);
		goto done;
	}
	if (dcc_net_from_model(m, &n, &e)) {
		cmd_fail(a.init, &e);
		goto done;
	}
	if (cmd_data_fits(a.init, n, d, 1))
		goto done;
	if ((rc = options(&a, n, &o)))
		goto done;
	rc = EXIT_FAIL;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int bad = a.prune_at >= 0 ? train_pruned(&a, m, &n, d, &o, &e) : dcc_train(n, d, &o, &e);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
	if (bad > 0) { /* a usage error of --sparsity or --bank, printed */
		rc = bad;
		goto done;
	}
	if (!bad)
		bad = dcc_eval(n, d, 0, 0, (int)a.threads, &r, &e);
	if (bad) {
		cmd_fail(a.init, &e);
		goto done;
	}
	char line[2048];
	provenance_line(&a, n, d, &o, r.head == DCC_OP_MSE ? r.mse : r.accuracy, line, sizeof(line));
	if (cmd_provenance(m, line, r.head == DCC_OP_MSE ? NAN : r.accuracy))
		goto done;
	printf("%s: %d epochs in %.2f s (%.0f images/s); test ", n->netname, o.epochs, secs,
	       secs > 0 ? (double)o.epochs * (double)(o.limit ? o.limit : d->train.n) / secs : 0.0);
	if (r.head == DCC_OP_MSE)
		printf("mse %.6g, mae %.6g\n", r.mse, r.mae);
	else
		printf("accuracy %.2f%%, loss %.4f\n", 100 * r.accuracy, r.loss);
	const char *inputs[] = {a.init, NULL};
	rc = cmd_save(a.out, m, inputs, a.force) ? EXIT_FAIL : cmd_finish(EXIT_OK);
done:
	dcc_eval_result_free(&r);
	dcc_net_free(n);
	dcc_model_free(m);
	dcc_dataset_free(d);
	return rc;
}
