/* SLEEF's AVX-512F u10 builds of lib/vmath.c's functions, 16 lanes at a
 * time: the same bits as the AVX2 builds for every one of the 2^32 inputs
 * (tests/unit/test-vmath.c), in fewer instructions. Built with -mavx512f;
 * called only where the CPU has it (vmath_check_cpu). */
#include <immintrin.h>
#include <sleef.h>

#include "vmath_impl.h"
#include "vmath_map.h"

VMATH_MAP(vmath512_exp, Sleef_expf16_u10avx512f, 16, _mm512_loadu_ps, _mm512_storeu_ps)
VMATH_MAP(vmath512_expm1, Sleef_expm1f16_u10avx512f, 16, _mm512_loadu_ps, _mm512_storeu_ps)
VMATH_MAP(vmath512_erf, Sleef_erff16_u10avx512f, 16, _mm512_loadu_ps, _mm512_storeu_ps)
VMATH_MAP(vmath512_sinh, Sleef_sinhf16_u10avx512f, 16, _mm512_loadu_ps, _mm512_storeu_ps)
VMATH_MAP(vmath512_log1p, Sleef_log1pf16_u10avx512f, 16, _mm512_loadu_ps, _mm512_storeu_ps)
