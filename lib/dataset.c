/* Datasets: the catalog as a compound dataset, the shuffle, IRIS's units and
 * the virtual dataset "physical" over the tensor files. */
#include "dataset.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "config.h"
#include "coords.h"
#include "h5util.h"
#include "rng.h"
#include "observed.h"
#include "tensor.h"

void iris_units_from_processing(const struct processing_units *p, struct iris_units *u)
{
	double velocity_per_SI = 100 / p->velocity_cm_per_s;
	u->length_per_SI = 100 / p->length_cm;
	u->time_per_SI = u->length_per_SI / velocity_per_SI;
	u->mass_per_SI = 1000 / p->mass_g;
	u->temperature_per_SI = 1 / p->temperature_K;
}

void iris_factors(const struct processing_units *p, const struct iris_units *u, double *velocity,
		  double *density, double *temperature)
{
	/* Dataset.take_units, operation for operation. */
	double temperature_processing_per_SI = 1.0;
	double velocity_processing_per_SI = 100.0 / p->velocity_cm_per_s;
	double mass_processing_per_SI = 1000.0 / p->mass_g;
	double length_processing_per_SI = 100.0 / p->length_cm;
	double volume_processing_per_SI = length_processing_per_SI * length_processing_per_SI *
					  length_processing_per_SI;
	double density_processing_per_SI = mass_processing_per_SI / volume_processing_per_SI;
	double volume_iris_per_SI = u->length_per_SI * u->length_per_SI * u->length_per_SI;
	double velocity_iris_per_SI = u->length_per_SI / u->time_per_SI;
	double density_iris_per_SI = u->mass_per_SI / volume_iris_per_SI;
	*velocity = velocity_iris_per_SI / velocity_processing_per_SI;
	*density = density_iris_per_SI / density_processing_per_SI;
	*temperature = u->temperature_per_SI / temperature_processing_per_SI;
}

void iris_factors_between(const struct iris_units *from, const struct iris_units *to,
			  double *velocity, double *density, double *temperature)
{
	/* UnitsCorrectedDataset's factors. */
	double v_from = from->length_per_SI / from->time_per_SI, v_to = to->length_per_SI / to->time_per_SI;
	double d_from = from->mass_per_SI / from->length_per_SI / from->length_per_SI / from->length_per_SI;
	double d_to = to->mass_per_SI / to->length_per_SI / to->length_per_SI / to->length_per_SI;
	*velocity = v_to / v_from;
	*density = d_to / d_from;
	*temperature = to->temperature_per_SI / from->temperature_per_SI;
}

int iris_units_equal(const struct iris_units *a, const struct iris_units *b)
{
	return a->length_per_SI == b->length_per_SI && a->time_per_SI == b->time_per_SI &&
	       a->mass_per_SI == b->mass_per_SI && a->temperature_per_SI == b->temperature_per_SI;
}

int64_t snapshot_index_of(const char *name)
{
	size_t end = strlen(name), start = end;
	while (start > 0 && isdigit((unsigned char)name[start - 1]))
		start--;
	if (start == end || end - start > 18)
		return -1;
	return strtoll(name + start, NULL, 10);
}

int processing_units_from_config(const char *json, struct processing_units *p)
{
	json_error_t jerr;
	json_t *root = json_loads(json ? json : "", 0, &jerr);
	json_t *w = root ? json_object_get(root, "writer_hyper") : NULL;
	const char *keys[] = { "length_cm_per_processing", "mass_g_per_processing",
			       "velocity_cm_per_s_per_processing", "temperature_K_per_processing" };
	double *dst[] = { &p->length_cm, &p->mass_g, &p->velocity_cm_per_s, &p->temperature_K };
	int rc = w ? 0 : -1;
	for (int i = 0; i < 4 && !rc; i++) {
		json_t *v = json_object_get(w, keys[i]);
		if (!json_is_number(v) || !(json_number_value(v) > 0))
			rc = -1;
		else
			*dst[i] = json_number_value(v);
	}
	json_decref(root);
	return rc;
}

void processing_units_or_default(const char *json, struct processing_units *p)
{
	if (processing_units_from_config(json, p) == 0)
		return;
	struct arepo_config cfg;
	config_defaults(&cfg);
	p->length_cm = cfg.writer_hyper.length_cm_per_processing;
	p->mass_g = cfg.writer_hyper.mass_g_per_processing;
	p->velocity_cm_per_s = cfg.writer_hyper.velocity_cm_per_s_per_processing;
	p->temperature_K = cfg.writer_hyper.temperature_K_per_processing;
}

