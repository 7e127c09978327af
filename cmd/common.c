/* common.c: shared plumbing of the subcommands (see common.h): messages,
 * loading and saving, the option tail and retraining the compression stages
 * share (stage.h), a head's figures and an emulator run's energy as JSON and
 * text.  Only subcommands have a file of their own in cmd/. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <math.h>
#include <unistd.h>

#include <jansson.h>

#include "../lib/dcc_accel.h"
#include "../lib/dcc_fixed.h"
#include "../lib/dcc_encode.h"
#include "../lib/dcc_isa.h"
#include "../lib/dcc_nn.h"
#include "../lib/dcc_prune.h"
#include "common.h"
#include "stage.h"

const char *cmd_name = "dcc";

void cmd_err(const char *fmt, ...)
{
	va_list ap;
	fflush(stdout);
	fprintf(stderr, "%s: ", cmd_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cmd_fail(const char *path, const dcc_error *e)
{
	if (path)
		cmd_err("%s: %s", path, e->msg[0] ? e->msg : dcc_strerror(e->code));
	else
		cmd_err("%s", e->msg[0] ? e->msg : dcc_strerror(e->code));
	return EXIT_FAIL;
}

void cmd_log_line(void *ctx, const char *line)
{
	(void)ctx;
	fflush(stdout);
	fprintf(stderr, "%s\n", line);
}

char **cmd_argv;

int cmd_usage_error(const char *usage, const char *fmt, ...)
{
	(void)usage; /* --help prints it: a usage error is one line and a pointer */
	fflush(stdout);
	fprintf(stderr, "%s: ", cmd_name);
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
	} else if (optopt > 0 && optopt < 128 && isalnum(optopt)) { /* getopt's own complaint, said once here */
		fprintf(stderr, "option -%c is unknown or lacks its argument", optopt);
	} else {
		const char *arg = cmd_argv && optind > 0 ? cmd_argv[optind - 1] : NULL;
		fprintf(stderr, "option '%s' is unknown or lacks its argument", arg ? arg : "?");
	}
	fprintf(stderr, " (see '%s --help')\n", cmd_name);
	return EXIT_USAGE;
}

int cmd_help(const char *usage)
{
	fputs(usage, stdout);
	return cmd_finish(EXIT_OK);
}

int cmd_finish(int status)
{
	if (fflush(stdout) || ferror(stdout)) {
		if (errno != EPIPE)
			fprintf(stderr, "%s: error writing standard output: %s\n", cmd_name, strerror(errno));
		return EXIT_FAIL;
	}
	return status;
}

int cmd_load(const char *path, dcc_model **m)
{
	dcc_error e = {0};
	int rc = dcc_dct_read(path, 0, m, &e);
	if (rc) {
		if (rc == DCC_E_FORMAT && !strncmp(e.msg, "not a dcc container", 19))
			snprintf(e.msg, sizeof(e.msg), "not a dcc container (import it first: dcc import %s -o FILE.dct)", path);
		return cmd_fail(path, &e);
	}
	return 0;
}

int cmd_save(const char *path, dcc_model *m, const char *const *inputs, int force)
{
	dcc_error e = {0};
	dcc_outfile o;
	if (dcc_model_set_str(m, "dcc.version", DCC_VERSION_STRING, &e))
		return cmd_fail(path, &e);
	if (dcc_out_open(&o, path, inputs, force, &e) || dcc_out_finish(&o, dcc_dct_write(o.fp, m, &e), &e))
		return cmd_fail(NULL, &e);
	return 0;
}

int cmd_check_outputs(const char *const *outs, size_t n, const char *const *inputs, int force)
{
	dcc_error e = {0};
	return dcc_out_check(outs, n, inputs, force, &e) ? cmd_fail(NULL, &e) : 0;
}

int cmd_save_npy(const char *path, const char *const *inputs, const float *z, size_t rows, size_t cols)
{
	dcc_tensor t = {.name = "logits", .dtype = DCC_F32, .ndim = 2, .shape = {rows, cols}};
	t.data = (void *)z, t.nbytes = rows * cols * sizeof(float);
	return cmd_save_tensor(path, inputs, 0, &t);
}

int cmd_save_tensor(const char *path, const char *const *inputs, int force, const dcc_tensor *t)
{
	dcc_outfile o;
	dcc_error e = {0};
	if (dcc_out_open(&o, path, inputs, force, &e) || dcc_out_finish(&o, dcc_npy_write(o.fp, t, &e), &e))
		return cmd_fail(NULL, &e);
	return 0;
}

