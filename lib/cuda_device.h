/* The GPU a CUDA backend runs on (arepo-interp's, arepo-observe's): opening
 * one, optionally through a lock file per device, and settling --backend
 * cuda or auto. Plain C interface; cuda_open and cuda_fail only exist in
 * builds with nvcc (AREPO_WITH_CUDA). */
#ifndef AREPO_CUDA_DEVICE_H
#define AREPO_CUDA_DEVICE_H

#ifdef __cplusplus
extern "C" {
#endif

#include "log.h"

struct cuda_device {
	int ordinal;        /* among the visible devices */
	char name[256];     /* "NVIDIA H100 80GB HBM3 (0000:65:00.0)" */
	int lock_fd;        /* -1, or the lock file held until exit */
};

/* Opens device ordinal (-1: the first visible one, or with lock_dir the
 * first that no other process holds; waits while all are held). Errors
 * (no driver, driver too old, no device, unsupported device, lock
 * directory) set err (exit status 1) in one line; returns 0 or -1. */
int cuda_open(int ordinal, const char *lock_dir, struct cuda_device *dev, struct arepo_err *err);

/* --backend cuda (required) or auto: returns 1 with dev open when a GPU is
 * used; 0 when auto falls back to the CPU (with a warning saying why); -1
 * with err set (exit status 1, "--backend cuda: why") when cuda was asked
 * for and no GPU can be used, or this build has no CUDA backend. */
int cuda_choose(int required, int ordinal, const char *lock_dir, struct cuda_device *dev,
		struct arepo_err *err);

#ifdef __cplusplus
}
#endif

#ifdef __CUDACC__
#include <cuda_runtime.h>
/* Sets err (exit status 1) for CUDA error e while doing what; returns -1. */
int cuda_fail(struct arepo_err *err, cudaError_t e, const char *what);
#endif

#endif
