/* dcc_accel.h: the EIE-style sparse accelerator -- its instruction set
 * (formats/isa.md), the compiler from a blob to a program and a DRAM image,
 * and the emulator: functional (bit-exact with dcc eval --fixed) and
 * cycle-level (PEs, activation FIFOs, broadcast stalls, SRAM, DRAM). */
#ifndef DCC_ACCEL_H
#define DCC_ACCEL_H

#include "dcc.h"
#include "dcc_nn.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { DCC_INSN_END = 0, DCC_INSN_LOAD = 1, DCC_INSN_STORE = 2, DCC_INSN_SPMV = 3, DCC_INSN_EWOP = 4, DCC_INSN_SYNC = 5,
       DCC_INSN_SPCONV = 6, DCC_INSN_POOL = 7, DCC_INSN_LSTMCELL = 8, DCC_INSN_CONV = 9, DCC_INSN_ACT = 10 };
enum { DCC_ACT_SIGMOID = 0, DCC_ACT_TANH = 1 };
enum { DCC_EW_RELU = 0, DCC_EW_ADD = 1, DCC_EW_MUL = 2, DCC_EW_COPY = 3 };
#define DCC_INSN_BYTES 16
#define DCC_NBUF 4 /* activation buffers */

typedef struct dcc_insn {
	uint8_t op, flags;     /* flags: SPMV bit 0 = ReLU; EWOP: the operation */
	uint8_t a, b;          /* buffers: LOAD/STORE a; SPMV a = in, b = out; EWOP a, b */
	uint32_t x, y, z;      /* LOAD/STORE: dram address, count, buffer offset;
				  SPMV, SPCONV: descriptor address (SPMV: z = input
				  offset); EWOP: count, out buffer, shift (ADD: the
				  width to saturate to, 0 = 32); POOL: channels,
				  H << 16 | W, k << 8 | stride (flags 1: average);
				  LSTMCELL: a = the z buffer, b = the h/c buffer, x =
				  descriptor; ACT: flags sigmoid/tanh, a in, b out, x
				  count, y the table, z = in fl (int8) | out shift
				  (int8) << 8 | width << 16 */
} dcc_insn;

/* A program: instructions plus what ties it to its blob and DRAM image. */
typedef struct dcc_program {
	dcc_insn *insn;
	size_t n;
	uint32_t blob_crc;     /* crc32c of the blob it was compiled from */
	uint32_t dram_bytes;   /* size of the DRAM image */
	uint32_t in_addr, in_len, out_addr, out_len; /* int32 words */
	uint32_t buf_words;    /* each activation buffer's size */
	int pes;
	/* the convolver engine the convolutions were tiled for (conv); 0
	 * convolvers: convolutions run on the PE array (spconv) */
	uint32_t conv_pes, convolvers, conv_k, conv_buf_kb;
} dcc_program;

int dcc_program_write(const dcc_program *p, uint8_t **out, size_t *len, dcc_error *err);
int dcc_program_read(const uint8_t *buf, size_t len, dcc_program *p, dcc_error *err);
/* Text assembly: one instruction or directive per line. */
int dcc_program_disasm(const dcc_program *p, char **text, dcc_error *err);
int dcc_program_asm(const char *text, dcc_program *p, dcc_error *err);
void dcc_program_free(dcc_program *p);

typedef struct dcc_accel_cfg {
	int pes, fifo;         /* PEs (64) and activation FIFO depth (8) */
	int sram_bits;         /* sparse-matrix SRAM width (64: 8 entries per read) */
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
void dcc_accel_defaults(dcc_accel_cfg *c);

/* Lays a decoded fixed-point model with EIE-encoded fc layers out in DRAM
 * and emits its program for the machine c describes (its PEs and, when
 * c->convolvers > 0, the convolver engine the convolutions are tiled for).
 * *dram (dram_bytes) is the image the program expects; the emulator
 * rebuilds it the same way from the blob. */
int dcc_accel_compile(const dcc_model *m, uint32_t blob_crc, const dcc_accel_cfg *c, dcc_program *p, uint8_t **dram,
		      dcc_error *err);



typedef struct dcc_layer_stats {
	char name[64];
	uint32_t desc;         /* the descriptor's address: one entry per matrix */
	uint32_t rows, cols;
	uint64_t cycles, compute_cycles, dram_cycles;
	uint64_t macs, dense_macs, busy_pe_cycles, bubble_pe_cycles, pointer_reads, sram_reads, dram_bytes;
	uint64_t nonzero_acts, broadcast_stalls;
	int bandwidth_bound;
	double host_seconds; /* emulation time (synthetic runs) */
	uint32_t npe;
	uint64_t *pe_busy;   /* per PE: busy cycles (summed over runs) */
	uint32_t mults;      /* the convolver engine's multipliers (0: a PE-array layer) */
	uint32_t tile_r, tile_c; /* its output tile */
} dcc_layer_stats;
/* Frees a layer's per-PE array (dcc_emu_stats_free does it for each). */
void dcc_layer_stats_free(dcc_layer_stats *l);

typedef struct dcc_emu_stats {
	size_t nlayers;
	dcc_layer_stats *l; /* summed over every input run */
	uint64_t runs;
} dcc_emu_stats;
void dcc_emu_stats_free(dcc_emu_stats *s);

/* Runs the program once on DRAM (input already at p->in_addr); the output
 * words are left at p->out_addr.  stats accumulate. */
int dcc_emu_run(const dcc_program *p, uint8_t *dram, const dcc_accel_cfg *c, dcc_emu_stats *st, dcc_error *err);

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
typedef struct dcc_conv_shape {
	uint32_t M, C, H, W, k, stride, pad, OH, OW;
} dcc_conv_shape;

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

#ifdef __cplusplus
}
#endif
#endif
