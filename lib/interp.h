/* Resampling a view onto its observer's spherical grid: for every grid
 * point the six values of the nearest cell, slab by slab in r, written to a
 * tensor file as slabs complete. The geometry and the output path are shared;
 * only the nearest-cell search differs between backends. */
#ifndef AREPO_INTERP_H
#define AREPO_INTERP_H

#include <stddef.h>
#include <stdint.h>

#include "h5filter.h"
#include "view.h"

enum interp_backend {
	INTERP_CPU,   /* k-d tree, threads */
	INTERP_BRUTE, /* every cell for every point: the reference, for tests */
	INTERP_CUDA,  /* k-d tree on a GPU; an error when none can be used */
	INTERP_AUTO,  /* CUDA when a GPU can be used, else the CPU with a note */
};

struct interp_options {
	enum interp_backend backend;
	int threads;          /* 0: every CPU this process may use */
	size_t max_memory;    /* bytes for index and slabs; 0: 256 MiB */
	int progress;
	double max_distance;  /* processing units; 0: no limit */
	double radius_factor; /* > 0: points farther than factor * cell radius get fill */
	float fill;
	int device;           /* CUDA: the visible device to use; -1: any */
	const char *gpu_lock; /* CUDA: directory of per-device lock files, or NULL */
	struct codec codec;   /* of the tensor's chunks, compressed by the CPU threads */
};

struct interp_stats {
	enum interp_backend backend; /* the one used: cpu, brute or cuda */
	char device[256];            /* cuda: the GPU */
	double seconds_upload, seconds_kernel, seconds_download; /* cuda */
	int threads;
	int64_t slab_r;          /* r indices per slab */
	uint64_t cells, points;
	double seconds_index, seconds_search, seconds_write, seconds_total;
	double seconds_compress; /* part of seconds_write: compressing, summed over threads */
	double seconds_flush;    /* closing the tensor file, flushing it to disk, renaming it */
	uint64_t tensor_bytes;   /* raw, before compression */
	uint64_t points_at_risk; /* nearest cell farther than the pruning box's boundary */
	double margin_needed;    /* processing units: a margin that makes the tensor exact */
	uint64_t points_filled;
	long peak_rss_kib; /* of the whole process, when done */
};

/* "cpu", "brute" or "cuda": the name --backend and the tensor file use. */
const char *interp_backend_name(enum interp_backend b);

/* Number of CPUs this process may run on. */
int interp_default_threads(void);

/* Resamples v onto its grid and writes the tensor file out_path
 * atomically. source names the view file in the tensor's attributes. */
int interp_view(const struct view *v, const char *source, const char *out_path,
		const struct interp_options *opt, struct interp_stats *stats, struct arepo_err *err);

#endif
