/* info.c: dcc info -- per tensor name, dtype, shape, elements, nonzeros,
 * density and bytes, then the metadata; reads only the table of a .dct
 * unless --verify asks for every checksum. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../lib/dcc_encode.h"
#include "common.h"

static const char usage[] =
	"usage: dcc info [--json] [--verify] FILE...\n"
	"\n"
	"Shows each tensor of FILE (.dct, .npy, .npz, .safetensors or IDX): name,\n"
	"dtype, shape, elements, nonzeros, density and bytes on disk; then the\n"
	"model metadata (graph, provenance of each stage).\n"
	"\n"
	"  --json      print JSON: one object for one FILE, an array for several\n"
	"  --verify    read every tensor of a .dct and check its checksum\n"
	"  -h, --help  show this help\n";

static void dtype_str(const dcc_tensor *t, char *buf, size_t cap)
{
	if (t->dtype == DCC_PACKED)
		snprintf(buf, cap, "packed%d", t->bits);
	else if (t->dtype == DCC_Q8 || t->dtype == DCC_Q16 || t->dtype == DCC_Q32)
		snprintf(buf, cap, "%s(fl=%d)", dcc_dtype_name(t->dtype), t->fl);
	else
		snprintf(buf, cap, "%s", dcc_dtype_name(t->dtype));
}

static void shape_str(const dcc_tensor *t, char *buf, size_t cap)
{
	size_t k = 0;
	buf[0] = 0;
	if (t->ndim == 0)
		snprintf(buf, cap, "scalar");
	for (int d = 0; d < t->ndim && k < cap; d++)
		k += (size_t)snprintf(buf + k, cap - k, "%s%llu", d ? "x" : "", (unsigned long long)t->shape[d]);
}

static void print_kv(const dcc_kv *kv)
{
	char esc[4 * DCC_MAX_NAME + 8];
	int elem = kv->type == DCC_KV_ARR ? kv->elem_type : kv->type;
	if (kv->type == DCC_KV_ARR && elem == DCC_KV_STR) {
		printf("  %s: (%zu)\n", dcc_escape(kv->key, esc, sizeof(esc)), kv->count);
		for (size_t j = 0; j < kv->count; j++)
			printf("    %s\n", dcc_escape(kv->s[j], esc, sizeof(esc)));
		return;
	}
	printf("  %s: ", dcc_escape(kv->key, esc, sizeof(esc)));
	if (kv->type == DCC_KV_ARR)
		putchar('[');
	for (size_t j = 0; j < kv->count; j++) {
		if (j)
			fputs(", ", stdout);
		if (elem == DCC_KV_I64)
			printf("%lld", (long long)kv->i[j]);
		else if (elem == DCC_KV_F64)
			printf("%.17g", kv->f[j]);
		else
			printf("%s", dcc_escape(kv->s[j], esc, sizeof(esc)));
	}
	if (kv->type == DCC_KV_ARR)
		putchar(']');
	putchar('\n');
}

/* A JSON string of any bytes: as they are when they are UTF-8, escaped
 * (\xNN) when not, so no name is dropped. */
static json_t *jstr(const char *s)
{
	json_t *v = json_string(s);
	if (!v) {
		char esc[4 * DCC_MAX_NAME + 8];
		v = json_string(dcc_escape(s, esc, sizeof(esc)));
	}
	return v;
}

static json_t *kv_json(const dcc_kv *kv)
{
	int elem = kv->type == DCC_KV_ARR ? kv->elem_type : kv->type;
	json_t *a = kv->type == DCC_KV_ARR ? json_array() : NULL;
	for (size_t j = 0; j < kv->count; j++) {
		json_t *v = elem == DCC_KV_I64 ? json_integer(kv->i[j])
			    : elem == DCC_KV_F64 ? json_real(kv->f[j])
						 : jstr(kv->s[j]);
		if (!a)
			return v;
		json_array_append_new(a, v);
	}
	return a ? a : json_null();
}

/* A file as info shows it: a .dct's table (every tensor read and checked
 * with --verify), a blob decoded, any other format imported. */
