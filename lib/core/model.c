/* model.c: a model is tensors plus typed metadata; this file owns both
 * lists and their name indexes (hash tables over positions), so finding a
 * name, and refusing a second one, is O(1) expected however many there are. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- name indexes ---- */

static uint64_t name_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
	return h ^ (h >> 29);
}

/* Lists shorter than this are searched; no index is worth building. */
#define INDEX_MIN 16

static void index_free(dcc_name_index *x)
{
	free(x->slot);
	memset(x, 0, sizeof(*x));
}

static int index_grow(dcc_name_index *x, size_t want)
{
	size_t cap = 64;
	while (cap < 2 * want + 2)
		cap *= 2;
	uint32_t *s = calloc(cap, sizeof(uint32_t));
	if (!s)
		return DCC_E_NOMEM;
	free(x->slot);
	x->slot = s;
	x->cap = cap;
	x->count = 0;
	return 0;
}

static void index_put(dcc_name_index *x, const char *name, size_t pos)
{
	size_t i = (size_t)name_hash(name) & (x->cap - 1);
	while (x->slot[i])
		i = (i + 1) & (x->cap - 1);
	x->slot[i] = (uint32_t)(pos + 1);
	x->count++;
}

/* The index of a list whose i-th name is name_at(list, i), made valid. */
typedef const char *(*name_at_fn)(const void *list, size_t i);

static int index_sync(dcc_name_index *x, const void *list, size_t n, name_at_fn name_at)
{
	if (x->slot && x->count == n)
		return 0;
	if (n >= UINT32_MAX || index_grow(x, n))
		return DCC_E_NOMEM;
	for (size_t i = 0; i < n; i++)
		index_put(x, name_at(list, i), i);
	return 0;
}

/* Position of name, or -1 (as SIZE_MAX). */
static size_t index_find(dcc_name_index *x, const void *list, size_t n, name_at_fn name_at, const char *name)
{
	if (n < INDEX_MIN || index_sync(x, list, n, name_at)) {
		for (size_t i = 0; i < n; i++)
			if (!strcmp(name_at(list, i), name))
				return i;
		return SIZE_MAX;
	}
	for (size_t i = (size_t)name_hash(name) & (x->cap - 1); x->slot[i]; i = (i + 1) & (x->cap - 1))
		if (!strcmp(name_at(list, x->slot[i] - 1), name))
			return x->slot[i] - 1;
	return SIZE_MAX;
}

/* After appending the n-th entry: index it too if the index is live. */
static void index_added(dcc_name_index *x, const char *name, size_t n)
{
	if (!x->slot || x->count != n - 1)
		return;
	if (2 * n + 2 > x->cap) { /* rebuilt on the next look-up */
		x->count = SIZE_MAX;
		return;
	}
	index_put(x, name, n - 1);
}

static const char *tensor_name_at(const void *list, size_t i) { return ((const dcc_tensor *)list)[i].name; }
static const char *kv_name_at(const void *list, size_t i) { return ((const dcc_kv *)list)[i].key; }

void dcc_model_reindex(dcc_model *m)
{
	m->tix.count = SIZE_MAX;
	m->kix.count = SIZE_MAX;
}

dcc_model *dcc_model_new(void)
{
	return calloc(1, sizeof(dcc_model));
}

static void tensor_clear(dcc_tensor *t)
{
	free(t->name);
	free(t->data);
}

static void kv_clear(dcc_kv *kv)
{
	free(kv->key);
	free(kv->i);
	free(kv->f);
	if (kv->s)
		for (size_t j = 0; j < kv->count; j++)
			free(kv->s[j]);
	free(kv->s);
	memset(kv, 0, sizeof(*kv));
}

void dcc_model_free(dcc_model *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->ntensors; i++)
		tensor_clear(&m->tensors[i]);
	for (size_t i = 0; i < m->nkv; i++)
		kv_clear(&m->kv[i]);
	free(m->tensors);
	free(m->kv);
	index_free(&m->tix);
	index_free(&m->kix);
	free(m);
}

dcc_tensor *dcc_model_find(const dcc_model *m, const char *name)
{
	/* the index is a cache: filling it does not change the model */
	size_t i = index_find((dcc_name_index *)&m->tix, m->tensors, m->ntensors, tensor_name_at, name);
	return i == SIZE_MAX ? NULL : &m->tensors[i];
}

