/* Small HDF5 helpers. */
#include "h5util.h"

#include <unistd.h>

#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void h5_quiet(void)
{
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static int read_attr(hid_t loc, const char *name, hid_t memtype, void *out, size_t n)
{
	if (H5Aexists(loc, name) <= 0)
		return -1;
	hid_t attr = H5Aopen(loc, name, H5P_DEFAULT);
	if (attr < 0)
		return -1;
	int rc = -2;
	hid_t space = H5Aget_space(attr);
	hid_t type = H5Aget_type(attr);
	H5T_class_t cls = H5Tget_class(type);
	hssize_t count = H5Sget_simple_extent_npoints(space);
	if ((cls == H5T_INTEGER || cls == H5T_FLOAT) && count == (hssize_t)n &&
	    H5Aread(attr, memtype, out) >= 0)
		rc = 0;
	H5Tclose(type);
	H5Sclose(space);
	H5Aclose(attr);
	return rc;
}

int h5_attr_doubles(hid_t loc, const char *name, double *out, size_t n)
{
	return read_attr(loc, name, H5T_NATIVE_DOUBLE, out, n);
}

int h5_attr_int64s(hid_t loc, const char *name, int64_t *out, size_t n)
{
	return read_attr(loc, name, H5T_NATIVE_INT64, out, n);
}

static int write_attr(hid_t loc, const char *name, hid_t filetype, hid_t memtype,
		      const void *v, size_t n)
{
	if (H5Aexists(loc, name) > 0 && H5Adelete(loc, name) < 0)
		return -1;
	hsize_t dims[1] = { n };
	hid_t space = n == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, dims, NULL);
	if (space < 0)
		return -1;
	hid_t attr = H5Acreate2(loc, name, filetype, space, H5P_DEFAULT, H5P_DEFAULT);
	int rc = attr >= 0 && H5Awrite(attr, memtype, v) >= 0 ? 0 : -1;
	if (attr >= 0)
		H5Aclose(attr);
	H5Sclose(space);
	return rc;
}

int h5_write_attr_doubles(hid_t loc, const char *name, const double *v, size_t n)
{
	return write_attr(loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, v, n);
}

int h5_write_attr_int64s(hid_t loc, const char *name, const int64_t *v, size_t n)
{
	return write_attr(loc, name, H5T_STD_I64LE, H5T_NATIVE_INT64, v, n);
}

int h5_write_attr_uint32s(hid_t loc, const char *name, const uint32_t *v, size_t n)
{
	return write_attr(loc, name, H5T_STD_U32LE, H5T_NATIVE_UINT32, v, n);
}

int h5_write_attr_int32s(hid_t loc, const char *name, const int32_t *v, size_t n)
{
	return write_attr(loc, name, H5T_STD_I32LE, H5T_NATIVE_INT32, v, n);
}

int h5_write_attr_string(hid_t loc, const char *name, const char *text)
{
	if (H5Aexists(loc, name) > 0 && H5Adelete(loc, name) < 0)
		return -1;
	hid_t type = H5Tcopy(H5T_C_S1);
	H5Tset_size(type, strlen(text) + 1);
	H5Tset_strpad(type, H5T_STR_NULLTERM);
	H5Tset_cset(type, H5T_CSET_UTF8);
	hid_t space = H5Screate(H5S_SCALAR);
	hid_t attr = H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
	int rc = attr >= 0 && H5Awrite(attr, type, text) >= 0 ? 0 : -1;
	if (attr >= 0)
		H5Aclose(attr);
	H5Sclose(space);
	H5Tclose(type);
	return rc;
}

int h5_attr_string(hid_t loc, const char *name, char *buf, size_t size)
{
	if (H5Aexists(loc, name) <= 0)
		return -1;
	hid_t attr = H5Aopen(loc, name, H5P_DEFAULT);
	if (attr < 0)
		return -1;
	int rc = -2;
	hid_t type = H5Aget_type(attr);
	if (H5Tget_class(type) == H5T_STRING && !H5Tis_variable_str(type)) {
		size_t len = H5Tget_size(type);
		char *tmp = malloc(len + 1);
		if (tmp && H5Aread(attr, type, tmp) >= 0) {
			tmp[len] = '\0';
			snprintf(buf, size, "%s", tmp);
			rc = 0;
		}
		free(tmp);
	}
	H5Tclose(type);
	H5Aclose(attr);
	return rc;
}

int h5_dataset_dims(hid_t loc, const char *path, int *rank, hsize_t dims[4])
{
	if (H5Lexists(loc, path, H5P_DEFAULT) <= 0)
		return -1;
	H5O_info_t info;
	if (H5Oget_info_by_name(loc, path, &info, H5P_DEFAULT) < 0 || info.type != H5O_TYPE_DATASET)
		return -1;
	hid_t dset = H5Dopen2(loc, path, H5P_DEFAULT);
	if (dset < 0)
		return -1;
	hid_t space = H5Dget_space(dset);
	int r = H5Sget_simple_extent_ndims(space);
	int rc = -1;
	if (r >= 0 && r <= 4) {
		H5Sget_simple_extent_dims(space, dims, NULL);
		*rank = r;
		rc = 0;
	}
	H5Sclose(space);
	H5Dclose(dset);
	return rc;
}

int h5_file_has_format(const char *path, const char *format)
{
	h5_quiet();
	if (access(path, F_OK) != 0 || H5Fis_hdf5(path) <= 0)
		return 0;
	hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
	if (f < 0)
		return 0;
	char found[64] = "";
	h5_attr_string(f, "format", found, sizeof found);
	H5Fclose(f);
	return strcmp(found, format) == 0;
}

int h5_open_checked(const char *path, hid_t *file, struct arepo_err *err)
{
	h5_quiet();
	*file = -1;
	htri_t is = H5Fis_hdf5(path);
	if (is < 0)
		return err_set(err, EXIT_RUNTIME, "%s: cannot read", path);
	if (is == 0)
		return err_set(err, EXIT_BADDATA, "%s: not an HDF5 file", path);
	*file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
	if (*file < 0)
		return err_set(err, EXIT_BADDATA, "%s: cannot open as HDF5 (truncated or damaged)", path);
	return 0;
}

hid_t h5_untimed_plist(hid_t class_id)
{
	hid_t plist = H5Pcreate(class_id);
	H5Pset_obj_track_times(plist, 0);
	return plist;
}

static herr_t find_errno(unsigned n, const H5E_error2_t *e, void *data)
{
	(void)n;
	const char *p = e->desc ? strstr(e->desc, "errno = ") : NULL;
	if (p && !*(int *)data)
		*(int *)data = atoi(p + 8);
	return 0;
}

const char *h5_failure_reason(void)
{
	int found = 0;
	H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, find_errno, &found);
	return found > 0 ? strerror(found) : "HDF5 reported an error";
}
