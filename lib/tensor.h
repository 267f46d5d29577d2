/* Tensor files (format "arepo-tensor/1"): the dataset "physical"
 * (6, r, lon, lat) float32, chunked one r-slab per chunk, compressed or not
 * (h5filter.h), written slab by slab under a temporary name and renamed
 * into place when complete. */
#ifndef AREPO_TENSOR_H
#define AREPO_TENSOR_H

#include <hdf5.h>

#include "atomic.h"
#include "h5filter.h"
#include "view.h"

#define TENSOR_FORMAT "arepo-tensor/1"

struct tensor_writer {
	struct atomic_output out;
	hid_t file, dset;
	int64_t r_steps, lon_steps, lat_steps;
	int raw_chunks; /* native float is the file's little-endian float32 */
	struct codec codec;
	int threads;           /* that compress a slab's chunks */
	unsigned char **cbuf;  /* compressed chunks, TENSOR_SLOTS_PER_THREAD per thread */
	int nbuf;
	double seconds_compress; /* summed over threads */
};

/* Creates the temporary file with the view's metadata copied, its chunks
 * uncompressed. */
int tensor_create(struct tensor_writer *w, const char *path, const struct view_meta *meta,
		  struct arepo_err *err);
/* The same with chunks compressed by codec, on threads threads per slab
 * (each holds TENSOR_SLOTS_PER_THREAD compressed chunks of
 * codec_bound(tensor_chunk_bytes) bytes). */
#define TENSOR_SLOTS_PER_THREAD 3
int tensor_create_coded(struct tensor_writer *w, const char *path, const struct view_meta *meta,
			const struct codec *codec, int threads, struct arepo_err *err);
/* Bytes of one chunk (one r index) of a tensor of geometry g. */
size_t tensor_chunk_bytes(const struct view_geometry *g);
/* The same for values already in the IRIS units u (attribute iris_units,
 * as arepo-normalize records them), compressed by codec (NULL: none) on the
 * calling thread. */
struct iris_units;
int tensor_create_in(struct tensor_writer *w, const char *path, const struct view_meta *meta,
		     const struct iris_units *u, const struct codec *codec, struct arepo_err *err);
/* Writes r indices [r0, r0 + count) from data laid out (count, 6, lon, lat):
 * each r index is one chunk of the file, written as it is or compressed by
 * the writer's threads, in r order (the same bytes for any number of
 * threads). A failure (1) discards the file. */
int tensor_write_slab(struct tensor_writer *w, int64_t r0, int64_t count, const float *data,
		      struct arepo_err *err);
/* Attributes added before the file is closed; -1 on failure (then
 * tensor_fail). */
int tensor_attr_double(struct tensor_writer *w, const char *name, double value);
int tensor_attr_int(struct tensor_writer *w, const char *name, int64_t value);
int tensor_attr_string(struct tensor_writer *w, const char *name, const char *value);
/* After a failed HDF5 call: discards the file and sets err to
 * "TENSOR: what: reason". Returns 1. */
int tensor_fail(struct tensor_writer *w, const char *what, struct arepo_err *err);
/* Closes, flushes and renames into place. Errors (1) discard the file. */
int tensor_commit(struct tensor_writer *w, struct arepo_err *err);
/* Discards the file (nothing more is written to its disk) and removes it. */
void tensor_abort(struct tensor_writer *w);

/* A complete tensor file opened for reading, its shape checked against its
 * metadata. */
struct tensor_reader {
	char path[PATH_MAX];
	hid_t file, dset;
	struct view_meta meta;
	int64_t r_steps, lon_steps, lat_steps;
	struct codec codec;     /* CODEC_NONE also for a pipeline h5filter does not know */
	int threads;            /* that decompress in tensor_read_lon (tensor_open: 1) */
	unsigned char **chunk;  /* per thread, a compressed chunk (made on first use) */
	int nchunk;
	/* Per r index and channel, the Blosc block the last read ended in, so
	 * that reads of consecutive lons decompress each block once. */
	float *cache;
	int64_t *cached;        /* its block's index, -1: none */
	size_t cache_block;     /* bytes per block; 0: no cache */
	int cache_tried;
};

/* Errors: 1 if the file cannot be read, 3 if it is not a complete tensor. */
int tensor_open(struct tensor_reader *t, const char *path, struct arepo_err *err);
/* Reads lon indices [l0, l1), every channel, r and lat, into out laid out
 * (6, r, l1 - l0, lat). A compressed tensor is decompressed by t->threads
 * threads, of each chunk only the Blosc blocks that hold these lons. */
int tensor_read_lon(struct tensor_reader *t, int64_t l0, int64_t l1, float *out,
		    struct arepo_err *err);
void tensor_close(struct tensor_reader *t);

#endif
