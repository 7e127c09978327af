/* compile.c: the compiler -- a decoded fixed-point model laid out in the
 * accelerator's DRAM (EIE's per-PE layout for fc layers and the PE array's
 * convolutions, dense 16-bit weights tiled for the convolver engine, the
 * activation tables) and the program that runs it (formats/isa.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "../dcc_accel.h"
#include "../dcc_encode.h"
#include "../dcc_fixed.h"

typedef struct img {
	uint8_t *p;
	size_t n, cap;
} img;

static uint32_t reserve(img *m, size_t bytes)
{
	size_t at = (m->n + 63) & ~(size_t)63;
	if (at + bytes > m->cap) {
		size_t c = m->cap ? m->cap : 4096;
		while (c < at + bytes)
			c *= 2;
		uint8_t *q = realloc(m->p, c);
		if (!q)
			return UINT32_MAX;
		memset(q + m->cap, 0, c - m->cap);
		m->p = q;
		m->cap = c;
	}
	m->n = at + bytes;
	return at > UINT32_MAX - bytes ? UINT32_MAX : (uint32_t)at;
}

static int32_t qget(const dcc_tensor *t, size_t i)
{
	const uint8_t *p = t->data;
	return t->dtype == DCC_Q8 ? (int8_t)p[i] : t->dtype == DCC_Q16 ? (int16_t)(p[2 * i] | p[2 * i + 1] << 8)
								  : (int32_t)dcc_rd32(p + 4 * i);
}

/* A shared weight's entries in EIE's per-PE layout (pruned weights absent):
 * what lay_matrix writes and the placement's cycle estimate reads. */
static int eie_layout(const dcc_tensor *ix, const dcc_tensor *mk, int pes, size_t rows, size_t cols, dcc_sparse *sp,
		      dcc_error *err)
{
	size_t n = rows * cols;
	uint8_t *present = malloc(n);
	uint32_t *sym = malloc(n * sizeof(uint32_t));
	if (!present || !sym) {
		free(present), free(sym);
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	}
	for (size_t k = 0; k < n; k++) {
		present[k] = mk ? (((const uint8_t *)mk->data)[k / 8] >> (k % 8)) & 1 : 1;
		sym[k] = present[k] ? dcc_packed_get(ix->data, ix->bits, k) : 0;
	}
	int rc = dcc_sparse_build(sp, DCC_LAYOUT_EIE, 4, pes, rows, cols, present, sym, 0, err);
	free(present), free(sym);
	return rc;
}

/* One weight matrix in DRAM in EIE's layout: descriptor (+ conv geometry),
 * codebook, biases, PE table, per-PE pointers and entries. */
static int lay_matrix(img *im, dcc_model *m, const char *wname, const char *bname, int pes, int a_bw, int shift,
		      int bshift, const char *lname, const uint32_t *geo, uint32_t *desc_out, dcc_error *err)
{
	dcc_parts pt;
	dcc_parts_find(m, wname, &pt);
	const dcc_tensor *cb = pt.codebook, *ix = pt.index, *mk = pt.mask, *bias = dcc_model_find(m, bname);
	if (!cb || !ix || ix->bits > 4 || cb->dtype == DCC_F32 || qget(cb, 0) != 0 || !bias || bias->dtype == DCC_F32)
		return dcc_fail(err, DCC_E_UNSUPPORTED,
				"'%s': the accelerator needs 4-bit shared weights with codebook entry 0 zero "
				"(dcc share --bits 4 --zero) in fixed point (dcc fixed)", wname);
	size_t rows = (size_t)ix->shape[0], cols = (size_t)dcc_tensor_numel(ix) / rows;
	dcc_sparse sp;
	int rc = eie_layout(ix, mk, pes, rows, cols, &sp, err);
	if (rc)
		return rc;
	uint32_t desc = reserve(im, geo ? 128 : 64), cba = reserve(im, 64), ba = reserve(im, 4 * rows),
		 pet = reserve(im, 16 * (size_t)pes);
	uint32_t *ptr_addr = malloc((size_t)pes * sizeof(uint32_t)), *ent_addr = malloc((size_t)pes * sizeof(uint32_t));
	size_t e0 = 0;
	for (int pe = 0; ptr_addr && ent_addr && pe < pes; pe++) {
		size_t ne = 0;
		for (size_t c = 0; c < cols; c++)
			ne += sp.count[(size_t)pe * cols + c];
		ptr_addr[pe] = reserve(im, 4 * (cols + 1));
		ent_addr[pe] = reserve(im, ne ? ne : 1);
		if (ptr_addr[pe] == UINT32_MAX || ent_addr[pe] == UINT32_MAX)
			break;
		uint32_t acc = 0;
		for (size_t c = 0; c < cols; c++) {
			dcc_wr32(im->p + ptr_addr[pe] + 4 * c, acc);
			acc += sp.count[(size_t)pe * cols + c];
		}
		dcc_wr32(im->p + ptr_addr[pe] + 4 * cols, acc);
		for (size_t k = 0; k < ne; k++)
			im->p[ent_addr[pe] + k] = (uint8_t)(sp.skip[e0 + k] << 4 | sp.val[e0 + k]);
		e0 += ne;
		uint8_t *t = im->p + pet + 16 * (size_t)pe;
		dcc_wr32(t, ptr_addr[pe]), dcc_wr32(t + 4, ent_addr[pe]), dcc_wr32(t + 8, (uint32_t)ne),
			dcc_wr32(t + 12, (uint32_t)((rows - (size_t)pe + (size_t)pes - 1) / (size_t)pes));
	}
	int oom = !ptr_addr || !ent_addr || im->n > UINT32_MAX || e0 != sp.nentries;
	free(ptr_addr), free(ent_addr);
	dcc_sparse_free(&sp);
	if (oom || desc == UINT32_MAX)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory (or a DRAM image beyond 4 GB)");
	uint8_t *d = im->p + desc;
	dcc_wr32(d, 0x5259414c); /* "LAYR" */
	dcc_wr32(d + 4, (uint32_t)rows), dcc_wr32(d + 8, (uint32_t)cols), dcc_wr32(d + 12, (uint32_t)pes);
	dcc_wr32(d + 16, (uint32_t)a_bw), dcc_wr32(d + 20, (uint32_t)shift), dcc_wr32(d + 24, (uint32_t)bshift);
	dcc_wr32(d + 28, cba), dcc_wr32(d + 32, ba), dcc_wr32(d + 36, pet);
	snprintf((char *)d + 40, 24, "%s", lname);
	for (int k = 0; geo && k < 8; k++) /* a convolution's geometry block */
		dcc_wr32(d + 64 + 4 * k, geo[k]);
	for (int k = 0; k < 16; k++)
		dcc_wr32(im->p + cba + 4 * k, (uint32_t)qget(cb, (size_t)k));
	for (size_t r = 0; r < rows; r++)
		dcc_wr32(im->p + ba + 4 * r, (uint32_t)qget(bias, r));
	*desc_out = desc;
	return 0;
}

