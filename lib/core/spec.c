/* spec.c: per-layer values from the command line -- "V" for every layer, or
 * KEY=V,... where KEY is a layer, a tensor, a kind (fc, conv, lstm: where
 * allowed) or default -- mapped onto the weighted nodes, each value checked
 * against its range, a key given twice or naming no layer refused. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../dcc_graph.h"
#include "internal.h"

static int kind_of(const char *k)
{
	return !strcmp(k, "fc") ? DCC_OP_FC : !strcmp(k, "conv") ? DCC_OP_CONV2D : !strcmp(k, "lstm") ? DCC_OP_LSTM : 0;
}

/* The value of one token, in range. */
static int value(const dcc_spec_opts *o, const char *val, double *v, dcc_error *err)
{
	char *end;
	double f = strtod(val, &end);
	int ok = *val && !*end && f >= o->lo && (o->hi_open ? f < o->hi : f <= o->hi) && (!o->integer || f == floor(f));
	if (!ok)
		return dcc_fail(err, DCC_E_ARG, "%s: '%s' is not %s", o->opt, val, o->what);
	*v = f;
	return 0;
}

int dcc_layer_spec(const char *spec, const dcc_prunable *p, size_t n, const dcc_spec_opts *o, double *out,
		   dcc_error *err)
{
	double def = NAN, kind[3] = {NAN, NAN, NAN};
	int has_default = 0, named_any = 0;
	char *s = dcc_strdup(spec), *save = NULL;
	uint8_t *named = calloc(n ? n : 1, 1);
	int rc = s && named ? 0 : dcc_fail(err, DCC_E_NOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		out[i] = NAN;
	for (char *tok = s ? strtok_r(s, ",", &save) : NULL; tok && !rc; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		double v = 0;
		if ((rc = value(o, eq ? eq + 1 : tok, &v, err)))
			break;
		if (eq)
			*eq = 0;
		int k = eq && o->kinds ? kind_of(tok) : 0;
		if (!eq || !strcmp(tok, "default")) {
			if (has_default)
				rc = dcc_fail(err, DCC_E_ARG, "%s: the default is given twice", o->opt);
			def = v, has_default = 1;
		} else if (k) {
			int ki = k == DCC_OP_FC ? 0 : k == DCC_OP_CONV2D ? 1 : 2;
			if (!isnan(kind[ki]))
				rc = dcc_fail(err, DCC_E_ARG, "%s: '%s' is given twice", o->opt, tok);
			kind[ki] = v;
		} else {
			int found = 0;
			for (size_t i = 0; i < n && !rc; i++)
				if (!strcmp(p[i].layer, tok) || (p[i].tensor && !strcmp(p[i].tensor, tok))) {
					if (named[i])
						rc = dcc_fail(err, DCC_E_ARG, "%s: '%s' is given twice", o->opt, tok);
					out[i] = v, named[i] = 1, found = 1;
				}
			if (!found && !rc) {
				char list[512];
				size_t q = 0;
				for (size_t i = 0; i < n && q + 4 < sizeof(list); i++)
					q += (size_t)snprintf(list + q, sizeof(list) - q, "%s%s", i ? ", " : "", p[i].tensor);
				rc = o->kinds ? dcc_fail(err, DCC_E_NOTFOUND, "%s: no layer '%s'", o->opt, tok)
					      : dcc_fail(err, DCC_E_NOTFOUND, "%s: no prunable layer '%s' (layers: %s)", o->opt, tok, list);
			}
			named_any = 1;
		}
	}
	if (!rc && !named_any && !has_default && isnan(kind[0]) && isnan(kind[1]) && isnan(kind[2]))
		rc = dcc_fail(err, DCC_E_ARG, "%s: empty", o->opt);
	for (size_t i = 0; i < n && !rc; i++) {
		if (named[i] || (o->skip_scales && p[i].scale))
			continue;
		double kv = p[i].op == DCC_OP_FC ? kind[0] : p[i].op == DCC_OP_CONV2D ? kind[1] : p[i].op == DCC_OP_LSTM ? kind[2] : NAN;
		if (!isnan(kv))
			out[i] = kv;
		else if (has_default && !(o->skip_first && p[i].first))
			out[i] = def;
	}
	free(s);
	free(named);
	return rc;
}
