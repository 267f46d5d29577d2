/* Marks the small functions that the CPU code and the CUDA kernels share, so
 * that both run the very same arithmetic: compiled for host and device by
 * nvcc, plain C for every other compiler. */
#ifndef AREPO_HOSTDEVICE_H
#define AREPO_HOSTDEVICE_H

#ifdef __CUDACC__
#define HOST_DEVICE __host__ __device__
#else
#define HOST_DEVICE
#endif

#endif
