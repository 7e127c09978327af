/* safetensors.c: Hugging Face's safetensors: an 8-byte little-endian header
 * length, a JSON header (parsed with jansson) mapping names to dtype, shape
 * and data_offsets, then the raw little-endian bytes.  __metadata__ strings
 * round-trip through the container's "safetensors.*" keys.  See
 * formats/safetensors.md. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "formats.h"

#define HEADER_MAX (100u << 20) /* the reference implementation's limit */
#define META_PREFIX "safetensors."

static const struct { const char *name; int dtype; } tab[] = {
	{"F32", DCC_F32}, {"F64", DCC_F64}, {"I8", DCC_I8}, {"I16", DCC_I16},
	{"I32", DCC_I32}, {"I64", DCC_I64}, {"U8", DCC_U8}, {"U16", DCC_U16},
	{"U32", DCC_U32}, {"U64", DCC_U64}, {"BOOL", DCC_BOOL}, {"F16", DCC_F16},
};

static int st_dtype(const char *s)
{
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (!strcmp(s, tab[i].name))
			return tab[i].dtype;
	return -1;
}

static const char *st_name(int dtype)
{
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (tab[i].dtype == dtype)
			return tab[i].name;
	return NULL;
}

static int read_entry(const char *name, json_t *v, const uint8_t *data, uint64_t dn,
		      dcc_model *m, dcc_error *err)
{
	json_t *jd = json_object_get(v, "dtype"), *js = json_object_get(v, "shape"),
	       *jo = json_object_get(v, "data_offsets");
	if (!json_is_string(jd) || !json_is_array(js) || !json_is_array(jo) || json_array_size(jo) != 2)
		return dcc_fail(err, DCC_E_FORMAT, "safetensors entry '%s' lacks dtype, shape or data_offsets", name);
	int dtype = st_dtype(json_string_value(jd));
	if (dtype < 0)
		return dcc_fail(err, DCC_E_UNSUPPORTED, "safetensors tensor '%s' has dtype %s (dcc reads %s)", name,
				json_string_value(jd), "F16 F32 F64 I8 I16 I32 I64 U8 U16 U32 U64 BOOL");
	size_t ndim = json_array_size(js);
	if (ndim > DCC_MAX_DIMS)
		return dcc_fail(err, DCC_E_RANGE, "safetensors tensor '%s' has %zu dimensions", name, ndim);
	uint64_t shape[DCC_MAX_DIMS];
	for (size_t d = 0; d < ndim; d++) {
		json_t *e = json_array_get(js, d);
		if (!json_is_integer(e) || json_integer_value(e) < 0)
			return dcc_fail(err, DCC_E_FORMAT, "safetensors tensor '%s' has a bad shape", name);
		shape[d] = (uint64_t)json_integer_value(e);
	}
	json_t *b = json_array_get(jo, 0), *e = json_array_get(jo, 1);
	if (!json_is_integer(b) || !json_is_integer(e) || json_integer_value(b) < 0 ||
	    json_integer_value(e) < json_integer_value(b))
		return dcc_fail(err, DCC_E_FORMAT, "safetensors tensor '%s' has bad data_offsets", name);
	uint64_t ob = (uint64_t)json_integer_value(b), oe = (uint64_t)json_integer_value(e);
	if (oe > dn)
		return dcc_fail(err, DCC_E_TRUNCATED, "safetensors tensor '%s' truncated", name);
	size_t nbytes;
	int rc = dcc_tensor_size(dtype, 0, (int)ndim, shape, &nbytes, err);
	if (rc)
		return dcc_fail(err, rc, "safetensors tensor '%s': %s", name, err ? err->msg : "");
	if (oe - ob != nbytes)
		return dcc_fail(err, DCC_E_FORMAT, "safetensors tensor '%s' spans %llu bytes, its shape needs %zu", name,
				(unsigned long long)(oe - ob), nbytes);
	if (dcc_model_find(m, name))
		return dcc_fail(err, DCC_E_FORMAT, "safetensors holds '%s' twice", name);
	uint8_t *p = malloc(nbytes ? nbytes : 1);
	if (!p)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	memcpy(p, data + ob, nbytes);
	if (dtype == DCC_BOOL)
		for (size_t i = 0; i < nbytes; i++)
			if (p[i] > 1) {
				unsigned v = p[i];
				free(p);
				return dcc_fail(err, DCC_E_FORMAT, "safetensors bool tensor '%s' holds %u", name, v);
			}
	return dcc_model_add(m, name, dtype, 0, 0, (int)ndim, shape, p, err);
}

