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

void view_filter_init(struct view_filter *f, const struct view_meta *m, const struct cell_units *u)
{
	/* The inverse of the position conversion: 1/length, or the inverse of
	 * length * S for a skew. */
	double inv[9] = { 1 / u->length, 0, 0, 0, 1 / u->length, 0, 0, 0, 1 / u->length };
	if (u->skew) {
		const double *a = u->length_matrix;
		double det = a[0] * (a[4] * a[8] - a[5] * a[7]) - a[1] * (a[3] * a[8] - a[5] * a[6]) +
			     a[2] * (a[3] * a[7] - a[4] * a[6]);
		inv[0] = (a[4] * a[8] - a[5] * a[7]) / det;
		inv[1] = (a[2] * a[7] - a[1] * a[8]) / det;
		inv[2] = (a[1] * a[5] - a[2] * a[4]) / det;
		inv[3] = (a[5] * a[6] - a[3] * a[8]) / det;
		inv[4] = (a[0] * a[8] - a[2] * a[6]) / det;
		inv[5] = (a[2] * a[3] - a[0] * a[5]) / det;
		inv[6] = (a[3] * a[7] - a[4] * a[6]) / det;
		inv[7] = (a[1] * a[6] - a[0] * a[7]) / det;
		inv[8] = (a[0] * a[4] - a[1] * a[3]) / det;
	}
	double lo[3] = { INFINITY, INFINITY, INFINITY }, hi[3] = { -INFINITY, -INFINITY, -INFINITY };
	for (int corner = 0; corner < 8; corner++) {
		double p[3] = { corner & 1 ? m->box_max[0] : m->box_min[0],
				corner & 2 ? m->box_max[1] : m->box_min[1],
				corner & 4 ? m->box_max[2] : m->box_min[2] };
		for (int r = 0; r < 3; r++) {
			double x = inv[3 * r] * p[0] + inv[3 * r + 1] * p[1] + inv[3 * r + 2] * p[2];
			lo[r] = x < lo[r] ? x : lo[r];
			hi[r] = x > hi[r] ? x : hi[r];
		}
	}
	/* Rounding of the centring and of the conversion moves a cell by a few
	 * float32 ulps; 1e-4 of the box's scale is far beyond that. */
	for (int d = 0; d < 3; d++) {
		double slack = 1e-4 * (fabs(lo[d]) + fabs(hi[d]) + (hi[d] - lo[d])) + 1e-30;
		f->lo[d] = (float)(lo[d] + u->half_box - slack);
		f->hi[d] = (float)(hi[d] + u->half_box + slack);
		f->lo[d] = nextafterf(f->lo[d], -INFINITY);
		f->hi[d] = nextafterf(f->hi[d], INFINITY);
	}
}

int view_collect_chunk(struct view *v, const struct view_filter *f, const struct cell_units *u,
		       const struct snap_raw *raw, const struct chunk_common *common,
		       struct cells *scratch, int with_radius)
{
	scratch->n = 0;
	for (uint64_t i = 0; i < raw->n; i++) {
		const float *p = raw->position + 3 * i;
		if (p[0] < f->lo[0] || p[0] > f->hi[0] || p[1] < f->lo[1] || p[1] > f->hi[1] ||
		    p[2] < f->lo[2] || p[2] > f->hi[2])
			continue;
		if (cells_reserve(scratch, scratch->n + 1))
			return -1;
		cell_convert_with(u, raw, common, i, scratch, scratch->n++);
	}
	return view_add_cells(v, scratch, with_radius);
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
		val[CHANNEL_VELOCITY] = radial_velocity(ox, oy, p, c->velocity + 3 * i);
		val[CHANNEL_DENSITY] = c->density[i];
		val[CHANNEL_TEMPERATURE] = c->temperature[i];
		val[CHANNEL_H2] = c->x_h2[i];
		val[CHANNEL_CO] = c->x_co[i];
		val[CHANNEL_DUST_TEMPERATURE] = c->dust[i];
		if (with_radius)
			v->radius[j] = c->radius[i];
	}
	return 0;
}
