/* Resampling a view onto its grid: slabs in r, tiles of grid points handed
 * to threads, each tile searched over the few cells that can be nearest. */
#define _GNU_SOURCE
#include "interp.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "clock.h"
#include "parallel.h"
#include "grid.h"
#include "interp_cuda.h"
#include "interp_point.h"
#include "nearest.h"
#include "simd.h"
#include "tensor.h"

_Static_assert(VIEW_CHANNELS == INTERP_CHANNELS, "one channel count for views and backends");
_Static_assert(VIEW_CHANNELS == 6, "simd_rows_to_channels copies six channels");


int interp_default_threads(void)
{
	return cpu_count();
}

struct job {
	const struct view *v;
	const struct grid *grid;
	const struct kd_tree *tree;
	enum interp_backend backend; /* cpu or brute */
	struct interp_rules rules;
	int64_t r0, nr;         /* the slab */
	float *slab;            /* (nr, 6, lon, lat) */
	atomic_llong next_line; /* next run of tiles */
};

struct worker {
	struct job *job;
	pthread_t thread;
	uint64_t at_risk, filled;
	double need; /* max over points of nearest distance minus distance to the box boundary */
};

/* Tiles of grid points searched together. For a tile, c is the nearest cell
 * to the centre of the points' bounding box. Only the cells that may be as
 * near as c to some point of the box can win anywhere in the tile: the
 * tile's contenders (kd_contenders, a certificate with an allowance far
 * above the roundings). They are searched point by point, in index order,
 * with the same distances as brute force: the same cell wins, ties
 * included. A tile with too many is split. */
#ifndef TILE_R /* measured with bench/interp (1e6 and 1e7 cells): 8x8x8 and 32 */
#define TILE_R 8 /* a few % ahead of 4x8x8 and 64, of 24 or 48; 8x8x16 behind */
#define TILE_LON 8
#define TILE_LAT 8 /* 8: simd_rows_to_channels' runs */
#define TILE_CANDIDATES 32
#endif
#define TILE_POINTS (TILE_R * TILE_LON * TILE_LAT)
#define TILE_RUN 16
/* The most contenders a tile's halves take from it; with more, they go
 * back to the tree. */
#define TILE_GATHER 512

struct tile {
	int64_t i0, i1, j0, j1, k0, k1; /* half-open index ranges */
};

/* Writes the values of the chosen cell (or the fill) for point (i, j, k)
 * into the slab and keeps the pruning-box diagnostics. */
static void store_point(struct worker *w, int64_t i, int64_t j, int64_t k, const double q[3],
			uint32_t best, double d2)
{
	const struct job *job = w->job;
	const int64_t nlon = job->grid->g.lon_steps, nlat = job->grid->g.lat_steps;
	/* The slab is laid out (r, channel, lon, lat): one file chunk per r. */
	const size_t channel_stride = (size_t)nlon * (size_t)nlat;
	float *out = job->slab + (size_t)(i - job->r0) * VIEW_CHANNELS * channel_stride +
		     (size_t)j * (size_t)nlat + (size_t)k;
	double excess = interp_excess(&job->rules, q, d2);
	if (excess > 0) {
		w->at_risk++;
		if (excess > w->need)
			w->need = excess;
	}
	int filled = interp_filled(&job->rules, job->v->radius, best, d2);
	w->filled += (uint64_t)filled;
	interp_store(out, channel_stride, job->v->value, best, filled, job->rules.fill);
}

/* The points of a tile, coordinates apart (for the SIMD search). */
struct tile_points {
	double x[TILE_POINTS], y[TILE_POINTS], z[TILE_POINTS];
};

/* What store_point does for every point of tile t (bounding box [lo, hi])
 * that the search among candidates cand[0..nc) has settled: point m has
 * candidate best[m], at d2[m]. value holds the candidates' values (rows of
 * 8 floats) and, in row nc, the fill; best[m] becomes nc where the point is
 * filled, so that runs of 8 points along lat are then copied into the
 * channels without a test (simd_rows_to_channels). The box's
 * distance to the pruning box's boundary, s, is never more than a point's
 * (the roundings are monotone), so a point with d2 <= s^2 has no excess, as
 * interp_excess would find; the others go through it. */
