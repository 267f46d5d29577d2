/* The observability grids (IRIS's chemistry.make_observability_grids),
 * rebuilt bit for bit (arepo-architecture(7), "Numerics the code relies on";
 * arepo-observed(5) for the grid file).
 *
 * Every step below states the precision IRIS computes it in. NumPy 1.x
 * rules decide it in the molecular-data part: a float32 array with a Python
 * float stays float32 (the float rounded to float32 first), a float32 scalar
 * with a Python float goes to float64, and float32 with float64 arrays goes
 * to float64. In the torch part every tensor is float32 and a Python float is
 * rounded to float32 before it meets one. This file is compiled with
 * -ffp-contract=off, so a*b+c is two roundings unless fmaf is written. */
#define _GNU_SOURCE
#include "obsgrid.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "h5util.h"
#include "hostdevice.h"
#include "parallel.h"
#include "sha256.h"
#include "vmath.h"

#define OBSGRID_FORMAT "arepo-obsgrids/1"

/* The netlib reference LAPACK, as torch's CPU linalg.solve calls it (the
 * Fortran symbols; gfortran passes the length of a character argument last). */
void sgetrf_(const int *m, const int *n, float *a, const int *lda, int *ipiv, int *info);
void sgetrs_(const char *trans, const int *n, const int *nrhs, const float *a, const int *lda,
	     const int *ipiv, float *b, const int *ldb, int *info, size_t trans_len);

/* ---------------------------------------------------------------------------
 * Reading the molecular data file
 * ------------------------------------------------------------------------- */

static int read_whole_file(const char *path, char **data, size_t *size, struct arepo_err *err)
{
	*data = NULL;
	*size = 0;
	FILE *f = fopen(path, "rb");
	if (!f)
		return err_set(err, EXIT_RUNTIME, "%s: cannot open the molecular data file: %s", path,
			       strerror(errno));
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap + 1);
	while (buf) {
		if (n == cap) {
			char *bigger = realloc(buf, 2 * cap + 1);
			if (!bigger) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = bigger;
			cap *= 2;
		}
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	int bad = !buf || ferror(f), saved = buf ? errno : ENOMEM;
	fclose(f);
	if (bad) {
		free(buf);
		return err_set(err, EXIT_RUNTIME, "%s: cannot read the molecular data file: %s", path,
			       strerror(saved));
	}
	buf[n] = '\0';
	*data = buf;
	*size = n;
	return 0;
}

/* Partner ids of the LAMDA format. */
enum { P_H2 = 1, P_PH2 = 2, P_OH2 = 3, P_H = 5, P_HE = 6, P_IDS = 7 };

struct lamda_partner {
	int present;
	int n_temps;
	float *temps; /* K, ascending */
	float *rates; /* [u][l][t], cm^3/s as the file gives them (float32) */
};

struct lamda {
	double molecular_weight;
	int n;            /* levels */
	float *energy;    /* cm^-1 */
	float *weight;
	float *A;         /* [u][l], s^-1 */
	float *nu;        /* [u][l], GHz */
	struct lamda_partner partner[P_IDS];
};

static void lamda_free(struct lamda *m)
{
	free(m->energy);
	free(m->weight);
	free(m->A);
	free(m->nu);
	for (int p = 0; p < P_IDS; p++) {
		free(m->partner[p].temps);
		free(m->partner[p].rates);
	}
	memset(m, 0, sizeof *m);
}

struct lines {
	char *p, *end; /* the rest of the (copied) text */
	long no;       /* number of the line last returned */
	const char *path;
	struct arepo_err *err;
};

/* The next line, NUL-terminated (a CR before the LF is dropped), or NULL at
 * the end of the file. */
static char *next_line(struct lines *L)
{
	if (L->p >= L->end)
		return NULL;
	char *line = L->p;
	char *nl = memchr(line, '\n', (size_t)(L->end - line));
	if (nl) {
		*nl = '\0';
		L->p = nl + 1;
	} else {
		L->p = L->end;
	}
	size_t len = strlen(line);
	if (len && line[len - 1] == '\r')
		line[len - 1] = '\0';
	L->no++;
	return line;
}

static const char *skip_space(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\f' || *s == '\v')
		s++;
	return s;
}

static int bad_line(struct lines *L, const char *what)
{
	if (L->p >= L->end && !what)
		return err_set(L->err, EXIT_BADDATA, "%s: molecular data file ends early", L->path);
	return err_set(L->err, EXIT_BADDATA, "%s:%ld: %s", L->path, L->no, what);
}

/* A line that must start with '!' (a LAMDA section header). */
static int expect_header(struct lines *L, const char *section)
{
	char *line = next_line(L);
	if (!line)
		return err_set(L->err, EXIT_BADDATA, "%s:%ld: ends before the %s section", L->path,
			       L->no, section);
	if (*skip_space(line) != '!')
		return err_set(L->err, EXIT_BADDATA, "%s:%ld: expected the '!' line of the %s section",
			       L->path, L->no, section);
	return 0;
}

/* Parses up to max numbers (as Python's float(): the nearest double) from s;
 * *count is how many there are. Returns -1 if a token is not a number or
 * there are more than max. */
static int parse_numbers(const char *s, double *out, int max, int *count)
{
	int n = 0;
	for (;;) {
		s = skip_space(s);
		if (!*s)
			break;
		char *end;
		errno = 0;
		double v = strtod(s, &end);
		if (end == s || (*end && *end != ' ' && *end != '\t'))
			return -1;
		if (n == max)
			return -1;
		out[n++] = v;
		s = end;
	}
	*count = n;
	return 0;
}

/* A line holding one integer in [lo, hi]. */
static int read_count(struct lines *L, const char *what, long lo, long hi, long *value)
{
	char *line = next_line(L);
	char msg[160];
	if (!line)
		return err_set(L->err, EXIT_BADDATA, "%s:%ld: ends before the %s", L->path, L->no, what);
	const char *s = skip_space(line);
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (end == s || *skip_space(end) || errno || v < lo || v > hi) {
		snprintf(msg, sizeof msg, "expected the %s (an integer from %ld to %ld)", what, lo, hi);
		return bad_line(L, msg);
	}
	*value = v;
	return 0;
}

/* A row of exactly want numbers. */
static int read_row(struct lines *L, const char *what, double *v, int want)
{
	char *line = next_line(L);
	char msg[160];
	if (!line)
		return err_set(L->err, EXIT_BADDATA, "%s:%ld: ends inside the %s", L->path, L->no, what);
	int n;
	if (parse_numbers(line, v, want, &n) || n != want) {
		snprintf(msg, sizeof msg, "expected %d numbers (%s)", want, what);
		return bad_line(L, msg);
	}
	return 0;
}

