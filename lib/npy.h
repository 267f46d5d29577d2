/* The layout IRIS's StandardDataset reads: tensors as NumPy .npy files and
 * IRIS's hyper.json with the dataset's units; written, and read back. */
#ifndef AREPO_NPY_H
#define AREPO_NPY_H

#include <hdf5.h>
#include <limits.h>
#include <sys/types.h>

#include "dataset.h"
#include "log.h"

/* Writes a float32 C-order array of rank dims as a .npy file, atomically. */
int npy_write_floats(const char *npy_path, int rank, const hsize_t *dims, const float *data,
		     struct arepo_err *err);

/* Writes the tensor file's "physical" as a float32 C-order .npy file,
 * r-slab by r-slab, atomically. */
int npy_from_tensor(const char *tensor_path, const char *npy_path, struct arepo_err *err);

/* A .npy file opened for reading: float32, little-endian, C order. */
struct npy_file {
	int fd;
	int rank;
	hsize_t dims[8];
	size_t count;  /* elements */
	off_t data;    /* where they start */
	char path[PATH_MAX];
};
/* Errors: 1 unreadable, 3 not such a .npy file (the reason named). */
int npy_open(struct npy_file *f, const char *path, struct arepo_err *err);
/* Reads n elements from element at on. */
int npy_read(struct npy_file *f, size_t at, size_t n, float *out, struct arepo_err *err);
void npy_close(struct npy_file *f);

/* The dataset's configuration as IRIS's hyper.json, with the computed unit
 * keys IRIS reads (dataset_hyper._*_iris_per_SI, ...). The caller frees it. */
char *iris_hyper_json(const struct dataset *ds);

#endif
