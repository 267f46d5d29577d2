/* Configuration: a table of the known keys drives loading, --set, checking
 * types and writing the effective configuration back as JSON. */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "h5filter.h"

enum key_type {
	K_INT, K_OPT_INT, K_DOUBLE, K_OPT_DOUBLE, K_BOOL, K_OPT_RANGE, K_STRING,
	/* IRIS's per-line lists, held to one entry (config.h) */
	K_LINE_INT, K_LINE_DOUBLE, K_LINE_STRING, K_LINE_PAIR
};

struct key_spec {
	const char *section;
	const char *name;
	enum key_type type;
	size_t offset;
	size_t size; /* K_STRING and K_LINE_STRING: the buffer's size */
};

#define W(field, type) { "writer_hyper", #field, type, offsetof(struct arepo_config, writer_hyper.field), 0 }
#define WS(field, type) { "writer_hyper", #field, type, offsetof(struct arepo_config, writer_hyper.field), \
			  sizeof(((struct arepo_config *)0)->writer_hyper.field) }
#define D(field, type) { "dataset_hyper", #field, type, offsetof(struct arepo_config, dataset_hyper.field), 0 }
#define C(field, type) { "coordinate_hyper", #field, type, offsetof(struct arepo_config, coordinate_hyper.field), 0 }
#define O(field, type) { "observer_hyper", #field, type, offsetof(struct arepo_config, observer_hyper.field), 0 }
#define OS(field, type) { "observer_hyper", #field, type, offsetof(struct arepo_config, observer_hyper.field), \
			  sizeof(((struct arepo_config *)0)->observer_hyper.field) }
#define V(field, type) { "cube_hyper", #field, type, offsetof(struct arepo_config, cube_hyper.field), 0 }
#define VS(field, type) { "cube_hyper", #field, type, offsetof(struct arepo_config, cube_hyper.field), \
			  sizeof(((struct arepo_config *)0)->cube_hyper.field) }

static const struct key_spec keys[] = {
	W(total_snapshots, K_INT),
	W(min_snapshot_index, K_OPT_INT),
	W(max_snapshot_index, K_OPT_INT),
	W(points_per_snapshot, K_INT),
	W(unit_calculation_sample_size, K_INT),
	W(length_cm_per_processing, K_DOUBLE),
	W(mass_g_per_processing, K_DOUBLE),
	W(velocity_cm_per_s_per_processing, K_DOUBLE),
	W(temperature_K_per_processing, K_DOUBLE),
	WS(tensor_compression, K_STRING),

	D(meters_per_parsec, K_DOUBLE),
	D(use_AREPO_abundances, K_BOOL),
	D(AREPO_H2_abundance_id, K_INT),
	D(AREPO_H_plus_abundance_id, K_INT),
	D(AREPO_CO_abundance_id, K_INT),
	D(iris_number_unit, K_DOUBLE),
	D(CMZ_scale_factor, K_OPT_DOUBLE),
	D(CMZ_scale_range, K_OPT_RANGE),
	D(CMZ_skew_factor, K_OPT_DOUBLE),
	D(CMZ_skew_range, K_OPT_RANGE),
	D(CMZ_density_factor, K_OPT_DOUBLE),
	D(CMZ_density_range, K_OPT_RANGE),
	D(default_dust_temperature, K_OPT_DOUBLE),

	C(theta_zero, K_DOUBLE),
	C(spin_orientation, K_INT),
	C(observer_radius, K_DOUBLE),
	C(jitter_r, K_BOOL),
	C(jitter_r_min, K_OPT_DOUBLE),
	C(jitter_r_max, K_OPT_DOUBLE),
	C(r_steps, K_INT),
	C(r_pieces, K_INT),
	C(r_min, K_OPT_DOUBLE),
	C(r_max, K_OPT_DOUBLE),
	C(r_crop_min_index, K_INT),
	C(r_crop_max_index, K_INT),
	C(lon_steps, K_INT),
	C(lon_min, K_OPT_DOUBLE),
	C(lon_max, K_OPT_DOUBLE),
	C(jitter_lon, K_BOOL),
	C(jitter_lon_min, K_OPT_DOUBLE),
	C(jitter_lon_max, K_OPT_DOUBLE),
	C(lat_steps, K_INT),
	C(lat_min, K_OPT_DOUBLE),
	C(lat_max, K_OPT_DOUBLE),

	O(k, K_DOUBLE),
	O(h, K_DOUBLE),
	O(c, K_DOUBLE),
	O(L, K_DOUBLE),
	O(mw_He, K_DOUBLE),
	O(m_He, K_DOUBLE),
	O(abundance_He, K_DOUBLE),
	O(mw_H2, K_DOUBLE),
	O(m_H2, K_DOUBLE),
	O(mw_H, K_DOUBLE),
	O(m_H, K_DOUBLE),
	O(ortho_to_para_H2_ratio, K_DOUBLE),
	O(T_inf, K_OPT_DOUBLE),
	O(lon_pieces, K_INT),
	O(lat_pieces, K_INT),
	O(v_subsamples, K_OPT_INT),
	O(blur_inputs, K_BOOL),
	O(in_blur_kernel_r, K_INT),
	O(in_blur_kernel_lon, K_INT),
	O(in_blur_kernel_lat, K_INT),
	O(in_blur_sigma, K_DOUBLE),
	O(out_blur_fwhm, K_OPT_DOUBLE),
	O(noise_mean, K_OPT_DOUBLE),
	O(noise_sigma, K_OPT_DOUBLE),
	O(n_lines, K_OPT_INT),
	OS(chem_path, K_LINE_STRING),
	O(transition, K_LINE_PAIR),
	O(kappa_dust, K_LINE_DOUBLE),
	O(N_H_TOT_steps, K_LINE_INT),
	O(interpolation_max_N_H_TOT, K_LINE_DOUBLE),
	O(bolic_normalization, K_LINE_DOUBLE),
	O(abundance_H2_steps, K_LINE_INT),
	O(max_level_throughput_resolution, K_INT),
	O(T_steps, K_LINE_INT),
	O(interpolation_max_T, K_LINE_DOUBLE),
	O(T_continuum, K_OPT_DOUBLE),
	O(T_cmb, K_DOUBLE),
	OS(mode, K_STRING),

	V(v_min, K_OPT_DOUBLE),
	V(v_max, K_OPT_DOUBLE),
	V(v_steps, K_INT),
	VS(reduction, K_STRING),
};
#define NKEYS (sizeof keys / sizeof keys[0])

