/* IRIS dataset directories into tensor and observed files: the arrays as
 * they are, the configuration from hyper.json, what is unknown marked so. */
#include "iris_import.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "npy.h"
#include "observed.h"
#include "tensor.h"
#include "viewcut.h"

int iris_dir_detect(const char *dir)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof path, "%s/" DATASET_FILE, dir);
	if (access(path, F_OK) == 0)
		return 0;
	snprintf(path, sizeof path, "%s/hyper.json", dir);
	if (access(path, F_OK) != 0)
		return 0;
	snprintf(path, sizeof path, "%s/attributes.json", dir);
	return access(path, F_OK) == 0;
}

static double number_at(json_t *root, const char *section, const char *key)
{
	json_t *v = json_object_get(json_object_get(root, section), key);
	return json_is_number(v) ? json_number_value(v) : NAN;
}

/* The units hyper.json records (dataset_hyper._*_iris_per_SI and the pair
 * factors); without them the arrays are in processing units. */
static void units_of(json_t *hyper, const struct processing_units *p, struct iris_import *imp)
{
	const char *keys[4] = { "_length_iris_per_SI", "_time_iris_per_SI", "_mass_iris_per_SI",
				"_temperature_iris_per_SI" };
	double u[4];
	int all = 1;
	for (int k = 0; k < 4; k++) {
		u[k] = number_at(hyper, "dataset_hyper", keys[k]);
		all &= u[k] > 0 && isfinite(u[k]);
	}
	if (all)
		imp->units = (struct iris_units){ u[0], u[1], u[2], u[3] };
	else
		iris_units_from_processing(p, &imp->units);
	double density = number_at(hyper, "dataset_hyper", "_density_iris_per_processing");
	double second = number_at(hyper, "dataset_hyper", "_v_density_iris_per_processing");
	if (!(second > 0))
		second = number_at(hyper, "dataset_hyper", "_temperature_iris_per_processing");
	imp->have_pair_factors = all && density > 0 && second > 0;
	imp->pair_factors[0] = density;
	imp->pair_factors[1] = second;
}

/* What the configuration says of an entry's view; what it cannot say (the
 * observer's angle, jitter, perturbations, snapshot) is NaN or empty. */
static void meta_of(const struct arepo_config *cfg, char *config_json, const char *npy_path,
		    const char *stem, struct view_meta *m)
{
	memset(m, 0, sizeof *m);
	view_meta_for(cfg, stem, 0, 0, m);
	struct view_geometry *g = &m->geometry;
	g->theta = NAN;
	if (cfg->coordinate_hyper.jitter_r)
		g->observer_radius = NAN;
	if (cfg->coordinate_hyper.jitter_lon)
		g->lon_min = g->lon_max = NAN;
	if (!cfg->coordinate_hyper.r_min.set || !cfg->coordinate_hyper.r_max.set)
		g->r_min = g->r_max = NAN;
	if (!cfg->coordinate_hyper.lon_min.set || !cfg->coordinate_hyper.lon_max.set)
		g->lon_min = g->lon_max = NAN;
	if (!cfg->coordinate_hyper.lat_min.set || !cfg->coordinate_hyper.lat_max.set)
		g->lat_min = g->lat_max = NAN;
	m->jitter_r = m->jitter_lon = NAN;
	perturbation_none(&m->perturbation);
	for (int d = 0; d < 3; d++)
		m->box_min[d] = m->box_max[d] = NAN;
	m->view_index = -1;
	snprintf(m->snapshot, sizeof m->snapshot, "%s", npy_path);
	snprintf(m->snapshot_name, sizeof m->snapshot_name, "%s", stem);
	m->config_json = config_json;
}

/* The name without its directory and ".npy". */
static void stem_of(const char *name, char *stem, size_t size)
{
	const char *slash = strrchr(name, '/');
	snprintf(stem, size, "%s", slash ? slash + 1 : name);
	size_t n = strlen(stem);
	if (n > 4 && strcmp(stem + n - 4, ".npy") == 0)
		stem[n - 4] = '\0';
}

