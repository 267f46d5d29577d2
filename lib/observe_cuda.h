/* The CUDA backend of the observation (lib/observe_cuda.cu): the same
 * stages as observe_run, on an open GPU (cuda_device.h), giving the CPU
 * backend's bits. Plain C interface; without nvcc (AREPO_WITH_CUDA 0) the
 * function only says that this build has no CUDA backend. */
#ifndef AREPO_OBSERVE_CUDA_H
#define AREPO_OBSERVE_CUDA_H

#include <stdint.h>

#include "cuda_device.h"
#include "observe.h"

#ifdef __cplusplus
extern "C" {
#endif

/* observe_run on device dev. The tensor is read lon block by lon block
 * (lon_block lons; 0 chooses from the GPU's free memory), each block's
 * read, density nodes (threads host threads) and columnized map on the
 * host overlapping the previous block's transfer and kernels; the grids
 * are uploaded once per process. Errors: exit status 1 (CUDA, I/O,
 * memory), 2 (a configuration the kernels do not take). */
#if AREPO_WITH_CUDA
int observe_cuda_run(const struct cuda_device *dev, const struct observe_plan *plan,
		     observe_read_fn read, void *source, int threads, int64_t lon_block,
		     struct observe_stages *stages, struct observe_output *out,
		     struct observe_stats *stats, void (*progress)(double fraction),
		     struct arepo_err *err);
#else
static inline int observe_cuda_run(const struct cuda_device *dev, const struct observe_plan *plan,
				   observe_read_fn read, void *source, int threads, int64_t lon_block,
				   struct observe_stages *stages, struct observe_output *out,
				   struct observe_stats *stats, void (*progress)(double fraction),
				   struct arepo_err *err)
{
	(void)dev, (void)plan, (void)read, (void)source, (void)threads, (void)lon_block;
	(void)stages, (void)out, (void)stats, (void)progress;
	return err_set(err, EXIT_RUNTIME, "this build has no CUDA backend");
}
#endif

#ifdef __cplusplus
}
#endif

#endif
