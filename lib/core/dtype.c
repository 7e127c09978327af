/* dtype.c: element types, their names and sizes (codes pinned by formats/dct.md). */
#include <math.h>
#include <string.h>

#include "dcc.h"

static const char *const names[DCC_DTYPE_COUNT] = {
	"f32", "f64", "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64",
	"bool", "q8", "q16", "q32", "packed", "mask", "f16",
};

static const int widths[DCC_DTYPE_COUNT] = {
	32, 64, 8, 16, 32, 64, 8, 16, 32, 64, 8, 8, 16, 32, 0, 1, 16,
};

const char *dcc_dtype_name(int dtype)
{
	if (dtype < 0 || dtype >= DCC_DTYPE_COUNT)
		return NULL;
	return names[dtype];
}

int dcc_dtype_from_name(const char *s)
{
	for (int i = 0; i < DCC_DTYPE_COUNT; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

int dcc_dtype_bits(int dtype, int packed_bits)
{
	if (dtype == DCC_PACKED)
		return packed_bits;
	if (dtype < 0 || dtype >= DCC_DTYPE_COUNT)
		return 0;
	return widths[dtype];
}

int dcc_dtype_is_float(int dtype)
{
	return dtype == DCC_F32 || dtype == DCC_F64;
}

float dcc_f16_to_f32(uint16_t h)
{
	int e = (h >> 10) & 31, m = h & 1023;
	float v = e == 0 ? ldexpf((float)m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexpf((float)(m | 1024), e - 25);
	return h & 0x8000 ? -v : v;
}
