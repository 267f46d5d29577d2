/* The CUDA backend's per-thread code (lib/observe_ray.h, with the scalar
 * SLEEF ports) run here on the CPU, block by block as the kernels run it,
 * against the CPU backend (observe_run) bit for bit at every stage: the
 * blurred velocity, the cube before and after the beam, the observed map
 * and the columnized map, in every mode and with the options that change
 * the path (v_subsamples, no blur, no beam, the max reduction). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "observe.h"
#include "observe_ray.h"
#include "obsgrid.h"
#include "obsgrid_cache.h"
#include "rng.h"
#include "tap.h"
#include "vmath.h"

#define CHEM "pipelines/chem/13C16O.dat"

/* A tensor at the SEDIGISM pixel scale (so that the beam is 7 x 7 taps). */
static const char *const base_sets[] = {
	"coordinate_hyper.r_steps=24", "coordinate_hyper.r_crop_min_index=2",
	"coordinate_hyper.r_crop_max_index=20", "coordinate_hyper.lon_steps=12",
	"coordinate_hyper.lon_min=-0.03515625", "coordinate_hyper.lon_max=0.03515625",
	"coordinate_hyper.lat_steps=8", "coordinate_hyper.lat_min=-0.0234375",
	"coordinate_hyper.lat_max=0.0234375", "observer_hyper.N_H_TOT_steps=[24]",
	"observer_hyper.abundance_H2_steps=[8]", "observer_hyper.T_steps=[12]",
	"observer_hyper.chem_path=[\"" CHEM "\"]",
};

struct tensor {
	int64_t R, L, A;
	float *v; /* (6, R, L, A) */
};

static int read_tensor(void *source, int64_t l0, int64_t l1, float *out, struct arepo_err *err)
{
	(void)err;
	const struct tensor *t = source;
	const int64_t w = l1 - l0;
	for (int64_t ch = 0; ch < 6; ch++)
		for (int64_t r = 0; r < t->R; r++)
			memcpy(out + ((ch * t->R + r) * w) * t->A,
			       t->v + ((ch * t->R + r) * t->L + l0) * t->A, (size_t)(w * t->A) * sizeof(float));
	return 0;
}

/* Physical values (processing units) with the cases that take other paths:
 * no line (T = +inf), narrow lines, gas outside the band, no gas. */
static void fill_tensor(struct tensor *t, int with_zero_T)
{
	struct rng_stream s;
	rng_init(&s, 11, "observe-ray", 0, "tensor");
	const int64_t n = t->R * t->L * t->A;
	float *c[6];
	for (int ch = 0; ch < 6; ch++)
		c[ch] = t->v + ch * n;
	for (int64_t i = 0; i < n; i++) {
		c[0][i] = (float)rng_uniform_range(&s, -0.5, 0.5);
		c[1][i] = (float)pow(10, rng_uniform_range(&s, -3, 3));
		c[2][i] = (float)rng_uniform_range(&s, 8, 300);
		c[3][i] = (float)rng_uniform_range(&s, 0, 0.5);
		c[4][i] = (float)rng_uniform_range(&s, 0, 1.4e-4);
		c[5][i] = (float)rng_uniform_range(&s, 8, 25);
		/* nearest-cell tensors repeat a cell's values along latitude */
		if (i % t->A && rng_uniform(&s) < 0.3)
			for (int ch = 0; ch < 6; ch++)
				c[ch][i] = c[ch][i - 1];
	}
	c[2][5] = INFINITY;
	c[2][n / 2] = INFINITY;
	c[2][7 * t->A + 3] = 0.5f;
	c[2][9 * t->A + 1] = 3000.0f;
	c[0][11] = 3.0f;
	c[0][13] = -2.5f;
	c[1][17] = 0;
	c[3][19] = 0;
	c[4][23] = 0;
	c[1][29] = 3e4f;
	if (with_zero_T)
		c[2][31] = 0;
}

/* Everything the backends give for one tensor. */
struct result {
	float *vr, *prebeam, *ppv, *observed, *columnized;
};

static int result_alloc(struct result *r, const struct observe_plan *p)
{
	const size_t cube = (size_t)(p->L * p->A * p->V);
	r->vr = calloc((size_t)(p->R * p->L * p->A), sizeof(float));
	r->prebeam = calloc(cube, sizeof(float));
	r->ppv = calloc(cube, sizeof(float));
	r->observed = calloc((size_t)(p->L * p->V), sizeof(float));
	r->columnized = calloc((size_t)((p->r_crop_max - p->r_crop_min) * p->L), sizeof(float));
	return r->vr && r->prebeam && r->ppv && r->observed && r->columnized ? 0 : -1;
}

