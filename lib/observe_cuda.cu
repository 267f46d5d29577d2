/* The CUDA backend of the observation: the tensor in lon blocks, each
 * uploaded while the previous one is computed; per block a kernel for the
 * velocity blur, one for the cells (line coefficients and profile windows),
 * one thread per (ray, channel) through the whole transfer, then the beam and
 * the latitude reduction over the cube. Every thread runs observe_ray.h,
 * which the CPU tests check against the CPU backend; built with -fmad=false,
 * IEEE division and square roots and no flush-to-zero, so that every float
 * is the CPU's. The density nodes (glibc's asinhf) and the columnized map
 * are the host's share. */
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
#include "observe.h"
#include "obsgrid.h"
}
#include "observe_cuda.h"
#include "observe_ray.h"

#define THREADS 256
#define CHANNEL_THREADS 128
/* Left free on the device beside our buffers (the context, the kernels'
 * stacks and local memory, other processes' small allocations). */
#define DEVICE_RESERVE ((size_t)1 << 30)
/* The host's pinned tensor blocks: two of at most this many bytes. */
#define HOST_BLOCK_BYTES ((size_t)96 << 20)

static int64_t blocks_for(int64_t n, int threads)
{
	return (n + threads - 1) / threads;
}

/* A CUDA error, naming the GPU. */
static int gpu_fail(const struct cuda_device *dev, struct arepo_err *err, cudaError_t e,
		    const char *what)
{
	struct arepo_err why = { 0, "" };
	cuda_fail(&why, e, what);
	err_set(err, EXIT_RUNTIME, "%s: %s", dev->name, why.msg);
	return -1;
}

/* ---- kernels ------------------------------------------------------------ */

/* The velocity blur of block lons [l0, l0 + lw) (or channel 0 as it is):
 * one thread per (r, lon, lat) of vr (R, lw, A). raw holds lons
 * [h0, h0 + hw) as (6, R, hw, A). */
__global__ void __launch_bounds__(THREADS)
	blur_kernel(const float *w, int64_t kr, int64_t kl, int64_t ka, int blur, const float *raw,
		    int64_t R, int64_t L, int64_t A, int64_t h0, int64_t hw, int64_t l0, int64_t lw,
		    float *vr)
{
	const int64_t t = (int64_t)blockIdx.x * THREADS + threadIdx.x;
	if (t >= R * lw * A)
		return;
	const int64_t r = t / (lw * A), lj = t / A % lw, a = t % A;
	vr[t] = blur ? obs_blur_point(w, kr, kl, ka, raw, R, L, A, h0, hw, r, l0 + lj, a)
		     : raw[(r * hw + l0 - h0 + lj) * A + a];
}

/* One thread per (r, ray) of the block, ray = lon * A + lat: the cell
 * records (R, rays), and the thick mode's count of profile channels. */
__global__ void __launch_bounds__(THREADS)
	cell_kernel(const __grid_constant__ struct obs_point k, int thick, const float *raw,
		    const float *vr, const uint16_t *node, int64_t R, int64_t hw, int64_t off,
		    int64_t lw, int64_t A, struct obs_cell_rec *cells, unsigned long long *windows)
{
	const int64_t t = (int64_t)blockIdx.x * THREADS + threadIdx.x, rays = lw * A;
	unsigned long long count = 0;
	if (t < R * rays) {
		const int64_t r = t / rays, ray = t % rays, lj = ray / A, a = ray % A;
		const size_t plane = (size_t)(R * hw * A), at = (size_t)((r * hw + off + lj) * A + a);
		const size_t here = (size_t)((r * lw + lj) * A + a);
		struct obs_cell_rec rec;
		obs_cell_record(&k, thick, vr[here], raw[plane + at], raw[2 * plane + at],
				raw[3 * plane + at], raw[4 * plane + at], raw[5 * plane + at], node[here],
				&rec);
		cells[t] = rec;
		if (thick)
			count = (unsigned long long)(rec.hi - rec.lo);
	}
	for (int offset = 16; offset > 0; offset /= 2)
		count += __shfl_down_sync(0xffffffffu, count, offset);
	if ((threadIdx.x & 31) == 0 && count)
		atomicAdd(windows, count);
}

