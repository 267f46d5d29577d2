/* lib/vmath.c's two builds of each function, which it dispatches between:
 * SLEEF's AVX2 (8 lanes) and AVX-512F (16 lanes) u10 kernels. */
#ifndef AREPO_VMATH_IMPL_H
#define AREPO_VMATH_IMPL_H

#include <stddef.h>

#define VMATH_DECLARE(prefix)                                              \
	void prefix##_exp(const float *in, float *out, size_t n);         \
	void prefix##_expm1(const float *in, float *out, size_t n);       \
	void prefix##_erf(const float *in, float *out, size_t n);         \
	void prefix##_sinh(const float *in, float *out, size_t n);        \
	void prefix##_log1p(const float *in, float *out, size_t n);

VMATH_DECLARE(vmath256)
VMATH_DECLARE(vmath512)

#endif
