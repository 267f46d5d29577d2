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
#include "../unit/obsgrid_iris_inputs.h"

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
	struct obsgrid_inputs in = iris_inputs(argv[a], steps[0], steps[1], steps[2]);
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
