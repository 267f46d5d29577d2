/* Unit tests of the tensor codecs: names, and ranges of a compressed chunk
 * read back exactly, across Blosc's blocks, runs and incompressible noise. */
#include <stdint.h>
#include <stdlib.h>

#include "h5filter.h"
#include "tap.h"

static int parses_as(const char *text, enum codec_kind kind, int level)
{
	struct codec c = { CODEC_NONE, -1 };
	char name[32];
	return codec_parse(text, &c) == 0 && c.kind == kind && (kind == CODEC_NONE || c.level == level) &&
	       codec_parse(codec_name(&c, name, sizeof name), &c) == 0 && c.kind == kind;
}

int main(void)
{
	ok(parses_as("none", CODEC_NONE, 0), "none");
	ok(parses_as("lz4", CODEC_LZ4, 1) && parses_as("lz4:9", CODEC_LZ4, 9), "lz4, lz4:9");
	ok(parses_as("zstd", CODEC_ZSTD, 1) && parses_as("zstd:3", CODEC_ZSTD, 3), "zstd, zstd:3");
	struct codec c;
	const char *bad[] = { "", "gzip", "zstd:", "zstd:0", "zstd:10", "zstd:1x", "none:1", "lz4 ", "ZSTD" };
	int refused = 1;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		refused &= codec_parse(bad[i], &c) == -1;
	ok(refused, "bad names and levels are refused");
	struct codec def;
	ok(codec_parse(CODEC_DEFAULT, &def) == 0 && def.kind == CODEC_ZSTD, "the default is a zstd codec");

	/* 6 channels of 96 x 64 floats: runs of equal values, then noise. */
	const size_t n = 6 * 96 * 64, bytes = n * sizeof(float);
	float *src = malloc(bytes), *got = malloc(bytes);
	unsigned char *packed = malloc(codec_bound(bytes));
	uint64_t x = 88172645463325252ULL;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		src[i] = i < n / 2 ? (float)(i / 37) : (float)(x >> 40) * 1e-3f;
	}
	const struct codec codecs[] = { { CODEC_LZ4, 1 }, { CODEC_ZSTD, 1 }, { CODEC_ZSTD, 9 } };
	for (size_t k = 0; k < sizeof codecs / sizeof codecs[0]; k++) {
		char name[32];
		codec_name(&codecs[k], name, sizeof name);
		size_t stored = codec_compress(&codecs[k], src, bytes, packed);
		ok(stored > 0 && stored < bytes, "%s: %zu bytes compressed to %zu", name, bytes, stored);
		size_t block = codec_block_bytes(packed, stored);
		if (codecs[k].level == 1)
			ok(block > 0 && block < bytes, "%s: several Blosc blocks of %zu bytes", name, block);
		else
			ok(block > 0 && block <= bytes, "%s: Blosc blocks of %zu bytes", name, block);
		int same = codec_read_items(packed, stored, bytes, 0, n, got) == 0 &&
			   memcmp(got, src, bytes) == 0;
		/* Ranges that start and end inside blocks, and span several. */
		for (size_t start = 0; start < n && same; start += 1237)
			for (size_t len = 1; start + len <= n && len < n; len = len * 3 + 5)
				same &= codec_read_items(packed, stored, bytes, start, len, got) == 0 &&
					memcmp(got, src + start, len * sizeof(float)) == 0;
		ok(same, "%s: the whole chunk and ranges of it read back bit for bit", name);
		ok(codec_read_items(packed, stored, bytes, n - 2, 3, got) == -1,
		   "%s: a range past the end is refused", name);
		ok(codec_read_items(packed, stored - 1, bytes, 0, 1, got) == -1 &&
		   codec_read_items(packed, stored, bytes - 4, 0, 1, got) == -1,
		   "%s: a chunk of another size than recorded is refused", name);
	}
	free(src);
	free(got);
	free(packed);
	return tap_done();
}
