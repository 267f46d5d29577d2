/* The CPU search's SIMD builds: whether the AVX2 ones run (a switch for the
 * tests), and the copy of a tile's values from cell rows into the tensor's
 * channel-major layout. */
#ifndef AREPO_SIMD_H
#define AREPO_SIMD_H

#include <stddef.h>

/* Whether the AVX2 builds run: on an x86-64 CPU with AVX2, unless
 * simd_portable(1) asked for the builds that other CPUs run (tests). */
int simd_avx2(void);
void simd_portable(int on);

/* For eight points k, out[c * stride + k] = row[pick[k]][c], c < 6: the
 * values of each point's cell (rows padded to 8 floats), channel by
 * channel. Bits are copied, never computed. */
void simd_rows_to_channels(float *out, size_t stride, const float (*row)[8], const int pick[8]);

#endif