/* Where a pointwise (1x1, ungrouped) convolution runs when both can: the
 * convolver engine's model (its tiling's cycles) against the PE array's, an
 * SpMV per output position with every input activation taken as nonzero
 * (the compiler does not see the data, so the PE array's estimate is its
 * worst case) plus the pipeline latency, formats/isa.md.  The PE array
 * needs 4-bit shared weights with entry 0 zero (what lay_matrix takes).
 * 1: the PE array. */
/* A convolution node's shape for the engine, one group's channels. */
static dcc_conv_shape conv_shape(const dcc_layer *g, uint32_t G)
{
	const dcc_geom *q = &g->geo;
	return (dcc_conv_shape){(uint32_t)g->oc / G, (uint32_t)g->ic / G, (uint32_t)g->ih, (uint32_t)g->iw, (uint32_t)q->kh,
				(uint32_t)q->kw, (uint32_t)q->sh, (uint32_t)q->sw, (uint32_t)q->pt, (uint32_t)q->pl,
				(uint32_t)q->pb, (uint32_t)q->pr, (uint32_t)q->dh, (uint32_t)q->dw, (uint32_t)g->oh,
				(uint32_t)g->ow};
}

static int pointwise_on_pes(dcc_model *m, const dcc_layer *g, const dcc_accel_cfg *c, int pes, int a_bw)
{
	dcc_parts pt;
	dcc_parts_find(m, g->p[0].name, &pt);
	const dcc_tensor *cb = pt.codebook, *ix = pt.index, *mk = pt.mask;
	if (g->geo.kh != 1 || g->geo.kw != 1 || !dcc_geom_square(&g->geo) || g->group != 1 || !cb || !ix || ix->bits > 4 ||
	    cb->dtype == DCC_F32 || qget(cb, 0) != 0)
		return 0;
	dcc_conv_shape sh = conv_shape(g, 1);
	uint32_t tr, tc;
	dcc_error e;
	if (dcc_conv_tiling(&sh, c, a_bw, &tr, &tc, &e))
		return 1; /* no tile fits the engine's buffers */
	dcc_layer_stats st = {0};
	dcc_conv_model(&sh, c, tr, tc, a_bw, &st);
	size_t rows = (size_t)g->oc, cols = (size_t)g->ic;
	uint32_t *nz = malloc(cols * sizeof(uint32_t)); /* every column: activations taken as nonzero */
	dcc_sparse sp;
	if (!nz || eie_layout(ix, mk, pes, rows, cols, &sp, &e)) {
		free(nz);
		return 0; /* the engine, which takes it as it is */
	}
	for (size_t j = 0; j < cols; j++)
		nz[j] = (uint32_t)j;
	uint64_t one = dcc_pe_cycles(sp.count, (uint32_t)pes, (uint32_t)cols, nz, (uint32_t)cols, c->fifo, NULL);
	uint64_t pe = ((uint64_t)g->oh * (uint64_t)g->ow) * (one + (uint64_t)c->pipeline);
	dcc_sparse_free(&sp);
	free(nz);
	return pe < st.cycles;
}

/* A convolution for the convolver engine: descriptor, dense 16-bit weights
 * (the codebook looked up, pruned weights zero), biases, and the tile the
 * compiler picked (formats/isa.md). */
