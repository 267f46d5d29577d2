/* What one thread of the CUDA backend's kernels computes (lib/observe_cuda.cu):
 * a cell's line coefficients and profile window, one channel of one ray
 * through the whole transfer in every mode, one beam output, one column of
 * the latitude reduction. Built on observe_point.h (the CPU backend's own
 * arithmetic) with the scalar SLEEF ports, and compiled for the host too, so
 * that tests/unit/test-observe-ray.c runs these very functions on the CPU and
 * compares them with the CPU backend bit for bit. */
#ifndef AREPO_OBSERVE_RAY_H
#define AREPO_OBSERVE_RAY_H

#include <stdint.h>

#include "observe_point.h"
#include "sleef_port.h"

/* The largest v_subsamples the per-channel code takes (its fine channels
 * are kept in registers). */
#define OBS_MAX_VSUB 4
#define OBS_MAX_FINE (2 * OBS_MAX_VSUB + 1)

/* A cell as the per-channel code reads it: its line coefficients, its dust
 * temperature and the window of its profile (fine channels in the thick
 * mode, channel edges in the others). */
struct obs_cell_rec {
	struct obs_cell c;
	float Td;
	int32_t lo, hi;
};

/* Cell (v, rho, T, x, X, Td) whose density node is in (obs_rho_node). */
HOST_DEVICE static inline void obs_cell_record(const struct obs_point *k, int thick, float v, float rho,
					       float T, float x, float X, float Td, int64_t in,
					       struct obs_cell_rec *rec)
{
	obs_cell_line(k, v, rho, T, x, X, in, &rec->c);
	int64_t lo, hi;
	if (thick)
		obs_thick_range(k, &rec->c, &lo, &hi);
	else
		obs_erf_range(k, &rec->c, &lo, &hi);
	rec->Td = Td;
	rec->lo = (int32_t)lo;
	rec->hi = (int32_t)hi;
}

/* The dust's j_d on coarse channel ch. */
HOST_DEVICE static inline float obs_dust_j(const struct obs_point *k, const struct obs_cell_rec *rec,
					   int64_t ch)
{
	float y, num;
	obs_dust_parts(k, k->nu[ch], rec->c.opv, &y, &num);
	return obs_dust_source(num, sleef_expm1f(y / rec->Td)) * rec->c.alpha_d;
}

/* The integrated profile's value at channel edge m. */
HOST_DEVICE static inline float obs_edge_at(const struct obs_point *k, struct obs_edge_scale scale,
					    const struct obs_cell_rec *rec, int64_t m)
{
	const int inside = m >= rec->lo && m < rec->hi;
	const float e = inside ? sleef_erff(obs_erf_arg(k, &rec->c, k->nu_edges[m])) : 0.0f;
	return obs_edge_value(scale, m, rec->lo, rec->hi, e);
}

/* ---- optically thick ------------------------------------------------------ */

/* One channel's transfer along a ray, cell by cell: cell 0's H-scaled
 * terms kept, the trapezoid start at cell 1, BDF2 steps after. */
struct obs_transfer {
	float Hj0, Ha0, I, I_prev;
};

HOST_DEVICE static inline void obs_transfer_cell(struct obs_transfer *t, int64_t r, float Hj,
						 float Ha, float bg)
{
	if (r == 0) {
		t->Hj0 = Hj;
		t->Ha0 = Ha;
	} else if (r == 1) {
		t->I_prev = bg;
		t->I = obs_start(t->Hj0, Hj, t->Ha0, Ha, bg);
	} else {
		const float next = obs_bdf2(Hj, t->I, t->I_prev, Ha);
		t->I_prev = t->I;
		t->I = next;
	}
}

/* Coarse channel ch of one ray in the thick mode: its fine channels
 * [ch * 2 v_sub, (ch + 1) * 2 v_sub), and the last one with the last
 * channel, through the trapezoid and BDF2 steps along r, line and
 * continuum. cells[r * stride] is cell r of the ray. The fine channels'
 * intensities go to Iv_out (indexed by fine channel), the continuum's to
 * *Ic_out; obs_thick_finish reduces them. */
