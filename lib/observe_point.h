/* The observation's arithmetic per cell, per channel and per tap, written
 * once for the CPU backend (lib/observe.c, which feeds it SLEEF's vector
 * functions) and the CUDA kernels (lib/observe_cuda.cu, which feed it
 * lib/sleef_port.h): every float32 operation in IRIS's order
 * (IRIS-OBSERVATION sections 3.2 to 3.11), so that both backends give the
 * same bits. Transcendental values come in as arguments. */
#ifndef AREPO_OBSERVE_POINT_H
#define AREPO_OBSERVE_POINT_H

#include <math.h>
#include <stdint.h>

#include "hostdevice.h"

/* The observability grids as the per-cell code reads them (host or device
 * pointers). */
struct obs_grid_view {
	int64_t n_rho, n_x, n_T;
	float d_bolic, d_ab, dT;
	const float *rho, *x, *T;
	const float *j, *dj_drho, *dj_dx, *dj_dT;
	const float *alpha, *dalpha_drho, *dalpha_dx, *dalpha_dT;
};

/* Everything the per-ray code reads: sizes, float32 constants in
 * processing units (IRIS-OBSERVATION section 3.0), the frequency axes. */
struct obs_point {
	int64_t R, V, F, v_sub;
	float h, k, c, nu_ul, tracer_mass, nu_channel_width, mu, bolic, kappa, peak, ds;
	float nu_ul_over_c, two_k, sqrt_pi, cc;
	float erf_saturated_from; /* SLEEF's erff is exactly +-1 beyond it */
	float simple_v_min, simple_dv, simple_dr_dv;
	const float *nu, *nu_edges, *nu_fine; /* V, V + 1, F */
	const float *background;              /* V: CMB intensity */
	const float *trj_denominator;         /* V: ((2k) nu) nu */
	struct obs_grid_view g;
};

HOST_DEVICE static inline float obs_relu(float x)
{
	return x < 0 ? 0 : x; /* NaN stays NaN, as torch's relu */
}

/* float -> int64 as x86 converts it (an out-of-range value or NaN gives
 * INT64_MIN), then clamped to [0, n - 1]: what torch's .long().clamp() does. */
HOST_DEVICE static inline int64_t obs_node_index(float v, int64_t n)
{
	const int64_t i = (v != v || fabsf(v) >= 9.2233720368547758e18f) ? INT64_MIN : (int64_t)v;
	return i < 0 ? 0 : i > n - 1 ? n - 1 : i;
}

HOST_DEVICE static inline int64_t obs_reflect(int64_t i, int64_t n)
{
	return i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i;
}

/* The density node of a cell: glibc's asinhf, which has no device port,
 * so the host computes it for the GPU too. */
static inline int64_t obs_rho_node(const struct obs_point *k, float rho)
{
	const float N = rho / k->mu;
	return obs_node_index(floorf(asinhf(N / k->bolic) / k->g.d_bolic + 0.5f), k->g.n_rho);
}

/* ---- the velocity blur, the beam, the reductions ------------------------- */

/* One output of the velocity blur at (r, l, a): taps in lexicographic
 * order, each a rounded product then a rounded sum (no FMA), reflect
 * padding. src holds lons [h0, h0 + hw) as (R, hw, A). */
HOST_DEVICE static inline float obs_blur_point(const float *w, int64_t kr, int64_t kl, int64_t ka,
					       const float *src, int64_t R, int64_t L, int64_t A,
					       int64_t h0, int64_t hw, int64_t r, int64_t l, int64_t a)
{
	const int64_t hr = kr / 2, hl = kl / 2, ha = ka / 2;
	float acc = 0;
	for (int64_t i = 0; i < kr; i++) {
		const int64_t rr = obs_reflect(r + i - hr, R);
		for (int64_t j = 0; j < kl; j++) {
			const float *row = src + (rr * hw + obs_reflect(l + j - hl, L) - h0) * A;
			for (int64_t k = 0; k < ka; k++) {
				const float prod = *w++ * row[obs_reflect(a + k - ha, A)];
				acc = acc + prod;
			}
		}
	}
	return acc;
}

/* The beam at (l, a) for channels [k0, k0 + n) of the (L, A, V) cube ppv:
 * taps in lexicographic order, fused multiply-adds (oneDNN's order),
 * reflect padding. */