static void store_tile(struct worker *w, const struct tile *t, const struct tile_points *q,
		       const double lo[3], const double hi[3], const uint32_t *cand, int nc,
		       const float (*value)[8], int *best, const double *d2)
{
	const struct job *job = w->job;
	const struct interp_rules *rules = &job->rules;
	double s = INFINITY;
	for (int d = 0; d < 3; d++) {
		double below = lo[d] - rules->box_min[d], above = rules->box_max[d] - hi[d];
		s = below < s ? below : s;
		s = above < s ? above : s;
	}
	const double s2 = s > 0 ? s * s : -1;
	const int n = (int)((t->i1 - t->i0) * (t->j1 - t->j0) * (t->k1 - t->k0));
	for (int m = 0; m < n; m++) {
		if (!(d2[m] <= s2)) {
			double p[3] = { q->x[m], q->y[m], q->z[m] };
			double excess = interp_excess(rules, p, d2[m]);
			if (excess > 0) {
				w->at_risk++;
				if (excess > w->need)
					w->need = excess;
			}
		}
		if (interp_filled(rules, job->v->radius, cand[best[m]], d2[m])) {
			w->filled++;
			best[m] = nc;
		}
	}
	/* The slab is laid out (r, channel, lon, lat): one file chunk per r. */
	const int64_t nlon = job->grid->g.lon_steps, nlat = job->grid->g.lat_steps;
	const size_t channel_stride = (size_t)nlon * (size_t)nlat;
	const int nj = (int)(t->j1 - t->j0), nk = (int)(t->k1 - t->k0);
	for (int64_t i = t->i0; i < t->i1; i++) {
		float *plane = job->slab + (size_t)(i - job->r0) * VIEW_CHANNELS * channel_stride +
			       (size_t)t->j0 * (size_t)nlat + (size_t)t->k0;
		for (int j = 0; j < nj; j++) {
			const int *row_best = best + ((int)(i - t->i0) * nj + j) * nk;
			if (nk == 8) {
				simd_rows_to_channels(plane + (size_t)j * (size_t)nlat, channel_stride,
						      value, row_best);
				continue;
			}
			for (int c = 0; c < VIEW_CHANNELS; c++) {
				float *row = plane + (size_t)c * channel_stride + (size_t)j * (size_t)nlat;
				for (int k = 0; k < nk; k++)
					row[k] = value[row_best[k]][c];
			}
		}
	}
}

/* Every point of t on its own: brute force, or a k-d tree search. */
static void points_one_by_one(struct worker *w, const struct tile *t, const struct tile_points *q,
			      uint32_t *hint)
{
	const struct job *job = w->job;
	const struct view *v = job->v;
	int n = 0;
	for (int64_t i = t->i0; i < t->i1; i++)
		for (int64_t j = t->j0; j < t->j1; j++)
			for (int64_t k = t->k0; k < t->k1; k++, n++) {
				double d2, p[3] = { q->x[n], q->y[n], q->z[n] };
				uint32_t best;
				if (job->backend == INTERP_BRUTE) {
					best = brute_nearest(v->position, (uint32_t)v->n, p[0], p[1], p[2],
							     &d2);
				} else {
					best = *hint;
					const float *c = v->position + 3 * (size_t)best;
					d2 = distance2(p[0], p[1], p[2], c[0], c[1], c[2]);
					kd_nearest(job->tree, p[0], p[1], p[2], &best, &d2);
					*hint = best;
				}
				store_point(w, i, j, k, p, best, d2);
			}
}

/* The largest distance2 from a corner of the box [lo, hi] to c. */
static double corner_bound2(const double lo[3], const double hi[3], const double c[3])
{
	double bound2 = 0;
	for (int corner = 0; corner < 8; corner++) {
		double x = corner & 1 ? hi[0] : lo[0], y = corner & 2 ? hi[1] : lo[1],
		       z = corner & 4 ? hi[2] : lo[2];
		double d2 = distance2(x, y, z, c[0], c[1], c[2]);
		bound2 = d2 > bound2 ? d2 : bound2;
	}
	return bound2;
}

