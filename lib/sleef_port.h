/* The observation's float32 exp, expm1 and erf with the bits of SLEEF
 * 3.5.1's AVX2 u10 vector functions (lib/vmath.c), one lane at a time, for
 * the CUDA kernels (and the CPU tests that check them). SLEEF's algorithms
 * are straight-line float32 code whose multiply-adds are fused on AVX2:
 * every fmaf below is one of those, every other operation rounds on its
 * own, so the sources must be compiled without contraction (-ffp-contract=
 * off, nvcc -fmad=false) and without flush-to-zero. */
#ifndef AREPO_SLEEF_PORT_H
#define AREPO_SLEEF_PORT_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "hostdevice.h"

/* A value as an unevaluated sum of two floats (SLEEF's "double-float"). */
struct sp_df {
	float x, y;
};

/* AVX2's float -> int32 conversion (vcvtps2dq): to nearest, ties to even;
 * NaN and out-of-range values give INT32_MIN. */
HOST_DEVICE static inline int32_t sp_rint(float x)
{
	if (!(x > -2147483648.0f && x < 2147483648.0f))
		return INT32_MIN;
	return (int32_t)rintf(x);
}

/* 2^q as SLEEF builds it, from the exponent bits alone (wrapping). */
HOST_DEVICE static inline float sp_pow2i(int32_t q)
{
	return f32_from_bits(((uint32_t)q + 0x7fu) << 23);
}

/* d 2^e in two steps (SLEEF's vldexp2). */
HOST_DEVICE static inline float sp_ldexp2(float d, int32_t e)
{
	const int32_t half = e >> 1; /* arithmetic shift, as vpsrad */
	return d * sp_pow2i(half) * sp_pow2i((int32_t)((uint32_t)e - (uint32_t)half));
}

/* x with the sign of x flipped where y is negative (vmulsign). */
HOST_DEVICE static inline float sp_mulsign(float x, float y)
{
	return f32_from_bits(f32_bits(x) ^ (f32_bits(y) & 0x80000000u));
}

HOST_DEVICE static inline struct sp_df sp_df_make(float x, float y)
{
	struct sp_df r = { x, y };
	return r;
}

/* A double constant as SLEEF's vcast_vf2_d splits it. */
HOST_DEVICE static inline struct sp_df sp_df_const(double d)
{
	return sp_df_make((float)d, (float)(d - (double)(float)d));
}

/* dfadd_vf2_vf_vf2: x + y, |x| >= |y| */
HOST_DEVICE static inline struct sp_df sp_df_add_f_df(float x, struct sp_df y)
{
	struct sp_df r;
	r.x = x + y.x;
	r.y = ((x - r.x) + y.x) + y.y;
	return r;
}

/* dfadd2_vf2_vf2_vf: x + y, any magnitudes */
HOST_DEVICE static inline struct sp_df sp_df_add2_df_f(struct sp_df x, float y)
{
	struct sp_df r;
	r.x = x.x + y;
	const float v = r.x - x.x;
	r.y = (x.x - (r.x - v)) + (y - v);
	r.y = r.y + x.y;
	return r;
}

/* dfadd2_vf2_vf2_vf2 */
HOST_DEVICE static inline struct sp_df sp_df_add2_df_df(struct sp_df x, struct sp_df y)
{
	struct sp_df r;
	r.x = x.x + y.x;
	const float v = r.x - x.x;
	r.y = (x.x - (r.x - v)) + (y.x - v);
	r.y = r.y + (x.y + y.y);
	return r;
}

/* dfmul_vf2_vf_vf (with FMA) */
HOST_DEVICE static inline struct sp_df sp_df_mul_f_f(float x, float y)
{
	struct sp_df r;
	r.x = x * y;
	r.y = fmaf(x, y, -r.x);
	return r;
}

/* dfmul_vf2_vf2_vf (with FMA) */
HOST_DEVICE static inline struct sp_df sp_df_mul_df_f(struct sp_df x, float y)
{
	struct sp_df r;
	r.x = x.x * y;
	r.y = fmaf(x.y, y, fmaf(x.x, y, -r.x));
	return r;
}

/* dfmul_vf2_vf2_vf2 (with FMA) */
HOST_DEVICE static inline struct sp_df sp_df_mul_df_df(struct sp_df x, struct sp_df y)
{
	struct sp_df r;
	r.x = x.x * y.x;
	r.y = fmaf(x.x, y.y, fmaf(x.y, y.x, fmaf(x.x, y.x, -r.x)));
	return r;
}

/* dfsqu_vf2_vf2 (with FMA) */
HOST_DEVICE static inline struct sp_df sp_df_squ(struct sp_df x)
{
	struct sp_df r;
	r.x = x.x * x.x;
	r.y = fmaf(x.x + x.x, x.y, fmaf(x.x, x.x, -r.x));
	return r;
}

#define SP_R_LN2F 1.442695040888963407359924681001892137426645954152985934135449406931f
#define SP_L2UF 0.693145751953125f
#define SP_L2LF 1.428606765330187045e-06f

