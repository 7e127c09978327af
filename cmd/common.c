/* common.c: shared plumbing of the subcommands (see common.h). */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <math.h>
#include <unistd.h>

#include "../lib/dcc_fixed.h"
#include "../lib/dcc_encode.h"
#include "../lib/dcc_isa.h"
#include "../lib/dcc_nn.h"
#include "../lib/dcc_prune.h"
#include "common.h"

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
	dcc_spec_opts so = bank ? (dcc_spec_opts){opt, "a bank size in 1..65536", 1, 65536, 0, 1, 0, !first_ok}
				: (dcc_spec_opts){opt, "a fraction in [0, 1)", 0, 1, 1, 0, 0, !first_ok};
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
		if (rc == DCC_E_NOTFOUND && fixed == CMD_FIXED_IF_ANY)
			rc = 0;
		else if (!rc)
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
