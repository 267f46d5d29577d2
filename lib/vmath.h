/* The float32 transcendental functions of the synthetic observation, with
 * the bits PyTorch's CPU kernels give: SLEEF's AVX2 u10 vector functions
 * (exp, expm1, erf, sinh, log1p) over arrays, 8 lanes at a time with a
 * partial last vector, as torch's vec::map does. asinh is glibc's asinhf. */
#ifndef AREPO_VMATH_H
#define AREPO_VMATH_H

#include <stddef.h>

#include "log.h"

/* Errors (exit 1) unless this CPU has AVX2 and FMA, which the SLEEF AVX2
 * kernels need; call once before any of the functions below. */
int vmath_check_cpu(struct arepo_err *err);

/* out[i] = f(in[i]) for i < n; in and out may be the same array. */
void vmath_exp(const float *in, float *out, size_t n);
void vmath_expm1(const float *in, float *out, size_t n);
void vmath_erf(const float *in, float *out, size_t n);
void vmath_sinh(const float *in, float *out, size_t n);
void vmath_log1p(const float *in, float *out, size_t n);

#endif
