/* View files: reading, checking and writing the arepo-view/1 format. */
#include "view.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic.h"
#include "h5util.h"

/* Perturbation factors IRIS did not apply are stored as NaN. */
static double factor_or_nan(int applied, double value)
{
	return applied ? value : NAN;
}

int view_meta_write(hid_t loc, const struct view_meta *m)
{
	const struct view_geometry *g = &m->geometry;
	const struct perturbation *p = &m->perturbation;
	struct { const char *name; double value; } doubles[] = {
		{ "theta", g->theta }, { "observer_radius", g->observer_radius },
		{ "r_min", g->r_min }, { "r_max", g->r_max },
		{ "lon_min", g->lon_min }, { "lon_max", g->lon_max },
		{ "lat_min", g->lat_min }, { "lat_max", g->lat_max },
		{ "scale", factor_or_nan(p->has_scale, p->scale) },
		{ "density_factor", factor_or_nan(p->has_density, p->density) },
		{ "skew_factor", factor_or_nan(p->has_skew, p->skew) },
		{ "skew_angle", factor_or_nan(p->has_skew, p->skew_angle) },
		{ "jitter_r", m->jitter_r }, { "jitter_lon", m->jitter_lon },
		{ "parsec_per_unit", m->parsec_per_unit }, { "margin", m->margin },
	};
	struct { const char *name; int64_t value; } ints[] = {
		{ "r_steps", g->r_steps }, { "lon_steps", g->lon_steps }, { "lat_steps", g->lat_steps },
		{ "view", m->view_index }, { "points_per_snapshot", m->points_per_snapshot },
		{ "seed", (int64_t)m->seed },
	};
	/* The first failure ends it, its reason left for h5_reason. */
	int rc = 0;
	for (size_t i = 0; i < sizeof doubles / sizeof doubles[0] && !rc; i++)
		rc = h5_write_attr_doubles(loc, doubles[i].name, &doubles[i].value, 1);
	for (size_t i = 0; i < sizeof ints / sizeof ints[0] && !rc; i++)
		rc = h5_write_attr_int64s(loc, ints[i].name, &ints[i].value, 1);
	return rc || h5_write_attr_doubles(loc, "box_min", m->box_min, 3) ||
	       h5_write_attr_doubles(loc, "box_max", m->box_max, 3) ||
	       h5_write_attr_string(loc, "snapshot", m->snapshot) ||
	       h5_write_attr_string(loc, "snapshot_name", m->snapshot_name) ||
	       h5_write_attr_string(loc, "config", m->config_json ? m->config_json : "{}") ? -1 : 0;
}

int view_meta_read(hid_t loc, const char *path, struct view_meta *m, struct arepo_err *err)
{
	memset(m, 0, sizeof *m);
	struct view_geometry *g = &m->geometry;
	double scale, density, skew, angle;
	struct { const char *name; double *dst; size_t n; } doubles[] = {
		{ "theta", &g->theta, 1 }, { "observer_radius", &g->observer_radius, 1 },
		{ "r_min", &g->r_min, 1 }, { "r_max", &g->r_max, 1 },
		{ "lon_min", &g->lon_min, 1 }, { "lon_max", &g->lon_max, 1 },
		{ "lat_min", &g->lat_min, 1 }, { "lat_max", &g->lat_max, 1 },
		{ "scale", &scale, 1 }, { "density_factor", &density, 1 },
		{ "skew_factor", &skew, 1 }, { "skew_angle", &angle, 1 },
		{ "jitter_r", &m->jitter_r, 1 }, { "jitter_lon", &m->jitter_lon, 1 },
		{ "parsec_per_unit", &m->parsec_per_unit, 1 }, { "margin", &m->margin, 1 },
		{ "box_min", m->box_min, 3 }, { "box_max", m->box_max, 3 },
	};
	int64_t seed;
	struct { const char *name; int64_t *dst; } ints[] = {
		{ "r_steps", &g->r_steps }, { "lon_steps", &g->lon_steps },
		{ "lat_steps", &g->lat_steps }, { "view", &m->view_index },
		{ "points_per_snapshot", &m->points_per_snapshot }, { "seed", &seed },
	};
	for (size_t i = 0; i < sizeof doubles / sizeof doubles[0]; i++)
		if (h5_attr_doubles(loc, doubles[i].name, doubles[i].dst, doubles[i].n))
			return err_set(err, EXIT_BADDATA, "%s: attribute %s is missing or malformed",
				       path, doubles[i].name);
	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
		if (h5_attr_int64s(loc, ints[i].name, ints[i].dst, 1))
			return err_set(err, EXIT_BADDATA, "%s: attribute %s is missing or malformed",
				       path, ints[i].name);
	m->seed = (uint64_t)seed;
	struct perturbation *p = &m->perturbation;
	perturbation_none(p);
	if ((p->has_scale = !isnan(scale)))
		p->scale = scale;
	if ((p->has_density = !isnan(density)))
		p->density = density;
	if ((p->has_skew = !isnan(skew))) {
		p->skew = skew;
		p->skew_angle = angle;
	}
	h5_attr_string(loc, "snapshot", m->snapshot, sizeof m->snapshot);
	h5_attr_string(loc, "snapshot_name", m->snapshot_name, sizeof m->snapshot_name);
	char *config = malloc(1 << 16);
	if (config && h5_attr_string(loc, "config", config, 1 << 16) == 0)
		m->config_json = config;
	else
		free(config);
	return 0;
}

