/* Dimension scales (HDF5's high-level H5DS) on the tools' arrays, laid out
 * as netCDF-4 does, so that xarray reads them with named dimensions. */
#include "coords.h"

#include <hdf5_hl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h5util.h"

/* netCDF-4's mark of a dimension that has no coordinate values. */
#define NOT_A_VARIABLE "This is a netCDF dimension but not a netCDF variable."

static const char *const channel_names[6] = {
	"radial_velocity", "density", "temperature", "x_H2", "x_CO", "dust_temperature",
};

/* Bytes as valid UTF-8: anything that does not decode becomes U+FFFD, so
 * that a name with odd bytes cannot make a reader refuse the file. */
static char *as_utf8(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(3 * n + 1), *q = out;
	if (!out)
		return NULL;
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		int len = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 && *p >= 0xc2 ? 2 : (*p & 0xf0) == 0xe0 ? 3
			  : (*p & 0xf8) == 0xf0 && *p <= 0xf4 ? 4 : 0;
		for (int k = 1; k < len; k++)
			if ((p[k] & 0xc0) != 0x80)
				len = 0;
		if (len == 3 && ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0)))
			len = 0; /* overlong, or a surrogate */
		if (len == 4 && ((p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90)))
			len = 0;
		if (len) {
			memcpy(q, p, (size_t)len);
			q += len;
			p += len;
		} else {
			memcpy(q, "\xef\xbf\xbd", 3);
			q += 3;
			p++;
		}
	}
	*q = '\0';
	return out;
}

static hid_t utf8_type(void)
{
	hid_t t = H5Tcopy(H5T_C_S1);
	H5Tset_size(t, H5T_VARIABLE);
	H5Tset_cset(t, H5T_CSET_UTF8);
	return t;
}

