/* Unit tests of simd_rows_to_channels: both builds copy the picked rows'
 * bits into the channels, and nothing else. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "simd.h"
#include "tap.h"

enum { ROWS = 40, STRIDE = 37, OUT = 6 * STRIDE + 16 };

static uint32_t bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	return u;
}

/* Copies with the build asked for; true if every channel got its bits and
 * every other float of out kept its guard. */
static int copies(int portable, const float (*row)[8], const int pick[8])
{
	float out[OUT];
	for (int i = 0; i < OUT; i++)
		out[i] = -1234.5f;
	simd_portable(portable);
	simd_rows_to_channels(out + 3, STRIDE, row, pick);
	simd_portable(0);
	int good = 1;
	for (int i = 0; i < OUT; i++) {
		int c = (i - 3) / STRIDE, k = (i - 3) % STRIDE;
		if (i >= 3 && c < 6 && k < 8)
			good &= bits(out[i]) == bits(row[pick[k]][c]);
		else
			good &= out[i] == -1234.5f;
	}
	return good;
}

int main(void)
{
	struct rng_stream s;
	rng_init(&s, 3, "simd", 0, "rows");
	static const uint32_t special[] = { 0x80000000u, 0x7fc00001u, 0xffbfffffu, 0x7f800000u,
					    0x00000001u, 0x807fffffu };
	int avx2 = 1, portable = 1;
	for (int round = 0; round < 200; round++) {
		float row[ROWS][8];
		for (int r = 0; r < ROWS; r++)
			for (int c = 0; c < 8; c++) {
				uint32_t u = (uint32_t)rng_below(&s, 1ull << 32);
				if (rng_below(&s, 8) == 0)
					u = special[rng_below(&s, sizeof special / sizeof special[0])];
				memcpy(&row[r][c], &u, sizeof u);
			}
		int pick[8];
		for (int k = 0; k < 8; k++)
			pick[k] = round % 4 == 0 ? 7 : (int)rng_below(&s, ROWS);
		avx2 &= copies(0, (const float (*)[8])row, pick);
		portable &= copies(1, (const float (*)[8])row, pick);
	}
	ok(avx2, "rows to channels (%s): the picked rows' bits, NaN payloads and -0 included, "
	   "and nothing else", simd_avx2() ? "AVX2" : "portable");
	ok(portable, "rows to channels, the portable build: the same");
	return tap_done();
}
