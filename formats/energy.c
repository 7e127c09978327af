/* energy.c: energy and area tables (formats/energy.md): the text read
 * into a dcc_energy_table, every line checked; the tables dcc ships are
 * built in (formats/energy/NAME.energy, embedded at build time). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/core/internal.h"
#include "../lib/dcc_isa.h"
#include "dcc_formats.h"

/* The built-in tables (the build's gen/energy_tables.c). */
extern const char *const dcc_energy_builtin[][2];

static int module_of(dcc_energy_table *t, const char *name)
{
	for (size_t m = 0; m < t->nmod; m++)
		if (!strcmp(t->mod[m], name))
			return (int)m;
	return -1;
}

/* "key=number" with a finite value >= 0; *ok cleared on anything else. */
static double kv_num(const char *tok, const char *key, int *ok)
{
	size_t k = strlen(key);
	if (strncmp(tok, key, k) || tok[k] != '=')
		return *ok = 0, 0;
	char *end;
	errno = 0;
	double v = strtod(tok + k + 1, &end);
	if (end == tok + k + 1 || *end || errno || !isfinite(v) || v < 0)
		*ok = 0;
	return v;
}

static int parse_line(char **tok, int n, dcc_energy_table *t, int *seen, const char *src, int line, dcc_error *err)
{
	int ok = 1;
	if (!strcmp(tok[0], "name") && n == 2) {
		snprintf(t->name, sizeof(t->name), "%s", tok[1]);
		return 0;
	}
	if (!strcmp(tok[0], "module") && n >= 2 && n <= 4) {
		if (module_of(t, tok[1]) >= 0 || t->nmod == DCC_ENERGY_MODULES || strlen(tok[1]) >= 32)
			return dcc_fail(err, DCC_E_FORMAT, "%s: line %d: module '%s' given twice, too long or one too many", src,
					line, tok[1]);
		size_t m = t->nmod++;
		snprintf(t->mod[m], sizeof(t->mod[m]), "%s", tok[1]);
		for (int k = 2; k < n && ok; k++)
			if (!strncmp(tok[k], "area_um2=", 9))
				t->area_um2[m] = kv_num(tok[k], "area_um2", &ok);
			else if (!strncmp(tok[k], "cycle_pj=", 9))
				t->cycle_pj[m] = kv_num(tok[k], "cycle_pj", &ok);
			else
				ok = 0;
		return ok ? 0 : dcc_fail(err, DCC_E_FORMAT, "%s: line %d: want 'module NAME [area_um2=X] [cycle_pj=X]'", src, line);
	}
	if (!strcmp(tok[0], "event") && n >= 5) {
		int ev = dcc_event_from_name(tok[1]), m = module_of(t, tok[4]);
		char *end;
		double pj = strtod(tok[2], &end);
		if (ev < 0)
			return dcc_fail(err, DCC_E_FORMAT, "%s: line %d: no event '%s'", src, line, tok[1]);
		if (seen[ev])
			return dcc_fail(err, DCC_E_FORMAT, "%s: line %d: event '%s' given twice", src, line, tok[1]);
		if (end == tok[2] || *end || !isfinite(pj) || pj < 0)
			return dcc_fail(err, DCC_E_FORMAT, "%s: line %d: '%s' is not an energy (a number >= 0)", src, line, tok[2]);
		if (strcmp(tok[3], "pJ"))
			return dcc_fail(err, DCC_E_FORMAT, "%s: line %d: the unit is '%s', not pJ", src, line, tok[3]);
		if (m < 0)
			return dcc_fail(err, DCC_E_FORMAT, "%s: line %d: module '%s' not declared before", src, line, tok[4]);
		t->pj[ev] = pj, t->module[ev] = m, seen[ev] = 1;
		double w = 0;
		for (int k = 5; k < n && ok; k++)
			if (!strncmp(tok[k], "width=", 6))
				w = kv_num(tok[k], "width", &ok);
			else if (!strncmp(tok[k], "scale=", 6))
				t->scale[ev] = kv_num(tok[k], "scale", &ok);
			else if (!strncmp(tok[k], "fixed=", 6))
				t->fixed[ev] = kv_num(tok[k], "fixed", &ok);
			else
				ok = 0;
		if (ok && (w > 4096 || w != floor(w) || t->scale[ev] > 4 || t->fixed[ev] > 4096 ||
			   (dcc_event_width_kind(ev) == DCC_W_NONE && (w || t->fixed[ev])) || (t->fixed[ev] && !w)))
			ok = 0;
		t->width[ev] = ok ? (int)w : 0; /* bounded before the conversion */
		return ok ? 0 : dcc_fail(err, DCC_E_FORMAT, "%s: line %d: want 'event NAME PJ pJ MODULE "
				       "[width=BITS scale=S fixed=BITS]' (not for pointers, DRAM bytes or cycles; width and "
				       "fixed up to 4096, scale up to 4)", src, line);
	}
	return dcc_fail(err, DCC_E_FORMAT, "%s: line %d: '%s' is not name, module or event (formats/energy.md)", src, line,
			tok[0]);
}

