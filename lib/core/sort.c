/* sort.c: sorting and selection on floats, shared by the stages: an
 * LSD/MSD radix sort on order-preserving keys (weight sharing sorts every
 * layer's survivors) and the k-th smallest magnitude by radix selection
 * (pruning's threshold), neither of which needs a comparison. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- in-place MSD radix sort on order-preserving keys ---- */

static inline uint32_t to_key(uint32_t u) { return u & 0x80000000u ? ~u : u | 0x80000000u; }
static inline uint32_t from_key(uint32_t k) { return k & 0x80000000u ? k & 0x7fffffffu : ~k; }

static void msd(uint32_t *a, size_t n, int shift)
{
	if (n < 48) {
		for (size_t i = 1; i < n; i++) {
			uint32_t v = a[i];
			size_t j = i;
			for (; j > 0 && a[j - 1] > v; j--)
				a[j] = a[j - 1];
			a[j] = v;
		}
		return;
	}
	size_t cnt[256] = {0}, next[256], end[256];
	for (size_t i = 0; i < n; i++)
		cnt[(a[i] >> shift) & 255]++;
	size_t s = 0;
	for (int b = 0; b < 256; b++) {
		next[b] = s;
		s += cnt[b];
		end[b] = s;
	}
	for (int b = 0; b < 256; b++)
		while (next[b] < end[b]) {
			uint32_t v = a[next[b]];
			unsigned d = (v >> shift) & 255;
			while (d != (unsigned)b) {
				uint32_t t = a[next[d]];
				a[next[d]++] = v;
				v = t;
				d = (v >> shift) & 255;
			}
			a[next[b]++] = v;
		}
	if (shift == 0)
		return;
	size_t lo = 0;
	for (int b = 0; b < 256; b++) {
		if (cnt[b] > 1)
			msd(a + lo, cnt[b], shift - 8);
		lo += cnt[b];
	}
}

/* After the first pass the 256 buckets are independent: threads take them
 * in turn, largest first. */
typedef struct sort_job {
	uint32_t *a;
	size_t lo[256], cnt[256];
	int order[256];
	int next; /* guarded by the atomic below */
} sort_job;

static void sort_worker(void *arg, int t)
{
	(void)t;
	sort_job *j = arg;
	for (;;) {
		int b = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
		if (b >= 256)
			return;
		int q = j->order[b];
		if (j->cnt[q] > 1)
			msd(j->a + j->lo[q], j->cnt[q], 16);
	}
}

/* LSD radix with a buffer: keys made in the counting pass, then three
 * stable scatters of 11, 11 and 10 bits, the last back to floats. */
static int lsd(uint32_t *a, uint32_t *b, size_t n)
{
	size_t *h = calloc(3 * 2048, sizeof(size_t));
	if (!h)
		return -1;
	for (size_t i = 0; i < n; i++) {
		uint32_t k = to_key(a[i]);
		a[i] = k;
		h[k & 2047]++;
		h[2048 + ((k >> 11) & 2047)]++;
		h[4096 + (k >> 22)]++;
	}
	for (int p = 0; p < 3; p++) {
		size_t s = 0, *c = h + 2048 * p;
		for (int d = 0; d < 2048; d++) {
			size_t t = c[d];
			c[d] = s;
			s += t;
		}
	}
	for (size_t i = 0; i < n; i++)
		b[h[a[i] & 2047]++] = a[i];
	for (size_t i = 0; i < n; i++)
		a[h[2048 + ((b[i] >> 11) & 2047)]++] = b[i];
	for (size_t i = 0; i < n; i++)
		b[h[4096 + (a[i] >> 22)]++] = from_key(a[i]);
	memcpy(a, b, n * sizeof(uint32_t));
	free(h);
	return 0;
}

void dcc_sort_f32(float *x, size_t n, float *tmp)
{
	uint32_t *u = (uint32_t *)(void *)x;
	if (tmp && n >= 1024 && !lsd(u, (uint32_t *)(void *)tmp, n))
		return;
	for (size_t i = 0; i < n; i++) {
		uint32_t v;
		memcpy(&v, &x[i], 4);
		u[i] = to_key(v);
	}
	if (n < (1u << 20)) {
		msd(u, n, 24);
	} else { /* one pass on the top byte, then the buckets in parallel */
		sort_job *j = calloc(1, sizeof(*j));
		if (!j) {
			msd(u, n, 24);
		} else {
			for (size_t i = 0; i < n; i++)
				j->cnt[u[i] >> 24]++;
			size_t next[256], end[256], s = 0;
			for (int b = 0; b < 256; b++) {
				j->lo[b] = next[b] = s;
				s += j->cnt[b];
				end[b] = s;
				j->order[b] = b;
			}
			for (int b = 0; b < 256; b++)
				while (next[b] < end[b]) {
					uint32_t v = u[next[b]];
					unsigned d = v >> 24;
					while (d != (unsigned)b) {
						uint32_t t = u[next[d]];
						u[next[d]++] = v;
						v = t;
						d = v >> 24;
					}
					u[next[b]++] = v;
				}
			for (int a = 1; a < 256; a++) { /* largest bucket first */
				int v = j->order[a], b = a;
				for (; b > 0 && j->cnt[j->order[b - 1]] < j->cnt[v]; b--)
					j->order[b] = j->order[b - 1];
				j->order[b] = v;
			}
			j->a = u;
			dcc_parallel(dcc_default_threads(), sort_worker, j);
			free(j);
		}
	}
	for (size_t i = 0; i < n; i++) {
		uint32_t v = from_key(u[i]);
		memcpy(&x[i], &v, 4);
	}
}


/* ---- selection by magnitude ---- */

/* The k-th smallest key over the spans: 11 + 11 + 10 bits. */
uint32_t dcc_select_abs_key(const dcc_fspan *s, size_t ns, uint64_t k)
{
	static const int shift[3] = {21, 10, 0}, width[3] = {11, 11, 10};
	uint32_t prefix = 0, pmask = 0;
	uint64_t hist[2048];
	for (int pass = 0; pass < 3; pass++) {
		memset(hist, 0, 2048 * sizeof(uint64_t));
		uint32_t bins = 1u << width[pass];
		for (size_t j = 0; j < ns; j++)
			for (size_t i = 0; i < s[j].n; i++) {
				uint32_t u = dcc_abs_key(s[j].x[i]);
				if ((u & pmask) == prefix)
					hist[(u >> shift[pass]) & (bins - 1)]++;
			}
		uint32_t b = 0;
		while (b + 1 < bins && hist[b] <= k) {
			k -= hist[b];
			b++;
		}
		prefix |= b << shift[pass];
		pmask |= (bins - 1) << shift[pass];
	}
	return prefix;
}

float dcc_select_abs(const float *x, size_t n, size_t k)
{
	dcc_fspan s = {x, n};
	uint32_t u = dcc_select_abs_key(&s, 1, k);
	float f;
	memcpy(&f, &u, 4);
	return f;
}