static int lay_conv(img *im, dcc_model *m, const dcc_layer *g, const dcc_accel_cfg *c, int a_bw, int shift, int bshift,
		    uint32_t *desc_out, dcc_error *err)
{
	const char *wname = g->p[0].name;
	dcc_parts pt;
	dcc_parts_find(m, wname, &pt);
	const dcc_tensor *cb = pt.codebook, *ix = pt.index, *mk = pt.mask, *w = pt.weight;
	const dcc_tensor *bias = dcc_model_find(m, g->p[1].name);
	/* a grouped convolution is G convolutions of M/G outputs from C/G inputs:
	 * one group's shape is what the engine is tiled for */
	uint32_t G = (uint32_t)g->group;
	dcc_conv_shape sh = conv_shape(g, G);
	size_t n = (size_t)g->oc * sh.C * sh.kh * sh.kw;
	if (sh.kh > 0xffff || sh.kw > 0xffff || sh.sh > 0xffff || sh.sw > 0xffff || sh.pt > 0xffff || sh.pl > 0xffff ||
	    sh.pb > 0xffff || sh.pr > 0xffff || sh.dh > 0xffff || sh.dw > 0xffff)
		return dcc_fail(err, DCC_E_UNSUPPORTED, "layer '%s': a kernel, stride, pad or dilation beyond 65535", g->name);
	int shared = cb && ix && cb->dtype != DCC_F32;
	if ((!shared && (!w || w->dtype == DCC_F32 || (size_t)dcc_tensor_numel(w) != n)) ||
	    (shared && (size_t)dcc_tensor_numel(ix) != n) || !bias || bias->dtype == DCC_F32)
		return dcc_fail(err, DCC_E_UNSUPPORTED, "'%s': the convolver engine needs fixed-point weights (dcc fixed)", wname);
	uint32_t tr, tc;
	int rc = dcc_conv_tiling(&sh, c, a_bw, &tr, &tc, err);
	if (rc) {
		char why[DCC_ERR_MAX];
		snprintf(why, sizeof(why), "%s", err->msg);
		return dcc_fail(err, rc, "layer '%s': %s", g->name, why);
	}
	uint32_t desc = reserve(im, 128), wa = reserve(im, 2 * n), ba = reserve(im, 4 * (size_t)g->oc);
	if (desc == UINT32_MAX || wa == UINT32_MAX || ba == UINT32_MAX || im->n > UINT32_MAX)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory (or a DRAM image beyond 4 GB)");
	for (size_t i = 0; i < n; i++) {
		int32_t v;
		if (shared) {
			int kept = mk ? (((const uint8_t *)mk->data)[i / 8] >> (i % 8)) & 1 : 1;
			uint32_t sym = dcc_packed_get(ix->data, ix->bits, i);
			if (sym >= dcc_tensor_numel(cb))
				return dcc_fail(err, DCC_E_FORMAT, "'%s': index %u outside its codebook", wname, sym);
			v = kept ? qget(cb, sym) : 0;
		} else {
			v = qget(w, i);
		}
		if (v < -32768 || v > 32767)
			return dcc_fail(err, DCC_E_UNSUPPORTED, "'%s': the convolver engine holds weights of at most 16 bits", wname);
		im->p[wa + 2 * i] = (uint8_t)v, im->p[wa + 2 * i + 1] = (uint8_t)((uint32_t)v >> 8);
	}
	for (uint32_t r = 0; r < (uint32_t)g->oc; r++)
		dcc_wr32(im->p + ba + 4 * (size_t)r, (uint32_t)qget(bias, r));
	uint8_t *d = im->p + desc;
	dcc_wr32(d + 104, G); /* the groups (0 in older programs: one) */
	/* the window's other sides (0 in older programs: square, formats/isa.md) */
	dcc_wr32(d + 108, sh.kw | sh.sw << 16);
	dcc_wr32(d + 112, sh.pl | sh.pb << 16);
	dcc_wr32(d + 116, sh.pr | sh.dh << 16);
	dcc_wr32(d + 120, sh.dw);
	const uint32_t f[] = {0x564e4f43 /* "CONV" */, (uint32_t)g->oc, (uint32_t)g->ic, sh.H, sh.W, sh.kh, sh.sh, sh.pt, sh.OH, sh.OW,
			      (uint32_t)a_bw, (uint32_t)shift, (uint32_t)bshift, wa, ba, (uint32_t)c->conv_pes,
			      (uint32_t)c->convolvers, (uint32_t)c->conv_k, tr, tc};
	for (size_t k = 0; k < sizeof(f) / sizeof(f[0]); k++)
		dcc_wr32(d + 4 * k, f[k]);
	snprintf((char *)d + 80, 24, "%s", g->name);
	*desc_out = desc;
	return 0;
}

/* The four activation buffers as the compiler fills them: which value each
 * holds (values as the graph numbers them, a flatten's being its input's),
 * each value's last reader, and where in DRAM a value was spilled.  A
 * value stays in its buffer until a buffer is needed and none is free;
 * then the one read again last is stored to DRAM (once) and loaded back
 * when read.  A chain never spills: each layer reads the buffer the one
 * before wrote. */
typedef struct bufs {
	int val[DCC_NBUF];  /* -1: nothing */
	int *canon, *last;  /* per value */
	uint32_t *spill;    /* per value: its DRAM copy, UINT32_MAX none */
	img *im;
	dcc_program *p;
	const dcc_net *net;
} bufs;

static size_t value_words(const bufs *B, int v)
{
	return v ? B->net->layers[v - 1].out_size : (size_t)B->net->in_c * B->net->in_h * B->net->in_w;
}

static void plan_values(bufs *B)
{
	const dcc_net *n = B->net;
	for (size_t v = 0; v <= n->nlayers; v++) {
		B->canon[v] = (int)v, B->last[v] = -1, B->spill[v] = UINT32_MAX;
		if (v && n->layers[v - 1].op == DCC_OP_FLATTEN)
			B->canon[v] = B->canon[n->layers[v - 1].src[0]];
	}
	for (size_t i = 0; i < n->nlayers; i++)
		if (n->layers[i].op != DCC_OP_FLATTEN)
			for (int k = 0; k < n->layers[i].nin; k++)
				B->last[B->canon[n->layers[i].src[k]]] = (int)i;
}

