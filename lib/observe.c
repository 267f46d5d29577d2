/* The synthetic observation (see observe.h): IRIS's float32 arithmetic in
 * its order, streamed ray by ray instead of materialised per batch. Built
 * with -mavx2 -mfma -ffp-contract=off: the only fused multiply-adds are the
 * beam's explicit fmaf, as oneDNN computes it. */
#define _GNU_SOURCE
#include "observe.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "parallel.h"
#include "vmath.h"

static const struct { enum observe_mode mode; const char *name, *short_name; } mode_names[] = {
	{ OBSERVE_THICK, "optically thick", "thick" },
	{ OBSERVE_THIN, "optically thin", "thin" },
	{ OBSERVE_SELTHIN, "selectively thin", "selthin" },
	{ OBSERVE_SIMPLE, "simple", "simple" },
};

int observe_mode_parse(const char *name, enum observe_mode *mode)
{
	for (size_t i = 0; i < sizeof mode_names / sizeof mode_names[0]; i++)
		if (!strcmp(name, mode_names[i].name) || !strcmp(name, mode_names[i].short_name)) {
			*mode = mode_names[i].mode;
			return 0;
		}
	return -1;
}

const char *observe_mode_name(enum observe_mode mode)
{
	return mode_names[mode].name;
}

const char *observe_mode_short(enum observe_mode mode)
{
	return mode_names[mode].short_name;
}

/* ---- torch's building blocks ------------------------------------------ */

void observe_linspace(double a, double b, int64_t n, float *out)
{
	if (n <= 0)
		return;
	const float start = (float)a, end = (float)b;
	if (n == 1) {
		out[0] = start;
		return;
	}
	const float step = (end - start) / (float)(n - 1);
	const int64_t half = n / 2;
	int64_t i0 = 0;
	for (; i0 + 8 <= n; i0 += 8) {
		float base = i0 < half ? fmaf(step, (float)i0, start)
				       : fmaf(-step, (float)(n - 1 - i0), end);
		for (int l = 0; l < 8; l++)
			out[i0 + l] = base + step * (float)l;
	}
	for (int64_t i = i0; i < n; i++)
		out[i] = i < half ? fmaf(step, (float)i, start) : fmaf(-step, (float)(n - 1 - i), end);
}

/* torch's multi_row_sum over rows of width values, pushed one at a time:
 * the cascade of observe_point.h on four levels of width accumulators. */
struct cascade {
	struct obs_cascade ctl;
	int64_t width;
	float *acc[4];
};

static void cascade_init(struct cascade *c, int64_t n, int64_t width, float *storage)
{
	obs_cascade_init(&c->ctl, n);
	c->width = width;
	for (int j = 0; j < 4; j++) {
		c->acc[j] = storage + j * width;
		memset(c->acc[j], 0, (size_t)width * sizeof(float));
	}
}

/* After a row is added: the carries at the end of a block. */
static void cascade_carry(struct cascade *c)
{
	const int carries = obs_cascade_next(&c->ctl);
	for (int j = 1; j <= carries; j++) {
		float *hi = c->acc[j], *lo = c->acc[j - 1];
		for (int64_t k = 0; k < c->width; k++) {
			hi[k] += lo[k];
			lo[k] = 0;
		}
	}
}

static void cascade_push(struct cascade *c, const float *row)
{
	float *a = c->acc[0];
	for (int64_t k = 0; k < c->width; k++)
		a[k] += row[k];
	cascade_carry(c);
}

/* The sum; acc[0] holds it afterwards. */
static float *cascade_finish(struct cascade *c)
{
	float *a = c->acc[0];
	for (int j = 1; j < 4; j++)
		for (int64_t k = 0; k < c->width; k++)
			a[k] += c->acc[j][k];
	return a;
}

/* ---- the plan ---------------------------------------------------------- */

/* exp(-0.5 (x/s)^2) for x = arange(K) - K // 2, SLEEF's exp. */
static void gaussian_taps(int64_t K, float s, float *g)
{
	for (int64_t i = 0; i < K; i++) {
		float x = (float)i - (float)(K / 2);
		float q = x / s;
		g[i] = -0.5f * (q * q);
	}
	vmath_exp(g, g, (size_t)K);
}

static int64_t beam_size(float sigma, int64_t steps)
{
	int64_t K = (int64_t)(10.0f * sigma);
	if (K > steps)
		K = steps;
	if (K % 2 == 0)
		K = K == steps ? K - 1 : K + 1;
	return K < 1 ? 1 : K;
}

/* The four processing units IRIS's observers use, from the writer's
 * (SI -> processing factors, in double). */
struct units { double length, velocity, time, mass, temperature, energy, number_density; };

static struct units processing_units(const struct arepo_config *cfg)
{
	const struct writer_hyper *w = &cfg->writer_hyper;
	struct units u;
	u.length = 100. / w->length_cm_per_processing;
	u.velocity = 100. / w->velocity_cm_per_s_per_processing;
	u.time = u.length / u.velocity;
	u.mass = 1000. / w->mass_g_per_processing;
	u.temperature = 1. / w->temperature_K_per_processing;
	u.energy = u.mass * u.length * u.length / (u.time * u.time);
	u.number_density = 1. / (cfg->dataset_hyper.iris_number_unit * u.length * u.length * u.length);
	return u;
}

#define PLAN_FAIL(...) return err_set(err, EXIT_USAGE, __VA_ARGS__)

/* The grid's and the velocity axis's sizes, checked against the mode. */
static int plan_shape(struct observe_plan *p, const struct arepo_config *cfg, enum observe_mode mode,
		      int64_t R, int64_t L, int64_t A, struct arepo_err *err)
{
	const struct coordinate_hyper *ch = &cfg->coordinate_hyper;
	p->mode = mode;
	p->R = R;
	p->L = L;
	p->A = A;
	p->V = cfg->cube_hyper.v_steps;
	p->v_sub = mode == OBSERVE_THICK ? cfg->observer_hyper.v_subsamples.value : 0;
	if (mode == OBSERVE_THICK && p->v_sub < 1)
		PLAN_FAIL("observer_hyper.v_subsamples is %lld; the optically thick mode needs at "
			  "least 1", (long long)p->v_sub);
	p->F = mode == OBSERVE_THICK ? 2 * p->V * p->v_sub + 1 : p->V;
	p->r_crop_min = ch->r_crop_min_index;
	p->r_crop_max = ch->r_crop_max_index;
	if (p->r_crop_max > R)
		PLAN_FAIL("coordinate_hyper.r_crop_max_index (%lld) exceeds the tensor's %lld r steps",
			  (long long)p->r_crop_max, (long long)R);
	if (R < (mode == OBSERVE_THIN ? 3 : 2))
		PLAN_FAIL("the tensor has %lld r steps; the %s mode needs at least %d", (long long)R,
			  mode_names[mode].name, mode == OBSERVE_THIN ? 3 : 2);
	p->reduce_max = !strcmp(cfg->cube_hyper.reduction, "max");
	return 0;
}

/* IRIS's VelocityBlur kernel: a Gaussian of sigma = kernel size x
 * in_blur_sigma on each axis, the outer product normalised by its sum. */
static int plan_blur(struct observe_plan *p, const struct observer_hyper *o, struct arepo_err *err)
{
	p->blur_inputs = o->blur_inputs;
	p->kr = o->in_blur_kernel_r;
	p->kl = o->in_blur_kernel_lon;
	p->ka = o->in_blur_kernel_lat;
	if (!p->blur_inputs)
		return 0;
	if (p->kr / 2 >= p->R || p->kl / 2 >= p->L || p->ka / 2 >= p->A)
		PLAN_FAIL("observer_hyper.in_blur_kernel_r/_lon/_lat (%lld, %lld, %lld) are too large "
			  "for a %lld x %lld x %lld tensor (reflect padding)", (long long)p->kr,
			  (long long)p->kl, (long long)p->ka, (long long)p->R, (long long)p->L,
			  (long long)p->A);
	const int64_t K[3] = { p->kr, p->kl, p->ka }, n = p->kr * p->kl * p->ka;
	float *g[3];
	for (int a = 0; a < 3; a++)
		g[a] = malloc((size_t)K[a] * sizeof(float));
	p->in_weight = malloc((size_t)n * sizeof(float));
	int ok = g[0] && g[1] && g[2] && p->in_weight;
	if (ok) {
		for (int a = 0; a < 3; a++)
			gaussian_taps(K[a], (float)((double)K[a] * o->in_blur_sigma), g[a]);
		for (int64_t i = 0; i < p->kr; i++)
			for (int64_t j = 0; j < p->kl; j++)
				for (int64_t k = 0; k < p->ka; k++)
					p->in_weight[(i * p->kl + j) * p->ka + k] = g[0][i] * g[1][j] * g[2][k];
		const float sum = obs_inner_sum(p->in_weight, n);
		for (int64_t i = 0; i < n; i++)
			p->in_weight[i] /= sum;
	}
	for (int a = 0; a < 3; a++)
		free(g[a]);
	return ok ? 0 : err_set(err, EXIT_RUNTIME, "out of memory");
}

