/* Small HDF5 helpers, and failures of files being written that end
 * cleanly: a reason for every message, no crash in HDF5's shutdown. */
#define _GNU_SOURCE
#include "h5util.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A file failed to close: HDF5 must not be touched again. */
static int h5_broken;

void h5_quiet(void)
{
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void h5_quiet_thread(void)
{
	/* A thread-safe HDF5 keeps the switch per thread; another keeps one
	 * (h5_quiet's) and must not be called while a thread is inside it. */
	hbool_t threadsafe = 0;
	if (H5is_library_threadsafe(&threadsafe) >= 0 && threadsafe)
		h5_quiet();
}

struct reason_walk {
	char *buf;
	size_t size;
	int found_errno, found_text;
};

static herr_t reason_step(unsigned n, const H5E_error2_t *e, void *data)
{
	(void)n;
	struct reason_walk *w = data;
	const char *text = e->desc ? e->desc : "";
	const char *at = strstr(text, "errno = ");
	if (at && !w->found_errno) {
		int code = atoi(at + 8);
		if (code > 0) {
			snprintf(w->buf, w->size, "%s", strerror(code));
			w->found_errno = code;
		}
	}
	if (!w->found_errno && !w->found_text && *text) {
		/* The innermost description, without the details HDF5 appends. */
		size_t len = strcspn(text, ",(");
		while (len > 0 && text[len - 1] == ' ')
			len--;
		snprintf(w->buf, w->size, "%.*s", (int)len, text);
		w->found_text = 1;
	}
	return 0;
}

const char *h5_reason(char *buf, size_t size)
{
	struct reason_walk w = { buf, size, 0, 0 };
	if (size)
		buf[0] = '\0';
	H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, reason_step, &w);
	if (!w.found_errno && !w.found_text)
		snprintf(buf, size, "unknown HDF5 error");
	errno = w.found_errno;
	return buf;
}

/* Closes every object open in file; returns -1 if one failed to close. */
static int close_objects(hid_t file)
{
	const unsigned types = H5F_OBJ_DATASET | H5F_OBJ_GROUP | H5F_OBJ_DATATYPE | H5F_OBJ_ATTR;
	int bad = 0;
	for (int round = 0; round < 4; round++) {
		hid_t ids[64];
		ssize_t n = H5Fget_obj_ids(file, types, sizeof ids / sizeof ids[0], ids);
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			herr_t rc;
			switch (H5Iget_type(ids[i])) {
			case H5I_DATASET: rc = H5Dclose(ids[i]); break;
			case H5I_GROUP: rc = H5Gclose(ids[i]); break;
			case H5I_DATATYPE: rc = H5Tclose(ids[i]); break;
			case H5I_ATTR: rc = H5Aclose(ids[i]); break;
			default: rc = -1;
			}
			bad |= rc < 0;
		}
		if (bad)
			break;
	}
	return bad ? -1 : 0;
}

/* From now on the file's writes go to an anonymous file in memory, of the
 * same size: they cannot fail, and reads see zeros where the disk had data,
 * which closing does not read. */
static void redirect_to_memory(hid_t file)
{
	hid_t fapl = H5Fget_access_plist(file);
	int sec2 = fapl >= 0 && H5Pget_driver(fapl) == H5FD_SEC2;
	if (fapl >= 0)
		H5Pclose(fapl);
	int *fd = NULL;
	if (!sec2 || H5Fget_vfd_handle(file, H5P_DEFAULT, (void **)&fd) < 0 || !fd || *fd < 0)
		return;
	int mem = memfd_create("arepo-discarded", MFD_CLOEXEC);
	if (mem < 0)
		return;
	struct stat st;
	if (fstat(*fd, &st) == 0 && st.st_size > 0 && ftruncate(mem, st.st_size) != 0) {
		close(mem);
		return;
	}
	dup2(mem, *fd);
	close(mem);
}

void h5_discard(hid_t file)
{
	if (file < 0)
		return;
	redirect_to_memory(file);
	int bad = close_objects(file);
	if (H5Fclose(file) < 0 || bad)
		h5_broken = 1;
}

