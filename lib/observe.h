/* The synthetic observation of a physical tensor (IRIS's SyntheticObserver
 * and SimpleObserver, as its observed datasets run them): velocity blur,
 * columnized map, per-ray emission and transfer, beam, latitude reduction.
 * Every float32 operation in IRIS's order (arepo-observe(1), STANDARDS). */
#ifndef AREPO_OBSERVE_H
#define AREPO_OBSERVE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "log.h"
#include "obsgrid.h"
#include "observe_point.h"

enum observe_mode { OBSERVE_THICK, OBSERVE_THIN, OBSERVE_SELTHIN, OBSERVE_SIMPLE };

/* The mode named by the configuration's observer_hyper.mode (IRIS's names
 * or the short ones). */
int observe_mode_parse(const char *name, enum observe_mode *mode);
const char *observe_mode_name(enum observe_mode mode);  /* IRIS's name */
const char *observe_mode_short(enum observe_mode mode); /* thick, thin, ... */

/* Everything derived once per process from the configuration, the grid
 * shape and the grids: constants, axes, kernels. */
struct observe_plan {
	enum observe_mode mode;
	int64_t R, L, A;       /* the tensor's r, lon, lat steps */
	int64_t V, F, v_sub;   /* coarse and fine velocity channels */
	int64_t r_crop_min, r_crop_max;
	int reduce_max;        /* cube_hyper.reduction "max" (else mean) */

	int blur_inputs;
	int64_t kr, kl, ka;    /* velocity blur kernel (r, lon, lat) */
	float *in_weight;      /* kr * kl * ka */
	int beam;              /* out_blur_fwhm set */
	int64_t bl, ba;        /* beam kernel (lon, lat) */
	float *beam_weight;    /* bl * ba */

	/* The per-ray code's constants and axes (observe_point.h); its
	 * pointers are the arrays below and the grids'. */
	struct obs_point pt;
	float t_cmb;
	float mw_H2, mw_ism;   /* columnize: fl(mw_H2), fl(mw_H + abundance_He mw_He) */
	float *nu, *nu_edges, *nu_fine; /* V, V + 1, F */
	float *background;     /* V: CMB intensity */
	float *trj_denominator;/* V: ((2k) nu) nu */

	const struct obsgrids *grids; /* NULL in the simple mode */
};

/* Fills plan for tensors of r x lon x lat steps. grids may be NULL in the
 * simple mode. Errors are usage errors (2) naming the configuration key. */
int observe_plan_init(struct observe_plan *plan, const struct arepo_config *cfg,
		      enum observe_mode mode, int64_t R, int64_t L, int64_t A,
		      const struct obsgrids *grids, struct arepo_err *err);
void observe_plan_free(struct observe_plan *plan);

/* Reads lon indices [l0, l1) of the tensor, all channels, r and lat, into
 * out laid out (6, R, l1 - l0, A). */
typedef int (*observe_read_fn)(void *source, int64_t l0, int64_t l1, float *out,
			       struct arepo_err *err);

struct observe_stats {
	double seconds_read, seconds_blur, seconds_rays, seconds_beam; /* beam: and reduction */
	uint64_t rays, cells;
	uint64_t line_windows; /* fine or coarse channels whose line profile was evaluated */
	/* the CUDA backend: the host's share (density nodes, columnized map),
	 * the transfers and the kernels (CUDA events), lons per block */
	double seconds_host, seconds_upload, seconds_kernel, seconds_download;
	int64_t lon_block;
};

/* Optional copies of the intermediate stages, for checks against IRIS's
 * (each NULL or an array of the size given). */
struct observe_stages {
	float *blurred_vr;  /* R * L * A: channel 0 after the velocity blur */
	float *ppv_prebeam; /* L * A * V */
	float *ppv;         /* L * A * V, after the beam */
};

struct observe_output {
	float *observed;   /* L * V: (n_lines = 1, lon, v) */
	float *columnized; /* (r_crop_max - r_crop_min) * L: (1, r, lon) */
};

/* Runs the observation, reading the tensor lon block by lon block
 * (lon_block lons at a time; 0 chooses) with threads threads (0: every
 * CPU). progress, when set, is called with the fraction done. */
int observe_run(const struct observe_plan *plan, observe_read_fn read, void *source,
		int threads, int64_t lon_block, struct observe_stages *stages,
		struct observe_output *out, struct observe_stats *stats,
		void (*progress)(double fraction), struct arepo_err *err);

/* The columnized map's lons [l0, l1) from a block of the tensor holding
 * lons [h0, h0 + hw) as (6, R, hw, A), into col (r_crop, L); tmp holds A
 * floats. */
void observe_columnize(const struct observe_plan *plan, const float *raw, int64_t h0, int64_t hw,
		       int64_t l0, int64_t l1, float *col, float *tmp);

/* The density node (obs_rho_node, glibc's asinhf) of every cell of lons
 * [l0, l1) from the same kind of block, into out (R, l1 - l0, A), on
 * threads threads (0: every CPU). The grids have at most 65536 densities. */
void observe_rho_nodes(const struct observe_plan *plan, const float *raw, int64_t h0, int64_t hw,
		       int64_t l0, int64_t l1, int threads, uint16_t *out);

/* IRIS's float32 linspace (torch's CPU kernel), n values from a to b. */
void observe_linspace(double a, double b, int64_t n, float *out);

#endif
