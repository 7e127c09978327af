/* fuzz_energy.c: libFuzzer target for the energy table reader; an
 * accepted table prices a synthetic layer's events. */
#include <math.h>
#include <stdlib.h>

#include "dcc.h"
#include "dcc_accel.h"
#include "dcc_formats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	dcc_energy_table t;
	dcc_error e;
	if (dcc_energy_parse((const char *)data, size, "fuzz", &t, &e) == 0) {
		dcc_layer_stats l = {0};
		dcc_accel_cfg c;
		dcc_accel_defaults(&c);
		for (int k = 0; k < DCC_EV_N; k++)
			l.ev[k] = 1000 + (uint64_t)k;
		l.cycles = 100;
		dcc_energy en = {0};
		dcc_energy_add(&t, &l, &c, &en);
		dcc_energy_figures f;
		dcc_energy_figures_of(&en, 1, &c, &f);
		if (!isfinite(f.energy_uj) && t.nmod) /* finite inputs give a finite energy */
			abort();
	}
	return 0;
}
