/* rng.c: xoshiro256** seeded by splitmix64 -- the same stream for the same seed
 * on every machine, so `--seed` makes training and initialisation repeatable. */
#include <math.h>

#include "internal.h"

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

void dcc_rng_seed(dcc_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t dcc_rng_next(dcc_rng *r)
{
	uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

double dcc_rng_uniform(dcc_rng *r)
{
	return (double)(dcc_rng_next(r) >> 11) * 0x1.0p-53;
}

double dcc_rng_normal(dcc_rng *r)
{
	/* Box-Muller; the second value is discarded to keep the stream simple. */
	double u = dcc_rng_uniform(r), v = dcc_rng_uniform(r);
	if (u < 1e-300)
		u = 1e-300;
	return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}