/* The per-channel kernels: one thread per (ray, channel), the channels of
 * a ray padded to a whole number of warps (vpad), so that a warp reads the
 * same cell records. The cube ppv is (L, A, V); the block's rays start at
 * lon l0, i.e. at ray l0 * A of the cube. */
#define RAY_AND_CHANNEL(t, vpad, rays, V, ray, ch)                       \
	const int64_t t = (int64_t)blockIdx.x * CHANNEL_THREADS + threadIdx.x; \
	const int64_t ray = t / (vpad), ch = t % (vpad);                   \
	if (ray >= (rays) || ch >= (V))                                    \
		return

__global__ void __launch_bounds__(CHANNEL_THREADS)
	thick_kernel(const __grid_constant__ struct obs_point k, const struct obs_cell_rec *cells,
		     int64_t rays, int64_t vpad, float *Iv, float *Ic)
{
	RAY_AND_CHANNEL(t, vpad, rays, k.V, ray, ch);
	obs_thick_channel(&k, cells + ray, rays, ch, Iv + ray * k.F, Ic + ray * k.V + ch);
}

__global__ void __launch_bounds__(CHANNEL_THREADS)
	thick_finish_kernel(const __grid_constant__ struct obs_point k, const float *Iv, const float *Ic,
			    int64_t rays, int64_t vpad, float *ppv)
{
	RAY_AND_CHANNEL(t, vpad, rays, k.V, ray, ch);
	ppv[ray * k.V + ch] = obs_thick_finish(&k, Iv + ray * k.F, Ic[ray * k.V + ch], ch);
}

__global__ void __launch_bounds__(CHANNEL_THREADS)
	thin_kernel(const __grid_constant__ struct obs_point k, const struct obs_cell_rec *cells,
		    int64_t rays, int64_t vpad, int selective, float *ppv)
{
	RAY_AND_CHANNEL(t, vpad, rays, k.V, ray, ch);
	ppv[ray * k.V + ch] = selective ? obs_selthin_channel(&k, cells + ray, rays, ch)
					: obs_thin_channel(&k, cells + ray, rays, ch);
}

__global__ void __launch_bounds__(CHANNEL_THREADS)
	simple_kernel(const __grid_constant__ struct obs_point k, const float *raw, const float *vr,
		      int64_t hw, int64_t off, int64_t lw, int64_t A, int64_t vpad, float *ppv)
{
	RAY_AND_CHANNEL(t, vpad, lw * A, k.V, ray, ch);
	const int64_t lj = ray / A, a = ray % A;
	const float *rho = raw + (size_t)(k.R * hw * A) + (off + lj) * A + a;
	ppv[ray * k.V + ch] = obs_simple_channel(&k, rho, hw * A, vr + lj * A + a, lw * A, ch);
}

/* The beam: one thread per (lon, lat, channel) of the cube. */
__global__ void __launch_bounds__(THREADS)
	beam_kernel(const float *w, int64_t bl, int64_t ba, const float *ppv, int64_t L, int64_t A,
		    int64_t V, float *out)
{
	const int64_t t = (int64_t)blockIdx.x * THREADS + threadIdx.x;
	if (t >= L * A * V)
		return;
	float acc;
	obs_beam_span(w, bl, ba, ppv, L, A, V, t / (A * V), t / V % A, t % V, 1, &acc);
	out[t] = acc;
}

/* The latitude reduction: one thread per (lon, channel). */
__global__ void __launch_bounds__(THREADS)
	reduce_kernel(const float *cube, int64_t L, int64_t A, int64_t V, int reduce_max, float *out)
{
	const int64_t t = (int64_t)blockIdx.x * THREADS + threadIdx.x;
	if (t >= L * V)
		return;
	out[t] = obs_reduce_column(cube + t / V * A * V, A, V, t % V, reduce_max);
}

/* ---- the grids, once per process ---------------------------------------- */

/* The grids on the device, kept for the process's later observations with
 * the same grids (they are 16 MiB on the SEDIGISM grid; the file is read
 * and hashed once per process too). */
static struct {
	int ordinal;
	const struct obsgrids *host;
	char key[65];
	float *a[11];
} grid_cache = { -1, NULL, "", { NULL } };