/* A 1-based level number read as a float, converted as IRIS does
 * (int(x - 1)), checked against the number of levels. */
static int level_index(struct lines *L, double v, int n, int *index)
{
	if (!(v >= 1 && v < n + 1))
		return bad_line(L, "level number out of range");
	*index = (int)(v - 1);
	return 0;
}

/* Parses a LAMDA file: molecule, weight, levels, radiative transitions and
 * collision partners with their temperatures and downward rates. The values
 * are those of IRIS's _parse_lamda (each number parsed as a double, then
 * stored as float32). */
static int lamda_parse(const char *path, const char *data, size_t size, struct lamda *m,
		       struct arepo_err *err)
{
	memset(m, 0, sizeof *m);
	char *text = malloc(size + 1);
	if (!text)
		return err_set(err, EXIT_RUNTIME, "out of memory");
	memcpy(text, data, size);
	text[size] = '\0';
	struct lines L = { text, text + size, 0, path, err };
	double *row = NULL;
	int rc;
	long count;
	char *line;

	if ((rc = expect_header(&L, "molecule")))
		goto out;
	if (!next_line(&L)) {
		rc = bad_line(&L, NULL);
		goto out;
	}
	if ((rc = expect_header(&L, "molecular weight")))
		goto out;
	if (!(line = next_line(&L))) {
		rc = bad_line(&L, NULL);
		goto out;
	}
	int nv;
	double w;
	if (parse_numbers(line, &w, 1, &nv) || nv != 1 || !(w > 0)) {
		rc = bad_line(&L, "expected the molecular weight");
		goto out;
	}
	m->molecular_weight = w;
	if ((rc = expect_header(&L, "number of energy levels")) ||
	    (rc = read_count(&L, "number of energy levels", 2, 100000, &count)))
		goto out;
	int n = m->n = (int)count;
	size_t nn = (size_t)n * (size_t)n;
	m->energy = calloc((size_t)n, sizeof *m->energy);
	m->weight = calloc((size_t)n, sizeof *m->weight);
	m->A = calloc(nn, sizeof *m->A);
	m->nu = calloc(nn, sizeof *m->nu);
	row = malloc(4096 * sizeof *row);
	if (!m->energy || !m->weight || !m->A || !m->nu || !row) {
		rc = err_set(err, EXIT_RUNTIME, "out of memory");
		goto out;
	}
	if ((rc = expect_header(&L, "energy levels")))
		goto out;
	for (int k = 0; k < n; k++) {
		if (!(line = next_line(&L))) {
			rc = bad_line(&L, NULL);
			goto out;
		}
		if (parse_numbers(line, row, 4096, &nv) || nv < 3) {
			rc = bad_line(&L, "expected a level: number, energy (cm^-1), weight");
			goto out;
		}
		int i = 0;
		if ((rc = level_index(&L, row[0], n, &i)))
			goto out;
		m->energy[i] = (float)row[1];
		m->weight[i] = (float)row[2];
	}
	if ((rc = expect_header(&L, "number of radiative transitions")) ||
	    (rc = read_count(&L, "number of radiative transitions", 0, (long)nn, &count)) ||
	    (rc = expect_header(&L, "radiative transitions")))
		goto out;
	for (long k = 0; k < count; k++) {
		if (!(line = next_line(&L))) {
			rc = bad_line(&L, NULL);
			goto out;
		}
		if (parse_numbers(line, row, 4096, &nv) || nv < 5) {
			rc = bad_line(&L, "expected a transition: number, upper, lower, A (s^-1), frequency (GHz)");
			goto out;
		}
		int u = 0, l = 0;
		if ((rc = level_index(&L, row[1], n, &u)) || (rc = level_index(&L, row[2], n, &l)))
			goto out;
		m->A[(size_t)u * n + l] = (float)row[3];
		m->nu[(size_t)u * n + l] = (float)row[4];
	}
	long partners;
	if ((rc = expect_header(&L, "number of collision partners")) ||
	    (rc = read_count(&L, "number of collision partners", 1, 100, &partners)))
		goto out;
	for (long q = 0; q < partners; q++) {
		if ((rc = expect_header(&L, "collision partner")))
			goto out;
		if (!(line = next_line(&L))) {
			rc = bad_line(&L, NULL);
			goto out;
		}
		/* IRIS reads the partner id as the line's first character. */
		const char *s = skip_space(line);
		if (*s < '1' || *s > '9') {
			rc = bad_line(&L, "expected the collision partner's id (1 H2, 2 p-H2, 3 o-H2, 5 H, 6 He)");
			goto out;
		}
		int id = *s - '0';
		long n_trans, n_temps;
		if ((rc = expect_header(&L, "number of collisional transitions")) ||
		    (rc = read_count(&L, "number of collisional transitions", 0, (long)nn, &n_trans)) ||
		    (rc = expect_header(&L, "number of collision temperatures")) ||
		    (rc = read_count(&L, "number of collision temperatures", 2, 4000, &n_temps)) ||
		    (rc = expect_header(&L, "collision temperatures")) ||
		    (rc = read_row(&L, "collision temperatures", row, (int)n_temps)))
			goto out;
		float *temps = malloc((size_t)n_temps * sizeof *temps);
		float *rates = calloc(nn * (size_t)n_temps, sizeof *rates);
		if (!temps || !rates) {
			free(temps);
			free(rates);
			rc = err_set(err, EXIT_RUNTIME, "out of memory");
			goto out;
		}
		struct lamda_partner *p = id < P_IDS ? &m->partner[id] : NULL;
		if (p) { /* a partner given twice: the last one counts, as in IRIS */
			free(p->temps);
			free(p->rates);
			p->present = 1;
			p->n_temps = (int)n_temps;
			p->temps = temps;
			p->rates = rates;
		}
		for (long t = 0; t < n_temps; t++) {
			temps[t] = (float)row[t];
			if (t && !(temps[t] > temps[t - 1])) {
				if (!p) {
					free(temps);
					free(rates);
				}
				rc = bad_line(&L, "the collision temperatures must increase");
				goto out;
			}
		}
		if ((rc = expect_header(&L, "collision rates")))
			goto partner_out;
		for (long k = 0; k < n_trans; k++) {
			if ((rc = read_row(&L, "collisional transition: number, upper, lower, one rate "
					       "(cm^3 s^-1) per temperature",
					   row, (int)(3 + n_temps))))
				goto partner_out;
			int u = 0, l = 0;
			if ((rc = level_index(&L, row[1], n, &u)) || (rc = level_index(&L, row[2], n, &l)))
				goto partner_out;
			for (long t = 0; t < n_temps; t++)
				rates[((size_t)u * n + l) * n_temps + t] = (float)row[3 + t];
		}
	partner_out:
		if (!p) { /* a partner IRIS does not use (electrons, H+): read, then dropped */
			free(temps);
			free(rates);
		}
		if (rc)
			goto out;
	}
	rc = 0;
out:
	free(row);
	free(text);
	if (rc)
		lamda_free(m);
	return rc;
}

