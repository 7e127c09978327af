/* energy.c: energy and power from the emulator's event counts and an
 * energy table (formats/energy.md): each event's count times its energy
 * (a sparse-matrix SRAM read scaled to the configured width), plus every
 * module's static energy per PE-cycle; areas per PE times the PEs. */
#include <math.h>
#include <string.h>

#include "../dcc_accel.h"

/* The width of the operand event ev's energy grows with, on machine c. */
static double operand_bits(int ev, const dcc_accel_cfg *c)
{
	double a = c->act_bits > 0 ? c->act_bits : 16;
	switch (dcc_event_width_kind(ev)) {
	case DCC_W_SRAM: return c->sram_bits;
	case DCC_W_ACT: return a;
	case DCC_W_ACC: return 2 * a;
	case DCC_W_QUEUE: return a + 16;
	default: return 0;
	}
}

double dcc_event_pj(const dcc_energy_table *t, int ev, const dcc_accel_cfg *c)
{
	double e = t->pj[ev], w = operand_bits(ev, c);
	if (t->width[ev] > 0 && w > 0)
		e *= pow((w + t->fixed[ev]) / (t->width[ev] + t->fixed[ev]), t->scale[ev]);
	return e;
}

void dcc_energy_add_events(const dcc_energy_table *t, int ev, double count, const dcc_accel_cfg *c, dcc_energy *e)
{
	double pj = count * dcc_event_pj(t, ev, c);
	e->ev_pj[ev] += pj;
	e->mod_pj[t->module[ev]] += pj;
	e->total_pj += pj;
}

void dcc_energy_add(const dcc_energy_table *t, const dcc_layer_stats *l, const dcc_accel_cfg *c, dcc_energy *e)
{
	for (int ev = 0; ev < DCC_EV_N; ev++)
		dcc_energy_add_events(t, ev, (double)l->ev[ev], c, e);
	for (size_t m = 0; m < t->nmod; m++) { /* clock and leakage */
		double pj = (double)l->ev[DCC_EV_PE_CYCLE] * t->cycle_pj[m];
		e->mod_pj[m] += pj;
		e->static_pj += pj;
		e->total_pj += pj;
	}
	e->cycles += (double)l->cycles;
	e->macs += (double)l->macs;
	e->dense_macs += (double)l->dense_macs;
}

void dcc_energy_figures_of(const dcc_energy *e, double runs, const dcc_accel_cfg *c, dcc_energy_figures *f)
{
	double r = runs > 0 ? runs : 1, pj = e->total_pj / r, s = e->cycles / r / (c->freq_mhz * 1e6);
	f->energy_uj = pj * 1e-6;
	f->power_mw = s > 0 ? pj * 1e-12 / s * 1e3 : 0;
	f->pj_per_op = e->macs > 0 ? e->total_pj / (2 * e->macs) : 0;
	f->gops_per_w = e->total_pj > 0 ? 2 * e->macs / (e->total_pj * 1e-12) / 1e9 : 0;
	f->dense_gops_per_w = e->total_pj > 0 ? 2 * e->dense_macs / (e->total_pj * 1e-12) / 1e9 : 0;
}
