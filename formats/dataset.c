/* dataset.c: data sets from the files users have (formats/data.md): an
 * IDX directory in the MNIST layout, a directory of .npy files, an .npz,
 * .dct or safetensors file with train/val/test members, one .npy of
 * inputs, or a pair "X.npy,Y.npy".  Everything lands in one store model;
 * the splits are views of its tensors.  Every count, shape, label and
 * value is checked, with errors naming the file. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "formats.h"

#define MAX_CLASSES 65536

/* The member names each role takes, in the order they are looked for. */
static const char *const names_x[3][4] = {
	{"x_train", "train_x", "X_train", "train_images"},
	{"x_val", "val_x", "X_val", "val_images"},
	{"x_test", "test_x", "X_test", "test_images"},
};
static const char *const names_y[3][4] = {
	{"y_train", "train_y", "Y_train", "train_labels"},
	{"y_val", "val_y", "Y_val", "val_labels"},
	{"y_test", "test_y", "Y_test", "test_labels"},
};
static const char *const one_x[] = {"x", "X", "images", "inputs", "features", "data"};
static const char *const one_y[] = {"y", "Y", "labels", "targets"};

static dcc_tensor *find_any(const dcc_model *m, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		dcc_tensor *t = dcc_model_find(m, names[i]);
		if (t)
			return t;
	}
	return NULL;
}

/* Reads one file into the store under its own tensor names (a .npy or an
 * IDX file under `as`), adding its size and crc32c to the set's. */
static int read_into(dcc_model *store, const char *path, const char *as, dcc_dataset *d, dcc_error *err)
{
	dcc_model *m;
	uint64_t bytes;
	uint32_t crc;
	int rc = dcc_import_file_sum(path, &m, &bytes, &crc, err);
	if (rc)
		return dcc_fail(err, rc, "%s: %s", path, err->msg);
	d->crc = d->bytes ? dcc_crc32c_combine(d->crc, crc, (size_t)bytes) : crc;
	d->bytes += bytes;
	for (size_t i = 0; !rc && i < m->ntensors; i++) {
		dcc_tensor *t = &m->tensors[i];
		const char *name = as && m->ntensors == 1 ? as : t->name;
		if (dcc_model_find(store, name))
			rc = dcc_fail(err, DCC_E_FORMAT, "%s: '%s' given twice", path, name);
		else if (!(rc = dcc_model_add(store, name, t->dtype, t->bits, t->fl, t->ndim, t->shape, t->data, err)))
			t->data = NULL; /* the store has it */
	}
	dcc_model_free(m);
	return rc;
}

static int exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* A directory: four IDX files (gzipped or not), or .npy files named as the
 * members of an .npz. */
static int read_dir(dcc_model *store, const char *dir, dcc_dataset *d, dcc_error *err)
{
	static const char *const idx[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
					   "t10k-labels-idx1-ubyte"};
	static const char *const as[4] = {"x_train", "y_train", "x_test", "y_test"};
	char path[4096];
	int rc = 0, nidx = 0, nnpy = 0;
	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, idx[i]);
		int e = exists(path) ? 0 : errno;
		if (e && e != ENOENT) /* a loop or a permission is not a missing file */
			return dcc_fail(err, DCC_E_IO, "%s: %s", path, strerror(e));
		snprintf(path + strlen(path), sizeof(path) - strlen(path), ".gz");
		nidx += !e || exists(path);
	}
	for (int s = 0; s < 3; s++)
		for (int k = 0; k < 2; k++) {
			snprintf(path, sizeof(path), "%s/%s.npy", dir, (k ? names_y : names_x)[s][0]);
			nnpy += exists(path);
		}
	if (nidx && nnpy)
		return dcc_fail(err, DCC_E_FORMAT, "%s holds both IDX and .npy data sets", dir);
	if (nnpy) {
		for (int s = 0; s < 3 && !rc; s++)
			for (int k = 0; k < 2 && !rc; k++) {
				const char *nm = (k ? names_y : names_x)[s][0];
				snprintf(path, sizeof(path), "%s/%s.npy", dir, nm);
				if (exists(path))
					rc = read_into(store, path, nm, d, err);
			}
		return rc;
	}
	for (int i = 0; i < 4 && !rc; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, idx[i]);
		if (!exists(path)) {
			snprintf(path + strlen(path), sizeof(path) - strlen(path), ".gz");
			if (!exists(path))
				return errno == ENOENT ? dcc_fail(err, DCC_E_IO, "%s/%s: no such file (nor .gz)", dir, idx[i])
						       : dcc_fail(err, DCC_E_IO, "%s: %s", path, strerror(errno));
		}
		rc = read_into(store, path, as[i], d, err);
	}
	return rc;
}

