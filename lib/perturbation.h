/* The perturbations IRIS applies to a view (CMZ scale, density and skew
 * factors), drawn from the deterministic generator: shared by the snapshot
 * conversion and by the view format, which records them. */
#ifndef AREPO_PERTURBATION_H
#define AREPO_PERTURBATION_H

#include <stdint.h>

#include "config.h"

/* The perturbation factors of one view; has_* is 0 when IRIS applies none. */
struct perturbation {
	int has_scale, has_density, has_skew;
	double scale, density, skew;
	double skew_angle; /* radians, drawn only with a skew */
};

/* Draws (or takes the fixed) factors from the deterministic generator keyed
 * by (cfg->seed, snapshot name, view). view -1 is the snapshot itself. */
void perturbation_draw(const struct arepo_config *cfg, const char *snapshot_name, int64_t view,
		       struct perturbation *p);
/* No perturbation at all (every has_* 0). */
void perturbation_none(struct perturbation *p);

#endif