static void result_free(struct result *r)
{
	free(r->vr);
	free(r->prebeam);
	free(r->ppv);
	free(r->observed);
	free(r->columnized);
}

/* The CUDA backend's work, kernel by kernel, as loops over its threads. */
static void emulate(const struct observe_plan *p, const struct tensor *t, int64_t lon_block,
		    struct result *out)
{
	const struct obs_point *k = &p->pt;
	const int64_t R = p->R, L = p->L, A = p->A, V = p->V, F = p->F;
	const int64_t halo = p->blur_inputs ? p->kl / 2 : 0;
	float *raw = malloc((size_t)(6 * R * L * A) * sizeof(float));
	float *vr = malloc((size_t)(R * L * A) * sizeof(float));
	struct obs_cell_rec *cells = malloc((size_t)(R * L * A) * sizeof *cells);
	float *Iv = malloc((size_t)(L * A * F) * sizeof(float));
	float *Ic = malloc((size_t)(L * A * V) * sizeof(float));
	float *tmp = malloc((size_t)A * sizeof(float));
	for (int64_t l0 = 0; l0 < L; l0 += lon_block) {
		const int64_t l1 = l0 + lon_block < L ? l0 + lon_block : L, lw = l1 - l0;
		const int64_t h0 = l0 - halo > 0 ? l0 - halo : 0, h1 = l1 + halo < L ? l1 + halo : L;
		const int64_t hw = h1 - h0, rays = lw * A;
		struct arepo_err err;
		read_tensor((void *)t, h0, h1, raw, &err);
		observe_columnize(p, raw, h0, hw, l0, l1, out->columnized, tmp);
		const size_t plane = (size_t)(R * hw * A);
		/* the blur kernel: one thread per (r, lon, lat) */
		for (int64_t r = 0; r < R; r++)
			for (int64_t lj = 0; lj < lw; lj++)
				for (int64_t a = 0; a < A; a++)
					vr[(r * lw + lj) * A + a] =
						p->blur_inputs
						? obs_blur_point(p->in_weight, p->kr, p->kl, p->ka, raw, R, L, A,
								 h0, hw, r, l0 + lj, a)
						: raw[(r * hw + l0 - h0 + lj) * A + a];
		for (int64_t r = 0; r < R; r++)
			for (int64_t lj = 0; lj < lw; lj++)
				memcpy(out->vr + (r * L + l0 + lj) * A, vr + (r * lw + lj) * A,
				       (size_t)A * sizeof(float));
		/* the per-cell kernel: one thread per (r, ray), cells (r, ray) */
		if (p->mode != OBSERVE_SIMPLE)
			for (int64_t r = 0; r < R; r++)
				for (int64_t ray = 0; ray < rays; ray++) {
					const int64_t lj = ray / A, a = ray % A;
					const size_t at = (size_t)((r * hw + l0 - h0 + lj) * A + a);
					const float rho = raw[plane + at];
					obs_cell_record(k, p->mode == OBSERVE_THICK, vr[(r * lw + lj) * A + a],
							rho, raw[2 * plane + at], raw[3 * plane + at],
							raw[4 * plane + at], raw[5 * plane + at],
							obs_rho_node(k, rho), &cells[r * rays + ray]);
				}
		/* the per-channel kernels: one thread per (ray, channel) */
		for (int64_t ray = 0; ray < rays; ray++) {
			const int64_t l = l0 + ray / A, a = ray % A;
			float *dst = out->prebeam + (l * A + a) * V;
			for (int64_t ch = 0; ch < V; ch++)
				switch (p->mode) {
				case OBSERVE_THICK:
					obs_thick_channel(k, cells + ray, rays, ch, Iv + ray * F, Ic + ray * V + ch);
					break;
				case OBSERVE_THIN: dst[ch] = obs_thin_channel(k, cells + ray, rays, ch); break;
				case OBSERVE_SELTHIN: dst[ch] = obs_selthin_channel(k, cells + ray, rays, ch); break;
				case OBSERVE_SIMPLE:
					dst[ch] = obs_simple_channel(k, raw + plane + (l - h0) * A + a, hw * A,
								     vr + (l - l0) * A + a, lw * A, ch);
					break;
				}
			if (p->mode == OBSERVE_THICK)
				for (int64_t ch = 0; ch < V; ch++)
					dst[ch] = obs_thick_finish(k, Iv + ray * F, Ic[ray * V + ch], ch);
		}
	}
	/* the beam kernel: one thread per (lon, lat, channel) */
	for (int64_t l = 0; l < L; l++)
		for (int64_t a = 0; a < A; a++)
			for (int64_t ch = 0; ch < V; ch++) {
				float *o = out->ppv + (l * A + a) * V + ch;
				if (p->beam)
					obs_beam_span(p->beam_weight, p->bl, p->ba, out->prebeam, L, A, V, l, a,
						      ch, 1, o);
				else
					*o = out->prebeam[(l * A + a) * V + ch];
			}
	/* the reduction kernel: one thread per (lon, channel) */
	for (int64_t l = 0; l < L; l++)
		for (int64_t ch = 0; ch < V; ch++)
			out->observed[l * V + ch] = obs_reduce_column(out->ppv + l * A * V, A, V, ch, p->reduce_max);
	free(raw);
	free(vr);
	free(cells);
	free(Iv);
	free(Ic);
	free(tmp);
}