void view_meta_free(struct view_meta *m)
{
	free(m->config_json);
	m->config_json = NULL;
}

/* A dataset (M, cols) of float32, extendible, chunked VIEW_CHUNK_ROWS rows
 * a chunk, without a chunk cache: the stream writes whole chunks itself. */
static hid_t create_extendible(hid_t file, const char *name, int cols)
{
	hsize_t dims[2] = { 0, (hsize_t)cols }, maxdims[2] = { H5S_UNLIMITED, (hsize_t)cols };
	hsize_t chunk[2] = { VIEW_CHUNK_ROWS, (hsize_t)cols };
	int rank = cols > 1 ? 2 : 1;
	hid_t space = H5Screate_simple(rank, dims, maxdims);
	hid_t dcpl = h5_untimed_plist(H5P_DATASET_CREATE);
	hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
	H5Pset_chunk(dcpl, rank, chunk);
	H5Pset_chunk_cache(dapl, 0, 0, H5D_CHUNK_CACHE_W0_DEFAULT);
	hid_t dset = H5Dcreate2(file, name, H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, dapl);
	H5Pclose(dapl);
	H5Pclose(dcpl);
	H5Sclose(space);
	return dset;
}

static int write_rows(hid_t dset, uint64_t at, uint64_t n, int cols, const float *data)
{
	hsize_t size[2] = { at + n, (hsize_t)cols };
	if (H5Dset_extent(dset, size) < 0)
		return -1;
	hid_t fspace = H5Dget_space(dset);
	hsize_t start[2] = { at, 0 }, count[2] = { n, (hsize_t)cols };
	H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL);
	hid_t mspace = H5Screate_simple(cols > 1 ? 2 : 1, count, NULL);
	herr_t rc = H5Dwrite(dset, H5T_NATIVE_FLOAT, mspace, fspace, H5P_DEFAULT, data);
	hid_t failure = h5_error_aside(rc < 0);
	H5Sclose(mspace);
	H5Sclose(fspace);
	h5_error_back(failure);
	return rc < 0 ? -1 : 0;
}

size_t view_stream_bytes(int with_radius, uint64_t max_cells)
{
	uint64_t rows = max_cells < VIEW_CHUNK_ROWS ? max_cells : VIEW_CHUNK_ROWS;
	return VIEW_STREAM_FILE_BYTES + sizeof(struct view_stream) +
	       (size_t)rows * (3 + VIEW_CHANNELS + (with_radius ? 1 : 0)) * sizeof(float);
}

/* Room in the tail for rows cells. */
static int reserve_tail(struct view_stream *s, uint64_t rows)
{
	if (rows <= s->tail_capacity)
		return 0;
	uint64_t cap = s->tail_capacity ? s->tail_capacity : 256;
	while (cap < rows)
		cap *= 2;
	if (cap > VIEW_CHUNK_ROWS)
		cap = VIEW_CHUNK_ROWS;
	float *p = realloc(s->tail_position, (size_t)cap * 3 * sizeof(float));
	if (!p)
		return -1;
	s->tail_position = p;
	p = realloc(s->tail_value, (size_t)cap * VIEW_CHANNELS * sizeof(float));
	if (!p)
		return -1;
	s->tail_value = p;
	if (s->radius >= 0) {
		p = realloc(s->tail_radius, (size_t)cap * sizeof(float));
		if (!p)
			return -1;
		s->tail_radius = p;
	}
	s->tail_capacity = cap;
	return 0;
}

