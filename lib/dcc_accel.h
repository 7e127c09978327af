/* dcc_accel.h: the EIE-style sparse accelerator -- its instruction set
 * (lib/dcc_isa.h, formats/isa.md), the compiler from a blob to a program and its DRAM image,
 * and the emulator: functional (bit-exact with dcc eval --fixed) and
 * cycle-level (PEs, activation FIFOs, broadcast stalls, SRAM, DRAM). */
#ifndef DCC_ACCEL_H
#define DCC_ACCEL_H

#include "dcc.h"
#include "dcc_isa.h"
#include "dcc_nn.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dcc_accel_cfg {
	int pes, fifo;         /* PEs (64) and activation FIFO depth (8) */
	int sram_bits;         /* sparse-matrix SRAM width (64: 8 entries per read) */
	/* When a PE's sparse-matrix read unit reuses the word it holds for the
	 * next column: DCC_REUSE_ANY, whenever the column starts in it (the
	 * unit compares addresses); DCC_REUSE_NEXT, only when that column is
	 * the matrix's next one (EIE's: a word's entries past a column serve
	 * the next column, and are wasted when its activation is zero). */
	int spmat_reuse;
	/* Operand widths the cost model prices (the functional emulation keeps
	 * the program's 16-bit fixed point and 4-bit codes): an activation and
	 * a codebook value (16), the accumulator twice that; a weight's
	 * codebook index (4), an entry that and a 4-bit skip, packed
	 * sram_bits / (weight_bits + 4) to a word. */
	int act_bits, weight_bits;
	double freq_mhz;       /* 800 */
	double dram_gbps;      /* weight streaming bandwidth when they do not fit (10) */
	double sram_kb_per_pe; /* sparse-matrix SRAM per PE (128 KB); beyond: DRAM */
	int pipeline;          /* pipeline latency in cycles per layer (4) */
	/* The convolver engine (Qiu et al., FPGA'16): conv_pes PEs, each
	 * computing one output channel with `convolvers` conv_k x conv_k
	 * convolvers over as many input channels, summed by an adder tree;
	 * input, weight and output buffers of conv_buf_kb KB each. */
	int conv_pes;          /* output channels in parallel (16) */
	int convolvers;        /* input channels in parallel per PE (4); 0: convolutions on the PE array */
	int conv_k;            /* native convolver size (3) */
	int conv_buf_kb;       /* each on-chip buffer (32) */
} dcc_accel_cfg;
enum { DCC_REUSE_NEXT, DCC_REUSE_ANY }; /* NEXT, 0: EIE's, the default */
void dcc_accel_defaults(dcc_accel_cfg *c);

/* Lays a decoded fixed-point model with EIE-encoded fc layers out in DRAM
 * and emits its program for the machine c describes (its PEs and, when
 * c->convolvers > 0, the convolver engine the convolutions are tiled for).
 * The program holds its DRAM image (p->dram) and its input's shape and
 * formats: it runs without the blob. */
int dcc_accel_compile(const dcc_model *m, uint32_t blob_crc, const dcc_accel_cfg *c, dcc_program *p, dcc_error *err);



typedef struct dcc_layer_stats {
	uint64_t ev[DCC_EV_N]; /* events, summed over runs */
	char name[64];
	uint32_t desc;         /* the descriptor's address: one entry per matrix */
	uint32_t rows, cols;
	uint64_t cycles, compute_cycles, dram_cycles;
	uint64_t vector_cycles; /* in cycles: the element-wise and pooling instructions after it */
	uint64_t macs, dense_macs, busy_pe_cycles, bubble_pe_cycles, pointer_reads, sram_reads, dram_bytes;
	uint64_t nonzero_acts, broadcast_stalls;
	int bandwidth_bound;
	double host_seconds; /* emulation time (synthetic runs) */
	uint32_t npe;
	uint64_t *pe_busy;   /* per PE: busy cycles (summed over runs) */
	uint32_t mults;      /* the convolver engine's multipliers (0: a PE-array layer) */
	uint32_t tile_r, tile_c; /* its output tile */
} dcc_layer_stats;
/* A layer's figures per run (stats summed over runs): time at the clock,
 * utilisation (MACs per PE-cycle on the PE array, per multiplier-cycle on
 * the convolver engine, pipeline fill excluded), load balance (1 - bubble
 * PE-cycles / PE-cycles) and GOP/s (2 ops a MAC) of the work done and of
 * the dense layer's. */
