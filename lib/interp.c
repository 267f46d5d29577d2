/* Resampling a view onto its grid: slabs in r, lines of latitude handed to
 * threads, each point searched from the previous point's nearest cell. */
#define _GNU_SOURCE
#include "interp.h"

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "grid.h"
#include "nearest.h"
#include "tensor.h"

#define LINES_PER_GRAB 8

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int interp_default_threads(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
		return CPU_COUNT(&set);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

struct job {
	const struct view *v;
	const struct grid *grid;
	const struct kd_tree *tree;
	const struct interp_options *opt;
	double max_d2;          /* +inf: no limit */
	int64_t r0, nr;         /* the slab */
	float *slab;            /* (6, nr, lon, lat) */
	atomic_llong next_line;
};

struct worker {
	struct job *job;
	pthread_t thread;
	uint64_t at_risk, filled;
	double need; /* max over points of nearest distance minus distance to the box boundary */
};

/* Distance from p to the box boundary: positive inside, negative outside. */
static double inside_distance(const struct view_meta *m, const double p[3])
{
	double inside = INFINITY, outside2 = 0;
	for (int d = 0; d < 3; d++) {
		double below = p[d] - m->box_min[d], above = m->box_max[d] - p[d];
		if (below < 0)
			outside2 += below * below;
		else if (above < 0)
			outside2 += above * above;
		else
			inside = fmin(inside, fmin(below, above));
	}
	return outside2 > 0 ? -sqrt(outside2) : inside;
}

/* Candidates around an anchor point: its k nearest cells, at most dk away
 * from it. For a point p at distance delta from the anchor, every other cell
 * is at least dk - delta from p; so if the best candidate is nearer than that
 * (with a relative margin far above rounding), it is p's nearest cell and no
 * search is needed. */
#ifndef INTERP_CANDIDATES
#define INTERP_CANDIDATES 8
#endif
struct candidates {
	int n;
	double anchor[3];
	double dk;
	uint32_t index[INTERP_CANDIDATES];
	double x[INTERP_CANDIDATES], y[INTERP_CANDIDATES], z[INTERP_CANDIDATES];
};

static void candidates_search(struct candidates *c, const struct kd_tree *tree, const struct view *v,
			      const double q[3], uint32_t *best, double *best_d2)
{
	double d2[INTERP_CANDIDATES];
	c->n = kd_knearest(tree, q[0], q[1], q[2], INTERP_CANDIDATES, c->n, c->index, d2);
	memcpy(c->anchor, q, sizeof c->anchor);
	/* With every cell a candidate, nothing outside can be nearer. */
	c->dk = (uint64_t)c->n < v->n ? sqrt(d2[c->n - 1]) : INFINITY;
	for (int m = 0; m < c->n; m++) {
		const float *p = v->position + 3 * (size_t)c->index[m];
		c->x[m] = p[0];
		c->y[m] = p[1];
		c->z[m] = p[2];
	}
	*best = c->index[0];
	*best_d2 = d2[0];
}

/* The nearest cell to q if the candidates prove it; 0 if they cannot. */
static int candidates_try(const struct candidates *c, const double q[3], uint32_t *best,
			  double *best_d2)
{
	if (c->n == 0)
		return 0;
	uint32_t bi = UINT32_MAX;
	double bd = INFINITY;
	for (int m = 0; m < c->n; m++) {
		double d2 = distance2(q[0], q[1], q[2], c->x[m], c->y[m], c->z[m]);
		if (d2 < bd || (d2 == bd && c->index[m] < bi)) {
			bd = d2;
			bi = c->index[m];
		}
	}
	double delta = sqrt(distance2(q[0], q[1], q[2], c->anchor[0], c->anchor[1], c->anchor[2]));
	if (!(sqrt(bd) < (c->dk - delta) * (1 - 1e-9)))
		return 0;
	*best = bi;
	*best_d2 = bd;
	return 1;
}

static void do_line(struct worker *w, int64_t i, int64_t j, struct candidates *cand)
{
	const struct job *job = w->job;
	const struct view *v = job->v;
	const struct grid *grid = job->grid;
	const int64_t nlon = grid->g.lon_steps, nlat = grid->g.lat_steps;
	const size_t channel_stride = (size_t)job->nr * (size_t)nlon * (size_t)nlat;
	float *out = job->slab + ((size_t)(i - job->r0) * (size_t)nlon + (size_t)j) * (size_t)nlat;
	for (int64_t k = 0; k < nlat; k++) {
		double q[3];
		grid_point(grid, i, j, k, q);
		double d2;
		uint32_t best;
		if (job->opt->backend == INTERP_BRUTE)
			best = brute_nearest(v->position, (uint32_t)v->n, q[0], q[1], q[2], &d2);
		else if (!candidates_try(cand, q, &best, &d2))
			candidates_search(cand, job->tree, v, q, &best, &d2);
		double s = inside_distance(&v->meta, q);
		double d = sqrt(d2);
		if (d > s) {
			w->at_risk++;
			if (d - s > w->need)
				w->need = d - s;
		}
		int fill = d2 > job->max_d2 ||
			   (v->radius && job->opt->radius_factor > 0 &&
			    d > job->opt->radius_factor * (double)v->radius[best]);
		if (fill) {
			w->filled++;
			for (int c = 0; c < VIEW_CHANNELS; c++)
				out[(size_t)c * channel_stride + (size_t)k] = job->opt->fill;
		} else {
			const float *val = v->value + VIEW_CHANNELS * (size_t)best;
			for (int c = 0; c < VIEW_CHANNELS; c++)
				out[(size_t)c * channel_stride + (size_t)k] = val[c];
		}
	}
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct job *job = w->job;
	const int64_t nlon = job->grid->g.lon_steps;
	const long long lines = job->nr * nlon;
	struct candidates cand = { .n = 0 };
	for (;;) {
		long long first = atomic_fetch_add(&job->next_line, LINES_PER_GRAB);
		if (first >= lines)
			break;
		long long last = first + LINES_PER_GRAB < lines ? first + LINES_PER_GRAB : lines;
		for (long long line = first; line < last; line++)
			do_line(w, job->r0 + line / nlon, line % nlon, &cand);
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

int interp_view(const struct view *v, const char *source, const char *out_path,
		const struct interp_options *opt, struct interp_stats *st, struct arepo_err *err)
{
	double t_start = now();
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
	st->threads = opt->threads > 0 ? opt->threads : interp_default_threads();

	struct kd_tree tree = { 0 };
	double t0 = now();
	if (opt->backend == INTERP_CPU && kd_build(&tree, v->position, (uint32_t)v->n)) {
		grid_free(&grid);
		return err_set(err, EXIT_RUNTIME, "out of memory for the index of %llu cells",
			       (unsigned long long)v->n);
	}
	st->seconds_index = now() - t0;

	/* Slabs: what the memory budget leaves after the view and its index. */
	size_t budget = opt->max_memory ? opt->max_memory : (size_t)256 << 20;
	size_t fixed = (size_t)v->n * (12 + 24 + 4) + (size_t)tree.n * (24 + 4) +
		       (size_t)tree.nnodes * sizeof(struct kd_node);
	size_t per_r = (size_t)VIEW_CHANNELS * (size_t)g->lon_steps * (size_t)g->lat_steps * sizeof(float);
	int64_t slab_r = budget > fixed ? (int64_t)((budget - fixed) / per_r) : 0;
	if (slab_r < 1)
		slab_r = 1;
	if (slab_r > g->r_steps)
		slab_r = g->r_steps;
	st->slab_r = slab_r;
	float *slab = malloc((size_t)slab_r * per_r);
	if (!slab) {
		kd_free(&tree);
		grid_free(&grid);
		return err_set(err, EXIT_RUNTIME, "out of memory for a slab of %lld r steps",
			       (long long)slab_r);
	}

	struct tensor_writer tw;
	if ((rc = tensor_create(&tw, out_path, &v->meta, err))) {
		free(slab);
		kd_free(&tree);
		grid_free(&grid);
		return rc;
	}

	if (v->n == 0) {
		log_warn("%s: the view holds no cells; the tensor is all zeros (as IRIS)", source);
		write_zeros(&tw, g, slab, slab_r, err, &rc);
		st->points_at_risk = st->points;
		st->margin_needed = NAN;
	} else {
		struct job job = {
			.v = v, .grid = &grid, .tree = &tree, .opt = opt,
			.max_d2 = opt->max_distance > 0 ? opt->max_distance * opt->max_distance : INFINITY,
			.slab = slab,
		};
		struct worker *workers = calloc((size_t)st->threads, sizeof *workers);
		if (!workers)
			rc = err_set(err, EXIT_RUNTIME, "out of memory");
		for (int64_t r0 = 0; r0 < g->r_steps && !rc; r0 += slab_r) {
			job.r0 = r0;
			job.nr = g->r_steps - r0 < slab_r ? g->r_steps - r0 : slab_r;
			atomic_store(&job.next_line, 0);
			double ts = now();
			int started = 1;
			for (int t = 0; t < st->threads; t++)
				workers[t].job = &job;
			for (; started < st->threads; started++)
				if (pthread_create(&workers[started].thread, NULL, work, &workers[started]) != 0) {
					rc = err_set(err, EXIT_RUNTIME, "cannot start thread %d", started);
					break;
				}
			/* The calling thread works too; with an error the others still finish. */
			work(&workers[0]);
			for (int t = 1; t < started; t++)
				pthread_join(workers[t].thread, NULL);
			double tw0 = now();
			st->seconds_search += tw0 - ts;
			if (!rc)
				rc = tensor_write_slab(&tw, r0, job.nr, slab, err);
			st->seconds_write += now() - tw0;
			if (opt->progress)
				fprintf(stderr, "\r%s: %s: %3.0f%%", log_tool_name(), source,
					100.0 * (double)(r0 + job.nr) / (double)g->r_steps);
		}
		if (opt->progress)
			fputc('\n', stderr);
		double need = 0;
		for (int t = 0; workers && t < st->threads; t++) {
			st->points_at_risk += workers[t].at_risk;
			st->points_filled += workers[t].filled;
			need = fmax(need, workers[t].need);
		}
		st->margin_needed = v->meta.margin + need;
		free(workers);
	}

	if (!rc) {
		int bad = tensor_attr_string(&tw, "backend", opt->backend == INTERP_BRUTE ? "brute" : "cpu");
		bad |= tensor_attr_string(&tw, "source_view", source);
		bad |= tensor_attr_int(&tw, "threads", st->threads);
		bad |= tensor_attr_int(&tw, "cells", (int64_t)st->cells);
		bad |= tensor_attr_int(&tw, "points_at_risk", (int64_t)st->points_at_risk);
		bad |= tensor_attr_double(&tw, "margin_needed", st->margin_needed);
		bad |= tensor_attr_double(&tw, "max_distance", opt->max_distance);
		bad |= tensor_attr_double(&tw, "radius_factor", opt->radius_factor);
		bad |= tensor_attr_double(&tw, "fill", opt->fill);
		bad |= tensor_attr_int(&tw, "points_filled", (int64_t)st->points_filled);
		bad |= tensor_attr_double(&tw, "seconds_index", st->seconds_index);
		bad |= tensor_attr_double(&tw, "seconds_search", st->seconds_search);
		st->seconds_total = now() - t_start;
		bad |= tensor_attr_double(&tw, "seconds", st->seconds_total);
		if (bad)
			rc = err_set(err, EXIT_RUNTIME, "%s: cannot write attributes", out_path);
	}
	if (!rc)
		rc = tensor_commit(&tw, err);
	else
		tensor_abort(&tw);
	st->seconds_total = now() - t_start;
	free(slab);
	kd_free(&tree);
	grid_free(&grid);
	return rc;
}