/* The catalog row of an entry from its view metadata and configuration. */
static int entry_from_meta(const char *path, const struct view_meta *m, struct catalog_entry *e,
			   struct arepo_err *err)
{
	snprintf(e->snapshot, sizeof e->snapshot, "%.255s", m->snapshot);
	snprintf(e->snapshot_name, sizeof e->snapshot_name, "%.63s", m->snapshot_name);
	e->snapshot_index = snapshot_index_of(m->snapshot_name);
	e->view = m->view_index;
	e->theta = m->geometry.theta;
	e->observer_radius = m->geometry.observer_radius;
	e->jitter_r = m->jitter_r;
	e->jitter_lon = m->jitter_lon;
	const struct perturbation *p = &m->perturbation;
	e->scale = p->has_scale ? p->scale : NAN;
	e->density_factor = p->has_density ? p->density : NAN;
	e->skew_factor = p->has_skew ? p->skew : NAN;
	e->skew_angle = p->has_skew ? p->skew_angle : NAN;
	e->seed = (int64_t)m->seed;
	e->r_steps = m->geometry.r_steps;
	e->lon_steps = m->geometry.lon_steps;
	e->lat_steps = m->geometry.lat_steps;
	e->r_min = m->geometry.r_min;
	e->r_max = m->geometry.r_max;
	e->lon_min = m->geometry.lon_min;
	e->lon_max = m->geometry.lon_max;
	e->lat_min = m->geometry.lat_min;
	e->lat_max = m->geometry.lat_max;
	if (processing_units_from_config(m->config_json, &e->processing))
		return err_set(err, EXIT_BADDATA, "%s: its configuration gives no processing units", path);
	return 0;
}

/* Opens path, checks its format, reads its view metadata. */
static int open_entry(const char *path, const char *want, hid_t *file, struct view_meta *m,
		      struct arepo_err *err)
{
	memset(m, 0, sizeof *m);
	int rc = h5_open_checked(path, file, err);
	if (rc)
		return rc;
	char format[64] = "";
	if (h5_attr_string(*file, "format", format, sizeof format) || strcmp(format, want))
		rc = err_set(err, EXIT_BADDATA, "%s: not a%s file (format \"%s\")", path,
			     strcmp(want, TENSOR_FORMAT) ? "n observed" : " tensor", format);
	else
		rc = view_meta_read(*file, path, m, err);
	if (rc) {
		view_meta_free(m);
		H5Fclose(*file);
	}
	return rc;
}

/* Closes an entry's file; on success hands its recorded configuration to
 * *config_json (when asked). */
static int close_entry(hid_t file, struct view_meta *m, char **config_json, int rc)
{
	if (!rc && config_json) {
		*config_json = m->config_json;
		m->config_json = NULL;
	}
	view_meta_free(m);
	H5Fclose(file);
	return rc;
}
int catalog_entry_from_tensor(const char *path, struct catalog_entry *e, char **config_json,
			      struct arepo_err *err)
{
	memset(e, 0, sizeof *e);
	hid_t file;
	struct view_meta m;
	int rc = open_entry(path, TENSOR_FORMAT, &file, &m, err);
	if (rc)
		return rc;
	int rank;
	hsize_t dims[4];
	if (h5_dataset_dims(file, "physical", &rank, dims) || rank != 4 || dims[0] != VIEW_CHANNELS ||
	    dims[1] != (hsize_t)m.geometry.r_steps || dims[2] != (hsize_t)m.geometry.lon_steps ||
	    dims[3] != (hsize_t)m.geometry.lat_steps)
		rc = err_set(err, EXIT_BADDATA, "%s: dataset physical is missing or does not match the "
			     "grid", path);
	if (!rc)
		rc = entry_from_meta(path, &m, e, err);
	return close_entry(file, &m, config_json, rc);
}

int catalog_entry_from_observed(const char *path, struct catalog_entry *e, char **config_json,
				struct pair_info *info, struct arepo_err *err)
{
	memset(e, 0, sizeof *e);
	memset(info, 0, sizeof *info);
	hid_t file;
	struct view_meta m;
	int rc = open_entry(path, OBSERVED_FORMAT, &file, &m, err);
	if (rc)
		return rc;
	int ro, rcol;
	hsize_t od[4], cd[4];
	double v[2];
	int64_t crop[2];
	if (h5_attr_string(file, "mode", info->mode, sizeof info->mode) ||
	    h5_attr_doubles(file, "v_range_km_s", v, 2) ||
	    h5_attr_int64s(file, "v_steps", &info->v_steps, 1) || h5_attr_int64s(file, "r_crop", crop, 2) ||
	    h5_dataset_dims(file, "observed", &ro, od) || ro != 3 ||
	    h5_dataset_dims(file, "columnized", &rcol, cd) || rcol != 3 ||
	    od[1] != (hsize_t)m.geometry.lon_steps || od[2] != (hsize_t)info->v_steps || cd[0] != 1 ||
	    cd[1] != (hsize_t)(crop[1] - crop[0]) || cd[2] != (hsize_t)m.geometry.lon_steps)
		rc = err_set(err, EXIT_BADDATA, "%s: observed or columnized is missing or does not match "
			     "the file's attributes", path);
	if (!rc) {
		info->v_min = v[0];
		info->v_max = v[1];
		info->n_lines = (int64_t)od[0];
		info->r_crop_min = crop[0];
		info->r_crop_max = crop[1];
		rc = entry_from_meta(path, &m, e, err);
	}
	return close_entry(file, &m, config_json, rc);
}

