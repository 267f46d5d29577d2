/* The CUDA backend of the resampling (lib/interp_cuda.cu): resampling a
 * view slab by slab on an open GPU (cuda_device.h) with the search of
 * interp_point.h. Plain C interface; only built when nvcc is
 * (AREPO_WITH_CUDA). */
#ifndef AREPO_INTERP_CUDA_H
#define AREPO_INTERP_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "cuda_device.h"
#include "interp_point.h"
#include "log.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Receives each finished slab of nr r steps from r0: (nr, 6, lon, lat)
 * floats. Returns 0, or nonzero to stop. */
typedef int (*cuda_slab_sink)(void *ctx, int64_t r0, int64_t nr, const float *slab);

struct cuda_request {
	const struct grid *grid;
	const struct kd_tree *tree;
	const float *value;  /* 6 per cell, by original index */
	const float *radius; /* per cell or NULL */
	struct interp_rules rules;
	int64_t max_slab_r;  /* what the host memory budget allows per slab */
};

struct cuda_result {
	int64_t slab_r;
	uint64_t at_risk, filled;
	double need; /* largest interp_excess */
	double seconds_upload, seconds_kernel, seconds_download, seconds_write;
};

/* Resamples on the open device, handing slabs to sink in r order; two
 * slabs are in flight, so that a slab's download and write overlap the
 * next one's kernel. Returns 0; -1 with err set (exit status 1) for a
 * CUDA error; or the sink's nonzero value. */
int cuda_resample(const struct cuda_device *dev, const struct cuda_request *req,
		  cuda_slab_sink sink, void *ctx, struct cuda_result *res, struct arepo_err *err);

#ifdef __cplusplus
}
#endif

#endif
