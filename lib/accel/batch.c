/* batch.c: many inputs through the emulator -- each thread a copy of the
 * program's DRAM image and a share of the inputs (quantised to the
 * program's input format on the way in), the per-layer statistics merged
 * in thread order, so a run's figures do not depend on the thread count. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/internal.h"
#include "../dcc_accel.h"
#include "../dcc_fixed.h"

typedef struct emu_job {
	const dcc_program *p;
	const dcc_emu_inputs *in;
	const dcc_accel_cfg *cfg;
	size_t n;
	int nthreads;
	int32_t *out;       /* n x out_len */
	dcc_emu_stats *st;  /* per thread */
	dcc_error *err;     /* per thread */
	int *fail;
} emu_job;

static void emu_part(void *arg, int t)
{
	emu_job *j = arg;
	const dcc_program *p = j->p;
	size_t lo = j->n * (size_t)t / (size_t)j->nthreads, hi = j->n * (size_t)(t + 1) / (size_t)j->nthreads;
	size_t insz = p->in_len;
	uint8_t *dram = malloc(p->dram_bytes ? p->dram_bytes : 1);
	int32_t *x = malloc(insz * sizeof(int32_t));
	if (!dram || !x) {
		j->fail[t] = 1;
		dcc_fail(&j->err[t], DCC_E_NOMEM, "out of memory");
		free(dram), free(x);
		return;
	}
	memcpy(dram, p->dram, p->dram_bytes);
	for (size_t i = lo; i < hi && !j->fail[t]; i++) {
		/* the host's part: normalised as the program says, quantised to its input format */
		dcc_fx_sample(j->in->d, j->in->s, i, &p->norm, p->in_bw, p->in_fl, x);
		/* in_len words at in_addr are inside DRAM: dcc_program_check */
		memcpy(dram + p->in_addr, x, insz * sizeof(int32_t));
		if (dcc_emu_run(p, dram, j->cfg, &j->st[t], &j->err[t])) {
			j->fail[t] = 1;
			break;
		}
		memcpy(j->out + i * (size_t)p->out_len, dram + p->out_addr, (size_t)p->out_len * sizeof(int32_t));
	}
	free(dram), free(x);
}

int dcc_emu_stats_merge(dcc_emu_stats *dst, const dcc_emu_stats *src)
{
	dst->io_bytes += src->io_bytes;
	if (!dst->l && src->nlayers) {
		if (!(dst->l = calloc(src->nlayers, sizeof(dcc_layer_stats))))
			return DCC_E_NOMEM;
		dst->nlayers = src->nlayers;
		for (size_t i = 0; i < src->nlayers; i++) {
			memcpy(dst->l[i].name, src->l[i].name, sizeof(dst->l[i].name));
			dst->l[i].desc = src->l[i].desc;
		}
	}
	for (size_t i = 0; dst->l && i < src->nlayers && i < dst->nlayers; i++) {
		dcc_layer_stats *a = &dst->l[i];
		const dcc_layer_stats *b = &src->l[i];
		a->rows = b->rows, a->cols = b->cols, a->mults = b->mults, a->tile_r = b->tile_r, a->tile_c = b->tile_c;
		a->cycles += b->cycles, a->compute_cycles += b->compute_cycles, a->dram_cycles += b->dram_cycles;
		a->vector_cycles += b->vector_cycles;
		a->macs += b->macs, a->dense_macs += b->dense_macs, a->busy_pe_cycles += b->busy_pe_cycles;
		a->bubble_pe_cycles += b->bubble_pe_cycles, a->pointer_reads += b->pointer_reads;
		a->sram_reads += b->sram_reads, a->dram_bytes += b->dram_bytes, a->nonzero_acts += b->nonzero_acts;
		a->broadcast_stalls += b->broadcast_stalls;
		for (int k = 0; k < DCC_EV_N; k++)
			a->ev[k] += b->ev[k];
		a->bandwidth_bound |= b->bandwidth_bound;
		if (b->npe && a->npe != b->npe) {
			free(a->pe_busy);
			a->pe_busy = calloc(b->npe, sizeof(uint64_t));
			a->npe = a->pe_busy ? b->npe : 0;
			if (!a->pe_busy)
				return DCC_E_NOMEM;
		}
		for (uint32_t q = 0; q < a->npe && q < b->npe; q++)
			a->pe_busy[q] += b->pe_busy[q];
	}
	dst->runs += src->runs;
	return 0;
}