/* ---------------------------------------------------------------------------
 * Numerical building blocks
 * ------------------------------------------------------------------------- */

/* NumPy 1.24's float32 exp (its AVX2/AVX512F kernel): Cody-Waite reduction
 * by ln 2 with the quadrant rounded through a fused multiply-add, a 5/2
 * rational approximation, then the scaling by 2^quadrant (through a division
 * where the result is subnormal). Checked equal to numpy.exp on every float32
 * in [-104, 89]. */
static float numpy_expf(float x)
{
	if (x != x)
		return NAN;
	if (x >= 88.72283935546875f)
		return INFINITY;
	if (x <= -103.97208404541015625f)
		return 0.0f;
	const float shifter = 0x1.8p23f;
	float q = fmaf(x, 1.442695040888963407359924681001892137f, shifter) - shifter;
	float r = fmaf(q, -6.93145752e-1f, x);
	r = fmaf(q, -1.42860677e-6f, r);
	r = fmaf(q, 0.0f, r);
	float num = fmaf(5.082762527590693718096e-04f, r, 6.757896990527504603057e-03f);
	num = fmaf(num, r, 5.114512081637298353406e-02f);
	num = fmaf(num, r, 2.473615434895520810817e-01f);
	num = fmaf(num, r, 7.257664613233124478488e-01f);
	num = fmaf(num, r, 9.999999999980870924916e-01f);
	float den = fmaf(2.159509375685829852307e-02f, r, -2.742335390411667452936e-01f);
	den = fmaf(den, r, 1.0f);
	float p = num / den;
	int k = (int)q;
	if (k <= -125) {
		p = f32_from_bits(f32_bits(p) - (125u << 23));
		return p / (float)(1u << (-125 - k));
	}
	return f32_from_bits(f32_bits(p) + ((uint32_t)k << 23));
}

/* torch.linspace(start, end, n) in float32 on the CPU (§3.0). */
static void torch_linspace(float start, float end, int64_t n, float *out)
{
	float step = (end - start) / (float)(n - 1);
	int64_t half = n / 2, i = 0;
	for (; i + 8 <= n; i += 8) {
		float base = i < half ? fmaf(step, (float)i, start) : fmaf(-step, (float)(n - 1 - i), end);
		for (int l = 0; l < 8; l++)
			out[i + l] = base + step * (float)l;
	}
	for (; i < n; i++)
		out[i] = i < half ? fmaf(step, (float)i, start) : fmaf(-step, (float)(n - 1 - i), end);
}

/* numpy.linspace(0, stop, n) (float64) cast to float32. */
static void numpy_linspace_f32(double stop, int64_t n, float *out)
{
	double step = stop / (double)(n - 1);
	for (int64_t i = 0; i < n - 1; i++)
		out[i] = (float)((double)i * step + 0.0);
	out[n - 1] = (float)stop;
}

/* scipy.interpolate.interpn(method='linear', bounds_error=False,
 * fill_value=None) along temperature: piecewise linear on the file's
 * temperatures, extrapolated linearly beyond them, in float64. */
static double interp_rate(const float *grid, int m, const float *v, double x)
{
	int k = 0;
	while (k < m - 2 && (double)grid[k + 1] <= x)
		k++;
	double lo = grid[k], hi = grid[k + 1];
	double t = (x - lo) / (hi - lo);
	return (0.0 + (double)v[k] * (1 - t)) + (double)v[k + 1] * t;
}

/* One axis of torch.gradient(f, spacing=coordinates, edge_order=1) over a
 * C-order (n0, n1, n2) array, along axis `axis`. */
static int torch_gradient(const float *f, const int64_t dims[3], int axis, const float *coord,
			  float *out)
{
	int64_t m = dims[axis];
	int64_t stride = axis == 0 ? dims[1] * dims[2] : axis == 1 ? dims[2] : 1;
	int64_t outer = axis == 0 ? 1 : axis == 1 ? dims[0] : dims[0] * dims[1];
	int64_t inner = stride;
	float *a = malloc((size_t)m * 3 * sizeof *a);
	if (!a)
		return -1;
	float *b = a + m, *c = b + m;
	for (int64_t i = 1; i + 1 < m; i++) {
		float dx1 = coord[i] - coord[i - 1], dx2 = coord[i + 1] - coord[i];
		a[i] = -dx2 / (dx1 * (dx1 + dx2));
		b[i] = (dx2 - dx1) / (dx1 * dx2);
		c[i] = dx1 / (dx2 * (dx1 + dx2));
	}
	float first = coord[1] - coord[0], last = coord[m - 1] - coord[m - 2];
	for (int64_t o = 0; o < outer; o++) {
		const float *fo = f + o * m * inner;
		float *go = out + o * m * inner;
		for (int64_t s = 0; s < inner; s++) {
			go[s] = (fo[inner + s] - fo[s]) / first;
			for (int64_t i = 1; i + 1 < m; i++) {
				const float *p = fo + i * inner + s;
				go[i * inner + s] = a[i] * p[-inner] + b[i] * p[0] + c[i] * p[inner];
			}
			go[(m - 1) * inner + s] = (fo[(m - 1) * inner + s] - fo[(m - 2) * inner + s]) / last;
		}
	}
	free(a);
	return 0;
}

/* ---------------------------------------------------------------------------
 * Units (IRIS's 'processing' units from the writer's conversion factors)
 * ------------------------------------------------------------------------- */

struct units {
	double length, velocity, time, frequency, mass, temperature, number_density;
	double energy;         /* make_observability_grids's */
	double h_grid;         /* h·(energy·time·iris_number_unit) */
	double ism_mass;       /* number_ism_molecular_mass */
};

static void units_from(const struct obsgrid_inputs *in, struct units *u)
{
	u->length = 100 / in->length_cm;
	double volume = u->length * u->length * u->length;
	u->number_density = 1 / (in->iris_number_unit * volume);
	u->velocity = 100 / in->velocity_cm_s;
	u->time = u->length / u->velocity;
	u->frequency = 1 / u->time;
	u->mass = 1000 / in->mass_g;
	u->temperature = 1 / in->temperature_K;
	double acceleration = u->velocity / u->time;
	double force = u->mass * acceleration;
	u->energy = force * u->length;
	u->h_grid = in->h * (u->energy * u->time * in->iris_number_unit);
	u->ism_mass = (in->m_H + in->abundance_He * in->m_He) * (u->mass * in->iris_number_unit);
}

