/* fuzz_emu.c: libFuzzer target for the emulator: the input is a program's
 * text (dcc disasm's form, with its .data DRAM image); what dcc asm
 * accepts runs on the emulator, whose every run-time address, row and
 * count must stay inside the buffers it indexes (REPRO C1-C3). */
#include "dcc_formats.h"
#include "fixup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	dcc_program prog = {0};
	dcc_error e;
	if (!dcc_program_asm(text, &prog, &e))
		fuzz_run(&prog);
	dcc_program_free(&prog);
	free(text);
	return 0;
}
