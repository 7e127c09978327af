/* fuzz_onnx.c: libFuzzer target for the ONNX reader (protobuf-c parsing,
 * then the mapping onto dcc's layers and a graph check). */
#include <stdlib.h>

#include "dcc.h"
#include "dcc_formats.h"
#include "dcc_nn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	dcc_model *m = NULL;
	dcc_error e;
	if (dcc_onnx_read_mem(data, size, &m, &e) == 0) {
		dcc_net *n;
		if (dcc_net_from_model(m, &n, &e) == 0)
			dcc_net_free(n);
	}
	dcc_model_free(m);
	return 0;
}
