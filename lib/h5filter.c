/* The Blosc filter of tensor chunks (see h5filter.h): codec names, the
 * filter registered with HDF5, and chunk compression for direct writes. */
#include "h5filter.h"

#include <blosc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The filter's revision, cd_values[0] of hdf5-blosc (FILTER_BLOSC_VERSION). */
#define BLOSC_FILTER_REVISION 2
/* No shuffle: a tensor is runs of equal floats, which LZ4 and Zstandard
 * find whole; byte shuffle splits them into four planes of shorter runs
 * (bench/interp's tensor: zstd:1 keeps 11 % of the bytes unshuffled, 27 %
 * shuffled; lz4:1 32 % and 51 %). Blosc's own block size (32 to 64 KiB)
 * lets a reader of a few longitudes decompress little more than those. */
#define TENSOR_SHUFFLE BLOSC_NOSHUFFLE

static const char *compressor_name(enum codec_kind kind)
{
	return kind == CODEC_LZ4 ? BLOSC_LZ4_COMPNAME : BLOSC_ZSTD_COMPNAME;
}

int codec_parse(const char *text, struct codec *c)
{
	struct codec k = { CODEC_NONE, 0 };
	size_t len = strcspn(text, ":");
	if (len == 4 && !strncmp(text, "none", 4))
		k.kind = CODEC_NONE;
	else if (len == 3 && !strncmp(text, "lz4", 3))
		k = (struct codec){ CODEC_LZ4, 1 };
	else if (len == 4 && !strncmp(text, "zstd", 4))
		k = (struct codec){ CODEC_ZSTD, 1 };
	else
		return -1;
	if (text[len]) {
		const char *level = text + len + 1;
		if (k.kind == CODEC_NONE || level[0] < '1' || level[0] > '9' || level[1])
			return -1;
		k.level = level[0] - '0';
	}
	*c = k;
	return 0;
}

const char *codec_name(const struct codec *c, char *buf, size_t size)
{
	if (c->kind == CODEC_NONE)
		snprintf(buf, size, "none");
	else
		snprintf(buf, size, "%s:%d", c->kind == CODEC_LZ4 ? "lz4" : "zstd", c->level);
	return buf;
}

/* Zstandard's Blosc blocks: 128 KiB compress some 20 % faster than the
 * 32 KiB Blosc chooses at level 1 (about 600 against 490 MB/s on the
 * benchmark tensor's chunks, one thread), which takes arepo-interp's
 * whole run under 1.5 s; a reader's block cache (arepo-observe) then
 * takes 384 MiB on the SEDIGISM grid. */
#define BLOCK_ZSTD ((size_t)128 << 10)

size_t codec_bound(size_t nbytes)
{
	return nbytes + BLOSC_MAX_OVERHEAD;
}

size_t codec_compress(const struct codec *c, const void *src, size_t nbytes, void *dst)
{
	if (c->kind == CODEC_NONE || nbytes > BLOSC_MAX_BUFFERSIZE)
		return 0;
	/* One Blosc thread: the callers run one compression per thread. */
	int n = blosc_compress_ctx(c->level, TENSOR_SHUFFLE, sizeof(float), nbytes, src, dst,
				   codec_bound(nbytes), compressor_name(c->kind),
				   c->kind == CODEC_ZSTD ? BLOCK_ZSTD : 0, 1);
	return n > 0 ? (size_t)n : 0;
}

/* HDF5's filter callback, as hdf5-blosc defines it: cd_values[2] is the
 * type size, [4] the level, [5] the shuffle, [6] the compressor code. */
static size_t blosc_filter(unsigned int flags, size_t cd_nelmts, const unsigned int cd_values[],
			   size_t nbytes, size_t *buf_size, void **buf)
{
	void *out;
	size_t outbytes;
	if (flags & H5Z_FLAG_REVERSE) {
		if (blosc_cbuffer_validate(*buf, nbytes, &outbytes) < 0)
			return 0;
		if (!(out = malloc(outbytes ? outbytes : 1)))
			return 0;
		if (outbytes && blosc_decompress_ctx(*buf, out, outbytes, 1) != (int)outbytes) {
			free(out);
			return 0;
		}
	} else {
		size_t typesize = cd_nelmts > 2 ? cd_values[2] : 1;
		int level = cd_nelmts > 4 ? (int)cd_values[4] : 5;
		int shuffle = cd_nelmts > 5 ? (int)cd_values[5] : BLOSC_SHUFFLE;
		int code = cd_nelmts > 6 ? (int)cd_values[6] : BLOSC_BLOSCLZ;
		const char *name;
		if (typesize < 1 || typesize > BLOSC_MAX_TYPESIZE)
			typesize = 1;
		if (nbytes > BLOSC_MAX_BUFFERSIZE || blosc_compcode_to_compname(code, &name) < 0 ||
		    !(out = malloc(codec_bound(nbytes))))
			return 0;
		int n = blosc_compress_ctx(level, shuffle, typesize, nbytes, *buf, out,
					   codec_bound(nbytes), name, 0, 1);
		if (n <= 0) {
			free(out);
			return 0;
		}
		outbytes = (size_t)n;
	}
	free(*buf);
	*buf = out;
	*buf_size = outbytes ? outbytes : 1;
	return outbytes;
}