/* The 1-D dataset of c in loc, its values written. */
static hid_t create_1d(hid_t loc, const struct coord *c)
{
	hsize_t n = c->n;
	hid_t space = H5Screate_simple(1, &n, NULL);
	hid_t dcpl = h5_untimed_plist(H5P_DATASET_CREATE);
	hid_t ftype, mtype;
	switch (c->type) {
	case COORD_F64: ftype = H5T_IEEE_F64LE; mtype = H5T_NATIVE_DOUBLE; break;
	case COORD_I64: ftype = H5T_STD_I64LE; mtype = H5T_NATIVE_INT64; break;
	case COORD_STR: ftype = mtype = utf8_type(); break;
	default: ftype = H5T_IEEE_F32LE; mtype = H5T_NATIVE_FLOAT; break;
	}
	if (c->type == COORD_NONE)
		H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
	hid_t set = H5Dcreate2(loc, c->name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
	int bad = set < 0;
	if (!bad && c->n && c->type == COORD_STR) {
		const char *const *in = c->values;
		char **text = calloc(c->n, sizeof *text);
		bad = !text;
		for (hsize_t i = 0; !bad && i < c->n; i++)
			bad = !(text[i] = as_utf8(in[i]));
		bad = bad || H5Dwrite(set, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, text) < 0;
		for (hsize_t i = 0; text && i < c->n; i++)
			free(text[i]);
		free(text);
	} else if (!bad && c->n && c->type != COORD_NONE) {
		bad = H5Dwrite(set, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, c->values) < 0;
	}
	if (!bad && c->units)
		bad = h5_write_attr_string(set, "units", c->units) != 0;
	if (!bad && c->long_name)
		bad = h5_write_attr_string(set, "long_name", c->long_name) != 0;
	hid_t failure = h5_error_aside(bad);
	if (c->type == COORD_STR)
		H5Tclose(ftype);
	H5Pclose(dcpl);
	H5Sclose(space);
	if (bad && set >= 0) {
		H5Dclose(set);
		set = -1;
	}
	h5_error_back(failure);
	return set;
}

hid_t coords_scale(hid_t loc, const struct coord *c)
{
	hid_t set = create_1d(loc, c);
	if (set < 0)
		return -1;
	char name[128];
	if (c->type == COORD_NONE)
		snprintf(name, sizeof name, NOT_A_VARIABLE "%10llu", (unsigned long long)c->n);
	else
		snprintf(name, sizeof name, "%s", c->name);
	if (H5DSset_scale(set, name) < 0) {
		hid_t failure = h5_error_aside(1);
		H5Dclose(set);
		h5_error_back(failure);
		return -1;
	}
	return set;
}

int coords_variable(hid_t loc, hid_t dim, const struct coord *c)
{
	hid_t set = create_1d(loc, c);
	if (set < 0)
		return -1;
	int bad = H5DSattach_scale(set, dim, 0) < 0;
	hid_t failure = h5_error_aside(bad);
	H5Dclose(set);
	h5_error_back(failure);
	return bad ? -1 : 0;
}

int coords_attach(hid_t dset, const hid_t *scales, int rank)
{
	for (int k = 0; k < rank; k++)
		if (H5DSattach_scale(dset, scales[k], (unsigned)k) < 0)
			return -1;
	return 0;
}

void coords_close(hid_t *scales, int n)
{
	for (int k = 0; k < n; k++)
		if (scales[k] >= 0) {
			H5Dclose(scales[k]);
			scales[k] = -1;
		}
}

/* A dimension of n without values. */
static hid_t dimension_only(hid_t loc, const char *name, int64_t n)
{
	struct coord c = { name, (hsize_t)(n > 0 ? n : 0), COORD_NONE, NULL, NULL, NULL };
	return coords_scale(loc, &c);
}

hid_t coords_linspace(hid_t loc, const char *name, double min, double max, int64_t n,
		      const char *units, const char *long_name)
{
	float *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
	if (!v)
		return -1;
	if (n > 0)
		linspace_f32(min, max, n, v);
	struct coord c = { name, (hsize_t)(n > 0 ? n : 0), COORD_F32, v, units, long_name };
	hid_t set = coords_scale(loc, &c);
	free(v);
	return set;
}

/* "unit" when factor is 1, else "factor unit" (a scaled UDUNITS unit). */
static void scaled(char out[64], double factor, const char *unit)
{
	if (factor == 1)
		snprintf(out, 64, "%s", unit);
	else
		snprintf(out, 64, "%.10g %s", factor, unit);
}

void coords_channel_units(const struct iris_units *u, char units[6][64])
{
	/* One IRIS unit in SI: the inverse of IRIS's *_iris_per_SI. */
	double velocity = u->time_per_SI / u->length_per_SI;
	double density = u->length_per_SI * u->length_per_SI * u->length_per_SI / u->mass_per_SI;
	double temperature = 1 / u->temperature_per_SI;
	scaled(units[0], velocity, "m s-1");
	scaled(units[1], density, "kg m-3");
	scaled(units[2], temperature, "K");
	snprintf(units[3], 64, "1");
	snprintf(units[4], 64, "1");
	scaled(units[5], temperature, "K");
}

void coords_length_units(const struct processing_units *p, char units[64])
{
	scaled(units, p->length_cm, "cm");
}

int coords_physical(hid_t loc, const struct view_geometry *g, const struct processing_units *p,
		    const struct iris_units *u, int known, hid_t *scales)
{
	char units[6][64], length[64];
	coords_channel_units(u, units);
	coords_length_units(p, length);
	const char *unit_text[6];
	for (int k = 0; k < 6; k++)
		unit_text[k] = units[k];
	struct coord channel = { "channel", 6, COORD_STR, channel_names, NULL, "physical quantity" };
	struct coord channel_units = { "channel_units", 6, COORD_STR, unit_text, NULL,
				       "units of each channel" };
	scales[0] = coords_scale(loc, &channel);
	if (!known) {
		scales[1] = scales[0] < 0 ? -1 : dimension_only(loc, "r", g->r_steps);
		scales[2] = scales[1] < 0 ? -1 : dimension_only(loc, "lon", g->lon_steps);
		scales[3] = scales[2] < 0 ? -1 : dimension_only(loc, "lat", g->lat_steps);
	} else {
		scales[1] = scales[0] < 0 ? -1 : coords_linspace(loc, "r", g->r_min, g->r_max, g->r_steps,
								  length, "distance from the observer");
		scales[2] = scales[1] < 0 ? -1 : coords_linspace(loc, "lon", g->lon_min, g->lon_max,
								  g->lon_steps, "radian",
								  "longitude seen by the observer");
		scales[3] = scales[2] < 0 ? -1 : coords_linspace(loc, "lat", g->lat_min, g->lat_max,
								  g->lat_steps, "radian",
								  "latitude seen by the observer");
	}
	if (scales[3] < 0 || coords_variable(loc, scales[0], &channel_units)) {
		coords_close(scales, 4);
		return -1;
	}
	return 0;
}

int coords_tensor(hid_t file, hid_t physical, const struct view_geometry *g,
		  const struct processing_units *p, const struct iris_units *u)
{
	hid_t scales[4] = { -1, -1, -1, -1 };
	int bad = coords_physical(file, g, p, u, 1, scales) || coords_attach(physical, scales, 4) ||
		  h5_write_attr_string(physical, "coordinates", "channel_units");
	hid_t failure = h5_error_aside(bad);
	coords_close(scales, 4);
	h5_error_back(failure);
	return bad ? -1 : 0;
}

int coords_pair(hid_t loc, const struct view_geometry *g, const struct processing_units *p,
		int known, int64_t n_lines, double v_min, double v_max, int64_t v_steps, int64_t r_crop_min,
		int64_t r_crop_max, hid_t scales[5])
{
	for (int k = 0; k < 5; k++)
		scales[k] = -1;
	int64_t *lines = malloc((size_t)(n_lines > 0 ? n_lines : 1) * sizeof *lines);
	double *v = malloc((size_t)(v_steps > 0 ? v_steps : 1) * sizeof *v);
	float *r = malloc((size_t)(g->r_steps > 0 ? g->r_steps : 1) * sizeof *r);
	int bad = !lines || !v || !r || r_crop_min < 0 || r_crop_max > g->r_steps || r_crop_min > r_crop_max;
	known = known && g->r_steps > 0;
	if (!bad) {
		for (int64_t i = 0; i < n_lines; i++)
			lines[i] = i;
		for (int64_t k = 0; k < v_steps; k++)
			v[k] = v_min + (double)k * (v_max - v_min) / (double)(v_steps > 1 ? v_steps - 1 : 1);
		if (v_steps > 1)
			v[v_steps - 1] = v_max;
		if (known)
			linspace_f32(g->r_min, g->r_max, g->r_steps, r);
		char length[64];
		coords_length_units(p, length);
		static const char *const column[1] = { "H2 mass density" };
		struct coord c_line = { "line", (hsize_t)n_lines, COORD_I64, lines, NULL, "spectral line" };
		struct coord c_v = { "v", (hsize_t)v_steps, COORD_F64, v, "km s-1",
				     "velocity toward the observer" };
		struct coord c_column = { "column", 1, COORD_STR, column, NULL, "columnized quantity" };
		struct coord c_r = { "r", (hsize_t)(r_crop_max - r_crop_min), COORD_F32, r + r_crop_min,
				     length, "distance from the observer" };
		bad = (scales[0] = coords_scale(loc, &c_line)) < 0 ||
		      (scales[1] = known ? coords_linspace(loc, "lon", g->lon_min, g->lon_max, g->lon_steps,
							   "radian", "longitude seen by the observer")
					 : dimension_only(loc, "lon", g->lon_steps)) < 0 ||
		      (scales[2] = coords_scale(loc, &c_v)) < 0 ||
		      (scales[3] = coords_scale(loc, &c_column)) < 0 ||
		      (scales[4] = known ? coords_scale(loc, &c_r)
					 : dimension_only(loc, "r", r_crop_max - r_crop_min)) < 0;
	}
	free(lines);
	free(v);
	free(r);
	if (bad)
		coords_close(scales, 5);
	return bad ? -1 : 0;
}
