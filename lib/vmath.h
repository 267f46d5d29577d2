/* The float32 transcendental functions of the synthetic observation, with
 * the bits PyTorch's CPU kernels give: SLEEF's AVX2 u10 vector functions
 * (exp, expm1, erf, sinh, log1p) over arrays, 8 lanes at a time with a
 * partial last vector, as torch's vec::map does; on a CPU with AVX-512F,
 * SLEEF's AVX-512F builds of the same functions, which give the same bits
 * for every input (tests/unit/test-vmath.c). asinh is glibc's asinhf. */
#ifndef AREPO_VMATH_H
#define AREPO_VMATH_H

#include <stddef.h>

#include "log.h"

enum vmath_build { VMATH_AVX2, VMATH_AVX512 };

/* Errors (exit 1) unless this CPU has AVX2 and FMA, which the SLEEF AVX2
 * kernels need. Chooses the AVX-512F builds where the CPU has them, unless
 * $AREPO_NO_AVX512 is set and not empty; call it before any thread calls
 * the functions below (which use the AVX2 builds until then). */
int vmath_check_cpu(struct arepo_err *err);

/* Whether this CPU (and its operating system) can run build b. */
int vmath_cpu_has(enum vmath_build b);

/* The build the functions call, and its key for key=value lines ("avx2",
 * "avx512f"). */
enum vmath_build vmath_current(void);
const char *vmath_build_key(enum vmath_build b);

/* out[i] = f(in[i]) for i < n; in and out may be the same array. */
void vmath_exp(const float *in, float *out, size_t n);
void vmath_expm1(const float *in, float *out, size_t n);
void vmath_erf(const float *in, float *out, size_t n);
void vmath_sinh(const float *in, float *out, size_t n);
void vmath_log1p(const float *in, float *out, size_t n);

#endif
