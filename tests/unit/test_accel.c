/* test_accel.c: the emulator on EIE's kind of worked example, built by
 * hand in DRAM as formats/isa.md lays it out: 8 rows x 3 columns over 4
 * PEs, input (1, 0, 2).  The outputs and the cycle trace are worked out in
 * the comments; then the program's binary and text forms round-trip and
 * malformed programs are refused. */
#include <stdlib.h>

#include "../../lib/dcc_accel.h"
#include "dcc_formats.h"
#include "check.h"

static void w32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24); }

/*      c0 c1 c2        PE p holds rows p and p + 4 (local rows 0, 1)
 *  r0   1  .  .        PE0: c0 {r0=1}        c1 {}        c2 {r4=5}
 *  r1   .  2  .        PE1: c0 {r5=6}        c1 {r1=2}    c2 {}
 *  r2   .  .  .        PE2: c0 {}            c1 {}        c2 {r6=7}
 *  r3   3  .  4        PE3: c0 {r3=3, r7=8}  c1 {}        c2 {r3=4}
 *  r4   .  .  5
 *  r5   6  .  .        codebook[v] = v; x = (1, 0, 2): column 1 is passed over
 *  r6   .  .  7
 *  r7   8  .  .        y = (1, 0, 0, 11, 10, 6, 14, 8)
 *
 * Cycle trace (FIFO 8; a pointer read overlaps the column's first entry):
 *  1: all FIFOs empty (4 bubbles); broadcast column 0
 *  2: PE0 r0, PE1 r5, PE2 empty column (a cycle), PE3 r3; broadcast column 2
 *  3: PE0 r4, PE1 empty column, PE2 r6, PE3 r7
 *  4: PE3 r3 of column 2; PE0-2 bubbles (3)
 *  = 4 cycles + 4 of pipeline; 7 MACs; 9 busy and 7 bubble PE-cycles. */
