/* fuzz_safetensors.c: libFuzzer target for the .safetensors reader; accepted files are
 * written back through the safetensors writer. */
#include <stdlib.h>

#include "dcc.h"
#include "dcc_formats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	dcc_model *m = dcc_model_new();
	dcc_error e;
	if (m && dcc_safetensors_read_mem(data, size, m, &e) == 0) {
		char *p = NULL;
		size_t n = 0;
		FILE *fp = open_memstream(&p, &n);
		if (fp) {
			dcc_safetensors_write(fp, m, &e);
			fclose(fp);
		}
		free(p);
	}
	dcc_model_free(m);
	return 0;
}