/* Checks one split's x against the first's sample shape, its y against
 * its count, and their values; fills in the set's shape and labels. */
static int check_split(const char *src, const char *role, dcc_split *s, dcc_dataset *d, int first,
		       dcc_error *err)
{
	const dcc_tensor *x = s->x, *y = s->y;
	static const int ok_x[] = {DCC_U8, DCC_F16, DCC_F32, DCC_F64, DCC_I8, DCC_I16};
	int okd = 0;
	for (size_t i = 0; i < sizeof(ok_x) / sizeof(ok_x[0]); i++)
		okd |= x->dtype == ok_x[i];
	if (!okd)
		return dcc_fail(err, DCC_E_UNSUPPORTED, "%s: %s inputs are %s (u8, f16, f32, f64, i8 or i16)", src, role,
				dcc_dtype_name(x->dtype));
	if (x->ndim < 2 || x->ndim > 4)
		return dcc_fail(err, DCC_E_SHAPE, "%s: %s inputs have %d dimensions: want (N, F), (N, T, F) or (N, C, H, W)",
				src, role, x->ndim);
	size_t n = (size_t)x->shape[0];
	if (!n)
		return dcc_fail(err, DCC_E_SHAPE, "%s: %s holds no samples", src, role);
	if (first) {
		d->ndim = x->ndim - 1;
		for (int k = 0; k < d->ndim; k++)
			d->shape[k] = x->shape[k + 1];
		uint64_t c = d->ndim == 3 ? d->shape[0] : 1, h = d->ndim >= 2 ? d->shape[d->ndim - 2] : 1,
			 w = d->shape[d->ndim - 1];
		if (!c || !h || !w || c > DCC_MAX_ACT || h > DCC_MAX_ACT || w > DCC_MAX_ACT || c * h > DCC_MAX_ACT ||
		    c * h * w > DCC_MAX_ACT)
			return dcc_fail(err, DCC_E_SHAPE, "%s: %s samples of an empty or too large shape", src, role);
		d->c = (int)c, d->h = (int)h, d->w = (int)w;
		d->sample = (size_t)(c * h * w);
	} else {
		int same = x->ndim - 1 == d->ndim;
		for (int k = 0; same && k < d->ndim; k++)
			same = x->shape[k + 1] == d->shape[k];
		if (!same)
			return dcc_fail(err, DCC_E_SHAPE, "%s: %s samples are not the shape of the training samples", src, role);
	}
	for (size_t k = 0; dcc_dtype_is_float(x->dtype) || x->dtype == DCC_F16 ? k < n * d->sample : 0; k++)
		if (!isfinite(dcc_tensor_get(x, k)))
			return dcc_fail(err, DCC_E_RANGE, "%s: %s sample %zu holds %s", src, role, k / d->sample,
					isnan(dcc_tensor_get(x, k)) ? "NaN" : "infinity");
	s->n = n;
	if (!y)
		return 0;
	if (!y->ndim || y->shape[0] != n)
		return dcc_fail(err, DCC_E_SHAPE, "%s: %s has %zu samples but %llu labels", src, role, n,
				(unsigned long long)(y->ndim ? y->shape[0] : 0));
	int is_float = dcc_dtype_is_float(y->dtype) || y->dtype == DCC_F16;
	int kind = is_float ? DCC_LABELS_TARGET : DCC_LABELS_CLASS;
	if (!is_float && (y->ndim != 1 || y->dtype == DCC_BOOL || y->dtype > DCC_U64))
		return dcc_fail(err, DCC_E_SHAPE, "%s: %s labels must be one integer per sample (or float targets)", src,
				role);
	if (is_float && y->ndim > 2)
		return dcc_fail(err, DCC_E_SHAPE, "%s: %s targets must be (N) or (N, K)", src, role);
	int K = is_float ? (y->ndim == 2 ? (int)y->shape[1] : 1) : 0;
	if (is_float && (y->ndim == 2 && (!y->shape[1] || y->shape[1] > MAX_CLASSES)))
		return dcc_fail(err, DCC_E_SHAPE, "%s: %s targets of width %llu", src, role, (unsigned long long)y->shape[1]);
	if (!first && d->labels != kind)
		return dcc_fail(err, DCC_E_FORMAT, "%s: %s labels are not of the training labels' kind", src, role);
	if (!first && kind == DCC_LABELS_TARGET && K != d->classes)
		return dcc_fail(err, DCC_E_SHAPE, "%s: %s targets are %d wide, the training targets %d", src, role, K,
				d->classes);
	d->labels = kind;
	for (size_t i = 0; i < n * (size_t)(is_float ? K : 1); i++) {
		double v = dcc_tensor_get(y, i);
		if (is_float && !isfinite(v))
			return dcc_fail(err, DCC_E_RANGE, "%s: %s target %zu is %s", src, role, i, isnan(v) ? "NaN" : "infinite");
		if (!is_float && (v < 0 || v >= MAX_CLASSES))
			return dcc_fail(err, DCC_E_RANGE, "%s: %s label %.0f of sample %zu is out of range (0 to %d)", src, role,
					v, i, MAX_CLASSES - 1);
		if (!is_float && (int)v + 1 > d->classes)
			d->classes = (int)v + 1;
	}
	if (is_float)
		d->classes = K;
	return 0;
}