static const char *const sections[] = {
	"writer_hyper", "dataset_hyper", "coordinate_hyper", "observer_hyper", "cube_hyper",
	"training_hyper"
};
#define NSECTIONS (sizeof sections / sizeof sections[0])

/* IRIS's keys that no tool here uses, with IRIS's defaults (iris.hyper). */
static const struct carried_key {
	const char *section, *name, *default_json;
} carried_keys[CONFIG_CARRIED_KEYS] = {
	{ "writer_hyper", "_length_parsec_per_processing", "null" },
	{ "dataset_hyper", "_velocity_iris_per_processing", "null" },
	{ "dataset_hyper", "_density_iris_per_processing", "null" },
	{ "dataset_hyper", "_v_density_iris_per_processing", "null" },
	{ "dataset_hyper", "_temperature_iris_per_processing", "null" },
	{ "dataset_hyper", "_length_iris_per_SI", "null" },
	{ "dataset_hyper", "_length_iris_per_parsec", "null" },
	{ "dataset_hyper", "_time_iris_per_SI", "null" },
	{ "dataset_hyper", "_mass_iris_per_SI", "null" },
	{ "dataset_hyper", "_temperature_iris_per_SI", "null" },
	{ "cube_hyper", "data_path", "null" },
	{ "cube_hyper", "fits_map", "null" },
	{ "cube_hyper", "conversion_raw_to_T_K", "null" },
	{ "cube_hyper", "beam_efficiency", "null" },
	{ "cube_hyper", "clean_noise", "null" },
	{ "training_hyper", "validation_data_fraction", "0.2" },
	{ "training_hyper", "epochs", "32" },
	{ "training_hyper", "batch_size", "8" },
	{ "training_hyper", "batches_per_update", "16" },
	{ "training_hyper", "physical_loss", "null" },
	{ "training_hyper", "density_normalization", "1e-19" },
};

_Static_assert(NKEYS <= CONFIG_MAX_KEYS, "raise CONFIG_MAX_KEYS");

static int find_carried(const char *section, const char *name)
{
	for (int i = 0; i < CONFIG_CARRIED_KEYS; i++)
		if (!strcmp(carried_keys[i].section, section) && !strcmp(carried_keys[i].name, name))
			return i;
	return -1;
}

void config_defaults(struct arepo_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->seed = 0;

	struct writer_hyper *w = &cfg->writer_hyper;
	w->total_snapshots = 20;
	w->points_per_snapshot = 64;
	w->unit_calculation_sample_size = 4;
	w->length_cm_per_processing = 1e7;
	w->mass_g_per_processing = 1.0;
	w->velocity_cm_per_s_per_processing = 1e7;
	w->temperature_K_per_processing = 1.0;
	strcpy(w->tensor_compression, CODEC_DEFAULT);

	struct dataset_hyper *d = &cfg->dataset_hyper;
	d->meters_per_parsec = 3.08567758128e16;
	d->use_AREPO_abundances = 1;
	d->AREPO_H2_abundance_id = 0;
	d->AREPO_H_plus_abundance_id = 1;
	d->AREPO_CO_abundance_id = 2;
	d->iris_number_unit = 1e15;
	d->CMZ_scale_range = (struct opt_range){ 1, 0.25, 1.0 };

	struct coordinate_hyper *c = &cfg->coordinate_hyper;
	c->theta_zero = 0.0;
	c->spin_orientation = -1;
	c->observer_radius = 8277.0;
	c->r_steps = 512;
	c->r_pieces = 1;
	c->r_crop_min_index = 0;
	c->r_crop_max_index = 512;
	c->lon_steps = 512;
	c->lat_steps = 128;

	struct observer_hyper *o = &cfg->observer_hyper;
	o->k = 1.380649e-23;
	o->h = 6.626070e-34;
	o->c = 2.997925e8;
	o->L = 6.022141e23;
	o->mw_He = 4.002602;
	o->m_He = o->mw_He / o->L / 1000.;
	o->abundance_He = .1;
	o->mw_H2 = 2.01568;
	o->m_H2 = o->mw_H2 / o->L / 1000.;
	o->mw_H = 1.00784;
	o->m_H = o->mw_H / o->L / 1000.;
	o->ortho_to_para_H2_ratio = 3.;
	o->T_inf = (struct opt_double){ 1, 5e4 };
	o->lon_pieces = 8;
	o->lat_pieces = 4;
	o->blur_inputs = 1;
	o->in_blur_kernel_r = 3;
	o->in_blur_kernel_lon = 5;
	o->in_blur_kernel_lat = 3;
	o->in_blur_sigma = .33;
	o->max_level_throughput_resolution = 1LL << 30;
	o->T_continuum = (struct opt_double){ 1, 2.73 };
	o->T_cmb = 2.73;
	strcpy(o->mode, "optically thick");

	cfg->cube_hyper.v_steps = 512;
	for (int i = 0; i < CONFIG_CARRIED_KEYS; i++)
		strcpy(cfg->carried[i], carried_keys[i].default_json);
}