/* exp(d) as a double-float, with the -104 underflow cut (SLEEF's expk2f). */
HOST_DEVICE static inline struct sp_df sp_expk2(struct sp_df d)
{
	const int32_t q = sp_rint((d.x + d.y) * SP_R_LN2F);
	const float qf = (float)q;
	struct sp_df s = sp_df_add2_df_f(d, qf * -SP_L2UF);
	s = sp_df_add2_df_f(s, qf * -SP_L2LF);
	float u = +0.1980960224e-3f;
	u = fmaf(u, s.x, +0.1394256484e-2f);
	u = fmaf(u, s.x, +0.8333456703e-2f);
	u = fmaf(u, s.x, +0.4166637361e-1f);
	struct sp_df t = sp_df_add2_df_f(sp_df_mul_df_f(s, u), +0.166666659414234244790680580464e+0f);
	t = sp_df_add2_df_f(sp_df_mul_df_df(s, t), 0.5f);
	t = sp_df_add2_df_df(s, sp_df_mul_df_df(sp_df_squ(s), t));
	t = sp_df_add_f_df(1.0f, t);
	t.x = sp_ldexp2(t.x, q);
	t.y = sp_ldexp2(t.y, q);
	if (d.x < -104.0f)
		t.x = t.y = 0.0f;
	return t;
}

/* Sleef_expf8_u10avx2, one lane. */
HOST_DEVICE static inline float sleef_expf(float d)
{
	const int32_t q = sp_rint(d * SP_R_LN2F);
	const float qf = (float)q;
	float s = fmaf(qf, -SP_L2UF, d);
	s = fmaf(qf, -SP_L2LF, s);
	float u = (float)0.000198527617612853646278381;
	u = fmaf(u, s, (float)0.00139304355252534151077271);
	u = fmaf(u, s, (float)0.00833336077630519866943359);
	u = fmaf(u, s, (float)0.0416664853692054748535156);
	u = fmaf(u, s, (float)0.166666671633720397949219);
	u = fmaf(u, s, (float)0.5);
	u = 1.0f + fmaf(s * s, u, s);
	u = sp_ldexp2(u, q);
	if (d < -104.0f)
		u = 0.0f;
	if (100.0f < d)
		u = INFINITY;
	return u;
}

/* Sleef_expm1f8_u10avx2, one lane. */
HOST_DEVICE static inline float sleef_expm1f(float a)
{
	const struct sp_df d = sp_df_add2_df_f(sp_expk2(sp_df_make(a, 0.0f)), -1.0f);
	float x = d.x + d.y;
	if (a > 88.72283172607421875f)
		x = INFINITY;
	if (a < -16.635532333438687426013570f)
		x = -1.0f;
	if (f32_bits(a) == 0x80000000u)
		x = -0.0f;
	return x;
}

/* Sleef_erff8_u10avx2, one lane: three polynomial ranges below 1.1, 2.4
 * and 4, 1 beyond. */
HOST_DEVICE static inline float sleef_erff(float s)
{
	const float a = f32_from_bits(f32_bits(s) & 0x7fffffffu);
	const int o0 = a < (float)1.1, o1 = a < (float)2.4, o2 = a < (float)4.0;
#define SP_SEL3(c0, c1, c2) (o0 ? (c0) : o1 ? (c1) : (c2))
	const float u = o0 ? a * a : a;
	float t = SP_SEL3(+0.7089292194e-4f, -0.1792667899e-4f, -0.9495757695e-5f);
	t = fmaf(t, u, SP_SEL3(-0.7768311189e-3f, +0.3937633010e-3f, +0.2481465926e-3f));
	t = fmaf(t, u, SP_SEL3(+0.5159463733e-2f, -0.3949181177e-2f, -0.2918176819e-2f));
	t = fmaf(t, u, SP_SEL3(-0.2683781274e-1f, +0.2445474640e-1f, +0.2059706673e-1f));
	t = fmaf(t, u, SP_SEL3(+0.1128318012e+0f, -0.1070996150e+0f, -0.9901899844e-1f));
	struct sp_df d = sp_df_mul_f_f(t, u);
	d = sp_df_add2_df_df(d, sp_df_const(SP_SEL3(-0.376125876000657465175213237214e+0,
						    -0.634588905908410389971210809210e+0,
						    -0.643598050547891613081201721633e+0)));
	d = sp_df_mul_df_f(d, u);
	d = sp_df_add2_df_df(d, sp_df_const(SP_SEL3(+0.112837916021059138255978217023e+1,
						    -0.112879855826694507209862753992e+1,
						    -0.112461487742845562801052956293e+1)));
#undef SP_SEL3
	d = sp_df_mul_df_f(d, a);
	if (!o0) {
		const struct sp_df e = sp_expk2(d);
		d = sp_df_add_f_df(1.0f, sp_df_make(-e.x, -e.y));
	}
	float r = sp_mulsign(o2 ? d.x + d.y : 1.0f, s);
	if (a != a)
		r = f32_from_bits(0x7fc00000u); /* SLEEF's NANf */
	return r;
}

#endif