/* A tile's contenders, as tree slots. */
struct contenders {
	int n;
	uint32_t slot[TILE_GATHER];
};

/* Searches tile t. Its contenders come from the tree, or when t is half of
 * a tile that had too many, from that tile's (parent): a cell that can win
 * in the half can win in the whole. The half's c is then the parent's
 * contender nearest to the half's centre, which is its nearest cell. */
static void do_tile(struct worker *w, struct tile t, const struct contenders *parent,
		    uint32_t *hint)
{
	const struct job *job = w->job;
	const struct view *v = job->v;
	const struct kd_tree *tree = job->tree;
	struct tile_points q;
	int n = 0;
	double lo[3] = { INFINITY, INFINITY, INFINITY }, hi[3] = { -INFINITY, -INFINITY, -INFINITY };
	for (int64_t i = t.i0; i < t.i1; i++)
		for (int64_t j = t.j0; j < t.j1; j++)
			for (int64_t k = t.k0; k < t.k1; k++, n++) {
				double p[3];
				grid_point(job->grid, i, j, k, p);
				q.x[n] = p[0];
				q.y[n] = p[1];
				q.z[n] = p[2];
				for (int d = 0; d < 3; d++) {
					lo[d] = p[d] < lo[d] ? p[d] : lo[d];
					hi[d] = p[d] > hi[d] ? p[d] : hi[d];
				}
			}
	if (job->backend == INTERP_BRUTE || n == 1) {
		points_one_by_one(w, &t, &q, hint);
		return;
	}
	double centre[3] = { 0.5 * (lo[0] + hi[0]), 0.5 * (lo[1] + hi[1]), 0.5 * (lo[2] + hi[2]) };
	struct contenders list;
	double pc[3];
	if (parent) {
		uint32_t c = parent->slot[0];
		double dc = distance2(centre[0], centre[1], centre[2], tree->x[c], tree->y[c], tree->z[c]);
		for (int m = 1; m < parent->n; m++) {
			uint32_t s = parent->slot[m];
			double d = distance2(centre[0], centre[1], centre[2], tree->x[s], tree->y[s],
					     tree->z[s]);
			if (d < dc) {
				dc = d;
				c = s;
			}
		}
		pc[0] = tree->x[c];
		pc[1] = tree->y[c];
		pc[2] = tree->z[c];
		list.n = kd_contenders_among(tree, parent->slot, parent->n, lo, hi, pc,
					     corner_bound2(lo, hi, pc), list.slot);
	} else {
		uint32_t c = *hint;
		pc[0] = tree->px[c];
		pc[1] = tree->py[c];
		pc[2] = tree->pz[c];
		double dc = distance2(centre[0], centre[1], centre[2], pc[0], pc[1], pc[2]);
		kd_nearest(tree, centre[0], centre[1], centre[2], &c, &dc);
		*hint = c;
		pc[0] = tree->px[c];
		pc[1] = tree->py[c];
		pc[2] = tree->pz[c];
		list.n = kd_contenders(tree, lo, hi, pc, corner_bound2(lo, hi, pc), list.slot,
				       TILE_GATHER);
	}
	if (list.n < 0 || list.n > TILE_CANDIDATES) {
		/* Too many contenders: halve the tile along its longest side, lat
		 * last (runs of 8 along lat are stored with SIMD). */
		struct tile a = t, b = t;
		int64_t ni = t.i1 - t.i0, nj = t.j1 - t.j0, nk = t.k1 - t.k0;
		if (ni >= nj && ni >= nk)
			a.i1 = b.i0 = t.i0 + ni / 2;
		else if (nj >= nk)
			a.j1 = b.j0 = t.j0 + nj / 2;
		else
			a.k1 = b.k0 = t.k0 + nk / 2;
		do_tile(w, a, list.n < 0 ? NULL : &list, hint);
		do_tile(w, b, list.n < 0 ? NULL : &list, hint);
		return;
	}
	if (list.n == 0) { /* cannot happen (c itself is kept), but never guess */
		points_one_by_one(w, &t, &q, hint);
		return;
	}
	/* In index order, so that the first of equal distances is the lowest
	 * index (insertion sort: a few dozen candidates). */
	const int nc = list.n;
	uint32_t cand[TILE_CANDIDATES];
	double cx[TILE_CANDIDATES], cy[TILE_CANDIDATES], cz[TILE_CANDIDATES];
	for (int m = 0; m < nc; m++) {
		uint32_t slot = list.slot[m], id = tree->index[slot];
		double x = tree->x[slot], y = tree->y[slot], z = tree->z[slot];
		int at = m;
		for (; at > 0 && cand[at - 1] > id; at--) {
			cand[at] = cand[at - 1];
			cx[at] = cx[at - 1];
			cy[at] = cy[at - 1];
			cz[at] = cz[at - 1];
		}
		cand[at] = id;
		cx[at] = x;
		cy[at] = y;
		cz[at] = z;
		__builtin_prefetch(v->value + VIEW_CHANNELS * (size_t)id);
	}
	int best[TILE_POINTS];
	double best_d2[TILE_POINTS];
	nearest_among(n, q.x, q.y, q.z, nc, cx, cy, cz, best, best_d2);
	float value[TILE_CANDIDATES + 1][8] = { { 0 } }; /* six channels, padded */
	for (int m = 0; m < nc; m++)
		memcpy(value[m], v->value + VIEW_CHANNELS * (size_t)cand[m], VIEW_CHANNELS * sizeof(float));
	for (int c = 0; c < VIEW_CHANNELS; c++)
		value[nc][c] = job->rules.fill;
	store_tile(w, &t, &q, lo, hi, cand, nc, (const float (*)[8])value, best, best_d2);
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct job *job = w->job;
	const int64_t nlon = job->grid->g.lon_steps, nlat = job->grid->g.lat_steps;
	const int64_t ti = (job->nr + TILE_R - 1) / TILE_R, tj = (nlon + TILE_LON - 1) / TILE_LON,
		      tk = (nlat + TILE_LAT - 1) / TILE_LAT;
	/* A thread takes a run of up to TILE_RUN tiles along lat: runs write
	 * whole lines of the slab, where single tiles would share each line
	 * with the next tile, that another thread may be writing. */
	const int64_t tr = (tk + TILE_RUN - 1) / TILE_RUN;
	const long long runs = (long long)(ti * tj * tr);
	uint32_t hint = 0;
	for (;;) {
		long long id = atomic_fetch_add(&job->next_line, 1);
		if (id >= runs)
			break;
		int64_t a = id / (tj * tr), b = id / tr % tj, c0 = id % tr * TILE_RUN;
		int64_t c1 = c0 + TILE_RUN < tk ? c0 + TILE_RUN : tk;
		for (int64_t c = c0; c < c1; c++) {
			struct tile t = {
				.i0 = job->r0 + a * TILE_R, .j0 = b * TILE_LON, .k0 = c * TILE_LAT,
			};
			t.i1 = t.i0 + TILE_R < job->r0 + job->nr ? t.i0 + TILE_R : job->r0 + job->nr;
			t.j1 = t.j0 + TILE_LON < nlon ? t.j0 + TILE_LON : nlon;
			t.k1 = t.k0 + TILE_LAT < nlat ? t.k0 + TILE_LAT : nlat;
			do_tile(w, t, NULL, &hint);
		}
	}
	return NULL;
}

