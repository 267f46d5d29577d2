/* The CUDA backend of arepo-interp: the view's k-d tree and values on the
 * GPU, one thread per grid point running interp_slab_point (the CPU's own
 * search, built with -fmad=false so that every double is the CPU's), slabs
 * double-buffered so that downloads and file writes overlap the kernels. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime.h>

#include "clock.h"

#include "cuda_device.h"
extern "C" {
#include "interp_cuda.h"
#include "log.h"
}

#define THREADS_PER_BLOCK 256
/* Left free on the device beside our buffers (the context, the kernel's
 * stacks, other processes' small allocations). */
#define DEVICE_RESERVE ((size_t)512 << 20)

/* One thread per grid point; per warp, the counts and the largest excess go
 * to the totals with one atomic each. */
__global__ void __launch_bounds__(THREADS_PER_BLOCK)
	slab_kernel(const __grid_constant__ struct interp_slab slab, int64_t points,
		    unsigned long long *totals /* at risk, filled, largest excess (bits) */)
{
	int64_t p = (int64_t)blockIdx.x * THREADS_PER_BLOCK + threadIdx.x;
	int filled = 0;
	double excess = 0;
	if (p < points)
		filled = interp_slab_point(&slab, p, &excess);
	unsigned at_risk_lanes = __ballot_sync(0xffffffffu, excess > 0);
	unsigned filled_lanes = __ballot_sync(0xffffffffu, filled);
	for (int offset = 16; offset > 0; offset /= 2)
		excess = fmax(excess, __shfl_xor_sync(0xffffffffu, excess, offset));
	if ((threadIdx.x & 31) == 0) {
		if (at_risk_lanes)
			atomicAdd(&totals[0], (unsigned long long)__popc(at_risk_lanes));
		if (filled_lanes)
			atomicAdd(&totals[1], (unsigned long long)__popc(filled_lanes));
		/* Non-negative doubles order as their bit patterns. */
		if (excess > 0)
			atomicMax(&totals[2], (unsigned long long)__double_as_longlong(excess));
	}
}

/* Everything allocated for one resampling; freed by release(). */
struct gpu_state {
	struct kd_node *nodes;
	double *x, *y, *z;
	uint32_t *index;
	float *value, *radius;
	float *r, *cos_lat, *sin_lat, *cos_phi, *sin_phi;
	unsigned long long *totals;
	float *slab[2];      /* device */
	float *host[2];      /* pinned */
	cudaStream_t stream[2];
	cudaEvent_t started[2], computed[2], copied[2];
};

static void release(struct gpu_state *s)
{
	cudaDeviceSynchronize();
	void *device[] = { s->nodes, s->x, s->y, s->z, s->index, s->value, s->radius, s->r,
			   s->cos_lat, s->sin_lat, s->cos_phi, s->sin_phi, s->totals, s->slab[0],
			   s->slab[1] };
	for (size_t i = 0; i < sizeof device / sizeof *device; i++)
		if (device[i])
			cudaFree(device[i]);
	for (int b = 0; b < 2; b++) {
		if (s->host[b])
			cudaFreeHost(s->host[b]);
		if (s->stream[b])
			cudaStreamDestroy(s->stream[b]);
		if (s->started[b])
			cudaEventDestroy(s->started[b]);
		if (s->computed[b])
			cudaEventDestroy(s->computed[b]);
		if (s->copied[b])
			cudaEventDestroy(s->copied[b]);
	}
	memset(s, 0, sizeof *s);
}

/* Allocates *dst on the device and copies n bytes of src there (n may be 0). */
template <typename T>
static cudaError_t upload(T **dst, const void *src, size_t n)
{
	cudaError_t e = cudaMalloc((void **)dst, n ? n : 1);
	if (e == cudaSuccess && n)
		e = cudaMemcpy(*dst, src, n, cudaMemcpyHostToDevice);
	return e;
}