int h5filter_register(void)
{
	/* Ours even where a plugin is installed (asking HDF5 whether the
	 * filter is available would load the plugin). */
	static int done;
	if (done)
		return 0;
	static const H5Z_class2_t filter = {
		.version = H5Z_CLASS_T_VERS,
		.id = H5FILTER_BLOSC,
		.encoder_present = 1,
		.decoder_present = 1,
		.name = "blosc",
		.filter = blosc_filter,
	};
	if (H5Zregister(&filter) < 0)
		return -1;
	done = 1;
	return 0;
}

int h5filter_set(hid_t dcpl, const struct codec *c, size_t chunk_bytes)
{
	if (c->kind == CODEC_NONE)
		return 0;
	if (h5filter_register())
		return -1;
	const unsigned int cd[7] = {
		BLOSC_FILTER_REVISION, BLOSC_VERSION_FORMAT, sizeof(float), (unsigned int)chunk_bytes,
		(unsigned int)c->level, TENSOR_SHUFFLE, c->kind == CODEC_LZ4 ? BLOSC_LZ4 : BLOSC_ZSTD,
	};
	return H5Pset_filter(dcpl, H5FILTER_BLOSC, H5Z_FLAG_OPTIONAL, 7, cd) < 0 ? -1 : 0;
}

int h5filter_codec_of(hid_t dset, struct codec *c, char *what, size_t size)
{
	*c = (struct codec){ CODEC_NONE, 0 };
	hid_t dcpl = H5Dget_create_plist(dset);
	int n = dcpl >= 0 ? H5Pget_nfilters(dcpl) : -1;
	if (n < 0) {
		if (dcpl >= 0)
			H5Pclose(dcpl);
		return -1;
	}
	int known = n == 0, rc = 0;
	char names[256] = "";
	for (int i = 0; i < n; i++) {
		unsigned int flags, cd[8] = { 0 }, config;
		size_t ncd = 8;
		char name[64] = "";
		H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncd, cd, sizeof name, name,
						 &config);
		if (id < 0) {
			rc = -1;
			break;
		}
		size_t at = strlen(names);
		snprintf(names + at, sizeof names - at, "%s%s", i ? "+" : "",
			 name[0] ? name : "unnamed filter");
		if (n == 1 && id == H5FILTER_BLOSC && ncd >= 7 && cd[2] == sizeof(float) &&
		    cd[5] == TENSOR_SHUFFLE && cd[4] >= 1 && cd[4] <= 9 &&
		    (cd[6] == BLOSC_LZ4 || cd[6] == BLOSC_ZSTD)) {
			*c = (struct codec){ cd[6] == BLOSC_LZ4 ? CODEC_LZ4 : CODEC_ZSTD, (int)cd[4] };
			known = 1;
		}
	}
	H5Pclose(dcpl);
	if (rc)
		return rc;
	if (what) {
		if (known)
			codec_name(c, what, size);
		else
			snprintf(what, size, "%s", names);
	}
	return known ? 0 : 1;
}

int codec_read_items(const void *chunk, size_t cbytes, size_t nbytes, size_t start, size_t n,
		     float *out)
{
	size_t held;
	if (blosc_cbuffer_validate(chunk, cbytes, &held) < 0 || held != nbytes ||
	    (start + n) * sizeof(float) > nbytes)
		return -1;
	if (n == 0)
		return 0;
	return blosc_getitem(chunk, (int)start, (int)n, out) == (int)(n * sizeof(float)) ? 0 : -1;
}

size_t codec_block_bytes(const void *chunk, size_t cbytes)
{
	size_t nbytes, stored, block;
	if (blosc_cbuffer_validate(chunk, cbytes, &nbytes) < 0)
		return 0;
	blosc_cbuffer_sizes(chunk, &nbytes, &stored, &block);
	return block > 0 && block % sizeof(float) == 0 && block <= nbytes ? block : 0;
}
