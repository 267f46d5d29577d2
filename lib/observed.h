/* Observed files (format "arepo-observed/1"): the observed pair of one
 * tensor, "observed" (n_lines, lon, v) and "columnized" (1, r_crop, lon)
 * float32 in processing units, with the tensor's provenance and the
 * observation's mode, axes and grids (see arepo-observed(5)). */
#ifndef AREPO_OBSERVED_H
#define AREPO_OBSERVED_H

#include <stdint.h>

#include "log.h"
#include "view.h"

#define OBSERVED_FORMAT "arepo-observed/1"

struct observed_info {
	const char *mode;         /* IRIS's name */
	const char *tensor;       /* the tensor file observed */
	const char *grids_key;    /* "" in the simple mode */
	const char *observed_units, *columnized_units;
	double v_min, v_max;      /* km/s */
	int64_t v_steps, n_lines;
	int64_t r_crop_min, r_crop_max;
	/* NULL; or the arrays are already in IRIS's units, these factors from
	 * processing units (attribute iris_factors, as observed_rescale). */
	const double *iris_factors;
};

/* Writes path atomically: observed (n_lines, lon, v_steps) and columnized
 * (1, r_crop_max - r_crop_min, lon), meta's provenance (its config_json is
 * the configuration the observation ran with). */
int observed_write(const char *path, const struct view_meta *meta, const struct observed_info *info,
		   const float *observed, const float *columnized, struct arepo_err *err);

/* Rewrites path with columnized times (float)f[0] and observed times
 * (float)f[1] (IRIS's in-place NumPy products) and the attribute
 * iris_factors = recorded, the factors from processing units it is then in;
 * replaced atomically. */
int observed_rescale(const char *path, const double f[2], const double recorded[2],
		     struct arepo_err *err);

#endif
