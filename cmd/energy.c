/* energy.c: the energy figures of an emulator run (lib/accel/energy.c) as
 * JSON and as text: energy per inference, power, pJ/op, GOP/s/W, and the
 * breakdown by module and by event kind; areas by module. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>

#include "../lib/dcc_accel.h"
#include "common.h"

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