/* ---------------------------------------------------------------------------
 * The key
 * ------------------------------------------------------------------------- */

/* Every input value, one "name=value" line each, doubles as %.17g. */
static void canonical_inputs(const struct obsgrid_inputs *in, char *buf, size_t size)
{
	char T_continuum[40] = "null";
	if (in->has_T_continuum)
		snprintf(T_continuum, sizeof T_continuum, "%.17g", in->T_continuum);
	snprintf(buf, size,
		 "transition_upper=%d\ntransition_lower=%d\n"
		 "N_H_TOT_steps=%lld\nabundance_H2_steps=%lld\nT_steps=%lld\n"
		 "interpolation_max_N_H_TOT=%.17g\nbolic_normalization=%.17g\n"
		 "interpolation_max_T=%.17g\nT_continuum=%s\n"
		 "k=%.17g\nh=%.17g\nc=%.17g\nL=%.17g\n"
		 "mw_H=%.17g\nmw_H2=%.17g\nmw_He=%.17g\nabundance_He=%.17g\n"
		 "ortho_to_para_H2_ratio=%.17g\nm_H=%.17g\nm_He=%.17g\n"
		 "length_cm_per_processing=%.17g\nmass_g_per_processing=%.17g\n"
		 "velocity_cm_per_s_per_processing=%.17g\ntemperature_K_per_processing=%.17g\n"
		 "iris_number_unit=%.17g\n",
		 in->upper, in->lower, in->n_rho, in->n_x, in->n_T, in->max_N_H_TOT,
		 in->bolic_normalization, in->max_T, T_continuum, in->k, in->h, in->c, in->L, in->mw_H,
		 in->mw_H2, in->mw_He, in->abundance_He, in->ortho_to_para_H2_ratio, in->m_H, in->m_He,
		 in->length_cm, in->mass_g, in->velocity_cm_s, in->temperature_K,
		 in->iris_number_unit);
}

/* SHA-256 over the format's version, the inputs' canonical text, and the
 * molecular data file's length and bytes. The file's path is not part of it:
 * the same bytes elsewhere give the same grids. */
static void key_of(const struct obsgrid_inputs *in, const char *data, size_t size, char key[65])
{
	char text[4096], head[128];
	canonical_inputs(in, text, sizeof text);
	struct sha256 s;
	sha256_init(&s);
	snprintf(head, sizeof head, "%s\n", OBSGRID_FORMAT);
	sha256_update(&s, head, strlen(head));
	sha256_update(&s, text, strlen(text));
	snprintf(head, sizeof head, "molecular_data_bytes=%zu\n", size);
	sha256_update(&s, head, strlen(head));
	sha256_update(&s, data, size);
	sha256_final_hex(&s, key);
}

/* The readable description kept in the grid file. */
static char *inputs_text(const struct obsgrid_inputs *in, const char *data, size_t size)
{
	char text[4096], sum[65];
	canonical_inputs(in, text, sizeof text);
	sha256_hex(data, size, sum);
	size_t cap = strlen(text) + strlen(in->chem_path) + 256;
	char *out = malloc(cap);
	if (out)
		snprintf(out, cap, "format=%s\nmolecular_data=%s\nmolecular_data_bytes=%zu\n"
				   "molecular_data_sha256=%s\n%s",
			 OBSGRID_FORMAT, in->chem_path, size, sum, text);
	return out;
}

int obsgrid_key(const struct obsgrid_inputs *in, char key[65], struct arepo_err *err)
{
	char *data;
	size_t size;
	int rc = read_whole_file(in->chem_path, &data, &size, err);
	if (rc)
		return rc;
	key_of(in, data, size, key);
	free(data);
	return 0;
}

/* ---------------------------------------------------------------------------
 * The build
 * ------------------------------------------------------------------------- */

struct solve_job {
	int n, upper, lower;
	int64_t n_rho, n_x, n_T;
	const float *N;         /* (n_rho) number densities */
	const float *x;         /* (n_x) */
	const float *A;         /* n*n radiative matrix, row 0 ones */
	/* fine collision rates, float64 [i][j][t] per used partner (NULL if absent) */
	const double *k_para, *k_ortho, *k_H, *k_He;
	double f_para, f_ortho, abundance_He;
	const float *balance;   /* [i][j][t] float32 detailed-balance factors, i > j, t >= 1 */
	float nd32, time32;     /* fl(number_density), fl(time) */
	float *n_up, *n_low;    /* (n_rho, n_x, n_T) */
	int64_t next;           /* next (x, T) pair */
	int failed;             /* singular system at (rho, x, T) index failed - 1 */
	int64_t failed_at;
	pthread_mutex_t lock;
};

/* IRIS's float32 rate matrix K[:, :, x, T] (already divided by the number
 * density and time units), built as _compute_single_molecule does. */
static void rate_matrix(const struct solve_job *J, int64_t ix, int64_t it, double *kij, float *K)
{
	int n = J->n;
	int64_t nT = J->n_T;
	double x = (double)J->x[ix];
	double x_H = (double)(1.0f - 2.0f * J->x[ix]);
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++) {
			size_t f = ((size_t)i * n + j) * nT + it;
			double v = x * (J->f_para * J->k_para[f] + J->f_ortho * J->k_ortho[f]);
			if (J->k_H)
				v += x_H * J->k_H[f];
			if (J->k_He)
				v += J->abundance_He * J->k_He[f];
			kij[i * n + j] = v;
		}
	if (it > 0)
		for (int i = 1; i < n; i++)
			for (int j = 0; j < i; j++)
				kij[j * n + i] = kij[i * n + j] *
						 (double)J->balance[((size_t)i * n + j) * nT + it];
	memset(K, 0, (size_t)n * n * sizeof *K);
	for (int i = 1; i < n; i++) {
		float diag = 0.0f;
		for (int j = 0; j < n; j++)
			if (j != i) {
				K[i * n + j] = (float)kij[j * n + i];
				diag = (float)((double)diag - kij[i * n + j]);
			}
		K[i * n + i] = diag;
	}
	for (int e = 0; e < n * n; e++)
		K[e] = K[e] / J->nd32 / J->time32;
}

