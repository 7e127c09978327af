/* asm.c: the program's text form (formats/isa.md): directives, one
 * instruction per line, and the DRAM image as .data lines; dcc disasm
 * writes it and dcc asm reads it back into the identical program.  The
 * assembler refuses what the program reader refuses (dcc_program_check). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/core/internal.h"
#include "../lib/dcc_isa.h"
#include "dcc_formats.h"

static const char *const ew_names[] = {"relu", "add", "mul", "copy", "addsh", "shift", "clip", "leaky", "hsig", "hswish", "mulsh", "subsh", "divsh"};

#define DATA_LINE 32 /* bytes of the DRAM image per .data line */

/* The DRAM image as .data lines, all-zero runs left out (the image starts
 * zeroed). */
static void put_data(dcc_buf *b, const dcc_program *p)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t a = 0; p->dram && a < p->dram_bytes; a += DATA_LINE) {
		size_t n = p->dram_bytes - a < DATA_LINE ? p->dram_bytes - a : DATA_LINE, z = 0;
		while (z < n && !p->dram[a + z])
			z++;
		if (z == n)
			continue;
		char line[32 + 2 * DATA_LINE];
		int k = snprintf(line, sizeof(line), ".data 0x%zx ", a);
		for (size_t i = 0; i < n; i++)
			line[k++] = hex[p->dram[a + i] >> 4], line[k++] = hex[p->dram[a + i] & 15];
		line[k++] = '\n';
		dcc_buf_put(b, line, (size_t)k);
	}
}