static int import_tensor(const struct arepo_config *cfg, char *config_json, const char *dir,
			 const char *name, const struct iris_units *u, const char *out,
			 struct arepo_err *err)
{
	char path[PATH_MAX * 2], stem[200];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	stem_of(name, stem, sizeof stem);
	struct npy_file f;
	int rc = npy_open(&f, path, err);
	if (rc)
		return rc;
	if (f.rank != 4 || f.dims[0] != VIEW_CHANNELS || !f.count) {
		npy_close(&f);
		return err_set(err, EXIT_BADDATA, "%s: not a tensor of shape (6, r, lon, lat)", path);
	}
	struct view_meta m;
	meta_of(cfg, config_json, path, stem, &m);
	m.geometry.r_steps = (int64_t)f.dims[1];
	m.geometry.lon_steps = (int64_t)f.dims[2];
	m.geometry.lat_steps = (int64_t)f.dims[3];
	if (m.geometry.r_steps != cfg->coordinate_hyper.r_steps ||
	    m.geometry.lon_steps != cfg->coordinate_hyper.lon_steps ||
	    m.geometry.lat_steps != cfg->coordinate_hyper.lat_steps)
		m.geometry.r_min = m.geometry.r_max = m.geometry.lon_min = m.geometry.lon_max =
			m.geometry.lat_min = m.geometry.lat_max = NAN; /* another grid: unknown */
	size_t plane = (size_t)(f.dims[2] * f.dims[3]);
	float *slab = malloc(VIEW_CHANNELS * plane * sizeof *slab);
	struct tensor_writer w;
	struct codec codec = { CODEC_NONE, 0 };
	codec_parse(cfg->writer_hyper.tensor_compression, &codec); /* checked on loading */
	rc = slab ? tensor_create_in(&w, out, &m, u, &codec, err) :
		    err_set(err, EXIT_RUNTIME, "out of memory");
	for (hsize_t r = 0; !rc && r < f.dims[1]; r++) {
		for (hsize_t c = 0; !rc && c < VIEW_CHANNELS; c++)
			rc = npy_read(&f, (size_t)((c * f.dims[1] + r) * plane), plane, slab + c * plane, err);
		if (rc)
			tensor_abort(&w);
		else
			rc = tensor_write_slab(&w, (int64_t)r, 1, slab, err);
	}
	if (!rc && tensor_attr_string(&w, "source_npy", path))
		rc = tensor_fail(&w, "cannot write", err);
	if (!rc)
		rc = tensor_commit(&w, err);
	free(slab);
	npy_close(&f);
	return rc;
}

/* A whole .npy array of rank 3. */
static float *read_npy3(const char *path, hsize_t dims[3], struct arepo_err *err)
{
	struct npy_file f;
	if (npy_open(&f, path, err))
		return NULL;
	float *v = NULL;
	if (f.rank != 3 || !f.count)
		err_set(err, EXIT_BADDATA, "%s: not an array of rank 3", path);
	else if (!(v = malloc(f.count * sizeof *v)))
		err_set(err, EXIT_RUNTIME, "%s: out of memory", path);
	else if (npy_read(&f, 0, f.count, v, err)) {
		free(v);
		v = NULL;
	}
	memcpy(dims, f.dims, 3 * sizeof *dims);
	npy_close(&f);
	return v;
}

static int import_pair(const struct arepo_config *cfg, char *config_json, const char *dir,
		       json_t *names, const struct iris_import *imp, const char *mode, const char *out,
		       struct arepo_err *err)
{
	const char *cname = json_string_value(json_array_get(names, 0));
	const char *oname = json_string_value(json_array_get(names, 1));
	if (cname && oname && strstr(cname, "observed") && strstr(oname, "columnized")) {
		const char *t = cname;
		cname = oname;
		oname = t;
	}
	char cpath[PATH_MAX * 2], opath[PATH_MAX * 2], stem[200];
	snprintf(cpath, sizeof cpath, "%s/%s", dir, cname);
	snprintf(opath, sizeof opath, "%s/%s", dir, oname);
	stem_of(oname, stem, sizeof stem);
	hsize_t cd[3], od[3];
	float *col = read_npy3(cpath, cd, err), *obs = col ? read_npy3(opath, od, err) : NULL;
	int rc = obs ? 0 : err->code;
	if (!rc && (cd[0] != 1 || cd[2] != od[1]))
		rc = err_set(err, EXIT_BADDATA, "%s: shape (%llu, %llu, %llu) does not pair with %s's "
			     "(%llu, %llu, %llu)", cpath, (unsigned long long)cd[0], (unsigned long long)cd[1],
			     (unsigned long long)cd[2], oname, (unsigned long long)od[0],
			     (unsigned long long)od[1], (unsigned long long)od[2]);
	if (!rc) {
		struct view_meta m;
		meta_of(cfg, config_json, opath, stem, &m);
		struct view_geometry *g = &m.geometry;
		g->lon_steps = (int64_t)od[1];
		int64_t crop_min = cfg->coordinate_hyper.r_crop_min_index;
		int64_t crop_max = cfg->coordinate_hyper.r_crop_max_index;
		if (crop_max - crop_min != (int64_t)cd[1] || crop_max > g->r_steps || crop_min < 0 ||
		    g->lon_steps != cfg->coordinate_hyper.lon_steps) {
			/* Another grid than the configuration's: where it lies is unknown. */
			crop_min = 0;
			crop_max = (int64_t)cd[1];
			g->r_steps = crop_max;
			g->r_min = g->r_max = g->lon_min = g->lon_max = NAN;
		}
		const struct cube_hyper *cube = &cfg->cube_hyper;
		struct observed_info info = {
			.mode = mode,
			.tensor = "",
			.grids_key = "",
			.observed_units = strcmp(mode, "simple") ? "K (Rayleigh-Jeans temperature)"
								: "processing mass per area per velocity",
			.columnized_units = "processing mass density (H2)",
			.v_min = cube->v_min.value,
			.v_max = cube->v_max.value,
			.v_steps = (int64_t)od[2],
			.n_lines = (int64_t)od[0],
			.r_crop_min = crop_min,
			.r_crop_max = crop_max,
			.iris_factors = imp->have_pair_factors ? imp->pair_factors : NULL,
		};
		rc = observed_write(out, &m, &info, obs, col, err);
	}
	free(col);
	free(obs);
	return rc;
}

