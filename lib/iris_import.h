/* Importing an IRIS dataset directory (hyper.json, attributes.json and .npy
 * files: StandardDataset's layout, or the pair layout columnized_N.npy and
 * observed_N.npy, as arepo-merge --export-iris writes them) as tensor or
 * observed files, in its order and its units. */
#ifndef AREPO_IRIS_IMPORT_H
#define AREPO_IRIS_IMPORT_H

#include <stddef.h>

#include "dataset.h"
#include "log.h"

struct iris_import {
	enum dataset_kind kind;
	struct iris_units units;   /* hyper.json's, or the processing units' */
	double pair_factors[2];    /* pairs: the factors from processing units */
	int have_pair_factors;
	char **files;              /* written, in attributes.json's order */
	size_t n;
};

/* Whether dir holds hyper.json and attributes.json (and is no dataset of
 * these tools). */
int iris_dir_detect(const char *dir);

/* Writes one tensor or observed file per entry of dir into the directory
 * into, which exists, showing progress if asked. Errors name the file: 2 for a configuration these
 * tools refuse, 3 for malformed files, 1 for I/O. */
int iris_import(const char *dir, const char *into, int progress, struct iris_import *out,
		struct arepo_err *err);
void iris_import_free(struct iris_import *imp);

#endif