int cmd_read_blob(const char *path, uint8_t **bytes, size_t *len)
{
	dcc_error e = {0};
	if (dcc_read_file(path, (size_t)1 << 36, bytes, len, &e))
		return cmd_fail(path, &e);
	if (!dcc_dcb_sniff(*bytes, *len)) {
		free(*bytes);
		*bytes = NULL;
		cmd_err("%s: not a dcc blob (make one with dcc encode)", path);
		return EXIT_FAIL;
	}
	return 0;
}

int cmd_load_blob(const char *path, dcc_model **m, dcc_blob_info *info, dcc_sparse **keep, uint32_t *crc)
{
	uint8_t *bytes;
	size_t n;
	*m = NULL;
	if (cmd_read_blob(path, &bytes, &n))
		return EXIT_FAIL;
	if (crc)
		*crc = dcc_crc32c(0, bytes, n);
	dcc_error e = {0};
	dcc_blob b;
	int rc = dcc_dcb_read_mem(bytes, n, &b, &e);
	if (!rc)
		rc = dcc_blob_unpack(&b, m, keep, &e);
	if (!rc && info)
		rc = dcc_blob_info_make(&b, NULL, info, &e);
	if (rc && *m) {
		dcc_model_free(*m);
		*m = NULL;
	}
	dcc_blob_free(&b);
	free(bytes);
	return rc ? cmd_fail(path, &e) : 0;
}

int cmd_load_program(const char *path, dcc_program *p)
{
	uint8_t *b;
	size_t n;
	dcc_error e = {0};
	if (dcc_read_file(path, (size_t)1 << 33, &b, &n, &e))
		return cmd_fail(path, &e);
	int rc = dcc_dci_read_mem(b, n, p, &e);
	free(b);
	return rc ? cmd_fail(path, &e) : 0;
}

int cmd_file_is(const char *path, int kind)
{
	uint8_t head[16];
	FILE *fp = fopen(path, "rb");
	size_t n = fp ? fread(head, 1, sizeof(head), fp) : 0;
	if (fp)
		fclose(fp);
	return dcc_sniff(head, n) == kind;
}

int cmd_provenance(dcc_model *m, const char *line, double acc)
{
	dcc_error e = {0};
	if (dcc_model_append_str(m, "dcc.provenance", line, &e) ||
	    (!isnan(acc) && dcc_model_set_f64(m, "dcc.accuracy", acc, &e)))
		return cmd_fail(NULL, &e);
	if (isnan(acc))
		dcc_model_del_kv(m, "dcc.accuracy"); /* the last figure no longer holds */
	return 0;
}

int cmd_parse_double(const char *usage, const char *opt, const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (!*s || *end || errno || !isfinite(v))
		return cmd_usage_error(usage, "%s: '%s' is not a finite number", opt, s);
	*out = v;
	return 0;
}

int cmd_parse_long(const char *usage, const char *opt, const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (!*s || *end || errno)
		return cmd_usage_error(usage, "%s: '%s' is not an integer", opt, s);
	if (v < lo || v > hi)
		return cmd_usage_error(usage, "%s: %ld is out of range (%ld to %ld)", opt, v, lo, hi);
	*out = v;
	return 0;
}

const char *cmd_bytes(double n, char *buf, size_t cap)
{
	static const char *u[] = {"B", "kB", "MB", "GB", "TB"};
	int i = 0;
	while (n >= 1000 && i < 4) {
		n /= 1000;
		i++;
	}
	if (i == 0)
		snprintf(buf, cap, "%.0f B", n);
	else
		snprintf(buf, cap, "%.2f %s", n, u[i]);
	return buf;
}

int cmd_load_data(const char *dir, dcc_dataset **d)
{
	dcc_error e = {0};
	if (dcc_dataset_load(dir ? dir : DCC_DEFAULT_DATA, d, &e)) {
		cmd_err("%s", e.msg);
		if (!dir && e.code == DCC_E_IO)
			cmd_err("the default data set comes from Debian's dataset-fashion-mnist (make deps installs it)");
		return EXIT_FAIL;
	}
	return 0;
}

void cmd_set_threads(int n)
{
	if (n > 0)
		openblas_set_num_threads(n);
}