int pair_info_check(const struct pair_info *a, const struct pair_info *b, const char *path,
		    struct arepo_err *err)
{
	if (strcmp(a->mode, b->mode))
		return err_set(err, EXIT_BADDATA, "%s: observed in the %s mode, the dataset's pairs in the "
			       "%s mode; nothing changed", path, b->mode, a->mode);
	if (a->v_min != b->v_min || a->v_max != b->v_max || a->v_steps != b->v_steps ||
	    a->n_lines != b->n_lines)
		return err_set(err, EXIT_BADDATA, "%s: velocity axis %g..%g km/s in %lld channels (%lld "
			       "lines), the dataset's %g..%g in %lld (%lld); nothing changed", path,
			       b->v_min, b->v_max, (long long)b->v_steps, (long long)b->n_lines, a->v_min,
			       a->v_max, (long long)a->v_steps, (long long)a->n_lines);
	if (a->r_crop_min != b->r_crop_min || a->r_crop_max != b->r_crop_max)
		return err_set(err, EXIT_BADDATA, "%s: columnized over r [%lld, %lld), the dataset's "
			       "[%lld, %lld); nothing changed", path, (long long)b->r_crop_min,
			       (long long)b->r_crop_max, (long long)a->r_crop_min,
			       (long long)a->r_crop_max);
	return 0;
}

int pair_mode_simple(const struct pair_info *p)
{
	return strcmp(p->mode, "simple") == 0;
}

/* NumPy's float32 sum: pairwise in blocks of 128 with 8 partial sums
 * (pairwise_sum of loops_utils), over the buffers of 8192 elements its
 * reductions are fed, added in order from 0. */
