/* The observer's spherical grid and its mapping to galactocentric positions,
 * exactly IRIS's (Snapshot._interpolate, _map_spherical_to_arepo): float32
 * axes, float32 trigonometry, double sums. Shared by extract (pruning box)
 * and every interp backend, so that all of them see the same points. */
#ifndef AREPO_GRID_H
#define AREPO_GRID_H

#include <stdint.h>

#include "hostdevice.h"
#include "log.h"

/* A view's geometry, in processing units and radians, after spin
 * orientation and jitter. */
struct view_geometry {
	double theta;           /* observer angle, theta_zero included */
	double observer_radius;
	double r_min, r_max, lon_min, lon_max, lat_min, lat_max;
	int64_t r_steps, lon_steps, lat_steps;
};

/* Precomputed per-axis factors of the mapping. */
struct grid {
	struct view_geometry g;
	float *r, *lon, *lat;       /* the axes, as numpy.linspace(..., dtype=float32) */
	float *cos_lat, *sin_lat;   /* per lat index */
	float *cos_phi, *sin_phi;   /* per lon index, phi = (f)(pi + theta) + lon */
	double observer_x, observer_y;
};

/* numpy.linspace(start, stop, n) in double, cast to float32. */
void linspace_f32(double start, double stop, int64_t n, float *out);

/* Checks the geometry (finite, steps >= 1, one step only when min == max,
 * r_min > 0) and precomputes. Errors are bad data (3). */
int grid_init(struct grid *grid, const struct view_geometry *g, struct arepo_err *err);
void grid_free(struct grid *grid);

/* Position of grid point (i, j, k) = (r, lon, lat). */
HOST_DEVICE static inline void grid_point(const struct grid *grid, int64_t i, int64_t j, int64_t k,
					  double out[3])
{
	float xy = grid->r[i] * grid->cos_lat[k];
	float z = grid->r[i] * grid->sin_lat[k];
	out[0] = grid->observer_x + (double)(xy * grid->cos_phi[j]);
	out[1] = grid->observer_y + (double)(xy * grid->sin_phi[j]);
	out[2] = (double)z;
}

/* IRIS's pruning box: the axis-aligned box around the 8 corners of the grid
 * ({r,lon,lat} min and max, each rounded to float32 first), widened by
 * margin on every side. */
void grid_corner_box(const struct view_geometry *g, double margin, double box_min[3],
		     double box_max[3]);

/* Total number of grid points. */
static inline int64_t grid_points(const struct view_geometry *g)
{
	return g->r_steps * g->lon_steps * g->lat_steps;
}

#endif
