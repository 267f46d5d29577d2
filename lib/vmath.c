/* SLEEF's AVX2 u10 kernels over float32 arrays (see vmath.h). This file is
 * built with -mavx2 -mfma for the vector types only: every operation on the
 * values is SLEEF's. */
#include "vmath.h"

#include <immintrin.h>
#include <sleef.h>
#include <math.h>
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

/* The Planck-like ratio num / expm1(y / T) in one pass, the division,
 * SLEEF's expm1 and the division in the order the arrays version takes
 * them; non-finite results are 0 (lanes are independent, so a partial
 * last vector gives the same bits as a scalar loop). */
void vmath_planck(const float *num, const float *y, float T, float *out, size_t n)
{
	const __m256 t = _mm256_set1_ps(T), inf = _mm256_set1_ps(__builtin_inff());
	const __m256 magnitude = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		const __m256 e = Sleef_expm1f8_u10avx2(_mm256_div_ps(_mm256_loadu_ps(y + i), t));
		const __m256 r = _mm256_div_ps(_mm256_loadu_ps(num + i), e);
		const __m256 finite = _mm256_cmp_ps(_mm256_and_ps(r, magnitude), inf, _CMP_LT_OQ);
		_mm256_storeu_ps(out + i, _mm256_and_ps(r, finite));
	}
	if (i < n) {
		float lane[8] = { 0 };
		for (size_t j = i; j < n; j++)
			lane[j - i] = y[j] / T;
		_mm256_storeu_ps(lane, Sleef_expm1f8_u10avx2(_mm256_loadu_ps(lane)));
		for (size_t j = i; j < n; j++) {
			const float r = num[j] / lane[j - i];
			out[j] = isfinite(r) ? r : 0;
		}
	}
}
