/* Export to IRIS's StandardDataset layout: .npy tensors and hyper.json. */
#include "npy.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "h5util.h"

int npy_from_tensor(const char *tensor_path, const char *npy_path, struct arepo_err *err)
{
	h5_quiet();
	hid_t file = H5Fopen(tensor_path, H5F_ACC_RDONLY, H5P_DEFAULT);
	hid_t dset = file >= 0 ? H5Dopen2(file, "physical", H5P_DEFAULT) : -1;
	if (dset < 0) {
		if (file >= 0)
			H5Fclose(file);
		return err_set(err, EXIT_BADDATA, "%s: cannot read physical", tensor_path);
	}
	hid_t space = H5Dget_space(dset);
	hsize_t dims[4] = { 0 };
	H5Sget_simple_extent_dims(space, dims, NULL);
	char header[256];
	int len = snprintf(header, sizeof header,
			   "{'descr': '<f4', 'fortran_order': False, 'shape': (%llu, %llu, %llu, %llu), }",
			   (unsigned long long)dims[0], (unsigned long long)dims[1],
			   (unsigned long long)dims[2], (unsigned long long)dims[3]);
	/* Version 1.0: magic, version, header length; the whole header padded
	 * with spaces to a multiple of 64 and ended by a newline. */
	int total = 10 + len + 1;
	int padded = (total + 63) / 64 * 64;
	char prefix[320];
	memcpy(prefix, "\x93NUMPY\x01\x00", 8);
	prefix[8] = (char)((padded - 10) & 0xff);
	prefix[9] = (char)((padded - 10) >> 8);
	memcpy(prefix + 10, header, (size_t)len);
	memset(prefix + 10 + len, ' ', (size_t)(padded - total));
	prefix[padded - 1] = '\n';

	struct atomic_output out;
	int rc = atomic_begin(&out, npy_path, err);
	int fd = rc ? -1 : open(out.temp, O_WRONLY | O_CREAT | O_EXCL, 0666);
	if (!rc && fd < 0)
		rc = err_set(err, EXIT_RUNTIME, "%s: cannot create: %s", npy_path, strerror(errno));
	size_t plane = (size_t)dims[2] * (size_t)dims[3];
	float *slab = malloc(plane * (size_t)dims[0] * sizeof(float));
	if (!rc && !slab)
		rc = err_set(err, EXIT_RUNTIME, "%s: out of memory", npy_path);
	errno = 0;
	if (!rc && write(fd, prefix, (size_t)padded) != padded)
		rc = err_set(err, EXIT_RUNTIME, "%s: cannot write: %s", npy_path, strerror(errno ? errno : ENOSPC));
	hsize_t count[4] = { dims[0], 1, dims[2], dims[3] };
	hid_t mspace = H5Screate_simple(4, count, NULL);
	for (hsize_t r = 0; r < dims[1] && !rc; r++) {
		hsize_t start[4] = { 0, r, 0, 0 };
		H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, count, NULL);
		if (H5Dread(dset, H5T_NATIVE_FLOAT, mspace, space, H5P_DEFAULT, slab) < 0) {
			rc = err_set(err, EXIT_BADDATA, "%s: cannot read physical", tensor_path);
			break;
		}
		for (hsize_t c = 0; c < dims[0] && !rc; c++) {
			off_t at = (off_t)padded + (off_t)(((c * dims[1] + r) * plane) * sizeof(float));
			size_t bytes = plane * sizeof(float);
			errno = 0;
			if (pwrite(fd, slab + c * plane, bytes, at) != (ssize_t)bytes)
				rc = err_set(err, EXIT_RUNTIME, "%s: cannot write: %s", npy_path,
					     strerror(errno ? errno : ENOSPC));
		}
	}
	H5Sclose(mspace);
	H5Sclose(space);
	H5Dclose(dset);
	H5Fclose(file);
	free(slab);
	if (fd >= 0 && close(fd) != 0 && !rc)
		rc = err_set(err, EXIT_RUNTIME, "%s: cannot write: %s", npy_path, strerror(errno));
	if (rc) {
		if (out.active)
			atomic_abort(&out);
		return rc;
	}
	return atomic_commit(&out, err);
}

char *iris_hyper_json(const struct dataset *ds)
{
	json_error_t jerr;
	json_t *root = json_loads(ds->config_json ? ds->config_json : "{}", 0, &jerr);
	if (!root)
		root = json_object();
	json_t *d = json_object_get(root, "dataset_hyper");
	if (!d) {
		d = json_object();
		json_object_set_new(root, "dataset_hyper", d);
	}
	json_t *w = json_object_get(root, "writer_hyper");
	double meters_per_parsec = 3.08567758128e16, length_cm = 1e7;
	json_t *v = json_object_get(d, "meters_per_parsec");
	if (json_is_number(v))
		meters_per_parsec = json_number_value(v);
	v = w ? json_object_get(w, "length_cm_per_processing") : NULL;
	if (json_is_number(v))
		length_cm = json_number_value(v);
	json_object_set_new(d, "_length_iris_per_SI", json_real(ds->units.length_per_SI));
	json_object_set_new(d, "_time_iris_per_SI", json_real(ds->units.time_per_SI));
	json_object_set_new(d, "_mass_iris_per_SI", json_real(ds->units.mass_per_SI));
	json_object_set_new(d, "_temperature_iris_per_SI", json_real(ds->units.temperature_per_SI));
	json_object_set_new(d, "_length_iris_per_parsec",
			    json_real(ds->units.length_per_SI * meters_per_parsec));
	if (w)
		json_object_set_new(w, "_length_parsec_per_processing",
				    json_real(length_cm / (100 * meters_per_parsec)));
	json_object_del(root, "seed");
	char *text = json_dumps(root, JSON_INDENT(4) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
	json_decref(root);
	return text;
}
