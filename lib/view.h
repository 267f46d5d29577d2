/* View files (format "arepo-view/1"): the cells that fall in one observer's
 * frustum box, in processing units, and everything an interp backend needs
 * to resample them (see arepo-view(5)). Tensor files copy the metadata. */
#ifndef AREPO_VIEW_H
#define AREPO_VIEW_H

#include <hdf5.h>
#include <limits.h>
#include <stdint.h>

#include "atomic.h"
#include "channels.h"
#include "perturbation.h"
#include "grid.h"
#include "log.h"

#define VIEW_FORMAT "arepo-view/1"
#define VIEW_CHANNELS CHANNELS

/* Everything about a view but its cells. */
struct view_meta {
	struct view_geometry geometry;
	char snapshot[PATH_MAX];   /* the snapshot's path when extracted */
	char snapshot_name[256];   /* its stem, the random streams' key */
	int64_t view_index;
	int64_t points_per_snapshot;
	uint64_t seed;
	struct perturbation perturbation;
	double jitter_r;    /* processing units added to the observer radius */
	double jitter_lon;  /* radians added to both longitude bounds */
	double parsec_per_unit;
	double box_min[3], box_max[3]; /* the pruning box, margin included */
	double margin;
	char *config_json;  /* the configuration that made it (owned) */
};

struct view {
	struct view_meta meta;
	uint64_t n, capacity;
	float *position; /* 3n, galactocentric */
	float *value;    /* 6n: v_r, density, temperature, x_H2, x_CO, dust temperature */
	float *radius;   /* n or NULL: radius of the cell's volume */
};

/* Writes or reads the metadata as attributes of loc. */
int view_meta_write(hid_t loc, const struct view_meta *m);
int view_meta_read(hid_t loc, const char *path, struct view_meta *m, struct arepo_err *err);
void view_meta_free(struct view_meta *m);

/* A view file written as its cells arrive (extendible datasets), under a
 * temporary name until committed. Cells are written a whole HDF5 chunk
 * (VIEW_CHUNK_ROWS cells) at a time, the cells of the chunk being filled
 * held meanwhile, so that the bytes of the file depend only on its cells. */
#define VIEW_CHUNK_ROWS 16384
struct view_stream {
	struct atomic_output out;
	hid_t file, position, value, radius;
	uint64_t n;       /* cells appended */
	uint64_t written; /* cells in the file */
	float *tail_position, *tail_value, *tail_radius; /* the others */
	uint64_t tail_capacity;
};
/* Memory HDF5 holds for an open file (its metadata cache, measured about
 * 610 KiB with HDF5 1.10), with some room. */
#define VIEW_STREAM_FILE_BYTES ((size_t)768 << 10)
/* The most memory an open stream holds, for a view of at most max_cells. */
size_t view_stream_bytes(int with_radius, uint64_t max_cells);
int view_stream_begin(struct view_stream *s, const char *path, const struct view_meta *meta,
		      int with_radius, struct arepo_err *err);
/* Appends n cells (radius may be NULL when the stream has none). */
int view_stream_append(struct view_stream *s, const float *position, const float *value,
		       const float *radius, uint64_t n, struct arepo_err *err);
/* Errors (each discards the file): 1 with the reason (errno text). */
int view_stream_commit(struct view_stream *s, struct arepo_err *err);
void view_stream_abort(struct view_stream *s);

/* Writes a whole view at once, atomically. */
int view_write(const char *path, const struct view *v, struct arepo_err *err);
/* Reads a whole view file; anything malformed is bad data (3). */
int view_read(const char *path, struct view *v, struct arepo_err *err);
void view_free(struct view *v);

#endif
