/* Small HDF5 helpers: quiet error stack, attributes by name, dataset shapes. */
#ifndef AREPO_H5UTIL_H
#define AREPO_H5UTIL_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

struct arepo_err;
struct atomic_output;

/* Turns off HDF5's automatic error printing: tools report errors themselves,
 * in one line. */
void h5_quiet(void);
/* The same in a thread of one's own that calls HDF5 (under a lock): a
 * thread-safe HDF5 sets it per thread. */
void h5_quiet_thread(void);

/* Puts HDF5's shutdown in the tool's hands; called by cli_init, before any
 * HDF5 call. At exit, files still open for writing are flushed or, when
 * that fails, discarded (h5_discard), and the library is closed only if no
 * file failed to close: HDF5 1.10 leaves such a file half-freed, and its own
 * shutdown would crash on it. */
void h5_own_shutdown(void);

/* Why the last HDF5 call failed, for a message: the system's error text when
 * HDF5 recorded an errno (ENOSPC: "No space left on device"), else HDF5's
 * innermost description, else "unknown HDF5 error". Must be called before any
 * other HDF5 call, which clears the error stack. Returns buf, and leaves the
 * errno found in errno (0 if none). */
const char *h5_reason(char *buf, size_t size);

/* Clean-up after a failed call would clear HDF5's error stack (every API
 * call does): h5_error_aside(failed) sets it aside when failed, and
 * h5_error_back puts it back after the clean-up, for h5_reason. */
hid_t h5_error_aside(int failed);
void h5_error_back(hid_t stack);

/* An HDF5 output written atomically (atomic.h): created under its
 * temporary name, then committed, or failed and removed. Each returns 0 or
 * an exit status with err set ("PATH: what: reason") and nothing left. */
hid_t h5_create_output(struct atomic_output *out, const char *path, struct arepo_err *err);
/* Right after a failed HDF5 call on file: discards it, with the reason. */
int h5_fail_output(struct atomic_output *out, hid_t file, const char *what, struct arepo_err *err);
/* The same with the reason already taken (h5_reason), as a thread other
 * than the failing call's must: HDF5's error stack is per thread. */
int h5_fail_output_because(struct atomic_output *out, hid_t file, const char *what, const char *why,
			   struct arepo_err *err);
/* Flushes, closes (every object open in file) and renames into place. */
int h5_commit_output(struct atomic_output *out, hid_t file, struct arepo_err *err);

/* Closes a file being written and every object open in it. Flushes first:
 * if that fails, the file is discarded. Returns 0, or -1 with the reason
 * (h5_reason) in why. */
int h5_close_output(hid_t file, char *why, size_t size);
/* Closes a file being written after a failure, without writing anything
 * more to its disk: what HDF5 still holds for it goes to an anonymous file
 * in memory, so that closing cannot fail on a full disk. Closes every object
 * open in the file. */
void h5_discard(hid_t file);

/* Reads a numeric attribute of exactly n elements, converted.
 * Returns 0, or -1 if it is absent, -2 if it has another number of elements
 * or is not numeric. */
int h5_attr_doubles(hid_t loc, const char *name, double *out, size_t n);
int h5_attr_int64s(hid_t loc, const char *name, int64_t *out, size_t n);

/* Writes a numeric or string attribute (replacing one of the same name).
 * Return 0 or -1. */
int h5_write_attr_doubles(hid_t loc, const char *name, const double *v, size_t n);
int h5_write_attr_int64s(hid_t loc, const char *name, const int64_t *v, size_t n);
int h5_write_attr_uint32s(hid_t loc, const char *name, const uint32_t *v, size_t n);
int h5_write_attr_int32s(hid_t loc, const char *name, const int32_t *v, size_t n);
int h5_write_attr_string(hid_t loc, const char *name, const char *text);
/* Reads a string attribute into buf; returns 0, -1 absent, -2 not a string. */
int h5_attr_string(hid_t loc, const char *name, char *buf, size_t size);

/* Whether path is an HDF5 file whose root attribute "format" is format:
 * how tools tell a complete output of theirs (outputs are atomic). */
int h5_file_has_format(const char *path, const char *format);

/* Opens path read-only; errors say "not an HDF5 file" or "cannot open as
 * HDF5 (truncated or damaged)" (3), or that it cannot be read (1). */
int h5_open_checked(const char *path, hid_t *file, struct arepo_err *err);

/* A creation property list (dataset or group) that records no modification
 * times, so that the same content gives the same bytes. The caller closes it. */
hid_t h5_untimed_plist(hid_t class_id);

/* Why the last HDF5 call failed, as the operating system said it (the
 * errno HDF5 recorded, e.g. "No space left on device"), or a plain phrase.
 * Call it right after the failing call: the next one clears the record. */
const char *h5_failure_reason(void);

/* Rank and dimensions (up to 4) of the dataset at path under loc.
 * Returns 0, or -1 if there is no dataset there. */
int h5_dataset_dims(hid_t loc, const char *path, int *rank, hsize_t dims[4]);

#endif