int dcc_program_disasm(const dcc_program *p, char **text, dcc_error *err)
{
	dcc_buf b = {0};
	char line[160];
	int k = snprintf(line, sizeof(line),
			 ".blob_crc 0x%08x\n.pes %d\n.dram %u\n.input 0x%x %u\n.output 0x%x %u\n.buffers %u\n", p->blob_crc,
			 p->pes, p->dram_bytes, p->in_addr, p->in_len, p->out_addr, p->out_len, p->buf_words);
	dcc_buf_put(&b, line, (size_t)k);
	if (p->convolvers) {
		k = snprintf(line, sizeof(line), ".convolver pes=%u convolvers=%u k=%u buf_kb=%u\n", p->conv_pes,
			     p->convolvers, p->conv_k, p->conv_buf_kb);
		dcc_buf_put(&b, line, (size_t)k);
	}
	if (p->dram) {
		k = snprintf(line, sizeof(line), ".input_shape %u %u %u\n.input_format %d %d\n.output_fl %d\n", p->in_c,
			     p->in_h, p->in_w, p->in_bw, p->in_fl, p->out_fl);
		dcc_buf_put(&b, line, (size_t)k);
		if (p->head == DCC_OP_BCE || p->head == DCC_OP_MSE) {
			k = snprintf(line, sizeof(line), ".head %s\n", dcc_op_name(p->head));
			dcc_buf_put(&b, line, (size_t)k);
		}
		for (size_t c = 0; c < p->norm.n; c++) { /* %a: the doubles exactly */
			k = snprintf(line, sizeof(line), ".input_norm %a %a\n", p->norm.mean[c], p->norm.std[c]);
			dcc_buf_put(&b, line, (size_t)k);
		}
	}
	for (size_t i = 0; i < p->n; i++) {
		const dcc_insn *s = &p->insn[i];
		switch (s->op) {
		case DCC_INSN_END: k = snprintf(line, sizeof(line), "end\n"); break;
		case DCC_INSN_SYNC: k = snprintf(line, sizeof(line), "sync\n"); break;
		case DCC_INSN_LOAD:
		case DCC_INSN_STORE:
			k = snprintf(line, sizeof(line), "%s buf=%u dram=0x%x words=%u offset=%u\n",
				     s->op == DCC_INSN_LOAD ? "load" : "store", s->a, s->x, s->y, s->z);
			break;
		case DCC_INSN_SPMV:
			k = snprintf(line, sizeof(line), "spmv desc=0x%x in=%u out=%u offset=%u%s\n", s->x, s->a, s->b, s->z,
				     s->flags & 1 ? " relu" : "");
			break;
		case DCC_INSN_SPCONV:
			k = snprintf(line, sizeof(line), "spconv desc=0x%x in=%u out=%u%s\n", s->x, s->a, s->b,
				     s->flags & 1 ? " relu" : "");
			break;
		case DCC_INSN_CONV:
			k = snprintf(line, sizeof(line), "conv desc=0x%x in=%u out=%u%s\n", s->x, s->a, s->b,
				     s->flags & 1 ? " relu" : "");
			break;
		case DCC_INSN_LSTMCELL:
			k = snprintf(line, sizeof(line), "lstmcell desc=0x%x z=%u hc=%u\n", s->x, s->a, s->b);
			break;
		case DCC_INSN_POOL:
			k = snprintf(line, sizeof(line), "%s in=%u out=%u c=%u h=%u w=%u k=%u stride=%u pad=%u ceil=%u%s\n",
				     s->flags & DCC_POOL_AVG ? "avgpool" : "maxpool", s->a, s->b, s->x, s->y >> 16, s->y & 0xffff,
				     DCC_POOL_K(s->z), s->z & 0xff, DCC_POOL_PAD(s->flags), (s->flags & DCC_POOL_CEIL) ? 1 : 0,
				     (s->z & DCC_POOL_INCL) ? " incl=1" : "");
			break;
		case DCC_INSN_ACT:
			k = snprintf(line, sizeof(line), "act %s in=%u out=%u n=%u table=0x%x fl=%d shift=%d bw=%u\n",
				     s->flags ? "tanh" : "sigmoid", s->a, s->b, s->x, s->y, (int8_t)(s->z & 0xff),
				     (int8_t)((s->z >> 8) & 0xff), (s->z >> 16) & 0xff);
			break;
		default:
			if (dcc_ew_shifts(s->flags))
				k = snprintf(line, sizeof(line), "ewop %s a=%u b=%u out=%u n=%u bw=%u sa=%d sb=%d\n",
					     ew_names[s->flags], s->a, s->b, s->y, s->x, s->z & 0xff, (int8_t)(s->z >> 8),
					     (int8_t)(s->z >> 16));
			else
				k = snprintf(line, sizeof(line), "ewop %s a=%u b=%u out=%u n=%u shift=%u\n",
					     ew_names[s->flags <= DCC_EW_DIVSH ? s->flags : 0], s->a, s->b, s->y, s->x, s->z);
		}
		dcc_buf_put(&b, line, (size_t)k);
	}
	put_data(&b, p);
	dcc_buf_u8(&b, 0);
	if (b.oom) {
		dcc_buf_free(&b);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	*text = (char *)b.p;
	return 0;
}

/* key=value with a number (decimal or 0x hex) */
static int kv_num(const char *line, const char *key, uint32_t *v)
{
	char pat[32];
	snprintf(pat, sizeof(pat), " %s=", key);
	const char *s = strstr(line, pat);
	if (!s)
		return -1;
	char *end;
	unsigned long long x = strtoull(s + strlen(pat), &end, 0);
	if (end == s + strlen(pat) || (*end && *end != ' ' && *end != '\n') || x > 0xffffffffull)
		return -1;
	*v = (uint32_t)x;
	return 0;
}

/* n whitespace-separated numbers (decimal or 0x hex, each below 2^32), and
 * nothing after them. */
static int nums(const char *s, int n, uint32_t *a, uint32_t *b, uint32_t *c)
{
	uint32_t *v[3] = {a, b, c};
	for (int i = 0; i < n; i++) {
		char *end;
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '-' || *s == '+')
			return -1;
		errno = 0;
		unsigned long long x = strtoull(s, &end, 0);
		if (end == s || errno || x > 0xffffffffull)
			return -1;
		*v[i] = (uint32_t)x;
		s = end;
	}
	return s[strspn(s, " \t")] ? -1 : 0;
}

static int snums(const char *s, int n, long *a, long *b)
{
	long *v[2] = {a, b};
	for (int i = 0; i < n; i++) {
		char *end;
		errno = 0;
		long x = strtol(s, &end, 10);
		if (end == s || errno)
			return -1;
		*v[i] = x;
		s = end;
	}
	return s[strspn(s, " \t")] ? -1 : 0;
}

/* A pending .data line: its address and bytes. */
typedef struct dline {
	uint32_t addr;
	uint8_t n, b[DATA_LINE];
} dline;