/* Writes rows cells from s->written on: whole chunks while appending, the
 * last part at commit. The file's bytes then depend only on the cells, not
 * on how they arrived (chunk size, MPI ranks). */
static int write_cells(struct view_stream *s, uint64_t rows, const float *position,
		       const float *value, const float *radius)
{
	if (write_rows(s->position, s->written, rows, 3, position) ||
	    write_rows(s->value, s->written, rows, VIEW_CHANNELS, value) ||
	    (s->radius >= 0 && write_rows(s->radius, s->written, rows, 1, radius)))
		return -1;
	s->written += rows;
	return 0;
}

static void stream_free(struct view_stream *s)
{
	free(s->tail_position);
	free(s->tail_value);
	free(s->tail_radius);
	s->tail_position = s->tail_value = s->tail_radius = NULL;
	s->tail_capacity = 0;
}

/* A write failed: the file is discarded, the error says why. */
static int stream_fail(struct view_stream *s, const char *what, struct arepo_err *err)
{
	stream_free(s);
	h5_fail_output(&s->out, s->file, what, err);
	s->file = s->position = s->value = s->radius = -1;
	return EXIT_RUNTIME;
}

int view_stream_begin(struct view_stream *s, const char *path, const struct view_meta *meta,
		      int with_radius, struct arepo_err *err)
{
	memset(s, 0, sizeof *s);
	s->file = s->position = s->value = s->radius = -1;
	if ((s->file = h5_create_output(&s->out, path, err)) < 0)
		return err->code;
	if (h5_write_attr_string(s->file, "format", VIEW_FORMAT) ||
	    h5_write_attr_string(s->file, "tool", log_tool_name()) ||
	    h5_write_attr_string(s->file, "version", AREPO_VERSION) || view_meta_write(s->file, meta) ||
	    (s->position = create_extendible(s->file, "position", 3)) < 0 ||
	    (s->value = create_extendible(s->file, "value", VIEW_CHANNELS)) < 0 ||
	    (with_radius && (s->radius = create_extendible(s->file, "radius", 1)) < 0))
		return stream_fail(s, "cannot write", err);
	return 0;
}

int view_stream_append(struct view_stream *s, const float *position, const float *value,
		       const float *radius, uint64_t n, struct arepo_err *err)
{
	if (s->radius >= 0 && n > 0 && !radius)
		return err_set(err, EXIT_RUNTIME, "%s: cells without radii", s->out.target);
	while (n > 0) {
		uint64_t held = s->n - s->written, take = VIEW_CHUNK_ROWS - held;
		if (take > n)
			take = n;
		if (held == 0 && take == VIEW_CHUNK_ROWS) {
			/* A whole chunk from the caller's cells. */
			if (write_cells(s, take, position, value, radius))
				return stream_fail(s, "write failed", err);
		} else {
			if (reserve_tail(s, held + take)) {
				view_stream_abort(s);
				return err_set(err, EXIT_RUNTIME, "%s: out of memory", s->out.target);
			}
			memcpy(s->tail_position + 3 * held, position, (size_t)take * 3 * sizeof(float));
			memcpy(s->tail_value + VIEW_CHANNELS * held, value,
			       (size_t)take * VIEW_CHANNELS * sizeof(float));
			if (s->radius >= 0)
				memcpy(s->tail_radius + held, radius, (size_t)take * sizeof(float));
			if (held + take == VIEW_CHUNK_ROWS &&
			    write_cells(s, VIEW_CHUNK_ROWS, s->tail_position, s->tail_value, s->tail_radius))
				return stream_fail(s, "write failed", err);
		}
		s->n += take;
		n -= take;
		position += 3 * take;
		value += VIEW_CHANNELS * take;
		if (radius)
			radius += take;
	}
	return 0;
}