HOST_DEVICE static inline void obs_thick_channel(const struct obs_point *k,
						 const struct obs_cell_rec *cells, int64_t stride,
						 int64_t ch, float *Iv_out, float *Ic_out)
{
	const int64_t per = 2 * k->v_sub, f0 = ch * per;
	const int nf = (int)per + (ch == k->V - 1);
	const float H = 2.0f * k->ds, bg = k->background[ch];
	struct obs_transfer line[OBS_MAX_FINE], continuum = { 0, 0, 0, 0 };
	for (int64_t r = 0; r < k->R; r++) {
		const struct obs_cell_rec *rec = cells + r * stride;
		const float jd = obs_dust_j(k, rec, ch), alpha_d = rec->c.alpha_d;
		const float dnu2 = rec->c.dnu * rec->c.dnu;
#ifdef __CUDA_ARCH__
#pragma unroll
#endif
		for (int i = 0; i < OBS_MAX_FINE; i++) {
			if (i >= nf)
				break;
			const int64_t f = f0 + i;
			const float e = f >= rec->lo && f < rec->hi
					? sleef_expf(obs_gauss_arg(k, &rec->c, k->nu_fine[f], dnu2)) : 0.0f;
			float j, a;
			obs_thick_line(k, &rec->c, e, &j, &a);
			obs_transfer_cell(&line[i], r, obs_H_sum(j, jd, H), obs_H_sum(a, alpha_d, H), bg);
		}
		obs_transfer_cell(&continuum, r, jd * H, alpha_d * H, bg);
	}
#ifdef __CUDA_ARCH__
#pragma unroll
#endif
	for (int i = 0; i < OBS_MAX_FINE; i++) {
		if (i >= nf)
			break;
		Iv_out[f0 + i] = line[i].I;
	}
	*Ic_out = continuum.I;
}

/* Simpson's rule from the fine intensities Iv (F of them) onto channel ch,
 * the continuum Ic subtracted, as a Rayleigh-Jeans temperature. */
HOST_DEVICE static inline float obs_thick_finish(const struct obs_point *k, const float *Iv, float Ic,
						 int64_t ch)
{
	const float sixth = (float)(6 * k->v_sub);
	float q[OBS_MAX_VSUB];
	for (int64_t j = 0; j < k->v_sub; j++) {
		const int64_t m = ch * k->v_sub + j;
		q[j] = obs_simpson_q(Iv[2 * m], Iv[2 * m + 1], Iv[2 * m + 2], sixth);
	}
	return obs_trj(k, obs_inner_sum(q, k->v_sub), Ic, ch);
}

/* ---- optically thin, selectively thin ------------------------------------- */

/* The line's j (and alpha) and the dust's j_d of cell rec on channel ch. */
HOST_DEVICE static inline void obs_coarse_at(const struct obs_point *k, const struct obs_cell_rec *rec,
					     int64_t ch, float *j, float *a, float *jd)
{
	const struct obs_edge_scale scale = obs_edge_scale(k);
	const float phi = obs_edge_at(k, scale, rec, ch + 1) - obs_edge_at(k, scale, rec, ch);
	*j = obs_coarse_j(&rec->c, phi);
	if (a)
		*a = obs_coarse_a(&rec->c, phi);
	*jd = obs_dust_j(k, rec, ch);
}

/* Channel ch of one ray in the thin mode: Simpson panels along r summed in
 * torch's cascade order, line and dust, plus the background. */
HOST_DEVICE static inline float obs_thin_channel(const struct obs_point *k,
						 const struct obs_cell_rec *cells, int64_t stride,
						 int64_t ch)
{
	const int64_t n = (k->R - 1) / 2;
	const float h3 = k->ds / 3.0f;
	struct obs_cascade cl, cc;
	obs_cascade_init(&cl, n);
	obs_cascade_init(&cc, n);
	float line[4] = { 0, 0, 0, 0 }, cont[4] = { 0, 0, 0, 0 };
	float j0, d0, j1, d1, j2, d2;
	obs_coarse_at(k, cells, ch, &j0, (float *)0, &d0);
	for (int64_t m = 0; m < n; m++) {
		obs_coarse_at(k, cells + (2 * m + 1) * stride, ch, &j1, (float *)0, &d1);
		obs_coarse_at(k, cells + (2 * m + 2) * stride, ch, &j2, (float *)0, &d2);
		obs_cascade_add1(&cl, line, obs_simpson(j0, j1, j2, h3));
		obs_cascade_add1(&cc, cont, obs_simpson(d0, d1, d2, h3));
		j0 = j2;
		d0 = d2;
	}
	const float Ic = obs_cascade_total1(cont) + k->background[ch];
	const float I = obs_cascade_total1(line) + Ic;
	return obs_trj(k, I, Ic, ch);
}