static void write_zeros(struct tensor_writer *tw, const struct view_geometry *g, float *slab,
			int64_t slab_r, struct arepo_err *err, int *rc)
{
	size_t n = (size_t)VIEW_CHANNELS * (size_t)slab_r * (size_t)g->lon_steps * (size_t)g->lat_steps;
	memset(slab, 0, n * sizeof(float));
	for (int64_t r0 = 0; r0 < g->r_steps && !*rc; r0 += slab_r) {
		int64_t nr = g->r_steps - r0 < slab_r ? g->r_steps - r0 : slab_r;
		*rc = tensor_write_slab(tw, r0, nr, slab, err);
	}
}

/* Settles the backend: auto becomes cuda or cpu, cuda opens its device. */
static int choose_backend(const struct interp_options *opt, struct interp_stats *st,
			  struct cuda_device *dev, struct arepo_err *err)
{
	st->backend = opt->backend;
	if (opt->backend != INTERP_CUDA && opt->backend != INTERP_AUTO)
		return 0;
	int gpu = cuda_choose(opt->backend == INTERP_CUDA, opt->device, opt->gpu_lock, dev, err);
	if (gpu < 0)
		return err->code;
	st->backend = gpu ? INTERP_CUDA : INTERP_CPU;
	if (gpu)
		snprintf(st->device, sizeof st->device, "%s", dev->name);
	return 0;
}

