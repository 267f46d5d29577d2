/* SLEEF's AVX2 u10 kernels over float32 arrays (see vmath.h). This file is
 * built with -mavx2 -mfma for the vector types only: every operation on the
 * values is SLEEF's. */
#include "vmath.h"

#include <immintrin.h>
#include <sleef.h>
#include <string.h>

int vmath_check_cpu(struct arepo_err *err)
{
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
		return err_set(err, 1, "this CPU lacks AVX2 or FMA, which the observation's "
				       "bit-exact transcendental functions (SLEEF AVX2) need");
	return 0;
}

#define VMATH_MAP(name, kernel)                                          \
	void name(const float *in, float *out, size_t n)                 \
	{                                                                \
		size_t i = 0;                                            \
		for (; i + 8 <= n; i += 8)                               \
			_mm256_storeu_ps(out + i, kernel(_mm256_loadu_ps(in + i))); \
		if (i < n) {                                             \
			float lane[8] = { 0 };                           \
			memcpy(lane, in + i, (n - i) * sizeof *lane);    \
			_mm256_storeu_ps(lane, kernel(_mm256_loadu_ps(lane))); \
			memcpy(out + i, lane, (n - i) * sizeof *lane);   \
		}                                                        \
	}

VMATH_MAP(vmath_exp, Sleef_expf8_u10avx2)
VMATH_MAP(vmath_expm1, Sleef_expm1f8_u10avx2)
VMATH_MAP(vmath_erf, Sleef_erff8_u10avx2)
VMATH_MAP(vmath_sinh, Sleef_sinhf8_u10avx2)
VMATH_MAP(vmath_log1p, Sleef_log1pf8_u10avx2)