/* Bitwise equality of n floats; the first difference is reported. */
static int same_bits(const float *a, const float *b, size_t n, const char *what)
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(a + i, b + i, sizeof(float))) {
			printf("#   %s: first difference at %zu: %.9g (CPU) vs %.9g\n", what, i, a[i], b[i]);
			return 0;
		}
	return 1;
}

static void check_case(const char *name, const struct arepo_config *base, const char *const *sets,
		       const struct obsgrids *grids, const struct tensor *t)
{
	struct arepo_config cfg = *base;
	struct arepo_err err = { 0 };
	for (; *sets; sets++)
		if (config_set(&cfg, *sets, &err)) {
			ok(0, "%s: %s", name, err.msg);
			return;
		}
	enum observe_mode mode;
	observe_mode_parse(config_observe_mode(cfg.observer_hyper.mode), &mode);
	struct observe_plan p;
	if (observe_plan_init(&p, &cfg, mode, t->R, t->L, t->A, grids, &err)) {
		ok(0, "%s: %s", name, err.msg);
		return;
	}
	struct result cpu, dev;
	if (result_alloc(&cpu, &p) || result_alloc(&dev, &p)) {
		printf("Bail out! out of memory\n");
		exit(1);
	}
	struct observe_stages stages = { cpu.vr, cpu.prebeam, cpu.ppv };
	struct observe_output o = { cpu.observed, cpu.columnized };
	struct observe_stats st;
	int rc = observe_run(&p, read_tensor, (void *)t, 2, 5, &stages, &o, &st, NULL, &err);
	emulate(&p, t, 5, &dev);
	const size_t cube = (size_t)(p.L * p.A * p.V);
	ok(rc == 0 && same_bits(cpu.vr, dev.vr, (size_t)(p.R * p.L * p.A), "blurred v_r") &&
	   same_bits(cpu.prebeam, dev.prebeam, cube, "cube before the beam") &&
	   same_bits(cpu.ppv, dev.ppv, cube, "cube after the beam") &&
	   same_bits(cpu.observed, dev.observed, (size_t)(p.L * p.V), "observed") &&
	   same_bits(cpu.columnized, dev.columnized, (size_t)((p.r_crop_max - p.r_crop_min) * p.L),
		     "columnized"),
	   "%s: the kernels' code gives the CPU backend's bits at every stage", name);
	result_free(&cpu);
	result_free(&dev);
	observe_plan_free(&p);
}

/* The line window's ends as the definition gives them: the first fine
 * channel whose offset nu_f / opv - nu_ul is >= -bound, and the first
 * (from there) whose offset is > bound, by a scan. */
static void scan_thick_range(const struct obs_point *k, const struct obs_cell *c, int64_t *lo,
			     int64_t *hi)
{
	const float bound = 10.25f * c->dnu + 4e-6f * k->nu_ul;
	int64_t f = 0;
	while (f < k->F && !(k->nu_fine[f] / c->opv - k->nu_ul >= -bound))
		f++;
	*lo = f;
	while (f < k->F && !(k->nu_fine[f] / c->opv - k->nu_ul > bound))
		f++;
	*hi = f;
}

/* obs_thick_range (a galloping search from a guess) finds the scan's ends
 * for lines anywhere on the axis, off either end, narrow and wide. */