int dcc_emu_batch(const dcc_program *p, const dcc_accel_cfg *cfg, const dcc_emu_inputs *in, size_t n, int threads,
		  int32_t *out, dcc_emu_stats *tot, double *host_seconds, dcc_error *err)
{
	memset(tot, 0, sizeof(*tot));
	*host_seconds = 0;
	if (!p->dram)
		return dcc_fail(err, DCC_E_ARG, "a program without its DRAM image (version 1): give its blob");
	if (in->d->sample != p->in_len || n > in->s->n)
		return dcc_fail(err, DCC_E_SHAPE, "the program takes %u input words; the data's samples are %zu", p->in_len,
				in->d->sample);
	int nt = threads > 0 ? threads : dcc_default_threads();
	if ((size_t)nt > n)
		nt = n ? (int)n : 1;
	dcc_emu_stats *st = calloc((size_t)nt, sizeof(*st));
	dcc_error *errs = calloc((size_t)nt, sizeof(*errs));
	int *fail = calloc((size_t)nt, sizeof(int));
	int rc = st && errs && fail ? 0 : dcc_fail(err, DCC_E_NOMEM, "out of memory");
	if (!rc) {
		emu_job job = {p, in, cfg, n, nt, out, st, errs, fail};
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		dcc_parallel(nt, emu_part, &job);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		*host_seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
	}
	for (int t = 0; st && errs && fail && t < nt; t++) {
		if (fail[t] && !rc) {
			*err = errs[t];
			rc = errs[t].code ? errs[t].code : DCC_E_FORMAT;
		}
		if (!rc && dcc_emu_stats_merge(tot, &st[t]))
			rc = dcc_fail(err, DCC_E_NOMEM, "out of memory");
		dcc_emu_stats_free(&st[t]);
	}
	free(st), free(errs), free(fail);
	if (rc)
		dcc_emu_stats_free(tot);
	return rc;
}

int dcc_program_fits(const dcc_program *p, const dcc_dataset *d, const dcc_split *s, dcc_error *err)
{
	if ((uint32_t)d->c != p->in_c || (uint32_t)d->h != p->in_h || (uint32_t)d->w != p->in_w)
		return dcc_fail(err, DCC_E_SHAPE, "the program takes %ux%ux%u inputs; the data (%s) has %dx%dx%d", p->in_c,
				p->in_h, p->in_w, d->source ? d->source : "-", d->c, d->h, d->w);
	if (s->y && d->labels == DCC_LABELS_CLASS && (uint32_t)d->classes > p->out_len &&
	    !(p->out_len == 1 && d->classes <= 2))
		return dcc_fail(err, DCC_E_SHAPE, "the program gives %u output%s; the data has %d classes", p->out_len,
				p->out_len == 1 ? "" : "s", d->classes);
	if (s->y && d->labels == DCC_LABELS_TARGET && (uint32_t)d->classes != p->out_len)
		return dcc_fail(err, DCC_E_SHAPE, "the program gives %u outputs; the data's targets are %d wide", p->out_len,
				d->classes);
	return 0;
}

int dcc_program_same_layout(const dcc_program *p, const dcc_accel_cfg *c)
{
	return c->pes == p->pes && (uint32_t)c->convolvers == p->convolvers &&
	       (!p->convolvers || ((uint32_t)c->conv_pes == p->conv_pes && (uint32_t)c->conv_k == p->conv_k &&
				   (uint32_t)c->conv_buf_kb == p->conv_buf_kb));
}

int dcc_program_borrow(dcc_program *pk, const dcc_program *prog, dcc_error *err)
{
	if (pk->dram_bytes != prog->dram_bytes)
		return dcc_fail(err, DCC_E_FORMAT, "its DRAM image (%u bytes) does not match the blob's layout (%u bytes)",
				prog->dram_bytes, pk->dram_bytes);
	dcc_insn *ins = malloc((prog->n ? prog->n : 1) * sizeof(dcc_insn));
	if (!ins)
		return dcc_fail(err, DCC_E_NOMEM, "out of memory");
	memcpy(ins, prog->insn, prog->n * sizeof(dcc_insn));
	free(pk->insn);
	pk->insn = ins, pk->n = prog->n;
	pk->in_addr = prog->in_addr, pk->in_len = prog->in_len, pk->out_addr = prog->out_addr;
	pk->out_len = prog->out_len, pk->buf_words = prog->buf_words;
	return dcc_program_check(pk, err);
}

void dcc_layer_figures_of(const dcc_layer_stats *l, uint64_t runs, const dcc_accel_cfg *c, dcc_layer_figures *f)
{
	double r = runs ? (double)runs : 1, cyc = (double)l->cycles / r, t = cyc / c->freq_mhz;
	double ccyc = (double)(l->compute_cycles - (uint64_t)c->pipeline * runs);
	/* the PE array: MACs per PE-cycle; the convolver engine: per multiplier-cycle */
	double pcyc = (double)c->pes * ccyc, slots = l->mults ? (double)l->mults * ccyc : pcyc;
	if (l->mults && l->rows && l->busy_pe_cycles + l->bubble_pe_cycles)
		pcyc = (double)(l->busy_pe_cycles + l->bubble_pe_cycles);
	f->cycles = cyc;
	f->us = t;
	f->utilisation = slots > 0 ? (double)l->macs / slots : 0;
	f->load_balance = pcyc > 0 ? 1 - (double)l->bubble_pe_cycles / pcyc : 0;
	f->macs = (double)l->macs / r;
	f->dense_macs = (double)l->dense_macs / r;
	f->gops = t > 0 ? 2 * f->macs / (t * 1e3) : 0.0;
	f->dense_gops = t > 0 ? 2 * f->dense_macs / (t * 1e3) : 0.0;
	f->nonzero_acts = (double)l->nonzero_acts / r;
	f->compute_cycles = (double)l->compute_cycles / r;
	f->dram_bytes = (double)l->dram_bytes / r;
	f->dram_cycles = (double)l->dram_cycles / r;
	f->vector_cycles = (double)l->vector_cycles / r;
}
