/* The AREPO snapshot reader: gas cells (PartType0) of a single-file or
 * multi-file HDF5 snapshot, float32 or float64 on disk, read in IO chunks of
 * bounded size that the reader plans and consumers iterate over. */
#ifndef AREPO_SNAPSHOT_H
#define AREPO_SNAPSHOT_H

#include <hdf5.h>
#include <limits.h>
#include <stdint.h>

#include "config.h"
#include "log.h"

/* What the reader can be asked to read, as a mask. */
enum snap_field {
	SNAP_POSITION = 1 << 0,        /* Coordinates */
	SNAP_VELOCITY = 1 << 1,        /* Velocities */
	SNAP_DENSITY = 1 << 2,         /* Density */
	SNAP_INTERNAL_ENERGY = 1 << 3, /* InternalEnergy */
	SNAP_ABUNDANCES = 1 << 4,      /* ChemicalAbundances columns (or IRIS's fallback) */
	SNAP_DUST = 1 << 5,            /* DustTemperature (or the configured default) */
	SNAP_MASS = 1 << 6,            /* Masses, or MassTable[0] */
};
/* Everything a view needs (IRIS's Snapshot), masses excepted. */
#define SNAP_FIELDS_VIEW                                                          \
	(SNAP_POSITION | SNAP_VELOCITY | SNAP_DENSITY | SNAP_INTERNAL_ENERGY | \
	 SNAP_ABUNDANCES | SNAP_DUST)

struct snap_header {
	double box_size;
	double time, redshift;
	double unit_length_cm, unit_mass_g, unit_velocity_cm_per_s;
	double mass_table[6];
	int num_files;
	uint64_t num_gas; /* NumPart_Total[0] with its high word */
};

struct snap_piece {
	char path[PATH_MAX];
	uint64_t ncells;
	uint64_t first_cell; /* index of its first cell in the whole snapshot */
};

struct snapshot {
	char path[PATH_MAX]; /* as given: a file, a snapdir or piece 0 */
	char name[256];      /* stem shared by single- and multi-file forms: "snap_042" */
	struct snap_header header;
	int npieces;
	struct snap_piece *pieces;
	uint64_t ncells;
	int double_precision; /* Coordinates stored as float64 */
	int has_abundances, abundance_columns;
	int has_dust, has_masses;
	/* What the configuration asks of this snapshot. */
	int use_abundances;
	long long h2_column, h_plus_column, co_column;
	struct opt_double default_dust;
	/* One piece open at a time. */
	int open_piece;
	hid_t file;
};

/* One IO chunk: consecutive cells of one piece. */
struct snap_chunk {
	int piece;
	uint64_t offset; /* within the piece */
	uint64_t count;
	uint64_t first_cell; /* within the whole snapshot */
};

/* Raw fields of one chunk, as IRIS holds them: float32 (double on disk is
 * rounded once), abundances already picked from their columns. */
struct snap_raw {
	uint64_t n, capacity;
	unsigned fields;
	float *position; /* 3n, as on disk: not centred */
	float *velocity; /* 3n */
	float *density, *internal_energy, *x_h2, *x_h_plus, *x_co, *dust, *mass;
	double *scratch; /* for float64 datasets */
};

/* Opens path (a snapshot file, piece 0 of a multi-file snapshot, or a
 * snapdir), checks the header and, for the fields the configuration needs,
 * every piece's datasets (presence, shapes, lengths). Errors: 1 if path
 * cannot be read, 3 for bad data; the message names the file. */
int snap_open(struct snapshot *snap, const char *path, const struct arepo_config *cfg,
	      struct arepo_err *err);
void snap_close(struct snapshot *snap);
/* The stem snap_open would give path ("snap_042" for snap_042.hdf5,
 * snapdir_042 or snap_042.0.hdf5), reading only the directory of a
 * snapdir. */
int snap_name(const char *path, char *name, size_t size, struct arepo_err *err);

/* Gas cells no simulation makes: NaN, infinite or negative Density, NaN,
 * infinite or negative InternalEnergy, non-finite Velocities. Counted over
 * the chunks given to snap_check_physical; the first (lowest cell index)
 * described. */
struct snap_unphysical {
	uint64_t density, energy, velocity; /* cells with each fault */
	uint64_t cells;                     /* cells with any */
	uint64_t first;                     /* its index in the snapshot; UINT64_MAX if none */
	char first_what[PATH_MAX + 128];     /* "cell 12 of FILE: Density -1" */
};
void snap_unphysical_init(struct snap_unphysical *u);
/* Adds the faults of a chunk read with (at least) SNAP_VELOCITY,
 * SNAP_DENSITY and SNAP_INTERNAL_ENERGY. */
void snap_check_physical(const struct snapshot *snap, const struct snap_chunk *c,
			 const struct snap_raw *raw, struct snap_unphysical *u);

/* Bytes per cell the reader holds for the given fields. */
size_t snap_bytes_per_cell(const struct snapshot *snap, unsigned fields);
/* Bytes per cell on disk for the given fields (as stored: float32 or
 * float64), for read throughput figures. */
size_t snap_bytes_on_disk(const struct snapshot *snap, unsigned fields);
/* Splits the snapshot into chunks of at most max_cells cells that never
 * cross a file. The caller frees *chunks. */
int snap_plan_chunks(const struct snapshot *snap, uint64_t max_cells, struct snap_chunk **chunks,
		     size_t *nchunks, struct arepo_err *err);
/* Default chunk length: max_bytes of raw data (64 MiB when 0). */
uint64_t snap_chunk_cells(const struct snapshot *snap, unsigned fields, size_t max_bytes);

/* Reads one chunk's fields into raw (grown as needed). Non-finite
 * coordinates are bad data (3). */
int snap_read_chunk(struct snapshot *snap, const struct snap_chunk *chunk, unsigned fields,
		    struct snap_raw *raw, struct arepo_err *err);
void snap_raw_free(struct snap_raw *raw);

#endif