/* A buffer for node i to write, not a or b: a free one (or one whose
 * value nobody reads again), else the one read again last, spilled. */
static int take(bufs *B, int a, int b, int i)
{
	int best = -1;
	for (int k = 0; k < DCC_NBUF && best < 0; k++)
		if (k != a && k != b && (B->val[k] < 0 || B->last[B->val[k]] < i))
			best = k;
	for (int k = 0; k < DCC_NBUF && best < 0; k++) /* all live: evict the one read last */
		if (k != a && k != b && (best < 0 || B->last[B->val[k]] > B->last[B->val[best]]))
			best = k;
	for (int k = 0; best < 0 && k < DCC_NBUF; k++)
		if (k != a && k != b)
			best = k;
	int v = B->val[best];
	if (v >= 0 && B->last[v] >= i && B->spill[v] == UINT32_MAX) {
		size_t w = value_words(B, v);
		uint32_t at = reserve(B->im, 4 * w);
		if (at == UINT32_MAX)
			return -1;
		B->spill[v] = at;
		B->p->insn[B->p->n++] = (dcc_insn){DCC_INSN_STORE, 0, (uint8_t)best, 0, at, (uint32_t)w, 0};
	}
	B->val[best] = -1;
	return best;
}

/* The buffer holding value v for node i (loaded back from DRAM if it was
 * spilled), not buffer other. */
static int need(bufs *B, int v, int other, int i)
{
	for (int k = 0; k < DCC_NBUF; k++)
		if (B->val[k] == v)
			return k;
	int k = take(B, other, -1, i);
	if (k < 0 || B->spill[v] == UINT32_MAX)
		return -1;
	B->p->insn[B->p->n++] = (dcc_insn){DCC_INSN_LOAD, 0, (uint8_t)k, 0, B->spill[v], (uint32_t)value_words(B, v), 0};
	B->val[k] = v;
	return k;
}

/* Where node i writes: in place over its input a when nobody reads a's
 * value later (and in-place is allowed: b != a), else another buffer. */
static int out_buf(bufs *B, int a, int b, int i)
{
	if (b != a && B->last[B->val[a]] <= i)
		return a;
	return take(B, a, b, i);
}

