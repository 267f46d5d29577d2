/* Marks the small functions that the CPU code and the CUDA kernels share, so
 * that both run the very same arithmetic: compiled for host and device by
 * nvcc, plain C for every other compiler. */
#ifndef AREPO_HOSTDEVICE_H
#define AREPO_HOSTDEVICE_H

#include <stdint.h>
#include <string.h>

#ifdef __CUDACC__
#define HOST_DEVICE __host__ __device__
#else
#define HOST_DEVICE
#endif

/* A float32's bits and back, for bitwise comparisons and bit stepping. */
HOST_DEVICE static inline uint32_t f32_bits(float f)
{
#ifdef __CUDA_ARCH__
	return (uint32_t)__float_as_uint(f);
#else
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	return u;
#endif
}

HOST_DEVICE static inline float f32_from_bits(uint32_t u)
{
#ifdef __CUDA_ARCH__
	return __uint_as_float(u);
#else
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
#endif
}

#endif
