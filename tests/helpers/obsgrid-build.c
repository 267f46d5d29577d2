/* Test and benchmark helper: builds the observability grids from a LAMDA
 * file with IRIS's SEDIGISM_13C16O inputs (those of the references'
 * hyper.json) and writes them with obsgrid_save; prints the key and the
 * seconds the build took.
 * Usage: obsgrid-build [-j THREADS] [--steps N_RHO N_X N_T] LAMDA_FILE OUT.h5 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "obsgrid.h"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
	log_init(argv[0]);
	int threads = 0, a = 1;
	long long steps[3] = { 128, 64, 64 };
	for (; a < argc && argv[a][0] == '-'; a++) {
		if (!strcmp(argv[a], "-j") && a + 1 < argc)
			threads = atoi(argv[++a]);
		else if (!strcmp(argv[a], "--steps") && a + 3 < argc)
			for (int k = 0; k < 3; k++)
				steps[k] = atoll(argv[++a]);
		else
			break;
	}
	if (argc - a != 2)
		die(EXIT_USAGE, "usage: obsgrid-build [-j THREADS] [--steps N_RHO N_X N_T] LAMDA_FILE OUT.h5");
	struct obsgrid_inputs in = {
		.upper = 2, .lower = 1,
		.n_rho = steps[0], .n_x = steps[1], .n_T = steps[2],
		.max_N_H_TOT = 1e12, .bolic_normalization = 1.0, .max_T = 3000.0,
		.has_T_continuum = 1, .T_continuum = 2.73,
		.k = 1.380649e-23, .h = 6.62607e-34, .c = 299792500.0, .L = 6.022141e+23,
		.mw_H = 1.00784, .mw_H2 = 2.01568, .mw_He = 4.002602, .abundance_He = 0.1,
		.ortho_to_para_H2_ratio = 3.0,
		.m_H = 1.673557626764302e-27, .m_He = 6.646476726466552e-27,
		.length_cm = 1e7, .mass_g = 1.0, .velocity_cm_s = 1e7, .temperature_K = 1.0,
		.iris_number_unit = 1e15,
	};
	snprintf(in.chem_path, sizeof in.chem_path, "%s", argv[a]);
	struct arepo_err err = { 0 };
	struct obsgrids g;
	double t0 = now();
	if (obsgrid_build(&in, threads, &g, &err))
		die_err(&err);
	double t1 = now();
	if (obsgrid_save(&g, argv[a + 1], &err))
		die_err(&err);
	printf("key=%s\nbuild_seconds=%.3f\n", g.key, t1 - t0);
	obsgrid_free(&g);
	return 0;
}