void cmd_progress(void *ctx, const dcc_train_status *s)
{
	static int tty = -1;
	if (tty < 0)
		tty = isatty(2);
	const char *label = ctx ? ctx : "train";
	if (tty) {
		int width = 30, fill = s->total ? (int)(width * s->done / s->total) : width;
		/* Redraw at most ~20 times a second's worth of batches. */
		if (!s->epoch_end && (s->done / 64) % 16)
			return;
		fprintf(stderr, "\r%s: epoch %d/%d [", label, s->epoch, s->epochs);
		for (int i = 0; i < width; i++)
			fputc(i < fill ? '#' : '.', stderr);
		fprintf(stderr, "] %3d%% loss %.4f lr %.5f %.0f img/s%s", (int)(100 * s->done / (s->total ? s->total : 1)),
			s->loss, s->lr, s->images_per_s, s->epoch_end ? "\n" : "");
		fflush(stderr);
	} else if (s->epoch_end) {
		fprintf(stderr, "%s: epoch %d/%d loss %.4f lr %.5f %.0f img/s\n", label, s->epoch, s->epochs, s->loss,
			s->lr, s->images_per_s);
	}
	for (size_t i = 0; i < s->nquant; i++) { /* a quantised epoch's formats */
		const dcc_quant_epoch *q = &s->quant[i];
		char w[16] = "-", a[16] = "-", e[16] = "-";
		if (q->fl_w != DCC_FL_AUTO)
			snprintf(w, sizeof(w), "%d", q->fl_w);
		if (q->a.n)
			snprintf(a, sizeof(a), "%d", q->a.fl);
		if (q->e.n)
			snprintf(e, sizeof(e), "%d", q->e.fl);
		double na = q->a.n ? (double)q->a.n : 1, ne = q->e.n ? (double)q->e.n : 1;
		fprintf(stderr, "%s:   %-10s fl w %3s  act %3s (overflow %.3f%%, underflow %.2f%%)  err %3s (overflow %.3f%%, "
			"underflow %.2f%%)\n", label, q->layer, w, a, 100 * (double)q->a.overflow / na,
			100 * (double)q->a.underflow / na, e, 100 * (double)q->e.overflow / ne, 100 * (double)q->e.underflow / ne);
	}
}

int cmd_parse_schedule(const char *usage, const char *s, dcc_train_opts *o)
{
	dcc_error e = {0};
	return dcc_lr_schedule_parse(s, o, &e) ? cmd_usage_error(usage, "--lr-schedule: %s", e.msg) : 0;
}

/* A spec's error: a usage error, one line. */
static int spec_error(const char *usage, const dcc_error *e)
{
	return cmd_usage_error(usage, "%s", e->msg);
}

int cmd_parse_layer_ints(const char *usage, const char *opt, const char *spec, size_t n,
			 const char *const *layer, const char *const *tensor, const int *op, long lo, long hi,
			 int *out)
{
	char what[64];
	snprintf(what, sizeof(what), "a bit count in %ld..%ld", lo, hi);
	dcc_spec_opts so = {opt, what, (double)lo, (double)hi, 0, 1, 1, 0};
	dcc_prunable *p = calloc(n ? n : 1, sizeof(*p));
	double *v = calloc(n ? n : 1, sizeof(double));
	dcc_error e = {0};
	int rc = p && v ? 0 : cmd_usage_error(usage, "out of memory");
	for (size_t i = 0; !rc && i < n; i++)
		p[i].layer = (char *)layer[i], p[i].tensor = (char *)tensor[i], p[i].op = op[i];
	if (!rc && dcc_layer_spec(spec, p, n, &so, v, &e))
		rc = spec_error(usage, &e);
	for (size_t i = 0; !rc && i < n; i++)
		out[i] = isnan(v[i]) ? 0 : (int)v[i];
	free(p), free(v);
	return rc;
}

int cmd_parse_layer_spec(const char *usage, const char *opt, const char *spec, const dcc_prunable *p, size_t n,
			 int first_ok, int bank, double *t)
{
	dcc_spec_opts so = bank ? (dcc_spec_opts){opt, "a bank size in 1..65536", 1, 65536, 0, 1, 0, !first_ok, 1}
				: (dcc_spec_opts){opt, "a fraction in [0, 1)", 0, 1, 1, 0, 0, !first_ok, 1};
	dcc_error e = {0};
	return dcc_layer_spec(spec, p, n, &so, t, &e) ? spec_error(usage, &e) : 0;
}

int cmd_parse_banks(const char *usage, const char *spec, const dcc_prunable *p, size_t n, const double *tg,
		    double *bk)
{
	int rc = cmd_parse_layer_spec(usage, "--bank", spec, p, n, 1, 1, bk);
	for (size_t i = 0; !rc && i < n; i++)
		if (!isnan(tg[i]) && isnan(bk[i]))
			rc = cmd_usage_error(usage, "--bank '%s' gives no bank size for '%s' (name it, or add default=B)", spec,
					     p[i].tensor);
	return rc;
}

