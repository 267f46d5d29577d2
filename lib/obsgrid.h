/* The observability grids of the synthetic observation (IRIS's
 * chemistry.make_observability_grids): emission j and absorption alpha per
 * unit tracer abundance of one line, on a (density, x_H2, T) grid, with their
 * gradients, built from a LAMDA molecular data file by 41-level statistical
 * equilibrium solves; and the grid file ("arepo-obsgrids/1") that keeps them
 * for later runs, keyed by everything they depend on. */
#ifndef AREPO_OBSGRID_H
#define AREPO_OBSGRID_H

#include <stdint.h>

#include "log.h"

/* Every input the grids depend on, in IRIS's units (SI constants, the
 * configuration's values as doubles), plus the processing units. */
struct obsgrid_inputs {
	char chem_path[4096];      /* the LAMDA file, resolved */
	int upper, lower;          /* transition, 0-based levels (IRIS's (2, 1)) */
	long long n_rho, n_x, n_T; /* N_H_TOT_steps, abundance_H2_steps, T_steps */
	double max_N_H_TOT;        /* interpolation_max_N_H_TOT (m^-3) */
	double bolic_normalization;/* m^-3 */
	double max_T;              /* interpolation_max_T (K) */
	int has_T_continuum;       /* T_continuum null: no radiation field */
	double T_continuum;        /* K */
	double k, h, c, L;         /* observer_hyper constants (SI) */
	double mw_H, mw_H2, mw_He, abundance_He, ortho_to_para_H2_ratio;
	double m_H, m_He;          /* kg */
	/* processing units: cm per length unit, g per mass unit, cm/s per
	 * velocity unit, K per temperature unit; the number-density unit */
	double length_cm, mass_g, velocity_cm_s, temperature_K, iris_number_unit;
};

struct obsgrids {
	int64_t n_rho, n_x, n_T;
	float *rho, *x, *T;        /* axes: mass density (processing), x_H2, K */
	float d_bolic, d_ab, dT;   /* axis steps (asinh density, x, T) */
	/* (n_rho, n_x, n_T) in C order, processing units, per unit tracer abundance */
	float *j, *dj_drho, *dj_dx, *dj_dT;
	float *alpha, *dalpha_drho, *dalpha_dx, *dalpha_dT;
	float nu_ul_ghz;           /* the line's frequency as the file gives it (float32 GHz) */
	double molecular_weight;   /* from the file */
	char key[65];              /* hex SHA-256 of the inputs (obsgrid_key) */
	char *inputs;              /* readable "name=value" lines describing the inputs
				    * (the file's "inputs" attribute); may be NULL */
};

/* The key of a set of inputs: a hex SHA-256 over the molecular file's bytes,
 * every input value and the grid format's version. */
int obsgrid_key(const struct obsgrid_inputs *in, char key[65], struct arepo_err *err);

/* Builds the grids (threads: 0 = every CPU). */
int obsgrid_build(const struct obsgrid_inputs *in, int threads, struct obsgrids *g,
		  struct arepo_err *err);

/* Writes g to path atomically (format "arepo-obsgrids/1", key attribute). */
int obsgrid_save(const struct obsgrids *g, const char *path, struct arepo_err *err);
/* Reads path. Returns 0; or 1 (with nothing loaded) when the file is a grid
 * file whose key is not want_key (stale); errors otherwise: then -1, with err
 * set (its code is the exit status: 1 unreadable, 3 not a complete grid file
 * or inconsistent shapes). A NULL want_key accepts any key. */
int obsgrid_load(const char *path, const char *want_key, struct obsgrids *g,
		 struct arepo_err *err);

void obsgrid_free(struct obsgrids *g);

#endif