/* A "mean" and "std" member: the normalisation the file states. */
static int read_norm(const dcc_model *store, const char *src, dcc_dataset *d, dcc_error *err)
{
	const dcc_tensor *mt = dcc_model_find(store, "mean"), *st = dcc_model_find(store, "std");
	if (!mt && !st)
		return 0;
	uint64_t n = mt ? dcc_tensor_numel(mt) : 0;
	if (!mt || !st || n != dcc_tensor_numel(st) || !n || n > DCC_NORM_MAX)
		return dcc_fail(err, DCC_E_FORMAT, "%s: 'mean' and 'std' must be given together, of one length (1 to %d)", src,
				DCC_NORM_MAX);
	for (uint64_t k = 0; k < n; k++) {
		d->norm.mean[k] = dcc_tensor_get(mt, k), d->norm.std[k] = dcc_tensor_get(st, k);
		if (!isfinite(d->norm.mean[k]) || !(d->norm.std[k] > 0) || !isfinite(d->norm.std[k]))
			return dcc_fail(err, DCC_E_RANGE, "%s: std[%llu] = %g: want a finite, positive std", src,
					(unsigned long long)k, d->norm.std[k]);
	}
	d->norm.n = (size_t)n;
	if (n != 1 && !(d->c > 1 && n == (size_t)d->c) && n != (size_t)d->w)
		return dcc_fail(err, DCC_E_SHAPE, "%s: 'mean' has %llu values; the samples have %d channels and %d features",
				src, (unsigned long long)n, d->c, d->w);
	return 0;
}

/* The splits from the store's members. */
static int assemble(dcc_dataset *d, const char *src, dcc_error *err)
{
	dcc_model *m = d->store;
	dcc_split *sp[3] = {&d->train, &d->val, &d->test};
	static const char *const role[3] = {"the training set", "the validation set", "the test set"};
	int any = 0;
	for (int s = 0; s < 3; s++) {
		sp[s]->x = find_any(m, names_x[s], 4);
		sp[s]->y = find_any(m, names_y[s], 4);
		if (!sp[s]->x && sp[s]->y)
			return dcc_fail(err, DCC_E_FORMAT, "%s: labels for %s but no inputs", src, role[s]);
		any |= sp[s]->x != NULL;
	}
	if (!any) { /* one split serving every role */
		const dcc_tensor *x = find_any(m, one_x, sizeof(one_x) / sizeof(one_x[0]));
		if (!x && m->ntensors == 1 + (dcc_model_find(m, "mean") ? 2 : 0))
			x = &m->tensors[0];
		if (!x)
			return dcc_fail(err, DCC_E_FORMAT, "%s: no inputs: want x_train/y_train/x_test/y_test (x_val, y_val), "
				       "train_x..., or x (or images) and y (or labels); see formats/data.md", src);
		d->test.x = x, d->test.y = find_any(m, one_y, sizeof(one_y) / sizeof(one_y[0]));
	}
	int first = 1, rc = 0;
	const char *const *roles = role;
	for (int s = 0; s < 3 && !rc; s++) {
		int k = any ? s : 2; /* the training shape first; one split is the test's */
		if (!sp[k]->x || (!any && s != 2))
			continue;
		rc = check_split(src, any ? roles[k] : "the data", sp[k], d, first, err);
		first = 0;
	}
	if (rc)
		return rc;
	if (!any)
		d->train = d->test;
	if (d->train.n && d->test.n && (!d->train.y) != (!d->test.y))
		return dcc_fail(err, DCC_E_FORMAT, "%s: labels for one split only", src);
	if (d->labels == DCC_LABELS_CLASS && d->classes < 2 && d->train.y)
		return dcc_fail(err, DCC_E_RANGE, "%s: fewer than two classes", src);
	return read_norm(m, src, d, err);
}