int cmd_check_split(const char *usage, const char *split)
{
	if (!split || !strcmp(split, "train") || !strcmp(split, "val") || !strcmp(split, "test"))
		return 0;
	return cmd_usage_error(usage, "--split: '%s' is not train, val or test", split);
}

int cmd_data_fits(const char *model, const dcc_net *n, const dcc_dataset *d, int labels)
{
	dcc_error e = {0};
	if (!dcc_net_fits(n, d, labels, &e))
		return 0;
	if (model)
		cmd_err("%s: %s: %s", model, d->source, e.msg);
	else
		cmd_err("%s: %s", d->source, e.msg);
	return EXIT_FAIL;
}

int cmd_runnable_open(const char *path, int fixed, cmd_runnable *r)
{
	memset(r, 0, sizeof(*r));
	r->path = path;
	dcc_error e = {0};
	if (cmd_file_is(path, DCC_FILE_DCB) ? cmd_load_blob(path, &r->m, NULL, NULL, NULL) : cmd_load(path, &r->m))
		return EXIT_FAIL;
	int rc = dcc_net_from_model(r->m, &r->n, &e);
	dcc_qfmt *fmt = NULL;
	int in_bw = 0, in_fl = 0;
	if (!rc && fixed) {
		rc = dcc_fixed_formats(r->m, r->n, &fmt, &in_bw, &in_fl, &e);
		if (!rc)
			rc = dcc_qnet_build(r->n, fmt, in_bw, in_fl, &r->q, &e);
	}
	free(fmt);
	if (rc) {
		cmd_fail(path, &e);
		cmd_runnable_free(r);
		return EXIT_FAIL;
	}
	return 0;
}

void cmd_runnable_free(cmd_runnable *r)
{
	dcc_qnet_free(r->q);
	dcc_net_free(r->n);
	dcc_model_free(r->m);
	memset(r, 0, sizeof(*r));
}

/* ---- the compression stages' option tail and retraining (stage.h): Deep
 * Compression's masked retraining after pruning, DSD's phases, centroid
 * fine-tuning -- through lib/nn, with one set of options ---- */

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
	case CMD_O_AUGMENT: {
		dcc_train_opts o = {0};
		dcc_error e = {0};
		if (dcc_augment_parse(arg, &o, &e))
			return cmd_usage_error(s->usage, "--augment: %s", e.msg);
		s->aug_flip = o.augment_flip, s->aug_crop = o.augment_crop;
		break;
	}
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
		o.augment_flip = s->aug_flip, o.augment_crop = s->aug_crop;
		s->augmented |= s->aug_flip || s->aug_crop;
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