static int upload_all(struct gpu_state *s, const struct cuda_request *req, struct arepo_err *err)
{
	const struct kd_tree *t = req->tree;
	const struct grid *g = req->grid;
	const size_t n = t->n, nr = (size_t)g->g.r_steps, nlon = (size_t)g->g.lon_steps,
		     nlat = (size_t)g->g.lat_steps;
	cudaError_t e;
	if ((e = upload(&s->nodes, t->nodes, t->nnodes * sizeof *t->nodes)) != cudaSuccess ||
	    (e = upload(&s->x, t->x, n * sizeof(double))) != cudaSuccess ||
	    (e = upload(&s->y, t->y, n * sizeof(double))) != cudaSuccess ||
	    (e = upload(&s->z, t->z, n * sizeof(double))) != cudaSuccess ||
	    (e = upload(&s->index, t->index, n * sizeof(uint32_t))) != cudaSuccess ||
	    (e = upload(&s->value, req->value, n * INTERP_CHANNELS * sizeof(float))) != cudaSuccess ||
	    (req->radius && (e = upload(&s->radius, req->radius, n * sizeof(float))) != cudaSuccess) ||
	    (e = upload(&s->r, g->r, nr * sizeof(float))) != cudaSuccess ||
	    (e = upload(&s->cos_lat, g->cos_lat, nlat * sizeof(float))) != cudaSuccess ||
	    (e = upload(&s->sin_lat, g->sin_lat, nlat * sizeof(float))) != cudaSuccess ||
	    (e = upload(&s->cos_phi, g->cos_phi, nlon * sizeof(float))) != cudaSuccess ||
	    (e = upload(&s->sin_phi, g->sin_phi, nlon * sizeof(float))) != cudaSuccess ||
	    (e = cudaMalloc((void **)&s->totals, 3 * sizeof *s->totals)) != cudaSuccess ||
	    (e = cudaMemset(s->totals, 0, 3 * sizeof *s->totals)) != cudaSuccess ||
	    /* The slab streams do not wait for the default stream's memset. */
	    (e = cudaDeviceSynchronize()) != cudaSuccess)
		return cuda_fail(err, e, "copying the view's index to the GPU");
	return 0;
}

/* Two slabs of slab_r r steps on the device and pinned on the host, two
 * streams, their events. */
static int allocate_slabs(struct gpu_state *s, size_t slab_bytes, struct arepo_err *err)
{
	cudaError_t e;
	for (int b = 0; b < 2; b++)
		if ((e = cudaMalloc((void **)&s->slab[b], slab_bytes)) != cudaSuccess ||
		    (e = cudaMallocHost((void **)&s->host[b], slab_bytes)) != cudaSuccess ||
		    (e = cudaStreamCreateWithFlags(&s->stream[b], cudaStreamNonBlocking)) != cudaSuccess ||
		    (e = cudaEventCreate(&s->started[b])) != cudaSuccess ||
		    (e = cudaEventCreate(&s->computed[b])) != cudaSuccess ||
		    (e = cudaEventCreate(&s->copied[b])) != cudaSuccess)
			return cuda_fail(err, e, "allocating the slabs");
	return 0;
}

extern "C" int cuda_resample(const struct cuda_device *dev, const struct cuda_request *req,
			     cuda_slab_sink sink, void *ctx, struct cuda_result *res,
			     struct arepo_err *err)
{
	memset(res, 0, sizeof *res);
	const struct grid *g = req->grid;
	const int64_t r_steps = g->g.r_steps;
	const size_t plane = (size_t)g->g.lon_steps * (size_t)g->g.lat_steps;
	const size_t per_r = INTERP_CHANNELS * plane * sizeof(float);
	struct gpu_state s;
	memset(&s, 0, sizeof s);
	cudaError_t e;
	int rc = 0;
	double t0 = monotonic_seconds();
	if ((e = cudaSetDevice(dev->ordinal)) != cudaSuccess)
		return cuda_fail(err, e, "selecting the GPU");
	if ((rc = upload_all(&s, req, err))) {
		release(&s);
		return rc;
	}
	res->seconds_upload = monotonic_seconds() - t0;