static int data_line(const char *s, dline **v, size_t *n, size_t *cap)
{
	char *end;
	s += strspn(s, " \t");
	errno = 0;
	unsigned long long a = strtoull(s, &end, 0);
	if (end == s || errno || a > 0xffffffffull || (*end != ' ' && *end != '\t'))
		return -1;
	s = end + strspn(end, " \t");
	size_t len = strcspn(s, " \t\r");
	if (!len || len % 2 || len > 2 * DATA_LINE || s[len + strspn(s + len, " \t\r")])
		return -1;
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 256;
		dline *q = realloc(*v, c * sizeof(dline));
		if (!q)
			return -1;
		*v = q, *cap = c;
	}
	dline *d = &(*v)[(*n)++];
	d->addr = (uint32_t)a, d->n = (uint8_t)(len / 2);
	for (size_t i = 0; i < len; i++) {
		int h = s[i] >= '0' && s[i] <= '9' ? s[i] - '0' : s[i] >= 'a' && s[i] <= 'f' ? s[i] - 'a' + 10
					     : s[i] >= 'A' && s[i] <= 'F' ? s[i] - 'A' + 10 : -1;
		if (h < 0)
			return -1;
		d->b[i / 2] = (uint8_t)(i % 2 ? d->b[i / 2] | h : h << 4);
	}
	return 0;
}

/* ".input_norm MEAN STD": one channel's, as C reads doubles (%a or decimal). */
static int norm_line(const char *s, dcc_norm *nm)
{
	char *end;
	double m = strtod(s, &end), sd;
	if (end == s)
		return 1;
	s = end;
	sd = strtod(s, &end);
	if (end == s || *(end + strspn(end, " \t")))
		return 1;
	nm->mean[nm->n] = m, nm->std[nm->n] = sd, nm->n++;
	return 0;
}