const char *cmd_stage_recipe(const cmd_stage *s, char *buf, size_t cap)
{
	dcc_train_opts o = {.augment_flip = s->aug_flip, .augment_crop = s->aug_crop};
	char aug[32];
	if (s->augmented)
		snprintf(buf, cap, " augment=%s", dcc_augment_text(&o, aug, sizeof(aug)));
	else if (cap)
		buf[0] = 0;
	return buf;
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

/* ---- a head's figures (dcc_eval_result) as JSON and as the words eval,
 * emu and run print: top-1 (and top-5) accuracy for a classifier, accuracy
 * at 0.5 with precision and recall for sigmoid outputs, mean squared and
 * absolute error for regression ---- */

static void put_num(json_t *o, const char *k, double v)
{
	json_object_set_new(o, k, isnan(v) ? json_null() : json_real(v));
}

void cmd_figures_json(json_t *o, const dcc_eval_result *r)
{
	json_object_set_new(o, "head", json_string(dcc_op_name(r->head)));
	if (r->head == DCC_OP_MSE) {
		put_num(o, "mse", r->mse);
		put_num(o, "mae", r->mae);
		return;
	}
	json_object_set_new(o, "correct", json_integer((json_int_t)r->correct));
	put_num(o, "accuracy", r->accuracy);
	if (r->head == DCC_OP_SOFTMAX_CE && !isnan(r->top5))
		put_num(o, "top5", r->top5);
	if (r->head == DCC_OP_BCE) {
		put_num(o, "precision", r->precision);
		put_num(o, "recall", r->recall);
	}
}

const char *cmd_figures_text(json_t *o, char *buf, size_t cap)
{
	size_t n = 0;
	buf[0] = 0;
	json_t *v;
#define ADD(...) (n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, __VA_ARGS__))
	if (json_is_number(v = json_object_get(o, "accuracy")))
		ADD(", accuracy %.2f%%", 100 * json_number_value(v));
	if (json_is_number(v) && json_is_integer(json_object_get(o, "correct")))
		ADD(" (%lld correct)", (long long)json_integer_value(json_object_get(o, "correct")));
	if (json_is_number(v = json_object_get(o, "top5")))
		ADD(", top-5 %.2f%%", 100 * json_number_value(v));
	if ((v = json_object_get(o, "precision")))
		json_is_number(v) ? ADD(", precision %.4f", json_number_value(v)) : ADD(", precision -");
	if ((v = json_object_get(o, "recall")))
		json_is_number(v) ? ADD(", recall %.4f", json_number_value(v)) : ADD(", recall -");
	if (json_is_number(v = json_object_get(o, "mse")))
		ADD(", mse %.6g", json_number_value(v));
	if (json_is_number(v = json_object_get(o, "mae")))
		ADD(", mae %.6g", json_number_value(v));
#undef ADD
	return buf;
}

/* ---- an emulator run's energy (lib/accel/energy.c) as JSON and text:
 * energy per inference, power, pJ/op, GOP/s/W, the breakdown by module and
 * by event kind; areas by module ---- */

json_t *cmd_energy_json(const dcc_energy_table *t, const dcc_energy *e, double runs, const dcc_accel_cfg *c, int area)
{
	dcc_energy_figures f;
	dcc_energy_figures_of(e, runs, c, &f);
	double r = runs > 0 ? runs : 1;
	json_t *o = json_pack("{s:s, s:f, s:f, s:f, s:f, s:f, s:f}", "table", t->name, "energy_uj", f.energy_uj, "power_mw",
			      f.power_mw, "pj_per_op", f.pj_per_op, "gops_per_w", f.gops_per_w, "dense_gops_per_w",
			      f.dense_gops_per_w, "static_share", e->total_pj > 0 ? e->static_pj / e->total_pj : 0.0);
	json_t *bd = json_object(), *ev = json_object(), *ar = json_object();
	double mm2 = 0;
	for (size_t m = 0; m < t->nmod; m++) {
		json_object_set_new(bd, t->mod[m], json_real(e->total_pj > 0 ? e->mod_pj[m] / e->total_pj : 0));
		json_object_set_new(ar, t->mod[m], json_real(t->area_um2[m] * c->pes * 1e-6));
		mm2 += t->area_um2[m] * c->pes * 1e-6;
	}
	for (int k = 0; k < DCC_EV_N; k++)
		json_object_set_new(ev, dcc_event_name(k), json_real(e->ev_pj[k] / r));
	json_object_set_new(o, "breakdown", bd);
	json_object_set_new(o, "events_pj", ev);
	if (area) {
		json_object_set_new(o, "area_mm2", ar);
		json_object_set_new(o, "area_total_mm2", json_real(mm2));
	} else {
		json_decref(ar);
	}
	return o;
}

void cmd_energy_print(json_t *o)
{
	if (!o)
		return;
	printf("  energy (%s): %.4g uJ per input, %.4g mW, %.3g pJ/op, %.4g GOP/s/W (%.4g on the dense work)\n",
	       json_string_value(json_object_get(o, "table")), json_real_value(json_object_get(o, "energy_uj")),
	       json_real_value(json_object_get(o, "power_mw")), json_real_value(json_object_get(o, "pj_per_op")),
	       json_real_value(json_object_get(o, "gops_per_w")), json_real_value(json_object_get(o, "dense_gops_per_w")));
	const char *k;
	json_t *v;
	printf("    by module:");
	json_object_foreach(json_object_get(o, "breakdown"), k, v)
		if (json_real_value(v) > 0)
			printf(" %s %.1f%%", k, 100 * json_real_value(v));
	printf(" (static %.1f%%)\n    by event (pJ):", 100 * json_real_value(json_object_get(o, "static_share")));
	json_object_foreach(json_object_get(o, "events_pj"), k, v)
		if (json_real_value(v) > 0)
			printf(" %s %.4g", k, json_real_value(v));
	putchar('\n');
	json_t *a = json_object_get(o, "area_mm2");
	if (a && json_real_value(json_object_get(o, "area_total_mm2")) > 0) {
		printf("    area: %.3g mm2:", json_real_value(json_object_get(o, "area_total_mm2")));
		json_object_foreach(a, k, v)
			if (json_real_value(v) > 0)
				printf(" %s %.3g", k, json_real_value(v));
		putchar('\n');
	}
}
