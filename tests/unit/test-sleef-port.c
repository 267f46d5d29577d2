/* The scalar ports of lib/sleef_port.h (what the CUDA kernels call) against
 * SLEEF's AVX2 vector functions (lib/vmath.c, what the CPU backend calls),
 * bit for bit: the special values, the edges of every branch, a stride over
 * every float and dense samples where the observation evaluates them.
 * With --all FUNCTION (exp, expm1 or erf) it checks all 2^32 inputs instead
 * (minutes; run by hand). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sleef_port.h"
#include "tap.h"
#include "vmath.h"

typedef float (*port_fn)(float);
typedef void (*vector_fn)(const float *, float *, size_t);

static const struct {
	const char *name;
	port_fn port;
	vector_fn vector;
	float lo, hi; /* where the observation's arguments lie, densely sampled */
	float edges[8];
} funcs[] = {
	{ "exp", sleef_expf, vmath_exp, -110.0f, 110.0f, { -104.0f, 100.0f, 0.0f, 88.7f, -87.3f, 1.0f, -1.0f, 0.5f } },
	{ "expm1", sleef_expm1f, vmath_expm1, -20.0f, 95.0f,
	  { 88.72283172607421875f, -16.635532333438687426013570f, -104.0f, 0.0f, 1e-8f, -1e-8f, 0.34657359f, -0.34657359f } },
	{ "erf", sleef_erff, vmath_erf, -6.0f, 6.0f, { 1.1f, 2.4f, 4.0f, -1.1f, -2.4f, -4.0f, 0.0f, 3.9192059f } },
};
#define NFUNCS (sizeof funcs / sizeof funcs[0])

enum { BATCH = 1 << 16 };

struct tally {
	uint64_t checked, differ, nan_payload; /* nan_payload: both NaN, other bits */
	uint32_t first_in, first_port, first_vector;
};

static void check_batch(int f, const float *in, size_t n, float *want, struct tally *t)
{
	funcs[f].vector(in, want, n);
	for (size_t i = 0; i < n; i++) {
		const float got = funcs[f].port(in[i]);
		const uint32_t g = f32_bits(got), w = f32_bits(want[i]);
		t->checked++;
		if (g == w)
			continue;
		if (got != got && want[i] != want[i]) {
			t->nan_payload++;
			continue;
		}
		if (!t->differ++) {
			t->first_in = f32_bits(in[i]);
			t->first_port = g;
			t->first_vector = w;
		}
	}
}

static void report(int f, const char *what, const struct tally *t)
{
	ok(t->differ == 0 && t->nan_payload == 0, "%s: %s (%llu inputs) give SLEEF's AVX2 bits",
	   funcs[f].name, what, (unsigned long long)t->checked);
	if (t->differ)
		printf("#   %llu differ; the first: input 0x%08x, port 0x%08x, SLEEF 0x%08x\n",
		       (unsigned long long)t->differ, t->first_in, t->first_port, t->first_vector);
	if (t->nan_payload)
		printf("#   %llu NaNs with other payloads\n", (unsigned long long)t->nan_payload);
}

/* Every float whose bits are i for i = start, start + step, ... (wrapping
 * once), fed in batches. */
static void check_stride(int f, uint64_t start, uint64_t step, uint64_t count, struct tally *t,
			 float *in, float *want)
{
	size_t n = 0;
	for (uint64_t k = 0; k < count; k++) {
		in[n++] = f32_from_bits((uint32_t)(start + k * step));
		if (n == BATCH) {
			check_batch(f, in, n, want, t);
			n = 0;
		}
	}
	if (n)
		check_batch(f, in, n, want, t);
}

static int exhaustive(const char *name)
{
	for (size_t f = 0; f < NFUNCS; f++) {
		if (strcmp(name, funcs[f].name))
			continue;
		float *in = malloc(BATCH * sizeof(float)), *want = malloc(BATCH * sizeof(float));
		struct tally t = { 0 };
		check_stride((int)f, 0, 1, (uint64_t)1 << 32, &t, in, want);
		report((int)f, "every float", &t);
		free(in);
		free(want);
		return tap_done();
	}
	fprintf(stderr, "--all: expected exp, expm1 or erf\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct arepo_err err = { 0 };
	if (vmath_check_cpu(&err)) {
		printf("1..0 # SKIP %s\n", err.msg);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "--all"))
		return exhaustive(argv[2]);
	float *in = malloc(BATCH * sizeof(float)), *want = malloc(BATCH * sizeof(float));
	if (!in || !want) {
		printf("Bail out! out of memory\n");
		return 1;
	}
	for (size_t f = 0; f < NFUNCS; f++) {
		/* Special values, and 64 floats either side of each edge. */
		static const uint32_t special[] = {
			0x00000000u, 0x80000000u, 0x7f800000u, 0xff800000u, 0x7fc00000u, 0xffc00000u,
			0x7f800001u, 0x7fa00000u, 0xffffffffu, 0x00000001u, 0x80000001u, 0x007fffffu,
			0x807fffffu, 0x00800000u, 0x80800000u, 0x7f7fffffu, 0xff7fffffu, 0x3f800000u,
		};
		struct tally t = { 0 };
		size_t n = 0;
		for (size_t i = 0; i < sizeof special / sizeof *special; i++)
			in[n++] = f32_from_bits(special[i]);
		for (int e = 0; e < 8; e++)
			for (int s = -1; s <= 1; s += 2) {
				float up = funcs[f].edges[e] * (float)s, down = up;
				for (int k = 0; k < 64; k++) {
					in[n++] = up;
					in[n++] = down;
					up = nextafterf(up, INFINITY);
					down = nextafterf(down, -INFINITY);
				}
			}
		check_batch((int)f, in, n, want, &t);
		report((int)f, "special values and branch edges", &t);

		/* About 3 million floats spread over all 2^32 bit patterns. */
		memset(&t, 0, sizeof t);
		check_stride((int)f, 12345, 1433, ((uint64_t)1 << 32) / 1433, &t, in, want);
		report((int)f, "a stride over every float", &t);

		/* A million floats, dense in bits, over the observation's range. */
		memset(&t, 0, sizeof t);
		const uint32_t lo = f32_bits(funcs[f].lo) & 0x7fffffffu, hi = f32_bits(funcs[f].hi);
		/* negative side: bits from 0x80000000 up to -lo's; positive: up to hi's */
		check_stride((int)f, 0x80000000u, (lo / 500000) | 1, 500000, &t, in, want);
		check_stride((int)f, 0, (hi / 500000) | 1, 500000, &t, in, want);
		report((int)f, "dense samples over the observation's range", &t);
	}
	free(in);
	free(want);
	return tap_done();
}