/* IRIS's BeamBlur kernel: sigma in pixels of (max - min) / steps, the
 * kernel ten sigma wide (made odd, at most the grid). */
static int plan_beam(struct observe_plan *p, const struct arepo_config *cfg, struct arepo_err *err)
{
	const struct observer_hyper *o = &cfg->observer_hyper;
	const struct coordinate_hyper *ch = &cfg->coordinate_hyper;
	p->beam = p->mode != OBSERVE_SIMPLE && o->out_blur_fwhm.set;
	if (!p->beam)
		return 0;
	const float fwhm_per_sigma = 2.0f * sqrtf(2.0f * logf(2.0f));
	const float inv = 1.0f / fwhm_per_sigma;
	const double fwhm_deg = o->out_blur_fwhm.value / 3600.;
	const float s_lon = inv * (float)(fwhm_deg / (ch->lon_max.value - ch->lon_min.value) * (double)p->L);
	const float s_lat = inv * (float)(fwhm_deg / (ch->lat_max.value - ch->lat_min.value) * (double)p->A);
	p->bl = beam_size(s_lon, p->L);
	p->ba = beam_size(s_lat, p->A);
	float *gl = malloc((size_t)p->bl * sizeof(float)), *ga = malloc((size_t)p->ba * sizeof(float));
	p->beam_weight = malloc((size_t)(p->bl * p->ba) * sizeof(float));
	int ok = gl && ga && p->beam_weight;
	if (ok) {
		gaussian_taps(p->bl, s_lon, gl);
		gaussian_taps(p->ba, s_lat, ga);
		for (int64_t i = 0; i < p->bl; i++)
			for (int64_t j = 0; j < p->ba; j++)
				p->beam_weight[i * p->ba + j] = gl[i] * ga[j];
		const float sum = obs_inner_sum(p->beam_weight, p->bl * p->ba);
		for (int64_t i = 0; i < p->bl * p->ba; i++)
			p->beam_weight[i] /= sum;
	}
	free(gl);
	free(ga);
	return ok ? 0 : err_set(err, EXIT_RUNTIME, "out of memory");
}

/* SLEEF's erff is exactly 1 from this float up (and -1 below its negative). */
static float erf_saturated_from;

static void find_erf_saturation(void)
{
	/* The smallest float from which SLEEF's erff is 1 up to 16 (where its
	 * last branch returns 1 outright; it is odd): scan downward in blocks
	 * of floats. */
	enum { N = 4096 };
	float x[N], y[N];
	uint32_t bits = f32_bits(16.0f);
	for (;;) {
		for (int i = 0; i < N; i++)
			x[i] = f32_from_bits(--bits); /* the next float toward 0 */
		vmath_erf(x, y, N);
		int i = 0;
		while (i < N && y[i] == 1.0f)
			i++;
		if (i < N) {
			erf_saturated_from = i == 0 ? nextafterf(x[0], INFINITY) : x[i - 1];
			return;
		}
	}
}

/* The grids as the per-cell code reads them. */
static struct obs_grid_view grid_view(const struct obsgrids *g)
{
	return (struct obs_grid_view){
		.n_rho = g->n_rho, .n_x = g->n_x, .n_T = g->n_T,
		.d_bolic = g->d_bolic, .d_ab = g->d_ab, .dT = g->dT,
		.rho = g->rho, .x = g->x, .T = g->T,
		.j = g->j, .dj_drho = g->dj_drho, .dj_dx = g->dj_dx, .dj_dT = g->dj_dT,
		.alpha = g->alpha, .dalpha_drho = g->dalpha_drho, .dalpha_dx = g->dalpha_dx,
		.dalpha_dT = g->dalpha_dT,
	};
}

/* The float32 constants (as IRIS's observers make them) and, with the
 * grids, the frequency axes, the CMB background and the Rayleigh-Jeans
 * conversion. */
static int plan_constants(struct observe_plan *p, const struct arepo_config *cfg,
			  struct arepo_err *err)
{
	static pthread_once_t erf_once = PTHREAD_ONCE_INIT;
	const struct observer_hyper *o = &cfg->observer_hyper;
	const struct coordinate_hyper *ch = &cfg->coordinate_hyper;
	const struct cube_hyper *cube = &cfg->cube_hyper;
	const struct units u = processing_units(cfg);
	struct obs_point *k = &p->pt;
	k->R = p->R;
	k->V = p->V;
	k->F = p->F;
	k->v_sub = p->v_sub;
	k->h = (float)(o->h * u.energy * u.time);
	k->k = (float)(o->k * u.energy / u.temperature);
	k->c = (float)(o->c * u.velocity);
	const double ds = (ch->r_max.value - ch->r_min.value) / (double)(p->R - 1) *
			  cfg->dataset_hyper.meters_per_parsec * u.length;
	k->ds = (float)ds;
	const double v_min = cube->v_min.value * 1000. * u.velocity;
	const double v_max = cube->v_max.value * 1000. * u.velocity;
	const double dv = (v_max - v_min) / (double)(p->V - 1);
	k->simple_v_min = (float)v_min;
	k->simple_dv = (float)dv;
	k->simple_dr_dv = (float)(ds / dv);
	p->mw_H2 = (float)o->mw_H2;
	p->mw_ism = (float)(o->mw_H + o->abundance_He * o->mw_He);
	k->mu = (float)((o->m_H + o->abundance_He * o->m_He) * (u.mass * cfg->dataset_hyper.iris_number_unit));
	k->cc = k->c * k->c;
	k->two_k = 2.0f * k->k;
	k->sqrt_pi = sqrtf((float)M_PI);
	p->t_cmb = (float)o->T_cmb * (float)u.temperature;

	p->nu = malloc((size_t)p->V * sizeof(float));
	p->nu_edges = malloc((size_t)(p->V + 1) * sizeof(float));
	p->nu_fine = malloc((size_t)p->F * sizeof(float));
	p->background = malloc((size_t)p->V * sizeof(float));
	p->trj_denominator = malloc((size_t)p->V * sizeof(float));
	if (!p->nu || !p->nu_edges || !p->nu_fine || !p->background || !p->trj_denominator)
		return err_set(err, EXIT_RUNTIME, "out of memory");
	k->nu = p->nu;
	k->nu_edges = p->nu_edges;
	k->nu_fine = p->nu_fine;
	k->background = p->background;
	k->trj_denominator = p->trj_denominator;
	const struct obsgrids *g = p->grids;
	if (!g)
		return 0;
	/* only the integrated profiles (thin, selectively thin) use it; a scan
	 * of some 17 million floats */
	k->erf_saturated_from = INFINITY;
	if (p->mode == OBSERVE_THIN || p->mode == OBSERVE_SELTHIN) {
		pthread_once(&erf_once, find_erf_saturation);
		k->erf_saturated_from = erf_saturated_from;
	}
	k->g = grid_view(g);
	k->nu_ul = g->nu_ul_ghz * 1e9f * (float)(1. / u.time);
	k->tracer_mass = (float)g->molecular_weight / (float)o->L / 1000.0f * (float)u.mass;
	k->bolic = (float)o->bolic_normalization.value * (float)u.number_density;
	k->kappa = (float)o->kappa_dust.value * (float)u.length * (float)u.length / (float)u.mass;
	k->peak = 0.04f;
	k->nu_ul_over_c = k->nu_ul / k->c;
	k->nu_channel_width = (1.0f / k->c) * (float)dv * k->nu_ul;