const char *interp_backend_name(enum interp_backend b)
{
	return b == INTERP_BRUTE ? "brute" : b == INTERP_CUDA ? "cuda" : "cpu";
}

/* Where finished slabs go: the tensor file, and the progress line. */
struct slab_sink {
	struct tensor_writer *tw;
	const struct view_geometry *g;
	const char *source;
	int progress;
	struct arepo_err *err;
};

static int sink_slab(void *ctx, int64_t r0, int64_t nr, const float *slab)
{
	struct slab_sink *sink = ctx;
	int rc = tensor_write_slab(sink->tw, r0, nr, slab, sink->err);
	if (!rc && sink->progress)
		fprintf(stderr, "\r%s: %s: %3.0f%%", log_tool_name(), sink->source,
			100.0 * (double)(r0 + nr) / (double)sink->g->r_steps);
	return rc;
}

/* The CPU backends: slab by slab, the threads share the slab's tiles. */
static int resample_on_cpu(struct job *job, struct interp_stats *st, struct slab_sink *sink,
			   int64_t slab_r)
{
	const struct view_geometry *g = sink->g;
	int rc = 0;
	struct worker *workers = calloc((size_t)st->threads, sizeof *workers);
	if (!workers)
		return err_set(sink->err, EXIT_RUNTIME, "%s: out of memory for %d threads",
			       sink->source, st->threads);
	for (int64_t r0 = 0; r0 < g->r_steps && !rc; r0 += slab_r) {
		job->r0 = r0;
		job->nr = g->r_steps - r0 < slab_r ? g->r_steps - r0 : slab_r;
		atomic_store(&job->next_line, 0);
		double ts = monotonic_seconds();
		int started = 1;
		for (int t = 0; t < st->threads; t++)
			workers[t].job = job;
		for (; started < st->threads; started++)
			if (pthread_create(&workers[started].thread, NULL, work, &workers[started]) != 0) {
				rc = err_set(sink->err, EXIT_RUNTIME, "cannot start thread %d", started);
				break;
			}
		/* The calling thread works too; with an error the others still finish. */
		work(&workers[0]);
		for (int t = 1; t < started; t++)
			pthread_join(workers[t].thread, NULL);
		double tw0 = monotonic_seconds();
		st->seconds_search += tw0 - ts;
		if (!rc)
			rc = sink_slab(sink, r0, job->nr, job->slab);
		st->seconds_write += monotonic_seconds() - tw0;
	}
	double need = 0;
	for (int t = 0; t < st->threads; t++) {
		st->points_at_risk += workers[t].at_risk;
		st->points_filled += workers[t].filled;
		need = fmax(need, workers[t].need);
	}
	st->margin_needed = job->v->meta.margin + need;
	free(workers);
	return rc;
}