static void *solve_worker(void *arg)
{
	struct solve_job *J = arg;
	int n = J->n, one = 1, info;
	size_t nn = (size_t)n * n;
	double *kij = malloc(nn * sizeof *kij);
	float *K = malloc(nn * sizeof *K), *M = malloc(nn * sizeof *M);
	float *b = malloc((size_t)n * sizeof *b);
	int *ipiv = malloc((size_t)n * sizeof *ipiv);
	if (!kij || !K || !M || !b || !ipiv) {
		pthread_mutex_lock(&J->lock);
		J->failed = 2;
		pthread_mutex_unlock(&J->lock);
		goto done;
	}
	for (;;) {
		pthread_mutex_lock(&J->lock);
		int64_t pair = J->failed ? -1 : J->next++;
		pthread_mutex_unlock(&J->lock);
		if (pair < 0 || pair >= J->n_x * J->n_T)
			break;
		int64_t ix = pair / J->n_T, it = pair % J->n_T;
		rate_matrix(J, ix, it, kij, K);
		for (int64_t r = 0; r < J->n_rho; r++) {
			float N = J->N[r];
			/* (N·K + A), row-major: as a column-major matrix this is its
			 * transpose, which torch factors (sgetrf) and solves with
			 * trans='T'. */
			for (size_t e = 0; e < nn; e++)
				M[e] = N * K[e] + J->A[e];
			b[0] = N;
			for (int i = 1; i < n; i++)
				b[i] = 0.0f;
			sgetrf_(&n, &n, M, &n, ipiv, &info);
			if (info == 0)
				sgetrs_("T", &n, &one, M, &n, ipiv, b, &n, &info, 1);
			int64_t node = (r * J->n_x + ix) * J->n_T + it;
			if (info != 0) {
				pthread_mutex_lock(&J->lock);
				if (!J->failed) {
					J->failed = 1;
					J->failed_at = node;
				}
				pthread_mutex_unlock(&J->lock);
				break;
			}
			J->n_up[node] = b[J->upper];
			J->n_low[node] = b[J->lower];
		}
	}
done:
	free(kij);
	free(K);
	free(M);
	free(b);
	free(ipiv);
	return NULL;
}

/* The partner's rates re-interpolated onto the grid's temperatures, float64
 * [i][j][t], in m^3/s. */
static double *fine_rates(const struct lamda *m, const struct lamda_partner *p, const float *T,
			  int64_t n_T)
{
	int n = m->n;
	double *out = malloc((size_t)n * n * n_T * sizeof *out);
	float *col = malloc((size_t)p->n_temps * sizeof *col);
	if (!out || !col) {
		free(out);
		free(col);
		return NULL;
	}
	for (size_t e = 0; e < (size_t)n * n; e++) {
		for (int t = 0; t < p->n_temps; t++)
			col[t] = p->rates[e * p->n_temps + t] / 1e6f; /* cm^3/s to m^3/s, float32 */
		for (int64_t t = 0; t < n_T; t++)
			out[e * n_T + t] = interp_rate(p->temps, p->n_temps, col, (double)T[t]);
	}
	free(col);
	return out;
}

static int check_inputs(const struct obsgrid_inputs *in, struct arepo_err *err)
{
	if (in->n_rho < 2 || in->n_x < 2 || in->n_T < 2 || in->n_rho > 1 << 20 || in->n_x > 1 << 20 ||
	    in->n_T > 1 << 20 || in->n_rho * in->n_x * in->n_T > (1LL << 31))
		return err_set(err, EXIT_USAGE,
			       "observability grid sizes must be at least 2 (N_H_TOT_steps %lld, "
			       "abundance_H2_steps %lld, T_steps %lld)",
			       in->n_rho, in->n_x, in->n_T);
	if (!(in->max_N_H_TOT > 0) || !(in->bolic_normalization > 0) || !(in->max_T > 0))
		return err_set(err, EXIT_USAGE,
			       "interpolation_max_N_H_TOT, bolic_normalization and interpolation_max_T "
			       "must be positive");
	if (in->upper < 0 || in->lower < 0 || in->upper == in->lower)
		return err_set(err, EXIT_USAGE, "transition (%d, %d): two different levels needed",
			       in->upper, in->lower);
	return 0;
}

static int alloc_grids(struct obsgrids *g, int64_t n_rho, int64_t n_x, int64_t n_T)
{
	memset(g, 0, sizeof *g);
	g->n_rho = n_rho;
	g->n_x = n_x;
	g->n_T = n_T;
	size_t cells = (size_t)(n_rho * n_x * n_T);
	g->rho = malloc((size_t)n_rho * sizeof(float));
	g->x = malloc((size_t)n_x * sizeof(float));
	g->T = malloc((size_t)n_T * sizeof(float));
	float **grids[8] = { &g->j, &g->dj_drho, &g->dj_dx, &g->dj_dT,
			     &g->alpha, &g->dalpha_drho, &g->dalpha_dx, &g->dalpha_dT };
	int bad = !g->rho || !g->x || !g->T;
	for (int k = 0; k < 8; k++)
		bad |= !(*grids[k] = malloc(cells * sizeof(float)));
	if (bad) {
		obsgrid_free(g);
		return -1;
	}
	return 0;
}

/* The intermediate arrays of one build, float32 as IRIS's numpy/torch
 * arrays unless said. */
struct build {
	const struct obsgrid_inputs *in;
	struct obsgrids *g;
	struct lamda mol;
	struct units u;
	int n;                   /* levels */
	size_t nn;
	float *E, *nu, *B, *Jc;  /* energies (J); per (i, j): Hz, Einstein B, radiation field */
	float *A;                /* the radiative matrix, then A / time with row 0 = 1 */
	float *T;                /* the grid's temperatures (K) */
	float *balance;          /* detailed-balance factors per (i, j, T) */
	float *Nb, *N;           /* the density axis: asinh spacing, number density */
	float *n_up, *n_low;     /* populations of the line's levels per node */
	double *k_para, *k_ortho, *k_H, *k_He; /* collision rates on T (float64) */
	const struct lamda_partner *para, *ortho;
};

static void build_free(struct build *b)
{
	float **f[] = { &b->E, &b->nu, &b->B, &b->Jc, &b->A, &b->T, &b->balance, &b->Nb, &b->N,
			&b->n_up, &b->n_low };
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
		free(*f[i]);
	free(b->k_para);
	free(b->k_ortho);
	free(b->k_H);
	free(b->k_He);
	lamda_free(&b->mol);
}

static int build_alloc(struct build *b, struct arepo_err *err)
{
	const struct obsgrid_inputs *in = b->in;
	const size_t nn = b->nn, cells = (size_t)(in->n_rho * in->n_x * in->n_T);
	b->E = malloc((size_t)b->n * sizeof *b->E);
	b->nu = malloc(nn * sizeof *b->nu);
	b->B = calloc(nn, sizeof *b->B);
	b->Jc = calloc(nn, sizeof *b->Jc);
	b->A = calloc(nn, sizeof *b->A);
	b->T = malloc((size_t)in->n_T * sizeof *b->T);
	b->balance = calloc(nn * (size_t)in->n_T, sizeof *b->balance);
	b->Nb = malloc((size_t)in->n_rho * sizeof *b->Nb);
	b->N = malloc((size_t)in->n_rho * sizeof *b->N);
	b->n_up = malloc(cells * sizeof *b->n_up);
	b->n_low = malloc(cells * sizeof *b->n_low);
	if (!b->E || !b->nu || !b->B || !b->Jc || !b->A || !b->T || !b->balance || !b->Nb || !b->N ||
	    !b->n_up || !b->n_low || alloc_grids(b->g, in->n_rho, in->n_x, in->n_T))
		return err_set(err, EXIT_RUNTIME, "out of memory");
	return 0;
}

