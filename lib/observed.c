/* Observed files: one atomic write of the pair and its provenance. */
#include "observed.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "coords.h"
#include "dataset.h"
#include "h5util.h"

static int write_array(hid_t file, const char *name, int rank, const hsize_t *dims,
		       const float *data)
{
	hid_t space = H5Screate_simple(rank, dims, NULL);
	hid_t dcpl = h5_untimed_plist(H5P_DATASET_CREATE);
	hid_t dset = H5Dcreate2(file, name, H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
	int bad = dset < 0 || H5Dwrite(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0;
	/* Left open on failure (h5_discard closes it). */
	if (dset >= 0 && !bad)
		bad = H5Dclose(dset) < 0;
	hid_t failure = h5_error_aside(bad);
	H5Pclose(dcpl);
	H5Sclose(space);
	h5_error_back(failure);
	return bad ? -1 : 0;
}

/* The units attribute of a pair's array in IRIS's units: the processing
 * units the file names (observed_units, columnized_units) times factor. */
static int rescaled_units(hid_t file, const char *name, double factor)
{
	char key[64], base[256] = "processing units", text[320];
	snprintf(key, sizeof key, "%s_units", name);
	h5_attr_string(file, key, base, sizeof base);
	snprintf(text, sizeof text, "IRIS units: %s times %.9g", base, factor);
	hid_t set = H5Dopen2(file, name, H5P_DEFAULT);
	int bad = set < 0 || h5_write_attr_string(set, "units", text);
	if (set >= 0)
		bad |= H5Dclose(set) < 0;
	return bad ? -1 : 0;
}

/* Opens dataset name in file, attaches scales and sets its units. */
static int attach_named(hid_t file, const char *name, const hid_t *scales, int rank, const char *units)
{
	hid_t set = H5Dopen2(file, name, H5P_DEFAULT);
	int bad = set < 0 || coords_attach(set, scales, rank) || h5_write_attr_string(set, "units", units);
	hid_t failure = h5_error_aside(bad);
	if (set >= 0)
		H5Dclose(set);
	h5_error_back(failure);
	return bad ? -1 : 0;
}

/* Named dimensions: observed (line, lon, v), columnized (column, r, lon). */
static int observed_coords(hid_t file, const struct view_meta *meta, const struct observed_info *info)
{
	struct processing_units p;
	processing_units_or_default(meta->config_json, &p);
	hid_t s[5];
	if (coords_pair(file, &meta->geometry, &p, 1, info->n_lines, info->v_min, info->v_max,
			info->v_steps, info->r_crop_min, info->r_crop_max, s))
		return -1;
	const hid_t observed[3] = { s[0], s[1], s[2] }, columnized[3] = { s[3], s[4], s[1] };
	int bad = attach_named(file, "observed", observed, 3, info->observed_units) ||
		  attach_named(file, "columnized", columnized, 3, info->columnized_units);
	hid_t failure = h5_error_aside(bad);
	coords_close(s, 5);
	h5_error_back(failure);
	return bad ? -1 : 0;
}

int observed_write(const char *path, const struct view_meta *meta, const struct observed_info *info,
		   const float *observed, const float *columnized, struct arepo_err *err)
{
	struct atomic_output out;
	hid_t file = h5_create_output(&out, path, err);
	if (file < 0)
		return err->code;
	const struct view_geometry *g = &meta->geometry;
	const hsize_t odims[3] = { (hsize_t)info->n_lines, (hsize_t)g->lon_steps, (hsize_t)info->v_steps };
	const hsize_t cdims[3] = { 1, (hsize_t)(info->r_crop_max - info->r_crop_min),
				   (hsize_t)g->lon_steps };
	const int64_t crop[2] = { info->r_crop_min, info->r_crop_max };
	const double v[2] = { info->v_min, info->v_max };
	int bad = write_array(file, "observed", 3, odims, observed) ||
		  write_array(file, "columnized", 3, cdims, columnized) ||
		  h5_write_attr_string(file, "format", OBSERVED_FORMAT) ||
		  h5_write_attr_string(file, "tool", log_tool_name()) ||
		  h5_write_attr_string(file, "version", AREPO_VERSION) || view_meta_write(file, meta) ||
		  h5_write_attr_string(file, "mode", info->mode) ||
		  h5_write_attr_string(file, "tensor", info->tensor) ||
		  h5_write_attr_string(file, "grids_key", info->grids_key) ||
		  h5_write_attr_string(file, "observed_units", info->observed_units) ||
		  h5_write_attr_string(file, "columnized_units", info->columnized_units) ||
		  h5_write_attr_doubles(file, "v_range_km_s", v, 2) ||
		  h5_write_attr_int64s(file, "v_steps", &info->v_steps, 1) ||
		  h5_write_attr_int64s(file, "r_crop", crop, 2) ||
		  observed_coords(file, meta, info) ||
		  (info->iris_factors && (h5_write_attr_doubles(file, "iris_factors", info->iris_factors, 2) ||
					  rescaled_units(file, "columnized", info->iris_factors[0]) ||
					  rescaled_units(file, "observed", info->iris_factors[1])));
	return bad ? h5_fail_output(&out, file, "cannot write", err) : h5_commit_output(&out, file, err);
}

/* Copies a file's bytes to an open descriptor. */
static int copy_bytes(const char *from, int to)
{
	int in = open(from, O_RDONLY);
	if (in < 0)
		return -1;
	char buf[1 << 16];
	ssize_t n;
	int rc = 0;
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(to, buf, (size_t)n) != n) {
			rc = -1;
			break;
		}
	if (n < 0)
		rc = -1;
	close(in);
	return rc;
}

static int scale_dataset(hid_t file, const char *name, float factor)
{
	hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
	if (d < 0)
		return -1;
	hid_t space = H5Dget_space(d);
	hssize_t n = H5Sget_simple_extent_npoints(space);
	float *v = n > 0 ? malloc((size_t)n * sizeof *v) : NULL;
	int bad = !v || H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0;
	for (hssize_t i = 0; !bad && i < n; i++)
		v[i] *= factor;
	bad = bad || H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0;
	free(v);
	H5Sclose(space);
	bad |= H5Dclose(d) < 0;
	return bad ? -1 : 0;
}

int observed_rescale(const char *path, const double f[2], const double recorded[2],
		     struct arepo_err *err)
{
	struct atomic_output out;
	int rc = atomic_begin(&out, path, err);
	if (rc)
		return rc;
	int fd = open(out.temp, O_WRONLY | O_CREAT | O_EXCL, 0666);
	if (fd < 0 || copy_bytes(path, fd) || close(fd)) {
		rc = err_set(err, EXIT_RUNTIME, "%s: cannot write its replacement: %s", path,
			     strerror(errno ? errno : EIO));
		if (fd >= 0)
			close(fd);
		atomic_abort(&out);
		return rc;
	}
	h5_quiet();
	hid_t file = H5Fopen(out.temp, H5F_ACC_RDWR, H5P_DEFAULT);
	int bad = file < 0 || scale_dataset(file, "columnized", (float)f[0]) ||
		  scale_dataset(file, "observed", (float)f[1]) ||
		  h5_write_attr_doubles(file, "iris_factors", recorded, 2) ||
		  rescaled_units(file, "columnized", recorded[0]) ||
		  rescaled_units(file, "observed", recorded[1]);
	if (file >= 0)
		bad |= H5Fclose(file) < 0;
	if (bad) {
		rc = err_set(err, EXIT_RUNTIME, "%s: cannot write its replacement: %s", path,
			     h5_failure_reason());
		atomic_abort(&out);
		return rc;
	}
	/* The rename is the moment the pair changes: scaled, with its factors. */
	return atomic_commit(&out, err);
}