int dcc_model_add(dcc_model *m, const char *name, int dtype, int bits, int fl,
		  int ndim, const uint64_t *shape, void *data, dcc_error *err)
{
	size_t nbytes;
	int rc = dcc_tensor_size(dtype, bits, ndim, shape, &nbytes, err);
	if (rc) {
		free(data);
		return rc;
	}
	size_t nlen = strlen(name);
	if (nlen == 0 || nlen > DCC_MAX_NAME) {
		free(data);
		return dcc_fail(err, DCC_E_RANGE, "tensor name of %zu bytes (1 to %d)", nlen, DCC_MAX_NAME);
	}
	/* shape (and name) may point into a tensor of m, which the growth
	 * below moves: copied first */
	uint64_t shp[DCC_MAX_DIMS] = {0};
	for (int i = 0; i < ndim && i < DCC_MAX_DIMS; i++)
		shp[i] = shape[i];
	shape = shp;
	dcc_tensor *t = dcc_model_find(m, name);
	if (t) {
		free(t->data);
	} else {
		if (m->ntensors == m->cap_tensors) {
			size_t cap = m->cap_tensors ? 2 * m->cap_tensors : 16;
			dcc_tensor *p = realloc(m->tensors, cap * sizeof(*p));
			if (!p) {
				free(data);
				return dcc_fail(err, DCC_E_NOMEM, "out of memory");
			}
			m->tensors = p;
			m->cap_tensors = cap;
		}
		t = &m->tensors[m->ntensors];
		memset(t, 0, sizeof(*t));
		t->name = dcc_strdup(name);
		if (!t->name) {
			free(data);
			return dcc_fail(err, DCC_E_NOMEM, "out of memory");
		}
		m->ntensors++;
		index_added(&m->tix, t->name, m->ntensors);
	}
	t->dtype = dtype;
	t->bits = dtype == DCC_PACKED ? bits : dcc_dtype_bits(dtype, 0);
	t->fl = (dtype == DCC_Q8 || dtype == DCC_Q16 || dtype == DCC_Q32) ? fl : 0;
	t->ndim = ndim;
	memset(t->shape, 0, sizeof(t->shape));
	for (int i = 0; i < ndim; i++)
		t->shape[i] = shape[i];
	t->data = data;
	t->nbytes = nbytes;
	t->nnz = data ? dcc_tensor_count_nonzero(t) : 0;
	t->crc = data ? dcc_crc32c(0, data, nbytes) : 0;
	t->file_off = 0;
	return 0;
}

int dcc_model_add_zeros(dcc_model *m, const char *name, int dtype, int bits,
			int fl, int ndim, const uint64_t *shape,
			dcc_tensor **out, dcc_error *err)
{
	size_t nbytes;
	int rc = dcc_tensor_size(dtype, bits, ndim, shape, &nbytes, err);
	if (rc)
		return rc;
	void *p = dcc_alloc_data(nbytes, 1);
	if (!p)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory allocating '%s' (%zu bytes)", name, nbytes);
	rc = dcc_model_add(m, name, dtype, bits, fl, ndim, shape, NULL, err);
	if (rc) {
		free(p);
		return rc;
	}
	dcc_tensor *t = dcc_model_find(m, name);
	t->data = p; /* all zeros: nnz 0, no need to scan */
	t->crc = dcc_crc32c(0, p, nbytes);
	if (out)
		*out = t;
	return 0;
}

int dcc_model_remove(dcc_model *m, const char *name)
{
	dcc_tensor *t = dcc_model_find(m, name);
	if (!t)
		return DCC_E_NOTFOUND;
	tensor_clear(t);
	size_t i = (size_t)(t - m->tensors);
	memmove(t, t + 1, (m->ntensors - i - 1) * sizeof(*t));
	m->ntensors--;
	m->tix.count = SIZE_MAX; /* positions moved */
	return 0;
}

int dcc_model_reorder(dcc_model *m, const char *const *names, size_t n, dcc_error *err)
{
	if (n != m->ntensors)
		return dcc_fail(err, DCC_E_ARG, "an order of %zu tensors for %zu", n, m->ntensors);
	dcc_tensor *v = malloc((n ? n : 1) * sizeof(*v));
	uint8_t *used = calloc(n ? n : 1, 1);
	int rc = v && used ? 0 : dcc_fail(err, DCC_E_NOMEM, "out of memory");
	for (size_t i = 0; !rc && i < n; i++) {
		dcc_tensor *t = dcc_model_find(m, names[i]);
		size_t j = t ? (size_t)(t - m->tensors) : 0;
		if (!t || used[j])
			rc = dcc_fail(err, DCC_E_FORMAT, "tensor '%s' %s", names[i], t ? "is listed twice" : "is missing");
		else
			used[j] = 1, v[i] = *t;
	}
	if (!rc) {
		memcpy(m->tensors, v, n * sizeof(*v));
		m->tix.count = SIZE_MAX;
	}
	free(v);
	free(used);
	return rc;
}

