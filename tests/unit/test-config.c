/* Unit tests of the configuration: IRIS's hyper.json, presets, types,
 * --set, validation, and the JSON written back for provenance. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "tap.h"

static char scratch_dir[] = "/tmp/arepo-test-config-XXXXXX";

/* Writes text to a scratch file and loads it over the defaults. */
static int load_text(const char *text, struct arepo_config *cfg, struct arepo_err *err)
{
	char path[256];
	snprintf(path, sizeof path, "%s/c.json", scratch_dir);
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	config_defaults(cfg);
	memset(err, 0, sizeof *err);
	return config_load_file(cfg, path, err);
}

static int same_json(const struct arepo_config *a, const struct arepo_config *b)
{
	char *ja = config_to_json(a), *jb = config_to_json(b);
	int same = strcmp(ja, jb) == 0;
	free(ja);
	free(jb);
	return same;
}

static void expect_load_error(const char *text, const char *key)
{
	struct arepo_config cfg;
	struct arepo_err err;
	int rc = load_text(text, &cfg, &err);
	is_int(rc, EXIT_USAGE, "%s is a usage error", text);
	contains(err.msg, key, "the message names %s", key);
}

static void expect_set_error(const char *assignment, const char *key)
{
	struct arepo_config cfg;
	struct arepo_err err = { 0 };
	config_defaults(&cfg);
	is_int(config_set(&cfg, assignment, &err), EXIT_USAGE, "--set %s is refused", assignment);
	contains(err.msg, key, "the message names %s", key);
}

static void expect_invalid(const char *assignment, const char *key)
{
	struct arepo_config cfg;
	struct arepo_err err = { 0 };
	config_defaults(&cfg);
	int rc = config_set(&cfg, assignment, &err);
	is_int(rc, 0, "--set %s parses", assignment);
	is_int(config_validate(&cfg, &err), EXIT_USAGE, "%s fails validation", assignment);
	contains(err.msg, key, "the message names %s", key);
}

