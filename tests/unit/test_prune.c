/* test_prune.c: pruning against brute force: dcc_prune_tensor's cut against
 * a stable sort by (magnitude, position) on one thread's and the parallel
 * path's sizes with many ties and on a pruned tensor; bank-balanced and
 * PE-balanced counts exact in every bank and PE; the iterative schedule's
 * densities; global pruning's one threshold. */
#include <math.h>
#include <stdlib.h>

#include "../../lib/dcc_prune.h"
#include "check.h"

static unsigned long long seed = 4242;
static double urand(void) { return (double)(check_rng(&seed) >> 11) * 0x1.0p-53; }

/* dcc_prune_tensor's unstructured cut against a stable sort of the masked
 * |w| by (magnitude, position): the k smallest cut, ties to the lower
 * position, masked weights counting as zero; on one thread's and on the
 * parallel path's sizes, with many ties, and pruning a pruned tensor. */
static int cmp_key_pos(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;
	return *x < *y ? -1 : *x > *y;
}

static void prune_against_sort(size_t n, int levels, double s1, double s2)
{
	dcc_model *m = dcc_model_new();
	dcc_error e = {0};
	uint64_t shape[2] = {(uint64_t)(n / 100), 100};
	dcc_tensor *t;
	CHECK(!dcc_model_add_zeros(m, "w", DCC_F32, 0, 0, 2, shape, &t, &e));
	float *w = t->data;
	for (size_t i = 0; i < n; i++) /* few levels: many ties; -0.0 among them */
		w[i] = levels ? (float)((int)(urand() * levels) - levels / 2) * 0.25f : (float)(urand() * 2 - 1);
	w[n / 3] = -0.0f;
	float *ref = malloc(n * sizeof(float));
	uint8_t *on = malloc(n);
	uint64_t *kp = malloc(n * sizeof(uint64_t));
	memcpy(ref, w, n * sizeof(float));
	for (size_t i = 0; i < n; i++)
		on[i] = 1;
	dcc_prunable p = {"w", "w", 0, 0, n / 100, 100};
	dcc_prune_spec ps = {DCC_PATTERN_UNSTRUCTURED, 0, 0};
	double sp[2] = {s1, s2};
	for (int round = 0; round < 2; round++) {
		CHECK(!dcc_prune_tensor(m, &p, sp[round], &ps, &e));
		size_t k = (size_t)llround(sp[round] * (double)n);
		for (size_t i = 0; i < n; i++) { /* (|w| bits, position), masked as zero */
			uint32_t u;
			float v = on[i] ? ref[i] : 0.0f;
			memcpy(&u, &v, 4);
			kp[i] = (uint64_t)(u & 0x7fffffffu) << 32 | i;
		}
		qsort(kp, n, sizeof(uint64_t), cmp_key_pos);
		for (size_t i = 0; i < k; i++)
			on[kp[i] & 0xffffffffu] = 0;
		t = dcc_model_find(m, "w");
		const uint8_t *mk = dcc_model_find(m, "w.mask")->data;
		size_t bad = 0;
		for (size_t i = 0; i < n; i++)
			bad += ((mk[i / 8] >> (i % 8)) & 1) != on[i] || ((float *)t->data)[i] != (on[i] ? ref[i] : 0.0f);
		CHECK_MSG(bad == 0, "n %zu, %d levels, sparsity %g: %zu positions differ from the sorted reference", n, levels,
			  sp[round], bad);
		size_t nz = 0;
		for (size_t i = 0; i < n; i++)
			nz += ((float *)t->data)[i] != 0.0f;
		CHECK_MSG(t->nnz == nz, "nnz %llu recorded, %zu counted", (unsigned long long)t->nnz, nz);
	}
	free(ref), free(on), free(kp);
	dcc_model_free(m);
}

static void test_prune_unstructured(void)
{
	prune_against_sort(1000, 0, 0.5, 0.9);
	prune_against_sort(1000, 7, 0.3, 0.8);
	prune_against_sort(3000000, 0, 0.9, 0.95);
	prune_against_sort(3000000, 9, 0.6, 0.7);
	prune_against_sort(3000000, 9, 0.7, 0.2); /* less than already cut: nothing more */
}


/* Bank-balanced: every bank of B in a row keeps round(B (1 - s)) weights,
 * the largest of its bank; PE-balanced: every PE the same count. */
