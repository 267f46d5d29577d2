/* The loop that applies one SLEEF vector function over a float32 array,
 * written once for each vector width lib/vmath.c dispatches between. */
#ifndef AREPO_VMATH_MAP_H
#define AREPO_VMATH_MAP_H

#include <string.h>

/* name(in, out, n): whole vectors of LANES, then the rest zero-padded into
 * one more, as torch's vec::map does (the functions act lane by lane, so
 * the grouping does not change a bit). */
#define VMATH_MAP(name, kernel, LANES, load, store)                          \
	void name(const float *in, float *out, size_t n)                     \
	{                                                                    \
		size_t i = 0;                                                \
		for (; i + LANES <= n; i += LANES)                           \
			store(out + i, kernel(load(in + i)));                \
		if (i < n) {                                                 \
			float lane[LANES] = { 0 };                           \
			memcpy(lane, in + i, (n - i) * sizeof *lane);        \
			store(lane, kernel(load(lane)));                     \
			memcpy(out + i, lane, (n - i) * sizeof *lane);       \
		}                                                            \
	}

#endif
