/* common.c: shared plumbing of the subcommands (see common.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

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

int cmd_usage_error(const char *usage, const char *fmt, ...)
{
	if (fmt) {
		va_list ap;
		fprintf(stderr, "%s: ", cmd_name);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	fputs(usage, stderr);
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
	if (dcc_model_set_str(m, "dcc.version", DCC_VERSION_STRING)) {
		cmd_err("out of memory");
		return EXIT_FAIL;
	}
	if (dcc_out_open(&o, path, inputs, force, &e))
		return cmd_fail(NULL, &e);
	if (dcc_dct_write(o.fp, m, &e) || dcc_out_commit(&o, &e)) {
		dcc_out_abort(&o);
		return cmd_fail(path, &e);
	}
	return 0;
}

int cmd_provenance(dcc_model *m, const char *line)
{
	return dcc_model_append_str(m, "dcc.provenance", line);
}

int cmd_parse_double(const char *usage, const char *opt, const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (!*s || *end || errno)
		return cmd_usage_error(usage, "%s: '%s' is not a number", opt, s);
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