int iris_import(const char *dir, const char *into, int progress, struct iris_import *out,
		struct arepo_err *err)
{
	memset(out, 0, sizeof *out);
	char hpath[PATH_MAX + 32], apath[PATH_MAX + 32];
	snprintf(hpath, sizeof hpath, "%s/hyper.json", dir);
	snprintf(apath, sizeof apath, "%s/attributes.json", dir);
	json_error_t jerr;
	json_t *hyper = json_load_file(hpath, 0, &jerr);
	json_t *attrs = hyper ? json_load_file(apath, 0, &jerr) : NULL;
	json_t *index = json_object_get(attrs, "index");
	if (!attrs || !json_is_array(index)) {
		json_decref(hyper);
		json_decref(attrs);
		return err_set(err, EXIT_BADDATA, "%s: %s", hyper ? apath : hpath,
			       attrs || !hyper ? "no \"index\" list" : jerr.text);
	}
	struct arepo_config *cfg = malloc(sizeof *cfg);
	char *text = json_dumps(hyper, JSON_PRESERVE_ORDER), *config_json = NULL;
	int rc = cfg && text ? 0 : err_set(err, EXIT_RUNTIME, "out of memory");
	if (!rc) {
		config_defaults(cfg);
		rc = config_load_text(cfg, text, hpath, err);
	}
	struct codec codec;
	if (!rc && codec_parse(cfg->writer_hyper.tensor_compression, &codec))
		rc = err_set(err, EXIT_USAGE, "%s: writer_hyper.tensor_compression \"%s\": "
			     CODEC_EXPECTED, hpath, cfg->writer_hyper.tensor_compression);
	if (!rc && !(config_json = config_to_json(cfg)))
		rc = err_set(err, EXIT_RUNTIME, "out of memory");
	struct processing_units p;
	if (!rc && processing_units_from_config(config_json, &p))
		rc = err_set(err, EXIT_USAGE, "%s: writer_hyper gives no processing units", hpath);
	size_t n = json_array_size(index);
	if (!rc) {
		units_of(hyper, &p, out);
		out->kind = n && json_is_array(json_array_get(index, 0)) ? DATASET_PAIRS : DATASET_PHYSICAL;
		if (!(out->files = calloc(n ? n : 1, sizeof *out->files)))
			rc = err_set(err, EXIT_RUNTIME, "out of memory");
	}
	/* The pairs' mode: the simple one has its own unit; otherwise
	 * observer_hyper.mode when the file has it (these tools' key), else
	 * IRIS's default mode. */
	const char *mode = cfg ? cfg->observer_hyper.mode : "optically thick";
	if (json_is_number(json_object_get(json_object_get(hyper, "dataset_hyper"),
					   "_v_density_iris_per_processing")))
		mode = "simple";
	if (!rc && out->kind == DATASET_PAIRS && (!cfg->cube_hyper.v_min.set || !cfg->cube_hyper.v_max.set))
		rc = err_set(err, EXIT_USAGE, "%s: cube_hyper.v_min and v_max are not set: the pairs' "
			     "velocity axis is unknown", hpath);
	for (size_t k = 0; k < n && !rc; k++) {
		json_t *item = json_array_get(index, k);
		int pair = json_is_array(item) && json_array_size(item) == 2 &&
			   json_is_string(json_array_get(item, 0)) && json_is_string(json_array_get(item, 1));
		if (pair != (out->kind == DATASET_PAIRS) || (!pair && !json_is_string(item))) {
			rc = err_set(err, EXIT_BADDATA, "%s: index entry %zu is neither a .npy name nor a pair of "
				     "names like the first", apath, k);
			break;
		}
		char path[PATH_MAX + 32];
		snprintf(path, sizeof path, "%s/%zu.h5", into, k);
		if (!(out->files[k] = strdup(path))) {
			rc = err_set(err, EXIT_RUNTIME, "out of memory");
			break;
		}
		out->n = k + 1;
		if (pair)
			rc = import_pair(cfg, config_json, dir, item, out, mode, path, err);
		else
			rc = import_tensor(cfg, config_json, dir, json_string_value(item), &out->units, path, err);
		if (!rc && progress)
			cli_progress_show(dir, (double)(k + 1), (double)n);
	}
	free(config_json);
	free(text);
	free(cfg);
	json_decref(hyper);
	json_decref(attrs);
	if (rc)
		iris_import_free(out);
	return rc;
}

void iris_import_free(struct iris_import *imp)
{
	for (size_t i = 0; i < imp->n; i++)
		free(imp->files[i]);
	free(imp->files);
	imp->files = NULL;
	imp->n = 0;
}
