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
enum { DCC_EW_RELU = 0, DCC_EW_ADD = 1, DCC_EW_MUL = 2, DCC_EW_COPY = 3 };
#define DCC_INSN_BYTES 16
#define DCC_NBUF 4 /* activation buffers */
#define DCC_MAX_BUF_WORDS (1u << 28)

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