static void check_thick_range(const struct arepo_config *base, const struct obsgrids *grids)
{
	struct arepo_config cfg = *base;
	struct arepo_err err = { 0 };
	struct observe_plan p;
	if (config_set(&cfg, "observer_hyper.mode=\"thick\"", &err) ||
	    observe_plan_init(&p, &cfg, OBSERVE_THICK, 24, 12, 8, grids, &err)) {
		ok(0, "thick window search: %s", err.msg);
		return;
	}
	struct rng_stream rng;
	rng_init(&rng, 7, "test-observe-ray", -1, "thick window");
	const float span = (p.nu_fine[p.F - 1] - p.nu_fine[0]) / p.pt.nu_ul;
	int64_t bad = 0, cells = 200000, inside = 0;
	for (int64_t i = 0; i < cells && bad < 5; i++) {
		/* line centres from well below to well above the axis */
		const float centre = p.nu_fine[0] + (float)rng_uniform_range(&rng, -0.5, 1.5) *
						      (p.nu_fine[p.F - 1] - p.nu_fine[0]);
		struct obs_cell c = { .opv = centre / p.pt.nu_ul, .bad = 0, .fast = 1 };
		c.dnu = p.pt.nu_ul * span * (float)pow(10, rng_uniform_range(&rng, -5, 0.5));
		int64_t lo, hi, want_lo, want_hi;
		obs_thick_range(&p.pt, &c, &lo, &hi);
		scan_thick_range(&p.pt, &c, &want_lo, &want_hi);
		inside += want_lo > 0 && want_hi < p.F;
		if (lo != want_lo || hi != want_hi) {
			bad++;
			printf("#   opv %.9g dnu %.9g: [%lld, %lld), the scan [%lld, %lld)\n", c.opv, c.dnu,
			       (long long)lo, (long long)hi, (long long)want_lo, (long long)want_hi);
		}
	}
	ok(bad == 0 && inside > cells / 10,
	   "thick window search gives the scan's ends (%lld cells, %lld windows inside the axis)",
	   (long long)cells, (long long)inside);
	observe_plan_free(&p);
}

int main(void)
{
	struct arepo_err err = { 0 };
	if (vmath_check_cpu(&err)) {
		printf("1..0 # SKIP %s\n", err.msg);
		return 0;
	}
	if (access(CHEM, R_OK)) {
		printf("1..0 # SKIP %s not found (run from the source tree)\n", CHEM);
		return 0;
	}
	struct arepo_config cfg;
	config_defaults(&cfg);
	if (config_load_file(&cfg, "pipelines/presets/tiny.json", &err)) {
		printf("Bail out! %s\n", err.msg);
		return 1;
	}
	for (size_t i = 0; i < sizeof base_sets / sizeof *base_sets; i++)
		if (config_set(&cfg, base_sets[i], &err)) {
			printf("Bail out! %s\n", err.msg);
			return 1;
		}
	struct obsgrid_inputs in;
	struct obsgrids grids;
	obsgrid_inputs_from_config(&cfg, CHEM, &in);
	if (obsgrid_build(&in, 0, &grids, &err)) {
		printf("Bail out! %s\n", err.msg);
		return 1;
	}
	struct tensor t = { cfg.coordinate_hyper.r_steps, cfg.coordinate_hyper.lon_steps,
			    cfg.coordinate_hyper.lat_steps, NULL };
	t.v = malloc((size_t)(6 * t.R * t.L * t.A) * sizeof(float));
	fill_tensor(&t, 0);

	static const char *const thick[] = { "observer_hyper.mode=\"thick\"", NULL };
	static const char *const thick2[] = { "observer_hyper.mode=\"thick\"", "observer_hyper.v_subsamples=2",
					      NULL };
	static const char *const thin[] = { "observer_hyper.mode=\"thin\"", NULL };
	static const char *const selthin[] = { "observer_hyper.mode=\"selthin\"", NULL };
	static const char *const simple[] = { "observer_hyper.mode=\"simple\"", NULL };
	static const char *const plain[] = { "observer_hyper.mode=\"thick\"", "observer_hyper.blur_inputs=false",
					     "observer_hyper.out_blur_fwhm=null", "cube_hyper.reduction=\"max\"",
					     NULL };
	static const char *const thin_max[] = { "observer_hyper.mode=\"thin\"", "cube_hyper.reduction=\"max\"",
						NULL };
	check_case("optically thick", &cfg, thick, &grids, &t);
	check_case("optically thick, v_subsamples 2", &cfg, thick2, &grids, &t);
	check_case("optically thin", &cfg, thin, &grids, &t);
	check_case("selectively thin", &cfg, selthin, &grids, &t);
	check_case("simple", &cfg, simple, &grids, &t);
	check_case("thick without blur or beam, max reduction", &cfg, plain, &grids, &t);
	check_case("thin, max reduction", &cfg, thin_max, &grids, &t);
	check_thick_range(&cfg, &grids);
	fill_tensor(&t, 1);
	check_case("optically thick with a temperature of 0 (NaN)", &cfg, thick, &grids, &t);
	check_case("selectively thin with a temperature of 0 (NaN)", &cfg, selthin, &grids, &t);
	free(t.v);
	obsgrid_free(&grids);
	return tap_done();
}
