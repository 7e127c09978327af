/* tune.c: the retraining every compression stage shares -- Deep
 * Compression's masked retraining after pruning, DSD's phases, centroid
 * fine-tuning -- through lib/nn, with one set of options. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/dcc_nn.h"
#include "common.h"

void cmd_tune_init(cmd_tune *t)
{
	memset(t, 0, sizeof(*t));
	t->batch = -1;
	t->seed = -1;
	t->lr = NAN;
	t->weight_decay = NAN;
	t->lr_scale = 0.1;
	t->ctx = "retrain";
}

int cmd_tune_option(const char *usage, int c, const char *arg, cmd_tune *t)
{
	switch (c) {
	case 1001: t->data = arg; return 0;
	case 1002:
		if (cmd_parse_double(usage, "--lr", arg, &t->lr))
			return EXIT_USAGE;
		return t->lr > 0 && t->lr < 100 ? 0 : cmd_usage_error(usage, "--lr must be in (0, 100)");
	case 1003: return cmd_parse_long(usage, "--batch", arg, 1, 65536, &t->batch);
	case 1004: return cmd_parse_long(usage, "--seed", arg, 0, 0x7fffffffL, &t->seed);
	case 1005: return cmd_parse_long(usage, "--limit", arg, 1, 0x7fffffffL, &t->limit);
	case 1006:
		if (cmd_parse_long(usage, "--threads", arg, 1, 1024, &t->threads))
			return EXIT_USAGE;
		cmd_set_threads((int)t->threads);
		return 0;
	}
	return -1;
}

static int data(cmd_tune *t)
{
	return t->d ? 0 : cmd_load_data(t->data, &t->d);
}

dcc_dataset *cmd_tune_data(cmd_tune *t)
{
	return data(t) ? NULL : t->d;
}

int cmd_tune_run(cmd_tune *t, dcc_model *m, int epochs, double *acc)
{
	if (data(t))
		return EXIT_FAIL;
	dcc_net *n;
	dcc_error e = {0};
	if (dcc_net_from_model(m, &n, &e))
		return cmd_fail(NULL, &e);
	int rc = 0;
	if (epochs > 0) {
		dcc_train_opts o;
		dcc_train_defaults(n->netname, &o);
		o.epochs = epochs;
		o.lr = isnan(t->lr) ? o.lr * t->lr_scale : t->lr;
		if (!isnan(t->weight_decay)) o.weight_decay = t->weight_decay;
		if (t->batch > 0) o.batch = (size_t)t->batch;
		if (t->seed >= 0) o.seed = (uint64_t)t->seed;
		o.limit = (size_t)t->limit;
		o.threads = (int)t->threads;
		o.progress = cmd_progress;
		o.ctx = (void *)t->ctx;
		o.after_step = t->after_step;
		o.step_ctx = t->step_ctx;
		rc = dcc_train(n, t->d, &o, &e);
	}
	dcc_eval_result r = {0};
	if (!rc)
		rc = dcc_eval(n, t->d, 0, 0, (int)t->threads, &r, &e);
	if (!rc)
		*acc = r.accuracy;
	dcc_eval_result_free(&r);
	dcc_net_free(n);
	if (rc) {
		cmd_err("%s", e.msg);
		return EXIT_FAIL;
	}
	return 0;
}

int cmd_tune_eval(cmd_tune *t, dcc_model *m, double *acc)
{
	return cmd_tune_run(t, m, 0, acc);
}

void cmd_tune_free(cmd_tune *t)
{
	if (t->d)
		dcc_dataset_free(t->d);
	t->d = NULL;
}
