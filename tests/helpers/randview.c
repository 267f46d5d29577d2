/* Test helper: writes a random view file for checking arepo-interp against
 * brute force. Usage: randview PATTERN SEED CELLS R LON LAT OUT
 * PATTERN: uniform (in the pruning box), duplicates (few distinct positions,
 * many cells each), plane (all cells on z = 0), single (one cell), far (cells
 * far outside the grid), empty (no cell), clustered (tight clumps). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grid.h"
#include "log.h"
#include "rng.h"
#include "view.h"

int main(int argc, char **argv)
{
	log_init(argv[0]);
	if (argc != 8)
		die(EXIT_USAGE, "usage: randview PATTERN SEED CELLS R LON LAT OUT");
	const char *pattern = argv[1];
	uint64_t seed = strtoull(argv[2], NULL, 10);
	uint64_t n = strtoull(argv[3], NULL, 10);
	struct rng_stream s;
	rng_init(&s, seed, pattern, 0, "randview");

	struct view v = { 0 };
	struct view_meta *m = &v.meta;
	struct view_geometry *g = &m->geometry;
	g->theta = rng_uniform_range(&s, 0, 2 * M_PI);
	g->observer_radius = 100;
	g->r_min = 80;
	g->r_max = 120;
	g->lon_min = 0.3;   /* spin -1: longitude runs downwards */
	g->lon_max = -0.3;
	g->lat_min = 0.1;
	g->lat_max = -0.1;
	g->r_steps = atoll(argv[4]);
	g->lon_steps = atoll(argv[5]);
	g->lat_steps = atoll(argv[6]);
	m->view_index = 0;
	m->points_per_snapshot = 1;
	m->seed = seed;
	perturbation_none(&m->perturbation);
	m->parsec_per_unit = 1;
	snprintf(m->snapshot, sizeof m->snapshot, "randview-%s", pattern);
	snprintf(m->snapshot_name, sizeof m->snapshot_name, "randview-%s", pattern);
	grid_corner_box(g, 0, m->box_min, m->box_max);

	if (strcmp(pattern, "single") == 0)
		n = 1;
	if (strcmp(pattern, "empty") == 0)
		n = 0;
	v.n = n;
	v.position = malloc((n ? n : 1) * 3 * sizeof(float));
	v.value = malloc((n ? n : 1) * VIEW_CHANNELS * sizeof(float));
	uint64_t distinct = n / 8 + 1;
	float centre[8][3];
	for (int c = 0; c < 8; c++)
		for (int d = 0; d < 3; d++)
			centre[c][d] = (float)rng_uniform_range(&s, m->box_min[d], m->box_max[d]);
	for (uint64_t i = 0; i < n; i++) {
		float *p = v.position + 3 * i;
		for (int d = 0; d < 3; d++)
			p[d] = (float)rng_uniform_range(&s, m->box_min[d], m->box_max[d]);
		if (strcmp(pattern, "duplicates") == 0 && i >= distinct)
			memcpy(p, v.position + 3 * rng_below(&s, distinct), 3 * sizeof(float));
		else if (strcmp(pattern, "plane") == 0)
			p[2] = 0;
		else if (strcmp(pattern, "far") == 0)
			p[i % 3] += (float)((i % 2 ? 1 : -1) * 1000.0);
		else if (strcmp(pattern, "clustered") == 0) {
			const float *c = centre[rng_below(&s, 8)];
			for (int d = 0; d < 3; d++)
				p[d] = c[d] + (float)(0.5 * rng_normal(&s));
		}
		for (int c = 0; c < VIEW_CHANNELS; c++)
			v.value[VIEW_CHANNELS * i + c] = (float)(i * VIEW_CHANNELS + c);
	}
	struct arepo_err err = { 0 };
	if (view_write(argv[7], &v, &err))
		die_err(&err);
	view_free(&v);
	return 0;
}