	observe_linspace(v_min, v_max, p->V, p->nu);
	observe_linspace(v_min - dv / 2, v_max + dv / 2, p->V + 1, p->nu_edges);
	observe_linspace(v_min - dv / 2, v_max + dv / 2, p->F, p->nu_fine); /* the thick mode's */
	float *axes[3] = { p->nu, p->nu_edges, p->nu_fine };
	const int64_t sizes[3] = { p->V, p->V + 1, p->mode == OBSERVE_THICK ? p->F : 0 };
	for (int a = 0; a < 3; a++)
		for (int64_t i = 0; i < sizes[a]; i++)
			axes[a][i] = (1.0f + axes[a][i] / k->c) * k->nu_ul;
	for (int64_t i = 0; i < p->V; i++)
		p->background[i] = k->h * p->nu[i] / k->k / p->t_cmb;
	vmath_expm1(p->background, p->background, (size_t)p->V);
	for (int64_t i = 0; i < p->V; i++) {
		const float nu = p->nu[i];
		const float b = 2.0f * k->h * nu * nu * nu / k->c / k->c / p->background[i];
		p->background[i] = isfinite(b) ? b : 0;
		p->trj_denominator[i] = k->two_k * nu * nu;
	}
	return 0;
}

int observe_plan_init(struct observe_plan *p, const struct arepo_config *cfg,
		      enum observe_mode mode, int64_t R, int64_t L, int64_t A,
		      const struct obsgrids *grids, struct arepo_err *err)
{
	memset(p, 0, sizeof *p);
	p->grids = grids;
	int rc = plan_shape(p, cfg, mode, R, L, A, err);
	if (!rc && mode != OBSERVE_SIMPLE && !grids)
		rc = err_set(err, EXIT_USAGE, "the %s mode needs the observability grids",
			     mode_names[mode].name);
	if (!rc)
		rc = plan_blur(p, &cfg->observer_hyper, err);
	if (!rc)
		rc = plan_beam(p, cfg, err);
	if (!rc)
		rc = plan_constants(p, cfg, err);
	if (rc)
		observe_plan_free(p);
	return rc;
}

void observe_plan_free(struct observe_plan *p)
{
	free(p->in_weight);
	free(p->beam_weight);
	free(p->nu);
	free(p->nu_edges);
	free(p->nu_fine);
	free(p->background);
	free(p->trj_denominator);
	p->in_weight = p->beam_weight = p->nu = p->nu_edges = p->nu_fine = NULL;
	p->background = p->trj_denominator = NULL;
}

/* ---- per cell ---------------------------------------------------------- */

static void cell_line(const struct observe_plan *p, float v, float rho, float T, float x, float X,
		      struct obs_cell *c)
{
	obs_cell_line(&p->pt, v, rho, T, x, X, obs_rho_node(&p->pt, rho), c);
}

/* The dust's source function S(nu[k] / opv, T_d) on the coarse channels.
 * Its parts that depend on opv alone, y = (h nu_d) / k and
 * num = 2 h nu_d^3 / c / c with nu_d = nu[k] / opv, are kept per opv in a
 * direct-mapped cache: opv = 1 + v/c takes only a few thousand float32
 * values in a tensor. S itself is remembered for the last (opv, T_d):
 * neighbouring cells of a nearest-cell tensor often share both. */
#define OPV_CACHE_BITS 12
struct dust_memo {
	float opv, Td;
	int valid;
	float *S;            /* V */
	uint32_t *tag;       /* per cache line: opv's bits, or 0 (empty: opv is never +0) */
	float *lines;        /* per cache line: y then num, V each */
};

/* The cache line an opv with these bits is kept in, and that line's data. */
static uint32_t opv_line(uint32_t opv_bits)
{
	return opv_bits & ((1u << OPV_CACHE_BITS) - 1);
}

static float *opv_line_data(const struct observe_plan *p, const struct dust_memo *m, uint32_t line)
{
	return m->lines + (size_t)line * 2 * (size_t)p->V;
}

static const float *opv_parts(const struct observe_plan *p, struct dust_memo *m, float opv)
{
	const int64_t V = p->V;
	const uint32_t bits = f32_bits(opv);
	const uint32_t line = opv_line(bits);
	float *y = opv_line_data(p, m, line), *num = y + V;
	if (m->tag[line] != bits || bits == 0) {
		for (int64_t k = 0; k < V; k++)
			obs_dust_parts(&p->pt, p->nu[k], opv, &y[k], &num[k]);
		m->tag[line] = bits;
	}
	return y;
}

/* Asks for the opv cache line of the cell with velocity v (the next one
 * along the ray) to be brought in while this cell is computed. */
static void opv_prefetch(const struct observe_plan *p, const struct dust_memo *m, float v)
{
	const char *at = (const char *)opv_line_data(p, m, opv_line(f32_bits(obs_opv(&p->pt, v))));
	for (size_t b = 0; b < 2 * (size_t)p->V * sizeof(float); b += 64)
		__builtin_prefetch(at + b);
}

/* The dust's source function S on the coarse channels for the cell's opv
 * and T_d (the memo's, kept until the next call). */
static const float *dust_source(const struct observe_plan *p, const struct obs_cell *c, float Td,
				struct dust_memo *m)
{
	const int64_t V = p->V;
	if (!(m->valid && !memcmp(&m->opv, &c->opv, sizeof c->opv) && !memcmp(&m->Td, &Td, sizeof Td))) {
		const float *y = opv_parts(p, m, c->opv), *num = y + V;
		/* in passes of their own, so that the divisions pipeline */
		for (int64_t k = 0; k < V; k++)
			m->S[k] = y[k] / Td;
		vmath_expm1(m->S, m->S, (size_t)V);
		for (int64_t k = 0; k < V; k++)
			m->S[k] = obs_dust_source(num[k], m->S[k]);
		m->opv = c->opv;
		m->Td = Td;
		m->valid = 1;
	}
	return m->S;
}

/* j_d[k] = S[k] alpha_d (IRIS's _dust_emission). */
static void cell_dust(const struct observe_plan *p, const struct obs_cell *c, float Td, float *jd,
		      struct dust_memo *m)
{
	const float *S = dust_source(p, c, Td, m);
	for (int64_t k = 0; k < p->V; k++)
		jd[k] = S[k] * c->alpha_d;
}

/* The thick line's j and alpha at the fine channels [lo, hi). */
static void thick_profile(const struct observe_plan *p, const struct obs_cell *c, int64_t lo,
			  int64_t hi, float *j, float *a, float *scratch)
{
	const float dnu2 = c->dnu * c->dnu;
	const int64_t n = hi - lo;
	for (int64_t f = 0; f < n; f++)
		scratch[f] = obs_gauss_arg(&p->pt, c, p->nu_fine[lo + f], dnu2);
	vmath_exp(scratch, scratch, (size_t)n);
	for (int64_t f = 0; f < n; f++)
		obs_thick_line(&p->pt, c, scratch[f], &j[f], &a[f]);
}

/* The integrated profile on the coarse channels: j[k], alpha[k] (alpha may be
 * NULL). e has V + 1 entries of scratch, s another V + 1. */
static void integrated_profile(const struct observe_plan *p, const struct obs_cell *c, float *j,
			       float *a, float *e, float *s)
{
	const int64_t V = p->V, E = V + 1;
	const struct obs_edge_scale scale = obs_edge_scale(&p->pt);
	int64_t lo, hi;
	obs_erf_range(&p->pt, c, &lo, &hi);
	for (int64_t m = lo; m < hi; m++)
		s[m] = obs_erf_arg(&p->pt, c, p->nu_edges[m]);
	vmath_erf(s + lo, s + lo, (size_t)(hi - lo));
	/* obs_edge_value in its three ranges: no division outside [lo, hi) */
	for (int64_t m = 0; m < lo; m++)
		e[m] = scale.below;
	for (int64_t m = lo; m < hi; m++)
		e[m] = obs_edge_value(scale, m, lo, hi, s[m]);
	for (int64_t m = hi; m < E; m++)
		e[m] = scale.above;
	for (int64_t k = 0; k < V; k++) {
		const float phi = e[k + 1] - e[k];
		j[k] = obs_coarse_j(c, phi);
		if (a)
			a[k] = obs_coarse_a(c, phi);
	}
}

