/* Cutting views out of a snapshot, as IRIS's Writer and
 * Snapshot.make_physical_tensor do: each observer's geometry (angle, radius,
 * bounds, jitters, perturbations) and the cells inside its pruning box, with
 * their radial velocity toward the observer. */
#ifndef AREPO_VIEWCUT_H
#define AREPO_VIEWCUT_H

#include "cells.h"
#include "config.h"
#include "view.h"

/* Geometry, perturbations and pruning box of view k of a snapshot; needs
 * the grid bounds in cfg (config_require_grid). margin is in processing
 * units. m->config_json, snapshot and snapshot_name are left to the caller. */
void view_meta_for(const struct arepo_config *cfg, const char *snapshot_name, int64_t k,
		   double margin, struct view_meta *m);

/* Whether a position lies inside the view's pruning box (bounds inclusive). */
int view_box_contains(const struct view_meta *m, const float position[3]);

/* Appends the cells of c that lie inside v's pruning box, with their six
 * values (and radii when with_radius; c must then hold them); c must be in
 * the view's units (its perturbation). Returns 0 or -1 (memory). */
int view_add_cells(struct view *v, const struct cells *c, int with_radius);

/* A cheap first test on raw (AREPO) coordinates: the view's pruning box
 * mapped back through its units (and skew), widened so that it never
 * rejects a cell the exact test would keep. */
struct view_filter {
	float lo[3], hi[3];
};
void view_filter_init(struct view_filter *f, const struct view_meta *m, const struct cell_units *u);

/* Appends the cells of a raw chunk that lie in the view's box: the filter
 * first, then the conversion with the view's units and the exact test.
 * common (may be NULL) holds the chunk's view-independent fields; scratch
 * is reused between calls. Returns 0 or -1 (memory). */
int view_collect_chunk(struct view *v, const struct view_filter *f, const struct cell_units *u,
		       const struct snap_raw *raw, const struct chunk_common *common,
		       struct cells *scratch, int with_radius);

/* Radial velocity of a cell toward an observer at (ox, oy, 0), in float32
 * as IRIS: positive when the cell approaches the observer. */
float radial_velocity(float ox, float oy, const float position[3], const float velocity[3]);

#endif
