/* The switch between the AVX2 and the portable SIMD builds, and the copy
 * of rows into channels: on AVX2 an 8x8 transpose in registers (shuffles
 * move bits), elsewhere a loop. */
#include "simd.h"

static int portable_only;

void simd_portable(int on)
{
	portable_only = on;
}

static void rows_to_channels_portable(float *out, size_t stride, const float (*row)[8],
				      const int pick[8])
{
	for (int c = 0; c < 6; c++)
		for (int k = 0; k < 8; k++)
			out[(size_t)c * stride + (size_t)k] = row[pick[k]][c];
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

int simd_avx2(void)
{
	return !portable_only && __builtin_cpu_supports("avx2");
}

__attribute__((target("avx2"))) static void rows_to_channels_avx2(float *out, size_t stride,
								  const float (*row)[8],
								  const int pick[8])
{
	__m256 r0 = _mm256_loadu_ps(row[pick[0]]), r1 = _mm256_loadu_ps(row[pick[1]]);
	__m256 r2 = _mm256_loadu_ps(row[pick[2]]), r3 = _mm256_loadu_ps(row[pick[3]]);
	__m256 r4 = _mm256_loadu_ps(row[pick[4]]), r5 = _mm256_loadu_ps(row[pick[5]]);
	__m256 r6 = _mm256_loadu_ps(row[pick[6]]), r7 = _mm256_loadu_ps(row[pick[7]]);
	__m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
	__m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
	__m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
	__m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
	__m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
	__m256 u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
	__m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
	__m256 u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
	__m256 u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
	__m256 u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
	__m256 u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
	__m256 u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
	/* Lane k of channel c is row[pick[k]][c]; channels 6 and 7 are padding. */
	_mm256_storeu_ps(out, _mm256_permute2f128_ps(u0, u4, 0x20));
	_mm256_storeu_ps(out + stride, _mm256_permute2f128_ps(u1, u5, 0x20));
	_mm256_storeu_ps(out + 2 * stride, _mm256_permute2f128_ps(u2, u6, 0x20));
	_mm256_storeu_ps(out + 3 * stride, _mm256_permute2f128_ps(u3, u7, 0x20));
	_mm256_storeu_ps(out + 4 * stride, _mm256_permute2f128_ps(u0, u4, 0x31));
	_mm256_storeu_ps(out + 5 * stride, _mm256_permute2f128_ps(u1, u5, 0x31));
}

void simd_rows_to_channels(float *out, size_t stride, const float (*row)[8], const int pick[8])
{
	if (simd_avx2())
		rows_to_channels_avx2(out, stride, row, pick);
	else
		rows_to_channels_portable(out, stride, row, pick);
}
#else
int simd_avx2(void)
{
	return 0;
}

void simd_rows_to_channels(float *out, size_t stride, const float (*row)[8], const int pick[8])
{
	rows_to_channels_portable(out, stride, row, pick);
}
#endif