static float pairwise_sum(const float *a, size_t n)
{
	if (n < 8) {
		float res = 0;
		for (size_t i = 0; i < n; i++)
			res += a[i];
		return res;
	}
	if (n <= 128) {
		float r[8];
		size_t i;
		for (int j = 0; j < 8; j++)
			r[j] = a[j];
		for (i = 8; i < n - n % 8; i += 8)
			for (int j = 0; j < 8; j++)
				r[j] += a[i + j];
		float res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
		for (; i < n; i++)
			res += a[i];
		return res;
	}
	size_t n2 = n / 2;
	n2 -= n2 % 8;
	return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

static float numpy_sum(const float *a, size_t n)
{
	float sum = 0;
	for (size_t at = 0; at < n; at += 8192)
		sum += pairwise_sum(a + at, n - at < 8192 ? n - at : 8192);
	return sum;
}

/* numpy.std(a, ddof=1) of a float32 array: the mean, the squared
 * deviations and their sum in float32, the division by n - 1 as NumPy 1.x
 * does it for a scalar (in double, then float32), the square root in
 * float32. a is overwritten. */
static float numpy_std_ddof1(float *a, size_t n)
{
	const float mean = numpy_sum(a, n) / (float)n;
	for (size_t i = 0; i < n; i++) {
		float d = a[i] - mean;
		a[i] = d * d;
	}
	const float var = (float)((double)numpy_sum(a, n) / (double)(n - 1));
	return sqrtf(var);
}

/* Reads dataset name of each file, stacked into one array. */
static float *stack_arrays(char *const *paths, size_t n, const char *name, size_t *total,
			   struct arepo_err *err)
{
	float *all = NULL;
	*total = 0;
	for (size_t i = 0; i < n; i++) {
		hid_t file;
		if (h5_open_checked(paths[i], &file, err)) {
			free(all);
			return NULL;
		}
		int rank;
		hsize_t d[4];
		size_t count = 0;
		if (h5_dataset_dims(file, name, &rank, d) == 0) {
			count = 1;
			for (int k = 0; k < rank; k++)
				count *= (size_t)d[k];
		}
		float *more = count ? realloc(all, (*total + count) * sizeof *all) : NULL;
		hid_t set = count ? H5Dopen2(file, name, H5P_DEFAULT) : -1;
		int bad = !more || set < 0 ||
			  H5Dread(set, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, more + *total) < 0;
		if (set >= 0)
			H5Dclose(set);
		H5Fclose(file);
		if (more)
			all = more;
		if (bad) {
			free(all);
			err_set(err, EXIT_BADDATA, "%s: cannot read %s", paths[i], name);
			return NULL;
		}
		*total += count;
	}
	return all;
}

/* The processing units' SI factors, as IRIS's calculate_iris_units. */
struct processing_per_SI { double time, length, volume, mass, density, temperature; };

static struct processing_per_SI processing_per_SI(const struct processing_units *p)
{
	struct processing_per_SI s;
	s.time = p->velocity_cm_per_s / p->length_cm;
	s.length = 100 / p->length_cm;
	s.volume = s.length * s.length * s.length;
	s.mass = 1000 / p->mass_g;
	s.density = s.mass / s.volume;
	s.temperature = 1 / p->temperature_K;
	return s;
}

int pair_units_calculate(struct dataset *ds, const struct processing_units *p, char *const *paths,
			 size_t n, struct arepo_err *err)
{
	size_t nc, no;
	float *col = stack_arrays(paths, n, "columnized", &nc, err);
	float *obs = col ? stack_arrays(paths, n, "observed", &no, err) : NULL;
	if (!obs) {
		free(col);
		return err->code;
	}
	if (nc < 2 || no < 2) {
		free(col);
		free(obs);
		return err_set(err, EXIT_BADDATA, "%zu values are too few for a standard deviation", nc);
	}
	const double density_per_processing = 1. / (double)numpy_std_ddof1(col, nc);
	const double second_per_processing = 1. / (double)numpy_std_ddof1(obs, no);
	free(col);
	free(obs);
	if (!isfinite(density_per_processing) || !isfinite(second_per_processing))
		return err_set(err, EXIT_BADDATA, "the %zu sampled pairs have a standard deviation of 0 "
			       "(or not finite): no units can be derived from them", n);
	const struct processing_per_SI s = processing_per_SI(p);
	const double density_iris_per_SI = density_per_processing * s.density;
	struct iris_units *u = &ds->units;
	u->mass_per_SI = s.mass;
	if (pair_mode_simple(&ds->pairs)) {
		/* SimplyObservedDataset: the second array is a density per velocity. */
		const double v_density_iris_per_SI = second_per_processing * (s.density * s.time);
		u->time_per_SI = v_density_iris_per_SI / density_iris_per_SI;
		u->temperature_per_SI = s.temperature;
	} else {
		u->time_per_SI = s.time;
		u->temperature_per_SI = second_per_processing * s.temperature;
	}
	u->length_per_SI = pow(u->mass_per_SI / density_iris_per_SI, 1. / 3);
	ds->pairs.factors[0] = density_per_processing;
	ds->pairs.factors[1] = second_per_processing;
	return 0;
}

void pair_units_take(struct dataset *ds, const struct processing_units *p)
{
	/* Dataset.take_units, operation for operation (its processing unit of
	 * temperature is 1 per kelvin, whatever the writer's). */
	const struct iris_units *u = &ds->units;
	double velocity_processing_per_SI = 100.0 / p->velocity_cm_per_s;
	double length_processing_per_SI = 100.0 / p->length_cm;
	double volume_processing_per_SI = length_processing_per_SI * length_processing_per_SI *
					  length_processing_per_SI;
	double density_processing_per_SI = (1000.0 / p->mass_g) / volume_processing_per_SI;
	double volume_iris_per_SI = u->length_per_SI * u->length_per_SI * u->length_per_SI;
	double density_iris_per_SI = u->mass_per_SI / volume_iris_per_SI;
	ds->pairs.factors[0] = density_iris_per_SI / density_processing_per_SI;
	if (pair_mode_simple(&ds->pairs)) {
		double time_processing_per_SI = length_processing_per_SI / velocity_processing_per_SI;
		ds->pairs.factors[1] = (density_iris_per_SI * u->time_per_SI) /
				       (density_processing_per_SI * time_processing_per_SI);
	} else {
		ds->pairs.factors[1] = u->temperature_per_SI / 1.0;
	}
	ds->pairs.n_sample = 0;
}

int pair_factors_to(const char *path, const struct pair_info *target, double factors[3],
		    struct arepo_err *err)
{
	hid_t file;
	int rc = h5_open_checked(path, &file, err);
	if (rc)
		return rc;
	double recorded[2];
	if (h5_attr_doubles(file, "iris_factors", recorded, 2) == 0) {
		factors[0] = target->factors[0] / recorded[0];
		factors[1] = target->factors[1] / recorded[1];
	} else {
		factors[0] = target->factors[0];
		factors[1] = target->factors[1];
	}
	factors[2] = 1;
	H5Fclose(file);
	return 0;
}

int entry_factors_to(const struct dataset *ds, const char *path, const struct catalog_entry *e,
		     double factors[3], struct arepo_err *err)
{
	if (ds->kind == DATASET_PAIRS)
		return pair_factors_to(path, &ds->pairs, factors, err);
	return tensor_factors_to(path, &e->processing, &ds->units, factors, err);
}

int tensor_factors_to(const char *path, const struct processing_units *made_in,
		      const struct iris_units *u, double factors[3], struct arepo_err *err)
{
	h5_quiet();
	hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
	if (file < 0)
		return err_set(err, EXIT_BADDATA, "%s: cannot open", path);
	double recorded[4];
	struct iris_units own;
	iris_units_from_processing(made_in, &own);
	if (h5_attr_doubles(file, "iris_units", recorded, 4) == 0) {
		struct iris_units from = { recorded[0], recorded[1], recorded[2], recorded[3] };
		iris_factors_between(&from, u, &factors[0], &factors[1], &factors[2]);
	} else if (iris_units_equal(&own, u)) {
		/* The units a dataset takes from the processing units: as IRIS's
		 * calculate_iris_units, the tensor is in them (take_units would count
		 * one processing unit of temperature per kelvin, and see a factor). */
		factors[0] = factors[1] = factors[2] = 1;
	} else {
		iris_factors(made_in, u, &factors[0], &factors[1], &factors[2]);
	}
	H5Fclose(file);
	return 0;
}

int factors_are_one(const double f[3])
{
	for (int i = 0; i < 3; i++)
		if (!(fabs(f[i] - 1.0) <= 1e-6))
			return 0;
	return 1;
}

/* The catalog's columns: the compound type's fields, and the 1-D
 * variables along "entry" that xarray reads. */
enum field_kind { FIELD_STR, FIELD_I64, FIELD_F64 };
static const struct field {
	const char *name;
	size_t offset, size;
	enum field_kind kind;
} fields[] = {
#define F(name, member, kind) { name, offsetof(struct catalog_entry, member), \
				sizeof(((struct catalog_entry *)0)->member), kind }
	F("snapshot", snapshot, FIELD_STR),
	F("snapshot_name", snapshot_name, FIELD_STR),
	F("snapshot_index", snapshot_index, FIELD_I64),
	F("view", view, FIELD_I64),
	F("theta", theta, FIELD_F64),
	F("observer_radius", observer_radius, FIELD_F64),
	F("jitter_r", jitter_r, FIELD_F64),
	F("jitter_lon", jitter_lon, FIELD_F64),
	F("scale", scale, FIELD_F64),
	F("density_factor", density_factor, FIELD_F64),
	F("skew_factor", skew_factor, FIELD_F64),
	F("skew_angle", skew_angle, FIELD_F64),
	F("seed", seed, FIELD_I64),
	F("tensor", tensor, FIELD_STR),
	F("length_cm_per_processing", processing.length_cm, FIELD_F64),
	F("mass_g_per_processing", processing.mass_g, FIELD_F64),
	F("velocity_cm_per_s_per_processing", processing.velocity_cm_per_s, FIELD_F64),
	F("temperature_K_per_processing", processing.temperature_K, FIELD_F64),
	F("r_steps", r_steps, FIELD_I64),
	F("lon_steps", lon_steps, FIELD_I64),
	F("lat_steps", lat_steps, FIELD_I64),
	F("r_min", r_min, FIELD_F64),
	F("r_max", r_max, FIELD_F64),
	F("lon_min", lon_min, FIELD_F64),
	F("lon_max", lon_max, FIELD_F64),
	F("lat_min", lat_min, FIELD_F64),
	F("lat_max", lat_max, FIELD_F64),
#undef F
};
#define NFIELDS (sizeof fields / sizeof fields[0])

