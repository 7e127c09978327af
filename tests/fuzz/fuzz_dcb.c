/* fuzz_dcb.c: libFuzzer target for the .dcb reader and the stream
 * decoders behind it (checksums recomputed first): a blob that reads is
 * unpacked to its model and its report. */
#include "dcc_encode.h"
#include "dcc_formats.h"
#include "fixup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *p = fuzz_copy(data, size);
	if (!p)
		return 0;
	fuzz_fix_dcb(p, size);
	dcc_blob b;
	dcc_error e;
	dcc_model *m = NULL;
	dcc_sparse *keep = NULL;
	if (!dcc_dcb_read_mem(p, size, &b, &e) && !dcc_blob_unpack(&b, &m, &keep, &e)) {
		dcc_blob_info info;
		if (!dcc_blob_info_make(&b, m, &info, &e))
			dcc_blob_info_free(&info);
		for (size_t i = 0; keep && i < b.nlayers; i++)
			dcc_sparse_free(&keep[i]);
	}
	free(keep);
	dcc_model_free(m);
	dcc_blob_free(&b);
	free(p);
	return 0;
}