static int upload_grids(const struct cuda_device *dev, const struct obsgrids *g,
			struct obs_grid_view *view, struct arepo_err *err)
{
	const float *src[11] = { g->rho, g->x, g->T, g->j, g->dj_drho, g->dj_dx, g->dj_dT,
				 g->alpha, g->dalpha_drho, g->dalpha_dx, g->dalpha_dT };
	const size_t nodes = (size_t)(g->n_rho * g->n_x * g->n_T);
	const size_t n[11] = { (size_t)g->n_rho, (size_t)g->n_x, (size_t)g->n_T, nodes, nodes, nodes,
			       nodes, nodes, nodes, nodes, nodes };
	if (!(grid_cache.ordinal == dev->ordinal && grid_cache.host == g &&
	      !strcmp(grid_cache.key, g->key))) {
		for (int i = 0; i < 11; i++) {
			if (grid_cache.a[i])
				cudaFree(grid_cache.a[i]);
			grid_cache.a[i] = NULL;
		}
		grid_cache.ordinal = -1;
		cudaError_t e = cudaSuccess;
		for (int i = 0; i < 11 && e == cudaSuccess; i++)
			if ((e = cudaMalloc((void **)&grid_cache.a[i], n[i] * sizeof(float))) == cudaSuccess)
				e = cudaMemcpy(grid_cache.a[i], src[i], n[i] * sizeof(float),
					       cudaMemcpyHostToDevice);
		if (e != cudaSuccess)
			return gpu_fail(dev, err, e, "copying the observability grids to the GPU");
		grid_cache.ordinal = dev->ordinal;
		grid_cache.host = g;
		snprintf(grid_cache.key, sizeof grid_cache.key, "%s", g->key);
	}
	view->rho = grid_cache.a[0];
	view->x = grid_cache.a[1];
	view->T = grid_cache.a[2];
	view->j = grid_cache.a[3];
	view->dj_drho = grid_cache.a[4];
	view->dj_dx = grid_cache.a[5];
	view->dj_dT = grid_cache.a[6];
	view->alpha = grid_cache.a[7];
	view->dalpha_drho = grid_cache.a[8];
	view->dalpha_dx = grid_cache.a[9];
	view->dalpha_dT = grid_cache.a[10];
	return 0;
}

/* ---- one observation ---------------------------------------------------- */

/* Everything one observation allocates; freed by release(). */
struct gpu_run {
	const struct cuda_device *dev;
	const struct observe_plan *p;
	struct obs_point k;          /* the plan's, with device pointers */
	int64_t lw, halo, hw_max, nblocks, vpad;
	float *axes;                 /* nu, nu_edges, nu_fine, background, trj_denominator */
	float *in_weight, *beam_weight;
	float *raw[2];               /* device: (6, R, hw, A) */
	uint16_t *node[2];           /* device: (R, lw, A) */
	float *host_raw[2];          /* pinned */
	uint16_t *host_node[2];      /* pinned */
	float *vr;                   /* (R, lw, A) */
	struct obs_cell_rec *cells;  /* (R, lw A) */
	float *Iv, *Ic;              /* the thick mode's: (lw A, F), (lw A, V) */
	float *cube, *beamed, *observed;
	unsigned long long *windows;
	float *tmp;                  /* host: A */
	cudaStream_t copy, compute;
	cudaEvent_t uploaded[2], consumed[2];
	cudaEvent_t *up0, *up1, *k0, *k1; /* per block, for the timings */
	cudaEvent_t post0, post1, down1;
};

static void release(struct gpu_run *g)
{
	cudaDeviceSynchronize();
	void *device[] = { g->axes, g->in_weight, g->beam_weight, g->raw[0], g->raw[1], g->node[0],
			   g->node[1], g->vr, g->cells, g->Iv, g->Ic, g->cube, g->beamed, g->observed,
			   g->windows };
	for (size_t i = 0; i < sizeof device / sizeof *device; i++)
		if (device[i])
			cudaFree(device[i]);
	for (int s = 0; s < 2; s++) {
		if (g->host_raw[s])
			cudaFreeHost(g->host_raw[s]);
		if (g->host_node[s])
			cudaFreeHost(g->host_node[s]);
		if (g->uploaded[s])
			cudaEventDestroy(g->uploaded[s]);
		if (g->consumed[s])
			cudaEventDestroy(g->consumed[s]);
	}
	cudaEvent_t *per_block[] = { g->up0, g->up1, g->k0, g->k1 };
	for (int i = 0; i < 4; i++) {
		for (int64_t b = 0; per_block[i] && b < g->nblocks; b++)
			if (per_block[i][b])
				cudaEventDestroy(per_block[i][b]);
		free(per_block[i]);
	}
	cudaEvent_t single[] = { g->post0, g->post1, g->down1 };
	for (int i = 0; i < 3; i++)
		if (single[i])
			cudaEventDestroy(single[i]);
	if (g->copy)
		cudaStreamDestroy(g->copy);
	if (g->compute)
		cudaStreamDestroy(g->compute);
	free(g->tmp);
	memset(g, 0, sizeof *g);
}