/* The catalog's compound type, in memory and in the file. A catalog
 * written before a field existed reads with that field left as it was. */
static hid_t catalog_type(void)
{
	hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(struct catalog_entry));
	for (size_t k = 0; k < NFIELDS; k++) {
		hid_t ft = fields[k].kind == FIELD_I64 ? H5Tcopy(H5T_NATIVE_INT64)
			   : fields[k].kind == FIELD_F64 ? H5Tcopy(H5T_NATIVE_DOUBLE) : H5Tcopy(H5T_C_S1);
		if (fields[k].kind == FIELD_STR)
			H5Tset_size(ft, fields[k].size);
		H5Tinsert(t, fields[k].name, fields[k].offset, ft);
		H5Tclose(ft);
	}
	return t;
}

/* Whether every entry has the grid of the first, and it is known. */
static int axes_common(const struct dataset *ds)
{
	const struct catalog_entry *a = &ds->entries[0];
	if (!(a->r_min > 0))
		return 0;
	for (size_t i = 1; i < ds->n; i++) {
		const struct catalog_entry *b = &ds->entries[i];
		if (b->r_min != a->r_min || b->r_max != a->r_max || b->lon_min != a->lon_min ||
		    b->lon_max != a->lon_max || b->lat_min != a->lat_min || b->lat_max != a->lat_max ||
		    b->r_steps != a->r_steps || b->lon_steps != a->lon_steps ||
		    b->lat_steps != a->lat_steps || b->processing.length_cm != a->processing.length_cm)
			return 0;
	}
	return 1;
}

/* Named dimensions for xarray: entry, the catalog's columns along it, and
 * the dimensions of the entries' arrays (coords.h); the arrays' "coordinates"
 * name the columns, so that each entry carries its row. */
static int write_coords(hid_t file, const struct dataset *ds)
{
	int64_t *index = malloc((ds->n ? ds->n : 1) * sizeof *index);
	void *column = malloc((ds->n ? ds->n : 1) * sizeof(double));
	const char **text = malloc((ds->n ? ds->n : 1) * sizeof *text);
	size_t names_size = 32;
	for (size_t k = 0; k < NFIELDS; k++)
		names_size += strlen(fields[k].name) + 1;
	char *names = malloc(names_size);
	int bad = !index || !column || !text || !names;
	hid_t entry = -1;
	if (!bad) {
		for (size_t i = 0; i < ds->n; i++)
			index[i] = (int64_t)i;
		struct coord c = { "entry", ds->n, COORD_I64, index, NULL, "catalog row" };
		bad = (entry = coords_scale(file, &c)) < 0;
	}
	if (!bad)
		strcpy(names, "channel_units");
	for (size_t k = 0; k < NFIELDS && !bad; k++) {
		const struct field *f = &fields[k];
		for (size_t i = 0; i < ds->n; i++) {
			const char *at = (const char *)&ds->entries[i] + f->offset;
			if (f->kind == FIELD_STR)
				text[i] = at;
			else
				memcpy((char *)column + i * 8, at, 8);
		}
		struct coord c = { f->name, ds->n,
				   f->kind == FIELD_STR ? COORD_STR : f->kind == FIELD_I64 ? COORD_I64 : COORD_F64,
				   f->kind == FIELD_STR ? (const void *)text : column, NULL, NULL };
		bad = coords_variable(file, entry, &c) != 0;
		strcat(strcat(names, " "), f->name);
	}
	const char *arrays[2] = { ds->kind == DATASET_PAIRS ? "columnized" : "physical", "observed" };
	for (int a = 0; a < 2 && !bad; a++) {
		hid_t set = H5Dopen2(file, a ? "shuffle" : "catalog", H5P_DEFAULT);
		bad = set < 0 || coords_attach(set, &entry, 1);
		if (set >= 0)
			H5Dclose(set);
	}
	if (!bad && ds->n) {
		const struct catalog_entry *e0 = &ds->entries[0];
		const struct view_geometry g = { .r_min = e0->r_min, .r_max = e0->r_max,
						 .lon_min = e0->lon_min, .lon_max = e0->lon_max,
						 .lat_min = e0->lat_min, .lat_max = e0->lat_max,
						 .r_steps = e0->r_steps, .lon_steps = e0->lon_steps,
						 .lat_steps = e0->lat_steps };
		const int known = axes_common(ds);
		hid_t s[6] = { entry, -1, -1, -1, -1, -1 };
		if (ds->kind == DATASET_PAIRS) {
			const struct pair_info *p = &ds->pairs;
			bad = coords_pair(file, &g, &e0->processing, known, p->n_lines, p->v_min, p->v_max,
					  p->v_steps, p->r_crop_min, p->r_crop_max, s + 1);
			const hid_t observed[4] = { entry, s[1], s[2], s[3] };
			const hid_t columnized[4] = { entry, s[4], s[5], s[2] };
			for (int a = 0; a < 2 && !bad; a++) {
				hid_t set = H5Dopen2(file, arrays[a], H5P_DEFAULT);
				bad = set < 0 || coords_attach(set, a ? observed : columnized, 4) ||
				      h5_write_attr_string(set, "coordinates", names + strlen("channel_units "));
				if (set >= 0)
					H5Dclose(set);
			}
		} else {
			struct processing_units p = e0->processing;
			bad = coords_physical(file, &g, &p, &ds->units, known, s + 1);
			hid_t set = bad ? -1 : H5Dopen2(file, "physical", H5P_DEFAULT);
			bad = bad || set < 0 || coords_attach(set, s, 5) ||
			      h5_write_attr_string(set, "coordinates", names);
			if (set >= 0)
				H5Dclose(set);
		}
		coords_close(s + 1, 5);
	}
	if (entry >= 0)
		H5Dclose(entry);
	free(index);
	free(column);
	free(text);
	free(names);
	return bad ? -1 : 0;
}

