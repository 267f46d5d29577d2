/* The grid build's inputs with IRIS's SEDIGISM values, for the test programs
 * that build grids without a configuration (test-obsgrid, obsgrid-build). */
#ifndef OBSGRID_IRIS_INPUTS_H
#define OBSGRID_IRIS_INPUTS_H

#include <stdio.h>

#include "obsgrid.h"

static inline struct obsgrid_inputs iris_inputs(const char *chem, long long n_rho, long long n_x,
						long long n_T)
{
	struct obsgrid_inputs in = {
		.upper = 2, .lower = 1,
		.n_rho = n_rho, .n_x = n_x, .n_T = n_T,
		.max_N_H_TOT = 1e12, .bolic_normalization = 1.0, .max_T = 3000.0,
		.has_T_continuum = 1, .T_continuum = 2.73,
		.k = 1.380649e-23, .h = 6.62607e-34, .c = 299792500.0, .L = 6.022141e+23,
		.mw_H = 1.00784, .mw_H2 = 2.01568, .mw_He = 4.002602, .abundance_He = 0.1,
		.ortho_to_para_H2_ratio = 3.0,
		.m_H = 1.673557626764302e-27, .m_He = 6.646476726466552e-27,
		.length_cm = 1e7, .mass_g = 1.0, .velocity_cm_s = 1e7, .temperature_K = 1.0,
		.iris_number_unit = 1e15,
	};
	snprintf(in.chem_path, sizeof in.chem_path, "%s", chem);
	return in;
}

#endif