int dcc_dataset_load(const char *path, dcc_dataset **out, dcc_error *err)
{
	*out = NULL;
	dcc_dataset *d = calloc(1, sizeof(*d));
	if (!d || !(d->store = dcc_model_new()) || !(d->source = dcc_strdup(path))) {
		dcc_dataset_free(d);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	struct stat st;
	int rc;
	const char *comma = strchr(path, ',');
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		rc = read_dir(d->store, path, d, err);
	} else if (comma && !exists(path)) { /* X.npy,Y.npy */
		char *xp = dcc_strdup(path);
		if (!xp) {
			dcc_dataset_free(d);
			return dcc_fail(err, DCC_E_NOMEM, "out of memory");
		}
		xp[comma - path] = 0;
		rc = read_into(d->store, xp, "x", d, err);
		if (!rc)
			rc = read_into(d->store, comma + 1, "y", d, err);
		free(xp);
	} else {
		int e = stat(path, &st) ? errno : 0;
		rc = e ? dcc_fail(err, DCC_E_IO, "%s: %s", path, strerror(e)) : read_into(d->store, path, NULL, d, err);
	}
	if (!rc)
		rc = assemble(d, path, err);
	if (rc) {
		dcc_dataset_free(d);
		return rc;
	}
	*out = d;
	return 0;
}

/* ---- an array of outputs (dcc compare) ---- */

int dcc_outputs_load(const char *path, double **z, size_t *n, size_t *K, dcc_error *err)
{
	dcc_model *m;
	*z = NULL;
	int rc = dcc_import_file(path, &m, err);
	if (rc)
		return rc;
	const dcc_tensor *t = m->ntensors == 1 ? &m->tensors[0] : NULL;
	if (!t || t->ndim < 1 || t->ndim > 2)
		rc = dcc_fail(err, DCC_E_FORMAT, "want one array of outputs, (N, K) or (N)");
	size_t cnt = t ? (size_t)dcc_tensor_numel(t) : 0;
	if (!rc && !(*z = malloc((cnt ? cnt : 1) * sizeof(double))))
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	for (size_t k = 0; !rc && k < cnt; k++)
		if (!isfinite((*z)[k] = dcc_tensor_get(t, k)))
			rc = dcc_fail(err, DCC_E_RANGE, "element %zu is not finite", k);
	if (!rc)
		*n = (size_t)t->shape[0], *K = t->ndim == 2 ? (size_t)t->shape[1] : 1;
	if (rc) {
		free(*z);
		*z = NULL;
	}
	dcc_model_free(m);
	return rc;
}

/* ---- the inputs of a run: any array of samples, or a data set's split ---- */

/* x as n samples of shape3 (one sample, or (N, ...) with N first). */
static int as_samples(const char *src, const dcc_tensor *x, const int *shape3, size_t *n, dcc_error *err)
{
	uint64_t per = (uint64_t)shape3[0] * (uint64_t)shape3[1] * (uint64_t)shape3[2], numel = dcc_tensor_numel(x);
	static const int ok_x[] = {DCC_U8, DCC_F16, DCC_F32, DCC_F64, DCC_I8, DCC_I16};
	int okd = 0;
	for (size_t i = 0; i < sizeof(ok_x) / sizeof(ok_x[0]); i++)
		okd |= x->dtype == ok_x[i];
	if (!okd)
		return dcc_fail(err, DCC_E_UNSUPPORTED, "%s: inputs are %s (u8, f16, f32, f64, i8 or i16)", src,
				dcc_dtype_name(x->dtype));
	/* the same values channels last, (N, H, W, C): read as they lie they would be wrong */
	const uint64_t *d = x->ndim == 4 ? x->shape + 1 : x->ndim == 3 ? x->shape : NULL;
	if (d && shape3[0] > 1 && d[0] == (uint64_t)shape3[1] && d[1] == (uint64_t)shape3[2] && d[2] == (uint64_t)shape3[0] &&
	    !(d[0] == (uint64_t)shape3[0] && d[1] == (uint64_t)shape3[1] && d[2] == (uint64_t)shape3[2]))
		return dcc_fail(err, DCC_E_SHAPE, "%s: samples of %llux%llux%llu, channels last; the network takes %dx%dx%d "
				"(numpy: x.transpose(0, 3, 1, 2))", src, (unsigned long long)d[0], (unsigned long long)d[1],
				(unsigned long long)d[2], shape3[0], shape3[1], shape3[2]);
	if (numel == per)
		*n = 1;
	else if (x->ndim >= 2 && numel == x->shape[0] * per)
		*n = (size_t)x->shape[0];
	else
		return dcc_fail(err, DCC_E_SHAPE, "%s: %llu values are neither one sample of %dx%dx%d nor (N, %llu)", src,
				(unsigned long long)numel, shape3[0], shape3[1], shape3[2], (unsigned long long)per);
	for (uint64_t k = 0; (dcc_dtype_is_float(x->dtype) || x->dtype == DCC_F16) && k < numel; k++)
		if (!isfinite(dcc_tensor_get(x, k)))
			return dcc_fail(err, DCC_E_RANGE, "%s: sample %llu holds %s", src, (unsigned long long)(k / per),
					isnan(dcc_tensor_get(x, k)) ? "NaN" : "infinity");
	return 0;
}