static const char *const unit_names[] = { "length_iris_per_SI", "time_iris_per_SI",
					   "mass_iris_per_SI", "temperature_iris_per_SI" };

/* The kind of entries, and for pairs what they share (group "pairs"). */
static int read_kind(hid_t file, const char *path, struct dataset *ds, struct arepo_err *err)
{
	char kind[32] = "physical";
	h5_attr_string(file, "kind", kind, sizeof kind); /* absent: a dataset of tensors */
	if (strcmp(kind, "physical") == 0) {
		ds->kind = DATASET_PHYSICAL;
		return 0;
	}
	if (strcmp(kind, "pairs"))
		return err_set(err, EXIT_BADDATA, "%s: entries of an unknown kind \"%s\"", path, kind);
	ds->kind = DATASET_PAIRS;
	struct pair_info *p = &ds->pairs;
	hid_t g = H5Gopen2(file, "pairs", H5P_DEFAULT);
	double v[2];
	int64_t crop[2];
	int bad = g < 0 || h5_attr_string(g, "mode", p->mode, sizeof p->mode) ||
		  h5_attr_doubles(g, "v_range_km_s", v, 2) || h5_attr_int64s(g, "v_steps", &p->v_steps, 1) ||
		  h5_attr_int64s(g, "n_lines", &p->n_lines, 1) || h5_attr_int64s(g, "r_crop", crop, 2) ||
		  h5_attr_doubles(g, "factors", p->factors, 2);
	if (!bad) {
		p->v_min = v[0];
		p->v_max = v[1];
		p->r_crop_min = crop[0];
		p->r_crop_max = crop[1];
		hid_t a = H5Aopen(g, "unit_sample", H5P_DEFAULT);
		if (a >= 0) {
			hid_t space = H5Aget_space(a);
			hssize_t n = H5Sget_simple_extent_npoints(space);
			p->n_sample = n > 0 && n <= DATASET_SAMPLE_MAX ? n : 0;
			H5Sclose(space);
			H5Aclose(a);
			if (p->n_sample && h5_attr_int64s(g, "unit_sample", p->sample, (size_t)p->n_sample))
				bad = 1;
		}
	}
	if (g >= 0)
		H5Gclose(g);
	return bad ? err_set(err, EXIT_BADDATA, "%s: the pairs' attributes are missing or malformed",
			     path) : 0;
}