/* ---- per ray ----------------------------------------------------------- */

/* Rays are taken RAY_CHUNK neighbours in latitude at a time: their cells
 * are read together, a cache line for several rays. */
#define RAY_CHUNK 8

struct ray_scratch {
	float *v, *rho, *T, *x, *X, *Td;  /* R each: the ray's cells, in chunk */
	float *chunk;                     /* RAY_CHUNK rays x 6 channels x R */
	float *jd, *jd0, *tmp;            /* V, V, max(F, A) (j_d on the fine channels; the blur's sums) */
	float *Hj, *Ha, *Hj0, *Ha0, *Iv, *Iv_prev, *Iv_new, *jw, *aw; /* F */
	float *j, *a, *f, *e, *s;         /* V + 1 */
	float *Ic, *Ic_prev, *Ic_new, *I, *I_prev, *I_new, *Hjc0, *q; /* V (q: V * v_sub) */
	float *casc_line, *casc_cont;     /* 4 V each */
	float *j_hist[3], *jd_hist[3];    /* V: the thin mode's last three cells */
	float *hj_out;                    /* V */
	struct dust_memo dust;
	uint64_t windows;
};

static void scratch_free(struct ray_scratch *s)
{
	float **fields[] = { &s->chunk, &s->jd, &s->jd0, &s->tmp,
			     &s->Hj, &s->Ha, &s->Hj0, &s->Ha0, &s->Iv, &s->Iv_prev, &s->Iv_new,
			     &s->jw, &s->aw, &s->j, &s->a, &s->f, &s->e, &s->s, &s->Ic, &s->Ic_prev, &s->Ic_new,
			     &s->I, &s->I_prev, &s->I_new, &s->Hjc0, &s->q, &s->casc_line,
			     &s->casc_cont, &s->j_hist[0], &s->j_hist[1], &s->j_hist[2],
			     &s->jd_hist[0], &s->jd_hist[1], &s->jd_hist[2], &s->hj_out,
			     &s->dust.S, &s->dust.lines };
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		free(*fields[i]);
		*fields[i] = NULL;
	}
	free(s->dust.tag);
	s->dust.tag = NULL;
}