static const struct key_spec *find_key(const char *section, const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* JSON integers are exact; a real with no fraction (1.0) is not accepted as
 * an integer, as IRIS's type(x) == int would not accept it either. */
static int get_int(const json_t *v, long long *out)
{
	if (!json_is_integer(v))
		return -1;
	*out = json_integer_value(v);
	return 0;
}

/* An integer where a float is expected is accepted: it is exact. */
static int get_double(const json_t *v, double *out)
{
	if (!json_is_number(v))
		return -1;
	*out = json_number_value(v);
	return isfinite(*out) ? 0 : -1;
}

static int get_string(const json_t *v, char *out, size_t size)
{
	if (!json_is_string(v) || json_string_length(v) >= size)
		return -1;
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

/* A per-line list of one entry, or null. */
static int assign_line(const struct key_spec *k, void *field, const json_t *v)
{
	if (json_is_null(v)) {
		if (k->type == K_LINE_STRING)
			*(char *)field = '\0';
		else if (k->type == K_LINE_PAIR)
			((struct opt_pair *)field)->set = 0;
		else /* opt_int and opt_double both start with their flag */
			*(int *)field = 0;
		return 0;
	}
	if (!json_is_array(v) || json_array_size(v) != 1)
		return -1;
	const json_t *e = json_array_get(v, 0);
	switch (k->type) {
	case K_LINE_INT: {
		struct opt_int *o = field;
		return (o->set = !get_int(e, &o->value)) ? 0 : -1;
	}
	case K_LINE_DOUBLE: {
		struct opt_double *o = field;
		return (o->set = !get_double(e, &o->value)) ? 0 : -1;
	}
	case K_LINE_STRING:
		return get_string(e, field, k->size);
	default: {
		struct opt_pair *o = field;
		o->set = json_is_array(e) && json_array_size(e) == 2 &&
			 !get_int(json_array_get(e, 0), &o->first) &&
			 !get_int(json_array_get(e, 1), &o->second);
		return o->set ? 0 : -1;
	}
	}
}

static const char *type_words(enum key_type t)
{
	switch (t) {
	case K_INT: return "an integer";
	case K_OPT_INT: return "an integer or null";
	case K_DOUBLE: return "a number";
	case K_OPT_DOUBLE: return "a number or null";
	case K_BOOL: return "true or false";
	case K_OPT_RANGE: return "a list of two numbers, or null";
	case K_STRING: return "a string or null";
	case K_LINE_INT: return "a list of one integer (one line), or null";
	case K_LINE_DOUBLE: return "a list of one number (one line), or null";
	case K_LINE_STRING: return "a list of one string (one line), or null";
	case K_LINE_PAIR: return "a list of one [upper, lower] pair of integers (one line), or null";
	}
	return "?";
}

static int assign(struct arepo_config *cfg, const struct key_spec *k, const json_t *v,
		  const char *origin, struct arepo_err *err)
{
	void *field = (char *)cfg + k->offset;
	int bad = 0;
	switch (k->type) {
	case K_INT:
		bad = get_int(v, field);
		break;
	case K_OPT_INT: {
		struct opt_int *o = field;
		if (json_is_null(v))
			o->set = 0;
		else if (!(bad = get_int(v, &o->value)))
			o->set = 1;
		break;
	}
	case K_DOUBLE:
		bad = get_double(v, field);
		break;
	case K_OPT_DOUBLE: {
		struct opt_double *o = field;
		if (json_is_null(v))
			o->set = 0;
		else if (!(bad = get_double(v, &o->value)))
			o->set = 1;
		break;
	}
	case K_BOOL:
		if (json_is_boolean(v))
			*(int *)field = json_is_true(v);
		else
			bad = -1;
		break;
	case K_OPT_RANGE: {
		struct opt_range *o = field;
		if (json_is_null(v)) {
			o->set = 0;
		} else if (json_is_array(v) && json_array_size(v) == 2 &&
			   !get_double(json_array_get(v, 0), &o->low) &&
			   !get_double(json_array_get(v, 1), &o->high)) {
			o->set = 1;
		} else {
			bad = -1;
		}
		break;
	}
	case K_STRING:
		if (json_is_null(v))
			*(char *)field = '\0';
		else
			bad = get_string(v, field, k->size);
		break;
	case K_LINE_INT:
	case K_LINE_DOUBLE:
	case K_LINE_STRING:
	case K_LINE_PAIR:
		bad = assign_line(k, field, v);
		break;
	}
	if (bad)
		return err_set(err, EXIT_USAGE, "%s: %s.%s must be %s", origin,
			       k->section, k->name, type_words(k->type));
	return 0;
}

static int assign_seed(struct arepo_config *cfg, const json_t *v, const char *origin,
		       struct arepo_err *err)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return err_set(err, EXIT_USAGE, "%s: seed must be a non-negative integer", origin);
	cfg->seed = (uint64_t)json_integer_value(v);
	return 0;
}

/* Edit distance, for "did you mean". */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[128];
	if (lb >= sizeof row / sizeof row[0])
		return (size_t)-1;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* The known name nearest to "section.name" (or to a section, or a top-level
 * key when name is NULL), into out. */
static void nearest_key(const char *section, const char *name, char *out, size_t size)
{
	char want[300], cand[300];
	size_t best = (size_t)-1;
	snprintf(want, sizeof want, "%s%s%s", section, name ? "." : "", name ? name : "");
	*out = '\0';
#define CONSIDER(...) do { \
		snprintf(cand, sizeof cand, __VA_ARGS__); \
		size_t d = distance(want, cand); \
		if (d < best) { best = d; snprintf(out, size, "%s", cand); } \
	} while (0)
	if (!name) {
		CONSIDER("seed");
		for (size_t i = 0; i < NSECTIONS; i++)
			CONSIDER("%s", sections[i]);
		return;
	}
	for (size_t i = 0; i < NKEYS; i++)
		CONSIDER("%s.%s", keys[i].section, keys[i].name);
	for (size_t i = 0; i < CONFIG_CARRIED_KEYS; i++)
		CONSIDER("%s.%s", carried_keys[i].section, carried_keys[i].name);
#undef CONSIDER
}

