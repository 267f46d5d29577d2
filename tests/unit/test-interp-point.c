/* Unit tests of interp_slab_point, the per-point body of the CUDA kernel,
 * run here on the CPU: every grid point of every slab gets the cell brute
 * force picks (ties to the lower index), in the tensor's slab layout, with
 * the fill rule and the pruning-box diagnostic. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "grid.h"
#include "interp_point.h"
#include "nearest.h"
#include "rng.h"
#include "tap.h"

enum { UNIFORM, DUPLICATES, ON_GRID_POINTS, CLUSTERED, NPATTERNS };
static const char *const names[] = { "uniform", "duplicates", "on grid points", "clustered" };

static void make_cells(int pattern, uint32_t n, const struct grid *grid, struct rng_stream *s,
		       float *p)
{
	const struct view_geometry *g = &grid->g;
	for (uint32_t i = 0; i < n; i++) {
		double q[3];
		grid_point(grid, (int64_t)rng_below(s, (uint64_t)g->r_steps),
			   (int64_t)rng_below(s, (uint64_t)g->lon_steps),
			   (int64_t)rng_below(s, (uint64_t)g->lat_steps), q);
		for (int d = 0; d < 3; d++) {
			double spread = pattern == CLUSTERED ? 0.01 : pattern == ON_GRID_POINTS ? 0 : 0.4;
			p[3 * i + d] = (float)(q[d] + spread * rng_normal(s));
		}
		if (pattern == DUPLICATES && i > 3)
			memcpy(p + 3 * i, p + 3 * rng_below(s, i / 3 + 1), 3 * sizeof(float));
	}
}

int main(void)
{
	struct view_geometry g = {
		.theta = 0.3, .observer_radius = 8.5,
		.r_min = 0.5, .r_max = 6, .r_steps = 7,
		.lon_min = -0.6, .lon_max = 0.4, .lon_steps = 9,
		.lat_min = -0.1, .lat_max = 0.1, .lat_steps = 5,
	};
	struct grid grid;
	struct arepo_err err = { 0 };
	if (grid_init(&grid, &g, &err)) {
		printf("Bail out! %s\n", err.msg);
		return 1;
	}
	const int64_t plane = g.lon_steps * g.lat_steps, points = g.r_steps * plane;
	const uint32_t sizes[] = { 1, 5, 64, 700 };
	for (int pattern = 0; pattern < NPATTERNS; pattern++)
		for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
			uint32_t n = sizes[si];
			struct rng_stream s;
			rng_init(&s, 7, names[pattern], (int64_t)n, "cells");
			float *pos = malloc(3 * (size_t)n * sizeof(float));
			float *value = malloc(INTERP_CHANNELS * (size_t)n * sizeof(float));
			float *radius = malloc((size_t)n * sizeof(float));
			float *out = malloc((size_t)points * INTERP_CHANNELS * sizeof(float));
			make_cells(pattern, n, &grid, &s, pos);
			for (uint32_t i = 0; i < n; i++) {
				for (int c = 0; c < INTERP_CHANNELS; c++)
					value[INTERP_CHANNELS * i + c] = (float)(INTERP_CHANNELS * i + c);
				radius[i] = (float)rng_uniform_range(&s, 0.05, 0.5);
			}
			struct kd_tree t;
			if (kd_build(&t, pos, n)) {
				printf("Bail out! out of memory\n");
				return 1;
			}
			/* Rule sets: none; a distance limit; a radius factor; a box
			 * that leaves some points at risk. */
			for (int rules_case = 0; rules_case < 3; rules_case++) {
				struct interp_slab slab = {
					.grid = grid, .nodes = t.nodes, .x = t.x, .y = t.y, .z = t.z,
					.index = t.index, .value = value, .radius = radius,
					.rules = {
						.box_min = { 2, -3, -0.3 }, .box_max = { 9, 3, 0.3 },
						.max_d2 = rules_case == 1 ? 0.04 : INFINITY,
						.radius_factor = rules_case == 2 ? 1.5 : 0,
						.fill = rules_case == 2 ? NAN : -1,
					},
				};
				for (int64_t slab_r = 1; slab_r <= g.r_steps; slab_r += 3) {
					int values_ok = 1, filled_ok = 1, excess_ok = 1;
					uint64_t filled_count = 0, at_risk = 0;
					for (int64_t r0 = 0; r0 < g.r_steps; r0 += slab_r) {
						slab.r0 = r0;
						slab.nr = g.r_steps - r0 < slab_r ? g.r_steps - r0 : slab_r;
						slab.out = out + (size_t)r0 * INTERP_CHANNELS * (size_t)plane;
						for (int64_t p = 0; p < slab.nr * plane; p++) {
							double excess;
							int filled = interp_slab_point(&slab, p, &excess);
							int64_t i = r0 + p / plane, j = p / g.lat_steps % g.lon_steps,
								k = p % g.lat_steps;
							double q[3], d2;
							grid_point(&grid, i, j, k, q);
							uint32_t best = brute_nearest(pos, n, q[0], q[1], q[2], &d2);
							int want_filled = d2 > slab.rules.max_d2 ||
									  (rules_case == 2 &&
									   sqrt(d2) > 1.5 * (double)radius[best]);
							filled_ok &= filled == want_filled;
							double want_excess = interp_excess(&slab.rules, q, d2);
							excess_ok &= excess == want_excess;
							filled_count += (uint64_t)filled;
							at_risk += excess > 0;
							for (int c = 0; c < INTERP_CHANNELS; c++) {
								float got = out[((size_t)i * INTERP_CHANNELS + (size_t)c) *
										    (size_t)plane +
									    (size_t)(j * g.lat_steps + k)];
								float want = want_filled ? slab.rules.fill
											 : value[INTERP_CHANNELS * best + c];
								values_ok &= memcmp(&got, &want, sizeof got) == 0;
							}
						}
					}
					ok(values_ok, "%s, %u cells, rules %d, slabs of %lld: brute force's cell "
					   "(or the fill) at every point, in (r, channel, lon, lat)",
					   names[pattern], n, rules_case, (long long)slab_r);
					ok(filled_ok && excess_ok, "%s, %u cells, rules %d, slabs of %lld: fill "
					   "rule and pruning-box excess (%llu filled, %llu at risk)",
					   names[pattern], n, rules_case, (long long)slab_r,
					   (unsigned long long)filled_count, (unsigned long long)at_risk);
					if (rules_case > 0 && n == 700 && pattern == UNIFORM && slab_r == 1)
						ok(filled_count > 0 && filled_count < (uint64_t)points,
						   "uniform, rules %d: the rule fills some points but not all",
						   rules_case);
				}
			}
			kd_free(&t);
			free(pos);
			free(value);
			free(radius);
			free(out);
		}
	grid_free(&grid);
	return tap_done();
}
