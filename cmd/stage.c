/* stage.c: the option tail and the retraining the compression stages share
 * (stage.h) -- Deep Compression's masked retraining after pruning, DSD's
 * phases, centroid fine-tuning -- through lib/nn, with one set of options. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/dcc_nn.h"
#include "stage.h"

void cmd_stage_init(cmd_stage *s, const char *usage)
{
	memset(s, 0, sizeof(*s));
	s->usage = usage;
	s->batch = -1;
	s->seed = -1;
	s->lr = NAN;
	s->weight_decay = NAN;
	s->lr_scale = 0.1;
	s->ctx = "retrain";
}

int cmd_stage_option(cmd_stage *s, int c, const char *arg)
{
	int bad = 0;
	switch (c) {
	case CMD_O_DATA: s->data = arg; break;
	case CMD_O_LR:
		if ((bad = cmd_parse_double(s->usage, "--lr", arg, &s->lr)))
			return bad;
		if (!(s->lr > 0 && s->lr < 100))
			return cmd_usage_error(s->usage, "--lr must be in (0, 100)");
		break;
	case CMD_O_BATCH: bad = cmd_parse_long(s->usage, "--batch", arg, 1, 65536, &s->batch); break;
	case CMD_O_SEED: bad = cmd_parse_long(s->usage, "--seed", arg, 0, 0x7fffffffL, &s->seed); break;
	case CMD_O_LIMIT: bad = cmd_parse_long(s->usage, "--limit", arg, 1, 0x7fffffffL, &s->limit); break;
	case CMD_O_THREADS:
		if (!(bad = cmd_parse_long(s->usage, "--threads", arg, 1, 1024, &s->threads)))
			cmd_set_threads((int)s->threads);
		break;
	case CMD_O_JSON: s->json = 1; break;
	case 'o': s->out = arg; break;
	case CMD_O_FORCE: s->force = 1; break;
	case 'h': return cmd_help(s->usage), CMD_HELP_SHOWN;
	default: return CMD_OPT_OTHER;
	}
	return bad ? bad : CMD_OPT_OK;
}

int cmd_stage_args(cmd_stage *s, int argc, char **argv, int need_out)
{
	if (optind + 1 != argc)
		return cmd_usage_error(s->usage, optind < argc ? "give one input model" : "no input model given");
	s->in = argv[optind];
	if (need_out && !s->out)
		return cmd_usage_error(s->usage, "no output given (-o OUT.dct)");
	const char *outs[] = {s->out}, *inputs[] = {s->in, NULL};
	return cmd_check_outputs(outs, 1, inputs, s->force);
}

dcc_dataset *cmd_stage_data(cmd_stage *s)
{
	if (!s->d && cmd_load_data(s->data, &s->d))
		return NULL;
	return s->d;
}

int cmd_stage_run(cmd_stage *s, dcc_model *m, int epochs, double *acc)
{
	if (!cmd_stage_data(s))
		return EXIT_FAIL;
	dcc_net *n;
	dcc_error e = {0};
	if (dcc_net_from_model(m, &n, &e))
		return cmd_fail(s->in, &e);
	if (cmd_data_fits(s->in, n, s->d, 1)) {
		dcc_net_free(n);
		return EXIT_FAIL;
	}
	int rc = 0;
	if (epochs > 0) {
		dcc_train_opts o;
		dcc_train_defaults(n->netname, &o);
		o.epochs = epochs;
		o.lr = isnan(s->lr) ? o.lr * s->lr_scale : s->lr;
		if (!isnan(s->weight_decay)) o.weight_decay = s->weight_decay;
		if (s->batch > 0) o.batch = (size_t)s->batch;
		if (s->seed >= 0) o.seed = (uint64_t)s->seed;
		o.limit = (size_t)s->limit;
		o.threads = (int)s->threads;
		o.progress = cmd_progress;
		o.ctx = (void *)s->ctx;
		o.after_step = s->after_step;
		o.step_ctx = s->step_ctx;
		rc = dcc_train(n, s->d, &o, &e);
	}
	dcc_eval_result r = {0};
	if (!rc)
		rc = dcc_eval(n, s->d, 0, 0, (int)s->threads, &r, &e);
	s->head = n->head;
	if (!rc)
		*acc = n->head == DCC_OP_MSE ? r.mse : r.accuracy;
	dcc_eval_result_free(&r);
	dcc_net_free(n);
	return rc ? cmd_fail(s->in, &e) : 0; /* the model's name (dsd --net has none) */
}

const char *cmd_stage_metric(const cmd_stage *s) { return s->head == DCC_OP_MSE ? "mse" : "accuracy"; }
const char *cmd_stage_key(const cmd_stage *s, double v, char *buf, size_t cap)
{
	if (s->head == DCC_OP_MSE)
		snprintf(buf, cap, "test_mse=%.6g", v);
	else
		snprintf(buf, cap, "test_accuracy=%.4f", v);
	return buf;
}
double cmd_stage_acc(const cmd_stage *s, double v) { return s->head == DCC_OP_MSE ? NAN : v; }

const char *cmd_stage_fig(const cmd_stage *s, double v, char *buf, size_t cap)
{
	if (s->head == DCC_OP_MSE)
		snprintf(buf, cap, "%.6g", v);
	else
		snprintf(buf, cap, "%.2f%%", 100 * v);
	return buf;
}

int cmd_stage_eval(cmd_stage *s, dcc_model *m, double *acc)
{
	return cmd_stage_run(s, m, 0, acc);
}

int cmd_stage_save(cmd_stage *s, dcc_model *m)
{
	const char *inputs[] = {s->in, NULL};
	return cmd_save(s->out, m, inputs, s->force) ? EXIT_FAIL : cmd_finish(EXIT_OK);
}

void cmd_stage_free(cmd_stage *s)
{
	if (s->d)
		dcc_dataset_free(s->d);
	s->d = NULL;
}
