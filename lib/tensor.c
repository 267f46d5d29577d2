/* Tensor files: slab-wise writing of "physical" with atomic commit, its
 * chunks compressed by threads and written in order. */
#define _GNU_SOURCE
#include "tensor.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "coords.h"
#include "h5util.h"
#include "parallel.h"

static void free_buffers(struct tensor_writer *w)
{
	for (int t = 0; w->cbuf && t < w->nbuf; t++)
		free(w->cbuf[t]);
	free(w->cbuf);
	w->cbuf = NULL;
}

/* A write failed: the file is discarded, the error says why (HDF5's
 * reason, taken now unless the failing thread took it: why). */
static int writer_fail_because(struct tensor_writer *w, const char *what, const char *why,
			       struct arepo_err *err)
{
	if (why)
		h5_fail_output_because(&w->out, w->file, what, why, err);
	else
		h5_fail_output(&w->out, w->file, what, err);
	w->dset = w->file = -1;
	free_buffers(w);
	return EXIT_RUNTIME;
}

static int writer_fail(struct tensor_writer *w, const char *what, struct arepo_err *err)
{
	return writer_fail_because(w, what, NULL, err);
}

size_t tensor_chunk_bytes(const struct view_geometry *g)
{
	return (size_t)VIEW_CHANNELS * (size_t)g->lon_steps * (size_t)g->lat_steps * sizeof(float);
}

static int create(struct tensor_writer *w, const char *path, const struct view_meta *meta,
		  const struct iris_units *units, const struct codec *codec, int threads,
		  struct arepo_err *err);

int tensor_create(struct tensor_writer *w, const char *path, const struct view_meta *meta,
		  struct arepo_err *err)
{
	return create(w, path, meta, NULL, NULL, 1, err);
}

int tensor_create_in(struct tensor_writer *w, const char *path, const struct view_meta *meta,
		     const struct iris_units *units, const struct codec *codec, struct arepo_err *err)
{
	return create(w, path, meta, units, codec, 1, err);
}

int tensor_create_coded(struct tensor_writer *w, const char *path, const struct view_meta *meta,
			const struct codec *codec, int threads, struct arepo_err *err)
{
	return create(w, path, meta, NULL, codec, threads, err);
}

static int create(struct tensor_writer *w, const char *path, const struct view_meta *meta,
		  const struct iris_units *units, const struct codec *codec, int threads,
		  struct arepo_err *err)
{
	memset(w, 0, sizeof *w);
	w->file = w->dset = -1;
	const struct view_geometry *g = &meta->geometry;
	w->r_steps = g->r_steps;
	w->lon_steps = g->lon_steps;
	w->lat_steps = g->lat_steps;
	w->codec = codec ? *codec : (struct codec){ CODEC_NONE, 0 };
	w->threads = threads > 0 ? threads : 1;
	if (w->codec.kind != CODEC_NONE) {
		w->nbuf = w->threads * TENSOR_SLOTS_PER_THREAD;
		w->cbuf = calloc((size_t)w->nbuf, sizeof *w->cbuf);
		for (int t = 0; w->cbuf && t < w->nbuf; t++)
			if (!(w->cbuf[t] = malloc(codec_bound(tensor_chunk_bytes(g))))) {
				free_buffers(w);
				break;
			}
		if (!w->cbuf)
			return err_set(err, EXIT_RUNTIME, "%s: out of memory for %d compressed "
				       "chunks", path, w->nbuf);
	}
	if ((w->file = h5_create_output(&w->out, path, err)) < 0) {
		free_buffers(w);
		return err->code;
	}
	hsize_t dims[4] = { VIEW_CHANNELS, (hsize_t)g->r_steps, (hsize_t)g->lon_steps,
			    (hsize_t)g->lat_steps };
	hsize_t chunk[4] = { VIEW_CHANNELS, 1, (hsize_t)g->lon_steps, (hsize_t)g->lat_steps };
	hid_t space = H5Screate_simple(4, dims, NULL);
	hid_t dcpl = h5_untimed_plist(H5P_DATASET_CREATE);
	H5Pset_chunk(dcpl, 4, chunk);
	if (h5filter_set(dcpl, &w->codec, tensor_chunk_bytes(g)) == 0)
		w->dset = H5Dcreate2(w->file, "physical", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl,
				     H5P_DEFAULT);
	hid_t failure = h5_error_aside(w->dset < 0);
	H5Pclose(dcpl);
	H5Sclose(space);
	h5_error_back(failure);
	w->raw_chunks = H5Tequal(H5T_NATIVE_FLOAT, H5T_IEEE_F32LE) > 0;
	/* The channels in the processing units they are made in. */
	struct processing_units p;
	struct iris_units u;
	processing_units_or_default(meta->config_json, &p);
	iris_units_from_processing(&p, &u);
	const double recorded[4] = { units ? units->length_per_SI : 0, units ? units->time_per_SI : 0,
				     units ? units->mass_per_SI : 0, units ? units->temperature_per_SI : 0 };
	if (w->dset < 0 || coords_tensor(w->file, w->dset, g, &p, units ? units : &u) ||
	    (units && h5_write_attr_doubles(w->file, "iris_units", recorded, 4)) || h5_write_attr_string(w->file, "format", TENSOR_FORMAT) ||
	    h5_write_attr_string(w->file, "tool", log_tool_name()) ||
	    h5_write_attr_string(w->file, "version", AREPO_VERSION) || view_meta_write(w->file, meta))
		return writer_fail(w, "cannot write", err);
	return 0;
}