typedef struct dcc_layer_figures {
	double cycles, us, utilisation, load_balance, macs, dense_macs, gops, dense_gops, nonzero_acts;
	double compute_cycles, dram_bytes, dram_cycles, vector_cycles;
} dcc_layer_figures;
void dcc_layer_figures_of(const dcc_layer_stats *l, uint64_t runs, const dcc_accel_cfg *c,
			  dcc_layer_figures *f);
/* Frees a layer's per-PE array (dcc_emu_stats_free does it for each). */
void dcc_layer_stats_free(dcc_layer_stats *l);

typedef struct dcc_emu_stats {
	size_t nlayers;
	dcc_layer_stats *l; /* summed over every input run */
	uint64_t runs;
	uint64_t io_bytes;  /* DRAM bytes of the load and store instructions (4 a word) */
} dcc_emu_stats;
void dcc_emu_stats_free(dcc_emu_stats *s);

/* Runs the program once on DRAM (input already at p->in_addr); the output
 * words are left at p->out_addr.  stats accumulate. */
int dcc_emu_run(const dcc_program *p, uint8_t *dram, const dcc_accel_cfg *c, dcc_emu_stats *st, dcc_error *err);

/* Do the samples of split s fit the program's input, and (labels) its
 * outputs?  One error saying what differs. */
int dcc_program_fits(const dcc_program *p, const dcc_dataset *d, const dcc_split *s, dcc_error *err);

/* Inputs to run: a split of a data set whose samples are in_len values,
 * normalised by the program's dcc_norm and quantised to its input format
 * on the way in, exactly as dcc eval --fixed does (dcc_fx_sample). */
typedef struct dcc_emu_inputs {
	const dcc_dataset *d;
	const dcc_split *s;
} dcc_emu_inputs;
/* Runs the program (with its DRAM image) on n inputs over `threads`
 * threads (0 = cores): out gets n x out_len output words, tot the
 * statistics summed over every run, host_seconds the wall time. */
int dcc_emu_batch(const dcc_program *p, const dcc_accel_cfg *cfg, const dcc_emu_inputs *in, size_t n, int threads,
		  int32_t *out, dcc_emu_stats *tot, double *host_seconds, dcc_error *err);
/* Does the machine c lay a blob out as p was laid out (its PEs and
 * convolver engine)? */
int dcc_program_same_layout(const dcc_program *p, const dcc_accel_cfg *c);
/* A version 1 program (no DRAM image) on its blob compiled again: pk (the
 * compiled program, with the image) takes prog's instructions, input and
 * output; refused when the layouts differ. */
int dcc_program_borrow(dcc_program *pk, const dcc_program *prog, dcc_error *err);
/* Adds src's per-layer figures to dst's (dst's layers made from src's). */
int dcc_emu_stats_merge(dcc_emu_stats *dst, const dcc_emu_stats *src);

/* One layer's training step on the PE array, summed over the batch, per
 * stage (FP, EB, WG): dense and sparse MACs and cycles, and the load
 * balance summed over the sparse products (one per image and position). */
typedef struct dcc_step_cost {
	char layer[64];
	int op, modelled; /* an lstm is listed, not modelled */
	double dense[3], sparse[3], cdense[3], csparse[3], bal[3];
	double products;  /* sparse products per stage */
	uint64_t kept;    /* kept weights: EB's transposed copy */
} dcc_step_cost;
/* The training step of B inputs x (B x the net's input) through n: one entry
 * per fc, conv2d and lstm layer (*out: free it). */
int dcc_train_step_cost(const dcc_net *n, const float *x, size_t B, const dcc_accel_cfg *cfg, dcc_step_cost **out,
			size_t *nout, dcc_error *err);

/* The PE array's cycles for one sparse matrix-vector product, by the
 * recurrence of formats/isa.md: count[p * cols + j] entries of column j on
 * PE p, the nonzero inputs nz[0..nnz) broadcast in order through FIFOs of
 * depth fifo.  Returns the cycles (no pipeline latency); busy (may be NULL,
 * P entries) gets each PE's busy cycles. */