int dataset_read(const char *dir, struct dataset *ds, struct arepo_err *err)
{
	memset(ds, 0, sizeof *ds);
	char path[PATH_MAX + 32];
	snprintf(path, sizeof path, "%s/" DATASET_FILE, dir);
	h5_quiet();
	if (access(path, F_OK) != 0)
		return err_set(err, EXIT_USAGE, "%s: not a dataset (no " DATASET_FILE ")", dir);
	hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
	if (file < 0)
		return err_set(err, EXIT_BADDATA, "%s: cannot open", path);
	char format[64] = "";
	int rc = 0;
	if (h5_attr_string(file, "format", format, sizeof format) || strcmp(format, DATASET_FORMAT)) {
		rc = err_set(err, EXIT_BADDATA, "%s: not a dataset file (format \"%s\")", path, format);
		goto out;
	}
	int64_t seed = 0;
	h5_attr_int64s(file, "seed", &seed, 1);
	ds->seed = (uint64_t)seed;
	char *config = malloc(1 << 16);
	if (config && h5_attr_string(file, "config", config, 1 << 16) == 0)
		ds->config_json = config;
	else
		free(config);
	hid_t units = H5Gopen2(file, "units", H5P_DEFAULT);
	double *dst[] = { &ds->units.length_per_SI, &ds->units.time_per_SI, &ds->units.mass_per_SI,
			  &ds->units.temperature_per_SI };
	for (int i = 0; i < 4 && !rc; i++)
		if (units < 0 || h5_attr_doubles(units, unit_names[i], dst[i], 1))
			rc = err_set(err, EXIT_BADDATA, "%s: units/%s is missing", path, unit_names[i]);
	if (units >= 0)
		H5Gclose(units);
	if (!rc)
		rc = read_kind(file, path, ds, err);
	if (rc)
		goto out;
	int rank;
	hsize_t dims[4];
	if (h5_dataset_dims(file, "catalog", &rank, dims) || rank != 1) {
		rc = err_set(err, EXIT_BADDATA, "%s: no catalog", path);
		goto out;
	}
	ds->n = dims[0];
	ds->entries = calloc(ds->n ? ds->n : 1, sizeof *ds->entries);
	ds->shuffle = calloc(ds->n ? ds->n : 1, sizeof *ds->shuffle);
	hid_t type = catalog_type();
	hid_t cat = H5Dopen2(file, "catalog", H5P_DEFAULT);
	hid_t shuf = H5Dopen2(file, "shuffle", H5P_DEFAULT);
	if (cat < 0 || shuf < 0 || (ds->n && (H5Dread(cat, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, ds->entries) < 0 ||
					      H5Dread(shuf, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, ds->shuffle) < 0)))
		rc = err_set(err, EXIT_BADDATA, "%s: cannot read the catalog", path);
	if (cat >= 0)
		H5Dclose(cat);
	if (shuf >= 0)
		H5Dclose(shuf);
	H5Tclose(type);
out:
	H5Fclose(file);
	if (rc)
		dataset_free(ds);
	return rc;
}

void dataset_shuffle(struct dataset *ds)
{
	struct rng_stream s;
	rng_init(&s, ds->seed, "dataset", (int64_t)ds->n, "shuffle");
	for (size_t i = 0; i < ds->n; i++)
		ds->shuffle[i] = (int64_t)i;
	for (size_t i = ds->n; i > 1; i--) {
		size_t j = (size_t)rng_below(&s, i);
		int64_t t = ds->shuffle[i - 1];
		ds->shuffle[i - 1] = ds->shuffle[j];
		ds->shuffle[j] = t;
	}
}

/* HDF5 reads a virtual dataset's source file name as a pattern: "%b" is
 * the virtual file's own base name and "%%" a percent sign. */
static char *vds_source_name(const char *name)
{
	size_t n = 0;
	for (const char *p = name; *p; p++)
		n += *p == '%' ? 2 : 1;
	char *out = malloc(n + 1), *q = out;
	for (const char *p = name; out && *p; p++) {
		*q++ = *p;
		if (*p == '%')
			*q++ = '%';
	}
	if (out)
		*q = '\0';
	return out;
}

/* The virtual dataset name (N, dims...) over dataset name of every entry's
 * file; NULL, or the reason it could not be made. */
static const char *write_virtual(hid_t file, const char *name, int rank, const hsize_t *dims,
				 const struct dataset *ds)
{
	hsize_t vdims[5] = { ds->n }, start[5] = { 0 }, count[5] = { 1 };
	for (int k = 0; k < rank; k++)
		vdims[k + 1] = count[k + 1] = dims[k];
	hid_t vspace = H5Screate_simple(rank + 1, vdims, NULL);
	hid_t sspace = H5Screate_simple(rank, dims, NULL);
	hid_t vdcpl = h5_untimed_plist(H5P_DATASET_CREATE);
	float fill = 0;
	H5Pset_fill_value(vdcpl, H5T_NATIVE_FLOAT, &fill);
	char dataset_path[64];
	snprintf(dataset_path, sizeof dataset_path, "/%s", name);
	const char *reason = NULL;
	for (size_t i = 0; i < ds->n && !reason; i++) {
		start[0] = i;
		H5Sselect_hyperslab(vspace, H5S_SELECT_SET, start, NULL, count, NULL);
		char *source = vds_source_name(ds->entries[i].tensor);
		if (!source)
			reason = strerror(ENOMEM);
		else if (H5Pset_virtual(vdcpl, vspace, source, dataset_path, sspace) < 0)
			reason = h5_failure_reason();
		free(source);
	}
	H5Sselect_all(vspace);
	hid_t set = reason ? -1 : H5Dcreate2(file, name, H5T_IEEE_F32LE, vspace, H5P_DEFAULT, vdcpl,
					     H5P_DEFAULT);
	if (!reason && set < 0)
		reason = h5_failure_reason();
	if (set >= 0)
		H5Dclose(set);
	H5Pclose(vdcpl);
	H5Sclose(sspace);
	H5Sclose(vspace);
	return reason;
}

/* The first failure's reason, kept while later calls run. */
#define CHECK(cond)                                             \
	do {                                                    \
		if (!(cond) && !reason)                         \
			reason = h5_failure_reason();           \
	} while (0)

