/* fuzz_idx.c: libFuzzer target for the .idx reader. */
#include <stdlib.h>

#include "dcc.h"
#include "dcc_formats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	dcc_model *m = dcc_model_new();
	dcc_error e;
	if (m && dcc_idx_read_mem(data, size, "x", m, &e) == 0 && m->ntensors == 1) {
		char *p = NULL;
		size_t n = 0;
		FILE *fp = open_memstream(&p, &n);
		if (fp) {
			dcc_npy_write(fp, &m->tensors[0], &e);
			fclose(fp);
		}
		free(p);
	}
	dcc_model_free(m);
	return 0;
}