/* The chunks of a slab shared by the threads that compress them, through
 * slots of compressed chunks: a thread takes the next chunk whose slot is
 * free, compresses it there, and whoever finds the next chunk to write
 * ready writes it and those after it that are ready, in r order. A thread
 * waits for another only when every slot is taken. */
struct chunk_task {
	struct tensor_writer *w;
	const float *data;
	int64_t r0, count;
	int slots;
	size_t *size;    /* per slot: the compressed size, 0 while not ready */
	pthread_mutex_t lock;
	pthread_cond_t freed;
	int64_t next;    /* chunks handed out */
	int64_t written; /* chunks written */
	int writing;     /* a thread is writing */
	int failed;      /* 1: HDF5's write, 2: the compression */
	char why[256];   /* HDF5's reason, taken in the failing thread */
};

struct chunk_worker {
	struct chunk_task *task;
	double busy;
};

/* Under t->lock: writes the ready chunks from t->written on, the lock
 * released around each write. */
static void write_ready(struct chunk_task *t)
{
	t->writing = 1;
	while (!t->failed && t->written < t->count && t->size[t->written % t->slots]) {
		const int64_t j = t->written;
		const int slot = (int)(j % t->slots);
		hsize_t offset[4] = { 0, (hsize_t)(t->r0 + j), 0, 0 };
		pthread_mutex_unlock(&t->lock);
		herr_t rc = H5Dwrite_chunk(t->w->dset, H5P_DEFAULT, 0, offset, t->size[slot],
					   t->w->cbuf[slot]);
		pthread_mutex_lock(&t->lock);
		if (rc < 0 && !t->failed) {
			/* now: the next HDF5 call clears the error stack */
			h5_reason(t->why, sizeof t->why);
			t->failed = 1;
		}
		t->size[slot] = 0;
		t->written++;
		pthread_cond_broadcast(&t->freed);
	}
	t->writing = 0;
}

