/* Datasets (format "arepo-dataset/1"): a directory with dataset.h5 (catalog,
 * shuffle, units, configuration, and "physical" as a virtual dataset over
 * the tensor files, or "columnized" and "observed" over observed files) and
 * tensors/, the entries' files (see arepo-dataset(5)). */
#ifndef AREPO_DATASET_H
#define AREPO_DATASET_H

#include <limits.h>
#include <stdint.h>
#include <stddef.h>

#include "log.h"
#include "view.h"

#define DATASET_FORMAT "arepo-dataset/1"
#define DATASET_FILE "dataset.h5"
#define DATASET_TENSORS "tensors"

/* IRIS's units (dataset_hyper._*_iris_per_SI): how many IRIS units make one
 * SI unit. */
struct iris_units {
	double length_per_SI, time_per_SI, mass_per_SI, temperature_per_SI;
};

/* The processing units of a tensor (writer_hyper.*_per_processing). */
struct processing_units {
	double length_cm, mass_g, velocity_cm_per_s, temperature_K;
};

struct catalog_entry {
	char snapshot[256];
	char snapshot_name[64];
	int64_t snapshot_index; /* last run of digits of the name; -1 if none */
	int64_t view;
	double theta, observer_radius, jitter_r, jitter_lon;
	double scale, density_factor, skew_factor, skew_angle; /* NaN: not applied */
	int64_t seed;
	char tensor[128];       /* path relative to the dataset directory */
	struct processing_units processing; /* units the tensor was made in */
	int64_t r_steps, lon_steps, lat_steps;
	/* The grid's bounds (processing length, radians); all 0 when unknown
	 * (a dataset written by an earlier version, an imported IRIS dataset). */
	double r_min, r_max, lon_min, lon_max, lat_min, lat_max;
};

/* What a dataset holds: physical tensors, or observed pairs (the
 * observed files of arepo-observe, arepo-observed(5)). */
enum dataset_kind { DATASET_PHYSICAL, DATASET_PAIRS };

#define DATASET_SAMPLE_MAX 64

/* What every pair of a dataset shares, and the units of its arrays. */
struct pair_info {
	char mode[32];            /* IRIS's name of the observing mode */
	double v_min, v_max;      /* km/s */
	int64_t v_steps, n_lines, r_crop_min, r_crop_max;
	/* IRIS's _density_iris_per_processing and _temperature_iris_per_processing
	 * (_v_density_iris_per_processing in the simple mode): the factors from
	 * processing units that normalize applies to columnized and observed. */
	double factors[2];
	/* The entries (catalog indices) the factors were computed from, in the
	 * order their arrays were stacked; none when taken from another dataset. */
	int64_t sample[DATASET_SAMPLE_MAX];
	int64_t n_sample;
};

struct dataset {
	size_t n;
	struct catalog_entry *entries;
	int64_t *shuffle;
	struct iris_units units; /* the dataset's units */
	char *config_json;
	uint64_t seed;
	enum dataset_kind kind;
	struct pair_info pairs;  /* DATASET_PAIRS */
};

/* writer_hyper's *_per_processing of a configuration (JSON); -1 when one
 * is missing or not positive. */
int processing_units_from_config(const char *json, struct processing_units *p);
/* The same, IRIS's defaults where the configuration gives none. */
void processing_units_or_default(const char *json, struct processing_units *p);
/* IRIS's calculate_iris_units for tensors in these processing units. */
void iris_units_from_processing(const struct processing_units *p, struct iris_units *u);
/* IRIS's take_units: factors from processing units to IRIS units. */
void iris_factors(const struct processing_units *p, const struct iris_units *u, double *velocity,
		  double *density, double *temperature);
/* The same between two sets of IRIS units (a tensor already normalized once). */
void iris_factors_between(const struct iris_units *from, const struct iris_units *to,
			  double *velocity, double *density, double *temperature);
int iris_units_equal(const struct iris_units *a, const struct iris_units *b);

/* The last run of digits at the end of a name (IRIS's _get_snapshot_index). */
int64_t snapshot_index_of(const char *name);

/* Reads a tensor file's catalog row (everything but the tensor path).
 * Checks that it is a complete tensor file. */
int catalog_entry_from_tensor(const char *path, struct catalog_entry *e, char **config_json,
			      struct arepo_err *err);

/* Factors (velocity, density, temperature) that bring a tensor to the units
 * u: from the IRIS units it records (attribute iris_units, written by
 * arepo-normalize) or else from the processing units it was made in (all 1
 * when u are the units calculated from those, as a new dataset takes them).
 * Returns 0, or an error for an unreadable file. */
int tensor_factors_to(const char *path, const struct processing_units *made_in,
		      const struct iris_units *u, double factors[3], struct arepo_err *err);
/* Whether factors are all 1 within IRIS's 1e-6. */
int factors_are_one(const double factors[3]);

/* Reads an observed file's catalog row (the tensor field left empty), the
 * configuration it records and what its pair shares with a dataset's. */
int catalog_entry_from_observed(const char *path, struct catalog_entry *e, char **config_json,
				struct pair_info *info, struct arepo_err *err);
/* Errors (3) naming path unless its pair can join a dataset of pairs a. */
int pair_info_check(const struct pair_info *a, const struct pair_info *b, const char *path,
		    struct arepo_err *err);
/* Whether the observing mode is the simple observer (its second unit is
 * _v_density_iris_per_processing). */
int pair_mode_simple(const struct pair_info *p);

/* IRIS's calculate_iris_units of the observed dataset types: 1 / std (ddof
 * 1, NumPy's float32 arithmetic) of the columnized and the observed arrays
 * of the entries paths[0..n) stacked in that order, and the units derived
 * from them; into ds->pairs.factors and ds->units. */
int pair_units_calculate(struct dataset *ds, const struct processing_units *p, char *const *paths,
			 size_t n, struct arepo_err *err);
/* IRIS's take_units for pairs: the factors from processing units p to the
 * IRIS units u (ds->units), into ds->pairs.factors. */
void pair_units_take(struct dataset *ds, const struct processing_units *p);
/* Factors (columnized, observed, 1) that bring an observed file to the
 * dataset's units: from the factors it records (attribute iris_factors,
 * written by arepo-normalize), or from processing units. */
int pair_factors_to(const char *path, const struct pair_info *target, double factors[3],
		    struct arepo_err *err);
/* The same for any entry: tensor_factors_to or pair_factors_to. */
int entry_factors_to(const struct dataset *ds, const char *path, const struct catalog_entry *e,
		     double factors[3], struct arepo_err *err);

/* Reads DIR/dataset.h5. A directory without one is an error (2). */
int dataset_read(const char *dir, struct dataset *ds, struct arepo_err *err);
/* Draws the shuffle permutation (seeded by ds->seed and the size). */
void dataset_shuffle(struct dataset *ds);
/* Rewrites DIR/dataset.h5 atomically, "physical" mapped over the tensors
 * (any bytes in their names). Callers hold the dataset's lock (dsdir.h). */
int dataset_write(const char *dir, const struct dataset *ds, struct arepo_err *err);
void dataset_free(struct dataset *ds);

#endif
