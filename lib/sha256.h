/* SHA-256 (FIPS 180-4), streaming: init, any number of updates, final. Used
 * for content keys (the observability grids' key), not for security. */
#ifndef AREPO_SHA256_H
#define AREPO_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256 {
	uint32_t h[8];
	uint64_t bytes;      /* message length so far */
	uint8_t block[64];
	size_t fill;         /* bytes waiting in block */
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t n);
/* Finishes the digest (s must be initialised again before reuse). */
void sha256_final(struct sha256 *s, uint8_t digest[32]);
/* Finishes the digest as 64 lower-case hex digits and a NUL. */
void sha256_final_hex(struct sha256 *s, char hex[65]);

/* One-shot: the hex digest of n bytes. */
void sha256_hex(const void *data, size_t n, char hex[65]);

#endif
