/* IRIS's per-view perturbation factors (see perturbation.h). */
#include "perturbation.h"

#include <math.h>
#include <string.h>

#include "rng.h"

void perturbation_none(struct perturbation *p)
{
	memset(p, 0, sizeof *p);
	p->scale = p->density = p->skew = 1.0;
}

/* IRIS: a value drawn uniformly from the range if there is one, otherwise
 * the fixed factor, otherwise none. */
static int pick_factor(const struct arepo_config *cfg, const char *name, int64_t view,
		       const char *purpose, const struct opt_range *range,
		       const struct opt_double *fixed, double *out)
{
	if (range->set) {
		struct rng_stream s;
		rng_init(&s, cfg->seed, name, view, purpose);
		*out = rng_uniform_range(&s, range->low, range->high);
		return 1;
	}
	if (fixed->set) {
		*out = fixed->value;
		return 1;
	}
	return 0;
}

void perturbation_draw(const struct arepo_config *cfg, const char *snapshot_name, int64_t view,
		       struct perturbation *p)
{
	const struct dataset_hyper *d = &cfg->dataset_hyper;
	perturbation_none(p);
	p->has_scale = pick_factor(cfg, snapshot_name, view, "scale", &d->CMZ_scale_range,
				   &d->CMZ_scale_factor, &p->scale);
	p->has_skew = pick_factor(cfg, snapshot_name, view, "skew", &d->CMZ_skew_range,
				  &d->CMZ_skew_factor, &p->skew);
	if (p->has_skew) {
		struct rng_stream s;
		rng_init(&s, cfg->seed, snapshot_name, view, "skew_angle");
		p->skew_angle = rng_uniform_range(&s, 0, 2 * M_PI);
	}
	p->has_density = pick_factor(cfg, snapshot_name, view, "density", &d->CMZ_density_range,
				     &d->CMZ_density_factor, &p->density);
}