HOST_DEVICE static inline void obs_beam_span(const float *w, int64_t bl, int64_t ba, const float *ppv,
					     int64_t L, int64_t A, int64_t V, int64_t l, int64_t a,
					     int64_t k0, int64_t n, float *acc)
{
	const int64_t hl = bl / 2, ha = ba / 2;
	for (int64_t k = 0; k < n; k++)
		acc[k] = 0;
	for (int64_t i = 0; i < bl; i++) {
		const int64_t ll = obs_reflect(l + i - hl, L);
		for (int64_t j = 0; j < ba; j++) {
			const float wt = w[i * ba + j];
			const float *x = ppv + (ll * A + obs_reflect(a + j - ha, A)) * V + k0;
			for (int64_t k = 0; k < n; k++)
				acc[k] = fmaf(wt, x[k], acc[k]);
		}
	}
}

/* torch.max's step over latitude: NaN wins. */
HOST_DEVICE static inline float obs_max_step(float m, float x)
{
	if (x != x || x > m)
		m = x != x || m != m ? (float)NAN : x;
	return m;
}

/* torch's multi_row_sum (SumKernel.cpp) as a stream of n rows into four
 * levels of accumulators; obs_cascade_next says, after each row is added
 * to level 0, how many levels carry: acc[j] += acc[j - 1], acc[j - 1] = 0
 * for j = 1 ... that count. Levels 1, 2, 3 go into level 0 at the end. */
struct obs_cascade {
	int64_t n, i, full;
	int lp;
};

HOST_DEVICE static inline void obs_cascade_init(struct obs_cascade *c, int64_t n)
{
	int k = 0;
	while (((int64_t)1 << k) < n)
		k++;
	c->n = n;
	c->i = 0;
	c->lp = k / 4 > 4 ? k / 4 : 4;
	const int64_t step = (int64_t)1 << c->lp;
	c->full = n / step * step; /* rows summed in whole blocks */
}

HOST_DEVICE static inline int obs_cascade_next(struct obs_cascade *c)
{
	const int64_t step = (int64_t)1 << c->lp, mask = step - 1;
	c->i++;
	if (c->i > c->full || c->i % step)
		return 0;
	for (int j = 1; j < 4; j++)
		if (c->i & (mask << (j * c->lp)))
			return j;
	return 3;
}

/* One column's cascade in four scalars: the carries after a row. */
HOST_DEVICE static inline void obs_cascade_carry1(struct obs_cascade *c, float acc[4])
{
	const int carries = obs_cascade_next(c);
	if (carries >= 1) {
		acc[1] += acc[0];
		acc[0] = 0;
	}
	if (carries >= 2) {
		acc[2] += acc[1];
		acc[1] = 0;
	}
	if (carries >= 3) {
		acc[3] += acc[2];
		acc[2] = 0;
	}
}

HOST_DEVICE static inline void obs_cascade_add1(struct obs_cascade *c, float acc[4], float x)
{
	acc[0] += x;
	obs_cascade_carry1(c, acc);
}

HOST_DEVICE static inline float obs_cascade_total1(const float acc[4])
{
	float a = acc[0];
	a += acc[1];
	a += acc[2];
	a += acc[3];
	return a;
}

/* torch's row_sum: rows of 4 consecutive groups of lanes values (partial
 * sums) through the cascade, the leftover groups into partial 0, then
 * partials 1, 2, 3 into partial 0. out gets lanes values (lanes <= 8). */
HOST_DEVICE static inline void obs_row_sum(const float *x, int64_t groups, int lanes, float *out)
{
	const int64_t rows = groups / 4;
	const int width = 4 * lanes;
	float acc[4][32];
	for (int j = 0; j < 4; j++)
		for (int k = 0; k < width; k++)
			acc[j][k] = 0;
	struct obs_cascade c;
	obs_cascade_init(&c, rows);
	for (int64_t t = 0; t < rows; t++) {
		for (int k = 0; k < width; k++)
			acc[0][k] += x[t * width + k];
		const int carries = obs_cascade_next(&c);
		for (int j = 1; j <= carries; j++)
			for (int k = 0; k < width; k++) {
				acc[j][k] += acc[j - 1][k];
				acc[j - 1][k] = 0;
			}
	}
	for (int j = 1; j < 4; j++)
		for (int k = 0; k < width; k++)
			acc[0][k] += acc[j][k];
	for (int64_t g = rows * 4; g < groups; g++)
		for (int l = 0; l < lanes; l++)
			acc[0][l] += x[g * lanes + l];
	for (int q = 1; q < 4; q++)
		for (int l = 0; l < lanes; l++)
			acc[0][l] += acc[0][q * lanes + l];
	for (int l = 0; l < lanes; l++)
		out[l] = acc[0][l];
}

