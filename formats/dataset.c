/* dataset.c: a data set directory in the MNIST layout -- four IDX files,
 * gzipped or not -- read into u8 arrays, with errors naming the file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "formats.h"

static int load_idx(const char *dir, const char *base, int want_ndim, dcc_tensor *out,
		    char *path, size_t pcap, dcc_error *err)
{
	struct stat st;
	snprintf(path, pcap, "%s/%s", dir, base);
	if (stat(path, &st)) {
		int e = errno; /* a loop or a permission is not a missing file */
		if (e != ENOENT)
			return dcc_fail(err, DCC_E_IO, "%s: %s", path, strerror(e));
		snprintf(path, pcap, "%s/%s.gz", dir, base);
		if (stat(path, &st))
			return errno == ENOENT ? dcc_fail(err, DCC_E_IO, "%s/%s: no such file (nor .gz)", dir, base)
					       : dcc_fail(err, DCC_E_IO, "%s: %s", path, strerror(errno));
	}
	dcc_model *m;
	int rc = dcc_import_file(path, &m, err);
	if (rc)
		return dcc_fail(err, rc, "%s: %s", path, err->msg);
	if (m->ntensors != 1 || m->tensors[0].dtype != DCC_U8 || m->tensors[0].ndim != want_ndim) {
		dcc_model_free(m);
		return dcc_fail(err, DCC_E_FORMAT, "%s: expected %d-dimensional u8 IDX data", path, want_ndim);
	}
	*out = m->tensors[0];
	out->name = NULL; /* the model keeps (and frees) the name */
	m->tensors[0].data = NULL;
	dcc_model_free(m);
	return 0;
}

int dcc_dataset_load(const char *dir, dcc_dataset **out, dcc_error *err)
{
	static const char *const files[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
					     "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
	dcc_tensor t[4];
	char paths[4][4096];
	*out = NULL;
	memset(t, 0, sizeof(t));
	int rc = 0;
	for (int i = 0; i < 4 && !rc; i++)
		rc = load_idx(dir, files[i], i % 2 ? 1 : 3, &t[i], paths[i], sizeof(paths[i]), err);
	if (!rc && t[0].shape[0] != t[1].shape[0])
		rc = dcc_fail(err, DCC_E_SHAPE, "%s holds %llu images but %s %llu labels", paths[0],
			      (unsigned long long)t[0].shape[0], paths[1], (unsigned long long)t[1].shape[0]);
	if (!rc && t[2].shape[0] != t[3].shape[0])
		rc = dcc_fail(err, DCC_E_SHAPE, "%s holds %llu images but %s %llu labels", paths[2],
			      (unsigned long long)t[2].shape[0], paths[3], (unsigned long long)t[3].shape[0]);
	if (!rc && (t[0].shape[1] != t[2].shape[1] || t[0].shape[2] != t[2].shape[2]))
		rc = dcc_fail(err, DCC_E_SHAPE, "%s and %s hold images of different sizes", paths[0], paths[2]);
	if (!rc && (t[0].shape[0] == 0 || t[2].shape[0] == 0 || t[0].shape[1] == 0 || t[0].shape[2] == 0 ||
		    t[0].shape[1] > 4096 || t[0].shape[2] > 4096))
		rc = dcc_fail(err, DCC_E_RANGE, "%s: empty or implausible image set", paths[0]);
	int classes = 0;
	for (int k = 1; !rc && k < 4; k += 2) {
		const uint8_t *y = t[k].data;
		for (uint64_t i = 0; i < t[k].shape[0]; i++)
			if (y[i] + 1 > classes)
				classes = y[i] + 1;
	}
	if (!rc && classes < 2)
		rc = dcc_fail(err, DCC_E_RANGE, "%s: fewer than two classes", paths[1]);
	dcc_dataset *d = rc ? NULL : calloc(1, sizeof(*d));
	if (!rc && !d)
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	if (rc) {
		for (int i = 0; i < 4; i++)
			free(t[i].data);
		return rc;
	}
	d->train_x = t[0].data;
	d->train_y = t[1].data;
	d->test_x = t[2].data;
	d->test_y = t[3].data;
	d->ntrain = (size_t)t[0].shape[0];
	d->ntest = (size_t)t[2].shape[0];
	d->c = 1;
	d->h = (int)t[0].shape[1];
	d->w = (int)t[0].shape[2];
	d->classes = classes;
	*out = d;
	return 0;
}