template <typename T>
static cudaError_t device_alloc(T **p, size_t bytes)
{
	return cudaMalloc((void **)p, bytes ? bytes : 1);
}

/* Device bytes per lon of a block, and for the whole run. */
static size_t bytes_per_lon(const struct observe_plan *p)
{
	const size_t RA = (size_t)(p->R * p->A);
	size_t b = 2 * 6 * RA * sizeof(float) + 2 * RA * sizeof(uint16_t) + RA * sizeof(float);
	if (p->mode != OBSERVE_SIMPLE)
		b += RA * sizeof(struct obs_cell_rec);
	if (p->mode == OBSERVE_THICK)
		b += (size_t)p->A * (size_t)(p->F + p->V) * sizeof(float);
	return b;
}

static size_t bytes_fixed(const struct observe_plan *p, int64_t halo)
{
	const size_t cube = (size_t)(p->L * p->A * p->V) * sizeof(float);
	return cube * (p->beam ? 2 : 1) + (size_t)(p->L * p->V) * sizeof(float) +
	       2 * 6 * (size_t)(p->R * 2 * halo * p->A) * sizeof(float) +
	       (size_t)(5 * p->V + 2 + p->F) * sizeof(float) + ((size_t)64 << 20);
}

/* The lons per block: what the GPU's free memory and the host's pinned
 * budget allow, or lon_block when given (still within the GPU's memory). */
static int choose_block(struct gpu_run *g, const struct cuda_device *dev, int64_t lon_block,
			struct arepo_err *err)
{
	const struct observe_plan *p = g->p;
	size_t free_bytes = 0, total_bytes = 0;
	cudaError_t e = cudaMemGetInfo(&free_bytes, &total_bytes);
	if (e != cudaSuccess)
		return gpu_fail(g->dev, err, e, "asking the GPU's free memory");
	const size_t fixed = bytes_fixed(p, g->halo) + DEVICE_RESERVE, per = bytes_per_lon(p);
	const int64_t fit = free_bytes > fixed ? (int64_t)((free_bytes - fixed) / per) : 0;
	if (fit < 1)
		return err_set(err, EXIT_RUNTIME,
			       "out of GPU memory: %zu MiB free on %s; the cube, a block of one lon and a "
			       "reserve of %zu MiB need %zu MiB", free_bytes >> 20, dev->name,
			       (size_t)DEVICE_RESERVE >> 20, (fixed + per) >> 20);
	int64_t lw = lon_block;
	if (lw <= 0) {
		lw = (int64_t)(HOST_BLOCK_BYTES / (6 * (size_t)(p->R * p->A) * sizeof(float)));
		lw = lw < 1 ? 1 : lw;
	}
	lw = lw > fit ? fit : lw;
	g->lw = lw > p->L ? p->L : lw;
	g->hw_max = g->lw + 2 * g->halo < p->L ? g->lw + 2 * g->halo : p->L;
	g->nblocks = (p->L + g->lw - 1) / g->lw;
	return 0;
}

