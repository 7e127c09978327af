/* huffbench.c: Huffman decoding speed on one core -- a weight-like stream
 * (rounded Gaussian over 32 symbols) of N symbols encoded once, decoded R
 * times; writes the symbols one byte each to FILE for the zstd peer.
 *   huffbench N R FILE   prints: decoded_MB_per_s bits_per_symbol */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../lib/dcc_encode.h"

int main(int argc, char **argv)
{
	if (argc != 4)
		return 2;
	size_t n = (size_t)atol(argv[1]);
	int reps = atoi(argv[2]);
	uint32_t *s = malloc(n * sizeof(uint32_t)), *d = malloc(n * sizeof(uint32_t));
	uint8_t *bytes = malloc(n);
	if (!s || !d || !bytes)
		return 1;
	uint64_t x = 88172645463325252ull;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		double u1 = (double)(x >> 11) * 0x1.0p-53 + 1e-12;
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		double u2 = (double)(x >> 11) * 0x1.0p-53;
		double g = sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
		int v = (int)lround(16 + 4 * g);
		s[i] = (uint32_t)(v < 0 ? 0 : v > 31 ? 31 : v);
		bytes[i] = (uint8_t)s[i];
	}
	FILE *f = fopen(argv[3], "wb");
	if (!f || fwrite(bytes, 1, n, f) != n || fclose(f))
		return 1;
	uint8_t *enc = NULL;
	size_t len = 0, tb;
	dcc_error e = {0};
	if (dcc_huff_encode(s, n, 32, &enc, &len, &tb, &e))
		return 1;
	struct timespec t0, t1;
	double best = 1e9;
	for (int r = 0; r < reps; r++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (dcc_huff_decode(enc, len, n, 32, d, &e))
			return 1;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		double t = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
		best = t < best ? t : best;
	}
	if (memcmp(s, d, n * sizeof(uint32_t)))
		return 1;
	printf("%.0f %.3f\n", (double)n / best / 1e6, 8.0 * (double)len / (double)n);
	return 0;
}
