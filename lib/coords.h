/* Named dimensions and coordinates on the tools' arrays: HDF5 dimension
 * scales as netCDF-4 writes them, so that h5netcdf and xarray see channel,
 * r, lon, lat (and entry, line, v, ...) with their values and units. */
#ifndef AREPO_COORDS_H
#define AREPO_COORDS_H

#include <hdf5.h>
#include <stdint.h>

#include "dataset.h"
#include "grid.h"

enum coord_type { COORD_NONE, COORD_F32, COORD_F64, COORD_I64, COORD_STR };

/* One dimension, or one variable along a dimension. */
struct coord {
	const char *name;
	hsize_t n;
	enum coord_type type;
	const void *values; /* n floats, doubles, int64s or strings (any bytes:
			       shown as UTF-8, other bytes replaced); COORD_NONE:
			       a dimension without coordinate values */
	const char *units, *long_name; /* attributes, when not NULL */
};

/* Creates the dimension scale c in loc: a 1-D dataset named after the
 * dimension. Returns its id (the caller closes it), or -1. */
hid_t coords_scale(hid_t loc, const struct coord *c);
/* Creates the variable c in loc along the dimension scale dim. */
int coords_variable(hid_t loc, hid_t dim, const struct coord *c);
/* Attaches scales[k] to dimension k of dset, k < rank. */
int coords_attach(hid_t dset, const hid_t *scales, int rank);
/* Closes the scales that are open (>= 0). */
void coords_close(hid_t *scales, int n);

/* The scale of a grid axis: numpy.linspace(min, max, n) in float32, the
 * values the grid was sampled at (grid.h). */
hid_t coords_linspace(hid_t loc, const char *name, double min, double max, int64_t n,
		      const char *units, const char *long_name);

/* The units of the six channels, as UDUNITS strings: the IRIS units u
 * (those calculated from processing units are the processing units). */
void coords_channel_units(const struct iris_units *u, char units[6][64]);
/* The units of a processing length (the r axis). */
void coords_length_units(const struct processing_units *p, char units[64]);

/* physical's dimensions but entry: channel (names) with the variable
 * channel_units along it (the units u), and r, lon, lat from g (r in the
 * processing length p), or without values unless known; scales[0..3] get
 * their ids. */
int coords_physical(hid_t loc, const struct view_geometry *g, const struct processing_units *p,
		    const struct iris_units *u, int known, hid_t *scales);
/* A tensor file's physical, its scales made and attached. */
int coords_tensor(hid_t file, hid_t physical, const struct view_geometry *g,
		  const struct processing_units *p, const struct iris_units *u);

/* The dimensions of a pair: line, lon and v (km/s) of observed; column, r
 * (the r_crop indices of g's axis) and lon of columnized; lon and r
 * without values unless known. scales gets line, lon, v, column, r. */
int coords_pair(hid_t loc, const struct view_geometry *g, const struct processing_units *p,
		int known, int64_t n_lines, double v_min, double v_max, int64_t v_steps, int64_t r_crop_min,
		int64_t r_crop_max, hid_t scales[5]);

#endif
