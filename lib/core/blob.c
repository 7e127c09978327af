/* blob.c: the compressed blob in memory (lib/dcc_blob.h): what it holds. */
#include <stdlib.h>
#include <string.h>

#include "../dcc_blob.h"

void dcc_blob_free(dcc_blob *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->nlayers; i++)
		for (int k = 0; k < 3; k++)
			free(b->layer[i].st[k].owned);
	free(b->layer);
	dcc_model_free(b->rest);
	memset(b, 0, sizeof(*b));
}