/* torch's inner-axis (contiguous) sum of n values: 8 lanes, then the tail. */
HOST_DEVICE static inline float obs_inner_sum(const float *x, int64_t n)
{
	float lane[8];
	if (n < 8) {
		obs_row_sum(x, n, 1, lane);
		return lane[0];
	}
	const int64_t nv = n / 8;
	obs_row_sum(x, nv, 8, lane);
	float acc = 0;
	for (int64_t i = nv * 8; i < n; i++)
		acc += x[i];
	for (int l = 0; l < 8; l++)
		acc += lane[l];
	return acc;
}

/* ---- per cell ------------------------------------------------------------ */

/* A cell's line coefficients (per unit profile) and what the profiles need. */
struct obs_cell {
	float opv;    /* 1 + v/c */
	float x13;    /* tracer abundance */
	float jf, af; /* emission and absorption per unit profile, before x13 */
	float dnu;    /* Doppler width */
	float alpha_d;
	int bad;      /* T not finite: no line */
	int fast;     /* opv and dnu ordinary: the profile is zero outside a window */
};

/* The Doppler factor 1 + v/c of a cell whose radial velocity is v. */
HOST_DEVICE static inline float obs_opv(const struct obs_point *k, float v)
{
	return 1.0f + v / k->c;
}

/* The grids read at the nearest node (in: obs_rho_node) plus the gradients
 * times the offsets, the Doppler width, the dust's absorption. */
HOST_DEVICE static inline void obs_cell_line(const struct obs_point *k, float v, float rho, float T,
					     float x, float X, int64_t in, struct obs_cell *c)
{
	const struct obs_grid_view *g = &k->g;
	c->bad = !isfinite(T);
	c->opv = obs_opv(k, v);
	const int64_t ix = obs_node_index(floorf(x / g->d_ab + 0.5f), g->n_x);
	const int64_t iT = obs_node_index(floorf(T / g->dT + 0.5f), g->n_T);
	const int64_t at = (in * g->n_x + ix) * g->n_T + iT;
	const float drho = rho - g->rho[in], dx = x - g->x[ix], dT = T - g->T[iT];
	const float dj = (g->dj_drho[at] * drho + g->dj_dx[at] * dx) + g->dj_dT[at] * dT;
	c->jf = g->j[at] + dj;
	const float da = (g->dalpha_drho[at] * drho + g->dalpha_dx[at] * dx) + g->dalpha_dT[at] * dT;
	c->af = g->alpha[at] + da;
	c->dnu = k->nu_ul_over_c * sqrtf(k->two_k * T / k->tracer_mass);
	c->x13 = X * k->peak;
	const float dnu2 = c->dnu * c->dnu;
	c->fast = isfinite(c->opv) && c->opv > 0 && isfinite(c->dnu) && c->dnu > 0 && dnu2 > 0 &&
		  isfinite(dnu2);
	c->alpha_d = k->kappa * rho;
}

/* The dust's parts that depend on opv alone at coarse frequency nu_k:
 * y = (h nu_d) / k and num = 2 h nu_d^3 / c / c, nu_d = nu_k / opv. */
HOST_DEVICE static inline void obs_dust_parts(const struct obs_point *k, float nu_k, float opv,
					      float *y, float *num)
{
	const float nu = nu_k / opv;
	*y = k->h * nu / k->k;
	*num = 2.0f * k->h * nu * nu * nu / k->c / k->c;
}

/* The dust's source function from num and expm1(y / T_d); 0 where not finite. */
HOST_DEVICE static inline float obs_dust_source(float num, float expm1_y_over_Td)
{
	const float S = num / expm1_y_over_Td;
	return isfinite(S) ? S : 0;
}

/* ---- optically thick: the fine channels ---------------------------------- */

/* The argument of exp() in the thermal profile at fine frequency nu_f. */
HOST_DEVICE static inline float obs_gauss_arg(const struct obs_point *k, const struct obs_cell *c,
					      float nu_f, float dnu2)
{
	const float d = nu_f / c->opv - k->nu_ul;
	return -(d * d) / dnu2;
}

/* The line's j and alpha (times the abundance) from e = exp(gauss_arg);
 * e = 0 outside the window. The mask of bad cells comes before x13. */
