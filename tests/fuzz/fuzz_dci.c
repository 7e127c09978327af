/* fuzz_dci.c: libFuzzer target for the .dci reader (checksums recomputed
 * first).  What it accepts must survive the text form (disasm, then asm
 * accepts it: REPRO S1's family) and the writer, and runs on the
 * emulator. */
#include <stdio.h>

#include "dcc_formats.h"
#include "fixup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *p = fuzz_copy(data, size);
	if (!p)
		return 0;
	fuzz_fix_dci(p, size);
	dcc_program prog = {0}, back = {0};
	dcc_error e;
	if (!dcc_dci_read_mem(p, size, &prog, &e)) {
		char *text = NULL;
		uint8_t *out = NULL;
		size_t n = 0;
		if (!dcc_program_disasm(&prog, &text, &e) && dcc_program_asm(text, &back, &e)) {
			fprintf(stderr, "fuzz_dci: asm refuses what disasm wrote: %s\n", e.msg);
			abort();
		}
		if (!dcc_dci_write_mem(&prog, &out, &n, &e)) {
			dcc_program again = {0};
			if (dcc_dci_read_mem(out, n, &again, &e)) {
				fprintf(stderr, "fuzz_dci: the reader refuses what the writer wrote: %s\n", e.msg);
				abort();
			}
			dcc_program_free(&again);
		}
		fuzz_run(&prog);
		free(text), free(out);
	}
	dcc_program_free(&back);
	dcc_program_free(&prog);
	free(p);
	return 0;
}