static int load(const char *path, int verify, dcc_model **m, int *kind, int *blob)
{
	dcc_error e = {0};
	*m = NULL;
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		dcc_fail(&e, DCC_E_IO, "%s", strerror(errno));
		return cmd_fail(path, &e);
	}
	unsigned char head[16];
	size_t hn = fread(head, 1, sizeof(head), fp);
	fclose(fp);
	*kind = dcc_sniff(head, hn);
	*blob = dcc_dcb_sniff(head, hn);
	int rc = 0;
	if (*blob)
		return cmd_load_blob(path, m, NULL, NULL, NULL);
	rc = *kind == DCC_FILE_DCT ? dcc_dct_read(path, DCC_LOAD_TABLE_ONLY, m, &e) : dcc_import_file(path, m, &e);
	if (rc)
		return cmd_fail(path, &e);
	for (size_t i = 0; *kind == DCC_FILE_DCT && verify && i < (*m)->ntensors; i++) {
		dcc_tensor *t = &(*m)->tensors[i];
		if (dcc_dct_load_tensor(path, t, &e)) { /* every stored fact of it checked */
			dcc_model_free(*m);
			*m = NULL;
			return cmd_fail(path, &e);
		}
		free(t->data); /* one tensor in memory at a time */
		t->data = NULL;
	}
	return 0;
}

static json_t *info_json(const char *path, const dcc_model *m, int kind, int blob, int verify, uint64_t fsize)
{
	json_t *o = json_object(), *ts = json_array(), *md = json_object();
	json_object_set_new(o, "file", jstr(path));
	json_object_set_new(o, "format", json_string(blob ? "dcb" : dcc_filekind_name(kind)));
	json_object_set_new(o, "file_bytes", json_integer((json_int_t)fsize));
	if (kind == DCC_FILE_DCT)
		json_object_set_new(o, "verified", json_boolean(verify));
	for (size_t i = 0; i < m->ntensors; i++) {
		const dcc_tensor *t = &m->tensors[i];
		json_t *jt = json_object(), *sh = json_array();
		uint64_t n = dcc_tensor_numel(t);
		for (int d = 0; d < t->ndim; d++)
			json_array_append_new(sh, json_integer((json_int_t)t->shape[d]));
		json_object_set_new(jt, "name", jstr(t->name));
		json_object_set_new(jt, "dtype", json_string(dcc_dtype_name(t->dtype)));
		if (t->dtype == DCC_PACKED)
			json_object_set_new(jt, "bits", json_integer(t->bits));
		if (t->dtype == DCC_Q8 || t->dtype == DCC_Q16 || t->dtype == DCC_Q32)
			json_object_set_new(jt, "fl", json_integer(t->fl));
		json_object_set_new(jt, "shape", sh);
		json_object_set_new(jt, "elements", json_integer((json_int_t)n));
		json_object_set_new(jt, "nonzeros", json_integer((json_int_t)t->nnz));
		json_object_set_new(jt, "density", json_real(n ? (double)t->nnz / (double)n : 0));
		json_object_set_new(jt, "bytes", json_integer((json_int_t)t->nbytes));
		json_array_append_new(ts, jt);
	}
	for (size_t i = 0; i < m->nkv; i++) {
		char esc[4 * DCC_MAX_NAME + 8];
		json_object_set_new(md, dcc_utf8_valid(m->kv[i].key) ? m->kv[i].key : dcc_escape(m->kv[i].key, esc, sizeof(esc)),
				    kv_json(&m->kv[i]));
	}
	json_object_set_new(o, "tensors", ts);
	json_object_set_new(o, "metadata", md);
	return o;
}