/* ---- metadata ---- */

const dcc_kv *dcc_model_get_kv(const dcc_model *m, const char *key)
{
	size_t i = index_find((dcc_name_index *)&m->kix, m->kv, m->nkv, kv_name_at, key);
	return i == SIZE_MAX ? NULL : &m->kv[i];
}

static int kv_room(dcc_model *m)
{
	if (m->nkv < m->cap_kv)
		return 0;
	size_t cap = m->cap_kv ? 2 * m->cap_kv : 16;
	dcc_kv *p = realloc(m->kv, cap * sizeof(*p));
	if (!p)
		return DCC_E_NOMEM;
	m->kv = p;
	m->cap_kv = cap;
	return 0;
}

int dcc_model_take_kv(dcc_model *m, dcc_kv *kv)
{
	if (kv_room(m))
		return DCC_E_NOMEM;
	m->kv[m->nkv++] = *kv;
	index_added(&m->kix, kv->key, m->nkv);
	memset(kv, 0, sizeof(*kv));
	return 0;
}

const char *dcc_model_get_str(const dcc_model *m, const char *key)
{
	const dcc_kv *kv = dcc_model_get_kv(m, key);
	return kv && kv->type == DCC_KV_STR ? kv->s[0] : NULL;
}

int dcc_model_get_i64(const dcc_model *m, const char *key, int64_t *out)
{
	const dcc_kv *kv = dcc_model_get_kv(m, key);
	if (!kv || kv->type != DCC_KV_I64)
		return DCC_E_NOTFOUND;
	*out = kv->i[0];
	return 0;
}

/* Returns a cleared slot for key: the existing one (emptied), or a new one. */
static dcc_kv *kv_slot(dcc_model *m, const char *key)
{
	dcc_kv *old = (dcc_kv *)dcc_model_get_kv(m, key);
	if (old) {
		char *k = old->key;
		old->key = NULL;
		kv_clear(old);
		old->key = k;
		return old;
	}
	if (kv_room(m))
		return NULL;
	dcc_kv *kv = &m->kv[m->nkv];
	memset(kv, 0, sizeof(*kv));
	kv->key = dcc_strdup(key);
	if (!kv->key)
		return NULL;
	m->nkv++;
	index_added(&m->kix, kv->key, m->nkv);
	return kv;
}

/* A key the container can hold, or the error. */
static int key_ok(const char *key, dcc_error *err)
{
	size_t n = key ? strlen(key) : 0;
	return n >= 1 && n <= DCC_MAX_NAME ? 0 : dcc_fail(err, DCC_E_RANGE, "metadata key of %zu bytes (1 to %d)", n, DCC_MAX_NAME);
}

static int nomem(dcc_error *err, const char *key)
{
	return dcc_fail(err, DCC_E_NOMEM, "out of memory storing metadata '%.64s'", key);
}

static int set_nums(dcc_model *m, const char *key, int type, int elem, const void *v, size_t n, dcc_error *err)
{
	int rc = key_ok(key, err);
	if (rc)
		return rc;
	if (n > SIZE_MAX / 8 - 1)
		return nomem(err, key);
	void *p = malloc((n ? n : 1) * 8);
	if (p && n) /* copied before the old value goes: v may point into it */
		memcpy(p, v, n * 8);
	dcc_kv *kv = p ? kv_slot(m, key) : NULL;
	if (!kv) {
		free(p);
		return nomem(err, key);
	}
	kv->type = type;
	kv->elem_type = elem;
	kv->count = n;
	if (elem == DCC_KV_I64)
		kv->i = p;
	else
		kv->f = p;
	return 0;
}

int dcc_model_set_i64(dcc_model *m, const char *key, int64_t v, dcc_error *err)
{
	return set_nums(m, key, DCC_KV_I64, DCC_KV_I64, &v, 1, err);
}
int dcc_model_set_f64(dcc_model *m, const char *key, double v, dcc_error *err)
{
	return set_nums(m, key, DCC_KV_F64, DCC_KV_F64, &v, 1, err);
}
int dcc_model_set_arr_i64(dcc_model *m, const char *key, const int64_t *v, size_t n, dcc_error *err)
{
	return set_nums(m, key, DCC_KV_ARR, DCC_KV_I64, v, n, err);
}
int dcc_model_set_arr_f64(dcc_model *m, const char *key, const double *v, size_t n, dcc_error *err)
{
	return set_nums(m, key, DCC_KV_ARR, DCC_KV_F64, v, n, err);
}