static void note_origin(struct arepo_config *cfg, const struct key_spec *k, const char *origin,
			int is_set)
{
	char name[256];
	snprintf(name, sizeof name, "%s%s", is_set ? "--set " : "", origin);
	unsigned char at = 1;
	while (at < 8 && cfg->origins[at][0] && strcmp(cfg->origins[at], name))
		at++;
	if (at == 8) /* more sources than slots: the last slot stands for them */
		at = 7;
	if (!cfg->origins[at][0])
		memcpy(cfg->origins[at], name, sizeof name);
	cfg->origin[k - keys] = at;
}

/* One section.name = value; strict: an unknown key is an error. */
static int set_key(struct arepo_config *cfg, const char *section, const char *name,
		   const json_t *value, const char *origin, int is_set, int strict,
		   struct arepo_err *err)
{
	const char *where = is_set ? "--set" : origin;
	const struct key_spec *k = find_key(section, name);
	if (k) {
		int rc = assign(cfg, k, value, where, err);
		if (!rc)
			note_origin(cfg, k, origin, is_set);
		return rc;
	}
	int c = find_carried(section, name);
	if (c >= 0) {
		char *text = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(17));
		int fits = text && strlen(text) < CONFIG_CARRIED_SIZE;
		if (fits)
			strcpy(cfg->carried[c], text);
		free(text);
		if (!fits)
			return err_set(err, EXIT_USAGE, "%s: %s.%s: value too long (at most %d "
				       "characters)", where, section, name, CONFIG_CARRIED_SIZE - 1);
		return 0;
	}
	if (!strict)
		return 0;
	char near[300];
	nearest_key(section, name, near, sizeof near);
	if (is_set)
		return err_set(err, EXIT_USAGE, "--set %s: unknown key %s.%s (did you mean %s?)", origin,
			       section, name, near);
	return err_set(err, EXIT_USAGE, "%s: unknown key %s.%s (did you mean %s?)", origin, section,
		       name, near);
}

static int load_root(struct arepo_config *cfg, json_t *root, const char *origin, int strict,
		     struct arepo_err *err)
{
	if (!json_is_object(root))
		return err_set(err, EXIT_USAGE, "%s: the configuration must be a JSON object", origin);
	int rc;
	const char *top;
	json_t *obj;
	json_object_foreach(root, top, obj) {
		if (!strcmp(top, "seed")) {
			if ((rc = assign_seed(cfg, obj, origin, err)))
				return rc;
			continue;
		}
		size_t s = 0;
		while (s < NSECTIONS && strcmp(sections[s], top))
			s++;
		if (s == NSECTIONS) {
			if (!strict)
				continue;
			char near[300];
			nearest_key(top, NULL, near, sizeof near);
			return err_set(err, EXIT_USAGE, "%s: unknown %s %s (did you mean %s?)", origin,
				       json_is_object(obj) ? "section" : "key", top, near);
		}
		if (!json_is_object(obj))
			return err_set(err, EXIT_USAGE, "%s: %s must be an object", origin, top);
		const char *name;
		json_t *value;
		json_object_foreach(obj, name, value)
			if ((rc = set_key(cfg, top, name, value, origin, 0, strict, err)))
				return rc;
	}
	return 0;
}

