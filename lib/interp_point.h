/* One grid point of a resampling: its nearest cell, the fill rule and the
 * pruning-box diagnostic. Shared by the CPU threads and the CUDA kernel
 * (compiled for both), so that every backend decides every point alike. */
#ifndef AREPO_INTERP_POINT_H
#define AREPO_INTERP_POINT_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "channels.h"
#include "grid.h"
#include "hostdevice.h"
#include "nearest.h"

#define INTERP_CHANNELS CHANNELS /* = VIEW_CHANNELS, without the HDF5 headers */

/* What a point's outcome depends on besides its nearest cell. */
struct interp_rules {
	double box_min[3], box_max[3]; /* the view's pruning box */
	double max_d2;                 /* +inf: no distance limit */
	double radius_factor;          /* > 0: fill beyond factor * cell radius */
	float fill;
};

/* Distance from p to the box boundary: positive inside, negative outside. */
HOST_DEVICE static inline double interp_inside_distance(const struct interp_rules *r,
							const double p[3])
{
	double inside = INFINITY, outside2 = 0;
	for (int d = 0; d < 3; d++) {
		double below = p[d] - r->box_min[d], above = r->box_max[d] - p[d];
		if (below < 0)
			outside2 += below * below;
		else if (above < 0)
			outside2 += above * above;
		else {
			/* min without fmin's call: the operands are never NaN */
			double nearer = below < above ? below : above;
			inside = nearer < inside ? nearer : inside;
		}
	}
	return outside2 > 0 ? -sqrt(outside2) : inside;
}

/* How far the nearest cell (at squared distance d2 from q) lies beyond the
 * distance from q to the box boundary; 0 when it does not: a cell outside
 * the box could then have been nearer (the point is "at risk"). */
HOST_DEVICE static inline double interp_excess(const struct interp_rules *r, const double q[3],
					       double d2)
{
	double s = interp_inside_distance(r, q);
	if (s > 0 && d2 <= s * s) /* certainly inside: no square root needed */
		return 0;
	double d = sqrt(d2);
	return d > s ? d - s : 0;
}

/* Whether the point gets the fill value instead of the cell's values. */
HOST_DEVICE static inline int interp_filled(const struct interp_rules *r, const float *radius,
					    uint32_t best, double d2)
{
	return d2 > r->max_d2 ||
	       (radius && r->radius_factor > 0 && sqrt(d2) > r->radius_factor * (double)radius[best]);
}

/* Writes the point's six values, channel_stride floats apart. */
HOST_DEVICE static inline void interp_store(float *out, size_t channel_stride, const float *value,
					    uint32_t best, int filled, float fill)
{
	const float *val = value + INTERP_CHANNELS * (size_t)best;
	for (int c = 0; c < INTERP_CHANNELS; c++)
		out[(size_t)c * channel_stride] = filled ? fill : val[c];
}

/* A slab of grid points searched one by one in a k-d tree: what the CUDA
 * kernel does per thread (pointers are then device memory). */
struct interp_slab {
	struct grid grid; /* r, cos_lat, sin_lat, cos_phi, sin_phi are used */
	const struct kd_node *nodes;
	const double *x, *y, *z;
	const uint32_t *index;
	const float *value, *radius; /* radius may be NULL */
	struct interp_rules rules;
	int64_t r0, nr;
	float *out; /* (nr, channel, lon, lat), one tensor chunk per r */
};

/* Resamples point p (0 <= p < nr * lon * lat, lat fastest) of the slab.
 * Returns whether it was filled; *excess as interp_excess. */
HOST_DEVICE static inline int interp_slab_point(const struct interp_slab *s, int64_t p,
						double *excess)
{
	const int64_t nlon = s->grid.g.lon_steps, nlat = s->grid.g.lat_steps;
	const int64_t plane = nlon * nlat;
	const int64_t ir = p / plane, j = p / nlat % nlon, k = p % nlat;
	double q[3];
	grid_point(&s->grid, s->r0 + ir, j, k, q);
	uint32_t best = UINT32_MAX;
	double d2 = INFINITY;
	kd_search(s->nodes, s->x, s->y, s->z, s->index, q[0], q[1], q[2], &best, &d2);
	*excess = interp_excess(&s->rules, q, d2);
	int filled = interp_filled(&s->rules, s->radius, best, d2);
	interp_store(s->out + (size_t)ir * INTERP_CHANNELS * (size_t)plane + (size_t)(j * nlat + k),
		     (size_t)plane, s->value, best, filled, s->rules.fill);
	return filled;
}

#endif