static int set_strs(dcc_model *m, const char *key, int type, const char *const *v, size_t n, dcc_error *err)
{
	int rc = key_ok(key, err);
	if (rc)
		return rc;
	/* copied before the old value goes: v may point into it */
	char **c = calloc(n ? n : 1, sizeof(char *));
	for (size_t j = 0; c && j < n; j++)
		if (!(c[j] = dcc_strdup(v[j]))) {
			while (j--)
				free(c[j]);
			free(c);
			c = NULL;
		}
	dcc_kv *kv = c ? kv_slot(m, key) : NULL;
	if (!kv) {
		for (size_t j = 0; c && j < n; j++)
			free(c[j]);
		free(c);
		return nomem(err, key);
	}
	kv->type = type;
	kv->elem_type = DCC_KV_STR;
	kv->s = c;
	kv->count = n;
	return 0;
}

int dcc_model_set_str(dcc_model *m, const char *key, const char *v, dcc_error *err)
{
	return set_strs(m, key, DCC_KV_STR, &v, 1, err);
}
int dcc_model_set_arr_str(dcc_model *m, const char *key, const char *const *v, size_t n, dcc_error *err)
{
	return set_strs(m, key, DCC_KV_ARR, v, n, err);
}

int dcc_model_append_str(dcc_model *m, const char *key, const char *v, dcc_error *err)
{
	const dcc_kv *kv = dcc_model_get_kv(m, key);
	if (!kv || kv->type != DCC_KV_ARR || kv->elem_type != DCC_KV_STR)
		return dcc_model_set_arr_str(m, key, &v, 1, err);
	dcc_kv *w = (dcc_kv *)kv;
	char **s = realloc(w->s, (w->count + 1) * sizeof(char *));
	if (!s)
		return nomem(err, key);
	w->s = s;
	s[w->count] = dcc_strdup(v);
	if (!s[w->count])
		return nomem(err, key);
	w->count++;
	return 0;
}

int dcc_model_del_kv(dcc_model *m, const char *key)
{
	dcc_kv *kv = (dcc_kv *)dcc_model_get_kv(m, key);
	if (!kv)
		return DCC_E_NOTFOUND;
	size_t i = (size_t)(kv - m->kv);
	kv_clear(kv);
	memmove(&m->kv[i], &m->kv[i + 1], (m->nkv - i - 1) * sizeof(dcc_kv));
	m->nkv--;
	m->kix.count = SIZE_MAX; /* positions moved */
	return 0;
}

static int kv_copy(dcc_model *d, const dcc_kv *kv, dcc_error *err)
{
	if (kv->elem_type == DCC_KV_STR || kv->type == DCC_KV_STR)
		return set_strs(d, kv->key, kv->type, (const char *const *)kv->s, kv->count, err);
	return set_nums(d, kv->key, kv->type, kv->type == DCC_KV_ARR ? kv->elem_type : kv->type,
			kv->type == DCC_KV_I64 || kv->elem_type == DCC_KV_I64 ? (const void *)kv->i
									       : (const void *)kv->f,
			kv->count, err);
}

int dcc_model_clone(const dcc_model *m, dcc_model **out, dcc_error *err)
{
	dcc_model *d = dcc_model_new();
	*out = NULL;
	if (!d)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	for (size_t i = 0; i < m->nkv; i++) {
		int rc = kv_copy(d, &m->kv[i], err);
		if (rc) {
			dcc_model_free(d);
			return rc;
		}
	}
	for (size_t i = 0; i < m->ntensors; i++) {
		const dcc_tensor *t = &m->tensors[i];
		void *p = NULL;
		if (t->data) {
			p = malloc(t->nbytes ? t->nbytes : 1);
			if (!p) {
				dcc_model_free(d);
				return dcc_fail(err, DCC_E_NOMEM, "out of memory");
			}
			memcpy(p, t->data, t->nbytes);
		}
		int rc = dcc_model_add(d, t->name, t->dtype, t->bits, t->fl, t->ndim, t->shape, p, err);
		if (rc) {
			dcc_model_free(d);
			return rc;
		}
		if (!t->data) {
			d->tensors[d->ntensors - 1].nnz = t->nnz;
			d->tensors[d->ntensors - 1].crc = t->crc;
		}
	}
	d->has_data = m->has_data;
	*out = d;
	return 0;
}