/* Channel ch of one ray in the selectively thin mode. */
HOST_DEVICE static inline float obs_selthin_channel(const struct obs_point *k,
						    const struct obs_cell_rec *cells, int64_t stride,
						    int64_t ch)
{
	const float H = 2.0f * k->ds, bg = k->background[ch];
	float j0, a0, jd0, j, a, jd;
	const struct obs_cell_rec *c0 = cells, *c1 = cells + stride;
	obs_coarse_at(k, c0, ch, &j0, &a0, &jd0);
	obs_coarse_at(k, c1, ch, &j, &a, &jd);
	const float Ha0 = c0->c.alpha_d * H, Ha1 = c1->c.alpha_d * H;
	float Ic_prev = bg, Ic = obs_start(jd0 * H, jd * H, Ha0, Ha1, bg);
	const float g0 = obs_selthin_source(j0, jd0, a0, bg), g1 = obs_selthin_source(j, jd, a, Ic);
	float I_prev = bg, I = obs_selthin_start(g0, g1, Ha0, Ha1, H, bg);
	for (int64_t r = 2; r < k->R; r++) {
		const struct obs_cell_rec *rec = cells + r * stride;
		obs_coarse_at(k, rec, ch, &j, &a, &jd);
		const float Ha = rec->c.alpha_d * H;
		const float Ic_next = obs_bdf2(jd * H, Ic, Ic_prev, Ha);
		Ic_prev = Ic;
		Ic = Ic_next;
		const float I_next = obs_bdf2(H * obs_selthin_source(j, jd, a, Ic), I, I_prev, Ha);
		I_prev = I;
		I = I_next;
	}
	return obs_trj(k, I, Ic, ch);
}

/* ---- the simple observer -------------------------------------------------- */

/* Channel ch of one ray of the simple observer; rho[r * rho_stride] and
 * v[r * v_stride] are cell r's density and (blurred) velocity. Like the
 * CPU, it adds only the two channels a cell reaches. */
HOST_DEVICE static inline float obs_simple_channel(const struct obs_point *k, const float *rho,
						   int64_t rho_stride, const float *v, int64_t v_stride,
						   int64_t ch)
{
	struct obs_cascade c;
	obs_cascade_init(&c, k->R);
	float acc[4] = { 0, 0, 0, 0 };
	for (int64_t r = 0; r < k->R; r++) {
		float m0, m1;
		const int64_t i = obs_simple_cell(k, rho[r * rho_stride], v[r * v_stride], &m0, &m1);
		if (ch == i)
			acc[0] += m0;
		else if (ch == i + 1)
			acc[0] += m1;
		obs_cascade_carry1(&c, acc);
	}
	return obs_cascade_total1(acc);
}

/* ---- the latitude reduction ----------------------------------------------- */

/* obs[l, ch] from the (A, V) row of lon l: the mean in torch's cascade
 * order, or torch.max's maximum. */
HOST_DEVICE static inline float obs_reduce_column(const float *row, int64_t A, int64_t V, int64_t ch,
						  int reduce_max)
{
	if (reduce_max) {
		float m = row[ch];
		for (int64_t a = 1; a < A; a++)
			m = obs_max_step(m, row[a * V + ch]);
		return m;
	}
	struct obs_cascade c;
	obs_cascade_init(&c, A);
	float acc[4] = { 0, 0, 0, 0 };
	for (int64_t a = 0; a < A; a++)
		obs_cascade_add1(&c, acc, row[a * V + ch]);
	return obs_cascade_total1(acc) / (float)A;
}

#endif
