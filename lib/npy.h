/* Export to the layout IRIS's StandardDataset reads: tensors as NumPy .npy
 * files and IRIS's hyper.json with the dataset's units. */
#ifndef AREPO_NPY_H
#define AREPO_NPY_H

#include <hdf5.h>

#include "dataset.h"
#include "log.h"

/* Writes a float32 C-order array of rank dims as a .npy file, atomically. */
int npy_write_floats(const char *npy_path, int rank, const hsize_t *dims, const float *data,
		     struct arepo_err *err);

/* Writes the tensor file's "physical" as a float32 C-order .npy file,
 * r-slab by r-slab, atomically. */
int npy_from_tensor(const char *tensor_path, const char *npy_path, struct arepo_err *err);

/* The dataset's configuration as IRIS's hyper.json, with the computed unit
 * keys IRIS reads (dataset_hyper._*_iris_per_SI, ...). The caller frees it. */
char *iris_hyper_json(const struct dataset *ds);

#endif
