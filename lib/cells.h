/* From raw snapshot fields to cells in processing units, exactly as IRIS's
 * Snapshot._get_particle_values and _apply_units_and_perturbations compute
 * them (see arepo-architecture(7), "Numerics the code relies on": which steps are float32,
 * which double). */
#ifndef AREPO_CELLS_H
#define AREPO_CELLS_H

#include <stdint.h>

#include "config.h"
#include "perturbation.h"
#include "snapshot.h"

/* Every constant the per-cell conversion needs, computed once. */
struct cell_units {
	float half_box;       /* (f)(BoxSize / 2) */
	double length, velocity, density; /* AREPO to processing, perturbed */
	int skew;
	double length_matrix[9], velocity_matrix[9];
	double temperature_factor; /* ism_mass_per_iris_number_H_atom / k */
	double number_unit;
	float abundance_He;
	double T_inf;          /* +inf when unset */
	double temperature_conversion; /* 1 / temperature_K_per_processing */
};

void cell_units_init(struct cell_units *u, const struct snap_header *h,
		     const struct arepo_config *cfg, const struct perturbation *p);

/* Cells in processing units, galactocentric. */
struct cells {
	uint64_t n, capacity;
	float *position;   /* 3n */
	float *velocity;   /* 3n */
	float *density;
	float *temperature; /* +inf above T_inf */
	float *x_h2, *x_co, *dust;
	/* Radius (processing length) of the sphere of the cell's volume,
	 * Masses / Density; only read with SNAP_MASS. Stored instead of a mass
	 * because masses in grams overflow float32 for galaxy-sized cells. */
	float *radius;
};

int cells_reserve(struct cells *c, uint64_t n);
void cells_free(struct cells *c);

/* The converted fields that no perturbation changes (temperature, dust
 * temperature), computed once per chunk for all the views cut from it. */
struct chunk_common {
	uint64_t capacity;
	float *temperature, *dust;
};
int chunk_common_compute(const struct cell_units *u, const struct snap_raw *raw,
			 struct chunk_common *c);
void chunk_common_free(struct chunk_common *c);

/* Converts raw cell i into out's slot j, taking the temperatures from common
 * when it is not NULL. */
void cell_convert_with(const struct cell_units *u, const struct snap_raw *raw,
		       const struct chunk_common *common, uint64_t i, struct cells *out, uint64_t j);

/* Converts raw cell i into out's slot j. raw must hold the fields of
 * SNAP_FIELDS_VIEW (and SNAP_MASS for radii). */
void cell_convert(const struct cell_units *u, const struct snap_raw *raw, uint64_t i,
		  struct cells *out, uint64_t j);
/* Converts a whole chunk, appending to out. Returns 0 or -1 (memory). */
int cells_append_chunk(const struct cell_units *u, const struct snap_raw *raw, struct cells *out);

/* Reads every cell of a snapshot, chunk by chunk (max_cells a chunk; 0 for
 * the default), converted with u, appended to out. For tools that need the
 * whole snapshot in memory; the others go chunk by chunk themselves. */
int cells_load(struct snapshot *snap, const struct cell_units *u, unsigned fields,
	       uint64_t max_cells, struct cells *out, struct arepo_err *err);

/* Kinetic temperature of one cell in K, as a double before rounding;
 * +inf above T_inf. */
double cell_temperature(const struct cell_units *u, float internal_energy, float x_h2,
			float x_h_plus);

#endif