	/* Slabs: what the device has free, two of them, within the host's budget. */
	size_t free_bytes = 0, total_bytes = 0;
	if ((e = cudaMemGetInfo(&free_bytes, &total_bytes)) != cudaSuccess) {
		release(&s);
		return cuda_fail(err, e, "asking the GPU's free memory");
	}
	size_t usable = free_bytes > DEVICE_RESERVE ? free_bytes - DEVICE_RESERVE : 0;
	int64_t slab_r = (int64_t)(usable / (2 * per_r));
	if (slab_r > req->max_slab_r)
		slab_r = req->max_slab_r;
	if (slab_r > r_steps)
		slab_r = r_steps;
	if (slab_r < 1) {
		err_set(err, EXIT_RUNTIME,
			"out of GPU memory: %zu MiB free on %s once the index is there; two slabs of "
			 "one r step and a reserve of %zu MiB need %zu MiB",
			 free_bytes >> 20, dev->name, DEVICE_RESERVE >> 20,
			 (2 * per_r + DEVICE_RESERVE) >> 20);
		release(&s);
		return -1;
	}
	res->slab_r = slab_r;
	if ((rc = allocate_slabs(&s, (size_t)slab_r * per_r, err))) {
		release(&s);
		return rc;
	}

	struct interp_slab base;
	memset(&base, 0, sizeof base);
	base.grid = *g;
	base.grid.r = s.r;
	base.grid.lon = NULL;
	base.grid.lat = NULL;
	base.grid.cos_lat = s.cos_lat;
	base.grid.sin_lat = s.sin_lat;
	base.grid.cos_phi = s.cos_phi;
	base.grid.sin_phi = s.sin_phi;
	base.nodes = s.nodes;
	base.x = s.x;
	base.y = s.y;
	base.z = s.z;
	base.index = s.index;
	base.value = s.value;
	base.radius = s.radius;
	base.rules = req->rules;

	const int64_t slabs = (r_steps + slab_r - 1) / slab_r;
	for (int64_t k = 0; k <= slabs && !rc; k++) {
		if (k < slabs) { /* queue slab k: kernel, then download */
			int b = (int)(k & 1);
			struct interp_slab slab = base;
			slab.r0 = k * slab_r;
			slab.nr = r_steps - slab.r0 < slab_r ? r_steps - slab.r0 : slab_r;
			slab.out = s.slab[b];
			int64_t points = slab.nr * (int64_t)plane;
			int64_t blocks = (points + THREADS_PER_BLOCK - 1) / THREADS_PER_BLOCK;
			cudaEventRecord(s.started[b], s.stream[b]);
			slab_kernel<<<(unsigned)blocks, THREADS_PER_BLOCK, 0, s.stream[b]>>>(slab, points,
											s.totals);
			if ((e = cudaGetLastError()) != cudaSuccess) {
				rc = cuda_fail(err, e, "starting the kernel");
				break;
			}
			cudaEventRecord(s.computed[b], s.stream[b]);
			e = cudaMemcpyAsync(s.host[b], s.slab[b], (size_t)slab.nr * per_r,
					    cudaMemcpyDeviceToHost, s.stream[b]);
			if (e != cudaSuccess) {
				rc = cuda_fail(err, e, "copying a slab from the GPU");
				break;
			}
			cudaEventRecord(s.copied[b], s.stream[b]);
		}
		if (k > 0) { /* slab k - 1 is done on the GPU: hand it over */
			int b = (int)((k - 1) & 1);
			if ((e = cudaStreamSynchronize(s.stream[b])) != cudaSuccess) {
				rc = cuda_fail(err, e, "resampling a slab");
				break;
			}
			float kernel_ms = 0, copy_ms = 0;
			cudaEventElapsedTime(&kernel_ms, s.started[b], s.computed[b]);
			cudaEventElapsedTime(&copy_ms, s.computed[b], s.copied[b]);
			res->seconds_kernel += 1e-3 * kernel_ms;
			res->seconds_download += 1e-3 * copy_ms;
			int64_t r0 = (k - 1) * slab_r;
			int64_t nr = r_steps - r0 < slab_r ? r_steps - r0 : slab_r;
			double tw = monotonic_seconds();
			rc = sink(ctx, r0, nr, s.host[b]);
			res->seconds_write += monotonic_seconds() - tw;
		}
	}
	if (!rc) {
		unsigned long long totals[3];
		if ((e = cudaMemcpy(totals, s.totals, sizeof totals, cudaMemcpyDeviceToHost)) != cudaSuccess) {
			rc = cuda_fail(err, e, "reading the counts");
		} else {
			res->at_risk = totals[0];
			res->filled = totals[1];
			long long bits = (long long)totals[2];
			memcpy(&res->need, &bits, sizeof res->need);
		}
	}
	release(&s);
	return rc;
}