int dataset_write(const char *dir, const struct dataset *ds, struct arepo_err *err)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof path, "%s/" DATASET_FILE, dir);
	struct atomic_output out;
	int rc = atomic_begin(&out, path, err);
	if (rc)
		return rc;
	h5_quiet();
	hid_t file = H5Fcreate(out.temp, H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
	if (file < 0) {
		rc = err_set(err, EXIT_RUNTIME, "%s: cannot create: %s", path, h5_failure_reason());
		atomic_abort(&out);
		return rc;
	}
	const char *reason = NULL;
	int64_t seed = (int64_t)ds->seed, n = (int64_t)ds->n;
	CHECK(h5_write_attr_string(file, "format", DATASET_FORMAT) == 0);
	CHECK(h5_write_attr_string(file, "tool", log_tool_name()) == 0);
	CHECK(h5_write_attr_string(file, "version", AREPO_VERSION) == 0);
	CHECK(h5_write_attr_int64s(file, "seed", &seed, 1) == 0);
	CHECK(h5_write_attr_int64s(file, "entries", &n, 1) == 0);
	CHECK(h5_write_attr_string(file, "config", ds->config_json ? ds->config_json : "{}") == 0);
	hid_t units = H5Gcreate2(file, "units", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	CHECK(units >= 0);
	const double *src[] = { &ds->units.length_per_SI, &ds->units.time_per_SI,
				&ds->units.mass_per_SI, &ds->units.temperature_per_SI };
	for (int i = 0; i < 4 && units >= 0; i++)
		CHECK(h5_write_attr_doubles(units, unit_names[i], src[i], 1) == 0);
	if (units >= 0)
		H5Gclose(units);
	CHECK(h5_write_attr_string(file, "kind", ds->kind == DATASET_PAIRS ? "pairs" : "physical") == 0);
	if (ds->kind == DATASET_PAIRS) {
		const struct pair_info *p = &ds->pairs;
		hid_t g = H5Gcreate2(file, "pairs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
		const double v[2] = { p->v_min, p->v_max };
		const int64_t crop[2] = { p->r_crop_min, p->r_crop_max };
		CHECK(g >= 0);
		CHECK(g < 0 || (h5_write_attr_string(g, "mode", p->mode) == 0 &&
				h5_write_attr_doubles(g, "v_range_km_s", v, 2) == 0 &&
				h5_write_attr_int64s(g, "v_steps", &p->v_steps, 1) == 0 &&
				h5_write_attr_int64s(g, "n_lines", &p->n_lines, 1) == 0 &&
				h5_write_attr_int64s(g, "r_crop", crop, 2) == 0 &&
				h5_write_attr_doubles(g, "factors", p->factors, 2) == 0 &&
				(!p->n_sample ||
				 h5_write_attr_int64s(g, "unit_sample", p->sample, (size_t)p->n_sample) == 0)));
		if (g >= 0)
			H5Gclose(g);
	}

	hsize_t dim = ds->n;
	hid_t space = H5Screate_simple(1, &dim, NULL);
	hid_t type = catalog_type();
	hid_t dcpl = h5_untimed_plist(H5P_DATASET_CREATE);
	hid_t cat = H5Dcreate2(file, "catalog", type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
	CHECK(cat >= 0);
	CHECK(cat < 0 || !ds->n || H5Dwrite(cat, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, ds->entries) >= 0);
	hid_t shuf = H5Dcreate2(file, "shuffle", H5T_STD_I64LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
	CHECK(shuf >= 0);
	CHECK(shuf < 0 || !ds->n ||
	      H5Dwrite(shuf, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, ds->shuffle) >= 0);
	if (cat >= 0)
		H5Dclose(cat);
	if (shuf >= 0)
		H5Dclose(shuf);
	H5Tclose(type);
	H5Sclose(space);
	H5Pclose(dcpl);

	/* physical (N, 6, r, lon, lat), or columnized (N, 1, r_crop, lon) and
	 * observed (N, n_lines, lon, v): entry i's dataset in its file, by a
	 * relative path, which HDF5 resolves from dataset.h5's own directory. */
	if (ds->n > 0 && !reason) {
		const struct catalog_entry *e0 = &ds->entries[0];
		const struct pair_info *p = &ds->pairs;
		if (ds->kind == DATASET_PAIRS) {
			const hsize_t col[3] = { 1, (hsize_t)(p->r_crop_max - p->r_crop_min),
						 (hsize_t)e0->lon_steps };
			const hsize_t obs[3] = { (hsize_t)p->n_lines, (hsize_t)e0->lon_steps,
						 (hsize_t)p->v_steps };
			reason = write_virtual(file, "columnized", 3, col, ds);
			if (!reason)
				reason = write_virtual(file, "observed", 3, obs, ds);
		} else {
			const hsize_t phys[4] = { VIEW_CHANNELS, (hsize_t)e0->r_steps, (hsize_t)e0->lon_steps,
						  (hsize_t)e0->lat_steps };
			reason = write_virtual(file, "physical", 4, phys, ds);
		}
	}
	if (!reason && write_coords(file, ds))
		reason = h5_failure_reason();
	CHECK(H5Fclose(file) >= 0);
	if (reason) {
		rc = err_set(err, EXIT_RUNTIME, "%s: cannot write: %s", path, reason);
		atomic_abort(&out);
		return rc;
	}
	return atomic_commit(&out, err);
}
#undef CHECK

void dataset_free(struct dataset *ds)
{
	free(ds->entries);
	free(ds->shuffle);
	free(ds->config_json);
	memset(ds, 0, sizeof *ds);
}