#if AREPO_WITH_CUDA
static int resample_on_gpu(const struct cuda_device *dev, const struct job *job,
			   struct interp_stats *st, struct slab_sink *sink, int64_t slab_r)
{
	const struct view *v = job->v;
	struct cuda_request req = {
		.grid = job->grid, .tree = job->tree, .value = v->value,
		.radius = job->rules.radius_factor > 0 ? v->radius : NULL,
		.rules = job->rules, .max_slab_r = slab_r,
	};
	struct cuda_result res;
	struct arepo_err cuda = { 0 };
	double t0 = monotonic_seconds();
	int rc = cuda_resample(dev, &req, sink_slab, sink, &res, &cuda);
	if (rc == -1)
		return err_set(sink->err, EXIT_RUNTIME, "%s: %s", dev->name, cuda.msg);
	st->slab_r = res.slab_r;
	st->seconds_upload = res.seconds_upload;
	st->seconds_kernel = res.seconds_kernel;
	st->seconds_download = res.seconds_download;
	st->seconds_write = res.seconds_write;
	st->seconds_search = monotonic_seconds() - t0 - res.seconds_write;
	st->points_at_risk = res.at_risk;
	st->points_filled = res.filled;
	st->margin_needed = v->meta.margin + res.need;
	return rc;
}
#endif