/* _compute_single_molecule's radiative part: energies, frequencies,
 * Einstein B coefficients and the radiation field of T_continuum. */
static void radiative_constants(struct build *b)
{
	const struct obsgrid_inputs *in = b->in;
	const int n = b->n;
	const double h = in->h, c = in->c, kb = in->k;
	/* Energies in J: a float32 array times Python floats, each rounded. */
	for (int i = 0; i < n; i++)
		b->E[i] = b->mol.energy[i] * 100.0f * (float)h * (float)c;
	for (size_t e = 0; e < b->nn; e++)
		b->nu[e] = b->mol.nu[e] * 1e9f;
	const float *Aij = b->mol.A, *w = b->mol.weight;
	/* Einstein B: float32 scalars with Python floats run in float64 (NumPy
	 * 1.x), stored float32; the upward ones are float32 products. */
	for (int i = 0; i < n; i++)
		for (int j = 0; j < i; j++)
			if ((double)Aij[i * n + j] > 1e-15) {
				double v = b->nu[i * n + j];
				b->B[i * n + j] = (float)(c * c / 2 / (h * v * v * v) * (double)Aij[i * n + j]);
			}
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if ((double)Aij[j * n + i] > 1e-15)
				b->B[i * n + j] = w[j] / w[i] * b->B[j * n + i];
	/* The radiation field of a blackbody at T_continuum, float64 then float32. */
	if (in->has_T_continuum)
		for (int i = 1; i < n; i++)
			for (int j = 0; j < i; j++)
				if ((double)Aij[i * n + j] > 1e-15) {
					double v = b->nu[i * n + j];
					b->Jc[i * n + j] = (float)(2 * h * v * v * v / c / c /
								   (exp(h * v / kb / in->T_continuum) - 1));
				}
}

/* The collision rates on the grid's temperatures and the detailed-balance
 * factors (T > 0): g_i/g_j exp((E_j - E_i)/k/T) with the argument's float64
 * scalar rounded to float32 against the float32 T array, and NumPy's own
 * float32 exp. */
static int collisions(struct build *b, struct arepo_err *err)
{
	const struct obsgrid_inputs *in = b->in;
	const int n = b->n;
	const int64_t n_T = in->n_T;
	numpy_linspace_f32(0.5, in->n_x, b->g->x);
	numpy_linspace_f32(in->max_T, n_T, b->T);
	struct lamda *mol = &b->mol;
	b->k_para = fine_rates(mol, b->para, b->T, n_T);
	b->k_ortho = fine_rates(mol, b->ortho, b->T, n_T);
	if (mol->partner[P_H].present)
		b->k_H = fine_rates(mol, &mol->partner[P_H], b->T, n_T);
	if (mol->partner[P_HE].present)
		b->k_He = fine_rates(mol, &mol->partner[P_HE], b->T, n_T);
	if (!b->k_para || !b->k_ortho || (mol->partner[P_H].present && !b->k_H) ||
	    (mol->partner[P_HE].present && !b->k_He))
		return err_set(err, EXIT_RUNTIME, "out of memory");
	const float *w = mol->weight;
	for (int i = 1; i < n; i++)
		for (int j = 0; j < i; j++) {
			float ratio = w[i] / w[j];
			float scaled = (float)((double)(b->E[j] - b->E[i]) / in->k);
			for (int64_t t = 1; t < n_T; t++)
				b->balance[((size_t)i * n + j) * n_T + t] = ratio * numpy_expf(scaled / b->T[t]);
		}
	return 0;
}

/* The radiative matrix, float32; then _make_population_grids' A/time with
 * row 0 = 1 (the populations sum to N). */
static void radiative_matrix(struct build *b)
{
	const int n = b->n;
	const float *Aij = b->mol.A, *Jc = b->Jc, *B = b->B;
	float *A = b->A;
	for (int i = 1; i < n; i++) {
		for (int j = 0; j < i; j++) {
			A[i * n + i] -= Aij[i * n + j] + Jc[i * n + j] * B[i * n + j];
			A[i * n + j] = Jc[i * n + j] * B[j * n + i];
		}
		for (int k = i + 1; k < n; k++) {
			A[i * n + i] -= Jc[k * n + i] * B[i * n + k];
			A[i * n + k] = Aij[k * n + i] + Jc[k * n + i] * B[k * n + i];
		}
	}
	const float time32 = (float)b->u.time;
	for (size_t e = 0; e < b->nn; e++)
		A[e] = A[e] / time32;
	for (int j = 0; j < n; j++)
		A[j] = 1.0f;
}

/* The grid's axes and steps: density with asinh spacing (glibc asinhf,
 * torch.linspace, SLEEF sinh), x_H2 and T. */
static void grid_axes(struct build *b)
{
	const struct obsgrid_inputs *in = b->in;
	struct obsgrids *g = b->g;
	float max_bolic = asinhf((float)(in->max_N_H_TOT / in->bolic_normalization));
	torch_linspace(0.0f, max_bolic, in->n_rho, b->Nb);
	g->d_bolic = max_bolic / (float)(in->n_rho - 1);
	vmath_sinh(b->Nb, b->N, (size_t)in->n_rho);
	const float nd32 = (float)b->u.number_density, mu32 = (float)b->u.ism_mass;
	for (int64_t r = 0; r < in->n_rho; r++) {
		b->N[r] = b->N[r] * (float)in->bolic_normalization * nd32;
		g->rho[r] = b->N[r] * mu32;
	}
	const float temp32 = (float)b->u.temperature;
	for (int64_t t = 0; t < in->n_T; t++)
		g->T[t] = b->T[t] * temp32;
	g->d_ab = (float)(0.5 / (double)(in->n_x - 1));
	g->dT = (float)(in->max_T / (double)(in->n_T - 1)) * temp32;
}