int dcc_program_asm(const char *text, dcc_program *p, dcc_error *err)
{
	memset(p, 0, sizeof(*p));
	size_t cap = 0, lineno = 0, ndata = 0, datacap = 0;
	dline *data = NULL;
	int self = 0; /* .input_shape: a program with its DRAM image */
	const char *s = text;
	while (*s) {
		const char *nl = strchr(s, '\n');
		size_t L = nl ? (size_t)(nl - s) : strlen(s);
		char line[256];
		lineno++;
		if (L >= sizeof(line)) {
			free(data);
			dcc_program_free(p);
			return dcc_fail(err, DCC_E_FORMAT, "line %zu: too long", lineno);
		}
		memcpy(line, s, L);
		line[L] = 0;
		s += L + (nl ? 1 : 0);
		char *h = strchr(line, '#');
		if (h)
			*h = 0;
		char op[16] = {0};
		if (sscanf(line, "%15s", op) != 1)
			continue;
		int bad = 0;
		uint32_t a1 = 0;
		long s1 = 0, s2 = 0;
		if (op[0] == '.') {
			const char *rest = line + strspn(line, " \t") + strlen(op);
			if (!strcmp(op, ".blob_crc"))
				bad = nums(rest, 1, &p->blob_crc, NULL, NULL);
			else if (!strcmp(op, ".dram"))
				bad = nums(rest, 1, &p->dram_bytes, NULL, NULL);
			else if (!strcmp(op, ".pes"))
				bad = nums(rest, 1, &a1, NULL, NULL) || a1 > 65535, p->pes = (int)a1;
			else if (!strcmp(op, ".buffers"))
				bad = nums(rest, 1, &p->buf_words, NULL, NULL);
			else if (!strcmp(op, ".input"))
				bad = nums(rest, 2, &p->in_addr, &p->in_len, NULL);
			else if (!strcmp(op, ".input_shape"))
				bad = nums(rest, 3, &p->in_c, &p->in_h, &p->in_w), self = 1;
			else if (!strcmp(op, ".input_format"))
				bad = snums(rest, 2, &s1, &s2) || s1 < 1 || s1 > 32 || s2 < -128 || s2 > 127,
				p->in_bw = (int)s1, p->in_fl = (int)s2;
			else if (!strcmp(op, ".head")) {
				char hn[16] = {0};
				bad = sscanf(rest, "%15s", hn) != 1 || !dcc_op_is_loss(dcc_op_from_name(hn));
				p->head = bad ? 0 : dcc_op_from_name(hn);
			} else if (!strcmp(op, ".input_norm"))
				bad = p->norm.n >= DCC_NORM_MAX || norm_line(rest, &p->norm);
			else if (!strcmp(op, ".output_fl"))
				bad = snums(rest, 1, &s1, NULL) || s1 < -128 || s1 > 127, p->out_fl = (int)s1;
			else if (!strcmp(op, ".data"))
				bad = data_line(rest, &data, &ndata, &datacap);
			else if (!strcmp(op, ".convolver"))
				bad = kv_num(line, "pes", &p->conv_pes) || kv_num(line, "convolvers", &p->convolvers) ||
				      kv_num(line, "k", &p->conv_k) || kv_num(line, "buf_kb", &p->conv_buf_kb) ||
				      !p->convolvers || p->convolvers > 0xffff || !p->conv_pes || p->conv_pes > 0xffff;
			else if (!strcmp(op, ".output"))
				bad = nums(rest, 2, &p->out_addr, &p->out_len, NULL);
			else
				bad = 1;

			if (bad) {
				free(data);
				dcc_program_free(p);
				return dcc_fail(err, DCC_E_FORMAT, "line %zu: bad directive '%s'", lineno, op);
			}
			continue;
		}
		dcc_insn in = {0};
		uint32_t v;
		if (!strcmp(op, "end")) {
			in.op = DCC_INSN_END;
		} else if (!strcmp(op, "sync")) {
			in.op = DCC_INSN_SYNC;
		} else if (!strcmp(op, "load") || !strcmp(op, "store")) {
			in.op = op[0] == 'l' ? DCC_INSN_LOAD : DCC_INSN_STORE;
			bad = kv_num(line, "buf", &v) || v > 255;
			in.a = (uint8_t)v;
			bad |= kv_num(line, "dram", &in.x) || kv_num(line, "words", &in.y) || kv_num(line, "offset", &in.z);
		} else if (!strcmp(op, "lstmcell")) {
			uint32_t a, b;
			in.op = DCC_INSN_LSTMCELL;
			bad = kv_num(line, "desc", &in.x) || kv_num(line, "z", &a) || kv_num(line, "hc", &b) || a > 255 || b > 255;
			in.a = (uint8_t)a, in.b = (uint8_t)b;
		} else if (!strcmp(op, "act")) {
			char name[16] = {0};
			uint32_t a = 0, b = 0, bw = 0;
			long fl = 0, sh = 0;
			const char *f = strstr(line, " fl="), *h = strstr(line, " shift=");
			in.op = DCC_INSN_ACT;
			bad = sscanf(line, "%*s %15s", name) != 1 || (strcmp(name, "sigmoid") && strcmp(name, "tanh")) || !f || !h ||
			      kv_num(line, "in", &a) || kv_num(line, "out", &b) || kv_num(line, "n", &in.x) ||
			      kv_num(line, "table", &in.y) || kv_num(line, "bw", &bw) || a > 255 || b > 255 || bw > 255;
			if (!bad) {
				fl = strtol(f + 4, NULL, 10), sh = strtol(h + 7, NULL, 10);
				bad = fl < -128 || fl > 127 || sh < -128 || sh > 127;
			}
			in.flags = name[0] == 't' ? DCC_ACT_TANH : DCC_ACT_SIGMOID, in.a = (uint8_t)a, in.b = (uint8_t)b;
			in.z = (uint32_t)(uint8_t)(int8_t)fl | (uint32_t)(uint8_t)(int8_t)sh << 8 | bw << 16;
		} else if (!strcmp(op, "maxpool") || !strcmp(op, "avgpool")) {
			uint32_t a, b, C, H, W, K, S, P = 0, ce = 0, inc = 0;
			in.op = DCC_INSN_POOL;
			bad = kv_num(line, "in", &a) || kv_num(line, "out", &b) || kv_num(line, "c", &C) || kv_num(line, "h", &H) ||
			      kv_num(line, "w", &W) || kv_num(line, "k", &K) || kv_num(line, "stride", &S) || a > 255 || b > 255 ||
			      H > 65535 || W > 65535 || K > 0xffff || S > 255;
			if ((strstr(line, " pad=") && kv_num(line, "pad", &P)) || (strstr(line, " ceil=") && kv_num(line, "ceil", &ce)) ||
			    (strstr(line, " incl=") && kv_num(line, "incl", &inc)) || P > 63 || ce > 1 || inc > 1)
				bad = 1; /* optional, 0 when absent */
			in.flags = (uint8_t)((op[0] == 'a' ? DCC_POOL_AVG : 0) | (ce ? DCC_POOL_CEIL : 0) | (P & 63) << 2);
			in.a = (uint8_t)a, in.b = (uint8_t)b, in.x = C, in.y = H << 16 | W, in.z = K << 8 | S | (inc ? DCC_POOL_INCL : 0);
		} else if (!strcmp(op, "spmv") || !strcmp(op, "spconv") || !strcmp(op, "conv")) {
			in.op = op[0] == 'c' ? DCC_INSN_CONV : op[2] == 'm' ? DCC_INSN_SPMV : DCC_INSN_SPCONV;
			uint32_t a = 0, b = 0;
			bad = kv_num(line, "desc", &in.x) || kv_num(line, "in", &a) || kv_num(line, "out", &b) || a > 255 || b > 255;
			if (in.op == DCC_INSN_SPMV && kv_num(line, "offset", &in.z))
				in.z = 0; /* the input offset, 0 when absent */
			in.a = (uint8_t)a, in.b = (uint8_t)b;
			in.flags = strstr(line, " relu") ? 1 : 0;
		} else if (!strcmp(op, "ewop")) {
			in.op = DCC_INSN_EWOP;
			char name[16] = {0};
			bad = sscanf(line, "%*s %15s", name) != 1;
			int f = -1;
			for (int k = 0; k < (int)(sizeof(ew_names) / sizeof(ew_names[0])); k++)
				if (!strcmp(name, ew_names[k]))
					f = k;
			uint32_t a = 0, b = 0, bw = 0;
			bad |= f < 0 || kv_num(line, "a", &a) || kv_num(line, "b", &b) || kv_num(line, "out", &in.y) ||
			       kv_num(line, "n", &in.x) || a > 255 || b > 255;
			if (dcc_ew_shifts(f)) { /* bw=W sa=A sb=B: the width and the two shifts */
				const char *pa = strstr(line, " sa="), *pb = strstr(line, " sb=");
				long sa = pa ? strtol(pa + 4, NULL, 10) : 999, sb = pb ? strtol(pb + 4, NULL, 10) : 999;
				bad |= kv_num(line, "bw", &bw) || bw < 1 || bw > 32 || sa < -128 || sa > 127 || sb < -128 || sb > 127;
				in.z = bad ? 0 : dcc_addsh_z((int)bw, (int)sa, (int)sb);
			} else {
				bad |= kv_num(line, "shift", &in.z);
			}
			in.flags = (uint8_t)(f < 0 ? 0 : f), in.a = (uint8_t)a, in.b = (uint8_t)b;
		} else {
			free(data);
			dcc_program_free(p);
			return dcc_fail(err, DCC_E_FORMAT, "line %zu: unknown instruction '%s'", lineno, op);
		}
		if (bad) {
			free(data);
			dcc_program_free(p);
			return dcc_fail(err, DCC_E_FORMAT, "line %zu: bad operands for '%s'", lineno, op);
		}
		if (p->n == cap) {
			cap = cap ? 2 * cap : 16;
			dcc_insn *q = realloc(p->insn, cap * sizeof(dcc_insn));
			if (!q) {
				free(data);
				dcc_program_free(p);
				return dcc_fail(err, DCC_E_NOMEM, "out of memory");
			}
			p->insn = q;
		}
		p->insn[p->n++] = in;
	}
	int rc = 0;
	/* the image starts zeroed: bounded by the text that describes it */
	if (self && p->dram_bytes > 32 * (uint64_t)strlen(text) + (16u << 20))
		rc = dcc_fail(err, DCC_E_RANGE, "a %u-byte DRAM image from %zu bytes of text", p->dram_bytes, strlen(text));
	if (!rc && ndata && !self)
		rc = dcc_fail(err, DCC_E_FORMAT, ".data without .input_shape: a program with its DRAM image says what its input is");
	if (!rc && self && !(p->dram = calloc(1, p->dram_bytes ? p->dram_bytes : 1)))
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory for a %u-byte DRAM image", p->dram_bytes);
	for (size_t i = 0; !rc && i < ndata; i++) {
		if ((uint64_t)data[i].addr + data[i].n > p->dram_bytes)
			rc = dcc_fail(err, DCC_E_RANGE, ".data at 0x%x (%u bytes) is outside the %u-byte DRAM", data[i].addr,
				      data[i].n, p->dram_bytes);
		else
			memcpy(p->dram + data[i].addr, data[i].b, data[i].n);
	}
	free(data);
	/* what the program reader would refuse, the assembler refuses */
	if (!rc)
		rc = dcc_program_check(p, err);
	if (rc)
		dcc_program_free(p);
	return rc;
}

