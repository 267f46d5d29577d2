/* Every other build of the SLEEF functions the observation calls, against
 * SLEEF's AVX2 builds (PyTorch's, the bits IRIS has), bit for bit: the
 * scalar ports of lib/sleef_port.h (what the CUDA kernels call) and SLEEF's
 * AVX-512F builds (what lib/vmath.c calls where the CPU has AVX-512F). On
 * the special values, the edges of every branch, strides over every float
 * and dense samples where the observation evaluates them. With --all
 * FUNCTION it checks all 2^32 inputs instead (a minute or so; run by hand). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sleef_port.h"
#include "tap.h"
#include "vmath.h"
#include "vmath_impl.h"

typedef float (*port_fn)(float);
typedef void (*vector_fn)(const float *, float *, size_t);

static const struct {
	const char *name;
	vector_fn avx2, avx512;
	port_fn port; /* NULL: no port (the CUDA kernels do not call it) */
	float lo, hi; /* where the observation's arguments lie, densely sampled */
	float edges[8];
} funcs[] = {
	{ "exp", vmath256_exp, vmath512_exp, sleef_expf, -110.0f, 110.0f,
	  { -104.0f, 100.0f, 0.0f, 88.7f, -87.3f, 1.0f, -1.0f, 0.5f } },
	{ "expm1", vmath256_expm1, vmath512_expm1, sleef_expm1f, -20.0f, 95.0f,
	  { 88.72283172607421875f, -16.635532333438687426013570f, -104.0f, 0.0f, 1e-8f, -1e-8f, 0.34657359f, -0.34657359f } },
	{ "erf", vmath256_erf, vmath512_erf, sleef_erff, -6.0f, 6.0f,
	  { 1.1f, 2.4f, 4.0f, -1.1f, -2.4f, -4.0f, 0.0f, 3.9192059f } },
	{ "sinh", vmath256_sinh, vmath512_sinh, NULL, -90.0f, 90.0f,
	  { 88.0f, 89.41598629223294f, 1.0f, 0.0f, 1e-8f, 0.5f, 20.0f, 2.0f } },
	{ "log1p", vmath256_log1p, vmath512_log1p, NULL, -1.0f, 1e30f,
	  { -1.0f, 0.0f, 1e-8f, 1.0f, 3.4e38f, 1e38f, 0.5f, -0.5f } },
};
#define NFUNCS (sizeof funcs / sizeof funcs[0])

/* The builds checked against AVX2: the port (over the array) and AVX-512F. */
enum build { PORT, AVX512, NBUILDS };
static const char *const build_names[NBUILDS] = { "the scalar port", "SLEEF's AVX-512F build" };
static int have_avx512;

static void port_map(int f, const float *in, float *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = funcs[f].port(in[i]);
}

static int checked(int f, enum build b)
{
	return b == PORT ? funcs[f].port != NULL : have_avx512;
}

enum { BATCH = 1 << 16 };

struct tally {
	uint64_t checked, differ, nan_payload; /* nan_payload: both NaN, other bits */
	uint32_t first_in, first_got, first_want;
};

static void check_batch(int f, enum build b, const float *in, size_t n, float *want, float *got,
			struct tally *t)
{
	funcs[f].avx2(in, want, n);
	if (b == PORT)
		port_map(f, in, got, n);
	else
		funcs[f].avx512(in, got, n);
	for (size_t i = 0; i < n; i++) {
		const uint32_t g = f32_bits(got[i]), w = f32_bits(want[i]);
		t->checked++;
		if (g == w)
			continue;
		if (got[i] != got[i] && want[i] != want[i]) {
			t->nan_payload++;
			continue;
		}
		if (!t->differ++) {
			t->first_in = f32_bits(in[i]);
			t->first_got = g;
			t->first_want = w;
		}
	}
}

static void report(int f, enum build b, const char *what, const struct tally *t)
{
	ok(t->differ == 0 && t->nan_payload == 0, "%s, %s: %s (%llu inputs) give SLEEF's AVX2 bits",
	   funcs[f].name, build_names[b], what, (unsigned long long)t->checked);
	if (t->differ)
		printf("#   %llu differ; the first: input 0x%08x, got 0x%08x, AVX2 0x%08x\n",
		       (unsigned long long)t->differ, t->first_in, t->first_got, t->first_want);
	if (t->nan_payload)
		printf("#   %llu NaNs with other payloads\n", (unsigned long long)t->nan_payload);
}