/* The level populations, one (x, T) pair of rate matrices at a time. */
static int solve_levels(struct build *b, int threads, struct arepo_err *err)
{
	const struct obsgrid_inputs *in = b->in;
	const int64_t n_x = in->n_x, n_T = in->n_T;
	const double f_para = 1 / (in->ortho_to_para_H2_ratio + 1);
	struct solve_job job = {
		.n = b->n, .upper = in->upper, .lower = in->lower, .n_rho = in->n_rho, .n_x = n_x,
		.n_T = n_T, .N = b->N, .x = b->g->x, .A = b->A, .k_para = b->k_para,
		.k_ortho = b->k_ortho, .k_H = b->k_H, .k_He = b->k_He, .f_para = f_para,
		.f_ortho = 1 - f_para, .abundance_He = in->abundance_He, .balance = b->balance,
		.nd32 = (float)b->u.number_density, .time32 = (float)b->u.time, .n_up = b->n_up,
		.n_low = b->n_low,
	};
	pthread_mutex_init(&job.lock, NULL);
	int nthreads = threads > 0 ? threads : cpu_count();
	if (nthreads > n_x * n_T)
		nthreads = (int)(n_x * n_T);
	parallel_run(nthreads, solve_worker, &job, 0, NULL);
	pthread_mutex_destroy(&job.lock);
	if (job.failed == 2)
		return err_set(err, EXIT_RUNTIME, "out of memory");
	if (job.failed) {
		int64_t r = job.failed_at / (n_x * n_T), ix = job.failed_at / n_T % n_x,
			it = job.failed_at % n_T;
		return err_set(err, EXIT_BADDATA,
			       "%s: the level system is singular at N_H_TOT %g m^-3, x_H2 %g, T %g K",
			       in->chem_path, (double)b->N[r], (double)b->g->x[ix], (double)b->T[it]);
	}
	return 0;
}

/* Emission and absorption per unit tracer abundance (torch, float32) and
 * their gradients along (rho, x_H2, T): torch.gradient, edge_order 1. */
static int coefficients(struct build *b, struct arepo_err *err)
{
	const struct obsgrid_inputs *in = b->in;
	struct obsgrids *g = b->g;
	const int n = b->n, up = in->upper, low = in->lower;
	const float time32 = (float)b->u.time;
	const float nu_ul = b->nu[up * n + low] * (float)b->u.frequency;
	const float A_ul = b->mol.A[up * n + low] / time32;
	const float B_ul = (float)((double)b->B[up * n + low] * b->u.time / b->u.mass);
	const float B_lu = (float)((double)b->B[low * n + up] * b->u.time / b->u.mass);
	const float P = (float)b->u.h_grid * nu_ul / (float)(4 * M_PI);
	const size_t cells = (size_t)(in->n_rho * in->n_x * in->n_T);
	for (size_t e = 0; e < cells; e++) {
		g->j[e] = P * b->n_up[e] * A_ul;
		g->alpha[e] = P * (b->n_low[e] * B_lu - b->n_up[e] * B_ul);
	}
	int64_t dims[3] = { in->n_rho, in->n_x, in->n_T };
	if (torch_gradient(g->j, dims, 0, g->rho, g->dj_drho) ||
	    torch_gradient(g->j, dims, 1, g->x, g->dj_dx) ||
	    torch_gradient(g->j, dims, 2, g->T, g->dj_dT) ||
	    torch_gradient(g->alpha, dims, 0, g->rho, g->dalpha_drho) ||
	    torch_gradient(g->alpha, dims, 1, g->x, g->dalpha_dx) ||
	    torch_gradient(g->alpha, dims, 2, g->T, g->dalpha_dT))
		return err_set(err, EXIT_RUNTIME, "out of memory");
	g->nu_ul_ghz = b->mol.nu[up * n + low];
	g->molecular_weight = b->mol.molecular_weight;
	return 0;
}

/* The molecule read, checked against the inputs; the key and the inputs'
 * text from the file's bytes. */
static int read_molecule(struct build *b, char key[65], char **inputs, struct arepo_err *err)
{
	const struct obsgrid_inputs *in = b->in;
	char *data;
	size_t size;
	int rc = read_whole_file(in->chem_path, &data, &size, err);
	if (rc)
		return rc;
	rc = lamda_parse(in->chem_path, data, size, &b->mol, err);
	if (!rc) {
		key_of(in, data, size, key);
		*inputs = inputs_text(in, data, size);
	}
	free(data);
	if (rc)
		return rc;
	b->n = b->mol.n;
	b->nn = (size_t)b->n * (size_t)b->n;
	if (in->upper >= b->n || in->lower >= b->n)
		return err_set(err, EXIT_USAGE, "transition (%d, %d): %s has %d levels", in->upper,
			       in->lower, in->chem_path, b->n);
	b->para = &b->mol.partner[P_PH2];
	b->ortho = &b->mol.partner[P_OH2];
	if (!b->para->present)
		b->para = &b->mol.partner[P_H2];
	if (!b->ortho->present)
		b->ortho = &b->mol.partner[P_H2];
	if (!b->para->present || !b->ortho->present)
		return err_set(err, EXIT_BADDATA, "%s: no H2 collision rates", in->chem_path);
	return 0;
}

int obsgrid_build(const struct obsgrid_inputs *in, int threads, struct obsgrids *g,
		  struct arepo_err *err)
{
	memset(g, 0, sizeof *g);
	int rc = vmath_check_cpu(err);
	if (rc || (rc = check_inputs(in, err)))
		return rc;
	struct build b = { .in = in, .g = g };
	units_from(in, &b.u);
	char key[65], *inputs = NULL;
	if (!(rc = read_molecule(&b, key, &inputs, err)) && !(rc = build_alloc(&b, err))) {
		radiative_constants(&b);
		if (!(rc = collisions(&b, err))) {
			radiative_matrix(&b);
			grid_axes(&b);
			if (!(rc = solve_levels(&b, threads, err)))
				rc = coefficients(&b, err);
		}
	}
	if (rc) {
		free(inputs);
		obsgrid_free(g);
	} else {
		memcpy(g->key, key, sizeof key);
		g->inputs = inputs;
	}
	build_free(&b);
	return rc;
}

void obsgrid_free(struct obsgrids *g)
{
	free(g->rho);
	free(g->x);
	free(g->T);
	free(g->j);
	free(g->dj_drho);
	free(g->dj_dx);
	free(g->dj_dT);
	free(g->alpha);
	free(g->dalpha_drho);
	free(g->dalpha_dx);
	free(g->dalpha_dT);
	free(g->inputs);
	memset(g, 0, sizeof *g);
}

/* ---------------------------------------------------------------------------
 * The grid file
 * ------------------------------------------------------------------------- */

static const char *const grid_names[8] = { "j", "dj_drho", "dj_dx_H2", "dj_dT",
					   "alpha", "dalpha_drho", "dalpha_dx_H2", "dalpha_dT" };

static float **grid_arrays(struct obsgrids *g, float **out[8])
{
	out[0] = &g->j;
	out[1] = &g->dj_drho;
	out[2] = &g->dj_dx;
	out[3] = &g->dj_dT;
	out[4] = &g->alpha;
	out[5] = &g->dalpha_drho;
	out[6] = &g->dalpha_dx;
	out[7] = &g->dalpha_dT;
	return out[0];
}