HOST_DEVICE static inline void obs_thick_line(const struct obs_point *k, const struct obs_cell *c,
					      float e, float *j, float *a)
{
	const float phi = e / c->dnu / k->sqrt_pi;
	const float jv = c->bad ? 0 : c->jf * phi, av = c->bad ? 0 : c->af * phi;
	*j = jv * c->x13;
	*a = av * c->x13;
}

/* H (j + j_d) and H (alpha + alpha_d), the transfer's terms. */
HOST_DEVICE static inline float obs_H_sum(float line, float dust, float H)
{
	return (line + dust) * H;
}

/* Whether fine channel m's offset nu_f / opv - nu_ul is past bound
 * (>= bound, or > bound when strict). Non-decreasing in m. */
HOST_DEVICE static inline int obs_offset_past(const struct obs_point *k, const struct obs_cell *c,
					      int64_t m, float bound, int strict)
{
	const float offset = k->nu_fine[m] / c->opv - k->nu_ul;
	return strict ? offset > bound : offset >= bound;
}

/* The first fine channel whose offset is past bound, or F: what a
 * bisection over [0, F] finds, found by galloping from a guess (the fine
 * axis is uniform, so the guess is a channel or two off) and bisecting the
 * bracket, a few evaluations instead of eleven. */
HOST_DEVICE static inline int64_t obs_first_past(const struct obs_point *k,
						 const struct obs_cell *c, float bound, int strict)
{
	const int64_t F = k->F;
	const float step = (k->nu_fine[F - 1] - k->nu_fine[0]) / (float)(F - 1);
	const float g = ((k->nu_ul + bound) * c->opv - k->nu_fine[0]) / step;
	int64_t guess = g >= 0 ? (g < (float)F ? (int64_t)g : F) : 0, a, b;
	if (guess < F && obs_offset_past(k, c, guess, bound, strict)) {
		b = guess;
		a = 0;
		for (int64_t jump = 1; b - jump >= 0; jump *= 2) {
			if (!obs_offset_past(k, c, b - jump, bound, strict)) {
				a = b - jump + 1;
				break;
			}
			b -= jump;
		}
	} else {
		int64_t below = guess; /* not past, or F */
		b = F;
		for (int64_t jump = 1; below < F && below + jump < F; jump *= 2) {
			if (obs_offset_past(k, c, below + jump, bound, strict)) {
				b = below + jump;
				break;
			}
			below += jump;
		}
		a = below < F ? below + 1 : F;
	}
	while (a < b) {
		const int64_t m = (a + b) / 2;
		if (obs_offset_past(k, c, m, bound, strict))
			b = m;
		else
			a = m + 1;
	}
	return a;
}

/* The fine channels [*lo, *hi) whose profile is computed: outside them
 * exp() of the argument is exactly +0 (|nu_f / opv - nu_ul| beyond 10.25
 * dnu plus a margin for rounding gives an argument below SLEEF's -104 cut).
 * The offset is monotonic in f, so a search finds each end; inside the
 * window every channel is computed in full, so a wider window changes
 * nothing. Bad cells have none; cells with an unusual opv or dnu have all. */
HOST_DEVICE static inline void obs_thick_range(const struct obs_point *k, const struct obs_cell *c,
					       int64_t *lo, int64_t *hi)
{
	*lo = *hi = 0;
	if (c->bad)
		return;
	if (!c->fast) {
		*hi = k->F;
		return;
	}
	const float bound = 10.25f * c->dnu + 4e-6f * k->nu_ul;
	*lo = obs_first_past(k, c, -bound, 0);
	*hi = obs_first_past(k, c, bound, 1);
	if (*hi < *lo)
		*hi = *lo;
}

/* The first (trapezoid) step from cells 0 and 1, the background entering
 * at cell 0: line or continuum, H-scaled terms. */
HOST_DEVICE static inline float obs_start(float Hj0, float Hj1, float Ha0, float Ha1, float bg)
{
	return obs_relu(((Hj0 + Hj1) + (4.0f - Ha0) * bg) / (4.0f + Ha1));
}

/* A BDF2 step: relu(((H j + 4 I) - I_prev) / (3 + H alpha)). */
HOST_DEVICE static inline float obs_bdf2(float Hj, float I, float I_prev, float Ha)
{
	return obs_relu(((Hj + 4.0f * I) - I_prev) / (3.0f + Ha));
}