int dcc_inputs_load(const char *path, const int *shape3, const char *split, dcc_dataset **out, dcc_error *err)
{
	*out = NULL;
	/* FILE:MEMBER, when FILE exists and the whole does not */
	const char *colon = strrchr(path, ':');
	char *file = dcc_strdup(path);
	if (!file)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	const char *member = NULL;
	if (colon && !exists(path)) {
		file[colon - path] = 0;
		member = colon + 1;
	}
	dcc_dataset *d = calloc(1, sizeof(*d));
	if (!d || !(d->store = dcc_model_new()) || !(d->source = dcc_strdup(path))) {
		free(file);
		dcc_dataset_free(d);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	struct stat st;
	int rc = 0, is_set = 0;
	if (stat(file, &st))
		rc = dcc_fail(err, DCC_E_IO, "%s: %s", file, strerror(errno));
	else if (S_ISDIR(st.st_mode) || strchr(file, ','))
		is_set = 1;
	else
		rc = read_into(d->store, file, NULL, d, err);
	for (int s = 0; !rc && !member && !is_set && s < 3; s++)
		is_set = find_any(d->store, names_x[s], 4) != NULL;
	if (!rc && is_set && !member) { /* a data set: its split */
		if (S_ISDIR(st.st_mode) || strchr(file, ',')) {
			dcc_dataset_free(d);
			d = NULL;
			rc = dcc_dataset_load(file, &d, err);
		} else { /* the file is read already: its members are the set's */
			rc = assemble(d, file, err);
		}
		const dcc_split *sp = rc ? NULL : dcc_data_split(d, split ? split : "test");
		if (!rc && (!sp || !sp->n))
			rc = dcc_fail(err, DCC_E_NOTFOUND, "%s: no %s split", path, split ? split : "test");
		if (!rc && (d->c != shape3[0] || d->h != shape3[1] || d->w != shape3[2]))
			rc = dcc_fail(err, DCC_E_SHAPE, "%s: samples of %dx%dx%d; the network takes %dx%dx%d", path, d->c, d->h,
				      d->w, shape3[0], shape3[1], shape3[2]);
		if (!rc)
			d->test = *sp, d->train = *sp;
	} else if (!rc) { /* one array: a member, the only tensor, or x / inputs */
		const dcc_tensor *x = member ? dcc_model_find(d->store, member)
				      : d->store->ntensors == 1 ? &d->store->tensors[0]
								: find_any(d->store, one_x, sizeof(one_x) / sizeof(one_x[0]));
		size_t n = 0;
		if (!x)
			rc = member ? dcc_fail(err, DCC_E_NOTFOUND, "%s: no member '%s'", file, member)
				    : dcc_fail(err, DCC_E_FORMAT, "%s: %zu arrays: name one (FILE:MEMBER)", file,
					       d->store->ntensors);
		if (!rc)
			rc = as_samples(path, x, shape3, &n, err);
		if (!rc) {
			d->c = shape3[0], d->h = shape3[1], d->w = shape3[2];
			d->ndim = 3, d->shape[0] = (uint64_t)d->c, d->shape[1] = (uint64_t)d->h, d->shape[2] = (uint64_t)d->w;
			d->sample = (size_t)d->c * (size_t)d->h * (size_t)d->w;
			d->test = (dcc_split){x, NULL, 0, n};
			d->train = d->test;
		}
	}
	free(file);
	if (rc) {
		dcc_dataset_free(d);
		return rc;
	}
	*out = d;
	return 0;
}
