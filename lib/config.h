/* The configuration every tool reads: JSON key-compatible with IRIS's
 * hyper.json (sections writer_hyper, dataset_hyper, coordinate_hyper,
 * observer_hyper, cube_hyper), IRIS's defaults, --config FILE and --set overrides. */
#ifndef AREPO_CONFIG_H
#define AREPO_CONFIG_H

#include <stdint.h>

#include "log.h"

/* A value IRIS allows to be None (JSON null). */
struct opt_double { int set; double value; };
struct opt_int { int set; long long value; };
/* A [low, high] pair that may be null. */
struct opt_range { int set; double low, high; };

struct writer_hyper {
	long long total_snapshots;
	struct opt_int min_snapshot_index;
	struct opt_int max_snapshot_index;
	long long points_per_snapshot;
	long long unit_calculation_sample_size;
	double length_cm_per_processing;
	double mass_g_per_processing;
	double velocity_cm_per_s_per_processing;
	double temperature_K_per_processing;
	/* Not in IRIS: the codec of tensor chunks (h5filter.h), e.g. "zstd:1". */
	char tensor_compression[16];
};

struct dataset_hyper {
	double meters_per_parsec;
	int use_AREPO_abundances;
	long long AREPO_H2_abundance_id;
	long long AREPO_H_plus_abundance_id;
	long long AREPO_CO_abundance_id;
	double iris_number_unit;
	struct opt_double CMZ_scale_factor;
	struct opt_range CMZ_scale_range;
	struct opt_double CMZ_skew_factor;
	struct opt_range CMZ_skew_range;
	struct opt_double CMZ_density_factor;
	struct opt_range CMZ_density_range;
	/* Not in IRIS: dust temperature (K) for snapshots without
	 * DustTemperature, e.g. AREPO runs without SGChem. */
	struct opt_double default_dust_temperature;
};

struct coordinate_hyper {
	double theta_zero; /* degrees */
	long long spin_orientation;
	double observer_radius; /* parsec */
	int jitter_r;
	struct opt_double jitter_r_min, jitter_r_max;
	long long r_steps;
	long long r_pieces;
	struct opt_double r_min, r_max; /* parsec from the observer */
	long long r_crop_min_index, r_crop_max_index;
	long long lon_steps;
	struct opt_double lon_min, lon_max; /* degrees */
	int jitter_lon;
	struct opt_double jitter_lon_min, jitter_lon_max;
	long long lat_steps;
	struct opt_double lat_min, lat_max; /* degrees */
};

/* IRIS's per-line lists (chem_path, transition, kappa_dust, the grid sizes)
 * hold one entry per line; the tools support n_lines = 1, the only line any
 * IRIS preset observes, and keep that entry. IRIS's defaults leave most of
 * the observation's keys null (the presets set them): a string key that is
 * null is "". */
struct opt_pair { int set; long long first, second; };

struct observer_hyper {
	double k, h, c, L;
	double mw_He, m_He, abundance_He;
	double mw_H2, m_H2, mw_H, m_H;
	double ortho_to_para_H2_ratio;
	struct opt_double T_inf; /* K; null: no ceiling */
	/* The synthetic observation (arepo-observe). */
	long long lon_pieces, lat_pieces; /* IRIS's ray batches (no effect on values) */
	struct opt_int v_subsamples;
	int blur_inputs;
	long long in_blur_kernel_r, in_blur_kernel_lon, in_blur_kernel_lat;
	double in_blur_sigma;
	struct opt_double out_blur_fwhm; /* arcsec */
	struct opt_double noise_mean, noise_sigma; /* training time only */
	struct opt_int n_lines;
	char chem_path[4096];        /* LAMDA molecular data file */
	struct opt_pair transition;  /* (upper, lower), 0-based levels */
	struct opt_double kappa_dust; /* m^2 per kg of gas */
	struct opt_int N_H_TOT_steps, abundance_H2_steps, T_steps;
	struct opt_double interpolation_max_N_H_TOT, bolic_normalization, interpolation_max_T;
	long long max_level_throughput_resolution;
	struct opt_double T_continuum; /* K; null: no radiation field in the level balance */
	double T_cmb;
	/* Not in IRIS (there a Writer argument): the observing mode,
	 * "optically thick", "optically thin", "selectively thin" or "simple". */
	char mode[32];
};

/* IRIS's cube_hyper: the velocity axis of the observation. */
struct cube_hyper {
	struct opt_double v_min, v_max; /* km/s */
	long long v_steps;
	char reduction[16];  /* "mean" or "max" over latitude */
};

/* Keys IRIS defines that these tools do not use: carried through as JSON
 * text (loaded, written back, exported), never interpreted. */
#define CONFIG_CARRIED_KEYS 21
#define CONFIG_CARRIED_SIZE 256
/* Room for the origin of every key (config.c checks the table fits). */
#define CONFIG_MAX_KEYS 128

struct arepo_config {
	uint64_t seed;
	struct writer_hyper writer_hyper;
	struct dataset_hyper dataset_hyper;
	struct coordinate_hyper coordinate_hyper;
	struct observer_hyper observer_hyper;
	struct cube_hyper cube_hyper;
	char carried[CONFIG_CARRIED_KEYS][CONFIG_CARRIED_SIZE];
	/* Where each key's value came from, for error messages: an index
	 * into origins (0: the default), a file's path or "--set A=V". */
	unsigned char origin[CONFIG_MAX_KEYS];
	char origins[8][256];
};

/* IRIS's defaults (iris.hyper.Hyper), seed 0. */
void config_defaults(struct arepo_config *cfg);

/* Reads FILE over cfg: keys it names replace cfg's values. A key or section
 * that neither these tools nor IRIS define (a typo) is an error naming the
 * nearest known key, as is a known key of the wrong type. */
int config_load_file(struct arepo_config *cfg, const char *path, struct arepo_err *err);
/* The same from a JSON text (the configuration an output file records);
 * keys unknown here are passed over (a file written by another version). */
int config_load_text(struct arepo_config *cfg, const char *text, const char *origin,
		     struct arepo_err *err);
/* Applies one "section.key=value" (or "seed=value"); value is JSON, or a
 * bare word taken as a string. Unknown keys are errors here. */
int config_set(struct arepo_config *cfg, const char *assignment, struct arepo_err *err);
/* IRIS's consistency rules (Hyper.validate) for the keys we use; an error
 * names where the offending key was set (file or --set). */
int config_validate(const struct arepo_config *cfg, struct arepo_err *err);
/* Errors unless the grid bounds (r, lon, lat min and max) are all set. */
int config_require_grid(const struct arepo_config *cfg, struct arepo_err *err);

/* The effective configuration as a JSON text, every key IRIS writes
 * included, for the provenance attributes of output files and IRIS's
 * hyper.json. The caller frees it. */
char *config_to_json(const struct arepo_config *cfg);

/* Errors unless every key the observation needs is set and sane (IRIS's
 * defaults leave them null; the presets set them): need is a set of */
enum {
	CONFIG_NEED_CUBE = 1, /* cube_hyper: the velocity axis and reduction */
	CONFIG_NEED_LINE = 2  /* the line, its grids and the transfer */
};
int config_require_observation(const struct arepo_config *cfg, int need, struct arepo_err *err);

/* IRIS's name of an observing mode given by it or by its short name
 * (thick, thin, selthin, simple); NULL if unknown. */
const char *config_observe_mode(const char *name);

/* Parsec per processing length unit (IRIS's _length_parsec_per_processing). */
double config_parsec_per_processing(const struct arepo_config *cfg);

#endif