int main(void)
{
	if (!mkdtemp(scratch_dir)) {
		printf("Bail out! cannot make a scratch directory\n");
		return 1;
	}
	struct arepo_config def, cfg;
	struct arepo_err err = { 0 };
	config_defaults(&def);
	is_int(config_validate(&def, &err), 0, "IRIS's defaults validate");
	ok(config_require_grid(&def, &err) == EXIT_USAGE && strstr(err.msg, "coordinate_hyper.r_min"),
	   "IRIS's defaults leave the grid bounds unset, and the error says which");

	/* A hyper.json as IRIS's Hyper.to_json writes it for Hyper(). */
	config_defaults(&cfg);
	is_int(config_load_file(&cfg, "tests/fixtures/iris-hyper.json", &err), 0,
	       "IRIS's hyper.json loads (%s)", err.msg);
	ok(same_json(&cfg, &def), "IRIS's hyper.json gives exactly our defaults");
	is_double(cfg.observer_hyper.m_He, 4.002602 / 6.022141e23 / 1000., "m_He as IRIS computes it");
	is_double(cfg.observer_hyper.T_inf.value, 5e4, "T_inf 5e4 K");
	ok(cfg.dataset_hyper.CMZ_scale_range.set && cfg.dataset_hyper.CMZ_scale_range.low == 0.25 &&
	   cfg.dataset_hyper.CMZ_scale_range.high == 1.0, "CMZ_scale_range [0.25, 1]");
	ok(!cfg.coordinate_hyper.r_min.set && !cfg.writer_hyper.min_snapshot_index.set,
	   "null keys are unset");

	/* Presets. */
	config_defaults(&cfg);
	is_int(config_load_file(&cfg, "pipelines/presets/sedigism-13co.json", &err), 0,
	       "the SEDIGISM preset loads");
	is_int(config_validate(&cfg, &err), 0, "the SEDIGISM preset validates");
	is_int(config_require_grid(&cfg, &err), 0, "the SEDIGISM preset sets the grid");
	const struct coordinate_hyper *c = &cfg.coordinate_hyper;
	ok(c->r_min.value == 8052 && c->r_max.value == 8502 && c->r_steps == 512,
	   "SEDIGISM r 8052-8502 pc in 512 steps");
	ok(c->lon_min.value == -1.5 && c->lon_max.value == 1.5 && c->lon_steps == 512,
	   "SEDIGISM lon +-1.5 deg in 512 steps");
	ok(c->lat_min.value == -0.375 && c->lat_max.value == 0.375 && c->lat_steps == 128,
	   "SEDIGISM lat +-0.375 deg in 128 steps");
	ok(c->observer_radius == 8277 && c->spin_orientation == -1, "observer at 8277 pc, spin -1");
	config_defaults(&cfg);
	is_int(config_load_file(&cfg, "pipelines/presets/tiny.json", &err), 0, "the tiny preset loads");
	ok(config_validate(&cfg, &err) == 0 && config_require_grid(&cfg, &err) == 0,
	   "the tiny preset validates and sets the grid");

	/* Types. */
	expect_load_error("{\"coordinate_hyper\": {\"r_steps\": \"512\"}}", "coordinate_hyper.r_steps");
	expect_load_error("{\"coordinate_hyper\": {\"r_steps\": 512.0}}", "coordinate_hyper.r_steps");
	expect_load_error("{\"dataset_hyper\": {\"CMZ_scale_range\": [0.25]}}", "dataset_hyper.CMZ_scale_range");
	expect_load_error("{\"dataset_hyper\": {\"use_AREPO_abundances\": 1}}", "dataset_hyper.use_AREPO_abundances");
	expect_load_error("{\"observer_hyper\": {\"T_inf\": \"hot\"}}", "observer_hyper.T_inf");
	expect_load_error("{\"coordinate_hyper\": 5}", "coordinate_hyper");
	expect_load_error("{\"seed\": -1}", "seed");
	expect_load_error("[1, 2]", "object");
	expect_load_error("{\"coordinate_hyper\": {\"r_steps\": 5,}}", "c.json:1:");
	/* Rule errors say where the offending key was set. */
	{
		struct arepo_config c;
		struct arepo_err e = { 0 };
		load_text("{\"coordinate_hyper\": {\"spin_orientation\": 2}}", &c, &e);
		is_int(config_validate(&c, &e), EXIT_USAGE, "a rule broken in a file is a usage error");
		contains(e.msg, "c.json: coordinate_hyper.spin_orientation", "and the message names the file");
	}
	{
		struct arepo_config c;
		struct arepo_err e = { 0 };
		config_defaults(&c);
		config_set(&c, "coordinate_hyper.spin_orientation=3", &e);
		is_int(config_validate(&c, &e), EXIT_USAGE, "a rule broken by --set is a usage error");
		contains(e.msg, "--set coordinate_hyper.spin_orientation=3: coordinate_hyper.spin_orientation",
			 "and the message names the --set");
	}
	/* Typos are errors naming the nearest known key; IRIS's keys that no
	 * tool uses are accepted and carried. */
	expect_load_error("{\"coordinate_hyper\": {\"r_step\": 512}}",
			  "unknown key coordinate_hyper.r_step (did you mean coordinate_hyper.r_steps?)");
	expect_load_error("{\"writer_hyper\": {\"point_per_snapshot\": 4}}",
			  "did you mean writer_hyper.points_per_snapshot?");
	expect_load_error("{\"seeed\": 4}", "unknown key seeed (did you mean seed?)");
	expect_load_error("{\"bogus_hyper\": {\"x\": 1}}", "unknown section bogus_hyper");
	ok(load_text("{\"training_hyper\": {\"epochs\": 64}, \"cube_hyper\": {\"data_path\": \"a b\"}, "
		     "\"coordinate_hyper\": {\"observer_radius\": 8000}}", &cfg, &err) == 0,
	   "IRIS's keys that no tool uses are accepted");
	is_double(cfg.coordinate_hyper.observer_radius, 8000.0, "an integer is accepted for a float key");
	{
		char *json = config_to_json(&cfg);
		contains(json, "\"epochs\": 64", "a carried key is written back with its value");
		contains(json, "\"data_path\": \"a b\"", "a carried string too");
		contains(json, "\"validation_data_fraction\": 0.20000000000000001",
			 "a carried key not given keeps IRIS's default");
		free(json);
	}
	config_defaults(&cfg);
	is_int(config_load_file(&cfg, "/nonexistent/hyper.json", &err), EXIT_USAGE,
	       "a missing configuration file is a usage error");
	contains(err.msg, "/nonexistent/hyper.json", "and the message names it");

	/* --set. */
	config_defaults(&cfg);
	ok(config_set(&cfg, "coordinate_hyper.r_steps=64", &err) == 0 && cfg.coordinate_hyper.r_steps == 64,
	   "--set an integer");
	ok(config_set(&cfg, "seed=42", &err) == 0 && cfg.seed == 42, "--set seed");
	ok(config_set(&cfg, "dataset_hyper.CMZ_scale_range=null", &err) == 0 &&
	   !cfg.dataset_hyper.CMZ_scale_range.set, "--set a range to null");
	ok(config_set(&cfg, "dataset_hyper.CMZ_density_range=[0.5,2]", &err) == 0 &&
	   cfg.dataset_hyper.CMZ_density_range.high == 2, "--set a range");
	ok(config_set(&cfg, "coordinate_hyper.jitter_lon=true", &err) == 0 && cfg.coordinate_hyper.jitter_lon,
	   "--set a boolean");
	expect_set_error("coordinate_hyper.nope=1", "coordinate_hyper.nope");
	expect_set_error("nosection=1", "nosection");
	expect_set_error("coordinate_hyper.r_steps=abc", "coordinate_hyper.r_steps");
	expect_set_error("coordinate_hyper.r_steps", "section.key=value");

	/* Validation, IRIS's rules. */
	expect_invalid("coordinate_hyper.spin_orientation=0", "spin_orientation");
	expect_invalid("coordinate_hyper.r_min=-5", "r_min");
	expect_invalid("coordinate_hyper.jitter_r=true", "jitter_r");
	expect_invalid("dataset_hyper.CMZ_scale_range=[1,0.5]", "CMZ_scale_range");
	expect_invalid("coordinate_hyper.theta_zero=360", "theta_zero");
	expect_invalid("dataset_hyper.AREPO_CO_abundance_id=0", "abundance_id");
	expect_invalid("observer_hyper.T_inf=-1", "T_inf");
	expect_invalid("coordinate_hyper.lat_max=91", "lat_max");
	expect_invalid("coordinate_hyper.r_crop_max_index=513", "r_crop_max_index");
	expect_invalid("observer_hyper.m_H=0", "m_H");
	expect_invalid("writer_hyper.length_cm_per_processing=0", "length_cm_per_processing");
	expect_invalid("dataset_hyper.default_dust_temperature=-3", "default_dust_temperature");
	config_defaults(&cfg);
	config_set(&cfg, "coordinate_hyper.r_min=9000", &err);
	config_set(&cfg, "coordinate_hyper.r_max=8502", &err);
	is_int(config_validate(&cfg, &err), EXIT_USAGE, "r_min above r_max fails validation");
	contains(err.msg, "r_min must be less than r_max", "and the message says so");
	config_defaults(&cfg);
	config_set(&cfg, "coordinate_hyper.r_max=8502", &err);
	is_int(config_validate(&cfg, &err), 0, "r_max alone (r_min null) is valid, as in IRIS");

	/* Provenance JSON reads back to the same configuration. */
	config_defaults(&cfg);
	config_set(&cfg, "seed=7", &err);
	config_set(&cfg, "coordinate_hyper.r_min=8052.123456789012", &err);
	config_set(&cfg, "observer_hyper.T_inf=null", &err);
	config_set(&cfg, "writer_hyper.min_snapshot_index=3", &err);
	char *text = config_to_json(&cfg);
	struct arepo_config back;
	char path[256];
	snprintf(path, sizeof path, "%s/back.json", scratch_dir);
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	config_defaults(&back);
	ok(config_load_file(&back, path, &err) == 0 && same_json(&back, &cfg),
	   "config_to_json reads back exactly");
	is_double(back.coordinate_hyper.r_min.value, 8052.123456789012, "doubles survive the round trip");
	free(text);
	unlink(path);

	is_double(config_parsec_per_processing(&def), 1e7 / (100 * 3.08567758128e16),
		  "parsec per processing unit as IRIS computes it");

	snprintf(path, sizeof path, "%s/c.json", scratch_dir);
	unlink(path);
	rmdir(scratch_dir);
	return tap_done();
}
