/* From raw snapshot fields to cells in processing units, IRIS's arithmetic
 * step for step: float32 where IRIS's arrays are float32, double where NumPy
 * promotes, one rounding at the end. */
#include "cells.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>


/* IRIS's _random_skew_matrix: computed in double, stored as float32. */
static void skew_matrix(double factor, double angle, float m[9])
{
	double a = factor, b = 1 / factor, c = cos(angle), s = sin(angle);
	float v[9] = {
		(float)(a * c * c + b * s * s), (float)((a - b) * c * s), 0,
		(float)((a - b) * c * s), (float)(b * c * c + a * s * s), 0,
		0, 0, 1,
	};
	memcpy(m, v, sizeof v);
}

void cell_units_init(struct cell_units *u, const struct snap_header *h,
		     const struct arepo_config *cfg, const struct perturbation *p)
{
	const struct writer_hyper *w = &cfg->writer_hyper;
	const struct observer_hyper *o = &cfg->observer_hyper;
	memset(u, 0, sizeof *u);

	/* Temperature: _get_particle_values, in double. */
	double length_m = h->unit_length_cm / 100;
	double velocity_m_s = h->unit_velocity_cm_per_s / 100;
	double mass_kg = h->unit_mass_g / 1000;
	double time_s = length_m / velocity_m_s;
	double energy_J = mass_kg * length_m * length_m / time_s / time_s;
	double k = o->k / energy_J;
	u->number_unit = cfg->dataset_hyper.iris_number_unit;
	double ism = (o->m_H + o->abundance_He * o->m_He) * (u->number_unit / mass_kg);
	u->temperature_factor = ism / k;
	u->abundance_He = (float)o->abundance_He;
	u->T_inf = o->T_inf.set ? o->T_inf.value : INFINITY;
	u->temperature_conversion = 1. / w->temperature_K_per_processing;

	/* Units and perturbations: _apply_units_and_perturbations. */
	u->half_box = (float)(h->box_size / 2);
	double length = h->unit_length_cm / w->length_cm_per_processing;
	double velocity = h->unit_velocity_cm_per_s / w->velocity_cm_per_s_per_processing;
	double mass = h->unit_mass_g / w->mass_g_per_processing;
	double volume = length * length * length;
	double density = mass / volume;
	if (p->has_scale) {
		length *= p->scale;
		velocity *= p->scale;
	}
	if (p->has_skew) {
		float m[9];
		skew_matrix(p->skew, p->skew_angle, m);
		u->skew = 1;
		for (int i = 0; i < 9; i++) {
			u->length_matrix[i] = length * (double)m[i];
			u->velocity_matrix[i] = velocity * (double)m[i];
		}
	}
	if (p->has_density)
		density *= p->density;
	u->length = length;
	u->velocity = velocity;
	u->density = density;
}

double cell_temperature(const struct cell_units *u, float internal_energy, float x_h2,
			float x_h_plus)
{
	double factor = (double)internal_energy * u->temperature_factor / u->number_unit;
	float abundance_term = ((1.0f + x_h_plus) - x_h2) + u->abundance_He;
	double t = (2.0 / 3.0) * factor / (double)abundance_term;
	return t > u->T_inf ? INFINITY : t;
}

static void transform3(const double *matrix, double scalar, int skew, const float *in, float *out)
{
	if (skew) {
		for (int r = 0; r < 3; r++)
			out[r] = (float)(matrix[3 * r] * (double)in[0] + matrix[3 * r + 1] * (double)in[1] +
					 matrix[3 * r + 2] * (double)in[2]);
	} else {
		for (int r = 0; r < 3; r++)
			out[r] = (float)((double)in[r] * scalar);
	}
}

static float converted_temperature(const struct cell_units *u, const struct snap_raw *raw, uint64_t i)
{
	double t = cell_temperature(u, raw->internal_energy[i], raw->x_h2[i], raw->x_h_plus[i]);
	return (float)(t * u->temperature_conversion);
}

/* IRIS multiplies a float32 array by a Python float: float32 arithmetic. */
static float converted_dust(const struct cell_units *u, const struct snap_raw *raw, uint64_t i)
{
	return raw->dust[i] * (float)u->temperature_conversion;
}