static void info_text(const char *path, const dcc_model *m, int kind, int blob, int verify, uint64_t fsize)
{
	uint64_t tot_el = 0, tot_nz = 0, tot_b = 0;
	for (size_t i = 0; i < m->ntensors; i++) {
		tot_el += dcc_tensor_numel(&m->tensors[i]);
		tot_nz += m->tensors[i].nnz;
		tot_b += m->tensors[i].nbytes;
	}
	char b1[32], b2[32], esc[4 * DCC_MAX_NAME + 8];
	printf("%s: %s, %zu tensor%s, %s on disk, %s of tensor data\n", dcc_escape(path, esc, sizeof(esc)),
	       blob ? "dcb blob (shown decoded)" : dcc_filekind_name(kind), m->ntensors, m->ntensors == 1 ? "" : "s",
	       cmd_bytes((double)fsize, b1, sizeof(b1)), cmd_bytes((double)tot_b, b2, sizeof(b2)));
	/* Column widths from the data, so names of any length stay aligned. */
	int wn = 5, wd = 5, ws = 5;
	char dt[32], sh[256];
	for (size_t i = 0; i < m->ntensors; i++) {
		dtype_str(&m->tensors[i], dt, sizeof(dt));
		shape_str(&m->tensors[i], sh, sizeof(sh));
		int l = (int)strlen(dcc_escape(m->tensors[i].name, esc, sizeof(esc)));
		wn = l > wn ? l : wn;
		wd = (int)strlen(dt) > wd ? (int)strlen(dt) : wd;
		ws = (int)strlen(sh) > ws ? (int)strlen(sh) : ws;
	}
	if (m->ntensors) {
		printf("  %-*s  %-*s  %-*s  %12s  %12s  %8s  %12s\n", wn, "name", wd, "dtype", ws, "shape", "elements",
		       "nonzeros", "density", "bytes");
		for (size_t i = 0; i < m->ntensors; i++) {
			const dcc_tensor *t = &m->tensors[i];
			uint64_t n = dcc_tensor_numel(t);
			dtype_str(t, dt, sizeof(dt));
			shape_str(t, sh, sizeof(sh));
			printf("  %-*s  %-*s  %-*s  %12llu  %12llu  %7.2f%%  %12zu\n", wn, dcc_escape(t->name, esc, sizeof(esc)),
			       wd, dt, ws, sh, (unsigned long long)n, (unsigned long long)t->nnz,
			       n ? 100.0 * (double)t->nnz / (double)n : 0.0, t->nbytes);
		}
		printf("  %-*s  %-*s  %-*s  %12llu  %12llu  %7.2f%%  %12llu\n", wn, "total", wd, "", ws, "",
		       (unsigned long long)tot_el, (unsigned long long)tot_nz,
		       tot_el ? 100.0 * (double)tot_nz / (double)tot_el : 0.0, (unsigned long long)tot_b);
	}
	if (kind == DCC_FILE_DCT)
		printf("checksums: header and metadata verified; tensor data %s\n",
		       verify ? "verified (checksums, nonzero counts, padding bits)" : "not read (use --verify)");
	if (m->nkv) {
		printf("metadata:\n");
		for (size_t i = 0; i < m->nkv; i++)
			print_kv(&m->kv[i]);
	}
}

static int info_one(const char *path, int as_json, int verify, json_t *out_arr, json_t **out_obj)
{
	dcc_model *m;
	int kind = DCC_FILE_UNKNOWN, blob = 0;
	if (load(path, verify, &m, &kind, &blob))
		return EXIT_FAIL;
	struct stat st;
	uint64_t fsize = stat(path, &st) ? 0 : (uint64_t)st.st_size;
	if (as_json) {
		json_t *o = info_json(path, m, kind, blob, verify, fsize);
		if (out_arr)
			json_array_append_new(out_arr, o);
		else
			*out_obj = o;
	} else {
		info_text(path, m, kind, blob, verify, fsize);
	}
	dcc_model_free(m);
	return 0;
}

int cmd_info(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"verify", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int as_json = 0, verify = 0, c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': as_json = 1; break;
		case 'v': verify = 1; break;
		case 'h': return cmd_help(usage);
		default: return cmd_usage_error(usage, NULL);
		}
	}
	if (optind >= argc)
		return cmd_usage_error(usage, "no file given");
	int status = EXIT_OK, nfiles = argc - optind;
	json_t *arr = as_json && nfiles > 1 ? json_array() : NULL, *obj = NULL;
	for (int i = optind; i < argc; i++) {
		if (!as_json && i > optind)
			putchar('\n');
		if (info_one(argv[i], as_json, verify, arr, &obj))
			status = EXIT_FAIL;
	}
	json_t *root = arr ? arr : obj;
	if (root) {
		char *s = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
		if (s)
			puts(s);
		free(s);
		json_decref(root);
	}
	return cmd_finish(status);
}