int config_load_file(struct arepo_config *cfg, const char *path, struct arepo_err *err)
{
	struct stat st;
	if (stat(path, &st))
		return err_set(err, EXIT_USAGE, "%s: cannot read: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return err_set(err, EXIT_USAGE, "%s: cannot read: is a directory, not a configuration "
						"file", path);
	FILE *f = fopen(path, "r");
	if (!f)
		return err_set(err, EXIT_USAGE, "%s: cannot read: %s", path, strerror(errno));
	json_error_t jerr;
	json_t *root = json_loadf(f, JSON_DECODE_ANY, &jerr);
	int read_error = ferror(f);
	fclose(f);
	if (!root) {
		if (read_error)
			return err_set(err, EXIT_USAGE, "%s: cannot read: %s", path, strerror(EIO));
		return err_set(err, EXIT_USAGE, "%s:%d:%d: not valid JSON: %s", path, jerr.line,
			       jerr.column, jerr.text);
	}
	int rc = load_root(cfg, root, path, 1, err);
	json_decref(root);
	return rc;
}

int config_load_text(struct arepo_config *cfg, const char *text, const char *origin,
		     struct arepo_err *err)
{
	json_error_t jerr;
	json_t *root = json_loads(text ? text : "", JSON_DECODE_ANY, &jerr);
	if (!root)
		return err_set(err, EXIT_BADDATA, "%s: configuration is not valid JSON: %s", origin,
			       jerr.text);
	int rc = load_root(cfg, root, origin, 0, err);
	json_decref(root);
	return rc;
}

int config_set(struct arepo_config *cfg, const char *assignment, struct arepo_err *err)
{
	const char *eq = strchr(assignment, '=');
	if (!eq || eq == assignment)
		return err_set(err, EXIT_USAGE, "--set %s: expected section.key=value", assignment);
	char name[256];
	size_t len = (size_t)(eq - assignment);
	if (len >= sizeof name)
		return err_set(err, EXIT_USAGE, "--set: key too long");
	memcpy(name, assignment, len);
	name[len] = '\0';
	const char *text = eq + 1;

	json_error_t jerr;
	json_t *value = json_loads(text, JSON_DECODE_ANY, &jerr);
	if (!value)
		value = json_string(text);

	int rc;
	char *dot = strchr(name, '.');
	if (strcmp(name, "seed") == 0) {
		rc = assign_seed(cfg, value, "--set", err);
	} else if (!dot) {
		char near[300];
		nearest_key(name, NULL, near, sizeof near);
		rc = err_set(err, EXIT_USAGE, "--set %s: unknown key %s (did you mean %s?)", assignment,
			     name, near);
	} else {
		*dot = '\0';
		size_t s = 0;
		while (s < NSECTIONS && strcmp(sections[s], name))
			s++;
		if (s == NSECTIONS) {
			char near[300];
			nearest_key(name, dot + 1, near, sizeof near);
			rc = err_set(err, EXIT_USAGE, "--set %s: unknown key %s.%s (did you mean %s?)",
				     assignment, name, dot + 1, near);
		} else {
			rc = set_key(cfg, name, dot + 1, value, assignment, 1, 1, err);
		}
	}
	json_decref(value);
	return rc;
}

#define FAIL(...) return err_set(err, EXIT_USAGE, __VA_ARGS__)

static int check_range(const struct opt_range *r, const char *name, struct arepo_err *err)
{
	if (r->set && !(r->low > 0 && r->low < r->high))
		FAIL("dataset_hyper.%s must satisfy 0 < low < high (got [%g, %g])", name, r->low,
		     r->high);
	return 0;
}

static int check_jitter(int enabled, const struct opt_double *lo, const struct opt_double *hi,
			const char *name, struct arepo_err *err)
{
	if (enabled && !(lo->set && hi->set))
		FAIL("coordinate_hyper.jitter_%s is true but jitter_%s_min and jitter_%s_max are "
		     "not both set", name, name, name);
	if (lo->set != hi->set)
		FAIL("coordinate_hyper.jitter_%s_min and jitter_%s_max must both be set or both "
		     "be null", name, name);
	if (lo->set && !(lo->value < hi->value))
		FAIL("coordinate_hyper.jitter_%s_min must be less than jitter_%s_max", name, name);
	return 0;
}

static int check_bounds(const struct opt_double *lo, const struct opt_double *hi,
			double floor, double ceiling, const char *name, struct arepo_err *err)
{
	if (lo->set && !(lo->value >= floor))
		FAIL("coordinate_hyper.%s_min must be at least %g (got %g)", name, floor, lo->value);
	if (hi->set && !(hi->value <= ceiling))
		FAIL("coordinate_hyper.%s_max must be at most %g (got %g)", name, ceiling, hi->value);
	if (lo->set && hi->set && !(lo->value < hi->value))
		FAIL("coordinate_hyper.%s_min must be less than %s_max (got %g and %g)", name, name,
		     lo->value, hi->value);
	return 0;
}

static const char *const modes[][2] = {
	{ "optically thick", "thick" },
	{ "optically thin", "thin" },
	{ "selectively thin", "selthin" },
	{ "simple", "simple" },
};

const char *config_observe_mode(const char *name)
{
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
		if (strcmp(name, modes[i][0]) == 0 || strcmp(name, modes[i][1]) == 0)
			return modes[i][0];
	return NULL;
}