uint64_t dcc_pe_cycles(const uint32_t *count, uint32_t P, uint32_t cols, const uint32_t *nz, uint32_t nnz, int fifo,
		       uint64_t *busy);

/* A synthetic EIE layer (rows x cols, 4-bit weights at density wd,
 * activations at density ad) run once through the cycle model: EIE's
 * benchmark. */
int dcc_emu_synthetic(uint32_t rows, uint32_t cols, double wd, double ad, uint64_t seed, const dcc_accel_cfg *c,
		      dcc_layer_stats *out, dcc_error *err);

/* A convolution's geometry: M output channels of OH x OW from C x H x W,
 * k x k kernels, stride and zero padding. */
/* kernel kh x kw, strides sh, sw, pads top, left, bottom, right, dilations
 * dh, dw: a node's dcc_geom. */
typedef struct dcc_conv_shape {
	uint32_t M, C, H, W, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw, OH, OW;
} dcc_conv_shape;

/* Its output's height (side 0) or width (1); 0 when a field is 0 or the
 * window does not fit (a descriptor from any bytes asks). */
static inline uint32_t dcc_conv_shape_out(const dcc_conv_shape *g, int side)
{
	uint64_t n = side ? g->W : g->H, k = side ? g->kw : g->kh, s = side ? g->sw : g->sh, d = side ? g->dw : g->dh;
	uint64_t span = n + (side ? (uint64_t)g->pl + g->pr : (uint64_t)g->pt + g->pb);
	if (!k || !s || !d || span < d * (k - 1) + 1)
		return 0;
	uint64_t o = (span - d * (k - 1) - 1) / s + 1;
	return o > UINT32_MAX ? 0 : (uint32_t)o;
}

/* The convolver engine's cycle model for one convolution with output
 * tiles of tr x tc (formats/isa.md): cycles, DRAM bytes and the bound,
 * added to st.  a_bw: the activations' width (1, 2 or 4 bytes in DRAM). */
void dcc_conv_model(const dcc_conv_shape *g, const dcc_accel_cfg *c, uint32_t tr, uint32_t tc, int a_bw,
		    dcc_layer_stats *st);
/* The output tile the compiler picks: every buffer fits, fewest cycles.
 * Fails (DCC_E_UNSUPPORTED) when no tile fits the buffers. */
int dcc_conv_tiling(const dcc_conv_shape *g, const dcc_accel_cfg *c, int a_bw, uint32_t *tr, uint32_t *tc,
		    dcc_error *err);
/* A synthetic convolution (a VGG layer, say) through the cycle model. */
int dcc_emu_synthetic_conv(const dcc_conv_shape *g, const dcc_accel_cfg *c, dcc_layer_stats *out, dcc_error *err);

/* ---- energy (lib/accel/energy.c, formats/energy.md) ---- */

/* Energy summed over layers and runs: by event kind and by module of the
 * table, the static (per PE-cycle) part, and the work it paid for. */
typedef struct dcc_energy {
	double total_pj, static_pj;
	double ev_pj[DCC_EV_N], mod_pj[DCC_ENERGY_MODULES];
	double cycles, macs, dense_macs;
} dcc_energy;
/* One event's energy in pJ on machine c (spmat_read at its SRAM width). */
double dcc_event_pj(const dcc_energy_table *t, int ev, const dcc_accel_cfg *c);
/* Adds layer l's energy (counts x table, plus the modules' static energy
 * per PE-cycle) to e. */
void dcc_energy_add(const dcc_energy_table *t, const dcc_layer_stats *l, const dcc_accel_cfg *c, dcc_energy *e);
/* count events of kind ev outside any layer (a run's load and store bytes). */
void dcc_energy_add_events(const dcc_energy_table *t, int ev, double count, const dcc_accel_cfg *c, dcc_energy *e);
/* Per inference (runs of them): energy, average power at the clock,
 * energy per operation (2 a MAC), and GOP/s per W of the work done and of
 * the dense work. */
typedef struct dcc_energy_figures {
	double energy_uj, power_mw, pj_per_op, gops_per_w, dense_gops_per_w;
} dcc_energy_figures;
void dcc_energy_figures_of(const dcc_energy *e, double runs, const dcc_accel_cfg *c, dcc_energy_figures *f);

#ifdef __cplusplus
}
#endif
#endif