int h5_close_output(hid_t file, char *why, size_t size)
{
	if (H5Fflush(file, H5F_SCOPE_LOCAL) < 0 || close_objects(file) < 0) {
		h5_reason(why, size);
		h5_discard(file);
		return -1;
	}
	if (H5Fclose(file) < 0) {
		h5_reason(why, size);
		h5_broken = 1;
		return -1;
	}
	return 0;
}

hid_t h5_create_output(struct atomic_output *out, const char *path, struct arepo_err *err)
{
	if (atomic_begin(out, path, err))
		return -1;
	h5_quiet();
	hid_t file = H5Fcreate(out->temp, H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
	if (file < 0) {
		char why[256];
		h5_reason(why, sizeof why);
		atomic_abort(out);
		err_set(err, EXIT_RUNTIME, "%s: cannot create: %s", path, why);
	}
	return file;
}

int h5_fail_output(struct atomic_output *out, hid_t file, const char *what, struct arepo_err *err)
{
	char why[256];
	h5_reason(why, sizeof why);
	return h5_fail_output_because(out, file, what, why, err);
}

int h5_fail_output_because(struct atomic_output *out, hid_t file, const char *what, const char *why,
			   struct arepo_err *err)
{
	h5_discard(file);
	atomic_abort(out);
	return err_set(err, EXIT_RUNTIME, "%s: %s: %s", out->target, what, why);
}

int h5_commit_output(struct atomic_output *out, hid_t file, struct arepo_err *err)
{
	char why[256];
	if (h5_close_output(file, why, sizeof why)) {
		atomic_abort(out);
		return err_set(err, EXIT_RUNTIME, "%s: cannot write: %s", out->target, why);
	}
	return atomic_commit(out, err);
}

static void shutdown_at_exit(void)
{
	if (h5_broken)
		return; /* the process ends without HDF5's clean-up, which would crash */
	hid_t ids[64];
	ssize_t n = H5Fget_obj_ids(H5F_OBJ_ALL, H5F_OBJ_FILE, sizeof ids / sizeof ids[0], ids);
	for (ssize_t i = 0; i < n && !h5_broken; i++) {
		unsigned intent;
		if (H5Iis_valid(ids[i]) > 0 && H5Fget_intent(ids[i], &intent) >= 0 &&
		    (intent & H5F_ACC_RDWR) && H5Fflush(ids[i], H5F_SCOPE_LOCAL) < 0)
			h5_discard(ids[i]);
	}
	if (!h5_broken)
		H5close();
}

void h5_own_shutdown(void)
{
	static int done;
	if (done)
		return;
	done = 1;
	/* Only before the library starts; later its own handler is in place. */
	if (H5dont_atexit() >= 0)
		atexit(shutdown_at_exit);
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

hid_t h5_error_aside(int failed)
{
	return failed ? H5Eget_current_stack() : -1;
}

void h5_error_back(hid_t stack)
{
	if (stack >= 0)
		H5Eset_current_stack(stack);
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
	hid_t failure = h5_error_aside(rc);
	if (attr >= 0)
		H5Aclose(attr);
	H5Sclose(space);
	h5_error_back(failure);
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
	hid_t failure = h5_error_aside(rc);
	if (attr >= 0)
		H5Aclose(attr);
	H5Sclose(space);
	H5Tclose(type);
	h5_error_back(failure);
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
	if (access(path, R_OK) != 0)
		return err_set(err, EXIT_RUNTIME, "%s: cannot read: %s", path, strerror(errno));
	htri_t is = H5Fis_hdf5(path);
	if (is < 0) {
		char why[256];
		return err_set(err, EXIT_RUNTIME, "%s: cannot read: %s", path, h5_reason(why, sizeof why));
	}
	if (is == 0)
		return err_set(err, EXIT_BADDATA, "%s: not an HDF5 file", path);
	*file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
	if (*file < 0) {
		char why[256];
		h5_reason(why, sizeof why);
		if (errno == EMFILE || errno == ENFILE || errno == ENOMEM || errno == EIO)
			return err_set(err, EXIT_RUNTIME, "%s: cannot open: %s", path, why);
		return err_set(err, EXIT_BADDATA, "%s: cannot open as HDF5 (truncated or damaged): %s",
			       path, why);
	}
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
