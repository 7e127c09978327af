/* test_fixed.c: the fixed-point rules of formats/fixed.md against plain
 * references -- rounding shifts (half to even, negative shifts), saturation,
 * quantisation ties -- and the weight fl search against brute force. */
#include <math.h>
#include <stdlib.h>

#include "../../lib/dcc_fixed.h"
#include "check.h"

static unsigned long long seed = 4242;
static double urand(void) { return (double)(check_rng(&seed) >> 11) * 0x1.0p-53; }

/* rshift by exact rational arithmetic on long double */
static int64_t ref_rshift(int64_t v, int s)
{
	if (s <= 0)
		return v * ((int64_t)1 << -s);
	int64_t d = (int64_t)1 << s;
	int64_t q = v >= 0 ? v / d : -((-v + d - 1) / d); /* floor */
	int64_t r = v - q * d;
	if (2 * r > d || (2 * r == d && (q % 2 != 0)))
		q++;
	return q;
}

static void test_rules(void)
{
	int bad = 0;
	for (int i = 0; i < 200000; i++) {
		int64_t v = (int64_t)(check_rng(&seed) % 2000001) - 1000000;
		int s = (int)(check_rng(&seed) % 30) - 8;
		if (dcc_fx_rshift(v, s) != ref_rshift(v, s) && bad++ < 5)
			fprintf(stderr, "rshift(%lld, %d) = %lld, want %lld\n", (long long)v, s,
				(long long)dcc_fx_rshift(v, s), (long long)ref_rshift(v, s));
	}
	CHECK(bad == 0);
	/* ties go to even: 2.5 -> 2, 3.5 -> 4, -2.5 -> -2 */
	CHECK(dcc_fx_rshift(5, 1) == 2 && dcc_fx_rshift(7, 1) == 4 && dcc_fx_rshift(-5, 1) == -2);
	CHECK(dcc_fx_rshift(-7, 1) == -4 && dcc_fx_rshift(6, 2) == 2 && dcc_fx_rshift(-6, 2) == -2);
	CHECK(dcc_fx_sat(200, 8) == 127 && dcc_fx_sat(-200, 8) == -128 && dcc_fx_sat(5, 1) == 0 &&
	      dcc_fx_sat(-5, 1) == -1);
	CHECK(dcc_fx_quantize(0.375, 4, 2) == 2);  /* 1.5 -> 2 */
	CHECK(dcc_fx_quantize(0.625, 4, 2) == 2);  /* 2.5 -> 2 */
	CHECK(dcc_fx_quantize(-0.625, 4, 2) == -2);
	CHECK(dcc_fx_quantize(100.0, 8, 0) == 100 && dcc_fx_quantize(200.0, 8, 0) == 127);
	CHECK(dcc_fx_quantize(-1000.0, 8, 0) == -128);
	CHECK(dcc_fx_quantize(3.0, 8, -1) == 2);   /* 1.5 -> 2, value 4 */
	CHECK(dcc_fx_quantize(0.001, 8, 12) == 4); /* 4.096 -> 4 */
	CHECK(dcc_fx_quantize(NAN, 8, 0) == 0);
}

static void test_best_fl(void)
{
	float x[300];
	for (int round = 0; round < 60; round++) {
		int n = 1 + (int)(urand() * 300), bw = 2 + (int)(urand() * 14);
		double scale = ldexp(1.0, (int)(urand() * 20) - 12);
		for (int i = 0; i < n; i++)
			x[i] = (float)((urand() * 2 - 1) * scale * (i % 17 ? 1 : 6));
		double sse;
		int fl = dcc_fx_best_fl(x, (size_t)n, bw, &sse);
		double best = INFINITY;
		int bfl = 0;
		for (int f = DCC_FL_MIN; f <= DCC_FL_MAX; f++) {
			double s = dcc_fx_sse(x, (size_t)n, bw, f);
			if (s <= best)
				best = s, bfl = f;
		}
		CHECK_MSG(sse <= best * (1 + 1e-12) && fl == bfl, "round %d: fl %d (sse %g), brute force %d (%g)", round,
			  fl, sse, bfl, best);
	}
}

int main(void)
{
	test_rules();
	test_best_fl();
	return check_done("test_fixed");
}
