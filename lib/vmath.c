/* SLEEF's u10 kernels over float32 arrays (see vmath.h): the AVX2 builds
 * PyTorch's CPU kernels call, or SLEEF's AVX-512F builds of the same
 * functions (lib/vmath_avx512.c), which give the same bits in fewer
 * instructions. Built with -mavx2 -mfma for the vector types only: every
 * operation on the values is SLEEF's. */
#include "vmath.h"

#include <immintrin.h>
#include <sleef.h>
#include <stdlib.h>

#include "vmath_impl.h"
#include "vmath_map.h"

VMATH_MAP(vmath256_exp, Sleef_expf8_u10avx2, 8, _mm256_loadu_ps, _mm256_storeu_ps)
VMATH_MAP(vmath256_expm1, Sleef_expm1f8_u10avx2, 8, _mm256_loadu_ps, _mm256_storeu_ps)
VMATH_MAP(vmath256_erf, Sleef_erff8_u10avx2, 8, _mm256_loadu_ps, _mm256_storeu_ps)
VMATH_MAP(vmath256_sinh, Sleef_sinhf8_u10avx2, 8, _mm256_loadu_ps, _mm256_storeu_ps)
VMATH_MAP(vmath256_log1p, Sleef_log1pf8_u10avx2, 8, _mm256_loadu_ps, _mm256_storeu_ps)

typedef void vmath_fn(const float *, float *, size_t);

static const struct vmath_build_fns {
	const char *key;
	vmath_fn *exp, *expm1, *erf, *sinh, *log1p;
} builds[] = {
	[VMATH_AVX2] = { "avx2", vmath256_exp, vmath256_expm1, vmath256_erf, vmath256_sinh, vmath256_log1p },
	[VMATH_AVX512] = { "avx512f", vmath512_exp, vmath512_expm1, vmath512_erf, vmath512_sinh,
			   vmath512_log1p },
};

/* Chosen by vmath_check_cpu, before any thread calls the functions. */
static enum vmath_build current = VMATH_AVX2;

int vmath_cpu_has(enum vmath_build b)
{
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
		return 0;
	return b == VMATH_AVX2 || __builtin_cpu_supports("avx512f");
}

int vmath_check_cpu(struct arepo_err *err)
{
	if (!vmath_cpu_has(VMATH_AVX2))
		return err_set(err, 1, "this CPU lacks AVX2 or FMA, which the observation's "
				       "bit-exact transcendental functions (SLEEF AVX2) need");
	const char *no512 = getenv("AREPO_NO_AVX512");
	current = vmath_cpu_has(VMATH_AVX512) && !(no512 && *no512) ? VMATH_AVX512 : VMATH_AVX2;
	return 0;
}

enum vmath_build vmath_current(void)
{
	return current;
}

const char *vmath_build_key(enum vmath_build b)
{
	return builds[b].key;
}

void vmath_exp(const float *in, float *out, size_t n)
{
	builds[current].exp(in, out, n);
}

void vmath_expm1(const float *in, float *out, size_t n)
{
	builds[current].expm1(in, out, n);
}

void vmath_erf(const float *in, float *out, size_t n)
{
	builds[current].erf(in, out, n);
}

void vmath_sinh(const float *in, float *out, size_t n)
{
	builds[current].sinh(in, out, n);
}

void vmath_log1p(const float *in, float *out, size_t n)
{
	builds[current].log1p(in, out, n);
}