static int require_observation(const struct arepo_config *cfg, int need, struct arepo_err *err)
{
	const struct observer_hyper *o = &cfg->observer_hyper;
	const struct cube_hyper *v = &cfg->cube_hyper;
	const int cube = need & CONFIG_NEED_CUBE, line = need & CONFIG_NEED_LINE;
	const struct { int needed, set; const char *name; } keys[] = {
		{ line, o->v_subsamples.set, "observer_hyper.v_subsamples" },
		{ line, o->n_lines.set, "observer_hyper.n_lines" },
		{ line, o->chem_path[0] != '\0', "observer_hyper.chem_path" },
		{ line, o->transition.set, "observer_hyper.transition" },
		{ line, o->kappa_dust.set, "observer_hyper.kappa_dust" },
		{ line, o->N_H_TOT_steps.set, "observer_hyper.N_H_TOT_steps" },
		{ line, o->interpolation_max_N_H_TOT.set, "observer_hyper.interpolation_max_N_H_TOT" },
		{ line, o->bolic_normalization.set, "observer_hyper.bolic_normalization" },
		{ line, o->abundance_H2_steps.set, "observer_hyper.abundance_H2_steps" },
		{ line, o->T_steps.set, "observer_hyper.T_steps" },
		{ line, o->interpolation_max_T.set, "observer_hyper.interpolation_max_T" },
		{ cube, v->v_min.set, "cube_hyper.v_min" },
		{ cube, v->v_max.set, "cube_hyper.v_max" },
		{ cube, v->reduction[0] != '\0', "cube_hyper.reduction" },
	};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (keys[i].needed && !keys[i].set)
			FAIL("%s is null; the observation needs it (IRIS's defaults leave it to "
			     "the configuration; see the presets)", keys[i].name);
	if (cube && (!(v->v_min.value < v->v_max.value) || v->v_steps < 2))
		FAIL("cube_hyper.v_min must be less than v_max, and v_steps at least 2");
	if (cube && strcmp(v->reduction, "mean") && strcmp(v->reduction, "max"))
		FAIL("cube_hyper.reduction must be \"mean\" or \"max\" (got \"%s\")", v->reduction);
	if (o->in_blur_kernel_r <= 0 || o->in_blur_kernel_lon <= 0 || o->in_blur_kernel_lat <= 0)
		FAIL("observer_hyper.in_blur_kernel_r, _lon and _lat must be positive");
	if (!(o->in_blur_sigma > 0))
		FAIL("observer_hyper.in_blur_sigma must be positive");
	if (o->out_blur_fwhm.set && !(o->out_blur_fwhm.value > 0))
		FAIL("observer_hyper.out_blur_fwhm must be positive, or null for no beam");
	if (!line)
		return 0;
	if (o->v_subsamples.value < 0)
		FAIL("observer_hyper.v_subsamples must not be negative");
	if (o->n_lines.value != 1)
		FAIL("observer_hyper.n_lines is %lld; these tools observe one line (n_lines = 1, "
		     "as every IRIS preset)", o->n_lines.value);
	if (o->transition.first < 0 || o->transition.second < 0 ||
	    o->transition.first == o->transition.second)
		FAIL("observer_hyper.transition must be two different non-negative levels");
	if (!(o->kappa_dust.value >= 0))
		FAIL("observer_hyper.kappa_dust must not be negative");
	if (o->N_H_TOT_steps.value < 2 || o->abundance_H2_steps.value < 2 || o->T_steps.value < 2)
		FAIL("observer_hyper.N_H_TOT_steps, abundance_H2_steps and T_steps must be at least 2");
	if (!(o->interpolation_max_N_H_TOT.value > 0) || !(o->bolic_normalization.value > 0) ||
	    !(o->interpolation_max_T.value > 0))
		FAIL("observer_hyper.interpolation_max_N_H_TOT, bolic_normalization and "
		     "interpolation_max_T must be positive");
	if (o->T_continuum.set && !(o->T_continuum.value > 0))
		FAIL("observer_hyper.T_continuum must be positive or null");
	if (!(o->T_cmb >= 0))
		FAIL("observer_hyper.T_cmb must not be negative");
	return 0;
}