static void test_patterns(void)
{
	dcc_model *m = dcc_model_new();
	dcc_error e = {0};
	uint64_t shape[2] = {12, 64};
	dcc_tensor *t;
	CHECK(!dcc_model_add_zeros(m, "w", DCC_F32, 0, 0, 2, shape, &t, &e));
	float *w = t->data;
	for (size_t i = 0; i < 12 * 64; i++)
		w[i] = (float)(urand() * 2 - 1);
	float ref[12 * 64];
	memcpy(ref, w, sizeof(ref));
	dcc_prunable p = {"w", "w", 0, 0, 12, 64};
	dcc_prune_spec bank = {DCC_PATTERN_BANK, 16, 0};
	CHECK(!dcc_prune_tensor(m, &p, 0.75, &bank, &e));
	t = dcc_model_find(m, "w");
	int ok = 1;
	for (int r = 0; r < 12; r++)
		for (int b = 0; b < 4; b++) {
			int kept = 0;
			float min_kept = 1e9f, max_cut = 0;
			for (int j = 0; j < 16; j++) {
				float v = ((float *)t->data)[r * 64 + b * 16 + j], a = fabsf(ref[r * 64 + b * 16 + j]);
				kept += v != 0;
				if (v != 0)
					min_kept = a < min_kept ? a : min_kept;
				else
					max_cut = a > max_cut ? a : max_cut;
			}
			ok &= kept == 4 && max_cut <= min_kept;
		}
	CHECK_MSG(ok, "bank-balanced: every bank of 16 keeps its 4 largest");
	memcpy(t->data, ref, sizeof(ref));
	dcc_model_remove(m, "w.mask");
	dcc_prune_spec pes = {DCC_PATTERN_PES, 0, 4};
	CHECK(!dcc_prune_tensor(m, &p, 0.5, &pes, &e));
	t = dcc_model_find(m, "w");
	int per[4] = {0, 0, 0, 0};
	for (int r = 0; r < 12; r++)
		for (int j = 0; j < 64; j++)
			per[r % 4] += ((float *)t->data)[r * 64 + j] != 0;
	CHECK_MSG(per[0] == 96 && per[1] == 96 && per[2] == 96 && per[3] == 96, "PE-balanced: %d %d %d %d kept", per[0],
		  per[1], per[2], per[3]);
	dcc_model_free(m);
}

/* The schedule: K steps with equal ratios of density, the last exact, a
 * callback after each; global pruning cuts its fraction of all weights. */
typedef struct step_log {
	int calls;
	double density[8];
	dcc_model *m;
} step_log;

static int note(void *ctx, int k, int steps, dcc_error *err)
{
	(void)steps, (void)err;
	step_log *s = ctx;
	dcc_tensor *t = dcc_model_find(s->m, "a");
	s->density[k - 1] = (double)t->nnz / (double)dcc_tensor_numel(t);
	s->calls++;
	return 0;
}