int interp_view(const struct view *v, const char *source, const char *out_path,
		const struct interp_options *opt, struct interp_stats *st, struct arepo_err *err)
{
	double t_start = monotonic_seconds();
	memset(st, 0, sizeof *st);
	const struct view_geometry *g = &v->meta.geometry;
	struct grid grid;
	int rc = grid_init(&grid, g, err);
	if (rc) {
		char why[sizeof err->msg];
		snprintf(why, sizeof why, "%s", err->msg);
		return err_set(err, rc, "%s: %.900s", source, why);
	}
	if (v->n > UINT32_MAX - 1) {
		grid_free(&grid);
		return err_set(err, EXIT_BADDATA, "%s: %llu cells; at most %u are supported", source,
			       (unsigned long long)v->n, UINT32_MAX - 1);
	}
	st->cells = v->n;
	st->points = (uint64_t)grid_points(g);
	struct cuda_device dev = { .lock_fd = -1 };
	if ((rc = choose_backend(opt, st, &dev, err))) {
		grid_free(&grid);
		return rc;
	}
	const enum interp_backend backend = st->backend;
	const int on_gpu = backend == INTERP_CUDA && v->n > 0;
	const int cpus = opt->threads > 0 ? opt->threads : interp_default_threads();
	st->threads = on_gpu ? 1 : cpus; /* the index is built by all of them either way */

	struct kd_tree tree = { 0 };
	double t0 = monotonic_seconds();
	if (backend != INTERP_BRUTE && kd_build_threads(&tree, v->position, (uint32_t)v->n, cpus)) {
		grid_free(&grid);
		return err_set(err, EXIT_RUNTIME, "%s: out of memory for the index of its %llu cells",
			       source, (unsigned long long)v->n);
	}
	st->seconds_index = monotonic_seconds() - t0;

	/* Slabs: what the memory budget leaves after the view and its index;
	 * the GPU has two in flight. */
	size_t budget = opt->max_memory ? opt->max_memory : (size_t)256 << 20;
	size_t fixed = (size_t)v->n * (12 + 24 + 4) + (size_t)tree.n * (24 + 4) +
		       (size_t)tree.nnodes * sizeof(struct kd_node);
	/* A grid whose tensor no machine holds is refused before anything is
	 * written, with what it would take. */
	const double tensor_bytes = (double)VIEW_CHANNELS * (double)sizeof(float) *
				    (double)g->r_steps * (double)g->lon_steps * (double)g->lat_steps;
	if (tensor_bytes > 0x1p62) {
		kd_free(&tree);
		grid_free(&grid);
		return err_set(err, EXIT_BADDATA, "%s: a grid of %lld x %lld x %lld points (r, lon, "
			       "lat) makes a tensor of %.3g bytes; refused", out_path,
			       (long long)g->r_steps, (long long)g->lon_steps, (long long)g->lat_steps,
			       tensor_bytes);
	}
	size_t per_r = tensor_chunk_bytes(g);
	/* The compressed chunks the threads hold. */
	if (opt->codec.kind != CODEC_NONE)
		fixed += (size_t)cpus * TENSOR_SLOTS_PER_THREAD * codec_bound(per_r);
	int64_t slab_r = budget > fixed ? (int64_t)((budget - fixed) / per_r / (on_gpu ? 2 : 1)) : 0;
	if (slab_r < 1)
		slab_r = 1;
	if (slab_r > g->r_steps)
		slab_r = g->r_steps;
	st->slab_r = slab_r;
	float *slab = on_gpu ? NULL : malloc((size_t)slab_r * per_r);
	if (!on_gpu && !slab) {
		kd_free(&tree);
		grid_free(&grid);
		return err_set(err, EXIT_RUNTIME, "%s: out of memory for a slab of %lld r step%s "
			       "(%.1f MiB: %lld x %lld lon x lat points, 6 channels)", out_path,
			       (long long)slab_r, slab_r > 1 ? "s" : "",
			       (double)slab_r * (double)per_r / 1048576, (long long)g->lon_steps,
			       (long long)g->lat_steps);
	}

	struct tensor_writer tw;
	if ((rc = tensor_create_coded(&tw, out_path, &v->meta, &opt->codec, cpus, err))) {
		free(slab);
		kd_free(&tree);
		grid_free(&grid);
		return rc;
	}

	struct slab_sink sink = { .tw = &tw, .g = g, .source = source, .progress = opt->progress,
				  .err = err };
	struct job job = {
		.v = v, .grid = &grid, .tree = &tree, .backend = backend,
		.rules = {
			.box_min = { v->meta.box_min[0], v->meta.box_min[1], v->meta.box_min[2] },
			.box_max = { v->meta.box_max[0], v->meta.box_max[1], v->meta.box_max[2] },
			.max_d2 = opt->max_distance > 0 ? opt->max_distance * opt->max_distance : INFINITY,
			.radius_factor = opt->radius_factor,
			.fill = opt->fill,
		},
		.slab = slab,
	};
	if (v->n == 0) {
		log_warn("%s: the view holds no cells; the tensor is all zeros (as IRIS)", source);
		write_zeros(&tw, g, slab, slab_r, err, &rc);
		st->points_at_risk = st->points;
		st->margin_needed = NAN;
	} else if (on_gpu) {
#if AREPO_WITH_CUDA
		rc = resample_on_gpu(&dev, &job, st, &sink, slab_r);
#endif
	} else {
		rc = resample_on_cpu(&job, st, &sink, slab_r);
	}
	if (opt->progress)
		fputc('\n', stderr);

	/* Provenance, but nothing that differs between runs of the same inputs
	 * on other machines or with other threads (device, threads, timings):
	 * those go to --stats and the log. */
	if (!rc && (tensor_attr_string(&tw, "backend", interp_backend_name(backend)) ||
		    tensor_attr_string(&tw, "source_view", source) ||
		    tensor_attr_int(&tw, "cells", (int64_t)st->cells) ||
		    tensor_attr_int(&tw, "points_at_risk", (int64_t)st->points_at_risk) ||
		    tensor_attr_double(&tw, "margin_needed", st->margin_needed) ||
		    tensor_attr_double(&tw, "max_distance", opt->max_distance) ||
		    tensor_attr_double(&tw, "radius_factor", opt->radius_factor) ||
		    tensor_attr_double(&tw, "fill", opt->fill) ||
		    tensor_attr_int(&tw, "points_filled", (int64_t)st->points_filled)))
		rc = tensor_fail(&tw, "cannot write attributes", err);
	double t_commit = monotonic_seconds();
	if (!rc)
		rc = tensor_commit(&tw, err);
	else
		tensor_abort(&tw);
	st->seconds_flush = monotonic_seconds() - t_commit;
	st->seconds_compress = tw.seconds_compress;
	st->tensor_bytes = (uint64_t)tensor_bytes;
	st->seconds_total = monotonic_seconds() - t_start;
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		st->peak_rss_kib = ru.ru_maxrss;
	free(slab);
	kd_free(&tree);
	grid_free(&grid);
	return rc;
}