int dcc_safetensors_read_mem(const uint8_t *buf, size_t n, dcc_model *m, dcc_error *err)
{
	if (n < 8)
		return dcc_fail(err, DCC_E_TRUNCATED, "safetensors header truncated");
	uint64_t hn = dcc_rd64(buf);
	if (hn > n - 8)
		return dcc_fail(err, DCC_E_TRUNCATED, "safetensors header of %llu bytes, file holds %zu",
				(unsigned long long)hn, n - 8);
	if (hn > HEADER_MAX)
		return dcc_fail(err, DCC_E_RANGE, "safetensors header of %llu bytes (limit %u)", (unsigned long long)hn, HEADER_MAX);
	json_error_t je;
	json_t *root = json_loadb((const char *)buf + 8, (size_t)hn, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return dcc_fail(err, DCC_E_FORMAT, "safetensors header is not valid JSON: %s", je.text);
	if (!json_is_object(root)) {
		json_decref(root);
		return dcc_fail(err, DCC_E_FORMAT, "safetensors header is not a JSON object");
	}
	const uint8_t *data = buf + 8 + hn;
	uint64_t dn = n - 8 - hn;
	const char *key;
	json_t *v;
	int rc = 0;
	json_object_foreach(root, key, v) {
		if (!strcmp(key, "__metadata__")) {
			const char *mk;
			json_t *mv;
			if (!json_is_object(v)) {
				rc = dcc_fail(err, DCC_E_FORMAT, "safetensors __metadata__ is not an object");
				break;
			}
			json_object_foreach(v, mk, mv) {
				if (!json_is_string(mv)) {
					rc = dcc_fail(err, DCC_E_FORMAT, "safetensors metadata '%s' is not a string", mk);
					break;
				}
				size_t kl = strlen(mk) + sizeof(META_PREFIX);
				char *k = malloc(kl);
				if (!k) {
					rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
					break;
				}
				snprintf(k, kl, META_PREFIX "%s", mk);
				if (strlen(k) > DCC_MAX_NAME || dcc_model_set_str(m, k, json_string_value(mv), NULL))
					rc = dcc_fail(err, DCC_E_RANGE, "safetensors metadata key '%s' too long", mk);
				free(k);
				if (rc)
					break;
			}
			if (rc)
				break;
			continue;
		}
		if (!json_is_object(v)) {
			rc = dcc_fail(err, DCC_E_FORMAT, "safetensors entry '%s' is not an object", key);
			break;
		}
		if (!*key || strlen(key) > DCC_MAX_NAME) {
			rc = dcc_fail(err, DCC_E_FORMAT, "safetensors tensor name of %zu bytes", strlen(key));
			break;
		}
		if ((rc = read_entry(key, v, data, dn, m, err)))
			break;
	}
	json_decref(root);
	return rc;
}

int dcc_safetensors_write(FILE *fp, const dcc_model *m, dcc_error *err)
{
	json_t *root = json_object(), *meta = NULL;
	int rc = 0;
	dcc_plain *views = calloc(m->ntensors ? m->ntensors : 1, sizeof(dcc_plain));
	if (!root || !views) {
		json_decref(root);
		free(views);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < m->ntensors; i++)
		if (!dcc_utf8_valid(m->tensors[i].name)) {
			char esc[3 * DCC_MAX_NAME];
			json_decref(root);
			free(views);
			return dcc_fail(err, DCC_E_UNSUPPORTED, "tensor name '%s' is not UTF-8, which safetensors' JSON "
				       "header needs", dcc_escape(m->tensors[i].name, esc, sizeof(esc)));
		}
	for (size_t i = 0; i < m->nkv; i++) {
		const dcc_kv *kv = &m->kv[i];
		if (strncmp(kv->key, META_PREFIX, strlen(META_PREFIX)) || kv->type != DCC_KV_STR)
			continue;
		if (!dcc_utf8_valid(kv->s[0]) || !dcc_utf8_valid(kv->key))
			continue; /* not UTF-8: JSON cannot hold it */
		if (!meta && !(meta = json_object()))
			break;
		json_object_set_new(meta, kv->key + strlen(META_PREFIX), json_string(kv->s[0]));
	}
	if (meta)
		json_object_set_new(root, "__metadata__", meta);
	uint64_t off = 0;
	for (size_t i = 0; i < m->ntensors && !rc; i++) {
		const dcc_tensor *t = &m->tensors[i];
		if ((rc = dcc_plain_view(t, &views[i], err)))
			break;
		json_t *e = json_object(), *shape = json_array(), *offs = json_array();
		for (int d = 0; d < t->ndim; d++)
			json_array_append_new(shape, json_integer((json_int_t)t->shape[d]));
		json_array_append_new(offs, json_integer((json_int_t)off));
		off += views[i].nbytes;
		json_array_append_new(offs, json_integer((json_int_t)off));
		json_object_set_new(e, "dtype", json_string(st_name(views[i].dtype)));
		json_object_set_new(e, "shape", shape);
		json_object_set_new(e, "data_offsets", offs);
		if (json_object_set_new(root, t->name, e))
			rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	char *hdr = rc ? NULL : json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (!rc && !hdr)
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	if (!rc) {
		/* Pad the header with spaces to a multiple of 8, as the reference does. */
		size_t hl = strlen(hdr), pad = (8 - hl % 8) % 8;
		uint8_t len[8];
		dcc_wr64(len, hl + pad);
		rc = dcc_fwrite_all(fp, len, 8, err);
		if (!rc)
			rc = dcc_fwrite_all(fp, hdr, hl, err);
		if (!rc)
			rc = dcc_fwrite_all(fp, "       ", pad, err);
		for (size_t i = 0; i < m->ntensors && !rc; i++)
			rc = dcc_fwrite_all(fp, views[i].data, views[i].nbytes, err);
	}
	free(hdr);
	for (size_t i = 0; i < m->ntensors; i++)
		dcc_plain_free(&views[i]);
	free(views);
	return rc;
}
