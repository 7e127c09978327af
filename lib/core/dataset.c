/* dataset.c: a data set in memory (read by formats/dataset.c). */
#include <stdlib.h>

#include "internal.h"

void dcc_dataset_free(dcc_dataset *d)
{
	if (!d)
		return;
	free(d->train_x);
	free(d->train_y);
	free(d->test_x);
	free(d->test_y);
	free(d);
}
