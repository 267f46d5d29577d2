/* Unit tests of the counter-based random streams. */
#include <math.h>
#include <stdint.h>

#include "rng.h"
#include "tap.h"

/* The textbook sequential SplitMix64, written independently of lib/rng.c. */
static uint64_t splitmix_state;
static uint64_t splitmix_next(void)
{
	uint64_t z = (splitmix_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

int main(void)
{
	struct rng_stream s, t;
	rng_init(&s, 1216, "snap_042", 3, "scale");

	splitmix_state = s.key;
	int same = 1;
	for (uint64_t i = 0; i < 1000; i++)
		same &= rng_u64_at(&s, i) == splitmix_next();
	ok(same, "draw i is the (i+1)-th output of SplitMix64 seeded with the stream key");

	rng_init(&t, 1216, "snap_042", 3, "scale");
	ok(s.key == t.key && rng_u64_at(&s, 5) == rng_u64_at(&t, 5), "same key, same draws");
	struct { uint64_t seed; const char *name; int64_t view; const char *purpose; } other[] = {
		{ 1217, "snap_042", 3, "scale" }, { 1216, "snap_043", 3, "scale" },
		{ 1216, "snap_042", 4, "scale" }, { 1216, "snap_042", 3, "density" },
		{ 1216, "snap_042", -1, "scale" },
	};
	for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
		rng_init(&t, other[i].seed, other[i].name, other[i].view, other[i].purpose);
		ok(t.key != s.key && rng_u64_at(&t, 0) != rng_u64_at(&s, 0),
		   "changing one part of the key (%zu) changes the draws", i);
	}

	/* Order independence: interleaving two streams changes nothing. */
	struct rng_stream a, b;
	rng_init(&a, 1, "x", 0, "p");
	rng_init(&b, 1, "y", 0, "p");
	double a_alone[4], b_alone[4], mixed_a[4], mixed_b[4];
	for (int i = 0; i < 4; i++)
		a_alone[i] = rng_uniform(&a);
	for (int i = 0; i < 4; i++)
		b_alone[i] = rng_uniform(&b);
	rng_init(&a, 1, "x", 0, "p");
	rng_init(&b, 1, "y", 0, "p");
	for (int i = 0; i < 4; i++) {
		mixed_b[i] = rng_uniform(&b);
		mixed_a[i] = rng_uniform(&a);
	}
	ok(memcmp(a_alone, mixed_a, sizeof a_alone) == 0 && memcmp(b_alone, mixed_b, sizeof b_alone) == 0,
	   "draws do not depend on the order in which streams are used");

	uint64_t before = s.counter;
	(void)rng_u64_at(&s, 99);
	is_int(s.counter, before, "rng_u64_at does not move the stream");
	rng_u64(&s);
	is_int(s.counter, before + 1, "rng_u64 moves it by one");

	/* Distributions. */
	const int n = 1000000;
	double sum = 0, sum2 = 0, lo = 1, hi = 0;
	rng_init(&s, 5, "dist", 0, "uniform");
	for (int i = 0; i < n; i++) {
		double u = rng_uniform(&s);
		sum += u;
		sum2 += u * u;
		lo = u < lo ? u : lo;
		hi = u > hi ? u : hi;
	}
	ok(lo >= 0 && hi < 1, "uniform draws lie in [0, 1)");
	ok(fabs(sum / n - 0.5) < 0.002, "uniform mean %.5f is 1/2", sum / n);
	ok(fabs(sum2 / n - sum * sum / n / n - 1.0 / 12) < 0.001, "uniform variance is 1/12");

	rng_init(&s, 5, "dist", 0, "range");
	rng_init(&t, 5, "dist", 0, "range");
	double u = rng_uniform(&t);
	is_double(rng_uniform_range(&s, 0.25, 1.0), 0.25 + (1.0 - 0.25) * u,
		  "uniform_range is a + (b - a) * U, as Python's random.uniform");

	rng_init(&s, 5, "dist", 0, "normal");
	sum = sum2 = 0;
	for (int i = 0; i < n; i++) {
		double z = rng_normal(&s);
		sum += z;
		sum2 += z * z;
	}
	ok(fabs(sum / n) < 0.005 && fabs(sum2 / n - 1) < 0.01, "normal draws have mean 0, variance 1");

	rng_init(&s, 5, "dist", 0, "below");
	int counts[7] = { 0 }, in_range = 1;
	for (int i = 0; i < 70000; i++) {
		uint64_t k = rng_below(&s, 7);
		if (k >= 7)
			in_range = 0;
		else
			counts[k]++;
	}
	double chi2 = 0;
	for (int k = 0; k < 7; k++)
		chi2 += (counts[k] - 10000.0) * (counts[k] - 10000.0) / 10000.0;
	ok(in_range, "rng_below(7) stays below 7");
	ok(chi2 < 22.5, "rng_below(7) is uniform (chi-square %.1f, 6 dof, p > 0.001)", chi2);
	return tap_done();
}