static int scratch_alloc(struct ray_scratch *s, const struct observe_plan *p)
{
	memset(s, 0, sizeof *s);
	const size_t R = (size_t)p->R, V = (size_t)p->V, F = (size_t)p->F, A = (size_t)p->A;
	const size_t Q = V * (size_t)(p->v_sub > 0 ? p->v_sub : 1);
	struct { float **ptr; size_t n; } want[] = {
		{ &s->chunk, RAY_CHUNK * 6 * R },
		{ &s->jd, V }, { &s->jd0, V }, { &s->tmp, F > A ? F : A },
		{ &s->Hj, F }, { &s->Ha, F }, { &s->Hj0, F }, { &s->Ha0, F }, { &s->Iv, F },
		{ &s->Iv_prev, F }, { &s->Iv_new, F }, { &s->jw, F }, { &s->aw, F },
		{ &s->j, V + 1 }, { &s->a, V + 1 }, { &s->f, V + 1 }, { &s->e, V + 1 }, { &s->s, V + 1 },
		{ &s->Ic, V }, { &s->Ic_prev, V }, { &s->Ic_new, V }, { &s->I, V }, { &s->I_prev, V },
		{ &s->I_new, V }, { &s->Hjc0, V }, { &s->q, Q }, { &s->casc_line, 4 * V },
		{ &s->casc_cont, 4 * V }, { &s->j_hist[0], V }, { &s->j_hist[1], V },
		{ &s->j_hist[2], V }, { &s->jd_hist[0], V }, { &s->jd_hist[1], V },
		{ &s->jd_hist[2], V }, { &s->hj_out, V }, { &s->dust.S, V },
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		/* zeroed: the thick mode's first cells step a continuum not started */
		if (!(*want[i].ptr = calloc(want[i].n, sizeof(float)))) {
			scratch_free(s);
			return -1;
		}
	/* the lines' pages are touched only as opv values come */
	s->dust.tag = calloc((size_t)1 << OPV_CACHE_BITS, sizeof *s->dust.tag);
	s->dust.lines = malloc(((size_t)1 << OPV_CACHE_BITS) * 2 * V * sizeof(float));
	if (!s->dust.tag || !s->dust.lines) {
		scratch_free(s);
		return -1;
	}
	return 0;
}

/* I - Ic as a Rayleigh-Jeans temperature (IRIS's _subtract_and_convert). */
static void subtract_and_convert(const struct observe_plan *p, const float *I, const float *Ic,
				 float *out)
{
	for (int64_t k = 0; k < p->V; k++)
		out[k] = obs_trj(&p->pt, I[k], Ic[k], k);
}

/* Ic_new becomes Ic, Ic becomes Ic_prev. */
static void continuum_advance(struct ray_scratch *s)
{
	float *t = s->Ic_prev;
	s->Ic_prev = s->Ic;
	s->Ic = s->Ic_new;
	s->Ic_new = t;
}

/* BDF2 step of the continuum. */
static void continuum_step(const struct observe_plan *p, float H, const float *jd, float alpha_d,
			   struct ray_scratch *s)
{
	const float Ha = alpha_d * H;
	for (int64_t k = 0; k < p->V; k++)
		s->Ic_new[k] = obs_bdf2(jd[k] * H, s->Ic[k], s->Ic_prev[k], Ha);
	continuum_advance(s);
}

/* The first (trapezoid) step of the continuum from cells 0 and 1. */
static void continuum_start(const struct observe_plan *p, float H, const float *jd0,
			    float alpha_d0, const float *jd1, float alpha_d1, struct ray_scratch *s)
{
	const float Ha0 = alpha_d0 * H, Ha1 = alpha_d1 * H;
	for (int64_t k = 0; k < p->V; k++) {
		s->Ic_prev[k] = p->background[k];
		s->Ic[k] = obs_start(jd0[k] * H, jd1[k] * H, Ha0, Ha1, p->background[k]);
	}
}

static void gather_cell(const struct ray_scratch *s, int64_t r, float *v, float *rho, float *T,
			float *x, float *X, float *Td)
{
	*v = s->v[r];
	*rho = s->rho[r];
	*T = s->T[r];
	*x = s->x[r];
	*X = s->X[r];
	*Td = s->Td[r];
}

/* The coarse channel of fine channel f (each coarse channel has 2 v_sub
 * fine ones, the last one more). */
static int64_t coarse_of(const struct observe_plan *p, int64_t f)
{
	const int64_t k = f / (2 * p->v_sub);
	return k < p->V ? k : p->V - 1;
}

/* fine[f] = coarse[coarse_of(f)] for f in [f0, f1). */
static void expand_coarse(const struct observe_plan *p, const float *coarse, float *fine,
			  int64_t f0, int64_t f1)
{
	const int64_t per = 2 * p->v_sub;
	int64_t f = f0;
	for (; f < f1 && f % per; f++)
		fine[f] = coarse[coarse_of(p, f)];
	int64_t k1 = f1 / per;
	if (k1 > p->V)
		k1 = p->V;
	if (per == 2) {
		for (int64_t k = f / 2; k < k1; k++) {
			fine[2 * k] = coarse[k];
			fine[2 * k + 1] = coarse[k];
		}
	} else {
		for (int64_t k = f / per; k < k1; k++)
			for (int64_t i = 0; i < per; i++)
				fine[k * per + i] = coarse[k];
	}
	if (f < k1 * per)
		f = k1 * per;
	for (; f < f1; f++)
		fine[f] = coarse[coarse_of(p, f)];
}

/* One cell of the thick mode: H j and H alpha on the fine channels, as a
 * value per coarse channel (hj_out) and one for alpha (ha_out) outside the
 * line's window, and the window's own values (hj_win, ha_win). */
struct thick_cell {
	struct obs_cell c;
	int64_t lo, hi;
	float *hj_out; /* V */
	float ha_out;
	float *hj_win, *ha_win; /* F */
	/* hj_out and ha_out are bit for bit the continuum's terms, H j_d and
	 * H alpha_d: then, outside the window, the line's transfer step is the
	 * continuum's on the coarse channel */
	int outside_is_continuum;
};


/* A thick cell's terms on the coarse channels in one pass: j_d = S alpha_d,
 * hj_out = H (j_out + j_d), the continuum's BDF2 step into Ic_new. Returns
 * the bits in which hj_out differs from the continuum's H j_d somewhere. */
static uint32_t thick_coarse_terms(int64_t V, const float *restrict S, float alpha_d, float H,
				   float j_out, float *restrict jd, float *restrict hj_out,
				   float *restrict Ic_new, const float *restrict Ic,
				   const float *restrict Ic_prev)
{
	const float Ha = alpha_d * H;
	uint32_t differ = 0;
	for (int64_t k = 0; k < V; k++) {
		const float jdk = S[k] * alpha_d, hjd = jdk * H;
		const float hj = obs_H_sum(j_out, jdk, H);
		jd[k] = jdk;
		hj_out[k] = hj;
		differ |= f32_bits(hj) ^ f32_bits(hjd);
		Ic_new[k] = obs_bdf2(hjd, Ic[k], Ic_prev[k], Ha);
	}
	return differ;
}

/* Cell r of the thick mode: its j_d, its thick_cell terms and the
 * continuum's BDF2 step into Ic_new, left there: the hull still needs Ic
 * and Ic_prev. (For cells 0 and 1 that step is not used: the continuum
 * starts from them.) */
static void thick_cell(const struct observe_plan *p, float H, int64_t r, struct ray_scratch *s,
		       float *jd, struct thick_cell *t)
{
	float v, rho, T, x, X, Td;
	struct obs_cell *c = &t->c;
	gather_cell(s, r, &v, &rho, &T, &x, &X, &Td);
	if (r + 1 < p->R)
		opv_prefetch(p, &s->dust, s->v[r + 1]);
	cell_line(p, v, rho, T, x, X, c);
	const float *S = dust_source(p, c, Td, &s->dust);
	const int64_t V = p->V;
	obs_thick_range(&p->pt, c, &t->lo, &t->hi);
	/* Outside the window the profile is exactly 0. */
	float j_out, a_out;
	obs_thick_line(&p->pt, c, 0.0f, &j_out, &a_out);
	t->ha_out = obs_H_sum(a_out, c->alpha_d, H);
	const float ha_d = c->alpha_d * H;
	uint32_t differ = f32_bits(t->ha_out) ^ f32_bits(ha_d);
	differ |= thick_coarse_terms(V, S, c->alpha_d, H, j_out, jd, t->hj_out, s->Ic_new, s->Ic,
				     s->Ic_prev);
	t->outside_is_continuum = !differ;
	if (t->hi > t->lo) {
		/* Iv_new is free while a cell is prepared */
		thick_profile(p, c, t->lo, t->hi, t->hj_win, t->ha_win, s->Iv_new);
		float *jd_fine = s->tmp;
		expand_coarse(p, jd, jd_fine, t->lo, t->hi);
		const int64_t n = t->hi - t->lo;
		for (int64_t i = 0; i < n; i++) {
			t->hj_win[i] = obs_H_sum(t->hj_win[i], jd_fine[t->lo + i], H);
			t->ha_win[i] = obs_H_sum(t->ha_win[i], c->alpha_d, H);
		}
		s->windows += (uint64_t)(t->hi - t->lo);
	}
}

/* The cell's H j and H alpha on every fine channel. */
static void thick_expand(const struct observe_plan *p, const struct thick_cell *t, float *Hj,
			 float *Ha)
{
	expand_coarse(p, t->hj_out, Hj, 0, p->F);
	for (int64_t f = 0; f < p->F; f++)
		Ha[f] = t->ha_out;
	memcpy(Hj + t->lo, t->hj_win, (size_t)(t->hi - t->lo) * sizeof(float));
	memcpy(Ha + t->lo, t->ha_win, (size_t)(t->hi - t->lo) * sizeof(float));
}

/* One BDF2 step on fine channels [f0, f1) with a constant H alpha. */
static void bdf2_flat(int64_t f0, int64_t f1, const float *Hj, float ha, const float *Iv,
		      const float *Iv_prev, float *Iv_new)
{
	for (int64_t f = f0; f < f1; f++)
		Iv_new[f] = obs_bdf2(Hj[f], Iv[f], Iv_prev[f], ha);
}

/* The fine channels the line's transfer is computed on: [lo, hi), the
 * hull of the windows of the ray's cells so far (every channel from the
 * first cell whose terms outside its window are not the continuum's).
 * A channel outside it has had the continuum's inputs at every step, so its
 * intensities are the continuum's, bit for bit: they are taken from there
 * when the hull grows over it, and at the end. */
struct line_hull {
	int64_t lo, hi;
};

static void hull_join(struct line_hull *h, int64_t lo, int64_t hi)
{
	if (hi <= lo)
		return;
	if (h->hi <= h->lo)
		h->lo = lo, h->hi = hi;
	if (lo < h->lo)
		h->lo = lo;
	if (hi > h->hi)
		h->hi = hi;
}

/* [lo, hi) joins the hull, the channels it gains (the gap between them
 * included) taking the continuum's values. */
static void hull_grow(const struct observe_plan *p, struct line_hull *h, int64_t lo, int64_t hi,
		      struct ray_scratch *s)
{
	if (hi <= lo)
		return;
	const struct line_hull was = *h;
	hull_join(h, lo, hi);
	if (was.hi <= was.lo) {
		expand_coarse(p, s->Ic, s->Iv, h->lo, h->hi);
		expand_coarse(p, s->Ic_prev, s->Iv_prev, h->lo, h->hi);
		return;
	}
	expand_coarse(p, s->Ic, s->Iv, h->lo, was.lo);
	expand_coarse(p, s->Ic_prev, s->Iv_prev, h->lo, was.lo);
	expand_coarse(p, s->Ic, s->Iv, was.hi, h->hi);
	expand_coarse(p, s->Ic_prev, s->Iv_prev, was.hi, h->hi);
}

/* A cell's window, or every channel, joins the hull. */
static void hull_add(const struct observe_plan *p, struct line_hull *h, const struct thick_cell *t,
		     struct ray_scratch *s)
{
	if (t->outside_is_continuum)
		hull_grow(p, h, t->lo, t->hi, s);
	else
		hull_grow(p, h, 0, p->F, s);
}

static void ray_thick(const struct observe_plan *p, struct ray_scratch *s, float *out)
{
	const int64_t F = p->F, V = p->V, R = p->R;
	const float H = 2.0f * p->pt.ds;
	struct thick_cell t = { .hj_out = s->hj_out, .hj_win = s->jw, .ha_win = s->aw };
	struct line_hull hull = { 0, 0 };
	/* The first step on every channel, as the hull starts from the two
	 * cells' windows (cell 0's taken before cell 1 overwrites t). */
	thick_cell(p, H, 0, s, s->jd0, &t);
	thick_expand(p, &t, s->Hj0, s->Ha0);
	const float alpha_d0 = t.c.alpha_d;
	int64_t lo0 = t.lo, hi0 = t.hi;
	if (!t.outside_is_continuum)
		lo0 = 0, hi0 = F;
	thick_cell(p, H, 1, s, s->jd, &t);
	thick_expand(p, &t, s->Hj, s->Ha);
	continuum_start(p, H, s->jd0, alpha_d0, s->jd, t.c.alpha_d, s);
	for (int64_t f = 0; f < F; f++) {
		float bg = p->background[coarse_of(p, f)];
		s->Iv_prev[f] = bg;
		s->Iv[f] = obs_start(s->Hj0[f], s->Hj[f], s->Ha0[f], s->Ha[f], bg);
	}
	hull_join(&hull, lo0, hi0);
	if (t.outside_is_continuum)
		hull_join(&hull, t.lo, t.hi);
	else
		hull_join(&hull, 0, F);
	for (int64_t r = 2; r < R; r++) {
		thick_cell(p, H, r, s, s->jd, &t);
		/* before the continuum advances: a channel joining the hull
		 * takes the continuum's intensities of the two previous cells */
		hull_add(p, &hull, &t, s);
		continuum_advance(s);
		/* the window, clamped to the hull (it is inside unless empty) */
		const int64_t w0 = t.lo < hull.lo ? hull.lo : t.lo > hull.hi ? hull.hi : t.lo;
		const int64_t w1 = t.hi < w0 ? w0 : t.hi > hull.hi ? hull.hi : t.hi;
		expand_coarse(p, t.hj_out, s->Hj, hull.lo, w0);
		expand_coarse(p, t.hj_out, s->Hj, w1, hull.hi);
		bdf2_flat(hull.lo, w0, s->Hj, t.ha_out, s->Iv, s->Iv_prev, s->Iv_new);
		for (int64_t f = w0; f < w1; f++)
			s->Iv_new[f] = obs_bdf2(t.hj_win[f - t.lo], s->Iv[f], s->Iv_prev[f],
						t.ha_win[f - t.lo]);
		bdf2_flat(w1, hull.hi, s->Hj, t.ha_out, s->Iv, s->Iv_prev, s->Iv_new);
		float *tmp = s->Iv_prev;
		s->Iv_prev = s->Iv;
		s->Iv = s->Iv_new;
		s->Iv_new = tmp;
	}
	expand_coarse(p, s->Ic, s->Iv, 0, hull.lo);
	expand_coarse(p, s->Ic, s->Iv, hull.hi > hull.lo ? hull.hi : 0, F);
	/* Simpson's rule back onto the coarse channels. */
	const float sixth = (float)(6 * p->v_sub);
	const int64_t Q = V * p->v_sub;
	for (int64_t m = 0; m < Q; m++)
		s->q[m] = obs_simpson_q(s->Iv[2 * m], s->Iv[2 * m + 1], s->Iv[2 * m + 2], sixth);
	for (int64_t k = 0; k < V; k++)
		s->I[k] = obs_inner_sum(s->q + k * p->v_sub, p->v_sub);
	subtract_and_convert(p, s->I, s->Ic, out);
}

static void coarse_cell(const struct observe_plan *p, int64_t r, struct ray_scratch *s, float *j,
			float *a, float *jd, struct obs_cell *c)
{
	float v, rho, T, x, X, Td;
	gather_cell(s, r, &v, &rho, &T, &x, &X, &Td);
	cell_line(p, v, rho, T, x, X, c);
	cell_dust(p, c, Td, jd, &s->dust);
	integrated_profile(p, c, j, a, s->e, s->s);
}

static void ray_selthin(const struct observe_plan *p, struct ray_scratch *s, float *out)
{
	const int64_t V = p->V, R = p->R;
	const float H = 2.0f * p->pt.ds;
	struct obs_cell c0, c1;
	float *f0 = s->j_hist[0], *a0 = s->j_hist[1];
	coarse_cell(p, 0, s, f0, a0, s->jd0, &c0);
	coarse_cell(p, 1, s, s->j, s->a, s->jd, &c1);
	continuum_start(p, H, s->jd0, c0.alpha_d, s->jd, c1.alpha_d, s);
	const float Ha0 = c0.alpha_d * H, Ha1 = c1.alpha_d * H;
	for (int64_t k = 0; k < V; k++) {
		const float bg = p->background[k];
		const float g0 = obs_selthin_source(f0[k], s->jd0[k], a0[k], bg);
		const float g1 = obs_selthin_source(s->j[k], s->jd[k], s->a[k], s->Ic[k]);
		s->I_prev[k] = bg;
		s->I[k] = obs_selthin_start(g0, g1, Ha0, Ha1, H, bg);
	}
	for (int64_t r = 2; r < R; r++) {
		struct obs_cell c;
		coarse_cell(p, r, s, s->j, s->a, s->jd, &c);
		continuum_step(p, H, s->jd, c.alpha_d, s);
		const float Ha = c.alpha_d * H;
		for (int64_t k = 0; k < V; k++) {
			const float g = obs_selthin_source(s->j[k], s->jd[k], s->a[k], s->Ic[k]);
			s->I_new[k] = obs_bdf2(H * g, s->I[k], s->I_prev[k], Ha);
		}
		float *t = s->I_prev;
		s->I_prev = s->I;
		s->I = s->I_new;
		s->I_new = t;
	}
	subtract_and_convert(p, s->I, s->Ic, out);
}

/* The Simpson panels of the line (j) and the continuum (jd) over three
 * cells, into I and Ic (arrays apart, so that the loop vectorises). */
static void thin_panels(int64_t V, float h3, float *const j[3], float *const jd[3],
			float *restrict I, float *restrict Ic)
{
	const float *restrict j0 = j[0], *restrict j1 = j[1], *restrict j2 = j[2];
	const float *restrict d0 = jd[0], *restrict d1 = jd[1], *restrict d2 = jd[2];
	for (int64_t k = 0; k < V; k++) {
		I[k] = obs_simpson(j0[k], j1[k], j2[k], h3);
		Ic[k] = obs_simpson(d0[k], d1[k], d2[k], h3);
	}
}

static void ray_thin(const struct observe_plan *p, struct ray_scratch *s, float *out)
{
	const int64_t V = p->V, n = (p->R - 1) / 2;
	const float h3 = p->pt.ds / 3.0f;
	struct cascade line, cont;
	cascade_init(&line, n, V, s->casc_line);
	cascade_init(&cont, n, V, s->casc_cont);
	float *jh[3] = { s->j_hist[0], s->j_hist[1], s->j_hist[2] };
	float *dh[3] = { s->jd_hist[0], s->jd_hist[1], s->jd_hist[2] };
	struct obs_cell c;
	coarse_cell(p, 0, s, jh[0], NULL, dh[0], &c);
	for (int64_t m = 0; m < n; m++) {
		coarse_cell(p, 2 * m + 1, s, jh[1], NULL, dh[1], &c);
		coarse_cell(p, 2 * m + 2, s, jh[2], NULL, dh[2], &c);
		thin_panels(V, h3, jh, dh, s->I, s->Ic);
		cascade_push(&line, s->I);
		cascade_push(&cont, s->Ic);
		float *t = jh[0];
		jh[0] = jh[2];
		jh[2] = t;
		t = dh[0];
		dh[0] = dh[2];
		dh[2] = t;
	}
	const float *I_line = cascade_finish(&line), *I_cont = cascade_finish(&cont);
	for (int64_t k = 0; k < V; k++) {
		s->Ic[k] = I_cont[k] + p->background[k];
		s->I[k] = I_line[k] + s->Ic[k];
	}
	subtract_and_convert(p, s->I, s->Ic, out);
}

/* IRIS's SimpleObserver: each cell's mass per velocity step shared between
 * its two nearest channels (out-of-band gas piled onto the edge ones),
 * summed along r in torch's cascade order. */
static void ray_simple(const struct observe_plan *p, struct ray_scratch *s, float *out)
{
	const int64_t V = p->V, R = p->R;
	struct cascade c;
	cascade_init(&c, R, V, s->casc_line);
	for (int64_t r = 0; r < R; r++) {
		float m0, m1;
		const int64_t i = obs_simple_cell(&p->pt, s->rho[r], s->v[r], &m0, &m1);
		/* Adding +0 to the other channels changes nothing: only the two. */
		c.acc[0][i] += m0;
		c.acc[0][i + 1] += m1;
		cascade_carry(&c);
	}
	memcpy(out, cascade_finish(&c), (size_t)V * sizeof(float));
}

/* ---- blocks, threads --------------------------------------------------- */

struct block {
	const struct observe_plan *p;
	int64_t l0, l1;       /* the lons observed */
	int64_t h0, hw;       /* the lons read: [h0, h0 + hw) */
	const float *raw;     /* (6, R, hw, A) */
	float *vr;            /* (R, l1 - l0, A): channel 0 after the blur */
	float *ppv;           /* (L, A, V), the whole cube */
	atomic_llong next;    /* the next ray to take */
	int failed;
	uint64_t windows;
};

/* The velocity blur of rows [r_lo, r_hi). Latitudes away from the edges
 * are blurred a row at a time, the taps in obs_blur_point's order for every
 * latitude at once (each one's sum in the same order, so the same bits,
 * and a loop that vectorises); the edges, which reflect, point by point. */
static void blur_block(struct block *b, int64_t r_lo, int64_t r_hi, float *acc)
{
	const struct observe_plan *p = b->p;
	const int64_t A = p->A, lw = b->l1 - b->l0, ha = p->ka / 2;
	const int64_t a0 = ha, a1 = A - ha > ha ? A - ha : ha; /* no reflection in [a0, a1) */
	for (int64_t r = r_lo; r < r_hi; r++)
		for (int64_t lj = 0; lj < lw; lj++) {
			float *out = b->vr + (r * lw + lj) * A;
			for (int64_t a = a0; a < a1; a++)
				acc[a] = 0;
			const float *w = p->in_weight;
			for (int64_t i = 0; i < p->kr; i++) {
				const int64_t rr = obs_reflect(r + i - p->kr / 2, p->R);
				for (int64_t j = 0; j < p->kl; j++) {
					const int64_t ll = obs_reflect(b->l0 + lj + j - p->kl / 2, p->L);
					const float *row = b->raw /* channel 0 */ + (rr * b->hw + ll - b->h0) * A;
					for (int64_t k = 0; k < p->ka; k++, w++)
						for (int64_t a = a0; a < a1; a++) {
							const float prod = *w * row[a + k - ha];
							acc[a] = acc[a] + prod;
						}
				}
			}
			for (int64_t a = 0; a < A; a++)
				out[a] = a >= a0 && a < a1 ? acc[a]
					 : obs_blur_point(p->in_weight, p->kr, p->kl, p->ka, b->raw, p->R, p->L,
							  A, b->h0, b->hw, r, b->l0 + lj, a);
		}
}

struct worker {
	struct block *b;
	struct ray_scratch s;
	int phase; /* 0: blur rows, 1: rays */
	atomic_llong *next;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	struct block *b = w->b;
	const struct observe_plan *p = b->p;
	const int64_t A = p->A, R = p->R, lw = b->l1 - b->l0;
	if (w->phase == 0) {
		for (;;) {
			int64_t r = atomic_fetch_add(w->next, 4);
			if (r >= R)
				break;
			blur_block(b, r, r + 4 < R ? r + 4 : R, w->s.tmp);
		}
		return NULL;
	}
	const int64_t per_lon = (A + RAY_CHUNK - 1) / RAY_CHUNK, items = lw * per_lon;
	struct ray_scratch *s = &w->s;
	for (;;) {
		const int64_t item = atomic_fetch_add(w->next, 1);
		if (item >= items)
			break;
		const int64_t lj = item / per_lon, a0 = item % per_lon * RAY_CHUNK;
		const int64_t n = a0 + RAY_CHUNK < A ? RAY_CHUNK : A - a0;
		for (int ch = 0; ch < 6; ch++) {
			const float *src = ch == 0 ? b->vr : b->raw + (size_t)ch * (size_t)R * (size_t)b->hw * (size_t)A;
			const int64_t width = ch == 0 ? lw : b->hw;
			const int64_t col = ch == 0 ? lj : b->l0 - b->h0 + lj;
			for (int64_t r = 0; r < R; r++) {
				const float *row = src + (r * width + col) * A + a0;
				for (int64_t i = 0; i < n; i++)
					s->chunk[(i * 6 + ch) * R + r] = row[i];
			}
		}
		for (int64_t i = 0; i < n; i++) {
			float *cells = s->chunk + i * 6 * R;
			s->v = cells;
			s->rho = cells + R;
			s->T = cells + 2 * R;
			s->x = cells + 3 * R;
			s->X = cells + 4 * R;
			s->Td = cells + 5 * R;
			float *out = b->ppv + ((size_t)(b->l0 + lj) * (size_t)A + (size_t)(a0 + i)) * (size_t)p->V;
			switch (p->mode) {
			case OBSERVE_THICK: ray_thick(p, s, out); break;
			case OBSERVE_THIN: ray_thin(p, s, out); break;
			case OBSERVE_SELTHIN: ray_selthin(p, s, out); break;
			case OBSERVE_SIMPLE: ray_simple(p, s, out); break;
			}
		}
	}
	return NULL;
}

static void run_workers(struct worker *w, int threads, int phase)
{
	atomic_llong next = 0;
	for (int t = 0; t < threads; t++) {
		w[t].phase = phase;
		w[t].next = &next;
	}
	parallel_run(threads, work, w, sizeof *w, NULL);
}

/* col[r, l] = mean over lat of rho x_H2 mw_H2 / mw_ism, r in the crop. */
void observe_columnize(const struct observe_plan *p, const float *raw, int64_t h0, int64_t hw,
		       int64_t l0, int64_t l1, float *col, float *tmp)
{
	const int64_t A = p->A, R = p->R, L = p->L;
	const float *rho = raw + (size_t)1 * (size_t)R * (size_t)hw * (size_t)A;
	const float *xh2 = raw + (size_t)3 * (size_t)R * (size_t)hw * (size_t)A;
	for (int64_t r = p->r_crop_min; r < p->r_crop_max; r++)
		for (int64_t l = l0; l < l1; l++) {
			const size_t at = (size_t)((r * hw + (l - h0)) * A);
			for (int64_t a = 0; a < A; a++)
				tmp[a] = rho[at + a] * xh2[at + a] * p->mw_H2 / p->mw_ism;
			col[(r - p->r_crop_min) * L + l] = obs_inner_sum(tmp, A) / (float)A;
		}
}

struct nodes_job {
	const struct observe_plan *p;
	const float *rho;  /* (R, hw, A) */
	int64_t off, hw, lw;
	uint16_t *out;     /* (R, lw, A) */
	atomic_llong *next;
};

static void *nodes_work(void *arg)
{
	const struct nodes_job *j = arg;
	const int64_t A = j->p->A;
	for (;;) {
		const int64_t r = atomic_fetch_add(j->next, 1);
		if (r >= j->p->R)
			return NULL;
		/* neighbouring voxels of a nearest-cell tensor often share a cell */
		float last = NAN;
		uint16_t node = 0;
		for (int64_t lj = 0; lj < j->lw; lj++) {
			const float *rho = j->rho + (r * j->hw + j->off + lj) * A;
			uint16_t *out = j->out + (r * j->lw + lj) * A;
			for (int64_t a = 0; a < A; a++) {
				if (memcmp(&rho[a], &last, sizeof last)) {
					last = rho[a];
					node = (uint16_t)obs_rho_node(&j->p->pt, last);
				}
				out[a] = node;
			}
		}
	}
}

void observe_rho_nodes(const struct observe_plan *p, const float *raw, int64_t h0, int64_t hw,
		       int64_t l0, int64_t l1, int threads, uint16_t *out)
{
	atomic_llong next = 0;
	struct nodes_job jobs[256];
	threads = threads <= 0 ? cpu_count() : threads > 256 ? 256 : threads;
	for (int t = 0; t < threads; t++)
		jobs[t] = (struct nodes_job){ p, raw + (size_t)p->R * (size_t)hw * (size_t)p->A, l0 - h0, hw,
					      l1 - l0, out, &next };
	parallel_run(threads, nodes_work, jobs, sizeof jobs[0], NULL);
}

/* The beam over (lon, lat) of every velocity plane of lon row l, into
 * row (A, V). */
static void beam_row(const struct observe_plan *p, const float *ppv, int64_t l, float *row)
{
	for (int64_t a = 0; a < p->A; a++)
		obs_beam_span(p->beam_weight, p->bl, p->ba, ppv, p->L, p->A, p->V, l, a, 0, p->V,
			      row + a * p->V);
}

/* The latitude reduction of lon row (A, V) into out (V). */
static void reduce_row(const struct observe_plan *p, const float *row, float *out, float *casc)
{
	const int64_t A = p->A, V = p->V;
	if (p->reduce_max) {
		for (int64_t k = 0; k < V; k++) {
			float m = row[k];
			for (int64_t a = 1; a < A; a++)
				m = obs_max_step(m, row[a * V + k]);
			out[k] = m;
		}
		return;
	}
	struct cascade c;
	cascade_init(&c, A, V, casc);
	for (int64_t a = 0; a < A; a++)
		cascade_push(&c, row + a * V);
	const float *sum = cascade_finish(&c);
	for (int64_t k = 0; k < V; k++)
		out[k] = sum[k] / (float)A;
}

struct post_worker {
	const struct observe_plan *p;
	const float *ppv;
	struct observe_stages *stages;
	float *observed;
	atomic_llong *next;
};

static void *post_work(void *arg)
{
	struct post_worker *w = arg;
	const struct observe_plan *p = w->p;
	const size_t rowsize = (size_t)p->A * (size_t)p->V;
	float *row = malloc(rowsize * sizeof(float)), *casc = malloc(4 * (size_t)p->V * sizeof(float));
	if (!row || !casc) {
		free(row);
		free(casc);
		return (void *)1;
	}
	for (;;) {
		int64_t l = atomic_fetch_add(w->next, 1);
		if (l >= p->L)
			break;
		const float *src = w->ppv + (size_t)l * rowsize;
		if (p->beam) {
			beam_row(p, w->ppv, l, row);
			src = row;
		}
		if (w->stages && w->stages->ppv)
			memcpy(w->stages->ppv + (size_t)l * rowsize, src, rowsize * sizeof(float));
		reduce_row(p, src, w->observed + (size_t)l * (size_t)p->V, casc);
	}
	free(row);
	free(casc);
	return NULL;
}

/* The buffers of one run: the lon block read (with its blur halo), its
 * blurred v_r, the whole cube before the beam, and the threads' scratch. */
struct run {
	const struct observe_plan *p;
	int threads;
	int64_t lon_block, halo;
	struct worker *w;
	float *raw, *vr, *ppv, *tmp;
};

static int run_alloc(struct run *run, const struct observe_plan *p, int threads, int64_t lon_block,
		     struct arepo_err *err)
{
	const int64_t R = p->R, L = p->L, A = p->A, V = p->V;
	memset(run, 0, sizeof *run);
	run->p = p;
	run->threads = threads <= 0 ? cpu_count() : threads > 256 ? 256 : threads;
	if (lon_block <= 0) { /* about 48 MiB of tensor per block */
		lon_block = (int64_t)(48 << 20) / (6 * R * A * (int64_t)sizeof(float));
		lon_block = lon_block < 4 ? 4 : lon_block;
	}
	run->lon_block = lon_block > L ? L : lon_block;
	run->halo = p->blur_inputs ? p->kl / 2 : 0;
	const int64_t max_hw = run->lon_block + 2 * run->halo < L ? run->lon_block + 2 * run->halo : L;
	run->w = calloc((size_t)run->threads, sizeof *run->w);
	run->raw = malloc((size_t)6 * (size_t)R * (size_t)max_hw * (size_t)A * sizeof(float));
	run->vr = malloc((size_t)R * (size_t)run->lon_block * (size_t)A * sizeof(float));
	run->ppv = malloc((size_t)L * (size_t)A * (size_t)V * sizeof(float));
	run->tmp = malloc((size_t)A * sizeof(float));
	int ok = run->w && run->raw && run->vr && run->ppv && run->tmp;
	for (int t = 0; ok && t < run->threads; t++)
		ok = !scratch_alloc(&run->w[t].s, p);
	if (!ok)
		return err_set(err, EXIT_RUNTIME, "out of memory (the observation needs %.0f MiB and "
						  "%d threads' scratch)",
			       ((double)6 * (double)R * (double)max_hw * (double)A +
				(double)L * (double)A * (double)V) * 4 / 1048576, run->threads);
	return 0;
}

static void run_free(struct run *run)
{
	if (run->w)
		for (int t = 0; t < run->threads; t++)
			scratch_free(&run->w[t].s);
	free(run->w);
	free(run->raw);
	free(run->vr);
	free(run->ppv);
	free(run->tmp);
}

/* Lons [l0, l0 + lon_block): read, blurred, columnized and observed ray by
 * ray into the cube. */
static int run_block(struct run *run, int64_t l0, observe_read_fn read, void *source,
		     struct observe_stages *stages, struct observe_output *out,
		     struct observe_stats *st, struct arepo_err *err)
{
	const struct observe_plan *p = run->p;
	const int64_t R = p->R, L = p->L, A = p->A;
	struct block b = { .p = p, .raw = run->raw, .vr = run->vr, .ppv = run->ppv };
	b.l0 = l0;
	b.l1 = l0 + run->lon_block < L ? l0 + run->lon_block : L;
	b.h0 = l0 - run->halo > 0 ? l0 - run->halo : 0;
	const int64_t h1 = b.l1 + run->halo < L ? b.l1 + run->halo : L, lw = b.l1 - b.l0;
	b.hw = h1 - b.h0;
	for (int i = 0; i < run->threads; i++)
		run->w[i].b = &b;

	double t = monotonic_seconds();
	int rc = read(source, b.h0, h1, run->raw, err);
	if (rc)
		return rc;
	st->seconds_read += monotonic_seconds() - t;

	t = monotonic_seconds();
	if (p->blur_inputs)
		run_workers(run->w, run->threads, 0);
	else
		for (int64_t r = 0; r < R; r++)
			for (int64_t lj = 0; lj < lw; lj++)
				memcpy(run->vr + (r * lw + lj) * A, run->raw + (r * b.hw + (l0 - b.h0 + lj)) * A,
				       (size_t)A * sizeof(float));
	if (stages && stages->blurred_vr)
		for (int64_t r = 0; r < R; r++)
			for (int64_t lj = 0; lj < lw; lj++)
				memcpy(stages->blurred_vr + (r * L + l0 + lj) * A, run->vr + (r * lw + lj) * A,
				       (size_t)A * sizeof(float));
	observe_columnize(p, run->raw, b.h0, b.hw, b.l0, b.l1, out->columnized, run->tmp);
	st->seconds_blur += monotonic_seconds() - t;

	t = monotonic_seconds();
	run_workers(run->w, run->threads, 1);
	st->seconds_rays += monotonic_seconds() - t;
	st->rays += (uint64_t)(lw * A);
	st->cells += (uint64_t)(lw * A * R);
	return 0;
}

/* The beam and the latitude reduction, lon row by lon row. */
static int run_beam(struct run *run, struct observe_stages *stages, struct observe_output *out,
		    struct arepo_err *err)
{
	atomic_llong next = 0;
	struct post_worker pw[256];
	for (int i = 0; i < run->threads; i++)
		pw[i] = (struct post_worker){ run->p, run->ppv, stages, out->observed, &next };
	void *bad;
	parallel_run(run->threads, post_work, pw, sizeof pw[0], &bad);
	return bad ? err_set(err, EXIT_RUNTIME, "out of memory") : 0;
}

int observe_run(const struct observe_plan *p, observe_read_fn read, void *source, int threads,
		int64_t lon_block, struct observe_stages *stages, struct observe_output *out,
		struct observe_stats *st, void (*progress)(double), struct arepo_err *err)
{
	memset(st, 0, sizeof *st);
	struct run run;
	int rc = run_alloc(&run, p, threads, lon_block, err);
	st->lon_block = run.lon_block;
	for (int64_t l0 = 0; !rc && l0 < p->L; l0 += run.lon_block) {
		rc = run_block(&run, l0, read, source, stages, out, st, err);
		if (!rc && progress)
			progress((double)(l0 + run.lon_block < p->L ? l0 + run.lon_block : p->L) / (double)p->L);
	}
	if (!rc) {
		for (int t = 0; t < run.threads; t++)
			st->line_windows += run.w[t].s.windows;
		if (stages && stages->ppv_prebeam)
			memcpy(stages->ppv_prebeam, run.ppv,
			       (size_t)p->L * (size_t)p->A * (size_t)p->V * sizeof(float));
		double t = monotonic_seconds();
		rc = run_beam(&run, stages, out, err);
		st->seconds_beam += monotonic_seconds() - t;
	}
	run_free(&run);
	return rc;
}
