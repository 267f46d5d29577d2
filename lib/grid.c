/* The observer's spherical grid, step for step as IRIS computes it. */
#include "grid.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void linspace_f32(double start, double stop, int64_t n, float *out)
{
	if (n == 1) {
		out[0] = (float)start;
		return;
	}
	double step = (stop - start) / (double)(n - 1);
	for (int64_t i = 0; i < n; i++)
		out[i] = (float)((double)i * step + start);
	out[n - 1] = (float)stop;
}

static int check_axis(const char *name, double lo, double hi, int64_t n, struct arepo_err *err)
{
	if (!isfinite(lo) || !isfinite(hi))
		return err_set(err, EXIT_BADDATA, "%s bounds are not finite", name);
	if (n < 1)
		return err_set(err, EXIT_BADDATA, "%s_steps is %lld; it must be at least 1", name,
			       (long long)n);
	if (n == 1 && lo != hi)
		return err_set(err, EXIT_BADDATA, "%s has one step but %s_min (%g) differs from "
			       "%s_max (%g)", name, name, lo, name, hi);
	return 0;
}

int grid_init(struct grid *grid, const struct view_geometry *g, struct arepo_err *err)
{
	memset(grid, 0, sizeof *grid);
	int rc;
	if ((rc = check_axis("r", g->r_min, g->r_max, g->r_steps, err)) ||
	    (rc = check_axis("lon", g->lon_min, g->lon_max, g->lon_steps, err)) ||
	    (rc = check_axis("lat", g->lat_min, g->lat_max, g->lat_steps, err)))
		return rc;
	if (!(g->r_min > 0) || !(g->r_max > 0))
		return err_set(err, EXIT_BADDATA, "r bounds must be positive");
	if (!isfinite(g->theta) || !isfinite(g->observer_radius))
		return err_set(err, EXIT_BADDATA, "the observer's angle and radius must be finite");
	grid->g = *g;
	grid->r = malloc((size_t)g->r_steps * sizeof(float));
	grid->lon = malloc((size_t)g->lon_steps * sizeof(float));
	grid->lat = malloc((size_t)g->lat_steps * sizeof(float));
	grid->cos_lat = malloc((size_t)g->lat_steps * sizeof(float));
	grid->sin_lat = malloc((size_t)g->lat_steps * sizeof(float));
	grid->cos_phi = malloc((size_t)g->lon_steps * sizeof(float));
	grid->sin_phi = malloc((size_t)g->lon_steps * sizeof(float));
	if (!grid->r || !grid->lon || !grid->lat || !grid->cos_lat || !grid->sin_lat ||
	    !grid->cos_phi || !grid->sin_phi) {
		grid_free(grid);
		return err_set(err, EXIT_RUNTIME, "out of memory for the grid axes");
	}
	linspace_f32(g->r_min, g->r_max, g->r_steps, grid->r);
	linspace_f32(g->lon_min, g->lon_max, g->lon_steps, grid->lon);
	linspace_f32(g->lat_min, g->lat_max, g->lat_steps, grid->lat);
	for (int64_t k = 0; k < g->lat_steps; k++) {
		grid->cos_lat[k] = cosf(grid->lat[k]);
		grid->sin_lat[k] = sinf(grid->lat[k]);
	}
	float phi0 = (float)(M_PI + g->theta);
	for (int64_t j = 0; j < g->lon_steps; j++) {
		float phi = phi0 + grid->lon[j];
		grid->cos_phi[j] = cosf(phi);
		grid->sin_phi[j] = sinf(phi);
	}
	grid->observer_x = g->observer_radius * cos(g->theta);
	grid->observer_y = g->observer_radius * sin(g->theta);
	return 0;
}

void grid_free(struct grid *grid)
{
	free(grid->r);
	free(grid->lon);
	free(grid->lat);
	free(grid->cos_lat);
	free(grid->sin_lat);
	free(grid->cos_phi);
	free(grid->sin_phi);
	memset(grid, 0, sizeof *grid);
}

void grid_corner_box(const struct view_geometry *g, double margin, double box_min[3],
		     double box_max[3])
{
	const float r[2] = { (float)g->r_min, (float)g->r_max };
	const float lon[2] = { (float)g->lon_min, (float)g->lon_max };
	const float lat[2] = { (float)g->lat_min, (float)g->lat_max };
	double ox = g->observer_radius * cos(g->theta), oy = g->observer_radius * sin(g->theta);
	float phi0 = (float)(M_PI + g->theta);
	for (int d = 0; d < 3; d++) {
		box_min[d] = INFINITY;
		box_max[d] = -INFINITY;
	}
	for (int a = 0; a < 2; a++)
		for (int b = 0; b < 2; b++)
			for (int c = 0; c < 2; c++) {
				float xy = r[a] * cosf(lat[c]);
				float z = r[a] * sinf(lat[c]);
				float phi = phi0 + lon[b];
				double p[3] = { ox + (double)(xy * cosf(phi)), oy + (double)(xy * sinf(phi)),
						(double)z };
				for (int d = 0; d < 3; d++) {
					if (p[d] < box_min[d])
						box_min[d] = p[d];
					if (p[d] > box_max[d])
						box_max[d] = p[d];
				}
			}
	for (int d = 0; d < 3; d++) {
		box_min[d] -= margin;
		box_max[d] += margin;
	}
}
