/* Deterministic, counter-based random numbers. A stream is keyed by
 * (seed, name, index, purpose); draw i of a stream is a pure function of the
 * key and i, so a result never depends on which process drew it, or when. */
#ifndef AREPO_RNG_H
#define AREPO_RNG_H

#include <stdint.h>

struct rng_stream {
	uint64_t key;
	uint64_t counter; /* index of the next draw */
};

/* name is usually a snapshot's stem (never its directory, so that a result
 * does not depend on where the snapshot is cached); index a view number or
 * -1; purpose says what the draws are for ("scale", "jitter_lon", ...). */
void rng_init(struct rng_stream *s, uint64_t seed, const char *name,
	      int64_t index, const char *purpose);

/* Draw number i of the stream, without moving it. */
uint64_t rng_u64_at(const struct rng_stream *s, uint64_t i);
uint64_t rng_u64(struct rng_stream *s);
/* Uniform on [0, 1), 53 random bits. */
double rng_uniform(struct rng_stream *s);
/* a + (b - a) * U, as Python's random.uniform. */
double rng_uniform_range(struct rng_stream *s, double a, double b);
/* Standard normal (Box-Muller on two draws). */
double rng_normal(struct rng_stream *s);
/* Uniform integer in [0, n), without modulo bias; n > 0. */
uint64_t rng_below(struct rng_stream *s, uint64_t n);

/* 64-bit FNV-1a of a string, for keys. */
uint64_t rng_hash_string(const char *text);

#endif
