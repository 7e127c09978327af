/* fuzz_dct.c: libFuzzer target for the .dct reader; a file it accepts is
 * written back and read again, which must succeed. */
#include <stdlib.h>

#include "dcc.h"
#include "dcc_formats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	dcc_model *m;
	dcc_error e;
	if (dcc_dct_read_mem(data, size, 0, &m, &e))
		return 0;
	char *p = NULL;
	size_t n = 0;
	FILE *fp = open_memstream(&p, &n);
	if (fp) {
		int rc = dcc_dct_write(fp, m, &e);
		fclose(fp);
		dcc_model *r;
		if (!rc && dcc_dct_read_mem(p, n, 0, &r, &e))
			abort(); /* what dcc writes, dcc must read */
		if (!rc)
			dcc_model_free(r);
	}
	free(p);
	dcc_model_free(m);
	return 0;
}