int view_stream_commit(struct view_stream *s, struct arepo_err *err)
{
	uint64_t held = s->n - s->written;
	if (held && write_cells(s, held, s->tail_position, s->tail_value, s->tail_radius))
		return stream_fail(s, "write failed", err);
	stream_free(s);
	hid_t file = s->file;
	s->file = s->position = s->value = s->radius = -1;
	return h5_commit_output(&s->out, file, err);
}

void view_stream_abort(struct view_stream *s)
{
	stream_free(s);
	h5_discard(s->file);
	s->file = s->position = s->value = s->radius = -1;
	atomic_abort(&s->out);
}

int view_write(const char *path, const struct view *v, struct arepo_err *err)
{
	struct view_stream s;
	int rc = view_stream_begin(&s, path, &v->meta, v->radius != NULL, err);
	if (rc)
		return rc;
	if ((rc = view_stream_append(&s, v->position, v->value, v->radius, v->n, err))) {
		view_stream_abort(&s);
		return rc;
	}
	return view_stream_commit(&s, err);
}

static int read_matrix(hid_t file, const char *path, const char *name, int cols, uint64_t *n,
		       float **data, struct arepo_err *err)
{
	int rank;
	hsize_t dims[4];
	if (h5_dataset_dims(file, name, &rank, dims) < 0)
		return err_set(err, EXIT_BADDATA, "%s: dataset %s is missing", path, name);
	if (rank != (cols > 1 ? 2 : 1) || (cols > 1 && dims[1] != (hsize_t)cols))
		return err_set(err, EXIT_BADDATA, "%s: dataset %s has the wrong shape; expected "
			       "(M%s)", path, name, cols == 3 ? ", 3" : cols == 6 ? ", 6" : "");
	if (*n != UINT64_MAX && dims[0] != *n)
		return err_set(err, EXIT_BADDATA, "%s: dataset %s holds %llu cells, position %llu",
			       path, name, (unsigned long long)dims[0], (unsigned long long)*n);
	*n = dims[0];
	*data = malloc((size_t)(*n ? *n : 1) * (size_t)cols * sizeof(float));
	if (!*data)
		return err_set(err, EXIT_RUNTIME, "%s: out of memory for %s", path, name);
	hid_t dset = H5Dopen2(file, name, H5P_DEFAULT);
	int bad = dset < 0 || (*n > 0 && H5Dread(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL,
						 H5P_DEFAULT, *data) < 0);
	char why[256] = "";
	if (bad)
		h5_reason(why, sizeof why);
	if (dset >= 0)
		H5Dclose(dset);
	if (bad)
		return err_set(err, EXIT_BADDATA, "%s: cannot read %s (truncated or damaged?): %s", path,
			       name, why);
	return 0;
}

int view_read(const char *path, struct view *v, struct arepo_err *err)
{
	memset(v, 0, sizeof *v);
	hid_t file;
	int rc = h5_open_checked(path, &file, err);
	if (rc)
		return rc;
	char format[64] = "";
	if (h5_attr_string(file, "format", format, sizeof format) != 0 ||
	    strcmp(format, VIEW_FORMAT) != 0) {
		rc = err_set(err, EXIT_BADDATA, "%s: not a view file (format is \"%s\", expected \"%s\")",
			     path, format, VIEW_FORMAT);
		goto out;
	}
	if ((rc = view_meta_read(file, path, &v->meta, err)))
		goto out;
	v->n = UINT64_MAX;
	if ((rc = read_matrix(file, path, "position", 3, &v->n, &v->position, err)) ||
	    (rc = read_matrix(file, path, "value", VIEW_CHANNELS, &v->n, &v->value, err)))
		goto out;
	if (H5Lexists(file, "radius", H5P_DEFAULT) > 0 &&
	    (rc = read_matrix(file, path, "radius", 1, &v->n, &v->radius, err)))
		goto out;
	for (uint64_t i = 0; i < 3 * v->n; i++) {
		if (!isfinite(v->position[i])) {
			rc = err_set(err, EXIT_BADDATA, "%s: position of cell %llu is not finite", path,
				     (unsigned long long)(i / 3));
			goto out;
		}
	}
out:
	H5Fclose(file);
	if (rc)
		view_free(v);
	return rc;
}

void view_free(struct view *v)
{
	view_meta_free(&v->meta);
	free(v->position);
	free(v->value);
	free(v->radius);
	memset(v, 0, sizeof *v);
}
