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
#include "h5util.h"
#include "rng.h"
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

static int units_from_config(const char *json, struct processing_units *p)
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

int catalog_entry_from_tensor(const char *path, struct catalog_entry *e, char **config_json,
			      struct arepo_err *err)
{
	memset(e, 0, sizeof *e);
	hid_t file;
	int rc = h5_open_checked(path, &file, err);
	if (rc)
		return rc;
	char format[64] = "";
	struct view_meta m;
	memset(&m, 0, sizeof m);
	if (h5_attr_string(file, "format", format, sizeof format) || strcmp(format, TENSOR_FORMAT)) {
		rc = err_set(err, EXIT_BADDATA, "%s: not a tensor file (format \"%s\")", path, format);
		goto out;
	}
	if ((rc = view_meta_read(file, path, &m, err)))
		goto out;
	int rank;
	hsize_t dims[4];
	if (h5_dataset_dims(file, "physical", &rank, dims) || rank != 4 || dims[0] != VIEW_CHANNELS ||
	    dims[1] != (hsize_t)m.geometry.r_steps || dims[2] != (hsize_t)m.geometry.lon_steps ||
	    dims[3] != (hsize_t)m.geometry.lat_steps) {
		rc = err_set(err, EXIT_BADDATA, "%s: dataset physical is missing or does not match the "
			     "grid", path);
		goto out;
	}
	snprintf(e->snapshot, sizeof e->snapshot, "%.255s", m.snapshot);
	snprintf(e->snapshot_name, sizeof e->snapshot_name, "%.63s", m.snapshot_name);
	e->snapshot_index = snapshot_index_of(m.snapshot_name);
	e->view = m.view_index;
	e->theta = m.geometry.theta;
	e->observer_radius = m.geometry.observer_radius;
	e->jitter_r = m.jitter_r;
	e->jitter_lon = m.jitter_lon;
	const struct perturbation *p = &m.perturbation;
	e->scale = p->has_scale ? p->scale : NAN;
	e->density_factor = p->has_density ? p->density : NAN;
	e->skew_factor = p->has_skew ? p->skew : NAN;
	e->skew_angle = p->has_skew ? p->skew_angle : NAN;
	e->seed = (int64_t)m.seed;
	e->r_steps = m.geometry.r_steps;
	e->lon_steps = m.geometry.lon_steps;
	e->lat_steps = m.geometry.lat_steps;
	if (units_from_config(m.config_json, &e->processing)) {
		rc = err_set(err, EXIT_BADDATA, "%s: its configuration gives no processing units", path);
		goto out;
	}
	if (config_json) {
		*config_json = m.config_json;
		m.config_json = NULL;
	}
out:
	view_meta_free(&m);
	H5Fclose(file);
	return rc;
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

/* The catalog's compound type, in memory and in the file. */
static hid_t catalog_type(void)
{
	hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(struct catalog_entry));
	hid_t s256 = H5Tcopy(H5T_C_S1), s64 = H5Tcopy(H5T_C_S1), s128 = H5Tcopy(H5T_C_S1);
	H5Tset_size(s256, 256);
	H5Tset_size(s64, 64);
	H5Tset_size(s128, 128);
#define F(name, field, type) H5Tinsert(t, name, offsetof(struct catalog_entry, field), type)
	F("snapshot", snapshot, s256);
	F("snapshot_name", snapshot_name, s64);
	F("snapshot_index", snapshot_index, H5T_NATIVE_INT64);
	F("view", view, H5T_NATIVE_INT64);
	F("theta", theta, H5T_NATIVE_DOUBLE);
	F("observer_radius", observer_radius, H5T_NATIVE_DOUBLE);
	F("jitter_r", jitter_r, H5T_NATIVE_DOUBLE);
	F("jitter_lon", jitter_lon, H5T_NATIVE_DOUBLE);
	F("scale", scale, H5T_NATIVE_DOUBLE);
	F("density_factor", density_factor, H5T_NATIVE_DOUBLE);
	F("skew_factor", skew_factor, H5T_NATIVE_DOUBLE);
	F("skew_angle", skew_angle, H5T_NATIVE_DOUBLE);
	F("seed", seed, H5T_NATIVE_INT64);
	F("tensor", tensor, s128);
	F("length_cm_per_processing", processing.length_cm, H5T_NATIVE_DOUBLE);
	F("mass_g_per_processing", processing.mass_g, H5T_NATIVE_DOUBLE);
	F("velocity_cm_per_s_per_processing", processing.velocity_cm_per_s, H5T_NATIVE_DOUBLE);
	F("temperature_K_per_processing", processing.temperature_K, H5T_NATIVE_DOUBLE);
	F("r_steps", r_steps, H5T_NATIVE_INT64);
	F("lon_steps", lon_steps, H5T_NATIVE_INT64);
	F("lat_steps", lat_steps, H5T_NATIVE_INT64);
#undef F
	H5Tclose(s256);
	H5Tclose(s64);
	H5Tclose(s128);
	return t;
}

static const char *const unit_names[] = { "length_iris_per_SI", "time_iris_per_SI",
					   "mass_iris_per_SI", "temperature_iris_per_SI" };

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

	/* physical (N, 6, r, lon, lat): entry i is tensors/...:/physical, by a
	 * relative path, which HDF5 resolves from dataset.h5's own directory. */
	if (ds->n > 0 && !reason) {
		const struct catalog_entry *e0 = &ds->entries[0];
		hsize_t vdims[5] = { ds->n, VIEW_CHANNELS, (hsize_t)e0->r_steps, (hsize_t)e0->lon_steps,
				     (hsize_t)e0->lat_steps };
		hid_t vspace = H5Screate_simple(5, vdims, NULL);
		hid_t sspace = H5Screate_simple(4, vdims + 1, NULL);
		hid_t vdcpl = h5_untimed_plist(H5P_DATASET_CREATE);
		float fill = 0;
		H5Pset_fill_value(vdcpl, H5T_NATIVE_FLOAT, &fill);
		for (size_t i = 0; i < ds->n && !reason; i++) {
			hsize_t start[5] = { i, 0, 0, 0, 0 };
			hsize_t count[5] = { 1, vdims[1], vdims[2], vdims[3], vdims[4] };
			H5Sselect_hyperslab(vspace, H5S_SELECT_SET, start, NULL, count, NULL);
			char *source = vds_source_name(ds->entries[i].tensor);
			if (!source)
				reason = strerror(ENOMEM);
			else
				CHECK(H5Pset_virtual(vdcpl, vspace, source, "/physical", sspace) >= 0);
			free(source);
		}
		H5Sselect_all(vspace);
		hid_t phys = reason ? -1 : H5Dcreate2(file, "physical", H5T_IEEE_F32LE, vspace, H5P_DEFAULT,
						      vdcpl, H5P_DEFAULT);
		CHECK(phys >= 0);
		if (phys >= 0)
			H5Dclose(phys);
		H5Pclose(vdcpl);
		H5Sclose(sspace);
		H5Sclose(vspace);
	}
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
