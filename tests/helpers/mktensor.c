/* Test and benchmark helper: writes a tensor file with deterministic
 * pseudo-random values, as arepo-interp would lay it out, without a view.
 * Usage: mktensor R LON LAT SNAPSHOT VIEW SEED LENGTH_CM_PER_PROCESSING OUT
 *        [TEMPERATURE_K_PER_PROCESSING] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "rng.h"
#include "tensor.h"

int main(int argc, char **argv)
{
	log_init(argv[0]);
	if (argc != 9 && argc != 10)
		die(EXIT_USAGE, "usage: mktensor R LON LAT SNAPSHOT VIEW SEED LENGTH_CM_PER_PROCESSING OUT "
		    "[TEMPERATURE_K_PER_PROCESSING]");
	struct view_meta m;
	memset(&m, 0, sizeof m);
	struct view_geometry *g = &m.geometry;
	g->r_steps = atoll(argv[1]);
	g->lon_steps = atoll(argv[2]);
	g->lat_steps = atoll(argv[3]);
	g->theta = 0.5;
	g->observer_radius = 2.5e15;
	g->r_min = 2.4e15;
	g->r_max = 2.6e15;
	g->lon_min = 0.026;
	g->lon_max = -0.026;
	g->lat_min = 0.0065;
	g->lat_max = -0.0065;
	snprintf(m.snapshot, sizeof m.snapshot, "/archive/%s.hdf5", argv[4]);
	snprintf(m.snapshot_name, sizeof m.snapshot_name, "%s", argv[4]);
	m.view_index = atoll(argv[5]);
	m.points_per_snapshot = 64;
	m.seed = strtoull(argv[6], NULL, 10);
	perturbation_none(&m.perturbation);
	m.perturbation.has_scale = 1;
	m.perturbation.scale = 0.5;
	m.parsec_per_unit = 3.24e-12;
	struct arepo_config cfg;
	config_defaults(&cfg);
	cfg.seed = m.seed;
	cfg.writer_hyper.length_cm_per_processing = atof(argv[7]);
	if (argc == 10)
		cfg.writer_hyper.temperature_K_per_processing = atof(argv[9]);
	m.config_json = config_to_json(&cfg);

	struct arepo_err err = { 0 };
	struct tensor_writer w;
	if (tensor_create(&w, argv[8], &m, &err))
		die_err(&err);
	size_t per_r = (size_t)VIEW_CHANNELS * (size_t)g->lon_steps * (size_t)g->lat_steps;
	float *slab = malloc(per_r * sizeof(float));
	struct rng_stream s;
	rng_init(&s, m.seed, m.snapshot_name, m.view_index, "mktensor");
	for (int64_t r = 0; r < g->r_steps; r++) {
		for (size_t i = 0; i < per_r; i++)
			slab[i] = (float)(rng_uniform(&s) * 100.0 - 20.0);
		if (tensor_write_slab(&w, r, 1, slab, &err))
			die_err(&err);
	}
	if (tensor_commit(&w, &err))
		die_err(&err);
	free(slab);
	free(m.config_json);
	return 0;
}