static int setup(struct gpu_run *g, const struct cuda_device *dev, const struct observe_plan *p,
		 int64_t lon_block, struct arepo_err *err)
{
	g->dev = dev;
	g->p = p;
	g->k = p->pt;
	g->halo = p->blur_inputs ? p->kl / 2 : 0;
	g->vpad = (p->V + 31) / 32 * 32;
	int rc = choose_block(g, dev, lon_block, err);
	if (rc)
		return rc;
	const size_t R = (size_t)p->R, A = (size_t)p->A, V = (size_t)p->V, F = (size_t)p->F;
	const size_t lw = (size_t)g->lw, rays = lw * A;
	const size_t raw_bytes = 6 * R * (size_t)g->hw_max * A * sizeof(float);
	const size_t node_bytes = R * rays * sizeof(uint16_t), cube = (size_t)p->L * A * V;
	const size_t n_axes = 5 * V + 1 + F;
	cudaError_t e;
	if ((e = cudaStreamCreateWithFlags(&g->copy, cudaStreamNonBlocking)) != cudaSuccess ||
	    (e = cudaStreamCreateWithFlags(&g->compute, cudaStreamNonBlocking)) != cudaSuccess)
		return gpu_fail(g->dev, err, e, "creating streams");
	for (int s = 0; s < 2; s++)
		if ((e = device_alloc(&g->raw[s], raw_bytes)) != cudaSuccess ||
		    (e = device_alloc(&g->node[s], node_bytes)) != cudaSuccess ||
		    (e = cudaMallocHost((void **)&g->host_raw[s], raw_bytes)) != cudaSuccess ||
		    (e = cudaMallocHost((void **)&g->host_node[s], node_bytes ? node_bytes : 1)) != cudaSuccess ||
		    (e = cudaEventCreateWithFlags(&g->uploaded[s], cudaEventDisableTiming)) != cudaSuccess ||
		    (e = cudaEventCreateWithFlags(&g->consumed[s], cudaEventDisableTiming)) != cudaSuccess)
			return gpu_fail(g->dev, err, e, "allocating the tensor blocks");
	if ((e = device_alloc(&g->vr, R * rays * sizeof(float))) != cudaSuccess ||
	    (p->mode != OBSERVE_SIMPLE &&
	     (e = device_alloc(&g->cells, R * rays * sizeof(struct obs_cell_rec))) != cudaSuccess) ||
	    (p->mode == OBSERVE_THICK &&
	     ((e = device_alloc(&g->Iv, rays * F * sizeof(float))) != cudaSuccess ||
	      (e = device_alloc(&g->Ic, rays * V * sizeof(float))) != cudaSuccess)) ||
	    (e = device_alloc(&g->cube, cube * sizeof(float))) != cudaSuccess ||
	    (p->beam && (e = device_alloc(&g->beamed, cube * sizeof(float))) != cudaSuccess) ||
	    (e = device_alloc(&g->observed, (size_t)p->L * V * sizeof(float))) != cudaSuccess ||
	    (e = device_alloc(&g->windows, sizeof *g->windows)) != cudaSuccess ||
	    (e = cudaMemset(g->windows, 0, sizeof *g->windows)) != cudaSuccess ||
	    (e = device_alloc(&g->axes, n_axes * sizeof(float))) != cudaSuccess)
		return gpu_fail(g->dev, err, e, "allocating the cube and the blocks' buffers");
	/* the axes and kernels; the streams do not wait for these copies */
	float *ax = g->axes;
	const struct { const float *src; size_t n; const float **dst; } axes[] = {
		{ p->nu, V, &g->k.nu }, { p->nu_edges, V + 1, &g->k.nu_edges }, { p->nu_fine, F, &g->k.nu_fine },
		{ p->background, V, &g->k.background }, { p->trj_denominator, V, &g->k.trj_denominator },
	};
	for (size_t i = 0; i < sizeof axes / sizeof *axes && e == cudaSuccess; i++) {
		e = cudaMemcpy(ax, axes[i].src, axes[i].n * sizeof(float), cudaMemcpyHostToDevice);
		*axes[i].dst = ax;
		ax += axes[i].n;
	}
	if (e == cudaSuccess && p->blur_inputs &&
	    (e = device_alloc(&g->in_weight, (size_t)(p->kr * p->kl * p->ka) * sizeof(float))) == cudaSuccess)
		e = cudaMemcpy(g->in_weight, p->in_weight, (size_t)(p->kr * p->kl * p->ka) * sizeof(float),
			       cudaMemcpyHostToDevice);
	if (e == cudaSuccess && p->beam &&
	    (e = device_alloc(&g->beam_weight, (size_t)(p->bl * p->ba) * sizeof(float))) == cudaSuccess)
		e = cudaMemcpy(g->beam_weight, p->beam_weight, (size_t)(p->bl * p->ba) * sizeof(float),
			       cudaMemcpyHostToDevice);
	if (e == cudaSuccess)
		e = cudaDeviceSynchronize();
	if (e != cudaSuccess)
		return gpu_fail(g->dev, err, e, "copying the axes and kernels to the GPU");
	if (p->grids && (rc = upload_grids(dev, p->grids, &g->k.g, err)))
		return rc;
	cudaEvent_t **per_block[] = { &g->up0, &g->up1, &g->k0, &g->k1 };
	for (int i = 0; i < 4; i++)
		if (!(*per_block[i] = (cudaEvent_t *)calloc((size_t)g->nblocks, sizeof(cudaEvent_t))))
			return err_set(err, EXIT_RUNTIME, "out of memory");
	for (int64_t b = 0; b < g->nblocks; b++)
		if ((e = cudaEventCreate(&g->up0[b])) != cudaSuccess ||
		    (e = cudaEventCreate(&g->up1[b])) != cudaSuccess ||
		    (e = cudaEventCreate(&g->k0[b])) != cudaSuccess ||
		    (e = cudaEventCreate(&g->k1[b])) != cudaSuccess)
			return gpu_fail(g->dev, err, e, "creating events");
	if ((e = cudaEventCreate(&g->post0)) != cudaSuccess || (e = cudaEventCreate(&g->post1)) != cudaSuccess ||
	    (e = cudaEventCreate(&g->down1)) != cudaSuccess)
		return gpu_fail(g->dev, err, e, "creating events");
	if (!(g->tmp = (float *)malloc(A * sizeof(float))))
		return err_set(err, EXIT_RUNTIME, "out of memory");
	return 0;
}