static int validate_rules(const struct arepo_config *cfg, struct arepo_err *err)
{
	const struct writer_hyper *w = &cfg->writer_hyper;
	const struct dataset_hyper *d = &cfg->dataset_hyper;
	const struct coordinate_hyper *c = &cfg->coordinate_hyper;
	const struct observer_hyper *o = &cfg->observer_hyper;
	int rc;

	if (w->total_snapshots <= 0)
		FAIL("writer_hyper.total_snapshots must be positive");
	if (w->min_snapshot_index.set && w->max_snapshot_index.set &&
	    w->min_snapshot_index.value > w->max_snapshot_index.value)
		FAIL("writer_hyper.min_snapshot_index must not exceed max_snapshot_index");
	if (w->points_per_snapshot <= 0)
		FAIL("writer_hyper.points_per_snapshot must be positive");
	if (w->unit_calculation_sample_size <= 0)
		FAIL("writer_hyper.unit_calculation_sample_size must be positive");
	if (!(w->length_cm_per_processing > 0))
		FAIL("writer_hyper.length_cm_per_processing must be positive");
	if (!(w->mass_g_per_processing > 0))
		FAIL("writer_hyper.mass_g_per_processing must be positive");
	if (!(w->velocity_cm_per_s_per_processing > 0))
		FAIL("writer_hyper.velocity_cm_per_s_per_processing must be positive");
	if (!(w->temperature_K_per_processing > 0))
		FAIL("writer_hyper.temperature_K_per_processing must be positive");
	struct codec codec;
	if (codec_parse(w->tensor_compression, &codec))
		FAIL("writer_hyper.tensor_compression \"%s\": " CODEC_EXPECTED, w->tensor_compression);

	if (!(d->meters_per_parsec > 0))
		FAIL("dataset_hyper.meters_per_parsec must be positive");
	if (d->use_AREPO_abundances) {
		long long h2 = d->AREPO_H2_abundance_id, hp = d->AREPO_H_plus_abundance_id,
			  co = d->AREPO_CO_abundance_id;
		if (h2 < 0 || hp < 0 || co < 0)
			FAIL("dataset_hyper.AREPO_*_abundance_id must not be negative");
		if (h2 == hp || h2 == co || hp == co)
			FAIL("dataset_hyper.AREPO_H2_abundance_id, AREPO_H_plus_abundance_id and "
			     "AREPO_CO_abundance_id must differ");
	}
	if (!(d->iris_number_unit > 0))
		FAIL("dataset_hyper.iris_number_unit must be positive");
	if (d->CMZ_scale_factor.set && !(d->CMZ_scale_factor.value > 0))
		FAIL("dataset_hyper.CMZ_scale_factor must be positive");
	if (d->CMZ_skew_factor.set && !(d->CMZ_skew_factor.value > 0))
		FAIL("dataset_hyper.CMZ_skew_factor must be positive");
	if (d->CMZ_density_factor.set && !(d->CMZ_density_factor.value > 0))
		FAIL("dataset_hyper.CMZ_density_factor must be positive");
	if ((rc = check_range(&d->CMZ_scale_range, "CMZ_scale_range", err)) ||
	    (rc = check_range(&d->CMZ_skew_range, "CMZ_skew_range", err)) ||
	    (rc = check_range(&d->CMZ_density_range, "CMZ_density_range", err)))
		return rc;
	if (d->default_dust_temperature.set && !(d->default_dust_temperature.value >= 0))
		FAIL("dataset_hyper.default_dust_temperature must not be negative");

	if (!(c->theta_zero >= 0 && c->theta_zero < 360))
		FAIL("coordinate_hyper.theta_zero must lie in [0, 360) degrees");
	if (c->spin_orientation != 1 && c->spin_orientation != -1)
		FAIL("coordinate_hyper.spin_orientation must be 1 or -1 (got %lld)",
		     c->spin_orientation);
	if (!(c->observer_radius > 0))
		FAIL("coordinate_hyper.observer_radius must be positive");
	if ((rc = check_jitter(c->jitter_r, &c->jitter_r_min, &c->jitter_r_max, "r", err)) ||
	    (rc = check_jitter(c->jitter_lon, &c->jitter_lon_min, &c->jitter_lon_max, "lon", err)))
		return rc;
	if (c->r_steps <= 0 || c->lon_steps <= 0 || c->lat_steps <= 0)
		FAIL("coordinate_hyper.r_steps, lon_steps and lat_steps must be positive");
	if (c->r_pieces <= 0 || c->r_pieces > c->r_steps)
		FAIL("coordinate_hyper.r_pieces must lie in [1, r_steps]");
	if (c->r_min.set && !(c->r_min.value > 0))
		FAIL("coordinate_hyper.r_min must be positive");
	if ((rc = check_bounds(&c->r_min, &c->r_max, 0, INFINITY, "r", err)) ||
	    (rc = check_bounds(&c->lon_min, &c->lon_max, -180, 180, "lon", err)) ||
	    (rc = check_bounds(&c->lat_min, &c->lat_max, -90, 90, "lat", err)))
		return rc;
	if (c->r_crop_min_index < 0 || c->r_crop_min_index >= c->r_steps)
		FAIL("coordinate_hyper.r_crop_min_index must lie in [0, r_steps)");
	if (c->r_crop_max_index <= c->r_crop_min_index || c->r_crop_max_index > c->r_steps)
		FAIL("coordinate_hyper.r_crop_max_index must lie in (r_crop_min_index, r_steps]");

	if (!(o->k > 0) || !(o->h > 0) || !(o->c > 0) || !(o->L > 0))
		FAIL("observer_hyper.k, h, c and L must be positive");
	if (!(o->mw_He > 0) || !(o->mw_H2 > 0) || !(o->mw_H > 0))
		FAIL("observer_hyper.mw_He, mw_H2 and mw_H must be positive");
	if (!(o->m_He > 0) || !(o->m_H2 > 0) || !(o->m_H > 0))
		FAIL("observer_hyper.m_He, m_H2 and m_H must be positive");
	if (!(o->abundance_He >= 0))
		FAIL("observer_hyper.abundance_He must not be negative");
	if (o->T_inf.set && !(o->T_inf.value > 0))
		FAIL("observer_hyper.T_inf must be positive or null");
	if (o->lon_pieces <= 0 || o->lat_pieces <= 0)
		FAIL("observer_hyper.lon_pieces and lat_pieces must be positive");
	if (!config_observe_mode(o->mode))
		FAIL("observer_hyper.mode must be \"optically thick\", \"optically thin\", "
		     "\"selectively thin\" or \"simple\" (got \"%s\")", o->mode);
	return 0;
}