int dcc_accel_compile(const dcc_model *mc, uint32_t blob_crc, const dcc_accel_cfg *c, dcc_program *p, dcc_error *err)
{
	int pes = c->pes;
	memset(p, 0, sizeof(*p));
	dcc_model *m = (dcc_model *)mc; /* the net only reads it */
	dcc_net *net;
	int rc = dcc_net_from_model(m, &net, err);
	if (rc)
		return rc;
	dcc_qfmt *fmt = NULL;
	int in_bw, in_fl;
	if ((rc = dcc_fixed_formats(m, net, &fmt, &in_bw, &in_fl, err))) {
		dcc_net_free(net);
		return rc;
	}
	img im = {0};
	dcc_qnet *qv = NULL;
	bufs B = {{0, -1, -1, -1}, NULL, NULL, NULL, NULL, NULL, NULL};
	size_t insz = (size_t)net->in_c * (size_t)net->in_h * (size_t)net->in_w, maxact = insz;
	for (size_t i = 0; i < net->nlayers; i++)
		maxact = net->layers[i].out_size > maxact ? net->layers[i].out_size : maxact;
	p->in_len = (uint32_t)insz;
	p->in_addr = reserve(&im, 4 * insz);
	p->out_len = (uint32_t)net->classes;
	p->out_addr = reserve(&im, 4 * (size_t)net->classes);
	p->buf_words = (uint32_t)maxact;
	p->pes = pes;
	p->blob_crc = blob_crc;
	if (c->convolvers > 0) {
		if (c->conv_pes < 1 || c->conv_pes > 0xffff || c->convolvers > 0xffff || c->conv_k < 1 || c->conv_k > 255 ||
		    c->conv_buf_kb < 1 || c->conv_buf_kb > (1 << 20)) {
			rc = dcc_fail(err, DCC_E_RANGE, "convolver engine out of range (%d x %d convolvers of %d, %d KB)",
				      c->conv_pes, c->convolvers, c->conv_k, c->conv_buf_kb);
			goto done;
		}
		p->conv_pes = (uint32_t)c->conv_pes, p->convolvers = (uint32_t)c->convolvers;
		p->conv_k = (uint32_t)c->conv_k, p->conv_buf_kb = (uint32_t)c->conv_buf_kb;
	}
	size_t cap = 8 * net->nlayers + 8;
	for (size_t i = 0; i < net->nlayers; i++) /* a concat: a shift and a store per input; a shuffle: a load per channel */
		cap += net->layers[i].op == DCC_OP_CONCAT ? 3 * (size_t)net->layers[i].nin
		       : net->layers[i].op == DCC_OP_SHUFFLE ? (size_t)net->layers[i].oc : 0;
	for (size_t i = 0; i < net->nlayers; i++)
		if (net->layers[i].op == DCC_OP_LSTM)
			cap += 5 * (size_t)net->layers[i].steps + 4;
	p->insn = calloc(cap, sizeof(dcc_insn));
	B.im = &im, B.p = p, B.net = net;
	if (!p->insn || !(B.canon = calloc(net->nlayers + 1, sizeof(int))) ||
	    !(B.last = calloc(net->nlayers + 1, sizeof(int))) || !(B.spill = malloc((net->nlayers + 1) * sizeof(uint32_t)))) {
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
		goto done;
	}
	/* the formats of every value, as the integer reference has them */
	if ((rc = dcc_qnet_build(net, fmt, in_bw, in_fl, &qv, err)))
		goto done;
	plan_values(&B);
	B.spill[0] = p->in_addr; /* the input stays in DRAM: reloaded from there */
	p->insn[p->n++] = (dcc_insn){DCC_INSN_LOAD, 0, 0, 0, p->in_addr, p->in_len, 0};
	uint32_t tables = UINT32_MAX; /* sigmoid and tanh, once, when a layer needs them */
	for (size_t i = 0; i < net->nlayers && !rc; i++) {
		const dcc_layer *g = &net->layers[i];
		if (g->op == DCC_OP_FLATTEN || dcc_op_is_loss(g->op))
			continue; /* a flatten is its input in C, H, W order; the loss reads the logits */
		int fl = qv->vfl[g->src[0]], bw = qv->vbw[g->src[0]], v0 = B.canon[g->src[0]];
		if (g->op == DCC_OP_ADD || g->op == DCC_OP_SUB) {
			if (g->nin != 2) {
				rc = dcc_fail(err, DCC_E_UNSUPPORTED, "layer '%s': the accelerator adds two values at a time", g->name);
				break;
			}
			int ia = need(&B, v0, -1, (int)i), ib = ia < 0 ? -1 : need(&B, B.canon[g->src[1]], ia, (int)i);
			int o = ib < 0 ? -1 : out_buf(&B, ia, ib, (int)i);
			if (o < 0) {
				rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
				break;
			}
			const dcc_qfmt *f = &qv->l[i].f;
			uint8_t ew = g->op == DCC_OP_SUB ? DCC_EW_SUBSH : DCC_EW_ADDSH;
			p->insn[p->n++] = (dcc_insn){DCC_INSN_EWOP, ew, (uint8_t)ia, (uint8_t)ib, (uint32_t)g->out_size, (uint32_t)o,
						     dcc_addsh_z(f->a_bw, fl - f->a_fl, qv->vfl[g->src[1]] - f->a_fl)};
			B.val[o] = (int)i + 1;
			continue;
		}
		if (g->op == DCC_OP_MUL || g->op == DCC_OP_DIV) {
			/* ewop mulsh: the product shifted from fl_a + fl_b to the mul's
			 * format, a gate's value for each channel's H x W run; ewop
			 * divsh: a 2^e / b, e = the div's fl - fl_a + fl_b (formats/fixed.md).
			 * Their shift, width (and run) in DRAM at z. */
			int mul = g->op == DCC_OP_MUL;
			size_t gate = mul ? dcc_mul_gate(net, g) : 0;
			int ia = need(&B, v0, -1, (int)i), ib = ia < 0 ? -1 : need(&B, B.canon[g->src[1]], ia, (int)i);
			int o = ib < 0 ? -1 : out_buf(&B, ia, ib, (int)i);
			uint32_t at = o < 0 ? UINT32_MAX : reserve(&im, mul ? 12 : 8);
			if (at == UINT32_MAX) {
				rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
				break;
			}
			const dcc_qfmt *f = &qv->l[i].f;
			int sh = mul ? fl + qv->vfl[g->src[1]] - f->a_fl : f->a_fl - fl + qv->vfl[g->src[1]];
			int lo = mul ? -64 : -31, hi = mul ? 128 : 31;
			if (sh < lo || sh > hi) {
				rc = dcc_fail(err, DCC_E_UNSUPPORTED, "layer '%s': its %s's shift %d is out of %s's range (%d to %d)",
					      g->name, mul ? "product" : "quotient", sh, mul ? "mulsh" : "divsh", lo, hi);
				break;
			}
			dcc_wr32(im.p + at, (uint32_t)sh), dcc_wr32(im.p + at + 4, (uint32_t)f->a_bw);
			if (mul)
				dcc_wr32(im.p + at + 8, (uint32_t)(gate ? g->out_size / gate : 1));
			p->insn[p->n++] = (dcc_insn){DCC_INSN_EWOP, mul ? DCC_EW_MULSH : DCC_EW_DIVSH, (uint8_t)ia, (uint8_t)ib,
						     (uint32_t)g->out_size, (uint32_t)o, at};
			B.val[o] = (int)i + 1;
			continue;
		}
		if (g->op == DCC_OP_CONCAT) {
			/* a DRAM layout: each input (shifted to the concat's format when
			 * it differs) stored after the one before, C, H, W, then loaded */
			uint32_t at = reserve(&im, 4 * g->out_size), off = 0;
			const dcc_qfmt *f = &qv->l[i].f;
			for (int k = 0; k < g->nin && !rc; k++) {
				int v = B.canon[g->src[k]], bk = need(&B, v, -1, (int)i), sh = qv->vfl[g->src[k]] - f->a_fl;
				uint32_t w = (uint32_t)value_words(&B, g->src[k]);
				if (bk >= 0 && sh) {
					int t = take(&B, bk, -1, (int)i);
					if (t >= 0)
						p->insn[p->n++] = (dcc_insn){DCC_INSN_EWOP, DCC_EW_SHIFT, (uint8_t)bk, 0, w, (uint32_t)t,
									     dcc_addsh_z(f->a_bw, sh, 0)};
					bk = t;
				}
				if (bk < 0 || at == UINT32_MAX)
					rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
				else
					p->insn[p->n++] = (dcc_insn){DCC_INSN_STORE, 0, (uint8_t)bk, 0, at + 4 * off, w, 0};
				off += w;
			}
			int o = rc ? -1 : take(&B, -1, -1, (int)i + 1); /* the inputs are stored: theirs are free */
			if (!rc && o < 0)
				rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
			if (rc)
				break;
			p->insn[p->n++] = (dcc_insn){DCC_INSN_LOAD, 0, (uint8_t)o, 0, at, (uint32_t)g->out_size, 0};
			B.val[o] = (int)i + 1;
			continue;
		}
		if (g->op == DCC_OP_SLICE || g->op == DCC_OP_SHUFFLE) {
			/* a DRAM layout, as a concat is: the input in DRAM (its spilled
			 * copy, or stored now), its channels loaded back in the output's
			 * order -- a slice's as one run, a shuffle's a channel at a time */
			uint32_t src = B.spill[v0], hw = (uint32_t)g->ih * (uint32_t)g->iw;
			if (src == UINT32_MAX) {
				int bk = need(&B, v0, -1, (int)i);
				src = bk < 0 ? UINT32_MAX : reserve(&im, 4 * value_words(&B, v0));
				if (src != UINT32_MAX) {
					p->insn[p->n++] = (dcc_insn){DCC_INSN_STORE, 0, (uint8_t)bk, 0, src,
								     (uint32_t)value_words(&B, v0), 0};
					B.spill[v0] = src;
				}
			}
			int o = src == UINT32_MAX ? -1 : take(&B, -1, -1, (int)i + 1); /* the input is in DRAM */
			if (o < 0) {
				rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
				break;
			}
			if (g->op == DCC_OP_SLICE)
				p->insn[p->n++] = (dcc_insn){DCC_INSN_LOAD, 0, (uint8_t)o, 0, src + 4 * (uint32_t)g->start * hw,
							     (uint32_t)g->out_size, 0};
			for (int j = 0; g->op == DCC_OP_SHUFFLE && j < g->oc; j++)
				p->insn[p->n++] = (dcc_insn){DCC_INSN_LOAD, 0, (uint8_t)o, 0,
							     src + 4 * (uint32_t)dcc_channel_src(g, j) * hw, hw, (uint32_t)j * hw};
			B.val[o] = (int)i + 1;
			continue;
		}
		if (g->op == DCC_OP_BATCHNORM || g->op == DCC_OP_AFFINE || (g->op == DCC_OP_CONV2D && g->group > 1 && c->convolvers < 1)) {
			rc = dcc_fail(err, DCC_E_UNSUPPORTED, "layer '%s' (%s%s): not on the accelerator (it runs fc, conv2d "
				      "without groups, the poolings, add, sub, mul, div, concat, slice, shuffle, relu, clip, leakyrelu, hardsigmoid, hardswish, "
				      "sigmoid, tanh, flatten and lstm; grouped convolutions on the convolver engine; dcc fold folds "
				      "batchnorm and affine layers)", g->name, dcc_op_name(g->op),
				      g->op == DCC_OP_CONV2D ? " with groups" : "");
			break;
		}
		int cur = need(&B, v0, -1, (int)i);
		if (cur < 0) {
			rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
			break;
		}
		if (g->op == DCC_OP_RELU) {
			int o = out_buf(&B, cur, -1, (int)i);
			p->insn[p->n++] = (dcc_insn){DCC_INSN_EWOP, DCC_EW_RELU, (uint8_t)cur, 0, (uint32_t)g->in_size,
						     (uint32_t)o, 0};
			B.val[o] = (int)i + 1;
			continue;
		}
		/* element-wise with their operands in DRAM (formats/isa.md): clip's
		 * bounds at its input's format (ReLU6), leaky's Q16 slope and width,
		 * the hard gates' slope, offset, shift and G | bw << 8 */
		const dcc_qlayer *L = &qv->l[i];
		uint32_t opd[4], nopd = 0;
		int ew = -1;
		if (g->op == DCC_OP_CLIP)
			ew = DCC_EW_CLIP, opd[0] = (uint32_t)L->lo, opd[1] = (uint32_t)L->hi, nopd = 2;
		else if (g->op == DCC_OP_LEAKYRELU)
			ew = DCC_EW_LEAKY, opd[0] = (uint32_t)L->slope, opd[1] = (uint32_t)L->out_bw, nopd = 2;
		else if (g->op == DCC_OP_HARDSIGMOID || g->op == DCC_OP_HARDSWISH) {
			if (L->in_fl - L->gate_fl < -128 || L->in_fl - L->gate_fl > 128) {
				rc = dcc_fail(err, DCC_E_UNSUPPORTED, "layer '%s': its input's fl %d is out of the gate's range",
					      g->name, L->in_fl);
				break;
			}
			ew = g->op == DCC_OP_HARDSIGMOID ? DCC_EW_HSIG : DCC_EW_HSWISH;
			opd[0] = (uint32_t)L->slope, opd[1] = (uint32_t)L->offset, opd[2] = (uint32_t)(L->in_fl - L->gate_fl);
			opd[3] = (uint32_t)L->gate_fl | (uint32_t)L->out_bw << 8, nopd = 4;
		}
		if (ew >= 0) {
			uint32_t at = reserve(&im, 4 * nopd);
			int o = out_buf(&B, cur, -1, (int)i);
			if (at == UINT32_MAX || o < 0) {
				rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
				break;
			}
			for (uint32_t k = 0; k < nopd; k++)
				dcc_wr32(im.p + at + 4 * k, opd[k]);
			p->insn[p->n++] = (dcc_insn){DCC_INSN_EWOP, (uint8_t)ew, (uint8_t)cur, 0, (uint32_t)g->in_size, (uint32_t)o, at};
			B.val[o] = (int)i + 1;
			continue;
		}
		if (g->op == DCC_OP_SIGMOID || g->op == DCC_OP_TANH) {
			if (tables == UINT32_MAX) {
				int32_t sig[257], th[257];
				dcc_fx_tables(sig, th);
				if ((tables = reserve(&im, 2 * 257 * 4)) == UINT32_MAX) {
					rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
					break;
				}
				for (int k = 0; k < 257; k++)
					dcc_wr32(im.p + tables + 4 * k, (uint32_t)sig[k]), dcc_wr32(im.p + tables + 4 * (257 + k), (uint32_t)th[k]);
			}
			if (bw < 2 || fl < -128 || fl > 127 || 16 - bw < -128) {
				rc = dcc_fail(err, DCC_E_UNSUPPORTED, "layer '%s': %s of %d-bit activations at fl %d", g->name,
					      dcc_op_name(g->op), bw, fl);
				break;
			}
			int tanh_ = g->op == DCC_OP_TANH, o = out_buf(&B, cur, -1, (int)i);
			p->insn[p->n++] = (dcc_insn){DCC_INSN_ACT, (uint8_t)tanh_, (uint8_t)cur, (uint8_t)o, (uint32_t)g->in_size,
						     tables + (tanh_ ? 257 * 4 : 0),
						     (uint32_t)(uint8_t)(int8_t)fl | (uint32_t)(uint8_t)(int8_t)(16 - bw) << 8 |
							     (uint32_t)bw << 16};
			B.val[o] = (int)i + 1;
			continue;
		}
		if (g->op == DCC_OP_MAXPOOL2D || g->op == DCC_OP_AVGPOOL2D) {
			if (g->ih > 65535 || g->iw > 65535 || g->k > 0xffff || g->stride > 255 || g->pad > 63) {
				rc = dcc_fail(err, DCC_E_UNSUPPORTED, "layer '%s': pooling geometry too large", g->name);
				break;
			}
			int o = out_buf(&B, cur, cur, (int)i); /* never in place */
			uint8_t flags = (uint8_t)((g->op == DCC_OP_AVGPOOL2D ? DCC_POOL_AVG : 0) | (g->ceil ? DCC_POOL_CEIL : 0) |
						  g->pad << 2);
			p->insn[p->n++] = (dcc_insn){DCC_INSN_POOL, flags, (uint8_t)cur, (uint8_t)o, (uint32_t)g->ic,
						     (uint32_t)g->ih << 16 | (uint32_t)g->iw,
						     (uint32_t)g->k << 8 | (uint32_t)g->stride | (g->incl ? DCC_POOL_INCL : 0)};
			B.val[o] = (int)i + 1;
			continue;
		}
		if (g->op == DCC_OP_LSTM) {
			/* per step: W_ih x_t and W_hh h as two spmv, their saturating sum,
			 * then the cell; buffers: 0 the input rows, 1 and 2 the two
			 * products, 3 h (from 0) and c (from H) */
			const dcc_qfmt *f = &fmt[i];
			int H = g->hidden, NI = g->in, fx = f->w_fl + fl, fh = f->wh_fl + f->a_fl;
			if (i != 0 || cur != 0 || (size_t)g->steps * (size_t)NI != insz) {
				rc = dcc_fail(err, DCC_E_UNSUPPORTED, "layer '%s': the accelerator runs an lstm reading the input rows only",
					      g->name);
				break;
			}
			char nih[32], nhh[32];
			snprintf(nih, sizeof(nih), "%.16s.ih", g->name);
			snprintf(nhh, sizeof(nhh), "%.16s.hh", g->name);
			uint32_t dih, dhh;
			if ((rc = lay_matrix(&im, m, g->p[0].name, g->p[2].name, pes, f->a_bw, fx - f->z_fl, f->b_fl - fx, nih,
					     NULL, &dih, err)) ||
			    (rc = lay_matrix(&im, m, g->p[1].name, g->p[3].name, pes, f->a_bw, fh - f->z_fl, f->b_fl - fh, nhh,
					     NULL, &dhh, err)))
				break;
			uint32_t zeros = reserve(&im, 8 * (size_t)H), tabs = reserve(&im, 2 * 257 * 4), cell = reserve(&im, 64);
			if (cell == UINT32_MAX) {
				rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
				break;
			}
			int32_t sig[257], th[257];
			dcc_fx_tables(sig, th);
			for (int k = 0; k < 257; k++)
				dcc_wr32(im.p + tabs + 4 * k, (uint32_t)sig[k]), dcc_wr32(im.p + tabs + 4 * (257 + k), (uint32_t)th[k]);
			uint8_t *d = im.p + cell;
			dcc_wr32(d, 0x4c4c4543); /* "CELL" */
			dcc_wr32(d + 4, (uint32_t)H), dcc_wr32(d + 8, (uint32_t)f->a_bw), dcc_wr32(d + 12, (uint32_t)f->z_fl);
			dcc_wr32(d + 16, (uint32_t)f->c_fl), dcc_wr32(d + 20, (uint32_t)f->a_fl), dcc_wr32(d + 24, tabs),
				dcc_wr32(d + 28, tabs + 257 * 4);
			if ((size_t)4 * H > p->buf_words)
				p->buf_words = (uint32_t)(4 * H);
			p->insn[p->n++] = (dcc_insn){DCC_INSN_LOAD, 0, 3, 0, zeros, (uint32_t)(2 * H), 0};
			for (int t = 0; t < g->steps; t++) {
				p->insn[p->n++] = (dcc_insn){DCC_INSN_SPMV, 0, 0, 1, dih, 0, (uint32_t)(t * NI)};
				p->insn[p->n++] = (dcc_insn){DCC_INSN_SPMV, 0, 3, 2, dhh, 0, 0};
				p->insn[p->n++] = (dcc_insn){DCC_INSN_EWOP, DCC_EW_ADD, 1, 2, (uint32_t)(4 * H), 1, (uint32_t)f->a_bw};
				p->insn[p->n++] = (dcc_insn){DCC_INSN_LSTMCELL, 0, 1, 3, cell, 0, 0};
				p->insn[p->n++] = (dcc_insn){DCC_INSN_SYNC, 0, 0, 0, 0, 0, 0};
			}
			for (int k = 0; k < DCC_NBUF; k++) /* h in buffer 3, at offset 0 */
				B.val[k] = k == 3 ? (int)i + 1 : -1;
			continue;
		}
		if (g->op != DCC_OP_FC && g->op != DCC_OP_CONV2D) {
			rc = dcc_fail(err, DCC_E_UNSUPPORTED, "layer '%s' (%s): not on the accelerator", g->name, dcc_op_name(g->op));
			break;
		}
		int is_conv = g->op == DCC_OP_CONV2D;
		const dcc_qfmt *f = &fmt[i];
		int facc = f->w_fl + fl;
		/* spconv's geometry: one k, stride and pad (a square window; others go to the engine) */
		uint32_t geo[8] = {(uint32_t)g->ic, (uint32_t)g->ih, (uint32_t)g->iw, (uint32_t)g->geo.kh,
				   (uint32_t)g->geo.sh, (uint32_t)g->geo.pt, (uint32_t)g->oh, (uint32_t)g->ow};
		uint32_t desc;
		int engine = is_conv && c->convolvers > 0;
		if (engine && pointwise_on_pes(m, g, c, pes, f->a_bw))
			engine = 0; /* a pointwise convolution the PE array runs in fewer cycles */
		if (is_conv && !engine && !dcc_geom_square(&g->geo)) {
			rc = dcc_fail(err, DCC_E_UNSUPPORTED, "layer '%s': a %dx%d kernel with unequal strides, pads or a "
				      "dilation runs on the convolver engine only (--convolvers)", g->name, g->geo.kh, g->geo.kw);
			break;
		}
		if (engine ? (rc = lay_conv(&im, m, g, c, f->a_bw, facc - f->a_fl, f->b_fl - facc, &desc, err))
			   : (rc = lay_matrix(&im, m, g->p[0].name, g->p[1].name, pes, f->a_bw, facc - f->a_fl, f->b_fl - facc,
					      g->name, is_conv ? geo : NULL, &desc, err)))
			break;
		/* a relu reading only this layer's output is fused */
		int relu = i + 1 < net->nlayers && net->layers[i + 1].op == DCC_OP_RELU &&
			   net->layers[i + 1].src[0] == (int)i + 1 && g->nuse == 1;
		int o = out_buf(&B, cur, cur, (int)i); /* never in place */
		p->insn[p->n++] = (dcc_insn){engine ? DCC_INSN_CONV : is_conv ? DCC_INSN_SPCONV : DCC_INSN_SPMV, (uint8_t)relu,
					     (uint8_t)cur, (uint8_t)o, desc, 0, 0};
		p->insn[p->n++] = (dcc_insn){DCC_INSN_SYNC, 0, 0, 0, 0, 0, 0};
		if (relu)
			i++; /* fused */
		B.val[o] = (int)i + 1;
	}
	int cur = -1, lv = net->nlayers ? net->layers[net->nlayers - 1].src[0] : 0;
	if (!rc && (cur = need(&B, B.canon[lv], -1, (int)net->nlayers)) < 0)
		rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
	int fl = qv ? qv->vfl[lv] : in_fl;
	if (!rc) {
		p->insn[p->n++] = (dcc_insn){DCC_INSN_STORE, 0, (uint8_t)cur, 0, p->out_addr, p->out_len, 0};
		p->insn[p->n++] = (dcc_insn){DCC_INSN_END, 0, 0, 0, 0, 0, 0};
		p->dram_bytes = (uint32_t)((im.n + 63) & ~(size_t)63);
		reserve(&im, 0);
		p->dram = im.p;
		im.p = NULL;
		/* what runs the program without the blob */
		p->in_c = (uint32_t)net->in_c, p->in_h = (uint32_t)net->in_h, p->in_w = (uint32_t)net->in_w;
		p->in_bw = in_bw, p->in_fl = in_fl, p->out_fl = fl;
		p->norm = net->norm;
		p->head = net->head;
	}
done:
	free(im.p);
	free(fmt);
	free(B.canon), free(B.last), free(B.spill);
	dcc_qnet_free(qv);
	dcc_net_free(net);
	if (rc)
		dcc_program_free(p);
	return rc;
}
