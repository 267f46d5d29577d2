/* Cutting views out of a snapshot: geometry, jitter, pruning box, values. */
#include "viewcut.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

void view_meta_for(const struct arepo_config *cfg, const char *snapshot_name, int64_t k,
		   double margin, struct view_meta *m)
{
	const struct coordinate_hyper *c = &cfg->coordinate_hyper;
	double lpp = config_parsec_per_processing(cfg);
	double spin = (double)c->spin_orientation;
	struct view_geometry *g = &m->geometry;
	int64_t points = cfg->writer_hyper.points_per_snapshot;

	/* IRIS: theta = 2 pi / P * k, then theta += theta_zero / 180 * pi. */
	g->theta = 2 * M_PI / (double)points * (double)k + c->theta_zero / 180 * M_PI;
	g->r_min = c->r_min.value / lpp;
	g->r_max = c->r_max.value / lpp;
	g->observer_radius = c->observer_radius / lpp;
	m->jitter_r = 0;
	if (c->jitter_r) {
		struct rng_stream s;
		rng_init(&s, cfg->seed, snapshot_name, k, "jitter_r");
		m->jitter_r = rng_uniform_range(&s, c->jitter_r_min.value / lpp, c->jitter_r_max.value / lpp);
		g->observer_radius += m->jitter_r;
	}
	g->lon_min = c->lon_min.value * M_PI / 180 * spin;
	g->lon_max = c->lon_max.value * M_PI / 180 * spin;
	m->jitter_lon = 0;
	if (c->jitter_lon) {
		struct rng_stream s;
		rng_init(&s, cfg->seed, snapshot_name, k, "jitter_lon");
		m->jitter_lon = rng_uniform_range(&s, c->jitter_lon_min.value * M_PI / 180,
						  c->jitter_lon_max.value * M_PI / 180);
		g->lon_min += m->jitter_lon;
		g->lon_max += m->jitter_lon;
	}
	g->lat_min = c->lat_min.value * M_PI / 180 * spin;
	g->lat_max = c->lat_max.value * M_PI / 180 * spin;
	g->r_steps = c->r_steps;
	g->lon_steps = c->lon_steps;
	g->lat_steps = c->lat_steps;

	m->view_index = k;
	m->points_per_snapshot = points;
	m->seed = cfg->seed;
	m->parsec_per_unit = lpp;
	m->margin = margin;
	perturbation_draw(cfg, snapshot_name, k, &m->perturbation);
	grid_corner_box(g, margin, m->box_min, m->box_max);
}

int view_box_contains(const struct view_meta *m, const float p[3])
{
	for (int d = 0; d < 3; d++)
		if (!((double)p[d] >= m->box_min[d] && (double)p[d] <= m->box_max[d]))
			return 0;
	return 1;
}

float radial_velocity(float ox, float oy, const float p[3], const float v[3])
{
	float rv[3] = { ox - p[0], oy - p[1], 0.0f - p[2] };
	float n = sqrtf((rv[0] * rv[0] + rv[1] * rv[1]) + rv[2] * rv[2]);
	float rh[3] = { rv[0] / n, rv[1] / n, rv[2] / n };
	return (rh[0] * v[0] + rh[1] * v[1]) + rh[2] * v[2];
}

static int reserve(struct view *v, uint64_t n, int with_radius)
{
	if (n <= v->capacity)
		return 0;
	uint64_t cap = v->capacity ? 2 * v->capacity : 4096;
	while (cap < n)
		cap *= 2;
	void *p = realloc(v->position, cap * 3 * sizeof(float));
	if (!p)
		return -1;
	v->position = p;
	void *q = realloc(v->value, cap * VIEW_CHANNELS * sizeof(float));
	if (!q)
		return -1;
	v->value = q;
	if (with_radius) {
		void *r = realloc(v->radius, cap * sizeof(float));
		if (!r)
			return -1;
		v->radius = r;
	}
	v->capacity = cap;
	return 0;
}

int view_add_cells(struct view *v, const struct cells *c, int with_radius)
{
	const struct view_meta *m = &v->meta;
	float ox = (float)(m->geometry.observer_radius * cos(m->geometry.theta));
	float oy = (float)(m->geometry.observer_radius * sin(m->geometry.theta));
	for (uint64_t i = 0; i < c->n; i++) {
		const float *p = c->position + 3 * i;
		if (!view_box_contains(m, p))
			continue;
		if (reserve(v, v->n + 1, with_radius))
			return -1;
		uint64_t j = v->n++;
		memcpy(v->position + 3 * j, p, 3 * sizeof(float));
		float *val = v->value + VIEW_CHANNELS * j;
		val[0] = radial_velocity(ox, oy, p, c->velocity + 3 * i);
		val[1] = c->density[i];
		val[2] = c->temperature[i];
		val[3] = c->x_h2[i];
		val[4] = c->x_co[i];
		val[5] = c->dust[i];
		if (with_radius)
			v->radius[j] = c->radius[i];
	}
	return 0;
}