int dcc_energy_parse(const char *text, size_t len, const char *src, dcc_energy_table *t, dcc_error *err)
{
	memset(t, 0, sizeof(*t));
	int seen[DCC_EV_N] = {0}, line = 0, rc = 0, header = 0;
	size_t i = 0;
	while (i < len && !rc) {
		char buf[512], *tok[16];
		size_t n = 0;
		line++;
		while (i < len && text[i] != '\n') {
			if (n + 1 >= sizeof(buf))
				return dcc_fail(err, DCC_E_FORMAT, "%s: line %d is too long", src, line);
			if (!text[i] || (!isprint((unsigned char)text[i]) && text[i] != '\t' && text[i] != '\r'))
				return dcc_fail(err, DCC_E_FORMAT, "%s: line %d: not text", src, line);
			buf[n++] = text[i++];
		}
		i++;
		buf[n] = 0;
		char *hash = strchr(buf, '#');
		if (hash)
			*hash = 0;
		int nt = 0;
		for (char *s = strtok(buf, " \t\r"); s; s = strtok(NULL, " \t\r")) {
			if (nt == 16)
				return dcc_fail(err, DCC_E_FORMAT, "%s: line %d: too many words", src, line);
			tok[nt++] = s;
		}
		if (!nt)
			continue;
		if (!header) {
			if (nt != 2 || strcmp(tok[0], "dcc-energy") || strcmp(tok[1], "1"))
				return dcc_fail(err, DCC_E_FORMAT, "%s: not a dcc energy table (its first line is 'dcc-energy 1')", src);
			header = 1;
			continue;
		}
		rc = parse_line(tok, nt, t, seen, src, line, err);
	}
	if (!rc && !header)
		rc = dcc_fail(err, DCC_E_FORMAT, "%s: not a dcc energy table (its first line is 'dcc-energy 1')", src);
	for (int ev = 0; !rc && ev < DCC_EV_N; ev++)
		if (!seen[ev])
			rc = dcc_fail(err, DCC_E_FORMAT, "%s: no energy for event '%s'", src, dcc_event_name(ev));
	if (!rc && !t->name[0])
		snprintf(t->name, sizeof(t->name), "%s", src);
	return rc;
}

int dcc_energy_load(const char *what, dcc_energy_table *t, dcc_error *err)
{
	for (size_t k = 0; dcc_energy_builtin[k][0]; k++)
		if (!strcmp(what, dcc_energy_builtin[k][0]))
			return dcc_energy_parse(dcc_energy_builtin[k][1], strlen(dcc_energy_builtin[k][1]), what, t, err);
	uint8_t *b;
	size_t n;
	int rc = dcc_read_file(what, (size_t)1 << 20, &b, &n, err);
	if (rc)
		return rc == DCC_E_IO && !strchr(what, '/') && !strchr(what, '.')
			       ? dcc_fail(err, DCC_E_NOTFOUND, "no energy table '%s' (built in: 45nm, 45nm-float32, eie-pe; or a "
					  "file)", what)
			       : dcc_fail(err, rc, "%s: %s", what, err->msg);
	rc = dcc_energy_parse((const char *)b, n, what, t, err);
	free(b);
	return rc;
}
