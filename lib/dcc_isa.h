/* dcc_isa.h: the accelerator's instruction set and its programs (lib/core
 * vocabulary, formats/isa.md): what the compiler (lib/accel) writes, the
 * program file (formats/dci.c) and its text form (formats/asm.c) hold, and
 * the emulator runs. */
#ifndef DCC_ISA_H
#define DCC_ISA_H

#include "dcc.h"
#include "dcc_graph.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { DCC_INSN_END = 0, DCC_INSN_LOAD = 1, DCC_INSN_STORE = 2, DCC_INSN_SPMV = 3, DCC_INSN_EWOP = 4,
       DCC_INSN_SYNC = 5, DCC_INSN_SPCONV = 6, DCC_INSN_POOL = 7, DCC_INSN_LSTMCELL = 8, DCC_INSN_CONV = 9,
       DCC_INSN_ACT = 10, DCC_INSN_COUNT };
enum { DCC_ACT_SIGMOID = 0, DCC_ACT_TANH = 1 };
enum { DCC_EW_RELU = 0, DCC_EW_ADD = 1, DCC_EW_MUL = 2, DCC_EW_COPY = 3, DCC_EW_ADDSH = 4, DCC_EW_SHIFT = 5, DCC_EW_CLIP = 6,
       DCC_EW_LEAKY = 7, DCC_EW_HSIG = 8, DCC_EW_HSWISH = 9, DCC_EW_MULSH = 10, DCC_EW_SUBSH = 11,
       DCC_EW_DIVSH = 12 };
/* The bytes of DRAM an ewop's operands take at z (formats/isa.md): clip
 * and leaky two words, mulsh three, hsig and hswish four; 0 for the rest. */
static inline unsigned dcc_ew_operand_bytes(int flags)
{
	return flags == DCC_EW_DIVSH ? 8 : flags == DCC_EW_SUBSH ? 0 : flags == DCC_EW_MULSH ? 12 : flags >= DCC_EW_HSIG ? 16
	       : flags >= DCC_EW_CLIP ? 8 : 0;
}
/* Does the ewop hold a width and two shifts in z (addsh, subsh, shift)? */
static inline int dcc_ew_shifts(int flags)
{
	return flags == DCC_EW_ADDSH || flags == DCC_EW_SUBSH || flags == DCC_EW_SHIFT;
}
/* ewop addsh's (subsh's, shift's) z: the width, then the shifts of a and b (int8 each) */
static inline uint32_t dcc_addsh_z(int bw, int sa, int sb)
{
	return (uint32_t)bw | (uint32_t)(uint8_t)(int8_t)sa << 8 | (uint32_t)(uint8_t)(int8_t)sb << 16;
}
/* pool's flags: bit 0 average, bit 1 ceil_mode, bits 2..7 the padding */
#define DCC_POOL_AVG 1
#define DCC_POOL_CEIL 2
#define DCC_POOL_PAD(flags) ((uint32_t)(flags) >> 2)
/* a pool's z: k << 8 | stride, and for avgpool the padding counted in the
 * divisor (count_include_pad) */
#define DCC_POOL_K(z) (((uint32_t)(z) >> 8) & 0xffff)
#define DCC_POOL_INCL (1u << 24)

#define DCC_INSN_BYTES 16
#define DCC_NBUF 4 /* activation buffers */
#define DCC_MAX_BUF_WORDS (1u << 28)

typedef struct dcc_insn {
	uint8_t op, flags;     /* flags: SPMV bit 0 = ReLU; EWOP: the operation */
	uint8_t a, b;          /* buffers: LOAD/STORE a; SPMV a = in, b = out; EWOP a, b */
	uint32_t x, y, z;      /* LOAD/STORE: dram address, count, buffer offset;
				  SPMV, SPCONV: descriptor address (SPMV: z = input
				  offset); EWOP: count, out buffer, shift (ADD: the
				  width to saturate to, 0 = 32; ADDSH: width | a's
				  shift << 8 | b's << 16); POOL: channels,
				  H << 16 | W, k << 8 | stride (flags: DCC_POOL_*);
				  LSTMCELL: a = the z buffer, b = the h/c buffer, x =
				  descriptor; ACT: flags sigmoid/tanh, a in, b out, x
				  count, y the table, z = in fl (int8) | out shift
				  (int8) << 8 | width << 16 */
} dcc_insn;