/* The kernels of one block (lons [l0, l1) read as [h0, h0 + hw)) on the
 * compute stream, from slot s. */
static cudaError_t launch_block(struct gpu_run *g, int s, int64_t l0, int64_t l1, int64_t h0,
				int64_t hw)
{
	const struct observe_plan *p = g->p;
	const int64_t R = p->R, A = p->A, lw = l1 - l0, rays = lw * A;
	float *ppv = g->cube + (size_t)(l0 * A * p->V);
	blur_kernel<<<(unsigned)blocks_for(R * rays, THREADS), THREADS, 0, g->compute>>>(
		g->in_weight, p->kr, p->kl, p->ka, p->blur_inputs, g->raw[s], R, p->L, A, h0, hw, l0, lw,
		g->vr);
	const unsigned channel_blocks = (unsigned)blocks_for(rays * g->vpad, CHANNEL_THREADS);
	if (p->mode == OBSERVE_SIMPLE) {
		simple_kernel<<<channel_blocks, CHANNEL_THREADS, 0, g->compute>>>(g->k, g->raw[s], g->vr, hw,
										l0 - h0, lw, A, g->vpad, ppv);
		return cudaGetLastError();
	}
	cell_kernel<<<(unsigned)blocks_for(R * rays, THREADS), THREADS, 0, g->compute>>>(
		g->k, p->mode == OBSERVE_THICK, g->raw[s], g->vr, g->node[s], R, hw, l0 - h0, lw, A,
		g->cells, g->windows);
	if (p->mode == OBSERVE_THICK) {
		thick_kernel<<<channel_blocks, CHANNEL_THREADS, 0, g->compute>>>(g->k, g->cells, rays,
										g->vpad, g->Iv, g->Ic);
		thick_finish_kernel<<<channel_blocks, CHANNEL_THREADS, 0, g->compute>>>(g->k, g->Iv, g->Ic,
										       rays, g->vpad, ppv);
	} else {
		thin_kernel<<<channel_blocks, CHANNEL_THREADS, 0, g->compute>>>(
			g->k, g->cells, rays, g->vpad, p->mode == OBSERVE_SELTHIN, ppv);
	}
	return cudaGetLastError();
}

/* Block b: read and prepared on the host into slot b & 1, uploaded on the
 * copy stream once the kernels of block b - 2 are done with the slot, its
 * kernels queued on the compute stream behind the upload. */
