/* Counter-based random numbers: SplitMix64's finaliser applied to
 * key + (i + 1) * golden gamma, with keys chained through the same mixer. */
#include "rng.h"

#include <math.h>

static const uint64_t golden_gamma = 0x9e3779b97f4a7c15ULL;

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t rng_hash_string(const char *text)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (const unsigned char *p = (const unsigned char *)(text ? text : ""); *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ULL;
	}
	return h;
}

void rng_init(struct rng_stream *s, uint64_t seed, const char *name,
	      int64_t index, const char *purpose)
{
	uint64_t k = mix64(seed + golden_gamma);
	k = mix64(k ^ rng_hash_string(name));
	k = mix64(k ^ (uint64_t)index);
	k = mix64(k ^ rng_hash_string(purpose));
	s->key = k;
	s->counter = 0;
}

uint64_t rng_u64_at(const struct rng_stream *s, uint64_t i)
{
	return mix64(s->key + (i + 1) * golden_gamma);
}

uint64_t rng_u64(struct rng_stream *s)
{
	return rng_u64_at(s, s->counter++);
}

double rng_uniform(struct rng_stream *s)
{
	return (double)(rng_u64(s) >> 11) * 0x1.0p-53;
}

double rng_uniform_range(struct rng_stream *s, double a, double b)
{
	return a + (b - a) * rng_uniform(s);
}

double rng_normal(struct rng_stream *s)
{
	double u1 = 1.0 - rng_uniform(s); /* (0, 1], so log() is finite */
	double u2 = rng_uniform(s);
	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

uint64_t rng_below(struct rng_stream *s, uint64_t n)
{
	/* Reject the top partial block so that every value is equally likely. */
	uint64_t limit = UINT64_MAX - UINT64_MAX % n;
	uint64_t x;
	do
		x = rng_u64(s);
	while (x >= limit);
	return x % n;
}