/* Prefixes a rule's message with where the first key it names was set. */
static int with_origin(const struct arepo_config *cfg, int rc, struct arepo_err *err)
{
	if (!rc || !err)
		return rc;
	const char *first = NULL;
	size_t at = 0;
	for (size_t i = 0; i < NKEYS; i++) {
		char full[300];
		snprintf(full, sizeof full, "%s.%s", keys[i].section, keys[i].name);
		const char *hit = strstr(err->msg, full);
		if (hit && cfg->origin[i] && cfg->origins[cfg->origin[i]][0] && (!first || hit < first)) {
			first = hit;
			at = i;
		}
	}
	if (!first)
		return rc;
	char msg[sizeof err->msg + 300];
	int n = snprintf(msg, sizeof msg, "%s: %s", cfg->origins[cfg->origin[at]], err->msg);
	if (n > 0 && (size_t)n >= sizeof err->msg)
		msg[sizeof err->msg - 1] = '\0';
	memcpy(err->msg, msg, sizeof err->msg);
	return rc;
}

int config_validate(const struct arepo_config *cfg, struct arepo_err *err)
{
	return with_origin(cfg, validate_rules(cfg, err), err);
}

static int require_grid(const struct arepo_config *cfg, struct arepo_err *err)
{
	const struct coordinate_hyper *c = &cfg->coordinate_hyper;
	const struct { const struct opt_double *v; const char *name; } need[] = {
		{ &c->r_min, "r_min" }, { &c->r_max, "r_max" }, { &c->lon_min, "lon_min" },
		{ &c->lon_max, "lon_max" }, { &c->lat_min, "lat_min" }, { &c->lat_max, "lat_max" },
	};
	for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
		if (!need[i].v->set)
			FAIL("coordinate_hyper.%s is not set (IRIS leaves the grid bounds to the "
			     "configuration; see the presets)", need[i].name);
	return 0;
}

int config_require_grid(const struct arepo_config *cfg, struct arepo_err *err)
{
	return with_origin(cfg, require_grid(cfg, err), err);
}

int config_require_observation(const struct arepo_config *cfg, int need, struct arepo_err *err)
{
	return with_origin(cfg, require_observation(cfg, need, err), err);
}

static json_t *key_to_json(const struct arepo_config *cfg, const struct key_spec *k)
{
	const void *field = (const char *)cfg + k->offset;
	switch (k->type) {
	case K_INT:
		return json_integer(*(const long long *)field);
	case K_OPT_INT: {
		const struct opt_int *o = field;
		return o->set ? json_integer(o->value) : json_null();
	}
	case K_DOUBLE:
		return json_real(*(const double *)field);
	case K_OPT_DOUBLE: {
		const struct opt_double *o = field;
		return o->set ? json_real(o->value) : json_null();
	}
	case K_BOOL:
		return json_boolean(*(const int *)field);
	case K_OPT_RANGE: {
		const struct opt_range *o = field;
		return o->set ? json_pack("[ff]", o->low, o->high) : json_null();
	}
	case K_STRING:
		return *(const char *)field ? json_string(field) : json_null();
	case K_LINE_INT: {
		const struct opt_int *o = field;
		return o->set ? json_pack("[I]", (json_int_t)o->value) : json_null();
	}
	case K_LINE_DOUBLE: {
		const struct opt_double *o = field;
		return o->set ? json_pack("[f]", o->value) : json_null();
	}
	case K_LINE_STRING:
		return *(const char *)field ? json_pack("[s]", (const char *)field) : json_null();
	case K_LINE_PAIR: {
		const struct opt_pair *o = field;
		return o->set ? json_pack("[[II]]", (json_int_t)o->first, (json_int_t)o->second)
			      : json_null();
	}
	}
	return json_null();
}

char *config_to_json(const struct arepo_config *cfg)
{
	json_t *root = json_object();
	json_object_set_new(root, "seed", json_integer((json_int_t)cfg->seed));
	for (size_t s = 0; s < sizeof sections / sizeof sections[0]; s++)
		json_object_set_new(root, sections[s], json_object());
	for (size_t i = 0; i < NKEYS; i++)
		json_object_set_new(json_object_get(root, keys[i].section), keys[i].name,
				    key_to_json(cfg, &keys[i]));
	for (size_t i = 0; i < CONFIG_CARRIED_KEYS; i++) {
		json_t *v = json_loads(cfg->carried[i], JSON_DECODE_ANY, NULL);
		json_object_set_new(json_object_get(root, carried_keys[i].section), carried_keys[i].name,
				    v ? v : json_null());
	}
	/* 17 significant digits: every double reads back exactly. */
	char *text = json_dumps(root, JSON_INDENT(4) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
	json_decref(root);
	return text;
}

double config_parsec_per_processing(const struct arepo_config *cfg)
{
	return cfg->writer_hyper.length_cm_per_processing /
	       (100 * cfg->dataset_hyper.meters_per_parsec);
}