static int run_block(struct gpu_run *g, int64_t b, observe_read_fn read, void *source, int threads,
		     struct observe_stages *stages, struct observe_output *out, struct observe_stats *st,
		     struct arepo_err *err)
{
	const struct observe_plan *p = g->p;
	const int s = (int)(b & 1);
	const int64_t R = p->R, A = p->A, L = p->L;
	const int64_t l0 = b * g->lw, l1 = l0 + g->lw < L ? l0 + g->lw : L, lw = l1 - l0;
	const int64_t h0 = l0 - g->halo > 0 ? l0 - g->halo : 0;
	const int64_t h1 = l1 + g->halo < L ? l1 + g->halo : L, hw = h1 - h0;
	cudaError_t e;
	if (b >= 2 && (e = cudaEventSynchronize(g->uploaded[s])) != cudaSuccess)
		return gpu_fail(g->dev, err, e, "copying a block of the tensor to the GPU");
	double t = monotonic_seconds();
	int rc = read(source, h0, h1, g->host_raw[s], err);
	if (rc)
		return rc;
	st->seconds_read += monotonic_seconds() - t;
	t = monotonic_seconds();
	if (p->mode != OBSERVE_SIMPLE)
		observe_rho_nodes(p, g->host_raw[s], h0, hw, l0, l1, threads, g->host_node[s]);
	observe_columnize(p, g->host_raw[s], h0, hw, l0, l1, out->columnized, g->tmp);
	st->seconds_host += monotonic_seconds() - t;

	if ((b >= 2 && (e = cudaStreamWaitEvent(g->copy, g->consumed[s], 0)) != cudaSuccess) ||
	    (e = cudaEventRecord(g->up0[b], g->copy)) != cudaSuccess ||
	    (e = cudaMemcpyAsync(g->raw[s], g->host_raw[s], (size_t)(6 * R * hw * A) * sizeof(float),
				 cudaMemcpyHostToDevice, g->copy)) != cudaSuccess ||
	    (p->mode != OBSERVE_SIMPLE &&
	     (e = cudaMemcpyAsync(g->node[s], g->host_node[s], (size_t)(R * lw * A) * sizeof(uint16_t),
				  cudaMemcpyHostToDevice, g->copy)) != cudaSuccess) ||
	    (e = cudaEventRecord(g->up1[b], g->copy)) != cudaSuccess ||
	    (e = cudaEventRecord(g->uploaded[s], g->copy)) != cudaSuccess)
		return gpu_fail(g->dev, err, e, "copying a block of the tensor to the GPU");
	if ((e = cudaStreamWaitEvent(g->compute, g->uploaded[s], 0)) != cudaSuccess ||
	    (e = cudaEventRecord(g->k0[b], g->compute)) != cudaSuccess ||
	    (e = launch_block(g, s, l0, l1, h0, hw)) != cudaSuccess ||
	    (e = cudaEventRecord(g->k1[b], g->compute)) != cudaSuccess ||
	    (e = cudaEventRecord(g->consumed[s], g->compute)) != cudaSuccess)
		return gpu_fail(g->dev, err, e, "starting the kernels");
	if (stages && stages->blurred_vr) {
		if ((e = cudaStreamSynchronize(g->compute)) != cudaSuccess)
			return gpu_fail(g->dev, err, e, "observing a block");
		for (int64_t r = 0; r < R && e == cudaSuccess; r++)
			e = cudaMemcpy(stages->blurred_vr + (r * L + l0) * A, g->vr + r * lw * A,
				       (size_t)(lw * A) * sizeof(float), cudaMemcpyDeviceToHost);
		if (e != cudaSuccess)
			return gpu_fail(g->dev, err, e, "copying the blurred velocity from the GPU");
	}
	st->rays += (uint64_t)(lw * A);
	st->cells += (uint64_t)(lw * A * R);
	return 0;
}