static int write_floats(hid_t file, const char *name, int rank, const hsize_t *dims,
			const float *data)
{
	hid_t space = H5Screate_simple(rank, dims, NULL);
	hid_t dcpl = h5_untimed_plist(H5P_DATASET_CREATE);
	hid_t d = space < 0 ? -1 :
		  H5Dcreate2(file, name, H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
	int bad = d < 0 || H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0;
	/* Left open on failure (h5_discard closes it). */
	if (d >= 0 && !bad)
		bad = H5Dclose(d) < 0;
	hid_t failure = h5_error_aside(bad);
	H5Pclose(dcpl);
	if (space >= 0)
		H5Sclose(space);
	h5_error_back(failure);
	return bad ? -1 : 0;
}

static int write_attr_float(hid_t loc, const char *name, float v)
{
	hid_t space = H5Screate(H5S_SCALAR);
	hid_t a = H5Acreate2(loc, name, H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT);
	int bad = a < 0 || H5Awrite(a, H5T_NATIVE_FLOAT, &v) < 0;
	hid_t failure = h5_error_aside(bad);
	if (a >= 0)
		H5Aclose(a);
	H5Sclose(space);
	h5_error_back(failure);
	return bad ? -1 : 0;
}

int obsgrid_save(const struct obsgrids *g, const char *path, struct arepo_err *err)
{
	struct atomic_output out;
	hid_t file = h5_create_output(&out, path, err);
	if (file < 0)
		return err->code;
	hsize_t dims[3] = { (hsize_t)g->n_rho, (hsize_t)g->n_x, (hsize_t)g->n_T };
	float **arrays[8];
	grid_arrays((struct obsgrids *)g, arrays);
	int bad = h5_write_attr_string(file, "format", OBSGRID_FORMAT) ||
		  h5_write_attr_string(file, "key", g->key) ||
		  h5_write_attr_string(file, "inputs", g->inputs ? g->inputs : "") ||
		  h5_write_attr_string(file, "version", AREPO_VERSION) ||
		  write_attr_float(file, "d_bolic", g->d_bolic) ||
		  write_attr_float(file, "d_ab", g->d_ab) || write_attr_float(file, "dT", g->dT) ||
		  write_attr_float(file, "nu_ul_ghz", g->nu_ul_ghz) ||
		  h5_write_attr_doubles(file, "molecular_weight", &g->molecular_weight, 1) ||
		  write_floats(file, "rho", 1, &dims[0], g->rho) ||
		  write_floats(file, "x_H2", 1, &dims[1], g->x) ||
		  write_floats(file, "T", 1, &dims[2], g->T);
	for (int k = 0; k < 8 && !bad; k++)
		bad = write_floats(file, grid_names[k], 3, dims, *arrays[k]);
	return bad ? h5_fail_output(&out, file, "cannot write", err) : h5_commit_output(&out, file, err);
}

static int read_floats(hid_t file, const char *name, float *data)
{
	hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
	if (d < 0)
		return -1;
	int bad = H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0;
	hid_t failure = h5_error_aside(bad);
	H5Dclose(d);
	h5_error_back(failure);
	return bad ? -1 : 0;
}

int obsgrid_load(const char *path, const char *want_key, struct obsgrids *g,
		 struct arepo_err *err)
{
	memset(g, 0, sizeof *g);
	hid_t file;
	if (h5_open_checked(path, &file, err))
		return -1;
	char text[4096];
	int rc = -1;
	if (h5_attr_string(file, "format", text, sizeof text) || strcmp(text, OBSGRID_FORMAT)) {
		err_set(err, EXIT_BADDATA, "%s: not an observability grid file (format %s)", path,
			OBSGRID_FORMAT);
		goto out;
	}
	char key[80];
	if (h5_attr_string(file, "key", key, sizeof key) || strlen(key) != 64) {
		err_set(err, EXIT_BADDATA, "%s: the grid file has no key", path);
		goto out;
	}
	if (want_key && strcmp(key, want_key) != 0) {
		rc = 1;
		goto out;
	}
	int rank;
	hsize_t d[4], axis[3];
	const char *axes[3] = { "rho", "x_H2", "T" };
	for (int k = 0; k < 3; k++) {
		if (h5_dataset_dims(file, axes[k], &rank, d) || rank != 1 || d[0] < 2) {
			err_set(err, EXIT_BADDATA, "%s: dataset %s is missing or not a 1-d axis", path,
				axes[k]);
			goto out;
		}
		axis[k] = d[0];
	}
	for (int k = 0; k < 8; k++)
		if (h5_dataset_dims(file, grid_names[k], &rank, d) || rank != 3 || d[0] != axis[0] ||
		    d[1] != axis[1] || d[2] != axis[2]) {
			err_set(err, EXIT_BADDATA, "%s: dataset %s is missing or not (%llu, %llu, %llu)",
				path, grid_names[k], (unsigned long long)axis[0],
				(unsigned long long)axis[1], (unsigned long long)axis[2]);
			goto out;
		}
	double v[5];
	const char *scalars[5] = { "d_bolic", "d_ab", "dT", "nu_ul_ghz", "molecular_weight" };
	for (int k = 0; k < 5; k++)
		if (h5_attr_doubles(file, scalars[k], &v[k], 1)) {
			err_set(err, EXIT_BADDATA, "%s: attribute %s is missing", path, scalars[k]);
			goto out;
		}
	if (alloc_grids(g, (int64_t)axis[0], (int64_t)axis[1], (int64_t)axis[2])) {
		err_set(err, EXIT_RUNTIME, "out of memory");
		goto out;
	}
	float **arrays[8];
	grid_arrays(g, arrays);
	int bad = read_floats(file, "rho", g->rho) || read_floats(file, "x_H2", g->x) ||
		  read_floats(file, "T", g->T);
	for (int k = 0; k < 8 && !bad; k++)
		bad = read_floats(file, grid_names[k], *arrays[k]);
	if (bad) {
		char why[256];
		err_set(err, EXIT_BADDATA, "%s: cannot read the grids (damaged file?): %s", path,
			h5_reason(why, sizeof why));
		goto out;
	}
	g->d_bolic = (float)v[0];
	g->d_ab = (float)v[1];
	g->dT = (float)v[2];
	g->nu_ul_ghz = (float)v[3];
	g->molecular_weight = v[4];
	memcpy(g->key, key, sizeof g->key);
	if (h5_attr_string(file, "inputs", text, sizeof text) == 0)
		g->inputs = strdup(text);
	rc = 0;
out:
	H5Fclose(file);
	if (rc)
		obsgrid_free(g);
	return rc;
}