/* Every float whose bits are i for i = start, start + step, ... (wrapping
 * once), fed in batches. */
static void check_stride(int f, enum build b, uint64_t start, uint64_t step, uint64_t count,
			 struct tally *t, float *in, float *want, float *got)
{
	size_t n = 0;
	for (uint64_t k = 0; k < count; k++) {
		in[n++] = f32_from_bits((uint32_t)(start + k * step));
		if (n == BATCH) {
			check_batch(f, b, in, n, want, got, t);
			n = 0;
		}
	}
	if (n)
		check_batch(f, b, in, n, want, got, t);
}

static int exhaustive(const char *name)
{
	for (size_t f = 0; f < NFUNCS; f++) {
		if (strcmp(name, funcs[f].name))
			continue;
		float *in = malloc(BATCH * sizeof(float)), *want = malloc(BATCH * sizeof(float)),
		      *got = malloc(BATCH * sizeof(float));
		for (enum build b = 0; b < NBUILDS; b++) {
			if (!checked((int)f, b))
				continue;
			struct tally t = { 0 };
			check_stride((int)f, b, 0, 1, (uint64_t)1 << 32, &t, in, want, got);
			report((int)f, b, "every float", &t);
		}
		free(in);
		free(want);
		free(got);
		return tap_done();
	}
	fprintf(stderr, "--all: expected exp, expm1, erf, sinh or log1p\n");
	return 2;
}

/* Special values, and 64 floats either side of each of f's edges. */
static size_t special_inputs(int f, float *in)
{
	static const uint32_t special[] = {
		0x00000000u, 0x80000000u, 0x7f800000u, 0xff800000u, 0x7fc00000u, 0xffc00000u,
		0x7f800001u, 0x7fa00000u, 0xffffffffu, 0x00000001u, 0x80000001u, 0x007fffffu,
		0x807fffffu, 0x00800000u, 0x80800000u, 0x7f7fffffu, 0xff7fffffu, 0x3f800000u,
	};
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
	return n;
}

int main(int argc, char **argv)
{
	struct arepo_err err = { 0 };
	if (vmath_check_cpu(&err)) {
		printf("1..0 # SKIP %s\n", err.msg);
		return 0;
	}
	have_avx512 = vmath_cpu_has(VMATH_AVX512);
	if (argc == 3 && !strcmp(argv[1], "--all"))
		return exhaustive(argv[2]);
	float *in = malloc(BATCH * sizeof(float)), *want = malloc(BATCH * sizeof(float)),
	      *got = malloc(BATCH * sizeof(float));
	if (!in || !want || !got) {
		printf("Bail out! out of memory\n");
		return 1;
	}
	for (size_t f = 0; f < NFUNCS; f++)
		for (enum build b = 0; b < NBUILDS; b++) {
			if (!checked((int)f, b)) {
				if (b == AVX512)
					tap_skip("this CPU has no AVX-512F: SLEEF's AVX-512F builds not checked");
				continue;
			}
			struct tally t = { 0 };
			check_batch((int)f, b, in, special_inputs((int)f, in), want, got, &t);
			report((int)f, b, "special values and branch edges", &t);

			/* About 3 million floats spread over all 2^32 bit patterns
			 * (the AVX-512F build: 17 million). */
			const uint64_t step = b == PORT ? 1433 : 251;
			memset(&t, 0, sizeof t);
			check_stride((int)f, b, 12345, step, ((uint64_t)1 << 32) / step, &t, in, want, got);
			report((int)f, b, "a stride over every float", &t);

			/* A million floats, dense in bits, over the observation's range. */
			memset(&t, 0, sizeof t);
			const uint32_t lo = f32_bits(funcs[f].lo) & 0x7fffffffu, hi = f32_bits(funcs[f].hi);
			/* negative side: bits from 0x80000000 up to -lo's; positive: up to hi's */
			check_stride((int)f, b, 0x80000000u, (lo / 500000) | 1, 500000, &t, in, want, got);
			check_stride((int)f, b, 0, (hi / 500000) | 1, 500000, &t, in, want, got);
			report((int)f, b, "dense samples over the observation's range", &t);
		}
	free(in);
	free(want);
	free(got);
	return tap_done();
}