static void test_worked_example(void)
{
	enum { IN = 0, OUT = 64, DESC = 128, CB = 192, BIAS = 256, PET = 320, DATA = 384, DRAM = 1024 };
	uint8_t *dram = calloc(1, DRAM);
	static const uint32_t ptr[4][4] = {{0, 1, 1, 2}, {0, 1, 2, 2}, {0, 0, 0, 1}, {0, 2, 2, 3}};
	static const uint8_t ent[4][3] = {{0x01, 0x15}, {0x16, 0x02}, {0x17}, {0x03, 0x08, 0x04}};
	static const uint32_t nent[4] = {2, 2, 1, 3};
	w32(dram + DESC, 0x5259414c);
	w32(dram + DESC + 4, 8), w32(dram + DESC + 8, 3), w32(dram + DESC + 12, 4);
	w32(dram + DESC + 16, 16), w32(dram + DESC + 20, 0), w32(dram + DESC + 24, 0);
	w32(dram + DESC + 28, CB), w32(dram + DESC + 32, BIAS), w32(dram + DESC + 36, PET);
	for (int k = 0; k < 16; k++)
		w32(dram + CB + 4 * k, (uint32_t)k);
	for (int p = 0; p < 4; p++) {
		uint32_t pa = DATA + 64 * (uint32_t)p, ea = pa + 32;
		for (int j = 0; j < 4; j++)
			w32(dram + pa + 4 * j, ptr[p][j]);
		memcpy(dram + ea, ent[p], nent[p]);
		w32(dram + PET + 16 * p, pa), w32(dram + PET + 16 * p + 4, ea), w32(dram + PET + 16 * p + 8, nent[p]),
			w32(dram + PET + 16 * p + 12, 2);
	}
	w32(dram + IN, 1), w32(dram + IN + 4, 0), w32(dram + IN + 8, 2);
	dcc_insn insn[] = {{DCC_INSN_LOAD, 0, 0, 0, IN, 3, 0}, {DCC_INSN_SPMV, 0, 0, 1, DESC, 0, 0},
			   {DCC_INSN_SYNC, 0, 0, 0, 0, 0, 0}, {DCC_INSN_STORE, 0, 1, 0, OUT, 8, 0},
			   {DCC_INSN_END, 0, 0, 0, 0, 0, 0}};
	dcc_program p = {insn, 5, 0, DRAM, IN, 3, OUT, 8, 8, 4};
	dcc_accel_cfg c;
	dcc_accel_defaults(&c);
	c.pes = 4;
	dcc_emu_stats st = {0};
	dcc_error e = {0};
	CHECK_MSG(!dcc_emu_run(&p, dram, &c, &st, &e), "%s", e.msg);
	static const int32_t want[8] = {1, 0, 0, 11, 10, 6, 14, 8};
	int same = 1;
	for (int r = 0; r < 8; r++)
		same &= (int32_t)(dram[OUT + 4 * r] | dram[OUT + 4 * r + 1] << 8 | dram[OUT + 4 * r + 2] << 16 |
				  (uint32_t)dram[OUT + 4 * r + 3] << 24) == want[r];
	CHECK(same);
	CHECK(st.nlayers == 1);
	if (st.nlayers == 1) {
		dcc_layer_stats *l = &st.l[0];
		CHECK_MSG(l->compute_cycles == 8 && l->cycles == 8, "cycles %llu", (unsigned long long)l->compute_cycles);
		CHECK_MSG(l->macs == 7 && l->busy_pe_cycles == 9 && l->bubble_pe_cycles == 7,
			  "macs %llu busy %llu bubble %llu", (unsigned long long)l->macs,
			  (unsigned long long)l->busy_pe_cycles, (unsigned long long)l->bubble_pe_cycles);
		CHECK(l->nonzero_acts == 2 && l->broadcast_stalls == 0 && l->dense_macs == 24);
	}
	dcc_emu_stats_free(&st);
	/* a ReLU over the 8 outputs after the layer: ceil(8 / 4 PEs) = 2 more
	 * cycles in the layer's time, none in its compute; max pooling them as
	 * 2 x 4 (windows of 2, stride 2: 2 outputs of 4 taps) 2 more */
	dcc_insn tail[] = {{DCC_INSN_LOAD, 0, 0, 0, IN, 3, 0}, {DCC_INSN_SPMV, 0, 0, 1, DESC, 0, 0},
			   {DCC_INSN_EWOP, DCC_EW_RELU, 1, 0, 8, 1, 0}, {DCC_INSN_POOL, 0, 1, 2, 1, 2 << 16 | 4, 2 << 8 | 2},
			   {DCC_INSN_SYNC, 0, 0, 0, 0, 0, 0}, {DCC_INSN_STORE, 0, 1, 0, OUT, 8, 0},
			   {DCC_INSN_END, 0, 0, 0, 0, 0, 0}};
	dcc_program pt = {tail, 7, 0, DRAM, IN, 3, OUT, 8, 8, 4};
	CHECK_MSG(!dcc_program_check(&pt, &e) && !dcc_emu_run(&pt, dram, &c, &st, &e), "%s", e.msg);
	CHECK_MSG(st.nlayers == 1 && st.l[0].compute_cycles == 8 && st.l[0].vector_cycles == 4 && st.l[0].cycles == 12,
		  "relu and pool timed: %llu cycles, %llu vector", st.nlayers ? (unsigned long long)st.l[0].cycles : 0ull,
		  st.nlayers ? (unsigned long long)st.l[0].vector_cycles : 0ull);
	dcc_emu_stats_free(&st);
	/* with x = (1, 1, 2) and FIFOs of depth 1, PE3 is still on column 0
	 * when column 2 is due: the broadcast stalls */
	c.fifo = 1;
	w32(dram + IN + 4, 1);
	CHECK(!dcc_emu_run(&p, dram, &c, &st, &e));
	CHECK(st.nlayers == 1 && st.l[0].broadcast_stalls >= 1);
	dcc_emu_stats_free(&st);
	/* the binary and text forms round-trip */
	uint8_t *bin;
	size_t len;
	char *text;
	dcc_program q, r;
	CHECK(!dcc_dci_write_mem(&p, &bin, &len, &e) && !dcc_dci_read_mem(bin, len, &q, &e));
	CHECK(q.n == 5 && !memcmp(q.insn, insn, sizeof(insn)) && q.pes == 4 && q.dram_bytes == DRAM);
	CHECK(!dcc_program_disasm(&q, &text, &e) && !dcc_program_asm(text, &r, &e));
	CHECK(r.n == 5 && !memcmp(r.insn, insn, sizeof(insn)) && r.out_addr == OUT && r.buf_words == 8);
	free(text);
	dcc_program_free(&r);
	/* malformed: truncated, a flipped bit (checksum), out of DRAM, a bad opcode */
	CHECK_ERR(dcc_dci_read_mem(bin, len - 3, &r, &e), e, DCC_E_FORMAT, "instructions");
	bin[70] ^= 1;
	CHECK_ERR(dcc_dci_read_mem(bin, len, &r, &e), e, DCC_E_CHECKSUM, "checksum");
#define HEAD ".pes 4\n.dram 1024\n.buffers 8\n.input 0x0 3\n.output 0x40 8\n"
	CHECK_ERR(dcc_program_asm(HEAD "load buf=0 dram=0x1000 words=4 offset=0\n", &r, &e), e, DCC_E_RANGE, "outside");
	CHECK_ERR(dcc_program_asm(".dram 1024\nfrobnicate\n", &r, &e), e, DCC_E_FORMAT, "unknown instruction");
	CHECK_ERR(dcc_program_asm(HEAD "spmv desc=0x3f0 in=0 out=1\n", &r, &e), e, DCC_E_RANGE, "outside DRAM");
	/* with its DRAM image: the version 2 file, and the text's .data lines, round-trip */
	free(bin);
	p.dram = dram, p.in_c = 1, p.in_h = 1, p.in_w = 3, p.in_bw = 16, p.in_fl = 0, p.out_fl = 0;
	dcc_program q2, r2;
	CHECK(!dcc_dci_write_mem(&p, &bin, &len, &e) && !dcc_dci_read_mem(bin, len, &q2, &e));
	CHECK(q2.dram && !memcmp(q2.dram, dram, DRAM) && q2.in_w == 3 && q2.n == 5);
	CHECK_MSG(!dcc_program_disasm(&q2, &text, &e) && !dcc_program_asm(text, &r2, &e), "%s", e.msg);
	CHECK(r2.dram && !memcmp(r2.dram, dram, DRAM) && r2.n == 5 && !memcmp(r2.insn, insn, sizeof(insn)));
	free(text);
	dcc_program_free(&q2);
	dcc_program_free(&r2);
	p.dram = NULL;
	/* a corrupt descriptor or pointers in DRAM are caught at run time */
	w32(dram + DATA + 4, 9); /* PE0's second pointer beyond its entries */
	CHECK_ERR(dcc_emu_run(&p, dram, &c, &st, &e), e, DCC_E_FORMAT, "pointers are corrupt");
	dcc_emu_stats_free(&st);
	free(bin);
	dcc_program_free(&q);
	free(dram);
}

int main(void)
{
	test_worked_example();
	return check_done("test_accel");
}