static void test_schedule(void)
{
	dcc_model *m = dcc_model_new();
	dcc_error e = {0};
	uint64_t sa[2] = {100, 100}, sb[2] = {50, 20};
	dcc_tensor *a, *b;
	CHECK(!dcc_model_add_zeros(m, "a", DCC_F32, 0, 0, 2, sa, &a, &e));
	CHECK(!dcc_model_add_zeros(m, "b", DCC_F32, 0, 0, 2, sb, &b, &e));
	for (size_t i = 0; i < 10000; i++)
		((float *)a->data)[i] = (float)(urand() + 0.01);
	for (size_t i = 0; i < 1000; i++)
		((float *)b->data)[i] = (float)(urand() + 0.01);
	a->nnz = 10000, b->nnz = 1000;
	dcc_prunable p[2] = {{"a", "a", 0, 1, 100, 100}, {"b", "b", 0, 0, 50, 20}};
	double target[2] = {0.875, NAN};
	step_log log = {0, {0}, m};
	dcc_prune_plan pl = {.p = p, .n = 2, .method = DCC_PRUNE_SPARSITY, .target = target, .first_ok = 1, .steps = 3,
			     .after_step = note, .ctx = &log};
	double secs;
	CHECK(!dcc_prune_run(m, &pl, &secs, &e));
	CHECK(log.calls == 3);
	/* densities 1 -> 0.5 -> 0.25 -> 0.125: the same share each step */
	CHECK_MSG(fabs(log.density[0] - 0.5) < 1e-4 && fabs(log.density[1] - 0.25) < 1e-4 && log.density[2] == 0.125,
		  "densities %g %g %g", log.density[0], log.density[1], log.density[2]);
	CHECK_MSG(dcc_model_find(m, "b")->nnz == 1000, "a layer without a target is untouched");
	dcc_model_free(m);
	m = dcc_model_new();
	CHECK(!dcc_model_add_zeros(m, "a", DCC_F32, 0, 0, 2, sa, &a, &e));
	CHECK(!dcc_model_add_zeros(m, "b", DCC_F32, 0, 0, 2, sb, &b, &e));
	for (size_t i = 0; i < 10000; i++)
		((float *)a->data)[i] = (float)i; /* a holds the large ones */
	for (size_t i = 0; i < 1000; i++)
		((float *)b->data)[i] = (float)i * 0.001f;
	CHECK(!dcc_prune_global(m, p, 2, 0.5, &e));
	/* one threshold: all of b's (smaller) and 4500 of a's smallest */
	CHECK_MSG(dcc_model_find(m, "b")->nnz == 0 && dcc_model_find(m, "a")->nnz == 5500, "global: a %llu b %llu kept",
		  (unsigned long long)dcc_model_find(m, "a")->nnz, (unsigned long long)dcc_model_find(m, "b")->nnz);
	/* the plan refuses what the global cut did to b: an empty layer, unless allowed */
	dcc_unprune(m, p, 2);
	for (size_t i = 0; i < 1000; i++)
		((float *)b->data)[i] = (float)i * 0.001f;
	dcc_prune_plan pg = {.p = p, .n = 2, .method = DCC_PRUNE_GLOBAL, .amount = 0.5, .first_ok = 1, .steps = 1};
	CHECK(dcc_prune_run(m, &pg, &secs, &e) == DCC_E_RANGE && strstr(e.msg, "'b' would keep no weights"));
	pg.allow_empty = 1;
	CHECK(!dcc_prune_run(m, &pg, &secs, &e) && dcc_model_find(m, "b")->nnz == 0);
	/* a layer empty before: refused (not "sparsity 1 is outside [0, 1)"), or left alone when allowed */
	double half[2] = {0.5, 0.5};
	dcc_prune_plan ps = {.p = p, .n = 2, .method = DCC_PRUNE_SPARSITY, .target = half, .first_ok = 1, .steps = 2};
	CHECK(dcc_prune_run(m, &ps, &secs, &e) == DCC_E_RANGE && strstr(e.msg, "'b' has no nonzero weights to prune"));
	ps.allow_empty = 1;
	CHECK_MSG(!dcc_prune_run(m, &ps, &secs, &e), "%s", e.msg);
	/* sparsity just under 1 rounds to every weight: refused */
	double most[2] = {0.9999999, NAN};
	dcc_unprune(m, p, 2);
	for (size_t i = 0; i < 10000; i++)
		((float *)a->data)[i] = (float)i + 1;
	dcc_prune_plan pm = {.p = p, .n = 2, .method = DCC_PRUNE_SPARSITY, .target = most, .first_ok = 1, .steps = 1};
	CHECK(dcc_prune_run(m, &pm, &secs, &e) == DCC_E_RANGE && strstr(e.msg, "'a' would keep no weights"));
	/* bank-balanced pruning records the layer's bank size; unpruning drops it */
	double tenth[2] = {0.5, NAN}, bank[2] = {10, 0};
	dcc_unprune(m, p, 2);
	for (size_t i = 0; i < 10000; i++) /* the refused run had cut them (its caller writes nothing) */
		((float *)a->data)[i] = (float)i + 1;
	dcc_prune_plan pb = {.p = p, .n = 2, .method = DCC_PRUNE_SPARSITY, .target = tenth, .bank = bank, .first_ok = 1,
			     .spec = {DCC_PATTERN_BANK, 0, 0}, .steps = 1};
	CHECK_MSG(!dcc_prune_run(m, &pb, &secs, &e) && dcc_model_bank(m, "a") == 10 && dcc_model_bank(m, "b") == 0, "%s", e.msg);
	pb.spec.pattern = DCC_PATTERN_UNSTRUCTURED, tenth[0] = 0.6;
	CHECK(!dcc_prune_run(m, &pb, &secs, &e) && dcc_model_bank(m, "a") == 0);
	dcc_unprune(m, p, 2);
	CHECK(dcc_model_bank(m, "a") == 0);
	dcc_model_free(m);
}

int main(void)
{
	test_prune_unstructured();
	test_patterns();
	test_schedule();
	return check_done("test_prune");
}
