/* fuzz_dataset.c: libFuzzer target for data sets and run inputs: the bytes
 * as an .npz (or .npy, .dct, .safetensors: the reader goes by content) read
 * as a data set and as dcc run's inputs; an accepted set's every sample,
 * label and target is read as training and the integer reference would.
 * Seeds (tests/fuzz/corpus/dataset): np.savez of each data form, a few
 * hundred bytes each (classes with mean/std, float16 regression with a
 * val split, uint8 images under exporters' names, one split, an array). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "dcc.h"
#include "dcc_fixed.h"
#include "dcc_formats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const dcc_dataset *d, const dcc_split *s)
{
	size_t n = s->n < 8 ? s->n : 8;
	float *x = malloc((d->sample ? d->sample : 1) * sizeof(float));
	double *xd = malloc((d->sample ? d->sample : 1) * sizeof(double));
	float *t = malloc(((size_t)d->classes + 1) * sizeof(float));
	int32_t *q = malloc((d->sample ? d->sample : 1) * sizeof(int32_t));
	for (size_t i = 0; x && xd && t && q && i < n; i++) {
		dcc_data_x(d, s, i, 1, d->norm.n ? &d->norm : NULL, x);
		dcc_data_x_exact(d, s, i, xd);
		dcc_fx_sample(d, s, i, d->norm.n ? &d->norm : NULL, 16, 8, q);
		if (s->y && d->labels == DCC_LABELS_CLASS)
			(void)dcc_data_class(s, i);
		else if (s->y && d->labels == DCC_LABELS_TARGET)
			dcc_data_targets(d, s, i, t);
	}
	free(x), free(xd), free(t), free(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	snprintf(path, sizeof(path), "/tmp/fuzz_dataset.%d", (int)getpid());
	FILE *fp = fopen(path, "wb");
	if (!fp)
		return 0;
	fwrite(data, 1, size, fp);
	fclose(fp);
	dcc_error e;
	dcc_dataset *d = NULL;
	if (dcc_dataset_load(path, &d, &e) == 0) {
		walk(d, &d->train);
		walk(d, &d->val);
		walk(d, &d->test);
		dcc_dataset *r = NULL;
		int shape[3] = {d->c, d->h, d->w};
		if (dcc_inputs_load(path, shape, "test", &r, &e) == 0)
			walk(r, &r->test);
		dcc_dataset_free(r);
	}
	dcc_dataset_free(d);
	int shape[3] = {1, 2, 3};
	if (dcc_inputs_load(path, shape, NULL, &d, &e) == 0) /* any array of 6-value samples */
		walk(d, &d->test);
	dcc_dataset_free(d);
	unlink(path);
	return 0;
}
