/* Lossless compression of tensor chunks: Blosc (LZ4 or Zstandard) as
 * HDF5's registered filter 32001, with the cd_values layout every Blosc
 * plugin reads (h5py's hdf5plugin, Debian's filter plugins). */
#ifndef AREPO_H5FILTER_H
#define AREPO_H5FILTER_H

#include <hdf5.h>
#include <stddef.h>

#define H5FILTER_BLOSC 32001

/* What bench/interp shows fastest end to end among the codecs that keep a
 * tensor under a fifth of its raw size (arepo-tensor(5)). */
#define CODEC_DEFAULT "zstd:1"

enum codec_kind { CODEC_NONE, CODEC_LZ4, CODEC_ZSTD };

struct codec {
	enum codec_kind kind;
	int level; /* Blosc's clevel, 1 to 9 */
};

/* Parses "none", "lz4[:LEVEL]" or "zstd[:LEVEL]" (LEVEL 1 to 9, default
 * 1). Returns 0, or -1 when text is none of these. */
int codec_parse(const char *text, struct codec *c);
/* What codec_parse accepts, for error messages. */
#define CODEC_EXPECTED "expected none, lz4[:LEVEL] or zstd[:LEVEL], LEVEL 1 to 9"
/* The name codec_parse reads back ("none", "lz4:5", "zstd:1"). */
const char *codec_name(const struct codec *c, char *buf, size_t size);

/* Registers the filter with HDF5 (libblosc compresses and decompresses),
 * so that the tools need no plugin. Idempotent; 0 or -1. */
int h5filter_register(void);

/* Adds the codec's filter to a dataset creation property list whose
 * chunks hold chunk_bytes of float32 (nothing for none). 0 or -1. */
int h5filter_set(hid_t dcpl, const struct codec *c, size_t chunk_bytes);

/* The largest compressed size of nbytes. */
size_t codec_bound(size_t nbytes);
/* Compresses nbytes of float32 from src into dst (codec_bound(nbytes)
 * bytes), as the filter stores a chunk. Thread-safe. Returns the
 * compressed size, or 0 on failure. */
size_t codec_compress(const struct codec *c, const void *src, size_t nbytes, void *dst);

/* The compression of a dataset, from its creation property list: 0 with c
 * set when it is none or one of the codecs above, 1 when it is another
 * filter pipeline (c is left none), -1 on failure. what (may be NULL)
 * receives its name: codec_name's, or the filters' names joined by '+'. */
int h5filter_codec_of(hid_t dset, struct codec *c, char *what, size_t size);

/* Reads items [start, start + n) of float32 from a chunk stored by the
 * filter (cbytes bytes, holding nbytes when decompressed) into out.
 * Decompresses only the Blosc blocks these items lie in. 0, or -1 when the
 * chunk is damaged. */
int codec_read_items(const void *chunk, size_t cbytes, size_t nbytes, size_t start, size_t n,
		     float *out);

/* The size of the Blosc blocks of a chunk stored by the filter: the unit
 * codec_read_items decompresses. 0 when the chunk is damaged. */
size_t codec_block_bytes(const void *chunk, size_t cbytes);

#endif