int chunk_common_compute(const struct cell_units *u, const struct snap_raw *raw,
			 struct chunk_common *c)
{
	if (raw->n > c->capacity) {
		free(c->temperature);
		free(c->dust);
		c->temperature = malloc(raw->n * sizeof(float));
		c->dust = malloc(raw->n * sizeof(float));
		c->capacity = c->temperature && c->dust ? raw->n : 0;
		if (!c->capacity)
			return -1;
	}
	for (uint64_t i = 0; i < raw->n; i++) {
		c->temperature[i] = converted_temperature(u, raw, i);
		c->dust[i] = converted_dust(u, raw, i);
	}
	return 0;
}

void chunk_common_free(struct chunk_common *c)
{
	free(c->temperature);
	free(c->dust);
	memset(c, 0, sizeof *c);
}

void cell_convert_with(const struct cell_units *u, const struct snap_raw *raw,
		       const struct chunk_common *common, uint64_t i, struct cells *out, uint64_t j)
{
	const float *p = raw->position + 3 * i;
	float centred[3] = { p[0] - u->half_box, p[1] - u->half_box, p[2] - u->half_box };
	transform3(u->length_matrix, u->length, u->skew, centred, out->position + 3 * j);
	transform3(u->velocity_matrix, u->velocity, u->skew, raw->velocity + 3 * i,
		   out->velocity + 3 * j);
	out->density[j] = (float)((double)raw->density[i] * u->density);
	out->temperature[j] = common ? common->temperature[i] : converted_temperature(u, raw, i);
	out->x_h2[j] = raw->x_h2[i];
	out->x_co[j] = raw->x_co[i];
	out->dust[j] = common ? common->dust[i] : converted_dust(u, raw, i);
	/* A skew keeps volumes (its determinant is 1); the scale does not. */
	if (raw->fields & SNAP_MASS)
		out->radius[j] = (float)(cbrt(3.0 / (4.0 * M_PI) * (double)raw->mass[i] /
					      (double)raw->density[i]) * u->length);
}

void cell_convert(const struct cell_units *u, const struct snap_raw *raw, uint64_t i,
		  struct cells *out, uint64_t j)
{
	cell_convert_with(u, raw, NULL, i, out, j);
}

int cells_reserve(struct cells *c, uint64_t n)
{
	if (n <= c->capacity)
		return 0;
	uint64_t cap = c->capacity ? c->capacity : 1024;
	while (cap < n)
		cap *= 2;
	float **arrays[] = { &c->density, &c->temperature, &c->x_h2, &c->x_co, &c->dust, &c->radius };
	void *pos = realloc(c->position, cap * 3 * sizeof(float));
	if (!pos)
		return -1;
	c->position = pos;
	void *vel = realloc(c->velocity, cap * 3 * sizeof(float));
	if (!vel)
		return -1;
	c->velocity = vel;
	for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) {
		void *grown = realloc(*arrays[i], cap * sizeof(float));
		if (!grown)
			return -1;
		*arrays[i] = grown;
	}
	c->capacity = cap;
	return 0;
}

void cells_free(struct cells *c)
{
	free(c->position);
	free(c->velocity);
	free(c->density);
	free(c->temperature);
	free(c->x_h2);
	free(c->x_co);
	free(c->dust);
	free(c->radius);
	memset(c, 0, sizeof *c);
}

int cells_append_chunk(const struct cell_units *u, const struct snap_raw *raw, struct cells *out)
{
	if (cells_reserve(out, out->n + raw->n))
		return -1;
	for (uint64_t i = 0; i < raw->n; i++)
		cell_convert(u, raw, i, out, out->n + i);
	out->n += raw->n;
	return 0;
}

int cells_load(struct snapshot *snap, const struct cell_units *u, unsigned fields,
	       uint64_t max_cells, struct cells *out, struct arepo_err *err)
{
	struct snap_chunk *chunks;
	size_t nchunks;
	uint64_t per_chunk = max_cells ? max_cells : snap_chunk_cells(snap, fields, 0);
	int rc = snap_plan_chunks(snap, per_chunk, &chunks, &nchunks, err);
	if (rc)
		return rc;
	struct snap_raw raw = { 0 };
	for (size_t c = 0; c < nchunks && !rc; c++) {
		if ((rc = snap_read_chunk(snap, &chunks[c], fields, &raw, err)))
			break;
		if (cells_append_chunk(u, &raw, out))
			rc = err_set(err, EXIT_RUNTIME, "%s: out of memory for the snapshot's cells", snap->path);
	}
	free(chunks);
	snap_raw_free(&raw);
	return rc;
}
