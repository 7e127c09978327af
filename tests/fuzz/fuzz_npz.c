/* fuzz_npz.c: libFuzzer target for the .npz reader; accepted files are
 * written back through the npz writer. */
#include <stdlib.h>

#include "dcc.h"
#include "dcc_formats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	dcc_model *m = dcc_model_new();
	dcc_error e;
	if (m && dcc_npz_read_mem(data, size, m, &e) == 0) {
		char *p = NULL;
		size_t n = 0;
		FILE *fp = open_memstream(&p, &n);
		if (fp) {
			dcc_npz_write(fp, m, 1, &e);
			fclose(fp);
		}
		free(p);
	}
	dcc_model_free(m);
	return 0;
}
