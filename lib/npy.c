/* Export to IRIS's StandardDataset layout: .npy tensors and hyper.json. */
#include "npy.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "h5util.h"

/* The .npy (version 1.0) header of a float32 C-order array: magic,
 * version, header length; padded with spaces to a multiple of 64 and ended
 * by a newline. Returns its length. */
static int npy_header(char prefix[320], int rank, const hsize_t *dims)
{
	char shape[160] = "";
	size_t at = 0;
	for (int k = 0; k < rank; k++)
		at += (size_t)snprintf(shape + at, sizeof shape - at, "%llu%s", (unsigned long long)dims[k],
				       rank == 1 ? "," : k + 1 < rank ? ", " : "");
	char header[256];
	int len = snprintf(header, sizeof header,
			   "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", shape);
	int total = 10 + len + 1;
	int padded = (total + 63) / 64 * 64;
	memcpy(prefix, "\x93NUMPY\x01\x00", 8);
	prefix[8] = (char)((padded - 10) & 0xff);
	prefix[9] = (char)((padded - 10) >> 8);
	memcpy(prefix + 10, header, (size_t)len);
	memset(prefix + 10 + len, ' ', (size_t)(padded - total));
	prefix[padded - 1] = '\n';
	return padded;
}

int npy_write_floats(const char *npy_path, int rank, const hsize_t *dims, const float *data,
		     struct arepo_err *err)
{
	char prefix[320];
	const int padded = npy_header(prefix, rank, dims);
	size_t count = 1;
	for (int k = 0; k < rank; k++)
		count *= (size_t)dims[k];
	char *buf = malloc((size_t)padded + count * sizeof(float));
	if (!buf)
		return err_set(err, EXIT_RUNTIME, "%s: out of memory", npy_path);
	memcpy(buf, prefix, (size_t)padded);
	memcpy(buf + padded, data, count * sizeof(float));
	int rc = atomic_write_file(npy_path, buf, (size_t)padded + count * sizeof(float), err);
	free(buf);
	return rc;
}

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
	char prefix[320];
	const int padded = npy_header(prefix, 4, dims);

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

int npy_open(struct npy_file *f, const char *path, struct arepo_err *err)
{
	memset(f, 0, sizeof *f);
	snprintf(f->path, sizeof f->path, "%s", path);
	f->fd = open(path, O_RDONLY);
	if (f->fd < 0)
		return err_set(err, EXIT_RUNTIME, "%s: %s", path, strerror(errno));
	unsigned char prefix[12];
	char header[4096];
	ssize_t got = pread(f->fd, prefix, sizeof prefix, 0);
	size_t hlen = 0, start = 0;
	if (got == (ssize_t)sizeof prefix && memcmp(prefix, "\x93NUMPY", 6) == 0) {
		if (prefix[6] == 1) {
			hlen = prefix[8] | (size_t)prefix[9] << 8;
			start = 10;
		} else if (prefix[6] == 2 || prefix[6] == 3) {
			hlen = prefix[8] | (size_t)prefix[9] << 8 | (size_t)prefix[10] << 16 |
			       (size_t)prefix[11] << 24;
			start = 12;
		}
	}
	const char *why = NULL;
	if (!start || hlen >= sizeof header || pread(f->fd, header, hlen, (off_t)start) != (ssize_t)hlen)
		why = "not a NumPy .npy file";
	if (!why) {
		header[hlen] = '\0';
		const char *shape = strstr(header, "'shape':");
		if (!strstr(header, "'descr': '<f4'"))
			why = "not float32 ('<f4')";
		else if (!strstr(header, "'fortran_order': False"))
			why = "not in C order";
		else if (!shape || !(shape = strchr(shape, '(')))
			why = "no shape";
		f->count = 1;
		for (const char *p = shape ? shape + 1 : NULL; !why && p && *p != ')';) {
			char *end;
			unsigned long long d = strtoull(p, &end, 10);
			if (end == p || f->rank == 8) {
				why = "a malformed shape";
				break;
			}
			f->dims[f->rank++] = d;
			f->count *= d;
			p = end;
			while (*p == ',' || *p == ' ')
				p++;
		}
	}
	struct stat st;
	f->data = (off_t)(start + hlen);
	if (!why && (fstat(f->fd, &st) != 0 || st.st_size < f->data + (off_t)(f->count * sizeof(float))))
		why = "shorter than its shape says";
	if (why) {
		npy_close(f);
		return err_set(err, EXIT_BADDATA, "%s: %s", path, why);
	}
	return 0;
}

int npy_read(struct npy_file *f, size_t at, size_t n, float *out, struct arepo_err *err)
{
	size_t bytes = n * sizeof(float);
	ssize_t got = pread(f->fd, out, bytes, f->data + (off_t)(at * sizeof(float)));
	if (got != (ssize_t)bytes)
		return err_set(err, got < 0 ? EXIT_RUNTIME : EXIT_BADDATA, "%s: cannot read: %s", f->path,
			       got < 0 ? strerror(errno) : "truncated");
	return 0;
}

void npy_close(struct npy_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
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
	/* What IRIS's dataset holds besides the SI units: its factors from
	 * processing units (the pair types' two, or the tensors' three). */
	if (ds->kind == DATASET_PAIRS) {
		json_object_set_new(d, "_density_iris_per_processing", json_real(ds->pairs.factors[0]));
		json_object_set_new(d, pair_mode_simple(&ds->pairs) ? "_v_density_iris_per_processing"
								     : "_temperature_iris_per_processing",
				    json_real(ds->pairs.factors[1]));
	} else if (ds->n) {
		double f[3];
		iris_factors(&ds->entries[0].processing, &ds->units, &f[0], &f[1], &f[2]);
		json_object_set_new(d, "_velocity_iris_per_processing", json_real(f[0]));
		json_object_set_new(d, "_density_iris_per_processing", json_real(f[1]));
		json_object_set_new(d, "_temperature_iris_per_processing", json_real(f[2]));
	}
	/* Keys of these tools that IRIS does not define stay out of its file. */
	json_object_del(root, "seed");
	json_object_del(d, "default_dust_temperature");
	json_t *o = json_object_get(root, "observer_hyper");
	if (o)
		json_object_del(o, "mode");
	char *text = json_dumps(root, JSON_INDENT(4) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
	json_decref(root);
	return text;
}