/* Simpson's rule on three fine channels, back onto the coarse ones. */
HOST_DEVICE static inline float obs_simpson_q(float a, float b, float c, float sixth)
{
	return ((4.0f * b + a) + c) / sixth;
}

/* ---- the coarse channels: thin and selectively thin --------------------- */

HOST_DEVICE static inline float obs_erf_arg(const struct obs_point *k, const struct obs_cell *c,
					    float edge)
{
	return (edge / c->opv - k->nu_ul) / c->dnu;
}

/* The channel edges [*lo, *hi) whose erf is not saturated (all of them for
 * cells with an unusual opv or dnu). */
HOST_DEVICE static inline void obs_erf_range(const struct obs_point *k, const struct obs_cell *c,
					     int64_t *lo, int64_t *hi)
{
	const int64_t E = k->V + 1;
	*lo = 0;
	*hi = E;
	if (!c->fast)
		return;
	int64_t x = 0, y = E;
	while (x < y) {
		const int64_t m = (x + y) / 2;
		if (obs_erf_arg(k, c, k->nu_edges[m]) > -k->erf_saturated_from)
			y = m;
		else
			x = m + 1;
	}
	*lo = x;
	y = E;
	while (x < y) {
		const int64_t m = (x + y) / 2;
		if (obs_erf_arg(k, c, k->nu_edges[m]) >= k->erf_saturated_from)
			y = m;
		else
			x = m + 1;
	}
	*hi = x;
}

/* The integrated profile's scale: twice the channel width, and the
 * profile's values where erf is -1 or 1. */
struct obs_edge_scale {
	float two_w, below, above;
};

HOST_DEVICE static inline struct obs_edge_scale obs_edge_scale(const struct obs_point *k)
{
	struct obs_edge_scale s;
	s.two_w = 2.0f * k->nu_channel_width;
	s.below = -1.0f / s.two_w;
	s.above = 1.0f / s.two_w;
	return s;
}

/* The integrated profile's value at edge m, from erf of its argument
 * (not read outside [lo, hi)). */
HOST_DEVICE static inline float obs_edge_value(struct obs_edge_scale s, int64_t m, int64_t lo,
					       int64_t hi, float erf_value)
{
	return m < lo ? s.below : m >= hi ? s.above : erf_value / s.two_w;
}

/* The line's j and alpha on a channel from its profile phi = e[k+1] - e[k]. */
HOST_DEVICE static inline float obs_coarse_j(const struct obs_cell *c, float phi)
{
	const float jv = c->bad ? 0 : c->jf * phi;
	return jv * c->x13;
}

HOST_DEVICE static inline float obs_coarse_a(const struct obs_cell *c, float phi)
{
	const float av = c->bad ? 0 : c->af * phi;
	return av * c->x13;
}

/* The selectively thin mode's source: (j + j_d) - alpha I_c. */
HOST_DEVICE static inline float obs_selthin_source(float j, float jd, float a, float Ic)
{
	return (j + jd) - a * Ic;
}

/* Its first step (only the dust attenuates the total). */
HOST_DEVICE static inline float obs_selthin_start(float g0, float g1, float Ha0, float Ha1, float H,
						  float bg)
{
	return obs_relu(((4.0f - Ha0) * bg + H * (g0 + g1)) / (4.0f + Ha1));
}

/* The optically thin mode's Simpson panel. */
HOST_DEVICE static inline float obs_simpson(float a, float b, float c, float h3)
{
	return ((4.0f * b + a) + c) * h3;
}

/* I - Ic as a Rayleigh-Jeans temperature (IRIS's _subtract_and_convert). */
HOST_DEVICE static inline float obs_trj(const struct obs_point *k, float I, float Ic, int64_t ch)
{
	return k->cc * (I - Ic) / k->trj_denominator[ch];
}

/* ---- the simple observer ------------------------------------------------ */

/* A cell's mass per velocity step shared between channels i (returned) and
 * i + 1, out-of-band gas piled onto the edge ones. */
HOST_DEVICE static inline int64_t obs_simple_cell(const struct obs_point *k, float rho, float v,
						  float *m0, float *m1)
{
	const float m = rho * k->simple_dr_dv;
	const float vc = (v - k->simple_v_min) / k->simple_dv;
	const int64_t i = obs_node_index(floorf(vc), k->V - 1);
	float w = vc - (float)i;
	w = w < 0 ? 0 : w > 1 ? 1 : w;
	*m0 = m * (1.0f - w);
	*m1 = m * w;
	return i;
}

#endif