/* The beam and the reduction, then the results back to the host. */
static int finish(struct gpu_run *g, struct observe_stages *stages, struct observe_output *out,
		  struct observe_stats *st, struct arepo_err *err)
{
	const struct observe_plan *p = g->p;
	const int64_t L = p->L, A = p->A, V = p->V;
	const size_t cube = (size_t)(L * A * V) * sizeof(float);
	const float *reduced = p->beam ? g->beamed : g->cube;
	cudaError_t e;
	if ((e = cudaEventRecord(g->post0, g->compute)) != cudaSuccess)
		return gpu_fail(g->dev, err, e, "starting the beam");
	if (p->beam)
		beam_kernel<<<(unsigned)blocks_for(L * A * V, THREADS), THREADS, 0, g->compute>>>(
			g->beam_weight, p->bl, p->ba, g->cube, L, A, V, g->beamed);
	reduce_kernel<<<(unsigned)blocks_for(L * V, THREADS), THREADS, 0, g->compute>>>(
		reduced, L, A, V, p->reduce_max, g->observed);
	if ((e = cudaGetLastError()) != cudaSuccess || (e = cudaEventRecord(g->post1, g->compute)) != cudaSuccess)
		return gpu_fail(g->dev, err, e, "starting the beam");
	if ((e = cudaMemcpyAsync(out->observed, g->observed, (size_t)(L * V) * sizeof(float),
				 cudaMemcpyDeviceToHost, g->compute)) != cudaSuccess ||
	    (e = cudaEventRecord(g->down1, g->compute)) != cudaSuccess ||
	    (e = cudaStreamSynchronize(g->compute)) != cudaSuccess)
		return gpu_fail(g->dev, err, e, "observing the tensor");
	if (stages && stages->ppv_prebeam &&
	    (e = cudaMemcpy(stages->ppv_prebeam, g->cube, cube, cudaMemcpyDeviceToHost)) != cudaSuccess)
		return gpu_fail(g->dev, err, e, "copying the cube from the GPU");
	if (stages && stages->ppv &&
	    (e = cudaMemcpy(stages->ppv, reduced, cube, cudaMemcpyDeviceToHost)) != cudaSuccess)
		return gpu_fail(g->dev, err, e, "copying the cube from the GPU");
	unsigned long long windows = 0;
	if ((e = cudaMemcpy(&windows, g->windows, sizeof windows, cudaMemcpyDeviceToHost)) != cudaSuccess)
		return gpu_fail(g->dev, err, e, "reading the counts");
	st->line_windows = windows;
	/* The timings, from the events (milliseconds). */
	float ms = 0;
	for (int64_t b = 0; b < g->nblocks; b++) {
		if (cudaEventElapsedTime(&ms, g->up0[b], g->up1[b]) == cudaSuccess)
			st->seconds_upload += 1e-3 * ms;
		if (cudaEventElapsedTime(&ms, g->k0[b], g->k1[b]) == cudaSuccess)
			st->seconds_kernel += 1e-3 * ms;
	}
	if (cudaEventElapsedTime(&ms, g->post0, g->post1) == cudaSuccess) {
		st->seconds_kernel += 1e-3 * ms;
		st->seconds_beam = 1e-3 * ms;
	}
	if (cudaEventElapsedTime(&ms, g->post1, g->down1) == cudaSuccess)
		st->seconds_download += 1e-3 * ms;
	return 0;
}

extern "C" int observe_cuda_run(const struct cuda_device *dev, const struct observe_plan *p,
				observe_read_fn read, void *source, int threads, int64_t lon_block,
				struct observe_stages *stages, struct observe_output *out,
				struct observe_stats *st, void (*progress)(double), struct arepo_err *err)
{
	memset(st, 0, sizeof *st);
	if (p->mode == OBSERVE_THICK && p->v_sub > OBS_MAX_VSUB)
		return err_set(err, EXIT_USAGE, "observer_hyper.v_subsamples is %lld; the CUDA backend "
						"takes at most %d", (long long)p->v_sub, OBS_MAX_VSUB);
	if (p->grids && p->grids->n_rho > 65536)
		return err_set(err, EXIT_USAGE, "observer_hyper.N_H_TOT_steps is %lld; the CUDA backend "
						"takes at most 65536", (long long)p->grids->n_rho);
	cudaError_t e = cudaSetDevice(dev->ordinal);
	if (e != cudaSuccess)
		return gpu_fail(dev, err, e, "selecting the GPU");
	struct gpu_run g;
	memset(&g, 0, sizeof g);
	g.dev = dev;
	double t = monotonic_seconds();
	int rc = setup(&g, dev, p, lon_block, err);
	st->seconds_upload += monotonic_seconds() - t; /* the axes, kernels and grids */
	st->lon_block = g.lw;
	for (int64_t b = 0; !rc && b < g.nblocks; b++) {
		rc = run_block(&g, b, read, source, threads, stages, out, st, err);
		if (!rc && progress)
			progress((double)(b + 1) / (double)g.nblocks);
	}
	if (!rc)
		rc = finish(&g, stages, out, st, err);
	st->seconds_rays = st->seconds_kernel - st->seconds_beam;
	release(&g);
	return rc;
}