static void *compress_chunks(void *arg)
{
	struct chunk_worker *cw = arg;
	struct chunk_task *t = cw->task;
	struct tensor_writer *w = t->w;
	h5_quiet_thread();
	const size_t bytes = (size_t)VIEW_CHANNELS * (size_t)w->lon_steps * (size_t)w->lat_steps *
			     sizeof(float);
	pthread_mutex_lock(&t->lock);
	for (;;) {
		while (!t->failed && t->next < t->count && t->next >= t->written + t->slots)
			pthread_cond_wait(&t->freed, &t->lock);
		if (t->failed || t->next >= t->count)
			break;
		const int64_t i = t->next++;
		const int slot = (int)(i % t->slots);
		pthread_mutex_unlock(&t->lock);
		double t0 = monotonic_seconds();
		size_t n = codec_compress(&w->codec, (const char *)t->data + (size_t)i * bytes, bytes,
					  w->cbuf[slot]);
		cw->busy += monotonic_seconds() - t0;
		pthread_mutex_lock(&t->lock);
		if (n == 0 && !t->failed)
			t->failed = 2;
		t->size[slot] = n;
		if (!t->writing)
			write_ready(t);
	}
	pthread_cond_broadcast(&t->freed);
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

static int write_compressed(struct tensor_writer *w, int64_t r0, int64_t count, const float *data,
			    struct arepo_err *err)
{
	size_t size[w->nbuf];
	memset(size, 0, sizeof size);
	struct chunk_task task = { .w = w, .data = data, .r0 = r0, .count = count,
				   .slots = w->nbuf, .size = size };
	pthread_mutex_init(&task.lock, NULL);
	pthread_cond_init(&task.freed, NULL);
	int threads = w->threads < count ? w->threads : (int)count;
	struct chunk_worker workers[threads];
	for (int t = 0; t < threads; t++)
		workers[t] = (struct chunk_worker){ .task = &task };
	parallel_run(threads, compress_chunks, workers, sizeof workers[0], NULL);
	for (int t = 0; t < threads; t++)
		w->seconds_compress += workers[t].busy;
	pthread_cond_destroy(&task.freed);
	pthread_mutex_destroy(&task.lock);
	if (task.failed == 2) {
		char name[32];
		codec_name(&w->codec, name, sizeof name);
		tensor_abort(w);
		return err_set(err, EXIT_RUNTIME, "%s: cannot compress a chunk with %s", w->out.target,
			       name);
	}
	return task.failed ? writer_fail_because(w, "write failed", task.why, err) : 0;
}

int tensor_write_slab(struct tensor_writer *w, int64_t r0, int64_t count, const float *data,
		      struct arepo_err *err)
{
	size_t chunk_floats = (size_t)VIEW_CHANNELS * (size_t)w->lon_steps * (size_t)w->lat_steps;
	herr_t rc = 0;
	if (w->codec.kind != CODEC_NONE && w->raw_chunks && count > 0) {
		/* Compressed by the writer's threads, then written directly. */
		int failed = write_compressed(w, r0, count, data, err);
		if (failed)
			return failed;
		count = 0;
	}
	for (int64_t r = 0; r < count && rc >= 0; r++) {
		const float *chunk = data + (size_t)r * chunk_floats;
		if (w->raw_chunks) {
			/* No filter, native layout: the bytes go to the file as they are. */
			hsize_t offset[4] = { 0, (hsize_t)(r0 + r), 0, 0 };
			rc = H5Dwrite_chunk(w->dset, H5P_DEFAULT, 0, offset, chunk_floats * sizeof(float), chunk);
		} else {
			hid_t fspace = H5Dget_space(w->dset);
			hsize_t start[4] = { 0, (hsize_t)(r0 + r), 0, 0 };
			hsize_t n[4] = { VIEW_CHANNELS, 1, (hsize_t)w->lon_steps, (hsize_t)w->lat_steps };
			H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, n, NULL);
			hid_t mspace = H5Screate_simple(4, n, NULL);
			rc = H5Dwrite(w->dset, H5T_NATIVE_FLOAT, mspace, fspace, H5P_DEFAULT, chunk);
			hid_t failure = h5_error_aside(rc < 0);
			H5Sclose(mspace);
			H5Sclose(fspace);
			h5_error_back(failure);
		}
	}
	if (rc < 0)
		return writer_fail(w, "write failed", err);
#ifdef SYNC_FILE_RANGE_WRITE
	/* Start writing the slab to disk now, so that the flush at commit only
	 * waits for the last of it. Whole chunks bypass HDF5's cache: they are
	 * in the file already. */
	int *fd;
	if (H5Fget_vfd_handle(w->file, H5P_DEFAULT, (void **)&fd) >= 0 && fd)
		sync_file_range(*fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#endif
	return 0;
}

int tensor_attr_double(struct tensor_writer *w, const char *name, double value)
{
	return h5_write_attr_doubles(w->file, name, &value, 1);
}

int tensor_attr_int(struct tensor_writer *w, const char *name, int64_t value)
{
	return h5_write_attr_int64s(w->file, name, &value, 1);
}

int tensor_attr_string(struct tensor_writer *w, const char *name, const char *value)
{
	return h5_write_attr_string(w->file, name, value);
}

int tensor_fail(struct tensor_writer *w, const char *what, struct arepo_err *err)
{
	return writer_fail(w, what, err);
}

int tensor_commit(struct tensor_writer *w, struct arepo_err *err)
{
	free_buffers(w);
	hid_t file = w->file;
	w->dset = w->file = -1;
	return h5_commit_output(&w->out, file, err);
}

void tensor_abort(struct tensor_writer *w)
{
	free_buffers(w);
	h5_discard(w->file);
	w->dset = w->file = -1;
	atomic_abort(&w->out);
}

int tensor_open(struct tensor_reader *t, const char *path, struct arepo_err *err)
{
	memset(t, 0, sizeof *t);
	t->file = t->dset = -1;
	snprintf(t->path, sizeof t->path, "%s", path);
	int rc = h5_open_checked(path, &t->file, err);
	if (rc)
		return rc;
	char format[64];
	if (h5_attr_string(t->file, "format", format, sizeof format) || strcmp(format, TENSOR_FORMAT)) {
		tensor_close(t);
		return err_set(err, EXIT_BADDATA, "%s: not a tensor file (no format attribute \"%s\")",
			       path, TENSOR_FORMAT);
	}
	if ((rc = view_meta_read(t->file, path, &t->meta, err))) {
		tensor_close(t);
		return rc;
	}
	const struct view_geometry *g = &t->meta.geometry;
	int rank;
	hsize_t dims[4];
	t->dset = H5Dopen2(t->file, "physical", H5P_DEFAULT);
	hid_t type = t->dset >= 0 ? H5Dget_type(t->dset) : -1;
	int is_float = type >= 0 && H5Tget_class(type) == H5T_FLOAT && H5Tget_size(type) == 4;
	if (type >= 0)
		H5Tclose(type);
	if (t->dset < 0 || !is_float || h5_dataset_dims(t->file, "physical", &rank, dims) || rank != 4 ||
	    dims[0] != VIEW_CHANNELS || (int64_t)dims[1] != g->r_steps ||
	    (int64_t)dims[2] != g->lon_steps || (int64_t)dims[3] != g->lat_steps) {
		tensor_close(t);
		return err_set(err, EXIT_BADDATA,
			       "%s: \"physical\" is missing or is not float32 (6, %lld, %lld, %lld) as "
			       "the file's grid says", path, (long long)g->r_steps,
			       (long long)g->lon_steps, (long long)g->lat_steps);
	}
	t->r_steps = g->r_steps;
	t->lon_steps = g->lon_steps;
	t->lat_steps = g->lat_steps;
	/* Chunks of a codec of ours, one r index each, are read by
	 * tensor_read_lon a few longitudes at a time without decompressing the
	 * rest; anything else goes through HDF5's filters. */
	struct codec c;
	hid_t dcpl = H5Dget_create_plist(t->dset);
	hsize_t chunk[4] = { 0 };
	int chunked = dcpl >= 0 && H5Pget_layout(dcpl) == H5D_CHUNKED &&
		      H5Pget_chunk(dcpl, 4, chunk) == 4 && chunk[0] == VIEW_CHANNELS && chunk[1] == 1 &&
		      (int64_t)chunk[2] == g->lon_steps && (int64_t)chunk[3] == g->lat_steps;
	if (dcpl >= 0)
		H5Pclose(dcpl);
	if (chunked && H5Tequal(H5T_NATIVE_FLOAT, H5T_IEEE_F32LE) > 0 &&
	    h5filter_codec_of(t->dset, &c, NULL, 0) == 0 && c.kind != CODEC_NONE)
		t->codec = c;
	t->threads = 1;
	return 0;
}

/* tensor_read_lon of a compressed tensor: threads take r indices in turn,
 * read their chunk as stored (HDF5 one at a time) and decompress from it
 * lons [l0, l1) of each channel. */
struct lon_read {
	struct tensor_reader *t;
	int64_t l0, l1;
	float *out;
	atomic_llong next;
	pthread_mutex_t hdf5;
	atomic_int failed; /* the first: 1 HDF5's read (why says why), 2 the chunk */
	char why[256];     /* HDF5's reason, taken in the failing thread */
};

struct lon_reader {
	struct lon_read *job;
	unsigned char *chunk;
};

/* Items [from, from + n) of a compressed chunk into to, through the cache
 * of (r, channel) slot: a block the range ends inside is decompressed whole
 * and kept, for the next read starts there. */
static int read_items(struct tensor_reader *t, size_t slot, const unsigned char *chunk,
		      size_t stored, size_t bytes, size_t from, size_t n, float *to)
{
	if (!t->cache_block)
		return codec_read_items(chunk, stored, bytes, from, n, to);
	const size_t per = t->cache_block / sizeof(float), total = bytes / sizeof(float);
	float *kept = t->cache + slot * per;
	for (const size_t end = from + n; from < end;) {
		const int64_t b = (int64_t)(from / per);
		const size_t b0 = (size_t)b * per, b1 = b0 + per < total ? b0 + per : total;
		const size_t upto = end < b1 ? end : b1;
		if (t->cached[slot] != b && upto < b1) {
			if (codec_read_items(chunk, stored, bytes, b0, b1 - b0, kept))
				return -1;
			t->cached[slot] = b;
		}
		if (t->cached[slot] == b)
			memcpy(to, kept + (from - b0), (upto - from) * sizeof(float));
		else if (codec_read_items(chunk, stored, bytes, from, upto - from, to))
			return -1;
		to += upto - from;
		from = upto;
	}
	return 0;
}

/* The first failure is the one reported. */
static void first_failure(atomic_int *failed, int bad)
{
	int none = 0;
	atomic_compare_exchange_strong(failed, &none, bad);
}

static void *read_lon_chunks(void *arg)
{
	const struct lon_reader *me = arg;
	struct lon_read *job = me->job;
	struct tensor_reader *t = job->t;
	const size_t plane = (size_t)t->lon_steps * (size_t)t->lat_steps,
		     wide = (size_t)(job->l1 - job->l0) * (size_t)t->lat_steps;
	const size_t bytes = (size_t)VIEW_CHANNELS * plane * sizeof(float);
	h5_quiet_thread();
	for (;;) {
		long long r = atomic_fetch_add(&job->next, 1);
		if (r >= t->r_steps || atomic_load(&job->failed))
			break;
		hsize_t offset[4] = { 0, (hsize_t)r, 0, 0 }, stored = 0;
		uint32_t mask = 0;
		pthread_mutex_lock(&job->hdf5);
		int bad = atomic_load(&job->failed) ? 3 :
			  H5Dget_chunk_storage_size(t->dset, offset, &stored) < 0 ? 1 :
			  stored == 0 || stored > codec_bound(bytes) ? 2 :
			  H5Dread_chunk(t->dset, H5P_DEFAULT, offset, &mask, me->chunk) < 0 ? 1 : 0;
		if (bad == 1) /* now, in this thread: HDF5's error stack is per thread */
			h5_reason(job->why, sizeof job->why);
		if (bad && bad != 3)
			first_failure(&job->failed, bad);
		pthread_mutex_unlock(&job->hdf5);
		for (int c = 0; c < VIEW_CHANNELS && !bad; c++) {
			float *to = job->out + ((size_t)c * (size_t)t->r_steps + (size_t)r) * wide;
			size_t from = (size_t)c * plane + (size_t)job->l0 * (size_t)t->lat_steps;
			if (mask & 1) { /* the filter was skipped: stored as it is */
				if (stored != bytes)
					bad = 2;
				else
					memcpy(to, (const float *)me->chunk + from, wide * sizeof(float));
			} else if (read_items(t, (size_t)r * VIEW_CHANNELS + (size_t)c, me->chunk, stored,
					      bytes, from, wide, to)) {
				bad = 2;
			}
		}
		if (bad) {
			if (bad != 3)
				first_failure(&job->failed, bad);
			break;
		}
	}
	return NULL;
}

/* The block cache, when it takes at most TENSOR_CACHE_MAX bytes, its
 * blocks as large as chunk 0's Blosc blocks (it holds item ranges, right
 * whatever the blocks of other chunks are). */
#define TENSOR_CACHE_MAX ((size_t)384 << 20)
static void cache_begin(struct tensor_reader *t)
{
	t->cache_tried = 1;
	hsize_t offset[4] = { 0 }, stored = 0;
	uint32_t mask = 0;
	const size_t slots = (size_t)t->r_steps * VIEW_CHANNELS;
	if (H5Dget_chunk_storage_size(t->dset, offset, &stored) < 0 || stored == 0 ||
	    stored > codec_bound(tensor_chunk_bytes(&t->meta.geometry)) ||
	    H5Dread_chunk(t->dset, H5P_DEFAULT, offset, &mask, t->chunk[0]) < 0 || (mask & 1)) {
		H5Eclear2(H5E_DEFAULT);
		return;
	}
	size_t block = codec_block_bytes(t->chunk[0], stored);
	if (!block || slots * block > TENSOR_CACHE_MAX || !(t->cache = malloc(slots * block)) ||
	    !(t->cached = malloc(slots * sizeof *t->cached))) {
		free(t->cache);
		t->cache = NULL;
		return;
	}
	for (size_t i = 0; i < slots; i++)
		t->cached[i] = -1;
	t->cache_block = block;
}

static int read_lon_compressed(struct tensor_reader *t, int64_t l0, int64_t l1, float *out,
			       char *why, size_t size)
{
	const int threads = t->threads < 1 ? 1 : t->threads > t->r_steps ? (int)t->r_steps : t->threads;
	if (t->nchunk < threads) {
		unsigned char **more = realloc(t->chunk, (size_t)threads * sizeof *more);
		if (!more)
			return 4;
		t->chunk = more;
		const struct view_geometry *g = &t->meta.geometry;
		for (; t->nchunk < threads; t->nchunk++)
			if (!(t->chunk[t->nchunk] = malloc(codec_bound(tensor_chunk_bytes(g)))))
				return 4;
	}
	if (!t->cache_tried)
		cache_begin(t);
	struct lon_read job = { .t = t, .l0 = l0, .l1 = l1, .out = out };
	atomic_init(&job.next, 0);
	atomic_init(&job.failed, 0);
	pthread_mutex_init(&job.hdf5, NULL);
	struct lon_reader readers[threads];
	for (int i = 0; i < threads; i++)
		readers[i] = (struct lon_reader){ .job = &job, .chunk = t->chunk[i] };
	parallel_run(threads, read_lon_chunks, readers, sizeof readers[0], NULL);
	pthread_mutex_destroy(&job.hdf5);
	if (atomic_load(&job.failed) == 1)
		snprintf(why, size, "%s", job.why);
	return atomic_load(&job.failed);
}

int tensor_read_lon(struct tensor_reader *t, int64_t l0, int64_t l1, float *out,
		    struct arepo_err *err)
{
	if (t->codec.kind != CODEC_NONE) {
		char why[256] = "a damaged compressed chunk";
		const int failed = read_lon_compressed(t, l0, l1, out, why, sizeof why);
		if (!failed)
			return 0;
		if (failed == 4)
			return err_set(err, EXIT_RUNTIME, "%s: out of memory", t->path);
		return err_set(err, EXIT_BADDATA, "%s: cannot read \"physical\" (truncated or "
			       "damaged): %s", t->path, why);
	}
	hsize_t start[4] = { 0, 0, (hsize_t)l0, 0 };
	hsize_t count[4] = { VIEW_CHANNELS, (hsize_t)t->r_steps, (hsize_t)(l1 - l0),
			     (hsize_t)t->lat_steps };
	hid_t fspace = H5Dget_space(t->dset);
	H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL);
	hid_t mspace = H5Screate_simple(4, count, NULL);
	herr_t rc = H5Dread(t->dset, H5T_NATIVE_FLOAT, mspace, fspace, H5P_DEFAULT, out);
	char why[256] = "";
	if (rc < 0)
		h5_reason(why, sizeof why);
	H5Sclose(mspace);
	H5Sclose(fspace);
	if (rc < 0)
		return err_set(err, EXIT_BADDATA, "%s: cannot read \"physical\" (truncated or "
			       "damaged): %s", t->path, why);
	return 0;
}

void tensor_close(struct tensor_reader *t)
{
	if (t->dset >= 0)
		H5Dclose(t->dset);
	if (t->file >= 0)
		H5Fclose(t->file);
	t->dset = t->file = -1;
	view_meta_free(&t->meta);
	for (int i = 0; i < t->nchunk; i++)
		free(t->chunk[i]);
	free(t->chunk);
	t->chunk = NULL;
	t->nchunk = 0;
	free(t->cache);
	free(t->cached);
	t->cache = NULL;
	t->cached = NULL;
	t->cache_block = 0;
	t->cache_tried = 0;
}