/* The events that cost energy (formats/energy.md), counted per layer by
 * the emulator: on the PE array a sparse-matrix SRAM read (sram_bits
 * wide), a column's pointer read, a codebook look-up per entry, a multiply
 * and an add per nonzero weight, the accumulator's read-modify-write, an
 * activation queue push and pop per PE and nonzero activation, the
 * activation register reads (the input, by the nonzero detector) and
 * writes (the outputs); on the convolver engine a multiply and an add per
 * multiplier and busy cycle, input-buffer reads, weight-buffer reads, the
 * output buffer's read-modify-writes; DRAM bytes moved; the PE array's
 * PE-cycles during every layer (clock and leakage: it is clocked while
 * the convolver engine works too) and of those the idle ones. */
enum {
	DCC_EV_SPMAT_READ, DCC_EV_PTR_READ, DCC_EV_CODEBOOK, DCC_EV_MULT, DCC_EV_ADD, DCC_EV_ACC_RW, DCC_EV_QUEUE,
	DCC_EV_ACT_READ, DCC_EV_ACT_WRITE, DCC_EV_CONV_MULT, DCC_EV_CONV_ADD, DCC_EV_CONV_IN_READ, DCC_EV_CONV_W_READ,
	DCC_EV_CONV_OUT_RW, DCC_EV_DRAM_BYTE, DCC_EV_PE_CYCLE, DCC_EV_IDLE_CYCLE, DCC_EV_N
};
/* An event's name in energy tables and reports ("spmat_read"). */
const char *dcc_event_name(int ev);
/* The operand an event's energy grows with, for an energy table's width=
 * rule (formats/energy.md): the sparse-matrix SRAM's word, an activation
 * (or codebook value, or pixel, or dense weight), the accumulator (twice
 * an activation), a FIFO entry (an activation and its 16-bit index); or
 * none (pointers, DRAM bytes, cycles). */
enum { DCC_W_NONE, DCC_W_SRAM, DCC_W_ACT, DCC_W_ACC, DCC_W_QUEUE };
int dcc_event_width_kind(int ev);
int dcc_event_from_name(const char *name);

/* An energy and area table (formats/energy.md): each event's energy in pJ
 * (spmat_read at width bits, scaled to the SRAM's width w by
 * ((w + fixed) / (width + fixed))^scale: fixed is the part of a read that
 * does not grow with its width, in bits' worth), the module it belongs to;
 * per module a static energy per PE-cycle (clock and leakage) and an area
 * in um^2 per PE. */
#define DCC_ENERGY_MODULES 16
typedef struct dcc_energy_table {
	char name[64];
	double pj[DCC_EV_N];
	int width[DCC_EV_N];     /* bits the energy is given at (0: not scaled) */
	double scale[DCC_EV_N];
	double fixed[DCC_EV_N];
	int module[DCC_EV_N];
	size_t nmod;
	char mod[DCC_ENERGY_MODULES][32];
	double cycle_pj[DCC_ENERGY_MODULES], area_um2[DCC_ENERGY_MODULES];
} dcc_energy_table;

/* A program: instructions, the DRAM image they address, and what ties it
 * to its blob and its inputs. */
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
	/* what runs the program without its blob (version 2 files) */
	uint8_t *dram;         /* the DRAM image (dram_bytes); NULL: a version 1
				  program, whose blob rebuilds it */
	uint32_t in_c, in_h, in_w; /* one input's shape: in_len = c h w */
	int in_bw, in_fl;      /* the input's fixed-point format */
	int out_fl;            /* the outputs' fraction length */
	dcc_norm norm;         /* the input normalisation the host applies before quantising */
	int head;              /* the network's loss (DCC_OP_SOFTMAX_CE if 0): what its outputs mean */
} dcc_program;

void dcc_program_free(dcc_program *p);
/* Every static fact of a program checked: its header, each instruction's
 * buffers and the DRAM ranges it names (the emulator checks what it reads
 * at run time).  The reader and the assembler both call it. */
int dcc_program_check(const dcc_program *p, dcc_error *err);
const char *dcc_insn_name(int op);

#ifdef __cplusplus
}
#endif
#endif
