/* Observed files: one atomic write of the pair and its provenance. */
#include "observed.h"

#include <hdf5.h>

#include "atomic.h"
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
		  h5_write_attr_int64s(file, "r_crop", crop, 2);
	return bad ? h5_fail_output(&out, file, "cannot write", err) : h5_commit_output(&out, file, err);
}
